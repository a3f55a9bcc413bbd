"""Activation layers: each applies a function from ``dlcourse.functional``.

Forward caches the pre-activation Z; backward returns dL/dZ = dL/dA * f'(Z)
(elementwise), except Softmax, whose Jacobian mixes the entries of a row.
"""
from .. import functional as F
from .._validate import as_real_array, check_same_shape
from ..honesty import reference
from .module import Module


class _Elementwise(Module):
    """A = f(Z) elementwise; subclasses set ``f`` and ``f_grad``."""

    @reference
    def forward(self, x):
        self.z = as_real_array(x, type(self).__name__)
        return self.f(self.z)

    @reference
    def backward(self, grad_out):
        (z,) = self._cached("z")
        grad_out = as_real_array(grad_out, f"{type(self).__name__}.backward")
        check_same_shape(grad_out, z.shape, f"{type(self).__name__}.backward", "a gradient")
        return grad_out * self.f_grad(z)


class ReLU(_Elementwise):
    """A = max(0, Z)."""

    def f(self, z):
        return F.relu(z)

    def f_grad(self, z):
        return F.relu_grad(z)


class LeakyReLU(_Elementwise):
    """A = Z for Z > 0, negative_slope * Z otherwise."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def f(self, z):
        return F.leaky_relu(z, self.negative_slope)

    def f_grad(self, z):
        return F.leaky_relu_grad(z, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(_Elementwise):
    """A = Z for Z > 0, alpha (e^Z - 1) otherwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def f(self, z):
        return F.elu(z, self.alpha)

    def f_grad(self, z):
        return F.elu_grad(z, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Sigmoid(_Elementwise):
    """A = 1 / (1 + e^-Z)."""

    def f(self, z):
        return F.sigmoid(z)

    def f_grad(self, z):
        return F.sigmoid_grad(z)


class Tanh(_Elementwise):
    """A = tanh(Z)."""

    def f(self, z):
        return F.tanh(z)

    def f_grad(self, z):
        return F.tanh_grad(z)


class Softmax(Module):
    """A = softmax(Z) along ``dim``; backward uses the vector-Jacobian product."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    @reference
    def forward(self, x):
        x = as_real_array(x, "Softmax")
        self.s = F.softmax(x, axis=self.dim)
        return self.s

    @reference
    def backward(self, grad_out):
        (s,) = self._cached("s")
        grad_out = as_real_array(grad_out, "Softmax.backward")
        check_same_shape(grad_out, s.shape, "Softmax.backward", "a gradient")
        return F.softmax_backward(grad_out, s, axis=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
