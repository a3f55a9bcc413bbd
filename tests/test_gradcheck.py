"""dlcourse.gradcheck: central differences, relative error, and checking a module's backward."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import dlcourse
from dlcourse import nn
from dlcourse.gradcheck import (
    RELATIVE_ERROR_FLOOR,
    GradientComparison,
    check_module,
    elementwise_relative_error,
    numerical_gradient,
    relative_error,
)


# -- numerical_gradient ------------------------------------------------------------------
def test_gradient_of_a_sum_of_squares_is_2x(rng):
    x = rng.normal(size=(3, 4))
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**2), x), 2 * x, rtol=1e-8, atol=1e-9)


def test_gradient_of_sin_is_cos(rng):
    x = rng.normal(size=7)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sin(v).sum(), x), np.cos(x), atol=1e-9)


def test_gradient_of_a_quadratic_form(rng):
    A, x = rng.normal(size=(5, 5)), rng.normal(size=5)
    np.testing.assert_allclose(numerical_gradient(lambda v: v @ A @ v, x), (A + A.T) @ x, atol=1e-8)


def test_gradient_of_a_0d_array():
    x = np.array(3.0)
    assert numerical_gradient(lambda v: v**3, x) == pytest.approx(27.0)


def test_f_may_read_x_through_a_closure(rng):
    """What check_module relies on: perturbing a weight array that f reads from outside."""
    W, X = rng.normal(size=(2, 3)), rng.normal(size=(4, 3))
    grad = numerical_gradient(lambda _: np.sum(X @ W.T), W)
    np.testing.assert_allclose(grad, np.tile(X.sum(axis=0), (2, 1)), atol=1e-8)


def test_lists_and_integer_arrays_are_copied_to_float64():
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**2), [1, 2, 3]), [2, 4, 6], atol=1e-8)


def test_x_is_left_exactly_as_it_was_found(rng):
    x = rng.normal(size=(4, 5)) * 1e3
    original = x.copy()
    numerical_gradient(lambda v: np.sum(np.tanh(v)), x)
    np.testing.assert_array_equal(x, original)


def test_x_is_restored_even_when_f_raises(rng):
    x = rng.normal(size=(3, 3))
    original = x.copy()
    calls = []

    def fails_on_the_fifth_call(v):
        calls.append(1)
        if len(calls) == 5:          # in the middle of entry (0, 2), while x[0, 2] is perturbed
            raise ArithmeticError("boom")
        return v.sum()

    with pytest.raises(ArithmeticError, match="boom"):
        numerical_gradient(fails_on_the_fifth_call, x)
    np.testing.assert_array_equal(x, original)


@settings(max_examples=20, deadline=None)
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=4),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_x_is_unchanged_for_any_shape_and_float_dtype(shape, dtype):
    x = np.random.default_rng(0).normal(size=shape).astype(dtype)
    original = x.copy()
    grad = numerical_gradient(lambda v: float(np.sum(v * v)), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_array_equal(x, original)


def test_f_must_return_a_single_number():
    with pytest.raises(ValueError, match="single number.*shape \\(3,\\)"):
        numerical_gradient(lambda v: v * 2, np.zeros(3))


def test_a_read_only_x_is_refused_before_anything_happens():
    x = np.zeros(3)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        numerical_gradient(np.sum, x)


# -- relative_error -----------------------------------------------------------------------
def test_relative_error_values():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.array([1.0]), np.array([-1.0])) == 1.0
    assert relative_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    assert relative_error(np.zeros(0), np.zeros(0)) == 0.0
    assert isinstance(relative_error(np.ones(2), np.ones(2)), float)


def test_below_the_floor_the_error_is_absolute_over_the_floor():
    """A gradient that is truly 0, computed as 1e-10 by central differences, is not an error of 100%."""
    assert relative_error(np.array([0.0]), np.array([1e-10])) == pytest.approx(1e-10 / RELATIVE_ERROR_FLOOR)
    np.testing.assert_allclose(
        elementwise_relative_error(np.array([0.0, 1.0]), np.array([1e-10, 1.1])), [1e-7, 0.1 / 2.1]
    )


def test_relative_error_names_both_shapes_when_they_differ():
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3\) and \(3, 2\)"):
        relative_error(np.zeros((2, 3)), np.zeros((3, 2)))


# -- check_module: correct layers pass --------------------------------------------------------
CORRECT_MODULES = {
    "Linear": lambda: nn.Linear(5, 4),
    "Linear without bias": lambda: nn.Linear(5, 4, bias=False),
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
    "ReLU": nn.ReLU,
    "LeakyReLU": lambda: nn.LeakyReLU(0.1),
    "ELU": nn.ELU,
    "Softmax": nn.Softmax,
    "Dropout (training)": lambda: nn.Dropout(0.5),
    "MLP": lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3), nn.Tanh()),
}


@pytest.mark.parametrize("name", CORRECT_MODULES)
def test_correct_modules_pass(name, rng):
    module = CORRECT_MODULES[name]()
    results = check_module(module, rng.normal(size=(6, 5)))
    assert list(results) == ["input"] + [n for n, _ in module.named_parameters()]
    for comparison in results.values():
        assert comparison.error < 1e-6, str(comparison)


def test_result_fields(rng):
    results = check_module(nn.Linear(3, 2), rng.normal(size=(4, 3)))
    weight = results["weight"]
    assert isinstance(weight, GradientComparison)
    assert weight.name == "weight"
    assert weight.analytic.shape == weight.numeric.shape == (2, 3)
    assert weight.analytic.dtype == np.float64
    assert isinstance(weight.error, float)
    assert len(weight.worst_index) == 2
    assert str(weight).startswith("weight: max relative error")


# -- check_module: a wrong backward is caught, at the right place -------------------------------
class LinearForgetsBiasGradient(nn.Linear):
    def backward(self, grad_out):
        grad_in = super().backward(grad_out)
        self.bias.grad[...] = 0               # the bug
        return grad_in


class LinearWrongWeightGradient(nn.Linear):
    def backward(self, grad_out):
        grad_in = super().backward(grad_out)
        self.weight.grad[0, 1] *= 1.5         # the bug, in one entry
        return grad_in


class TanhWrongDerivative(nn.Tanh):
    def f_grad(self, z):
        return 1 - np.tanh(z)                 # the bug: should be 1 - tanh(z)^2


def test_a_missing_bias_gradient_is_caught(rng):
    results = check_module(LinearForgetsBiasGradient(3, 2), rng.normal(size=(4, 3)))
    assert results["bias"].error > 1e-1
    assert results["weight"].error < 1e-6 and results["input"].error < 1e-6


def test_a_wrong_entry_is_caught_and_located(rng):
    results = check_module(LinearWrongWeightGradient(3, 2), rng.normal(size=(4, 3)))
    assert results["weight"].error > 1e-2
    assert results["weight"].worst_index == (0, 1)


def test_a_wrong_activation_derivative_is_caught(rng):
    results = check_module(TanhWrongDerivative(), rng.normal(size=(4, 3)))
    assert results["input"].error > 1e-2


def test_a_backward_returning_the_wrong_shape_is_explained(rng):
    class ReturnsTransposed(nn.Linear):
        def backward(self, grad_out):
            return super().backward(grad_out).T

    expected = r"ReturnsTransposed.backward should return .* shape \(4, 3\), got .*\(3, 4\)"
    with pytest.raises(ValueError, match=expected):
        check_module(ReturnsTransposed(3, 3), rng.normal(size=(4, 3)))


# -- check_module leaves the caller's world alone --------------------------------------------------
def test_the_callers_module_is_not_changed(rng):
    module = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5)).eval()
    for p in module.parameters():
        p.grad[...] = 7.0
    before = module.state_dict()
    check_module(module, rng.normal(size=(4, 3)))
    for name, p in module.named_parameters():
        assert p.data.dtype == np.float32
        np.testing.assert_array_equal(p.data, before[name])
        np.testing.assert_array_equal(p.grad, 7.0)
    assert not module[1].training


def test_the_package_random_stream_is_restored(rng):
    x = rng.normal(size=(4, 3))
    dlcourse.manual_seed(5)
    expected = dlcourse.random.generator().random(3)
    dlcourse.manual_seed(5)
    check_module(nn.Dropout(0.5), x, seed=123)
    np.testing.assert_array_equal(dlcourse.random.generator().random(3), expected)


def test_the_input_is_not_changed(rng):
    x = rng.normal(size=(4, 3))
    original = x.copy()
    check_module(nn.Linear(3, 2), x)
    np.testing.assert_array_equal(x, original)



def test_a_layer_that_changes_its_input_in_place_is_checked_correctly(rng):
    class InPlaceReLU(nn.ReLU):
        def forward(self, x):
            self.z = x.copy()
            x[x < 0] = 0               # changes the array it was given
            return x

    x = rng.normal(size=(4, 3))
    original = x.copy()
    assert check_module(InPlaceReLU(), x)["input"].error < 1e-6
    np.testing.assert_array_equal(x, original)
