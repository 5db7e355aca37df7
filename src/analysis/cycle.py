"""The purchase cycle: how long a customer takes to buy again, defined once for every notebook.

Demand's "how often customers come back", segmentation's lifecycle thresholds ("at risk",
"lapsed") and churn's window all read their days from :func:`purchase_cycle`.

Definition
----------
- An *interval* is the time from a purchase day to the same customer's next purchase day
  (same-day orders merged, :func:`analysis.summary.purchase_days`). The silence still
  running at ``as_of`` (last purchase day to the cutoff) is an interval too, **censored**:
  the customer has not come back *yet*, which says the interval is at least that long.
  Ignoring running silences biases the cycle short (only the quick returns are complete).
- The distribution of intervals is the **Kaplan-Meier** estimate (statsmodels
  ``SurvfuncRight``) of the share of customers *not yet back* after ``t`` days.
- **Each customer counts once** (``weighting="customer"``): a customer's intervals share a
  weight of 1, so the most frequent buyers (on Online Retail the top 10 % of repeat buyers
  make 42 % of all completed gaps) do not set everybody's rhythm. ``weighting="gap"`` gives
  the pooled view, every interval weight 1.
- The cycle is that of **repeat customers** (at least one completed interval): a one-time
  buyer has shown no cycle yet; their wait for a second purchase is a different question
  (most never return) and would make the upper percentiles undefined.

The 50th percentile is the *typical cycle*; higher percentiles are the silences after which
most returning customers would have been back (churn window, lapse threshold).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.summary import customer_codes, day_gaps, purchase_days
from analysis.text import sentences, tr

WEIGHTINGS = ("customer", "gap")


def intervals(frame: pd.DataFrame, as_of) -> pd.DataFrame:
    """Every customer's completed intervals and their running silence at ``as_of``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean transactions (``customer_id``, ``order_date``, ``amount``).
    as_of : date-like
        Cutoff day (inclusive); nothing after it is read.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``days`` (float), ``observed`` (True: a completed interval ending
        in a purchase; False: the silence running at ``as_of``, censored), ``repeat``
        (the customer has at least one completed interval). One censored row per customer
        (0 days when they bought on ``as_of``).
    """
    cutoff = pd.Timestamp(as_of).normalize()
    daily = purchase_days(frame, end=cutoff)
    codes, ids = customer_codes(daily)
    days = daily["day"].to_numpy()
    done, gaps = day_gaps(codes, days)
    completed = pd.DataFrame({"customer_id": daily["customer_id"].to_numpy()[done], "days": gaps})
    last = np.flatnonzero(np.r_[~done[1:], len(codes) > 0])  # each customer's last day
    silent = (cutoff - pd.DatetimeIndex(days[last])).days
    running = pd.DataFrame({"customer_id": ids.to_numpy(), "days": silent.to_numpy()})
    out = pd.concat(
        [completed.assign(observed=True), running.assign(observed=False)], ignore_index=True
    )
    out["days"] = out["days"].astype("float64")
    # a repeat customer has a completed interval, i.e. more than one purchase day
    repeat = np.r_[np.ones(len(completed), dtype=bool), np.bincount(codes) > 1]
    out["repeat"] = repeat
    return out


@dataclass(frozen=True)
class Cycle:
    """The purchase cycle: Kaplan-Meier curve of intervals and its percentiles (days)."""

    survival: pd.DataFrame  # days, not_back (share of intervals still running after days)
    quantiles: dict = field(default_factory=dict)  # {0.5: days, 0.8: days, 0.9: days}
    customers: int = 0  # repeat customers behind the curve
    completed: int = 0  # completed intervals
    censored: int = 0  # running silences counted as censored
    weighting: str = "customer"
    longest: float = float("nan")  # longest interval observed (days)

    def quantile(self, q: float) -> float | None:
        """Days by which a share ``q`` of intervals have ended (None: not reached in the data)."""
        if not 0 < q < 1:
            raise ValueError(f"quantile must be between 0 and 1, got {q}")
        if q in self.quantiles:
            return self.quantiles[q]
        return _km_quantile(self.survival, q)

    def threshold(self, q: float) -> float:
        """:meth:`quantile`, or the longest interval observed when the curve never gets there."""
        value = self.quantile(q)
        return float(self.longest) if value is None else float(value)


def _km_quantile(survival: pd.DataFrame, q: float) -> float | None:
    """Smallest day at which at most ``1 - q`` of the intervals are still running."""
    hit = survival.loc[survival["not_back"] <= 1 - q + 1e-12, "days"]
    return float(hit.iloc[0]) if len(hit) else None


def purchase_cycle(
    table: pd.DataFrame,
    weighting: str = "customer",
    repeat_only: bool = True,
    quantiles=(0.5, 0.8, 0.9),
) -> Cycle:
    """Kaplan-Meier purchase cycle from :func:`intervals`.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`intervals` output.
    weighting : {"customer", "gap"}
        ``"customer"``: each customer's intervals share a total weight of 1;
        ``"gap"``: every interval weighs 1 (frequent buyers dominate).
    repeat_only : bool
        Keep only customers with a completed interval (the default definition).
    quantiles : iterable of float
        Percentiles stored in :attr:`Cycle.quantiles`.

    Returns
    -------
    Cycle
        Empty (no curve, quantiles None) when nobody bought twice.
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting '{weighting}' unknown; use 'customer' or 'gap'")
    part = table.loc[table["repeat"]] if repeat_only else table
    # a silence of 0 days (bought on as_of) carries no information
    part = part.loc[part["observed"] | (part["days"] > 0)]
    done = part["observed"].to_numpy()
    if not done.any():
        empty = pd.DataFrame({"days": [0.0], "not_back": [1.0]})
        return Cycle(empty, dict.fromkeys(quantiles), weighting=weighting)
    weights = None
    codes, ids = pd.factorize(part["customer_id"])
    if weighting == "customer":
        weights = 1.0 / np.bincount(codes)[codes].astype("float64")
    fit = SurvfuncRight(part["days"].to_numpy(), done.astype(int), freq_weights=weights)
    survival = pd.DataFrame(
        {
            "days": np.r_[0.0, np.asarray(fit.surv_times, dtype=float)],
            "not_back": np.r_[1.0, np.asarray(fit.surv_prob, dtype=float)],
        }
    )
    return Cycle(
        survival=survival,
        quantiles={q: _km_quantile(survival, q) for q in quantiles},
        customers=len(ids),
        completed=int(done.sum()),
        censored=int((~done).sum()),
        weighting=weighting,
        longest=float(part["days"].max()),
    )


