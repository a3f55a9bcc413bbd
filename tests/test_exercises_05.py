"""Chapter 05's graded test cells against alternative answers: fair both ways.

Each exercise gets two correct answers written differently from the solution (they must pass the
whole test cell, visible and hidden parts, as nbgrader runs it from solutions/) and three or more
plausible wrong ones (they must fail it). The cells run here as they are stored, after the
notebook's import and data cells, so a change to a test cell is tested as it is.
"""
import pytest
from exercise_cells import ExerciseCells

pytestmark = pytest.mark.chapter05

CELLS = ExerciseCells("05_cnns")
cell, run_test_cell, fails = CELLS.cell, CELLS.run_test_cell, CELLS.fails


@pytest.fixture(scope="module")
def setup():
    """The notebook's namespace after its import cell and its data cell, as a test cell finds it."""
    return CELLS.run_cells("code-1", "code-2")


def test_the_solutions_pass_their_own_cells(setup):
    for solution_id, test_id in [("edge_kernel", "test_edge_kernel"),
                                 ("conv_output_size", "test_conv_output_size"), ("zero_pad", "test_zero_pad"),
                                 ("conv2d_single", "test_conv2d_single"),
                                 ("conv_parameters", "test_conv_parameters"),
                                 ("conv2d_forward", "test_conv2d_forward"),
                                 ("conv2d_backward", "test_conv2d_backward"), ("maxpool", "test_maxpool"),
                                 ("build_cnn", "test_build_cnn")]:
        run_test_cell(setup, cell(solution_id), test_id)


# -- Exercise 1: a diagonal edge detector ------------------------------------------------------------------
EDGE_RIGHT = {
    "a lighter rotated Sobel": """
def edge_kernel():
    return np.array([[-1.0, -1.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
""",
    "u + v - 2, built with np.add.outer": """
def edge_kernel():
    return (np.add.outer(np.arange(3), np.arange(3)) - 2).astype(float)
""",
    "two corners only": """
def edge_kernel():
    K = np.zeros((3, 3))
    K[0, 0], K[2, 2] = -1.0, 1.0
    return K
""",
}

EDGE_WRONG = {
    "Sobel x (vertical edges)": """
def edge_kernel():
    return np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
""",
    "the other diagonal": """
def edge_kernel():
    return np.array([[0.0, -1, -2], [1, 0, -1], [2, 1, 0]])
""",
    "signs swapped (bright above)": """
def edge_kernel():
    return -(np.add.outer(np.arange(3), np.arange(3)) - 2.0)
""",
    "integer entries": """
def edge_kernel():
    return np.array([[-2, -1, 0], [-1, 0, 1], [0, 1, 2]])
""",
}


@pytest.mark.parametrize("name", EDGE_RIGHT)
def test_edge_kernel_accepts_right_answers(setup, name):
    run_test_cell(setup, EDGE_RIGHT[name], "test_edge_kernel")


@pytest.mark.parametrize("name", EDGE_WRONG)
def test_edge_kernel_refuses_wrong_answers(setup, name):
    fails(setup, EDGE_WRONG[name], "test_edge_kernel")


# -- Exercise 2: the output size -----------------------------------------------------------------------------
SIZE_RIGHT = {
    "math.floor of a true division": """
import math
def conv_output_size(size, kernel, padding=0, stride=1):
    return int(math.floor((size + 2 * padding - kernel) / stride)) + 1
""",
    "counting the window starts": """
def conv_output_size(size, kernel, padding=0, stride=1):
    return len(range(0, size + 2 * padding - kernel + 1, stride))
""",
}

SIZE_WRONG = {
    "a float (true division)": """
def conv_output_size(size, kernel, padding=0, stride=1):
    return (size + 2 * padding - kernel) / stride + 1
""",
    "padding on one side only": """
def conv_output_size(size, kernel, padding=0, stride=1):
    return (size + padding - kernel) // stride + 1
""",
    "+ 1 inside the floor": """
def conv_output_size(size, kernel, padding=0, stride=1):
    return (size + 2 * padding - kernel + 1) // stride
""",
    "np.floor (a float)": """
def conv_output_size(size, kernel, padding=0, stride=1):
    return np.floor((size + 2 * padding - kernel) / stride) + 1
""",
}


