r"""Recurrent layers (RNN, LSTM, GRU) and their one-step cells, with PyTorch's API and layout.

Notation (batch-first rows, as everywhere in the course; one time step t):

    X_t     (N, D)     the inputs of step t, one row per sequence of the batch
    h_t     (N, H)     the hidden state after step t; h_0 is the initial state
    W_ih    (G*H, D)   input-to-hidden weights (``weight_ih_l0``), G gate blocks stacked
    W_hh    (G*H, H)   hidden-to-hidden weights (``weight_hh_l0``)
    b_ih, b_hh (G*H,)  two biases, as cuDNN and PyTorch (their sum is what matters)
    A_t     (N, G*H)   pre-activations; column block k belongs to gate k

Elman RNN (G = 1), phi = tanh or relu:

    A_t = X_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
    h_t = phi(A_t)

LSTM (G = 4, blocks in PyTorch's order i, f, g, o), with a cell state c_t (N, H):

    [A_i, A_f, A_g, A_o] = X_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
    i = sigma(A_i)   f = sigma(A_f)   g = tanh(A_g)   o = sigma(A_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

GRU (G = 3, blocks r, z, n), where the reset gate multiplies the *hidden
part* of the candidate's pre-activation, bias included (PyTorch's variant):

    [P_r, P_z, P_n] = X_t W_ih^T + b_ih          (input part)
    [Q_r, Q_z, Q_n] = h_{t-1} W_hh^T + b_hh      (hidden part)
    r = sigma(P_r + Q_r)   z = sigma(P_z + Q_z)
    n = tanh(P_n + r * Q_n)
    h_t = (1 - z) * n + z * h_{t-1}

The input part of every step does not depend on the hidden state, so a
sequence layer computes it for all T steps at once, with ONE matrix product
of the (T*N, D) stacked inputs; only h_{t-1} W_hh^T remains inside the loop
over time. Stacked layers (num_layers > 1) feed the hidden states h_1..h_T
of layer l-1 to layer l as its inputs (so weight_ih_l1 is (G*H, H)).

Backpropagation through time (BPTT). The loss reaches h_t along two paths:
directly, through the output of step t (G_t = dL/d output_t, given), and
through the next step, which reads h_t as its h_{t-1}. So, going backwards
from t = T (where the second path is dL/dh_n, given, or 0):

    dh_t   = G_t + (dL/dh_t through step t+1)          (N, H)
    dA_t   = the step's own backward of dh_t           (N, G*H)
    dh_{t-1} (through step t) = dA_t W_hh               (N, H)   (+ z * dh_t for the GRU)

Every weight is shared by all steps, so its gradient is the sum over t of
each step's contribution; with the steps stacked as rows this sum is one
matrix product, done after the time loop:

    dW_ih = sum_t dA_t^T X_t        = dA^T X          (G*H, D)   dA: (T*N, G*H), X: (T*N, D)
    dW_hh = sum_t dA_t^T h_{t-1}    = dA^T H_prev     (G*H, H)   H_prev = [h_0; ...; h_{T-1}]
    db_ih = db_hh = sum over all T*N rows of dA      (G*H,)
    dX    = dA W_ih                                  (T*N, D)
    dh_0  = dh_0 through step 1

(For the GRU, the input part P and the hidden part Q have their own
gradients dP and dQ, which differ in the n block only: dQ_n = dP_n * r; dW_ih
and db_ih use dP, dW_hh and db_hh use dQ.) The per-step functions below are
shared by the cells (one step) and the sequence layers (a loop over steps).

Speed (numpy, so every operation is one pass over an array): besides the
one-product input part and the after-the-loop weight gradients, each step
moves its gate pre-activations from the row layout (N, G*H) of the matrix
products into a gate-major (G, N, H) array (``by_gate``), because numpy's
elementwise operations are about three times faster on contiguous (N, H)
blocks than on column slices of a wider array; and the large per-layer
arrays are reused from one call to the next (``_RNNBase._scratch``),
because fresh memory costs a page fault per 4 KiB page on first touch.
"""
import numpy as np

from .. import init
from .._validate import as_real_array, check_ndim, check_same_shape, check_size, describe
from ..honesty import reference
from .module import Module, Parameter


# -- the gate nonlinearity ------------------------------------------------------
def sigmoid_(a):
    """sigma(a) = (1 + tanh(a / 2)) / 2, in place on ``a``; returns ``a``.

    The tanh form never overflows (tanh saturates at +-1), needs one
    transcendental call, and keeps the dtype.
    """
    a *= 0.5
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


# -- one step of each cell: forward and backward ------------------------------------
def rnn_step_forward(a, h_prev, W_hh_T, nonlinearity):
    """One Elman RNN step; ``a`` holds the input part and becomes h_t (changed in place).

    Inputs:
        a: (N, H), X_t W_ih^T + b_ih + b_hh on entry.
        h_prev: (N, H), h_{t-1}.
        W_hh_T: (H, H), W_hh transposed.
        nonlinearity: "tanh" or "relu".
    Returns:
        h: (N, H), the array ``a`` now holding h_t = phi(A_t).
    """
    a += h_prev @ W_hh_T                             # A_t = X_t W_ih^T + b + h_{t-1} W_hh^T   (N, H)
    if nonlinearity == "tanh":
        return np.tanh(a, out=a)                     # h_t = tanh(A_t)
    return np.maximum(a, 0, out=a)                   # h_t = relu(A_t)


