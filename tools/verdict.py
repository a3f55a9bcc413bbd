"""The outside verdict: a submission's graded cells, checked where the submission cannot reach.

    python tools/verdict.py SOURCE.ipynb SUBMISSION.ipynb --out verdict.json [--plan plan.json]
                            [--feedback feedback.json]

nbgrader runs the whole submission in one kernel: the test cells' checks run
in the student's process, and code that ran before them can undo them (an
input transformer, a replaced ``checks.check_function``). The verdict is
computed again, in two processes:

* this one, the grader's, runs the *source* notebook's given cells and test
  cells (hidden tests included) with the real dlcourse, so the expected
  values and the comparisons are the instructor's own;
* the student's answers run in workers (tools/verdict_worker.py) inside the
  sandbox of tools/sandbox.py, one per exercise. Every name an answer cell
  defines is a RemoteObject here: calling it sends the arguments to the
  worker and brings back only data (numbers, arrays, dlcourse layers and
  optimizers rebuilt from their state) or a handle to an object that stays
  there. The worker of an exercise imports a copy of dlcourse in which the
  references that exercise's checks forbid are removed (their bodies raise),
  and torch, torchvision, scipy and scikit-learn are not importable.

The plan (``plan()``, once per chapter, on the solution itself) says which
references each exercise forbids and which test cells the verdict can
check: a cell the solution does not pass here is left to nbgrader's score.
The result, per graded cell: {"points", "max_points", "passed", "message", ...}.

With --feedback, it also writes what the student's feedback may say
(tools/nbgrader_feedback.py): for a cell that passed, only that; for the
failed ones, what their visible tests printed and raised in a second pass
without the hidden tests, in fresh workers, which cannot hold anything a
hidden test computed or passed in.
"""
import argparse
import ast
import contextlib
import importlib
import io
import json
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import nbformat
import numpy as np

import sandbox  # tools/sandbox.py
import verdict_worker as wire  # tools/verdict_worker.py
from course import grade_id, has_hidden_tests, is_grade, is_solution, points, visible_tests

CELL_SECONDS = 60           # a test cell's time here (nbgrader's limit is 20 s; calls cross a pipe)
SETUP_SECONDS = 120         # a worker's start: imports and the answer cells before its exercise
HIDDEN_LIBRARIES = ("torch", "torchvision", "scipy", "sklearn")
SHOWN_CHARS = 5000          # of what a test cell prints, kept for the feedback


# -- the dlcourse a worker sees --------------------------------------------------------------
def strip_references(package, names, dest):
    """A copy of ``package`` at ``dest`` whose @reference functions named in ``names`` raise instead.

    ``names`` are reference names as dlcourse.honesty keeps them: "sigmoid", "Linear.forward".
    """
    shutil.copytree(package, dest, ignore=shutil.ignore_patterns("__pycache__"))
    # what a file must contain to hold one of them: "def sigmoid(", or "class Linear" for Linear.forward
    marks = {f"class {name.split('.')[0]}" if "." in name else f"def {name}(" for name in names}
    for path in Path(dest).rglob("*.py"):
        text = path.read_text()
        if not any(mark in text for mark in marks):      # nothing to strip: not parsed
            continue
        tree = ast.parse(text)
        if _strip(tree, set(names)):
            path.write_text(ast.unparse(ast.fix_missing_locations(tree)) + "\n")
    return dest


def _strip(tree, names, prefix=""):
    """Replace the bodies of the matching @reference functions in ``tree``; True if one was."""
    changed = False
    for node in getattr(tree, "body", []):
        if isinstance(node, ast.ClassDef):
            changed |= _strip(node, names, f"{prefix}{node.name}.")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and f"{prefix}{node.name}" in names \
                and any(ast.unparse(d).endswith("reference") for d in node.decorator_list):
            message = f"dlcourse's {prefix}{node.name} is not available while this exercise is graded"
            node.body = [ast.Raise(exc=ast.Call(func=ast.Name("RuntimeError", ast.Load()),
                                                args=[ast.Constant(message)], keywords=[]), cause=None)]
            changed = True
    return changed