@pytest.mark.parametrize("name", SIZE_RIGHT)
def test_output_size_accepts_right_answers(setup, name):
    run_test_cell(setup, SIZE_RIGHT[name], "test_conv_output_size")


@pytest.mark.parametrize("name", SIZE_WRONG)
def test_output_size_refuses_wrong_answers(setup, name):
    fails(setup, SIZE_WRONG[name], "test_conv_output_size")


# -- Exercise 3: zero padding --------------------------------------------------------------------------------
PAD_RIGHT = {
    "np.pad on the last two axes": """
def zero_pad(x, padding):
    return np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)], mode="constant")
""",
    "zeros_like of the padded shape, slices from the end": """
def zero_pad(x, padding):
    N, C, h, w = x.shape
    out = np.zeros((N, C, h + 2 * padding, w + 2 * padding), x.dtype)
    out[..., padding:out.shape[-2] - padding, padding:out.shape[-1] - padding] = x
    return out
""",
}

PAD_WRONG = {
    "float64 zeros (dtype lost)": """
def zero_pad(x, padding):
    N, C, h, w = x.shape
    out = np.zeros((N, C, h + 2 * padding, w + 2 * padding))
    out[:, :, padding:padding + h, padding:padding + w] = x
    return out
""",
    "all the padding on one side": """
def zero_pad(x, padding):
    return np.pad(x, [(0, 0), (0, 0), (0, 2 * padding), (0, 2 * padding)])
""",
    "every axis padded": """
def zero_pad(x, padding):
    return np.pad(x, padding)
""",
}


@pytest.mark.parametrize("name", PAD_RIGHT)
def test_zero_pad_accepts_right_answers(setup, name):
    run_test_cell(setup, PAD_RIGHT[name], "test_zero_pad")


@pytest.mark.parametrize("name", PAD_WRONG)
def test_zero_pad_refuses_wrong_answers(setup, name):
    fails(setup, PAD_WRONG[name], "test_zero_pad")


# -- Exercise 4: the convolution with loops ------------------------------------------------------------------
SINGLE_RIGHT = {
    "four loops, a running sum": """
def conv2d_single(x, kernel):
    k1, k2 = kernel.shape
    y = np.zeros((x.shape[0] - k1 + 1, x.shape[1] - k2 + 1), dtype=x.dtype)
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            total = 0.0
            for u in range(k1):
                for v in range(k2):
                    total += kernel[u, v] * x[i + u, j + v]
            y[i, j] = total
    return y
""",
    "np.vdot of each window": """
def conv2d_single(x, kernel):
    k1, k2 = kernel.shape
    rows = [[np.vdot(x[i:i + k1, j:j + k2], kernel) for j in range(x.shape[1] - k2 + 1)]
            for i in range(x.shape[0] - k1 + 1)]
    return np.array(rows, dtype=x.dtype)
""",
}

SINGLE_WRONG = {
    "the kernel flipped (a true convolution)": """
def conv2d_single(x, kernel):
    k1, k2 = kernel.shape
    y = np.zeros((x.shape[0] - k1 + 1, x.shape[1] - k2 + 1), dtype=x.dtype)
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = np.sum(x[i:i + k1, j:j + k2] * kernel[::-1, ::-1])
    return y
""",
    "one output position too few": """
def conv2d_single(x, kernel):
    k1, k2 = kernel.shape
    y = np.zeros((x.shape[0] - k1, x.shape[1] - k2), dtype=x.dtype)
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = np.sum(x[i:i + k1, j:j + k2] * kernel)
    return y
""",
    "float64 whatever the input": """
def conv2d_single(x, kernel):
    k1, k2 = kernel.shape
    y = np.zeros((x.shape[0] - k1 + 1, x.shape[1] - k2 + 1))
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = np.sum(x[i:i + k1, j:j + k2] * kernel)
    return y
""",
    "square kernels only": """
def conv2d_single(x, kernel):
    k = kernel.shape[0]
    y = np.zeros((x.shape[0] - k + 1, x.shape[1] - k + 1), dtype=x.dtype)
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = np.sum(x[i:i + k, j:j + k] * kernel[:k, :k])
    return y
""",
}


