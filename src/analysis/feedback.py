"""How satisfied customers are, why, whether it predicts who stays, and whom to call back.

Input is the canonical ``feedback`` table (:mod:`analysis.data`): ``response_date`` and
``score`` and/or ``comment``, optionally ``response_id``, ``customer_id``, ``order_id``,
``channel``, ``touchpoint``. Purchases (order rows with ``delivered_at``,
``estimated_delivery_at``, ``freight`` where the data have them), customers and tickets
add drivers and retention.

Scores with honest uncertainty
    **NPS** = % promoters - % detractors on the scale rescaled to 0-10 (promoters 9-10,
    detractors 0-6; on a 5-point scale that is 5 promoter, 4 passive, 1-3 detractor).
    SE = 100 sqrt((p + d - (p - d)^2) / n); the 95 % interval is the adjusted Wald
    interval (3/4 added to each count and 3 to n, Rocks 2016), which keeps its coverage
    for small n and matches the plain one for large n. **CSAT** is the top-two-box share
    with a Wilson interval. Groups under ``min_n`` answers are shown but flagged, not ranked.
Drivers
    Relative importance by the Shapley (LMG) decomposition of the R^2 of a linear model of
    the score, over *groups* of columns (a category's dummies are one driver). pingouin's
    ``linear_regression(relimp=True)`` gives the same numbers for single columns but cannot
    group dummies; the decomposition is computed from one Gram matrix, so 2^k subsets cost
    nothing at 1M rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from analysis import i18n
from analysis.errors import NotApplicable
from analysis.intervals import wilson
from analysis.text import listed, md_text, month_label, pct, sentences, shown, tr, tr_name

GROUPS = i18n.fixed_names(__name__, ("promoter", "passive", "detractor"))
#: Group columns tried for breakdowns, in this order, when the (enriched) feedback has them.
BREAKDOWNS = i18n.fixed_names(
    __name__, ("region", "channel", "category", "touchpoint", "segment", "tier", "stage")
)
#: Breakdowns whose values are names of the segmentation module (translated when shown).
NAMED_BREAKDOWNS = ("segment", "tier", "stage")
#: What the follow-up list and the value table rank customers by.
VALUE_BASES = i18n.fixed_names(__name__, ("CLV", "revenue"))
#: Headers whose bare word means something else elsewhere (a value tier's "low", the
#: churn report's "label"): shown through their own catalogue entries.
HEADER_CONTEXTS = {"low": "interval: low", "high": "interval: high", "label": "human label"}
i18n.fixed_names(__name__, HEADER_CONTEXTS.values())


def group_label(by: str, value):
    """A breakdown value as the reader sees it: promoter / passive / detractor and the
    segmentation's segment, tier and stage names translated, data values kept."""
    if by == "group":
        return tr_name(value, GROUPS)
    if by in NAMED_BREAKDOWNS:
        from analysis.recommend import segment_label

        return segment_label(value)
    return value


def for_display(table: pd.DataFrame, formats=None):
    """``(table, formats)`` ready for ``report.style_table``: promoter / passive /
    detractor row labels translated, the :data:`HEADER_CONTEXTS` headers under their own
    names (:func:`analysis.text.tr_as`)."""
    return shown(table.rename(index=lambda g: group_label("group", g)), HEADER_CONTEXTS, formats)


# --------------------------------------------------------------------------- scale


@dataclass(frozen=True)
class Scale:
    """The answer scale: its kind and bounds (from the feedback table's ``info``)."""

    kind: str
    low: float
    high: float

    def rescaled(self, scores: pd.Series) -> pd.Series:
        """Scores on 0-10."""
        return 10.0 * (scores.astype(float) - self.low) / (self.high - self.low)

    def raw(self, value: float) -> float:
        """A 0-10 threshold in the scale's own units (9 on 0-10 is 4.6 on 1-5)."""
        return self.low + value / 10.0 * (self.high - self.low)

    @property
    def points(self) -> int:
        return int(round(self.high - self.low)) + 1


def scale_of(info: dict | None, scores: pd.Series | None = None) -> Scale:
    """The scale from the table's ``info`` (``scale``, ``scale_min``, ``scale_max``) or values."""
    info = info or {}
    low, high = info.get("scale_min"), info.get("scale_max")
    if (low is None or high is None) and scores is not None and scores.notna().any():
        low, high = float(scores.min()), float(scores.max())
        low, high = (0.0, 10.0) if high > 7 else (min(low, 1.0), max(high, 5.0))
    if low is None or high is None or high <= low:
        raise NotApplicable(tr("the feedback has no scores, so there is no scale to summarise"))
    kind = info.get("scale") or ("nps" if high - low >= 9 else "stars")
    return Scale(str(kind), float(low), float(high))


def nps_groups(scores: pd.Series, scale: Scale) -> pd.Series:
    """promoter / passive / detractor for each score (NaN stays NaN)."""
    r = scale.rescaled(scores).round(6)
    group = np.select([r >= 9, r > 6], ["promoter", "passive"], "detractor")
    return pd.Series(pd.Categorical(group, categories=GROUPS), index=scores.index).where(
        scores.notna()
    )


def top_box(scores: pd.Series, scale: Scale) -> pd.Series:
    """Top-two-box flag (CSAT): the two highest answers of the scale; NaN stays NaN."""
    return (scores >= scale.high - 1).astype(float).where(scores.notna())


def score_labels(scores: pd.Series, scale: Scale) -> pd.Series:
    """Sentiment labels the scores give comments: 1 positive (top two box), 0 negative, NaN.

    Negative is a detractor on an 11-point scale, the two lowest answers on shorter scales;
    answers in between label nothing.
    """
    negative = nps_groups(scores, scale) == "detractor"
    if scale.points < 11:
        negative = scores <= scale.low + 1
    label = np.where(top_box(scores, scale) == 1, 1.0, np.where(negative, 0.0, np.nan))
    return pd.Series(label, index=scores.index).where(scores.notna())


# --------------------------------------------------------------------------- estimates


