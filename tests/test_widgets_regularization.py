"""Chapter 04's explorers: each draws its default view at creation and redraws on every control.

Their numbers (the moons runs, the dropout ensemble, the batch-norm runs, the
table's runs, the augmentations) are tested in test_regularization.py.
"""
import base64

import pytest

from dlcourse import widgets

pytestmark = pytest.mark.chapter04

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPLORERS = {
    "regularization": (widgets.regularization_explorer, [("strength", 0.1), ("remedy", "dropout"),
                                                         ("strength", 0.6)]),
    "dropout": (widgets.dropout_explorer, [("seed", 1), ("seed", 2)]),
    "batchnorm": (widgets.batchnorm_explorer, [("lr", 0.02), ("lr", 1.0)]),
    "early_stopping": (lambda: widgets.early_stopping_explorer(epochs=6), [("patience", 1), ("patience", 3)]),
    "augmentation": (widgets.augmentation_viewer,
                     [("amount", 4), ("transform", "rotation"), ("transform", "flip")]),
}


def shown_png(explorer):
    (output,) = explorer.output.outputs
    return base64.b64decode(output["data"]["image/png"])


@pytest.fixture(scope="module", params=list(EXPLORERS))
def case(request):
    make, changes = EXPLORERS[request.param]
    return make(), changes


def test_the_default_view_is_drawn_at_creation(case):
    explorer, _ = case
    png = shown_png(explorer)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000


def test_every_control_redraws(case):
    explorer, changes = case
    for name, value in changes:
        before = shown_png(explorer)
        explorer.controls[name].value = value
        assert shown_png(explorer) != before, name


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
