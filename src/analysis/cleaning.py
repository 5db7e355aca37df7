"""Cleaning as a pipeline of named steps, the same machinery for every table.

A step is a function ``step(frame, ctx) -> (frame, rows)``: it returns the frame
after the step and its log row(s) ``(step, rows, note)``: ``rows`` is minus the
number of rows removed (0 for a step that only changes or notes something). A
pipeline is a tuple of steps; :func:`run_steps` applies them in order and collects
the log. Options are checked once, by :func:`check_options`, against an
:class:`Option` table, before any step runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from analysis import i18n
from analysis.errors import DataError
from analysis.schemas import ALL_SCHEMAS, Schema, normalise_name
from analysis.text import tr

LogRow = tuple[str, int, str]

#: Step names of the cleaning logs readers see (the overview's cleaning table, each
#: notebook's log): the log keeps them in English, displays translate them (``tr(step)``).
STEP_NAMES = i18n.fixed_names(
    __name__,
    (
        "rows read",
        "column matched",
        "personal-data columns removed",
        "missing customer id",
        "dates read day-first",
        "day/month order ambiguous",
        "dates in a second format",
        "unparseable order date",
        "amounts read from text",
        "amount derived",
        "unparseable amount",
        "exact duplicate rows",
        "exact duplicate rows kept",
        "purchases reversed by a cancellation",
        "cancellations and returns",
        "cancellations and returns kept",
        "zero amount",
        "non-positive amount",
        "negative amount",
        "non-product lines",
        "dates far from the rest",
        "as_of after last order",
        "after as_of",
        "very large amounts (kept)",
        "rows kept",
        "e-mails and phone numbers masked",
        "events mapped",
        "event names kept as they are",
        "feedback scale",
        "score outside the scale",
        "no score and no comment",
        "response id generated",
        "repeated customer id",
        "outside the collection window",
        "closed after as_of (open then)",
        "closed before opened (blanked)",
    ),
)
LOG_COLUMNS = ["step", "rows", "note"]


@dataclass
class Context:
    """What the steps of one cleaning run share.

    Attributes
    ----------
    source : str
        What was read (for messages).
    options : dict
        The checked options (every known option present, defaults filled in).
    table : str
        The table being cleaned (``transactions``, ``customers`` ...).
    as_of : pandas.Timestamp or None
        The cutoff, once a step has decided it.
    available : list of str
        Canonical columns present in (or derived from) the source.
    info : dict
        What steps found out for the caller (a feedback scale, an event map ...).
    samples : dict
        First cell of key columns, for error messages.
    log : list
        The log rows written so far (a step may read them, e.g. to explain an
        empty result).
    """

    source: str
    options: dict
    table: str = "transactions"
    as_of: pd.Timestamp | None = None
    available: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)
    log: list = field(default_factory=list)


Step = Callable[[pd.DataFrame, Context], tuple[pd.DataFrame, "LogRow | list[LogRow] | None"]]


def dropped(frame: pd.DataFrame, mask: pd.Series, step: str, note: str = ""):
    """``frame`` without the rows of ``mask``, and the log row that counts them."""
    n = int(mask.sum())
    return (frame.loc[~mask] if n else frame), (step, -n, note if n else "")


def run_steps(
    frame: pd.DataFrame, steps: Iterable[Step], ctx: Context
) -> tuple[pd.DataFrame, list[LogRow]]:
    """Apply ``steps`` in order; return the frame and every log row they wrote."""
    log: list[LogRow] = ctx.log
    for step in steps:
        frame, rows = step(frame, ctx)
        if rows is None:
            continue
        log.extend(rows if isinstance(rows, list) else [rows])
    return frame, log


def log_frame(rows: list[LogRow]) -> pd.DataFrame:
    """The cleaning log as a DataFrame with columns ``step``, ``rows``, ``note``."""
    return pd.DataFrame(rows, columns=LOG_COLUMNS).astype({"rows": "int64"})


@dataclass(frozen=True)
class Option:
    """One cleaning option: its default and, when it has a fixed set, the allowed values."""

    default: object = None
    choices: tuple | None = None
    help: str = ""


def check_options(options: Mapping, spec: Mapping[str, Option], where: str) -> dict:
    """Check cleaning options against ``spec`` in one place; fill in the defaults.

    Raises
    ------
    DataError
        One line naming the option and its allowed values (``duplicates='dorp'``
        -> "use one of 'drop', 'keep'"), or the known options for an unknown name.
    """
    unknown = [k for k in options if k not in spec]
    if unknown:
        raise DataError(
            f"unknown option '{unknown[0]}' for {where}; known: {', '.join(sorted(spec))}"
        )
    out = {}
    for name, opt in spec.items():
        value = options.get(name, opt.default)
        if value is None:
            value = opt.default
        if opt.choices is not None and value not in opt.choices:
            allowed = ", ".join(repr(c) for c in opt.choices)
            raise DataError(f"{name}={value!r} is not allowed for {where}; use one of {allowed}")
        out[name] = value
    return out


# --------------------------------------------------------------------------- shared steps


def step_read(frame: pd.DataFrame, ctx: Context):
    """Count the rows read; a header without rows is an error."""
    if frame.empty:
        what = ctx.info.get("label") or f"the {ctx.table}"
        raise DataError(f"{ctx.source} has a header but no rows; export {what} again")
    return frame, ("rows read", len(frame), tr("from {source}", source=ctx.source))


def exact_duplicates(frame: pd.DataFrame) -> pd.Series:
    """``frame.duplicated()``, several times faster on millions of rows.

    Rows are hashed on their numeric and date columns first (equal rows agree on any
    subset of columns; hashing text is what costs); only rows whose hash repeats are
    compared in full, so the result is exact and the full comparison runs on a few rows.
    A table without such columns is hashed whole.
    """
    cheap = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_datetime64_any_dtype(frame[c])
    ]
    try:
        hashed = pd.util.hash_pandas_object(frame[cheap or list(frame.columns)], index=False)
    except TypeError:  # cells pandas cannot hash as values (lists ...): the plain way
        return frame.duplicated()
    maybe = hashed.duplicated(keep=False).to_numpy()
    out = pd.Series(False, index=frame.index)
    if maybe.any():
        out[maybe] = frame[maybe].duplicated().to_numpy()
    return out


def step_duplicates(frame: pd.DataFrame, ctx: Context):
    """Rows identical in every column: export glitches (``duplicates="drop"``) or kept."""
    dup = exact_duplicates(frame)
    if ctx.options["duplicates"] == "keep":
        return frame, ("exact duplicate rows kept", 0, tr("{n} rows", n=int(dup.sum())))
    return dropped(frame, dup, "exact duplicate rows", tr("identical in every column"))


def guess_table(names: set[str]) -> str | None:
    """The table whose required columns a file (normalised column names) has.

    Only tables that need more than a customer id are guessed (any file has one).
    """
    for schema in sorted(ALL_SCHEMAS.values(), key=lambda s: -len(s.required + s.one_of)):
        if len(schema.required + schema.one_of) < 2:
            continue
        needed = {c for c in schema.required if c not in schema.derivable}
        if needed <= names and (not schema.one_of or names & set(schema.one_of)):
            if all(c in names or set(alt) <= names for c, alt in schema.derivable.items()):
                return schema.name
    return None


def map_columns(
    raw: pd.DataFrame, columns: Mapping[str, str], schema: Schema, source: str
) -> tuple[pd.DataFrame, list[str]]:
    """Rename the user's columns to ``schema``'s canonical names; notes on what matched.

    A source column serves one canonical column; columns already named canonically
    (case and separators ignored: ``Customer ID`` is ``customer_id``) need no entry.

    Raises
    ------
    DataError
        For a mapped column that does not exist, or a missing required one; the
        message says which other table the file looks like, when it does, and
        when a single column suggests a wrong delimiter.
    """
    available = ", ".join(map(str, raw.columns[:30]))
    of = f" (for {schema.name}.{{c}})" if schema.name != "transactions" else " (for {c})"
    rename: dict[str, str] = {}
    for canonical, src in columns.items():
        if src not in raw.columns:
            raise DataError(
                f"column '{src}'{of.format(c=canonical)} not found in {source}; "
                f"available: {available}; pass {schema.flag(canonical)}"
            )
        rename[src] = canonical
    notes = []
    # as documented: case, spaces and underscores ignored (CustomerID is customer_id)
    by_norm = {normalise_name(c).replace("_", ""): c for c in raw.columns if c not in rename}
    for canonical in schema.columns:
        if canonical in rename.values():
            continue
        match = by_norm.get(canonical.replace("_", ""))
        if match is not None:
            rename[match] = canonical
            if match != canonical:
                notes.append(f"column '{match}' used as {canonical}")
    # A column already named like a canonical one but not chosen must not clash.
    clashes = [c for c in raw.columns if c not in rename and c in rename.values()]
    frame = raw.drop(columns=clashes).rename(columns=rename)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    present = set(frame.columns)
    missing = [
        c
        for c in schema.required
        if c not in present and not (c in schema.derivable and set(schema.derivable[c]) <= present)
    ]
    if schema.one_of and not set(schema.one_of) & present:
        missing.append(" or ".join(schema.one_of))
    if missing:
        _raise_missing(raw, schema, source, missing[0], available)
    return frame, notes


def _raise_missing(raw: pd.DataFrame, schema: Schema, source: str, col: str, available: str):
    alt = schema.derivable.get(col)
    hint = f" (or {' and '.join(alt)})" if alt else ""
    what = "" if schema.name == "transactions" else f" of the {schema.name} table"
    fix = f"pass {schema.flag(col.split(' or ')[0])}"
    looks = guess_table({normalise_name(c) for c in raw.columns})
    if len(raw.columns) == 1 and re.search(r"[,;\t|]", str(raw.columns[0])):
        fix = "the file has one column only: check the delimiter (drop --sep or pass another)"
    elif looks and looks != schema.name:
        flag = "--data" if looks == "transactions" else f"--{looks}"
        fix += f", or if it is {looks} data pass it with {flag}"
    raise DataError(
        f"required column '{col}'{hint}{what} not found in {source}; available: {available}; {fix}"
    )
