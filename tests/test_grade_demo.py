"""`make grade-demo` (tools/grade_demo.py): the instructor's rehearsal grades two students as it says."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = [sys.executable, str(ROOT / "tools" / "grade_demo.py")]


@pytest.mark.slow
@pytest.mark.chapter00
def test_the_rehearsal_gives_full_marks_and_zero(tmp_path):
    course = tmp_path / "rehearsal"
    run = subprocess.run([*DEMO, "00_getting_started", "--keep", str(course)], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    with open(course / "grades.csv") as table:
        scores = {row["student_id"]: (float(row["score"]), float(row["max_score"]))
                  for row in csv.DictReader(table)}
    assert scores == {"ada": (3.0, 3.0), "bob": (0.0, 3.0)}
    assert "ada     3.0 / 3.0" in run.stdout and "bob     0.0 / 3.0" in run.stdout
    feedback = {s: course / "feedback" / s / "00_getting_started" / "00_getting_started.html" for s in scores}
    assert all(page.is_file() for page in feedback.values())
    assert "Not attempted yet" in feedback["bob"].read_text()


def test_an_unknown_chapter_is_refused_with_the_list():
    run = subprocess.run([*DEMO, "07_transformers"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "no chapter '07_transformers' under solutions/" in run.stderr
    assert "00_getting_started" in run.stderr


def test_a_chapter_can_be_named_by_its_number():
    run = subprocess.run([*DEMO, "99"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "no chapter '99' under solutions/" in run.stderr
    from course import find_chapter
    assert find_chapter("03") == find_chapter("3") == "03_backpropagation"


def test_a_folder_that_is_not_empty_is_refused(tmp_path):
    (tmp_path / "gradebook.db").write_text("an instructor's gradebook")
    run = subprocess.run([*DEMO, "--keep", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "is not empty" in run.stderr
    assert (tmp_path / "gradebook.db").read_text() == "an instructor's gradebook"
