"""The checks that the graded test cells call.

Each check runs your code on a few inputs and compares the result with the
``dlcourse`` reference (or, for gradients, with central differences). When
something is off it raises :class:`CheckFailed` with one or two plain
sentences: which input, what was expected, what you returned, and where the
arrays first differ. When the exercise is still nbgrader's stub
(``raise NotImplementedError()``) it raises :class:`NotAttempted` instead.

While your code runs, the reference it replaces is forbidden (see
``dlcourse.honesty``): calling it fails the check.

The functions a test cell uses:
    check_function(student_fn, reference_fn, inputs)    values, shape and dtype
    check_derivative(derivative_fn, fn, inputs)         f'(z) against central differences of f
    check_layer_gradients(layer, x)                     a layer's backward against central differences
    assert_close(got, expected)                         compare one result
"""
import contextlib
import copy
import functools
import inspect
import os
import sys
import sysconfig
import warnings

import numpy as np

from . import gradcheck
from .honesty import ReferenceCalledError, forbid

# (rtol, atol) by dtype, the defaults of torch.testing.assert_close.
TOLERANCES = {np.float16: (1e-3, 1e-5), np.float32: (1.3e-6, 1e-5), np.float64: (1e-7, 1e-7)}

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


# -- the two failures a student can see -------------------------------------------
class CheckFailed(AssertionError):
    """A check found a mistake; the message says what and where.

    In Jupyter it is shown as its message alone, without a traceback of the
    checking code (IPython calls ``_render_traceback_``).
    """

    def _render_traceback_(self):
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}"]


class NotAttempted(CheckFailed):
    """The exercise still raises NotImplementedError: it has not been written yet."""


# -- checking values ----------------------------------------------------------------
def check_function(student_fn, reference_fn, inputs, *, rtol=None, atol=None, name=None,
                   check_dtype=True, allow_warnings=False, quiet=False, result_names=None,
                   forbidden_numpy=()):
    """Check ``student_fn`` against ``reference_fn`` on every input.

    Inputs:
        student_fn: the student's function.
        reference_fn: the function giving the expected answer. It runs
            outside the honesty guard; ``student_fn`` runs inside it, so
            calling a dlcourse ``reference_fn`` from ``student_fn`` fails.
        inputs: a list of examples. An example is the single argument
            (e.g. an array), or a tuple of the arguments.
        rtol, atol: tolerances of np.isclose; default by dtype (TOLERANCES).
        name: the name used in messages, default ``student_fn.__name__``.
        check_dtype: the result must have the reference's dtype.
        allow_warnings: if False, a numpy warning (overflow, invalid value,
            division by zero) during the student's call fails the check, and so
            does silencing numpy's warnings (np.errstate, np.seterr,
            warnings.filterwarnings / simplefilter) inside the student's code.
        quiet: if False, print one line when every input passed.
        result_names: for a ``reference_fn`` that returns a tuple, such as
            ``(w, b, n_updates)``, the names of its entries; the student's
            tuple is then compared entry by entry, each named in messages.
        forbidden_numpy: names of numpy functions the exercise forbids, e.g.
            ("tanh",): a call of np.tanh from the student's code fails.
    Raises:
        NotAttempted, CheckFailed, or the student's own error.
    """
    __tracebackhide__ = True
    name = name or student_fn.__name__
    examples = [example if isinstance(example, tuple) else (example,) for example in inputs]
    for args in examples:
        expected = reference_fn(*_copy(args))
        call = describe_call(name, reference_fn, args)
        named_args = dict(zip(_parameter_names(reference_fn, len(args)), args, strict=True))
        student_args = _copy(args)
        # a reference written in the test cell (a lambda) is no dlcourse reference: nothing to forbid
        forbidden = [reference_fn] if hasattr(reference_fn, "reference_name") else []
        got, numpy_warnings = run_student(student_fn, student_args, name, call, forbidden=forbidden,
                                          forbidden_numpy=forbidden_numpy,
                                          allow_silencing=allow_warnings)
        if isinstance(expected, tuple):   # several results: compare them one by one
            _assert_each_close(got, expected, result_names, call, rtol=rtol, atol=atol,
                               check_dtype=check_dtype)
        else:
            assert_close(got, expected, rtol=rtol, atol=atol, call=call, inputs=named_args,
                         check_dtype=check_dtype)
        if numpy_warnings and not allow_warnings:
            raise CheckFailed(
                f"{call} returned the right values, but numpy warned '{numpy_warnings[0]}': "
                "an intermediate result overflowed or was undefined. Rewrite it so that no step does."
            )
        if not all(_same(a, b) for a, b in zip(args, student_args, strict=True)):
            raise CheckFailed(
                f"`{name}` changed its input array in place; compute a new array instead "
                "(for example `z = z * 2` rather than `z *= 2`)."
            )
    if not quiet:
        print(f"\u2714 {name}: correct on {_count(examples, 'input')}.")


