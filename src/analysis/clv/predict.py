"""Per-customer predictions of a fitted model: P(alive), expected purchases, P(no purchase),
expected spend, discounted CLV and value at risk. Scored once per unique row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.clv.models import (
    DAYS_PER_MONTH,
    RFT,
    FittedModel,
    ModelFitError,
    _check_columns,
    _codes,
    _per_customer,
    _rft,
    _spend_array,
    frequency_age_pairs,
    param_text,
)
from analysis.summary import TIME_UNITS


def probability_alive(fitted: FittedModel, summary: pd.DataFrame) -> pd.Series:
    """P(alive) at the end of the summary's window, per customer.

    Parameters
    ----------
    fitted : FittedModel
        A purchase model from :func:`fit_model`.
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` per customer (same time unit as the fit).

    Returns
    -------
    pandas.Series
        ``p_alive`` indexed like ``summary``. Note: BG/NBD gives 1 to one-time
        buyers by construction (they cannot have "died" before a repeat purchase).
    """
    return _per_customer(summary, RFT, lambda u: _alive_unique(fitted, u), "p_alive")


def _alive_unique(fitted: FittedModel, unique: pd.DataFrame) -> np.ndarray:
    """P(alive) on unique rows, through the model's spec."""
    return fitted.spec.alive(fitted, *_rft(unique))


def expected_purchases(fitted: FittedModel, summary: pd.DataFrame, t: float) -> pd.Series:
    """Expected purchases in the next ``t`` time units, per customer.

    Parameters
    ----------
    fitted : FittedModel
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` per customer.
    t : float
        Horizon in the fit's time unit (weeks for ``time_unit="W"``).

    Returns
    -------
    pandas.Series
        ``expected_purchases`` indexed like ``summary``.
    """
    return _per_customer(
        summary, RFT, lambda u: _expected_unique(fitted, u, t), "expected_purchases"
    )


def _expected_unique(fitted: FittedModel, unique: pd.DataFrame, t: float) -> np.ndarray:
    """Conditional expected purchases in ``(T, T + t]`` on unique rows: the one path every
    forecast (holdout, CLV, bootstrap) goes through."""
    return fitted.spec.expected(fitted, *_rft(unique), t)


def probability_no_purchase(fitted: FittedModel, summary: pd.DataFrame, t: float) -> pd.Series:
    """P(no purchase in the next ``t`` time units | each customer's history), per customer.

    The purchase model's own answer to "will this customer be silent for the churn window":
    dead already, or alive and making no purchase in ``t``. BG/NBD and MBG/NBD (dropout only
    at a purchase): ``1 - P(alive) + P(alive) ((α+T) / (α+T+t))^(r+x)``. Pareto/NBD: alive
    customers may also die during the window before buying (an integral over the death time).

    Parameters
    ----------
    fitted : FittedModel
        Purchase model from :func:`fit_model`.
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` per customer (the fit's time unit).
    t : float
        Window length in the fit's time unit.

    Returns
    -------
    pandas.Series
        ``p_no_purchase`` indexed like ``summary``.
    """
    return _per_customer(summary, RFT, lambda u: _silent_unique(fitted, u, t), "p_no_purchase")


def _silent_unique(fitted: FittedModel, unique: pd.DataFrame, t: float) -> np.ndarray:
    return fitted.spec.no_purchase(fitted, *_rft(unique), t)


def probability_of_purchases(fitted: FittedModel, t: float, n: int) -> float:
    """P(X(t) = n): chance that a customer makes exactly ``n`` repeat purchases in the ``t``
    time units after their first one (closed forms; Pareto/NBD by an integral over the
    dropout time). CDNOW, published BG/NBD: P(X(39) = 0) = 0.5737864.
    """
    return fitted.spec.p_count(fitted, float(t), int(n))


def expected_purchases_new(fitted: FittedModel, t) -> np.ndarray:
    """E[X(t)]: expected repeat purchases of a new customer over the ``t`` time units after
    their first purchase (array-like ``t``)."""
    return fitted.spec.new_expected(fitted, np.asarray(t, dtype=float))


def expected_spend(spend: FittedModel, summary: pd.DataFrame) -> pd.Series:
    """Expected mean spend per future purchase (Gamma-Gamma), per customer.

    One-time buyers (``frequency`` 0) get the population mean spend
    ``p v / (q - 1)``: the model has no spend history of theirs to shrink.
    """
    _check_columns(summary, ["frequency", "monetary_value"])
    values = _spend_array(spend.params, summary["frequency"], summary["monetary_value"])
    return pd.Series(values, index=summary.index, name="expected_spend")


def periods_per_month(time_unit: str) -> float:
    """How many time units (weeks or days) one month holds (365.25 / 12 days)."""
    return DAYS_PER_MONTH / TIME_UNITS[time_unit]


def _discounted_purchases(fitted: FittedModel, unique: pd.DataFrame, months: int, rate: float):
    """Sum over months of expected purchases in that month / (1 + monthly rate) ** month."""
    step = periods_per_month(fitted.time_unit)
    monthly = (1.0 + rate) ** (1.0 / 12.0) - 1.0
    x, tx, T = _rft(unique)
    px, pT, pair = frequency_age_pairs(x, T)  # P(alive) x a forecast given alive on (x, T)
    total = np.zeros(len(px))
    previous = np.zeros(len(px))
    for i in range(1, int(months) + 1):
        cum = fitted.spec.alive_rate(fitted, px, pT, i * step)
        total += (cum - previous) / (1.0 + monthly) ** i
        previous = cum
    alive = fitted.spec.alive(fitted, x, tx, T)
    return alive * total[pair], alive * previous[pair]


def customer_value(
    fitted: FittedModel,
    spend: FittedModel,
    summary: pd.DataFrame,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
) -> pd.DataFrame:
    """Discounted customer lifetime value over the next ``horizon_months``, per customer.

    CLV = sum over months m of E[purchases in month m] x E[spend per purchase] /
    (1 + monthly rate) ** m, with the monthly rate equivalent to the annual
    ``discount_rate``. Scored once per unique (frequency, recency, T) row.

    Parameters
    ----------
    fitted : FittedModel
        Purchase model (:func:`fit_model`), same time unit as ``summary``.
    spend : FittedModel
        Gamma-Gamma model (:func:`fit_spend`).
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` per customer.
    horizon_months : int
        How far ahead to look.
    discount_rate : float
        Annual discount rate (0.10 = 10 %).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``summary``: ``frequency``, ``recency``, ``T``, ``monetary_value``,
        ``one_time_buyer``, ``p_alive``, ``expected_purchases`` (undiscounted, over the
        horizon), ``expected_spend``, ``clv``, ``value_if_alive`` (CLV of the customer if
        still active: ``clv / p_alive``).
    """
    _check_columns(summary, RFT + ["monetary_value"])
    unique, codes = _codes(summary, RFT)
    discounted, undiscounted = _discounted_purchases(fitted, unique, horizon_months, discount_rate)
    out = summary[RFT + ["monetary_value"]].copy()
    out["one_time_buyer"] = out["frequency"] == 0
    out["p_alive"] = _alive_unique(fitted, unique)[codes]
    out["expected_purchases"] = undiscounted[codes]
    out["expected_spend"] = _spend_array(spend.params, out["frequency"], out["monetary_value"])
    out["clv"] = discounted[codes] * out["expected_spend"].to_numpy()
    # every forecast is P(alive) x the forecast given alive, so this is exact
    out["value_if_alive"] = out["clv"] / out["p_alive"].clip(lower=1e-12)
    bad = int((~np.isfinite(out["value_if_alive"].to_numpy())).sum())
    if bad:  # never summed silently: the notebook reports the sentence instead of a total
        raise ModelFitError(
            f"{fitted.name} with Gamma-Gamma gives no finite CLV for {bad:,} customers "
            f"(spend parameters {param_text(spend.params)}), so no total is reported"
        )
    return out


VALUE_AT_RISK_DEFINITION = (
    "Value at risk = (1 - P(alive)) x the customer's {horizon}-month CLV if still active: "
    "the value lost if the customer has already gone, which a successful win-back would "
    "recover. It is not P(churn) x CLV: the CLV already allows for silences like the churn "
    "window, so that product counts the same risk twice."
)


def value_at_risk(values: pd.DataFrame) -> pd.Series:
    """Value lost if the customer has gone: ``(1 - p_alive) x value_if_alive``, per customer.

    Parameters
    ----------
    values : pandas.DataFrame
        :func:`customer_value` output (``p_alive``, ``value_if_alive``).

    Returns
    -------
    pandas.Series
        ``value_at_risk`` indexed like ``values`` (same money as the CLV; the CLV plus it
        is the value if alive). The definition in words is :data:`VALUE_AT_RISK_DEFINITION`.
    """
    _check_columns(values, ["p_alive", "value_if_alive"])
    return ((1.0 - values["p_alive"]) * values["value_if_alive"]).rename("value_at_risk")


def bgbb_forecast(fitted: FittedModel, summary: pd.DataFrame, periods: int) -> pd.DataFrame:
    """BG/BB P(alive) at the next opportunity and expected transactions in ``periods`` more.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``summary``: ``p_alive``, ``expected_purchases``.
    """
    from analysis.clv import adapter

    _check_columns(summary, ["frequency", "recency", "periods"])
    x, tx, n = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "periods"))
    alive, expected = adapter.bgbb_conditional(fitted.engine, int(periods), x, tx, n)
    return pd.DataFrame({"p_alive": alive, "expected_purchases": expected}, index=summary.index)


def alive_history(fitted: FittedModel, frame: pd.DataFrame, customer_id, as_of) -> pd.DataFrame:
    """One customer's P(alive) on every day from their first purchase to ``as_of``.

    Each day's (frequency, recency, T) are those the customer had on that day (purchase
    days only, as in the summary), scored with the fitted model: P(alive) jumps up at each
    purchase and decays through each silence.

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean transactions (``customer_id``, ``order_date``, ``amount``).

    Returns
    -------
    pandas.DataFrame
        Index ``day``: ``p_alive``, ``purchase`` (bool: a purchase that day).
    """
    from analysis.summary import purchase_days

    as_of = pd.Timestamp(as_of).normalize()
    rows = frame.loc[frame["customer_id"].astype(str) == str(customer_id)]
    days = purchase_days(rows, end=as_of)["day"].sort_values().to_numpy()
    if len(days) == 0:
        raise ValueError(f"customer {customer_id!r} has no purchase up to {as_of.date()}")
    grid = pd.date_range(days[0], as_of, freq="D")
    unit = TIME_UNITS[fitted.time_unit]
    seen = np.searchsorted(days, grid.to_numpy(), side="right")  # purchase days so far
    state = pd.DataFrame(
        {
            "frequency": seen - 1,
            "recency": (days[seen - 1] - days[0]) / np.timedelta64(1, "D") / unit,
            "T": (grid - days[0]).days.to_numpy() / unit,
        }
    )
    out = pd.DataFrame(
        {"p_alive": probability_alive(fitted, state).to_numpy(), "purchase": grid.isin(days)},
        index=pd.Index(grid, name="day"),
    )
    return out


def model_matrix(fitted: FittedModel, T: float, column: str = "p_alive", t: float = 0.0,
                 max_frequency: int = 20, steps: int = 20) -> pd.DataFrame:  # fmt: skip
    """The model's P(alive) or expected purchases over a frequency x recency grid at age ``T``.

    The peers' frequency-recency and P(alive) matrices: the model's answer for every
    history a customer of age ``T`` could have (not an average over actual customers).

    Parameters
    ----------
    T : float
        Customer age in the fit's time unit.
    column : {"p_alive", "expected_purchases"}
    t : float
        Horizon of ``expected_purchases`` (fit's time unit).

    Returns
    -------
    pandas.DataFrame
        Index ``repeat purchases`` (0 ... ``max_frequency``), columns ``recency`` (last
        purchase, time units after the first; ``steps`` values from 0 to ``T``).
    """
    recency = np.linspace(0.0, float(T), steps + 1)[1:]
    f, r = np.meshgrid(np.arange(max_frequency + 1), recency, indexing="ij")
    grid = pd.DataFrame({"frequency": f.ravel(), "recency": r.ravel(), "T": float(T)})
    grid.loc[grid["frequency"] == 0, "recency"] = 0.0  # no repeat purchase: recency is 0
    if column == "p_alive":
        values = probability_alive(fitted, grid)
    elif column == "expected_purchases":
        values = expected_purchases(fitted, grid, t)
    else:
        raise ValueError(f"column '{column}' unknown; use p_alive or expected_purchases")
    table = pd.DataFrame(values.to_numpy().reshape(f.shape), columns=np.round(recency, 1))
    table.index.name = "repeat purchases"
    table.columns.name = "recency"
    return table
