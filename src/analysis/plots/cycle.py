"""The purchase-cycle figure every notebook shows (one definition, one picture)."""

from __future__ import annotations

import numpy as np
import seaborn as sns

from analysis.plots import PALETTE, new_ax, percent_axis
from analysis.text import tr


def cycle_curve(cycle, marks: dict | None = None, ax=None):
    """Share of repeat customers not yet back after each number of days, thresholds marked.

    Parameters
    ----------
    cycle : analysis.cycle.Cycle
        :func:`analysis.cycle.purchase_cycle` output (Kaplan-Meier curve, a step per
        distinct interval length, so at most a few hundred points).
    marks : dict, optional
        Label -> days of the thresholds a notebook uses (``{"churn window": 124}``).
    """
    ax = new_ax(ax, figsize=(10, 4))
    colors = sns.color_palette(PALETTE)
    curve = cycle.survival
    ax.step(curve["days"], curve["not_back"], where="post", color=colors[0], lw=2)
    for i, (label, days) in enumerate((marks or {}).items()):
        if days is None or not np.isfinite(days):
            continue
        color = colors[(i + 2) % len(colors)]
        ax.axvline(days, color=color, lw=1.5, ls="--")
        ax.text(
            days,
            0.97 - 0.09 * i,
            tr(" {label}: {days:.0f} days", label=tr(label), days=days),
            color=color,
            va="top",
            fontsize=10,
            fontweight="bold",
        )
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max(float(curve["days"].max()), 1.0))
    percent_axis(ax, "y")
    ax.set_xlabel(tr("days since the customer's previous purchase"))
    ax.set_ylabel(tr("repeat customers not yet back"))
    ax.set_title(tr("How long customers take to come back (silences still running included)"))
    return ax
