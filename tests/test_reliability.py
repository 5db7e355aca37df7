"""Reliability and safe sharing (issue 7).

1. Bad input: a battery of generated files, each through the real CLI. Every case
   either proceeds with a cleaning step counted in the log, or exits 2 with one line
   saying what is wrong and how to fix it; never a traceback; the input file is
   never modified.
2. Runs that survive faults: a failing notebook, SIGTERM/SIGINT mid-render,
   two concurrent runs, identical metrics for identical inputs, back-fill.
3. Safe sharing: every notebook present rendered with ``--anonymize`` on
   ``online_retail_sample`` (plus hostile text and personal-data columns), then
   every output file searched for raw ids, personal data, script and network loads.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from analysis import report
from analysis.cli import main, period_ends
from analysis.config import DATA_DIR
from analysis.data import ONLINE_RETAIL_COLUMNS, DataError, load_transactions

ANALYSIS = str(Path(sys.executable).with_name("analysis"))
KEY = "test-key-not-secret"


# --------------------------------------------------------------------------- helpers


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(args: list[str]) -> tuple[int, str, str, list]:
    """Run ``analysis ARGS`` in-process; return code, stdout, stderr and warnings raised."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        code = main([str(a) for a in args])
    ours = [w for w in caught if "analysis" in str(w.filename) or "pandas" in str(w.filename)]
    return code, out.getvalue(), err.getvalue(), ours


def log_rows(stdout: str) -> dict[str, int]:
    """Cleaning-log steps printed by ``analysis validate``: step -> rows."""
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"^  (\S.*?)\s{2,}(-?[\d,]+)(\s|$)", line)
        if m:
            rows[m.group(1)] = int(m.group(2).replace(",", ""))
    return rows


def csv_text(rows: list[tuple], header=("customer_id", "order_date", "amount")) -> str:
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    return "\n".join(lines) + "\n"


# five customers, two to three orders each, January to June 2011
BASE = [
    (c, f"2011-0{m}-{10 + c} 10:00", f"{10 * c + m}.50")
    for c in range(1, 6)
    for m in range(1, 7)
    if (c + m) % 2 == 0 or m == 1
]


def base_plus(*extra: tuple) -> str:
    return csv_text(BASE + list(extra))


# --------------------------------------------------------------------------- 1. bad input

