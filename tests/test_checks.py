"""dlcourse.checks: every message a student can see, word for word where it matters."""
import re

import numpy as np
import pytest

import dlcourse.functional as F
from dlcourse import checks, nn
from dlcourse.checks import CheckFailed, NotAttempted

Z = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
BIG = np.array([-1000.0, 0.0, 1000.0])


def stable_sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype)


def failure(student_fn, inputs=(Z,), reference_fn=F.sigmoid, **kwargs):
    """The message of the CheckFailed that check_function raises."""
    with pytest.raises(CheckFailed) as info:
        checks.check_function(student_fn, reference_fn, list(inputs), name="sigmoid", **kwargs)
    return str(info.value)


# -- right answers --------------------------------------------------------------------
def test_a_right_answer_passes_and_says_so(capsys):
    checks.check_function(stable_sigmoid, F.sigmoid, [Z, BIG, np.array(3.0), Z.astype(np.float32)])
    assert capsys.readouterr().out == "\u2714 stable_sigmoid: correct on 4 inputs.\n"


def test_quiet_prints_nothing(capsys):
    checks.check_function(stable_sigmoid, F.sigmoid, [Z], quiet=True)
    assert capsys.readouterr().out == ""


def test_a_numpy_scalar_for_a_0d_input_is_accepted():
    checks.check_function(lambda z: np.float64(stable_sigmoid(z)), F.sigmoid, [np.array(0.5)], quiet=True)


def test_tuples_of_arguments_are_spread():
    checks.check_function(lambda z, a: F.elu.__wrapped__(z, a), F.elu, [(Z, 0.5)], quiet=True)
    message = failure(lambda z, alpha: z, [(Z, 0.5)], reference_fn=F.elu)
    assert message.startswith("`sigmoid` for z = [-2, -1, 0, 1, 2], alpha = 0.5 is wrong at index (0,)")


# -- wrong answers -------------------------------------------------------------------------
def test_a_wrong_value_names_input_index_expected_and_received():
    message = failure(lambda z: 1 / (1 + np.exp(z)))
    assert message == (
        "`sigmoid` for z = [-2, -1, 0, 1, 2] is wrong at index (0,): expected 0.119203, got 0.880797 "
        "(z there is -2). 4 of 5 entries differ."
    )


def test_a_wrong_value_of_a_0d_input_has_no_index():
    message = failure(lambda z: 1 - stable_sigmoid(z), [np.array(3.0)])
    assert message == "`sigmoid` for z = 3 (a 0-d array) is wrong: expected 0.952574, got 0.0474259."


def test_large_inputs_are_abridged():
    x = np.ones((2, 3, 4))
    message = failure(lambda z: 0 * z, [x])
    assert message.startswith("`sigmoid` for z = an array of shape (2, 3, 4) starting 1, 1, 1, ... is wrong")
    assert message.endswith("24 of 24 entries differ.")


def test_the_wrong_shape():
    message = failure(lambda z: stable_sigmoid(z)[:, None])
    assert message == (
        "`sigmoid` for z = [-2, -1, 0, 1, 2] returned an array of shape (5, 1); expected shape (5,)."
    )


def test_none_returned():
    def forgot_return(z):
        1 / (1 + np.exp(-z))

    message = failure(forgot_return)
    assert message == (
        "`sigmoid` for z = [-2, -1, 0, 1, 2] returned None. Did you forget the `return` statement?"
    )


def test_a_list_returned():
    message = failure(lambda z: list(stable_sigmoid(z)))
    assert "returned a list; return a numpy array of shape (5,)" in message


def test_a_string_returned():
    assert failure(lambda z: "0.5").endswith("returned a str; expected a numpy array of shape (5,).")


def test_an_integer_array_returned():
    message = failure(lambda z: (z > 0).astype(np.int64))
    assert message == (
        "`sigmoid` for z = [-2, -1, 0, 1, 2] returned dtype int64; expected dtype float64 "
        "(the input's dtype: keep its precision)."
    )


def test_float32_input_must_stay_float32():
    message = failure(lambda z: stable_sigmoid(z).astype(np.float64), [Z.astype(np.float32)])
    assert message == (
        "`sigmoid` for z = [-2, -1, 0, 1, 2] (float32) returned dtype float64; expected dtype float32 "
        "(the input's dtype: keep its precision)."
    )


def test_the_dtype_check_can_be_switched_off():
    checks.check_function(lambda z: stable_sigmoid(z).astype(np.float64), F.sigmoid, [Z.astype(np.float32)],
                          check_dtype=False, quiet=True)


