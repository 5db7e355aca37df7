"""Figures of the demand notebook.

Every function takes the small tables computed by :mod:`analysis.demand` and
returns an ``Axes`` (or a ``Figure`` for multi-panel plots).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch

from analysis.demand import MEASURE_LABELS, period_label
from analysis.plots import PALETTE, SEQUENTIAL, money_axis, new_ax, percent_axis
from analysis.text import date_label, month_label


def _money_axis(ax, axis: str, currency: str) -> None:
    """Money ticks on round steps (1, 2, 5, 10 x 10^k): the shared formatter prints whole
    thousands, so a 2.5k step would read as "2k"."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(mticker.MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    money_axis(ax, axis, currency)


def _tick_labels(index: pd.PeriodIndex) -> list[str]:
    if index.freqstr.startswith("M"):
        return [month_label(p, "%b %y") for p in index]
    return [date_label(p.start_time, "%d %b %y") for p in index]


def _sparse_xticks(ax, labels: list[str], max_ticks: int = 14) -> None:
    step = max(1, int(np.ceil(len(labels) / max_ticks)))
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels(labels[::step], rotation=45, ha="right")


def period_bars(series: pd.DataFrame, column: str, ax=None, currency: str = "", legend=True):
    """Bars of one measure per period; partial periods hatched and pale.

    Parameters
    ----------
    series : pandas.DataFrame
        Output of :func:`analysis.demand.period_series` (``column`` and ``complete``).
    """
    ax = new_ax(ax)
    color = sns.color_palette(PALETTE)[0]
    labels = _tick_labels(series.index)
    bars = ax.bar(range(len(series)), series[column].fillna(0).to_numpy(), color=color, width=0.8)
    for bar, complete in zip(bars, series["complete"].to_numpy(), strict=True):
        if not complete:
            bar.set_hatch("///")
            bar.set_alpha(0.35)
    unit = "month" if series.index.freqstr.startswith("M") else "week"
    label = MEASURE_LABELS.get(column, column)
    money = column in ("revenue", "avg_order_value")
    ax.set_title(f"{label} per {unit}")
    ax.set_ylabel(f"{label} ({currency})" if money and currency else label)
    ax.set_xlabel(f"{unit} (weeks start Monday)" if unit == "week" else unit)
    if money:
        _money_axis(ax, "y", currency)
    else:
        ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
    _sparse_xticks(ax, labels)
    if legend and (~series["complete"]).any():
        ax.legend(handles=[_partial_patch()], loc="upper left")
    return ax


def _partial_patch():
    color = sns.color_palette(PALETTE)[0]
    return Patch(
        facecolor=color,
        alpha=0.35,
        hatch="///",
        label="partial period (incomplete total, not a drop)",
    )


def trend_panels(series: pd.DataFrame, currency: str = ""):
    """2 × 2 panels: revenue, orders, active customers, average order value per period."""
    fig, axes = plt.subplots(2, 2, figsize=(13, 7.5))
    for ax, column in zip(axes.ravel(), MEASURE_LABELS, strict=True):
        period_bars(series, column, ax=ax, currency=currency, legend=False)
    if (~series["complete"]).any():
        fig.legend(handles=[_partial_patch()], loc="upper right", bbox_to_anchor=(1.0, 1.0))
        engine = fig.get_layout_engine()
        if engine is not None and hasattr(engine, "set"):
            engine.set(rect=(0, 0, 1, 0.96))
        else:
            fig.subplots_adjust(top=0.9)
    return fig


def new_returning(table: pd.DataFrame, as_of, currency: str = ""):
    """Stacked monthly bars: revenue and customers from first-time vs repeat buyers.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`analysis.demand.new_vs_returning`.
    """
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    colors = sns.color_palette(PALETTE)
    labels = _tick_labels(table.index)
    x = np.arange(len(table))
    partial = table.index.end_time.normalize() > pd.Timestamp(as_of).normalize()
    pairs = (
        ("new_revenue", "repeat_revenue", "Revenue", "first purchases", "repeat purchases"),
        ("new_customers", "returning_customers", "Customers", "new", "returning"),
    )
    for ax, (a, b, title, la, lb) in zip(axes, pairs, strict=True):
        bottom = ax.bar(x, table[a].to_numpy(), color=colors[1], label=la)
        top = ax.bar(x, table[b].to_numpy(), bottom=table[a].to_numpy(), color=colors[0], label=lb)
        for i in np.flatnonzero(partial):
            for bar in (bottom[i], top[i]):
                bar.set_hatch("///")
                bar.set_alpha(0.35)
        ax.set_title(f"{title} per month: {la} vs {lb}")
        ax.set_xlabel("month" + (" (hatched: still running)" if partial.any() else ""))
        if title == "Revenue":
            ax.set_ylabel(f"Revenue ({currency})" if currency else "Revenue")
            _money_axis(ax, "y", currency)
        else:
            ax.set_ylabel("Customers buying in the month")
            ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
        _sparse_xticks(ax, labels)
        ax.legend(loc="best")
    return fig


