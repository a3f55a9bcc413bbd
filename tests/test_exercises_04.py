"""Chapter 04's graded test cells against alternative answers: fair both ways.

Each exercise gets two correct answers written differently from the solution
(they must pass the whole test cell, visible and hidden parts, as nbgrader
runs it from solutions/) and three plausible wrong ones (they must fail it).
The cells run here as they are stored, after the notebook's import cell and
the loading of the data slice, so a change to a test cell is tested as it is.
"""
import pytest
from exercise_cells import ExerciseCells

pytestmark = pytest.mark.chapter04

CELLS = ExerciseCells("04_regularization")
cell, run_test_cell, fails = CELLS.cell, CELLS.run_test_cell, CELLS.fails


@pytest.fixture(scope="module")
def setup():
    """The notebook's namespace after its import cell and the data slice, as a test cell finds it."""
    namespace = CELLS.run_cells("code-1")
    exec("split = R.load_slice()", namespace)
    return namespace


def test_the_solutions_pass(setup):
    pairs = [("l2_penalty", "test_l2_penalty"), ("sgd_step", "test_sgd_step"),
             ("early_stopping", "test_early_stopping"), ("dropout_layer", "test_dropout_layer"),
             ("batchnorm_forward", "test_batchnorm_forward"),
             ("batchnorm_backward", "test_batchnorm_backward"), ("max_norm", "test_max_norm"),
             ("random_shift", "test_random_shift"), ("prune_mask", "test_prune_mask")]
    for solution_id, test_id in pairs:
        run_test_cell(setup, cell(solution_id), test_id)


def test_the_stub_is_not_attempted(setup):
    from dlcourse.checks import NotAttempted
    with pytest.raises(NotAttempted):
        run_test_cell(setup, "def max_norm(W, kappa):\n    raise NotImplementedError()\n", "test_max_norm")


# -- Exercise 1: the L2 penalty and its gradient --------
L2_RIGHT = {
    "einsum and a float64 sum": """
def l2_penalty(weights, lam):
    total = 0.0
    for W in weights:
        total += float(np.einsum("ij,ij->", W, W))
    return lam * total / 2


def l2_grad(W, lam):
    return np.multiply(W, lam, dtype=W.dtype)
""",
    "norms squared": """
def l2_penalty(weights, lam):
    return float(lam / 2 * sum(np.linalg.norm(W.astype(float)) ** 2 for W in weights))


def l2_grad(W, lam):
    return (lam * W).astype(W.dtype)
""",
}

L2_WRONG = {
    "no factor 1/2": """
def l2_penalty(weights, lam):
    return float(lam * sum(np.sum(W ** 2) for W in weights))


def l2_grad(W, lam):
    return lam * W
""",
    "gradient 2 lam W": """
def l2_penalty(weights, lam):
    return float(lam / 2 * sum(np.sum(W ** 2) for W in weights))


def l2_grad(W, lam):
    return 2 * lam * W
""",
    "float64 gradient": """
def l2_penalty(weights, lam):
    return float(lam / 2 * sum(np.sum(W ** 2) for W in weights))


def l2_grad(W, lam):
    return np.asarray(W, dtype=np.float64) * lam
""",
}


@pytest.mark.parametrize("name", L2_RIGHT)
def test_l2_accepts_right_answers(setup, name):
    run_test_cell(setup, L2_RIGHT[name], "test_l2_penalty")


@pytest.mark.parametrize("name", L2_WRONG)
def test_l2_refuses_wrong_answers(setup, name):
    fails(setup, L2_WRONG[name], "test_l2_penalty")


def test_l2_refuses_the_reference(setup):
    fails(setup, "l2_penalty = R.l2_penalty\nl2_grad = R.l2_grad\n", "test_l2_penalty", match="Honesty")


# -- Exercise 2: SGD with weight decay --------
SGD_RIGHT = {
    "shrink then step": """
def sgd_step(params, lr, weight_decay):
    for p in params:
        p.data *= 1 - lr * weight_decay
        p.data -= lr * p.grad
""",
    "np.subtract with out": """
def sgd_step(params, lr, weight_decay):
    for p in params:
        g = p.grad + weight_decay * p.data
        np.subtract(p.data, lr * g, out=p.data)
""",
}

