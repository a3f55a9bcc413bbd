"""Chapter 01: one neuron, the perceptron, logistic regression, a fixed feature map, XOR.

Notation (batch-first, as everywhere in the course): a batch of N rows
with D features each.

    X: (N, D) inputs          w: (D,) weights         b: a number, the bias
    z = X w + b: (N,)         a = f(z): (N,)          y: (N,) labels 0 or 1

A single neuron is ``nn.Linear(D, 1)`` with ``weight = w[None, :]`` (shape
(1, D)) followed by an activation; here the weight is kept as a vector so
that the output is (N,) instead of (N, 1). The logistic neuron's loss
reuses ``losses.BCEWithLogitsLoss``.
"""
import numpy as np

from . import functional as F
from ._validate import as_real_array, check_ndim, check_size, describe
from .honesty import reference
from .losses import BCEWithLogitsLoss

__all__ = [
    "step", "neuron", "perceptron_predict", "perceptron_updates", "perceptron_train",
    "novikoff_bound", "norm_squared_features", "logistic_loss_and_grads", "train_logistic",
    "step_network", "xor_weights", "make_separable", "XOR_X", "XOR_Y",
]

#: The XOR truth table: four inputs (4, 2) and their labels (4,).
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def _inputs_and_weights(X, w, who):
    """X as a real (N, D) array and w as a real (D,) array, or ValueError."""
    X = as_real_array(X, who)
    w = as_real_array(w, who)
    check_ndim(X, (2,), who, "(N, D) for X")
    check_ndim(w, (1,), who, "(D,) for w")
    check_size(X, 1, w.shape[0], who, "features (the length of w)")
    return X, w


def _labels(y, n_samples, who):
    """y as an integer (N,) array of 0s and 1s, or ValueError."""
    labels = np.asarray(y)
    if labels.shape != (n_samples,):
        raise ValueError(f"{who} expects labels y of shape ({n_samples},), got {describe(labels)}")
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise ValueError(f"{who} expects labels y of 0s and 1s, got values {np.unique(labels)[:5]}")
    return labels.astype(np.int64)


# -- the neuron and the perceptron -----------------------------------------------------
@reference
def step(z):
    """The Heaviside step: 1 where z >= 0, else 0; same shape and dtype as z."""
    z = as_real_array(z, "step")
    return (z >= 0).astype(z.dtype)


@reference
def neuron(X, w, b, activation=F.sigmoid):
    """One neuron on a batch: a = f(X w + b).

    Shapes: X (N, D), w (D,), b a number  ->  a (N,).
    ``activation`` is f, applied elementwise (default the sigmoid).
    """
    X, w = _inputs_and_weights(X, w, "neuron")
    z = X @ w + b                                  # z = X w + b    (N,)
    return activation(z)                           # a = f(z)       (N,)


@reference
def perceptron_predict(X, w, b):
    """The perceptron's labels: 1 where X w + b >= 0, else 0.

    Shapes: X (N, D), w (D,), b a number  ->  int64 (N,), like the labels y.
    """
    X, w = _inputs_and_weights(X, w, "perceptron_predict")
    return (X @ w + b >= 0).astype(np.int64)


def perceptron_updates(X, y, max_epochs=100):
    """Run the perceptron learning rule; yield ``(i, w, b)`` after each update.

    Start from w = 0, b = 0. Visit the samples in order i = 0, 1, ..., N-1
    (one epoch); whenever sample i is misclassified, update

        w <- w + (y_i - yhat_i) x_i,     b <- b + (y_i - yhat_i)

    (y_i - yhat_i is +1 or -1 on a mistake). Stop after an epoch without a
    mistake, or after ``max_epochs`` epochs. ``i`` is the sample that caused
    the update; w is a new float64 (D,) array each time, b a float.

    A loop over the samples is right here: each update changes the
    prediction for every later sample, so the steps cannot be batched.
    """
    X = as_real_array(X, "perceptron_updates")
    check_ndim(X, (2,), "perceptron_updates", "(N, D) for X")
    y = _labels(y, X.shape[0], "perceptron_updates")
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(max_epochs):
        mistakes = 0
        for i in range(X.shape[0]):
            y_hat = 1 if X[i] @ w + b >= 0 else 0
            if y_hat != y[i]:
                w = w + (y[i] - y_hat) * X[i]        # w <- w + (y_i - yhat_i) x_i
                b = b + float(y[i] - y_hat)          # b <- b + (y_i - yhat_i)
                mistakes += 1
                yield i, w, b
        if mistakes == 0:
            return


