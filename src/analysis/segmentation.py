"""Segment customers by value, behaviour and life stage.

Every function starts from the one shared per-customer summary,
:func:`analysis.summary.customer_summary` (any ``time_unit``; ``"D"`` is natural).

Public API
----------
rfm_segments(summary, segment_map=None, n_scores=5)
    RFM scores 1-5 and the named RFM segment of each customer (index ``customer_id``;
    columns ``recency_days``, ``purchase_days``, ``revenue``, ``r_score``, ``f_score``,
    ``m_score``, ``rfm``, ``segment``). Stable signature: other notebooks (churn) use it.
score_quantiles, parse_segment_map, segment_grid, segment_map_table, segment_table
    The scoring, the score map behind it, and customers / revenue per segment.
value_tiers, tier_table, gini, lorenz_curve
    High / mid / low tiers by cumulative revenue share; concentration.
lifecycle_thresholds, lifecycle_stages, stage_table, check_window, stage_outcomes
    Life stages with thresholds from the purchase cycle (:mod:`analysis.cycle`), checked
    out of time.
cluster_features, cluster_columns, choose_k, best_k, fit_clusters, cluster_profiles,
cluster_analysis
    K-means on log-scaled standardised features; k by silhouette and stability on a sample.
previous_segments, migration_matrix, migrated_share
    Segments at ``as_of - compare_days`` and who moved where.
actions_table, segments_export, style_table, *_takeaway
    Treatments per segment (an editable mapping), the CRM export, display helpers and
    the sentences the notebook shows after each figure.

How scores stay meaningful with ties and one-time buyers
--------------------------------------------------------
- Scores come from percentile ranks with *average* ranks for ties, so customers with
  equal values always get equal scores (no arbitrary split of a tie across two scores).
- Frequency is not quintiled blindly: in retail logs a third to a half of customers
  bought on one day only, a tie mass that would swallow two or three quintiles. One-time
  buyers get ``f_score`` 1; repeat buyers are scored 2-5 by quartiles among themselves.
- Recency is days since the last purchase day (``T - recency``), scored so that the most
  recent customers get 5. Monetary is total revenue up to the cutoff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis import i18n
from analysis.text import amount, listed, sentences, tr, tr_name

# Named RFM segments: name -> rule "R<lo>-<hi> F<lo>-<hi> M<lo>-<hi>" (an omitted letter
# means any score). Rules are tried in order; the first match names the customer. The
# default partitions the R x F grid as the classic RFM map does and uses M to tell the
# big lapsed spenders ("Can't Lose Them") from the rest of "At Risk".
DEFAULT_SEGMENT_MAP: dict[str, str] = {
    "Champions": "R5 F4-5",
    "Loyal": "R3-4 F4-5",
    "Potential Loyalist": "R4-5 F2-3",
    "New": "R5 F1",
    "Promising": "R4 F1",
    "Need Attention": "R3 F3",
    "About to Sleep": "R3 F1-2",
    "Can't Lose Them": "R1-2 F4-5 M4-5",
    "At Risk": "R1-2 F3-5",
    "Hibernating": "R2 F1-2",
    "Lost": "R1 F1-2",
}
#: The default map's segment names (the data values; reports show ``tr(name)``).
SEGMENT_NAMES: tuple[str, ...] = i18n.fixed_names(__name__, DEFAULT_SEGMENT_MAP)

# Preset maps chosen by name (``segment_map="cn8"``): (R high, F high, M high) -> name.
# ``cn8`` is the eight-segment convention of Chinese CRM practice. High / low is each
# *score* against its mean score in this customer base: high = strictly above the mean
# (scores keep the tie and one-time-buyer rules above; raw revenue is so skewed that its
# mean would sit near the top decile). A widely copied snippet swaps 价值 and 保持: 价值 is
# R high F high, 保持 is R low F high.
SEGMENT_PRESETS: dict[str, dict[tuple[bool, bool, bool], str]] = {
    "cn8": {
        (True, True, True): "重要价值客户",
        (True, False, True): "重要发展客户",
        (False, True, True): "重要保持客户",
        (False, False, True): "重要挽留客户",
        (True, True, False): "一般价值客户",
        (True, False, False): "一般发展客户",
        (False, True, False): "一般保持客户",
        (False, False, False): "一般挽留客户",
    }
}

_RULE = re.compile(r"^([RFM])(\d)(?:-(\d))?$")


def preset_segment_map(name: str, scores: pd.DataFrame, n_scores: int = 5) -> dict[str, str]:
    """The score rules of a named preset, high = above this customer base's mean score.

    Parameters
    ----------
    name : str
        A key of :data:`SEGMENT_PRESETS` (``"cn8"``).
    scores : pandas.DataFrame
        ``r_score``, ``f_score``, ``m_score`` of every customer.
    n_scores : int
        Number of score levels.

    Returns
    -------
    dict
        Segment name -> rule such as ``"R4-5 F3-5 M4-5"``, in preset order. The top score
        always counts as high (when every customer shares it, all are high).
    """
    if name not in SEGMENT_PRESETS:
        raise ValueError(
            f"segment_map '{name}' is not a preset; use one of {sorted(SEGMENT_PRESETS)} "
            f"or a mapping such as {{'Champions': 'R5 F4-5', ...}}"
        )
    means = {c: scores[f"{c.lower()}_score"].mean() if len(scores) else 1.0 for c in "RFM"}
    cut = {c: min(int(np.floor(means[c])) + 1, n_scores) for c in "RFM"}

    def rule(letter: str, high: bool) -> str:
        lo, hi = (cut[letter], n_scores) if high else (1, cut[letter] - 1)
        return f"{letter}{lo}-{hi}" if lo < hi else f"{letter}{lo}"

    return {
        segment: " ".join(rule(letter, h) for letter, h in zip("RFM", highs, strict=True))
        for highs, segment in SEGMENT_PRESETS[name].items()
    }


def _need(frame: pd.DataFrame, columns, what: str = "customer summary") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {missing}; build it with analysis.summary.customer_summary"
        )


def score_quantiles(values: pd.Series, n_scores: int = 5, higher_is_better: bool = True):
    """Score values 1..``n_scores`` by quantiles; ties share one score.

    The score is ``ceil(n_scores * p)`` where ``p`` is the percentile rank with
    ties given their *average* rank, so equal values always get the same score.

    Parameters
    ----------
    values : pandas.Series
        Numbers to score (e.g. days since the last purchase).
    higher_is_better : bool
        When false, the smallest values get the top score (recency).

    Returns
    -------
    pandas.Series of int
        Scores aligned with ``values``.
    """
    if values.empty:
        return pd.Series([], index=values.index, dtype="int64")
    ranked = (values if higher_is_better else -values).rank(method="average", pct=True)
    return np.ceil(ranked * n_scores).clip(1, n_scores).astype("int64")


def parse_segment_map(segment_map: Mapping[str, str], n_scores: int = 5) -> dict:
    """Parse ``{"Champions": "R5 F4-5", ...}`` into score ranges per letter.

    Returns
    -------
    dict
        name -> {"R": (lo, hi), "F": (lo, hi), "M": (lo, hi)}.

    Raises
    ------
    ValueError
        On a malformed rule or a score outside 1..``n_scores``.
    """
    parsed = {}
    for name, rule in segment_map.items():
        ranges = {letter: (1, n_scores) for letter in "RFM"}
        for token in str(rule).split():
            match = _RULE.match(token.strip().upper())
            if not match:
                raise ValueError(
                    f"segment '{name}': cannot read '{token}'; write rules like 'R4-5 F1 M3-5'"
                )
            letter, lo, hi = (
                match.group(1),
                int(match.group(2)),
                int(match.group(3) or match.group(2)),
            )
            if not 1 <= lo <= hi <= n_scores:
                raise ValueError(f"segment '{name}': range '{token}' outside 1-{n_scores}")
            ranges[letter] = (lo, hi)
        parsed[name] = ranges
    return parsed


def segment_grid(segment_map: Mapping[str, str] | None = None, n_scores: int = 5) -> np.ndarray:
    """The segment name of every (R, F, M) score cell, first matching rule wins.

    Returns
    -------
    numpy.ndarray
        Object array of shape ``(n_scores,) * 3`` indexed ``[r - 1, f - 1, m - 1]``.

    Raises
    ------
    ValueError
        When some score combination matches no rule (it names the first few).
    """
    rules = parse_segment_map(segment_map or DEFAULT_SEGMENT_MAP, n_scores)
    grid = np.full((n_scores,) * 3, None, dtype=object)
    for name, ranges in rules.items():
        (r0, r1), (f0, f1), (m0, m1) = ranges["R"], ranges["F"], ranges["M"]
        cell = grid[r0 - 1 : r1, f0 - 1 : f1, m0 - 1 : m1]
        cell[cell == None] = name  # noqa: E711 (element-wise on an object array)
    empty = np.argwhere(grid == None)  # noqa: E711
    if len(empty):
        cells = ", ".join(f"R{r + 1}F{f + 1}M{m + 1}" for r, f, m in empty[:5])
        raise ValueError(
            f"segment map leaves {len(empty)} score combination(s) without a segment "
            f"(e.g. {cells}); add a rule or a catch-all such as 'Other': ''"
        )
    return grid


def rfm_segments(
    summary: pd.DataFrame, segment_map: Mapping[str, str] | str | None = None, n_scores: int = 5
) -> pd.DataFrame:
    """RFM scores and named segment of every customer.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`analysis.summary.customer_summary` output (index ``customer_id``)
        with ``recency``, ``T``, ``purchase_days`` and ``revenue``. Any time unit.
    segment_map : mapping or str, optional
        Segment name -> rule such as ``"R5 F4-5"`` (see :data:`DEFAULT_SEGMENT_MAP`);
        rules are tried in order and must together cover every score combination.
        Or a preset name of :data:`SEGMENT_PRESETS` (``"cn8"``), resolved against this
        customer base's mean scores; ``attrs["segment_map"]`` of the result holds the
        rules used.
    n_scores : int
        Number of score levels (5 = quintiles).

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; ``recency_days`` (time since the last purchase in the
        summary's unit), ``purchase_days``, ``revenue``, ``r_score``, ``f_score``,
        ``m_score`` (1 = worst, ``n_scores`` = best), ``rfm`` (e.g. ``"545"``) and
        ``segment`` (categorical, categories in map order).

    Notes
    -----
    Ties share a score (average ranks). One-time buyers get ``f_score`` 1 and repeat
    buyers are spread over 2..``n_scores`` by quantiles among themselves, so the mass
    of one-time buyers does not decide the frequency scores of everybody else.
    """
    _need(summary, ("recency", "T", "purchase_days", "revenue"))
    out = pd.DataFrame(index=summary.index)
    # rounded: in weeks, T - recency carries float noise that would split ties
    out["recency_days"] = (summary["T"] - summary["recency"]).round(6)
    out["purchase_days"] = summary["purchase_days"].astype("int64")
    out["revenue"] = summary["revenue"].astype(float)
    out["r_score"] = score_quantiles(out["recency_days"], n_scores, higher_is_better=False)
    repeat = out["purchase_days"] > 1
    f_score = pd.Series(1, index=out.index, dtype="int64")
    if repeat.any():
        f_score[repeat] = 1 + score_quantiles(out.loc[repeat, "purchase_days"], n_scores - 1)
    out["f_score"] = f_score
    out["m_score"] = score_quantiles(out["revenue"], n_scores)
    if isinstance(segment_map, str):
        segment_map = preset_segment_map(segment_map, out, n_scores)
    segment_map = dict(segment_map or DEFAULT_SEGMENT_MAP)
    grid = segment_grid(segment_map, n_scores)
    out["rfm"] = (
        out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    )
    names = grid[out["r_score"] - 1, out["f_score"] - 1, out["m_score"] - 1]
    out["segment"] = pd.Categorical(names, categories=list(segment_map))
    out.attrs["segment_map"] = segment_map  # the rules used (a preset resolved to scores)
    return out


def segment_map_table(segment_map: Mapping[str, str] | None = None, n_scores: int = 5):
    """The score map as a display table: segment, rule, and score cells it names."""
    segment_map = dict(segment_map or DEFAULT_SEGMENT_MAP)
    grid = segment_grid(segment_map, n_scores)
    cells = pd.Series(grid.ravel()).value_counts()
    return pd.DataFrame(
        {
            "segment": list(segment_map),
            "rule (first match wins)": [segment_map[s] or tr("any") for s in segment_map],
            "score cells": [int(cells.get(s, 0)) for s in segment_map],
        }
    )


def segment_table(rfm: pd.DataFrame) -> pd.DataFrame:
    """Customers and revenue per RFM segment, in map order.

    Parameters
    ----------
    rfm : pandas.DataFrame
        :func:`rfm_segments` output (``segment``, ``revenue``, ``recency_days``,
        ``purchase_days``).

    Returns
    -------
    pandas.DataFrame
        Index ``segment``; ``customers``, ``customer_share``, ``revenue``,
        ``revenue_share``, ``revenue_per_customer``, ``median_days_since_purchase``,
        ``mean_purchase_days``. Empty segments are kept with zeros.
    """
    _need(rfm, ("segment", "revenue", "recency_days", "purchase_days"), "RFM table")
    grouped = rfm.groupby("segment", observed=False)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped["revenue"].sum(),
            "median_days_since_purchase": grouped["recency_days"].median(),
            "mean_purchase_days": grouped["purchase_days"].mean(),
        }
    )
    total_rev = out["revenue"].sum()
    out.insert(1, "customer_share", out["customers"] / max(len(rfm), 1))
    out.insert(3, "revenue_share", out["revenue"] / total_rev if total_rev else 0.0)
    out.insert(
        4, "revenue_per_customer", out["revenue"] / out["customers"].where(out["customers"] > 0)
    )
    out.index.name = "segment"
    return out


def display_name(name) -> str:
    """A segment, tier or stage name as the report shows it: translated when it is one of
    the package's fixed names (:data:`SEGMENT_NAMES`, :data:`TIERS`, :data:`STAGES`,
    :data:`NEW_LABEL`, ``potential``), else unchanged (a user's own or a cn8 name).

    The data (exports, metrics keys) keep the English names; only the display changes.
    """
    return tr_name(str(name), _DISPLAY_NAMES)


def _joined(names) -> str:
    """Two or more display names joined ("At Risk and Can't Lose Them")."""
    names = [display_name(n) for n in names]
    if len(names) < 2:
        return "".join(names)
    return tr("{first} and {last}", first=listed(names[:-1]), last=names[-1])


def rfm_takeaway(table: pd.DataFrame, currency: str = "") -> str:
    """A sentence on where customers and revenue sit across the RFM segments."""
    top = table.sort_values("revenue_share", ascending=False)
    best = top.index[0]
    biggest = table["customers"].idxmax()
    worth = [s for s in ("At Risk", "Can't Lose Them") if s in table.index]
    risk = table.loc[worth] if worth else table.iloc[0:0]
    risk_text = ""
    if len(risk) and risk["customers"].sum() > 0:
        risk_text = tr(
            "{names} hold {n:,.0f} customers and **{share:.0%} of revenue** to date: lapsing "
            "buyers who used to buy often, the first target for a win-back campaign.",
            names=_joined(worth),
            n=risk["customers"].sum(),
            share=risk["revenue_share"].sum(),
        )
    return sentences(
        tr(
            "**{best}** are {cs:.0%} of customers but bring **{rs:.0%} of revenue** ({per} per "
            "customer). The largest group is **{biggest}** ({bcs:.0%} of customers, {brs:.0%} "
            "of revenue).",
            best=display_name(best),
            cs=table.loc[best, "customer_share"],
            rs=table.loc[best, "revenue_share"],
            per=amount(table.loc[best, "revenue_per_customer"], currency),
            biggest=display_name(biggest),
            bcs=table.loc[biggest, "customer_share"],
            brs=table.loc[biggest, "revenue_share"],
        ),
        risk_text,
    )


# --------------------------------------------------------------------------- value tiers

TIERS = i18n.fixed_names(__name__, ("high", "mid", "low"))


def value_tiers(summary: pd.DataFrame, shares: tuple[float, float] = (0.8, 0.95)) -> pd.DataFrame:
    """High / mid / low value tiers by cumulative share of revenue.

    Customers are sorted by revenue, largest first. The *high* tier is the smallest
    group of top customers that together make ``shares[0]`` of revenue; *mid* the
    next customers up to ``shares[1]``; *low* the rest (ties in the summary's order,
    i.e. by customer id).

    Parameters
    ----------
    summary : pandas.DataFrame
        Customer summary with ``revenue`` (index ``customer_id``).
    shares : (float, float)
        Cumulative revenue shares closing the high and the mid tier.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id`` (summary order); ``revenue``, ``cum_share`` (revenue
        share of all customers ranked above, this one included) and ``tier``
        (categorical high/mid/low).
    """
    _need(summary, ("revenue",))
    high, mid = shares
    if not 0 < high <= mid <= 1:
        raise ValueError(f"tier shares {shares} must satisfy 0 < high <= mid <= 1")
    revenue = summary["revenue"].astype(float).clip(lower=0)
    values = revenue.to_numpy()
    order = np.argsort(-values, kind="stable")  # ties keep the summary's (customer id) order
    total = values.sum()
    ranked = values[order] / total if total > 0 else np.zeros(len(values))
    cum_sorted = np.cumsum(ranked) if total > 0 else np.ones(len(values))
    before = cum_sorted - ranked
    tol = 1e-12  # cumulative float sums: 0.8 must not read as 0.8000000001
    tier_sorted = np.where(before < high - tol, "high", np.where(before < mid - tol, "mid", "low"))
    cum, tier = np.empty(len(values)), np.empty(len(values), dtype=object)
    cum[order], tier[order] = cum_sorted, tier_sorted
    out = pd.DataFrame({"revenue": revenue, "cum_share": cum, "tier": tier}, index=summary.index)
    out["tier"] = pd.Categorical(out["tier"], categories=list(TIERS))
    return out


def tier_table(tiers: pd.DataFrame) -> pd.DataFrame:
    """Customers, revenue and the revenue range per value tier."""
    _need(tiers, ("tier", "revenue"), "tier table")
    grouped = tiers.groupby("tier", observed=False)["revenue"]
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped.sum(),
            "min_revenue": grouped.min(),
            "max_revenue": grouped.max(),
        }
    )
    out.insert(1, "customer_share", out["customers"] / max(len(tiers), 1))
    out.insert(3, "revenue_share", out["revenue"] / max(out["revenue"].sum(), 1e-12))
    return out


def gini(values) -> float:
    """Gini coefficient of non-negative values (0 = all equal, near 1 = one holds all).

    Negative values (net refunds) are treated as 0. Returns NaN for no data or a
    zero total.
    """
    x = np.sort(np.clip(np.asarray(values, dtype=float), 0, None))
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    ranks = np.arange(1, n + 1)
    return float(2 * np.sum(ranks * x) / (n * total) - (n + 1) / n)


def lorenz_curve(values, points: int = 201) -> pd.DataFrame:
    """The Lorenz (concentration) curve sampled at ``points`` customer shares.

    Returns
    -------
    pandas.DataFrame
        ``customer_share`` (0..1, customers sorted from the smallest spender up)
        and ``revenue_share`` (their cumulative share of revenue). A fixed number of
        points, whatever the number of customers.
    """
    x = np.sort(np.clip(np.asarray(values, dtype=float), 0, None))
    cum = np.concatenate([[0.0], np.cumsum(x)])
    cum = cum / cum[-1] if cum[-1] > 0 else np.linspace(0, 1, len(cum))
    grid = np.linspace(0, 1, points)
    share = np.interp(grid * len(x), np.arange(len(x) + 1), cum)
    return pd.DataFrame({"customer_share": grid, "revenue_share": share})


TIER_BASES = {
    "revenue": "revenue to date",
    "run_rate": "monthly spend rate (revenue per month since the first purchase)",
    "clv": "expected 12-month value (CLV, BG/NBD + Gamma-Gamma)",
}


def tier_values(frame: pd.DataFrame, as_of, summary: pd.DataFrame, basis: str = "revenue"):
    """The value each customer is tiered by.

    ``"revenue"``: revenue to date (rewards tenure: a good customer seen for two months
    ranks low); ``"run_rate"``: revenue per month since the first purchase (a first month
    counts whole); ``"clv"``: expected 12-month value from :mod:`analysis.clv` (falls back
    to nothing: raises ValueError when the purchase model cannot be fitted).

    Returns
    -------
    pandas.Series
        Indexed like ``summary`` (``T`` and ``revenue`` in days, ``time_unit="D"``).
    """
    if basis not in TIER_BASES:
        raise ValueError(f"tier_basis '{basis}' unknown; use one of {sorted(TIER_BASES)}")
    if basis == "revenue":
        return summary["revenue"].astype(float)
    if basis == "run_rate":
        months = np.maximum(summary["T"].astype(float) + 1, 30.44) / 30.44
        return (summary["revenue"].astype(float) / months).rename("run_rate")
    from analysis import clv
    from analysis.summary import customer_summary

    weekly = customer_summary(frame, as_of, time_unit="W")
    fitted = clv.fit_model(weekly, model="bgnbd")
    value = clv.customer_value(fitted, clv.fit_spend(weekly), weekly, 12, 0.10)["clv"]
    return value.reindex(summary.index).fillna(0.0).rename("clv")


def tenure_note(summary: pd.DataFrame, tiers: pd.DataFrame, recent_days: int = 90) -> str:
    """How tiers by revenue to date penalise recent customers, in words ("" when none)."""
    recent = summary["T"] < recent_days
    if recent.sum() < 10:
        return ""
    rate = tier_values(None, None, summary, "run_rate")
    low = tiers["tier"].eq("low") & recent
    high_rate = rate[tiers["tier"].eq("high")].median()
    fast = (rate[low] > high_rate).mean() if low.any() else 0.0
    return tr(
        "*Tiers by revenue to date favour long-standing customers: {low:.0%} of the {n:,} "
        "customers first seen in the last {days} days are 'low', and {fast:.0%} of those spend "
        "faster per month than the median 'high' customer. Set `tier_basis` to 'run_rate' or "
        "'clv' to tier by pace or expected value instead.*",
        low=low.sum() / recent.sum(),
        n=recent.sum(),
        days=recent_days,
        fast=fast,
    )


#: The value each tiering basis measures, short (for "make 80 % of ..."); see TIER_BASES.
TIER_WHAT = {
    "revenue": "revenue",
    "run_rate": "monthly spend rate",
    "clv": "expected 12-month value",
}


def tier_takeaway(
    table: pd.DataFrame, gini_value: float, currency: str = "", basis: str = "revenue"
) -> str:
    """A sentence on concentration: who makes most of the value (``basis``: its kind)."""
    high = table.loc["high"]
    return tr(
        "Tiers by {basis}: the top **{hs:.0%} of customers** ({n:,.0f}, each with at least "
        "{floor}) make **{hv:.0%} of {what}**; the low tier ({ls:.0%} of customers) makes "
        "{lv:.0%}. Gini = **{gini:.2f}** ({degree}): losing a few high-tier customers costs "
        "more than losing hundreds of low-tier ones.",
        basis=tr(TIER_BASES[basis]),
        hs=high["customer_share"],
        n=high["customers"],
        floor=amount(high["min_revenue"], currency),
        hv=high["revenue_share"],
        what=tr(TIER_WHAT[basis]),
        ls=table.loc["low", "customer_share"],
        lv=table.loc["low", "revenue_share"],
        gini=gini_value,
        degree=tr("highly concentrated") if gini_value >= 0.6 else tr("moderately concentrated"),
    )


def tier_display(table: pd.DataFrame, basis: str = "revenue") -> pd.DataFrame:
    """:func:`tier_table` with its money columns named for the tiering basis."""
    if basis == "revenue":
        return table
    word = {"run_rate": "monthly_spend", "clv": "clv"}[basis]
    return table.rename(columns=lambda c: c.replace("revenue", word))


# --------------------------------------------------------------------------- lifecycle

STAGES = i18n.fixed_names(__name__, ("new", "active repeat", "loyal", "at risk", "lapsed"))


def lifecycle_thresholds(
    cycle,
    summary: pd.DataFrame,
    cycle_quantile: float = 0.5,
    lapse_quantile: float = 0.9,
    loyal_purchases: int | None = None,
) -> dict:
    """Lifecycle thresholds from the purchase cycle (:func:`analysis.cycle.purchase_cycle`).

    Parameters
    ----------
    cycle : analysis.cycle.Cycle
        The censoring-aware purchase cycle at the same cutoff as ``summary``.
    summary : pandas.DataFrame
        Customer summary with ``purchase_days`` (for the loyal threshold).
    cycle_quantile, lapse_quantile : float
        Percentiles of the cycle giving the *purchase cycle* (default: the median) and
        the *lapse* silence (default: 90 % of returning customers are back sooner).
    loyal_purchases : int, optional
        Purchase days that make a customer loyal; None derives it as the 75th
        percentile of purchase days among repeat buyers (at least 3).

    Returns
    -------
    dict
        ``cycle_days``, ``lapse_days``, ``loyal_purchases``, ``gaps`` (completed
        intervals behind the cycle), ``customers`` (repeat customers) and the quantiles.
    """
    _need(summary, ("purchase_days",))
    if not 0 < cycle_quantile < lapse_quantile < 1:
        raise ValueError("need 0 < cycle_quantile < lapse_quantile < 1")
    if cycle.completed:
        cycle_days, lapse = cycle.threshold(cycle_quantile), cycle.threshold(lapse_quantile)
    else:  # nobody bought twice: no cycle to learn from; everything beyond a year is lapsed
        cycle_days, lapse = 30.0, 365.0
    if loyal_purchases is None:
        repeat = summary.loc[summary["purchase_days"] > 1, "purchase_days"]
        loyal_purchases = max(3, int(np.ceil(repeat.quantile(0.75)))) if len(repeat) else 3
    return {
        "cycle_days": round(max(cycle_days, 1.0), 1),
        "lapse_days": round(max(lapse, cycle_days, 1.0), 1),
        "loyal_purchases": int(loyal_purchases),
        "gaps": int(cycle.completed),
        "customers": int(cycle.customers),
        "cycle_quantile": cycle_quantile,
        "lapse_quantile": lapse_quantile,
    }


def thresholds_note(thresholds: Mapping) -> str:
    """One line stating the lifecycle thresholds in use."""
    return tr(
        "Thresholds from the purchase cycle of {customers:,} repeat customers ({gaps:,} returns, "
        "silences still running counted): cycle **{cycle:.0f} days**, lapsed after **{lapse:.0f} "
        "days** without a purchase, loyal from **{loyal} purchase days**.",
        customers=thresholds.get("customers", 0),
        gaps=thresholds["gaps"],
        cycle=thresholds["cycle_days"],
        lapse=thresholds["lapse_days"],
        loyal=thresholds["loyal_purchases"],
    )


def lifecycle_stages(summary: pd.DataFrame, thresholds: Mapping) -> pd.DataFrame:
    """Life stage of each customer at the cutoff.

    Rules, first match wins (all times in days; the summary must use
    ``time_unit="D"``):

    1. **lapsed**: no purchase for longer than ``lapse_days``;
    2. **new**: first purchase within the last purchase cycle (``T <= cycle_days``);
    3. **at risk**: silent for longer than their usual gap, which is their own mean
       gap between purchases but at least the typical ``cycle_days`` (one-time
       buyers: the typical cycle);
    4. **loyal**: at least ``loyal_purchases`` purchase days;
    5. **active repeat**: the other repeat buyers.

    Parameters
    ----------
    summary : pandas.DataFrame
        Customer summary in days with ``frequency``, ``recency``, ``T``,
        ``purchase_days``.
    thresholds : mapping
        :func:`lifecycle_thresholds` output.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; ``days_since_purchase``, ``usual_gap_days`` and
        ``stage`` (categorical in :data:`STAGES` order).
    """
    _need(summary, ("frequency", "recency", "T", "purchase_days"))
    cycle, lapse = thresholds["cycle_days"], thresholds["lapse_days"]
    since = summary["T"] - summary["recency"]
    own_gap = summary["recency"] / summary["frequency"].where(summary["frequency"] > 0)
    usual = own_gap.fillna(cycle).clip(lower=cycle)
    conditions = [
        since > lapse,
        summary["T"] <= cycle,
        since > usual,
        summary["purchase_days"] >= thresholds["loyal_purchases"],
    ]
    stage = np.select(conditions, ["lapsed", "new", "at risk", "loyal"], "active repeat")
    return pd.DataFrame(
        {
            "days_since_purchase": since,
            "usual_gap_days": usual,
            "stage": pd.Categorical(stage, categories=list(STAGES)),
        },
        index=summary.index,
    )


def stage_table(stages: pd.DataFrame, revenue: pd.Series) -> pd.DataFrame:
    """Customers, revenue and median days since the last purchase per life stage."""
    _need(stages, ("stage", "days_since_purchase"), "stage table")
    frame = stages.assign(revenue=revenue.reindex(stages.index).to_numpy())
    grouped = frame.groupby("stage", observed=False)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped["revenue"].sum(),
            "median_days_since_purchase": grouped["days_since_purchase"].median(),
        }
    )
    out.insert(1, "customer_share", out["customers"] / max(len(stages), 1))
    out.insert(3, "revenue_share", out["revenue"] / max(out["revenue"].sum(), 1e-12))
    return out


def check_window(cycle, frame: pd.DataFrame, as_of, check_days: int | None = None) -> int:
    """Days of the out-of-time stage check: ``check_days``, else the silence by which 80 %
    of returning customers are back (the churn window's rule), at most half the history.
    Without a repeat buyer there is no cycle: 30 days, the stages' own fallback cycle."""
    span = (pd.Timestamp(as_of).normalize() - frame["order_date"].min().normalize()).days
    if check_days:
        days = int(check_days)
    else:
        days = int(np.ceil(cycle.threshold(0.8))) if cycle.completed else 30
    return max(1, min(days, span // 2))


def stage_outcomes(
    frame: pd.DataFrame,
    as_of,
    check_days: int,
    cycle_quantile: float = 0.5,
    lapse_quantile: float = 0.9,
    loyal_purchases: int | None = None,
) -> pd.DataFrame:
    """Out-of-time check of the stages: who bought again in the ``check_days`` after an
    earlier cutoff, by the stage they had at that cutoff.

    Stages (and the purchase cycle behind their thresholds) are computed at
    ``as_of - check_days`` from the data known then, exactly as that report showed them;
    the outcome is a purchase day in the following ``check_days`` (up to ``as_of``).

    Returns
    -------
    pandas.DataFrame
        Index ``stage`` (:data:`STAGES`); ``customers`` and ``bought_again`` (share).
        ``attrs``: ``cutoff``, ``days``, ``thresholds`` (at the earlier cutoff).
    """
    from analysis.cycle import cycle_at
    from analysis.summary import customer_summary, purchase_days

    if check_days < 1:
        raise ValueError(f"check_days must be at least 1, got {check_days}")
    end = pd.Timestamp(as_of).normalize()
    cutoff = end - pd.Timedelta(days=int(check_days))
    summary = customer_summary(frame, cutoff, time_unit="D")
    thresholds = lifecycle_thresholds(
        cycle_at(frame, cutoff), summary, cycle_quantile, lapse_quantile, loyal_purchases
    )
    stages = lifecycle_stages(summary, thresholds)
    later = purchase_days(frame, start=cutoff + pd.Timedelta(days=1), end=end)
    back = stages.index.isin(pd.unique(later["customer_id"]))
    grouped = pd.Series(back, index=stages.index).groupby(stages["stage"], observed=False)
    out = pd.DataFrame({"customers": grouped.size(), "bought_again": grouped.mean()})
    out.attrs = {"cutoff": cutoff, "days": int(check_days), "thresholds": thresholds}
    return out


def outcomes_takeaway(table: pd.DataFrame) -> str:
    """Whether the stages order customers by how likely they are to buy again, in words."""
    from analysis.demand import day_label

    known = table.loc[table["customers"] > 0, "bought_again"]
    if len(known) < 2:
        return tr("Too few customers at the earlier cutoff to check the stages out of time.")
    cutoff, days = table.attrs["cutoff"], table.attrs["days"]
    parts = listed(
        tr("{stage} {share:.0%}", stage=display_name(s), share=v) for s, v in known.items()
    )
    text = tr(
        "**Out-of-time check:** of the customers in each stage on {cutoff}, the share who bought "
        "again in the next {days} days: {parts}.",
        cutoff=day_label(cutoff),
        days=days,
        parts=parts,
    )
    if "at risk" in known and "active repeat" in known:
        gap = known["active repeat"] - known["at risk"]
        text = sentences(
            text,
            tr(
                "'At risk' customers came back {gap:.0%} points {direction} often than 'active "
                "repeat' ones",
                gap=abs(gap),
                direction=tr("less") if gap > 0 else tr("more"),
            ),
        )
        text += (
            tr(": the stage marks real slipping.")
            if gap >= 0.1
            else tr(
                ": the stage separates them only weakly, so treat it as a prompt, not a verdict."
            )
        )
    if "lapsed" in known:
        text = sentences(
            text,
            tr(
                "{share:.0%} of 'lapsed' customers still came back: a win-back offer is not wasted "
                "on all of them.",
                share=known["lapsed"],
            ),
        )
    return text


def lifecycle_takeaway(table: pd.DataFrame, thresholds: Mapping) -> str:
    """A sentence on the purchase cycle and how many customers are slipping away."""
    at_risk, lapsed, new = table.loc["at risk"], table.loc["lapsed"], table.loc["new"]
    cycle_share = thresholds["cycle_quantile"]
    lead = tr("Half") if cycle_share == 0.5 else f"{cycle_share:.0%}"
    text = tr(
        "{lead} of repeat customers buy again within **{cycle:.0f} days** of their previous "
        "purchase and {lapse_share:.0%} within **{lapse:.0f} days**; a customer silent for "
        "longer counts as lapsed. **{n:,.0f} customers ({share:.0%}, {revenue:.0%} of revenue) "
        "are at risk**: past their usual gap but not yet lapsed, the window in which a reminder "
        "still works. {lapsed:.0%} of customers have already lapsed.",
        lead=lead,
        cycle=thresholds["cycle_days"],
        lapse_share=thresholds["lapse_quantile"],
        lapse=thresholds["lapse_days"],
        n=at_risk["customers"],
        share=at_risk["customer_share"],
        revenue=at_risk["revenue_share"],
        lapsed=lapsed["customer_share"],
    )
    if new["customers"] == 0:
        text = sentences(
            text,
            tr(
                "Nobody bought for the first time within the last purchase cycle: no new customers."
            ),
        )
    return text


# --------------------------------------------------------------------------- clusters

FIT_SAMPLE = 200_000  # customers used to place the final k-means centres
CLUSTER_FEATURES = ("recency", "frequency", "monetary", "tenure", "avg_order_value")


def cluster_features(summary: pd.DataFrame) -> pd.DataFrame:
    """Raw behavioural features per customer for clustering (days and money).

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; ``recency`` (time since the last purchase),
        ``frequency`` (purchase days), ``monetary`` (revenue), ``tenure`` (``T``,
        time since the first purchase), ``avg_order_value``.
    """
    _need(summary, ("recency", "T", "purchase_days", "revenue", "avg_order_value"))
    return pd.DataFrame(
        {
            "recency": summary["T"] - summary["recency"],
            "frequency": summary["purchase_days"].astype(float),
            "monetary": summary["revenue"].astype(float),
            "tenure": summary["T"].astype(float),
            "avg_order_value": summary["avg_order_value"].astype(float),
        },
        index=summary.index,
    )


def cluster_columns(features: pd.DataFrame, min_log_std: float = 0.1) -> list[str]:
    """Features that vary enough to separate customers.

    Standardising blows a near-constant feature up to the same weight as the
    others (CDNOW: every customer joined within 12 weeks, so tenure varies by a
    few percent). Features whose log1p values have a standard deviation below
    ``min_log_std`` (about a 10 % spread) are left out of the clustering.
    """
    logged = np.log1p(features.clip(lower=0).fillna(0))
    return [c for c in features.columns if logged[c].std() >= min_log_std]


def _standardise(features: pd.DataFrame) -> np.ndarray:
    logged = np.log1p(features.clip(lower=0).fillna(0).to_numpy(dtype=float))
    std = logged.std(axis=0)
    return (logged - logged.mean(axis=0)) / np.where(std > 0, std, 1.0)


def choose_k(
    features: pd.DataFrame,
    k_values=range(3, 9),
    seed: int = 42,
    n_boot: int = 10,
    sample_size: int = 3000,
) -> pd.DataFrame:
    """Silhouette and bootstrap stability of k-means for each k, on a fixed random sample.

    Features are log1p-scaled and standardised. For each k, k-means is fitted on a sample of
    ``sample_size`` customers (so the cost does not grow with the customer base: silhouette
    is quadratic in the sample); *silhouette* is that fit's. *stability* is the mean adjusted
    Rand index between that fit's labels and those of k-means refitted on ``n_boot``
    bootstrap resamples of the sample (each labelling the whole sample): 1 = the same
    clusters whatever the customers drawn, near 0 = the clusters are an accident of the
    sample.

    Returns
    -------
    pandas.DataFrame
        Index ``k``; ``silhouette``, ``stability``, ``inertia``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score
    from threadpoolctl import threadpool_limits

    x = _standardise(features)
    rng = np.random.default_rng(seed)
    if len(x) > sample_size:
        x = x[rng.choice(len(x), sample_size, replace=False)]
    draws = [rng.integers(0, len(x), len(x)) for _ in range(n_boot)]
    rows = []
    # One thread: on small samples OpenMP threads cost far more than they save, and on a
    # busy machine they made k-means ~70x slower (measured: 87 s vs 1.2 s for 18 fits).
    with threadpool_limits(1):
        for k in k_values:
            if k >= len(x):
                break
            ref = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(x)
            n_labels = len(np.unique(ref.labels_))
            aris = [
                adjusted_rand_score(
                    ref.labels_,
                    KMeans(n_clusters=k, n_init=2, random_state=seed + b + 1)
                    .fit(x[idx])
                    .predict(x),
                )
                for b, idx in enumerate(draws)
            ]
            rows.append(
                {
                    "k": k,
                    "silhouette": silhouette_score(x, ref.labels_) if n_labels > 1 else np.nan,
                    "stability": float(np.mean(aris)) if aris else 1.0,
                    "inertia": float(ref.inertia_),
                }
            )
    return pd.DataFrame(rows).set_index("k")


def structure_words(silhouette: float) -> str:
    """Kaufman & Rousseeuw's reading of an average silhouette width."""
    if silhouette > 0.7:
        return tr("strong structure")
    if silhouette > 0.5:
        return tr("reasonable structure")
    if silhouette > 0.25:
        return tr("weak structure that could be artificial")
    return tr("no substantial structure")


def best_k(scores: pd.DataFrame, min_stability: float = 0.8, tolerance: float = 0.01) -> int:
    """The smallest stable k whose silhouette is within ``tolerance`` of the best.

    Only k with ``stability >= min_stability`` compete (all k when none is stable).
    Silhouettes a hundredth apart are a tie, and fewer clusters are easier to act
    on, so the smallest of the near-best k wins.
    """
    if scores.empty:
        raise ValueError("no k could be evaluated: too few customers to cluster")
    stable = scores.loc[scores["stability"] >= min_stability]
    pool = stable if len(stable) else scores
    near = pool.loc[pool["silhouette"] >= pool["silhouette"].max() - tolerance]
    return int(near.index.min())


def fit_clusters(features: pd.DataFrame, k: int, seed: int = 42) -> pd.Series:
    """K-means labels for every customer, numbered by revenue per customer (0 = highest).

    Same standardisation as :func:`choose_k`; a fixed ``seed`` gives the same labels
    on every run.

    Returns
    -------
    pandas.Series of int
        Index ``customer_id``, named ``cluster``.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    x = _standardise(features)
    fit_on = x
    if len(x) > FIT_SAMPLE:  # centres from a large sample are as good and much cheaper
        fit_on = x[np.random.default_rng(seed).choice(len(x), FIT_SAMPLE, replace=False)]
    with threadpool_limits(1):  # see choose_k: threads slow k-means down here
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(fit_on).predict(x)
    value = pd.Series(features["monetary"].to_numpy()).groupby(labels).mean()
    rank = {old: new for new, old in enumerate(value.sort_values(ascending=False).index)}
    return pd.Series([rank[v] for v in labels], index=features.index, name="cluster")


def _describe(z: pd.Series, ratio: pd.Series) -> str:
    # a word only for a clear difference: half a standard deviation on the log scale
    # *and* a mean at least a third above or a quarter below the mean of all customers
    z = z.where((ratio >= 4 / 3) | (ratio <= 3 / 4), 0.0)
    words = []
    if z["recency"] < -0.5:
        words.append("recent")
    elif z["recency"] > 0.5:
        words.append("lapsed")
    if z["frequency"] > 0.5:
        words.append("frequent")
    elif z["frequency"] < -0.5:
        words.append("one-off")
    if z["monetary"] > 0.5:
        words.append("high-spend")
    elif z["monetary"] < -0.5:
        words.append("low-spend")
    if z["tenure"] < -0.7:
        words.append("newcomers")
    elif z["tenure"] > 0.7 and "lapsed" not in words:
        words.append("long-standing")
    if z["avg_order_value"] > 0.7 and "high-spend" not in words:
        words.append("big baskets")
    return " ".join(words) or "average"


_CONTRAST = {
    "recency": ("longer silent", "more recent"),
    "frequency": ("more frequent", "less frequent"),
    "monetary": ("higher spend", "lower spend"),
    "tenure": ("older", "newer"),
    "avg_order_value": ("bigger baskets", "smaller baskets"),
}
#: The words cluster names are made of (the data values; reports show them translated).
CLUSTER_WORDS: tuple[str, ...] = i18n.fixed_names(
    __name__,
    (
        "recent",
        "lapsed",
        "frequent",
        "one-off",
        "high-spend",
        "low-spend",
        "newcomers",
        "long-standing",
        "big baskets",
        "average",
        *(word for pair in _CONTRAST.values() for word in pair),
    ),
)
_CLUSTER_WORD = re.compile(
    "|".join(re.escape(w) for w in sorted(CLUSTER_WORDS, key=len, reverse=True))
)


def cluster_label(name) -> str:
    """A cluster name (``"0: recent frequent high-spend, more recent"``) as the report shows
    it: each word translated; anything else unchanged."""
    text = str(name)
    number, sep, rest = text.partition(": ")
    if not sep or not number.isdigit():
        return text
    parts = []
    for part in rest.split(", "):
        found = _CLUSTER_WORD.findall(part)
        if " ".join(found) != part:  # not made of cluster words alone: leave it as it is
            return text
        shown = tr(found[0])
        for word in found[1:]:
            shown = tr("{words} {word}", words=shown, word=tr(word))
        parts.append(shown)
    shown = parts[0]
    for part in parts[1:]:
        shown = tr("{name}, {contrast}", name=shown, contrast=part)
    return f"{number}: {shown}"


def _disambiguate(words: pd.Series, centre: pd.DataFrame) -> pd.Series:
    """Clusters with the same description get the feature that tells them apart."""
    out = words.copy()
    for _, group in words.groupby(words):
        if len(group) < 2:
            continue
        members = centre.loc[group.index]
        diff = members - members.mean()
        for c in group.index:
            feature = diff.loc[c].abs().idxmax()
            more, less = _CONTRAST.get(feature, (f"more {feature}", f"less {feature}"))
            out[c] = f"{words[c]}, {more if diff.loc[c, feature] > 0 else less}"
    return out


def cluster_profiles(features: pd.DataFrame, clusters: pd.Series) -> pd.DataFrame:
    """Profile of each cluster: size, medians of the raw features, and a name.

    The name reads each cluster's centre on the standardised log scale: a feature
    more than half a standard deviation above or below the average customer gives
    a word (recent / lapsed, frequent / one-off, high-spend / low-spend, ...).

    Returns
    -------
    pandas.DataFrame
        Index ``cluster``; ``name``, ``customers``, ``customer_share``,
        ``revenue_share``, then the median of each feature:
        ``median_days_since_purchase``, ``median_purchase_days``, ``median_revenue``,
        ``median_tenure_days``, ``median_avg_order_value``.
    """
    z = pd.DataFrame(_standardise(features), index=features.index, columns=features.columns)
    centre = z.groupby(clusters.to_numpy()).mean()
    medians = features.groupby(clusters.to_numpy()).median()
    means = features.groupby(clusters.to_numpy()).mean()
    ratio = means / features.mean().replace(0, np.nan)
    sizes = clusters.value_counts().sort_index()
    revenue = features["monetary"].groupby(clusters.to_numpy()).sum()
    words = pd.Series({c: _describe(centre.loc[c], ratio.loc[c].fillna(1.0)) for c in centre.index})
    words = _disambiguate(words, centre)
    names = [f"{c}: {words[c]}" for c in centre.index]
    out = pd.DataFrame(
        {
            "name": names,
            "customers": sizes,
            "customer_share": sizes / sizes.sum(),
            "revenue_share": revenue / max(revenue.sum(), 1e-12),
        }
    )
    readable = {
        "recency": "median_days_since_purchase",
        "frequency": "median_purchase_days",
        "monetary": "median_revenue",
        "tenure": "median_tenure_days",
        "avg_order_value": "median_avg_order_value",
    }
    out = out.join(medians.rename(columns=readable))
    out.index.name = "cluster"
    return out


def cluster_takeaway(scores: pd.DataFrame, k: int, profiles: pd.DataFrame) -> str:
    """A sentence on the chosen k, how real the clusters are, and the most valuable one."""
    top = profiles.iloc[0]
    sil = scores.loc[k, "silhouette"]
    text = tr(
        "**k = {k}** clusters score best (silhouette {sil:.2f}: {structure}; bootstrap "
        "stability {stability:.2f}, where 1 means the same clusters on every resample of "
        "customers). The most valuable cluster, **{name}**, is {cs:.0%} of customers and "
        "{rs:.0%} of revenue.",
        k=k,
        sil=sil,
        structure=structure_words(sil),
        stability=scores.loc[k, "stability"],
        name=cluster_label(top["name"]),
        cs=top["customer_share"],
        rs=top["revenue_share"],
    )
    if sil <= 0.5:
        text = sentences(
            text,
            tr(
                "The customers do not fall into well-separated groups: the clusters are useful "
                "slices of a continuum (a summary of who is where), not natural types, so do not "
                "build separate programmes on their borders."
            ),
        )
    return sentences(
        text,
        tr(
            "Clusters describe behaviour without a preset rule, a cross-check of the RFM "
            "segments rather than a replacement."
        ),
    )


# --------------------------------------------------------------------------- migration

NEW_LABEL = "(not yet a customer)"


def migration_matrix(
    before: pd.Series, after: pd.Series, weights: pd.Series | None = None
) -> pd.DataFrame:
    """Who moved from which segment to which between two cutoffs.

    Parameters
    ----------
    before, after : pandas.Series
        Segment per customer (index ``customer_id``) at the earlier and the later
        cutoff. Customers only in ``after`` appear in the row ``(not yet a customer)``.
    weights : pandas.Series, optional
        A value per customer (e.g. revenue) to sum instead of counting customers.

    Returns
    -------
    pandas.DataFrame
        Rows = segment before, columns = segment after (categories kept in order,
        empty ones included).
    """
    cats_after = list(after.cat.categories) if hasattr(after, "cat") else sorted(after.unique())
    cats_before = list(before.cat.categories) if hasattr(before, "cat") else sorted(before.unique())
    prev = before.astype(object).reindex(after.index).fillna(NEW_LABEL)
    value = (
        pd.Series(1.0, index=after.index)
        if weights is None
        else weights.reindex(after.index).fillna(0).astype(float)
    )
    frame = pd.DataFrame({"before": prev.to_numpy(), "after": after.astype(object).to_numpy()})
    frame["value"] = value.to_numpy()
    table = frame.pivot_table(
        index="before", columns="after", values="value", aggfunc="sum", fill_value=0
    )
    rows = cats_before + ([NEW_LABEL] if (prev == NEW_LABEL).any() else [])
    table = table.reindex(index=rows, columns=cats_after, fill_value=0)
    table.index.name, table.columns.name = "segment before", "segment now"
    return table.astype(int) if weights is None else table


def migrated_share(before: pd.Series, after: pd.Series) -> float:
    """Share of the customers present at both cutoffs whose segment changed."""
    common = before.index.intersection(after.index)
    if len(common) == 0:
        return float("nan")
    changed = before.loc[common].astype(object) != after.loc[common].astype(object)
    return float(changed.mean())


def migration_baseline(
    frame: pd.DataFrame, before_cutoff, as_of, before: pd.Series, after: pd.Series
) -> pd.DataFrame:
    """Segment changes of customers who bought between the two cutoffs and of those who
    did not: the second is the ageing-only baseline.

    RFM scores are ranks within the customer base, so a customer who bought nothing still
    moves when time passes and others buy. The share of non-buyers who changed segment is
    what time alone does; moves beyond it are behaviour.

    Returns
    -------
    pandas.DataFrame
        Index ``bought since``, ``did not buy (ageing only)``, ``all existing``;
        ``customers`` and ``changed`` (share whose segment changed).
    """
    from analysis.summary import purchase_days

    common = before.index.intersection(after.index)
    start = pd.Timestamp(before_cutoff).normalize() + pd.Timedelta(days=1)
    bought = common.isin(pd.unique(purchase_days(frame, start=start, end=as_of)["customer_id"]))
    changed = before.loc[common].astype(object).to_numpy() != after.loc[common].astype(object)
    groups = {
        "bought since": bought,
        "did not buy (ageing only)": ~bought,
        "all existing": np.ones(len(common), dtype=bool),
    }
    rows = {
        name: {"customers": int(m.sum()), "changed": changed[m].mean() if m.any() else np.nan}
        for name, m in groups.items()
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    return out.astype({"customers": "int64"})


def baseline_takeaway(table: pd.DataFrame) -> str:
    """Migration read against what ageing alone does, in words."""
    still, moved = table.loc["did not buy (ageing only)"], table.loc["bought since"]
    if not still["customers"] or not moved["customers"]:
        return ""
    return tr(
        "Against what time alone does: **{still:.0%} of the {n_still:,} customers who bought "
        "nothing** in between changed segment anyway (their recency rank fell as others "
        "bought), against {moved:.0%} of the {n_moved:,} who bought. Read a move as news only "
        "beyond that ageing baseline: slipping one segment without buying is the normal drift.",
        still=still["changed"],
        n_still=int(still["customers"]),
        moved=moved["changed"],
        n_moved=int(moved["customers"]),
    )


def migration_takeaway(counts: pd.DataFrame, share: float, compare_label: str) -> str:
    """A sentence on how many customers changed segment and the biggest harmful moves."""
    moves = counts.drop(index=NEW_LABEL, errors="ignore").stack()
    moves = moves[[a != b for a, b in moves.index]].sort_values(ascending=False)
    moves = moves[moves > 0]
    good = {"Champions", "Loyal", "Potential Loyalist", "Can't Lose Them"}
    bad = {"At Risk", "Can't Lose Them", "Hibernating", "Lost", "About to Sleep"}
    worst = moves[[a in good and b in bad and a != b for a, b in moves.index]]
    new = int(counts.loc[NEW_LABEL].sum()) if NEW_LABEL in counts.index else 0
    text = tr(
        "Since {when}, **{share:.0%} of existing customers changed segment** and {new:,} new "
        "customers arrived.",
        when=compare_label,
        share=share,
        new=new,
    )
    if len(moves):
        (a, b), n = moves.index[0], moves.iloc[0]
        text = sentences(
            text,
            tr(
                "The largest flow is {a} → {b} ({n:,.0f} customers).",
                a=display_name(a),
                b=display_name(b),
                n=n,
            ),
        )
    if len(worst) and worst.iloc[0] > 0:
        (a, b), n = worst.index[0], worst.iloc[0]
        text = sentences(
            text,
            tr(
                "Watch **{a} → {b}: {n:,.0f} customers** who were valuable a period ago and are "
                "now slipping; they are the cheapest to win back now.",
                a=display_name(a),
                b=display_name(b),
                n=n,
            ),
        )
    return text


# --------------------------------------------------------------------------- actions

DEFAULT_TREATMENTS: dict[str, str] = {
    "Champions": "reward: VIP perks, early access, ask for reviews and referrals",
    "Loyal": "loyalty programme; upsell higher-value products",
    "Potential Loyalist": "nurture: membership offer, personalised recommendations",
    "New": "onboarding series; make the second purchase easy",
    "Promising": "build the habit: welcome-back offer within the purchase cycle",
    "Need Attention": "limited-time personalised offer; reactivate interest",
    "About to Sleep": "reminder with popular products; small incentive",
    "Can't Lose Them": "personal win-back: call or premium offer, ask what went wrong",
    "At Risk": "win-back campaign with a strong offer",
    "Hibernating": "low-cost reactivation; seasonal offers only",
    "Lost": "no spend beyond a last low-cost win-back; suppress from paid media",
    # the cn8 preset (Chinese CRM practice)
    "重要价值客户": "VIP 服务与专属权益，保持现状",
    "重要发展客户": "提高购买频次：会员计划、复购优惠",
    "重要保持客户": "主动联系唤回：专属优惠，了解流失原因",
    "重要挽留客户": "重点挽留：电话回访或高价值优惠",
    "一般价值客户": "提高客单价：搭配推荐、满减",
    "一般发展客户": "培养习惯：首单后的复购引导",
    "一般保持客户": "低成本唤回：节日与促销提醒",
    "一般挽留客户": "低成本触达，不再投放付费渠道",
}


NO_TREATMENT = "(no treatment set)"
#: The default treatments of the English segments (reports show them translated).
TREATMENTS: tuple[str, ...] = i18n.fixed_names(
    __name__, (*(DEFAULT_TREATMENTS[name] for name in SEGMENT_NAMES), NO_TREATMENT)
)


def actions_table(table: pd.DataFrame, treatments: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Size, revenue share and the recommended treatment per segment.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`segment_table` output (index ``segment``; ``customers``,
        ``customer_share``, ``revenue_share``, ``revenue_per_customer``,
        ``median_days_since_purchase``).
    treatments : mapping, optional
        Segment -> treatment; given entries override :data:`DEFAULT_TREATMENTS`.
        A segment with no treatment reads "(no treatment set)".

    Returns
    -------
    pandas.DataFrame
        One row per non-empty segment, largest revenue share first.
    """
    _need(table, ("customers", "customer_share", "revenue_share", "revenue_per_customer"), "table")
    merged = {**DEFAULT_TREATMENTS, **dict(treatments or {})}
    out = table.loc[table["customers"] > 0].copy()
    out = out[
        ["customers", "customer_share", "revenue_share", "revenue_per_customer"]
        + (["median_days_since_purchase"] if "median_days_since_purchase" in out else [])
    ]
    out["treatment"] = [merged.get(str(s), NO_TREATMENT) for s in out.index]
    return out.sort_values("revenue_share", ascending=False)


def segments_export(
    rfm: pd.DataFrame, tiers: pd.DataFrame, stages: pd.DataFrame, clusters: pd.Series | None
) -> pd.DataFrame:
    """One row per customer for a CRM: customer_id, segment, tier, stage, cluster.

    ``cluster`` holds the cluster name (empty when clustering was not possible).
    Also carries ``r_score``, ``f_score``, ``m_score``.
    """
    out = pd.DataFrame(
        {
            "segment": rfm["segment"].astype(str),
            "tier": tiers["tier"].reindex(rfm.index).astype(str),
            "stage": stages["stage"].reindex(rfm.index).astype(str),
            "cluster": (clusters.reindex(rfm.index).astype(str) if clusters is not None else ""),
            "r_score": rfm["r_score"],
            "f_score": rfm["f_score"],
            "m_score": rfm["m_score"],
        },
        index=rfm.index,
    )
    out.index.name = "customer_id"
    return out.reset_index()


def counts_add_up(n_customers: int, *counts: Mapping) -> bool:
    """Whether every count mapping sums to the number of customers."""
    return all(sum(c.values()) == n_customers for c in counts)


def cluster_analysis(
    summary: pd.DataFrame,
    k_values=range(3, 9),
    seed: int = 42,
    sample_size: int = 3000,
    min_stability: float = 0.8,
) -> dict:
    """Choose k, fit k-means and profile the clusters, or say why it cannot be done.

    Parameters
    ----------
    summary : pandas.DataFrame
        Customer summary in days (see :func:`cluster_features`).
    k_values : iterable of int
        The k to try. Other arguments: see :func:`choose_k` and :func:`best_k`.

    Returns
    -------
    dict
        ``columns`` (features used), ``scores`` (:func:`choose_k`), ``k``,
        ``silhouette``, ``clusters`` (Series of labels), ``profiles``
        (:func:`cluster_profiles`), ``names`` (cluster name per customer) and ``note``
        (None when clustering worked, else the reason in words; then the other
        entries are None).
    """
    features = cluster_features(summary)
    columns = cluster_columns(features)
    empty = dict.fromkeys(("scores", "k", "silhouette", "clusters", "profiles", "names"))
    k_values = [k for k in k_values if k >= 2]
    if len(columns) < 2:
        return {
            **empty,
            "columns": columns,
            "note": tr("fewer than two features vary between customers"),
        }
    if not k_values or len(summary) < 10 * max(k_values):
        return {
            **empty,
            "columns": columns,
            "note": tr(
                "{n} customers are too few to cluster into up to {k} groups (need 10 per cluster)",
                n=len(summary),
                k=max(k_values, default=0),
            ),
        }
    scores = choose_k(features[columns], k_values, seed=seed, sample_size=sample_size)
    k = best_k(scores, min_stability)
    clusters = fit_clusters(features[columns], k, seed)
    profiles = cluster_profiles(features, clusters)
    return {
        "columns": columns,
        "scores": scores,
        "k": k,
        "silhouette": float(scores.loc[k, "silhouette"]),
        "clusters": clusters,
        "profiles": profiles,
        "names": profiles["name"].reindex(clusters.to_numpy()).set_axis(clusters.index),
        "note": None,
    }


def previous_segments(
    frame: pd.DataFrame,
    as_of,
    compare_days: int,
    segment_map: Mapping[str, str] | str | None = None,
) -> tuple[pd.Timestamp, pd.DataFrame]:
    """The RFM segmentation at the earlier cutoff ``as_of - compare_days``.

    Only transactions up to the earlier cutoff are used, and scores are relative to
    the customers of that time, exactly as the report of that period showed them.

    Returns
    -------
    (pandas.Timestamp, pandas.DataFrame)
        The earlier cutoff and :func:`rfm_segments` at it (empty when nobody had
        bought yet).
    """
    from analysis.summary import customer_summary

    if compare_days <= 0:
        raise ValueError(f"compare_days must be positive, got {compare_days}")
    before = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=int(compare_days))
    summary = customer_summary(frame, before, time_unit="D")
    return before, rfm_segments(summary, segment_map)


# --------------------------------------------------------------------------- display

#: Every fixed name a report shows translated through :func:`display_name`.
_DISPLAY_NAMES = frozenset(
    i18n.fixed_names(
        __name__, (*SEGMENT_NAMES, *TIERS, *STAGES, NEW_LABEL, "potential", *TREATMENTS)
    )
)
i18n.fixed_names(__name__, (*TIER_BASES.values(), *TIER_WHAT.values()))

_PERCENT = ("share",)
_MONEY = ("revenue", "monetary", "order_value", "monthly_spend", "clv")
_DAYS = ("days", "recency", "tenure")


def _show(value) -> str:
    """A text cell as the report shows it (fixed names and cluster names translated)."""
    return cluster_label(display_name(value))


def _header(label) -> str:
    """A column or index header in the report's language: fixed names through
    :func:`display_name`, other English headers (ASCII) through ``tr``, the rest as is."""
    text = str(label).replace("_", " ")
    if str(label) in _DISPLAY_NAMES:
        return display_name(label)
    return tr(text) if text.isascii() and text.strip() and not text.isdigit() else text


def style_table(table: pd.DataFrame, currency: str = "", all_money: bool = False):
    """A table styled for a business reader: readable headers, %, money, days.

    Column names lose their underscores and are translated with the segment, tier and
    stage names (:func:`display_name`); ``*share*`` columns show as percentages,
    revenue / monetary / order value as money (blank when zero in an all-money
    matrix), days and counts as whole numbers, text left-aligned.

    Returns
    -------
    pandas.io.formats.style.Styler
    """

    def money(v):
        if pd.isna(v):
            return "–"
        return "" if all_money and v == 0 else f"{currency}{v:,.0f}"

    formats = {}
    text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    for col in table.columns:
        name = str(col)
        if all_money:
            formats[col] = money
        elif any(k in name for k in _PERCENT):
            formats[col] = "{:.1%}"
        elif any(k in name for k in _MONEY):
            formats[col] = money
        elif any(k in name for k in _DAYS) or name == "customers":
            formats[col] = "{:,.0f}"
        elif pd.api.types.is_float_dtype(table[col]):
            formats[col] = "{:,.1f}"
        elif col in text:
            formats[col] = _show
    named = table.rename_axis(
        index=[None if n is None else _header(n) for n in table.index.names],
        columns=None if table.columns.name is None else _header(table.columns.name),
    )
    styler = named.style.format(formats, na_rep="–")
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
    labels = [_header(c) for c in table.columns]
    styler = styler.relabel_index(labels, axis="columns")
    if table.index.nlevels == 1 and any(str(i) in _DISPLAY_NAMES for i in table.index):
        styler = styler.relabel_index([_show(i) for i in table.index], axis="index")
    return styler


def findings(
    segments: pd.DataFrame,
    tiers: pd.DataFrame,
    gini_value: float,
    stages: pd.DataFrame,
    migrated: float,
    currency: str = "",
) -> str:
    """The report's findings as a short markdown list built from the section tables.

    Parameters
    ----------
    segments, tiers, stages : pandas.DataFrame
        :func:`segment_table`, :func:`tier_table`, :func:`stage_table`.
    migrated : float
        :func:`migrated_share` (NaN when there was no earlier cutoff).
    """
    best = segments["revenue_share"].idxmax()
    high = tiers.loc["high"]
    at_risk = stages.loc["at risk"]
    lapsing = segments.loc[[s for s in ("At Risk", "Can't Lose Them") if s in segments.index]]
    items = [
        tr(
            "**{best}** ({cs:.0%} of customers) bring {rs:.0%} of revenue: keep them with "
            "service and recognition rather than discounts.",
            best=display_name(best),
            cs=segments.loc[best, "customer_share"],
            rs=segments.loc[best, "revenue_share"],
        ),
        tr(
            "Revenue is concentrated (Gini {gini:.2f}): {cs:.0%} of customers make {rs:.0%} of it.",
            gini=gini_value,
            cs=high["customer_share"],
            rs=high["revenue_share"],
        ),
        tr(
            "{n:,.0f} customers are past their usual purchase gap but not lapsed ({rs:.0%} of "
            "revenue to date): the timely win-back list.",
            n=at_risk["customers"],
            rs=at_risk["revenue_share"],
        ),
    ]
    if len(lapsing) and lapsing["customers"].sum() > 0:
        items.append(
            tr(
                "{n:,.0f} formerly frequent buyers are slipping ({names}), worth {worth} to date.",
                n=lapsing["customers"].sum(),
                names=_joined(lapsing.index),
                worth=amount(lapsing["revenue"].sum(), currency),
            )
        )
    if not np.isnan(migrated):
        items.append(
            tr(
                "{share:.0%} of existing customers changed RFM segment since the last period.",
                share=migrated,
            )
        )
    return "\n".join(f"- {item}" for item in items)
