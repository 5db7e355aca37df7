"""Chinese reports of satisfaction, behaviour and recommendations (issue 17, item 1).

Takeaways, table labels and figures of the three notebooks, computed on real data with the
report language set to Chinese; every fixed name list and every message of these modules
and notebooks has a translation.
"""

from __future__ import annotations

import io
import re
import string

import matplotlib
import nbformat
import pandas as pd
import pytest
from babel.messages.extract import extract, extract_from_file
from test_feedback import olist_frames

from analysis import behaviour, i18n, report
from analysis import feedback as fb
from analysis import recommend as rec
from analysis import sentiment as st
from analysis.config import NOTEBOOKS_DIR, PROJ_ROOT
from analysis.data import load_table
from analysis.plots import behaviour as behaviour_plots
from analysis.plots import feedback as feedback_plots
from analysis.plots import recommend as recommend_plots
from analysis.text import set_language, tr

matplotlib.use("Agg")

SRC = PROJ_ROOT / "src" / "analysis"
#: area -> (package modules, notebook) whose reader-facing text this file checks
AREAS = {
    "satisfaction": (
        ("feedback.py", "sentiment.py", "plots/feedback.py"),
        "05_satisfaction.ipynb",
    ),
    "behaviour": (("behaviour.py", "plots/behaviour.py"), "06_behaviour.ipynb"),
    "recommendations": (("recommend.py", "plots/recommend.py"), "07_recommendations.ipynb"),
}
#: the fixed name lists these modules show translated (tr_name / tr at display time)
NAME_LISTS = {
    "feedback.GROUPS": fb.GROUPS,
    "feedback.DRIVER_NAMES": fb.DRIVER_NAMES,
    "feedback.BREAKDOWNS": fb.BREAKDOWNS,
    "feedback.VALUE_BASES": fb.VALUE_BASES,
    "sentiment.LANGUAGE_CODES": st.LANGUAGE_CODES,
    "sentiment.SENTIMENT_LABELS": st.SENTIMENT_LABELS,
    "behaviour.STEP_NAMES": behaviour.STEP_NAMES,
    "behaviour.ORDER_MODES": behaviour.ORDER_MODES,
    "behaviour.MIX_NAMES": behaviour.MIX_NAMES,
    "behaviour.LIFT_ROWS": behaviour.LIFT_ROWS,
    "behaviour.SOURCE_CONTEXTS": tuple(behaviour.SOURCE_CONTEXTS.values()),
    "behaviour.HEADER_CONTEXTS": tuple(behaviour.HEADER_CONTEXTS.values()),
    "behaviour.LOG_CONTEXTS": tuple(behaviour.LOG_CONTEXTS.values()),
    "feedback.HEADER_CONTEXTS": tuple(fb.HEADER_CONTEXTS.values()),
    "plots.behaviour.PERIOD_WORDS": behaviour_plots.PERIOD_WORDS,
    "recommend.METHOD_LABELS": rec.METHOD_LABELS,
    "recommend.STAGES": rec.STAGES,
    "recommend.PURCHASE_DAY_TIERS": rec.PURCHASE_DAY_TIERS,
}


@pytest.fixture
def zh():
    set_language("zh")
    yield i18n.catalogue("zh")
    set_language("en")


