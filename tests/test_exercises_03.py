"""Chapter 03's graded test cells against alternative answers: fair both ways.

Each exercise whose test changed for issue 14 gets two correct answers written
differently from the solution (they must pass the whole test cell, visible and
hidden parts, as nbgrader runs it from solutions/) and three plausible wrong
ones (they must fail it). The cells run here as they are stored, after the
notebook's import cell, so a change to a test cell is tested as it is.
"""
import pytest
from exercise_cells import ExerciseCells

pytestmark = pytest.mark.chapter03

CELLS = ExerciseCells("03_backpropagation")
cell, run_test_cell, fails = CELLS.cell, CELLS.run_test_cell, CELLS.fails


@pytest.fixture(scope="module")
def setup():
    """The notebook's namespace after its import cell, as a test cell finds it."""
    return CELLS.run_cells("code-1")


# -- Exercise 1: the gradients of three losses ---------------------------------------------------------------
LOSSES_HEAD = """
def mse_grad(Y_hat, Y):
    return (Y_hat - Y) * (2 / Y_hat.size)


def bce_grad(P, Y):
    return (P - Y) / (P * (1 - P) * P.size)
"""

LOSSES_RIGHT = {
    "float64 one-hot (np.eye)": LOSSES_HEAD + """
def softmax_ce_grad(Z, y):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return (E / E.sum(axis=1, keepdims=True) - np.eye(Z.shape[1])[y]) / len(Z)
""",
    "float64 one-hot (np.zeros), log-sum-exp": """
def mse_grad(Y_hat, Y):
    return np.multiply(2.0 / Y_hat.size, np.subtract(Y_hat, Y))


def bce_grad(P, Y):
    return (-Y / P + (1 - Y) / (1 - P)) / P.size


def softmax_ce_grad(Z, y):
    N, C = Z.shape
    shifted = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))
    Y = np.zeros((N, C))
    Y[np.arange(N), y] = 1
    return (P - Y) / N
""",
}

LOSSES_WRONG = {
    "no max subtracted, warnings silenced": LOSSES_HEAD + """
def softmax_ce_grad(Z, y):
    with np.errstate(all="ignore"):
        E = np.exp(Z)
        P = E / E.sum(axis=1, keepdims=True)
    P[np.arange(len(Z)), y] -= 1
    return P / len(Z)
""",
    "mse divided by the number of rows": """
def mse_grad(Y_hat, Y):
    return 2 * (Y_hat - Y) / len(Y_hat)
""" + LOSSES_HEAD.split("\n\n\n")[1] + """

def softmax_ce_grad(Z, y):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return (E / E.sum(axis=1, keepdims=True) - np.eye(Z.shape[1])[y]) / len(Z)
""",
    "softmax gradient without 1/N": LOSSES_HEAD + """
def softmax_ce_grad(Z, y):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True) - np.eye(Z.shape[1])[y]
""",
}


@pytest.mark.parametrize("name", LOSSES_RIGHT)
def test_loss_gradients_accept_right_answers(setup, name):
    run_test_cell(setup, LOSSES_RIGHT[name], "test_loss_gradients")


@pytest.mark.parametrize("name", LOSSES_WRONG)
def test_loss_gradients_refuse_wrong_answers(setup, name):
    fails(setup, LOSSES_WRONG[name], "test_loss_gradients")


def test_a_float16_result_is_still_refused(setup):
    answer = LOSSES_RIGHT["float64 one-hot (np.eye)"] + """
_right = softmax_ce_grad
def softmax_ce_grad(Z, y):
    return _right(Z, y).astype(np.float16)
"""
    fails(setup, answer, "test_loss_gradients")


# -- Exercise 3: backward through a two-layer network --------------------------------------------------------
TWO_LAYER_RIGHT = {
    "float64 one-hot": """
def two_layer_backward(X, y, W1, b1, W2, b2):
    N = len(X)
    Z1 = X @ W1.T + b1
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ W2.T + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    dZ2 = (E / E.sum(axis=1, keepdims=True) - np.eye(W2.shape[0])[y]) / N
    dZ1 = (dZ2 @ W2) * (Z1 > 0)
    return {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ A1, "b2": dZ2.sum(axis=0)}
""",
    "F.softmax and a one-hot in P's dtype": """
def two_layer_backward(X, y, W1, b1, W2, b2):
    Z1 = X @ W1.T + b1
    A1 = F.relu(Z1)
    P = F.softmax(A1 @ W2.T + b2)
    Y = np.zeros_like(P)
    Y[np.arange(len(y)), y] = 1
    dZ2 = (P - Y) / len(y)
    dZ1 = np.where(Z1 > 0, dZ2 @ W2, 0)
    return dict(W2=np.einsum("nc,nh->ch", dZ2, A1), b2=dZ2.sum(0), W1=np.einsum("nh,nd->hd", dZ1, X),
                b1=dZ1.sum(0))
""",
}

