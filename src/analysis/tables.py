"""The optional tables beside the purchase log: customers, events, feedback, tickets.

Each table has canonical columns (:data:`SCHEMAS`), is mapped like the purchase log
(``columns={"score": "Rating"}``; in :func:`load_tables` and on the CLI the dotted
form ``feedback.score=Rating``) and cleaned by a pipeline of named steps with its own
log (:mod:`analysis.cleaning`). :func:`load_tables` loads any of them with the purchase
log and checks the links between them (:func:`link_checks`). Everything here is
importable from :mod:`analysis.data`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import data as _data
from analysis.builtins import read_builtin
from analysis.cleaning import (
    Context,
    LogRow,
    Option,
    check_options,
    dropped,
    log_frame,
    map_columns,
    run_steps,
    step_duplicates,
    step_read,
)
from analysis.errors import DataError
from analysis.privacy import drop_personal, mask_text
from analysis.schemas import SCHEMAS, TABLES
from analysis.text import tr

#: Feedback scales: name -> (lowest, highest score). Inferred from the values unless
#: the option ``scale`` names one (or gives ``"MIN-MAX"``).
SCALES: dict[str, tuple[float, float]] = {
    "csat": (1, 5),
    "stars": (1, 5),
    "ces": (1, 7),
    "nps": (0, 10),
    "percent": (0, 100),
}
#: The order in which scales are tried on the values (the narrowest that fits wins).
_SCALE_ORDER = ("csat", "ces", "nps", "percent")
#: Share of scores a scale must hold to be inferred (the rest are out-of-scale dirt).
SCALE_FIT = 0.98
_SCALE_HINTS = (
    ("nps", r"nps|recommend"),
    ("ces", r"\bces\b|effort"),
    ("csat", r"csat|satisf"),
    ("stars", r"star|review|rating"),
)

#: Event names mapped onto the canonical steps when no ``event_map`` says otherwise
#: (case and separators ignored). Names not listed are kept as they are.
EVENT_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(("view", "pv", "page_view", "pageview", "product_view", "detail"), "view"),
    **dict.fromkeys(("cart", "add_to_cart", "addtocart", "add_cart", "basket"), "cart"),
    **dict.fromkeys(("fav", "favourite", "favorite", "wishlist", "like"), "favourite"),
    **dict.fromkeys(
        ("buy", "purchase", "order", "transaction", "checkout_complete", "paid"), "purchase"
    ),
    **dict.fromkeys(("checkout", "begin_checkout", "initiate_checkout"), "checkout"),
    **dict.fromkeys(("visit", "session_start", "store_visit"), "visit"),
}

_COMMON_OPTIONS = {
    "duplicates": Option("drop", ("drop", "keep"), "exact duplicate rows"),
    "date_format": Option(None, None, "strftime format of the dates"),
    "dayfirst": Option(False, (True, False), "read 03/04 as 3 April"),
    "timezone": Option(None, None, "Unix times are UTC; convert them to this zone"),
}
OPTIONS: dict[str, dict[str, Option]] = {
    "customers": dict(_COMMON_OPTIONS),
    "events": {
        **_COMMON_OPTIONS,
        "event_map": Option(None, None, "raw event name -> canonical step"),
        "window": Option(None, None, "(first day, last day) the log was collected"),
    },
    "feedback": {**_COMMON_OPTIONS, "scale": Option(None, None, "nps, csat, stars, ces, MIN-MAX")},
    "tickets": dict(_COMMON_OPTIONS),
}
READ_OPTIONS = ("sep", "encoding", "sheet")
#: Below this many rows no date is called far from the rest (one row in two is no outlier).
FAR_DATES_MIN_ROWS = 100


@dataclass
class Table:
    """A clean optional table and how it was cleaned.

    Attributes
    ----------
    name : str
        ``customers``, ``events``, ``feedback`` or ``tickets``.
    frame : pandas.DataFrame
        The canonical columns that exist, then kept (non-personal) attribute columns.
    log : pandas.DataFrame
        ``step``, ``rows``, ``note`` (as :attr:`Transactions.log`).
    source : str
        Path or built-in name.
    as_of : pandas.Timestamp or None
        The cutoff applied (None: none).
    rows_in : int
        Rows read.
    available : tuple of str
        Canonical columns present in the source (or derived from it).
    info : dict
        feedback: ``scale``, ``scale_min``, ``scale_max``, ``scale_inferred``;
        events: ``steps`` (raw event name -> canonical step).
    """

    name: str
    frame: pd.DataFrame
    log: pd.DataFrame
    source: str
    as_of: pd.Timestamp | None
    rows_in: int
    available: tuple[str, ...] = field(default_factory=tuple)
    info: dict = field(default_factory=dict)

    @property
    def rows_clean(self) -> int:
        return len(self.frame)

    def has(self, column: str) -> bool:
        """Whether the source provided the canonical ``column``."""
        return column in self.available


# --------------------------------------------------------------------------- built-ins


TableBuiltin = _data.Builtin  # reader, columns, description, options

TAOBAO_WINDOW = ("2017-11-25", "2017-12-03")

TABLE_BUILTINS: dict[str, dict[str, TableBuiltin]] = {
    "customers": {
        "olist": TableBuiltin(
            lambda: read_builtin("olist_customers"),
            {
                "customer_id": "customer_unique_id",
                "city": "customer_city",
                "region": "customer_state",
            },
            "Olist customers (person = customer_unique_id), city and state (CC BY-NC-SA 4.0)",
        ),
        "olist_leads": TableBuiltin(
            lambda: read_builtin("olist_leads"),
            {"customer_id": "mql_id", "signup_date": "first_contact_date", "channel": "origin"},
            "Olist marketing-qualified leads: first contact and origin channel, 842 won",
        ),
    },
    "events": {
        "taobao": TableBuiltin(
            lambda: read_builtin("taobao_events"),
            {
                "customer_id": "user_id",
                "product_id": "item_id",
                "category": "category_id",
                "event": "behavior_type",
                "event_time": "timestamp",
            },
            "Taobao UserBehavior sample: 815 users, 2017-11-25 to 12-03 (Zhu et al. 2018)",
            {"timezone": "Asia/Shanghai", "window": TAOBAO_WINDOW},
        ),
    },
    "feedback": {
        "olist": TableBuiltin(
            lambda: read_builtin("olist_reviews"),
            {
                "response_id": "review_id",
                "response_date": "review_creation_date",
                "score": "review_score",
                "comment": "review_comment_message",
                "customer_id": "customer_unique_id",
                "title": "review_comment_title",
            },
            "Olist order reviews: 3,986 reviews, 1-5 stars, Portuguese comments",
            {"scale": "stars"},
        ),
    },
    "tickets": {},
}

#: Built-in purchase logs that bring companion tables (``data="olist"``).
COMPANIONS = {"olist": ("customers", "feedback")}


# --------------------------------------------------------------------------- columns


def split_columns(columns: Mapping[str, str] | None) -> dict[str, dict[str, str]]:
    """Split one mapping into per-table ones: bare keys are the purchase log's.

    >>> split_columns({"customer_id": "CID", "feedback.score": "Rating"})
    {'transactions': {'customer_id': 'CID'}, 'feedback': {'score': 'Rating'}}
    """
    out: dict[str, dict[str, str]] = {}
    for key, value in (columns or {}).items():
        table, dot, canonical = str(key).partition(".")
        if not dot:
            table, canonical = "transactions", table
        if table != "transactions" and table not in SCHEMAS:
            raise DataError(
                f"column key '{key}' names no table; use TABLE.CANONICAL with TABLE one of "
                f"transactions, {', '.join(TABLES)}"
            )
        allowed = _data.CANONICAL if table == "transactions" else SCHEMAS[table].columns
        if canonical not in allowed:
            raise DataError(
                f"'{canonical}' is not a canonical column of {table}; use one of "
                f"{', '.join(allowed)}"
            )
        out.setdefault(table, {})[canonical] = value
    return out


# --------------------------------------------------------------------------- steps


def _step_columns(frame: pd.DataFrame, ctx: Context):
    schema = SCHEMAS[ctx.table]
    frame, notes = map_columns(frame, ctx.info.pop("columns"), schema, ctx.source)
    rows: list[LogRow] = [("column matched", 0, note) for note in notes]
    frame, pii = drop_personal(frame, keep=schema.columns)
    if pii:
        rows.append(("personal-data columns removed", 0, pii))
    ctx.available = [c for c in schema.columns if c in frame.columns]
    return frame.copy(), rows


def _is_epoch(values: pd.Series) -> str | None:
    """``s`` or ``ms`` when a column holds Unix times (numbers of 9-10 or 12-13 digits)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return None
    text = values.dropna().astype(str).str.replace(r"\.0+$", "", regex=True).head(1000)
    if text.empty or not text.str.fullmatch(r"\d{9,13}").all():
        return None
    return "ms" if text.str.len().median() >= 12 else "s"


