"""The report runner: metrics, index, CLI end to end on a foreign-named export."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.config import DATA_DIR
from analysis.data import load_transactions
from analysis.index_page import build_index
from analysis.report import notebook_paths, record_metrics, short_name

FOREIGN = [
    "--column",
    "customer_id=CustomerID",
    "--column",
    "order_date=InvoiceDate",
    "--column",
    "order_id=InvoiceNo",
    "--column",
    "quantity=Quantity",
    "--column",
    "unit_price=UnitPrice",
    "--column",
    "region=Country",
]


def test_record_metrics_writes_plain_json(tmp_path):
    table = record_metrics(
        "demo",
        {
            "n": np.int64(3),
            "x": np.float64(0.5),
            "gone": float("nan"),
            "day": pd.Timestamp("2024-01-31"),
            "nested": {"a": np.float32(1.5)},
        },
        tmp_path,
    )
    saved = json.loads((tmp_path / "_metrics" / "demo.json").read_text())
    assert saved == {"n": 3, "x": 0.5, "gone": None, "day": "2024-01-31", "nested": {"a": 1.5}}
    assert "| N | 3 |" in table.data and "| Nested: a | 1.5 |" in table.data
    assert "Gone" not in table.data  # no value, no row
    assert "| N | 1 |" in record_metrics("demo", {"n": 1}, None).data  # interactive: no file


def test_headline_numbers_have_names_and_units():
    """The closing cells print 1,123,570 with its currency, not 1123570.2."""
    seg = record_metrics(
        "segmentation", {"segment_counts": {"A": 805, "At Risk": 917}, "gini": 0.612345}, None
    ).data
    assert (
        "| At Risk (customers) | 917 |" in seg
        and "| Revenue concentration (Gini) | 0.6123 |" in seg
    )
    churn = record_metrics("churn", {"base_rate": 0.491958, "value_at_risk_total": 5e4}, None, "$")
    assert "| Customers who churned (test period) | 49.2% |" in churn.data
    assert "| Expected value at risk | \\$50,000 |" in churn.data  # $ escaped: no maths
    overview = record_metrics("overview", {"revenue": 1123570.2, "customers": 4324}, None, "£")
    assert "| Revenue | £1,123,570 |" in overview.data and "| Customers | 4,324 |" in overview.data
    lv = record_metrics("lifetime_value", {"total_clv_interval": [1000.4, 2500.6]}, None, "£")
    assert "£1,000 – £2,501" in lv.data


@pytest.mark.parametrize(
    "key, rise",
    [
        ("segmentation.segment_counts.At Risk", "bad"),
        ("segmentation.segment_counts.Champions", "good"),
        ("demand.forecast_mape", "bad"),
        ("churn.model_brier", "bad"),
        ("churn.model_auc", "good"),
        ("overview.revenue", "good"),
        ("overview.rows_in", ""),
        ("lifetime_value.bgnbd.r", ""),
        ("satisfaction.some_new_metric", ""),
    ],
)
def test_metric_directions_say_good_or_bad_for_the_business(key, rise):
    from analysis.metrics import change_class

    assert change_class(key, 2.0, 1.0) == rise
    assert change_class(key, 1.0, 2.0) == {"good": "bad", "bad": "good", "": ""}[rise]
    assert change_class(key, 1.0, 1.0) == "" and change_class(key, 1.0, None) == ""


def test_notebook_names():
    assert short_name("notebooks/03_lifetime_value.ipynb") == "lifetime_value"
    assert [short_name(p) for p in notebook_paths(["overview"])] == ["overview"]
    with pytest.raises(ValueError, match="not found; choose from"):
        notebook_paths(["nonsense"])


def test_index_lists_periods_links_and_metric_changes(tmp_path):
    for period, customers in (("2024-01-31", 100), ("2024-02-29", 120)):
        folder = tmp_path / period
        folder.mkdir()
        (folder / "00_overview.html").write_text("<html></html>")
        (folder / "metrics.json").write_text(json.dumps({"overview": {"customers": customers}}))
        (folder / "run.json").write_text(json.dumps({"notebooks": {"overview": {"status": "ok"}}}))
    html = build_index(tmp_path).read_text()
    assert "2024-02-29/00_overview.html" in html and "2024-01-31/00_overview.html" in html
    assert html.index("<th>2024-02-29</th>") < html.index("<th>2024-01-31</th>")  # newest first
    assert "<td class='good'>120</td>" in html


def test_index_colours_more_at_risk_customers_as_bad(tmp_path):
    for period, at_risk, mape in (("2024-01-31", 100, 0.2), ("2024-02-29", 120, 0.1)):
        folder = tmp_path / period
        folder.mkdir()
        (folder / "02_segmentation.html").write_text("<html></html>")
        metrics = {
            "segmentation": {"segment_counts": {"At Risk": at_risk}},
            "demand": {"forecast_mape": mape, "rows": at_risk},
        }
        (folder / "metrics.json").write_text(json.dumps(metrics))
    html = build_index(tmp_path).read_text()
    assert "<td class='bad'>120</td>" in html  # more customers at risk: bad news
    assert "<td class='good'>10.0%</td>" in html  # lower forecast error: good news
    assert html.count("<td>120</td>") == 1  # demand.rows has no direction: neutral


def test_validate_missing_column_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_text("client,when,total\n1,2024-01-01,3\n")
    assert main(["validate", "--data", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("error: required column 'customer_id'") and "--column" in err


def test_validate_prints_the_cleaning_log(capsys):
    assert main(["validate", "--data", "online_retail_sample"]) == 0
    out = capsys.readouterr().out
    assert "missing customer id" in out and "customers 293" in out


@pytest.mark.slow
def test_report_on_an_export_with_foreign_column_names(tmp_path, capsys):
    csv = DATA_DIR / "online_retail_sample.csv"
    code = main(
        [
            "report",
            "--data",
            str(csv),
            *FOREIGN,
            "--as-of",
            "2011-09-30",
            "--notebooks",
            "overview",
            "--out",
            str(tmp_path),
            "--no-input",
            "--jobs",
            "1",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "00_overview.ipynb" in out and str(tmp_path / "index.html") in out
    period = tmp_path / "2011-09-30"
    metrics = json.loads((period / "metrics.json").read_text())["overview"]
    expected = load_transactions(
        csv, {a.split("=")[0]: a.split("=")[1] for a in FOREIGN[1::2]}, "2011-09-30"
    )
    assert metrics["customers"] == expected.frame["customer_id"].nunique()
    assert metrics["last_date"] <= "2011-09-30"
    assert metrics["rows_in"] == 31_583
    html = (period / "00_overview.html").read_text()
    assert "Cleaning log" in html and "missing customer id" in html
    assert "<img" in html and "data:image/png;base64" in html  # images embedded
    assert "load_transactions(" not in html  # --no-input hides code
    assert (tmp_path / "index.html").exists()
    assert not list(tmp_path.glob(".staging-*"))


@pytest.mark.slow
def test_not_applicable_stops_a_notebook_with_a_note_not_a_failure(tmp_path, capsys):
    from test_reliability import COMMON, make_notebook

    folder = tmp_path / "nbs"
    make_notebook(
        folder,
        "09_thin",
        'from analysis import report\nprint("section one ran")\n'
        'raise report.NotApplicable("no customer bought twice, so there is no purchase cycle")',
    )
    assert "data: str" in COMMON
    code = main(
        [
            "report",
            "--data",
            "online_retail_sample",
            "--notebooks-dir",
            str(folder),
            "--out",
            str(tmp_path / "out"),
            "--jobs",
            "1",
        ]
    )
    assert code == 0  # not applicable is reported, not failed
    assert "not applicable (NotApplicable: no customer bought twice" in capsys.readouterr().out
    period = next((tmp_path / "out").glob("20*"))
    run = json.loads((period / "run.json").read_text())
    assert run["notebooks"]["thin"]["status"] == "not applicable"
    page = (period / "09_thin.html").read_text()
    assert "This analysis cannot run on this data." in page
    assert "no customer bought twice" in page and "section one ran" in page
    assert "An Exception was encountered" not in page  # papermill's banner removed
    assert "Traceback" not in page
    assert ".staging-" not in page  # the runner's private path is not shown to readers
    index = (tmp_path / "out" / "index.html").read_text()
    assert "thin (not applicable)" in index


@pytest.mark.slow
def test_runner_cleans_the_log_once_and_every_notebook_reads_that_file(tmp_path):
    """The runner writes the clean log once per period; a notebook declaring ``prepared``
    gets it for exactly its own request, and the file never reaches the report."""
    from test_reliability import COMMON, make_notebook

    folder = tmp_path / "nbs"
    body = (
        "from analysis.data import load_transactions, read_prepared, request_key\n"
        "key = request_key(data, columns, as_of, data_options)\n"
        "assert read_prepared(prepared, key) is not None, 'prepared file not for this request'\n"
        "tx = load_transactions(data, columns, as_of, prepared=prepared, **data_options)\n"
        "print('clean rows', len(tx.frame), 'steps', len(tx.log))"
    )
    params = COMMON + '\nprepared: "Optional[str]" = None  # set by the runner'
    for name in ("10_first", "11_second"):
        path = make_notebook(folder, name, body)
        nb = nbformat.read(path, as_version=4)
        nb.cells[0].source = params
        nbformat.write(nb, path)
    out = tmp_path / "out"
    argv = ["report", "--data", "online_retail_sample", "--as-of", "2011-09-30"]
    code = main([*argv, "--returns", "net", "--notebooks-dir", str(folder), "--out", str(out)])
    assert code == 0
    period = out / "2011-09-30"
    expected = load_transactions("online_retail_sample", as_of="2011-09-30", returns="net")
    for name in ("10_first", "11_second"):
        page = (period / f"{name}.html").read_text()
        assert f"clean rows {len(expected.frame)} steps {len(expected.log)}" in page
        assert "transactions.parquet" not in page and ".staging-" not in page
    assert not (period / "_prepared").exists() and not list(out.glob(".staging-*"))
    run = json.loads((period / "run.json").read_text())
    assert "prepared" not in run["parameters"] and run["parameters"]["data_options"] == {
        "returns": "net"
    }


def test_business_readers_get_words_and_analysts_get_the_parameter(tmp_path):
    """Under --no-input, advice naming parameters and options is left out of the HTML."""
    from analysis.errors import NotApplicable
    from analysis.report import export_html
    from analysis.text import absent_note

    error = NotApplicable("the history is too short", "pass --param holdout_days=60")
    assert str(error) == "the history is too short; pass --param holdout_days=60"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    note = absent_note("category", "revenue by category")
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": note})]
    nb.cells = [cell, nbformat.v4.new_markdown_cell(f"Takeaway. {absent_note('region', 'x')}")]
    ipynb = tmp_path / "n.ipynb"
    nbformat.write(nb, ipynb)
    for no_input, shown in ((True, False), (False, True)):
        export_html(ipynb, tmp_path / "n.html", no_input=no_input)
        page = (tmp_path / "n.html").read_text()
        assert "No category column in this data, so there is no revenue by category" in page
        assert "No region column" in page
        assert ("--column category=" in page) is shown and ("--column region=" in page) is shown


def test_every_test_that_runs_a_notebook_or_fits_full_data_is_marked_slow():
    """``make test-fast`` (``-m "not slow"``) must stay fast: a test that executes a
    notebook, renders a period, starts Spark or uses the full CDNOW log is ``slow``."""
    import ast
    import re
    from pathlib import Path

    heavy = re.compile(r"\b(run_notebook|execute_notebook|render_period)\(")
    unmarked = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        source = path.read_text()
        for node in ast.parse(source).body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            marks = " ".join(ast.get_source_segment(source, d) for d in node.decorator_list)
            uses = {a.arg for a in node.args.args} & {"cdnow", "spark", "shared"}
            body = ast.get_source_segment(source, node)
            itself = node.name.endswith("_is_marked_slow")
            if (uses or heavy.search(body)) and "slow" not in marks and not itself:
                unmarked.append(f"{path.name}::{node.name}")
    assert unmarked == []


def test_unmapped_columns_match_ignoring_case_spaces_and_underscores(capsys):
    """data/README promises it: CustomerID is customer_id, UnitPrice is unit_price."""
    csv = str(DATA_DIR / "online_retail_sample.csv")
    assert main(["validate", "--data", csv, "--column", "order_date=InvoiceDate"]) == 0
    out = capsys.readouterr().out
    for source, canonical in [("CustomerID", "customer_id"), ("UnitPrice", "unit_price")]:
        assert f"column '{source}' used as {canonical}" in out
    assert "customers 294" in out  # no order_id/product_id mapped: 520 more exact duplicates
    mapped = [a for pair in zip(["--column"] * 6, FOREIGN[1::2], strict=True) for a in pair]
    assert main(["validate", "--data", csv, *mapped, "--column", "product_id=StockCode"]) == 0
    assert "29,990 clean" in capsys.readouterr().out  # the README's two examples agree
