"""Time-invariant covariates in BG/NBD and Pareto/NBD, in CLVTools' parametrisation, fitted
by maximum likelihood, with Hessian standard errors, a likelihood-ratio test against the
plain fit and predictions per customer with the customer's own parameters.

Customer i with covariates z_i (0/1 dummies of a channel or region, standardised numeric
attributes: :func:`analysis.clv.covariate_words.covariate_design`) has

- purchase process, both models: ``alpha_i = alpha_0 exp(-g_trans' z_i)``, so that the mean
  purchase rate ``r / alpha_i`` is ``exp(g_trans' z_i)`` times the baseline's;
- dropout, Pareto/NBD: ``beta_i = beta_0 exp(-g_life' z_i)`` (mean dropout rate
  ``s / beta_i`` times ``exp(g_life' z_i)``); BG/NBD: ``a_i = a_0 exp(g_life' z_i)`` and
  ``b_i = b_0 exp(g_life' z_i)`` (CLVTools' ``bgnbd`` static covariates: one dropout
  effect scaling both).

The likelihoods are written with ``autograd`` (exact gradients for the optimiser and an
exact Hessian for the standard errors); Pareto/NBD's is the overflow-safe integral form of
:func:`analysis.clv.models._pareto_log_terms` with per-customer ``alpha_i``, ``beta_i``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import autograd.numpy as anp
import numpy as np
import pandas as pd
from autograd import grad, hessian
from scipy.optimize import minimize
from scipy.special import chdtrc, hyp2f1

from analysis.clv.fit import fit_model
from analysis.clv.models import RFT, ModelFitError, _check_columns


class _LazySpecial:
    """``autograd.scipy.special``, imported on first use: it imports ``scipy.stats`` (0.4 s),
    which every ``import analysis.clv`` would otherwise pay without fitting a covariate."""

    def __getattr__(self, name: str):
        from autograd.scipy import special

        return getattr(special, name)


sp = _LazySpecial()

#: Models with covariates, and the names of their baseline parameters.
COVARIATE_PARAMS = {"bgnbd": ("r", "alpha", "a", "b"), "pareto_nbd": ("r", "alpha", "s", "beta")}
_NODES = np.polynomial.legendre.leggauss(64)


@dataclass
class CovariateFit:
    """A purchase model with covariates next to the plain fit on the same customers.

    Attributes
    ----------
    model : str
        ``bgnbd`` or ``pareto_nbd``.
    params : dict
        Baseline parameters (a customer whose covariates are all 0), in ``time_unit``.
    param_se : dict
        Their Hessian standard errors.
    effects : pandas.DataFrame
        Index covariate; columns ``purchase`` (g_trans), ``purchase_se``, ``dropout``
        (g_life), ``dropout_se``.
    loglik, plain_loglik : float
        Log-likelihoods with and without covariates (the same customers, the same
        likelihood code; unscaled time).
    lr_statistic, df, p_value : float, int, float
        Likelihood-ratio test of the covariates: chi-squared with ``df`` = 2 x covariates.
    converged : bool
        The optimiser's convergence flag.
    customers : int
        Customers in both the summary and the covariates.
    plain : FittedModel
        The plain fit on those customers.
    note : str
        Why the standard errors are NaN, if they are.
    """

    model: str
    params: dict
    param_se: dict
    effects: pd.DataFrame
    loglik: float
    plain_loglik: float
    lr_statistic: float
    df: int
    p_value: float
    converged: bool
    customers: int
    time_unit: str = "W"
    plain: object = field(default=None, repr=False)
    note: str = ""


# --------------------------------------------------------------------------- likelihoods


def bgnbd_loglik_rows(r, alpha, a, b, x, tx, T):
    """BG/NBD log-likelihood of each row (Fader, Hardie & Lee 2005, eq. 6); ``alpha``, ``a``,
    ``b`` scalars or one value per row. Differentiable by ``autograd``."""
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    repeat = x > 0
    x1 = np.where(repeat, x, 1.0)  # the "died" term exists only after a repeat purchase
    common = sp.gammaln(r + x) - sp.gammaln(r) + r * anp.log(alpha)
    alive = sp.betaln(a, b + x) - sp.betaln(a, b) - (r + x) * anp.log(alpha + T)
    died = sp.betaln(a + 1, b + x1 - 1) - sp.betaln(a, b) - (r + x1) * anp.log(alpha + tx)
    return common + anp.where(repeat, anp.logaddexp(alive, died), alive)


def pareto_log_terms(r, alpha, s, beta, x, tx, T):
    """Pareto/NBD ``log A`` (alive at T) and ``log D`` (died after the last purchase) per
    row, with ``alpha``, ``beta`` per row; differentiable (Gauss-Legendre in
    ``y = log((alpha + tau) / (alpha + tx))``, cut where the integrand falls below e^-50;
    ``log D`` is -inf when ``tx = T``)."""
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    k = r + x
    log_alive = -k * anp.log(alpha + T) - s * anp.log(beta + T)
    gap = T > tx
    a0 = alpha + tx
    span = anp.log((alpha + T) / a0)
    top = anp.where(gap, anp.minimum(span, 50.0 / (k + s)), 1.0)  # 1.0: placeholder, no gap
    u, gw = _NODES
    y = top[:, None] * (u[None, :] + 1.0) / 2.0
    log_f = (1.0 - k[:, None]) * (anp.log(a0)[:, None] + y) - (s + 1.0) * anp.log(
        (beta - alpha)[:, None] + a0[:, None] * anp.exp(y)
    )
    log_dead = anp.log(s) + anp.log(top / 2.0) + sp.logsumexp(np.log(gw)[None, :] + log_f, axis=1)
    return log_alive, anp.where(gap, log_dead, -np.inf)


def _pareto_loglik_rows(r, alpha, s, beta, x, tx, T):
    log_alive, log_dead = pareto_log_terms(r, alpha, s, beta, x, tx, T)
    joined = anp.where(np.asarray(T) > np.asarray(tx), anp.logaddexp(log_alive, log_dead),
                       log_alive)  # fmt: skip
    return sp.gammaln(r + x) - sp.gammaln(r) + r * anp.log(alpha) + s * anp.log(beta) + joined


def row_params(model: str, params: dict, effects: pd.DataFrame, z: np.ndarray):
    """Each row's parameters: ``(r, alpha_i, a_i, b_i)`` or ``(r, alpha_i, s, beta_i)``."""
    g_trans = effects["purchase"].to_numpy(dtype=float)
    g_life = effects["dropout"].to_numpy(dtype=float)
    return _row_params(model, [params[k] for k in COVARIATE_PARAMS[model]], g_trans, g_life, z)


