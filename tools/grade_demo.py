"""A grading rehearsal: nbgrader's whole workflow on one chapter, with two students, in a scratch folder.

    python tools/grade_demo.py                       chapter 00, in a temporary folder (`make grade-demo`)
    python tools/grade_demo.py 01_perceptrons        another chapter (or by its number: 01)
    python tools/grade_demo.py --keep demo/          keep the folder to look at (feedback, formgrader)

For an instructor who wants to see what grading does before a term starts,
without touching the course's own gradebook. It copies nbgrader_config.py,
tools/ and solutions/ into the folder and runs there, as INSTRUCTORS.md
describes: the class list, `python tools/release.py`, two submissions in
submitted/<student>/<chapter>/, `nbgrader autograde`, `nbgrader
generate_feedback` and `nbgrader export`. The students:

    ada   hands in the instructor's solution notebook: every answer written
    bob   hands in the release as it was handed out: nothing attempted

It prints the exported grades (and, with --keep, where the feedback pages are).
tests/test_grading.py runs the same workflow with eleven kinds of student.
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from course import copy_course, find_chapter  # tools/course.py

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = {"ada": "the solution notebook", "bob": "the release, not attempted"}


def nbgrader(course, *args):
    """Run an nbgrader command in ``course`` with this Python's environment; stop on failure."""
    bin_dir = os.path.dirname(sys.executable)      # nbgrader and alembic live next to this Python
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    print(f"$ nbgrader {' '.join(args)}", flush=True)
    result = subprocess.run([os.path.join(bin_dir, "nbgrader"), *args], cwd=course, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"nbgrader {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def rehearse(chapter, course):
    """Run the workflow on ``chapter`` in the empty folder ``course``; return the exported rows."""
    copy_course(course)

    rows = ["id,first_name,last_name,email"] + [f"{s},{s.title()},Demo,{s}@example.org" for s in STUDENTS]
    (course / "students.csv").write_text("\n".join(rows) + "\n")
    nbgrader(course, "db", "student", "import", "students.csv")

    print(f"$ python tools/release.py {chapter}", flush=True)
    subprocess.run([sys.executable, "tools/release.py", chapter], cwd=course, check=True)

    handed_in = {"ada": course / "solutions" / chapter / f"{chapter}.ipynb",
                 "bob": course / "chapters" / chapter / f"{chapter}.ipynb"}
    for student, notebook in handed_in.items():
        folder = course / "submitted" / student / chapter
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / f"{chapter}.ipynb")

    nbgrader(course, "autograde", chapter)
    nbgrader(course, "generate_feedback", chapter)
    nbgrader(course, "export", "--to", "grades.csv", f"--assignment={chapter}")
    with open(course / "grades.csv") as table:
        return list(csv.DictReader(table))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", nargs="?", default="00_getting_started",
                        help="a folder under solutions/, or its number")
    parser.add_argument("--keep", type=Path,
                        help="run in this new folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    try:
        args.chapter = find_chapter(args.chapter)
    except ValueError as error:
        parser.error(str(error))

    if args.keep is not None:
        if args.keep.exists() and any(args.keep.iterdir()):
            parser.error(f"{args.keep} is not empty: give a new folder, so no gradebook is overwritten")
        args.keep.mkdir(parents=True, exist_ok=True)
        course, scratch = args.keep.resolve(), None
    else:
        scratch = tempfile.TemporaryDirectory(prefix="dlcourse-grading-")
        course = Path(scratch.name)

    grades = rehearse(args.chapter, course)
    print(f"\nGrades for {args.chapter}, as `nbgrader export` wrote them:")
    for row in grades:
        print(f"  {row['student_id']:5} {float(row['score']):5.1f} / {float(row['max_score']):.1f}"
              f"   {STUDENTS.get(row['student_id'], '')}")
    if scratch is None:
        print(f"\nKept in {course}: grades.csv, autograded/, and the feedback pages")
        print(f"  feedback/<student>/{args.chapter}/{args.chapter}.html")
        print(f"Formgrader on this rehearsal: cd {course} && jupyter lab  (Nbgrader -> Formgrader)")
    else:
        scratch.cleanup()
        print("\n(The scratch folder is deleted; `python tools/grade_demo.py --keep DIR` keeps it.)")


if __name__ == "__main__":
    main()
