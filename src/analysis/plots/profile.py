"""The customer profile's figure: one customer's purchases over time."""

from __future__ import annotations

import seaborn as sns

from analysis.plots import PALETTE, money_axis, new_ax
from analysis.text import tr


def purchase_timeline(timeline, as_of, currency: str = "", ax=None):
    """Spend per purchase day (stems) and cumulative spend (line), the cutoff marked.

    Parameters
    ----------
    timeline : pandas.DataFrame
        :func:`analysis.profile.purchases` (index date; ``amount``, ``spend``).
    as_of : date-like
        The cutoff, drawn as a dashed line.
    """
    ax = new_ax(ax, figsize=(10, 3.5))
    colors = sns.color_palette(PALETTE)
    ax.vlines(
        timeline.index, 0, timeline["amount"], color=colors[0], lw=2, label=tr("spend that day")
    )
    ax.plot(timeline.index, timeline["amount"], "o", color=colors[0], ms=4)
    ax.axvline(as_of, color="grey", ls="--", lw=1)
    money_axis(ax, "y", currency)
    ax.set_ylabel(tr("spend per purchase day"))
    twin = ax.twinx()
    twin.step(timeline.index, timeline["spend"], where="post", color=colors[1], lw=1.5)
    money_axis(twin, "y", currency)
    twin.set_ylabel(tr("cumulative spend"), color=colors[1])
    twin.grid(False)
    ax.set_title(tr("Purchases up to the cutoff"))
    return ax
