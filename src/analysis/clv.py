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

Validation, uncertainty and reporting (used by ``03_lifetime_value``):
``compare_models``, ``choose_model``, ``holdout_prediction``, ``baseline_predictions``,
``score``, ``scorecard``, ``tracking``, ``calibration_fit``, ``holdout_by_frequency``,
``spend_correlation``, ``spend_by_frequency``, ``segment_table``, ``top_customers``,
``behaviour_matrix``, ``bootstrap``, ``intervals``, ``headline_metrics`` and the
``*_takeaway`` sentence builders.

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

from analysis.errors import NotApplicable
from analysis.summary import TIME_UNITS
from analysis.text import amount

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
LABELS = {
    "name": "model",
    "loglik": "log-likelihood",
    "aic": "AIC",
    "predicted_total": "holdout predicted",
    "actual_total": "holdout actual",
    "aggregate_error": "total error",
    "mae": "MAE",
    "rmse": "RMSE",
    "top_decile_capture": "top-10% capture",
}  # display names of the comparison / scorecard columns
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


def _polish_pareto(
    engine, compressed: pd.DataFrame, hess_inv=None, gtol: float = 1e-7
) -> tuple[dict, bool, str]:
    """Refine lifetimes' Nelder-Mead Pareto/NBD fit with BFGS on log-parameters.

    Nelder-Mead stops a few 1e-5 away from the optimum; BFGS from there reaches it,
    deterministically, and reports convergence. ``hess_inv`` (from a polish on a
    subsample) lets BFGS on many rows converge in a few steps. Sets
    ``engine.hess_inv_`` for the next stage.
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

    x = np.log(start)
    options = {"gtol": gtol}
    if hess_inv is not None:
        hess_inv = (np.asarray(hess_inv) + np.asarray(hess_inv).T) / 2
        if np.all(np.isfinite(hess_inv)) and np.linalg.eigvalsh(hess_inv).min() > 0:
            options["hess_inv0"] = hess_inv
            # quasi-Newton steps with the known curvature: a few cheap steps usually suffice
            x, grad = _newton_steps(objective, x, hess_inv, gtol)
    if "hess_inv0" in options and np.abs(grad).max() < gtol:
        engine.hess_inv_ = options.get("hess_inv0")
        out = None
    else:
        out = minimize(objective, x, method="BFGS", options=options)
        engine.hess_inv_ = (
            _numeric_hess_inv(objective, out.x, out.hess_inv)
            if len(compressed) <= PARETO_START_ROWS  # 64 evaluations: only where cheap
            else out.hess_inv
        )
        x, grad = out.x, out.jac
    theta = np.exp(x)
    theta[[1, 3]] /= scale
    gradient = float(np.abs(grad).max())
    ok = (out is None or bool(out.success)) or gradient < max(1e-5, 10 * gtol)
    message = "" if ok else f"{out.message} (gradient {gradient:.1e})"
    return dict(zip(PARAM_NAMES["pareto_nbd"], theta.tolist(), strict=True)), ok, message


def _central_gradient(objective, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient (the Pareto/NBD likelihood has no autograd path)."""
    steps = np.eye(len(x)) * eps
    return np.array([(objective(x + h) - objective(x - h)) / (2 * eps) for h in steps])


def _numeric_hess_inv(objective, x: np.ndarray, fallback, h: float = 1e-4) -> np.ndarray:
    """Inverse of a finite-difference Hessian at ``x`` (``fallback`` if not positive definite).

    BFGS's own inverse-Hessian estimate can be poor along flat directions; this one
    lets the next fit (more rows, or a bootstrap draw) converge in a few Newton steps.
    """
    cols = [
        (_central_gradient(objective, x + e) - _central_gradient(objective, x - e)) / (2 * h)
        for e in np.eye(len(x)) * h
    ]
    hess = np.array(cols)
    hess = (hess + hess.T) / 2
    if np.all(np.isfinite(hess)) and np.linalg.eigvalsh(hess).min() > 0:
        return np.linalg.inv(hess)
    return fallback


def _newton_steps(objective, x: np.ndarray, hess_inv: np.ndarray, gtol: float, steps: int = 6):
    """Up to ``steps`` steps ``x - H^-1 g`` with step halving; stop when the gradient is small.

    Uses forward differences (4 extra evaluations per gradient, accurate to about 1e-6),
    enough for the 1e-5 tolerance of large data and bootstrap refits.

    Returns
    -------
    (x, gradient) : the last point and its gradient.
    """
    eps = 1e-6
    value = objective(x)
    grad = np.full(len(x), np.inf)
    for _ in range(steps):
        grad = np.array([(objective(x + h) - value) / eps for h in np.eye(len(x)) * eps])
        if np.abs(grad).max() < gtol:
            break
        step = hess_inv @ grad
        for _halving in range(8):
            trial = x - step
            trial_value = objective(trial)
            if trial_value <= value:
                x, value = trial, trial_value
                break
            step = step / 2
        else:
            break
    return x, grad


PARETO_START_ROWS = 20_000
VALUE_SAMPLE = 50_000


