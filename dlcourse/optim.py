"""Optimizers, as in ``torch.optim``: same arguments, same update rules, same trajectories.

Usage (the same as in PyTorch)::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for X, y in batches:
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        model.backward(criterion.backward())
        optimizer.step()

Every update is written in place into ``Parameter.data`` (``W -= ...``), so
the arrays a model holds are the arrays that change, and no time is lost
allocating new weights on every step.

Notation for one parameter: W its values, dW = ``W.grad`` (same shape),
lr the learning rate, t the step number (1, 2, ...).
"""
import math

import numpy as np

from .honesty import reference


class Optimizer:
    """Base class: holds the parameter list; subclasses write ``step()``.

    Attributes:
        params: list of dlcourse.nn.Parameter, in the order given.
        lr: float, the learning rate (a scheduler may change it between steps).
    """

    def __init__(self, params, lr):
        self.params = _parameter_list(params, type(self).__name__)
        if not lr >= 0:
            raise ValueError(f"Invalid learning rate: {lr} ({type(self).__name__} expects lr >= 0)")
        self.lr = lr

    def zero_grad(self):
        """Set every parameter's gradient to 0, in place (gradients accumulate otherwise)."""
        for p in self.params:
            p.grad[...] = 0

    def step(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement step")

    def __repr__(self):
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr})"


