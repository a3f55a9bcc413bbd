"""dlcourse: deep learning fundamentals, built from scratch in numpy.

The package mirrors ``torch.nn`` so that moving to PyTorch is a change of
import. ``import dlcourse`` makes these submodules reachable as attributes:
``nn`` (layers, losses, ``nn.utils``), ``functional``, ``losses``, ``optim``,
``init``, ``gradcheck``, ``data``, ``train`` and ``checks``.

``dlcourse.widgets`` (the chapters' interactive explorers) needs matplotlib
and ipywidgets, so it is imported on its own: ``from dlcourse import widgets``.
"""
from . import checks, data, functional, gradcheck, init, losses, nn, optim, train
from .random import manual_seed

__version__ = "0.1.0"
__all__ = [
    "nn", "functional", "losses", "optim", "init", "gradcheck", "data", "train", "checks",
    "manual_seed",
]