def nps_interval(promoters: int, detractors: int, n: int, level: float = 0.95) -> dict:
    """NPS with its standard error and adjusted-Wald interval (all in NPS points, -100..100).

    >>> r = nps_interval(50, 20, 100)
    >>> r["nps"], round(r["se"], 2)
    (30.0, 8.06)
    """
    if n <= 0:
        return {"nps": np.nan, "se": np.nan, "low": np.nan, "high": np.nan}
    p, d = promoters / n, detractors / n
    se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    z = stats.norm.ppf(0.5 + level / 2)
    pa, da, na = promoters + 0.75, detractors + 0.75, n + 3
    centre = (pa - da) / na
    se_adj = math.sqrt(max((pa / na + da / na - centre**2) / na, 0.0))
    low, high = max(centre - z * se_adj, -1.0), min(centre + z * se_adj, 1.0)
    return {"nps": 100 * (p - d), "se": se, "low": 100 * low, "high": 100 * high}


def csat_interval(hits: int, n: int, level: float = 0.95) -> dict:
    """Top-two-box share with its Wilson interval."""
    if n <= 0:
        return {"csat": np.nan, "low": np.nan, "high": np.nan}
    low, high = wilson(hits, n, level)
    return {"csat": hits / n, "low": low, "high": high}


def summarise(scores: pd.Series, scale: Scale, level: float = 0.95) -> dict:
    """Responses, mean score, NPS (SE, interval), CSAT (interval) of a set of scores."""
    scores = scores.dropna().astype(float)
    n = int(len(scores))
    groups = nps_groups(scores, scale).value_counts()
    nps = nps_interval(int(groups.get("promoter", 0)), int(groups.get("detractor", 0)), n, level)
    csat = csat_interval(int(top_box(scores, scale).sum()), n, level)
    return {
        "responses": n, "mean_score": float(scores.mean()) if n else np.nan,
        "nps": nps["nps"], "nps_se": nps["se"], "nps_low": nps["low"], "nps_high": nps["high"],
        "csat": csat["csat"], "csat_low": csat["low"], "csat_high": csat["high"],
        "promoters": int(groups.get("promoter", 0)), "detractors": int(groups.get("detractor", 0)),
    }  # fmt: skip