SGD_WRONG = {
    "decay written into the gradient": """
def sgd_step(params, lr, weight_decay):
    for p in params:
        p.grad += weight_decay * p.data
        p.data -= lr * p.grad
""",
    "a new array": """
def sgd_step(params, lr, weight_decay):
    for p in params:
        p.data = p.data - lr * (p.grad + weight_decay * p.data)
""",
    "decay without the learning rate": """
def sgd_step(params, lr, weight_decay):
    for p in params:
        p.data -= lr * p.grad + weight_decay * p.data
""",
}


@pytest.mark.parametrize("name", SGD_RIGHT)
def test_sgd_step_accepts_right_answers(setup, name):
    run_test_cell(setup, SGD_RIGHT[name], "test_sgd_step")


@pytest.mark.parametrize("name", SGD_WRONG)
def test_sgd_step_refuses_wrong_answers(setup, name):
    fails(setup, SGD_WRONG[name], "test_sgd_step")


# -- Exercise 3: early stopping --------
EARLY_RIGHT = {
    "a list of losses": """
import copy

class EarlyStopping:
    def __init__(self, patience):
        self.patience = patience
        self.losses = []
        self.best_state = None

    @property
    def best_epoch(self):
        return int(np.argmin(self.losses))       # the first minimum: equal losses do not count

    @property
    def best_loss(self):
        return min(self.losses)

    def step(self, val_loss, model):
        self.losses.append(val_loss)
        if self.best_epoch == len(self.losses) - 1:
            self.best_state = copy.deepcopy(model.state_dict())
        return len(self.losses) - 1 - self.best_epoch >= self.patience
""",
    "a countdown and copies of the arrays": """
class EarlyStopping:
    def __init__(self, patience):
        self.patience, self.left = patience, patience
        self.best_loss, self.best_epoch, self.epochs = np.inf, None, 0
        self.best_state = None

    def step(self, val_loss, model):
        epoch, self.epochs = self.epochs, self.epochs + 1
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.left = val_loss, epoch, self.patience
            self.best_state = {name: value.copy() for name, value in model.state_dict().items()}
            return False
        self.left -= 1
        return self.left == 0
""",
}

EARLY_WRONG = {
    "the arrays themselves, not copies": """
class EarlyStopping:
    def __init__(self, patience):
        self.patience, self.best_loss, self.best_epoch, self.epoch, self.waited = patience, np.inf, -1, -1, 0

    def step(self, val_loss, model):
        self.epoch += 1
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.waited = val_loss, self.epoch, 0
            self.best_state = {name: p.data for name, p in model.named_parameters()}
        else:
            self.waited += 1
        return self.waited >= self.patience
""",
    "an equal loss counts as an improvement": """
class EarlyStopping:
    def __init__(self, patience):
        self.patience, self.best_loss, self.best_epoch, self.epoch, self.waited = patience, np.inf, -1, -1, 0

    def step(self, val_loss, model):
        self.epoch += 1
        if val_loss <= self.best_loss:
            self.best_loss, self.best_epoch, self.waited = val_loss, self.epoch, 0
            self.best_state = model.state_dict()
        else:
            self.waited += 1
        return self.waited >= self.patience
""",
    "stops one epoch late": """
class EarlyStopping:
    def __init__(self, patience):
        self.patience, self.best_loss, self.best_epoch, self.epoch, self.waited = patience, np.inf, -1, -1, 0

    def step(self, val_loss, model):
        self.epoch += 1
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.waited = val_loss, self.epoch, 0
            self.best_state = model.state_dict()
        else:
            self.waited += 1
        return self.waited > self.patience
""",
}


@pytest.mark.parametrize("name", EARLY_RIGHT)
def test_early_stopping_accepts_right_answers(setup, name):
    run_test_cell(setup, EARLY_RIGHT[name], "test_early_stopping")


@pytest.mark.parametrize("name", EARLY_WRONG)
def test_early_stopping_refuses_wrong_answers(setup, name):
    fails(setup, EARLY_WRONG[name], "test_early_stopping")


# -- Exercise 4: dropout --------
DROPOUT_RIGHT = {
    "binomial mask, scaled in forward and backward": """
class DropoutLayer(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        self.scale = None
        if not self.training:
            return x
        if self.p == 1:
            self.keep, self.scale = np.zeros_like(x), 0.0
            return np.zeros_like(x)
        self.keep = dlcourse.random.generator().binomial(1, 1 - self.p, size=x.shape).astype(x.dtype)
        self.scale = x.dtype.type(1 / (1 - self.p))
        return x * self.keep * self.scale

    def backward(self, grad_out):
        if self.scale is None:
            return grad_out
        return grad_out * self.keep * self.scale
""",
    "generator cached at construction, np.where": """
class DropoutLayer(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p
        self.rng = dlcourse.random.generator()

    def forward(self, x):
        if self.training and self.p > 0:
            dropped = self.rng.uniform(size=x.shape) < self.p
            factor = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
            self.mask = np.where(dropped, 0, factor).astype(x.dtype)
        else:
            self.mask = np.ones_like(x)
        return x * self.mask

    def backward(self, grad_out):
        return grad_out * self.mask
""",
}

