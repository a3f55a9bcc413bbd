"""The maxout layer (Goodfellow et al., 2013): each unit is the largest of a few affine pieces."""
import numpy as np

from .. import init
from .._validate import as_real_array, check_ndim, check_size
from ..honesty import reference
from .module import Module, Parameter


class Maxout(Module):
    """A_j = max_k Z[:, j, k], with Z = X W^T + b reshaped to (N, out_features, pieces).

    Each output unit j owns ``pieces`` affine functions of the input, and
    outputs the largest. The weights are those of a Linear layer with
    ``out_features * pieces`` outputs; rows j*pieces ... j*pieces + pieces - 1
    belong to unit j (the layout of ``linear(x).view(N, out, pieces).max(-1)``
    in PyTorch, so the weights copy over unchanged).

    Shapes:
        weight: (out_features * pieces, in_features)
        bias:   (out_features * pieces,)
        X:      (N, in_features)
        Z:      (N, out_features, pieces)   the pieces of every unit
        A:      (N, out_features)

    With pieces=2, fixing w_2 = 0, b_2 = 0 gives ReLU(w_1 . x + b_1); fixing
    w_2 = 0.01 w_1, b_2 = 0.01 b_1 gives leaky ReLU: maxout contains both,
    at ``pieces`` times the parameters of a Linear layer.

    Initialised as Linear: every entry uniform on [-1/sqrt(in), 1/sqrt(in)].
    """

    def __init__(self, in_features, out_features, pieces=2):
        super().__init__()
        if not isinstance(pieces, (int, np.integer)) or pieces < 1:
            raise ValueError(f"Maxout expects pieces to be a positive integer, got {pieces!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.pieces = int(pieces)
        bound = 1.0 / np.sqrt(in_features)
        rows = out_features * self.pieces
        self.weight = Parameter(init.uniform((rows, in_features), -bound, bound))
        self.bias = Parameter(init.uniform((rows,), -bound, bound))

    @reference
    def forward(self, x):
        """X: (N, in_features) -> A: (N, out_features)."""
        x = as_real_array(x, "Maxout")
        check_ndim(x, (2,), "Maxout", "(N, in_features)")
        check_size(x, -1, self.in_features, "Maxout", "input features")
        N = x.shape[0]
        z = x @ self.weight.data.T + self.bias.data                  # (N, out * pieces)
        z = z.reshape(N, self.out_features, self.pieces)             # Z: (N, out, pieces)
        self.x = x
        self.winner = z.argmax(axis=2)                               # (N, out): which piece is largest
        return np.take_along_axis(z, self.winner[:, :, None], axis=2)[:, :, 0]   # A: (N, out)

    @reference
    def backward(self, grad_out):
        """dL/dA: (N, out_features) -> dL/dX: (N, in_features).

        Only the winning piece of each unit receives the gradient:
        dL/dZ[n, j, k] = dL/dA[n, j] if k is the winner, else 0. Then as Linear:
        adds dL/dW = (dL/dZ)^T X and dL/db = sum over rows of dL/dZ; returns dL/dZ W.
        """
        x, winner = self._cached("x", "winner")
        grad_out = as_real_array(grad_out, "Maxout.backward")
        check_ndim(grad_out, (2,), "Maxout.backward", "(N, out_features)")
        check_size(grad_out, -1, self.out_features, "Maxout.backward", "output features")
        N = x.shape[0]
        grad_z = np.zeros((N, self.out_features, self.pieces), dtype=grad_out.dtype)
        np.put_along_axis(grad_z, winner[:, :, None], grad_out[:, :, None], axis=2)
        grad_z = grad_z.reshape(N, self.out_features * self.pieces)  # (N, out * pieces)
        self.weight.grad += grad_z.T @ x
        self.bias.grad += grad_z.sum(axis=0)
        return grad_z @ self.weight.data

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}"
