"""Recommendations: metrics by hand, top-k, leakage-free split, real data, events, notebook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import run_notebook

from analysis import recommend as rec
from analysis.data import load_table
from analysis.errors import NotApplicable

SMALL_GRID = {"als": {"factors": [16], "alpha": [10.0]}}
# the setting the default grid picks on Online Retail's validation window (fewer fits in CI)
ALS_GRID = {"als": {"factors": [64], "alpha": [1.0], "regularization": [0.05]}}


def _signals(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "day"])
    return frame.assign(day=pd.to_datetime(frame["day"]), signal="purchase")


# --------------------------------------------------------------------------- metrics by hand


def test_ranking_metrics_by_hand():
    # customer 0 bought items 1 and 3 in the window (+1 product new to the catalogue),
    # customer 1 bought item 0
    truth = rec.Truth(
        users=np.array([0, 1]),
        matrix=sp.csr_matrix(np.array([[0, 1, 0, 1], [1, 0, 0, 0]], dtype="float32")),
        n_relevant=np.array([3, 1]),
        start=pd.Timestamp("2020-01-01"),
        end=pd.Timestamp("2020-01-31"),
        new_customers=0,
    )
    recs = np.array([[3, 2], [2, -1]])  # hit at rank 1 for customer 0, nothing for customer 1
    m = rec.ranking_metrics(recs, truth, n_items=4)
    assert m["precision"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["recall"] == pytest.approx((1 / 3 + 0) / 2)  # the new product counts as missed
    ideal = 1 + 1 / np.log2(3)  # two possible hits in a list of two
    assert m["ndcg"] == pytest.approx((1 / ideal + 0) / 2)
    assert m["hit_rate"] == 0.5
    assert m["coverage"] == 0.5  # items 2 and 3 of 4
    assert m["customers"] == 2


def test_top_k_pads_with_popular_excludes_and_breaks_ties_by_popularity():
    scores = sp.csr_matrix(np.array([[0, 2.0, 2.0, 0, 1.0], [0, 0, 0, 0, 0]]))
    popularity = np.array([10.0, 1.0, 5.0, 8.0, 0.0])
    items, vals = rec.top_k(scores, 4, popularity)
    assert items[0].tolist() == [2, 1, 4, 0]  # tie 1/2 by popularity, then padding by popularity
    assert items[1].tolist() == [0, 3, 2, 1]
    assert vals[0, :3].tolist() == [2.0, 2.0, 1.0]
    exclude = sp.csr_matrix(np.array([[0, 0, 1, 0, 0], [1, 0, 0, 0, 0]]))
    items, _ = rec.top_k(scores, 3, popularity, exclude)
    assert items.tolist() == [[1, 4, 0], [3, 2, 1]]


def test_truth_history_and_repeats_on_a_small_log():
    signals = _signals(
        [
            ("A", "x", "2020-01-01"),
            ("A", "y", "2020-01-02"),
            ("B", "x", "2020-01-03"),
            ("A", "x", "2020-01-10"),  # window: a repeat
            ("A", "z", "2020-01-11"),  # window: new to A, in the catalogue? no: z is new
            ("B", "y", "2020-01-12"),  # window: new to B
            ("C", "x", "2020-01-12"),  # window: a new customer, not evaluated
        ]
    )
    history = rec.build_history(signals, "2020-01-05")
    assert list(history.users) == ["A", "B"] and list(history.items) == ["x", "y"]
    assert history.bought.toarray().tolist() == [[1, 1], [1, 0]]
    truth = rec.window_truth(signals, history, "2020-01-31", repeats=True)
    assert truth.n_relevant.tolist() == [2, 1] and truth.new_customers == 1
    assert truth.matrix.toarray().tolist() == [[1, 0], [0, 1]]
    fresh = rec.window_truth(signals, history, "2020-01-31", repeats=False)
    assert fresh.n_relevant.tolist() == [1, 1]  # A's repeat of x no longer counts
    assert rec.repeat_share(signals, "2020-01-05", "2020-01-31") == pytest.approx(1 / 3)


def test_no_product_ids_is_not_applicable():
    frame = pd.DataFrame(
        {"customer_id": ["a"], "order_date": pd.to_datetime(["2020-01-01"]), "amount": [1.0]}
    )
    with pytest.raises(NotApplicable, match="product_id"):
        rec.purchase_signals(frame)
    with pytest.raises(NotApplicable, match="product_id"):
        rec.prepare(frame)


# --------------------------------------------------------------------------- leakage


def test_split_is_leakage_free(retail_sample):
    """Deleting every row after t0 changes nothing fitted before the validation window;
    deleting every row after t1 changes nothing the validation window decided."""
    signals = rec.purchase_signals(retail_sample.frame)
    split = rec.make_split(signals, retail_sample.as_of)
    cut0 = signals[signals["day"] <= split.t0]
    for key, params in [("own_history", {}), ("item_knn", {}), ("als", {"factors": 16})]:
        full = rec.build_history(signals, split.t0)
        short = rec.build_history(cut0, split.t0)
        assert (full.confidence != short.confidence).nnz == 0
        users = np.arange(len(full.users))
        a, _ = rec.make_model(key, seed=3, **params).fit(full).recommend(full, users, 10, True)
        b, _ = rec.make_model(key, seed=3, **params).fit(short).recommend(short, users, 10, True)
        assert np.array_equal(a, b), key
    cut1 = signals[signals["day"] <= split.t1]
    a = rec.choose_on_validation(signals, split, grid=SMALL_GRID)
    b = rec.choose_on_validation(cut1, split, grid=SMALL_GRID)
    pd.testing.assert_frame_equal(a.validation, b.validation)
    assert (a.chosen, a.shipped) == (b.chosen, b.shipped)
    assert rec.repeats_default(signals, split) == rec.repeats_default(cut1, split)


def test_factor_models_left_out_above_the_size_limit(retail_sample):
    """Above max_factor_cells (customers x products of the validation history) ALS/BPR are
    not fitted and the note says why; at or below it they are."""
    signals = rec.purchase_signals(retail_sample.frame)
    split = rec.make_split(signals, retail_sample.as_of)
    history = rec.build_history(signals, split.t0)
    cells = len(history.users) * len(history.items)
    small = rec.choose_on_validation(signals, split, grid=SMALL_GRID, max_factor_cells=cells - 1)
    assert list(small.validation["method"]) == list(rec.BASELINES)
    assert small.chosen in rec.BASELINES and small.shipped == small.chosen
    assert f"{len(history.users):,} customers" in small.note and "max_factor_cells" in small.note
    full = rec.choose_on_validation(signals, split, grid=SMALL_GRID, max_factor_cells=cells)
    assert list(full.validation["method"]) == [*rec.BASELINES, "als"] and full.note == ""


def test_split_dates_and_short_data(retail_sample):
    signals = rec.purchase_signals(retail_sample.frame)
    split = rec.make_split(signals, "2011-12-09")
    assert (split.t0, split.t1, split.window_days) == (
        pd.Timestamp("2011-10-10"),
        pd.Timestamp("2011-11-09"),
        30,
    )
    assert split.t0 < split.t1 < split.as_of
    assert list(rec.split_table(split)["history to"]) == ["2011-10-10", "2011-11-09", "2011-12-09"]
    with pytest.raises(NotApplicable, match="shorter window_days"):
        rec.make_split(signals, "2011-12-09", window_days=150)


# --------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_online_retail_holdout_against_baselines(online_retail):
    """Own-history is the bar on Online Retail: ALS does not beat it, so it is shipped."""
    signals = rec.purchase_signals(online_retail.frame)
    split = rec.make_split(signals, online_retail.as_of)
    assert rec.repeat_share(signals, split.t0, split.t1) == pytest.approx(0.3711, abs=1e-4)
    assert rec.repeats_default(signals, split)
    c = rec.compare_methods(signals, split, 10, True, grid=ALS_GRID)
    test = c.test.set_index("method")
    assert test.loc["own_history", "customers"] == 1372
    assert test.loc["popularity", "recall"] == pytest.approx(0.0601, abs=5e-4)
    assert test.loc["own_history", "recall"] == pytest.approx(0.1858, abs=5e-4)
    assert test.loc["own_history", "precision"] == pytest.approx(0.2997, abs=5e-4)
    assert test.loc["item_knn", "recall"] == pytest.approx(0.1547, abs=5e-4)
    assert c.chosen == "als" and 0.12 < test.loc["als", "recall"] < 0.16
    assert c.validation_lift < rec.REQUIRED_LIFT and c.shipped == "own_history"
    assert c.best_baseline == "own_history" and rec.lift(c) == 0.0
    metrics = rec.recommend_metrics(c, 4324)
    assert set(metrics["baseline_recall_at_k"]) == set(rec.BASELINES)
    assert "not met" in rec.comparison_takeaway(c)


@pytest.mark.slow
def test_online_retail_rules_match_a_direct_count(online_retail):
    rules, facts = rec.basket_rules(online_retail.frame, min_support=0.01, max_len=2, max_items=50)
    assert facts["baskets"] == 16783 and facts["left_out"] == 1494
    top = rules.iloc[0]
    pairs = online_retail.frame[["order_id", "product_id"]].drop_duplicates()
    size = pairs.groupby("order_id")["product_id"].transform("size")
    pairs = pairs[size <= 50]
    has_a = set(pairs.loc[pairs["product_id"] == top["antecedent"], "order_id"])
    has_b = set(pairs.loc[pairs["product_id"] == top["consequent"], "order_id"])
    assert top["orders"] == len(has_a & has_b)
    assert top["confidence"] == pytest.approx(len(has_a & has_b) / len(has_a))
    assert top["lift"] == pytest.approx(top["confidence"] / (len(has_b) / 16783))
    names = rec.product_names(online_retail.frame)
    assert set(names[[top["antecedent"], top["consequent"]]]) == {
        "REGENCY TEA PLATE GREEN",
        "REGENCY TEA PLATE ROSES",
    }
    shown = rec.rules_table(rules, names, 5)
    assert len(shown) == 5 and shown["lift"].is_monotonic_decreasing  # each pair once


def test_reasons_in_words():
    signals = _signals(
        [
            ("A", "x", "2020-01-01"),
            ("A", "x", "2020-01-02"),
            ("B", "x", "2020-01-01"),
            ("B", "y", "2020-01-01"),
            ("C", "x", "2020-01-03"),
            ("C", "y", "2020-01-03"),
        ]
    )
    final = rec.fit_final(signals, "2020-01-05", "own_history", {})
    recs = rec.recommend_all(final, k=2)
    names = pd.Series({"x": "Mug", "y": "Saucer"})
    reasons = rec.explain(final, recs, names)
    by = dict(zip(zip(recs["customer_id"], recs["product_id"], strict=True), reasons, strict=True))
    assert by[("A", "x")] == "bought it 2 times before"
    assert by[("A", "y")] == "often bought with Mug"
    assert by[("B", "y")] == "bought it once before"
    export = rec.recommendations_export(recs, reasons, names, anonymize=True)
    assert export["customer_id"].str.match(r"^C-[0-9a-f]{12}$").all()
    assert list(export.columns) == [
        "customer_id",
        "rank",
        "product_id",
        "product",
        "score",
        "reason",
    ]


def test_reasons_in_chunks_equal_the_whole_at_once(retail_sample):
    """explain builds the reasons a chunk of customers at a time (7 rows cut lists in the
    middle); the result equals one chunk, and the counts by kind are those the whole-frame
    version gave on these 300 real customers."""
    signals = rec.purchase_signals(retail_sample.frame)
    names = rec.product_names(retail_sample.frame)
    final = rec.fit_final(signals, retail_sample.as_of, "item_knn", {})
    counts = {
        True: {"bought": 2676, "often": 245, "popular": 9},
        False: {"often": 2919, "popular": 11},
    }
    for repeats, expected in counts.items():
        recs = rec.recommend_all(final, 10, repeats)
        whole = rec.explain(final, recs, names, chunk=len(recs))
        for chunk in (7, 1_000):
            pd.testing.assert_series_equal(rec.explain(final, recs, names, chunk=chunk), whole)
        assert whole.str.split().str[0].value_counts().to_dict() == expected


def test_export_written_by_duckdb_has_pandas_bytes(retail_sample, tmp_path):
    """report.write_csv (DuckDB) writes the recommendations export of 300 real customers
    byte for byte as DataFrame.to_csv does (names with commas and quotes included)."""
    from analysis import report

    signals = rec.purchase_signals(retail_sample.frame)
    names = rec.product_names(retail_sample.frame)
    final = rec.fit_final(signals, retail_sample.as_of, "item_knn", {})
    recs = rec.recommend_all(final, 10, False)
    export = rec.recommendations_export(recs, rec.explain(final, recs, names), names, True)
    assert export["product"].str.contains(",").any() and export["score"].isna().any()
    export.to_csv(tmp_path / "pandas.csv", index=False)
    report.write_csv(export, tmp_path / "duckdb.csv")
    assert (tmp_path / "duckdb.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


# --------------------------------------------------------------------------- events


def _taobao_events() -> pd.DataFrame:
    """The Taobao UserBehavior sample as the events table (built-in ``taobao``)."""
    return load_table("events", "taobao").frame


@pytest.mark.slow
def test_events_views_and_carts_as_signals_buys_as_target():
    events = _taobao_events()
    inputs = rec.prepare(None, events)
    assert "events table alone" in inputs.note and inputs.frame is None
    assert inputs.as_of == pd.Timestamp("2017-12-03")
    counts = inputs.signals["signal"].value_counts()
    assert counts["view"] > 60000 and counts["purchase"] > 1600
    split = rec.make_split(inputs.signals, inputs.as_of)
    assert split.window_days == 1  # nine days of data
    assert not rec.repeats_default(inputs.signals, split)  # 3 % rebuys: only new products
    c = rec.compare_methods(inputs.signals, split, 10, False, grid=SMALL_GRID)
    test = c.test.set_index("method")
    # views predict purchases: item-kNN on weighted signals beats popularity by far
    assert test.loc["item_knn", "recall"] > 0.10 > test.loc["popularity", "recall"]
    assert c.shipped == "item_knn"
    # with purchases only, the same customers' lists are much worse
    buys = inputs.signals[inputs.signals["signal"] == "purchase"]
    only = rec.evaluate(
        rec.make_stage(buys, split.t1, split.as_of, False), "item_knn", {}, 10, False
    )
    assert only[0]["recall"] < test.loc["item_knn", "recall"]
    segments = rec.customer_segments(None, inputs.signals, split.t1)
    table = rec.segment_table(c, segments)
    assert table["customers"].sum() == test.loc["item_knn", "customers"]


# --------------------------------------------------------------------------- notebook


@pytest.mark.slow
def test_notebook_on_the_sample(tmp_path):
    metrics, error, out = run_notebook(
        "recommendations", tmp_path, data="online_retail_sample", anonymize=True, grid=SMALL_GRID
    )
    assert error is None
    assert metrics["method"] == "own_history" and metrics["k"] == 10
    for key in ("recall_at_k", "precision_at_k", "ndcg_at_k", "coverage", "customers_scored"):
        assert key in metrics
    assert set(metrics["baseline_recall_at_k"]) == set(rec.BASELINES)
    assert metrics["customers_scored"] == 293
    exported = pd.read_csv(out / "recommendations.csv")
    assert exported["customer_id"].str.startswith("C-").all()
    assert exported["product"].notna().all() and exported["reason"].notna().all()
    assert exported.groupby("customer_id").size().max() == 10
    rules = pd.read_csv(out / "bought_together.csv")
    assert {"antecedent_name", "consequent_name", "lift", "confidence"} <= set(rules.columns)


@pytest.mark.slow
def test_notebook_without_product_ids_is_not_applicable(tmp_path):
    _, error, _ = run_notebook("recommendations", tmp_path, data="cdnow_sample")
    assert error is not None and error.startswith("NotApplicable") and "product_id" in error


@pytest.mark.slow
def test_notebook_on_events_only(tmp_path):
    """`events="taobao"` beside the default log of other customers and years: the events are
    used alone, views, carts and favourites as signals, buys as the target."""
    metrics, error, out = run_notebook("recommendations", tmp_path, events="taobao", grid={})
    assert error is None
    assert metrics["method"] == "item_knn" and metrics["repeats_allowed"] is False
    assert metrics["customers_scored"] == 815 and metrics["recall_at_k"] > 0.10
    exported = pd.read_csv(out / "recommendations.csv", dtype=str)
    assert exported["customer_id"].nunique() == 815
