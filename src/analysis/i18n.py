"""Report languages: message catalogues, the current language, and what is untranslated.

English is the source language: every reader-facing sentence in the package is written in
English and wrapped in :func:`analysis.text.tr`; notebooks' Markdown cells are written in
English too. Translations live in gettext PO files, one or more per language, under
``src/analysis/locale/<lang>/*.po`` (read with Babel; all files of a language are merged,
so that each area of the project keeps its own file). A message without a translation
falls back to English and is remembered, so that :func:`missing` (and ``analysis
translations --lang zh``) lists it instead of hiding it.

Nothing here knows about the report runner.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path

from babel.messages.pofile import read_po

#: Where the catalogues are: ``locale/<lang>/*.po``.
LOCALE_DIR = Path(__file__).parent / "locale"
#: The source language, needing no catalogue.
SOURCE_LANGUAGE = "en"

_state: dict[str, str | None] = {"lang": SOURCE_LANGUAGE, "missing_log": None}
_missing: dict[str, set[str]] = {}


def languages() -> tuple[str, ...]:
    """The report languages available: English and every folder under :data:`LOCALE_DIR`."""
    found = sorted(p.name for p in LOCALE_DIR.iterdir() if p.is_dir() and any(p.glob("*.po")))
    return (SOURCE_LANGUAGE, *(lang for lang in found if lang != SOURCE_LANGUAGE))


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """English message -> translation for ``lang``, merged from its PO files (fuzzy and
    empty entries left out, so that they fall back to English)."""
    messages: dict[str, str] = {}
    folder = LOCALE_DIR / lang
    for path in sorted(folder.glob("*.po")) if folder.is_dir() else []:
        with open(path, "rb") as handle:
            for message in read_po(handle, locale=None):
                if message.id and message.string and not message.fuzzy:
                    messages[str(message.id)] = str(message.string)
    return messages


def language_code(lang: str | None) -> str:
    """The catalogue name of a report language (``zh-CN`` -> ``zh``; None -> ``en``).

    An unknown language is an error naming the ones available (a report silently in
    the wrong language would be worse).
    """
    lang = (lang or SOURCE_LANGUAGE).strip().lower().replace("_", "-")
    lang = {"zh-cn": "zh", "zh-hans": "zh", "cn": "zh"}.get(lang, lang)
    if lang not in languages():
        raise ValueError(f"unknown report language {lang!r}; available: {', '.join(languages())}")
    return lang


@functools.cache
def translations(lang: str) -> frozenset[str]:
    """Every translation of ``lang``'s catalogue: text already in the report language."""
    return frozenset(catalogue(lang).values())


def set_language(lang: str | None) -> str:
    """Choose the report language; returns the one in use.

    ``None`` or ``""`` means English; see :func:`language_code`.
    """
    _state["lang"] = language_code(lang)
    return _state["lang"]


def current_language() -> str:
    """The language :func:`translate` writes in now."""
    return _state["lang"]


def file_name(name: str, lang: str | None = None) -> str:
    """The name of a file written in report language ``lang`` (default: the current one).

    English files keep ``name``; another language puts its code before the suffix
    (``01_demand.zh.html``, ``recommendations.zh.csv``), so that a period rendered in both
    languages keeps both and neither overwrites the other. Pages and the exports that hold
    words in the report language (reasons) are named this way; exports of numbers and
    English labels are shared by the languages.
    """
    code = language_code(lang) if lang else _state["lang"]
    if code == SOURCE_LANGUAGE:
        return name
    path = Path(name)
    return f"{path.stem}.{code}{path.suffix}"


#: The value of ``<html lang=...>`` for a report language (BCP 47).
HTML_LANG = {"zh": "zh-CN"}


def html_lang(lang: str | None = None) -> str:
    """The ``<html lang>`` value of ``lang`` (default: the current language)."""
    code = language_code(lang) if lang else _state["lang"]
    return HTML_LANG.get(code, code)


def translate(message: str, lang: str | None = None, record: bool = True) -> str:
    """``message`` in ``lang`` (default: the current language); English when the
    catalogue lacks it (and the message is remembered as missing, unless ``record`` is
    False: for text that may come from the data, such as a table's cells)."""
    lang = lang or _state["lang"]
    if lang == SOURCE_LANGUAGE or not message:
        return message
    text = catalogue(lang).get(message)
    if text is None:
        if record:
            _note_missing(lang, message)
        return message
    return text


def _note_missing(lang: str, message: str) -> None:
    known = _missing.setdefault(lang, set())
    if message in known:
        return
    known.add(message)
    log = _state.get("missing_log")
    if log:  # a report being rendered: the runner reads this file afterwards
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"lang": lang, "msgid": message}, ensure_ascii=False) + "\n")


def log_missing_to(path: str | Path | None) -> None:
    """Also append every message found missing from now on to ``path`` (JSON lines).

    The report runner sets this in each kernel it starts, so that ``run.json`` can list
    what a report showed in English; None stops logging.
    """
    _state["missing_log"] = str(path) if path else None
    if path:
        for lang, messages in _missing.items():
            with open(path, "a", encoding="utf-8") as handle:
                for message in sorted(messages):
                    row = {"lang": lang, "msgid": message}
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_missing_log(path: str | Path) -> list[str]:
    """The messages a :func:`log_missing_to` file holds (sorted, each once)."""
    path = Path(path)
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return sorted({row["msgid"] for row in rows})


def missing(lang: str | None = None) -> list[str]:
    """Messages asked for in ``lang`` (default: the current one) that had no translation."""
    return sorted(_missing.get(lang or _state["lang"], set()))


_NAMES: dict[str, tuple[str, ...]] = {}


def fixed_names(area: str, names: Iterable[str]) -> tuple[str, ...]:
    """Register the names of a fixed list that readers see through ``tr(name)``.

    Segment, stage, step and metric names are not literal ``tr("...")`` calls, so the
    extractor cannot find them; a module registers its list once, at import, and
    ``analysis translations`` checks that every name has a translation::

        SEGMENTS = i18n.fixed_names(__name__, ("Champions", "Loyal", ...))

    Returns the names as a tuple (so the registering line can define the list).
    """
    names = tuple(str(n) for n in names)
    _NAMES[area] = tuple(dict.fromkeys((*_NAMES.get(area, ()), *names)))
    return names


def registered_names() -> dict[str, tuple[str, ...]]:
    """Area (module) -> the fixed names it registered with :func:`fixed_names`."""
    return dict(_NAMES)
