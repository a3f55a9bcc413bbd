"""The fully connected (affine) layer."""
import numpy as np

from .. import init
from .._validate import as_real_array, check_ndim, check_size
from ..honesty import reference
from .module import Module, Parameter


class Linear(Module):
    """Z = X W^T + b, batch-first as in ``torch.nn.Linear``.

    Shapes:
        weight: (out_features, in_features)
        bias:   (out_features,)
        X:      (N, in_features)  ->  Z: (N, out_features)

    Initialised as PyTorch does: every entry uniform on [-1/sqrt(in), 1/sqrt(in)].

    ``needs_input_grad`` (default True): set it to False on a network's first
    layer when nothing needs dL/dX of the data; ``backward`` then skips that
    matrix product and returns None. PyTorch's autograd skips it on its own,
    because the data tensor does not require a gradient.
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(init.uniform((out_features, in_features), -bound, bound))
        self.bias = Parameter(init.uniform((out_features,), -bound, bound)) if bias else None
        self.needs_input_grad = True

    @reference
    def forward(self, x):
        """X: (N, in_features) -> Z: (N, out_features)."""
        x = as_real_array(x, "Linear")
        check_ndim(x, (2,), "Linear", "(N, in_features)")
        check_size(x, -1, self.in_features, "Linear", "input features")
        self.x = x                                   # cache for backward
        z = x @ self.weight.data.T                   # Z = X W^T   (N, out)
        if self.bias is not None:
            z += self.bias.data                      #   + b       broadcast over rows
        return z

    @reference
    def backward(self, grad_out):
        """dL/dZ: (N, out_features) -> dL/dX: (N, in_features) (None if not needs_input_grad).

        Adds dL/dW = (dL/dZ)^T X  (out, in) and dL/db = sum over rows of dL/dZ (out,).
        """
        (x,) = self._cached("x")
        grad_out = as_real_array(grad_out, "Linear.backward")
        check_size(grad_out, -1, self.out_features, "Linear.backward", "output features")
        self.weight.grad += grad_out.T @ x
        if self.bias is not None:
            self.bias.grad += grad_out.sum(axis=0)
        if not self.needs_input_grad:
            return None
        return grad_out @ self.weight.data               # dL/dX = dL/dZ W   (N, in)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
