"""Chapter 04's table at full size: validation and test accuracy of each remedy, dlcourse beside PyTorch.

The chapter trains on 1000 MNIST images; this script trains the same
784-256-256-10 MLP on a larger slice (default: all 55000 training images
left after a 5000-image validation split), float32, batches of 50, Adam
(lr 1e-3) or AdamW, for each row of the table:

    none           no regularisation
    L2 (AdamW)     AdamW, weight_decay 0.1
    dropout        Dropout(0.3) after both hidden layers
    batch norm     BatchNorm1d after both hidden linear layers
    augmentation   random shifts of up to 2 pixels (the same numpy shifts for both frameworks)
    early stopping the unregularised run, stopped on the validation loss with patience 3, best epoch restored
    combination    shifts, dropout 0.3, AdamW 0.05

Both frameworks start from the same initial weights and see the same
batches in the same order (the dropout masks are each framework's own).
The table reports validation and test accuracy for both, and the training
time of each with the ratio dlcourse / PyTorch; both use the same number of
threads. The test set is evaluated once per row, at the end.

    .venv/bin/python benchmarks/regularization_table.py                        # 55000 images, 10 epochs
    .venv/bin/python benchmarks/regularization_table.py --train 1000 --epochs 30   # the chapter's setting
    .venv/bin/python benchmarks/regularization_table.py --train 500 --epochs 1 --only none,dropout   # quick
"""
import argparse
import os
import time

import numpy as np
import torch
from timing import same_threads, versions

import dlcourse
from dlcourse import losses, optim, train
from dlcourse import regularization as R

ROWS = {   # name: (dropout p, batch norm, AdamW weight decay, max shift)
    "none": (0.0, False, 0.0, 0),
    "L2 (AdamW)": (0.0, False, 0.1, 0),
    "dropout": (0.3, False, 0.0, 0),
    "batch norm": (0.0, True, 0.0, 0),
    "augmentation": (0.0, False, 0.0, 2),
    "combination": (0.3, False, 0.05, 2),
}
PATIENCE = 3


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=55000, help="training images (a seeded slice)")
    parser.add_argument("--val", type=int, default=5000, help="validation images (from the training set)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="threads for both torch and numpy's BLAS")
    parser.add_argument("--only", default="", help="comma-separated rows to run (default: all)")
    return parser.parse_args()


def torch_twin(model):
    """The dlcourse MLP ``model`` as a torch.nn.Sequential with the same layers and weights."""
    layers = []
    for layer in model:
        kind = type(layer).__name__
        if kind == "Linear":
            layers.append(torch.nn.Linear(layer.in_features, layer.out_features))
        elif kind == "BatchNorm1d":
            layers.append(torch.nn.BatchNorm1d(layer.num_features))
        elif kind == "ReLU":
            layers.append(torch.nn.ReLU())
        elif kind == "Dropout":
            layers.append(torch.nn.Dropout(layer.p))
    twin = torch.nn.Sequential(*layers)
    state = model.state_dict()
    twin.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in state.items()})
    return twin


def epoch_batches(split, max_shift, rng):
    """One epoch's batches (X, y) as float32 arrays: shuffled, shifted when max_shift > 0, standardised."""
    order = rng.permutation(len(split.y_train))
    for start in range(0, len(order), 50):
        index = order[start:start + 50]
        if max_shift:
            shifted = R.random_shift(split.raw_train[index], max_shift, rng)
            yield split.standardize(shifted), split.y_train[index]
        else:
            yield split.X_train[index], split.y_train[index]


