"""What retention is worth (clv.retention) and when customers buy next (clv.timing), on CDNOW
(the published 39-week split) and Online Retail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import CAL_END, OBS_END

from analysis import clv
from analysis.clv import retention as ret
from analysis.clv import timing
from analysis.summary import calibration_holdout, customer_summary


@pytest.fixture(scope="module")
def fits(calibration):
    return {m: clv.fit_model(calibration, m) for m in clv.PURCHASE_MODELS}


@pytest.fixture(scope="module")
def spend(calibration):
    return clv.fit_spend(calibration)


@pytest.fixture(scope="module")
def stages(cdnow_sample):
    return ret.life_stages(cdnow_sample.frame, CAL_END)


# --------------------------------------------------------------------------- retention


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "pareto_nbd"])
def test_scale_one_is_the_fitted_clv(model, fits, spend, calibration):
    values = clv.customer_value(fits[model], spend, calibration)
    same = ret.scenario_clv(fits[model], spend, calibration)
    np.testing.assert_allclose(same.to_numpy(), values["clv"].to_numpy(), rtol=1e-9)


def test_no_dropout_is_the_purchase_rate_times_time(fits, calibration):
    f, x, T = fits["bgnbd"], calibration["frequency"].to_numpy(), calibration["T"].to_numpy()
    expected = ret.expected_given_alive(f, x[:5], T[:5], 10.0, 1e-9)
    rate = (f.params["r"] + x[:5]) / (f.params["alpha"] + T[:5])
    np.testing.assert_allclose(expected, rate * 10.0, rtol=1e-6)


def test_retention_uplift_on_cdnow(fits, spend, calibration, stages):
    table = {p: ret.retention_uplift(fits["bgnbd"], spend, calibration, stages, p) for p in
             (0, 1, 5, 10)}  # fmt: skip
    assert table[0].metrics()["clv_change"] == 0.0
    assert table[0].scale == 1.0
    changes = [table[p].metrics()["clv_change"] for p in (0, 1, 5, 10)]
    assert all(b > a for a, b in zip(changes, changes[1:], strict=False))
    five = table[5]
    assert five.retention_before == pytest.approx(0.87433, abs=1e-5)
    assert five.retention_after == pytest.approx(0.92433, abs=1e-5)
    assert five.scale == pytest.approx(0.50181, abs=1e-4)
    assert five.metrics()["clv_change"] == pytest.approx(8681.9, abs=1.0)
    assert five.metrics()["clv_change_pct"] == pytest.approx(0.11991, abs=1e-4)
    per_stage = five.table.drop(index=ret.TOTAL)
    assert per_stage["customers"].sum() == len(calibration) == 2357
    assert per_stage["clv_change"].sum() == pytest.approx(five.metrics()["clv_change"])
    assert five.winback["customers"] == 1769
    assert five.winback["clv_change"] == pytest.approx(40616.1, abs=1.0)


def test_dropout_cut_and_other_models(fits, spend, calibration):
    cut = ret.retention_uplift(fits["bgnbd"], spend, calibration, dropout_cut=50)
    assert cut.scale == 0.5 and cut.points == pytest.approx(5.0216, abs=1e-3)
    assert ret.scale_for_points(fits["mbgnbd"], calibration, 5)[0] == pytest.approx(
        0.6911, abs=1e-3
    )
    pareto = ret.retention_uplift(fits["pareto_nbd"], spend, calibration, points=5)
    assert pareto.scale == pytest.approx(0.7791, abs=1e-3)
    assert pareto.metrics()["clv_change"] == pytest.approx(3321.4, abs=2.0)


@pytest.mark.slow
def test_bootstrap_interval_contains_the_change(fits, spend, calibration, stages):
    draws = clv.bootstrap(fits["bgnbd"], spend, calibration, draws=10, seed=0)
    five = ret.retention_uplift(fits["bgnbd"], spend, calibration, stages, 5, draws=draws)
    low, high = five.metrics()["interval"]
    assert low < five.metrics()["clv_change"] < high
    assert 7500 < low and high < 10000
    assert five.winback["low"] < five.winback["clv_change"] < five.winback["high"]
    assert (five.table["draws"] == 10).all()
    zero = ret.retention_uplift(fits["bgnbd"], spend, calibration, stages, 0, draws=draws)
    assert zero.metrics()["interval"] == [0.0, 0.0]


@pytest.mark.slow
def test_online_retail_has_almost_no_dropout_to_remove(online_retail):
    summary = customer_summary(online_retail.frame, online_retail.as_of, "W")
    fitted, spend = clv.fit_model(summary, "bgnbd"), clv.fit_spend(summary)
    five = ret.retention_uplift(fitted, spend, summary, points=5)
    assert five.retention_before == pytest.approx(0.99922, abs=1e-4)
    assert five.scale == 0.0 and five.points == pytest.approx(0.0776, abs=2e-3)
    assert 0 < five.metrics()["clv_change_pct"] < 0.01
    assert "cannot rise by 5 points" in ret.uplift_takeaway(five, "£")


# --------------------------------------------------------------------------- next purchase


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_wait_quantiles_invert_the_models_own_silence(model, fits, calibration):
    f = fits[model]
    rows = calibration.iloc[:200]
    x, tx, T = (rows[c].to_numpy(dtype=float) for c in clv.RFT)
    (median,) = timing.wait_quantiles(f, x, T, [0.5])
    ok = np.isfinite(median)
    alive = f.spec.alive(f, x[ok], tx[ok], T[ok])
    silent = np.array([f.spec.no_purchase(f, x[ok][i : i + 1], tx[ok][i : i + 1],
                       T[ok][i : i + 1], w)[0] for i, w in enumerate(median[ok])])  # fmt: skip
    given_alive = (silent - (1 - alive)) / alive  # P(no purchase by the median | alive)
    np.testing.assert_allclose(given_alive, 0.5, atol=2e-3 if model == "pareto_nbd" else 1e-9)
    if model == "bgnbd":  # Lomax with shape r + x and scale alpha + T
        k, scale = f.params["r"] + x, f.params["alpha"] + T
        np.testing.assert_allclose(median, scale * (2 ** (1 / k) - 1), rtol=1e-12)


def test_next_purchase_columns(fits, calibration):
    out = timing.next_purchase(fits["bgnbd"], calibration, CAL_END, level=0.8)
    row = out.iloc[0]
    assert row["next_purchase_low"] <= row["next_purchase"] <= row["next_purchase_high"]
    start = pd.Timestamp(CAL_END)
    assert row["next_purchase"] == start + pd.Timedelta(days=int(np.floor(row["wait"] * 7)))
    # weighted by P(alive): the chance of a purchase by the weighted median is one half
    alive = clv.probability_alive(fits["bgnbd"], calibration)
    has = out["next_purchase_weighted"].notna()
    assert has.sum() == (alive > 0.5).sum()
    assert (out.loc[has, "next_purchase_weighted"] >= out.loc[has, "next_purchase"]).all()


def test_next_purchase_intervals_on_the_cdnow_holdout(fits, calibration, cdnow_sample):
    observed = timing.first_purchase_after(cdnow_sample.frame, CAL_END, OBS_END)
    check = timing.holdout_coverage(fits["bgnbd"], calibration, observed, 0.8)
    assert check["customers"] == 259
    assert check["inside"] == pytest.approx(0.6255, abs=1e-3)
    assert check["expected"] == pytest.approx(0.5069, abs=1e-3)
    # BG/NBD understates these customers' P(alive): 12 points more bought inside than expected
    assert abs(check["inside"] - check["expected"]) < 0.15


@pytest.mark.slow
def test_next_purchase_intervals_on_the_online_retail_holdout(online_retail):
    win = clv.windows(online_retail.frame["order_date"].min(), online_retail.as_of, 182)
    cal = calibration_holdout(online_retail.frame, win["calibration_end"], online_retail.as_of)
    observed = timing.first_purchase_after(online_retail.frame, win["calibration_end"],
                                           online_retail.as_of)  # fmt: skip
    check = timing.holdout_coverage(clv.fit_model(cal, "bgnbd"), cal, observed, 0.8)
    assert check["customers"] == 439
    assert check["inside"] == pytest.approx(0.8656, abs=1e-3)
    assert abs(check["inside"] - check["expected"]) < 0.08


# --------------------------------------------------------------------------- pages and words


def test_profile_formats_review_scores_and_dates():
    from analysis import profile as prof
    from analysis.tables import load_table

    reviews = load_table("feedback", "olist")
    customer = reviews.frame["customer_id"].dropna().iloc[0]
    rows = prof.records(reviews, customer, "response_date", 5)
    formats = prof.record_formats(rows)
    shown = {column: formats[column](rows[column].iloc[0]) for column in formats}
    assert shown == {"response_date": "2018-06-12", "score": "3",
                     "review_answer_timestamp": "2018-06-18 02:48"}  # fmt: skip
    half = prof.record_formats(pd.DataFrame({"score": [8.5, np.nan]}))["score"]
    assert (half(8.5), half(np.nan)) == ("8.5", "–")


def test_profile_next_purchase_of_12748(retail_sample):
    from analysis import profile as prof

    computed = prof.computed_value(retail_sample.frame, retail_sample.as_of, "12748")
    assert computed["next_purchase"] == pd.Timestamp("2011-12-11")
    text = prof.next_purchase_text(None, computed)
    assert text.startswith("**Next purchase** if still a customer: around 2011-12-11")
    exported = pd.Series(
        {"next_purchase": "2012-01-05", "next_purchase_low": "2011-12-10",
         "next_purchase_high": np.nan, "next_purchase_weighted": np.nan}
    )  # fmt: skip
    text = prof.next_purchase_text(exported, None)
    assert "between 2011-12-10 and later, or never" in text and "less likely than not" in text


def test_every_new_message_and_markdown_cell_has_chinese(fits, spend, calibration, stages):
    import json
    from pathlib import Path

    from analysis import i18n
    from analysis.clv.retention import uplift_table

    catalogue = i18n.catalogue("zh")
    root = Path(__file__).resolve().parents[1] / "notebooks"
    for name in ("03_lifetime_value", "04_churn", "customer_profile"):
        cells = json.loads((root / f"{name}.ipynb").read_text())["cells"]
        ours = [c for c in cells if c.get("id", "").startswith("ltv-") and c["cell_type"] ==
                "markdown"]  # fmt: skip
        assert ours and all("".join(c["source"]).strip() in catalogue for c in ours)
    uplift = ret.retention_uplift(fits["bgnbd"], spend, calibration, stages, 5)
    words = [ret.uplift_takeaway(uplift, "$"), ret.uplift_takeaway(None),
             timing.coverage_takeaway(None)]  # fmt: skip
    shown = uplift_table(uplift, "$")
    labels = [*shown.columns, shown.index.name, *shown.index]
    try:
        i18n.set_language("zh")
        before = set(i18n.missing("zh"))
        words_zh = [ret.uplift_takeaway(uplift, "$"), ret.uplift_takeaway(None)]
        assert set(i18n.missing("zh")) == before, set(i18n.missing("zh")) - before
    finally:
        i18n.set_language("en")
    assert all(label in catalogue for label in labels)
    assert words_zh[0] != words[0] and "假设" in words_zh[0]


def test_next_purchase_of_the_whole_cdnow_sample_and_the_risk_list_words(cdnow_sample):
    upcoming, note = clv.next_purchase_at(cdnow_sample.frame, cdnow_sample.as_of, 0.8)
    assert note == "" and len(upcoming) == 2357
    # BG/NBD: an 80 % upper bound exists for everyone but those centuries away (slow buyers)
    assert upcoming["next_purchase_high"].isna().sum() == 1218
    assert upcoming["next_purchase_weighted"].isna().sum() == 431  # P(alive) under one half
    words = timing.next_purchase_takeaway(upcoming.head(20), cdnow_sample.as_of, 181)
    assert words.startswith("For 4 of these 20 customers")
    assert "6 of them would normally buy again within the 181-day churn window (by 1998-12-28)" in (
        words
    )
    table = timing.next_purchase_table(upcoming.assign(p_alive=0.5), 3, True, by=None)
    assert table["customer_id"].str.startswith("C-").all()
    assert table.iloc[2]["next purchase, all things considered"] == "later or never"


def test_extreme_beta_shapes_keep_the_quadrature_finite():
    """Online Retail sample at 2011-11-30: BG/NBD fits a = 7.2e-07, b = 11,953; the Jacobi
    weights' scale overflowed and the retention what-if stopped the report with a NaN."""
    from analysis.data import load_transactions

    nodes, weights = ret._jacobi(7.227673882196719e-07, 11957.67, 20)
    assert np.isfinite(nodes).all() and abs(weights.sum() - 1.0) < 1e-12
    tx = load_transactions("online_retail_sample", {}, "2011-11-30")
    summary = customer_summary(tx.frame, tx.as_of, "W")
    fitted = clv.fit_model(summary, "bgnbd", "W")
    assert fitted.params["a"] < 1e-5 and fitted.params["b"] > 1e3
    assert ret.retention_rate(fitted, summary) > 0.9999
    scale, reached = ret.scale_for_points(fitted, summary, 5)
    assert scale == 0.0 and reached < 0.01  # 5 points are out of reach, and it says so
