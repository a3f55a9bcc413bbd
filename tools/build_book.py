"""Build the course website (Jupyter Book 1.x) from the chapter notebooks.

    python tools/build_book.py                   public edition -> jupyter_book/_build/public/html/
    python tools/build_book.py --instructor      instructor edition -> jupyter_book/_build/instructor/html/
    python tools/build_book.py 00_getting_started --out DIR    one chapter, everything under DIR

What it does, in order:

1. Execute each chapter from its *solution* notebook solutions/NN_name/NN_name.ipynb
   (nbclient, widget state stored in ``metadata.widgets``), so every figure and
   every widget's default view on the site is real. Executed notebooks are
   cached in OUT/executed/ and reused while neither the chapter folder nor the
   dlcourse package has changed.
2. Public edition: put the exercises back as the student sees them. Each
   solution cell gets the stub source of the release chapters/NN_name (matched
   by nbgrader grade_id) and no output; each graded test cell gets the release
   source (hidden tests removed) and no output either, since its result would
   be the result of the hidden solution. Every other cell keeps its outputs.
   The instructor edition keeps the solution notebook as executed.
3. Fetch MathJax 3 and @jupyter-widgets/html-manager with `npm pack` into
   jupyter_book/_vendor/ (git-ignored, fetched once), so that the pages load
   them from the site itself and work without internet.
4. Stage jupyter_book/ with the notebooks in chapters/ (the _toc.yml globs
   them, so every chapter appears) and run `jupyter-book build -W -n
   --keep-going` with notebook execution off.
"""
import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient

from course import ROOT, chapter_names, grade_id, is_grade, is_solution  # tools/course.py

BOOK = ROOT / "jupyter_book"
VENDOR = BOOK / "_vendor"
NPM_PACKAGES = {
    # npm spec: (folder inside the package, folder under _vendor/, a file that must be there)
    "mathjax@3": ("package/es5", "mathjax", "tex-mml-chtml.js"),
    "@jupyter-widgets/html-manager@1.0.6": ("package/dist", "widgets", "embed.js"),
}
CELL_TIMEOUT = 600  # seconds per cell; a chapter is meant to run in about a minute in all


# --- 1. execute -------------------------------------------------------------------------------

def source_hash(chapter):
    """A digest of everything the executed notebook depends on: its chapter folder and dlcourse/."""
    digest = hashlib.sha256()
    files = sorted((ROOT / "solutions" / chapter).rglob("*")) + sorted((ROOT / "dlcourse").rglob("*.py"))
    for path in files:
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def execute_chapter(chapter, cache):
    """The solution notebook of ``chapter``, executed, from ``cache`` when still valid."""
    cached = cache / f"{chapter}.ipynb"
    key = source_hash(chapter)
    if cached.is_file():
        nb = nbformat.read(cached, as_version=4)
        if nb.metadata.get("dlcourse_book", {}).get("source_hash") == key:
            print(f"{chapter}: executed notebook cached in {cached}")
            return nb
    workdir = cache / chapter  # a copy of the chapter folder: files the notebook writes stay there
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(ROOT / "solutions" / chapter, workdir)
    nb = nbformat.read(workdir / f"{chapter}.ipynb", as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    print(f"{chapter}: executed in {time.perf_counter() - start:.1f} s")
    nb.metadata["dlcourse_book"] = {"source_hash": key}
    nbformat.write(nb, cached)
    return nb


# --- 2. the public edition --------------------------------------------------------------------

def public_edition(executed, release):
    """``executed`` with every nbgrader cell as in ``release``: stubs, no hidden tests, no outputs.

    Inputs: the executed solution notebook and the release notebook of the same chapter.
    Returns a new notebook; ``executed`` is left as it was.
    """
    released = {grade_id(cell): cell for cell in release.cells if grade_id(cell)}
    nb = nbformat.from_dict(executed)
    for cell in nb.cells:
        if not (is_solution(cell) or is_grade(cell)):
            continue
        if grade_id(cell) not in released:
            raise SystemExit(f"cell {grade_id(cell)!r} is not in the release: run `make release` first")
        cell.source = released[grade_id(cell)].source
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def edition_notebook(chapter, executed, instructor):
    """The notebook shown on the site for ``chapter``."""
    if instructor:
        return executed
    release_path = ROOT / "chapters" / chapter / f"{chapter}.ipynb"
    if not release_path.is_file():
        raise SystemExit(f"{release_path.relative_to(ROOT)} is missing: run `make release` first")
    return public_edition(executed, nbformat.read(release_path, as_version=4))


# --- 3. MathJax and the widget manager, served by the site ------------------------------------

def fetch_vendor(vendor=VENDOR):
    """Fill ``vendor`` from the npm registry (`npm pack`), unless it is already there."""
    for spec, (inside, folder, marker) in NPM_PACKAGES.items():
        target = vendor / folder
        if (target / marker).is_file():
            continue
        if shutil.which("npm") is None:
            raise SystemExit("npm is needed to fetch MathJax and the widget manager: apt-get install npm")
        print(f"fetching {spec} with npm pack into {target}")
        vendor.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=vendor) as scratch:
            subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", scratch],
                           check=True, stdout=subprocess.DEVNULL)
            (archive,) = Path(scratch).glob("*.tgz")
            with tarfile.open(archive) as tar:
                tar.extractall(scratch, filter="data")
            # Source maps and the AMD builds are not used by the pages.
            shutil.copytree(Path(scratch) / inside, Path(scratch) / folder,
                            ignore=shutil.ignore_patterns("*.map", "*-amd.js"))
            shutil.rmtree(target, ignore_errors=True)
            try:  # a rename is atomic: two builds running at once cannot leave half a folder
                (Path(scratch) / folder).rename(target)
            except OSError:
                if not (target / marker).is_file():
                    raise


