"""dlcourse.rnns: the references against PyTorch in float64, the experiments, every check's messages."""
import numpy as np
import pytest
import torch

import dlcourse
from dlcourse import losses, nn, optim
from dlcourse import rnns as R
from dlcourse.checks import CheckFailed, NotAttempted

pytestmark = pytest.mark.chapter06

TIGHT = dict(rtol=1e-10, atol=1e-12)


def weights(rng, G, D, H):
    return tuple(rng.normal(size=shape) for shape in [(G * H, D), (G * H, H), (G * H,), (G * H,)])


def torch_cell(cls, W_ih, W_hh, b_ih, b_hh):
    cell = cls(W_ih.shape[1], W_hh.shape[1]).double()
    cell.load_state_dict({k: torch.from_numpy(v) for k, v in
                          zip(["weight_ih", "weight_hh", "bias_ih", "bias_hh"], [W_ih, W_hh, b_ih, b_hh],
                              strict=True)})
    return cell


# -- the references of the exercises against PyTorch ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["RNN", "GRU"])
def test_rnn_and_gru_steps_match_torch(kind):
    rng = np.random.default_rng(0)
    G = {"RNN": 1, "GRU": 3}[kind]
    x, h = rng.normal(size=(4, 3)), rng.normal(size=(4, 5))
    W = weights(rng, G, 3, 5)
    ours = {"RNN": R.rnn_step, "GRU": R.gru_step}[kind](x, h, *W)
    theirs = torch_cell({"RNN": torch.nn.RNNCell, "GRU": torch.nn.GRUCell}[kind], *W)(
        torch.from_numpy(x), torch.from_numpy(h))
    np.testing.assert_allclose(ours, theirs.detach().numpy(), **TIGHT)


