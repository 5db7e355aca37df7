"""analysis.clv: published CDNOW results, hand-checkable pieces, and the notebook end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import CAL_END, OBS_END, SHARED, run_notebook

from analysis import clv
from analysis.cli import main
from analysis.errors import NotApplicable
from analysis.summary import calibration_holdout, customer_summary


def sig3(x: float) -> float:
    """Round to 3 significant digits."""
    return float(f"{x:.3g}")


@pytest.fixture(scope="module")
def compared(calibration):
    return clv.compare_models(calibration)


# --------------------------------------------------------------------------- published results


def test_calibration_and_holdout_repeat_counts(calibration):
    assert len(calibration) == 2357
    assert calibration["frequency"].sum() == 2457
    assert calibration["frequency_holdout"].sum() == 1882
    assert calibration["duration_holdout"].iloc[0] == pytest.approx(39.0)


def test_bgnbd_reproduces_fader_hardie_lee(compared):
    fits, _ = compared
    p = fits["bgnbd"].params
    assert [sig3(p[k]) for k in ("r", "alpha", "a", "b")] == [0.243, 4.41, 0.793, 2.43]
    assert p["alpha"] == pytest.approx(4.414, abs=5e-4)
    assert fits["bgnbd"].loglik == pytest.approx(-9582.4, abs=0.1)
    assert fits["bgnbd"].converged


def test_pareto_nbd_reproduces_published(compared):
    fits, _ = compared
    p = fits["pareto_nbd"].params
    assert [sig3(p[k]) for k in ("r", "alpha", "s", "beta")] == [0.553, 10.6, 0.606, 11.7]
    assert p["alpha"] == pytest.approx(10.578, abs=2e-3)
    assert p["beta"] == pytest.approx(11.669, abs=2e-3)
    assert fits["pareto_nbd"].loglik == pytest.approx(-9595.0, abs=0.1)
    assert fits["pareto_nbd"].converged


def test_mbgnbd_matches_lead_measurement(compared):
    fits, _ = compared
    p = fits["mbgnbd"].params
    assert [sig3(p[k]) for k in ("r", "alpha", "a", "b")] == [0.525, 6.18, 0.891, 1.61]


def test_gamma_gamma_reproduces_note_025(calibration):
    spend = clv.fit_spend(calibration)
    assert spend.customers == 946
    assert [sig3(spend.params[k]) for k in ("p", "q", "v")] == [6.25, 3.74, 15.4]
    assert spend.params["v"] == pytest.approx(15.44, abs=5e-3)


def test_point_check_expected_purchases_and_p_alive(compared):
    fitted = compared[0]["bgnbd"]
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]}, index=["x"])
    assert clv.expected_purchases(fitted, one, 39).iloc[0] == pytest.approx(1.2259, abs=5e-4)
    assert clv.probability_alive(fitted, one).iloc[0] == pytest.approx(0.7266, abs=5e-4)


def test_compressed_fit_is_exact(calibration):
    """Unique (frequency, recency, T) rows with counts give the same fit as one row each."""
    compressed = clv.compress(calibration)
    assert len(compressed) < len(calibration) / 2
    assert compressed["weights"].sum() == len(calibration)
    raw = calibration[clv.RFT].assign(weights=1)
    for model in ("bgnbd", "pareto_nbd"):
        a = clv.fit._fit_compressed(model, compressed, "W")
        b = clv.fit._fit_compressed(model, raw, "W")
        for k in a.params:
            assert a.params[k] == pytest.approx(b.params[k], rel=1e-4), (model, k)
        assert a.loglik == pytest.approx(b.loglik, abs=1e-3)


def test_tracking_actual_series_equals_published(cdnow_sample, calibration, compared):
    path = SHARED / "cdnow_sample_tracking_78wk.csv"
    if not SHARED.exists():
        pytest.skip(f"shared reference data folder {SHARED} is absent")
    published = pd.read_csv(path, index_col="week")["cum_repeat_trans"]
    track = clv.tracking(cdnow_sample.frame, calibration, compared[0]["bgnbd"], CAL_END, OBS_END)
    assert len(track) == 78
    assert track["cum_actual"].astype(int).tolist() == published.tolist()
    assert track.loc[39, "period"] == "calibration" and track.loc[40, "period"] == "holdout"
    # the model line: FHL (2005) report about 4,156 cumulative repeat purchases at week 78
    assert track.loc[78, "cum_predicted"] == pytest.approx(4156, rel=0.01)


# --------------------------------------------------------------------------- hand-checkable pieces


def test_compress_counts_identical_rows():
    s = pd.DataFrame(
        {"frequency": [0, 0, 1, 1, 1], "recency": [0.0, 0.0, 2.0, 2.0, 3.0], "T": [5.0] * 5},
        index=list("abcde"),
    )
    out = clv.compress(s)
    assert out.to_dict("list") == {
        "frequency": [0, 1, 1],
        "recency": [0.0, 2.0, 3.0],
        "T": [5.0, 5.0, 5.0],
        "weights": [2, 2, 1],
    }
    with pytest.raises(ValueError, match="recency"):
        clv.compress(s.drop(columns="recency"))


def test_expected_spend_shrinks_towards_population_mean():
    spend = clv.FittedModel("gamma_gamma", {"p": 2.0, "q": 3.0, "v": 10.0}, 0.0, True, 3)
    s = pd.DataFrame({"frequency": [0, 1, 3], "monetary_value": [0.0, 40.0, 40.0]})
    # population mean p v / (q - 1) = 10; weight on it (q - 1) / (p x + q - 1)
    expected = [10.0, 0.5 * 10 + 0.5 * 40, 0.25 * 10 + 0.75 * 40]
    assert clv.expected_spend(spend, s).tolist() == pytest.approx(expected)


def test_baselines_and_score_by_hand():
    cal = pd.DataFrame(
        {
            "frequency": [2, 0, 1],
            "recency": [8.0, 0.0, 4.0],
            "T": [10.0, 5.0, 10.0],
            "duration_holdout": [5.0] * 3,
            "frequency_holdout": [1, 0, 3],
        }
    )
    base = clv.baseline_predictions(cal)
    assert base["calibration rate"].tolist() == pytest.approx([1.0, 0.0, 0.5])
    assert base["average rate"].tolist() == pytest.approx([0.6] * 3)  # 3 purchases / 25 weeks
    s = clv.score(base["calibration rate"], cal["frequency_holdout"])
    assert s["mae"] == pytest.approx((0 + 0 + 2.5) / 3)
    assert s["rmse"] == pytest.approx(math.sqrt(2.5**2 / 3))
    assert s["aggregate_error"] == pytest.approx(1.5 / 4 - 1)


def test_top_decile_capture_by_hand():
    predicted = pd.Series(np.arange(20, dtype=float))  # customers 18, 19 ranked top
    actual = pd.Series([1.0] * 18 + [5.0, 3.0])
    assert clv.top_decile_capture(predicted, actual) == pytest.approx(8 / 26)


def test_choose_model_lowest_error_ties_override_and_none():
    table = pd.DataFrame(
        {"mae": [0.80, 0.75, 0.7500001], "aggregate_error": [-0.1, 0.2, -0.05]},
        index=["bgnbd", "pareto_nbd", "mbgnbd"],
    )
    assert clv.choose_model(table) == "mbgnbd"  # default: smallest holdout total error
    assert clv.choose_model(table, criterion="mae") == "pareto_nbd"
    assert clv.choose_model(table, override="bgnbd") == "bgnbd"
    tie = table.assign(mae=[0.75, 0.75, 0.75])
    assert clv.choose_model(tie, criterion="mae") == "bgnbd"
    assert clv.choose_model(table.assign(aggregate_error=np.nan)) is None
    with pytest.raises(ValueError, match="criterion"):
        clv.choose_model(table, criterion="r2")


def test_too_few_repeat_buyers_is_a_model_fit_error():
    s = pd.DataFrame({"frequency": [0] * 20 + [1] * 3, "recency": [0.0] * 20 + [2.0] * 3})
    s["T"] = 10.0
    with pytest.raises(clv.ModelFitError, match="3"):
        clv.fit_model(s)
    fitted, reason = clv.attempt(clv.fit_model, s, "pareto_nbd")
    assert fitted is None and "repeat buyers" in reason


def test_windows_reject_a_holdout_longer_than_the_data():
    win = clv.windows("1997-01-01", "1998-06-30", 273)
    assert win["calibration_end"] == pd.Timestamp(CAL_END)
    with pytest.raises(NotApplicable, match="--param holdout_days=60 ") as caught:
        clv.windows("1998-01-01", "1998-06-30", 400)  # 180 days of history
    assert "holdout_days" not in caught.value.reason  # the reader's sentence is in words


def test_discounting_matches_the_monthly_sum(compared, calibration):
    fitted = compared[0]["bgnbd"]
    spend = clv.FittedModel("gamma_gamma", {"p": 2.0, "q": 3.0, "v": 20.0}, 0.0, True, 1)
    one = calibration.iloc[:1].assign(frequency=2, recency=30.43, T=38.86, monetary_value=20.0)
    step = 365.25 / 12 / 7  # weeks per month
    e1 = clv.expected_purchases(fitted, one, step).iloc[0]
    e2 = clv.expected_purchases(fitted, one, 2 * step).iloc[0]
    each = clv.expected_spend(spend, one).iloc[0]
    flat = clv.customer_value(fitted, spend, one, horizon_months=2, discount_rate=0.0)
    assert flat["clv"].iloc[0] == pytest.approx(e2 * each)
    m = 1.10 ** (1 / 12)
    disc = clv.customer_value(fitted, spend, one, horizon_months=2, discount_rate=0.10)
    assert disc["clv"].iloc[0] == pytest.approx((e1 / m + (e2 - e1) / m**2) * each)
    assert disc["expected_purchases"].iloc[0] == pytest.approx(e2)


def test_customer_value_scores_unique_rows_back_to_every_customer(compared, calibration):
    fitted = compared[0]["pareto_nbd"]
    spend = clv.fit_spend(calibration)
    values = clv.customer_value(fitted, spend, calibration)
    assert values.index.equals(calibration.index)
    twins = values.groupby(["frequency", "recency", "T", "monetary_value"])["clv"].nunique()
    assert (twins == 1).all()
    one_time = values.loc[values["one_time_buyer"]]
    assert one_time["expected_spend"].nunique() == 1  # the population mean
    segments = clv.segment_table(values)
    assert segments["customers"].sum() == len(values)
    assert segments.loc["one-time buyers", "customers"] == (calibration["frequency"] == 0).sum()
    assert segments["share of CLV"].sum() == pytest.approx(1.0)


def test_bgnbd_gives_one_time_buyers_p_alive_one_and_says_so(compared, calibration):
    fitted = compared[0]["bgnbd"]
    p = clv.probability_alive(fitted, calibration)
    assert (p[calibration["frequency"] == 0] == 1.0).all()
    values = clv.customer_value(fitted, clv.fit_spend(calibration), calibration)
    text = clv.one_time_takeaway(clv.segment_table(values), fitted, "$")
    assert "P(alive) = 100 %" in text and "1,411" in text


def test_calibration_fit_and_holdout_by_frequency(compared, calibration):
    fitted = compared[0]["bgnbd"]
    fit = clv.calibration_fit(fitted, calibration, seed=1)
    assert fit["actual"].tolist() == [1411, 439, 214, 100, 62, 38, 29, 64]
    assert fit["model"].sum() == pytest.approx(2357)
    assert fit.loc["0", "model"] == pytest.approx(1411, rel=0.03)
    by_freq = clv.holdout_by_frequency(calibration, clv.holdout_prediction(fitted, calibration))
    assert by_freq["customers"].sum() == 2357
    assert by_freq["predicted"].is_monotonic_increasing


def test_comparison_table_and_scorecard(compared, calibration):
    fits, table = compared
    assert set(table.index) == {"bgnbd", "pareto_nbd", "mbgnbd"}
    assert (table["actual_total"] == 1882).all()
    assert table.loc["bgnbd", "aic"] == pytest.approx(2 * 4 + 2 * 9582.43, abs=0.1)
    card = clv.scorecard(calibration, fits)
    assert card.loc["baseline: zero", "mae"] == pytest.approx(1882 / 2357)
    assert card.loc["BG/NBD", "mae"] < card.loc["baseline: calibration rate", "mae"]
    assert card.loc["BG/NBD", "top_decile_capture"] > 0.4
    words = clv.scorecard_takeaway(card, "BG/NBD")
    assert "0.79 purchases" in words and "beats every baseline" in words
    assert "came closer" not in words  # every baseline total is further off than -12 %


def test_bootstrap_on_compressed_data_is_seeded_and_brackets_the_estimate(compared, calibration):
    fitted = compared[0]["bgnbd"]
    spend = clv.fit_spend(calibration)
    a = clv.bootstrap(fitted, spend, calibration, draws=12, seed=3)
    b = clv.bootstrap(fitted, spend, calibration, draws=12, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 12 and {"r", "spend_p", "total_clv", "clv: one-time buyers"} <= set(a)
    total = clv.customer_value(fitted, spend, calibration)["clv"].sum()
    iv = clv.intervals({"total_clv": total, "r": fitted.params["r"]}, a, 0.9)
    assert iv.loc["total_clv", "low"] < total < iv.loc["total_clv", "high"]
    assert iv.loc["r", "low"] < 0.2426 < iv.loc["r", "high"]


def test_spend_correlation_and_takeaway(calibration):
    corr = clv.spend_correlation(calibration)
    assert corr["repeat_buyers"] == 946
    assert corr["pearson"] == pytest.approx(0.1139, abs=1e-4)
    assert corr["spearman"] == pytest.approx(0.2064, abs=1e-4)  # the rank view sees more
    words = clv.spend_takeaway(corr, None)
    assert "depends weakly" in words and "rank correlation 0.21" in words
    weak = {"pearson": 0.05, "spearman": 0.1, "repeat_buyers": 50}
    assert "assumption holds" in clv.spend_takeaway(weak, None)
    strong = {"pearson": 0.6, "spearman": 0.6, "repeat_buyers": 50}
    assert "Caution" in clv.spend_takeaway(strong, None)


# --------------------------------------------------------------------------- notebook / CLI


@pytest.mark.slow
def test_cli_writes_published_values_into_metrics(tmp_path):
    code = main(
        [
            "report",
            "--data", "cdnow_sample",
            "--as-of", OBS_END,
            "--param", "holdout_days=273",
            "--param", "bootstrap_draws=10",
            "--notebooks", "lifetime_value",
            "--out", str(tmp_path),
        ]
    )  # fmt: skip
    assert code == 0
    m = json.loads((tmp_path / OBS_END / "metrics.json").read_text())["lifetime_value"]
    assert set(m) >= {
        "bgnbd", "pareto_nbd", "mbgnbd", "gamma_gamma", "time_unit", "calibration_end",
        "holdout_actual_total", "holdout_predicted_total", "holdout_mae", "baseline_mae",
        "chosen_model", "total_clv", "total_clv_interval", "customers",
    }  # fmt: skip
    assert m["calibration_end"] == CAL_END and m["time_unit"] == "W"
    assert [sig3(m["bgnbd"][k]) for k in ("r", "alpha", "a", "b")] == [0.243, 4.41, 0.793, 2.43]
    assert m["bgnbd"]["loglik"] == pytest.approx(-9582.4, abs=0.1)
    assert [sig3(m["pareto_nbd"][k]) for k in ("r", "alpha", "s", "beta")] == [
        0.553, 10.6, 0.606, 11.7,
    ]  # fmt: skip
    assert m["pareto_nbd"]["loglik"] == pytest.approx(-9595.0, abs=0.1)
    assert [sig3(m["gamma_gamma"][k]) for k in ("p", "q", "v")] == [6.25, 3.74, 15.4]
    assert m["holdout_actual_total"] == 1882
    assert m["chosen_model"] in ("bgnbd", "pareto_nbd", "mbgnbd")
    low, high = m["total_clv_interval"]
    assert low < m["total_clv"] < high
    assert m["customers"] == 2357
    assert m["holdout_mae"] < m["baseline_mae"]
    uplift = m["retention_uplift"]  # issue 16 item 3: +5 points of 12-month retention
    assert uplift["points"] == 5.0 and uplift["clv_change"] > 0
    assert uplift["interval"][0] < uplift["clv_change"] < uplift["interval"][1]
    assert m["winback_at_risk"] > 0
    check = m["next_purchase"]  # issue 16 item 4, 90 % intervals on the 39-week holdout
    assert check["level"] == 0.9 and check["customers"] >= 20
    assert abs(check["inside"] - check["expected"]) < 0.15


@pytest.mark.slow
def test_notebook_on_retail_sample_with_anonymised_export(tmp_path, retail_sample):
    metrics, error, out = run_notebook(
        "lifetime_value", tmp_path, data="online_retail_sample", anonymize=True, bootstrap_draws=5
    )
    assert error is None, error
    customers = len(customer_summary(retail_sample.frame, retail_sample.as_of))
    assert 280 < customers <= 300
    assert metrics["customers"] == customers
    assert metrics["total_clv"] > 0
    export = pd.read_csv(out / "lifetime_value.csv", dtype={"customer_id": str})
    assert len(export) == customers and export["customer_id"].str.startswith("C-").all()
    dates = export[["next_purchase_low", "next_purchase", "next_purchase_high"]].apply(
        pd.to_datetime
    )
    assert (dates.min() >= retail_sample.as_of).all()
    assert (dates["next_purchase_low"] <= dates["next_purchase"]).all()


@pytest.mark.slow
def test_notebook_continues_when_no_model_can_be_fitted(tmp_path):
    rows = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(40)],
            "order_date": pd.date_range("2020-01-01", periods=40, freq="5D").strftime("%Y-%m-%d"),
            "amount": 10.0,
        }
    )
    path = tmp_path / "one_purchase_each.csv"
    rows.to_csv(path, index=False)
    metrics, error, _ = run_notebook("lifetime_value", tmp_path, data=str(path), holdout_days=60)
    assert error is None, error
    assert metrics["chosen_model"] is None and metrics["bgnbd"] is None
    assert metrics["total_clv"] is None


def test_tracking_weeks_end_on_calibration_end_and_split_the_totals(retail_sample):
    frame = retail_sample.frame
    win = clv.windows(frame["order_date"].min(), retail_sample.as_of, 100)  # not whole weeks
    cal = calibration_holdout(frame, win["calibration_end"], retail_sample.as_of, "W")
    fitted = clv.fit_model(cal)
    track = clv.tracking(frame, cal, fitted, win["calibration_end"], retail_sample.as_of)
    last_cal = track.loc[track["period"] == "calibration"].iloc[-1]
    assert last_cal["week_end"] == win["calibration_end"]
    assert track.loc[track["period"] == "calibration", "actual"].sum() == cal["frequency"].sum()
    assert track.loc[track["period"] == "holdout", "actual"].sum() == cal["frequency_holdout"].sum()
    assert track["days"].iloc[-1] == 100 - 7 * 14  # 100 holdout days = 14 weeks + 2 days
    assert track["cum_predicted"].is_monotonic_increasing


def test_findings_state_trust_value_focus_and_one_time_buyers(compared, calibration):
    fits, table = compared
    card = clv.scorecard(calibration, fits)
    values = clv.customer_value(fits["bgnbd"], clv.fit_spend(calibration), calibration)
    iv = clv.intervals({"total_clv": values["clv"].sum()}, pd.DataFrame({"total_clv": [1.0, 2.0]}))
    text = clv.findings(card, "bgnbd", values, iv, 12, "$")
    assert "12% under the actual purchases" in text  # 1,653 vs 1,882
    assert "0.79 purchases against 1.02" in text
    assert f"\\${values['clv'].sum():,.0f}" in text and "range \\$1 to \\$2" in text
    assert "60% of customers" in text  # 1,411 one-time buyers of 2,357
    assert "no CLV forecast" in clv.findings(None, None, None, None)


@pytest.mark.slow
def test_a_coarser_time_grid_is_an_approximation_with_a_measured_cost(cdnow):
    """grid=1 (whole weeks) fits far fewer distinct rows; the estimate moves, a little."""
    summary = customer_summary(cdnow.frame, "1998-06-30", "W")
    weekly = clv.on_grid(summary, 1.0)
    assert (len(clv.compress(summary)), len(clv.compress(weekly))) == (11_104, 4_855)
    assert (weekly["recency"] <= weekly["T"]).all() and (weekly["T"] % 1 == 0).all()
    exact = clv.fit_model(summary, "bgnbd", "W")
    coarse = clv.fit_model(summary, "bgnbd", "W", grid=1.0)
    assert coarse.params != exact.params  # not the same data any more
    for name, value in exact.params.items():
        assert coarse.params[name] == pytest.approx(value, rel=0.01), name
    with pytest.raises(ValueError, match="positive"):
        clv.on_grid(summary, 0)


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_bgnbd_forecasts_equal_lifetimes_own_methods(cdnow_sample, online_retail, model):
    """Our BG/NBD and MBG/NBD P(alive) and conditional expected purchases (written out so
    that scoring needs no lifetimes import) equal lifetimes' own fitter methods on every
    customer of CDNOW and Online Retail."""
    for tx in (cdnow_sample, online_retail):
        summary = customer_summary(tx.frame, tx.as_of, "W")
        fitted = clv.fit_model(summary, model, "W")
        assert "lifetimes" not in type(fitted.engine).__module__  # no fitter made to fit
        real = clv.adapter.engine_at(model, fitted.params)
        x, tx_, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
        with clv.adapter.quiet():
            alive = real.conditional_probability_alive(x, tx_, T)
            expected = real.conditional_expected_number_of_purchases_up_to_time(26.0, x, tx_, T)
        np.testing.assert_allclose(clv.probability_alive(fitted, summary), alive, rtol=1e-12)
        ours = clv.expected_purchases(fitted, summary, 26.0)
        np.testing.assert_allclose(ours, expected, rtol=1e-11, atol=1e-14)
        assert 0.1 < ours.mean() < 5 and alive.min() < 0.99  # the forecasts vary


@pytest.mark.slow
def test_pareto_nbd_scores_heavy_buyers_where_lifetimes_gives_nan(cdnow):
    """lifetimes' closed form overflows to NaN for CDNOW customer 14048 (170 repeat
    purchases, the last on the cutoff day); the integral form is finite and agrees with
    the closed form on every other distinct row to 1e-12."""
    summary = customer_summary(cdnow.frame, "1998-06-30", "W")
    fitted = clv.fit_model(summary, "pareto_nbd", "W")
    x, tx, T = clv.models._rft(clv.compress(summary))
    with clv.adapter.quiet():
        closed = fitted.engine.conditional_probability_alive(x, tx, T)
    finite = np.isfinite(closed)
    assert (~finite).sum() == 1 and finite.sum() == 11_103
    quad = clv.models._pareto_palive_quadrature(fitted.params, x, tx, T)
    np.testing.assert_allclose(quad[finite], closed[finite], rtol=0, atol=1e-12)
    alive = clv.probability_alive(fitted, summary)
    expected = clv.expected_purchases(fitted, summary, 52.0)
    assert alive.notna().all() and expected.notna().all()
    assert alive["14048"] == 1.0  # bought on the cutoff day
    assert expected["14048"] == pytest.approx(96.33, abs=0.01)


# --------------------------------------------------------------------------- issue 18 defects


def test_pareto_nbd_loglik_is_finite_for_a_heavy_buyer_on_the_cutoff_day():
    """frequency 200, recency = T = 38.86 at the FHL (2005) Pareto/NBD parameters: the
    closed form (no dropout term when recency = T) is 78.5521; lifetimes gives NaN."""
    from lifetimes import ParetoNBDFitter

    params = {"r": 0.55, "alpha": 10.56, "s": 0.61, "beta": 11.64}
    row = pd.DataFrame({"frequency": [200], "recency": [38.86], "T": [38.86], "weights": [1]})
    with clv.adapter.quiet():
        assert np.isnan(ParetoNBDFitter._conditional_log_likelihood(
            tuple(params.values()), np.array([200.0]), np.array([38.86]), np.array([38.86])
        ))  # fmt: skip
    assert clv.loglik("pareto_nbd", params, row) == pytest.approx(78.5521, abs=1e-4)


@pytest.mark.slow
def test_pareto_nbd_likelihood_by_integral_equals_the_closed_form_on_cdnow(cdnow):
    """The integral form agrees with lifetimes' closed form on every finite CDNOW row."""
    from lifetimes import ParetoNBDFitter

    x, tx, T = clv.models._rft(clv.compress(customer_summary(cdnow.frame, "1998-06-30", "W")))
    params = {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}
    with clv.adapter.quiet():
        closed = ParetoNBDFitter._conditional_log_likelihood(tuple(params.values()), x, tx, T)
    from scipy.special import gammaln

    log_alive, log_dead = clv.models._pareto_log_terms(params, x, tx, T)
    ours = (
        gammaln(0.553 + x) - gammaln(0.553) + 0.553 * np.log(10.58) + 0.606 * np.log(11.67)
        + np.logaddexp(log_alive, log_dead)
    )  # fmt: skip
    finite = np.isfinite(closed)
    assert (~finite).sum() == 1  # customer 14048, 170 repeat purchases
    np.testing.assert_allclose(ours[finite], closed[finite], rtol=0, atol=1e-10)