# --- 4. stage and build -----------------------------------------------------------------------

def stage(notebooks, src, instructor):
    """Copy jupyter_book/ into ``src`` with the notebooks in chapters/; return ``src``."""
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(BOOK, src, ignore=shutil.ignore_patterns("_build", "_vendor", "chapters"))
    (src / "_vendor").symlink_to(VENDOR, target_is_directory=True)
    (src / "chapters").mkdir()
    for chapter, nb in notebooks.items():
        nbformat.write(nb, src / "chapters" / f"{chapter}.ipynb")
    if instructor:
        config = yaml.safe_load((src / "_config.yml").read_text())
        config["title"] += " (instructor edition, with solutions)"
        (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return src


def jupyter_book_build(src, out):
    """Run a strict `jupyter-book build`; the HTML lands in ``out``/html."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(src), "--path-output", str(out / "sphinx"),
               "-W", "-n", "--keep-going", "--all", "-q"]
    # Its own messages point into the staging folder: show them only when the build fails.
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
        raise SystemExit(f"jupyter-book build failed (exit {result.returncode}): {' '.join(command)}")
    html = out / "html"
    shutil.rmtree(html, ignore_errors=True)
    (out / "sphinx" / "_build" / "html").rename(html)
    return html


def build(chapters, out, instructor=False):
    """Build one edition of the book for ``chapters`` under ``out``; return the HTML folder."""
    out = Path(out).resolve()
    edition = out / ("instructor" if instructor else "public")
    start = time.perf_counter()
    (out / "executed").mkdir(parents=True, exist_ok=True)
    notebooks = {}
    for chapter in chapters:
        executed = execute_chapter(chapter, out / "executed")
        notebooks[chapter] = edition_notebook(chapter, executed, instructor)
    executed_at = time.perf_counter()
    fetch_vendor()
    src = stage(notebooks, edition / "src", instructor)
    html = jupyter_book_build(src, edition)
    end = time.perf_counter()
    print(f"built the {edition.name} edition in {end - start:.1f} s "
          f"(executing {executed_at - start:.1f} s, Jupyter Book {end - executed_at:.1f} s): "
          f"open {html / 'index.html'}")
    return html


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter folders under solutions/ (default: all)")
    parser.add_argument("--instructor", action="store_true",
                        help="the instructor edition: solutions and hidden tests shown")
    parser.add_argument("--out", type=Path, default=BOOK / "_build",
                        help="build folder (default: jupyter_book/_build)")
    args = parser.parse_args(argv)
    build(args.chapters or chapter_names(), args.out, args.instructor)


if __name__ == "__main__":
    main()
