"""Gradient clipping, as ``torch.nn.utils``: call it after backward, before ``optimizer.step()``.

    model.backward(criterion.backward())
    total_norm = clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

Both functions change ``Parameter.grad`` in place (the trailing underscore
is PyTorch's mark for "in place") and leave ``Parameter.data`` alone.
"""
import math

import numpy as np

from ..honesty import reference


def _parameter_list(parameters, who):
    """One Parameter or an iterable of them, as a list; a clear error for anything else."""
    if hasattr(parameters, "data") and hasattr(parameters, "grad"):
        return [parameters]
    if hasattr(parameters, "parameters") and callable(parameters.parameters):
        raise TypeError(f"{who} expects parameters: pass model.parameters(), not the model")
    params = list(parameters)
    for i, p in enumerate(params):
        if not (hasattr(p, "data") and hasattr(p, "grad")):
            raise TypeError(
                f"{who} expects Parameters (with .data and .grad), got a {type(p).__name__} at position {i}"
            )
    return params


@reference
def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    r"""Scale all gradients together so that their joint norm is at most ``max_norm``.

    With every gradient entry of every parameter stacked into one vector g,

        total_norm = ||g||_p = (sum_i |g_i|^p)^(1/p)      (p = norm_type; p = inf: max_i |g_i|)
        g          = g * min(1, max_norm / (total_norm + 1e-6))

    so the direction of the update is kept and only its length shrinks.
    The 1e-6 is PyTorch's, and keeps the division finite at total_norm 0.

    Returns the total norm *before* clipping, as a float (PyTorch returns it
    as a 0-d tensor): logging it shows how often, and how hard, clipping acts.
    """
    params = _parameter_list(parameters, "clip_grad_norm_")
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_ expects max_norm >= 0, got {max_norm}")
    norm_type = float(norm_type)
    if not params:
        return 0.0
    if norm_type == math.inf:
        total_norm = max(float(np.max(np.abs(p.grad), initial=0.0)) for p in params)
    elif norm_type > 0:
        total = sum(float(np.sum(np.abs(p.grad.astype(np.float64)) ** norm_type)) for p in params)
        total_norm = total ** (1.0 / norm_type)
    else:
        raise ValueError(f"clip_grad_norm_ expects norm_type > 0 or inf, got {norm_type}")
    clip_coef = max_norm / (total_norm + 1e-6)
    if clip_coef < 1:
        for p in params:
            p.grad *= clip_coef                          # g = g * max_norm / (total_norm + 1e-6)
    return total_norm


@reference
def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient entry to [-clip_value, clip_value], in place.

    Unlike ``clip_grad_norm_`` this changes the direction of the gradient:
    large entries are cut, small ones are kept.
    """
    params = _parameter_list(parameters, "clip_grad_value_")
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_ expects clip_value >= 0, got {clip_value}")
    for p in params:
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
