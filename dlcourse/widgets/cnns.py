"""Chapter 05: the kernel explorer, the convolution stepper, the shape explorer, the feature-map viewer
and the receptive-field explorer.

The numbers they show come from ``dlcourse.cnns``; this module only draws.
"""
import functools

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle

from .. import cnns
from .explorer import Explorer, dropdown


# -- 1. a 3x3 kernel on the photograph and on a digit ----------------------------------------------
def parse_kernel(text):
    """'a b c; d e f; g h i' (commas or spaces; rows split by ';') -> a (3, 3) float array, or None."""
    try:
        rows = [[float(v) for v in row.replace(",", " ").split()] for row in text.split(";")]
        kernel = np.array(rows, dtype=np.float64)
    except ValueError:
        return None
    return kernel if kernel.shape == (3, 3) else None


def format_kernel(kernel):
    """The inverse of :func:`parse_kernel`, with 3 decimals at most."""
    return "; ".join(" ".join(f"{v:.3g}" for v in row) for row in np.asarray(kernel))


@functools.cache
def _digit():
    from ..data import load_digits
    X = load_digits(flatten=False).X_train
    big = np.kron(X[0, 0].astype(np.float64), np.ones((4, 4)))           # an 8x8 digit, enlarged to 32x32
    return cnns.filter_image(big, cnns.gaussian_kernel(5, 1.2))           # and smoothed, as a pen stroke


def draw_kernel(fig, preset, kernel):
    """The kernel's numbers, the photo and a digit before and after correlating with it."""
    k = parse_kernel(kernel)
    axes = fig.subplots(1, 5, gridspec_kw=dict(width_ratios=[0.8, 1.5, 1.5, 0.8, 0.8]))
    for ax in axes:
        ax.set_axis_off()
    if k is None:
        axes[0].text(0, 0.5, f"cannot read {kernel!r}:\nwrite 9 numbers,\nrows split by ';'", fontsize=9,
                     color="C3", transform=axes[0].transAxes)
        return
    axes[0].imshow(k, cmap="RdBu_r", vmin=-np.abs(k).max() - 1e-12, vmax=np.abs(k).max() + 1e-12)
    for (u, v), value in np.ndenumerate(k):
        axes[0].text(v, u, f"{value:.2g}", ha="center", va="center", fontsize=8)
    axes[0].set_title(f"kernel (sum {k.sum():.3g})", fontsize=9)
    photo = cnns.load_photo()
    out = cnns.filter_image(photo, k)
    axes[1].imshow(photo, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("photograph", fontsize=9)
    signed = k.sum() < 1e-9 and np.abs(k).sum() > 0
    if signed:   # an edge detector: 0 is gray, positive white, negative black
        limit = np.percentile(np.abs(out), 99.5) + 1e-12
        axes[2].imshow(out, cmap="gray", vmin=-limit, vmax=limit)
    else:
        axes[2].imshow(np.clip(out, 0, 1), cmap="gray", vmin=0, vmax=1)
    axes[2].set_title("correlated with the kernel" + (" (0 = gray)" if signed else ""), fontsize=9)
    digit = _digit()
    axes[3].imshow(digit, cmap="gray_r")
    axes[3].set_title("a digit", fontsize=9)
    d = cnns.filter_image(digit, k)
    axes[4].imshow(d, cmap="RdBu_r" if signed else "gray_r",
                   **({"vmin": -np.abs(d).max() - 1e-12, "vmax": np.abs(d).max() + 1e-12} if signed else {}))
    axes[4].set_title("filtered", fontsize=9)


def kernel_explorer(preset="vertical edges (Sobel x)"):
    """A menu of kernels and a text field to edit the nine numbers; the photo and a digit, filtered."""
    text = widgets.Text(value=format_kernel(cnns.KERNELS[preset]), description="kernel",
                        continuous_update=False, layout=widgets.Layout(width="320px"))
    menu = dropdown("preset", list(cnns.KERNELS), preset)

    def load_preset(change):
        text.value = format_kernel(cnns.KERNELS[change["new"]])

    menu.observe(load_preset, names="value")
    return Explorer(draw_kernel, figsize=(10.0, 2.6), preset=menu, kernel=text)


# -- 2. the convolution stepper ------------------------------------------------------------------------
def _grid(ax, array, title, highlight=None, fmt="{:.0f}", cmap="Blues", known=None):
    ax.imshow(np.where(known, array, np.nan) if known is not None else array, cmap=cmap, vmin=-3, vmax=6)
    for (i, j), value in np.ndenumerate(array):
        if known is None or known[i, j]:
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=9)
    ax.set_xticks(np.arange(-0.5, array.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, array.shape[0]), minor=True)
    ax.grid(which="minor", color="0.6", lw=0.8)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(title, fontsize=9)
    if highlight is not None:
        (r, c), size = highlight
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), size, size, fill=False, edgecolor="C3", lw=2.5))


