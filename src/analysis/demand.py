"""Demand: how revenue, orders and customers move over time, what drives it, what comes next.

Each aggregation of the transaction log lives in one function with a plain
signature (transactions in, small table out), so that the heavy ones
(:func:`period_series`, :func:`new_vs_returning`, :func:`cohort_tables`) can be
expressed as SQL without touching the rest.
Everything downstream (comparisons, ABC classes, forecast, backtest, takeaway
sentences) works on those small tables.

Conventions
-----------
- Periods are calendar months (``"M"``) or weeks ending on Sunday (``"W"``).
- A period is *partial* when it ends after ``as_of`` (still running) or starts
  before the first day of the log (the log begins mid-period). Partial periods
  are shown marked and never compared, modelled or read as a collapse.
- A *repeat* purchase is any purchase day of a customer after their first one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis import engine, i18n, text
from analysis.summary import purchase_days
from analysis.text import listed, md_text, money, sentences, tr, tr_as

FREQS = {"W": "W-SUN", "M": "M"}
FREQ_WORDS = {"W": ("week", "weeks", "weekly"), "M": ("month", "months", "monthly")}
SEASON = {"W": 52, "M": 12}
MEASURES = ("revenue", "orders", "customers", "avg_order_value")
MEASURE_LABELS = {
    "revenue": "Revenue",
    "orders": "Orders",
    "customers": "Active customers",
    "avg_order_value": "Average order value",
}
WEEKDAYS = i18n.fixed_names(__name__, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
MONTHS = i18n.fixed_names(
    __name__, ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
)
i18n.fixed_names(__name__, MEASURE_LABELS.values())
i18n.fixed_names(__name__, (words[0] for words in FREQ_WORDS.values()))


def _check(frame: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"transactions lack column(s) {missing}; load them with analysis.data.load_transactions"
        )


def _freq(freq: str) -> str:
    if freq not in FREQS:
        raise ValueError(f"freq '{freq}' unknown; use 'W' (weeks) or 'M' (months)")
    return FREQS[freq]


def month_label(when) -> str:
    """``Nov 2011`` (a Period or Timestamp's month) in the report's language
    (:func:`analysis.text.month_label`: ``2011年11月``)."""
    return text.month_label(when)


def day_label(when) -> str:
    """``05 Mar 2011`` (a date) in the report's language (:func:`analysis.text.date_label`:
    ``2011年3月5日``)."""
    return text.date_label(pd.Timestamp(when))


def period_label(period: pd.Period) -> str:
    """``Nov 2011`` for a month, ``week of 28 Nov 2011`` for a week (its Monday)."""
    if period.freqstr.startswith("M"):
        return month_label(period)
    return tr("week of {day}", day=day_label(period.start_time))


# --------------------------------------------------------------------------- 1. trends


def period_series(
    frame: pd.DataFrame, freq: str = "M", as_of: pd.Timestamp | str | None = None
) -> pd.DataFrame:
    """Revenue, orders, active customers and average order value per period.

    Parameters
    ----------
    frame : pandas.DataFrame
        Transactions with ``customer_id``, ``order_date``, ``amount``, ``order_id``.
    freq : {"M", "W"}
        Calendar months or weeks ending on Sunday.
    as_of : date-like, optional
        The cutoff (whole day included); default the last order date. Periods up
        to the one holding ``as_of`` are listed, with zeros where nothing was sold.

    Returns
    -------
    pandas.DataFrame
        Index ``period`` (Period); columns ``revenue``, ``orders``, ``customers``,
        ``avg_order_value`` and ``complete`` (False for a period still running at
        ``as_of`` or begun before the first order of the log).
    """
    _check(frame, ("customer_id", "order_date", "amount", "order_id"))
    rule = _freq(freq)
    cutoff = pd.Timestamp(as_of if as_of is not None else frame["order_date"].max()).normalize()
    # the aggregation itself is the engine's single SQL definition (DuckDB or Spark)
    agg = engine.period_series(frame, freq, cutoff)
    out = agg[["revenue", "orders", "customers"]].copy()
    out.index = pd.PeriodIndex(out.index, freq=rule, name="period")
    full = pd.period_range(out.index.min(), pd.Period(cutoff, rule), freq=rule, name="period")
    out = out.reindex(full, fill_value=0)
    out["avg_order_value"] = out["revenue"] / out["orders"].where(out["orders"] > 0)
    first_day = frame["order_date"].min().normalize()
    ends = full.end_time.normalize()
    starts = full.start_time
    out["complete"] = (ends <= cutoff) & (starts >= first_day)
    return out


def compare_periods(series: pd.DataFrame) -> pd.DataFrame:
    """The last complete period against the one before and the same period a year earlier.

    Parameters
    ----------
    series : pandas.DataFrame
        Output of :func:`period_series` (columns ``revenue``, ``orders``,
        ``customers``, ``avg_order_value``, ``complete``).

    Returns
    -------
    pandas.DataFrame
        One row per measure; columns ``last``, ``previous``, ``change``
        (fraction), ``year_earlier``, ``change_vs_year`` (NaN when the data does
        not reach back a full complete year). ``attrs`` holds the periods compared.
    """
    _check(series, MEASURES + ("complete",))
    complete = series.loc[series["complete"]]
    table = pd.DataFrame(
        index=list(MEASURES),
        columns=["last", "previous", "change", "year_earlier", "change_vs_year"],
        dtype=float,
    )
    table.attrs = {"last": None, "previous": None, "year_earlier": None}
    if complete.empty:
        return table
    last = complete.index[-1]
    table["last"] = complete.loc[last, list(MEASURES)].astype(float).to_numpy()
    table.attrs["last"] = last
    if len(complete) >= 2:
        prev = complete.index[-2]
        table["previous"] = complete.loc[prev, list(MEASURES)].astype(float).to_numpy()
        table.attrs["previous"] = prev
    season = SEASON["M"] if last.freqstr.startswith("M") else SEASON["W"]
    year_ago = last - season
    if year_ago in complete.index:
        table["year_earlier"] = complete.loc[year_ago, list(MEASURES)].astype(float).to_numpy()
        table.attrs["year_earlier"] = year_ago
    with np.errstate(divide="ignore", invalid="ignore"):
        table["change"] = table["last"] / table["previous"] - 1
        table["change_vs_year"] = table["last"] / table["year_earlier"] - 1
    return table.replace([np.inf, -np.inf], np.nan)


def comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """:func:`compare_periods` with readable row and column names (periods named), in the
    report's language."""
    names = {
        "last": "last",
        "previous": "previous",
        "year_earlier": "year_earlier",
    }
    for key in names:
        period = comparison.attrs.get(key)
        names[key] = period_label(period) if period is not None else tr("a year earlier (n/a)")
    return comparison.rename(index=lambda m: tr(MEASURE_LABELS.get(m, m))).rename(
        columns={
            "last": names["last"],
            "previous": names["previous"],
            "change": tr("change"),
            "year_earlier": names["year_earlier"],
            "change_vs_year": tr("change vs a year earlier"),
        }
    )