def test_lstm_step_and_its_gradients_match_torch():
    rng = np.random.default_rng(1)
    x, h, c = rng.normal(size=(3, 2)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    W = weights(rng, 4, 2, 4)
    dh, dc = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    h1, c1 = R.lstm_step(x, h, c, *W)
    grads = R.lstm_step_gradients(dh, dc, x, h, c, *W)
    cell = torch_cell(torch.nn.LSTMCell, *W)
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    t_h, t_c = cell(tx, (th, tc))
    ((t_h * torch.from_numpy(dh)).sum() + (t_c * torch.from_numpy(dc)).sum()).backward()
    np.testing.assert_allclose(h1, t_h.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(c1, t_c.detach().numpy(), **TIGHT)
    expected = {"x": tx.grad, "h_prev": th.grad, "c_prev": tc.grad, "W_ih": cell.weight_ih.grad,
                "W_hh": cell.weight_hh.grad, "b_ih": cell.bias_ih.grad, "b_hh": cell.bias_hh.grad}
    assert set(grads) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(grads[key], value.numpy(), **TIGHT, err_msg=key)


def test_rnn_forward_and_gradients_match_torch_batch_first():
    rng = np.random.default_rng(2)
    X, h0 = rng.normal(size=(3, 6, 2)), rng.normal(size=(3, 4))
    W = weights(rng, 1, 2, 4)
    dHs = rng.normal(size=(3, 6, 4))
    rnn = torch.nn.RNN(2, 4, batch_first=True).double()
    rnn.load_state_dict({k: torch.from_numpy(v) for k, v in
                         zip(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"], W, strict=True)})
    tX, th0 = torch.tensor(X, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    out, _ = rnn(tX, th0)
    (out * torch.from_numpy(dHs)).sum().backward()
    np.testing.assert_allclose(R.rnn_forward(X, h0, *W), out.detach().numpy(), **TIGHT)
    grads = R.rnn_gradients(dHs, X, h0, *W)
    np.testing.assert_allclose(grads["X"], tX.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(grads["h0"], th0.grad.numpy()[0], **TIGHT)
    for key, name in [("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0"), ("b_ih", "bias_ih_l0"),
                      ("b_hh", "bias_hh_l0")]:
        np.testing.assert_allclose(grads[key], getattr(rnn, name).grad.numpy(), **TIGHT, err_msg=key)


def test_rnn_gradients_match_central_differences():
    rng = np.random.default_rng(3)
    X, h0 = rng.normal(size=(2, 4, 2)), rng.normal(size=(2, 3))
    W = list(weights(rng, 1, 2, 3))
    dHs = rng.normal(size=(2, 4, 3))
    grads = R.rnn_gradients(dHs, X, h0, *W)
    eps = 1e-6
    for name, array in [("X", X), ("h0", h0), ("W_hh", W[1]), ("b_ih", W[2])]:
        index = (0,) * array.ndim
        old = array[index]
        array[index] = old + eps
        up = np.sum(R.rnn_forward(X, h0, *W) * dHs)
        array[index] = old - eps
        down = np.sum(R.rnn_forward(X, h0, *W) * dHs)
        array[index] = old
        assert abs((up - down) / (2 * eps) - grads[name][index]) < 1e-7, name


def test_sample_next_follows_the_tempered_softmax_and_the_generator():
    logits = np.array([[1.0, 0.0, -1.0]])
    for temperature in (0.5, 1.0, 3.0):
        draws = R.sample_next(np.repeat(logits, 40000, axis=0), temperature, np.random.default_rng(0))
        assert draws.dtype == np.int64 and draws.shape == (40000,)
        p = np.exp(logits[0] / temperature) / np.exp(logits[0] / temperature).sum()
        np.testing.assert_allclose(np.bincount(draws, minlength=3) / 40000, p, atol=0.01)
    again = R.sample_next(np.repeat(logits, 50, axis=0), 1.0, np.random.default_rng(5))
    np.testing.assert_array_equal(again, R.sample_next(np.repeat(logits, 50, axis=0), 1.0,
                                                       np.random.default_rng(5)))
    extreme = R.sample_next(np.array([[1000.0, 0.0, -1000.0]] * 5), 1.0, np.random.default_rng(0))
    np.testing.assert_array_equal(extreme, 0)


# -- gradients through time ----------------------------------------------------------------------------------
@pytest.mark.parametrize("radius", [0.6, 1.3])
def test_linear_rnn_gradient_decays_at_the_spectral_radius(radius):
    norms = R.gradient_norms("RNN", radius, "linear", T=80)
    rate = (norms[80] / norms[40]) ** (1 / 40)
    assert abs(rate - radius) < 0.05 * radius


def test_tanh_rnn_gradient_norm_is_nn_rnns_dh0():
    T, H, N, seed = 12, 6, 5, 3
    norms = R.gradient_norms("RNN", 1.2, "tanh", T=T, H=H, N=N, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T, N, H))
    u = rng.standard_normal((N, H))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    W = rng.standard_normal((H, H))
    rnn = nn.RNN(H, H, bias=False).to(np.float64)
    rnn.weight_hh_l0.data[...] = W * (1.2 / R.spectral_radius(W))
    rnn.weight_ih_l0.data[...] = rng.standard_normal((H, H)) / np.sqrt(H)
    rnn(X)
    _, dh0 = rnn.backward(None, u[None])
    assert norms[0] == 1.0
    np.testing.assert_allclose(norms[T], np.linalg.norm(dh0[0], axis=1).mean(), rtol=1e-10)


def test_lstm_gradient_norm_is_nn_lstms_dh0_and_grows_with_the_forget_bias():
    T, H, N = 10, 5, 4
    norms = R.gradient_norms("LSTM", forget_bias=1.0, T=T, H=H, N=N, seed=2)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((T, N, H))
    u = rng.standard_normal((N, H))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    lstm = R._default_lstm(H, 1.0, 2)
    lstm(X)
    _, (dh0, _) = lstm.backward(None, (u[None], None))
    np.testing.assert_allclose(norms[T], np.linalg.norm(dh0[0], axis=1).mean(), rtol=1e-10)
    far = [R.gradient_norms("LSTM", forget_bias=b)[40] for b in (0.0, 1.0, 3.0)]
    assert far[0] < far[1] < far[2]


def test_gradient_norms_refuse_unknown_arguments():
    with pytest.raises(ValueError, match="gradient_norms expects kind 'RNN' or 'LSTM', got 'GRU'"):
        R.gradient_norms("GRU")
    with pytest.raises(ValueError, match="expects nonlinearity 'tanh' or 'linear', got 'relu'"):
        R.gradient_norms("RNN", 1.0, "relu")


def test_spectral_radius():
    assert R.spectral_radius(np.array([[0.0, 2.0], [-2.0, 0.0]])) == pytest.approx(2.0)


# -- the memory task -----------------------------------------------------------------------------------------
def test_symbol_memory_layout():
    X, y = R.make_symbol_memory(50, delay=7, seed=1)
    assert X.shape == (50, 9, 6) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X.sum(axis=2)[:, 1:], 1)           # one-hot after step 0
    np.testing.assert_array_equal(X[:, 0].sum(axis=1), 2)             # the symbol and the store marker
    np.testing.assert_array_equal(X[:, 0, :4].argmax(axis=1), y)
    np.testing.assert_array_equal(X[:, 0, 4], 1)
    np.testing.assert_array_equal(X[:, -1, 5], 1)
    assert X[:, 1:-1, 4:].sum() == 0 and set(np.unique(X[:, 1:-1, :4].argmax(axis=2))) == {0, 1, 2, 3}
    X2, y2 = R.make_symbol_memory(50, delay=7, seed=1)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_samples=0, delay=3), "make_symbol_memory expects n_samples to be an integer >= 1, got 0"),
    (dict(n_samples=5, delay=-1), "make_symbol_memory expects delay to be an integer >= 0, got -1"),
    (dict(n_samples=5, delay=2.5), "make_symbol_memory expects delay to be an integer >= 0, got 2.5"),
    (dict(n_samples=5, delay=2, n_symbols=1), "expects n_symbols to be an integer >= 2, got 1"),
])
def test_symbol_memory_errors(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        R.make_symbol_memory(**kwargs)


def test_memory_model_errors_and_kinds():
    with pytest.raises(ValueError, match="memory_model expects kind among"):
        R.memory_model("Transformer", 6, 8, 4)
    rnn, head = R.memory_model("GRU", 6, 8, 4)
    assert isinstance(rnn, nn.GRU) and rnn.batch_first and head.weight.shape == (4, 8)


def test_reference_training_learns_the_short_delay():
    X, y = R.make_symbol_memory(1000, 5, seed=0)
    X_test, y_test = R.make_symbol_memory(300, 5, seed=9)
    rnn, head = R.memory_model("LSTM", 6, 16, 4)
    optimizer = optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-2)
    history = R.train_memory(rnn, head, optimizer, X, y, 300, 32, np.random.default_rng(0))
    assert len(history) == 300 and np.mean(history[-10:]) < 0.1 < history[0]
    assert R.memory_accuracy(rnn, head, X_test, y_test) > 0.95


def test_memory_table_shape():
    table, models = R.memory_table((2,), kinds=("RNN", "GRU"), hidden_size=8, steps=5, n_train=64, n_test=32)
    assert set(table) == {"RNN", "GRU"} and set(table["RNN"]) == {2}
    assert 0 <= table["GRU"][2] <= 1 and set(models) == {("RNN", 2), ("GRU", 2)}


# -- inside a trained network --------------------------------------------------------------------------------
def test_gate_activations_satisfy_the_lstm_equations():
    dlcourse.manual_seed(0)
    lstm = nn.LSTM(6, 5, batch_first=True).to(np.float64)
    X, _ = R.make_symbol_memory(4, 3)
    acts = R.gate_activations(lstm, X.astype(np.float64))
    i, f, g, o, c, h = (acts[name] for name in
                        ("input", "forget", "cell candidate", "output", "cell state", "hidden state"))
    assert i.shape == (4, 5, 5)
    for gate in (i, f, o):
        assert np.all((gate > 0) & (gate < 1))
    c_prev = np.concatenate([np.zeros((4, 1, 5)), c[:, :-1]], axis=1)
    np.testing.assert_allclose(c, f * c_prev + i * g, **TIGHT)
    np.testing.assert_allclose(h, o * np.tanh(c), **TIGHT)
    np.testing.assert_allclose(h, lstm(X.astype(np.float64))[0], **TIGHT)


def test_hidden_states_and_pca():
    dlcourse.manual_seed(0)
    rnn = nn.RNN(6, 4, batch_first=True)
    X, _ = R.make_symbol_memory(3, 2)
    states = R.hidden_states(rnn, X)
    np.testing.assert_array_equal(states, rnn(X)[0])
    projected, share = R.pca_2d(states)
    assert projected.shape == (3, 4, 2) and 0 < share <= 1
    flat = np.random.default_rng(0).normal(size=(20, 2)) @ np.random.default_rng(1).normal(size=(2, 5))
    _, full = R.pca_2d(flat)
    assert full == pytest.approx(1.0)


# -- the character language model ----------------------------------------------------------------------------
class TorchCharLM(torch.nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embedding_dim)
        self.rnn = torch.nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, codes, state=None):
        output, state = self.rnn(self.embedding(codes), state)
        return self.head(output), state


