"""The outside verdict (tools/verdict.py): the instructor's checks here, the student's answers in the sandbox.

What must hold, chapter by chapter: the solution passes every graded cell
the verdict checks (all of them), a blank notebook gets
nothing, and the workers cannot reach the reference an exercise tests, by
any of the routes that fooled the in-kernel guard. And the wire carries
data only: what a worker sends cannot make the grader build anything else.
"""
import json
import subprocess
import sys

import nbformat
import numpy as np
import pytest

import verdict
import verdict_worker as wire
from course import ROOT, chapter_names, grade_id, is_grade, is_solution, notebook_path

pytestmark = pytest.mark.course
CHAPTERS = chapter_names()



def run_verdict(tmp_path, source, submission=None, plan=None, chapter=None):
    out = tmp_path / "out.json"
    command = [sys.executable, str(ROOT / "tools" / "verdict.py"), str(source)]
    if chapter:
        command += ["--make-plan", chapter]
    else:
        command += [str(submission)]
    if plan:
        (tmp_path / "plan.json").write_text(json.dumps(plan))
        command += ["--plan", str(tmp_path / "plan.json")]
    done = subprocess.run(command + ["--out", str(out)], capture_output=True, text=True, timeout=1200,
                          env={**__import__("os").environ, "NBGRADER_EXECUTION": "autograde"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def plans():
    """The chapters' plans, each made once for this file's tests."""
    return {}


def plan_of(chapter, plans, tmp_path):
    if chapter not in plans:
        plans[chapter] = run_verdict(tmp_path, notebook_path(ROOT / "solutions", chapter), chapter=chapter)
    return plans[chapter]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_solution_passes_every_cell_the_verdict_checks(chapter, plans, tmp_path):
    plan = plan_of(chapter, plans, tmp_path)
    source = nbformat.read(notebook_path(ROOT / "solutions", chapter), as_version=4)
    tests = {grade_id(c) for c in source.cells if is_grade(c)}
    assert plan["unchecked"] == {}
    assert set(plan["checked"]) == tests
    answers = [grade_id(c) for c in source.cells if is_solution(c)]
    assert sorted(plan["forbidden"]) == sorted(answers)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_blank_notebook_gets_nothing(chapter, plans, tmp_path):
    plan = plan_of(chapter, plans, tmp_path)
    results = run_verdict(tmp_path, notebook_path(ROOT / "solutions", chapter),
                          notebook_path(ROOT / "chapters", chapter), plan=plan)
    assert {cell: r["points"] for cell, r in results.items() if r["points"]} == {}


# A layer's parameter gradient wrong in one line: the central differences of gradcheck.check_module
# perturb the worker's layer through load_state_dict, so the verdict catches it.
WRONG_PARAMETER_GRADIENTS = {
    ("02_activations", "maxout", "test_maxout"): ("self.bias.grad += grad_z.sum(axis=0)",
                                                   "self.bias.grad += grad_z.mean(axis=0)"),
    ("03_backpropagation", "linear_layer", "test_linear_layer"): ("self.weight.grad += grad_out.T @ self.x",
                                                                  "self.weight.grad = grad_out.T @ self.x"),
}


@pytest.mark.parametrize("chapter, answer, test", sorted(WRONG_PARAMETER_GRADIENTS))
def test_a_wrong_parameter_gradient_loses_its_cell_only(chapter, answer, test, plans, tmp_path):
    plan = plan_of(chapter, plans, tmp_path)
    submission = nbformat.read(notebook_path(ROOT / "solutions", chapter), as_version=4)
    right, wrong = WRONG_PARAMETER_GRADIENTS[chapter, answer, test]
    (cell,) = [c for c in submission.cells if is_solution(c) and grade_id(c) == answer]
    assert right in cell.source
    cell.source = cell.source.replace(right, wrong)
    path = tmp_path / "wrong.ipynb"
    nbformat.write(submission, path)
    results = run_verdict(tmp_path, notebook_path(ROOT / "solutions", chapter), path, plan=plan)
    assert results[test]["points"] == 0, results[test]
    assert {cell for cell, r in results.items() if not r["passed"]} == {test}


# Answers to chapter 00's sigmoid that reach the reference (or another library) instead of computing it.
CHEATS = {
    "calls_the_reference": "return F.sigmoid(z)",
    "through_wrapped": "return F.sigmoid.__wrapped__(z)",
    "through_the_closure": "return F.sigmoid.__closure__[0].cell_contents(z)",
    "source_and_exec": "import inspect, dlcourse.functional as m\n"
                       "    space = dict(vars(m)); exec(inspect.getsource(m), space)\n"
                       "    return space['sigmoid'](z)",
    "second_import": "import importlib.util, dlcourse.functional as m\n"
                     "    spec = importlib.util.spec_from_file_location('again', m.__file__)\n"
                     "    again = importlib.util.module_from_spec(spec); spec.loader.exec_module(again)\n"
                     "    return again.sigmoid(z)",
    "torch": "import torch\n    return torch.sigmoid(torch.from_numpy(z)).numpy()",
    "scipy": "from scipy.special import expit\n    return expit(z)",
}


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_no_route_to_the_reference_is_open_in_the_worker(cheat, plans, tmp_path):
    chapter = "00_getting_started"
    plan = plan_of(chapter, plans, tmp_path)
    submission = nbformat.read(notebook_path(ROOT / "solutions", chapter), as_version=4)
    for cell in submission.cells:
        if is_solution(cell) and grade_id(cell) == "sigmoid":
            cell.source = f"import dlcourse.functional as F\n\ndef sigmoid(z):\n    {CHEATS[cheat]}\n"
    path = tmp_path / "cheat.ipynb"
    nbformat.write(submission, path)
    results = run_verdict(tmp_path, notebook_path(ROOT / "solutions", chapter), path, plan=plan)
    assert results["test_sigmoid"]["points"] == 0, results["test_sigmoid"]
    assert results["test_sigmoid_grad"]["points"] == 1     # the other exercise is untouched


def test_the_stripped_package_raises_where_the_reference_was(tmp_path):
    package = ROOT / "dlcourse"
    verdict.strip_references(package, ["sigmoid", "Linear.forward"], tmp_path / "dlcourse")
    functional = (tmp_path / "dlcourse" / "functional.py").read_text()
    assert "not available while this exercise is graded" in functional
    assert "1 + np.exp" not in functional.split("def sigmoid(", 1)[1].split("\ndef ", 1)[0]
    assert (tmp_path / "dlcourse" / "perceptrons.py").read_text() == (package / "perceptrons.py").read_text()


@pytest.mark.parametrize("node, why", [
    ({"object": "os:system", "state": {"dict": []}}, "not one of dlcourse's layers"),
    ({"object": "dlcourse.checks:CheckFailed", "state": {"dict": []}}, "not one of dlcourse's layers"),
    ({"array": 0, "dtype": "|O", "shape": [1]}, "cannot cross the wire"),
    ({"generator": {"bit_generator": "os.system"}}, "unknown bit generator"),
    ({"dict": [[[1, 2], 3]]}, "keys"),
    ({"pickle": "gASVAA=="}, "unexpected data"),
])
def test_the_wire_builds_data_only(node, why):
    with pytest.raises(ValueError, match=why):
        verdict.decode(node, [b"\0" * 8], worker=None)


def test_the_wire_round_trips_arrays_layers_and_generators():
    from dlcourse import nn

    layer = nn.Linear(3, 2)
    value = {"x": np.arange(6.0).reshape(2, 3).astype(np.float32), "zero_d": np.array(2.5), "n": np.int64(3),
             "layer": layer, "rng": np.random.default_rng(4), "big": 2 ** 70, "t": (1, None, "a")}
    tree, blobs = wire.unpack(wire.pack(value, {}))
    back = verdict.decode(tree, blobs, worker=None)
    assert back["x"].dtype == np.float32 and np.array_equal(back["x"], value["x"])
    assert back["zero_d"].shape == () and back["n"] == 3 and back["big"] == 2 ** 70
    assert back["t"] == (1, None, "a")
    assert type(back["layer"]) is nn.Linear and np.array_equal(back["layer"].weight.data, layer.weight.data)
    assert back["rng"].random() == np.random.default_rng(4).random()
