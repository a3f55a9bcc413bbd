"""Regenerate the student notebooks chapters/ from the nbgrader source solutions/.

    python tools/release.py                  every chapter, into chapters/ (what `make release` runs)
    python tools/release.py 00_getting_started   one chapter
    python tools/release.py --out DIR        into DIR/NN_name/ with a throw-away gradebook
                                             (the tests compare that with the committed chapters/)

Every folder solutions/NN_name/ is a chapter (an nbgrader assignment). The
script runs nbgrader's own `generate_assignment` with nbgrader_config.py, so
the result is exactly what `nbgrader generate_assignment NN_name --force`
gives: solutions replaced by the `raise NotImplementedError()` stub, hidden
tests removed, outputs and execution counts cleared, test cells locked. The
output is deterministic (cell ids come from the source, no timestamps).
Releasing into chapters/ also records the chapters in gradebook.db, as the
nbgrader command does; chapters without a source folder are removed.
"""
import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from nbgrader.converters import GenerateAssignment
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from course import ROOT, chapter_names  # tools/course.py


def nbgrader_config(release_directory, db_url=None):
    """The course's nbgrader_config.py, with the release going to ``release_directory``."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    config.CourseDirectory.release_directory = str(release_directory)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    return config


def release(chapters, release_directory, db_url=None):
    """Run nbgrader generate_assignment for each chapter into ``release_directory``."""
    # nbgrader runs `alembic` (installed next to this Python) when it opens a new gradebook.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    config = nbgrader_config(release_directory, db_url)
    for chapter in chapters:
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = chapter
        converter = GenerateAssignment(coursedir=coursedir, config=config)
        converter.force = True
        try:
            converter.start()
        except NbGraderException as error:
            sys.exit(f"release of {chapter} failed: {error}")


def remove_stale(release_directory, chapters):
    """Delete released chapters whose source folder no longer exists."""
    for folder in Path(release_directory).iterdir():
        if folder.is_dir() and folder.name not in chapters:
            print(f"removing {folder}: no solutions/{folder.name}/ any more")
            shutil.rmtree(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter folders under solutions/ (default: all)")
    parser.add_argument("--out", type=Path, help="release into this folder instead of chapters/")
    args = parser.parse_args(argv)
    chapters = args.chapters or chapter_names()
    if args.out is None:
        release(chapters, ROOT / "chapters")
        if not args.chapters:
            remove_stale(ROOT / "chapters", chapters)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            release(chapters, args.out.resolve(), db_url=f"sqlite:///{scratch}/gradebook.db")
    print(f"released {', '.join(chapters)} into {args.out or 'chapters/'}")


if __name__ == "__main__":
    main()
