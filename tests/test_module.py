"""The Module machinery: names, state dicts, dtypes, modes and gradient bookkeeping, as in torch.nn."""
import re

import numpy as np
import pytest
import torch
from conftest import copy_to_torch

from dlcourse import nn

T = torch.nn
TIGHT = dict(rtol=1e-10, atol=1e-12)


def small_net():
    """A dlcourse net with parameters, buffers and modes to get right."""
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 3))


def small_torch_net():
    """The same net in torch."""
    return T.Sequential(T.Linear(4, 6), T.BatchNorm1d(6), T.ReLU(), T.Dropout(0.5), T.Linear(6, 3))


# -- parameters and names ----------------------------------------------------------
def test_parameter_holds_float32_data_and_a_zero_gradient_of_the_same_shape():
    p = nn.Parameter([[1, 2, 3]])
    assert p.data.dtype == np.float32 and p.shape == (1, 3)
    np.testing.assert_array_equal(p.grad, np.zeros((1, 3), dtype=np.float32))


def test_named_parameters_use_torchs_names_in_torchs_order():
    names = [name for name, _ in small_net().named_parameters()]
    assert names == [name for name, _ in small_torch_net().named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]


def test_parameters_lists_the_same_objects_as_named_parameters():
    net = small_net()
    assert net.parameters() == [p for _, p in net.named_parameters()]
    assert net.parameters()[0] is net[0].weight


def test_nested_sequentials_get_dotted_names():
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.Linear(3, 1, bias=False))
    torch_net = T.Sequential(T.Sequential(T.Linear(2, 3), T.ReLU()), T.Linear(3, 1, bias=False))
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in torch_net.named_parameters()]


def test_sequential_can_be_indexed_iterated_and_measured():
    net = small_net()
    assert len(net) == 5
    assert isinstance(net[1], nn.BatchNorm1d) and isinstance(net[-1], nn.Linear)
    assert [type(m).__name__ for m in net] == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]


def test_a_slice_of_a_sequential_is_a_sequential_of_the_same_modules_as_in_torch():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).to(np.float64)
    torch_net = T.Sequential(T.Linear(4, 3), T.ReLU(), T.Linear(3, 2)).double()
    copy_to_torch(net, torch_net)
    x = np.random.default_rng(0).normal(size=(5, 4))
    head = net[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is net[0]
    np.testing.assert_allclose(head(x), torch_net[:2](torch.from_numpy(x)).detach().numpy(), **TIGHT)
    np.testing.assert_allclose(net[2:](head(x)), net(x), **TIGHT)
    assert [n for n, _ in head.named_parameters()] == ["0.weight", "0.bias"]   # torch keeps the old names too


# -- state dicts ----------------------------------------------------------------------
def test_state_dict_has_torchs_keys_in_torchs_order():
    assert list(small_net().state_dict()) == list(small_torch_net().state_dict())


def test_state_dict_holds_copies_not_views():
    net = small_net()
    state = net.state_dict()
    state["0.weight"][...] = 7.0
    state["1.running_mean"][...] = 7.0
    assert not np.any(net[0].weight.data == 7.0)
    assert not np.any(net[1].running_mean == 7.0)


def test_state_dict_round_trip_reproduces_the_outputs(rng):
    x = rng.normal(size=(8, 4))
    source = small_net()
    source(x)                                   # moves the running statistics
    source.eval()
    target = small_net().eval()
    target.load_state_dict(source.state_dict())
    np.testing.assert_array_equal(target(x), source(x))
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value, err_msg=name)


def test_load_state_dict_takes_a_torch_state_dict(rng):
    torch_net = small_torch_net().double()
    x = rng.normal(size=(8, 4))
    torch_net(torch.from_numpy(x))               # non-trivial running statistics
    torch_net.eval()
    net = small_net().to(np.float64).eval()
    net.load_state_dict(torch_net.state_dict())
    assert net[1].num_batches_tracked == 1
    np.testing.assert_allclose(net(x), torch_net(torch.from_numpy(x)).detach().numpy(), **TIGHT)


def test_load_state_dict_keeps_the_modules_own_dtype():
    net = small_net()                            # float32
    net.load_state_dict(small_net().to(np.float64).state_dict())
    assert all(p.data.dtype == np.float32 for p in net.parameters())
    assert net[1].running_var.dtype == np.float32