def test_degenerate_bgnbd_and_mbgnbd_fits_are_refused_with_a_sentence():
    """20 customers with no repeat purchase and 20 with one, all seen for one day: the
    optimum runs off to r = 1.9e5 and lifetimes' forecasts are NaN; the fit is refused."""
    s = pd.DataFrame({"frequency": [0] * 20 + [1] * 20, "recency": [0.0] * 20 + [1 / 7] * 20})
    s["T"] = 1 / 7
    for model in ("bgnbd", "mbgnbd"):
        fitted, reason = clv.attempt(clv.fit_model, s, model)
        assert fitted is None
        assert "degenerate" in reason and "not finite" in reason and "r 1.9" in reason
    fitted, reason = clv.attempt(clv.fit_model, s, "pareto_nbd")  # finite, flagged instead
    assert reason is None and not fitted.converged
    assert np.isfinite(clv.expected_purchases(fitted, s, 1.0)).all()


@pytest.mark.slow
def test_pareto_nbd_clv_is_finite_for_online_retail_heavy_buyers():
    """Online Retail customers 12748 and 15311 bought on the cutoff day after 110 and 89
    repeat purchases: their CLV was NaN and pandas summed around it (total £7.62M, with an
    interval of £2.39M-£2.68M that excluded it)."""
    from analysis.data import load_transactions

    tx = load_transactions("online_retail")
    summary = customer_summary(tx.frame, tx.as_of, "W")
    fitted = clv.fit_model(summary, "pareto_nbd", "W")
    assert np.isfinite(fitted.loglik) and fitted.loglik == pytest.approx(-37304.83, abs=0.05)
    spend = clv.fit_spend(summary)
    values = clv.customer_value(fitted, spend, summary)
    assert np.isfinite(values["clv"]).all()
    assert values.loc["12748", "expected_purchases"] == pytest.approx(91.49, abs=0.05)
    assert values.loc["15311", "expected_purchases"] == pytest.approx(74.15, abs=0.05)
    assert values.loc["12748", "p_alive"] == 1.0
    total = values["clv"].sum()
    assert total == pytest.approx(8.367e6, rel=1e-3)
    draws = clv.bootstrap(fitted, spend, summary, draws=8, seed=0)
    iv = clv.intervals({"total_clv": total}, draws, 0.9)
    assert iv.loc["total_clv", "draws"] == 8
    assert iv.loc["total_clv", "low"] < total < iv.loc["total_clv", "high"]
    words = clv.uncertainty_takeaway(iv, 0.9, "£")
    assert "outside its own interval" not in words
    outside = iv.assign(low=total * 1.01, high=total * 1.02)
    assert "outside its own interval" in clv.uncertainty_takeaway(outside, 0.9, "£")


