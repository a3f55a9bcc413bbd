"""Grading, end to end: the workflow of INSTRUCTORS.md on every chapter, with simulated students.

A temporary copy of the course (nbgrader_config.py, tools/, solutions/ and a
fresh gradebook) goes through nbgrader's own commands, as an instructor runs
them: `nbgrader db student import`, `python tools/release.py`, submissions in
submitted/<student>/<chapter>/, `nbgrader autograde` (one call per chapter),
a manual score as formgrader gives it, `nbgrader generate_feedback`,
`nbgrader export`. The simulated students are built from each chapter's
structure (tests/grading_helpers.py), so every chapter under solutions/ is
covered. The course's configuration is used as it is, with its per-cell time
limit (20 s: the slowest cell of any chapter takes 3.4 s under autograde), so
an infinite loop costs that much.

Nothing here asserts on wall time: the measured times (per submission, per
autograde call) go to test-artifacts/grading_times.json for reading.
"""
import csv
import html
import json
import os
import re
import subprocess
import sys
import time

import grading_helpers as helpers
import nbformat
import pytest
from grading_helpers import CHAPTERS, ROOT
from nbgrader.api import Gradebook

from course import copy_course

MANUAL_STUDENT = "broken_1"       # the instructor gives this student half the points of a failed cell by hand
ARTIFACTS = ROOT / "test-artifacts"
# What nbgrader logs as an ERROR when it stops an infinite loop: expected here.
EXPECTED_ERRORS = ("Timeout waiting for execute reply", "Interrupting kernel")


def nbgrader(course, *args, timeout=900):
    """Run the nbgrader command line in ``course``, as an instructor does; return its log."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "nbgrader"), *args], cwd=course,
                            env=env, capture_output=True, text=True, timeout=timeout)
    log = result.stdout + result.stderr
    failures = [line for line in log.splitlines() if "| ERROR]" in line and not any(
        expected in line for expected in EXPECTED_ERRORS)]
    assert result.returncode == 0 and not failures, f"nbgrader {' '.join(args)} failed:\n{log[-4000:]}"
    return log


def release_py(course, chapter):
    """`python tools/release.py NN_name`: nbgrader generate_assignment into chapters/."""
    subprocess.run([sys.executable, "tools/release.py", chapter], cwd=course, check=True, capture_output=True,
                   timeout=600)


# -- the course; each chapter graded once, when a test first asks for it ---------------------------------
class Course:
    """The temporary course. ``grade(chapter)`` runs the whole workflow on one chapter (once)."""

    def __init__(self, root):
        self.root = root
        self.students = {}           # chapter -> {student id: helpers.Student}
        self.seconds = {}            # chapter -> {student id: seconds to autograde that submission}
        self.autograde_seconds = {}  # chapter -> seconds of the whole `nbgrader autograde` call

    def grade(self, chapter):
        if chapter not in self.students:
            self._grade(chapter)
        return self

    def _grade(self, chapter):
        root = self.root
        release_py(root, chapter)   # also records the chapter in the gradebook

        # What the students hand in: submitted/<student>/<chapter>/<chapter>.ipynb.
        students = helpers.students(chapter, root / "solutions", root / "chapters")
        self.students[chapter] = {s.id: s for s in students}
        for student in self.students[chapter].values():
            folder = root / "submitted" / student.id / chapter
            folder.mkdir(parents=True)
            nbformat.write(student.notebook, folder / f"{chapter}.ipynb")

        # nbgrader grades the students one after the other and writes each graded notebook when it is
        # done: the gaps between those writes are the times per submission (the first includes start-up).
        start = time.time()
        nbgrader(root, "autograde", chapter)
        self.autograde_seconds[chapter] = round(time.time() - start, 1)
        done = sorted((os.path.getmtime(root / "autograded" / s / chapter / f"{chapter}.ipynb"), s)
                      for s in self.students[chapter])
        self.seconds[chapter] = {}
        for finished, student in done:
            self.seconds[chapter][student] = round(finished - start, 1)
            start = finished

        # Manual grading, as formgrader does it: a manual score overrides the automatic one (here the 0
        # of the wrong answer's first test cell).
        student = self.students[chapter][MANUAL_STUDENT]
        with self.gradebook() as gb:
            cell = student.broken["wrong"].test_ids[0]
            grade = gb.find_grade(cell, chapter, chapter, MANUAL_STUDENT)
            assert grade.auto_score == 0, (cell, grade.auto_score)
            grade.manual_score = grade.max_score / 2
            student.expected += grade.max_score / 2
            gb.db.commit()

        nbgrader(root, "generate_feedback", chapter)
        nbgrader(root, "export", "--to", f"grades_{chapter}.csv", f"--assignment={chapter}")

        ARTIFACTS.mkdir(exist_ok=True)
        times = {"seconds_per_submission": self.seconds, "autograde_call_seconds": self.autograde_seconds}
        (ARTIFACTS / "grading_times.json").write_text(json.dumps(times, indent=1))

    def autograded(self, chapter, student):
        return nbformat.read(self.root / "autograded" / student / chapter / f"{chapter}.ipynb", as_version=4)

    def feedback_text(self, chapter, student):
        """The feedback page as its reader sees it: tags removed, entities decoded."""
        page = (self.root / "feedback" / student / chapter / f"{chapter}.html").read_text()
        return html.unescape(re.sub(r"<[^>]+>", "", page))

    def gradebook(self):
        return Gradebook(f"sqlite:///{self.root / 'gradebook.db'}")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course with a fresh gradebook and the class list (no chapter graded yet)."""
    root = tmp_path_factory.mktemp("course")
    copy_course(root)
    rows = ["id,first_name,last_name,email"]
    rows += [f"{s},{s.title()},Student,{s}@example.org" for s in helpers.all_student_ids()]
    (root / "students.csv").write_text("\n".join(rows) + "\n")
    nbgrader(root, "db", "student", "import", "students.csv")
    return Course(root)


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def describe(nb):
    """Each graded cell and failing cell of an autograded notebook, for a failure message."""
    lines = []
    for cell in nb.cells:
        if helpers.is_grade(cell) or errors(cell):
            found = "; ".join(f"{e.ename}: {e.evalue[:150]}" for e in errors(cell)) or "passed"
            lines.append(f"  {helpers.cell_key(cell)}: {found}")
    return "\n".join(lines)


