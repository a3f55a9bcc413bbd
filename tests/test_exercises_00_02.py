"""Alternative answers to the exercises of chapters 00-02 whose tests changed (issue 14).

Each answer is run against the exercise's real test cell from solutions/ (visible and
hidden parts), after the chapter's setup cell: a correct answer must pass the whole
cell (full points), a wrong one must make it fail. The tests closed here:

- ELU (02, exercise 3): accuracy near 0 is checked in relative terms (atol = 0), so
  ``np.exp(z) - 1`` no longer passes; silencing numpy's warnings is refused.
- tanh (02, exercise 5): ``np.tanh`` is refused (``forbidden_numpy``).
- sigmoid (00 and 02) and softmax (02): an overflow hidden by ``np.errstate`` or a
  warnings filter is refused (checks.run_student), where it used to pass.
"""
import numpy as np
import pytest

from course import ROOT, grade_id, read_notebook  # tools/course.py

CHAPTERS = {"00": "00_getting_started", "02": "02_activations"}


def run_exercise(chapter, test_id, answer):
    """Run the setup cell of ``chapter``, then ``answer``, then the full test cell ``test_id``."""
    name = CHAPTERS[chapter]
    nb = read_notebook(ROOT / "solutions", name)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    test = next(c for c in nb.cells if grade_id(c) == test_id)
    namespace = {}
    exec(compile(setup.source, f"<{name} setup>", "exec"), namespace)
    exec(compile(answer, "<student answer>", "exec"), namespace)
    exec(compile(test.source, f"<{name} {test_id}>", "exec"), namespace)


def fails(chapter, test_id, answer):
    """True when the test cell raises (the student loses the points)."""
    from dlcourse import checks
    try:
        run_exercise(chapter, test_id, answer)
    except (checks.CheckFailed, AssertionError, FloatingPointError, TypeError, ValueError):
        return True
    return False


ELU_GRAD = """
def elu_grad(z, alpha=1.0):
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))).astype(z.dtype)
"""
ELU_CORRECT = [
    "def elu(z, alpha=1.0):\n    neg = np.minimum(z, 0)\n"
    "    return np.where(z > 0, z, alpha * np.expm1(neg))\n",
    "def elu(z, alpha=1.0):\n    out = alpha * np.expm1(np.clip(z, None, 0.0))\n"
    "    return np.where(z > 0, z, out).astype(z.dtype)\n",
]
ELU_WRONG = [
    # e^z - 1 by subtraction: no overflow, but wrong in the fifth digit at z = -1e-12
    "def elu(z, alpha=1.0):\n    return np.where(z > 0, z, alpha * (np.exp(np.minimum(z, 0)) - 1))\n",
    # the overflow hidden by np.errstate
    "def elu(z, alpha=1.0):\n    with np.errstate(all='ignore'):\n"
    "        return np.where(z > 0, z, alpha * np.expm1(z))\n",
    # the overflow hidden by a warnings filter
    "import warnings\n"
    "def elu(z, alpha=1.0):\n    with warnings.catch_warnings():\n        warnings.simplefilter('ignore')\n"
    "        return np.where(z > 0, z, alpha * np.expm1(z))\n",
]


@pytest.mark.parametrize("answer", ELU_CORRECT)
def test_elu_correct_answers_pass(answer):
    run_exercise("02", "test_elu", answer + ELU_GRAD)


@pytest.mark.parametrize("answer", ELU_WRONG)
def test_elu_wrong_answers_fail(answer):
    assert fails("02", "test_elu", answer + ELU_GRAD)


TANH_GRAD = "\ndef tanh_grad(z):\n    t = tanh(z)\n    return 1 - t * t\n"
TANH_CORRECT = [
    "def tanh(z):\n    return (2 * F.sigmoid(2 * z) - 1).astype(z.dtype)\n",
    # the identity through e^{-2|z|} (the stable sigmoid of 2|z|) and the sign
    "def tanh(z):\n    e = np.exp(-2 * np.abs(z))\n    return np.sign(z) * (1 - e) / (1 + e)\n",
]
TANH_WRONG = [
    "def tanh(z):\n    return np.tanh(z)\n",                                        # forbidden
    "def tanh(z):\n    t = np.tanh(z / 2)\n    return 2 * t / (1 + t * t)\n",       # np.tanh, disguised
    "from numpy import tanh as hyperbolic\ndef tanh(z):\n    return hyperbolic(z)\n",   # np.tanh, renamed
    # the textbook quotient, its overflow silenced: nan at 1000
    "def tanh(z):\n    with np.errstate(all='ignore'):\n"
    "        return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))\n",
]


