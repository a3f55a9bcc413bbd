"""Chapter 03: the computational-graph stepper, the initialisation explorer, the learning-rate explorer.

The numbers they show come from ``dlcourse.backpropagation``; this module only draws.
"""
import ipywidgets as widgets
import numpy as np

from ..backpropagation import INIT_SCHEMES, INIT_WIDTH, LR_RATES, graph_steps, layer_statistics, loss_curve
from .explorer import Explorer, dropdown

# -- 1. a 2-2-1 network, one node at a time (the network: see dlcourse.backpropagation) ---------
# Where each node sits in the picture (x, y).
NODE_POSITIONS = {
    "x1": (0.0, 1.0), "x2": (0.0, 0.0),
    "z1": (1.5, 1.0), "z2": (1.5, 0.0),
    "h1": (2.7, 1.0), "h2": (2.7, 0.0),
    "z3": (4.2, 0.5), "p": (5.4, 0.5), "L": (6.6, 0.5),
}
EDGES = [("x1", "z1"), ("x2", "z1"), ("x1", "z2"), ("x2", "z2"), ("z1", "h1"), ("z2", "h2"),
         ("h1", "z3"), ("h2", "z3"), ("z3", "p"), ("p", "L")]


def draw_graph(fig, step):
    """The graph with every value known after ``step`` steps; the current node highlighted."""
    steps = graph_steps()
    step = int(np.clip(step, 0, len(steps) - 1))
    done = steps[: step + 1]
    values = {s["node"]: s["value"] for s in done if s["phase"] == "forward"}
    grads = {s["node"]: s["value"] for s in done if s["phase"] == "backward"}
    current = steps[step]
    fig.set_layout_engine("none")        # the text lines below the graph are placed by hand
    ax = fig.add_axes([0.0, 0.22, 1.0, 0.78])
    ax.set_axis_off()
    ax.set_xlim(-0.6, 7.2)
    ax.set_ylim(-0.55, 1.55)
    for start, end in EDGES:
        (x0, y0), (x1, y1) = NODE_POSITIONS[start], NODE_POSITIONS[end]
        ax.annotate("", xy=(x1 - 0.28 * np.sign(x1 - x0), y1 + (y0 - y1) * 0.28 / max(abs(x1 - x0), 1e-9)),
                    xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color="0.6", lw=1.2))
    for name, (px, py) in NODE_POSITIONS.items():
        is_current = name == current["node"]
        color = ("#ffd27f" if current["phase"] == "forward" else "#9fd4ff") if is_current else "white"
        ax.add_patch(_circle(px, py, color, is_current))
        ax.text(px, py, name, ha="center", va="center", fontsize=11, fontweight="bold")
        if name in values:
            ax.text(px, py + 0.32, f"{values[name]:.3f}", ha="center", va="bottom", fontsize=9, color="C0")
        if name in grads:
            ax.text(px, py - 0.32, f"\u2202L = {grads[name]:.3f}", ha="center", va="top", fontsize=9,
                    color="C3")
    phase = "FORWARD (values, blue, above)" if current["phase"] == "forward" else \
        "BACKWARD (gradients dL/d node, red, below)"
    ax.set_title(f"step {step + 1}/{len(steps)}: {phase}", fontsize=10)
    fig.text(0.02, 0.14, current["rule"], fontsize=11)
    fig.text(0.02, 0.07, current["numbers"], fontsize=9, family="monospace")
    if current["params"]:
        fig.text(0.02, 0.01, current["params"], fontsize=8, family="monospace", color="C3")


def _circle(x, y, color, bold):
    from matplotlib.patches import Circle
    return Circle((x, y), 0.27, facecolor=color, edgecolor="black", lw=2.0 if bold else 1.0, zorder=3)


def graph_stepper(step=None):
    """A slider that walks through the forward then the backward pass of the 2-2-1 network.

    Default: the step where dL/dz1 is computed, so that the picture shows all
    forward values and the first half of the backward pass.
    """
    steps = graph_steps()
    if step is None:
        step = next(i for i, s in enumerate(steps) if s["phase"] == "backward" and s["node"] == "z1")
    return Explorer(
        draw_graph,
        figsize=(8.0, 4.0),
        step=widgets.IntSlider(value=step, min=0, max=len(steps) - 1, description="step",
                               continuous_update=True),
    )