@pytest.mark.parametrize("name", SINGLE_RIGHT)
def test_conv2d_single_accepts_right_answers(setup, name):
    run_test_cell(setup, SINGLE_RIGHT[name], "test_conv2d_single")


@pytest.mark.parametrize("name", SINGLE_WRONG)
def test_conv2d_single_refuses_wrong_answers(setup, name):
    fails(setup, SINGLE_WRONG[name], "test_conv2d_single")


def test_conv2d_single_may_not_call_the_reference(setup):
    answer = "def conv2d_single(x, kernel):\n    return CNN.correlate2d(x, kernel)\n"
    fails(setup, answer, "test_conv2d_single", match="Honesty check")


# -- Exercise 5: the parameter count -------------------------------------------------------------------------
PARAMS_RIGHT = {
    "factored": """
def conv_parameters(c_in, c_out, k, bias=True):
    return c_out * (c_in * k ** 2 + int(bias))
""",
    "counted on a real layer": """
def conv_parameters(c_in, c_out, k, bias=True):
    return sum(p.data.size for p in nn.Conv2d(c_in, c_out, k, bias=bias).parameters())
""",
}

PARAMS_WRONG = {
    "no biases": """
def conv_parameters(c_in, c_out, k, bias=True):
    return c_out * c_in * k * k
""",
    "biases even without bias": """
def conv_parameters(c_in, c_out, k, bias=True):
    return c_out * (c_in * k * k + 1)
""",
    "one filter": """
def conv_parameters(c_in, c_out, k, bias=True):
    return c_in * k * k + (1 if bias else 0)
""",
}


@pytest.mark.parametrize("name", PARAMS_RIGHT)
def test_conv_parameters_accepts_right_answers(setup, name):
    run_test_cell(setup, PARAMS_RIGHT[name], "test_conv_parameters")


@pytest.mark.parametrize("name", PARAMS_WRONG)
def test_conv_parameters_refuses_wrong_answers(setup, name):
    fails(setup, PARAMS_WRONG[name], "test_conv_parameters")


# -- Exercise 6: the vectorised forward pass -----------------------------------------------------------------
WINDOWS = """
def _windows(x, kh, kw, stride, padding):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    return np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
"""

FORWARD_RIGHT = {
    "einsum over the windows": WINDOWS + """
def conv2d_forward(x, weight, bias, stride=1, padding=0):
    win = _windows(x, weight.shape[2], weight.shape[3], stride, padding)
    return np.einsum("ncijuv,ocuv->noij", win, weight) + bias[None, :, None, None]
""",
    "a loop over the kernel offsets": """
def conv2d_forward(x, weight, bias, stride=1, padding=0):
    C_out, C_in, kh, kw = weight.shape
    xp = CNN.zero_pad(x, padding)
    h_out = (xp.shape[2] - kh) // stride + 1
    w_out = (xp.shape[3] - kw) // stride + 1
    y = np.zeros((x.shape[0], C_out, h_out, w_out), dtype=x.dtype) + bias[None, :, None, None]
    for u in range(kh):
        for v in range(kw):
            patch = xp[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride]   # (N, C_in, h', w')
            y += np.einsum("ncij,oc->noij", patch, weight[:, :, u, v])
    return y
""",
}