def assert_close(got, expected, *, rtol=None, atol=None, call="The result", inputs=None, check_dtype=True):
    """Raise CheckFailed unless ``got`` equals ``expected`` within tolerance.

    Checks, in order: a value was returned, it is an array (or a number where
    a number is expected), its shape, its dtype, nan/inf where the expected
    value is finite, then the values themselves.

    Inputs:
        got, expected: the two results.
        rtol, atol: tolerances of np.isclose; default by dtype (TOLERANCES).
        call: what produced ``got``, for the message, e.g. "`sigmoid` for z = [0, 1]".
        inputs: optional dict name -> argument; an input array of the
            result's shape is quoted at the first difference ("z there is 2").
        check_dtype: ``got`` must have ``expected``'s dtype.
    """
    __tracebackhide__ = True
    inputs = inputs or {}
    expected = np.asarray(expected)
    got = _as_result_array(got, expected, call)
    if got.shape != expected.shape:
        raise CheckFailed(f"{call} returned an array of shape {got.shape}; expected shape {expected.shape}.")
    if check_dtype and got.dtype != expected.dtype:
        same_as_input = any(getattr(a, "dtype", None) == expected.dtype for a in inputs.values())
        hint = " (the input's dtype: keep its precision)" if same_as_input else ""
        raise CheckFailed(f"{call} returned dtype {got.dtype}; expected dtype {expected.dtype}{hint}.")
    if expected.dtype.kind not in "biuf":
        if not np.array_equal(got, expected):
            raise CheckFailed(f"{call} returned {_abridge(got)}; expected {_abridge(expected)}.")
        return
    default_rtol, default_atol = TOLERANCES.get(expected.dtype.type, TOLERANCES[np.float64])
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    close = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return
    blowups = ~close & ~np.isfinite(got) & np.isfinite(expected)   # nan or inf where a number is expected
    index = tuple(int(i) for i in np.argwhere(blowups if blowups.any() else ~close)[0])
    at = f" at index {index}" if index else ""
    there = _input_there(inputs, index, expected.shape)
    g, e = got[index], expected[index]
    if blowups.any():
        raise CheckFailed(
            f"{call} returned {_fmt(g)}{at}, where the expected value is {_fmt(e)}{there}. "
            "A nan or inf usually comes from an overflow, such as np.exp of a large number."
        )
    count = f" {int((~close).sum())} of {close.size} entries differ." if close.size > 1 else ""
    got_text, expected_text = _fmt_pair(g, e)
    raise CheckFailed(f"{call} is wrong{at}: expected {expected_text}, got {got_text}{there}.{count}"
                      f"{_precision_hint(got, expected, rtol, atol)}")


def _assert_each_close(got, expected, names, call, **tolerances):
    """Compare a returned tuple with the expected tuple entry by entry (``names`` label the entries)."""
    __tracebackhide__ = True
    names = names or [f"result {i + 1}" for i in range(len(expected))]
    if not isinstance(got, (tuple, list)) or len(got) != len(expected):
        raise CheckFailed(
            f"{call} returned {_abridge(got)}; expected a tuple of {len(expected)} values "
            f"({', '.join(names)})."
        )
    for name, got_value, expected_value in zip(names, got, expected, strict=True):
        assert_close(got_value, expected_value, call=f"`{name}` from {call}", **tolerances)


def _as_result_array(got, expected, call):
    """``got`` as an array, or CheckFailed saying what was returned instead."""
    __tracebackhide__ = True
    if got is None:
        raise CheckFailed(f"{call} returned None. Did you forget the `return` statement?")
    if isinstance(got, (list, tuple)):
        raise CheckFailed(
            f"{call} returned a {type(got).__name__}; return a numpy array of shape {expected.shape} "
            "(numpy operations on the input give you one)."
        )
    if isinstance(got, (np.ndarray, np.generic, int, float)):
        got = np.asarray(got)
        if got.dtype.kind in "biuf" or expected.dtype.kind not in "biuf":
            return got
    raise CheckFailed(f"{call} returned {_a_type(got)}; expected a numpy array of shape {expected.shape}.")


def _input_there(inputs, index, shape):
    """' (z there is 2)', when one input is an array of the result's shape."""
    for name, value in inputs.items():
        if index and isinstance(value, np.ndarray) and value.shape == shape:
            return f" ({name} there is {_fmt(value[index])})"
    return ""


