"""Chinese reports of lifetime value, churn and the customer page (issue 17 item 1).

Every message of analysis.clv, analysis.churn, analysis.profile and their figures, every
name of their fixed lists and every Markdown cell of the three notebooks has a Chinese
translation with the same placeholders; real-data takeaways, tables and figures come out
in Chinese under ``set_language("zh")`` and stay English otherwise.
"""

from __future__ import annotations

import io
import json
import re
import string
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from babel.messages.extract import extract_from_file, extract_python
from babel.messages.pofile import read_po

from analysis import churn, clv, i18n, plots
from analysis import profile as prof
from analysis.config import NOTEBOOKS_DIR
from analysis.summary import customer_summary
from analysis.text import amount, set_language, tr

matplotlib.use("Agg")

SRC = Path(__file__).resolve().parents[1] / "src" / "analysis"
MODULES = [
    *sorted((SRC / "clv").glob("*.py")),
    SRC / "churn.py",
    SRC / "profile.py",
    SRC / "plots" / "clv.py",
    SRC / "plots" / "churn.py",
    SRC / "plots" / "profile.py",
]
NOTEBOOKS = ["03_lifetime_value", "04_churn", "customer_profile"]
PO_FILES = [i18n.LOCALE_DIR / "zh" / f"{area}.po" for area in ("clv", "churn", "profile")]
#: Modules registering the fixed names they show through tr(name) (i18n.fixed_names).
AREAS = ("analysis.clv", "analysis.churn", "analysis.profile", "analysis.plots.churn")


@pytest.fixture
def zh():
    set_language("zh")
    yield
    set_language("en")


