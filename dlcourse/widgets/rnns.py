"""Chapter 06: the gradient-through-time explorer, the gate viewer, the sampling and trajectory explorers.

The numbers they show come from ``dlcourse.rnns``; this module only draws.
"""
import ipywidgets as widgets
import numpy as np

from ..rnns import gate_activations, generate, gradient_norms, hidden_states, pca_2d
from .explorer import Explorer, dropdown, slider

GATE_NAMES = ("input", "forget", "cell candidate", "output", "cell state", "hidden state")


# -- 1. gradients through time ---------------------------------------------------------------------
def draw_gradients(fig, radius, nonlinearity, forget_bias):
    """|dL/dh_t| against the distance T - t: the RNN (spectral radius, nonlinearity) beside the LSTM."""
    left, right = fig.subplots(1, 2, sharey=True)
    rnn = gradient_norms("RNN", float(radius), nonlinearity)
    for other in (0.5, 1.0, 1.5):
        left.semilogy(gradient_norms("RNN", other, nonlinearity), color="0.8", lw=1)
        left.text(len(rnn) - 1, np.clip(gradient_norms("RNN", other, nonlinearity)[-1], 1e-12, 1e6),
                  f" {other:g}", color="0.5", fontsize=7, va="center")
    left.semilogy(rnn, color="C3", lw=2, label=f"spectral radius {radius:.2f}")
    left.set_title(f"RNN ({nonlinearity}): |dL/dh_t| / |dL/dh_T|", fontsize=9)
    lstm = gradient_norms("LSTM", forget_bias=float(forget_bias))
    for other in (0.0, 1.0, 3.0):
        right.semilogy(gradient_norms("LSTM", forget_bias=other), color="0.8", lw=1)
    right.semilogy(lstm, color="C0", lw=2, label=f"forget-gate bias {forget_bias:+.1f}")
    right.set_title("LSTM (PyTorch's init): |dL/dh_t| / |dL/dh_T|", fontsize=9)
    for ax, curve in ((left, rnn), (right, lstm)):
        ax.set_xlabel("distance T - t (steps back in time)")
        ax.set_ylim(1e-12, 1e6)
        ax.axhline(1.0, color="k", lw=0.6, ls=":")
        ax.legend(fontsize=8, loc="lower left", title=f"after 30 steps: {curve[30]:.1e}", title_fontsize=8)
    left.set_ylabel("relative gradient norm (log)")


def gradient_explorer(radius=0.9, nonlinearity="tanh", forget_bias=1.0):
    """Sliders for the RNN's spectral radius and the LSTM's forget-gate bias; a menu for the nonlinearity."""
    return Explorer(
        draw_gradients,
        figsize=(8.5, 3.6),
        radius=slider("spectral radius of W_hh", 0.3, 2.0, radius, step=0.05),
        nonlinearity=dropdown("RNN nonlinearity", ["tanh", "linear"], nonlinearity),
        forget_bias=slider("LSTM forget bias", -2.0, 5.0, forget_bias, step=0.5),
    )


# -- 2. the gates of a trained LSTM ------------------------------------------------------------------
def gate_viewer(lstm, X, y, n_units=None):
    """The gates of a trained batch-first ``lstm`` over the memory-task sequences X (N, T, D), labels y.

    An example slider and a menu for the quantity; the default shows the
    forget gate of the first example, unit by unit over time.
    """
    acts = gate_activations(lstm, X)
    H = acts["input"].shape[2]
    units = slice(0, n_units or H)

    def draw(fig, example, quantity):
        top, bottom = fig.subplots(2, 1, height_ratios=[3, 1.2], sharex=True)
        values = acts[quantity][example][:, units].T             # (H, T)
        bounded = quantity not in ("cell state",)
        low, high = (-1, 1) if quantity in ("cell candidate", "hidden state") else (0, 1)
        image = top.imshow(values, aspect="auto", cmap="viridis" if bounded else "coolwarm",
                           vmin=low if bounded else -np.abs(values).max(),
                           vmax=high if bounded else np.abs(values).max(), interpolation="nearest")
        fig.colorbar(image, ax=top, pad=0.01)
        top.set_ylabel("unit")
        top.set_title(f"example {example} (symbol {int(y[example])}): {quantity} gate values, unit by unit"
                      if quantity in ("input", "forget", "output") else
                      f"example {example} (symbol {int(y[example])}): {quantity}, unit by unit", fontsize=9)
        T = values.shape[1]
        for name, color in (("input", "C1"), ("forget", "C0"), ("output", "C2")):
            bottom.plot(acts[name][example].mean(axis=1), color=color, label=f"mean {name} gate")
        bottom.set_ylim(0, 1)
        bottom.set_xlabel("time step t (0: the symbol, last: the query)")
        bottom.set_xticks([0, T - 1])
        bottom.legend(fontsize=7, ncol=3, loc="lower center")

    return Explorer(
        draw,
        figsize=(8.0, 4.4),
        example=widgets.IntSlider(value=0, min=0, max=len(X) - 1, description="example",
                                  continuous_update=False),
        quantity=dropdown("quantity", list(GATE_NAMES), "forget"),
    )


