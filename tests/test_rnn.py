"""RNN, LSTM, GRU and their cells against torch.nn in float64, and against central differences.

Every comparison copies the weights into the torch twin (state_dict) and
checks the output, the final state(s), dL/dx, dL/dh0 (and dL/dc0) and every
parameter gradient. When our layer is called without an initial state,
torch gets explicit zeros that require a gradient, so that the gradient our
layer returns for the (zero) initial state is checked too.
"""
import re

import numpy as np
import pytest
import torch
from conftest import copy_to_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import sequence_shapes

import dlcourse
from dlcourse import nn
from dlcourse.gradcheck import check_module
from dlcourse.honesty import ReferenceCalledError, forbid

TIGHT = dict(rtol=1e-10, atol=1e-12)
HYPOTHESIS = settings(max_examples=20, deadline=None)

KINDS = {   # name -> (our class, torch class, extra keyword arguments)
    "RNN-tanh": (nn.RNN, torch.nn.RNN, {}),
    "RNN-relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "LSTM": (nn.LSTM, torch.nn.LSTM, {}),
    "GRU": (nn.GRU, torch.nn.GRU, {}),
}
CELLS = {
    "RNNCell-tanh": (nn.RNNCell, torch.nn.RNNCell, {}),
    "RNNCell-relu": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "LSTMCell": (nn.LSTMCell, torch.nn.LSTMCell, {}),
    "GRUCell": (nn.GRUCell, torch.nn.GRUCell, {}),
}


def randomize(module, rng):
    """float64, with parameters drawn at the scale of PyTorch's initialisation (gates not saturated)."""
    module.to(np.float64)
    for p in module.parameters():
        p.data[...] = rng.uniform(-0.6, 0.6, size=p.shape)
    return module


def twins(table, kind, rng, *args, **kwargs):
    ours_cls, theirs_cls, extra = table[kind]
    ours = randomize(ours_cls(*args, **kwargs, **extra), rng)
    theirs = copy_to_torch(ours, theirs_cls(*args, **kwargs, **extra).double())
    return ours, theirs


def tensor(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def assert_parameter_gradients_match(ours, theirs):
    torch_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(torch_params)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, torch_params[name].grad.numpy(), **TIGHT, err_msg=name)


# -- sequence layers against PyTorch ---------------------------------------------------------------
def compare_sequence_layer(kind, rng, n, t, d, h, num_layers=1, batch_first=False, bias=True,
                           unbatched=False, give_h0=True, grad_output=True, grad_h_n=True):
    """Run our layer and its torch twin on the same data; compare everything; return our outputs."""
    ours, theirs = twins(KINDS, kind, rng, d, h, num_layers=num_layers, bias=bias, batch_first=batch_first)
    is_lstm = kind == "LSTM"
    x_shape = (t, d) if unbatched else ((n, t, d) if batch_first else (t, n, d))
    state_shape = (num_layers, h) if unbatched else (num_layers, n, h)
    x = rng.normal(size=x_shape)
    h0 = rng.normal(size=state_shape)
    c0 = rng.normal(size=state_shape)
    states = (h0, c0) if is_lstm else (h0,)
    if not give_h0:
        states = tuple(np.zeros(state_shape) for _ in states)   # what our layer assumes, for torch

    # ours
    state_arg = (states if is_lstm else states[0]) if give_h0 else None
    output, final = ours(x, state_arg)
    finals = final if is_lstm else (final,)
    G = rng.normal(size=output.shape) if grad_output else None
    G_finals = tuple(rng.normal(size=f.shape) for f in finals) if grad_h_n else (None,) * len(finals)
    grad_state_arg = G_finals if is_lstm else G_finals[0]
    grad_x, grad_states = ours.backward(G, grad_state_arg)
    grad_states = grad_states if is_lstm else (grad_states,)

    # torch
    xt, state_t = tensor(x), tuple(tensor(s) for s in states)
    out_t, final_t = theirs(xt, state_t if is_lstm else state_t[0])
    finals_t = final_t if is_lstm else (final_t,)
    loss = torch.zeros((), dtype=torch.float64)
    if grad_output:
        loss = loss + (out_t * torch.from_numpy(G)).sum()
    if grad_h_n:
        for f, g in zip(finals_t, G_finals, strict=True):
            loss = loss + (f * torch.from_numpy(g)).sum()
    loss.backward()

    np.testing.assert_allclose(output, out_t.detach().numpy(), **TIGHT, err_msg="output")
    for name, ours_f, theirs_f in zip(("h_n", "c_n"), finals, finals_t, strict=False):
        np.testing.assert_allclose(ours_f, theirs_f.detach().numpy(), **TIGHT, err_msg=name)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), **TIGHT, err_msg="grad_x")
    for name, ours_g, theirs_s in zip(("grad_h0", "grad_c0"), grad_states, state_t, strict=False):
        assert ours_g.shape == state_shape
        np.testing.assert_allclose(ours_g, theirs_s.grad.numpy(), **TIGHT, err_msg=name)
    assert_parameter_gradients_match(ours, theirs)
    return output, finals


