"""Headline metrics for readers: their names, units, and which way is good for the business.

Notebooks record raw values (``metrics.json`` keeps them as they are); this module says
what each one is called, how it is written (count, money, share, days ...) and whether a
rise is good news (fewer at-risk customers, lower forecast error, lower Brier score),
bad news, or neither. :data:`METRICS` is that table, in one place: the closing "Headline
numbers" cell of every notebook and the index page both read it. Nothing here knows
about the report runner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from analysis import i18n
from analysis.text import md_text, money, tr, tr_name

HIGHER, LOWER, NEUTRAL = "higher", "lower", "neutral"


@dataclass(frozen=True)
class Metric:
    """How a headline metric reads: its name, unit and the direction that is good.

    ``unit``: ``count``, ``money``, ``share`` (a fraction, written as %), ``percent``
    (already in percent, e.g. a change), ``days``, ``score`` (AUC, Brier, a fitted
    parameter), ``text`` (dates, model names). ``better``: ``higher``, ``lower`` or
    ``neutral`` (direction means nothing, e.g. the number of rows read).
    """

    label: str
    unit: str = "score"
    better: str = NEUTRAL


#: Metric key (``notebook.key``, nested keys joined by dots; shell-style wildcards
#: allowed) -> how it reads. The first matching entry wins, so exact keys come first
#: and the generic patterns at the end cover the notebooks' other error and fit scores.
METRICS: dict[str, Metric] = {
    # overview
    "overview.customers": Metric("Customers", "count", HIGHER),
    "overview.orders": Metric("Orders", "count", HIGHER),
    "overview.revenue": Metric("Revenue", "money", HIGHER),
    "overview.first_date": Metric("First order", "text"),
    "overview.last_date": Metric("Last order", "text"),
    "overview.rows_in": Metric("Rows read", "count"),
    "overview.rows_clean": Metric("Rows kept after cleaning", "count"),
    "overview.currency": Metric("Currency", "text"),
    # demand
    "demand.revenue_last_period": Metric("Revenue, last complete period", "money", HIGHER),
    "demand.revenue_change_pct": Metric("Revenue change on the period before", "percent", HIGHER),
    "demand.active_customers_last_period": Metric(
        "Customers buying in the last period", "count", HIGHER
    ),
    "demand.repeat_revenue_share": Metric("Revenue from returning customers", "share", HIGHER),
    "demand.median_days_between_orders": Metric("Typical days between orders", "days", LOWER),
    "demand.forecast_next_period": Metric("Revenue forecast, next period", "money", HIGHER),
    "demand.forecast_mape": Metric("Forecast error (MAPE, backtest)", "share", LOWER),
    "demand.baseline_mape": Metric("Naive forecast error (MAPE, backtest)", "share", LOWER),
    "demand.forecast_method": Metric("Forecast method (backtest winner)", "text"),
    "demand.forecast_mape_by_horizon.*": Metric(
        "Forecast error {key} period(s) ahead (MAPE, backtest)", "share", LOWER
    ),
    "demand.interval_coverage": Metric("Forecast interval: actuals inside (backtest)", "share"),
    "demand.abc_counts.*": Metric("Products in class {key}", "count"),
    # segmentation
    "segmentation.segment_counts.Champions": Metric("Champions (customers)", "count", HIGHER),
    "segmentation.segment_counts.Loyal": Metric("Loyal (customers)", "count", HIGHER),
    "segmentation.segment_counts.At Risk": Metric("At Risk (customers)", "count", LOWER),
    "segmentation.segment_counts.Can't Lose Them": Metric(
        "Can't Lose Them (customers)", "count", LOWER
    ),
    "segmentation.segment_counts.About to Sleep": Metric(
        "About to Sleep (customers)", "count", LOWER
    ),
    "segmentation.segment_counts.Hibernating": Metric("Hibernating (customers)", "count", LOWER),
    "segmentation.segment_counts.Lost": Metric("Lost (customers)", "count", LOWER),
    "segmentation.segment_counts.*": Metric("{key} (customers)", "count"),
    "segmentation.segment_revenue_share.*": Metric("{key}: share of revenue", "share"),
    "segmentation.tier_counts.*": Metric("Value tier {key} (customers)", "count"),
    "segmentation.stage_counts.loyal": Metric("Life stage loyal (customers)", "count", HIGHER),
    "segmentation.stage_counts.at risk": Metric("Life stage at risk (customers)", "count", LOWER),
    "segmentation.stage_counts.lapsed": Metric("Life stage lapsed (customers)", "count", LOWER),
    "segmentation.stage_counts.*": Metric("Life stage {key} (customers)", "count"),
    "segmentation.stage_bought_again.*": Metric(
        "Life stage {key}: share who bought again (out-of-time check)", "share"
    ),
    "segmentation.gini": Metric("Revenue concentration (Gini)", "score"),
    "segmentation.k": Metric("Behavioural clusters", "count"),
    "segmentation.silhouette": Metric("Cluster separation (silhouette)", "score"),
    "segmentation.migrated_share": Metric("Customers who changed segment", "share"),
    "segmentation.stage_counts.potential": Metric(
        "Potential customers (signed up, no purchase)", "count"
    ),
    # lifecycle (potential customers and conversion)
    "lifecycle.conversion_rate": Metric("Sign-ups converted to a first purchase", "share", HIGHER),
    "lifecycle.conversion_rate_interval": Metric("Conversion rate, 95% interval", "share"),
    "lifecycle.median_days_to_first_purchase": Metric(
        "Median days from sign-up to first purchase", "days", LOWER
    ),
    "lifecycle.converted_within_*_days": Metric("Converted within the horizon", "share", HIGHER),
    "lifecycle.potential": Metric("Potential customers (no purchase yet)", "count"),
    "lifecycle.conversion_rate_by_channel.*": Metric("Conversion rate: {key}", "share", HIGHER),
    # lifetime value
    "lifetime_value.time_unit": Metric("Model time unit", "text"),
    "lifetime_value.calibration_end": Metric("Calibration ends", "text"),
    "lifetime_value.chosen_model": Metric("Purchase model chosen", "text"),
    "lifetime_value.total_clv": Metric("Expected value of all customers", "money", HIGHER),
    "lifetime_value.total_clv_interval": Metric("Interval of that value", "money"),
    "lifetime_value.customers": Metric("Customers valued", "count", HIGHER),
    "lifetime_value.bgnbd.loglik": Metric("BG/NBD log-likelihood", "score"),
    "lifetime_value.pareto_nbd.loglik": Metric("Pareto/NBD log-likelihood", "score"),
    "lifetime_value.mbgnbd.loglik": Metric("MBG/NBD log-likelihood", "score"),
    "lifetime_value.bgnbd.*": Metric("BG/NBD parameter {key}", "score"),
    "lifetime_value.pareto_nbd.*": Metric("Pareto/NBD parameter {key}", "score"),
    "lifetime_value.mbgnbd.*": Metric("MBG/NBD parameter {key}", "score"),
    "lifetime_value.gamma_gamma.*": Metric("Gamma-Gamma (spend) parameter {key}", "score"),
    "lifetime_value.holdout_actual_total": Metric("Holdout purchases, actual", "count"),
    "lifetime_value.holdout_predicted_total": Metric("Holdout purchases, predicted", "count"),
    "lifetime_value.holdout_mae": Metric("Holdout error per customer (MAE)", "score", LOWER),
    "lifetime_value.baseline_mae": Metric("Baseline error per customer (MAE)", "score", LOWER),
    "lifetime_value.retention_uplift.points": Metric("Retention what-if: points added", "score"),
    "lifetime_value.retention_uplift.clv_change": Metric(
        "Value gained by that retention", "money", HIGHER
    ),
    "lifetime_value.retention_uplift.clv_change_pct": Metric(
        "Value gained by that retention, share of CLV", "share", HIGHER
    ),
    "lifetime_value.retention_uplift.interval": Metric("Interval of the value gained", "money"),
    "lifetime_value.winback_at_risk": Metric("Value of winning back the at-risk", "money", HIGHER),
    "lifetime_value.next_purchase.level": Metric("Next-purchase interval: coverage", "share"),
    "lifetime_value.next_purchase.customers": Metric(
        "Next-purchase intervals checked on the holdout", "count"
    ),
    "lifetime_value.next_purchase.inside": Metric(
        "Next purchase inside its interval (holdout)", "share"
    ),
    "lifetime_value.next_purchase.expected": Metric(
        "Next purchase inside its interval, model's expectation", "share"
    ),
    # churn
    "churn.window_days": Metric("Days without a purchase that count as churn", "days"),
    "churn.base_rate": Metric("Customers who churned (test period)", "share", LOWER),
    "churn.model_auc": Metric("Warning quality (ROC-AUC)", "score", HIGHER),
    "churn.model_pr_auc": Metric("Warning precision (PR-AUC)", "score", HIGHER),
    "churn.model_brier": Metric("Probability error (Brier score)", "score", LOWER),
    "churn.palive_auc": Metric("P(alive) baseline ROC-AUC", "score", HIGHER),
    "churn.palive_brier": Metric("P(alive) baseline Brier score", "score", LOWER),
    "churn.recency_auc": Metric("Recency baseline ROC-AUC", "score", HIGHER),
    "churn.chosen_model": Metric("Warning model chosen", "text"),
    "churn.active_days": Metric("Scored: customers who bought within", "days"),
    "churn.mean_predicted": Metric("Mean predicted churn (test period)", "share"),
    "churn.calibration_intercept": Metric("Calibration intercept (0 is right)", "score"),
    "churn.calibration_slope": Metric("Calibration slope (1 is right)", "score"),
    "churn.top_decile_ceiling": Metric("Best possible catch in the riskiest tenth", "share"),
    "churn.top_decile_capture": Metric("Churners caught in the riskiest tenth", "share", HIGHER),
    "churn.value_at_risk_total": Metric("Expected value at risk", "money", LOWER),
    "churn.customers_scored": Metric("Customers scored", "count"),
    # recommendations
    "recommendations.method": Metric("Recommendation method shipped", "text"),
    "recommendations.chosen_model": Metric("Best model on validation", "text"),
    "recommendations.k": Metric("Products per list", "count"),
    "recommendations.recall_at_k": Metric(
        "Next purchases named in the list (recall@k)", "share", HIGHER
    ),
    "recommendations.precision_at_k": Metric(
        "Listed products bought (precision@k)", "share", HIGHER
    ),
    "recommendations.ndcg_at_k": Metric("Ranking quality (NDCG@k)", "score", HIGHER),
    "recommendations.coverage": Metric("Catalogue covered by the lists", "share"),
    "recommendations.baseline_recall_at_k.*": Metric("Baseline recall@k: {key}", "share", HIGHER),
    "recommendations.lift_vs_best_baseline": Metric(
        "Recall gain over the best baseline", "share", HIGHER
    ),
    "recommendations.chosen_model_lift": Metric(
        "Best model's gain over the best baseline", "share", HIGHER
    ),
    "recommendations.validation_lift": Metric("Best model's gain, validation window", "share"),
    "recommendations.repeats_allowed": Metric("Already-bought products may be recommended", "text"),
    "recommendations.customers_evaluated": Metric("Customers in the test window", "count"),
    "recommendations.customers_scored": Metric("Customers with a list", "count"),
    # satisfaction
    "satisfaction.responses": Metric("Survey answers and reviews", "count", HIGHER),
    "satisfaction.nps": Metric("Net Promoter Score", "score", HIGHER),
    "satisfaction.csat": Metric("Satisfied customers (CSAT, top-2 box)", "share", HIGHER),
    "satisfaction.mean_score": Metric("Average score", "score", HIGHER),
    "satisfaction.top_driver": Metric("Strongest driver of the score", "text"),
    # behaviour
    "behaviour.visitors": Metric("Visitors", "count", HIGHER),
    "behaviour.overall_conversion": Metric("Visitors who bought (funnel)", "share", HIGHER),
    "behaviour.median_time_to_convert_hours": Metric("Median hours to buy", "score", LOWER),
    "behaviour.cart_abandonment_rate": Metric("Carts abandoned", "share", LOWER),
    "behaviour.multichannel_share": Metric("Customers using several channels", "share"),
    # generic: errors are better low, discrimination better high, anything else neutral
    "*mape": Metric("{name}", "share", LOWER),
    "*_mae": Metric("{name}", "score", LOWER),
    "*rmse": Metric("{name}", "score", LOWER),
    "*brier": Metric("{name}", "score", LOWER),
    "*auc": Metric("{name}", "score", HIGHER),
}


#: The key numbers a manager reads first (cards on the index page), in this order; the
#: page shows the first ones a period holds.
KPIS: tuple[str, ...] = (
    "demand.revenue_last_period",
    "demand.active_customers_last_period",
    "overview.customers",
    "lifetime_value.total_clv",
    "churn.value_at_risk_total",
    "churn.base_rate",
    "segmentation.stage_counts.at risk",
    "satisfaction.nps",
    "satisfaction.mean_score",
    "behaviour.overall_conversion",
    "lifecycle.conversion_rate",
    "recommendations.recall_at_k",
)


i18n.fixed_names(__name__, (m.label for m in METRICS.values()))


def metric_info(key: str) -> Metric:
    """How metric ``key`` (``notebook.name[.sub]``) reads; unknown keys are neutral scores.

    >>> metric_info("churn.model_brier").better, metric_info("demand.abc_counts.A").label
    ('lower', 'Products in class A')
    """
    for pattern, info in METRICS.items():
        if fnmatchcase(key, pattern):
            parts = key.split(".")
            name = _words(".".join(parts[1:]) or key)
            return Metric(info.label.format(key=parts[-1], name=name), info.unit, info.better)
    return Metric(_words(".".join(key.split(".")[1:]) or key))


def metric_label(key: str) -> str:
    """Metric ``key``'s name in the report's language (:func:`metric_info` keeps English).

    The label's template is translated (``{key} (customers)`` -> ``{key}（客户数）``), then
    filled with the key's last part, itself translated when it is a fixed name (a segment).
    """
    for pattern, info in METRICS.items():
        if fnmatchcase(key, pattern):
            parts = key.split(".")
            name = _words(".".join(parts[1:]) or key)
            return tr(info.label).format(key=tr_name(parts[-1]), name=name)
    return tr_name(metric_info(key).label)


def _words(name: str) -> str:
    """``segment_counts.At Risk`` -> ``Segment counts: At Risk``."""
    text = ": ".join(part.replace("_", " ") for part in name.split("."))
    return text[:1].upper() + text[1:]


def change_class(key: str, value, older) -> str:
    """``good``, ``bad`` or ``""`` (no change, no direction, not numbers) for an index cell."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, older))
    if not numbers or value == older:
        return ""
    better = metric_info(key).better
    if better == NEUTRAL:
        return ""
    return "good" if (value > older) == (better == HIGHER) else "bad"


