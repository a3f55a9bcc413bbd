"""Activation functions and their derivatives as plain functions.

Each ``f(z)`` is applied elementwise (softmax along an axis); each
``f_grad(z)`` is the derivative f'(z), also elementwise, so that the
backward pass of an activation layer is ``dL/dZ = dL/dA * f'(Z)``.
All accept any array shape and return an array of the same shape.
"""
import numpy as np

from ._validate import as_real_array
from .honesty import reference


@reference
def relu(z):
    """max(0, z)."""
    z = as_real_array(z, "relu")
    return np.maximum(z, 0)


@reference
def relu_grad(z):
    """1 where z > 0, else 0 (we take the derivative at 0 to be 0, as PyTorch does)."""
    z = as_real_array(z, "relu_grad")
    return (z > 0).astype(z.dtype)


@reference
def leaky_relu(z, negative_slope=0.01):
    """z for z > 0, negative_slope * z otherwise."""
    z = as_real_array(z, "leaky_relu")
    return np.where(z > 0, z, negative_slope * z)


@reference
def leaky_relu_grad(z, negative_slope=0.01):
    """1 for z > 0, negative_slope otherwise."""
    z = as_real_array(z, "leaky_relu_grad")
    return np.where(z > 0, 1.0, negative_slope).astype(z.dtype)


@reference
def elu(z, alpha=1.0):
    """z for z > 0, alpha (e^z - 1) otherwise."""
    z = as_real_array(z, "elu")
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


@reference
def elu_grad(z, alpha=1.0):
    """1 for z > 0, alpha e^z otherwise."""
    z = as_real_array(z, "elu_grad")
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))).astype(z.dtype)


@reference
def sigmoid(z):
    """1 / (1 + e^-z), computed without overflow for any z.

    For z >= 0 we use 1 / (1 + e^-z); for z < 0 the equal form
    e^z / (1 + e^z). Either way the exponent is e^-|z| <= 1.
    """
    z = as_real_array(z, "sigmoid")
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype)


@reference
def sigmoid_grad(z):
    """sigma(z) (1 - sigma(z))."""
    s = sigmoid(z)
    return s * (1 - s)


@reference
def tanh(z):
    """(e^z - e^-z) / (e^z + e^-z)."""
    z = as_real_array(z, "tanh")
    return np.tanh(z)


@reference
def tanh_grad(z):
    """1 - tanh(z)^2."""
    t = tanh(z)
    return 1 - t * t


@reference
def softmax(z, axis=-1):
    """e^(z_k - max z) / sum_j e^(z_j - max z) along ``axis``.

    Subtracting the maximum changes nothing mathematically (it cancels) but
    keeps every exponent <= 0, so nothing overflows.
    """
    z = as_real_array(z, "softmax")
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@reference
def log_softmax(z, axis=-1):
    """z_k - logsumexp(z) along ``axis``, stable for any z."""
    z = as_real_array(z, "log_softmax")
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@reference
def softmax_backward(grad_out, s, axis=-1):
    """dL/dz from dL/ds for s = softmax(z), without forming the Jacobian.

    The Jacobian is ds_i/dz_j = s_i (delta_ij - s_j), so
    dL/dz_j = sum_i dL/ds_i s_i (delta_ij - s_j) = s_j (dL/ds_j - sum_i dL/ds_i s_i).
    """
    grad_out = as_real_array(grad_out, "softmax_backward")
    s = as_real_array(s, "softmax_backward")
    return s * (grad_out - (grad_out * s).sum(axis=axis, keepdims=True))