def _parse_date_column(values: pd.Series, ctx: Context) -> tuple[pd.Series, str]:
    unit = _is_epoch(values)
    if unit:
        number = pd.to_numeric(values, errors="coerce")
        out = pd.to_datetime(number, unit=unit, errors="coerce", utc=True)
        zone = ctx.options["timezone"] or "UTC"
        try:
            out = out.dt.tz_convert(zone).dt.tz_localize(None)
        except Exception as err:  # an unknown zone name
            raise DataError(
                f"timezone '{zone}' unknown; use an IANA name such as Asia/Shanghai"
            ) from err
        return out.astype("datetime64[ns]"), f"Unix times ({unit}) read as {zone} local time"
    out, mixed = _data.parse_dates(values, ctx.options["date_format"], ctx.options["dayfirst"])
    return out, (f"{mixed} cells in a second format" if mixed else "")


def _step_types(frame: pd.DataFrame, ctx: Context):
    """Ids and text as strings, dates and numbers parsed; the first cells kept for messages."""
    rows: list[LogRow] = []
    kinds = SCHEMAS[ctx.table].kinds
    for col in ctx.available:
        kind = kinds[col]
        ctx.samples[col] = _data._first_text(frame[col])
        if kind == "id":
            frame[col] = _data._clean_ids(frame[col]).astype("str")
        elif kind == "text":
            text = frame[col].astype("string").str.strip()
            frame[col] = text.mask(text == "").astype("str")
        elif kind == "float":
            numbers = pd.to_numeric(frame[col].astype("string").str.strip(), errors="coerce")
            bad = (
                numbers.isna()
                & frame[col].notna()
                & (frame[col].astype("string").str.strip() != "")
            )
            if bad.any():
                rows.append((f"{col} not a number (blanked)", 0, f"{int(bad.sum())} cells"))
            frame[col] = numbers.astype("float64")
        elif kind == "date":
            frame[col], note = _parse_date_column(frame[col], ctx)
            if note:
                rows.append((f"{col} parsed", 0, note))
    return frame, rows


