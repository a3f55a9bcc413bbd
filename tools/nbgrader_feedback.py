"""nbgrader feedback without hidden tests: the preprocessor nbgrader_config.py adds.

nbgrader's ClearHiddenTests removes the hidden tests from a cell's source,
but the cell's outputs still show them: a failing hidden test's error quotes
its line and inputs, and a student's function that prints its arguments
echoes the hidden inputs (on stdout, stderr or as a display). So in a graded
cell with hidden tests, HideHiddenTestErrors keeps no output the kernel
wrote: an error becomes a plain sentence, everything else goes. "Not
attempted yet" (dlcourse.checks.NotAttempted) stays, in a fixed wording
(a message the kernel wrote could carry anything). Beside each cell,
nbgrader shows its score.
"""
from nbgrader.preprocessors import NbGraderPreprocessor

from course import is_grade  # tools/course.py

HIDDEN_MARK = "BEGIN HIDDEN TESTS"

MESSAGE = (
    "A test in this cell failed: a visible test (run the cell in your notebook to see which) "
    "or a hidden test of an edge case (extreme values, unusual shapes, other dtypes). "
    "Its details are not shown in the feedback."
)


NOT_ATTEMPTED = "Not attempted yet: write the exercise in the cell above, then run this cell again."


class HideHiddenTestErrors(NbGraderPreprocessor):
    """In a grade cell with hidden tests: errors become MESSAGE, every other output is dropped."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and is_grade(cell) and HIDDEN_MARK in cell.source:
            kept = []
            for output in cell.get("outputs", []):
                if output.output_type != "error":
                    continue
                if output.ename == "NotAttempted":     # its text too is the kernel's: a fixed one replaces it
                    output.evalue = NOT_ATTEMPTED
                    output.traceback = [f"NotAttempted: {NOT_ATTEMPTED}"]
                else:
                    output.ename = "TestFailed"
                    output.evalue = MESSAGE
                    output.traceback = [f"TestFailed: {MESSAGE}"]
                kept.append(output)
            cell.outputs = kept
        return cell, resources
