"""The training loop: ``fit`` a model by minibatch gradient descent, ``evaluate`` it, plot the history.

One training step, the heart of everything in this course, is
:func:`train_step`::

    optimizer.zero_grad()                  # forget the previous step's gradients
    scores = model(X_batch)                # forward pass
    loss = loss_fn(scores, y_batch)        # how wrong we are: one number
    model.backward(loss_fn.backward())     # dL/d(every parameter), by backpropagation
    optimizer.step()                       # move every parameter a little downhill

``fit`` repeats it over shuffled minibatches for a number of epochs and
keeps a history of the loss (and accuracy) per epoch. Every training loop
of the package (the chapters' experiments and explorers) calls
``train_step``, so there is one copy of it.

Accuracy is reported for the classification losses (CrossEntropyLoss,
BCELoss, BCEWithLogitsLoss). With any other loss (MSELoss for regression)
the history holds only the losses, and ``evaluate`` returns ``None`` for
the accuracy.
"""
import math

import numpy as np
from tqdm.auto import tqdm

from .data import _check_int, minibatches
from .honesty import reference
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss

__all__ = ["train_step", "fit", "evaluate", "accuracy", "plot_history"]


def accuracy(scores, y, threshold=0.5):
    """The fraction of samples classified correctly, a float in [0, 1].

    The rule, by the shape of ``scores``:

    - ``(N, C)`` with C >= 2: one score per class (logits or probabilities);
      the prediction is the class with the largest score (argmax along
      axis 1), compared with ``y`` of shape (N,), integer class indices.
    - ``(N,)`` or ``(N, 1)``: one output for a yes/no question; the
      prediction is 1 where the score is above ``threshold`` and 0 elsewhere,
      compared with ``y`` of shape (N,) or (N, 1) holding 0 and 1.
      Use ``threshold=0.5`` for probabilities (after a Sigmoid, BCELoss) and
      ``threshold=0.0`` for logits (BCEWithLogitsLoss): sigmoid(0) = 0.5.
      ``fit`` and ``evaluate`` choose it from the loss.
    """
    scores, y = np.asarray(scores), np.asarray(y)
    if scores.ndim == 2 and scores.shape[1] >= 2:
        if y.shape != (len(scores),):
            raise ValueError(
                f"accuracy expects class indices y of shape ({len(scores)},) for scores of shape "
                f"{scores.shape}, got y of shape {y.shape}"
            )
        predicted = scores.argmax(axis=1)
    elif scores.ndim == 1 or (scores.ndim == 2 and scores.shape[1] == 1):
        if y.size != len(scores) or y.ndim > 2:
            raise ValueError(
                f"accuracy expects 0/1 labels y of shape ({len(scores)},) or ({len(scores)}, 1) for "
                f"scores of shape {scores.shape}, got y of shape {y.shape}"
            )
        predicted, y = scores.reshape(-1) > threshold, y.reshape(-1)
    else:
        raise ValueError(
            f"accuracy expects scores of shape (N, C) for classes or (N,) / (N, 1) for a binary "
            f"output, got an array of shape {scores.shape}"
        )
    return float(np.mean(predicted == y))


def _is_classification(loss_fn):
    return isinstance(loss_fn, (CrossEntropyLoss, BCELoss, BCEWithLogitsLoss))


def _threshold(loss_fn):
    """Binary outputs are logits (cut at 0) for BCEWithLogitsLoss, probabilities (cut at 0.5) otherwise."""
    return 0.0 if isinstance(loss_fn, BCEWithLogitsLoss) else 0.5


def _check_samples(X, y, who):
    """X and y must hold the same number N >= 1 of samples (first axis)."""
    X_shape, y_shape = np.shape(X), np.shape(y)
    if not X_shape or not y_shape or X_shape[0] != y_shape[0] or X_shape[0] == 0:
        raise ValueError(
            f"{who} expects X and y with the same number of samples N >= 1 (first axis), "
            f"got X of shape {X_shape} and y of shape {y_shape}"
        )


def evaluate(model, loss_fn, X, y, batch_size=256):
    """Loss and accuracy of ``model`` on ``(X, y)``, in evaluation mode, without changing anything.

    No backward pass and no optimizer step: parameters and their gradients
    stay as they are. The model runs in eval mode (dropout off, batch norm
    uses its running statistics); its previous mode is restored afterwards.
    The data go through in batches of ``batch_size`` to bound memory.

    Returns:
        (loss, accuracy): floats, both averaged over all N samples; accuracy
        is None when ``loss_fn`` is not a classification loss.
    """
    _check_samples(X, y, "evaluate")
    was_training = model.training
    model.eval()
    total_loss, total_correct = 0.0, 0.0
    for X_batch, y_batch in minibatches(X, y, batch_size, shuffle=False):
        scores = model(X_batch)
        total_loss += loss_fn(scores, y_batch) * len(X_batch)
        if _is_classification(loss_fn):
            total_correct += accuracy(scores, y_batch, _threshold(loss_fn)) * len(X_batch)
    model.train(was_training)
    n = len(X)
    return total_loss / n, (total_correct / n if _is_classification(loss_fn) else None)


