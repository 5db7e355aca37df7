"""What readers see: money, percentages, text from the data made safe, and translation.

Every sentence a notebook shows goes through these helpers, so that amounts look the same
in every report, a ``$`` never turns Markdown into maths, and text from the user's file
(product names, comments) cannot inject markup. :func:`tr` is the translation hook: it
returns the message in the report's language when a catalogue holds it, else the English.
Nothing here knows about the report runner.
"""

from __future__ import annotations

import html
import math
import re

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

    >>> money(1_234_567, "£"), money(12_345, "$"), money(12.5, "£", compact=False, decimals=2)
    ('£1.23M', '\\\\$12k', '£12.50')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    symbol = currency_md(currency)
    sign = "-" if value < 0 else ""
    value = abs(float(value))
    if compact and value >= 1e6:
        return f"{sign}{symbol}{value / 1e6:.2f}M"
    if compact and value >= 1e4:
        return f"{sign}{symbol}{value / 1e3:.0f}k"
    return f"{sign}{symbol}{value:,.{decimals}f}"


def amount(value: float, currency: str = "", decimals: int = 0) -> str:
    """An amount written in full for a sentence (``£12,345``); see :func:`money`."""
    return money(value, currency, compact=False, decimals=decimals)


def pct(value: float, decimals: int = 0) -> str:
    """A share as a percentage (0.123 -> '12%'); NaN gives "n/a"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
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


_LETTER = re.compile(r"[^\W\d_]")


def tr_label(label):
    """A table header or axis label in the report's language.

    Text labels go through :func:`tr` (a missing one is listed); numbers, dates and
    labels without a letter (``2011-12``, ``0-30``) are left as they are.

    >>> tr_label("customers"), tr_label(2011)
    ('customers', 2011)
    """
    if not isinstance(label, str) or not _LETTER.search(label):
        return label
    return tr(label)


def tr_known(value):
    """``value`` translated when the catalogue holds it, else unchanged and not listed as
    missing: for cells and row labels that may be names from a fixed list (segments,
    stages) or text from the data (products, cities)."""
    return i18n.translate(value, record=False) if isinstance(value, str) else value


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


def tr_name(name, names) -> str:
    """``name`` translated when it belongs to the fixed list ``names`` (step, group,
    segment names ...), else as it is: names from the data are never sent to the catalogue.

    >>> tr_name("view", ("view", "cart")), tr_name("Electronics", ("view", "cart"))
    ('view', 'Electronics')
    """
    return tr(name) if isinstance(name, str) and name in names else name