DROPOUT_WRONG = {
    "p read as the keep probability": """
class DropoutLayer(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            self.mask = 1
            return x
        self.mask = (dlcourse.random.generator().random(x.shape) < self.p).astype(x.dtype) / self.p
        return x * self.mask

    def backward(self, grad_out):
        return grad_out * self.mask
""",
    "no rescaling (not inverted)": """
class DropoutLayer(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            self.mask = 1
            return x
        self.mask = (dlcourse.random.generator().random(x.shape) >= self.p).astype(x.dtype)
        return x * self.mask

    def backward(self, grad_out):
        return grad_out * self.mask
""",
    "a new mask in backward": """
class DropoutLayer(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def _mask(self, shape, dtype):
        if not self.training or self.p == 0:
            return np.ones(shape, dtype)
        if self.p == 1:
            return np.zeros(shape, dtype)
        return (dlcourse.random.generator().random(shape) >= self.p).astype(dtype) / (1 - self.p)

    def forward(self, x):
        return x * self._mask(x.shape, x.dtype)

    def backward(self, grad_out):
        return grad_out * self._mask(grad_out.shape, grad_out.dtype)
""",
}


@pytest.mark.parametrize("name", DROPOUT_RIGHT)
def test_dropout_accepts_right_answers(setup, name):
    run_test_cell(setup, DROPOUT_RIGHT[name], "test_dropout_layer")


@pytest.mark.parametrize("name", DROPOUT_WRONG)
def test_dropout_refuses_wrong_answers(setup, name):
    fails(setup, DROPOUT_WRONG[name], "test_dropout_layer")


def test_dropout_refuses_the_reference(setup):
    answer = """
class DropoutLayer(nn.Dropout):
    pass
"""
    fails(setup, answer, "test_dropout_layer", match="Honesty")


def test_dropout_with_np_random_is_refused(setup):
    answer = DROPOUT_RIGHT["binomial mask, scaled in forward and backward"].replace(
        "dlcourse.random.generator().binomial", "np.random.binomial")
    fails(setup, answer, "test_dropout_layer", match="manual_seed")


# -- Exercise 5: batch norm forward --------
BN_FORWARD_RIGHT = {
    "by hand, in-place operators": """
def batchnorm_forward(X, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if training:
        N = len(X)
        mu = X.sum(axis=0) / N
        var = ((X - mu) ** 2).sum(axis=0) / N
        running_mean *= 1 - momentum
        running_mean += momentum * mu
        running_var *= 1 - momentum
        running_var += momentum * ((X - mu) ** 2).sum(axis=0) / (N - 1)
    else:
        mu, var = running_mean.copy(), running_var.copy()
    X_hat = (X - mu) / np.sqrt(var + eps)
    return X_hat * gamma + beta
""",
    "np.var with ddof": """
def batchnorm_forward(X, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if not training:
        return gamma * (X - running_mean) / np.sqrt(running_var + eps) + beta
    mu = np.mean(X, axis=0)
    np.copyto(running_mean, (1 - momentum) * running_mean + momentum * mu)
    np.copyto(running_var, (1 - momentum) * running_var + momentum * np.var(X, axis=0, ddof=1))
    return gamma * (X - mu) / np.sqrt(np.var(X, axis=0) + eps) + beta
""",
}

BN_FORWARD_WRONG = {
    "running statistics rebound, not updated in place": """
def batchnorm_forward(X, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if training:
        mu, var = X.mean(axis=0), X.var(axis=0)
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var = (1 - momentum) * running_var + momentum * X.var(axis=0, ddof=1)
    else:
        mu, var = running_mean, running_var
    return gamma * (X - mu) / np.sqrt(var + eps) + beta
""",
    "biased variance in the running average": """
def batchnorm_forward(X, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if training:
        mu, var = X.mean(axis=0), X.var(axis=0)
        running_mean[...] = (1 - momentum) * running_mean + momentum * mu
        running_var[...] = (1 - momentum) * running_var + momentum * var
    else:
        mu, var = running_mean, running_var
    return gamma * (X - mu) / np.sqrt(var + eps) + beta
""",
    "batch statistics in eval mode": """
def batchnorm_forward(X, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    N = len(X)
    mu, var = X.mean(axis=0), X.var(axis=0)
    if training:
        running_mean[...] = (1 - momentum) * running_mean + momentum * mu
        running_var[...] = (1 - momentum) * running_var + momentum * var * N / (N - 1)
    return gamma * (X - mu) / np.sqrt(var + eps) + beta
""",
}


