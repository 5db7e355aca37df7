"""Holdout validation: windows, forecasts against naive baselines, model choice, the
figures' data (tracking, calibration fit, holdout by frequency) and the spend-model checks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.clv import adapter
from analysis.clv.fit import _fit_compressed
from analysis.clv.models import (
    MODEL_NAMES,
    PURCHASE_MODELS,
    RFT,
    FittedModel,
    ModelFitError,
    _check_columns,
    compress,
    param_text,
)
from analysis.clv.predict import expected_purchases
from analysis.errors import NotApplicable
from analysis.summary import TIME_UNITS
from analysis.text import tr


def holdout_prediction(fitted: FittedModel, calibration: pd.DataFrame) -> pd.Series:
    """Expected purchases of each calibration customer in the holdout window.

    Parameters
    ----------
    calibration : pandas.DataFrame
        Output of :func:`analysis.summary.calibration_holdout`: ``frequency``,
        ``recency``, ``T`` and ``duration_holdout`` (holdout length, same unit).
    """
    _check_columns(calibration, RFT + ["duration_holdout"])
    duration = float(calibration["duration_holdout"].iloc[0]) if len(calibration) else 0.0
    return expected_purchases(fitted, calibration, duration).rename("predicted")


#: Names of the naive forecasts of :func:`baseline_predictions`, in its order (the
#: scorecard's rows are ``baseline: <name>``); reports show their translation.
BASELINES = ("zero", "calibration rate", "average rate")


def baseline_predictions(calibration: pd.DataFrame) -> dict[str, pd.Series]:
    """Naive holdout forecasts to beat, per customer.

    - ``zero``: nobody buys again;
    - ``calibration rate``: each customer repeats their own calibration rate
      (repeat purchases / T) over the holdout;
    - ``average rate``: everyone buys at the population's calibration rate.
    """
    _check_columns(calibration, RFT + ["duration_holdout"])
    duration = calibration["duration_holdout"].to_numpy(dtype=float)
    t = calibration["T"].to_numpy(dtype=float)
    f = calibration["frequency"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(t > 0, f / t, 0.0) * duration
    pooled = f.sum() / max(t.sum(), 1e-12) * duration
    index = calibration.index
    return {
        "zero": pd.Series(0.0, index=index),
        "calibration rate": pd.Series(own, index=index),
        "average rate": pd.Series(pooled, index=index),
    }


def top_decile_capture(predicted: pd.Series, actual: pd.Series) -> float:
    """Share of holdout purchases made by the 10 % of customers ranked highest by ``predicted``.

    Ties are broken by customer order (stable sort), so a constant forecast captures
    about 10 % (chance level).
    """
    total = float(actual.sum())
    if total <= 0 or len(predicted) == 0:
        return float("nan")
    n = max(1, int(round(0.1 * len(predicted))))
    order = np.argsort(-predicted.to_numpy(dtype=float), kind="stable")[:n]
    return float(actual.to_numpy(dtype=float)[order].sum() / total)


def score(predicted: pd.Series, actual: pd.Series) -> dict:
    """Holdout error of one per-customer forecast: MAE, RMSE, totals, top-decile capture."""
    err = predicted.to_numpy(dtype=float) - actual.to_numpy(dtype=float)
    total_pred, total_act = float(predicted.sum()), float(actual.sum())
    return {
        "mae": float(np.abs(err).mean()) if len(err) else float("nan"),
        "rmse": float(np.sqrt((err**2).mean())) if len(err) else float("nan"),
        "predicted_total": total_pred,
        "actual_total": total_act,
        "aggregate_error": total_pred / total_act - 1 if total_act > 0 else float("nan"),
        "top_decile_capture": top_decile_capture(predicted, actual),
    }


def compare_models(
    calibration: pd.DataFrame, models=PURCHASE_MODELS, time_unit: str = "W"
) -> tuple[dict[str, FittedModel], pd.DataFrame]:
    """Fit each purchase model on the calibration summary and score it on the holdout.

    Parameters
    ----------
    calibration : pandas.DataFrame
        :func:`analysis.summary.calibration_holdout` output (``frequency``, ``recency``,
        ``T``, ``frequency_holdout``, ``duration_holdout``).
    models : sequence of str
        Purchase models to try.

    Returns
    -------
    fits : dict
        model -> :class:`FittedModel`, only for models that could be fitted.
    table : pandas.DataFrame
        One row per model (index ``model``): ``name``, ``parameters``, ``loglik``,
        ``aic``, ``converged``, ``predicted_total``, ``actual_total``,
        ``aggregate_error``, ``mae``, ``rmse``, ``top_decile_capture``, ``note``
        (why a model could not be fitted; empty otherwise).
    """
    _check_columns(calibration, RFT + ["frequency_holdout", "duration_holdout"])
    compressed = compress(calibration)
    actual = calibration["frequency_holdout"]
    fits, rows = {}, []
    for model in models:
        row = {"model": model, "name": MODEL_NAMES[model]}
        try:
            fitted = _fit_compressed(model, compressed, time_unit)
        except ModelFitError as exc:
            row.update(parameters="", converged=False, note=str(exc))
            rows.append(row)
            continue
        fits[model] = fitted
        row.update(
            parameters=param_text(fitted.params),
            loglik=fitted.loglik,
            aic=fitted.aic,
            converged=fitted.converged,
            note=fitted.message,
            **score(holdout_prediction(fitted, calibration), actual),
        )
        rows.append(row)
    columns = [
        "name", "parameters", "loglik", "aic", "converged", "predicted_total", "actual_total",
        "aggregate_error", "mae", "rmse", "top_decile_capture", "note",
    ]  # fmt: skip
    table = pd.DataFrame(rows).set_index("model").reindex(columns=columns)
    return fits, table


def choose_model(
    table: pd.DataFrame, override: str | None = None, criterion: str = "aggregate_error"
) -> str | None:
    """The purchase model to use: ``override`` if given, else the lowest holdout error.

    The default judges the holdout total (what CLV sums); MAE rewards forecasting the
    median customer (zero purchases) and ties the models on typical data.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`compare_models` table.
    override : str, optional
        Force a model (it must have been fitted).
    criterion : {"aggregate_error", "mae", "rmse"}
        Holdout error to minimise (absolute value for ``aggregate_error``, the default).

    Returns
    -------
    str or None
        The model key; None when no model could be fitted.
    """
    if criterion not in ("mae", "rmse", "aggregate_error"):
        raise ValueError(f"criterion '{criterion}' unknown; use mae, rmse or aggregate_error")
    fitted = table.dropna(subset=[criterion])
    if fitted.empty:
        return None
    if override:
        if override not in fitted.index:
            raise ValueError(f"model '{override}' was not fitted; choose from {list(fitted.index)}")
        return override
    error = fitted[criterion].abs()
    # near-ties (within 0.1 %) go to the first model listed, not to numerical noise
    return str(error.index[(error <= error.min() * 1.001 + 1e-12).to_numpy()][0])


def windows(first_date, as_of, holdout_days: int) -> dict:
    """Calibration and holdout windows: calibration ends ``holdout_days`` before ``as_of``.

    Returns
    -------
    dict
        ``calibration_end``, ``observation_end`` (Timestamps) and ``holdout_days``.

    Raises
    ------
    ValueError
        When the holdout would start before the data does.
    """
    as_of = pd.Timestamp(as_of).normalize()
    calibration_end = as_of - pd.Timedelta(days=int(holdout_days))
    if int(holdout_days) <= 0:
        raise ValueError(f"holdout_days must be at least 1, got {holdout_days}")
    first = pd.Timestamp(first_date).normalize()
    if calibration_end <= first:
        span = (as_of - first).days
        raise NotApplicable(
            tr(
                "the {span} days of purchases up to {date} are too short to fit the models "
                "and then check them on the {holdout} days that follow",
                span=span,
                date=as_of.date(),
                holdout=int(holdout_days),
            ),
            f"pass --param holdout_days={max(1, span // 3)} (a third of the history) "
            f"or choose a later as_of",
        )
    return {
        "calibration_end": calibration_end,
        "observation_end": as_of,
        "holdout_days": int(holdout_days),
    }


def tracking(
    frame: pd.DataFrame,
    calibration: pd.DataFrame,
    fitted: FittedModel,
    calibration_end,
    observation_end,
) -> pd.DataFrame:
    """Weekly repeat transactions of the calibration customers, actual vs model.

    Weeks end on ``calibration_end`` and every 7 days before and after it, from the
    week holding the first purchase day in ``calibration`` (week 1) up to
    ``observation_end`` (the first and last weeks may be partial: ``days`` < 7); a
    repeat transaction is a purchase day
    after the customer's first. The model line is the unconditional expectation
    ``sum_i E[X(t - first_i)]`` (grouped by first-purchase day, so it is cheap at scale).

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean transactions (``customer_id``, ``order_date``, ``amount``).
    calibration : pandas.DataFrame
        :func:`analysis.summary.calibration_holdout` output (``first_purchase``).

    Returns
    -------
    pandas.DataFrame
        Index ``week`` (1, 2, ...): ``week_end`` (last day), ``days`` (days of the week
        inside the data: 7, fewer for a partial first or last week), ``period``
        (calibration / holdout), ``actual``, ``predicted``, ``cum_actual``,
        ``cum_predicted``.
    """
    from analysis.summary import purchase_days

    _check_columns(calibration, ["first_purchase"])
    cal_end = pd.Timestamp(calibration_end).normalize()
    obs_end = pd.Timestamp(observation_end).normalize()
    first = calibration["first_purchase"]
    start = first.min()
    # weeks are anchored so that one ends exactly on calibration_end
    before = (cal_end - start).days + 1
    origin = cal_end + pd.Timedelta(days=1) - pd.Timedelta(days=7 * int(np.ceil(before / 7)))
    n_weeks = int(np.ceil(((obs_end - origin).days + 1) / 7))
    last_day = np.minimum(np.arange(1, n_weeks + 1) * 7 - 1, (obs_end - origin).days)
    first_day = np.maximum(np.arange(n_weeks) * 7, (start - origin).days)

    daily = purchase_days(frame, start=start, end=obs_end)
    # customers outside the calibration get NaT, and a comparison with NaT is False
    # (one hashed lookup: isin on a million string ids is a Python loop)
    repeat = daily["day"].to_numpy() > first.reindex(daily["customer_id"]).to_numpy()
    offsets = (daily.loc[repeat, "day"] - origin).dt.days.to_numpy()
    actual = np.bincount(offsets // 7, minlength=n_weeks)[:n_weeks].astype(float)

    cohorts = ((first - origin).dt.days).value_counts()
    unit = TIME_UNITS[fitted.time_unit]
    age = (last_day[:, None] - cohorts.index.to_numpy()[None, :]) / unit
    expected = np.where(
        age > 0, adapter.unconditional_expected(fitted.engine, np.clip(age, 0, None)), 0
    )
    cum_pred = (np.nan_to_num(expected) * cohorts.to_numpy()[None, :]).sum(axis=1)
    week_end = origin + pd.to_timedelta(last_day, unit="D")
    out = pd.DataFrame(
        {
            "week_end": week_end,
            "days": last_day - first_day + 1,
            "period": np.where(week_end <= cal_end, "calibration", "holdout"),
            "actual": actual,
            "predicted": np.diff(cum_pred, prepend=0.0),
            "cum_actual": actual.cumsum(),
            "cum_predicted": cum_pred,
        },
        index=pd.RangeIndex(1, n_weeks + 1, name="week"),
    )
    return out


def calibration_fit(
    fitted: FittedModel,
    calibration: pd.DataFrame,
    max_frequency: int = 7,
    seed: int = 0,
    draws: int = 200_000,
) -> pd.DataFrame:
    """Customers by number of repeat purchases in the calibration window, actual vs model.

    The model column is the expected count of customers (with the observed ages ``T``)
    making 0, 1, ... repeat purchases, estimated by simulating ``draws`` customers
    (seeded) from the fitted model.

    Returns
    -------
    pandas.DataFrame
        Index ``repeat purchases`` (``"0"`` ... ``"7+"``): ``actual``, ``model``.
    """
    _check_columns(calibration, ["frequency", "T"])
    rng = np.random.default_rng(seed)
    n = len(calibration)
    reps = max(1, int(np.ceil(draws / max(n, 1))))
    ages = np.tile(calibration["T"].to_numpy(dtype=float), reps)
    sim = fitted.spec.simulate(fitted.params, ages, rng)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]

    def counts(x):
        return np.bincount(np.minimum(x, max_frequency), minlength=max_frequency + 1)

    return pd.DataFrame(
        {
            "actual": counts(calibration["frequency"].to_numpy(dtype=int)),
            "model": counts(sim) / reps,
        },
        index=pd.Index(labels, name="repeat purchases"),
    )


def holdout_by_frequency(
    calibration: pd.DataFrame, predicted: pd.Series, max_frequency: int = 7
) -> pd.DataFrame:
    """Mean holdout purchases by calibration repeat purchases, actual vs predicted.

    Returns
    -------
    pandas.DataFrame
        Index ``repeat purchases in calibration`` (``"0"`` ... ``"7+"``):
        ``customers``, ``actual``, ``predicted`` (means per customer).
    """
    _check_columns(calibration, ["frequency", "frequency_holdout"])
    bucket = np.minimum(calibration["frequency"].to_numpy(dtype=int), max_frequency)
    frame = pd.DataFrame(
        {
            "bucket": bucket,
            "actual": calibration["frequency_holdout"].to_numpy(dtype=float),
            "predicted": predicted.reindex(calibration.index).to_numpy(dtype=float),
        }
    )
    out = frame.groupby("bucket").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    labels = {i: (str(i) if i < max_frequency else f"{max_frequency}+") for i in out.index}
    out.index = pd.Index([labels[i] for i in out.index], name="repeat purchases in calibration")
    return out


def scorecard(calibration: pd.DataFrame, fits: dict[str, FittedModel]) -> pd.DataFrame:
    """Per-customer holdout error of each fitted model next to naive baselines.

    Returns
    -------
    pandas.DataFrame
        Index ``forecast`` (model names, then ``baseline: ...``): ``kind``, ``mae``,
        ``rmse``, ``predicted_total``, ``actual_total``, ``aggregate_error``,
        ``top_decile_capture``.
    """
    actual = calibration["frequency_holdout"]
    rows = {}
    for fitted in fits.values():
        rows[fitted.name] = {
            "kind": "model",
            **score(holdout_prediction(fitted, calibration), actual),
        }
    for name, predicted in baseline_predictions(calibration).items():
        rows[f"baseline: {name}"] = {"kind": "baseline", **score(predicted, actual)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "forecast"
    return out


def spend_correlation(summary: pd.DataFrame) -> dict:
    """Correlation between repeat purchases and mean spend among repeat buyers.

    Gamma-Gamma assumes spend per purchase does not depend on how often a customer buys.

    Returns
    -------
    dict
        ``pearson``, ``spearman`` (NaN with fewer than 3 repeat buyers), ``repeat_buyers``.
    """
    _check_columns(summary, ["frequency", "monetary_value"])
    rows = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(rows) < 3:
        return {"pearson": np.nan, "spearman": np.nan, "repeat_buyers": len(rows)}
    x, m = rows["frequency"].astype(float), rows["monetary_value"].astype(float)
    return {
        "pearson": float(x.corr(m)),
        "spearman": float(x.rank().corr(m.rank())),
        "repeat_buyers": len(rows),
    }


def spend_by_frequency(summary: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Quartiles of mean repeat spend by number of repeat purchases (repeat buyers only).

    Returns
    -------
    pandas.DataFrame
        Index ``repeat purchases`` (``"1"`` ... ``"7+"``): ``customers``, ``q25``,
        ``median``, ``q75``, ``mean``.
    """
    _check_columns(summary, ["frequency", "monetary_value"])
    rows = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    bucket = np.minimum(rows["frequency"].to_numpy(dtype=int), max_frequency)
    grouped = rows["monetary_value"].groupby(bucket)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "q25": grouped.quantile(0.25),
            "median": grouped.median(),
            "q75": grouped.quantile(0.75),
            "mean": grouped.mean(),
        }
    )
    out.index = pd.Index(
        [str(i) if i < max_frequency else f"{max_frequency}+" for i in out.index],
        name="repeat purchases",
    )
    return out
