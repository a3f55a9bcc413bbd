"""dlcourse.optim: the same trajectories as torch.optim, updates in place, torch's argument checks.

A small dlcourse model and its PyTorch twin start from the same weights;
after several steps of the same data the parameters agree to 1e-10 in float64.
"""
import numpy as np
import pytest
import torch
from conftest import copy_to_torch

import dlcourse
from dlcourse import losses, nn, optim
from dlcourse.honesty import ReferenceCalledError, forbid

STEPS = 6


def twin_models():
    """A float64 dlcourse MLP and a torch MLP with the same weights and the same parameter order."""
    ours = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).to(np.float64)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    copy_to_torch(ours, theirs)
    return ours, theirs


def train_both(make_ours, make_theirs, rng, steps=STEPS):
    """Run the same steps of cross-entropy training on both; return both parameter lists."""
    ours, theirs = twin_models()
    opt_ours, opt_theirs = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    criterion = losses.CrossEntropyLoss()
    for _ in range(steps):
        X, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
        opt_ours.zero_grad()
        criterion(ours(X), y)
        ours.backward(criterion.backward())
        opt_ours.step()
        opt_theirs.zero_grad()
        torch.nn.functional.cross_entropy(theirs(torch.from_numpy(X)), torch.from_numpy(y)).backward()
        opt_theirs.step()
    return [p.data for p in ours.parameters()], [p.detach().numpy() for p in theirs.parameters()]


def assert_same_parameters(ours, theirs):
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-10)


SGD_SETTINGS = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.5, weight_decay=0.1, nesterov=True),
]
ADAM_SETTINGS = [
    dict(),
    dict(lr=0.01),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.01),
]


@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=str)
def test_sgd_follows_torch(settings, rng):
    ours, theirs = train_both(
        lambda params: optim.SGD(params, **settings),
        lambda params: torch.optim.SGD(params, **settings),
        rng,
    )
    assert_same_parameters(ours, theirs)


ADAMW_SETTINGS = [
    dict(),                                    # the default weight_decay of AdamW is 1e-2
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.5),
    dict(lr=0.01, weight_decay=0),
]


@pytest.mark.parametrize("settings", ADAM_SETTINGS, ids=str)
def test_adam_follows_torch(settings, rng):
    ours, theirs = train_both(
        lambda params: optim.Adam(params, **settings),
        lambda params: torch.optim.Adam(params, **settings),
        rng,
    )
    assert_same_parameters(ours, theirs)


@pytest.mark.parametrize("settings", ADAMW_SETTINGS, ids=str)
def test_adamw_follows_torch(settings, rng):
    ours, theirs = train_both(
        lambda params: optim.AdamW(params, **settings),
        lambda params: torch.optim.AdamW(params, **settings),
        rng,
    )
    assert_same_parameters(ours, theirs)


def test_adamw_decays_weights_unlike_adam_with_the_same_weight_decay(rng):
    """Decoupled decay is not the L2 term: with weight_decay > 0 the two trajectories part."""
    settings = dict(lr=0.01, weight_decay=0.5)
    dlcourse.manual_seed(0)
    adam, _ = train_both(lambda p: optim.Adam(p, **settings), lambda p: torch.optim.Adam(p, **settings), rng)
    dlcourse.manual_seed(0)
    rng2 = np.random.default_rng(1234)
    adamw, _ = train_both(lambda p: optim.AdamW(p, **settings), lambda p: torch.optim.AdamW(p, **settings),
                          rng2)
    assert max(np.abs(a - b).max() for a, b in zip(adam, adamw, strict=True)) > 1e-3


def test_adamw_with_zero_gradient_only_shrinks_the_weight_by_one_minus_lr_times_decay():
    p = one_parameter([2.0, -4.0], [0.0, 0.0])
    optim.AdamW([p], lr=0.1, weight_decay=0.5).step()   # m = v = 0: the Adam part adds nothing
    np.testing.assert_allclose(p.data, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-6)   # float32


def test_the_trajectories_actually_move(rng):
    """Guard against a vacuous comparison: the parameters change a lot over the steps."""
    dlcourse.manual_seed(0)
    before = [p.data.copy() for p in twin_models()[0].parameters()]
    dlcourse.manual_seed(0)                # the same initial weights again
    after, _ = train_both(lambda p: optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1), rng)
    assert max(np.abs(a - b).max() for a, b in zip(after, before, strict=True)) > 0.05


# -- the update rules, by hand, on one parameter ------------------------------------
def one_parameter(value, grad):
    p = nn.Parameter(np.array(value, dtype=np.float64))
    p.grad[...] = grad
    return p


