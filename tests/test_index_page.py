"""The index page: key-number cards, findings in words, links, for a manager to open first."""

import json

from analysis.index_page import (
    build_index,
    kpi_cards,
    metric_value,
    notebook_findings,
    sparkline,
)


def _notebook(path, *markdown_outputs):
    cells = [
        {
            "cell_type": "code",
            "metadata": {},
            "source": "",
            "outputs": [
                {"output_type": "display_data", "data": {"text/markdown": text}, "metadata": {}}
            ],
        }
        for text in markdown_outputs
    ]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4}))
    return path


def test_cards_show_value_unit_change_and_trend():
    periods = ["2024-03-31", "2024-02-29", "2024-01-31"]
    metrics = [
        {
            "overview": {"currency": "£", "customers": 130},
            "demand": {"revenue_last_period": 120_000.0},
            "churn": {"base_rate": 0.45},
        },
        {
            "overview": {"currency": "£", "customers": 120},
            "demand": {"revenue_last_period": 100_000.0},
            "churn": {"base_rate": 0.40},
        },
        {
            "overview": {"currency": "£", "customers": 100},
            "demand": {"revenue_last_period": 90_000.0},
        },
    ]
    html = kpi_cards(metrics, periods)
    assert html.count("class='card'") == 3
    assert "Revenue, last complete period" in html and "£120,000" in html
    assert "<div class='change good'>+20.0% vs 2024-02-29</div>" in html
    # a higher churn rate is bad news, written in points of a share
    assert "<div class='change bad'>+5.0 points vs 2024-02-29</div>" in html
    assert html.count("<polyline") == 3  # each number has a trend over the periods


def test_first_period_says_so_and_sparkline_needs_two_points():
    html = kpi_cards([{"overview": {"customers": 5}}], ["2024-01-31"])
    assert "first period: no change to show yet" in html and "<svg" not in html
    assert sparkline([None, 3.0]) == ""
    line = sparkline([1.0, None, 3.0], width=100, height=20)
    assert "points='0.0,17.0 100.0,3.0'" in line  # oldest left low, newest right high


def test_metric_value_reads_dotted_keys_with_spaces():
    metrics = {"segmentation": {"stage_counts": {"at risk": 53, "new": 4}}}
    assert metric_value(metrics, "segmentation.stage_counts.at risk") == 53
    assert metric_value(metrics, "segmentation.stage_counts.lost") is None
    assert metric_value(metrics, "churn.base_rate") is None


def test_findings_are_the_closing_list_else_first_sentences(tmp_path):
    bullets = "- **Champions** bring 56% of revenue.\n- Gini 0.82.\n- 53 at risk.\n- fourth"
    nb = _notebook(
        tmp_path / "a.ipynb",
        "**Data:** `sample` · **as of** 2011-09-30",
        "Champions are 11% of customers. The largest group is Lost.",
        bullets,
        "| Headline number | value |\n|---|---:|\n| x | 1 |",
    )
    assert notebook_findings(nb) == [
        "**Champions** bring 56% of revenue.",
        "Gini 0.82.",
        "53 at risk.",
    ]
    nb = _notebook(
        tmp_path / "b.ipynb",
        "**Data:** `sample` · **as of** 2011-09-30",
        "### Top 10 by region",
        "**260 customers** placed **1,058 orders** between 2010-12-01 and 2011-10-31. "
        "60% bought twice.",
        '*No channel column in this data.* <span class="analyst-only">*Map one.*</span>',
        "Wrote `segments.csv`: 235 customers.",
        'The strongest month was **2011-09** (£140,198, e.g. in Sep.). <span class="analyst-'
        'only">Pass `--param x=1`.</span>',
        "Orders peak at 12:00. Campaigns then.",
        "A fourth takeaway.",
    )
    assert notebook_findings(nb) == [
        "**260 customers** placed **1,058 orders** between 2010-12-01 and 2011-10-31.",
        "The strongest month was **2011-09** (£140,198, e.g. in Sep.).",
        "Orders peak at 12:00.",
    ]


def test_index_shows_findings_links_and_not_applicable_reasons(tmp_path):
    folder = tmp_path / "2024-02-29"
    folder.mkdir()
    (folder / "02_segmentation.html").write_text("<html></html>")
    _notebook(folder / "02_segmentation.ipynb", "- **Champions** bring *56%* of revenue.")
    (folder / "05_satisfaction.html").write_text("<html></html>")
    run = {
        "source": {"data": "online_retail"},
        "notebooks": {
            "segmentation": {"status": "ok"},
            "satisfaction": {
                "status": "not applicable",
                "error": "NotApplicable: no feedback table. Pass `--feedback FILE`.",
            },
        },
    }
    (folder / "run.json").write_text(json.dumps(run))
    (folder / "metrics.json").write_text(json.dumps({"segmentation": {"k": 3}}))
    html = build_index(tmp_path).read_text()
    assert "<h2>online_retail, as of 2024-02-29</h2>" in html
    assert "<a href='2024-02-29/02_segmentation.html'>Customer segments</a>" in html
    assert "<li><strong>Champions</strong> bring <em>56%</em> of revenue.</li>" in html
    assert "Satisfaction</a> <span class='na'>(not applicable)</span>" in html
    assert "<p>No feedback table.</p>" in html  # the advice stays in the page
    assert "satisfaction (not applicable)" in html  # and the period's links mark it too


def test_a_long_finding_keeps_its_first_two_sentences(tmp_path):
    long = (
        "- **Warning quality:** **The logistic regression wins.** It ranks churners better "
        "(ROC-AUC 0.806 vs. 0.766). " + "Baselines: recency only, AUC 0.653. " * 6
    )
    nb = _notebook(tmp_path / "c.ipynb", long)
    assert notebook_findings(nb) == [
        "**Warning quality:** **The logistic regression wins.** It ranks churners better "
        "(ROC-AUC 0.806 vs. 0.766)."
    ]


def test_chinese_findings_end_at_the_chinese_full_stop(tmp_path):
    nb = _notebook(
        tmp_path / "zh.ipynb",
        "**数据：**`online_retail` · **截至** 2011-12-09",
        "**288 位客户**下了 **1,308 笔订单**。61% 的客户在不止一天购买过。",
    )
    assert notebook_findings(nb) == ["**288 位客户**下了 **1,308 笔订单**。"]