def test_load_state_dict_rejects_missing_and_unexpected_names():
    state = small_net().state_dict()
    state["5.weight"] = state.pop("4.weight")
    with pytest.raises(KeyError, match=re.escape("missing keys ['4.weight'], unexpected keys ['5.weight']")):
        small_net().load_state_dict(state)


def test_load_state_dict_rejects_a_wrong_shape_naming_it():
    state = small_net().state_dict()
    state["4.weight"] = np.zeros((3, 5))
    message = "load_state_dict: 4.weight expects shape (3, 6), got an array of shape (3, 5)"
    with pytest.raises(ValueError, match=re.escape(message)):
        small_net().load_state_dict(state)


def test_copy_to_torch_gives_identical_outputs(rng):
    """The bridge the layer tests rely on."""
    net = small_net().to(np.float64).eval()
    torch_net = copy_to_torch(net, small_torch_net().double()).eval()
    x = rng.normal(size=(5, 4))
    np.testing.assert_allclose(net(x), torch_net(torch.from_numpy(x)).detach().numpy(), **TIGHT)


# -- dtype ----------------------------------------------------------------------------
def test_modules_are_float32_by_default():
    net = small_net()
    assert all(p.data.dtype == p.grad.dtype == np.float32 for p in net.parameters())
    assert net[1].running_mean.dtype == net[1].running_var.dtype == np.float32


def test_to_converts_parameters_gradients_and_buffers_and_returns_self():
    net = small_net()
    assert net.to(np.float64) is net
    assert all(p.data.dtype == p.grad.dtype == np.float64 for p in net.parameters())
    bn = net[1]
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64     # a counter stays an integer, as in torch
    assert all(value.dtype.kind != "f" or value.dtype == np.float64 for value in net.state_dict().values())


def test_to_keeps_the_values(rng):
    net = small_net()
    before = net.state_dict()
    net.to(np.float64)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


# -- modes --------------------------------------------------------------------------------
def test_modules_start_in_training_mode():
    assert all(m.training for m in small_net())


def test_train_and_eval_reach_nested_sub_modules():
    inner = nn.Sequential(nn.Dropout(), nn.BatchNorm1d(3))
    net = nn.Sequential(nn.Linear(3, 3), inner)
    modules = [net, net[0], inner, inner[0], inner[1]]
    assert net.eval() is net
    assert not any(m.training for m in modules)
    assert net.train() is net
    assert all(m.training for m in modules)
    net.train(False)
    assert not any(m.training for m in modules)


# -- gradients ----------------------------------------------------------------------------
def test_zero_grad_clears_every_parameter_gradient(rng):
    net = small_net()
    net.backward(np.ones_like(net(rng.normal(size=(5, 4)))))
    assert any(np.any(p.grad != 0) for p in net.parameters())
    net.zero_grad()
    assert all(np.all(p.grad == 0) for p in net.parameters())


def test_gradients_accumulate_across_two_backward_calls_like_torch(rng):
    net = small_net().to(np.float64).eval()        # eval: dropout off, so torch can follow
    torch_net = copy_to_torch(net, small_torch_net().double()).eval()
    for _ in range(2):
        x = rng.normal(size=(5, 4))
        g = rng.normal(size=(5, 3))
        net(x)
        net.backward(g)
        torch_net(torch.from_numpy(x)).backward(torch.from_numpy(g))
    torch_params = dict(torch_net.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad, torch_params[name].grad.numpy(), **TIGHT, err_msg=name)


def test_two_backward_calls_give_twice_the_gradient(rng):
    net = small_net().to(np.float64)
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    net(x)
    net.backward(g)
    once = [p.grad.copy() for p in net.parameters()]
    net.backward(g)
    for p, first in zip(net.parameters(), once, strict=True):
        np.testing.assert_allclose(p.grad, 2 * first, rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda: nn.Linear(3, 2), nn.ReLU, nn.Sigmoid, nn.Softmax, nn.Dropout, nn.Flatten,
    lambda: nn.BatchNorm1d(3), lambda: nn.Sequential(nn.Linear(3, 2), nn.ReLU()),
], ids=["Linear", "ReLU", "Sigmoid", "Softmax", "Dropout", "Flatten", "BatchNorm1d", "Sequential"])
def test_backward_before_forward_raises_a_clear_runtime_error(make):
    module = make()
    with pytest.raises(RuntimeError, match=r"backward was called before forward: run a forward pass first"):
        module.backward(np.ones((2, 3)))


