"""Churn warning: who is about to leave, how good is the warning, how much value leaves.

There is no contract in a purchase log, so churn is defined from behaviour: a customer
*active* at a cutoff (a purchase in the ``active_days`` before it) **churns** if they make
no purchase in the ``window_days`` after it. The window is derived from the purchase
cycle (:mod:`analysis.cycle`; by default the silence by which 80 % of returning customers
have bought again) unless set explicitly.

Leakage-free design (:func:`make_design`): features are computed only from rows up to a
feature cutoff, labels only from the window after it.

- *training*: features at ``as_of - 2 x window``, labels from the next window;
- *evaluation* (out of time): features at ``as_of - window``, labels up to ``as_of``;
- *scoring*: features at ``as_of``; the outcome lies in the future.

Public API
----------
derive_window, feasible_window, make_design, design_table
    The definition (from the purchase cycle of :mod:`analysis.cycle`) and the dates.
churn_labels, churn_features, build_dataset, BGNBDAlive, common_columns
    Labels and features at one cutoff (:func:`churn_features` never reads past its cutoff);
    P(alive) through :mod:`analysis.clv`; features usable at every cutoff.
fit_models, recency_baseline, predict, choose_score, score_table, top_share_capture,
gains_curve, reliability_curve
    Calibrated logistic regression and gradient boosting, the baselines, the comparison.
permutation_drivers, partial_dependence_curves
    What drives the prediction.
final_scores, value_and_segments, risk_list, risk_table, risk_export, segment_band_table
    Everyone active at ``as_of``, ranked by expected value at risk (CLV from
    :mod:`analysis.clv`, segments from :mod:`analysis.segmentation`).
churn_metrics
    The ``churn`` entry of ``metrics.json``.
The ``*_takeaway``, ``*_note``, ``palive_caveat`` and ``findings`` functions turn those
numbers into sentences for the notebook.

Scale: features are grouped aggregations over one row per customer-day (the shared
:func:`analysis.summary.purchase_days`); models are fitted on a stratified sample of at most
``max_rows`` customers; drivers use samples; figures are drawn from binned aggregates.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from analysis import i18n
from analysis.errors import NotApplicable
from analysis.summary import customer_codes, day_gaps, per_customer, purchase_days, summarise_days
from analysis.text import amount, date_label, for_analyst, tr, tr_name

MODEL_LABELS = {
    "logistic": "Logistic regression",
    "boosting": "Gradient boosting",
    "btyd": "Baseline: P(no purchase in the window), BG/NBD",
    "palive": "Baseline: 1 - P(alive) (BG/NBD)",
    "recency": "Baseline: recency only",
}

FEATURE_LABELS = {
    "recency_days": "days since last purchase",
    "tenure_days": "days since first purchase",
    "purchase_days": "purchase days",
    "orders": "orders",
    "revenue": "spend to date",
    "avg_order_value": "average order value",
    "days_recent": "purchase days, last window",
    "days_earlier": "purchase days, window before",
    "days_trend": "purchase-day trend (-1 to +1)",
    "spend_recent": "spend, last window",
    "spend_earlier": "spend, window before",
    "spend_trend": "spend trend (-1 to +1)",
    "gap_mean": "mean days between purchases",
    "gap_std": "spread of days between purchases",
    "overdue": "days since last / usual gap",
    "n_products": "distinct products",
    "n_categories": "distinct categories",
    "n_channels": "distinct channels",
    "p_alive": "P(alive), BG/NBD",
}

BASELINES = ("btyd", "palive", "recency")  # score keys that are baselines, not churn models

# Gradient boosting runs single-threaded: the report runner executes notebooks in parallel on
# small machines, where OpenMP threads oversubscribe the cores (measured: a 2.8 s fit took
# 24 s with default threads while another notebook ran).
THREADS = 1

# Models are fitted on a stratified sample of at most this many customers. Measured on the
# simulated million-customer log (benchmarks/RESULTS.md): 100,000 against 200,000 rows gives
# boosting an out-of-time ROC-AUC of 0.724 against 0.726 and a Brier score of 0.2075 against
# 0.2076, in 3.8 s instead of 6.5 s per fit (and the same again for the refit).
MAX_TRAIN_ROWS = 100_000

BREADTH = {"product_id": "n_products", "category": "n_categories", "channel": "n_channels"}

#: Stages of :func:`design_table` (training, evaluation and scoring cutoffs, in that order).
DESIGN_STAGES = ("1. train the models", "2. evaluate out of time", "3. score today's customers")
#: P(churn) bands of :func:`risk_list`, low to high (``{lo}``/``{hi}``: the thresholds). The
#: list and ``churn_risk.csv`` hold them in English; reports show :func:`band_label`.
RISK_BANDS = ("low (<{lo})", "medium ({lo}-{hi})", "high (>={hi})")
#: What the value at risk is measured against (the risk list's value column).
VALUE_BASES = ("{months}-month CLV", "spend to date")
#: Columns of :func:`segment_band_table` (``{band}``: a risk band or ``total``).
BAND_COLUMNS = ("customers · {band}", "value at risk · {band}")
#: Outcomes of a churn label (0, 1), the columns of :func:`feature_profile`.
OUTCOMES = ("stayed", "churned")
#: Rows of :func:`calibration_table`.
CALIBRATION_ROWS = ("as fitted", "recalibrated (out of fold)")
i18n.fixed_names(
    __name__,
    (
        *MODEL_LABELS.values(),
        *FEATURE_LABELS.values(),
        *DESIGN_STAGES,
        *RISK_BANDS,
        *VALUE_BASES,
        *BAND_COLUMNS,
        *OUTCOMES,
        *CALIBRATION_ROWS,
    ),
)


def _from_template(text: str, templates) -> str | None:
    """``text`` in the report's language when it was made from one of ``templates``."""
    for template in templates:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(template))
        match = re.fullmatch(pattern, text)
        if match:
            values = match.groupdict()
            if "band" in values:
                values["band"] = display_label(values["band"])
            return tr(template, **values)
    return None


def display_label(text) -> str:
    """A label of the churn tables (risk band, value basis, band column, feature, score
    name), kept in English in the data and exports, in the report's language.

    >>> display_label("customers · high (>=60%)")
    'customers · high (>=60%)'
    """
    text = str(text)
    if any(ch.isdigit() for ch in text) or "·" in text:
        found = _from_template(text, BAND_COLUMNS + RISK_BANDS + VALUE_BASES)
        if found is not None:
            return found
    return tr(text)


# --------------------------------------------------------------------------- definition


def derive_window(cycle, quantile: float = 0.8, override: int | None = None) -> int:
    """Churn window in days: ``override`` when given, else the ``quantile`` of the purchase
    cycle (:func:`analysis.cycle.purchase_cycle`: the silence by which that share of
    returning customers are back).

    Raises NotApplicable when nobody bought twice (no cycle to derive it from).
    """
    if override is not None:
        if int(override) < 1:
            raise ValueError(f"churn window must be at least 1 day, got {override}")
        return int(override)
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile}")
    if cycle.completed == 0:
        raise NotApplicable(
            tr(
                "no customer bought on two different days, so the purchase cycle that sets "
                "the churn window is unknown"
            ),
            "pass --param churn_window_days=90 (or another number of days)",
        )
    return max(1, int(np.ceil(cycle.threshold(quantile))))


def feasible_window(frame: pd.DataFrame, as_of, window_days: int) -> tuple[int, str]:
    """The churn window, shortened when the data are too short for the design.

    The design needs three windows of history before ``as_of`` (one of features before the
    training cutoff, then the training and evaluation label windows). Returns the window
    and a sentence saying why it was shortened (``""`` when it was not). Raises ValueError
    when even a 7-day window does not fit.
    """
    span = (pd.Timestamp(as_of).normalize() - frame["order_date"].min().normalize()).days
    longest = span // 3
    if longest < 7:
        raise NotApplicable(
            tr(
                "the data cover only {span} days up to {date}; the churn warning needs at least 21",
                span=span,
                date=pd.Timestamp(as_of).date(),
            ),
            "choose a later as_of",
        )
    if window_days <= longest:
        return int(window_days), ""
    return longest, (
        tr(
            "*The purchase cycle suggests a {window}-day window, but the data cover only "
            "{span} days up to the report date, and the design needs three windows of history; "
            "the window is shortened to {longest} days.* ",
            window=window_days,
            span=span,
            longest=longest,
        )
        + for_analyst(tr("(Set `churn_window_days` to choose.)"))
    )


@dataclass(frozen=True)
class Design:
    """Dates of the leakage-free design (all cutoffs inclusive, whole days)."""

    window_days: int
    active_days: int
    first_date: pd.Timestamp
    train_cutoff: pd.Timestamp
    test_cutoff: pd.Timestamp
    score_cutoff: pd.Timestamp