_MISSING_STEP = {"id": "missing {col}", "date": "unparseable {col}", "text": "missing {col}"}


def _step_required(frame: pd.DataFrame, ctx: Context):
    """Rows whose required value is missing (or unparseable) cannot be used."""
    rows = []
    schema = SCHEMAS[ctx.table]
    for col in schema.required:
        step = _MISSING_STEP[schema.kinds[col]].format(col=col.replace("_", " "))
        frame, row = dropped(frame, frame[col].isna(), step)
        rows.append(row)
        if frame.empty:
            _raise_empty(ctx, col, rows)
    return frame, rows


def _raise_empty(ctx: Context, col: str, rows: list[LogRow]) -> None:
    sample = ctx.samples.get(col, "")
    looks = f"; values look like '{sample}'" if sample else "; the column is empty"
    raise DataError(
        f"no usable rows left in {ctx.source} ({ctx.table}) after '{rows[-1][0]}'{looks}; "
        f"map another column with --column {ctx.table}.{col}=<name>"
        + (" or pass a date format" if SCHEMAS[ctx.table].kinds[col] == "date" else "")
    )


def _step_far_dates(frame: pd.DataFrame, ctx: Context):
    col = SCHEMAS[ctx.table].date
    if col not in frame.columns or len(frame) < FAR_DATES_MIN_ROWS:
        return frame, None
    dates = frame[col]
    known = dates.notna()
    mask = pd.Series(False, index=frame.index)
    mask[known] = _data._isolated_dates(dates[known])
    return dropped(frame, mask, f"{col} far from the rest", "over a year from every other row")


def _step_window(frame: pd.DataFrame, ctx: Context):
    """Events outside the window the log was collected in (option ``window``)."""
    window = ctx.options.get("window")
    if not window:
        return frame, None
    try:
        first, last = (pd.Timestamp(d) for d in window)
    except (TypeError, ValueError) as err:
        raise DataError(f"window {window!r} is not two dates (first day, last day)") from err
    t = frame["event_time"]
    outside = (t < first) | (t >= last + pd.Timedelta(days=1))
    return dropped(
        frame, outside, "outside the collection window", f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    )