def test_lm_batches_streams_continue_chunk_to_chunk():
    codes = np.arange(1000)
    inputs, targets = R.lm_batches(codes, seq_len=7, batch_size=4)
    per_stream = 999 // 4
    assert inputs.shape == targets.shape == (per_stream // 7, 4, 7) and inputs.dtype == np.int64
    np.testing.assert_array_equal(targets, inputs + 1)
    np.testing.assert_array_equal(inputs[1][:, 0], inputs[0][:, -1] + 1)      # chunk 1 goes on after chunk 0
    np.testing.assert_array_equal(inputs[0][:, 0], np.arange(4) * per_stream)
    with pytest.raises(ValueError, match="lm_batches expects a text longer than batch_size \\* seq_len = 40"):
        R.lm_batches(np.arange(30), seq_len=10, batch_size=4)


def test_char_lm_trains_like_torch_for_a_few_steps():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 11, size=3000)
    inputs, targets = R.lm_batches(codes, seq_len=9, batch_size=4)
    dlcourse.manual_seed(0)
    ours = R.CharLM(11, 6, 8).to(np.float64)
    theirs = TorchCharLM(11, 6, 8).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    optimizer = optim.Adam(ours.parameters(), lr=1e-2)
    first, state = R.train_lm(ours, optimizer, inputs, targets, steps=2)
    rest, _ = R.train_lm(ours, optimizer, inputs, targets, steps=3, start=2, state=state)
    our_losses = np.concatenate([first, rest])
    opt, state, loss_fn = torch.optim.Adam(theirs.parameters(), lr=1e-2), None, torch.nn.CrossEntropyLoss()
    for k in range(5):
        opt.zero_grad()
        logits, state = theirs(torch.from_numpy(inputs[k]), state)
        loss = loss_fn(logits.reshape(-1, 11), torch.from_numpy(targets[k]).reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        opt.step()
        state = tuple(s.detach() for s in state)
        assert our_losses[k] == pytest.approx(loss.item(), abs=1e-10)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.data, dict(theirs.named_parameters())[name].detach().numpy(), atol=1e-10)


