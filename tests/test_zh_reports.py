"""Chinese reports for demand, segmentation and lifecycle: real data in, Chinese text out.

English stays the source (the other tests pin it); here every reader-facing message of
those modules and their notebooks' Markdown cells must have a Chinese translation, and
takeaways, tables and figures must come out in Chinese on the real datasets.
"""

from __future__ import annotations

import io
import string
from pathlib import Path

import matplotlib
import nbformat
import pandas as pd
import pytest
from babel.messages.extract import extract_from_file, extract_python
from babel.messages.pofile import read_po

from analysis import churn, cycle, demand, i18n, lifecycle, plots, report
from analysis import segmentation as seg
from analysis.config import NOTEBOOKS_DIR
from analysis.errors import NotApplicable
from analysis.summary import customer_summary
from analysis.tables import load_table
from analysis.text import set_language

matplotlib.use("Agg")

SRC = Path(seg.__file__).parent
MODULES = [
    "segmentation.py",
    "demand.py",
    "lifecycle.py",
    "cycle.py",
    "plots/segmentation.py",
    "plots/demand.py",
    "plots/lifecycle.py",
    "plots/cycle.py",
]
NOTEBOOKS = ("01_demand", "02_segmentation", "08_lifecycle")
PO_FILES = ("demand.po", "segmentation.po", "lifecycle.po")

#: The modules whose fixed name lists (segments, tiers, stages, treatments, cluster words,
#: months, weekdays, measures, forecast models, lifecycle groups and headers) these reports
#: show translated; they register them with i18n.fixed_names (data values stay English).
NAME_AREAS = ("analysis.segmentation", "analysis.demand", "analysis.lifecycle")


@pytest.fixture
def zh():
    set_language("zh")
    yield
    set_language("en")


@pytest.fixture(scope="module")
def retail_rfm(online_retail):
    summary = customer_summary(online_retail.frame, online_retail.as_of, time_unit="D")
    return online_retail, summary, seg.rfm_segments(summary)


def _fields(text: str) -> list[str]:
    return sorted(f for _, f, _, _ in string.Formatter().parse(text) if f is not None)


def test_every_message_of_these_modules_has_a_chinese_translation():
    catalogue = i18n.catalogue("zh")
    untranslated = [
        (module, message)
        for module in MODULES
        for _, message, _, _ in extract_from_file("python", SRC / module, keywords={"tr": None})
        if message not in catalogue
    ]
    assert untranslated == []


def test_every_not_applicable_reason_is_a_translated_message():
    """A reason why an analysis cannot run is shown on the index page and in the report:
    in a Chinese report it must be Chinese, so each is raised through ``tr``, in the package
    and in the notebooks (10 were plain strings, shown in English on the Chinese first page)."""
    import ast

    sources = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(SRC.rglob("*.py"))]
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        sources += [(path.name, c.source) for c in cells if c.cell_type == "code"]
    plain, raised = [], 0
    for name, source in sources:
        for node in ast.walk(ast.parse(source)):
            called = getattr(node, "func", None)
            if getattr(called, "id", getattr(called, "attr", None)) == "NotApplicable":
                raised += 1
                reason = node.args[0] if node.args else None
                if not (isinstance(reason, ast.Call) and getattr(reason.func, "id", "") == "tr"):
                    plain.append(f"{name}:{node.lineno}")
    assert plain == [] and raised > 10  # the walk finds them (20 today)
    set_language("zh")
    frame = pd.DataFrame({"order_date": pd.to_datetime(["2024-01-01", "2024-01-10"])})
    with pytest.raises(NotApplicable, match="流失窗口需要从 2023-10-12 开始的历史数据"):
        churn.make_design(frame, "2024-01-10", 30)


def test_every_message_of_the_notebooks_code_cells_has_a_chinese_translation():
    catalogue = i18n.catalogue("zh")
    untranslated = []
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", 4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        calls = extract_python(io.BytesIO(code.encode()), ["tr"], [], {})
        found = [m[0] if isinstance(m, tuple) else m for _, _, m, _ in calls]
        assert found, name
        untranslated += [(name, m) for m in found if m is not None and m not in catalogue]
    assert untranslated == []