SUBMISSIONS = [(chapter, student) for chapter in CHAPTERS for student in helpers.student_ids(chapter)]


# -- the simulated students (fast: notebooks only) ------------------------------------------------------
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_can_be_simulated(chapter):
    source = helpers.read_notebook(ROOT / "solutions", chapter)
    exercises = helpers.exercises(source, chapter)
    assert exercises and all(e.test_ids and e.points > 0 for e in exercises)
    assert sum(e.points for e in exercises) == helpers.max_score(source), "a graded cell outside any exercise"
    assert any(e.hidden for e in exercises), "no graded cell has hidden tests"
    if not (ROOT / "chapters" / chapter).is_dir():
        pytest.fail(f"chapters/{chapter} does not exist: run `make release`")
    students = helpers.students(chapter)
    assert [s.id for s in students] == helpers.student_ids(chapter)
    full, blank = students[0].notebook, students[1].notebook
    assert "raise NotImplementedError()" not in str([c.source for c in full.cells if helpers.is_solution(c)])
    assert "BEGIN SOLUTION" not in str(full) and "HIDDEN TESTS" not in str(full)
    assert [c.metadata for c in full.cells] == [c.metadata for c in blank.cells]   # only sources differ


def test_the_wrong_answer_keeps_shape_and_dtype():
    import numpy as np
    namespace = {"np": np}
    exec(helpers.wrong("def double(z):\n    return 2 * z\n"), namespace)
    got = namespace["double"](np.ones((2, 3), dtype=np.float32))
    assert got.shape == (2, 3) and got.dtype == np.float32 and not np.allclose(got, 2)
    assert namespace["double"].__name__ == "double"


# -- scores ------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("chapter, student_id", SUBMISSIONS)
def test_the_gradebook_has_the_expected_score(course, chapter, student_id):
    """full marks, 0, or exactly the points of the broken exercise lost (plus the manual score)."""
    graded = course.grade(chapter)
    student = graded.students[chapter][student_id]
    with graded.gradebook() as gb:
        score = gb.find_submission(chapter, student_id).score
    assert score == pytest.approx(student.expected), (
        f"{chapter}, {student.what}: score {score}, expected {student.expected}\n"
        + describe(graded.autograded(chapter, student_id)))


