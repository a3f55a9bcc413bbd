"""Conv2d against torch.nn.Conv2d (float64) and central differences, and a CNN with batch norm.

The torch comparisons copy the weights into ``torch.nn.Conv2d`` and compare
the output, the input gradient and the weight and bias gradients, for fixed
cases and for the geometries of ``strategies.conv_geometries()``.
"""
import copy
import re

import numpy as np
import pytest
import torch
from conftest import copy_to_torch
from hypothesis import HealthCheck, given, settings
from strategies import conv_geometries

from dlcourse import nn
from dlcourse.gradcheck import check_module
from dlcourse.honesty import ReferenceCalledError, forbid
from dlcourse.nn import conv as conv_module

TIGHT = dict(rtol=1e-10, atol=1e-12)
HYPOTHESIS = settings(max_examples=20, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])
T = torch.nn


def conv_twins(args, kwargs, rng):
    """A float64 dlcourse Conv2d with random weights and a torch Conv2d holding the same values."""
    conv = nn.Conv2d(*args, **kwargs).to(np.float64)
    for p in conv.parameters():
        p.data[...] = rng.normal(size=p.shape)
    twin = copy_to_torch(conv, T.Conv2d(*args, **kwargs).double())
    return conv, twin


def assert_matches_torch(module, twin, x, rng):
    """Forward, input gradient and every parameter gradient agree with torch, in float64."""
    out = module(x)
    grad_out = rng.normal(size=out.shape)
    grad_x = module.backward(grad_out)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = twin(x_t)
    out_t.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TIGHT, err_msg="forward output")
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), **TIGHT, err_msg="input gradient")
    torch_params = dict(twin.named_parameters())
    assert [name for name, _ in module.named_parameters()] == list(torch_params)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad, torch_params[name].grad.numpy(), **TIGHT, err_msg=name)


# (args, kwargs, input shape): the output size is floor((H + 2P - K) / S) + 1 along each axis
CASES = [
    pytest.param((3, 4, 3), dict(padding=1), (2, 3, 7, 6), id="3x3-same-padding"),
    pytest.param((1, 16, 3), dict(padding=1), (4, 1, 8, 8), id="first-layer-1-to-16"),
    pytest.param((2, 3, (3, 2)), dict(stride=(2, 3), padding=(1, 0)), (2, 2, 9, 8), id="pairs"),
    pytest.param((2, 3, 1), {}, (3, 2, 4, 5), id="1x1-kernel"),
    pytest.param((2, 2, 4), dict(stride=3, padding=2), (2, 2, 5, 5), id="stride-3-padding-2"),
    pytest.param((3, 2, (4, 5)), {}, (2, 3, 4, 5), id="kernel-as-large-as-the-input"),
    pytest.param((2, 3, 3), dict(stride=2), (1, 2, 8, 8), id="stride-2-leaves-a-row-out"),
    pytest.param((2, 3, 3), dict(bias=False), (2, 2, 5, 5), id="no-bias"),
    pytest.param((2, 3, 3), dict(padding=3), (1, 2, 2, 2), id="padding-larger-than-the-input"),
]


@pytest.mark.parametrize("args, kwargs, shape", CASES)
def test_conv2d_matches_torch_forward_and_backward(args, kwargs, shape, rng):
    conv, twin = conv_twins(args, kwargs, rng)
    assert_matches_torch(conv, twin, rng.normal(size=shape), rng)


@HYPOTHESIS
@given(geometry=conv_geometries())
def test_conv2d_matches_torch_on_any_geometry(geometry, rng):
    args = (geometry.c_in, geometry.c_out, geometry.kernel)
    kwargs = dict(stride=geometry.stride, padding=geometry.padding)
    conv, twin = conv_twins(args, kwargs, rng)
    x = rng.normal(size=geometry.input_shape)
    assert conv(x).shape == (geometry.n, geometry.c_out, *geometry.output_hw)
    assert_matches_torch(conv, twin, x, rng)


@pytest.mark.parametrize("args, kwargs, shape", [
    pytest.param((2, 3, 3), dict(padding=1), (7, 2, 5, 6), id="stride-1-grid"),
    pytest.param((2, 3, (2, 3)), dict(stride=(2, 1), padding=(0, 1)), (5, 2, 6, 5), id="stride-2-1"),
])
@pytest.mark.parametrize("images_per_chunk", [1, 2, 3])
def test_conv2d_input_gradient_in_chunks_of_images_matches_torch(args, kwargs, shape, images_per_chunk,
                                                                 rng, monkeypatch):
    """dL/dX is computed a few images at a time (CHUNK_POSITIONS); every split of the batch,
    a last chunk shorter than the others included, gives torch's gradients."""
    conv, twin = conv_twins(args, kwargs, rng)
    x = rng.normal(size=shape)
    conv(x)
    per_image = conv.grid[0] * conv.grid[1]
    monkeypatch.setattr(conv_module, "CHUNK_POSITIONS", images_per_chunk * per_image)
    assert_matches_torch(conv, twin, x, rng)


