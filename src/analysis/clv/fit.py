"""Fitting purchase and spend models on compressed sufficient statistics.

The unique (frequency, recency, T) rows with their counts as ``weights``: the likelihood
is a weighted sum, so this is exact and much faster. How a cold fit starts is the spec's
``start``; lifetimes is reached through :mod:`analysis.clv.adapter` only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from analysis.clv import adapter, likelihood
from analysis.clv.models import (
    MIN_REPEAT_BUYERS,
    PURCHASE_MODELS,
    RFT,
    FittedModel,
    ModelFitError,
    ParetoSpec,
    SpendSpec,
    _check_columns,
    _pareto_loglik_rows,
    _spend_array,
    compress,
    param_text,
    spec_of,
)
from analysis.summary import TIME_UNITS


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
    w = compressed["weights"].to_numpy(dtype=float)
    data = [compressed[c].to_numpy(dtype=float) for c in _data_columns(model)]
    return spec_of(model).loglik(params, *data, w)


def _data_columns(model: str) -> list[str]:
    return ["frequency", "monetary_value"] if spec_of(model).key == "gamma_gamma" else RFT


def _scaled(model: str, compressed: pd.DataFrame) -> tuple[float, tuple]:
    """Time scale ``1 / max T`` (1 for spend) and lifetimes' optimiser arguments."""
    spec = spec_of(model)
    scale = 1.0 / compressed["T"].max() if spec.time_params else 1.0
    cols = _data_columns(model)
    data = [compressed[c].to_numpy(dtype=float) * (scale if c in ("recency", "T") else 1.0)
            for c in cols]  # fmt: skip
    return scale, (*data, compressed["weights"].to_numpy(dtype=float), 0.0)