FORWARD_WRONG = {
    "the stride ignored": WINDOWS + """
def conv2d_forward(x, weight, bias, stride=1, padding=0):
    win = _windows(x, weight.shape[2], weight.shape[3], 1, padding)
    return np.einsum("ncijuv,ocuv->noij", win, weight) + bias[None, :, None, None]
""",
    "the kernel flipped": WINDOWS + """
def conv2d_forward(x, weight, bias, stride=1, padding=0):
    win = _windows(x, weight.shape[2], weight.shape[3], stride, padding)
    return np.einsum("ncijuv,ocuv->noij", win, weight[:, :, ::-1, ::-1]) + bias[None, :, None, None]
""",
    "float64 bias added to float32": WINDOWS + """
def conv2d_forward(x, weight, bias, stride=1, padding=0):
    win = _windows(x, weight.shape[2], weight.shape[3], stride, padding)
    return np.einsum("ncijuv,ocuv->noij", win, weight) + bias.astype(np.float64)[None, :, None, None]
""",
    "the bias on the wrong axis": WINDOWS + """
def conv2d_forward(x, weight, bias, stride=1, padding=0):
    win = _windows(x, weight.shape[2], weight.shape[3], stride, padding)
    y = np.einsum("ncijuv,ocuv->noij", win, weight)
    return y + bias.mean()
""",
}


@pytest.mark.parametrize("name", FORWARD_RIGHT)
def test_conv2d_forward_accepts_right_answers(setup, name):
    run_test_cell(setup, FORWARD_RIGHT[name], "test_conv2d_forward")


@pytest.mark.parametrize("name", FORWARD_WRONG)
def test_conv2d_forward_refuses_wrong_answers(setup, name):
    fails(setup, FORWARD_WRONG[name], "test_conv2d_forward")


def test_conv2d_forward_may_not_use_the_layer(setup):
    answer = """
def conv2d_forward(x, weight, bias, stride=1, padding=0):
    layer = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2:], stride=stride, padding=padding)
    layer.to(x.dtype)
    layer.weight.data[...] = weight
    layer.bias.data[...] = bias
    return layer(x)
"""
    fails(setup, answer, "test_conv2d_forward", match="Honesty check")


# -- Exercise 7: the backward pass ---------------------------------------------------------------------------
BACKWARD_RIGHT = {
    "einsum for dW, a loop over the offsets for dx": WINDOWS + """
def conv2d_backward(x, weight, grad_out, stride=1, padding=0):
    N, C_in, h, w = x.shape
    C_out, _, kh, kw = weight.shape
    win = _windows(x, kh, kw, stride, padding)                          # (N, C_in, h', w', kh, kw)
    h_out, w_out = win.shape[2:4]
    dW = np.einsum("ncijuv,noij->ocuv", win, grad_out)
    db = grad_out.sum(axis=(0, 2, 3))
    dxp = np.zeros((N, C_in, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride] += \\
                np.einsum("noij,oc->ncij", grad_out, weight[:, :, u, v])
    return dxp[:, :, padding:padding + h, padding:padding + w], dW, db
""",
    "im2col with one row per output position": WINDOWS + """
def conv2d_backward(x, weight, grad_out, stride=1, padding=0):
    N, C_in, h, w = x.shape
    C_out, _, kh, kw = weight.shape
    win = _windows(x, kh, kw, stride, padding)
    h_out, w_out = win.shape[2:4]
    rows = win.transpose(0, 2, 3, 1, 4, 5).reshape(N * h_out * w_out, C_in * kh * kw)   # (N h'w', C k k)
    g = grad_out.transpose(0, 2, 3, 1).reshape(N * h_out * w_out, C_out)                # (N h'w', C_out)
    dW = (g.T @ rows).reshape(weight.shape)
    drows = (g @ weight.reshape(C_out, -1)).reshape(N, h_out, w_out, C_in, kh, kw)
    dxp = np.zeros((N, C_in, h + 2 * padding, w + 2 * padding), dtype=np.result_type(x, weight))
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride] += \\
                drows[..., u, v].transpose(0, 3, 1, 2)
    return dxp[:, :, padding:padding + h, padding:padding + w], dW, g.sum(axis=0)
""",
}

