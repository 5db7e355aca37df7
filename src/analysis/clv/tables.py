"""CLV tables: value segments, the segment table, top customers, behaviour matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.clv.models import RFT, _check_columns
from analysis.summary import TIME_UNITS

#: Purchase-history segments of :func:`value_segment` (English values; reports show ``tr(name)``).
VALUE_SEGMENTS = ("one-time buyers", "2-3 purchases", "4+ purchases")


def value_segment(values: pd.DataFrame) -> pd.Series:
    """Purchase-history segment of each customer: one-time buyers, 2-3 purchases, 4+ purchases.

    Parameters
    ----------
    values : pandas.DataFrame
        ``frequency`` (repeat purchases) per customer.
    """
    _check_columns(values, ["frequency"])
    f = values["frequency"].to_numpy()
    one, few, many = VALUE_SEGMENTS
    labels = np.where(f == 0, one, np.where(f <= 2, few, many))
    return pd.Series(
        pd.Categorical(labels, categories=list(VALUE_SEGMENTS)), index=values.index, name="segment"
    )


def segment_table(values: pd.DataFrame) -> pd.DataFrame:
    """Customers and CLV by purchase-history segment (one-time buyers shown explicitly).

    Parameters
    ----------
    values : pandas.DataFrame
        :func:`customer_value` output.

    Returns
    -------
    pandas.DataFrame
        Index ``segment``: ``customers``, ``share of customers``, ``mean P(alive)``,
        ``expected purchases``, ``expected spend``, ``CLV per customer``,
        ``total CLV``, ``share of CLV``.
    """
    _check_columns(values, ["frequency", "p_alive", "expected_purchases", "expected_spend", "clv"])
    grouped = values.groupby(value_segment(values), observed=False)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "mean P(alive)": grouped["p_alive"].mean(),
            "expected purchases": grouped["expected_purchases"].mean(),
            "expected spend": grouped["expected_spend"].mean(),
            "CLV per customer": grouped["clv"].mean(),
            "total CLV": grouped["clv"].sum(),
        }
    )
    out.insert(1, "share of customers", out["customers"] / max(len(values), 1))
    out["share of CLV"] = out["total CLV"] / out["total CLV"].sum()
    out.index.name = "segment"
    return out


def top_customers(
    values: pd.DataFrame, n: int = 10, anonymize: bool = False, time_unit: str = "W"
) -> pd.DataFrame:
    """The ``n`` customers with the highest CLV, ids pseudonymised when asked.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``purchases`` (purchase days so far), ``weeks since last purchase``
        (``days ...`` when ``time_unit`` is days), ``P(alive)``, ``expected purchases``,
        ``expected spend``, ``CLV``.
    """
    from analysis.privacy import display_ids

    top = values.nlargest(n, "clv")
    since = f"{'days' if TIME_UNITS[time_unit] == 1 else 'weeks'} since last purchase"
    out = pd.DataFrame(
        {
            "customer_id": top.index.astype(str),
            "purchases": (top["frequency"] + 1).astype(int).to_numpy(),
            since: (top["T"] - top["recency"]).to_numpy(),
            "P(alive)": top["p_alive"].to_numpy(),
            "expected purchases": top["expected_purchases"].to_numpy(),
            "expected spend": top["expected_spend"].to_numpy(),
            "CLV": top["clv"].to_numpy(),
        }
    )
    return display_ids(out, anonymize).reset_index(drop=True)


FREQUENCY_BINS = [-0.5, 0.5, 1.5, 2.5, 3.5, 5.5, 9.5, 19.5, np.inf]
FREQUENCY_LABELS = ["0", "1", "2", "3", "4-5", "6-9", "10-19", "20+"]
WEEK_BINS = [-np.inf, 4, 8, 13, 26, 39, 52, 78, np.inf]
WEEK_LABELS = ["<4", "4-8", "8-13", "13-26", "26-39", "39-52", "52-78", "78+"]


def behaviour_matrix(values: pd.DataFrame, column: str, time_unit: str = "W") -> pd.DataFrame:
    """Mean of ``column`` by repeat purchases (rows) x weeks since last purchase (columns).

    An aggregate over the actual customers (cheap at any scale); empty cells are NaN.

    Parameters
    ----------
    values : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` and ``column`` (e.g. ``p_alive``).
    """
    _check_columns(values, RFT + [column])
    weeks = (values["T"] - values["recency"]) * TIME_UNITS[time_unit] / 7.0
    rows = pd.cut(values["frequency"], FREQUENCY_BINS, labels=FREQUENCY_LABELS)
    cols = pd.cut(weeks, WEEK_BINS, labels=WEEK_LABELS, right=False)
    table = values[column].groupby([rows, cols], observed=False).mean().unstack()
    table.index.name = "repeat purchases"
    table.columns.name = "weeks since last purchase"
    return table.dropna(how="all").dropna(axis=1, how="all")
