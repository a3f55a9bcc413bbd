"""A chapter's graded test cells, run against alternative answers (tests/test_exercises_*.py).

    chapter = ExerciseCells("04_regularization")
    namespace = chapter.run_cells("code-1")          # the import cell, as a test cell finds it
    chapter.run_test_cell(namespace, answer, "test_l2_penalty")
    chapter.fails(namespace, wrong_answer, "test_l2_penalty", match="lam")

The cells run as they are stored in solutions/ (the whole test cell, hidden
tests included, as nbgrader runs it), so a change to a test cell is tested as
it is.
"""
import textwrap

import pytest

from course import ROOT, grade_id, read_notebook  # tools/course.py
from dlcourse.checks import CheckFailed

# What a failing test cell raises: a failed check, or the student's code breaking on the cell's inputs
# (a wrong shape, a silenced overflow refused) or an assertion of the cell's own.
FAILURES = (CheckFailed, ValueError, TypeError, IndexError, FloatingPointError, AssertionError)


class ExerciseCells:
    """The source notebook of one chapter, cell by cell."""

    def __init__(self, chapter):
        self.chapter = chapter
        self.notebook = read_notebook(ROOT / "solutions", chapter)

    def cell(self, key):
        """The source of the cell with this grade_id or cell id."""
        for c in self.notebook.cells:
            if grade_id(c) == key or c.get("id") == key:
                return c.source
        raise KeyError(f"{self.chapter} has no cell {key!r}")

    def run_cells(self, *keys):
        """A fresh namespace after running the cells ``keys`` (the chapter's import cell, its data cell)."""
        namespace = {}
        for key in keys:
            exec(compile(self.cell(key), f"<{self.chapter} {key}>", "exec"), namespace)
        return namespace

    def run_test_cell(self, setup, answer, test_id):
        """Run ``answer`` (an answer cell) in a copy of ``setup``, then the whole test cell ``test_id``."""
        namespace = dict(setup)
        exec(compile(textwrap.dedent(answer), "<answer>", "exec"), namespace)
        exec(compile(self.cell(test_id), f"<{test_id}>", "exec"), namespace)

    def fails(self, setup, answer, test_id, match=None):
        """Assert that the test cell ``test_id`` fails on ``answer`` (with ``match`` in its message)."""
        with pytest.raises(FAILURES) as error:
            self.run_test_cell(setup, answer, test_id)
        if match is not None:
            assert match in str(error.value), str(error.value)
