"""Figures of the segmentation notebook.

Every figure takes aggregated inputs (one row per segment, tier, k or a fixed
number of curve points), so it draws the same at a million customers.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.plots import PALETTE, new_ax, percent_axis
from analysis.text import tr


def _names(index) -> list[str]:
    """Segment / tier / stage names as the report shows them."""
    from analysis.segmentation import display_name

    return [display_name(i) for i in index]


def share_bars(table: pd.DataFrame, title: str, ax=None, label: str = "segment"):
    """Share of customers next to share of revenue, one pair of bars per group.

    Parameters
    ----------
    table : pandas.DataFrame
        Index = group (segment, tier, stage); ``customers``, ``customer_share`` and
        ``revenue_share``. Groups are drawn top to bottom in index order.
    """
    ax = new_ax(ax, figsize=(10, 0.45 * len(table) + 1.6))
    colors = sns.color_palette(PALETTE)
    y = np.arange(len(table))[::-1]
    height = 0.4
    ax.barh(y + height / 2, table["customer_share"], height, color=colors[0], label=tr("customers"))
    ax.barh(y - height / 2, table["revenue_share"], height, color=colors[1], label=tr("revenue"))
    top = float(np.nanmax(table[["customer_share", "revenue_share"]].to_numpy(dtype=float)))
    for yi, (n, cs, rs) in zip(
        y, table[["customers", "customer_share", "revenue_share"]].to_numpy(), strict=True
    ):
        ax.text(cs + top * 0.01, yi + height / 2, f"{cs:.0%} ({n:,.0f})", va="center", fontsize=9)
        ax.text(rs + top * 0.01, yi - height / 2, f"{rs:.0%}", va="center", fontsize=9)
    ax.set_yticks(y)
    ax.set_yticklabels(_names(table.index))
    ax.set_xlim(0, top * 1.25 if top > 0 else 1)
    percent_axis(ax, "x")
    ax.set_xlabel(tr("share of all customers / of all revenue to date"))
    ax.set_ylabel(tr(label))
    ax.set_title(tr(title))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: never over a bar label
    return ax


def lorenz(curve: pd.DataFrame, gini_value: float, tiers: pd.DataFrame, ax=None):
    """Lorenz curve of revenue with the line of equality and the high-tier cut marked.

    Parameters
    ----------
    curve : pandas.DataFrame
        :func:`analysis.segmentation.lorenz_curve` (``customer_share``, ``revenue_share``).
    tiers : pandas.DataFrame
        :func:`analysis.segmentation.tier_table` (index high/mid/low; ``customer_share``,
        ``revenue_share``).
    """
    ax = new_ax(ax, figsize=(6.5, 5.5))
    colors = sns.color_palette(PALETTE)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label=tr("every customer spends the same"))
    ax.plot(
        curve["customer_share"],
        curve["revenue_share"],
        color=colors[0],
        lw=2.5,
        label=tr("actual (Gini {gini:.2f})", gini=gini_value),
    )
    ax.fill_between(
        curve["customer_share"],
        curve["revenue_share"],
        curve["customer_share"],
        color=colors[0],
        alpha=0.12,
    )
    high = tiers.loc["high"]
    x = 1 - high["customer_share"]
    y = 1 - high["revenue_share"]
    ax.scatter([x], [y], color=colors[3], zorder=3)
    ax.annotate(
        tr(
            "top {cs:.0%} of customers\nmake {rs:.0%} of revenue",
            cs=high["customer_share"],
            rs=high["revenue_share"],
        ),
        (x, y),
        xytext=(0.05, 0.55),
        textcoords="axes fraction",
        arrowprops={"arrowstyle": "->", "color": "0.3"},
        fontsize=10,
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    percent_axis(ax, "x")
    percent_axis(ax, "y")
    ax.set_xlabel(tr("customers, smallest spenders first (cumulative share)"))
    ax.set_ylabel(tr("revenue (cumulative share)"))
    ax.set_title(tr("Revenue concentration (Lorenz curve)"))
    ax.legend(loc="upper left")
    return ax


def stage_outcomes(table: pd.DataFrame, ax=None):
    """Share of each life stage (at an earlier cutoff) that bought again afterwards.

    ``table``: :func:`analysis.segmentation.stage_outcomes` (index stage;
    ``customers``, ``bought_again``; ``attrs`` ``cutoff`` and ``days``).
    """
    ax = new_ax(ax, figsize=(9, 0.45 * len(table) + 1.6))
    colors = sns.color_palette(PALETTE)
    y = np.arange(len(table))[::-1]
    values = table["bought_again"].fillna(0).to_numpy(dtype=float)
    ax.barh(y, values, color=colors[0])
    for yi, v, n in zip(y, values, table["customers"].to_numpy(), strict=True):
        ax.text(v + 0.01, yi, tr("{v:.0%} of {n:,.0f}", v=v, n=n), va="center", fontsize=9)
    ax.set_yticks(y)
    ax.set_yticklabels(_names(table.index))
    ax.set_xlim(0, 1.15)
    percent_axis(ax, "x")
    cutoff, days = table.attrs.get("cutoff"), table.attrs.get("days")
    from analysis.demand import day_label

    ax.set_xlabel(
        tr("bought again in the {days} days after {cutoff}", days=days, cutoff=day_label(cutoff))
    )
    ax.set_title(tr("Do the stages predict who comes back? (stages as of the earlier cutoff)"))
    return ax


def k_selection(scores: pd.DataFrame, k: int, ax=None):
    """Silhouette and bootstrap stability for each k; the chosen k marked."""
    ax = new_ax(ax, figsize=(8, 4))
    colors = sns.color_palette(PALETTE)
    ax.plot(
        scores.index,
        scores["silhouette"],
        marker="o",
        color=colors[0],
        label=tr("silhouette (separation, higher is better)"),
    )
    ax.plot(
        scores.index,
        scores["stability"],
        marker="s",
        color=colors[1],
        label=tr("bootstrap stability (adjusted Rand)"),
    )
    ax.axvline(k, color="grey", ls="--", lw=1)
    ax.text(k, 0.02, tr(" chosen k = {k}", k=k), color="0.3", fontsize=10)
    ax.set_ylim(0, 1.05)
    ax.set_xticks(list(scores.index))
    ax.set_xlabel(tr("number of clusters k"))
    ax.set_ylabel(tr("score (0 to 1)"))
    ax.set_title(tr("Choosing the number of behavioural clusters"))
    ax.legend(loc="center right")
    return ax


def migration_heatmap(counts: pd.DataFrame, ax=None):
    """Where each segment's customers went: row shares coloured, customer counts written.

    Parameters
    ----------
    counts : pandas.DataFrame
        :func:`analysis.segmentation.migration_matrix` (rows = segment before,
        columns = segment now, customer counts).
    """
    rows = counts.loc[counts.sum(axis=1) > 0]
    cols = counts.columns[counts.sum(axis=0) > 0]
    rows = rows[cols]
    share = rows.div(rows.sum(axis=1), axis=0)
    ax = new_ax(ax, figsize=(0.85 * len(cols) + 3.5, 0.5 * len(rows) + 2.2))
    labels = rows.map(lambda v: f"{v:,.0f}" if v else "")
    share = share.set_axis(_names(share.index), axis=0).set_axis(_names(share.columns), axis=1)
    sns.heatmap(
        share,
        annot=labels.to_numpy(),
        fmt="",
        cmap="Blues",
        vmin=0,
        vmax=1,
        ax=ax,
        cbar_kws={"label": tr("share of the row's customers"), "format": "{x:.0%}"},
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": 9},
    )
    ax.set_xlabel(tr("segment now"))
    ax.set_ylabel(tr("segment at the previous cutoff"))
    ax.set_title(tr("Segment migration (numbers = customers)"))
    plt.setp(ax.get_xticklabels(), rotation=35, ha="right")
    return ax