def _messages(area: str) -> tuple[list[str], list[str]]:
    """tr() literals of the area's modules and notebook code, and its Markdown cells."""
    modules, notebook = AREAS[area]
    found = []
    for module in modules:
        found += [m for _, m, _, _ in extract_from_file("python", SRC / module, {"tr": None})]
    nb = nbformat.read(NOTEBOOKS_DIR / notebook, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code").encode()
    found += [m for _, m, _, _ in extract("python", io.BytesIO(code), {"tr": None})]
    markdown = [c.source.strip() for c in nb.cells if c.cell_type == "markdown"]
    return found, markdown


def _fields(text: str) -> list:
    return sorted((f, spec) for _, f, spec, _ in string.Formatter().parse(text) if f is not None)


@pytest.mark.parametrize("area", AREAS)
def test_every_message_and_markdown_cell_is_translated_with_its_placeholders(area, zh):
    messages, markdown = _messages(area)
    assert len(messages) > 40 and markdown
    assert [m for m in messages + markdown if m not in zh] == []
    assert [m for m in messages if _fields(m) != _fields(zh[m])] == []
    assert all(re.search("[\u4e00-\u9fff]", zh[m]) for m in markdown)


def test_every_name_of_the_registered_lists_has_a_translation(zh):
    missing = {k: [n for n in names if n not in zh] for k, names in NAME_LISTS.items()}
    assert {k: v for k, v in missing.items() if v} == {}
    assert [tr(s) for s in behaviour.DEFAULT_STEPS] == ["浏览", "加购", "购买"]
    assert [tr(g) for g in fb.GROUPS] == ["推荐者", "中立者", "贬损者"]


# --------------------------------------------------------------------------- satisfaction


@pytest.fixture(scope="module")
def olist():
    tx, feedback = olist_frames()
    enriched = fb.enrich(feedback, tx)
    scale = fb.scale_of({}, enriched["score"])
    return enriched.assign(group=fb.nps_groups(enriched["score"], scale)), scale


def test_satisfaction_takeaways_in_chinese_on_olist(olist, zh):
    frame, scale = olist
    overall = fb.summarise(frame["score"], scale)
    text = fb.headline_takeaway(overall, scale)
    # 3,986 reviews: 2,293 promoters (5 stars), 928 detractors (1-3 stars): NPS +34
    assert text.startswith(
        "**共 3,986 条评分回答。** 净推荐值 NPS **+34**（95% 置信区间 +32 至 +37）"
    )
    assert "（5 分制：5 分为推荐者，4 分为中立者，其余为贬损者）" in text
    assert "满意度 CSAT（前两档占比）**76.7%**" in text
    drivers = fb.drivers(frame)
    assert drivers.index[0] == "delivery delay"  # English keys stay
    words = fb.drivers_takeaway(drivers)
    assert words.startswith("对评分影响最大的是 **配送延迟**：") and "延迟送达 2.1" in words
    region = fb.group_table(frame, "region", scale)
    assert fb.group_takeaway(region, "region").startswith("按地区：**")
    # an interval's "low" is not the value tier "low" (segmentation.po's 低)
    table, formats = fb.for_display(fb.value_by_group(frame, frame.groupby("customer_id")[
        "score"].mean()), {"low": "{:.2f}"})  # fmt: skip
    assert list(table.columns) == ["customers", "mean", "区间：下限", "区间：上限"]
    assert list(table.index) == ["推荐者", "中立者", "贬损者"]
    assert formats == {"区间：下限": "{:.2f}"}
    periods = fb.period_table(frame, scale, "M")
    assert "的 NPS 为" in fb.period_takeaway(periods)
    assert not [m for m in i18n.missing("zh") if m in set(_messages("satisfaction")[0])]


def test_satisfaction_figures_in_chinese(olist, zh):
    frame, scale = olist
    ax = feedback_plots.score_distribution(frame["score"], frame["group"])
    assert ax.get_title() == "各评分的回答数" and ax.get_ylabel() == "回答数"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["推荐者", "中立者", "贬损者"]
    ax = feedback_plots.drivers(fb.drivers(frame))
    assert "配送延迟" in [t.get_text() for t in ax.get_yticklabels()]
    ax = feedback_plots.nps_by_group(fb.group_table(frame, "region", scale), "region")
    assert ax.get_title().startswith("按地区的 NPS")
    matplotlib.pyplot.close("all")


# --------------------------------------------------------------------------- behaviour


@pytest.fixture(scope="module")
def taobao():
    return load_table("events", "taobao").frame


def test_funnel_step_names_and_takeaway_in_chinese_on_taobao(taobao, zh):
    steps = list(behaviour.DEFAULT_STEPS)
    times = behaviour.funnel_times(taobao, steps, 72)
    funnel = behaviour.funnel_table(times, steps)
    assert list(funnel["step"]) == steps  # the data keep the canonical names
    shown, formats = behaviour.for_display(funnel.set_index("step"), {"visitors": "{:,}"})
    assert list(shown.index) == ["浏览", "加购", "购买"] and shown.index.name == "步骤"
    html = report.style_table(shown, formats).to_html()
    assert '<th class="index_name level0" >步骤</th>' in html and ">访客数</th>" in html
    assert not [m for m in i18n.missing("zh") if "\u4e00" <= m[:1] <= "\u9fff"]
    text = behaviour.funnel_takeaway(funnel, 72, "strict", 0)
    assert text == (
        "在 **813** 位有过*浏览*行为的访客中，**21.5%** 在 72 小时内完成了*购买*"
        "（18.8%–24.5%，95% Wilson 置信区间；严格顺序）。流失最多的一步是 **加购 → 购买**："
        "有过*加购*的访客中，60% 在窗口内没有*购买*。"
    )
    modes, _ = behaviour.for_display(behaviour.mode_comparison(taobao, steps, 72))
    assert list(modes.index) == ["浏览", "加购", "购买"]
    ax = behaviour_plots.funnel_steps(funnel, 72)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["浏览", "加购", "购买"]
    assert ax.get_title() == "转化漏斗：首步之后 72 小时内到达各步骤的访客"
    matplotlib.pyplot.close("all")


def test_paths_and_dropouts_in_chinese_on_taobao(taobao, zh):
    from analysis import engine

    steps = list(behaviour.DEFAULT_STEPS)
    top, after = engine.paths(taobao, steps, 72 * 3600, "strict", 3)
    paths = behaviour.top_paths(top, 5)
    assert paths["path"].str.contains("浏览").all()
    nexts = behaviour.next_after_dropout(after, steps)
    assert "left" in set(nexts["next"])  # English in the data, Chinese when shown
    words = behaviour.dropout_takeaway(nexts, steps)
    assert words.startswith("中途停下的访客接下来的行为：*浏览*之后")
    assert set(behaviour.dropout_paths(after, steps)["dropped_at"]) <= {"浏览", "加购"}
    ax = behaviour_plots.next_moves(nexts)
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "离开" in legend and ax.get_title() == "访客流失后的下一步行为"
    matplotlib.pyplot.close("all")


# --------------------------------------------------------------------------- recommendations


def test_recommendation_tables_and_takeaways_in_chinese(retail_sample, zh):
    signals = rec.purchase_signals(retail_sample.frame)
    split = rec.make_split(signals, retail_sample.as_of)
    stages = rec.split_table(split)
    assert list(stages.index) == ["选择方法（验证）", "报告结果（测试，未参与选择）", "现在推荐"]
    assert stages["评估截止"].iloc[-1] == "未来" and stages.index.name == "阶段"
    grid = {"als": {"factors": [16], "alpha": [10.0]}}
    c = rec.compare_methods(signals, split, 10, True, grid=grid)
    methods = set(rec.results_table(c.validation, 10).index)
    assert methods == {"基准：近期热门", "基准：自己最常买", "基准：item-kNN", "ALS（implicit）"}
    text = rec.comparison_takeaway(c)
    assert text.startswith("在未参与选择的测试窗口上，最佳模型 **ALS（implicit）**")
    assert "召回率@10" in text
    ax = recommend_plots.method_recall(c.validation, c.test, rec.LABELS, c.shipped, 10)
    assert ax.get_title() == "哪种方法能找到客户下一次要买的商品"
    assert any(t.get_text().endswith("（已采用）") for t in ax.get_yticklabels())
    matplotlib.pyplot.close("all")


def test_reasons_in_chinese():
    signals = pd.DataFrame(
        [("A", "x", "2020-01-01"), ("A", "x", "2020-01-02"), ("B", "x", "2020-01-01"),
         ("B", "y", "2020-01-01"), ("C", "x", "2020-01-03"), ("C", "y", "2020-01-03")],
        columns=["customer_id", "product_id", "day"],
    ).assign(day=lambda f: pd.to_datetime(f["day"]), signal="purchase")  # fmt: skip
    final = rec.fit_final(signals, "2020-01-05", "own_history", {})
    recs = rec.recommend_all(final, k=2)
    set_language("zh")
    try:
        reasons = rec.explain(final, recs, pd.Series({"x": "马克杯", "y": "茶碟"}))
    finally:
        set_language("en")
    by = dict(zip(zip(recs["customer_id"], recs["product_id"], strict=True), reasons, strict=True))
    assert by[("A", "x")] == "之前买过 2 次"
    assert by[("A", "y")] == "常与「马克杯」一起购买"
    assert by[("B", "y")] == "之前买过一次"


# --------------------------------------------------------------------------- a whole report


@pytest.mark.slow
def test_behaviour_notebook_in_chinese_on_taobao(tmp_path):
    """The runner's Chinese render: every Markdown cell and every Markdown output holds
    Chinese, the funnel table shows Chinese steps and headers, the numbers are the English
    report's (813 -> 436 -> 175 visitors)."""
    import json

    source = report.translated_notebook(NOTEBOOKS_DIR / "06_behaviour.ipynb", "zh")
    executed = tmp_path / "06_behaviour.zh.ipynb"
    params = {"events": "taobao", "lang": "zh", "output_dir": str(tmp_path)}
    error = report.execute_notebook(source, executed, params, cwd=NOTEBOOKS_DIR)
    assert error is None, error
    metrics = json.loads((tmp_path / report.METRICS_SUBDIR / "behaviour.json").read_text())
    assert [s["step"] for s in metrics["funnel"]] == ["view", "cart", "purchase"]  # keys stay
    assert [s["visitors"] for s in metrics["funnel"]] == [813, 436, 175]
    nb = nbformat.read(executed, as_version=4)
    cjk = re.compile("[\u4e00-\u9fff]")
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    shown = [
        o["data"]["text/markdown"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    ]
    assert markdown and all(cjk.search(m) for m in markdown)
    assert len(shown) > 10 and [m for m in shown if not cjk.search(m)] == []
    tables = "".join(
        o["data"]["text/html"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "text/html" in o.get("data", {})
    )
    assert ">步骤</th>" in tables and ">浏览</th>" in tables and ">访客数</th>" in tables
    assert "首步之后 72 小时内的转化漏斗（严格顺序）" in tables