def _parameter_list(params, who):
    """``params`` as a non-empty list of Parameters, or a clear error."""
    if hasattr(params, "parameters") and callable(params.parameters):
        raise TypeError(f"{who} expects a list of parameters: pass model.parameters(), not the model")
    params = list(params)
    if not params:
        raise ValueError("optimizer got an empty parameter list")
    for i, p in enumerate(params):
        if not (hasattr(p, "data") and hasattr(p, "grad")):
            raise TypeError(
                f"{who} expects Parameters (with .data and .grad), got a {type(p).__name__} at position {i}"
            )
    return params


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    PyTorch's update, for each parameter W (dampening is always 0):

        g = dW + weight_decay * W               (L2 penalty weight_decay/2 |W|^2)
        v = g                                   on the first step,
        v = momentum * v + g                    afterwards
        g = g + momentum * v    if nesterov,    else  g = v
        W = W - lr * g

    With momentum = 0 this is plain W = W - lr * dW. The velocity v is what
    PyTorch calls the "momentum_buffer"; it starts as the first gradient,
    not as zero.
    """

    def __init__(self, params, lr, momentum=0, weight_decay=0, nesterov=False):
        super().__init__(params, lr)
        if not momentum >= 0:
            raise ValueError(f"Invalid momentum value: {momentum} (SGD expects momentum >= 0)")
        if not weight_decay >= 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay} (SGD expects weight_decay >= 0)")
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.velocity = [None] * len(self.params)   # one array per parameter, created on the first step

    @reference
    def step(self):
        """Update every parameter in place from its current ``.grad``."""
        for i, p in enumerate(self.params):
            g = p.grad
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data            # g = dW + weight_decay * W
            if self.momentum != 0:
                g = self._apply_momentum(i, g)
            p.data -= self.lr * g                             # W = W - lr * g

    def _apply_momentum(self, i, g):
        """Update the velocity of parameter i and return the step direction."""
        v = self.velocity[i]
        if v is None:
            v = self.velocity[i] = g.copy()                   # v = g on the first step
        else:
            v *= self.momentum                                # v = momentum * v + g
            v += g
        if self.nesterov:
            return g + self.momentum * v                      # g = g + momentum * v
        return v                                              # g = v

    def __repr__(self):
        return (
            f"SGD({len(self.params)} parameters, lr={self.lr}, momentum={self.momentum}, "
            f"weight_decay={self.weight_decay}, nesterov={self.nesterov})"
        )


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with PyTorch's update and L2-style weight decay.

    For each parameter W, at step t = 1, 2, ...:

        g     = dW + weight_decay * W           (added to the gradient, as torch.optim.Adam;
                                                 torch.optim.AdamW decays W directly instead)
        m     = beta1 * m + (1 - beta1) * g     first moment, m starts at 0
        v     = beta2 * v + (1 - beta2) * g^2   second moment, v starts at 0
        m_hat = m / (1 - beta1^t)               bias correction: m and v start at 0,
        v_hat = v / (1 - beta2^t)               so early averages are too small
        W     = W - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params, lr)
        for index, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(
                    f"Invalid beta parameter at index {index}: {beta} (Adam expects 0 <= beta < 1)"
                )
        if not eps >= 0:
            raise ValueError(f"Invalid epsilon value: {eps} (Adam expects eps >= 0)")
        if not weight_decay >= 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay} (Adam expects weight_decay >= 0)")
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]   # first moments
        self.v = [np.zeros_like(p.data) for p in self.params]   # second moments

    @reference
    def step(self):
        """Update every parameter in place from its current ``.grad``."""
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            g = p.grad
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data                     # g = dW + weight_decay * W
            self._adam_update(p, m, v, g)

    def _adam_update(self, p, m, v, g):
        """The moment updates and the bias-corrected step, for one parameter and its gradient g."""
        step_size = self.lr / (1 - self.beta1 ** self.t)               # lr / (1 - beta1^t)
        sqrt_bias_correction2 = math.sqrt(1 - self.beta2 ** self.t)    # sqrt(1 - beta2^t)
        m *= self.beta1                                                # m = beta1 m + (1 - beta1) g
        m += (1 - self.beta1) * g
        v *= self.beta2                                                # v = beta2 v + (1 - beta2) g^2
        v += (1 - self.beta2) * (g * g)
        denominator = np.sqrt(v) / sqrt_bias_correction2 + self.eps    # sqrt(v_hat) + eps
        p.data -= step_size * (m / denominator)                        # W = W - lr m_hat / (...)

    def __repr__(self):
        return (
            f"Adam({len(self.params)} parameters, lr={self.lr}, betas=({self.beta1}, {self.beta2}), "
            f"eps={self.eps}, weight_decay={self.weight_decay})"
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as ``torch.optim.AdamW``.

    For each parameter W, at step t = 1, 2, ...:

        W = W - lr * weight_decay * W           decay the weights directly ...
        g = dW                                  ... and leave the gradient alone,
        (m, v, m_hat, v_hat and the step exactly as in Adam)

    Why it matters: Adam divides each gradient entry by sqrt(v_hat), so an
    L2 term added to the gradient (``Adam(weight_decay=...)``) is divided too
    and shrinks large-gradient weights less than the others. Here every
    weight shrinks by the same factor (1 - lr * weight_decay) per step, as
    weight decay does for plain SGD. Note the default weight_decay = 1e-2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)

    @reference
    def step(self):
        """Update every parameter in place from its current ``.grad``."""
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if self.weight_decay != 0:
                p.data *= 1 - self.lr * self.weight_decay               # W = W - lr * weight_decay * W
            self._adam_update(p, m, v, p.grad)

    def __repr__(self):
        return super().__repr__().replace("Adam(", "AdamW(", 1)


class StepLR:
    """Multiply the learning rate by gamma every ``step_size`` epochs, as torch.optim.lr_scheduler.StepLR.

        lr(epoch) = initial_lr * gamma^floor(epoch / step_size)

    Call ``scheduler.step()`` once at the end of every epoch (after the
    optimizer's steps).
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ValueError(f"StepLR expects a whole number step_size >= 1, got {step_size!r}")
        self.optimizer = optimizer
        self.step_size = step_size
        self.gamma = gamma
        self.initial_lr = optimizer.lr
        self.last_epoch = 0

    def step(self):
        """End an epoch: set the optimizer's lr for the next one."""
        self.last_epoch += 1
        self.optimizer.lr = self.initial_lr * self.gamma ** (self.last_epoch // self.step_size)

    def get_last_lr(self):
        """The current learning rate, in a list as PyTorch returns it (one per parameter group)."""
        return [self.optimizer.lr]
