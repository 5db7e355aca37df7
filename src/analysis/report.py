"""Render the notebooks for one period into self-contained HTML, with metrics and an index.

Layout of the output folder (default ``reports/``)::

    reports/
      index.html                  the first page: key numbers, findings, every period's links
                                  (analysis.index_page)
      2011-12-09/
        00_overview.ipynb / .html executed notebook and its HTML
        metrics.json              {"overview": {...}, "demand": {...}, ...}
        run.json                  data source; each notebook's status, files, timing
        segments.csv ...          exports the notebooks write
      2011-12-09_orders-1a2b3c4d/ the same period from another data source

A period's report is a set of notebooks rendered from one data source (the data, its
tables, column maps and reading options: :func:`data_source`). Rendering some of
them replaces those notebooks' files only; the others are carried over unchanged.
A period is rendered into a private staging folder and merged and swapped in under
a lock only when complete, so an interrupted run leaves the previous report in
place and two runs for the same period cannot mix their files.

Text from the data in HTML
--------------------------
Product names, countries and other text come from the user's file and may hold
``<`` ``>`` or even ``<script>``. Notebooks show such text only through:

- ``display(df)``: pandas escapes cell text itself;
- a Styler made by :func:`style_table` (``style_table(df, {"revenue": "£{:,.0f}"})``),
  which escapes cells and index/column labels. A bare ``df.style.format(...)``
  does **not** escape (pandas' default), so do not use it on frames holding data text;
- :func:`md_text` around every data value put into ``Markdown(...)``
  (``Markdown(f"Top product: {report.md_text(name)}")``), since Markdown passes
  raw HTML through.

As a safety net, :func:`export_html` also defuses active HTML (``<script>``,
``<iframe>``, ``on...=`` handlers, ``javascript:`` links) in every cell output
before converting, so the rendered report never runs script from the data; and it
loads nothing from the network (images are embedded, CDN scripts removed).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html
import json
import math
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import i18n
from analysis.config import NOTEBOOKS_DIR
from analysis.errors import NOT_APPLICABLE, NotApplicable, is_not_applicable  # noqa: F401
from analysis.metrics import headline
from analysis.text import ANALYST_ONLY, cjk_emphasis, md_text, tr, tr_label, tr_name  # noqa: F401  (report.md_text)
from analysis.webfont import embed_cjk_font

METRICS_SUBDIR = "_metrics"
#: Folder of the staging area holding the log cleaned once for all notebooks.
PREPARED_SUBDIR = "_prepared"
#: Parameters the runner sets for itself; they mean nothing to a reader of the report.
RUNNER_PARAMETERS = ("output_dir", "prepared")
COMMON_PARAMETERS = (
    "data",
    "as_of",
    "columns",
    "anonymize",
    "output_dir",
    "data_options",
    "customers",
    "events",
    "feedback",
    "tickets",
    "lang",
)
#: Common parameters that describe a run rather than its data. Every other common
#: parameter (the data, its tables, column maps and reading options) identifies the
#: data source that all notebooks of one period's report share.
NOT_SOURCE_PARAMETERS = ("as_of", "anonymize", "lang", *RUNNER_PARAMETERS)
KERNEL = "python3"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"
#: Inside a staging folder: one output folder per notebook, moved up before the swap.
OUTPUTS_SUBDIR = "_outputs"
#: Inside a staging folder: per notebook, the messages it showed untranslated (JSON lines).
I18N_SUBDIR = "_i18n"
#: Tag of the cell the runner puts first in a notebook rendered in another language
#: (it logs untranslated messages); removed from the executed notebook.
RUNNER_CELL_TAG = "analysis-runner"


# --------------------------------------------------------------------------- metrics


def _jsonable(value):
    """Convert numpy / pandas scalars and containers to plain JSON values (NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series, pd.Index)):
        return [_jsonable(v) for v in list(value)]
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).date().isoformat() if pd.notna(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def record_metrics(
    notebook: str, metrics: Mapping, output_dir: str | Path | None, currency: str = ""
):
    """Record a notebook's headline numbers for ``metrics.json`` and show them to readers.

    Parameters
    ----------
    notebook : str
        Short name of the notebook (``overview``, ``demand``, ...): the key in
        ``metrics.json``.
    metrics : mapping
        Name -> value (numbers, strings, dates, lists, nested dicts). ``metrics.json``
        keeps the raw values.
    output_dir : path or None
        The run's output folder (the notebook's ``output_dir`` parameter). None
        (interactive use) records nothing and only returns the table.
    currency : str
        Symbol for amounts in the table (``tx.currency``).

    Returns
    -------
    IPython.display.Markdown
        The numbers with their names and units (:func:`analysis.metrics.headline`).
    """
    clean = _jsonable(metrics)
    if output_dir is not None:
        folder = Path(output_dir) / METRICS_SUBDIR
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{notebook}.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(clean, indent=2, sort_keys=True))
        os.replace(tmp, folder / f"{notebook}.json")
    return headline(notebook, clean, currency)


