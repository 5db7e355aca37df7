"""The one place that touches ``lifetimes`` (its fitters, and its private likelihoods).

``lifetimes`` is in maintenance mode; everything else in :mod:`analysis.clv` calls these
functions, so another engine could replace it here alone.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd

ENGINES = {
    "bgnbd": "BetaGeoFitter",
    "pareto_nbd": "ParetoNBDFitter",
    "mbgnbd": "ModifiedBetaGeoFitter",
    "gamma_gamma": "GammaGammaFitter",
    "bgbb": "BetaGeoBetaBinomFitter",
}


def quiet():
    """Silence lifetimes' prints and its known-harmless numerical warnings during a fit."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    # overflow / invalid values occur in trial steps of the optimiser far from the optimum
    warnings.simplefilter("ignore", RuntimeWarning)
    return stack


def engine_class(model: str):
    """The lifetimes fitter class of ``model``."""
    import lifetimes

    if model not in ENGINES:
        raise ValueError(f"model '{model}' unknown; use one of {sorted(ENGINES)}")
    return getattr(lifetimes, ENGINES[model])


class LazyEngine:
    """Stands in for the lifetimes fitter of ``model``: holds ``params_`` and ``hess_inv_``
    (all that fitting and the usual forecasts need) and makes the real fitter, importing
    lifetimes (0.4 s), only when one of its own methods is called."""

    def __init__(self, model: str):
        if model not in ENGINES:
            raise ValueError(f"model '{model}' unknown; use one of {sorted(ENGINES)}")
        self.model = model
        self.params_ = None
        self.hess_inv_ = None

    def __getattr__(self, name: str):  # only reached for what is not set above
        if name.startswith("__") or self.params_ is None:
            raise AttributeError(name)
        return getattr(engine_at(self.model, dict(self.params_)), name)


def engine_at(model: str, params: dict):
    """A lifetimes fitter holding ``params`` (for its closed-form predictions)."""
    engine = engine_class(model)()
    engine.params_ = pd.Series(params)
    return engine


def negative_log_likelihood(model: str):
    """lifetimes' (private) weighted negative log-likelihood function of ``model``.

    Arguments: log-parameters (natural ones for Pareto/NBD), then the data arrays,
    ``weights`` and the penaliser (0); lifetimes divides the sum by the mean weight
    (Pareto/NBD) or the total weight (the others).
    """
    return engine_class(model)._negative_log_likelihood


def pareto_loglik_rows(theta, x, tx, T) -> np.ndarray:
    """lifetimes' closed-form Pareto/NBD log-likelihood of each row (NaN where it overflows)."""
    from lifetimes import ParetoNBDFitter

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rows = ParetoNBDFitter._conditional_log_likelihood(tuple(theta), x, tx, T)
    return np.asarray(rows, dtype=float)


def unconditional_expected(engine, t) -> np.ndarray:
    """E[X(t)] of a customer who just made a first purchase (the fitter's closed form)."""
    with quiet():
        return np.asarray(engine.expected_number_of_purchases_up_to_time(t), dtype=float)


def probability_of_n(engine, t: float, n: int) -> float:
    """P(X(t) = n) of a new customer from the fitter's closed form (BG/NBD, MBG/NBD)."""
    with quiet():
        return float(engine.probability_of_n_purchases_up_to_time(t, n))


def bgbb_conditional(engine, m_periods: int, x, tx, n) -> tuple[np.ndarray, np.ndarray]:
    """BG/BB P(alive) and expected purchases in the next ``m_periods`` opportunities."""
    with quiet():
        alive = engine.conditional_probability_alive(m_periods, x, tx, n)
        expected = engine.conditional_expected_number_of_purchases_up_to_time(m_periods, x, tx, n)
    return np.asarray(alive, dtype=float), np.asarray(expected, dtype=float)
