"""Chapter 01's explorers: default view at once, every control redraws, the numbers shown are right."""
import base64

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from dlcourse import perceptrons as P
from dlcourse import widgets
from dlcourse.widgets import perceptrons as WP

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

EXPLORERS = {
    "neuron": (widgets.neuron_explorer, {"w1": 1.0, "w2": 1.0, "b": 0.0, "dataset": "separable"},
               [("w1", -2.0), ("w2", 3.0), ("b", 0.5), ("dataset", "XOR")]),
    "stepper": (widgets.perceptron_stepper, {"dataset": "separable", "update": WP.MAX_UPDATES},
                [("update", 3), ("dataset", "XOR")]),
    "feature_map": (widgets.feature_map_explorer, {"threshold": 0.6, "noise": 0.05},
                    [("threshold", 0.3), ("noise", 0.15)]),
}


def shown_png(explorer):
    (output,) = explorer.output.outputs
    return base64.b64decode(output["data"]["image/png"])


def titles(draw, **values):
    fig = Figure()
    draw(fig, **values)
    return [ax.get_title() for ax in fig.axes]


@pytest.mark.parametrize("name", EXPLORERS)
def test_default_view_is_drawn_with_the_documented_controls(name):
    make, defaults, _ = EXPLORERS[name]
    explorer = make()
    assert explorer.values() == defaults
    png = shown_png(explorer)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000


@pytest.mark.parametrize("name", EXPLORERS)
def test_every_control_redraws_and_no_figure_leaks(name):
    make, _, changes = EXPLORERS[name]
    open_before = plt.get_fignums()
    explorer = make()
    for control, value in changes:
        before = shown_png(explorer)
        explorer.controls[control].value = value
        assert shown_png(explorer) != before, control
    assert plt.get_fignums() == open_before
    assert all(not c.continuous_update for c in explorer.controls.values() if hasattr(c, "continuous_update"))


def test_neuron_counts_the_misclassified_points():
    X, y = WP.two_d_set("separable")
    w, b = np.array([1.0, 1.0]), 0.0
    wrong = int((P.perceptron_predict(X, w, b) != y).sum())
    assert titles(WP.draw_neuron, w1=1.0, w2=1.0, b=0.0, dataset="separable")[0] == \
        f"{wrong} of {len(y)} misclassified"
    line = P.SEPARABLE_LINE
    assert titles(WP.draw_neuron, w1=line[0][0], w2=line[0][1], b=line[1], dataset="separable")[0] == \
        f"0 of {len(y)} misclassified"


def test_stepper_run_is_the_perceptron_rule():
    samples, weights, biases, mistakes = WP.perceptron_run("separable")
    X, y = WP.two_d_set("separable")
    w, b, n_updates = P.perceptron_train(X, y)
    assert len(samples) == n_updates < WP.MAX_UPDATES and mistakes[-1] == 0 and mistakes[0] > 0
    np.testing.assert_array_equal(weights[-1], w)
    assert biases[-1] == b and weights.shape == (n_updates + 1, 2)
    xor_samples, *_, xor_mistakes = WP.perceptron_run("XOR")
    assert len(xor_samples) == WP.MAX_UPDATES and xor_mistakes.min() > 0


def test_stepper_titles_say_converged_or_never_settles():
    n = len(WP.perceptron_run("separable")[0])
    final = titles(WP.draw_perceptron_step, dataset="separable", update=60)
    assert f"converged after {n} updates" in final[0]
    assert "update 3," in titles(WP.draw_perceptron_step, dataset="separable", update=3)[0]
    assert "never settles" in titles(WP.draw_perceptron_step, dataset="XOR", update=10)[1]


def test_feature_map_default_separates_the_circles_and_noise_breaks_it():
    assert "0 of 200 misclassified" in titles(WP.draw_feature_map, threshold=0.6, noise=0.05)[1]
    assert "0 of 200" not in titles(WP.draw_feature_map, threshold=0.6, noise=0.2)[1]


def test_unknown_data_set_is_named():
    with pytest.raises(ValueError, match="'separable' or 'XOR', got 'moons'"):
        WP.two_d_set("moons")