def make_design(
    frame: pd.DataFrame, as_of, window_days: int, active_days: int | None = None
) -> Design:
    """Training, evaluation and scoring cutoffs for a churn window.

    ``active_days`` (default: the window) sets who is scored at each cutoff: customers with
    a purchase in the ``active_days`` before it. A customer already silent for longer than
    the window has churned by the definition; scoring them too would flatter every score
    (they are easy to call) and say nothing about whom to warn.

    Raises ValueError when the data do not hold at least one window of history before
    the training cutoff (the window is then too long for the data: shorten it).
    """
    score = pd.Timestamp(as_of).normalize()
    window = pd.Timedelta(days=int(window_days))
    first = frame["order_date"].min().normalize()
    train = score - 2 * window
    if train - window < first:
        raise NotApplicable(
            tr(
                "a {days}-day churn window needs history from {start} but the data start "
                "on {first}",
                days=window_days,
                start=(train - window).date(),
                first=first.date(),
            ),
            "pass a shorter churn_window_days, e.g. "
            f"--param churn_window_days={max(1, (score - first).days // 3)}",
        )
    active = int(window_days) if active_days is None else int(active_days)
    if active < 1:
        raise ValueError(f"active_days must be at least 1, got {active_days}")
    return Design(int(window_days), active, first, train, score - window, score)


def design_table(design: Design) -> pd.DataFrame:
    """The three cutoffs as a table: what each stage uses as features and as labels."""
    one = pd.Timedelta(days=1)
    window = pd.Timedelta(days=design.window_days)
    rows = []
    for stage, cutoff in zip(
        DESIGN_STAGES, (design.train_cutoff, design.test_cutoff, design.score_cutoff), strict=True
    ):
        label_end = cutoff + window
        rows.append(
            {
                "stage": tr(stage),
                "features use data up to": cutoff.date(),
                "customers": tr("bought in the {n} days before", n=design.active_days),
                "churn label from": (cutoff + one).date(),
                "churn label to": label_end.date(),
                "label known?": tr("yes")
                if label_end <= design.score_cutoff
                else tr("no (future)"),
            }
        )
    return pd.DataFrame(rows).set_index("stage").rename(columns=tr).rename_axis(tr("stage"))


def population_table(frame: pd.DataFrame, design: Design, daily=None) -> pd.DataFrame:
    """Who is scored: customers at the evaluation cutoff, recently active or long silent.

    Returns
    -------
    pandas.DataFrame
        Index ``scored (bought in the last N days)`` and ``not scored (silent longer)``;
        ``customers`` and ``churned`` (share without a purchase in the next window).
    """
    cutoff = design.test_cutoff
    daily = _days_until(frame, cutoff + pd.Timedelta(days=design.window_days), daily)
    everyone = _labels_from(daily, cutoff, (cutoff - design.first_date).days + 1)
    recent = everyone.index.isin(_labels_from(daily, cutoff, design.active_days).index)
    names = np.where(
        recent,
        tr("scored (bought in the last {n} days)", n=design.active_days),
        tr("not scored (silent longer)"),
    )
    grouped = everyone.groupby(names)
    out = pd.DataFrame({"customers": grouped.size(), "churned": grouped.mean()})
    return out.sort_index(ascending=False)


def population_note(table: pd.DataFrame, design: Design) -> str:
    """Why the long-silent customers are left out of the scoring, in words."""
    silent = [i for i in table.index if i == tr("not scored (silent longer)")]
    if not silent or table.loc[silent[0], "customers"] == 0:
        return ""
    row = table.loc[silent[0]]
    share = row["customers"] / table["customers"].sum()
    return tr(
        "Only customers who bought in the {days} days before a cutoff are "
        "scored. At the evaluation cutoff {share:.0%} of all customers "
        "({n:,.0f}) had been silent longer; {churned:.0%} of them did "
        "not come back in the next window. They have churned by the definition already: "
        "scoring them would flatter every score (they are easy to call) and would not tell "
        "the team whom to warn. They are the win-back audience (the segmentation report's "
        "lapsed and at-risk stages).",
        days=design.active_days,
        share=share,
        n=row["customers"],
        churned=row["churned"],
    )


def definition_takeaway(cycle, window_days: int, quantile: float, overridden: bool) -> str:
    """One paragraph: how the window was chosen and what it means."""
    how = (
        tr("was set by the analyst") + " " + for_analyst("(`churn_window_days`)")
        if overridden
        else tr(
            "is the silence by which {q:.0%} of returning customers have bought again", q=quantile
        )
    )
    back = 1.0 - float(
        np.interp(window_days, cycle.survival["days"], cycle.survival["not_back"], right=np.nan)
    )
    share = f"{back:.0%}" if np.isfinite(back) else tr("most")
    return tr(
        "**Churn window: {window} days.** It {how} (the purchase cycle every report uses: "
        "each repeat customer counted once, silences still running included): the typical "
        "repeat customer comes back after {typical:.0f} days, and {share} of "
        "returns happen within {window} days. A customer who has not bought for "
        "{window} days after a cutoff is therefore unlikely to be merely between "
        "purchases, so we call them *churned*.",
        window=window_days,
        how=how,
        typical=cycle.threshold(0.5),
        share=share,
    )


# --------------------------------------------------------------------------- labels, features


def _days_until(frame: pd.DataFrame, end: pd.Timestamp, daily=None) -> pd.DataFrame:
    """Purchase days up to ``end``: a slice of ``daily`` (the whole log's
    :func:`purchase_days`, computed once and shared by the cutoffs of a design) or new."""
    if daily is None:
        return purchase_days(frame, end=end)
    return daily.loc[daily["day"] <= end].reset_index(drop=True)


def churn_labels(
    frame: pd.DataFrame, cutoff, window_days: int, active_days: int = 365
) -> pd.Series:
    """Churn label of every customer active at ``cutoff``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean transactions (``customer_id``, ``order_date``, ``amount``).
    cutoff : date-like
        Feature cutoff (inclusive).
    window_days : int
        Label window: the days ``cutoff + 1`` .. ``cutoff + window_days``.
    active_days : int
        A customer is active when they bought in the ``active_days`` up to the cutoff.

    Returns
    -------
    pandas.Series
        Index ``customer_id`` (active customers), values 1 = no purchase day in the
        window (churned), 0 = came back.
    """
    cutoff = pd.Timestamp(cutoff).normalize()
    end = cutoff + pd.Timedelta(days=int(window_days))
    return _labels_from(purchase_days(frame, end=end), cutoff, active_days)


def _labels_from(daily: pd.DataFrame, cutoff: pd.Timestamp, active_days: int) -> pd.Series:
    """Labels from purchase days that end with the label window."""
    codes, ids = customer_codes(daily)
    live = _active_codes(codes, len(ids), daily["day"].to_numpy(), cutoff, active_days)
    returned = per_customer(codes, len(ids), daily["day"].to_numpy() > cutoff)[live] > 0
    return pd.Series((~returned).astype("int64"), index=ids[live], name="churned")


def _trend(recent: pd.Series, earlier: pd.Series) -> pd.Series:
    """(recent - earlier) / (recent + earlier): -1 stopped, 0 steady, +1 new; 0 when both 0."""
    total = recent + earlier
    return ((recent - earlier) / total.where(total > 0)).fillna(0.0)


