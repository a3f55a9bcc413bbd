"""Input checks shared by the whole package.

Every public function and layer calls these first, so that a student who
passes the wrong thing reads a sentence saying what was expected and what
was received, instead of a numpy traceback from deep inside a matmul.
"""
import numpy as np


def describe(x):
    """A short human description of ``x`` for error messages."""
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return f"a {type(x).__name__}"


def as_real_array(x, who):
    """Return ``x`` as a real-valued numpy array, or raise ValueError.

    Floating arrays pass through untouched (no copy). Integer and boolean
    arrays and Python lists of numbers are converted to float64. Anything
    else (strings, None, complex numbers, objects) is rejected with a
    message naming ``who`` was called and what it received.
    """
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x
    try:
        arr = np.asarray(x)
    except Exception:  # ragged lists and other oddities
        raise ValueError(f"{who} expects a real-valued array, got {describe(x)}") from None
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    raise ValueError(f"{who} expects a real-valued array, got {describe(x)}")


def check_ndim(x, ndims, who, layout):
    """Raise ValueError unless ``x.ndim`` is in ``ndims``; ``layout`` names the axes."""
    if x.ndim not in ndims:
        raise ValueError(f"{who} expects an array of shape {layout}, got an array of shape {x.shape}")


def check_size(x, axis, expected, who, what):
    """Raise ValueError unless ``x.shape[axis] == expected``.

    Example message: "Linear expects 5 input features, got an array of shape (4, 6)".
    """
    if x.ndim == 0 or x.shape[axis] != expected:
        raise ValueError(f"{who} expects {expected} {what}, got an array of shape {x.shape}")


def check_same_shape(got, expected_shape, who, name):
    """Raise ValueError unless ``got.shape == expected_shape``."""
    if got.shape != tuple(expected_shape):
        raise ValueError(
            f"{who} expects {name} of shape {tuple(expected_shape)}, got an array of shape {got.shape}"
        )
