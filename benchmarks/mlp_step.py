"""Time one training step of a 784-256-256-10 ReLU MLP in dlcourse and in PyTorch, side by side.

One step = zero_grad, forward, cross-entropy loss, backward, SGD step
(lr 0.01, momentum 0.9); batch 128, float32, on the CPU. Both frameworks
start from the same weights and see the same batch, and both use the same
number of threads (torch.set_num_threads for PyTorch, threadpoolctl for
numpy's OpenBLAS). Each is warmed up, then timed in alternating blocks (so
that a busy moment of the machine hits both alike); the table reports the
median step time and the ratio dlcourse / PyTorch.

Between blocks the script pauses for PAUSE seconds and runs a few untimed
steps: after its last matrix product, each library's idle worker threads
keep spinning for a while (OpenBLAS for about 0.1 s), and without the pause
they would take a core away from the other library's first steps.

    .venv/bin/python benchmarks/mlp_step.py               # defaults: 300 timed steps each
    .venv/bin/python benchmarks/mlp_step.py --repeats 1000 --threads 1
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import dlcourse
from dlcourse import losses, nn, optim

SIZES = (784, 256, 256, 10)
LR, MOMENTUM = 0.01, 0.9
PAUSE, BLOCK_WARMUP = 0.3, 3


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


def time_steps(step, n):
    """Run ``step`` n times; return the duration of each call in seconds."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        run(args)


def run(args):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], size=args.batch)
    ours, theirs = make_models()
    steps = {"dlcourse": dlcourse_stepper(ours, X, y), "PyTorch": torch_stepper(theirs, X, y)}

    first_losses = {name: step() for name, step in steps.items()}   # same weights, same batch
    for step in steps.values():
        time_steps(step, args.warmup)
    times = {name: [] for name in steps}
    per_block = max(1, args.repeats // args.blocks)
    for _ in range(args.blocks):
        for name, step in steps.items():
            time.sleep(PAUSE)
            time_steps(step, BLOCK_WARMUP)
            times[name] += time_steps(step, per_block)

    print(f"MLP {'-'.join(map(str, SIZES))}, batch {args.batch}, float32, SGD momentum {MOMENTUM}; "
          f"{len(times['dlcourse'])} timed steps each; {args.threads} threads (cpu_count {os.cpu_count()}); "
          f"numpy {np.__version__}, torch {torch.__version__}")
    print(f"first-step loss: dlcourse {first_losses['dlcourse']:.6f}, PyTorch {first_losses['PyTorch']:.6f}")
    print(f"{'':10} {'median ms':>10} {'min ms':>8} {'p90 ms':>8}")
    medians = {}
    for name, samples in times.items():
        ms = np.array(samples) * 1e3
        medians[name] = statistics.median(ms)
        print(f"{name:10} {medians[name]:10.3f} {ms.min():8.3f} {np.percentile(ms, 90):8.3f}")
    ratio = medians["dlcourse"] / medians["PyTorch"]
    print(f"ratio dlcourse / PyTorch (median): {ratio:.2f}x  (goal: at most 1.3x)")
    if any(np.percentile(samples, 50) > 2 * min(samples) for samples in times.values()):
        print("warning: the median is more than twice the fastest step: the machine was busy, "
              "run again when it is idle")


if __name__ == "__main__":
    main()
