"""Satisfaction and feedback (analysis.feedback, analysis.sentiment) on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import feedback as fb
from analysis import sentiment

SHARED = "../shared/data"


def _shared(path):
    from analysis.config import PROJ_ROOT

    full = PROJ_ROOT.parent / "shared" / "data" / path
    if not full.exists():
        full = PROJ_ROOT.parents[1] / "shared" / "data" / path
    if not full.exists():
        pytest.skip(f"{path} not found beside the project")
    return full


@pytest.fixture(scope="module")
def olist():
    """Canonical transactions and feedback frames of the Olist sample (the tables contract)."""
    return olist_frames()


def olist_frames():
    """Transactions (order items) and feedback of the Olist sample as canonical frames."""
    root = _shared("olist_sample")
    orders = pd.read_csv(root / "olist_orders_dataset.csv")
    items = pd.read_csv(root / "olist_order_items_dataset.csv")
    people = pd.read_csv(root / "olist_customers_dataset.csv")
    products = pd.read_csv(root / "olist_products_dataset.csv")
    names = pd.read_csv(root / "product_category_name_translation.csv")
    reviews = pd.read_csv(root / "olist_order_reviews_dataset.csv")
    products = products.merge(names, on="product_category_name", how="left")
    orders = orders.merge(people, on="customer_id")
    tx = items.merge(orders, on="order_id").merge(products, on="product_id", how="left")
    tx = pd.DataFrame({
        "customer_id": tx["customer_unique_id"].astype(str), "order_id": tx["order_id"],
        "order_date": pd.to_datetime(tx["order_purchase_timestamp"]),
        "amount": tx["price"], "product_id": tx["product_id"],
        "category": tx["product_category_name_english"], "region": tx["customer_state"],
        "delivered_at": pd.to_datetime(tx["order_delivered_customer_date"]),
        "estimated_delivery_at": pd.to_datetime(tx["order_estimated_delivery_date"]),
        "freight": tx["freight_value"], "status": tx["order_status"],
    })  # fmt: skip
    owner = orders.set_index("order_id")["customer_unique_id"]
    feedback = pd.DataFrame({
        "response_id": reviews["review_id"], "order_id": reviews["order_id"],
        "customer_id": reviews["order_id"].map(owner),
        "response_date": pd.to_datetime(reviews["review_creation_date"]),
        "score": reviews["review_score"].astype(float),
        "comment": reviews["review_comment_message"].astype("string"),
    })  # fmt: skip
    return tx, feedback


def test_nps_interval_formula_and_adjusted_wald():
    r = fb.nps_interval(50, 20, 100)
    assert r["nps"] == 30.0
    assert r["se"] == pytest.approx(100 * np.sqrt((0.7 - 0.09) / 100))
    # adjusted Wald: 50.75 and 20.75 of 103
    centre = (50.75 - 20.75) / 103
    se = np.sqrt((50.75 / 103 + 20.75 / 103 - centre**2) / 103)
    assert r["low"] == pytest.approx(100 * (centre - 1.959964 * se), abs=1e-3)
    big = fb.nps_interval(50_000, 20_000, 100_000)
    assert big["high"] - big["low"] == pytest.approx(2 * 1.959964 * big["se"], rel=1e-3)
    # small n stays inside [-100, 100] and is not degenerate at 0 detractors
    tiny = fb.nps_interval(5, 0, 5)
    assert tiny["nps"] == 100 and tiny["low"] < 100 and tiny["high"] <= 100


def test_csat_wilson_and_scale_groups():
    c = fb.csat_interval(8, 10)
    assert (c["low"], c["high"]) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    stars = fb.Scale("stars", 1, 5)
    s = pd.Series([1, 2, 3, 4, 5, np.nan])
    assert list(fb.nps_groups(s, stars).astype(object)[:5]) == [
        "detractor", "detractor", "detractor", "passive", "promoter"]  # fmt: skip
    assert list(fb.score_labels(s, stars)[:5]) == [0, 0, None, 1, 1] or list(
        fb.score_labels(s, stars).fillna(-1)[:5]) == [0, 0, -1, 1, 1]  # fmt: skip
    nps = fb.Scale("nps", 0, 10)
    g = fb.nps_groups(pd.Series([0, 6, 7, 8, 9, 10]), nps).astype(object)
    assert list(g) == ["detractor"] * 2 + ["passive"] * 2 + ["promoter"] * 2


def test_olist_scores_and_groups(olist):
    tx, feedback = olist
    scale = fb.scale_of({}, feedback["score"])
    assert (scale.low, scale.high) == (1, 5)
    s = fb.summarise(feedback["score"], scale)
    assert s["responses"] == 3986
    assert s["promoters"] == 2293 and s["detractors"] == 454 + 137 + 337
    assert s["nps"] == pytest.approx(100 * (2293 - 928) / 3986)
    assert s["csat"] == pytest.approx((765 + 2293) / 3986)
    assert s["mean_score"] == pytest.approx(
        (454 + 2 * 137 + 3 * 337 + 4 * 765 + 5 * 2293) / 3986)  # fmt: skip
    enriched = fb.enrich(feedback, tx)
    by_state = fb.group_table(enriched, "region", scale)
    assert by_state.loc["SP", "responses"] > 1500 and not by_state.loc["SP", "small"]
    assert by_state["rank"].isna().equals(by_state["small"])
    periods = fb.period_table(enriched, scale, "M")
    assert periods["responses"].sum() == 3986


def test_olist_late_delivery_is_the_top_driver(olist):
    tx, feedback = olist
    enriched = fb.enrich(feedback, tx)
    late = enriched.groupby("late")["score"].mean()
    assert late[1.0] == pytest.approx(2.15, abs=0.06) and late[0.0] == pytest.approx(4.29, abs=0.03)
    table = fb.drivers(enriched)
    assert table.index[0] == "delivery delay"
    assert set(table.index) >= {"delivery delay", "order value", "freight share", "category"}
    assert table["share"].iloc[0] > 0.5


def test_shapley_r2_matches_pingouin_on_single_columns(olist):
    pg = pytest.importorskip("pingouin")
    tx, feedback = olist
    enriched = fb.enrich(feedback, tx).dropna(subset=["score", "delay_days", "freight_share"])
    X = pd.DataFrame({"delay": enriched["delay_days"], "freight": enriched["freight_share"],
                      "value": np.log1p(enriched["order_value"])})  # fmt: skip
    ours = fb.shapley_r2(X, enriched["score"], {c: [c] for c in X.columns})
    theirs = pg.linear_regression(X, enriched["score"], relimp=True).set_index("names")["relimp"]
    for c in X.columns:
        assert ours[c] == pytest.approx(theirs[c], abs=1e-6)
    full = np.linalg.lstsq(np.c_[np.ones(len(X)), X], enriched["score"], rcond=None)
    assert ours.sum() == pytest.approx(
        1 - full[1][0] / ((enriched["score"] - enriched["score"].mean()) ** 2).sum())  # fmt: skip


def test_feedback_per_customer_sql_matches_pandas(olist):
    from analysis import engine

    _, feedback = olist
    out = engine.feedback_per_customer(feedback, promoter=5, detractor=3)
    with_id = feedback.dropna(subset=["customer_id"])
    assert len(out) == with_id["customer_id"].nunique()
    assert out["responses"].sum() == len(with_id)
    assert out["promoters"].sum() == (with_id["score"] == 5).sum() == 2293
    assert out["detractors"].sum() == (with_id["score"] <= 3).sum()
    assert out["comments"].sum() == with_id["comment"].str.strip().str.len().gt(0).sum()
    last = with_id.sort_values("response_date").groupby("customer_id")["score"].last()
    single = out[out["responses"] == 1].index
    assert (out.loc[single, "last_score"] == last[single]).all()
    cut = engine.feedback_per_customer(feedback, as_of="2017-12-31", promoter=5, detractor=3)
    assert cut["responses"].sum() == (with_id["response_date"] <= "2017-12-31").sum()
    assert cut["last_response"].max() <= pd.Timestamp("2017-12-31")
