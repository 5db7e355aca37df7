"""Data quality and headline KPIs for the overview notebook."""

from __future__ import annotations

import pandas as pd

from analysis.data import Transactions
from analysis.text import absent_note, amount, date_label, month_label, tr, tr_name  # noqa: F401


def cleaning_table(tx: Transactions) -> pd.DataFrame:
    """The cleaning log as a display table: step, rows removed, rows left, note."""
    log = tx.log.copy()
    removed = (-log["rows"]).where(~log["step"].isin(["rows read", "rows kept"]), 0).clip(lower=0)
    left = tx.rows_in - removed.cumsum()
    table = pd.DataFrame(
        {
            "step": log["step"],
            "rows removed": removed.astype(int),
            "rows left": left.astype(int),
            "share of input": removed / max(tx.rows_in, 1),
            "note": log["note"],
        }
    )
    ends = log["step"].isin(["rows read", "rows kept"])
    keep = (table["rows removed"] > 0) | (table["note"] != "") | ends
    return table.loc[keep].reset_index(drop=True)


def headline(tx: Transactions) -> dict:
    """Headline numbers of the clean log up to ``as_of``.

    Returns
    -------
    dict
        ``customers``, ``orders``, ``revenue``, ``first_date``, ``last_date``,
        ``rows_in``, ``rows_clean``, ``avg_order_value``, ``orders_per_customer``,
        ``repeat_customer_share`` (customers with purchases on 2+ days).
    """
    f = tx.frame
    customers = f["customer_id"].nunique()
    orders = f["order_id"].nunique()
    revenue = float(f["amount"].sum())
    days = f.assign(day=f["order_date"].dt.normalize()).groupby("customer_id")["day"].nunique()
    return {
        "customers": int(customers),
        "orders": int(orders),
        "revenue": round(revenue, 2),
        "first_date": f["order_date"].min().date().isoformat(),
        "last_date": f["order_date"].max().date().isoformat(),
        "rows_in": int(tx.rows_in),
        "rows_clean": int(tx.rows_clean),
        "avg_order_value": round(revenue / orders, 2) if orders else None,
        "orders_per_customer": round(orders / customers, 2) if customers else None,
        "repeat_customer_share": round(float((days > 1).mean()), 4) if customers else None,
    }


def monthly(frame: pd.DataFrame) -> pd.DataFrame:
    """Revenue, orders and active customers per calendar month."""
    month = frame["order_date"].dt.to_period("M")
    grouped = frame.groupby(month)
    out = pd.DataFrame(
        {
            "revenue": grouped["amount"].sum(),
            "orders": grouped["order_id"].nunique(),
            "customers": grouped["customer_id"].nunique(),
        }
    )
    out.index.name = "month"
    return out


def top_by(frame: pd.DataFrame, column: str, n: int = 10) -> pd.DataFrame:
    """Revenue, customers and revenue share of the ``n`` largest values of ``column``."""
    grouped = frame.groupby(column)
    out = pd.DataFrame(
        {"revenue": grouped["amount"].sum(), "customers": grouped["customer_id"].nunique()}
    ).sort_values("revenue", ascending=False)
    out["revenue share"] = out["revenue"] / out["revenue"].sum()
    return out.head(n)


def kpi_table(kpis: dict, currency: str = "") -> pd.DataFrame:
    """Headline numbers formatted for display (label -> text)."""
    rows = [
        (tr("Customers"), f"{kpis['customers']:,}"),
        (tr("Orders"), f"{kpis['orders']:,}"),
        (tr("Revenue"), f"{currency}{kpis['revenue']:,.0f}"),
        (tr("Average order value"), f"{currency}{kpis['avg_order_value']:,.2f}"),
        (tr("Orders per customer"), f"{kpis['orders_per_customer']:.2f}"),
        (tr("Customers buying on 2+ days"), f"{kpis['repeat_customer_share']:.1%}"),
        (tr("First order"), _day(kpis["first_date"])),
        (tr("Last order"), _day(kpis["last_date"])),
        (tr("Rows read / kept"), f"{kpis['rows_in']:,} / {kpis['rows_clean']:,}"),
    ]
    return pd.DataFrame(rows, columns=[tr("measure"), tr("value")]).set_index(tr("measure"))


def _day(iso: str) -> str:
    """An ISO date of the headline numbers for readers (``2011-12-09``, ``2011年12月9日``)."""
    return date_label(pd.Timestamp(iso), "%Y-%m-%d")


def takeaway(tx: Transactions, kpis: dict) -> str:
    """One paragraph, in words, of what the data holds and how clean it was."""
    dropped = 1 - kpis["rows_clean"] / max(kpis["rows_in"], 1)
    biggest = cleaning_table(tx).iloc[1:]
    biggest = biggest.loc[biggest["rows removed"] > 0]
    reason = ""
    if not biggest.empty:
        top = biggest.sort_values("rows removed", ascending=False).iloc[0]
        reason = " " + tr(
            "The largest cut is **{step}** ({n} rows).",
            step=tr_name(top["step"]),
            n=f"{top['rows removed']:,}",
        )
    return (
        tr(
            "**{customers} customers** placed **{orders} orders** worth **{revenue}** between "
            "{first} and {last}. {repeat} of customers bought on more than one day, the base every "
            "repeat-purchase model below stands on. Cleaning removed {dropped} of the {rows} input "
            "rows.",
            customers=f"{kpis['customers']:,}",
            orders=f"{kpis['orders']:,}",
            revenue=f"{tx.currency}{kpis['revenue']:,.0f}",
            first=_day(kpis["first_date"]),
            last=_day(kpis["last_date"]),
            repeat=f"{kpis['repeat_customer_share']:.0%}",
            dropped=f"{dropped:.1%}",
            rows=f"{kpis['rows_in']:,}",
        )
        + reason
    )


def month_is_partial(month: pd.Period, as_of: pd.Timestamp) -> bool:
    """Whether ``month`` ends after the cutoff (its numbers are incomplete)."""
    return month.end_time.normalize() > pd.Timestamp(as_of).normalize()


def monthly_takeaway(month: pd.DataFrame, as_of: pd.Timestamp, currency: str = "") -> str:
    """A sentence on the best month and the last complete month vs the one before."""
    complete = month.loc[[not month_is_partial(m, as_of) for m in month.index]]
    if len(complete) < 2:
        return tr("Fewer than two complete months of data: no month-on-month comparison yet.")
    best = complete["revenue"].idxmax()
    last, prev = complete.index[-1], complete.index[-2]
    change = complete.loc[last, "revenue"] / complete.loc[prev, "revenue"] - 1
    partial = (
        ""
        if len(complete) == len(month)
        else " "
        + tr(
            "{month} is still running at the cutoff: shown hatched, not as a drop.",
            month=month_label(month.index[-1], "%Y-%m"),
        )
    )
    return (
        tr(
            "The strongest month was **{best}** ({best_revenue}). The last complete month, "
            "{last}, brought {revenue} from {customers} customers, **{change}** on {prev}.",
            best=month_label(best, "%Y-%m"),
            best_revenue=amount(complete.loc[best, "revenue"], currency),
            last=month_label(last, "%Y-%m"),
            revenue=amount(complete.loc[last, "revenue"], currency),
            customers=f"{complete.loc[last, 'customers']:,}",
            change=f"{change:+.0%}",
            prev=month_label(prev, "%Y-%m"),
        )
        + partial
    )
