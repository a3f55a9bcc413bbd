"""Chapter 04 (regularization): its explorers.

    regularization_explorer   L2 or dropout on 40 noisy moons: the boundary, train and validation accuracy
    dropout_explorer          the mask on the hidden units, one thinned network, the average of 30, eval mode
    batchnorm_explorer        a 6-layer MLP at one learning rate, with and without batch norm
    early_stopping_explorer   the curves of the unregularised MNIST run and where a given patience stops
    augmentation_viewer       shifts, crops, flips and rotations of MNIST training images

The numbers they show come from ``dlcourse.regularization``; this module only draws.
"""
import functools

import ipywidgets as widgets
import numpy as np

from ..regularization import (
    BN_RATES,
    MOONS_DROPOUT,
    MOONS_L2,
    augment,
    bn_learning_rate_run,
    dropout_ensemble,
    early_stop_epoch,
    load_slice,
    moons_data,
    moons_run,
    train_variant,
)
from .explorer import Explorer, dropdown

__all__ = ["regularization_explorer", "dropout_explorer", "batchnorm_explorer", "early_stopping_explorer",
           "augmentation_viewer"]


def _boundary(ax, probability, extent, title):
    """Class-1 probability as a background, the 0.5 contour, the training and validation points."""
    X, y, X_val, y_val = moons_data()
    ax.imshow(probability, origin="lower", extent=extent, cmap="RdBu_r", vmin=0, vmax=1, alpha=0.55,
              aspect="auto")
    gx = np.linspace(extent[0], extent[1], probability.shape[1])
    gy = np.linspace(extent[2], extent[3], probability.shape[0])
    ax.contour(gx, gy, probability, levels=[0.5], colors="k", linewidths=1.2)
    ax.scatter(*X_val.T, c=y_val, cmap="RdBu_r", s=4, alpha=0.35, vmin=0, vmax=1)
    ax.scatter(*X.T, c=y, cmap="RdBu_r", s=28, edgecolors="k", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


# -- 1. L2 and dropout on a small 2-D problem --------
def draw_regularization(fig, remedy, strength):
    """Left: the unregularised boundary; right: the one with the chosen L2 strength or dropout probability."""
    options = MOONS_L2 if remedy == "L2" else MOONS_DROPOUT
    if strength not in options:          # the menu changed before the slider: that remedy's middle value
        strength = options[2]
    left, right = fig.subplots(1, 2)
    plain = moons_run()
    run = moons_run(l2=strength) if remedy == "L2" else moons_run(dropout=strength)
    _boundary(left, plain["probability"], plain["extent"],
              f"no regularisation: train {plain['train_accuracy']:.0%}, validation "
              f"{plain['val_accuracy']:.1%}")
    label = f"L2 \u03bb = {strength:g}" if remedy == "L2" else f"dropout p = {strength:g}"
    _boundary(right, run["probability"], run["extent"],
              f"{label}: train {run['train_accuracy']:.0%}, validation {run['val_accuracy']:.1%}")
    fig.suptitle("2-100-100-2 MLP on 40 training points (large dots); 400 validation points "
                 "(small)", fontsize=9)


def regularization_explorer(remedy="L2", strength=1e-2):
    """Choose L2 or dropout and its strength; compare the decision boundary with the unregularised one."""
    strengths = widgets.SelectionSlider(options=list(MOONS_L2 if remedy == "L2" else MOONS_DROPOUT),
                                        value=strength, description="strength", continuous_update=False)
    menu = dropdown("remedy", ["L2", "dropout"], remedy)

    def switch(change):
        options = list(MOONS_L2 if change["new"] == "L2" else MOONS_DROPOUT)
        with explorer.hold_redraw():
            strengths.options = options
            strengths.value = options[min(2, len(options) - 1)]
        explorer.redraw()

    explorer = _HoldableExplorer(draw_regularization, figsize=(8.0, 3.6), remedy=menu, strength=strengths)
    menu.observe(switch, names="value")
    return explorer


class _HoldableExplorer(Explorer):
    """An Explorer whose redraws can be held while several controls change together."""

    _holding = False

    def hold_redraw(self):
        import contextlib

        @contextlib.contextmanager
        def held():
            self._holding = True
            try:
                yield
            finally:
                self._holding = False
        return held()

    def redraw(self, change=None):
        if not self._holding:
            super().redraw(change)


# -- 2. dropout: one thinned network against the average of many --------
def draw_dropout(fig, seed):
    """The mask of the first hidden layer, one thinned network, the average of 30, and eval mode."""
    result = dropout_ensemble(seed)
    axes = fig.subplots(1, 4, width_ratios=[0.7, 1, 1, 1])
    mask = result["masks"][0].reshape(10, 10) > 0
    axes[0].imshow(mask, cmap="Greys_r", vmin=0, vmax=1)
    axes[0].set_title(f"mask of layer 1\n{mask.sum()} of 100 units kept", fontsize=8)
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    for ax, key, title in zip(axes[1:], ("one", "average", "eval"),
                              ("one thinned "
                               "network", "average of 30 thinned", "eval mode (no mask)"), strict=True):
        _boundary(ax, result[key], result["extent"], f"{title}\nvalidation {result['val_' + key]:.1%}")
    fig.suptitle("the moons MLP trained with dropout p = 0.4: masks drawn with this seed", fontsize=9)


def dropout_explorer(seed=0):
    """A slider for the seed of the masks: each value is another thinned network."""
    return Explorer(draw_dropout, figsize=(9.0, 3.0),
                    seed=widgets.IntSlider(value=seed, min=0, max=20, description="mask seed",
                                           continuous_update=False))


# -- 3. batch norm at a large learning rate --------
def draw_batchnorm(fig, lr):
    """Left: the loss per step with and without batch norm; right: the std of each hidden layer's output."""
    left, right = fig.subplots(1, 2)
    for batchnorm, color in ((False, "C3"), (True, "C0")):
        curve, activations = bn_learning_rate_run(lr, batchnorm)
        label = "with batch norm" if batchnorm else "without"
        left.plot(curve, color=color, label=f"{label} (last {curve[-1]:.2f})")
        stds = [float(a.std()) for a in activations]
        right.plot(range(1, len(stds) + 1), stds, "o-", color=color, label=label)
    left.axhline(np.log(10), color="0.6", ls=":", lw=1)
    left.set_xlabel("step (batches of 50)")
    left.set_ylabel("training loss")
    left.set_title(f"plain SGD, lr = {lr:g}", fontsize=9)
    left.legend(fontsize=8)
    right.set_xlabel("hidden layer")
    right.set_ylabel("std of the activations after ReLU")
    right.set_yscale("log")
    right.set_title("activations after training", fontsize=9)
    right.legend(fontsize=8)
    fig.suptitle("6 hidden layers of 128 ReLU units, PyTorch's default initialisation, MNIST "
                 "slice", fontsize=9)


def batchnorm_explorer(lr=0.5):
    """A menu for the learning rate; both networks start from the same weights."""
    return Explorer(draw_batchnorm, figsize=(8.0, 3.4), lr=dropdown("learning rate", list(BN_RATES), lr))


# -- 4. early stopping --------
def draw_early_stopping(fig, patience, epochs):
    """The unregularised run's losses and validation accuracy, the best epoch and where patience stops."""
    history = train_variant("none", epochs)
    stop, best = early_stop_epoch(history["val_loss"], patience)
    left, right = fig.subplots(1, 2)
    epochs_axis = np.arange(len(history["val_loss"]))
    left.plot(epochs_axis, history["train_loss"], label="training loss")
    left.plot(epochs_axis, history["val_loss"], label="validation loss")
    right.plot(epochs_axis, history["train_accuracy"], label="training accuracy")
    right.plot(epochs_axis, history["val_accuracy"], label="validation accuracy")
    for ax in (left, right):
        ax.axvline(best, color="C2", ls="--", lw=1, label=f"best epoch {best} (restored)")
        ax.axvline(stop, color="C3", lw=1, label=f"stopped after epoch {stop}")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    left.set_yscale("log")
    right.set_ylim(0.8, 1.005)
    right.set_title(f"validation accuracy at the restored epoch: "
                    f"{history['val_accuracy'][best]:.1%}", fontsize=9)
    left.set_title(f"patience {patience}: the validation loss rises after epoch {best}", fontsize=9)


def early_stopping_explorer(patience=5, epochs=30):
    """A slider for the patience; the curves are the chapter's unregularised run (``epochs`` long)."""
    return Explorer(functools.partial(draw_early_stopping, epochs=epochs), figsize=(8.0, 3.4),
                    patience=widgets.IntSlider(value=patience, min=1, max=15, description="patience",
                                               continuous_update=False))


# -- 5. augmentation --------
AMOUNTS = {"shift": (2, 0, 6, 1), "crop": (4, 0, 6, 1), "flip": (0.5, 0, 1, 0.5), "rotation": (15, 0, 45, 5)}


def draw_augmentation(fig, transform, amount):
    """Six training images (top row) and three random versions of each below, as one mosaic."""
    raw = load_slice().raw_train[:6]
    rows = [raw] + [augment(raw, transform, amount, seed=seed) for seed in range(3)]
    side = raw.shape[-1]
    mosaic = np.ones((4 * (side + 2), 6 * (side + 2)))                # a white line between the images
    for r, images in enumerate(rows):
        for c in range(6):
            top, left = r * (side + 2) + 1, c * (side + 2) + 1
            mosaic[top:top + side, left:left + side] = 1 - images[c, 0]
    ax = fig.add_subplot()
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([(r + 0.5) * (side + 2) for r in range(4)], ["original", "draw 1", "draw 2", "draw 3"],
                  fontsize=8)
    units = {"shift": "pixels", "crop": "pixels of padding", "flip": "probability", "rotation": "degrees"}
    note = "  (a mirrored digit is no longer the same digit)" if transform == "flip" else ""
    ax.set_title(f"{transform}, up to {amount:g} {units[transform]}{note}", fontsize=9)


def augmentation_viewer(transform="shift", amount=None):
    """A menu for the transform and a slider for its amount (pixels, degrees or probability)."""
    value, low, high, step = AMOUNTS[transform]
    slider = widgets.FloatSlider(value=value if amount is None else amount, min=low, max=high, step=step,
                                 description="amount", continuous_update=False)
    menu = dropdown("transform", list(AMOUNTS), transform)

    def switch(change):
        value, low, high, step = AMOUNTS[change["new"]]
        with explorer.hold_redraw():
            slider.max = max(high, slider.min)
            slider.min, slider.max, slider.step, slider.value = low, high, step, value
        explorer.redraw()

    explorer = _HoldableExplorer(draw_augmentation, figsize=(6.0, 4.4), transform=menu, amount=slider)
    menu.observe(switch, names="value")
    return explorer
