"""Chapter 01: the neuron explorer, the perceptron stepper and the feature-map view."""
import functools
import itertools

import ipywidgets as widgets
import numpy as np

from .. import data
from .. import functional as F
from .. import perceptrons as P
from .explorer import Explorer, dropdown, slider

CLASS_COLORS = ("#2166ac", "#b2182b")    # class 0 blue, class 1 red, as the RdBu_r surfaces
LIMIT = 1.3                              # the plots show [-LIMIT, LIMIT]^2
MAX_UPDATES = 60                         # the stepper shows at most this many perceptron updates


@functools.cache
def two_d_set(name):
    """The 2-D sets of the chapter, 60 points each: 'separable' or 'XOR'.

    'separable' is ``make_separable(60, margin=0.05, seed=1)`` (the perceptron needs 39 updates on it),
    'XOR' is ``data.make_xor(60, noise=0.05, seed=0)``.
    """
    if name == "separable":
        return P.make_separable(60, margin=0.05, seed=1)
    if name == "XOR":
        return data.make_xor(60, noise=0.05, seed=0)
    raise ValueError(f"two_d_set expects 'separable' or 'XOR', got {name!r}")


def _grid(n=201):
    """A grid over the plotted square: points (n*n, 2) and the two coordinate arrays (n, n)."""
    u = np.linspace(-LIMIT, LIMIT, n)
    g1, g2 = np.meshgrid(u, u)
    return np.column_stack([g1.ravel(), g2.ravel()]), g1, g2


def _scatter_classes(ax, X, y, wrong=None):
    """Points coloured by class; the misclassified ones (boolean mask ``wrong``) ringed in black."""
    for label in (0, 1):
        mine = y == label
        ax.scatter(X[mine, 0], X[mine, 1], s=22, color=CLASS_COLORS[label], edgecolor="white",
                   linewidth=0.5, label=f"class {label}", zorder=3)
    if wrong is not None and wrong.any():
        ax.scatter(X[wrong, 0], X[wrong, 1], s=90, facecolor="none", edgecolor="black", linewidth=1.2,
                   label="misclassified", zorder=4)
    ax.set_xlim(-LIMIT, LIMIT)
    ax.set_ylim(-LIMIT, LIMIT)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def _boundary(ax, z_grid, g1, g2):
    """The line z = 0 (only where z changes sign on the grid: a constant z has no boundary)."""
    if z_grid.min() < 0 < z_grid.max():
        ax.contour(g1, g2, z_grid, levels=[0.0], colors="black", linewidths=2)


# -- 1. the neuron explorer ------------------------------------------------------------------------
def draw_neuron(fig, w1, w2, b, dataset):
    """Left: the output a = sigmoid(w1 x1 + w2 x2 + b) over the plane, the boundary a = 0.5 and the data.
    Right: the same neuron as its two steps, each point at (z_n, a_n)."""
    X, y = two_d_set(dataset)
    w = np.array([w1, w2])
    points, g1, g2 = _grid()
    z_grid = (points @ w + b).reshape(g1.shape)
    wrong = P.perceptron_predict(X, w, b) != y
    ax = fig.add_subplot(1, 2, 1)
    surface = ax.imshow(F.sigmoid(z_grid), origin="lower", extent=(-LIMIT, LIMIT, -LIMIT, LIMIT),
                        cmap="RdBu_r", vmin=0, vmax=1, alpha=0.55)
    _boundary(ax, z_grid, g1, g2)
    _scatter_classes(ax, X, y, wrong)
    fig.colorbar(surface, ax=ax, shrink=0.8, label="a")
    ax.set_title(f"{int(wrong.sum())} of {len(y)} misclassified", fontsize=10)

    z = X @ w + b
    zs = np.linspace(min(-6.0, z.min()), max(6.0, z.max()), 301)
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.plot(zs, F.sigmoid(zs), color="0.4", lw=1.5)
    ax2.axvline(0, color="black", lw=1, ls="--")
    for label in (0, 1):
        mine = y == label
        ax2.scatter(z[mine], F.sigmoid(z[mine]), s=22, color=CLASS_COLORS[label], zorder=3,
                    label=f"class {label}")
    ax2.scatter(z[wrong], F.sigmoid(z[wrong]), s=90, facecolor="none", edgecolor="black", zorder=4)
    ax2.set_xlabel(r"$z = w_1 x_1 + w_2 x_2 + b$")
    ax2.set_ylabel(r"$a = \sigma(z)$")
    ax2.set_title("each point: affine map, then activation", fontsize=10)
    ax2.legend(loc="upper left", fontsize=8)


def neuron_explorer(w1=1.0, w2=1.0, b=0.0, dataset="separable"):
    """Sliders for w1, w2, b and a data menu; shows the neuron's output surface, boundary and mistakes."""
    return Explorer(
        draw_neuron, figsize=(9.0, 3.8),
        w1=slider("w1", -4, 4, w1),
        w2=slider("w2", -4, 4, w2),
        b=slider("b", -3, 3, b),
        dataset=dropdown("data", ["separable", "XOR"], dataset),
    )


# -- 2. the perceptron stepper ---------------------------------------------------------------------
@functools.cache
def perceptron_run(dataset):
    """The first MAX_UPDATES perceptron updates on a chapter set.

    Returns (samples, weights, biases, mistakes): samples (K,) the index
    that caused update k = 1..K; weights (K+1, 2) and biases (K+1,) after
    k = 0..K updates (row 0 is the start, w = 0, b = 0); mistakes (K+1,)
    the number of misclassified points of the whole set after each.
    """
    X, y = two_d_set(dataset)
    run = list(itertools.islice(P.perceptron_updates(X, y, max_epochs=1000), MAX_UPDATES))
    samples = np.array([i for i, _, _ in run], dtype=np.int64)
    weights = np.array([np.zeros(2)] + [w for _, w, _ in run])
    biases = np.array([0.0] + [b for _, _, b in run])
    mistakes = np.array([(P.perceptron_predict(X, w, b) != y).sum()
                         for w, b in zip(weights, biases, strict=True)])
    return samples, weights, biases, mistakes