@pytest.mark.parametrize("name", BN_FORWARD_RIGHT)
def test_batchnorm_forward_accepts_right_answers(setup, name):
    run_test_cell(setup, BN_FORWARD_RIGHT[name], "test_batchnorm_forward")


@pytest.mark.parametrize("name", BN_FORWARD_WRONG)
def test_batchnorm_forward_refuses_wrong_answers(setup, name):
    fails(setup, BN_FORWARD_WRONG[name], "test_batchnorm_forward")


# -- Exercise 6: batch norm backward --------
BN_BACKWARD_RIGHT = {
    "the long way through mu and var": """
def batchnorm_backward(dY, X, gamma, eps=1e-5):
    N = X.shape[0]
    mu = X.mean(axis=0)
    xc = X - mu
    var = (xc ** 2).mean(axis=0)
    inv = 1 / np.sqrt(var + eps)
    X_hat = xc * inv
    dX_hat = dY * gamma
    dvar = np.sum(dX_hat * xc, axis=0) * -0.5 * inv ** 3
    dmu = -np.sum(dX_hat * inv, axis=0) + dvar * np.mean(-2 * xc, axis=0)
    dX = dX_hat * inv + dvar * 2 * xc / N + dmu / N
    return dX, np.sum(dY * X_hat, axis=0), np.sum(dY, axis=0)
""",
    "means instead of sums": """
def batchnorm_backward(dY, X, gamma, eps=1e-5):
    X_hat = (X - X.mean(0)) / np.sqrt(X.var(0) + eps)
    D = dY * gamma
    dX = (D - D.mean(0) - X_hat * (D * X_hat).mean(0)) / np.sqrt(X.var(0) + eps)
    return dX, (dY * X_hat).sum(0), dY.sum(0)
""",
}

BN_BACKWARD_WRONG = {
    "eval-mode gradient (no correction sums)": """
def batchnorm_backward(dY, X, gamma, eps=1e-5):
    X_hat = (X - X.mean(0)) / np.sqrt(X.var(0) + eps)
    return dY * gamma / np.sqrt(X.var(0) + eps), (dY * X_hat).sum(0), dY.sum(0)
""",
    "the mean's path forgotten": """
def batchnorm_backward(dY, X, gamma, eps=1e-5):
    X_hat = (X - X.mean(0)) / np.sqrt(X.var(0) + eps)
    D = dY * gamma
    dX = (D - X_hat * (D * X_hat).mean(0)) / np.sqrt(X.var(0) + eps)
    return dX, (dY * X_hat).sum(0), dY.sum(0)
""",
    "dgamma and dbeta swapped": """
def batchnorm_backward(dY, X, gamma, eps=1e-5):
    X_hat = (X - X.mean(0)) / np.sqrt(X.var(0) + eps)
    D = dY * gamma
    dX = (D - D.mean(0) - X_hat * (D * X_hat).mean(0)) / np.sqrt(X.var(0) + eps)
    return dX, dY.sum(0), (dY * X_hat).sum(0)
""",
}


@pytest.mark.parametrize("name", BN_BACKWARD_RIGHT)
def test_batchnorm_backward_accepts_right_answers(setup, name):
    run_test_cell(setup, BN_BACKWARD_RIGHT[name], "test_batchnorm_backward")


@pytest.mark.parametrize("name", BN_BACKWARD_WRONG)
def test_batchnorm_backward_refuses_wrong_answers(setup, name):
    fails(setup, BN_BACKWARD_WRONG[name], "test_batchnorm_backward")


# -- Exercise 7: max-norm --------
MAX_NORM_RIGHT = {
    "np.where on the norms": """
def max_norm(W, kappa):
    norms = np.sqrt((W ** 2).sum(axis=1, keepdims=True))
    return np.where(norms > kappa, W * kappa / np.where(norms > kappa, norms, 1), W).astype(W.dtype)
""",
    "a copy scaled row by row": """
def max_norm(W, kappa):
    out = W.copy()
    for j, row in enumerate(W):
        n = np.linalg.norm(row)
        if n > kappa:
            out[j] = row * (kappa / n)
    return out
""",
}