def rnn_step_backward(dh, h, W_hh, nonlinearity):
    """Backward of one RNN step.

    Inputs:
        dh: (N, H), dL/dh_t (from the output of step t and from step t+1).
        h: (N, H), h_t, the forward's result (phi' is a function of it).
        W_hh: (H, H).
    Returns:
        dA: (N, H), dL/dA_t.
        dh_prev: (N, H), dL/dh_{t-1} through this step.
    """
    if nonlinearity == "tanh":
        dA = dh * (1 - h * h)                        # dA_t = dh_t * (1 - h_t^2)        tanh' = 1 - tanh^2
    else:
        dA = dh * (h > 0)                            # dA_t = dh_t * [A_t > 0]          relu'
    dh_prev = dA @ W_hh                              # dh_{t-1} = dA_t W_hh             (N, H)
    return dA, dh_prev


def by_gate(a, gate_count):
    """View an (N, G*H) array in row layout as (G, N, H), one (N, H) block per gate (no copy).

    The matrix products need the row layout (one row per sample, the gate
    blocks side by side, as PyTorch's weights), but the elementwise gate
    arithmetic is much faster on contiguous (N, H) blocks: so each step
    moves its pre-activations into a (G, N, H) array once, and back once.
    """
    return a.reshape(a.shape[0], gate_count, -1).transpose(1, 0, 2)


def lstm_step_forward(p, h_prev, c_prev, W_hh_T, gates, h, c, tanh_c):
    """One LSTM step.

    Inputs:
        p: (N, 4H), the input part X_t W_ih^T + b_ih + b_hh.
        h_prev, c_prev: (N, H), h_{t-1} and c_{t-1}.
        W_hh_T: (H, 4H), W_hh transposed (a contiguous copy multiplies faster than the view W_hh.T).
        gates: (4, N, H) array that receives the activated gates i, f, g, o (kept for backward).
        h, c, tanh_c: (N, H) arrays that receive h_t, c_t and tanh(c_t) (kept for backward).

    All four activations come from ONE tanh call: sigma(a) = (1 + tanh(a / 2)) / 2,
    so the i, f, o blocks are halved first and mapped from (-1, 1) to (0, 1) after.
    """
    A = h_prev @ W_hh_T                              # h_{t-1} W_hh^T                      (N, 4H)
    A += p                                           # [A_i A_f A_g A_o] = p + h_{t-1} W_hh^T
    halves = np.array([0.5, 0.5, 1.0, 0.5], dtype=gates.dtype).reshape(4, 1, 1)
    np.multiply(by_gate(A, 4), halves, out=gates)    # [A_i/2, A_f/2, A_g, A_o/2] by gate   (4, N, H)
    np.tanh(gates, out=gates)                        # g = tanh(A_g); tanh(A/2) for the others
    i, f, g, o = gates
    for block in (gates[:2], o):                     # i = sigma(A_i), f = sigma(A_f), o = sigma(A_o)
        block += 1
        block *= 0.5
    np.multiply(f, c_prev, out=c)                    # c_t = f * c_{t-1}
    c += np.multiply(i, g, out=tanh_c)               #     + i * g        (tanh_c as scratch)
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)                    # h_t = o * tanh(c_t)


def lstm_step_backward(dh, dc, gates, c_prev, tanh_c, W_hh, dA):
    """Backward of one LSTM step.

    Inputs:
        dh: (N, H), dL/dh_t.
        dc: (N, H), dL/dc_t through step t+1 (0 at the last step, or dL/dc_n);
            overwritten with dL/dc_{t-1}.
        gates: (4, N, H), the activated i, f, g, o of this step.
        c_prev: (N, H), c_{t-1}.   tanh_c: (N, H), tanh(c_t).
        W_hh: (4H, H).
        dA: (N, 4H) array that receives dL/d[A_i A_f A_g A_o] in row layout.
    Returns:
        dh_prev: (N, H), dL/dh_{t-1} through this step.

    With h_t = o * tanh(c_t) and c_t = f * c_{t-1} + i * g:

        do   = dh * tanh(c_t)                  dA_o = do * o (1 - o)
        dc_t = dc + dh * o * (1 - tanh(c_t)^2)   (both paths into c_t)
        di   = dc_t * g                        dA_i = di * i (1 - i)
        df   = dc_t * c_{t-1}                  dA_f = df * f (1 - f)
        dg   = dc_t * i                        dA_g = dg * (1 - g^2)
        dc_{t-1} = dc_t * f
        dh_{t-1} = dA W_hh
    """
    i, f, g, o = gates
    d = np.empty_like(gates)                         # dA by gate, (4, N, H)
    dA_i, dA_f, dA_g, dA_o = d
    np.multiply(tanh_c, tanh_c, out=dA_o)            # (dA_o as scratch)
    np.subtract(1, dA_o, out=dA_o)
    dA_o *= o
    dA_o *= dh
    dc += dA_o                                       # dc_t = dc + dh * o * (1 - tanh(c_t)^2)
    np.subtract(1, i, out=dA_i)
    dA_i *= i
    dA_i *= g
    dA_i *= dc                                       # dA_i = (dc_t * g) * i (1 - i)
    np.subtract(1, f, out=dA_f)
    dA_f *= f
    dA_f *= c_prev
    dA_f *= dc                                       # dA_f = (dc_t * c_{t-1}) * f (1 - f)
    np.multiply(g, g, out=dA_g)
    np.subtract(1, dA_g, out=dA_g)
    dA_g *= i
    dA_g *= dc                                       # dA_g = (dc_t * i) * (1 - g^2)
    np.subtract(1, o, out=dA_o)
    dA_o *= o
    dA_o *= tanh_c
    dA_o *= dh                                       # dA_o = (dh * tanh(c_t)) * o (1 - o)
    dc *= f                                          # dc_{t-1} = dc_t * f
    np.copyto(by_gate(dA, 4), d)                     # back to the row layout (N, 4H)
    return dA @ W_hh                                 # dh_{t-1} = dA W_hh                       (N, H)


