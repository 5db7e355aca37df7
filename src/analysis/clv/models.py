"""Model specs and the plain values every part of :mod:`analysis.clv` shares.

One spec per model (:class:`PurchaseSpec` for BG/NBD, :class:`MBGSpec`, :class:`ParetoSpec`,
:class:`SpendSpec` for Gamma-Gamma): parameter names, likelihood, predictions, warm start,
simulation and the words that describe it, so no function branches on a model's name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.clv import adapter, likelihood
from analysis.text import tr

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
        return SPECS[self.model].name

    @property
    def spec(self):
        """The model's :class:`PurchaseSpec` (or :class:`SpendSpec`)."""
        return SPECS[self.model]


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
    unique = grouped.size().rename("weights").reset_index()  # = compress, same grouping
    return unique, grouped.ngroup().to_numpy()


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


def _pareto_log_terms(params: dict, x, tx, T, nodes: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Pareto/NBD ``log A`` (alive at T) and ``log D`` (died after the last purchase), per row.

    A = (α+T)^-(r+x) (β+T)^-s and D = s ∫_tx^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ, so that
    P(alive) = A / (A + D) and the likelihood is Γ(r+x) α^r β^s / Γ(r) (A + D)
    (Fader & Hardie 2005, note 009, eq. 18 before its closed form). The integral is taken
    by Gauss-Legendre in y = log((α+τ) / (α+tx)), where the integrand decays like
    exp(-(r+x+s) y); it is cut where that factor falls below e^-50. Finite for any x
    (the closed form's hypergeometric functions overflow to NaN for heavy buyers and are
    slow when β is large); D = 0 when tx = T.
    """
    r, alpha, s, beta = (float(params[k]) for k in ("r", "alpha", "s", "beta"))
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    k = r + x
    u, log_gw = _legendre(nodes)
    log_alive = -k * np.log(alpha + T) - s * np.log(beta + T)
    log_dead = np.full(x.shape, -np.inf)
    gap = T > tx
    if gap.any():
        kg, a0 = k[gap][:, None], alpha + tx[gap][:, None]
        top = np.minimum(np.log((alpha + T[gap][:, None]) / a0), 50.0 / (kg + s))
        y = top * (u + 1.0) / 2.0
        log_f = (1.0 - kg) * (np.log(a0) + y) - (s + 1.0) * np.log(beta - alpha + a0 * np.exp(y))
        log_dead[gap] = np.log(s) + np.log(top[:, 0] / 2.0) + _logsumexp_rows(log_gw + log_f)
    return log_alive, log_dead


@functools.lru_cache(maxsize=4)
def _legendre(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and log-weights on [-1, 1] (computed once per node count)."""
    u, w = np.polynomial.legendre.leggauss(nodes)
    return u, np.log(w)


def _logsumexp_rows(values: np.ndarray) -> np.ndarray:
    """log(sum(exp(values), axis=1)) for finite rows, without scipy's general-purpose overhead."""
    top = values.max(axis=1)
    return top + np.log(np.exp(values - top[:, None]).sum(axis=1))


def _pareto_palive_quadrature(params: dict, x, tx, T) -> np.ndarray:
    """Pareto/NBD P(alive) = A / (A + D) from :func:`_pareto_log_terms` (finite for any x)."""
    from scipy.special import expit

    log_alive, log_dead = _pareto_log_terms(params, x, tx, T)
    return expit(log_alive - log_dead)


def _pareto_alive_rate(params: dict, x, T, t: float) -> np.ndarray:
    """Pareto/NBD E[X(T, T + t] | alive at T, x, T] (note 009, eq. 22 without P(alive))."""
    r, alpha, s, beta = (float(params[k]) for k in ("r", "alpha", "s", "beta"))
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    rate = (r + x) / (alpha + T)
    if abs(s - 1.0) < 1e-9:
        return rate * (beta + T) * np.log1p(t / (beta + T))
    return rate * (beta + T) / (s - 1.0) * (1.0 - ((beta + T) / (beta + T + t)) ** (s - 1.0))


def _pareto_expected(params: dict, x, tx, T, t: float) -> np.ndarray:
    """Pareto/NBD E[X(T, T + t] | x, tx, T] = P(alive) E[X(t) | alive] (note 009, eq. 22)."""
    return _pareto_palive_quadrature(params, x, tx, T) * _pareto_alive_rate(params, x, T, t)


def frequency_age_pairs(x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (frequency, T) pairs of the rows and each row's pair number.

    Every model's forecast is P(alive | x, tx, T) times a forecast given alive that does not
    depend on recency, so the costly part (hypergeometric functions) is evaluated once per
    pair: far fewer pairs than (x, tx, T) rows.
    """
    x, T = np.asarray(x, dtype=float).ravel(), np.asarray(T, dtype=float).ravel()
    x_code, _ = pd.factorize(x, use_na_sentinel=False)  # hashing, not sorting: no order needed
    t_code, _ = pd.factorize(T, use_na_sentinel=False)
    key = x_code.astype(np.int64) * (int(t_code.max(initial=0)) + 1) + t_code
    pair, keys = pd.factorize(key)
    px, pT = np.empty(len(keys)), np.empty(len(keys))
    px[pair], pT[pair] = x, T  # every row of a pair holds the same values
    return px, pT, pair


def _pareto_loglik_rows(params, x, tx, T) -> np.ndarray:
    """Pareto/NBD log-likelihood of each row: lifetimes' closed form, and the same likelihood
    from :func:`_pareto_log_terms` where that is not finite (heavy buyers, e.g. 200
    purchases with the last on the cutoff day) or slow (α and β far apart)."""
    from scipy.special import gammaln

    theta = tuple(float(params[k]) for k in PARAM_NAMES["pareto_nbd"])
    if max(theta[1], theta[3]) > 10 * min(theta[1], theta[3]):
        rows = np.full(len(x), np.nan)  # hypergeometric argument near 1: slow, use the integral
    else:
        rows = adapter.pareto_loglik_rows(theta, x, tx, T)
    bad = ~np.isfinite(rows)
    if bad.any():
        r, alpha, s, beta = theta
        named = dict(zip(PARAM_NAMES["pareto_nbd"], theta, strict=True))
        log_alive, log_dead = _pareto_log_terms(named, x[bad], tx[bad], T[bad])
        rows[bad] = (
            gammaln(r + x[bad]) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            + np.logaddexp(log_alive, log_dead)
        )  # fmt: skip
    return rows


def _spend_array(params: dict, frequency, monetary) -> np.ndarray:
    """Gamma-Gamma expected spend per purchase on arrays (population mean when frequency is 0)."""
    p, q, v = (params[k] for k in ("p", "q", "v"))
    population = p * v / (q - 1) if q > 1 else np.nan
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    weight = (q - 1) / (p * x + q - 1)
    return np.where(x > 0, weight * population + (1 - weight) * m, population)


# --------------------------------------------------------------------------- model specs


class PurchaseSpec:
    """One purchase model: parameters, likelihood, predictions, warm start, simulation, words.

    The BG/NBD family (this class) predicts with lifetimes' closed forms through
    :mod:`analysis.clv.adapter`; :class:`ParetoSpec` overrides them with the overflow-safe
    integral forms. Every forecast in :mod:`analysis.clv` goes through a spec.
    """

    key = "bgnbd"
    name = "BG/NBD"
    params = ("r", "alpha", "a", "b")
    time_params = (1,)  # indices of parameters measured in time units (rescaled in fits)
    log_space = True  # lifetimes optimises log-parameters
    start = "lifetimes"  # how a cold fit starts: lifetimes' own fitter
    dropout_at_first = False  # MBG/NBD: customers may also drop out at their first purchase

    def loglik(self, params: dict, f, r, t, w) -> float:
        """Weighted log-likelihood on the data's own time unit (lifetimes' likelihood)."""
        theta = np.log([params[k] for k in self.params])
        value, _ = likelihood.bgnbd_objective(f, r, t, w, modified=self.dropout_at_first)(theta)
        return float(-value * np.sum(w))

    # P(alive) and the forecast given alive are lifetimes' closed forms (BetaGeoFitter,
    # ModifiedBetaGeoFitter), the same arithmetic written here so that fitting and scoring
    # need no lifetimes import (0.4 s per process); a test holds them equal to lifetimes'
    # own methods on every CDNOW and Online Retail customer.

    def alive(self, fitted, x, tx, T) -> np.ndarray:
        """P(alive | x, tx, T) (BG/NBD: Fader, Hardie & Lee's note 021)."""
        from scipy.special import expit

        r, alpha, a, b = (fitted.params[k] for k in self.params)
        x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            if self.dropout_at_first:
                return np.atleast_1d(
                    1.0 / (1 + (a / (b + x)) * ((alpha + T) / (alpha + tx)) ** (r + x))
                )
            log_div = (r + x) * np.log((alpha + T) / (alpha + tx)) + np.log(
                a / (b + np.maximum(x, 1) - 1)
            )
            return np.atleast_1d(np.where(x == 0, 1.0, expit(-log_div)))

    def alive_rate(self, fitted, x, T, t: float) -> np.ndarray:
        """E[X(T, T + t] | alive at T, x, T]: the numerator of the conditional forecast
        (FHL 2005 eq. 10; its denominator is 1 / P(alive))."""
        from scipy.special import hyp2f1

        r, alpha, a, b = (fitted.params[k] for k in self.params)
        x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
        z = t / (alpha + T + t)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            if self.dropout_at_first:
                hyp = hyp2f1(r + x, b + x + 1, a + b + x, z)
                return (
                    (a + b + x) / (a - 1) * (1 - hyp * ((alpha + T) / (alpha + t + T)) ** (r + x))
                )
            _a, _b, _c = r + x, b + x, a + b + x - 1
            ln_hyp = np.log(hyp2f1(_a, _b, _c, z))
            # where 2F1 overflows, Euler's transformation of it (as lifetimes does)
            alt = np.log(hyp2f1(_c - _a, _c - _b, _c, z)) + (_c - _a - _b) * np.log(1 - z)
            ln_hyp = np.where(np.isinf(ln_hyp), alt, ln_hyp)
            second = 1 - np.exp(ln_hyp + (r + x) * np.log((alpha + T) / (alpha + t + T)))
            return (a + b + x - 1) / (a - 1) * second

    def expected(self, fitted, x, tx, T, t: float) -> np.ndarray:
        """E[X(T, T + t] | x, tx, T] = P(alive) x the forecast given alive (on (x, T) pairs)."""
        px, pT, pair = frequency_age_pairs(x, T)
        return self.alive(fitted, x, tx, T) * self.alive_rate(fitted, px, pT, t)[pair]

    def no_purchase(self, fitted, x, tx, T, t: float) -> np.ndarray:
        """P(no purchase in t | history): dead, or alive with a Poisson silence (dropout only
        happens at a purchase)."""
        p, alive = fitted.params, self.alive(fitted, x, tx, T)
        return 1.0 - alive + alive * ((p["alpha"] + T) / (p["alpha"] + T + t)) ** (p["r"] + x)

    def new_expected(self, fitted, t) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a customer ``t`` after their first purchase."""
        return adapter.unconditional_expected(fitted.engine, t)

    def p_count(self, fitted, t: float, n: int) -> float:
        """P(X(t) = n) for a customer ``t`` after their first purchase (closed form)."""
        return adapter.probability_of_n(fitted.engine, t, n)

    def simulate(self, params: dict, ages: np.ndarray, rng) -> np.ndarray:
        """Repeat purchases of simulated customers of the given ages."""
        n = len(ages)
        lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
        drop = rng.beta(params["a"], params["b"], n)
        before_dropout = rng.geometric(np.clip(drop, 1e-12, 1.0)) - int(self.dropout_at_first)
        return np.minimum(rng.poisson(lam * ages), before_dropout)

    def no_dropout(self, params: dict) -> bool:
        """Mean dropout chance per purchase ``a / (a + b)`` below 1 %."""
        return params["a"] / (params["a"] + params["b"]) < 0.01

    def warm_start(self, params: dict, t_max: float) -> np.ndarray:
        """``params`` in lifetimes' optimiser space (time rescaled by ``1 / t_max``)."""
        theta = np.array([params[k] for k in self.params], dtype=float)
        theta[list(self.time_params)] /= t_max
        return np.log(theta) if self.log_space else theta

    def one_time_words(self, mean_alive: float) -> str:
        return tr(
            "BG/NBD also reports P(alive) = 100 % for every one-time buyer (in that model a "
            "customer can only drop out right after a repeat purchase); this is a modelling "
            "artefact, not a sign they are active: their expected purchases still fall with "
            "the time since their only purchase, so do not use P(alive) alone to rank them."
        )


class MBGSpec(PurchaseSpec):
    key = "mbgnbd"
    name = "MBG/NBD"
    dropout_at_first = True

    def one_time_words(self, mean_alive: float) -> str:
        return tr(
            "{name} lets one-time buyers drop out, so their P(alive) "
            "(average {alive:.0%}) falls with the time since their only purchase.",
            name=self.name,
            alive=mean_alive,
        )


class ParetoSpec(MBGSpec):
    """Pareto/NBD: predictions and likelihood from :func:`_pareto_log_terms` (finite for any
    history, and fast where lifetimes' hypergeometric functions are slow)."""

    key = "pareto_nbd"
    name = "Pareto/NBD"
    params = ("r", "alpha", "s", "beta")
    time_params = (1, 3)
    log_space = False
    start = "nelder_mead_polish"

    def loglik(self, params: dict, f, r, t, w) -> float:
        return float((w * _pareto_loglik_rows(params, f, r, t)).sum())

    def alive(self, fitted, x, tx, T) -> np.ndarray:
        return _pareto_palive_quadrature(fitted.params, x, tx, T)

    def alive_rate(self, fitted, x, T, t: float) -> np.ndarray:
        return _pareto_alive_rate(fitted.params, x, T, t)

    def no_purchase(self, fitted, x, tx, T, t: float) -> np.ndarray:
        """Alive customers may also die during the window before buying: an integral over
        the death time, with the posterior rates Gamma(r+x, α+T) and Gamma(s, β+T)."""
        p = fitted.params
        alive = self.alive(fitted, x, tx, T)
        k, a, b, s = p["r"] + x, p["alpha"] + T, p["beta"] + T, p["s"]
        u, w = np.polynomial.legendre.leggauss(32)
        tau = (u[None, :] + 1.0) * t / 2.0
        dying = (s / b[:, None]) * (b[:, None] / (b[:, None] + tau)) ** (s + 1.0)
        quiet_until = (a[:, None] / (a[:, None] + tau)) ** k[:, None]
        died_first = (dying * quiet_until) @ w * t / 2.0
        survived = (a / (a + t)) ** k * (b / (b + t)) ** s
        return 1.0 - alive + alive * (survived + died_first)

    def p_count(self, fitted, t: float, n: int) -> float:
        """P(X(t) = n): alive throughout (β/(β+t))^s NBD(n | τ = t), or dead at τ < t with
        NBD(n | τ) (negative binomial counts of a gamma-mixed Poisson over τ)."""
        from scipy.special import gammaln

        p = fitted.params
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]

        def nbd(tau):
            tau = np.asarray(tau, dtype=float)
            with np.errstate(divide="ignore"):
                log = gammaln(r + n) - gammaln(r) - gammaln(n + 1)
                log = log + r * np.log(alpha / (alpha + tau)) + n * np.log(tau / (alpha + tau))
            return np.exp(log)

        u, w = np.polynomial.legendre.leggauss(64)
        tau = (u + 1.0) * t / 2.0
        died = (s * beta**s * (beta + tau) ** -(s + 1.0) * nbd(tau)) @ w * t / 2.0
        return float((beta / (beta + t)) ** s * nbd(t) + died)

    def simulate(self, params: dict, ages: np.ndarray, rng) -> np.ndarray:
        n = len(ages)
        lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
        mu = rng.gamma(params["s"], 1.0 / params["beta"], n)
        lifetime = rng.exponential(1.0 / np.maximum(mu, 1e-300))
        return rng.poisson(lam * np.minimum(lifetime, ages))

    def no_dropout(self, params: dict) -> bool:
        """``s`` below 0.01: dropout rates concentrated at zero."""
        return params["s"] < 0.01


class SpendSpec:
    """Gamma-Gamma spend model (fitted on repeat buyers' frequency and mean spend)."""

    key = "gamma_gamma"
    name = "Gamma-Gamma"
    params = ("p", "q", "v")
    time_params = ()
    log_space = True
    start = "lifetimes"

    def loglik(self, params: dict, f, m, w) -> float:
        theta = np.log([params[k] for k in self.params])
        return float(-likelihood.gamma_gamma_objective(f, m, w)(theta)[0] * np.sum(w))

    def warm_start(self, params: dict, t_max: float = 1.0) -> np.ndarray:
        return np.log([params[k] for k in self.params])


class BGBBSpec:
    """BG/BB for discrete purchase opportunities (Fader, Hardie & Shang 2010): summaries
    with ``frequency`` (repeat transactions), ``recency`` (opportunity of the last one) and
    ``periods`` (opportunities observed)."""

    key = "bgbb"
    name = "BG/BB"
    params = ("alpha", "beta", "gamma", "delta")
    columns = ("frequency", "recency", "periods")

    def loglik(self, params: dict, f, r, n, w) -> float:
        theta = np.log([params[k] for k in self.params])
        return float(-adapter.negative_log_likelihood(self.key)(theta, f, r, n, w, 0) * w.sum())


SPECS = {
    spec.key: spec for spec in (PurchaseSpec(), ParetoSpec(), MBGSpec(), SpendSpec(), BGBBSpec())
}
PURCHASE_MODELS = ("bgnbd", "pareto_nbd", "mbgnbd")
MODEL_NAMES = {key: spec.name for key, spec in SPECS.items()}
PARAM_NAMES = {key: spec.params for key, spec in SPECS.items()}


def param_text(params: dict) -> str:
    """Parameters as ``name value`` pairs to 4 significant digits."""
    return ", ".join(f"{k} {v:.4g}" for k, v in params.items())


def spec_of(model: str):
    """The spec of ``model`` (a key of :data:`SPECS`)."""
    if model not in SPECS:
        raise ValueError(f"model '{model}' unknown; use one of {sorted(SPECS)}")
    return SPECS[model]
