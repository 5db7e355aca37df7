"""When will they buy next? Each customer's next purchase date with an interval.

Derivation (time measured from the cutoff ``T``; ``x`` repeat purchases):

- **Given alive, BG/NBD and MBG/NBD.** Dropout happens only right after a purchase, so a
  customer alive today stays alive until their next purchase: the wait W given the purchase
  rate lambda is Exponential(lambda). Given the history and being alive, lambda ~
  Gamma(r + x, alpha + T) (the Poisson-Gamma posterior; being alive adds a factor in p
  only), so W is **Lomax** (Pareto type II) with shape r + x and scale alpha + T:
  P(W > w) = ((alpha+T) / (alpha+T+w))^(r+x), quantile
  w_q = (alpha+T) ((1-q)^(-1/(r+x)) - 1) (Fader, Hardie & Lee 2005, section 5, the
  gamma-mixed exponential; the same term as in P(no purchase in t)).
- **Given alive, Pareto/NBD.** A customer alive today may die before buying again: W has
  P(W > w | alive) = P(no purchase in w | alive), the model's own
  :func:`analysis.clv.probability_no_purchase` evaluated with the last purchase at the
  cutoff (``recency = T``: P(alive) = 1, and the posterior of the rates given alive,
  Gamma(r+x, alpha+T) and Gamma(s, beta+T), does not depend on recency). The
  distribution is defective: an upper quantile beyond P(ever buys again | alive) does
  not exist (the customer may never buy again).
- **Weighted by P(alive).** F(w) = P(alive) P(W <= w | alive): the chance of a next
  purchase by w, all things considered; its quantile q is the given-alive quantile at
  q / P(alive), and does not exist when q >= P(alive) P(ever buys | alive).

The point date is the median (the mean of a Lomax is infinite when r + x <= 1, typical of
one-time buyers); the interval is the central ``level`` interval. Dates are the cutoff plus
the wait, rounded down to the day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.clv.models import RFT, FittedModel, ParetoSpec, _codes, _rft
from analysis.summary import TIME_UNITS
from analysis.text import pct, tr

#: Waits beyond this many time units count as "later or never" (NaN / NaT; about 200 years
#: in weeks): the end of the Pareto/NBD grid, and a Lomax tail of a near-zero rate.
NEVER = 1e4
_GRID = 80


def _lomax_quantile(fitted: FittedModel, x, T, q) -> np.ndarray:
    p = fitted.params
    k, scale = p["r"] + x, p["alpha"] + T
    with np.errstate(divide="ignore", invalid="ignore"):
        out = scale * np.expm1(-np.log1p(-q) / k)
    return np.where((q >= 0) & (q < 1), out, np.nan)


def _grid_quantiles(fitted: FittedModel, x, T, qs: list) -> list[np.ndarray]:
    """Given-alive quantiles of a defective wait (Pareto/NBD): P(W <= w | alive) on one log
    grid of waits, inverted by interpolation in log time; NaN beyond the grid's end."""
    grid = np.geomspace(1e-3, NEVER, _GRID)
    cdf = np.column_stack([1.0 - fitted.spec.no_purchase(fitted, x, T, T, w) for w in grid])
    cdf = np.maximum.accumulate(np.clip(cdf, 0.0, 1.0), axis=1)
    log_grid = np.log(grid)
    found = []
    for q in qs:
        out = np.full(len(x), np.nan)
        for i in np.flatnonzero((q >= 0) & (q < cdf[:, -1])):
            out[i] = np.exp(np.interp(q[i], cdf[i], log_grid))
        found.append(out)
    return found


def wait_quantiles(fitted: FittedModel, x, T, qs: list) -> list[np.ndarray]:
    """Quantiles ``qs`` (each a value or one per row) of the wait to the next purchase of a
    customer alive today, in the fit's time unit; NaN where one does not exist (Pareto/NBD:
    the customer may never buy again)."""
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    qs = [np.broadcast_to(np.asarray(q, dtype=float), x.shape) for q in qs]
    if isinstance(fitted.spec, ParetoSpec):
        return _grid_quantiles(fitted, x, T, qs)
    return [_lomax_quantile(fitted, x, T, q) for q in qs]


def _waits_unique(fitted: FittedModel, unique: pd.DataFrame, level: float) -> dict:
    x, tx, T = _rft(unique)
    alive = fitted.spec.alive(fitted, x, tx, T)
    tail = (1.0 - level) / 2.0
    probs = {"": 0.5, "_low": tail, "_high": 1.0 - tail}
    with np.errstate(divide="ignore", invalid="ignore"):
        asked = list(probs.values()) + [q / alive for q in probs.values()]
    names = [f"wait{k}" for k in probs] + [f"wait_weighted{k}" for k in probs]
    return dict(zip(names, wait_quantiles(fitted, x, T, asked), strict=True))