def gru_step_forward(p, h_prev, W_hh_T, b_hh, gates, q_n, h):
    """One GRU step.

    Inputs:
        p: (N, 3H), the input part P = X_t W_ih^T + b_ih.
        h_prev: (N, H), h_{t-1}.
        W_hh_T: (H, 3H), W_hh transposed.   b_hh: (3H,) or None.
        gates: (3, N, H) array that receives r, z, n (kept for backward).
        q_n: (N, H) array that receives Q_n = h_{t-1} W_hn^T + b_hn (kept for backward).
        h: (N, H) array that receives h_t.
    """
    q = h_prev @ W_hh_T                              # Q = h_{t-1} W_hh^T + b_hh          (N, 3H)
    if b_hh is not None:
        q += b_hh
    P, Q = by_gate(p, 3), by_gate(q, 3)
    r, z, n = gates
    np.add(P[:2], Q[:2], out=gates[:2])              # P_r + Q_r, P_z + Q_z
    sigmoid_(gates[:2])                              # r = sigma(P_r + Q_r), z = sigma(P_z + Q_z)
    np.copyto(q_n, Q[2])
    np.multiply(r, q_n, out=n)
    n += P[2]                                        # P_n + r * Q_n
    np.tanh(n, out=n)                                # n = tanh(P_n + r * Q_n)
    np.subtract(h_prev, n, out=h)                    # h_t = n + z * (h_{t-1} - n)
    h *= z                                           #     = (1 - z) * n + z * h_{t-1}
    h += n


def gru_step_backward(dh, gates, q_n, h_prev, W_hh, dP, dQ):
    """Backward of one GRU step.

    Inputs:
        dh: (N, H), dL/dh_t.
        gates: (3, N, H), r, z, n of this step.   q_n: (N, H), Q_n.   h_prev: (N, H), h_{t-1}.
        W_hh: (3H, H).
        dP: (N, 3H) array that receives dL/d[P_r P_z P_n], the input part (for W_ih, b_ih and X).
        dQ: (N, 3H) array that receives dL/d[Q_r Q_z Q_n], the hidden part (for W_hh, b_hh and h_{t-1}).
    Returns:
        dh_prev: (N, H), dL/dh_{t-1} through this step.

    With h_t = (1 - z) * n + z * h_{t-1} and n = tanh(P_n + r * Q_n):

        dn   = dh * (1 - z)               dP_n = dn * (1 - n^2)       dQ_n = dP_n * r
        dr   = dP_n * Q_n                 dP_r = dQ_r = dr * r (1 - r)
        dz   = dh * (h_{t-1} - n)         dP_z = dQ_z = dz * z (1 - z)
        dh_{t-1} = dh * z + dQ W_hh       (the direct path through z * h_{t-1}, and the gates)
    """
    r, z, n = gates
    d = np.empty_like(gates)                         # dP by gate, (3, N, H)
    dP_r, dP_z, dP_n = d
    one_minus_z = 1 - z
    np.multiply(n, n, out=dP_n)
    np.subtract(1, dP_n, out=dP_n)
    dP_n *= one_minus_z
    dP_n *= dh                                       # dP_n = dh * (1 - z) * (1 - n^2)
    np.subtract(1, r, out=dP_r)
    dP_r *= r
    dP_r *= q_n
    dP_r *= dP_n                                     # dP_r = (dP_n * Q_n) * r (1 - r)
    np.subtract(h_prev, n, out=dP_z)
    dP_z *= dh
    dP_z *= z
    dP_z *= one_minus_z                              # dP_z = (dh * (h_{t-1} - n)) * z (1 - z)
    np.copyto(by_gate(dP, 3), d)                     # back to the row layout (N, 3H)
    dQ_rows = by_gate(dQ, 3)
    np.copyto(dQ_rows[:2], d[:2])                    # dQ_r = dP_r, dQ_z = dP_z
    np.multiply(dP_n, r, out=dQ_rows[2])             # dQ_n = dP_n * r
    dh_prev = dQ @ W_hh                              # dh_{t-1} = dQ W_hh
    dh_prev += dh * z                                #          + dh * z
    return dh_prev


# -- shared checks ------------------------------------------------------------------------
def _check_sizes(who, **sizes):
    for name, value in sizes.items():
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
            raise ValueError(f"{who} expects {name} to be an integer >= 1, got {value!r}")


