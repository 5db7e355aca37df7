"""The SQL aggregations: hand-checked values, file == loader + pandas, Spark == DuckDB."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import engine
from analysis.data import load_transactions
from analysis.summary import calibration_holdout, customer_summary

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2024-03-31"  # about 65 weeks into the simulated log (starts 2023-01-02)

# a: two orders on 01-01 (merged), then 01-08 and 01-15; 02-02 in February.
# b: one purchase. c: bought 01-03, returned it 01-05 (net -8: not a purchase day).
# d: one order of two lines on 01-04, and 01-20 (after the mid-January cutoff).
# e: first purchase in February.
TINY = pd.DataFrame(
    {
        "customer_id": ["a", "a", "a", "a", "b", "c", "c", "d", "d", "d", "a", "e"],
        "order_date": pd.to_datetime(
            [
                "2024-01-01 09:00",
                "2024-01-01 17:00",
                "2024-01-08 10:00",
                "2024-01-15 23:59",
                "2024-01-10 12:00",
                "2024-01-03 08:00",
                "2024-01-05 08:00",
                "2024-01-04 11:00",
                "2024-01-04 11:00",
                "2024-01-20 11:00",
                "2024-02-02 10:00",
                "2024-02-03 10:00",
            ]
        ),
        "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 8.0, -8.0, 4.0, 6.0, 5.0, 12.0, 9.0],
        "order_id": ["1", "2", "3", "4", "5", "7", "C7", "8", "8", "11", "9", "10"],
    }
)


def _generate():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "benchmarks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def log_file(tmp_path_factory) -> Path:
    """A simulated raw log of 1,500 customers (with returns), as Parquet."""
    path = tmp_path_factory.mktemp("engine") / "log.parquet"
    _generate().generate(1500, path, seed=7)
    return path


@pytest.fixture(scope="module")
def clean(log_file):
    """The log cleaned by load_transactions, and the same clean rows as a Parquet file."""
    t = load_transactions(str(log_file), as_of=AS_OF)
    path = log_file.with_name("clean.parquet")
    t.frame.to_parquet(path, coerce_timestamps="us", allow_truncated_timestamps=True)
    return t, engine.Source(path=str(path), clean=False)


def test_tiny_summary_by_hand():
    s = engine.customer_summary(TINY, "2024-01-15")
    assert list(s.index) == ["a", "b", "c", "d"]
    assert s["frequency"].tolist() == [2, 0, 0, 0]
    assert s["recency"].tolist() == [2.0, 0.0, 0.0, 0.0]
    assert s["T"].tolist() == pytest.approx([2.0, 5 / 7, 12 / 7, 11 / 7])
    assert s["monetary_value"].tolist() == [30.0, 0.0, 0.0, 0.0]  # (20 + 40) / 2
    assert s["orders"].tolist() == [4, 1, 1, 1]  # d: one order of two lines
    assert s["revenue"].tolist() == [75.0, 7.0, 8.0, 10.0]
    assert s.loc["a", "avg_order_value"] == 18.75
    pd.testing.assert_frame_equal(s, customer_summary(TINY, "2024-01-15"))


def test_tiny_periods_and_cohorts_by_hand():
    months = engine.period_series(TINY, "M", "2024-02-29")
    assert list(months.index) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]
    assert months["revenue"].tolist() == [105.0, 21.0]  # c's returned day is not revenue
    assert months["orders"].tolist() == [8, 2]
    assert months["customers"].tolist() == [4, 2]
    assert months["new_customers"].tolist() == [4, 1]
    cohorts = engine.cohort_table(TINY, "M", "2024-02-29")
    assert cohorts[["customers", "revenue"]].values.tolist() == [[4, 105.0], [1, 12.0], [1, 9.0]]
    assert cohorts["cohort"].dt.month.tolist() == [1, 1, 2]
    assert cohorts["period"].dt.month.tolist() == [1, 2, 2]


def test_calibration_holdout_by_hand():
    c = engine.calibration_holdout(TINY, "2024-01-15", "2024-02-29")
    assert c["frequency_holdout"].tolist() == [1, 0, 0, 1]  # a on 02-02, d on 01-20
    assert c["revenue_holdout"].tolist() == [12.0, 0.0, 0.0, 5.0]
    assert c["duration_holdout"].iloc[0] == pytest.approx(45 / 7)
    assert "e" not in c.index  # first bought in the holdout


def test_csv_with_own_column_names_and_float_ids(tmp_path):
    raw = pd.DataFrame(
        {
            "CustomerID": [12345.0, 12345.0, None, 777.0],
            "InvoiceDate": ["2024-01-01 10:00", "2024-01-09 10:00", "2024-01-09", "2024-01-02"],
            "Total": [10.0, 30.0, 5.0, -2.0],
            "InvoiceNo": ["1", "2", "3", "C4"],
        }
    )
    path = tmp_path / "orders.csv"
    raw.to_csv(path, index=False)
    columns = {
        "customer_id": "CustomerID",
        "order_date": "InvoiceDate",
        "amount": "Total",
        "order_id": "InvoiceNo",
    }
    s = engine.customer_summary(engine.Source(path=str(path), columns=columns), "2024-01-09")
    assert list(s.index) == ["12345"]  # no id -> dropped; the cancellation -> dropped
    assert s.loc["12345", "frequency"] == 1
    assert s.loc["12345", "monetary_value"] == 30.0
    with pytest.raises(ValueError, match="customer_id"):
        engine.customer_summary(str(path), "2024-01-09")


def test_unknown_engine_and_period():
    with pytest.raises(ValueError, match="engine"):
        engine.customer_summary(TINY, "2024-01-15", engine="oracle")
    with pytest.raises(ValueError, match="freq"):
        engine.period_series(TINY, "fortnight")


def test_file_query_equals_pandas_frame(clean):
    """The SQL over a Parquet file == the summary of the same rows in memory."""
    t, source = clean
    from_file = engine.customer_summary(source, AS_OF)
    pd.testing.assert_frame_equal(
        from_file, customer_summary(t.frame, t.as_of), check_exact=False, rtol=1e-12
    )
    assert len(from_file) > 1000 and from_file["frequency"].sum() > 1000


def test_raw_file_cleaned_in_sql_as_the_loader_cleans_it(log_file, clean):
    """Reading the raw file, SQL applies the loader's default cleaning: the summary equals
    the one of load_transactions' frame, reversed purchases included."""
    t, _ = clean
    pd.testing.assert_frame_equal(
        engine.customer_summary(str(log_file), AS_OF),
        customer_summary(t.frame, AS_OF),
        check_exact=False,
        rtol=1e-12,
    )
    steps = dict(zip(t.log["step"], t.log["rows"], strict=True))
    assert steps["purchases reversed by a cancellation"] <= -20  # the rule had work to do
    # without the reversal join: only cancellations and non-positive lines go
    raw = pd.read_parquet(log_file)
    kept = raw.loc[(raw["amount"] > 0) & ~raw["order_id"].str.startswith("C")]
    plain = engine.customer_summary(engine.Source(path=str(log_file), reversals=False), AS_OF)
    pd.testing.assert_frame_equal(
        plain, customer_summary(kept, AS_OF), check_exact=False, rtol=1e-12
    )
    assert (
        plain["revenue"].sum() > t.frame.loc[t.frame["order_date"] < "2024-04-01", "amount"].sum()
    )


