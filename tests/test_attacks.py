"""Dishonest students against the grading: `make grade` on chapter 00 with submissions that attack it.

A scratch copy of the course (nbgrader_config.py, tools/, solutions/, a fresh
gradebook) releases chapter 00 and grades, with tools/grade.py and its two
workers sharing the gradebook, an honest and a blank student and one student
per attack. Each attack sits in an answer cell, where a student can put any
code. What must hold (INSTRUCTORS.md, "What the sandbox protects"):

    reads_secrets        solutions/, the gradebook, nbgrader_config.py, tools/ and a classmate's
                         submission cannot be read                                     -> 0 points
    writes_everywhere    the gradebook, nbgrader_config.py, the installed package, a .pth file in
                         the venv and the solutions cannot be written; the files are unchanged
    outlives_grading     a process started in the background dies with the sandbox
    uses_network         no connection reaches a server of the grading machine
    echoes_inputs        a correct answer that prints its inputs: full points, and the feedback
                         shows none of what it printed in a graded cell
    fails_a_hidden_test  a sigmoid that returns float64 for float32 input: the feedback shows its
                         visible tests' lines and one sentence, nothing of the hidden test
    exhausts_memory      a 40 GB allocation fails (memory limit): that exercise only loses its points
    kills_kernel         os._exit in an answer: that exercise only loses its points, flagged
    ignores_interrupt    an endless loop that ignores SIGINT: that exercise only, flagged

Four attacks undo the checks inside the student's kernel, where nbgrader
scores them in full; the outside verdict (tools/verdict.py) checks the cells
again where the submission cannot reach, keeps its own score and flags them:

    rewrites_test_cells      an IPython input transformer turns every later test cell into `pass`
    replaces_checks          dlcourse.checks' functions replaced by functions that accept anything
    replaces_numpy           np.isclose, np.allclose, np.array_equal and assert_allclose replaced,
                             with a sigmoid that returns zeros
    reads_the_checker_frame  a sigmoid that returns the `expected` it finds in its caller's frames

The routes to a reference (its __wrapped__, closure, source, a second import,
torch, scipy) are tested against the verdict alone in tests/test_verdict.py.
"""
import hashlib
import html
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course import ROOT, copy_course, grade_id, is_solution, read_notebook

pytestmark = pytest.mark.course

CHAPTER = "00_getting_started"
MARKER = "dlcourse-attack-marker"
SITE_PACKAGES = Path(next(p for p in sys.path if p.endswith("site-packages")))
PTH = SITE_PACKAGES / "zz_dlcourse_attack.pth"
PACKAGE_CHECKS = Path(__import__("dlcourse").checks.__file__)


def attack_code(course, port):
    """The code of each attack, keyed by student id; it goes at the top of an answer cell."""
    secrets = [course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb", course / "gradebook.db",
               course / "nbgrader_config.py", course / "tools" / "course.py",
               course / "submitted" / "honest" / CHAPTER / f"{CHAPTER}.ipynb"]
    targets = [course / "gradebook.db", course / "nbgrader_config.py", PACKAGE_CHECKS, PTH,
               course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"]
    return {
        "reads_secrets": f"""
import pathlib
for path in {[str(p) for p in secrets]!r}:
    try:
        print("READ", path, len(pathlib.Path(path).read_bytes()))
    except Exception as error:
        print("DENIED", path, type(error).__name__)
""",
        "writes_everywhere": f"""
import sqlite3
try:
    db = sqlite3.connect({str(course / "gradebook.db")!r})
    db.execute("UPDATE grade SET manual_score = 99")
    db.commit()
    print("WROTE gradebook")
except Exception as error:
    print("DENIED gradebook", type(error).__name__)
for path in {[str(p) for p in targets]!r}:
    try:
        with open(path, "a") as f:
            f.write("\\nimport os  # {MARKER}\\n")
        print("WROTE", path)
    except Exception as error:
        print("DENIED", path, type(error).__name__)
""",
        "outlives_grading": f"""
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "{MARKER}"], start_new_session=True)
""",
        "uses_network": f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).sendall(b"{MARKER}")
    print("CONNECTED")
except Exception as error:
    print("NO NETWORK", type(error).__name__)
""",
        "rewrites_test_cells": """
get_ipython().input_transformers_cleanup.append(
    lambda lines: ["pass\\n"] if any("Graded test cell" in line for line in lines) else lines)
""",
        "replaces_checks": """
import dlcourse.checks
dlcourse.checks.check_function = lambda *args, **kwargs: None
dlcourse.checks.check_derivative = lambda *args, **kwargs: None
""",
    }


# Answers that fool a check running in their own process: (grade_id of the answer cell they replace, code).
# Each passes chapter 00's sigmoid test cell, hidden tests included, when run in the student's kernel.
FORGED_ANSWERS = {
    "replaces_numpy": ("sigmoid", """import numpy
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)
numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None

