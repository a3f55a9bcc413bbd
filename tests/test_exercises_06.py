"""Chapter 06's graded test cells against alternative answers: fair both ways.

Each exercise gets two correct answers written differently from the solution (they must pass the whole test
cell, visible and hidden parts, as nbgrader runs it from solutions/) and three plausible wrong ones (they must
fail it). The cells run here as they are stored, after the notebook's import cell, so a change to a test cell
is tested as it is.
"""
import pytest
from exercise_cells import ExerciseCells

from course import grade_id

pytestmark = pytest.mark.chapter06

CELLS = ExerciseCells("06_rnns")
SOURCE = CELLS.notebook
cell, run_test_cell, fails = CELLS.cell, CELLS.run_test_cell, CELLS.fails


@pytest.fixture(scope="module")
def setup():
    """The notebook's namespace after its import cell and its sigmoid helper cell, as a test cell finds it."""
    return CELLS.run_cells("code-1", "sigmoid-helper")


SIGMOID = """
def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))
"""

EXERCISES = {}

# -- Exercise 1: one RNN step --------------------------------------------------------------------------------
EXERCISES["rnn_step"] = ({
    "einsum": """
def rnn_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    return np.tanh(np.einsum("nd,hd->nh", x, W_ih) + np.einsum("nk,hk->nh", h_prev, W_hh) + (b_ih + b_hh))
""",
    "concatenated weights": """
def rnn_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    W = np.concatenate([W_ih, W_hh], axis=1)
    return np.tanh(np.concatenate([x, h_prev], axis=1) @ W.T + b_ih + b_hh)
""",
}, {
    "no transpose (W x)": """
def rnn_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    return np.tanh((W_ih @ x.T).T + h_prev @ W_hh + b_ih + b_hh)
""",
    "one bias": """
def rnn_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    return np.tanh(x @ W_ih.T + h_prev @ W_hh.T + b_ih)
""",
    "float64 result": """
def rnn_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    return np.tanh(x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).astype(np.float64)
""",
})

# -- Exercise 2: the forward pass over a sequence ------------------------------------------------------------
STEP = """
def rnn_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    return np.tanh(x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh)
"""
EXERCISES["rnn_forward"] = ({
    "preallocated, input part at once": """
def rnn_forward(X, h0, W_ih, W_hh, b_ih, b_hh):
    N, T, _ = X.shape
    Hs = np.empty((N, T, len(h0[0])), dtype=X.dtype)
    inputs = X @ W_ih.T + b_ih + b_hh
    h = h0
    for t in range(T):
        h = np.tanh(inputs[:, t] + h @ W_hh.T)
        Hs[:, t] = h
    return Hs
""",
    "time-major loop, transposed back": STEP + """
def rnn_forward(X, h0, W_ih, W_hh, b_ih, b_hh):
    states, h = [], h0
    for x_t in X.swapaxes(0, 1):
        h = rnn_step(x_t, h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return np.array(states).transpose(1, 0, 2)
""",
}, {
    "state not carried": STEP + """
def rnn_forward(X, h0, W_ih, W_hh, b_ih, b_hh):
    return np.stack([rnn_step(X[:, t], h0, W_ih, W_hh, b_ih, b_hh) for t in range(X.shape[1])], axis=1)
""",
    "time-major result": STEP + """
def rnn_forward(X, h0, W_ih, W_hh, b_ih, b_hh):
    states, h = [], h0
    for t in range(X.shape[1]):
        h = rnn_step(X[:, t], h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return np.stack(states)
""",
    "h0 included, last step dropped": STEP + """
def rnn_forward(X, h0, W_ih, W_hh, b_ih, b_hh):
    states, h = [h0], h0
    for t in range(X.shape[1] - 1):
        h = rnn_step(X[:, t], h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return np.stack(states, axis=1)
""",
})