def test_a_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module does not implement forward"):
        nn.Module()(np.ones(3))


def test_repr_looks_like_torch():
    text = repr(nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2), nn.Dropout(0.5)))
    assert "(0): Linear(in_features=4, out_features=2, bias=True)" in text
    assert "(1): BatchNorm1d(2, eps=1e-05, momentum=0.1)" in text
    assert "(2): Dropout(p=0.5)" in text


# -- buffers, several inputs and outputs -------------------------------------------------------
class Scaler(nn.Module):
    """A module with one parameter and one buffer: y = weight * x + offset, offset a saved constant."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(np.ones(3))
        self.register_buffer("offset", np.full(3, 0.5, dtype=np.float32))

    def forward(self, x):
        return self.weight.data * x + self.offset


def test_register_buffer_puts_the_array_in_state_dict_but_not_in_parameters():
    module = Scaler()
    assert [name for name, _ in module.named_parameters()] == ["weight"]
    assert list(module.state_dict()) == ["weight", "offset"]
    assert [name for name, _ in module.named_buffers()] == ["offset"]
    assert module.buffers()[0] is module.offset


def test_registered_buffers_load_convert_and_nest_like_torch_buffers():
    net = nn.Sequential(Scaler(), nn.BatchNorm1d(3))
    assert [name for name, _ in net.named_buffers()] == [
        "0.offset", "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    state = net.state_dict()
    state["0.offset"] = np.array([1.0, 2.0, 3.0])
    net.load_state_dict(state)
    np.testing.assert_array_equal(net[0].offset, [1.0, 2.0, 3.0])
    net.to(np.float64)
    assert net[0].offset.dtype == np.float64


def test_batch_norm_buffers_are_registered_with_torchs_names():
    bn, twin = nn.BatchNorm2d(4), T.BatchNorm2d(4)
    assert [name for name, _ in bn.named_buffers()] == [name for name, _ in twin.named_buffers()]


def test_register_buffer_rejects_a_name_that_is_not_an_identifier():
    with pytest.raises(ValueError, match="register_buffer expects a name that is a Python identifier"):
        Scaler().register_buffer("running.mean", np.zeros(2))


class AddAndSubtract(nn.Module):
    """Two inputs, two outputs: (a + b, a - b); its backward follows the course's rule."""

    def forward(self, a, b):
        return a + b, a - b

    def backward(self, grad_sum, grad_difference=None):
        if grad_difference is None:                     # the difference did not reach the loss
            grad_difference = np.zeros_like(grad_sum)
        return grad_sum + grad_difference, grad_sum - grad_difference


def test_call_passes_every_argument_to_forward_and_backward_mirrors_it():
    module = AddAndSubtract()
    total, difference = module(np.array([3.0]), np.array([1.0]))
    assert (total[0], difference[0]) == (4.0, 2.0)
    grad_a, grad_b = module.backward(np.array([1.0]), np.array([2.0]))
    assert (grad_a[0], grad_b[0]) == (3.0, -1.0)
    grad_a, grad_b = module.backward(np.array([1.0]))
    assert (grad_a[0], grad_b[0]) == (1.0, 1.0)


def test_the_losses_live_in_nn_as_in_torch():
    from dlcourse import losses
    assert nn.CrossEntropyLoss is losses.CrossEntropyLoss
    assert nn.MSELoss is losses.MSELoss
    assert nn.BCELoss is losses.BCELoss
    assert nn.BCEWithLogitsLoss is losses.BCEWithLogitsLoss


def test_import_dlcourse_reaches_every_submodule_its_docstring_lists():
    import dlcourse
    listed = re.findall(r"``(\w+)``", dlcourse.__doc__.split("dlcourse.widgets")[0])
    generic = {"nn", "functional", "losses", "optim", "init", "gradcheck", "data", "train", "checks"}
    assert generic <= set(listed)
    for name in listed:
        assert hasattr(dlcourse, name), f"import dlcourse does not make dlcourse.{name} reachable"
    assert hasattr(dlcourse.nn, "utils")
