"""nbgrader configuration of the dlcourse course (nbgrader 0.9).

    solutions/NN_name/NN_name.ipynb   the nbgrader *source*: solutions and hidden tests
    chapters/NN_name/NN_name.ipynb    the *release* students get: `python tools/release.py`

Instructors use nbgrader's own commands from this folder (generate_assignment,
collect, autograde, generate_feedback, export, formgrader). The gradebook is
gradebook.db here (git-ignored).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "tools"))

import sandbox  # noqa: E402  (tools/sandbox.py)
from nbgrader_execute import KeepGrading  # noqa: E402  (tools/nbgrader_execute.py)
from nbgrader_feedback import HideHiddenTestErrors  # noqa: E402  (tools/nbgrader_feedback.py)

c = get_config()  # noqa: F821  (provided by nbgrader when it reads this file)

c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "chapters"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

# Each cell may run this long when nbgrader executes a notebook (validate, autograde). The slowest
# cell of any chapter takes 3.4 s under autograde on a 2-core machine; 20 s leaves room for slower
# machines and slower (but correct) answers, and a submission stuck in an infinite loop costs 20 s.
c.Execute.timeout = 20

# Every notebook nbgrader executes (autograde, validate) runs in the sandbox of tools/sandbox.py:
# user nobody, no network, read-only access to the package and the notebook's own folder only,
# its own PID namespace, memory/CPU/process limits. Its kernel has no network, so nbgrader talks
# to it over Unix sockets (ZeroMQ's ipc transport) in a folder of this process.
os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [sandbox.kernelspec_path(),
                                                           os.environ.get("JUPYTER_PATH")]))
c.Execute.kernel_name = sandbox.KERNEL_NAME
c.KernelManager.transport = "ipc"
c.KernelManager.ip = sandbox.socket_prefix()

# A kernel that dies in a cell (os._exit, a signal, the memory limit) or stays busy after the time
# limit costs that cell only: KeepGrading restarts it, runs the cells before again and goes on.
# nbgrader's default would stop, and the submission would lose every point.
c.Autograde.autograde_preprocessors = [
    KeepGrading,
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# A student who deletes a graded test cell is still graded by it: autograde puts the cell back
# (from the gradebook, hidden tests included) and runs it. nbgrader's default would score it 0, silently.
c.OverwriteCells.add_missing_cells = True

# Feedback shows neither the hidden tests nor what they print: in a cell with hidden tests,
# HideHiddenTestErrors drops everything the kernel wrote and shows what the visible tests said in
# the outside verdict's pass without hidden tests (tools/grade.py keeps it in .verdict/feedback/).
# It must run while the hidden region is still there; then ClearHiddenTests removes that region.
c.HideHiddenTestErrors.course_root = HERE
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    HideHiddenTestErrors,
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