CONFIGS = {
    "defaults": dict(),
    "batch_first": dict(batch_first=True),
    "2-layers-batch_first": dict(num_layers=2, batch_first=True),
    "3-layers": dict(num_layers=3),
    "no-bias": dict(bias=False, num_layers=2),
    "unbatched": dict(unbatched=True, num_layers=2),
    "unbatched-batch_first": dict(unbatched=True, batch_first=True),
    "no-h0": dict(give_h0=False, num_layers=2),
    "no-h0-unbatched": dict(give_h0=False, unbatched=True),
    "grad_h_n-None": dict(grad_h_n=False, num_layers=2),
    "grad_output-None": dict(grad_output=False, num_layers=2, batch_first=True),
    "one-step-one-sample": dict(n=1, t=1),
}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("kind", KINDS)
def test_sequence_layer_matches_torch(kind, config, rng):
    arguments = dict(n=3, t=5, d=4, h=6) | CONFIGS[config]
    compare_sequence_layer(kind, rng, **arguments)


@HYPOTHESIS
@given(shape=sequence_shapes(), kind=st.sampled_from(list(KINDS)), batch_first=st.booleans(),
       bias=st.booleans(), give_h0=st.booleans(), grad_output=st.booleans(), seed=st.integers(0, 2**16))
def test_sequence_layer_matches_torch_for_any_shape(shape, kind, batch_first, bias, give_h0, grad_output,
                                                    seed):
    compare_sequence_layer(kind, np.random.default_rng(seed), shape.n, shape.t, shape.d, shape.h,
                           num_layers=shape.num_layers, batch_first=batch_first, bias=bias,
                           give_h0=give_h0, grad_output=grad_output, grad_h_n=True)


def test_output_and_h_n_have_the_documented_shapes(rng):
    lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True)
    output, (h_n, c_n) = lstm(rng.normal(size=(3, 5, 4)).astype(np.float32))
    assert output.shape == (3, 5, 6) and h_n.shape == c_n.shape == (2, 3, 6)
    np.testing.assert_array_equal(output[:, -1], h_n[-1])          # the last layer's last step
    output, h_n = nn.GRU(4, 6, num_layers=3)(rng.normal(size=(5, 3, 4)))
    assert output.shape == (5, 3, 6) and h_n.shape == (3, 3, 6)
    output, h_n = nn.RNN(4, 6, num_layers=2)(rng.normal(size=(5, 4)))
    assert output.shape == (5, 6) and h_n.shape == (2, 6)


# -- cells against PyTorch -------------------------------------------------------------------------
def compare_cell(kind, rng, n, d, h, bias=True, unbatched=False, give_h=True, grad_h=True, grad_c=True):
    ours, theirs = twins(CELLS, kind, rng, d, h, bias=bias)
    is_lstm = kind == "LSTMCell"
    x = rng.normal(size=(d,) if unbatched else (n, d))
    state_shape = (h,) if unbatched else (n, h)
    states = tuple(rng.normal(size=state_shape) if give_h else np.zeros(state_shape)
                   for _ in range(2 if is_lstm else 1))

    state_arg = (states if is_lstm else states[0]) if give_h else None
    result = ours(x, state_arg)
    outs = result if is_lstm else (result,)
    Gs = tuple(rng.normal(size=o.shape) if wanted else None
               for o, wanted in zip(outs, (grad_h, grad_c), strict=False))
    grad_x, grad_states = ours.backward(*Gs)
    grad_states = grad_states if is_lstm else (grad_states,)

    xt, state_t = tensor(x), tuple(tensor(s) for s in states)
    result_t = theirs(xt, state_t if is_lstm else state_t[0])
    outs_t = result_t if is_lstm else (result_t,)
    loss = sum((o * torch.from_numpy(g)).sum() for o, g in zip(outs_t, Gs, strict=True) if g is not None)
    loss.backward()

    for name, o, o_t in zip(("h'", "c'"), outs, outs_t, strict=False):
        np.testing.assert_allclose(o, o_t.detach().numpy(), **TIGHT, err_msg=name)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), **TIGHT, err_msg="grad_x")
    for name, g, s_t in zip(("grad_h", "grad_c"), grad_states, state_t, strict=False):
        assert g.shape == state_shape
        np.testing.assert_allclose(g, s_t.grad.numpy(), **TIGHT, err_msg=name)
    assert_parameter_gradients_match(ours, theirs)


