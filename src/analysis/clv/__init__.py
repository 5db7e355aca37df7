"""Customer lifetime value: purchase models, spend model, discounted CLV, validation.

A subpackage with one module per concern, re-exported here as a flat public API
(``from analysis import clv; clv.fit_model(...)``):

- :mod:`~analysis.clv.models`: one spec per model (BG/NBD, MBG/NBD, Pareto/NBD,
  Gamma-Gamma): parameter names, likelihood, predictions, warm start, simulation, words;
  :class:`FittedModel`, :class:`ModelFitError`, :func:`compress`.
- :mod:`~analysis.clv.adapter`: the only module that touches ``lifetimes``.
- :mod:`~analysis.clv.fit`: ``fit_model(summary, model="bgnbd", time_unit="W")``,
  ``fit_spend(summary)``, ``loglik``, ``attempt``, ``on_grid``.
- :mod:`~analysis.clv.predict`: ``probability_alive``, ``expected_purchases``,
  ``probability_no_purchase``, ``expected_spend``, ``customer_value``, ``value_at_risk``.
- :mod:`~analysis.clv.validate`: windows, holdout forecasts against baselines,
  ``compare_models``, ``choose_model``, ``scorecard``, tracking and calibration data.
- :mod:`~analysis.clv.uncertainty`: ``bootstrap``, ``intervals``, ``with_model_error``.
- :mod:`~analysis.clv.covariates`: BG/NBD with time-invariant covariates (CLVTools'
  parametrisation) and a likelihood-ratio test.
- :mod:`~analysis.clv.tables` and :mod:`~analysis.clv.words`: the report's tables,
  sentences and headline metrics.

Every function takes the shared per-customer summary of :mod:`analysis.summary`
(columns ``frequency``, ``recency``, ``T``, ``monetary_value``; index ``customer_id``).
Fits use compressed sufficient statistics (unique rows with their counts as weights:
exact, and much faster); scoring is done once per unique row.
"""

from __future__ import annotations

from analysis.clv import adapter
from analysis.clv.covariates import (
    CovariateFit,
    bgnbd_loglik_rows,
    covariate_design,
    covariate_takeaway,
    fit_covariates,
)
from analysis.clv.fit import (
    PARETO_START_ROWS,
    attempt,
    fit_bgbb,
    fit_model,
    fit_spend,
    loglik,
    on_grid,
)
from analysis.clv.models import (
    DAYS_PER_MONTH,
    LABELS,
    MIN_REPEAT_BUYERS,
    MODEL_NAMES,
    PARAM_NAMES,
    PURCHASE_MODELS,
    RFT,
    SPECS,
    BGBBSpec,
    FittedModel,
    MBGSpec,
    ModelFitError,
    ParetoSpec,
    PurchaseSpec,
    SpendSpec,
    compress,
    param_text,
    spec_of,
)
from analysis.clv.predict import (
    VALUE_AT_RISK_DEFINITION,
    alive_history,
    bgbb_forecast,
    customer_value,
    expected_purchases,
    expected_purchases_new,
    expected_spend,
    model_matrix,
    periods_per_month,
    probability_alive,
    probability_no_purchase,
    probability_of_purchases,
    value_at_risk,
)
from analysis.clv.tables import (
    FREQUENCY_BINS,
    FREQUENCY_LABELS,
    WEEK_BINS,
    WEEK_LABELS,
    behaviour_matrix,
    segment_table,
    top_customers,
    value_segment,
)
from analysis.clv.uncertainty import (
    MODEL_ERROR_ROW,
    VALUE_SAMPLE,
    bootstrap,
    intervals,
    standard_errors,
    with_model_error,
    with_standard_errors,
)
from analysis.clv.validate import (
    baseline_predictions,
    calibration_fit,
    choose_model,
    compare_models,
    holdout_by_frequency,
    holdout_prediction,
    score,
    scorecard,
    spend_by_frequency,
    spend_correlation,
    top_decile_capture,
    tracking,
    windows,
)
from analysis.clv.words import (
    calibration_takeaway,
    clv_takeaway,
    comparison_takeaway,
    conditional_takeaway,
    dropout_note,
    findings,
    headline_metrics,
    history_takeaway,
    interval_style,
    matrix_takeaway,
    one_time_takeaway,
    scorecard_takeaway,
    setup_text,
    spend_takeaway,
    top_customers_takeaway,
    tracking_takeaway,
    uncertainty_takeaway,
)

