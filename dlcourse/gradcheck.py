"""Gradient checking: compare a hand-written backward with central differences.

The derivative of a scalar function f at x, along entry i, is approximately

    df/dx_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

(central differences: the error shrinks like eps^2, against eps for the
one-sided formula). Doing this for every entry of every array costs two
forward passes per entry, far too slow for training but ideal for checking
a backward pass on a small input.

Public API:
    numerical_gradient(f, x, eps=1e-6)      dL/dx by central differences
    check_module(module, x, *more_inputs, seed=0, eps=1e-6) -> {name: GradientComparison}
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


def check_module(module, x, *more_inputs, seed=0, eps=1e-6):
    """Check a module's backward for its input(s) and every parameter.

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

    Modules with several inputs or outputs (the rule in dlcourse.nn.Module's
    docstring) are checked the same way: pass every input,
    ``check_module(lstm, x, (h0, c0))``. A tuple is one input made of
    several arrays (an LSTM's state (h, c)); a None entry is passed as None
    and not checked. Every output array gets its own random G, L sums over
    all of them, and backward receives one G per output, as the rule says
    (``backward(G_output, (G_h_n, G_c_n))``). backward may return more
    gradients than inputs were given (``rnn.backward`` also returns dL/dh0
    when h0 was left at its default): only the given ones are compared.

    Inputs:
        module: a dlcourse.nn.Module (training or evaluation mode, as given).
        x, *more_inputs: the inputs, e.g. x of shape (N, D); converted to float64.
        seed: seeds both G and the package generator before each forward (keyword only).
        eps: step of the central differences (keyword only).
    Returns:
        dict name -> GradientComparison: first the input ("input"; with
        several inputs "input[0]", "input[1]", and "input[1][0]" for an
        array inside a tuple), then each parameter under its PyTorch name,
        in named_parameters() order.
    """
    module = copy.deepcopy(module).to(np.float64)
    inputs = tuple(_map_arrays(_private_float64_copy, value) for value in (x, *more_inputs))
    root_names = ["input"] if len(inputs) == 1 else [f"input[{k}]" for k in range(len(inputs))]
    saved_state = dl_random.generator().bit_generator.state
    try:
        Y0, G, analytic_inputs, analytic_params = _analytic_gradients(module, inputs, seed)

        def loss(_):
            return _loss(module, inputs, Y0, G, seed)

        results = {}
        for root, value, grad in zip(root_names, inputs, analytic_inputs, strict=True):
            for name, array, analytic in _paired_arrays(root, value, grad, module):
                results[name] = compare_gradients(name, analytic, numerical_gradient(loss, array, eps))
        # A parameter is perturbed in a copy of the state and loaded before each forward (rather
        # than changed in place through p.data), so that only the module's own methods touch it.
        state = module.state_dict()

        def loss_at_state(_):
            module.load_state_dict(state)
            return _loss(module, inputs, Y0, G, seed)

        for name, _ in module.named_parameters():
            numeric = numerical_gradient(loss_at_state, state[name], eps)
            results[name] = compare_gradients(name, analytic_params[name], numeric)
    finally:
        dl_random.manual_seed(0).bit_generator.state = saved_state
    return results


# -- several inputs and outputs: arrays nested in tuples ----------------------------------------
def _private_float64_copy(value):
    return np.array(as_real_array(value, "check_module"), dtype=np.float64)


def _map_arrays(f, value):
    """Apply f to every array of a value nested in tuples; None entries stay None."""
    if isinstance(value, tuple):
        return tuple(_map_arrays(f, entry) for entry in value)
    return None if value is None else f(value)


def _arrays(value):
    """The arrays of a value nested in tuples, in order (None entries skipped)."""
    if isinstance(value, tuple):
        return [array for entry in value for array in _arrays(entry)]
    return [] if value is None else [value]


def _paired_arrays(name, value, grad, module):
    """Yield (name, input array, its analytic gradient), checking that grad mirrors value."""
    who = f"{type(module).__name__}.backward"
    if isinstance(value, tuple):
        if not (isinstance(grad, tuple) and len(grad) == len(value)):
            raise ValueError(f"{who} should return dL/d{name} as a tuple of {len(value)} gradients, "
                             f"got {describe(grad)}")
        for k, (entry, entry_grad) in enumerate(zip(value, grad, strict=True)):
            yield from _paired_arrays(f"{name}[{k}]", entry, entry_grad, module)
    elif value is not None:
        if not isinstance(grad, np.ndarray) or grad.shape != value.shape:
            raise ValueError(
                f"{who} should return dL/d{name} of the {name}'s shape {value.shape}, got {describe(grad)}"
            )
        yield name, value, grad


def _forward(module, inputs, seed):
    """The module's output(s) on the inputs as arrays, with the package generator reseeded.

    forward gets copies of the inputs, so a layer that changes its input in
    place cannot disturb the check.
    """
    dl_random.manual_seed(seed)
    out = module.forward(*_map_arrays(np.copy, inputs))
    return _map_arrays(lambda y: as_real_array(y, f"{type(module).__name__}.forward"), out)


def _loss(module, inputs, Y0, G, seed):
    """L = sum over the outputs of sum((forward(x) - Y0) * G), = sum(forward(x) * G) + a constant."""
    outputs = _arrays(_forward(module, inputs, seed))
    return float(sum(np.sum((y - y0) * g) for y, y0, g in zip(outputs, _arrays(Y0), _arrays(G), strict=True)))


def _analytic_gradients(module, inputs, seed):
    """One forward and one backward(G).

    Returns:
        Y0: a copy of the output(s), shape (N, ...) each.
        G: the upstream gradient(s), standard normal, shaped and nested as the output(s).
        grad_inputs: a tuple, dL/d(each given input), nested as the inputs.
        grad_params: dict parameter name -> a copy of its .grad.
    """
    out = _forward(module, inputs, seed)
    rng = np.random.default_rng(seed)
    G = _map_arrays(lambda y: rng.standard_normal(y.shape), out)
    module.zero_grad()
    G_copy = _map_arrays(np.copy, G)
    grads = module.backward(*G_copy) if isinstance(out, tuple) else module.backward(G_copy)
    if len(inputs) == 1 and not isinstance(inputs[0], tuple):
        # one input: its gradient, or a tuple that starts with it (the rest are inputs left at their defaults)
        grad_inputs = (grads[0] if isinstance(grads, tuple) and grads else grads,)
    elif isinstance(grads, tuple) and len(grads) >= len(inputs):
        grad_inputs = grads[:len(inputs)]
    else:
        raise ValueError(f"{type(module).__name__}.backward should return a tuple of {len(inputs)} "
                         f"gradients, one per input, got {describe(grads)}")
    grad_inputs = _map_arrays(lambda g: g.copy() if isinstance(g, np.ndarray) else g, grad_inputs)
    grad_params = {name: p.grad.copy() for name, p in module.named_parameters()}
    return _map_arrays(np.copy, out), G, grad_inputs, grad_params
