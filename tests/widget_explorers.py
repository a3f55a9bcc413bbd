"""The two tests every chapter's explorer passes, for tests/test_widgets_<chapter>.py.

    EXPLORERS = {"lr": (widgets.learning_rate_explorer, [("lr", 0.01), ("lr", 10.0)]), ...}
    case, test_the_default_view_is_drawn_at_creation, test_every_control_redraws = explorer_tests(EXPLORERS)

A chapter's test file names its explorers in EXPLORERS: name -> (a function
that makes the explorer, the (control, value) changes to try on it). Each
explorer is made once for the file, and runs both tests, under its name:

    test_the_default_view_is_drawn_at_creation[lr]   a PNG is shown as soon as the explorer is made
    test_every_control_redraws[lr]                   each change of a control changes the PNG shown
"""
import base64

import pytest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def shown_png(explorer):
    """The bytes of the PNG the explorer shows now."""
    (output,) = explorer.output.outputs
    return base64.b64decode(output["data"]["image/png"])


def explorer_tests(explorers):
    """The fixture `case` and the two tests above, run once per explorer of ``explorers``.

    Inputs:   explorers: name -> (make, changes), a chapter's EXPLORERS table
    Returns:  (case, test_the_default_view_is_drawn_at_creation, test_every_control_redraws), to be
              bound under these names in the test file: pytest finds fixtures and tests by name there
    """
    @pytest.fixture(scope="module", params=list(explorers))
    def case(request):
        """One explorer, made once for the file's tests, and the control changes to try on it."""
        make, changes = explorers[request.param]
        return make(), changes

    return case, test_the_default_view_is_drawn_at_creation, test_every_control_redraws


def test_the_default_view_is_drawn_at_creation(case):
    """The explorer shows a real picture (a PNG of more than 10 kB) before any control is touched."""
    explorer, _ = case
    png = shown_png(explorer)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000


def test_every_control_redraws(case):
    """Each change of a control, in turn, changes the picture shown."""
    explorer, changes = case
    for name, value in changes:
        before = shown_png(explorer)
        explorer.controls[name].value = value
        assert shown_png(explorer) != before, name