__all__ = [
    "covariate_design",
    "covariate_takeaway",
    "CovariateFit",
    "bgnbd_loglik_rows",
    "fit_covariates",
    "history_takeaway",
    "alive_history",
    "model_matrix",
    "adapter",
    "BGBBSpec",
    "DAYS_PER_MONTH",
    "FREQUENCY_BINS",
    "FREQUENCY_LABELS",
    "FittedModel",
    "LABELS",
    "MBGSpec",
    "MIN_REPEAT_BUYERS",
    "MODEL_ERROR_ROW",
    "MODEL_NAMES",
    "ModelFitError",
    "PARAM_NAMES",
    "PARETO_START_ROWS",
    "PURCHASE_MODELS",
    "ParetoSpec",
    "PurchaseSpec",
    "RFT",
    "SPECS",
    "SpendSpec",
    "VALUE_AT_RISK_DEFINITION",
    "VALUE_SAMPLE",
    "WEEK_BINS",
    "WEEK_LABELS",
    "attempt",
    "baseline_predictions",
    "behaviour_matrix",
    "bgbb_forecast",
    "bootstrap",
    "calibration_fit",
    "calibration_takeaway",
    "choose_model",
    "clv_takeaway",
    "compare_models",
    "comparison_takeaway",
    "compress",
    "conditional_takeaway",
    "customer_value",
    "dropout_note",
    "expected_purchases",
    "expected_purchases_new",
    "expected_spend",
    "findings",
    "fit_bgbb",
    "fit_model",
    "fit_spend",
    "headline_metrics",
    "holdout_by_frequency",
    "holdout_prediction",
    "interval_style",
    "intervals",
    "loglik",
    "matrix_takeaway",
    "on_grid",
    "one_time_takeaway",
    "param_text",
    "periods_per_month",
    "probability_alive",
    "probability_no_purchase",
    "probability_of_purchases",
    "score",
    "scorecard",
    "scorecard_takeaway",
    "segment_table",
    "setup_text",
    "spec_of",
    "spend_by_frequency",
    "spend_correlation",
    "spend_takeaway",
    "standard_errors",
    "top_customers",
    "top_customers_takeaway",
    "top_decile_capture",
    "tracking",
    "tracking_takeaway",
    "uncertainty_takeaway",
    "value_at_risk",
    "value_segment",
    "windows",
    "with_model_error",
    "with_standard_errors",
]

# what retention is worth, and when customers buy next (issue 16)
from analysis.clv.retention import (  # noqa: E402
    RetentionUplift,
    life_stages,
    retention_rate,
    retention_uplift,
    scale_for_points,
    scenario_clv,
    uplift_table,
    uplift_takeaway,
    what_if_metrics,
)
from analysis.clv.timing import (  # noqa: E402
    coverage_takeaway,
    first_purchase_after,
    holdout_coverage,
    next_purchase,
    next_purchase_at,
    next_purchase_table,
    next_purchase_takeaway,
    wait_quantiles,
)

__all__ += [
    "RetentionUplift",
    "coverage_takeaway",
    "first_purchase_after",
    "holdout_coverage",
    "life_stages",
    "next_purchase",
    "next_purchase_at",
    "next_purchase_table",
    "next_purchase_takeaway",
    "retention_rate",
    "retention_uplift",
    "scale_for_points",
    "scenario_clv",
    "uplift_table",
    "uplift_takeaway",
    "wait_quantiles",
    "what_if_metrics",
]
