"""What retention is worth: CLV if dropout fell from now on, and if at-risk customers came back.

The what-if keeps each customer's history and the fitted model: who is alive today
(P(alive)), each customer's purchase rate (posterior Gamma(r + x, alpha + T)) and spend
(Gamma-Gamma) are held; only the **dropout parameter is scaled by a factor c from today
on**:

- BG/NBD and MBG/NBD: every customer's per-purchase dropout probability p (prior
  p ~ Beta(a, b); given alive today p ~ Beta(a, b + x), MBG/NBD Beta(a, b + x + 1)) becomes
  c p at each future purchase;
- Pareto/NBD: every customer's dropout rate mu (prior mu ~ Gamma(s, beta); given alive
  today Gamma(s, beta + T)) becomes c mu, i.e. beta + T becomes (beta + T) / c.

"Retention" is the model's **12-month retention of today's active customers**: the
P(alive)-weighted share of them still alive 12 months on,
R(c) = sum_i P(alive_i) S_i(c) / sum_i P(alive_i), with S_i(c) = E[exp(-lambda c p t)] =
E_p[((alpha+T) / (alpha+T+c p t))^(r+x)] (BG family, an integral over p by Gauss-Jacobi) or
((beta+T) / (beta+T+c t))^s (Pareto/NBD). "+k points of retention" is the c with
R(c) = R(1) + k / 100; "dropout fell by x %" is c = 1 - x / 100. Given alive and (lambda, p),
BG/NBD expects (1 - exp(-lambda c p t)) / (c p) purchases in t (Fader, Hardie & Lee 2005,
eq. 7, with p scaled); integrated over lambda this is
E_p[(1 - ((alpha+T)/(alpha+T+c p t))^(r+x)) / (c p)]. Pareto/NBD given alive:
(r+x)/(alpha+T) E[(1 - exp(-c mu t)) / (c mu)] in closed form (Fader & Hardie 2005, note 009,
eq. 22, with beta + T scaled). At c = 1 both equal the fitted model's own forecast.

**Win-back** of a group (default the life stage "at risk"): every customer of the group
makes one more purchase today (frequency + 1, recency = T), spend per purchase held; the
gain is their CLV with that history minus their CLV now (the win-back purchase itself is
not counted).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import betaincinv, roots_jacobi

from analysis.clv import adapter
from analysis.clv.models import (
    RFT,
    FittedModel,
    ModelFitError,
    ParetoSpec,
    _check_columns,
    _codes,
    _rft,
    _spend_array,
    compress,
    param_text,
)
from analysis.clv.predict import _discounted_purchases, periods_per_month
from analysis.clv.uncertainty import intervals
from analysis.text import tr

TOTAL = "all customers"
WINBACK_GROUP = "at risk"
_NODES = 20  # Gauss-Jacobi nodes: the integrands are smooth in p; 20 agree with 96 to 1e-10


# --------------------------------------------------------------------------- the scaled model


@functools.lru_cache(maxsize=4096)
def _jacobi(a: float, b: float, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Jacobi nodes on p in (0, 1) and normalised weights for p ~ Beta(a, b)."""
    with np.errstate(over="ignore", invalid="ignore"):
        u, w = roots_jacobi(nodes, b - 1.0, a - 1.0)  # weight (1-u)^(b-1) (1+u)^(a-1) on (-1, 1)
        w = w / w.sum()
    if np.isfinite(u).all() and np.isfinite(w).all():
        return (1.0 + u) / 2.0, w
    # Extreme shapes (a large b: the Jacobi weights' scale 2^(a+b+1) overflows): quadrature
    # over the Beta's quantiles instead, E[f(p)] = integral of f(F^-1(v)) over v in (0, 1).
    v, w = np.polynomial.legendre.leggauss(4 * nodes)
    return betaincinv(a, b, (v + 1.0) / 2.0), w / 2.0  # the Beta(a, b) quantile


def _beta_expectation(a: float, b, function, nodes: int = _NODES) -> np.ndarray:
    """E[function(p, rows)] for p ~ Beta(a, b_row), per row, by Gauss-Jacobi quadrature.

    ``function(p, rows)`` gets ``p`` of shape (rows, nodes) and the row positions (all rows);
    the nodes are computed once per distinct (a, b).
    """
    values, inverse = np.unique(np.asarray(b, dtype=float), return_inverse=True)
    table = [_jacobi(float(a), float(v), nodes) for v in values]
    p = np.stack([t[0] for t in table])[inverse]
    w = np.stack([t[1] for t in table])[inverse]
    return np.einsum("ij,ij->i", function(p, np.arange(len(inverse))), w)