def test_plain_sgd_step_is_w_minus_lr_grad():
    p = one_parameter([1.0, 2.0], [0.5, -1.0])
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, 2.1])


def test_momentum_buffer_starts_as_the_first_gradient():
    p = one_parameter([0.0], [1.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.9)
    opt.step()                      # v = g = 1, not (1 - 0.9) g
    np.testing.assert_allclose(p.data, [-1.0])
    opt.step()                      # v = 0.9 * 1 + 1 = 1.9
    np.testing.assert_allclose(p.data, [-2.9])


def test_nesterov_steps_along_g_plus_momentum_times_v():
    p = one_parameter([0.0], [1.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.9, nesterov=True)
    opt.step()                      # v = 1, step 1 + 0.9 * 1
    np.testing.assert_allclose(p.data, [-1.9])


def test_first_adam_step_has_size_lr_whatever_the_gradient_scale():
    for grad in [1e-6, 1.0, 1e6]:
        p = one_parameter([0.0], [grad])
        optim.Adam([p], lr=0.01).step()    # m_hat = g, v_hat = g^2: step = lr * g / (|g| + eps)
        np.testing.assert_allclose(p.data, [-0.01], rtol=1e-2)


# -- in place, dtype, zero_grad ----------------------------------------------------------
@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda p: optim.Adam(p, weight_decay=0.1),
                                  lambda p: optim.AdamW(p, weight_decay=0.1)], ids=["SGD", "Adam", "AdamW"])
def test_step_updates_the_same_float32_arrays_in_place(make, rng):
    model = nn.Linear(3, 2)
    arrays = [p.data for p in model.parameters()]
    before = [a.copy() for a in arrays]
    opt = make(model.parameters())
    for _ in range(2):
        model(rng.normal(size=(4, 3)).astype(np.float32))
        model.backward(np.ones((4, 2), dtype=np.float32))
        opt.step()
    for p, array, old in zip(model.parameters(), arrays, before, strict=True):
        assert p.data is array
        assert p.data.dtype == np.float32
        assert not np.array_equal(p.data, old)


def test_zero_grad_zeroes_the_gradient_arrays_in_place():
    p = one_parameter([1.0, 2.0], [3.0, 4.0])
    grad = p.grad
    optim.SGD([p], lr=0.1).zero_grad()
    assert p.grad is grad
    np.testing.assert_array_equal(p.grad, [0.0, 0.0])


@pytest.mark.parametrize("klass", [optim.SGD, optim.Adam, optim.AdamW], ids=lambda k: k.__name__)
def test_the_reference_step_can_be_forbidden(klass):
    opt = klass([one_parameter([1.0], [1.0])], lr=0.1)
    with forbid(klass), pytest.raises(ReferenceCalledError):
        opt.step()


# -- argument checks, as torch ---------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda ps: optim.SGD(ps, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum"),
    (lambda ps: optim.Adam(ps, lr=-1e-3), "Invalid learning rate: -0.001"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda ps: optim.Adam(ps, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda ps: optim.AdamW(ps, lr=-1e-3), "Invalid learning rate: -0.001"),
    (lambda ps: optim.AdamW(ps, betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
])
def test_invalid_arguments_raise_value_error_like_torch(make, message):
    with pytest.raises(ValueError, match=message):
        make([one_parameter([1.0], [1.0])])


def test_empty_parameter_list_is_rejected():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)


def test_passing_the_model_instead_of_its_parameters_says_so():
    with pytest.raises(TypeError, match=r"pass model.parameters\(\)"):
        optim.Adam(nn.Linear(2, 2))


def test_passing_arrays_instead_of_parameters_says_so():
    with pytest.raises(TypeError, match="expects Parameters.*ndarray at position 0"):
        optim.SGD([np.zeros(3)], lr=0.1)


# -- learning-rate schedule -------------------------------------------------------------------
def test_step_lr_follows_torch():
    ours = optim.SGD([one_parameter([1.0], [0.0])], lr=0.5)
    theirs = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    ours_schedule = optim.StepLR(ours, step_size=3, gamma=0.5)
    theirs_schedule = torch.optim.lr_scheduler.StepLR(theirs, step_size=3, gamma=0.5)
    for _ in range(10):
        ours.step()
        theirs.step()
        ours_schedule.step()
        theirs_schedule.step()
        assert ours_schedule.get_last_lr() == pytest.approx(theirs_schedule.get_last_lr(), rel=1e-12)
    assert ours.lr == pytest.approx(0.5 * 0.5**3)