# -- 2. initialisation: activations and gradients layer by layer ------------------------------
def draw_init(fig, scheme, activation):
    """Top row: histogram of A^[l] per layer; bottom row: of dL/dA^[l-1]; with their standard deviations."""
    activations, gradients = layer_statistics(scheme, activation)
    depth = len(activations)
    fig.set_layout_engine("none")       # 12 small axes: a fixed layout draws several times faster
    axes = fig.subplots(2, depth, sharey="row", gridspec_kw=dict(left=0.05, right=0.99, top=0.8, bottom=0.07,
                                                                  wspace=0.12, hspace=0.65))
    for l in range(depth):
        for row, (arrays, color) in enumerate([(activations, "C0"), (gradients, "C3")]):
            ax = axes[row, l]
            values = arrays[l].ravel()
            std = float(values.std())
            limit = max(3 * std, 1e-12)
            counts, edges = np.histogram(np.clip(values, -limit, limit), bins=40, range=(-limit, limit))
            ax.stairs(counts, edges, fill=True, color=color)
            ax.set_yticks([])
            ax.tick_params(labelsize=6)
            ax.set_title(f"{'layer' if row == 0 else 'into layer'} {l + 1}\nstd {std:.2g}", fontsize=7)
        axes[0, 0].set_ylabel("activations", fontsize=8)
        axes[1, 0].set_ylabel("gradients", fontsize=8)
    fig.suptitle(f"{scheme} init, {activation}: {depth} layers of width {INIT_WIDTH} "
                 "(each histogram spans \u00b13 std of its layer: read the std)", fontsize=9)


def init_explorer(scheme="xavier", activation="tanh"):
    """Menus for the initialisation scheme and the activation; histograms per layer."""
    return Explorer(
        draw_init,
        figsize=(8.0, 3.8),
        scheme=dropdown("initialisation", list(INIT_SCHEMES), scheme),
        activation=dropdown("activation", ["tanh", "relu"], activation),
    )


# -- 3. the learning rate ---------------------------------------------------------------------
def draw_learning_rates(fig, lr):
    """Loss against step for the fixed rates (grey) and the chosen one (red); the 3x-initial-loss line."""
    ax = fig.add_subplot()
    initial = loss_curve(LR_RATES[0])[0]
    for rate in LR_RATES:
        ax.plot(loss_curve(rate), color="0.7", lw=1)
        finite = loss_curve(rate)[np.isfinite(loss_curve(rate))]
        ax.text(len(finite) - 1, min(finite[-1], 3.5 * initial), f" {rate:g}", color="0.45", fontsize=7,
                va="center")
    curve = loss_curve(float(lr))
    ax.plot(curve, color="C3", lw=2.2, label=f"lr = {lr:.3g}")
    ax.axhline(3 * initial, color="k", ls="--", lw=1, label="3 \u00d7 initial loss: stop, it exploded")
    ax.axhline(np.log(10), color="C0", ls=":", lw=1, label="ln 10: a uniform guess over 10 classes")
    finite = curve[np.isfinite(curve)]
    exploded = (not np.all(np.isfinite(curve))) or np.max(finite) > 3 * initial
    verdict = "diverged" if exploded else f"final loss {finite[-1]:.3f}"
    ax.set_ylim(0, 4 * initial)
    ax.set_xlabel("gradient step (full batch)")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(f"digits, 64-32-10 ReLU network, lr = {lr:.3g}: {verdict}", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")


def learning_rate_explorer(lr=0.5):
    """A log slider for the learning rate; grey curves for 0.01, 0.1, 0.5, 2 and 8."""
    return Explorer(
        draw_learning_rates,
        figsize=(7.0, 3.6),
        lr=widgets.FloatLogSlider(value=lr, base=10, min=-2.5, max=1.2, step=0.1, description="learning rate",
                                  continuous_update=False, style={"description_width": "initial"}),
    )


__all__ = ["graph_stepper", "draw_graph", "init_explorer", "draw_init", "learning_rate_explorer",
           "draw_learning_rates", "NODE_POSITIONS", "EDGES"]
