"""Speed against PyTorch on this CPU, in one sitting: the cases of `examples/speed.rs`, the same
computations written in PyTorch, run alternately so that load drifts hit both sides alike.

usage:
    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch numpy
    cargo build --release --example speed
    /tmp/torch-venv/bin/python scripts/speed_vs_pytorch.py [--threads 1] [--rounds 3] [--reps 15]

Each round runs, for each case, our kernels (`speed --case C --kernel gemm --json`, a fresh
process with RAYON_NUM_THREADS=threads), for the convolution cases our kernels with im2col +
GEMM for every convolution (`--kernel im2col`, the kernel before the direct one: "before"),
Burn's kernels (`--kernel burn`) and PyTorch
(torch.set_num_threads(threads)), each timing the median of `reps` repetitions after two
warm-ups. A side's figure is the fastest of its round medians (load only ever slows a run).
Prints a markdown table; "ours / PyTorch" is a speed ratio (above 1: faster than PyTorch).

The PyTorch side computes what the Rust side does:
- step: the mini NAS-Bench-201 network (C = 8, N = 1, 1x16x16 inputs, 10 classes) of the cell
  the Rust side names, built from the NAS-Bench-201 definition in scripts/proxies_reference.py;
  one SGD step (momentum 0.9, Nesterov, lr 0.01), cross-entropy, batch 64, random inputs.
- run: the mini protocol's run on 1,000 training and 2,000 test images (random, in memory): 5
  epochs of shuffled batches of 64 with a per-step cosine learning rate from 0.1, weight decay
  5e-4, then BN statistics recomputed over the training set, then testing at batch 256.
- conv: F.conv2d forward, input [64, 8, 16, 16], weight [8, 8, 3, 3], padding 1, then
  backward of the output's sum to the input and the weight.
- score: the predictor head over 15,625 cells x 10 draws: per draw, tanh(G + D_d) @ w + b with
  G = latents @ W_G + b1 cached and D = draws @ W_D, averaged over draws (widths 56 and 512).
- matmul: 1024^3, float32.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxies_reference import Network, parse_arch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "target", "release", "examples", "speed")


def median_seconds(reps, f):
    f()
    f()
    times = []
    for _ in range(max(reps, 1)):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def mini_network(cell):
    torch.manual_seed(0)
    return Network(parse_arch(cell), 8, 1, 1, 10)


def torch_step(cell, reps):
    net = mini_network(cell).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(64, 1, 16, 16)
    y = torch.arange(64) % 10

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    return median_seconds(reps, step), 64.0


def torch_run(cell, reps):
    epochs, train, test, batch = 5, 1000, 2000, 64
    x_train, y_train = torch.randn(train, 1, 16, 16), torch.arange(train) % 10
    x_test, y_test = torch.randn(test, 1, 16, 16), torch.arange(test) % 10

    def run():
        net = mini_network(cell).train()
        opt = torch.optim.SGD(
            net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4
        )
        steps = epochs * math.ceil(train / batch)
        step = 0
        for _ in range(epochs):
            order = torch.randperm(train)
            for start in range(0, train, batch):
                idx = order[start:start + batch]
                for group in opt.param_groups:
                    group["lr"] = 0.5 * 0.1 * (1 + math.cos(math.pi * step / steps))
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(x_train[idx]), y_train[idx]).backward()
                opt.step()
                step += 1
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.reset_running_stats()
                    m.momentum = None
            for start in range(0, train, 256):
                net(x_train[start:start + 256])
            net.eval()
            correct = 0
            for start in range(0, test, 256):
                logits = net(x_test[start:start + 256])
                correct += (logits.argmax(1) == y_test[start:start + 256]).sum().item()
        return correct

    return median_seconds(max(1, math.ceil(reps / 3)), run), float(epochs * train)


def torch_conv(_cell, reps):
    x = torch.randn(64, 8, 16, 16)
    w = (torch.randn(8, 8, 3, 3) * 0.1).requires_grad_()

    def conv():
        xi = x.clone().requires_grad_()
        F.conv2d(xi, w, padding=1).sum().backward()
        w.grad = None

    flops = 3 * 2.0 * 64 * 8 * 16 * 16 * 8 * 9
    return median_seconds(reps, conv), flops


def torch_score(_cell, reps):
    cells, draws, latent, hidden = 15625, 10, 56, 512
    w_g, w_d = torch.randn(latent, hidden) * 0.1, torch.randn(latent, hidden) * 0.1
    b1, w, b = torch.randn(hidden) * 0.1, torch.randn(hidden) * 0.1, 0.1
    g = torch.randn(cells, latent) @ w_g + b1
    d = torch.randn(draws, latent)

    def score():
        with torch.no_grad():
            parts = d @ w_d
            total = torch.zeros(cells)
            for k in range(draws):
                total += torch.tanh(g + parts[k]) @ w + b
            return total / draws

    return median_seconds(reps, score), float(cells * draws)


def torch_matmul(_cell, reps):
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    return median_seconds(reps, lambda: a @ b), 2.0 * 1024 ** 3


TORCH = {
    "step": torch_step,
    "run": torch_run,
    "conv": torch_conv,
    "score": torch_score,
    "matmul": torch_matmul,
}
UNITS = {"step": "images", "run": "training images", "conv": "flop", "score": "cell-draws",
         "matmul": "flop"}


def rust(case, kernel, threads, reps):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(
        [EXAMPLE, "--case", case, "--kernel", kernel, "--reps", str(reps), "--json"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def rate(case, seconds, items):
    if UNITS[case] == "flop":
        return f"{seconds * 1e3:.2f} ms ({items / seconds / 1e9:.1f} GFLOP/s)"
    return f"{seconds * 1e3:.2f} ms ({items / seconds:,.0f} {UNITS[case]}/s)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--cases", default="step,run,conv,score,matmul")
    args = parser.parse_args()
    if not os.path.exists(EXAMPLE):
        sys.exit(f"{EXAMPLE} is missing: run `cargo build --release --example speed` first")
    torch.set_num_threads(args.threads)
    cases = args.cases.split(",")
    best = {}
    cell = None
    for _ in range(args.rounds):
        for case in cases:
            kernels = {"matmul": ["gemm"], "score": ["gemm", "burn"]}.get(
                case, ["gemm", "im2col", "burn"])
            for kernel in kernels:
                r = rust(case, kernel, args.threads, args.reps)
                cell = r["cell"]
                key = (case, kernel)
                best[key] = min(best.get(key, (math.inf, 0)), (r["median_s"], r["items"]))
            seconds, items = TORCH[case](cell, args.reps)
            best[(case, "torch")] = min(best.get((case, "torch"), (math.inf, 0)), (seconds, items))
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.rounds} rounds, "
          f"{args.reps} reps; cell {cell}\n")
    print("| case | metanas | metanas, im2col + GEMM only (before) | "
          "metanas with Burn's kernels | PyTorch | ours / PyTorch | before / PyTorch |")
    print("|---|---|---|---|---|---|---|")
    for case in cases:
        ours, torch_side = best[(case, "gemm")], best[(case, "torch")]
        before, burn = best.get((case, "im2col")), best.get((case, "burn"))
        print(f"| {case} | {rate(case, *ours)} | "
              f"{rate(case, *before) if before else '—'} | "
              f"{rate(case, *burn) if burn else '—'} | {rate(case, *torch_side)} | "
              f"{torch_side[0] / ours[0]:.2f}× | "
              f"{f'{torch_side[0] / before[0]:.2f}×' if before else '—'} |")


if __name__ == "__main__":
    main()
