"""Chapter 03's explorers: the graph stepper's numbers are autograd's; the pictures draw and redraw fast."""
import base64
import time

import numpy as np
import pytest
import torch

from dlcourse import widgets
from dlcourse.widgets import backprop

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPLORERS = {
    "graph": (widgets.graph_stepper, [("step", 0), ("step", 5), ("step", len(backprop.graph_steps()) - 1)]),
    "init": (widgets.init_explorer, [("scheme", "he"), ("activation", "relu"), ("scheme", "zeros")]),
    "learning_rate": (widgets.learning_rate_explorer, [("lr", 0.01), ("lr", 10.0)]),
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


def test_every_control_redraws_in_under_a_second(case):
    explorer, changes = case
    for name, value in changes:
        before = shown_png(explorer)
        start = time.perf_counter()
        explorer.controls[name].value = value
        elapsed = time.perf_counter() - start
        assert shown_png(explorer) != before, name
        assert elapsed < 2.0, f"{name}: {elapsed:.2f} s (budget about 1 s; 2 s allows for a loaded machine)"


# -- the graph stepper computes what autograd computes -----------------------------------------
def autograd_gradients():
    """dL/d(every node) of the 2-2-1 network, by torch autograd in float64."""
    t = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    x, W, b, V = t(backprop.GRAPH_X), t(backprop.GRAPH_W), t(backprop.GRAPH_B), t(backprop.GRAPH_V)
    z = W @ x + b
    h = torch.tanh(z)
    z3 = V @ h + backprop.GRAPH_C
    p = torch.sigmoid(z3)
    loss = torch.nn.functional.binary_cross_entropy(p, torch.tensor(backprop.GRAPH_Y, dtype=torch.float64))
    for node in (z, h, z3, p):
        node.retain_grad()
    loss.backward()
    grads = {"L": 1.0, "p": p.grad.item(), "z3": z3.grad.item(),
             "h1": h.grad[0].item(), "h2": h.grad[1].item(),
             "z1": z.grad[0].item(), "z2": z.grad[1].item(), "x1": x.grad[0].item(), "x2": x.grad[1].item()}
    values = {"x1": x[0].item(), "x2": x[1].item(), "z1": z[0].item(), "z2": z[1].item(), "h1": h[0].item(),
              "h2": h[1].item(), "z3": z3.item(), "p": p.item(), "L": loss.item()}
    return values, grads


def test_graph_steps_go_forward_then_backward_through_every_node():
    steps = backprop.graph_steps()
    phases = [s["phase"] for s in steps]
    assert phases == sorted(phases, key=lambda phase: phase != "forward")
    nodes = set(backprop.NODE_POSITIONS)
    assert {s["node"] for s in steps if s["phase"] == "forward"} == nodes
    assert {s["node"] for s in steps if s["phase"] == "backward"} == nodes
    assert all(s["rule"] and s["numbers"] for s in steps)


def test_graph_values_and_gradients_agree_with_autograd():
    values, grads = autograd_gradients()
    for s in backprop.graph_steps():
        expected = values[s["node"]] if s["phase"] == "forward" else grads[s["node"]]
        assert s["value"] == pytest.approx(expected, rel=1e-12, abs=1e-12), (s["phase"], s["node"])


def test_the_output_gradient_is_p_minus_y():
    steps = {(s["phase"], s["node"]): s["value"] for s in backprop.graph_steps()}
    assert steps["backward", "z3"] == pytest.approx(steps["forward", "p"] - backprop.GRAPH_Y, rel=1e-12)


# -- the initialisation explorer's numbers ----------------------------------------------------------
def test_init_std_follows_the_schemes():
    assert backprop.init_std("he", 256, 128) == pytest.approx(np.sqrt(2 / 256))
    assert backprop.init_std("xavier", 256, 128) == pytest.approx(np.sqrt(2 / 384))
    assert backprop.init_std("zeros", 5, 5) == 0.0
    with pytest.raises(ValueError, match="expected a scheme among"):
        backprop.init_std("glorot", 5, 5)


def test_he_keeps_relu_gradients_at_one_scale_and_small_weights_make_them_vanish():
    _, he = backprop.layer_statistics("he", "relu")
    he_stds = [g.std() for g in he]
    assert max(he_stds) / min(he_stds) < 1.5
    _, small = backprop.layer_statistics("small", "tanh")
    assert small[0].std() < 1e-3 * small[-1].std()
    activations, gradients = backprop.layer_statistics("zeros", "tanh")
    assert all(not a.any() for a in activations) and all(not g.any() for g in gradients)


# -- the learning-rate explorer's runs ----------------------------------------------------------------
def test_loss_curves_start_near_ln10_fall_for_good_rates_and_explode_for_the_largest():
    curves = {lr: backprop.loss_curve(lr) for lr in backprop.LR_RATES}
    for curve in curves.values():
        assert curve[0] == pytest.approx(np.log(10), abs=0.05)
    assert curves[0.5][-1] < curves[0.1][-1] < curves[0.01][-1] < curves[0.01][0]
    largest = curves[max(backprop.LR_RATES)]
    assert not np.all(np.isfinite(largest)) or np.nanmax(largest) > 3 * largest[0]
