"""Every chapter's solution notebook: sound nbgrader metadata, passes all its tests, runs under nbval.

Chapters are found automatically: each solutions/NN_name/NN_name.ipynb.
The release (chapters/) is tested in test_release.py.
"""
import re
import subprocess
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbgrader.validator import Validator
from traitlets.config.loader import PyFileConfigLoader

from course import ROOT, SOLUTIONS, chapter_names, is_grade, is_solution, notebook_path
from course import nbgrader_meta as nbgrader

CHAPTERS = chapter_names()
NBGRADER_KEYS = {"grade", "grade_id", "locked", "schema_version", "solution", "task"}


def solution_path(chapter):
    return notebook_path(SOLUTIONS, chapter)


def read(path):
    return nbformat.read(path, as_version=4)


def test_chapters_are_found():
    assert "00_getting_started" in CHAPTERS
    for chapter in CHAPTERS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+", chapter), chapter


def test_the_python3_kernel_is_this_python():
    """Notebooks ask for the kernel 'python3'; it must run the interpreter that runs the tests."""
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in ("python", "python3", sys.executable), (
        f"the python3 kernel runs {spec.argv[0]} ({spec.resource_dir}), not {sys.executable}"
    )


# -- metadata (fast) --------------------------------------------------------------------------
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebook_is_valid_and_stored_clean(chapter):
    nb = read(solution_path(chapter))
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {cell.id} has outputs"
    assert "widgets" not in nb.metadata, "solutions are stored without outputs or widget state"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nbgrader_metadata_is_schema_3(chapter):
    for cell in read(solution_path(chapter)).cells:
        meta = nbgrader(cell)
        if not meta:
            continue
        assert NBGRADER_KEYS <= meta.keys() and meta["schema_version"] == 3, cell.id
        if meta["grade"]:
            assert meta["locked"] and not meta["solution"] and cell.cell_type == "code", cell.id
            assert isinstance(meta.get("points"), (int, float)) and meta["points"] > 0, cell.id
        if meta["solution"]:
            assert not meta["locked"] and not meta["grade"], cell.id
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, cell.id


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_ids_are_unique(chapter):
    cells = read(solution_path(chapter)).cells
    grade_ids = [nbgrader(c)["grade_id"] for c in cells if nbgrader(c)]
    assert len(grade_ids) == len(set(grade_ids))
    cell_ids = [c.id for c in cells]
    assert len(cell_ids) == len(set(cell_ids))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_solution_cell_is_followed_by_its_graded_test_cell(chapter):
    code_cells = [c for c in read(solution_path(chapter)).cells if c.cell_type == "code"]
    exercises = [i for i, c in enumerate(code_cells) if is_solution(c)]
    assert exercises, "a chapter has at least one exercise"
    for i in exercises:
        after = code_cells[i + 1] if i + 1 < len(code_cells) else None
        assert after is not None and is_grade(after), f"no graded test cell after {code_cells[i].id}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_hidden_tests_only_in_graded_cells(chapter):
    for cell in read(solution_path(chapter)).cells:
        if "BEGIN HIDDEN TESTS" in cell.source:
            assert is_grade(cell), cell.id
            marks = [cell.source.count(f"### {mark} HIDDEN TESTS") for mark in ("BEGIN", "END")]
            assert marks == [1, 1], cell.id


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebook_is_seeded(chapter):
    sources = "\n".join(c.source for c in read(solution_path(chapter)).cells if c.cell_type == "code")
    assert "manual_seed(" in sources


# -- execution (slow) ------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_solution_passes_all_its_tests(chapter):
    """nbgrader's validator runs it: every cell passes, hidden tests included, nothing on stderr."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    result = Validator(validate_all=True, config=config).validate(str(solution_path(chapter)))
    assert result == {}, result


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_solution_runs_under_nbval(chapter):
    command = [
        sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-cell-timeout=60", "-p", "no:cacheprovider",
        "-o", "addopts=", "-q", str(solution_path(chapter)),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    code_cells = [c for c in read(solution_path(chapter)).cells if c.cell_type == "code"]
    assert f"{len(code_cells)} passed" in result.stdout   # nbval ran every code cell
