"""A small CNN trained for a few steps in dlcourse and in PyTorch, from the same float64 weights.

Conv-BN-ReLU-Pool-Conv-ReLU-Pool-Flatten-Linear on scikit-learn's 8x8
digits: after every optimizer step (SGD with momentum, or Adam) each
parameter and each batch-norm statistic must agree with PyTorch's. This
checks the layers' backward passes together, the optimizers' update rules
and the parameter order, in the way a training loop uses them.
"""
import numpy as np
import pytest
import torch
from conftest import copy_to_torch

from dlcourse import data, nn, optim

T = torch.nn
STEPS, BATCH = 5, 64
TIGHT = dict(rtol=1e-9, atol=1e-12)


def digits_cnn(module):
    """(N, 1, 8, 8) -> (N, 10) logits, in dlcourse.nn or torch.nn.

    The first convolution has no bias, as usual before batch norm: BN subtracts
    the channel mean, so that bias has no effect and its true gradient is 0.
    (With a bias, its computed gradient is rounding noise of order 1e-17, which
    Adam divides by its own square root: the two frameworks' noise differs,
    and so do their updates of it.)
    """
    return module.Sequential(
        module.Conv2d(1, 4, 3, padding=1, bias=False), module.BatchNorm2d(4), module.ReLU(),
        module.MaxPool2d(2),                                                                          # 4x4
        module.Conv2d(4, 8, 3, padding=1), module.ReLU(), module.MaxPool2d(2),                         # 2x2
        module.Flatten(), module.Linear(8 * 2 * 2, 10),
    )


OPTIMIZERS = [
    pytest.param(lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
                 lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9), id="SGD-momentum"),
    pytest.param(lambda params: optim.Adam(params, lr=0.01),
                 lambda params: torch.optim.Adam(params, lr=0.01), id="Adam"),
]


@pytest.fixture(scope="module")
def digits():
    split = data.load_digits(flatten=False)
    return split.X_train[:STEPS * BATCH].astype(np.float64), split.y_train[:STEPS * BATCH]


@pytest.mark.parametrize("ours_optimizer, torch_optimizer", OPTIMIZERS)
def test_cnn_parameters_agree_with_pytorch_after_every_step(ours_optimizer, torch_optimizer, digits):
    X, y = digits
    model = digits_cnn(nn).to(np.float64)
    model[0].needs_input_grad = False                 # as PyTorch: no gradient for the images
    twin = copy_to_torch(model, digits_cnn(T).double())
    criterion = nn.CrossEntropyLoss()
    opt, opt_t = ours_optimizer(model.parameters()), torch_optimizer(twin.parameters())
    assert [name for name, _ in model.named_parameters()] == [name for name, _ in twin.named_parameters()]

    start = model.state_dict()
    for step in range(STEPS):
        xb, yb = X[step * BATCH:(step + 1) * BATCH], y[step * BATCH:(step + 1) * BATCH]
        opt.zero_grad()
        loss = criterion(model(xb), yb)
        assert model.backward(criterion.backward()) is None
        opt.step()

        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(twin(torch.from_numpy(xb)), torch.from_numpy(yb))
        loss_t.backward()
        opt_t.step()

        assert loss == pytest.approx(loss_t.item(), rel=1e-10), f"loss at step {step}"
        torch_state = twin.state_dict()
        for name, value in model.state_dict().items():
            np.testing.assert_allclose(value, torch_state[name].numpy(), **TIGHT,
                                       err_msg=f"{name} after step {step}")
    for name, p in model.named_parameters():            # the steps really moved every parameter
        assert np.abs(p.data - start[name]).max() > 1e-4, name


def test_cnn_keeps_float32_end_to_end(digits):
    """The default model is float32: activations, gradients and updated parameters stay float32."""
    X, y = digits
    model = digits_cnn(nn)
    opt = optim.Adam(model.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss()
    logits = model(X[:BATCH].astype(np.float32))
    assert logits.dtype == np.float32
    criterion(logits, y[:BATCH])
    assert model.backward(criterion.backward()).dtype == np.float32
    opt.step()
    for name, value in model.state_dict().items():
        if value.dtype.kind == "f":
            assert value.dtype == np.float32, name
