"""``torch.nn`` in numpy: layers with an explicit forward and backward."""
from .activation import ELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import Flatten, Identity, Sequential
from .dropout import Dropout
from .linear import Linear
from .maxout import Maxout
from .module import Module, Parameter

__all__ = [
    "Parameter", "Module", "Sequential", "Identity", "Flatten", "Linear",
    "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softmax",
    "Dropout", "BatchNorm1d", "BatchNorm2d", "Maxout",
]
