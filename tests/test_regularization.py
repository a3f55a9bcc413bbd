"""dlcourse.regularization: the references against PyTorch (float64) and central differences, every
ValueError, the chapter's experiments, and every failure message of every check_ function."""
import numpy as np
import pytest
import torch

import dlcourse
from dlcourse import checks, gradcheck, nn, optim
from dlcourse import regularization as R

pytestmark = pytest.mark.chapter04

CheckFailed = checks.CheckFailed


def fails(match, fn, *args, **kwargs):
    with pytest.raises(CheckFailed) as error:
        fn(*args, **kwargs)
    assert match in str(error.value), str(error.value)


# -- the references --------
def test_l2_penalty_and_gradient_against_torch():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 4)), rng.normal(size=(2, 3))]
    tensors = [torch.tensor(W, requires_grad=True) for W in weights]
    penalty = 0.3 / 2 * sum((t ** 2).sum() for t in tensors)
    penalty.backward()
    assert R.l2_penalty(weights, 0.3) == pytest.approx(penalty.item(), rel=1e-12)
    for W, t in zip(weights, tensors, strict=True):
        np.testing.assert_allclose(R.l2_grad(W, 0.3), t.grad.numpy(), rtol=1e-12)
    numeric = gradcheck.numerical_gradient(lambda V: R.l2_penalty([V], 0.3), weights[0].copy())
    np.testing.assert_allclose(R.l2_grad(weights[0], 0.3), numeric, rtol=1e-6)
    assert R.l2_grad(weights[0].astype(np.float32), 0.3).dtype == np.float32


def test_sgd_weight_decay_is_the_l2_gradient_and_matches_torch():
    rng = np.random.default_rng(1)
    W0, dW = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    p = nn.Parameter(W0, dtype=np.float64)
    p.grad[...] = dW
    optim.SGD([p], lr=0.1, weight_decay=0.05).step()
    t = torch.tensor(W0, requires_grad=True)
    t.grad = torch.tensor(dW)
    torch.optim.SGD([t], lr=0.1, weight_decay=0.05).step()
    np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(p.data, W0 - 0.1 * (dW + R.l2_grad(W0, 0.05)), rtol=1e-12)


def test_max_norm():
    W = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    out = R.max_norm(W, 1.0)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]])
    assert R.max_norm(W.astype(np.float32), 2.0).dtype == np.float32
    with pytest.raises(ValueError, match="max_norm expects a weight matrix of shape"):
        R.max_norm(np.ones(3), 1.0)
    with pytest.raises(ValueError, match="max_norm expects a bound kappa > 0"):
        R.max_norm(W, 0.0)