def draw_stepper(fig, step, padding):
    """The (padded) input with the window, the kernel, and the output filled up to this step."""
    xp, frames, (h_out, w_out) = cnns.stepper_frames(padding=padding)
    step = int(np.clip(step, 0, len(frames) - 1))
    frame = frames[step]
    y = np.zeros((h_out, w_out))
    known = np.zeros((h_out, w_out), dtype=bool)
    for f in frames[:step + 1]:
        y[f["pos"]] = f["value"]
        known[f["pos"]] = True
    fig.set_layout_engine("none")
    axes = [fig.add_axes(box) for box in ([0.01, 0.25, 0.36, 0.65], [0.40, 0.38, 0.2, 0.4],
                                          [0.63, 0.25, 0.36, 0.65])]
    padded = f" padded by {padding}" if padding else ""
    _grid(axes[0], xp, f"input X{padded} ({xp.shape[0]}x{xp.shape[1]})", highlight=(frame["window"], 3))
    _grid(axes[1], cnns.STEPPER_K, "kernel K (3x3)", cmap="RdBu_r")
    out_pos = frame["pos"]
    _grid(axes[2], y, f"output Y ({h_out}x{w_out})", highlight=(out_pos, 1), known=known, cmap="Oranges")
    r, c = frame["window"]
    window = xp[r:r + 3, c:c + 3].ravel()
    pairs = zip(cnns.STEPPER_K.ravel(), window, strict=True)
    terms = " + ".join(f"{k:g}\u00b7{x:g}" for k, x in pairs if k != 0)
    fig.text(0.01, 0.12, f"Y[{out_pos[0]}, {out_pos[1]}] = sum of K \u2299 window = {terms}", fontsize=8,
             family="monospace")
    fig.text(0.01, 0.04, f"= {frame['value']:g}   (step {step + 1} of {len(frames)}; zero products left out)",
             fontsize=9, family="monospace")


def convolution_stepper(step=6, padding=0):
    """A slider over the output positions of a 3x3 correlation of a 5x5 input; padding 0 or 1."""
    return Explorer(
        draw_stepper, figsize=(8.0, 3.6),
        step=widgets.IntSlider(value=step, min=0, max=24, description="step", continuous_update=True),
        padding=widgets.IntSlider(value=padding, min=0, max=1, description="padding"),
    )


