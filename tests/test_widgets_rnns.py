"""Chapter 06's explorers: each draws its default view at creation and redraws on every control.

Their numbers (gradient norms, gates, hidden states, samples) are tested in test_rnns.py; the models here are
small and untrained, which is enough to draw.
"""
import numpy as np
import pytest
from widget_explorers import explorer_tests

import dlcourse
from dlcourse import data, nn, widgets
from dlcourse import rnns as R
from dlcourse.widgets import rnns as WR

pytestmark = pytest.mark.chapter06


def tiny_corpus():
    text = "to be or not to be, that is the question:\nwhether 'tis nobler in the mind to suffer\n" * 3
    chars, codes = data._corpus_codes(text)
    return data.TextCorpus(text, chars, codes)


def make_gates():
    dlcourse.manual_seed(0)
    X, y = R.make_symbol_memory(8, 4, seed=0)
    return widgets.gate_viewer(nn.LSTM(6, 8, batch_first=True), X, y)


def make_trajectories():
    dlcourse.manual_seed(0)
    X, y = R.make_symbol_memory(12, 4, seed=0)
    models = {kind: R.memory_model(kind, 6, 8, 4)[0] for kind in ("RNN", "LSTM", "GRU")}
    return widgets.trajectory_explorer(models, X, y)


def make_sampling():
    corpus = tiny_corpus()
    dlcourse.manual_seed(0)
    return widgets.sampling_explorer(R.CharLM(len(corpus.chars), 8, 16), corpus, prompt="to be", length=80)


EXPLORERS = {
    "gradients": (widgets.gradient_explorer,
                  [("radius", 1.5), ("nonlinearity", "linear"), ("forget_bias", 3.0)]),
    "gates": (make_gates, [("example", 3), ("quantity", "input"), ("quantity", "cell state")]),
    "trajectories": (make_trajectories, [("model", "LSTM"), ("model", "GRU")]),
    "sampling": (make_sampling, [("temperature", 0.1), ("temperature", 2.0)]),
}

# The two tests every explorer passes (tests/widget_explorers.py), one run per row of EXPLORERS.
case, test_the_default_view_is_drawn_at_creation, test_every_control_redraws = explorer_tests(EXPLORERS)


def test_the_sampling_explorer_precomputes_one_sample_per_temperature():
    explorer = make_sampling()
    assert list(explorer.controls["temperature"].options) == list(WR.TEMPERATURES)


def test_the_gate_viewer_offers_every_quantity():
    assert list(make_gates().controls["quantity"].options) == list(WR.GATE_NAMES)


def test_explorers_are_exported():
    for name in ("gradient_explorer", "gate_viewer", "trajectory_explorer", "sampling_explorer"):
        assert name in widgets.__all__ and getattr(widgets, name) is getattr(WR, name)
    assert np.isfinite(R.gradient_norms("RNN", 0.9, "tanh")).all()
