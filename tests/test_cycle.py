"""Tests of analysis.cycle: the one purchase-cycle definition (hand-checked and real data)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import cycle, plots  # noqa: E402


def _log(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = pd.to_datetime(frame["order_date"], format="ISO8601")
    frame["order_id"] = [str(i) for i in range(len(frame))]
    return frame


def test_intervals_merge_same_day_censor_the_running_silence_and_stop_at_as_of():
    frame = _log(
        [
            ("x", "2024-01-01", 10.0),
            ("x", "2024-01-11", 10.0),
            ("x", "2024-01-31 09:00", 5.0),
            ("x", "2024-01-31 18:00", 5.0),  # same day: one purchase
            ("x", "2024-03-01", 5.0),  # after the cutoff: never read
            ("y", "2024-01-05", 3.0),
        ]
    )
    table = cycle.intervals(frame, "2024-02-01")
    x = table.loc[table["customer_id"] == "x"].sort_values("days")
    assert x["days"].tolist() == [1.0, 10.0, 20.0]  # running silence 31 Jan -> 1 Feb
    assert x["observed"].tolist() == [False, True, True]
    y = table.loc[table["customer_id"] == "y"]
    assert y["days"].tolist() == [27.0] and not y["observed"].any() and not y["repeat"].any()


def test_kaplan_meier_counts_each_customer_once_by_hand():
    # A: returns after 10 and 20 days, silent 5 days at the cutoff (3 intervals, 1/3 each);
    # B: returns after 30 days, silent 40 (2 intervals, 1/2 each).
    table = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "B", "B"],
            "days": [10.0, 20.0, 5.0, 30.0, 40.0],
            "observed": [True, True, False, True, False],
            "repeat": True,
        }
    )
    c = cycle.purchase_cycle(table)
    # at risk 2 -> 5/3 after A's censored 5; S(10) = 1 - (1/3)/(5/3) = 0.8;
    # S(20) = 0.8 x (1 - (1/3)/(4/3)) = 0.6; S(30) = 0.6 x (1 - (1/2)/1) = 0.3
    curve = c.survival.set_index("days")["not_back"]
    assert curve[10.0] == pytest.approx(0.8) and curve[20.0] == pytest.approx(0.6)
    assert curve[30.0] == pytest.approx(0.3)
    assert c.quantile(0.2) == 10.0 and c.quantile(0.5) == 30.0
    assert c.quantile(0.8) is None and c.threshold(0.8) == 40.0  # never reached: longest
    assert (c.customers, c.completed, c.censored) == (2, 3, 2)
    pooled = cycle.purchase_cycle(table, "gap")  # 5 intervals, weight 1 each
    assert pooled.survival.set_index("days")["not_back"][10.0] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="weighting"):
        cycle.purchase_cycle(table, "orders")
    nobody = cycle.purchase_cycle(table.assign(observed=False))
    assert nobody.completed == 0 and nobody.quantiles[0.5] is None
    assert "no purchase cycle" in cycle.cycle_takeaway(nobody)


@pytest.mark.slow
def test_online_retail_cycle_is_longer_once_censored_and_per_customer(online_retail):
    table = cycle.intervals(online_retail.frame, online_retail.as_of)
    defs = cycle.definitions_table(table)
    rows = defs.to_numpy().round(1).tolist()
    assert rows[0] == [28.0, 70.0, 111.0]  # completed gaps pooled: the old, short answer
    assert rows[1][0] == 53.0  # the median customer's own median gap
    assert rows[2] == [40.0, 132.0, 290.0]  # Kaplan-Meier, every interval pooled
    assert rows[3] == [66.0, 170.0, 248.0]  # Kaplan-Meier, each repeat customer once: used
    assert cycle.heavy_share(table) == pytest.approx(0.4156, abs=1e-4)
    c = cycle.purchase_cycle(table)
    assert (c.customers, c.completed) == (2769, 12276)
    text = cycle.cycle_takeaway(c, table)
    assert "within 66 days" in text and "42%" in text
    ax = plots.cycle.cycle_curve(c, {"churn window": 124})
    assert ax.get_ylabel() == "repeat customers not yet back"
    plt.close("all")
