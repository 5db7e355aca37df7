"""Customer lifetime value: purchase models, spend model, discounted CLV, validation.

A thin interface over ``lifetimes`` (BG/NBD, Pareto/NBD, MBG/NBD, Gamma-Gamma) that
returns plain DataFrames, Series and dicts, so another engine could replace it.
Every function takes the shared per-customer summary of :mod:`analysis.summary`
(columns ``frequency``, ``recency``, ``T``, ``monetary_value``; index ``customer_id``).

Stable public API (other notebooks rely on these names and signatures)
----------------------------------------------------------------------
- ``fit_model(summary, model="bgnbd", time_unit="W") -> FittedModel``
  purchase model; ``FittedModel.params`` (dict), ``.loglik`` (on the original,
  unscaled data), ``.converged`` (bool), ``.aic``; raises :class:`ModelFitError`
  when the model cannot be fitted on these data.
- ``probability_alive(fitted, summary) -> Series`` P(alive) per customer.
- ``expected_purchases(fitted, summary, t) -> Series`` expected purchases in the
  next ``t`` time units per customer.
- ``fit_spend(summary) -> FittedModel`` Gamma-Gamma spend model on repeat buyers.
- ``expected_spend(spend, summary) -> Series`` expected mean spend per purchase.
- ``customer_value(fitted, spend, summary, horizon_months=12, discount_rate=0.10)
  -> DataFrame`` per customer: ``p_alive``, ``expected_purchases``,
  ``expected_spend``, ``clv`` (discounted), ``one_time_buyer``.

Fits use compressed sufficient statistics: the unique (frequency, recency, T) rows
with their counts as ``weights``; the likelihood is a weighted sum, so this is
exact and much faster. Scoring is also done once per unique row.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from analysis.summary import TIME_UNITS

PURCHASE_MODELS = ("bgnbd", "pareto_nbd", "mbgnbd")
MODEL_NAMES = {
    "bgnbd": "BG/NBD",
    "pareto_nbd": "Pareto/NBD",
    "mbgnbd": "MBG/NBD",
    "gamma_gamma": "Gamma-Gamma",
}
PARAM_NAMES = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "gamma_gamma": ("p", "q", "v"),
}
RFT = ["frequency", "recency", "T"]
DAYS_PER_MONTH = 365.25 / 12
MIN_REPEAT_BUYERS = 10


class ModelFitError(ValueError):
    """A model cannot be fitted on these data (too few repeat buyers, no convergence)."""


@dataclass
class FittedModel:
    """A fitted model as plain values (the engine object is kept private).

    Attributes
    ----------
    model : str
        ``bgnbd``, ``pareto_nbd``, ``mbgnbd`` or ``gamma_gamma``.
    params : dict
        Parameter name -> value (time-scale parameters in ``time_unit``).
    loglik : float
        Log-likelihood of the data at ``params`` (summed over customers, unscaled time).
    converged : bool
        Whether the optimiser reported convergence.
    customers : int
        Customers the model was fitted on.
    time_unit : str
        ``"W"`` or ``"D"``: the unit of recency / T the model was fitted in.
    """

    model: str
    params: dict
    loglik: float
    converged: bool
    customers: int
    time_unit: str = "W"
    message: str = ""
    engine: object = field(default=None, repr=False)

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``2k - 2 LL``."""
        return 2 * len(self.params) - 2 * self.loglik

    @property
    def name(self) -> str:
        """Display name, e.g. ``BG/NBD``."""
        return MODEL_NAMES[self.model]


# --------------------------------------------------------------------------- data helpers


