"""Gradient checking: compare a hand-written backward with central differences.

The derivative of a scalar function f at x, along entry i, is approximately

    df/dx_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

(central differences: the error shrinks like eps^2, against eps for the
one-sided formula). Doing this for every entry of every array costs two
forward passes per entry, far too slow for training but ideal for checking
a backward pass on a small input.

Public API:
    numerical_gradient(f, x, eps=1e-6)      dL/dx by central differences
    check_module(module, x, seed=0, eps=1e-6) -> {name: GradientComparison}
    relative_error(a, b)                    max elementwise relative error
    elementwise_relative_error(a, b)        the same, entry by entry
    GradientComparison                      the result for one array
    RELATIVE_ERROR_FLOOR                    the floor used in the denominator

Work in float64: with float32 (about 7 significant digits) a step of 1e-6
is lost in rounding and the numerical gradient is noise.
"""
import copy
from dataclasses import dataclass, field

import numpy as np

from . import random as dl_random
from ._validate import as_real_array, describe
from .honesty import reference

#: Denominator floor of the relative error. Entries where |a| + |b| is below
#: it are compared by absolute difference / floor. Float64 central
#: differences have a rounding error of roughly 1e-10 * |f| per entry, so a
#: gradient entry that is truly 0 comes out as about +-1e-9; without a floor
#: its "relative" error would be 1. With this floor such entries score about
#: 1e-7, a correct layer stays below 1e-6, and a real bug (an error of order
#: the gradient itself) scores far above 1e-3.
RELATIVE_ERROR_FLOOR = 1e-3


