"""dlcourse: deep learning fundamentals, built from scratch in numpy.

The package mirrors ``torch.nn`` so that moving to PyTorch is a change of
import. ``import dlcourse`` makes these submodules reachable as attributes:
``nn`` (layers, losses, ``nn.utils``), ``functional``, ``losses``, ``optim``,
``init``, ``gradcheck``, ``data``, ``train`` and ``checks``.

Each chapter's own code (its experiments and the checks its test cells
call) is a module named after the chapter, reachable the same way:
``perceptrons`` (01), ``activations`` (02), ``backpropagation`` (03),
``regularization`` (04), ``cnns`` (05) and ``rnns`` (06).

``dlcourse.widgets`` (the chapters' interactive explorers) needs matplotlib
and ipywidgets, so it is imported on its own: ``from dlcourse import widgets``.
"""
from . import (
    activations,
    backpropagation,
    checks,
    cnns,
    data,
    functional,
    gradcheck,
    init,
    losses,
    nn,
    optim,
    perceptrons,
    regularization,
    rnns,
    train,
)
from .random import manual_seed

__version__ = "0.1.0"
__all__ = [
    "nn", "functional", "losses", "optim", "init", "gradcheck", "data", "train", "checks",
    "perceptrons", "activations", "backpropagation", "regularization", "cnns", "rnns",
    "manual_seed",
]
