"""Chapter 03: backpropagation. The numbers behind the chapter's explorers; the checks its test cells call.

    graph_steps()                  every forward and backward step through a 2-2-1 network, with numbers
    init_std, layer_statistics     activations and gradients layer by layer, for each initialisation
    loss_curve(lr)                 full-batch gradient descent on the digits with one learning rate

The checks of the graded test cells (each runs the student's function under
the honesty guard, see ``dlcourse.checks.run_student``, and raises
``CheckFailed`` with a sentence saying what is wrong):

    loss_backward(loss_class)                  a loss's gradient as a function (pred, target) -> dL/dpred
    check_two_layer_backward(fn, X, y, ...)    four gradients against backpropagation through nn's layers
    check_numerical_gradient(fn, cases)        central differences, and x restored exactly
    check_minibatches(fn, N, batch_size)       sizes, coverage, pairing and shuffling of the batches
    check_sgd_step(fn, shapes, lr)             one in-place step against optim.SGD
    check_init(fn, reference, ...)             shape, dtype, the generator used, the distribution of a draw
    check_training(fn, X_train, ...)           a falling loss and 95% test accuracy on the digits

Their drawing lives in ``dlcourse.widgets.backpropagation``.
"""
import functools
import math

import numpy as np
from threadpoolctl import threadpool_limits

from . import checks, data, gradcheck, losses, nn, optim, train
from . import functional as F
from .honesty import forbid

__all__ = [
    "GRAPH_X", "GRAPH_Y", "GRAPH_W", "GRAPH_B", "GRAPH_V", "GRAPH_C", "NODES", "graph_steps",
    "INIT_SCHEMES", "init_std", "layer_statistics", "LR_RATES", "LR_STEPS", "loss_curve",
    "loss_backward", "two_layer_gradients", "check_two_layer_backward", "check_numerical_gradient",
    "check_minibatches",
    "check_sgd_step", "check_init", "ks_distance", "ks_allowed", "check_training",
]

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
NODES = ("x1", "x2", "z1", "z2", "h1", "h2", "z3", "p", "L")