def _check_nonlinearity(who, nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{who} expects nonlinearity 'tanh' or 'relu', got {nonlinearity!r}")


def _as_state(value, expected_shape, who, name, dtype):
    """A given initial state checked against ``expected_shape``, or zeros when it is None."""
    if value is None:
        return np.zeros(expected_shape, dtype=dtype)
    value = as_real_array(value, who)
    check_same_shape(value, expected_shape, who, name)
    return value


def _as_grad(grad, expected_shape, who, name, dtype):
    """A given upstream gradient checked against ``expected_shape``, or zeros when it is None."""
    if grad is None:
        return np.zeros(expected_shape, dtype=dtype)
    grad = as_real_array(grad, who)
    check_same_shape(grad, expected_shape, who, name)
    return grad


def _state_pair(hx, who):
    """LSTM's (h, c): None, or a pair whose entries may be None."""
    if hx is None:
        return None, None
    if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
        raise ValueError(f"{who} expects the state as a pair (h, c) or None, got {describe(hx)}")
    return hx


# -- the sequence layers ------------------------------------------------------------------------
class _RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, layouts, input checks, the loop over layers.

    Internally every sequence is time-major, (T, N, features); ``batch_first``
    and unbatched (T, D) inputs are converted on the way in and out.
    A subclass sets ``gate_count`` and ``state_names`` (("h0",) or ("h0", "c0"))
    and writes ``_layer_forward`` and ``_layer_backward`` for one layer.
    """

    gate_count = 1
    state_names = ("h0",)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False):
        super().__init__()
        who = type(self).__name__
        _check_sizes(who, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self._workspace = {}                         # reused arrays, see _scratch
        G, H = self.gate_count, hidden_size
        bound = 1.0 / np.sqrt(H)                     # PyTorch: every weight, bias ~ U(-1/sqrt(H), 1/sqrt(H))
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else H
            setattr(self, f"weight_ih_l{layer}", Parameter(init.uniform((G * H, layer_input), -bound, bound)))
            setattr(self, f"weight_hh_l{layer}", Parameter(init.uniform((G * H, H), -bound, bound)))
            if bias:
                setattr(self, f"bias_ih_l{layer}", Parameter(init.uniform((G * H,), -bound, bound)))
                setattr(self, f"bias_hh_l{layer}", Parameter(init.uniform((G * H,), -bound, bound)))

    def _layer_parameters(self, layer):
        """(W_ih, W_hh, b_ih, b_hh) Parameters of one layer; the biases are None without bias."""
        return tuple(getattr(self, f"{kind}_l{layer}", None)
                     for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def _scratch(self, name, layer, shape, dtype):
        """An uninitialised array for one layer's cache or backward, reused from the previous call.

        Only the speed differs from np.empty: fresh memory costs a page fault
        per 4 KiB page on first touch (about a fifth of the benchmark LSTM's
        time), so the arrays of the previous call are refilled when the shape
        and dtype match. The cache belongs to the latest forward, as in every layer.
        """
        key = (name, layer)
        array = self._workspace.get(key)
        if array is None or array.shape != tuple(shape) or array.dtype != dtype:
            array = self._workspace[key] = np.empty(shape, dtype=dtype)
        return array

    # -- layouts ------------------------------------------------------------------
    def _time_major_input(self, x):
        """Check x and return it as (T, N, D), plus whether it was unbatched (T, D)."""
        who = type(self).__name__
        x = as_real_array(x, who)
        layout = "(N, T, D)" if self.batch_first else "(T, N, D)"
        check_ndim(x, (2, 3), who, f"{layout} or unbatched (T, D)")
        check_size(x, -1, self.input_size, who, "input features")
        if x.ndim == 2:
            return x[:, None, :], True
        return (x.swapaxes(0, 1) if self.batch_first else x), False

    def _state_shape(self, n, unbatched):
        L, H = self.num_layers, self.hidden_size
        return (L, H) if unbatched else (L, n, H)

    def _output_shape(self, t, n, unbatched):
        if unbatched:
            return (t, self.hidden_size)
        return (n, t, self.hidden_size) if self.batch_first else (t, n, self.hidden_size)

    def _to_user_sequence(self, seq, unbatched, copy=True):
        """(T, N, F) time-major -> the user's layout, a fresh array (``copy=False``: seq is fresh already)."""
        if unbatched:
            seq = seq[:, 0, :]
        elif self.batch_first:
            return np.ascontiguousarray(seq.swapaxes(0, 1))
        return seq.copy() if copy else seq

    def _from_user_sequence(self, seq, unbatched):
        """The user's layout -> (T, N, F) time-major (a view)."""
        if unbatched:
            return seq[:, None, :]
        return seq.swapaxes(0, 1) if self.batch_first else seq

    # -- forward and backward over the layers ---------------------------------------------------
    def _forward_layers(self, x, states):
        """Run every layer; ``states`` is a tuple of given initial states (entries may be None).

        Returns output (user layout) and a tuple of final states, each (L, N, H) or (L, H).
        """
        who = type(self).__name__
        X, unbatched = self._time_major_input(x)
        T, N, _ = X.shape
        dtype = np.result_type(X, self.weight_ih_l0.data)
        shape = self._state_shape(N, unbatched)
        initial = [_as_state(s, shape, who, name, dtype).reshape(self.num_layers, N, self.hidden_size)
                   for s, name in zip(states, self.state_names, strict=True)]
        finals = [np.empty((self.num_layers, N, self.hidden_size), dtype=dtype) for _ in states]
        layer_input = X
        self.caches = []
        for layer in range(self.num_layers):
            outputs, layer_finals, cache = self._layer_forward(layer, layer_input,
                                                               [s[layer] for s in initial], dtype)
            for final, value in zip(finals, layer_finals, strict=True):
                final[layer] = value
            self.caches.append(cache)
            layer_input = outputs                    # layer l+1 reads h_1..h_T of layer l
        self.shapes = (T, N, X.shape[2], unbatched, dtype)
        output = self._to_user_sequence(layer_input, unbatched)
        return output, tuple(f.reshape(shape) for f in finals)

    def _backward_layers(self, grad_output, grad_states):
        """Backward through every layer, last first; returns (grad_x, tuple of initial-state grads)."""
        caches, (T, N, D, unbatched, dtype) = self._cached("caches", "shapes")
        who = f"{type(self).__name__}.backward"
        dOut = _as_grad(grad_output, self._output_shape(T, N, unbatched), who, "grad_output", dtype)
        dOut = self._from_user_sequence(dOut, unbatched)
        shape = self._state_shape(N, unbatched)
        names = ["grad_" + name.replace("0", "_n") for name in self.state_names]   # grad_h_n, grad_c_n
        d_finals = [_as_grad(g, shape, who, name, dtype).reshape(self.num_layers, N, self.hidden_size)
                    for g, name in zip(grad_states, names, strict=True)]
        d_initial = [np.empty((self.num_layers, N, self.hidden_size), dtype=dtype) for _ in grad_states]
        for layer in reversed(range(self.num_layers)):
            dOut, layer_d_initial = self._layer_backward(layer, caches[layer], dOut,
                                                         [d[layer] for d in d_finals])
            for d, value in zip(d_initial, layer_d_initial, strict=True):
                d[layer] = value
        grad_x = self._to_user_sequence(dOut, unbatched, copy=False)   # dX is a new array
        return grad_x, tuple(d.reshape(shape) for d in d_initial)

    # -- the parts every layer shares ------------------------------------------------------
    def _input_part(self, layer, X, include_b_hh, out):
        """X W_ih^T + b_ih (+ b_hh) for ALL time steps in one matrix product, written into ``out``.

        Inputs:
            X: (T, N, D) the layer's inputs.
            include_b_hh: add b_hh too (RNN, LSTM: it is constant over time, so it is added once here).
            out: (T, N, G*H) array to fill.
        Returns:
            X2: (T*N, D), X as a contiguous matrix in out's dtype, kept for backward.
        """
        W_ih, _, b_ih, b_hh = self._layer_parameters(layer)
        T, N, D = X.shape
        X2 = np.ascontiguousarray(X, dtype=out.dtype).reshape(T * N, D)
        P = out.reshape(T * N, -1)
        np.matmul(X2, W_ih.data.T, out=P)            # P = X W_ih^T            (T*N, G*H)
        if b_ih is not None:
            P += (b_ih.data + b_hh.data) if include_b_hh else b_ih.data   # + b_ih (+ b_hh)
        return X2

    def _accumulate_gradients(self, layer, X2, H_prev, dP, dQ):
        """Parameter gradients and dX after the time loop, each in one matrix product.

        Inputs:
            X2: (T*N, D) the layer's inputs.   H_prev: (T, N, H), h_0..h_{T-1}.
            dP: (T, N, G*H) dL/d(input part).   dQ: (T, N, G*H) dL/d(hidden part) (dP for RNN, LSTM).
        Returns:
            dX: (T, N, D).
        """
        W_ih, W_hh, b_ih, b_hh = self._layer_parameters(layer)
        T, N, GH = dP.shape
        dP2, dQ2 = dP.reshape(T * N, GH), dQ.reshape(T * N, GH)
        W_ih.grad += dP2.T @ X2                      # dW_ih = dP^T X                (G*H, D)
        W_hh.grad += dQ2.T @ H_prev.reshape(T * N, -1)   # dW_hh = dQ^T H_prev       (G*H, H)
        if b_ih is not None:
            db_ih = dP2.sum(axis=0)                  # db_ih = sum of the rows of dP (G*H,)
            b_ih.grad += db_ih
            b_hh.grad += db_ih if dQ is dP else dQ2.sum(axis=0)   # db_hh = sum of the rows of dQ
        return (dP2 @ W_ih.data).reshape(T, N, -1)   # dX = dP W_ih                  (T*N, D)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        return text


class RNN(_RNNBase):
    """Elman RNN, h_t = phi(X_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), as ``torch.nn.RNN``.

    Shapes (L = num_layers; N, T, D, H as in the module docstring):
        x:      (T, N, D), or (N, T, D) with batch_first=True, or unbatched (T, D)
        h0:     (L, N, H) or unbatched (L, H); None means zeros
        output: (T, N, H) or (N, T, H) or (T, H): h_1..h_T of the last layer
        h_n:    (L, N, H) or (L, H): h_T of every layer

        output, h_n = rnn(x, h0)
        grad_x, grad_h0 = rnn.backward(grad_output, grad_h_n)   # either may be None
    """

    gate_count = 1
    state_names = ("h0",)

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False):
        _check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first)
        self.nonlinearity = nonlinearity

    @reference
    def forward(self, x, h0=None):
        output, (h_n,) = self._forward_layers(x, (h0,))
        return output, h_n

    @reference
    def backward(self, grad_output=None, grad_h_n=None):
        """dL/doutput and dL/dh_n (either may be None) -> (dL/dx, dL/dh0); adds every parameter gradient."""
        grad_x, (grad_h0,) = self._backward_layers(grad_output, (grad_h_n,))
        return grad_x, grad_h0

    def _layer_forward(self, layer, X, states, dtype):
        """One layer over the whole sequence: X (T, N, D) -> h_1..h_T (T, N, H)."""
        (h0,) = states
        W_hh_T = np.ascontiguousarray(self._layer_parameters(layer)[1].data.T)   # (H, H)
        T, N, _ = X.shape
        H_all = self._scratch("H_all", layer, (T + 1, N, self.hidden_size), dtype)   # h_0, h_1, ..., h_T
        H_all[0] = h0
        X2 = self._input_part(layer, X, True, out=H_all[1:])          # H_all[t+1] holds A_t's input part
        for t in range(T):
            rnn_step_forward(H_all[t + 1], H_all[t], W_hh_T, self.nonlinearity)   # becomes h_t in place
        return H_all[1:], (H_all[T],), (X2, H_all)

    def _layer_backward(self, layer, cache, dOut, d_finals):
        """dL/d(h_1..h_T) (T, N, H) and dL/dh_T -> dL/dX (T, N, D) and (dL/dh_0,)."""
        X2, H_all = cache
        W_hh = self._layer_parameters(layer)[1].data
        T = len(dOut)
        dA = self._scratch("dA", layer, H_all[1:].shape, H_all.dtype)
        (dh,) = d_finals                             # dL/dh_T through the final state
        for t in reversed(range(T)):
            dA[t], dh = rnn_step_backward(dOut[t] + dh, H_all[t + 1], W_hh, self.nonlinearity)
        dX = self._accumulate_gradients(layer, X2, H_all[:-1], dA, dA)
        return dX, (dh,)

    def extra_repr(self):
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(_RNNBase):
    """Long short-term memory (Hochreiter and Schmidhuber, 1997), as ``torch.nn.LSTM``.

    Gates i, f, g, o (weight_ih_l0 is (4H, D), rows in that order); see the
    module docstring for the equations. Shapes as RNN, with a cell state c
    of the same shape as h:

        output, (h_n, c_n) = lstm(x, (h0, c0))          # the state may be None
        grad_x, (grad_h0, grad_c0) = lstm.backward(grad_output, (grad_h_n, grad_c_n))
    """

    gate_count = 4
    state_names = ("h0", "c0")

    @reference
    def forward(self, x, hx=None):
        output, (h_n, c_n) = self._forward_layers(x, _state_pair(hx, "LSTM"))
        return output, (h_n, c_n)

    @reference
    def backward(self, grad_output=None, grad_state=None):
        """dL/doutput and (dL/dh_n, dL/dc_n) (None allowed) -> (dL/dx, (dL/dh0, dL/dc0))."""
        grad_states = _state_pair(grad_state, "LSTM.backward")
        grad_x, (grad_h0, grad_c0) = self._backward_layers(grad_output, grad_states)
        return grad_x, (grad_h0, grad_c0)

    def _layer_forward(self, layer, X, states, dtype):
        h0, c0 = states
        W_hh_T = np.ascontiguousarray(self._layer_parameters(layer)[1].data.T)   # (H, 4H)
        T, N, _ = X.shape
        H = self.hidden_size
        P = self._scratch("P", layer, (T, N, 4 * H), dtype)            # the input part of every step
        X2 = self._input_part(layer, X, True, out=P)
        gates = self._scratch("gates", layer, (T, 4, N, H), dtype)     # i, f, g, o of every step
        H_all = self._scratch("H_all", layer, (T + 1, N, H), dtype)    # h_0 .. h_T
        C_all = self._scratch("C_all", layer, (T + 1, N, H), dtype)    # c_0 .. c_T
        tanh_C = self._scratch("tanh_C", layer, (T, N, H), dtype)      # tanh(c_1) .. tanh(c_T)
        H_all[0], C_all[0] = h0, c0
        for t in range(T):
            lstm_step_forward(P[t], H_all[t], C_all[t], W_hh_T, gates[t], H_all[t + 1], C_all[t + 1],
                              tanh_C[t])
        return H_all[1:], (H_all[T], C_all[T]), (X2, gates, H_all, C_all, tanh_C)

    def _layer_backward(self, layer, cache, dOut, d_finals):
        X2, gates, H_all, C_all, tanh_C = cache
        W_hh = self._layer_parameters(layer)[1].data
        T = len(dOut)
        dA = self._scratch("dA", layer, (T, dOut.shape[1], 4 * self.hidden_size), gates.dtype)   # rows
        dh, dc = d_finals                            # dL/dh_T, dL/dc_T through the final state
        dc = dc.astype(dA.dtype)                     # a private copy: the step updates it in place
        for t in reversed(range(T)):
            dh = lstm_step_backward(dOut[t] + dh, dc, gates[t], C_all[t], tanh_C[t], W_hh, dA[t])
        dX = self._accumulate_gradients(layer, X2, H_all[:-1], dA, dA)
        return dX, (dh, dc)


