"""MaxPool2d and AvgPool2d against torch.nn (float64) and central differences.

Max pooling's gradient at a tie (several entries of a window equal to its
maximum, as in a window of ReLU zeros) goes to ONE entry, the first in
row-major order within the window, as in PyTorch; these tests pin that down
against torch and on hand-made cases.
"""
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import pool_geometries

from dlcourse import nn
from dlcourse.gradcheck import check_module
from dlcourse.honesty import ReferenceCalledError, forbid

TIGHT = dict(rtol=1e-10, atol=1e-12)
HYPOTHESIS = settings(max_examples=20, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])
T = torch.nn
POOLS = [pytest.param(nn.MaxPool2d, T.MaxPool2d, id="MaxPool2d"),
         pytest.param(nn.AvgPool2d, T.AvgPool2d, id="AvgPool2d")]


def assert_pool_matches_torch(ours, theirs, x, grad_out):
    """Output and input gradient of the two layers agree, in float64."""
    out = ours(x)
    grad_x = ours.backward(grad_out)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = theirs(x_t)
    out_t.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TIGHT, err_msg="forward output")
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), **TIGHT, err_msg="input gradient")


def relu_like(rng, shape):
    """Mostly zeros, as after a ReLU: most windows are ties."""
    return np.maximum(rng.normal(size=shape), 0) * (rng.random(shape) < 0.3)


# (args, kwargs, input shape)
CASES = [
    pytest.param((2,), {}, (2, 3, 6, 6), id="2x2-stride-defaults-to-kernel"),
    pytest.param((2,), {}, (2, 3, 7, 5), id="odd-size-drops-the-last-row"),
    pytest.param((3,), dict(stride=1, padding=1), (2, 2, 5, 6), id="3x3-stride-1-overlapping"),
    pytest.param((3,), dict(stride=2, padding=1), (1, 2, 7, 7), id="3x3-stride-2-overlapping"),
    pytest.param(((3, 2),), dict(stride=(1, 2), padding=(1, 1)), (2, 2, 6, 5), id="pairs"),
    pytest.param((4,), dict(stride=3, padding=2), (1, 1, 5, 5), id="padding-half-the-kernel"),
    pytest.param((1,), {}, (2, 2, 3, 3), id="1x1-is-the-identity"),
]


@pytest.mark.parametrize("ours, theirs", POOLS)
@pytest.mark.parametrize("args, kwargs, shape", CASES)
def test_pooling_matches_torch(ours, theirs, args, kwargs, shape, rng):
    layer = ours(*args, **kwargs)
    x = rng.normal(size=shape)
    grad_out = rng.normal(size=layer(x).shape)
    assert_pool_matches_torch(layer, theirs(*args, **kwargs), x, grad_out)


@pytest.mark.parametrize("ours, theirs", POOLS)
@pytest.mark.parametrize("args, kwargs, shape", CASES)
def test_pooling_matches_torch_on_relu_outputs_full_of_ties(ours, theirs, args, kwargs, shape, rng):
    layer = ours(*args, **kwargs)
    x = relu_like(rng, shape)
    grad_out = rng.normal(size=layer(x).shape)
    assert_pool_matches_torch(layer, theirs(*args, **kwargs), x, grad_out)


@pytest.mark.parametrize("ours, theirs", POOLS)
@HYPOTHESIS
@given(geometry=pool_geometries(), ties=st.booleans())
def test_pooling_matches_torch_on_any_geometry(ours, theirs, geometry, ties, rng):
    args = (geometry.kernel, geometry.stride, geometry.padding)
    layer = ours(*args)
    x = relu_like(rng, geometry.input_shape) if ties else rng.normal(size=geometry.input_shape)
    out = layer(x)
    expected_hw = tuple((size + 2 * p - k) // s + 1 for size, k, s, p in
                        zip(geometry.input_shape[2:], *args, strict=True))
    assert out.shape == geometry.input_shape[:2] + expected_hw
    assert_pool_matches_torch(layer, theirs(*args), x, rng.normal(size=out.shape))


@pytest.mark.parametrize("ours, theirs", POOLS)
@pytest.mark.parametrize("args, kwargs, shape", CASES)
def test_pooling_passes_central_difference_check(ours, theirs, args, kwargs, shape, rng):
    """Random normal inputs have no ties, so max pooling is differentiable there."""
    results = check_module(ours(*args, **kwargs), rng.normal(size=shape))
    assert list(results) == ["input"]
    assert results["input"].error < 1e-6, str(results["input"])