def _subsample(compressed: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """Compressed rows of a seeded random sample of customers, when there are more than ``rows``."""
    if len(compressed) <= rows:
        return compressed
    w = compressed["weights"].to_numpy(dtype=float)
    counts = np.random.default_rng(seed).multinomial(rows, w / w.sum())
    return compressed.assign(weights=counts).loc[counts > 0]


def _bounded_fit(engine, model: str, compressed: pd.DataFrame, initial=None) -> str:
    """Fallback when lifetimes' unbounded BFGS fails (typically a parameter running to 0).

    Minimises the same likelihood with L-BFGS-B, log-parameters bounded to [-25, 25];
    sets ``engine.params_`` and returns a message for the comparison table.
    """
    f = compressed["frequency"].to_numpy(dtype=float)
    w = compressed["weights"].to_numpy(dtype=float)
    if model == "gamma_gamma":
        args = (f, compressed["monetary_value"].to_numpy(dtype=float), w, 0.0)
        scale = 1.0
    else:
        scale = 1.0 / compressed["T"].max()
        args = (f, compressed["recency"].to_numpy(dtype=float) * scale,
                compressed["T"].to_numpy(dtype=float) * scale, w, 0.0)  # fmt: skip

    from autograd import value_and_grad  # lifetimes' own dependency, as in its fitters

    value_grad = value_and_grad(engine._negative_log_likelihood)

    def objective(log_theta):
        value, grad = value_grad(log_theta, *args)
        if not np.isfinite(value):
            return 1e10, np.zeros_like(log_theta)
        return float(value), np.nan_to_num(np.asarray(grad, dtype=float))

    start = np.zeros(len(PARAM_NAMES[model])) if initial is None else np.clip(initial, -24, 24)
    out = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(-25, 25)] * len(start))
    if not np.isfinite(out.fun) or out.fun >= 1e10:
        raise ModelFitError(f"{MODEL_NAMES[model]} could not be fitted: {out.message}")
    theta = np.exp(out.x)
    if model != "gamma_gamma":
        theta[1] /= scale
    engine.params_ = pd.Series(theta, index=list(PARAM_NAMES[model]))
    at_bound = np.abs(out.x) >= 24.9
    if out.success and not at_bound.any():
        return ""
    names = [n for n, b in zip(PARAM_NAMES[model], at_bound, strict=True) if b]
    return "refitted with bounds; " + (
        f"{', '.join(names)} at the boundary" if names else str(out.message)
    )


def _fit_compressed(
    model: str, compressed: pd.DataFrame, time_unit: str, initial=None, hess_inv=None
):
    """Fit ``model`` on compressed rows; return a :class:`FittedModel`.

    ``initial`` (lifetimes' internal parametrisation, see :func:`_warm_start`) marks a
    warm-started refit, e.g. a bootstrap draw: it goes straight to a gradient optimiser
    and skips lifetimes' Hessian and standard errors, which cost more than the fit.
    ``hess_inv`` seeds the Pareto/NBD BFGS curvature.
    """
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
            if initial is not None and model != "pareto_nbd":
                message = _bounded_fit(engine, model, compressed, initial)
            elif model == "gamma_gamma":
                engine.fit(f, compressed["monetary_value"], weights=w, initial_params=initial)
            elif model == "pareto_nbd" and initial is None:
                # Nelder-Mead (deterministic start) on at most PARETO_START_ROWS rows; the
                # BFGS polish below then reaches the optimum on all rows
                start_rows = _subsample(compressed, PARETO_START_ROWS)
                engine.fit(
                    start_rows["frequency"],
                    start_rows["recency"],
                    start_rows["T"],
                    weights=start_rows["weights"],
                    initial_params=np.ones(4),
                )
            elif model == "pareto_nbd":  # warm start: the BFGS polish below is enough
                scale = 1.0 / compressed["T"].max()
                engine.params_ = pd.Series(
                    initial * np.array([1, 1 / scale, 1, 1 / scale]), index=PARAM_NAMES[model]
                )
            else:
                engine.fit(
                    f, compressed["recency"], compressed["T"], weights=w, initial_params=initial
                )
        except Exception as exc:  # lifetimes raises ConvergenceError / LinAlgError / ValueError
            if model == "pareto_nbd":
                raise ModelFitError(f"{MODEL_NAMES[model]} could not be fitted: {exc}") from exc
            message = _bounded_fit(engine, model, compressed, initial)
        converged = not message
        if model == "pareto_nbd":
            if initial is None and len(compressed) > PARETO_START_ROWS:
                params, _, _ = _polish_pareto(engine, start_rows)  # cheap curvature estimate
                engine.params_ = pd.Series(params)[list(PARAM_NAMES[model])]
                hess_inv = engine.hess_inv_
            # per-customer gradient tolerance: tight on small data (cheap, reproduces published
            # values); 1e-5 on large data or warm refits, still far inside the standard errors
            gtol = 1e-7 if initial is None and len(compressed) <= PARETO_START_ROWS else 1e-5
            params, converged, message = _polish_pareto(engine, compressed, hess_inv, gtol)
            engine.params_ = pd.Series(params)[list(PARAM_NAMES[model])]
        params = {k: float(v) for k, v in engine.params_.items()}
        ll = loglik(model, params, compressed) if all(v > 0 for v in params.values()) else np.nan
    if not np.isfinite(ll):
        message = (message + "; " if message else "") + "log-likelihood not computable here"
    if not all(np.isfinite(v) and v > 0 for v in params.values()):
        raise ModelFitError(f"{MODEL_NAMES[model]} fit gave invalid parameters {params}")
    return FittedModel(
        model=model,
        params=params,
        loglik=float(ll),
        converged=converged,
        customers=customers,
        time_unit=time_unit,
        message=message,
        engine=engine,
    )


def on_grid(summary: pd.DataFrame, grid: float) -> pd.DataFrame:
    """``recency`` and ``T`` rounded to the nearest multiple of ``grid`` (their own unit).

    Fewer distinct (frequency, recency, T) rows make compressed fits faster, at the
    price of changing the data: see ``benchmarks/README.md`` for the measured effect.
    """
    if not grid > 0:
        raise ValueError(f"grid must be a positive time step, got {grid!r}")
    out = summary.copy()
    for col in ("recency", "T"):
        out[col] = np.round(out[col].to_numpy(dtype=float) / grid) * grid
    return out