@reference
def perceptron_train(X, y, max_epochs=100):
    """The perceptron learning rule (see :func:`perceptron_updates`) run to the end.

    Returns (w, b, n_updates): w float64 (D,), b a float, n_updates an int.
    On linearly separable data it stops with every sample classified
    correctly, after at most (R / gamma)^2 updates (:func:`novikoff_bound`).
    """
    w, b, n_updates = np.zeros(np.shape(X)[-1]), 0.0, 0
    for _, w_now, b_now in perceptron_updates(X, y, max_epochs):
        w, b, n_updates = w_now, b_now, n_updates + 1
    return w, b, n_updates


def novikoff_bound(X, y, w, b):
    """Novikoff's bound (R / gamma)^2 on the perceptron's number of updates, from a separator (w, b).

    With x~ = (x, 1) and the unit vector u = (w, b) / ||(w, b)||:
    R = max_i ||x~_i|| and gamma = min_i t_i u . x~_i, where t = 2 y - 1 is +-1.
    Any (w, b) that separates the data gives a valid bound (a wider margin
    gamma, a tighter bound). Returns inf if (w, b) does not separate the data.
    """
    X, w = _inputs_and_weights(X, w, "novikoff_bound")
    t = 2 * _labels(y, X.shape[0], "novikoff_bound") - 1           # labels as +-1
    X_aug = np.hstack([X, np.ones((X.shape[0], 1))])                # x~ = (x, 1)   (N, D+1)
    u = np.append(w, b) / np.linalg.norm(np.append(w, b))           # unit normal   (D+1,)
    R = np.linalg.norm(X_aug, axis=1).max()
    gamma = (t * (X_aug @ u)).min()
    return float((R / gamma) ** 2) if gamma > 0 else float("inf")


# -- a fixed feature map -----------------------------------------------------------------
@reference
def norm_squared_features(X):
    """phi(x) = ||x||^2 = x_1^2 + ... + x_D^2, one feature per row.

    Shapes: X (N, D) -> (N, 1), same dtype. A line in phi-space, phi = c,
    is the circle ||x|| = sqrt(c) in input space.
    """
    X = as_real_array(X, "norm_squared_features")
    check_ndim(X, (2,), "norm_squared_features", "(N, D)")
    return np.sum(X * X, axis=1, keepdims=True)


# -- the logistic neuron -----------------------------------------------------------------
@reference
def logistic_loss_and_grads(X, y, w, b):
    """Binary cross-entropy of the sigmoid neuron a = sigmoid(X w + b), and its gradients.

    Shapes: X (N, D), y (N,) of 0/1, w (D,), b a number.

        z     = X w + b                                    (N,)
        L     = -(1/N) sum_n [y_n log a_n + (1 - y_n) log(1 - a_n)]
        dL/dz = (a - y) / N                                (N,)
        dL/dw = X^T dL/dz                                  (D,)
        dL/db = sum_n dL/dz_n

    Returns (L, dL/dw, dL/db): a float, a (D,) array, a float.
    The loss is computed from z (BCEWithLogitsLoss), finite for any z.
    """
    X, w = _inputs_and_weights(X, w, "logistic_loss_and_grads")
    y = _labels(y, X.shape[0], "logistic_loss_and_grads")
    z = X @ w + b                                     # (N,)
    criterion = BCEWithLogitsLoss()
    loss = criterion(z, y)                            # L
    dz = criterion.backward()                         # dL/dz = (a - y) / N
    return loss, X.T @ dz, float(dz.sum())            # L, dL/dw = X^T dz, dL/db = sum dz


