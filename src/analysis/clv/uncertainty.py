"""Uncertainty: bootstrap over customers on compressed data, percentile intervals, and the
range widened by the backtested model error."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.clv.fit import _fit_compressed
from analysis.clv.models import RFT, FittedModel, ModelFitError, _codes, _spend_array, compress
from analysis.clv.predict import _discounted_purchases
from analysis.clv.tables import value_segment

VALUE_SAMPLE = 50_000


def bootstrap(
    fitted: FittedModel,
    spend: FittedModel,
    summary: pd.DataFrame,
    draws: int = 50,
    seed: int = 0,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
) -> pd.DataFrame:
    """Bootstrap over customers, on compressed data: parameters and total / segment CLV.

    Each draw resamples customers with replacement (multinomial counts over the
    unique (frequency, recency, T, monetary_value) rows), refits the purchase and
    spend models (warm start), and values the *actual* customer base with the
    refitted parameters. Above ``VALUE_SAMPLE`` customers the valuation uses a
    fixed random sample of them: each segment's total is the point total times the
    ratio of the sample's refitted to point CLV (exact below that size).

    Parameters
    ----------
    fitted, spend : FittedModel
        Point fits on ``summary`` (purchase model; Gamma-Gamma).
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` per customer.
    draws : int
        Bootstrap replicates.

    Returns
    -------
    pandas.DataFrame
        One row per successful draw: the parameters of both models (spend ones
        prefixed ``spend_``), ``total_clv`` and ``clv: <segment>`` per
        :func:`value_segment`.
    """
    cols = RFT + ["monetary_value"]
    joint, _ = _codes(summary, cols)
    rft_unique, rft_codes = _codes(joint, RFT)
    spend_rows = ((joint["frequency"] > 0) & (joint["monetary_value"] > 0)).to_numpy()
    gg_rows = joint.loc[spend_rows, ["frequency", "monetary_value"]]

    # value a fixed sample of customers; segment totals scale by the ratio to the point fit
    rng = np.random.default_rng(seed)
    n = len(summary)
    sample = summary
    if n > VALUE_SAMPLE:
        sample = summary.iloc[np.sort(rng.choice(n, VALUE_SAMPLE, replace=False))]
    sample_unique, sample_codes = _codes(sample, RFT)
    segment_codes = value_segment(sample).cat.codes.to_numpy()
    names = value_segment(summary.iloc[:0]).cat.categories

    def segment_totals(purchase, spend_params, frame_unique, codes, frame, seg):
        discounted, _ = _discounted_purchases(purchase, frame_unique, horizon_months, discount_rate)
        each = discounted[codes] * _spend_array(
            spend_params, frame["frequency"], frame["monetary_value"]
        )
        return np.bincount(seg, weights=each, minlength=len(names))

    point_sample = segment_totals(
        fitted, spend.params, sample_unique, sample_codes, sample, segment_codes
    )
    if n > VALUE_SAMPLE:
        full_unique, full_codes = _codes(summary, RFT)
        full_seg = value_segment(summary).cat.codes.to_numpy()
        point_full = segment_totals(
            fitted, spend.params, full_unique, full_codes, summary, full_seg
        )
    else:
        point_full = point_sample

    p = joint["weights"].to_numpy(dtype=float)
    p /= p.sum()
    rows = []
    for _ in range(int(draws)):
        counts = rng.multinomial(n, p)
        rft = rft_unique[RFT].assign(weights=np.bincount(rft_codes, counts, len(rft_unique)))
        rft = rft.loc[rft["weights"] > 0]
        gg = gg_rows.assign(weights=counts[spend_rows])
        gg = gg.loc[gg["weights"] > 0]
        try:
            f_b = _fit_compressed(
                fitted.model,
                rft,
                fitted.time_unit,
                fitted.spec.warm_start(fitted.params, rft["T"].max()),
                getattr(fitted.engine, "hess_inv_", None),
            )
            s_b = _fit_compressed("gamma_gamma", gg, "W", spend.spec.warm_start(spend.params))
        except ModelFitError:
            continue
        row = dict(f_b.params)
        row.update({f"spend_{k}": v for k, v in s_b.params.items()})
        totals = segment_totals(f_b, s_b.params, sample_unique, sample_codes, sample, segment_codes)
        with np.errstate(divide="ignore", invalid="ignore"):
            totals = np.where(point_sample > 0, totals / point_sample * point_full, 0.0)
        row["total_clv"] = float(totals.sum()) if s_b.params["q"] > 1 else np.nan
        for name, value in zip(names, totals, strict=True):
            row[f"clv: {name}"] = float(value)
        rows.append(row)
    return pd.DataFrame(rows)


def intervals(point: dict, draws: pd.DataFrame, level: float = 0.90) -> pd.DataFrame:
    """Point estimates with bootstrap percentile intervals.

    Parameters
    ----------
    point : dict
        Name -> point estimate (names as :func:`bootstrap` columns).
    draws : pandas.DataFrame
        :func:`bootstrap` output.

    Returns
    -------
    pandas.DataFrame
        Index name: ``estimate``, ``low``, ``high``, ``draws`` (successful replicates).
    """
    tail = (1 - level) / 2
    rows = []
    for name, value in point.items():
        col = draws[name].dropna() if name in draws else pd.Series(dtype=float)
        low, high = col.quantile([tail, 1 - tail]).tolist() if len(col) >= 2 else [np.nan] * 2
        rows.append(
            {"quantity": name, "estimate": value, "low": low, "high": high, "draws": len(col)}
        )
    return pd.DataFrame(rows).set_index("quantity")


MODEL_ERROR_ROW = "total_clv_with_model_error"


def with_model_error(table: pd.DataFrame, holdout_error: float) -> pd.DataFrame:
    """Add the total-CLV range widened by the backtested error of the purchase forecast.

    The bootstrap interval covers the parameters only. The holdout total of the chosen
    model was off by ``holdout_error`` (predicted / actual - 1); an error of that size on
    the forward total, in either direction, widens the range to
    ``[low x (1 - |e|), high x (1 + |e|)]``. It still leaves out purchase-to-purchase
    randomness and the spend model's own error (not backtested).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`intervals` output with a ``total_clv`` row.
    holdout_error : float
        ``aggregate_error`` of the chosen model in :func:`compare_models`.

    Returns
    -------
    pandas.DataFrame
        ``table`` plus the row :data:`MODEL_ERROR_ROW` (NaN bounds when either input is).
    """
    row = table.loc["total_clv"]
    e = abs(float(holdout_error)) if holdout_error is not None else np.nan
    extra = pd.DataFrame(
        {
            "estimate": [row["estimate"]],
            "low": [row["low"] * (1 - e) if e < 1 else 0.0],
            "high": [row["high"] * (1 + e)],
            "draws": [row["draws"]],
            "holdout_error": [holdout_error],
        },
        index=pd.Index([MODEL_ERROR_ROW], name=table.index.name),
    )
    return pd.concat([table, extra])


def standard_errors(fitted: FittedModel, summary: pd.DataFrame) -> dict:
    """Asymptotic standard errors from the inverse Hessian of the log-likelihood.

    Central finite differences (relative step 1e-4) of the weighted log-likelihood on the
    compressed data at the fitted parameters, in their natural units; beside the bootstrap,
    which also carries the spend model and the CLV. CDNOW sample, Pareto/NBD: r 0.0476,
    alpha 0.843, s 0.187, beta 6.211.

    Returns
    -------
    dict
        Parameter name -> standard error (NaN when the Hessian is not positive definite).
    """
    from analysis.clv.fit import _data_columns, loglik

    columns = _data_columns(fitted.model)
    if "monetary_value" in columns:  # the spend model is fitted on repeat buyers only
        summary = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    rows = compress(summary, columns)
    names = list(fitted.params)
    x0 = np.array([fitted.params[k] for k in names], dtype=float)
    steps = 1e-4 * x0

    def nll(x):
        return -loglik(fitted.model, dict(zip(names, x, strict=True)), rows)

    k = len(x0)
    hess = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * steps[i], np.eye(k)[j] * steps[j]
            value = (nll(x0 + ei + ej) - nll(x0 + ei - ej) - nll(x0 - ei + ej)
                     + nll(x0 - ei - ej)) / (4 * steps[i] * steps[j])  # fmt: skip
            hess[i, j] = hess[j, i] = value
    if not np.all(np.isfinite(hess)) or np.linalg.eigvalsh(hess).min() <= 0:
        return dict.fromkeys(names, float("nan"))
    return dict(zip(names, np.sqrt(np.diag(np.linalg.inv(hess))).tolist(), strict=True))


def with_standard_errors(table: pd.DataFrame, errors: dict, prefix: str = "") -> pd.DataFrame:
    """:func:`intervals` table plus a ``Hessian SE`` column for the parameters in ``errors``
    (keys prefixed by ``prefix``, e.g. ``spend_``)."""
    out = table.copy()
    if "Hessian SE" not in out:
        out["Hessian SE"] = np.nan
    for name, value in errors.items():
        if prefix + name in out.index:
            out.loc[prefix + name, "Hessian SE"] = value
    return out