@pytest.mark.parametrize("args, kwargs, shape", CASES[:7])
def test_conv2d_passes_central_difference_check(args, kwargs, shape, rng):
    conv, _ = conv_twins(args, kwargs, rng)
    results = check_module(conv, rng.normal(size=shape))
    assert list(results) == ["input", "weight", "bias"]
    for comparison in results.values():
        assert comparison.error < 1e-6, str(comparison)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(geometry=conv_geometries(max_size=6, max_channels=2))
def test_conv2d_passes_central_difference_check_on_any_geometry(geometry, rng):
    conv = nn.Conv2d(geometry.c_in, geometry.c_out, geometry.kernel, geometry.stride, geometry.padding)
    results = check_module(conv, rng.normal(size=geometry.input_shape))
    for comparison in results.values():
        assert comparison.error < 1e-6, str(comparison)


def test_conv2d_is_a_hand_computed_cross_correlation():
    """One 3x3 image, one 2x2 kernel, no flip: Y[y, x] = sum_ij W[i, j] X[y + i, x + j] + b."""
    conv = nn.Conv2d(1, 1, 2).to(np.float64)
    conv.weight.data[...] = [[[[1, 2], [3, 4]]]]
    conv.bias.data[...] = 10
    x = np.arange(9.0).reshape(1, 1, 3, 3)          # [[0 1 2] [3 4 5] [6 7 8]]
    expected = [[[[0 + 2 + 9 + 16 + 10, 1 + 4 + 12 + 20 + 10],
                  [3 + 8 + 18 + 28 + 10, 4 + 10 + 21 + 32 + 10]]]]
    np.testing.assert_array_equal(conv(x), expected)
    # dL/dX for dL/dY = ones: every pixel receives the kernel entries of the windows covering it
    np.testing.assert_array_equal(conv.backward(np.ones((1, 1, 2, 2)))[0, 0],
                                  [[1, 3, 2], [4, 10, 6], [3, 7, 4]])


# -- parameters, initialisation, dtype, repr ----------------------------------------
@pytest.mark.parametrize("args, kwargs", [((3, 8, 3), {}), ((2, 5, (2, 4)), dict(bias=False))])
def test_conv2d_parameters_have_torchs_names_and_shapes(args, kwargs):
    ours = {name: p.shape for name, p in nn.Conv2d(*args, **kwargs).named_parameters()}
    theirs = {name: tuple(p.shape) for name, p in T.Conv2d(*args, **kwargs).named_parameters()}
    assert ours == theirs


def test_conv2d_default_init_is_uniform_with_torchs_bound():
    """kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * kH * kW; bias too."""
    conv, twin = nn.Conv2d(16, 32, (3, 2)), T.Conv2d(16, 32, (3, 2))
    bound = 1 / np.sqrt(16 * 3 * 2)
    for ours, theirs, size in [(conv.weight.data, twin.weight.detach().numpy(), 3072),
                               (conv.bias.data, twin.bias.detach().numpy(), 32)]:
        assert ours.size == size and ours.dtype == np.float32
        assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound
        assert np.abs(ours).max() > 0.8 * bound         # fills the interval, like torch's
    # the variance of U(-r, r) is r^2 / 3: both are within 5% of it (3072 draws)
    assert conv.weight.data.var() == pytest.approx(bound ** 2 / 3, rel=0.05)
    assert twin.weight.detach().numpy().var() == pytest.approx(bound ** 2 / 3, rel=0.05)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_keeps_the_dtype_of_its_parameters_and_input(dtype, rng):
    conv = nn.Conv2d(2, 3, 3, padding=1).to(dtype)
    x = rng.normal(size=(2, 2, 5, 5)).astype(dtype)
    out = conv(x)
    grad_x = conv.backward(np.ones_like(out))
    assert out.dtype == grad_x.dtype == dtype
    assert conv.cols.dtype == dtype
    for name, p in conv.named_parameters():
        assert p.data.dtype == p.grad.dtype == dtype, name


@pytest.mark.parametrize("args, kwargs", [
    ((1, 16, 3), dict(padding=1)),
    ((3, 8, (3, 5)), dict(stride=(2, 1))),
    ((2, 4, 2), dict(padding=(0, 1), bias=False)),
])
def test_conv2d_repr_is_torchs(args, kwargs):
    assert repr(nn.Conv2d(*args, **kwargs)) == repr(T.Conv2d(*args, **kwargs))