# id, file name, content (str is written as UTF-8, bytes as they are, a callable gets
# the path), extra CLI args, expected exit code, expected text (stderr for 2, stdout
# for 0), expected cleaning-log rows {step: rows}
CASES = [
    (
        "missing_required_column",
        "a.csv",
        "customer_id,order_date\n1,2011-01-05\n",
        [],
        2,
        ["'amount'", "--column amount="],
        {},
    ),
    (
        "missing_date_column",
        "a.csv",
        "customer_id,amount\n1,3\n",
        [],
        2,
        ["'order_date'", "--column order_date="],
        {},
    ),
    (
        "column_mapped_to_missing_name",
        "a.csv",
        base_plus(),
        ["--column", "customer_id=Client"],
        2,
        ["'Client'", "not found", "available: customer_id"],
        {},
    ),
    (
        "foreign_names_mapped",
        "a.csv",
        csv_text(BASE, header=("Client", "Date", "Total")),
        [
            "--column",
            "customer_id=Client",
            "--column",
            "order_date=Date",
            "--column",
            "amount=Total",
        ],
        0,
        ["customers 5"],
        {"rows kept": len(BASE)},
    ),
    (
        "bad_column_syntax",
        "a.csv",
        base_plus(),
        ["--column", "customer_id"],
        2,
        ["CANONICAL=SOURCE"],
        {},
    ),
    (
        "unparseable_dates_some",
        "a.csv",
        base_plus((1, "not a date", 3), (2, "31/31/2011", 4)),
        [],
        0,
        [],
        {"unparseable order date": -2},
    ),
    (
        "unparseable_dates_all",
        "a.csv",
        csv_text([(1, "soon", 3), (2, "later", 4)]),
        [],
        2,
        ["no usable rows", "'soon'", "--date-format"],
        {},
    ),
    (
        "mixed_date_formats",
        "a.csv",
        csv_text([(1, "2011-01-05", 3), (2, "2011-01-06 10:00", 4), (3, "Jan 7 2011", 5)]),
        [],
        0,
        ["2011-01-05 to 2011-01-07"],
        {"dates in a second format": 0},
    ),
    (
        "dayfirst_detected",
        "a.csv",
        csv_text([(1, "13/01/2011", 3), (2, "05/02/2011", 4), (3, "28/02/2011", 5)]),
        [],
        0,
        ["2011-01-13 to 2011-02-28"],
        {"dates read day-first": 0},
    ),
    (
        "dayfirst_named_format",
        "a.csv",
        csv_text([(1, "03/04/2011", 3), (2, "05/04/2011", 4)]),
        ["--date-format", "%d/%m/%Y"],
        0,
        ["2011-04-03 to 2011-04-05"],
        {},
    ),
    (
        "dayfirst_flag",
        "a.csv",
        csv_text([(1, "03/04/2011", 3), (2, "05/04/2011", 4)]),
        ["--dayfirst"],
        0,
        ["2011-04-03 to 2011-04-05"],
        {},
    ),
    (
        "ambiguous_day_month_noted",
        "a.csv",
        csv_text([(1, "03/04/2011", 3), (2, "05/04/2011", 4)]),
        [],
        0,
        ["2011-03-04 to 2011-05-04"],
        {"day/month order ambiguous": 0},
    ),
    (
        "wrong_date_format_named",
        "a.csv",
        base_plus(),
        ["--date-format", "%d/%m/%Y"],
        2,
        ["unparseable order date", "--date-format"],
        {},
    ),
    (
        "orders_after_as_of",
        "a.csv",
        base_plus(),
        ["--as-of", "2011-03-31"],
        0,
        ["as_of 2011-03-31"],
        {"after as_of": -sum(r[1] > "2011-04" for r in BASE)},
    ),
    (
        "as_of_before_first_order",
        "a.csv",
        base_plus(),
        ["--as-of", "2010-06-30"],
        2,
        ["before the first order", "--as-of"],
        {},
    ),
    (
        "as_of_after_last_order",
        "a.csv",
        base_plus(),
        ["--as-of", "2011-12-31"],
        0,
        ["as_of 2011-12-31"],
        {"as_of after last order": 0},
    ),
    ("as_of_not_a_date", "a.csv", base_plus(), ["--as-of", "2011-13-45"], 2, ["YYYY-MM-DD"], {}),
    (
        "typo_date_far_in_future",
        "a.csv",
        base_plus((3, "2099-01-01", 9)),
        [],
        0,
        ["as_of 2011-06-14"],
        {"dates far from the rest": -1},
    ),
    (
        "placeholder_date_1900",
        "a.csv",
        base_plus((3, "1900-01-01", 9)),
        [],
        0,
        ["2011-01-11 to"],
        {"dates far from the rest": -1},
    ),
    ("empty_file", "a.csv", "", [], 2, ["empty"], {}),
    ("header_only", "a.csv", "customer_id,order_date,amount\n", [], 2, ["no rows"], {}),
    (
        "one_customer",
        "a.csv",
        csv_text([(7, "2011-01-05", 3), (7, "2011-02-05", 4)]),
        [],
        0,
        ["customers 1 "],
        {"rows kept": 2},
    ),
    (
        "all_one_time_buyers",
        "a.csv",
        csv_text([(c, f"2011-01-{c + 10}", 5) for c in range(9)]),
        [],
        0,
        ["customers 9 ", "orders 9 "],
        {},
    ),
    (
        "all_amounts_zero",
        "a.csv",
        csv_text([(1, "2011-01-05", 0), (2, "2011-01-06", "0.00")]),
        [],
        2,
        ["no usable rows", "zero or negative"],
        {},
    ),
    (
        "negative_amounts_and_cancellations",
        "a.csv",
        csv_text(
            [
                (1, "2011-01-05", "A1", 10),
                (1, "2011-01-06", "C1", -4),
                (2, "2011-01-07", "B2", -3),
                (2, "2011-01-08", "B3", 8),
            ],
            header=("customer_id", "order_date", "order_id", "amount"),
        ),
        [],
        0,
        ["revenue 18.00"],
        {"cancellations and returns": -2},
    ),
    (
        "returns_netted_on_request",
        "a.csv",
        csv_text(
            [(1, "2011-01-05", "A1", 10), (1, "2011-01-06", "C1", -4), (2, "2011-01-08", "B3", 8)],
            header=("customer_id", "order_date", "order_id", "amount"),
        ),
        ["--returns", "net"],
        0,
        ["revenue 14.00"],
        {"cancellations and returns kept": 0},
    ),
    (
        "amounts_as_text",
        "a.csv",
        'customer_id,order_date,amount\n1,2011-01-05,"£1,234.50"\n2,2011-01-06,$12.00\n'
        '3,2011-01-07,"1.234,50 €"\n4,2011-01-08,EUR 3\n',
        [],
        0,
        ["revenue 2,484.00"],
        {"amounts read from text": 0},
    ),
    (
        "blank_and_nan_ids",
        "a.csv",
        base_plus(("", "2011-01-05", 3), ("NaN", "2011-01-06", 4)),
        [],
        0,
        ["customers 5 "],
        {"missing customer id": -2},
    ),
    (
        "duplicate_rows",
        "a.csv",
        base_plus(BASE[0], BASE[1]),
        [],
        0,
        [],
        {"exact duplicate rows": -2, "rows kept": len(BASE)},
    ),
    (
        "latin1_encoding",
        "a.csv",
        "customer_id,order_date,amount,region\n1,2011-01-05,10,Zürich\n2,2011-01-06,11,Café\n".encode(
            "latin-1"
        ),
        [],
        0,
        ["optional columns: region"],
        {"rows kept": 2},
    ),
    ("utf8_bom", "a.csv", base_plus().encode("utf-8-sig"), [], 0, ["customers 5 "], {}),
    (
        "semicolon_comma_decimal",
        "a.csv",
        "customer_id;order_date;amount\n1;2011-01-05;12,50\n2;2011-01-06;3,00\n",
        [],
        0,
        ["revenue 15.50"],
        {},
    ),
    ("wrong_delimiter_named", "a.csv", base_plus(), ["--sep", ";"], 2, ["delimiter"], {}),
    (
        "ragged_lines",
        "a.csv",
        "customer_id,order_date,amount\n1,2011-01-05,3\n2,2011-01-06,4,x,y\n",
        [],
        2,
        ["cannot read", "line 3"],
        {},
    ),
    (
        "binary_garbage",
        "a.csv",
        bytes(np.random.default_rng(7).integers(0, 256, 4000, np.uint8)),
        [],
        2,
        ["cannot read"],
        {},
    ),
    (
        "unknown_encoding_named",
        "a.csv",
        base_plus(),
        ["--encoding", "klingon"],
        2,
        ["unknown encoding"],
        {},
    ),
    (
        "huge_outlier_order",
        "a.csv",
        base_plus((2, "2011-03-03", "99000000")),
        [],
        0,
        [],
        {"very large amounts (kept)": 0},
    ),
    (
        "one_day_history",
        "a.csv",
        csv_text([(c, f"2011-05-05 1{c}:00", 5 + c) for c in range(4)]),
        [],
        0,
        ["2011-05-05 to 2011-05-05", "as_of 2011-05-05"],
        {},
    ),
    (
        "ids_numeric_and_text",
        "a.csv",
        csv_text(
            [
                ("12345", "2011-01-05", 1),
                ("12345.0", "2011-01-06", 2),
                (" 12345 ", "2011-01-07", 3),
                ("A-17", "2011-01-08", 4),
                ("00123", "2011-01-09", 5),
                ("123", "2011-01-10", 6),
            ]
        ),
        [],
        0,
        ["customers 4 "],
        {},
    ),
    (
        "personal_data_columns",
        "a.csv",
        csv_text(
            [(1, "2011-01-05", 3, "a@x.org", "+44 1", "Ann Lee", "1 High St")],
            header=(
                "customer_id",
                "order_date",
                "amount",
                "email",
                "Phone",
                "Customer Name",
                "address",
            ),
        ),
        [],
        0,
        ["email (name), Phone (name), Customer Name (name), address (name)"],
        {"personal-data columns removed": 0},
    ),
    (
        "quantity_times_unit_price",
        "a.csv",
        csv_text(
            [(1, "2011-01-05", 2, "1.50"), (2, "2011-01-06", 3, "2")],
            header=("customer_id", "order_date", "quantity", "unit_price"),
        ),
        [],
        0,
        ["revenue 9.00"],
        {"amount derived": 0},
    ),
    ("file_not_found", None, None, [], 2, ["not found", "built-in"], {}),
    ("folder_instead_of_file", "", None, [], 2, ["is a folder"], {}),
    ("unknown_file_type", "a.json", '{"a": 1}', [], 2, ["unknown file type", ".csv"], {}),
    (
        "unknown_option_value",
        "a.csv",
        base_plus(),
        ["--returns", "bogus"],
        2,
        ["invalid choice"],
        {},
    ),
]


