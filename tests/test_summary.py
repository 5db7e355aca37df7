"""The shared per-customer summary, checked by hand and against lifetimes on CDNOW."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.summary import calibration_holdout, customer_summary, purchase_days

TINY = pd.DataFrame(
    {
        "customer_id": ["a", "a", "a", "a", "b", "c"],
        "order_date": pd.to_datetime(
            [
                "2024-01-01 09:00",
                "2024-01-01 17:00",  # same day as the first: merged
                "2024-01-08",
                "2024-01-15",
                "2024-01-10",
                "2024-01-20",  # after the cutoff used below
            ],
            format="mixed",
        ),
        "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 3.0],
        "order_id": ["1", "2", "3", "4", "5", "6"],
    }
)


def test_summary_by_hand():
    s = customer_summary(TINY, "2024-01-15", time_unit="D")
    assert list(s.index) == ["a", "b"]  # c bought after the cutoff
    a = s.loc["a"]
    assert a["frequency"] == 2  # three purchase days
    assert a["recency"] == 14 and a["T"] == 14
    assert a["monetary_value"] == pytest.approx(30.0)  # mean of the repeat days 20 and 40
    assert a["orders"] == 4 and a["revenue"] == pytest.approx(75.0)
    assert a["avg_order_value"] == pytest.approx(18.75)
    b = s.loc["b"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0, 5, 0)
    weeks = customer_summary(TINY, "2024-01-15", time_unit="W")
    assert weeks.loc["a", "T"] == pytest.approx(2.0)
    assert weeks.loc["b", "T"] == pytest.approx(5 / 7)


def test_purchase_days_merges_and_drops_return_days():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a"],
            "order_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-03"]),
            "amount": [10.0, 5.0, -8.0, 0.0],
        }
    )
    days = purchase_days(frame)
    # day 1 merged (15), day 2 a pure return (dropped), day 3 a free purchase (kept)
    assert days["amount"].tolist() == [15.0, 0.0]
    assert days["orders"].tolist() == [2, 1]


def test_calibration_holdout_by_hand():
    ch = calibration_holdout(TINY, "2024-01-08", "2024-01-20", time_unit="D")
    assert list(ch.index) == ["a"]  # b and c first bought after calibration
    assert ch.loc["a", "frequency"] == 1
    assert ch.loc["a", "frequency_holdout"] == 1
    assert ch.loc["a", "revenue_holdout"] == pytest.approx(40.0)
    assert ch.loc["a", "duration_holdout"] == 12
    with pytest.raises(ValueError, match="must be after"):
        calibration_holdout(TINY, "2024-01-08", "2024-01-08")


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="amount"):
        customer_summary(TINY.drop(columns="amount"), "2024-01-15")


def test_cdnow_sample_calibration_and_holdout_counts(cdnow_sample):
    ch = calibration_holdout(cdnow_sample.frame, "1997-09-30", "1998-06-30", time_unit="W")
    assert len(ch) == 2_357
    assert ch["frequency"].sum() == 2_457  # Fader, Hardie & Lee (2005)
    assert ch["frequency_holdout"].sum() == 1_882
    assert (ch["frequency"] > 0).sum() == 946  # repeat buyers of the Gamma-Gamma note
    assert ch["duration_holdout"].iloc[0] == pytest.approx(273 / 7)
    first_day = ch.loc[ch["first_purchase"] == pd.Timestamp("1997-01-01")]
    assert first_day["T"].round(2).unique().tolist() == [38.86]


@pytest.mark.parametrize("unit,scale", [("D", 1), ("W", 7)])
@pytest.mark.slow
def test_summary_equals_lifetimes_on_cdnow(cdnow, unit, scale):
    from lifetimes.utils import summary_data_from_transaction_data

    ours = customer_summary(cdnow.frame, "1998-06-30", time_unit=unit)
    ref = summary_data_from_transaction_data(
        cdnow.frame,
        "customer_id",
        "order_date",
        monetary_value_col="amount",
        observation_period_end="1998-06-30",
        freq="D",
    ).loc[ours.index]
    assert len(ours) == 23_570
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), ref["frequency"].to_numpy())
    np.testing.assert_allclose(ours["recency"] * scale, ref["recency"], atol=1e-9)
    np.testing.assert_allclose(ours["T"] * scale, ref["T"], atol=1e-9)
    np.testing.assert_allclose(ours["monetary_value"], ref["monetary_value"], atol=1e-9)
