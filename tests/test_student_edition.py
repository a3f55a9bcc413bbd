"""tools/student_edition.py: the student edition, a repository for a graded class.

- the export holds the release notebooks, the package, the students' README, Makefile and
  .gitignore, pyproject.toml, environment.yml, datasets/README.md and the tests that need no
  solutions, and nothing else;
- no file of it holds a solution or hidden-test region, nor a line of a solution cell of
  solutions/ that students do not get anyway (scanned here, independently of the script);
- it is a fresh git repository with one commit; exporting again (or with one chapter more,
  --up-to) adds one commit with the changes; a folder that is not a student edition is refused;
- the rule that picks the tests, on made-up test files; the students' conftest keeps up with ours;
- slow: the students' chapter test on made-up chapters; a fresh clone of the export passes its
  own `make test` offline, `make lab` serves chapter 00, and `make validate` tells a finished
  chapter from an untouched one (times in test-artifacts/student_edition_times.json).
"""
import ast
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "student_edition.py"
TEMPLATES = ROOT / "tools" / "student_edition"

spec = importlib.util.spec_from_file_location("student_edition", SCRIPT)
student_edition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student_edition)

TOP_LEVEL = {".git", ".gitignore", "Makefile", "README.md", "chapters", "datasets", "dlcourse",
             "environment.yml", "pyproject.toml", "tests"}
INSTRUCTOR_TESTS = ["test_release.py", "test_grading.py", "test_notebooks.py", "test_book.py",
                    "test_grade_demo.py", "test_project.py", "grading_helpers.py"]
CHAPTER_00 = "chapters/00_getting_started/00_getting_started.ipynb"
ARTIFACTS = ROOT / "test-artifacts"