def test_clv_range_includes_the_backtested_error_and_the_choice_is_by_total(compared, calibration):
    """CDNOW sample: BG/NBD's holdout total is 12.1 % under (1,653 vs 1,882); the range to
    plan with widens the parameter interval by that much on each side."""
    fits, table = compared
    assert table.loc["bgnbd", "aggregate_error"] == pytest.approx(-0.1215, abs=1e-4)
    assert clv.choose_model(table) == table["aggregate_error"].abs().idxmin()
    spend = clv.fit_spend(calibration)
    total = clv.customer_value(fits["bgnbd"], spend, calibration)["clv"].sum()
    draws = pd.DataFrame({"total_clv": [0.97 * total, total, 1.03 * total]})
    iv = clv.with_model_error(clv.intervals({"total_clv": total}, draws, 0.9), -0.1216)
    low, high = iv.loc["total_clv", ["low", "high"]]
    wide = iv.loc[clv.MODEL_ERROR_ROW]
    assert wide["low"] == pytest.approx(low * (1 - 0.1216))
    assert wide["high"] == pytest.approx(high * (1 + 0.1216))
    words = clv.uncertainty_takeaway(iv, 0.9, "$")
    assert "12.2% under the actual purchases" in words and "the one to plan with" in words
    bare = clv.uncertainty_takeaway(iv.drop(index=clv.MODEL_ERROR_ROW), 0.9, "$")
    assert "leaves out the model's own forecast error" in bare
    card = clv.scorecard(calibration, fits)
    m = clv.headline_metrics(fits, spend, card, "bgnbd", None, iv)
    assert m["holdout_total_error"] == pytest.approx(-0.1215, abs=1e-4)
    assert m["total_clv_interval_with_model_error"] == pytest.approx([wide["low"], wide["high"]])