def _posterior_b(fitted: FittedModel, x: np.ndarray) -> np.ndarray:
    """b of the Beta posterior of p given alive today: b + x (+1 when customers may also drop
    out at their first purchase, MBG/NBD)."""
    return fitted.params["b"] + x + float(fitted.spec.dropout_at_first)


def expected_given_alive(fitted: FittedModel, x, T, t: float, scale: float = 1.0) -> np.ndarray:
    """Expected purchases in ``(T, T + t]`` of a customer alive today, dropout scaled by
    ``scale`` from today on (see the module docstring for the formulas)."""
    p = fitted.params
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    k, A = p["r"] + x, p["alpha"] + T
    if scale == 0.0:
        return k * t / A
    if isinstance(fitted.spec, ParetoSpec):
        b = (p["beta"] + T) / scale
        s = p["s"]
        if abs(s - 1.0) < 1e-9:
            return k / A * b * np.log1p(t / b)
        return k / A * b / (s - 1.0) * (1.0 - (b / (b + t)) ** (s - 1.0))

    def given_p(q, rows):
        u = scale * q * t
        return -np.expm1(-k[rows, None] * np.log1p(u / A[rows, None])) / (scale * q)

    return _beta_expectation(p["a"], _posterior_b(fitted, x), given_p)


def survival_given_alive(fitted: FittedModel, x, T, t: float, scale: float = 1.0) -> np.ndarray:
    """P(still alive at T + t | alive at T), dropout scaled by ``scale`` from today on."""
    p = fitted.params
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    if scale == 0.0:
        return np.ones(len(x))
    if isinstance(fitted.spec, ParetoSpec):
        b = (p["beta"] + T) / scale
        return (b / (b + t)) ** p["s"]
    k, A = p["r"] + x, p["alpha"] + T

    def given_p(q, rows):
        return np.exp(-k[rows, None] * np.log1p(scale * q * t / A[rows, None]))

    return _beta_expectation(p["a"], _posterior_b(fitted, x), given_p)


class _Scaled:
    """A fitted model whose forecasts have dropout scaled by ``scale`` from today on; it
    quacks like a :class:`FittedModel` for :func:`analysis.clv.predict._discounted_purchases`
    (so the discounting rule is the CLV's own)."""

    def __init__(self, fitted: FittedModel, scale: float):
        self.fitted, self.scale, self.time_unit, self.spec = (
            fitted,
            float(scale),
            fitted.time_unit,
            self,
        )
        self._alive: dict = {}

    def expected(self, _fitted, x, tx, T, t: float) -> np.ndarray:
        key = (x.tobytes(), tx.tobytes(), T.tobytes())
        if key not in self._alive:  # P(alive) today is the fitted model's, for every scale
            self._alive = {key: self.fitted.spec.alive(self.fitted, x, tx, T)}
        return self._alive[key] * expected_given_alive(self.fitted, x, T, t, self.scale)

    def alive(self, _fitted, x, tx, T) -> np.ndarray:
        """P(alive) today: the fitted model's, for every scale."""
        return self.fitted.spec.alive(self.fitted, x, tx, T)

    def alive_rate(self, _fitted, x, T, t: float) -> np.ndarray:
        """The forecast given alive, dropout scaled (what ``_discounted_purchases`` sums)."""
        return expected_given_alive(self.fitted, x, T, t, self.scale)


def scenario_clv(fitted, spend, summary, scale=1.0, horizon_months=12, discount_rate=0.10):
    """Per-customer CLV with dropout scaled by ``scale`` from today on.

    At ``scale`` 1 this equals :func:`analysis.clv.customer_value`'s ``clv`` (to rounding).

    Parameters
    ----------
    fitted, spend : FittedModel
        Purchase model and Gamma-Gamma.
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` per customer.

    Returns
    -------
    pandas.Series
        ``clv`` indexed like ``summary``.
    """
    _check_columns(summary, RFT + ["monetary_value"])
    unique, codes = _codes(summary, RFT)
    discounted, _ = _discounted_purchases(_Scaled(fitted, scale), unique, horizon_months,
                                          discount_rate)  # fmt: skip
    each = discounted[codes] * _spend_array(
        spend.params, summary["frequency"], summary["monetary_value"]
    )
    return pd.Series(each, index=summary.index, name="clv")