def next_purchase(
    fitted: FittedModel, summary: pd.DataFrame, as_of, level: float = 0.80
) -> pd.DataFrame:
    """Each customer's next purchase date with its interval, given alive and weighted by
    P(alive) (derivation in the module docstring).

    Parameters
    ----------
    fitted : FittedModel
        Purchase model fitted on ``summary``'s time unit.
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` per customer at ``as_of``.
    as_of : date-like
        The cutoff the waits start from.
    level : float
        Coverage of the intervals (central).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``summary``: ``next_purchase`` (median date given alive),
        ``next_purchase_low`` / ``next_purchase_high`` (the ``level`` interval given alive;
        NaT high: may never buy again, Pareto/NBD), ``next_purchase_weighted`` (date by which
        the chance of a purchase reaches 50 %, P(alive) included; NaT when it never does)
        with ``next_purchase_weighted_low`` / ``_high`` (NaT: later or never), and
        ``wait``, ``wait_low``, ``wait_high`` (given alive, the fit's time unit).
    """
    unique, codes = _codes(summary, RFT)
    waits = _waits_unique(fitted, unique, level)
    start = pd.Timestamp(as_of).normalize()
    days = TIME_UNITS[fitted.time_unit]
    out = pd.DataFrame(index=summary.index)
    for name in ("", "_low", "_high", "_weighted", "_weighted_low", "_weighted_high"):
        wait = waits[f"wait{name}"][codes]
        wait = np.where(wait <= NEVER, wait, np.nan)  # centuries away: later or never
        out[f"next_purchase{name}"] = start + pd.to_timedelta(np.floor(wait * days), unit="D")
    for name in ("", "_low", "_high"):
        wait = waits[f"wait{name}"][codes]
        out[f"wait{name}"] = np.where(wait <= NEVER, wait, np.nan)
    return out


def first_purchase_after(frame: pd.DataFrame, start, end, time_unit: str = "W") -> pd.Series:
    """Wait from ``start`` to each customer's first purchase day in ``(start, end]``, in
    ``time_unit`` (customers without one are absent)."""
    from analysis.summary import purchase_days

    start = pd.Timestamp(start).normalize()
    days = purchase_days(frame, start + pd.Timedelta(days=1), end)
    first = days.groupby("customer_id")["day"].min()
    return ((first - start).dt.days / TIME_UNITS[time_unit]).rename("wait_observed")


def holdout_coverage(
    fitted: FittedModel, calibration: pd.DataFrame, observed: pd.Series, level: float = 0.80
) -> dict:
    """Check the next-purchase intervals on the holdout.

    The calibration fit gives each calibration customer a ``level`` interval (given alive)
    for their wait after the calibration end. Only customers whose interval closes inside
    the holdout can be judged (for the others a purchase after the holdout is unseen); the
    selection uses calibration data only. Under the model, the share of them whose next
    purchase falls inside is ``level`` x their mean P(alive) (the dead do not buy).

    Parameters
    ----------
    calibration : pandas.DataFrame
        :func:`analysis.summary.calibration_holdout` output (``duration_holdout``).
    observed : pandas.Series
        :func:`first_purchase_after` from the calibration end.

    Returns
    -------
    dict
        ``level``, ``customers`` (judged), ``inside`` (observed share), ``expected``
        (``level`` x mean P(alive)), ``mean_p_alive``, ``bought`` (share who bought at
        all in the holdout), ``holdout`` (length, time units).
    """
    horizon = float(calibration["duration_holdout"].max())
    unique, codes = _codes(calibration, RFT)
    x, tx, T = _rft(unique)
    tail = (1.0 - level) / 2.0
    low, high = (q[codes] for q in wait_quantiles(fitted, x, T, [tail, 1.0 - tail]))
    alive = fitted.spec.alive(fitted, x, tx, T)[codes]
    judged = np.isfinite(high) & (high <= horizon)
    wait = observed.reindex(calibration.index).to_numpy(dtype=float)[judged]
    inside = (wait >= low[judged]) & (wait <= high[judged])  # NaN (no purchase) is outside
    n = int(judged.sum())
    return {
        "level": float(level),
        "customers": n,
        "inside": float(inside.mean()) if n else float("nan"),
        "expected": float(level * alive[judged].mean()) if n else float("nan"),
        "mean_p_alive": float(alive[judged].mean()) if n else float("nan"),
        "bought": float(np.isfinite(wait).mean()) if n else float("nan"),
        "holdout": horizon,
    }