def test_reversal_rule_by_hand(tmp_path):
    """A cancellation reverses the latest earlier purchase of the same product and quantity;
    a partial return and a return of another product reverse nothing."""
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "b", "b"],
            "order_date": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-01-05",
                    "2024-01-06",
                    "2024-01-07",
                    "2024-01-02",
                    "2024-01-03",
                    "2024-01-04",
                ]
            ),
            "order_id": ["1", "2", "C3", "4", "5", "6", "C7"],
            "product_id": ["p", "p", "p", "q", "p", "p", "r"],
            "quantity": [2, 2, -2, 1, 5, 1, -5],
            "amount": [20.0, 20.0, -20.0, 7.0, 50.0, 10.0, -50.0],
        }
    )
    path = tmp_path / "raw.csv"
    raw.to_csv(path, index=False)
    s = engine.customer_summary(str(path), "2024-01-31")
    # a: order 2 (01-05) is reversed by C3, order 1 stays; b: C7 is product r, nothing goes
    assert s["revenue"].tolist() == [27.0, 60.0]
    assert s["purchase_days"].tolist() == [2, 2]
    loader = customer_summary(load_transactions(str(path)).frame, "2024-01-31")
    assert loader["revenue"].tolist() == [27.0, 60.0]


@pytest.mark.slow
def test_summary_matches_lifetimes_on_cdnow(cdnow):
    from lifetimes.utils import summary_data_from_transaction_data

    ours = engine.customer_summary(cdnow.frame, "1998-06-30", time_unit="D")
    theirs = summary_data_from_transaction_data(
        cdnow.frame, "customer_id", "order_date", "amount", observation_period_end="1998-06-30"
    ).reindex(ours.index)
    assert (ours["frequency"] == theirs["frequency"]).all()
    for col in ("recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[col], theirs[col], rtol=1e-13)


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    fast_start = {  # small data: skip the JIT's slow tiers and Spark's code generation
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
        "spark.sql.codegen.wholeStage": "false",
        "spark.sql.shuffle.partitions": "2",
    }
    session = engine.local_spark(cores=2, memory="1g", conf=fast_start)
    yield session
    session.stop()


def _assert_identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same index, same integers and dates; floats equal up to summation order."""
    assert a.index.equals(b.index)
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col]):
            np.testing.assert_allclose(a[col], b[col], rtol=1e-12, atol=1e-9, err_msg=col)
        else:
            assert (a[col].to_numpy() == b[col].to_numpy()).all(), col


@pytest.mark.xdist_group("spark")
@pytest.mark.slow
def test_spark_equals_duckdb_on_the_same_file(spark, clean, log_file):
    t, source = clean
    # the raw file, cleaned in SQL (cancellations and the purchases they reverse)
    _assert_identical(
        engine.customer_summary(str(log_file), AS_OF, engine=spark),
        engine.customer_summary(str(log_file), AS_OF),
    )
    on_spark = engine.customer_summary(source, AS_OF, engine=spark)
    _assert_identical(on_spark, engine.customer_summary(source, AS_OF))
    _assert_identical(on_spark, customer_summary(t.frame, t.as_of))
    cal = ("2023-12-31", AS_OF)
    _assert_identical(
        engine.calibration_holdout(source, *cal, engine=spark), calibration_holdout(t.frame, *cal)
    )


@pytest.mark.xdist_group("spark")
@pytest.mark.slow
def test_spark_on_a_pandas_frame(spark):
    _assert_identical(
        engine.customer_summary(TINY, "2024-01-15", engine=spark),
        engine.customer_summary(TINY, "2024-01-15"),
    )
    _assert_identical(
        engine.period_series(TINY, "W", "2024-02-29", engine=spark),
        engine.period_series(TINY, "W", "2024-02-29"),
    )
    _assert_identical(
        engine.cohort_table(TINY, "M", "2024-02-29", engine=spark).set_index(["cohort", "period"]),
        engine.cohort_table(TINY, "M", "2024-02-29").set_index(["cohort", "period"]),
    )


def test_summary_without_order_counts_is_the_same_summary(clean):
    """orders=False skips the per-order grouping; every other column is unchanged."""
    _, source = clean
    full = engine.customer_summary(source, AS_OF)
    lean = engine.customer_summary(source, AS_OF, orders=False)
    assert "orders" not in lean.columns and "avg_order_value" not in lean.columns
    pd.testing.assert_frame_equal(lean, full.drop(columns=["orders", "avg_order_value"]))
    assert (full["orders"] >= full["purchase_days"]).all()
    assert full["orders"].sum() > full["purchase_days"].sum()  # some days have two orders


@pytest.mark.xdist_group("spark")
@pytest.mark.slow
def test_data_can_name_a_spark_table(spark):
    """``spark:TABLE`` loads a table of the active session through the usual cleaning."""
    from analysis.data import DataError

    with engine._quiet_spark():
        frame = spark.createDataFrame(engine._spark_ready(TINY))
    frame.createOrReplaceTempView("tiny_orders")
    tx = load_transactions("spark:tiny_orders")
    expected = load_transactions(TINY)
    assert tx.source == "spark:tiny_orders" and tx.rows_in == len(TINY)
    pd.testing.assert_frame_equal(tx.frame, expected.frame, check_dtype=False)
    with pytest.raises(DataError, match="cannot read spark:no_such_table"):
        load_transactions("spark:no_such_table")


# --------------------------------------------------------------------------- feedback per customer


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_feedback_per_customer_spark_equals_duckdb(spark):
    feedback = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", None],
        "response_date": pd.to_datetime(["2024-01-02", "2024-02-01", "2024-01-05",
                                         "2024-03-01", "2024-01-01"]),
        "score": [3.0, 10.0, np.nan, 6.0, 9.0],
        "comment": ["slow", " ", "great", None, "x"],
    })  # fmt: skip
    duck = engine.feedback_per_customer(feedback, as_of="2024-02-15")
    on_spark = engine.feedback_per_customer(feedback, as_of="2024-02-15", engine=spark)
    pd.testing.assert_frame_equal(duck, on_spark, check_dtype=False)
    assert duck.loc["a"].to_dict() == {
        "responses": 2, "scored": 2, "mean_score": 6.5,
        "first_response": pd.Timestamp("2024-01-02"),
        "last_response": pd.Timestamp("2024-02-01"), "last_score": 10.0, "promoters": 1,
        "detractors": 1, "comments": 1,
    }  # fmt: skip
    assert list(duck.index) == ["a", "b"]
