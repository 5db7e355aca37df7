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
