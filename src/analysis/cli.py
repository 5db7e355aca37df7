"""Command line: ``analysis report``, ``validate``, ``profile`` and ``translations``.

Exit codes: 0 success; 1 a notebook failed (the others still rendered);
2 bad input or usage (one line on stderr says what is wrong and how to fix it);
130 interrupted (Ctrl-C or SIGTERM: the previous report of the period is kept).

Back-fill: ``analysis report --from 2011-01 --to 2011-12 --every month`` renders one
report per period end (the month's last day, or the last order date for a month
still running). A period whose report from the same data already holds every chosen
notebook (ok or not applicable) is skipped, an incomplete one gets its missing or
failed notebooks; ``--force`` renders every chosen notebook again.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import difflib
import gc
import json
import os
import re
import sys
import time
from pathlib import Path

import pandas as pd

from analysis.config import DEFAULT_DATASET, NOTEBOOKS_DIR, REPORTS_DIR
from analysis.data import (
    BUILTINS,
    QUERY_PREFIXES,
    DataError,
    load_tables,
    load_transactions,
    log_text,
    parse_column_map,
    request_key,
    save_prepared,
)
from analysis.schemas import SCHEMAS
from analysis.tables import TABLE_BUILTINS


class UsageError(Exception):
    """Bad command-line input; reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (not the whole usage block)."""

    def error(self, message: str):
        self.exit(2, f"error: {message}; see '{self.prog} --help'\n")


EVERY = {"month": "M", "quarter": "Q", "week": "W-SUN"}


def period_ends(
    start: str, end: str, every: str, first_day: pd.Timestamp, last_day: pd.Timestamp
) -> list[str]:
    """The as_of dates of a back-fill: each period's last day, capped at the last order.

    ``start``/``end`` are ``YYYY-MM`` (or ``YYYY-MM-DD``); periods ending before the
    first order are left out (there is nothing to report yet).

    >>> period_ends("2011-10", "2012-01", "month", pd.Timestamp("2010-12-01"),
    ...             pd.Timestamp("2011-12-09"))
    ['2011-10-31', '2011-11-30', '2011-12-09']
    """
    bounds = []
    for flag, value in (("--from", start), ("--to", end)):
        if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value or ""):
            raise UsageError(f"{flag} '{value}' is not a month; use YYYY-MM, e.g. {flag} 2011-01")
        try:
            bounds.append(pd.Timestamp(value if len(value) > 7 else f"{value}-01"))
        except ValueError:
            raise UsageError(f"{flag} '{value}' is not a month; use YYYY-MM") from None
    if bounds[1] < bounds[0]:
        raise UsageError(f"--to {end} is before --from {start}; swap them")
    periods = pd.period_range(bounds[0], bounds[1], freq=EVERY[every])
    ends = []
    for period in periods:
        day = min(period.end_time.normalize(), last_day.normalize())
        if day >= first_day.normalize():
            ends.append(f"{day:%Y-%m-%d}")
    ends = list(dict.fromkeys(ends))
    if not ends:
        raise UsageError(
            f"no period between {start} and {end} has orders (data runs "
            f"{first_day:%Y-%m-%d} to {last_day:%Y-%m-%d}); choose another --from/--to"
        )
    return ends


def _parse_value(text: str):
    """``--param`` values: JSON when they parse (numbers, booleans, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_params(items: list[str] | None, example: str = "holdout_days=60") -> dict:
    params = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--param '{item}' is not KEY=VALUE, e.g. --param {example}")
        key, value = item.split("=", 1)
        if not key.strip().isidentifier():
            raise UsageError(f"--param name '{key}' is not a valid parameter name")
        params[key.strip()] = _parse_value(value.strip())
    return params


def _data_argument(value: str, table: str = "transactions") -> str:
    """Built-in names stay names; files become absolute paths (notebooks run elsewhere)."""
    value = str(value)
    if value in (BUILTINS if table == "transactions" else TABLE_BUILTINS[table]):
        return value
    if value.startswith("duckdb:") and "#" in value:  # the database file, likewise
        db, rest = value[len("duckdb:") :].split("#", 1)
        db_path = Path(db).expanduser()
        return f"duckdb:{db_path.resolve() if db_path.exists() else db}#{rest}"
    if value.startswith(QUERY_PREFIXES):
        return value
    path = Path(value).expanduser()
    return str(path.resolve()) if path.exists() else value


TABLE_FLAGS = ("customers", "events", "feedback", "tickets")
#: Keys of a ``--sources`` file, and of each table's section in it.
SOURCE_KEYS = ("as_of", "data", "transactions", *TABLE_FLAGS)
SECTION_KEYS = ("path", "columns", "options")


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        help=f"purchase log: CSV/Parquet/Excel file, built-in name ({', '.join(BUILTINS)}), or "
        f"a table or query: duckdb:FILE#TABLE, sql:QUERY, spark:TABLE; default {DEFAULT_DATASET} "
        "unless only other tables are given ('none': no purchase log)",
    )
    for name in TABLE_FLAGS:
        known = ", ".join(TABLE_BUILTINS[name]) or "none"
        parser.add_argument(
            f"--{name}", metavar="PATH", help=f"{name} table: a file or built-in ({known})"
        )
    parser.add_argument(
        "--column",
        action="append",
        metavar="[TABLE.]CANONICAL=SOURCE",
        help="map a canonical column onto yours, e.g. --column customer_id=CustomerID (the "
        "purchase log) or --column feedback.score=Rating (repeatable)",
    )
    parser.add_argument(
        "--option",
        action="append",
        metavar="[TABLE.]NAME=VALUE",
        help="a cleaning option, e.g. --option feedback.scale=nps or --option returns=net "
        "(JSON values; repeatable)",
    )
    parser.add_argument(
        "--sources",
        metavar="FILE",
        help="TOML file with every table's path, columns and options (flags override it)",
    )
    parser.add_argument("--as-of", help="cutoff date YYYY-MM-DD (default: last order date)")
    parser.add_argument("--date-format", help="strftime format of the dates, e.g. %%d/%%m/%%Y")
    parser.add_argument("--dayfirst", action="store_true", help="read 03/04/2011 as 3 April")
    parser.add_argument(
        "--returns",
        choices=("drop", "net"),
        help="cancellations/returns: drop them (default) or net them",
    )
    parser.add_argument("--encoding", help="CSV encoding (default: sniffed)")
    parser.add_argument("--sep", help="CSV delimiter (default: sniffed)")


