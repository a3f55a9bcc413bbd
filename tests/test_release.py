"""The student release chapters/ and the nbgrader configuration.

- chapters/ holds exactly what `python tools/release.py` (make release) generates now;
- it contains stubs, no solutions and no hidden tests;
- run top to bottom, it fails only in its graded cells, and only as "not attempted";
- nbgrader's feedback shows neither the hidden tests nor their errors, only what the
  visible tests said in the outside verdict's pass without hidden tests.
"""
import functools
import json
import subprocess
import sys

import nbclient
import nbformat
import pytest
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests
from traitlets.config.loader import PyFileConfigLoader
from traitlets.utils.importstring import import_item

from course import (
    ROOT,
    chapter_names,
    feedback_notes_path,
    grade_id,
    has_hidden_tests,
    is_grade,
    is_solution,
    visible_tests,
)
from course import read_notebook as notebook
from nbgrader_feedback import ALL_PASSED, HIDDEN_FAILED, MESSAGE, HideHiddenTestErrors

CHAPTERS = chapter_names()


@pytest.fixture(scope="session")
def chapters(chapter_option):
    """The chapters this run covers: every one, or the one --chapter selects."""
    return chapter_names(number=chapter_option)


def nbgrader_config():
    return PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()


def execute(nb, folder):
    """Run every cell (errors recorded, not raised), with the notebook's folder as working directory."""
    client = nbclient.NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    return client.execute()


def errors(cell):
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


