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

from analysis import text
from analysis.demand import MEASURE_LABELS, model_label, month_label, period_label
from analysis.plots import PALETTE, SEQUENTIAL, money_axis, new_ax, percent_axis
from analysis.text import tr


def _money_axis(ax, axis: str, currency: str) -> None:
    """Money ticks on round steps (1, 2, 5, 10 x 10^k): the shared formatter prints whole
    thousands, so a 2.5k step would read as "2k"."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(mticker.MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    money_axis(ax, axis, currency)


def _short_month(when) -> str:
    """``Nov 11`` (month and two-digit year) in the report's language."""
    return text.month_label(when, "%b %y")


def _short_day(when) -> str:
    """``28 Nov 11`` in the report's language."""
    return text.date_label(when, "%d %b %y")


def _tick_labels(index: pd.PeriodIndex) -> list[str]:
    if index.freqstr.startswith("M"):
        return [_short_month(p) for p in index]
    return [_short_day(p.start_time) for p in index]


def _measure(column: str) -> str:
    return tr(MEASURE_LABELS.get(column, column))


def _per_unit(label: str, unit: str) -> str:
    """ "Revenue per month" / "Revenue per week"."""
    return (
        tr("{label} per month", label=label)
        if unit == "month"
        else tr("{label} per week", label=label)
    )


def _in_currency(label: str, currency: str) -> str:
    """ "Revenue (£)", or the label alone without a currency."""
    return tr("{label} ({currency})", label=label, currency=currency) if currency else label


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
    label = _measure(column)
    money = column in ("revenue", "avg_order_value")
    ax.set_title(_per_unit(label, unit))
    ax.set_ylabel(_in_currency(label, currency) if money else label)
    ax.set_xlabel(tr("week (weeks start Monday)") if unit == "week" else tr("month"))
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
        label=tr("partial period (incomplete total, not a drop)"),
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
        la, lb = tr(la), tr(lb)
        bottom = ax.bar(x, table[a].to_numpy(), color=colors[1], label=la)
        top = ax.bar(x, table[b].to_numpy(), bottom=table[a].to_numpy(), color=colors[0], label=lb)
        for i in np.flatnonzero(partial):
            for bar in (bottom[i], top[i]):
                bar.set_hatch("///")
                bar.set_alpha(0.35)
        ax.set_title(tr("{title} per month: {a} vs {b}", title=tr(title), a=la, b=lb))
        ax.set_xlabel(tr("month (hatched: still running)") if partial.any() else tr("month"))
        if title == "Revenue":
            ax.set_ylabel(_in_currency(tr("Revenue"), currency))
            _money_axis(ax, "y", currency)
        else:
            ax.set_ylabel(tr("Customers buying in the month"))
            ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
        _sparse_xticks(ax, labels)
        ax.legend(loc="best")
    return fig


def activity_heatmap(table: pd.DataFrame, ax=None):
    """Heatmap of average orders per day by weekday × hour (or × calendar month)."""
    by = table.attrs.get("by", "hour")
    ax = new_ax(ax, figsize=(12, 3.8))
    labels = (
        [tr("{hour:02d}h", hour=h) for h in table.columns]
        if by == "hour"
        else [tr(m) for m in table.columns]
    )
    sns.heatmap(
        table.set_axis(labels, axis=1).set_axis([tr(d) for d in table.index], axis=0),
        ax=ax,
        cmap=SEQUENTIAL,
        annot=True,
        fmt=".1f",
        annot_kws={"size": 8},
        linewidths=0.5,
        cbar_kws={
            "label": tr("orders per day") if by == "month" else tr("orders per day in that hour")
        },
    )
    ax.set_title(
        tr("Average orders by weekday and hour of day")
        if by == "hour"
        else tr("Average orders per day by weekday and calendar month")
    )
    ax.set_xlabel(tr("hour of day (start of the hour)") if by == "hour" else tr("calendar month"))
    ax.grid(False)
    ax.set_ylabel(tr("weekday"))
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
        ylabels = [
            tr("{cohort} (n={n:,})", cohort=lab, n=n)
            for lab, n in zip(ylabels, size.to_numpy(), strict=True)
        ]
    if first_cohort_existing(retention, first):
        ylabels[0] = tr("* {cohort} incl. earlier customers", cohort=ylabels[0])
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
        cbar_kws={"label": tr("share of cohort buying"), "format": mticker.PercentFormatter(1.0)},
    )
    axes[0].set_title(
        tr("Share of each monthly cohort buying again, by months since first purchase")
    )
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
            "label": _in_currency(tr("revenue per customer"), currency)
            if currency
            else tr("revenue"),
            "format": money,
        },
    )
    axes[1].set_title(_in_currency(tr("Cumulative revenue per cohort customer"), currency))
    for ax in axes:
        ax.grid(False)
        ax.set_xlabel(tr("months since first purchase (0 = month of first purchase)"))
        ax.set_ylabel(tr("cohort: month of first purchase"))
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

    short = _short_month if freq_is_month else _short_day
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: short(mdates.num2date(v))))


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
        ax.set_title(
            tr("Top {n} {label} by revenue", n=len(table), label=tr(label))
            if col == "revenue"
            else tr("Top {n} {label} by buyers", n=len(table), label=tr(label))
        )
        if col == "revenue":
            ax.set_xlabel(_in_currency(tr("revenue"), currency))
            _money_axis(ax, "x", currency)
        else:
            ax.set_xlabel(tr("customers who bought it"))
            ax.xaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
        ax.tick_params(axis="y", labelsize=9)
    return fig