# -- Exercise 3: BPTT ----------------------------------------------------------------------------------------
EXERCISES["rnn_backward"] = ({
    "weight gradients after the loop": """
def rnn_backward(dHs, X, h0, Hs, W_ih, W_hh):
    N, T, H = Hs.shape
    dZ = np.zeros_like(Hs)
    dh_next = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        dZ[:, t] = (dHs[:, t] + dh_next) * (1 - Hs[:, t] ** 2)
        dh_next = dZ[:, t] @ W_hh
    H_prev = np.concatenate([h0[:, None], Hs[:, :-1]], axis=1)
    dZ2 = dZ.reshape(N * T, H)
    db = dZ2.sum(axis=0)
    return {"X": dZ @ W_ih, "h0": dh_next, "W_ih": dZ2.T @ X.reshape(N * T, -1),
            "W_hh": dZ2.T @ H_prev.reshape(N * T, H), "b_ih": db, "b_hh": db}
""",
    "einsum over time": """
def rnn_backward(dHs, X, h0, Hs, W_ih, W_hh):
    T = X.shape[1]
    dZ = np.empty_like(Hs)
    carry = np.zeros_like(h0)
    for t in reversed(range(T)):
        dZ[:, t] = (dHs[:, t] + carry) * (1 - Hs[:, t] * Hs[:, t])
        carry = dZ[:, t] @ W_hh
    H_prev = np.concatenate([h0[:, None], Hs[:, :-1]], axis=1)
    return {"X": np.einsum("nth,hd->ntd", dZ, W_ih), "h0": carry,
            "W_ih": np.einsum("nth,ntd->hd", dZ, X), "W_hh": np.einsum("nth,ntk->hk", dZ, H_prev),
            "b_ih": dZ.sum(axis=(0, 1)), "b_hh": dZ.sum(axis=(0, 1))}
""",
}, {
    "no gradient from the next step": """
def rnn_backward(dHs, X, h0, Hs, W_ih, W_hh):
    dZ = dHs * (1 - Hs ** 2)
    H_prev = np.concatenate([h0[:, None], Hs[:, :-1]], axis=1)
    return {"X": dZ @ W_ih, "h0": dZ[:, 0] @ W_hh, "W_ih": np.einsum("nth,ntd->hd", dZ, X),
            "W_hh": np.einsum("nth,ntk->hk", dZ, H_prev),
            "b_ih": dZ.sum(axis=(0, 1)), "b_hh": dZ.sum(axis=(0, 1))}
""",
    "h_t instead of h_{t-1} in dW_hh": """
def rnn_backward(dHs, X, h0, Hs, W_ih, W_hh):
    T = X.shape[1]
    dZ, carry = np.empty_like(Hs), np.zeros_like(h0)
    for t in reversed(range(T)):
        dZ[:, t] = (dHs[:, t] + carry) * (1 - Hs[:, t] ** 2)
        carry = dZ[:, t] @ W_hh
    return {"X": dZ @ W_ih, "h0": carry, "W_ih": np.einsum("nth,ntd->hd", dZ, X),
            "W_hh": np.einsum("nth,ntk->hk", dZ, Hs),
            "b_ih": dZ.sum(axis=(0, 1)), "b_hh": dZ.sum(axis=(0, 1))}
""",
    "next step's gradient through W_hh^T": """
def rnn_backward(dHs, X, h0, Hs, W_ih, W_hh):
    T = X.shape[1]
    dZ, carry = np.empty_like(Hs), np.zeros_like(h0)
    for t in reversed(range(T)):
        dZ[:, t] = (dHs[:, t] + carry) * (1 - Hs[:, t] ** 2)
        carry = dZ[:, t] @ W_hh.T
    H_prev = np.concatenate([h0[:, None], Hs[:, :-1]], axis=1)
    return {"X": dZ @ W_ih, "h0": carry, "W_ih": np.einsum("nth,ntd->hd", dZ, X),
            "W_hh": np.einsum("nth,ntk->hk", dZ, H_prev),
            "b_ih": dZ.sum(axis=(0, 1)), "b_hh": dZ.sum(axis=(0, 1))}
""",
})

