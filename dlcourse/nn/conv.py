r"""The 2-D convolution layer, as ``torch.nn.Conv2d``: im2col and one matrix product.

Like every deep learning library, "convolution" here is a cross-correlation
(the kernel is not flipped). Notation, CS231n style, every array with its shape:

    X    (N, C, H, W)          the input: N images of C channels, H x W pixels
    W    (F, C, kH, kW)        the weight: F filters, each C x kH x kW
    b    (F,)                  the bias, one per filter
    S    (S_h, S_w)            the stride, P = (P_h, P_w) the zero padding
    Xp   (N, C, H + 2P_h, W + 2P_w)   X with P zeros added on every side
    Y    (N, F, H', W')        the output, with

        H' = floor((H + 2 P_h - kH) / S_h) + 1        W' = floor((W + 2 P_w - kW) / S_w) + 1

    Y[n, f, y, x] = b[f] + sum_{c, i, j} W[f, c, i, j] * Xp[n, c, S_h y + i, S_w x + j]

im2col turns this sum into one matrix product. Each output position (n, y, x)
looks at one C x kH x kW window of Xp; write the windows as the columns of

    cols[(c, i, j), (n, y, x)] = Xp[n, c, S_h y + i, S_w x + j]     (C kH kW, N H' W')

and the filters as the rows of W_mat = W.reshape(F, C kH kW). Then

    Y_mat = W_mat @ cols + b[:, None]                                 (F, N H' W')

is Y with its axes in the order (f, n, y, x). ``sliding_window_view`` gives
every window without copying; one copy lays them out as ``cols``, in the
order (C, kH, kW, N, H', W'), so that ``cols`` is a plain 2-D matrix and
the product is a single BLAS call. (Measured here: this copy moves rows of
W' neighbouring numbers at a time; the layout (N, H', W', C, kH, kW) moves
kW at a time and took three times as long.)

The helpers at the end of this file (pairs of ints, padding and cropping,
the output-size formula, the strided slices of one kernel offset) are
shared with the pooling layers.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import init
from .._validate import as_real_array, check_ndim, check_same_shape, check_size
from ..honesty import reference
from .module import Module, Parameter


class Conv2d(Module):
    r"""Y = W * X + b over (N, C, H, W) images, PyTorch's layout, defaults and initialisation.

    Shapes (see the module docstring for the notation):
        weight: (out_channels, in_channels, kH, kW)
        bias:   (out_channels,)
        X:      (N, in_channels, H, W)  ->  Y: (N, out_channels, H', W'),
                H' = floor((H + 2 P_h - kH) / S_h) + 1, W' the same with P_w, kW, S_w.

    ``kernel_size``, ``stride`` and ``padding`` are each an int (the same for
    both axes) or a pair (for H, then W). Initialised as PyTorch does
    (kaiming_uniform with a = sqrt(5)): every entry of weight and bias
    uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = in_channels * kH * kW.

    Backward (G = dL/dY, shape (N, F, H', W'); G_mat is G with its axes in
    the order (f, n, y, x), shape (F, N H' W')). Y is linear in b, in W and
    in X, so each gradient collects the terms of the forward sum:

        dL/db[f]          = sum_{n, y, x} G[n, f, y, x]
        dL/dW[f, c, i, j] = sum_{n, y, x} G[n, f, y, x] Xp[n, c, S_h y + i, S_w x + j]

    a correlation of the input with dL/dY, which is one matrix product with
    the columns cached by forward: dL/dW_mat = G_mat @ cols^T  (F, C kH kW)
    (the code computes it as (cols @ G_mat^T)^T, the same numbers, with G laid
    out one row per output position (n, y, x): BLAS does that product faster).
    For the input, pixel Xp[n, c, p, q] is used by every output (y, x) whose
    window covers it, at kernel offset (i, j) = (p - S_h y, q - S_w x):

        dL/dXp[n, c, p, q] = sum_{f, i, j} G[n, f, (p - i) / S_h, (q - j) / S_w] W[f, c, i, j]

    (terms with a fractional or out-of-range output index are absent). With
    stride 1 this is a full convolution of G (zero-padded by kH - 1, kW - 1)
    with the kernel flipped in both directions. In matrix form it is
    col2im: first dcols = W_mat^T @ G_mat  (C kH kW, N H' W'), the gradient
    of every window entry; then each entry is added back to the pixel it was
    copied from, one kernel offset (i, j) at a time: for every (i, j) the
    pixels S_h y + i, S_w x + j form one strided slice of Xp, so the loop runs
    kH * kW times, never over pixels. Cropping the padding gives dL/dX.

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
        """X: (N, C, H, W) -> Y: (N, F, H', W')."""
        x = as_real_array(x, "Conv2d")
        check_ndim(x, (4,), "Conv2d", "(N, C, H, W)")
        check_size(x, 1, self.in_channels, "Conv2d", "input channels")
        check_window_fits(x, self.kernel_size, self.padding, "Conv2d")
        N = x.shape[0]
        F, C, kh, kw = self.weight.shape
        xp = pad(x, self.padding)                                 # Xp  (N, C, H + 2P_h, W + 2P_w)
        win = windows(xp, self.kernel_size, self.stride)          # (N, C, H', W', kH, kW), a view
        h_out, w_out = win.shape[2:4]
        cols = self._scratch("cols", (C, kh, kw, N, h_out, w_out), x.dtype)
        cols[...] = win.transpose(1, 4, 5, 0, 2, 3)               # im2col: the one copy
        cols = cols.reshape(C * kh * kw, N * h_out * w_out)       # cols  (C kH kW, N H' W')
        y = self.weight.data.reshape(F, C * kh * kw) @ cols       # Y_mat = W_mat @ cols  (F, N H' W')
        if self.bias is not None:
            y += self.bias.data[:, None]                          #   + b[:, None]
        self.xp_shape, self.y_shape = xp.shape, (N, F, h_out, w_out)   # cache for backward (and cols)
        return y.reshape(F, N, h_out, w_out).transpose(1, 0, 2, 3)   # (f,n,y,x) -> (N, F, H', W'), a view

    @reference
    def backward(self, grad_out):
        """dL/dY: (N, F, H', W') -> dL/dX: (N, C, H, W) (None if not needs_input_grad).

        Adds dL/dW (F, C, kH, kW) and dL/db (F,); see the class docstring.
        """
        cols, xp_shape, y_shape = self._cached("cols", "xp_shape", "y_shape")
        grad_out = as_real_array(grad_out, "Conv2d.backward")
        check_same_shape(grad_out, y_shape, "Conv2d.backward", "a gradient")
        N, F, h_out, w_out = y_shape
        C, kh, kw = self.weight.shape[1:]
        cols = cols.reshape(C * kh * kw, N * h_out * w_out)
        g_rows = grad_out.transpose(0, 2, 3, 1).reshape(N * h_out * w_out, F)   # G_mat^T  (N H' W', F)
        self.weight.grad += (cols @ g_rows).T.reshape(F, C, kh, kw)   # dL/dW_mat = G_mat @ cols^T
        if self.bias is not None:
            self.bias.grad += grad_out.sum(axis=(0, 2, 3))        # dL/db[f] = sum_{n,y,x} G[n,f,y,x]
        if not self.needs_input_grad:
            return None
        w_mat = self.weight.data.reshape(F, C * kh * kw)
        dcols = self._scratch("dcols", cols.shape, np.result_type(w_mat, g_rows))
        np.matmul(w_mat.T, g_rows.T, out=dcols)                  # dcols = W_mat^T @ G_mat  (C kH kW, N H'W')
        dcols = dcols.reshape(C, kh, kw, N, h_out, w_out)
        dxp = np.zeros((C, N) + xp_shape[2:], dtype=dcols.dtype)  # dL/dXp, axes (c, n, p, q)
        for i in range(kh):                                       # col2im: every kernel offset (i, j)
            for j in range(kw):
                rows, columns = offset_slices(i, j, self.stride, (h_out, w_out))
                dxp[:, :, rows, columns] += dcols[:, i, j]        #   dXp[n, c, S_h y + i, S_w x + j] += dcols
        return crop(dxp, self.padding).transpose(1, 0, 2, 3)     # dL/dX: (c, n, p, q) -> (N, C, H, W)

    def _scratch(self, name, shape, dtype):
        """The array ``self.<name>`` of this shape and dtype, reused from the last call when it fits.

        im2col's columns are large (N H' W' by C kH kW: 58 MB for a batch of 128
        28x28 images and 16 channels), and a fresh array of that size costs
        more than filling it (the system hands out new, zeroed memory pages),
        so the layer keeps its columns, and their gradient, from step to step.
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
    """H' = floor((H + 2P - K) / S) + 1: how many windows fit along one axis."""
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
    """Raise ValueError unless a kH x kW window fits the padded H x W of ``x`` (N, C, H, W)."""
    (kh, kw), (ph, pw) = kernel, padding
    h, w = x.shape[2:]
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise ValueError(
            f"{who} expects an input of at least {max(kh - 2 * ph, 1)}x{max(kw - 2 * pw, 1)} pixels "
            f"(kernel_size={kernel}, padding={padding}), got an array of shape {x.shape}"
        )


