"""Chapter 03: the computational-graph stepper, the initialisation explorer, the learning-rate explorer."""
import functools

import ipywidgets as widgets
import numpy as np
from threadpoolctl import threadpool_limits

from .. import functional as F
from .explorer import Explorer, dropdown

# -- 1. a 2-2-1 network, one node at a time ----------------------------------------------------
#
#   x1, x2  ->  z1 = w11 x1 + w12 x2 + b1,  h1 = tanh(z1)
#               z2 = w21 x1 + w22 x2 + b2,  h2 = tanh(z2)
#           ->  z3 = v1 h1 + v2 h2 + c,     p = sigmoid(z3)   ->   L = -(y log p + (1 - y) log(1 - p))
#
# The same network as Linear(2, 2) -> Tanh -> Linear(2, 1) -> BCEWithLogitsLoss on one example:
# W = [[w11, w12], [w21, w22]], b = [b1, b2], V = [[v1, v2]], c.
GRAPH_X = np.array([1.0, -2.0])
GRAPH_Y = 1.0
GRAPH_W = np.array([[0.5, -0.3], [0.8, 0.2]])
GRAPH_B = np.array([0.1, -0.1])
GRAPH_V = np.array([1.2, -0.7])
GRAPH_C = 0.05

# Where each node sits in the picture (x, y).
NODE_POSITIONS = {
    "x1": (0.0, 1.0), "x2": (0.0, 0.0),
    "z1": (1.5, 1.0), "z2": (1.5, 0.0),
    "h1": (2.7, 1.0), "h2": (2.7, 0.0),
    "z3": (4.2, 0.5), "p": (5.4, 0.5), "L": (6.6, 0.5),
}
EDGES = [("x1", "z1"), ("x2", "z1"), ("x1", "z2"), ("x2", "z2"), ("z1", "h1"), ("z2", "h2"),
         ("h1", "z3"), ("h2", "z3"), ("z3", "p"), ("p", "L")]