def test_conv2d_repr_example_of_the_docs():
    assert nn.Conv2d(1, 16, 3, padding=1).extra_repr() == \
        "1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)"


# -- first layers, accumulation, caches --------------------------------------------
def test_a_first_conv_layer_that_needs_no_input_grad_returns_none_and_the_same_parameter_grads(rng):
    full = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3)).to(np.float64)
    lean = copy.deepcopy(full)
    lean[0].needs_input_grad = False
    x = rng.normal(size=(3, 1, 6, 6))
    grad_out = rng.normal(size=full(x).shape)
    lean(x)
    assert full.backward(grad_out).shape == x.shape
    assert lean.backward(grad_out) is None
    for (name, p), (_, q) in zip(full.named_parameters(), lean.named_parameters(), strict=True):
        assert np.abs(p.grad).sum() > 0, name
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)


def test_conv2d_backward_adds_to_the_parameter_gradients_as_torch_does(rng):
    conv, _ = conv_twins((2, 3, 3), {}, rng)
    x = rng.normal(size=(2, 2, 5, 5))
    grad_out = rng.normal(size=conv(x).shape)
    conv.backward(grad_out)
    once = [p.grad.copy() for p in conv.parameters()]
    conv.backward(grad_out)
    for p, g in zip(conv.parameters(), once, strict=True):
        np.testing.assert_allclose(p.grad, 2 * g, **TIGHT)


def test_conv2d_backward_uses_the_last_forward_and_earlier_results_stay_intact(rng):
    """The layer reuses its column buffer between calls; nothing it returned may change with it."""
    conv, twin = conv_twins((2, 3, 3), dict(padding=1), rng)
    x1, x2 = rng.normal(size=(4, 2, 6, 6)), rng.normal(size=(2, 2, 5, 7))
    y1 = conv(x1)
    saved_y1 = y1.copy()
    g1 = conv.backward(np.ones_like(y1))
    saved_g1 = g1.copy()
    conv.zero_grad()
    assert_matches_torch(conv, twin, x2, rng)          # another shape: the buffer is replaced
    np.testing.assert_array_equal(y1, saved_y1)
    np.testing.assert_array_equal(g1, saved_g1)
    y3 = conv(x2)
    np.testing.assert_array_equal(conv(x1), saved_y1)  # same shape again: the buffer is reused
    np.testing.assert_array_equal(y3, conv(x2))


def test_conv2d_leaves_its_input_and_gradient_unchanged(rng):
    conv = nn.Conv2d(2, 3, 3, padding=1).to(np.float64)
    x = rng.normal(size=(2, 2, 4, 4))
    grad_out = rng.normal(size=(2, 3, 4, 4))
    x_before, grad_before = x.copy(), grad_out.copy()
    conv(x)
    conv.backward(grad_out)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(grad_out, grad_before)


# -- clear errors ----------------------------------------------------------------------
@pytest.mark.parametrize("make, shape, message", [
    (lambda: nn.Conv2d(3, 2, 3), (2, 4, 8, 8),
     "Conv2d expects 3 input channels, got an array of shape (2, 4, 8, 8)"),
    (lambda: nn.Conv2d(3, 2, 3), (3, 8, 8),
     "Conv2d expects an array of shape (N, C, H, W), got an array of shape (3, 8, 8)"),
    (lambda: nn.Conv2d(1, 2, 3), (2, 1, 2, 5),
     "Conv2d expects an input of at least 3x3 pixels (kernel_size=(3, 3), padding=(0, 0)), "
     "got an array of shape (2, 1, 2, 5)"),
    (lambda: nn.Conv2d(1, 2, (5, 3), padding=(1, 0)), (2, 1, 2, 5),
     "Conv2d expects an input of at least 3x3 pixels (kernel_size=(5, 3), padding=(1, 0)), "
     "got an array of shape (2, 1, 2, 5)"),
])
def test_conv2d_wrong_input_names_what_it_expects_and_what_it_got(make, shape, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()(np.zeros(shape))


def test_conv2d_rejects_an_input_that_is_not_a_real_array():
    with pytest.raises(ValueError, match=re.escape("Conv2d expects a real-valued array, got a str")):
        nn.Conv2d(1, 1, 1)("image")


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel_size=0), "Conv2d expects kernel_size to be positive, got kernel_size=0"),
    (dict(kernel_size=(3, -1)), "Conv2d expects kernel_size to be positive, got kernel_size=(3, -1)"),
    (dict(kernel_size=2.5), "Conv2d expects kernel_size to be an int or a pair of ints, got 2.5"),
    (dict(kernel_size="3"), "Conv2d expects kernel_size to be an int or a pair of ints, got '3'"),
    (dict(kernel_size=(3,)), "Conv2d expects kernel_size to be an int or a pair of ints, got (3,)"),
    (dict(kernel_size=(3, 3, 3)), "Conv2d expects kernel_size to be an int or a pair of ints, got (3, 3, 3)"),
    (dict(kernel_size=3, stride=0), "Conv2d expects stride to be positive, got stride=0"),
    (dict(kernel_size=3, stride=-2), "Conv2d expects stride to be positive, got stride=-2"),
    (dict(kernel_size=3, stride=(1, 1.5)),
     "Conv2d expects stride to be an int or a pair of ints, got (1, 1.5)"),
    (dict(kernel_size=3, padding=-1), "Conv2d expects padding to be non-negative, got padding=-1"),
    (dict(kernel_size=3, padding=(0, -1)), "Conv2d expects padding to be non-negative, got padding=(0, -1)"),
])
def test_conv2d_rejects_bad_geometry_naming_what_it_got(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        nn.Conv2d(2, 3, **kwargs)


def test_conv2d_accepts_lists_and_numpy_ints_as_pytorch_does():
    conv = nn.Conv2d(np.int64(2), 3, [3, 2], stride=np.int32(2), padding=[1, 0])
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 2), (2, 2), (1, 0))
    assert conv.weight.shape == (3, 2, 3, 2)
    assert conv(np.zeros((1, 2, 5, 5))).shape == (1, 3, 3, 2)