def _row_params(model, base, g_trans, g_life, z):
    r, alpha0, third, fourth = base
    alpha = alpha0 * anp.exp(-anp.dot(z, g_trans))
    if model == "bgnbd":
        factor = anp.exp(anp.dot(z, g_life))
        return r, alpha, third * factor, fourth * factor
    return r, alpha, third, fourth * anp.exp(-anp.dot(z, g_life))


def _loglik(model, base, g_trans, g_life, z, x, tx, T):
    rows = bgnbd_loglik_rows if model == "bgnbd" else _pareto_loglik_rows
    return rows(*_row_params(model, base, g_trans, g_life, z), x, tx, T)


# --------------------------------------------------------------------------- fit


def _compressed(summary: pd.DataFrame, covariates: pd.DataFrame):
    _check_columns(summary, RFT)
    names = [str(c) for c in covariates.columns]
    design = covariates.set_axis(names, axis=1).astype(float)
    data = summary[RFT].join(design, how="inner").dropna()
    if data.empty:
        raise ModelFitError("no customer has both a purchase summary and covariates")
    rows = data.groupby(RFT + names, sort=True).size().rename("weights").reset_index()
    return data, rows, names


def fit_covariates(
    summary: pd.DataFrame, covariates: pd.DataFrame, model: str = "bgnbd", time_unit: str = "W"
) -> CovariateFit:
    """Fit BG/NBD or Pareto/NBD with time-invariant covariates and test them against the
    plain fit on the same customers.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` per customer (index ``customer_id``).
    covariates : pandas.DataFrame
        Numeric covariates by ``customer_id`` (0/1 dummies, standardised numbers); customers
        missing from it are left out of both fits.
    model : {"bgnbd", "pareto_nbd"}
    time_unit : {"W", "D"}
        The unit of ``recency`` and ``T``.

    Returns
    -------
    CovariateFit

    Raises
    ------
    ModelFitError
        No customer in common, or a plain fit that fails. An effect the data cannot
        identify (e.g. a constant column) gives NaN standard errors and ``note``.
    """
    if model not in COVARIATE_PARAMS:
        raise ValueError(f"covariates are fitted for {sorted(COVARIATE_PARAMS)}, not '{model}'")
    data, rows, names = _compressed(summary, covariates)
    plain = fit_model(data, model, time_unit)
    x, tx, T = (rows[c].to_numpy(dtype=float) for c in RFT)
    z, w = rows[names].to_numpy(dtype=float), rows["weights"].to_numpy(dtype=float)
    k, base_names = len(names), COVARIATE_PARAMS[model]
    plain_base = [plain.params[n] for n in base_names]
    theta, converged, se, note = _maximise(model, plain_base, z, w, x, tx, T)
    base = np.exp(theta[:4])
    g_trans, g_life = theta[4 : 4 + k], theta[4 + k :]
    loglik = _loglik_at(model, list(base), g_trans, g_life, z, w, x, tx, T)
    plain_loglik = _loglik_at(model, plain_base, np.zeros(k), np.zeros(k), z, w, x, tx, T)
    stat = max(0.0, 2.0 * (loglik - plain_loglik))
    effects = pd.DataFrame(
        {"purchase": g_trans, "purchase_se": se[4 : 4 + k],
         "dropout": g_life, "dropout_se": se[4 + k :]},
        index=pd.Index(names, name="covariate"),
    )  # fmt: skip
    return CovariateFit(
        model, dict(zip(base_names, base.tolist(), strict=True)),
        dict(zip(base_names, (base * se[:4]).tolist(), strict=True)), effects,
        loglik, plain_loglik, stat, 2 * k, float(chdtrc(2 * k, stat)),
        converged, len(data), time_unit, plain, note,
    )  # fmt: skip


