"""dlcourse.activations (chapter 02): dead ReLU units and gradients through depth."""
import numpy as np
import pytest
import torch

from dlcourse import activations as S
from dlcourse.honesty import ReferenceCalledError, forbid


# -- dead_fraction ---------------------------------------------------------------------------
def test_a_unit_is_dead_when_no_row_switches_it_on():
    z = np.array([[-1.0, 2.0, 0.0, -3.0],
                  [-2.0, -1.0, 0.0, 0.5]])
    assert S.dead_fraction(z) == 0.5          # units 0 and 2 (0 counts as off: ReLU'(0) = 0)


def test_dead_fraction_extremes_and_types(rng):
    assert S.dead_fraction(np.ones((3, 4))) == 0.0
    assert S.dead_fraction(-np.ones((3, 4), dtype=np.float32)) == 1.0
    assert isinstance(S.dead_fraction(rng.standard_normal((5, 6))), float)
    with pytest.raises(ValueError, match=r"dead_fraction expects an array of shape \(N, H\)"):
        S.dead_fraction(np.zeros(3))
    with forbid(S.dead_fraction), pytest.raises(ReferenceCalledError):
        S.dead_fraction(np.zeros((2, 2)))


# -- gradient_norms_through_depth -----------------------------------------------------------
@pytest.mark.parametrize("name", list(S.ACTIVATIONS))
def test_gradient_norms_agree_with_autograd(name):
    depth, width, n = 6, 8, 5
    norms = S.gradient_norms_through_depth(name, depth=depth, width=width, weight_scale=1.3,
                                           n_samples=n, seed=3)
    rng = np.random.default_rng(3)        # rebuild the same stack in torch from the same draws
    weights = [torch.tensor(rng.normal(0, 1.3 / np.sqrt(width), (width, width))) for _ in range(depth)]
    a = torch.tensor(rng.standard_normal((n, width)), requires_grad=True)
    f = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
         "leaky_relu": torch.nn.functional.leaky_relu, "elu": torch.nn.functional.elu}[name]
    pre = []
    for W in weights:
        z = a @ W.T
        z.retain_grad()
        pre.append(z)
        a = f(z)
    (a * torch.tensor(rng.standard_normal(tuple(a.shape)))).sum().backward()
    expected = [float(z.grad.pow(2).mean().sqrt()) for z in pre]
    np.testing.assert_allclose(norms, expected, rtol=1e-10)


def test_sigmoid_gradients_vanish_and_he_keeps_relu_gradients_level():
    sigmoid = S.gradient_norms_through_depth("sigmoid", depth=20)
    assert sigmoid[0] < 1e-8 * sigmoid[-1]
    relu = S.gradient_norms_through_depth("relu", depth=20, weight_scale=np.sqrt(2))
    assert 0.3 < relu[0] / relu[-1] < 3


def test_unknown_activation_is_named():
    message = "gradient_norms_through_depth expects an activation among .*, got 'softplus'"
    with pytest.raises(ValueError, match=message):
        S.gradient_norms_through_depth("softplus")


# -- dead_fraction_during_training -----------------------------------------------------------
def test_a_large_learning_rate_kills_units_and_dead_units_stay_dead():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 10)).astype(np.float32)
    y = rng.integers(0, 3, 200)
    gentle = S.dead_fraction_during_training(X, y, lr=0.05, hidden=50, steps=20)
    violent = S.dead_fraction_during_training(X, y, lr=50.0, hidden=50, steps=20)
    assert gentle.shape == violent.shape == (21,)
    assert gentle[0] == violent[0]                     # same initial weights
    assert violent[-1] > gentle[-1] + 0.2
    assert np.all(np.diff(violent) >= 0)               # one hidden layer: a dead unit never revives


def test_a_negative_bias_offset_kills_units_at_the_start():
    X = np.abs(np.random.default_rng(1).standard_normal((100, 5)))
    y = np.arange(100) % 2
    assert S.dead_fraction_during_training(X, y, lr=0.1, bias_offset=-100.0, steps=1)[0] == 1.0
    assert S.dead_fraction_during_training(X, y, lr=0.1, bias_offset=100.0, steps=1)[0] == 0.0
