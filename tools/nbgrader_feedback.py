"""nbgrader feedback without hidden tests: the preprocessor nbgrader_config.py adds.

nbgrader's ClearHiddenTests removes the hidden tests from a cell's source,
but when they fail, the cell's error output still quotes them (the failing
line, the inputs in the message). HideHiddenTestErrors replaces that error
by a plain sentence, before ClearHiddenTests runs. "Not attempted yet"
(dlcourse.checks.NotAttempted) stays: it names only the exercise.
"""
from nbgrader.preprocessors import NbGraderPreprocessor

from course import is_grade  # tools/course.py

HIDDEN_MARK = "BEGIN HIDDEN TESTS"

MESSAGE = (
    "A test in this cell failed: a visible test (run the cell in your notebook to see which) "
    "or a hidden test of an edge case (extreme values, unusual shapes, other dtypes). "
    "Its details are not shown in the feedback."
)


class HideHiddenTestErrors(NbGraderPreprocessor):
    """Replace the error output of a failing grade cell that contains hidden tests."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and is_grade(cell) and HIDDEN_MARK in cell.source:
            for output in cell.get("outputs", []):
                if output.output_type == "error" and output.ename != "NotAttempted":
                    output.ename = "TestFailed"
                    output.evalue = MESSAGE
                    output.traceback = [f"TestFailed: {MESSAGE}"]
        return cell, resources
