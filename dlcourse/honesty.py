"""The honesty guard.

Graded test cells run a student's function while the matching reference in
``dlcourse`` is *forbidden*: if the student's code calls it, the reference
raises :class:`ReferenceCalledError` instead of answering. Outside a test
the references work normally, so the notebooks can use them freely.

Usage inside the package::

    @reference
    def sigmoid(z): ...

Usage inside a check::

    with forbid(F.sigmoid):
        got = student_sigmoid(z)
"""
import contextlib
import functools

_forbidden = set()


class ReferenceCalledError(RuntimeError):
    """Raised when graded code calls the reference it is meant to replace."""


def reference(func):
    """Mark ``func`` (a function or a layer's method) as a reference a test can forbid."""

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        if _forbidden:
            blocked = _forbidden & _names_of_call(func, args)
            if blocked:
                raise ReferenceCalledError(
                    f"you called the reference implementation dlcourse {min(blocked)} "
                    "inside your answer; write it yourself with numpy"
                )
        return func(*args, **kwargs)

    guarded.reference_name = func.__qualname__
    return guarded


def _names_of_call(func, args):
    """The names this call answers to: ``sigmoid``; for a method, ``Linear.forward``.

    A method answers to the class that defines it (so ``nn.Linear.forward(self, x)``
    called on a student's own layer is caught) and to the class of the object
    it runs on and that class's bases. So forbidding ``nn.ReLU`` blocks
    ``ReLU().forward`` and a student's subclass of ReLU, but not
    ``Tanh().forward``, although both inherit one method from a shared base.
    """
    names = {func.__qualname__}
    if "." in func.__qualname__ and args:
        names.update(f"{klass.__qualname__}.{func.__name__}" for klass in type(args[0]).__mro__)
    return names


def reference_name(obj):
    """The name under which ``obj`` (a guarded function, method or class) is forbidden."""
    if isinstance(obj, type):
        return obj.__qualname__
    name = getattr(obj, "reference_name", None)
    if name is None:
        raise TypeError(f"{obj!r} is not a dlcourse reference implementation")
    return name


@contextlib.contextmanager
def forbid(*references):
    """Make the given references raise ReferenceCalledError inside the block.

    A class forbids every guarded method defined on it (for example
    ``forbid(nn.Linear)`` forbids ``Linear.forward`` and ``Linear.backward``).
    """
    names = set()
    for ref in references:
        if isinstance(ref, type):
            methods = {
                f"{ref.__qualname__}.{attr.__name__}"
                for klass in ref.__mro__
                for attr in vars(klass).values()
                if hasattr(attr, "reference_name")
            }
            if not methods:
                raise TypeError(f"{ref.__qualname__} has no dlcourse reference methods to forbid")
            names.update(methods)
        else:
            names.add(reference_name(ref))
    added = names - _forbidden
    _forbidden.update(added)
    try:
        yield
    finally:
        _forbidden.difference_update(added)
