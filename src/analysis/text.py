"""What readers see: money, percentages, text from the data made safe, and translation.

Every sentence a notebook shows goes through these helpers, so that amounts look the same
in every report, a ``$`` never turns Markdown into maths, and text from the user's file
(product names, comments) cannot inject markup. :func:`tr` is the translation hook: it
returns the message in the report's language when a catalogue holds it, else the English.
Nothing here knows about the report runner.

One way for each kind of reader-facing text (the catalogues are ``locale/<lang>/*.po``):

- a sentence or heading: ``tr("literal text with {placeholders}", placeholders=...)``;
  sentences joined with :func:`sentences`, list items with :func:`listed`;
- a table header or axis label: :func:`tr_label`; whole tables: ``report.style_table``
  (escapes, translates headers) or :func:`tr_labels` on a Styler of numbers;
- a word whose meaning depends on the table (a funnel's "step"): :func:`tr_as` /
  :func:`shown` with a context key such as ``"funnel: step"``;
- a name from a fixed list (segments, stages, steps): ``tr_name(name, NAMES)``, the list
  registered with :func:`analysis.i18n.fixed_names`; a cell that may be such a name or
  text from the data: ``tr_name(value)``;
- amounts :func:`money` / :func:`amount` (万 / 亿 in Chinese), shares :func:`pct`, dates
  :func:`date_label` / :func:`month_label` (2024年3月5日, 2024年3月).
"""

from __future__ import annotations

import html
import math
import re

import pandas as pd

from analysis import i18n

# Characters that change the meaning of inline Markdown (or start maths in JupyterLab);
# others such as ``(``, ``-`` and ``+`` are harmless inside a sentence and left alone.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")


def md_text(value) -> str:
    """Text from the data made safe to put inside ``Markdown(...)``.

    HTML is escaped (``<script>`` shows as text) and inline Markdown markup is
    backslash-escaped (a product called ``*NEW*`` does not turn bold, ``$5`` is not maths).

    >>> print(md_text("<b>*NEW*</b> (2-pack)"))
    &lt;b&gt;\\*NEW\\*&lt;/b&gt; (2-pack)
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(value), quote=False))


def currency_md(currency: str) -> str:
    """A currency symbol ready for Markdown (``$`` escaped so it does not start maths)."""
    return currency.replace("$", "\\$")


#: Large amounts in words, per report language, largest first:
#: (from this amount, divided by, decimals, unit). Smaller amounts are written in full.
COMPACT = {
    "en": ((1e6, 1e6, 2, "M"), (1e4, 1e3, 0, "k")),
    "zh": ((1e8, 1e8, 2, "亿"), (1e7, 1e4, 0, "万"), (1e4, 1e4, 1, "万")),
}


def money(value: float, currency: str = "", compact: bool = True, decimals: int = 0) -> str:
    """An amount for a sentence in Markdown.

    Parameters
    ----------
    value : float
        The amount; NaN gives "n/a".
    currency : str
        Symbol put before the number (``£``, ``$``, ``R$``); ``$`` is escaped.
    compact : bool
        1.23M / 45k for large amounts (sentences); False writes every digit (12,345).
    decimals : int
        Decimals when the amount is written in full.

    In Chinese reports large sums are written with 万 (10⁴) and 亿 (10⁸):
    ``￥45.6万``, ``￥1.23亿`` (see :data:`COMPACT`).

    >>> money(1_234_567, "£"), money(12_345, "$"), money(12.5, "£", compact=False, decimals=2)
    ('£1.23M', '\\\\$12k', '£12.50')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return tr("n/a")
    symbol = currency_md(currency)
    sign = "-" if value < 0 else ""
    value = abs(float(value))
    for start, size, places, unit in COMPACT.get(i18n.current_language(), ()) if compact else ():
        if value >= start:
            number = f"{value / size:.{places}f}".removesuffix(".0")  # 165万, not 165.0万
            return f"{sign}{symbol}{number}{unit}"
    return f"{sign}{symbol}{value:,.{decimals}f}"


