"""Chapter 00: the sigmoid explorer."""
import numpy as np

from .. import functional as F
from .explorer import Explorer, slider


def draw_sigmoid(fig, w, b, threshold):
    """sigma(w x + b) and its slope d/dx = w sigma'(w x + b) on the input x in [-10, 10].

    The shaded band marks where |slope| < threshold: there the neuron is
    saturated and a gradient step barely moves it.
    """
    x = np.linspace(-10, 10, 401)
    a = w * x + b                                   # the pre-activation z = w x + b
    value = F.sigmoid(a)
    slope = w * F.sigmoid_grad(a)
    flat = np.abs(slope) < threshold
    ax = fig.add_subplot()
    ax.fill_between(x, 0, 1, where=flat, transform=ax.get_xaxis_transform(),
                    color="0.85", label=f"|slope| < {threshold:g} (saturated)")
    ax.plot(x, value, color="C0", lw=2, label=r"$\sigma(wx+b)$")
    ax.plot(x, slope, color="C1", lw=2, label=r"slope $w\,\sigma'(wx+b)$")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(min(0.0, slope.min()) - 0.05, max(1.0, slope.max()) + 0.05)
    ax.set_xlabel("input x")
    ax.set_title(f"w = {w:g}, b = {b:g}: saturated on {flat.mean():.0%} of the range, "
                 f"largest slope |w|/4 = {abs(w) / 4:.2f}", fontsize=10)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)


def sigmoid_explorer(w=1.0, b=0.0, threshold=0.05):
    """Sliders for w, b and the threshold; plots sigma(w x + b), its slope and where it saturates."""
    return Explorer(
        draw_sigmoid,
        w=slider("weight w", -5, 5, w),
        b=slider("bias b", -5, 5, b),
        threshold=slider("threshold", 0.01, 0.25, threshold, step=0.01),
    )
