"""Hypothesis strategies shared by the layer tests: one place that says which shapes are drawn.

    conv_geometries()      N, C_in, C_out, H, W, kernel, stride, padding of a valid convolution
    pool_geometries()      N, C, H, W, kernel, stride, padding of a valid pooling window
    sequence_shapes()      N, T, D, H, num_layers of a recurrent layer

Sizes stay small, so that a float64 comparison with PyTorch and a
central-difference check take milliseconds per example.
"""
from typing import NamedTuple

from hypothesis import strategies as st


class ConvGeometry(NamedTuple):
    n: int
    c_in: int
    c_out: int
    h: int
    w: int
    kernel: tuple
    stride: tuple
    padding: tuple

    @property
    def input_shape(self):
        return (self.n, self.c_in, self.h, self.w)

    @property
    def output_hw(self):
        """H_out = floor((H + 2 P - K) / S) + 1, and the same for W."""
        return tuple(
            (size + 2 * p - k) // s + 1
            for size, k, s, p in zip((self.h, self.w), self.kernel, self.stride, self.padding, strict=True)
        )


class PoolGeometry(NamedTuple):
    n: int
    c: int
    h: int
    w: int
    kernel: tuple
    stride: tuple
    padding: tuple

    @property
    def input_shape(self):
        return (self.n, self.c, self.h, self.w)


class SequenceShape(NamedTuple):
    n: int           # batch size
    t: int           # sequence length
    d: int           # input features per step
    h: int           # hidden size
    num_layers: int


def _pair(draw, low, high):
    """An int pair; half the time both entries equal (what an int argument means)."""
    first = draw(st.integers(low, high))
    if draw(st.booleans()):
        return (first, first)
    return (first, draw(st.integers(low, high)))


@st.composite
def conv_geometries(draw, max_size=9, max_kernel=4, max_stride=3, max_channels=3):
    """A convolution whose kernel fits the padded input along both axes."""
    kernel = _pair(draw, 1, max_kernel)
    stride = _pair(draw, 1, max_stride)
    # PyTorch allows padding up to half the kernel size
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    h, w = (draw(st.integers(max(1, k - 2 * p), max_size)) for k, p in zip(kernel, padding, strict=True))
    return ConvGeometry(
        n=draw(st.integers(1, 3)),
        c_in=draw(st.integers(1, max_channels)),
        c_out=draw(st.integers(1, max_channels)),
        h=h, w=w, kernel=kernel, stride=stride, padding=padding,
    )


@st.composite
def pool_geometries(draw, max_size=9, max_kernel=3):
    """A pooling window that fits the padded input; padding at most half the kernel, as PyTorch requires."""
    kernel = _pair(draw, 1, max_kernel)
    stride = _pair(draw, 1, max_kernel)
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    h, w = (draw(st.integers(max(1, k - 2 * p), max_size)) for k, p in zip(kernel, padding, strict=True))
    return PoolGeometry(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)),
                        h=h, w=w, kernel=kernel, stride=stride, padding=padding)


@st.composite
def sequence_shapes(draw, max_steps=6, max_features=5, max_hidden=5, max_layers=3):
    """Batch, length, input size, hidden size and depth of a small recurrent layer."""
    return SequenceShape(
        n=draw(st.integers(1, 4)),
        t=draw(st.integers(1, max_steps)),
        d=draw(st.integers(1, max_features)),
        h=draw(st.integers(1, max_hidden)),
        num_layers=draw(st.integers(1, max_layers)),
    )