# -- Exercise 4: clipping ------------------------------------------------------------------------------------
EXERCISES["clip_grad_norm"] = ({
    "concatenated vector": """
def clip_grad_norm(parameters, max_norm):
    total = float(np.linalg.norm(np.concatenate([p.grad.ravel().astype(np.float64) for p in parameters])))
    scale = min(1.0, max_norm / (total + 1e-6))
    for p in parameters:
        p.grad *= scale
    return total
""",
    "np.multiply out=": """
import math
def clip_grad_norm(parameters, max_norm):
    total = math.sqrt(sum(float((p.grad.astype(float) ** 2).sum()) for p in parameters))
    if total > max_norm:
        for p in parameters:
            np.multiply(p.grad, max_norm / (total + 1e-6), out=p.grad)
    return total
""",
}, {
    "each parameter clipped on its own": """
def clip_grad_norm(parameters, max_norm):
    norms = [float(np.linalg.norm(p.grad)) for p in parameters]
    for p, n in zip(parameters, norms):
        if n > max_norm:
            p.grad *= max_norm / (n + 1e-6)
    return float(np.sqrt(sum(n ** 2 for n in norms)))
""",
    "returns the norm after clipping": """
def clip_grad_norm(parameters, max_norm):
    total = float(np.sqrt(sum((p.grad ** 2).sum() for p in parameters)))
    if total > max_norm:
        for p in parameters:
            p.grad *= max_norm / (total + 1e-6)
    return float(np.sqrt(sum((p.grad ** 2).sum() for p in parameters)))
""",
    "a new array instead of in place": """
def clip_grad_norm(parameters, max_norm):
    total = float(np.sqrt(sum((p.grad ** 2).sum() for p in parameters)))
    for p in parameters:
        p.grad = p.grad * min(1.0, max_norm / (total + 1e-6))
    return total
""",
})

# -- Exercise 5: one LSTM step -------------------------------------------------------------------------------
EXERCISES["lstm_step"] = ({
    "slices, exp of -|z|": """
def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def lstm_step(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    Z = x @ W_ih.T + h_prev @ W_hh.T + (b_ih + b_hh)
    i, f, o = sigmoid(Z[:, :H]), sigmoid(Z[:, H:2 * H]), sigmoid(Z[:, 3 * H:])
    c = f * c_prev + i * np.tanh(Z[:, 2 * H:3 * H])
    return o * np.tanh(c), c
""",
    "reshaped by gate": SIGMOID + """
def lstm_step(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    N, H = h_prev.shape
    Z = (x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).reshape(N, 4, H)
    i, f, g, o = sigmoid(Z[:, 0]), sigmoid(Z[:, 1]), np.tanh(Z[:, 2]), sigmoid(Z[:, 3])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return (h, c)
""",
}, {
    "gate order i, f, o, g": SIGMOID + """
def lstm_step(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    Z_i, Z_f, Z_o, Z_g = np.split(x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh, 4, axis=1)
    c = sigmoid(Z_f) * c_prev + sigmoid(Z_i) * np.tanh(Z_g)
    return sigmoid(Z_o) * np.tanh(c), c
""",
    "h = o * c (no tanh)": SIGMOID + """
def lstm_step(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    Z_i, Z_f, Z_g, Z_o = np.split(x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh, 4, axis=1)
    c = sigmoid(Z_f) * c_prev + sigmoid(Z_i) * np.tanh(Z_g)
    return sigmoid(Z_o) * c, c
""",
    "overflowing sigmoid": """
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_step(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    Z_i, Z_f, Z_g, Z_o = np.split(x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh, 4, axis=1)
    c = sigmoid(Z_f) * c_prev + sigmoid(Z_i) * np.tanh(Z_g)
    return sigmoid(Z_o) * np.tanh(c), c
""",
})

