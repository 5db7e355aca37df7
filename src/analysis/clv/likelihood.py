"""Weighted log-likelihoods with exact gradients for BG/NBD, MBG/NBD and Gamma-Gamma fits.

The objective is lifetimes' own (mean negative log-likelihood over the weights, in
log-parameters, recency and T scaled to max T = 1), written in numpy with its analytic
gradient: BFGS from lifetimes' start then takes the same steps as lifetimes' autograd path,
without autograd's tracing of every array operation (about 40 times cheaper per evaluation
on 200,000 compressed rows). Terms that depend on the frequency alone (the gamma and digamma
functions) are evaluated once per distinct frequency.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of ``a * b`` without BLAS (its threads stall when the cores are shared)."""
    return float(np.add.reduce(a * b))


class _ByFrequency:
    """Distinct frequencies of the rows and each row's position among them."""

    def __init__(self, x: np.ndarray):
        self.values, self.index = np.unique(x, return_inverse=True)

    def at(self, function, shift: float) -> np.ndarray:
        """``function(shift + x)`` per row, evaluated on distinct ``x`` only."""
        return function(shift + self.values)[self.index]


def bgnbd_objective(x, tx, T, w, modified: bool = False):
    """``theta -> (value, gradient)`` of the mean BG/NBD (or MBG/NBD) negative log-likelihood.

    Parameters
    ----------
    x, tx, T : numpy.ndarray
        Frequency, recency and age per compressed row (time already scaled).
    w : numpy.ndarray
        Customers per row.
    modified : bool
        MBG/NBD (dropout possible at the first purchase) instead of BG/NBD.

    Returns
    -------
    callable
        ``f(theta)`` with ``theta`` = log(r, alpha, a, b): ``(value, gradient)``, the
        value equal to lifetimes' ``_negative_log_likelihood`` (penaliser 0).
    """
    x, tx, T, w = (np.asarray(v, dtype=float) for v in (x, tx, T, w))
    share = w / w.sum()
    freq = _ByFrequency(x)
    repeat = x > 0
    shift = 1.0 if modified else 0.0  # MBG/NBD's beta terms run one purchase further
    # b + gap in the dropout term: lifetimes' log(b + max(x, 1) - 1), MBG/NBD's log(b + x)
    gap = x if modified else np.maximum(x, 1.0) - 1.0

    def value_and_gradient(theta):
        r, alpha, a, b = np.exp(theta)
        log_t, log_tx = np.log(alpha + T), np.log(alpha + tx)
        rx = r + x
        base = (
            freq.at(gammaln, r) - gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
            + freq.at(gammaln, b + shift) - freq.at(gammaln, a + b + shift)
        )  # fmt: skip
        alive = -rx * log_t
        died = np.log(a) - np.log(b + gap) - rx * log_tx
        if modified:
            died = died - alive  # MBG/NBD adds log(1 + exp(A4)) to A3
            both = np.logaddexp(died, 0.0)
            ll = base + alive + both
            pi = np.exp(died - both)  # share of the "dropped out" branch
            d_r = -log_t + pi * (log_t - log_tx)
            d_alpha = -rx / (alpha + T) + pi * rx * (1.0 / (alpha + T) - 1.0 / (alpha + tx))
        else:
            top = np.where(repeat, np.maximum(alive, died), alive)
            both = np.log(np.exp(alive - top) + np.where(repeat, np.exp(died - top), 0.0)) + top
            ll = base + both
            pi = np.where(repeat, np.exp(died - both), 0.0)
            d_r = -(1.0 - pi) * log_t - pi * log_tx
            d_alpha = -(1.0 - pi) * rx / (alpha + T) - pi * rx / (alpha + tx)
        psi_abx = freq.at(digamma, a + b + shift)
        grad = np.array(
            [
                _dot(share, freq.at(digamma, r) - digamma(r) + np.log(alpha) + d_r) * r,
                _dot(share, r / alpha + d_alpha) * alpha,
                _dot(share, digamma(a + b) - psi_abx + pi / a) * a,
                _dot(share, digamma(a + b) + freq.at(digamma, b + shift) - digamma(b)
                       - psi_abx - pi / (b + gap)) * b,
            ]
        )  # fmt: skip
        return -float(_dot(share, ll)), -grad

    return value_and_gradient


def gamma_gamma_objective(x, m, w):
    """``theta -> (value, gradient)`` of the mean Gamma-Gamma negative log-likelihood.

    Parameters
    ----------
    x, m : numpy.ndarray
        Repeat purchases and mean spend per row (repeat buyers, positive spend).
    w : numpy.ndarray
        Customers per row.

    Returns
    -------
    callable
        ``f(theta)`` with ``theta`` = log(p, q, v), value equal to lifetimes'.
    """
    x, m, w = (np.asarray(v, dtype=float) for v in (x, m, w))
    share = w / w.sum()
    freq = _ByFrequency(x)
    xs = freq.values
    log_m, log_x = np.log(m), np.log(x)
    fixed = _dot(share, x * (log_m + log_x))  # the p-term that does not involve the parameters
    mean_log_m, xm = _dot(share, log_m), x * m
    w_by_x = np.bincount(freq.index, weights=share, minlength=len(xs))

    def value_and_gradient(theta):
        p, q, v = np.exp(theta)
        log_xmv = np.log(xm + v)
        ll = (
            _dot(w_by_x, gammaln(p * xs + q) - gammaln(p * xs)) - gammaln(q) + q * np.log(v)
            + p * fixed - mean_log_m - _dot(share, (p * x + q) * log_xmv)
        )  # fmt: skip
        psi_pq = digamma(p * xs + q)
        d_p = _dot(w_by_x, xs * (psi_pq - digamma(p * xs))) + fixed - _dot(share, x * log_xmv)
        d_q = _dot(w_by_x, psi_pq) - digamma(q) + np.log(v) - _dot(share, log_xmv)
        d_v = q / v - _dot(share, (p * x + q) / (xm + v))
        return -float(ll), -np.array([d_p * p, d_q * q, d_v * v])

    return value_and_gradient


def minimise(objective, start, bounds=None, tol: float = 1e-7):
    """BFGS (L-BFGS-B with ``bounds``) on ``objective`` with its gradient; non-finite values
    (trial steps far from the optimum) count as a wall the optimiser backs away from."""

    def guarded(theta):
        with np.errstate(all="ignore"):
            value, grad = objective(theta)
        if not np.isfinite(value):
            return 1e10, np.zeros_like(theta)
        return value, np.nan_to_num(grad)

    method = "L-BFGS-B" if bounds is not None else "BFGS"
    return minimize(guarded, np.asarray(start, dtype=float), jac=True, method=method,
                    bounds=bounds, tol=tol)  # fmt: skip
