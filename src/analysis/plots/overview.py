"""Figures of the overview notebook."""

from __future__ import annotations

import pandas as pd
import seaborn as sns

from analysis import i18n
from analysis.overview import month_is_partial
from analysis.plots import PALETTE, money_axis, new_ax
from analysis.text import month_label, tr, tr_label

LABELS = {"revenue": "Revenue", "orders": "Orders", "customers": "Active customers"}
i18n.fixed_names(__name__, LABELS.values())


def monthly_bars(month: pd.DataFrame, column: str, as_of, ax=None, currency: str = ""):
    """Bars of one monthly measure; a month still running at ``as_of`` is hatched."""
    ax = new_ax(ax)
    color = sns.color_palette(PALETTE)[0]
    labels = [month_label(p) for p in month.index]
    bars = ax.bar(labels, month[column].to_numpy(), color=color)
    for bar, period in zip(bars, month.index, strict=True):
        if month_is_partial(period, as_of):
            bar.set_hatch("//")
            bar.set_alpha(0.45)
            bar.set_label(tr("month in progress"))
    label = tr_label(LABELS.get(column, column))
    unit = f" ({currency})" if column == "revenue" and currency else ""
    ax.set_title(tr("{label} per month", label=label))
    ax.set_ylabel(f"{label}{unit}")
    ax.set_xlabel(tr("month"))
    if column == "revenue":
        money_axis(ax, "y", currency)
    step = max(1, len(labels) // 12)
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels(labels[::step], rotation=45, ha="right")
    if any(month_is_partial(p, as_of) for p in month.index):
        ax.legend(loc="upper left")
    return ax