# -- max pooling: ties, by hand -----------------------------------------------------------
def test_maxpool_tie_sends_the_gradient_to_the_first_entry_in_row_major_order():
    """A 2x2 window of zeros: all four entries are the maximum; only the top-left one gets dL/dY."""
    pool = nn.MaxPool2d(2)
    assert pool(np.zeros((1, 1, 2, 2))).item() == 0
    np.testing.assert_array_equal(pool.backward(np.full((1, 1, 1, 1), 5.0))[0, 0], [[5, 0], [0, 0]])


def test_maxpool_tie_on_the_second_row_goes_to_its_first_entry():
    x = np.array([[[[1.0, 2.0], [7.0, 7.0]]]])          # the maximum 7 twice, on the bottom row
    pool = nn.MaxPool2d(2)
    assert pool(x).item() == 7
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 1, 1)))[0, 0], [[0, 0], [1, 0]])


def test_maxpool_overlapping_windows_of_zeros_each_pick_their_own_first_entry():
    """3x3 zeros, 2x2 windows with stride 1: window (y, x) starts at pixel (y, x), its first entry."""
    pool = nn.MaxPool2d(2, stride=1)
    pool(np.zeros((1, 1, 3, 3)))
    g = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    np.testing.assert_array_equal(pool.backward(g)[0, 0], [[1, 2, 0], [3, 4, 0], [0, 0, 0]])


def test_maxpool_pixel_that_wins_several_overlapping_windows_receives_the_sum():
    """The centre 5 is the maximum of all four 2x2 windows of a 3x3 image, so it gets 1 + 2 + 3 + 4."""
    x = np.array([[[[0.0, 0, 0], [0, 5, 0], [0, 0, 0]]]])
    pool = nn.MaxPool2d(2, stride=1)
    np.testing.assert_array_equal(pool(x), np.full((1, 1, 2, 2), 5.0))
    g = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    np.testing.assert_array_equal(pool.backward(g)[0, 0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])
    x_t = torch.tensor(x, requires_grad=True)
    T.MaxPool2d(2, stride=1)(x_t).backward(torch.tensor(g))
    np.testing.assert_array_equal(x_t.grad.numpy()[0, 0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])


def test_maxpool_pads_with_minus_infinity_so_negative_inputs_win_over_the_padding(rng):
    x = -1 - rng.random((2, 2, 4, 4))                  # every entry below -1
    out = nn.MaxPool2d(3, stride=1, padding=1)(x)
    assert np.all(out < -1) and np.all(np.isfinite(out))
    np.testing.assert_allclose(out, T.MaxPool2d(3, stride=1, padding=1)(torch.from_numpy(x)).numpy(), **TIGHT)


# -- average pooling: padding counts in the divisor -----------------------------------------
def test_avgpool_counts_the_padded_zeros_as_pytorch_count_include_pad():
    """Ones (2x2), 2x2 windows, stride 1, padding 1: a corner window holds one 1 and three zeros."""
    pool = nn.AvgPool2d(2, stride=1, padding=1)
    expected = [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]
    np.testing.assert_array_equal(pool(np.ones((1, 1, 2, 2)))[0, 0], expected)
    torch_out = T.AvgPool2d(2, stride=1, padding=1)(torch.ones(1, 1, 2, 2, dtype=torch.float64))
    np.testing.assert_array_equal(torch_out.numpy()[0, 0], expected)
    # each pixel is in 4 windows, each giving it dL/dY / 4 = 1/4
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 3, 3)))[0, 0], np.ones((2, 2)))


