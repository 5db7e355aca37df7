"""Potential customers' conversion to a first purchase (Kaplan-Meier curves)."""

from __future__ import annotations

import seaborn as sns

from analysis.plots import PALETTE, new_ax, percent_axis
from analysis.text import tr


def _group(label) -> str:
    """A channel or cohort label as the report shows it (``all`` / ``unknown`` translated)."""
    from analysis.lifecycle import group_label

    return group_label(label)


def conversion_curves(curves: dict, horizon_days: int | None = None, ax=None):
    """Cumulative conversion after sign-up per group, with its interval band.

    Parameters
    ----------
    curves : dict
        Group label -> :func:`analysis.lifecycle.conversion_curve`.
    horizon_days : int, optional
        Drawn as a dashed line (the horizon the tables quote).
    """
    ax = new_ax(ax, figsize=(10, 4.5))
    colors = sns.color_palette(PALETTE, max(len(curves), 1))
    for color, (label, curve) in zip(colors, curves.items(), strict=False):
        if curve.empty:
            continue
        ax.step(
            curve["days"], curve["converted"], where="post", color=color, lw=2, label=_group(label)
        )
        ax.fill_between(
            curve["days"], curve["low"], curve["high"], step="post", color=color, alpha=0.15
        )
    if horizon_days:
        ax.axvline(horizon_days, color="grey", ls="--", lw=1)
    percent_axis(ax, "y")
    ax.set_xlabel(tr("days since sign-up"))
    ax.set_ylabel(tr("made a first purchase"))
    ax.set_title(tr("Conversion to a first purchase (Kaplan-Meier, 95% band)"))
    ax.legend(loc="upper left")
    return ax


def conversion_bars(table, ax=None):
    """Share converted per group with its Wilson interval (the ``all`` row as a line)."""
    ax = new_ax(ax, figsize=(10, 4))
    groups = table.drop(index="all")
    y = range(len(groups))
    color = sns.color_palette(PALETTE)[0]
    ax.barh(list(y), groups["share"], color=color, alpha=0.8)
    ax.errorbar(
        groups["share"],
        list(y),
        xerr=[groups["share"] - groups["share_low"], groups["share_high"] - groups["share"]],
        fmt="none",
        ecolor="black",
        capsize=3,
    )
    ax.axvline(table.loc["all", "share"], color="grey", ls="--", lw=1)
    ax.set_yticks(list(y), [_group(g) for g in groups.index])
    ax.invert_yaxis()
    percent_axis(ax, "x")
    ax.set_xlabel(tr("share of sign-ups who bought (95% interval); dashed: all channels"))
    return ax
