"""Parameter and Module: the two base classes every layer is built from.

A ``Module`` mirrors ``torch.nn.Module`` without autograd: each layer writes
its own ``forward`` (which keeps what backward will need, the *cache*) and
``backward`` (which takes dL/d(output) and returns dL/d(input), adding the
parameter gradients into ``Parameter.grad`` as PyTorch does).

Modules with several inputs or outputs (a recurrent layer takes ``x`` and
an initial state, and returns the outputs and the final state) follow one
rule: ``backward``'s arguments mirror what ``forward`` returned, one
gradient per output (None for an output that did not reach the loss), and
what ``backward`` returns mirrors ``forward``'s arguments, one gradient per
input (a tuple when there are several)::

    output, h_n = rnn(x, h0)
    grad_x, grad_h0 = rnn.backward(grad_output, grad_h_n)
"""
from collections import OrderedDict

import numpy as np

DEFAULT_DTYPE = np.float32


class Parameter:
    """A trainable array and its gradient.

    Attributes:
        data: ndarray, the values.
        grad: ndarray of the same shape, the accumulated gradient dL/d(data).
    """

    def __init__(self, data, dtype=None):
        self.data = np.array(data, dtype=dtype if dtype is not None else DEFAULT_DTYPE)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class for layers and models.

    Subclasses call ``super().__init__()`` first, then assign Parameters and
    sub-Modules as attributes, and declare buffers (arrays that are saved
    with the model but not trained, such as batch norm's running statistics)
    with ``register_buffer``; ``parameters()``, ``state_dict()`` and friends
    find them in the order they were assigned, as PyTorch does.
    """

    def __init__(self):
        self.training = True
        self._buffer_names = []

    # -- what every layer writes -------------------------------------------
    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, *grad_outputs):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *inputs):
        """``module(x)`` is ``module.forward(x)``; every argument is passed on, as in PyTorch."""
        return self.forward(*inputs)

    def register_buffer(self, name, array):
        """Keep ``array`` as the attribute ``name`` and save it in ``state_dict()``, as PyTorch does.

        A buffer is not a Parameter: optimizers never see it, but
        ``state_dict``, ``load_state_dict`` and ``to(dtype)`` carry it.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"register_buffer expects a name that is a Python identifier, got {name!r}")
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, np.asarray(array))

    def _cached(self, *names):
        """Return the forward cache, or say clearly that forward must come first."""
        try:
            return tuple(getattr(self, name) for name in names)
        except AttributeError:
            raise RuntimeError(
                f"{type(self).__name__}.backward was called before forward: "
                "run a forward pass first so the layer can cache its input"
            ) from None

    # -- finding parameters, sub-modules and buffers ------------------------
    def named_children(self):
        """Yield ``(name, module)`` for each direct sub-module."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def named_parameters(self, prefix=""):
        """Yield ``(name, Parameter)`` with PyTorch's dotted names, e.g. ``0.weight``."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value.named_parameters(prefix + name + ".")

    def parameters(self):
        """A list of every Parameter in this module and its sub-modules."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        """Yield ``(name, ndarray)`` for every registered buffer, here and in sub-modules."""
        for name, value in vars(self).items():
            if name in self._buffer_names:
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value.named_buffers(prefix + name + ".")

    def buffers(self):
        """A list of every buffer array in this module and its sub-modules."""
        return [b for _, b in self.named_buffers()]

    def zero_grad(self):
        """Set every parameter's gradient to zero."""
        for p in self.parameters():
            p.grad[...] = 0

    # -- modes ----------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode here and in every sub-module; returns self."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self):
        """Set evaluation mode (dropout off, batch norm uses running statistics)."""
        return self.train(False)

    # -- saving, loading, converting -------------------------------------------
    def state_dict(self):
        """An OrderedDict of copies of every parameter and buffer, by dotted name.

        The order is PyTorch's: module by module, each one's parameters and
        then its buffers (``1.weight, 1.bias, 1.running_mean, ...``).
        """
        state = OrderedDict()
        for name, (owner, attr) in self._arrays_by_name().items():
            value = getattr(owner, attr)
            state[name] = np.array(value.data if isinstance(value, Parameter) else value, copy=True)
        return state

    def load_state_dict(self, state_dict):
        """Copy values from ``state_dict`` into this module's arrays.

        Accepts numpy arrays or anything ``np.asarray`` understands (torch
        tensors on the CPU included). Names and shapes must match exactly.
        """
        targets = self._arrays_by_name()
        missing = sorted(set(targets) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(targets))
        if missing or unexpected:
            raise KeyError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        for name, (owner, attr) in targets.items():
            current = getattr(owner, attr)
            current = current.data if isinstance(current, Parameter) else current
            value = np.asarray(state_dict[name])
            if value.shape != np.shape(current):
                raise ValueError(
                    f"load_state_dict: {name} expects shape {np.shape(current)}, "
                    f"got an array of shape {value.shape}"
                )
            current[...] = value

    def _arrays_by_name(self, prefix=""):
        """Map each dotted name to ``(owning module, attribute)``."""
        found = OrderedDict()
        for name, value in vars(self).items():
            if isinstance(value, Parameter) or name in self._buffer_names:
                found[prefix + name] = (self, name)
            elif isinstance(value, Module):
                found.update(value._arrays_by_name(prefix + name + "."))
        return found

    def to(self, dtype):
        """Convert every parameter, gradient and floating buffer to ``dtype``, in place; returns self."""
        dtype = np.dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = p.grad.astype(dtype)
        for owner, attr in self._arrays_by_name().values():
            value = getattr(owner, attr)
            if not isinstance(value, Parameter) and value.dtype.kind == "f":
                setattr(owner, attr, value.astype(dtype))
        return self

    def __repr__(self):
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def extra_repr(self):
        return ""