CELL_CONFIGS = {
    "defaults": dict(),
    "no-bias": dict(bias=False),
    "unbatched": dict(unbatched=True),
    "no-state": dict(give_h=False),
    "no-state-unbatched": dict(give_h=False, unbatched=True),
}


@pytest.mark.parametrize("config", CELL_CONFIGS)
@pytest.mark.parametrize("kind", CELLS)
def test_cell_matches_torch(kind, config, rng):
    compare_cell(kind, rng, **(dict(n=3, d=4, h=5) | CELL_CONFIGS[config]))


@pytest.mark.parametrize("grad_h, grad_c", [(True, False), (False, True)])
def test_lstm_cell_backward_takes_none_for_an_unused_output(grad_h, grad_c, rng):
    compare_cell("LSTMCell", rng, n=2, d=3, h=4, grad_h=grad_h, grad_c=grad_c)


@HYPOTHESIS
@given(shape=sequence_shapes(), kind=st.sampled_from(list(CELLS)), bias=st.booleans(),
       give_h=st.booleans(), seed=st.integers(0, 2**16))
def test_cell_matches_torch_for_any_shape(shape, kind, bias, give_h, seed):
    compare_cell(kind, np.random.default_rng(seed), shape.n, shape.d, shape.h, bias=bias, give_h=give_h)


@pytest.mark.parametrize("cell_cls, layer_cls", [(nn.RNNCell, nn.RNN), (nn.LSTMCell, nn.LSTM),
                                                 (nn.GRUCell, nn.GRU)])
def test_a_cell_stepped_over_a_sequence_equals_the_sequence_layer(cell_cls, layer_cls, rng):
    layer = randomize(layer_cls(3, 4), rng)
    cell = cell_cls(3, 4).to(np.float64)
    cell.load_state_dict({name.removesuffix("_l0"): value for name, value in layer.state_dict().items()})
    x = rng.normal(size=(6, 2, 3))
    output, final = layer(x)
    state = None
    for t in range(len(x)):
        state = cell(x[t], state)
        h = state[0] if isinstance(state, tuple) else state
        np.testing.assert_allclose(h, output[t], **TIGHT)
    np.testing.assert_allclose(state[1] if isinstance(state, tuple) else state,
                               final[1][0] if isinstance(final, tuple) else final[0], **TIGHT)


# -- central differences ---------------------------------------------------------------------------
GRADCHECKS = {
    "RNN": (lambda: nn.RNN(3, 4, num_layers=2), (5, 2, 3), (2, 2, 4), 1),
    "RNN-relu-batch_first": (lambda: nn.RNN(3, 4, nonlinearity="relu", batch_first=True), (2, 5, 3),
                             (1, 2, 4), 1),
    "LSTM": (lambda: nn.LSTM(3, 4, num_layers=2), (5, 2, 3), (2, 2, 4), 2),
    "LSTM-unbatched-no-bias": (lambda: nn.LSTM(3, 4, bias=False), (5, 3), (1, 4), 2),
    "GRU": (lambda: nn.GRU(3, 4, num_layers=2, batch_first=True), (2, 5, 3), (2, 2, 4), 1),
    "RNNCell": (lambda: nn.RNNCell(3, 4), (2, 3), (2, 4), 1),
    "LSTMCell": (lambda: nn.LSTMCell(3, 4), (2, 3), (2, 4), 2),
    "GRUCell-unbatched": (lambda: nn.GRUCell(3, 4), (3,), (4,), 1),
}


@pytest.mark.parametrize("name", GRADCHECKS)
def test_central_differences_with_initial_state(name, rng):
    make, x_shape, state_shape, n_states = GRADCHECKS[name]
    module = randomize(make(), rng)
    states = tuple(rng.normal(size=state_shape) for _ in range(n_states))
    results = check_module(module, rng.normal(size=x_shape), states if n_states == 2 else states[0])
    state_names = ["input[1][0]", "input[1][1]"] if n_states == 2 else ["input[1]"]
    assert list(results) == ["input[0]"] + state_names + [n for n, _ in module.named_parameters()]
    for comparison in results.values():
        assert comparison.error < 1e-6, str(comparison)


