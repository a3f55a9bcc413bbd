"""Chapter 02's explorers: each draws at creation, redraws on every control, without leaks.

How fast they redraw is measured in benchmarks/widgets_and_loaders.py, not here.
"""
import base64

import matplotlib.pyplot as plt
import pytest

from dlcourse import widgets

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPLORERS = {
    "activation": (widgets.activation_explorer, {"name": "sigmoid", "parameter": 0.1, "threshold": 0.05},
                   [("name", "elu"), ("parameter", 1.5), ("threshold", 0.3), ("name", "leaky_relu")]),
    "depth": (widgets.depth_explorer, {"weight_scale": 1.0, "depth": 20},
              [("weight_scale", 1.4), ("depth", 35)]),
    "dead_relu": (widgets.dead_relu_explorer, {"lr": 10.0, "bias_offset": 0.0},
                  [("lr", 1.0), ("bias_offset", -0.5)]),
}


def shown_png(explorer):
    (output,) = explorer.output.outputs
    return base64.b64decode(output["data"]["image/png"])


@pytest.fixture(scope="module", params=list(EXPLORERS))
def case(request):
    make, defaults, changes = EXPLORERS[request.param]
    return make(), defaults, changes


def test_the_default_view_is_drawn_at_creation(case):
    explorer, defaults, _ = case
    assert explorer.values() == defaults
    png = shown_png(explorer)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000


def test_every_control_redraws(case):
    explorer, _, changes = case
    for name, value in changes:
        before = shown_png(explorer)
        explorer.controls[name].value = value
        assert shown_png(explorer) != before, name


def test_controls_redraw_on_release_only(case):
    explorer, _, _ = case
    assert all(not control.continuous_update for control in explorer.controls.values()
               if hasattr(control, "continuous_update"))


def test_the_parameter_changes_only_parametrised_activations():
    explorer = widgets.activation_explorer(name="relu")
    before = shown_png(explorer)
    explorer.controls["parameter"].value = 0.7      # relu has no parameter: same curve, same picture
    assert shown_png(explorer) == before


def test_no_figure_is_left_open():
    open_before = plt.get_fignums()
    widgets.depth_explorer(depth=5).controls["weight_scale"].value = 2.0
    widgets.activation_explorer().controls["name"].value = "tanh"
    assert plt.get_fignums() == open_before