def coverage_takeaway(check: dict | None) -> str:
    """The holdout check of the next-purchase intervals in words."""
    if check is None:
        return tr("*No purchase model fitted on the calibration window, so no check.*")
    if not check["customers"]:
        return tr(
            "No customer's next-purchase interval closes inside the holdout window, so the "
            "intervals cannot be checked here."
        )
    gap = check["inside"] - check["expected"]
    e, n = check["expected"], check["customers"]
    tolerance = max(0.05, 2.0 * np.sqrt(e * (1.0 - e) / n))  # two binomial standard errors
    verdict = (
        tr("in line with the model")
        if abs(gap) <= tolerance
        else tr("more than the model expects")
        if gap > 0
        else tr("fewer than the model expects")
    )
    return tr(
        "**Check on the holdout:** of the {n:,} customers whose {level} next-purchase interval "
        "(given still active) ended inside the holdout window, {inside} bought again inside "
        "it. The model expects {expected} ({level} of them, times their mean P(alive) of "
        "{alive}): {verdict}."
    ).format(
        n=check["customers"],
        level=pct(check["level"]),
        inside=pct(check["inside"]),
        expected=pct(check["expected"]),
        alive=pct(check["mean_p_alive"]),
        verdict=verdict,
    )


def next_purchase_table(
    values: pd.DataFrame, n: int = 10, anonymize: bool = False, by: str | None = "clv"
) -> pd.DataFrame:
    """The first ``n`` customers (highest ``by``; None: in the frame's order) and when they
    are likely to buy next.

    Parameters
    ----------
    values : pandas.DataFrame
        Indexed by ``customer_id``, with the :func:`next_purchase` date columns and
        optionally ``p_alive`` and ``p_churn`` (e.g. :func:`analysis.clv.customer_value`
        output, or the churn risk list, joined with :func:`next_purchase`).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (pseudonyms under ``anonymize``), ``P(churn)`` / ``P(alive)`` when
        given, the next purchase if active with its interval, and the date allowing for
        P(alive) (dates as text; "later or never" where none is reached). Headers are
        English: :func:`analysis.report.style_table` shows them in the report's language.
    """
    from analysis.privacy import display_ids

    top = values.nlargest(n, by) if by else values.head(n)

    def day(column):
        return [f"{d:%Y-%m-%d}" if pd.notna(d) else tr("later or never") for d in top[column]]

    frame = pd.DataFrame({"customer_id": top.index.astype(str)})
    for column, label in (("p_churn", "P(churn)"), ("p_alive", "P(alive)")):
        if column in top.columns:
            frame[label] = [pct(p) for p in top[column]]
    frame["next purchase if active"] = day("next_purchase")
    frame["interval: from"] = day("next_purchase_low")
    frame["interval: to"] = day("next_purchase_high")
    frame["next purchase, all things considered"] = day("next_purchase_weighted")
    return display_ids(frame, anonymize).reset_index(drop=True)


def next_purchase_at(
    frame: pd.DataFrame, as_of, level: float = 0.80, model: str = "bgnbd", fit=None
) -> tuple[pd.DataFrame | None, str]:
    """:func:`next_purchase` of every customer from a ``model`` fit on the log up to ``as_of``
    (weeks); ``(None, reason)`` when the model cannot be fitted. ``fit``: ``(fitted,
    weekly summary)`` already made at ``as_of`` (e.g. ``BGNBDAlive.fit_at``), used as is."""
    from analysis.clv.fit import attempt, fit_model
    from analysis.summary import customer_summary

    if fit is not None:
        fitted, summary = fit
        return next_purchase(fitted, summary, as_of, level).filter(like="next_purchase"), ""
    summary = customer_summary(frame, as_of, time_unit="W")
    fitted, note = attempt(fit_model, summary, model)
    if fitted is None:
        return None, note
    return next_purchase(fitted, summary, as_of, level).filter(like="next_purchase"), ""


def next_purchase_takeaway(rows: pd.DataFrame, as_of, window_days: int | None = None) -> str:
    """When the customers of ``rows`` (e.g. the top of the risk list) are likely back, in words.

    ``rows`` holds the :func:`next_purchase` columns; with ``window_days`` (the churn window)
    it also counts those whose next purchase, if still customers, falls inside the window.
    """
    if rows.empty or "next_purchase" not in rows.columns:
        return tr("*No purchase model, so no next-purchase dates.*")
    gone = int(rows["next_purchase_weighted"].isna().sum())
    text = tr(
        "For {gone} of these {n} customers the chance of any further purchase, allowing for "
        "the chance that they have already gone, never reaches one half."
    ).format(gone=gone, n=len(rows))
    if window_days:
        end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=int(window_days))
        due = int((rows["next_purchase"] <= end).sum())
        text += " " + tr(
            "If still customers, {due} of them would normally buy again within the "
            "{days}-day churn window (by {end:%Y-%m-%d}): a silence past that date is the "
            "signal to act on."
        ).format(due=due, days=int(window_days), end=end)
    return text
