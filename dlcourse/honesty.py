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
    """Mark ``func`` as a reference implementation that a test can forbid."""

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        if _forbidden and func.__qualname__ in _forbidden:
            raise ReferenceCalledError(
                f"you called the reference implementation dlcourse {func.__qualname__} "
                "inside your answer; write it yourself with numpy"
            )
        return func(*args, **kwargs)

    guarded.reference_name = func.__qualname__
    return guarded


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
        name = reference_name(ref)
        if isinstance(ref, type):
            names.update(
                attr.reference_name
                for klass in ref.__mro__
                for attr in vars(klass).values()
                if hasattr(attr, "reference_name")
            )
        else:
            names.add(name)
    added = names - _forbidden
    _forbidden.update(added)
    try:
        yield
    finally:
        _forbidden.difference_update(added)
