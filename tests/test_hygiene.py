"""Notebook hygiene: one parameters cell, no outputs, kernel python3, logic in the package."""

from __future__ import annotations

import re

import nbformat
import papermill
import pytest

from analysis.config import NOTEBOOKS_DIR
from analysis.report import COMMON_PARAMETERS, short_name

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = ["overview", "demand", "segmentation", "lifetime_value", "churn"]


def test_the_expected_notebooks_exist_in_order():
    names = [short_name(p) for p in NOTEBOOKS]
    present = [n for n in EXPECTED if n in names]
    assert names[: len(present)] == present
    assert "overview" in names


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return request.param, nbformat.read(str(request.param), as_version=4)


def test_valid_nbformat_and_kernel(notebook):
    _, nb = notebook
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_no_stored_outputs(notebook):
    _, nb = notebook
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_exactly_one_parameters_cell_with_every_line_understood(notebook):
    path, nb = notebook
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    lines = [
        ln for ln in tagged[0].source.splitlines() if ln.strip() and not ln.strip().startswith("#")
    ]
    declared = papermill.inspect_notebook(str(path))
    # papermill silently skips a line it cannot parse (e.g. a second '=' in the comment)
    assert len(declared) == len(lines), f"unparsed parameter line in {path.name}"
    assert set(COMMON_PARAMETERS) <= set(declared)
    for name, spec in declared.items():
        assert spec["inferred_type_name"] != "None", f"{name} has no type annotation"
        assert spec["help"], f"{name} has no comment"


def test_narrative_shape_and_no_logic_in_notebooks(notebook):
    path, nb = notebook
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert len(nb.cells) <= 45, f"{path.name} has {len(nb.cells)} cells"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not re.search(r"^\s*(def|class)\s", cell.source, re.M), "logic belongs in src/"
        assert "filterwarnings" not in cell.source
        assert "today()" not in cell.source and "os.chdir" not in cell.source


def test_theme_draws_chinese_labels_without_missing_glyphs(tmp_path, caplog):
    """The packaged CJK font is registered by the theme: no empty boxes for 上海 or 重要价值客户."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis import plots

    plots.use_theme()
    assert plt.rcParams["font.family"] == ["DejaVu Sans", "Noto Sans CJK SC"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.bar(["上海", "北京", "Café"], [1, 2, 3])
        ax.set_title("重要价值客户 revenue £", fontweight="bold")
        fig.savefig(tmp_path / "cjk.png")
        plt.close(fig)
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []
    assert "findfont" not in caplog.text  # bold titles fall back to the regular CJK face quietly
