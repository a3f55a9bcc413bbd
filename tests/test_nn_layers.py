"""Every layer of dlcourse.nn against its PyTorch twin and against central differences.

The torch comparisons copy the weights into ``torch.nn`` and compare, in
float64, the output, the input gradient and every parameter gradient.
"""
import re

import numpy as np
import pytest
import torch
from conftest import copy_to_torch, torch_forward_backward
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import dlcourse
from dlcourse import nn
from dlcourse.gradcheck import check_module
from dlcourse.honesty import ReferenceCalledError, forbid

TIGHT = dict(rtol=1e-10, atol=1e-12)
HYPOTHESIS = settings(max_examples=15, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def layer(id, ours, theirs, shape, training=True):
    """One test case: factories for the dlcourse layer and its torch twin, an input shape, the mode."""
    return pytest.param(ours, theirs, shape, training, id=id)


T = torch.nn
LAYERS = [
    layer("Linear", lambda: nn.Linear(5, 3), lambda: T.Linear(5, 3), (4, 5)),
    layer("Linear-no-bias", lambda: nn.Linear(5, 3, bias=False), lambda: T.Linear(5, 3, bias=False), (4, 5)),
    layer("ReLU", nn.ReLU, T.ReLU, (4, 5)),
    layer("LeakyReLU", lambda: nn.LeakyReLU(0.2), lambda: T.LeakyReLU(0.2), (4, 5)),
    layer("ELU", lambda: nn.ELU(0.7), lambda: T.ELU(0.7), (4, 5)),
    layer("Sigmoid", nn.Sigmoid, T.Sigmoid, (4, 5)),
    layer("Tanh", nn.Tanh, T.Tanh, (4, 5)),
    layer("Softmax", nn.Softmax, lambda: T.Softmax(dim=-1), (4, 5)),
    layer("Softmax-dim0", lambda: nn.Softmax(dim=0), lambda: T.Softmax(dim=0), (4, 5)),
    layer("Identity", nn.Identity, T.Identity, (4, 5)),
    layer("Flatten", nn.Flatten, T.Flatten, (4, 2, 3)),
    layer("Dropout-eval", lambda: nn.Dropout(0.5), lambda: T.Dropout(0.5), (4, 5), training=False),
    layer("BatchNorm1d-train", lambda: nn.BatchNorm1d(5), lambda: T.BatchNorm1d(5), (6, 5)),
    layer("BatchNorm1d-eval", lambda: nn.BatchNorm1d(5), lambda: T.BatchNorm1d(5), (6, 5), False),
    layer("BatchNorm1d-NCL-train", lambda: nn.BatchNorm1d(3), lambda: T.BatchNorm1d(3), (4, 3, 5)),
    layer("BatchNorm1d-NCL-eval", lambda: nn.BatchNorm1d(3), lambda: T.BatchNorm1d(3), (4, 3, 5), False),
    layer("BatchNorm2d-train", lambda: nn.BatchNorm2d(3), lambda: T.BatchNorm2d(3), (2, 3, 4, 3)),
    layer("BatchNorm2d-eval", lambda: nn.BatchNorm2d(3), lambda: T.BatchNorm2d(3), (2, 3, 4, 3), False),
    layer(
        "Sequential-train",
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(),
                              nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 3), nn.Softmax()),
        lambda: T.Sequential(T.Flatten(), T.Linear(6, 8), T.BatchNorm1d(8), T.ReLU(),
                             T.Linear(8, 5), T.Tanh(), T.Linear(5, 3), T.Softmax(dim=-1)),
        (5, 2, 3),
    ),
    layer(
        "Sequential-eval",
        lambda: nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ELU(), nn.Dropout(0.3),
                              nn.Linear(8, 4), nn.Sigmoid()),
        lambda: T.Sequential(T.Linear(6, 8), T.BatchNorm1d(8), T.ELU(), T.Dropout(0.3),
                             T.Linear(8, 4), T.Sigmoid()),
        (5, 6),
        training=False,
    ),
]


