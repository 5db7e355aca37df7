"""Tests of analysis.demand (hand-checkable tiny frames, real CDNOW facts) and the notebook."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import cycle, demand, plots  # noqa: E402

METRIC_KEYS = {
    "revenue_last_period",
    "revenue_change_pct",
    "active_customers_last_period",
    "repeat_revenue_share",
    "median_days_between_orders",
    "forecast_method",
    "forecast_next_period",
    "forecast_mape",
    "forecast_mape_by_horizon",
    "baseline_mape",
    "interval_coverage",
    "abc_counts",
}


def tx(rows, with_product=False):
    """Rows of (customer, timestamp, amount[, product]); one order per row."""
    cols = ["customer_id", "order_date", "amount"] + (["product_id"] if with_product else [])
    frame = pd.DataFrame(rows, columns=cols)
    frame["order_date"] = pd.to_datetime(frame["order_date"], format="ISO8601")
    frame["amount"] = frame["amount"].astype(float)
    frame["order_id"] = [str(i) for i in range(len(frame))]
    return frame


# --------------------------------------------------------------------------- 1. trends


def test_period_series_counts_and_partial_periods():
    f = tx(
        [
            ("a", "2024-01-05", 10),
            ("a", "2024-01-20", 30),
            ("b", "2024-01-20", 20),
            ("b", "2024-03-02", 50),
        ]
    )
    s = demand.period_series(f, "M", "2024-03-15")
    assert [str(p) for p in s.index] == ["2024-01", "2024-02", "2024-03"]
    assert s["revenue"].tolist() == [60.0, 0.0, 50.0]
    assert s["orders"].tolist() == [3, 0, 1]
    assert s["customers"].tolist() == [2, 0, 1]
    assert s.loc[pd.Period("2024-01", "M"), "avg_order_value"] == 20.0
    assert np.isnan(s.loc[pd.Period("2024-02", "M"), "avg_order_value"])
    # March runs past the cutoff: partial. January starts on the 1st but the log begins on
    # the 5th, so it began before the data: partial too.
    assert s["complete"].tolist() == [False, True, False]
    # A cutoff on the last day of the month closes it.
    assert bool(demand.period_series(f, "M", "2024-03-31")["complete"].iloc[-1])


def test_period_series_weeks_end_on_sunday():
    f = tx([("a", "2024-01-01 09:00", 5), ("a", "2024-01-07 18:00", 5), ("b", "2024-01-08", 7)])
    s = demand.period_series(f, "W", "2024-01-10")
    assert s["revenue"].tolist() == [10.0, 7.0]  # Mon 1 - Sun 7 Jan, then Mon 8 Jan
    assert s["complete"].tolist() == [True, False]
    with pytest.raises(ValueError, match="freq"):
        demand.period_series(f, "D")
    with pytest.raises(ValueError, match="order_id"):
        demand.period_series(f.drop(columns="order_id"))


def test_compare_periods_previous_and_year_earlier():
    rows = [("a", f"2023-{m:02d}-01", 100) for m in range(1, 13)]
    rows += [("a", "2024-01-01", 150), ("b", "2024-01-02", 50), ("a", "2024-02-01", 300)]
    s = demand.period_series(tx(rows), "M", "2024-02-29")
    c = demand.compare_periods(s)
    assert c.attrs["last"] == pd.Period("2024-02", "M")
    assert c.loc["revenue", "last"] == 300
    assert c.loc["revenue", "previous"] == 200
    assert c.loc["revenue", "change"] == pytest.approx(0.5)
    assert c.loc["customers", "change"] == pytest.approx(-0.5)
    assert c.loc["revenue", "year_earlier"] == 100
    assert c.loc["revenue", "change_vs_year"] == pytest.approx(2.0)
    text = demand.trend_takeaway(c, s, "£")
    assert "Feb 2024" in text and "+50%" in text and "+200%" in text
    table = demand.comparison_table(c)
    assert list(table.columns)[:2] == ["Feb 2024", "Jan 2024"]


def test_trend_takeaway_marks_partial_and_no_year():
    f = tx([("a", "2024-01-01", 10), ("a", "2024-02-01", 20), ("a", "2024-03-01", 99)])
    s = demand.period_series(f, "M", "2024-03-10")
    text = demand.trend_takeaway(demand.compare_periods(s), s)
    assert "Mar 2024" in text and "not a drop" in text
    assert "no year-on-year" in text


# --------------------------------------------------------------------------- 2. new vs returning


def test_new_vs_returning_by_purchase_day_and_month():
    f = tx(
        [
            ("a", "2024-01-05", 10),
            ("a", "2024-01-20", 20),
            ("a", "2024-02-03", 30),
            ("b", "2024-02-10", 40),
        ]
    )
    t = demand.new_vs_returning(f)
    jan, feb = pd.Period("2024-01", "M"), pd.Period("2024-02", "M")
    assert t.loc[jan].tolist() == [10, 20, 1, 0]
    assert t.loc[feb].tolist() == [40, 30, 1, 1]
    assert demand.repeat_revenue_share(t) == pytest.approx(0.5)
    assert "50% of revenue came from repeat" in demand.new_returning_takeaway(t, "2024-02-29")


# --------------------------------------------------------------------------- 3. seasonality, cycle


def test_activity_heatmap_hours_normalised_per_weekday():
    # Mon 1 .. Sun 14 Jan 2024: every weekday occurs twice.
    f = tx(
        [
            ("a", "2024-01-01 10:15", 1),
            ("b", "2024-01-08 10:45", 1),
            ("c", "2024-01-08 10:50", 1),
            ("d", "2024-01-03 14:00", 1),
            ("e", "2024-01-14 11:00", 1),
        ]
    )
    h = demand.activity_heatmap(f)
    assert h.attrs["by"] == "hour"
    assert h.loc["Mon", 10] == 1.5  # 3 orders over 2 Mondays
    assert h.loc["Wed", 14] == 0.5
    assert h.loc["Sat"].sum() == 0
    text = demand.heatmap_takeaway(h)
    assert "**Mon** is the busiest" in text and "no orders on Tue" in text


def test_activity_heatmap_dates_only_uses_months():
    f = tx([("a", "2024-01-01", 1), ("b", "2024-01-01", 1), ("a", "2024-02-29", 1)])
    h = demand.activity_heatmap(f)
    assert h.attrs["by"] == "month"
    assert list(h.columns) == ["Jan", "Feb"]
    assert h.loc["Mon", "Jan"] == pytest.approx(2 / 5)  # 5 Mondays in Jan 2024
    assert h.loc["Thu", "Feb"] == pytest.approx(1 / 5)  # 29 Feb 2024 is the 5th Thursday


# --------------------------------------------------------------------------- 4. cohorts


def test_cohort_tables_three_customers():
    f = tx(
        [
            ("a", "2024-01-03", 10),
            ("a", "2024-02-03", 20),
            ("a", "2024-04-03", 30),
            ("b", "2024-01-10", 40),
            ("c", "2024-02-05", 5),
            ("c", "2024-03-05", 15),
        ]
    )
    ret, rev = demand.cohort_tables(f, "2024-04-30")
    jan, feb = pd.Period("2024-01", "M"), pd.Period("2024-02", "M")
    assert ret.attrs["size"].tolist() == [2, 1]
    assert ret.loc[jan].tolist() == [1.0, 0.5, 0.0, 0.5]
    assert ret.loc[feb, [0, 1, 2]].tolist() == [1.0, 1.0, 0.0]
    assert np.isnan(ret.loc[feb, 3])  # May 2024 has not happened
    assert rev.loc[jan].tolist() == [25.0, 35.0, 35.0, 50.0]
    assert rev.loc[feb, [0, 1, 2]].tolist() == [5.0, 20.0, 20.0]
    # With the cutoff in mid-April, April cells are left empty, not shown as a drop.
    ret_mid, rev_mid = demand.cohort_tables(f, "2024-04-15")
    assert np.isnan(ret_mid.loc[jan, 3]) and np.isnan(ret_mid.loc[feb, 2])
    assert np.isnan(rev_mid.loc[jan, 3])
    assert "50%" in demand.cohort_takeaway(ret, rev)


# --------------------------------------------------------------------------- 5. mix


def ten_products():
    revenue = [50, 20, 10, 5, 5, 4, 3, 1, 1, 1]
    rows = [(f"c{i}", "2024-01-01", r, f"p{i}") for i, r in enumerate(revenue)]
    rows += [("c0", "2024-01-02", 0.0, "p9")]  # a second buyer for p9, no revenue
    return tx(rows, with_product=True)


def test_abc_classes_on_ten_products():
    classes = demand.abc_classes(ten_products(), "product_id", (0.8, 0.95))
    assert classes["abc"].tolist() == ["A"] * 3 + ["B"] * 4 + ["C"] * 3
    summary = demand.abc_summary(classes)
    assert summary["items"].tolist() == [3, 4, 3]
    assert summary["revenue_share"].tolist() == pytest.approx([0.8, 0.17, 0.03])
    assert summary["item_share"].tolist() == pytest.approx([0.3, 0.4, 0.3])
    text = demand.mix_takeaway(summary, demand.top_items(ten_products(), "product_id", 3))
    assert "3 products (30% of the range) bring 80% of revenue" in text
    with pytest.raises(ValueError, match="abc_thresholds"):
        demand.abc_classes(ten_products(), "product_id", (0.95, 0.8))


def test_top_items_by_revenue_and_buyers():
    f = ten_products()
    top = demand.top_items(f, "product_id", 2)
    assert top.index.tolist() == ["p0", "p1"]
    assert top["revenue_share"].tolist() == pytest.approx([0.5, 0.2])
    by_buyers = demand.top_items(f, "product_id", 1, by="buyers")
    assert by_buyers.index.tolist() == ["p9"] and by_buyers["buyers"].iloc[0] == 2
    with pytest.raises(ValueError, match="category"):
        demand.top_items(f, "category")


def test_movers_between_last_two_complete_periods():
    f = tx(
        [
            ("a", "2024-01-10", 10, "x"),
            ("a", "2024-01-11", 50, "y"),
            ("a", "2024-02-10", 40, "x"),
            ("a", "2024-02-11", 20, "y"),
            ("a", "2024-02-12", 5, "z"),
            ("a", "2024-03-01", 999, "y"),  # March is running at the cutoff: ignored
        ],
        with_product=True,
    )
    s = demand.period_series(f, "M", "2024-03-05")
    s["complete"] = [True, True, False]
    m = demand.movers(f, "product_id", s, n=5)
    assert m["change"].to_dict() == {"x": 30.0, "z": 5.0, "y": -30.0}
    assert m.attrs["last"] == pd.Period("2024-02", "M")
    text = demand.movers_takeaway(m, "£", pd.Series({"x": "RED MUG"}))
    assert "x (Red Mug)" in text and "rose most" in text and "**y**" in text  # md-escaped


# --------------------------------------------------------------------------- 6. forecast


def test_seasonal_baseline_scales_last_year_by_the_year_on_year_change():
    train = pd.Series(np.arange(1.0, 15.0))  # 14 periods, season 12
    values, kind = demand.seasonal_naive(train, 3, 12)
    # same periods a year earlier (3, 4, 5) x the change of the last 2 periods on a year
    # before them: (13 + 14) / (1 + 2) = 9
    assert kind == "seasonal" and values.tolist() == [27.0, 36.0, 45.0]
    values, kind = demand.seasonal_naive(train.iloc[:12], 2, 12)  # one year: growth unknown
    assert kind == "seasonal" and values.tolist() == [1.0, 2.0]
    values, kind = demand.seasonal_naive(train.iloc[:5], 2, 12)
    assert values.tolist() == [5.0, 5.0] and kind == "naive"
    assert demand.method_name("naive", "W") == "naive: the last complete week carried forward"
    assert demand.mape([100, 200, 0], [110, 180, 5]) == pytest.approx(0.1)
    assert demand.mape([0], [1]) is None


def test_model_spec_follows_history_length():
    assert demand.model_spec(26, 12)["seasonal"] == "add"
    assert demand.model_spec(25, 12)["seasonal"] is None
    assert demand.model_spec(12, 12)["trend"] == "add"
    assert demand.model_spec(9, 12)["trend"] is None


def test_ets_learns_seasonality_with_two_years():
    months = np.arange(48)
    truth = 1000 * (1 + 0.4 * np.sin(2 * np.pi * months / 12)) * (1.01**months)
    rng = np.random.default_rng(0)
    noisy = truth * (1 + rng.normal(0, 0.02, len(truth)))
    fc = demand.ets_forecast(pd.Series(noisy[:36]), 12, 12)
    assert "seasonality" in fc.attrs["model"] and "no seasonality" not in fc.attrs["model"]
    assert demand.mape(truth[36:], fc["forecast"]) < 0.06
    assert (fc["lower"] <= fc["forecast"]).all() and (fc["forecast"] <= fc["upper"]).all()
    assert (fc["lower"] > 0).all()


def test_backtest_sees_only_data_before_each_origin():
    series = pd.Series(
        np.arange(100.0, 120.0), index=pd.period_range("2020-01", periods=20, freq="M")
    )
    seen = []

    def spy(train, steps, season):
        seen.append((len(train), train.index.max()))
        return pd.DataFrame({"forecast": np.repeat(train.iloc[-1], steps)})

    bt = demand.backtest(series, horizon=3, season=12, min_train=10, fit=spy)
    assert [n for n, _ in seen] == list(range(10, 20))
    for (n, last_seen), origin in zip(seen, sorted(bt["origin"].unique()), strict=True):
        assert last_seen == origin == series.index[n - 1]
        forecast_periods = bt.loc[bt["origin"] == origin, "period"]
        assert (forecast_periods > last_seen).all()
    # The spy forecasts the last seen value: error = actual - last seen = step size.
    assert (bt["actual"] - bt["ets"] == bt["step"]).all()
    assert (bt["naive"] == bt["ets"]).all()  # the spy is the naive forecast
    assert bt.loc[bt["origin"] < series.index[11], "seasonal"].isna().all()
    assert bt.loc[bt["origin"] >= series.index[11], "seasonal"].notna().all()
    assert len(bt) == 3 * 8 + 2 + 1


def test_backtest_forecasts_do_not_change_when_the_future_changes():
    rng = np.random.default_rng(1)
    base = pd.Series(500 + rng.normal(0, 30, 16))
    changed = base.copy()
    changed.iloc[12:] *= 3  # only the future after origin 12 differs
    a = demand.backtest(base, 2, 12, min_train=8)
    b = demand.backtest(changed, 2, 12, min_train=8)
    early_a = a.loc[a["origin"] < 12, ["ets", "naive", "seasonal"]].to_numpy()
    early_b = b.loc[b["origin"] < 12, ["ets", "naive", "seasonal"]].to_numpy()
    assert np.allclose(early_a, early_b, equal_nan=True)
    later = a["origin"] >= 12
    assert not np.allclose(a.loc[later, "ets"], b.loc[later, "ets"])


def test_forecast_bundle_and_metrics():
    rows = [("a", f"2023-{m:02d}-0{1 + m % 3}", 100 + 10 * m) for m in range(1, 13)]
    rows += [("b", "2024-01-03", 200), ("b", "2024-01-04", 20)]
    f = tx(rows)
    s = demand.period_series(f, "M", "2024-01-04")
    bundle = demand.forecast_bundle(s, "M", None)
    fc = bundle["revenue"]
    assert len(fc) == 3 and fc.index[0] == pd.Period("2024-01", "M")
    assert fc["actual_so_far"].iloc[0] == 220  # January is still running
    assert np.isnan(fc["year_earlier"].iloc[0])  # Jan 2023 began before the log (partial)
    assert fc["year_earlier"].iloc[1] == 120
    assert "Jan 2024" in demand.forecast_takeaway(bundle, "M", "$")
    assert "\\$" in demand.forecast_takeaway(bundle, "M", "$")
    table = demand.forecast_table(fc, bundle["orders"])
    assert table.index[0] == "Jan 2024" and ("orders", "forecast") in table.columns
    nr = demand.new_vs_returning(f)
    m = demand.metrics(demand.compare_periods(s), nr, cycle.cycle_at(f, "2024-01-04"), bundle, None)
    assert set(m) == METRIC_KEYS
    # Last complete period: Dec 2023 (100 + 10 x 12) against Nov 2023 (210).
    assert m["revenue_last_period"] == 220
    assert m["revenue_change_pct"] == pytest.approx(100 * (220 / 210 - 1), abs=0.01)
    assert m["abc_counts"] is None and m["forecast_mape"] is not None
    assert m["forecast_method"] == fc.attrs["method"]
    assert set(m["forecast_mape_by_horizon"]) == {"1", "2", "3"}
    short = demand.forecast_bundle(s.iloc[-4:], "M", 3)
    assert short["revenue"] is None and "at least 8" in short["note"]


@pytest.mark.slow
def test_online_retail_forecast_is_the_backtest_winner_with_measured_coverage(online_retail):
    f, as_of = online_retail.frame, online_retail.as_of
    s = demand.period_series(f, "M", as_of)
    bundle = demand.forecast_bundle(s, "M", None, 0.8, f, as_of)
    errors = bundle["errors"]
    # 12 complete months (Dec 2010-Nov 2011): origins May-Oct 2011 have under a year of
    # history, so only ETS and naive compete; naive wins at every horizon.
    assert list(errors.columns) == ["ets", "naive", "points"]
    assert errors["points"].tolist() == [6, 5, 4, 15]
    assert errors["naive"].round(4).tolist()[:3] == [0.1133, 0.2088, 0.3069]
    assert errors.loc["mean over horizons", "ets"] == pytest.approx(0.2969, abs=1e-4)
    fc = bundle["revenue"]
    assert fc.attrs["method"] == "naive" and fc.attrs["interval"] == "backtest errors"
    assert fc["forecast"].iloc[0] == pytest.approx(1_123_570.2)  # Nov 2011 carried forward
    # out of sample, the backtest-error interval held 3 of 8 checked actuals
    assert bundle["coverage"] == {"coverage": 0.375, "checked": 8, "inside": 3, "level": 0.8}
    # Dec 2011 runs: 342,871 booked by the 9th, when Dec 2010 had booked 55.0 % of itself
    now = bundle["nowcast"]
    assert now["booked"] == pytest.approx(342_870.76) and now["basis"] == "a year earlier"
    assert now["share"] == pytest.approx(0.5505, abs=1e-4)
    assert now["estimate"] == pytest.approx(622_851, abs=1)
    assert fc["year_earlier"].sum() == pytest.approx(1_452_729.96)
    text = demand.forecast_takeaway(bundle, "M", "£")
    assert "simple baseline" in text and "never tested" in text and "38%" in text
    m = demand.metrics(
        demand.compare_periods(s),
        demand.new_vs_returning(f),
        cycle.cycle_at(f, as_of),
        bundle,
        None,
    )
    assert m["forecast_method"] == "naive" and m["interval_coverage"] == 0.375
    assert m["median_days_between_orders"] == 66.0  # the shared purchase cycle
    assert m["forecast_mape_by_horizon"] == {"1": 0.1133, "2": 0.2088, "3": 0.3069}


# --------------------------------------------------------------------------- real data, figures


@pytest.mark.slow
def test_cdnow_cohorts_are_the_first_quarter_of_1997(cdnow):
    ret, rev = demand.cohort_tables(cdnow.frame, cdnow.as_of)
    assert [str(p) for p in ret.index] == ["1997-01", "1997-02", "1997-03"]
    assert int(ret.attrs["size"].sum()) == 23_570  # every CDNOW customer, once
    total = cdnow.frame["amount"].sum()
    cum = (rev.ffill(axis=1).iloc[:, -1] * ret.attrs["size"]).sum()
    assert cum == pytest.approx(total)
    s = demand.period_series(cdnow.frame, "M", cdnow.as_of)
    assert len(s) == 18 and s["complete"].all()


def test_figures_draw_on_real_sample(retail_sample):
    f = retail_sample.frame
    s = demand.period_series(f, "M", retail_sample.as_of)
    figs = [
        plots.demand.trend_panels(s, "£"),
        plots.demand.new_returning(demand.new_vs_returning(f), retail_sample.as_of, "£"),
        plots.demand.cohort_heatmaps(*demand.cohort_tables(f, retail_sample.as_of), "£"),
    ]
    ax = plots.demand.activity_heatmap(demand.activity_heatmap(f))
    assert ax.get_title().startswith("Average orders by weekday and hour")
    assert figs[0].axes[0].get_ylabel() == "Revenue (£)"
    plt.close("all")


# --------------------------------------------------------------------------- notebook


@pytest.mark.slow
def test_notebook_on_online_retail_sample(tmp_path):
    metrics, error, out = run_notebook_checked("demand", tmp_path, data="online_retail_sample")
    assert error is None, error
    assert set(metrics) == METRIC_KEYS
    assert sum(metrics["abc_counts"].values()) > 100
    assert 0 < metrics["repeat_revenue_share"] < 1
    assert (out / "demand_periods.csv").exists()


@pytest.mark.slow
def test_notebook_on_cdnow_sample_without_products(tmp_path):
    metrics, error, _ = run_notebook_checked("demand", tmp_path, data="cdnow_sample", freq="W")
    assert error is None, error
    assert metrics["abc_counts"] is None
    assert metrics["forecast_next_period"] > 0


def run_notebook_checked(name, tmp_path, **params):
    from conftest import run_notebook

    return run_notebook(name, tmp_path, **params)


@pytest.mark.slow
def test_online_retail_first_cohort_is_marked_and_kept_out_of_averages(online_retail, cdnow):
    ret, rev = demand.cohort_tables(online_retail.frame, online_retail.as_of)
    assert int(ret.attrs["size"].iloc[0]) == 883 and round(ret[1].iloc[0], 3) == 0.366
    assert demand.first_cohort_existing(ret)  # 37 % vs 20 % for the later cohorts
    assert not demand.first_cohort_existing(ret, "new")
    text = demand.cohort_takeaway(ret, rev, "£")
    assert "Dec 2010, 883 customers" in text and "**20%** of a cohort buys again in month 1" in text
    assert "**23%** of a cohort" in demand.cohort_takeaway(ret, rev, "£", "new")  # with it
    fig = plots.demand.cohort_heatmaps(ret, rev, "£")
    assert fig.axes[0].get_yticklabels()[0].get_text().startswith("* Dec 2010")
    plt.close("all")
    c_ret, _ = demand.cohort_tables(cdnow.frame, cdnow.as_of)
    assert not demand.first_cohort_existing(c_ret)  # CDNOW starts with first purchases
    with pytest.raises(ValueError, match="first_cohort"):
        demand.first_cohort_existing(ret, "old")