def _retention_curve(fitted: FittedModel, summary: pd.DataFrame, months: int = 12):
    """c -> the ``months``-month retention with dropout scaled by c (rows compressed and
    P(alive) computed once)."""
    rows = compress(summary)
    x, tx, T = _rft(rows)
    w = rows["weights"].to_numpy(dtype=float) * fitted.spec.alive(fitted, x, tx, T)
    w = w / w.sum()
    t = months * periods_per_month(fitted.time_unit)
    return lambda scale: float(w @ survival_given_alive(fitted, x, T, t, scale))


def retention_rate(fitted: FittedModel, summary: pd.DataFrame, scale=1.0, months=12) -> float:
    """The model's ``months``-month retention of today's active customers, dropout scaled by
    ``scale``: the P(alive)-weighted mean of P(still alive in ``months`` | alive today)."""
    return _retention_curve(fitted, summary, months)(scale)


def scale_for_points(fitted, summary, points: float, months: int = 12) -> tuple[float, float]:
    """The dropout scale c that raises ``months``-month retention by ``points`` (percentage
    points), and the points reached (fewer when retention would pass 100 %: then c = 0)."""
    if points == 0:
        return 1.0, 0.0
    curve = _retention_curve(fitted, summary, months)
    base = curve(1.0)
    target = base + points / 100.0
    if target >= 1.0:
        return 0.0, 100.0 * (1.0 - base)

    def gap(c):
        return curve(c) - target

    high = 1.0
    while points < 0 and gap(high) > 0 and high < 1e6:
        high *= 10
    low, high = (0.0, 1.0) if points > 0 else (1.0, high)
    if gap(low) * gap(high) > 0:  # out of reach (retention cannot fall that far)
        return high, 100.0 * (curve(high) - base)
    return float(brentq(gap, low, high, xtol=1e-10)), float(points)


# --------------------------------------------------------------------------- win-back


def winback_clv(fitted, spend, summary, members, horizon_months=12, discount_rate=0.10):
    """Per-customer CLV if every customer in ``members`` (a boolean Series) bought once more
    today (frequency + 1, recency = T; spend per purchase held); others unchanged."""
    back = summary.copy()
    chosen = members.reindex(summary.index, fill_value=False).to_numpy(dtype=bool)
    back.loc[chosen, "frequency"] = back.loc[chosen, "frequency"] + 1
    back.loc[chosen, "recency"] = back.loc[chosen, "T"]
    return scenario_clv(fitted, spend, back, 1.0, horizon_months, discount_rate)


# --------------------------------------------------------------------------- the what-if


@dataclass
class RetentionUplift:
    """The retention what-if and its bootstrap intervals.

    Attributes
    ----------
    points : float
        Retention points reached (``points_asked`` unless retention would pass 100 %).
    scale : float
        The dropout factor c applied from today on.
    retention_before, retention_after : float
        12-month retention of today's active customers, fitted and with c.
    table : pandas.DataFrame
        Index group (``all customers`` then each group): ``customers``, ``clv``,
        ``clv_after``, ``clv_change``, ``clv_change_pct``, ``low``, ``high`` (interval of
        the change), ``draws``.
    winback : pandas.Series
        The win-back of ``WINBACK_GROUP``: ``customers``, ``clv``, ``clv_after``,
        ``clv_change``, ``clv_change_pct``, ``low``, ``high``, ``draws`` (empty group: 0).
    """

    points: float
    points_asked: float
    scale: float
    retention_before: float
    retention_after: float
    level: float
    model: str
    table: pd.DataFrame
    winback: pd.Series

    def metrics(self) -> dict:
        """``lifetime_value.retention_uplift``: points, clv_change, clv_change_pct, interval."""
        row = self.table.loc[TOTAL]
        return {
            "points": float(self.points),
            "clv_change": float(row["clv_change"]),
            "clv_change_pct": float(row["clv_change_pct"]),
            "interval": [float(row["low"]), float(row["high"])],
        }


