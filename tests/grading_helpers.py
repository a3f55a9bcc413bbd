"""Simulated students for test_grading.py, built from each chapter's own structure.

Nothing here knows a chapter by name: every submission is derived from the
nbgrader source (solutions/NN_name/NN_name.ipynb) and the release
(chapters/NN_name/NN_name.ipynb), so a new chapter is graded by the test as
soon as it exists.

An *exercise* is a solution cell and the graded test cells that follow it
(up to the next solution cell); its points are theirs. A student starts from
the release and fills in solution cells:

- the full solution is the source cell with its `### BEGIN/END SOLUTION`
  lines removed (what a perfect student types in place of the stub);
- a "wrong answer" keeps that solution and then rebinds every function it
  defines (and every method of every class it defines) to a wrapper that
  returns ``result * 0 + 1.2345``: for a float array this is an array of the
  right shape and dtype with wrong values; anything else (a tuple, None)
  makes the wrapper raise, which is wrong too. It needs no knowledge of the
  exercise, and the test cell must catch it;
- the other ways to fail one exercise (an error, a syntax error, its test
  cells edited or deleted, an infinite loop in the function or at the top of
  the cell) are built the same way, see ``SCENARIOS``.

Each scenario costs its exercise's points and nothing else, so scenarios that
break different exercises can share one submission: scenario i breaks
exercise ``i % number_of_exercises``, and goes into the submission
``broken_{i // number_of_exercises + 1}``. A chapter with at least as many
exercises as scenarios is graded with one broken submission; chapter 00, with
two exercises, needs four. The infinite loops cost the per-cell time limit
wherever they are (the limit and the executor that interrupts them are the
course's, not a chapter's), so only the first chapter has them.
"""
import ast
import copy
import re
from dataclasses import dataclass, field

from course import ROOT, chapter_names, grade_id, is_grade, is_solution, max_score, points, read_notebook

CHAPTERS = chapter_names()

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CHECKS = ("check_function", "check_derivative", "check_layer_gradients")

# What a wrong answer returns instead of ``result``.
WRONG_RESULT = "result * 0 + 1.2345"

WRAPPERS = f'''
# --- simulated student: the results of the answer above are wrong ---
import functools as _functools
import linecache as _linecache
import sys as _sys


def _wrong(fn):
    """``fn``, returning a wrong value of the same shape and dtype."""
    @_functools.wraps(fn)
    def wrong(*args, **kwargs):
        result = fn(*args, **kwargs)
        return {WRONG_RESULT}
    return wrong


def _wrong_in_hidden_tests(fn):
    """``fn``, wrong only when called from below the hidden-tests mark of a test cell."""
    @_functools.wraps(fn)
    def wrong_when_hidden(*args, **kwargs):
        result = fn(*args, **kwargs)
        frame = _sys._getframe(1)
        while frame is not None and frame.f_code.co_name != "<module>":   # the cell that called
            frame = frame.f_back
        if frame is not None:
            lines = _linecache.getlines(frame.f_code.co_filename)
            mark = "### BEGIN " + "HIDDEN TESTS"   # split: nbgrader must not see a mark in this cell
            marks = [i + 1 for i, line in enumerate(lines) if mark in line]
            if marks and frame.f_lineno > marks[0]:
                return {WRONG_RESULT}
        return result
    return wrong_when_hidden
'''


# -- a chapter's structure (cells: see tools/course.py) --------------------------------------------
@dataclass
class Cheat:
    """A check in a test cell that forbids a dlcourse reference: ``student`` may not call ``reference``."""
    student: str           # the name the student defines, e.g. "sigmoid" or "Linear"
    reference: str         # the reference as the test cell writes it, e.g. "F.sigmoid"
    is_class: bool         # the check receives an instance of the student's class


@dataclass
class Exercise:
    solution_id: str                     # grade_id of the solution cell
    solution: str                        # the source cell's code, solution markers removed
    test_ids: list                       # grade_ids of the graded cells that follow it
    points: float                        # their points
    hidden: bool                         # a test cell has hidden tests
    cheats: list = field(default_factory=list)


