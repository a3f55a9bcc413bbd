r"""Chapter 06: recurrent networks. The chapter's experiments and the checks its test cells call.

The recurrences, batch-first rows as in the whole course (x_t: (N, D), h_t: (N, H)):

    RNN:   h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
    LSTM:  [a_i a_f a_g a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
           i, f, o = sigma(a_i), sigma(a_f), sigma(a_o);  g = tanh(a_g)
           c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)
    GRU:   r = sigma(x W_ir^T + b_ir + h W_hr^T + b_hr);  z = sigma(x W_iz^T + b_iz + h W_hz^T + b_hz)
           n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn));   h_t = (1 - z) * n + z * h_{t-1}

Backpropagation through time for the RNN (a_t the pre-activation, dH_t = dL/d(output t)):

    dh_t     = dH_t + da_{t+1} W_hh           (N, H)   the output's gradient and the next step's
    da_t     = dh_t * (1 - h_t^2)             (N, H)
    dW_ih    = sum_t da_t^T x_t               (H, D)
    dW_hh    = sum_t da_t^T h_{t-1}           (H, H)
    db_ih    = db_hh = sum_t sum_n da_t[n]     (H,)
    dx_t     = da_t W_ih                      (N, D)

What is here:

    the references of the exercises      rnn_step, rnn_forward, rnn_gradients, lstm_step,
                                          lstm_step_gradients, gru_step, sample_next, train_memory
    their checks                          check_rnn_step, check_rnn_forward, check_rnn_backward,
                                          check_clip_grad_norm, check_lstm_step, check_lstm_step_backward,
                                          check_gru_step, check_sample_next, check_train_memory
    gradients through time                gradient_norms(kind, ...): |dL/dh_t| for t = T .. 0
    the memory task                       make_symbol_memory, memory_model, memory_accuracy, memory_table
    inside a trained network              gate_activations, hidden_states, pca_2d
    the character language model          CharLM, lm_batches, train_lm, evaluate_lm, generate

Their drawing lives in ``dlcourse.widgets.rnns``.
"""
import functools
import math

import numpy as np
from threadpoolctl import threadpool_limits

from . import checks, losses, nn, optim
from . import functional as F
from .honesty import reference
from .nn.module import Module

__all__ = [
    "rnn_step", "rnn_forward", "rnn_gradients", "lstm_step", "lstm_step_gradients", "gru_step",
    "sample_next", "train_memory", "check_rnn_step", "check_rnn_forward", "check_rnn_backward",
    "check_clip_grad_norm", "check_lstm_step", "check_lstm_step_backward", "check_gru_step",
    "check_sample_next", "check_train_memory", "spectral_radius", "gradient_norms",
    "make_symbol_memory", "memory_model", "memory_accuracy", "memory_table", "gate_activations",
    "hidden_states", "pca_2d", "CharLM", "lm_batches", "train_lm", "evaluate_lm", "generate",
]

SEQUENCE_LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNN": nn.RNNCell, "LSTM": nn.LSTMCell, "GRU": nn.GRUCell}


# -- 1. the references of the exercises: dlcourse's layers with the given weights ------------------
def _cell(kind, W_ih, W_hh, b_ih, b_hh):
    """A dlcourse cell (RNNCell, LSTMCell, GRUCell) holding these weights, in their dtype."""
    cell = CELLS[kind](W_ih.shape[1], W_hh.shape[1]).to(np.result_type(W_ih, W_hh))
    cell.load_state_dict({"weight_ih": W_ih, "weight_hh": W_hh, "bias_ih": b_ih, "bias_hh": b_hh})
    return cell


def _layer(kind, W_ih, W_hh, b_ih, b_hh):
    """A one-layer batch-first dlcourse sequence layer holding these weights."""
    layer = SEQUENCE_LAYERS[kind](W_ih.shape[1], W_hh.shape[1], batch_first=True)
    layer.to(np.result_type(W_ih, W_hh))
    layer.load_state_dict({"weight_ih_l0": W_ih, "weight_hh_l0": W_hh,
                           "bias_ih_l0": b_ih, "bias_hh_l0": b_hh})
    return layer


@reference
def rnn_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    """One RNN step, h_t = tanh(x W_ih^T + b_ih + h_prev W_hh^T + b_hh), by ``nn.RNNCell``.

    Shapes: x (N, D), h_prev (N, H), W_ih (H, D), W_hh (H, H), b_ih, b_hh (H,) -> h (N, H).
    """
    return _cell("RNN", W_ih, W_hh, b_ih, b_hh)(x, h_prev)


@reference
def rnn_forward(X, h0, W_ih, W_hh, b_ih, b_hh):
    """Every hidden state of a tanh RNN over a batch-first sequence, by ``nn.RNN(batch_first=True)``.

    Shapes: X (N, T, D), h0 (N, H) -> Hs (N, T, H), Hs[:, t] = h_{t+1}.
    """
    output, _ = _layer("RNN", W_ih, W_hh, b_ih, b_hh)(X, h0[None])
    return output