# --------------------------------------------------------------------------- the peers' predictions


def test_probability_of_n_purchases_and_new_customer_expectation(compared):
    """FHL (2005) BG/NBD at the published (3-digit) parameters: P(X(39) = 0) = 0.5737864.
    At the fitted CDNOW parameters each model's P(X(39) = n) sums to 1 and its mean is
    E[X(39)]; E[X(78)] of a new customer: see the next test."""
    from lifetimes import BetaGeoFitter

    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    fitted = clv.FittedModel("bgnbd", published, 0.0, True, 1)
    fitted.engine = BetaGeoFitter()
    fitted.engine.params_ = pd.Series(published)
    assert clv.probability_of_purchases(fitted, 39, 0) == pytest.approx(0.5737864, abs=1e-7)
    fits, _ = compared
    for fit in fits.values():
        p = np.array([clv.probability_of_purchases(fit, 39, n) for n in range(80)])
        assert p.sum() == pytest.approx(1.0, abs=1e-4), fit.model
        mean = clv.expected_purchases_new(fit, 39.0)
        assert (np.arange(80) * p).sum() == pytest.approx(mean, rel=1e-3), fit.model
    assert clv.probability_of_purchases(fits["pareto_nbd"], 39, 0) == pytest.approx(
        0.5935, abs=1e-4
    )