def test_nan_has_its_own_sentence():
    message = failure(lambda z: np.exp(z) / (1 + np.exp(z)), [BIG], allow_warnings=True)
    assert message == (
        "`sigmoid` for z = [-1000, 0, 1000] returned nan at index (2,), where the expected value is 1 "
        "(z there is 1000). A nan or inf usually comes from an overflow, such as np.exp of a large number."
    )


def test_inf_has_the_same_sentence():
    message = failure(lambda z: np.exp(z), [BIG], allow_warnings=True)
    assert "returned inf at index (2,), where the expected value is 1" in message


def test_right_values_with_an_overflow_warning_fail():
    message = failure(lambda z: 1 / (1 + np.exp(-z)), [BIG])
    assert message == (
        "`sigmoid` for z = [-1000, 0, 1000] returned the right values, but numpy warned "
        "'overflow encountered in exp': an intermediate result overflowed or was undefined. "
        "Rewrite it so that no step does."
    )


def test_warnings_can_be_allowed():
    checks.check_function(lambda z: 1 / (1 + np.exp(-z)), F.sigmoid, [BIG], allow_warnings=True, quiet=True)


def test_changing_the_input_in_place_fails():
    def in_place(z):
        z *= -1
        return 1 / (1 + np.exp(z))

    assert failure(in_place).startswith("`sigmoid` changed its input array in place")


def test_tolerances_follow_the_dtype():
    nudge = lambda rel: (lambda z: (stable_sigmoid(z) * (1 + rel)).astype(z.dtype))  # noqa: E731
    checks.check_function(nudge(1e-9), F.sigmoid, [Z], quiet=True)
    failure(nudge(1e-5))
    checks.check_function(nudge(1e-7), F.sigmoid, [Z.astype(np.float32)], quiet=True)
    failure(nudge(1e-3), [Z.astype(np.float32)])


# -- not attempted, student errors, honesty --------------------------------------------
def stub(z):
    # YOUR CODE HERE
    raise NotImplementedError()


def test_not_attempted_is_short_and_friendly():
    with pytest.raises(NotAttempted) as info:
        checks.check_function(stub, F.sigmoid, [Z], name="sigmoid")
    assert str(info.value) == (
        "Not attempted yet: write `sigmoid` in the cell above, then run this cell again."
    )
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_not_attempted_renders_without_a_traceback_in_jupyter():
    with pytest.raises(NotAttempted) as info:
        checks.check_function(stub, F.sigmoid, [Z], name="sigmoid")
    rendered = info.value._render_traceback_()
    assert len(rendered) == 1
    assert re.sub(r"\x1b\[[0-9;]*m", "", rendered[0]) == (
        "NotAttempted: Not attempted yet: write `sigmoid` in the cell above, then run this cell again."
    )


def test_calling_an_unwritten_helper_names_the_helper():
    def sigmoid_grad(z):
        s = stub(z)
        return s * (1 - s)

    with pytest.raises(NotAttempted) as info:
        checks.check_function(sigmoid_grad, F.sigmoid_grad, [Z])
    assert str(info.value) == (
        "Not attempted yet: `sigmoid_grad` calls `stub`, which still raises NotImplementedError. "
        "Write `stub` first, then run this cell again."
    )


def test_a_students_own_error_is_theirs_with_a_note():
    def broken(z):
        return z @ np.ones((2, 2))

    with pytest.raises(ValueError, match="matmul") as info:
        checks.check_function(broken, F.sigmoid, [Z], name="sigmoid")
    assert info.value.__notes__ == [
        "(raised by your code while checking `sigmoid` for z = [-2, -1, 0, 1, 2])"
    ]
    # The traceback starts at the student's function, not inside dlcourse.checks.
    frames = [entry.name for entry in info.traceback]
    assert "broken" in frames and "run_student" in frames
    assert frames.index("broken") == len(frames) - 1


def test_a_not_implemented_error_with_a_message_from_elsewhere_is_the_students():
    def uses_a_missing_feature(z):
        raise NotImplementedError("complex dtypes are not supported")

    with pytest.raises(NotImplementedError, match="complex dtypes") as info:
        checks.check_function(uses_a_missing_feature, F.sigmoid, [Z], name="sigmoid")
    assert info.type is NotImplementedError and info.value.__notes__


