"""One seeded random generator for the whole package.

Weight initialisation, dropout masks and data shuffling all draw from it,
so ``dlcourse.manual_seed(0)`` at the top of a notebook makes a run
repeatable, as ``torch.manual_seed`` does.
"""
import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed):
    """Reseed the package's generator; returns it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def generator():
    """The package's current ``numpy.random.Generator``."""
    return _generator