def test_new_customer_expectation_at_78_weeks_and_where_1_8576_comes_from(compared):
    """BG/NBD E[X(78)] of a new CDNOW customer (FHL 2005, eq. 9) is 1.857958 at the fitted
    parameters: lifetimes' closed form (2F1 by scipy) equals an independent quadrature over
    the dropout probability, E[(1 - (alpha / (alpha + p t))^r) / p] with p ~ Beta(a, b), to
    1e-10, so the integral's method is not the cause. The paper's rounded parameters give
    1.8578 (4 digits) and 1.8605 (3 digits). The issue's 1.8576 is what the hypergeometric
    series gives when stopped after 150 terms: at z = 78 / 82.41 = 0.95 it converges slowly
    (1.85760 at 150 terms, 1.85794 at 200, 1.857958 converged)."""
    from scipy.integrate import quad
    from scipy.stats import beta as beta_dist

    fitted = compared[0]["bgnbd"]
    value = float(clv.expected_purchases_new(fitted, 78.0))
    assert value == pytest.approx(1.857958, abs=1e-6)
    r, alpha, a, b = (fitted.params[k] for k in ("r", "alpha", "a", "b"))

    def given_p(p):
        return (1.0 - (alpha / (alpha + p * 78.0)) ** r) / p * beta_dist.pdf(p, a, b)

    assert quad(given_p, 0, 1, epsabs=1e-13, epsrel=1e-13, limit=200)[0] == pytest.approx(
        value, abs=1e-10
    )
    rounded = {4: (0.2426, 4.4136, 0.7931, 2.4259), 3: (0.243, 4.414, 0.793, 2.426)}
    at = {k: float(clv.new_customer_expected("bgnbd", v, 78.0)) for k, v in rounded.items()}
    assert [round(at[4], 4), round(at[3], 4)] == [1.8578, 1.8605]

    def truncated(terms):
        z, c, term, total = 78.0 / (alpha + 78.0), a + b - 1.0, 1.0, 1.0
        for n in range(terms - 1):
            term *= (r + n) * (b + n) / ((c + n) * (n + 1)) * z
            total += term
        return c / (a - 1.0) * (1.0 - (alpha / (alpha + 78.0)) ** r * total)

    assert round(truncated(150), 4) == 1.8576
    assert truncated(2000) == pytest.approx(value, abs=1e-12)