def export_path(output_dir: str | Path | None, filename: str, worded: bool = False) -> Path | None:
    """Where a notebook writes an export (CSV) beside its HTML; None when not rendering.

    ``worded``: the export holds sentences in the report language (a reason per row), so a
    report in another language writes its own copy (:func:`analysis.i18n.file_name`:
    ``recommendations.zh.csv``) instead of overwriting the English one.
    """
    if output_dir is None:
        return None
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (i18n.file_name(filename) if worded else filename)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a large export as ``frame.to_csv(path, index=False)`` would, by DuckDB.

    The same bytes (header, quoting only where needed, doubled quotes, floats in their
    shortest form, ``True``/``False``, dates as pandas prints them, missing values and
    empty strings empty: tests compare the files); 10M recommendation rows take about a
    sixth of pandas' time (benchmarks/RESULTS.md). A column DuckDB would print otherwise
    (fractions of seconds, time zones, categories, mixed objects) sends the frame to pandas.
    """
    import duckdb

    columns = [_csv_column(frame[name], name) for name in frame.columns]
    if any(c is None for c in columns) or frame.columns.duplicated().any():
        frame.to_csv(path, index=False)
        return
    con = duckdb.connect()
    try:
        con.register("export_frame", frame)
        target = str(Path(path)).replace("'", "''")
        select = ", ".join(columns)
        con.execute(
            f"COPY (SELECT {select} FROM export_frame) TO '{target}' (HEADER, DELIMITER ',')"
        )
    finally:
        con.close()


def _csv_column(values: pd.Series, name) -> str | None:
    """The SELECT expression printing ``values`` as pandas' ``to_csv`` does (None: cannot)."""
    quoted = '"' + str(name).replace('"', '""') + '"'
    if pd.api.types.is_bool_dtype(values) and values.dtype == bool:
        return f"CASE WHEN {quoted} THEN 'True' ELSE 'False' END AS {quoted}"
    if pd.api.types.is_integer_dtype(values) and values.dtype.kind in "iu":
        return quoted
    if pd.api.types.is_float_dtype(values) and values.dtype.kind == "f":
        return quoted
    if (
        pd.api.types.is_string_dtype(values)
        and values.dtype != object
        or (
            values.dtype == object
            and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
        )
    ):
        # pandas writes "" as nothing, DuckDB as "" (categories: their text)
        return f"NULLIF(CAST({quoted} AS VARCHAR), '') AS {quoted}"
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "M":
        stamps = values.dropna()
        if (stamps != stamps.dt.floor("s")).any():
            return None
        fmt = "%Y-%m-%d" if (stamps == stamps.dt.normalize()).all() else "%Y-%m-%d %H:%M:%S"
        return f"strftime({quoted}, '{fmt}') AS {quoted}"
    return None


# --------------------------------------------------------------------------- safe text


def style_table(
    frame: pd.DataFrame,
    formats: Mapping | str | None = None,
    hide_index: bool = False,
    **options,
):
    """A pandas Styler that escapes the data's text, with number formats, in the report's
    language.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table; text cells, index and column labels are HTML-escaped. Column labels
        and index names are translated (:func:`analysis.text.tr_label`: translators add
        the header words to their PO file); text cells and row labels are translated
        when the catalogue holds them (segment and stage names), else shown as they are.
    formats : mapping or str, optional
        Passed to ``Styler.format`` (e.g. ``{"revenue": "£{:,.0f}"}``), keyed by the
        frame's own (English) column names.
    hide_index : bool
        Hide the index column.
    **options
        Further ``Styler.format`` options (``na_rep="–"``, ``subset=...``).

    Returns
    -------
    pandas.io.formats.style.Styler
        Chain further styling on it, but not another ``.format`` without
        ``escape="html"``.
    """
    frame = frame.rename_axis(
        index=_header_names(frame.index), columns=_header_names(frame.columns)
    )
    styler = frame.style.format(formats, escape="html", **options)
    plain = [
        c
        for c in frame.columns
        if _all_text(frame[c]) and (not isinstance(formats, Mapping) or c not in formats)
    ]
    if plain and (formats is None or isinstance(formats, Mapping)):  # fixed names, translated
        styler = styler.format(_cell_text, subset=plain, na_rep=options.get("na_rep"))
    styler = styler.format_index(_row_label, axis=0).format_index(_column_label, axis=1)
    return styler.hide(axis="index") if hide_index else styler


def _all_text(column) -> bool:
    """A column (not a frame: duplicate labels give one) of text only."""
    if isinstance(column, pd.DataFrame) or pd.api.types.is_numeric_dtype(column):
        return False
    values = column.dropna()
    return len(values) > 0 and all(isinstance(v, str) for v in values)


def _header_names(index: pd.Index) -> list:
    """An axis' names translated and escaped (pandas shows index names unescaped)."""
    return [None if n is None else html.escape(str(tr_label(n))) for n in index.names]


def _cell_text(value) -> str:
    return html.escape(str(tr_name(value)))