BACKWARD_WRONG = {
    "= instead of += in col2im": WINDOWS + """
def conv2d_backward(x, weight, grad_out, stride=1, padding=0):
    N, C_in, h, w = x.shape
    C_out, _, kh, kw = weight.shape
    win = _windows(x, kh, kw, stride, padding)
    h_out, w_out = win.shape[2:4]
    dxp = np.zeros((N, C_in, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride] = \\
                np.einsum("noij,oc->ncij", grad_out, weight[:, :, u, v])
    return (dxp[:, :, padding:padding + h, padding:padding + w],
            np.einsum("ncijuv,noij->ocuv", win, grad_out),
            grad_out.sum(axis=(0, 2, 3)))
""",
    "db averaged over the batch": WINDOWS + """
def conv2d_backward(x, weight, grad_out, stride=1, padding=0):
    N, C_in, h, w = x.shape
    C_out, _, kh, kw = weight.shape
    win = _windows(x, kh, kw, stride, padding)
    h_out, w_out = win.shape[2:4]
    dxp = np.zeros((N, C_in, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride] += \\
                np.einsum("noij,oc->ncij", grad_out, weight[:, :, u, v])
    return (dxp[:, :, padding:padding + h, padding:padding + w],
            np.einsum("ncijuv,noij->ocuv", win, grad_out),
            grad_out.mean(axis=0).sum(axis=(1, 2)))
""",
    "dx through the flipped kernel": WINDOWS + """
def conv2d_backward(x, weight, grad_out, stride=1, padding=0):
    N, C_in, h, w = x.shape
    C_out, _, kh, kw = weight.shape
    win = _windows(x, kh, kw, stride, padding)
    h_out, w_out = win.shape[2:4]
    flipped = weight[:, :, ::-1, ::-1]
    dxp = np.zeros((N, C_in, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride] += \\
                np.einsum("noij,oc->ncij", grad_out, flipped[:, :, u, v])
    return (dxp[:, :, padding:padding + h, padding:padding + w],
            np.einsum("ncijuv,noij->ocuv", win, grad_out),
            grad_out.sum(axis=(0, 2, 3)))
""",
}


@pytest.mark.parametrize("name", BACKWARD_RIGHT)
def test_conv2d_backward_accepts_right_answers(setup, name):
    run_test_cell(setup, BACKWARD_RIGHT[name], "test_conv2d_backward")


@pytest.mark.parametrize("name", BACKWARD_WRONG)
def test_conv2d_backward_refuses_wrong_answers(setup, name):
    fails(setup, BACKWARD_WRONG[name], "test_conv2d_backward")


# -- Exercise 8: max pooling ---------------------------------------------------------------------------------
POOL_RIGHT = {
    "a loop over the window offsets, the first winner claims": """
def maxpool_forward(x, k):
    ho, wo = x.shape[2] // k, x.shape[3] // k
    y = x[:, :, 0:ho * k:k, 0:wo * k:k].copy()
    for u in range(k):
        for v in range(k):
            y = np.maximum(y, x[:, :, u:ho * k:k, v:wo * k:k])
    return y


def maxpool_backward(x, grad_out, k):
    ho, wo = x.shape[2] // k, x.shape[3] // k
    y = maxpool_forward(x, k)
    dx = np.zeros(x.shape, dtype=grad_out.dtype)
    unclaimed = np.ones(y.shape, dtype=bool)
    for u in range(k):
        for v in range(k):
            wins = (x[:, :, u:ho * k:k, v:wo * k:k] == y) & unclaimed
            dx[:, :, u:ho * k:k, v:wo * k:k] = grad_out * wins
            unclaimed &= ~wins
    return dx
""",
    "a one-hot of argmax via np.eye": """
def _windows(x, k):
    N, C, h, w = x.shape
    ho, wo = h // k, w // k
    return x[:, :, :ho * k, :wo * k].reshape(N, C, ho, k, wo, k).transpose(0, 1, 2, 4, 3, 5).reshape(
        N, C, ho, wo, k * k)


def maxpool_forward(x, k):
    return _windows(x, k).max(axis=-1)


def maxpool_backward(x, grad_out, k):
    N, C, h, w = x.shape
    ho, wo = h // k, w // k
    onehot = np.eye(k * k, dtype=grad_out.dtype)[_windows(x, k).argmax(axis=-1)]     # (N, C, ho, wo, k*k)
    d = (onehot * grad_out[..., None]).reshape(N, C, ho, wo, k, k).transpose(0, 1, 2, 4, 3, 5)
    dx = np.zeros(x.shape, dtype=grad_out.dtype)
    dx[:, :, :ho * k, :wo * k] = d.reshape(N, C, ho * k, wo * k)
    return dx
""",
}

