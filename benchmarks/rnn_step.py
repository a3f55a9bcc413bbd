"""Time forward + backward of an LSTM, a GRU and an RNN layer in dlcourse and in PyTorch, side by side.

One step = forward of a (T, N, D) = (50, 64, 65) sequence through one layer
of hidden size 128 (time-major, no initial state), then backward of a fixed
random dL/doutput, which gives dL/dx and every parameter gradient (the
PyTorch input requires a gradient, so both compute the same things).
float32, on the CPU. Both frameworks start from the same weights and see
the same data, and both use the same number of threads (torch.set_num_threads
for PyTorch, threadpoolctl for numpy's OpenBLAS). Each is warmed up, then
timed in alternating blocks (so that a busy moment of the machine hits
both alike); the table reports the median step time and the ratio
dlcourse / PyTorch. benchmarks/timing.py says how the blocks are timed.

    .venv/bin/python benchmarks/rnn_step.py               # defaults: 2 threads, 100 timed steps each
    .venv/bin/python benchmarks/rnn_step.py --repeats 300 --layers LSTM
"""
import argparse
import os
import statistics

import numpy as np
import torch
from timing import BUSY_WARNING, alternating_blocks, machine_was_busy, same_threads, versions

import dlcourse
from dlcourse import nn

T, N, D, H = 50, 64, 65, 128
GOAL = 1.5
LAYERS = {"LSTM": (nn.LSTM, torch.nn.LSTM), "GRU": (nn.GRU, torch.nn.GRU), "RNN": (nn.RNN, torch.nn.RNN)}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100, help="timed steps per framework and layer")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per framework first")
    parser.add_argument("--blocks", type=int, default=10, help="alternate the frameworks this many times")
    parser.add_argument("--threads", type=int, default=2, help="threads for both torch and numpy's BLAS")
    parser.add_argument("--layers", nargs="+", default=list(LAYERS), choices=list(LAYERS))
    return parser.parse_args()


def make_layers(name):
    """The dlcourse layer and a torch copy with identical float32 weights."""
    ours_cls, theirs_cls = LAYERS[name]
    dlcourse.manual_seed(0)
    ours = ours_cls(D, H)
    theirs = theirs_cls(D, H)
    theirs.load_state_dict({key: torch.from_numpy(value) for key, value in ours.state_dict().items()})
    return ours, theirs


def dlcourse_stepper(layer, x, grad_out):
    def step():
        output, _ = layer(x)
        layer.backward(grad_out)
        return output

    return step


def torch_stepper(layer, x, grad_out):
    x = torch.from_numpy(x).requires_grad_(True)
    grad_out = torch.from_numpy(grad_out)

    def step():
        x.grad = None
        output, _ = layer(x)
        output.backward(grad_out)
        return output.detach().numpy()

    return step


def benchmark(name, args, rng):
    x = rng.normal(size=(T, N, D)).astype(np.float32)
    grad_out = rng.normal(size=(T, N, H)).astype(np.float32)
    ours, theirs = make_layers(name)
    steps = {"dlcourse": dlcourse_stepper(ours, x, grad_out), "PyTorch": torch_stepper(theirs, x, grad_out)}
    outputs = [step() for step in steps.values()]                  # same weights, same data
    difference = float(np.max(np.abs(outputs[0] - outputs[1])))
    return alternating_blocks(steps, args.repeats, args.warmup, args.blocks), difference


def main():
    args = parse_args()
    with same_threads(args.threads):
        run(args)


def run(args):
    rng = np.random.default_rng(0)
    print(f"one layer, T={T}, N={N}, D={D}, H={H}, float32, forward + backward; {args.threads} threads "
          f"(cpu_count {os.cpu_count()}); {versions()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'':16} {'median ms':>10} {'min ms':>8} {'p90 ms':>8}")
    for name in args.layers:
        times, difference = benchmark(name, args, rng)
        medians = {}
        for framework, samples in times.items():
            ms = np.array(samples) * 1e3
            medians[framework] = statistics.median(ms)
            print(f"{name + ' ' + framework:16} {medians[framework]:10.3f} {ms.min():8.3f} "
                  f"{np.percentile(ms, 90):8.3f}")
        ratio = medians["dlcourse"] / medians["PyTorch"]
        goal = f"(goal: at most {GOAL}x)" if name != "RNN" else "(for information)"
        print(f"{name} ratio dlcourse / PyTorch (median): {ratio:.2f}x  {goal}; "
              f"max |output difference| {difference:.1e}")
        if machine_was_busy(times):
            print(BUSY_WARNING)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