def rnn_gradients(dHs, X, h0, W_ih, W_hh, b_ih, b_hh):
    """BPTT by ``nn.RNN``: the gradients of L = sum(Hs * dHs) for the RNN of :func:`rnn_forward`.

    Returns:
        {"X": (N, T, D), "h0": (N, H), "W_ih": (H, D), "W_hh": (H, H), "b_ih": (H,), "b_hh": (H,)}.
    """
    layer = _layer("RNN", W_ih, W_hh, b_ih, b_hh)
    layer(X, h0[None])
    dX, dh0 = layer.backward(dHs)
    grads = {name[:-3].replace("weight", "W").replace("bias", "b"): p.grad
             for name, p in layer.named_parameters()}
    return {"X": dX, "h0": dh0[0], **grads}


@reference
def lstm_step(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step by ``nn.LSTMCell``: (h_t, c_t). Gates i, f, g, o; W_ih (4H, D), W_hh (4H, H), b (4H,)."""
    return _cell("LSTM", W_ih, W_hh, b_ih, b_hh)(x, (h_prev, c_prev))


def lstm_step_gradients(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    """The backward of one LSTM step by ``nn.LSTMCell``, for L = sum(h_t * dh) + sum(c_t * dc).

    Returns:
        {"x": (N, D), "h_prev": (N, H), "c_prev": (N, H), "W_ih": (4H, D), "W_hh": (4H, H),
         "b_ih": (4H,), "b_hh": (4H,)}.
    """
    cell = _cell("LSTM", W_ih, W_hh, b_ih, b_hh)
    cell(x, (h_prev, c_prev))
    dx, (dh_prev, dc_prev) = cell.backward(dh, dc)
    grads = {name.replace("weight", "W").replace("bias", "b"): p.grad for name, p in cell.named_parameters()}
    return {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, **grads}


@reference
def gru_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    """One GRU step by ``nn.GRUCell`` (gates r, z, n; PyTorch's n = tanh(.. + r * (h W_hn^T + b_hn)))."""
    return _cell("GRU", W_ih, W_hh, b_ih, b_hh)(x, h_prev)


@reference
def sample_next(logits, temperature, rng):
    """One draw per row from softmax(logits / temperature), by the inverse of the cumulative distribution.

    Shapes: logits (N, V) -> (N,) int64 indices in [0, V).
    """
    P = F.softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)   # p = softmax(z / tau)
    u = rng.random((len(P), 1))                                                 # u ~ U(0, 1), one per row
    index = (np.cumsum(P, axis=1) < u).sum(axis=1)                              # first k with cdf_k >= u
    return np.minimum(index, P.shape[1] - 1).astype(np.int64)


# -- 2. the checks of the graded test cells -------------------------------------------------------------
def _weights(rng, G, D, H, dtype, scale=1.0):
    """Random (W_ih (G*H, D), W_hh (G*H, H), b_ih, b_hh (G*H,)) in ``dtype``."""
    return tuple((scale * rng.normal(size=shape) / np.sqrt(H)).astype(dtype)
                 for shape in [(G * H, D), (G * H, H), (G * H,), (G * H,)])


def _expected(fn, args, dtype):
    """``fn`` on float64 copies of ``args``, the results cast back to ``dtype``: the exact answer, rounded."""
    wide = tuple(a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                 for a in args)
    result = fn(*wide)
    if isinstance(result, dict):
        return {k: v.astype(dtype) for k, v in result.items()}
    if isinstance(result, tuple):
        return tuple(v.astype(dtype) for v in result)
    return result.astype(dtype)


def _case_text(shapes, dtype):
    return ", ".join(f"{k} = {v}" for k, v in shapes.items()) + f", {np.dtype(dtype).name}"


def _compare_dict(got, expected, call, order):
    __tracebackhide__ = True
    if not isinstance(got, dict) or set(got) != set(expected):
        raise checks.CheckFailed(f"{call} returned {checks._abridge(got)}; expected a dict with the keys "
                                 f"{', '.join(order)}.")
    for key in order:
        checks.assert_close(got[key], expected[key], call=f"{call}: the gradient of {key}")


def _check_step(kind, student, name, forbidden, N, D, H, dtype, seed, scale, with_c=False, quiet=False):
    """A one-step exercise (RNN, LSTM, GRU) against the dlcourse cell, on one random case."""
    __tracebackhide__ = True
    G = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind]
    rng = np.random.default_rng(seed)
    x = (scale * rng.normal(size=(N, D))).astype(dtype)
    h = rng.uniform(-1, 1, size=(N, H)).astype(dtype)
    weights = _weights(rng, G, D, H, dtype, scale)
    args = (x, h) + ((rng.normal(size=(N, H)).astype(dtype),) if with_c else ()) + weights
    reference_fn = {"RNN": rnn_step, "LSTM": lstm_step, "GRU": gru_step}[kind]
    expected = _expected(reference_fn, args, dtype)
    case = _case_text(dict(N=N, D=D, H=H), dtype)
    if scale != 1.0:
        case += f", inputs and weights scaled by {scale:g}"
    call = f"`{name}` with {case}"
    got, numpy_warnings = checks.run_student(student, args, name, call, forbidden=forbidden)
    if with_c:
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise checks.CheckFailed(f"{call} returned {checks._abridge(got)}; expected a pair (h, c).")
        checks.assert_close(got[1], expected[1], call=f"{call}: c_t")
        checks.assert_close(got[0], expected[0], call=f"{call}: h_t")
    else:
        checks.assert_close(got, expected, call=call)
    if numpy_warnings:
        raise checks.CheckFailed(f"{call} returned the right values, but numpy warned '{numpy_warnings[0]}': "
                                 "compute the sigmoid so that no step overflows (for example as "
                                 "(1 + tanh(a / 2)) / 2).")
    if not quiet:
        print(f"\u2714 {name}: agrees with dlcourse's {kind} cell ({case}).")


