"""The course's structure, for tools/ and tests/: which chapters there are, and their nbgrader cells.

    chapter_names()             every solutions/NN_name/NN_name.ipynb, as ["00_getting_started", ...]
    chapter_names(number="03")  only that chapter (the tests' --chapter option)
    find_chapter("03")          "03_backpropagation": a chapter by number or by full name
    chapter_number(chapter)     "03"
    read_notebook(folder, ch)   folder/NN_name/NN_name.ipynb, as an nbformat notebook

nbgrader keeps its marks in ``cell.metadata["nbgrader"]`` (schema 3): a
solution cell has ``solution: true``, a graded test cell ``grade: true`` and
``points``, and both have a ``grade_id``. These read them:

    nbgrader_meta(cell)   the dict (empty for a cell nbgrader does not manage)
    grade_id(cell)        its grade_id, or None
    is_solution(cell)     True for a solution cell
    is_grade(cell)        True for a graded test cell
    points(cell)          its points (0 for a cell that is not graded)
    max_score(nb)         the points of every graded cell of a notebook
    has_hidden_tests(cell)  True for a test cell with a hidden region (### BEGIN/END HIDDEN TESTS)
    visible_tests(source)   a test cell's source without its hidden region, as the release has it

Where the grading keeps what it found outside the gradebook:

    feedback_notes_path(course, chapter, student)   what the visible tests said (tools/grade.py)

A scratch copy of the course, for rehearsing or testing the grading away from the repository:

    copy_course(folder)          nbgrader_config.py, tools/ and every chapter of solutions/ into folder
    copy_course(folder, [ch])    the same with only those chapters

And for scanning files for leaked text (the website, the student edition):

    strings_in(value)     every string inside a JSON value (a notebook read with json.load)

Scripts in tools/ import it directly (``from course import chapter_names``), and
so do the tests (pyproject.toml puts tools/ on pytest's sys.path).
"""
import re
import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
CHAPTER_NAME = re.compile(r"(\d\d)_[a-z0-9_]+")
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


# -- chapters --------------------------------------------------------------------------------
def chapter_names(source=SOLUTIONS, number=None):
    """The chapters found in ``source``: every folder NN_name holding NN_name.ipynb, sorted.

    With ``number`` ("03"), only the chapter of that number (an empty list if there is none).
    """
    names = sorted(p.name for p in Path(source).iterdir() if (p / f"{p.name}.ipynb").is_file())
    return [name for name in names if number is None or chapter_number(name) == number]


def chapter_number(chapter):
    """The two digits a chapter's name starts with: "03" for "03_backpropagation"."""
    match = CHAPTER_NAME.fullmatch(chapter)
    if match is None:
        raise ValueError(f"chapter_number expects a name of the form NN_name, got {chapter!r}")
    return match.group(1)


def find_chapter(name, source=SOLUTIONS):
    """The chapter called ``name``: its full name ("03_backpropagation") or its number ("03", "3").

    Raises ValueError naming the chapters there are when none matches.
    """
    chapters = chapter_names(source)
    if name in chapters:
        return name
    if name.isdigit():
        matches = [chapter for chapter in chapters if chapter_number(chapter) == f"{int(name):02d}"]
        if matches:
            return matches[0]
    raise ValueError(f"no chapter {name!r} under {Path(source).name}/; "
                     f"the chapters are {', '.join(chapters)}")


def notebook_path(folder, chapter):
    """folder/NN_name/NN_name.ipynb."""
    return Path(folder) / chapter / f"{chapter}.ipynb"


def read_notebook(folder, chapter):
    """The notebook folder/NN_name/NN_name.ipynb, as nbformat version 4."""
    return nbformat.read(notebook_path(folder, chapter), as_version=4)


# -- nbgrader cells --------------------------------------------------------------------------
def nbgrader_meta(cell):
    """The cell's nbgrader metadata, a dict (empty for a cell nbgrader does not manage)."""
    return cell.metadata.get("nbgrader", {})


def grade_id(cell):
    """The cell's nbgrader grade_id, or None."""
    return nbgrader_meta(cell).get("grade_id")


def is_solution(cell):
    """True for a solution cell (the student writes there)."""
    return bool(nbgrader_meta(cell).get("solution", False))


def is_grade(cell):
    """True for a graded test cell."""
    return bool(nbgrader_meta(cell).get("grade", False))


def points(cell):
    """The points of a graded test cell; 0 for any other cell."""
    return nbgrader_meta(cell)["points"] if is_grade(cell) else 0


def max_score(nb):
    """The points of every graded cell of the notebook ``nb``."""
    return sum(points(cell) for cell in nb.cells)


def has_hidden_tests(cell):
    """True for a graded test cell with hidden tests."""
    return is_grade(cell) and HIDDEN_BEGIN in cell.source


def visible_tests(source):
    """A test cell's source without its hidden region (the lines from HIDDEN_BEGIN to HIDDEN_END)."""
    kept, hidden = [], False
    for line in source.splitlines(keepends=True):
        if line.strip() == HIDDEN_BEGIN:
            hidden = True
        elif line.strip() == HIDDEN_END:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "".join(kept)


def feedback_notes_path(course, chapter, student):
    """What the outside verdict's visible tests said about one submission, for its feedback (JSON).

    tools/grade.py writes it, tools/nbgrader_feedback.py reads it; it lives
    in the git-ignored .verdict/ folder, where a student's kernel cannot reach.
    """
    return Path(course) / ".verdict" / "feedback" / chapter / f"{student}.json"


# -- scanning ------------------------------------------------------------------------------
def strings_in(value):
    """Every string inside a JSON value (a notebook: cell sources, outputs, metadata, widget state)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def copy_course(folder, chapters=None):
    """Copy what nbgrader needs into ``folder``: nbgrader_config.py, tools/ and solutions/.

    Every chapter's source, or only those named in ``chapters``. The copy has no
    gradebook yet: the first nbgrader command run there creates its own.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "tools", folder / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    for chapter in chapters or chapter_names():
        shutil.copytree(SOLUTIONS / chapter, folder / "solutions" / chapter,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