def _changes(fitted, spend, summary, groups, points, cut, horizon, rate):
    """Scale, points reached, and the CLV now / after / win-back by group (one draw)."""
    if cut is None:
        scale, reached = scale_for_points(fitted, summary, points)
    else:
        curve = _retention_curve(fitted, summary)
        scale = 1.0 - cut / 100.0
        reached = 100.0 * (curve(scale) - curve(1.0))
    now = scenario_clv(fitted, spend, summary, 1.0, horizon, rate)
    after = scenario_clv(fitted, spend, summary, scale, horizon, rate)
    back = winback_clv(fitted, spend, summary, groups == WINBACK_GROUP, horizon, rate)
    frame = pd.DataFrame({"group": groups, "clv": now, "clv_after": after, "clv_back": back})
    bad = int((~np.isfinite(frame[["clv", "clv_after", "clv_back"]].to_numpy())).any(axis=1).sum())
    if bad:  # never summed silently (issue 18): the caller reports the sentence instead
        raise ModelFitError(
            f"{fitted.name} gives no finite what-if CLV for {bad:,} customers "
            f"({param_text(fitted.params)}), so the retention what-if is not reported"
        )
    by = frame.groupby("group", observed=False)[["clv", "clv_after", "clv_back"]].sum()
    by.loc[TOTAL] = frame[["clv", "clv_after", "clv_back"]].sum()
    by["customers"] = frame.groupby("group", observed=False).size()
    by.loc[TOTAL, "customers"] = len(frame)
    return scale, reached, by


def _draw_model(fitted: FittedModel, row: pd.Series, prefix: str = "") -> FittedModel:
    """A :class:`FittedModel` at one bootstrap draw's parameters."""
    params = {k: float(row[prefix + k]) for k in fitted.params}
    engine = adapter.engine_at(fitted.model, params)
    return FittedModel(fitted.model, params, np.nan, True, fitted.customers, fitted.time_unit,
                       engine=engine)  # fmt: skip


#: Customers valued per bootstrap draw of the what-if (a fixed random sample above this size).
UPLIFT_SAMPLE = 10_000


def _by_change(by: pd.DataFrame) -> dict:
    out = (by["clv_after"] - by["clv"]).to_dict()
    out["winback"] = float(by.loc[TOTAL, "clv_back"] - by.loc[TOTAL, "clv"])
    return out


def _draw_changes(fitted, spend, summary, groups, draws, point, options):
    """The change by group for every bootstrap draw (columns ``<group>`` and ``winback``).

    Above :data:`UPLIFT_SAMPLE` customers each draw is valued on a fixed random sample and
    scaled by the full-data point change over the sample's point change (a ratio estimate,
    as :func:`analysis.clv.bootstrap` does for the totals); exact below that size.
    """
    sample, ratio = summary, dict.fromkeys(point, 1.0)
    if len(summary) > UPLIFT_SAMPLE:
        rng = np.random.default_rng(options["seed"])
        sample = summary.iloc[np.sort(rng.choice(len(summary), UPLIFT_SAMPLE, replace=False))]
        base = _by_change(_changes(fitted, spend, sample, groups.reindex(sample.index),
                                   *options["args"])[2])  # fmt: skip
        factor = len(summary) / len(sample)
        ratio = {k: point[k] / base[k] if base.get(k) else factor for k in point}
    rows = []
    for _, row in draws.iterrows():
        purchase, money = _draw_model(fitted, row), _draw_model(spend, row, "spend_")
        if not money.params["q"] > 1:
            continue
        try:
            by = _changes(purchase, money, sample, groups.reindex(sample.index), *options["args"])
        except ModelFitError:  # a draw without finite values is left out (fewer draws)
            continue
        by = by[2]
        rows.append({k: v * ratio.get(k, 1.0) for k, v in _by_change(by).items()})
    return pd.DataFrame(rows)


