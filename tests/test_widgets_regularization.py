"""Chapter 04's explorers: each draws its default view at creation and redraws on every control.

Their numbers (the moons runs, the dropout ensemble, the batch-norm runs, the
table's runs, the augmentations) are tested in test_regularization.py.
"""
import pytest
from widget_explorers import explorer_tests

from dlcourse import widgets

pytestmark = pytest.mark.chapter04

EXPLORERS = {
    "regularization": (widgets.regularization_explorer, [("strength", 0.1), ("remedy", "dropout"),
                                                         ("strength", 0.6)]),
    "dropout": (widgets.dropout_explorer, [("seed", 1), ("seed", 2)]),
    "batchnorm": (widgets.batchnorm_explorer, [("lr", 0.02), ("lr", 1.0)]),
    "early_stopping": (lambda: widgets.early_stopping_explorer(epochs=6), [("patience", 1), ("patience", 3)]),
    "augmentation": (widgets.augmentation_viewer,
                     [("amount", 4), ("transform", "rotation"), ("transform", "flip")]),
}

# The two tests every explorer passes (tests/widget_explorers.py), one run per row of EXPLORERS.
case, test_the_default_view_is_drawn_at_creation, test_every_control_redraws = explorer_tests(EXPLORERS)


def test_switching_the_remedy_resets_the_strength_to_that_remedy():
    explorer = widgets.regularization_explorer()
    explorer.controls["remedy"].value = "dropout"
    assert explorer.controls["strength"].options == (0.0, 0.2, 0.4, 0.6)
    assert explorer.controls["strength"].value == 0.4
    explorer.controls["remedy"].value = "L2"
    assert explorer.controls["strength"].value == 0.01


def test_switching_the_transform_resets_the_amount():
    viewer = widgets.augmentation_viewer()
    viewer.controls["transform"].value = "rotation"
    assert viewer.controls["amount"].value == 15 and viewer.controls["amount"].max == 45
    viewer.controls["transform"].value = "flip"
    assert viewer.controls["amount"].max == 1