def test_every_name_list_has_a_translation():
    catalogue = i18n.catalogue("zh")
    registered = i18n.registered_names()
    assert set(NAME_AREAS) <= set(registered)
    assert set(seg.SEGMENT_NAMES + seg.STAGES + seg.TREATMENTS) <= set(registered[NAME_AREAS[0]])
    assert set(demand.MONTHS + demand.MODEL_NAMES) <= set(registered[NAME_AREAS[1]])
    missing = {area: [n for n in registered[area] if n not in catalogue] for area in NAME_AREAS}
    assert all(not names for names in missing.values()), missing
    assert catalogue["Champions"] == "冠军客户" and catalogue["at risk"] == "有流失风险"


def test_every_markdown_cell_of_the_three_notebooks_is_translated():
    catalogue = i18n.catalogue("zh")
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", 4)
        cells = [c.source.strip() for c in nb.cells if c.cell_type == "markdown"]
        assert cells and all(c in catalogue for c in cells), name
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in catalogue[c]) for c in cells)


@pytest.mark.parametrize("po", PO_FILES)
def test_translations_keep_every_placeholder(po):
    with open(SRC / "locale" / "zh" / po, "rb") as handle:
        messages = [m for m in read_po(handle) if m.id and m.string]
    assert len(messages) > 50
    broken = [m.id for m in messages if "{" in m.id and _fields(m.id) != _fields(m.string)]
    assert broken == []


def test_segmentation_takeaways_in_chinese_on_online_retail(retail_rfm, zh):
    tx, summary, rfm = retail_rfm
    table = seg.segment_table(rfm)
    text = seg.rfm_takeaway(table, tx.currency)
    # Champions: 13 % of the 4,324 customers, half the revenue
    assert text.startswith("**冠军客户**只占客户的 13%，却贡献了 **50% 的收入**")
    assert "位客户" in text and "已流失客户" in text and "Champions" not in text
    tiers = seg.tier_table(seg.value_tiers(summary))
    found = seg.findings(table, tiers, seg.gini(summary["revenue"]), _stages(tx, summary), 0.5)
    assert "基尼系数 0.71" in found and "流失风险客户和不能流失的客户" in found
    html = seg.style_table(table, tx.currency).to_html()
    assert "人均收入" in html and "冠军客户" in html and "revenue_per_customer" not in html
    assert seg.actions_table(table).index[0] == "Champions"  # the data keep English names


def _stages(tx, summary):
    thresholds = seg.lifecycle_thresholds(cycle.cycle_at(tx.frame, tx.as_of), summary)
    return seg.stage_table(seg.lifecycle_stages(summary, thresholds), summary["revenue"])


def test_segment_figure_speaks_chinese(retail_rfm, zh):
    ax = plots.segmentation.share_bars(
        seg.segment_table(retail_rfm[2]), "Customers and revenue by RFM segment"
    )
    assert ax.get_title() == "各 RFM 分层的客户与收入"
    assert ax.get_yticklabels()[0].get_text() == "冠军客户"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["客户数", "收入"]
    matplotlib.pyplot.close("all")


def test_cluster_names_and_exports(retail_rfm, zh):
    assert seg.cluster_label("0: recent frequent high-spend") == "0: 近期活跃、高频、高消费"
    assert seg.cluster_label("2: lapsed one-off, more recent") == "2: 已流失、一次性，更近期"
    assert seg.cluster_label("Other") == "Other"
    export = seg.segments_export(retail_rfm[2], *_export_parts(retail_rfm))
    assert set(export["segment"]) <= set(seg.SEGMENT_NAMES)  # CSV stays machine-readable


def _export_parts(retail_rfm):
    tx, summary, _ = retail_rfm
    thresholds = seg.lifecycle_thresholds(cycle.cycle_at(tx.frame, tx.as_of), summary)
    return seg.value_tiers(summary), seg.lifecycle_stages(summary, thresholds), None