def run_row(name, split, epochs):
    """Train the row with both frameworks: {framework: (val accuracies, test accuracy, seconds, early)}."""
    p, batchnorm, decay, shift = ROWS[name]
    dlcourse.manual_seed(0)
    torch.manual_seed(0)
    ours = R.mlp(split.X_train.shape[1], dropout=p, batchnorm=batchnorm)
    ours[0].needs_input_grad = False
    theirs = torch_twin(ours)
    if decay:
        our_opt = optim.AdamW(ours.parameters(), lr=1e-3, weight_decay=decay)
        their_opt = torch.optim.AdamW(theirs.parameters(), lr=1e-3, weight_decay=decay)
    else:
        our_opt = optim.Adam(ours.parameters(), lr=1e-3)
        their_opt = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    our_loss, their_loss = losses.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    results = {}
    for framework in ("dlcourse", "PyTorch"):
        rng = np.random.default_rng(0)            # the same batches, in the same order, for both
        val_accuracy, val_loss, states, seconds = [], [], [], 0.0
        for _ in range(epochs):
            start = time.perf_counter()
            if framework == "dlcourse":
                ours.train()
                for X_batch, y_batch in epoch_batches(split, shift, rng):
                    train.train_step(ours, our_loss, our_opt, X_batch, y_batch)
            else:
                theirs.train()
                for X_batch, y_batch in epoch_batches(split, shift, rng):
                    their_opt.zero_grad()
                    their_loss(theirs(torch.from_numpy(X_batch)), torch.from_numpy(y_batch)).backward()
                    their_opt.step()
            seconds += time.perf_counter() - start
            scores = predict(framework, ours, theirs, split.X_val)
            val_accuracy.append(train.accuracy(scores, split.y_val))
            val_loss.append(losses.CrossEntropyLoss()(scores.astype(np.float64), split.y_val))
            states.append(ours.state_dict() if framework == "dlcourse" else
                          {k: v.clone() for k, v in theirs.state_dict().items()})
        test = train.accuracy(predict(framework, ours, theirs, split.X_test), split.y_test)
        stop, best = R.early_stop_epoch(val_loss, PATIENCE)
        final_state = ours.state_dict() if framework == "dlcourse" else theirs.state_dict()
        load(framework, ours, theirs, states[best])
        early_test = train.accuracy(predict(framework, ours, theirs, split.X_test), split.y_test)
        early = (val_accuracy[best], early_test, stop, best)
        load(framework, ours, theirs, final_state)
        results[framework] = (val_accuracy, test, seconds, early)
    return results


def predict(framework, ours, theirs, X):
    if framework == "dlcourse":
        return ours.eval()(X)
    theirs.eval()
    with torch.no_grad():
        return theirs(torch.from_numpy(X)).numpy()


def load(framework, ours, theirs, state):
    if framework == "dlcourse":
        ours.load_state_dict(state)
    else:
        theirs.load_state_dict(state)


def main():
    args = parse_args()
    with same_threads(args.threads):
        run(args)


def run(args):
    split = R.load_slice(n_train=args.train, n_val=args.val)
    rows = [row for row in ROWS if not args.only or row in args.only.split(",")]
    print(f"{split.name}: {len(split.y_train)} training images, {len(split.y_val)} validation (from the "
          f"training "
          f"set), {len(split.y_test)} test; {args.epochs} epochs, batches of 50, float32; {args.threads} "
          f"threads "
          f"(cpu_count {os.cpu_count()}); {versions()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':16} {'validation':>21} {'test':>21} {'training seconds':>26}")
    print(f"{'':16} {'dlcourse':>10} {'PyTorch':>10} {'dlcourse':>10} {'PyTorch':>10} {'dlcourse':>9} "
          f"{'PyTorch':>9} "
          f"{'ratio':>6}")
    plain = None
    for name in rows:
        result = run_row(name, split, args.epochs)
        (ours_val, ours_test, ours_s, ours_early), (their_val, their_test, their_s, their_early) = \
            result["dlcourse"], result["PyTorch"]
        print(f"{name:16} {ours_val[-1]:10.2%} {their_val[-1]:10.2%} {ours_test:10.2%} {their_test:10.2%} "
              f"{ours_s:9.1f} {their_s:9.1f} {ours_s / their_s:5.2f}x")
        if name == "none":
            plain = ours_early, their_early
    if plain is not None:
        (ours_v, ours_t, stop, best), (their_v, their_t, their_stop, their_best) = plain
        print(f"{'early stopping':16} {ours_v:10.2%} {their_v:10.2%} {ours_t:10.2%} {their_t:10.2%}   "
              f"(patience {PATIENCE}: dlcourse stopped after epoch {stop}, restored {best}; "
              f"PyTorch {their_stop}, {their_best})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print("test accuracy: measured once per row, after training")


if __name__ == "__main__":
    main()