def make_layer(ours, shape, training, rng):
    """The dlcourse layer in float64, random parameters, in the given mode.

    For evaluation mode it first runs three training batches, so that batch
    norm has running statistics worth using.
    """
    module = ours().to(np.float64)
    for p in module.parameters():
        p.data[...] = rng.normal(size=p.shape)
    if not training:
        for _ in range(3):
            module(rng.normal(1.0, 2.0, size=shape))
    return module.train(training)


def make_twins(ours, theirs, shape, training, rng):
    """The dlcourse layer (see make_layer) and a float64 torch twin holding the same values."""
    module = make_layer(ours, shape, training, rng)
    twin = copy_to_torch(module, theirs().double())
    return module, twin.train(training)


# -- against PyTorch -----------------------------------------------------------
@pytest.mark.parametrize("ours, theirs, shape, training", LAYERS)
def test_layer_matches_torch_forward_and_backward(ours, theirs, shape, training, rng):
    module, twin = make_twins(ours, theirs, shape, training, rng)
    x = rng.normal(1.0, 2.0, size=shape)
    out = module(x)
    grad_out = rng.normal(size=out.shape)
    grad_x = module.backward(grad_out)
    torch_out, torch_grad_x = torch_forward_backward(twin, x, grad_out)

    np.testing.assert_allclose(out, torch_out, **TIGHT, err_msg="forward output")
    np.testing.assert_allclose(grad_x, torch_grad_x, **TIGHT, err_msg="input gradient")
    torch_params = dict(twin.named_parameters())
    assert [name for name, _ in module.named_parameters()] == list(torch_params)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad, torch_params[name].grad.numpy(), **TIGHT, err_msg=name)


@pytest.mark.parametrize("ours, theirs, shape, training", LAYERS)
def test_layer_state_matches_torch_after_a_training_step(ours, theirs, shape, training, rng):
    """Buffers too: batch norm's running statistics move exactly as torch's."""
    module, twin = make_twins(ours, theirs, shape, training, rng)
    x = rng.normal(1.0, 2.0, size=shape)
    module(x)
    twin(torch.from_numpy(x))
    torch_state = twin.state_dict()
    for name, value in module.state_dict().items():
        np.testing.assert_allclose(value, torch_state[name].numpy(), **TIGHT, err_msg=name)


# -- against central differences ---------------------------------------------------
GRADCHECK_LAYERS = LAYERS + [
    layer("Dropout-train", lambda: nn.Dropout(0.5), None, (4, 5)),
    layer("Sequential-with-Dropout-train",
          lambda: nn.Sequential(nn.Linear(5, 6), nn.Dropout(0.4), nn.LeakyReLU(0.1), nn.Linear(6, 2)),
          None, (3, 5)),
]


@pytest.mark.parametrize("ours, theirs, shape, training", GRADCHECK_LAYERS)
def test_layer_passes_central_difference_check(ours, theirs, shape, training, rng):
    module = make_layer(ours, shape, training, rng)
    results = check_module(module, rng.normal(size=shape))
    assert list(results) == ["input"] + [name for name, _ in module.named_parameters()]
    for comparison in results.values():
        assert comparison.error < 1e-6, str(comparison)


# -- batch norm ---------------------------------------------------------------------
BATCHNORMS = [
    pytest.param(nn.BatchNorm1d, T.BatchNorm1d, (8, 3), id="BatchNorm1d-NC"),
    pytest.param(nn.BatchNorm1d, T.BatchNorm1d, (4, 3, 5), id="BatchNorm1d-NCL"),
    pytest.param(nn.BatchNorm2d, T.BatchNorm2d, (2, 3, 4, 4), id="BatchNorm2d"),
]