# -- 3. the shape explorer ----------------------------------------------------------------------
def draw_shapes(fig, size, kernel, padding, stride):
    """The padded input grid with the window positions (first row) and the output grid; the formula."""
    g = cnns.shape_geometry(size, kernel, padding, stride)
    padded = size + 2 * padding
    fig.set_layout_engine("none")
    ax = fig.add_axes([0.02, 0.18, 0.5, 0.72])
    ax.set_xlim(-0.5, padded + 0.5)
    ax.set_ylim(padded + 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_axis_off()
    for i in range(padded):
        for j in range(padded):
            is_pad = not (padding <= i < padding + size and padding <= j < padding + size)
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor="0.92" if is_pad else "#cfe3f7", edgecolor="0.6",
                                   lw=0.5))
    ax.set_title(f"input {size}x{size}, padded to {padded}x{padded} (gray: zeros)", fontsize=9)
    out_ax = fig.add_axes([0.56, 0.18, 0.42, 0.72])
    out_ax.set_axis_off()
    out_ax.set_aspect("equal")
    if g["valid"]:
        out = g["out"]
        for j in range(min(out, 6)):      # the first windows of the first row, a stride apart
            ax.add_patch(Rectangle((j * stride + 0.06 * j, 0.06 * j), kernel, kernel, fill=False,
                                   edgecolor=f"C{j % 10}", lw=2))
        if g["used"] < padded:
            ax.add_patch(Rectangle((g["used"], 0), padded - g["used"], padded, facecolor="C3", alpha=0.25))
        out_ax.set_xlim(-0.5, max(out, 1) + 0.5)
        out_ax.set_ylim(max(out, 1) + 0.5, -0.5)
        for i in range(out):
            for j in range(out):
                out_ax.add_patch(Rectangle((j, i), 1, 1, facecolor="#ffd9a8", edgecolor="0.5", lw=0.6))
        out_ax.set_title(f"output {out}x{out}", fontsize=9)
    result = g["out"] if g["valid"] else "-"
    fig.text(0.02, 0.09, f"h' = floor((h + 2P - k) / s) + 1 = {g['formula']} = {result}", fontsize=9,
             family="monospace")
    warn = not g["valid"] or g["used"] < padded
    fig.text(0.02, 0.02, g["message"], fontsize=9, color="C3" if warn else "k")


def shape_explorer(size=7, kernel=3, padding=1, stride=2):
    """Sliders for the input size, kernel size, padding and stride of one square convolution."""
    def int_slider(name, lo, hi, value):
        return widgets.IntSlider(value=value, min=lo, max=hi, description=name, continuous_update=False)
    return Explorer(draw_shapes, figsize=(8.0, 4.2), size=int_slider("input size h", 1, 12, size),
                    kernel=int_slider("kernel k", 1, 7, kernel),
                    padding=int_slider("padding P", 0, 3, padding),
                    stride=int_slider("stride s", 1, 4, stride))


# -- 4. the feature maps of a trained network ------------------------------------------------------------
def feature_map_viewer(model, images, labels=None):
    """Menus for the image, the layer and the channel of a trained Sequential CNN; every layer precomputed.

    Inputs:
        model: a trained dlcourse Sequential whose first layers map (N, 1, h, w) images to (N, C, h', w').
        images: (M, 1, h, w) the images to choose from (a few); labels: their (M,) labels, optional.
    """
    images = np.asarray(images)
    outputs = cnns.layer_outputs(model, images)
    maps = [(name, out) for name, out in outputs if out.ndim == 4]

    def draw(fig, image, layer, channel):
        name, out = maps[layer]
        channel = min(channel, out.shape[1] - 1)
        axes = fig.subplots(1, 3, gridspec_kw=dict(width_ratios=[1, 1, 2.2]))
        axes[0].imshow(images[image, 0], cmap="gray_r")
        axes[0].set_title("input" + (f" (label {labels[image]})" if labels is not None else ""), fontsize=9)
        fmap = out[image, channel]
        axes[1].imshow(fmap, cmap="magma")
        axes[1].set_title(f"{name}\nchannel {channel}, {fmap.shape[0]}x{fmap.shape[1]}", fontsize=9)
        count = out.shape[1]
        cols = int(np.ceil(np.sqrt(count * 2)))
        rows = int(np.ceil(count / cols))
        mosaic = np.full((rows * (out.shape[2] + 1), cols * (out.shape[3] + 1)), np.nan)
        for c in range(count):
            r, q = divmod(c, cols)
            m = out[image, c]
            scale = np.abs(m).max() + 1e-12
            mosaic[r * (m.shape[0] + 1):r * (m.shape[0] + 1) + m.shape[0],
                   q * (m.shape[1] + 1):q * (m.shape[1] + 1) + m.shape[1]] = m / scale
        axes[2].imshow(mosaic, cmap="magma")
        axes[2].set_title(f"all {count} channels of {name} (each scaled to its maximum)", fontsize=9)
        for ax in axes:
            ax.set_axis_off()

    options = [(name, i) for i, (name, _) in enumerate(maps)]
    most = max(out.shape[1] for _, out in maps)
    return Explorer(draw, figsize=(9.0, 3.0),
                    image=widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="image"),
                    layer=dropdown("layer", options, 1 if len(options) > 1 else 0),
                    channel=widgets.IntSlider(value=0, min=0, max=most - 1, description="channel"))