def test_char_lm_backward_matches_torch_gradients_and_evaluate_carries_the_state():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 7, size=(3, 5))
    dlcourse.manual_seed(1)
    ours = R.CharLM(7, 4, 6, cell="GRU").to(np.float64)
    logits, state = ours(codes)
    assert logits.shape == (3, 5, 7) and state.shape == (1, 3, 6)
    G = rng.normal(size=logits.shape)
    ours.backward(G)
    emb = torch.nn.Embedding(7, 4).double()
    gru = torch.nn.GRU(4, 6, batch_first=True).double()
    head = torch.nn.Linear(6, 7).double()
    state_dict = ours.state_dict()
    emb.load_state_dict({"weight": torch.from_numpy(state_dict["embedding.weight"])})
    gru.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in state_dict.items() if k.startswith("rnn.")})
    head.load_state_dict({k[5:]: torch.from_numpy(v) for k, v in state_dict.items() if k.startswith("head.")})
    out = head(gru(emb(torch.from_numpy(codes)))[0])
    (out * torch.from_numpy(G)).sum().backward()
    np.testing.assert_allclose(logits, out.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(ours.embedding.weight.grad, emb.weight.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(ours.rnn.weight_hh_l0.grad, gru.weight_hh_l0.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(ours.head.weight.grad, head.weight.grad.numpy(), **TIGHT)
    inputs, targets = R.lm_batches(rng.integers(0, 7, size=400), 5, 3)
    loss_fn, total, carried = losses.CrossEntropyLoss(), 0.0, None
    for k in range(3):
        chunk_logits, carried = ours(inputs[k], carried)
        total += loss_fn(chunk_logits.reshape(-1, 7), targets[k].reshape(-1))
    assert R.evaluate_lm(ours, inputs, targets, max_chunks=3) == pytest.approx(total / 3)
    with pytest.raises(ValueError, match="CharLM expects cell 'LSTM' or 'GRU', got 'RNN'"):
        R.CharLM(7, cell="RNN")


def test_generate_is_seeded_and_uses_the_temperature():
    dlcourse.manual_seed(0)
    model = R.CharLM(5, 3, 4)
    model.head.bias.data[...] = [4.0, 0.0, 0.0, 0.0, 0.0]          # character 0 most likely
    a = R.generate(model, np.array([1, 2]), 30, 1.0, n_samples=3, seed=4)
    assert a.shape == (3, 30) and a.dtype == np.int64
    np.testing.assert_array_equal(a, R.generate(model, np.array([1, 2]), 30, 1.0, n_samples=3, seed=4))
    cold = R.generate(model, np.array([1, 2]), 30, 0.05, n_samples=3, seed=4)
    assert (cold == 0).mean() > (a == 0).mean() and (cold == 0).mean() > 0.9
    assert R.perplexity(np.log(65)) == pytest.approx(65)


# -- the checks: a right answer passes, each failure has its message -----------------------------------------
def right_rnn_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    return np.tanh(x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh)


def stub(*args):
    raise NotImplementedError()


def test_check_rnn_step_messages(capsys):
    R.check_rnn_step(right_rnn_step)
    R.check_rnn_step(right_rnn_step, dtype=np.float32)
    out = capsys.readouterr().out
    assert "\u2714 rnn_step: agrees with dlcourse's RNN cell (N = 4, D = 3, H = 5, float32)" in out
    with pytest.raises(NotAttempted):
        R.check_rnn_step(stub)
    with pytest.raises(CheckFailed, match="is wrong at index"):
        R.check_rnn_step(lambda x, h, Wi, Wh, bi, bh: np.tanh(x @ Wi.T + h @ Wh.T + bi))
    with pytest.raises(CheckFailed, match="returned dtype float64; expected dtype float32"):
        R.check_rnn_step(lambda *a: right_rnn_step(*a).astype(np.float64), dtype=np.float32)
    with pytest.raises(CheckFailed, match="Honesty check"):
        R.check_rnn_step(lambda *a: R.rnn_step(*a))
    with pytest.raises(CheckFailed, match="Honesty check"):
        R.check_rnn_step(lambda x, h, *W: nn.RNNCell(3, 5).to(np.float64)(x, h))


def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def right_lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh, sig=sigmoid):
    Z_i, Z_f, Z_g, Z_o = np.split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4, axis=1)
    c = sig(Z_f) * c + sig(Z_i) * np.tanh(Z_g)
    return sig(Z_o) * np.tanh(c), c


def test_check_lstm_step_messages(capsys):
    R.check_lstm_step(right_lstm_step, scale=400.0)
    assert "inputs and weights scaled by 400" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="expected a pair \\(h, c\\)"):
        R.check_lstm_step(lambda *a: right_lstm_step(*a)[0])
    with pytest.raises(CheckFailed, match="c_t is wrong"):
        R.check_lstm_step(lambda x, h, c, *W: right_lstm_step(x, h, 0 * c, *W))
    with pytest.raises(CheckFailed, match="numpy warned"):
        R.check_lstm_step(lambda *a: right_lstm_step(*a, sig=lambda z: 1 / (1 + np.exp(-z))), scale=400.0)
    with pytest.raises(CheckFailed, match="Honesty check"):
        R.check_lstm_step(lambda x, h, c, *W: nn.LSTMCell(3, 5).to(np.float64)(x, (h, c)))


