"""nbgrader feedback without hidden tests: the preprocessor nbgrader_config.py adds.

nbgrader's ClearHiddenTests removes the hidden tests from a cell's source,
but the cell's outputs still show them: a failing hidden test's error quotes
its line and inputs, and a student's function that prints its arguments
echoes the hidden inputs (on stdout, stderr or as a display). So in a graded
cell with hidden tests, HideHiddenTestErrors keeps no output the kernel
wrote. It shows instead what the outside verdict found (tools/verdict.py
--feedback, kept by tools/grade.py in course.feedback_notes_path): for a
cell that passed, one line that says so; for a failed one, what its
visible tests printed and the error they raised, computed by the
instructor's checks on answers run in fresh workers that never saw a
hidden input. When the visible tests passed but the cell lost points, one
sentence says that a hidden test failed.

Without those notes (graded with --no-verdict, or the verdict failed) it
falls back to one sentence per failing cell. "Not attempted yet"
(dlcourse.checks.NotAttempted) stays, in a fixed wording when it comes from
the kernel (a message the kernel wrote could carry anything). Beside each
cell, nbgrader shows its score.
"""
import json
import os

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from course import feedback_notes_path, grade_id, has_hidden_tests  # tools/course.py

MESSAGE = (
    "A test in this cell failed: a visible test (run the cell in your notebook to see which) "
    "or a hidden test of an edge case (extreme values, unusual shapes, other dtypes). "
    "Its details are not shown in the feedback."
)
HIDDEN_FAILED = (
    "The visible tests above pass, but a hidden test of an edge case (extreme values, unusual "
    "shapes, other dtypes) failed. Its details are not shown in the feedback: read the exercise's "
    "statement again for the cases it names."
)
ALL_PASSED = "\u2714 Every test of this cell passes, its hidden tests included.\n"
NOT_ATTEMPTED = "Not attempted yet: write the exercise in the cell above, then run this cell again."


def error_output(ename, evalue):
    """An error output with a one-line traceback (no source lines, no paths)."""
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class HideHiddenTestErrors(NbGraderPreprocessor):
    """In a graded cell with hidden tests: the visible tests' messages from the verdict, not the kernel."""

    course_root = Unicode("", help="the course folder, where .verdict/ is (default: the current folder)"
                          ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        self.notes = None
        if "student" in info and "assignment" in info:
            path = feedback_notes_path(self.course_root or os.getcwd(), info["assignment"], info["student"])
            if path.is_file():
                self.notes = json.loads(path.read_text())
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and has_hidden_tests(cell):
            note = (self.notes or {}).get(grade_id(cell))
            cell.outputs = self.from_verdict(cell, note) if note else self.from_kernel(cell)
        return cell, resources

    @staticmethod
    def from_verdict(cell, note):
        """What the verdict found: every test passed, or the visible tests' output and error."""
        meta = cell.metadata.get("nbgrader", {})
        if "score" in meta:                       # GetGrades put the gradebook's score there
            lost_points = meta["score"] < meta["points"]
        else:
            lost_points = any(output.output_type == "error" for output in cell.get("outputs", []))
        if note["passed"]:                        # and where the kernel lost points the verdict did not:
            return [error_output("TestFailed", MESSAGE)] if lost_points else [
                new_output("stream", name="stdout", text=ALL_PASSED)]
        shown = [new_output("stream", name="stdout", text=note["stdout"])] if note["stdout"] else []
        if note["ename"]:
            shown.append(error_output(note["ename"], note["evalue"]))
        elif lost_points:
            shown.append(error_output("TestFailed", HIDDEN_FAILED))
        return shown

    @staticmethod
    def from_kernel(cell):
        """Without the verdict's notes: each error of the kernel becomes a fixed sentence, the rest goes."""
        shown = []
        for output in cell.get("outputs", []):
            if output.output_type != "error":
                continue
            if output.ename == "NotAttempted":     # its text too is the kernel's: a fixed one replaces it
                shown.append(error_output("NotAttempted", NOT_ATTEMPTED))
            else:
                shown.append(error_output("TestFailed", MESSAGE))
        return shown