def _step_as_of(frame: pd.DataFrame, ctx: Context):
    col = SCHEMAS[ctx.table].date
    if ctx.as_of is None or col not in frame.columns:
        return frame, None
    late = frame[col] >= ctx.as_of + pd.Timedelta(days=1)
    return dropped(frame, late, "after as_of", f"{col} after {ctx.as_of:%Y-%m-%d} is ignored")


def _step_repeated_customers(frame: pd.DataFrame, ctx: Context):
    return dropped(
        frame,
        frame["customer_id"].duplicated(),
        "repeated customer id",
        "first row of each customer kept",
    )


def _canonical_event(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def _step_event_map(frame: pd.DataFrame, ctx: Context):
    """Raw event names onto canonical steps (``event_map`` first, then the synonyms)."""
    given = ctx.options["event_map"] or {}
    if not isinstance(given, Mapping):
        raise DataError(f"event_map must map raw event names to steps, got {given!r}")
    names = frame["event"].unique()
    steps = {}
    for raw in names:
        key = _canonical_event(raw)
        steps[raw] = given.get(raw, given.get(key, EVENT_SYNONYMS.get(key, raw)))
    frame["event"] = frame["event"].map(steps)
    ctx.info["steps"] = steps
    mapped = {k: v for k, v in steps.items() if k != v}
    unmapped = sorted(k for k, v in steps.items() if v not in set(EVENT_SYNONYMS.values()))
    rows = [("events mapped", 0, ", ".join(f"{k}->{v}" for k, v in mapped.items()) or "none")]
    if unmapped:
        rows.append(("event names kept as they are", 0, ", ".join(map(str, unmapped[:10]))))
    return frame, rows


def parse_scale(scale) -> tuple[str, float, float]:
    """A scale option (``"nps"``, ``"stars"``, ``"1-7"``) as (name, lowest, highest)."""
    text = str(scale).strip().lower()
    if text in SCALES:
        return (text, *SCALES[text])
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*[-:]\s*(\d+(?:\.\d+)?)", text)
    if match and float(match[1]) < float(match[2]):
        return text, float(match[1]), float(match[2])
    raise DataError(
        f"feedback scale '{scale}' unknown; use one of {', '.join(SCALES)} or MIN-MAX, e.g. 1-7"
    )


def infer_scale(scores: pd.Series, column_name: str = "") -> tuple[str, float, float] | None:
    """The narrowest known scale holding at least :data:`SCALE_FIT` of the scores.

    A 1-5 scale is called ``stars`` or ``csat`` from the source column's name
    (``review_score`` -> stars), ``csat`` when the name says nothing; None when no
    known scale fits.
    """
    values = scores.dropna()
    if values.empty:
        return None
    for name in _SCALE_ORDER:
        low, high = SCALES[name]
        if values.between(low, high).mean() >= SCALE_FIT:
            hint = next((n for n, p in _SCALE_HINTS if re.search(p, column_name.lower())), None)
            if hint and SCALES[hint] == (low, high):
                name = hint
            return name, low, high
    return None


def _step_scale(frame: pd.DataFrame, ctx: Context):
    """Decide the scale; scores outside it are dirt (counted)."""
    if "score" not in frame.columns:
        return frame, None
    option = ctx.options["scale"]
    source_name = str(ctx.info.get("score_source", ""))
    if option is not None:
        name, low, high = parse_scale(option)
        how = "given"
    else:
        found = infer_scale(frame["score"], source_name)
        if found is None:
            s = frame["score"].dropna()
            raise DataError(
                f"scores in {ctx.source} run {s.min():g} to {s.max():g} and fit no known scale; "
                f"pass the feedback option scale (one of {', '.join(SCALES)} or MIN-MAX)"
                if len(s)
                else f"the score column of {ctx.source} has no numbers; map another with "
                "--column feedback.score=<name> or leave it out"
            )
        name, low, high = found
        how = "inferred from the values"
    ctx.info.update(scale=name, scale_min=low, scale_max=high, scale_inferred=option is None)
    outside = frame["score"].notna() & ~frame["score"].between(low, high)
    frame, row = dropped(
        frame, outside, "score outside the scale", f"{name} {low:g}-{high:g}, {how}"
    )
    return frame, [("feedback scale", 0, f"{name} {low:g}-{high:g} ({how})"), row]


def _step_feedback_content(frame: pd.DataFrame, ctx: Context):
    """Responses with neither a score nor a comment say nothing."""
    rows = []
    for col in ("score", "comment"):
        if col in frame.columns and frame[col].isna().all():
            rows.append((f"{col} column empty", 0, f"no {col} in any row; column ignored"))
            frame = frame.drop(columns=col)
            ctx.available.remove(col)
    if not {"score", "comment"} & set(frame.columns):
        raise DataError(
            f"the feedback in {ctx.source} has no score and no comment in any row; "
            "map them with --column feedback.score=<name> or --column feedback.comment=<name>"
        )
    has = pd.Series(False, index=frame.index)
    for col in ("score", "comment"):
        if col in frame.columns:
            has |= frame[col].notna()
    frame, row = dropped(frame, ~has, "no score and no comment")
    rows.append(row)
    if "response_id" not in frame.columns:
        frame["response_id"] = [f"R{i}" for i in range(1, len(frame) + 1)]
        ctx.available.insert(0, "response_id")
        rows.append(("response id generated", 0, tr("one per row")))
    return frame, rows


def _step_ticket_times(frame: pd.DataFrame, ctx: Context):
    """Closing times before the opening, or after as_of, are unknown (still open)."""
    if "closed_at" not in frame.columns:
        return frame, None
    before = frame["closed_at"] < frame["opened_at"]
    frame.loc[before, "closed_at"] = pd.NaT
    rows = [("closed before opened (blanked)", 0, tr("{n} tickets", n=int(before.sum())))]
    if ctx.as_of is not None:
        late = frame["closed_at"] >= ctx.as_of + pd.Timedelta(days=1)
        frame.loc[late, "closed_at"] = pd.NaT
        rows.append(("closed after as_of (open then)", 0, tr("{n} tickets", n=int(late.sum()))))
    return frame, rows


def _step_finish(frame: pd.DataFrame, ctx: Context):
    if frame.empty:
        removed = "; ".join(f"{step}: {-n:,}" for step, n, _ in ctx.log if n < 0)
        hint = " choose a later --as-of;" if "after as_of" in removed else ""
        raise DataError(
            f"no usable rows left in {ctx.source} ({ctx.table}) after cleaning ({removed});"
            f"{hint} see data/README.md for the {ctx.table} table"
        )
    lead = [c for c in SCHEMAS[ctx.table].columns if c in frame.columns]
    frame = frame[lead + [c for c in frame.columns if c not in lead]]
    frame = frame.reset_index(drop=True)  # rows stay in the source's order
    customers = frame["customer_id"].nunique() if "customer_id" in frame.columns else None
    note = tr("{n} customers", n=f"{customers:,}") if customers is not None else ""
    return frame, ("rows kept", len(frame), note)


def _step_mask_text(frame: pd.DataFrame, ctx: Context):
    """Free text kept for reading (comments, titles): e-mails and phone numbers masked."""
    changed = 0
    for col in [c for c in ("comment", "title") if c in frame.columns]:
        masked = mask_text(frame[col])
        changed += int((masked.fillna("") != frame[col].fillna("")).sum())
        frame[col] = masked
    return frame, ("e-mails and phone numbers masked", 0, f"in {changed} texts" if changed else "")


_HEAD = (step_read, step_duplicates, _step_columns, _step_types, _step_required)
_TAIL = (_step_far_dates, _step_as_of)
PIPELINES = {
    "customers": (*_HEAD, _step_repeated_customers, *_TAIL, _step_finish),
    "events": (*_HEAD, _step_event_map, _step_window, *_TAIL, _step_finish),
    "feedback": (
        *_HEAD,
        _step_scale,
        _step_feedback_content,
        _step_mask_text,
        *_TAIL,
        _step_finish,
    ),
    "tickets": (*_HEAD, *_TAIL, _step_ticket_times, _step_finish),
}


# --------------------------------------------------------------------------- loading


def _cutoff(as_of) -> pd.Timestamp | None:
    if _data._no_cutoff(as_of):
        return None
    try:
        return pd.Timestamp(as_of).normalize()
    except (ValueError, TypeError) as err:
        raise DataError(f"as_of '{as_of}' is not a date; use YYYY-MM-DD") from err


def clean_table(
    name: str,
    raw: pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    as_of=None,
    *,
    source: str = "DataFrame",
    **options,
) -> Table:
    """Map, validate and clean one optional table (see :data:`PIPELINES`).

    Parameters
    ----------
    name : str
        ``customers``, ``events``, ``feedback`` or ``tickets``.
    raw : pandas.DataFrame
        The table as read (not modified).
    columns : mapping, optional
        Canonical name -> source column (``{"score": "Rating"}``).
    as_of : date-like, optional
        Rows dated after this day are dropped (counted); None: no cutoff.
    **options
        Cleaning options of the table (:data:`OPTIONS`), checked before any step.
    """
    if name not in SCHEMAS:
        raise DataError(f"unknown table '{name}'; use one of {', '.join(TABLES)}")
    opts = check_options(options, OPTIONS[name], f"the {name} table")
    columns = dict(columns or {})
    ctx = Context(source=source, options=opts, table=name, as_of=_cutoff(as_of))
    ctx.info.update(columns=columns, label=f"the {name} table")
    ctx.info["score_source"] = columns.get("score", "")
    frame, rows = run_steps(raw, PIPELINES[name], ctx)
    ctx.info.pop("score_source", None)
    return Table(
        name, frame, log_frame(rows), source, ctx.as_of, len(raw), tuple(ctx.available), ctx.info
    )


def load_table(name: str, source, columns=None, as_of=None, **options) -> Table:
    """Load one optional table from a file, a query, a DataFrame or a built-in name.

    Parameters
    ----------
    name : str
        ``customers``, ``events``, ``feedback`` or ``tickets``.
    source : str, Path or DataFrame
        CSV / Parquet / Excel path, ``sql:``/``duckdb:``/``spark:`` name, or a built-in
        (:data:`TABLE_BUILTINS`: customers ``olist``, ``olist_leads``; events ``taobao``;
        feedback ``olist``).
    columns : mapping, optional
        Canonical name -> source column, merged over a built-in's own map.
    as_of : date-like, optional
        Cutoff; None applies none.
    **options
        Cleaning options (:data:`OPTIONS`) and reading options (``sep``, ``encoding``,
        ``sheet``).

    Raises
    ------
    DataError
        One line naming the file, the column and the fix.
    """
    if name not in SCHEMAS:
        raise DataError(f"unknown table '{name}'; use one of {', '.join(TABLES)}")
    read_opts = {k: options.pop(k) for k in READ_OPTIONS if k in options}
    if isinstance(source, pd.DataFrame):
        return clean_table(name, source, columns, as_of, source="DataFrame", **options)
    text = str(source)
    builtin = TABLE_BUILTINS[name].get(text)
    if builtin is not None:
        merged = {**builtin.columns, **dict(columns or {})}
        opts = {**builtin.options, **options}
        return clean_table(name, builtin.reader(), merged, as_of, source=text, **opts)
    if text.startswith(_data.QUERY_PREFIXES):
        raw = _data.read_query(text)
    else:
        if not Path(text).expanduser().exists():
            known = ", ".join(TABLE_BUILTINS[name]) or "none"
            raise DataError(
                f"{name} '{text}' is neither a file nor a built-in {name} table ({known}); "
                f"check the path given to --{name}"
            )
        raw = _data.read_table(text, **read_opts)
    return clean_table(name, raw, columns, as_of, source=text, **options)


@dataclass
class Tables:
    """Every table of one run: the purchase log (or None) and the optional tables.

    ``checks``: the cross-table link checks (:func:`link_checks`), columns
    ``check``, ``table``, ``rows``, ``note``; counted, never applied.
    """

    transactions: object = None
    customers: Table | None = None
    events: Table | None = None
    feedback: Table | None = None
    tickets: Table | None = None
    checks: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["check", "table", "rows", "note"])
    )

    def present(self) -> list[str]:
        """Names of the tables that were given."""
        names = ("transactions", *TABLES)
        return [n for n in names if getattr(self, n) is not None]