def right_gru_step(x, h, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    P_r, P_z, P_n = np.split(x @ W_ih.T + b_ih, 3, axis=1)
    Q_r, Q_z, Q_n = np.split(h @ W_hh.T + b_hh, 3, axis=1)
    r, z = sigmoid(P_r + Q_r), sigmoid(P_z + Q_z)
    if reset_after:
        n = np.tanh(P_n + r * Q_n)
    else:
        n = np.tanh(P_n + (r * h) @ np.split(W_hh, 3)[2].T + np.split(b_hh, 3)[2])
    return (1 - z) * n + z * h


def test_check_gru_step_messages():
    R.check_gru_step(right_gru_step, dtype=np.float32)
    with pytest.raises(CheckFailed, match="`gru_step` with N = 4, D = 3, H = 5, float64 is wrong"):
        R.check_gru_step(lambda *a: right_gru_step(*a, reset_after=False))
    with pytest.raises(CheckFailed, match="Honesty check"):
        R.check_gru_step(lambda x, h, *W: R.gru_step(x, h, *W))


def right_rnn_forward(X, h0, *W):
    h, out = h0, []
    for t in range(X.shape[1]):
        h = right_rnn_step(X[:, t], h, *W)
        out.append(h)
    return np.stack(out, axis=1)


def test_check_rnn_forward_messages():
    R.check_rnn_forward(right_rnn_forward)
    with pytest.raises(CheckFailed, match="expected \\(N, T, H\\) = \\(3, 6, 4\\)"):
        R.check_rnn_forward(lambda *a: right_rnn_forward(*a).swapaxes(0, 1))
    with pytest.raises(CheckFailed, match="the hidden state after step 2 \\(Hs\\[:, 1\\]\\)"):
        R.check_rnn_forward(lambda X, h0, *W: np.stack([right_rnn_step(X[:, t], h0, *W)
                                                         for t in range(X.shape[1])], axis=1))
    with pytest.raises(CheckFailed, match="Honesty check"):
        R.check_rnn_forward(lambda *a: R.rnn_forward(*a))


def right_rnn_backward(dHs, X, h0, Hs, W_ih, W_hh, skip_next=False):
    T = X.shape[1]
    dX, dW_ih, dW_hh = np.zeros_like(X), np.zeros_like(W_ih), np.zeros_like(W_hh)
    db, dh_next = np.zeros(W_hh.shape[0], dtype=X.dtype), np.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = Hs[:, t - 1] if t else h0
        dZ = (dHs[:, t] + (0 if skip_next else dh_next)) * (1 - Hs[:, t] ** 2)
        dX[:, t], dh_next = dZ @ W_ih, dZ @ W_hh
        dW_ih += dZ.T @ X[:, t]
        dW_hh += dZ.T @ h_prev
        db += dZ.sum(axis=0)
    return {"X": dX, "h0": dh_next, "W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db, "b_hh": db}


def test_check_rnn_backward_messages():
    R.check_rnn_backward(right_rnn_backward, dtype=np.float32, only_last=True)
    with pytest.raises(CheckFailed, match="expected a dict with the keys X, h0, W_hh, W_ih, b_ih, b_hh"):
        R.check_rnn_backward(lambda *a: {k: v for k, v in right_rnn_backward(*a).items() if k != "h0"})
    with pytest.raises(CheckFailed, match="the gradient of X is wrong"):
        R.check_rnn_backward(lambda *a: right_rnn_backward(*a, skip_next=True))
    with pytest.raises(CheckFailed, match="a loss on the last step only: the gradient of X is wrong"):
        R.check_rnn_backward(lambda *a: right_rnn_backward(*a, skip_next=True), only_last=True)


def right_lstm_backward(dh, dc, x, h, c, W_ih, W_hh, b_ih, b_hh, forget=True):
    Z_i, Z_f, Z_g, Z_o = np.split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4, axis=1)
    i, f, g, o = sigmoid(Z_i), sigmoid(Z_f), np.tanh(Z_g), sigmoid(Z_o)
    tc = np.tanh(f * c + i * g)
    dct = dc + dh * o * (1 - tc ** 2)
    dZ = np.concatenate([dct * g * i * (1 - i), dct * c * f * (1 - f), dct * i * (1 - g ** 2),
                         dh * tc * o * (1 - o)], axis=1)
    return {"x": dZ @ W_ih, "h_prev": dZ @ W_hh, "c_prev": dct * f if forget else dct, "W_ih": dZ.T @ x,
            "W_hh": dZ.T @ h, "b_ih": dZ.sum(axis=0), "b_hh": dZ.sum(axis=0)}


def test_check_lstm_step_backward_messages(capsys):
    R.check_lstm_step_backward(right_lstm_backward, dtype=np.float32)
    assert "all seven gradients agree" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="the gradient of c_prev is wrong"):
        R.check_lstm_step_backward(lambda *a: right_lstm_backward(*a, forget=False))
    with pytest.raises(CheckFailed, match="expected a dict with the keys c_prev, h_prev, x"):
        R.check_lstm_step_backward(lambda *a: list(right_lstm_backward(*a).values()))


