"""Command line: ``analysis report`` and ``analysis validate``.

Exit codes: 0 success; 1 a notebook failed (the others still rendered);
2 bad input or usage (one line on stderr says what is wrong and how to fix it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from analysis.config import DEFAULT_DATASET, REPORTS_DIR
from analysis.data import BUILTINS, DataError, load_transactions, log_text, parse_column_map


class UsageError(Exception):
    """Bad command-line input; reported in one line with exit code 2."""


def _parse_value(text: str):
    """``--param`` values: JSON when they parse (numbers, booleans, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_params(items: list[str] | None) -> dict:
    params = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--param '{item}' is not KEY=VALUE, e.g. --param horizon_days=365")
        key, value = item.split("=", 1)
        if not key.strip().isidentifier():
            raise UsageError(f"--param name '{key}' is not a valid parameter name")
        params[key.strip()] = _parse_value(value.strip())
    return params


def _data_argument(value: str) -> str:
    """Built-in names stay names; files become absolute paths (notebooks run elsewhere)."""
    if value in BUILTINS:
        return value
    path = Path(value).expanduser()
    return str(path.resolve()) if path.exists() else value


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=DEFAULT_DATASET,
        help=f"CSV/Parquet/Excel file or built-in name ({', '.join(BUILTINS)}); "
        f"default {DEFAULT_DATASET}",
    )
    parser.add_argument(
        "--column",
        action="append",
        metavar="CANONICAL=SOURCE",
        help="map a canonical column onto yours, e.g. --column customer_id=CustomerID (repeatable)",
    )
    parser.add_argument("--as-of", help="cutoff date YYYY-MM-DD (default: last order date)")
    parser.add_argument("--date-format", help="strftime format of the dates, e.g. %%d/%%m/%%Y")
    parser.add_argument("--dayfirst", action="store_true", help="read 03/04/2011 as 3 April")
    parser.add_argument(
        "--returns", choices=("drop", "net"), help="cancellations/returns: drop them (default) or net them"
    )
    parser.add_argument("--encoding", help="CSV encoding (default: sniffed)")
    parser.add_argument("--sep", help="CSV delimiter (default: sniffed)")


def _data_options(args: argparse.Namespace) -> dict:
    opts = {
        "date_format": args.date_format,
        "dayfirst": args.dayfirst or None,
        "returns": args.returns,
        "encoding": args.encoding,
        "sep": args.sep,
    }
    return {k: v for k, v in opts.items() if v is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analysis", description="Customer analytics reports from a purchase log."
    )
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
    rep.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default 2)")

    val = sub.add_parser("validate", help="load, validate and print the cleaning log")
    _add_data_options(val)
    return parser


def _load(args: argparse.Namespace):
    columns = parse_column_map(args.column)
    return load_transactions(
        _data_argument(args.data), columns, args.as_of, **_data_options(args)
    ), columns


def cmd_validate(args: argparse.Namespace) -> int:
    tx, _ = _load(args)
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
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import build_index, notebook_parameters, notebook_paths, render_period

    try:
        notebooks = notebook_paths(args.notebooks)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    extra = _parse_params(args.param)
    declared = set().union(*(notebook_parameters(p) for p in notebooks))
    unknown = sorted(set(extra) - declared)
    if unknown:
        raise UsageError(
            f"--param {unknown[0]} is not a parameter of the chosen notebooks; "
            f"known: {', '.join(sorted(declared))}"
        )
    start = time.perf_counter()
    tx, columns = _load(args)
    as_of = f"{tx.as_of:%Y-%m-%d}"
    print(
        f"data {tx.source}: {tx.rows_clean:,} clean rows of {tx.rows_in:,}, "
        f"{tx.frame['customer_id'].nunique():,} customers; as_of {as_of}"
    )
    params = {
        "data": _data_argument(args.data),
        "columns": columns,
        "anonymize": bool(args.anonymize),
        "data_options": _data_options(args),
        **extra,
    }
    out = Path(args.out).expanduser().resolve()
    print(f"rendering {len(notebooks)} notebook(s) into {out / as_of} with {args.jobs} job(s)")
    result = render_period(params, as_of, out, notebooks, jobs=args.jobs, no_input=args.no_input)
    index = build_index(out)
    print(f"done in {time.perf_counter() - start:.1f} s")
    for failed in result.failed:
        print(f"FAILED {failed.name}: {failed.error}", file=sys.stderr)
    print(f"index: {index}")
    if result.failed:
        names = ", ".join(f.name for f in result.failed)
        print(f"{len(result.failed)} notebook(s) failed: {names}; see their HTML", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args)
        return cmd_report(args)
    except (DataError, UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the previous report (if any) is unchanged", file=sys.stderr)
        return 130
    except Exception as err:  # never a bare traceback for users
        if args.debug:
            raise
        first = (str(err).strip().splitlines() or [""])[0]
        print(f"error: {type(err).__name__}: {first} (rerun with --debug for details)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