def abc_bars(summary: pd.DataFrame, label: str = "products", ax=None):
    """Grouped bars per ABC class: share of items next to share of revenue."""
    ax = new_ax(ax, figsize=(8, 4))
    colors = sns.color_palette(PALETTE)
    x = np.arange(len(summary))
    shown = tr(label)
    ax.bar(
        x - 0.2,
        summary["item_share"],
        width=0.4,
        color=colors[7],
        label=tr("share of {label}", label=shown),
    )
    ax.bar(
        x + 0.2, summary["revenue_share"], width=0.4, color=colors[0], label=tr("share of revenue")
    )
    for i, (items, share) in enumerate(
        zip(summary["items"], summary["revenue_share"], strict=True)
    ):
        ax.annotate(
            tr("{n:,} {label}", n=int(items), label=shown),
            (i - 0.2, summary["item_share"].iloc[i]),
            ha="center",
            va="bottom",
            fontsize=9,
        )
        ax.annotate(f"{share:.0%}", (i + 0.2, share), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x)
    ax.set_xticklabels([tr("class {c}", c=c) for c in summary.index])
    ax.set_ylabel(tr("share"))
    ax.set_ylim(0, 1.08)
    percent_axis(ax)
    ax.set_title(tr("ABC classes: few {label} bring most of the revenue", label=shown))
    ax.legend(loc="upper right")
    return ax


def movers_bars(table: pd.DataFrame, currency: str = "", names: pd.Series | None = None, ax=None):
    """Diverging bars of the largest revenue rises and falls between two periods."""
    ax = new_ax(ax, figsize=(11, 0.4 * max(len(table), 1) + 1.6))
    if table.empty:
        ax.set_title(tr("Not enough complete periods for movers"))
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
    ax.set_title(
        tr(
            "Biggest revenue movers: {last} vs {previous}",
            last=period_label(last),
            previous=period_label(prev),
        )
    )
    ax.set_xlabel(_in_currency(tr("change in revenue"), currency))
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
    ax.set_title(
        tr("Revenue by {label} (top {n}, share of all revenue)", label=tr(label), n=len(table))
    )
    ax.set_xlabel(_in_currency(tr("revenue"), currency))
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
    ax.plot(x_hist, hist.to_numpy(), marker="o", markersize=3, color=colors[0], label=tr("actual"))
    ax.plot(
        np.r_[x_hist[-1:], x_fc],
        np.r_[hist.to_numpy()[-1:], fc["forecast"].to_numpy()],
        marker="o",
        markersize=3,
        color=colors[1],
        linestyle="--",
        label=tr("forecast"),
    )
    level = fc.attrs.get("level", 0.8)
    ax.fill_between(
        x_fc,
        fc["lower"].to_numpy(),
        fc["upper"].to_numpy(),
        color=colors[1],
        alpha=0.2,
        label=tr("{level:.0%} interval", level=level),
    )
    if fc["year_earlier"].notna().any():
        ax.plot(
            x_fc,
            fc["year_earlier"].to_numpy(),
            marker="s",
            markersize=4,
            linestyle="none",
            color="grey",
            label=tr("same period a year earlier"),
        )
    if fc["actual_so_far"].notna().any():
        ax.plot(
            x_fc,
            fc["actual_so_far"].to_numpy(),
            marker="x",
            markersize=8,
            linestyle="none",
            color="black",
            label=tr("booked so far (period still running)"),
        )
    label = _measure(column)
    unit = "month" if fc.index.freqstr.startswith("M") else "week"
    ax.set_title(
        tr(
            "{measure}: history and forecast ({model})",
            measure=_per_unit(label, unit),
            model=model_label(fc.attrs.get("model", "")),
        )
    )
    money = column in ("revenue", "avg_order_value")
    ax.set_ylabel(_in_currency(label, currency) if money else label)
    ax.set_xlabel(tr("month (start date)") if unit == "month" else tr("week (start date)"))
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
        ax.set_title(tr("Too little history for a backtest"))
        return ax
    colors = sns.color_palette(PALETTE)
    x = pd.PeriodIndex(one["period"]).to_timestamp()
    ax.plot(
        x, one["actual"].to_numpy(), marker="o", markersize=3, color=colors[0], label=tr("actual")
    )
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
            label=tr("{method} (shown)", method=tr(SHORT_NAMES[method]))
            if method == shown
            else tr(SHORT_NAMES[method]),
        )
    ax.set_title(tr("Backtest: what each method would have said one period ahead"))
    ax.set_ylabel(_in_currency(tr("Revenue"), currency))
    ax.set_xlabel(tr("period forecast (start date)"))
    _month_axis(ax, pd.PeriodIndex(one["period"]).freqstr.startswith("M"))
    _money_axis(ax, "y", currency)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=9)
    return ax
