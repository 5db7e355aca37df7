"""Uncertainty of shares, the one definition every notebook uses.

Funnel conversion (behaviour), CSAT and repurchase by promoter class (feedback) and
conversion of prospects (lifecycle) all report a share with its Wilson interval.
"""

from __future__ import annotations

import numpy as np
from statsmodels.stats.proportion import proportion_confint


def wilson(successes, trials, level: float = 0.95):
    """Wilson score interval of ``successes / trials``.

    Parameters
    ----------
    successes, trials : int or array-like
        Counts; scalars or arrays of the same shape.
    level : float
        Confidence level (0.95 = 95 %).

    Returns
    -------
    (low, high)
        Floats for scalar input, arrays otherwise; NaN where ``trials`` is 0.
    """
    successes = np.asarray(successes, dtype="float64")
    trials = np.asarray(trials, dtype="float64")
    safe = np.where(trials > 0, trials, 1.0)
    low, high = proportion_confint(successes, safe, alpha=1 - level, method="wilson")
    low = np.where(trials > 0, low, np.nan)
    high = np.where(trials > 0, high, np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high