def _same(before, after):
    """True if an argument was not changed in place (only arrays are compared)."""
    if isinstance(before, np.ndarray):
        return np.array_equal(before, after, equal_nan=True)
    return True


# -- checking gradients ---------------------------------------------------------------
def check_derivative(derivative_fn, fn, inputs, *, tol=1e-5, name=None, reference=None, quiet=False):
    """Check an elementwise derivative f'(z) against central differences of f.

    For an elementwise f, d/dz_i sum(f(z)) = f'(z_i), so the numerical
    gradient of sum(f(z)) is f'(z) entry by entry.

    Inputs:
        derivative_fn: the student's f'(z), same shape as z.
        fn: f itself (usually the dlcourse reference), run outside the guard.
        inputs: a list of arrays z (converted to float64 for the check).
        tol: largest accepted relative error (dlcourse.gradcheck.relative_error).
        name: name used in messages, default ``derivative_fn.__name__``.
        reference: the dlcourse reference of f' to forbid while
            ``derivative_fn`` runs (e.g. F.sigmoid_grad).
    """
    __tracebackhide__ = True
    name = name or derivative_fn.__name__
    fn_name = getattr(fn, "__name__", "f")
    for z in inputs:
        z = np.array(z, dtype=np.float64)
        numeric = gradcheck.numerical_gradient(lambda v: np.sum(fn(v)), z.copy())
        call = describe_call(name, derivative_fn, (z,))
        forbidden = [reference] if reference is not None else []
        got, _ = run_student(derivative_fn, (z.copy(),), name, call, forbidden=forbidden)
        got = _as_result_array(got, numeric, call)
        if got.shape != z.shape:
            raise CheckFailed(f"{call} returned an array of shape {got.shape}; expected shape {z.shape}.")
        comparison = gradcheck.compare_gradients(name, got, numeric)
        if not comparison.error <= tol:   # also catches nan
            index = comparison.worst_index
            at = f" at index {index}" if index else ""
            there = _input_there({_parameter_names(derivative_fn, 1)[0]: z}, index, z.shape)
            raise CheckFailed(
                f"{call} disagrees with central differences of `{fn_name}`{at}{there}: "
                f"yours gives {_fmt(got[index])}, the numerical derivative is {_fmt(numeric[index])} "
                f"(relative error {comparison.error:.1e})."
            )
    if not quiet:
        print(f"\u2714 {name}: agrees with central differences of `{fn_name}` on {_count(inputs, 'input')}.")


def check_layer_gradients(layer, x, *, tol=1e-5, name=None, reference=None, seed=0, quiet=False):
    """Check a layer's backward against central differences (dlcourse.gradcheck.check_module).

    Checks dL/dx (what backward returns) and dL/dparameter for every
    parameter (what backward adds into ``.grad``), in float64 on a copy of
    the layer. ``reference`` is the dlcourse class the layer re-implements,
    forbidden while it runs (e.g. ``nn.Linear``).
    """
    __tracebackhide__ = True
    name = name or type(layer).__name__
    call = f"`{name}` on x of shape {np.shape(x)}"
    forbidden = [reference] if reference is not None else []
    results, _ = run_student(lambda: gradcheck.check_module(layer, x, seed=seed), (), name, call, forbidden,
                             student=layer)
    for comparison in results.values():
        if not comparison.error <= tol:
            raise CheckFailed(_gradient_message(name, comparison))
    if not quiet:
        print(f"\u2714 {name}: backward agrees with central differences for {', '.join(results)}.")


def _gradient_message(name, comparison):
    """One sentence naming the wrong gradient and its worst entry."""
    if comparison.name == "input":
        what = "the gradient with respect to the input (what backward returns)"
    else:
        what = f"the gradient of `{comparison.name}` (what backward adds into {comparison.name}.grad)"
    index = comparison.worst_index
    return (
        f"`{name}.backward` is wrong for {what}: at index {index} your backward gives "
        f"{_fmt(comparison.analytic[index])}, central differences give {_fmt(comparison.numeric[index])} "
        f"(relative error {comparison.error:.1e})."
    )