# -- relative error ------------------------------------------------------------
def elementwise_relative_error(a, b, floor=RELATIVE_ERROR_FLOOR):
    """|a - b| / max(|a| + |b|, floor), entry by entry.

    Inputs:
        a, b: arrays of the same shape (or numbers).
        floor: positive float, see RELATIVE_ERROR_FLOOR.
    Returns:
        float64 array of the same shape, each entry in [0, 1] when it is
        above the floor (0 means equal, 1 means opposite signs or one is 0).
    """
    a = np.asarray(as_real_array(a, "relative_error"), dtype=np.float64)
    b = np.asarray(as_real_array(b, "relative_error"), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error expects two arrays of the same shape, got {a.shape} and {b.shape}")
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


@reference
def relative_error(a, b, floor=RELATIVE_ERROR_FLOOR):
    """The largest elementwise relative error max_i |a_i - b_i| / max(|a_i| + |b_i|, floor).

    Returns a Python float (0.0 for empty arrays). NaN anywhere gives NaN.
    Rules of thumb in float64: < 1e-7 excellent, < 1e-5 fine for layers with
    kinks (ReLU), > 1e-3 almost certainly a bug.
    """
    errors = elementwise_relative_error(a, b, floor)
    if errors.size == 0:
        return 0.0
    return float(np.max(errors))


# -- numerical gradient ----------------------------------------------------------
@reference
def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function.

    Inputs:
        f: callable, f(x) -> a scalar (float, or an array with one entry).
        x: float ndarray of any shape. It is changed one entry at a time
           (x_i + eps, then x_i - eps) and each entry is restored to its exact
           original value before moving on, also if f raises, so x is left
           as it was found. Because x itself is perturbed, f may also ignore
           its argument and read x through a closure (e.g. a layer's weight).
           A list or an integer array is first copied to float64.
        eps: the step, 1e-6 suits float64.
    Returns:
        grad: float64 array of x's shape, grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).
    """
    if not (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        x = as_real_array(x, "numerical_gradient").astype(np.float64)
    if not x.flags.writeable:
        raise ValueError("numerical_gradient changes x entry by entry, but x is read-only: pass x.copy()")
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i].copy()
        try:
            x[i] = original + eps
            f_plus = _scalar(f(x))
            x[i] = original - eps
            f_minus = _scalar(f(x))
        finally:
            x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _scalar(value):
    """``value`` as a Python float, or a ValueError if f did not return one number."""
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in "biuf":
        raise ValueError(f"numerical_gradient expects f to return a single number, got {describe(value)}")
    return float(array.reshape(()))


# -- checking a module -----------------------------------------------------------
@dataclass
class GradientComparison:
    """Analytic and numerical gradient of one array, and how far apart they are.

    Attributes:
        name: "input", or a parameter name as in PyTorch ("weight", "0.bias").
        analytic: float64 array, what backward computed.
        numeric: float64 array of the same shape, central differences.
        error: relative_error(analytic, numeric), a float.
        worst_index: tuple, the index of the entry with the largest error
            (None for an empty array).
    """

    name: str
    analytic: np.ndarray = field(repr=False)
    numeric: np.ndarray = field(repr=False)
    error: float
    worst_index: tuple

    def __str__(self):
        if self.worst_index is None:
            return f"{self.name}: empty"
        a, n = self.analytic[self.worst_index], self.numeric[self.worst_index]
        return (
            f"{self.name}: max relative error {self.error:.2e} at index {self.worst_index} "
            f"(analytic {a:.6g}, numeric {n:.6g})"
        )


def compare_gradients(name, analytic, numeric):
    """Build the GradientComparison of two arrays of the same shape."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    errors = elementwise_relative_error(analytic, numeric)
    if errors.size == 0:
        return GradientComparison(name, analytic, numeric, 0.0, None)
    worst = np.unravel_index(np.argmax(errors), errors.shape)
    worst_index = tuple(int(i) for i in worst)
    return GradientComparison(name, analytic, numeric, float(errors[worst_index]), worst_index)


def check_module(module, x, seed=0, eps=1e-6):
    """Check a module's backward for its input and every parameter.

    The check works on a float64 *deep copy* of ``module``: the caller's
    module keeps its dtype, parameters, gradients and mode (a float32 layer
    cannot be checked in float32 anyway). The package random stream
    (``dlcourse.random``) is restored afterwards.

    Method: with a random upstream gradient G of the output's shape, define
    the scalar L(X, params) = sum(forward(X) * G), so that dL/d(output) = G.
    One backward(G) gives the analytic dL/dX and dL/dparam; central
    differences of L give the numerical ones. dlcourse.manual_seed(seed) is
    called before every forward, so Dropout draws the same mask each time.
    (The code sums (forward(X) - Y0) * G, with Y0 the output at the start:
    a constant changes no derivative, but the sum stays small, so rounding
    does not swamp the tiny difference f(x + eps) - f(x - eps).)

    Inputs:
        module: a dlcourse.nn.Module (training or evaluation mode, as given).
        x: the input, e.g. of shape (N, D); converted to float64.
        seed: seeds both G and the package generator before each forward.
        eps: step of the central differences.
    Returns:
        dict name -> GradientComparison, first "input", then each parameter
        under its PyTorch name, in named_parameters() order.
    """
    module = copy.deepcopy(module).to(np.float64)
    x = np.array(as_real_array(x, "check_module"), dtype=np.float64)   # a private copy
    saved_state = dl_random.generator().bit_generator.state
    try:
        Y0, G, analytic_x, analytic_params = _analytic_gradients(module, x, seed)

        def loss(_):
            return _loss(module, x, Y0, G, seed)

        results = {"input": compare_gradients("input", analytic_x, numerical_gradient(loss, x, eps))}
        for name, p in module.named_parameters():
            numeric = numerical_gradient(loss, p.data, eps)
            results[name] = compare_gradients(name, analytic_params[name], numeric)
    finally:
        dl_random.manual_seed(0).bit_generator.state = saved_state
    return results


def _forward(module, x, seed):
    """The module's output on x as an array, with the package generator reseeded.

    forward gets a copy of x, so a layer that changes its input in place
    cannot disturb the check.
    """
    dl_random.manual_seed(seed)
    return as_real_array(module.forward(x.copy()), f"{type(module).__name__}.forward")


def _loss(module, x, Y0, G, seed):
    """L = sum((forward(x) - Y0) * G), equal to sum(forward(x) * G) up to a constant."""
    return float(np.sum((_forward(module, x, seed) - Y0) * G))


def _analytic_gradients(module, x, seed):
    """One forward and one backward(G).

    Returns:
        Y0: a copy of the output, shape (N, ...).
        G: the upstream gradient, standard normal of the output's shape.
        grad_x: dL/dX, shape of x.
        grad_params: dict parameter name -> a copy of its .grad.
    """
    out = _forward(module, x, seed)
    G = np.random.default_rng(seed).standard_normal(out.shape)
    module.zero_grad()
    grad_x = module.backward(G.copy())
    who = f"{type(module).__name__}.backward"
    if not isinstance(grad_x, np.ndarray) or grad_x.shape != x.shape:
        raise ValueError(
            f"{who} should return dL/dinput of the input's shape {x.shape}, got {describe(grad_x)}"
        )
    grad_params = {name: p.grad.copy() for name, p in module.named_parameters()}
    return out.copy(), G, grad_x.copy(), grad_params
