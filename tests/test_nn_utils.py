"""dlcourse.nn.utils: gradient clipping gives torch.nn.utils' gradients and return values."""
import math

import numpy as np
import pytest
import torch

from dlcourse import nn
from dlcourse.honesty import ReferenceCalledError, forbid
from dlcourse.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(3, 4), (4,), (2, 3, 2)]


def twin_parameters(rng, scale):
    """dlcourse Parameters and torch tensors holding the same float64 gradients."""
    ours, theirs = [], []
    for shape in SHAPES:
        grad = rng.normal(scale=scale, size=shape)
        p = nn.Parameter(np.zeros(shape), dtype=np.float64)
        p.grad[...] = grad
        t = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.from_numpy(grad.copy())
        ours.append(p)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])      # clipping, and a bound that is never reached
def test_clip_grad_norm_matches_torch(norm_type, max_norm, rng):
    ours, theirs = twin_parameters(rng, scale=2.0)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(float(expected), rel=1e-12)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12, atol=0)


def test_clip_grad_norm_returns_the_norm_before_clipping_and_leaves_the_norm_at_max_norm(rng):
    ours, _ = twin_parameters(rng, scale=3.0)
    everything = np.concatenate([p.grad.ravel() for p in ours])
    total = clip_grad_norm_(ours, max_norm=1.0)
    assert total == pytest.approx(np.linalg.norm(everything), rel=1e-12)
    after = np.concatenate([p.grad.ravel() for p in ours])
    assert np.linalg.norm(after) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(after / np.linalg.norm(after), everything / np.linalg.norm(everything))


def test_clip_grad_norm_keeps_small_gradients_and_zero_gradients_finite():
    p = nn.Parameter(np.zeros(3), dtype=np.float64)
    assert clip_grad_norm_([p], max_norm=1.0) == 0.0
    np.testing.assert_array_equal(p.grad, 0.0)
    p.grad[...] = [0.1, -0.2, 0.0]
    clip_grad_norm_(p, max_norm=1.0)                 # a single Parameter is accepted, as in torch
    np.testing.assert_array_equal(p.grad, [0.1, -0.2, 0.0])


def test_clip_grad_norm_changes_gradients_in_place_and_keeps_float32():
    layer = nn.Linear(3, 2)
    layer.weight.grad[...] = 10.0
    grad = layer.weight.grad
    clip_grad_norm_(layer.parameters(), 1.0)
    assert layer.weight.grad is grad and grad.dtype == np.float32
    assert np.linalg.norm(grad) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("clip_value", [0.0, 0.3, 100.0])
def test_clip_grad_value_matches_torch(clip_value, rng):
    ours, theirs = twin_parameters(rng, scale=1.0)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


def test_the_two_clippings_differ_in_direction():
    """By norm keeps the direction, by value does not: (3, 0.1) clipped to 1 either way."""
    a, b = nn.Parameter([3.0, 0.1], dtype=np.float64), nn.Parameter([3.0, 0.1], dtype=np.float64)
    a.grad[...] = b.grad[...] = [3.0, 0.1]
    clip_grad_norm_([a], 1.0)
    clip_grad_value_([b], 1.0)
    assert a.grad[1] / a.grad[0] == pytest.approx(0.1 / 3.0)
    np.testing.assert_array_equal(b.grad, [1.0, 0.1])


@pytest.mark.parametrize("call, message", [
    (lambda ps: clip_grad_norm_(ps, -1.0), "clip_grad_norm_ expects max_norm >= 0, got -1.0"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=0), "clip_grad_norm_ expects norm_type > 0 or inf"),
    (lambda ps: clip_grad_value_(ps, -0.5), "clip_grad_value_ expects clip_value >= 0, got -0.5"),
])
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call([nn.Parameter([1.0])])


def test_passing_the_model_or_arrays_says_what_to_pass():
    with pytest.raises(TypeError, match=r"pass model.parameters\(\)"):
        clip_grad_norm_(nn.Linear(2, 2), 1.0)
    with pytest.raises(TypeError, match="expects Parameters.*ndarray at position 0"):
        clip_grad_value_([np.zeros(2)], 1.0)


@pytest.mark.parametrize("fn", [clip_grad_norm_, clip_grad_value_], ids=lambda f: f.__name__)
def test_clipping_is_a_reference_a_test_can_forbid(fn):
    with forbid(fn), pytest.raises(ReferenceCalledError):
        fn([nn.Parameter([1.0])], 1.0)
