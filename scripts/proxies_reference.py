"""Independent PyTorch reference for the zero-cost proxies of `meta_predictor::proxies`.

usage:
    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch numpy
    cargo test -p meta-predictor --test proxies -- --ignored export_fixture_inputs
    /tmp/torch-venv/bin/python scripts/proxies_reference.py [FIXTURE_DIR] [--only PROXY,...]

Reads what the Rust side exported to FIXTURE_DIR (default
crates/meta-predictor/tests/fixtures/proxies): `inputs.json` (network shape, cells, where each
tensor lies) and `inputs.bin` (the minibatch and every weight, f32 little-endian). Rebuilds the
same NAS-Bench-201 network in PyTorch *from those numbers* (stem Conv3x3 + BN; per stage N
cells, a residual reduction between stages; BN, ReLU, global average pool, linear), written
from the NAS-Bench-201 definition and not from the Rust code: every edge of a cell is computed
(`none` is `x * 0`), as in the official `InferCell`. Then computes each proxy as the papers'
reference code defines it and writes `expected.json`, which the Rust test
`crates/meta-predictor/tests/proxies.rs` checks to 1e-4 relative.

Definitions (reference code: SamsungLabs/zero-cost-nas for synflow, snip, grad_norm and
jacob_cov; BayesWatch/nas-without-training for NASWOT):
- synflow: BN removed (`bn=False`), every parameter replaced by its absolute value, float64,
  one all-ones image; R = sum of the logits; sum over Conv2d/Linear weights of |w * dR/dw|.
- naswot: network in train mode (BN batch statistics); at every ReLU whose output reaches the
  logits (the paper's code counts only ReLUs visited by a backward pass), the binary code
  c = [input > 0] per image; K = sum c c^T + (1-c)(1-c)^T; score = slogdet(K) log|det|.
- jacob_cov: train mode; J = d(sum of logits)/d(images), one row per image; score =
  -sum(log(v + 1e-5) + 1/(v + 1e-5)) over the eigenvalues v of corrcoef(J) (eigvalsh, as the
  matrix is symmetric; the reference's eig gives the same values). NaN when a row is constant.
- snip: train mode; L = mean cross-entropy; each Conv2d/Linear weight multiplied by a mask of
  ones; score = sum |dL/dmask|.
- grad_norm: train mode; sum over Conv2d/Linear weights of ||dL/dw||_2.
- params: number of trainable parameters; flops: multiply-adds per image of every conv
  (cout*cin*k*k*H_out*W_out) and of the linear layer (in*out + out), counted by hooks.
Everything but synflow runs in float32, PyTorch's default and what the papers ran.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def parse_arch(text):
    """'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' -> six op names in EDGES order."""
    ops = []
    for node, part in enumerate(text.split("+"), start=1):
        items = [t for t in part.split("|") if t]
        assert len(items) == node, text
        for source, item in enumerate(items):
            op, src = item.split("~")
            assert int(src) == source and op in OPS, text
            ops.append(op)
    return ops


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


class ReLUConvBN(nn.Module):
    def __init__(self, cin, cout, kernel, stride, use_bn):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout) if use_bn else nn.Identity()

    def forward(self, x):
        return self.bn(self.conv(self.relu(x)))


class Cell(nn.Module):
    def __init__(self, ops, channels, use_bn):
        super().__init__()
        edges = []
        for op in ops:
            if op == "none":
                edges.append(Zero())
            elif op == "skip_connect":
                edges.append(nn.Identity())
            elif op == "avg_pool_3x3":
                edges.append(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False))
            else:
                kernel = 1 if op == "nor_conv_1x1" else 3
                edges.append(ReLUConvBN(channels, channels, kernel, 1, use_bn))
        self.edges = nn.ModuleList(edges)

    def forward(self, x):
        nodes = [x]
        for target in (1, 2, 3):
            terms = [self.edges[e](nodes[src]) for e, (to, src) in enumerate(EDGES) if to == target]
            nodes.append(sum(terms))
        return nodes[3]


class Reduction(nn.Module):
    def __init__(self, cin, cout, use_bn):
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, 2, use_bn)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1, use_bn)
        self.pool = nn.AvgPool2d(2, stride=2, padding=0)
        self.shortcut = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.shortcut(self.pool(x))


class Network(nn.Module):
    def __init__(self, ops, channels, cells_per_stage, input_channels, num_classes, use_bn=True):
        super().__init__()
        bn = (lambda c: nn.BatchNorm2d(c)) if use_bn else (lambda c: nn.Identity())
        widths = [channels, 2 * channels, 4 * channels]
        self.stem_conv = nn.Conv2d(input_channels, channels, 3, 1, 1, bias=False)
        self.stem_bn = bn(channels)
        self.stages = nn.ModuleList(
            nn.ModuleList(Cell(ops, w, use_bn) for _ in range(cells_per_stage)) for w in widths
        )
        self.reductions = nn.ModuleList(Reduction(widths[s], widths[s + 1], use_bn) for s in range(2))
        self.final_bn = bn(widths[2])
        self.final_relu = nn.ReLU(inplace=False)
        self.classifier = nn.Linear(widths[2], num_classes)

    def forward(self, x):
        x = self.stem_bn(self.stem_conv(x))
        for s, cells in enumerate(self.stages):
            if s > 0:
                x = self.reductions[s - 1](x)
            for cell in cells:
                x = cell(x)
        x = self.final_relu(self.final_bn(x))
        return self.classifier(x.mean(dim=(2, 3)))

    def load(self, tensors):
        """Copies the exported weights in (names as `meta_predictor::proxies::layer_weights`)."""
        with torch.no_grad():
            for name, value in tensors.items():
                value = torch.from_numpy(value)
                if name == "stem":
                    target = self.stem_conv.weight
                elif name == "classifier":
                    target, value = self.classifier.weight, value.t()  # Burn stores [in, out]
                elif name == "classifier.bias":
                    target = self.classifier.bias
                elif name.startswith("reduction"):
                    block, part = name.split(".")
                    block = self.reductions[int(block[len("reduction"):])]
                    target = block.shortcut.weight if part == "shortcut" else getattr(block, part).conv.weight
                else:
                    stage, cell, edge, _ = name.split(".")
                    op = self.stages[int(stage[5:])][int(cell[4:])].edges[int(edge[4:])]
                    target = op.conv.weight
                assert target.shape == value.shape, (name, target.shape, value.shape)
                target.copy_(value)


def layer_weights(net):
    return [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def synflow(net, shape):
    net = net.double()
    with torch.no_grad():
        for value in net.state_dict().values():
            value.abs_()
    net.zero_grad()
    out = net(torch.ones([1] + list(shape[1:]), dtype=torch.float64))
    out.sum().backward()
    total = 0.0
    for w in layer_weights(net):
        if w.grad is not None:
            total += (w * w.grad).abs().sum().item()
    return total


def naswot(net, images):
    records = []

    def hook(module, inputs, output):
        records.append((inputs[0].detach(), output))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    x = images.clone().requires_grad_(True)
    y = net(x)
    for h in handles:
        h.remove()
    # A ReLU counts when the logits depend on its output ("visited by the backward pass").
    grads = torch.autograd.grad(y.sum(), [out for _, out in records], allow_unused=True)
    n = images.shape[0]
    kernel = np.zeros((n, n))
    for (pre, _), grad in zip(records, grads):
        if grad is None:
            continue
        c = (pre.reshape(n, -1) > 0).double()
        kernel += (c @ c.t() + (1.0 - c) @ (1.0 - c).t()).numpy()
    _, logdet = np.linalg.slogdet(kernel)
    return float(logdet)


def jacob_cov(net, images):
    x = images.clone().requires_grad_(True)
    y = net(x)
    y.backward(torch.ones_like(y))
    jac = x.grad.detach().reshape(x.shape[0], -1).numpy().astype(np.float64)
    with np.errstate(all="ignore"):
        corr = np.corrcoef(jac)
    if not np.all(np.isfinite(corr)):
        return float("nan")
    v = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def snip(net, images, labels):
    masks = {}
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            masks[m] = torch.ones_like(m.weight, requires_grad=True)
            m.weight.requires_grad_(False)

    def conv_forward(m):
        return lambda x: F.conv2d(x, m.weight * masks[m], m.bias, m.stride, m.padding, m.dilation, m.groups)

    def linear_forward(m):
        return lambda x: F.linear(x, m.weight * masks[m], m.bias)

    for m in masks:
        m.forward = conv_forward(m) if isinstance(m, nn.Conv2d) else linear_forward(m)
    loss = F.cross_entropy(net(images), labels)
    grads = torch.autograd.grad(loss, list(masks.values()), allow_unused=True)
    return float(sum(g.abs().sum().item() for g in grads if g is not None))


def grad_norm(net, images, labels):
    net.zero_grad()
    F.cross_entropy(net(images), labels).backward()
    return float(sum(w.grad.norm().item() for w in layer_weights(net) if w.grad is not None))


def flops(net, shape):
    total = [0]

    def conv_hook(m, inputs, output):
        _, cout, h, w = output.shape
        kh, kw = m.kernel_size
        total[0] += cout * (m.in_channels // m.groups) * kh * kw * h * w

    def linear_hook(m, inputs, output):
        total[0] += m.in_features * m.out_features + (m.out_features if m.bias is not None else 0)

    handles = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    with torch.no_grad():
        net(torch.zeros([1] + list(shape[1:])))
    for h in handles:
        h.remove()
    return float(total[0])


def encode(value):
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "-inf" if value < 0 else "inf"
    return value


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "crates", "meta-predictor", "tests", "fixtures", "proxies")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixtures", nargs="?", default=default, help="folder of inputs.json/.bin")
    parser.add_argument("--only", default=None, help="comma-separated proxies (default: all)")
    args = parser.parse_args()
    fixtures = args.fixtures
    only = set(args.only.split(",")) if args.only else None
    with open(os.path.join(fixtures, "inputs.json")) as f:
        spec = json.load(f)
    blob = np.fromfile(os.path.join(fixtures, "inputs.bin"), dtype="<f4")

    def tensor(stored):
        n = int(np.prod(stored["shape"]))
        return blob[stored["offset"]:stored["offset"] + n].reshape(stored["shape"]).copy()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    images = torch.from_numpy(tensor(spec["batch"]))
    labels = torch.tensor(spec["labels"], dtype=torch.int64)
    results = {}
    for cell, names in spec["cells"]:
        ops = parse_arch(cell)
        weights = {name: tensor(spec["weights"][name]) for name in names}

        def build(use_bn=True):
            net = Network(ops, spec["channels"], spec["cells_per_stage"], spec["input_channels"],
                          spec["num_classes"], use_bn)
            net.load(weights)
            return net.train()

        proxies = {
            "synflow": lambda: synflow(build(use_bn=False), images.shape),
            "naswot": lambda: naswot(build(), images),
            "jacob_cov": lambda: jacob_cov(build(), images),
            "snip": lambda: snip(build(), images, labels),
            "grad_norm": lambda: grad_norm(build(), images, labels),
            "params": lambda: float(sum(p.numel() for p in build().parameters())),
            "flops": lambda: flops(build(), images.shape),
        }
        scores = {name: f() for name, f in proxies.items() if only is None or name in only}
        results[cell] = {k: encode(v) for k, v in scores.items()}
        print(cell, {k: results[cell][k] for k in scores})
    out = {
        "made_by": "scripts/proxies_reference.py (see the README beside the fixtures)",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cells": results,
    }
    with open(os.path.join(fixtures, "expected.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