def _data_options(args: argparse.Namespace) -> dict:
    """The purchase log's options from its own flags."""
    opts = {
        "date_format": args.date_format,
        "dayfirst": args.dayfirst or None,
        "returns": args.returns,
        "encoding": args.encoding,
        "sep": args.sep,
    }
    return {k: v for k, v in opts.items() if v is not None}


def _read_sources(path: str) -> dict:
    """A ``--sources`` TOML file as ``{table: {"path", "columns", "options"}, "as_of": ...}``.

    Relative paths are taken from the file's folder; ``[data]`` and ``[transactions]``
    both name the purchase log.
    """
    import tomllib

    file = Path(path).expanduser()
    if not file.is_file():
        raise UsageError(f"--sources {file} not found; pass a TOML file")
    try:
        spec = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"--sources {file} is not valid TOML: {err}") from None
    out: dict = {}
    for key, value in spec.items():
        if key not in SOURCE_KEYS:
            raise UsageError(f"--sources {file}: unknown key '{key}'; use {', '.join(SOURCE_KEYS)}")
        if key == "as_of":
            out["as_of"] = str(value)
            continue
        if isinstance(value, str):
            value = {"path": value}
        if not isinstance(value, dict) or set(value) - set(SECTION_KEYS):
            raise UsageError(
                f"--sources {file}: [{key}] takes {', '.join(SECTION_KEYS)} (path a string, "
                "columns and options tables)"
            )
        section = dict(value)
        if "path" in section:
            target = Path(str(section["path"])).expanduser()
            relative = (file.parent / target) if not target.is_absolute() else target
            section["path"] = str(relative) if relative.exists() else str(section["path"])
        out["transactions" if key == "data" else key] = section
    return out


def _parse_options(items: list[str] | None) -> dict[str, dict]:
    """``--option [TABLE.]NAME=VALUE`` pairs per table (bare names: the purchase log)."""
    out: dict[str, dict] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(
                f"--option '{item}' is not [TABLE.]NAME=VALUE, e.g. feedback.scale=nps"
            )
        table, dot, name = key.strip().partition(".")
        if not dot:
            table, name = "transactions", table
        if table not in ("transactions", *TABLE_FLAGS):
            raise UsageError(
                f"--option '{key}': no table '{table}'; use one of {', '.join(TABLE_FLAGS)}"
            )
        out.setdefault(table, {})[name] = _parse_value(value.strip())
    return out