class GRU(_RNNBase):
    """Gated recurrent unit (Cho et al., 2014), as ``torch.nn.GRU``.

    Gates r, z, n (weight_ih_l0 is (3H, D), rows in that order), with
    n = tanh(P_n + r * (h W_hn^T + b_hn)); see the module docstring. Shapes
    and backward as RNN:

        output, h_n = gru(x, h0)
        grad_x, grad_h0 = gru.backward(grad_output, grad_h_n)
    """

    gate_count = 3
    state_names = ("h0",)

    @reference
    def forward(self, x, h0=None):
        output, (h_n,) = self._forward_layers(x, (h0,))
        return output, h_n

    @reference
    def backward(self, grad_output=None, grad_h_n=None):
        """dL/doutput and dL/dh_n (either may be None) -> (dL/dx, dL/dh0); adds every parameter gradient."""
        grad_x, (grad_h0,) = self._backward_layers(grad_output, (grad_h_n,))
        return grad_x, grad_h0

    def _layer_forward(self, layer, X, states, dtype):
        (h0,) = states
        _, W_hh, _, b_hh = self._layer_parameters(layer)
        W_hh_T = np.ascontiguousarray(W_hh.data.T)                     # (H, 3H)
        b_hh = None if b_hh is None else b_hh.data
        T, N, _ = X.shape
        H = self.hidden_size
        P = self._scratch("P", layer, (T, N, 3 * H), dtype)            # the input part of every step
        X2 = self._input_part(layer, X, False, out=P)                 # b_hn sits inside r * (...)
        gates = self._scratch("gates", layer, (T, 3, N, H), dtype)     # r, z, n of every step
        H_all = self._scratch("H_all", layer, (T + 1, N, H), dtype)
        Q_n = self._scratch("Q_n", layer, (T, N, H), dtype)            # h_{t-1} W_hn^T + b_hn
        H_all[0] = h0
        for t in range(T):
            gru_step_forward(P[t], H_all[t], W_hh_T, b_hh, gates[t], Q_n[t], H_all[t + 1])
        return H_all[1:], (H_all[T],), (X2, gates, H_all, Q_n)

    def _layer_backward(self, layer, cache, dOut, d_finals):
        X2, gates, H_all, Q_n = cache
        W_hh = self._layer_parameters(layer)[1].data
        T = len(dOut)
        dP = self._scratch("dP", layer, (T, dOut.shape[1], 3 * self.hidden_size), gates.dtype)   # rows
        dQ = self._scratch("dQ", layer, dP.shape, dP.dtype)
        (dh,) = d_finals
        for t in reversed(range(T)):
            dh = gru_step_backward(dOut[t] + dh, gates[t], Q_n[t], H_all[t], W_hh, dP[t], dQ[t])
        dX = self._accumulate_gradients(layer, X2, H_all[:-1], dP, dQ)
        return dX, (dh,)