def check_rnn_step(rnn_step_fn, N=4, D=3, H=5, dtype=np.float64, seed=0, scale=1.0, quiet=False):
    """The student's ``rnn_step(x, h_prev, W_ih, W_hh, b_ih, b_hh)`` against ``nn.RNNCell`` (forbidden)."""
    __tracebackhide__ = True
    _check_step("RNN", rnn_step_fn, "rnn_step", [rnn_step, nn.RNNCell, nn.RNN], N, D, H, dtype, seed, scale,
                quiet=quiet)


def check_lstm_step(lstm_step_fn, N=4, D=3, H=5, dtype=np.float64, seed=0, scale=1.0, quiet=False):
    """The student's ``lstm_step(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh)`` against ``nn.LSTMCell``."""
    __tracebackhide__ = True
    _check_step("LSTM", lstm_step_fn, "lstm_step", [lstm_step, nn.LSTMCell, nn.LSTM], N, D, H, dtype, seed,
                scale, with_c=True, quiet=quiet)


def check_gru_step(gru_step_fn, N=4, D=3, H=5, dtype=np.float64, seed=0, scale=1.0, quiet=False):
    """The student's ``gru_step(x, h_prev, W_ih, W_hh, b_ih, b_hh)`` against ``nn.GRUCell``."""
    __tracebackhide__ = True
    _check_step("GRU", gru_step_fn, "gru_step", [gru_step, nn.GRUCell, nn.GRU], N, D, H, dtype, seed, scale,
                quiet=quiet)


def _sequence_case(T, N, D, H, dtype, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, T, D)).astype(dtype)
    h0 = rng.uniform(-1, 1, size=(N, H)).astype(dtype)
    return (X, h0) + _weights(rng, 1, D, H, dtype, scale=1.5)


def check_rnn_forward(rnn_forward_fn, T=6, N=3, D=2, H=4, dtype=np.float64, seed=0, quiet=False):
    """The student's ``rnn_forward(X, h0, W_ih, W_hh, b_ih, b_hh)`` -> (N, T, H) against ``nn.RNN``.

    The first wrong time step is named, so that a state that is not carried
    (right at t = 0, wrong after) reads as such.
    """
    __tracebackhide__ = True
    args = _sequence_case(T, N, D, H, dtype, seed)
    expected = _expected(rnn_forward, args, dtype)
    case = _case_text(dict(T=T, N=N, D=D, H=H), dtype)
    call = f"`rnn_forward` with {case}"
    got, _ = checks.run_student(rnn_forward_fn, args, "rnn_forward", call,
                                forbidden=[rnn_forward, rnn_step, nn.RNN, nn.RNNCell])
    got = checks._as_result_array(got, expected, call)
    if got.shape != expected.shape:
        raise checks.CheckFailed(f"{call} returned an array of shape {got.shape}; expected (N, T, H) = "
                                 f"{expected.shape}: one hidden state h_1 .. h_T per time step.")
    for t in range(T):
        checks.assert_close(got[:, t], expected[:, t], call=f"{call}: the hidden state after step {t + 1} "
                            f"(Hs[:, {t}])")
    if not quiet:
        print(f"\u2714 rnn_forward: all {T} hidden states agree with nn.RNN ({case}).")


def check_rnn_backward(rnn_backward_fn, T=5, N=3, D=2, H=4, dtype=np.float64, seed=0, only_last=False,
                       quiet=False):
    """The student's ``rnn_backward(dHs, X, h0, Hs, W_ih, W_hh)`` against ``nn.RNN.backward`` (forbidden).

    ``dHs`` is a random dL/dHs, or with ``only_last`` zero except at the
    last step (a many-to-one loss). The six gradients are compared in the
    order BPTT needs them, dX first (it is wrong first when the recursion is).
    """
    __tracebackhide__ = True
    X, h0, W_ih, W_hh, b_ih, b_hh = _sequence_case(T, N, D, H, dtype, seed)
    Hs = _expected(rnn_forward, (X, h0, W_ih, W_hh, b_ih, b_hh), dtype)
    dHs = np.random.default_rng(seed + 1).normal(size=Hs.shape).astype(dtype)
    if only_last:
        dHs[:, :-1] = 0
    expected = _expected(rnn_gradients, (dHs, X, h0, W_ih, W_hh, b_ih, b_hh), dtype)
    case = _case_text(dict(T=T, N=N, D=D, H=H), dtype)
    if only_last:
        case += ", a loss on the last step only"
    call = f"`rnn_backward` with {case}"
    got, _ = checks.run_student(rnn_backward_fn, (dHs, X, h0, Hs, W_ih, W_hh), "rnn_backward", call,
                                forbidden=[nn.RNN, nn.RNNCell, rnn_forward])
    _compare_dict(got, expected, call, ("X", "h0", "W_hh", "W_ih", "b_ih", "b_hh"))
    if not quiet:
        print(f"\u2714 rnn_backward: dX, dh0, dW_hh, dW_ih, db_ih, db_hh agree with nn.RNN's BPTT "
              f"({case}).")