def _write_case(tmp_path: Path, name, content) -> Path:
    if name is None:
        return tmp_path / "nope.csv"
    if name == "":
        return tmp_path
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name, content, args, code, expected, steps",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_battery(tmp_path, name, content, args, code, expected, steps):
    path = _write_case(tmp_path, name, content)
    before = sha256(path) if path.is_file() else None
    got, out, err, caught = cli(["validate", "--data", path, *args])
    assert got == code, (out, err)
    assert "Traceback" not in out + err
    if code == 2:
        assert out == ""
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
        for text in expected:
            assert text in err, err
    else:
        assert err == "", err
        assert not caught, [str(w.message) for w in caught]  # no warnings for users to puzzle over
        for text in expected:
            assert text in out, out
        rows = log_rows(out)
        for step, n in steps.items():
            assert rows.get(step) == n, (step, rows)
    if before is not None:
        assert sha256(path) == before  # the input file is never modified


def test_battery_is_large_enough():
    assert len(CASES) >= 25


def test_battery_values_are_parsed_right(tmp_path):
    """What the battery's surviving cases produce, checked on the clean frame itself."""
    p = tmp_path / "dayfirst.csv"
    p.write_text(csv_text([(1, "13/01/2011", 3), (2, "05/02/2011", 4)]))
    tx = load_transactions(str(p))
    assert tx.frame["order_date"].tolist() == [
        pd.Timestamp("2011-01-13"),
        pd.Timestamp("2011-02-05"),
    ]

    p = tmp_path / "latin.csv"
    p.write_bytes(
        "customer_id,order_date,amount,region\n1,2011-01-05,10,Zürich\n".encode("latin-1")
    )
    assert load_transactions(str(p)).frame["region"].tolist() == ["Zürich"]

    p = tmp_path / "ids.csv"
    p.write_text(dict((c[0], c[2]) for c in CASES)["ids_numeric_and_text"])
    ids = load_transactions(str(p)).frame.groupby("customer_id").size().to_dict()
    assert ids == {"12345": 3, "A-17": 1, "00123": 1, "123": 1}

    p = tmp_path / "pii.csv"
    p.write_text(dict((c[0], c[2]) for c in CASES)["personal_data_columns"])
    tx = load_transactions(str(p))
    assert set(tx.frame.columns) == {"customer_id", "order_date", "amount", "order_id"}

    p = tmp_path / "future.csv"
    p.write_text(base_plus((3, "2099-01-01", 9)))
    tx = load_transactions(str(p))
    assert tx.as_of == pd.Timestamp("2011-06-14") and tx.frame["order_date"].max().year == 2011


def test_a_real_dataset_loses_nothing_to_the_new_checks(retail_sample):
    steps = dict(zip(retail_sample.log["step"], retail_sample.log["rows"], strict=False))
    assert "dates far from the rest" not in steps or steps["dates far from the rest"] == 0
    assert retail_sample.as_of == pd.Timestamp("2011-12-09")


def test_excel_and_parquet_inputs(tmp_path):
    frame = pd.DataFrame(
        {
            "Client": [1, 2, 2],
            "When": pd.to_datetime(["2011-01-05", "2011-01-06", "2011-02-06"]),
            "Total": [3.0, 4.0, 5.0],
        }
    )
    xlsx = tmp_path / "export.xlsx"
    frame.to_excel(xlsx, index=False)
    pq = tmp_path / "export.parquet"
    frame.assign(When=frame["When"].dt.tz_localize("Europe/London")).to_parquet(pq)
    for path in (xlsx, pq):
        code, out, err, _ = cli(
            [
                "validate",
                "--data",
                path,
                "--column",
                "customer_id=Client",
                "--column",
                "order_date=When",
                "--column",
                "amount=Total",
            ]
        )
        assert code == 0, err
        assert "customers 2 " in out and "revenue 12.00" in out


