r"""Chapter 05: convolutional networks. Its experiments, its references and the checks its test cells call.

Notation (the chapter's, after jupyter_book/notation.md): images are (N, C, h, w), a
convolution's weight W is (C_out, C_in, k, k) (or (C_out, C_in, kh, kw)), its bias b is
(C_out,), P is the zero padding and s the stride on each side. Lower-case h, w are the
height and width of an image (upper-case H and W name hidden units and weights).

    output size      h' = floor((h + 2P - k) / s) + 1
    correlation      Y[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] Xp[n, c, s i + u, s j + v]
    convolution      the same sum with the kernel flipped: W[o, c, k-1-u, k-1-v]
    im2col           cols[(c, u, v), (n, i, j)] = Xp[n, c, s i + u, s j + v];  Y_mat = W_mat cols + b
    backward         db[o] = sum_{n,i,j} G[n, o, i, j]
                     dW[o, c, u, v] = sum_{n,i,j} G[n, o, i, j] Xp[n, c, s i + u, s j + v]
                     dXp[n, c, s i + u, s j + v] += sum_o W[o, c, u, v] G[n, o, i, j]
    max pooling      Y[n, c, i, j] = max_{u, v} X[n, c, k i + u, k j + v]
                     dX gets G at each window's first maximum
    receptive field  r_l = r_{l-1} + (k_l - 1) j_{l-1},  j_l = j_{l-1} s_l,  r_0 = j_0 = 1

The references a graded exercise re-implements are decorated with ``@reference``
(forbidden while the student's answer runs):

    correlate2d(x, kernel)                          one (h, w) image, stride 1, no padding
    conv_output_size(size, kernel, padding, stride) the formula above
    zero_pad(x, padding)                            (N, C, h, w) -> (N, C, h + 2P, w + 2P)
    conv_parameters(c_in, c_out, k, bias)           C_out (C_in k k + 1)
    conv2d_forward(x, weight, bias, stride, padding)           im2col and one matrix product
    conv2d_backward(x, weight, grad_out, stride, padding)      (dx, dW, db)
    maxpool_forward(x, k), maxpool_backward(x, grad_out, k)    k x k windows, stride k

The checks of the test cells:

    check_edge_kernel(fn)                           a hand-set kernel detects the diagonal edge asked for
    check_digits_cnn(build_fn, X_train, ...)        the student's small CNN reaches the accuracy asked for

The explorers' drawing lives in ``dlcourse.widgets.cnns``.
"""
import functools
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from . import checks, losses, nn, optim, train
from ._validate import as_real_array, check_ndim
from .honesty import forbid, reference

__all__ = [
    "KERNELS", "gaussian_kernel", "load_photo", "correlate2d", "convolve2d", "filter_image",
    "conv_output_size", "zero_pad", "conv_parameters", "dense_parameters", "conv_matrix", "im2col",
    "conv2d_forward", "conv2d_loops", "conv2d_backward", "maxpool_forward", "maxpool_backward",
    "receptive_fields", "shift_images", "layer_outputs", "stepper_frames", "shape_geometry",
    "lenet", "mlp", "time_convolutions", "diagonal_edge_images", "check_edge_kernel", "check_digits_cnn",
]


# -- 1. kernels on an image ------------------------------------------------------------------
def gaussian_kernel(size=3, sigma=1.0):
    """A normalised size x size Gaussian: K[u, v] ~ exp(-(u^2 + v^2) / (2 sigma^2)), entries summing to 1.

    Raises:
        ValueError: size not an odd int >= 1, or sigma not > 0.
    """
    if not isinstance(size, (int, np.integer)) or size < 1 or size % 2 == 0:
        raise ValueError(f"gaussian_kernel expects size to be an odd int >= 1, got {size!r}")
    if not sigma > 0:
        raise ValueError(f"gaussian_kernel expects sigma > 0, got {sigma!r}")
    r = np.arange(size) - size // 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2.0 * sigma ** 2))
    return g / g.sum()


