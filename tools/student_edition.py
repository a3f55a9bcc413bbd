"""Export the student edition: a repository for a graded class, without solutions or hidden tests.

    python tools/student_edition.py DIR                (make student-edition DIR=DIR)
    python tools/student_edition.py DIR --up-to 02     chapters 00 to 02 only (UP_TO=02), to hand
                                                       them out one by one during a term

DIR receives what a student needs, and nothing else:

    chapters/                      the release notebooks, as they are here (make release)
    dlcourse/                      the package
    pyproject.toml, environment.yml, datasets/README.md        as they are here
    README.md, Makefile, .gitignore    the students' own, from tools/student_edition/
                                   (make lab, make validate, make test)
    tests/                         the tests that need neither solutions/ nor instructor tooling,
                                   and tools/student_edition/tests/: the students' conftest.py
                                   (the fixtures and PyTorch helpers, without the instructors'
                                   markers and hooks) and test_chapters.py (every chapter runs)

Which tests: every tests/*.py but conftest.py whose text mentions none of INSTRUCTOR_ONLY, quotes
no line of a solution, and imports no test module left out (see select_tests).

DIR is a git repository of its own. A new or empty DIR gets `git init` and one commit, with none of
this repository's history. Exporting again into the same DIR (to publish a new chapter or a fix
during a term) replaces the files it exported before and adds one commit with the changes; push it,
and the students `git pull`. A DIR that is neither empty nor a student edition is refused, and so
is a student edition with uncommitted changes.

Before anything is written, every file of the export is scanned for nbgrader's solution and
hidden-test markers and for the lines of solution cells that students must not see (see
secret_lines); the script stops, writing and committing nothing, if it finds one.

Files are taken from the working tree: every file git tracks or would track (not ignored).
"""
import argparse
import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

from course import strings_in  # tools/course.py

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "tools" / "student_edition"

# Copied from this repository as they are (a folder ends with "/").
COPIED = ("chapters/", "dlcourse/", "pyproject.toml", "environment.yml", "datasets/README.md")
# The students' own files: template name -> name in the export.
TEMPLATE_FILES = {"README.md": "README.md", "Makefile": "Makefile", "gitignore": ".gitignore"}
# A test whose text mentions one of these needs the solutions, nbgrader's instructor side, the
# instructor tooling or a file of this repository that the export does not have (or has in the
# students' version: the Makefile). '"benchmarks"' is the folder as a path in code (ROOT / "benchmarks"):
# docstrings that only point a reader to benchmarks/ do not leave a test out.
INSTRUCTOR_ONLY = ("solutions", "nbgrader", "tools/", "gradebook", "grading_helpers", "jupyter_book",
                   ".ci/", "Makefile", "INSTRUCTORS", '"benchmarks"')
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
MIN_LINE = 12   # shorter lines ("pass", "return x", "])") say nothing about a solution
GIT_IDENTITY = ["-c", "user.name=dlcourse", "-c", "user.email=dlcourse@localhost"]
README_CHAPTERS = "{{chapters}}"


# -- what goes into the export ------------------------------------------------------------------
def git(args, cwd, **kwargs):
    """Run git in ``cwd`` and return its standard output (fails loudly)."""
    done = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=cwd, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done.stdout