def activity_heatmap(table: pd.DataFrame, ax=None):
    """Heatmap of average orders per day by weekday × hour (or × calendar month)."""
    by = table.attrs.get("by", "hour")
    ax = new_ax(ax, figsize=(12, 3.8))
    labels = [f"{h:02d}h" for h in table.columns] if by == "hour" else list(table.columns)
    sns.heatmap(
        table.set_axis(labels, axis=1),
        ax=ax,
        cmap=SEQUENTIAL,
        annot=True,
        fmt=".1f",
        annot_kws={"size": 8},
        linewidths=0.5,
        cbar_kws={"label": "orders per day" if by == "month" else "orders per day in that hour"},
    )
    ax.set_title(
        "Average orders by weekday and hour of day"
        if by == "hour"
        else "Average orders per day by weekday and calendar month"
    )
    ax.set_xlabel("hour of day (start of the hour)" if by == "hour" else "calendar month")
    ax.grid(False)
    ax.set_ylabel("weekday")
    ax.tick_params(axis="y", rotation=0)
    return ax


def cohort_heatmaps(
    retention: pd.DataFrame, revenue: pd.DataFrame, currency: str = "", first: str = "auto"
):
    """Two heatmaps, cohort × months since first purchase: % still buying, cumulative
    revenue per customer. Empty cells: months not yet (completely) observed. A first cohort
    holding customers from before the log (:func:`analysis.demand.first_cohort_existing`,
    ``first`` its setting) is labelled ``*``."""
    from analysis.demand import first_cohort_existing

    rows = len(retention)
    height = max(3.0, 0.38 * rows + 1.8)
    fig, axes = plt.subplots(2, 1, figsize=(13, 2 * height + 0.5))
    ylabels = [month_label(p) for p in retention.index]
    size = retention.attrs.get("size")
    if size is not None:
        ylabels = [f"{lab} (n={n:,})" for lab, n in zip(ylabels, size.to_numpy(), strict=True)]
    if first_cohort_existing(retention, first):
        ylabels[0] = f"* {ylabels[0]} incl. earlier customers"
    annot = len(retention.columns) <= 20 and rows <= 24
    sns.heatmap(
        retention.set_axis(ylabels, axis=0),
        ax=axes[0],
        cmap=SEQUENTIAL,
        vmin=0,
        vmax=max(0.05, float(retention.drop(columns=0).max().max() or 0.05)),
        annot=annot,
        fmt=".0%",
        annot_kws={"size": 8},
        linewidths=0.3,
        cbar_kws={"label": "share of cohort buying", "format": mticker.PercentFormatter(1.0)},
    )
    axes[0].set_title("Share of each monthly cohort buying again, by months since first purchase")
    money = mticker.FuncFormatter(lambda v, _p: f"{currency}{v:,.0f}")
    sns.heatmap(
        revenue.set_axis(ylabels, axis=0),
        ax=axes[1],
        cmap="Greens",
        annot=annot,
        fmt=",.0f",
        annot_kws={"size": 8},
        linewidths=0.3,
        cbar_kws={
            "label": f"revenue per customer ({currency})" if currency else "revenue",
            "format": money,
        },
    )
    axes[1].set_title(
        f"Cumulative revenue per cohort customer ({currency})"
        if currency
        else "Cumulative revenue per cohort customer"
    )
    for ax in axes:
        ax.grid(False)
        ax.set_xlabel("months since first purchase (0 = month of first purchase)")
        ax.set_ylabel("cohort: month of first purchase")
        ax.tick_params(axis="y", rotation=0)
    return fig