KERNELS = {
    "identity": np.array([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "mean blur": np.full((3, 3), 1 / 9),
    "Gaussian blur": gaussian_kernel(3, 0.85),
    "sharpen": np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "vertical edges (Sobel x)": np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "horizontal edges (Sobel y)": np.array([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "Laplacian": np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]),
}


@functools.cache
def _photo():
    """scikit-learn's 'china.jpg' in gray, downsampled 2x: (214, 320) float64 in [0, 1], read-only."""
    from sklearn.datasets import load_sample_image

    rgb = load_sample_image("china.jpg").astype(np.float64) / 255      # (427, 640, 3), in scikit-learn
    gray = rgb @ np.array([0.299, 0.587, 0.114])                        # luma (ITU-R BT.601)
    h, w = (gray.shape[0] // 2) * 2, (gray.shape[1] // 2) * 2
    small = gray[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))  # 2x2 average: (213, 320)
    small.flags.writeable = False
    return small


def load_photo():
    """A gray photograph (scikit-learn's sample 'china.jpg', offline): (213, 320) float64 in [0, 1]."""
    return _photo().copy()


@reference
def correlate2d(x, kernel):
    """Y[i, j] = sum_{u, v} K[u, v] X[i + u, j + v]: one image, stride 1, no padding.

    Shapes: x (h, w), kernel (k1, k2) -> (h - k1 + 1, w - k2 + 1), in the result dtype of x and kernel.
    Raises:
        ValueError: not 2-D, or a kernel larger than the image.
    """
    x, kernel = as_real_array(x, "correlate2d"), as_real_array(kernel, "correlate2d")
    if x.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"correlate2d expects a 2-D image and a 2-D kernel, got shapes {x.shape} and "
                         f"{kernel.shape}")
    if kernel.shape[0] > x.shape[0] or kernel.shape[1] > x.shape[1]:
        raise ValueError(f"correlate2d expects a kernel no larger than the image, got kernel {kernel.shape} "
                         f"and image {x.shape}")
    windows = sliding_window_view(x, kernel.shape)                      # (h', w', k1, k2), a view
    return np.einsum("ijuv,uv->ij", windows, kernel.astype(np.result_type(x, kernel)))


def convolve2d(x, kernel):
    """The true convolution: the correlation with the kernel flipped in both directions, K[::-1, ::-1]."""
    return correlate2d(x, np.asarray(kernel)[::-1, ::-1])


def filter_image(image, kernel):
    """``image`` (h, w) correlated with ``kernel`` (k, k), zero padding k // 2: the output keeps (h, w)."""
    k = np.asarray(kernel).shape[0]
    return correlate2d(np.pad(image, k // 2), kernel)


def diagonal_edge_images(size=12):
    """Four (size, size) step images: the diagonal edge asked for, its opposite, the other diagonal, flat.

    The edge of the exercise runs from bottom-left to top-right: dark (0) above it, bright (1) below it,
    i.e. pixel (i, j) is bright when i + j > size - 1.
    """
    i, j = np.mgrid[0:size, 0:size]
    asked = (i + j > size - 1).astype(np.float64)
    return {"asked": asked, "opposite": 1.0 - asked, "other diagonal": (i > j).astype(np.float64),
            "flat": np.full((size, size), 0.7)}


def check_edge_kernel(edge_kernel, size=12, quiet=False):
    """The student's ``edge_kernel()``: a (3, 3) float64 kernel detecting the diagonal edge of the exercise.

    On the images of :func:`diagonal_edge_images` (correlation, no padding) it must give 0 on the
    flat image (entries summing to 0), a strongest response > 0 on the asked edge, a negative one
    on the opposite edge, and on the other diagonal at most a quarter of the asked edge's strongest
    response (in absolute value).
    """
    __tracebackhide__ = True
    call = "`edge_kernel()`"
    kernel, _ = checks.run_student(edge_kernel, (), "edge_kernel", call)
    if not isinstance(kernel, np.ndarray) or kernel.shape != (3, 3):
        raise checks.CheckFailed(f"{call} returned {checks._abridge(kernel)}; expected a numpy array of "
                                 "shape (3, 3).")
    if kernel.dtype != np.float64:
        raise checks.CheckFailed(f"{call} returned dtype {kernel.dtype}; expected float64 (write the "
                                 "numbers with a decimal point, or use dtype=float).")
    images = diagonal_edge_images(size)
    response = {name: correlate2d(image, kernel) for name, image in images.items()}
    flat = float(np.abs(response["flat"]).max())
    if flat > 1e-9:
        raise checks.CheckFailed(f"{call} gives {flat:.3g} on a flat image of 0.7 everywhere; an edge "
                                 "detector gives 0 there: make its entries sum to 0 "
                                 f"(yours sum to {kernel.sum():.4g}).")
    strongest = float(response["asked"].max())
    if not strongest > 1e-9:
        raise checks.CheckFailed(f"{call}: its largest response to the asked edge (dark above, bright "
                                 "below the diagonal from bottom-left to top-right) is "
                                 f"{strongest:.3g}; it should be positive: weigh the lower-right pixels "
                                 "positively, the upper-left ones negatively.")
    if not float(response["opposite"].min()) < -1e-9:
        raise checks.CheckFailed(f"{call} does not respond negatively to the opposite edge (bright above, "
                                 "dark below); a signed edge detector does.")
    other = float(np.abs(response["other diagonal"]).max())
    if other > 0.25 * strongest:
        raise checks.CheckFailed(f"{call} responds {other:.3g} to the other diagonal (from top-left to "
                                 f"bottom-right), against {strongest:.3g} to the asked one; it should "
                                 "respond to the other diagonal at most a quarter as strongly. Make the "
                                 "kernel symmetric about the edge's direction.")
    if not quiet:
        print(f"\u2714 edge_kernel: 0 on a flat image, {strongest:.3g} on the asked edge, negative on its "
              f"opposite, {other:.3g} on the other diagonal.")


# -- 2. padding, stride, output size, parameters ------------------------------------------------
@reference
def conv_output_size(size, kernel, padding=0, stride=1):
    """h' = floor((h + 2P - k) / s) + 1: the number of window positions along one axis (an int).

    Raises:
        ValueError: stride < 1, padding < 0, kernel < 1, or a kernel larger than the padded input.
    """
    if stride < 1 or padding < 0 or kernel < 1:
        raise ValueError(f"conv_output_size expects kernel >= 1, padding >= 0 and stride >= 1, got "
                         f"kernel={kernel}, padding={padding}, stride={stride}")
    if kernel > size + 2 * padding:
        raise ValueError(f"conv_output_size expects a kernel no larger than the padded input, got kernel "
                         f"{kernel} for size {size} + 2 * {padding} = {size + 2 * padding}")
    return (size + 2 * padding - kernel) // stride + 1


@reference
def zero_pad(x, padding):
    """X with ``padding`` zeros on every side of its last two axes: (N, C, h, w) -> (N, C, h + 2P, w + 2P).

    Keeps the dtype of x. Raises ValueError for an input that is not 4-D or a negative padding.
    """
    x = as_real_array(x, "zero_pad")
    check_ndim(x, (4,), "zero_pad", "(N, C, h, w)")
    if padding < 0:
        raise ValueError(f"zero_pad expects padding >= 0, got {padding}")
    p = padding
    out = np.zeros(x.shape[:2] + (x.shape[2] + 2 * p, x.shape[3] + 2 * p), dtype=x.dtype)
    out[:, :, p:p + x.shape[2], p:p + x.shape[3]] = x
    return out


@reference
def conv_parameters(c_in, c_out, k, bias=True):
    """The number of parameters of Conv2d(c_in, c_out, k): C_out C_in k^2 weights (+ C_out biases); an int."""
    return c_out * c_in * k * k + (c_out if bias else 0)


def dense_parameters(c_in, h, w, c_out, h_out, w_out, bias=True):
    """The parameters of a Linear layer from a flattened (C_in, h, w) image to a flat (C_out, h', w') one."""
    n_in, n_out = c_in * h * w, c_out * h_out * w_out
    return n_out * n_in + (n_out if bias else 0)


def conv_matrix(kernel, h, w):
    """The (h' w', h w) matrix M with M @ x.ravel() = correlate2d(x, kernel).ravel(): one row per output.

    Row (i, j) holds the kernel's entries at the columns of the pixels its window covers, zeros elsewhere.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    k1, k2 = kernel.shape
    h_out, w_out = h - k1 + 1, w - k2 + 1
    M = np.zeros((h_out, w_out, h, w))
    i, j = np.meshgrid(np.arange(h_out), np.arange(w_out), indexing="ij")
    for u in range(k1):                           # one kernel entry at a time, all rows at once
        for v in range(k2):
            M[i, j, i + u, j + v] = kernel[u, v]
    return M.reshape(h_out * w_out, h * w)


# -- 3. the convolution layer as functions -------------------------------------------------------
def _pair_geometry(x, weight, stride, padding, who):
    x = as_real_array(x, who)
    check_ndim(x, (4,), who, "(N, C_in, h, w)")
    weight = as_real_array(weight, who)
    if weight.ndim != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"{who} expects a weight of shape (C_out, {x.shape[1]}, kh, kw), got an array of "
                         f"shape {weight.shape}")
    if stride < 1 or padding < 0:
        raise ValueError(f"{who} expects stride >= 1 and padding >= 0, got stride={stride}, "
                         f"padding={padding}")
    kh, kw = weight.shape[2:]
    if kh > x.shape[2] + 2 * padding or kw > x.shape[3] + 2 * padding:
        raise ValueError(f"{who} expects a kernel no larger than the padded input, got kernel {(kh, kw)} for "
                         f"an input of shape {x.shape} with padding {padding}")
    return x, weight


def im2col(x, kh, kw, stride=1, padding=0):
    """The windows of X as columns: cols[(c, u, v), (n, i, j)] = Xp[n, c, s i + u, s j + v].

    Shapes: x (N, C, h, w) -> cols (C kh kw, N h' w').
    """
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))) if padding else x
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]  # (N, C, h', w', kh, kw)
    N, C, h_out, w_out = win.shape[:4]
    cols = np.ascontiguousarray(win.transpose(1, 4, 5, 0, 2, 3))                    # (C, kh, kw, N, h', w')
    return cols.reshape(C * kh * kw, N * h_out * w_out), (h_out, w_out)


@reference
def conv2d_forward(x, weight, bias, stride=1, padding=0):
    """Y = W * X + b, the correlation of torch.nn.functional.conv2d, by im2col and one matrix product.

    Shapes: x (N, C_in, h, w), weight (C_out, C_in, kh, kw), bias (C_out,) or None
    -> Y (N, C_out, h', w'), h' = floor((h + 2P - kh) / s) + 1; the dtype of x and weight.
    Raises:
        ValueError: wrong dimensions or channel count, stride < 1, padding < 0, a kernel too large.
    """
    x, weight = _pair_geometry(x, weight, stride, padding, "conv2d_forward")
    N = x.shape[0]
    c_out, c_in, kh, kw = weight.shape
    cols, (h_out, w_out) = im2col(x, kh, kw, stride, padding)            # (C kh kw, N h' w')
    y = weight.reshape(c_out, -1) @ cols                                 # Y_mat = W_mat cols (C_out, N h'w')
    if bias is not None:
        y = y + np.asarray(bias)[:, None]                                # + b[:, None]
    return np.ascontiguousarray(y.reshape(c_out, N, h_out, w_out).transpose(1, 0, 2, 3))


def conv2d_loops(x, weight, bias, stride=1, padding=0):
    """The same as :func:`conv2d_forward`, with a Python loop over the output positions (for timing only)."""
    x, weight = _pair_geometry(x, weight, stride, padding, "conv2d_loops")
    c_out, _, kh, kw = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (xp.shape[2] - kh) // stride + 1
    w_out = (xp.shape[3] - kw) // stride + 1
    y = np.zeros((x.shape[0], c_out, h_out, w_out), dtype=np.result_type(x, weight))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, stride * i:stride * i + kh, stride * j:stride * j + kw]   # (N, C_in, kh, kw)
            y[:, :, i, j] = np.tensordot(window, weight, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        y += np.asarray(bias)[None, :, None, None]
    return y


@reference
def conv2d_backward(x, weight, grad_out, stride=1, padding=0):
    """The gradients (dx, dW, db) of the convolution, given G = dL/dY.

    Shapes: x (N, C_in, h, w), weight (C_out, C_in, kh, kw), grad_out (N, C_out, h', w')
    -> dx (N, C_in, h, w), dW (C_out, C_in, kh, kw), db (C_out,); the result dtype of the three inputs.

        db[o]          = sum_{n,i,j} G[n, o, i, j]
        dW[o, c, u, v] = sum_{n,i,j} G[n, o, i, j] Xp[n, c, s i + u, s j + v]   (a correlation of Xp with G)
        dXp[n, c, s i + u, s j + v] += sum_o W[o, c, u, v] G[n, o, i, j]         (col2im of W_mat^T G_mat)

    Raises:
        ValueError: as conv2d_forward, or grad_out not of the output's shape.
    """
    x, weight = _pair_geometry(x, weight, stride, padding, "conv2d_backward")
    N, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    cols, (h_out, w_out) = im2col(x, kh, kw, stride, padding)            # (C kh kw, N h' w')
    grad_out = as_real_array(grad_out, "conv2d_backward")
    if grad_out.shape != (N, c_out, h_out, w_out):
        raise ValueError(f"conv2d_backward expects grad_out of shape {(N, c_out, h_out, w_out)}, got an "
                         f"array of shape {grad_out.shape}")
    dtype = np.result_type(x, weight, grad_out)
    g_mat = grad_out.transpose(1, 0, 2, 3).reshape(c_out, -1)            # G_mat  (C_out, N h' w')
    db = grad_out.sum(axis=(0, 2, 3)).astype(dtype)                      # db[o] = sum G[n, o, i, j]
    dW = (g_mat @ cols.T).reshape(weight.shape).astype(dtype)            # dW_mat = G_mat cols^T
    dcols = (weight.reshape(c_out, -1).T @ g_mat).reshape(c_in, kh, kw, N, h_out, w_out)   # W_mat^T G_mat
    dxp = np.zeros((c_in, N, h + 2 * padding, w + 2 * padding), dtype=dtype)
    for u in range(kh):                                                  # col2im: one kernel offset at a time
        for v in range(kw):
            rows = slice(u, u + stride * (h_out - 1) + 1, stride)      # pixels s i + u, i < h'
            columns = slice(v, v + stride * (w_out - 1) + 1, stride)
            dxp[:, :, rows, columns] += dcols[:, u, v]
    dx = dxp[:, :, padding:padding + h, padding:padding + w].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx), dW, db


def time_convolutions(N=32, c_in=8, c_out=16, size=28, k=3, repeats=3, seed=0):
    """Seconds of one forward pass by loops, by im2col and by PyTorch (float32, 1 thread), and their gaps.

    Returns a dict {"loops", "im2col", "PyTorch": best of ``repeats`` seconds, "difference": max |im2col -
    PyTorch|, "loops difference": max |loops - im2col|}.
    """
    import torch

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, c_in, size, size)).astype(np.float32)
    weight = (rng.normal(size=(c_out, c_in, k, k)) / np.sqrt(c_in * k * k)).astype(np.float32)
    bias = rng.normal(size=c_out).astype(np.float32)
    x_t, w_t, b_t = (torch.from_numpy(a) for a in (x, weight, bias))

    def best(fn):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - start)
        return min(times), out

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            loops, y_loops = best(lambda: conv2d_loops(x, weight, bias, 1, 1))
            cols, y_cols = best(lambda: conv2d_forward(x, weight, bias, 1, 1))
            with torch.no_grad():
                torch_time, y_torch = best(lambda: torch.nn.functional.conv2d(x_t, w_t, b_t, padding=1))
    finally:
        torch.set_num_threads(previous)
    return {"loops": loops, "im2col": cols, "PyTorch": torch_time,
            "difference": float(np.abs(y_cols - y_torch.numpy()).max()),
            "loops difference": float(np.abs(y_loops - y_cols).max())}


# -- 4. max pooling ----------------------------------------------------------------------------
def _pool_input(x, k, who):
    x = as_real_array(x, who)
    check_ndim(x, (4,), who, "(N, C, h, w)")
    if not isinstance(k, (int, np.integer)) or k < 1 or k > min(x.shape[2:]):
        raise ValueError(f"{who} expects a window size k between 1 and {min(x.shape[2:])}, got {k!r}")
    return x


@reference
def maxpool_forward(x, k):
    """Y[n, c, i, j] = max_{u, v < k} X[n, c, k i + u, k j + v]: k x k windows side by side (stride k).

    Shapes: x (N, C, h, w) -> (N, C, h // k, w // k), x's dtype; rows and columns beyond the last whole
    window are dropped (floor), as torch.nn.MaxPool2d(k) does.
    """
    x = _pool_input(x, k, "maxpool_forward")
    N, C, h, w = x.shape
    ho, wo = h // k, w // k
    blocks = x[:, :, :ho * k, :wo * k].reshape(N, C, ho, k, wo, k)
    return blocks.max(axis=(3, 5))


@reference
def maxpool_backward(x, grad_out, k):
    """dL/dX of max pooling: each window's dL/dY goes to its maximum (ties: the first in row-major order).

    Shapes: x (N, C, h, w), grad_out (N, C, h // k, w // k) -> dx (N, C, h, w), grad_out's dtype; zeros
    where no window's maximum is (and in the dropped rows and columns).
    """
    x = _pool_input(x, k, "maxpool_backward")
    N, C, h, w = x.shape
    ho, wo = h // k, w // k
    grad_out = as_real_array(grad_out, "maxpool_backward")
    if grad_out.shape != (N, C, ho, wo):
        raise ValueError(f"maxpool_backward expects grad_out of shape {(N, C, ho, wo)}, got an array of "
                         f"shape {grad_out.shape}")
    windows = x[:, :, :ho * k, :wo * k].reshape(N, C, ho, k, wo, k).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(N, C, ho, wo, k * k)                       # each window's entries, row-major
    first = windows.argmax(axis=-1)                                      # argmax: the first maximum
    dwin = np.zeros((N, C, ho, wo, k * k), dtype=grad_out.dtype)
    np.put_along_axis(dwin, first[..., None], grad_out[..., None], axis=-1)
    dx = np.zeros((N, C, h, w), dtype=grad_out.dtype)
    dx[:, :, :ho * k, :wo * k] = dwin.reshape(N, C, ho, wo, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(
        N, C, ho * k, wo * k)
    return dx


# -- 5. receptive fields, shifts, feature maps ---------------------------------------------------
def receptive_fields(layers):
    """For layers [(name, kernel, stride), ...]: [(name, r, j)] with r the receptive field and j the jump.

    r_l = r_{l-1} + (k_l - 1) j_{l-1},  j_l = j_{l-1} s_l,  starting from the pixel: r_0 = j_0 = 1.
    """
    r, j, out = 1, 1, [("input", 1, 1)]
    for name, k, s in layers:
        r, j = r + (k - 1) * j, j * s                                    # r_l, j_l
        out.append((name, r, j))
    return out


def shift_images(X, dy, dx):
    """Images (N, C, h, w) moved down by dy and right by dx pixels (negative: up, left), zeros shifted in."""
    X = np.asarray(X)
    out = np.zeros_like(X)
    h, w = X.shape[2:]
    src_y, dst_y = slice(max(-dy, 0), h - max(dy, 0)), slice(max(dy, 0), h - max(-dy, 0))
    src_x, dst_x = slice(max(-dx, 0), w - max(dx, 0)), slice(max(dx, 0), w - max(-dx, 0))
    out[:, :, dst_y, dst_x] = X[:, :, src_y, src_x]
    return out


def layer_outputs(model, x):
    """The output of every layer of a Sequential ``model`` for ``x``, in eval mode: [(name, array), ...]."""
    model.eval()
    outputs = []
    for i, layer in enumerate(model):
        x = layer(x)
        outputs.append((f"{i}: {type(layer).__name__}", x))
    return outputs


def lenet(c1=8, c2=16, hidden=0, side=28):
    """A LeNet-style CNN for (N, 1, side, side) digits: two stages of 5x5 conv, ReLU, 2x2 max-pool; a Linear.

    side 28: 28 -> conv 24 -> pool 12 -> conv 8 -> pool 4, so Linear(c2 * 16, 10). With ``hidden`` > 0 a
    hidden Linear + ReLU of that width comes before the output layer. For side 8 the convolutions are 3x3
    with padding 1 (8 -> pool 4 -> pool 2).
    """
    if side == 28:
        k, p, last = 5, 0, 4
    elif side == 8:
        k, p, last = 3, 1, 2
    else:
        raise ValueError(f"lenet expects side 28 (MNIST) or 8 (the digits), got {side!r}")
    layers = [nn.Conv2d(1, c1, k, padding=p), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(c1, c2, k, padding=p), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()]
    if hidden:
        layers += [nn.Linear(c2 * last * last, hidden), nn.ReLU(), nn.Linear(hidden, 10)]
    else:
        layers += [nn.Linear(c2 * last * last, 10)]
    model = nn.Sequential(*layers)
    model[0].needs_input_grad = False                 # no dL/dX for the data
    return model


def mlp(n_in=784, hidden=256):
    """Chapter 03's MLP on flattened images: Flatten, Linear(n_in, hidden), ReLU, Linear(hidden, 10)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 10))


# -- 6. the explorers' numbers --------------------------------------------------------------------
STEPPER_X = np.array([[1.0, 2, 0, 1, 3], [0, 1, 3, 2, 1], [2, 0, 1, 0, 2], [1, 3, 2, 1, 0], [0, 1, 0, 2, 1]])
STEPPER_K = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])


def stepper_frames(x=STEPPER_X, kernel=STEPPER_K, padding=0, stride=1):
    """Every step of a correlation, for the stepper: (padded input, frames, output shape).

    Each frame is a dict {"pos": (i, j), "window": (r, c), "products": array, "value": float}.

    ``window`` is the window's top-left pixel in the padded input, ``products`` the k x k array of
    K[u, v] * Xp[s i + u, s j + v], ``value`` their sum, Y[i, j].
    """
    xp = np.pad(np.asarray(x, dtype=np.float64), padding)
    k = kernel.shape[0]
    h_out = conv_output_size(x.shape[0], k, padding, stride)
    w_out = conv_output_size(x.shape[1], k, padding, stride)
    frames = []
    for i in range(h_out):
        for j in range(w_out):
            window = xp[stride * i:stride * i + k, stride * j:stride * j + k]
            products = window * kernel
            frames.append({"pos": (i, j), "window": (stride * i, stride * j), "products": products,
                           "value": float(products.sum())})
    return xp, frames, (h_out, w_out)


def shape_geometry(size, kernel, padding, stride):
    """The shape explorer's numbers: {"valid", "message", "out", "used", "formula"} for one axis.

    ``used`` is the number of padded input pixels some window covers (the rest, at the far side, are
    dropped by the floor); ``message`` explains an invalid or a lossy combination.
    """
    padded = size + 2 * padding
    formula = f"floor(({size} + 2*{padding} - {kernel}) / {stride}) + 1"
    if kernel > padded:
        return {"valid": False, "out": 0, "used": 0, "formula": formula,
                "message": f"invalid: the {kernel}x{kernel} kernel is larger than the padded input "
                           f"({size} + 2*{padding} = {padded}); no window fits"}
    if padding > kernel // 2 and padding >= kernel:
        note = f" (padding {padding} >= kernel {kernel}: some windows see only zeros)"
    else:
        note = ""
    out = conv_output_size(size, kernel, padding, stride)
    used = (out - 1) * stride + kernel
    dropped = padded - used
    message = f"output {out}x{out}" + (f"; the last {dropped} padded row(s)/column(s) fit no window "
                                       "(the floor drops them)" if dropped else "") + note
    return {"valid": True, "out": out, "used": used, "formula": formula, "message": message}


# -- 7. the small CNN exercise ----------------------------------------------------------------------
def check_digits_cnn(build_cnn, X_train, y_train, X_test, y_test, epochs=10, required=0.96,
                     max_parameters=20000, quiet=False):
    """The student's ``build_cnn()``: a dlcourse model (N, 1, 8, 8) -> (N, 10) with a Conv2d, trained here.

    The check builds it after dlcourse.manual_seed(0), requires at least one nn.Conv2d and at most
    ``max_parameters`` parameters, trains it with Adam (lr 0.01) for ``epochs`` epochs of batches of 32
    (train.fit, one BLAS thread) and requires ``required`` test accuracy. Returns (model, accuracy).
    """
    __tracebackhide__ = True
    from . import manual_seed

    manual_seed(0)
    call = "`build_cnn()`"
    model, _ = checks.run_student(build_cnn, (), "build_cnn", call)
    if not isinstance(model, nn.Module):
        raise checks.CheckFailed(f"{call} returned {checks._abridge(model)}; expected a dlcourse model "
                                 "(for example nn.Sequential(...)).")
    if not any(isinstance(m, nn.Conv2d) for m in _modules(model)):
        raise checks.CheckFailed(f"{call} has no nn.Conv2d layer; the exercise asks for a convolutional "
                                 "network.")
    count = sum(p.data.size for p in model.parameters())
    if count > max_parameters:
        raise checks.CheckFailed(f"{call} has {count} parameters; at most {max_parameters} are allowed here.")
    try:
        scores = model.eval()(X_test[:2])
    except ValueError as error:
        raise checks.CheckFailed(f"{call} cannot take the digits of shape (N, 1, 8, 8): {error}.") from None
    if np.shape(scores) != (2, 10):
        raise checks.CheckFailed(f"{call} maps 2 digits of shape (2, 1, 8, 8) to an array of shape "
                                 f"{np.shape(scores)}; expected (2, 10), one score per class.")
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    with threadpool_limits(1):
        train.fit(model, losses.CrossEntropyLoss(), optimizer, X_train, y_train, epochs=epochs, batch_size=32,
                  progress=False)
        accuracy = train.accuracy(model.eval()(X_test), y_test)
    if accuracy < required:
        raise checks.CheckFailed(f"{call} reached {accuracy:.1%} test accuracy after {epochs} epochs; at "
                                 f"least {required:.0%} is required. Try 3x3 kernels with padding 1, ReLU "
                                 "and 2x2 max-pooling, and a few more filters.")
    if not quiet:
        print(f"\u2714 build_cnn: {count} parameters, {accuracy:.1%} test accuracy after {epochs} epochs.")
    return model, accuracy


def _modules(model):
    """Every module inside ``model`` (itself included), depth first."""
    yield model
    for _, child in model.named_children():
        yield from _modules(child)


def forbidden_references():
    """The references of this module, for a check that forbids them all."""
    return [correlate2d, conv_output_size, zero_pad, conv_parameters, conv2d_forward, conv2d_backward,
            maxpool_forward, maxpool_backward]


def no_references():
    """A context that forbids every reference of this module and nn.Conv2d, nn.MaxPool2d."""
    return forbid(*forbidden_references(), nn.Conv2d, nn.MaxPool2d)