def draw_perceptron_step(fig, dataset, update):
    """Left: the boundary after ``update`` updates and the point that caused it.
    Right: the number of misclassified points after each update."""
    X, y = two_d_set(dataset)
    samples, weights, biases, mistakes = perceptron_run(dataset)
    K = len(samples)
    k = min(update, K)
    w, b = weights[k], biases[k]
    points, g1, g2 = _grid()
    z_grid = (points @ w + b).reshape(g1.shape)
    ax = fig.add_subplot(1, 2, 1)
    ax.imshow(P.step(z_grid), origin="lower", extent=(-LIMIT, LIMIT, -LIMIT, LIMIT), cmap="RdBu_r",
              vmin=-0.5, vmax=1.5, alpha=0.35)
    _boundary(ax, z_grid, g1, g2)
    _scatter_classes(ax, X, y, P.perceptron_predict(X, w, b) != y)
    if k > 0:
        i = samples[k - 1]
        ax.scatter(*X[i], marker="*", s=260, color="gold", edgecolor="black", zorder=5,
                   label=f"update {k} used this point")
    ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
    converged = mistakes[-1] == 0
    status = f"converged after {K} updates" if converged and update >= K else f"update {k}"
    ax.set_title(f"{dataset}: {status}, {mistakes[k]} misclassified\n"
                 f"w = ({w[0]:.2f}, {w[1]:.2f}), b = {b:.0f}", fontsize=9)

    ax2 = fig.add_subplot(1, 2, 2)
    ax2.plot(np.arange(K + 1), mistakes, color="0.3", marker=".", lw=1)
    ax2.axvline(k, color="gold", lw=2)
    ax2.set_xlim(0, MAX_UPDATES)
    ax2.set_ylim(0, len(y) + 1)
    ax2.set_xlabel("number of updates")
    ax2.set_ylabel("misclassified points")
    if converged:
        bound = P.novikoff_bound(X, y, *P.SEPARABLE_LINE) if dataset == "separable" else np.inf
        ax2.set_title(f"0 mistakes after {K} updates (Novikoff bound {bound:.0f})", fontsize=9)
    else:
        ax2.set_title(f"still {mistakes[-1]} mistakes after {K} updates: it never settles", fontsize=9)


def perceptron_stepper(dataset="separable", update=MAX_UPDATES):
    """A data menu and an update-number slider: the perceptron's boundary after each update."""
    update_slider = widgets.IntSlider(value=update, min=0, max=MAX_UPDATES, step=1, description="update",
                                      continuous_update=False, style={"description_width": "initial"})
    return Explorer(draw_perceptron_step, figsize=(9.0, 4.0),
                    dataset=dropdown("data", ["separable", "XOR"], dataset), update=update_slider)


# -- 3. the feature-map view -----------------------------------------------------------------------
@functools.cache
def circle_set(noise):
    """make_circles(200, noise, factor=0.5, seed=0): outer ring class 0, inner disc class 1."""
    return data.make_circles(200, noise=noise, factor=0.5, seed=0)


def draw_feature_map(fig, threshold, noise):
    """Left: the circle data in input space with the circle ||x||^2 = threshold.
    Right: the same points in phi-space, phi = ||x||^2, where that circle is the point phi = threshold."""
    X, y = circle_set(round(noise, 3))
    phi = P.norm_squared_features(X)[:, 0]
    predicted = (phi <= threshold).astype(np.int64)       # neuron on phi: w = -1, b = threshold
    wrong = predicted != y
    ax = fig.add_subplot(1, 2, 1)
    _scatter_classes(ax, X, y, wrong)
    angle = np.linspace(0, 2 * np.pi, 200)
    radius = np.sqrt(threshold)
    ax.plot(radius * np.cos(angle), radius * np.sin(angle), color="black", lw=2, label="boundary")
    ax.set_title(rf"input space: the circle $\|x\|^2 = {threshold:.2f}$", fontsize=10)

    ax2 = fig.add_subplot(1, 2, 2)
    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, size=len(y))
    for label in (0, 1):
        mine = y == label
        ax2.scatter(phi[mine], label + jitter[mine], s=18, color=CLASS_COLORS[label], label=f"class {label}")
    ax2.scatter(phi[wrong], y[wrong] + jitter[wrong], s=80, facecolor="none", edgecolor="black")
    ax2.axvline(threshold, color="black", lw=2)
    ax2.set_yticks([0, 1], ["class 0", "class 1"])
    ax2.set_xlabel(r"$\phi(x) = x_1^2 + x_2^2$")
    ax2.set_xlim(0, max(2.0, phi.max() * 1.05))
    ax2.set_title(rf"$\phi$-space: a threshold; {int(wrong.sum())} of {len(y)} misclassified", fontsize=10)


def feature_map_explorer(threshold=0.6, noise=0.05):
    """Sliders for the threshold on phi = ||x||^2 and the data's noise; input space next to phi-space."""
    return Explorer(draw_feature_map, figsize=(9.0, 3.8),
                    threshold=slider("threshold on ||x||²", 0.05, 1.5, threshold, step=0.05),
                    noise=slider("noise", 0.0, 0.2, noise, step=0.02))
