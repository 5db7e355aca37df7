"""Segmentation: RFM scores and segments, tiers, life stages, clusters, migration, notebook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import segmentation as seg
from analysis.summary import customer_summary

AS_OF = pd.Timestamp("2024-12-31")


def _transactions(rows):
    """rows: (customer, date, amount) -> canonical transactions frame."""
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = pd.to_datetime(frame["order_date"], format="mixed")
    frame["order_id"] = [str(i) for i in range(len(frame))]
    return frame


def _ten_customers():
    """A frequent recent big spender, a long-gone small one-time buyer and eight in between."""
    rows = [("champ", f"2024-{m:02d}-15", 500.0) for m in range(1, 13)]
    rows += [("champ", "2024-12-30", 500.0)]
    rows += [("gone", "2024-01-03", 5.0)]
    for i in range(8):
        last = AS_OF - pd.Timedelta(days=20 + 30 * i)
        rows += [
            (f"mid{i}", last - pd.Timedelta(days=14 * k), 40.0 + 10 * i) for k in range(i % 4 + 1)
        ]
    return _transactions(rows)


def _summary(**columns):
    index = pd.Index(
        [f"c{i}" for i in range(len(next(iter(columns.values()))))], name="customer_id"
    )
    return pd.DataFrame(columns, index=index)


# --------------------------------------------------------------------------- RFM


def test_quantile_scores_and_ties():
    values = pd.Series(range(1, 11), dtype=float)
    assert seg.score_quantiles(values).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert seg.score_quantiles(values, higher_is_better=False).tolist() == [
        5,
        5,
        4,
        4,
        3,
        3,
        2,
        2,
        1,
        1,
    ]
    # four equal values share one score (average rank 3.5 of 5 -> 4), never split
    assert seg.score_quantiles(pd.Series([5.0, 5, 5, 5, 1])).tolist() == [4, 4, 4, 4, 1]


def test_champion_and_lost_by_hand():
    summary = customer_summary(_ten_customers(), AS_OF, time_unit="D")
    rfm = seg.rfm_segments(summary)
    assert len(rfm) == 10
    champ, gone = rfm.loc["champ"], rfm.loc["gone"]
    assert (champ["r_score"], champ["f_score"], champ["m_score"]) == (5, 5, 5)
    assert champ["segment"] == "Champions" and champ["rfm"] == "555"
    assert (gone["r_score"], gone["f_score"], gone["m_score"]) == (1, 1, 1)
    assert gone["segment"] == "Lost"
    assert gone["recency_days"] == 363  # 2024-01-03 -> 2024-12-31


def test_one_time_buyers_get_f1_and_repeat_buyers_spread_over_2_to_5():
    summary = _summary(
        recency=[0.0] * 6 + [10.0, 20, 30, 40],
        T=[50.0] * 10,
        purchase_days=[1] * 6 + [2, 3, 4, 5],
        revenue=[10.0 * (i + 1) for i in range(10)],
    )
    rfm = seg.rfm_segments(summary)
    assert rfm["f_score"].tolist() == [1] * 6 + [2, 3, 4, 5]


def test_score_map_is_a_parameter_and_must_cover_all_scores():
    summary = customer_summary(_ten_customers(), AS_OF, time_unit="D")
    custom = {"Fresh": "R4-5", "Big old spenders": "R1-3 M4-5", "Others": ""}
    rfm = seg.rfm_segments(summary, custom)
    assert list(rfm["segment"].cat.categories) == list(custom)
    assert rfm.loc["champ", "segment"] == "Fresh" and rfm.loc["gone", "segment"] == "Others"
    with pytest.raises(ValueError, match="without a segment"):
        seg.rfm_segments(summary, {"Fresh": "R4-5"})
    with pytest.raises(ValueError, match="cannot read"):
        seg.parse_segment_map({"Bad": "X9"})
    table = seg.segment_map_table()
    assert table["score cells"].sum() == 125  # the default map names every R x F x M cell once


def test_rfm_needs_the_summary_columns():
    with pytest.raises(ValueError, match="purchase_days"):
        seg.rfm_segments(pd.DataFrame({"recency": [1.0], "T": [2.0], "revenue": [3.0]}))


# --------------------------------------------------------------------------- tiers


def test_value_tiers_and_gini_by_hand():
    summary = _summary(revenue=[50.0, 30, 10, 5, 5])
    tiers = seg.value_tiers(summary, (0.8, 0.95))
    assert tiers["tier"].tolist() == ["high", "high", "mid", "mid", "low"]
    table = seg.tier_table(tiers)
    assert table["customers"].tolist() == [2, 2, 1]
    assert table["revenue_share"].tolist() == pytest.approx([0.8, 0.15, 0.05])
    assert seg.gini([1.0, 1, 1, 1]) == pytest.approx(0.0)
    assert seg.gini([0.0, 0, 0, 1]) == pytest.approx(0.75)
    curve = seg.lorenz_curve([0.0, 0, 0, 1], points=5)
    assert curve["revenue_share"].tolist() == pytest.approx([0, 0, 0, 0, 1])


def test_gini_matches_the_mean_absolute_difference_formula():
    x = np.random.default_rng(1).lognormal(3, 1.2, 500)
    direct = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert seg.gini(x) == pytest.approx(direct, rel=1e-9)


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle_thresholds_from_the_purchase_cycle():
    from analysis import cycle

    # ten customers, one completed gap each (10..100 days), each back on the cutoff day
    table = pd.DataFrame(
        {
            "customer_id": [str(i) for i in range(10)],
            "days": [10.0, 20, 30, 40, 50, 60, 70, 80, 90, 100],
            "observed": True,
            "repeat": True,
        }
    )
    c = cycle.purchase_cycle(table)
    summary = _summary(purchase_days=[1, 2, 3, 4, 5, 9])
    th = seg.lifecycle_thresholds(c, summary)
    assert th["cycle_days"] == 50.0 and th["lapse_days"] == 90.0  # KM steps: S(50) = 0.5
    assert th["loyal_purchases"] == 5  # 75th percentile of 2, 3, 4, 5, 9
    assert seg.lifecycle_thresholds(c, summary, 0.2, 0.5, 7)["cycle_days"] == 20.0
    empty = cycle.purchase_cycle(table.assign(observed=False))
    assert seg.lifecycle_thresholds(empty, summary)["lapse_days"] == 365.0


def test_lifecycle_stages_by_hand():
    summary = _summary(
        frequency=[0, 0, 0, 5, 1, 2],
        recency=[0.0, 0, 0, 100, 40, 40],
        T=[200.0, 20, 50, 110, 60, 90],
        purchase_days=[1, 1, 1, 6, 2, 3],
    )
    thresholds = {"cycle_days": 30.0, "lapse_days": 100.0, "loyal_purchases": 4}
    stages = seg.lifecycle_stages(summary, thresholds)
    assert stages["stage"].tolist() == [
        "lapsed",  # silent 200 days > 100
        "new",  # first purchase 20 days ago, within the 30-day cycle
        "at risk",  # one-time buyer silent 50 days > the 30-day cycle
        "loyal",  # 6 purchase days, last 10 days ago
        "active repeat",  # silent 20 days, own gap 40
        "at risk",  # silent 50 days, own gap 20 -> usual gap 30
    ]
    table = seg.stage_table(stages, pd.Series(1.0, index=summary.index))
    assert table["customers"].sum() == 6 and list(table.index) == list(seg.STAGES)


# --------------------------------------------------------------------------- clusters


def _blobs(n=150, seed=0):
    rng = np.random.default_rng(seed)
    centres = [(5, 20, 5000, 300, 250), (60, 3, 300, 200, 100), (300, 1, 20, 320, 20)]
    parts = [
        pd.DataFrame(np.exp(np.log(c) + rng.normal(0, 0.1, (n, 5))), columns=seg.CLUSTER_FEATURES)
        for c in centres
    ]
    out = pd.concat(parts, ignore_index=True)
    out.index = pd.Index([f"c{i}" for i in range(len(out))], name="customer_id")
    return out


def test_k_by_silhouette_finds_three_blobs_and_is_reproducible():
    features = _blobs()
    scores = seg.choose_k(features, range(2, 6), seed=3, sample_size=300)
    assert seg.best_k(scores) == 3
    assert scores.loc[3, "silhouette"] > 0.7 and scores.loc[3, "stability"] > 0.99
    first = seg.fit_clusters(features, 3, seed=7)
    assert first.equals(seg.fit_clusters(features, 3, seed=7))
    # numbered by revenue per customer: the big spenders are cluster 0
    assert (first.iloc[:150] == 0).all() and (first.iloc[300:] == 2).all()
    profiles = seg.cluster_profiles(features, first)
    assert profiles.loc[0, "name"].startswith("0: recent frequent high-spend")
    assert profiles["customers"].tolist() == [150, 150, 150]


def test_best_k_prefers_stable_solutions():
    scores = pd.DataFrame({"silhouette": [0.5, 0.6], "stability": [0.95, 0.4]}, index=[3, 4])
    assert seg.best_k(scores, 0.8) == 3
    assert seg.best_k(scores, 0.3) == 4
    near_tie = pd.DataFrame({"silhouette": [0.400, 0.405], "stability": [0.9, 0.9]}, index=[3, 8])
    assert seg.best_k(near_tie) == 3  # a hundredth apart is a tie: fewer clusters win


def test_near_constant_feature_is_left_out_and_too_few_customers_explained():
    features = _blobs(40).assign(tenure=500.0)
    assert "tenure" not in seg.cluster_columns(features)
    tiny = _summary(
        recency=[1.0] * 5,
        T=[5.0] * 5,
        purchase_days=[1] * 5,
        revenue=[1.0] * 5,
        avg_order_value=[1.0] * 5,
    )
    result = seg.cluster_analysis(tiny, range(3, 5))
    assert result["note"] and result["k"] is None


# --------------------------------------------------------------------------- migration


def test_migration_matrix_on_two_small_snapshots():
    before = pd.Series(["Champions", "Lost", "Loyal"], index=["a", "b", "c"]).astype(
        pd.CategoricalDtype(["Champions", "Loyal", "At Risk", "Lost"])
    )
    after = pd.Series(["At Risk", "Lost", "Loyal", "Champions"], index=["a", "b", "c", "d"]).astype(
        before.dtype
    )
    counts = seg.migration_matrix(before, after)
    assert counts.loc["Champions", "At Risk"] == 1 and counts.loc["Lost", "Lost"] == 1
    assert counts.loc[seg.NEW_LABEL, "Champions"] == 1
    assert counts.to_numpy().sum() == 4
    revenue = pd.Series({"a": 100.0, "b": 1.0, "c": 20.0, "d": 5.0})
    money = seg.migration_matrix(before, after, revenue)
    assert money.loc["Champions", "At Risk"] == 100.0 and money.to_numpy().sum() == 126.0
    assert seg.migrated_share(before, after) == pytest.approx(1 / 3)
    text = seg.migration_takeaway(counts, 1 / 3, "2024-11-30")
    assert "33%" in text and "Champions → At Risk" in text


def test_previous_segments_only_see_data_up_to_the_earlier_cutoff():
    frame = _ten_customers()
    before, rfm_before = seg.previous_segments(frame, AS_OF, 30)
    assert before == pd.Timestamp("2024-12-01")
    assert rfm_before["revenue"].loc["champ"] == 11 * 500.0  # Dec 15 and Dec 30 not yet
    assert rfm_before["recency_days"].loc["champ"] == 16  # Nov 15 -> Dec 1


# --------------------------------------------------------------------------- actions, export


def test_actions_table_uses_the_treatment_parameter_and_export_adds_up():
    summary = customer_summary(_ten_customers(), AS_OF, time_unit="D")
    rfm = seg.rfm_segments(summary)
    table = seg.segment_table(rfm)
    actions = seg.actions_table(table, {"Champions": "call them personally"})
    assert actions.loc["Champions", "treatment"] == "call them personally"
    assert actions.loc["Lost", "treatment"] == seg.DEFAULT_TREATMENTS["Lost"]
    assert (actions["customers"] > 0).all() and actions["customers"].sum() == 10
    tiers = seg.value_tiers(summary)
    stages = seg.lifecycle_stages(
        summary, {"cycle_days": 30, "lapse_days": 120, "loyal_purchases": 4}
    )
    export = seg.segments_export(rfm, tiers, stages, None)
    assert list(export.columns[:5]) == ["customer_id", "segment", "tier", "stage", "cluster"]
    assert len(export) == 10 and export["customer_id"].is_unique


# --------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_cdnow_segments_count_every_customer(cdnow):
    summary = customer_summary(cdnow.frame, cdnow.as_of, time_unit="D")
    rfm = seg.rfm_segments(summary)
    assert len(rfm) == 23_570
    assert seg.segment_table(rfm)["customers"].sum() == 23_570
    one_time = (summary["purchase_days"] == 1).mean()
    assert (rfm["f_score"] == 1).mean() == pytest.approx(one_time)
    assert rfm["r_score"].value_counts().min() > 0.19 * len(rfm)  # quintiles stay quintiles
    assert seg.gini(summary["revenue"]) == pytest.approx(0.63, abs=0.02)
    # everyone in CDNOW joined in the first quarter of 1997: nobody is new at the cutoff
    assert not (rfm["segment"] == "New").any()


@pytest.mark.slow
def test_notebook_runs_on_retail_sample_with_pseudonymised_export(tmp_path, retail_sample):
    from conftest import run_notebook

    customers = len(customer_summary(retail_sample.frame, retail_sample.as_of))
    metrics, error, out = run_notebook(
        "segmentation", tmp_path, data="online_retail_sample", anonymize=True
    )
    assert error is None, error
    m = metrics["segmentation"] if "segmentation" in metrics else metrics
    n = sum(m["segment_counts"].values())
    assert n == customers  # every customer with a purchase up to as_of, exactly once
    assert sum(m["tier_counts"].values()) == n and sum(m["stage_counts"].values()) == n
    assert sum(m["segment_revenue_share"].values()) == pytest.approx(1, abs=1e-3)
    assert 0 < m["gini"] < 1 and 0 <= m["migrated_share"] <= 1
    assert m["k"] >= 3 and -1 <= m["silhouette"] <= 1
    export = pd.read_csv(out / "segments.csv", dtype=str)
    assert len(export) == n and export["customer_id"].str.startswith("C-").all()
    assert set(export.columns) >= {"customer_id", "segment", "tier", "stage", "cluster"}


def test_rfm_segments_do_not_depend_on_the_summary_time_unit(cdnow_sample):
    # the churn notebook calls rfm_segments on a weekly summary; segments must match ours
    frame, as_of = cdnow_sample.frame, cdnow_sample.as_of
    days = seg.rfm_segments(customer_summary(frame, as_of, time_unit="D"))
    weeks = seg.rfm_segments(customer_summary(frame, as_of, time_unit="W"))
    assert days["rfm"].equals(weeks["rfm"]) and days["segment"].equals(weeks["segment"])


@pytest.mark.slow
def test_notebook_runs_on_cdnow_sample(tmp_path):
    from conftest import run_notebook

    metrics, error, out = run_notebook("segmentation", tmp_path, data="cdnow_sample")
    assert error is None, error
    m = metrics["segmentation"] if "segmentation" in metrics else metrics
    assert sum(m["segment_counts"].values()) == 2357
    assert m["segment_counts"]["New"] == 0  # CDNOW's cohort all joined in early 1997
    export = pd.read_csv(out / "segments.csv", dtype=str)
    assert export["customer_id"].str.fullmatch(r"\d{5}").all()  # anonymize off: real ids


def test_findings_and_takeaways_quote_the_numbers():
    segments = pd.DataFrame(
        {
            "customers": [10, 30, 5],
            "customer_share": [10 / 45, 30 / 45, 5 / 45],
            "revenue": [700.0, 200, 100],
            "revenue_share": [0.7, 0.2, 0.1],
            "revenue_per_customer": [70.0, 200 / 30, 20],
        },
        index=pd.Index(["Champions", "Lost", "At Risk"], name="segment"),
    )
    tiers = seg.tier_table(seg.value_tiers(_summary(revenue=[50.0, 30, 10, 5, 5])))
    stages = pd.DataFrame(
        {"customers": [7], "customer_share": [0.2], "revenue_share": [0.15]}, index=["at risk"]
    )
    text = seg.findings(segments, tiers, 0.5, stages, 0.25, "$")
    assert "**Champions** (22% of customers) bring 70% of revenue" in text
    assert "40% of customers make 80%" in text and "Gini 0.50" in text
    assert "7 customers are past their usual purchase gap" in text
    assert "5 formerly frequent buyers are slipping (At Risk), worth \\$100" in text
    assert "25% of existing customers changed" in text
    assert "changed" not in seg.findings(segments, tiers, 0.5, stages, float("nan"))
    assert "£70 per customer" in seg.rfm_takeaway(segments, "£")


@pytest.mark.slow
def test_online_retail_stages_checked_out_of_time(online_retail):
    from analysis import cycle

    f, as_of = online_retail.frame, online_retail.as_of
    c = cycle.cycle_at(f, as_of)
    summary = customer_summary(f, as_of, time_unit="D")
    th = seg.lifecycle_thresholds(c, summary)
    assert (th["cycle_days"], th["lapse_days"]) == (66.0, 248.0)  # was 28 / 111 uncensored
    days = seg.check_window(c, f, as_of)
    assert days == 170  # 80 % of returning customers are back within 170 days
    out = seg.stage_outcomes(f, as_of, days)
    assert out.attrs["cutoff"] == pd.Timestamp("2011-06-22")
    assert out["customers"].tolist() == [494, 769, 362, 894, 389]
    assert out["bought_again"].round(3).tolist() == [0.626, 0.821, 0.967, 0.557, 0.488]
    text = seg.outcomes_takeaway(out)
    assert "26% points less often" in text and "49% of 'lapsed'" in text


@pytest.mark.slow
def test_online_retail_tiers_migration_baseline_and_cluster_stability(online_retail):
    f, as_of = online_retail.frame, online_retail.as_of
    summary = customer_summary(f, as_of, time_unit="D")
    # tiers by revenue to date: 61 % of customers first seen in the last 100 days are low
    tiers = seg.value_tiers(summary)
    assert seg.tier_table(tiers)["customers"].tolist() == [1170, 1459, 1695]
    assert "61% of the 1,014 customers" in seg.tenure_note(summary, tiers, 100)
    rate = seg.tier_values(f, as_of, summary, "run_rate")
    by_rate = seg.tier_table(seg.value_tiers(summary.assign(revenue=rate)))
    assert by_rate["customers"].tolist() == [1513, 1330, 1481]
    assert "monthly_spend_share" in seg.tier_display(by_rate, "run_rate").columns
    with pytest.raises(ValueError, match="tier_basis"):
        seg.tier_values(f, as_of, summary, "profit")
    # migration (53 %) against ageing alone: 45.6 % of the non-buyers moved too
    rfm = seg.rfm_segments(summary)
    before, rfm_before = seg.previous_segments(f, as_of, 30)
    base = seg.migration_baseline(f, before, as_of, rfm_before["segment"], rfm["segment"])
    assert base["customers"].tolist() == [1372, 2701, 4073]
    assert base["changed"].round(3).tolist() == [0.683, 0.456, 0.532]
    assert "46% of the 2,701 customers who bought nothing" in seg.baseline_takeaway(base)
    # clusters: bootstrap stability 0.95 at k = 3, silhouette 0.32 = weak structure
    result = seg.cluster_analysis(summary)
    assert result["k"] == 3 and round(result["scores"].loc[3, "stability"], 2) == 0.95
    assert round(result["silhouette"], 2) == 0.32
    text = seg.cluster_takeaway(result["scores"], 3, result["profiles"])
    assert "weak structure that could be artificial" in text and "continuum" in text


def test_stage_check_without_any_repeat_buyer_falls_back_to_a_30_day_cycle():
    from analysis import cycle

    frame = _transactions([(f"c{i}", f"2024-0{1 + i % 6}-1{i % 9}", 10.0) for i in range(30)])
    c = cycle.cycle_at(frame, "2024-06-30")
    assert c.completed == 0 and np.isnan(c.threshold(0.8))
    assert seg.check_window(c, frame, "2024-06-30") == 30
    out = seg.stage_outcomes(frame, "2024-06-30", 30)
    assert out.attrs["thresholds"]["cycle_days"] == 30.0  # the fallback, stated in words
    assert out["customers"].sum() == len(frame.loc[frame["order_date"] <= "2024-05-31"])
    assert (out["bought_again"].fillna(0) == 0).all()  # nobody buys twice
