"""dlcourse.widgets: explorers draw at once, redraw on change, and leak no figures."""
import base64

import ipywidgets
import matplotlib.pyplot as plt
import pytest

from dlcourse import widgets

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def shown_png(explorer):
    """The PNG bytes the explorer's Output currently shows (exactly one display_data)."""
    (output,) = explorer.output.outputs
    assert output["output_type"] == "display_data"
    return base64.b64decode(output["data"]["image/png"])


@pytest.fixture(scope="module")
def explorer():
    return widgets.sigmoid_explorer()


def test_the_default_view_is_drawn_on_creation(explorer):
    png = shown_png(explorer)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000


def test_it_is_one_widget_with_its_controls_and_output(explorer):
    assert isinstance(explorer, ipywidgets.VBox)
    assert list(explorer.controls) == ["w", "b", "threshold"]
    assert explorer.values() == {"w": 1.0, "b": 0.0, "threshold": 0.05}
    row, output = explorer.children
    assert list(row.children) == list(explorer.controls.values()) and output is explorer.output


def test_its_text_form_shows_the_values(explorer):
    assert repr(explorer) == "Explorer(w=1.0, b=0.0, threshold=0.05)"


def test_moving_a_slider_redraws(explorer):
    before = shown_png(explorer)
    explorer.controls["w"].value = 4.0
    after = shown_png(explorer)
    assert after != before and after.startswith(PNG_SIGNATURE)
    explorer.controls["w"].value = 1.0
    assert shown_png(explorer) == before   # same values, same picture


def test_each_control_triggers_a_redraw(explorer):
    for name, value in [("b", 2.0), ("threshold", 0.2)]:
        before = shown_png(explorer)
        explorer.controls[name].value = value
        assert shown_png(explorer) != before, name


def test_no_figure_is_left_open():
    open_before = plt.get_fignums()
    explorer = widgets.sigmoid_explorer(w=2.0)
    explorer.controls["b"].value = -1.0
    assert plt.get_fignums() == open_before


def test_sliders_redraw_on_release_not_while_dragging(explorer):
    assert all(not control.continuous_update for control in explorer.controls.values())


def test_a_custom_explorer_passes_the_values_by_keyword():
    calls = []

    def draw(fig, a, kind):
        calls.append((a, kind))
        fig.add_subplot().plot([0, 1], [0, a])

    explorer = widgets.Explorer(draw, a=widgets.slider("a", 0, 1, 0.5),
                                kind=widgets.dropdown("kind", ["x", "y"]))
    explorer.controls["kind"].value = "y"
    assert calls == [(0.5, "x"), (0.5, "y")]
    assert shown_png(explorer).startswith(PNG_SIGNATURE)
