"""The missing-translation check: every reader-facing message, and which lack Chinese."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from analysis import i18n, translations
from tests.test_reliability import cli


@pytest.fixture(scope="module")
def messages():
    return translations.all_messages()


def test_the_check_finds_code_notebook_and_fixed_name_messages(messages):
    by_id = {m.msgid: m for m in messages}
    # a tr() literal, with its place
    absent = by_id["No {column} column in this data, so there is no {what} here."]
    assert absent.kind == "tr" and absent.where.startswith("src/analysis/text.py:")
    # a whole Markdown cell, stripped, as the runner looks it up
    overview = [m for m in messages if m.where == "notebooks/00_overview.ipynb:1"]
    assert overview and overview[0].msgid.startswith("# Data overview: what is in the purchase")
    assert overview[0].msgid == overview[0].msgid.strip()
    # metric labels: registered names (not tr() literals)
    assert by_id["Revenue, last complete period"].kind == "names"
    assert len(messages) == len(by_id)  # each message once


def test_a_registered_name_is_checked_and_a_translation_removes_it(monkeypatch):
    monkeypatch.setattr(i18n, "_NAMES", dict(i18n._NAMES))  # the fake area goes afterwards
    names = i18n.fixed_names("tests.fake", ("A name nobody translated", "Customers"))
    assert names == ("A name nobody translated", "Customers")
    listed = translations.untranslated("zh", translations.name_messages())
    assert "A name nobody translated" in {m.msgid for m in listed}
    monkeypatch.setitem(i18n.catalogue("zh"), "A name nobody translated", "没人翻译的名字")
    listed = translations.untranslated("zh", translations.name_messages())
    assert "A name nobody translated" not in {m.msgid for m in listed}
    assert translations.untranslated("en") == []


def test_tr_of_an_fstring_is_reported(tmp_path):
    (tmp_path / "mod.py").write_text(
        'x = 1\ny = tr(f"{x} customers")\nz = tr("{n} ok", n=f"{x}")\n'
    )
    assert translations.fstring_calls(tmp_path) == ["src/analysis/mod.py:2"]


@pytest.mark.slow
def test_the_command_lists_what_is_missing_per_file_and_writes_a_po_file(tmp_path):
    po = tmp_path / "missing.po"
    code, out, err, _ = cli(["translations", "--lang", "zh", "--po", str(po)])
    head = out.splitlines()[0]
    total = int(head.split(" of ")[1].split()[0])
    missing = int(head.split(": ")[1].split(" of ")[0])
    assert total > 300 and code == (1 if missing else 0), out
    if missing:
        with open(po, "rb") as handle:
            assert len([m for m in read_po(handle) if m.id]) == missing
    code, _, err, _ = cli(["translations", "--lang", "klingon"])
    assert code == 2 and "available: en, zh" in err


@pytest.mark.slow
def test_every_reader_facing_message_has_a_chinese_translation(messages):
    missing = translations.untranslated("zh", messages)
    assert not missing, translations.summary("zh", messages, missing)
    assert translations.fstring_calls() == []
