"""Shared fixtures: a seeded generator and the bridge to PyTorch."""
import numpy as np
import pytest
import torch

import dlcourse


@pytest.fixture
def rng():
    """A fresh, seeded numpy generator for test data."""
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same package and torch seeds."""
    dlcourse.manual_seed(0)
    torch.manual_seed(0)


def copy_to_torch(module, torch_module):
    """Copy a dlcourse module's parameters and buffers into a torch module (same names)."""
    state = {name: torch.from_numpy(np.array(value)) for name, value in module.state_dict().items()}
    torch_module.load_state_dict(state)
    return torch_module


def torch_forward_backward(torch_module, x, grad_out):
    """Run torch forward and backward in float64; return (output, input gradient) as numpy."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = torch_module(xt)
    out.backward(torch.tensor(grad_out, dtype=torch.float64))
    return out.detach().numpy(), xt.grad.numpy()