def fit_model(
    summary: pd.DataFrame,
    model: str = "bgnbd",
    time_unit: str = "W",
    grid: float | None = None,
) -> FittedModel:
    """Fit a purchase model (BG/NBD, Pareto/NBD or MBG/NBD) to a customer summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per customer with ``frequency`` (repeat purchases), ``recency`` and
        ``T`` in ``time_unit`` (from :func:`analysis.summary.customer_summary`).
    model : {"bgnbd", "pareto_nbd", "mbgnbd"}
    time_unit : {"W", "D"}
        The unit of ``recency`` and ``T`` (used to convert horizons in months).
    grid : float, optional
        Fit on ``recency`` and ``T`` rounded to this step (e.g. 1 = whole weeks):
        an approximation for speed (see :func:`on_grid`). None (default) fits the
        exact data, compressed without loss.

    Returns
    -------
    FittedModel
        Plain parameters, log-likelihood on the data fitted, convergence flag.

    Raises
    ------
    ModelFitError
        When the model cannot be fitted on these data.
    """
    if model not in PURCHASE_MODELS:
        raise ValueError(f"purchase model '{model}' unknown; use one of {list(PURCHASE_MODELS)}")
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit '{time_unit}' unknown; use one of {sorted(TIME_UNITS)}")
    data = summary if grid is None else on_grid(summary, grid)
    return _fit_compressed(model, compress(data), time_unit)


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


def _pareto_palive_quadrature(params: dict, x, tx, T, nodes: int = 128) -> np.ndarray:
    """Pareto/NBD P(alive) from its integral form, in log space (finite for any x).

    P(alive) = 1 / (1 + D / A) with A = (α+T)^-(r+x) (β+T)^-s (alive at T) and
    D = ∫_tx^T s (α+τ)^-(r+x) (β+τ)^-(s+1) dτ (died at τ after the last purchase);
    the integral by Gauss-Legendre on [tx, T]. lifetimes' closed form (Gaussian
    hypergeometric functions) overflows to NaN for heavy buyers (x > ~100), which
    this replaces.
    """
    from scipy.special import expit, logsumexp

    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    x, tx, T = (np.asarray(v, dtype=float)[:, None] for v in (x, tx, T))
    u, w = np.polynomial.legendre.leggauss(nodes)
    half = (T - tx) / 2.0
    tau = tx + half * (u + 1.0)
    with np.errstate(divide="ignore"):
        log_dead = logsumexp(
            np.log(w) + np.log(half) + np.log(s)
            - (r + x) * np.log(alpha + tau) - (s + 1.0) * np.log(beta + tau),
            axis=1,
        )  # fmt: skip
    log_alive = (-(r + x) * np.log(alpha + T) - s * np.log(beta + T))[:, 0]
    return np.where(half[:, 0] > 0, expit(log_alive - log_dead), 1.0)


def _pareto_fixed(fitted: FittedModel, unique: pd.DataFrame, values: np.ndarray, t=None):
    """Replace lifetimes' non-finite Pareto/NBD P(alive) (or expected purchases) rows."""
    bad = ~np.isfinite(values)
    if fitted.model != "pareto_nbd" or not bad.any():
        return values
    x, tx, T = (a[bad] for a in _rft(unique))
    p = _pareto_palive_quadrature(fitted.params, x, tx, T)
    if t is not None:  # E[X(t) | alive] * P(alive) (Fader, Hardie & Lee 2005 note, eq. 22)
        r, alpha, s, beta = (fitted.params[k] for k in ("r", "alpha", "s", "beta"))
        scale = (r + x) * (beta + T) / ((alpha + T) * (s - 1.0))
        p = p * scale * (1.0 - ((beta + T) / (beta + T + t)) ** (s - 1.0))
    out = values.copy()
    out[bad] = p
    return out


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

    def on_unique(u: pd.DataFrame) -> np.ndarray:
        with _quiet():
            values = np.asarray(engine.conditional_probability_alive(*_rft(u)), dtype=float)
        return _pareto_fixed(fitted, u, values)

    return _per_customer(summary, RFT, on_unique, "p_alive")


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

    def on_unique(u: pd.DataFrame) -> np.ndarray:
        with _quiet():
            values = engine.conditional_expected_number_of_purchases_up_to_time(t, *_rft(u))
        return _pareto_fixed(fitted, u, np.asarray(values, dtype=float), t)

    return _per_customer(summary, RFT, on_unique, "expected_purchases")


def expected_spend(spend: FittedModel, summary: pd.DataFrame) -> pd.Series:
    """Expected mean spend per future purchase (Gamma-Gamma), per customer.

    One-time buyers (``frequency`` 0) get the population mean spend
    ``p v / (q - 1)``: the model has no spend history of theirs to shrink.
    """
    _check_columns(summary, ["frequency", "monetary_value"])

    def on_unique(u):
        return _spend_array(spend.params, u["frequency"], u["monetary_value"])

    return _per_customer(summary, ["frequency", "monetary_value"], on_unique, "expected_spend")


def _spend_array(params: dict, frequency, monetary) -> np.ndarray:
    """Gamma-Gamma expected spend per purchase on arrays (population mean when frequency is 0)."""
    p, q, v = (params[k] for k in ("p", "q", "v"))
    population = p * v / (q - 1) if q > 1 else np.nan
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    weight = (q - 1) / (p * x + q - 1)
    return np.where(x > 0, weight * population + (1 - weight) * m, population)


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


