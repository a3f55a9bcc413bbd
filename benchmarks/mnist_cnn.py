"""Train chapter 05's LeNet-style CNN on MNIST in dlcourse (numpy) and in PyTorch, side by side.

The network (``dlcourse.cnns.lenet``): Conv2d(1, c1, 5) -> ReLU -> MaxPool2d(2) -> Conv2d(c1, c2, 5)
-> ReLU -> MaxPool2d(2) -> Flatten -> [Linear(16 c2, hidden) -> ReLU] -> Linear(., 10), PyTorch's
default initialisation (both frameworks start from the same float32 weights), cross-entropy, Adam
(lr 2e-3) with the rate halved every ``--step-size`` epochs, minibatches of 64, pixels standardised
with the training mean and std. Both train on the same batches in the same order, with the same
number of threads. Goal for dlcourse: at least 99.0% test accuracy in at most 5 minutes (300 s) of
training on 2 CPU cores.

    .venv/bin/python benchmarks/mnist_cnn.py                         # the full run: 3 to 4 minutes
    .venv/bin/python benchmarks/mnist_cnn.py --epochs 1 --train 2000 # a quick look
    .venv/bin/python benchmarks/mnist_cnn.py --only dlcourse         # without the PyTorch twin

Only training is timed (forward, backward and update of every step); loading the data and the
evaluation after each epoch are not.
"""
import argparse
import os
import time

import numpy as np
import torch
from timing import same_threads

import dlcourse
from dlcourse import cnns, losses, optim
from dlcourse.data import load_mnist, minibatches
from dlcourse.train import accuracy

GOAL_ACCURACY, GOAL_SECONDS = 0.99, 300.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--c1", type=int, default=16, help="filters of the first convolution")
    parser.add_argument("--c2", type=int, default=32, help="filters of the second convolution")
    parser.add_argument("--hidden", type=int, default=0, help="a hidden Linear layer of this width (0: none)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--step-size", type=int, default=2, help="halve the rate every this many epochs")
    parser.add_argument("--train", type=int, default=60000, help="use the first this many training images")
    parser.add_argument("--threads", type=int, default=2, help="threads for both torch and numpy's BLAS")
    parser.add_argument("--only", default="", help="run only this framework (dlcourse or PyTorch)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def torch_twin(model):
    """The same network in torch.nn, with the dlcourse model's weights."""
    layers = []
    for layer in model:
        kind = type(layer).__name__
        if kind == "Conv2d":
            layers.append(torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                          padding=layer.padding))
        elif kind == "MaxPool2d":
            layers.append(torch.nn.MaxPool2d(layer.kernel_size))
        elif kind == "Linear":
            layers.append(torch.nn.Linear(*layer.weight.shape[::-1]))
        else:
            layers.append(getattr(torch.nn, kind)())
    twin = torch.nn.Sequential(*layers)
    twin.load_state_dict({name: torch.from_numpy(value.copy()) for name, value in model.state_dict().items()})
    return twin


def evaluate_torch(twin, X, y):
    with torch.no_grad():
        scores = torch.cat([twin(torch.from_numpy(X[i:i + 1000])) for i in range(0, len(X), 1000)])
    return accuracy(scores.numpy(), y)


def evaluate_ours(model, X, y):
    model.eval()
    scores = np.concatenate([model(X[i:i + 1000]) for i in range(0, len(X), 1000)])
    model.train()
    return accuracy(scores, y)


def main():
    args = parse_args()
    X_train, y_train, X_test, y_test = load_mnist(flatten=False)
    X_train, y_train = X_train[:args.train], y_train[:args.train]
    mean, std = X_train.mean(), X_train.std()
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    dlcourse.manual_seed(args.seed)
    model = cnns.lenet(args.c1, args.c2, args.hidden)
    twin = torch_twin(model)
    parameters = sum(p.data.size for p in model.parameters())
    print(f"LeNet-style CNN c1={args.c1}, c2={args.c2}, hidden={args.hidden}: {parameters} parameters; "
          f"{len(X_train)} training images, {args.epochs} epochs of batches of {args.batch}, float32, "
          f"{args.threads} threads (cpu_count {os.cpu_count()}); load average {os.getloadavg()[0]:.1f}")
    frameworks = [name for name in ("dlcourse", "PyTorch") if args.only.lower() in name.lower()]
    with same_threads(args.threads):
        results = {name: run(name, model, twin, args, X_train, y_train, X_test, y_test)
                   for name in frameworks}
    for name, (acc, seconds) in results.items():
        goal = ""
        if name == "dlcourse":
            met = acc >= GOAL_ACCURACY and seconds <= GOAL_SECONDS
            goal = (f"   goal >= {GOAL_ACCURACY:.1%} in <= {GOAL_SECONDS:.0f} s: "
                    f"{'met' if met else 'missed'}")
        print(f"{name:8}: test accuracy {acc:.2%} after {seconds:.1f} s of training{goal}")
    if len(results) == 2:
        ratio = results["dlcourse"][1] / results["PyTorch"][1]
        print(f"training time ratio dlcourse / PyTorch: {ratio:.2f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def run(name, model, twin, args, X_train, y_train, X_test, y_test):
    """Train one framework's copy; print one line per epoch; return (test accuracy, training seconds)."""
    if name == "dlcourse":
        optimizer = optim.Adam(model.parameters(), lr=args.lr)
        scheduler = optim.StepLR(optimizer, step_size=args.step_size, gamma=0.5)
        loss_fn = losses.CrossEntropyLoss()
    else:
        optimizer = torch.optim.Adam(twin.parameters(), lr=args.lr)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.step_size, gamma=0.5)
        loss_fn = torch.nn.CrossEntropyLoss()
    seconds = 0.0
    for epoch in range(1, args.epochs + 1):
        total, seen = 0.0, 0
        start = time.perf_counter()
        for X, y in minibatches(X_train, y_train, args.batch, seed=args.seed * 1000 + epoch):
            if name == "dlcourse":
                optimizer.zero_grad()
                loss = loss_fn(model(X), y)
                model.backward(loss_fn.backward())
            else:
                optimizer.zero_grad()
                loss_t = loss_fn(twin(torch.from_numpy(X)), torch.from_numpy(y))
                loss_t.backward()
                loss = loss_t.item()
            optimizer.step()
            total, seen = total + loss * len(X), seen + len(X)
        scheduler.step()
        seconds += time.perf_counter() - start
        acc = (evaluate_ours(model, X_test, y_test) if name == "dlcourse"
               else evaluate_torch(twin, X_test, y_test))
        print(f"{name:8} epoch {epoch:2d}: train loss {total / seen:.4f}, test accuracy {acc:.2%}, "
              f"{seconds:6.1f} s of training", flush=True)
    return acc, seconds


if __name__ == "__main__":
    main()