def graph_steps(x=GRAPH_X, y=GRAPH_Y, W=GRAPH_W, b=GRAPH_B, V=GRAPH_V, c=GRAPH_C):
    """Every step of one forward and one backward pass through the 2-2-1 network.

    Returns:
        a list of dicts, forward steps first, each with
        ``node`` (the node it computes, a key of NODE_POSITIONS),
        ``phase`` ("forward" or "backward"), ``value`` (a float: the node's
        value forward, dL/d(node) backward), ``rule`` (the formula, LaTeX) and
        ``numbers`` (the formula with the numbers put in), and for the
        backward steps that also give weight gradients ``params`` (text).
    """
    z = W @ x + b                       # (2,) pre-activations z1, z2
    h = np.tanh(z)                      # (2,)
    z3 = float(V @ h + c)
    p = float(F.sigmoid(np.array(z3)))
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    steps = []

    def add(node, phase, value, rule, numbers, params=""):
        steps.append({"node": node, "phase": phase, "value": float(value), "rule": rule,
                      "numbers": numbers, "params": params})

    add("x1", "forward", x[0], r"$x_1$ is an input", f"x1 = {x[0]:g}")
    add("x2", "forward", x[1], r"$x_2$ is an input", f"x2 = {x[1]:g}")
    for i in range(2):
        add(f"z{i + 1}", "forward", z[i],
            rf"$z_{i + 1} = w_{{{i + 1}1}} x_1 + w_{{{i + 1}2}} x_2 + b_{i + 1}$",
            f"z{i + 1} = {W[i, 0]:g}*{x[0]:g} + {W[i, 1]:g}*{x[1]:g} + {b[i]:g} = {z[i]:.4f}")
    for i in range(2):
        add(f"h{i + 1}", "forward", h[i], rf"$h_{i + 1} = \tanh(z_{i + 1})$",
            f"h{i + 1} = tanh({z[i]:.4f}) = {h[i]:.4f}")
    add("z3", "forward", z3, r"$z_3 = v_1 h_1 + v_2 h_2 + c$",
        f"z3 = {V[0]:g}*{h[0]:.4f} + {V[1]:g}*{h[1]:.4f} + {c:g} = {z3:.4f}")
    add("p", "forward", p, r"$p = \sigma(z_3)$", f"p = sigmoid({z3:.4f}) = {p:.4f}")
    add("L", "forward", loss, r"$L = -[y \log p + (1-y)\log(1-p)]$",
        f"L = -[{y:g} log {p:.4f} + {1 - y:g} log {1 - p:.4f}] = {loss:.4f}")

    # backward: each gradient is (gradient of the node above) x (local derivative)
    dL = 1.0
    add("L", "backward", dL, r"$\partial L/\partial L = 1$", "start: dL/dL = 1")
    dp = (p - y) / (p * (1 - p))
    add("p", "backward", dp, r"$\frac{\partial L}{\partial p} = \frac{p - y}{p(1-p)}$",
        f"dL/dp = ({p:.4f} - {y:g}) / ({p:.4f}*{1 - p:.4f}) = {dp:.4f}")
    dz3 = dp * p * (1 - p)
    add("z3", "backward", dz3,
        r"$\frac{\partial L}{\partial z_3} = \frac{\partial L}{\partial p}\,\sigma'(z_3)"
        r" = \frac{\partial L}{\partial p}\,p(1-p) = p - y$",
        f"dL/dz3 = {dp:.4f} * {p * (1 - p):.4f} = {dz3:.4f}  (= p - y)",
        f"dL/dv1 = dL/dz3 * h1 = {dz3 * h[0]:.4f},  dL/dv2 = dL/dz3 * h2 = {dz3 * h[1]:.4f},  "
        f"dL/dc = {dz3:.4f}")
    dh = dz3 * V
    for i in range(2):
        add(f"h{i + 1}", "backward", dh[i],
            rf"$\frac{{\partial L}}{{\partial h_{i + 1}}} = \frac{{\partial L}}{{\partial z_3}}\, v_{i + 1}$",
            f"dL/dh{i + 1} = {dz3:.4f} * {V[i]:g} = {dh[i]:.4f}")
    dz = dh * (1 - h ** 2)
    for i in range(2):
        add(f"z{i + 1}", "backward", dz[i],
            rf"$\frac{{\partial L}}{{\partial z_{i + 1}}} = \frac{{\partial L}}{{\partial h_{i + 1}}}"
            rf"\,(1 - h_{i + 1}^2)$",
            f"dL/dz{i + 1} = {dh[i]:.4f} * (1 - {h[i]:.4f}^2) = {dz[i]:.4f}",
            f"dL/dw{i + 1}1 = dL/dz{i + 1} * x1 = {dz[i] * x[0]:.4f},  "
            f"dL/dw{i + 1}2 = dL/dz{i + 1} * x2 = {dz[i] * x[1]:.4f},  dL/db{i + 1} = {dz[i]:.4f}")
    dx = dz @ W
    for j in range(2):
        add(f"x{j + 1}", "backward", dx[j],
            rf"$\frac{{\partial L}}{{\partial x_{j + 1}}} = "
            rf"\sum_i \frac{{\partial L}}{{\partial z_i}}\, w_{{i{j + 1}}}$"
            r"  (two paths add up)",
            f"dL/dx{j + 1} = {dz[0]:.4f}*{W[0, j]:g} + {dz[1]:.4f}*{W[1, j]:g} = {dx[j]:.4f}")
    return steps


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
INIT_SCHEMES = ("zeros", "small", "large", "xavier", "he")
INIT_DEPTH, INIT_WIDTH, INIT_SAMPLES = 6, 256, 512


def init_std(scheme, fan_in, fan_out):
    """Standard deviation of the normal weights of each scheme (zeros: 0).

    small: 0.01; large: 1.0; xavier: sqrt(2 / (fan_in + fan_out)); he: sqrt(2 / fan_in).
    """
    stds = {"zeros": 0.0, "small": 0.01, "large": 1.0,
            "xavier": np.sqrt(2.0 / (fan_in + fan_out)), "he": np.sqrt(2.0 / fan_in)}
    if scheme not in stds:
        raise ValueError(f"expected a scheme among {list(stds)}, got {scheme!r}")
    return float(stds[scheme])