#: Han characters or full-width Chinese punctuation.
_CHINESE = re.compile("[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _code_messages() -> set[str]:
    found = set()
    for path in MODULES:
        found |= {m[1] for m in extract_from_file("python", path, keywords={"tr": (1,)})}
    for name in NOTEBOOKS:
        cells = json.loads((NOTEBOOKS_DIR / f"{name}.ipynb").read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                code = io.BytesIO("".join(cell["source"]).encode())
                for m in extract_python(code, {"tr": None}, [], {}):
                    found.add(m[2][0] if isinstance(m[2], tuple) else m[2])
    return found


def _markdown_cells() -> list[str]:
    cells = []
    for name in NOTEBOOKS:
        nb = json.loads((NOTEBOOKS_DIR / f"{name}.ipynb").read_text())
        cells += ["".join(c["source"]).strip() for c in nb["cells"] if c["cell_type"] == "markdown"]
    return cells


def test_every_message_name_and_markdown_cell_has_chinese():
    zh = i18n.catalogue("zh")
    code = _code_messages()
    assert len(code) > 230  # the tr() literals of the modules and notebooks were found
    assert sorted(m for m in code if m not in zh) == []
    registered = i18n.registered_names()
    for area in AREAS:
        assert [n for n in registered[area] if n not in zh] == [], area
    assert set(churn.RISK_BANDS + churn.DESIGN_STAGES) <= set(registered["analysis.churn"])
    clv_names = set(registered["analysis.clv"])
    assert set(clv.tables.VALUE_SEGMENTS + clv.validate.BASELINES) <= clv_names
    assert set(prof.NEXT_STEP.values()) <= set(registered["analysis.profile"])
    cells = _markdown_cells()
    assert len(cells) == 38  # 34 + ltv's four (retention what-if, next purchase; retention.po)
    assert [c[:60] for c in cells if c not in zh] == []
    assert zh["## Findings"] == "## 结论"


def test_own_po_files_keep_placeholders_and_hold_chinese():
    for path in PO_FILES:
        with open(path, "rb") as handle:
            entries = [m for m in read_po(handle) if m.id]
        assert len(entries) > 70, path.name
        for m in entries:
            assert _fields(m.id) == _fields(m.string), (path.name, m.id)
            assert _CHINESE.search(m.string) or m.id == m.string, (path.name, m.id)


@pytest.fixture(scope="module")
def retail_values(retail_sample):
    tx = retail_sample
    summary = customer_summary(tx.frame, tx.as_of, "W")
    fitted = clv.fit_model(summary, "bgnbd", "W")
    values = clv.customer_value(fitted, clv.fit_spend(summary), summary, 12, 0.10)
    return tx, fitted, values


def test_clv_takeaway_and_tables_in_chinese_on_online_retail_sample(retail_values, zh):
    tx, fitted, values = retail_values
    total = amount(values["clv"].sum(), tx.currency)
    assert clv.clv_takeaway(values, 12, 0.10, tx.currency).startswith(
        f"预计这 293 位客户在未来 12 个月带来 {total}（按年折现率 10% 折现）"
    )
    assert "价值最高的 10 % 客户占其中 62%" in clv.clv_takeaway(values, 12, 0.10, tx.currency)
    segments = clv.segment_table(values)
    text = clv.one_time_takeaway(segments, fitted, tx.currency)
    assert text.startswith("37% 的客户（109 位）只购买过一次。")
    html = clv.interval_style(
        pd.DataFrame(
            {"estimate": [1.0], "low": [0.5], "high": [2.0], "draws": [8]},
            index=pd.Index(["total_clv"], name="quantity"),
        )
    ).to_html()
    assert "客户终身价值：全部客户" in html and "区间：下限" in html and "指标" in html
    assert [m for m in i18n.missing("zh") if m in (*clv.tables.VALUE_SEGMENTS, "customers")] == []


def test_clv_takeaway_is_english_unchanged_by_default(retail_values):
    tx, _, values = retail_values
    assert clv.clv_takeaway(values, 12, 0.10, tx.currency).startswith(
        "The 293 customers are expected to bring "
    )
    html = clv.interval_style(
        pd.DataFrame({"estimate": [1.0], "low": [0.5], "high": [2.0]}, index=["total_clv"])
    ).to_html()
    assert ">low</th>" in html and ">high</th>" in html and "CLV: all customers" in html


@pytest.mark.slow
def test_clv_takeaway_in_chinese_on_full_online_retail(online_retail, zh):
    tx = online_retail
    summary = customer_summary(tx.frame, tx.as_of, "W")
    values = clv.customer_value(
        clv.fit_model(summary, "bgnbd", "W"), clv.fit_spend(summary), summary, 12, 0.10
    )
    text = clv.clv_takeaway(values, 12, 0.10, tx.currency)
    assert text.startswith("预计这 4,324 位客户在未来 12 个月带来 ")
    assert text.endswith("价值最高的 10 % 客户占其中 49%，因此在这些客户身上做留存最划算。")


def test_churn_figures_and_labels_in_chinese(retail_sample, zh):
    design = churn.make_design(retail_sample.frame, retail_sample.as_of, 90)
    ax = plots.churn.design_timeline(design)
    assert ax.get_title() == "无信息泄漏的设计：90 天流失窗口"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["今日评分", "评估（样本外）", "训练"]
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "特征：截止日前的购买"
    table = churn.design_table(design)
    assert table.index.name == "阶段" and list(table.index)[0] == "1. 训练模型"
    assert table.iloc[-1].tolist()[-1] == "否（未来）"
    assert churn.display_label("customers · high (>=60%)") == "客户数 · 高（>=60%）"
    assert churn.display_label("value at risk · total") == "风险价值 · 合计"
    assert churn.display_label("24-month CLV") == "24 个月客户终身价值"
    matplotlib.pyplot.close("all")


def test_churn_labels_stay_english_in_english(retail_sample):
    design = churn.make_design(retail_sample.frame, retail_sample.as_of, 90)
    assert plots.churn.design_timeline(design).get_title() == (
        "Leakage-free design: 90-day churn window"
    )
    assert churn.display_label("customers · high (>=60%)") == "customers · high (>=60%)"
    assert list(churn.design_table(design).columns)[0] == "features use data up to"
    matplotlib.pyplot.close("all")


def test_churn_takeaways_in_chinese_on_hand_checked_scores(zh):
    table = churn.score_table(
        pd.Series([1, 0, 1, 0, 1, 0, 0, 0]),
        {
            "boosting": [0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.2, 0.1],
            "recency": [0.6, 0.5, 0.4, 0.5, 0.6, 0.4, 0.5, 0.5],
        },
    )
    text = churn.comparison_takeaway(table, "boosting")
    assert text.startswith("**梯度提升胜出。**")
    assert "基线：仅看最近购买: AUC" in text
    risk = pd.DataFrame(
        {
            "value_at_risk": [50.0, 30.0],
            "value": [100.0, 100.0],
            "risk_band": ["high (>=60%)", "low (<30%)"],
        }  # fmt: skip
    )
    words = churn.risk_takeaway(risk, 1, "¥", "12-month CLV")
    assert words.startswith(
        "共为 2 位活跃客户评分；风险价值 ¥80（占其12 个月客户终身价值 ¥200 的 40.0%）"
    )


def test_profile_risk_text_and_purchases_in_chinese(retail_sample, zh):
    timeline = prof.purchases(retail_sample.frame, "17920")
    text = prof.purchase_text(timeline, retail_sample.as_of, retail_sample.currency)
    assert text.startswith("2010年12月1日 至 2011年12月5日 期间在 17 天里下了 17 笔订单")
    reasons = prof.risk_reasons(timeline.iloc[:3], retail_sample.as_of, 0.2)
    assert reasons[-1] == "购买模型认为其仍是客户的概率只有 20%"
    row = pd.Series({"p_churn": 0.72, "risk_band": "high (>=60%)", "rank": 3})
    assert prof.risk_text(row, 0.2, reasons[-1:]) == (
        "**流失风险 72%**（高（&gt;=60%）），按风险价值排第 3 位（流失报告）。"
        "原因：购买模型认为其仍是客户的概率只有 20%。"
    )
    assert tr("turn the first contact into a first purchase") == "把首次接触转化为首次购买"