def comparison_display(comparison: pd.DataFrame):
    """:func:`comparison_table` styled for the report: counts and money whole, changes as
    signed percentages, a caption."""
    table = comparison_table(comparison)
    changes = [tr("change"), tr("change vs a year earlier")]
    return (
        table.style.format("{:,.0f}", na_rep="–")
        .format("{:+.1%}", subset=changes, na_rep="–")
        .set_caption(
            tr("Last complete period vs the one before and the same period a year earlier")
        )
    )


def trend_takeaway(comparison: pd.DataFrame, series: pd.DataFrame, currency: str = "") -> str:
    """Sentences on the last complete period vs the one before / a year before, and on
    any partial period shown.

    Parameters
    ----------
    comparison : pandas.DataFrame
        Output of :func:`compare_periods`.
    series : pandas.DataFrame
        The :func:`period_series` it was computed from (for the partial periods).
    """
    last = comparison.attrs.get("last")
    if last is None:
        return tr("No complete period before the cutoff yet: nothing to compare.")
    rev = comparison.loc["revenue"]
    cust = comparison.loc["customers"]
    aov = comparison.loc["avg_order_value"]
    text = tr(
        "In **{period}**, the last complete period, revenue was **{revenue}** from {n:,.0f} "
        "active customers ",
        period=period_label(last),
        revenue=money(rev["last"], currency),
        n=cust["last"],
    )
    prev = comparison.attrs.get("previous")
    if prev is not None and pd.notna(rev["change"]):
        text += tr(
            "(**{change:+.0%}** on {previous}; customers {customers:+.0%}, average order value "
            "{aov:+.0%}).",
            change=rev["change"],
            previous=period_label(prev),
            customers=cust["change"],
            aov=aov["change"],
        )
        driver = (
            tr("the number of active customers")
            if abs(cust["change"]) >= abs(aov["change"])
            else tr("the average order value")
        )
        if abs(rev["change"]) >= 0.05:
            text = sentences(text, tr("The move is driven mainly by {driver}.", driver=driver))
    else:
        text += tr(".")
    year = comparison.attrs.get("year_earlier")
    if year is not None and pd.notna(rev["change_vs_year"]):
        text = sentences(
            text,
            tr(
                "Against the same period a year earlier ({year}) revenue is **{change:+.0%}**.",
                year=period_label(year),
                change=rev["change_vs_year"],
            ),
        )
    else:
        text = sentences(
            text,
            tr("The data does not reach a complete year back, so there is no year-on-year view."),
        )
    partial = series.loc[~series["complete"]]
    if len(partial):
        names = listed(period_label(p) for p in partial.index)
        text = sentences(
            text,
            tr(
                "Partial periods ({names}) are hatched: their totals are incomplete, not a drop.",
                names=names,
            ),
        )
    return text


# --------------------------------------------------------------------------- 2. new vs returning


def new_vs_returning(frame: pd.DataFrame) -> pd.DataFrame:
    """Revenue and customers per month from first purchases vs repeat purchases.

    A customer's first purchase day is "new"; every later purchase day is a
    "repeat". A customer is *new* in the month of their first purchase and
    *returning* in every later month in which they buy.

    Parameters
    ----------
    frame : pandas.DataFrame
        Transactions with ``customer_id``, ``order_date``, ``amount``.

    Returns
    -------
    pandas.DataFrame
        Index ``month`` (Period); columns ``new_revenue``, ``repeat_revenue``,
        ``new_customers``, ``returning_customers``.
    """
    _check(frame, ("customer_id", "order_date", "amount"))
    daily = purchase_days(frame)
    first = daily.groupby("customer_id")["day"].transform("min")
    daily["month"] = daily["day"].dt.to_period("M")
    is_first_day = daily["day"] == first
    is_first_month = daily["month"] == first.dt.to_period("M")
    grouped = daily.groupby("month")
    out = pd.DataFrame(
        {
            "new_revenue": daily["amount"].where(is_first_day, 0.0).groupby(daily["month"]).sum(),
            "repeat_revenue": daily["amount"]
            .where(~is_first_day, 0.0)
            .groupby(daily["month"])
            .sum(),
            "new_customers": daily["customer_id"]
            .where(is_first_month)
            .groupby(daily["month"])
            .nunique(),
            "returning_customers": daily["customer_id"]
            .where(~is_first_month)
            .groupby(daily["month"])
            .nunique(),
        }
    )
    out = out.reindex(
        pd.period_range(grouped.size().index.min(), out.index.max(), freq="M"), fill_value=0
    )
    out.index.name = "month"
    return out


def repeat_revenue_share(table: pd.DataFrame) -> float | None:
    """Share of all revenue that came from repeat purchases (output of :func:`new_vs_returning`)."""
    total = table["new_revenue"].sum() + table["repeat_revenue"].sum()
    return float(table["repeat_revenue"].sum() / total) if total > 0 else None


def new_returning_takeaway(table: pd.DataFrame, as_of, currency: str = "") -> str:
    """What share of revenue repeat buyers bring, and how it moved over the log."""
    share = repeat_revenue_share(table)
    if share is None:
        return tr("No revenue in the period: nothing to split into new and repeat buyers.")
    complete = table.loc[table.index.end_time.normalize() <= pd.Timestamp(as_of).normalize()]
    text = tr(
        "Over the whole log **{share:.0%} of revenue came from repeat purchases**.", share=share
    )
    if len(complete) >= 2:
        rev = complete["new_revenue"] + complete["repeat_revenue"]
        shares = complete["repeat_revenue"] / rev.where(rev > 0)
        last = complete.index[-1]
        text = sentences(
            text,
            tr(
                "In {month} it was {share:.0%} ({new:,} new and {returning:,} returning "
                "customers).",
                month=period_label(last),
                share=shares.iloc[-1],
                new=complete.loc[last, "new_customers"],
                returning=complete.loc[last, "returning_customers"],
            ),
        )
    text = sentences(
        text,
        tr(
            "The first months of the log (from {month}) count a buyer as new even if they bought "
            "before the data starts, so the repeat share there may be understated; later months "
            "show the settled mix.",
            month=period_label(table.index[0]),
        ),
    )
    return text


# --------------------------------------------------------------------------- 3. seasonality, cycle


def has_time_of_day(frame: pd.DataFrame) -> bool:
    """Whether order dates carry clock times (most rows not at midnight)."""
    _check(frame, ("order_date",))
    d = frame["order_date"]
    return bool((d != d.dt.normalize()).mean() > 0.5)


def activity_heatmap(frame: pd.DataFrame) -> pd.DataFrame:
    """Average orders per day by weekday × hour (timed data) or weekday × calendar month.

    Counts are divided by the number of such days in the log's date range, so a
    weekday that occurs more often, or a month covered twice, is not inflated.

    Parameters
    ----------
    frame : pandas.DataFrame
        Transactions with ``order_date`` and ``order_id``.

    Returns
    -------
    pandas.DataFrame
        Rows ``Mon`` .. ``Sun``; columns hours (0-23, only those with orders) or
        ``Jan`` .. ``Dec`` (only months in the data). ``attrs["by"]`` is
        ``"hour"`` or ``"month"``.
    """
    _check(frame, ("order_date", "order_id"))
    orders = frame.groupby("order_id", sort=False)["order_date"].min()
    days = pd.date_range(orders.min().normalize(), orders.max().normalize(), freq="D")
    by = "hour" if has_time_of_day(frame) else "month"
    if by == "hour":
        counts = pd.crosstab(orders.dt.day_of_week, orders.dt.hour)
        n_days = pd.Series(days.day_of_week).value_counts()
        table = counts.div(n_days.reindex(counts.index), axis=0)
    else:
        counts = pd.crosstab(orders.dt.day_of_week, orders.dt.month)
        n_days = pd.crosstab(days.day_of_week, days.month)
        table = counts / n_days.reindex(index=counts.index, columns=counts.columns)
        table.columns = [MONTHS[m - 1] for m in table.columns]
    table = table.reindex(range(7), fill_value=0.0)
    table.index = list(WEEKDAYS)
    table.attrs["by"] = by
    return table.astype(float)


