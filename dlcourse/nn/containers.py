"""Modules that arrange or reshape other modules: Sequential, Identity, Flatten."""
from .._validate import as_real_array
from .module import Module


class Sequential(Module):
    """Applies modules in order; backward runs them in reverse.

    Sub-modules are named '0', '1', ... so parameter names match PyTorch's
    (``0.weight``, ``0.bias``, ``2.weight``, ...).
    """

    def __init__(self, *modules):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential expects Modules, got {type(module).__name__} at position {i}")
            setattr(self, str(i), module)

    def __iter__(self):
        return (module for _, module in self.named_children())

    def __len__(self):
        return sum(1 for _ in self.named_children())

    def __getitem__(self, i):
        """model[i]: one sub-module; model[a:b]: a Sequential of those modules (the same objects, so
        the same parameters), as in PyTorch, except that its modules are renamed '0', '1', ..."""
        modules = list(self)
        if isinstance(i, slice):
            return Sequential(*modules[i])
        return modules[i]

    def forward(self, x):
        for module in self:
            x = module(x)
        return x

    def backward(self, grad_out):
        for module in reversed(list(self)):
            grad_out = module.backward(grad_out)
        return grad_out


class Identity(Module):
    """Returns its input unchanged; its gradient passes straight through."""

    def forward(self, x):
        return as_real_array(x, "Identity")

    def backward(self, grad_out):
        return grad_out


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...), as ``torch.nn.Flatten()``."""

    def forward(self, x):
        x = as_real_array(x, "Flatten")
        self.input_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        (input_shape,) = self._cached("input_shape")
        return grad_out.reshape(input_shape)