def _polish_pareto(
    engine, compressed: pd.DataFrame, hess_inv=None, gtol: float = 1e-7
) -> tuple[dict, bool, str]:
    """Refine the Nelder-Mead Pareto/NBD start with BFGS on log-parameters.

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

    share = args[3] / args[3].sum()

    def objective(log_theta):
        theta = dict(zip(ParetoSpec.params, np.exp(log_theta), strict=True))
        value = -(share * _pareto_loglik_rows(theta, *args[:3])).sum()
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
    return dict(zip(ParetoSpec.params, theta.tolist(), strict=True)), ok, message


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


def _subsample(compressed: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """Compressed rows of a seeded random sample of customers, when there are more than ``rows``."""
    if len(compressed) <= rows:
        return compressed
    w = compressed["weights"].to_numpy(dtype=float)
    counts = np.random.default_rng(seed).multinomial(rows, w / w.sum())
    return compressed.assign(weights=counts).loc[counts > 0]


def _objective(model: str, compressed: pd.DataFrame):
    """Time scale ``1 / max T`` (1 for spend) and lifetimes' objective with its exact gradient
    (:mod:`analysis.clv.likelihood`)."""
    scale, args = _scaled(model, compressed)
    if spec_of(model).key == "gamma_gamma":
        return scale, likelihood.gamma_gamma_objective(*args[:3])
    return scale, likelihood.bgnbd_objective(*args[:4], modified=spec_of(model).dropout_at_first)


def _set_params(engine, model: str, log_theta, scale: float) -> None:
    spec = spec_of(model)
    theta = np.exp(log_theta)
    theta[list(spec.time_params)] /= scale
    engine.params_ = pd.Series(theta, index=list(spec.params))


def _bounded_fit(engine, model: str, compressed: pd.DataFrame, initial=None) -> str:
    """Fallback when the unbounded BFGS fails (typically a parameter running to 0), and the
    warm start of refits: the same likelihood by L-BFGS-B, log-parameters bounded to
    [-25, 25]; sets ``engine.params_`` and returns a message for the comparison table.
    """
    spec = spec_of(model)
    scale, objective = _objective(model, compressed)
    start = np.zeros(len(spec.params)) if initial is None else np.clip(initial, -24, 24)
    out = likelihood.minimise(objective, start, bounds=[(-25, 25)] * len(start), tol=None)
    if not np.isfinite(out.fun) or out.fun >= 1e10:
        raise ModelFitError(f"{spec.name} could not be fitted: {out.message}")
    _set_params(engine, model, out.x, scale)
    at_bound = np.abs(out.x) >= 24.9
    if out.success and not at_bound.any():
        return ""
    names = [n for n, b in zip(spec.params, at_bound, strict=True) if b]
    return "refitted with bounds; " + (
        f"{', '.join(names)} at the boundary" if names else str(out.message)
    )


def _lifetimes_start(engine, model: str, compressed: pd.DataFrame, initial) -> str:
    """BG/NBD, MBG/NBD, Gamma-Gamma: lifetimes' fit (BFGS from 0.1 on log-parameters,
    tolerance 1e-7, its likelihood with the exact gradient) when cold; bounded L-BFGS-B when
    warm or when that fails. Returns the non-convergence message ('' when converged)."""
    if initial is not None:
        return _bounded_fit(engine, model, compressed, initial)
    scale, objective = _objective(model, compressed)
    out = likelihood.minimise(objective, np.full(len(spec_of(model).params), 0.1))
    if not out.success:  # where lifetimes raises ConvergenceError
        return _bounded_fit(engine, model, compressed, initial)
    _set_params(engine, model, out.x, scale)
    return ""


def _pareto_nelder_mead(compressed: pd.DataFrame) -> np.ndarray:
    """Deterministic Pareto/NBD start: Nelder-Mead from all-ones (time scaled to max T = 1),
    as lifetimes does, on the overflow-safe likelihood (lifetimes' own takes most of the
    time where its hypergeometric functions are slow). Returns natural parameters."""
    scale = 1.0 / compressed["T"].max()
    f, r, t = (compressed[c].to_numpy(dtype=float) for c in RFT)
    share = compressed["weights"].to_numpy(dtype=float)
    share = share / share.sum()

    def objective(log_theta):
        theta = dict(zip(ParetoSpec.params, np.exp(log_theta), strict=True))
        value = -(share * _pareto_loglik_rows(theta, f, r * scale, t * scale)).sum()
        return value if np.isfinite(value) else 1e10

    out = minimize(
        objective, np.zeros(4), method="Nelder-Mead", options={"xatol": 1e-2, "fatol": 1e-7}
    )
    if not np.isfinite(out.fun) or out.fun >= 1e10:
        raise ModelFitError(f"{ParetoSpec.name} could not be fitted: {out.message}")
    return np.exp(out.x) * np.array([1, 1 / scale, 1, 1 / scale])


def _pareto_start(engine, compressed: pd.DataFrame, initial, hess_inv) -> tuple[bool, str]:
    """Pareto/NBD: Nelder-Mead (deterministic start) on at most PARETO_START_ROWS rows, then
    the BFGS polish on all rows; a warm start (bootstrap draw) goes straight to the polish."""
    names = list(ParetoSpec.params)
    if initial is None:
        start_rows = _subsample(compressed, PARETO_START_ROWS)
        engine.params_ = pd.Series(_pareto_nelder_mead(start_rows), index=names)
        if len(compressed) > PARETO_START_ROWS:
            params, _, _ = _polish_pareto(engine, start_rows)  # cheap curvature estimate
            engine.params_ = pd.Series(params)[names]
            hess_inv = engine.hess_inv_
    else:
        scale = 1.0 / compressed["T"].max()
        engine.params_ = pd.Series(initial * np.array([1, 1 / scale, 1, 1 / scale]), index=names)
    # per-customer gradient tolerance: tight on small data (cheap, reproduces published
    # values); 1e-5 on large data or warm refits, still far inside the standard errors
    gtol = 1e-7 if initial is None and len(compressed) <= PARETO_START_ROWS else 1e-5
    params, converged, message = _polish_pareto(engine, compressed, hess_inv, gtol)
    engine.params_ = pd.Series(params)[names]
    return converged, message


def _fit_compressed(
    model: str, compressed: pd.DataFrame, time_unit: str, initial=None, hess_inv=None
):
    """Fit ``model`` on compressed rows; return a :class:`FittedModel`.

    ``initial`` (lifetimes' internal parametrisation, see ``spec.warm_start``) marks a
    warm-started refit, e.g. a bootstrap draw: it goes straight to a gradient optimiser
    and skips lifetimes' Hessian and standard errors, which cost more than the fit.
    ``hess_inv`` seeds the Pareto/NBD BFGS curvature.
    """
    spec = spec_of(model)
    w = compressed["weights"].to_numpy()
    repeaters = int(w[compressed["frequency"].to_numpy() > 0].sum())
    if repeaters < MIN_REPEAT_BUYERS:
        raise ModelFitError(
            f"{spec.name} needs at least {MIN_REPEAT_BUYERS} repeat buyers; "
            f"these data have {repeaters}"
        )
    engine = adapter.LazyEngine(model)
    with adapter.quiet():
        if spec.start == "nelder_mead_polish":
            converged, message = _pareto_start(engine, compressed, initial, hess_inv)
        else:
            message = _lifetimes_start(engine, model, compressed, initial)
            converged = not message
        params = {k: float(v) for k, v in engine.params_.items()}
        ll = loglik(model, params, compressed) if all(v > 0 for v in params.values()) else np.nan
    if not np.isfinite(ll):
        message = (message + "; " if message else "") + "log-likelihood not computable here"
    if not all(np.isfinite(v) and v > 0 for v in params.values()):
        raise ModelFitError(f"{spec.name} fit gave invalid parameters {params}")
    fitted = FittedModel(
        model=model,
        params=params,
        loglik=float(ll),
        converged=converged,
        customers=int(w.sum()),
        time_unit=time_unit,
        message=message,
        engine=engine,
    )
    _refuse_non_finite(fitted, compressed)
    return fitted


def _refuse_non_finite(fitted: FittedModel, compressed: pd.DataFrame) -> None:
    """Raise :class:`ModelFitError` when the fit predicts a non-finite value on its own data.

    A degenerate optimum (e.g. BG/NBD on 40 customers seen for one day, where r runs off
    to 1.9e5) can "converge" and still give NaN forecasts; such a model is refused with a
    sentence rather than summed silently.
    """
    from analysis.clv.predict import _alive_unique, _expected_unique

    if isinstance(fitted.spec, SpendSpec):
        values = _spend_array(fitted.params, compressed["frequency"], compressed["monetary_value"])
    else:
        horizon = float(compressed["T"].max())
        values = np.concatenate(
            [_expected_unique(fitted, compressed, horizon), _alive_unique(fitted, compressed)]
        )
    if np.all(np.isfinite(values)):
        return
    raise ModelFitError(
        f"{fitted.name} could not be fitted: the estimate ({param_text(fitted.params)}) is "
        "degenerate on these data and its forecasts are not finite numbers"
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
    # one row per customer (weight 1): mean spend is continuous, so compressing it by a
    # sort of every row saves almost no rows; the likelihood is the same sum
    rows = rows[["frequency", "monetary_value"]].assign(weights=1)
    return _fit_compressed("gamma_gamma", rows.reset_index(drop=True), "W")


def attempt(function, *args, **kwargs):
    """Call a fitting function; return ``(result, None)``, or ``(None, reason)`` on ModelFitError.

    Lets a notebook say in words why a model is missing and carry on.
    """
    try:
        return function(*args, **kwargs), None
    except ModelFitError as exc:
        return None, str(exc)


def fit_bgbb(summary: pd.DataFrame) -> FittedModel:
    """Fit BG/BB (discrete purchase opportunities: yearly donations, issues, events).

    Parameters
    ----------
    summary : pandas.DataFrame
        ``frequency`` (repeat transactions), ``recency`` (opportunity of the last one),
        ``periods`` (opportunities observed); optional ``weights`` (customers per row,
        as in lifetimes' donations data).

    Returns
    -------
    FittedModel
        ``model`` ``"bgbb"``; ``params`` alpha, beta, gamma, delta; log-likelihood.
    """
    spec = spec_of("bgbb")
    _check_columns(summary, list(spec.columns))
    rows = summary if "weights" in summary else compress(summary, list(spec.columns))
    data = [rows[c].to_numpy(dtype=float) for c in spec.columns]
    w = rows["weights"].to_numpy(dtype=float)
    engine = adapter.engine_class("bgbb")()
    with adapter.quiet():
        try:
            engine.fit(*(rows[c] for c in spec.columns), weights=rows["weights"])
        except Exception as exc:
            raise ModelFitError(f"{spec.name} could not be fitted: {exc}") from exc
    params = {k: float(engine.params_[k]) for k in spec.params}
    return FittedModel("bgbb", params, spec.loglik(params, *data, w), True, int(w.sum()),
                       "periods", engine=engine)  # fmt: skip
