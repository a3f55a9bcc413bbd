"""Inverted dropout."""
from .._validate import as_real_array
from ..honesty import reference
from ..random import generator
from .module import Module


class Dropout(Module):
    """Zero each entry with probability p during training, scale the rest by 1/(1-p).

    Scaling at training time ("inverted" dropout) keeps E[output] = input,
    so evaluation mode is simply the identity. A new mask is drawn on every
    forward call in training mode. With p = 1 every entry is dropped and the
    output is 0, as in PyTorch.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout expects a probability p with 0 <= p <= 1, got p={p}")
        self.p = p

    @reference
    def forward(self, x):
        x = as_real_array(x, "Dropout")
        if not self.training or self.p == 0:
            self.mask = None
            return x
        keep = generator().random(x.shape) >= self.p
        scale = 1 / (1 - self.p) if self.p < 1 else 0.0   # p = 1 keeps nothing
        self.mask = keep.astype(x.dtype) * scale          # 0 or 1/(1-p)
        return x * self.mask

    @reference
    def backward(self, grad_out):
        (mask,) = self._cached("mask")
        return grad_out if mask is None else grad_out * mask

    def extra_repr(self):
        return f"p={self.p}"
