r"""The 2-D convolution layer, as ``torch.nn.Conv2d``: im2col and one matrix product.

Like every deep learning library, "convolution" here is a cross-correlation
(the kernel is not flipped). The notation is chapter 05's, every array with
its shape (CS231n style):

    X      (N, C_in, h, w)          the input: N images of C_in channels, h x w pixels
    W      (C_out, C_in, k_h, k_w)  the weight: C_out filters, each C_in x k_h x k_w
    b      (C_out,)                 the bias, one per filter
    s      (s_h, s_w)               the stride;  P = (P_h, P_w) the zero padding
    Xpad   (N, C_in, h_p, w_p)      X with P zeros on every side: h_p = h + 2 P_h, w_p = w + 2 P_w
    Y      (N, C_out, h', w')       the output, with

        h' = floor((h + 2 P_h - k_h) / s_h) + 1        w' = floor((w + 2 P_w - k_w) / s_w) + 1

    Y[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] * Xpad[n, c, s_h i + u, s_w j + v]

(o a filter, (i, j) an output position, (u, v) an offset inside the kernel).
im2col turns this sum into one matrix product. Each output position (n, i, j)
looks at one C_in x k_h x k_w window of Xpad; write the windows as the columns of

    cols[(c, u, v), (n, i, j)] = Xpad[n, c, s_h i + u, s_w j + v]      (C_in k_h k_w, N h' w')

and the filters as the rows of W_mat = W.reshape(C_out, C_in k_h k_w). Then

    Y_mat = W_mat @ cols + b[:, None]                                  (C_out, N h' w')

is Y with its axes in the order (o, n, i, j). A strided view of Xpad gives
every window without copying (``windows``); one copy lays them out as
``cols``, in the order (C_in, k_h, k_w, N, h', w'), so that ``cols`` is a
plain 2-D matrix and the product is a single BLAS call.

One speed trick, for stride 1, the common case. numpy copies and adds
fastest along long runs of neighbouring numbers in memory, but the entries
of Xpad that one kernel offset (u, v) contributes to an output row are a
run of only w' numbers. So the layer computes each output row at EVERY
column of the padded width, w_p = w + 2 P_w positions instead of w': the
last k_w - 1 of them are windows that run off the right edge onto the next
row; their results are computed and dropped (for 28x28 images and a 3x3
kernel with padding 1, 30 positions per 28 outputs: 7% more
multiplications). In exchange, read as one long row of numbers, an image
supplies each offset (u, v) as ONE run of h' w_p neighbours: Xpad shifted
by u w_p + v places. The layer keeps Xpad channel first, (C_in, N, h_p, w_p),
with one spare zero image after the batch so that the last windows stay
inside the array. With stride > 1 the grid is just the h' x w' outputs.
``benchmarks/README.md`` has the measurements.

The helpers at the end of this file (pairs of ints, padding and cropping,
the output-size formula, the strided slices of one kernel offset) are
shared with the pooling layers.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import init
from .._validate import as_real_array, check_ndim, check_same_shape, check_size
from ..honesty import reference
from .module import Module, Parameter

# dL/dX is computed a few images at a time, about this many grid positions per chunk, so
# that the chunk's column gradient (C_in k_h k_w rows) stays in the processor's cache.
CHUNK_POSITIONS = 16384


class Conv2d(Module):
    r"""Y = W * X + b over (N, C_in, h, w) images, PyTorch's layout, defaults and initialisation.

    Shapes (see the module docstring for the notation):
        weight: (C_out, C_in, k_h, k_w)       C_out = out_channels, C_in = in_channels
        bias:   (C_out,)
        X:      (N, C_in, h, w)  ->  Y: (N, C_out, h', w'),
                h' = floor((h + 2 P_h - k_h) / s_h) + 1, w' the same with P_w, k_w, s_w.

    ``kernel_size``, ``stride`` and ``padding`` are each an int (the same for
    both axes) or a pair (for the height, then the width). Initialised as
    PyTorch does (kaiming_uniform with a = sqrt(5)): every entry of weight
    and bias uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = C_in k_h k_w.

    Backward (G = dL/dY, shape (N, C_out, h', w'); G_mat is G with its axes
    in the order (o, n, i, j), shape (C_out, N h' w')). Y is linear in b, in
    W and in X, so each gradient collects the terms of the forward sum:

        dL/db[o]          = sum_{n, i, j} G[n, o, i, j]
        dL/dW[o, c, u, v] = sum_{n, i, j} G[n, o, i, j] Xpad[n, c, s_h i + u, s_w j + v]

    a correlation of the input with dL/dY, which is one matrix product with
    the columns cached by forward: dL/dW_mat = G_mat @ cols^T  (C_out, C_in k_h k_w)
    (the code computes it as (cols @ G_mat^T)^T, the same numbers: BLAS does
    that product faster; G_mat is 0 at the grid positions that are not
    outputs, so they add nothing). For the input, pixel Xpad[n, c, p, q] is
    used by every output (i, j) whose window covers it, at kernel offset
    (u, v) = (p - s_h i, q - s_w j):

        dL/dXpad[n, c, p, q] = sum_{o, u, v} G[n, o, (p - u) / s_h, (q - v) / s_w] W[o, c, u, v]

    (terms with a fractional or out-of-range output index are absent). With
    stride 1 this is a full convolution of G (zero-padded by k_h - 1, k_w - 1)
    with the kernel flipped in both directions. In matrix form it is col2im,
    im2col run backwards: first dcols = W_mat^T @ G_mat  (C_in k_h k_w, N h' w'),
    the gradient of every window entry; then each entry is added back to the
    pixel it was copied from, one kernel offset (u, v) at a time (the entries
    at offset (u, v) of all windows are one strided view of Xpad), so the loop
    runs k_h k_w times, never over pixels. Both steps run on a few images at a
    time (``CHUNK_POSITIONS``), so that dcols stays in the cache between its
    product and its additions. Cropping the padding gives dL/dX.

    ``needs_input_grad`` (default True): set it to False on a network's first
    layer when nothing needs dL/dX of the data; ``backward`` then skips
    dcols and col2im and returns None. PyTorch's autograd skips it on its own,
    because the data tensor does not require a gradient.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = as_pair(kernel_size, "kernel_size", "Conv2d", smallest=1)
        self.stride = as_pair(stride, "stride", "Conv2d", smallest=1)
        self.padding = as_pair(padding, "padding", "Conv2d", smallest=0)
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(in_channels * kh * kw)                      # 1 / sqrt(fan_in)
        self.weight = Parameter(init.uniform((out_channels, in_channels, kh, kw), -bound, bound))
        self.bias = Parameter(init.uniform((out_channels,), -bound, bound)) if bias else None
        self.needs_input_grad = True

    @reference
    def forward(self, x):
        """X: (N, C_in, h, w) -> Y: (N, C_out, h', w')."""
        x = as_real_array(x, "Conv2d")
        check_ndim(x, (4,), "Conv2d", "(N, C, H, W)")
        check_size(x, 1, self.in_channels, "Conv2d", "input channels")
        check_window_fits(x, self.kernel_size, self.padding, "Conv2d")
        N = x.shape[0]
        C_out, C_in, kh, kw = self.weight.shape
        xp = channel_first_padded(x, self.padding)                # Xpad  (C_in, N + 1, h_p, w_p)
        h_out, w_out = (output_size(xp.shape[2 + a], self.kernel_size[a], self.stride[a], 0) for a in (0, 1))
        grid = (h_out, xp.shape[3]) if self.stride == (1, 1) else (h_out, w_out)   # see the module docstring
        cols = self._scratch("cols", (C_in, kh, kw, N, *grid), x.dtype)
        cols[...] = windows(xp, N, self.kernel_size, self.stride, grid)   # im2col: the one copy
        cols = cols.reshape(C_in * kh * kw, -1)                   # cols  (C_in k_h k_w, N * grid)
        y = self.weight.data.reshape(C_out, -1) @ cols            # Y_mat = W_mat @ cols  (C_out, N * grid)
        if self.bias is not None:
            y += self.bias.data[:, None]                          #   + b[:, None]
        self.xp_shape, self.grid, self.y_shape = xp.shape, grid, (N, C_out, h_out, w_out)   # for backward
        y = y.reshape(C_out, N, *grid)[:, :, :h_out, :w_out]      # keep the grid's outputs
        return y.transpose(1, 0, 2, 3)                            # (o,n,i,j) -> (N, C_out, h', w'), a view

    @reference
    def backward(self, grad_out):
        """dL/dY: (N, C_out, h', w') -> dL/dX: (N, C_in, h, w) (None if not needs_input_grad).

        Adds dL/dW (C_out, C_in, k_h, k_w) and dL/db (C_out,); see the class docstring.
        """
        cols, xp_shape, grid, y_shape = self._cached("cols", "xp_shape", "grid", "y_shape")
        grad_out = as_real_array(grad_out, "Conv2d.backward")
        check_same_shape(grad_out, y_shape, "Conv2d.backward", "a gradient")
        N, C_out, h_out, w_out = y_shape
        C_in, kh, kw = self.weight.shape[1:]
        cols = cols.reshape(C_in * kh * kw, -1)
        g_mat = np.zeros((C_out, N, *grid), dtype=grad_out.dtype)   # G_mat on the grid  (C_out, N * grid)
        g_mat[:, :, :h_out, :w_out] = grad_out.transpose(1, 0, 2, 3)   # 0 where the grid has no output
        g_mat = g_mat.reshape(C_out, -1)
        self.weight.grad += (cols @ g_mat.T).T.reshape(self.weight.shape)   # dL/dW_mat = G_mat @ cols^T
        if self.bias is not None:
            self.bias.grad += grad_out.sum(axis=(0, 2, 3))        # dL/db[o] = sum_{n,i,j} G[n,o,i,j]
        if not self.needs_input_grad:
            return None
        w_mat_T = self.weight.data.reshape(C_out, -1).T           # W_mat^T  (C_in k_h k_w, C_out)
        dxp = np.zeros(xp_shape, dtype=np.result_type(w_mat_T, g_mat))   # dL/dXpad  (C_in, N + 1, h_p, w_p)
        per_image = grid[0] * grid[1]
        step = max(1, CHUNK_POSITIONS // per_image)               # images per chunk
        buffer = self._scratch("dcols", (C_in * kh * kw, min(step, N) * per_image), dxp.dtype)
        for n in range(0, N, step):                               # images n .. n + m - 1
            m = min(step, N - n)
            dcols = np.matmul(w_mat_T, g_mat[:, n * per_image:(n + m) * per_image],
                              out=buffer[:, :m * per_image])      # dcols = W_mat^T @ G_mat
            dcols = dcols.reshape(C_in, kh, kw, m, *grid)
            dwin = windows(dxp[:, n:], m, self.kernel_size, self.stride, grid)   # a view into dL/dXpad
            for u in range(kh):                                   # col2im: every kernel offset (u, v)
                for v in range(kw):
                    dwin[:, u, v] += dcols[:, u, v]             # dXpad[n, c, s_h i + u, s_w j + v] += dcols
        return crop(dxp[:, :N], self.padding).transpose(1, 0, 2, 3)   # dL/dX  (N, C_in, h, w), a view

    def _scratch(self, name, shape, dtype):
        """The array ``self.<name>`` of this shape and dtype, reused from the last call when it fits.

        im2col's columns are large (C_in k_h k_w by N h' w_p: 62 MB for a
        batch of 128 28x28 images, 16 channels and a 3x3 kernel with padding
        1), and a fresh array of that size costs more than filling it (the
        system hands out new, zeroed memory pages), so the layer keeps its
        columns, and the buffer of its column gradient, from step to step.
        """
        array = getattr(self, name, None)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = np.empty(shape, dtype=dtype)
            setattr(self, name, array)
        return array

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        return text


# -- geometry helpers, shared with the pooling layers ---------------------------------------
def output_size(size, kernel, stride, padding):
    """h' = floor((h + 2P - k) / s) + 1: how many windows fit along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


def as_pair(value, name, who, smallest):
    """An int or a pair of ints -> a pair of Python ints, each at least ``smallest``; else ValueError."""
    pair = (value, value) if _is_int(value) else value
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(_is_int(v) for v in pair)):
        raise ValueError(f"{who} expects {name} to be an int or a pair of ints, got {value!r}")
    if min(pair) < smallest:
        kind = "positive" if smallest == 1 else "non-negative"
        raise ValueError(f"{who} expects {name} to be {kind}, got {name}={value!r}")
    return (int(pair[0]), int(pair[1]))


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _positive_int(value, name, who):
    if not _is_int(value) or value < 1:
        raise ValueError(f"{who} expects {name} to be a positive int, got {value!r}")
    return int(value)


def check_window_fits(x, kernel, padding, who):
    """Raise ValueError unless a k_h x k_w window fits the padded h x w of ``x`` (N, C, h, w)."""
    (kh, kw), (ph, pw) = kernel, padding
    h, w = x.shape[2:]
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise ValueError(
            f"{who} expects an input of at least {max(kh - 2 * ph, 1)}x{max(kw - 2 * pw, 1)} pixels "
            f"(kernel_size={kernel}, padding={padding}), got an array of shape {x.shape}"
        )


def pad(x, padding, value=0.0):
    """(N, C, h, w) -> (N, C, h + 2P_h, w + 2P_w), ``value`` on every side; ``x`` itself if P = 0."""
    ph, pw = padding
    if ph == pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def crop(xp, padding):
    """Undo ``pad`` on the last two axes: (..., h + 2P_h, w + 2P_w) -> (..., h, w), a view."""
    ph, pw = padding
    return xp[..., ph:xp.shape[-2] - ph, pw:xp.shape[-1] - pw]


def channel_first_padded(x, padding):
    """(N, C, h, w) -> Xpad channel first, with one spare zero image: (C, N + 1, h + 2P_h, w + 2P_w).

    A new contiguous array. The spare image lets ``windows`` run the grid's
    last windows past the end of the batch (see the module docstring).
    """
    (ph, pw), (N, C, h, w) = padding, x.shape
    xp = np.zeros((C, N + 1, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :N, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)
    return xp


def windows(xp, images, kernel, stride, grid):
    """The k_h x k_w windows of ``xp`` (C, N + 1, h_p, w_p; contiguous) at a grid of positions: a view.

    windows(...)[c, u, v, n, i, j] = xp[c, n, s_h i + u, s_w j + v] for n < images,
    i < grid[0], j < grid[1]; shape (C, k_h, k_w, images, grid[0], grid[1]), no data
    copied. Each channel is read as one long row of numbers, so a window past the
    right edge of an image continues on its next row (or the next image's first): these
    are the grid positions of stride 1 that are not outputs (their results are dropped).
    The view is writable: col2im adds into it, one kernel offset (u, v) at a time
    (for one offset, no two grid positions share a pixel).
    """
    (kh, kw), (sh, sw) = kernel, stride
    s_c, s_n, s_row, s_col = xp.strides
    return as_strided(xp, shape=(xp.shape[0], kh, kw, images, *grid),
                      strides=(s_c, s_row, s_col, s_n, sh * s_row, sw * s_col))


def offset_slices(u, v, stride, out_hw):
    """The pixels s_h i + u (i < h') and s_w j + v (j < w') as two slices: offset (u, v) of every window."""
    (sh, sw), (h_out, w_out) = stride, out_hw
    return slice(u, u + sh * (h_out - 1) + 1, sh), slice(v, v + sw * (w_out - 1) + 1, sw)