@pytest.mark.slow
@pytest.mark.parametrize("chapter, student_id", SUBMISSIONS)
def test_nothing_else_fails(course, chapter, student_id):
    """Only the broken exercise's cells fail: the rest of the chapter runs on the dlcourse reference."""
    graded = course.grade(chapter)
    student = graded.students[chapter][student_id]
    nb = graded.autograded(chapter, student_id)
    failed = {helpers.cell_key(cell) for cell in nb.cells if errors(cell)}
    assert failed <= student.may_fail, f"{chapter}, {student.what}:\n{describe(nb)}"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_blank_release_is_not_attempted(course, chapter):
    graded = course.grade(chapter)
    nb = graded.autograded(chapter, "blank")
    for cell in nb.cells:
        if helpers.is_grade(cell):
            assert [e.ename for e in errors(cell)] == ["NotAttempted"], describe(nb)
            assert errors(cell)[0].evalue.startswith("Not attempted yet")
    graded_cells = sum(helpers.is_grade(c) for c in nb.cells)
    shown = graded.feedback_text(chapter, "blank").count("NotAttempted")
    assert shown - graded.feedback_text(chapter, "full").count("NotAttempted") == graded_cells


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS[:1])   # only the first chapter has loops (grading_helpers)
def test_infinite_loops_are_interrupted(course, chapter):
    """A loop in an answer, or at the top of its cell, is stopped at the per-cell time limit."""
    graded = course.grade(chapter)
    seen = set()
    for student in graded.students[chapter].values():
        for scenario in set(student.broken) & set(helpers.LOOPS):
            exercise = student.broken[scenario]
            nb = graded.autograded(chapter, student.id)
            cells = [c for c in nb.cells if helpers.cell_key(c) in {exercise.solution_id, *exercise.test_ids}]
            names = {e.ename for cell in cells for e in errors(cell)}
            assert names & {"KeyboardInterrupt", "CellTimeoutError"}, (student.id, scenario, names)
            seen.add(scenario)
    assert seen == set(helpers.LOOPS)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_locked_test_cells_are_restored_from_the_gradebook(course, chapter):
    """Edited test cells are graded with the real test; deleted ones are put back (add_missing_cells)."""
    graded = course.grade(chapter)
    source = {helpers.grade_id(c): c.source for c in helpers.read_notebook(ROOT / "solutions", chapter).cells}
    for student in graded.students[chapter].values():
        for scenario in set(student.broken) & {"edits_test", "deletes_test"}:
            cells = {helpers.grade_id(c): c for c in graded.autograded(chapter, student.id).cells
                     if helpers.is_grade(c)}
            for test_id in student.broken[scenario].test_ids:
                assert source[test_id] in cells[test_id].source   # the real test, hidden part included
            if scenario == "deletes_test":
                text = graded.feedback_text(chapter, student.id)
                assert "was missing from the submission. It was added back by nbgrader" in text


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_calling_the_reference_costs_the_points(course, chapter):
    graded = course.grade(chapter)
    student = graded.students[chapter]["cheats"]
    assert student.may_fail, "no exercise with a reference its checks forbid (see grading_helpers.exercises)"
    nb = graded.autograded(chapter, "cheats")
    for cell in nb.cells:
        if helpers.grade_id(cell) in student.may_fail:
            assert any("Honesty check" in e.evalue for e in errors(cell)), describe(nb)


# -- feedback and export -----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("chapter, student_id", SUBMISSIONS)
def test_feedback_shows_no_hidden_test(course, chapter, student_id):
    """Neither the hidden tests' source nor their failures (inputs, tracebacks) reach the student."""
    graded = course.grade(chapter)
    text = graded.feedback_text(chapter, student_id)
    assert "BEGIN HIDDEN TESTS" not in text and "END HIDDEN TESTS" not in text
    source = helpers.read_notebook(ROOT / "solutions", chapter)
    release = helpers.read_notebook(graded.root / "chapters", chapter)
    for line in helpers.hidden_lines(source, release):
        assert line not in text, f"hidden line in the feedback: {line}"
    # A failure of a cell with hidden tests (it may quote a hidden input) is replaced by "TestFailed".
    # The full solution's feedback is the baseline: its demo cells may print the same sentences.
    baseline = graded.feedback_text(chapter, "full")
    for cell in graded.autograded(chapter, student_id).cells:
        if helpers.HIDDEN_BEGIN in cell.source:
            for error in errors(cell):
                if error.ename not in ("NotAttempted", "TestFailed") and len(error.evalue) > 20:
                    assert text.count(error.evalue) == baseline.count(error.evalue), \
                        f"{helpers.cell_key(cell)} shows: {error.evalue}"
    if student_id == "fails_hidden":
        assert "TestFailed" in text and "hidden test" in text


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_export_is_the_expected_table(course, chapter):
    graded = course.grade(chapter)
    with open(graded.root / f"grades_{chapter}.csv", newline="") as file:
        exported = sorted((row["student_id"], row["assignment"], float(row["score"]), float(row["max_score"]))
                          for row in csv.DictReader(file))
    top = helpers.max_score(helpers.read_notebook(ROOT / "solutions", chapter))
    expected = [(s.id, chapter, s.expected, top) for s in graded.students[chapter].values()]
    # a student of the class list with no submission of this chapter is exported with 0
    missing = [s for s in helpers.all_student_ids() if s not in graded.students[chapter]]
    expected += [(s, chapter, 0.0, top) for s in missing]
    assert exported == sorted(expected)
