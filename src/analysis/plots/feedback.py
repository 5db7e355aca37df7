"""Figures of the satisfaction notebook (scores, groups, trend, drivers, themes, sentiment)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from analysis.feedback import BREAKDOWNS, DRIVER_NAMES, group_label
from analysis.plots import PALETTE, new_ax, percent_axis
from analysis.text import tr, tr_name

#: promoter / passive / detractor colours
GROUP_COLOURS = {"promoter": "#2a9d8f", "passive": "#e9c46a", "detractor": "#e76f51"}


def score_distribution(scores: pd.Series, groups: pd.Series, ax=None):
    """Answers per score, coloured promoter / passive / detractor."""
    ax = new_ax(ax, figsize=(9, 4))
    frame = pd.DataFrame({"score": scores, "group": groups.astype(object)}).dropna()
    counts = frame.groupby(["score", "group"]).size().reset_index(name="answers")
    colours = [GROUP_COLOURS.get(g, "grey") for g in counts["group"]]
    ax.bar(counts["score"].astype(float), counts["answers"], color=colours, width=0.8)
    ax.set_xticks(sorted(frame["score"].unique()))
    ax.set_title(tr("Answers by score"))
    ax.set_xlabel(tr("score"))
    ax.set_ylabel(tr("answers"))
    handles = [
        ax.bar(0, 0, color=c, label=group_label("group", g)) for g, c in GROUP_COLOURS.items()
    ]
    ax.legend(handles=handles, loc="upper left")
    return ax


def nps_by_group(table: pd.DataFrame, by: str, max_rows: int = 20, ax=None):
    """NPS per group with its 95 % interval; groups flagged small are grey."""
    data = table.head(max_rows).iloc[::-1]
    ax = new_ax(ax, figsize=(9, 0.32 * len(data) + 1.4))
    y = np.arange(len(data))
    main = sns.color_palette(PALETTE)[0]
    colours = ["lightgrey" if small else main for small in data["small"]]
    err = np.vstack([data["nps"] - data["nps_low"], data["nps_high"] - data["nps"]]).clip(min=0)
    ax.errorbar(data["nps"], y, xerr=err, fmt="none", ecolor="grey", elinewidth=1, capsize=2)
    ax.scatter(data["nps"], y, c=colours, zorder=3)
    ax.set_yticks(
        y,
        [
            f"{group_label(by, i)} (n={int(n):,})"
            for i, n in zip(data.index, data["responses"], strict=True)
        ],
    )
    ax.axvline(0, color="black", lw=0.6)
    ax.set_title(
        tr(
            "NPS by {by} (95 % interval; grey = too few answers to rank)",
            by=tr_name(by, BREAKDOWNS),
        )
    )
    ax.set_xlabel("NPS")
    return ax


def nps_trend(periods: pd.DataFrame, ax=None):
    """NPS per period with its 95 % band (small periods hollow)."""
    ax = new_ax(ax, figsize=(10, 4))
    x = periods.index
    ax.fill_between(x, periods["nps_low"], periods["nps_high"], alpha=0.2)
    ax.plot(x, periods["nps"], marker="o", ms=3)
    small = periods["small"]
    ax.scatter(x[small], periods.loc[small, "nps"], facecolors="white", edgecolors="grey", zorder=3)
    ax.set_title(tr("NPS per period with its 95 % interval"))
    ax.set_ylabel("NPS")
    return ax


def drivers(table: pd.DataFrame, ax=None):
    """Share of the explained variation in scores by driver (Shapley R^2)."""
    data = table["share"].sort_values()
    ax = new_ax(ax, figsize=(8, 0.4 * len(data) + 1.2))
    names = [tr_name(d, DRIVER_NAMES) for d in data.index]
    ax.barh(names, data.to_numpy(), color=sns.color_palette(PALETTE)[0])
    percent_axis(ax, "x")
    ax.set_title(tr("What moves the score (share of explained variation)"))
    ax.set_xlabel(tr("share of R²"))
    return ax


def themes(table: pd.DataFrame, ax=None):
    """Share of comments per theme, coloured by score impact (red lowers the score)."""
    data = table.sort_values("share")
    ax = new_ax(ax, figsize=(9, 0.4 * len(data) + 1.2))
    impact = data["impact"].fillna(0).to_numpy()
    scale = max(float(np.abs(impact).max()), 1e-9)
    cmap = sns.color_palette("RdBu", as_cmap=True)
    ax.barh(list(data["theme"]), data["share"], color=[cmap(0.5 + v / scale / 2) for v in impact])
    for y, (share, v) in enumerate(zip(data["share"], data["impact"], strict=True)):
        if pd.notna(v):
            ax.text(share, y, f"  {v:+.2f}", va="center", fontsize=9)
    percent_axis(ax, "x")
    ax.set_title(tr("Themes: share of comments (label: score impact)"))
    ax.set_xlabel(tr("share of comments"))
    return ax


def sentiment_by_score(scores: pd.Series, sentiment: pd.Series, ax=None):
    """Comment sentiment for each score (box plot): agreement at a glance."""
    ax = new_ax(ax, figsize=(8, 4))
    data = pd.DataFrame({"score": scores, "sentiment": sentiment}).dropna()
    sns.boxplot(data=data, x="score", y="sentiment", ax=ax, color=sns.color_palette(PALETTE)[0],
                fliersize=1)  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel(tr("score"))
    ax.set_ylabel(tr("sentiment"))
    ax.set_title(tr("Comment sentiment by score"))
    return ax


def repurchase(table: pd.DataFrame, ax=None):
    """Repurchase rate by promoter / passive / detractor with Wilson intervals."""
    ax = new_ax(ax, figsize=(7, 3.5))
    data = table[table["customers"] > 0]
    x = np.arange(len(data))
    err = np.vstack([data["rate"] - data["low"], data["high"] - data["rate"]]).clip(min=0)
    ax.bar(x, data["rate"], color=[GROUP_COLOURS[g] for g in data.index])
    ax.errorbar(x, data["rate"], yerr=err, fmt="none", ecolor="black", capsize=3)
    ax.set_xticks(
        x,
        [
            f"{group_label('group', g)}\n(n={int(n):,})"
            for g, n in zip(data.index, data["customers"], strict=True)
        ],
    )
    percent_axis(ax, decimals=1 if data["high"].max() < 0.1 else 0)
    ax.set_title(tr("Bought again after answering"))
    return ax
