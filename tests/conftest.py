"""Shared fixtures (a seeded generator, the bridge to PyTorch) and the per-chapter markers.

Every test carries a marker saying what it is about, so that one chapter's
tests run alone (`make test CHAPTER=03` runs `pytest --chapter 03`: the tests
marked chapter03, with the book and the release made of chapter 03 alone):

    chapter00 ... chapter06   a chapter: its module dlcourse/<chapter>.py, its widgets, the layers
                              only it uses, and its notebook (tests parametrized by `chapter`)
    package                   the generic torch mirror (nn, functional, losses, optim, init, data, ...)
    course                    the course as a whole (project files, every chapter's release, scripts)

A test marked in its own file keeps its marks; otherwise a test parametrized
by `chapter` gets that chapter's marker, and any other test the marker of
its file in FILE_MARKERS (first matching pattern), or "package".
"""
import fnmatch
import re

import numpy as np
import pytest
import torch

import dlcourse


@pytest.fixture
def rng():
    """A fresh, seeded numpy generator for test data."""
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same package and torch seeds."""
    dlcourse.manual_seed(0)
    torch.manual_seed(0)


def copy_to_torch(module, torch_module):
    """Copy a dlcourse module's parameters and buffers into a torch module (same names)."""
    state = {name: torch.from_numpy(np.array(value)) for name, value in module.state_dict().items()}
    torch_module.load_state_dict(state)
    return torch_module


def torch_forward_backward(torch_module, x, grad_out):
    """Run torch forward and backward in float64; return (output, input gradient) as numpy."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = torch_module(xt)
    out.backward(torch.tensor(grad_out, dtype=torch.float64))
    return out.detach().numpy(), xt.grad.numpy()


# File name pattern -> markers, first match wins. Files matching none are package tests.
FILE_MARKERS = [
    ("test_widgets.py", ("chapter00", "package")),   # the Explorer plumbing, shown with chapter 00's explorer
    ("test_perceptrons.py", ("chapter01",)),
    ("test_widgets_perceptrons.py", ("chapter01",)),
    ("test_activations.py", ("chapter02",)),
    ("test_widgets_activations.py", ("chapter02",)),
    ("test_maxout.py", ("chapter02",)),
    ("test_backpropagation.py", ("chapter03",)),
    ("test_widgets_backpropagation.py", ("chapter03",)),
    ("test_*regulari[sz]ation*.py", ("chapter04",)),
    ("test_conv*.py", ("chapter05",)),
    ("test_pool*.py", ("chapter05",)),
    ("test_cnn*.py", ("chapter05",)),
    ("test_widgets_cnns*.py", ("chapter05",)),
    ("test_rnn*.py", ("chapter06",)),
    ("test_lstm*.py", ("chapter06",)),
    ("test_gru*.py", ("chapter06",)),
    ("test_embedding*.py", ("chapter06",)),
    ("test_widgets_rnns*.py", ("chapter06",)),
    ("test_project.py", ("course",)),
    ("test_notebooks.py", ("course",)),
    ("test_release.py", ("course",)),
    ("test_grading.py", ("course",)),
    ("test_grade_demo.py", ("course",)),
    ("test_student_edition.py", ("course",)),
]
KINDS = re.compile(r"chapter\d\d|package|course")
CHAPTER = re.compile(r"(\d\d)_[a-z0-9_]+")


def pytest_addoption(parser):
    parser.addoption("--chapter", metavar="NN",
                     help="only chapter NN's tests: -m chapterNN, the book and the release of that chapter")


def selected_chapter(config):
    """The two digits of --chapter (given as 3, 03 or 03_backpropagation), or None."""
    name = config.getoption("chapter")
    if name is None:
        return None
    if name.isdigit() and len(name) <= 2:
        return f"{int(name):02d}"
    if CHAPTER.fullmatch(name):
        return name[:2]
    raise pytest.UsageError(f"--chapter expects a chapter number such as 03, got {name!r}")


def pytest_configure(config):
    number = selected_chapter(config)
    if number is not None:
        given = config.option.markexpr
        config.option.markexpr = f"({given}) and chapter{number}" if given else f"chapter{number}"


def markers_for(item):
    """The markers a test gets by the rules of the module docstring."""
    chapter = getattr(item, "callspec", None) and item.callspec.params.get("chapter")
    if isinstance(chapter, str) and CHAPTER.fullmatch(chapter):
        return (f"chapter{chapter[:2]}",)
    for pattern, markers in FILE_MARKERS:
        if fnmatch.fnmatch(item.path.name, pattern):
            return markers
    return ("package",)


@pytest.hookimpl(tryfirst=True)   # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    registered = {line.split(":")[0] for line in config.getini("markers")}
    for item in items:
        if any(KINDS.fullmatch(mark.name) for mark in item.iter_markers()):
            continue
        for name in markers_for(item):
            if name not in registered:   # a chapter after 06: register it as pyproject.toml does 00-06
                config.addinivalue_line("markers", f"{name}: chapter {name[-2:]}")
                registered.add(name)
            item.add_marker(name)


@pytest.fixture(scope="session")
def chapter_option(request):
    """The chapter number --chapter selects ("03"), or None: every chapter."""
    return selected_chapter(request.config)