def test_demand_takeaways_and_dates_in_chinese(online_retail, zh):
    series = demand.period_series(online_retail.frame, "M", online_retail.as_of)
    text = demand.trend_takeaway(demand.compare_periods(series), series, online_retail.currency)
    assert text.startswith(
        "最近一个完整周期 **2011年11月** 的收入为 **£112.4万**，来自 1,657 位活跃客户"
    )
    assert "较2011年10月 **+16%**" in text and "。" in text and ". " not in text
    assert demand.day_label("2011-03-05") == "2011年3月5日"
    assert demand.period_label(pd.Period("2010-12-01", "W-SUN")) == "2010年11月29日当周"
    heat = demand.heatmap_takeaway(demand.activity_heatmap(online_retail.frame))
    assert heat.startswith("**周四**是一周中最忙的一天；**周六没有订单**")
    ax = plots.demand.period_bars(series, "revenue", currency="£")
    assert ax.get_title() == "每月收入" and ax.get_ylabel() == "收入（£）"
    matplotlib.pyplot.close("all")


def test_english_is_unchanged(online_retail):
    series = demand.period_series(online_retail.frame, "M", online_retail.as_of)
    text = demand.trend_takeaway(demand.compare_periods(series), series, online_retail.currency)
    assert text.startswith("In **Nov 2011**, the last complete period, revenue was **£1.12M**")
    assert demand.day_label("2011-03-05") == "05 Mar 2011"
    assert demand.period_label(pd.Period("2010-12-01", "W-SUN")) == "week of 29 Nov 2010"


def test_lifecycle_in_chinese_on_olist_leads(zh):
    people = load_table("customers", "olist_leads").frame
    as_of = lifecycle.default_as_of(people, None)
    first = lifecycle.first_purchases(people, None, as_of)
    frame = lifecycle.conversion_frame(people, first, as_of)
    by_channel = lifecycle.conversion_by(frame, "channel", 90)
    text = lifecycle.channel_takeaway(by_channel, 90)
    assert text.startswith("8,000 位注册用户中有 8.3% 在截止日前完成首购（95% 区间 7.7%–8.9%）")
    html = report.style_table(by_channel.reset_index()).to_html()
    assert ">全部<" in html and ">未知<" in html and ">转化率下限<" in html
    assert "all" in by_channel.index  # the data keep the English label
    found = lifecycle.prospects(frame, by_channel, as_of)
    lines = lifecycle.findings(
        lifecycle.lifecycle_metrics(by_channel, first, 90), by_channel, found, 90, 90
    )
    assert lines.splitlines()[0] == "- **7,335 位潜在客户**已注册但尚未购买。"
    assert lines.splitlines()[-1] == (
        "- 最近 90 天内有 2,246 人通过转化率不低于平均水平的渠道注册，但尚未购买。"
    )


def _markdown_outputs(nb) -> list[str]:
    return [
        o["data"]["text/markdown"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    ]


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "parameters", "expect"),
    [
        ("02_segmentation", {"data": "online_retail_sample"}, "冠军客户"),
        ("08_lifecycle", {"data": "", "customers": "olist_leads"}, "位潜在客户"),
    ],
)
def test_notebook_renders_in_chinese(tmp_path, name, parameters, expect):
    """Every Markdown cell and every Markdown output of the page is Chinese."""
    nb = report.translated_notebook(NOTEBOOKS_DIR / f"{name}.ipynb", "zh")
    assert all(_has_chinese(c.source) for c in nb.cells if c.cell_type == "markdown")
    out = tmp_path / f"{name}.zh.ipynb"
    params = {"output_dir": str(tmp_path), "lang": "zh", **parameters}
    assert report.execute_notebook(nb, out, params) is None
    shown = _markdown_outputs(nbformat.read(out, 4))
    assert shown and all(_has_chinese(text) for text in shown), [
        t[:80] for t in shown if not _has_chinese(t)
    ]
    assert expect in "\n".join(shown)