def _row_label(label) -> str:
    return html.escape(str(tr_name(label)))


def _column_label(label) -> str:
    return html.escape(str(tr_label(label)))


_ACTIVE_TAG = re.compile(
    r"<(/?)(script|iframe|object|embed|applet|base|form|meta|link|frame|frameset)\b", re.IGNORECASE
)
_EVENT_ATTR = re.compile(r"(<[^>]*?\s)(on[a-z]+)(\s*=)", re.IGNORECASE)
_JS_URL = re.compile(r"(href|src|action)(\s*=\s*[\"']?)\s*javascript:", re.IGNORECASE)
_MEDIA_TAG = re.compile(r"<(img|video|audio|source|track|input|image)\b([^>]*)>", re.IGNORECASE)
_REMOTE_CSS = re.compile(r"@import|url\(\s*[\"']?\s*(https?:)?//", re.IGNORECASE)


def _media(match: re.Match) -> str:
    """Keep embedded (``data:``) images; show any other media tag as text (no loads)."""
    if re.search(r"\ssrc\s*=\s*[\"']?data:", match.group(2), re.IGNORECASE):
        return match.group(0)
    return "&lt;" + match.group(0)[1:]


def defuse_html(text: str) -> str:
    """Make HTML from a cell output inert: active tags and media that would load a URL
    become visible text, event-handler attributes, ``javascript:`` URLs and remote CSS
    are disabled. Tables, styles and embedded (``data:``) images are left as they are."""
    text = _ACTIVE_TAG.sub(r"&lt;\1\2", text)
    text = _MEDIA_TAG.sub(_media, text)
    previous = None
    while previous != text:  # handlers may repeat in one tag
        previous = text
        text = _EVENT_ATTR.sub(r"\1data-blocked-\2\3", text)
    text = _REMOTE_CSS.sub("blocked-", text)
    return _JS_URL.sub(r"\1\2blocked:", text)


_ANALYST_ONLY = re.compile(rf'\s?<span class="{ANALYST_ONLY}">.*?</span>', re.DOTALL)


def _drop_analyst_text(nb) -> None:
    """Remove :func:`analysis.text.for_analyst` advice from a business reader's report."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _ANALYST_ONLY.sub("", cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in ("text/html", "text/markdown"):
                if mime in data:
                    value = data[mime]
                    joined = "".join(value) if isinstance(value, list) else value
                    data[mime] = _ANALYST_ONLY.sub("", joined)


def _defuse_outputs(nb) -> None:
    """Apply :func:`defuse_html` to every HTML / Markdown output of a notebook, in place."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in ("text/html", "text/markdown", "image/svg+xml"):
                if mime in data:
                    value = data[mime]
                    joined = "".join(value) if isinstance(value, list) else value
                    data[mime] = defuse_html(joined)


# --------------------------------------------------------------------------- notebooks


def short_name(path: str | Path) -> str:
    """``notebooks/03_lifetime_value.ipynb`` -> ``lifetime_value``.

    A page in another language keeps its language: ``01_demand.zh.html`` -> ``demand.zh``
    (see :func:`page_stem`).
    """
    return re.sub(r"^\d+_", "", Path(path).stem)


def page_stem(path: str | Path, lang: str | None = None) -> str:
    """The file name (without suffix) of a notebook's pages in report language ``lang``.

    English pages are named like the notebook (``01_demand.html``); a page in another
    language carries it (``01_demand.zh.html``), so that both renders of a period live
    side by side and neither overwrites the other. Exports and metrics hold the same
    numbers in every language and are shared by them.
    """
    return i18n.file_name(Path(path).stem, _lang(lang))


def report_name(path: str | Path, lang: str | None = None) -> str:
    """A notebook's entry in ``run.json`` for ``lang``: ``demand``, ``demand.zh``."""
    return short_name(page_stem(path, lang) + ".ipynb")


def notebook_of(name: str) -> str:
    """The notebook of a ``run.json`` entry (``demand.zh`` -> ``demand``): its metrics key."""
    return name.split(".", 1)[0]


def _lang(lang: str | None) -> str:
    return i18n.language_code(lang)


#: Notebooks rendered for one customer at a time (``analysis profile``); a period's
#: report never renders them.
PER_CUSTOMER_NOTEBOOKS = ("customer_profile",)


