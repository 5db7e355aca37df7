"""Time-invariant covariates in BG/NBD, in CLVTools' parametrisation, with a likelihood-ratio
test against the plain fit.

Customer i with covariates z_i (numeric columns, e.g. 0/1 dummies of an acquisition channel
or region) has ``alpha_i = alpha_0 exp(-g_alpha' z_i)`` (purchase rate scale: a positive
effect means faster buying), ``a_i = a_0 exp(g_a' z_i)`` and ``b_i = b_0 exp(g_b' z_i)``
(dropout), as in CLVTools' ``bgnbd`` with static covariates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from analysis.clv.fit import fit_model
from analysis.clv.models import RFT, ModelFitError, _check_columns


@dataclass
class CovariateFit:
    """A BG/NBD fit with covariates next to the plain fit on the same customers.

    Attributes
    ----------
    params : dict
        ``r``, ``alpha``, ``a``, ``b`` (baseline customer: all covariates 0).
    effects : pandas.DataFrame
        Index covariate; columns ``purchase`` (g_alpha), ``dropout_a`` (g_a),
        ``dropout_b`` (g_b).
    loglik, plain_loglik : float
        Log-likelihoods with and without covariates.
    lr_statistic, df, p_value : float, int, float
        Likelihood-ratio test of the covariates (chi-squared with ``df`` degrees).
    """

    params: dict
    effects: pd.DataFrame
    loglik: float
    plain_loglik: float
    lr_statistic: float
    df: int
    p_value: float
    converged: bool


def bgnbd_loglik_rows(r, alpha, a, b, x, tx, T) -> np.ndarray:
    """BG/NBD log-likelihood of each row (Fader, Hardie & Lee 2005, eq. 6), with
    ``alpha``, ``a``, ``b`` scalars or one value per row."""
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        died = betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + tx)
    died = np.where(x > 0, died, -np.inf)
    return common + np.logaddexp(alive, died)


def fit_covariates(summary: pd.DataFrame, covariates: pd.DataFrame) -> CovariateFit:
    """Fit BG/NBD with time-invariant covariates and test them against the plain fit.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` per customer (index ``customer_id``).
    covariates : pandas.DataFrame
        Numeric covariates by ``customer_id`` (e.g. 0/1 dummies); customers missing
        from it are dropped from both fits.

    Returns
    -------
    CovariateFit
    """
    _check_columns(summary, RFT)
    names = list(covariates.columns)
    data = summary[RFT].join(covariates.astype(float), how="inner").dropna()
    if data.empty:
        raise ModelFitError("no customer has both a purchase summary and covariates")
    rows = data.groupby(RFT + names, sort=True).size().rename("weights").reset_index()
    x, tx, T = (rows[c].to_numpy(dtype=float) for c in RFT)
    z = rows[names].to_numpy(dtype=float)
    w = rows["weights"].to_numpy(dtype=float)
    plain = fit_model(data, "bgnbd")
    k = len(names)
    scale = float(T.max())

    def unpack(theta):
        r, alpha0, a0, b0 = np.exp(theta[:4])
        g_alpha, g_a, g_b = theta[4 : 4 + k], theta[4 + k : 4 + 2 * k], theta[4 + 2 * k :]
        return r, alpha0, a0, b0, g_alpha, g_a, g_b

    def objective(theta):
        r, alpha0, a0, b0, g_alpha, g_a, g_b = unpack(theta)
        alpha = alpha0 * np.exp(-z @ g_alpha)
        ll = bgnbd_loglik_rows(r, alpha, a0 * np.exp(z @ g_a), b0 * np.exp(z @ g_b),
                               x, tx / scale, T / scale)  # fmt: skip
        value = -(w * ll).sum() / w.sum()
        return value if np.isfinite(value) else 1e10

    p = plain.params
    start = np.concatenate([np.log([p["r"], p["alpha"] / scale, p["a"], p["b"]]), np.zeros(3 * k)])
    out = minimize(objective, start, method="L-BFGS-B")
    r, alpha0, a0, b0, g_alpha, g_a, g_b = unpack(out.x)
    params = {"r": r, "alpha": alpha0 * scale, "a": a0, "b": b0}
    alpha_rows = params["alpha"] * np.exp(-z @ g_alpha)
    ll = float((w * bgnbd_loglik_rows(r, alpha_rows, a0 * np.exp(z @ g_a),
                                      b0 * np.exp(z @ g_b), x, tx, T)).sum())  # fmt: skip
    from scipy.stats import chi2

    stat = max(0.0, 2.0 * (ll - plain.loglik))
    effects = pd.DataFrame(
        {"purchase": g_alpha, "dropout_a": g_a, "dropout_b": g_b},
        index=pd.Index(names, name="covariate"),
    )
    return CovariateFit(params, effects, ll, plain.loglik, stat, 3 * k,
                        float(chi2.sf(stat, 3 * k)), bool(out.success))  # fmt: skip


def covariate_design(customers: pd.DataFrame, columns=("channel", "region"), levels: int = 4):
    """0/1 covariates from a customers table: for each of ``columns`` present, one dummy per
    most common value (up to ``levels`` - 1; the most common is the baseline, rarer values
    and missing ones count as the baseline too).

    Parameters
    ----------
    customers : pandas.DataFrame
        The customers table (``customer_id`` and e.g. ``channel``, ``region``).

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; columns ``<column>=<value>`` (float 0/1). Empty when no
        column varies.
    """
    frame = customers.drop_duplicates("customer_id").set_index("customer_id")
    out = pd.DataFrame(index=frame.index.astype(str))
    for column in columns:
        if column not in frame or frame[column].nunique() < 2:
            continue
        top = frame[column].value_counts().index[:levels]
        for value in top[1:]:
            out[f"{column}={value}"] = (frame[column] == value).astype(float).to_numpy()
    return out


def covariate_takeaway(result: CovariateFit | None, note: str = "") -> str:
    """The covariate effects and their likelihood-ratio test, in words."""
    if result is None:
        return f"*Covariates not estimated: {note}.*" if note else ""
    verdict = (
        f"Together the covariates {'improve' if result.p_value < 0.05 else 'do not improve'} "
        f"the purchase model (likelihood-ratio test {result.lr_statistic:.1f} on "
        f"{result.df} degrees of freedom, p = {result.p_value:.2g})"
    )
    if result.p_value >= 0.05:
        return verdict + ": these groups buy and drop out alike, so one model serves them all."
    strongest = result.effects["purchase"].abs().idxmax()
    factor = float(np.exp(result.effects.loc[strongest, "purchase"]))
    return verdict + (
        f". The largest purchase-rate difference is *{strongest}*: {factor:.2f}x the "
        "baseline group's rate, other things equal."
    )