def retention_uplift(
    fitted: FittedModel,
    spend: FittedModel,
    summary: pd.DataFrame,
    groups: pd.Series | None = None,
    points: float = 5.0,
    dropout_cut: float | None = None,
    draws: pd.DataFrame | None = None,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    level: float = 0.90,
    seed: int = 0,
) -> RetentionUplift:
    """Change in total and per-group CLV if retention rose by ``points`` (or dropout fell by
    ``dropout_cut`` %), and if the at-risk group were won back, with bootstrap intervals.

    Parameters
    ----------
    fitted, spend : FittedModel
        Purchase model (BG/NBD, MBG/NBD or Pareto/NBD) and Gamma-Gamma fitted on ``summary``.
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` per customer.
    groups : pandas.Series, optional
        Group of each customer (e.g. :func:`life_stages`); the win-back applies to the
        group ``"at risk"``. None: one group.
    points : float
        Percentage points added to the 12-month retention of today's active customers.
    dropout_cut : float, optional
        Instead of ``points``: dropout falls by this percentage (c = 1 - cut / 100).
    draws : pandas.DataFrame, optional
        :func:`analysis.clv.bootstrap` output (parameters per draw): each draw's model is
        re-valued for the intervals; None gives no interval (NaN bounds).
    level : float
        Coverage of the percentile intervals.

    Returns
    -------
    RetentionUplift
    """
    groups = (pd.Series("all", index=summary.index) if groups is None
              else groups.reindex(summary.index).astype(object).fillna("no stage"))  # fmt: skip
    scale, reached, by = _changes(fitted, spend, summary, groups, points, dropout_cut,
                                  horizon_months, discount_rate)  # fmt: skip
    table = by[["customers", "clv", "clv_after"]].copy()
    table["clv_change"] = table["clv_after"] - table["clv"]
    table["clv_change_pct"] = table["clv_change"] / table["clv"].where(table["clv"] > 0)
    group = by.loc[WINBACK_GROUP] if WINBACK_GROUP in by.index else pd.Series(0.0, by.columns)
    winback = pd.Series(
        {"customers": group["customers"], "clv": group["clv"], "clv_after": group["clv_back"]}
    )
    winback["clv_change"] = winback["clv_after"] - winback["clv"]
    winback["clv_change_pct"] = winback["clv_change"] / winback["clv"] if winback["clv"] else np.nan
    point = {**table["clv_change"].to_dict(), "winback": winback["clv_change"]}
    options = {"seed": seed, "args": (points, dropout_cut, horizon_months, discount_rate)}
    sampled = pd.DataFrame()
    if draws is not None and len(draws):
        sampled = _draw_changes(fitted, spend, summary, groups, draws, point, options)
    bands = intervals(point, sampled, level)
    table[["low", "high", "draws"]] = bands.loc[table.index, ["low", "high", "draws"]].to_numpy()
    for key in ("low", "high", "draws"):
        winback[key] = bands.loc["winback", key]
    from analysis.segmentation import STAGES

    rank = {name: i for i, name in enumerate(STAGES)}  # life stages in their own order
    order = [TOTAL] + sorted((g for g in table.index if g != TOTAL),
                             key=lambda g: (rank.get(g, len(rank)), str(g)))  # fmt: skip
    return RetentionUplift(
        points=reached, points_asked=float(points if dropout_cut is None else reached),
        scale=scale, retention_before=retention_rate(fitted, summary),
        retention_after=retention_rate(fitted, summary, scale), level=level,
        model=fitted.name, table=table.loc[order], winback=winback,
    )  # fmt: skip


def life_stages(frame: pd.DataFrame, as_of) -> pd.Series:
    """Each customer's life stage at ``as_of`` with the segmentation report's rules and
    defaults (new, active repeat, loyal, at risk, lapsed), indexed by ``customer_id``."""
    from analysis import cycle
    from analysis import segmentation as seg
    from analysis.summary import customer_summary

    days = customer_summary(frame, as_of, time_unit="D")
    thresholds = seg.lifecycle_thresholds(cycle.cycle_at(frame, as_of), days)
    return seg.lifecycle_stages(days, thresholds)["stage"].astype(str).rename("stage")


