"""The optional tables (customers, events, feedback, tickets) on the real built-ins."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.builtins import read_builtin
from analysis.cli import main
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
    with pytest.raises(DataError, match="if it is events data pass it with --events"):
        load_table("feedback", path)


def test_log_text_prints_every_table(olist):
    text = log_text(olist.feedback.log)
    assert "after as_of" in text and "-27" in text


# --------------------------------------------------------------------------- bad input, CLI

PURCHASES = "customer_id,order_id,order_date,amount\n" + "".join(
    f"{c},O{c}{m},2011-0{m}-1{c},{10 * c + m}.5\n" for c in range(1, 6) for m in range(1, 7)
)  # five customers, orders O11 .. O56, 2011-01-11 .. 2011-06-15


def _rows(*lines: str, header: str) -> str:
    return "\n".join([header, *lines]) + "\n"


def _feedback(scores, header="response_date,customer_id,score,comment", comment="ok") -> str:
    return _rows(
        *(f"2011-03-{1 + i % 28:02d},{1 + i % 5},{s},{comment}" for i, s in enumerate(scores)),
        header=header,
    )


EVENTS = _rows(
    "1,2011-06-01 10:00,view",
    "1,2011-06-01 10:05,add_to_cart",
    "2,2011-06-02 11:00,pv",
    "3,2011-06-03 12:00,buy",
    header="customer_id,event_time,event",
)

# id, table flag, file content, extra args, exit code, expected text, {step: rows} in the
# table's own log (or {"check: NAME": rows} among the cross-table checks)
TABLE_CASES = [
    (
        "feedback_missing_date",
        "feedback",
        "customer_id,score\n1,5\n",
        [],
        2,
        ["required column 'response_date' of the feedback table", "--column feedback."],
        {},
    ),
    (
        "feedback_no_score_no_comment",
        "feedback",
        "response_date,customer_id\n2011-03-01,1\n",
        [],
        2,
        ["'score or comment'"],
        {},
    ),
    (
        "unknown_scale",
        "feedback",
        _feedback([1, 2, 3]),
        ["--option", "feedback.scale=likert"],
        2,
        ["feedback scale 'likert' unknown", "nps"],
        {},
    ),
    (
        "score_11_on_nps",
        "feedback",
        _feedback([0, 5, 9, 10, 11]),
        ["--option", "feedback.scale=nps"],
        0,
        ["scale nps 0-10 (given)"],
        {"score outside the scale": -1},
    ),
    (
        "score_11_inferred_nps",
        "feedback",
        _feedback([i % 11 for i in range(60)] + [11]),
        [],
        0,
        ["scale nps 0-10 (inferred)"],
        {"score outside the scale": -1},
    ),
    (
        "custom_scale_range",
        "feedback",
        _feedback([1, 4, 7, 8]),
        ["--option", "feedback.scale=1-7"],
        0,
        ["scale 1-7 1-7 (given)"],
        {"score outside the scale": -1},
    ),
    (
        "scores_fit_no_scale",
        "feedback",
        _feedback([150, 300, 450, 990]),
        [],
        2,
        ["fit no known scale", "scale"],
        {},
    ),
    (
        "empty_comment_column",
        "feedback",
        _feedback([4, 5], comment=""),
        [],
        0,
        ["comment column empty"],
        {"comment column empty": 0, "rows kept": 2},
    ),
    (
        "empty_comment_and_no_score",
        "feedback",
        "response_date,comment\n2011-03-01,\n2011-03-02,\n",
        [],
        2,
        ["no score and no comment in any row"],
        {},
    ),
    (
        "score_text_cells",
        "feedback",
        _feedback([5, "good", 3]),
        [],
        0,
        ["score not a number"],
        {"score not a number (blanked)": 0, "rows kept": 3},
    ),
    (
        "feedback_unknown_customers",
        "feedback",
        _rows(
            "2011-03-01,1,5",
            "2011-03-02,98,4",
            "2011-03-03,99,1",
            header="response_date,customer_id,score",
        ),
        [],
        0,
        ["unknown customer"],
        {"check: unknown customer": 2},
    ),
    (
        "feedback_unknown_order",
        "feedback",
        _rows("2011-03-01,O11,5", "2011-03-02,X1,4", header="response_date,order_id,score"),
        [],
        0,
        ["unknown order"],
        {"check: unknown order": 1},
    ),
    (
        "feedback_after_as_of",
        "feedback",
        _feedback([5, 4]).replace("2011-03-02", "2011-07-02"),
        [],
        0,
        ["after as_of"],
        {"after as_of": -1, "check: dates after as_of": 1},
    ),
    ("events_file_as_feedback", "feedback", EVENTS, [], 2, ["pass it with --events"], {}),
    (
        "feedback_dates_unreadable",
        "feedback",
        _rows("soon,5", "later,4", header="response_date,score"),
        [],
        2,
        ["no usable rows left", "values look like 'soon'"],
        {},
    ),
    (
        "events_in_the_future",
        "events",
        EVENTS.replace("2011-06-01", "2031-06-01"),
        [],
        0,
        ["after as_of"],
        {"after as_of": -2, "check: dates after as_of": 2},
    ),
    (
        "events_all_in_the_future",
        "events",
        EVENTS.replace("2011-06-0", "2031-06-0"),
        [],
        2,
        ["after as_of: 4", "choose a later --as-of"],
        {},
    ),
    (
        "events_missing_event",
        "events",
        "customer_id,event_time\n1,2011-06-01\n",
        [],
        2,
        ["required column 'event' of the events table"],
        {},
    ),
    (
        "events_unix_ms",
        "events",
        _rows(
            "1,1307000000000,view", "2,1307000100000,cart", header="customer_id,event_time,event"
        ),
        [],
        0,
        ["Unix times (ms) read as UTC"],
        {"rows kept": 2},
    ),
    (
        "event_map_not_a_mapping",
        "events",
        EVENTS,
        ["--option", "events.event_map=5"],
        2,
        ["event_map must map raw event names"],
        {},
    ),
    (
        "event_map_given",
        "events",
        EVENTS,
        ["--option", 'events.event_map={"buy": "order"}'],
        0,
        ["buy->order", "add_to_cart->cart"],
        {"rows kept": 4},
    ),
    (
        "events_unknown_customers",
        "events",
        EVENTS.replace("\n3,", "\n77,"),
        [],
        0,
        ["unknown customer"],
        {"check: unknown customer": 1},
    ),
    (
        "events_unknown_timezone",
        "events",
        _rows("1,1307000000,view", header="customer_id,event_time,event"),
        ["--option", "events.timezone=Mars/Olympus"],
        2,
        ["timezone 'Mars/Olympus' unknown"],
        {},
    ),
    (
        "events_window_not_dates",
        "events",
        EVENTS,
        ["--option", 'events.window=["x", "y"]'],
        2,
        ["window ['x', 'y'] is not two dates"],
        {},
    ),
    (
        "events_duplicates_typo",
        "events",
        EVENTS,
        ["--option", "events.duplicates=dorp"],
        2,
        ["duplicates='dorp'", "use one of 'drop', 'keep'"],
        {},
    ),
    (
        "events_duplicate_rows",
        "events",
        EVENTS + "3,2011-06-03 12:00,buy\n",
        [],
        0,
        [],
        {"exact duplicate rows": -1, "rows kept": 4},
    ),
    (
        "customers_repeated_ids",
        "customers",
        "customer_id,region\n1,N\n1,S\n2,N\n",
        [],
        0,
        [],
        {"repeated customer id": -1, "rows kept": 2, "check: customers without purchases": 0},
    ),
    (
        "customers_personal_columns",
        "customers",
        "customer_id,email,region\n1,a@example.com,N\n2,b@example.com,S\n",
        [],
        0,
        ["personal-data columns removed"],
        {"rows kept": 2},
    ),
    (
        "customers_missing_id",
        "customers",
        "client,region\n1,N\n",
        [],
        2,
        ["required column 'customer_id' of the customers table", "--column customers.customer_id"],
        {},
    ),
    (
        "customers_signup_after_as_of",
        "customers",
        "customer_id,signup_date\n1,2010-01-01\n2,2012-01-01\n",
        [],
        0,
        [],
        {"after as_of": -1},
    ),
    (
        "tickets_closed_before_opened",
        "tickets",
        "customer_id,opened_at,closed_at\n1,2011-05-02,2011-05-01\n2,2011-05-02,2011-05-03\n",
        [],
        0,
        ["closed before opened"],
        {"rows kept": 2},
    ),
    (
        "tickets_missing_opened_at",
        "tickets",
        "customer_id,closed_at\n1,2011-05-01\n",
        [],
        2,
        ["required column 'opened_at' of the tickets table"],
        {},
    ),
    (
        "column_unknown_canonical",
        "feedback",
        _feedback([5]),
        ["--column", "feedback.stars=x"],
        2,
        ["'stars' is not a canonical column of feedback"],
        {},
    ),
    (
        "column_unknown_table",
        "feedback",
        _feedback([5]),
        ["--column", "survey.score=x"],
        2,
        ["names no table"],
        {},
    ),
    (
        "column_mapped_to_missing",
        "feedback",
        _feedback([5]),
        ["--column", "feedback.score=Rating"],
        2,
        ["column 'Rating' (for feedback.score) not found"],
        {},
    ),
    (
        "option_unknown",
        "feedback",
        _feedback([5]),
        ["--option", "feedback.scael=nps"],
        2,
        ["unknown option 'scael' for the feedback table"],
        {},
    ),
    (
        "option_unknown_table",
        "feedback",
        _feedback([5]),
        ["--option", "survey.scale=nps"],
        2,
        ["no table 'survey'"],
        {},
    ),
    ("table_file_missing", "feedback", None, [], 2, ["neither a file nor a built-in"], {}),
    (
        "table_header_only",
        "events",
        "customer_id,event_time,event\n",
        [],
        2,
        ["has a header but no rows"],
        {},
    ),
    ("table_empty_file", "tickets", "", [], 2, ["is empty"], {}),
]


def _section(stdout: str, table: str) -> dict[str, int]:
    """Log rows of one table (``{"check: NAME": rows}`` for the cross-table checks)."""
    rows: dict[str, int] = {}
    part = stdout.split(f"\n{table} ", 1)[-1].split("\ncross-table checks", 1)[0]
    for line in part.splitlines():
        m = re.match(r"^  (\S.*?)\s{2,}(-?[\d,]+)(\s|$)", line)
        if m:
            rows[m.group(1)] = int(m.group(2).replace(",", ""))
    checks = stdout.split("\ncross-table checks", 1)[-1] if "cross-table" in stdout else ""
    for line in checks.splitlines():
        m = re.match(rf"^  (\S.*?)\s{{2,}}{table}\s+(-?[\d,]+)", line)
        if m:
            rows[f"check: {m.group(1)}"] = int(m.group(2).replace(",", ""))
    return rows


def _cli(args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("name", "table", "content", "args", "code", "expected", "steps"),
    TABLE_CASES,
    ids=[c[0] for c in TABLE_CASES],
)
def test_bad_table_input_battery(tmp_path, name, table, content, args, code, expected, steps):
    log = tmp_path / "orders.csv"
    log.write_text(PURCHASES)
    path = tmp_path / f"{name}.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    got, out, err = _cli(["validate", "--data", log, f"--{table}", path, *args])
    assert got == code, (out, err)
    assert "Traceback" not in out + err
    if code == 2:
        assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
        for text in expected:
            assert text in err, err
    else:
        assert err == "", err
        for text in expected:
            assert text in out, out
        rows = _section(out, table)
        for step, n in steps.items():
            assert rows.get(step) == n, (step, rows)
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert after == before  # inputs are never modified


def test_table_battery_is_large_enough():
    assert len(TABLE_CASES) >= 20


def test_validate_without_a_purchase_log_and_from_a_sources_file(tmp_path):
    (tmp_path / "survey.csv").write_text(_feedback([9, 10, 3, 7], header="Date,CID,NPS,Text"))
    (tmp_path / "run.toml").write_text(
        'as_of = "2011-03-03"\n'
        '[feedback]\npath = "survey.csv"\n'
        'columns = {response_date = "Date", customer_id = "CID", score = "NPS", comment = "Text"}\n'
        'options = {scale = "nps"}\n'
    )
    code, out, err = _cli(["validate", "--sources", tmp_path / "run.toml"])
    assert (code, err) == (0, "")
    assert "no purchase log" in out and "scale nps 0-10 (given)" in out
    assert _section(out, "feedback")["after as_of"] == -1  # 2011-03-04 is after the cutoff
    code, out, err = _cli(["validate", "--sources", tmp_path / "run.toml", "--as-of", "2011-12-31"])
    assert _section(out, "feedback")["rows kept"] == 4  # the flag overrides the file
    (tmp_path / "bad.toml").write_text('[feedback]\nfile = "survey.csv"\n')
    code, out, err = _cli(["validate", "--sources", tmp_path / "bad.toml"])
    assert code == 2 and "[feedback] takes path, columns, options" in err


def test_validate_builtins_from_the_command_line():
    code, out, err = _cli(["validate", "--data", "olist"])
    assert (code, err) == (0, "")
    rows = _section(out, "feedback")
    assert rows["after as_of"] == -27 and rows["check: unknown order"] == 23
    code, out, err = _cli(["validate", "--events", "taobao"])
    assert (code, err) == (0, "")
    assert _section(out, "events")["outside the collection window"] == -35
    assert "events: view 75,837, cart 4,497, favourite 2,356, purchase 1,750" in out


def test_sources_file_maps_events_with_a_nested_event_map(tmp_path):
    (tmp_path / "clicks.csv").write_text(
        _rows("1,2011-06-01,page", "2,2011-06-02,basket", "9,2011-06-03,page", header="u,t,e")
    )
    (tmp_path / "orders.csv").write_text(PURCHASES)
    (tmp_path / "run.toml").write_text(
        '[data]\npath = "orders.csv"\n'
        '[events]\npath = "clicks.csv"\n'
        'columns = { customer_id = "u", event_time = "t", event = "e" }\n'
        'options = { event_map = { page = "view", basket = "cart" } }\n'
    )
    code, out, err = _cli(["validate", "--sources", tmp_path / "run.toml"])
    assert (code, err) == (0, "")
    assert "events: view 2, cart 1" in out
    assert _section(out, "events")["check: unknown customer"] == 1  # visitor 9 never bought


SHARED = Path("/work/shared/data")


@pytest.mark.skipif(not (SHARED / "olist_sample").is_dir(), reason="shared raw data absent")
def test_shipped_builtins_are_the_raw_files_joined_values_unchanged(tmp_path):
    from analysis.builtins import FILES, build_builtins

    written = build_builtins(SHARED, tmp_path)
    assert set(written) == set(FILES)
    for name, path in written.items():
        pd.testing.assert_frame_equal(pd.read_parquet(path), read_builtin(name))