# --------------------------------------------------------------------------- holdout validation


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


def param_text(params: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in params.items())


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
    table: pd.DataFrame, override: str | None = None, criterion: str = "mae"
) -> str | None:
    """The purchase model to use: ``override`` if given, else the lowest holdout error.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`compare_models` table.
    override : str, optional
        Force a model (it must have been fitted).
    criterion : {"mae", "rmse", "aggregate_error"}
        Holdout error to minimise (absolute value for ``aggregate_error``).

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


def dropout_note(fitted: FittedModel) -> str:
    """A sentence when the fit finds (almost) no customer dropout, else an empty string.

    BG/NBD and MBG/NBD: mean dropout chance per purchase ``a / (a + b)`` below 1 %;
    Pareto/NBD: ``s`` below 0.01 (dropout rates concentrated at zero).
    """
    p = fitted.params
    if fitted.model in ("bgnbd", "mbgnbd"):
        none = p["a"] / (p["a"] + p["b"]) < 0.01
    elif fitted.model == "pareto_nbd":
        none = p["s"] < 0.01
    else:
        return ""
    if not none:
        return ""
    return (
        f"{fitted.name} finds almost no customer dropout in these data (its dropout parameters "
        "sit at their lower bound), so P(alive) is close to 100 % for everyone and the models "
        "behave alike; rank customers by expected purchases or CLV, not by P(alive)."
    )


def attempt(function, *args, **kwargs):
    """Call a fitting function; return ``(result, None)``, or ``(None, reason)`` on ModelFitError.

    Lets a notebook say in words why a model is missing and carry on.
    """
    try:
        return function(*args, **kwargs), None
    except ModelFitError as exc:
        return None, str(exc)


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
            f"the {span} days of purchases up to {as_of.date()} are too short to fit the "
            f"models and then check them on the {int(holdout_days)} days that follow",
            f"pass --param holdout_days={max(1, span // 3)} (a third of the history) "
            f"or choose a later as_of",
        )
    return {
        "calibration_end": calibration_end,
        "observation_end": as_of,
        "holdout_days": int(holdout_days),
    }


def setup_text(calibration: pd.DataFrame, summary: pd.DataFrame, win: dict, unit: str) -> str:
    """The windows and their counts, in words (markdown)."""
    unit_name = {"W": "weeks", "weeks": "weeks", "D": "days", "days": "days"}[unit]
    return (
        f"**Calibration** up to {win['calibration_end']:%Y-%m-%d}: "
        f"{len(calibration):,} customers made {int(calibration['frequency'].sum()):,} repeat "
        f"purchases. **Holdout** {win['calibration_end'] + pd.Timedelta(days=1):%Y-%m-%d} to "
        f"{win['observation_end']:%Y-%m-%d} ({win['holdout_days']} days): the same customers made "
        f"{int(calibration['frequency_holdout'].sum()):,} repeat purchases. "
        f"**Forward-looking numbers** use all {len(summary):,} customers up to "
        f"{win['observation_end']:%Y-%m-%d}. Time is measured in {unit_name}; purchases on the "
        "same day count once."
    )


# ------------------------------------------------------------------ validation figures' data


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
    daily = daily.loc[daily["customer_id"].isin(calibration.index)]
    repeat = daily["day"].to_numpy() > first.reindex(daily["customer_id"]).to_numpy()
    offsets = (daily.loc[repeat, "day"] - origin).dt.days.to_numpy()
    actual = np.bincount(offsets // 7, minlength=n_weeks)[:n_weeks].astype(float)

    cohorts = ((first - origin).dt.days).value_counts()
    unit = TIME_UNITS[fitted.time_unit]
    age = (last_day[:, None] - cohorts.index.to_numpy()[None, :]) / unit
    with _quiet():
        expected = np.where(
            age > 0, fitted.engine.expected_number_of_purchases_up_to_time(np.clip(age, 0, None)), 0
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


def _simulate_repeat(fitted: FittedModel, ages: np.ndarray, rng) -> np.ndarray:
    """Repeat purchases of simulated customers of the given ages under the model."""
    p = fitted.params
    n = len(ages)
    lam = rng.gamma(p["r"], 1.0 / p["alpha"], n)
    if fitted.model == "pareto_nbd":
        mu = rng.gamma(p["s"], 1.0 / p["beta"], n)
        lifetime = rng.exponential(1.0 / np.maximum(mu, 1e-300))
        return rng.poisson(lam * np.minimum(lifetime, ages))
    drop = rng.beta(p["a"], p["b"], n)
    # BG/NBD: dropout after each repeat purchase; MBG/NBD: also right at the first one
    before_dropout = rng.geometric(np.clip(drop, 1e-12, 1.0)) - (fitted.model == "mbgnbd")
    return np.minimum(rng.poisson(lam * ages), before_dropout)


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
    sim = _simulate_repeat(fitted, ages, rng)
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


# --------------------------------------------------------------------------- uncertainty


def value_segment(values: pd.DataFrame) -> pd.Series:
    """Purchase-history segment of each customer: one-time buyers, 2-3 purchases, 4+ purchases.

    Parameters
    ----------
    values : pandas.DataFrame
        ``frequency`` (repeat purchases) per customer.
    """
    _check_columns(values, ["frequency"])
    f = values["frequency"].to_numpy()
    labels = np.where(f == 0, "one-time buyers", np.where(f <= 2, "2-3 purchases", "4+ purchases"))
    order = ["one-time buyers", "2-3 purchases", "4+ purchases"]
    return pd.Series(pd.Categorical(labels, categories=order), index=values.index, name="segment")


def _warm_start(fitted: FittedModel, compressed: pd.DataFrame) -> np.ndarray:
    """Initial parameters for lifetimes in its own (time-scaled, log or natural) space."""
    theta = np.array([fitted.params[k] for k in PARAM_NAMES[fitted.model]], dtype=float)
    if fitted.model == "gamma_gamma":
        return np.log(theta)
    theta[1] *= 1.0 / compressed["T"].max()
    if fitted.model == "pareto_nbd":
        theta[3] *= 1.0 / compressed["T"].max()
        return theta
    return np.log(theta)


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
                _warm_start(fitted, rft),
                getattr(fitted.engine, "hess_inv_", None),
            )
            s_b = _fit_compressed("gamma_gamma", gg, "W", _warm_start(spend, gg))
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


# --------------------------------------------------------------------------- spend model checks


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


def spend_takeaway(corr: dict, spend: FittedModel | None, currency: str = "") -> str:
    """Plain-words check of the Gamma-Gamma independence assumption and its fit."""
    if not np.isfinite(corr["pearson"]):
        return (
            f"Only {corr['repeat_buyers']} repeat buyers: too few to check whether spend "
            "depends on purchase frequency, or to fit a spend model."
        )
    r = corr["pearson"]
    if abs(r) < 0.3:
        verdict = (
            f"Spend per purchase barely moves with purchase frequency (correlation {r:.2f} "
            f"across {corr['repeat_buyers']:,} repeat buyers), so the Gamma-Gamma spend model's "
            "key assumption holds."
        )
    else:
        verdict = (
            f"**Caution:** spend per purchase is correlated with purchase frequency "
            f"(correlation {r:.2f}), which the Gamma-Gamma model assumes away; CLV of "
            "frequent buyers is biased accordingly and should be read as indicative."
        )
    if spend is not None:
        p, q, v = (spend.params[k] for k in ("p", "q", "v"))
        if q > 1:
            verdict += (
                " The fitted model expects an average of "
                f"{amount(p * v / (q - 1), currency, 2)} per purchase for a new or "
                "one-time customer."
            )
    return verdict


# --------------------------------------------------------------------------- CLV tables


def segment_table(values: pd.DataFrame) -> pd.DataFrame:
    """Customers and CLV by purchase-history segment (one-time buyers shown explicitly).

    Parameters
    ----------
    values : pandas.DataFrame
        :func:`customer_value` output.

    Returns
    -------
    pandas.DataFrame
        Index ``segment``: ``customers``, ``share of customers``, ``mean P(alive)``,
        ``expected purchases``, ``expected spend``, ``CLV per customer``,
        ``total CLV``, ``share of CLV``.
    """
    _check_columns(values, ["frequency", "p_alive", "expected_purchases", "expected_spend", "clv"])
    grouped = values.groupby(value_segment(values), observed=False)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "mean P(alive)": grouped["p_alive"].mean(),
            "expected purchases": grouped["expected_purchases"].mean(),
            "expected spend": grouped["expected_spend"].mean(),
            "CLV per customer": grouped["clv"].mean(),
            "total CLV": grouped["clv"].sum(),
        }
    )
    out.insert(1, "share of customers", out["customers"] / max(len(values), 1))
    out["share of CLV"] = out["total CLV"] / out["total CLV"].sum()
    out.index.name = "segment"
    return out


def one_time_takeaway(segments: pd.DataFrame, fitted: FittedModel, currency: str = "") -> str:
    """How one-time buyers are treated and what they are worth, in words."""
    row = segments.loc["one-time buyers"]
    if row["customers"] == 0:
        return "Every customer has bought at least twice, so no one-time-buyer caveat applies."
    text = (
        f"{row['share of customers']:.0%} of customers ({int(row['customers']):,}) have bought "
        f"only once. They hold {row['share of CLV']:.0%} of total CLV "
        f"({amount(row['CLV per customer'], currency, 2)} each on average). "
        "With no repeat purchase there is no spend history to learn from, so each is valued at "
        f"the population's average spend ({amount(row['expected spend'], currency, 2)}). "
    )
    if fitted.model == "bgnbd":
        text += (
            "BG/NBD also reports P(alive) = 100 % for every one-time buyer (in that model a "
            "customer can only drop out right after a repeat purchase); this is a modelling "
            "artefact, not a sign they are active: their expected purchases still fall with "
            "the time since their only purchase, so do not use P(alive) alone to rank them."
        )
    elif dropout_note(fitted):
        text += dropout_note(fitted)
    else:
        text += (
            f"{fitted.name} lets one-time buyers drop out, so their P(alive) "
            f"(average {row['mean P(alive)']:.0%}) falls with the time since their only purchase."
        )
    return text


def top_customers_takeaway(top: pd.DataFrame, spend: FittedModel, currency: str = "") -> str:
    """What drives the top of the CLV list, flagging values that rest on outsized orders.

    Parameters
    ----------
    top : pandas.DataFrame
        :func:`top_customers` output (``customer_id``, ``expected spend``, ``CLV``).
    """
    if top.empty:
        return ""
    p, q, v = (spend.params[k] for k in ("p", "q", "v"))
    typical = p * v / (q - 1) if q > 1 else np.nan
    text = f"The top {len(top)} customers are worth {amount(top['CLV'].sum(), currency)} together. "
    odd = top.loc[top["expected spend"] > 10 * typical]
    if np.isfinite(typical) and len(odd):
        ids = ", ".join(odd["customer_id"].astype(str).head(3))
        text += (
            f"**Check before acting:** the value of {len(odd)} of them ({ids}) rests on an "
            f"average order more than ten times the typical {amount(typical, currency)}; confirm "
            "those orders were not cancelled, wholesale or one-off before treating them as "
            "repeatable."
        )
    else:
        text += "Their value comes from frequent, recent buying rather than a few outsized orders."
    return text


def top_customers(
    values: pd.DataFrame, n: int = 10, anonymize: bool = False, time_unit: str = "W"
) -> pd.DataFrame:
    """The ``n`` customers with the highest CLV, ids pseudonymised when asked.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``purchases`` (purchase days so far), ``weeks since last purchase``
        (``days ...`` when ``time_unit`` is days), ``P(alive)``, ``expected purchases``,
        ``expected spend``, ``CLV``.
    """
    from analysis.privacy import display_ids

    top = values.nlargest(n, "clv")
    since = f"{'days' if TIME_UNITS[time_unit] == 1 else 'weeks'} since last purchase"
    out = pd.DataFrame(
        {
            "customer_id": top.index.astype(str),
            "purchases": (top["frequency"] + 1).astype(int).to_numpy(),
            since: (top["T"] - top["recency"]).to_numpy(),
            "P(alive)": top["p_alive"].to_numpy(),
            "expected purchases": top["expected_purchases"].to_numpy(),
            "expected spend": top["expected_spend"].to_numpy(),
            "CLV": top["clv"].to_numpy(),
        }
    )
    return display_ids(out, anonymize).reset_index(drop=True)


FREQUENCY_BINS = [-0.5, 0.5, 1.5, 2.5, 3.5, 5.5, 9.5, 19.5, np.inf]
FREQUENCY_LABELS = ["0", "1", "2", "3", "4-5", "6-9", "10-19", "20+"]
WEEK_BINS = [-np.inf, 4, 8, 13, 26, 39, 52, 78, np.inf]
WEEK_LABELS = ["<4", "4-8", "8-13", "13-26", "26-39", "39-52", "52-78", "78+"]


def behaviour_matrix(values: pd.DataFrame, column: str, time_unit: str = "W") -> pd.DataFrame:
    """Mean of ``column`` by repeat purchases (rows) x weeks since last purchase (columns).

    An aggregate over the actual customers (cheap at any scale); empty cells are NaN.

    Parameters
    ----------
    values : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` and ``column`` (e.g. ``p_alive``).
    """
    _check_columns(values, RFT + [column])
    weeks = (values["T"] - values["recency"]) * TIME_UNITS[time_unit] / 7.0
    rows = pd.cut(values["frequency"], FREQUENCY_BINS, labels=FREQUENCY_LABELS)
    cols = pd.cut(weeks, WEEK_BINS, labels=WEEK_LABELS, right=False)
    table = values[column].groupby([rows, cols], observed=False).mean().unstack()
    table.index.name = "repeat purchases"
    table.columns.name = "weeks since last purchase"
    return table.dropna(how="all").dropna(axis=1, how="all")


# --------------------------------------------------------------------------- scorecard and words


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


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def comparison_takeaway(table: pd.DataFrame, chosen: str) -> str:
    """Which model is used below, and why, in words."""
    row = table.loc[chosen]
    failed = table.loc[table["mae"].isna()]
    text = (
        f"**{row['name']}** is used below: over the holdout it predicts "
        f"{row['predicted_total']:,.0f} repeat purchases against {row['actual_total']:,.0f} "
        f"actual ({_pct(row['aggregate_error'])}), with a per-customer error of "
        f"{row['mae']:.2f} purchases (MAE)."
    )
    others = table.drop(index=[chosen]).dropna(subset=["mae"])
    if len(others):
        parts = [f"{r['name']} {r['mae']:.2f}" for _, r in others.iterrows()]
        text += " Other models' MAE: " + ", ".join(parts) + "."
    not_converged = table.loc[table["mae"].notna() & ~table["converged"].astype(bool)]
    for _, r in not_converged.iterrows():
        text += f" {r['name']} did not fully converge ({r['note']}); treat its numbers with care."
    for _, r in failed.iterrows():
        text += f" {r['name']} could not be fitted: {r['note']}."
    spread = others["mae"].max() - row["mae"] if len(others) else np.inf
    if spread <= 0.001 * row["mae"] + 1e-12:
        text += " All models forecast practically the same, so the choice hardly matters."
    return text


def tracking_takeaway(track: pd.DataFrame) -> str:
    """How closely the model tracks weekly repeat purchases, in calibration and holdout."""
    cal = track.loc[track["period"] == "calibration"]
    hold = track.loc[track["period"] == "holdout"]
    text = ""
    if len(cal):
        end = cal.iloc[-1]
        text += (
            "This is the population-level forecast (it does not use each customer's own "
            "history). "
            f"By the end of calibration (week {cal.index[-1]}) customers had made "
            f"{end['cum_actual']:,.0f} repeat purchases; "
            f"the model says {end['cum_predicted']:,.0f}. "
        )
    if len(hold):
        actual = hold["actual"].sum()
        predicted = hold["predicted"].sum()
        error = predicted / actual - 1 if actual > 0 else np.nan
        direction = "under" if error < 0 else "over"
        text += (
            f"Over the {len(hold)}-week holdout, which the model never saw, it predicted "
            f"{predicted:,.0f} against {actual:,.0f} actual ({_pct(error)}): it "
            f"{direction}-forecasts by {abs(error):.0%}, "
        )
        text += (
            "close enough to plan volumes with."
            if abs(error) <= 0.15
            else "so treat forward totals as rough and watch the trend."
        )
    return text


def calibration_takeaway(fit: pd.DataFrame) -> str:
    """Whether the model reproduces how many customers bought 0, 1, 2, ... times again."""
    share_zero = fit["actual"].iloc[0] / fit["actual"].sum()
    model_zero = fit["model"].iloc[0] / fit["model"].sum()
    gap = (fit["model"] - fit["actual"]).abs().sum() / 2 / fit["actual"].sum()
    return (
        f"{share_zero:.0%} of customers made no repeat purchase in the calibration window; the "
        f"model expects {model_zero:.0%}. Across all purchase counts the model misplaces "
        f"{gap:.1%} of customers, "
        + ("a good fit." if gap < 0.05 else "so the shape of buying is only roughly captured.")
    )


def conditional_takeaway(by_freq: pd.DataFrame) -> str:
    """How holdout predictions hold up for light and heavy buyers."""
    heavy = by_freq.iloc[-1]
    light = by_freq.iloc[0]
    return (
        f"Customers with {by_freq.index[0]} repeat purchases in calibration bought "
        f"{light['actual']:.2f} times on average in the holdout (model {light['predicted']:.2f}); "
        f"those with {by_freq.index[-1]} bought {heavy['actual']:.2f} times "
        f"(model {heavy['predicted']:.2f}). The model ranks customers the right way: "
        "past frequency is a strong signal of future buying, shrunk towards the average."
    )


def clv_takeaway(values: pd.DataFrame, horizon_months: int, rate: float, currency: str = "") -> str:
    """Total CLV and its concentration, in words."""
    clv = values["clv"].sort_values(ascending=False)
    total = clv.sum()
    top = clv.iloc[: max(1, int(round(0.1 * len(clv))))].sum() / total if total > 0 else np.nan
    return (
        f"The {len(clv):,} customers are expected to bring {amount(total, currency)} over the next "
        f"{horizon_months} months (discounted at {rate:.0%} a year), "
        f"{amount(clv.mean(), currency, 2)} per customer on average but a median of "
        f"{amount(clv.median(), currency, 2)}: the top 10 % "
        f"of customers hold {top:.0%} of that value, so retention effort pays most there."
    )


def uncertainty_takeaway(table: pd.DataFrame, level: float, currency: str = "") -> str:
    """The CLV total with its interval, in words."""
    row = table.loc["total_clv"]
    if not np.isfinite(row["low"]):
        return (
            "The bootstrap could not produce an interval (too few successful refits); the total "
            "CLV above has no range and should not be quoted alone."
        )
    spread = (row["high"] - row["low"]) / 2 / row["estimate"] if row["estimate"] else np.nan
    return (
        f"Total CLV is {amount(row['estimate'], currency)}, with a {level:.0%} interval of "
        f"{amount(row['low'], currency)} to {amount(row['high'], currency)} "
        f"(about ±{spread:.0%}, from "
        f"{int(row['draws'])} bootstrap refits over customers). The interval covers uncertainty "
        "in the model's parameters, not a change in how customers behave."
    )


def scorecard_takeaway(card: pd.DataFrame, chosen_name: str) -> str:
    """How the chosen model compares with the naive forecasts, in words."""
    model = card.loc[chosen_name]
    baselines = card.loc[card["kind"] == "baseline"]
    best = baselines["mae"].idxmin()
    capture_best = baselines["top_decile_capture"].max()
    beats = model["mae"] < baselines.loc[best, "mae"]
    text = (
        f"{chosen_name} errs by {model['mae']:.2f} purchases per customer (MAE) against "
        f"{baselines.loc[best, 'mae']:.2f} for the best naive forecast ({best.split(': ')[1]}); "
    )
    text += (
        "it beats every baseline on that measure. "
        if beats
        else "a naive forecast is as good on this measure. "
    )
    text += (
        f"The 10 % of customers it ranks highest made {model['top_decile_capture']:.0%} of all "
        f"holdout purchases (best baseline {capture_best:.0%}), and its total is off by "
        f"{_pct(model['aggregate_error'])}."
    )
    closer = baselines.dropna(subset=["aggregate_error"])
    closer = closer.loc[closer["aggregate_error"].abs() < abs(model["aggregate_error"])]
    if len(closer):
        name = closer["aggregate_error"].abs().idxmin()
        text += (
            f" For the total alone, the naive '{name.split(': ')[1]}' forecast came closer "
            f"({_pct(closer.loc[name, 'aggregate_error'])}): use the model to rank and target "
            "customers, and check totals against simple run-rates."
        )
    return text


def headline_metrics(
    fits: dict[str, FittedModel],
    spend: FittedModel | None,
    card: pd.DataFrame | None,
    chosen: str | None,
    values: pd.DataFrame | None,
    uncertainty: pd.DataFrame | None,
) -> dict:
    """The ``lifetime_value`` metrics (models and spend model fitted on the calibration window).

    Parameters
    ----------
    fits : dict
        Calibration fits from :func:`compare_models` (missing models become None).
    spend : FittedModel or None
        Gamma-Gamma fitted on the calibration window.
    card : pandas.DataFrame or None
        :func:`scorecard` table.
    chosen : str or None
        Chosen model key.
    values : pandas.DataFrame or None
        Forward :func:`customer_value` output.
    uncertainty : pandas.DataFrame or None
        :func:`intervals` table with a ``total_clv`` row.

    Returns
    -------
    dict
        ``bgnbd``, ``pareto_nbd``, ``mbgnbd`` ({params..., loglik} or None),
        ``gamma_gamma`` ({p, q, v} or None), ``holdout_actual_total``,
        ``holdout_predicted_total``, ``holdout_mae``, ``baseline_mae``,
        ``chosen_model``, ``total_clv``, ``total_clv_interval``, ``customers``.
    """
    out = {}
    for model in PURCHASE_MODELS:
        f = fits.get(model)
        out[model] = None if f is None else {**f.params, "loglik": f.loglik}
    out["gamma_gamma"] = None if spend is None else dict(spend.params)
    row = card.loc[MODEL_NAMES[chosen]] if card is not None and chosen else None
    base = card.loc["baseline: calibration rate"] if card is not None else None
    out["holdout_actual_total"] = None if base is None else base["actual_total"]
    out["holdout_predicted_total"] = None if row is None else row["predicted_total"]
    out["holdout_mae"] = None if row is None else row["mae"]
    out["baseline_mae"] = None if base is None else base["mae"]
    out["chosen_model"] = chosen
    out["total_clv"] = None if values is None else float(values["clv"].sum())
    interval = None
    if uncertainty is not None and "total_clv" in uncertainty.index:
        interval = uncertainty.loc["total_clv", ["low", "high"]].tolist()
    out["total_clv_interval"] = interval
    out["customers"] = None if values is None else len(values)
    return out


def interval_style(table: pd.DataFrame, currency: str = ""):
    """Styled :func:`intervals` table: parameters to 4 significant digits, CLV rows as money."""
    money = [i for i in table.index if str(i).startswith("clv") or i == "total_clv"]
    other = [i for i in table.index if i not in money]
    cols = ["estimate", "low", "high"]
    renamed = {"total_clv": "CLV: all customers"}
    renamed.update({i: "CLV: " + str(i)[5:] for i in money if str(i).startswith("clv: ")})
    return (
        table.style.format("{:.4g}", subset=pd.IndexSlice[other, cols], na_rep="–")
        .format(currency + "{:,.0f}", subset=pd.IndexSlice[money, cols], na_rep="–")
        .format_index(lambda i: renamed.get(i, i), axis=0)
    )


def matrix_takeaway(values: pd.DataFrame, fitted: FittedModel) -> str:
    """What the P(alive) grid says about silence after frequent buying, in words.

    Compares customers with 4 or more repeat purchases whose last purchase was under
    8 weeks ago with those silent for 26 weeks or more.
    """
    _check_columns(values, RFT + ["p_alive", "expected_purchases"])
    note = dropout_note(fitted)
    if note:
        return note
    weeks = (values["T"] - values["recency"]) * TIME_UNITS[fitted.time_unit] / 7.0
    frequent = values["frequency"] >= 4
    recent = values.loc[frequent & (weeks < 8), "p_alive"]
    silent = values.loc[frequent & (weeks >= 26), "p_alive"]
    if len(recent) == 0 or len(silent) == 0:
        return (
            "Customers who bought often and recently are the ones the model expects back; "
            "too few frequent buyers have gone quiet to compare the two."
        )
    return (
        f"Frequent buyers (5+ purchases) who bought in the last 8 weeks are {recent.mean():.0%} "
        f"likely to still be active; the same kind of customer silent for 26 weeks or more only "
        f"{silent.mean():.0%} ({len(silent):,} customers): for a regular buyer, a long silence is "
        "the clearest churn signal, and worth a win-back contact."
    )


def findings(
    card: pd.DataFrame | None,
    chosen: str | None,
    values: pd.DataFrame | None,
    uncertainty: pd.DataFrame | None,
    horizon_months: int = 12,
    currency: str = "",
) -> str:
    """The notebook's conclusions as markdown bullets (what a manager reads first).

    Parameters
    ----------
    card : pandas.DataFrame or None
        :func:`scorecard` table.
    chosen : str or None
        Chosen model key.
    values : pandas.DataFrame or None
        :func:`customer_value` output.
    uncertainty : pandas.DataFrame or None
        :func:`intervals` table.
    """
    if chosen is None or card is None:
        return "- No purchase model could be fitted on these data, so there is no CLV forecast."
    row = card.loc[MODEL_NAMES[chosen]]
    base = card.loc["baseline: calibration rate"]
    points = [
        f"- **Trust:** on the holdout, {MODEL_NAMES[chosen]}'s total was "
        f"{abs(row['aggregate_error']):.0%} {'under' if row['aggregate_error'] < 0 else 'over'} "
        f"the actual purchases; per customer it errs by {row['mae']:.2f} "
        f"purchases against {base['mae']:.2f} for 'repeat your past rate'."
    ]
    if values is None:
        points.append("- CLV in money is not available (the spend model could not be fitted).")
        return "\n".join(points)
    total = values["clv"].sum()
    text = f"- **Value:** {amount(total, currency)} expected over the next {horizon_months} months"
    if uncertainty is not None and np.isfinite(uncertainty.loc["total_clv", "low"]):
        low, high = uncertainty.loc["total_clv", ["low", "high"]]
        text += f" (range {amount(low, currency)} to {amount(high, currency)})"
    points.append(text + ".")
    clv = values["clv"].sort_values(ascending=False)
    top = clv.iloc[: max(1, int(round(0.1 * len(clv))))].sum() / total if total > 0 else np.nan
    points.append(f"- **Focus:** the top 10 % of customers hold {top:.0%} of that value.")
    one_time = values["one_time_buyer"]
    share = values.loc[one_time, "clv"].sum() / total if total > 0 else np.nan
    points.append(
        f"- **One-time buyers:** {one_time.mean():.0%} of customers but {share:.0%} of value; "
        "their numbers rest on population averages, not on their own history."
    )
    return "\n".join(points)
