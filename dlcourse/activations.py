"""Chapter 02: measurements on activations: dead ReLU units, and gradients through a deep stack.

    dead_fraction(Z)                         the share of units that no input switches on
    gradient_norms_through_depth(...)        how big the gradient dL/dZ is, layer by layer
    dead_fraction_during_training(...)       dead units after each step of a short training run

The activations are those of ``dlcourse.functional``, by name (ACTIVATIONS).
"""
import numpy as np

from . import functional as F
from . import losses, nn, optim
from ._validate import as_real_array, check_ndim
from .honesty import reference
from .train import train_step

__all__ = ["ACTIVATIONS", "dead_fraction", "gradient_norms_through_depth", "dead_fraction_during_training"]

# name -> (f, f'), each elementwise on an array of any shape.
ACTIVATIONS = {
    "sigmoid": (F.sigmoid, F.sigmoid_grad),
    "tanh": (F.tanh, F.tanh_grad),
    "relu": (F.relu, F.relu_grad),
    "leaky_relu": (F.leaky_relu, F.leaky_relu_grad),
    "elu": (F.elu, F.elu_grad),
}


def _activation(name, who):
    """(f, f') of the activation called ``name``, or ValueError naming ``who`` asked."""
    if name not in ACTIVATIONS:
        raise ValueError(f"{who} expects an activation among {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


@reference
def dead_fraction(z):
    """The fraction of ReLU units that are off for every example.

    A unit j is *dead* on this data when its pre-activation Z[n, j] <= 0 for
    every row n: then ReLU outputs 0 and passes back the gradient 0 for all
    of them, so gradient descent on this data never changes its weights.

    Input:  z, pre-activations of shape (N, H): N examples, H units.
    Output: a float in [0, 1], (number of dead units) / H.
    """
    z = as_real_array(z, "dead_fraction")
    check_ndim(z, (2,), "dead_fraction", "(N, H)")
    never_on = np.all(z <= 0, axis=0)              # (H,): True for a dead unit
    return float(never_on.mean())


def gradient_norms_through_depth(activation, depth=20, width=100, weight_scale=1.0, n_samples=100, seed=0):
    """How big the backpropagated gradient dL/dZ is at each layer of a deep stack with random weights.

    The stack: A^[0] = X ~ N(0, 1) of shape (n_samples, width), and for l = 1 .. depth
        Z^[l] = A^[l-1] W^[l]T        W^[l]: (width, width), entries N(0, weight_scale^2 / width)
        A^[l] = f(Z^[l])              (n_samples, width)
    with the loss L = sum(A^[depth] * G) for a fixed random G, so dL/dA^[depth] = G.
    Backward, from l = depth down to 1:
        dL/dZ^[l]   = dL/dA^[l] * f'(Z^[l])      (elementwise)
        dL/dA^[l-1] = dL/dZ^[l] W^[l]
    Layer l's weight gradient is dL/dW^[l] = (dL/dZ^[l])^T A^[l-1]: when dL/dZ^[l]
    is tiny, so is the update of layer l.

    weight_scale = 1 is LeCun's initialisation, sqrt(2) is He's.

    Returns:
        (depth,) array: the root-mean-square entry of dL/dZ^[l], for l = 1 (next
        to the input) .. depth (next to the loss).
    """
    f, f_grad = _activation(activation, "gradient_norms_through_depth")
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, weight_scale / np.sqrt(width), size=(width, width)) for _ in range(depth)]
    a = rng.standard_normal((n_samples, width))
    pre_activations = []
    for W in weights:                                   # forward
        z = a @ W.T
        pre_activations.append(z)
        a = f(z)
    grad_a = rng.standard_normal(a.shape)               # G = dL/dA^[depth]
    norms = np.empty(depth)
    for l in reversed(range(depth)):                    # backward
        grad_z = grad_a * f_grad(pre_activations[l])
        norms[l] = np.sqrt(np.mean(grad_z ** 2))
        grad_a = grad_z @ weights[l]
    return norms


def dead_fraction_during_training(X, y, lr, bias_offset=0.0, hidden=100, steps=30, seed=0):
    """Train Linear -> ReLU -> Linear by full-batch gradient descent; measure dead hidden units.

    The hidden layer starts as PyTorch's Linear (uniform on +-1/sqrt(D)), with
    ``bias_offset`` added to every bias. Each step is one SGD update with
    learning rate ``lr`` on the cross-entropy over all of (X, y).

    Inputs:
        X: (N, D) inputs; y: (N,) integer classes.
        lr: learning rate; bias_offset: added to the initial hidden biases.
        hidden: H, number of ReLU units; steps: number of updates; seed: initial weights.
    Returns:
        (steps + 1,) array: dead_fraction of the hidden pre-activations X W1^T + b1,
        before training and after each step. With one hidden layer a dead
        unit stays dead: its weights get zero gradient on this data.
    """
    X = as_real_array(X, "dead_fraction_during_training")
    rng = np.random.default_rng(seed)
    D, C = X.shape[1], int(np.max(y)) + 1
    first, second = nn.Linear(D, hidden), nn.Linear(hidden, C)
    for layer in (first, second):                       # seeded here, not from the package stream
        bound = 1.0 / np.sqrt(layer.in_features)
        layer.weight.data = rng.uniform(-bound, bound, layer.weight.shape).astype(np.float32)
        layer.bias.data = rng.uniform(-bound, bound, layer.bias.shape).astype(np.float32)
    first.bias.data += np.float32(bias_offset)
    model = nn.Sequential(first, nn.ReLU(), second)
    loss_fn, optimizer = losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr)
    dead = [dead_fraction(first(X))]
    for _ in range(steps):
        train_step(model, loss_fn, optimizer, X, y)
        dead.append(dead_fraction(first(X)))
    return np.array(dead)