def _item_labels(index, names: pd.Series | None, width: int = 30) -> list[str]:
    out = []
    for item in index:
        label = str(item)
        if names is not None and item in names.index and names[item]:
            name = str(names[item]).strip().title()
            name = name if len(name) <= width else name[: width - 1] + "…"
            label = f"{name} ({item})"
        out.append(label)
    return out


def _month_axis(ax, freq_is_month: bool) -> None:
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %y" if freq_is_month else "%d %b %y"))


def top_items(
    by_revenue: pd.DataFrame,
    by_buyers: pd.DataFrame,
    label: str,
    currency: str = "",
    names: pd.Series | None = None,
):
    """Side by side: top items by revenue and by number of buyers (largest on top)."""
    n = max(len(by_revenue), len(by_buyers))
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.38 * n + 1.6))
    color = sns.color_palette(PALETTE)
    for ax, table, col, c in (
        (axes[0], by_revenue, "revenue", color[0]),
        (axes[1], by_buyers, "buyers", color[2]),
    ):
        data = table[col].iloc[::-1]
        ax.barh(_item_labels(data.index, names), data.to_numpy(), color=c)
        ax.set_title(f"Top {len(table)} {label} by {col}")
        if col == "revenue":
            ax.set_xlabel(f"revenue ({currency})" if currency else "revenue")
            _money_axis(ax, "x", currency)
        else:
            ax.set_xlabel("customers who bought it")
            ax.xaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
        ax.tick_params(axis="y", labelsize=9)
    return fig


def abc_bars(summary: pd.DataFrame, label: str = "products", ax=None):
    """Grouped bars per ABC class: share of items next to share of revenue."""
    ax = new_ax(ax, figsize=(8, 4))
    colors = sns.color_palette(PALETTE)
    x = np.arange(len(summary))
    ax.bar(x - 0.2, summary["item_share"], width=0.4, color=colors[7], label=f"share of {label}")
    ax.bar(x + 0.2, summary["revenue_share"], width=0.4, color=colors[0], label="share of revenue")
    for i, (items, share) in enumerate(
        zip(summary["items"], summary["revenue_share"], strict=True)
    ):
        ax.annotate(
            f"{int(items):,} {label}",
            (i - 0.2, summary["item_share"].iloc[i]),
            ha="center",
            va="bottom",
            fontsize=9,
        )
        ax.annotate(f"{share:.0%}", (i + 0.2, share), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x)
    ax.set_xticklabels([f"class {c}" for c in summary.index])
    ax.set_ylabel("share")
    ax.set_ylim(0, 1.08)
    percent_axis(ax)
    ax.set_title(f"ABC classes: few {label} bring most of the revenue")
    ax.legend(loc="upper right")
    return ax


def movers_bars(table: pd.DataFrame, currency: str = "", names: pd.Series | None = None, ax=None):
    """Diverging bars of the largest revenue rises and falls between two periods."""
    ax = new_ax(ax, figsize=(11, 0.4 * max(len(table), 1) + 1.6))
    if table.empty:
        ax.set_title("Not enough complete periods for movers")
        return ax
    data = table["change"].iloc[::-1]
    colors = sns.color_palette(PALETTE)
    ax.barh(
        _item_labels(data.index, names),
        data.to_numpy(),
        color=[colors[2] if v > 0 else colors[3] for v in data.to_numpy()],
    )
    ax.axvline(0, color="black", linewidth=0.8)
    prev, last = table.attrs["previous"], table.attrs["last"]
    ax.set_title(f"Biggest revenue movers: {period_label(last)} vs {period_label(prev)}")
    ax.set_xlabel(f"change in revenue ({currency})" if currency else "change in revenue")
    _money_axis(ax, "x", currency)
    ax.tick_params(axis="y", labelsize=9)
    return ax


def share_bars(table: pd.DataFrame, label: str, currency: str = "", ax=None):
    """Horizontal bars of revenue by a split (region, channel), with the share printed."""
    ax = new_ax(ax, figsize=(10, 0.38 * len(table) + 1.4))
    data = table.iloc[::-1]
    ax.barh(
        [str(i) for i in data.index],
        data["revenue"].to_numpy(),
        color=sns.color_palette(PALETTE)[0],
    )
    for i, (rev, share) in enumerate(zip(data["revenue"], data["revenue_share"], strict=True)):
        ax.annotate(f" {share:.1%}", (rev, i), va="center", fontsize=9)
    ax.set_title(f"Revenue by {label} (top {len(table)}, share of all revenue)")
    ax.set_xlabel(f"revenue ({currency})" if currency else "revenue")
    _money_axis(ax, "x", currency)
    ax.set_xlim(0, data["revenue"].max() * 1.12)
    return ax


