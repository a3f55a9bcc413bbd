"""Weight initialisation schemes.

Each function returns a new float32 array of the requested ``shape``
(use ``.astype`` or ``Module.to`` for float64). Fan-in and fan-out follow
PyTorch: for a weight of shape (out, in, *kernel) fan_in = in * prod(kernel)
and fan_out = out * prod(kernel).

    scheme            distribution of each entry              variance
    zeros             0                                       0
    normal            N(mean, std^2)                          std^2
    uniform           U(a, b)                                 (b - a)^2 / 12
    xavier_uniform    U(-r, r), r = gain sqrt(6 / (fan_in + fan_out))    gain^2 * 2 / (fan_in + fan_out)
    xavier_normal     N(0, gain^2 * 2 / (fan_in + fan_out))   gain^2 * 2 / (fan_in + fan_out)
    he_uniform        U(-r, r), r = sqrt(6 / fan_in)          2 / fan_in
    he_normal         N(0, 2 / fan_in)                        2 / fan_in
    lecun_normal      N(0, 1 / fan_in)                        1 / fan_in
    lecun_uniform     U(-r, r), r = sqrt(3 / fan_in)          1 / fan_in
"""
import numpy as np

from .honesty import reference
from .random import generator


def _fans(shape):
    """(fan_in, fan_out) of a weight of ``shape`` in PyTorch's layout."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"fan-in and fan-out need a weight with at least 2 dimensions, got shape {shape}")
    receptive_field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive_field, shape[0] * receptive_field


@reference
def zeros(shape):
    return np.zeros(shape, dtype=np.float32)


@reference
def normal(shape, mean=0.0, std=1.0):
    return generator().normal(mean, std, size=shape).astype(np.float32)


@reference
def uniform(shape, a=0.0, b=1.0):
    return generator().uniform(a, b, size=shape).astype(np.float32)


@reference
def xavier_uniform(shape, gain=1.0):
    """Glorot and Bengio (2010): keeps the variance of activations and gradients equal."""
    fan_in, fan_out = _fans(shape)
    r = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -r, r)


@reference
def xavier_normal(shape, gain=1.0):
    fan_in, fan_out = _fans(shape)
    return normal(shape, 0.0, gain * np.sqrt(2.0 / (fan_in + fan_out)))


@reference
def he_uniform(shape):
    """He et al. (2015), for ReLU layers: variance 2 / fan_in."""
    fan_in, _ = _fans(shape)
    r = np.sqrt(6.0 / fan_in)
    return uniform(shape, -r, r)


@reference
def he_normal(shape):
    fan_in, _ = _fans(shape)
    return normal(shape, 0.0, np.sqrt(2.0 / fan_in))


@reference
def lecun_normal(shape):
    """LeCun et al. (1998): variance 1 / fan_in."""
    fan_in, _ = _fans(shape)
    return normal(shape, 0.0, np.sqrt(1.0 / fan_in))


@reference
def lecun_uniform(shape):
    fan_in, _ = _fans(shape)
    r = np.sqrt(3.0 / fan_in)
    return uniform(shape, -r, r)
