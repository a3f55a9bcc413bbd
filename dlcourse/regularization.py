r"""Chapter 04 (regularization): its experiments and the checks its test cells call.

The maths, in the course's notation (a weight W is (out, in), a batch X is (N, D)):

    L2 penalty          R(W) = (lambda / 2) sum_ij W_ij^2,     dR/dW = lambda W
    SGD + weight decay  W <- W - lr (dW + lambda W)           = (1 - lr lambda) W - lr dW
    L1 penalty          R(W) = lambda sum_ij |W_ij|,          dR/dW = lambda sign(W)
    max-norm            w_j <- w_j * min(1, kappa / ||w_j||)  each row w_j of W (a unit's incoming weights)
    magnitude pruning   mask_ij = 0 for the k = round(f * W.size) entries of smallest |W_ij|, else 1
    random shift        image n moved by (dy_n, dx_n), |dy_n|, |dx_n| <= s, the uncovered border filled with 0
    batch norm          Y = gamma (X - mu) / sqrt(var + eps) + beta   (nn.BatchNorm1d derives its backward)

The numbers behind the chapter:

    load_slice()                    a small MNIST training slice, a validation split from it, the test set
    train_variant(name, epochs)     one row of the chapter's table: a 784-256-256-10 MLP with one remedy
    early_stop_epoch(losses, p)     where a monitor with patience p stops, and the best epoch it restores
    sparsity_run(penalty)           the fraction of near-zero first-layer weights after L1 or L2
    adam_decay_ratios()             the per-weight decay of Adam + L2 against AdamW's uniform one (a real run)
    bn_learning_rate_run(lr, bn)    a deep MLP at a large learning rate, with and without batch norm
    moons_run(l2, dropout)          the 2-D problem of the regularisation explorer
    pruning_curve(model, X, y)      accuracy against the fraction of weights removed

The checks of the graded test cells (each runs the student's code under the
honesty guard and raises ``checks.CheckFailed`` with a sentence saying what is wrong):

    check_l2(l2_penalty, l2_grad)             values, dtype, and the gradient against central differences
    check_sgd_weight_decay(fn, shapes, ...)   one in-place step against optim.SGD(weight_decay=...)
    check_dropout(layer_class)                masks, scaling, a new mask per call, backward, eval mode
    check_batchnorm_forward(fn, ...)          train and eval mode, the running statistics, as nn.BatchNorm1d
    check_batchnorm_backward(fn, ...)         dX, dgamma, dbeta against nn.BatchNorm1d and central differences
    check_early_stopping(monitor_class)       where it stops, best loss and epoch, a copy of the best state
    check_max_norm(fn, ...)                   rows above kappa scaled to kappa, the others untouched
    check_random_shift(fn, ...)               each image is a shift of itself within range, drawn from the rng
    check_prune_mask(fn, ...)                 exactly k entries removed, and the smallest ones
    check_regularized(fn, ...)                validation accuracy above the unregularised model's by a margin
"""
import functools
import math

import numpy as np
from threadpoolctl import threadpool_limits

from . import checks, data, gradcheck, losses, nn, optim, train
from ._validate import as_real_array
from .honesty import forbid, reference
from .random import manual_seed

__all__ = [
    "l2_penalty", "l2_grad", "max_norm", "random_shift", "random_crop", "random_flip", "random_rotation",
    "magnitude_prune_mask", "EarlyStopping", "batchnorm_forward", "batchnorm_backward",
    "Slice", "load_slice", "mlp", "VARIANTS", "train_variant", "early_stop_epoch", "sparsity_run",
    "adam_decay_ratios", "bn_learning_rate_run", "BN_RATES", "moons_data", "moons_run", "MOONS_L2",
    "MOONS_DROPOUT", "pruning_curve", "update_ratios",
    "check_l2", "check_sgd_weight_decay", "check_dropout", "check_batchnorm_forward",
    "check_batchnorm_backward",
    "check_early_stopping", "check_max_norm", "check_random_shift", "check_prune_mask", "check_regularized",
]


# -- 1. the references of the exercises --------
@reference
def l2_penalty(weights, lam):
    """R = (lam / 2) * sum of the squares of every entry of every array in ``weights``, a float.

    Inputs: weights: a list of arrays (the weight matrices; biases are usually left out); lam >= 0.
    """
    return float(0.5 * lam * sum(np.sum(np.asarray(W, dtype=np.float64) ** 2) for W in weights))


@reference
def l2_grad(W, lam):
    """dR/dW = lam * W for R = (lam / 2) sum W^2.  Shapes: W (any) -> the same shape and dtype."""
    return W * np.asarray(lam, dtype=W.dtype)                   # dR/dW = lambda W


@reference
def max_norm(W, kappa):
    """Each row of W (one unit's incoming weights) rescaled to norm at most kappa; rows below kappa unchanged.

    Shapes: W (out, in) -> (out, in), same dtype.
    Raises: ValueError for a W that is not 2-D or a kappa that is not > 0.
    """
    W = as_real_array(W, "max_norm")
    if W.ndim != 2:
        raise ValueError(f"max_norm expects a weight matrix of shape (out, in), got an array of shape "
                         f"{W.shape}")
    if not kappa > 0:
        raise ValueError(f"max_norm expects a bound kappa > 0, got {kappa!r}")
    norms = np.sqrt(np.sum(W * W, axis=1, keepdims=True))              # ||w_j||  (out, 1)
    scale = np.minimum(1, kappa / np.maximum(norms, np.finfo(W.dtype).tiny))   # min(1, kappa / ||w_j||)
    return (W * scale.astype(W.dtype)).astype(W.dtype)


def _check_images(images, who):
    images = as_real_array(images, who)
    if images.ndim != 4:
        raise ValueError(f"{who} expects images of shape (N, C, H, W), got an array of shape {images.shape}")
    return images


@reference
def random_shift(images, max_shift, rng):
    """Each image moved by its own (dy, dx), integers drawn from [-max_shift, max_shift]; zeros filled in.

    A positive dy moves the content down, a positive dx to the right; what
    moves out of the frame is lost. One gather for the whole batch (no loop).

    Shapes: images (N, C, H, W) -> (N, C, H, W), same dtype.
    Raises: ValueError for another layout or a negative or non-integer max_shift.
    """
    images = _check_images(images, "random_shift")
    if not (isinstance(max_shift, (int, np.integer)) and max_shift >= 0):
        raise ValueError(f"random_shift expects max_shift to be an integer >= 0, got {max_shift!r}")
    N, C, H, W = images.shape
    s = int(max_shift)
    shifts = rng.integers(-s, s + 1, size=(N, 2))                       # (dy_n, dx_n)
    padded = np.pad(images, ((0, 0), (0, 0), (s, s), (s, s)))           # zeros around every image
    rows = np.arange(H)[None, :] + s - shifts[:, :1]                    # row i reads padded row i + s - dy
    cols = np.arange(W)[None, :] + s - shifts[:, 1:]                    # (N, W)
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    return padded[n, c, rows[:, None, :, None], cols[:, None, None, :]]