def _maximise(model, plain_base, z, w, x, tx, T):
    """Maximum likelihood from the plain fit with zero effects, in log-parameters (time
    rescaled by its maximum for the optimiser); the exact gradient by autograd.

    Returns ``theta`` (log-parameters in the data's time unit, then the effects), the
    optimiser's flag, and the standard errors of ``theta`` with their note."""
    k, scale = z.shape[1], float(T.max())
    shift = np.array([0.0, np.log(scale), 0.0, np.log(scale) if model == "pareto_nbd" else 0.0])

    def negative(theta):  # on time / scale: a constant shift of the unscaled likelihood
        base = anp.exp(theta[:4])
        rows = _loglik(model, [base[0], base[1], base[2], base[3]], theta[4 : 4 + k],
                       theta[4 + k :], z, x, tx / scale, T / scale)  # fmt: skip
        return -anp.sum(w * rows) / w.sum()

    def objective(theta):
        value = negative(theta)
        return float(value) if np.isfinite(value) else 1e10

    gradient = grad(negative)
    start = np.concatenate([np.log(plain_base) - shift, np.zeros(2 * k)])
    bounds = [(-15.0, 15.0)] * 4 + [(-20.0, 20.0)] * (2 * k)
    out = minimize(objective, start, jac=lambda t: np.nan_to_num(gradient(t)),
                   method="L-BFGS-B", bounds=bounds, options={"maxiter": 2000})  # fmt: skip
    se, note = _standard_errors(lambda t: negative(t) * w.sum(), out.x)
    theta = out.x.copy()
    theta[:4] += shift
    return theta, bool(out.success), se, note


def _loglik_at(model, base, g_trans, g_life, z, w, x, tx, T) -> float:
    return float(np.sum(w * _loglik(model, base, np.asarray(g_trans), np.asarray(g_life),
                                    z, x, tx, T)))  # fmt: skip