def graph_steps(x=GRAPH_X, y=GRAPH_Y, W=GRAPH_W, b=GRAPH_B, V=GRAPH_V, c=GRAPH_C):
    """Every step of one forward and one backward pass through the 2-2-1 network.

    Returns:
        a list of dicts, forward steps first, each with
        ``node`` (the node it computes, one of NODES),
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
        raise ValueError(f"init_std expects a scheme among {list(stds)}, got {scheme!r}")
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


# -- 3. the learning rate ---------------------------------------------------------------------
LR_RATES = (0.01, 0.1, 0.5, 2.0, 8.0)
LR_STEPS = 60


def _standardized_digits():
    """The digits training set with each pixel standardised, float64."""
    split = data.load_digits()
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
    X, y = _standardized_digits()
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10)).to(np.float64)
    for layer, std in [(model[0], np.sqrt(2.0 / 64)), (model[2], 0.01)]:
        layer.weight.data = rng.normal(0.0, std, layer.weight.shape)
        layer.bias.data[...] = 0.0
    loss_fn, optimizer = losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr)
    curve = np.full(steps + 1, np.nan)
    with threadpool_limits(1), np.errstate(all="ignore"):
        for t in range(steps):
            curve[t], _ = train.train_step(model, loss_fn, optimizer, X, y)   # the loss before step t
            if not np.isfinite(curve[t]):
                return curve
        curve[steps] = loss_fn(model(X), y)                                    # after the last step
    return curve


# -- the checks of the graded test cells -------------------------------------------------------
def loss_backward(loss_class):
    """dlcourse's gradient of ``loss_class`` as a function ``(pred, target) -> dL/dpred``.

    It carries the name of ``loss_class.backward`` for the honesty guard, so a
    check that compares a student's gradient with it forbids that backward.
    """
    def gradient(pred, target):
        loss = loss_class()
        loss(pred, target)
        return loss.backward()
    gradient.reference_name = loss_class.backward.reference_name   # the honesty guard forbids this name
    return gradient


def two_layer_gradients(X, y, W1, b1, W2, b2):
    """dL/dW1, dL/db1, dL/dW2, dL/db2 of the cross-entropy of Linear -> ReLU -> Linear, by dlcourse's layers.

    Shapes: X (N, D), y (N,) ints, W1 (H, D), b1 (H,), W2 (C, H), b2 (C,).
    Returns {"W1": (H, D), "b1": (H,), "W2": (C, H), "b2": (C,)}, in the dtype of X.
    """
    model = nn.Sequential(nn.Linear(W1.shape[1], W1.shape[0]), nn.ReLU(), nn.Linear(W2.shape[1], W2.shape[0]))
    model.to(X.dtype).load_state_dict({"0.weight": W1, "0.bias": b1, "2.weight": W2, "2.bias": b2})
    loss = losses.CrossEntropyLoss()
    loss(model(X), y)
    model.backward(loss.backward())
    names = {"0.weight": "W1", "0.bias": "b1", "2.weight": "W2", "2.bias": "b2"}
    return {names[name]: p.grad for name, p in model.named_parameters()}


def check_two_layer_backward(two_layer_backward, X, y, W1, b1, W2, b2, quiet=False):
    """The student's ``two_layer_backward(X, y, W1, b1, W2, b2)`` against :func:`two_layer_gradients`.

    While it runs, nn.Linear and CrossEntropyLoss are forbidden. The four
    gradients are compared in the order backpropagation computes them, at the
    tolerance of the inputs' dtype. A float64 gradient for float32 inputs is
    accepted (a float64 one-hot such as ``np.eye(C)[y]`` gives one); any other
    dtype is not.
    """
    __tracebackhide__ = True
    expected = two_layer_gradients(X, y, W1, b1, W2, b2)
    call = f"`two_layer_backward` for X of shape {X.shape}"
    with forbid(nn.Linear, losses.CrossEntropyLoss):
        got, _ = checks.run_student(two_layer_backward, (X, y, W1, b1, W2, b2), "two_layer_backward", call)
    if not isinstance(got, dict) or set(got) != set(expected):
        raise checks.CheckFailed(
            f"{call} returned {checks._abridge(got)}; expected a dict with keys W1, b1, W2, b2.")
    for name in ("W2", "b2", "W1", "b1"):   # in the order backpropagation computes them
        checks.assert_close(got[name], expected[name], call=f"{call}: the gradient of {name}",
                            check_dtype=not _upcast(got[name], expected[name]))
    if not quiet:
        print("\u2714 two_layer_backward: all four gradients agree with backpropagation "
              "through dlcourse's layers.")


def _upcast(got, expected):
    """True if ``got`` is a float64 array where a float32 one is expected (no precision lost)."""
    return getattr(got, "dtype", None) == np.float64 and expected.dtype == np.float32


def check_numerical_gradient(numerical_gradient, cases, quiet=False):
    """The student's ``numerical_gradient(f, x)`` against ``gradcheck.numerical_gradient`` (forbidden).

    ``cases`` is a list of (f, x). The result must be float64 of x's shape
    and agree at float64 tolerance; afterwards x must hold exactly the values
    it had: the exercise perturbs x in place, so a restore that rounds
    (``x[i] -= eps`` after ``x[i] += eps``) is reported as such.
    """
    __tracebackhide__ = True
    for f, x in cases:
        expected = gradcheck.numerical_gradient(f, x.copy())
        mine = x.copy()
        call = f"`numerical_gradient` for x = {checks._abridge(x)}"
        got, _ = checks.run_student(numerical_gradient, (f, mine), "numerical_gradient", call,
                                    forbidden=[gradcheck.numerical_gradient])
        checks.assert_close(got, expected, call=call)
        if not np.array_equal(mine, x):
            index = tuple(int(i) for i in np.argwhere(mine != x)[0])
            raise checks.CheckFailed(
                f"{call} returned the right gradient, but x{list(index)} was {x[index]!r} before the call "
                f"and is {mine[index]!r} after it. Perturbing x in place is what the exercise asks; restore "
                "each entry with the value saved before (old = x[i] ... x[i] = old): adding and "
                "subtracting eps rounds and does not give the old value back.")
    if not quiet:
        print(f"\u2714 numerical_gradient: correct on {len(cases)} input(s), x restored exactly.")


def check_minibatches(minibatches, N, batch_size, seed=0, quiet=False):
    """The student's ``minibatches(X, y, batch_size, rng)`` on N numbered rows; returns the labels in order.

    Row n of X is (n, -n) and its label is n, so the check sees the batch
    sizes, that every row comes exactly once, that rows keep their labels,
    that the order is shuffled, and that the generator passed in decides it
    (two generators with the same seed give the same order). data.minibatches
    is forbidden meanwhile.
    """
    __tracebackhide__ = True
    X = np.stack([np.arange(N), -np.arange(N)], axis=1).astype(float)    # row n is (n, -n); its label is n
    y = np.arange(N)
    call = f"`minibatches` with N = {N}, batch_size = {batch_size}"
    def every_batch():
        return list(minibatches(X, y, batch_size, np.random.default_rng(seed)))

    batches, _ = checks.run_student(every_batch, (), "minibatches", call, forbidden=[data.minibatches],
                                    student=minibatches)
    sizes = [len(xb) for xb, _ in batches]
    expected = [batch_size] * (N // batch_size) + ([N % batch_size] if N % batch_size else [])
    if sizes != expected:
        raise checks.CheckFailed(f"{call} gave batches of sizes {sizes}; expected {expected}.")
    labels = np.concatenate([yb for _, yb in batches])
    if sorted(labels.tolist()) != list(range(N)):
        raise checks.CheckFailed(
            f"{call} did not give every example exactly once (labels seen: {labels.tolist()}).")
    for xb, yb in batches:
        if not np.array_equal(xb[:, 0], yb):
            raise checks.CheckFailed(f"{call}: a batch paired rows {xb[:, 0].tolist()} with labels "
                                     f"{yb.tolist()}; index X and y with the same indices.")
    if N > 3 and np.array_equal(labels, np.arange(N)):
        raise checks.CheckFailed(f"{call} kept the original order; shuffle with rng.permutation(N).")
    again, _ = checks.run_student(every_batch, (), "minibatches", call, forbidden=[data.minibatches],
                                  student=minibatches)
    if not np.array_equal(np.concatenate([yb for _, yb in again]), labels):
        raise checks.CheckFailed(f"{call} gave two different orders for two generators with the same seed: "
                                 "shuffle with the rng you get (rng.permutation(N)), not with np.random.")
    if not quiet:
        print(f"\u2714 minibatches: {call[14:]}: sizes {sizes}, every example once, "
              "rows and labels together, shuffled.")
    return labels


def check_sgd_step(sgd_step, shapes, lr, dtype=np.float64, quiet=False):
    """The student's ``sgd_step(params, lr)`` against ``optim.SGD(params, lr).step()`` (forbidden meanwhile).

    ``shapes`` are the shapes of the parameters (random values and
    gradients); each must be updated in place, in its own dtype.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(len(shapes))
    ours, theirs = [], []
    for shape in shapes:
        for group in (ours, theirs):
            group.append(nn.Parameter(np.zeros(shape), dtype=dtype))
        ours[-1].data[...] = theirs[-1].data[...] = rng.normal(size=shape)
        ours[-1].grad[...] = theirs[-1].grad[...] = rng.normal(size=shape)
    optim.SGD(theirs, lr=lr).step()
    arrays = [p.data for p in ours]
    call = f"`sgd_step` with lr = {lr} on parameters of shapes {shapes}"
    checks.run_student(sgd_step, (ours, lr), "sgd_step", call, forbidden=[optim.SGD])
    for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
        if p.data is not arrays[i]:
            raise checks.CheckFailed(f"{call} replaced parameter {i}'s array instead of updating it "
                                     "in place: write p.data -= lr * p.grad.")
        checks.assert_close(p.data, q.data, call=f"{call}: parameter {i} after the step")
    if not quiet:
        print(f"\u2714 sgd_step: agrees with optim.SGD in place ({call[11:]}).")


