"""Every chapter in chapters/ runs from top to bottom.

The notebooks are run as they are in your copy, in a fresh kernel, with each
notebook's folder as the working directory:

- an exercise you have not written yet fails only as "not attempted": its
  answer cell, if it runs code, stops at the `raise NotImplementedError()`
  stub, and its graded test cell says "Not attempted yet";
- an exercise you have written passes its graded test cell (a wrong answer
  fails this test, with the test cell's message);
- every other cell runs, because the chapter goes on with the dlcourse
  reference.

This is not your grade: check a chapter before you hand it in with
`make validate CHAPTER=NN_name` (see the README).
"""
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.parent.name for p in (ROOT / "chapters").glob("*/*.ipynb") if p.stem == p.parent.name)


def grading(cell):
    """The cell's grading metadata: solution (an answer cell) and grade (a graded test cell)."""
    return cell.metadata.get("nbgrader", {})


def errors(cell):
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


def executed(chapter):
    """The chapter's notebook, run top to bottom; errors are recorded in the outputs, not raised."""
    folder = ROOT / "chapters" / chapter
    nb = nbformat.read(folder / f"{chapter}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    return client.execute()


def describe(cell):
    first_line = cell.source.splitlines()[0] if cell.source else ""
    return f"cell {grading(cell).get('grade_id', cell.get('id'))} ({first_line!r})"


def test_there_are_chapters():
    assert CHAPTERS, "chapters/ holds no NN_name/NN_name.ipynb"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_chapter_runs_and_fails_only_as_not_attempted(chapter):
    graded = 0
    for cell in executed(chapter).cells:
        if cell.cell_type != "code":
            continue
        failures = errors(cell)
        names = [error.ename for error in failures]
        if grading(cell).get("grade"):
            graded += 1
            if names == ["NotAttempted"]:
                assert failures[0].evalue.startswith("Not attempted yet"), describe(cell)
            else:
                assert names == [], f"graded test {describe(cell)} failed: {failures[0].evalue}"
        elif grading(cell).get("solution"):
            assert names in ([], ["NotImplementedError"]), f"answer {describe(cell)} failed: {failures}"
        else:
            assert names == [], f"{describe(cell)} failed: {failures}"
    assert graded > 0, f"{chapter} has no graded test cell: was it copied into a new notebook?"
