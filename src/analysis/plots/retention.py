"""The retention what-if of the lifetime-value notebook (:mod:`analysis.clv.retention`)."""

from __future__ import annotations

import numpy as np
import seaborn as sns

from analysis.plots import PALETTE, money_axis, new_ax
from analysis.text import tr


def uplift_bars(uplift, ax=None, currency: str = ""):
    """CLV gained by group if retention rose, and by winning back the at-risk group.

    Bars: the change in CLV of all customers and of each group (life stage) in the
    retention what-if, and the win-back of the at-risk group; whiskers: the bootstrap
    interval where there is one.

    Parameters
    ----------
    uplift : analysis.clv.retention.RetentionUplift
        :func:`analysis.clv.retention.retention_uplift` output.
    """
    ax = new_ax(ax, figsize=(9, 4))
    colors = sns.color_palette(PALETTE)
    table = uplift.table
    labels = [tr(str(group)) for group in table.index]
    change = table["clv_change"].to_numpy(dtype=float)
    low, high = table["low"].to_numpy(dtype=float), table["high"].to_numpy(dtype=float)
    rows = list(zip(labels, change, low, high, [colors[0]] * len(labels), strict=True))
    back = uplift.winback
    if back["customers"] > 0:
        rows.append((tr("win back the at-risk customers"), back["clv_change"], back["low"],
                     back["high"], colors[2]))  # fmt: skip
    y = np.arange(len(rows))[::-1]
    for pos, (_, value, lo, hi, color) in zip(y, rows, strict=True):
        ax.barh(pos, value, color=color, alpha=0.85)
        if np.isfinite(lo) and np.isfinite(hi):
            ax.errorbar(value, pos, xerr=[[max(value - lo, 0)], [max(hi - value, 0)]],
                        color="black", capsize=4, lw=1)  # fmt: skip
    ax.set_yticks(y, [row[0] for row in rows])
    money_axis(ax, "x", currency)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel(tr("change in CLV over the horizon"))
    ax.set_title(
        tr("What +{points:.1f} points of retention are worth, and a win-back").format(
            points=uplift.points
        )
    )
    return ax
