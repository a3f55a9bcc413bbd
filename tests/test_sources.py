"""Student-facing text names its sources as a reader can follow them, and every citation resolves.

Internal labels of the course's source documents ("seed 001", "the seed's advice",
"our source notes", their file names such as 001_3cb5d4dfca498e44) mean nothing to a
reader: the text cites by author, title and year (STYLE.md, "Citing sources"). Checked
in the markdown and the code comments of every notebook in solutions/ and chapters/,
in jupyter_book/*.md and in README.md. Every {cite:p}/{cite:t} key used there must be
an entry of jupyter_book/references.bib.
"""
import io
import re
import tokenize

import nbformat
import pytest

from course import ROOT, chapter_names  # tools/course.py

BIB = ROOT / "jupyter_book" / "references.bib"
PAGES = sorted((ROOT / "jupyter_book").glob("*.md")) + [ROOT / "README.md"]

# Each pattern with what it catches; "Seed" with a capital is caught as a word (a sentence never starts with
# the random seed in this course's text), lower-case "seed" only next to a document number.
INTERNAL_LABELS = [
    (re.compile(r"\bseeds?\s+0\d\d\b", re.IGNORECASE), "a source document's number"),
    (re.compile(r"\bseed['\u2019]s\b", re.IGNORECASE), "\"the seed's\""),
    (re.compile(r"\bSeeds?\b"), "\"Seed\""),
    (re.compile(r"\bthe seeds?\s+(?:writes?|says?|gives?|uses?|calls?|notes?|shows?|has|have|puts?)\b",
                re.IGNORECASE), "\"the seed\" as a document"),
    (re.compile(r"\b(?:our|the)\s+source\s+notes\b", re.IGNORECASE), "\"our / the source notes\""),
    (re.compile(r"\b0\d\d_[0-9a-f]{16}\b"), "a source document's file name"),
]
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")


def internal_labels(text):
    """The (match, what) pairs of internal labels in ``text``."""
    return [(m.group(0), what) for pattern, what in INTERNAL_LABELS for m in pattern.finditer(text)]


def code_comments(source):
    """The comments of a code cell's source (Python comments only; IPython magics are skipped)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return "\n".join(line.split("#", 1)[1] for line in lines if "#" in line)
    return "\n".join(tok.string for tok in tokens if tok.type == tokenize.COMMENT)


def student_text(notebook):
    """(cell id, text) for every markdown cell and the comments of every code cell."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            yield cell.get("id"), cell.source
        elif cell.cell_type == "code":
            yield cell.get("id"), code_comments(cell.source)


def notebook_files(chapter):
    """The solution notebook and, when released, the student notebook of ``chapter``."""
    paths = [ROOT / folder / chapter / f"{chapter}.ipynb" for folder in ("solutions", "chapters")]
    return [path for path in paths if path.is_file()]


def bib_keys():
    return set(re.findall(r"^@\w+\{\s*([^,\s]+)\s*,", BIB.read_text(), flags=re.MULTILINE))


def cite_keys(text):
    return [key.strip() for keys in CITE.findall(text) for key in keys.split(",") if key.strip()]


@pytest.mark.parametrize("chapter", chapter_names())
def test_notebooks_use_no_internal_labels(chapter):
    found = []
    for path in notebook_files(chapter):
        for cell_id, text in student_text(nbformat.read(path, as_version=4)):
            found += [f"{path.relative_to(ROOT)} cell {cell_id}: {match!r} ({what})"
                      for match, what in internal_labels(text)]
    assert not found, ("internal source labels in student-facing text (cite by author and year):\n"
                       + "\n".join(found))


@pytest.mark.parametrize("chapter", chapter_names())
def test_notebook_citations_exist(chapter):
    keys = bib_keys()
    missing = [f"{path.relative_to(ROOT)} cell {cell_id}: {key}"
               for path in notebook_files(chapter)
               for cell_id, text in student_text(nbformat.read(path, as_version=4))
               for key in cite_keys(text) if key not in keys]
    assert not missing, "cited keys missing from jupyter_book/references.bib:\n" + "\n".join(missing)


@pytest.mark.course
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_use_no_internal_labels_and_cite_existing_keys(page):
    text = page.read_text()
    assert not internal_labels(text), f"{page.name}: internal source labels {internal_labels(text)}"
    missing = [key for key in cite_keys(text) if key not in bib_keys()]
    assert not missing, f"{page.name}: keys missing from references.bib: {missing}"


@pytest.mark.course
def test_bibliography_has_the_cited_works():
    assert {"rosenblatt1958", "novikoff1962", "glorot2010", "he2015", "goodfellow2013maxout", "clevert2015",
            "robbins1951", "krizhevsky2012", "karpathy_cs231n", "ioffe2015", "kingma2015", "loshchilov2019",
            "slugnet", "dlfundamentals_blog", "bahng2023"} <= bib_keys()


@pytest.mark.course
@pytest.mark.parametrize("text", [
    "Some texts (seed 001, for one) store examples as *columns*",          # the old chapter 01, cell 2
    "(Seed 002's figure captions this map $\\|x\\|$;",                      # chapter 01, cell 33
    "Seed 000's Figure 1 is a network with 3 inputs",                      # chapter 01, cell 45
    "(The seed writes $a = \\phi(W^\\top x + b)$",                          # chapter 01, cell 45
    "This is the seed's advice \"use ReLU and be careful\", measured.",      # chapter 02, cell 33
    "The usual advice, as our source notes give it:",                      # chapter 02, cell 49
    "as the source notes say",
    "see 001_3cb5d4dfca498e44.txt",
])
def test_the_old_labels_are_caught(text):
    assert internal_labels(text)


@pytest.mark.course
@pytest.mark.parametrize("text", [
    "dlcourse.manual_seed(0)  # the package's generator",
    "The same ReLU network (matched initialisation, seed 0), trained at four learning rates",
    "mean ± std over 3 seeds, from seed to seed",
    "Glorot and Bengio (2010); Karpathy's CS231n notes; Bahng, *Multilayer Perceptrons* (2023)",
])
def test_ordinary_uses_of_seed_pass(text):
    assert not internal_labels(text)


@pytest.mark.course
def test_code_comments_are_read():
    assert "seed 002" in code_comments("x = 1  # after seed 002\ny = '# not a comment'\n")
    assert "not a comment" not in code_comments("x = 1  # after seed 002\ny = '# not a comment'\n")