def _check_columns(summary: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise ValueError(
            f"summary lacks column(s) {missing}; build it with analysis.summary.customer_summary"
        )


def compress(summary: pd.DataFrame, columns=RFT) -> pd.DataFrame:
    """Unique rows of ``columns`` with their customer counts (the sufficient statistics).

    Parameters
    ----------
    summary : pandas.DataFrame
        Per-customer summary with ``columns`` (default ``frequency``, ``recency``, ``T``).

    Returns
    -------
    pandas.DataFrame
        ``columns`` plus ``weights`` (customers with that row), sorted by ``columns``.
    """
    _check_columns(summary, columns)
    out = summary.groupby(list(columns), sort=True, observed=True).size().rename("weights")
    return out.reset_index()


def _codes(summary: pd.DataFrame, columns=RFT) -> tuple[pd.DataFrame, np.ndarray]:
    """Unique rows (sorted, as :func:`compress`) and each customer's row number in them."""
    _check_columns(summary, columns)
    grouped = summary.groupby(list(columns), sort=True, observed=True)
    return compress(summary, columns), grouped.ngroup().to_numpy()


def _engine_class(model: str):
    from lifetimes import (
        BetaGeoFitter,
        GammaGammaFitter,
        ModifiedBetaGeoFitter,
        ParetoNBDFitter,
    )

    classes = {
        "bgnbd": BetaGeoFitter,
        "pareto_nbd": ParetoNBDFitter,
        "mbgnbd": ModifiedBetaGeoFitter,
        "gamma_gamma": GammaGammaFitter,
    }
    if model not in classes:
        raise ValueError(f"model '{model}' unknown; use one of {sorted(classes)}")
    return classes[model]


# --------------------------------------------------------------------------- likelihoods


def loglik(model: str, params: dict, compressed: pd.DataFrame) -> float:
    """Log-likelihood of compressed data at ``params``, in the data's own time unit.

    ``lifetimes`` rescales time before optimising and stores the likelihood of the
    rescaled data, which is not the published one; this evaluates the model's own
    likelihood on the original recency / T (or frequency / spend for Gamma-Gamma).

    Parameters
    ----------
    compressed : pandas.DataFrame
        Output of :func:`compress`: ``frequency``, ``recency``, ``T``, ``weights``
        (Gamma-Gamma: ``frequency``, ``monetary_value``, ``weights``).
    """
    cls = _engine_class(model)
    theta = np.array([params[k] for k in PARAM_NAMES[model]], dtype=float)
    w = compressed["weights"].to_numpy(dtype=float)
    f = compressed["frequency"].to_numpy(dtype=float)
    if model == "gamma_gamma":
        m = compressed["monetary_value"].to_numpy(dtype=float)
        return float(-cls._negative_log_likelihood(np.log(theta), f, m, w, 0) * w.sum())
    r = compressed["recency"].to_numpy(dtype=float)
    t = compressed["T"].to_numpy(dtype=float)
    if model == "pareto_nbd":  # natural parameters; normalised by the mean weight
        return float(-cls._negative_log_likelihood(theta, f, r, t, w, 0) * w.mean())
    return float(-cls._negative_log_likelihood(np.log(theta), f, r, t, w, 0) * w.sum())


# --------------------------------------------------------------------------- fitting


def _quiet():
    """Silence lifetimes' prints and its known-harmless numerical warnings during a fit."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    # overflow / invalid values occur in trial steps of the optimiser far from the optimum
    warnings.simplefilter("ignore", RuntimeWarning)
    return stack


def _polish_pareto(engine, compressed: pd.DataFrame) -> tuple[dict, bool, str]:
    """Refine lifetimes' Nelder-Mead Pareto/NBD fit with BFGS on log-parameters.

    Nelder-Mead from a random start stops a few 1e-5 away from the optimum; BFGS from
    there reaches it, deterministically, and reports convergence.
    """
    scale = 1.0 / compressed["T"].max()
    args = (
        compressed["frequency"].to_numpy(dtype=float),
        compressed["recency"].to_numpy(dtype=float) * scale,
        compressed["T"].to_numpy(dtype=float) * scale,
        compressed["weights"].to_numpy(dtype=float),
        0.0,
    )
    start = engine.params_.to_numpy(dtype=float).copy()
    start[[1, 3]] *= scale

    per_customer = args[3].mean() / args[3].sum()  # lifetimes divides by the mean weight

    def objective(log_theta):
        value = engine._negative_log_likelihood(np.exp(log_theta), *args) * per_customer
        return value if np.isfinite(value) else 1e10

    out = minimize(objective, np.log(start), method="BFGS", options={"gtol": 1e-7})
    theta = np.exp(out.x)
    theta[[1, 3]] /= scale
    gradient = float(np.abs(out.jac).max())
    ok = bool(out.success) or gradient < 1e-5
    message = "" if ok else f"{out.message} (gradient {gradient:.1e})"
    return dict(zip(PARAM_NAMES["pareto_nbd"], theta.tolist(), strict=True)), ok, message


def _fit_compressed(model: str, compressed: pd.DataFrame, time_unit: str, initial=None):
    """Fit ``model`` on compressed rows; return a :class:`FittedModel`."""
    cls = _engine_class(model)
    customers = int(compressed["weights"].sum())
    w = compressed["weights"].to_numpy()
    f = compressed["frequency"].to_numpy()
    repeaters = int(w[f > 0].sum())
    if repeaters < MIN_REPEAT_BUYERS:
        raise ModelFitError(
            f"{MODEL_NAMES[model]} needs at least {MIN_REPEAT_BUYERS} repeat buyers; "
            f"these data have {repeaters}"
        )
    engine = cls()
    message = ""
    with _quiet():
        try:
            if model == "gamma_gamma":
                engine.fit(f, compressed["monetary_value"], weights=w, initial_params=initial)
            elif model == "pareto_nbd":
                start = np.ones(4) if initial is None else initial
                engine.fit(
                    f, compressed["recency"], compressed["T"], weights=w, initial_params=start
                )
            else:
                engine.fit(
                    f, compressed["recency"], compressed["T"], weights=w, initial_params=initial
                )
        except Exception as exc:  # lifetimes raises ConvergenceError / LinAlgError / ValueError
            raise ModelFitError(f"{MODEL_NAMES[model]} could not be fitted: {exc}".strip()) from exc
        converged = True
        if model == "pareto_nbd":
            params, converged, message = _polish_pareto(engine, compressed)
            engine.params_ = pd.Series(params)[list(PARAM_NAMES[model])]
        params = {k: float(v) for k, v in engine.params_.items()}
    if not all(np.isfinite(v) and v > 0 for v in params.values()):
        raise ModelFitError(f"{MODEL_NAMES[model]} fit gave invalid parameters {params}")
    return FittedModel(
        model=model,
        params=params,
        loglik=loglik(model, params, compressed),
        converged=converged,
        customers=customers,
        time_unit=time_unit,
        message=message,
        engine=engine,
    )


def fit_model(summary: pd.DataFrame, model: str = "bgnbd", time_unit: str = "W") -> FittedModel:
    """Fit a purchase model (BG/NBD, Pareto/NBD or MBG/NBD) to a customer summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per customer with ``frequency`` (repeat purchases), ``recency`` and
        ``T`` in ``time_unit`` (from :func:`analysis.summary.customer_summary`).
    model : {"bgnbd", "pareto_nbd", "mbgnbd"}
    time_unit : {"W", "D"}
        The unit of ``recency`` and ``T`` (used to convert horizons in months).

    Returns
    -------
    FittedModel
        Plain parameters, log-likelihood on the original data, convergence flag.

    Raises
    ------
    ModelFitError
        When the model cannot be fitted on these data.
    """
    if model not in PURCHASE_MODELS:
        raise ValueError(f"purchase model '{model}' unknown; use one of {list(PURCHASE_MODELS)}")
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit '{time_unit}' unknown; use one of {sorted(TIME_UNITS)}")
    return _fit_compressed(model, compress(summary), time_unit)


def fit_spend(summary: pd.DataFrame) -> FittedModel:
    """Fit the Gamma-Gamma spend model on repeat buyers (``frequency`` > 0).

    Parameters
    ----------
    summary : pandas.DataFrame
        ``frequency`` and ``monetary_value`` (mean spend of the repeat purchases).

    Returns
    -------
    FittedModel
        ``params`` p, q, v; ``customers`` = repeat buyers with positive spend used.
    """
    _check_columns(summary, ["frequency", "monetary_value"])
    rows = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    return _fit_compressed("gamma_gamma", compress(rows, ["frequency", "monetary_value"]), "W")


# --------------------------------------------------------------------------- scoring


def _per_customer(summary, columns, values_on_unique, name) -> pd.Series:
    unique, codes = _codes(summary, columns)
    values = np.asarray(values_on_unique(unique), dtype=float)
    return pd.Series(values[codes], index=summary.index, name=name)


def _rft(unique: pd.DataFrame):
    return (
        unique["frequency"].to_numpy(dtype=float),
        unique["recency"].to_numpy(dtype=float),
        unique["T"].to_numpy(dtype=float),
    )


def probability_alive(fitted: FittedModel, summary: pd.DataFrame) -> pd.Series:
    """P(alive) at the end of the summary's window, per customer.

    Parameters
    ----------
    fitted : FittedModel
        A purchase model from :func:`fit_model`.
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` per customer (same time unit as the fit).

    Returns
    -------
    pandas.Series
        ``p_alive`` indexed like ``summary``. Note: BG/NBD gives 1 to one-time
        buyers by construction (they cannot have "died" before a repeat purchase).
    """
    engine = fitted.engine
    return _per_customer(
        summary, RFT, lambda u: engine.conditional_probability_alive(*_rft(u)), "p_alive"
    )


def expected_purchases(fitted: FittedModel, summary: pd.DataFrame, t: float) -> pd.Series:
    """Expected purchases in the next ``t`` time units, per customer.

    Parameters
    ----------
    fitted : FittedModel
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` per customer.
    t : float
        Horizon in the fit's time unit (weeks for ``time_unit="W"``).

    Returns
    -------
    pandas.Series
        ``expected_purchases`` indexed like ``summary``.
    """
    engine = fitted.engine
    with _quiet():
        return _per_customer(
            summary,
            RFT,
            lambda u: engine.conditional_expected_number_of_purchases_up_to_time(t, *_rft(u)),
            "expected_purchases",
        )


def expected_spend(spend: FittedModel, summary: pd.DataFrame) -> pd.Series:
    """Expected mean spend per future purchase (Gamma-Gamma), per customer.

    One-time buyers (``frequency`` 0) get the population mean spend
    ``p v / (q - 1)``: the model has no spend history of theirs to shrink.
    """
    _check_columns(summary, ["frequency", "monetary_value"])
    p, q, v = (spend.params[k] for k in ("p", "q", "v"))
    population = p * v / (q - 1) if q > 1 else np.nan

    def on_unique(u):
        x = u["frequency"].to_numpy(dtype=float)
        m = u["monetary_value"].to_numpy(dtype=float)
        weight = (q - 1) / (p * x + q - 1)
        return np.where(x > 0, weight * population + (1 - weight) * m, population)

    return _per_customer(summary, ["frequency", "monetary_value"], on_unique, "expected_spend")


def periods_per_month(time_unit: str) -> float:
    """How many time units (weeks or days) one month holds (365.25 / 12 days)."""
    return DAYS_PER_MONTH / TIME_UNITS[time_unit]


def _discounted_purchases(fitted: FittedModel, unique: pd.DataFrame, months: int, rate: float):
    """Sum over months of expected purchases in that month / (1 + monthly rate) ** month."""
    step = periods_per_month(fitted.time_unit)
    monthly = (1.0 + rate) ** (1.0 / 12.0) - 1.0
    engine = fitted.engine
    args = _rft(unique)
    total = np.zeros(len(unique))
    previous = np.zeros(len(unique))
    with _quiet():
        for i in range(1, int(months) + 1):
            cum = engine.conditional_expected_number_of_purchases_up_to_time(i * step, *args)
            cum = np.asarray(cum, dtype=float)
            total += (cum - previous) / (1.0 + monthly) ** i
            previous = cum
    return total, previous


def customer_value(
    fitted: FittedModel,
    spend: FittedModel,
    summary: pd.DataFrame,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
) -> pd.DataFrame:
    """Discounted customer lifetime value over the next ``horizon_months``, per customer.

    CLV = sum over months m of E[purchases in month m] x E[spend per purchase] /
    (1 + monthly rate) ** m, with the monthly rate equivalent to the annual
    ``discount_rate``. Scored once per unique (frequency, recency, T) row.

    Parameters
    ----------
    fitted : FittedModel
        Purchase model (:func:`fit_model`), same time unit as ``summary``.
    spend : FittedModel
        Gamma-Gamma model (:func:`fit_spend`).
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` per customer.
    horizon_months : int
        How far ahead to look.
    discount_rate : float
        Annual discount rate (0.10 = 10 %).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``summary``: ``frequency``, ``recency``, ``T``, ``monetary_value``,
        ``one_time_buyer``, ``p_alive``, ``expected_purchases`` (undiscounted, over the
        horizon), ``expected_spend``, ``clv``.
    """
    _check_columns(summary, RFT + ["monetary_value"])
    unique, codes = _codes(summary, RFT)
    discounted, undiscounted = _discounted_purchases(fitted, unique, horizon_months, discount_rate)
    out = summary[RFT + ["monetary_value"]].copy()
    out["one_time_buyer"] = out["frequency"] == 0
    out["p_alive"] = probability_alive(fitted, summary)
    out["expected_purchases"] = undiscounted[codes]
    out["expected_spend"] = expected_spend(spend, summary)
    out["clv"] = discounted[codes] * out["expected_spend"].to_numpy()
    return out