@reference
def random_crop(images, padding, rng):
    """PyTorch's RandomCrop(H, padding): pad with zeros, cut a random H x W window; the same as a shift."""
    return random_shift(images, padding, rng)


@reference
def random_flip(images, rng, p=0.5):
    """Each image mirrored left-right with probability p.  Shapes: (N, C, H, W) -> the same."""
    images = _check_images(images, "random_flip")
    flip = rng.random(len(images)) < p
    return np.where(flip[:, None, None, None], images[..., ::-1], images)


@reference
def random_rotation(images, max_degrees, rng):
    """Each image rotated by its own angle drawn from [-max_degrees, max_degrees] (bilinear, zeros outside).

    One gather for the batch: output pixel (i, j) reads the input at the
    point rotated back by the angle about the image centre.
    Shapes: (N, C, H, W) -> the same, same dtype.
    """
    images = _check_images(images, "random_rotation")
    N, C, H, W = images.shape
    angles = np.deg2rad(rng.uniform(-max_degrees, max_degrees, size=N))[:, None, None]
    i, j = np.meshgrid(np.arange(H) - (H - 1) / 2, np.arange(W) - (W - 1) / 2, indexing="ij")
    cos, sin = np.cos(angles), np.sin(angles)
    src_i = cos * i - sin * j + (H - 1) / 2                            # (N, H, W) source coordinates
    src_j = sin * i + cos * j + (W - 1) / 2
    i0, j0 = np.floor(src_i).astype(int), np.floor(src_j).astype(int)
    fi, fj = src_i - i0, src_j - j0
    padded = np.pad(images, ((0, 0), (0, 0), (1, 2), (1, 2)))           # zeros outside the frame
    n = np.arange(N)[:, None, None]

    def pixel(a, b):
        a, b = np.clip(a + 1, 0, H + 2), np.clip(b + 1, 0, W + 2)
        return np.moveaxis(padded[n, :, a, b], -1, 1)                   # (N, C, H, W)

    top = pixel(i0, j0) * (1 - fj)[:, None] + pixel(i0, j0 + 1) * fj[:, None]
    bottom = pixel(i0 + 1, j0) * (1 - fj)[:, None] + pixel(i0 + 1, j0 + 1) * fj[:, None]
    return (top * (1 - fi)[:, None] + bottom * fi[:, None]).astype(images.dtype)


@reference
def magnitude_prune_mask(W, fraction):
    """A boolean mask of W's shape: False for the round(fraction * W.size) entries of smallest |W|, else True.

    Shapes: W (any) -> mask (same shape), dtype bool.
    Raises: ValueError for a fraction outside [0, 1].
    """
    W = as_real_array(W, "magnitude_prune_mask")
    if not 0 <= fraction <= 1:
        raise ValueError(f"magnitude_prune_mask expects a fraction in [0, 1], got {fraction!r}")
    k = int(round(fraction * W.size))                                  # how many to remove
    mask = np.ones(W.size, dtype=bool)
    mask[np.argsort(np.abs(W), axis=None, kind="stable")[:k]] = False
    return mask.reshape(W.shape)


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs; keep the best weights.

    ``step(val_loss, model)`` after every epoch returns True when training
    should stop. An epoch improves when its loss is strictly below the best
    so far. Attributes: best_loss, best_epoch (counted from 0), best_state (a
    copy of model.state_dict() at the best epoch), epochs_without_improvement.
    """

    def __init__(self, patience):
        if not (isinstance(patience, int) and patience >= 1):
            raise ValueError(f"EarlyStopping expects patience to be an integer >= 1, got {patience!r}")
        self.patience = patience
        self.best_loss = math.inf
        self.best_epoch = -1
        self.best_state = None
        self.epoch = -1
        self.epochs_without_improvement = 0

    @reference
    def step(self, val_loss, model):
        """Record one epoch's validation loss; True when ``patience`` epochs in a row did not improve."""
        self.epoch += 1
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch = float(val_loss), self.epoch
            self.best_state = model.state_dict()                         # copies, not views
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        return self.epochs_without_improvement >= self.patience


