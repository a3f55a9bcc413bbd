r"""Max and average pooling over (N, C, h, w) images, as ``torch.nn.MaxPool2d`` and ``AvgPool2d``.

A pooling layer slides a k_h x k_w window over each channel of each image,
a stride s apart, and replaces every window by one number: its largest
entry (max pooling) or its mean (average pooling). It has no parameters.
With the notation of chapter 05 and ``conv.py``:

    X     (N, C, h, w)                   the input
    Xpad  (N, C, h + 2P_h, w + 2P_w)     X padded: with -inf for max pooling (a padded
                                         entry never wins), with 0 for average pooling
    Y     (N, C, h', w')                 h' = floor((h + 2 P_h - k_h) / s_h) + 1, w' likewise

    max:      Y[n, c, i, j] = max_{u, v}  Xpad[n, c, s_h i + u, s_w j + v]
    average:  Y[n, c, i, j] = (1 / (k_h k_w)) sum_{u, v} Xpad[n, c, s_h i + u, s_w j + v]

The stride defaults to the kernel size (windows side by side, no overlap).
As in PyTorch, the padding may be at most half the kernel size, and the
average counts the padded zeros in its divisor (``count_include_pad=True``).

Backward. Each output depends on the k_h k_w entries of its window, so
dL/dXpad collects, for every window, dL/dY times d Y / d(entry):

    max:      d Y / d Xpad = 1 for the entry that won the window, 0 for the others
    average:  d Y / d Xpad = 1 / (k_h k_w) for every entry of the window

When windows overlap (stride < kernel), one pixel can belong to several
windows and receives the sum of their contributions. Forward and backward
both run over the k_h k_w kernel offsets (u, v), never over pixels: the
entries at offset (u, v) of all windows form one strided slice of Xpad (see
``conv.offset_slices``), so each step of the loop is one numpy operation
on a whole (N, C, h', w') array.
"""
import numpy as np

from .._validate import as_real_array, check_ndim, check_same_shape
from ..honesty import reference
from .conv import as_pair, check_window_fits, crop, offset_slices, output_size, pad
from .module import Module


class _Pool2d(Module):
    """Shared arguments, checks and repr of MaxPool2d and AvgPool2d."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        who = type(self).__name__
        self.kernel_size = as_pair(kernel_size, "kernel_size", who, smallest=1)
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride", who, smallest=1)
        self.padding = as_pair(padding, "padding", who, smallest=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                f"{who} expects padding at most half the kernel size, "
                f"got padding={padding!r} with kernel_size={kernel_size!r}"
            )
        # as given (an int stays an int), for the repr, as PyTorch shows them
        self._given = (kernel_size, kernel_size if stride is None else stride, padding)

    def _check_input(self, x):
        who = type(self).__name__
        x = as_real_array(x, who)
        check_ndim(x, (4,), who, "(N, C, H, W)")
        check_window_fits(x, self.kernel_size, self.padding, who)
        return x

    def _check_grad(self, grad_out, y_shape):
        who = f"{type(self).__name__}.backward"
        grad_out = as_real_array(grad_out, who)
        check_same_shape(grad_out, y_shape, who, "a gradient")
        return grad_out

    def _output_shape(self, xp):
        """(N, C, h', w') for the padded input ``xp``: h' = floor((h + 2P_h - k_h) / s_h) + 1."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        N, C, hp, wp = xp.shape
        return N, C, output_size(hp, kh, sh, 0), output_size(wp, kw, sw, 0)

    def _offsets(self, y):
        """For each kernel offset (u, v), in row-major order, the slices of Xpad that hold entry (u, v)
        of every window (one window per entry of ``y``, which is (N, C, h', w'))."""
        kh, kw = self.kernel_size
        for u in range(kh):
            for v in range(kw):
                yield offset_slices(u, v, self.stride, y.shape[2:])

    def extra_repr(self):
        kernel_size, stride, padding = self._given
        return f"kernel_size={kernel_size}, stride={stride}, padding={padding}"


class MaxPool2d(_Pool2d):
    """Y = the largest entry of every k_h x k_w window; X: (N, C, h, w) -> Y: (N, C, h', w').

    Ties: when several entries of a window share the maximum (a window of
    ReLU zeros, say), the whole gradient goes to ONE of them, the first in
    row-major order within the window, as PyTorch does. Backward finds it by
    visiting the kernel offsets (u, v) in row-major order and giving each
    window's gradient to the first entry equal to the window's maximum.
    """

    @reference
    def forward(self, x):
        """X: (N, C, h, w) -> Y: (N, C, h', w'); caches Xpad and Y, enough to find each window's winner."""
        x = self._check_input(x)
        xp = pad(x, self.padding, -np.inf)                      # Xpad, -inf on every side
        y = np.full(self._output_shape(xp), -np.inf, dtype=xp.dtype)
        for rows, columns in self._offsets(y):                  # every kernel offset (u, v)
            np.maximum(y, xp[:, :, rows, columns], out=y)       # Y = max(Y, Xpad[n, c, s_h i + u, s_w j + v])
        self.xp, self.y = xp, y                                 # cache for backward
        return y

    @reference
    def backward(self, grad_out):
        """dL/dY: (N, C, h', w') -> dL/dX: (N, C, h, w); each window's winner gets its dL/dY."""
        xp, y = self._cached("xp", "y")
        grad_out = self._check_grad(grad_out, y.shape)
        dxp = np.zeros(xp.shape, dtype=grad_out.dtype)          # dL/dXpad
        unclaimed = np.ones(y.shape, dtype=bool)                # windows whose winner is not found yet
        for rows, columns in self._offsets(y):                  # offsets (u, v) in row-major order
            wins = (xp[:, :, rows, columns] == y) & unclaimed   # the first entry equal to the maximum
            dxp[:, :, rows, columns] += grad_out * wins         #   gets dL/dY (the others get 0)
            unclaimed &= ~wins
        return crop(dxp, self.padding)


class AvgPool2d(_Pool2d):
    """Y = the mean of every k_h x k_w window; X: (N, C, h, w) -> Y: (N, C, h', w').

    Padded zeros count in the mean (PyTorch's default, count_include_pad=True),
    so every window divides by k_h k_w.
    """

    @reference
    def forward(self, x):
        """X: (N, C, h, w) -> Y: (N, C, h', w')."""
        x = self._check_input(x)
        xp = pad(x, self.padding, 0.0)                          # Xpad, zeros on every side
        kh, kw = self.kernel_size
        total = np.zeros(self._output_shape(xp), dtype=xp.dtype)
        for rows, columns in self._offsets(total):              # every kernel offset (u, v)
            total += xp[:, :, rows, columns]                    #   sum_{u,v} Xpad[n, c, s_h i + u, s_w j + v]
        self.xp_shape, self.y_shape = xp.shape, total.shape     # cache for backward
        return total / (kh * kw)                                # Y = (1 / (k_h k_w)) sum_{u,v} ...

    @reference
    def backward(self, grad_out):
        """dL/dY: (N, C, h', w') -> dL/dX: (N, C, h, w); every entry of a window gets dL/dY / (k_h k_w)."""
        xp_shape, y_shape = self._cached("xp_shape", "y_shape")
        grad_out = self._check_grad(grad_out, y_shape)
        kh, kw = self.kernel_size
        share = grad_out / (kh * kw)                            # dL/dY * d Y / d Xpad   (N, C, h', w')
        dxp = np.zeros(xp_shape, dtype=share.dtype)             # dL/dXpad
        for rows, columns in self._offsets(share):              # every kernel offset (u, v)
            dxp[:, :, rows, columns] += share
        return crop(dxp, self.padding)
