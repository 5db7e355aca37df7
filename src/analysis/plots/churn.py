"""Figures of the churn notebook.

Every figure is drawn from aggregates (histogram counts, binned curves, at most a few
hundred points), so it costs the same on 1,000 or 1,000,000 customers.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from analysis import i18n
from analysis.plots import PALETTE, money_axis, new_ax, percent_axis
from analysis.text import date_label, tr, tr_name

MONEY_FEATURES = {"revenue", "avg_order_value", "spend_recent", "spend_earlier"}
SHORT = {
    "logistic": "Logistic regression",
    "boosting": "Gradient boosting",
    "btyd": "Purchase-model baseline",
    "palive": "1 - P(alive) baseline",
    "recency": "Recency-only baseline",
}
i18n.fixed_names(__name__, SHORT.values())


def _colors(keys):
    palette = sns.color_palette(PALETTE)
    fixed = {"logistic": 0, "boosting": 1, "palive": 2, "btyd": 3, "recency": 7}
    return {k: palette[fixed.get(k, i % len(palette))] for i, k in enumerate(keys)}


def design_timeline(design, ax=None):
    """The three cutoffs on a time line: feature history, label window, future."""
    ax = new_ax(ax, figsize=(11, 3.2))
    palette = sns.color_palette(PALETTE)
    window = pd.Timedelta(days=design.window_days)
    stages = [
        (tr("Score today"), design.score_cutoff),
        (tr("Evaluate (out of time)"), design.test_cutoff),
        (tr("Train"), design.train_cutoff),
    ]
    for y, (_name, cutoff) in enumerate(stages):
        start = mdates.date2num(design.first_date)
        cut = mdates.date2num(cutoff)
        end = mdates.date2num(cutoff + window)
        ax.barh(
            y,
            cut - start,
            left=start,
            color=palette[0],
            alpha=0.55,
            height=0.5,
            label=tr("features: purchases up to the cutoff") if y == 0 else None,
        )
        future = cutoff >= design.score_cutoff
        ax.barh(
            y,
            end - cut,
            left=cut,
            height=0.5,
            color=palette[3] if not future else "white",
            edgecolor=palette[3],
            hatch="//" if future else None,
            label=(
                tr("churn label: next window")
                if y == 1
                else tr("prediction window (future)")
                if future
                else None
            ),
        )
        ax.text(cut, y + 0.32, date_label(cutoff), ha="center", va="bottom", fontsize=9)
    ax.set_yticks(range(len(stages)))
    ax.set_yticklabels([s[0] for s in stages])
    ax.set_ylim(-0.6, len(stages) - 0.1)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.set_title(tr("Leakage-free design: {days}-day churn window", days=design.window_days))
    ax.set_xlabel(tr("date"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3)
    return ax


def reliability(curves: dict, ax=None):
    """Predicted vs observed churn rate per probability bin, one line per score."""
    ax = new_ax(ax, figsize=(6, 5))
    colors = _colors(list(curves))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label=tr("perfectly calibrated"))
    for key, curve in curves.items():
        ax.plot(
            curve["predicted"],
            curve["observed"],
            marker="o",
            color=colors[key],
            label=tr(SHORT.get(key, key)),
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    percent_axis(ax, "x")
    percent_axis(ax, "y")
    ax.set_title(tr("Reliability: predicted vs actual churn"))
    ax.set_xlabel(tr("predicted churn probability (bin average)"))
    ax.set_ylabel(tr("share who actually churned"))
    ax.legend(loc="upper left", fontsize=9)
    return ax


def gains(curves: dict, base_rate: float, ax=None):
    """Cumulative gains: share of churners reached vs share of customers contacted."""
    ax = new_ax(ax, figsize=(6, 5))
    colors = _colors(list(curves))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label=tr("random list"))
    best = min(1.0, base_rate) if base_rate > 0 else 1.0
    ax.plot(
        [0, best, 1], [0, 1, 1], color="grey", linestyle="--", linewidth=1, label=tr("perfect list")
    )
    for key, curve in curves.items():
        ax.plot(
            curve["share_contacted"],
            curve["share_captured"],
            color=colors[key],
            label=tr(SHORT.get(key, key)),
        )
    ax.axvline(0.1, color="black", linewidth=0.8, alpha=0.5)
    ax.text(0.11, 0.03, tr("top 10 %"), fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    percent_axis(ax, "x")
    percent_axis(ax, "y")
    ax.set_title(tr("Cumulative gains: who to call first"))
    ax.set_xlabel(tr("share of customers contacted (riskiest first)"))
    ax.set_ylabel(tr("share of churners reached"))
    ax.legend(loc="lower right", fontsize=9)
    return ax


def importance(table: pd.DataFrame, top: int = 10, ax=None):
    """Permutation importance bars (drop in ROC-AUC when a feature is shuffled)."""
    data = table.head(top).iloc[::-1]
    ax = new_ax(ax, figsize=(9, 0.38 * len(data) + 1.4))
    ax.barh(
        [tr(label) for label in data["label"]],
        data["importance"],
        xerr=data["std"],
        color=sns.color_palette(PALETTE)[0],
        ecolor="grey",
    )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title(tr("What drives the churn warning"))
    ax.set_xlabel(tr("drop in out-of-time ROC-AUC when the feature is shuffled"))
    return ax


def partial_dependence(curves: pd.DataFrame, currency: str = ""):
    """One panel per feature: average P(churn) as the feature moves over its usual range."""
    features = list(dict.fromkeys(curves["feature"]))
    fig, axes = plt.subplots(
        1, max(len(features), 1), figsize=(4.2 * max(len(features), 1), 3.8), squeeze=False
    )
    color = sns.color_palette(PALETTE)[3]
    for ax, feature in zip(axes[0], features, strict=False):
        c = curves.loc[curves["feature"] == feature]
        ax.plot(c["value"], c["p_churn"], marker="o", markersize=3, color=color)
        ax.set_xlabel(
            tr(c["label"].iloc[0])
            + (f" ({currency})" if feature in MONEY_FEATURES and currency else "")
        )
        if feature in MONEY_FEATURES:
            money_axis(ax, "x", currency)
        elif np.all(np.mod(c["value"], 1) == 0):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        lo, hi = c["p_churn"].min(), c["p_churn"].max()
        pad = max(0.05, (hi - lo) * 0.15)
        ax.set_ylim(max(0, lo - pad), min(1, hi + pad))
        percent_axis(ax, "y")
        ax.set_ylabel(tr("average predicted P(churn)"))
    fig.suptitle(
        tr("How the top drivers move churn risk (others held as observed)"), fontweight="bold"
    )
    return fig


def value_at_risk_by_segment(risk: pd.DataFrame, currency: str = "", top: int = 12, ax=None):
    """Stacked bars of expected value at risk per segment, split by risk band."""
    from analysis.churn import display_label

    table = risk.pivot_table(
        index="segment",
        columns="risk_band",
        values="value_at_risk",
        aggfunc="sum",
        observed=False,
        fill_value=0.0,
    )
    table = table.loc[table.sum(axis=1).sort_values(ascending=False).index[:top]].iloc[::-1]
    ax = new_ax(ax, figsize=(9, 0.42 * len(table) + 1.6))
    left = np.zeros(len(table))
    colors = sns.color_palette("YlOrRd", len(table.columns))
    for color, band in zip(colors, table.columns, strict=True):
        ax.barh(
            [tr_name(str(s)) for s in table.index], table[band], left=left, color=color,
            label=display_label(band),
        )  # fmt: skip
        left += table[band].to_numpy()
    money_axis(ax, "x", currency)
    ax.set_title(tr("Where the value at risk sits"))
    ax.set_xlabel(
        tr("expected value at risk ({currency})", currency=currency)
        if currency
        else tr("expected value at risk")
    )
    ax.legend(title=tr("P(churn) band"), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    return ax