def group_table(
    frame: pd.DataFrame, by: str, scale: Scale, min_n: int = 30, level: float = 0.95
) -> pd.DataFrame:
    """The summary of :func:`summarise` per value of ``by``.

    Groups with fewer than ``min_n`` scored answers keep their numbers but are flagged
    ``small`` and get no rank; the others are ranked by NPS (1 = best).
    """
    scored = frame.dropna(subset=["score"])
    rows = {
        key: summarise(g["score"], scale, level) for key, g in scored.groupby(by, observed=True)
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    if out.empty:
        return out
    out.index.name = by
    out["small"] = out["responses"] < min_n
    out["rank"] = out["nps"].where(~out["small"]).rank(ascending=False, method="min")
    return out.sort_values(["small", "nps"], ascending=[True, False])


def _z_p(diff: float, se: float) -> float:
    return float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else np.nan


def period_table(frame: pd.DataFrame, scale: Scale, freq: str = "M", min_n: int = 30):
    """Scores per calendar period with the change from the previous period and its p-value.

    NPS changes are tested with the two periods' standard errors (z test), CSAT changes
    with the two-proportion z test; periods under ``min_n`` answers are flagged ``small``.
    """
    scored = frame.dropna(subset=["score"])
    period = scored["response_date"].dt.to_period(freq).dt.start_time.rename("period")
    out = group_table(scored.assign(period=period), "period", scale, min_n).sort_index()
    out = out.drop(columns="rank")
    prev = out.shift(1)
    out["nps_change"] = out["nps"] - prev["nps"]
    se = np.sqrt(out["nps_se"] ** 2 + prev["nps_se"] ** 2)
    out["nps_p"] = [_z_p(d, s) for d, s in zip(out["nps_change"], se, strict=True)]
    out["csat_change"] = out["csat"] - prev["csat"]
    pooled = (out["csat"] * out["responses"] + prev["csat"] * prev["responses"]) / (
        out["responses"] + prev["responses"]
    )
    se_c = np.sqrt(pooled * (1 - pooled) * (1 / out["responses"] + 1 / prev["responses"]))
    out["csat_p"] = [_z_p(d, s) for d, s in zip(out["csat_change"], se_c, strict=True)]
    return out


def breakdowns(frame: pd.DataFrame, scale: Scale, min_n: int = 30) -> dict[str, pd.DataFrame]:
    """:func:`group_table` for every column of :data:`BREAKDOWNS` the frame holds (2+ values)."""
    out = {}
    for col in BREAKDOWNS:
        if col in frame.columns and frame[col].nunique() > 1:
            out[col] = group_table(frame, col, scale, min_n)
    return out


# --------------------------------------------------------------------------- enrichment


def _order_table(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per order: value, freight share, delay, main category and region."""
    tx = transactions
    agg = {"order_value": ("amount", "sum")}
    for col in ("freight",):
        if col in tx.columns:
            agg[col] = (col, "sum")
    for col in ("delivered_at", "estimated_delivery_at", "region", "channel", "order_date"):
        if col in tx.columns:
            agg[col] = (col, "first")
    orders = tx.groupby("order_id", observed=True).agg(**agg)
    if "category" in tx.columns:
        main = tx.sort_values("amount", ascending=False).drop_duplicates("order_id")
        orders["category"] = main.set_index("order_id")["category"]
    if "freight" in orders.columns:
        total = orders["order_value"] + orders["freight"]
        orders["freight_share"] = (orders["freight"] / total).where(total > 0)
    if {"delivered_at", "estimated_delivery_at"} <= set(orders.columns):
        # whole days: delivered on the estimated day (at any hour) is on time
        delivered, due = orders["delivered_at"].dt.normalize(), orders["estimated_delivery_at"]
        delay = (delivered - due.dt.normalize()).dt.days
        orders["delay_days"] = delay.astype(float)
        orders["late"] = (orders["delay_days"] > 0).astype(float).where(delay.notna())
    return orders.drop(columns=["freight"], errors="ignore")


def enrich(
    feedback: pd.DataFrame,
    transactions: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    tickets: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Feedback with the attributes of its order, customer and service history.

    Adds, where the tables allow: ``order_value``, ``freight_share``, ``delay_days``
    (delivered minus estimated date), ``late``, ``category``, ``region``, ``channel``
    (order's, else the customer's acquisition channel) and ``tickets`` (the customer's
    tickets opened before the answer). Feedback columns already present are kept.
    """
    out = feedback.copy()
    if transactions is not None and "order_id" in out and "order_id" in transactions:
        orders = _order_table(transactions).drop(columns=["order_date"], errors="ignore")
        new = [c for c in orders.columns if c not in out.columns]
        out = out.join(orders[new], on="order_id")
    if customers is not None and "customer_id" in out:
        attrs = customers.drop_duplicates("customer_id").set_index("customer_id")
        new = [c for c in ("region", "channel", "city") if c in attrs and c not in out]
        out = out.join(attrs[new], on="customer_id")
    if tickets is not None and "customer_id" in out and "opened_at" in tickets:
        out["tickets"] = _tickets_before(out, tickets)
    return out


def _tickets_before(feedback: pd.DataFrame, tickets: pd.DataFrame) -> pd.Series:
    """Tickets of each answer's customer opened before the answer."""
    t = tickets[["customer_id", "opened_at"]].dropna().sort_values("opened_at")
    per = t.groupby("customer_id")["opened_at"].apply(lambda s: s.to_numpy())
    counts = [
        int(np.searchsorted(per[c], d, side="left")) if c in per.index and pd.notna(d) else 0
        for c, d in zip(feedback["customer_id"], feedback["response_date"].to_numpy(), strict=True)
    ]
    return pd.Series(counts, index=feedback.index, dtype=float)


# --------------------------------------------------------------------------- drivers

#: driver name -> (columns, kind): numeric columns, or a categorical column
DRIVERS = {
    "delivery delay": (("late", "days_late"), "numeric"),
    "order value": (("log_order_value",), "numeric"),
    "freight share": (("freight_share",), "numeric"),
    "category": (("category",), "categorical"),
    "region": (("region",), "categorical"),
    "channel": (("channel",), "categorical"),
    "service tickets": (("tickets",), "numeric"),
}
#: The driver names, as shown (translated) in the drivers figure and takeaways.
DRIVER_NAMES = i18n.fixed_names(__name__, DRIVERS)


def driver_design(
    frame: pd.DataFrame, min_level: int = 30, max_levels: int = 20
) -> tuple[pd.DataFrame, dict]:
    """Model matrix of the drivers the data hold, and driver -> its columns.

    Categories with fewer than ``min_level`` answers (or beyond the ``max_levels``
    largest) are pooled as "other"; rows missing a numeric driver are dropped.
    """
    data = frame.copy()
    if "delay_days" in data:
        data["days_late"] = data["delay_days"].clip(lower=0)
    if "order_value" in data:
        data["log_order_value"] = np.log1p(data["order_value"].clip(lower=0))
    columns, groups = {}, {}
    for name, (cols, kind) in DRIVERS.items():
        if not all(c in data.columns for c in cols):
            continue
        if kind == "numeric":
            block = data[list(cols)].astype(float)
            if block.notna().mean().min() < 0.5 or block.std().max() == 0:
                continue
        else:
            values = data[cols[0]].astype("string").fillna("unknown")
            keep = values.value_counts()
            keep = keep[keep >= min_level].index[:max_levels]
            values = values.where(values.isin(keep), "other")
            if values.nunique() < 2:
                continue
            block = pd.get_dummies(values, prefix=name, drop_first=True, dtype=float)
        groups[name] = list(block.columns)
        columns.update({c: block[c] for c in block.columns})
    X = pd.DataFrame(columns, index=data.index)
    return X, groups


def _r2_from_gram(gram: np.ndarray, xy: np.ndarray, yy: float, idx: list[int]) -> float:
    if not idx:
        return 0.0
    sub = gram[np.ix_(idx, idx)]
    beta = np.linalg.lstsq(sub, xy[idx], rcond=None)[0]
    return float(beta @ xy[idx] / yy)


def shapley_r2(X: pd.DataFrame, y: pd.Series, groups: dict) -> pd.Series:
    """Shapley (LMG) share of R^2 of each group of columns in a linear model of ``y``.

    Exact: every subset of groups is fitted from the centred Gram matrix. The values
    add up to the full model's R^2.
    """
    data = pd.concat([X, y.rename("__y__")], axis=1).dropna()
    Z = data.to_numpy(dtype=float)
    Z = Z - Z.mean(axis=0)
    gram_all = Z.T @ Z
    gram, xy, yy = gram_all[:-1, :-1], gram_all[:-1, -1], gram_all[-1, -1]
    pos = {c: i for i, c in enumerate(X.columns)}
    names = list(groups)
    k = len(names)
    cols = {g: [pos[c] for c in groups[g]] for g in names}
    r2 = {}
    for size in range(k + 1):
        for subset in combinations(names, size):
            r2[frozenset(subset)] = _r2_from_gram(
                gram, xy, yy, [i for g in subset for i in cols[g]]
            )
    out = {}
    for g in names:
        others = [n for n in names if n != g]
        total = 0.0
        for size in range(k):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for subset in combinations(others, size):
                s = frozenset(subset)
                total += weight * (r2[s | {g}] - r2[s])
        out[g] = total
    return pd.Series(out, name="r2").sort_values(ascending=False)


def _effect(frame: pd.DataFrame, name: str) -> str:
    """One phrase on how a driver moves the score."""
    if name == "delivery delay":
        by = frame.groupby(frame["late"].map({1.0: "late", 0.0: "on time"}))["score"].mean()
        if {"late", "on time"} <= set(by.index):
            return tr("late {a:.2f} vs on time {b:.2f}", a=by["late"], b=by["on time"])
    col = DRIVERS[name][0][0]
    if DRIVERS[name][1] == "categorical":
        by = frame.groupby(col, observed=True)["score"].agg(["mean", "size"])
        by = by[by["size"] >= 30]
        if len(by) >= 2:
            lo, hi = by["mean"].idxmin(), by["mean"].idxmax()
            return tr("{hi} {a:.2f} … {lo} {b:.2f}", hi=hi, a=by.loc[hi, "mean"], lo=lo,
                      b=by.loc[lo, "mean"])  # fmt: skip
        return ""
    source = "order_value" if name == "order value" else col
    rho = frame[[source, "score"]].corr(method="spearman").iloc[0, 1]
    return tr("rank correlation {r:+.2f}", r=rho)


def drivers(frame: pd.DataFrame, min_level: int = 30) -> pd.DataFrame:
    """Relative importance of each driver of the score.

    Returns
    -------
    pandas.DataFrame
        Index ``driver``; ``r2`` (its Shapley share of R^2), ``share`` (of the model's
        R^2), ``effect`` (how it moves the score), sorted by importance. Empty when the
        data hold no driver.
    """
    if "score" not in frame or frame["score"].notna().sum() < 2 * min_level:
        return pd.DataFrame(columns=["r2", "share", "effect"])
    scored = frame.dropna(subset=["score"])
    X, groups = driver_design(scored, min_level)
    if not groups:
        return pd.DataFrame(columns=["r2", "share", "effect"])
    imp = shapley_r2(X, scored["score"].astype(float), groups)
    out = imp.to_frame()
    out["share"] = out["r2"] / out["r2"].sum() if out["r2"].sum() > 0 else np.nan
    design = scored.assign(days_late=scored.get("delay_days", np.nan))
    out["effect"] = [_effect(design, name) for name in out.index]
    out.index.name = "driver"
    return out


# --------------------------------------------------------------------------- retention


def repurchase_table(
    scored: pd.DataFrame, transactions: pd.DataFrame, as_of, window_days: int = 180
) -> pd.DataFrame:
    """Repurchase within ``window_days`` after the answer, by promoter / passive / detractor.

    Only answers at least ``window_days`` before ``as_of`` count (their outcome is known);
    one answer per customer (the first). A repurchase is an order dated after the
    answer's own order (or after the answer when it names no order). Wilson intervals.
    """
    as_of = pd.Timestamp(as_of)
    window = pd.Timedelta(days=window_days)
    answers = scored.dropna(subset=["customer_id", "group"])
    answers = answers[answers["response_date"] + window <= as_of]
    answers = answers.sort_values("response_date").drop_duplicates("customer_id")
    tx = transactions[transactions["order_date"] <= as_of]
    orders = tx.groupby(["customer_id", "order_id"] if "order_id" in tx else ["customer_id"],
                        observed=True)["order_date"].min().reset_index()  # fmt: skip
    merged = answers[["customer_id", "response_date", "group"]].merge(orders, on="customer_id")
    own = answers.set_index("customer_id").get("order_id")
    after = merged["order_date"] > merged["response_date"]
    if own is not None and "order_id" in merged:
        after &= merged["order_id"].to_numpy() != merged["customer_id"].map(own).to_numpy()
    after &= merged["order_date"] <= merged["response_date"] + window
    back = set(merged.loc[after, "customer_id"])
    rows = []
    for group in GROUPS:
        members = answers.loc[answers["group"] == group, "customer_id"]
        k, n = int(members.isin(back).sum()), int(len(members))
        ci = csat_interval(k, n)
        rows.append({"group": group, "customers": n, "repurchased": k, "rate": ci["csat"],
                     "low": ci["low"], "high": ci["high"]})  # fmt: skip
    return pd.DataFrame(rows).set_index("group")


def value_by_group(scored: pd.DataFrame, value: pd.Series, level: float = 0.95) -> pd.DataFrame:
    """Mean customer value (CLV or revenue) by promoter / passive / detractor with a t interval."""
    last = scored.dropna(subset=["customer_id", "group"]).sort_values("response_date")
    last = last.drop_duplicates("customer_id", keep="last").set_index("customer_id")["group"]
    data = pd.DataFrame({"group": last, "value": value.reindex(last.index)}).dropna()
    rows = []
    for group in GROUPS:
        v = data.loc[data["group"] == group, "value"]
        n = len(v)
        half = stats.t.ppf(0.5 + level / 2, n - 1) * v.std() / math.sqrt(n) if n > 1 else np.nan
        rows.append({"group": group, "customers": n, "mean": v.mean(), "low": v.mean() - half,
                     "high": v.mean() + half})  # fmt: skip
    return pd.DataFrame(rows).set_index("group")


def feedback_features(scored: pd.DataFrame, cutoff, scale: Scale) -> pd.DataFrame:
    """Per customer, answers up to ``cutoff``: last score (0-10), detractor, negative comment."""
    past = scored[(scored["response_date"] <= cutoff) & scored["customer_id"].notna()]
    past = past.sort_values("response_date")
    last = past.groupby("customer_id").tail(1).set_index("customer_id")
    out = pd.DataFrame(index=last.index)
    out["fb_last_score"] = scale.rescaled(last["score"]) if "score" in last else np.nan
    out["fb_detractor"] = (last.get("group") == "detractor").astype(float)
    out["fb_negative_comment"] = (last.get("sentiment", pd.Series(dtype=float)) < -0.05).astype(
        float
    )
    out["fb_answers"] = past.groupby("customer_id").size()
    return out


def churn_lift(
    scored: pd.DataFrame, transactions: pd.DataFrame, as_of, scale: Scale, seed: int = 0,
    window_days: int | None = None, min_class: int = 30,
) -> dict:  # fmt: skip
    """Does feedback improve the churn warning? Out-of-time ROC-AUC with and without it.

    Uses the churn module's design (train two windows before ``as_of``, test one window
    before). Returns ``status`` ("measured" or "null"), ``reason``, and when measured
    ``auc_without``, ``auc_with``, ``lift`` and ``test_customers``.
    """
    from sklearn.metrics import roc_auc_score

    from analysis import churn, cycle

    repeaters = int((transactions.groupby("customer_id")["order_date"].nunique() > 1).sum())
    try:
        window = churn.derive_window(cycle.cycle_at(transactions, as_of), 0.8, window_days)
        design = churn.make_design(transactions, as_of, window)
        active = design.active_days
        X_tr, y_tr = churn.build_dataset(transactions, design.train_cutoff, window, active)
        X_te, y_te = churn.build_dataset(transactions, design.test_cutoff, window, active)
    except (ValueError, KeyError, IndexError) as exc:
        return {"status": "null", "reason": tr("{n} customers bought more than once ({e})",
                                               n=repeaters, e=str(exc).split(";")[0])}  # fmt: skip
    for y in (y_tr, y_te):
        if min(int(y.sum()), int((1 - y).sum())) < min_class:
            return {
                "status": "null",
                "reason": tr(
                    "too few churners or stayers to compare ({n} repeat customers)", n=repeaters
                ),
            }
    aucs = {}
    for with_fb in (False, True):
        parts = []
        for X, cutoff in ((X_tr, design.train_cutoff), (X_te, design.test_cutoff)):
            X = X.select_dtypes("number")
            if with_fb:
                fb = feedback_features(scored, cutoff, scale).reindex(X.index)
                X = X.join(fb.fillna({"fb_detractor": 0, "fb_negative_comment": 0,
                                      "fb_answers": 0}).fillna(fb.mean()).fillna(5.0))  # fmt: skip
            parts.append(X.fillna(0))
        model = churn.make_model("logistic", seed).fit(parts[0], y_tr)
        aucs[with_fb] = float(
            roc_auc_score(y_te, model.predict_proba(parts[1][parts[0].columns])[:, 1])
        )
    return {"status": "measured", "auc_without": aucs[False], "auc_with": aucs[True],
            "lift": aucs[True] - aucs[False], "test_customers": int(len(y_te)),
            "reason": ""}  # fmt: skip


# --------------------------------------------------------------------------- follow-up


def followup_list(
    scored: pd.DataFrame, as_of, value: pd.Series | None = None, value_basis: str = "revenue",
    max_rows: int | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Detractors and negative comments to call back, most valuable customers first.

    Parameters
    ----------
    scored : pandas.DataFrame
        Feedback with ``group``, ``sentiment``, ``theme`` (from the notebook's steps).
    value : pandas.Series, optional
        Customer value by ``customer_id`` (CLV, else revenue); without it, answers are
        ranked by how recent they are.

    Returns
    -------
    pandas.DataFrame
        ``response_id``, ``customer_id``, ``response_date``, ``days_since``, ``score``,
        ``sentiment``, ``reason``, ``value`` (named by ``value_basis``) and ``comment``
        (masked by :func:`analysis.privacy.mask_text`).
    """
    group = scored.get("group", pd.Series(np.nan, index=scored.index))
    negative = scored.get("sentiment", pd.Series(np.nan, index=scored.index)) <= -0.05
    pick = scored[(group == "detractor") | negative].copy()
    pick["days_since"] = (pd.Timestamp(as_of) - pick["response_date"]).dt.days
    reason = pd.Series("", index=pick.index, dtype="string")
    if "score" in pick:
        has = pick["score"].notna()
        reason[has] = tr("score") + " " + pick.loc[has, "score"].map("{:g}".format)
    if "sentiment" in pick:
        neg = pick["sentiment"] <= -0.05
        reason[neg] = reason[neg].where(reason[neg] == "", reason[neg] + tr("; ")) + tr(
            "negative comment"
        )
    if "theme" in pick:
        has = pick["theme"].notna()
        about = tr("about") + " " + pick.loc[has, "theme"].astype(str)
        reason[has] = reason[has].where(reason[has] == "", reason[has] + tr("; ")) + about
    pick["reason"] = reason
    pick[value_basis] = (
        pick["customer_id"].map(value) if value is not None and "customer_id" in pick else np.nan
    )
    pick = pick.sort_values(
        [value_basis, "days_since"], ascending=[False, True], na_position="last"
    )
    cols = [c for c in ("response_id", "customer_id", "response_date", "days_since", "score",
                        "sentiment", "reason", value_basis) if c in pick]  # fmt: skip
    out = pick[cols]
    if "comment" in pick:  # e-mails and phone numbers masked, words kept
        from analysis.privacy import mask_text

        out = out.assign(comment=mask_text(pick["comment"].astype(object)))
    return out.head(max_rows) if max_rows else out.reset_index(drop=True)


def scored_export(scored: pd.DataFrame) -> pd.DataFrame:
    """``feedback_scored.csv``: one row per answer, no comment text."""
    cols = ["response_id", "customer_id", "response_date", "score", "group", "language",
            "sentiment", "sentiment_label", "themes"]  # fmt: skip
    return scored[[c for c in cols if c in scored.columns]]


# --------------------------------------------------------------------------- takeaways


def _ci(low, high, fmt="{:.0f}") -> str:
    return tr("{low} to {high}", low=fmt.format(low), high=fmt.format(high))


def headline_takeaway(summary: dict, scale: Scale) -> str:
    """The scores in words, with their 95 % intervals."""
    nps_note = "" if scale.points == 11 else tr(
        " (on the {k}-point scale: {h:g} is a promoter, {m:g} passive, the rest detractors)",
        k=scale.points, h=scale.high, m=scale.high - 1)  # fmt: skip
    return tr(
        "**{n:,} scored answers.** NPS **{nps:+.0f}** (95 % interval {ci}){note}; CSAT "
        "(top-two box) **{csat}** ({cl} to {ch}); mean score **{mean:.2f}** of {hi:g}.",
        n=summary["responses"], nps=summary["nps"],
        ci=_ci(summary["nps_low"], summary["nps_high"], "{:+.0f}"), note=nps_note,
        csat=pct(summary["csat"], 1), cl=pct(summary["csat_low"], 1),
        ch=pct(summary["csat_high"], 1), mean=summary["mean_score"], hi=scale.high,
    )  # fmt: skip


def group_takeaway(table: pd.DataFrame, by: str, min_n: int = 30) -> str:
    """Best and worst ranked groups, and how many were too small to rank."""
    ranked = table[~table["small"]]
    small = int(table["small"].sum())
    tail = tr(" Groups with fewer than {m} answers ({k}) are shown but not ranked.", k=small,
              m=min_n) if small else ""  # fmt: skip
    if len(ranked) < 2:
        return tr("Too few {by} groups with {m}+ answers to compare.", by=tr_name(by, BREAKDOWNS),
                  m=min_n) + tail  # fmt: skip
    best, worst = ranked["nps"].idxmax(), ranked["nps"].idxmin()
    b, w = ranked.loc[best], ranked.loc[worst]
    overlap = b["nps_low"] <= w["nps_high"]
    verdict = (
        tr("their intervals overlap, so the gap may be noise")
        if overlap
        else tr("their intervals do not overlap: a real gap worth a look")
    )
    return tr("By {by}: **{best}** leads (NPS {bn:+.0f}, n = {bc:,}) and **{worst}** trails "
              "(NPS {wn:+.0f}, n = {wc:,}); {v}.", by=tr_name(by, BREAKDOWNS),
              best=md_text(group_label(by, best)), bn=b["nps"], bc=int(b["responses"]),
              worst=md_text(group_label(by, worst)), wn=w["nps"],
              wc=int(w["responses"]), v=verdict) + tail  # fmt: skip


def period_takeaway(periods: pd.DataFrame) -> str:
    """The latest period's change and whether it is significant."""
    full = periods[~periods["small"]]
    if len(full) < 2:
        return tr("Too few periods with enough answers to follow the trend.")
    last = full.iloc[-1]
    sig = last["nps_p"] < 0.05 if pd.notna(last["nps_p"]) else False
    word = tr("a significant change") if sig else tr("within the noise")
    month = month_label(full.index[-1], "%Y-%m")
    return tr("In the latest full period ({p}) NPS was {n:+.0f}, {c:+.0f} points on the "
              "period before (p = {pv:.2f}: {w}).", p=month, n=last["nps"],
              c=last["nps_change"], pv=last["nps_p"], w=word)  # fmt: skip


def drivers_takeaway(table: pd.DataFrame) -> str:
    """The strongest driver in words."""
    if table.empty:
        return tr("The data hold no driver (no linked orders, regions, channels or tickets).")
    top = table.index[0]
    effect = table["effect"].iloc[0]
    return tr("**{t}** moves the score most: {s} of what the drivers explain{e}. The drivers "
              "together explain R² = {r:.2f} of the variation in scores.",
              t=tr_name(top, DRIVER_NAMES).capitalize(),
              s=pct(table["share"].iloc[0]),
              e=tr(" ({effect})", effect=md_text(effect)) if effect else "",
              r=table["r2"].sum())  # fmt: skip


def retention_takeaway(repurchase: pd.DataFrame | None, lift: dict | None) -> str:
    """What satisfaction says about who stays, or why it cannot be said."""
    parts = []
    if repurchase is not None and repurchase["customers"].sum() > 0:
        p, d = repurchase.loc["promoter"], repurchase.loc["detractor"]
        parts.append(tr("Promoters bought again {p} of the time ({pl} to {ph}), detractors {d} "
                        "({dl} to {dh}).", p=pct(p["rate"], 1), pl=pct(p["low"], 1),
                        ph=pct(p["high"], 1), d=pct(d["rate"], 1), dl=pct(d["low"], 1),
                        dh=pct(d["high"], 1)))  # fmt: skip
    if lift:
        if lift["status"] == "measured":
            parts.append(tr("Feedback features change the churn model's out-of-time ROC-AUC "
                            "from {a:.3f} to {b:.3f} ({c:+.3f}).", a=lift["auc_without"],
                            b=lift["auc_with"], c=lift["lift"]))  # fmt: skip
        else:
            parts.append(tr("**No lift can be measured:** {r}.", r=md_text(lift["reason"])))
    return sentences(*parts)


def satisfaction_metrics(summary, top, themes_table, agreement_value, human=None) -> dict:
    """The ``satisfaction`` entry of metrics.json.

    ``human`` is :func:`human_agreement`'s pair; when labels exist it adds
    ``human_sentiment_auc`` and ``human_theme_auc`` (median best-theme ROC-AUC).
    """
    out = {
        "responses": summary.get("responses"), "nps": summary.get("nps"),
        "nps_ci": [summary.get("nps_low"), summary.get("nps_high")],
        "csat": summary.get("csat"), "csat_ci": [summary.get("csat_low"), summary.get("csat_high")],
        "mean_score": summary.get("mean_score"), "top_driver": top,
        "themes": [] if themes_table is None else list(themes_table["theme"]),
        "sentiment_agreement": agreement_value,
    }  # fmt: skip
    sentiment_agree, themes_agree = human or (None, None)
    if sentiment_agree:
        out["human_sentiment_auc"] = sentiment_agree.get("roc_auc")
    if themes_agree is not None and len(themes_agree):
        out["human_theme_auc"] = float(themes_agree["roc_auc"].median())
    return out


# --------------------------------------------------------------------------- notebook steps


@dataclass
class Prepared:
    """Feedback ready to analyse: enriched answers, scale, cutoff and what is missing."""

    frame: pd.DataFrame
    scale: Scale | None
    as_of: pd.Timestamp
    transactions: pd.DataFrame | None
    currency: str
    source: str
    notes: list


def customer_groups(transactions: pd.DataFrame, as_of) -> tuple[pd.DataFrame, list]:
    """RFM segment, value tier and lifecycle stage per customer (segmentation module)."""
    from analysis import cycle, segmentation
    from analysis.summary import customer_summary

    notes, parts = [], {}
    try:
        summary = customer_summary(transactions, as_of, time_unit="D")
        parts["segment"] = segmentation.rfm_segments(summary)["segment"]
        parts["tier"] = segmentation.value_tiers(summary)["tier"]
        purchase_cycle = cycle.cycle_at(transactions, as_of)
        stages = segmentation.lifecycle_stages(
            summary, segmentation.lifecycle_thresholds(purchase_cycle, summary)
        )
        parts["stage"] = stages["stage"]
    except (ValueError, KeyError) as exc:
        notes.append(tr("Segments, tiers or stages unavailable ({e}).", e=str(exc)[:120]))
    return pd.DataFrame(parts), notes


def prepare(tables, as_of=None) -> Prepared:
    """Feedback of a :class:`analysis.data.Tables` joined to its orders, customers, tickets.

    Raises
    ------
    NotApplicable
        When there is no feedback table (naming ``--feedback``).
    """
    table = getattr(tables, "feedback", None)
    if table is None:
        raise NotApplicable(
            tr("there is no feedback table (survey answers or reviews) in this run"),
            tr("pass one with --feedback FILE (mapped with --column feedback.score=... and "
               "--column feedback.comment=...), or a built-in that has one such as --data olist"),
        )  # fmt: skip
    frame = table.frame
    tx = tables.transactions.frame if tables.transactions is not None else None
    cutoff = pd.Timestamp(as_of) if as_of else (table.as_of or frame["response_date"].max())
    frame = frame[frame["response_date"] <= cutoff]
    customers = tables.customers.frame if getattr(tables, "customers", None) else None
    tickets = tables.tickets.frame if getattr(tables, "tickets", None) else None
    enriched = enrich(frame, tx, customers, tickets)
    notes = []
    if tx is not None and "customer_id" in enriched:
        groups, notes = customer_groups(tx, cutoff)
        new = [c for c in groups.columns if c not in enriched]
        enriched = enriched.join(groups[new], on="customer_id")
    scores = enriched["score"] if "score" in enriched else None
    scale = None
    if scores is not None and scores.notna().any():
        scale = scale_of(table.info, scores)
        enriched["group"] = nps_groups(enriched["score"], scale)
    currency = getattr(tables.transactions, "currency", "") if tables.transactions else ""
    return Prepared(enriched, scale, cutoff, tx, currency, table.source, notes)


@dataclass
class Text:
    """The comments analysed: sentiment, themes and their tables."""

    sentiment: object  # analysis.sentiment.Sentiment
    themes: object | None  # analysis.sentiment.Themes
    table: pd.DataFrame | None  # themes with examples and impact
    agreement: dict | None  # sentiment vs score labels (scored comments)
    baseline: dict | None  # the lexicon alone vs the same labels


def analyse_text(prep: Prepared, n_themes: int = 8, seed: int = 0, min_n: int = 30) -> Text | None:
    """Language, sentiment, themes of the comments; adds columns to ``prep.frame``.

    Returns None when there are no comments.
    """
    from analysis import sentiment as st

    frame = prep.frame
    if (
        "comment" not in frame
        or frame["comment"].astype("string").str.strip().str.len().fillna(0).sum() == 0
    ):
        return None
    texts = frame["comment"].astype("string")
    frame["language"] = st.detect_language(texts)
    labels = score_labels(frame["score"], prep.scale) if prep.scale else None
    result = st.comment_sentiment(texts, frame["language"], labels, seed=seed)
    frame["sentiment"] = result.scores
    frame["sentiment_label"] = st.sentiment_label(result.scores)
    agree = base = None
    if labels is not None:
        agree, base = st.agreement(result.scores, labels), st.agreement(result.lexicon, labels)
    themes = table = None
    if int(texts.str.strip().str.len().gt(0).sum()) >= 50:
        themes = st.find_themes(texts, frame["language"], n_themes, seed)
        frame["theme"] = themes.weights.idxmax(axis=1).where(themes.weights.max(axis=1) > 0)
        frame["themes"] = st.mention_text(themes.mentions)
        values = frame["score"] if prep.scale else frame["sentiment"]
        impact = st.theme_impact(themes, values, min_n)
        table = themes.table.merge(impact[["theme", "impact"]], on="theme")
        examples = st.theme_examples(themes, texts)
        table["examples"] = table["theme"].map(lambda t: " | ".join(examples.get(t, [])))
    return Text(result, themes, table, agree, base)


def human_agreement(
    prep: Prepared, text: Text, sentiment_column: str | None = "auto", positive: str = "low",
    theme_columns: list | None = None,
) -> tuple[dict | None, pd.DataFrame | None]:  # fmt: skip
    """Agreement of our sentiment and themes with human labels kept in the feedback table.

    ``sentiment_column`` "auto" takes a column whose name contains "sentiment"; its
    lowest two values are positive when ``positive`` is "low" (the NHS coding, 1 = very
    positive), the highest two when "high"; the middle is left out. ``theme_columns``
    None finds 0/1 and ``votes_*`` columns (:func:`analysis.sentiment.human_label_columns`).
    """
    from analysis import sentiment as st

    frame = prep.frame
    own = {"score", "sentiment", "sentiment_label", "late", "group", "response_id", "order_id",
           "customer_id", "order_value", "freight_share", "delay_days", "tickets"}  # fmt: skip
    column = sentiment_column
    if column == "auto":
        found = [c for c in frame.columns if "sentiment" in str(c).lower() and c not in own]
        column = found[0] if found else None
    sentiment_agree = None
    if column and column in frame:
        human = pd.to_numeric(frame[column], errors="coerce")
        levels = np.sort(human.dropna().unique())
        if len(levels) >= 2:
            low, high = levels[: min(2, len(levels) // 2)], levels[-min(2, len(levels) // 2) :]
            good, bad = (low, high) if positive == "low" else (high, low)
            labels = pd.Series(np.nan, index=frame.index)
            labels[human.isin(good)], labels[human.isin(bad)] = 1.0, 0.0
            sentiment_agree = {"column": column, **st.agreement(frame["sentiment"], labels)}
            sentiment_agree["lexicon"] = st.agreement(text.sentiment.lexicon, labels)["roc_auc"]
    themes_agree = None
    if text.themes is not None:
        cols = theme_columns if theme_columns is not None else st.human_label_columns(
            frame, exclude=own | {column})  # fmt: skip
        if cols:
            themes_agree = st.theme_agreement(text.themes, frame[cols])
    return sentiment_agree, themes_agree


def value_per_customer(prep: Prepared) -> tuple[pd.Series | None, str]:
    """Customer value for ranking follow-ups: revenue to date (CLV when churn can fit it)."""
    if prep.transactions is None:
        return None, "revenue"
    tx = prep.transactions[prep.transactions["order_date"] <= prep.as_of]
    revenue = tx.groupby("customer_id")["amount"].sum()
    repeaters = int((tx.groupby("customer_id")["order_date"].nunique() > 1).sum())
    if repeaters >= 100:
        from analysis import churn

        clv, _, _ = churn.value_and_segments(tx, prep.as_of)
        if clv is not None:
            return clv, "CLV"
    return revenue, "revenue"


def text_takeaway(prep: Prepared, text: Text) -> str:
    """Languages, how sentiment was obtained, and the share of negative comments."""
    from analysis import sentiment as st

    frame = prep.frame
    has = frame["comment"].astype("string").str.strip().str.len().fillna(0) > 0
    langs = frame.loc[has, "language"].value_counts(normalize=True)
    langs = langs[langs >= 0.01].head(3)
    lang_text = listed(
        f"{md_text(tr_name(k, st.LANGUAGE_CODES))} {pct(v)}" for k, v in langs.items()
    )
    how = {
        "scored": tr("trained on {n:,} of this data's scored comments (out of fold)",
                     n=text.sentiment.labelled),
        "lexicon": tr("from lexicons adapted to this data's words (no scores to learn from)"),
        "none": tr("not available for these languages"),
    }[text.sentiment.method]  # fmt: skip
    negative = (frame.loc[has, "sentiment_label"] == "negative").mean()
    return tr("**{n:,} comments** ({share} of answers; languages: {langs}). Sentiment is {how}; "
              "**{neg}** of the comments read negative.", n=int(has.sum()),
              share=pct(has.mean()), langs=lang_text, how=how, neg=pct(negative))  # fmt: skip


def themes_display(table: pd.DataFrame) -> pd.DataFrame:
    """The themes table as shown: share as %, impact rounded, examples."""
    out = table[["theme", "top_words", "share", "impact", "examples"]].copy()
    out["share"] = out["share"].map(lambda v: pct(v, 1))
    out["impact"] = out["impact"].map(lambda v: tr("n/a") if pd.isna(v) else f"{v:+.2f}")
    return out.set_index("theme")


def themes_takeaway(table: pd.DataFrame, scored: bool) -> str:
    """The most common theme and the one that hurts the score most."""
    common = table.sort_values("share", ascending=False).iloc[0]
    text = tr("The most common theme is **{t}** ({s} of comments).", t=md_text(common["theme"]),
              s=pct(common["share"]))  # fmt: skip
    rated = table.dropna(subset=["impact"])
    if len(rated):
        worst = rated.sort_values("impact").iloc[0]
        unit = tr("stars/points") if scored else tr("sentiment")
        text = sentences(text, tr(
            "Comments about **{t}** score {i:+.2f} {u} against the others: the theme to fix "
            "first.", t=md_text(worst["theme"]), i=worst["impact"], u=unit))  # fmt: skip
    return text


def agreement_takeaway(text: Text) -> str:
    """Sentiment against the scores' own labels, next to the lexicon baseline."""
    a, b = text.agreement, text.baseline
    if not a or a.get("roc_auc") is None:
        return tr("Too few scored comments of each kind to measure agreement.")
    base = "" if not b or b.get("roc_auc") is None else tr(
        " (the lexicon alone: {b:.2f})", b=b["roc_auc"])  # fmt: skip
    return tr("Sentiment separates positive from negative scores with ROC-AUC **{a:.2f}**{b} "
              "on {n:,} scored comments (1 = perfect, 0.5 = chance).", a=a["roc_auc"], b=base,
              n=a["n"])  # fmt: skip


def human_takeaway(sentiment_agree: dict | None, themes_agree: pd.DataFrame | None) -> str:
    """Agreement with human labels in words."""
    parts = []
    if sentiment_agree and sentiment_agree.get("roc_auc") is not None:
        parts.append(tr("Against the human sentiment labels (`{c}`), our sentiment reaches "
                        "ROC-AUC **{a:.2f}** on {n:,} comments (the lexicon alone {b:.2f}).",
                        c=md_text(sentiment_agree["column"]), a=sentiment_agree["roc_auc"],
                        n=sentiment_agree["n"],
                        b=sentiment_agree["lexicon"] or float("nan")))  # fmt: skip
    if themes_agree is not None and len(themes_agree):
        good = themes_agree[themes_agree["roc_auc"] >= 0.7]
        parts.append(tr("For {k} of {m} human theme labels a theme found here ranks the labelled "
                        "comments with ROC-AUC >= 0.7 (median {med:.2f}).", k=len(good),
                        m=len(themes_agree), med=themes_agree["roc_auc"].median()))  # fmt: skip
    return sentences(*parts) or tr("The feedback holds no human labels to compare with.")


def followup_takeaway(follow: pd.DataFrame, basis: str, currency: str = "") -> str:
    """How many answers need a call and what the list is ranked by."""
    if follow.empty:
        return tr("No detractor or negative comment to follow up.")
    from analysis.text import money

    recent = int((follow["days_since"] <= 30).sum())
    value = follow[basis].sum() if basis in follow else float("nan")
    shown = tr_name(basis, VALUE_BASES)
    worth = "" if pd.isna(value) or value == 0 else tr(
        ", worth {v} of {b}", v=money(value, currency), b=shown)  # fmt: skip
    order = tr("by {b}", b=shown) if basis in follow and follow[basis].notna().any() else tr(
        "most recent first (no purchases give a customer value)")  # fmt: skip
    return tr("**{n:,} answers** call for a follow-up{w}; {r:,} of them came in the last 30 "
              "days. The list is ranked {o}.", n=len(follow), w=worth, r=recent,
              o=order)  # fmt: skip


def findings(metrics: dict, lift: dict | None, human: dict | None) -> str:
    """The notebook's closing bullets."""
    lines = []
    if metrics.get("responses"):
        lo, hi = metrics["nps_ci"]
        lines.append(tr("- NPS {n:+.0f} ({lo:+.0f} to {hi:+.0f}), CSAT {c}, mean score {m:.2f} "
                        "over {r:,} answers.", n=metrics["nps"], lo=lo, hi=hi,
                        c=pct(metrics["csat"], 1), m=metrics["mean_score"],
                        r=metrics["responses"]))  # fmt: skip
    if metrics.get("top_driver"):
        driver = tr_name(metrics["top_driver"], DRIVER_NAMES)
        lines.append(tr("- The strongest driver of the score is **{d}**.", d=driver))
    if metrics.get("themes"):
        lines.append(
            tr("- Comment themes: {t}.", t=tr("; ").join(md_text(t) for t in metrics["themes"]))
        )
    if metrics.get("sentiment_agreement") is not None:
        lines.append(tr("- Sentiment agrees with the scores at ROC-AUC {a:.2f}.",
                        a=metrics["sentiment_agreement"]))  # fmt: skip
    if human and human.get("roc_auc") is not None:
        lines.append(tr("- Against human sentiment labels: ROC-AUC {a:.2f}.", a=human["roc_auc"]))
    if lift:
        lines.append("- " + retention_takeaway(None, lift))
    return "\n".join(lines)


def needs_purchases_note() -> str:
    """The sentence shown where a section needs scored answers linked to purchases."""
    from analysis.text import for_analyst

    reader = tr("This section needs scored answers linked to customers with purchases.")
    return f"*{reader}* " + for_analyst(tr("*Pass the purchase log with `--data`.*"))