@pytest.mark.parametrize("answer", TANH_CORRECT)
def test_tanh_correct_answers_pass(answer):
    run_exercise("02", "test_tanh", answer + TANH_GRAD)


@pytest.mark.parametrize("answer", TANH_WRONG)
def test_tanh_wrong_answers_fail(answer):
    assert fails("02", "test_tanh", answer + TANH_GRAD)


SIGMOID_GRAD = "\ndef sigmoid_grad(z):\n    s = sigmoid(z)\n    return s * (1 - s)\n"
SIGMOID_CORRECT = [
    "def sigmoid(z):\n    e = np.exp(-np.abs(z))\n"
    "    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype)\n",
    # the identity of section 3
    "def sigmoid(z):\n    return (0.5 * (1 + np.tanh(z / 2))).astype(z.dtype)\n",
]
SIGMOID_WRONG = [
    "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n",                           # overflows at -1000
    "def sigmoid(z):\n    with np.errstate(over='ignore'):\n        return 1 / (1 + np.exp(-z))\n",
    "import warnings\nwarnings.simplefilter('ignore')\n"
    "def sigmoid(z):\n    warnings.filterwarnings('ignore')\n    return 1 / (1 + np.exp(-z))\n",
]


@pytest.mark.parametrize("chapter", ["00_getting_started", "02_activations"])
@pytest.mark.parametrize("answer", SIGMOID_CORRECT)
def test_sigmoid_correct_answers_pass(answer, chapter):
    run_exercise(chapter[:2], "test_sigmoid", answer + SIGMOID_GRAD)


@pytest.mark.parametrize("chapter", ["00_getting_started", "02_activations"])
@pytest.mark.parametrize("answer", SIGMOID_WRONG)
def test_sigmoid_wrong_answers_fail(answer, chapter):
    assert fails(chapter[:2], "test_sigmoid", answer + SIGMOID_GRAD)


LOG_SOFTMAX = """
def log_softmax(z, axis=-1):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
"""
SOFTMAX_CORRECT = [
    "def softmax(z, axis=-1):\n    e = np.exp(z - z.max(axis=axis, keepdims=True))\n"
    "    return e / e.sum(axis=axis, keepdims=True)\n",
    "def softmax(z, axis=-1):\n    return np.exp(log_softmax(z, axis))\n",
]
SOFTMAX_WRONG = [
    "def softmax(z, axis=-1):\n    e = np.exp(z)\n    return e / e.sum(axis=axis, keepdims=True)\n",
    "def softmax(z, axis=-1):\n    with np.errstate(all='ignore'):\n"
    "        e = np.exp(z)\n        return np.nan_to_num(e / e.sum(axis=axis, keepdims=True), nan=1.0)\n",
    "def softmax(z, axis=-1):\n    e = np.exp(z - z.max())\n    return e / e.sum(axis=axis, keepdims=True)\n",
]


@pytest.mark.parametrize("answer", SOFTMAX_CORRECT)
def test_softmax_correct_answers_pass(answer):
    run_exercise("02", "test_softmax", answer + LOG_SOFTMAX)


@pytest.mark.parametrize("answer", SOFTMAX_WRONG)
def test_softmax_wrong_answers_fail(answer):
    assert fails("02", "test_softmax", answer + LOG_SOFTMAX)


def test_the_guards_are_lifted_after_a_check():
    import warnings
    run_exercise("02", "test_tanh", TANH_CORRECT[0] + TANH_GRAD)
    assert np.tanh.__class__ is np.ufunc and np.errstate.__module__ == "numpy"
    assert warnings.simplefilter.__module__ == "warnings"
