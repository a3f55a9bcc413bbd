"""Time forward + backward of Conv2d and MaxPool2d layers in dlcourse and in PyTorch, side by side.

One step = zero_grad, forward, backward with a fixed upstream gradient, on
a batch of 128 images of 28x28 pixels, float32, on the CPU:

    conv 1->16        Conv2d(1, 16, 3, padding=1), as a first layer: dL/dX of the data is skipped
                      (dlcourse: needs_input_grad = False; PyTorch: the input does not require grad)
    conv 1->16 +dX    the same layer computing dL/dX too (both frameworks)
    conv 16->32       Conv2d(16, 32, 3, padding=1), a hidden layer: dL/dX computed by both
    maxpool 16ch      MaxPool2d(2) on (128, 16, 28, 28)
    maxpool 32ch      MaxPool2d(2) on (128, 32, 28, 28)

Both layers of a pair start from the same weights and see the same input
and upstream gradient (the script checks that the outputs agree), and both
use the same number of threads (torch.set_num_threads for PyTorch,
threadpoolctl for numpy's OpenBLAS). Each is warmed up, then timed in
alternating blocks (so that a busy moment of the machine hits both alike)
with a pause between blocks (idle BLAS threads keep spinning for a while
after their last product; see mlp_step.py). The table reports the median
and the fastest step time of each, their ratios dlcourse / PyTorch, and
the size of the largest im2col column matrix.

    .venv/bin/python benchmarks/conv_step.py                  # defaults: 2 threads, 200 timed steps each
    .venv/bin/python benchmarks/conv_step.py --repeats 400 --threads 1
    .venv/bin/python benchmarks/conv_step.py --only conv     # the convolutions only
"""
import argparse
import os
import statistics

import numpy as np
import torch
from timing import BUSY_WARNING, alternating_blocks, same_threads, versions

import dlcourse
from dlcourse import nn

GOALS = {"conv": 2.5, "maxpool": 1.5}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=28, help="image height and width")
    parser.add_argument("--repeats", type=int, default=200, help="timed steps per framework and case")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per framework first")
    parser.add_argument("--blocks", type=int, default=10, help="alternate the frameworks this many times")
    parser.add_argument("--threads", type=int, default=2, help="threads for both torch and numpy's BLAS")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    return parser.parse_args()


def conv_case(c_in, c_out, input_grad):
    """Factories of a dlcourse Conv2d and a torch twin with identical float32 weights."""
    def make():
        ours = nn.Conv2d(c_in, c_out, 3, padding=1)
        theirs = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
        theirs.load_state_dict({name: torch.from_numpy(value) for name, value in ours.state_dict().items()})
        ours.needs_input_grad = input_grad
        return ours, theirs, c_in, input_grad
    return make


def pool_case(channels):
    def make():
        return nn.MaxPool2d(2), torch.nn.MaxPool2d(2), channels, True
    return make


CASES = {
    "conv 1->16": conv_case(1, 16, input_grad=False),
    "conv 1->16 +dX": conv_case(1, 16, input_grad=True),
    "conv 16->32": conv_case(16, 32, input_grad=True),
    "maxpool 16ch": pool_case(16),
    "maxpool 32ch": pool_case(32),
}


def steppers(make, args, rng):
    """One step function per framework, for the same layer, input and upstream gradient."""
    ours, theirs, channels, input_grad = make()
    X = rng.normal(size=(args.batch, channels, args.size, args.size)).astype(np.float32)
    G = rng.normal(size=ours(X).shape).astype(np.float32)
    X_t = torch.from_numpy(X).requires_grad_(input_grad)
    G_t = torch.from_numpy(G)
    np.testing.assert_allclose(ours(X), theirs(X_t).detach().numpy(), rtol=1e-4, atol=1e-5)

    def dlcourse_step():
        ours.zero_grad()
        ours(X)
        return ours.backward(G)

    def torch_step():
        theirs.zero_grad()
        X_t.grad = None
        theirs(X_t).backward(G_t)

    return {"dlcourse": dlcourse_step, "PyTorch": torch_step}, ours


def measure(steps, args):
    """Median and fastest step times {framework: (median ms, min ms)} of alternating, paused blocks."""
    times = alternating_blocks(steps, args.repeats, args.warmup, args.blocks)
    return {name: (statistics.median(samples) * 1e3, min(samples) * 1e3) for name, samples in times.items()}


def main():
    args = parse_args()
    with same_threads(args.threads):
        run(args)


def run(args):
    dlcourse.manual_seed(0)
    rng = np.random.default_rng(0)
    print(f"batch {args.batch}, {args.size}x{args.size} images, float32, forward + backward; "
          f"{args.repeats} timed steps each; {args.threads} threads (cpu_count {os.cpu_count()}); "
          f"{versions()}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'':16} {'dlcourse ms':>12} {'PyTorch ms':>11} {'ratio':>6}   {'fastest: dlcourse':>17} "
          f"{'PyTorch':>7} {'ratio':>6}   goal")
    largest_cols = 0
    busy = False
    for name, make in CASES.items():
        if args.only not in name:
            continue
        steps, ours = steppers(make, args, rng)
        times = measure(steps, args)
        (ours_median, ours_min), (torch_median, torch_min) = times["dlcourse"], times["PyTorch"]
        if isinstance(ours, nn.Conv2d):
            largest_cols = max(largest_cols, ours.cols.nbytes)
        goal = GOALS[name.split()[0]]
        ratio = ours_median / torch_median
        note = "" if ratio <= goal else "  (goal missed)"
        busy = busy or ours_median > 2 * ours_min or torch_median > 2 * torch_min
        print(f"{name:16} {ours_median:12.2f} {torch_median:11.2f} {ratio:5.2f}x   {ours_min:17.2f} "
              f"{torch_min:7.2f} {ours_min / torch_min:5.2f}x   {goal:.1f}x{note}")
    print(f"largest im2col column matrix: {largest_cols / 1e6:.1f} MB ({largest_cols} bytes)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if busy:
        print(BUSY_WARNING)


if __name__ == "__main__":
    main()
