"""The honesty guard: a forbidden reference refuses to answer; everything else still works."""
import numpy as np
import pytest

from dlcourse import data, gradcheck, init, losses, nn, train
from dlcourse import functional as F
from dlcourse.honesty import ReferenceCalledError, forbid

X = np.linspace(-2, 2, 6).reshape(2, 3)


def test_a_forbidden_function_raises_and_names_itself():
    with forbid(F.sigmoid):
        with pytest.raises(ReferenceCalledError, match="reference implementation dlcourse sigmoid"):
            F.sigmoid(X)


def test_other_functions_still_answer_while_one_is_forbidden():
    with forbid(F.sigmoid):
        np.testing.assert_array_equal(F.relu(X), np.maximum(X, 0))


def test_a_forbidden_function_answers_again_after_the_block():
    with forbid(F.sigmoid):
        pass
    assert F.sigmoid(np.array(0.0)) == 0.5


def test_forbidding_a_layer_blocks_its_forward_and_backward():
    layer = nn.ReLU()
    with forbid(nn.ReLU):
        with pytest.raises(ReferenceCalledError, match="dlcourse ReLU.forward"):
            layer(X)
        with pytest.raises(ReferenceCalledError, match="dlcourse ReLU.backward"):
            layer.backward(X)


def test_forbidding_a_layer_leaves_its_siblings_working():
    """ReLU and Tanh share a base class's forward; only the forbidden one refuses."""
    with forbid(nn.ReLU):
        np.testing.assert_allclose(nn.Tanh()(X), np.tanh(X))
    with forbid(nn.BatchNorm1d):
        nn.BatchNorm2d(2)(np.ones((2, 2, 3, 3)) * np.arange(2)[:, None, None, None])


def test_a_subclass_of_a_forbidden_layer_is_blocked_too():
    class MyReLU(nn.ReLU):
        def forward(self, x):
            return super().forward(x)

    with forbid(nn.ReLU), pytest.raises(ReferenceCalledError):
        MyReLU()(X)


def test_nested_blocks_only_lift_what_they_added():
    with forbid(F.sigmoid):
        with forbid(F.sigmoid, F.tanh):
            pass
        with pytest.raises(ReferenceCalledError):
            F.sigmoid(X)
        F.tanh(X)


def test_forbidding_something_that_is_not_a_reference_is_a_type_error():
    with pytest.raises(TypeError, match="not a dlcourse reference"):
        with forbid(np.exp):
            pass


def test_forbidding_a_class_without_reference_methods_is_a_type_error():
    class Plain:
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="Plain has no dlcourse reference methods"):
        with forbid(Plain):
            pass


# What chapter 03's tests forbid besides layers and losses: each must refuse while forbidden.
GUARDED_HELPERS = [
    (init.he_normal, lambda: init.he_normal((3, 2))),
    (init.xavier_uniform, lambda: init.xavier_uniform((3, 2))),
    (gradcheck.numerical_gradient, lambda: gradcheck.numerical_gradient(np.sum, np.ones(2))),
    (gradcheck.relative_error, lambda: gradcheck.relative_error(np.ones(2), np.ones(2))),
    (data.minibatches, lambda: data.minibatches(np.ones((4, 1)), np.ones(4), 2)),
    (train.fit, lambda: train.fit(nn.Linear(1, 1), losses.MSELoss(), None, np.ones((2, 1)), np.ones((2, 1)))),
]


@pytest.mark.parametrize(("reference", "call"), GUARDED_HELPERS, ids=lambda r: getattr(r, "__name__", ""))
def test_helpers_a_chapter_forbids_refuse_while_forbidden(reference, call):
    with forbid(reference), pytest.raises(ReferenceCalledError, match=reference.__name__):
        call()
