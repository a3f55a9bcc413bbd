"""dlcourse.init: each scheme draws float32 weights with the variance its formula promises.

Fans follow PyTorch: a weight of shape (out, in, *kernel) has
fan_in = in * prod(kernel) and fan_out = out * prod(kernel).
"""
import numpy as np
import pytest

import dlcourse
from dlcourse import init

DENSE = (400, 500)            # 200,000 samples: the sample variance is within about 1% of the truth
CONV = (64, 32, 5, 5)         # fan_in = 32 * 25 = 800, fan_out = 64 * 25 = 1600, 51,200 samples


def fans(shape):
    receptive_field = int(np.prod(shape[2:]))
    return shape[1] * receptive_field, shape[0] * receptive_field


# scheme -> (function of shape, variance formula of (fan_in, fan_out))
SCHEMES = {
    "normal": (lambda s: init.normal(s, mean=0.0, std=0.3), lambda fi, fo: 0.09),
    "uniform": (lambda s: init.uniform(s, -0.5, 0.5), lambda fi, fo: 1.0 / 12),
    "xavier_uniform": (init.xavier_uniform, lambda fi, fo: 2.0 / (fi + fo)),
    "xavier_uniform_gain": (lambda s: init.xavier_uniform(s, gain=2.0), lambda fi, fo: 4 * 2.0 / (fi + fo)),
    "xavier_normal": (init.xavier_normal, lambda fi, fo: 2.0 / (fi + fo)),
    "xavier_normal_gain": (lambda s: init.xavier_normal(s, gain=0.5), lambda fi, fo: 0.25 * 2.0 / (fi + fo)),
    "he_uniform": (init.he_uniform, lambda fi, fo: 2.0 / fi),
    "he_normal": (init.he_normal, lambda fi, fo: 2.0 / fi),
    "lecun_uniform": (init.lecun_uniform, lambda fi, fo: 1.0 / fi),
    "lecun_normal": (init.lecun_normal, lambda fi, fo: 1.0 / fi),
}


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_sample_variance_matches_the_formula(scheme, shape):
    draw, variance = SCHEMES[scheme]
    W = draw(shape)
    expected = variance(*fans(shape))
    assert W.shape == shape
    assert W.var(dtype=np.float64) == pytest.approx(expected, rel=0.03)
    assert abs(W.mean(dtype=np.float64)) < 0.02 * np.sqrt(expected)


def test_conv_fans_use_the_receptive_field():
    """He for a 3x3 conv with 16 input channels: variance 2 / (16 * 9), not 2 / 16."""
    W = init.he_normal((128, 16, 3, 3))
    assert W.var(dtype=np.float64) == pytest.approx(2.0 / (16 * 9), rel=0.03)


@pytest.mark.parametrize("scheme, r", [
    ("xavier_uniform", np.sqrt(6.0 / (500 + 400))),
    ("he_uniform", np.sqrt(6.0 / 500)),
    ("lecun_uniform", np.sqrt(3.0 / 500)),
])
def test_uniform_schemes_stay_within_their_bound(scheme, r):
    W = getattr(init, scheme)(DENSE)
    assert np.abs(W).max() <= r
    assert np.abs(W).max() > 0.99 * r


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_returns_float32(scheme):
    assert SCHEMES[scheme][0]((3, 4)).dtype == np.float32


def test_zeros():
    W = init.zeros((3, 4))
    assert W.dtype == np.float32
    assert not W.any()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_package_seed_makes_draws_repeatable(scheme):
    draw = SCHEMES[scheme][0]
    dlcourse.manual_seed(7)
    first = draw((5, 6))
    dlcourse.manual_seed(7)
    np.testing.assert_array_equal(draw((5, 6)), first)
    dlcourse.manual_seed(8)
    assert not np.array_equal(draw((5, 6)), first)


@pytest.mark.parametrize("scheme", ["xavier_uniform", "xavier_normal", "he_uniform", "he_normal",
                                    "lecun_uniform", "lecun_normal"])
def test_fan_based_schemes_need_at_least_2_dimensions(scheme):
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(10,\)"):
        getattr(init, scheme)((10,))


def test_linear_is_initialised_like_pytorch():
    """torch.nn.Linear draws U(-1/sqrt(in), 1/sqrt(in)): variance 1 / (3 in)."""
    layer = dlcourse.nn.Linear(500, 400)
    assert layer.weight.data.var(dtype=np.float64) == pytest.approx(1 / (3 * 500), rel=0.03)
    assert np.abs(layer.bias.data).max() <= 1 / np.sqrt(500)