def repository_files(root):
    """Every file of the working tree that git tracks or would track (not ignored), relative, sorted."""
    listed = git(["ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root).split("\0")
    return sorted({Path(name) for name in listed if name and (root / name).is_file()})


def imported_modules(source):
    """The top-level names of the modules a Python source imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def select_tests(test_files, secret=frozenset()):
    """Split test files (paths of tests/*.py) into (the names exported, {name left out: why}).

    Left out: a test that mentions a word of INSTRUCTOR_ONLY, one that quotes a line of ``secret``
    (it would show students an answer), and one that imports a test module left out.
    conftest.py is not among them: the export has the students' own.
    """
    texts = {path.name: path.read_text() for path in test_files if path.name != "conftest.py"}
    left_out = {}
    for name, text in texts.items():
        words = [word for word in INSTRUCTOR_ONLY if word in text]
        quoted = sorted(meaningful_lines(text) & secret)
        if words:
            left_out[name] = "mentions " + ", ".join(repr(word) for word in words)
        elif quoted:
            left_out[name] = f"quotes a line of a solution: {quoted[0]!r}"
    # A test that imports a helper left out would fail in the export: leave it out too (and so on).
    changed = True
    while changed:
        changed = False
        for name, text in texts.items():
            if name in left_out:
                continue
            try:
                missing = sorted(imported_modules(text) & {Path(n).stem for n in left_out})
            except SyntaxError as error:
                left_out[name], changed = f"does not parse ({error})", True
                continue
            if missing:
                left_out[name], changed = "imports " + ", ".join(missing) + ", which is left out", True
    return sorted(name for name in texts if name not in left_out), left_out


def chapter_number(name):
    """The number of a chapter given as 3, 03 or 03_backpropagation."""
    digits = name.split("_")[0]
    if not digits.isdigit():
        sys.exit(f"a chapter is NN or NN_name, such as 03 or 03_backpropagation; got {name!r}")
    return int(digits)


def chapter_list(root, chapters):
    """The README's list of chapters: a link to each chapters/NN_name/NN_name.ipynb with its title."""
    items = []
    for chapter in chapters:
        path = root / "chapters" / chapter / f"{chapter}.ipynb"
        title = chapter
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and source.startswith("# "):
                title = source.splitlines()[0][2:].strip()
                break
        items.append(f"- [{title}](chapters/{path.stem}/{path.name})")
    return "\n".join(items)


def export_plan(root=ROOT, templates=TEMPLATES, up_to=None):
    """What the export holds: every chapter, or those numbered up to ``up_to`` (as in chapter_number).

    Returns ({path in the export: source file}, {path: text written instead of copied},
    {test left out: why}, the secret lines of solutions/ (see secret_lines)).
    """
    files = repository_files(root)
    chapters = sorted(path.parent.name for path in files  # each chapters/NN_name/NN_name.ipynb
                      if path.parent.parent == Path("chapters") and path.name == f"{path.parent.name}.ipynb"
                      and (up_to is None or chapter_number(path.parent.name) <= chapter_number(up_to)))
    if not chapters:
        sys.exit(f"no chapter in {root / 'chapters'}" + (f" numbered up to {up_to}" if up_to else ""))
    plan = {path: root / path for path in files
            if any(path.as_posix() == item or path.as_posix().startswith(item) for item in COPIED)
            and (path.parts[0] != "chapters" or path.parts[1] in chapters)}
    releases = [root / path for path in files if path.parts[0] == "chapters" and path.suffix == ".ipynb"]
    secret = secret_lines(root / "solutions", [*plan.values(), *releases])
    test_files = [root / path for path in files if path.parent == Path("tests") and path.suffix == ".py"]
    exported, left_out = select_tests(test_files, secret)
    for name in exported:
        plan[Path("tests") / name] = root / "tests" / name
    for template in sorted((templates / "tests").glob("*.py")):
        if Path("tests") / template.name in plan or template.name in left_out:
            sys.exit(f"tests/{template.name} exists both in tests/ and in {templates}/tests/: rename one")
        plan[Path("tests") / template.name] = template
    for template, name in TEMPLATE_FILES.items():
        plan[Path(name)] = templates / template
    readme = (templates / "README.md").read_text().replace(README_CHAPTERS, chapter_list(root, chapters))
    return plan, {Path("README.md"): readme}, left_out, secret


# -- what students must not see -----------------------------------------------------------------
def meaningful_lines(text):
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= MIN_LINE}


def notebook_sources(path):
    """The source of every cell of a notebook, with the cell's nbgrader metadata."""
    for cell in json.loads(Path(path).read_text())["cells"]:
        yield "".join(cell["source"]), cell.get("metadata", {}).get("nbgrader", {})


def secret_lines(solutions, given):
    """The lines of solutions/ that students must not see: the answers.

    Every line (stripped, of at least MIN_LINE characters) of a solution cell of the notebooks in
    ``solutions``, except those that students get anyway: in the files ``given``, the release
    notebooks (of every chapter, exported yet or not: a line a later chapter hands out is no
    answer) and the dlcourse package (it holds the reference implementations, which students may
    read; a line such as `N = x.shape[0]` is in both). Hidden tests are found by their markers:
    their lines are test code (seeds, calls such as `layer.backward(g)`) that any test may share.
    """
    secret = set()
    for path in Path(solutions).glob("*/*.ipynb"):
        for source, grading in notebook_sources(path):
            if grading.get("solution"):
                secret |= meaningful_lines(source)
    for path in map(Path, given):
        if path.suffix in (".ipynb", ".py"):
            secret -= meaningful_lines(readable_text(path))
    return frozenset(secret)


def readable_text(path):
    """A file's text; a notebook's JSON strings decoded, so that its lines can be compared."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    if path.suffix == ".ipynb":
        text = "\n".join([text, *strings_in(json.loads(text))])
    return text


def leaks(plan, texts, secret):
    """[(path in the export, what)] for each marker or secret line in a file of the export."""
    found = []
    for path, source in plan.items():
        text = texts[path] if path in texts else readable_text(source)
        found += [(path, marker) for marker in MARKERS if marker in text]
        found += [(path, line) for line in sorted(meaningful_lines(text) & secret)]
    return found


# -- writing the repository ---------------------------------------------------------------------
def is_student_edition(folder):
    makefile = folder / "Makefile"
    return ((folder / ".git").is_dir() and (folder / "chapters").is_dir() and makefile.is_file()
            and makefile.read_text().startswith("# dlcourse, student edition")
            and not (folder / "solutions").exists())


def prepare(dest):
    """Make ``dest`` ready: new or empty, or a clean student edition whose exported files are removed."""
    if dest == ROOT or ROOT in dest.parents or dest in ROOT.parents:
        sys.exit(f"{dest} is inside (or holds) the course repository {ROOT}: choose a folder outside it, "
                 "e.g. ../dlcourse-student")
    if not dest.exists() or not any(dest.iterdir()):
        dest.mkdir(parents=True, exist_ok=True)
        git(["init", "--quiet", "--initial-branch=main"], cwd=dest)
        return True
    if not is_student_edition(dest):
        sys.exit(f"{dest} is not empty and not a student edition of dlcourse: refusing to write into it")
    if git(["status", "--porcelain"], cwd=dest):
        sys.exit(f"{dest} has uncommitted changes: commit or remove them first")
    for name in git(["ls-files", "-z"], cwd=dest).split("\0"):
        if name:
            remove_file(dest, Path(name))
    return False


def remove_file(dest, path):
    """Delete dest/path, then each folder above it that this leaves empty."""
    (dest / path).unlink(missing_ok=True)
    for folder in path.parents[:-1]:
        if any((dest / folder).iterdir()):
            break
        (dest / folder).rmdir()


def write(dest, plan, texts):
    for path, source in plan.items():
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        if path in texts:
            (dest / path).write_text(texts[path])
        else:
            shutil.copyfile(source, dest / path)
            shutil.copymode(source, dest / path)


def export(dest, message=None, up_to=None, root=ROOT, templates=TEMPLATES):
    """Write (or update) the student edition in ``dest`` and commit it; returns a summary dict."""
    dest = Path(dest).resolve()
    plan, texts, left_out, secret = export_plan(root, templates, up_to)
    found = leaks(plan, texts, secret)
    if found:
        listing = "\n".join(f"  {path}: {what}" for path, what in found[:20])
        sys.exit(f"the export would show what students must not see ({len(found)} findings); "
                 f"nothing written to {dest}, nothing committed:\n{listing}")
    new = prepare(dest)
    write(dest, plan, texts)
    files = repository_files(dest)
    git(["add", "--all"], cwd=dest)
    changed = subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=dest).returncode != 0
    if changed or new:
        default = "dlcourse student edition" if new else "Update the dlcourse student edition"
        git(["commit", "--quiet", "-m", message or default], cwd=dest)
    return {
        "dest": dest,
        "files": len(files),
        "bytes": sum((dest / path).stat().st_size for path in files),
        "git_bytes": sum(p.stat().st_size for p in (dest / ".git").rglob("*") if p.is_file()),
        "commits": int(git(["rev-list", "--count", "HEAD"], cwd=dest)),
        "changed": changed or new,
        "chapters": sorted({path.parts[1] for path in plan if path.parts[0] == "chapters"}),
        "tests": sorted(path.name for path in plan if path.parent == Path("tests")),
        "left_out": left_out,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="the student repository's folder (new, or an earlier export)")
    parser.add_argument("--up-to", metavar="NN", help="only the chapters numbered up to NN (default: all)")
    parser.add_argument("-m", "--message", help="the commit message (default: a new or an updated edition)")
    args = parser.parse_args(argv)
    summary = export(args.dest, args.message, args.up_to)
    print(f"chapters exported: {', '.join(summary['chapters'])}")
    print(f"tests exported: {', '.join(summary['tests'])}")
    for name, why in sorted(summary["left_out"].items()):
        print(f"test left out: {name} ({why})")
    state = "committed" if summary["changed"] else "unchanged, nothing committed"
    print(f"student edition in {summary['dest']}: {summary['files']} files, {summary['bytes'] / 1e6:.2f} MB "
          f"(.git {summary['git_bytes'] / 1e6:.2f} MB), {summary['commits']} commit(s), {state}")


if __name__ == "__main__":
    main()