@functools.lru_cache(maxsize=16)
def layer_statistics(scheme, activation, depth=INIT_DEPTH, width=INIT_WIDTH, n_samples=INIT_SAMPLES, seed=0):
    """Activations A^[l] and gradients dL/dA^[l] of a deep tanh or ReLU stack at initialisation.

    The stack, for l = 1 .. depth, with W^[l]: (width, width) and zero biases:
        Z^[l] = A^[l-1] W^[l]T,   A^[l] = f(Z^[l])        A^[0] = X ~ N(0, 1), (n_samples, width)
    and the loss L = sum(A^[depth] * G) with G ~ N(0, 1), so dL/dA^[depth] = G. Backward:
        dL/dZ^[l] = dL/dA^[l] * f'(Z^[l]),   dL/dA^[l-1] = dL/dZ^[l] W^[l]

    Returns:
        (activations, gradients): two lists of ``depth`` float32 arrays of
        shape (n_samples, width): A^[l] and dL/dA^[l-1] (the gradient
        arriving at layer l's input), for l = 1 .. depth.
    """
    f, f_grad = {"tanh": (F.tanh, F.tanh_grad), "relu": (F.relu, F.relu_grad)}[activation]
    rng = np.random.default_rng(seed)
    std = init_std(scheme, width, width)
    weights = [rng.normal(0.0, 1.0, (width, width)) * std for _ in range(depth)]
    a = rng.standard_normal((n_samples, width))
    pre_activations, activations = [], []
    with threadpool_limits(1):
        for W in weights:
            z = a @ W.T
            a = f(z)
            pre_activations.append(z)
            activations.append(a.astype(np.float32))
        grad_a = rng.standard_normal(a.shape)
        gradients = [None] * depth
        for l in reversed(range(depth)):
            grad_a = (grad_a * f_grad(pre_activations[l])) @ weights[l]
            gradients[l] = grad_a.astype(np.float32)
    return activations, gradients


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
LR_RATES = (0.01, 0.1, 0.5, 2.0, 8.0)
LR_STEPS = 60


@functools.lru_cache(maxsize=1)
def _digits_standardized():
    """The digits training set with each pixel standardised (loaded once)."""
    from ..data import load_digits
    split = load_digits()
    X, y = split.X_train, split.y_train
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-3)
    return X.astype(np.float64), y


@functools.lru_cache(maxsize=64)
def loss_curve(lr, steps=LR_STEPS, hidden=32, seed=0):
    """Full-batch gradient descent on the digits with one learning rate; the loss before each step.

    The model: Linear(64, hidden) -> ReLU -> Linear(hidden, 10), He-initialised
    from ``seed``, cross-entropy loss, plain gradient descent W -= lr dW.
    The run stops early (the rest is nan) once the loss is not finite.

    Returns:
        (steps + 1,) float array: the loss at step 0 (the initial loss, about
        ln 10) .. after ``steps`` updates.
    """
    from .. import losses, nn, optim

    X, y = _digits_standardized()
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10)).to(np.float64)
    for layer, std in [(model[0], np.sqrt(2.0 / 64)), (model[2], 0.01)]:
        layer.weight.data = rng.normal(0.0, std, layer.weight.shape)
        layer.bias.data[...] = 0.0
    loss_fn, optimizer = losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr)
    curve = np.full(steps + 1, np.nan)
    with threadpool_limits(1), np.errstate(all="ignore"):
        for t in range(steps + 1):
            optimizer.zero_grad()
            loss = loss_fn(model(X), y)
            curve[t] = loss
            if not np.isfinite(loss) or t == steps:
                break
            model.backward(loss_fn.backward())
            optimizer.step()
    return curve


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


__all__ = ["graph_stepper", "graph_steps", "draw_graph", "init_explorer", "draw_init", "layer_statistics",
           "init_std", "learning_rate_explorer", "draw_learning_rates", "loss_curve"]
