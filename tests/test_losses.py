"""dlcourse.losses: values and gradients equal PyTorch's in float64, finite at the extremes.

Each loss is called as ``loss = L(pred, target)`` (a float) and
``L.backward()`` (dL/dpred, the shape of pred); mean reduction as PyTorch.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from dlcourse import losses
from dlcourse.gradcheck import numerical_gradient
from dlcourse.honesty import ReferenceCalledError, forbid

TORCH_LOSSES = {
    "MSELoss": torch.nn.functional.mse_loss,
    "BCELoss": torch.nn.functional.binary_cross_entropy,
    "BCEWithLogitsLoss": torch.nn.functional.binary_cross_entropy_with_logits,
    "CrossEntropyLoss": torch.nn.functional.cross_entropy,
}
ELEMENTWISE = ["MSELoss", "BCELoss", "BCEWithLogitsLoss"]


def ours(name, pred, target):
    """(loss, dL/dpred) from dlcourse."""
    criterion = getattr(losses, name)()
    value = criterion(pred, target)
    return value, criterion.backward()


def theirs(name, pred, target):
    """(loss, dL/dpred) from PyTorch, in float64."""
    pred_t = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    target_dtype = torch.int64 if name == "CrossEntropyLoss" else torch.float64
    target_t = torch.tensor(target, dtype=target_dtype)
    value = TORCH_LOSSES[name](pred_t, target_t)
    value.backward()
    return value.item(), pred_t.grad.numpy()


def random_inputs(name, shape, rng):
    """A prediction of ``shape`` and a matching target, as each loss expects them."""
    if name == "CrossEntropyLoss":
        return rng.normal(0, 3, size=shape), rng.integers(0, shape[1], size=shape[0])
    if name == "BCELoss":
        return rng.uniform(0.01, 0.99, size=shape), rng.integers(0, 2, size=shape).astype(np.float64)
    if name == "BCEWithLogitsLoss":
        return rng.normal(0, 3, size=shape), rng.uniform(0, 1, size=shape)   # soft targets are allowed
    return rng.normal(size=shape), rng.normal(size=shape)


def assert_matches_torch(name, pred, target):
    value, grad = ours(name, pred, target)
    expected_value, expected_grad = theirs(name, pred, target)
    assert isinstance(value, float)
    assert grad.shape == np.shape(pred)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-14)


# -- agreement with PyTorch on random data --------------------------------------------
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shape", [(1,), (7,), (5, 1), (4, 3), (2, 3, 4)])
def test_elementwise_losses_match_torch(name, shape, rng):
    assert_matches_torch(name, *random_inputs(name, shape, rng))


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (6, 2), (32, 10)])
def test_cross_entropy_matches_torch(shape, rng):
    assert_matches_torch("CrossEntropyLoss", *random_inputs("CrossEntropyLoss", shape, rng))


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(ELEMENTWISE), shape=array_shapes(min_dims=1, max_dims=3, max_side=6),
       seed=st.integers(0, 2**32 - 1))
def test_elementwise_losses_match_torch_for_any_shape(name, shape, seed):
    assert_matches_torch(name, *random_inputs(name, shape, np.random.default_rng(seed)))


@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 9), C=st.integers(1, 7), seed=st.integers(0, 2**32 - 1))
def test_cross_entropy_matches_torch_for_any_shape(N, C, seed):
    logits, target = random_inputs("CrossEntropyLoss", (N, C), np.random.default_rng(seed))
    assert_matches_torch("CrossEntropyLoss", logits, target)


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n(rng):
    Z = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 2])
    criterion = losses.CrossEntropyLoss()
    criterion(Z, y)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(criterion.backward(), (P - np.eye(3)[y]) / 4, rtol=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE + ["CrossEntropyLoss"])
def test_backward_agrees_with_central_differences(name, rng):
    pred, target = random_inputs(name, (3, 4), rng)
    criterion = getattr(losses, name)()
    criterion(pred, target)
    analytic = criterion.backward()
    numeric = numerical_gradient(lambda p: criterion(p, target), pred)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


# -- the extremes: logits of +-1000, probabilities of exactly 0 and 1 -----------------
def test_bce_with_logits_is_finite_and_equal_to_torch_for_huge_logits():
    logits = np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0, 710.0, -745.0])
    target = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.0, 1.0])
    value, grad = ours("BCEWithLogitsLoss", logits, target)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert_matches_torch("BCEWithLogitsLoss", logits, target)


def test_cross_entropy_is_finite_and_equal_to_torch_for_huge_logits():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0], [1000.0, 1000.0, -1000.0]])
    target = np.array([0, 0, 2])
    value, grad = ours("CrossEntropyLoss", logits, target)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert value == pytest.approx((0 + 2000 + (2000 + np.log(2))) / 3)
    assert_matches_torch("CrossEntropyLoss", logits, target)


def test_bce_is_finite_and_equal_to_torch_for_probabilities_0_and_1():
    # every pairing of p in {0, 1, 0.5, 1e-30, 1 - 1e-16} with y in {0, 1}: torch clamps log at -100
    p = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 0.5, 1e-30, 1e-30, 1 - 1e-16, 1 - 1e-16])
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    value, grad = ours("BCELoss", p, y)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert_matches_torch("BCELoss", p, y)


def test_bce_of_a_confident_wrong_answer_costs_100_per_entry():
    assert losses.BCELoss()(np.array([0.0, 1.0]), np.array([1.0, 0.0])) == 100.0


def test_bce_of_a_perfect_answer_is_zero_with_zero_gradient():
    criterion = losses.BCELoss()
    assert criterion(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    np.testing.assert_array_equal(criterion.backward(), [0.0, 0.0])


def test_extremes_raise_no_numpy_warnings():
    with np.errstate(divide="raise", over="raise", invalid="raise"):   # underflow to 0 is harmless
        ours("BCELoss", np.array([0.0, 1.0]), np.array([1.0, 0.0]))
        ours("BCEWithLogitsLoss", np.array([1000.0, -1000.0]), np.array([0.0, 1.0]))
        ours("CrossEntropyLoss", np.array([[1000.0, -1000.0]]), np.array([1]))


# -- dtypes ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ELEMENTWISE + ["CrossEntropyLoss"])
def test_float32_prediction_gives_a_float32_gradient(name, rng):
    pred, target = random_inputs(name, (5, 3), rng)
    _, grad = ours(name, pred.astype(np.float32), target)
    assert grad.dtype == np.float32


def test_integer_and_list_inputs_are_accepted():
    value, grad = ours("MSELoss", [1, 2, 3], [1, 2, 5])
    assert value == pytest.approx(4 / 3)
    np.testing.assert_allclose(grad, [0, 0, -4 / 3])


# -- clear errors ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_shape_mismatch_names_both_shapes(name):
    with pytest.raises(ValueError, match=r"pred of shape \(4, 1\) and target of shape \(4,\)"):
        getattr(losses, name)()(np.full((4, 1), 0.5), np.zeros(4))


def test_cross_entropy_rejects_targets_out_of_range():
    with pytest.raises(ValueError, match=r"^CrossEntropyLoss expects class indices in \[0, 10\), got 12$"):
        losses.CrossEntropyLoss()(np.zeros((3, 10)), np.array([1, 12, 3]))
    with pytest.raises(ValueError, match=r"in \[0, 10\), got -1"):
        losses.CrossEntropyLoss()(np.zeros((3, 10)), np.array([1, -1, 3]))


def test_cross_entropy_rejects_non_integer_targets():
    with pytest.raises(ValueError, match="integer class indices.*float64.*astype"):
        losses.CrossEntropyLoss()(np.zeros((3, 10)), np.array([1.0, 2.0, 3.0]))


def test_cross_entropy_rejects_targets_of_the_wrong_shape():
    expected = r"targets of shape \(3,\) for logits of shape \(3, 10\), got targets of shape \(3, 1\)"
    with pytest.raises(ValueError, match=expected):
        losses.CrossEntropyLoss()(np.zeros((3, 10)), np.zeros((3, 1), dtype=int))


def test_cross_entropy_rejects_logits_that_are_not_2d():
    with pytest.raises(ValueError, match=r"\(N, C\).*shape \(10,\)"):
        losses.CrossEntropyLoss()(np.zeros(10), np.array([1]))


def test_bce_rejects_values_outside_0_1_and_suggests_logits():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*BCEWithLogitsLoss"):
        losses.BCELoss()(np.array([0.5, 1.5]), np.array([0.0, 1.0]))


def test_non_real_input_is_rejected():
    with pytest.raises(ValueError, match="real-valued array"):
        losses.MSELoss()(np.array(["a", "b"]), np.zeros(2))


@pytest.mark.parametrize("name", ELEMENTWISE + ["CrossEntropyLoss"])
def test_backward_before_forward_is_a_clear_runtime_error(name):
    with pytest.raises(RuntimeError, match=rf"{name}.backward was called before the loss was computed"):
        getattr(losses, name)().backward()


def test_the_reference_can_be_forbidden():
    with forbid(losses.CrossEntropyLoss), pytest.raises(ReferenceCalledError):
        losses.CrossEntropyLoss()(np.zeros((1, 2)), np.array([0]))
    assert losses.CrossEntropyLoss()(np.zeros((1, 2)), np.array([0])) == pytest.approx(np.log(2))
