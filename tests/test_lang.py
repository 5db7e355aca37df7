"""Report languages end to end: ``--lang zh`` pages beside the English ones, one set of
numbers, Markdown cells translated by the runner, Chinese numbers and dates."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from analysis import i18n, report
from tests.test_reliability import cli, make_notebook, sha256

BODY = """from IPython.display import Markdown, display
import analysis.text
from analysis import report
analysis.text.set_language(lang)
display(Markdown(analysis.text.tr("{n} customers", n=3)))
report.record_metrics("fine", {"as_of": as_of, "customers": 3}, output_dir)
out = report.export_path(output_dir, "fine.csv")
if out:
    out.write_text("customer_id,value\\n1,2\\n")"""


@pytest.fixture(autouse=True)
def english_after():
    """The runner sets the language of its process: leave English to the next test."""
    yield
    i18n.set_language("en")


def tiny_notebook(folder: Path, name: str = "00_fine") -> Path:
    """The runner tests' tiny notebook, with a ``lang`` parameter and a Markdown cell."""
    path = make_notebook(folder, name, BODY)
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += '\nlang: str = "en"  # report language'
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# Fine"))
    nbformat.write(nb, path)
    return path


def test_page_names_and_run_entries_carry_the_language():
    assert report.page_stem("notebooks/01_demand.ipynb", "en") == "01_demand"
    assert report.page_stem("notebooks/01_demand.ipynb", None) == "01_demand"
    assert report.page_stem("notebooks/01_demand.ipynb", "zh-CN") == "01_demand.zh"
    assert report.report_name("notebooks/01_demand.ipynb", "zh") == "demand.zh"
    assert report.short_name("01_demand.zh.html") == "demand.zh"
    assert report.notebook_of("demand.zh") == report.notebook_of("demand") == "demand"


def test_language_is_not_part_of_the_data_source():
    assert "lang" in report.COMMON_PARAMETERS and "lang" in report.NOT_SOURCE_PARAMETERS
    en = report.data_source({"data": "online_retail", "lang": "en"})
    zh = report.data_source({"data": "online_retail", "lang": "zh"})
    assert en == zh == {"data": "online_retail"}


def test_an_unknown_language_is_a_one_line_usage_error(capsys):
    code, _, err, _ = cli(["report", "--data", "online_retail_sample", "--lang", "klingon"])
    assert code == 2
    assert err.strip() == ("error: --lang: unknown report language 'klingon'; available: en, zh")


@pytest.mark.slow
def test_english_and_chinese_renders_of_a_period_live_side_by_side(tmp_path):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    tiny_notebook(nbs)
    base = ["report", "--data", "online_retail_sample", "--notebooks-dir", nbs, "--out", out]
    code, _, err, _ = cli(base)
    assert code == 0, err
    period = out / "2011-12-09"
    english = {p.name: sha256(p) for p in period.glob("00_fine.*")}
    assert set(english) == {"00_fine.html", "00_fine.ipynb"}
    metrics_en = json.loads((period / "metrics.json").read_text())

    code, stdout, err, _ = cli([*base, "--lang", "zh"])
    assert code == 0, err
    assert not list(out.glob("2011-12-09_*")), "the language must not make a new data source"
    assert {p.name: sha256(p) for p in period.glob("00_fine.html")} == {
        "00_fine.html": english["00_fine.html"]
    }  # the English page is untouched
    zh_html = (period / "00_fine.zh.html").read_text(encoding="utf-8")
    assert "3 位客户" in zh_html
    assert "3 customers" in (period / "00_fine.html").read_text(encoding="utf-8")
    assert json.loads((period / "metrics.json").read_text()) == metrics_en  # same numbers
    run = json.loads((period / "run.json").read_text())
    assert run["notebooks"]["fine"]["lang"] == "en" or "lang" not in run["notebooks"]["fine"]
    assert run["notebooks"]["fine.zh"]["lang"] == "zh"
    assert run["notebooks"]["fine.zh"]["files"] == [
        "00_fine.zh.ipynb",
        "00_fine.zh.html",
        "fine.csv",
    ]
    assert run["notebooks"]["fine"]["status"] == run["notebooks"]["fine.zh"]["status"] == "ok"
    index = (out / "index.html").read_text(encoding="utf-8")
    index_zh = (out / "index.zh.html").read_text(encoding="utf-8")
    assert "2011-12-09/00_fine.html" in index and "2011-12-09/00_fine.zh.html" not in index
    assert "2011-12-09/00_fine.zh.html" in index_zh and "<html lang='zh-CN'>" in index_zh
    assert "href='index.zh.html'" in index and "href='index.html'" in index_zh

    # a back-fill in Chinese finds the Chinese page done; in English, the English one
    months = ["--from", "2011-12", "--to", "2011-12"]
    for lang in ("zh", "en"):
        code, stdout, err, _ = cli([*base, *months, "--lang", lang])
        assert code == 0 and "report complete, skipped" in stdout, (lang, stdout, err)


MARKDOWN_BODY = """from IPython.display import Markdown, display
import analysis.text
analysis.text.set_language(lang)
display(Markdown(analysis.text.tr("{n} customers", n=3)))
display(Markdown(analysis.text.tr("A sentence no catalogue holds")))"""


