"""Customer profile: lookup, report exports, the page, and `analysis profile`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis import cli
from analysis import profile as prof
from analysis.data import load_transactions
from analysis.errors import DataError
from analysis.privacy import display_id
from analysis.report import notebook_paths, short_name


@pytest.fixture(scope="module")
def sample():
    return load_transactions("online_retail_sample")


def test_the_report_never_renders_the_per_customer_notebook():
    names = [short_name(p) for p in notebook_paths()]
    assert "customer_profile" not in names and "overview" in names
    with pytest.raises(ValueError, match="not found"):
        notebook_paths(["customer_profile"])


def test_lookup_by_raw_id_or_pseudonym_and_a_one_line_error(sample, monkeypatch):
    monkeypatch.setenv("ANALYSIS_ID_KEY", "profile-test-key")
    ids = sample.frame["customer_id"].unique()
    assert prof.resolve_customer("12748", ids) == "12748"
    assert prof.resolve_customer(display_id("12748", True), ids) == "12748"
    with pytest.raises(DataError) as err:
        prof.resolve_customer("99999", ids, "online_retail_sample")
    message = str(err.value)
    assert "\n" not in message and "99999" in message and "segments.csv" in message


def test_purchases_and_standing_of_a_real_customer(sample):
    timeline = prof.purchases(sample.frame, "12748")
    assert len(timeline) == 111 and int(timeline["orders"].sum()) == 203
    assert timeline["spend"].iloc[-1] == pytest.approx(30021.69)
    now = prof.computed_standing(sample.frame, sample.as_of, "12748")
    assert (now.segment, now.tier, now.stage) == ("Champions", "high", "loyal")
    before = prof.computed_standing(sample.frame, "2010-11-30", "12748")
    assert before.stage == "potential" and before.segment is None  # had not bought yet
    reasons = prof.risk_reasons(prof.purchases(sample.frame, "12508"), sample.as_of)
    assert reasons[0].startswith("26 days since the last purchase")


def _report(root, as_of, data, segment, p_churn=None):
    folder = root / as_of
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"as_of": as_of, "source": {"data": data}}))
    pd.DataFrame(
        {
            "customer_id": ["12748", "14156"],
            "segment": [segment, "Loyal"],
            "tier": "high",
            "stage": "loyal",
        }
    ).to_csv(folder / "segments.csv", index=False)
    if p_churn is not None:
        pd.DataFrame(
            {"customer_id": ["12748"], "rank": [3], "p_churn": [p_churn], "risk_band": ["medium"]}
        ).to_csv(folder / "churn_risk.csv", index=False)
    return folder


def test_latest_and_previous_report_of_the_same_data(tmp_path):
    _report(tmp_path, "2011-10-31", "online_retail", "Loyal")
    _report(tmp_path, "2011-11-30", "online_retail", "Champions")
    _report(tmp_path, "2011-12-31", "online_retail", "Lost")  # after as_of: not read
    _report(tmp_path, "2011-11-15", "cdnow", "Lost")  # another data source
    folders = prof.report_folders(tmp_path, "2011-12-09", "online_retail")
    assert [f.name for f in folders] == ["2011-11-30", "2011-10-31"]
    assert prof.export_row(folders[0], "segments", "12748")["segment"] == "Champions"
    assert prof.export_row(folders[0], "segments", "17850") is None
    assert prof.export_row(folders[0], "risk", "12748") is None  # no churn list exported
    assert prof.report_folders(tmp_path / "absent", "2011-12-09") == []


def test_unknown_customer_is_exit_2_naming_where_ids_are(capsys):
    code = cli.main(["profile", "--data", "online_retail_sample", "--customer", "99999"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "churn_risk.csv" in err


@pytest.mark.slow
def test_profile_command_anonymized_reads_the_report_exports(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ANALYSIS_ID_KEY", "profile-test-key")
    pseudonym = display_id("12748", True)
    reports = tmp_path / "reports"
    folder = _report(reports, "2011-12-09", "online_retail_sample", "Champions", 0.42)
    for name in ("segments.csv", "churn_risk.csv"):  # exports of an anonymised report
        frame = pd.read_csv(folder / name, dtype={"customer_id": str})
        frame["customer_id"] = frame["customer_id"].map(lambda c: display_id(c, True))
        frame.to_csv(folder / name, index=False)
    code = cli.main(
        [
            "profile",
            "--data",
            "online_retail_sample",
            "--customer",
            pseudonym,
            "--anonymize",
            "--out",
            str(tmp_path / "profiles"),
            "--reports-dir",
            str(reports),
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    page = tmp_path / "profiles" / f"{pseudonym}.html"
    assert out[-1] == str(page)
    text = page.read_text()
    assert "12748" not in text and pseudonym in text
    assert "Churn risk 42%" in text and "Champions" in text
    assert "segments.csv of the 2011-12-09 report" in text
    assert "expected lifetime value" in text and "30,021.69" in text