# -- Exercise 6: the LSTM step backward ----------------------------------------------------------------------
LSTM_BACKWARD_RIGHT_2 = SIGMOID + """
def lstm_step_backward(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    N, H = h_prev.shape
    G = (x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).reshape(N, 4, H)
    i, f, g, o = sigmoid(G[:, 0]), sigmoid(G[:, 1]), np.tanh(G[:, 2]), sigmoid(G[:, 3])
    c = f * c_prev + i * g
    dc_t = dc + dh * o * (1 - np.tanh(c) ** 2)
    dZ = np.stack([dc_t * g * i * (1 - i), dc_t * c_prev * f * (1 - f), dc_t * i * (1 - g * g),
                   dh * np.tanh(c) * o * (1 - o)], axis=1).reshape(N, 4 * H)
    grads = {"x": dZ @ W_ih, "h_prev": dZ @ W_hh, "c_prev": f * dc_t}
    grads.update(W_ih=np.einsum("ng,nd->gd", dZ, x), W_hh=np.einsum("ng,nk->gk", dZ, h_prev),
                 b_ih=dZ.sum(0), b_hh=dZ.sum(0))
    return grads
"""


def lstm_backward_variant(line):
    """The solution's body with one line replaced: the wrong answers."""
    body = SIGMOID + """
def lstm_step_backward(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    Z_i, Z_f, Z_g, Z_o = np.split(x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh, 4, axis=1)
    i, f, g, o = sigmoid(Z_i), sigmoid(Z_f), np.tanh(Z_g), sigmoid(Z_o)
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    dc_total = dc + dh * o * (1 - tanh_c ** 2)
    dZ = np.concatenate([dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f),
                         dc_total * i * (1 - g ** 2), dh * tanh_c * o * (1 - o)], axis=1)
    return {"x": dZ @ W_ih, "h_prev": dZ @ W_hh, "c_prev": dc_total * f,
            "W_ih": dZ.T @ x, "W_hh": dZ.T @ h_prev, "b_ih": dZ.sum(0), "b_hh": dZ.sum(0)}
"""
    old, new = line
    assert old in body
    return body.replace(old, new)


EXERCISES["lstm_step_backward"] = ({
    "stacked by gate, einsum": LSTM_BACKWARD_RIGHT_2,
    "per-gate blocks, weights gradients gate by gate": """
def lstm_step_backward(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    blocks_ih, blocks_hh = np.split(W_ih, 4), np.split(W_hh, 4)
    bias = np.split(b_ih + b_hh, 4)
    Z = [x @ Wi.T + h_prev @ Wh.T + b for Wi, Wh, b in zip(blocks_ih, blocks_hh, bias)]
    i, f, o = (1 / (1 + np.exp(-Z[k])) for k in (0, 1, 3))
    g = np.tanh(Z[2])
    c = f * c_prev + i * g
    do = dh * np.tanh(c)
    dcell = dc + dh * o * (1 - np.tanh(c) ** 2)
    dZ = [dcell * g * i * (1 - i), dcell * c_prev * f * (1 - f), dcell * i * (1 - g ** 2), do * o * (1 - o)]
    dx = sum(d @ Wi for d, Wi in zip(dZ, blocks_ih))
    dh_prev = sum(d @ Wh for d, Wh in zip(dZ, blocks_hh))
    db = np.concatenate([d.sum(axis=0) for d in dZ])
    return {"x": dx, "h_prev": dh_prev, "c_prev": dcell * f,
            "W_ih": np.concatenate([d.T @ x for d in dZ]), "W_hh": np.concatenate([d.T @ h_prev for d in dZ]),
            "b_ih": db, "b_hh": db}
""",
}, {
    "the cell path forgotten (dc_prev = dc)": lstm_backward_variant(
        ('"c_prev": dc_total * f', '"c_prev": dc * f')),
    "only dc reaches the cell (no dh * o * tanh')": lstm_backward_variant(
        ("dc_total = dc + dh * o * (1 - tanh_c ** 2)", "dc_total = dc")),
    "dZ_o without tanh(c)": lstm_backward_variant(("dh * tanh_c * o * (1 - o)", "dh * o * (1 - o)")),
})