def cycle_at(frame: pd.DataFrame, as_of, weighting: str = "customer") -> Cycle:
    """:func:`purchase_cycle` of :func:`intervals` at ``as_of`` (the default definition)."""
    return purchase_cycle(intervals(frame, as_of), weighting)


def definitions_table(table: pd.DataFrame) -> pd.DataFrame:
    """How the choice of definition moves the cycle: median, 80th and 90th percentile.

    Rows: completed gaps pooled (the naive view: censoring ignored, frequent buyers
    dominate); each repeat customer's own median gap (median over customers); Kaplan-Meier
    over every interval of every customer, pooled; and the definition used (Kaplan-Meier,
    repeat customers, each counted once).
    """
    done = table.loc[table["observed"], ["customer_id", "days"]]
    rows = {}
    if len(done):
        rows[tr("completed gaps only, pooled")] = done["days"].quantile([0.5, 0.8, 0.9]).tolist()
        own = done.groupby("customer_id")["days"].median()
        rows[tr("each customer's own median gap")] = own.quantile([0.5, 0.8, 0.9]).tolist()
    pooled = purchase_cycle(table, "gap", repeat_only=False)
    used = purchase_cycle(table)
    for name, cyc in (
        (tr("running silences censored, every interval pooled"), pooled),
        (tr("running silences censored, each repeat customer once (used)"), used),
    ):
        rows[name] = [cyc.quantiles[q] for q in (0.5, 0.8, 0.9)]
    out = pd.DataFrame.from_dict(
        rows, orient="index", columns=[tr("median"), tr("80th pct"), tr("90th pct")]
    )
    out.index.name = tr("definition")
    return out.astype(float)


def heavy_share(table: pd.DataFrame, top: float = 0.1) -> float | None:
    """Share of completed gaps made by the ``top`` share of repeat customers (most gaps first)."""
    counts = table.loc[table["observed"], "customer_id"].value_counts()
    if counts.empty:
        return None
    k = int(np.ceil(top * len(counts)))
    return float(counts.iloc[:k].sum() / counts.sum())


def cycle_takeaway(cycle: Cycle, table: pd.DataFrame | None = None) -> str:
    """The purchase cycle in words, and what the notebooks use it for."""
    if cycle.completed == 0:
        return tr("No customer bought twice, so there is no purchase cycle to measure yet.")
    q = {k: cycle.threshold(k) for k in (0.5, 0.8, 0.9)}
    text = tr(
        "**The typical repeat customer buys again within {median:.0f} days**; 80 % of "
        "returns come within **{p80:.0f} days** and 90 % within **{p90:.0f} days** "
        "({customers:,} repeat customers, {completed:,} returns, each customer counted once; "
        "{censored:,} silences still running at the cutoff count as 'not back yet').",
        median=q[0.5],
        p80=q[0.8],
        p90=q[0.9],
        customers=cycle.customers,
        completed=cycle.completed,
        censored=cycle.censored,
    )
    if table is not None:
        share = heavy_share(table)
        done = table.loc[table["observed"], "days"]
        if share is not None:
            text = sentences(
                text,
                tr(
                    "Counting every repeat purchase instead would say {pooled:.0f} days, because "
                    "the 10 % most frequent buyers make {share:.0%} of all repeat purchases.",
                    pooled=float(done.median()),
                    share=share,
                ),
            )
    text = sentences(
        text,
        tr(
            "These days set the churn window (80 %) and the lifecycle stages (typical cycle, "
            "lapsed beyond 90 %) in every report."
        ),
    )
    return text
