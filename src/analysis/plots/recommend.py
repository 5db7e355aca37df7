"""Figures of the recommendations notebook (drawn from small result tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from analysis.plots import PALETTE, new_ax, percent_axis
from analysis.text import tr, tr_name


def method_recall(
    validation: pd.DataFrame, test: pd.DataFrame, labels: dict, shipped: str, k: int, ax=None
):
    """Recall@k of each method on the validation and the test window (best settings each).

    ``validation`` / ``test``: :func:`analysis.recommend.compare_methods` tables (``method``,
    ``recall``); the shipped method is marked "(shipped)".
    """
    ax = new_ax(ax, figsize=(9, 0.6 * test["method"].nunique() + 1.5))
    best_valid = validation.groupby("method", sort=False)["recall"].max()
    names = tuple(labels.values())
    frame = pd.DataFrame(
        {
            "validation": best_valid.reindex(test["method"]).to_numpy(),
            "test (untouched)": test["recall"].to_numpy(),
        },
        index=[
            tr_name(labels.get(m, m), names) + (tr(" (shipped)") if m == shipped else "")
            for m in test["method"]
        ],
    ).sort_values("test (untouched)")
    y = np.arange(len(frame))
    colors = sns.color_palette(PALETTE)
    ax.barh(y + 0.2, frame["validation"], height=0.4, color=colors[7], label=tr("validation"))
    ax.barh(
        y - 0.2,
        frame["test (untouched)"],
        height=0.4,
        color=colors[0],
        label=tr("test (untouched)"),
    )
    for yi, value in zip(y, frame["test (untouched)"], strict=True):
        ax.annotate(f"{value:.1%}", (value, yi - 0.2), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=9)  # fmt: skip
    ax.set_yticks(y, frame.index)
    percent_axis(ax, "x", decimals=1)
    ax.set_xlabel(tr("recall@{k}: share of what customers bought next found in their top {k}", k=k))
    ax.set_title(tr("Which method finds what customers buy next"))
    ax.legend(loc="lower right")
    return ax


def bought_together(table: pd.DataFrame, ax=None, max_chars: int = 34):
    """The strongest bought-together pairs as bars of lift, confidence written on each.

    ``table``: :func:`analysis.recommend.rules_table` (``who buys``, ``also buys``,
    ``confidence``, ``lift``, ``orders``), one bar per rule.
    """
    ax = new_ax(ax, figsize=(10, 0.42 * len(table) + 1.4))
    if table.empty:
        ax.text(
            0.5, 0.5, tr("no rule reaches the support floor"), ha="center", transform=ax.transAxes
        )
        ax.set_axis_off()
        return ax
    data = table.iloc[::-1]

    def short(text: str) -> str:
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    labels = [
        f"{short(a)} → {short(b)}" for a, b in zip(data["who buys"], data["also buys"], strict=True)
    ]
    y = np.arange(len(data))
    ax.barh(y, data["lift"], color=sns.color_palette(PALETTE)[2])
    for yi, (lift, conf, orders) in enumerate(
        zip(data["lift"], data["confidence"], data["orders"], strict=True)
    ):
        text = tr("{c} of buyers · {n} orders", c=f"{conf:.0%}", n=f"{orders:,}")
        ax.annotate(text, (lift, yi), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=8)  # fmt: skip
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlabel(tr("lift: how many times more often than chance the second is in the same order"))
    ax.set_title(tr("Bought together: put these side by side, bundle them, suggest at checkout"))
    ax.set_xlim(0, data["lift"].max() * 1.45)
    return ax


def segment_recall(table: pd.DataFrame, column: str, k: int, ax=None):
    """Recall@k of the shipped method by segment (bar width ~ customers evaluated)."""
    ax = new_ax(ax, figsize=(9, 0.4 * len(table) + 1.4))
    data = table.sort_values(column)
    overall = np.average(table[column], weights=table["customers"])
    colors = [sns.color_palette(PALETTE)[0 if v >= overall else 3] for v in data[column]]
    ax.barh([str(i) for i in data.index], data[column], color=colors)
    for yi, (value, n) in enumerate(zip(data[column], data["customers"], strict=True)):
        text = tr("{v} ({n} customers)", v=f"{value:.0%}", n=f"{n:,}")
        ax.annotate(text, (value, yi), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=9)  # fmt: skip
    ax.axvline(overall, color="black", linestyle="--", linewidth=1)
    percent_axis(ax, "x")
    ax.set_xlim(0, data[column].max() * 1.35 if data[column].max() > 0 else 1)
    ax.set_xlabel(tr("recall@{k} on the test window (dashed: all customers)", k=k))
    ax.set_title(tr("Whom the recommendations serve well"))
    return ax