def notebook_paths(names: Iterable[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks to render, in file order; ``names`` may be short names or file names.

    Per-customer notebooks (:data:`PER_CUSTOMER_NOTEBOOKS`) are never among them.
    """
    found = sorted(
        p
        for p in folder.glob("*.ipynb")
        if not p.name.startswith(".") and short_name(p) not in PER_CUSTOMER_NOTEBOOKS
    )
    if not names:
        return found
    chosen = []
    for name in names:
        match = [p for p in found if name in (p.name, p.stem, short_name(p))]
        if not match:
            known = ", ".join(short_name(p) for p in found)
            raise ValueError(f"notebook '{name}' not found; choose from {known}")
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def render_profile(
    parameters: Mapping,
    out_html: Path,
    folder: Path = NOTEBOOKS_DIR,
    *,
    no_input: bool = False,
    timeout: float | None = None,
) -> str | None:
    """Execute the customer profile notebook and export its HTML to ``out_html``.

    The executed notebook is written to a private temporary folder and removed; only
    the HTML is kept. Returns None on success, else the notebook's error line (the
    HTML is written either way, showing where it stopped).
    """
    path = folder / f"{PER_CUSTOMER_NOTEBOOKS[0]}.ipynb"
    out_html.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".profile-", dir=out_html.parent) as tmp:
        executed = Path(tmp) / path.name
        lang = _lang(parameters.get("lang"))
        source = translated_notebook(path, lang) if lang != i18n.SOURCE_LANGUAGE else path
        error = execute_notebook(source, executed, parameters, cwd=folder, timeout=timeout)
        if executed.exists():
            export_html(executed, out_html, no_input=no_input, error=error, lang=lang)
    return error


def translated_notebook(path: Path, lang: str, missing_log: Path | None = None):
    """Notebook ``path`` with its Markdown cells in ``lang``, ready to execute.

    Each Markdown cell is translated as a whole: msgid = the cell's source with the
    surrounding whitespace stripped. A cell without a translation stays English and is
    listed in ``missing_log`` (JSON lines, see :func:`analysis.i18n.log_missing_to`),
    where the kernel also logs every ``tr()`` message it showed untranslated.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    lang = _lang(lang)
    if lang == i18n.SOURCE_LANGUAGE:
        return nb
    found = i18n.catalogue(lang)
    untranslated = []
    for cell in nb.cells:
        message = cell.source.strip() if cell.cell_type == "markdown" else ""
        if message and message in found:
            cell.source = found[message]
        elif message:
            untranslated.append(message)
    if missing_log is not None:
        with open(missing_log, "a", encoding="utf-8") as handle:
            for message in untranslated:
                handle.write(json.dumps({"lang": lang, "msgid": message}, ensure_ascii=False))
                handle.write("\n")
        cell = nbformat.v4.new_code_cell(
            f"import analysis.i18n\n\nanalysis.i18n.log_missing_to({str(missing_log)!r})"
        )
        cell.metadata["tags"] = [RUNNER_CELL_TAG]
        nb.cells.insert(0, cell)
    return nb


def _drop_runner_cells(ipynb: Path) -> None:
    """Remove the runner's own cells from an executed notebook (they mean nothing to a
    reader)."""
    import nbformat

    nb = nbformat.read(str(ipynb), as_version=4)
    kept = [c for c in nb.cells if RUNNER_CELL_TAG not in c.metadata.get("tags", [])]
    if len(kept) != len(nb.cells):
        nb.cells = kept
        nbformat.write(nb, str(ipynb))


def notebook_parameters(path: Path) -> set[str]:
    """Names declared in a notebook's ``parameters`` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def execute_notebook(
    path,
    out_ipynb: Path,
    parameters: Mapping,
    cwd: Path = NOTEBOOKS_DIR,
    *,
    timeout: float | None = None,
) -> str | None:
    """Execute one notebook with papermill; return None on success, else the error line.

    ``path`` is the notebook file, or a notebook already read (:func:`translated_notebook`).

    ``timeout`` (seconds) stops a cell that runs longer, so a hung notebook cannot
    block a scheduled run; None waits for ever.
    """
    import papermill
    from traitlets.config import Config

    try:
        papermill.execute_notebook(
            path if isinstance(path, dict) else str(path),
            str(out_ipynb),
            parameters=dict(parameters),
            kernel_name=KERNEL,
            cwd=str(cwd),
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout,
            # CurveZMQ keys for the kernel's sockets (the kernelspec supports it); this also
            # silences ipykernel's "running over TCP without encryption" warning.
            config=Config({"KernelManager": {"transport_encryption": "auto"}}),
            # jupyter_client interrupts (SIGINT) every kernel it shuts down; a kernel
            # still answering a message then logs "ERROR | KeyboardInterrupt caught in
            # kernel." on the runner's stderr though all went well. Errors of the
            # notebook itself are in the notebook and its HTML, not in this log.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        return None
    except papermill.PapermillExecutionError as err:
        return f"{err.ename}: {err.evalue}".strip().splitlines()[0][:500]
    except TimeoutError as err:  # nbclient's CellTimeoutError
        return f"cell timed out after {timeout:g} s: {type(err).__name__}"
    except Exception as err:  # kernel died, bad notebook JSON ...: reported, never fatal
        return f"{type(err).__name__}: {err}".strip().splitlines()[0][:500]


def export_html(
    ipynb: Path,
    out_html: Path,
    no_input: bool = False,
    title: str | None = None,
    error: str | None = None,
    lang: str | None = None,
) -> None:
    """Convert an executed notebook to one self-contained HTML file (no network needed).

    ``error``: the run's error line; when the notebook holds no error output of its
    own (the kernel died) or a cell timed out, a note at the top shows it to the reader.
    ``lang``: the report language (``<html lang>``; default the current language).
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(ipynb), as_version=4)
    if title:
        nb.metadata["title"] = title
    for cell in nb.cells:  # the runner's private staging paths mean nothing to a reader
        if "injected-parameters" in cell.metadata.get("tags", []):
            lines = cell.source.splitlines()
            private = tuple(f"{name} =" for name in RUNNER_PARAMETERS)
            cell.source = "\n".join(ln for ln in lines if not ln.startswith(private))
    # a timeout shows in the notebook only as a KeyboardInterrupt: say what happened
    if error and (not _has_error_output(nb) or error.startswith("cell timed out")):
        note = nbformat.v4.new_markdown_cell(
            tr(
                "> **This report stopped before the end:** {error}. "
                "The sections below are what ran until then.",
                error=md_text(error),
            )
        )
        nb.cells.insert(0, note)
    if nb.metadata.get("papermill", {}).get("exception") and _stopped_not_applicable(nb):
        # papermill's red "An Exception was encountered" banners: the note says it better
        banner = "papermill-error-cell-tag"
        nb.cells = [c for c in nb.cells if banner not in c.metadata.get("tags", [])]
    if no_input:  # business readers: takeaways in words, no parameter names or options
        _drop_analyst_text(nb)
    _defuse_outputs(nb)
    _cjk_emphasis(nb)
    exporter = HTMLExporter(
        template_name="lab",
        exclude_input=no_input,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    # The lab template links MathJax and require.js from a CDN; reports use neither.
    exporter.mathjax_url = ""
    exporter.require_js_url = ""
    code = _lang(lang or i18n.current_language())
    exporter.language_code = code  # nbconvert takes ISO 639-1 only: the region comes below
    body, _ = exporter.from_notebook_node(nb)
    body = body.replace(f'<html lang="{code}">', f'<html lang="{i18n.html_lang(code)}">', 1)
    # ... and leaves empty ``<script src="">`` placeholders for them: both go.
    body = re.sub(r'<script[^>]+src="(https?://[^"]*)?"[^>]*>\s*</script>', "", body)
    body = re.sub(r'<link[^>]+href="https?://[^"]*"[^>]*>', "", body)
    body = embed_cjk_font(body)  # Chinese text readable without a Chinese system font
    tmp = out_html.with_suffix(".html.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, out_html)


def _cjk_emphasis(nb) -> None:
    """Bold in Chinese Markdown (cells and outputs) as ``<strong>``: see
    :func:`analysis.text.cjk_emphasis` (CommonMark leaves ``**...。**该`` unclosed)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cjk_emphasis(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/markdown" in data:
                text = data["text/markdown"]
                text = "".join(text) if isinstance(text, list) else text
                data["text/markdown"] = cjk_emphasis(text)


def _has_error_output(nb) -> bool:
    return any(
        out.get("output_type") == "error"
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def _stopped_not_applicable(nb) -> bool:
    return any(
        out.get("output_type") == "error" and out.get("ename") == NOT_APPLICABLE
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


# --------------------------------------------------------------------------- one period


def data_source(parameters: Mapping) -> dict:
    """The data source a run's parameters name: the source parameters that are set.

    Empty values (None, ``{}``, ``""``) are left out, so that a table parameter added to
    the notebooks later does not make earlier reports of the same data a new source.
    """
    names = [p for p in COMMON_PARAMETERS if p not in NOT_SOURCE_PARAMETERS]
    return _jsonable({k: parameters[k] for k in names if parameters.get(k) not in _EMPTY})


_EMPTY = (None, "", {}, [])


def source_key(source: Mapping) -> str:
    """A short stable key of a data source (8 hex digits)."""
    text = json.dumps(_jsonable(source), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def source_label(source: Mapping) -> str:
    """A data source in a few words: the data's file or built-in name, tables, mappings."""
    parts = []
    for name, value in source.items():
        if name in ("columns", "data_options"):
            continue
        text = str(value)
        if "/" in text and ":" not in text.split("/")[0]:  # a path: its file name says enough
            text = Path(text).name
        text = text if len(text) <= 40 else text[:39] + "…"
        parts.append(text if name == "data" else f"{name}: {text}")
    if source.get("columns"):
        parts.append(f"{len(source['columns'])} mapped column(s)")
    options = source.get("data_options") or {}
    parts.extend(f"{k}={v}" for k, v in options.items())
    return " · ".join(parts) or "defaults"


def _folder_source_key(folder: Path) -> str | None:
    """The source key of the report in ``folder`` (None when it holds no run record)."""
    run = _read_json(folder / RUN_FILE)
    if "source" in run:
        return source_key(run["source"])
    return source_key(data_source(run["parameters"])) if "parameters" in run else None


def period_folder(out: Path, as_of: str, source: Mapping) -> Path:
    """The folder of the report of period ``as_of`` rendered from ``source``.

    ``out/<as_of>`` unless that folder holds a report of another data source; then
    ``out/<as_of>_<data>-<key>``, so that reports of two sources never share a period.
    """
    key = source_key(source)
    data = Path(str(source.get("data", "data"))).stem
    keyed = out / f"{as_of}_{re.sub(r'[^a-z0-9]+', '-', data.lower()).strip('-')[:24]}-{key}"
    plain = out / as_of
    if keyed.is_dir():
        return keyed
    if not plain.exists() or _folder_source_key(plain) == key:
        return plain
    return keyed


def missing_notebooks(out: Path, as_of: str, source: Mapping, names: Iterable[str]) -> list[str]:
    """The notebooks among ``names`` (short names) that the period's report lacks.

    A period is complete for ``source`` when each of ``names`` rendered ok or "not
    applicable" from that source; absent and failed notebooks are missing.
    """
    folder = period_folder(out, as_of, source)
    if _folder_source_key(folder) != source_key(source):
        return list(names)
    done = _read_json(folder / RUN_FILE).get("notebooks", {})
    good = {n for n, s in done.items() if s.get("status") in ("ok", "not applicable")}
    return [n for n in names if n not in good]


@dataclass
class NotebookResult:
    name: str
    seconds: float
    error: str | None = None
    #: messages the page showed in English for want of a translation (other languages)
    untranslated: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Ran through, or stopped by :class:`NotApplicable` (said in words in its HTML)."""
        return self.error is None or self.not_applicable

    @property
    def not_applicable(self) -> bool:
        return is_not_applicable(self.error)

    @property
    def status(self) -> str:
        if self.error is None:
            return "ok"
        return "not applicable" if self.not_applicable else "failed"


@dataclass
class PeriodResult:
    as_of: str
    folder: Path
    results: list[NotebookResult] = field(default_factory=list)

    @property
    def failed(self) -> list[NotebookResult]:
        return [r for r in self.results if not r.ok]


@contextlib.contextmanager
def _terminate_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt so staging folders get cleaned up."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _swap_in(
    staging: Path, out: Path, as_of: str, source: Mapping, run_info: dict, metrics: dict
) -> Path:
    """Merge the period's other notebooks into ``staging`` and swap it in, under a lock.

    A period's report is a set of notebooks from one data source: the notebooks just
    rendered replace their own earlier files (HTML, notebook, exports), every other
    notebook of the period is carried over unchanged (hard links: byte-identical).
    Returns the period's folder (see :func:`period_folder`).
    """
    lock_path = out / f".{as_of}.lock"
    # Signals wait until the swap is over: an interrupt between the two renames
    # would leave the period with no report at all.
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            final = period_folder(out, as_of, source)
            trash = None
            if final.exists():
                _carry_over(final, staging, run_info, metrics)
                trash = final.parent / f".trash-{final.name}-{os.getpid()}-{time.time_ns()}"
            _write_json(staging / METRICS_FILE, metrics, sort_keys=True)
            _write_json(staging / RUN_FILE, _jsonable(run_info))
            staging.chmod(0o755)
            if trash is not None:
                os.replace(final, trash)
            os.replace(staging, final)
            fcntl.flock(lock, fcntl.LOCK_UN)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return final


def _write_json(path: Path, value, sort_keys: bool = False) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=sort_keys))


def _carry_over(final: Path, staging: Path, run_info: dict, metrics: dict) -> None:
    """Bring the notebooks of ``final`` that this run did not render into ``staging``.

    Files an earlier run recorded for a re-rendered notebook are dropped (a notebook
    that no longer writes an export leaves no stale copy); reports written before
    files were recorded lose only the re-rendered notebooks' HTML and ``.ipynb``.
    ``run_info`` and ``metrics`` are updated in place to describe the whole set.
    """
    old_run = _read_json(final / RUN_FILE)
    old_notebooks = old_run.get("notebooks", {})
    rendered = set(run_info["notebooks"])
    replaced = {f for n in rendered for f in old_notebooks.get(n, {}).get("files", [])}
    for path in final.iterdir():
        own_page = path.suffix in (".html", ".ipynb") and short_name(path) in rendered
        if path.name in (RUN_FILE, METRICS_FILE) or path.name in replaced or own_page:
            continue
        if not (staging / path.name).exists():  # written again by this run: the new one wins
            _link_or_copy(path, staging / path.name)
    merged = {n: run_info["notebooks"].get(n, s) for n, s in old_notebooks.items()}
    run_info["notebooks"] = {**merged, **run_info["notebooks"]}
    old_metrics = _read_json(final / METRICS_FILE)
    # metrics are per notebook, shared by its languages: a render in one language
    # replaces them; another language's failed render does not wipe them out
    others = {notebook_of(n) for n in old_notebooks if n not in rendered}
    redone = {notebook_of(n) for n in rendered}
    kept = {n: old_metrics.get(n) for n in dict.fromkeys(others) if n not in redone}
    for n in redone & others:
        if metrics.get(n) is None and old_metrics.get(n) is not None:
            metrics[n] = old_metrics[n]
    metrics.update({**kept, **metrics})


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` at ``target`` (a copy where links are not possible)."""
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link_or_copy)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _gather_outputs(staging: Path, name: str, log=print) -> list[str]:
    """Move notebook ``name``'s exports from its own output folder up into the period.

    Each notebook writes into ``_outputs/<name>/`` while rendering, so that the files
    of each notebook are known (``run.json`` lists them) and a later partial render
    replaces exactly those. Returns the file names moved.
    """
    own = staging / OUTPUTS_SUBDIR / name
    moved = []
    for path in sorted(own.iterdir()) if own.is_dir() else []:
        if path.name == METRICS_SUBDIR:
            continue
        if (staging / path.name).exists():
            log(f"  note: {name} overwrites the export {path.name} of another notebook")
        os.replace(path, staging / path.name)
        moved.append(path.name)
    return moved


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _share_cores() -> None:
    """One BLAS thread per kernel (unless set): kernels side by side, each starting a
    BLAS thread per core oversubscribe the cores, and the notebooks' BLAS calls are on
    vectors too short to gain from threads. On 2 shared cores a threaded dot product of
    10,000 numbers measured 30-50 ms against 6 us on one thread, and the lifetime-value
    notebook on 100,000 customers took 111 s against 68 s. Kernels inherit this environment.
    """
    for name in BLAS_THREADS:
        os.environ.setdefault(name, "1")


def render_period(
    parameters: Mapping,
    as_of: str,
    out: Path,
    notebooks: list[Path],
    jobs: int = 2,
    no_input: bool = False,
    log=print,
    *,
    timeout: float | None = None,
    prepare: Callable[[Path], object] | None = None,
) -> PeriodResult:
    """Execute ``notebooks`` for one period and write ``out/<as_of>/`` atomically.

    Parameters
    ----------
    parameters : mapping
        Parameters for every notebook (common ones plus ``--param`` values); each
        notebook receives those its ``parameters`` cell declares.
    as_of : str
        ISO date of the period end, also the folder name.
    out : Path
        Report root (``reports/``).
    notebooks : list of Path
        Notebooks to render.
    jobs : int
        Notebooks executed at once.
    no_input : bool
        Hide code cells in the HTML.
    timeout : float, optional
        Seconds a single cell may run before its notebook fails (default: no limit).
    prepare : callable, optional
        ``prepare(path)`` writes the period's clean log to ``path`` (see
        :func:`analysis.data.save_prepared`); notebooks that declare a ``prepared``
        parameter then read it instead of each loading and cleaning the raw log.
        The file lives in the staging folder and never reaches the report.
    """
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    _share_cores()
    source = data_source(parameters)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{as_of}-", dir=out))
    params = {**parameters, "as_of": as_of}
    lang = i18n.set_language(params.get("lang"))  # the runner's own text (notes, index)
    result = PeriodResult(as_of, period_folder(out, as_of, source))

    cancelled = threading.Event()
    started = time.time()

    def run(path: Path) -> NotebookResult:
        start = time.perf_counter()
        name = report_name(path, lang)
        if cancelled.is_set():
            return NotebookResult(name, 0.0, "cancelled")
        declared = notebook_parameters(path)
        own = {k: v for k, v in params.items() if k in declared}
        if "output_dir" in declared:  # its own folder: the runner then knows its exports
            own_dir = staging / OUTPUTS_SUBDIR / name
            own_dir.mkdir(parents=True, exist_ok=True)
            own["output_dir"] = str(own_dir)
        ipynb = staging / f"{page_stem(path, lang)}.ipynb"
        source, missing_log = path, None
        if lang != i18n.SOURCE_LANGUAGE:  # Markdown cells in the language, misses logged
            missing_log = staging / I18N_SUBDIR / f"{name}.jsonl"
            missing_log.parent.mkdir(exist_ok=True)
            source = translated_notebook(path, lang, missing_log)
        error = execute_notebook(source, ipynb, own, cwd=path.parent, timeout=timeout)
        if cancelled.is_set():
            return NotebookResult(name, time.perf_counter() - start, "cancelled")
        if ipynb.exists():
            try:
                if missing_log is not None:
                    _drop_runner_cells(ipynb)
                export_html(
                    ipynb, ipynb.with_suffix(".html"), no_input, f"{name} {as_of}", error, lang
                )
            except Exception as err:  # an unreadable notebook still must not stop the run
                error = error or f"HTML export failed: {type(err).__name__}: {err}"
        seconds = time.perf_counter() - start
        done = NotebookResult(name, seconds, error)
        done.untranslated = i18n.read_missing_log(missing_log) if missing_log else []
        status = {"ok": "ok", "not applicable": f"not applicable ({error})"}.get(
            done.status, f"FAILED ({error})"
        )
        log(f"  {path.name:<28} {seconds:6.1f} s  {status}")
        return done

    def run_safely(path: Path) -> NotebookResult:
        try:
            return run(path)
        except Exception as err:  # e.g. a corrupt .ipynb: that notebook fails, not the run
            first = (str(err).strip().splitlines() or [""])[0][:300]
            log(f"  {path.name:<28} FAILED ({type(err).__name__}: {first})")
            return NotebookResult(report_name(path, lang), 0.0, f"{type(err).__name__}: {first}")

    # Notebooks run in worker threads even with jobs=1, so that the main thread only
    # waits and an interrupt (Ctrl-C, or SIGTERM turned into one) is handled here:
    # stop the kernels, let the workers return, then remove the staging folder.
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(notebooks))))
    try:
        with _terminate_as_interrupt():
            if prepare is not None:
                (staging / PREPARED_SUBDIR).mkdir(mode=0o700)
                path = staging / PREPARED_SUBDIR / "transactions.parquet"
                prepare(path)
                params["prepared"] = str(path)
            futures: list[Future] = [pool.submit(run_safely, p) for p in notebooks]
            try:
                result.results = [f.result() for f in futures]
            except BaseException:
                cancelled.set()
                for f in futures:
                    f.cancel()
                _stop_kernels(started)
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            metrics = collect_metrics(staging, [r.name for r in result.results])
            run_info = {
                "as_of": as_of,
                "source": source,
                "source_key": source_key(source),
                "notebooks": {
                    r.name: {
                        "status": r.status,
                        "error": r.error,
                        "seconds": round(r.seconds, 2),
                        "rendered_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "files": _notebook_files(staging, page_stem(path, lang), r.name, log),
                        "lang": lang,
                        **({"untranslated": r.untranslated} if lang != "en" else {}),
                    }
                    for r, path in zip(result.results, notebooks, strict=True)
                },
                "parameters": {k: v for k, v in params.items() if k not in RUNNER_PARAMETERS},
            }
            _log_untranslated(result.results, lang, log)
            for subdir in (METRICS_SUBDIR, PREPARED_SUBDIR, OUTPUTS_SUBDIR, I18N_SUBDIR):
                shutil.rmtree(staging / subdir, ignore_errors=True)
            result.folder = _swap_in(staging, out, as_of, source, run_info, metrics)
    finally:
        pool.shutdown(wait=False)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return result


