"""Chapter 05's explorers: each draws its default view at creation and redraws on every control.

Their numbers (kernels, stepper frames, geometry, receptive fields) are tested in test_cnns.py.
"""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from widget_explorers import explorer_tests

import dlcourse
from dlcourse import cnns as CNN
from dlcourse import data, widgets
from dlcourse.widgets import cnns as WC

pytestmark = pytest.mark.chapter05


def trained_viewer():
    dlcourse.manual_seed(0)
    model = CNN.lenet(side=8)
    X = data.load_digits(flatten=False).X_test[:4]
    return widgets.feature_map_viewer(model, X, np.arange(4))


EXPLORERS = {
    "kernel": (widgets.kernel_explorer, [("preset", "sharpen"), ("kernel", "1 1 1; 1 1 1; 1 1 1"),
                                          ("preset", "Gaussian blur")]),
    "stepper": (widgets.convolution_stepper, [("step", 0), ("step", 8), ("padding", 1)]),
    "shapes": (widgets.shape_explorer, [("size", 8), ("stride", 3), ("padding", 0), ("kernel", 7)]),
    "feature maps": (trained_viewer, [("layer", 4), ("channel", 3), ("image", 2)]),
    "receptive field": (widgets.receptive_field_explorer, [("depth", 1), ("architecture", "3x3 convs only")]),
}

# The two tests every explorer passes (tests/widget_explorers.py), one run per row of EXPLORERS.
case, test_the_default_view_is_drawn_at_creation, test_every_control_redraws = explorer_tests(EXPLORERS)


def test_the_kernel_menu_writes_its_numbers_into_the_text_field():
    explorer = widgets.kernel_explorer()
    explorer.controls["preset"].value = "mean blur"
    np.testing.assert_allclose(WC.parse_kernel(explorer.controls["kernel"].value), np.full((3, 3), 1 / 9),
                               rtol=1e-3)


@pytest.mark.parametrize("text", ["1 2 3", "a b c; d e f; g h i", "1 2; 3 4"])
def test_an_unreadable_kernel_is_explained_in_the_picture(text):
    assert WC.parse_kernel(text) is None
    fig = Figure()
    WC.draw_kernel(fig, "identity", text)
    assert "cannot read" in fig.axes[0].texts[0].get_text()


def test_parse_and_format_are_inverse():
    for kernel in CNN.KERNELS.values():
        np.testing.assert_allclose(WC.parse_kernel(WC.format_kernel(kernel)), kernel, rtol=1e-2)


def test_the_stepper_writes_the_sum_of_products_of_its_step():
    fig = Figure()
    WC.draw_stepper(fig, 4, 0)
    _, frames, _ = CNN.stepper_frames()
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "Y[1, 1]" in texts and f"= {frames[4]['value']:g}" in texts


def test_the_shape_explorer_explains_an_invalid_combination():
    fig = Figure()
    WC.draw_shapes(fig, 3, 7, 1, 1)
    assert any("larger than the padded input" in t.get_text() for t in fig.texts)


def test_the_receptive_field_title_gives_the_field_of_the_last_layer():
    fig = Figure()
    WC.draw_receptive_field(fig, "LeNet (5x5 conv, 2x2 pool) x2", 4)
    assert fig.axes[0].get_title().startswith("16x16 pixels reach one unit of layer 4")


def test_no_figure_is_left_open():
    open_before = plt.get_fignums()
    widgets.shape_explorer().controls["stride"].value = 1
    widgets.convolution_stepper().controls["step"].value = 3
    assert plt.get_fignums() == open_before