@pytest.mark.parametrize("name", GRADCHECKS)
def test_central_differences_without_initial_state(name, rng):
    make, x_shape, _, _ = GRADCHECKS[name]
    module = randomize(make(), rng)
    results = check_module(module, rng.normal(size=x_shape))
    assert list(results) == ["input"] + [n for n, _ in module.named_parameters()]
    for comparison in results.values():
        assert comparison.error < 1e-6, str(comparison)


def test_central_differences_catch_a_wrong_gate_derivative(rng, monkeypatch):
    """The check can fail: break dA_f (the forget gate) and it points at the LSTM's weights."""
    from dlcourse.nn import rnn

    original = rnn.lstm_step_backward

    def forgets_the_forget_gate(dh, dc, gates, c_prev, tanh_c, W_hh, dA):
        H = dh.shape[1]
        dh_prev = original(dh, dc, gates, c_prev, tanh_c, W_hh, dA)
        dA[:, H:2 * H] = 0
        return dh_prev

    monkeypatch.setattr(rnn, "lstm_step_backward", forgets_the_forget_gate)
    results = check_module(randomize(nn.LSTM(3, 4), rng), rng.normal(size=(4, 2, 3)),
                           (rng.normal(size=(1, 2, 4)), rng.normal(size=(1, 2, 4))))
    assert results["weight_hh_l0"].error > 1e-2
    assert results["bias_ih_l0"].error > 1e-2


def test_central_differences_explain_a_backward_that_does_not_mirror_the_inputs(rng):
    class ForgetsTheCellStateGradient(nn.LSTMCell):
        def backward(self, grad_h=None, grad_c=None):
            grad_x, (grad_h_prev, _) = super().backward(grad_h, grad_c)
            return grad_x, grad_h_prev                             # the bug: (grad_h, grad_c) expected

    state = (rng.normal(size=(2, 4)), rng.normal(size=(2, 4)))
    message = r"ForgetsTheCellStateGradient.backward should return dL/dinput\[1\] as a tuple of 2 gradients"
    with pytest.raises(ValueError, match=message):
        check_module(ForgetsTheCellStateGradient(3, 4), rng.normal(size=(2, 3)), state)


# -- parameters: names, shapes, initialisation -----------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_parameter_names_and_shapes_equal_torchs(kind, bias):
    ours_cls, theirs_cls, extra = KINDS[kind]
    ours, theirs = ours_cls(5, 7, num_layers=3, bias=bias, **extra), theirs_cls(5, 7, num_layers=3, bias=bias)
    expected = [(name, tuple(p.shape)) for name, p in theirs.named_parameters()]
    assert [(name, p.shape) for name, p in ours.named_parameters()] == expected
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", CELLS)
def test_cell_parameter_names_and_shapes_equal_torchs(kind, bias):
    ours_cls, theirs_cls, _ = CELLS[kind]
    expected = [(name, tuple(p.shape)) for name, p in theirs_cls(5, 7, bias=bias).named_parameters()]
    assert [(name, p.shape) for name, p in ours_cls(5, 7, bias=bias).named_parameters()] == expected


@pytest.mark.parametrize("make", [lambda: nn.LSTM(20, 64, num_layers=2), lambda: nn.GRU(20, 64),
                                  lambda: nn.RNN(20, 64), lambda: nn.LSTMCell(20, 64)],
                         ids=["LSTM", "GRU", "RNN", "LSTMCell"])
def test_initialisation_is_uniform_within_one_over_sqrt_hidden_size_as_torch(make):
    module = make()
    bound = 1 / np.sqrt(64)
    for name, p in module.named_parameters():
        assert p.data.dtype == np.float32 and p.grad.dtype == np.float32, name
        assert np.all(np.abs(p.data) <= bound), name
        assert np.abs(p.data).max() > 0.95 * bound, name           # spread over the whole interval
        assert abs(p.data.mean()) < 0.1 * bound, name
        np.testing.assert_array_equal(p.grad, 0)
    dlcourse.manual_seed(3)
    first = make().state_dict()
    dlcourse.manual_seed(3)
    second = make().state_dict()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