def test_hessian_standard_errors_of_pareto_nbd_on_cdnow(compared, calibration):
    """Pareto/NBD on the CDNOW sample: r 0.0476, alpha 0.843, s 0.187, beta 6.211."""
    se = clv.standard_errors(compared[0]["pareto_nbd"], calibration)
    assert [round(se[k], 4) for k in ("r", "s")] == [0.0476, 0.1873]
    assert se["alpha"] == pytest.approx(0.843, abs=1e-3)
    assert se["beta"] == pytest.approx(6.211, abs=1e-3)
    iv = clv.intervals({"r": compared[0]["pareto_nbd"].params["r"]}, pd.DataFrame({"r": [0.5]}))
    assert clv.with_standard_errors(iv, se).loc["r", "Hessian SE"] == se["r"]


def test_bgbb_reproduces_the_donations_fit():
    """lifetimes' donations data (11,104 donors, 6 yearly opportunities): BG/BB alpha 1.204,
    beta 0.750, gamma 0.657, delta 2.783 (Fader, Hardie & Shang 2010), LL -33,225.6."""
    from lifetimes.datasets import load_donations

    donations = load_donations()
    fitted = clv.fit_bgbb(donations)
    assert fitted.customers == 11_104
    assert [round(fitted.params[k], 3) for k in ("alpha", "beta", "gamma", "delta")] == [
        1.204, 0.750, 0.657, 2.783,
    ]  # fmt: skip
    assert fitted.loglik == pytest.approx(-33225.58, abs=0.01)
    forecast = clv.bgbb_forecast(fitted, donations, 5)
    assert np.isfinite(forecast.to_numpy()).all()
    assert forecast["p_alive"].iloc[0] == pytest.approx(0.0861, abs=1e-4)  # 0 of 6 years