MAX_NORM_WRONG = {
    "every row scaled to kappa": """
def max_norm(W, kappa):
    norms = np.linalg.norm(W, axis=1, keepdims=True)
    return (W * kappa / np.maximum(norms, 1e-12)).astype(W.dtype)
""",
    "columns instead of rows": """
def max_norm(W, kappa):
    norms = np.linalg.norm(W, axis=0, keepdims=True)
    return (W * (kappa / np.maximum(norms, kappa))).astype(W.dtype)
""",
    "entries clipped": """
def max_norm(W, kappa):
    return np.clip(W, -kappa, kappa)
""",
}


@pytest.mark.parametrize("name", MAX_NORM_RIGHT)
def test_max_norm_accepts_right_answers(setup, name):
    run_test_cell(setup, MAX_NORM_RIGHT[name], "test_max_norm")


@pytest.mark.parametrize("name", MAX_NORM_WRONG)
def test_max_norm_refuses_wrong_answers(setup, name):
    fails(setup, MAX_NORM_WRONG[name], "test_max_norm")


def test_max_norm_dividing_by_a_zero_norm_is_refused_visibly(setup):
    answer = """
def max_norm(W, kappa):
    norms = np.linalg.norm(W, axis=1, keepdims=True)
    return (W * np.minimum(1, kappa / norms)).astype(W.dtype)
"""
    namespace = dict(setup)
    exec(answer, namespace)
    visible = cell("test_max_norm").split("### BEGIN HIDDEN TESTS")[0]
    from dlcourse.checks import CheckFailed
    with pytest.raises(CheckFailed, match="warned"):
        exec(visible, namespace)


# -- Exercise 8: random shift --------
SHIFT_RIGHT = {
    "np.roll then zero the wrapped border": """
def random_shift(images, max_shift, rng):
    out = np.zeros_like(images)
    H, W = images.shape[2:]
    for n in range(len(images)):
        dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
        moved = np.roll(images[n], (dy, dx), axis=(1, 2))
        keep = np.zeros((H, W), dtype=bool)
        keep[max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = True
        out[n] = moved * keep
    return out
""",
    "slices into a zero canvas": """
def random_shift(images, max_shift, rng):
    N, C, H, W = images.shape
    out = np.zeros_like(images)
    dys = rng.integers(-max_shift, max_shift, size=N, endpoint=True)
    dxs = rng.integers(-max_shift, max_shift, size=N, endpoint=True)
    for n in range(N):
        dy, dx = dys[n], dxs[n]
        out[n, :, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \\
            images[n, :, max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    return out
""",
}

SHIFT_WRONG = {
    "np.roll wraps around": """
def random_shift(images, max_shift, rng):
    out = np.empty_like(images)
    for n in range(len(images)):
        dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
        out[n] = np.roll(images[n], (dy, dx), axis=(1, 2))
    return out
""",
    "the end of the range left out": """
def random_shift(images, max_shift, rng):
    N, C, H, W = images.shape
    s = max_shift
    padded = np.pad(images, ((0, 0), (0, 0), (s, s), (s, s)))
    out = np.empty_like(images)
    for n, (dy, dx) in enumerate(rng.integers(-s, s, size=(N, 2))):
        out[n] = padded[n, :, s - dy:s - dy + H, s - dx:s - dx + W]
    return out
""",
    "np.random instead of rng": """
def random_shift(images, max_shift, rng):
    N, C, H, W = images.shape
    s = max_shift
    padded = np.pad(images, ((0, 0), (0, 0), (s, s), (s, s)))
    out = np.empty_like(images)
    for n, (dy, dx) in enumerate(np.random.randint(-s, s + 1, size=(N, 2))):
        out[n] = padded[n, :, s - dy:s - dy + H, s - dx:s - dx + W]
    return out
""",
}


@pytest.mark.parametrize("name", SHIFT_RIGHT)
def test_random_shift_accepts_right_answers(setup, name):
    run_test_cell(setup, SHIFT_RIGHT[name], "test_random_shift")


@pytest.mark.parametrize("name", SHIFT_WRONG)
def test_random_shift_refuses_wrong_answers(setup, name):
    fails(setup, SHIFT_WRONG[name], "test_random_shift")


