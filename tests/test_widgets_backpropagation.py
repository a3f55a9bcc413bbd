"""Chapter 03's explorers: each draws its default view at creation and redraws on every control.

Their numbers (the graph's values and gradients, the layer statistics, the
loss curves) are tested in test_backpropagation.py; how fast they redraw is
measured in benchmarks/widgets_and_loaders.py.
"""
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from widget_explorers import explorer_tests

from dlcourse import backpropagation as BP
from dlcourse import widgets
from dlcourse.widgets import backpropagation as WB

EXPLORERS = {
    "graph": (widgets.graph_stepper, [("step", 0), ("step", 5), ("step", len(BP.graph_steps()) - 1)]),
    "init": (widgets.init_explorer, [("scheme", "he"), ("activation", "relu"), ("scheme", "zeros")]),
    "learning_rate": (widgets.learning_rate_explorer, [("lr", 0.01), ("lr", 10.0)]),
}

# The two tests every explorer passes (tests/widget_explorers.py), one run per row of EXPLORERS.
case, test_the_default_view_is_drawn_at_creation, test_every_control_redraws = explorer_tests(EXPLORERS)


def test_the_graph_picture_places_every_node_the_steps_compute():
    assert set(WB.NODE_POSITIONS) == set(BP.NODES)
    assert {node for edge in WB.EDGES for node in edge} == set(BP.NODES)


def test_the_graph_stepper_starts_where_dL_dz1_is_computed():
    step = widgets.graph_stepper().values()["step"]
    assert BP.graph_steps()[step]["phase"] == "backward" and BP.graph_steps()[step]["node"] == "z1"


def test_the_learning_rate_title_says_diverged_for_the_largest_rate():
    fig = Figure()
    WB.draw_learning_rates(fig, max(BP.LR_RATES))
    assert "diverged" in fig.axes[0].get_title()
    fig = Figure()
    WB.draw_learning_rates(fig, 0.5)
    assert "final loss" in fig.axes[0].get_title()


def test_no_figure_is_left_open():
    open_before = plt.get_fignums()
    widgets.init_explorer().controls["scheme"].value = "he"
    widgets.learning_rate_explorer().controls["lr"].value = 0.1
    assert plt.get_fignums() == open_before
