"""Chapter 02: explorers for activation functions (their numbers: ``dlcourse.activations``).

    activation_explorer()   f and f' of one activation; where the gradient is nearly zero
    depth_explorer()        the gradient's size layer by layer in a deep random stack
    dead_relu_explorer()    how a large learning rate or a negative bias kills ReLU units
"""
import functools

import ipywidgets as widgets
import numpy as np
from threadpoolctl import threadpool_limits

from ..activations import ACTIVATIONS, dead_fraction_during_training, gradient_norms_through_depth
from ..data import load_digits
from .explorer import Explorer, dropdown, slider

# What the parameter slider means for each activation (None: the function has no parameter).
PARAMETER_MEANING = {"sigmoid": None, "tanh": None, "relu": None,
                     "leaky_relu": "negative slope", "elu": "alpha"}
COLORS = {"sigmoid": "C0", "tanh": "C1", "relu": "C2", "leaky_relu": "C3", "elu": "C4"}


def _with_parameter(name, parameter):
    """(f, f') of activation ``name``, with its parameter set when it has one."""
    f, f_grad = ACTIVATIONS[name]
    if PARAMETER_MEANING[name] is None:
        return f, f_grad
    keyword = {"negative_slope": parameter} if name == "leaky_relu" else {"alpha": parameter}
    return functools.partial(f, **keyword), functools.partial(f_grad, **keyword)


# -- 1. one activation and its derivative -----------------------------------------------------
def draw_activation(fig, name, parameter, threshold):
    """f(z) and f'(z) on z in [-6, 6]; grey where |f'(z)| < threshold (little gradient passes)."""
    f, f_grad = _with_parameter(name, parameter)
    z = np.linspace(-6, 6, 481)
    value, slope = f(z), f_grad(z)
    flat = np.abs(slope) < threshold
    ax = fig.add_subplot()
    ax.fill_between(z, 0, 1, where=flat, transform=ax.get_xaxis_transform(),
                    color="0.85", label=f"|f'(z)| < {threshold:g}")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.plot(z, value, color="C0", lw=2, label="f(z)")
    ax.plot(z, slope, color="C1", lw=2, label="f'(z)")
    ax.set_xlim(z[0], z[-1])
    ax.set_ylim(max(-2.0, value.min() - 0.2), min(6.0, max(value.max(), slope.max()) + 0.2))
    ax.set_xlabel("z")
    meaning = PARAMETER_MEANING[name]
    setting = f"{meaning} = {parameter:g}" if meaning else "no parameter"
    ax.set_title(f"{name} ({setting}): |f'| < {threshold:g} on {flat.mean():.0%} of [-6, 6], "
                 f"largest f' = {slope.max():.2g}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)


def activation_explorer(name="sigmoid", parameter=0.1, threshold=0.05):
    """A menu for the activation, sliders for its parameter and the threshold."""
    return Explorer(
        draw_activation,
        name=dropdown("activation", list(ACTIVATIONS), name),
        parameter=slider("parameter (leaky slope / ELU alpha)", 0.0, 2.0, parameter, step=0.01),
        threshold=slider("threshold", 0.01, 0.5, threshold, step=0.01),
    )


# -- 2. the gradient through depth -------------------------------------------------------------
def draw_depth(fig, weight_scale, depth):
    """RMS of dL/dZ^[l] against the layer l, one line per activation, log scale."""
    ax = fig.add_subplot()
    layers = np.arange(1, depth + 1)
    for name in ACTIVATIONS:
        with threadpool_limits(1):   # small matrices: one thread is faster than two that compete
            norms = gradient_norms_through_depth(name, depth=depth, weight_scale=weight_scale)
        ax.semilogy(layers, norms, marker=".", color=COLORS[name],
                    label=f"{name}: layer 1 / layer {depth} = {norms[0] / norms[-1]:.1e}")
    ax.set_xlabel("layer l (1 = next to the input; the gradient flows from right to left)")
    ax.set_ylabel("RMS of dL/dZ at layer l")
    ax.set_title(f"{depth} layers of width 100, weights N(0, {weight_scale:g}\u00b2/100)", fontsize=10)
    ax.legend(fontsize=7, loc="best", framealpha=0.9)


def depth_explorer(weight_scale=1.0, depth=20):
    """Sliders for the weight scale (1 = LeCun, sqrt(2) = He) and the depth."""
    return Explorer(
        draw_depth,
        figsize=(6.4, 4.0),
        weight_scale=slider("weight scale", 0.5, 3.0, weight_scale, step=0.05),
        depth=widgets.IntSlider(value=depth, min=2, max=50, description="depth", continuous_update=False),
    )


# -- 3. dead ReLU units ---------------------------------------------------------------------
LEARNING_RATES = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
STEPS = 30


@functools.lru_cache(maxsize=256)
def _dead_curve(lr, bias_offset):
    """Dead fraction before and after each of STEPS full-batch steps (cached: a redraw reuses runs)."""
    split = load_digits()                                  # cached in dlcourse.data
    with threadpool_limits(1):   # small matrices: one thread is faster than two that compete
        return dead_fraction_during_training(split.X_train, split.y_train, lr, bias_offset=bias_offset,
                                             steps=STEPS)


def draw_dead_relu(fig, lr, bias_offset):
    """Left: dead units step by step for this lr. Right: dead units after training against lr."""
    lr, bias_offset = float(lr), round(float(bias_offset), 2)
    left, right = fig.subplots(1, 2)
    curve = _dead_curve(lr, bias_offset)
    left.plot(np.arange(STEPS + 1), curve, color="C3", marker=".")
    left.set_ylim(-0.03, 1.03)
    left.set_xlabel("gradient step")
    left.set_ylabel("fraction of dead hidden units")
    left.set_title(f"lr = {lr:.3g}, bias offset {bias_offset:+g}: {curve[-1]:.0%} dead", fontsize=10)
    finals = [_dead_curve(rate, bias_offset)[-1] for rate in LEARNING_RATES]
    right.semilogx(LEARNING_RATES, finals, color="0.4", marker="o", label="after 30 steps")
    right.semilogx([lr], [curve[-1]], "o", color="C3", markersize=9, label="this lr")
    right.set_ylim(-0.03, 1.03)
    right.set_xlabel("learning rate")
    right.set_title("dead after training, by learning rate", fontsize=10)
    right.legend(fontsize=8, loc="upper left")


def dead_relu_explorer(lr=10.0, bias_offset=0.0):
    """A log slider for the learning rate and a slider for the initial bias offset.

    The run: Linear(64, 100) -> ReLU -> Linear(100, 10) on the digits, full-batch SGD.
    """
    return Explorer(
        draw_dead_relu,
        figsize=(8.0, 3.4),
        lr=widgets.FloatLogSlider(value=lr, base=10, min=-1, max=1.5, step=0.1, description="learning rate",
                                  continuous_update=False, style={"description_width": "initial"}),
        bias_offset=slider("bias offset", -1.0, 1.0, bias_offset, step=0.05),
    )


__all__ = ["activation_explorer", "depth_explorer", "dead_relu_explorer",
           "draw_activation", "draw_depth", "draw_dead_relu"]