def solution_code(source):
    """The source of a solution cell with its `### BEGIN/END SOLUTION` lines removed."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def defined_names(code):
    """Top-level functions and classes defined by ``code``: {name: "function" | "class"}."""
    kinds = {ast.FunctionDef: "function", ast.AsyncFunctionDef: "function", ast.ClassDef: "class"}
    return {node.name: kinds[type(node)] for node in ast.parse(code).body if type(node) in kinds}


def instances_made(tree):
    """{name: class name} for the cell's assignments ``name = SomeClass(...)``."""
    made = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
            made[node.targets[0].id] = node.value.func.id
    return made


def checks_called(test_source):
    """Every (student name, forbidden reference as written, is_class) of the checks a test cell calls.

    The student is a function passed by name (``check_function(sigmoid, F.sigmoid, ...)``), an
    instance made in the call (``check_layer_gradients(MyLinear(4, 3), ...)``) or an instance made
    earlier in the cell (``layer = MyLinear(4, 3)`` ... ``check_layer_gradients(layer, ...)``).
    """
    tree = ast.parse(test_source)
    instances = instances_made(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        if name not in CHECKS or not node.args:
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        if name == "check_function":
            reference = node.args[1] if len(node.args) > 1 else keywords.get("reference_fn")
        else:
            reference = keywords.get("reference")
        student = node.args[0]
        if reference is None:
            continue
        if isinstance(student, ast.Call) and isinstance(student.func, ast.Name):
            found.append((student.func.id, ast.unparse(reference), True))
        elif isinstance(student, ast.Name) and student.id in instances:
            found.append((instances[student.id], ast.unparse(reference), True))
        elif isinstance(student, ast.Name):
            found.append((student.id, ast.unparse(reference), False))
    return found


def is_guarded_reference(expression, namespace):
    """True if ``expression`` names a dlcourse reference the honesty guard can forbid."""
    from dlcourse.honesty import forbid
    try:
        obj = eval(expression, dict(namespace))
        with forbid(obj):
            pass
    except Exception:
        return False
    return True


def import_namespace(nb):
    """The names the notebook's import statements define (run here, in the test's Python)."""
    namespace = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(body=imports, type_ignores=[]), "<imports>", "exec"), namespace)
    return namespace


def with_functions_of(test_source, namespace):
    """``namespace`` plus the functions a test cell defines (a reference may be built by one of them)."""
    namespace = dict(namespace)
    functions = [node for node in ast.parse(test_source).body if isinstance(node, ast.FunctionDef)]
    exec(compile(ast.Module(body=functions, type_ignores=[]), "<test cell>", "exec"), namespace)
    return namespace


def exercises(source_nb, chapter):
    """The chapter's exercises, in notebook order.

    Their cheats: the references that the test cells' checks forbid by name
    (see checks_called), and the chapter module's namesake of each function
    or class the answer defines (``rnn_step`` -> ``dlcourse.rnns.rnn_step``
    for chapter 06_rnns): a chapter's own checks must refuse those.
    """
    found = []
    namespace = import_namespace(source_nb)
    module = f"dlcourse.{chapter.split('_', 1)[1]}"
    for cell in source_nb.cells:
        if is_solution(cell):
            found.append(Exercise(grade_id(cell), solution_code(cell.source), [], 0, False))
        elif is_grade(cell) and found:
            exercise = found[-1]
            exercise.test_ids.append(grade_id(cell))
            exercise.points += points(cell)
            exercise.hidden |= HIDDEN_BEGIN in cell.source
            names = defined_names(exercise.solution)
            cell_namespace = with_functions_of(cell.source, namespace)
            for student, reference, is_class in checks_called(cell.source):
                cheat = Cheat(student, reference, is_class)
                if student in names and is_guarded_reference(reference, cell_namespace) \
                        and cheat not in exercise.cheats:
                    exercise.cheats.append(cheat)
    for exercise in found:
        for name, kind in defined_names(exercise.solution).items():
            namesake = Cheat(name, f"{module}.{name}", kind == "class")
            if all(c.student != name for c in exercise.cheats) \
                    and is_guarded_reference(namesake.reference, namespace):
                exercise.cheats.append(namesake)
    return found