def test_calling_the_reference_fails_the_honesty_check():
    message = failure(lambda z: F.sigmoid(z))
    assert message == (
        "Honesty check: you called the reference implementation dlcourse sigmoid inside your answer; "
        "write it yourself with numpy."
    )


def test_the_reference_works_again_after_a_check():
    failure(lambda z: F.sigmoid(z))
    np.testing.assert_allclose(F.sigmoid(Z), stable_sigmoid(Z))


def test_a_plain_python_reference_needs_no_guard():
    checks.check_function(stable_sigmoid, lambda z: 0.5 * (1 + np.tanh(z / 2)), [Z], quiet=True)


# -- derivatives -------------------------------------------------------------------------
def test_a_right_derivative_passes(capsys):
    checks.check_derivative(lambda z: F.sigmoid(z) * (1 - F.sigmoid(z)), F.sigmoid, [Z], name="sigmoid_grad")
    assert capsys.readouterr().out == (
        "\u2714 sigmoid_grad: agrees with central differences of `sigmoid` on 1 input.\n"
    )


def test_a_wrong_derivative_names_the_worst_entry():
    with pytest.raises(CheckFailed) as info:
        checks.check_derivative(lambda z: F.sigmoid(z) * (1 + F.sigmoid(z)), F.sigmoid, [Z],
                                name="sigmoid_grad")
    assert str(info.value) == (
        "`sigmoid_grad` for z = [-2, -1, 0, 1, 2] disagrees with central differences of `sigmoid` "
        "at index (4,) (z there is 2): yours gives 1.6566, the numerical derivative is 0.104994 "
        "(relative error 8.8e-01)."
    )


def test_a_nan_derivative_fails():
    with pytest.raises(CheckFailed, match="disagrees with central differences"):
        checks.check_derivative(lambda z: z * np.nan, F.sigmoid, [Z], name="sigmoid_grad")


def test_the_derivative_check_forbids_its_reference():
    with pytest.raises(CheckFailed, match="you called the reference implementation dlcourse sigmoid_grad"):
        checks.check_derivative(lambda z: F.sigmoid_grad(z), F.sigmoid, [Z], reference=F.sigmoid_grad)


def test_an_unwritten_derivative_is_not_attempted():
    def sigmoid_grad(z):
        raise NotImplementedError()

    with pytest.raises(NotAttempted, match="write `sigmoid_grad` in the cell above"):
        checks.check_derivative(sigmoid_grad, F.sigmoid, [Z])


# -- layers -------------------------------------------------------------------------------
class StudentLinear(nn.Module):
    """A student's Linear layer with an optional mistake."""

    def __init__(self, mistake=None):
        super().__init__()
        self.weight = nn.Parameter(np.arange(6.0).reshape(2, 3) / 6 - 0.4, dtype=np.float64)
        self.bias = nn.Parameter(np.array([0.1, -0.2]), dtype=np.float64)
        self.mistake = mistake

    def forward(self, x):
        if self.mistake == "not written":
            raise NotImplementedError()
        if self.mistake == "copied":
            return nn.Linear.forward(self, x)
        self.x = x
        return x @ self.weight.data.T + self.bias.data

    def backward(self, grad_out):
        factor = 2.0 if self.mistake == "weight" else 1.0
        self.weight.grad += factor * grad_out.T @ self.x
        self.bias.grad += grad_out.sum(axis=0)
        if self.mistake == "no return":
            return None
        return grad_out @ self.weight.data


X = np.random.default_rng(0).standard_normal((4, 3))


def layer_failure(mistake, error=CheckFailed):
    with pytest.raises(error) as info:
        checks.check_layer_gradients(StudentLinear(mistake), X, name="Linear", reference=nn.Linear)
    return str(info.value)


def test_a_right_layer_passes(capsys):
    checks.check_layer_gradients(StudentLinear(), X, name="Linear", reference=nn.Linear)
    assert capsys.readouterr().out == (
        "\u2714 Linear: backward agrees with central differences for input, weight, bias.\n"
    )


def test_a_wrong_parameter_gradient_names_the_parameter_and_entry():
    message = layer_failure("weight")
    assert re.fullmatch(
        r"`Linear\.backward` is wrong for the gradient of `weight` \(what backward adds into weight\.grad\): "
        r"at index \(\d, \d\) your backward gives -?[\d.]+, central differences give -?[\d.]+ "
        r"\(relative error 3\.3e-01\)\.", message)


