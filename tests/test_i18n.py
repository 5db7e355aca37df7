"""Report languages: catalogues are read, missing messages fall back and are listed."""

import pytest

from analysis import i18n
from analysis.text import set_language, tr


@pytest.fixture(autouse=True)
def english_after():
    yield
    set_language("en")


def test_chinese_catalogue_translates_and_formats():
    assert "zh" in i18n.languages()
    assert set_language("zh-CN") == "zh"
    assert tr("{n} customers", n=3) == "3 位客户"


def test_missing_message_falls_back_to_english_and_is_listed():
    set_language("zh")
    assert tr("A sentence nobody translated") == "A sentence nobody translated"
    assert "A sentence nobody translated" in i18n.missing("zh")


def test_unknown_language_is_a_clear_error():
    with pytest.raises(ValueError, match="available: en, zh"):
        set_language("klingon")


@pytest.mark.parametrize("lang", [lang for lang in i18n.languages() if lang != "en"])
def test_each_message_is_translated_in_one_po_file_only(lang):
    """The catalogue merges the area files; a message translated in two of them would have
    two translations, one silently winning (24 such pairs differed: "segment" was 客户群 in
    three reports and 分层 in another). Each message lives in one file."""
    from babel.messages.pofile import read_po

    where: dict[str, list[str]] = {}
    for path in sorted((i18n.LOCALE_DIR / lang).glob("*.po")):
        with open(path, "rb") as handle:
            for message in read_po(handle):
                if message.id:
                    where.setdefault(str(message.id), []).append(path.name)
    twice = {m: files for m, files in where.items() if len(files) > 1}
    assert not twice, f"{len(twice)} messages in several files, e.g. {next(iter(twice.items()))}"
    assert len(where) == len(i18n.catalogue(lang)) > 1000


def test_files_in_another_language_carry_it_before_the_suffix(tmp_path):
    from analysis import report

    assert i18n.file_name("recommendations.csv", "zh") == "recommendations.zh.csv"
    assert i18n.file_name("01_demand", "zh-CN") == "01_demand.zh"
    assert i18n.file_name("recommendations.csv", "en") == "recommendations.csv"
    set_language("zh")
    assert report.export_path(tmp_path, "followup.csv", worded=True).name == "followup.zh.csv"
    assert report.export_path(tmp_path, "segments.csv").name == "segments.csv"  # numbers
    set_language("en")
    assert report.export_path(tmp_path, "followup.csv", worded=True).name == "followup.csv"