def _log_untranslated(results: list[NotebookResult], lang: str, log=print) -> None:
    """One line: how many messages the pages showed in English (listed in ``run.json``)."""
    if lang == i18n.SOURCE_LANGUAGE:
        return
    shown = {m for r in results for m in r.untranslated}
    pages = sum(bool(r.untranslated) for r in results)
    if not shown:
        log(f"  translations ({lang}): every message of every page translated")
        return
    log(
        f"  translations ({lang}): {len(shown)} message(s) shown in English on {pages} "
        f"page(s) (run.json lists them per page; every message: analysis translations "
        f"--lang {lang})"
    )


def _remove_stale(out: Path, hours: float = 24.0) -> None:
    """Remove staging/trash folders left by runs killed outright (SIGKILL, power loss).

    Only folders untouched for ``hours`` go, so a run still working is never disturbed.
    """
    limit = time.time() - hours * 3600
    for folder in [*out.glob(".staging-*"), *out.glob(".trash-*")]:
        with contextlib.suppress(OSError):
            if folder.is_dir() and folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)


def _stop_kernels(since: float) -> None:
    """Kill the Jupyter kernels this process started after ``since`` (epoch seconds).

    Used on interrupt so that no notebook keeps writing into a staging folder that
    is being removed. Only direct children running ``ipykernel`` are touched.
    """
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        return
    kernels = []
    for child in psutil.Process().children(recursive=False):
        with contextlib.suppress(psutil.Error):
            if child.create_time() >= since - 1 and "ipykernel" in " ".join(child.cmdline()):
                kernels.append(child)
    for kernel in kernels:
        with contextlib.suppress(psutil.Error):
            kernel.kill()
    psutil.wait_procs(kernels, timeout=5)


def collect_metrics(folder: Path, names: Iterable[str]) -> dict:
    """Merge the per-notebook metric files written by :func:`record_metrics`.

    ``names`` are ``run.json`` entries (``demand``, ``demand.zh``); the metrics are keyed
    by notebook (:func:`notebook_of`): they are the same numbers in every language.
    """
    merged = {}
    for name in names:
        key = notebook_of(name)
        paths = [
            folder / OUTPUTS_SUBDIR / name / METRICS_SUBDIR / f"{key}.json",
            folder / METRICS_SUBDIR / f"{key}.json",
        ]
        found = [p for p in paths if p.exists()]
        merged[key] = json.loads(found[0].read_text()) if found else None
    return merged


def _notebook_files(staging: Path, page: str, name: str, log=print) -> list[str]:
    """The files entry ``name`` contributes to the period (its pages ``page``.html/.ipynb,
    then its exports)."""
    pages = [page + ext for ext in (".ipynb", ".html") if (staging / (page + ext)).exists()]
    return pages + _gather_outputs(staging, name, log)


def _read_json(path: Path) -> dict:
    """A JSON file's content, or {} when it is missing or unreadable (being replaced)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