# -- Exercise 7: one GRU step --------------------------------------------------------------------------------
EXERCISES["gru_step"] = ({
    "slices": SIGMOID + """
def gru_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    P = x @ W_ih.T + b_ih
    Q = h_prev @ W_hh.T + b_hh
    rz = sigmoid(P[:, :2 * H] + Q[:, :2 * H])
    r, z = rz[:, :H], rz[:, H:]
    n = np.tanh(P[:, 2 * H:] + r * Q[:, 2 * H:])
    return n + z * (h_prev - n)
""",
    "per-gate weights": SIGMOID + """
def gru_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    (W_ir, W_iz, W_in), (W_hr, W_hz, W_hn) = np.split(W_ih, 3), np.split(W_hh, 3)
    (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = np.split(b_ih, 3), np.split(b_hh, 3)
    r = sigmoid(x @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr)
    z = sigmoid(x @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz)
    n = np.tanh(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn))
    return (1 - z) * n + z * h_prev
""",
}, {
    "Cho et al.'s reset (before the product)": SIGMOID + """
def gru_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    (W_hr, W_hz, W_hn), (b_hr, b_hz, b_hn) = np.split(W_hh, 3), np.split(b_hh, 3)
    P_r, P_z, P_n = np.split(x @ W_ih.T + b_ih, 3, axis=1)
    r = sigmoid(P_r + h_prev @ W_hr.T + b_hr)
    z = sigmoid(P_z + h_prev @ W_hz.T + b_hz)
    n = np.tanh(P_n + (r * h_prev) @ W_hn.T + b_hn)
    return (1 - z) * n + z * h_prev
""",
    "z and 1 - z swapped": SIGMOID + """
def gru_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    P_r, P_z, P_n = np.split(x @ W_ih.T + b_ih, 3, axis=1)
    Q_r, Q_z, Q_n = np.split(h_prev @ W_hh.T + b_hh, 3, axis=1)
    r, z = sigmoid(P_r + Q_r), sigmoid(P_z + Q_z)
    n = np.tanh(P_n + r * Q_n)
    return z * n + (1 - z) * h_prev
""",
    "b_hn outside the reset": SIGMOID + """
def gru_step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    P_r, P_z, P_n = np.split(x @ W_ih.T + b_ih, 3, axis=1)
    Q_r, Q_z, Q_n = np.split(h_prev @ W_hh.T, 3, axis=1)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    r, z = sigmoid(P_r + Q_r + b_hr), sigmoid(P_z + Q_z + b_hz)
    n = np.tanh(P_n + b_hn + r * Q_n)
    return (1 - z) * n + z * h_prev
""",
})

# -- Exercise 8: the training loop ---------------------------------------------------------------------------
EXERCISES["train_memory"] = ({
    "permutation batches, no clipping": """
def train_memory(rnn, head, optimizer, X, y, steps, batch_size, rng):
    loss_fn = losses.CrossEntropyLoss()
    history = []
    for _ in range(steps):
        index = rng.permutation(len(X))[:batch_size]
        optimizer.zero_grad()
        output, _ = rnn(X[index])
        history.append(float(loss_fn(head(output[:, -1]), y[index])))
        grad = np.zeros_like(output)
        grad[:, -1] = head.backward(loss_fn.backward())
        rnn.backward(grad, None)
        optimizer.step()
    return history
""",
    "rng.choice, clip by value": """
def train_memory(rnn, head, optimizer, X, y, steps, batch_size, rng):
    criterion = nn.CrossEntropyLoss()
    params = [*rnn.parameters(), *head.parameters()]
    losses_seen = []
    for step in range(steps):
        rows = rng.choice(len(X), size=batch_size, replace=False)
        for p in params:
            p.grad[...] = 0
        seq, _ = rnn(X[rows])
        logits = head(seq[:, -1, :])
        losses_seen.append(criterion(logits, y[rows]))
        d_seq = np.zeros(seq.shape, dtype=seq.dtype)
        d_seq[:, -1, :] = head.backward(criterion.backward())
        rnn.backward(d_seq)
        nn.utils.clip_grad_value_(params, 0.5)
        optimizer.step()
    return losses_seen
""",
}, {
    "no optimizer step": """
def train_memory(rnn, head, optimizer, X, y, steps, batch_size, rng):
    loss_fn = losses.CrossEntropyLoss()
    history = []
    for _ in range(steps):
        index = rng.integers(0, len(X), size=batch_size)
        optimizer.zero_grad()
        output, _ = rnn(X[index])
        history.append(loss_fn(head(output[:, -1]), y[index]))
        grad = np.zeros_like(output)
        grad[:, -1] = head.backward(loss_fn.backward())
        rnn.backward(grad)
    return history
""",
    "the head's gradient put at the first step": """
def train_memory(rnn, head, optimizer, X, y, steps, batch_size, rng):
    loss_fn = losses.CrossEntropyLoss()
    history = []
    for _ in range(steps):
        index = rng.integers(0, len(X), size=batch_size)
        optimizer.zero_grad()
        output, _ = rnn(X[index])
        history.append(loss_fn(head(output[:, -1]), y[index]))
        grad = np.zeros_like(output)
        grad[:, 0] = head.backward(loss_fn.backward())
        rnn.backward(grad)
        optimizer.step()
    return history
""",
    "one loss per epoch only": """
def train_memory(rnn, head, optimizer, X, y, steps, batch_size, rng):
    loss_fn = losses.CrossEntropyLoss()
    history = []
    for _ in range(steps // 10):
        optimizer.zero_grad()
        output, _ = rnn(X)
        history.append(loss_fn(head(output[:, -1]), y))
        grad = np.zeros_like(output)
        grad[:, -1] = head.backward(loss_fn.backward())
        rnn.backward(grad)
        optimizer.step()
    return history
""",
})