# -- 5. receptive fields ------------------------------------------------------------------------------
ARCHITECTURES = {
    "3x3 convs only": [("conv 3x3", 3, 1)] * 6,
    "3x3 conv, 2x2 pool, repeated": [("conv 3x3", 3, 1), ("pool 2x2", 2, 2)] * 3,
    "LeNet (5x5 conv, 2x2 pool) x2": [("conv 5x5", 5, 1), ("pool 2x2", 2, 2)] * 2,
    "stride-2 3x3 convs": [("conv 3x3 s2", 3, 2)] * 4,
}


def draw_receptive_field(fig, architecture, depth):
    """The receptive field of one unit after ``depth`` layers, drawn on a 28x28 grid; r and j by layer."""
    layers = ARCHITECTURES[architecture]
    depth = int(np.clip(depth, 0, len(layers)))
    fields = cnns.receptive_fields(layers[:depth])
    axes = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1, 1.3]))
    ax = axes[0]
    size = 28
    ax.imshow(_digit_28(), cmap="gray_r", extent=(-0.5, size - 0.5, size - 0.5, -0.5))
    colors = [f"C{i}" for i in range(10)]
    centre = 13.5
    for (_, r, _), color in zip(reversed(fields), colors, strict=False):
        ax.add_patch(Rectangle((centre - r / 2, centre - r / 2), r, r, fill=False, edgecolor=color, lw=2))
    ax.set_title(f"{fields[-1][1]}x{fields[-1][1]} pixels reach one unit of layer {depth}", fontsize=9)
    ax.set_axis_off()
    ax2 = axes[1]
    ax2.set_axis_off()
    lines = ["layer            r     j", ""]
    lines += [f"{i:>2} {name:12s} {r:4d} {j:4d}" for i, (name, r, j) in enumerate(fields)]
    ax2.text(0, 1, "\n".join(lines), family="monospace", fontsize=9, va="top", transform=ax2.transAxes)
    ax2.text(0, 0.02, "r_l = r_(l-1) + (k_l - 1) j_(l-1),  j_l = j_(l-1) s_l", fontsize=8,
             transform=ax2.transAxes)
    fig.suptitle(f"{architecture}: {depth} of {len(layers)} layers", fontsize=10)


@functools.cache
def _digit_28():
    from ..data import load_digits
    X = load_digits(flatten=False).X_train
    big = np.kron(X[3, 0].astype(np.float64), np.ones((3, 3)))           # 24x24, in a 28x28 frame
    return np.pad(big, 2)


def receptive_field_explorer(architecture="3x3 conv, 2x2 pool, repeated", depth=4):
    """A menu of architectures and a depth slider; the growing receptive field of one unit."""
    return Explorer(draw_receptive_field, figsize=(8.0, 3.6),
                    architecture=dropdown("architecture", list(ARCHITECTURES), architecture),
                    depth=widgets.IntSlider(value=depth, min=0, max=6, description="depth"))


__all__ = ["kernel_explorer", "draw_kernel", "parse_kernel", "format_kernel", "convolution_stepper",
           "draw_stepper", "shape_explorer", "draw_shapes", "feature_map_viewer", "receptive_field_explorer",
           "draw_receptive_field", "ARCHITECTURES"]
