"""The first page of a report folder (``reports/index.html``): what a manager opens first.

For each data source, the newest period's key numbers as cards (human name, value with its
unit, the change against the period before coloured by whether it is good for the
business, and a small trend across periods), then each notebook's two or three findings
in words with a link to its report, then every period's reports (failed and
not-applicable pages marked), and last, folded away, every headline number by period.
Raw values stay in each period's ``metrics.json``.

The findings are read from the rendered notebooks themselves: the bullet list a notebook
ends with (its ``findings`` takeaway), else the first sentence of its first takeaways. So
the page speaks the report's language and never restates a number differently from the
report it links to.
"""

from __future__ import annotations

import fcntl
import functools
import html
import json
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path

from analysis.i18n import (
    SOURCE_LANGUAGE,
    catalogue,
    current_language,
    fixed_names,
    html_lang,
    languages,
    set_language,
)
from analysis.metrics import (
    KPIS,
    change_class,
    flatten,
    format_value,
    metric_info,
    metric_label,
)
from analysis.report import (
    METRICS_FILE,
    RUN_FILE,
    _read_json,
    data_source,
    notebook_of,
    notebook_paths,
    short_name,
    source_key,
    source_label,
)
from analysis.text import ANALYST_ONLY, cjk_emphasis, tr
from analysis.webfont import embed_cjk_font

PERIOD_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(_[a-z0-9-]+)?$")

#: Reader-facing names of the notebooks, in report order.
NOTEBOOK_TITLES = {
    "overview": "Overview",
    "demand": "Demand",
    "segmentation": "Customer segments",
    "lifetime_value": "Lifetime value",
    "churn": "Churn warning",
    "satisfaction": "Satisfaction",
    "behaviour": "Behaviour and channels",
    "recommendations": "Recommendations",
    "lifecycle": "Prospects and conversion",
}
fixed_names(__name__, NOTEBOOK_TITLES.values())

