"""Figures of the behaviour notebook: funnel, next moves, time to convert, activity."""

from __future__ import annotations

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from analysis import i18n
from analysis.behaviour import step_label as _step
from analysis.plots import PALETTE, SEQUENTIAL, new_ax, percent_axis
from analysis.text import tr, tr_name

#: Period words of the activity figures' ``label`` argument.
PERIOD_WORDS = i18n.fixed_names(__name__, ("day", "week", "month", "days", "weeks", "months"))


def tr_period(word: str) -> str:
    """A period word of :data:`PERIOD_WORDS` translated (other words kept)."""
    return tr_name(word, PERIOD_WORDS)


def funnel_steps(table: pd.DataFrame, window_hours: float, ax=None):
    """The funnel as a step chart a manager reads alone: one bar per step, visitors and
    share of entrants on each bar, the drop-off between steps written beside it.

    ``table`` is :func:`analysis.behaviour.funnel_table`.
    """
    ax = new_ax(ax, figsize=(10, 1.1 * len(table) + 1.5))
    colors = sns.color_palette(PALETTE)
    y = np.arange(len(table))[::-1]
    top = float(table["visitors"].max()) or 1.0
    ax.barh(y, table["visitors"], color=colors[0], height=0.6)
    for yi, (_, row) in zip(y, table.iterrows(), strict=True):
        ax.text(
            row["visitors"] + top * 0.01,
            yi,
            f"{row['visitors']:,}  ({row['conversion']:.1%})",
            va="center",
            fontsize=11,
        )
        if row.name > 0:
            ax.text(
                top * 1.02,
                yi + 0.5,
                tr("−{p} drop out", p=f"{row['drop_off']:.0%}"),
                va="center",
                ha="left",
                color=colors[3],
                fontsize=10,
            )
    ax.set_yticks(y)
    ax.set_yticklabels([_step(s) for s in table["step"]])
    ax.set_xlim(0, top * 1.35)
    ax.set_xlabel(tr("visitors"))
    ax.set_title(
        tr("Funnel: visitors reaching each step within {h:g} h of the first", h=window_hours)
    )
    ax.grid(axis="y", visible=False)
    return ax


def next_moves(nexts: pd.DataFrame, ax=None, max_moves: int = 5):
    """What drop-outs did next, per step: 100 % bars split by the next move.

    ``nexts`` is :func:`analysis.behaviour.next_after_dropout`; moves beyond the
    ``max_moves`` most common are pooled as "other".
    """
    ax = new_ax(ax, figsize=(10, 1.0 * nexts["dropped_at"].nunique() + 2))
    common = nexts.groupby("next")["visitors"].sum().sort_values(ascending=False).index
    keep = list(common[:max_moves])
    data = nexts.assign(next=nexts["next"].where(nexts["next"].isin(keep), "other"))
    wide = data.pivot_table(
        index="dropped_at", columns="next", values="share", aggfunc="sum", sort=False
    ).fillna(0.0)
    wide = wide[[c for c in [*keep, "other"] if c in wide.columns]]
    left = np.zeros(len(wide))
    colors = sns.color_palette(PALETTE, len(wide.columns))
    labels = [tr("stopped after {step}", step=_step(s)) for s in wide.index]
    for color, col in zip(colors, wide.columns, strict=True):
        ax.barh(labels, wide[col], left=left, color=color, label=_step(col))
        for i, v in enumerate(wide[col]):
            if v >= 0.06:
                ax.text(left[i] + v / 2, i, f"{v:.0%}", ha="center", va="center", color="white")
        left += wide[col].to_numpy()
    percent_axis(ax, "x")
    ax.invert_yaxis()
    ax.set_xlabel(tr("share of the step's drop-outs"))
    ax.set_title(tr("What visitors did next after dropping out"))
    ax.legend(title=tr("next move"), bbox_to_anchor=(1.01, 1), loc="upper left")
    return ax


def time_to_convert(hours: pd.Series, ax=None):
    """Distribution of hours from the first step to the last, with the median marked."""
    ax = new_ax(ax)
    if hours.empty:
        ax.set_title(tr("No visitor completed the funnel"))
        return ax
    floor = 1 / 60  # one minute: same-minute conversions share the first bin
    edges = np.geomspace(floor, max(hours.max(), 1.0) * 1.01, 30)
    ax.hist(hours.clip(lower=floor), bins=edges, color=sns.color_palette(PALETTE)[0])
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda x, _: tr("{x:g} h", x=x)))
    median = hours.median()
    ax.axvline(median, color=sns.color_palette(PALETTE)[3], ls="--",
               label=tr("median {m:.1f} h", m=median))  # fmt: skip
    ax.set_xlabel(tr("hours from first step to purchase (log scale)"))
    ax.set_ylabel(tr("converting visitors"))
    ax.set_title(tr("Time to convert"))
    ax.legend()
    return ax


def active_visitors(activity: pd.DataFrame, ax=None, label: str = "day"):
    """Active visitors per period, split into new and returning, stacked bars."""
    ax = new_ax(ax)
    colors = sns.color_palette(PALETTE)
    ticks = [f"{p:%m-%d}" for p in activity.index]
    ax.bar(ticks, activity["returning"], color=colors[0], label=tr("returning"))
    ax.bar(ticks, activity["new"], bottom=activity["returning"], color=colors[1], label=tr("new"))
    ax.set_ylabel(tr("active visitors per {period}", period=tr_period(label)))
    ax.set_title(tr("Active visitors per {period}: new and returning", period=tr_period(label)))
    ax.legend(loc="upper left")
    return ax


def cohort_heatmap(cohorts: pd.DataFrame, ax=None, label: str = "days"):
    """Share of each first-visit cohort active N periods later."""
    ax = new_ax(ax, figsize=(10, 0.4 * len(cohorts) + 1.5))
    data = cohorts.copy()
    data.index = [f"{p:%Y-%m-%d}" for p in data.index]
    sns.heatmap(data, annot=True, fmt=".0%", cmap=SEQUENTIAL, cbar=False, ax=ax, vmin=0, vmax=1)
    ax.set_xlabel(tr("{periods} since first visit", periods=tr_period(label)))
    ax.set_ylabel(tr("first visit"))
    ax.set_title(tr("Returning visitors by first-visit cohort"))
    ax.grid(False)
    return ax
