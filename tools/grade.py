"""Grade every submission of one chapter, in parallel, in the sandbox: `make grade CHAPTER=NN_name`.

    python tools/grade.py 03_backpropagation              every submitted/<student>/03_backpropagation/
    python tools/grade.py 03 --workers 4 --student ada    by number; four at a time; only some students

Each submission is one `nbgrader autograde CHAPTER --student ID --force` (so
nbgrader's own rules hold: test cells restored from the gradebook, points
reset, the per-cell time limit), run by one of ``--workers`` workers (as many
as cores by default) with its kernel in the sandbox of tools/sandbox.py
(nbgrader_config.py selects it). The workers share the gradebook: SQLite
makes each write wait for the others (up to DB_TIMEOUT seconds), so no
grade is lost; `--db URL` points every worker at another database, for
example a PostgreSQL server shared by several machines (INSTRUCTORS.md).

Then the outside verdict (tools/verdict.py) checks every graded cell again,
with the instructor's checks in a process of the grader's and the student's
answers in sandboxed workers: a cell that nbgrader scored higher than the
verdict gets the verdict's score in the gradebook, and the submission is
flagged with the cells that differ (code that ran before the test cells in
the student's kernel could have undone them). Cells the verdict cannot check
(the solution itself does not pass them there) keep nbgrader's score; the
summary names them. ``--no-verdict`` skips it.

At the end it prints each student's score and the submissions to look at:
those nbgrader could not grade (a kernel that died, a notebook it could not
read), those where a cell hit the time limit, and those the verdict scored
lower. The exit status is 1 when a submission could not be graded.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from course import feedback_notes_path, find_chapter, notebook_path  # tools/course.py

ROOT = Path(__file__).resolve().parents[1]
DB_TIMEOUT = 120          # seconds a worker waits for the gradebook while another one writes
TIMEOUT_MARK = "Timeout waiting for execute reply"
RESTART_MARK = "restarted the kernel"   # tools/nbgrader_execute.py logs it
VERDICT_SECONDS = 1800    # the outside verdict of one submission (a chapter takes well under a minute)


@dataclass
class Outcome:
    """What grading one submission gave: nbgrader's exit status and what its log says."""
    student: str
    returncode: int
    seconds: float
    log: str
    problems: list = field(default_factory=list)

    @property
    def graded(self):
        return self.returncode == 0 and "There was an error processing assignment" not in self.log


def sqlite_url(path):
    """The gradebook at ``path`` as an SQLAlchemy URL whose writers wait for each other."""
    return f"sqlite:///{path}?timeout={DB_TIMEOUT}"


def submissions(course, chapter):
    """The ids of the students with a submission of ``chapter`` in course/submitted/."""
    return sorted(p.parent.name for p in (course / "submitted").glob(f"*/{chapter}") if p.is_dir())


def autograde(course, chapter, student, db_url, plan=None):
    """`nbgrader autograde` of one submission, then the outside verdict (with a ``plan``); its Outcome."""
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    command = [os.path.join(bin_dir, "nbgrader"), "autograde", chapter, "--student", student, "--force",
               f"--CourseDirectory.db_url={db_url}"]
    start = time.monotonic()
    feedback_notes_path(course, chapter, student).unlink(missing_ok=True)   # none of an earlier grading
    result = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True)
    outcome = Outcome(student, result.returncode, time.monotonic() - start, result.stdout + result.stderr)
    if not outcome.graded:
        outcome.problems.append("not graded: " + _first_error(outcome.log))
    if TIMEOUT_MARK in outcome.log:
        outcome.problems.append("a cell hit the time limit (an infinite loop, or very slow code)")
    if RESTART_MARK in outcome.log:
        outcome.problems.append("its kernel died or got stuck in a cell and was restarted (that cell got 0)")
    if plan is not None and outcome.graded:
        lowered = apply_verdict(course, chapter, student, db_url, plan)
        if lowered:
            outcome.problems.append("the outside verdict is lower than the kernel's score in "
                                    + ", ".join(lowered) + " (the verdict's score is kept)")
    outcome.seconds = time.monotonic() - start
    return outcome


def make_plan(course, chapter):
    """The verdict's plan of ``chapter`` (tools/verdict.py), kept in course/.verdict/ under its hashes."""
    source = notebook_path(course / "solutions", chapter)
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in
                                     (source, here / "verdict.py", here / "verdict_worker.py"))).hexdigest()
    path = course / ".verdict" / f"{chapter}-{digest[:16]}.json"
    if not path.is_file():
        path.parent.mkdir(exist_ok=True)
        env = dict(os.environ, NBGRADER_EXECUTION="autograde")
        subprocess.run([sys.executable, str(here / "verdict.py"), str(source), "--make-plan", chapter,
                        "--out", str(path)], cwd=course, env=env, check=True, capture_output=True,
                       timeout=1800)
    return json.loads(path.read_text())