def check_init(init_fn, reference, fan_in, fan_out, variance, bound=None, quiet=False):
    """The student's ``init_fn(fan_in, fan_out, rng)``: a float32 (fan_out, fan_in) draw from ``rng``.

    Checked, in order: shape and dtype; that the generator passed in decides
    the draw (the same seed twice gives the same weights, two seeds give two
    draws); mean 0 and variance ``variance`` (each within 5 standard
    errors); with ``bound``, entries that fill U(-bound, bound); and the
    distribution itself, by the Kolmogorov-Smirnov distance between the
    entries and N(0, variance) (or U(-bound, bound) with ``bound``), so that
    a uniform draw with He's variance is no He draw. ``reference`` (the
    dlcourse initialiser it re-implements) is forbidden meanwhile.
    """
    __tracebackhide__ = True
    call = f"`{init_fn.__name__}` with fan_in = {fan_in}, fan_out = {fan_out}"

    def draw(seed):
        W, _ = checks.run_student(init_fn, (fan_in, fan_out, np.random.default_rng(seed)), init_fn.__name__,
                                  call, forbidden=[reference])
        return W

    W = draw(0)
    if not isinstance(W, np.ndarray) or W.shape != (fan_out, fan_in):
        raise checks.CheckFailed(f"{call} returned {checks._abridge(W)}; expected an array of shape "
                                 f"(fan_out, fan_in) = ({fan_out}, {fan_in}).")
    if W.dtype != np.float32:
        raise checks.CheckFailed(
            f"{call} returned dtype {W.dtype}; expected float32 (use .astype(np.float32)).")
    if not np.array_equal(W, draw(0)):
        raise checks.CheckFailed(f"{call} gave two different draws for two generators with the same seed: "
                                 "draw from the rng you get, not from np.random or a new generator.")
    if np.array_equal(W, draw(1)):
        raise checks.CheckFailed(
            f"{call} gave the same weights for two generators: draw from the rng you get.")
    sem = np.sqrt(2.0 / W.size) * variance          # standard error of the sample variance (about)
    if abs(W.var() - variance) > 5 * sem + 1e-12 or abs(W.mean()) > 5 * np.sqrt(variance / W.size):
        raise checks.CheckFailed(f"{call}: entries have mean {W.mean():.3g} and variance {W.var():.4g}; "
                                 f"expected mean 0 and variance {variance:.4g}.")
    if bound is not None and (np.abs(W).max() > bound * (1 + 1e-6) or np.abs(W).max() < 0.95 * bound):
        raise checks.CheckFailed(
            f"{call}: entries reach {np.abs(W).max():.4g}; expected U(-r, r) with r = {bound:.4g}.")
    distance, allowed = ks_distance(W, variance, bound), ks_allowed(W.size)
    if distance > allowed:
        expected = "N(0, std^2)" if bound is None else "U(-r, r)"
        raise checks.CheckFailed(
            f"{call}: the mean and variance are right, but the entries are not distributed as {expected}: "
            f"their distribution function is up to {distance:.3f} away from it (a right draw of "
            f"{W.size} entries stays within {allowed:.3f}). Use rng.normal for He, rng.uniform for Xavier.")
    if not quiet:
        print(f"\u2714 {init_fn.__name__}: shape ({fan_out}, {fan_in}), float32, variance {W.var():.4g} "
              f"(expected {variance:.4g}), drawn from the rng passed in, distributed as expected.")