@pytest.mark.parametrize(
    "args, expected",
    [
        (["validate", "--data", "{missing}"], "--column amount="),
        (["validate", "--data", "{empty}"], "empty"),
        (
            ["report", "--data", "{good}", "--as-of", "1999-01-01", "--notebooks", "overview"],
            "before the first order",
        ),
        (["report", "--data", "{good}", "--notebooks", "nosuch"], "choose from"),
        (["report", "--data", "{good}", "--param", "no_such_param=3"], "not a parameter"),
        (["report", "--data", "{good}", "--param", "holdout_day=3"], "did you mean holdout_days?"),
        (["report", "--data", "{good}", "--param", "holdout"], "e.g. --param holdout_days=60"),
    ],
    ids=[
        "missing_column",
        "empty_file",
        "report_bad_as_of",
        "unknown_notebook",
        "unknown_param",
        "param_typo",
        "param_not_key_value",
    ],
)
def test_true_exit_code_and_no_traceback_from_the_console_script(tmp_path, args, expected):
    files = {"missing": tmp_path / "m.csv", "empty": tmp_path / "e.csv", "good": tmp_path / "g.csv"}
    files["missing"].write_text("customer_id,order_date\n1,2011-01-05\n")
    files["empty"].write_text("")
    files["good"].write_text(base_plus())
    argv = [a.format(**files) for a in args]
    proc = subprocess.run([ANALYSIS, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr


def test_a_closed_pipe_ends_quietly():
    """``analysis validate ... | head -1`` printed "error: BrokenPipeError"."""
    proc = subprocess.run(
        f"'{ANALYSIS}' validate --data online_retail_sample | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.startswith("online_retail_sample: 31,583 rows read")
    assert proc.stdout.count("\n") == 1 and proc.stderr == ""


# one_day_history is also "every customer a one-time buyer"
@pytest.mark.slow
@pytest.mark.parametrize("case", ["one_customer", "one_day_history"])
def test_degenerate_data_still_renders_the_overview(tmp_path, case):
    _, name, content, *_ = next(c for c in CASES if c[0] == case)
    path = _write_case(tmp_path, name, content)
    before = sha256(path)
    code, out, err, _ = cli(
        [
            "report",
            "--data",
            path,
            "--notebooks",
            "overview",
            "--out",
            tmp_path / "out",
            "--jobs",
            "1",
        ]
    )
    assert code == 0, err
    (period,) = [
        p for p in (tmp_path / "out").iterdir() if p.is_dir() and not p.name.startswith(".")
    ]
    run = json.loads((period / "run.json").read_text())
    assert run["notebooks"]["overview"]["status"] == "ok"
    assert (period / "00_overview.html").stat().st_size > 10_000
    assert sha256(path) == before


@pytest.mark.slow
def test_every_notebook_survives_a_log_without_repeat_buyers(tmp_path):
    """80 customers who each bought once over a year: no repeat-purchase model can be
    fitted. Every notebook must still render and say so in words, not crash the report."""
    rng = np.random.default_rng(3)
    days = pd.Timestamp("2011-01-03") + pd.to_timedelta(rng.integers(0, 365, 80), unit="D")
    frame = pd.DataFrame(
        {
            "customer_id": [f"K{i:03d}" for i in range(80)],
            "order_date": days.strftime("%Y-%m-%d"),
            "order_id": [f"O{i}" for i in range(80)],
            "product_id": rng.choice(["P1", "P2", "P3", "P4"], 80),
            "region": rng.choice(["France", "Spain"], 80),
            "amount": rng.gamma(2.0, 20.0, 80).round(2),
        }
    )
    path = tmp_path / "one_time.csv"
    frame.to_csv(path, index=False)
    code, out, err, _ = cli(["report", "--data", path, "--out", tmp_path / "out", "--jobs", "2"])
    (run_file,) = (tmp_path / "out").glob("20*/run.json")
    run = json.loads(run_file.read_text())
    failed = {k: v["error"] for k, v in run["notebooks"].items() if v["status"] == "failed"}
    assert code == 0 and failed == {}, (failed, err)
    assert len(run["notebooks"]) == len(report.notebook_paths())
    # an analysis that needs repeat buyers stops early and says why in its report
    stopped = [k for k, v in run["notebooks"].items() if v["status"] == "not applicable"]
    for name in stopped:
        (page,) = run_file.parent.glob(f"*_{name}.html")
        assert "This analysis cannot run on this data." in page.read_text()


def test_churn_models_fit_on_a_short_history_with_sparse_features():
    """Issue 20: churn for 2011-04-30 on the sample crashed with "window shape cannot be
    larger than input array shape": 69 customers at the training cutoff, the spread of
    gaps known for 5 of them, so a calibration fold held none. Same shape here."""
    from analysis import churn

    rng = np.random.default_rng(0)
    n = 69
    X = pd.DataFrame(
        {
            "recency_days": rng.integers(0, 150, n).astype(float),
            "orders": rng.integers(1, 8, n).astype(float),
            "revenue": rng.gamma(2, 100, n),
        }
    )
    X["gap_std"] = np.nan
    X.loc[rng.choice(n, 5, replace=False), "gap_std"] = rng.gamma(2, 5, 5)
    y = pd.Series((X["recency_days"] + rng.normal(0, 40, n) > 60).astype(int))
    assert y.value_counts().to_dict() == {1: 38, 0: 31}  # the sample that day: 39 and 30
    for seed in range(5):  # seed 2 crashed before the fix
        fit = churn.fit_models(X, y, seed=seed)
        assert fit.features == ["recency_days", "orders", "revenue"] and fit.chosen
        p = churn.predict(fit.models[fit.chosen], X, fit.features)
        assert len(p) == n and np.isfinite(p).all()


# --------------------------------------------------------------------------- 2. faults

COMMON = """data: str = "online_retail"  # data
as_of: "Optional[str]" = None  # cutoff
columns: dict = {}  # column map
anonymize: bool = False  # pseudonymise
output_dir: "Optional[str]" = None  # output
data_options: dict = {}  # options
tag: str = "A"  # which run wrote this
sleep: float = 0.0  # seconds to wait before finishing"""


def make_notebook(folder: Path, name: str, body: str) -> Path:
    """A tiny notebook with the common parameters cell, then ``body``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(COMMON)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


OK_BODY = """import time
from pathlib import Path
from analysis import report
if output_dir:
    Path(output_dir, "started-" + tag).write_text("x")
time.sleep(sleep)
report.record_metrics("fine", {"as_of": as_of, "tag": tag, "answer": 42}, output_dir)
out = report.export_path(output_dir, f"export-{tag}.csv")
if out:
    out.write_text("a,b\\n1,2\\n")
print("fine done")"""

FAIL_BODY = """raise ValueError("boom: the model cannot be fitted")"""


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    return [
        str(p.relative_to(out))
        for p in out.rglob("*")
        if p.name.startswith((".staging-", ".trash-")) or p.name.endswith(".tmp")
    ]


@pytest.mark.slow
def test_a_failing_notebook_does_not_sink_the_run(tmp_path):
    nbs = tmp_path / "nbs"
    make_notebook(nbs, "00_fine", OK_BODY)
    make_notebook(nbs, "01_failing", FAIL_BODY)
    (nbs / "02_corrupt.ipynb").write_text("{ this is not a notebook")
    out = tmp_path / "out"
    code, stdout, err, _ = cli(
        ["report", "--data", "online_retail_sample", "--notebooks-dir", nbs, "--out", out]
    )
    assert code == 1
    assert "FAILED failing (2011-12-09): ValueError: boom: the model cannot be fitted" in err
    assert "Traceback" not in err
    period = out / "2011-12-09"
    html = (period / "01_failing.html").read_text()
    assert "boom: the model cannot be fitted" in html  # the error is visible in its HTML
    assert (period / "00_fine.html").exists() and (period / "export-A.csv").exists()
    metrics = json.loads((period / "metrics.json").read_text())
    assert metrics["fine"]["answer"] == 42 and metrics["failing"] is None
    run = json.loads((period / "run.json").read_text())
    assert run["notebooks"]["failing"]["status"] == "failed"
    assert run["notebooks"]["fine"]["status"] == "ok"
    assert run["notebooks"]["corrupt"]["status"] == "failed" and "FAILED corrupt" in err
    index = (out / "index.html").read_text()
    assert "failing (failed)" in index and "boom" in index
    assert "corrupt (failed)" in index  # listed even without an HTML


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, jobs", [(signal.SIGTERM, 2), (signal.SIGINT, 1)], ids=["term", "int"]
)
def test_an_interrupted_run_keeps_the_previous_report(tmp_path, sig, jobs):
    nbs = tmp_path / "nbs"
    make_notebook(nbs, "00_fine", OK_BODY)
    make_notebook(nbs, "01_slow", OK_BODY.replace('"fine"', '"slow"'))
    out = tmp_path / "out"
    base = ["report", "--data", "online_retail_sample", "--notebooks-dir", nbs, "--out", out]
    code, _, err, _ = cli([*base, "--notebooks", "fine"])
    assert code == 0, err
    previous = snapshot(out / "2011-12-09")
    proc = subprocess.Popen(
        [ANALYSIS, *map(str, base), "--param", "sleep=60", "--param", "tag=B", "--jobs", str(jobs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 90
        while not list(out.glob(".staging-*/**/started-B")):
            assert proc.poll() is None and time.time() < deadline, proc.communicate()
            time.sleep(0.2)
        time.sleep(0.5)  # mid-render: a kernel is sleeping inside a notebook
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "previous report" in err
    time.sleep(1.5)  # nothing may still be writing (kernels are stopped)
    assert snapshot(out / "2011-12-09") == previous
    assert leftovers(out) == []


@pytest.mark.slow
def test_two_runs_for_the_same_period_cannot_mix(tmp_path):
    nbs = tmp_path / "nbs"
    make_notebook(nbs, "00_fine", OK_BODY)
    out = tmp_path / "out"
    procs = [
        subprocess.Popen(
            [
                ANALYSIS,
                "report",
                "--data",
                "online_retail_sample",
                "--notebooks-dir",
                str(nbs),
                "--out",
                str(out),
                "--param",
                f"tag={tag}",
                "--param",
                f"sleep={sleep}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag, sleep in (("A", 1.0), ("B", 1.2))
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    period = out / "2011-12-09"
    metrics = json.loads((period / "metrics.json").read_text())
    run = json.loads((period / "run.json").read_text())
    tag = run["parameters"]["tag"]
    assert metrics["fine"]["tag"] == tag  # one run's files only, never a mix
    assert sorted(p.name for p in period.glob("export-*.csv")) == [f"export-{tag}.csv"]
    assert sorted(p.name for p in period.iterdir() if not p.name.startswith("started-")) == [
        "00_fine.html",
        "00_fine.ipynb",
        f"export-{tag}.csv",
        "metrics.json",
        "run.json",
    ]
    assert leftovers(out) == []
    assert "2011-12-09/00_fine.html" in (out / "index.html").read_text()


@pytest.mark.slow
def test_backfill_one_report_per_month_end_skips_existing(tmp_path):
    nbs = tmp_path / "nbs"
    make_notebook(nbs, "00_fine", OK_BODY)
    out = tmp_path / "out"
    args = [
        "report",
        "--data",
        "online_retail_sample",
        "--notebooks-dir",
        nbs,
        "--out",
        out,
        "--from",
        "2011-10",
        "--to",
        "2012-01",
        "--every",
        "month",
    ]
    code, stdout, err, _ = cli(args)
    assert code == 0, err
    periods = ["2011-10-31", "2011-11-30", "2011-12-09"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and p.name[0] != ".") == periods
    for period in periods:
        assert json.loads((out / period / "metrics.json").read_text())["fine"]["as_of"] == period
    index = (out / "index.html").read_text()
    assert all(f"{p}/00_fine.html" in index for p in periods)

    before = snapshot(out / "2011-10-31")
    code, stdout, err, _ = cli(args)
    assert code == 0 and stdout.count("report complete, skipped") == 3
    assert snapshot(out / "2011-10-31") == before
    code, stdout, err, _ = cli(
        [*args[:-6], "--from", "2011-10", "--to", "2011-10", "--force", "--param", "tag=B"]
    )
    assert code == 0, err
    assert json.loads((out / "2011-10-31" / "metrics.json").read_text())["fine"]["tag"] == "B"


EXPORT_BODY = """from analysis import report
report.record_metrics("{name}", {{"tag": tag, "rows": 3}}, output_dir)
for filename in {exports}:
    out = report.export_path(output_dir, filename)
    if out:
        out.write_text(tag + ",{name}\\n")"""


def _set_of_notebooks(folder: Path, exports: dict[str, list[str]]) -> None:
    for i, (name, files) in enumerate(exports.items()):
        make_notebook(folder, f"{i:02d}_{name}", EXPORT_BODY.format(name=name, exports=files))


@pytest.mark.slow
def test_rendering_one_notebook_again_keeps_every_other_report_unchanged(tmp_path):
    """Issue 20: ``--notebooks first --force`` used to delete the period's other reports."""
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    _set_of_notebooks(nbs, {"first": ["a.csv", "old.csv"], "second": ["b.csv"], "third": []})
    base = ["report", "--data", "online_retail_sample", "--notebooks-dir", nbs, "--out", out]
    code, _, err, _ = cli([*base, "--jobs", "2"])
    assert code == 0, err
    period = out / "2011-12-09"
    before = snapshot(period)
    assert {"00_first.html", "01_second.html", "02_third.html", "b.csv", "old.csv"} <= set(before)
    # the first notebook changes: it no longer writes old.csv, and is rendered alone
    _set_of_notebooks(nbs, {"first": ["a.csv"], "second": ["b.csv"], "third": []})
    code, _, err, _ = cli([*base, "--notebooks", "first", "--force", "--param", "tag=B"])
    assert code == 0, err
    after = snapshot(period)
    others = [f for f in before if not f.startswith("00_first") and f not in _RECORDS]
    assert {f: after.get(f) for f in others if f not in ("a.csv", "old.csv")} == {
        f: before[f] for f in others if f not in ("a.csv", "old.csv")
    }  # byte-identical
    assert (period / "a.csv").read_text() == "B,first\n" and "old.csv" not in after
    metrics = json.loads((period / "metrics.json").read_text())
    assert metrics["first"]["tag"] == "B" and metrics["second"]["tag"] == "A"
    assert metrics["third"] == {"tag": "A", "rows": 3}
    run = json.loads((period / "run.json").read_text())
    assert list(run["notebooks"]) == ["first", "second", "third"]
    assert run["notebooks"]["second"]["files"] == ["01_second.ipynb", "01_second.html", "b.csv"]
    index = (out / "index.html").read_text()
    assert all(f"2011-12-09/0{i}_{n}.html" in index for i, n in enumerate(["first", "second"]))
    assert leftovers(out) == []


_RECORDS = ("metrics.json", "run.json")


@pytest.mark.slow
def test_backfill_completes_partial_periods_and_keeps_other_data_apart(tmp_path):
    """A period holding one notebook is completed (not skipped); a period rendered from
    another data source is neither skipped nor mixed: it gets its own folder."""
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    _set_of_notebooks(nbs, {"first": ["a.csv"], "second": ["b.csv"]})
    base = ["report", "--notebooks-dir", nbs, "--out", out]
    code, _, err, _ = cli([*base, "--data", "online_retail", "--as-of", "2011-11-30"])
    assert code == 0, err
    built_in = snapshot(out / "2011-11-30")
    sample = ["--data", "online_retail_sample", "--from", "2011-11", "--to", "2011-12"]
    code, _, err, _ = cli([*base, *sample, "--notebooks", "first"])
    assert code == 0, err
    code, stdout, err, _ = cli([*base, *sample])
    assert code == 0, err
    assert "1 of 2 notebooks already rendered" in stdout and "skipped" not in stdout
    assert snapshot(out / "2011-11-30") == built_in  # the built-in's report is untouched
    folders = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name[0] != ".")
    (keyed,) = [f for f in folders if f.startswith("2011-11-30_")]
    assert keyed.startswith("2011-11-30_online-retail-sample-") and "2011-12-09" in folders
    for folder in (keyed, "2011-12-09"):
        run = json.loads((out / folder / "run.json").read_text())
        assert run["source"] == {"data": "online_retail_sample"}
        assert {n: s["status"] for n, s in run["notebooks"].items()} == {
            "first": "ok",
            "second": "ok",
        }
    code, stdout, err, _ = cli([*base, *sample])
    assert code == 0 and stdout.count("report complete, skipped") == 2, stdout
    index = (out / "index.html").read_text()
    assert (
        "Headline metrics: online_retail_sample" in index
        and "Headline metrics: online_retail<" in index
    )
    assert f"{keyed}/00_first.html" in index


def test_period_ends_and_backfill_usage_errors():
    first, last = pd.Timestamp("2010-12-01 08:26"), pd.Timestamp("2011-12-09")
    assert period_ends("2010-11", "2011-02", "month", first, last) == [
        "2010-12-31",
        "2011-01-31",
        "2011-02-28",
    ]
    assert period_ends("2011-01", "2011-12", "quarter", first, last) == [
        "2011-03-31",
        "2011-06-30",
        "2011-09-30",
        "2011-12-09",
    ]
    assert period_ends("2011-11-21", "2011-12-31", "week", first, last)[-2:] == [
        "2011-12-04",
        "2011-12-09",
    ]
    for args, text in [
        (["--from", "2011-05"], "both --from"),
        (["--from", "May", "--to", "2011-06"], "YYYY-MM"),
        (["--from", "2011-06", "--to", "2011-05"], "swap"),
        (["--from", "2011-01", "--to", "2011-02", "--as-of", "2011-03-01"], "exclude each other"),
        (["--from", "2001-01", "--to", "2001-02"], "no period"),
    ]:
        code, _, err, _ = cli(
            ["report", "--data", "online_retail_sample", "--notebooks", "overview", *args]
        )
        assert code == 2 and text in err and len(err.strip().splitlines()) == 1, err


# --------------------------------------------------------------------------- 3. safe sharing

XSS_REGION = "<script>alert(1)</script>"
XSS_PRODUCT = "<img src=x onerror=alert(2)>"
XSS_NAME = "<script>alert(3)</script> Heart T-Light"


def _render_shared(root: Path) -> dict:
    """Write the hostile copy of the sample into ``root`` and render every notebook."""
    raw = pd.read_csv(DATA_DIR / "online_retail_sample.csv", dtype=str, keep_default_na=False)
    has_id = raw["CustomerID"].str.strip() != ""
    raw.loc[has_id, "CustomerID"] = "990" + raw.loc[has_id, "CustomerID"].str.strip()
    raw["Country"] = raw["Country"].replace({"United Kingdom": XSS_REGION})
    top_product = raw["StockCode"].value_counts().index[0]
    raw.loc[raw["StockCode"] == top_product, "Description"] = XSS_NAME
    raw["StockCode"] = raw["StockCode"].replace({top_product: XSS_PRODUCT})
    raw["Email"] = "shopper" + raw["CustomerID"] + "@example.com"
    raw["Phone"] = "+44 20 7946 " + raw["CustomerID"].str[-4:]
    raw["Customer Name"] = "Jane Q. Publicperson"
    data = root / "retail.csv"
    raw.to_csv(data, index=False)
    columns = [a for k, v in ONLINE_RETAIL_COLUMNS.items() for a in ("--column", f"{k}={v}")]
    args = ["report", "--data", data, *columns, "--anonymize", "--out", root / "out", "--jobs", "2"]
    old = os.environ.get("ANALYSIS_ID_KEY")
    os.environ["ANALYSIS_ID_KEY"] = KEY
    try:
        code, stdout, err, _ = cli(args)
    finally:
        if old is None:
            os.environ.pop("ANALYSIS_ID_KEY", None)
        else:
            os.environ["ANALYSIS_ID_KEY"] = old
    (period,) = [p for p in (root / "out").iterdir() if p.is_dir() and not p.name.startswith(".")]
    return {
        "code": code,
        "err": err,
        "period": str(period),
        "ids": sorted(set(raw.loc[has_id, "CustomerID"])),
        "args": [str(a) for a in args],
    }


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """Every notebook present, rendered with --anonymize on online_retail_sample.

    The sample is copied with three changes: (1) ids become distinctive 8-digit numbers
    (``990`` + the 5-digit id) so that a leak cannot be confused with a count or an
    amount that happens to equal a 5-digit id (rows_clean, quantities, revenue in the
    12,346-18,287 range do occur); they stay numeric-looking so numeric-id code paths
    run; (2) hostile text: the largest country is renamed to a script tag and the
    most frequent product code to an ``onerror`` image tag; (3) personal-data columns
    (email, phone, name) are added.

    Rendered once per test session, also under pytest-xdist: the first worker renders
    under a file lock in the session's shared temporary folder, the other reads its
    result (xdist_group/loadgroup does not keep tests together with pytest 9.2).
    """
    base = tmp_path_factory.getbasetemp()
    shared_tmp = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared_tmp / "reliability-shared"
    with open(shared_tmp / "reliability-shared.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "result.json"
        if not done.exists():
            root.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps(_render_shared(root)))
    info = json.loads(done.read_text())
    return {**info, "period": Path(info["period"]), "root": root}


def output_files(period: Path) -> list[Path]:
    files = [p for p in period.rglob("*") if p.is_file()]
    files.append(period.parent / "index.html")
    return files


def readable_text(path: Path) -> str:
    """A file's text without embedded images (base64 may contain any digit run)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    text = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", text)
    return re.sub(r'"image/(png|jpeg)": "[A-Za-z0-9+/=\\n]+"', "", text)


@pytest.mark.slow
def test_every_notebook_renders_on_the_shared_data(shared):
    names = sorted(report.short_name(p) for p in report.notebook_paths())
    run = json.loads((shared["period"] / "run.json").read_text())
    assert sorted(run["notebooks"]) == names
    # a notebook whose table is absent (behaviour without --events) is "not applicable"
    done = ("ok", "not applicable")
    failed = {k: v["error"] for k, v in run["notebooks"].items() if v["status"] not in done}
    assert shared["code"] == 0 and not failed, (failed, shared["err"])
    for name in run["notebooks"]:
        (html,) = shared["period"].glob(f"*_{name}.html")
        assert "Traceback" not in readable_text(html)


@pytest.mark.slow
def test_anonymized_outputs_hold_no_raw_customer_id(shared):
    """Each raw id, as a whole token (not inside a longer number, word or decimal), in
    every output: HTML, ipynb, CSV exports, metrics.json, run.json and index.html."""
    ids = shared["ids"]
    pattern = re.compile(r"(?<![\w.])(" + "|".join(ids) + r")(?![\w]|\.\d)")
    files = output_files(shared["period"])
    assert any(p.suffix == ".html" for p in files) and any(p.name == "metrics.json" for p in files)
    hits = {}
    for path in files:
        found = pattern.findall(readable_text(path))
        if found:
            hits[path.name] = sorted(set(found))[:5]
    assert hits == {}
    # and the pseudonyms are there: the keyed hash of a real customer appears in some output
    from analysis.privacy import pseudonymize

    pseudo = set(pseudonymize(pd.Series(ids), KEY.encode()))
    seen = set()
    for path in files:
        seen |= pseudo & set(re.findall(r"C-[0-9a-f]{12}", readable_text(path)))
    if any(p.suffix == ".csv" for p in files) or len(report.notebook_paths()) > 1:
        assert seen, "no pseudonymised id in any output: are ids shown at all?"


@pytest.mark.slow
def test_personal_data_is_never_printed(shared):
    for path in output_files(shared["period"]):
        text = readable_text(path)
        assert "@example.com" not in text and "Publicperson" not in text, path.name
        assert "+44 20 7946" not in text, path.name


class _ActiveContent(HTMLParser):
    """Collects what a browser would run or load from an HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        for name, value in attrs:
            value = (value or "").strip().lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("src", "href", "action") and value.startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")
            if tag != "a" and name == "src" and not value.startswith("data:"):
                self.found.append(f"<{tag} src={value[:40]}>")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and "alert(" in data:
            self.found.append(f"<script>{data.strip()[:40]}")


def active_content(html: str) -> list[str]:
    parser = _ActiveContent()
    parser.feed(html)
    return parser.found


@pytest.mark.slow
def test_text_from_the_data_is_escaped(shared):
    """No script, event handler or loaded media from the data in any notebook's HTML;
    the hostile country name shows as text in the overview's country table."""
    for path in shared["period"].glob("*.html"):
        assert active_content(path.read_text(encoding="utf-8")) == [], path.name
    overview = (shared["period"] / "00_overview.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in overview  # shown as text


@pytest.mark.slow
def test_reports_load_nothing_from_the_network(shared):
    remote = re.compile(
        r"<(script|link|img|iframe|source|video|audio)\b[^>]*\s(src|href)\s*=\s*[\"']?(https?:)?//"
        r"|@import|url\(\s*[\"']?(https?:)?//",
        re.I,
    )
    for path in [*shared["period"].glob("*.html"), shared["period"].parent / "index.html"]:
        text = readable_text(path)
        assert not remote.search(text), (path.name, remote.search(text).group(0))


def differences(a, b, path="") -> list[str]:
    """Where two metrics trees differ; floats may differ by 1e-9 relative (the order
    of floating-point sums in threaded numeric libraries is not fixed; a seed is)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        return [] if np.isclose(a, b, rtol=1e-9, atol=0) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.slow
def test_same_inputs_give_identical_metrics(shared):
    """A second render with the same inputs: overview plus every notebook that has a
    ``seed`` parameter (where randomness lives); the others are plain aggregations."""
    seeded = [
        report.short_name(p)
        for p in report.notebook_paths()
        if "seed" in report.notebook_parameters(p)
    ]
    args = list(shared["args"])
    out = shared["root"] / "again"
    args[args.index("--out") + 1] = out
    args += ["--notebooks", "overview", *seeded]
    os.environ["ANALYSIS_ID_KEY"] = KEY
    try:
        code, _, err, _ = cli(args)
    finally:
        os.environ.pop("ANALYSIS_ID_KEY", None)
    assert code == shared["code"], err
    first = json.loads((shared["period"] / "metrics.json").read_text())
    second = json.loads((out / shared["period"].name / "metrics.json").read_text())
    assert sorted(second) == sorted(["overview", *seeded])
    assert differences({k: first[k] for k in second}, second) == []
    # and bit for bit: sums are exact (DECIMAL) in the engine, seeds fixed everywhere
    assert {k: first[k] for k in second} == second


@pytest.mark.slow
def test_one_notebook_again_with_force_leaves_every_other_report_and_export_unchanged(
    shared, tmp_path
):
    """Issue 20 on the real notebooks: every notebook rendered for a period, then
    ``--notebooks overview --force``: the other reports and their exports
    (segments.csv, churn_risk.csv ...) are byte-identical, and so are their metrics."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(shared["root"] / "out", out)
    period = out / shared["period"].name
    before = snapshot(period)
    exports = [f for f in before if f.endswith(".csv")]
    assert {"segments.csv", "churn_risk.csv"} <= set(exports)
    args = list(shared["args"])
    args[args.index("--out") + 1] = out
    os.environ["ANALYSIS_ID_KEY"] = KEY
    try:
        code, _, err, _ = cli([*args, "--notebooks", "overview", "--force", "--no-input"])
    finally:
        os.environ.pop("ANALYSIS_ID_KEY", None)
    assert code == 0, err
    after = snapshot(period)
    kept = [f for f in before if not f.startswith("00_overview") and f not in _RECORDS]
    assert len(kept) >= 2 * (len(report.notebook_paths()) - 1) + len(exports)
    assert {f: after.get(f) for f in kept} == {f: before[f] for f in kept}
    assert after["00_overview.html"] != before["00_overview.html"]  # rendered again
    old = json.loads((shared["period"] / "metrics.json").read_text())
    new = json.loads((period / "metrics.json").read_text())
    assert {k: v for k, v in new.items() if k != "overview"} == {
        k: v for k, v in old.items() if k != "overview"
    }
    run = json.loads((period / "run.json").read_text())
    assert len(run["notebooks"]) == len(report.notebook_paths())


# --------------------------------------------------------------------------- helpers


def test_md_text_and_style_table_escape_data_text():
    assert report.md_text("<script>alert(1)</script> *x*") == (
        "&lt;script&gt;alert(1)&lt;/script&gt; \\*x\\*"
    )
    frame = pd.DataFrame(
        {"revenue": [1234.5], "note": [XSS_PRODUCT]}, index=pd.Index([XSS_REGION], name="region")
    )
    html = report.style_table(frame, {"revenue": "£{:,.0f}"}).to_html()
    assert "<script" not in html and "<img" not in html and "£1,234" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_defuse_html_keeps_tables_and_images_but_not_script():
    html = (
        "<style>td{color:red}</style><table><tr><td><script>alert(1)</script></td></tr></table>"
        '<img src="data:image/png;base64,AAAA"><img src=x onerror=alert(2)>'
        '<a href="javascript:alert(3)">x</a>'
    )
    safe = report.defuse_html(html)
    assert (
        "<style>" in safe and "<table>" in safe and '<img src="data:image/png;base64,AAAA">' in safe
    )
    assert "<script" not in safe and "&lt;script>alert(1)" in safe
    assert "&lt;img src=x onerror" in safe and "javascript:" not in safe  # shown as text
    assert active_content(safe) == []
    assert active_content('<img src="x"><p onclick="f()">') == ["<img src=x>", "<p onclick=...>"]
    assert "http" not in report.defuse_html("<style>@import url(http://e.org/a.css)</style>")


def test_load_drops_personal_data_columns_in_every_mode():
    raw = pd.DataFrame(
        {
            "customer_id": ["1"],
            "order_date": ["2011-01-05"],
            "amount": [3.0],
            "E-mail": ["a@b.c"],
            "phone_number": ["1"],
            "First Name": ["A"],
            "Street": ["x"],
            "Postcode": ["x"],
            "notes": ["kept"],
        }
    )
    tx = load_transactions(raw)
    assert list(tx.frame.columns) == ["customer_id", "order_date", "amount", "order_id", "notes"]
    step = tx.log.set_index("step").loc["personal-data columns removed", "note"]
    assert (
        step
        == "E-mail (name), phone_number (name), First Name (name), Street (name), Postcode (name)"
    )


def test_data_errors_are_one_line():
    with pytest.raises(DataError) as err:
        load_transactions(pd.DataFrame({"customer_id": ["1"], "order_date": ["x"], "amount": [1]}))
    assert "\n" not in str(err.value)


def test_stale_staging_folders_of_killed_runs_are_removed(tmp_path):
    old, fresh = tmp_path / ".staging-2011-12-09-old", tmp_path / ".staging-2011-12-09-live"
    for folder in (old, fresh):
        (folder / "_metrics").mkdir(parents=True)
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    report._remove_stale(tmp_path)
    assert not old.exists() and fresh.exists()  # a run still working is left alone


@pytest.mark.slow
def test_a_hung_notebook_is_stopped_by_timeout(tmp_path):
    nbs = tmp_path / "nbs"
    make_notebook(nbs, "00_fine", OK_BODY)
    make_notebook(nbs, "01_hung", "import time\ntime.sleep(600)")
    out = tmp_path / "out"
    start = time.perf_counter()
    code, _, err, _ = cli(
        [
            "report",
            "--data",
            "online_retail_sample",
            "--notebooks-dir",
            nbs,
            "--out",
            out,
            "--timeout",
            "3",
        ]
    )
    assert code == 1 and time.perf_counter() - start < 120
    assert "FAILED hung (2011-12-09): cell timed out after 3 s" in err, err
    run = json.loads((out / "2011-12-09" / "run.json").read_text())
    assert run["notebooks"]["fine"]["status"] == "ok"
    assert run["notebooks"]["hung"]["status"] == "failed"
    page = (out / "2011-12-09" / "01_hung.html").read_text()
    assert "This report stopped before the end:" in page and "timed out after 3 s" in page
    code, _, err, _ = cli(["report", "--data", "online_retail_sample", "--timeout", "0"])
    assert code == 2 and "--timeout" in err


def test_id_key_file_is_created_private_and_must_live_outside_the_repo(tmp_path, monkeypatch):
    from analysis.config import PROJ_ROOT
    from analysis.privacy import id_key, pseudonymize

    monkeypatch.delenv("ANALYSIS_ID_KEY", raising=False)
    monkeypatch.setenv("ANALYSIS_ID_KEY_FILE", str(tmp_path / "keys" / "id_key"))
    first = id_key()
    assert (tmp_path / "keys" / "id_key").stat().st_mode & 0o777 == 0o600
    assert id_key() == first and len(first) == 64
    assert pseudonymize(["12345"]).iloc[0] == pseudonymize(["12345"], first).iloc[0]
    monkeypatch.setenv("ANALYSIS_ID_KEY_FILE", str(PROJ_ROOT / "id_key"))
    with pytest.raises(ValueError, match="inside the project folder"):
        id_key()
    code, _, err, _ = cli(["report", "--data", "online_retail_sample", "--anonymize"])
    assert code == 2 and "keep it outside" in err and len(err.strip().splitlines()) == 1
    assert not (PROJ_ROOT / "id_key").exists()
