"""One per-customer summary for every analysis: frequency, recency, T, monetary value.

Conventions (Fader, Hardie & Lee 2005; the ``lifetimes`` package):

- purchases on the same calendar day are merged into one purchase event;
- ``frequency`` = number of *repeat* purchase days (purchase days - 1);
- ``recency`` = time from first to last purchase day; ``T`` = time from first
  purchase day to the cutoff; both continuous (days, or days / 7 for weeks:
  never rounded to whole periods, which biases the BG/NBD estimate);
- ``monetary_value`` = mean amount of the *repeat* purchase days (0 for a
  one-time buyer), the input the Gamma-Gamma spend model expects.

The cutoff day is included: a purchase on ``as_of`` counts, and a customer who
first bought on 1997-01-01 has ``T`` = 272 / 7 = 38.86 weeks at 1997-09-30.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIME_UNITS = {"D": 1.0, "days": 1.0, "W": 7.0, "weeks": 7.0}

SUMMARY_COLUMNS = (
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "first_purchase",
    "last_purchase",
    "purchase_days",
    "orders",
    "revenue",
    "avg_order_value",
)


def _unit_days(time_unit: str) -> float:
    try:
        return TIME_UNITS[time_unit]
    except KeyError:
        raise ValueError(f"time_unit '{time_unit}' unknown; use one of {sorted(TIME_UNITS)}") from None


def _check(frame: pd.DataFrame) -> None:
    missing = [c for c in ("customer_id", "order_date", "amount") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"transactions lack column(s) {missing}; load them with analysis.data.load_transactions"
        )


def purchase_days(
    frame: pd.DataFrame,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Merge order lines into one row per customer and purchase day.

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean transactions with ``customer_id``, ``order_date``, ``amount`` and
        optionally ``order_id``.
    start, end : date-like, optional
        Keep days in ``[start, end]`` (both inclusive, whole days).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``day``, ``amount`` (sum), ``orders`` (distinct order
        ids), sorted by customer and day. Days whose returns cancel their purchases
        (net amount negative, or zero with a negative line) are not purchase events
        and are left out; a zero-amount purchase with no return is kept.
    """
    _check(frame)
    day = frame["order_date"].dt.normalize()
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= day >= pd.Timestamp(start).normalize()
    if end is not None:
        keep &= day <= pd.Timestamp(end).normalize()
    sub = pd.DataFrame(
        {
            "customer_id": frame["customer_id"][keep],
            "day": day[keep],
            "amount": frame["amount"][keep],
        }
    )
    has_orders = "order_id" in frame.columns
    if has_orders:
        sub["order_id"] = frame["order_id"][keep]
    grouped = sub.groupby(["customer_id", "day"], sort=True, observed=True)
    daily = grouped["amount"].agg(["sum", "min"]).rename(columns={"sum": "amount"})
    daily["orders"] = grouped["order_id"].nunique() if has_orders else grouped.size()
    daily = daily.reset_index()
    returned = (daily["amount"] < 0) | ((daily["amount"] == 0) & (daily["min"] < 0))
    return daily.loc[~returned].drop(columns="min").reset_index(drop=True)


def summarise_days(daily: pd.DataFrame, as_of: pd.Timestamp | str, time_unit: str = "W") -> pd.DataFrame:
    """Per-customer summary from the output of :func:`purchase_days`.

    Returns one row per customer (index ``customer_id``) with
    :data:`SUMMARY_COLUMNS`.
    """
    unit = _unit_days(time_unit)
    cutoff = pd.Timestamp(as_of).normalize()
    if daily.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS), index=pd.Index([], name="customer_id"))
    grouped = daily.groupby("customer_id", sort=True, observed=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    n_days = grouped["day"].count()
    revenue = grouped["amount"].sum()
    first_amount = grouped["amount"].first()  # daily is sorted by day within customer
    orders = grouped["orders"].sum()
    frequency = n_days - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, (revenue - first_amount) / frequency.clip(lower=1), 0.0)
    out = pd.DataFrame(
        {
            "frequency": frequency.astype("int64"),
            "recency": (last - first).dt.days / unit,
            "T": (cutoff - first).dt.days / unit,
            "monetary_value": monetary,
            "first_purchase": first,
            "last_purchase": last,
            "purchase_days": n_days.astype("int64"),
            "orders": orders.astype("int64"),
            "revenue": revenue,
            "avg_order_value": revenue / orders,
        }
    )
    out.index.name = "customer_id"
    return out


def customer_summary(
    frame: pd.DataFrame, as_of: pd.Timestamp | str, time_unit: str = "W"
) -> pd.DataFrame:
    """Frequency / recency / T / monetary value per customer at the cutoff ``as_of``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean transactions (``customer_id``, ``order_date``, ``amount``,
        optional ``order_id``), e.g. ``load_transactions(...).frame``.
    as_of : date-like
        Cutoff day (inclusive); later rows are ignored.
    time_unit : {"W", "D"}
        Weeks (days / 7) or days.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; columns ``frequency``, ``recency``, ``T``,
        ``monetary_value``, ``first_purchase``, ``last_purchase``,
        ``purchase_days``, ``orders``, ``revenue``, ``avg_order_value``.
    """
    return summarise_days(purchase_days(frame, end=as_of), as_of, time_unit)


def calibration_holdout(
    frame: pd.DataFrame,
    calibration_end: pd.Timestamp | str,
    observation_end: pd.Timestamp | str,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Calibration summary plus what each calibration customer did in the holdout.

    Customers are those with a purchase on or before ``calibration_end``; the
    holdout is ``(calibration_end, observation_end]``.

    Returns
    -------
    pandas.DataFrame
        The :func:`customer_summary` columns at ``calibration_end`` plus
        ``frequency_holdout`` (purchase days in the holdout),
        ``monetary_value_holdout`` (their mean amount, 0 when none),
        ``revenue_holdout`` and ``duration_holdout`` (holdout length in ``time_unit``).
    """
    cal_end = pd.Timestamp(calibration_end).normalize()
    obs_end = pd.Timestamp(observation_end).normalize()
    if obs_end <= cal_end:
        raise ValueError(
            f"observation_end {obs_end.date()} must be after calibration_end {cal_end.date()}"
        )
    daily = purchase_days(frame, end=obs_end)
    cal = summarise_days(daily.loc[daily["day"] <= cal_end], cal_end, time_unit)
    hold = daily.loc[(daily["day"] > cal_end) & daily["customer_id"].isin(cal.index)]
    grouped = hold.groupby("customer_id", observed=True)["amount"]
    out = cal.copy()
    out["frequency_holdout"] = grouped.count().reindex(cal.index, fill_value=0).astype("int64")
    out["revenue_holdout"] = grouped.sum().reindex(cal.index, fill_value=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["monetary_value_holdout"] = np.where(
            out["frequency_holdout"] > 0, out["revenue_holdout"] / out["frequency_holdout"], 0.0
        )
    out["duration_holdout"] = (obs_end - cal_end).days / _unit_days(time_unit)
    return out