TWO_LAYER_WRONG = {
    "no max subtracted, warnings silenced": """
def two_layer_backward(X, y, W1, b1, W2, b2):
    N = len(X)
    Z1 = X @ W1.T + b1
    A1 = np.maximum(Z1, 0)
    with np.errstate(all="ignore"):
        E = np.exp(A1 @ W2.T + b2)
        dZ2 = (E / E.sum(axis=1, keepdims=True) - np.eye(W2.shape[0])[y]) / N
    dZ1 = (dZ2 @ W2) * (Z1 > 0)
    return {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ A1, "b2": dZ2.sum(axis=0)}
""",
    "no 1/N": """
def two_layer_backward(X, y, W1, b1, W2, b2):
    Z1 = X @ W1.T + b1
    A1 = F.relu(Z1)
    dZ2 = F.softmax(A1 @ W2.T + b2)
    dZ2[np.arange(len(y)), y] -= 1
    dZ1 = (dZ2 @ W2) * F.relu_grad(Z1)
    return {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ A1, "b2": dZ2.sum(axis=0)}
""",
    "A1 in place of relu'(Z1)": """
def two_layer_backward(X, y, W1, b1, W2, b2):
    N = len(y)
    Z1 = X @ W1.T + b1
    A1 = F.relu(Z1)
    dZ2 = F.softmax(A1 @ W2.T + b2)
    dZ2[np.arange(N), y] -= 1
    dZ2 /= N
    dZ1 = (dZ2 @ W2) * A1
    return {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ A1, "b2": dZ2.sum(axis=0)}
""",
}


@pytest.mark.parametrize("name", TWO_LAYER_RIGHT)
def test_two_layer_backward_accepts_right_answers(setup, name):
    run_test_cell(setup, TWO_LAYER_RIGHT[name], "test_two_layer_backward")


@pytest.mark.parametrize("name", TWO_LAYER_WRONG)
def test_two_layer_backward_refuses_wrong_answers(setup, name):
    fails(setup, TWO_LAYER_WRONG[name], "test_two_layer_backward")


# -- Exercise 4: the gradient checker ------------------------------------------------------------------------
RELATIVE_ERROR = """
def relative_error(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-3)))
"""

GRADIENT_CHECK_RIGHT = {
    "a copy per entry": """
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def relative_error(a, b):
    return np.abs(a - b).__truediv__(np.clip(np.abs(a) + np.abs(b), 1e-3, None)).max().item()
""",
    "a flat view, in place, the saved value put back": """
def numerical_gradient(f, x, eps=1e-6):
    flat = x.reshape(-1)                      # a view of x
    grad = np.empty(flat.size, dtype=np.float64)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + eps
        up = f(x)
        flat[k] = saved - eps
        down = f(x)
        flat[k] = saved
        grad[k] = (up - down) / (2 * eps)
    return grad.reshape(x.shape)
""" + RELATIVE_ERROR,
}

GRADIENT_CHECK_WRONG = {
    "restored by subtracting eps": """
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        x[i] += eps
        up = f(x)
        x[i] -= 2 * eps
        down = f(x)
        x[i] += eps
        grad[i] = (up - down) / (2 * eps)
    return grad
""" + RELATIVE_ERROR,
    "one-sided differences": """
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    f0 = f(x)
    for i in np.ndindex(x.shape):
        old = x[i].copy()
        x[i] = old + eps
        grad[i] = (f(x) - f0) / eps
        x[i] = old
    return grad
""" + RELATIVE_ERROR,
    "a floor of 1e-8": GRADIENT_CHECK_RIGHT["a copy per entry"].split("def relative_error")[0] + """
def relative_error(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))
""",
}


@pytest.mark.parametrize("name", GRADIENT_CHECK_RIGHT)
def test_gradient_check_accepts_right_answers(setup, name):
    run_test_cell(setup, GRADIENT_CHECK_RIGHT[name], "test_gradient_check")


@pytest.mark.parametrize("name", GRADIENT_CHECK_WRONG)
def test_gradient_check_refuses_wrong_answers(setup, name):
    fails(setup, GRADIENT_CHECK_WRONG[name], "test_gradient_check")


def test_a_rounded_restore_is_named_for_what_it_is(setup):
    fails(setup, GRADIENT_CHECK_WRONG["restored by subtracting eps"], "test_gradient_check",
          match="restore each entry with the value saved before")


# -- Exercise 5: the minibatch generator ---------------------------------------------------------------------
MINIBATCHES_RIGHT = {
    "np.split of a permutation": """
def minibatches(X, y, batch_size, rng):
    for index in np.split(rng.permutation(len(X)), range(batch_size, len(X), batch_size)):
        yield X[index], y[index]
""",
    "rng.shuffle of the indices": """
def minibatches(X, y, batch_size, rng):
    index = np.arange(len(X))
    rng.shuffle(index)
    start = 0
    while start < len(X):
        chosen = index[start:start + batch_size]
        yield X[chosen], y[chosen]
        start += batch_size
""",
}

MINIBATCHES_WRONG = {
    "the global generator": """
def minibatches(X, y, batch_size, rng):
    order = np.random.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]
""",
    "a fresh unseeded generator": """
def minibatches(X, y, batch_size, rng):
    order = np.random.default_rng().permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]
""",
    "the last partial batch dropped": """
def minibatches(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    for start in range(0, len(X) - batch_size + 1, batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]
""",
}


