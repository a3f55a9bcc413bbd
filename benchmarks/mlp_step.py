"""Time one training step of a 784-256-256-10 ReLU MLP in dlcourse and in PyTorch, side by side.

One step = zero_grad, forward, cross-entropy loss, backward, SGD step
(lr 0.01, momentum 0.9); batch 128, float32, on the CPU. Both frameworks
start from the same weights and see the same batch, and both use the same
number of threads (torch.set_num_threads for PyTorch, threadpoolctl for
numpy's OpenBLAS). Each is warmed up, then timed in alternating blocks (so
that a busy moment of the machine hits both alike); the table reports the
median step time and the ratio dlcourse / PyTorch.

benchmarks/timing.py says how the blocks are timed.

    .venv/bin/python benchmarks/mlp_step.py               # defaults: 300 timed steps each
    .venv/bin/python benchmarks/mlp_step.py --repeats 1000 --threads 1
"""
import argparse
import os
import statistics

import numpy as np
import torch
from timing import BUSY_WARNING, alternating_blocks, machine_was_busy, same_threads, versions

import dlcourse
from dlcourse import losses, nn, optim

SIZES = (784, 256, 256, 10)
LR, MOMENTUM = 0.01, 0.9


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=300, help="timed steps per framework")
    parser.add_argument("--warmup", type=int, default=30, help="untimed steps per framework first")
    parser.add_argument("--blocks", type=int, default=10, help="alternate the frameworks this many times")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for both torch and numpy's BLAS (default: all cores)")
    return parser.parse_args()


def make_models():
    """The dlcourse MLP and a torch copy with identical float32 weights."""
    dlcourse.manual_seed(0)
    ours = nn.Sequential(
        nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(),
        nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
        nn.Linear(SIZES[2], SIZES[3]),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
        torch.nn.Linear(SIZES[1], SIZES[2]), torch.nn.ReLU(),
        torch.nn.Linear(SIZES[2], SIZES[3]),
    )
    theirs.load_state_dict({name: torch.from_numpy(value) for name, value in ours.state_dict().items()})
    ours[0].needs_input_grad = False   # the same work: PyTorch computes no gradient for the data either
    return ours, theirs


def dlcourse_stepper(model, X, y):
    criterion = losses.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step():
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        model.backward(criterion.backward())
        optimizer.step()
        return loss

    return step


def torch_stepper(model, X, y):
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def main():
    args = parse_args()
    with same_threads(args.threads):
        run(args)


def run(args):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], size=args.batch)
    ours, theirs = make_models()
    steps = {"dlcourse": dlcourse_stepper(ours, X, y), "PyTorch": torch_stepper(theirs, X, y)}

    first_losses = {name: step() for name, step in steps.items()}   # same weights, same batch
    times = alternating_blocks(steps, args.repeats, args.warmup, args.blocks)

    print(f"MLP {'-'.join(map(str, SIZES))}, batch {args.batch}, float32, SGD momentum {MOMENTUM}; "
          f"{len(times['dlcourse'])} timed steps each; {args.threads} threads (cpu_count {os.cpu_count()}); "
          f"{versions()}")
    print(f"first-step loss: dlcourse {first_losses['dlcourse']:.6f}, PyTorch {first_losses['PyTorch']:.6f}")
    print(f"{'':10} {'median ms':>10} {'min ms':>8} {'p90 ms':>8}")
    medians = {}
    for name, samples in times.items():
        ms = np.array(samples) * 1e3
        medians[name] = statistics.median(ms)
        print(f"{name:10} {medians[name]:10.3f} {ms.min():8.3f} {np.percentile(ms, 90):8.3f}")
    ratio = medians["dlcourse"] / medians["PyTorch"]
    print(f"ratio dlcourse / PyTorch (median): {ratio:.2f}x  (goal: at most 1.3x)")
    if machine_was_busy(times):
        print(BUSY_WARNING)


if __name__ == "__main__":
    main()
