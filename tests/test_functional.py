"""dlcourse.functional: each activation and its derivative against torch autograd."""
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from dlcourse import functional as F
from dlcourse.honesty import ReferenceCalledError, forbid

TIGHT = dict(rtol=1e-10, atol=1e-14)
HYPOTHESIS = settings(max_examples=25, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])
EXTREME = np.array([-1000.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1000.0])

# name: (f, f_grad, the same function in torch)
ELEMENTWISE = {
    "relu": (F.relu, F.relu_grad, torch.relu),
    "leaky_relu": (F.leaky_relu, F.leaky_relu_grad, torch.nn.functional.leaky_relu),
    "leaky_relu(0.2)": (lambda z: F.leaky_relu(z, 0.2), lambda z: F.leaky_relu_grad(z, 0.2),
                        lambda z: torch.nn.functional.leaky_relu(z, 0.2)),
    "elu": (F.elu, F.elu_grad, torch.nn.functional.elu),
    "elu(0.7)": (lambda z: F.elu(z, 0.7), lambda z: F.elu_grad(z, 0.7),
                 lambda z: torch.nn.functional.elu(z, alpha=0.7)),
    "sigmoid": (F.sigmoid, F.sigmoid_grad, torch.sigmoid),
    "tanh": (F.tanh, F.tanh_grad, torch.tanh),
}
ALL_FUNCTIONS = [F.relu, F.relu_grad, F.leaky_relu, F.leaky_relu_grad, F.elu, F.elu_grad, F.sigmoid,
                 F.sigmoid_grad, F.tanh, F.tanh_grad, F.softmax, F.log_softmax]


def torch_value_and_derivative(torch_f, z):
    """torch_f(z) and, by autograd, its elementwise derivative (the gradient of sum f(z))."""
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    out = torch_f(zt)
    out.sum().backward()
    return out.detach().numpy(), zt.grad.numpy()


@pytest.fixture
def z(rng):
    """A (6, 7) array of scores with the kink 0 included."""
    z = rng.normal(0.0, 3.0, size=(6, 7))
    z[0, 0] = 0.0
    return z


# -- against torch -------------------------------------------------------------------
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_function_matches_torch(name, z):
    f, _, torch_f = ELEMENTWISE[name]
    np.testing.assert_allclose(f(z), torch_value_and_derivative(torch_f, z)[0], **TIGHT)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_torch_autograd_including_at_zero(name, z):
    f, f_grad, torch_f = ELEMENTWISE[name]
    np.testing.assert_allclose(f_grad(z), torch_value_and_derivative(torch_f, z)[1], **TIGHT)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_match_torch(axis, rng):
    z = rng.normal(0.0, 3.0, size=(3, 4, 5))
    zt = torch.from_numpy(z)
    np.testing.assert_allclose(F.softmax(z, axis=axis), torch.softmax(zt, dim=axis).numpy(), **TIGHT)
    np.testing.assert_allclose(F.log_softmax(z, axis=axis), torch.log_softmax(zt, dim=axis).numpy(), **TIGHT)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_backward_equals_gradient_times_the_full_jacobian(axis, rng):
    z = rng.normal(size=(3, 4))
    grad_out = rng.normal(size=z.shape)
    # J[i, j, k, l] = d softmax(z)[i, j] / d z[k, l], shape (3, 4, 3, 4)
    J = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, dim=axis), torch.from_numpy(z)).numpy()
    expected = np.einsum("ij,ijkl->kl", grad_out, J)
    got = F.softmax_backward(grad_out, F.softmax(z, axis=axis), axis=axis)
    np.testing.assert_allclose(got, expected, **TIGHT)


def test_softmax_jacobian_of_one_row_is_diag_s_minus_s_s_transpose(rng):
    z = rng.normal(size=5)
    s = F.softmax(z)
    jacobian_rows = [F.softmax_backward(e, s) for e in np.eye(5)]   # row i is e_i^T J
    np.testing.assert_allclose(np.array(jacobian_rows), np.diag(s) - np.outer(s, s), **TIGHT)


# -- numerical safety -------------------------------------------------------------------
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_function_and_derivative_are_finite_and_correct_for_scores_up_to_1000(name):
    f, f_grad, torch_f = ELEMENTWISE[name]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, derivative = f(EXTREME), f_grad(EXTREME)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(derivative))
    torch_value, torch_derivative = torch_value_and_derivative(torch_f, EXTREME)
    np.testing.assert_allclose(value, torch_value, **TIGHT)
    np.testing.assert_allclose(derivative, torch_derivative, **TIGHT)


def test_sigmoid_saturates_exactly_at_plus_and_minus_1000():
    assert F.sigmoid(np.array(1000.0)) == 1.0
    assert F.sigmoid(np.array(-1000.0)) == 0.0
    assert F.sigmoid(np.array(-1000.0, dtype=np.float32)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_are_finite_and_correct_for_scores_up_to_1000(dtype):
    z = np.array([[1000, -1000, 0], [1000, 1000, -1000], [-1000, -1000, -1000], [1000, 999, 998]])
    z = z.astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s, log_s = F.softmax(z), F.log_softmax(z)
    assert s.dtype == log_s.dtype == dtype
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(log_s))
    zt = torch.from_numpy(z.astype(np.float64))
    np.testing.assert_allclose(s, torch.softmax(zt, dim=-1).numpy(), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(log_s, torch.log_softmax(zt, dim=-1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(s.sum(axis=-1), 1, rtol=1e-6)


# -- properties (hypothesis) --------------------------------------------------------------
any_scores = arrays(
    st.sampled_from([np.float32, np.float64]),
    array_shapes(min_dims=1, max_dims=4, max_side=5),
    elements=st.floats(-1000, 1000, width=32),
)


@pytest.mark.parametrize("f", ALL_FUNCTIONS, ids=lambda f: f.__name__)
@HYPOTHESIS
@given(z=any_scores)
def test_every_function_keeps_shape_and_dtype_and_stays_finite(f, z):
    out = f(z)
    assert out.shape == z.shape and out.dtype == z.dtype
    assert np.all(np.isfinite(out))


@HYPOTHESIS
@given(z=any_scores)
def test_softmax_is_a_probability_distribution_along_the_last_axis(z):
    s = F.softmax(z)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s.sum(axis=-1), 1, rtol=1e-5)


@HYPOTHESIS
@given(z=any_scores)
def test_sigmoid_is_symmetric_around_one_half(z):
    z = z.astype(np.float64)
    np.testing.assert_allclose(F.sigmoid(-z), 1 - F.sigmoid(z), atol=1e-15)


# -- inputs -------------------------------------------------------------------------------
def test_integers_and_lists_are_accepted_as_float64():
    out = F.relu([[1, -2], [3, -4]])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[1, 0], [3, 0]])


@pytest.mark.parametrize("bad, description", [
    ("abc", "a str"), (None, "a NoneType"), (np.array([1j]), "an array of shape (1,) and dtype complex128"),
])
@pytest.mark.parametrize("f", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_input_that_is_not_a_real_array_is_rejected_saying_what_it_is(f, bad, description):
    with pytest.raises(ValueError, match=re.escape(f"expects a real-valued array, got {description}")):
        f(bad)


def test_forbidden_sigmoid_raises_reference_called_error_and_works_again_outside():
    with forbid(F.sigmoid):
        with pytest.raises(ReferenceCalledError, match="you called the reference implementation"):
            F.sigmoid(np.zeros(3))
        F.tanh(np.zeros(3))                      # the other references still answer
    np.testing.assert_array_equal(F.sigmoid(np.zeros(3)), 0.5)