# -- running the student's code ------------------------------------------------------
def run_student(fn, args, name, call, forbidden=(), student=None, forbidden_numpy=(), allow_silencing=True):
    """Call ``fn(*args)`` with the dlcourse references in ``forbidden`` switched off.

    Returns (result, numpy warnings as strings). Turns the nbgrader stub into
    NotAttempted and a call of a forbidden reference into CheckFailed. Any
    other error is the student's: it is re-raised as it is, with a note
    saying which check was running, and without our frames in front of it.
    ``student`` is what the student wrote (default ``fn``), to tell "this
    exercise is not written" from "it calls another one that is not".
    Everything in ``forbidden`` must be a dlcourse reference (a TypeError
    otherwise), so a test cannot believe it forbids what it does not.
    ``forbidden_numpy`` names numpy functions (e.g. "tanh") that the student's
    code may not call; with ``allow_silencing=False`` the student's code may
    not switch numpy's warnings off either (np.errstate, np.seterr,
    warnings.filterwarnings, warnings.simplefilter). Both are refused only when
    called from outside numpy and dlcourse, as CheckFailed.
    """
    __tracebackhide__ = True
    if hasattr(type(fn), "run_student_remotely"):   # tools/verdict.py: the student's code runs elsewhere
        return fn.run_student_remotely(args, name, call, forbidden, student, forbidden_numpy, allow_silencing)
    with forbid(*forbidden), warnings.catch_warnings(record=True) as caught, \
            np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
        warnings.simplefilter("always")
        try:
            with _refuse_from_student(forbidden_numpy, allow_silencing, student or fn):
                result = fn(*args)
        except ReferenceCalledError as error:
            raise CheckFailed(f"Honesty check: {error}.") from None
        except Exception as error:
            if isinstance(error, NotImplementedError) and _is_unwritten(error):
                raise NotAttempted(_not_attempted_message(error, student or fn, name)) from None
            student_frames = _without_package_frames(error.__traceback__)
            if student_frames is None:   # our own check refused what the student's code returned
                raise CheckFailed(f"{call}: {error}.") from None
            error.add_note(f"(raised by your code while checking {call})")
            raise error.with_traceback(student_frames) from error.__cause__
    return result, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


_SILENCERS = [(np, "errstate"), (np, "seterr"), (warnings, "filterwarnings"), (warnings, "simplefilter")]
_LIBRARY_DIRS = (_PACKAGE_DIR, os.path.dirname(np.__file__), os.path.dirname(warnings.__file__),
                 sysconfig.get_paths()["purelib"])


def _called_from_library(depth=2):
    """True when the caller of the guarded function lies in numpy, dlcourse or the standard library."""
    return sys._getframe(depth).f_code.co_filename.startswith(_LIBRARY_DIRS)


@contextlib.contextmanager
def _refuse_from_student(numpy_names, allow_silencing, student=None):
    """Replace np.<name> (and the warning switches) by guards that refuse a call from the student's code."""
    targets = [(np, name, f"you called np.{name}, which this exercise forbids; write it without it")
               for name in numpy_names]
    if not allow_silencing:
        targets += [(module, name, f"your code calls {module.__name__.replace('numpy', 'np')}.{name}, which "
                     "switches numpy's warnings off; the test requires code that does not overflow, "
                     "not a silenced warning") for module, name in _SILENCERS]
    saved = [(module, name, getattr(module, name)) for module, name, _ in targets]
    if student is not None:
        _refuse_aliases(student, {getattr(np, name): name for name in numpy_names})
    for (module, name, message), (_, _, original) in zip(targets, saved, strict=True):
        setattr(module, name, _guard(original, message))
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def _refuse_aliases(student, forbidden):
    """Refuse a forbidden numpy function bound to another name (``from numpy import tanh as t``)."""
    functions = [student] if hasattr(student, "__code__") else [
        f for f in vars(type(student)).values() if hasattr(f, "__code__")]
    for function in functions:
        codes, names = [function.__code__], set()
        while codes:
            code = codes.pop()
            names.update(code.co_names)
            codes += [c for c in code.co_consts if hasattr(c, "co_names")]
        bound = {**{name: function.__globals__.get(name) for name in names},
                 **{name: _contents(cell) for name, cell in
                    zip(function.__code__.co_freevars, function.__closure__ or (), strict=True)}}
        for name, value in bound.items():
            if isinstance(value, np.ufunc | type(np.sum)) and value in forbidden:
                raise ReferenceCalledError(f"your code uses np.{forbidden[value]} (as `{name}`), which this "
                                           "exercise forbids; write it without it")


def _contents(cell):
    """What a closure cell holds, or None while it is empty."""
    try:
        return cell.cell_contents
    except ValueError:
        return None


def _guard(original, message):
    """``original``, refusing calls that come from outside the libraries."""
    @functools.wraps(original)
    def guarded(*args, **kwargs):
        if not _called_from_library():
            raise ReferenceCalledError(message)
        return original(*args, **kwargs)
    return guarded