# -- the one-step cells ---------------------------------------------------------------------------
class _CellBase(Module):
    """What RNNCell, LSTMCell and GRUCell share: parameters (no ``_l0``), checks, gradient sums.

    x: (N, D) or unbatched (D,); every state (N, H) or (H,).
    """

    gate_count = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        _check_sizes(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        G, H = self.gate_count, hidden_size
        bound = 1.0 / np.sqrt(H)
        self.weight_ih = Parameter(init.uniform((G * H, input_size), -bound, bound))
        self.weight_hh = Parameter(init.uniform((G * H, H), -bound, bound))
        if bias:
            self.bias_ih = Parameter(init.uniform((G * H,), -bound, bound))
            self.bias_hh = Parameter(init.uniform((G * H,), -bound, bound))
        else:
            self.bias_ih = self.bias_hh = None

    def _prepare(self, x, states, names):
        """Check x and the states; return x (N, D), the states (N, H) (zeros for None), unbatched."""
        who = type(self).__name__
        x = as_real_array(x, who)
        check_ndim(x, (1, 2), who, "(N, D) or unbatched (D,)")
        check_size(x, -1, self.input_size, who, "input features")
        unbatched = x.ndim == 1
        x2 = x[None, :] if unbatched else x
        dtype = np.result_type(x2, self.weight_ih.data)
        shape = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
        states = [_as_state(s, shape, who, name, dtype).reshape(len(x2), -1)
                  for s, name in zip(states, names, strict=True)]
        self.unbatched, self.state_shape = unbatched, shape
        return x2, states, dtype

    def _input_part(self, x, include_b_hh, dtype):
        """x W_ih^T + b_ih (+ b_hh): (N, D) -> (N, G*H), a fresh array."""
        a = (x @ self.weight_ih.data.T).astype(dtype, copy=False)   # x W_ih^T
        if self.bias_ih is not None:
            a += self.bias_ih.data                   #   + b_ih
            if include_b_hh:
                a += self.bias_hh.data               #   + b_hh
        return a

    def _grads(self, grads, names):
        """Upstream gradients of the outputs, checked; zeros for None; (N, H)."""
        (shape,) = self._cached("state_shape")
        who = f"{type(self).__name__}.backward"
        dtype = self.x.dtype
        return [_as_grad(g, shape, who, name, dtype).reshape(self.x.shape[0], -1)
                for g, name in zip(grads, names, strict=True)]

    def _accumulate_gradients(self, dP, dQ):
        """dW_ih = dP^T x, dW_hh = dQ^T h, db_ih, db_hh; returns dx = dP W_ih (N, D)."""
        self.weight_ih.grad += dP.T @ self.x         # dW_ih = dP^T x        (G*H, D)
        self.weight_hh.grad += dQ.T @ self.h_prev    # dW_hh = dQ^T h_{t-1}  (G*H, H)
        if self.bias_ih is not None:
            self.bias_ih.grad += dP.sum(axis=0)      # db_ih = sum of the rows of dP
            self.bias_hh.grad += dQ.sum(axis=0)      # db_hh = sum of the rows of dQ
        return dP @ self.weight_ih.data              # dx = dP W_ih          (N, D)

    def _user(self, *arrays):
        """Drop the batch axis again for an unbatched call."""
        return tuple(a[0] if self.unbatched else a for a in arrays)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """One Elman RNN step, h' = phi(x W_ih^T + b_ih + h W_hh^T + b_hh), as ``torch.nn.RNNCell``.

        h_next = cell(x, h)                  # h may be None (zeros)
        grad_x, grad_h = cell.backward(grad_h_next)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    @reference
    def forward(self, x, hx=None):
        """x: (N, D) or (D,); hx: (N, H) or (H,) -> h': (N, H) or (H,)."""
        x, (h_prev,), dtype = self._prepare(x, (hx,), ("h",))
        a = self._input_part(x, True, dtype)
        h = rnn_step_forward(a, h_prev, self.weight_hh.data.T, self.nonlinearity)
        self.x, self.h_prev, self.h = x, h_prev, h
        (h,) = self._user(h.copy())                  # a copy: backward needs h itself
        return h

    @reference
    def backward(self, grad_h):
        """dL/dh' -> (dL/dx, dL/dh); adds the parameter gradients."""
        (dh,) = self._grads((grad_h,), ("grad_h",))
        dA, dh_prev = rnn_step_backward(dh, self.h, self.weight_hh.data, self.nonlinearity)
        dx = self._accumulate_gradients(dA, dA)
        return self._user(dx, dh_prev)

    def extra_repr(self):
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTMCell(_CellBase):
    """One LSTM step, as ``torch.nn.LSTMCell`` (gates i, f, g, o).

        h_next, c_next = cell(x, (h, c))     # the state may be None (zeros)
        grad_x, (grad_h, grad_c) = cell.backward(grad_h_next, grad_c_next)   # either may be None
    """

    gate_count = 4

    @reference
    def forward(self, x, hx=None):
        """x: (N, D) or (D,); hx = (h, c), each (N, H) or (H,) -> (h', c')."""
        x, (h_prev, c_prev), dtype = self._prepare(x, _state_pair(hx, "LSTMCell"), ("h", "c"))
        p = self._input_part(x, True, dtype)
        gates = np.empty((4,) + h_prev.shape, dtype=dtype)
        h, c, tanh_c = (np.empty(h_prev.shape, dtype=dtype) for _ in range(3))
        lstm_step_forward(p, h_prev, c_prev, self.weight_hh.data.T, gates, h, c, tanh_c)
        self.x, self.h_prev, self.c_prev, self.gates, self.tanh_c = x, h_prev, c_prev, gates, tanh_c
        return self._user(h, c)

    @reference
    def backward(self, grad_h=None, grad_c=None):
        """dL/dh', dL/dc' (None allowed) -> (dL/dx, (dL/dh, dL/dc)); adds the parameter gradients."""
        dh, dc = self._grads((grad_h, grad_c), ("grad_h", "grad_c"))
        dA = np.empty((len(dh), 4 * self.hidden_size), dtype=self.gates.dtype)
        dc_prev = dc.astype(dA.dtype)                # becomes dL/dc_{t-1} in place
        dh_prev = lstm_step_backward(dh, dc_prev, self.gates, self.c_prev, self.tanh_c,
                                     self.weight_hh.data, dA)
        dx = self._accumulate_gradients(dA, dA)
        dx, dh_prev, dc_prev = self._user(dx, dh_prev, dc_prev)
        return dx, (dh_prev, dc_prev)


class GRUCell(_CellBase):
    """One GRU step, as ``torch.nn.GRUCell`` (gates r, z, n).

        h_next = cell(x, h)                  # h may be None (zeros)
        grad_x, grad_h = cell.backward(grad_h_next)
    """

    gate_count = 3

    @reference
    def forward(self, x, hx=None):
        """x: (N, D) or (D,); hx: (N, H) or (H,) -> h': (N, H) or (H,)."""
        x, (h_prev,), dtype = self._prepare(x, (hx,), ("h",))
        p = self._input_part(x, False, dtype)
        b_hh = None if self.bias_hh is None else self.bias_hh.data
        gates = np.empty((3,) + h_prev.shape, dtype=dtype)
        h, q_n = np.empty_like(h_prev, dtype=dtype), np.empty_like(h_prev, dtype=dtype)
        gru_step_forward(p, h_prev, self.weight_hh.data.T, b_hh, gates, q_n, h)
        self.x, self.h_prev, self.gates, self.q_n = x, h_prev, gates, q_n
        (h,) = self._user(h)
        return h

    @reference
    def backward(self, grad_h):
        """dL/dh' -> (dL/dx, dL/dh); adds the parameter gradients."""
        (dh,) = self._grads((grad_h,), ("grad_h",))
        dP = np.empty((len(dh), 3 * self.hidden_size), dtype=self.gates.dtype)
        dQ = np.empty_like(dP)
        dh_prev = gru_step_backward(dh, self.gates, self.q_n, self.h_prev, self.weight_hh.data, dP, dQ)
        dx = self._accumulate_gradients(dP, dQ)
        return self._user(dx, dh_prev)