def uplift_takeaway(uplift: RetentionUplift | None, currency: str = "", note: str = "") -> str:
    """The what-if in words: the assumption, the change with its interval, the win-back
    (``note``: why there is no what-if, e.g. :func:`analysis.clv.attempt`'s reason)."""
    from analysis.text import md_text, money, pct

    if uplift is None and note:
        return tr("*No retention what-if: {reason}.*").format(reason=md_text(note))
    if uplift is None:
        return tr("*No CLV, so no retention what-if.*")
    row = uplift.table.loc[TOTAL]
    interval = (tr("{level} interval {low} to {high}").format(
        level=pct(uplift.level), low=money(row["low"], currency), high=money(row["high"], currency))
        if np.isfinite(row["low"]) else tr("no bootstrap interval"))  # fmt: skip
    parts = [
        tr(
            "**Assumption:** the fitted {model} is kept; only each customer's dropout is scaled "
            "by {c:.3f} from today on (their purchase rate, spend per purchase and today's "
            "P(alive) are held)."
        ).format(model=uplift.model, c=uplift.scale),
        tr(
            "Retention here means the share of today's active customers still active in 12 "
            "months: {before} now, {after} in the what-if (+{points:.1f} points)."
        ).format(
            before=pct(uplift.retention_before, 1),
            after=pct(uplift.retention_after, 1),
            points=uplift.points,
        ),  # fmt: skip
    ]
    if uplift.points < uplift.points_asked - 1e-9:
        parts.append(
            tr(
                "The model finds so little dropout that retention cannot rise by {asked:.0f} "
                "points; the figures show dropout removed altogether."
            ).format(asked=uplift.points_asked)
        )
    parts.append(tr(
        "CLV would change by **{change}** ({pct} of {total}; {interval})."
    ).format(change=money(row["clv_change"], currency), pct=pct(row["clv_change_pct"], 1),
             total=money(row["clv"], currency), interval=interval))  # fmt: skip
    if np.isfinite(row["low"]) and not row["low"] <= row["clv_change"] <= row["high"]:
        parts.append(tr(
            "The interval does not contain the estimate: the refitted models disagree with the "
            "fit on all customers about dropout, so treat the change as uncertain in size."
        ))  # fmt: skip
    gain = uplift.table.drop(index=TOTAL)["clv_change"]
    if len(gain) > 1 and gain.abs().sum() > 0:
        top = gain.idxmax()
        parts.append(
            tr("The largest part, {share}, comes from the {group} customers.").format(
                share=pct(gain[top] / gain.sum()), group=tr(str(top))
            )
        )
    back = uplift.winback
    if back["customers"] > 0:
        parts.append(tr(
            "Winning back the {n:,} at-risk customers (each buying once more today) would add "
            "{change} ({low} to {high})."
        ).format(n=int(back["customers"]), change=money(back["clv_change"], currency),
                 low=money(back["low"], currency), high=money(back["high"], currency)))  # fmt: skip
    return " ".join(parts)


def uplift_table(uplift: RetentionUplift, currency: str = "") -> pd.DataFrame:
    """The what-if by group for display: customers, CLV now and after, change, interval
    (numbers written as text; English headers and group names, which
    :func:`analysis.report.style_table` shows in the report's language)."""
    table = uplift.table

    def cash(values):
        return [f"{currency}{v:,.0f}" if np.isfinite(v) else "–" for v in values]

    out = pd.DataFrame(
        {
            "customers": [f"{int(n):,}" for n in table["customers"]],
            "CLV now": cash(table["clv"]),
            "CLV in the what-if": cash(table["clv_after"]),
            "CLV change": cash(table["clv_change"]),
            "CLV change, %": [
                f"{v:+.1%}" if np.isfinite(v) else "–" for v in table["clv_change_pct"]
            ],  # fmt: skip
            "interval: low": cash(table["low"]),
            "interval: high": cash(table["high"]),
        },
        index=pd.Index([str(g) for g in table.index], name="group"),
    )
    return out


def what_if_metrics(uplift: RetentionUplift | None, next_check: dict | None) -> dict:
    """``lifetime_value`` metrics of the what-if and of the next-purchase check:
    ``retention_uplift`` ({points, clv_change, clv_change_pct, interval}),
    ``winback_at_risk`` (CLV gained) and ``next_purchase`` ({level, customers, inside,
    expected}); None each when not computed."""
    keys = ("level", "customers", "inside", "expected")
    return {
        "retention_uplift": uplift.metrics() if uplift is not None else None,
        "winback_at_risk": float(uplift.winback["clv_change"]) if uplift is not None else None,
        "next_purchase": {k: next_check[k] for k in keys} if next_check else None,
    }