@pytest.mark.parametrize("ours, theirs, shape", BATCHNORMS)
def test_batchnorm_starts_with_torchs_parameters_and_buffers(ours, theirs, shape):
    bn = ours(3)
    expected = theirs(3).state_dict()
    assert list(bn.state_dict()) == list(expected)
    for name, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, expected[name].numpy(), err_msg=name)
    assert bn.weight.data.dtype == bn.running_var.dtype == np.float32
    assert bn.num_batches_tracked.shape == () and bn.num_batches_tracked.dtype == np.int64


@pytest.mark.parametrize("momentum", [0.1, 0.3])
@pytest.mark.parametrize("ours, theirs, shape", BATCHNORMS)
def test_batchnorm_running_statistics_match_torch_after_several_steps(ours, theirs, shape, momentum, rng):
    bn = ours(3, momentum=momentum).to(np.float64)
    twin = theirs(3, momentum=momentum).double()
    for step in range(4):
        x = rng.normal(step, 1.0 + step, size=shape)
        bn(x)
        twin(torch.from_numpy(x))
    np.testing.assert_allclose(bn.running_mean, twin.running_mean.numpy(), **TIGHT)
    np.testing.assert_allclose(bn.running_var, twin.running_var.numpy(), **TIGHT)
    assert bn.num_batches_tracked == twin.num_batches_tracked.item() == 4


@pytest.mark.parametrize("ours, theirs, shape", BATCHNORMS)
def test_batchnorm_training_output_has_zero_mean_and_unit_variance_per_channel(ours, theirs, shape, rng):
    y = ours(3).to(np.float64)(rng.normal(5.0, 3.0, size=shape))
    axes = tuple(i for i in range(len(shape)) if i != 1)
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=axes), 1, rtol=1e-3)   # eps = 1e-5 makes it slightly < 1


@pytest.mark.parametrize("ours, theirs, shape", BATCHNORMS)
def test_batchnorm_eval_normalises_each_sample_alone_with_running_statistics(ours, theirs, shape, rng):
    bn = ours(3).to(np.float64)
    bn(rng.normal(2.0, 3.0, size=shape))
    bn.eval()
    x = rng.normal(size=shape)
    state_before = bn.state_dict()
    batch_out = bn(x)
    np.testing.assert_allclose(bn(x[:1]), batch_out[:1], **TIGHT)
    per_channel = (3,) + (1,) * (len(shape) - 2)    # (C,) -> (C, 1, ...), broadcasts against (N, C, ...)
    mean, var = bn.running_mean.reshape(per_channel), bn.running_var.reshape(per_channel)
    expected = (x - mean) / np.sqrt(var + bn.eps)
    np.testing.assert_allclose(batch_out, expected, **TIGHT)
    for name, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, state_before[name], err_msg=f"eval changed {name}")


def test_batchnorm_training_with_one_value_per_channel_raises():
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*shape \(1, 3\)"):
        nn.BatchNorm1d(3)(np.ones((1, 3)))
    assert nn.BatchNorm1d(3).eval()(np.ones((1, 3))).shape == (1, 3)   # eval mode is fine


def test_batchnorm2d_is_batchnorm1d_over_flattened_pixels(rng):
    x = rng.normal(size=(2, 3, 4, 5))
    g = rng.normal(size=x.shape)
    bn2, bn1 = nn.BatchNorm2d(3).to(np.float64), nn.BatchNorm1d(3).to(np.float64)
    np.testing.assert_allclose(bn2(x), bn1(x.reshape(2, 3, 20)).reshape(x.shape), **TIGHT)
    np.testing.assert_allclose(bn2.backward(g), bn1.backward(g.reshape(2, 3, 20)).reshape(x.shape), **TIGHT)
    np.testing.assert_allclose(bn2.running_var, bn1.running_var, **TIGHT)