def forecast_plot(series: pd.DataFrame, column: str, fc: pd.DataFrame, currency: str = "", ax=None):
    """History of complete periods, the forecast with its interval, the partial actual so
    far and, when in the data, the same periods a year earlier."""
    ax = new_ax(ax, figsize=(12, 4.5))
    colors = sns.color_palette(PALETTE)
    hist = series.loc[series["complete"], column]
    x_hist = hist.index.to_timestamp()
    x_fc = fc.index.to_timestamp()
    ax.plot(x_hist, hist.to_numpy(), marker="o", markersize=3, color=colors[0], label="actual")
    ax.plot(
        np.r_[x_hist[-1:], x_fc],
        np.r_[hist.to_numpy()[-1:], fc["forecast"].to_numpy()],
        marker="o",
        markersize=3,
        color=colors[1],
        linestyle="--",
        label="forecast",
    )
    level = fc.attrs.get("level", 0.8)
    ax.fill_between(
        x_fc,
        fc["lower"].to_numpy(),
        fc["upper"].to_numpy(),
        color=colors[1],
        alpha=0.2,
        label=f"{level:.0%} interval",
    )
    if fc["year_earlier"].notna().any():
        ax.plot(
            x_fc,
            fc["year_earlier"].to_numpy(),
            marker="s",
            markersize=4,
            linestyle="none",
            color="grey",
            label="same period a year earlier",
        )
    if fc["actual_so_far"].notna().any():
        ax.plot(
            x_fc,
            fc["actual_so_far"].to_numpy(),
            marker="x",
            markersize=8,
            linestyle="none",
            color="black",
            label="booked so far (period still running)",
        )
    label = MEASURE_LABELS.get(column, column)
    unit = "month" if fc.index.freqstr.startswith("M") else "week"
    ax.set_title(f"{label} per {unit}: history and forecast ({fc.attrs.get('model', '')})")
    money = column in ("revenue", "avg_order_value")
    ax.set_ylabel(f"{label} ({currency})" if money and currency else label)
    ax.set_xlabel(f"{unit} (start date)")
    _month_axis(ax, unit == "month")
    if money:
        _money_axis(ax, "y", currency)
    else:
        ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize=9)
    return ax


def backtest_plot(bt: pd.DataFrame, currency: str = "", ax=None, shown: str | None = None):
    """One-step-ahead backtest: the actual against each method's forecast one period ahead.

    ``shown`` (a method of :data:`analysis.demand.FORECASTERS`) is drawn bold: the one whose
    forecast the report shows.
    """
    from analysis.demand import SHORT_NAMES

    ax = new_ax(ax, figsize=(12, 4))
    one = bt.loc[bt["step"] == 1]
    if one.empty:
        ax.set_title("Too little history for a backtest")
        return ax
    colors = sns.color_palette(PALETTE)
    x = pd.PeriodIndex(one["period"]).to_timestamp()
    ax.plot(x, one["actual"].to_numpy(), marker="o", markersize=3, color=colors[0], label="actual")
    styles = {"ets": (colors[1], "--"), "naive": ("grey", ":"), "seasonal": (colors[2], "-.")}
    for method, (color, line) in styles.items():
        if method not in one.columns or one[method].isna().all():
            continue
        ax.plot(
            x,
            one[method].to_numpy(),
            marker="o",
            markersize=3,
            color=color,
            linestyle=line,
            linewidth=2.5 if method == shown else 1.2,
            label=SHORT_NAMES[method] + (" (shown)" if method == shown else ""),
        )
    ax.set_title("Backtest: what each method would have said one period ahead")
    ax.set_ylabel(f"Revenue ({currency})" if currency else "Revenue")
    ax.set_xlabel("period forecast (start date)")
    _month_axis(ax, pd.PeriodIndex(one["period"]).freqstr.startswith("M"))
    _money_axis(ax, "y", currency)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=9)
    return ax