def load_tables(
    data=None,
    customers=None,
    events=None,
    feedback=None,
    tickets=None,
    columns: Mapping[str, str] | None = None,
    as_of=None,
    data_options: Mapping | None = None,
    prepared=None,
) -> Tables:
    """Load the purchase log and any optional tables, with one cutoff and the link checks.

    Parameters
    ----------
    data : str, Path or DataFrame, optional
        The purchase log (:func:`load_transactions`); None for a run without one. A
        built-in with companions (``olist``) also gives its customers and feedback
        unless those are named.
    customers, events, feedback, tickets : str, Path or DataFrame, optional
        Each optional table (see :func:`load_table`).
    columns : mapping, optional
        Bare keys map the purchase log; ``TABLE.CANONICAL`` keys the others
        (``{"feedback.score": "Rating"}``).
    as_of : date-like, optional
        One cutoff for every table; default the purchase log's (its last order),
        else none.
    data_options : mapping, optional
        The purchase log's options, and each table's under its name:
        ``{"returns": "net", "feedback": {"scale": "nps"}}``.
    prepared : str or Path, optional
        The runner's prepared purchase log (see :func:`load_transactions`).

    Returns
    -------
    Tables
    """
    maps = split_columns(columns)
    options = dict(data_options or {})
    per_table = {n: dict(options.pop(n) or {}) for n in TABLES if n in options}
    tables = Tables()
    if data is not None and not (isinstance(data, str) and _data._no_cutoff(data)):
        tables.transactions = _data.load_transactions(
            data, maps.get("transactions"), as_of, prepared=prepared, **options
        )
        as_of = tables.transactions.as_of
    given = {"customers": customers, "events": events, "feedback": feedback, "tickets": tickets}
    for name in COMPANIONS.get(str(data), ()) if isinstance(data, str) else ():
        if given[name] is None:
            given[name] = data
    for name, source in given.items():
        if source is None or (isinstance(source, str) and not source.strip()):
            continue
        table = load_table(name, source, maps.get(name), as_of, **per_table.get(name, {}))
        setattr(tables, name, table)
    tables.checks = link_checks(tables)
    return tables