@reference
def train_step(model, loss_fn, optimizer, X, y):
    """One step of gradient descent on the batch ``(X, y)``: forward, loss, backward, update.

    Args:
        model: a dlcourse Module; its parameters are updated in place.
        loss_fn: a dlcourse loss, e.g. CrossEntropyLoss(); ``loss_fn(scores, y)``.
        optimizer: e.g. SGD(model.parameters(), lr=0.1); its ``step`` does the update.
        X: (N, ...) a batch of inputs; y: (N, ...) their targets, as ``loss_fn`` expects.

    Returns:
        (loss, scores): the loss before the update (a float) and the model's
        output on X (what the loss was computed from, e.g. for the accuracy).
    """
    optimizer.zero_grad()                  # forget the previous step's gradients
    scores = model(X)                      # forward pass
    loss = loss_fn(scores, y)              # how wrong we are: one number
    model.backward(loss_fn.backward())     # dL/d(every parameter), by backpropagation
    optimizer.step()                       # move every parameter a little downhill
    return loss, scores


@reference
def fit(model, loss_fn, optimizer, X, y, epochs=10, batch_size=32, X_val=None, y_val=None, progress=True):
    """Train ``model`` on ``(X, y)`` by minibatch gradient descent; return the history.

    Args:
        model: a dlcourse Module; trained in place.
        loss_fn: a dlcourse loss, e.g. CrossEntropyLoss(); ``loss_fn(scores, y_batch)``.
        optimizer: e.g. SGD(model.parameters(), lr=0.1).
        X: (N, ...) inputs; y: (N, ...) targets, in the shape ``loss_fn`` expects.
        epochs: passes over the data; each pass shuffles anew (from the
            package generator: ``dlcourse.manual_seed`` makes runs repeatable).
        batch_size: samples per step; the last batch of an epoch may be smaller.
        X_val, y_val: optional validation data, evaluated after every epoch.
        progress: show a progress bar with the running loss (a widget in Jupyter).

    Returns:
        history: dict of lists with one entry per epoch:
        ``loss`` and ``accuracy`` (the average over the epoch's minibatches,
        measured during training, in training mode), and ``val_loss`` and
        ``val_accuracy`` (from :func:`evaluate`, eval mode) when validation
        data are given. No accuracy keys for regression losses.
    """
    _check_samples(X, y, "fit")
    _check_int(epochs, "epochs", "fit", minimum=0)
    _check_int(batch_size, "batch_size", "fit")
    if (X_val is None) != (y_val is None):
        raise ValueError("fit expects X_val and y_val together: pass both or neither")
    classification = _is_classification(loss_fn)
    history = {"loss": [], "accuracy": []} if classification else {"loss": []}
    if X_val is not None:
        history.update({"val_" + key: [] for key in list(history)})

    batches_per_epoch = math.ceil(len(X) / batch_size)
    with tqdm(total=epochs * batches_per_epoch, disable=not progress, unit="batch") as bar:
        for epoch in range(1, epochs + 1):
            bar.set_description(f"epoch {epoch}/{epochs}")
            model.train()
            total_loss, total_correct, seen = 0.0, 0.0, 0
            for X_batch, y_batch in minibatches(X, y, batch_size, shuffle=True):
                loss, scores = train_step(model, loss_fn, optimizer, X_batch, y_batch)
                seen += len(X_batch)
                total_loss += loss * len(X_batch)
                if classification:
                    total_correct += accuracy(scores, y_batch, _threshold(loss_fn)) * len(X_batch)
                bar.update()
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)

            history["loss"].append(total_loss / seen)
            if classification:
                history["accuracy"].append(total_correct / seen)
            if X_val is not None:
                val_loss, val_accuracy = evaluate(model, loss_fn, X_val, y_val)
                history["val_loss"].append(val_loss)
                if classification:
                    history["val_accuracy"].append(val_accuracy)
            bar.set_postfix({key: f"{values[-1]:.4f}" for key, values in history.items()})
    return history


def plot_history(history):
    """Plot loss (and accuracy, when recorded) per epoch, training and validation; returns the Figure."""
    import matplotlib.pyplot as plt  # imported here: only this function draws

    metrics = [metric for metric in ("loss", "accuracy") if metric in history]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, metric in zip(axes[0], metrics, strict=True):
        ax.plot(epochs, history[metric], marker=".", label="training")
        if "val_" + metric in history:
            ax.plot(epochs, history["val_" + metric], marker=".", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    fig.tight_layout()
    return fig