def test_random_shift_moves_each_image_within_range_and_fills_zeros():
    rng = np.random.default_rng(2)
    images = rng.uniform(0.1, 1.0, size=(40, 2, 7, 6)).astype(np.float32)
    out = R.random_shift(images, 2, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.float32
    shifts = [R._shift_of(images[n], out[n], 2) for n in range(40)]
    assert None not in shifts and len(set(shifts)) > 10
    np.testing.assert_array_equal(R.random_shift(images, 0, np.random.default_rng(0)), images)
    np.testing.assert_array_equal(R.random_crop(images, 2, np.random.default_rng(0)), out)
    # a known shift: content moves down by dy and right by dx
    one = np.arange(12.0).reshape(1, 1, 3, 4)

    class Fixed:
        def integers(self, low, high, size):
            return np.array([[1, -1]])
    np.testing.assert_array_equal(R.random_shift(one, 1, Fixed())[0, 0],
                                  [[0, 0, 0, 0], [1, 2, 3, 0], [5, 6, 7, 0]])
    with pytest.raises(ValueError, match=r"random_shift expects images of shape \(N, C, H, W\)"):
        R.random_shift(np.zeros((3, 4, 4)), 1, rng)
    with pytest.raises(ValueError, match="random_shift expects max_shift to be an integer >= 0"):
        R.random_shift(images, -1, rng)
    with pytest.raises(ValueError, match="random_shift expects max_shift to be an integer >= 0"):
        R.random_shift(images, 1.5, rng)


def test_random_flip_and_rotation():
    rng = np.random.default_rng(3)
    images = rng.uniform(size=(20, 1, 9, 9)).astype(np.float32)
    flipped = R.random_flip(images, np.random.default_rng(0), p=1.0)
    np.testing.assert_array_equal(flipped, images[..., ::-1])
    np.testing.assert_array_equal(R.random_flip(images, np.random.default_rng(0), p=0.0), images)
    same = R.random_rotation(images, 0.0, np.random.default_rng(0))
    np.testing.assert_allclose(same, images, atol=1e-6)
    turned = R.random_rotation(images, 30.0, np.random.default_rng(0))
    assert turned.shape == images.shape and turned.dtype == np.float32 and not np.allclose(turned, images)
    # a 90-degree rotation of a square image is np.rot90 (up to the direction)
    quarter = R.random_rotation(images[:1], 90.0, _Constant(np.pi / 2))
    assert np.allclose(quarter[0, 0], np.rot90(images[0, 0], 1), atol=1e-5) or \
        np.allclose(quarter[0, 0], np.rot90(images[0, 0], -1), atol=1e-5)
    with pytest.raises(ValueError, match="random_flip expects images"):
        R.random_flip(np.zeros((2, 2)), rng)
    with pytest.raises(ValueError, match="random_rotation expects images"):
        R.random_rotation(np.zeros((2, 2)), 10, rng)


class _Constant:
    """A stand-in generator whose uniform() returns one angle in degrees (given in radians)."""

    def __init__(self, radians):
        self.degrees = np.rad2deg(radians)

    def uniform(self, low, high, size):
        return np.full(size, self.degrees)


def test_magnitude_prune_mask():
    W = np.array([[0.5, -0.1], [2.0, -3.0]])
    np.testing.assert_array_equal(R.magnitude_prune_mask(W, 0.5), [[False, False], [True, True]])
    assert R.magnitude_prune_mask(W, 0.0).all() and not R.magnitude_prune_mask(W, 1.0).any()
    assert R.magnitude_prune_mask(W.astype(np.float32), 0.25).dtype == bool
    with pytest.raises(ValueError, match=r"magnitude_prune_mask expects a fraction in \[0, 1\]"):
        R.magnitude_prune_mask(W, 1.5)


def test_early_stopping_reference():
    model = nn.Linear(2, 1)
    monitor = R.EarlyStopping(2)
    decisions = []
    for epoch, loss in enumerate([1.0, 0.5, 0.7, 0.5, 0.9]):
        model.weight.data[...] = epoch
        decisions.append(monitor.step(loss, model))
    assert decisions == [False, False, False, True, True]
    assert monitor.best_epoch == 1 and monitor.best_loss == 0.5
    assert np.all(monitor.best_state["weight"] == 1)
    assert R.early_stop_epoch([1.0, 0.5, 0.7, 0.5, 0.9], 2) == (3, 1)
    assert R.early_stop_epoch([3.0, 2.0, 1.0], 2) == (2, 2)
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="EarlyStopping expects patience to be an integer >= 1"):
            R.EarlyStopping(bad)