def test_a_layer_whose_backward_returns_nothing():
    assert layer_failure("no return") == (
        "`Linear` on x of shape (4, 3): StudentLinear.backward should return dL/dinput of the input's shape "
        "(4, 3), got a NoneType."
    )


def test_an_unwritten_layer_method_is_not_attempted():
    message = layer_failure("not written", NotAttempted)
    assert message == "Not attempted yet: write `Linear.forward` in the cell above, then run this cell again."


def test_a_layer_without_backward_is_not_attempted():
    class ForwardOnly(nn.Module):
        def forward(self, x):
            return 2 * x

    with pytest.raises(NotAttempted) as info:
        checks.check_layer_gradients(ForwardOnly(), X)
    assert str(info.value) == (
        "Not attempted yet: ForwardOnly does not implement backward. "
        "Write it in the cell above, then run this cell again."
    )


def test_a_layer_calling_the_reference_fails_the_honesty_check():
    assert layer_failure("copied").startswith(
        "Honesty check: you called the reference implementation dlcourse Linear.forward"
    )


# -- assert_close on its own -------------------------------------------------------------
def test_assert_close_on_its_own():
    checks.assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    with pytest.raises(CheckFailed, match=r"^The result is wrong at index \(1,\): expected 2, got 3\.") as e:
        checks.assert_close(np.array([1.0, 3.0]), np.array([1.0, 2.0]))
    assert str(e.value).endswith("1 of 2 entries differ.")


def test_run_student_refuses_to_forbid_what_is_no_reference():
    """A test cell that thinks it forbids something the guard cannot block is an authoring error."""
    with pytest.raises(TypeError, match="not a dlcourse reference"):
        checks.run_student(lambda: 1, (), "f", "`f()`", forbidden=[np.exp])


# -- issue 14: messages that show the difference, and guards a student cannot switch off ----------
def test_a_small_difference_is_printed_with_enough_digits_and_the_dtype_named():
    from dlcourse import perceptrons as P

    X, y = P.make_separable(60, margin=0.05, seed=1)

    def float32_rule(X, y, max_epochs=100):   # the perceptron rule accumulated in float32
        w, b, n_updates = np.zeros(X.shape[1], dtype=X.dtype), 0.0, 0
        for _ in range(max_epochs):
            mistakes = 0
            for n in range(len(X)):
                y_hat = 1 if X[n] @ w + b >= 0 else 0
                if y_hat != y[n]:
                    w += (y[n] - y_hat) * X[n]
                    b += y[n] - y_hat
                    mistakes += 1
            n_updates += mistakes
            if mistakes == 0:
                break
        return w, b, n_updates

    with pytest.raises(checks.CheckFailed) as failure:
        checks.check_function(float32_rule, P.perceptron_train, [(X, y)],
                              result_names=["w", "b", "n_updates"], check_dtype=False)
    message = str(failure.value)
    expected, got = re.search(r"expected ([-\d.e+]+), got ([-\d.e+]+?)\.? ", message).groups()
    assert expected != got and len(expected) == len(got)
    assert "float32" in message and "float64" in message


def test_numbers_far_apart_keep_six_digits():
    with pytest.raises(checks.CheckFailed, match=r"expected 2, got 1\.5"):
        checks.assert_close(np.array(1.5), np.array(2.0))


def test_silencing_numpy_warnings_is_refused():
    def silenced(z):
        with np.errstate(all="ignore"):
            return 1 / (1 + np.exp(-z))

    with pytest.raises(checks.CheckFailed, match="np.errstate"):
        checks.check_function(silenced, F.sigmoid, [np.array([-1000.0, 0.0, 1000.0])], quiet=True)
    checks.check_function(silenced, F.sigmoid, [np.array([-1.0, 1.0])], allow_warnings=True, quiet=True)


def test_a_forbidden_numpy_function_is_refused_and_restored():
    with pytest.raises(checks.CheckFailed, match="np.tanh"):
        checks.check_function(lambda z: np.tanh(z), F.tanh, [np.array([0.5])], forbidden_numpy=("tanh",))
    checks.check_function(lambda z: 2 * F.sigmoid(2 * z) - 1, F.tanh, [np.array([0.5])],
                          forbidden_numpy=("tanh",), quiet=True)
    assert isinstance(np.tanh, np.ufunc)
    renamed = np.tanh
    with pytest.raises(checks.CheckFailed, match="np.tanh"):
        checks.check_function(lambda z: renamed(z), F.tanh, [np.array([0.5])], forbidden_numpy=("tanh",))
