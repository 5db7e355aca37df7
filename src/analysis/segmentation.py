"""Segment customers by value, behaviour and life stage.

Every function starts from the one shared per-customer summary,
:func:`analysis.summary.customer_summary` (any ``time_unit``; ``"D"`` is natural).

Public API
----------
rfm_segments(summary, segment_map=None, n_scores=5)
    RFM scores 1-5 and the named RFM segment of each customer (index ``customer_id``;
    columns ``recency_days``, ``purchase_days``, ``revenue``, ``r_score``, ``f_score``,
    ``m_score``, ``rfm``, ``segment``). Stable signature: other notebooks (churn) use it.
score_quantiles, parse_segment_map, segment_grid
    The scoring and the score map behind it.

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

_RULE = re.compile(r"^([RFM])(\d)(?:-(\d))?$")


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
    summary: pd.DataFrame, segment_map: Mapping[str, str] | None = None, n_scores: int = 5
) -> pd.DataFrame:
    """RFM scores and named segment of every customer.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`analysis.summary.customer_summary` output (index ``customer_id``)
        with ``recency``, ``T``, ``purchase_days`` and ``revenue``. Any time unit.
    segment_map : mapping, optional
        Segment name -> rule such as ``"R5 F4-5"`` (see :data:`DEFAULT_SEGMENT_MAP`);
        rules are tried in order and must together cover every score combination.
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
    segment_map = dict(segment_map or DEFAULT_SEGMENT_MAP)
    grid = segment_grid(segment_map, n_scores)
    out = pd.DataFrame(index=summary.index)
    out["recency_days"] = summary["T"] - summary["recency"]
    out["purchase_days"] = summary["purchase_days"].astype("int64")
    out["revenue"] = summary["revenue"].astype(float)
    out["r_score"] = score_quantiles(out["recency_days"], n_scores, higher_is_better=False)
    repeat = out["purchase_days"] > 1
    f_score = pd.Series(1, index=out.index, dtype="int64")
    if repeat.any():
        f_score[repeat] = 1 + score_quantiles(out.loc[repeat, "purchase_days"], n_scores - 1)
    out["f_score"] = f_score
    out["m_score"] = score_quantiles(out["revenue"], n_scores)
    out["rfm"] = (
        out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    )
    names = grid[out["r_score"] - 1, out["f_score"] - 1, out["m_score"] - 1]
    out["segment"] = pd.Categorical(names, categories=list(segment_map))
    return out
