"""nn.Maxout: a Linear layer with out_features * pieces outputs, then the max over each unit's pieces.

Specification: in float64 it equals PyTorch's `linear(x, W, b).view(N, out, pieces).max(-1)`
with the same weights (so weights copy between the two unchanged), its backward agrees with
autograd and with central differences, and it contains ReLU and leaky ReLU as special cases.
"""
import numpy as np
import pytest
import torch
from conftest import copy_to_torch

from dlcourse import nn
from dlcourse.gradcheck import check_module
from dlcourse.honesty import ReferenceCalledError, forbid

TIGHT = dict(rtol=1e-10, atol=1e-12)


class TorchMaxout(torch.nn.Module):
    """The PyTorch twin: same parameter names and shapes."""

    def __init__(self, in_features, out_features, pieces):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.weight = torch.nn.Parameter(torch.zeros(out_features * pieces, in_features, dtype=torch.float64))
        self.bias = torch.nn.Parameter(torch.zeros(out_features * pieces, dtype=torch.float64))

    def forward(self, x):
        z = torch.nn.functional.linear(x, self.weight, self.bias)
        return z.view(x.shape[0], self.out_features, self.pieces).max(dim=-1).values


def test_parameters_have_the_linear_layout():
    layer = nn.Maxout(5, 3, pieces=4)
    assert [(name, p.shape) for name, p in layer.named_parameters()] == [("weight", (12, 5)), ("bias", (12,))]
    assert layer.weight.data.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= 1 / np.sqrt(5)
    assert repr(layer) == "Maxout(in_features=5, out_features=3, pieces=4)"


@pytest.mark.parametrize("pieces", [1, 2, 3])
def test_forward_and_backward_agree_with_torch_in_float64(pieces, rng):
    layer = nn.Maxout(6, 4, pieces=pieces).to(np.float64)
    twin = copy_to_torch(layer, TorchMaxout(6, 4, pieces))
    x = rng.standard_normal((7, 6))
    grad_out = rng.standard_normal((7, 4))

    out = layer(x)
    grad_x = layer.backward(grad_out)

    xt = torch.tensor(x, requires_grad=True)
    out_t = twin(xt)
    out_t.backward(torch.from_numpy(grad_out))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(layer.weight.grad, twin.weight.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(layer.bias.grad, twin.bias.grad.numpy(), **TIGHT)


def test_backward_agrees_with_central_differences(rng):
    results = check_module(nn.Maxout(5, 3, pieces=3), rng.standard_normal((4, 5)))
    assert list(results) == ["input", "weight", "bias"]
    for comparison in results.values():
        assert comparison.error < 1e-7, comparison


def test_only_the_winning_piece_gets_the_gradient(rng):
    layer = nn.Maxout(3, 2, pieces=2).to(np.float64)
    x = rng.standard_normal((1, 3))
    z = (x @ layer.weight.data.T + layer.bias.data).reshape(1, 2, 2)
    layer(x)
    layer.backward(np.ones((1, 2)))
    losers = (z != z.max(axis=2, keepdims=True)).reshape(4)
    assert np.all(layer.bias.grad[losers] == 0) and np.all(layer.bias.grad[~losers] == 1)
    assert np.all(layer.weight.grad[losers] == 0)


def test_gradients_accumulate_like_pytorch(rng):
    layer = nn.Maxout(4, 2).to(np.float64)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * once, **TIGHT)


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.3])
def test_it_contains_relu_and_leaky_relu(slope, rng):
    """Piece 2 = slope * piece 1 gives max(z, slope z): ReLU for slope 0, leaky ReLU otherwise."""
    layer = nn.Maxout(5, 3, pieces=2).to(np.float64)
    linear = nn.Linear(5, 3).to(np.float64)
    layer.weight.data = np.stack([linear.weight.data, slope * linear.weight.data], axis=1).reshape(6, 5)
    layer.bias.data = np.stack([linear.bias.data, slope * linear.bias.data], axis=1).reshape(6)
    x = rng.standard_normal((8, 5))
    expected = nn.LeakyReLU(slope)(linear(x))
    np.testing.assert_allclose(layer(x), expected, **TIGHT)


def test_float32_in_float32_out(rng):
    layer = nn.Maxout(4, 3)
    out = layer(rng.standard_normal((2, 4)).astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (2, 3)
    assert layer.backward(np.ones((2, 3), dtype=np.float32)).dtype == np.float32


def test_bad_input_is_named():
    layer = nn.Maxout(5, 3)
    with pytest.raises(ValueError, match=r"Maxout expects 5 input features, got an array of shape \(4, 6\)"):
        layer(np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"Maxout expects an array of shape \(N, in_features\)"):
        layer(np.zeros(5))
    with pytest.raises(ValueError, match="pieces"):
        nn.Maxout(5, 3, pieces=0)
    layer(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"Maxout.backward expects 3 output features"):
        layer.backward(np.zeros((4, 2)))


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Maxout(2, 2).backward(np.zeros((1, 2)))


def test_it_is_a_reference_the_honesty_guard_can_forbid():
    layer = nn.Maxout(2, 2)
    with forbid(nn.Maxout), pytest.raises(ReferenceCalledError):
        layer(np.zeros((1, 2)))
