"""Interactive explorers for the chapters: controls above a matplotlib picture.

An :class:`Explorer` draws its default view as soon as it is created, so an
executed notebook (and the website built from it, where no kernel runs)
shows a meaningful figure; in a live notebook it redraws whenever a control
changes. Figures are plain ``matplotlib.figure.Figure`` objects, never
registered with pyplot, so nothing needs closing and nothing leaks.

A chapter's explorer is a drawing function plus its controls::

    def draw(fig, w, b):
        ax = fig.add_subplot()
        ...

    Explorer(draw, w=slider("w", -5, 5, 1.0), b=slider("b", -5, 5, 0.0))
"""
import base64
import io

import ipywidgets as widgets
from matplotlib.figure import Figure


class Explorer(widgets.VBox):
    """Controls in a row, a picture below; the picture is redrawn when a control changes.

    Inputs:
        draw: callable ``draw(fig, **values)`` that draws onto an empty Figure;
            ``values`` are the controls' current values, by keyword.
        figsize: (width, height) of the figure in inches (100 pixels each).
        **controls: the widgets by keyword, e.g. ``w=slider("w", -5, 5, 1.0)``.
    Attributes:
        controls: dict keyword -> widget.
        output: the ipywidgets Output that shows the picture.
    """

    def __init__(self, draw, figsize=(6.4, 3.6), **controls):
        self.draw = draw
        self.figsize = figsize
        self.controls = controls
        self.output = widgets.Output()
        row = widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([row, self.output])
        for control in controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def __repr__(self):
        values = ", ".join(f"{name}={value!r}" for name, value in self.values().items())
        return f"{type(self).__name__}({values})"

    def values(self):
        """The controls' current values, as a dict keyword -> value."""
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self, change=None):
        """Draw the picture for the current values and show it in place of the old one."""
        fig = Figure(figsize=self.figsize, dpi=100, layout="constrained")
        self.draw(fig, **self.values())
        self.output.outputs = (figure_output(fig),)


def figure_output(fig):
    """A Jupyter display_data output holding ``fig`` as a PNG image."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    width, height = fig.get_size_inches() * fig.dpi
    return {
        "output_type": "display_data",
        "data": {
            "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "text/plain": f"<Figure size {width:.0f}x{height:.0f}>",
        },
        "metadata": {},
    }


def slider(description, min, max, value, step=0.1):
    """A float slider that redraws when released (dragging does not queue up redraws)."""
    return widgets.FloatSlider(
        value=value, min=min, max=max, step=step, description=description,
        continuous_update=False, style={"description_width": "initial"},
    )


def dropdown(description, options, value=None):
    """A dropdown menu; ``options`` is a list of values or of (label, value) pairs; default the first."""
    menu = widgets.Dropdown(options=options, description=description, style={"description_width": "initial"})
    if value is not None:
        menu.value = value
    return menu