def apply_verdict(course, chapter, student, db_url, plan):
    """Run the verdict on one submission; lower the gradebook where it is lower. The cells lowered.

    It fails closed: should the verdict not finish (a crash, the time limit), every cell it checks
    counts 0 and the submission is flagged (regrade it with --no-verdict after reading it).
    It also keeps what the visible tests said, for the feedback (course.feedback_notes_path).
    """
    from nbgrader.api import Gradebook

    submitted = notebook_path(course / "submitted" / student, chapter)
    source = notebook_path(course / "solutions", chapter)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        out, plan_file = Path(folder) / "verdict.json", Path(folder) / "plan.json"
        notes = Path(folder) / "feedback.json"
        plan_file.write_text(json.dumps(plan))
        env = dict(os.environ, NBGRADER_EXECUTION="autograde")      # the chapters' given cells, as graded
        try:
            command = [sys.executable, str(Path(__file__).resolve().parent / "verdict.py"),
                       str(source), str(submitted), "--plan", str(plan_file), "--out", str(out),
                       "--feedback", str(notes)]
            done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True,
                                  timeout=VERDICT_SECONDS)
            last_lines = done.stderr.strip().splitlines() or ["no output"]
            failure = None if done.returncode == 0 else last_lines[-1]
        except subprocess.TimeoutExpired:
            failure = f"it took more than {VERDICT_SECONDS} s"
        if failure is None:
            results = json.loads(out.read_text())
            kept = feedback_notes_path(course, chapter, student)
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notes, kept)
    lowered = [f"every cell (the verdict failed: {failure[-200:]})"] if failure else []
    with Gradebook(db_url) as gb:
        for cell in plan["checked"]:
            verdict_points = results.get(cell, {}).get("points", 0.0)
            grade = gb.find_grade(cell, chapter, chapter, student)
            kernel_score = grade.auto_score or 0.0
            if verdict_points < kernel_score:
                grade.auto_score = verdict_points
                if not failure:
                    lowered.append(f"{cell} ({kernel_score:g} -> {verdict_points:g})")
        gb.db.commit()
    return lowered


def _first_error(log):
    """The first ERROR line of an nbgrader log, or its last line."""
    errors = [line for line in log.splitlines() if "| ERROR]" in line]
    lines = errors or log.strip().splitlines() or ["(no output)"]
    return lines[0][-300:]


def grade_all(course, chapter, students, workers, db_url, plan=None):
    """Autograde ``students`` with ``workers`` parallel workers and a progress bar; the Outcomes."""
    outcomes = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(autograde, course, chapter, s, db_url, plan) for s in students]
        with tqdm(total=len(futures), desc=f"grading {chapter}", unit="submission") as bar:
            for future in concurrent.futures.as_completed(futures):
                outcomes.append(future.result())
                bar.update()
    return sorted(outcomes, key=lambda o: o.student)


def scores(db_url, chapter, students):
    """{student: (score, max_score)} from the gradebook, for the students it has graded."""
    from nbgrader.api import Gradebook

    table = {}
    with Gradebook(db_url) as gb:
        for student in students:
            try:
                submission = gb.find_submission(chapter, student)
            except Exception:         # nbgrader raises MissingEntry: never graded
                continue
            table[student] = (submission.score, submission.max_score)
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", help="a folder under solutions/, or its number")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at the same time (default: the number of cores)")
    parser.add_argument("--student", action="append", help="only this student (repeatable)")
    parser.add_argument("--course", type=Path, default=ROOT, help="the course folder (default: this one)")
    parser.add_argument("--db", help="the gradebook's SQLAlchemy URL (default: the course's gradebook.db)")
    parser.add_argument("--no-verdict", action="store_true",
                        help="only nbgrader's scores, without the outside verdict (tools/verdict.py)")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    try:
        chapter = find_chapter(args.chapter, course / "solutions")
    except ValueError as error:
        parser.error(str(error))
    if args.workers < 1:
        parser.error(f"--workers expects a number >= 1, got {args.workers}")
    db_url = args.db or sqlite_url(course / "gradebook.db")

    students = args.student or submissions(course, chapter)
    if not students:
        sys.exit(f"no submission of {chapter} in {course / 'submitted'}/<student>/{chapter}/")
    start = time.monotonic()
    plan = None
    if not args.no_verdict:
        plan = make_plan(course, chapter)
        if plan["unchecked"]:
            print(f"the outside verdict cannot check {', '.join(sorted(plan['unchecked']))} "
                  "(the solution fails there): those cells keep nbgrader's score")
    outcomes = grade_all(course, chapter, students, args.workers, db_url, plan)
    elapsed = time.monotonic() - start
    table = scores(db_url, chapter, students)

    print(f"\n{chapter}: {len(outcomes)} submissions in {elapsed:.0f} s with {args.workers} workers "
          f"({60 * len(outcomes) / elapsed:.1f} per minute)")
    for outcome in outcomes:
        score, top = table.get(outcome.student, (None, None))
        shown = f"{score:6.1f} / {top:.1f}" if score is not None else "   not graded"
        flag = "   LOOK: " + "; ".join(outcome.problems) if outcome.problems else ""
        print(f"  {outcome.student:20} {shown}{flag}")
    flagged = [o for o in outcomes if o.problems]
    failed = [o for o in outcomes if not o.graded]
    print(f"{len(flagged)} to look at, {len(failed)} not graded. "
          f"Feedback: nbgrader generate_feedback {chapter}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
