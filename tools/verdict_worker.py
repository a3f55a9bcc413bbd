"""The sandboxed half of the outside verdict (tools/verdict.py): the student's code, and the wire format.

    python verdict_worker.py        (started by tools/verdict.py, inside the sandbox of tools/sandbox.py)

The worker holds a submission's answer cells (and the given cells' imports
and definitions) and nothing else: no test cell runs here, and the dlcourse
it imports has the exercise's references removed (tools/verdict.py binds a
stripped copy over the package). It reads requests on stdin and answers on
stdout, one at a time:

    exec         run a cell's code in the notebook's namespace
    call         call a name, an object it handed out, or a method of one
    getattr      read an attribute           setattr   write one
    run_student  dlcourse.checks.run_student on one of its functions: the result,
                 numpy's warnings, and NotAttempted / CheckFailed / the student's error

Requests are pickled (they come from the grader, whom the worker trusts).
Answers come from the student's process, so they are never pickled: they are
JSON plus raw array bytes, and decode() builds only numbers, strings,
arrays, tuples, lists, dicts, dlcourse's own layer and optimizer classes,
and handles (RemoteObject in tools/verdict.py) for everything else.
Objects the grader passed in go back as their state after the call (an
optimizer step, a training loop and an in-place change are seen outside).
"""
import io
import json
import os
import pickle
import struct
import sys
import traceback
from collections import OrderedDict

import numpy as np

ARRAY_KINDS = "biufcUS"       # array dtypes that cross the wire: no object arrays
MAX_DEPTH = 20


# -- framing ---------------------------------------------------------------------------------
def send(stream, payload):
    stream.write(struct.pack("<Q", len(payload)) + payload)
    stream.flush()


def receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the other side closed the pipe")
    (size,) = struct.unpack("<Q", head)
    return stream.read(size)


# -- the student's answers, as data (worker -> grader) ---------------------------------------
def is_course_class(cls):
    """dlcourse's layers, losses and optimizers: rebuilt outside from their state, not handed out."""
    return cls.__module__.startswith(("dlcourse.nn", "dlcourse.optim", "dlcourse.losses"))


def encode(value, handles, blobs, depth=0):
    """``value`` as JSON-able data; arrays go to ``blobs``, other objects to ``handles`` (by id)."""
    if depth > MAX_DEPTH:
        raise ValueError("a result nested more than 20 levels deep")
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2 ** 63:
            return {"bigint": str(value)}
        return value
    if isinstance(value, complex):
        return {"complex": [value.real, value.imag]}
    if isinstance(value, (np.ndarray, np.generic)) and np.asarray(value).dtype.kind in ARRAY_KINDS:
        array = np.asarray(value, order="C")    # (ascontiguousarray would make a 0-d array 1-d)
        blobs.append(array.tobytes())
        kind = "array" if isinstance(value, np.ndarray) else "scalar"
        return {kind: len(blobs) - 1, "dtype": array.dtype.str, "shape": list(array.shape)}
    if isinstance(value, (tuple, list)) and type(value) in (tuple, list):
        return {type(value).__name__: [encode(v, handles, blobs, depth + 1) for v in value]}
    if type(value) in (dict, OrderedDict) and all(isinstance(k, (str, int)) for k in value):
        return {"dict": [[k, encode(v, handles, blobs, depth + 1)] for k, v in value.items()]}
    if isinstance(value, np.random.Generator):
        return {"generator": json.loads(json.dumps(value.bit_generator.state, default=int))}
    if is_course_class(type(value)) and hasattr(value, "__dict__"):
        state = {k: v for k, v in vars(value).items() if not callable(v) or is_course_class(type(v))}
        return {"object": f"{type(value).__module__}:{type(value).__qualname__}",
                "state": encode(state, handles, blobs, depth + 1)}
    handles[id(value)] = value
    return {"handle": id(value), "mro": [f"{k.__module__}:{k.__qualname__}" for k in type(value).__mro__],
            "repr": _short_repr(value)}


def _short_repr(value):
    try:
        return repr(value)[:200]
    except Exception:
        return f"<{type(value).__name__}>"


def pack(message, handles):
    """One answer: JSON (the header) followed by the raw bytes of its arrays."""
    blobs = []
    header = json.dumps(encode(message, handles, blobs)).encode()
    parts = [struct.pack("<QQ", len(header), len(blobs)), header]
    for blob in blobs:
        parts += [struct.pack("<Q", len(blob)), blob]
    return b"".join(parts)


def unpack(payload):
    """The JSON tree and the arrays of an answer (decode() in tools/verdict.py builds the values)."""
    stream = io.BytesIO(payload)
    header_size, count = struct.unpack("<QQ", stream.read(16))
    tree = json.loads(stream.read(header_size))
    blobs = []
    for _ in range(count):
        (size,) = struct.unpack("<Q", stream.read(8))
        blobs.append(stream.read(size))
    return tree, blobs