# -- behaviour -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_float32(kind, rng):
    ours_cls, _, extra = KINDS[kind]
    layer = ours_cls(4, 5, num_layers=2, batch_first=True, **extra)
    x = rng.normal(size=(3, 6, 4)).astype(np.float32)
    output, final = layer(x)
    finals = final if isinstance(final, tuple) else (final,)
    assert output.dtype == np.float32 and all(f.dtype == np.float32 for f in finals)
    grad_x, grad_state = layer.backward(np.ones_like(output), None)
    grad_states = grad_state if isinstance(grad_state, tuple) else (grad_state,)
    assert grad_x.dtype == np.float32 and all(g.dtype == np.float32 for g in grad_states)
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


@pytest.mark.parametrize("kind", CELLS)
def test_float32_cells_stay_float32(kind, rng):
    ours_cls, _, extra = CELLS[kind]
    cell = ours_cls(4, 5, **extra)
    result = cell(rng.normal(size=(3, 4)).astype(np.float32))
    outs = result if isinstance(result, tuple) else (result,)
    assert all(o.dtype == np.float32 for o in outs)
    grad_x, _ = cell.backward(*(np.ones_like(o) for o in outs))
    assert grad_x.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in cell.parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_parameter_gradients_accumulate_and_inputs_are_left_alone(kind, rng):
    ours_cls, _, extra = KINDS[kind]
    layer = randomize(ours_cls(3, 4, num_layers=2, **extra), rng)
    x, h0, c0 = rng.normal(size=(5, 2, 3)), rng.normal(size=(2, 2, 4)), rng.normal(size=(2, 2, 4))
    G, G_h, G_c = rng.normal(size=(5, 2, 4)), rng.normal(size=(2, 2, 4)), rng.normal(size=(2, 2, 4))
    originals = [a.copy() for a in (x, h0, c0, G, G_h, G_c)]
    state, grad_state = ((h0, c0), (G_h, G_c)) if kind == "LSTM" else (h0, G_h)
    layer(x, state)
    layer.backward(G, grad_state)
    once = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer(x, state)
    layer.backward(G, grad_state)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[name], rtol=1e-12, err_msg=name)
    for array, original in zip((x, h0, c0, G, G_h, G_c), originals, strict=True):
        np.testing.assert_array_equal(array, original)


def test_changing_the_returned_output_does_not_change_backward(rng):
    layer = randomize(nn.RNN(3, 4), rng)
    x = rng.normal(size=(5, 2, 3))
    output, h_n = layer(x)
    G = rng.normal(size=output.shape)
    expected = layer.backward(G)[0]
    output, h_n = layer(x)
    output[...] = 0
    h_n[...] = 0
    np.testing.assert_array_equal(layer.backward(G)[0], expected)


def test_the_reference_can_be_forbidden(rng):
    with forbid(nn.LSTM), pytest.raises(ReferenceCalledError):
        nn.LSTM(3, 4)(rng.normal(size=(5, 2, 3)))
    with forbid(nn.GRUCell), pytest.raises(ReferenceCalledError):
        nn.GRUCell(3, 4)(rng.normal(size=(2, 3)))
    nn.LSTM(3, 4)(rng.normal(size=(5, 2, 3)))                      # allowed again outside the block


def test_repr_names_the_configuration():
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


# -- errors ----------------------------------------------------------------------------------------
def test_wrong_number_of_input_features():
    message = r"^LSTM expects 3 input features, got an array of shape \(5, 2, 4\)$"
    with pytest.raises(ValueError, match=message):
        nn.LSTM(3, 8)(np.zeros((5, 2, 4)))
    message = r"^GRUCell expects 3 input features, got an array of shape \(2, 4\)$"
    with pytest.raises(ValueError, match=message):
        nn.GRUCell(3, 8)(np.zeros((2, 4)))


@pytest.mark.parametrize("shape", [(5,), (1, 5, 2, 3)])
def test_input_must_be_2d_or_3d(shape):
    with pytest.raises(ValueError, match=r"RNN expects an array of shape \(T, N, D\) or unbatched \(T, D\), "
                                         rf"got an array of shape {re.escape(str(shape))}"):
        nn.RNN(3, 8)(np.zeros(shape))
    with pytest.raises(ValueError, match=r"\(N, T, D\) or unbatched"):
        nn.GRU(3, 8, batch_first=True)(np.zeros(shape))