def hidden_lines(source_nb, release_nb):
    """Lines of the hidden tests found nowhere else: not in the release, not in a solution (stripped).

    A hidden line that stands inside a visible one (a prefix such as
    ``check_function(f, ref, [``) is no secret, so it does not count.
    """
    elsewhere = list(release_nb.cells) + [c for c in source_nb.cells if not is_grade(c)]
    released = "\n".join(line.strip() for cell in elsewhere for line in cell.source.splitlines())
    lines = []
    for cell in source_nb.cells:
        if HIDDEN_BEGIN not in cell.source:
            continue
        hidden = cell.source.split(HIDDEN_BEGIN, 1)[1].split(HIDDEN_END, 1)[0]
        for line in hidden.splitlines():
            line = line.strip()
            if len(line) >= 8 and line not in released:
                lines.append(line)
    return lines


# -- the ways an answer can go wrong ------------------------------------------------------------------
def wrong(code, wrapper="_wrong"):
    """``code`` followed by lines that rebind each function and method it defines to ``wrapper(...)``."""
    rebind = []
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            rebind.append(f"{node.name} = {wrapper}({node.name})")
        elif isinstance(node, ast.ClassDef):
            rebind += [f"{node.name}.{m.name} = {wrapper}({node.name}.{m.name})" for m in node.body
                       if isinstance(m, ast.FunctionDef) and not m.name.startswith("__")]
    if not rebind:
        raise ValueError(f"cannot simulate a wrong answer: this defines no function or method:\n{code}")
    return code + "\n" + WRAPPERS + "\n" + "\n".join(rebind) + "\n"