def _request(args: argparse.Namespace) -> dict:
    """Every table's source, the one column map and the options: file, then flags."""
    spec = _read_sources(args.sources) if getattr(args, "sources", None) else {}
    options = _parse_options(getattr(args, "option", None))
    columns: dict[str, str] = {}
    sources: dict[str, str | None] = {}
    table_options: dict[str, dict] = {}
    for table in ("transactions", *TABLE_FLAGS):
        section = spec.get(table, {})
        prefix = "" if table == "transactions" else f"{table}."
        for canonical, src in (section.get("columns") or {}).items():
            columns[f"{prefix}{canonical}"] = str(src)
        flag = args.data if table == "transactions" else getattr(args, table, None)
        sources[table] = flag if flag is not None else section.get("path")
        table_options[table] = {**(section.get("options") or {}), **options.get(table, {})}
    columns.update(parse_column_map(args.column))
    parse_column_map([f"{k}={v}" for k, v in columns.items()])  # the file's keys, checked
    data = sources.pop("transactions")
    if data is None and not any(sources.values()):
        data = DEFAULT_DATASET
    if data is not None and str(data).strip().lower() in ("none", ""):
        data = None
    data_options = {**table_options.pop("transactions"), **_data_options(args)}
    data_options.update({t: o for t, o in table_options.items() if o})
    return {
        "data": _data_argument(data) if data is not None else None,
        **{t: _data_argument(s, t) if s else None for t, s in sources.items()},
        "columns": columns,
        "as_of": args.as_of or spec.get("as_of"),
        "data_options": data_options,
    }


def _load(args: argparse.Namespace):
    """Load and clean every table named on the command line (or in ``--sources``)."""
    request = _request(args)
    tables = load_tables(**request)
    return tables, request


def _dates(table) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    col = SCHEMAS[table.name].date
    if col not in table.frame.columns or table.frame[col].isna().all():
        return None
    return table.frame[col].min(), table.frame[col].max()


def _print_table(table) -> None:
    print(f"\n{table.name} {table.source}: {table.rows_in:,} rows read, {table.rows_clean:,} clean")
    print(log_text(table.log), end="")
    extra = [c for c in table.frame.columns if c not in SCHEMAS[table.name].columns]
    print(f"columns: {', '.join(table.available)}; kept attributes: {', '.join(extra) or 'none'}")
    span = _dates(table)
    if span:
        print(f"dates {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}", end="")
        print(f" · as_of {table.as_of:%Y-%m-%d}" if table.as_of is not None else "")
    if "scale" in table.info:
        info = table.info
        how = "inferred" if info["scale_inferred"] else "given"
        print(f"scale {info['scale']} {info['scale_min']:g}-{info['scale_max']:g} ({how})")
    if "steps" in table.info:
        counts = table.frame["event"].value_counts()
        print("events: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


def _print_transactions(tx) -> None:
    frame = tx.frame
    print(f"{tx.source}: {tx.rows_in:,} rows read, {tx.rows_clean:,} clean")
    print(log_text(tx.log), end="")
    print(
        f"customers {frame['customer_id'].nunique():,} · orders {frame['order_id'].nunique():,} · "
        f"revenue {frame['amount'].sum():,.2f} · {frame['order_date'].min():%Y-%m-%d} to "
        f"{frame['order_date'].max():%Y-%m-%d} · as_of {tx.as_of:%Y-%m-%d}"
    )
    optional = [c for c in tx.available if c not in ("customer_id", "order_date", "amount")]
    print(f"optional columns: {', '.join(optional) or 'none'}")


def cmd_validate(args: argparse.Namespace) -> int:
    tables, _ = _load(args)
    if tables.transactions is not None:
        _print_transactions(tables.transactions)
    else:
        print("no purchase log (--data): the purchase reports will say 'not applicable'")
    for name in TABLE_FLAGS:
        if getattr(tables, name) is not None:
            _print_table(getattr(tables, name))
    if len(tables.present()) > 1 or not tables.checks.empty:
        print("\ncross-table checks (counted, nothing dropped by them):")
        for check, table, rows, note in tables.checks.itertuples(index=False):
            print(f"  {check:<28} {table:<13} {rows:>10,}  {note}")
    return 0


def _run_as_of(tables) -> str:
    """The period of a run: the purchase log's cutoff, else the given or latest date."""
    if tables.transactions is not None:
        return f"{tables.transactions.as_of:%Y-%m-%d}"
    cut = [getattr(tables, n).as_of for n in tables.present()]
    if cut and cut[0] is not None:
        return f"{cut[0]:%Y-%m-%d}"
    ends = [s[1] for s in (_dates(getattr(tables, n)) for n in tables.present()) if s]
    if not ends:
        raise UsageError("no table has dates; pass --as-of YYYY-MM-DD")
    return f"{max(ends):%Y-%m-%d}"


def _add_lang_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang",
        default="en",
        metavar="LANG",
        help="report language: en (English, default) or zh (Simplified Chinese); pages in "
        "another language are written beside the English ones (01_demand.zh.html)",
    )