# -- dropout in training mode: compare with torch through the same mask ----------------
def test_dropout_train_is_x_times_its_mask_in_forward_and_backward_like_torch(rng):
    drop = nn.Dropout(0.3)
    x = rng.normal(size=(50, 40))
    out = drop(x)
    mask = drop.mask
    grad_out = rng.normal(size=x.shape)
    grad_x = drop.backward(grad_out)

    xt = torch.tensor(x, requires_grad=True)
    torch_out = xt * torch.from_numpy(mask)      # torch's dropout is exactly this, for its own mask
    torch_out.backward(torch.from_numpy(grad_out))
    np.testing.assert_allclose(out, torch_out.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), **TIGHT)


def test_dropout_mask_is_zero_or_one_over_keep_probability():
    drop = nn.Dropout(0.25)
    drop(np.ones((30, 30)))
    assert set(np.unique(drop.mask)) == {0.0, 1 / 0.75}


def test_dropout_draws_a_fresh_mask_on_every_forward():
    drop = nn.Dropout(0.5)
    first = drop(np.ones((20, 20)))
    second = drop(np.ones((20, 20)))
    assert not np.array_equal(first, second)


def test_dropout_mask_is_repeatable_with_manual_seed():
    drop = nn.Dropout(0.5)
    dlcourse.manual_seed(7)
    first = drop(np.ones((10, 10)))
    dlcourse.manual_seed(7)
    np.testing.assert_array_equal(drop(np.ones((10, 10))), first)


def test_dropout_preserves_the_mean_and_drops_a_fraction_p():
    p = 0.3
    out = nn.Dropout(p)(np.ones(200_000))
    assert abs(out.mean() - 1) < 0.01            # standard error is about 0.0015
    assert abs(np.mean(out == 0) - p) < 0.01


def test_dropout_is_the_identity_in_eval_mode_and_with_p_zero(rng):
    x = rng.normal(size=(4, 5))
    np.testing.assert_array_equal(nn.Dropout(0.5).eval()(x), x)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)


def test_dropout_with_p_one_drops_everything_like_torch(rng):
    x, grad_out = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    drop = nn.Dropout(1.0)
    np.testing.assert_array_equal(drop(x), T.Dropout(1.0)(torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(drop(x), np.zeros_like(x))
    np.testing.assert_array_equal(drop.backward(grad_out), np.zeros_like(x))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_a_probability_outside_0_to_1(p):
    with pytest.raises(ValueError, match=re.escape(f"0 <= p <= 1, got p={p}")):
        nn.Dropout(p)


# -- shapes and dtypes (property tests) ------------------------------------------------
SHAPES = {
    # name: (factory, input shape without the batch, output shape without the batch, smallest training batch)
    "Linear": (lambda: nn.Linear(3, 2), (3,), (2,), 1),
    "Linear-no-bias": (lambda: nn.Linear(3, 2, bias=False), (3,), (2,), 1),
    "ReLU": (nn.ReLU, (3,), (3,), 1),
    "LeakyReLU": (nn.LeakyReLU, (3,), (3,), 1),
    "ELU": (nn.ELU, (3,), (3,), 1),
    "Sigmoid": (nn.Sigmoid, (3,), (3,), 1),
    "Tanh": (nn.Tanh, (3,), (3,), 1),
    "Softmax": (nn.Softmax, (3,), (3,), 1),
    "Identity": (nn.Identity, (3,), (3,), 1),
    "Flatten": (nn.Flatten, (2, 3, 2), (12,), 1),
    "Dropout": (nn.Dropout, (3,), (3,), 1),
    "BatchNorm1d-NC": (lambda: nn.BatchNorm1d(3), (3,), (3,), 2),
    "BatchNorm1d-NCL": (lambda: nn.BatchNorm1d(3), (3, 4), (3, 4), 1),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), (2, 3, 3), (2, 3, 3), 1),
    "Sequential": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.BatchNorm1d(4), nn.ReLU(),
                                         nn.Dropout(0.2), nn.Linear(4, 2), nn.Softmax()),
                   (2, 3, 2), (2,), 2),
}