def right_clip(parameters, max_norm):
    total = float(np.sqrt(sum(np.sum(p.grad.astype(np.float64) ** 2) for p in parameters)))
    if total > max_norm:
        for p in parameters:
            p.grad *= max_norm / (total + 1e-6)
    return total


def test_check_clip_grad_norm_messages(capsys):
    R.check_clip_grad_norm(right_clip, [(3, 4), (4,)], 1.0)
    R.check_clip_grad_norm(right_clip, [(3, 4), (4,)], 100.0)
    R.check_clip_grad_norm(right_clip, [(2, 2)], 1.0, scale=0.0)
    out = capsys.readouterr().out
    assert "gradients clipped, in place" in out and "left alone (below max_norm)" in out

    def replaces(parameters, max_norm):
        total = float(np.sqrt(sum(np.sum(p.grad ** 2) for p in parameters)))
        for p in parameters:
            p.grad = p.grad * min(1.0, max_norm / (total + 1e-6))
        return total

    def per_parameter(parameters, max_norm):
        for p in parameters:
            right_clip([p], max_norm)
        return right_clip(parameters, np.inf)

    with pytest.raises(CheckFailed, match="replaced parameter 0's gradient array"):
        R.check_clip_grad_norm(replaces, [(3, 4)], 1.0)
    with pytest.raises(CheckFailed, match="expected the total norm before clipping, a number"):
        R.check_clip_grad_norm(lambda params, m: None, [(3,)], 1.0)
    with pytest.raises(CheckFailed, match="the total norm it returned is wrong"):
        R.check_clip_grad_norm(per_parameter, [(3, 4), (4,)], 1.0)
    with pytest.raises(CheckFailed, match="parameter 0's gradient afterwards is wrong"):
        R.check_clip_grad_norm(lambda params, m: right_clip(params, np.inf), [(3, 4)], 1.0)
    with pytest.raises(CheckFailed, match="Honesty check"):
        R.check_clip_grad_norm(lambda params, m: nn.utils.clip_grad_norm_(params, m), [(3,)], 1.0)