def test_batchnorm_references_against_torch():
    rng = np.random.default_rng(4)
    X, gamma, beta = rng.normal(1.0, 2.0, size=(8, 3)), rng.uniform(0.5, 2, 3), rng.normal(size=3)
    layer = torch.nn.BatchNorm1d(3).double()
    layer.weight.data, layer.bias.data = torch.tensor(gamma), torch.tensor(beta)
    running_mean, running_var = np.zeros(3), np.ones(3)
    for x in (X, 2 * X + 1):
        Y = R.batchnorm_forward(x, gamma, beta, running_mean, running_var, True)
        np.testing.assert_allclose(Y, layer(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(running_mean, layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(running_var, layer.running_var.numpy(), rtol=1e-12)
    layer.eval()
    Y = R.batchnorm_forward(X[:2], gamma, beta, running_mean, running_var, False)
    np.testing.assert_allclose(Y, layer(torch.tensor(X[:2])).detach().numpy(), rtol=1e-10)
    # backward in training mode
    layer.train()
    dY = rng.normal(size=X.shape)
    x_t = torch.tensor(X, requires_grad=True)
    layer.weight.grad = layer.bias.grad = None
    (layer(x_t) * torch.tensor(dY)).sum().backward()
    dX, dgamma, dbeta = R.batchnorm_backward(dY, X, gamma)
    np.testing.assert_allclose(dX, x_t.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgamma, layer.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(dbeta, layer.bias.grad.numpy(), rtol=1e-10)


def test_update_ratios_and_pruning_curve():
    dlcourse.manual_seed(0)
    model = R.mlp(6, hidden=8, classes=3).to(np.float64)
    X, y = np.random.default_rng(5).normal(size=(20, 6)), np.arange(20) % 3
    ratios = R.update_ratios(model, optim.SGD(model.parameters(), lr=0.0), X, y)
    assert set(ratios) == {"0.weight", "2.weight", "4.weight"} and all(r == 0 for r in ratios.values())
    before = model.state_dict()
    curve = R.pruning_curve(model, X, y, [0.0, 1.0])
    assert curve.shape == (2,) and 0 <= curve[1] <= 1
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])          # the weights are restored


def test_mlp_layers():
    model = R.mlp(10, hidden=4, depth=3, dropout=0.2, batchnorm=True, classes=2)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 3 + ["Linear"]


# -- the experiments (small versions) --------
def test_load_slice_is_disjoint_and_standardised():
    split = R.load_slice()
    assert split.X_train.shape == (1000, 784) and split.X_val.shape == (1000, 784)
    assert split.X_train.dtype == np.float32
    assert abs(float(split.X_train.mean())) < 1e-4 and abs(float(split.X_train.std()) - 1) < 1e-3
    train_rows = {row.tobytes() for row in split.X_train}
    assert not any(row.tobytes() in train_rows for row in split.X_val[:200])
    np.testing.assert_allclose(split.standardize(split.raw_train), split.X_train, rtol=1e-6, atol=1e-6)


def test_train_variant_short_runs():
    plain = R.train_variant("none", 2)
    assert len(plain["val_accuracy"]) == 2 and len(plain["states"]) == 2
    assert plain["train_loss"][1] < plain["train_loss"][0]
    assert 0.6 < plain["val_accuracy"][-1] <= 1
    shifted = R.train_variant("augmentation", 2)
    assert shifted["train_accuracy"][-1] != plain["train_accuracy"][-1]
    with pytest.raises(ValueError, match="train_variant expects a variant among"):
        R.train_variant("mixup", 2)


def test_sparsity_l1_against_l2():
    l1, _, _ = R.sparsity_run("l1", epochs=2)
    l2, _, _ = R.sparsity_run("l2", epochs=2)
    assert l1 > 2 * l2


def test_adam_decay_is_not_uniform():
    relative, adamw = R.adam_decay_ratios(epochs=1)
    assert adamw == pytest.approx(1e-4)
    assert np.percentile(relative, 99) > 5 * np.percentile(relative, 1)


def test_batch_norm_run_and_moons():
    curve, activations = R.bn_learning_rate_run(0.1, True, steps=10)
    assert curve.shape == (10,) and len(activations) == R.BN_DEPTH and np.isfinite(curve).all()
    run = R.moons_run(l2=0.01, steps=50)
    assert run["probability"].shape == (60, 60) and 0 <= run["val_accuracy"] <= 1
    ensemble = R.dropout_ensemble(seed=1)
    assert ensemble["one"].shape == (60, 60) and len(ensemble["masks"]) == 2
    assert set(np.unique(ensemble["masks"][0])) <= {0.0, 1 / 0.6}


# -- the checks: the right answers pass, every failure message --------
def test_check_l2():
    R.check_l2(lambda ws, lam: float(lam / 2 * sum((W ** 2).sum() for W in ws)), lambda W, lam: W * lam,
               quiet=True)
    fails("expected one number", R.check_l2, lambda ws, lam: [lam], lambda W, lam: W * lam)
    fails("is wrong", R.check_l2, lambda ws, lam: 0.0, lambda W, lam: W * lam)
    fails("Honesty", R.check_l2, R.l2_penalty, lambda W, lam: W * lam)


def sgd(params, lr, weight_decay):
    for p in params:
        p.data -= lr * (p.grad + weight_decay * p.data)


def test_check_sgd_weight_decay():
    R.check_sgd_weight_decay(sgd, [(2, 3)], 0.1, 0.01, quiet=True)

    def replaces(params, lr, weight_decay):
        for p in params:
            p.data = p.data - lr * (p.grad + weight_decay * p.data)

    def touches_grad(params, lr, weight_decay):
        for p in params:
            p.grad += weight_decay * p.data
            p.data -= lr * p.grad

    def no_decay(params, lr, weight_decay):
        for p in params:
            p.data -= lr * p.grad

    fails("in place", R.check_sgd_weight_decay, replaces, [(2, 3)], 0.1, 0.01)
    fails("changed parameter 0's .grad", R.check_sgd_weight_decay, touches_grad, [(2, 3)], 0.1, 0.01)
    fails("is wrong", R.check_sgd_weight_decay, no_decay, [(2, 3)], 0.1, 0.5)


class GoodDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            self.mask = None
            return x
        keep = dlcourse.random.generator().random(x.shape) >= self.p
        self.mask = keep.astype(x.dtype) / (1 - self.p) if self.p < 1 else np.zeros_like(x)
        return x * self.mask

    def backward(self, grad_out):
        return grad_out if self.mask is None else grad_out * self.mask


def variant(**overrides):
    """A subclass of GoodDropout with some methods replaced."""
    return type("Variant", (GoodDropout,), overrides)


def test_check_dropout_passes_and_its_edges():
    R.check_dropout(GoodDropout, quiet=True)
    R.check_dropout_edges(GoodDropout)


def half_as_often(self, x):
    """Drops with probability p / 2, but scales the kept entries by 1 / (1 - p)."""
    keep = dlcourse.random.generator().random(x.shape) >= self.p / 2
    self.mask = keep.astype(x.dtype) / (1 - self.p) if self.training else None
    return x * self.mask if self.training else x


@pytest.mark.parametrize("overrides, match", [
    ({"forward": lambda self, x: x[:1]}, "expected an array of shape"),
    ({"forward": lambda self, x: GoodDropout.forward(self, x).astype(np.float64)}, "expected float32"),
    ({"forward": lambda self, x: GoodDropout.forward(self, x) * (1 - self.p)}, "scales the kept entries"),
    ({"forward": lambda self, x: half_as_often(self, x)}, "dropped"),
    ({"backward": lambda self, g: g}, "`Variant.backward` after that forward"),
])
def test_check_dropout_messages(overrides, match):
    fails(match, R.check_dropout, variant(**overrides))


def test_check_dropout_same_mask_and_seed_messages():
    rng_mask = {}

    def frozen(self, x):
        if "m" not in rng_mask:
            keep = np.random.default_rng(0).random(x.shape) >= self.p
            rng_mask["m"] = keep.astype(x.dtype) / (1 - self.p)
        self.mask = rng_mask["m"] if self.training else None
        return x * self.mask if self.training else x

    fails("drew the same mask twice", R.check_dropout, variant(forward=frozen))

    def global_rng(self, x):
        if not self.training:
            self.mask = None
            return x
        self.mask = (np.random.random(x.shape) >= self.p).astype(x.dtype) / (1 - self.p)
        return x * self.mask

    fails("dlcourse.manual_seed(0)", R.check_dropout, variant(forward=global_rng))

    def always(self, x):
        self.mask = (dlcourse.random.generator().random(x.shape) >= self.p).astype(x.dtype) / (1 - self.p)
        return x * self.mask

    fails("in eval mode", R.check_dropout, variant(forward=always))

    def warns(self, x):
        self.mask = None
        if not self.training:
            return x
        keep = dlcourse.random.generator().random(x.shape) >= self.p
        with np.errstate(divide="warn"):
            scale = np.float64(1.0) / np.float64(1 - self.p)
        self.mask = np.where(keep, scale, 0.0).astype(x.dtype) if np.isfinite(scale) else np.zeros_like(x)
        return x * self.mask

    fails("numpy warned", R.check_dropout_edges, variant(forward=warns))


def bn_forward(X, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if training:
        N = len(X)
        mu, var = X.mean(0), X.var(0)
        running_mean[...] = (1 - momentum) * running_mean + momentum * mu
        running_var[...] = (1 - momentum) * running_var + momentum * var * N / (N - 1)
    else:
        mu, var = running_mean, running_var
    return gamma * (X - mu) / np.sqrt(var + eps) + beta


def test_check_batchnorm_forward():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(6, 2))
    R.check_batchnorm_forward(bn_forward, X, np.ones(2), np.zeros(2), quiet=True)

    def no_running(X, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        return bn_forward(X, gamma, beta, running_mean.copy(), running_var.copy(), training)

    fails("running_mean after", R.check_batchnorm_forward, no_running, X, np.ones(2), np.zeros(2))
    fails("Honesty", R.check_batchnorm_forward, R.batchnorm_forward, X, np.ones(2), np.zeros(2))


def bn_backward(dY, X, gamma, eps=1e-5):
    N = len(X)
    std = np.sqrt(X.var(0) + eps)
    X_hat = (X - X.mean(0)) / std
    D = dY * gamma
    return (N * D - D.sum(0) - X_hat * (D * X_hat).sum(0)) / (N * std), (dY * X_hat).sum(0), dY.sum(0)


def test_check_batchnorm_backward():
    X = np.random.default_rng(7).normal(size=(5, 3))
    R.check_batchnorm_backward(bn_backward, X, np.ones(3), quiet=True)
    fails("expected a tuple (dX, dgamma, dbeta)", R.check_batchnorm_backward,
          lambda dY, X, gamma: bn_backward(dY, X, gamma)[0], X, np.ones(3))
    fails("dX from", R.check_batchnorm_backward,
          lambda dY, X, gamma: (dY * gamma,) + bn_backward(dY, X, gamma)[1:], X, np.ones(3))


class Monitor:
    def __init__(self, patience):
        self.patience, self.best_loss, self.best_epoch, self.epoch, self.waited = patience, np.inf, -1, -1, 0
        self.best_state = None

    def step(self, val_loss, model):
        self.epoch += 1
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.waited = val_loss, self.epoch, 0
            self.best_state = model.state_dict()
        else:
            self.waited += 1
        return self.waited >= self.patience


LOSSES = [1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.72, 0.71, 0.8]


def test_check_early_stopping():
    assert R.check_early_stopping(Monitor, LOSSES, 3, quiet=True) is None   # no value: it would be a score
    R.check_early_stopping(Monitor, [3.0, 2.0, 1.0], 2, quiet=True)

    class Never(Monitor):
        def step(self, val_loss, model):
            Monitor.step(self, val_loss, model)
            return False

    class CountsFromOne(Monitor):
        def __init__(self, patience):
            super().__init__(patience)
            self.epoch = 0

    class NoState(Monitor):
        def step(self, val_loss, model):
            stop = Monitor.step(self, val_loss, model)
            self.best_state = None
            return stop

    class View(Monitor):
        def step(self, val_loss, model):
            stop = Monitor.step(self, val_loss, model)
            if self.best_epoch == self.epoch:
                self.best_state = {"weight": model.weight.data}
            return stop

    fails("never said stop", R.check_early_stopping, Never, LOSSES, 3)
    fails("best_epoch is", R.check_early_stopping, CountsFromOne, LOSSES, 3)
    fails("best_state is", R.check_early_stopping, NoState, LOSSES, 3)
    fails("keep a copy", R.check_early_stopping, View, LOSSES, 3)


def test_check_max_norm():
    W = np.random.default_rng(8).normal(size=(4, 3)) * 3
    R.check_max_norm(R.max_norm.__wrapped__, [(W, 1.0)], quiet=True)
    fails("is wrong", R.check_max_norm, lambda W, kappa: np.clip(W, -kappa, kappa), [(W, 1.0)])


def good_shift(images, max_shift, rng):
    N, C, H, W = images.shape
    s = max_shift
    padded = np.pad(images, ((0, 0), (0, 0), (s, s), (s, s)))
    out = np.empty_like(images)
    for n, (dy, dx) in enumerate(rng.integers(-s, s + 1, size=(N, 2))):
        out[n] = padded[n, :, s - dy:s - dy + H, s - dx:s - dx + W]
    return out


IMAGES = np.random.default_rng(9).uniform(0.1, 1, size=(60, 1, 6, 6)).astype(np.float32)


def test_check_random_shift():
    R.check_random_shift(good_shift, IMAGES, 2, quiet=True)

    def in_place(images, s, rng):
        out = good_shift(images, s, rng)
        images[...] = out
        return out

    def fixed_seed(images, s, rng):
        return good_shift(images, s, np.random.default_rng(0))

    fails("returned None", R.check_random_shift, lambda images, s, rng: None, IMAGES, 2)
    fails("expected an array of shape", R.check_random_shift, lambda images, s, rng: images[0], IMAGES, 2)
    fails("dtype "
          "float64", R.check_random_shift, lambda images, s, rng: good_shift(images, s, rng).astype(float),
          IMAGES, 2)
    fails("changed its input images in place", R.check_random_shift, in_place, IMAGES.copy(), 2)
    fails("is no "
          "shift", R.check_random_shift, lambda images, s, rng: np.roll(good_shift(images, s, rng), 1, 0),
          IMAGES, 2)
    fails("both ends "
          "included", R.check_random_shift, lambda images, s, rng: good_shift(images, s - 1, rng), IMAGES, 2)
    fails("two different results for two generators with the same seed", R.check_random_shift,
          lambda images, s, rng: good_shift(images, s, np.random.default_rng()), IMAGES, 2)
    fails("the same result for two different generators", R.check_random_shift, fixed_seed, IMAGES, 2)
    fails("Honesty", R.check_random_shift, R.random_shift, IMAGES, 2)


def test_check_prune_mask():
    W = np.random.default_rng(10).normal(size=(4, 5))
    R.check_prune_mask(R.magnitude_prune_mask.__wrapped__, W, 0.5, quiet=True)
    fails("expected an array of shape", R.check_prune_mask, lambda W, f: np.ones(3, bool), W, 0.5)
    fails("expected bool", R.check_prune_mask, lambda W, f: np.ones(W.shape), W, 0.5)
    fails("removes 0 entries", R.check_prune_mask, lambda W, f: np.ones(W.shape, bool), W, 0.5)
    fails("remove the entries of smallest magnitude", R.check_prune_mask,
          lambda W, f: np.abs(W) < np.median(np.abs(W)), W, 0.5)
    fails("Honesty", R.check_prune_mask, R.magnitude_prune_mask, W, 0.5)


def test_check_regularized_messages():
    split = R.load_slice()
    fails("expected the trained model", R.check_regularized, lambda split, epochs: "model", 2, 0.0)

    def untrained(split, epochs):
        dlcourse.manual_seed(0)
        return R.mlp(784)

    fails("must reach", R.check_regularized, untrained, 2, 0.0)
    fails("Honesty", R.check_regularized,
          lambda split, epochs: R.train_variant("combination", epochs)["model"], 2, 0.0)
    assert split.X_val.shape[0] == 1000
