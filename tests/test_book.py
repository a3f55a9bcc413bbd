"""The website: every chapter on it, links that work, no solution and no hidden test in public.

The public and the instructor editions are built once per session into a
temporary folder with tools/build_book.py (every chapter under solutions/ is
executed once and shared by both editions). With `--chapter NN` (`make test
CHAPTER=NN`) the book holds that chapter alone.
"""
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

import build_book  # tools/build_book.py (pyproject.toml puts tools/ on sys.path)
from course import ROOT, chapter_names, chapter_number, strings_in

# The book shows every chapter: its tests belong to each of them (and to the course).
pytestmark = [pytest.mark.slow, pytest.mark.course,
              *(getattr(pytest.mark, f"chapter{chapter_number(c)}") for c in chapter_names())]
MARKERS = ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN"]


@pytest.fixture(scope="session")
def book_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("book")


@pytest.fixture(scope="session")
def chapters(chapter_option):
    """The chapters this run covers: every one, or the one --chapter selects."""
    return chapter_names(number=chapter_option)


@pytest.fixture(scope="session")
def public_html(book_dir, chapters):
    return build_book.build(chapters, book_dir)


@pytest.fixture(scope="session")
def instructor_html(book_dir, chapters, public_html):  # after the public build: reuses its executed notebooks
    return build_book.build(chapters, book_dir, instructor=True)


# --- reading the built site -------------------------------------------------------------------

class _Page(HTMLParser):
    """Collects a page's text (script contents included), its ids and its links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.ids, self.links, self.scripts = [], set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])

    def handle_data(self, data):
        self.text.append(data)


def parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def site_texts(html_dir):
    """(file, text) for every text file of the site: HTML as the reader sees it plus its scripts,
    notebooks and JSON as the strings they hold, everything else as it is."""
    for path in sorted(Path(html_dir).rglob("*")):
        if not path.is_file() or "_static" in path.parts:  # theme and vendored libraries
            continue
        if path.suffix in (".png", ".jpg", ".svg", ".woff", ".woff2", ".ttf", ".eot", ".inv", ".ico"):
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            yield path, "".join(parse(path).text) + "\n" + html.unescape(raw)
        elif path.suffix in (".ipynb", ".json"):
            yield path, "\n".join(strings_in(json.loads(raw)))
        else:
            yield path, raw


def block_lines(source, begin, end):
    """The lines strictly between ``### BEGIN ...`` and ``### END ...`` markers in ``source``."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line.strip())
    return lines


def released_text(chapters):
    """Everything the students receive: every cell of the chapters' release notebooks, joined."""
    return "\n".join(cell.source for chapter in chapters
                     for cell in nbformat.read(ROOT / "chapters" / chapter / f"{chapter}.ipynb",
                                               as_version=4).cells)


def hidden_lines(chapter, released):
    """Each solution's and each hidden test's own lines, stripped, except those ``released`` shows
    anyway (a `def` line, a hint quoting a line of the answer)."""
    solution = nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    secret = []
    for cell in solution.cells:
        secret += block_lines(cell.source, "BEGIN SOLUTION", "END SOLUTION")
        secret += block_lines(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
    # Lines without three letters or digits (")", "])") say nothing.
    return sorted({line for line in secret if line not in released and len(re.findall(r"\w", line)) >= 3})


# --- the tests --------------------------------------------------------------------------------

def test_every_chapter_has_a_page_linked_from_the_intro(public_html, chapters):
    intro_links = {urlsplit(link).path for link in parse(public_html / "intro.html").links}
    for chapter in chapters:
        assert (public_html / "chapters" / f"{chapter}.html").is_file(), chapter
        assert f"chapters/{chapter}.html" in intro_links, f"{chapter} is not in the table of contents"
    assert (public_html / "notation.html").is_file()
    assert (public_html / "index.html").is_file()


def test_the_references_page_lists_every_work_of_the_bibliography(public_html):
    page = public_html / "references.html"
    assert page.is_file(), "jupyter_book/references.md is not in the table of contents"
    text = re.sub(r"\s+", " ", " ".join(parse(page).text)).lower()   # the style sentence-cases titles
    for title in ["Understanding the Difficulty of Training Deep Feedforward Neural Networks",
                  "Delving Deep into Rectifiers", "Maxout Networks", "Multilayer Perceptrons",
                  "Convolutional Neural Networks for Visual Recognition"]:
        assert title.lower() in text, f"{title!r} is missing from the references page"


def test_internal_links_resolve(public_html):
    pages = {path: parse(path) for path in public_html.rglob("*.html") if "_static" not in path.parts}
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(public_html)}: {link}")
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{path.relative_to(public_html)}: {link} (no such anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_public_pages_show_the_exercises_as_stubs(public_html, chapters):
    for chapter in chapters:
        text = "".join(parse(public_html / "chapters" / f"{chapter}.html").text)
        assert "# YOUR CODE HERE" in text and "raise NotImplementedError()" in text, chapter


def test_public_site_has_no_solution_and_no_hidden_test(public_html, chapters):
    released = released_text(chapters)
    secret = {chapter: hidden_lines(chapter, released) for chapter in chapters}
    assert any(secret.values()), "no solution lines found to look for"
    leaks = []
    for path, text in site_texts(public_html):
        leaks += [f"{path.name}: marker {marker!r}" for marker in MARKERS if marker in text]
        leaks += [f"{path.name}: {chapter} line {line!r}"
                  for chapter, lines in secret.items() for line in lines if line in text]
    assert not leaks, "the public site shows hidden material:\n" + "\n".join(leaks)


def test_instructor_edition_shows_solutions_and_hidden_tests(instructor_html, chapters):
    text = "\n".join(text for _, text in site_texts(instructor_html))
    released = released_text(chapters)
    for chapter in chapters:
        missing = [line for line in hidden_lines(chapter, released) if line not in text]
        assert not missing, f"{chapter}: the instructor edition lacks {missing[:3]}"
    assert "BEGIN SOLUTION" in text and "BEGIN HIDDEN TESTS" in text


def test_mathjax_and_widget_manager_are_served_by_the_site(public_html, chapters):
    for chapter in chapters:
        page_path = public_html / "chapters" / f"{chapter}.html"
        page = parse(page_path)
        remote = [src for src in page.scripts if urlsplit(src).scheme or src.startswith("//")]
        assert not remote, f"{chapter} loads scripts from the internet: {remote}"
        local = {urlsplit(src).path for src in page.scripts}
        assert "../_static/mathjax/tex-mml-chtml.js" in local, chapter
        assert "../_static/widgets/embed.js" in local, chapter
        for src in local:
            assert (page_path.parent / src).is_file(), src


def test_chapter_pages_carry_outputs_and_widget_state(public_html, chapters):
    for chapter in chapters:
        raw = (public_html / "chapters" / f"{chapter}.html").read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget-state+json" in raw, f"{chapter}: no widget state"
        assert "application/vnd.jupyter.widget-view+json" in raw, f"{chapter}: no widget"
        assert "<img" in raw or '"image/png"' in raw, f"{chapter}: no figure"