def _standard_errors(negative_loglik, theta) -> tuple[np.ndarray, str]:
    """Standard errors from the inverse of the exact (autograd) Hessian of the negative
    log-likelihood at ``theta``; NaN, with the reason, when it is not positive definite
    (the optimum is not identified)."""
    h = hessian(negative_loglik)(theta)
    se = np.full(len(theta), np.nan)
    if not np.all(np.isfinite(h)):
        return se, "standard errors not available: the likelihood's curvature is not finite"
    values, vectors = np.linalg.eigh(h)
    flat = values <= 1e-8 * abs(values).max()
    # parameters loading on a flat direction are not identified; the others get their
    # standard errors with those held at their estimates
    unidentified = (np.abs(vectors[:, flat]) > 0.1).any(axis=1)
    keep = ~unidentified
    if keep.any():
        sub = h[np.ix_(keep, keep)]
        if np.linalg.eigvalsh(sub).min() > 0:
            se[keep] = np.sqrt(np.diag(np.linalg.inv(sub)))
    if not unidentified.any():
        return se, ""
    return se, (
        f"{int(unidentified.sum())} of {len(theta)} parameters are not identified (the "
        "likelihood is flat in their direction: a covariate that is constant, or dropout the "
        "data barely show); their standard errors are not available"
    )


# --------------------------------------------------------------------------- predictions


def covariate_predictions(
    result: CovariateFit, summary: pd.DataFrame, covariates: pd.DataFrame, t: float
) -> pd.DataFrame:
    """P(alive) and expected purchases in the next ``t`` time units, per customer, with the
    customer's own parameters (``alpha_i`` and ``a_i, b_i`` or ``beta_i``).

    Parameters
    ----------
    result : CovariateFit
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` per customer.
    covariates : pandas.DataFrame
        The design the model was fitted with (same columns).
    t : float
        Horizon in the model's time unit.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id`` (customers in both tables); ``p_alive``, ``expected_purchases``.

    Raises
    ------
    ModelFitError
        When any prediction is not finite (never returned silently).
    """
    data, _, names = _compressed(summary, covariates[list(result.effects.index)])
    z = data[names].to_numpy(dtype=float)
    x, tx, T = (data[c].to_numpy(dtype=float) for c in RFT)
    predict = _bgnbd_predict if result.model == "bgnbd" else _pareto_predict
    with np.errstate(all="ignore"):  # overflow shows as a non-finite value, refused below
        params = row_params(result.model, result.params, result.effects, z)
        alive, expected = predict(params, x, tx, T, float(t))
    out = pd.DataFrame({"p_alive": alive, "expected_purchases": expected}, index=data.index)
    bad = int((~np.isfinite(out.to_numpy())).any(axis=1).sum())
    if bad:
        raise ModelFitError(f"the covariate model gives no finite forecast for {bad:,} customers")
    return out


def _bgnbd_predict(params, x, tx, T, t):
    """FHL (2005) eq. 10 (expected purchases) and P(alive), with per-row parameters."""
    r, alpha, a, b = params
    log_odds = np.log(a / np.maximum(b + x - 1.0, 1e-300)) + (r + x) * np.log(
        (alpha + T) / (alpha + tx)
    )
    alive = np.where(x > 0, sp.expit(-log_odds), 1.0)
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    expected = (
        (a + b + x - 1.0) / (a - 1.0) * (1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    )
    denominator = 1.0 + np.where(x > 0, np.exp(log_odds), 0.0)
    return alive, expected / denominator


def _pareto_predict(params, x, tx, T, t):
    """P(alive) = A / (A + D) and P(alive) E[X(t) | alive] (note 009, eq. 22), per row."""
    r, alpha, s, beta = params
    log_alive, log_dead = pareto_log_terms(r, alpha, s, beta, x, tx, T)
    alive = sp.expit(log_alive - log_dead)
    rate = (r + x) / (alpha + T)
    if abs(s - 1.0) < 1e-9:
        mean = rate * (beta + T) * np.log1p(t / (beta + T))
    else:
        mean = rate * (beta + T) / (s - 1.0) * (1.0 - ((beta + T) / (beta + T + t)) ** (s - 1.0))
    return alive, alive * mean


def new_customer_expected(model: str, params, t: float) -> np.ndarray:
    """E[X(t)] of a new customer with parameters ``(r, alpha, a, b)`` or ``(r, alpha, s,
    beta)`` (scalars or arrays): FHL (2005) eq. 9; Pareto/NBD note 009 eq. 17."""
    r, alpha, third, fourth = (np.asarray(p, dtype=float) for p in params)
    if model == "bgnbd":
        a, b = third, fourth
        hyp = hyp2f1(r, b, a + b - 1.0, t / (alpha + t))
        return (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * hyp)
    s, beta = third, fourth
    return r * beta / (alpha * (s - 1.0)) * (1.0 - (beta / (beta + t)) ** (s - 1.0))