def right_sample(logits, temperature, rng):
    Z = logits / temperature
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return (np.cumsum(P, axis=1) < rng.random((len(P), 1))).sum(axis=1)


LOGITS = np.array([2.0, 1.0, 0.0, -1.0])


def test_check_sample_next_messages(capsys):
    R.check_sample_next(right_sample, LOGITS, 0.5)
    def by_rows(z, t, rng):
        return np.array([rng.choice(len(row), p=np.exp(row / t) / np.exp(row / t).sum()) for row in z])

    R.check_sample_next(by_rows, LOGITS, 2.0, draws=3000)
    assert "frequencies match softmax(logits / 0.5)" in capsys.readouterr().out
    cases = [
        (lambda z, t, rng: right_sample(z, t, rng)[:10], "expected an array of shape \\(N,\\)"),
        (lambda z, t, rng: right_sample(z, t, rng).astype(float), "expected integer indices"),
        (lambda z, t, rng: right_sample(z, t, rng) + 1, "expected indices in \\[0, 4\\)"),
        (lambda z, t, rng: right_sample(z, t, np.random.default_rng()), "two different results"),
        (lambda z, t, rng: right_sample(z, t, np.random.default_rng(0)), "the same draws for two generators"),
        (lambda z, t, rng: right_sample(z * t, 1.0, rng), "Divide the logits by the temperature"),
        (lambda z, t, rng: right_sample(z, 1.0, rng), "softmax\\(logits / temperature\\) gives it"),
        (lambda z, t, rng: (np.cumsum(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), axis=1)
                            < rng.random((len(z), 1))).sum(axis=1), None),
    ]
    for fn, message in cases[:-1]:
        with pytest.raises(CheckFailed, match=message):
            R.check_sample_next(fn, LOGITS, 0.5)
    with pytest.raises(CheckFailed, match="numpy warned"):
        R.check_sample_next(cases[-1][0], np.array([1000.0, 0.0]), 1.0)
    with pytest.raises(CheckFailed, match="Honesty check"):
        R.check_sample_next(R.sample_next, LOGITS, 0.5)