def library_stubs(folder):
    """(stub, target) pairs that bind a package raising ImportError over each hidden library."""
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    pairs = []
    for name in HIDDEN_LIBRARIES:
        if (site / name).is_dir():
            stub = Path(folder) / "stubs" / name
            stub.mkdir(parents=True)
            (stub / "__init__.py").write_text(
                f"raise ImportError('{name} is not available while your answers are graded')\n")
            pairs.append((str(stub), str(site / name)))
    return pairs


# -- a worker, seen from here ------------------------------------------------------------------
class WorkerError(RuntimeError):
    """The worker died, or took longer than its time."""


class Worker:
    """One sandboxed worker process and the pipe to it."""

    def __init__(self, cells, forbidden, scratch):
        self.cells, self.forbidden, self.scratch = cells, sorted(forbidden), Path(scratch)
        self.process = None
        self.failed = None                # why the worker ended: it is not started again
        self.callbacks = {}
        self.deadline = None
        self.seen_forbidden = set()       # what the grader forbade during calls (the plan records it)

    def start(self):
        folder = Path(tempfile.mkdtemp(prefix="worker-", dir=self.scratch))
        package = Path(importlib.util.find_spec("dlcourse").submodule_search_locations[0]).resolve()
        stripped = strip_references(package, self.forbidden, folder / "dlcourse")
        script = Path(wire.__file__).resolve()
        overlays = [(str(stripped), str(package)), (str(script), "/opt/dlcourse/verdict_worker.py")]
        overlays += library_stubs(folder)
        readonly = sandbox.python_paths() + [str(package)]
        if (package.parent / "pyproject.toml").is_file():
            readonly.append(str(package.parent / "pyproject.toml"))
        python = os.path.abspath(sys.executable)          # the venv's, not the interpreter it links to
        command = sandbox.bwrap_command([python, "/opt/dlcourse/verdict_worker.py"], "/tmp",
                                        readonly=readonly, overlays=overlays)
        self.stderr = open(folder / "stderr.txt", "wb")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.stderr, preexec_fn=sandbox.set_limits)
        self.deadline = time.monotonic() + SETUP_SECONDS
        for source in self.cells:
            with contextlib.suppress(Exception):     # an answer that fails to run fails its checks later
                self.request({"op": "exec", "source": source})
        self.deadline = time.monotonic() + CELL_SECONDS

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def request(self, message):
        """Send one request; return the decoded answer (raising the student's error as one of ours)."""
        if self.failed:
            raise WorkerError(self.failed)
        if self.process is None:
            self.start()
        from dlcourse import honesty
        from dlcourse import random as package_random

        message["forbidden"] = sorted(set(message.get("forbidden", ())) | honesty._forbidden)
        # one package generator, as in one process: its state goes there and comes back with the answer
        message["rng"] = package_random.generator().bit_generator.state
        self.seen_forbidden.update(message["forbidden"])
        self._send(self._pickle(message))
        while True:
            tree, blobs = wire.unpack(self._receive())
            if isinstance(tree, dict) and "dict" in tree and any(k == "callback" for k, _ in tree["dict"]):
                self._answer_callback(decode(tree, blobs, self))
                continue
            answer = decode(tree, blobs, self)
            with contextlib.suppress(Exception):     # a state that is not PCG64's is ignored
                package_random.generator().bit_generator.state = answer["rng"]
            if "error" in answer:
                raise remote_error(answer)
            return answer

    def _answer_callback(self, request):
        try:
            result = {"result": self.callbacks[request["callback"]](*request["args"], **request["kwargs"])}
        except Exception as error:
            result = {"error": f"{type(error).__name__}: {error}"}
        self._send(self._pickle(result))

    def _pickle(self, message):
        stream = io.BytesIO()
        pickler = pickle.Pickler(stream)
        pickler.persistent_id = self._persistent_id
        pickler.dump(message)
        return stream.getvalue()

    def _persistent_id(self, obj):
        if isinstance(obj, RemoteObject):
            if obj._worker is not self:
                raise WorkerError("an object of one exercise's worker was passed to another's")
            return ("handle", obj._target["handle"])
        # a test cell's own functions (its lambdas) and dlcourse's: the student's code calls them here
        if isinstance(obj, (types.FunctionType, types.MethodType)) \
                and (getattr(obj, "__module__", None) or "__main__").startswith(("__main__", "dlcourse")):
            self.callbacks[id(obj)] = obj
            return ("callback", id(obj))
        return None

    def _send(self, payload):
        try:
            wire.send(self.process.stdin, payload)
        except (BrokenPipeError, OSError):
            self._fail("the worker ended")

    def _receive(self):
        out = self.process.stdout
        head = self._read(out, 8)
        return self._read(out, int.from_bytes(head, "little"))

    def _read(self, stream, size):
        chunks, left = [], size
        while left:
            remaining = self.deadline - time.monotonic() if self.deadline else None
            if remaining is not None and remaining <= 0:
                self._fail("the worker took longer than the time limit")
            ready, _, _ = select.select([stream], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(stream.fileno(), min(left, 1 << 20))
            if not chunk:
                self._fail("the worker died (os._exit, a signal or the memory limit)")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _fail(self, why):
        self.failed = why
        self.close()
        raise WorkerError(why)


def remote_error(answer):
    """The worker's exception, raised here: our check errors, the builtin of that name, or WorkerError."""
    from dlcourse import checks

    kind, message = answer["error"], answer["message"]
    known = {"NotAttempted": checks.NotAttempted, "CheckFailed": checks.CheckFailed}
    builtin = getattr(__import__("builtins"), kind, None)
    if kind in known:
        error = known[kind](message)
    elif isinstance(builtin, type) and issubclass(builtin, Exception) and not issubclass(builtin, OSError):
        try:
            error = builtin(message)
        except Exception:
            error = WorkerError(f"{kind}: {message}")
    else:
        error = WorkerError(f"{kind}: {message}")
    for note in answer.get("notes", []):
        error.add_note(str(note))
    return error


REMOTE_DUNDERS = ("__name__", "__qualname__", "__doc__")


class RemoteObject:
    """Something the student's code defined or returned, living in a worker; used here as if it were."""

    __slots__ = ("_worker", "_target", "_mro", "_repr")

    def __init__(self, worker, target, mro=(), text="<remote>"):
        object.__setattr__(self, "_worker", worker)
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_mro", list(mro))
        object.__setattr__(self, "_repr", text)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name not in REMOTE_DUNDERS:
            raise AttributeError(name)        # copy, pickle and numpy probe these: nothing to fetch
        return self._worker.request({"op": "getattr", "target": self._target, "name": name})["result"]

    def __setattr__(self, name, value):
        self._worker.request({"op": "setattr", "target": self._target, "name": name, "value": value})

    def __call__(self, *args, **kwargs):
        return self._call(self._target, args, kwargs)

    def _call(self, target, args, kwargs):
        answer = self._worker.request({"op": "call", "target": target, "args": list(args), "kwargs": kwargs})
        for arg, state in zip(args, answer["after"], strict=False):
            apply_state(arg, state)
        for key, state in answer["after_kw"].items():
            apply_state(kwargs.get(key), state)
        return answer["result"]

    def _method(self, name, *args):
        return self._call(dict(self._target, path=[*self._target.get("path", []), name]), args, {})

    def __getitem__(self, key):
        return self._method("__getitem__", key)

    def __setitem__(self, key, value):
        self._method("__setitem__", key, value)

    def __bool__(self):               # else Python would ask for __len__
        return True

    def __len__(self):
        try:
            return self._method("__len__")
        except AttributeError:        # len() of what has no length raises TypeError (list() relies on it)
            raise TypeError(f"object {self._repr} has no len()") from None

    def __iter__(self):
        iterator = self._method("__iter__")
        while True:
            try:
                yield iterator._method("__next__")
            except StopIteration:
                return

    def __repr__(self):
        return self._repr

    def __deepcopy__(self, memo):
        return self._worker.request({"op": "call", "target": {"name": "__deepcopy_of__"}, "args": [self],
                                     "kwargs": {}})["result"]

    def __copy__(self):
        return self.__deepcopy__({})

    @property
    def __class__(self):
        """The first of its classes that is also one here (``nn.Module`` for a student's layer)."""
        for qualified in self._mro:
            module, _, qualname = qualified.partition(":")
            if module.startswith("dlcourse.") or module == "builtins":
                try:
                    found = importlib.import_module(module)
                    for part in qualname.split("."):
                        found = getattr(found, part)
                    return found
                except (ImportError, AttributeError):
                    continue
        return RemoteObject

    def run_student_remotely(self, args, name, call, forbidden, student, forbidden_numpy, allow_silencing):
        """dlcourse.checks.run_student, run in the worker (see its docstring)."""
        from dlcourse import honesty

        student_target = student._target if isinstance(student, RemoteObject) else None
        answer = self._worker.request({
            "op": "run_student", "target": self._target, "args": tuple(args), "name": name, "call": call,
            "forbidden": [honesty.reference_name(r) for r in forbidden], "student": student_target,
            "forbidden_numpy": list(forbidden_numpy), "allow_silencing": allow_silencing})
        for arg, state in zip(args, answer["after"], strict=False):
            apply_state(arg, state)
        return answer["result"], answer["warnings"]


# -- data from the worker ----------------------------------------------------------------------
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def decode(node, blobs, worker):
    """The value a JSON tree from the worker stands for (see verdict_worker.encode)."""
    if not isinstance(node, dict):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        raise ValueError(f"unexpected {type(node).__name__} from the worker")
    if "bigint" in node:
        return int(node["bigint"])
    if "complex" in node:
        return complex(*node["complex"])
    if "array" in node or "scalar" in node:
        return wire.decode_array(node, blobs)
    if "tuple" in node or "list" in node:
        items = [decode(v, blobs, worker) for v in node.get("tuple", node.get("list"))]
        return tuple(items) if "tuple" in node else items
    if "dict" in node:
        return {_key(k): decode(v, blobs, worker) for k, v in node["dict"]}
    if "generator" in node:
        return _generator(node["generator"])
    if "object" in node:
        cls = _course_class(node["object"])
        obj = cls.__new__(cls)
        state = decode(node["state"], blobs, worker)
        if not isinstance(state, dict):
            raise ValueError("an object's state must be a dict")
        if "_modules" in state or "_parameters" in state:      # Module keeps ordered dicts
            from collections import OrderedDict

            state = {k: OrderedDict(v) if k in ("_modules", "_parameters", "_buffers") and isinstance(v, dict)
                     else v for k, v in state.items()}
        obj.__dict__.update(state)
        return obj
    if "handle" in node:
        return RemoteObject(worker, {"handle": int(node["handle"])}, [str(m) for m in node["mro"]],
                            str(node["repr"])[:200])
    raise ValueError(f"unexpected data from the worker: {sorted(node)}")


def _key(key):
    if not isinstance(key, (str, int)):
        raise ValueError("dict keys from the worker must be strings or integers")
    return key


def _generator(state):
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise ValueError(f"unknown bit generator {name!r}")
    generator = np.random.Generator(getattr(np.random, name)())
    generator.bit_generator.state = state
    return generator


def _course_class(qualified):
    module, _, qualname = qualified.partition(":")
    if not module.startswith(("dlcourse.nn", "dlcourse.optim", "dlcourse.losses")):
        raise ValueError(f"{qualified} is not one of dlcourse's layers, losses or optimizers")
    cls = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    if not isinstance(cls, type):
        raise ValueError(f"{qualified} is not a class")
    return cls


def apply_state(target, state):
    """Copy what the worker's copy of ``target`` became (an argument after a call) into ``target``."""
    if state is None or target is None or isinstance(target, RemoteObject):
        return
    if isinstance(target, np.ndarray):
        if isinstance(state, np.ndarray) and state.shape == target.shape and target.flags.writeable:
            np.copyto(target, state, casting="unsafe")
    elif isinstance(target, np.random.Generator):
        if isinstance(state, np.random.Generator):
            target.bit_generator.state = state.bit_generator.state
    elif isinstance(target, (list, tuple)):
        if isinstance(state, (list, tuple)) and len(state) == len(target):
            for item, item_state in zip(target, state, strict=True):
                apply_state(item, item_state)
    elif isinstance(target, dict):
        if isinstance(state, dict):
            for key, value in state.items():
                if key in target:
                    _apply_entry(target, key, value, target.__setitem__)
    elif wire.is_course_class(type(target)) and type(state) is type(target):
        for key, value in vars(state).items():
            if key in vars(target):
                _apply_entry(vars(target), key, value, lambda k, v: setattr(target, k, v))


def _apply_entry(current, key, value, store):
    old = current[key]
    in_place = (isinstance(old, np.ndarray) and isinstance(value, np.ndarray) and old.shape == value.shape) \
        or (isinstance(old, (list, tuple, dict, np.random.Generator)) and type(old) is type(value)) \
        or (wire.is_course_class(type(old)) and type(old) is type(value))
    if in_place:
        apply_state(old, value)
    elif isinstance(value, (type(None), bool, int, float, str, np.ndarray, np.generic)):
        store(key, value)


# -- the verdict -------------------------------------------------------------------------------
def defined_names(code):
    """The top-level names a cell defines (functions, classes, assignments)."""
    names = []
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def definitions(code):
    """The imports, functions and classes of a given cell (what an answer may use), one statement each.

    One by one, so that an import the worker refuses (torch) leaves the others in place.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    return [ast.unparse(node) for node in tree.body if isinstance(node, kept)]


def used_names(sources):
    """Every name the code in ``sources`` reads or writes (a syntax error reads none)."""
    names = set()
    for source in sources:
        with contextlib.suppress(SyntaxError):
            names |= {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    return names


def import_of(statement, names):
    """An import statement cut to the names in ``names`` it binds ("" when it binds none of them)."""
    node = ast.parse(statement).body[0]
    node.names = [alias for alias in node.names if (alias.asname or alias.name.split(".")[0]) in names]
    return ast.unparse(node) if node.names else ""


def worker_cells(source_nb, submission_nb, exercise):
    """What the worker of ``exercise`` runs: the submission's cells up to that answer cell.

    Answer cells and cells the student added run whole; a given cell of the
    source only with its definitions, and with those of its imports whose
    names the rest uses (a worker that never draws does not import
    matplotlib: a second or so per worker); test cells not at all.
    """
    given = {c.source for c in source_nb.cells if c.cell_type == "code" and not is_grade(c)
             and not is_solution(c)}
    cells = ["def __deepcopy_of__(obj):\n    import copy\n    return copy.deepcopy(obj)\n"]
    given_imports = set()                 # indexes in cells of the given cells' import statements
    for cell in submission_nb.cells:
        if cell.cell_type != "code" or is_grade(cell):
            continue
        if is_solution(cell):
            cells.append(cell.source)
            if grade_id(cell) == exercise:
                break
        elif cell.source in given:
            for statement in definitions(cell.source):
                if statement.startswith(("import ", "from ")):
                    given_imports.add(len(cells))
                cells.append(statement)
        else:
            cells.append(cell.source)
    used = used_names(c for k, c in enumerate(cells) if k not in given_imports)
    cells = [import_of(c, used) if k in given_imports else c for k, c in enumerate(cells)]
    return [c for c in cells if c]


def verdict(source_nb, submission_nb, forbidden_by_exercise=None, scratch=None, visible_only=False,
            stop_after=()):
    """Run the source's given and test cells here, the submission's answers in workers.

    ``forbidden_by_exercise``: {answer grade_id: reference names} to strip from
    that exercise's worker (None: strip nothing, as the plan does on the solution).
    ``visible_only``: run the test cells without their hidden tests, as the
    release has them (the feedback's pass: its workers never see a hidden input).
    ``stop_after``: test grade_ids after which nothing more is needed (all of them run: it stops).
    Returns ({test grade_id: result}, {answer grade_id: names forbidden during its calls}).
    """
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    forbidden_by_exercise = forbidden_by_exercise or {}
    scratch = scratch or tempfile.mkdtemp(prefix="dlcourse-verdict-")
    shell = InteractiveShell.instance()
    shell.reset()                             # nothing of an earlier pass in this process
    # A failing cell's error is kept in its result; its traceback (this machine's paths, the
    # test's lines) is not printed into what the cell printed.
    shell.showtraceback = shell.showsyntaxerror = lambda *args, **kwargs: None
    workers, results, exercise = {}, {}, None
    try:
        for cell in source_nb.cells:
            if cell.cell_type != "code":
                continue
            if is_solution(cell):
                exercise = grade_id(cell)
                worker = workers[exercise] = Worker(worker_cells(source_nb, submission_nb, exercise),
                                                    forbidden_by_exercise.get(exercise, ()), scratch)
                for name in defined_names(cell.source):
                    shell.user_ns[name] = RemoteObject(worker, {"name": name})
                continue
            start = time.monotonic()
            for worker in workers.values():
                worker.deadline = start + CELL_SECONDS
            code = visible_tests(cell.source) if visible_only and is_grade(cell) else cell.source
            with capture_output(display=False) as captured:
                outcome = shell.run_cell(code, store_history=False)
            if is_grade(cell):
                error = outcome.error_in_exec or outcome.error_before_exec
                results[grade_id(cell)] = {
                    "points": 0.0 if error else float(points(cell)), "max_points": float(points(cell)),
                    "passed": error is None, "exercise": exercise,
                    "message": "" if error is None else f"{type(error).__name__}: {error}"[:500],
                    "ename": None if error is None else type(error).__name__,
                    "evalue": None if error is None else str(error)[:SHOWN_CHARS],
                    "stdout": captured.stdout[:SHOWN_CHARS],
                    "seconds": round(time.monotonic() - start, 2)}
                if stop_after and set(stop_after) <= set(results):
                    break
    finally:
        for worker in workers.values():
            worker.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return results, {k: sorted(w.seen_forbidden) for k, w in workers.items()}


def plan(source_nb, chapter):
    """What the verdict of ``chapter`` needs, found by running it on the solution (no reference stripped).

    {"forbidden": {answer grade_id: reference names}, "checked": [test grade_ids the solution passes],
    "unchecked": {test grade_id: why}}. An answer's worker also loses the chapter
    module's namesake of every function the answer defines (rnn_step -> rnns.rnn_step).
    """
    results, seen = verdict(source_nb, source_nb)
    try:
        module = importlib.import_module(f"dlcourse.{chapter.split('_', 1)[1]}")
    except ImportError:              # chapter 00 has no module of its own
        module = None
    forbidden = {}
    for cell in source_nb.cells:
        if is_solution(cell):
            names = set(seen.get(grade_id(cell), ()))
            for name in defined_names(cell.source):
                if hasattr(getattr(module, name, None), "reference_name"):
                    names.add(getattr(module, name).reference_name)
            forbidden[grade_id(cell)] = sorted(names)
    return {"forbidden": forbidden, "results": results,
            "checked": sorted(k for k, r in results.items() if r["passed"]),
            "unchecked": {k: r["message"] for k, r in results.items() if not r["passed"]}}


def feedback(source_nb, submission_nb, results, forbidden_by_exercise=None):
    """What the feedback may say about each test cell that has hidden tests, given the verdict's ``results``.

    A cell that passed: {"passed": True} (the feedback says that every test
    passes). For the cells that failed, a second pass runs the test cells with
    the hidden tests cut out, in fresh workers, up to the last failed cell,
    so that nothing shown can come from a hidden test (not its source, not
    its inputs echoed back through the submission's own answers):
    {"passed": False, "stdout": what the visible tests printed, "ename", "evalue": their error or None}.
    """
    hidden = [grade_id(cell) for cell in source_nb.cells if has_hidden_tests(cell)]
    notes = {cell: {"passed": True} for cell in hidden if results.get(cell, {}).get("passed")}
    failed = [cell for cell in hidden if cell not in notes]
    if failed:
        visible, _ = verdict(source_nb, submission_nb, forbidden_by_exercise, visible_only=True,
                             stop_after=failed)
        for cell in failed:
            shown = visible.get(cell, {"stdout": "", "ename": None, "evalue": None})
            notes[cell] = {"passed": False, **{key: shown[key] for key in ("stdout", "ename", "evalue")}}
    return notes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("submission", type=Path, nargs="?")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--plan", type=Path, help="the plan (JSON): references stripped per exercise")
    parser.add_argument("--make-plan", metavar="CHAPTER", help="write the source's plan to --out instead")
    parser.add_argument("--feedback", type=Path,
                        help="also write what the visible tests of each cell with hidden tests say (JSON)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))       # workers die with us (finally blocks)
    os.environ.setdefault("MPLBACKEND", "agg")
    source = nbformat.read(args.source, as_version=4)
    if args.make_plan:
        args.out.write_text(json.dumps(plan(source, args.make_plan), indent=1))
        return 0
    submission = nbformat.read(args.submission, as_version=4)
    forbidden = json.loads(args.plan.read_text())["forbidden"] if args.plan else None
    results, _ = verdict(source, submission, forbidden)
    args.out.write_text(json.dumps(results, indent=1))
    if args.feedback:
        args.feedback.write_text(json.dumps(feedback(source, submission, results, forbidden), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