def format_value(key: str, value, currency: str = "") -> str:
    """Metric ``key``'s raw value written for a reader, with its unit.

    >>> format_value("overview.revenue", 1123570.2, "£"), format_value("churn.base_rate", 0.4919)
    ('£1,123,570', '49.2%')
    """
    unit = metric_info(key).unit
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return tr("n/a")
    if isinstance(value, (list, tuple)):
        return " – ".join(format_value(key, v, currency) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{md_text(k)} {format_value(key, v, currency)}" for k, v in value.items())
    if isinstance(value, bool) or not isinstance(value, (int, float)) or unit == "text":
        return md_text(value)
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "money":
        return money(value, currency, compact=False)
    if unit == "share":
        return f"{value:.1%}"
    if unit == "percent":
        return f"{value:+.1f}%"
    if unit == "days":
        return tr("{n} days", n=f"{value:,.0f}")
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def flatten(metrics: Mapping | None, prefix: str = "", max_items: int = 12) -> dict[str, object]:
    """Nested metrics as ``a.b`` keys; dicts longer than ``max_items`` are left out."""
    flat: dict[str, object] = {}
    for key, value in (metrics or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and len(value) <= max_items:
            flat.update(flatten(value, f"{name}.", max_items))
        elif not isinstance(value, Mapping):
            flat[name] = value
    return flat


def headline(notebook: str, metrics: Mapping, currency: str = ""):
    """A notebook's headline numbers as a Markdown table: names, values with units.

    Parameters
    ----------
    notebook : str
        Short name of the notebook (``overview``, ``churn``, ...).
    metrics : mapping
        What the notebook records (nested dicts are shown one row per entry).
    currency : str
        Symbol for amounts (``tx.currency``).

    Returns
    -------
    IPython.display.Markdown
        Displayed as a table in the notebook and its HTML.
    """
    from IPython.display import Markdown

    rows = [f"| {tr('Headline number')} | {tr('value')} |", "|---|---:|"]
    for key, value in flatten(metrics, f"{notebook}.", max_items=50).items():
        if value is None or isinstance(value, str) and not value:
            continue
        label = md_text(metric_label(key))
        rows.append(f"| {label} | {format_value(key, value, currency).replace('|', '/')} |")
    return Markdown("\n".join(rows))
