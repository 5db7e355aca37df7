"""Churn baseline from the purchase model and a coherent value at risk (issue 19, items 2-3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import churn, clv
from analysis.summary import customer_summary


def test_no_purchase_probability_of_a_new_customer_is_the_published_p_x_zero():
    """A customer seen for no time (x = tx = T = 0) under the published CDNOW BG/NBD:
    P(no purchase in 39 weeks) = P(X(39) = 0) = (α / (α + 39))^r = 0.5737864 (FHL 2005)."""
    params = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # as published, 3 digits
    fitted = clv.FittedModel("bgnbd", params, 0.0, True, 1)
    from lifetimes import BetaGeoFitter

    fitted.engine = BetaGeoFitter()
    fitted.engine.params_ = pd.Series(fitted.params)
    new = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0]})
    assert clv.probability_no_purchase(fitted, new, 39.0).iloc[0] == pytest.approx(
        0.5737864, abs=1e-6
    )


def test_no_purchase_probability_tracks_the_cdnow_holdout(cdnow_sample):
    """CDNOW sample, calibration to 1997-09-30: 71.0 % made no purchase in the 39-week
    holdout; each model's P(no purchase) averages close to that and ranks them (AUC)."""
    from sklearn.metrics import roc_auc_score

    from analysis.summary import calibration_holdout

    cal = calibration_holdout(cdnow_sample.frame, "1997-09-30", "1998-06-30", "W")
    silent = (cal["frequency_holdout"] == 0).astype(int)
    assert silent.mean() == pytest.approx(0.7098, abs=1e-4)
    expected = {"bgnbd": (0.7382, 0.757), "pareto_nbd": (0.7780, 0.771), "mbgnbd": (0.7600, 0.760)}
    for model, (mean, auc) in expected.items():
        p = clv.probability_no_purchase(clv.fit_model(cal, model), cal, 39.0)
        assert p.mean() == pytest.approx(mean, abs=1e-3), model
        assert roc_auc_score(silent, p) == pytest.approx(auc, abs=2e-3), model


def test_value_at_risk_is_the_value_lost_if_gone(cdnow_sample):
    """(1 - P(alive)) x CLV if alive; CLV + value at risk = value if alive, per customer."""
    value, _, notes = churn.value_and_segments(cdnow_sample.frame, cdnow_sample.as_of)
    assert notes == []
    assert value["clv"].sum() == pytest.approx(68_813.2, abs=0.5)
    assert value["value_at_risk"].sum() == pytest.approx(34_014.8, abs=0.5)
    top = value["value_at_risk"].idxmax()
    assert top == "05420" and value.loc[top, "p_alive"] == pytest.approx(0.0289, abs=1e-4)
    assert value.loc[top, "value_at_risk"] == pytest.approx(
        value.loc[top, "clv"] * (1 - 0.028903) / 0.028903, rel=1e-4
    )
    features = pd.DataFrame(
        {"recency_days": [1, 2], "purchase_days": [1, 1], "revenue": [5.0, 5.0]},
        index=pd.Index([top, "00001"], name="customer_id"),
    )
    risk = churn.risk_list(features, [0.1, 0.9], cdnow_sample.as_of, value)
    assert risk.index[0] == top  # ranked by value at risk, not by P(churn)
    assert risk.loc[top, "value_at_risk"] == pytest.approx(value.loc[top, "value_at_risk"])
    words = churn.value_at_risk_definition(value, 12)
    assert "(1 - P(alive))" in words and "counts the same risk twice" in words
    assert "not money at stake" in churn.value_at_risk_definition(None)


@pytest.mark.slow
def test_purchase_model_baseline_on_online_retail():
    """The model's own P(no purchase in the window): on the issue's design (70-day window,
    everyone active in a year) AUC 0.732 / Brier 0.218, against 0.504 / 0.492 for
    1 - P(alive); on the report's design (124-day censoring-aware window, recently active
    customers) AUC 0.731 / Brier 0.189. Value at risk is small because every purchase model
    finds almost no dropout in these data."""
    from analysis import cycle
    from analysis.data import load_transactions

    tx = load_transactions("online_retail")
    expected = {(70, 365): (0.732, 0.218, 0.504, 0.492), (None, None): (0.731, 0.189, 0.366, 0.298)}
    for (window, active), (auc, brier, palive_auc, palive_brier) in expected.items():
        if window is None:
            window = churn.derive_window(cycle.cycle_at(tx.frame, tx.as_of), 0.8)
            window, _ = churn.feasible_window(tx.frame, tx.as_of, window)
            assert window == 124  # 170 days derived, shortened to what the data allow
        design = churn.make_design(tx.frame, tx.as_of, window, active)
        palive = churn.BGNBDAlive()
        X, y = churn.build_dataset(tx.frame, design.test_cutoff, window, design.active_days, palive)
        p = churn.btyd_no_purchase(tx.frame, design.test_cutoff, window).reindex(X.index)
        assert np.isfinite(p).all()
        # the features' own fit, lent to the forecast, gives the same forecast as a refit
        lent = churn.btyd_no_purchase(tx.frame, design.test_cutoff, window, palive=palive)
        assert list(palive.fits) == [design.test_cutoff]
        np.testing.assert_allclose(lent.reindex(X.index), p, rtol=1e-12)
        table = churn.score_table(y, {"btyd": p, "palive": 1 - X["p_alive"]})
        assert table.loc["btyd", "ROC-AUC"] == pytest.approx(auc, abs=1e-3)
        assert table.loc["btyd", "Brier"] == pytest.approx(brier, abs=1e-3)
        assert table.loc["palive", "ROC-AUC"] == pytest.approx(palive_auc, abs=1e-3)
        assert table.loc["palive", "Brier"] == pytest.approx(palive_brier, abs=1e-3)
    value, _, _ = churn.value_and_segments(tx.frame, tx.as_of)
    palive = churn.BGNBDAlive()
    churn.churn_features(tx.frame, tx.as_of, window, design.active_days, palive)
    lent, _, _ = churn.value_and_segments(tx.frame, tx.as_of, palive=palive)
    pd.testing.assert_frame_equal(lent, value, rtol=1e-12)
    upcoming, _ = clv.next_purchase_at(tx.frame, tx.as_of)
    reused, _ = clv.next_purchase_at(tx.frame, tx.as_of, fit=palive.fit_at(tx.as_of))
    pd.testing.assert_frame_equal(reused, upcoming)
    assert upcoming["next_purchase"].notna().sum() > 1000
    summary = customer_summary(tx.frame, tx.as_of, "W")
    assert len(value) == len(summary)
    assert value["value_at_risk"].sum() < 0.01 * value["clv"].sum()