def decode_array(node, blobs):
    dtype = np.dtype(node["dtype"])
    if dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"an array of dtype {dtype} cannot cross the wire")
    blob = blobs[node.get("array", node.get("scalar"))]
    array = np.frombuffer(blob, dtype=dtype).reshape(node["shape"]).copy()
    return array if "array" in node else array[()]


# -- the worker ------------------------------------------------------------------------------
class Worker:
    def __init__(self):
        self.namespace = {"__name__": "__main__"}
        self.handles = {}
        self.callback = None          # set by main(): asks the grader to run one of its functions

    def resolve(self, target):
        if "name" in target:
            value = self.namespace[target["name"]]
        else:
            value = self.handles[target["handle"]]
        for attr in target.get("path", []):
            value = getattr(value, attr)
        return value

    def handle(self, request):
        """Answer one request, with the references the grader forbids at this moment switched off."""
        from dlcourse import honesty
        from dlcourse import random as package_random

        if "rng" in request:
            package_random.generator().bit_generator.state = request["rng"]
        added = set(request.get("forbidden", ())) - honesty._forbidden
        honesty._forbidden.update(added)
        try:
            return self._handle(request)
        finally:
            honesty._forbidden.difference_update(added)

    def _handle(self, request):
        op = request["op"]
        if op == "exec":
            exec(compile(request["source"], request.get("filename", "<cell>"), "exec"), self.namespace)
            return {"result": None}
        target = self.resolve(request["target"])
        if op == "getattr":
            return {"result": getattr(target, request["name"])}
        if op == "setattr":
            setattr(target, request["name"], request["value"])
            return {"result": None}
        if op == "call":
            args, kwargs = request["args"], request["kwargs"]
            result = target(*args, **kwargs)
            return {"result": result, "after": [state_of(a) for a in args],
                    "after_kw": {k: state_of(v) for k, v in kwargs.items()}}
        if op == "run_student":
            return self.run_student(target, request)
        raise ValueError(f"unknown request {op!r}")

    def run_student(self, fn, request):
        from dlcourse import checks

        args = request["args"]
        student = self.resolve(request["student"]) if request.get("student") else None
        result, numpy_warnings = checks.run_student(
            fn, args, request["name"], request["call"], student=student,
            forbidden_numpy=request["forbidden_numpy"], allow_silencing=request["allow_silencing"])
        return {"result": result, "warnings": numpy_warnings, "after": [state_of(a) for a in args]}


def state_of(value):
    """What the grader needs to see of an argument after the call (arrays, course objects, generators)."""
    if isinstance(value, (np.ndarray, np.random.Generator)) or is_course_class(type(value)):
        return value
    if type(value) in (list, tuple):
        return type(value)(state_of(v) for v in value)
    if type(value) is dict:
        return {k: state_of(v) for k, v in value.items()}
    return None


def describe_error(error):
    """An exception as data: its type, message and notes, and the student's part of the traceback."""
    from dlcourse import checks

    kind = ("NotAttempted" if isinstance(error, checks.NotAttempted)
            else "CheckFailed" if isinstance(error, checks.CheckFailed) else type(error).__name__)
    return {"error": kind, "message": str(error), "notes": list(getattr(error, "__notes__", [])),
            "traceback": "".join(traceback.format_exception(error))[-4000:]}


def package_rng_state():
    """The state of dlcourse's generator (dlcourse.random), sent back with every answer."""
    try:
        from dlcourse import random as package_random

        return package_random.generator().bit_generator.state
    except Exception:
        return None


class Unpickler(pickle.Unpickler):
    """The grader's requests: its objects by value, handles and the grader's functions by reference."""

    def __init__(self, stream, worker):
        super().__init__(stream)
        self.worker = worker

    def persistent_load(self, pid):
        kind, key = pid
        if kind == "handle":
            return self.worker.handles[key]
        return CallBack(self.worker, key)


class CallBack:
    """A function of the grader's (a test cell's lambda, say) that the student's code calls."""

    def __init__(self, worker, key):
        self.worker, self.key = worker, key

    def __call__(self, *args, **kwargs):
        return self.worker.callback(self.key, args, kwargs)


def main():
    # The pipes are the protocol: the student's prints go to stderr, its input() gets nothing.
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker()

    def callback(key, args, kwargs):
        send(answers, pack({"callback": key, "args": list(args), "kwargs": kwargs}, worker.handles))
        reply = pickle.loads(receive(requests))           # noqa: S301  (from the grader)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    worker.callback = callback
    while True:
        try:
            payload = receive(requests)
        except EOFError:
            return
        try:
            request = Unpickler(io.BytesIO(payload), worker).load()
            answer = worker.handle(request)
        except BaseException as error:        # the student's code may raise anything, SystemExit too
            answer = describe_error(error)
        answer["rng"] = package_rng_state()
        try:
            message = pack(answer, worker.handles)
        except Exception as error:
            message = pack(describe_error(ValueError(f"the result cannot be sent back: {error}")),
                           worker.handles)
        send(answers, message)


if __name__ == "__main__":
    main()