def loop_in_body(source):
    """The source solution cell with its (first) solution replaced by an infinite loop."""
    match = re.search(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", source, re.M | re.S)
    indent = match.group(1)
    looped = source[:match.start()] + f"{indent}while True:   # never returns\n{indent}    pass" + \
        source[match.end():]
    return solution_code(looped)


def cheat(code, cheats):
    """``code`` followed by definitions that hand every call to the dlcourse reference."""
    lines = [code, "", "# --- simulated student: calls the reference instead of writing it ---"]
    for c in cheats:
        if c.is_class:
            lines += [f"class {c.student}({c.reference}):", "    pass", ""]
        else:
            lines += [f"def {c.student}(*args, **kwargs):", f"    return {c.reference}(*args, **kwargs)", ""]
    return "\n".join(lines)


# -- students -----------------------------------------------------------------------------------------
# The ways to fail one exercise (see the module docstring); LOOPS only in the first chapter.
SCENARIOS = ["wrong", "raises", "syntax_error", "edits_test", "deletes_test"]
LOOPS = ["loop_in_answer", "loop_at_top"]


@dataclass
class Student:
    """One simulated submission of one chapter, the score it must get and the cells that may fail."""
    id: str
    what: str              # one line for messages
    notebook: object
    expected: float
    may_fail: set          # cell keys (see cell_key) whose error is expected
    broken: dict = field(default_factory=dict)   # scenario -> the exercise it breaks (broken_N students)


def cell_key(cell):
    """A cell's nbgrader grade_id, or its cell id."""
    return grade_id(cell) or cell.get("id")


def submission(release_nb, source_nb, answers=None, drop=(), tests=None):
    """The release with solution cells filled in.

    answers: grade_id -> code for the solution cells (default: the full solution of each);
    drop: grade_ids of cells the student deleted; tests: grade_id -> new source of a test cell.
    """
    answers = answers or {}
    tests = tests or {}
    solutions = {grade_id(c): solution_code(c.source) for c in source_nb.cells if is_solution(c)}
    nb = copy.deepcopy(release_nb)
    nb.cells = [c for c in nb.cells if grade_id(c) not in drop]
    for cell in nb.cells:
        if is_solution(cell):
            cell.source = answers.get(grade_id(cell), solutions[grade_id(cell)])
        elif grade_id(cell) in tests:
            cell.source = tests[grade_id(cell)]
    return nb


def scenarios(chapter):
    """The scenarios of ``chapter``, in order: SCENARIOS, and LOOPS in the first chapter only."""
    return SCENARIOS + (LOOPS if chapter == CHAPTERS[0] else [])


def broken_count(chapter, exercise_count):
    """How many broken_N submissions ``chapter``'s scenarios need: ceil(scenarios / exercises)."""
    return -(-len(scenarios(chapter)) // exercise_count)


def student_ids(chapter):
    """The ids of ``chapter``'s simulated students, in the order ``students`` returns them."""
    count = broken_count(chapter, len(exercises(read_notebook(ROOT / "solutions", chapter), chapter)))
    return ["full", "blank", *(f"broken_{k + 1}" for k in range(count)), "fails_hidden", "cheats"]


def all_student_ids():
    """Every student id of any chapter (the class list)."""
    ids = []
    for chapter in CHAPTERS:
        ids += [s for s in student_ids(chapter) if s not in ids]
    return ids


def break_exercise(scenario, e, source_cell):
    """What scenario does to exercise ``e``: (answer or None, test cell sources, dropped ids, cells that may
    fail, points lost). ``source_cell`` is the exercise's solution cell in the source notebook."""
    tests = set(e.test_ids)
    if scenario == "wrong":
        return wrong(e.solution), {}, (), tests, e.points
    if scenario == "raises":
        return 'raise RuntimeError("a bug")\n' + e.solution, {}, (), tests | {e.solution_id}, e.points
    if scenario == "syntax_error":
        return e.solution + "\nvalue = (1,\n", {}, (), tests | {e.solution_id}, e.points
    if scenario == "edits_test":       # a wrong answer, and its test cells replaced by `pass`
        return wrong(e.solution), {t: "pass" for t in e.test_ids}, (), tests, e.points
    if scenario == "deletes_test":     # the full solution (add_missing_cells in nbgrader_config.py: put back)
        return None, {}, tuple(e.test_ids), tests, 0
    if scenario == "loop_in_answer":
        return loop_in_body(source_cell.source), {}, (), tests, e.points
    if scenario == "loop_at_top":
        return "while True:\n    pass\n" + e.solution, {}, (), tests | {e.solution_id}, e.points
    raise ValueError(f"unknown scenario {scenario!r}")


WHAT = {"wrong": "a wrong answer", "raises": "an answer cell that raises", "syntax_error": "a syntax error",
        "edits_test": "a wrong answer with its test cells replaced by `pass`",
        "deletes_test": "the full solution with its test cells deleted",
        "loop_in_answer": "an infinite loop in the answer",
        "loop_at_top": "an infinite loop at the top of the answer cell"}


def students(chapter, source_dir=ROOT / "solutions", release_dir=ROOT / "chapters"):
    """The simulated students of ``chapter`` (in the order of ``student_ids``), with what they must get."""
    source_nb = read_notebook(source_dir, chapter)
    release_nb = read_notebook(release_dir, chapter)
    source_cells = {grade_id(c): c for c in source_nb.cells if is_solution(c)}
    all_exercises = exercises(source_nb, chapter)
    top = max_score(source_nb)
    all_tests = {t for e in all_exercises for t in e.test_ids}

    broken = []
    n = len(all_exercises)
    for k in range(broken_count(chapter, n)):
        answers, tests, drop, may_fail, lost, what = {}, {}, [], set(), 0, []
        breaks = {}
        for i, scenario in enumerate(scenarios(chapter)[k * n:(k + 1) * n]):
            e = all_exercises[i]
            answer, test_sources, dropped, fails, points_lost = break_exercise(
                scenario, e, source_cells[e.solution_id])
            if answer is not None:
                answers[e.solution_id] = answer
            tests.update(test_sources)
            drop += dropped
            may_fail |= fails
            lost += points_lost
            breaks[scenario] = e
            what.append(f"{WHAT[scenario]} ({e.solution_id})")
        nb = submission(release_nb, source_nb, answers, drop=drop, tests=tests)
        broken.append(Student(f"broken_{k + 1}", "; ".join(what), nb, top - lost, may_fail, breaks))

    hidden = [e for e in all_exercises if e.hidden][0]
    cheated = [e for e in all_exercises if e.cheats]
    cheating = {c.solution_id: cheat(c.solution, c.cheats) for c in cheated}
    result = [
        Student("full", "the full solution", submission(release_nb, source_nb), top, set()),
        Student("blank", "the release as it is", copy.deepcopy(release_nb), 0, all_tests),
        *broken,
        Student("fails_hidden", f"an answer that fails only the hidden tests ({hidden.solution_id})",
                submission(release_nb, source_nb,
                           {hidden.solution_id: wrong(hidden.solution, "_wrong_in_hidden_tests")}),
                top - hidden.points, set(hidden.test_ids)),
        Student("cheats", "answers that call the dlcourse reference",
                submission(release_nb, source_nb, cheating),
                top - sum(c.points for c in cheated), {t for c in cheated for t in c.test_ids}),
    ]
    assert [s.id for s in result] == student_ids(chapter)
    return result