@pytest.mark.parametrize("name", SHAPES)
@HYPOTHESIS
@given(n=st.integers(1, 6), dtype=st.sampled_from([np.float32, np.float64]), training=st.booleans())
def test_any_batch_size_keeps_the_batch_size_and_the_dtype(name, n, dtype, training):
    factory, in_shape, out_shape, smallest_training_batch = SHAPES[name]
    assume(not training or n >= smallest_training_batch)
    module = factory().to(dtype).train(training)
    x = np.random.default_rng(n).normal(size=(n, *in_shape)).astype(dtype)
    out = module(x)
    assert out.shape == (n, *out_shape) and out.dtype == dtype
    grad_x = module.backward(np.ones_like(out))
    assert grad_x.shape == x.shape and grad_x.dtype == dtype
    for name, p in module.named_parameters():
        assert p.data.dtype == p.grad.dtype == dtype, name


@pytest.mark.parametrize("make", [nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Sigmoid, nn.Tanh, nn.Softmax,
                                  nn.Identity, nn.Dropout])
@HYPOTHESIS
@given(x=arrays(np.float64, array_shapes(min_dims=1, max_dims=4, max_side=5), elements=st.floats(-50, 50)))
def test_activations_preserve_any_shape(make, x):
    module = make()
    out = module(x)
    assert out.shape == x.shape
    assert module.backward(np.ones_like(out)).shape == x.shape


@pytest.mark.parametrize("ours, theirs, shape, training", GRADCHECK_LAYERS)
def test_forward_and_backward_leave_the_input_unchanged(ours, theirs, shape, training, rng):
    module = make_layer(ours, shape, training, rng)
    x = rng.normal(size=shape)
    x_before = x.copy()
    out = module(x)
    grad_out = np.ones_like(out)
    module.backward(grad_out)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(grad_out, np.ones_like(out))