def _is_unwritten(error):
    """True for nbgrader's stub (a bare NotImplementedError) or a Module method that was not overridden."""
    return not str(error) or _last_frame(error.__traceback__).f_code.co_filename.startswith(_PACKAGE_DIR)


def _not_attempted_message(error, student, name):
    """'Not attempted yet: ...', naming what still raises NotImplementedError."""
    frame = _last_frame(error.__traceback__)
    if str(error):   # e.g. "Linear does not implement backward"
        return f"Not attempted yet: {error}. Write it in the cell above, then run this cell again."
    if frame.f_code in _own_code(student):
        if not hasattr(student, "__code__"):   # a layer: name the method, e.g. Linear.backward
            name = f"{name}.{frame.f_code.co_name}"
        return f"Not attempted yet: write `{name}` in the cell above, then run this cell again."
    where = frame.f_code.co_qualname
    return (
        f"Not attempted yet: `{name}` calls `{where}`, which still raises NotImplementedError. "
        f"Write `{where}` first, then run this cell again."
    )


def _own_code(student):
    """The code objects of a function, or of the methods of a layer's class."""
    if hasattr(student, "__code__"):
        return {student.__code__}
    return {f.__code__ for f in vars(type(student)).values() if hasattr(f, "__code__")}


def _last_frame(tb):
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame


def _without_package_frames(tb):
    """Drop the leading traceback entries that lie inside dlcourse (our checking code)."""
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return tb


# -- describing inputs and values -------------------------------------------------
def describe_call(name, fn, args):
    """'`sigmoid` for z = [-1, 0, 1]': the function and its (abridged) arguments."""
    names = _parameter_names(fn, len(args))
    if not args:
        return f"`{name}`"
    described = ", ".join(f"{n} = {_abridge(a)}" for n, a in zip(names, args, strict=True))
    return f"`{name}` for {described}"


def _parameter_names(fn, count):
    """The first ``count`` parameter names of ``fn``, or input1, input2, ..."""
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if len(params) < count:
        params = [f"input{i + 1}" for i in range(count)]
    return params[:count]


def _abridge(x):
    """A short description of a value for a message: small arrays in full, big ones by shape."""
    if isinstance(x, np.ndarray):
        dtype = "" if x.dtype == np.float64 else f" ({x.dtype})"
        if x.ndim == 0:
            return f"{_fmt(x[()])}{dtype} (a 0-d array)"
        if x.size == 0:
            return f"an empty array of shape {x.shape}{dtype}"
        if x.ndim == 1 and x.size <= 8:
            return "[" + ", ".join(_fmt(v) for v in x) + "]" + dtype
        values = x.ravel()
        return f"an array of shape {x.shape}{dtype} starting {', '.join(_fmt(v) for v in values[:3])}, ..."
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _fmt(value):
    """A number in at most 6 significant digits; other values by repr."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (int, np.integer, bool, np.bool_)):
        return str(value)
    return _abridge(value)


def _fmt_pair(got, expected):
    """Two numbers with as many significant digits as it takes to tell them apart (6 to 17)."""
    if not all(isinstance(v, (float, np.floating)) for v in (got, expected)):
        return _fmt(got), _fmt(expected)
    for digits in range(6, 18):
        got_text, expected_text = f"{float(got):.{digits}g}", f"{float(expected):.{digits}g}"
        if got_text != expected_text:
            if digits > 6:   # keep the trailing zeros, so both show the same number of digits
                got_text, expected_text = f"{float(got):#.{digits}g}", f"{float(expected):#.{digits}g}"
            break
    return got_text, expected_text


def _precision_hint(got, expected, rtol, atol):
    """A sentence naming the dtype when the result was computed in a lower precision than expected."""
    if got.dtype.kind != "f" or expected.dtype.kind != "f" or got.dtype.itemsize >= expected.dtype.itemsize:
        return ""
    high = got.astype(expected.dtype)
    if np.isclose(high, expected, rtol=max(rtol, 10 * float(np.finfo(got.dtype).eps)),
                  atol=max(atol, 10 * float(np.finfo(got.dtype).tiny)), equal_nan=True).all():
        return (f" The result is {got.dtype}, the expected one {expected.dtype}: the difference is "
                f"{got.dtype} rounding. Compute in {expected.dtype}.")
    return f" (The result is {got.dtype}, the expected one {expected.dtype}.)"


def _a_type(value):
    """'a str', 'an int', 'an array of dtype <U3'."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}"
    kind = type(value).__name__
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _count(items, noun):
    """'1 input', '3 inputs'."""
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _copy(args):
    """Deep copies of the arguments, so the reference and the student each get their own."""
    return tuple(copy.deepcopy(a) for a in args)