def test_alive_history_and_model_matrix(cdnow_sample, compared, calibration):
    """CDNOW customer 00004 (2 repeat purchases, recency 30.43, T 38.86 weeks): the day by
    day history ends on the FHL point check P(alive) = 0.7266; in the model's grid at that
    age P(alive) rises with recency and falls with frequency for an early last purchase."""
    fitted = compared[0]["bgnbd"]
    frame = cdnow_sample.frame.loc[cdnow_sample.frame["order_date"] <= CAL_END]
    history = clv.alive_history(fitted, frame, "00004", CAL_END)
    assert history["purchase"].sum() == 3 and history.index[-1] == pd.Timestamp(CAL_END)
    assert history["p_alive"].iloc[-1] == pytest.approx(0.7266, abs=5e-4)
    jumps = history["p_alive"].diff()[history["purchase"]]
    # BG/NBD: 100 % before the first repeat purchase (an artefact), then a purchase after a
    # long silence restores P(alive) (+0.52 on 2 Aug 1997)
    assert jumps.round(4).tolist()[1:] == [-0.2463, 0.5228]
    assert history.loc["1997-08-02", "p_alive"] == pytest.approx(0.8121, abs=1e-4)
    grid = clv.model_matrix(fitted, 38.86)
    assert grid.shape == (21, 20) and (grid.loc[0] == 1.0).all()
    assert (grid.diff(axis=1).iloc[1:, 1:] >= 0).all().all()
    assert grid.iloc[1:, 0].is_monotonic_decreasing
    words = clv.history_takeaway(history, grid, "Customer 00004")
    assert "73% today" in words and "20 repeat purchases" in words