@pytest.mark.parametrize("in_channels, out_channels, message", [
    (0, 3, "Conv2d expects in_channels to be a positive int, got 0"),
    (2, 1.0, "Conv2d expects out_channels to be a positive int, got 1.0"),
])
def test_conv2d_rejects_bad_channel_counts(in_channels, out_channels, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        nn.Conv2d(in_channels, out_channels, 3)


def test_conv2d_backward_with_a_wrong_gradient_shape_names_both_shapes():
    conv = nn.Conv2d(2, 3, 3, stride=2)
    conv(np.zeros((4, 2, 7, 7)))
    message = "Conv2d.backward expects a gradient of shape (4, 3, 3, 3), got an array of shape (4, 3, 5, 5)"
    with pytest.raises(ValueError, match=re.escape(message)):
        conv.backward(np.zeros((4, 3, 5, 5)))


def test_conv2d_backward_before_forward_says_to_run_forward_first():
    with pytest.raises(RuntimeError, match="Conv2d.backward was called before forward"):
        nn.Conv2d(1, 1, 1).backward(np.zeros((1, 1, 1, 1)))


# -- honesty guard -----------------------------------------------------------------------
def test_forbidden_conv2d_raises_on_forward_and_backward(rng):
    conv, x = nn.Conv2d(2, 2, 3), rng.normal(size=(1, 2, 4, 4))
    out = conv(x)
    with forbid(nn.Conv2d):
        with pytest.raises(ReferenceCalledError):
            conv(x)
        with pytest.raises(ReferenceCalledError):
            conv.backward(out)
        nn.ReLU()(x)
    assert conv.backward(out).shape == x.shape


# -- batch norm on convolution outputs: a small CNN against the same torch network ----------
def small_cnn(module):
    """Conv2d - BatchNorm2d - ReLU - MaxPool2d - Flatten - Linear, in dlcourse.nn or torch.nn."""
    return module.Sequential(
        module.Conv2d(2, 4, 3, padding=1), module.BatchNorm2d(4), module.ReLU(),
        module.MaxPool2d(2), module.Flatten(), module.Linear(4 * 3 * 3, 5),
    )


def cnn_twins(rng):
    ours = small_cnn(nn).to(np.float64)
    for name, p in ours.named_parameters():
        p.data[...] = rng.normal(1.0 if name == "1.weight" else 0.0, 0.5, size=p.shape)
    return ours, copy_to_torch(ours, small_cnn(T).double())


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_cnn_with_batchnorm2d_matches_torch_outputs_gradients_and_running_statistics(training, rng):
    ours, twin = cnn_twins(rng)
    for step in range(3):                                  # moves the running statistics
        x = rng.normal(step, 1.0 + step, size=(5, 2, 6, 7))
        ours(x)
        twin(torch.from_numpy(x))
    ours.train(training)
    twin.train(training)
    x = rng.normal(size=(5, 2, 6, 7))
    assert_matches_torch(ours, twin, x, rng)
    torch_state = twin.state_dict()
    assert list(ours.state_dict()) == list(torch_state)
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value, torch_state[name].numpy(), **TIGHT, err_msg=name)
    assert ours[1].num_batches_tracked == (4 if training else 3)