def _language(args: argparse.Namespace) -> str:
    """The report language asked for, checked (one line naming the languages known), and
    set for the runner's own text (notes in the pages, the index)."""
    from analysis.i18n import set_language

    try:
        return set_language(args.lang)
    except ValueError as err:
        raise UsageError(f"--lang: {err}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="analysis", description="Customer analytics reports from a purchase log.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("report", help="render the notebooks into HTML reports")
    _add_data_options(rep)
    rep.add_argument("--notebooks", nargs="+", metavar="NAME", help="e.g. overview demand")
    rep.add_argument("--out", default=str(REPORTS_DIR), help="report folder (default reports/)")
    rep.add_argument(
        "--param", action="append", metavar="KEY=VALUE", help="notebook parameter (repeatable)"
    )
    rep.add_argument("--no-input", action="store_true", help="hide code cells in the HTML")
    rep.add_argument("--anonymize", action="store_true", help="pseudonymise customer ids")
    _add_lang_option(rep)
    rep.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default 2)")
    rep.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="fail a notebook when one of its cells runs longer (default: no limit)",
    )
    rep.add_argument(
        "--notebooks-dir",
        default=str(NOTEBOOKS_DIR),
        help="folder of the notebooks (default notebooks/)",
    )
    rep.add_argument("--from", dest="start", metavar="YYYY-MM", help="back-fill: first period")
    rep.add_argument("--to", dest="end", metavar="YYYY-MM", help="back-fill: last period")
    rep.add_argument(
        "--every", choices=tuple(EVERY), default="month", help="back-fill period (default month)"
    )
    rep.add_argument(
        "--force",
        action="store_true",
        help="back-fill: render every chosen notebook again, also in complete periods",
    )

    val = sub.add_parser("validate", help="load, validate and print the cleaning log")
    _add_data_options(val)

    pro = sub.add_parser("profile", help="render one customer's profile page into HTML")
    _add_data_options(pro)
    pro.add_argument(
        "--customer",
        required=True,
        metavar="ID",
        help="customer id (the pseudonym under --anonymize)",
    )
    pro.add_argument("--anonymize", action="store_true", help="pseudonymise customer ids")
    pro.add_argument(
        "--out", default=str(REPORTS_DIR / "profiles"), help="folder (default reports/profiles/)"
    )
    pro.add_argument(
        "--reports-dir",
        default=str(REPORTS_DIR),
        help="period reports whose exports the page reads (default reports/)",
    )
    pro.add_argument(
        "--param", action="append", metavar="KEY=VALUE", help="notebook parameter (repeatable)"
    )
    pro.add_argument("--no-input", action="store_true", help="hide code cells in the HTML")
    _add_lang_option(pro)
    pro.add_argument("--timeout", type=float, metavar="SECONDS", help="per-cell time limit")

    trn = sub.add_parser("translations", help="list the messages a report language lacks")
    trn.add_argument("--lang", default="zh", help="report language to check (default zh)")
    trn.add_argument(
        "--po", metavar="FILE", help="also write the missing messages to FILE as a PO file"
    )
    return parser


