"""Potential customers and conversion (analysis.lifecycle) on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import cycle
from analysis import lifecycle as lc
from analysis import segmentation as seg
from analysis.data import load_transactions
from analysis.errors import is_not_applicable
from analysis.summary import customer_summary
from analysis.tables import load_table
from tests.conftest import run_notebook

AS_OF = pd.Timestamp("2011-06-30")


@pytest.fixture(scope="module")
def leads():
    """Olist's 8,000 marketing-qualified leads at the last sign-up (2018-05-31)."""
    people = load_table("customers", "olist_leads").frame
    as_of = lc.default_as_of(people, None)
    first = lc.first_purchases(people, None, as_of)
    return people, as_of, first, lc.conversion_frame(people, first, as_of)


def test_potential_is_every_customer_without_a_purchase_and_stages_add_up():
    tx = load_transactions("online_retail_sample")
    buyers = tx.frame["customer_id"].unique()
    never = [f"P{i:04d}" for i in range(40)]  # signed up, never bought
    raw = pd.DataFrame(
        {
            "customer_id": [*buyers, *never],
            "signup_date": pd.Timestamp("2010-11-01"),
            "channel": ["web"] * len(buyers) + ["shop"] * len(never),
        }
    )
    people = load_table("customers", raw, as_of=AS_OF)
    summary = customer_summary(tx.frame, AS_OF, time_unit="D")
    thresholds = seg.lifecycle_thresholds(cycle.cycle_at(tx.frame, AS_OF), summary)
    stages = seg.stage_table(seg.lifecycle_stages(summary, thresholds), summary["revenue"])
    counts = lc.stage_counts(
        stages["customers"].to_dict(), people.frame["customer_id"], summary.index
    )
    first_order = tx.frame.groupby("customer_id")["order_date"].min()
    late = int((first_order > AS_OF + pd.Timedelta(days=1)).sum())
    assert late == 98  # sample customers whose first purchase came after 30 June 2011
    assert counts["potential"] == 40 + late == 138
    assert sum(counts.values()) == len(set(buyers) | set(never)) == 333
    # the same count from the conversion side: first purchases up to as_of
    first = lc.first_purchases(people.frame, tx.frame, AS_OF)
    assert int(first.isna().sum()) == counts["potential"]


def test_olist_leads_conversion_by_channel(leads):
    people, as_of, first, frame = leads
    assert as_of == pd.Timestamp("2018-05-31")
    assert len(frame) == 8000 and int(first.isna().sum()) == 7335  # 665 deals won by then
    by_channel = lc.conversion_by(frame, "channel", 90)
    total = by_channel.loc["all"]
    assert total["converted"] == 665 and total["share"] == pytest.approx(665 / 8000)
    assert total["share_low"] < total["share"] < total["share_high"]
    assert total["median_days"] == 10.0
    # censoring-aware: the Kaplan-Meier share within 90 days beats the naive share, since
    # May's sign-ups have not had 90 days yet
    naive = ((frame["converted"]) & (frame["days"] <= 90)).mean()
    assert total["within"] > naive
    assert by_channel.loc["email", "share"] == pytest.approx(13 / 493)
    metrics = lc.lifecycle_metrics(by_channel, first, 90)
    assert metrics["conversion_rate"] == 0.0831
    assert metrics["median_days_to_first_purchase"] == 10.0
    assert metrics["potential"] == 7335


def test_kaplan_meier_equals_the_plain_share_without_censoring(leads):
    *_, frame = leads
    old = frame[frame["signup_date"] <= pd.Timestamp("2018-02-28")]  # all followed 90+ days
    curve = lc.conversion_curve(old["days"], old["converted"])
    for day in (0, 7, 30, 90):
        plain = (old["converted"] & (old["days"] <= day)).mean()
        assert lc.curve_at(curve, day)["converted"] == pytest.approx(plain)
    at = lc.curve_at(curve, 90)
    assert at["low"] < at["converted"] < at["high"]
    assert np.isnan(lc.curve_at(curve, curve["longest"].iloc[0] + 1)["converted"])


def test_prospects_are_recent_open_sign_ups_in_channels_that_convert(leads):
    _, as_of, _, frame = leads
    by_channel = lc.conversion_by(frame, "channel", 90)
    found = lc.prospects(frame, by_channel, as_of, recent_days=90, horizon_days=90)
    assert len(found) == 2246
    good = by_channel.index[by_channel["share"] >= by_channel.loc["all", "share"]]
    assert set(found["channel"]) <= set(good) - {"all"}
    assert not frame.loc[found.index, "converted"].any()
    assert (found["signup_date"] > as_of - pd.Timedelta(days=90)).all()
    assert found["chance"].between(0, 1).all()
    assert found["chance"].is_monotonic_decreasing


@pytest.mark.slow
def test_segmentation_notebook_counts_potential_customers(tmp_path):
    tx = load_transactions("online_retail_sample")
    buyers = list(tx.frame["customer_id"].unique())
    path = tmp_path / "people.csv"
    pd.DataFrame(
        {"customer_id": buyers + [f"P{i:04d}" for i in range(40)], "signup_date": "2010-11-01"}
    ).to_csv(path, index=False)
    metrics, error, _ = run_notebook(
        "segmentation", tmp_path, data="online_retail_sample", customers=str(path)
    )
    assert error is None, error
    counts = metrics["stage_counts"]
    assert counts["potential"] == 40
    assert sum(counts.values()) == len(buyers) + 40 == 333


@pytest.mark.slow
def test_lifecycle_notebook_on_olist_leads(tmp_path):
    metrics, error, out = run_notebook("lifecycle", tmp_path, data="", customers="olist_leads")
    assert error is None, error
    assert metrics["conversion_rate"] == 0.0831 and metrics["potential"] == 7335
    assert metrics["median_days_to_first_purchase"] == 10.0
    prospects = pd.read_csv(out / "prospects.csv")
    assert len(prospects) == 2246 and prospects["chance"].max() <= 1


@pytest.mark.slow
def test_lifecycle_notebook_without_customers_table_is_not_applicable(tmp_path):
    _, error, _ = run_notebook("lifecycle", tmp_path, data="online_retail_sample")
    assert error is not None and is_not_applicable(error)