def amount(value: float, currency: str = "", decimals: int = 0) -> str:
    """An amount written in full for a sentence (``£12,345``); see :func:`money`."""
    return money(value, currency, compact=False, decimals=decimals)


def pct(value: float, decimals: int = 0) -> str:
    """A share as a percentage (0.123 -> '12%'); NaN gives "n/a"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return tr("n/a")
    return f"{value:.{decimals}%}"


#: HTML class of text meant for the analyst only; a report rendered for business
#: readers (``analysis report --no-input``) leaves it out.
ANALYST_ONLY = "analyst-only"


def for_analyst(text: str) -> str:
    """Advice for the analyst (parameter names, command-line options) inside Markdown.

    JupyterLab and reports with code show it; reports for business readers
    (``--no-input``) drop it, so that their takeaways speak in words only. Keep the
    sentence around it complete without it.

    >>> for_analyst("Pass `--param holdout_days=60`.")
    '<span class="analyst-only">Pass `--param holdout_days=60`.</span>'
    """
    return f'<span class="{ANALYST_ONLY}">{text}</span>'


def absent_note(column: str, what: str) -> str:
    """The sentence shown instead of a section whose optional column is missing.

    Business readers read why the section is empty; the analyst also reads how to map
    the column (see :func:`for_analyst`).
    """
    reader = tr("No {column} column in this data, so there is no {what} here.")
    advice = tr("Map one with `--column {column}=<your column>` (or the `columns` parameter).")
    return f"*{reader.format(column=md_text(column), what=what)}* " + for_analyst(
        f"*{advice.format(column=column)}*"
    )


def sentences(*parts: str) -> str:
    """Sentences joined as the report's language writes them: a space between them in
    English, none in Chinese (the catalogue's ``"{text} {more}"``). Empty parts are skipped.

    >>> sentences("Revenue rose.", "", "Orders fell.")
    'Revenue rose. Orders fell.'
    """
    kept = [p for p in parts if p]
    text = kept[0] if kept else ""
    for more in kept[1:]:
        text = tr("{text} {more}", text=text, more=more)
    return text


def listed(parts) -> str:
    """Items of a list in a sentence, separated as the report's language writes them
    (``", "`` in English, ``"、"`` in Chinese: the catalogue's ``"{items}, {item}"``).

    >>> listed(["Nov 2011", "Dec 2011"])
    'Nov 2011, Dec 2011'
    """
    kept = [str(p) for p in parts]
    text = kept[0] if kept else ""
    for item in kept[1:]:
        text = tr("{items}, {item}", items=text, item=item)
    return text


def set_language(lang: str | None) -> str:
    """Choose the report language for :func:`tr` (see :func:`analysis.i18n.set_language`)."""
    return i18n.set_language(lang)


def tr(message: str, **values) -> str:
    """The translation hook: ``message`` in the report's language, formatted with ``values``.

    A message missing from the catalogue falls back to English.

    >>> tr("{n} customers", n=3)
    '3 customers'
    """
    text = i18n.translate(message)
    return text.format(**values) if values else text


# Messages are English: a label without a Latin letter is a number, a date or text already
# in the report's language (a translated header), never a message.
_LETTER = re.compile(r"[A-Za-z]")


def tr_label(label):
    """A table header or axis label in the report's language.

    Text labels go through :func:`tr` (a missing one is listed); numbers, dates and
    labels without a Latin letter (``2011-12``, ``0-30``, a header already in
    Chinese) are left as they are.

    >>> tr_label("customers"), tr_label(2011)
    ('customers', 2011)
    """
    if not isinstance(label, str) or not _LETTER.search(label):
        return label
    if label in i18n.translations(i18n.current_language()):
        return label  # already shown in the report language (see tr_as)
    return tr(label)


#: Dates in words per report language (``str.format`` with year, month, day); a language
#: without an entry uses the English strftime format the caller gives.
DATE_FORMATS = {"zh": {"day": "{year}年{month}月{day}日", "month": "{year}年{month}月"}}


def date_label(value, english: str = "%d %b %Y") -> str:
    """A day for readers: ``05 Mar 2024`` (``english`` strftime format), ``2024年3月5日``.

    ``value``: a date, Timestamp or Period; NaT/None gives "n/a".

    >>> day = pd.Timestamp("2024-03-05")
    >>> date_label(day), date_label(day, "%Y-%m-%d")
    ('05 Mar 2024', '2024-03-05')
    """
    return _date_text(value, "day", english)


def month_label(value, english: str = "%b %Y") -> str:
    """A month for readers: ``Mar 2024`` (``english`` strftime format), ``2024年3月``."""
    return _date_text(value, "month", english)


def _date_text(value, kind: str, english: str) -> str:
    if value is None or pd.isna(value):
        return tr("n/a")
    words = DATE_FORMATS.get(i18n.current_language(), {}).get(kind)
    if words is None:
        return value.strftime(english)
    return words.format(year=value.year, month=value.month, day=value.day)


def tr_labels(styler, index: bool = True, columns: bool = True):
    """A pandas Styler whose header labels and index names show in the report's language.

    The table keeps its English labels (format keys, exports); only what is displayed is
    translated, with :func:`tr_label` (numbers and dates left alone). Pass ``index=False``
    when the index holds data (customer ids) rather than names; tables shown through
    ``report.style_table`` need no call (it translates their headers).

    Replaces earlier ``format_index`` formatting of the axes it translates.
    """
    if columns:
        styler = styler.format_index(tr_label, axis=1).format_index_names(tr_label, axis=1)
    if index:
        styler = styler.format_index(tr_label, axis=0).format_index_names(tr_label, axis=0)
    return styler


def tr_as(key: str, word: str) -> str:
    """``word`` under a translation of its own: the catalogue's entry for ``key`` (e.g.
    ``"funnel: step"``) when there is one, else ``word`` (so English is unchanged).

    For words that mean different things in different tables: a funnel's "step" is not a
    forecast's, an interval's "low" is not a value tier's.

    >>> tr_as("interval: low", "low")
    'low'
    """
    text = i18n.translate(key)
    return word if text == key else text


def shown(table, contexts: dict, formats=None):
    """``table`` and its ``formats`` with the headers named in ``contexts`` (English
    header -> context key) shown through :func:`tr_as`; others are left to
    ``report.style_table``. Returns ``(table, formats)``."""
    names = {c: tr_as(key, c) for c, key in contexts.items()}
    table = table.rename(columns=names).rename_axis(
        index=[names.get(n, n) for n in table.index.names]
    )
    if isinstance(formats, dict):
        formats = {names.get(k, k): v for k, v in formats.items()}
    return table, formats


def tr_name(name, names=None):
    """A name that may come from a fixed list (step, group, segment, stage names ...) in
    the report's language; text from the data (products, cities) stays as it is.

    With ``names`` (the fixed list), ``name`` is translated when it belongs to it (a
    missing translation is listed) and otherwise never sent to the catalogue. Without
    ``names`` (a table cell, a row label of unknown origin), it is translated when the
    catalogue holds it, else shown as it is and not listed as missing. Non-text values
    are returned unchanged.

    >>> tr_name("view", ("view", "cart")), tr_name("Electronics", ("view", "cart"))
    ('view', 'Electronics')
    """
    if not isinstance(name, str):
        return name
    if names is None:
        return i18n.translate(name, record=False)
    return tr(name) if name in names else name


_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.S)


def cjk_emphasis(markdown: str) -> str:
    """``**bold**`` written as ``<strong>`` in Markdown that holds CJK text.

    CommonMark closes ``**`` only where it is "right-flanking": after punctuation it must
    be followed by a space or punctuation, which Chinese never writes (``**流失窗口：121
    天。**该窗口`` would show its asterisks). Text without CJK characters is unchanged.

    >>> cjk_emphasis("**定义：**截止日后"), cjk_emphasis("**Definition:** no purchase")
    ('<strong>定义：</strong>截止日后', '**Definition:** no purchase')
    """
    from analysis.webfont import cjk_characters  # the one definition of a CJK character

    if not cjk_characters(markdown):
        return markdown
    return _BOLD.sub(r"<strong>\1</strong>", markdown)