POOL_HEAD = POOL_RIGHT["a one-hot of argmax via np.eye"].split("def maxpool_backward")[0]
POOL_WRONG = {
    "the gradient to every tied maximum": POOL_HEAD + """
def maxpool_backward(x, grad_out, k):
    N, C, h, w = x.shape
    ho, wo = h // k, w // k
    win = _windows(x, k)
    mask = win == win.max(axis=-1, keepdims=True)
    d = (mask * grad_out[..., None]).reshape(N, C, ho, wo, k, k).transpose(0, 1, 2, 4, 3, 5)
    dx = np.zeros(x.shape, dtype=grad_out.dtype)
    dx[:, :, :ho * k, :wo * k] = d.reshape(N, C, ho * k, wo * k)
    return dx
""",
    "the last maximum": POOL_HEAD + """
def maxpool_backward(x, grad_out, k):
    N, C, h, w = x.shape
    ho, wo = h // k, w // k
    last = k * k - 1 - _windows(x, k)[..., ::-1].argmax(axis=-1)
    onehot = np.eye(k * k, dtype=grad_out.dtype)[last]
    d = (onehot * grad_out[..., None]).reshape(N, C, ho, wo, k, k).transpose(0, 1, 2, 4, 3, 5)
    dx = np.zeros(x.shape, dtype=grad_out.dtype)
    dx[:, :, :ho * k, :wo * k] = d.reshape(N, C, ho * k, wo * k)
    return dx
""",
    "average pooling forward": POOL_RIGHT["a one-hot of argmax via np.eye"].replace(
        "return _windows(x, k).max(axis=-1)", "return _windows(x, k).mean(axis=-1)"),
    "the window's gradient spread evenly": POOL_HEAD + """
def maxpool_backward(x, grad_out, k):
    share = np.repeat(np.repeat(grad_out / (k * k), k, axis=2), k, axis=3)
    dx = np.zeros(x.shape, dtype=grad_out.dtype)
    dx[:, :, :share.shape[2], :share.shape[3]] = share
    return dx
""",
}


@pytest.mark.parametrize("name", POOL_RIGHT)
def test_maxpool_accepts_right_answers(setup, name):
    run_test_cell(setup, POOL_RIGHT[name], "test_maxpool")


@pytest.mark.parametrize("name", POOL_WRONG)
def test_maxpool_refuses_wrong_answers(setup, name):
    fails(setup, POOL_WRONG[name], "test_maxpool")


# -- Exercise 9: a small CNN on the digits -------------------------------------------------------------------
CNN_RIGHT = {
    "one wide 3x3 stage, no padding": """
def build_cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 3 * 3, 10))
""",
    "two convolutions, then one pool": """
def build_cnn():
    layers = [nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10)]
    return nn.Sequential(*layers)
""",
}

CNN_WRONG = {
    "no convolution (an MLP)": """
def build_cnn():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
""",
    "a Linear of the wrong input size": """
def build_cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 8 * 8, 10))
""",
    "too many parameters": """
def build_cnn():
    return nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 8 * 8, 10))
""",
    "one 8x8 filter: too little to learn": """
def build_cnn():
    return nn.Sequential(nn.Conv2d(1, 1, 8), nn.Flatten(), nn.Linear(1, 10))
""",
}


@pytest.mark.parametrize("name", CNN_RIGHT)
def test_build_cnn_accepts_right_answers(setup, name):
    run_test_cell(setup, CNN_RIGHT[name], "test_build_cnn")


@pytest.mark.parametrize("name", CNN_WRONG)
def test_build_cnn_refuses_wrong_answers(setup, name):
    fails(setup, CNN_WRONG[name], "test_build_cnn")
