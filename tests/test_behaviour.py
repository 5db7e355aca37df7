"""Behaviour: funnel counts against an independent count, paths, carts, activity, channels."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from test_engine import spark  # noqa: F401  (the local Spark session fixture)

from analysis import behaviour, engine, intervals
from analysis.data import load_table
from analysis.errors import NotApplicable

STEPS = ("view", "cart", "purchase")
T0 = pd.Timestamp("2024-03-01 09:00:00")
W = 3600  # a one-hour window for the hand-made log (seconds)


def _log(rows) -> pd.DataFrame:
    """Events from (visitor, seconds after T0, event[, product]) tuples."""
    out = pd.DataFrame(
        [(v, T0 + pd.Timedelta(seconds=s), e, p[0] if p else "p1") for v, s, e, *p in rows],
        columns=["customer_id", "event_time", "event", "product_id"],
    )
    return out.astype({"customer_id": "str", "product_id": "str"})


#: Visitor by visitor, what each mode must count (comments give the reason).
HAND = _log(
    [
        ("A", 0, "view"), ("A", 10, "cart"), ("A", 20, "purchase"),  # the plain path
        ("B", 0, "view"), ("B", 5, "purchase"), ("B", 8, "cart"),  # bought, then carted
        ("C", 0, "cart"), ("C", 5, "view"), ("C", 6, "purchase"),  # carted before any view
        ("D", 0, "view"), ("D", W, "cart"), ("D", W + 1, "purchase"),  # window edge
        ("E", 0, "view"), ("E", 100, "view"), ("E", W + 50, "cart"),  # window from FIRST view
        ("F", 0, "purchase"),  # never viewed: not in the funnel
        ("G", 0, "view"), ("G", 5, "cart"), ("G", 6, "purchase"), ("G", 7, "cart"),
        ("H", 0, "view"), ("H", 0, "cart"), ("H", 0, "purchase"),  # same second
    ]
)  # fmt: skip


def independent_funnel(events: pd.DataFrame, steps, window_s: int, mode: str) -> list[int]:
    """Visitors per step, counted visitor by visitor in plain Python (no SQL, no groupby)."""
    counts = [0] * len(steps)
    for _, ev in events.sort_values("event_time").groupby("customer_id"):
        times = {s: [t.timestamp() for t in ev.loc[ev["event"] == s, "event_time"]] for s in steps}
        if not times[steps[0]]:
            continue
        t1 = min(times[steps[0]])
        counts[0] += 1
        previous = t1
        for j, step in enumerate(steps[1:], 1):
            lower = previous if mode == "strict" else t1
            ok = [t for t in times[step] if lower <= t <= t1 + window_s]
            if not ok:
                break
            counts[j] += 1
            previous = min(ok)
    return counts


@pytest.mark.parametrize(
    "mode, expected",
    [("strict", [7, 5, 3]), ("any", [7, 5, 4])],  # by hand from the comments on HAND
)
def test_funnel_counts_on_a_hand_made_log(mode, expected):
    table = behaviour.funnel_table(behaviour.funnel_times(HAND, STEPS, W / 3600, mode), STEPS)
    assert table["visitors"].tolist() == expected
    assert independent_funnel(HAND, STEPS, W, mode) == expected
    assert table["dropped"].tolist() == [0, expected[0] - expected[1], expected[1] - expected[2]]


def test_window_edge_is_inclusive_and_anchored_on_the_first_step():
    times = behaviour.funnel_times(HAND, STEPS, W / 3600).set_index("customer_id")
    assert times.loc["D", "t2"] == T0 + pd.Timedelta(seconds=W)  # exactly at the edge: in
    assert pd.isna(times.loc["D", "t3"])  # one second later: out
    assert pd.isna(times.loc["E", "t2"])  # within W of the second view only: out
    one_more = behaviour.funnel_times(HAND, STEPS, (W + 1) / 3600).set_index("customer_id")
    assert one_more.loc["D", "t3"] == T0 + pd.Timedelta(seconds=W + 1)
    assert "F" not in times.index


def test_cutoff_drops_later_events():
    late = pd.concat([HAND, _log([("Z", 86_400 * 3, "view")])])
    times = behaviour.funnel_times(late, STEPS, 1, as_of=T0.normalize())
    assert "Z" not in set(times["customer_id"]) and len(times) == 7


def test_bad_funnels_are_refused():
    with pytest.raises(ValueError, match="two or more different steps"):
        behaviour.funnel_times(HAND, ("view", "view"), 1)
    with pytest.raises(ValueError, match="mode 'sideways' unknown"):
        behaviour.funnel_times(HAND, STEPS, 1, "sideways")


def test_wilson_interval_equals_the_formula():
    lo, hi = intervals.wilson([175], [813])
    n, p, z = 813, 175 / 813, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert lo[0] == pytest.approx(centre - half) and hi[0] == pytest.approx(centre + half)
    assert np.isnan(intervals.wilson([0], [0])[0][0])


def test_time_to_convert_on_the_hand_made_log():
    hours = behaviour.hours_to_convert(behaviour.funnel_times(HAND, STEPS, 1, "any"), 3)
    # A: 20 s, B: 8 s (the cart came last), G: 6 s, H: 0 s
    assert hours.sort_index().round(6).to_dict() == {
        "A": round(20 / 3600, 6), "B": round(8 / 3600, 6), "G": round(6 / 3600, 6), "H": 0.0
    }  # fmt: skip


# --------------------------------------------------------------------------- real Taobao sample


@pytest.fixture(scope="module")
def taobao():
    """The real Taobao sample as the loader cleans it (its 9-day window, Beijing time)."""
    table = load_table("events", "taobao")
    log = table.log.set_index("step")["rows"]
    assert log["outside the collection window"] == -35  # the far-off timestamps are dirt
    assert log["rows kept"] == len(table.frame) == 84_440
    return table.frame


@pytest.mark.parametrize("mode", ["strict", "any"])
def test_taobao_funnel_equals_the_independent_count(taobao, mode):
    table = behaviour.funnel_table(behaviour.funnel_times(taobao, STEPS, 72, mode), STEPS)
    assert table["visitors"].tolist() == independent_funnel(taobao, STEPS, 72 * 3600, mode)
    viewers = taobao.loc[taobao["event"] == "view", "customer_id"].nunique()
    assert table["visitors"].iloc[0] == viewers == 813
    assert table["visitors"].tolist() == ([813, 436, 175] if mode == "strict" else [813, 436, 216])


def test_taobao_event_days_equal_pandas(taobao):
    days = engine.event_days(taobao, ("view", "cart", "purchase"))
    assert len(days) == taobao.groupby(["customer_id", taobao["event_time"].dt.date]).ngroups
    assert days["events"].sum() == len(taobao)
    assert days["n_purchase"].sum() == (taobao["event"] == "purchase").sum()
    daily = behaviour.activity(days)
    assert (
        daily["active"].iloc[0]
        == taobao.loc[taobao["event_time"] < "2017-11-26", "customer_id"].nunique()
    )
    assert daily["new"].sum() == taobao["customer_id"].nunique() == 815


def test_taobao_abandoned_carts(taobao, tmp_path):
    as_of = pd.Timestamp("2017-12-03")
    carts = behaviour.cart_outcomes(taobao, grace_hours=24, as_of=as_of)
    pairs = taobao[taobao["event"] == "cart"].groupby(["customer_id", "product_id"]).ngroups
    assert len(carts) == pairs
    stats = behaviour.abandonment(carts)
    assert stats["carted_items"] + stats["open_items"] == pairs
    assert 0.85 < stats["rate"] < 0.97  # Taobao carts work as wish lists: most are not bought
    winback = behaviour.winback_list(carts, as_of, max_days=30)
    assert len(winback) == stats["customers_abandoned"]
    assert winback["items"].is_monotonic_decreasing  # no prices: ranked by items
    exported = behaviour.winback_export(winback, anonymize=True)
    assert exported["customer_id"].str.startswith("C-").all()
    assert not set(exported["customer_id"]) & set(taobao["customer_id"])


# --------------------------------------------------------------------------- paths and carts


def test_paths_collapse_repeats_and_follow_dropouts():
    log = _log(
        [
            ("A", 0, "view"), ("A", 1, "view"), ("A", 2, "cart"), ("A", 3, "view"),
            ("B", 0, "view"), ("B", 1, "favourite"), ("B", 2, "favourite"), ("B", 9, "view"),
            ("C", 0, "view"),
            ("D", 0, "view"), ("D", 1, "cart"), ("D", 2, "purchase"), ("D", 3, "view"),
        ]
    )  # fmt: skip
    top, after = engine.paths(log, STEPS, W, depth=3)
    paths = behaviour.top_paths(top).set_index("path")["visitors"].to_dict()
    assert paths == {
        "view → cart → view": 1,
        "view → favourite → view": 1,
        "view": 1,
        "view → cart → purchase": 1,
    }
    nexts = behaviour.next_after_dropout(after, STEPS)
    got = {(r.dropped_at, r.next): r.visitors for r in nexts.itertuples()}
    # B dropped after view and favourited; C did nothing more; A dropped after cart, viewed
    assert got == {("view", "favourite"): 1, ("view", "left"): 1, ("cart", "view"): 1}


def test_cart_outcomes_by_hand():
    day = 86_400
    log = _log(
        [
            ("A", 0, "cart", "x"), ("A", 10, "purchase", "x"),  # bought
            ("A", 0, "cart", "y"),  # abandoned
            ("B", 0, "cart", "x"), ("B", 5, "purchase", "x"), ("B", 9, "cart", "x"),  # re-carted
            ("C", 3 * day, "cart", "z"),  # less than a day before the cutoff: open
        ]
    )  # fmt: skip
    as_of = (T0 + pd.Timedelta(days=3)).normalize()
    prices = pd.Series({"x": 10.0, "y": 4.0, "z": 1.0})
    carts = behaviour.cart_outcomes(log, grace_hours=24, as_of=as_of, prices=prices)
    status = carts.set_index(["customer_id", "product_id"])["status"].to_dict()
    assert status == {
        ("A", "x"): "purchased",
        ("A", "y"): "abandoned",
        ("B", "x"): "abandoned",
        ("C", "z"): "open",
    }
    stats = behaviour.abandonment(carts)
    assert stats["rate"] == pytest.approx(2 / 3) and stats["value"] == 14.0
    assert stats["customers_rate"] == pytest.approx(1 / 2)  # B lost all, A only one of two
    winback = behaviour.winback_list(carts, as_of)
    assert winback["customer_id"].tolist() == ["B", "A"]  # by value: 10 before 4
    assert winback["days_since"].tolist() == [3, 3]


# --------------------------------------------------------------------------- activity, channels


def test_activity_and_cohorts_by_hand():
    day = 86_400
    log = _log([("A", 0, "view"), ("A", day, "view"), ("B", day, "view"), ("A", 2 * day, "cart")])
    days = engine.event_days(log, STEPS)
    act = behaviour.activity(days)
    assert act["active"].tolist() == [1, 2, 1]
    assert act["new"].tolist() == [1, 1, 0]
    assert act["returning_share"].tolist() == [0.0, 0.5, 1.0]
    cohorts = behaviour.first_visit_cohorts(days)
    assert cohorts.iloc[0].tolist() == [1.0, 1.0, 1.0]
    assert cohorts.iloc[1, 0] == 1.0 and cohorts.iloc[1, 1] == 0.0
    assert np.isnan(cohorts.iloc[1, 2])  # not observable yet at the cutoff


def test_channel_mix_value_and_switching():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c", "d"],
            "order_date": pd.to_datetime(
                ["2024-01-05", "2024-03-20", "2024-03-01", "2024-01-10", "2024-03-25", "2024-01-02"]
            ),
            "amount": [10.0, 20.0, 5.0, 7.0, 8.0, 3.0],
            "channel": ["Web", "Store", "app", "store", "store", "web"],
        }
    )
    mix = behaviour.channel_mix(tx, None)
    assert mix["mix"].to_dict() == {"a": "both", "b": "online only", "c": "offline only",
                                    "d": "online only"}  # fmt: skip
    value = behaviour.channel_value(mix, tx, "2024-03-31", retention_days=60)
    assert value.loc["both", "revenue"] == 30.0 and value.loc["online only", "customers"] == 2
    assert value.loc["offline only", "retention"] == 1.0  # c bought before and in the period
    assert value.loc["online only", "retention"] == 0.0  # d did not come back; b is new
    switching = behaviour.channel_switching(tx, "2024-03-31", 60)
    assert switching.loc["online only", "offline only"] == 1  # a: web in Jan, store in Mar
    assert switching.loc["online only", "inactive"] == 1  # d
    with pytest.raises(NotApplicable, match="channel"):
        behaviour.channel_mix(tx.drop(columns="channel"), HAND)


def test_behaviour_features_never_read_past_the_cutoff():
    day = 86_400
    log = _log([("A", 0, "view"), ("A", day, "cart"), ("A", 5 * day, "view")])
    days = engine.event_days(log, STEPS)
    cutoff = T0.normalize() + pd.Timedelta(days=2)
    feats = behaviour.behaviour_features(days, cutoff, 7)
    assert feats.loc["A"].to_dict() == {
        "views in window": 1.0,
        "carts in window": 1.0,
        "visit days in window": 2.0,
        "days since last visit": 1.0,
    }


def test_no_events_table_is_not_applicable_naming_the_option():
    class NoEvents:
        events = None
        transactions = None

    with pytest.raises(NotApplicable, match="--events"):
        behaviour.inputs(NoEvents())


# --------------------------------------------------------------------------- Spark


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(object).where(frame.notna(), None).astype(str)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_spark_runs_the_same_behaviour_sql(spark):  # noqa: F811 (the imported fixture)
    for mode in ("strict", "any"):
        duck = engine.funnel_times(HAND, STEPS, W, mode)
        on_spark = engine.funnel_times(HAND, STEPS, W, mode, engine=spark)
        pd.testing.assert_frame_equal(_sorted(duck), _sorted(on_spark))
    for duck, on_spark in zip(
        engine.paths(HAND, STEPS, W), engine.paths(HAND, STEPS, W, engine=spark), strict=True
    ):
        pd.testing.assert_frame_equal(_sorted(duck), _sorted(on_spark))
    as_of = T0.normalize()
    pd.testing.assert_frame_equal(
        _sorted(engine.cart_outcomes(HAND, as_of=as_of)),
        _sorted(engine.cart_outcomes(HAND, as_of=as_of, engine=spark)),
    )
    pd.testing.assert_frame_equal(
        _sorted(engine.event_days(HAND, STEPS)),
        _sorted(engine.event_days(HAND, STEPS, engine=spark)),
    )


# --------------------------------------------------------------------------- the notebook


@pytest.mark.slow
def test_notebook_on_the_real_taobao_sample(tmp_path):
    from conftest import run_notebook

    metrics, error, out = run_notebook("behaviour", tmp_path, events="taobao", anonymize=True)
    assert error is None, error
    assert metrics["visitors"] == 815
    assert [s["visitors"] for s in metrics["funnel"]] == [813, 436, 175]
    assert metrics["overall_conversion"] == pytest.approx(175 / 813, abs=1e-4)
    assert 30 < metrics["median_time_to_convert_hours"] < 40
    assert metrics["multichannel_share"] is None  # Taobao has no channel
    carts = pd.read_csv(out / "abandoned_carts.csv")
    assert len(carts) > 500 and carts["customer_id"].str.startswith("C-").all()


@pytest.mark.slow
def test_notebook_without_events_is_not_applicable(tmp_path):
    from conftest import run_notebook

    from analysis.errors import is_not_applicable

    _, error, _ = run_notebook("behaviour", tmp_path)
    assert is_not_applicable(error) and "--events" in error


@pytest.mark.slow
def test_churn_lift_out_of_time_and_too_short_history(retail_sample):
    """Views placed before each real purchase day announce the purchase: behaviour must add
    out-of-time ROC-AUC; nine days of events must be reported as too short a history."""
    rng = np.random.default_rng(0)
    days = retail_sample.frame[["customer_id", "order_date"]].drop_duplicates()
    ahead = pd.to_timedelta(rng.integers(1, 20, (3, len(days))).ravel(), unit="D")
    views = pd.DataFrame(
        {
            "customer_id": np.tile(days["customer_id"].to_numpy(), 3),
            "event_time": np.tile(days["order_date"].to_numpy(), 3) - ahead,
            "event": "view",
        }
    )
    event_days = engine.event_days(views, STEPS)
    lift = behaviour.churn_lift(retail_sample, event_days, retail_sample.as_of)
    assert list(lift.table.index) == ["purchases only", "purchases + behaviour"]
    auc = lift.table["ROC-AUC"]
    assert auc["purchases + behaviour"] > auc["purchases only"] > 0.6
    assert "ROC-AUC" in lift.note
    recent = event_days[event_days["day"] > retail_sample.as_of - pd.Timedelta(days=9)]
    short = behaviour.churn_lift(retail_sample, recent, retail_sample.as_of)
    assert short.table is None and "history too short" in short.note
    none = behaviour.churn_lift(None, recent, retail_sample.as_of)
    assert "no purchase log" in none.note and re.search(r"cover only [89] days", none.note)


def test_funnel_by_channel_equals_the_count_inside_each_channel():
    log = HAND.assign(channel=np.where(np.arange(len(HAND)) % 3 == 0, "app", "web"))
    table = behaviour.funnel_by(log, STEPS, W / 3600, "any", "channel", min_visitors=1)
    for channel, part in log.groupby("channel"):
        expected = independent_funnel(part, STEPS, W, "any")
        assert table.loc[channel, ["entered", "cart", "purchase"]].tolist() == expected


def test_purchases_are_linked_only_when_they_share_customers_and_dates(retail_sample):
    class Both:
        transactions = retail_sample
        events = load_table("events", HAND)

    assert behaviour.inputs(Both()).transactions is None  # no shared customer
    ids = retail_sample.frame["customer_id"].iloc[:3].tolist()
    Both.events = load_table("events", HAND.assign(customer_id=ids * 7 + ids[:2]))
    linked = behaviour.inputs(Both())
    assert linked.transactions is None and "no dates" in linked.note  # 2024 vs 2011


def test_channel_report_on_real_purchases_with_channels(retail_sample):
    """Real purchases (some in store), web events for a third of the customers."""
    tx = retail_sample.frame
    ids = np.sort(tx["customer_id"].unique())
    store = set(ids[::2])
    shop = tx.assign(channel=np.where(tx["customer_id"].isin(store), "store", "web"))
    web_ids = ids[::3]
    events = pd.DataFrame(
        {"customer_id": web_ids, "event_time": retail_sample.as_of, "event": "view",
         "channel": "app"}
    )  # fmt: skip

    class Tx:
        frame, currency, as_of = shop, retail_sample.currency, retail_sample.as_of

    inputs = behaviour.Inputs(load_table("events", events), Tx(), retail_sample.as_of, "")
    channels = behaviour.channel_report(inputs, retention_days=90, min_visitors=1)
    both = store & set(web_ids)  # store buyers who also used the app
    assert (channels.mix["mix"] == "both").sum() == len(both)
    assert channels.mix.loc[ids[1], "mix"] == "online only"
    value, _ = channels.tables["Customers by channel mix"]
    assert value["customers"].sum() == len(ids)
    assert value.loc["both", "revenue"] == pytest.approx(
        shop.loc[shop["customer_id"].isin(both), "amount"].sum()
    )
    assert {"mean CLV", "retention"} <= set(value.columns)
    assert len(channels.tables) == 3  # mix, switching, funnel by channel
