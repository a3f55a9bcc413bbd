"""Train a numpy (dlcourse) MLP on MNIST; print the test accuracy and the measured training time.

The network of chapter 03, trained longer: 784-512-256-10 ReLU, PyTorch's
default initialisation, cross-entropy, Adam (lr 1e-3) with the rate halved
every 3 epochs (StepLR), minibatches of 128, float32, pixels in [0, 1]
standardised with the training mean and std. Goal: at least 98.0% test
accuracy in at most 90 s of training on 2 CPU cores.

    .venv/bin/python benchmarks/mnist_mlp.py                 # the full run, about a minute
    .venv/bin/python benchmarks/mnist_mlp.py --epochs 3      # a quick look
    .venv/bin/python benchmarks/mnist_mlp.py --hidden 256    # one hidden layer (the chapter's net)

Only training is timed (fit: forward, backward and update of every step,
plus the per-epoch test evaluation, which is cheap); loading the data is not.
"""
import argparse
import time

import numpy as np

import dlcourse
from dlcourse import losses, nn, optim
from dlcourse.data import load_mnist
from dlcourse.train import evaluate, fit


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 256], help="hidden layer widths")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--step-size", type=int, default=3, help="halve the rate every this many epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true", help="show tqdm's progress bar")
    return parser.parse_args()


def make_mlp(sizes):
    """Linear -> ReLU -> ... -> Linear for layer widths ``sizes`` (784, ..., 10)."""
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers[0].needs_input_grad = False   # nothing needs dL/dX of the images
    return nn.Sequential(*layers[:-1])


def main():
    args = parse_args()
    X_train, y_train, X_test, y_test = load_mnist()
    mean, std = X_train.mean(), X_train.std()
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std

    dlcourse.manual_seed(args.seed)
    model = make_mlp([784, *args.hidden, 10])
    loss_fn = losses.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.StepLR(optimizer, step_size=args.step_size, gamma=0.5)

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        history = fit(model, loss_fn, optimizer, X_train, y_train, epochs=1, batch_size=args.batch,
                      X_val=X_test, y_val=y_test, progress=args.progress)
        scheduler.step()
        print(f"epoch {epoch:2d}: train loss {history['loss'][0]:.4f}, test accuracy "
              f"{history['val_accuracy'][0]:.2%}, {time.perf_counter() - start:5.1f} s", flush=True)
    seconds = time.perf_counter() - start
    _, test_accuracy = evaluate(model, loss_fn, X_test, y_test)
    sizes = "-".join(str(n) for n in [784, *args.hidden, 10])
    print(f"{sizes} MLP, {args.epochs} epochs: test accuracy {test_accuracy:.2%} "
          f"after {seconds:.1f} s of training")
    return test_accuracy, seconds


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
