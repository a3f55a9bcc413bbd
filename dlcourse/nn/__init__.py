"""``torch.nn`` in numpy: layers with an explicit forward and backward.

The losses live here too (``nn.CrossEntropyLoss`` is ``losses.CrossEntropyLoss``),
and gradient clipping in ``nn.utils``, as in PyTorch.
"""
from ..losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from . import utils
from .activation import ELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import Flatten, Identity, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .maxout import Maxout
from .module import Module, Parameter
from .pooling import AvgPool2d, MaxPool2d
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "Parameter", "Module", "Sequential", "Identity", "Flatten", "Linear",
    "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softmax",
    "Dropout", "BatchNorm1d", "BatchNorm2d", "Maxout",
    "Conv2d", "MaxPool2d", "AvgPool2d",
    "Embedding", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "utils",
]