@reference
def batchnorm_forward(X, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch norm of X (N, C) as nn.BatchNorm1d; in training mode the running statistics are updated in place.

    Returns Y (N, C) in X's dtype.
    """
    layer = _bn_layer(X, gamma, beta, running_mean, running_var, momentum, eps)
    layer.train(training)
    Y = layer(X)
    running_mean[...], running_var[...] = layer.running_mean, layer.running_var
    return Y


@reference
def batchnorm_backward(dY, X, gamma, eps=1e-5):
    """(dX, dgamma, dbeta) of training-mode batch norm of X (N, C), by nn.BatchNorm1d.backward."""
    C = X.shape[1]
    layer = _bn_layer(X, gamma, np.zeros(C, X.dtype), np.zeros(C, X.dtype), np.ones(C, X.dtype), 0.1, eps)
    layer(X)
    dX = layer.backward(dY)
    return dX, layer.weight.grad.copy(), layer.bias.grad.copy()


def _bn_layer(X, gamma, beta, running_mean, running_var, momentum, eps):
    layer = nn.BatchNorm1d(X.shape[1], eps=eps, momentum=momentum).to(X.dtype)
    layer.weight.data[...], layer.bias.data[...] = gamma, beta
    layer.running_mean[...], layer.running_var[...] = running_mean, running_var
    return layer


# -- 2. the data: a small slice of MNIST --------
class Slice:
    """The chapter's data: a small training slice, a validation split carved from it, the test set.

    Attributes: X_train (n_train, D), y_train, X_val (n_val, D), y_val,
    X_test (10000, D), y_test: standardised with the training slice's pixel
    mean and std (float32); raw_train (n_train, 1, side, side) the slice's
    pixels in [0, 1] (for augmentation); mean, std, side, name.
    """

    def __init__(self, name, side, raw, y, raw_test, y_test, n_train, n_val, seed):
        order = np.random.default_rng(seed).permutation(len(raw))
        train_idx, val_idx = order[:n_train], order[n_train:n_train + n_val]   # disjoint
        self.name, self.side = name, side
        self.mean, self.std = float(raw[train_idx].mean()), float(raw[train_idx].std())
        self.raw_train = raw[train_idx].reshape(-1, 1, side, side)
        self.X_train, self.y_train = self.standardize(raw[train_idx]), y[train_idx]
        self.X_val, self.y_val = self.standardize(raw[val_idx]), y[val_idx]
        self.X_test, self.y_test = self.standardize(raw_test), y_test

    def standardize(self, raw):
        """Raw pixels in [0, 1] (any shape with N first) -> rows (N, D), standardised, float32."""
        return ((raw.reshape(len(raw), -1) - self.mean) / self.std).astype(np.float32)


@functools.lru_cache(maxsize=4)
def load_slice(n_train=1000, n_val=1000, seed=0):
    """MNIST's first ``n_train`` images of a seeded permutation for training, the next ``n_val`` to validate.

    Falls back to the 8x8 digits (scikit-learn, offline) when MNIST is not in
    the datasets/ cache. Returns a :class:`Slice`.
    """
    try:
        X, y, X_test, y_test = data.load_mnist()
        return Slice("MNIST", 28, X, y, X_test, y_test, n_train, n_val, seed)
    except FileNotFoundError:
        X, y, X_test, y_test = data.load_digits()
        return Slice("digits", 8, X / 16.0, y, X_test / 16.0, y_test, min(n_train, 800), min(n_val, 300),
                     seed)


# -- 3. the table: one remedy per row --------
HIDDEN = 256
VARIANTS = {
    # name: (dropout p, batch norm, AdamW weight decay, augmentation max shift)
    "none": (0.0, False, 0.0, 0),
    "L2 (AdamW)": (0.0, False, 0.1, 0),
    "dropout": (0.3, False, 0.0, 0),
    "batch norm": (0.0, True, 0.0, 0),
    "augmentation": (0.0, False, 0.0, 2),
    "combination": (0.3, False, 0.05, 2),
}


def mlp(D, hidden=HIDDEN, depth=2, dropout=0.0, batchnorm=False, classes=10):
    """Linear -> [BatchNorm1d] -> ReLU -> [Dropout], ``depth`` times, then Linear(hidden, classes)."""
    layers, width = [], D
    for _ in range(depth):
        layers.append(nn.Linear(width, hidden))
        if batchnorm:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def _augmented_batches(split, batch_size, max_shift, rng):
    """One epoch of shuffled minibatches, each shifted at random when max_shift > 0, then standardised."""
    order = rng.permutation(len(split.y_train))
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        if max_shift:
            shifted = random_shift(split.raw_train[index], max_shift, rng)
            yield split.standardize(shifted), split.y_train[index]
        else:
            yield split.X_train[index], split.y_train[index]


@reference
@functools.lru_cache(maxsize=32)
def train_variant(name, epochs=30, seed=0, n_train=1000, lr=1e-3, batch_size=50):
    """Train the table's MLP with one remedy of VARIANTS on the slice; the history and the weights per epoch.

    Adam (lr 1e-3), or AdamW when the variant decays its weights; batches of
    50; ``seed`` fixes the initial weights, the dropout masks, the order
    and the shifts. After every epoch: the training accuracy and loss (eval
    mode, on the unshifted slice), the validation ones, and a copy of the weights.

    Returns: dict with lists ``train_accuracy``, ``train_loss``, ``val_accuracy``,
    ``val_loss`` (one per epoch) and ``states`` (the state_dicts), and the
    trained ``model``.
    """
    if name not in VARIANTS:
        raise ValueError(f"train_variant expects a variant among {list(VARIANTS)}, got {name!r}")
    p, batchnorm, decay, shift = VARIANTS[name]
    split = load_slice(n_train=n_train)
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = mlp(split.X_train.shape[1], dropout=p, batchnorm=batchnorm)
    model[0].needs_input_grad = False
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=decay) if decay else \
        optim.Adam(model.parameters(), lr=lr)
    loss_fn = losses.CrossEntropyLoss()
    history = {key: [] for key in ("train_accuracy", "train_loss", "val_accuracy", "val_loss", "states")}
    with threadpool_limits(1):
        for _ in range(epochs):
            model.train()
            for X_batch, y_batch in _augmented_batches(split, batch_size, shift, rng):
                train.train_step(model, loss_fn, optimizer, X_batch, y_batch)
            model.eval()
            for part, X, y in (("train", split.X_train, split.y_train), ("val", split.X_val, split.y_val)):
                scores = model(X)
                history[f"{part}_loss"].append(loss_fn(scores, y))
                history[f"{part}_accuracy"].append(train.accuracy(scores, y))
            history["states"].append(model.state_dict())
    history["model"] = model
    return history


def early_stop_epoch(val_losses, patience):
    """(stop epoch, best epoch) of an EarlyStopping(patience) fed ``val_losses``; stop = the last if never."""
    best, best_epoch, waited = math.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return epoch, best_epoch
    return len(val_losses) - 1, best_epoch


def update_ratios(model, optimizer, X, y, steps=1):
    """Update-to-weight ratios ||delta W|| / ||W|| of every weight matrix over ``steps`` training steps."""
    weights = [(name, p) for name, p in model.named_parameters() if p.data.ndim == 2]
    before = [p.data.copy() for _, p in weights]
    loss_fn = losses.CrossEntropyLoss()
    for _ in range(steps):
        train.train_step(model, loss_fn, optimizer, X, y)
    return {name: float(np.linalg.norm(p.data - W0) / np.linalg.norm(W0) / steps)
            for (name, p), W0 in zip(weights, before, strict=True)}


# -- 4. L1 against L2, and Adam + L2 against AdamW --------
@functools.lru_cache(maxsize=8)
def sparsity_run(penalty, lam=1e-3, epochs=10, seed=0, threshold=1e-3):
    """SGD (lr 0.05, momentum 0.9) on the slice with an L1 or L2 penalty on every weight matrix.

    ``penalty`` is "none", "l1" or "l2" (its gradient lam sign(W) or lam W is
    added to each weight's gradient after backward). Returns (fraction of
    first-layer weights with |W| < threshold, validation accuracy, the first
    layer's weights).
    """
    split = load_slice()
    manual_seed(seed)
    model = mlp(split.X_train.shape[1])
    model[0].needs_input_grad = False
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = losses.CrossEntropyLoss()
    weights = [p for p in model.parameters() if p.data.ndim == 2]
    with threadpool_limits(1):
        for epoch in range(epochs):
            for X_batch, y_batch in data.minibatches(split.X_train, split.y_train, 50, seed=seed + epoch):
                optimizer.zero_grad()
                loss_fn(model(X_batch), y_batch)
                model.backward(loss_fn.backward())
                for W in weights:
                    if penalty == "l1":
                        W.grad += lam * np.sign(W.data)               # dR/dW = lambda sign(W)
                    elif penalty == "l2":
                        W.grad += lam * W.data                        # dR/dW = lambda W
                optimizer.step()
    W1 = model[0].weight.data
    model.eval()
    return float(np.mean(np.abs(W1) < threshold)), train.accuracy(model(split.X_val), split.y_val), W1.copy()


@functools.lru_cache(maxsize=2)
def adam_decay_ratios(lam=0.1, epochs=5, seed=0):
    """The decay each weight of the first layer receives per step, relative to the weight, after a real run.

    Adam with an L2 term (``Adam(weight_decay=lam)``) divides the term lam W
    by sqrt(v_hat) + eps like the rest of the gradient, so the relative decay
    per step is lr lam / (sqrt(v_hat) + eps), different for every weight;
    AdamW's is lr lam for all. Returns (Adam's relative decays (784*256,),
    AdamW's single value lr lam).
    """
    split = load_slice()
    manual_seed(seed)
    model = mlp(split.X_train.shape[1])
    model[0].needs_input_grad = False
    optimizer = optim.Adam(model.parameters(), lr=1e-3, weight_decay=lam)
    with threadpool_limits(1):
        for epoch in range(epochs):
            for X_batch, y_batch in data.minibatches(split.X_train, split.y_train, 50, seed=seed + epoch):
                train.train_step(model, losses.CrossEntropyLoss(), optimizer, X_batch, y_batch)
    v_hat = optimizer.v[0] / (1 - optimizer.beta2 ** optimizer.t)
    m_scale = 1 / (1 - optimizer.beta1 ** optimizer.t)    # the step's factor lr / (1 - beta1^t) is about lr
    relative = optimizer.lr * m_scale * lam / (np.sqrt(v_hat) + optimizer.eps)
    return relative.ravel().astype(np.float64), optimizer.lr * lam


# -- 5. batch norm and large learning rates --------
BN_RATES = (0.02, 0.1, 0.5, 1.0)
BN_DEPTH, BN_WIDTH, BN_STEPS = 6, 128, 60


@functools.lru_cache(maxsize=16)
def bn_learning_rate_run(lr, batchnorm, steps=BN_STEPS, seed=0):
    """A 6-layer ReLU MLP (width 128) trained with plain SGD at ``lr``, with or without batch norm.

    Returns (the loss before each step (steps,), with nan after a loss that
    is not finite; the activations of each hidden layer (after ReLU) on the
    first batch at the end, a list of (50, 128) float32 arrays).
    """
    split = load_slice()
    manual_seed(seed)
    model = mlp(split.X_train.shape[1], hidden=BN_WIDTH, depth=BN_DEPTH, batchnorm=batchnorm)
    model[0].needs_input_grad = False
    optimizer = optim.SGD(model.parameters(), lr=lr)
    loss_fn = losses.CrossEntropyLoss()
    curve = np.full(steps, np.nan)
    rng = np.random.default_rng(seed)
    with threadpool_limits(1), np.errstate(all="ignore"):
        for t in range(steps):
            index = rng.choice(len(split.y_train), 50, replace=False)
            X_batch, y_batch = split.X_train[index], split.y_train[index]
            curve[t], _ = train.train_step(model, loss_fn, optimizer, X_batch, y_batch)
            if not np.isfinite(curve[t]):
                break
        model.train()
        x = split.X_train[:50]
        activations = []
        for layer in model:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                activations.append(np.nan_to_num(x).astype(np.float32))
    return curve, activations


# -- 6. the 2-D problem of the regularisation explorer --------
MOONS_L2 = (0.0, 1e-3, 1e-2, 3e-2, 0.1)
MOONS_DROPOUT = (0.0, 0.2, 0.4, 0.6)


@functools.lru_cache(maxsize=1)
def moons_data(seed=0, noise=0.3):
    """(X_train, y_train, X_val, y_val): 40 noisy moons to train on, 400 to validate (float64).

    Two interleaving half circles as in scikit-learn's make_moons (drawn here
    with numpy: the upper one centred at 0, the lower one at (1, 0.5)),
    with Gaussian noise of std ``noise``; the classes alternate.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(440) % 2
    angle = rng.uniform(0, np.pi, size=440)
    X = np.where(y[:, None] == 0, np.column_stack([np.cos(angle), np.sin(angle)]),
                 np.column_stack([1 - np.cos(angle), 0.5 - np.sin(angle)]))
    X = X + rng.normal(0, noise, size=X.shape)
    return X[:40], y[:40], X[40:], y[40:]


@functools.lru_cache(maxsize=32)
def moons_run(l2=0.0, dropout=0.0, steps=600, seed=0, grid=60):
    """A 2-100-100-2 MLP trained full-batch (Adam, lr 0.01) on 40 moons, with an L2 penalty and/or dropout.

    Returns dict: ``probability`` (grid, grid) of class 1 over the square
    [-2, 3] x [-1.5, 2] (eval mode), ``train_accuracy``, ``val_accuracy``, ``extent``, ``model``.
    """
    X, y, X_val, y_val = moons_data()
    manual_seed(seed)
    model = mlp(2, hidden=100, depth=2, dropout=dropout, classes=2).to(np.float64)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    loss_fn = losses.CrossEntropyLoss()
    weights = [p for p in model.parameters() if p.data.ndim == 2]
    with threadpool_limits(1):
        for _ in range(steps):
            optimizer.zero_grad()
            loss_fn(model(X), y)
            model.backward(loss_fn.backward())
            for W in weights:
                W.grad += l2 * W.data                                  # dR/dW = lambda W
            optimizer.step()
    model.eval()
    extent = (-2.0, 3.0, -1.5, 2.0)
    gx, gy = np.meshgrid(np.linspace(extent[0], extent[1], grid), np.linspace(extent[2], extent[3], grid))
    scores = model(np.column_stack([gx.ravel(), gy.ravel()]))
    probability = np.exp(scores[:, 1] - np.logaddexp(scores[:, 0], scores[:, 1])).reshape(grid, grid)
    return {"probability": probability, "train_accuracy": train.accuracy(model(X), y),
            "val_accuracy": train.accuracy(model(X_val), y_val), "extent": extent, "model": model}


# -- 7. pruning --------
def pruning_curve(model, X, y, fractions):
    """Validation accuracy after removing each fraction of every weight matrix (layer by layer); weights kept.

    Returns a float array of accuracies, one per fraction.
    """
    weights = [p for p in model.parameters() if p.data.ndim == 2]
    saved = [W.data.copy() for W in weights]
    model.eval()
    accuracies = []
    for fraction in fractions:
        for W, W0 in zip(weights, saved, strict=True):
            W.data[...] = W0 * magnitude_prune_mask(W0, fraction)
        accuracies.append(train.accuracy(model(X), y))
    for W, W0 in zip(weights, saved, strict=True):
        W.data[...] = W0
    return np.array(accuracies)


# -- the checks of the graded test cells --------
def _fail(message):
    raise checks.CheckFailed(message)


def check_l2(l2_penalty_fn, l2_grad_fn, quiet=False):
    """The student's ``l2_penalty(weights, lam)`` (a float) and ``l2_grad(W, lam)`` (W's shape and dtype)."""
    __tracebackhide__ = True
    rng = np.random.default_rng(4)
    cases = [([rng.normal(size=(3, 4))], 0.1), ([rng.normal(size=(5, 2)), rng.normal(size=(1, 5))], 0.5),
             ([rng.normal(size=(4, 3)).astype(np.float32)], 2.0)]
    for weights, lam in cases:
        call = (f"`l2_penalty` for {len(weights)} weight matrices of shapes {[W.shape for W in weights]}, "
                f"lam = {lam}")
        got, _ = checks.run_student(l2_penalty_fn, (weights, lam), "l2_penalty", call, forbidden=[l2_penalty])
        if not isinstance(got, (float, np.floating)) and not (isinstance(got, np.ndarray) and got.ndim == 0):
            _fail(f"{call} returned {checks._abridge(got)}; expected one number (a float).")
        checks.assert_close(np.float64(got), np.float64(l2_penalty(weights, lam)), call=call, rtol=1e-5)
    checks.check_function(l2_grad_fn, l2_grad, [(W[0], lam) for W, lam in cases], quiet=True)
    W, lam = rng.normal(size=(3, 2)), 0.3
    numeric = gradcheck.numerical_gradient(lambda V: l2_penalty([V], lam), W.copy())
    got, _ = checks.run_student(l2_grad_fn, (W, lam), "l2_grad", "`l2_grad`", forbidden=[l2_grad])
    checks.assert_close(got, numeric, rtol=1e-5, atol=1e-7,
                        call="`l2_grad` against central differences of your l2_penalty's reference")
    if not quiet:
        print("\u2714 l2_penalty and l2_grad: values, dtypes and the gradient agree.")


def check_sgd_weight_decay(sgd_step, shapes, lr, weight_decay, dtype=np.float64, quiet=False):
    """The student's ``sgd_step(params, lr, weight_decay)`` against optim.SGD(..., weight_decay=...).step().

    Each parameter must be updated in place, in its dtype; its .grad must be
    left as it was (PyTorch does not write the decay into the gradient).
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(len(shapes))
    ours, theirs = [], []
    for shape in shapes:
        values, grads = rng.normal(size=shape), rng.normal(size=shape)
        for group in (ours, theirs):
            group.append(nn.Parameter(values, dtype=dtype))
            group[-1].grad[...] = grads
    optim.SGD(theirs, lr=lr, weight_decay=weight_decay).step()
    arrays, grads = [p.data for p in ours], [p.grad.copy() for p in ours]
    call = f"`sgd_step` with lr = {lr}, weight_decay = {weight_decay} on parameters of shapes {shapes}"
    checks.run_student(sgd_step, (ours, lr, weight_decay), "sgd_step", call, forbidden=[optim.SGD])
    for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
        if p.data is not arrays[i]:
            _fail(f"{call} replaced parameter {i}'s array instead of updating it in place: "
                  "write p.data -= ... .")
        if not np.array_equal(p.grad, grads[i]):
            _fail(f"{call} changed parameter {i}'s .grad; leave the gradient alone and add the decay "
                  "to the step only (g = p.grad + weight_decay * p.data is a new array).")
        checks.assert_close(p.data, q.data, call=f"{call}: parameter {i} after the step")
    if not quiet:
        print(f"\u2714 sgd_step: agrees with optim.SGD(weight_decay={weight_decay}) in place.")


def check_dropout(layer_class, p=0.3, quiet=False, shape=(400, 50), dtype=np.float32):
    """The student's dropout layer ``layer_class(p)``: an nn.Module with forward and backward.

    Checked: each output entry is 0 or x / (1 - p); the fraction dropped is p
    (within 5 standard errors); a new mask on every call; backward multiplies
    by the same mask; manual_seed makes it repeatable; eval mode and p = 0
    are the identity; p = 1 gives zeros; dtype kept. nn.Dropout is forbidden.
    """
    __tracebackhide__ = True
    name = getattr(layer_class, "__name__", "your layer")
    rng = np.random.default_rng(1)
    x = (rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1, 1], size=shape)).astype(dtype)   # no zeros

    def run(fn, *args, what):
        got, _ = checks.run_student(fn, args, name, f"`{name}({p})` {what}", forbidden=[nn.Dropout],
                                    student=layer)
        return got

    manual_seed(0)
    layer = layer_class(p)
    call = f"`{name}({p}).forward` in training mode on x of shape {shape} ({np.dtype(dtype)})"
    out = run(layer.forward, x, what="forward")
    if not isinstance(out, np.ndarray) or out.shape != x.shape:
        _fail(f"{call} returned {checks._abridge(out)}; expected an array of shape {shape}.")
    if out.dtype != x.dtype:
        _fail(f"{call} returned dtype {out.dtype}; expected {x.dtype}, the input's.")
    ratio = out.astype(np.float64) / x
    kept = ~np.isclose(ratio, 0, atol=1e-6)
    if not np.allclose(ratio[kept], 1 / (1 - p), rtol=1e-5):
        bad = ratio[kept][~np.isclose(ratio[kept], 1 / (1 - p), rtol=1e-5)][0]
        _fail(f"{call}: a kept entry is x times {bad:.4g}; inverted dropout scales the kept entries by "
              f"1 / (1 - p) = {1 / (1 - p):.4g} (and p is the probability of dropping).")
    dropped = 1 - kept.mean()
    sem = math.sqrt(p * (1 - p) / x.size)
    if abs(dropped - p) > 5 * sem:
        _fail(f"{call} dropped {dropped:.1%} of the entries; expected p = {p:.0%} (p is the probability "
              "of dropping an entry, as in PyTorch).")
    grad_out = rng.normal(size=shape).astype(dtype)
    grad_in = run(layer.backward, grad_out, what="backward")
    checks.assert_close(grad_in, (grad_out * (ratio * kept)).astype(dtype),
                        call=f"`{name}.backward` after that forward (it multiplies by the same mask)")
    again = run(layer.forward, x, what="forward, a second time")
    if np.array_equal(again, out):
        _fail(f"`{name}` drew the same mask twice: draw a new one on every forward call.")
    manual_seed(0)
    twin = layer_class(p)
    repeat = run(twin.forward, x, what="forward after dlcourse.manual_seed(0)")
    if not np.array_equal(repeat, out):
        _fail(f"`{name}` gave two different masks after dlcourse.manual_seed(0): draw from the package's "
              "generator, dlcourse.random.generator(), not from np.random.")
    layer.eval()
    checks.assert_close(run(layer.forward, x, what="forward in eval mode"), x,
                        call=f"`{name}({p})` in eval mode (it must return its input unchanged)")
    checks.assert_close(run(layer.backward, grad_out, what="backward in eval mode"), grad_out,
                        call=f"`{name}({p}).backward` in eval mode (the identity)")
    if not quiet:
        print(f"\u2714 {name}: drops {dropped:.1%} (p = {p}), scales by 1/(1-p), a new mask per call, "
              "same mask backward, identity in eval mode.")


def check_dropout_edges(layer_class):
    """Hidden edge cases: p = 0 and p = 1 in training mode, float64 and a 3-D input."""
    __tracebackhide__ = True
    name = getattr(layer_class, "__name__", "your layer")
    x = np.random.default_rng(2).normal(size=(4, 3, 5))
    for p, expected in ((0.0, x), (1.0, np.zeros_like(x))):
        layer = layer_class(p)
        call = f"`{name}({p})` in training mode on a float64 array of shape (4, 3, 5)"
        got, warned = checks.run_student(layer.forward, (x,), name, call, forbidden=[nn.Dropout],
                                         student=layer)
        checks.assert_close(got, expected, call=call)
        grad, _ = checks.run_student(layer.backward, (np.ones_like(x),), name, call + " (backward)",
                                     forbidden=[nn.Dropout], student=layer)
        checks.assert_close(grad, np.ones_like(x) if p == 0 else np.zeros_like(x), call=call + ", backward")
        if warned:
            _fail(f"{call}: numpy warned '{warned[0]}' (1 / (1 - p) with p = 1 divides by zero).")
    check_dropout(layer_class, p=0.5, dtype=np.float64, shape=(200, 3, 4), quiet=True)


def check_batchnorm_forward(fn, X, gamma, beta, quiet=False):
    """The student's ``batchnorm_forward(X, gamma, beta, running_mean, running_var, training)`` in both modes.

    Three training calls (the running statistics must follow nn.BatchNorm1d's,
    updated in place, the unbiased variance), then one eval call.
    """
    __tracebackhide__ = True
    C = X.shape[1]
    theirs = (np.zeros(C, X.dtype), np.ones(C, X.dtype))
    ours = (np.zeros(C, X.dtype), np.ones(C, X.dtype))
    calls = [(X, True), (X * 2 + 1, True), (X[::-1] - 0.5, True), (X[:3], False)]
    for step, (x, training) in enumerate(calls):
        mode = "training" if training else "eval"
        call = f"`batchnorm_forward` call {step + 1} ({mode} mode, X of shape {x.shape}, {x.dtype})"
        expected = batchnorm_forward(x, gamma, beta, *theirs, training)
        got, _ = checks.run_student(fn, (x, gamma, beta, *ours, training), "batchnorm_forward", call,
                                    forbidden=[batchnorm_forward, nn.BatchNorm1d])
        checks.assert_close(got, expected, call=call, rtol=1e-5 if x.dtype == np.float32 else None,
                            atol=1e-5 if x.dtype == np.float32 else None)
        for name, mine, right in zip(("running_mean", "running_var"), ours, theirs, strict=True):
            checks.assert_close(mine, right, call=f"{name} after {call} (updated in place; the unbiased "
                                f"variance, momentum 0.1; not at all in eval mode)")
    if not quiet:
        print(f"\u2714 batchnorm_forward: training and eval mode, running statistics updated as "
              f"nn.BatchNorm1d ({X.dtype}).")


def check_batchnorm_backward(fn, X, gamma, quiet=False):
    """The student's ``batchnorm_backward(dY, X, gamma)`` -> (dX, dgamma, dbeta), against nn.BatchNorm1d.

    For float64 inputs dX is also compared with central differences of the
    training-mode forward.
    """
    __tracebackhide__ = True
    dY = np.random.default_rng(7).normal(size=X.shape).astype(X.dtype)
    call = f"`batchnorm_backward` for X of shape {X.shape} ({X.dtype})"
    expected = batchnorm_backward(dY, X, gamma)
    got, _ = checks.run_student(fn, (dY, X, gamma), "batchnorm_backward", call,
                                forbidden=[batchnorm_backward, nn.BatchNorm1d])
    if not isinstance(got, tuple) or len(got) != 3:
        _fail(f"{call} returned {checks._abridge(got)}; expected a tuple (dX, dgamma, dbeta).")
    tolerance = {"rtol": 1e-4, "atol": 1e-5} if X.dtype == np.float32 else {}
    for name, mine, right in zip(("dbeta", "dgamma", "dX"), got[::-1], expected[::-1], strict=True):
        checks.assert_close(mine, right, call=f"{name} from {call}", **tolerance)
    if X.dtype == np.float64:
        def loss(x):
            mu, var = x.mean(axis=0), x.var(axis=0)
            return float(np.sum(dY * (gamma * (x - mu) / np.sqrt(var + 1e-5))))
        numeric = gradcheck.numerical_gradient(loss, X.copy())
        checks.assert_close(got[0], numeric, rtol=1e-5, atol=1e-7, call=f"dX from {call} against central "
                                                                        f"differences")
    if not quiet:
        print(f"\u2714 batchnorm_backward: dX, dgamma and dbeta agree with nn.BatchNorm1d ({X.dtype}).")


class _Counter(nn.Module):
    """A stand-in model whose one parameter holds the epoch number, to see which state a monitor kept."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(np.zeros(3))

    def forward(self, x):
        return x


def check_early_stopping(monitor_class, val_losses, patience, quiet=False):
    """The student's ``monitor_class(patience)``: ``step(val_loss, model)`` -> True to stop; best_* kept.

    The model's weight holds the epoch number and changes in place after
    every epoch, so a best_state that is a view (not a copy) shows up.
    Returns nothing (a graded cell's last value would be read as a score).
    """
    __tracebackhide__ = True
    name = getattr(monitor_class, "__name__", "your monitor")
    model = _Counter()
    expected_stop, expected_best = early_stop_epoch(val_losses, patience)
    if expected_stop == len(val_losses) - 1 and expected_stop - expected_best < patience:
        expected_stop = None
    call = f"`{name}(patience={patience})` on the validation losses {list(val_losses)}"
    monitor, _ = checks.run_student(monitor_class, (patience,), name, call, forbidden=[EarlyStopping.step])
    stopped = None
    for epoch, loss in enumerate(val_losses):
        model.weight.data[...] = epoch                          # the weights of this epoch, in place
        stop, _ = checks.run_student(monitor.step, (loss, model), name, call, forbidden=[EarlyStopping.step],
                                     student=monitor)
        if stop:
            stopped = epoch
            break
    if stopped != expected_stop:
        said = "never said stop" if stopped is None else f"said stop after epoch {stopped}"
        want = "never stop" if expected_stop is None else f"stop after epoch {expected_stop}"
        _fail(f"{call} {said}; expected {want} (the best loss {min(val_losses[:(stopped or 0) + 1]):g} "
              f"is at epoch {expected_best}, counting from 0; stop once {patience} epochs in a row did not "
              "improve on the best; an equal loss is no improvement).")
    for attribute, value in (("best_loss", float(val_losses[expected_best])), ("best_epoch", expected_best)):
        got = getattr(monitor, attribute, None)
        if got is None or not np.isclose(float(got), value):
            _fail(f"{call}: {attribute} is {got!r}; expected {value!r}.")
    state = getattr(monitor, "best_state", None)
    if not isinstance(state, dict) or "weight" not in state:
        _fail(f"{call}: best_state is {checks._abridge(state)}; expected model.state_dict() of the best "
              f"epoch.")
    if not np.all(np.asarray(state["weight"]) == expected_best):
        _fail(f"{call}: best_state['weight'] holds {np.asarray(state['weight'])[0]:g}, the weights of a "
              f"later "
              f"epoch, not of epoch {expected_best}: keep a copy (model.state_dict() copies), not the "
              f"arrays.")
    if not quiet:
        stop_text = "never stopped" if stopped is None else f"stopped after epoch {stopped}"
        print(f"\u2714 {name}: {stop_text}, kept the weights of epoch {expected_best}.")


def check_max_norm(fn, cases, quiet=False):
    """The student's ``max_norm(W, kappa)`` against the reference on ``cases`` (a list of (W, kappa))."""
    __tracebackhide__ = True
    rtol = 1e-5 if cases[0][0].dtype == np.float32 else None
    checks.check_function(fn, max_norm, cases, quiet=True, rtol=rtol)
    if not quiet:
        print(f"\u2714 max_norm: rows above kappa scaled to norm kappa, the others unchanged, "
              f"on {len(cases)} inputs.")


def _shift_of(original, shifted, max_shift):
    """The (dy, dx) with |dy|, |dx| <= max_shift turning ``original`` (C, H, W) into ``shifted``, or None."""
    s = max_shift
    padded = np.pad(original, ((0, 0), (s, s), (s, s)))
    H, W = original.shape[1:]
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            if np.array_equal(padded[:, s - dy:s - dy + H, s - dx:s - dx + W], shifted):
                return dy, dx
    return None


def check_random_shift(fn, images, max_shift, quiet=False):
    """The student's ``random_shift(images, max_shift, rng)``: every image a shift of itself within range.

    Checked: shape and dtype; each output image equals its input moved by
    some (dy, dx) with |dy|, |dx| <= max_shift and zeros filled in; the shifts
    vary and cover the range; the generator passed in decides them (same
    seed twice: same result; another seed: another one); the input is not
    changed. The reference random_shift is forbidden.
    """
    __tracebackhide__ = True
    call = f"`random_shift` on images of shape {images.shape} ({images.dtype}) with max_shift = {max_shift}"
    original = images.copy()

    def draw(seed):
        got, _ = checks.run_student(fn, (images, max_shift, np.random.default_rng(seed)), "random_shift",
                                    call,
                                    forbidden=[random_shift, random_crop])
        return got

    out = draw(0)
    if out is None:
        _fail(f"{call} returned None. Did you forget the `return` statement?")
    if not isinstance(out, np.ndarray) or out.shape != images.shape:
        _fail(f"{call} returned {checks._abridge(out)}; expected an array of shape {images.shape}.")
    if out.dtype != images.dtype:
        _fail(f"{call} returned dtype {out.dtype}; expected {images.dtype}, the images' dtype.")
    if not np.array_equal(images, original):
        _fail(f"{call} changed its input images in place; build a new array.")
    shifts = []
    for n in range(len(images)):
        shift = _shift_of(images[n], out[n], max_shift)
        if shift is None:
            _fail(f"{call}: image {n} of the result is no shift of input image {n} by at most {max_shift} "
                  f"pixels "
                  "with zeros filled in (all channels move together; what leaves the frame is lost).")
        shifts.append(shift)
    distinct = set(shifts)
    dys, dxs = {dy for dy, _ in shifts}, {dx for _, dx in shifts}
    ends = {-max_shift, max_shift}
    if max_shift > 0 and len(images) >= 50 and not (ends <= dys and ends <= dxs
                                                     and len(distinct) > (2 * max_shift + 1) ** 2 / 2):
        _fail(f"{call} used the vertical shifts {sorted(dys)} and the horizontal ones {sorted(dxs)} "
              f"({len(distinct)} distinct pairs); draw dy and dx for each image from -max_shift .. "
              f"max_shift, "
              "both ends included.")
    if not np.array_equal(draw(0), out):
        _fail(f"{call} gave two different results for two generators with the same seed: draw from the rng "
              "you get, not from np.random.")
    if max_shift > 0 and len(images) > 3 and np.array_equal(draw(1), out):
        _fail(f"{call} gave the same result for two different generators: draw from the rng you get.")
    if not quiet:
        print(f"\u2714 random_shift: {len(images)} images, each a shift within \u00b1{max_shift} "
              f"({len(distinct)} distinct shifts), drawn from the rng passed in.")


def check_prune_mask(fn, W, fraction, quiet=False):
    """The student's ``magnitude_prune_mask(W, fraction)``: a bool mask removing the k smallest |W|."""
    __tracebackhide__ = True
    call = f"`magnitude_prune_mask` for W of shape {W.shape} ({W.dtype}), fraction = {fraction}"
    got, _ = checks.run_student(fn, (W.copy(), fraction), "magnitude_prune_mask", call,
                                forbidden=[magnitude_prune_mask])
    if not isinstance(got, np.ndarray) or got.shape != W.shape:
        _fail(f"{call} returned {checks._abridge(got)}; expected an array of shape {W.shape}.")
    if got.dtype != bool:
        _fail(f"{call} returned dtype {got.dtype}; expected bool (True = keep), e.g. np.abs(W) > threshold.")
    k = int(round(fraction * W.size))
    removed = int((~got).sum())
    if removed != k:
        _fail(f"{call} removes {removed} entries; expected round(fraction * W.size) = {k}.")
    if 0 < k < W.size and np.abs(W[~got]).max() > np.abs(W[got]).min():
        _fail(f"{call} removes an entry with |W| = {np.abs(W[~got]).max():.4g} but keeps one with "
              f"|W| = {np.abs(W[got]).min():.4g}: remove the entries of smallest magnitude |W|.")
    if not quiet:
        print(f"\u2714 magnitude_prune_mask: removes the {k} smallest of {W.size} entries ({fraction:.0%}).")


def check_regularized(fn, epochs, margin, quiet=False):
    """The student's ``train_regularized(split, epochs)``: a trained model whose validation accuracy beats
    the unregularised table model (trained for the same epochs) by ``margin``.

    train_variant (the table's runs) is forbidden while it runs; the model is
    evaluated in eval mode on the validation split. Returns (theirs, baseline).
    """
    __tracebackhide__ = True
    split = load_slice()
    baseline = train_variant("none", epochs)["val_accuracy"][-1]
    call = f"`train_regularized` for {epochs} epochs"
    with forbid(train_variant):
        model, _ = checks.run_student(fn, (split, epochs), "train_regularized", call)
    if not isinstance(model, nn.Module):
        _fail(f"{call} returned {checks._abridge(model)}; expected the trained model (a dlcourse Module).")
    model.eval()
    accuracy = train.accuracy(model(split.X_val), split.y_val)
    if accuracy < baseline + margin:
        _fail(f"{call}: validation accuracy {accuracy:.2%}; the unregularised model reaches {baseline:.2%} "
              f"in "
              f"{epochs} epochs, and yours must reach {baseline + margin:.2%} (a margin of {margin:.1%}).")
    if not quiet:
        print(f"\u2714 train_regularized: validation accuracy {accuracy:.2%} against {baseline:.2%} "
              f"unregularised "
              f"(+{accuracy - baseline:.2%}, at least +{margin:.1%} required).")
    return accuracy, baseline


# -- 8. the dropout explorer: one thinned network against the average of many --------
def _thinned_forward(model, X, masks):
    """Forward through the moons MLP with one fixed mask per Dropout layer ((hidden,), 0 or 1/(1-p))."""
    out, masks = X, list(masks)
    for layer in model:
        out = out * masks.pop(0) if isinstance(layer, nn.Dropout) else layer(out)
    return out


@functools.lru_cache(maxsize=32)
def dropout_ensemble(seed=0, p=0.4, n_networks=30, grid=60):
    """One thinned network of the moons MLP trained with dropout p, the average of many, and eval mode.

    Each thinned network keeps each hidden unit with probability 1 - p (one
    mask per unit, shared by every input, scaled by 1/(1-p)). Returns dict:
    ``masks`` (list of (100,) arrays of the first network), ``one``, ``average``
    and ``eval`` ((grid, grid) probabilities of class 1), ``extent``,
    ``val_one``, ``val_average``, ``val_eval`` (validation accuracies).
    """
    run = moons_run(dropout=p)
    model = run["model"].eval()
    extent = run["extent"]
    _, _, X_val, y_val = moons_data()
    gx, gy = np.meshgrid(np.linspace(extent[0], extent[1], grid), np.linspace(extent[2], extent[3], grid))
    points = np.concatenate([np.column_stack([gx.ravel(), gy.ravel()]), X_val])
    rng = np.random.default_rng(seed)
    n_drop = sum(isinstance(layer, nn.Dropout) for layer in model)

    def probability(scores):
        return np.exp(scores[:, 1] - np.logaddexp(scores[:, 0], scores[:, 1]))

    networks = []
    for _ in range(n_networks):
        masks = [(rng.random(100) >= p) / (1 - p) for _ in range(n_drop)]
        networks.append((masks, probability(_thinned_forward(model, points, masks))))
    one, average = networks[0][1], np.mean([prob for _, prob in networks], axis=0)
    full = probability(model(points))
    n = grid * grid
    accuracy = {name: float(np.mean((prob[n:] > 0.5) == y_val)) for name, prob in
                (("one", one), ("average", average), ("eval", full))}
    return {"masks": networks[0][0], "one": one[:n].reshape(grid, grid),
            "average": average[:n].reshape(grid, grid),
            "eval": full[:n].reshape(grid, grid), "extent": extent, "val_one": accuracy["one"],
            "val_average": accuracy["average"], "val_eval": accuracy["eval"]}


AUGMENTATIONS = {"shift": random_shift, "crop": random_crop, "flip": random_flip, "rotation": random_rotation}


def augment(images, transform, amount, seed=0):
    """``images`` (N, C, H, W) through one transform of AUGMENTATIONS; ``amount`` is pixels, degrees or p."""
    rng = np.random.default_rng(seed)
    if transform == "flip":
        return random_flip(images, rng, p=amount)
    if transform == "rotation":
        return random_rotation(images, amount, rng)
    return AUGMENTATIONS[transform](images, int(amount), rng)