def _isin(values: pd.Series, known) -> pd.Series:
    """``values.isin(known)`` by Arrow's hash lookup (pandas loops in Python on strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    as_text = pa.array(values.astype("str"), from_pandas=True)
    lookup = pa.array(pd.Series(known, dtype="str"), from_pandas=True)
    hit = pc.is_in(as_text, value_set=lookup).to_numpy(zero_copy_only=False)
    return pd.Series(hit, index=values.index)


def _ids(frame: pd.DataFrame | None, column: str) -> pd.Index | None:
    if frame is None or column not in frame.columns:
        return None
    return pd.Index(frame[column].dropna().unique())


def link_checks(tables: Tables) -> pd.DataFrame:
    """Count the rows of each table whose links point nowhere, and dates after as_of.

    Customers are known from the customers table and the purchase log; orders from
    the purchase log. Nothing is dropped: the counts are for the reader to judge.
    """
    tx = tables.transactions.frame if tables.transactions is not None else None
    cust = tables.customers.frame if tables.customers is not None else None
    known = [i for i in (_ids(cust, "customer_id"), _ids(tx, "customer_id")) if i is not None]
    known_ids = known[0].append(known[1:]).unique() if known else None
    orders = _ids(tx, "order_id")
    rows = []
    for name in ("events", "feedback", "tickets"):
        table = getattr(tables, name)
        if table is None:
            continue
        if table.has("customer_id"):
            ids = table.frame["customer_id"]
            if known_ids is None:
                rows.append(("unknown customer", name, 0, "not checked: no customers or purchases"))
            else:
                bad = ids.notna() & ~_isin(ids, known_ids)
                rows.append(
                    (
                        "unknown customer",
                        name,
                        int(bad.sum()),
                        f"{ids[bad].nunique():,} ids in neither customers nor purchases",
                    )
                )
        if name == "feedback" and table.has("order_id") and orders is not None:
            oid = table.frame["order_id"]
            bad = oid.notna() & ~_isin(oid, orders)
            rows.append(("unknown order", name, int(bad.sum()), "order id not in the purchase log"))
    if cust is not None and tx is not None:
        buyers = _ids(tx, "customer_id")
        never = ~_isin(cust["customer_id"], buyers)
        rows.append(("customers without purchases", "customers", int(never.sum()), "kept"))
    for name in ("transactions", *TABLES):
        table = getattr(tables, name)
        if table is None:
            continue
        late = table.log.loc[table.log["step"] == "after as_of", "rows"]
        if len(late):
            cut = f"{table.as_of:%Y-%m-%d}" if table.as_of is not None else ""
            rows.append(("dates after as_of", name, int(-late.sum()), f"dropped, after {cut}"))
    return pd.DataFrame(rows, columns=["check", "table", "rows", "note"]).astype({"rows": "int64"})
