"""Time the chapters' explorers, the data loaders and a small fit, the timings the tests do not assert on.

Three measurements, each printed as a table:

1. Explorers (chapters 01-03): how long each control change takes to redraw
   (the budget a student feels: about 1 s). There is no PyTorch twin of a
   drawing, so this one has no ratio.
2. Loaders: ``load_mnist`` the first time (torchvision reads the .gz files,
   dlcourse writes its .npz cache) and from the cache, side by side with
   ``torchvision.datasets.MNIST`` on the same files; ``load_digits`` the first
   time (scikit-learn reads its file) and cached.
3. Training: ``train.fit`` of the moons MLP of tests/test_train.py (2-32-32-2,
   Adam lr 0.01, batches of 32, 20 epochs on 500 points) against the same loop
   in PyTorch from the same weights, float32.

Each explorer's default view and each control change is timed once, the
first time (later redraws reuse cached runs); the loaders and the fit are the
median of --repeats runs (the first MNIST load is timed once, in a fresh
folder). Both libraries use --threads threads.

    .venv/bin/python benchmarks/widgets_and_loaders.py             # about a minute
    .venv/bin/python benchmarks/widgets_and_loaders.py --repeats 7 --threads 1
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits
from timing import versions

import dlcourse
from dlcourse import data, losses, nn, optim, train, widgets

ROOT = Path(__file__).resolve().parents[1]
EXPLORERS = {   # the control changes tests/test_widgets_*.py make
    "neuron (01)": (widgets.neuron_explorer, [("w1", -2.0), ("w2", 3.0), ("b", 0.5), ("dataset", "XOR")]),
    "perceptron stepper (01)": (widgets.perceptron_stepper, [("update", 3), ("dataset", "XOR")]),
    "feature map (01)": (widgets.feature_map_explorer, [("threshold", 0.3), ("noise", 0.15)]),
    "activation (02)": (widgets.activation_explorer,
                        [("name", "elu"), ("parameter", 1.5), ("threshold", 0.3)]),
    "depth (02)": (widgets.depth_explorer, [("weight_scale", 1.4), ("depth", 35)]),
    "dead ReLU (02)": (widgets.dead_relu_explorer, [("lr", 1.0), ("bias_offset", -0.5)]),
    "graph stepper (03)": (widgets.graph_stepper, [("step", 0), ("step", 5), ("step", 20)]),
    "initialisation (03)": (widgets.init_explorer,
                            [("scheme", "he"), ("activation", "relu"), ("scheme", "zeros")]),
    "learning rate (03)": (widgets.learning_rate_explorer, [("lr", 0.01), ("lr", 10.0)]),
}
REDRAW_BUDGET = 1.0   # seconds


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each measurement (median kept)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for both torch and numpy's BLAS (default: all cores)")
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "datasets",
                        help="a folder holding MNIST/raw/*.gz (default: ../shared/datasets, else datasets/)")
    return parser.parse_args()


def seconds(fn, repeats):
    """The median duration of ``repeats`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- 1. explorers --------------------------------------------------------------------------------
def redraw_seconds(explorer, control, value):
    """How long setting one control takes, drawing included (the first time: nothing cached yet)."""
    start = time.perf_counter()
    explorer.controls[control].value = value
    return time.perf_counter() - start


def time_explorers():
    print(f"\nExplorers: seconds to draw the default view and to redraw after each control change, "
          f"the first time (budget about {REDRAW_BUDGET:g} s)")
    print(f"{'explorer':26} {'first view':>10} {'median':>8} {'slowest':>8}   slowest control")
    for name, (make, changes) in EXPLORERS.items():
        start = time.perf_counter()
        explorer = make()
        first = time.perf_counter() - start
        redraws = {f"{control}={value}": redraw_seconds(explorer, control, value)
                   for control, value in changes}
        slowest = max(redraws, key=redraws.get)
        flag = "  OVER BUDGET" if redraws[slowest] > REDRAW_BUDGET else ""
        print(f"{name:26} {first:10.3f} {statistics.median(redraws.values()):8.3f} {redraws[slowest]:8.3f}"
              f"   {slowest}{flag}")


# -- 2. loaders -------------------------------------------------------------------------------------
def time_loaders(args):
    source = args.mnist if (args.mnist / "MNIST" / "raw").is_dir() else ROOT / "datasets"
    if not (source / "MNIST" / "raw").is_dir():
        sys.exit(f"no MNIST/raw/ under {args.mnist} or datasets/: give --mnist")
    import torchvision.datasets

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "MNIST" / "raw").mkdir(parents=True)
        for file in data.RAW_FILES:
            shutil.copyfile(source / "MNIST" / "raw" / file, root / "MNIST" / "raw" / file)
        start = time.perf_counter()
        data.load_mnist(root=root)
        first = time.perf_counter() - start
        cached = seconds(lambda: data.load_mnist(root=root), args.repeats)

        def torchvision_load():
            train_set = torchvision.datasets.MNIST(root, train=True)
            test_set = torchvision.datasets.MNIST(root, train=False)
            return train_set.data, test_set.data

        theirs = seconds(torchvision_load, args.repeats)
    data._digits_pixels.cache_clear()
    start = time.perf_counter()
    data.load_digits()
    digits_first = time.perf_counter() - start
    digits_cached = seconds(data.load_digits, args.repeats)

    print("\nLoaders: seconds per call (MNIST: 70000 images, as float32 arrays in [0, 1])")
    print(f"{'':44} {'seconds':>8}")
    print(f"{'load_mnist, first (torchvision + .npz write)':44} {first:8.3f}")
    print(f"{'load_mnist, from the .npz cache':44} {cached:8.3f}")
    print(f"{'torchvision.datasets.MNIST (uint8 tensors)':44} {theirs:8.3f}")
    print(f"{'load_digits, first (scikit-learn reads)':44} {digits_first:8.3f}")
    print(f"{'load_digits, cached':44} {digits_cached:8.4f}")
    print(f"ratio cached load_mnist / torchvision.datasets.MNIST: {cached / theirs:.2f}x; "
          f"load_digits first / cached: {digits_first / digits_cached:.0f}x")


# -- 3. a small fit ------------------------------------------------------------------------------------
def mlp():
    """The dlcourse 2-32-32-2 ReLU MLP, from seed 0."""
    dlcourse.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))


def time_fit(repeats):
    X, y = data.make_moons(500, noise=0.1, seed=0)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    weights = {name: torch.from_numpy(value) for name, value in mlp().state_dict().items()}

    def ours():
        model = mlp()
        train.fit(model, losses.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), X, y,
                  epochs=20, batch_size=32, progress=False)
        return model

    def theirs():
        model = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                                    torch.nn.ReLU(), torch.nn.Linear(32, 2))
        model.load_state_dict(weights)                                     # the same initial weights
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        generator = torch.Generator().manual_seed(0)
        for _ in range(20):
            for index in torch.randperm(len(Xt), generator=generator).split(32):
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(Xt[index]), yt[index])
                loss.backward()
                optimizer.step()
        return model

    accuracy_ours = train.accuracy(ours()(X), y)
    accuracy_theirs = float((theirs()(Xt).argmax(1) == yt).float().mean())
    ours_s, theirs_s = seconds(ours, repeats), seconds(theirs, repeats)
    print("\nTraining: the moons MLP 2-32-32-2, Adam lr 0.01, batches of 32, 20 epochs on 500 points, "
          "float32")
    print(f"{'':10} {'seconds':>8} {'train accuracy':>15}")
    print(f"{'dlcourse':10} {ours_s:8.3f} {accuracy_ours:15.3f}")
    print(f"{'PyTorch':10} {theirs_s:8.3f} {accuracy_theirs:15.3f}")
    print(f"ratio dlcourse / PyTorch: {ours_s / theirs_s:.2f}x")


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} threads (cpu_count {os.cpu_count()}), load average {os.getloadavg()[0]:.1f}; "
          f"{versions()}; median of {args.repeats} runs")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        time_explorers()
        time_loaders(args)
        time_fit(args.repeats)


if __name__ == "__main__":
    main()