# -- the release is current -------------------------------------------------------------------
@pytest.fixture(scope="module")
def regenerated(tmp_path_factory, chapters):
    """The chapters of this run (all, or the one of --chapter) released afresh by tools/release.py."""
    out = tmp_path_factory.mktemp("release")
    command = [sys.executable, str(ROOT / "tools" / "release.py"), *chapters, "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)
    return out


def test_the_release_has_exactly_the_chapters_of_solutions():
    released = sorted(p.name for p in (ROOT / "chapters").iterdir() if p.is_dir())
    assert released == CHAPTERS, "run `make release` (python tools/release.py)"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_committed_release_is_what_release_py_generates(chapter, regenerated):
    committed, fresh = notebook(ROOT / "chapters", chapter), notebook(regenerated, chapter)
    for old, new in zip(committed.cells, fresh.cells, strict=False):
        assert (old.cell_type, old.get("id"), old.source, old.metadata) == \
            (new.cell_type, new.get("id"), new.source, new.metadata), \
            f"chapters/{chapter} is stale from cell {new.get('id')} on: run `make release`"
    assert committed == fresh, f"chapters/{chapter} is stale: run `make release` (python tools/release.py)"
    files = lambda root: sorted(p.relative_to(root) for p in (root / chapter).rglob("*") if p.is_file())  # noqa: E731
    assert files(ROOT / "chapters") == files(regenerated)


# -- the release holds exercises, not answers ----------------------------------------------------
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_release_has_stubs_and_no_solutions_or_hidden_tests(chapter):
    text = (ROOT / "chapters" / chapter / f"{chapter}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    for cell in notebook(ROOT / "chapters", chapter).cells:
        if is_solution(cell):
            assert "raise NotImplementedError()" in cell.source, cell.id
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id


@functools.cache
def executed_release(chapter):
    """The committed release of ``chapter``, executed once per test session."""
    return execute(notebook(ROOT / "chapters", chapter), ROOT / "chapters" / chapter)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_release_fails_only_as_not_attempted(chapter):
    """Graded cells fail with NotAttempted; every other cell runs (the chapter goes on with the reference)."""
    nb = executed_release(chapter)
    graded = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        names = [error.ename for error in errors(cell)]
        if is_grade(cell):
            graded += 1
            assert names == ["NotAttempted"], f"graded cell {cell.id}: {errors(cell)}"
            assert errors(cell)[0].evalue.startswith("Not attempted yet: write `")
        else:
            assert names == [], f"cell {cell.id} failed in the release: {errors(cell)}"
    assert graded > 0


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_executed_explorers_keep_their_picture_for_the_website(chapter):
    """Executing stores the widget state in the notebook: every explorer's output holds its default view."""
    state = executed_release(chapter).metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [model["state"]["outputs"] for model in state.values() if model["model_name"] == "OutputModel"]
    assert outputs, "a chapter has at least one explorer"
    for shown in outputs:
        assert any("image/png" in output.get("data", {}) for output in shown)


# -- nbgrader configuration and feedback ---------------------------------------------------------
def test_the_nbgrader_config():
    course = nbgrader_config().CourseDirectory
    assert course.course_id == "dlcourse"
    assert (course.source_directory, course.release_directory) == ("solutions", "chapters")
    assert course.db_url == f"sqlite:///{ROOT / 'gradebook.db'}"
    assert nbgrader_config().Execute.timeout == 20   # the slowest cell of any chapter: 3.4 s


def feedback_preprocessors():
    """The preprocessor classes nbgrader's generate_feedback uses with our config, in order."""
    config = nbgrader_config()
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    return [import_item(p) if isinstance(p, str) else p for p in converter.preprocessors]


@pytest.mark.slow
def test_feedback_shows_neither_hidden_tests_nor_their_errors():
    # A sigmoid that passes the visible tests but not the hidden float32 test.
    solution = notebook(ROOT / "solutions", "00_getting_started")
    cells = {cell.id: cell for cell in solution.cells}
    cells["sigmoid"].source = (
        "def sigmoid(z):\n"
        "    e = np.exp(-np.abs(z))\n"
        "    return np.array(np.where(z >= 0, 1 / (1 + e), e / (1 + e)), dtype=float)   # float64 always\n"
    )
    cells["sigmoid_grad"].source = "def sigmoid_grad(z):\n    raise NotImplementedError()"
    keep = ["setup", "sigmoid", "test_sigmoid", "sigmoid_grad", "test_sigmoid_grad"]
    solution.cells = [cells[name] for name in keep]
    graded = execute(solution, ROOT / "solutions" / "00_getting_started")
    test_cell, not_attempted_cell = graded.cells[2], graded.cells[4]
    hidden_failure = "expected dtype float32"
    assert hidden_failure in str(test_cell.outputs)   # the hidden test's failure quotes it

    preprocessors = feedback_preprocessors()
    names = [p.__name__ for p in preprocessors]
    assert names.index("HideHiddenTestErrors") < names.index("ClearHiddenTests")
    resources = {}
    for preprocessor in preprocessors:
        if preprocessor.__name__ in ("GetGrades", "CSSHTMLHeaderPreprocessor"):
            continue   # they need a gradebook and a theme; they do not touch sources or outputs
        graded, resources = preprocessor(config=nbgrader_config()).preprocess(graded, resources)
    assert ClearHiddenTests in preprocessors
    shown = str(test_cell.source) + str(test_cell.outputs)
    assert "HIDDEN" not in shown and hidden_failure not in shown and "rng" not in shown
    # Nothing the kernel printed stays (it could echo hidden inputs): only the replaced error.
    assert "\u2714 sigmoid: correct on 2 inputs." not in shown
    assert [o.output_type for o in test_cell.outputs] == ["error"]
    (error,) = errors(test_cell)
    assert error.ename == "TestFailed" and "hidden test" in error.evalue
    assert "HIDDEN" not in not_attempted_cell.source
    assert [e.ename for e in errors(not_attempted_cell)] == ["NotAttempted"]   # names only the exercise


def graded_cell(source, score, points, outputs):
    """A graded test cell as GetGrades leaves it: its source, its outputs and its score in the metadata."""
    cell = nbformat.v4.new_code_cell(source, outputs=outputs)
    cell.metadata.nbgrader = {"grade": True, "grade_id": "test_sigmoid", "points": points, "score": score,
                              "solution": False, "locked": True, "schema_version": 3}
    return cell


KERNEL_OUTPUTS = [nbformat.v4.new_output("stream", name="stdout", text="ECHO: [1e30, -1e30]\n"),
                  nbformat.v4.new_output("error", ename="CheckFailed", evalue="hidden input 1e30",
                                         traceback=["assert sigmoid(1e30) ..."])]
SOURCE = "check()\n### BEGIN HIDDEN TESTS\nhidden()\n### END HIDDEN TESTS"


@pytest.mark.parametrize("note, score, shown", [
    # every test passed, in the verdict and in the gradebook: one line says so
    ({"passed": True}, 2, ["stream"]),
    # the verdict passed it, the kernel did not (a crash, the time limit): the fixed sentence
    ({"passed": True}, 0, ["TestFailed"]),
    # the visible tests pass, a hidden one failed: what they printed and one sentence
    ({"passed": False, "stdout": "\u2714 sigmoid: correct on 2 inputs.\n", "ename": None, "evalue": None}, 0,
     ["stream", "TestFailed"]),
    # a visible test failed: its own message
    ({"passed": False, "stdout": "", "ename": "CheckFailed", "evalue": "sigmoid(0.0) should be 0.5, got 0.0"},
     0, ["CheckFailed"]),
])
def test_feedback_shows_what_the_visible_tests_said_in_the_verdict(tmp_path, note, score, shown):
    path = feedback_notes_path(tmp_path, "00_getting_started", "ada")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"test_sigmoid": note}))
    nb = nbformat.v4.new_notebook(cells=[graded_cell(SOURCE, score, 2, KERNEL_OUTPUTS)])
    resources = {"nbgrader": {"student": "ada", "assignment": "00_getting_started"}}
    nb, _ = HideHiddenTestErrors(course_root=str(tmp_path)).preprocess(nb, resources)
    outputs = nb.cells[0].outputs
    assert [o.get("ename", o.output_type) for o in outputs] == shown
    text = " ".join(o.get("text", "") + o.get("evalue", "") + str(o.get("traceback", "")) for o in outputs)
    assert "ECHO" not in text and "1e30" not in text
    assert "hidden" not in text.replace(HIDDEN_FAILED, "").replace(MESSAGE, "").replace(ALL_PASSED, "")
    if note["passed"]:
        assert outputs[0].get("text") == ALL_PASSED or outputs[0].evalue == MESSAGE
        return
    if note["stdout"]:
        assert outputs[0].text == note["stdout"]
    if note["ename"]:
        assert outputs[-1].evalue == note["evalue"] and outputs[-1].traceback == [
            f"{note['ename']}: {note['evalue']}"]
    if "TestFailed" in shown:
        assert outputs[-1].evalue == HIDDEN_FAILED


def test_feedback_without_verdict_notes_replaces_the_kernels_errors(tmp_path):
    """Graded with --no-verdict: no notes, so each kernel error becomes the fixed sentence."""
    nb = nbformat.v4.new_notebook(cells=[graded_cell(SOURCE, 0, 2, KERNEL_OUTPUTS)])
    resources = {"nbgrader": {"student": "ada", "assignment": "00_getting_started"}}
    nb, _ = HideHiddenTestErrors(course_root=str(tmp_path)).preprocess(nb, resources)
    assert [(o.ename, o.evalue) for o in nb.cells[0].outputs] == [("TestFailed", MESSAGE)]


def test_visible_tests_are_what_the_release_shows(chapters):
    """course.visible_tests cuts a test cell as nbgrader's release does (the verdict's feedback pass)."""
    for chapter in chapters:
        release = {grade_id(c): c.source for c in notebook(ROOT / "chapters", chapter).cells if is_grade(c)}
        cut = [c for c in notebook(ROOT / "solutions", chapter).cells if has_hidden_tests(c)]
        assert cut, chapter
        for cell in cut:
            assert visible_tests(cell.source).strip() == release[grade_id(cell)].strip(), grade_id(cell)