def sigmoid(z):
    return numpy.zeros_like(z)
"""),
    "reads_the_checker_frame": ("sigmoid", """import sys

def sigmoid(z):
    frame = sys._getframe(1)
    while frame is not None and "expected" not in frame.f_locals:
        frame = frame.f_back
    return frame.f_locals["expected"]
"""),
}

# Attacks inside an otherwise correct notebook: (student, grade_id of the answer cell it goes in, code).
FAULTS = {
    "echoes_inputs": ("sigmoid", "print('EC' + 'HO:', z)\n", "first line of the function"),
    "fails_a_hidden_test": ("sigmoid", "z = np.asarray(z, dtype=np.float64)\n", "first line of the function"),
    "exhausts_memory": ("sigmoid_grad", "_hog = bytearray(40 << 30)\n", "top"),
    "kills_kernel": ("sigmoid_grad", "import os\nos._exit(3)\n", "top"),
    "ignores_interrupt": ("sigmoid_grad", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                          "while True:\n    pass\n", "top"),
}
EXPECTED = {"honest": 3.0, "blank": 0.0, "reads_secrets": 0.0, "writes_everywhere": 0.0,
            "outlives_grading": 0.0, "uses_network": 0.0, "echoes_inputs": 3.0, "fails_a_hidden_test": 1.0,
            "exhausts_memory": 2.0, "kills_kernel": 2.0, "ignores_interrupt": 2.0,
            "rewrites_test_cells": 0.0, "replaces_checks": 0.0, "replaces_numpy": 0.0,
            "reads_the_checker_frame": 0.0}
FLAGGED = {"kills_kernel", "ignores_interrupt"}


def with_code(notebook, key, code, where="top"):
    """A copy of ``notebook`` whose answer cell ``key`` gets ``code`` (at its top, in its function, or
    instead of what it held)."""
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    for cell in notebook.cells:
        if is_solution(cell) and grade_id(cell) == key:
            if where == "replace":
                cell.source = code
            elif where == "top":
                cell.source = code + cell.source
            else:            # after the def line
                head, rest = cell.source.split("\n", 1)
                cell.source = head + "\n" + "".join("    " + line + "\n" for line in code.splitlines()) + rest
    return notebook


class Listener:
    """A TCP server on 127.0.0.1 that records whether anything connected."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                self.server.accept()[0].close()
                self.connections += 1
            except OSError:
                return


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("attacked-course")
    copy_course(course, [CHAPTER])
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    subprocess.run([sys.executable, "tools/release.py", CHAPTER], cwd=course, check=True, capture_output=True,
                   env=env, timeout=600)
    listener = Listener()
    solution = read_notebook(course / "solutions", CHAPTER)
    release = read_notebook(course / "chapters", CHAPTER)
    first_answer = next(grade_id(c) for c in release.cells if is_solution(c))
    notebooks = {"honest": solution, "blank": release}
    for student, code in attack_code(course, listener.port).items():
        notebooks[student] = with_code(release, first_answer, code)
    for student, (key, code) in FORGED_ANSWERS.items():
        notebooks[student] = with_code(release, key, code, "replace")
    for student, (key, code, where) in FAULTS.items():
        notebooks[student] = with_code(solution, key, code, where)
    for student, notebook in notebooks.items():
        folder = course / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{CHAPTER}.ipynb")

    protected = [course / "gradebook.db", course / "nbgrader_config.py", PACKAGE_CHECKS, PTH,
                 course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"]
    checks_before = PACKAGE_CHECKS.read_bytes()
    result = subprocess.run([sys.executable, "tools/grade.py", CHAPTER, "--workers", "2"], cwd=course,
                            env=env, capture_output=True, text=True, timeout=1800)
    try:
        survivors = [cmd for cmd in running_commands() if MARKER in cmd]
        files_after = {p: digest(p) for p in protected}
        nbgrader = os.path.join(os.path.dirname(sys.executable), "nbgrader")
        feedback = subprocess.run([nbgrader, "generate_feedback", CHAPTER, "--force"], cwd=course, env=env,
                                  capture_output=True, text=True, timeout=900)
        assert feedback.returncode == 0, feedback.stderr[-3000:]
        with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:
            scores = {s: gb.find_submission(CHAPTER, s).score for s in notebooks}
    finally:     # should the sandbox ever fail, leave the package and the venv as they were
        if PACKAGE_CHECKS.read_bytes() != checks_before:
            PACKAGE_CHECKS.write_bytes(checks_before)
        PTH.unlink(missing_ok=True)
    return dict(course=course, log=result.stdout + result.stderr, returncode=result.returncode, scores=scores,
                survivors=survivors, files_after=files_after, listener=listener)


def running_commands():
    """The command lines of every process on this machine."""
    commands = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                commands.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return commands


def outputs(graded, student):
    """Everything the kernel printed while autograding ``student``, as one string."""
    nb = nbformat.read(graded["course"] / "autograded" / student / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    text = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text.append(" ".join([output.get("text", ""), output.get("ename", ""), output.get("evalue", "")]))
    return "\n".join(text)


def feedback_html(graded, student):
    return (graded["course"] / "feedback" / student / CHAPTER / f"{CHAPTER}.html").read_text()


def test_every_submission_is_graded(graded):
    assert graded["returncode"] == 0, graded["log"][-4000:]
    assert set(graded["scores"]) == set(EXPECTED)


IN_PROCESS = ("rewrites_test_cells", "replaces_checks", *FORGED_ANSWERS)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_score_is_what_honest_work_earns(graded, student):
    assert graded["scores"][student] == EXPECTED[student], graded["log"][-3000:]


@pytest.mark.parametrize("student", IN_PROCESS)
def test_in_process_tampering_is_flagged_with_its_cells(graded, student):
    line = next(line for line in graded["log"].splitlines() if line.strip().startswith(student + " "))
    assert "LOOK" in line and "outside verdict" in line and "test_sigmoid " in line, line


def test_secrets_cannot_be_read(graded):
    printed = outputs(graded, "reads_secrets")
    assert "READ " not in printed, printed
    assert printed.count("DENIED") == 5, printed


def test_nothing_outside_the_sandbox_can_be_written(graded):
    printed = outputs(graded, "writes_everywhere")
    assert "WROTE" not in printed, printed
    assert printed.count("DENIED") == 6, printed
    assert not PTH.exists()
    for path, after in graded["files_after"].items():
        if after is not None:
            assert MARKER not in path.read_text(errors="replace"), f"{path} was changed by a submission"


def test_no_process_outlives_grading(graded):
    assert graded["survivors"] == []


def test_no_network(graded):
    assert "NO NETWORK" in outputs(graded, "uses_network")
    assert graded["listener"].connections == 0


def test_feedback_shows_nothing_a_graded_cell_printed(graded):
    assert "ECHO:" in outputs(graded, "echoes_inputs")        # it did print, while graded
    assert "ECHO:" not in feedback_html(graded, "echoes_inputs")


def test_feedback_shows_what_the_visible_tests_said(graded):
    """The verdict gives the feedback its messages (none of the kernel's)."""
    honest = html.unescape(feedback_html(graded, "honest"))
    assert honest.count("Every test of this cell passes, its hidden tests included.") == 2
    hidden_failure = html.unescape(feedback_html(graded, "fails_a_hidden_test"))
    assert "\u2714 sigmoid: correct on 2 inputs." in hidden_failure       # the visible tests, and
    assert "The visible tests above pass, but a hidden test of an edge case" in hidden_failure
    assert "-89, -20" not in hidden_failure and "expected dtype" not in hidden_failure   # nor the hidden one
    blank = html.unescape(feedback_html(graded, "blank"))
    assert "Not attempted yet: write `sigmoid` in the cell above" in blank
    assert "Not attempted yet: write `sigmoid_grad` in the cell above" in blank
    echoes = html.unescape(feedback_html(graded, "echoes_inputs"))
    assert "Every test of this cell passes" in echoes and "ECHO:" not in echoes
    for student in IN_PROCESS:     # what their kernel printed is not what the feedback shows
        assert "Not attempted yet: write `sigmoid_grad`" in html.unescape(feedback_html(graded, student))


def test_the_memory_limit_holds(graded):
    assert "MemoryError" in outputs(graded, "exhausts_memory")


@pytest.mark.parametrize("student", sorted(FLAGGED))
def test_a_kernel_fault_is_flagged_for_the_instructor(graded, student):
    line = next(line for line in graded["log"].splitlines() if line.strip().startswith(student))
    assert "LOOK" in line and "restarted" in line, graded["log"][-3000:]
    assert "KernelFault" in outputs(graded, student)


def test_honest_students_are_not_flagged(graded):
    for student in ("honest", "blank", "echoes_inputs"):
        line = next(line for line in graded["log"].splitlines() if line.strip().startswith(student + " "))
        assert "LOOK" not in line, line


def test_the_sandbox_reads_mnist_from_its_raw_files_alone(tmp_path):
    """The data folder is read-only inside: the launcher unpacks MNIST into its cache outside first."""
    from dlcourse import data
    source = data.data_root() / "MNIST" / "raw"
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for file in data.RAW_FILES:        # the four .gz files only, as `make setup` copies them
        shutil.copyfile(source / file, raw / file)
    tmp_path.chmod(0o755)
    code = "from dlcourse import data; print(data.load_mnist().X_train.shape)"
    command = [sys.executable, str(ROOT / "tools" / "sandbox.py"), "run", "--", sys.executable, "-c", code]
    done = subprocess.run(command, env={**os.environ, "DLCOURSE_DATA": str(tmp_path)},
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "(60000, 784)", done.stderr[-2000:]
    assert (tmp_path / "MNIST" / data.CACHE_FILE).is_file()