@reference
def train_logistic(X, y, lr=0.5, epochs=200):
    """Full-batch gradient descent on the logistic neuron, from w = 0, b = 0.

    Each epoch: w <- w - lr dL/dw, b <- b - lr dL/db (``logistic_loss_and_grads``).
    Returns (w, b): float64 (D,) and a float.
    """
    X = as_real_array(X, "train_logistic").astype(np.float64)
    check_ndim(X, (2,), "train_logistic", "(N, D) for X")
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        _, dw, db = logistic_loss_and_grads(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b


# -- two layers: XOR ---------------------------------------------------------------------
def step_network(X, W1, b1, W2, b2):
    """A 2-layer network of step neurons, f(x) = f2(f1(x)), in PyTorch's layout.

    Shapes: X (N, D), W1 (H, D), b1 (H,), W2 (1, H), b2 (1,)  ->  (N, 1).

        H_act = step(X W1^T + b1)       (N, H)   the hidden layer
        out   = step(H_act W2^T + b2)   (N, 1)   the output neuron
    """
    X = as_real_array(X, "step_network")
    W1, b1, W2, b2 = (as_real_array(p, "step_network") for p in (W1, b1, W2, b2))
    check_ndim(X, (2,), "step_network", "(N, D) for X")
    for name, p, shape in [("W1", W1, (W1.shape[0], X.shape[1])), ("b1", b1, (W1.shape[0],)),
                           ("W2", W2, (1, W1.shape[0])), ("b2", b2, (1,))]:
        if p.shape != shape:
            raise ValueError(f"step_network expects {name} of shape {shape}, got an array of shape {p.shape}")
    hidden = step(X @ W1.T + b1)                      # f1: (N, H)
    return step(hidden @ W2.T + b2)                   # f2: (N, 1)


@reference
def xor_weights():
    """Weights (W1 (2, 2), b1 (2,), W2 (1, 2), b2 (1,)) of a step network computing XOR on {0, 1}^2.

    Hidden unit 1 is OR (x1 + x2 >= 0.5), hidden unit 2 is AND
    (x1 + x2 >= 1.5); the output fires for OR and not AND (h1 - h2 >= 0.5).
    """
    W1 = np.array([[1.0, 1.0], [1.0, 1.0]])
    b1 = np.array([-0.5, -1.5])
    W2 = np.array([[1.0, -1.0]])
    b2 = np.array([-0.5])
    return W1, b1, W2, b2


# -- data ----------------------------------------------------------------------------------
def make_separable(n_samples=60, margin=0.15, seed=0):
    """Points in [-1, 1]^2 split by the line x2 = 0.5 x1 + 0.1, none closer to it than ``margin``.

    Class 1 lies above the line. The line is ``SEPARABLE_LINE`` = (w, b)
    with w = (-0.5, 1), b = -0.1, so the set is linearly separable with a
    margin of at least ``margin`` (in distance to the line).

    Returns:
        X: float32 (n_samples, 2), y: int64 (n_samples,) with classes 0 and 1.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"make_separable expects n_samples to be an integer >= 1, got {n_samples!r}")
    if not 0 <= margin < 0.5:
        raise ValueError(f"make_separable expects 0 <= margin < 0.5, got {margin!r}")
    rng = np.random.default_rng(seed)
    w, b = SEPARABLE_LINE
    kept = np.empty((0, 2))
    while len(kept) < n_samples:
        points = rng.uniform(-1, 1, size=(4 * n_samples, 2))
        distance = (points @ w + b) / np.linalg.norm(w)            # signed distance to the line
        kept = np.vstack([kept, points[np.abs(distance) >= margin]])
    X = kept[:n_samples]
    y = (X @ w + b > 0).astype(np.int64)
    return X.astype(np.float32), y


#: The line (w, b) that :func:`make_separable` labels its points by.
SEPARABLE_LINE = (np.array([-0.5, 1.0]), -0.1)