def heatmap_takeaway(table: pd.DataFrame) -> str:
    """Busiest and quietest weekday, and the peak hour or month."""
    by_day = table.mean(axis=1)
    busiest, quietest = by_day.idxmax(), by_day.idxmin()
    peak = table.sum(axis=0).idxmax()
    unit = "hour" if table.attrs.get("by") == "hour" else "month"
    text = tr("**{day}** is the busiest weekday", day=tr(busiest))
    if by_day.min() == 0:
        text += tr("; there are **no orders on {day}**", day=tr(quietest))
    else:
        text += tr(
            ", {day} the quietest ({share:.0%} of the peak)",
            day=tr(quietest),
            share=by_day.min() / by_day.max(),
        )
    peak_name = f"{peak}:00-{peak + 1}:00" if unit == "hour" else tr(str(peak))
    text += tr(
        ". Orders peak in **{peak}**: the window for campaigns and staffing.", peak=peak_name
    )
    if unit == "month":
        text = sentences(
            text,
            tr(
                "The data has dates only, no times, so the view is weekday × calendar month; "
                "with under two years of data each month is seen once or twice, so a peak month "
                "may be a one-off (a launch, an acquisition push) rather than a season."
            ),
        )
    return text


# --------------------------------------------------------------------------- 4. cohorts