def test_avgpool_is_the_mean_of_each_window(rng):
    x = rng.normal(size=(2, 3, 6, 4))
    expected = x.reshape(2, 3, 3, 2, 2, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(nn.AvgPool2d(2)(x), expected, **TIGHT)


# -- arguments, dtype, repr ------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs", POOLS)
def test_pooling_stride_defaults_to_the_kernel_size(ours, theirs):
    layer = ours((3, 2))
    assert layer.stride == (3, 2)
    assert layer(np.zeros((1, 1, 9, 8))).shape == (1, 1, 3, 4)


@pytest.mark.parametrize("args, kwargs", [((2,), {}), ((3,), dict(stride=1, padding=1)),
                                          (((3, 2),), dict(stride=(2, 1), padding=(1, 0)))])
def test_avgpool_repr_is_torchs_and_maxpool_repr_begins_like_torchs(args, kwargs):
    assert repr(nn.AvgPool2d(*args, **kwargs)) == repr(T.AvgPool2d(*args, **kwargs))
    ours = repr(nn.MaxPool2d(*args, **kwargs))
    assert ours.endswith(")")
    assert repr(T.MaxPool2d(*args, **kwargs)).startswith(ours[:-1] + ", dilation=1")


@pytest.mark.parametrize("ours, theirs", POOLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pooling_keeps_the_dtype(ours, theirs, dtype, rng):
    layer = ours(3, stride=2, padding=1)
    x = rng.normal(size=(2, 2, 5, 5)).astype(dtype)
    out = layer(x)
    assert out.dtype == dtype
    assert layer.backward(np.ones_like(out)).dtype == dtype


@pytest.mark.parametrize("ours, theirs", POOLS)
def test_pooling_leaves_its_input_and_gradient_unchanged(ours, theirs, rng):
    layer = ours(3, stride=1, padding=1)
    x = rng.normal(size=(2, 2, 4, 4))
    grad_out = rng.normal(size=(2, 2, 4, 4))
    x_before, grad_before = x.copy(), grad_out.copy()
    layer(x)
    layer.backward(grad_out)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(grad_out, grad_before)


@pytest.mark.parametrize("ours, theirs", POOLS)
def test_pooling_has_no_parameters(ours, theirs):
    assert ours(2).parameters() == [] and list(theirs(2).parameters()) == []


# -- clear errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs", POOLS)
@pytest.mark.parametrize("kernel_size, padding", [(3, 2), (2, 2), ((4, 2), (1, 2))])
def test_pooling_padding_above_half_the_kernel_is_rejected_as_in_torch(ours, theirs, kernel_size, padding):
    name = ours.__name__
    message = (f"{name} expects padding at most half the kernel size, "
               f"got padding={padding!r} with kernel_size={kernel_size!r}")
    with pytest.raises(ValueError, match=re.escape(message)):
        ours(kernel_size, stride=1, padding=padding)
    with pytest.raises(RuntimeError, match="pad should be"):     # torch refuses the same arguments
        theirs(kernel_size, stride=1, padding=padding)(torch.zeros(1, 1, 9, 9))


@pytest.mark.parametrize("ours, theirs", POOLS)
@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel_size=2.0), "expects kernel_size to be an int or a pair of ints, got 2.0"),
    (dict(kernel_size=0), "expects kernel_size to be positive, got kernel_size=0"),
    (dict(kernel_size=2, stride=0), "expects stride to be positive, got stride=0"),
    (dict(kernel_size=2, stride=(1, -1)), "expects stride to be positive, got stride=(1, -1)"),
    (dict(kernel_size=2, padding=-1), "expects padding to be non-negative, got padding=-1"),
])
def test_pooling_rejects_bad_geometry_naming_what_it_got(ours, theirs, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(f"{ours.__name__} {message}")):
        ours(**kwargs)


@pytest.mark.parametrize("ours, theirs", POOLS)
@pytest.mark.parametrize("make, shape, message", [
    (lambda pool: pool(2), (4, 6, 6),
     "expects an array of shape (N, C, H, W), got an array of shape (4, 6, 6)"),
    (lambda pool: pool(3), (1, 2, 2, 6),
     "expects an input of at least 3x3 pixels (kernel_size=(3, 3), padding=(0, 0)), "
     "got an array of shape (1, 2, 2, 6)"),
    (lambda pool: pool(3, padding=1), (1, 2, 6, 0),
     "expects an input of at least 1x1 pixels (kernel_size=(3, 3), padding=(1, 1)), "
     "got an array of shape (1, 2, 6, 0)"),
])
def test_pooling_wrong_input_names_what_it_expects_and_what_it_got(ours, theirs, make, shape, message):
    with pytest.raises(ValueError, match=re.escape(f"{ours.__name__} {message}")):
        make(ours)(np.zeros(shape))


@pytest.mark.parametrize("ours, theirs", POOLS)
def test_pooling_backward_with_a_wrong_gradient_shape_names_both_shapes(ours, theirs):
    layer = ours(2)
    layer(np.zeros((2, 3, 6, 6)))
    message = (f"{ours.__name__}.backward expects a gradient of shape (2, 3, 3, 3), "
               "got an array of shape (2, 3, 6, 6)")
    with pytest.raises(ValueError, match=re.escape(message)):
        layer.backward(np.zeros((2, 3, 6, 6)))


@pytest.mark.parametrize("ours, theirs", POOLS)
def test_pooling_backward_before_forward_says_to_run_forward_first(ours, theirs):
    with pytest.raises(RuntimeError, match=f"{ours.__name__}.backward was called before forward"):
        ours(2).backward(np.zeros((1, 1, 1, 1)))


# -- honesty guard -----------------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs", POOLS)
def test_forbidden_pooling_raises_on_forward_and_backward(ours, theirs, rng):
    layer, x = ours(2), rng.normal(size=(1, 2, 4, 4))
    out = layer(x)
    with forbid(ours):
        with pytest.raises(ReferenceCalledError):
            layer(x)
        with pytest.raises(ReferenceCalledError):
            layer.backward(out)
    assert layer.backward(out).shape == x.shape