def student_train(rnn, head, optimizer, X, y, steps, batch_size, rng, step=True, length=None):
    loss_fn, history = losses.CrossEntropyLoss(), []
    params = list(rnn.parameters()) + list(head.parameters())
    for _ in range(steps if length is None else length):
        index = rng.integers(0, len(X), size=batch_size)
        optimizer.zero_grad()
        output, _ = rnn(X[index])
        history.append(loss_fn(head(output[:, -1]), y[index]))
        grad_output = np.zeros_like(output)
        grad_output[:, -1] = head.backward(loss_fn.backward())
        rnn.backward(grad_output)
        nn.utils.clip_grad_norm_(params, 1.0)
        if step:
            optimizer.step()
    return history


def test_check_train_memory_messages(capsys):
    history = R.check_train_memory(student_train)
    assert len(history) == 300 and "train_memory: loss" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="expected a list of 20 losses"):
        R.check_train_memory(lambda *a: student_train(*a, length=3), steps=20)
    with pytest.raises(CheckFailed, match="is optimizer.step\\(\\) called after rnn.backward"):
        R.check_train_memory(lambda *a: student_train(*a, step=False), steps=20)
    with pytest.raises(CheckFailed, match="of new sequences right; at least 101% required"):
        R.check_train_memory(student_train, required_accuracy=1.01)
    with pytest.raises(CheckFailed, match="Honesty check"):
        R.check_train_memory(R.train_memory, steps=5)