def check_lstm_step_backward(fn, N=4, D=3, H=5, dtype=np.float64, seed=0, scale=1.0, quiet=False):
    """The student's ``lstm_step_backward(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh)``.

    Against ``nn.LSTMCell.backward`` (forbidden, with nn.LSTM): a dict of
    the seven gradients, compared from dc_prev (the cell-state path) on.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    x = (scale * rng.normal(size=(N, D))).astype(dtype)
    h, c = rng.uniform(-1, 1, size=(N, H)).astype(dtype), rng.normal(size=(N, H)).astype(dtype)
    weights = _weights(rng, 4, D, H, dtype, scale)
    dh, dc = rng.normal(size=(N, H)).astype(dtype), rng.normal(size=(N, H)).astype(dtype)
    args = (dh, dc, x, h, c) + weights
    expected = _expected(lstm_step_gradients, args, dtype)
    case = _case_text(dict(N=N, D=D, H=H), dtype)
    call = f"`lstm_step_backward` with {case}"
    got, _ = checks.run_student(fn, args, "lstm_step_backward", call, forbidden=[nn.LSTMCell, nn.LSTM])
    _compare_dict(got, expected, call, ("c_prev", "h_prev", "x", "W_hh", "W_ih", "b_ih", "b_hh"))
    if not quiet:
        print(f"\u2714 lstm_step_backward: all seven gradients agree with nn.LSTMCell.backward "
              f"({case}).")


def check_clip_grad_norm(clip_fn, shapes, max_norm, scale=1.0, dtype=np.float64, seed=0, quiet=False):
    """The student's ``clip_grad_norm(parameters, max_norm)`` against ``nn.utils.clip_grad_norm_``.

    The returned total norm (before clipping) and every gradient afterwards,
    which must be changed in place (the same array, as PyTorch's trailing _ says).
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in shapes:
        grad = (scale * rng.normal(size=shape)).astype(dtype)
        for group in (ours, theirs):
            group.append(nn.Parameter(np.zeros(shape), dtype=dtype))
            group[-1].grad[...] = grad
    expected_norm = nn.utils.clip_grad_norm_(theirs, max_norm)
    arrays = [p.grad for p in ours]
    call = (f"`clip_grad_norm` with max_norm = {max_norm} on gradients of shapes {shapes} "
            f"({np.dtype(dtype).name})")
    got, _ = checks.run_student(clip_fn, (ours, max_norm), "clip_grad_norm", call,
                                forbidden=[nn.utils.clip_grad_norm_])
    if not isinstance(got, (float, int, np.floating, np.integer)) and not (
            isinstance(got, np.ndarray) and got.shape == ()):
        raise checks.CheckFailed(f"{call} returned {checks._abridge(got)}; expected the total norm before "
                                 "clipping, a number.")
    checks.assert_close(np.float64(got), np.float64(expected_norm), rtol=1e-6, atol=1e-9,
                        call=f"{call}: the total norm it returned")
    for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
        if p.grad is not arrays[i]:
            raise checks.CheckFailed(f"{call} replaced parameter {i}'s gradient array instead of scaling it "
                                     "in place: write p.grad *= coefficient.")
        checks.assert_close(p.grad, q.grad, rtol=1e-5 if dtype == np.float32 else 1e-7,
                            call=f"{call}: parameter {i}'s gradient afterwards")
    if not quiet:
        verdict = "clipped" if expected_norm > max_norm else "left alone (below max_norm)"
        print(f"\u2714 clip_grad_norm: total norm {float(got):.4g}, gradients {verdict}, in place.")


def check_sample_next(sample_fn, logits, temperature, draws=20000, seed=0, quiet=False):
    """The student's ``sample_next(logits, temperature, rng)`` on ``draws`` copies of one row of logits.

    Checked: an int array of shape (N,) in [0, V); that the generator passed
    in decides the draws (the same seed twice, the same draws; another seed,
    others); and that each index comes up with the frequency
    softmax(logits / temperature) gives it, within 5 standard errors (plus
    one draw), so a wrong temperature (multiplied, or left out) fails.
    """
    __tracebackhide__ = True
    logits = np.asarray(logits)
    V = logits.size
    rows = np.tile(logits, (draws, 1))
    call = f"`sample_next` for {draws} rows of logits {checks._abridge(logits)}, temperature {temperature}"

    def draw(rng_seed):
        got, numpy_warnings = checks.run_student(sample_fn, (rows.copy(), temperature,
                                                 np.random.default_rng(rng_seed)), "sample_next", call,
                                                 forbidden=[sample_next])
        if numpy_warnings:
            raise checks.CheckFailed(f"{call}: numpy warned '{numpy_warnings[0]}'; subtract the row maximum "
                                     "before np.exp.")
        return got

    got = draw(seed)
    if not isinstance(got, np.ndarray) or got.shape != (draws,):
        raise checks.CheckFailed(f"{call} returned {checks._abridge(got)}; expected an array of shape "
                                 f"(N,) = ({draws},), one index per row.")
    if got.dtype.kind not in "iu":
        raise checks.CheckFailed(f"{call} returned dtype {got.dtype}; expected integer indices (int64).")
    if got.min() < 0 or got.max() >= V:
        raise checks.CheckFailed(f"{call} returned indices from {got.min()} to {got.max()}; expected "
                                 f"indices in [0, {V}).")
    if not np.array_equal(got, draw(seed)):
        raise checks.CheckFailed(f"{call} gave two different results for two generators with the same seed: "
                                 "draw from the rng you get, not from np.random.")
    P = F.softmax(logits.astype(np.float64) / temperature)
    if P.max() < 1 - 1e-9 and np.array_equal(got, draw(seed + 1)):
        raise checks.CheckFailed(f"{call} gave the same draws for two generators: draw from the rng you get.")
    freq = np.bincount(got, minlength=V) / draws
    allowed = 5 * np.sqrt(P * (1 - P) / draws) + 1.0 / draws
    bad = np.flatnonzero(np.abs(freq - P) > allowed)
    if bad.size:
        k = int(bad[0])
        raise checks.CheckFailed(
            f"{call}: index {k} came up in {freq[k]:.2%} of the rows; softmax(logits / temperature) gives it "
            f"{P[k]:.2%}. (Divide the logits by the temperature before the softmax.)")
    if not quiet:
        print(f"\u2714 sample_next: frequencies match softmax(logits / {temperature}) over {draws} draws, "
              "drawn from the rng passed in.")


# -- 3. gradients through time ---------------------------------------------------------------------------
def spectral_radius(W):
    """The largest |eigenvalue| of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(W))))


@functools.lru_cache(maxsize=256)
def gradient_norms(kind="RNN", radius=1.0, nonlinearity="tanh", forget_bias=0.0, T=60, H=32, N=64,
                   input_scale=1.0, seed=0):
    """|dL/dh_t| for t = T .. 0, relative to |dL/dh_T|, for L = sum(h_T * u) with random unit rows u.

    kind "RNN": W_hh is a Gaussian matrix rescaled to the spectral radius
    ``radius``, the nonlinearity "tanh" or "linear" (the identity: then only
    W_hh decides). kind "LSTM": PyTorch's initialisation U(-1/sqrt(H),
    1/sqrt(H)) with ``forget_bias`` added to the forget gate's b_ih. Inputs
    x_t ~ N(0, input_scale^2), D = H, float64. BPTT, one step at a time:

        RNN:  dh_{t-1} = (dh_t * phi'(a_t)) W_hh
        LSTM: through h_{t-1} (the gates) and c_{t-1} (dc_{t-1} = dc_t * f_t), see nn.rnn.

    Returns:
        (T + 1,) float64: entry k is the mean over the N rows of |dL/dh_{T-k}|, divided by that at k = 0.
    """
    if kind not in ("RNN", "LSTM"):
        raise ValueError(f"gradient_norms expects kind 'RNN' or 'LSTM', got {kind!r}")
    if nonlinearity not in ("tanh", "linear"):
        raise ValueError(f"gradient_norms expects nonlinearity 'tanh' or 'linear', got {nonlinearity!r}")
    rng = np.random.default_rng(seed)
    X = input_scale * rng.standard_normal((T, N, H))
    u = rng.standard_normal((N, H))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    norms = np.empty(T + 1)
    with threadpool_limits(1):
        if kind == "RNN":
            W = rng.standard_normal((H, H))
            W_hh = W * (radius / spectral_radius(W))
            W_ih = rng.standard_normal((H, H)) / np.sqrt(H)
            Hs, A = np.zeros((T + 1, N, H)), np.zeros((T, N, H))
            for t in range(T):
                A[t] = X[t] @ W_ih.T + Hs[t] @ W_hh.T            # a_t = x_t W_ih^T + h_{t-1} W_hh^T
                Hs[t + 1] = np.tanh(A[t]) if nonlinearity == "tanh" else A[t]
            dh = u
            for k, t in enumerate(range(T, 0, -1)):
                norms[k] = np.linalg.norm(dh, axis=1).mean()
                da = dh * (1 - Hs[t] ** 2) if nonlinearity == "tanh" else dh   # da_t = dh_t * phi'(a_t)
                dh = da @ W_hh                                               # dh_{t-1} = da_t W_hh
            norms[T] = np.linalg.norm(dh, axis=1).mean()
        else:
            lstm = _default_lstm(H, forget_bias, seed)
            lstm(X)
            _, gates, H_all, C_all, tanh_C = (a.copy() for a in lstm.caches[0])
            W_hh = lstm.weight_hh_l0.data
            dh, dc = u.copy(), np.zeros((N, H))
            dA = np.empty((N, 4 * H))
            for k, t in enumerate(range(T, 0, -1)):
                norms[k] = np.linalg.norm(dh, axis=1).mean()
                dh = nn.rnn.lstm_step_backward(dh, dc, gates[t - 1], C_all[t - 1], tanh_C[t - 1], W_hh, dA)
            norms[T] = np.linalg.norm(dh, axis=1).mean()
    return norms / norms[0]


def _default_lstm(H, forget_bias, seed):
    from . import manual_seed

    manual_seed(seed)
    lstm = nn.LSTM(H, H).to(np.float64)
    lstm.bias_ih_l0.data[H:2 * H] += forget_bias                 # the forget gate's block (i, f, g, o)
    return lstm


# -- 4. the memory task --------------------------------------------------------------------------------------
def make_symbol_memory(n_samples, delay, n_symbols=4, seed=0):
    """Remember a symbol across a delay: the symbol of step 0 must be named at the last step.

    The sequence has T = delay + 2 steps of inputs of size D = n_symbols + 2
    (one-hot symbols, then two marker columns): step 0 shows the symbol to
    remember together with a "store" marker (column n_symbols); steps
    1 .. delay show random symbols of the same alphabet (distractors, which
    must not overwrite the memory); the last step shows only the "query"
    marker (column n_symbols + 1). The target is the symbol of step 0, to be
    read from the hidden state at the last step (many-to-one). Chance is
    1 / n_symbols.

    Returns:
        X: float32 (n_samples, T, D) (batch-first), y: int64 (n_samples,) in [0, n_symbols).
    """
    for name, value, low in (("n_samples", n_samples, 1), ("delay", delay, 0), ("n_symbols", n_symbols, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"make_symbol_memory expects {name} to be an integer >= {low}, got {value!r}")
    rng = np.random.default_rng(seed)
    T, D = delay + 2, n_symbols + 2
    y = rng.integers(0, n_symbols, size=n_samples)
    X = np.zeros((n_samples, T, D), dtype=np.float32)
    rows = np.arange(n_samples)
    X[rows, 0, y] = 1                                            # the symbol to remember ...
    X[:, 0, n_symbols] = 1                                       # ... with the "store" marker
    distractors = rng.integers(0, n_symbols, size=(n_samples, delay))
    X[rows[:, None], 1 + np.arange(delay)[None, :], distractors] = 1
    X[:, -1, n_symbols + 1] = 1                                  # the query
    return X, y.astype(np.int64)


def memory_model(kind, input_size, hidden_size, n_classes, seed=0):
    """A batch-first sequence layer (``nn.RNN``, ``nn.LSTM`` or ``nn.GRU``) and a Linear head, seeded."""
    from . import manual_seed

    if kind not in SEQUENCE_LAYERS:
        raise ValueError(f"memory_model expects kind among {list(SEQUENCE_LAYERS)}, got {kind!r}")
    manual_seed(seed)
    return SEQUENCE_LAYERS[kind](input_size, hidden_size, batch_first=True), nn.Linear(hidden_size, n_classes)


def _last_output(rnn, X):
    output, _ = rnn(X)
    return output[:, -1]


@reference
def train_memory(rnn, head, optimizer, X, y, steps, batch_size, rng, max_norm=1.0):
    """Train ``head(rnn(X)[:, -1])`` with cross-entropy on random minibatches; the loss of each step.

    One step: a batch of ``batch_size`` rows drawn with ``rng.integers``,
    forward through the batch-first ``rnn`` and the head on the last
    output, backward (dL/doutput is zero except at the last step), the
    gradients clipped to a total norm of ``max_norm``, ``optimizer.step()``.

    Returns:
        a list of ``steps`` floats, the loss of each step's batch before its update.
    """
    loss_fn = losses.CrossEntropyLoss()
    params = list(rnn.parameters()) + list(head.parameters())
    history = []
    for _ in range(steps):
        index = rng.integers(0, len(X), size=batch_size)
        Xb, yb = X[index], y[index]
        optimizer.zero_grad()
        output, _ = rnn(Xb)                                      # (B, T, H)
        loss = loss_fn(head(output[:, -1]), yb)
        grad_output = np.zeros_like(output)
        grad_output[:, -1] = head.backward(loss_fn.backward())   # only the last step reaches the loss
        rnn.backward(grad_output)
        nn.utils.clip_grad_norm_(params, max_norm)
        optimizer.step()
        history.append(float(loss))
    return history


def memory_accuracy(rnn, head, X, y):
    """The fraction of sequences whose symbol the model names at the last step."""
    return float(np.mean(head(_last_output(rnn, X)).argmax(axis=1) == y))


def memory_table(delays, kinds=("RNN", "LSTM", "GRU"), hidden_size=32, steps=300, batch_size=64, lr=1e-2,
                 n_train=2000, n_test=500, seed=0):
    """Accuracy against delay for each kind of layer of the same hidden size, trained alike.

    Each (kind, delay) trains from seed ``seed`` with Adam (lr), gradients
    clipped to norm 1, for ``steps`` steps on ``n_train`` sequences, and is
    scored on ``n_test`` new ones (chance: 1 / n_symbols = 25%).

    Returns:
        (table, models): table[kind][delay] = test accuracy (float); models[(kind, delay)] = (rnn, head).
    """
    table, models = {kind: {} for kind in kinds}, {}
    for delay in delays:
        X, y = make_symbol_memory(n_train, delay, seed=seed)
        X_test, y_test = make_symbol_memory(n_test, delay, seed=seed + 1000)
        for kind in kinds:
            rnn, head = memory_model(kind, X.shape[2], hidden_size, 4, seed=seed)
            optimizer = optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=lr)
            with threadpool_limits(1):
                train_memory(rnn, head, optimizer, X, y, steps, batch_size, np.random.default_rng(seed))
            table[kind][delay] = memory_accuracy(rnn, head, X_test, y_test)
            models[(kind, delay)] = (rnn, head)
    return table, models


def check_train_memory(train_fn, delay=5, hidden_size=16, steps=300, required_loss=0.1,
                       required_accuracy=0.95, seed=0, quiet=False):
    """The student's ``train_memory(rnn, head, optimizer, X, y, steps, batch_size, rng)`` on the memory task.

    It trains an LSTM of ``hidden_size`` units (seed ``seed``, Adam lr 0.01,
    batches of 32) on 1000 sequences with the given delay, with
    ``rnns.train_memory`` forbidden. The mean loss of the last 10 steps must
    be under ``required_loss`` and the accuracy on 500 new sequences at
    least ``required_accuracy``. Returns the student's list of losses.
    """
    __tracebackhide__ = True
    X, y = make_symbol_memory(1000, delay, seed=seed)
    X_test, y_test = make_symbol_memory(500, delay, seed=seed + 1000)
    rnn, head = memory_model("LSTM", X.shape[2], hidden_size, 4, seed=seed)
    optimizer = optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-2)
    call = f"`train_memory` for {steps} steps on the memory task with delay {delay} (LSTM, H = {hidden_size})"
    with threadpool_limits(1):
        history, _ = checks.run_student(train_fn, (rnn, head, optimizer, X, y, steps, 32,
                                                   np.random.default_rng(seed)), "train_memory", call,
                                        forbidden=[train_memory])
    if not hasattr(history, "__len__") or len(history) != steps:
        raise checks.CheckFailed(f"{call} returned {checks._abridge(history)}; expected a list of {steps} "
                                 "losses, one per step.")
    history = np.asarray(history, dtype=np.float64)
    final = float(history[-10:].mean())
    if not final < required_loss:
        raise checks.CheckFailed(
            f"{call}: the loss went from {history[0]:.3f} to {final:.3f} (mean of the last 10 steps); "
            f"it must end under {required_loss}. Does only the last step's output reach the loss, and is "
            "optimizer.step() called after rnn.backward?")
    accuracy = memory_accuracy(rnn, head, X_test, y_test)
    if accuracy < required_accuracy:
        raise checks.CheckFailed(f"{call}: {accuracy:.1%} of new sequences right; at least "
                                 f"{required_accuracy:.0%} required.")
    if not quiet:
        print(f"\u2714 train_memory: loss {history[0]:.3f} -> {final:.4f}, accuracy on new sequences "
              f"{accuracy:.1%}.")
    return history


# -- 5. inside a trained network ------------------------------------------------------------------------
def gate_activations(lstm, X):
    """The gates of a one-layer LSTM over batch-first sequences X (N, T, D).

    Returns:
        dict "input", "forget", "cell candidate", "output", "cell state" (c_t), "hidden state" (h_t),
        each float (N, T, H).
    """
    output, _ = lstm(X)
    _, gates, H_all, C_all, _ = lstm.caches[0]                   # time-major: gates (T, 4, N, H)
    names = ("input", "forget", "cell candidate", "output")
    result = {name: np.ascontiguousarray(gates[:, k].transpose(1, 0, 2)) for k, name in enumerate(names)}
    result["cell state"] = np.ascontiguousarray(C_all[1:].transpose(1, 0, 2))
    result["hidden state"] = np.array(output)
    return result


def hidden_states(rnn, X):
    """h_1 .. h_T of a batch-first sequence layer: X (N, T, D) -> (N, T, H), a copy."""
    output, _ = rnn(X)
    return np.array(output)


def pca_2d(states):
    """(..., H) states on their two principal directions: (..., 2), and the share of variance kept."""
    flat = states.reshape(-1, states.shape[-1]).astype(np.float64)
    centred = flat - flat.mean(axis=0)
    _, s, Vt = np.linalg.svd(centred, full_matrices=False)
    share = float((s[:2] ** 2).sum() / max((s ** 2).sum(), 1e-300))
    return (centred @ Vt[:2].T).reshape(states.shape[:-1] + (2,)), share


# -- 6. the character language model --------------------------------------------------------------------
class CharLM(Module):
    """Embedding -> LSTM (or GRU) -> Linear: the next character's logits at every position.

    Shapes (batch-first, as the chapter):
        codes (N, T) ints -> logits (N, T, V);  state: (h, c) each (1, N, H) for the LSTM, h for the GRU.

        logits, state = model(codes, state)     # state None: zeros
        model.backward(grad_logits)             # adds every parameter gradient; the state gets none
    """

    def __init__(self, vocab_size, embedding_dim=32, hidden_size=128, cell="LSTM"):
        super().__init__()
        if cell not in ("LSTM", "GRU"):
            raise ValueError(f"CharLM expects cell 'LSTM' or 'GRU', got {cell!r}")
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = SEQUENCE_LAYERS[cell](embedding_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, codes, state=None):
        N, T = np.shape(codes)
        output, state = self.rnn(self.embedding(codes), state)   # (N, T, H)
        logits = self.head(output.reshape(N * T, -1))           # (N*T, V)
        return logits.reshape(N, T, -1), state

    def backward(self, grad_logits):
        N, T, V = grad_logits.shape
        grad_output = self.head.backward(grad_logits.reshape(N * T, V)).reshape(N, T, -1)
        grad_embedded, _ = self.rnn.backward(grad_output)        # dL/dstate is dropped: truncated BPTT
        self.embedding.backward(grad_embedded)


def lm_batches(codes, seq_len, batch_size):
    """Truncated-BPTT chunks: ``batch_size`` streams read the text side by side, ``seq_len`` characters each.

    Stream n reads the n-th of ``batch_size`` equal parts of the text, so
    chunk k of stream n continues exactly where chunk k-1 stopped: the state
    carried from one chunk to the next belongs to the same stream.

    Returns:
        (inputs, targets): int64 arrays (K, batch_size, seq_len), K batch-first chunks; the targets are the
        inputs shifted by one character.
    """
    codes = np.asarray(codes)
    per_stream = (len(codes) - 1) // batch_size
    K = per_stream // seq_len
    if K < 1:
        raise ValueError(f"lm_batches expects a text longer than batch_size * seq_len = "
                         f"{batch_size * seq_len}, got {len(codes)} characters")
    starts = np.arange(batch_size) * per_stream
    index = starts[:, None] + np.arange(K * seq_len)[None, :]   # (batch_size, K * seq_len)
    chunks = index.reshape(batch_size, K, seq_len).transpose(1, 0, 2)   # (K, batch_size, seq_len)
    return codes[chunks].astype(np.int64), codes[chunks + 1].astype(np.int64)


def train_lm(model, optimizer, inputs, targets, steps, start=0, state=None, max_norm=1.0, on_step=None):
    """Truncated BPTT over the chunks of :func:`lm_batches`: the state is carried, its gradient is not.

    Step s trains on chunk (start + s) mod K, so each stream reads on
    through the text, and a second call with ``start`` and ``state`` from
    the first goes on where it stopped; at each loop back to chunk 0 the
    state starts from zeros. ``on_step(step, loss)`` is called after every
    step (step counted from ``start``).

    Returns:
        (history, state): (steps,) float64, the mean cross-entropy (nats per character) of each chunk
        before its update, and the state after the last chunk (for the next call).
    """
    loss_fn = losses.CrossEntropyLoss()
    params = model.parameters()
    history = np.empty(steps)
    for step in range(steps):
        k = (start + step) % len(inputs)
        if k == 0:
            state = None
        optimizer.zero_grad()
        logits, state = model(inputs[k], state)                  # the state of the previous chunk goes in ...
        N, T, V = logits.shape
        history[step] = loss_fn(logits.reshape(N * T, V), targets[k].reshape(-1))
        model.backward(loss_fn.backward().reshape(N, T, V))      # ... but no gradient flows back into it
        nn.utils.clip_grad_norm_(params, max_norm)
        optimizer.step()
        if on_step is not None:
            on_step(start + step, history[step])
    return history, state


def evaluate_lm(model, inputs, targets, max_chunks=None):
    """The mean cross-entropy (nats per character) over the chunks, the state carried from chunk to chunk."""
    loss_fn = losses.CrossEntropyLoss()
    total, state = 0.0, None
    chunks = len(inputs) if max_chunks is None else min(max_chunks, len(inputs))
    for k in range(chunks):
        logits, state = model(inputs[k], state)
        N, T, V = logits.shape
        total += loss_fn(logits.reshape(N * T, V), targets[k].reshape(-1))
    return total / chunks


def generate(model, prompt_codes, length, temperature=1.0, n_samples=1, seed=0):
    """Continue ``prompt_codes`` by ``length`` characters, each drawn from softmax(logits / temperature).

    Returns:
        int64 (n_samples, length): the generated codes (the prompt not included).
    """
    rng = np.random.default_rng(seed)
    prompt = np.repeat(np.asarray(prompt_codes, dtype=np.int64)[None, :], n_samples, axis=0)   # (n, T0)
    logits, state = model(prompt)
    out = np.empty((n_samples, length), dtype=np.int64)
    for t in range(length):
        out[:, t] = sample_next(logits[:, -1], temperature, rng)
        logits, state = model(out[:, t:t + 1], state)
    return out


def perplexity(loss):
    """exp(cross-entropy in nats): the number of equally likely characters the model hesitates between."""
    return float(math.exp(loss))


__all__ += ["perplexity"]
