"""Shared fixtures: small real datasets and a papermill runner for notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.config import NOTEBOOKS_DIR
from analysis.data import load_transactions
from analysis.report import METRICS_SUBDIR, execute_notebook, notebook_paths

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """Every test starts in English: one that switches the report language (a
    ``--lang zh`` run in process, ``set_language("zh")``) must not leak into the next one
    on the same worker."""
    yield
    from analysis.i18n import set_language

    set_language("en")


@pytest.fixture(scope="session")
def cdnow_sample():
    """The 2,357-customer CDNOW sample (real; ships with lifetimes)."""
    return load_transactions("cdnow_sample")


#: The published CDNOW split (Fader, Hardie & Lee 2005): calibration to 1997-09-30, holdout
#: to 1998-06-30.
CAL_END, OBS_END = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def calibration(cdnow_sample):
    """The CDNOW sample's weekly calibration summary with holdout counts (the published split)."""
    from analysis.summary import calibration_holdout

    return calibration_holdout(cdnow_sample.frame, CAL_END, OBS_END, "W")


@pytest.fixture(scope="session")
def cdnow():
    """The full CDNOW master log, 23,570 customers."""
    return load_transactions("cdnow")


@pytest.fixture(scope="session")
def retail_sample():
    """300 real Online Retail customers (data/online_retail_sample.csv)."""
    return load_transactions("online_retail_sample")


@pytest.fixture(scope="session")
def online_retail():
    """The full Online Retail log (4,338 customers, Dec 2010 - Dec 2011), the default report."""
    return load_transactions("online_retail")


def run_notebook(name: str, tmp_path: Path, **parameters) -> tuple[dict, str | None, Path]:
    """Execute notebook ``name`` (short name) with papermill into ``tmp_path``.

    Returns the recorded metrics of that notebook, the error line (None when it
    ran clean) and the output folder (exports land there).
    """
    (path,) = notebook_paths([name], NOTEBOOKS_DIR)
    params = {"output_dir": str(tmp_path), **parameters}
    error = execute_notebook(path, tmp_path / path.name, params)
    metrics_file = tmp_path / METRICS_SUBDIR / f"{name}.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return metrics, error, tmp_path