#: How many key numbers and findings per notebook the page shows.
MAX_CARDS, MAX_FINDINGS = 8, 3

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC","PingFang SC",
"Microsoft YaHei",sans-serif;margin:2rem auto;max-width:1200px;color:#1f2933;padding:0 1rem}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem}p.sub{color:#52606d;margin-top:0}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{border-bottom:1px solid #e4e7eb;
padding:.35rem .7rem;text-align:right}th:first-child,td:first-child{text-align:left}
thead th{background:#f5f7fa}td.good{color:#1b7a3d}td.bad{color:#b42318}a{color:#1d4ed8}
.failed{color:#b42318;font-weight:600}.na{color:#8a6d00}
.nb{font-weight:600;background:#fafbfc;text-align:left}th.left,td.left{text-align:left}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:.8rem;
margin:1rem 0}
.card{border:1px solid #e4e7eb;border-radius:8px;padding:.8rem 1rem;background:#fff}
.card .label{color:#52606d;font-size:.85rem;min-height:2.2em}
.card .value{font-size:1.6rem;font-weight:650;margin:.2rem 0}
.card .change{font-size:.85rem;color:#52606d}.card .change.good{color:#1b7a3d}
.card .change.bad{color:#b42318}.card svg{display:block;margin-top:.4rem}
.findings{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:.8rem}
.finding{border-left:4px solid #1d4ed8;padding:.2rem .9rem;background:#fafbfc}
.finding.failed{border-color:#b42318}.finding.na{border-color:#c9a227}
.finding h3{margin:.4rem 0;font-size:1rem}.finding ul{margin:.3rem 0;padding-left:1.1rem}
.finding li{margin:.25rem 0;font-size:.92rem;line-height:1.4}
details{margin:1.5rem 0}summary{cursor:pointer;font-weight:600}
"""


def build_index(out: Path, max_periods: int = 12) -> Path:
    """Write ``out/index.html`` (English) and ``out/index.<lang>.html`` for every other
    language the folder holds pages in; return the index of the current language.

    Runs under a lock (``out/.index.lock``) so that concurrent runs writing into the
    same report folder never interleave their index files.
    """
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".index.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = current_language()
            found = {
                page_language(p) for p in out.glob("*/*.html") if PERIOD_RE.match(p.parent.name)
            }
            written = {}
            for lang in sorted(found | {SOURCE_LANGUAGE, current}):
                set_language(lang)
                try:
                    written[lang] = _write_index(out, max_periods, lang, sorted(found | {current}))
                finally:
                    set_language(current)
            return written[current]
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def index_name(lang: str) -> str:
    """``index.html`` for English, ``index.zh.html`` for Chinese."""
    return "index.html" if lang == SOURCE_LANGUAGE else f"index.{lang}.html"


def _write_index(out: Path, max_periods: int, lang: str, langs: list[str]) -> Path:
    periods = sorted(
        (p for p in out.iterdir() if p.is_dir() and PERIOD_RE.match(p.name)),
        key=lambda p: p.name,
        reverse=True,
    )
    runs = {p.name: _read_json(p / RUN_FILE) for p in periods}
    groups = _source_groups(periods, runs)
    title = tr("Customer analytics reports")
    parts = [
        f"<!DOCTYPE html><html lang='{html_lang(lang)}'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _language_links(lang, langs),
    ]
    if not periods:
        parts.append(f"<p class='sub'>{html.escape(tr('No report has been rendered yet.'))}</p>")
    for folders in groups.values():
        parts.append(_source_section(folders[:max_periods], runs, lang))
    parts.append(_reports_table(periods, runs, lang))
    details = [
        _metrics_table(_group_label(f, runs, len(groups) > 1), f[:max_periods])
        for f in groups.values()
    ]
    if any(details):
        summary = html.escape(tr("Every headline number, period by period"))
        parts.append(f"<details><summary>{summary}</summary>{''.join(details)}</details>")
    parts.append("</body></html>")
    index = out / index_name(lang)
    tmp = out / f".{index.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_text(embed_cjk_font("\n".join(parts)), encoding="utf-8")
    os.replace(tmp, index)
    return index


#: Each language's own name, for the links between the index pages.
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


def _language_links(lang: str, langs: list[str]) -> str:
    """Links to the index in the other languages the folder holds ('' when only one)."""
    others = [x for x in langs if x != lang]
    if not others:
        return ""
    links = " · ".join(
        f"<a href='{index_name(x)}' hreflang='{html_lang(x)}'>{LANGUAGE_NAMES.get(x, x)}</a>"
        for x in others
    )
    return f"<p class='sub'>{links}</p>"


def _source_groups(periods: list[Path], runs: Mapping) -> dict[str, list[Path]]:
    """Period folders by data source, newest first within each, in order of first seen."""
    groups: dict[str, list[Path]] = {}
    for p in periods:
        source = _run_source(runs[p.name])
        groups.setdefault("" if source is None else source_key(source), []).append(p)
    return groups


def _run_source(run: Mapping) -> dict | None:
    """The data source a period's ``run.json`` records (None for a report without one)."""
    if "source" in run:
        return run["source"]
    return data_source(run["parameters"]) if "parameters" in run else None


def _group_label(folders: list[Path], runs: Mapping, several: bool) -> str:
    heading = tr("Headline metrics")
    if several:
        source = _run_source(runs[folders[0].name])
        heading += ": " + (source_label(source) if source is not None else "–")
    return html.escape(heading)


def _period(folder: Path) -> str:
    return PERIOD_RE.match(folder.name).group(1)


# --------------------------------------------------------------------------- key numbers


def _source_section(folders: list[Path], runs: Mapping, lang: str) -> str:
    """One data source: its newest period's key numbers and findings."""
    newest = folders[0]
    source = _run_source(runs[newest.name])
    label = source_label(source) if source is not None else "–"
    heading = tr("{data}, as of {date}", data=label, date=_period(newest))
    parts = [f"<h2>{html.escape(heading)}</h2>"]
    metrics = [_read_json(p / METRICS_FILE) for p in folders]
    cards = kpi_cards(metrics, [_period(p) for p in folders])
    if cards:
        parts.append(cards)
    findings = _findings_section(newest, runs[newest.name], lang)
    if findings:
        parts.append(findings)
    return "".join(parts)


def kpi_cards(metrics: list[Mapping], periods: list[str], limit: int = MAX_CARDS) -> str:
    """Cards for the key numbers (:data:`analysis.metrics.KPIS`) present in the newest period.

    ``metrics``: each period's ``metrics.json`` content, newest first; ``periods`` their
    dates. Each card: the name, the value with its unit, the change on the period before
    (coloured good / bad) and a trend line over the periods shown (oldest left).
    """
    flat = [{key: metric_value(m, key) for key in KPIS} for m in metrics]
    currency = next(
        (m.get("overview", {}).get("currency") for m in metrics if m.get("overview")), ""
    )
    cards = []
    for key in KPIS:
        value = flat[0].get(key) if flat else None
        if not _is_number(value):
            continue
        older = flat[1].get(key) if len(flat) > 1 else None
        series = [f.get(key) for f in reversed(flat)]
        cards.append(_card(key, value, older, series, currency or "", periods))
        if len(cards) == limit:
            break
    return f"<div class='cards'>{''.join(cards)}</div>" if cards else ""


def metric_value(metrics: Mapping, key: str):
    """The value at dotted ``key`` (``notebook.name[.sub]``) of a ``metrics.json`` content,
    or None; a name may itself hold dots or spaces (``segment_counts.At Risk``)."""
    node, rest = metrics, key
    while rest:
        if not isinstance(node, Mapping):
            return None
        if rest in node:
            return node[rest]
        head = next((k for k in node if rest.startswith(f"{k}.")), None)
        if head is None:
            return None
        node, rest = node[head], rest[len(head) + 1 :]
    return None


def _card(key: str, value, older, series: list, currency: str, periods: list[str]) -> str:
    info = metric_info(key)
    cls = change_class(key, value, older)
    change = _change_text(info.unit, value, older)
    change_html = (
        f"<div class='change {cls}'>{html.escape(change)} "
        f"{html.escape(tr('vs {date}', date=periods[1]))}</div>"
        if change
        else f"<div class='change'>{html.escape(_first_period_text(older, periods))}</div>"
    )
    return (
        f"<div class='card' title='{html.escape(key, quote=True)}'>"
        f"<div class='label'>{html.escape(metric_label(key))}</div>"
        f"<div class='value'>{html.escape(format_value(key, value, currency))}</div>"
        f"{change_html}{sparkline(series)}</div>"
    )


def _first_period_text(older, periods: list[str]) -> str:
    if len(periods) < 2:
        return tr("first period: no change to show yet")
    return tr("not measured in {date}", date=periods[1]) if older is None else tr("unchanged")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _change_text(unit: str, value, older) -> str:
    """The change on the period before in the metric's unit: points for shares, % else."""
    if not (_is_number(value) and _is_number(older)) or value == older:
        return ""
    if unit == "share":
        return tr("{change} points", change=f"{(value - older) * 100:+.1f}")
    if unit == "percent":
        return tr("{change} points", change=f"{value - older:+.1f}")
    if unit == "days":
        return tr("{change} days", change=f"{value - older:+,.0f}")
    if unit in ("count", "money") and older:
        return f"{(value - older) / abs(older):+.1%}"
    return f"{value - older:+.3g}"


def sparkline(values: list, width: int = 120, height: int = 28) -> str:
    """A small SVG line of ``values`` (oldest first; None are gaps); '' under two points."""
    points = [(i, v) for i, v in enumerate(values) if _is_number(v)]
    if len(points) < 2:
        return ""
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    xy = [(i * step, height - 3 - (v - low) / span * (height - 6)) for i, v in points]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    last_x, last_y = xy[-1]
    return (
        f"<svg width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='{html.escape(tr('trend over the periods shown'), quote=True)}'>"
        f"<polyline fill='none' stroke='#1d4ed8' stroke-width='1.8' points='{line}'/>"
        f"<circle cx='{last_x:.1f}' cy='{last_y:.1f}' r='2.6' fill='#1d4ed8'/></svg>"
    )


# --------------------------------------------------------------------------- findings


def notebook_findings(ipynb: Path, limit: int = MAX_FINDINGS) -> list[str]:
    """Up to ``limit`` findings, as Markdown, from an executed notebook's takeaways.

    The notebook's closing bullet list when it has one (the last Markdown output whose
    lines are all list items), else the first sentence of each of its first takeaways
    (Markdown outputs that are neither headings, tables, notes in italics nor the data
    line). Analyst-only text (parameter names, options) is left out.
    """
    outputs = _markdown_outputs(ipynb)
    for text in reversed(outputs):
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        if lines and all(ln.startswith(("- ", "* ")) for ln in lines):
            return [_short(ln[2:].strip()) for ln in lines[:limit]]
    found = []
    for text in outputs:
        if not _is_note(text):
            found.append(_first_sentence(text))
        if len(found) == limit:
            break
    return found


def _is_note(text: str) -> bool:
    """Markdown outputs that are not takeaways: headings, tables, quotes, lists, notes in
    italics, the data line, and the lines naming an exported file."""
    if not text or text.startswith(("#", "|", ">", "- ", "_", *_data_line_starts())):
        return True
    return (text.startswith("*") and not text.startswith("**")) or ".csv`" in text


@functools.cache
def _data_line_starts() -> tuple[str, ...]:
    """How the notebooks' data line ("**Data:** `online_retail` · **as of** ...") begins, in
    every report language (its first bold word, from the catalogues)."""
    starts = {"**Data:**"}
    for lang in languages():
        for msgid, text in catalogue(lang).items() if lang != SOURCE_LANGUAGE else ():
            first = re.match(r"\*\*[^*]+\*\*", text) if msgid.startswith("**Data:**") else None
            if first:
                starts.add(first.group(0))
    return tuple(sorted(starts))


def _markdown_outputs(ipynb: Path) -> list[str]:
    try:
        nb = json.loads(ipynb.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    texts = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            text = output.get("data", {}).get("text/markdown")
            if text:
                text = "".join(text) if isinstance(text, list) else text
                texts.append(_without_analyst_text(text))
    return texts


def _without_analyst_text(text: str) -> str:
    return re.sub(rf'<span class="{ANALYST_ONLY}">.*?</span>', "", text, flags=re.S).strip()


#: A sentence ends at . ! ? before a space (or the end), or at 。！？ anywhere (Chinese
#: writes no space after them); a closing ``**`` right after belongs to the sentence.
_SENTENCE_END = re.compile(r"[.!?](\*\*)?(?=\s|$)|[。！？](\*\*)?")
_NOT_AN_END = re.compile(r"(\be\.g\.|\bi\.e\.|\bvs\.|\bNo\.)$")


def _first_sentence(text: str) -> str:
    """The first sentence of a takeaway's first line (see :func:`_sentences`)."""
    return _sentences(text.strip().splitlines()[0], 1)


def _sentences(line: str, n: int) -> str:
    """The first ``n`` sentences of ``line``: up to a full stop (or 。 ! ?) that ends a
    sentence outside ``**bold**`` (not ``e.g.``, ``vs.`` or a decimal point)."""
    for match in _SENTENCE_END.finditer(line):
        head = line[: match.end()]
        if head.count("**") % 2 == 0 and not _NOT_AN_END.search(head):
            n -= 1
            if n == 0:
                return head
    return line


def _short(finding: str, limit: int = 240) -> str:
    """A long finding cut to its first two sentences (the report holds the rest)."""
    return finding if len(finding) <= limit else _sentences(finding, 2)


def _findings_section(folder: Path, run: Mapping, lang: str) -> str:
    """Each notebook of the period: its findings in words and a link to its report."""
    blocks = []
    for name, page, entry in _pages(folder, run, lang):
        status = entry.get("status", "ok")
        title = html.escape(_title(name))
        heading = f"<a href='{folder.name}/{page.name}'>{title}</a>" if page else title
        if status == "ok":
            ipynb = page.with_suffix(".ipynb") if page else None
            items = notebook_findings(ipynb) if ipynb and ipynb.exists() else []
            body = "".join(f"<li>{_markdown_inline(t)}</li>" for t in items)
            blocks.append(f"<div class='finding'><h3>{heading}</h3><ul>{body}</ul></div>")
        else:
            mark = tr("not applicable") if status == "not applicable" else tr("failed")
            cls = "na" if status == "not applicable" else "failed"
            why = html.escape(_reason(entry.get("error")))
            blocks.append(
                f"<div class='finding {cls}'><h3>{heading} <span class='{cls}'>"
                f"({html.escape(mark)})</span></h3><p>{why}</p></div>"
            )
    if not blocks:
        return ""
    return f"<h3>{html.escape(tr('Findings'))}</h3><div class='findings'>{''.join(blocks)}</div>"


def _reason(error: str | None) -> str:
    """The reader's part of a notebook's error line (the advice after it stays in the page)."""
    text = (error or "").split(" Pass ", 1)[0].strip()
    text = text.removeprefix("NotApplicable:").strip()
    return text[:1].upper() + text[1:]


def _markdown_inline(text: str) -> str:
    """A finding's Markdown as HTML (bold, italics, code), without a wrapping paragraph."""
    import mistune

    rendered = mistune.html(cjk_emphasis(text)).strip()
    return re.sub(r"^<p>(.*)</p>$", r"\1", rendered, flags=re.S)


def _notebook_order(name: str) -> int:
    return min((i for i, p in enumerate(notebook_paths()) if short_name(p) == name), default=99)


# --------------------------------------------------------------------------- tables


def _reports_table(periods: list[Path], runs: Mapping, lang: str) -> str:
    """Every period's reports: date, data source, one link per notebook page."""
    sub = tr(
        "{n} period(s); newest first. Each link opens a self-contained report.", n=len(periods)
    )
    head = (
        f"<h2>{html.escape(tr('All reports'))}</h2><p class='sub'>{html.escape(sub)}</p>"
        f"<table><thead><tr><th>{html.escape(tr('period (as of)'))}</th>"
        f"<th class='left'>{html.escape(tr('data'))}</th>"
        f"<th class='left'>{html.escape(tr('notebooks'))}</th></tr></thead><tbody>"
    )
    rows = []
    for p in periods:
        source = _run_source(runs[p.name])
        label = html.escape(source_label(source)) if source is not None else "–"
        title = html.escape(json.dumps(source), quote=True) if source is not None else ""
        rows.append(
            f"<tr><td>{_period(p)}</td>"
            f"<td class='left' title='{title}'>{label}</td>"
            f"<td class='left'>{' · '.join(_links(p, runs[p.name], lang))}</td></tr>"
        )
    return head + "".join(rows) + "</tbody></table>"


def page_language(path: str | Path) -> str:
    """The report language of a page: ``01_demand.zh.html`` -> ``zh``; English else."""
    parts = Path(path).stem.split(".", 1)
    return parts[1] if len(parts) > 1 else SOURCE_LANGUAGE


def _pages(folder: Path, run: Mapping, lang: str) -> list[tuple[str, Path | None, dict]]:
    """A period's notebooks in ``lang``: (notebook, its page or None, its run.json entry),
    in report order; notebooks without a page are listed only when they failed."""
    statuses = run.get("notebooks", {})
    pages = {
        notebook_of(short_name(p)): p
        for p in sorted(folder.glob("*.html"))
        if page_language(p) == lang
    }
    entries = {
        notebook_of(name): status
        for name, status in statuses.items()
        if (name.split(".", 1)[1] if "." in name else SOURCE_LANGUAGE) == lang
    }
    names = [n for n in entries if n not in pages and entries[n].get("status") == "failed"]
    ordered = sorted([*pages, *names], key=_notebook_order)
    return [(n, pages.get(n), entries.get(n, {})) for n in ordered]


def _title(name: str) -> str:
    return tr(NOTEBOOK_TITLES.get(name, name.replace("_", " ").capitalize()))


def _links(folder: Path, run: Mapping, lang: str) -> list[str]:
    """One link per notebook page of a period, marked failed / not applicable."""
    links = []
    for name, page, entry in _pages(folder, run, lang):
        label = html.escape(name if lang == SOURCE_LANGUAGE else _title(name))
        status = entry.get("status")
        err = html.escape(entry.get("error") or "", quote=True)
        mark = {"failed": tr("failed"), "not applicable": tr("not applicable")}.get(status)
        cls = {"failed": "failed", "not applicable": "na"}.get(status)
        text = f"{label} ({html.escape(mark)})" if mark else label
        if page is None:
            links.append(f"<span class='{cls}' title='{err}'>{text}</span>")
        elif cls:
            links.append(
                f"<a class='{cls}' href='{folder.name}/{page.name}' title='{err}'>{text}</a>"
            )
        else:
            links.append(f"<a href='{folder.name}/{page.name}'>{text}</a>")
    return links


def _fmt(key: str, value) -> str:
    """An index cell: numbers with their unit (:func:`analysis.metrics.format_value`)."""
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return html.escape(format_value(key, value))
    return html.escape(str(value))


def _metrics_table(heading: str, shown: list[Path]) -> str:
    """The headline metrics of periods of one data source, newest first, changes coloured
    by whether they are good or bad for the business (:data:`analysis.metrics.METRICS`)."""
    data = {p.name: _read_json(p / METRICS_FILE) for p in shown}
    if not any(data.values()):
        return ""
    parts = [f"<h2>{heading}</h2><table><thead><tr><th>metric</th>"]
    parts.extend(f"<th>{PERIOD_RE.match(p.name).group(1)}</th>" for p in shown)
    parts.append("</tr></thead><tbody>")
    notebooks = sorted({nb for m in data.values() for nb in m}, key=_notebook_order)
    for nb in notebooks:
        parts.append(f"<tr><td class='nb' colspan='{len(shown) + 1}'>{html.escape(nb)}</td></tr>")
        flat = {
            period: {
                k: v
                for k, v in flatten(m.get(nb), f"{nb}.").items()
                if v is None or isinstance(v, (int, float, str))
            }
            for period, m in data.items()
        }
        for key in dict.fromkeys(k for f in flat.values() for k in f):
            cells = []
            for i, p in enumerate(shown):
                value = flat[p.name].get(key)
                older = flat[shown[i + 1].name].get(key) if i + 1 < len(shown) else None
                cls = change_class(key, value, older)
                cells.append(
                    f"<td class='{cls}'>{_fmt(key, value)}</td>"
                    if cls
                    else f"<td>{_fmt(key, value)}</td>"
                )
            label = html.escape(metric_label(key))
            name = html.escape(key.split(".", 1)[1])
            parts.append(f"<tr><td title='{name}'>{label}</td>{''.join(cells)}</tr>")
    parts.append(
        "</tbody></table><p class='sub'>Green: better for the business than the period "
        "before (more customers or revenue, fewer at-risk customers, lower forecast or "
        "probability error); red: worse; no colour: unchanged, or a number whose direction "
        "means neither (rows read, model parameters).</p>"
    )
    return "".join(parts)