def _past(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Rows up to the cutoff day: customer and the breadth columns (all the features read
    from the rows themselves; the rest come from the purchase days)."""
    columns = [c for c in ("customer_id", *BREADTH) if c in frame.columns]
    return frame.loc[frame["order_date"] < cutoff + pd.Timedelta(days=1), columns]


def churn_features(
    frame: pd.DataFrame,
    cutoff,
    window_days: int,
    active_days: int = 365,
    palive_fn=None,
    daily: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features of every customer active at ``cutoff``, from rows up to the cutoff only.

    The first step drops every row after the cutoff day, so nothing later can leak in.

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean transactions: ``customer_id``, ``order_date``, ``amount``; optional
        ``order_id``, ``product_id``, ``category``, ``channel`` (breadth features).
    cutoff : date-like
        Feature cutoff (inclusive).
    window_days : int
        Length of the "recent" and "earlier" periods of the trend features.
    active_days : int
        Keep customers who bought in the ``active_days`` up to the cutoff.
    palive_fn : callable, optional
        ``(summary, cutoff) -> Series of P(alive)`` (e.g. :class:`BGNBDAlive`), called with
        the weekly :func:`analysis.summary.customer_summary` of all customers at the cutoff;
        adds ``p_alive`` unless it returns None.
    daily : pandas.DataFrame, optional
        The whole log's :func:`analysis.summary.purchase_days`, computed once and shared
        by the cutoffs of a design; only its days up to ``cutoff`` are read.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; the columns of :data:`FEATURE_LABELS` that apply (days,
        counts, money in the data's currency; trends in [-1, 1]; gap features NaN for
        customers with too few purchase days).
    """
    cutoff = pd.Timestamp(cutoff).normalize()
    up_to = _days_until(frame, cutoff, daily)
    return _features_from(_past(frame, cutoff), up_to, cutoff, window_days, active_days, palive_fn)


def _active_codes(codes, n: int, days: np.ndarray, cutoff, active_days: int) -> np.ndarray:
    """Per customer code: a purchase day in ``(cutoff - active_days, cutoff]``."""
    start = cutoff - pd.Timedelta(days=int(active_days))
    return per_customer(codes, n, (days > start) & (days <= cutoff)) > 0


def _gap_stats(codes: np.ndarray, days: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample standard deviation of the days between a customer's purchase days
    (rows sorted by customer and day); NaN with too few gaps, as pandas gives."""
    follows, gaps = day_gaps(codes, days)
    who = codes[follows]
    count = np.bincount(who, minlength=n).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(who, weights=gaps, minlength=n) / count
        square = np.bincount(who, weights=(gaps - mean[who]) ** 2, minlength=n)
        std = np.sqrt(square / (count - 1))
    mean[count == 0] = np.nan
    std[count < 2] = np.nan
    return mean, std


def _positions(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each value in ``index``, -1 when absent (``index.get_indexer``, hashed
    by Arrow: a third of the time on millions of text ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.index_in(pa.array(values), value_set=pa.array(index))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")


def _distinct_per_customer(who: np.ndarray, values: pd.Series, n: int) -> np.ndarray:
    """Distinct non-missing ``values`` per customer code ``who`` (-1: not counted)."""
    what, _ = pd.factorize(values)
    keep = (who >= 0) & (what >= 0)
    width = int(what.max()) + 1  # one integer per (customer, value) pair
    pairs = pd.unique(who[keep].astype("int64") * width + what[keep])
    return np.bincount(pairs // width, minlength=n)


def _features_from(past, daily, cutoff, window_days, active_days, palive_fn) -> pd.DataFrame:
    """:func:`churn_features` from rows and purchase days already cut at ``cutoff``."""
    summary = summarise_days(daily, cutoff, time_unit="W")  # = customer_summary at cutoff
    codes, ids = customer_codes(daily)
    n, days = len(ids), daily["day"].to_numpy()
    live = _active_codes(codes, n, days, cutoff, active_days)
    active = ids[live]
    s = summary.iloc[np.flatnonzero(live)] if summary.index.equals(ids) else summary.reindex(active)
    out = pd.DataFrame(index=active)
    out["recency_days"] = (cutoff - s["last_purchase"]).dt.days.astype("float64")
    out["tenure_days"] = (cutoff - s["first_purchase"]).dt.days.astype("float64")
    for col in ("purchase_days", "orders", "revenue", "avg_order_value"):
        out[col] = s[col].astype("float64")
    window = pd.Timedelta(days=int(window_days))
    amount = daily["amount"].to_numpy("float64")
    recent = (days > cutoff - window) & (days <= cutoff)
    earlier = (days > cutoff - 2 * window) & (days <= cutoff - window)
    for what, weights in (("days", None), ("spend", amount)):
        now = per_customer(codes, n, recent, weights)[live]
        before = per_customer(codes, n, earlier, weights)[live]
        if weights is None:
            now, before = now.astype("int64"), before.astype("int64")
        out[f"{what}_recent"], out[f"{what}_earlier"] = now, before
        out[f"{what}_trend"] = _trend(out[f"{what}_recent"], out[f"{what}_earlier"])
    mean, std = _gap_stats(codes, days, n)
    out["gap_mean"], out["gap_std"] = mean[live], std[live]
    out["overdue"] = out["recency_days"] / out["gap_mean"]
    breadth = [c for c in BREADTH if c in past.columns and past[c].notna().any()]
    who = _positions(past["customer_id"], active) if breadth else None
    for column in breadth:
        distinct = _distinct_per_customer(who, past[column], len(active))
        out[BREADTH[column]] = distinct.astype("float64")
    if palive_fn is not None:
        palive = palive_fn(summary, cutoff)
        if palive is not None:
            out["p_alive"] = pd.Series(palive, index=summary.index).reindex(active)
    return out


class BGNBDAlive:
    """``(summary, cutoff) -> P(alive)`` through :mod:`analysis.clv` (BG/NBD); remembers
    each cutoff's fit and every failure.

    Returns None (and appends the reason to ``errors``) when the model cannot be fitted,
    so the churn analysis continues without the P(alive) feature and baseline. ``fits``
    keeps ``cutoff -> (fitted model, summary)``, so :func:`btyd_no_purchase` and
    :func:`value_and_segments` at the same cutoff reuse them instead of refitting (at a
    million customers a summary and a fit cost 2 s each time).
    """

    def __init__(self, model: str = "bgnbd"):
        self.model = model
        self.errors: list[str] = []
        self.fits: dict[pd.Timestamp, tuple] = {}

    def __call__(self, summary: pd.DataFrame, cutoff=None) -> pd.Series | None:
        try:
            from analysis import clv

            fitted = clv.fit_model(summary, model=self.model)
            values = clv.probability_alive(fitted, summary)
        except (ImportError, AttributeError, ValueError, RuntimeError, ArithmeticError) as exc:
            self.errors.append(" ".join(str(exc).split()))
            return None
        if cutoff is not None:
            self.fits[pd.Timestamp(cutoff).normalize()] = (fitted, summary)
        return pd.Series(np.asarray(values, dtype="float64"), index=summary.index)

    def fit_at(self, cutoff, model: str = "bgnbd") -> tuple | None:
        """``(fitted, summary)`` of ``model`` at ``cutoff`` when this object fitted it."""
        if model != self.model:
            return None
        return self.fits.get(pd.Timestamp(cutoff).normalize())


def btyd_no_purchase(
    frame: pd.DataFrame, cutoff, window_days: int, model: str = "bgnbd", palive=None
):
    """The purchase model's own churn forecast: P(no purchase in the next window | history).

    Fits ``model`` (:mod:`analysis.clv`) on the weekly summary of every customer at
    ``cutoff`` (rows up to the cutoff only) and returns, per customer, the probability of
    no purchase in the ``window_days`` after it: the event the churn label records, unlike
    1 - P(alive). None when the model cannot be fitted. ``palive`` (a
    :class:`BGNBDAlive` that built the features at ``cutoff``) lends its fit.

    Returns
    -------
    pandas.Series or None
        Index ``customer_id``.
    """
    from analysis import clv

    cutoff = pd.Timestamp(cutoff).normalize()
    fitted, summary = _fit_at(frame, cutoff, model, palive)
    if fitted is None:
        return None
    return clv.probability_no_purchase(fitted, summary, window_days / 7.0)


def _fit_at(frame: pd.DataFrame, cutoff, model: str, palive=None) -> tuple:
    """``(fitted or None, weekly summary)`` of ``model`` at ``cutoff``: ``palive``'s own fit
    when it made one there, else a new summary and fit."""
    from analysis import clv
    from analysis.summary import customer_summary

    lent = palive.fit_at(cutoff, model) if palive is not None else None
    if lent is not None:
        return lent
    cutoff = pd.Timestamp(cutoff).normalize()
    summary = customer_summary(frame.loc[frame["order_date"] < cutoff + pd.Timedelta(days=1)],
                               cutoff, time_unit="W")  # fmt: skip
    fitted, _ = clv.attempt(clv.fit_model, summary, model)
    return fitted, summary


def palive_note(palive: BGNBDAlive, features: pd.DataFrame, cutoffs: int = 3) -> str:
    """A sentence when P(alive) is not a usable feature (``features``: after
    :func:`common_columns`), else ``""``."""
    if palive.errors:
        reasons = "; ".join(dict.fromkeys(palive.errors))
        return tr(
            "*The BG/NBD model could not be fitted at {n} of the {cutoffs} "
            "cutoffs ({reasons}), so P(alive) is left out as a feature.*",
            n=len(palive.errors),
            cutoffs=cutoffs,
            reasons=reasons,
        )
    if "p_alive" not in features.columns:
        return tr(
            "*At the training cutoff BG/NBD gives practically every customer the same P(alive) "
            "(it finds almost no dropout in these data), so P(alive) carries no information "
            "and is left out as a feature; it stays in the comparison as a baseline.*"
        )
    return ""


def build_dataset(
    frame: pd.DataFrame,
    cutoff,
    window_days: int,
    active_days: int = 365,
    palive_fn=None,
    daily: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Features at ``cutoff`` and churn labels of the window after it, aligned.

    Same values as :func:`churn_features` and :func:`churn_labels`, with the purchase days
    computed once (``daily``: the whole log's :func:`purchase_days`, to share them between
    the cutoffs of a design): the features see only the days up to the cutoff.
    """
    cutoff = pd.Timestamp(cutoff).normalize()
    daily = _days_until(frame, cutoff + pd.Timedelta(days=int(window_days)), daily)
    up_to = _days_until(frame, cutoff, daily)
    features = _features_from(_past(frame, cutoff), up_to, cutoff, window_days, active_days,
                              palive_fn)  # fmt: skip
    labels = _labels_from(daily, cutoff, active_days).reindex(features.index)
    return features, labels


# --------------------------------------------------------------------------- models


def _limited(func):
    """Run ``func`` with at most :data:`THREADS` OpenMP threads."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=THREADS, user_api="openmp"):
            return func(*args, **kwargs)

    return wrapper


def _signed_log1p(x):
    return np.sign(x) * np.log1p(np.abs(x))


def make_model(kind: str, seed: int = 0, calibration: str = "sigmoid"):
    """An unfitted, calibrated churn classifier.

    ``kind`` is ``"logistic"`` (median imputation with missing-value flags, signed log,
    standardisation, L2 logistic regression) or ``"boosting"`` (histogram gradient
    boosting, which handles missing values itself). Both are wrapped in
    ``CalibratedClassifierCV`` (``calibration``: ``"sigmoid"`` or ``"isotonic"``, 3 folds).
    """
    if kind == "logistic":
        base = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            FunctionTransformer(_signed_log1p, feature_names_out="one-to-one"),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=2000),
        )
    elif kind == "boosting":
        base = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=200,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            l2_regularization=1.0,
            random_state=seed,
        )
    else:
        raise ValueError(f"model kind '{kind}' unknown; use 'logistic' or 'boosting'")
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return CalibratedClassifierCV(base, method=calibration, cv=folds)


def learnable_features(X: pd.DataFrame, min_count: int = 20) -> list[str]:
    """Features known (not missing) for at least ``min_count`` customers, with two values.

    On a short history a feature such as the spread of gaps exists for a handful of
    customers; a calibration fold may then hold none or one distinct value of it, which
    gradient boosting cannot bin (it raised "window shape cannot be larger than input array
    shape" on the Online Retail sample at 2011-04-30). Such a feature teaches nothing.
    """
    return [c for c in X.columns if X[c].notna().sum() >= min_count and X[c].nunique() >= 2]


@dataclass
class ModelFit:
    """Fitted churn models, their in-time validation and the chosen one."""

    models: dict
    features: list
    validation: pd.DataFrame
    chosen: str | None
    note: str = ""


@_limited
def fit_models(
    X: pd.DataFrame,
    y: pd.Series,
    seed: int = 0,
    max_rows: int = MAX_TRAIN_ROWS,
    calibration: str = "sigmoid",
    min_per_class: int = 20,
) -> ModelFit:
    """Fit both models on the training cutoff and choose one without touching the holdout.

    A stratified sample of at most ``max_rows`` customers is used (scale); a quarter of it
    is held back (same cutoff) to choose the model by log-loss; the out-of-time evaluation
    set stays untouched. With fewer than ``min_per_class`` churners or stayers, no model
    is fitted and ``note`` says why.
    """
    counts = y.value_counts()
    if len(counts) < 2 or counts.min() < min_per_class:
        note = tr(
            "too few {who} "
            "at the training cutoff ({stayed} stayed, {churned} churned; "
            "need {need} of each) to fit a model",
            who=tr("stayers") if counts.get(0, 0) < counts.get(1, 0) else tr("churners"),
            stayed=counts.get(0, 0),
            churned=counts.get(1, 0),
            need=min_per_class,
        )
        return ModelFit({}, list(X.columns), pd.DataFrame(), None, note)
    if len(X) > max_rows:
        X, _, y, _ = train_test_split(X, y, train_size=max_rows, stratify=y, random_state=seed)
    X = X[learnable_features(X, min_per_class)]
    if X.shape[1] == 0:
        return ModelFit({}, [], pd.DataFrame(), None, tr("no feature varies between customers"))
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    models, rows = {}, []
    for kind in ("logistic", "boosting"):
        model = make_model(kind, seed, calibration).fit(X_fit, y_fit)
        p = model.predict_proba(X_val)[:, 1]
        models[kind] = model
        rows.append(
            {
                "model": kind,
                "log-loss": log_loss(y_val, p, labels=[0, 1]),
                "ROC-AUC": roc_auc_score(y_val, p),
            }
        )
    validation = pd.DataFrame(rows).set_index("model")
    chosen = str(validation["log-loss"].idxmin())
    return ModelFit(models, list(X.columns), validation, chosen)


@_limited
def refit(
    fit: ModelFit, X: pd.DataFrame, y: pd.Series, seed: int = 0, max_rows: int = MAX_TRAIN_ROWS
):
    """The chosen model refitted on newer labelled data (for scoring at ``as_of``)."""
    if fit.chosen is None or y.nunique() < 2:
        return fit.models.get(fit.chosen) if fit.chosen else None
    if len(X) > max_rows:
        X, _, y, _ = train_test_split(X, y, train_size=max_rows, stratify=y, random_state=seed)
    method = fit.models[fit.chosen].method
    return make_model(fit.chosen, seed, method).fit(X.reindex(columns=fit.features), y)


def recency_baseline(X: pd.DataFrame, y: pd.Series):
    """Logistic regression on log(1 + days since last purchase) only: the simple rule.

    Needs column ``recency_days``. Returns the fitted model (a constant base-rate model
    when ``y`` holds one class).
    """
    if "recency_days" not in X.columns:
        raise ValueError("features lack column 'recency_days'")
    x = np.log1p(X[["recency_days"]].to_numpy(dtype="float64"))
    if y.nunique() < 2:
        return float(y.mean())
    return LogisticRegression(max_iter=1000).fit(x, y.to_numpy())


@_limited
def predict(model, X: pd.DataFrame, features: list | None = None) -> np.ndarray:
    """P(churn) from a fitted model (a churn model, the recency baseline or a constant)."""
    if isinstance(model, float):
        return np.full(len(X), model)
    if isinstance(model, LogisticRegression):
        return model.predict_proba(np.log1p(X[["recency_days"]].to_numpy(dtype="float64")))[:, 1]
    cols = features if features is not None else list(model.feature_names_in_)
    return model.predict_proba(X.reindex(columns=cols))[:, 1]


# --------------------------------------------------------------------------- evaluation


def top_share_capture(y, score, share: float = 0.1) -> float:
    """Share of all churners found among the ``share`` of customers with the highest score."""
    y = np.asarray(y, dtype="float64")
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype="float64"), kind="stable")
    k = int(np.ceil(share * len(y)))
    return float(y[order[:k]].sum() / y.sum())


def score_table(y: pd.Series, scores: dict) -> pd.DataFrame:
    """Out-of-time metrics of each score: ROC-AUC, PR-AUC, Brier, log-loss, top-decile capture.

    ``scores`` maps a key of :data:`MODEL_LABELS` to P(churn) aligned with ``y``; the
    table is indexed by that key and has a ``label`` column for display.
    """
    y = np.asarray(y, dtype="int64")
    two = len(np.unique(y)) == 2
    rows = []
    for key, p in scores.items():
        p = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
        rows.append(
            {
                "model": key,
                "label": MODEL_LABELS.get(key, key),
                "ROC-AUC": roc_auc_score(y, p) if two else np.nan,
                "PR-AUC": average_precision_score(y, p) if two else np.nan,
                "Brier": brier_score_loss(y, p),
                "log-loss": log_loss(y, p, labels=[0, 1]),
                "top-decile capture": top_share_capture(y, p),
            }
        )
    return pd.DataFrame(rows).set_index("model")


def gains_curve(y, score, points: int = 50) -> pd.DataFrame:
    """Cumulative gains: share of churners reached when contacting the top share by score."""
    y = np.asarray(y, dtype="float64")
    order = np.argsort(-np.asarray(score, dtype="float64"), kind="stable")
    captured = np.concatenate([[0.0], np.cumsum(y[order])]) / max(y.sum(), 1)
    share = np.linspace(0, 1, points + 1)
    idx = np.ceil(share * len(y)).astype(int)
    return pd.DataFrame({"share_contacted": share, "share_captured": captured[idx]})


def reliability_curve(y, p, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed churn rate in ``bins`` equal-count bins of ``p``."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype="float64"), "p": np.asarray(p, dtype="float64")})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, len(frame)), labels=False)
    out = frame.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"))
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- calibration


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def calibration_fit(y, p) -> tuple[float, float, float]:
    """Calibration of scores ``p`` against outcomes ``y`` (logistic recalibration).

    Returns ``(intercept, a, b)``. ``intercept`` is calibration-in-the-large: ``c`` in
    ``logit P(churn) = c + logit p`` (slope held at 1): negative when the scores run too
    high on average. ``a, b`` fit ``logit P(churn) = a + b logit p``: ``b`` is the
    calibration slope (under 1: scores too extreme), and ``(a, b)`` is the recalibration
    map of :func:`apply_calibration`. Perfect calibration: intercept 0, slope 1.
    """
    import statsmodels.api as sm

    y = np.asarray(y, dtype="float64")
    if len(np.unique(y)) < 2:
        return float("nan"), float("nan"), float("nan")
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning, SingularMatrixWarning

    z = _logit(p)
    binomial = sm.families.Binomial()
    (c,) = sm.GLM(y, np.ones((len(y), 1)), family=binomial, offset=z).fit().params
    with warnings.catch_warnings():
        # a handful of one outcome with scores near 0 or 1 leaves the slope unidentified:
        # statsmodels warns and returns an arbitrary one; say "not estimable" instead
        warnings.simplefilter("error", SingularMatrixWarning)
        warnings.simplefilter("error", PerfectSeparationWarning)
        try:
            a, b = sm.GLM(y, sm.add_constant(z, has_constant="add"), family=binomial).fit().params
        except (SingularMatrixWarning, PerfectSeparationWarning):
            a = b = float("nan")
    return float(c), float(a), float(b)


def apply_calibration(p, a: float, b: float) -> np.ndarray:
    """Scores recalibrated by :func:`calibration_fit`'s ``(a, b)``."""
    return 1.0 / (1.0 + np.exp(-(a + b * _logit(p))))


def calibration_stats(y, p) -> dict:
    """Mean predicted vs observed churn, calibration intercept and slope, Brier score."""
    y = np.asarray(y, dtype="float64")
    p = np.asarray(p, dtype="float64")
    intercept, _, slope = calibration_fit(y, p)
    return {
        "mean_predicted": float(p.mean()),
        "observed": float(y.mean()),
        "intercept": intercept,
        "slope": slope,
        "brier": float(brier_score_loss(y, p)),
    }


def recalibrated(y, p, seed: int = 0, folds: int = 2) -> np.ndarray:
    """Out-of-fold logistic recalibration on the evaluation window.

    Each fold's scores are recalibrated with ``(a, b)`` fitted on the other folds, so the
    result measures honestly what recalibrating on a labelled window buys.
    """
    y = np.asarray(y, dtype="int64")
    p = np.asarray(p, dtype="float64")
    out = p.copy()
    if len(np.unique(y)) < 2 or min(np.bincount(y)) < folds:
        return out
    for fit_idx, apply_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(p, y):
        _, a, b = calibration_fit(y[fit_idx], p[fit_idx])
        if np.isfinite(a) and np.isfinite(b):  # else nothing to recalibrate with
            out[apply_idx] = apply_calibration(p[apply_idx], a, b)
    return out


def calibration_table(y, p, seed: int = 0) -> pd.DataFrame:
    """:func:`calibration_stats` of the scores as they are and after recalibration.

    Rows ``as fitted`` and ``recalibrated (out of fold)``; columns of
    :func:`calibration_stats`.
    """
    rows = {
        "as fitted": calibration_stats(y, p),
        "recalibrated (out of fold)": calibration_stats(y, recalibrated(y, p, seed)),
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def calibration_takeaway(table: pd.DataFrame) -> str:
    """How far the probabilities were off on the evaluation window, and what fixing it buys."""
    raw, fixed = table.loc["as fitted"], table.iloc[1]
    if not np.isfinite(raw["slope"]) and raw["observed"] in (0.0, 1.0):
        return tr("Only one outcome in the evaluation window: calibration cannot be measured.")
    if not np.isfinite(raw["slope"]):
        return tr(
            "On the evaluation window the model predicted **{predicted:.1%}** churn on "
            "average; **{observed:.1%}** churned. Too few customers had the other outcome to "
            "estimate a calibration slope; the Brier score is {brier:.3f}.",
            predicted=raw["mean_predicted"],
            observed=raw["observed"],
            brier=raw["brier"],
        )
    level = raw["mean_predicted"] - raw["observed"]
    text = tr(
        "On the evaluation window the model predicted **{predicted:.1%}** churn "
        "on average; **{observed:.1%}** churned ({gap}). Calibration intercept "
        "{intercept:+.2f} (0 is perfect) and slope {slope:.2f} (1 is perfect; "
        "{shape}).",
        predicted=raw["mean_predicted"],
        observed=raw["observed"],
        gap=(
            tr("{gap:.1%} points too high", gap=abs(level))
            if level > 0
            else tr("{gap:.1%} points too low", gap=abs(level))
        ),
        intercept=raw["intercept"],
        slope=raw["slope"],
        shape=(
            tr("under 1: the scores are too extreme")
            if raw["slope"] < 1
            else tr("over 1: too timid")
        ),
    )
    text += tr(
        " A logistic recalibration fitted on half the window and checked on the other half "
        "brings the Brier score from {raw:.3f} to {fixed:.3f}",
        raw=raw["brier"],
        fixed=fixed["brier"],
    )
    text += (
        tr(": the probabilities are worth reading as they are.")
        if raw["brier"] - fixed["brier"] < 0.002
        else tr(
            ". The risk list uses the model refitted on this latest window, which carries "
            "its churn level into the scores."
        )
    )
    return text


def window_activity(frame: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Buying activity in each label window: customers buying per day.

    The scoring window lies in the future, so it is read from the same calendar days a
    year earlier (NaN when the data do not reach back that far).

    Returns
    -------
    pandas.DataFrame
        Index ``train``, ``evaluate``, ``score``; ``start``, ``end`` (label days) and
        ``buyers_per_day``; ``year_earlier`` (True for the scoring row).
    """
    daily = purchase_days(frame, end=design.score_cutoff)
    per_day = daily.groupby("day").size()
    window = pd.Timedelta(days=design.window_days)
    rows = {}
    for name, cutoff in (
        ("train", design.train_cutoff),
        ("evaluate", design.test_cutoff),
        ("score", design.score_cutoff),
    ):
        start, end = cutoff + pd.Timedelta(days=1), cutoff + window
        shift = pd.DateOffset(years=1) if name == "score" else pd.DateOffset(0)
        s, e = start - shift, end - shift
        covered = s >= design.first_date
        days = per_day.loc[(per_day.index >= s) & (per_day.index <= e)]
        rate = days.sum() / ((e - s).days + 1) if covered else float("nan")
        rows[name] = {"start": start, "end": end, "buyers_per_day": rate}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["year_earlier"] = out.index == "score"
    return out


def season_note(activity: pd.DataFrame, tolerance: float = 0.25) -> str:
    """A sentence when the scoring window is seasonally unlike the windows the model saw."""
    score = activity.loc["score", "buyers_per_day"]
    seen = activity.loc["evaluate", "buyers_per_day"]
    start, end = activity.loc["score", "start"], activity.loc["score", "end"]
    if not np.isfinite(score):
        return tr(
            "*The data do not reach a year before the scoring window ({start}-"
            "{end}), so whether that season is unlike the training windows cannot be "
            "checked.*",
            start=date_label(start, "%d %b"),
            end=date_label(end, "%d %b"),
        )
    ratio = score / seen if seen > 0 else float("nan")
    if np.isfinite(ratio) and abs(ratio - 1) <= tolerance:
        return ""
    values = {
        "start": date_label(start),
        "end": date_label(end),
        "score": score,
        "seen": seen,
        "change": ratio - 1,
    }
    return (
        tr(
            "**Season warning:** the scoring window ({start}-{end}) had "
            "{score:,.0f} buyers a day a year earlier, against {seen:,.0f} in the window the "
            "model was last judged and refitted on ({change:+.0%}). Churn probabilities learnt "
            "in one season carry its buying level into another: expect "
            "more churners than the scores say, and trust the "
            "ranking more than the level.",
            **values,
        )
        if ratio < 1
        else tr(
            "**Season warning:** the scoring window ({start}-{end}) had "
            "{score:,.0f} buyers a day a year earlier, against {seen:,.0f} in the window the "
            "model was last judged and refitted on ({change:+.0%}). Churn probabilities learnt "
            "in one season carry its buying level into another: expect "
            "fewer churners than the scores say, and trust the "
            "ranking more than the level.",
            **values,
        )
    )


# --------------------------------------------------------------------------- drivers


def _sample(X: pd.DataFrame, y: pd.Series | None, max_rows: int, seed: int):
    if len(X) <= max_rows:
        return X, y
    take = np.random.default_rng(seed).choice(len(X), size=max_rows, replace=False)
    take.sort()
    return X.iloc[take], (y.iloc[take] if y is not None else None)


@_limited
def permutation_drivers(
    model, X: pd.DataFrame, y: pd.Series, seed: int = 0, max_rows: int = 5000, n_repeats: int = 5
) -> pd.DataFrame:
    """Drop in out-of-time ROC-AUC when each feature is shuffled (on a sample of ``max_rows``).

    Returns index ``feature`` with ``label``, ``importance`` (mean AUC drop) and ``std``,
    largest first.
    """
    Xs, ys = _sample(X.reindex(columns=list(model.feature_names_in_)), y, max_rows, seed)
    result = permutation_importance(
        model, Xs, ys, scoring="roc_auc", n_repeats=n_repeats, random_state=seed, n_jobs=1
    )
    out = pd.DataFrame(
        {"importance": result.importances_mean, "std": result.importances_std},
        index=pd.Index(Xs.columns, name="feature"),
    )
    out.insert(0, "label", [FEATURE_LABELS.get(c, c) for c in out.index])
    return out.sort_values("importance", ascending=False, kind="stable")


@_limited
def partial_dependence_curves(
    model, X: pd.DataFrame, features: list, max_rows: int = 2000, grid: int = 20, seed: int = 0
) -> pd.DataFrame:
    """Average predicted P(churn) as one feature moves over its 5-95 % range, others as observed.

    Returns long rows ``feature``, ``label``, ``value``, ``p_churn`` (``grid`` points at
    most per feature, on a sample of ``max_rows`` customers).
    """
    Xs, _ = _sample(X.reindex(columns=list(model.feature_names_in_)), None, max_rows, seed)
    rows = []
    for feature in features:
        values = Xs[feature].dropna().to_numpy()
        if len(values) == 0:
            continue
        points = np.unique(np.quantile(values, np.linspace(0.05, 0.95, grid)))
        if np.all(np.mod(values, 1) == 0):
            points = np.unique(np.round(points))
        stacked = pd.concat([Xs.assign(**{feature: v}) for v in points], ignore_index=True)
        p = model.predict_proba(stacked)[:, 1].reshape(len(points), len(Xs)).mean(axis=1)
        label = FEATURE_LABELS.get(feature, feature)
        rows += [
            {"feature": feature, "label": label, "value": v, "p_churn": q}
            for v, q in zip(points, p, strict=True)
        ]
    return pd.DataFrame(rows, columns=["feature", "label", "value", "p_churn"])


# --------------------------------------------------------------------------- risk list


def risk_list(
    features: pd.DataFrame,
    p_churn,
    cutoff,
    value: pd.Series | None = None,
    segments: pd.Series | None = None,
    bands: tuple = (0.3, 0.6),
) -> pd.DataFrame:
    """Every scored customer ranked by value at risk (ties: higher P(churn) first).

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`churn_features` at ``cutoff`` (needs ``recency_days``, ``purchase_days``,
        ``revenue``).
    p_churn : array-like
        P(churn) aligned with ``features``.
    value : pandas.DataFrame or pandas.Series, optional
        From :func:`value_and_segments`: ``clv`` and ``value_at_risk`` by ``customer_id``
        (value at risk as defined by :func:`analysis.clv.value_at_risk`). A Series (or
        None: spend to date) is a value basis only, and the ranking score is then
        P(churn) x that value (see :func:`value_at_risk_definition`).
    segments : pandas.Series, optional
        Segment name by ``customer_id``.
    bands : tuple of float
        P(churn) thresholds between the low / medium / high risk bands.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; ``rank``, ``p_churn``, ``risk_band``, ``segment``,
        ``last_purchase``, ``days_since_last``, ``purchase_days``, ``spend_to_date``,
        ``value`` (``clv`` or spend), ``value_at_risk``; sorted by value at risk.
    """
    for col in ("recency_days", "purchase_days", "revenue"):
        if col not in features.columns:
            raise ValueError(f"features lack column '{col}'")
    cutoff = pd.Timestamp(cutoff).normalize()
    lo, hi = bands
    out = pd.DataFrame(index=features.index)
    out["p_churn"] = np.asarray(p_churn, dtype="float64")
    out["risk_band"] = pd.cut(
        out["p_churn"],
        [-np.inf, lo, hi, np.inf],
        right=False,
        labels=[band.format(lo=f"{lo:.0%}", hi=f"{hi:.0%}") for band in RISK_BANDS],
    )
    seg = segments.reindex(features.index) if segments is not None else None
    out["segment"] = seg.fillna("unknown").astype(str) if seg is not None else "all customers"
    out["days_since_last"] = features["recency_days"].astype("int64")
    out["last_purchase"] = cutoff - pd.to_timedelta(out["days_since_last"], unit="D")
    out["purchase_days"] = features["purchase_days"].astype("int64")
    out["spend_to_date"] = features["revenue"]
    if isinstance(value, pd.DataFrame):
        value = value.reindex(features.index).fillna(0.0)
        out["value"] = value["clv"].clip(lower=0.0)
        out["value_at_risk"] = value["value_at_risk"].clip(lower=0.0)
    else:
        basis = features["revenue"] if value is None else value.reindex(features.index)
        out["value"] = basis.fillna(0.0).clip(lower=0.0)
        out["value_at_risk"] = out["p_churn"] * out["value"]
    out = out.sort_values(["value_at_risk", "p_churn"], ascending=False, kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def segment_band_table(risk: pd.DataFrame) -> pd.DataFrame:
    """Customers and value at risk per segment and risk band (columns ``band · measure``).

    Needs :func:`risk_list` columns ``segment``, ``risk_band``, ``value_at_risk``.
    """
    grouped = risk.groupby(["segment", "risk_band"], observed=False)["value_at_risk"]
    customers = grouped.size().unstack("risk_band", fill_value=0)
    var = grouped.sum().unstack("risk_band", fill_value=0.0)
    out = pd.concat({"customers": customers, "value at risk": var}, axis=1)
    out.columns = [f"{measure} · {band}" for measure, band in out.columns]
    out["value at risk · total"] = var.sum(axis=1)
    out = out.loc[customers.sum(axis=1) > 0]
    return out.sort_values("value at risk · total", ascending=False)


def common_columns(*frames: pd.DataFrame) -> list[pd.DataFrame]:
    """The frames restricted to the informative feature columns they all have (same order).

    A feature is kept when it exists at every cutoff (P(alive) can be fitted at one cutoff
    and not at another) and varies in the first (training) frame: a feature that is the same
    for everybody there (to 3 decimals; e.g. P(alive) when BG/NBD finds almost no dropout)
    teaches nothing and would only be extrapolated wildly when it varies at scoring time.
    """
    first = frames[0]
    shared = [
        c
        for c in first.columns
        if all(c in f.columns for f in frames[1:]) and first[c].std() > 1e-3
    ]
    return [f[shared] for f in frames]


def value_and_segments(
    frame: pd.DataFrame,
    as_of,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    palive=None,
) -> tuple[pd.DataFrame | None, pd.Series | None, list]:
    """Expected CLV and value at risk (BG/NBD + Gamma-Gamma), RFM segment, per customer.

    Uses :func:`analysis.clv.customer_value` and :func:`analysis.clv.value_at_risk` (one
    model for both, so the value at risk never counts a silence the CLV already allows for)
    and :func:`analysis.segmentation.rfm_segments` on the shared summary at ``as_of``. Each
    is None when it cannot be computed; the returned notes say why (the risk list then uses
    spend to date / no segment). ``palive`` (a :class:`BGNBDAlive` that built the features
    at ``as_of``) lends its summary and BG/NBD fit.

    Returns
    -------
    value : pandas.DataFrame or None
        Index ``customer_id``: ``clv``, ``p_alive``, ``value_at_risk``.
    segments : pandas.Series or None
    notes : list of str
    """
    from analysis import clv, segmentation
    from analysis.summary import customer_summary

    lent = palive.fit_at(as_of) if palive is not None else None
    summary = customer_summary(frame, as_of, time_unit="W") if lent is None else lent[1]
    notes, value, segments = [], None, None
    try:
        fitted = clv.fit_model(summary, model="bgnbd") if lent is None else lent[0]
        spend = clv.fit_spend(summary)
        values = clv.customer_value(fitted, spend, summary, horizon_months, discount_rate)
        value = values[["clv", "p_alive"]].assign(value_at_risk=clv.value_at_risk(values))
    except (AttributeError, ValueError, RuntimeError, ArithmeticError) as exc:
        notes.append(
            tr("CLV unavailable ({e}); the list is ranked by P(churn) x spend to date.", e=exc)
        )
    try:
        segments = segmentation.rfm_segments(summary)["segment"]
    except (AttributeError, ValueError) as exc:
        notes.append(tr("RFM segments unavailable ({e}).", e=exc))
    return value, segments, notes


def value_at_risk_definition(value: pd.DataFrame | None, horizon_months: int = 12) -> str:
    """The sentence stated under every value-at-risk number (which definition applies)."""
    from analysis.clv import VALUE_AT_RISK_DEFINITION

    if value is not None:
        return tr(VALUE_AT_RISK_DEFINITION, horizon=horizon_months)
    return tr(
        "Without a CLV model the list is ranked by P(churn) x spend to date: a priority score "
        "for whom to call first, not money at stake."
    )


# --------------------------------------------------------------------------- takeaways


def design_takeaway(design: Design, y_train: pd.Series, y_test: pd.Series) -> str:
    """The design in one paragraph, with the sample sizes and churn rates."""
    return tr(
        "The models learn from {n_train:,} customers active on "
        "{train} ({rate_train:.0%} of them churned in the next "
        "{days} days) and are judged on {n_test:,} customers active on "
        "{test} ({rate_test:.0%} churned), a later period they "
        "never saw. Features use only purchases up to each cutoff, so the test mimics "
        "predicting the future.",
        n_train=len(y_train),
        train=date_label(design.train_cutoff),
        rate_train=y_train.mean(),
        days=design.window_days,
        n_test=len(y_test),
        test=date_label(design.test_cutoff),
        rate_test=y_test.mean(),
    )


def _baseline_name(key: str) -> str:
    """A score's label without its "Baseline: " prefix, in the report's language."""
    return tr(MODEL_LABELS[key]).replace(tr("Baseline: "), "")


def comparison_takeaway(table: pd.DataFrame, chosen: str | None) -> str:
    """Which score wins on the out-of-time holdout, and by how much, in plain words."""
    baselines = table.loc[table.index.isin(BASELINES)]
    if chosen is None or chosen not in table.index:
        best = baselines["ROC-AUC"].idxmax() if len(baselines) else None
        which = tr(MODEL_LABELS.get(best, "none")) if best else tr("none")
        return tr(
            "No churn model could be fitted; the best available score is: {which}.", which=which
        )
    row = table.loc[chosen]
    name = tr(MODEL_LABELS[chosen]).lower()
    if baselines.empty:
        return tr(
            "The {name} reaches ROC-AUC {auc:.3f}; no baseline to compare with.",
            name=name,
            auc=row["ROC-AUC"],
        )
    best_auc = baselines["ROC-AUC"].idxmax()
    best_brier = baselines["Brier"].idxmin()
    d_auc = row["ROC-AUC"] - baselines.loc[best_auc, "ROC-AUC"]
    d_brier = baselines.loc[best_brier, "Brier"] - row["Brier"]
    others = "; ".join(
        f"{_baseline_name(k)}: AUC {r['ROC-AUC']:.3f}, Brier {r['Brier']:.3f}"
        for k, r in baselines.iterrows()
    )
    auc_base = baselines.loc[best_auc, "ROC-AUC"]
    brier_base = baselines.loc[best_brier, "Brier"]
    if d_auc > 0 and d_brier > 0:
        verdict = tr(
            "**The {name} wins.** On customers it never saw it ranks churners better "
            "(ROC-AUC {auc:.3f}, +{d_auc:.3f} over the best baseline, "
            "{best}) and its "
            "probabilities are closer to what happened (Brier {brier:.3f}, "
            "{lower:.0%} lower).",
            name=name,
            auc=row["ROC-AUC"],
            d_auc=d_auc,
            best=_baseline_name(best_auc),
            brier=row["Brier"],
            lower=d_brier / brier_base,
        )
    elif d_auc > 0 or d_brier > 0:
        values = {
            "name": name,
            "auc": row["ROC-AUC"],
            "auc_base": auc_base,
            "brier": row["Brier"],
            "brier_base": brier_base,
        }
        verdict = (
            tr(
                "**Mixed result:** the {name} ranks churners "
                "better than the best baseline (ROC-AUC "
                "{auc:.3f} vs {auc_base:.3f}) and its probabilities are "
                "further from what happened (Brier "
                "{brier:.3f} vs {brier_base:.3f}; lower is better). ",
                **values,
            )
            if d_auc > 0
            else tr(
                "**Mixed result:** the {name} ranks churners "
                "worse than the best baseline (ROC-AUC "
                "{auc:.3f} vs {auc_base:.3f}) and its probabilities are "
                "closer to what happened (Brier "
                "{brier:.3f} vs {brier_base:.3f}; lower is better). ",
                **values,
            )
        ) + (
            tr("Use its probabilities with care: a baseline orders customers better.")
            if d_brier > 0
            else tr("It orders customers well, but its probabilities need recalibration.")
        )
    else:
        verdict = tr(
            "**The {name} does not beat the baselines:** ROC-AUC {auc:.3f} vs "
            "{auc_base:.3f} and Brier {brier:.3f} vs "
            "{brier_base:.3f} for the best baseline. A simple "
            "baseline is at least as good a warning on these data.",
            name=name,
            auc=row["ROC-AUC"],
            auc_base=auc_base,
            brier=row["Brier"],
            brier_base=brier_base,
        )
    return tr("{verdict} Baselines: {others}.", verdict=verdict, others=others)


def palive_caveat(p_alive: pd.Series | None, X: pd.DataFrame, y: pd.Series) -> str:
    """Why 1 - P(alive) can be a weak churn score here (one-time buyers count as alive).

    ``p_alive`` by customer (None: returns ``""``); ``X`` needs ``purchase_days``.
    """
    if p_alive is None:
        return ""
    one = X["purchase_days"] == 1
    p_alive = p_alive.reindex(X.index)
    if p_alive.std() <= 1e-3:
        return tr(
            "*Reading the P(alive) baseline: BG/NBD gives practically everyone the same P(alive) "
            "(median {median:.1%}; it finds almost no dropout in these data), so "
            "1 - P(alive) cannot rank customers at all and its probabilities say 'nobody leaves'.*",
            median=p_alive.median(),
        )
    if not one.any():
        return tr(
            "*Reading the P(alive) baseline: P(alive) estimates whether someone is still a "
            "customer at all, not whether they buy within the window.*"
        )
    return tr(
        "*Reading the P(alive) baseline: P(alive) estimates whether someone is still a "
        "customer at all, not whether they buy within the window"
        "; and BG/NBD treats every one-time buyer as alive (here {share:.0%} of the "
        "evaluated customers, median P(alive) {median:.0%}, of "
        "whom {churned:.0%} churned).*",
        share=one.mean(),
        median=p_alive[one].median(),
        churned=y.reindex(X.index)[one].mean(),
    )


def gains_takeaway(table: pd.DataFrame, chosen: str, base_rate: float) -> str:
    """Top-decile capture and lift of the chosen score, against the best possible."""
    capture = table.loc[chosen, "top-decile capture"]
    best = min(1.0, 0.1 / base_rate) if base_rate > 0 else float("nan")
    return tr(
        "Calling the 10 % of customers the {name} ranks riskiest "
        "reaches {capture:.0%} of all who left (a random list reaches 10 %, a perfect one "
        "{best:.0%}, since churners are {base:.0%} of customers): lift "
        "{lift:.1f}x, **{share:.0%} of the best a list of that size can do**.",
        name=tr(MODEL_LABELS[chosen]).lower(),
        capture=capture,
        best=best,
        base=base_rate,
        lift=capture / 0.1,
        share=capture / best,
    )


def reliability_takeaway(curve: pd.DataFrame) -> str:
    """How far predicted probabilities are from observed churn rates, on average."""
    gap = float(np.average((curve["predicted"] - curve["observed"]).abs(), weights=curve["n"]))
    worst = curve.loc[(curve["predicted"] - curve["observed"]).abs().idxmax()]
    return tr(
        "Predicted churn probabilities are on average {gap:.0%} points from the churn rate "
        "observed out of time (largest gap: predicted {predicted:.0%} vs observed "
        "{observed:.0%}). Close to the diagonal means a '70 %' can be read as 7 in 10.",
        gap=gap,
        predicted=worst["predicted"],
        observed=worst["observed"],
    )


def drivers_takeaway(importance: pd.DataFrame, curves: pd.DataFrame) -> str:
    """The strongest drivers and in which direction they push churn risk."""
    parts = []
    for feature in importance.index[:3]:
        c = curves.loc[curves["feature"] == feature]
        label = tr(FEATURE_LABELS.get(feature, feature))
        if len(c) >= 2:
            lo, hi = c["p_churn"].iloc[0], c["p_churn"].iloc[-1]
            parts.append(
                tr("more *{label}* raises risk ({lo:.0%} -> {hi:.0%})", label=label, lo=lo, hi=hi)
                if hi > lo
                else tr(
                    "more *{label}* lowers risk ({lo:.0%} -> {hi:.0%})", label=label, lo=lo, hi=hi
                )
            )
        else:
            parts.append(f"*{label}*")
    top = importance.iloc[0]
    return tr(
        "The warning leans most on *{label}* (shuffling it costs {cost:.3f} "
        "of ROC-AUC). Across the typical range: {parts}.",
        label=tr(top["label"]),
        cost=top["importance"],
        parts="; ".join(parts),
    )


def risk_takeaway(risk: pd.DataFrame, top_n: int, currency: str, basis: str) -> str:
    """Size of the value at risk, its share of the value, and how concentrated it is."""
    total = risk["value_at_risk"].sum()
    top = risk["value_at_risk"].head(top_n).sum()
    worth = risk["value"].sum()
    high = risk["risk_band"].astype(str).str.startswith("high")
    text = tr(
        "{n:,} active customers scored; value at risk {total} "
        "({share:.1%} of their {basis}, "
        "{worth}). The top {top_n} alone hold {top} "
        "({top_share:.0%}); the {high:,} customers in the high "
        "P(churn) band hold {high_value} of it.",
        n=len(risk),
        total=amount(total, currency),
        share=total / worth if worth else 0,
        basis=display_label(basis),
        worth=amount(worth, currency),
        top_n=top_n,
        top=amount(top, currency),
        top_share=top / total if total else 0,
        high=int(high.sum()),
        high_value=amount(risk.loc[high, "value_at_risk"].sum(), currency),
    )
    if worth and total < 0.01 * worth:
        text += tr(
            " The purchase model sees almost no customer as gone for good, so little value is "
            "at risk by this measure: the top of the list holds the valuable customers whose "
            "silence is longest for their habits, and P(churn) says who is likely to go quiet "
            "next."
        )
    else:
        text += tr(" Call from the top of the list: that is where a win-back is worth most.")
    return text


# --------------------------------------------------------------------------- notebook glue


def feature_profile(X: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
    """Median of each feature among customers who stayed and who churned (one cutoff)."""
    grouped = X.groupby(y.reindex(X.index).map(dict(enumerate(OUTCOMES)))).median()
    out = grouped.T.reindex(columns=list(OUTCOMES))
    out.columns.name = None
    out.insert(0, "feature", [FEATURE_LABELS.get(c, c) for c in out.index])
    return out.set_index("feature")


def choose_score(fit: ModelFit, table: pd.DataFrame) -> str:
    """The fitted model chosen in training, else the baseline with the best ROC-AUC."""
    if fit.chosen is not None and fit.chosen in table.index:
        return fit.chosen
    return str(table["ROC-AUC"].fillna(0).idxmax())


def final_scores(
    fit: ModelFit,
    chosen: str,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    X_now: pd.DataFrame,
    seed: int = 0,
    no_purchase_now: pd.Series | None = None,
) -> np.ndarray:
    """P(churn) at ``as_of`` from the chosen score, refitted on the latest labelled cutoff.

    The evaluation cutoff's labels end on ``as_of``, so refitting there uses the newest
    behaviour without reading past ``as_of``. Features are clipped to the range seen in
    that refit, so a model never extrapolates beyond the customers it learnt from.
    ``no_purchase_now`` (:func:`btyd_no_purchase` at ``as_of``) is the score when the
    purchase model's own forecast won.
    """
    if chosen == "btyd" and no_purchase_now is not None:
        return no_purchase_now.reindex(X_now.index).to_numpy(dtype="float64")
    if chosen == "palive" and "p_alive" in X_now.columns:
        return 1.0 - X_now["p_alive"].to_numpy()
    X_now = X_now.clip(X_test.min(), X_test.max(), axis=1)
    if chosen in BASELINES:
        return predict(recency_baseline(X_test, y_test), X_now)
    model = refit(fit, X_test, y_test, seed)
    return predict(model, X_now, fit.features)


def churn_metrics(
    design: Design,
    y_test: pd.Series,
    table: pd.DataFrame,
    chosen: str,
    risk: pd.DataFrame,
    calibration: pd.DataFrame | None = None,
) -> dict:
    """The ``churn`` metrics of ``metrics.json`` (out-of-time scores of the chosen model;
    ``calibration`` is its :func:`calibration_table` on the evaluation window)."""

    def get(key, column):
        return float(table.loc[key, column]) if key in table.index else None

    def cal(column):
        if calibration is None or not np.isfinite(calibration.loc["as fitted", column]):
            return None
        return round(float(calibration.loc["as fitted", column]), 4)

    return {
        "window_days": design.window_days,
        "active_days": design.active_days,
        "base_rate": float(y_test.mean()),
        "model_auc": get(chosen, "ROC-AUC"),
        "model_pr_auc": get(chosen, "PR-AUC"),
        "model_brier": get(chosen, "Brier"),
        "btyd_auc": get("btyd", "ROC-AUC"),
        "btyd_brier": get("btyd", "Brier"),
        "palive_auc": get("palive", "ROC-AUC"),
        "palive_brier": get("palive", "Brier"),
        "recency_auc": get("recency", "ROC-AUC"),
        "chosen_model": chosen,
        "mean_predicted": cal("mean_predicted"),
        "calibration_intercept": cal("intercept"),
        "calibration_slope": cal("slope"),
        "top_decile_capture": get(chosen, "top-decile capture"),
        "top_decile_ceiling": round(min(1.0, 0.1 / float(y_test.mean())), 4)
        if y_test.mean() > 0
        else None,
        "value_at_risk_total": round(float(risk["value_at_risk"].sum()), 2),
        "customers_scored": int(len(risk)),
    }


def risk_export(risk: pd.DataFrame, anonymize: bool) -> pd.DataFrame:
    """The full ranked list for ``churn_risk.csv``: ids pseudonymised when ``anonymize``,
    probabilities to 4 decimals and money to cents (stable files from run to run)."""
    from analysis.privacy import display_ids

    out = display_ids(risk, anonymize).copy()
    out["p_churn"] = out["p_churn"].round(4)
    for col in ("spend_to_date", "value", "value_at_risk"):
        out[col] = out[col].round(2)
    out["last_purchase"] = out["last_purchase"].dt.date
    return out


def risk_table(risk: pd.DataFrame, top_n: int, anonymize: bool, value_label: str) -> pd.DataFrame:
    """The top ``top_n`` rows of :func:`risk_list` with display names (ids pseudonymised)."""
    from analysis.privacy import display_ids

    top = display_ids(risk.head(top_n), anonymize)
    top["risk_band"] = top["risk_band"].astype(str).map(display_label)
    top["segment"] = top["segment"].astype(str).map(tr_name)
    return top.drop(columns=["purchase_days"]).rename(
        columns={
            "p_churn": "P(churn)",
            "risk_band": "risk band",
            "days_since_last": "days since last purchase",
            "last_purchase": "last purchase",
            "spend_to_date": "spend to date",
            "value": value_label,
            "value_at_risk": "value at risk",
        }
    )


def findings(
    metrics: dict, table: pd.DataFrame, currency: str, top_n: int, risk, definition: str = ""
) -> str:
    """The notebook's conclusions as a short markdown list, from the recorded metrics
    (``definition``: :func:`value_at_risk_definition`, stated under the value at stake)."""
    chosen = metrics["chosen_model"]
    lines = [
        tr(
            "- **Definition:** no purchase in the {days} days after a cutoff; "
            "{rate:.0%} of active customers churned in the latest test window.",
            days=metrics["window_days"],
            rate=metrics["base_rate"],
        ),
        tr("- **Warning quality:** ") + comparison_takeaway(table, chosen),
        tr(
            "- **Who to call:** the top 10 % by risk hold {capture:.0%} of "
            "the churners (a random list: 10 %; a perfect one: "
            "{best:.0%}).",
            capture=metrics["top_decile_capture"],
            best=min(1.0, 0.1 / metrics["base_rate"]) if metrics["base_rate"] else 0,
        ),
        tr(
            "- **Value at stake:** {total} at risk "
            "across {n:,} active customers; the top {top_n} hold "
            "{top} (`churn_risk.csv`). ",
            total=amount(metrics["value_at_risk_total"], currency),
            n=metrics["customers_scored"],
            top_n=top_n,
            top=amount(risk["value_at_risk"].head(top_n).sum(), currency),
        )
        + definition,
    ]
    return "\n".join(lines)
