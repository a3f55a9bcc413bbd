r"""The embedding layer: a lookup table of learned vectors, as ``torch.nn.Embedding``.

Row k of the weight W (num_embeddings, embedding_dim) is the vector of
token k. For an integer array of indices I of any shape S,

    Y[s] = W[I[s]]                     Y: (*S, embedding_dim)

which is the same as multiplying the one-hot rows of I by W (a Linear layer
without bias on one-hot inputs), without ever building the one-hot matrix.
The backward of a lookup is a scatter-add: every position s sends its
upstream gradient to the row it read,

    dL/dW[k] = sum over the positions s with I[s] = k of dL/dY[s]

so a token that occurs several times collects the sum of its gradients,
and the rows of tokens that did not occur get nothing. The indices are
integers, so they have no gradient.
"""
import numpy as np

from .. import init
from .._validate import as_real_array, check_same_shape, describe
from ..honesty import reference
from .module import Module, Parameter


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``; weight ~ N(0, 1) as PyTorch.

    Shapes:
        weight:  (num_embeddings, embedding_dim)
        indices: any shape S, integers in [0, num_embeddings)  ->  output: (*S, embedding_dim)

    ``backward(grad_out)`` adds into weight.grad and returns None (no gradient for indices).
    """

    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"Embedding expects {name} to be an integer >= 1, got {value!r}")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.weight = Parameter(init.normal((num_embeddings, embedding_dim)))

    def _check_indices(self, indices):
        """``indices`` as an integer array with every entry in [0, num_embeddings), or a ValueError."""
        try:
            array = np.asarray(indices)
        except Exception:
            raise ValueError(f"Embedding expects integer indices, got {describe(indices)}") from None
        if array.dtype.kind not in "iu":             # floats and booleans are not token ids (as in PyTorch)
            raise ValueError(f"Embedding expects integer indices, got an array of dtype {array.dtype}")
        if array.size:
            low, high = array.min(), array.max()
            bad = low if low < 0 else high if high >= self.num_embeddings else None
            if bad is not None:
                raise ValueError(f"Embedding expects indices in [0, {self.num_embeddings}), got {bad}")
        return array

    @reference
    def forward(self, indices):
        """indices: integers of any shape S -> Y: (*S, embedding_dim), Y[s] = W[indices[s]]."""
        indices = self._check_indices(indices)
        self.indices = indices                       # cache for backward
        return self.weight.data[indices]             # Y[s] = W[I[s]]    (a gather: a new array)

    @reference
    def backward(self, grad_out):
        """dL/dY (*S, embedding_dim) -> None; adds dL/dW[k] = sum over {s: I[s] = k} of dL/dY[s]."""
        (indices,) = self._cached("indices")
        grad_out = as_real_array(grad_out, "Embedding.backward")
        check_same_shape(grad_out, indices.shape + (self.embedding_dim,), "Embedding.backward", "a gradient")
        rows = grad_out.reshape(-1, self.embedding_dim)
        np.add.at(self.weight.grad, indices.reshape(-1), rows)   # scatter-add: repeated indices are summed
        return None

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