def _check_params(items: list[str] | None, declared: set[str]) -> dict:
    """``--param`` values, refused unless a chosen notebook declares them (with a hint)."""
    from analysis.report import COMMON_PARAMETERS, RUNNER_PARAMETERS

    own = sorted(declared - set(COMMON_PARAMETERS) - set(RUNNER_PARAMETERS))
    examples = [f"{n}={v}" for n, v in (("holdout_days", 60), ("top_n", 10)) if n in own]
    example = (examples or [f"{n}=..." for n in own] or ["top_n=10"])[0]
    extra = _parse_params(items, example)
    for name in sorted(set(extra) - declared):
        close = difflib.get_close_matches(name, sorted(declared), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UsageError(
            f"--param {name} is not a parameter of the chosen notebooks; {hint}"
            f"known: {', '.join(own or sorted(declared))}"
        )
    return extra


def _declared(inspect, path: Path) -> set[str]:
    """A notebook's parameter names; none for an unreadable notebook (it fails alone later)."""
    try:
        return set(inspect(path))
    except Exception:
        return set()


def _preparer(params: dict, period: str, loaded: dict):
    """Clean the log once for a period; every notebook then reads the clean file.

    ``loaded`` maps :func:`request_key` to a log this process already cleaned.

    Each notebook cleaning the raw log itself cost one full copy of it per kernel
    (2 GB each at 1M customers). The copy this process holds is released as soon
    as it is written, before the kernels start.
    """

    def prepare(path: Path) -> None:
        data, columns, options = params["data"], params["columns"], params["data_options"]
        key = request_key(data, columns, period, options)
        tx = loaded.pop(key, None) or load_transactions(data, columns, period, **options)
        save_prepared(tx, path, key)
        del tx
        _release_memory()

    return prepare


def _release_memory() -> None:
    """Give freed memory back to the system (the kernels started next need it)."""
    gc.collect()
    with contextlib.suppress(Exception):
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed pages otherwise


def _to_render(out: Path, period: str, params: dict, notebooks: list[Path]) -> list[Path]:
    """Back-fill: the notebooks a period's report still lacks in the run's language
    (absent, failed, other data)."""
    from analysis.report import data_source, missing_notebooks, report_name

    names = [report_name(p, params.get("lang")) for p in notebooks]
    missing = missing_notebooks(out, period, data_source(params), names)
    if missing and len(missing) < len(names):
        print(f"{period}: {len(names) - len(missing)} of {len(names)} notebooks already rendered")
    return [p for p in notebooks if report_name(p, params.get("lang")) in missing]


def _check_anonymize(args: argparse.Namespace) -> None:
    """Under ``--anonymize``, fail now, in one line, when there is no usable id key."""
    if args.anonymize:
        from analysis.privacy import id_key

        try:
            id_key()
        except (ValueError, OSError) as err:
            raise UsageError(f"--anonymize: {err}") from None


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.index_page import build_index
    from analysis.report import (
        data_source,
        notebook_parameters,
        notebook_paths,
        period_folder,
        render_period,
    )

    folder = Path(args.notebooks_dir).expanduser().resolve()
    if not folder.is_dir():
        raise UsageError(f"--notebooks-dir {folder} is not a folder; pass the notebooks folder")
    try:
        notebooks = notebook_paths(args.notebooks, folder)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if not notebooks:
        raise UsageError(f"no notebooks (*.ipynb) in {folder}; pass --notebooks-dir")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    backfill = bool(args.start or args.end)
    if backfill and not (args.start and args.end):
        raise UsageError("back-fill needs both --from YYYY-MM and --to YYYY-MM")
    if backfill and args.as_of:
        raise UsageError("--as-of and --from/--to exclude each other; use one of them")
    _check_anonymize(args)
    lang = _language(args)
    declared = set().union(*(_declared(notebook_parameters, p) for p in notebooks))
    extra = _check_params(args.param, declared)
    start = time.perf_counter()
    tables, request = _load(args)
    tx = tables.transactions
    as_of = _run_as_of(tables)
    if tx is not None:
        print(
            f"data {tx.source}: {tx.rows_clean:,} clean rows of {tx.rows_in:,}, "
            f"{tx.frame['customer_id'].nunique():,} customers; as_of {as_of}"
        )
    else:
        print(f"no purchase log: purchase reports will be 'not applicable'; as_of {as_of}")
    for name in TABLE_FLAGS:
        table = getattr(tables, name)
        if table is not None:
            print(f"{name} {table.source}: {table.rows_clean:,} clean rows of {table.rows_in:,}")
    del tables
    params = {
        "data": request["data"],
        **{name: request[name] for name in TABLE_FLAGS},
        "columns": request["columns"],
        "anonymize": bool(args.anonymize),
        "data_options": request["data_options"],
        "lang": lang,
        **extra,
    }
    out = Path(args.out).expanduser().resolve()
    if backfill and tx is None:
        raise UsageError("back-fill (--from/--to) needs a purchase log; pass --data")
    if backfill:
        periods = period_ends(
            args.start, args.end, args.every, tx.frame["order_date"].min(), tx.as_of
        )
    else:
        periods = [as_of]
    # The runner's copy of the log is written once for the notebooks (see _preparer);
    # a back-fill cleans each period's log in turn rather than holding this one.
    key = request_key(request["data"], request["columns"], as_of, request["data_options"])
    loaded = {} if backfill or tx is None else {key: tx}
    del tx
    if backfill:
        _release_memory()
    failed = []
    for period in periods:
        chosen = (
            notebooks if args.force or not backfill else _to_render(out, period, params, notebooks)
        )
        if not chosen:
            print(f"{period}: report complete, skipped (--force to render it again)")
            continue
        folder = period_folder(out, period, data_source(params))
        print(f"rendering {len(chosen)} notebook(s) into {folder} with {args.jobs} job(s)")
        result = render_period(
            params,
            period,
            out,
            chosen,
            jobs=args.jobs,
            no_input=args.no_input,
            timeout=args.timeout,
            prepare=_preparer(params, period, loaded) if params["data"] is not None else None,
        )
        failed.extend((period, f) for f in result.failed)
        if len(periods) > 1:
            build_index(out)  # a long back-fill shows its progress in the index
    index = build_index(out)
    print(f"done in {time.perf_counter() - start:.1f} s")
    for period, f in failed:
        print(f"FAILED {f.name} ({period}): {f.error}", file=sys.stderr)
    print(f"index: {index}")
    if failed:
        names = ", ".join(dict.fromkeys(f.name for _, f in failed))
        print(f"{len(failed)} notebook run(s) failed: {names}; see their HTML", file=sys.stderr)
        return 1
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    """Render one customer's page; the HTML path is printed last."""
    from analysis.privacy import display_id
    from analysis.profile import resolve_customer
    from analysis.report import notebook_parameters, page_stem, render_profile

    folder = NOTEBOOKS_DIR
    _check_anonymize(args)
    lang = _language(args)
    extra = _check_params(
        args.param, _declared(notebook_parameters, folder / "customer_profile.ipynb")
    )
    tables, request = _load(args)
    tx = tables.transactions
    if tx is None:
        raise UsageError("a profile needs the purchase log; pass --data FILE or a built-in")
    known = list(tx.frame["customer_id"].unique())
    if tables.customers is not None:
        known += list(tables.customers.frame["customer_id"].unique())
    raw = resolve_customer(args.customer, known, tx.source)
    shown = display_id(raw, args.anonymize)
    params = {
        "data": request["data"],
        **{name: request[name] for name in TABLE_FLAGS},
        "as_of": f"{tx.as_of:%Y-%m-%d}",
        "columns": request["columns"],
        "anonymize": bool(args.anonymize),
        "data_options": request["data_options"],
        "customer": shown if args.anonymize else raw,
        "reports_dir": str(Path(args.reports_dir).expanduser().resolve()),
        "lang": lang,
        **extra,
    }
    del tables, tx
    page = page_stem(re.sub(r"[^A-Za-z0-9_.-]+", "_", shown) + ".html", lang)
    out = Path(args.out).expanduser().resolve() / f"{page}.html"
    print(f"rendering the profile of customer {shown} as of {params['as_of']}")
    error = render_profile(params, out, folder, no_input=args.no_input, timeout=args.timeout)
    if error:
        print(f"FAILED customer_profile: {error}", file=sys.stderr)
    print(out)
    return 1 if error else 0


def cmd_translations(args: argparse.Namespace) -> int:
    """Every reader-facing message without a translation; exit 1 when there is one."""
    from analysis import translations

    lang = _language(args)
    messages = translations.all_messages()
    missing = translations.untranslated(lang, messages)
    print(translations.summary(lang, messages, missing))
    fstrings = translations.fstring_calls()
    for where in fstrings:
        print(f"tr() of an f-string (cannot be translated; use placeholders): {where}")
    if args.po and missing:
        translations.write_po(Path(args.po), missing)
        print(f"missing messages written to {args.po}")
    return 1 if missing or fstrings else 0


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so exiting prints no second error."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage error (one line, see _Parser) or --help
        return int(exit_.code or 0)
    try:
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "profile":
            return cmd_profile(args)
        if args.command == "translations":
            return cmd_translations(args)
        return cmd_report(args)
    except (DataError, UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; the previous report (if any) is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `analysis validate ... | head -1`: the reader has all it wanted
        _silence_stdout()
        return 0
    except Exception as err:  # never a bare traceback for users
        if args.debug:
            raise
        first = (str(err).strip().splitlines() or [""])[0]
        print(
            f"error: {type(err).__name__}: {first} (rerun with --debug for details)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