@pytest.mark.parametrize("name", MINIBATCHES_RIGHT)
def test_minibatches_accept_right_answers(setup, name):
    run_test_cell(setup, MINIBATCHES_RIGHT[name], "test_minibatches")


@pytest.mark.parametrize("name", MINIBATCHES_WRONG)
def test_minibatches_refuse_wrong_answers(setup, name):
    fails(setup, MINIBATCHES_WRONG[name], "test_minibatches")


# -- Exercise 6: the SGD update ------------------------------------------------------------------------------
INVERSE_TIME = """
def inverse_time_lr(lr0, decay, epoch):
    return lr0 / (1 + decay * epoch)
"""

SGD_RIGHT = {
    "np.subtract with out=": INVERSE_TIME + """
def sgd_step(params, lr):
    for p in params:
        np.subtract(p.data, lr * p.grad, out=p.data)
""",
    "slice assignment": """
def inverse_time_lr(lr0, decay, epoch):
    return float(lr0) * (1.0 / (1.0 + decay * epoch))


def sgd_step(params, lr):
    for p in params:
        p.data[...] = p.data - lr * p.grad
""",
}

SGD_WRONG = {
    "a new array": INVERSE_TIME + """
def sgd_step(params, lr):
    for p in params:
        p.data = p.data - lr * p.grad
""",
    "uphill": INVERSE_TIME + """
def sgd_step(params, lr):
    for p in params:
        p.data += lr * p.grad
""",
    "exponential decay": """
def inverse_time_lr(lr0, decay, epoch):
    return lr0 / (1 + decay) ** epoch


def sgd_step(params, lr):
    for p in params:
        p.data -= lr * p.grad
""",
}


@pytest.mark.parametrize("name", SGD_RIGHT)
def test_sgd_schedule_accepts_right_answers(setup, name):
    run_test_cell(setup, SGD_RIGHT[name], "test_sgd_schedule")


@pytest.mark.parametrize("name", SGD_WRONG)
def test_sgd_schedule_refuses_wrong_answers(setup, name):
    fails(setup, SGD_WRONG[name], "test_sgd_schedule")


# -- Exercise 7: He and Xavier initialization ----------------------------------------------------------------
HE = """
def he_normal(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)).astype(np.float32)
"""
XAVIER = """
def xavier_uniform(fan_in, fan_out, rng):
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, size=(fan_out, fan_in)).astype(np.float32)
"""

INIT_RIGHT = {
    "scaled standard draws": """
def he_normal(fan_in, fan_out, rng):
    return (np.sqrt(2 / fan_in) * rng.standard_normal((fan_out, fan_in))).astype(np.float32)


def xavier_uniform(fan_in, fan_out, rng):
    r = (6 / (fan_in + fan_out)) ** 0.5
    return (r * (2 * rng.random((fan_out, fan_in)) - 1)).astype(np.float32)
""",
    "float32 draws, keywords": """
def he_normal(fan_in, fan_out, rng):
    return rng.standard_normal(size=(fan_out, fan_in), dtype=np.float32) * np.float32(np.sqrt(2 / fan_in))


def xavier_uniform(fan_in, fan_out, rng):
    bound = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(low=-bound, high=bound, size=(fan_out, fan_in)).astype("float32")
""",
}

INIT_WRONG = {
    "He as a uniform of He's variance": """
def he_normal(fan_in, fan_out, rng):
    r = np.sqrt(3 * 2.0 / fan_in)
    return rng.uniform(-r, r, size=(fan_out, fan_in)).astype(np.float32)
""" + XAVIER,
    "np.random instead of the rng": """
def he_normal(fan_in, fan_out, rng):
    return np.random.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)).astype(np.float32)
""" + XAVIER,
    "Xavier as a normal of Xavier's variance, clipped to the range": HE + """
def xavier_uniform(fan_in, fan_out, rng):
    r = np.sqrt(6.0 / (fan_in + fan_out))
    W = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_out, fan_in))
    return np.clip(W * 1.06, -r, r).astype(np.float32)
""",
}


@pytest.mark.parametrize("name", INIT_RIGHT)
def test_initialization_accepts_right_answers(setup, name):
    run_test_cell(setup, INIT_RIGHT[name], "test_initialization")


@pytest.mark.parametrize("name", INIT_WRONG)
def test_initialization_refuses_wrong_answers(setup, name):
    fails(setup, INIT_WRONG[name], "test_initialization")


def test_the_solutions_pass_every_test_cell_changed_here(setup):
    """The stored solutions, as nbgrader's full-solution student types them."""
    for answer_id, test_id in [("loss_gradients", "test_loss_gradients"),
                               ("two_layer_backward", "test_two_layer_backward"),
                               ("gradient_check", "test_gradient_check"), ("minibatches", "test_minibatches"),
                               ("sgd_schedule", "test_sgd_schedule"),
                               ("initialization", "test_initialization")]:
        run_test_cell(setup, cell(answer_id), test_id)
