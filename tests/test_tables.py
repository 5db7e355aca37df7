"""The optional tables (customers, events, feedback, tickets) on the real built-ins."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.builtins import read_builtin
from analysis.data import DataError, Table, Tables, load_table, load_tables, log_text


def _log(table) -> dict[str, int]:
    return dict(zip(table.log["step"], table.log["rows"], strict=True))


@pytest.fixture(scope="module")
def olist() -> Tables:
    return load_tables(data="olist")


@pytest.fixture(scope="module")
def taobao() -> Table:
    return load_table("events", "taobao")


def test_taobao_events_cleaned_to_the_collection_window(taobao):
    log = _log(taobao)
    assert taobao.rows_in == 84_476
    assert log["unparseable event time"] == -1  # the sample's last row is cut short
    assert log["outside the collection window"] == -35  # 2017-09-11 .. 11-24, Beijing time
    assert taobao.rows_clean == 84_440
    counts = taobao.frame["event"].value_counts().to_dict()
    assert counts == {"view": 75_837, "cart": 4_497, "favourite": 2_356, "purchase": 1_750}
    assert taobao.frame["customer_id"].nunique() == 815
    assert taobao.info["steps"] == {
        "pv": "view",
        "cart": "cart",
        "fav": "favourite",
        "buy": "purchase",
    }
    t = taobao.frame["event_time"]
    assert t.min() >= pd.Timestamp("2017-11-25") and t.max() < pd.Timestamp("2017-12-04")
    assert taobao.frame["customer_id"].dtype == "str"
    assert taobao.has("product_id") and taobao.has("category") and not taobao.has("session_id")
    assert taobao.as_of is None


def test_event_map_option_overrides_the_synonyms():
    events = load_table("events", "taobao", event_map={"fav": "wishlist"})
    assert events.frame["event"].value_counts()["wishlist"] == 2_356
    assert events.info["steps"]["fav"] == "wishlist"


def test_olist_reviews_raw_distribution_and_scale():
    raw = read_builtin("olist_reviews")
    assert len(raw) == 3_986
    assert raw["review_score"].value_counts().sort_index().tolist() == [454, 137, 337, 765, 2_293]
    alone = load_table("feedback", "olist")  # no cutoff: every review stays
    assert alone.rows_clean == 3_986
    assert alone.info["scale"] == "stars"
    assert (alone.info["scale_min"], alone.info["scale_max"]) == (1, 5)
    assert raw["review_comment_message"].notna().sum() == 1_656
    assert alone.frame["comment"].notna().sum() == 1_655  # one comment is only blanks


def test_olist_tables_share_one_cutoff_and_link_checks(olist):
    assert olist.present() == ["transactions", "customers", "feedback"]
    tx = olist.transactions
    assert tx.rows_clean == 4_519 and tx.frame["customer_id"].nunique() == 3_975
    assert tx.as_of == pd.Timestamp("2018-08-29") == olist.feedback.as_of
    assert tx.currency == "R$"
    assert _log(olist.feedback)["after as_of"] == -27  # reviews written after the last order
    assert olist.customers.rows_clean == 3_998  # people (customer_unique_id)
    checks = {(c, t): r for c, t, r, _ in olist.checks.itertuples(index=False)}
    assert checks[("unknown customer", "feedback")] == 0
    assert checks[("unknown order", "feedback")] == 23  # orders without items in the sample
    assert checks[("dates after as_of", "feedback")] == 27
    assert checks[("customers without purchases", "customers")] == 23


def test_olist_late_deliveries_and_their_stars(olist):
    orders = olist.transactions.frame.drop_duplicates("order_id")
    delivered = orders[orders["delivered_at"].notna()]
    late = delivered["delivered_at"].dt.normalize() > delivered["estimated_delivery_at"]
    assert (int(late.sum()), len(delivered)) == (279, 3_898)
    stars = (
        olist.feedback.frame.merge(
            delivered[["order_id"]].assign(late=late.to_numpy()), on="order_id"
        )
        .groupby("late")["score"]
        .mean()
    )
    assert stars[True] == pytest.approx(2.153, abs=1e-3)
    assert stars[False] == pytest.approx(4.283, abs=1e-3)


def test_olist_leads_as_a_prospects_table():
    leads = load_table("customers", "olist_leads")
    assert leads.rows_clean == 8_000
    assert leads.has("signup_date") and leads.has("channel")
    assert leads.frame["won_date"].notna().sum() == 842
    assert leads.frame["channel"].value_counts().index[0] == "organic search"


def test_feedback_scale_inferred_from_the_values():
    days = pd.date_range("2024-01-01", periods=100).astype(str)
    nps = pd.DataFrame({"date": days, "likely_to_recommend": [i % 11 for i in range(100)]})
    table = load_table("feedback", nps, {"response_date": "date", "score": "likely_to_recommend"})
    assert table.info["scale"] == "nps" and table.info["scale_inferred"]
    csat = pd.DataFrame({"date": days, "score": [1 + i % 5 for i in range(99)] + [11]})
    table = load_table("feedback", csat, {"response_date": "date"})
    assert table.info["scale"] == "csat"
    assert _log(table)["score outside the scale"] == -1
    forced = load_table("feedback", csat, {"response_date": "date"}, scale="nps")
    assert forced.info["scale"] == "nps" and _log(forced)["score outside the scale"] == -1
    with pytest.raises(DataError, match="scale 'likert' unknown"):
        load_table("feedback", csat, {"response_date": "date"}, scale="likert")


def test_duplicates_option_is_checked_in_one_place():
    with pytest.raises(DataError, match=r"duplicates='dorp' .* use one of 'drop', 'keep'"):
        load_table("events", "taobao", duplicates="dorp")


def test_events_file_given_as_feedback_names_the_right_flag(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("customer_id,event_time,event\n1,2024-01-01,view\n")
    with pytest.raises(DataError, match="looks like events data: pass it with --events"):
        load_table("feedback", path)


def test_log_text_prints_every_table(olist):
    text = log_text(olist.feedback.log)
    assert "after as_of" in text and "-27" in text