def test_cell_input_must_be_1d_or_2d():
    with pytest.raises(ValueError, match=r"LSTMCell expects an array of shape \(N, D\) or unbatched \(D,\)"):
        nn.LSTMCell(3, 8)(np.zeros((2, 2, 3)))


def test_initial_state_of_the_wrong_shape():
    lstm = nn.LSTM(3, 8, num_layers=2)
    message = r"^LSTM expects h0 of shape \(2, 4, 8\), got an array of shape \(1, 4, 8\)$"
    with pytest.raises(ValueError, match=message):
        lstm(np.zeros((5, 4, 3)), (np.zeros((1, 4, 8)), np.zeros((2, 4, 8))))
    message = r"^LSTM expects c0 of shape \(2, 4, 8\), got an array of shape \(2, 4\)$"
    with pytest.raises(ValueError, match=message):
        lstm(np.zeros((5, 4, 3)), (np.zeros((2, 4, 8)), np.zeros((2, 4))))
    message = r"^GRU expects h0 of shape \(1, 8\), got an array of shape \(1, 1, 8\)$"
    with pytest.raises(ValueError, match=message):
        nn.GRU(3, 8)(np.zeros((5, 3)), np.zeros((1, 1, 8)))           # unbatched input, batched state
    message = r"^RNNCell expects h of shape \(2, 8\), got an array of shape \(8,\)$"
    with pytest.raises(ValueError, match=message):
        nn.RNNCell(3, 8)(np.zeros((2, 3)), np.zeros(8))


def test_lstm_state_must_be_a_pair():
    with pytest.raises(ValueError, match=r"LSTM expects the state as a pair \(h, c\) or None, got an array"):
        nn.LSTM(3, 8)(np.zeros((5, 4, 3)), np.zeros((1, 4, 8)))
    with pytest.raises(ValueError, match=r"LSTMCell expects the state as a pair \(h, c\)"):
        nn.LSTMCell(3, 8)(np.zeros((4, 3)), np.zeros((4, 8)))


@pytest.mark.parametrize("make", [lambda: nn.RNN(3, 4, nonlinearity="sigmoid"),
                                  lambda: nn.RNNCell(3, 4, nonlinearity="sigmoid")], ids=["RNN", "RNNCell"])
def test_unknown_nonlinearity(make):
    with pytest.raises(ValueError, match=r"expects nonlinearity 'tanh' or 'relu', got 'sigmoid'"):
        make()


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_sizes_must_be_at_least_one(cls):
    message = rf"^{cls.__name__} expects hidden_size to be an integer >= 1, got 0$"
    with pytest.raises(ValueError, match=message):
        cls(3, 0)
    with pytest.raises(ValueError, match=r"expects num_layers to be an integer >= 1, got 0"):
        cls(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"expects hidden_size to be an integer >= 1, got 2.5"):
        cls(3, 2.5)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_cell_sizes_must_be_at_least_one(cls):
    message = rf"^{cls.__name__} expects hidden_size to be an integer >= 1, got -1$"
    with pytest.raises(ValueError, match=message):
        cls(3, -1)


def test_gradients_of_the_wrong_shape():
    lstm = nn.LSTM(3, 8, num_layers=2, batch_first=True)
    lstm(np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match=r"^LSTM.backward expects grad_output of shape \(4, 5, 8\), "
                                         r"got an array of shape \(5, 4, 8\)$"):
        lstm.backward(np.zeros((5, 4, 8)))
    with pytest.raises(ValueError, match=r"^LSTM.backward expects grad_c_n of shape \(2, 4, 8\), "
                                         r"got an array of shape \(1, 4, 8\)$"):
        lstm.backward(None, (None, np.zeros((1, 4, 8))))
    rnn = nn.RNN(3, 8)
    rnn(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"^RNN.backward expects grad_h_n of shape \(1, 8\)"):
        rnn.backward(None, np.zeros(8))
    cell = nn.LSTMCell(3, 8)
    cell(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^LSTMCell.backward expects grad_c of shape \(2, 8\), "
                                         r"got an array of shape \(8,\)$"):
        cell.backward(np.zeros((2, 8)), np.zeros(8))


@pytest.mark.parametrize("make", [lambda: nn.GRU(3, 4), lambda: nn.LSTMCell(3, 4)], ids=["GRU", "LSTMCell"])
def test_backward_before_forward_says_so(make):
    with pytest.raises(RuntimeError, match=r"backward was called before forward"):
        make().backward(np.zeros((2, 4)))
