"""Grading throughput: submissions per minute with `make grade` against plain `nbgrader autograde`.

    python benchmarks/grading_throughput.py                       every chapter, 4 submissions each
    python benchmarks/grading_throughput.py --chapter 03 --students 6

For each chapter, a scratch copy of the course gets ``--students`` copies of
the solution notebook and is graded four ways, each into a fresh gradebook:

    nbgrader, no sandbox     plain `nbgrader autograde CHAPTER`, one submission after the other, with the
                             kernel started as nbgrader does by default (TCP, no bubblewrap): the baseline
    nbgrader, sandbox        the same command with the course's configuration (tools/sandbox.py)
    make grade, no verdict   tools/grade.py --no-verdict with --workers (default: one per core), sandboxed
    make grade               tools/grade.py with the outside verdict (tools/verdict.py): its plan once,
                             then two passes per submission (the points; the feedback's visible tests)

and the script prints the submissions per minute of each, the seconds the
sandbox adds per submission, the seconds the verdict adds per submission
(its wall time on --workers workers, divided by the submissions: the plan
included) and the speed-up of make grade over nbgrader autograde.
Measure on an idle machine: other processes on the two cores change every figure.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from course import chapter_names, copy_course, find_chapter  # noqa: E402  (tools/course.py)

UNSANDBOXED = ["--Execute.kernel_name=python3", "--KernelManager.transport=tcp",
               "--KernelManager.ip=127.0.0.1"]


def scratch_course(chapter, students, folder):
    """A copy of the course in ``folder``, chapter released, ``students`` solution notebooks handed in."""
    copy_course(folder, [chapter])
    subprocess.run([sys.executable, "tools/release.py", chapter], cwd=folder, check=True, capture_output=True)
    for n in range(students):
        target = folder / "submitted" / f"s{n:03d}" / chapter
        target.mkdir(parents=True)
        shutil.copy(folder / "solutions" / chapter / f"{chapter}.ipynb", target)


def timed(command, cwd):
    """Seconds ``command`` takes in ``cwd``; stops the script when it fails."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    start = time.monotonic()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return time.monotonic() - start


def measure(chapter, students, workers):
    """{way: seconds} for grading ``students`` submissions of ``chapter`` each way."""
    nbgrader = os.path.join(os.path.dirname(sys.executable), "nbgrader")
    ways = {"nbgrader, no sandbox": [nbgrader, "autograde", chapter, *UNSANDBOXED],
            "nbgrader, sandbox": [nbgrader, "autograde", chapter],
            "make grade, no verdict": [sys.executable, "tools/grade.py", chapter, "--workers", str(workers),
                                       "--no-verdict"],
            "make grade": [sys.executable, "tools/grade.py", chapter, "--workers", str(workers)]}
    seconds = {}
    for way, command in ways.items():
        with tempfile.TemporaryDirectory(prefix="dlcourse-throughput-") as folder:
            scratch_course(chapter, students, Path(folder))
            seconds[way] = timed(command, folder)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", action="append", help="a chapter (name or number); repeatable")
    parser.add_argument("--students", type=int, default=4, help="submissions per chapter (default 4)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    chapters = [find_chapter(c) for c in args.chapter] if args.chapter else chapter_names()

    print(f"{args.students} submissions per chapter, make grade with {args.workers} workers")
    print(f"{'chapter':22} {'way':22} {'seconds':>8} {'per minute':>11}")
    for chapter in chapters:
        seconds = measure(chapter, args.students, args.workers)
        for way, s in seconds.items():
            print(f"{chapter:22} {way:22} {s:8.1f} {60 * args.students / s:11.1f}")
        cost = (seconds["nbgrader, sandbox"] - seconds["nbgrader, no sandbox"]) / args.students
        verdict = (seconds["make grade"] - seconds["make grade, no verdict"]) / args.students
        speedup = seconds["nbgrader, no sandbox"] / seconds["make grade"]
        print(f"{chapter:22} sandbox cost {cost:+.1f} s per submission; verdict cost {verdict:+.1f} s per "
              f"submission on {args.workers} workers; make grade {speedup:.2f}x the speed of plain nbgrader")


if __name__ == "__main__":
    main()