def cohort_tables(
    frame: pd.DataFrame, as_of: pd.Timestamp | str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly acquisition cohorts × months since first purchase.

    Parameters
    ----------
    frame : pandas.DataFrame
        Transactions with ``customer_id``, ``order_date``, ``amount``.
    as_of : date-like, optional
        Cutoff; cells falling in a calendar month still running at ``as_of`` are
        left empty (NaN) instead of showing an incomplete month as a drop.

    Returns
    -------
    (retention, revenue) : tuple of pandas.DataFrame
        Index ``cohort`` (month of first purchase), columns 0, 1, 2 ... months
        since. ``retention``: share of the cohort buying in that month (month 0
        is 1.0). ``revenue``: cumulative revenue per cohort customer up to and
        including that month. ``retention.attrs["size"]``: customers per cohort.
    """
    _check(frame, ("customer_id", "order_date", "amount"))
    cutoff = pd.Timestamp(as_of if as_of is not None else frame["order_date"].max()).normalize()
    # the aggregation itself is the engine's single SQL definition (DuckDB or Spark)
    long = engine.cohort_table(frame, "M", cutoff)
    cohort = pd.PeriodIndex(long["cohort"], freq="M")
    period = pd.PeriodIndex(long["period"], freq="M")
    cells = pd.DataFrame(
        {
            "cohort": cohort,
            "age": (period.year * 12 + period.month) - (cohort.year * 12 + cohort.month),
            "customers": long["customers"].to_numpy(),
            "revenue": long["revenue"].to_numpy(),
        }
    )
    buyers = cells.pivot(index="cohort", columns="age", values="customers")
    buyers = buyers.fillna(0).astype("int64")
    revenue = cells.pivot(index="cohort", columns="age", values="revenue").fillna(0.0)
    size = buyers[0]
    last_month = pd.Period(cutoff, "M")
    if pd.Timestamp(last_month.end_time).normalize() > cutoff:
        last_month -= 1  # the month holding as_of is still running
    ages = np.arange(buyers.columns.max() + 1)
    buyers = buyers.reindex(columns=ages, fill_value=0)
    revenue = revenue.reindex(columns=ages, fill_value=0.0)
    cohort_idx = buyers.index.to_numpy()
    valid = np.array([[(c + int(a)) <= last_month for a in ages] for c in cohort_idx], dtype=bool)
    retention = (buyers.div(size, axis=0)).where(valid)
    retention[0] = 1.0
    cum_rev = revenue.cumsum(axis=1).div(size, axis=0)
    cum_rev = cum_rev.where(valid | (np.arange(len(ages)) == 0))
    retention.attrs["size"] = size
    retention.columns.name = cum_rev.columns.name = "months since first purchase"
    return retention, cum_rev


def first_cohort_existing(retention: pd.DataFrame, setting: str = "auto", ratio: float = 1.5):
    """Whether the first cohort holds customers who bought before the log starts.

    The first month of a log that starts in the middle of a business collects every
    existing customer who buys then, not only new ones: they return far more often. With
    ``setting="auto"`` the first cohort is marked when its month-1 retention is more than
    ``ratio`` times that of the later cohorts (size-weighted): Online Retail's Dec 2010
    cohort (883 customers) 37 % against 20 %, while CDNOW, which starts with its customers'
    first purchases, gives 15 % against 15 %. ``"existing"`` / ``"new"`` decide it.
    """
    if setting not in ("auto", "existing", "new"):
        raise ValueError(f"first_cohort '{setting}' unknown; use 'auto', 'existing' or 'new'")
    if setting != "auto" or len(retention) < 3 or 1 not in retention.columns:
        return setting == "existing" and len(retention) > 0
    col = retention[1]
    later = col.iloc[1:].dropna()
    size = retention.attrs["size"].reindex(later.index)
    if later.empty or pd.isna(col.iloc[0]) or size.sum() == 0:
        return False
    return bool(col.iloc[0] > ratio * np.average(later, weights=size))


def cohort_takeaway(
    retention: pd.DataFrame, revenue: pd.DataFrame, currency: str = "", first: str = "auto"
) -> str:
    """Typical month-1 and month-3 retention and revenue per customer after six months.

    The first cohort is left out of the averages when :func:`first_cohort_existing` says it
    holds customers from before the log (``first``: its setting).
    """
    size = retention.attrs.get("size")
    text = ""
    if first_cohort_existing(retention, first):
        head = retention.index[0]
        text += tr(
            "The first cohort ({cohort}, {n:,} customers) also holds customers who bought before "
            "the data start: {share:.0%} of them buy again in month 1. It is marked * and left "
            "out of the averages below. ",
            cohort=period_label(head),
            n=int(size.iloc[0]),
            share=retention[1].iloc[0],
        )
        retention, revenue = retention.iloc[1:], revenue.iloc[1:]
        size = size.iloc[1:] if size is not None else None
    for month in (1, 3):
        if month in retention.columns and retention[month].notna().any():
            col = retention[month]
            weights = size.reindex(col.index)[col.notna()] if size is not None else None
            avg = np.average(col.dropna(), weights=weights) if weights is not None else col.mean()
            text += tr(
                "On average **{share:.0%}** of a cohort buys again in month {month} after its "
                "first purchase. ",
                share=avg,
                month=month,
            )
    if not text:
        return tr("The log is too short for cohorts to have a second month yet.")
    horizon = min(6, revenue.columns.max())
    col = revenue[horizon].dropna()
    if len(col):
        text += tr(
            "After {months} months a customer has brought **{value}** (median over {n} cohorts) "
            "including the first order; a cohort that stays above that line is being acquired "
            "well. ",
            months=horizon,
            value=money(col.median(), currency),
            n=len(col),
        )
    text += tr("Empty cells are months that have not happened yet or are still running.")
    return text


# --------------------------------------------------------------------------- 5. mix


def item_names(frame: pd.DataFrame, column: str, names: str | None) -> pd.Series | None:
    """The most common name per item from an extra column (e.g. product descriptions)."""
    if not names or names not in frame.columns:
        return None
    return frame.groupby(column)[names].agg(lambda s: s.mode().iat[0] if len(s.mode()) else "")


def top_items(frame: pd.DataFrame, column: str, n: int = 10, by: str = "revenue") -> pd.DataFrame:
    """The ``n`` largest values of ``column`` by revenue or by buyers.

    Parameters
    ----------
    frame : pandas.DataFrame
        Transactions with ``customer_id``, ``amount`` and ``column`` (e.g.
        ``product_id``, ``category``, ``region``, ``channel``).
    by : {"revenue", "buyers"}
        Ranking measure.

    Returns
    -------
    pandas.DataFrame
        Index the item; columns ``revenue``, ``buyers``, ``revenue_share``.
    """
    _check(frame, ("customer_id", "amount", column))
    if by not in ("revenue", "buyers"):
        raise ValueError("by must be 'revenue' or 'buyers'")
    grouped = frame.groupby(column)
    out = pd.DataFrame(
        {"revenue": grouped["amount"].sum(), "buyers": grouped["customer_id"].nunique()}
    )
    out["revenue_share"] = out["revenue"] / out["revenue"].sum()
    return out.sort_values([by, "revenue"], ascending=False).head(n)


def abc_classes(
    frame: pd.DataFrame, column: str = "product_id", thresholds: tuple = (0.8, 0.95)
) -> pd.DataFrame:
    """ABC classes by cumulative revenue share.

    Items are sorted by revenue; an item is A while the cumulative share *before*
    it is below ``thresholds[0]`` (so the item that crosses 80 % is still A), B
    while below ``thresholds[1]``, C after.

    Parameters
    ----------
    frame : pandas.DataFrame
        Transactions with ``amount`` and ``column``.
    thresholds : (float, float)
        Cumulative revenue shares closing classes A and B.

    Returns
    -------
    pandas.DataFrame
        Index the item, sorted by revenue; columns ``revenue``, ``share``,
        ``cum_share``, ``abc``.
    """
    _check(frame, ("amount", column))
    a, b = (float(t) for t in thresholds)
    if not 0 < a < b <= 1:
        raise ValueError(f"abc_thresholds must satisfy 0 < A < B <= 1, got {thresholds}")
    revenue = frame.groupby(column)["amount"].sum().sort_values(ascending=False, kind="stable")
    share = revenue / revenue.sum()
    before = share.cumsum() - share
    abc = np.select([before < a - 1e-12, before < b - 1e-12], ["A", "B"], "C")
    return pd.DataFrame(
        {"revenue": revenue, "share": share, "cum_share": share.cumsum(), "abc": abc}
    )


def abc_summary(classes: pd.DataFrame) -> pd.DataFrame:
    """Items and revenue per ABC class (output of :func:`abc_classes`).

    Returns
    -------
    pandas.DataFrame
        Index ``A``, ``B``, ``C``; columns ``items``, ``item_share``, ``revenue``,
        ``revenue_share``.
    """
    grouped = classes.groupby("abc")
    out = pd.DataFrame({"items": grouped.size(), "revenue": grouped["revenue"].sum()})
    out = out.reindex(["A", "B", "C"], fill_value=0)
    out["item_share"] = out["items"] / out["items"].sum()
    out["revenue_share"] = out["revenue"] / out["revenue"].sum()
    out.index.name = "class"
    return out[["items", "item_share", "revenue", "revenue_share"]]


def movers(frame: pd.DataFrame, column: str, series: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """Items whose revenue grew or fell most from the previous to the last complete period.

    Parameters
    ----------
    frame : pandas.DataFrame
        Transactions with ``order_date``, ``amount`` and ``column``.
    series : pandas.DataFrame
        Output of :func:`period_series` (its index sets the periods; ``complete``
        picks the last two complete ones).
    n : int
        Growers and decliners to keep each.

    Returns
    -------
    pandas.DataFrame
        Index the item; columns ``previous``, ``last``, ``change`` (last -
        previous), sorted by change; the ``n`` largest rises and ``n`` largest
        falls. ``attrs`` holds the two periods. Empty without two complete periods.
    """
    _check(frame, ("order_date", "amount", column))
    complete = series.index[series["complete"].to_numpy()]
    if len(complete) < 2:
        return pd.DataFrame(columns=["previous", "last", "change"])
    prev, last = complete[-2], complete[-1]
    period = frame["order_date"].dt.to_period(prev.freq)
    sub = frame.loc[period.isin([prev, last])]
    table = sub.groupby([sub[column], period[sub.index].rename("p")])["amount"].sum().unstack()
    table = table.reindex(columns=[prev, last], fill_value=0.0).fillna(0.0)
    table.columns = ["previous", "last"]
    table["change"] = table["last"] - table["previous"]
    up = table.loc[table["change"] > 0].nlargest(n, "change")
    down = table.loc[table["change"] < 0].nsmallest(n, "change")
    out = pd.concat([up, down]).sort_values("change", ascending=False)
    out.attrs = {"previous": prev, "last": last}
    return out


def mix_takeaway(summary: pd.DataFrame, top: pd.DataFrame, label: str = "products") -> str:
    """How concentrated revenue is (ABC) and how much the top item brings."""
    a = summary.loc["A"]
    shown = tr(label)
    text = tr(
        "**{n:,} {label} ({share:.0%} of the range) bring {revenue:.0%} of revenue** (class A); "
        "{c:,} class-C {label} ({c_share:.0%}) bring only {c_revenue:.0%}. ",
        n=int(a["items"]),
        label=shown,
        share=a["item_share"],
        revenue=a["revenue_share"],
        c=int(summary.loc["C", "items"]),
        c_share=summary.loc["C", "item_share"],
        c_revenue=summary.loc["C", "revenue_share"],
    )
    if len(top):
        text += tr(
            "The top {n} alone make {share:.0%}. Keep A items in stock and visible; C items are "
            "candidates for range review.",
            n=min(10, len(top)),
            share=top["revenue_share"].head(10).sum(),
        )
        single = int((top["buyers"].head(10) == 1).sum())
        if single:
            text = sentences(
                text,
                tr(
                    "{n} of the top {label} by revenue had a single buyer: one bulk order, worth "
                    "checking before reading it as broad demand.",
                    n=single,
                    label=shown,
                ),
            )
    return text


def movers_takeaway(table: pd.DataFrame, currency: str = "", names: pd.Series | None = None) -> str:
    """The biggest rise and fall between the two periods in words."""
    if table.empty:
        return tr("Fewer than two complete periods: no movers to compare yet.")

    def name(item):
        if names is not None and item in names.index and names[item]:
            return md_text(f"{item} ({str(names[item]).strip().title()})")
        return md_text(item)

    prev, last = table.attrs["previous"], table.attrs["last"]
    up, down = table["change"].idxmax(), table["change"].idxmin()
    text = tr("From {previous} to {last}, ", previous=period_label(prev), last=period_label(last))
    if table.loc[up, "change"] > 0:
        text += tr(
            "**{item}** rose most ({change})",
            item=name(up),
            change=money(table.loc[up, "change"], currency),
        )
    if table.loc[down, "change"] < 0:
        text += tr(
            " and **{item}** fell most ({change})",
            item=name(down),
            change=money(table.loc[down, "change"], currency),
        )
    return text + tr(".")


def share_takeaway(table: pd.DataFrame, label: str) -> str:
    """Top value of a split (region, channel) and its share."""
    top = md_text(table.index[0])
    rest = table.iloc[1:4]
    others = listed(f"{md_text(i)} {s:.0%}" for i, s in rest["revenue_share"].items())
    share = table["revenue_share"].iloc[0]
    return (
        tr(
            "**{top}** brings {share:.0%} of revenue; next come {others}. ",
            top=top,
            share=share,
            others=others,
        )
        if others
        else tr("**{top}** brings {share:.0%} of revenue. ", top=top, share=share)
    ) + tr("Demand outside the top {label} is small: plan it as one group.", label=tr(label))


# --------------------------------------------------------------------------- 6. forecast


def model_spec(n: int, season: int) -> dict:
    """Which exponential-smoothing model the history supports.

    Seasonal (additive, damped trend) needs two full seasons plus two points;
    a damped trend needs 10 points; below that, simple exponential smoothing.
    """
    if n >= 2 * season + 2:
        return {
            "trend": "add",
            "damped_trend": True,
            "seasonal": "add",
            "seasonal_periods": season,
            "name": "ETS with damped trend and seasonality",
        }
    if n >= 10:
        return {
            "trend": "add",
            "damped_trend": True,
            "seasonal": None,
            "seasonal_periods": None,
            "name": "ETS with damped trend, no seasonality",
        }
    return {
        "trend": None,
        "damped_trend": False,
        "seasonal": None,
        "seasonal_periods": None,
        "name": "simple exponential smoothing",
    }


def ets_forecast(train: pd.Series, steps: int, season: int, level: float = 0.8) -> pd.DataFrame:
    """Fit statsmodels' ETS on ``train`` and forecast ``steps`` ahead, with an interval.

    When every value is positive the model (additive errors, see
    :func:`model_spec`) is fitted to ``log(value)`` and transformed back, so
    forecasts and intervals stay positive and a trend acts as a percentage change
    per period (a decline flattens out instead of running below zero); the point
    forecast is then the back-transformed median. A history with a zero period
    (a closed week) is modelled on the original scale, with forecasts and
    bounds clipped at 0.

    Parameters
    ----------
    train : pandas.Series
        Values of complete periods, oldest first.
    season : int
        Periods per year (12 or 52); seasonality is used only with enough history.
    level : float
        Coverage of the prediction interval.

    Returns
    -------
    pandas.DataFrame
        ``forecast``, ``lower``, ``upper``, one row per step;
        ``attrs["model"]`` names the model used.
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    spec = model_spec(len(train), season)
    values = np.clip(np.asarray(train, dtype=float), 0, None)
    use_log = bool((values > 0).all())
    y = pd.Series(np.log(values) if use_log else values, index=pd.RangeIndex(len(values)))
    model = ETSModel(
        y,
        error="add",
        trend=spec["trend"],
        damped_trend=spec["damped_trend"],
        seasonal=spec["seasonal"],
        seasonal_periods=spec["seasonal_periods"],
    )
    with warnings.catch_warnings():
        # The optimiser may warn about convergence on very short or flat series; the
        # fit is still the maximum-likelihood point it reached, and the backtest
        # below measures how good that is.
        warnings.filterwarnings("ignore", message=".*converge.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        fit = model.fit(disp=False)
        pred = fit.get_prediction(start=len(y), end=len(y) + steps - 1)
        frame = pred.summary_frame(alpha=1 - level)
    back = np.exp if use_log else (lambda v: np.clip(v, 0, None))
    out = pd.DataFrame(
        {
            "forecast": back(frame["mean"].to_numpy()),
            "lower": back(frame["pi_lower"].to_numpy()),
            "upper": back(frame["pi_upper"].to_numpy()),
        }
    )
    out.attrs["model"] = spec["name"]
    return out


METHOD_NAMES = {
    "ets": "exponential smoothing (ETS)",
    "naive": "naive: the last complete {one} carried forward",
    "seasonal": "seasonal naive: the same {one} a year earlier x the year-on-year change",
}


SHORT_NAMES = {"ets": "ETS model", "naive": "naive", "seasonal": "seasonal naive"}
#: The exponential-smoothing models :func:`model_spec` names (reports show them translated).
MODEL_NAMES = i18n.fixed_names(
    __name__,
    (
        "ETS with damped trend and seasonality",
        "ETS with damped trend, no seasonality",
        "simple exponential smoothing",
    ),
)
i18n.fixed_names(__name__, (*SHORT_NAMES.values(), *METHOD_NAMES.values()))


def model_label(name: str) -> str:
    """A forecast model's name as the report shows it (already-translated names unchanged)."""
    return tr(name) if name in MODEL_NAMES else name


def method_name(method: str, freq: str = "M") -> str:
    """What a forecast method is, in words (``freq`` names the period)."""
    return tr(METHOD_NAMES[method], one=tr(FREQ_WORDS[freq][0]))


def naive_forecast(train: pd.Series, steps: int, season: int) -> np.ndarray:
    """The last value repeated ``steps`` times."""
    return np.repeat(float(np.asarray(train, dtype=float)[-1]), steps)


def seasonal_forecast(train: pd.Series, steps: int, season: int) -> np.ndarray | None:
    """The same period a year earlier, scaled by the year-on-year change; None under a year.

    The change is the total of the last ``season // 4`` periods (a quarter) against the same
    periods a year before, using as many as the history holds beyond one year; with
    exactly one year there is nothing to compare and the scale is 1 (growth unknown).
    A step beyond one season reuses the year-earlier value of the same season position.
    """
    values = np.asarray(train, dtype=float)
    n = len(values)
    if n < season:
        return None
    k = min(season // 4, n - season)
    scale = 1.0
    if k > 0:
        before = values[n - season - k : n - season].sum()
        scale = values[n - k :].sum() / before if before > 0 else 1.0
    idx = n - season + (np.arange(steps) % season)
    return values[idx] * scale


def seasonal_naive(train: pd.Series, steps: int, season: int) -> tuple[np.ndarray, str]:
    """The seasonal baseline when a year of history exists, else the naive one, named."""
    seasonal = seasonal_forecast(train, steps, season)
    if seasonal is not None:
        return seasonal, "seasonal"
    return naive_forecast(train, steps, season), "naive"


def _ets_point(train, steps, season):
    return ets_forecast(train, steps, season)["forecast"].to_numpy()


FORECASTERS = {"ets": _ets_point, "naive": naive_forecast, "seasonal": seasonal_forecast}


def backtest(
    series: pd.Series, horizon: int, season: int, min_train: int | None = None, fit=None
) -> pd.DataFrame:
    """Rolling-origin backtest of every forecast method on the same origins.

    At each origin ``t`` (from ``min_train`` to the end) each method sees only
    ``series.iloc[:t]`` and forecasts up to ``horizon`` periods after it. The seasonal
    method forecasts only from origins with a year of history (NaN before).

    Parameters
    ----------
    series : pandas.Series
        Values of complete periods, oldest first.
    min_train : int, optional
        First origin; default ``max(6, len(series) // 2)``.
    fit : callable, optional
        ``fit(train, steps, season) -> DataFrame`` with a ``forecast`` column, used for
        the ``ets`` column instead of :func:`ets_forecast` (tests).

    Returns
    -------
    pandas.DataFrame
        ``origin`` (period of the last training value), ``step``, ``period``,
        ``actual`` and one column per method of :data:`FORECASTERS` (``ets``,
        ``naive``, ``seasonal``).
    """
    methods = dict(FORECASTERS)
    if fit is not None:
        methods["ets"] = lambda train, steps, season: fit(train, steps, season)[
            "forecast"
        ].to_numpy()
    n = len(series)
    start = max(6, n // 2) if min_train is None else min_train
    rows = []
    for t in range(max(start, 2), n):
        train = series.iloc[:t]
        steps = min(horizon, n - t)
        preds = {}
        for name, method in methods.items():
            p = method(train, steps, season)
            preds[name] = np.full(steps, np.nan) if p is None else np.asarray(p, dtype=float)
        for h in range(steps):
            row = {
                "origin": series.index[t - 1],
                "step": h + 1,
                "period": series.index[t + h],
                "actual": float(series.iloc[t + h]),
            }
            rows.append(row | {name: p[h] for name, p in preds.items()})
    return pd.DataFrame(rows, columns=["origin", "step", "period", "actual", *methods])


def mape(actual, predicted) -> float | None:
    """Mean absolute percentage error (fraction); periods with actual 0 are skipped."""
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    keep = (a != 0) & ~np.isnan(p)
    if not keep.any():
        return None
    return float(np.mean(np.abs(p[keep] - a[keep]) / np.abs(a[keep])))


def backtest_errors(bt: pd.DataFrame) -> pd.DataFrame:
    """MAPE of each method by horizon, on the (origin, step) pairs every method forecast.

    Returns
    -------
    pandas.DataFrame
        Index ``step`` (1, 2, ...) plus a row ``mean over horizons`` (each horizon
        weighted equally, so long horizons with fewer points are not drowned);
        one column per method that forecast at least one pair, and ``points`` (pairs
        per horizon). Methods that never forecast (seasonal under a year) are left out.
    """
    methods = [m for m in FORECASTERS if m in bt.columns and bt[m].notna().any()]
    common = bt.dropna(subset=methods)
    rows = {}
    for step, part in common.groupby("step"):
        rows[int(step)] = {m: mape(part["actual"], part[m]) for m in methods}
        rows[int(step)]["points"] = len(part)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[*methods, "points"])
    table.index.name = "step"
    if len(table):
        mean = table[methods].mean().to_dict() | {"points": int(table["points"].sum())}
        table.loc["mean over horizons"] = pd.Series(mean)
    return table


def best_method(errors: pd.DataFrame) -> str:
    """The method with the lowest mean MAPE over horizons (ETS on a tie: it is the model)."""
    mean = errors.drop(columns="points").loc["mean over horizons"].astype(float)
    return str(mean.sort_values(kind="stable").index[0])


def _error_quantiles(log_errors: np.ndarray, level: float) -> tuple[float, float]:
    return tuple(np.quantile(log_errors, [(1 - level) / 2, (1 + level) / 2]))


def _errors_for(bt: pd.DataFrame, method: str, step: int, min_errors: int) -> np.ndarray:
    """log(actual / forecast) of ``method`` at ``step``, or at every step up to it when
    ``step`` alone has fewer than ``min_errors`` points."""
    ok = bt.loc[(bt["actual"] > 0) & (bt[method] > 0)]
    same = ok.loc[ok["step"] == step]
    use = same if len(same) >= min_errors else ok.loc[ok["step"] <= step]
    return np.log(use["actual"].to_numpy() / use[method].to_numpy())


def interval_coverage(bt: pd.DataFrame, method: str, level: float, min_errors: int = 5) -> dict:
    """How often the backtest-error interval would have held the actual, out of sample.

    For each backtest forecast, the interval is built only from the errors of forecasts
    whose period had ended by its origin (what was known then); forecasts with fewer than
    3 such errors are not checked.

    Returns
    -------
    dict
        ``coverage`` (share inside, None when nothing could be checked), ``checked``,
        ``inside``, ``level``.
    """
    inside = checked = 0
    for row in bt.itertuples(index=False):
        known = bt.loc[bt["period"] <= row.origin]
        errors = _errors_for(known, method, row.step, min_errors) if len(known) else []
        if len(errors) < 3 or not getattr(row, method) > 0:
            continue
        lo, hi = _error_quantiles(errors, level)
        value = np.log(row.actual / getattr(row, method)) if row.actual > 0 else -np.inf
        checked += 1
        inside += int(lo <= value <= hi)
    return {
        "coverage": inside / checked if checked else None,
        "checked": checked,
        "inside": inside,
        "level": level,
    }


def nowcast(
    frame: pd.DataFrame, series: pd.DataFrame, column: str, freq: str, as_of
) -> dict | None:
    """The running period's total from what is already booked, or None when none runs.

    Booked so far is divided by the share of the same period a year earlier that had been
    booked by the same day (when that period is complete in the data), else by the share
    of the period's days elapsed.

    Returns
    -------
    dict
        ``period``, ``booked``, ``estimate``, ``share`` (of the period booked by this day),
        ``basis`` (``"a year earlier"`` or ``"days elapsed"``).
    """
    cutoff = pd.Timestamp(as_of).normalize()
    period = pd.Period(cutoff, _freq(freq))
    if period not in series.index or series.loc[period, "complete"]:
        return None
    booked = float(series.loc[period, column])
    elapsed = (cutoff - period.start_time).days + 1
    share, basis = elapsed / period.days_in_month if freq == "M" else elapsed / 7, "days elapsed"
    year = period - SEASON[freq]
    if year in series.index and series.loc[year, "complete"] and column in ("revenue", "orders"):
        daily = engine.period_series(frame, "D", year.end_time.normalize())
        days = daily.loc[daily.index >= year.start_time, column]
        total = days.sum()
        part = days.loc[days.index < year.start_time + pd.Timedelta(days=elapsed)].sum()
        if total > 0 and part > 0:
            share, basis = float(part / total), "a year earlier"
    return {
        "period": period,
        "booked": booked,
        "estimate": booked / share if share > 0 else float("nan"),
        "share": float(share),
        "basis": basis,
    }


def demand_forecast(
    series: pd.DataFrame,
    column: str,
    periods: int,
    freq: str,
    level: float = 0.8,
    method: str = "ets",
    bt: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Forecast ``column`` of a :func:`period_series` for the ``periods`` after the last
    complete period by ``method``, with a ``level`` interval from the backtest's errors.

    Parameters
    ----------
    method : {"ets", "naive", "seasonal"}
        The forecaster (:data:`FORECASTERS`); usually the winner of :func:`backtest`.
    bt : pandas.DataFrame, optional
        :func:`backtest` of the same column; the interval at horizon ``h`` is the
        forecast times the ``level`` range of ``actual / forecast`` at that horizon (all
        horizons up to ``h`` when it has under 5 points). Without it (or too few errors),
        ETS keeps its model interval and a baseline gets none (NaN).

    Returns
    -------
    pandas.DataFrame
        Index ``period``; ``forecast``, ``lower``, ``upper``, ``actual_so_far``
        (the partial total of a period still running, else NaN), ``year_earlier``
        (actual of the same period a year before, when in the data).
        ``attrs``: ``method``, ``model``, ``history``, ``seasonal_possible``, ``level``,
        ``interval`` (``"backtest errors"``, ``"model"`` or None).
    """
    _check(series, (column, "complete"))
    season = SEASON[freq]
    history = series.loc[series["complete"], column]
    # A complete period can only follow the leading partial ones; gaps never occur.
    if len(history) < 3:
        raise ValueError(f"only {len(history)} complete periods: too few to forecast")
    index = pd.period_range(history.index[-1] + 1, periods=periods, freq=history.index.freq)
    model = ets_forecast(history, periods, season, level)
    point = model["forecast"].to_numpy() if method == "ets" else None
    if point is None:
        point = FORECASTERS[method](history, periods, season)
        if point is None:
            raise ValueError(f"method '{method}' cannot forecast from {len(history)} periods")
    fc = pd.DataFrame({"forecast": np.asarray(point, dtype=float)}, index=index)
    fc["lower"] = fc["upper"] = np.nan
    interval = None
    if bt is not None and method in bt.columns:
        for h in range(1, periods + 1):
            errors = _errors_for(bt, method, h, 5)
            if len(errors) >= 3:
                lo, hi = _error_quantiles(errors, level)
                fc.iloc[h - 1, 1:3] = fc["forecast"].iloc[h - 1] * np.exp([lo, hi])
                interval = "backtest errors"
    if interval is None and method == "ets":
        fc["lower"], fc["upper"] = model["lower"].to_numpy(), model["upper"].to_numpy()
        interval = "model"
    fc.index.name = "period"
    fc["actual_so_far"] = series[column].reindex(index)
    fc["year_earlier"] = series.loc[series["complete"], column].reindex(index - season).to_numpy()
    fc.attrs = {
        "method": method,
        "model": model.attrs["model"] if method == "ets" else method_name(method, freq),
        "history": len(history),
        "seasonal_possible": len(history) >= 2 * season + 2,
        "level": level,
        "interval": interval,
    }
    return fc


def _season_words(periods, freq: str) -> str:
    """``Jun-Nov 2011`` (months) or ``weeks of 06 Jun-28 Nov 2011`` for a run of periods."""
    first, last = min(periods), max(periods)
    if freq == "M":
        if first == last:
            return period_label(first)
        return tr("{first}-{last}", first=tr(MONTHS[first.month - 1]), last=month_label(last))
    return tr(
        "weeks of {first}-{last}",
        first=tr(
            "{day:02d} {month}",
            day=first.start_time.day,
            month=tr(MONTHS[first.start_time.month - 1]),
        ),
        last=day_label(last.start_time),
    )


def forecast_takeaway(bundle: dict, freq: str, currency: str = "") -> str:
    """The shown forecast, why this method, how accurate by horizon, and the interval."""
    fc, errors, coverage = bundle["revenue"], bundle["errors"], bundle["coverage"]
    one = tr(FREQ_WORDS[freq][0])
    first, row = fc.index[0], fc.iloc[0]
    method = fc.attrs["method"]
    text = tr(
        "Expected revenue for **{period}**: **{value}**",
        period=period_label(first),
        value=money(row["forecast"], currency),
    )
    if pd.notna(row["lower"]):
        text += tr(
            " ({level:.0%} interval {low}-{high})",
            level=fc.attrs["level"],
            low=money(row["lower"], currency),
            high=money(row["upper"], currency),
        )
    total = money(fc["forecast"].sum(), currency)
    text += (
        tr("; {total} over the next {n} months. ", total=total, n=len(fc))
        if freq == "M"
        else tr("; {total} over the next {n} weeks. ", total=total, n=len(fc))
    )
    if method == "ets":
        text += tr(
            "The forecast is the model ({model}), which had the lowest error ",
            model=model_label(fc.attrs["model"]),
        )
    else:
        text += tr(
            "**The forecast shown is a simple baseline** ({method}): it beat the "
            "exponential-smoothing model ",
            method=method_name(method, freq),
        )
    mean = errors.loc["mean over horizons"]
    others = listed(
        tr("{method} {error:.0%}", method=tr(SHORT_NAMES[m]), error=mean[m])
        for m in errors.columns
        if m not in ("points", method)
    )
    text += tr(
        "in the backtest (average error {error:.0%} over the horizons, against {others}; the "
        "table below gives it by horizon). ",
        error=mean[method],
        others=others,
    )
    if "seasonal" not in errors.columns:
        text += tr(
            "No origin of the backtest had a year of history, so the seasonal baseline (same "
            "{one} a year earlier) could not be tested and the baseline is plain naive. ",
            one=one,
        )
    judged = {p.month if freq == "M" else p.week for p in bundle["backtest"]["period"]}
    ahead = [p for p in fc.index if (p.month if freq == "M" else p.week) not in judged]
    if ahead:
        text += tr(
            "**Caution:** the backtest only judged forecasts for {judged}; {ahead} fall in a "
            "part of the year it never tested, so neither the method's win nor its interval says "
            "much about them. ",
            judged=_season_words(bundle["backtest"]["period"], freq),
            ahead=listed(period_label(p) for p in ahead),
        )
    if coverage["coverage"] is not None:
        text += tr(
            "The interval comes from the backtest's own errors; checked on {checked} past "
            "forecasts it held the actual {inside} times (**{coverage:.0%}** for a nominal "
            "{level:.0%}). ",
            checked=coverage["checked"],
            inside=coverage["inside"],
            coverage=coverage["coverage"],
            level=coverage["level"],
        )
    elif fc.attrs["interval"] == "model":
        text += tr("The interval is the model's own (too few backtest errors to measure one). ")
    now = bundle.get("nowcast")
    if now is not None:
        text += tr(
            "**{period} is still running:** {booked} is booked; ",
            period=period_label(now["period"]),
            booked=money(now["booked"], currency),
        )
        text += (
            tr(
                "by this day a year earlier {share:.0%} of that {one} had been booked",
                share=now["share"],
                one=one,
            )
            if now["basis"] == "a year earlier"
            else tr("{share:.0%} of its days have passed", share=now["share"])
        )
        text += tr(
            ", which points to about **{estimate}** for the whole {one}. ",
            estimate=money(now["estimate"], currency),
            one=one,
        )
    year = fc["year_earlier"]
    if year.notna().all():
        value = money(year.sum(), currency)
        text += (
            tr(
                "Sense check: the same {n} months a year earlier brought {value}.",
                n=len(fc),
                value=value,
            )
            if freq == "M"
            else tr(
                "Sense check: the same {n} weeks a year earlier brought {value}.",
                n=len(fc),
                value=value,
            )
        )
    return text


def metrics(
    comparison: pd.DataFrame,
    new_returning: pd.DataFrame,
    cycle,
    bundle: dict | None,
    abc: pd.DataFrame | None,
) -> dict:
    """The demand notebook's headline numbers, keyed as in ``metrics.json``.

    ``cycle`` is the :class:`analysis.cycle.Cycle` (its median is the days between orders).
    """
    rev = comparison.loc["revenue"]
    fc = None if bundle is None else bundle["revenue"]
    errors = None if fc is None else bundle["errors"]
    method = None if fc is None else fc.attrs["method"]
    by_h = (
        None
        if errors is None
        else {
            str(s): round(float(errors.loc[s, method]), 4)
            for s in errors.index
            if s != "mean over horizons"
        }
    )
    return {
        "revenue_last_period": None if pd.isna(rev["last"]) else round(float(rev["last"]), 2),
        "revenue_change_pct": None if pd.isna(rev["change"]) else round(100 * rev["change"], 2),
        "active_customers_last_period": None
        if pd.isna(comparison.loc["customers", "last"])
        else int(comparison.loc["customers", "last"]),
        "repeat_revenue_share": None
        if (share := repeat_revenue_share(new_returning)) is None
        else round(share, 4),
        "median_days_between_orders": cycle.quantile(0.5),
        "forecast_method": method,
        "forecast_next_period": None if fc is None else round(float(fc["forecast"].iloc[0]), 2),
        "forecast_mape": None
        if errors is None
        else round(float(errors.loc["mean over horizons", method]), 4),
        "forecast_mape_by_horizon": by_h,
        "baseline_mape": None
        if errors is None
        else round(float(errors.loc["mean over horizons", "naive"]), 4),
        "interval_coverage": None if fc is None else bundle["coverage"]["coverage"],
        "abc_counts": None if abc is None else {k: int(v) for k, v in abc["items"].items()},
    }


def forecast_bundle(
    series: pd.DataFrame,
    freq: str,
    periods: int | None,
    level: float = 0.8,
    frame: pd.DataFrame | None = None,
    as_of=None,
) -> dict:
    """Backtest every method on revenue, forecast revenue and orders with the winner,
    or a note on why not.

    Parameters
    ----------
    series : pandas.DataFrame
        Output of :func:`period_series` at ``freq``.
    periods : int, optional
        Periods to forecast; None means 3 months or 12 weeks.
    frame, as_of : optional
        The transactions and cutoff, for the nowcast of a running period.

    Returns
    -------
    dict
        ``revenue``, ``orders`` (:func:`demand_forecast` tables or None), ``backtest``
        (:func:`backtest` of revenue), ``errors`` (:func:`backtest_errors`), ``coverage``
        (:func:`interval_coverage`), ``nowcast`` (:func:`nowcast` or None), ``note``.
    """
    periods = int(periods) if periods else (3 if freq == "M" else 12)
    if periods < 1:
        raise ValueError("forecast_periods must be at least 1")
    out = dict.fromkeys(("revenue", "orders", "backtest", "errors", "coverage", "nowcast", "note"))
    history = series.loc[series["complete"], "revenue"]
    if len(history) < 8:
        out["note"] = _short_history_note(len(history), freq)
        return out
    season = SEASON[freq]
    out["backtest"] = backtest(history, periods, season)
    out["errors"] = backtest_errors(out["backtest"])
    method = best_method(out["errors"])
    out["coverage"] = interval_coverage(out["backtest"], method, level)
    out["revenue"] = demand_forecast(
        series, "revenue", periods, freq, level, method, out["backtest"]
    )
    orders_bt = backtest(series.loc[series["complete"], "orders"], periods, season)
    out["orders"] = demand_forecast(series, "orders", periods, freq, level, method, orders_bt)
    if frame is not None:
        out["nowcast"] = nowcast(frame, series, "revenue", freq, as_of)
    return out


def _short_history_note(n: int, freq: str) -> str:
    """Why there is no forecast: too few complete periods (one message per period word)."""
    if freq == "M":
        head = (
            tr("Only {n} complete month of history", n=n)
            if n == 1
            else tr("Only {n} complete months of history", n=n)
        )
    else:
        head = (
            tr("Only {n} complete week of history", n=n)
            if n == 1
            else tr("Only {n} complete weeks of history", n=n)
        )
    return head + tr(
        ": at least 8 are needed for a forecast and its backtest. Try freq='W' for more, "
        "shorter periods, or wait for more data."
    )


def absent_note(column: str, what: str) -> str:
    """The sentence shown instead of a section whose optional column is missing."""
    return text.absent_note(column, what)


def forecast_table(revenue: pd.DataFrame, orders: pd.DataFrame, now: dict | None = None):
    """Revenue and orders forecasts side by side, periods named, columns readable; the
    revenue nowcast of a running period (``now``, :func:`nowcast`) as its own column.
    Headers are in the report's language."""
    cols = {
        "forecast": tr("forecast"),
        "lower": tr_as("interval: low", "low"),
        "upper": tr_as("interval: high", "high"),
        "actual_so_far": tr("booked so far"),
        "year_earlier": tr("a year earlier"),
    }
    parts = [
        frame[list(cols)]
        .rename(columns=cols)
        .set_axis(pd.MultiIndex.from_product([[tr(what)], list(cols.values())]), axis=1)
        for what, frame in (("revenue", revenue), ("orders", orders))
    ]
    out = pd.concat(parts, axis=1)
    if now is not None:
        out.insert(4, (tr("revenue"), tr("nowcast")), np.nan)
        out.loc[now["period"], (tr("revenue"), tr("nowcast"))] = now["estimate"]
    out.index = [period_label(p) for p in out.index]
    return out


def forecast_display(bundle: dict, currency: str = ""):
    """:func:`forecast_table` of a :func:`forecast_bundle`, styled, with its caption."""
    level = bundle["revenue"].attrs.get("level", 0.8)
    table = forecast_table(bundle["revenue"], bundle["orders"], bundle["nowcast"])
    caption = tr(
        "Forecast with low-high {level:.0%} interval (revenue in {currency})",
        level=level,
        currency=currency or tr("money"),
    )
    return table.style.format("{:,.0f}", na_rep="–").set_caption(caption)


#: Columns of :func:`backtest_errors` (methods and the point count), shown translated.
ERROR_COLUMNS = i18n.fixed_names(__name__, ("ets", "naive", "seasonal", "points"))


def errors_display(bt: pd.DataFrame):
    """:func:`backtest_errors` styled for the report: methods and rows named in words."""
    errors = backtest_errors(bt)
    shown = errors.rename(
        index=lambda s: tr("mean over horizons") if s == "mean over horizons" else s,
        columns=lambda c: tr(c) if c in ERROR_COLUMNS else c,
    ).rename_axis(index=tr("step"))
    return (
        shown.style.format("{:.0%}", na_rep="–")
        .format("{:,.0f}", subset=[tr("points")])
        .set_caption(tr("Backtest error (MAPE) by horizon: periods ahead of the cutoff"))
    )