@pytest.mark.slow
def test_markdown_cells_are_translated_and_misses_are_recorded(tmp_path, monkeypatch):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    path = make_notebook(nbs, "00_words", MARKDOWN_BODY)
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += '\nlang: str = "en"  # report language'
    nb.cells[:0] = [
        nbformat.v4.new_markdown_cell("# Words\n\n{n} customers\n"),  # msgid: stripped source
        nbformat.v4.new_markdown_cell("## A heading nobody translated"),
    ]
    nbformat.write(nb, path)
    monkeypatch.setitem(i18n.catalogue("zh"), "# Words\n\n{n} customers", "# 词语\n\n{n} 位客户")
    base = ["report", "--data", "online_retail_sample", "--notebooks-dir", nbs, "--out", out]
    code, stdout, err, _ = cli([*base, "--lang", "zh", "--jobs", "1"])
    assert code == 0, err
    period = out / "2011-12-09"
    page = (period / "00_words.zh.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "词语" in page and "3 位客户" in page
    assert "A heading nobody translated" in page  # falls back to English ...
    run = json.loads((period / "run.json").read_text())
    assert run["notebooks"]["words.zh"]["untranslated"] == [  # ... and is listed
        "## A heading nobody translated",
        "A sentence no catalogue holds",
    ]
    assert "translations (zh): 2 message(s) shown in English on 1 page(s)" in stdout
    executed = nbformat.read(period / "00_words.zh.ipynb", as_version=4)
    assert not [c for c in executed.cells if report.RUNNER_CELL_TAG in c.metadata.get("tags", [])]
    assert not (period / report.I18N_SUBDIR).exists()
    # English is left as it was: no runner cell, no record of misses
    code, _, err, _ = cli(base)
    assert code == 0, err
    english = (period / "00_words.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in english and "词语" not in english
    assert "untranslated" not in json.loads((period / "run.json").read_text())["notebooks"]["words"]


def test_table_headers_and_fixed_names_are_translated_data_text_is_not(monkeypatch):
    import pandas as pd

    from analysis.text import set_language

    for msgid, msgstr in {
        "customers": "客户数",
        "segment": "分群",
        "Champions": "冠军客户",
    }.items():
        monkeypatch.setitem(i18n.catalogue("zh"), msgid, msgstr)
    frame = pd.DataFrame(
        {
            "segment": ["Champions", "<b>Bold</b>"],
            "customers": [3, 4],
            "untranslated header": [1.5, 2.0],
        }
    )
    set_language("zh")
    page = report.style_table(
        frame.set_index("segment"), {"untranslated header": "£{:,.0f}"}
    ).to_html()
    flat = report.style_table(frame, {"untranslated header": "£{:,.0f}"}, hide_index=True).to_html()
    for html_text in (page, flat):
        assert ">客户数</th>" in html_text and ">冠军客户<" in html_text and ">£2<" in html_text
        assert "&lt;b&gt;Bold&lt;/b&gt;" in html_text  # data text: escaped, as it is
        assert ">untranslated header</th>" in html_text  # no translation: English, listed
    assert ">分群</th>" in page  # the index name
    assert "untranslated header" in i18n.missing("zh") and "<b>Bold</b>" not in i18n.missing("zh")
    set_language("en")
    english = report.style_table(frame.set_index("segment")).to_html()
    assert ">customers</th>" in english and ">Champions<" in english


def test_chinese_sums_use_wan_and_yi_english_stays_as_it_was():
    import pandas as pd

    from analysis.text import amount, date_label, money, month_label, pct, set_language

    day, month = pd.Timestamp("2024-03-05 14:22"), pd.Period("2024-03", "M")
    english = [
        money(123_000_000, "￥"),
        money(456_000, "￥"),
        money(12_345_678, "￥"),
        money(12_345, "£"),
        money(999, "£"),
        amount(123_456, "￥"),
        pct(0.123),
        date_label(day),
        month_label(month),
        money(float("nan")),
    ]
    assert english == [
        "￥123.00M",
        "￥456k",
        "￥12.35M",
        "£12k",
        "£999",
        "￥123,456",
        "12%",
        "05 Mar 2024",
        "Mar 2024",
        "n/a",
    ]
    set_language("zh")
    assert money(123_000_000, "￥") == "￥1.23亿"
    assert money(456_000, "￥") == "￥45.6万"
    assert money(12_345_678, "￥") == "￥1235万"
    assert money(-45_600, "￥") == "-￥4.6万"
    assert money(9_999, "￥") == "￥9,999" and amount(123_456, "￥") == "￥123,456"
    assert pct(0.123) == "12%"  # percentages unchanged
    assert date_label(day) == "2024年3月5日" and date_label(day, "%Y-%m-%d") == "2024年3月5日"
    assert month_label(month) == "2024年3月" and month_label(day) == "2024年3月"


def test_money_axis_ticks_in_wan_and_yi():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis import plots
    from analysis.text import set_language

    ticks = {}
    for lang in ("en", "zh"):
        set_language(lang)
        _, ax = plt.subplots()
        plots.money_axis(ax, "y", "￥")
        fmt = ax.yaxis.get_major_formatter()
        ticks[lang] = [fmt(v, 0) for v in (500, 45_000, 2_500_000, 150_000_000)]
        plt.close("all")
    assert ticks["en"] == ["￥500", "￥45k", "￥2.5M", "￥150.0M"]
    assert ticks["zh"] == ["￥500", "￥4.5万", "￥250万", "￥1.5亿"]


def test_metric_labels_are_translated_at_display_time(monkeypatch):
    from analysis import metrics
    from analysis.text import set_language

    monkeypatch.setitem(i18n.catalogue("zh"), "{key} (customers)", "{key}（客户数）")
    monkeypatch.setitem(i18n.catalogue("zh"), "Promising", "有潜力客户")
    key = "segmentation.segment_counts.Promising"
    assert metrics.metric_label(key) == metrics.metric_info(key).label == "Promising (customers)"
    set_language("zh")
    assert metrics.metric_label(key) == "有潜力客户（客户数）"
    assert metrics.metric_info(key).label == "Promising (customers)"  # data stays English
    assert (
        "有潜力客户（客户数）"
        in metrics.headline("segmentation", {"segment_counts": {"Promising": 5}}).data
    )
