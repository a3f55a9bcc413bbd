"""dlcourse: deep learning fundamentals, built from scratch in numpy.

The package mirrors ``torch.nn`` so that moving to PyTorch is a change of
import. Submodules: ``nn``, ``functional``, ``losses``, ``optim``, ``init``,
``gradcheck``, ``data``, ``train``, ``checks``, ``widgets``.
"""
from . import functional, gradcheck, init, losses, nn, optim
from .random import manual_seed

__version__ = "0.1.0"
__all__ = ["nn", "functional", "losses", "optim", "init", "gradcheck", "manual_seed"]
