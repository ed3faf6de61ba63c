"""The stress run's figures: the sensitivity spectrum, accuracy against strength, the counterfactual per spot."""

from __future__ import annotations

import numpy as np
import polars as pl

from spectral_fast.render.plots import REST, pyplot, spot_colour
from spectral_fast.render.primitives import png

#: Colour of each band gain in the sensitivity spectrum: attenuations blue, amplifications red.
GAIN_COLOURS = {0.25: "#1f4e79", 0.5: "#5b9bd5", 2.0: "#e07b39", 4.0: "#a61c00"}


def plot_sensitivity_spectrum(table: pl.DataFrame, base_accuracy: float, title: str = "") -> str:
    """Accuracy against the centre of the octave whose gain was changed, one line per gain.

    The band is the paired 95 % interval of the change (unchanged accuracy +
    the interval of the accuracy change): what the change does on this
    sample, without the sample's own uncertainty about the accuracy.
    """
    plt = pyplot()
    band = table.filter(pl.col("family") == "band").sort("centre")
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for gain in sorted(set(band["strength"].to_list())):
        rows = band.filter(pl.col("strength") == gain)
        colour = GAIN_COLOURS.get(gain, "#34495e")
        x = rows["centre"].to_numpy()
        base = rows["base_accuracy"].to_numpy()
        lo, hi = base + rows["accuracy_change_low"].to_numpy(), base + rows["accuracy_change_high"].to_numpy()
        ax.fill_between(x, lo, hi, color=colour, alpha=0.15)
        ax.plot(x, rows["accuracy"].to_numpy(), "o-", color=colour, lw=1.6, ms=3.5, label=f"gain {gain:g}×")
    ax.axhline(base_accuracy, color="#7f8c8d", ls="--", lw=1, label=f"unchanged {base_accuracy:.1%}")
    ax.set_xscale("log")
    ax.set_xlabel("centre of the octave changed (cycles/px)")
    ax.set_ylabel("accuracy (paired 95 % band)")
    ax.set_title(title or "sensitivity spectrum: accuracy when one octave is attenuated or amplified", fontsize=9)
    ax.legend(fontsize=7, frameon=False, ncol=3)
    ax.grid(alpha=0.3)
    return png(fig)


def plot_strength(table: pl.DataFrame, base_accuracy: float) -> str:
    """Accuracy (paired 95 % interval of the change) against strength for each simulator change, one panel each."""
    plt = pyplot()
    acq = table.filter(pl.col("family") == "acquisition")
    names = list(dict.fromkeys(acq["change"].to_list()))
    cols = min(4, max(len(names), 1))
    rows_n = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(2.1 * cols, 1.9 * rows_n), squeeze=False, sharey=True)
    for ax, name in zip(axes.ravel(), names):
        rows = acq.filter(pl.col("change") == name)
        x = np.arange(rows.height)
        acc = rows["accuracy"].to_numpy()
        err = [
            np.maximum(acc - rows["accuracy_low"].to_numpy(), 0),
            np.maximum(rows["accuracy_high"].to_numpy() - acc, 0),
        ]
        ax.errorbar(x, acc, yerr=err, fmt="o-", color="#c0392b", ms=3.5, lw=1.2, capsize=2)
        ax.axhline(base_accuracy, color="#7f8c8d", ls="--", lw=0.8)
        ax.set_xticks(x, [f"{s:g}" for s in rows["strength"].to_list()], fontsize=7)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    axes[0, 0].set_ylabel("accuracy", fontsize=8)
    fig.tight_layout()
    return png(fig)


def plot_counterfactual(spots: list[dict]) -> str:
    """Per blind spot, the error rise outside and fall inside (95 % interval), the spot's gain and the control's."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * max(len(spots), 1) * 2 + 1.0))
    labels, y = [], 0
    for i, spot in enumerate(spots):
        for eff, name in (("rise_outside", "rise outside"), ("fall_inside", "fall inside")):
            for test, colour, dy in (("spot", spot_colour(i), -0.12), ("control", REST, 0.12)):
                est, lo, hi = spot[test][eff]
                if np.isfinite(est):
                    ax.errorbar(est, y + dy, xerr=[[max(est - lo, 0)], [max(hi - est, 0)]], fmt="o", color=colour,
                                capsize=3, ms=4)  # fmt: skip
            labels.append(f"spot {spot['rank']}: {name}")
            y += 1
        ax.axvline(spot["gap"], color=spot_colour(i), lw=0.8, ls=":")
    ax.axvline(0.0, color="#34495e", lw=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("change in error rate (coloured: the spot's spectrum; grey: random control; dotted: spot's excess)")
    ax.xaxis.label.set_size(8)
    ax.grid(axis="x", alpha=0.3)
    return png(fig)