# -- Exercise 9: the pruning mask --------
PRUNE_RIGHT = {
    "a threshold from np.partition": """
def magnitude_prune_mask(W, fraction):
    k = int(round(fraction * W.size))
    if k == 0:
        return np.ones(W.shape, dtype=bool)
    threshold = np.partition(np.abs(W).ravel(), k - 1)[k - 1]
    return np.abs(W) > threshold
""",
    "ranks by a double argsort": """
def magnitude_prune_mask(W, fraction):
    ranks = np.argsort(np.argsort(np.abs(W).ravel()))
    return (ranks >= round(fraction * W.size)).reshape(W.shape)
""",
}

PRUNE_WRONG = {
    "the largest removed": """
def magnitude_prune_mask(W, fraction):
    k = int(round(fraction * W.size))
    mask = np.ones(W.size, dtype=bool)
    mask[np.argsort(-np.abs(W), axis=None)[:k]] = False
    return mask.reshape(W.shape)
""",
    "signed values, not magnitudes": """
def magnitude_prune_mask(W, fraction):
    k = int(round(fraction * W.size))
    mask = np.ones(W.size, dtype=bool)
    mask[np.argsort(W, axis=None)[:k]] = False
    return mask.reshape(W.shape)
""",
    "a float mask": """
def magnitude_prune_mask(W, fraction):
    k = int(round(fraction * W.size))
    mask = np.ones(W.size)
    mask[np.argsort(np.abs(W), axis=None)[:k]] = 0
    return mask.reshape(W.shape)
""",
}


@pytest.mark.parametrize("name", PRUNE_RIGHT)
def test_prune_mask_accepts_right_answers(setup, name):
    run_test_cell(setup, PRUNE_RIGHT[name], "test_prune_mask")


@pytest.mark.parametrize("name", PRUNE_WRONG)
def test_prune_mask_refuses_wrong_answers(setup, name):
    fails(setup, PRUNE_WRONG[name], "test_prune_mask")


# -- Exercise 10: a regularised model --------
REGULARIZED_RIGHT = {
    "shifts of 1 pixel, no dropout, fit's loop by hand": """
def train_regularized(split, epochs):
    dlcourse.manual_seed(3)
    rng = np.random.default_rng(3)
    net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = losses.CrossEntropyLoss()
    for _ in range(epochs):
        for Xb, yb in dlcourse.data.minibatches(split.raw_train, split.y_train, 50,
            seed=int(rng.integers(1000))):
            opt.zero_grad()
            loss_fn(net(split.standardize(R.random_shift(Xb, 1, rng))), yb)
            net.backward(loss_fn.backward())
            opt.step()
    return net
""",
    "shifts, dropout and AdamW": """
def train_regularized(split, epochs):
    dlcourse.manual_seed(1)
    rng = np.random.default_rng(1)
    net = R.mlp(784, dropout=0.3)
    opt = optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
    loss_fn = losses.CrossEntropyLoss()
    for _ in range(epochs):
        order = rng.permutation(1000)
        for start in range(0, 1000, 50):
            index = order[start:start + 50]
            X_batch = split.standardize(R.random_shift(split.raw_train[index], 2, rng))
            train.train_step(net, loss_fn, opt, X_batch, split.y_train[index])
    return net
""",
}

REGULARIZED_WRONG = {
    "no regularisation at all": """
def train_regularized(split, epochs):
    dlcourse.manual_seed(0)
    net = R.mlp(784)
    train.fit(net, losses.CrossEntropyLoss(), optim.Adam(net.parameters(), lr=1e-3), split.X_train,
        split.y_train,
              epochs=epochs, batch_size=50, progress=False)
    return net
""",
    "the table's own run": """
def train_regularized(split, epochs):
    return R.train_variant("combination", epochs)["model"]
""",
    "returns the history": """
def train_regularized(split, epochs):
    dlcourse.manual_seed(0)
    net = R.mlp(784, dropout=0.2)
    return train.fit(net, losses.CrossEntropyLoss(), optim.Adam(net.parameters(), lr=1e-3), split.X_train,
                     split.y_train, epochs=epochs, batch_size=50, progress=False)
""",
}


@pytest.mark.parametrize("name", REGULARIZED_RIGHT)
def test_regularized_accepts_right_answers(setup, name):
    run_test_cell(setup, REGULARIZED_RIGHT[name], "test_train_regularized")


@pytest.mark.parametrize("name", REGULARIZED_WRONG)
def test_regularized_refuses_wrong_answers(setup, name):
    fails(setup, REGULARIZED_WRONG[name], "test_train_regularized")


def test_regularized_solution_passes(setup):
    run_test_cell(setup, cell("train_regularized"), "test_train_regularized")