def ks_distance(W, variance, bound=None):
    """The Kolmogorov-Smirnov distance between the entries of W and N(0, variance), or U(-bound, bound)."""
    w = np.sort(np.asarray(W, dtype=np.float64).ravel())
    if bound is None:
        cdf = 0.5 * (1.0 + np.frompyfunc(math.erf, 1, 1)(w / np.sqrt(2.0 * variance)).astype(np.float64))
    else:
        cdf = np.clip((w + bound) / (2.0 * bound), 0.0, 1.0)
    n = len(w)
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


def ks_allowed(n, alpha=1e-6):
    """The distance a right draw of n entries exceeds with probability about alpha (Kolmogorov's bound)."""
    return float(np.sqrt(np.log(2.0 / alpha) / (2.0 * n)))


def check_training(train_model, X_train, y_train, X_test, y_test, epochs=15, required=0.95, quiet=False):
    """The student's ``train_model(model, loss_fn, optimizer, X, y, epochs, batch_size)`` on the digits.

    It trains a 64-64-10 ReLU network (seed 0, SGD lr 0.1, momentum 0.9,
    batches of 32) with train.fit and train.train_step forbidden; the mean
    loss per epoch must at least halve and the test accuracy reach
    ``required``. Returns the student's list of epoch losses.
    """
    __tracebackhide__ = True
    from . import manual_seed

    manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    call = f"`train_model` for {epochs} epochs on the digits"
    epoch_losses, _ = checks.run_student(
        train_model, (model, losses.CrossEntropyLoss(), optimizer, X_train, y_train, epochs, 32),
        "train_model", call, forbidden=[train.fit, train.train_step])
    if not hasattr(epoch_losses, "__len__") or len(epoch_losses) != epochs:
        raise checks.CheckFailed(
            f"{call} returned {checks._abridge(epoch_losses)}; expected a list of {epochs} losses.")
    if not epoch_losses[-1] < 0.5 * epoch_losses[0]:
        raise checks.CheckFailed(f"{call}: the mean loss went from {epoch_losses[0]:.4f} to "
                                 f"{epoch_losses[-1]:.4f}; it should at least halve. "
                                 "Is optimizer.step() called after model.backward?")
    accuracy = train.accuracy(model(X_test), y_test)
    if accuracy < required:
        raise checks.CheckFailed(
            f"{call} reached {accuracy:.1%} test accuracy; at least {required:.0%} is required.")
    if not quiet:
        print(f"\u2714 train_model: loss {epoch_losses[0]:.3f} -> {epoch_losses[-1]:.3f}, "
              f"test accuracy {accuracy:.1%}.")
    return epoch_losses