def run_script(dest, *args):
    return subprocess.run([sys.executable, str(SCRIPT), str(dest), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def git(folder, *args):
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout


def files_in(folder):
    """Every file under ``folder`` outside .git, relative."""
    return sorted(p.relative_to(folder) for p in Path(folder).rglob("*")
                  if p.is_file() and ".git" not in p.parts)


def course_files(*folders):
    """The files of this repository's ``folders`` that git tracks or would track (not ignored)."""
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z", *folders).split("\0")
    return sorted({Path(name) for name in listed if name and (ROOT / name).is_file()})


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The student edition exported once into a new folder: (folder, what the script printed)."""
    dest = tmp_path_factory.mktemp("export") / "dlcourse-student"
    done = run_script(dest)
    assert done.returncode == 0, done.stderr
    return dest, done.stdout


# -- what is in it ----------------------------------------------------------------------------
def test_the_export_holds_the_students_files_and_nothing_else(exported):
    dest, _ = exported
    assert {p.name for p in dest.iterdir()} == TOP_LEVEL
    chapters, package = course_files("chapters"), course_files("dlcourse")
    assert len(chapters) >= 4 and Path(CHAPTER_00) in chapters and Path("dlcourse/nn/module.py") in package
    assert [Path("chapters") / p for p in files_in(dest / "chapters")] == chapters
    assert [Path("dlcourse") / p for p in files_in(dest / "dlcourse")] == package
    for path in [*chapters, *package, Path("pyproject.toml"), Path("environment.yml")]:
        assert (dest / path).read_bytes() == (ROOT / path).read_bytes(), path
    assert files_in(dest / "datasets") == [Path("README.md")]
    assert (dest / "Makefile").read_text() == (TEMPLATES / "Makefile").read_text()
    assert (dest / ".gitignore").read_text() == (TEMPLATES / "gitignore").read_text()
    assert not any(p.suffix in (".pyc", ".db") or p.name == "__pycache__" for p in dest.rglob("*"))


def test_the_readme_is_the_students_and_lists_every_chapter(exported):
    dest, _ = exported
    readme = (dest / "README.md").read_text()
    assert "{{" not in readme and "make lab" in readme and "make validate" in readme and "git pull" in readme
    for notebook in sorted((ROOT / "chapters").glob("*/*.ipynb")):
        title = nbformat.read(notebook, as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
        assert f"- [{title}]({notebook.relative_to(ROOT)})" in readme


def test_the_makefile_has_the_students_targets_only(exported):
    makefile = (exported[0] / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.M))
    assert targets == {"setup", "data", "lab", "validate", "test", "clean"}
    for target in ("lab", "validate", "test"):
        assert re.search(rf"^{target}: setup$", makefile, re.M), target
    assert "-m pytest -n 2 --dist loadfile" in makefile and "--allow-root" in makefile
    assert "LabApp.default_url=/lab/tree/" + CHAPTER_00 in makefile


def test_the_tests_are_chosen_by_the_rule(exported):
    dest, printed = exported
    exported_tests = {p.name for p in (dest / "tests").iterdir()}
    own = {p.name for p in (TEMPLATES / "tests").glob("*.py")}
    assert {"conftest.py", "test_chapters.py"} <= own <= exported_tests
    for name in own:
        assert (dest / "tests" / name).read_bytes() == (TEMPLATES / "tests" / name).read_bytes()
    assert not exported_tests & set(INSTRUCTOR_TESTS)
    left_out = dict(re.findall(r"^test left out: (\S+) \((.*)\)$", printed, re.M))
    main_tests = {p.name for p in (ROOT / "tests").glob("*.py")} - {"conftest.py"}
    assert set(INSTRUCTOR_TESTS) & main_tests <= left_out.keys()
    assert main_tests == (exported_tests - own) | left_out.keys()
    assert len(exported_tests - own) >= 8 and "strategies.py" in exported_tests
    for name in exported_tests - own:
        assert (dest / "tests" / name).read_bytes() == (ROOT / "tests" / name).read_bytes()
        text = (dest / "tests" / name).read_text()
        assert not [word for word in student_edition.INSTRUCTOR_ONLY if word in text], name


def definitions(path):
    """{name: code, decorators included} of the functions a Python file defines at its top level."""
    return {node.name: ast.unparse(node) for node in ast.parse(Path(path).read_text()).body
            if isinstance(node, ast.FunctionDef)}


def used_from_conftest(path):
    """The fixtures a test file asks for (its functions' parameters) and what it imports from conftest."""
    names = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.FunctionDef):
            names.update(arg.arg for arg in node.args.args)
        elif isinstance(node, ast.ImportFrom) and node.module == "conftest":
            names.update(alias.name for alias in node.names)
    return names


def test_the_students_conftest_has_what_the_exported_tests_use(exported):
    """Each fixture and helper of tests/conftest.py that an exported test uses, and each autouse fixture."""
    dest, _ = exported
    ours, theirs = definitions(ROOT / "tests" / "conftest.py"), definitions(dest / "tests" / "conftest.py")
    used = set().union(*(used_from_conftest(p) for p in (dest / "tests").glob("test_*.py")))
    needed = {name for name, source in ours.items() if name in used or "autouse=True" in source}
    assert needed and needed <= theirs.keys()
    for name in needed:
        assert theirs[name] == ours[name], f"{name} changed in tests/conftest.py: change the students' too"


# -- no solutions ------------------------------------------------------------------------------
MARKS = ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"]


def long_lines(text):
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= 12}


def notebook_texts(path):
    """A notebook's cell sources and output texts."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        yield cell.source
        for output in cell.get("outputs", []):
            yield json.dumps(output, indent=0).encode().decode("unicode_escape")


def secret_lines():
    """Lines of solution cells that neither the release nor the package holds."""
    secret = set()
    for path in (ROOT / "solutions").glob("*/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                secret |= long_lines(cell.source)
    for path in (ROOT / "chapters").glob("*/*.ipynb"):
        for text in notebook_texts(path):
            secret -= long_lines(text)
    for path in (ROOT / "dlcourse").rglob("*.py"):
        secret -= long_lines(path.read_text())
    return secret


def findings(folder, secret):
    """[(file, marker or line)] for every mark or secret line in any file of ``folder``."""
    found = []
    for path in files_in(folder):
        texts = [(folder / path).read_bytes().decode("utf-8", errors="replace")]
        if path.suffix == ".ipynb":
            texts += list(notebook_texts(folder / path))
        for text in texts:
            found += [(path, mark) for mark in MARKS if mark in text]
            found += [(path, line) for line in long_lines(text) & secret]
    return found


def test_no_file_shows_a_solution_or_a_hidden_test(exported):
    dest, _ = exported
    secret = secret_lines()
    assert len(secret) > 50   # solutions/ holds answers and hidden tests that the release does not
    assert findings(dest, secret) == []


def test_the_scan_finds_a_planted_answer(exported, tmp_path):
    """The scan above can fail: one solution line in a test file, a marker in the README."""
    copy = tmp_path / "copy"
    shutil.copytree(exported[0], copy, ignore=shutil.ignore_patterns(".git"))
    secret = secret_lines()
    line = sorted(secret)[0]
    with open(copy / "tests" / "strategies.py", "a") as test_file:
        test_file.write(f"\n    {line}\n")
    with open(copy / "README.md", "a") as readme:
        readme.write("\n### BEGIN HIDDEN TESTS\n")
    found = findings(copy, secret)
    assert (Path("tests/strategies.py"), line) in found
    assert (Path("README.md"), "BEGIN HIDDEN TESTS") in found


COURSE_IGNORE = shutil.ignore_patterns(".git", ".venv", "datasets", "jupyter_book", ".hypothesis",
                                       ".pytest_cache", ".ruff_cache", "__pycache__", "*.egg-info",
                                       "test-artifacts", "build", "gradebook.db", "submitted", "autograded",
                                       "feedback")


def test_the_script_refuses_to_export_a_leak(tmp_path):
    """A copied file that shows a solution line is caught by the script itself: nothing is written."""
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=COURSE_IGNORE)
    (course / "datasets").mkdir()
    shutil.copyfile(ROOT / "datasets" / "README.md", course / "datasets" / "README.md")
    subprocess.run(["git", "init", "-q"], cwd=course, check=True)
    line = sorted(secret_lines())[0]
    with open(course / "environment.yml", "a") as env:
        env.write(f"  {line}\n")
    dest = tmp_path / "student"
    done = subprocess.run([sys.executable, str(course / "tools" / "student_edition.py"), str(dest)],
                          cwd=course, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "must not see" in done.stderr and "nothing committed" in done.stderr
    assert f"environment.yml: {line}" in done.stderr
    assert not dest.exists()


# -- a repository of its own -----------------------------------------------------------------
def test_it_is_a_fresh_repository_with_one_commit(exported):
    dest, _ = exported
    assert git(dest, "rev-list", "--count", "--all") == "1\n"
    log = git(dest, "log", "--format=%an <%ae>|%s")
    assert log == "dlcourse <dlcourse@localhost>|dlcourse student edition\n"
    assert git(dest, "status", "--porcelain") == "" and git(dest, "remote") == ""
    assert sorted(map(Path, git(dest, "ls-files").split())) == files_in(dest)
    # No object of any other history: every object is reachable from the one commit.
    stored = set(git(dest, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)").split())
    reachable = {line.split()[0] for line in git(dest, "rev-list", "--objects", "--all").splitlines()}
    assert stored == reachable


def test_the_script_prints_size_and_file_count(exported):
    dest, printed = exported
    match = re.search(r"(\d+) files, ([\d.]+) MB \(\.git ([\d.]+) MB\), 1 commit\(s\), committed", printed)
    assert match, printed
    files = files_in(dest)
    assert int(match[1]) == len(files)
    assert float(match[2]) == pytest.approx(sum((dest / f).stat().st_size for f in files) / 1e6, abs=0.006)


def test_exporting_again_publishes_the_changes_as_one_commit(tmp_path):
    dest = tmp_path / "student"
    assert run_script(dest).returncode == 0
    first = files_in(dest)
    again = run_script(dest)
    assert again.returncode == 0 and "unchanged, nothing committed" in again.stdout
    assert git(dest, "rev-list", "--count", "HEAD") == "1\n"
    # A chapter published earlier and withdrawn since, and the student-side files that are git-ignored.
    (dest / "chapters" / "99_old").mkdir()
    (dest / "chapters" / "99_old" / "99_old.ipynb").write_text("{}")
    git(dest, "add", "--all")
    git(dest, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "an older export")
    (dest / ".venv").mkdir()
    (dest / ".venv" / "kept").write_text("")
    (dest / "datasets" / "MNIST").mkdir()
    update = run_script(dest, "--message", "Chapter 99 withdrawn")
    assert update.returncode == 0, update.stderr
    assert git(dest, "rev-list", "--count", "HEAD") == "3\n"
    assert git(dest, "log", "-1", "--format=%s") == "Chapter 99 withdrawn\n"
    assert git(dest, "show", "--stat", "--format=", "HEAD").strip().startswith("chapters/99_old/99_old.ipynb")
    assert not (dest / "chapters" / "99_old").exists()
    assert (dest / ".venv" / "kept").exists() and (dest / "datasets" / "MNIST").is_dir()
    assert files_in(dest) == sorted([*first, Path(".venv/kept")])
    assert git(dest, "status", "--porcelain") == ""


def test_chapters_can_be_handed_out_one_by_one(tmp_path):
    first, second = sorted(p.name for p in (ROOT / "chapters").glob("*_*") if p.is_dir())[:2]
    dest = tmp_path / "student"
    done = run_script(dest, "--up-to", first[:2])
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (dest / "chapters").iterdir()] == [first]
    assert f"](chapters/{first}/{first}.ipynb)" in (dest / "README.md").read_text()
    assert f"](chapters/{second}/{second}.ipynb)" not in (dest / "README.md").read_text()
    done = run_script(dest, "--up-to", second)
    assert done.returncode == 0, done.stderr
    changed = git(dest, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == ["README.md", *(p.as_posix() for p in course_files(f"chapters/{second}"))]
    assert git(dest, "rev-list", "--count", "HEAD") == "2\n"
    assert run_script(dest, "--up-to", "x").returncode != 0


def test_a_folder_that_is_not_a_student_edition_is_refused(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    done = run_script(other)
    assert done.returncode != 0 and "not a student edition" in done.stderr
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    for inside in (ROOT, ROOT / "build" / "student", ROOT.parent):
        done = run_script(inside)
        assert done.returncode != 0 and "course repository" in done.stderr, inside


def test_a_student_edition_with_uncommitted_changes_is_refused(tmp_path):
    dest = tmp_path / "student"
    assert run_script(dest).returncode == 0
    (dest / "README.md").write_text("edited by hand")
    done = run_script(dest)
    assert done.returncode != 0 and "uncommitted changes" in done.stderr
    assert (dest / "README.md").read_text() == "edited by hand"


# -- the rule that picks the tests -------------------------------------------------------------
def write_tests(folder, files):
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return sorted(folder.glob("*.py"))


def test_the_rule_leaves_out_instructor_tests_and_what_imports_them(tmp_path):
    files = {
        "conftest.py": "import course   # tools/course.py\n",
        "helpers.py": "ROOT = 'solutions'\n",               # a new helper that reads solutions/
        "test_a.py": "from helpers import ROOT\n",         # imports it
        "test_b.py": "import test_a\n",                    # imports what imports it
        "test_c.py": "import strategies\n",
        "strategies.py": "x = 1\n",
        "test_d.py": "def test():\n    assert run_make('book')   # the Makefile\n",
        "test_e.py": "def test():\n    z = sigmoid(z) * (1 - sigmoid(z))\n",
    }
    kept, left_out = student_edition.select_tests(write_tests(tmp_path / "tests", files),
                                                  frozenset({"z = sigmoid(z) * (1 - sigmoid(z))"}))
    assert kept == ["strategies.py", "test_c.py"]   # conftest.py: the students' own is exported
    assert left_out == {
        "helpers.py": "mentions 'solutions'",
        "test_a.py": "imports helpers, which is left out",
        "test_b.py": "imports test_a, which is left out",
        "test_d.py": "mentions 'Makefile'",
        "test_e.py": "quotes a line of a solution: 'z = sigmoid(z) * (1 - sigmoid(z))'",
    }


# -- the students' chapter test ---------------------------------------------------------------
def made_up_notebook(cells):
    """A notebook of (source, kind) cells, kind "answer" or "test" (an nbgrader graded cell) or ""."""
    nb = nbformat.v4.new_notebook()
    for number, (source, kind) in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source)
        if kind == "answer":
            cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": f"a{number}"}
        elif kind == "test":
            cell.metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": f"t{number}",
                                         "points": 1}
        nb.cells.append(cell)
    return nb


@pytest.mark.slow
def test_the_students_chapter_test_passes_what_it_should_and_fails_the_rest(tmp_path):
    """tools/student_edition/tests/test_chapters.py on made-up chapters, one kernel each."""
    (tmp_path / "tests").mkdir()
    shutil.copyfile(TEMPLATES / "tests" / "test_chapters.py", tmp_path / "tests" / "test_chapters.py")
    setup = ("import numpy as np\nfrom dlcourse import checks", "")
    stub = ("def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()", "answer")
    test = ("checks.check_function(double, lambda x: 2 * x, [np.arange(3.0)])", "test")
    chapters = {
        "90_untouched": [setup, stub, test, ("print(double)", "")],
        "91_stub_at_the_top": [setup, ("W = 1\n# YOUR CODE HERE\nraise NotImplementedError()", "answer"),
                               ("raise checks.NotAttempted('Not attempted yet: write `W` above.')", "test")],
        "92_written": [setup, ("def double(x):\n    return 2 * x", "answer"), test],
        "93_wrong": [setup, ("def double(x):\n    return 3 * x", "answer"), test],
        "94_broken_cell": [setup, stub, test, ("1 / 0", "")],
        "95_broken_answer": [setup, ("def double(x) return 2 * x", "answer"), test],
        "96_no_graded_cell": [setup],
    }
    for name, cells in chapters.items():
        (tmp_path / "chapters" / name).mkdir(parents=True)
        nbformat.write(made_up_notebook(cells), tmp_path / "chapters" / name / f"{name}.ipynb")
    report = tmp_path / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}",
                    "tests/test_chapters.py"], cwd=tmp_path, capture_output=True, timeout=600)
    outcome = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        outcome[case.get("name")] = "passed" if failure is None else failure.get("message")
    each = "test_the_chapter_runs_and_fails_only_as_not_attempted"
    result = {name: outcome[f"{each}[{name}]"] for name in chapters}
    assert outcome["test_there_are_chapters"] == "passed"
    assert result["90_untouched"] == result["91_stub_at_the_top"] == result["92_written"] == "passed"
    assert "graded test cell t2" in result["93_wrong"] and "CheckFailed" in result["93_wrong"]
    assert "cell" in result["94_broken_cell"] and "ZeroDivisionError" in result["94_broken_cell"]
    assert "answer cell a1" in result["95_broken_answer"] and "SyntaxError" in result["95_broken_answer"]
    assert "has no graded test cell" in result["96_no_graded_cell"]


# -- slow: the export works from a fresh clone ---------------------------------------------------
def shared_datasets():
    """Where this machine keeps MNIST: ../shared/datasets (course machines, CI) or else datasets/."""
    shared = ROOT.parent / "shared" / "datasets"
    return shared if shared.is_dir() else ROOT / "datasets"


def link_entries(source, target, depth):
    """Mirror ``source`` into ``target``: folders down to ``depth`` levels, symbolic links below."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir() and not entry.is_symlink() and depth > 1:
            link_entries(entry, target / entry.name, depth - 1)
        else:
            (target / entry.name).symlink_to(entry)


def environment_sharing_packages(clone, scratch):
    """The clone's .venv, with every package of this test run's environment except dlcourse visible.

    Installing PyTorch again takes minutes and gigabytes. Instead the clone's virtual environment
    sees this environment's installed packages through a .pth file naming a folder of symbolic
    links to them (dlcourse, pip and setuptools left out), and gets their console scripts and
    Jupyter data (kernels, JupyterLab extensions). Its `make test` then runs pip for real: pip finds
    every dependency satisfied and installs the clone's dlcourse, editable, into the clone's venv.
    """
    purelib = Path(sysconfig.get_paths()["purelib"])
    prefix = Path(sys.prefix)
    venv = clone / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    deps = scratch / "packages"
    deps.mkdir()
    skip = re.compile(r"(dlcourse|__editable__|pip|setuptools|pkg_resources|_distutils_hack|__pycache__)"
                      r"([-_.].*)?$|.*\.pth$")
    for entry in purelib.iterdir():
        if not skip.match(entry.name):
            (deps / entry.name).symlink_to(entry)
    clone_purelib = next((venv / "lib").glob("python3*/site-packages"))
    (clone_purelib / "packages-of-the-test-environment.pth").write_text(f"{deps}\n")
    shebang = f"#!{prefix / 'bin' / 'python'}"
    for script in (prefix / "bin").iterdir():
        if script.name.startswith(("python", "pip", "activate")) or not script.is_file():
            continue
        with open(script, "rb") as f:
            if f.readline().decode(errors="replace").strip() != shebang:
                continue
        text = script.read_text().split("\n", 1)[1]
        (venv / "bin" / script.name).write_text(f"#!{venv / 'bin' / 'python'}\n{text}")
        (venv / "bin" / script.name).chmod(0o755)
    for data in ("share/jupyter", "etc/jupyter"):
        if (prefix / data).is_dir():
            link_entries(prefix / data, venv / data, depth=2)


def snapshot_of_this_environment():
    """Names and modification times of this environment's packages and Jupyter data, to see it untouched."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    entries = [*purelib.iterdir(), *(Path(sys.prefix) / "share" / "jupyter").rglob("*")]
    return sorted((str(p), p.lstat().st_mtime_ns) for p in entries)


def record_time(name, seconds):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "student_edition_times.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[name] = round(seconds, 1)
    path.write_text(json.dumps(times, indent=2) + "\n")
    print(f"{name}: {seconds:.1f} s")


def clean_environment():
    """The environment of a student's shell: no virtual environment active, no data folder set."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "DLCOURSE_DATA")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(sys.prefix))
    env["BROWSER"] = "true"   # `make lab` must not open a browser on a test machine
    return env


@pytest.fixture(scope="module")
def clone(exported, tmp_path_factory):
    """A fresh `git clone` of the export, next to a shared/datasets folder as on a course machine."""
    scratch = tmp_path_factory.mktemp("class")
    (scratch / "shared").mkdir()
    (scratch / "shared" / "datasets").symlink_to(shared_datasets())
    clone = scratch / "dlcourse-student"
    subprocess.run(["git", "clone", "-q", str(exported[0]), str(clone)], check=True, timeout=60)
    environment_sharing_packages(clone, scratch)
    return clone


@pytest.mark.slow
def test_a_fresh_clone_passes_its_own_make_test_offline(clone):
    before = snapshot_of_this_environment()
    report = clone.parent / "report.xml"
    # No network: pip's look-ups on PyPI fail at once (PIP_RETRIES=0 spares the 5 retries per look-up;
    # the local index, if the machine has one, still answers) and so would any test that downloads.
    env = clean_environment() | {"PYTEST_ADDOPTS": f"--junitxml={report}", "PIP_RETRIES": "0"}
    start = time.perf_counter()
    done = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up && make test"], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=1200)
    record_time("make test in a fresh clone, offline", time.perf_counter() - start)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert re.search(r"^=+ \d+ passed.* in [\d.]+s", done.stdout, re.M), done.stdout[-2000:]
    record_time("pytest within it", float(next(ET.parse(report).getroot().iter("testsuite")).get("time")))
    cases = ET.parse(report).getroot().iter("testcase")
    ran = [(case.get("classname"), case.get("name")) for case in cases
           if not any(child.tag in ("skipped", "failure", "error") for child in case)]
    assert len(ran) > 200
    chapters = sorted(p.name for p in (clone / "chapters").iterdir())
    assert sorted(name for classname, name in ran if classname == "tests.test_chapters"
                  and name.startswith("test_the_chapter_runs")) == \
        [f"test_the_chapter_runs_and_fails_only_as_not_attempted[{chapter}]" for chapter in chapters]
    # The tests ran the clone's own package, installed by its make test, and this environment is untouched.
    python = clone / ".venv" / "bin" / "python"
    where = subprocess.run([str(python), "-c", "import dlcourse; print(dlcourse.__file__)"],
                           cwd="/", capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where) == clone / "dlcourse" / "__init__.py"
    assert (clone / "datasets" / "MNIST" / "raw").is_dir()   # make data copied MNIST from ../shared
    assert snapshot_of_this_environment() == before


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_url(process, printed, timeout):
    """The first JupyterLab URL with a token that ``process`` prints, or None after ``timeout`` seconds."""
    url = []

    def read():
        for line in process.stdout:
            printed.append(line)
            found = re.search(r"http://127\.0\.0\.1:\d+/lab/tree/\S+\?token=\w+", line)
            if found and not url:
                url.append(found[0])

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not url and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return url[0] if url else None


def open_when_listening(url, timeout):
    """urlopen(url), retried while the connection is refused: on a busy machine the server may print
    its URL a moment before it accepts connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=30)
        except urllib.error.URLError as error:
            if not isinstance(error.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.slow
def test_make_lab_opens_chapter_00(clone):
    start = time.perf_counter()
    lab = subprocess.Popen(["make", "lab", f"PORT={free_port()}"], cwd=clone, env=clean_environment(),
                           text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           start_new_session=True)   # its own process group: make, jupyter and the kernels
    printed = []
    try:
        url = wait_for_url(lab, printed, timeout=300)
        assert url and f"/lab/tree/{CHAPTER_00}?token=" in url, "".join(printed)
        page = open_when_listening(url, timeout=60)
        assert page.status == 200 and "JupyterLab" in page.read().decode()
        base, token = url.split("/lab/tree/")[0], url.split("token=")[1]
        with urllib.request.urlopen(f"{base}/api/contents/{CHAPTER_00}?token={token}", timeout=30) as answer:
            model = json.load(answer)
        assert model["type"] == "notebook" and model["content"]["cells"][0]["source"].startswith("# 00")
        record_time("make lab until chapter 00 is served", time.perf_counter() - start)
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()


def solved(chapter):
    """The chapter's release with every answer cell replaced by its solution (markers removed)."""
    solution = nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in solution.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    release = nbformat.read(ROOT / "chapters" / chapter / f"{chapter}.ipynb", as_version=4)
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "\n".join(line for line in answers[grade_id].splitlines()
                                    if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return release


@pytest.mark.slow
def test_make_validate_tells_a_finished_chapter_from_an_untouched_one(clone):
    chapter = "00_getting_started"
    notebook = clone / "chapters" / chapter / f"{chapter}.ipynb"
    validate = ["make", "validate", f"CHAPTER={chapter}"]
    try:
        untouched = subprocess.run(validate, cwd=clone, env=clean_environment(), capture_output=True,
                                   text=True, timeout=300)
        assert "VALIDATION FAILED ON" in untouched.stdout and "Not attempted yet" in untouched.stdout
        nbformat.write(solved(chapter), notebook)
        finished = subprocess.run(validate, cwd=clone, env=clean_environment(), capture_output=True,
                                  text=True, timeout=300)
        assert "Success! Your notebook passes all the tests." in finished.stdout, finished.stdout[-3000:]
        assert "FAILED" not in finished.stdout
    finally:
        git(clone, "checkout", "--", "chapters")