# -- 3. temperature -------------------------------------------------------------------------------------
TEMPERATURES = (0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def sampling_explorer(model, corpus, prompt="ROMEO:\n", length=240, temperature=0.75, seed=0):
    """A menu of temperatures; the text the model writes after ``prompt`` at each, and the next-letter odds.

    All samples are generated once, when the explorer is made (so moving the
    menu only redraws): one ``length``-character sample per temperature.
    """
    codes = corpus.encode(prompt)
    samples = {t: corpus.decode(generate(model, codes, length, t, seed=seed)[0]) for t in TEMPERATURES}
    logits, _ = model(codes[None, :])
    logits = logits[0, -1].astype(np.float64)

    def draw(fig, temperature):
        text_ax, bar_ax = fig.subplots(1, 2, width_ratios=[2.3, 1])
        text_ax.set_axis_off()
        shown = prompt + samples[temperature]
        lines = [line[:62] for line in shown.split("\n")][:16]
        text_ax.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=8,
                     transform=text_ax.transAxes)
        text_ax.set_title(f"temperature {temperature}: {length} characters after the prompt", fontsize=9)
        z = logits / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        top = np.argsort(-p)[:10]
        bar_ax.barh(range(10)[::-1], p[top], color="C0")
        bar_ax.set_yticks(range(10)[::-1], [repr(corpus.chars[k])[1:-1] for k in top], fontsize=8)
        bar_ax.set_xlim(0, 1)
        bar_ax.set_title("odds of the first letter", fontsize=9)
        bar_ax.set_xlabel("probability")

    return Explorer(draw, figsize=(9.0, 3.8),
                    temperature=dropdown("temperature", list(TEMPERATURES), temperature))


# -- 4. hidden-state trajectories --------------------------------------------------------------------------
def trajectory_explorer(models, X, y, n_examples=12):
    """The hidden states of each model in ``models`` (name -> batch-first layer) over X, in 2-D (PCA).

    A menu picks the model; every example's path h_1 .. h_T is drawn,
    coloured by the symbol it must remember, with its end (the query) marked.
    """
    projected = {}
    for name, rnn in models.items():
        states = hidden_states(rnn, X[:n_examples])
        projected[name] = pca_2d(states)

    def draw(fig, model):
        ax = fig.add_subplot()
        paths, share = projected[model]
        for n in range(len(paths)):
            color = f"C{int(y[n])}"
            ax.plot(paths[n, :, 0], paths[n, :, 1], color=color, lw=0.8, alpha=0.7)
            ax.plot(paths[n, 0, 0], paths[n, 0, 1], "o", color=color, ms=4)
            ax.plot(paths[n, -1, 0], paths[n, -1, 1], "*", color=color, ms=11, mec="k", mew=0.5)
        ax.set_xlabel("principal direction 1")
        ax.set_ylabel("principal direction 2")
        ax.set_title(f"{model}: hidden states of {len(paths)} sequences (o: after the symbol, "
                     f"*: at the query; colour: the symbol); 2 directions hold {share:.0%}", fontsize=8)

    return Explorer(draw, figsize=(6.8, 4.2), model=dropdown("model", list(models)))


__all__ = ["gradient_explorer", "draw_gradients", "gate_viewer", "sampling_explorer", "trajectory_explorer",
           "GATE_NAMES", "TEMPERATURES"]