# -- clear errors ------------------------------------------------------------------------
@pytest.mark.parametrize("make, shape, message", [
    (lambda: nn.Linear(5, 3), (4, 6), "Linear expects 5 input features, got an array of shape (4, 6)"),
    (lambda: nn.Linear(5, 3), (5,),
     "Linear expects an array of shape (N, in_features), got an array of shape (5,)"),
    (lambda: nn.BatchNorm1d(3), (4, 5), "BatchNorm1d expects 3 features, got an array of shape (4, 5)"),
    (lambda: nn.BatchNorm1d(3), (4,),
     "BatchNorm1d expects an array of shape (N, C) or (N, C, L), got an array of shape (4,)"),
    (lambda: nn.BatchNorm2d(3), (4, 5, 2, 2),
     "BatchNorm2d expects 3 channels, got an array of shape (4, 5, 2, 2)"),
    (lambda: nn.BatchNorm2d(3), (4, 3),
     "BatchNorm2d expects an array of shape (N, C, H, W), got an array of shape (4, 3)"),
    (lambda: nn.Sequential(nn.Linear(2, 4), nn.Linear(3, 1)), (5, 2),
     "Linear expects 3 input features, got an array of shape (5, 4)"),
])
def test_wrong_input_shape_names_the_expected_size_and_the_received_shape(make, shape, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()(np.zeros(shape))


@pytest.mark.parametrize("make, x_shape, grad_shape, message", [
    (lambda: nn.Linear(5, 3), (4, 5), (4, 2),
     "Linear.backward expects 3 output features, got an array of shape (4, 2)"),
    (nn.ReLU, (4, 5), (4, 6),
     "ReLU.backward expects a gradient of shape (4, 5), got an array of shape (4, 6)"),
    (nn.Softmax, (4, 5), (5, 4),
     "Softmax.backward expects a gradient of shape (4, 5), got an array of shape (5, 4)"),
    (lambda: nn.BatchNorm1d(5), (4, 5), (4, 6),
     "BatchNorm1d.backward expects a gradient of shape (4, 5), got an array of shape (4, 6)"),
])
def test_wrong_gradient_shape_names_the_expected_and_the_received_shape(make, x_shape, grad_shape, message):
    module = make()
    module(np.zeros(x_shape))
    with pytest.raises(ValueError, match=re.escape(message)):
        module.backward(np.zeros(grad_shape))


NOT_REAL = [
    pytest.param("abc", "a str", id="string"),
    pytest.param(None, "a NoneType", id="None"),
    pytest.param(np.ones((4, 3)) * 1j, "an array of shape (4, 3) and dtype complex128", id="complex-array"),
    pytest.param(2 + 1j, "a complex", id="complex-number"),
]
NAMED_LAYERS = [
    pytest.param(lambda: nn.Linear(3, 2), "Linear", id="Linear"),
    pytest.param(nn.ReLU, "ReLU", id="ReLU"),
    pytest.param(nn.Sigmoid, "Sigmoid", id="Sigmoid"),
    pytest.param(nn.Softmax, "Softmax", id="Softmax"),
    pytest.param(nn.Dropout, "Dropout", id="Dropout"),
    pytest.param(lambda: nn.BatchNorm1d(3), "BatchNorm1d", id="BatchNorm1d"),
    pytest.param(nn.Identity, "Identity", id="Identity"),
    pytest.param(nn.Flatten, "Flatten", id="Flatten"),
]


@pytest.mark.parametrize("bad, description", NOT_REAL)
@pytest.mark.parametrize("make, who", NAMED_LAYERS)
def test_input_that_is_not_a_real_array_is_rejected_saying_what_it_is(make, who, bad, description):
    message = f"{who} expects a real-valued array, got {description}"
    with pytest.raises(ValueError, match=re.escape(message)):
        make()(bad)


def test_a_nested_list_of_numbers_is_accepted_as_float64():
    out = nn.Linear(2, 3).to(np.float64)([[1, 2], [3, 4]])
    assert out.shape == (2, 3) and out.dtype == np.float64


def test_sequential_rejects_something_that_is_not_a_module():
    with pytest.raises(TypeError, match="Sequential expects Modules, got type at position 1"):
        nn.Sequential(nn.Linear(2, 2), nn.ReLU)   # the class, not an instance: a classic slip


def test_a_first_layer_that_needs_no_input_grad_returns_none_and_the_same_parameter_grads(rng):
    """As PyTorch, where the data tensor does not require a gradient: dL/dX is not computed."""
    x, grad_out = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    full = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).to(np.float64)
    lean = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).to(np.float64)
    lean.load_state_dict(full.state_dict())
    lean[0].needs_input_grad = False
    full(x), lean(x)
    assert full.backward(grad_out).shape == (4, 3)
    assert lean.backward(grad_out) is None
    for (name, p), (_, q) in zip(full.named_parameters(), lean.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)


# -- honesty guard -------------------------------------------------------------------------
def test_forbidden_linear_raises_reference_called_error_and_works_again_outside(rng):
    linear, x = nn.Linear(3, 2), rng.normal(size=(4, 3))
    with forbid(nn.Linear):
        with pytest.raises(ReferenceCalledError, match="you called the reference implementation"):
            linear.forward(x)
        with pytest.raises(ReferenceCalledError):
            linear(x)
        nn.ReLU()(x)                              # other layers are not forbidden
    assert linear(x).shape == (4, 2)
    assert linear.backward(np.ones((4, 2))).shape == (4, 3)


def test_forbidden_batchnorm_raises_on_forward_and_backward(rng):
    bn, x = nn.BatchNorm2d(2), rng.normal(size=(2, 2, 3, 3))
    bn(x)
    with forbid(nn.BatchNorm2d):
        with pytest.raises(ReferenceCalledError):
            bn(x)
        with pytest.raises(ReferenceCalledError):
            bn.backward(x)
    assert bn.backward(x).shape == x.shape