def pad(x, padding, value=0.0):
    """(N, C, H, W) -> (N, C, H + 2P_h, W + 2P_w), ``value`` on every side; ``x`` itself if P = 0."""
    ph, pw = padding
    if ph == pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def crop(xp, padding):
    """Undo ``pad`` on the last two axes: (..., H + 2P_h, W + 2P_w) -> (..., H, W), a view."""
    ph, pw = padding
    return xp[..., ph:xp.shape[-2] - ph, pw:xp.shape[-1] - pw]


def windows(xp, kernel, stride):
    """Every kH x kW window of ``xp`` (N, C, Hp, Wp), a stride apart: a view (N, C, H', W', kH, kW).

    windows(xp)[n, c, y, x, i, j] = xp[n, c, S_h y + i, S_w x + j]; no data is copied.
    """
    (sh, sw) = stride
    return sliding_window_view(xp, kernel, axis=(2, 3))[:, :, ::sh, ::sw]


def offset_slices(i, j, stride, out_hw):
    """The pixels S_h y + i (y < H') and S_w x + j (x < W') as two slices: offset (i, j) of every window."""
    (sh, sw), (h_out, w_out) = stride, out_hw
    return slice(i, i + sh * (h_out - 1) + 1, sh), slice(j, j + sw * (w_out - 1) + 1, sw)