# -- Exercise 9: sampling ------------------------------------------------------------------------------------
EXERCISES["sample_next"] = ({
    "rng.choice row by row": """
def sample_next(logits, temperature, rng):
    out = []
    for row in logits:
        z = (row - row.max()) / temperature
        p = np.exp(z) / np.exp(z).sum()
        out.append(rng.choice(len(p), p=p))
    return np.array(out, dtype=np.int64)
""",
    "Gumbel-max trick": """
def sample_next(logits, temperature, rng):
    gumbel = -np.log(-np.log(rng.random(logits.shape)))
    return np.argmax(logits / temperature + gumbel, axis=1)
""",
}, {
    "temperature multiplied": """
def sample_next(logits, temperature, rng):
    Z = logits * temperature
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return (np.cumsum(P, axis=1) < rng.random((len(P), 1))).sum(axis=1)
""",
    "argmax (no sampling)": """
def sample_next(logits, temperature, rng):
    return np.argmax(logits / temperature, axis=1)
""",
    "np.random instead of rng": """
def sample_next(logits, temperature, rng):
    Z = logits / temperature
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return (np.cumsum(P, axis=1) < np.random.random((len(P), 1))).sum(axis=1)
""",
})

RIGHT = [(exercise, name) for exercise, (right, _) in EXERCISES.items() for name in right]
WRONG = [(exercise, name) for exercise, (_, wrong) in EXERCISES.items() for name in wrong]


@pytest.mark.parametrize("exercise, name", RIGHT, ids=[f"{e}: {n}" for e, n in RIGHT])
def test_right_answers_pass_the_whole_test_cell(setup, exercise, name):
    run_test_cell(setup, EXERCISES[exercise][0][name], f"test_{exercise}")


@pytest.mark.parametrize("exercise, name", WRONG, ids=[f"{e}: {n}" for e, n in WRONG])
def test_wrong_answers_fail(setup, exercise, name):
    fails(setup, EXERCISES[exercise][1][name], f"test_{exercise}")


def test_every_exercise_is_covered():
    exercises = [grade_id(c) for c in SOURCE.cells
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    assert sorted(exercises) == sorted(EXERCISES)
    assert all(len(right) == 2 and len(wrong) == 3 for right, wrong in EXERCISES.values())


def test_the_solutions_pass_their_cells(setup):
    namespace = dict(setup)
    for c in SOURCE.cells:
        meta = c.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") or meta.get("grade"):
            exec(compile(c.source, grade_id(c), "exec"), namespace)
