"""The input contract: load a purchase log, map it onto the canonical schema, clean it.

Every analysis starts from :func:`load_transactions`, which returns a
:class:`Transactions` object: the clean frame plus a cleaning log that counts,
step by step, the rows dropped or changed and why.

Canonical columns (see ``data/README.md``):

========== ======== ========= =============================================
column     type     required  meaning
========== ======== ========= =============================================
customer_id string  yes       stable customer key
order_date datetime yes       when the purchase happened
amount     float    yes*      revenue of the row (* or quantity x unit_price)
order_id   string   no        groups lines into orders (else a row = an order)
product_id string   no        what was bought
category   string   no        product group
quantity   number   no        units
unit_price float    no        price per unit
channel    string   no        online / store / phone ...
region     string   no        country or region
========== ======== ========= =============================================
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.cleaning import (
    Context,
    Option,
    check_options,
    dropped,
    log_frame,
    map_columns,
    run_steps,
    step_duplicates,
    step_read,
)
from analysis.config import DATA_DIR
from analysis.errors import DataError, NotApplicable
from analysis.privacy import canonical_ids as _clean_ids
from analysis.privacy import drop_personal
from analysis.schemas import TABLES, TRANSACTIONS, normalise_name
from analysis.text import tr

REQUIRED = TRANSACTIONS.required
OPTIONAL = tuple(c for c in TRANSACTIONS.columns if c not in REQUIRED)
CANONICAL = REQUIRED + OPTIONAL

RETURNS_POLICIES = ("drop", "net")


@dataclass
class Transactions:
    """A clean transaction log and the record of how it was cleaned.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per order line with the canonical columns that exist in the
        source (``customer_id``, ``order_date``, ``amount`` always; ``order_id``
        always, generated one per row when the source has none) plus any extra,
        non-personal columns.
    log : pandas.DataFrame
        Columns ``step``, ``rows``, ``note``: rows removed (or changed) per step.
    source : str
        What was read (file path or built-in name).
    as_of : pandas.Timestamp
        The cutoff date (midnight of the day; the whole day is included).
    rows_in : int
        Rows read from the source.
    available : tuple of str
        Canonical columns that were present in (or derived from) the source.
    currency : str
        Currency symbol for labels (``"£"``, ``"$"``, ``"￥"``): the ``currency`` option,
        else the mark written in the amount text (:func:`detect_currency`); empty when
        unknown.
    """

    frame: pd.DataFrame
    log: pd.DataFrame
    source: str
    as_of: pd.Timestamp
    rows_in: int
    available: tuple[str, ...] = field(default_factory=tuple)
    currency: str = ""

    @property
    def rows_clean(self) -> int:
        return len(self.frame)

    def has(self, column: str) -> bool:
        """Whether the source provided the canonical ``column``."""
        return column in self.available


# --------------------------------------------------------------------------- built-ins


def _lifetimes_dataset(name: str) -> Path:
    import lifetimes.datasets

    return Path(lifetimes.datasets.__file__).with_name(name)


def _read_online_retail() -> pd.DataFrame:
    return pd.read_parquet(DATA_DIR / "online_retail.parquet")


def _read_online_retail_sample() -> pd.DataFrame:
    return read_table(DATA_DIR / "online_retail_sample.csv")


def _read_cdnow_master() -> pd.DataFrame:
    return pd.read_csv(
        _lifetimes_dataset("CDNOW_master.txt"),
        sep=r"\s+",
        dtype={"customer_id": str, "date": str},
    )


def _read_cdnow_sample() -> pd.DataFrame:
    return pd.read_csv(
        _lifetimes_dataset("CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"],
        dtype={"customer_id": str, "sample_id": str, "date": str},
    )


@dataclass(frozen=True)
class Builtin:
    reader: object
    columns: Mapping[str, str]
    description: str
    options: Mapping[str, object] = field(default_factory=dict)


#: Non-product stock codes of the Online Retail log (postage, fees, manual
#: adjustments, gift vouchers): they are not purchases of goods.
ONLINE_RETAIL_NON_PRODUCTS = (
    r"^(POST|DOT|M|m|C2|D|S|B|PADS|BANK CHARGES|AMAZONFEE|CRUK|gift_0001_\d+|DCGS.*)$"
)

ONLINE_RETAIL_COLUMNS = {
    "customer_id": "CustomerID",
    "order_date": "InvoiceDate",
    "order_id": "InvoiceNo",
    "product_id": "StockCode",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
    "region": "Country",
}


def _read_olist() -> pd.DataFrame:
    from analysis.builtins import read_builtin

    return read_builtin("olist_orders").rename(columns=OLIST_ORDER_COLUMNS)


#: Order columns of the Olist log, kept beside the canonical ones under these names.
OLIST_ORDER_COLUMNS = {
    "order_delivered_customer_date": "delivered_at",
    "order_estimated_delivery_date": "estimated_delivery_at",
    "freight_value": "freight",
    "order_status": "status",
}


OLIST_COLUMNS = {
    "customer_id": "customer_unique_id",
    "order_id": "order_id",
    "order_date": "order_purchase_timestamp",
    "amount": "price",
    "product_id": "product_id",
    "category": "product_category_name_english",
    "region": "customer_state",
}

BUILTINS: dict[str, Builtin] = {
    "online_retail": Builtin(
        reader=_read_online_retail,
        columns=ONLINE_RETAIL_COLUMNS,
        description="UCI Online Retail, a UK online gift shop, 2010-12-01 to 2011-12-09 (CC0)",
        options={"exclude_products": ONLINE_RETAIL_NON_PRODUCTS, "currency": "£"},
    ),
    "online_retail_sample": Builtin(
        reader=_read_online_retail_sample,
        columns=ONLINE_RETAIL_COLUMNS,
        description="300 Online Retail customers (+200 rows without a customer), for tests",
        options={"exclude_products": ONLINE_RETAIL_NON_PRODUCTS, "currency": "£"},
    ),
    "olist": Builtin(
        reader=_read_olist,
        columns=OLIST_COLUMNS,
        description="Olist Brazilian marketplace sample: 4,000 orders 2016-10 to 2018-08, "
        "one row per item, with customers and reviews (CC BY-NC-SA 4.0)",
        options={"currency": "R$", "cancel_prefix": ""},
    ),
    "cdnow": Builtin(
        reader=_read_cdnow_master,
        columns={
            "customer_id": "customer_id",
            "order_date": "date",
            "quantity": "number_of_cds",
            "amount": "dollar_value",
        },
        description="CDNOW master log, 23,570 customers, 1997-01 to 1998-06 (ships with lifetimes)",
        options={
            "date_format": "%Y%m%d",
            "zero_amounts": "keep",
            "duplicates": "keep",
            "currency": "$",
        },
    ),
    "cdnow_sample": Builtin(
        reader=_read_cdnow_sample,
        columns={
            "customer_id": "customer_id",
            "order_date": "date",
            "quantity": "number_of_cds",
            "amount": "dollar_value",
        },
        description="CDNOW 1/10 sample, 2,357 customers (Fader, Hardie & Lee 2005)",
        options={
            "date_format": "%Y%m%d",
            "zero_amounts": "keep",
            "duplicates": "keep",
            "currency": "$",
        },
    ),
}


# --------------------------------------------------------------------------- reading


#: Encodings that exports are written in: Unicode, the national CJK code pages (GB18030 is a
#: superset of GBK/GB2312, cp950 of Big5, cp932 of Shift-JIS) and the Windows/ISO European ones.
#: DOS code pages are left out: on short files they win ties (Zürich read as cp775).
CSV_ENCODINGS = (
    "utf_8", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "gb18030", "cp950", "big5",
    "cp932", "euc_jp", "cp949", "cp1252", "latin_1", "iso8859_15", "cp1250", "cp1251",
    "cp1253", "cp1254", "cp1257", "koi8_r",
)  # fmt: skip
#: When several encodings explain the sample equally well, the commonest wins
#: (España is cp1252 far more often than cp1250, which reads it as Espańa).
_PREFERRED_ENCODINGS = ("utf_8", "cp1252", "latin_1", "gb18030", "cp950", "big5", "cp932")
#: Bytes read to detect the encoding (0.3 s for 4 MiB of Chinese text); the whole
#: sample is decoded, so one stray byte anywhere in it rules an encoding out.
_SNIFF_BYTES = 4 << 20


def detect_encoding(raw: bytes, source: str | Path = "data") -> str:
    """The encoding of a CSV export's first bytes, detected by charset-normalizer.

    Parameters
    ----------
    raw : bytes
        The start of the file (a truncated last character is tolerated).
    source : str or Path
        Named in the error.

    Returns
    -------
    str
        A Python codec name (``utf-8-sig`` for UTF-8 with a byte-order mark).

    Raises
    ------
    DataError
        When no encoding decodes the bytes (binary data).
    """
    from charset_normalizer import from_bytes

    matches = from_bytes(raw[: len(raw) & ~1] or raw, cp_isolation=list(CSV_ENCODINGS))
    best = matches.best()
    if best is None:
        raise DataError(
            f"cannot read {source}: no known text encoding fits; pass --encoding "
            "(e.g. utf-8, gbk, big5, shift_jis, utf-16, cp1252)"
        )
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    names = {name for m in tied for name in (m.encoding, *m.could_be_from_charset)}
    encoding = next((name for name in _PREFERRED_ENCODINGS if name in names), best.encoding)
    return "utf-8-sig" if encoding == "utf_8" and best.bom else encoding


def _sniff_csv(path: Path, encoding: str | None) -> tuple[str, str]:
    """Guess delimiter and encoding from the start of a (possibly gzipped) CSV file."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
    if len(raw) == _SNIFF_BYTES:  # cut after a line: a character cut in two fits no encoding
        raw = raw[: raw.rfind(b"\n") + 1] or raw
    if encoding is None:
        encoding = detect_encoding(raw, path)
    try:
        text = raw[:65536].decode(encoding, errors="replace")
    except LookupError as err:
        raise DataError(
            f"unknown encoding '{encoding}' for {path}; use e.g. utf-8, gbk, cp1252 or latin-1"
        ) from err
    try:
        delimiter = csv.Sniffer().sniff(text.split("\n", 20)[0], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    return delimiter, encoding


def read_table(
    source: str | Path,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = 0,
) -> pd.DataFrame:
    """Read a CSV, Parquet or Excel file as it is (no mapping, no cleaning).

    CSV delimiter (``, ; tab |``) and encoding (:func:`detect_encoding`: UTF-8/16
    with or without BOM, GBK/GB18030, Big5, Shift-JIS, Windows-1252...) are
    sniffed unless given. CSV cells are read as text
    so that ids keep their leading zeros; parsing happens in cleaning.

    Raises
    ------
    DataError
        When the file is missing, empty or of an unknown type.
    """
    path = Path(source)
    if not path.exists():
        raise DataError(
            f"data file {path} not found; pass a path to a CSV/Parquet/Excel file "
            f"or a built-in name ({', '.join(BUILTINS)})"
        )
    if path.is_dir():
        raise DataError(f"{path} is a folder; pass the path of one CSV/Parquet/Excel file")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if path.stat().st_size == 0:
        raise DataError(f"data file {path} is empty; export the purchase log again")
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pd.read_excel(path, sheet_name=sheet, dtype=object)
        if suffix in (".csv", ".txt", ".tsv", ".csv.gz", ".tsv.gz") or suffix == "":
            delimiter, enc = _sniff_csv(path, encoding)
            return pd.read_csv(
                path,
                sep=sep or delimiter,
                encoding=enc,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                skipinitialspace=True,
            )
    except pd.errors.EmptyDataError as err:
        raise DataError(f"data file {path} has no header or rows; export it again") from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise DataError(
            f"cannot read {path}: {_first_line(err)}; check the delimiter/encoding"
        ) from err
    raise DataError(f"unknown file type '{path.suffix}' for {path}; use .csv, .parquet or .xlsx")


#: ``data`` values that name a table or a query rather than a file.
QUERY_PREFIXES = ("sql:", "duckdb:", "spark:")
_SELECT = re.compile(r"^\s*(select|with|from|values)\b", re.IGNORECASE)


def read_query(name: str) -> pd.DataFrame:
    """Read a table or the result of a query, as it is (no mapping, no cleaning).

    ``name`` is one of:

    - ``sql:QUERY`` - a query run by DuckDB in this process, e.g.
      ``sql:SELECT * FROM 'exports/*.parquet' WHERE region = 'EU'``;
    - ``duckdb:PATH#TABLE`` or ``duckdb:PATH#QUERY`` - a table of (or a query on) a DuckDB
      database file, opened read-only;
    - ``spark:TABLE`` or ``spark:QUERY`` - a table of the active Spark session's catalog
      (or a local session), e.g. ``spark:sales.orders`` (needs the ``spark`` extra).

    Raises
    ------
    DataError
        When the database is missing or the query fails (its first line is quoted).
    """
    kind, _, rest = name.partition(":")
    what = rest.strip()
    if kind == "duckdb":
        db, hash_, what = rest.partition("#")
        what = what.strip()
        if not hash_ or not what:
            raise DataError(f"'{name}' names no table; use duckdb:/path/file.duckdb#table")
        if not Path(db).expanduser().is_file():
            raise DataError(f"DuckDB database {db} not found; check the path before '#'")
    if not what:
        raise DataError(f"'{name}' names no table or query; e.g. {kind}:sales.orders")
    query = what if _SELECT.match(what) else f"SELECT * FROM {what}"
    if kind == "spark":
        return _read_spark(name, query)
    import duckdb

    try:
        if kind == "duckdb":
            with duckdb.connect(str(Path(db).expanduser()), read_only=True) as con:
                return con.sql(query).df()
        with duckdb.connect() as con:
            return con.sql(query).df()
    except duckdb.Error as err:
        raise DataError(f"cannot read {name}: {_first_line(err)}") from err


def _read_spark(name: str, query: str) -> pd.DataFrame:
    from analysis.engine import _quiet_spark, local_spark  # pyspark itself is imported there

    try:
        spark = local_spark()
    except ImportError as err:
        raise DataError(
            f"{name} needs PySpark; install the extra: pip install -e '.[spark]'"
        ) from err
    try:
        with _quiet_spark():
            return spark.sql(query).toPandas()
    except Exception as err:  # AnalysisException and friends: one line for the user
        raise DataError(f"cannot read {name}: {_first_line(err)}") from err


def _first_line(err: BaseException) -> str:
    """An exception's message cut to its first line (its type when it has none)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def parse_column_map(items: list[str] | None) -> dict[str, str]:
    """Turn CLI ``canonical=source`` pairs into a column map.

    A bare key maps the purchase log; ``TABLE.CANONICAL`` maps another table
    (``feedback.score=Rating``); both are checked against the tables' schemas.

    >>> parse_column_map(["customer_id=CustomerID", "feedback.score=Rating"])
    {'customer_id': 'CustomerID', 'feedback.score': 'Rating'}
    """
    from analysis.tables import split_columns

    mapping: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise DataError(
                f"--column '{item}' is not CANONICAL=SOURCE, e.g. customer_id=CustomerID "
                "or feedback.score=Rating"
            )
        key, value = (part.strip() for part in item.split("=", 1))
        try:
            split_columns({key: value})
        except DataError as err:
            raise DataError(f"--column {err}") from None
        mapping[key] = value
    return mapping


_normalise_name = normalise_name


_NUMBER_CHARS = re.compile(r"[^0-9,.\-()]")


def parse_amounts(values: pd.Series) -> tuple[pd.Series, int]:
    """Parse amounts that may be text with currency symbols or thousands separators.

    Returns the float series (NaN where unparseable) and how many cells needed
    more than a plain number parse. ``"£1,234.50"`` -> 1234.5, ``"1.234,50 €"``
    -> 1234.5, ``"(12.00)"`` -> -12.0.
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), 0
    text = values.astype("string").str.strip()
    plain = pd.to_numeric(text, errors="coerce")
    todo = plain.isna() & text.notna() & (text != "")
    if not todo.any():
        return plain.astype("float64"), 0
    t = text[todo].str.replace(_NUMBER_CHARS, "", regex=True)
    negative = t.str.startswith("(") & t.str.endswith(")")
    t = t.str.strip("()")
    both = t.str.contains(",", regex=False) & t.str.contains(".", regex=False)
    comma_decimal = both & (t.str.rfind(",") > t.str.rfind("."))
    only_comma = t.str.contains(",", regex=False) & ~t.str.contains(".", regex=False)
    thousands_comma = only_comma & t.str.fullmatch(r"-?\d{1,3}(,\d{3})+")
    t = t.mask(
        comma_decimal, t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    )
    t = t.mask(both & ~comma_decimal, t.str.replace(",", "", regex=False))
    t = t.mask(thousands_comma, t.str.replace(",", "", regex=False))
    t = t.mask(only_comma & ~thousands_comma, t.str.replace(",", ".", regex=False))
    parsed = pd.to_numeric(t, errors="coerce")
    parsed = parsed.mask(negative, -parsed)
    out = plain.astype("float64")
    out[todo] = parsed.astype("float64")
    return out, int(parsed.notna().sum())


#: Currency marks in amount text -> the symbol shown in labels (first match wins; ``¥``
#: and ``元`` are read as Chinese yuan, shown ``￥``).
CURRENCY_MARKS: dict[str, str] = {
    r"[￥¥元]|\bCNY\b|\bRMB\b|人民币": "￥",
    r"R\$|\bBRL\b": "R$",
    r"£|\bGBP\b": "£",
    r"€|\bEUR\b": "€",
    r"\$|\bUSD\b": "$",
}


def detect_currency(values: pd.Series, sample: int = 10_000) -> str:
    """The currency symbol written in amount text, ``""`` when none (or numbers).

    ``"￥1,234.50"``, ``"1234.5元"``, ``"CNY 88"`` -> ``"￥"``; ``"£3.20"`` -> ``"£"``.
    Only the first ``sample`` non-blank cells are looked at; the commonest mark wins.
    """
    if pd.api.types.is_numeric_dtype(values):
        return ""
    text = values.dropna().astype("string").head(sample)
    counts = {
        symbol: int(text.str.contains(pattern, regex=True).sum())
        for pattern, symbol in CURRENCY_MARKS.items()
    }
    best = max(counts, key=counts.get)
    return best if counts[best] else ""


_CJK_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")


def parse_dates(
    values: pd.Series, date_format: str | None = None, dayfirst: bool = False
) -> tuple[pd.Series, int]:
    """Parse order dates; returns the datetime series (NaT where unparseable) and the
    number of cells that needed a per-cell (mixed-format) parse.

    Chinese dates are read too: ``2024年3月5日`` (and ``2024年3月5日 14:22``) as
    ``2024-03-05``; ``2024/3/5 14:22`` is year-first, as pandas reads it."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[ns]"), 0
    text = values.astype("string").str.strip()
    if text.str.contains("年", regex=False).any():
        text = text.str.replace(_CJK_DATE, r"\1-\2-\3", regex=True).str.strip()
    if date_format:
        return pd.to_datetime(text, format=date_format, errors="coerce").astype("datetime64[ns]"), 0
    nonblank = text.notna() & (text != "")
    first = text[nonblank].iloc[0] if nonblank.any() else None
    # pandas warns when it cannot infer one format or when the guess contradicts
    # ``dayfirst``; both cases are handled here (per-cell retry, counted in the
    # cleaning log; day order decided by :func:`day_order`), so the warnings would
    # only be noise on the user's terminal. Silenced for these calls only.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*(infer format|dayfirst).*", category=UserWarning
        )
        try:
            fmt = pd.tseries.api.guess_datetime_format(first, dayfirst=dayfirst) if first else None
        except (TypeError, ValueError):  # pragma: no cover - defensive
            fmt = None
        out = pd.to_datetime(text, format=fmt, dayfirst=dayfirst, errors="coerce")
        retry = out.isna() & nonblank
        mixed = 0
        if retry.any():
            again = pd.to_datetime(text[retry], format="mixed", dayfirst=dayfirst, errors="coerce")
            out[retry] = again
            mixed = int(again.notna().sum())
    return out.astype("datetime64[ns]"), mixed


_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")


def day_order(values: pd.Series) -> tuple[str | None, int]:
    """Which way round numeric dates like ``03/04/2011`` are written.

    Returns ``("dayfirst", n)`` when ``n`` dates have a first number above 12 and
    none has a second number above 12; ``("monthfirst", n)`` for the reverse;
    ``("ambiguous", n)`` when ``n`` such dates exist and every part is 12 or less
    (or both orders occur); ``(None, 0)`` when there are no such dates (ISO dates).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return None, 0
    # the date part of each distinct value: a few thousand strings even for millions of rows
    heads = pd.Series(values.astype("string").str.slice(0, 12).unique()).dropna()
    parts = heads.str.extract(_NUMERIC_DATE).dropna()
    if parts.empty:
        return None, 0
    a, b = parts[0].astype(int), parts[1].astype(int)
    day_first, month_first = int((a > 12).sum()), int((b > 12).sum())
    if day_first and not month_first:
        return "dayfirst", day_first
    if month_first and not day_first:
        return "monthfirst", month_first
    return "ambiguous", len(parts)


def _first_text(values: pd.Series) -> str:
    """The first non-blank cell of a column, shortened, for error messages."""
    for part in (values.head(10_000), values):  # the head nearly always holds one
        text = part.dropna().astype(str).str.strip()
        text = text[text != ""]
        if len(text):
            return text.iloc[0][:40]
    return ""


_EMPTY_HINTS = {
    "missing customer id": "the customer id column is empty; map another with "
    "--column customer_id=<name>",
    "unparseable order date": "dates look like '{order_date}'; pass --date-format "
    "(e.g. %d/%m/%Y) or map another --column order_date=<name>",
    "unparseable amount": "amounts look like '{amount}'; map a numeric column with "
    "--column amount=<name>",
    "cancellations and returns": "every row is a cancellation or return; check "
    "--column amount=<name> or pass --returns net",
    "non-positive amount": "every amount is zero or negative; check that --column amount "
    "points at the order value",
    "zero amount": "every amount is zero; check that --column amount points at the order value",
    "non-product lines": "every row is a non-product line (postage, fees)",
}


def _raise_nothing_left(steps: list, source: str, samples: Mapping[str, str]) -> None:
    """Raise the one-line error for a log that cleaning emptied, with the likely fix."""
    removed = [(s, -n) for s, n, _ in steps[1:] if n < 0]
    reasons = "; ".join(f"{s}: {n}" for s, n in removed)
    main = max(removed, key=lambda item: item[1])[0] if removed else ""
    hint = _EMPTY_HINTS.get(main, "check the column map")
    hint = hint.format(**{k: samples.get(k, "") for k in ("order_date", "amount")})
    raise DataError(f"no usable rows left in {source} after cleaning ({reasons}); {hint}")


def _isolated_dates(dates: pd.Series, gap_days: int = 366, share: float = 0.01) -> pd.Series:
    """Rows dated over ``gap_days`` away from every other order, at either end of the
    log, when they are a small minority (typos such as 2099-01-01 or placeholders such
    as 1900-01-01 that would otherwise move the cutoff or every customer's age)."""
    limit = max(1, int(share * len(dates)))
    days = dates.dt.normalize()
    unique = np.sort(days.unique())
    mask = pd.Series(False, index=dates.index)
    if len(unique) < 2:
        return mask
    big = np.flatnonzero(np.diff(unique) > np.timedelta64(gap_days, "D"))
    if len(big):
        late = days > unique[big[-1]]
        if late.sum() <= limit:
            mask |= late
        early = days < unique[big[0] + 1]
        if early.sum() <= limit:
            mask |= early
    return mask


def _very_large(amounts: pd.Series, factor: float = 1000.0) -> pd.Series:
    """Rows whose amount exceeds ``factor`` times the median positive row amount."""
    positive = amounts[amounts > 0]
    if len(positive) < 3:
        return pd.Series(False, index=amounts.index)
    return amounts > factor * positive.median()


def reversed_purchases(frame: pd.DataFrame, cancelled: pd.Series) -> pd.Series:
    """Purchase rows that a later cancellation reverses in full.

    A cancellation line (``cancelled`` true) reverses the latest purchase line on or
    before its date with the same customer, the same product (when ``product_id``
    exists) and the same size: the same ``quantity`` when it exists, else the same
    absolute ``amount``. Dropping the cancellation but keeping that purchase would
    count revenue that never stayed (Online Retail: an 80,995-unit order of £168,470
    cancelled the same day). Partial returns match nothing and are left alone. Lines
    identical to the reversed one (same customer, product, size and moment) go too.

    Returns
    -------
    pandas.Series of bool
        True for the purchase rows to drop, aligned with ``frame``.
    """
    size = "quantity" if "quantity" in frame.columns else "amount"
    keys = ["customer_id"] + (["product_id"] if "product_id" in frame.columns else [])
    out = pd.Series(False, index=frame.index)
    if not cancelled.any():
        return out
    cols = ["order_date", *keys]
    cancels = frame.loc[cancelled, cols].assign(_size=frame.loc[cancelled, size].abs())
    # only the cancelling customers' purchases can match (a few percent of the rows)
    bought = ~cancelled & (frame[size] > 0) & frame["customer_id"].isin(cancels["customer_id"])
    buys = frame.loc[bought, cols].assign(_size=frame.loc[bought, size], _row=lambda d: d.index)
    if cancels.empty or buys.empty:
        return out
    matched = pd.merge_asof(
        cancels.sort_values("order_date"),
        buys.sort_values("order_date"),
        on="order_date",
        by=[*keys, "_size"],
        direction="backward",
    )["_row"].dropna()
    # Every line identical to a reversed one (same customer, product, size and moment)
    # goes with it: an order holding a line twice was cancelled line by line, and the
    # SQL version of this rule (analysis.engine.REVERSED_SQL) can only match by value.
    hit = buys.loc[matched.unique(), [*cols, "_size"]].drop_duplicates()
    same = buys[[*cols, "_size"]].merge(hit, how="left", indicator=True)["_merge"] == "both"
    out[buys.index[same.to_numpy()]] = True
    return out


def _no_cutoff(as_of) -> bool:
    """Whether ``as_of`` asks for the default cutoff (None, or "", "none", "null" as text)."""
    return as_of is None or (
        isinstance(as_of, str) and as_of.strip().lower() in ("", "none", "null")
    )


#: The purchase log's cleaning options, checked in one place (:func:`check_options`).
TX_OPTIONS = {
    "date_format": Option(None, None, "strftime format of the dates, e.g. %d/%m/%Y"),
    "dayfirst": Option(False, (True, False), "read 03/04/2011 as 3 April"),
    "returns": Option("drop", RETURNS_POLICIES, "cancellations and returns: drop or net"),
    "zero_amounts": Option("drop", ("drop", "keep"), "whether amount 0 is a purchase"),
    "exclude_products": Option(None, None, "regular expression of non-product ids"),
    "duplicates": Option("drop", ("drop", "keep"), "rows identical in every column"),
    "currency": Option("", None, "currency symbol for labels"),
    "cancel_prefix": Option("C", None, "order ids starting with it are cancellations; '' none"),
}


def _tx_columns(frame: pd.DataFrame, ctx: Context):
    """Map the columns; drop personal-data columns."""
    columns = ctx.info.pop("columns")
    for canonical in columns:
        if canonical not in CANONICAL:
            raise DataError(
                f"'{canonical}' is not a canonical column; use one of {', '.join(CANONICAL)}"
            )
    frame, notes = map_columns(frame, columns, TRANSACTIONS, ctx.source)
    rows = [("column matched", 0, note) for note in notes]
    frame, pii = drop_personal(frame, keep=CANONICAL)
    if pii:
        rows.append(("personal-data columns removed", 0, pii))
    ctx.available = [c for c in CANONICAL if c in frame.columns]
    frame = frame.copy()
    ctx.samples = {
        c: _first_text(frame[c]) for c in ("customer_id", "order_date", "amount") if c in frame
    }
    return frame, rows


def _tx_customers(frame: pd.DataFrame, ctx: Context):
    frame["customer_id"] = _clean_ids(frame["customer_id"])
    frame, row = dropped(frame, frame["customer_id"].isna(), "missing customer id")
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame, row


def _tx_dates(frame: pd.DataFrame, ctx: Context):
    """Day order decided from the values, dates parsed, unparseable ones dropped."""
    rows = []
    date_format, dayfirst = ctx.options["date_format"], ctx.options["dayfirst"]
    if not date_format and not dayfirst:
        order, n = day_order(frame["order_date"])
        if order == "dayfirst":
            dayfirst = True
            rows.append(
                ("dates read day-first", 0, tr("{n} distinct dates have a day above 12 first", n=n))
            )
        elif order == "ambiguous":
            note = tr(
                "{n} distinct dates like 03/04 read month-first; else --dayfirst or --date-format",
                n=n,
            )
            rows.append(("day/month order ambiguous", 0, note))
    frame["order_date"], mixed = parse_dates(frame["order_date"], date_format, dayfirst)
    if mixed:
        rows.append(("dates in a second format", 0, tr("{n} cells parsed one by one", n=mixed)))
    note = (
        tr("format {format}", format=date_format)
        if date_format
        else tr("pass --date-format to name the format")
    )
    frame, row = dropped(frame, frame["order_date"].isna(), "unparseable order date", note)
    return frame, [*rows, row]


def _tx_amounts(frame: pd.DataFrame, ctx: Context):
    """Amounts parsed from text (or derived as quantity x unit price)."""
    rows = []
    for col in ("quantity", "unit_price"):
        if col in frame.columns:
            frame[col], _ = parse_amounts(frame[col])
    if "amount" in frame.columns:
        ctx.info["currency"] = detect_currency(frame["amount"])
        frame["amount"], from_text = parse_amounts(frame["amount"])
        if from_text:
            note = tr("{n} cells had symbols/separators", n=from_text)
            if ctx.info["currency"]:
                note = tr("{note}; currency {currency}", note=note, currency=ctx.info["currency"])
            rows.append(("amounts read from text", 0, note))
    else:
        frame["amount"] = frame["quantity"] * frame["unit_price"]
        ctx.available.append("amount")
        rows.append(("amount derived", 0, tr("amount = quantity x unit_price")))
    frame, row = dropped(frame, frame["amount"].isna(), "unparseable amount")
    for col in ("order_id", "product_id", "category", "channel", "region"):
        if col in frame.columns:
            frame[col] = frame[col].astype("string").str.strip().astype(str)
    return frame, [*rows, row]


def _cancelled(frame: pd.DataFrame, prefix: str) -> pd.Series:
    """Cancellation lines: a negative amount, or an order id starting with ``prefix``."""
    cancelled = frame["amount"] < 0
    if "order_id" in frame.columns and prefix:
        cancelled |= frame["order_id"].str.upper().str.startswith(prefix.upper())
    return cancelled


def _tx_returns(frame: pd.DataFrame, ctx: Context):
    """Cancellations, the purchases they reverse and non-positive amounts (``returns``)."""
    cancelled = _cancelled(frame, ctx.options["cancel_prefix"])
    zero = ctx.options["zero_amounts"]
    if ctx.options["returns"] == "net":
        rows = [
            ("cancellations and returns kept", 0, tr("{n} rows netted", n=int(cancelled.sum())))
        ]
        if zero == "drop":
            frame, row = dropped(frame, frame["amount"] == 0, "zero amount")
            rows.append(row)
        return frame, rows
    frame, reversed_row = dropped(
        frame,
        reversed_purchases(frame, cancelled),
        "purchases reversed by a cancellation",
        tr("same customer, product and quantity, cancelled later"),
    )
    cancelled = cancelled.reindex(frame.index)
    frame, cancel_row = dropped(
        frame, cancelled, "cancellations and returns", tr("policy returns='drop'")
    )
    if zero == "drop":
        frame, row = dropped(frame, frame["amount"] <= 0, "non-positive amount")
    else:
        frame, row = dropped(frame, frame["amount"] < 0, "negative amount")
    return frame, [reversed_row, cancel_row, row]


def _tx_products(frame: pd.DataFrame, ctx: Context):
    pattern = ctx.options["exclude_products"]
    if not pattern or "product_id" not in frame.columns:
        return frame, None
    mask = frame["product_id"].str.fullmatch(pattern).fillna(False).astype(bool)
    return dropped(frame, mask, "non-product lines", tr("postage, fees, adjustments, vouchers"))


def _tx_far_dates(frame: pd.DataFrame, ctx: Context):
    if frame.empty:
        _raise_nothing_left(ctx.log, ctx.source, ctx.samples)
    isolated = _isolated_dates(frame["order_date"])
    if not isolated.any():
        return frame, None
    days = frame.loc[isolated, "order_date"].dt.strftime("%Y-%m-%d").unique()
    note = tr(
        "over a year from all other orders ({days}); fix them or pass --as-of",
        days=", ".join(days[:3]),
    )
    return dropped(frame, isolated, "dates far from the rest", note)


def _tx_cutoff(frame: pd.DataFrame, ctx: Context):
    """The cutoff (default the last order day); later orders are dropped."""
    rows = []
    first_day = frame["order_date"].min().normalize()
    last_day = frame["order_date"].max().normalize()
    as_of = ctx.info.pop("as_of")
    if _no_cutoff(as_of):
        cutoff = last_day
    else:
        try:
            cutoff = pd.Timestamp(as_of).normalize()
        except (ValueError, TypeError) as err:
            raise DataError(f"as_of '{as_of}' is not a date; use YYYY-MM-DD") from err
        if cutoff < first_day:
            raise DataError(
                f"as_of {cutoff.date()} is before the first order ({first_day.date()}) "
                f"in {ctx.source}; choose a later --as-of"
            )
        if cutoff > last_day:
            note = tr("{n} days with no orders", n=(cutoff - last_day).days)
            rows.append(("as_of after last order", 0, note))
    ctx.as_of = cutoff
    late = frame["order_date"] >= cutoff + pd.Timedelta(days=1)
    ignored = tr("orders after {date} are ignored", date=cutoff.date())
    frame, row = dropped(frame, late, "after as_of", ignored)
    return frame, [*rows, row]


def _tx_finish(frame: pd.DataFrame, ctx: Context):
    rows = []
    huge = _very_large(frame["amount"])
    if huge.any():
        low = frame.loc[huge, "amount"].min()
        note = tr(
            "{n} rows over {low}, over 1000x the median row; check them",
            n=int(huge.sum()),
            low=f"{low:,.0f}",
        )
        rows.append(("very large amounts (kept)", 0, note))
    if "order_id" not in frame.columns:
        frame["order_id"] = np.arange(len(frame)).astype(str)
    lead = [c for c in CANONICAL if c in frame.columns]
    frame = frame[lead + [c for c in frame.columns if c not in lead]]
    # by date, then customer: a stable lexsort on the customers' sorted codes, 3x faster at
    # millions of rows than sort_values on the text ids (the same order)
    codes, customers = pd.factorize(frame["customer_id"], sort=True)
    order = np.lexsort((codes, frame["order_date"].to_numpy()))
    frame = frame.take(order).reset_index(drop=True)
    rows.append(("rows kept", len(frame), f"{len(customers):,} customers"))
    return frame, rows


#: The purchase log's cleaning, step by step (data/README.md lists them for users).
TX_PIPELINE = (
    step_read,
    step_duplicates,
    _tx_columns,
    _tx_customers,
    _tx_dates,
    _tx_amounts,
    _tx_returns,
    _tx_products,
    _tx_far_dates,
    _tx_cutoff,
    _tx_finish,
)


def clean_transactions(
    raw: pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    as_of: str | pd.Timestamp | None = None,
    *,
    source: str = "data",
    **options,
) -> Transactions:
    """Map, validate and clean a raw purchase log (the steps of :data:`TX_PIPELINE`).

    Parameters
    ----------
    raw : pandas.DataFrame
        The log as read from the source (not modified).
    columns : mapping, optional
        Canonical name -> source column, e.g. ``{"customer_id": "CustomerID"}``.
        Columns already named canonically (case and spacing ignored) need no entry.
    as_of : date-like, optional
        Cutoff; rows after this day are dropped. Default: the last order date.
    source : str
        What was read, for messages.
    **options
        The policies of :data:`TX_OPTIONS`, checked before any step runs:
        ``date_format``, ``dayfirst``, ``returns`` (``drop`` removes cancellations
        and the purchases they reverse; ``net`` keeps them), ``zero_amounts``
        (``drop``/``keep``), ``exclude_products`` (regex of non-goods),
        ``duplicates`` (``drop``/``keep`` rows identical in every column),
        ``currency``, ``cancel_prefix`` (``"C"``; ``""`` when ids carry no mark).

    Returns
    -------
    Transactions
    """
    opts = check_options(options, TX_OPTIONS, "the purchase log")
    ctx = Context(source=source, options=opts, table="transactions")
    ctx.info.update(columns=dict(columns or {}), as_of=as_of, label="the purchase log")
    frame, log = run_steps(raw, TX_PIPELINE, ctx)
    currency = opts["currency"] or ctx.info.get("currency", "")  # the option, else the text's
    return Transactions(
        frame, log_frame(log), source, ctx.as_of, len(raw), tuple(ctx.available), currency
    )


def load_transactions(
    data: str | Path | pd.DataFrame = "online_retail",
    columns: Mapping[str, str] | None = None,
    as_of: str | pd.Timestamp | None = None,
    *,
    prepared: str | Path | None = None,
    **options,
) -> Transactions:
    """Load a purchase log from a file, a DataFrame or a built-in dataset name.

    Parameters
    ----------
    data : str, Path or DataFrame
        A CSV / Parquet / Excel path; a built-in name: ``online_retail``,
        ``cdnow``, ``cdnow_sample``; or a table or query: ``sql:QUERY``,
        ``duckdb:PATH#TABLE``, ``spark:TABLE`` (see :func:`read_query`).
    columns : mapping, optional
        Canonical name -> source column; merged over a built-in's own map.
    as_of : date-like, optional
        Cutoff date; default the last order date.
    prepared : str or Path, optional
        A log already cleaned by :func:`save_prepared` for these same arguments
        (the report runner cleans once and hands the file to every notebook).
        Read instead of cleaning again when it was made for the same ``data``,
        ``columns``, ``as_of`` and options; otherwise ignored.
    **options
        Cleaning policies passed to :func:`clean_transactions` (``date_format``,
        ``dayfirst``, ``returns``, ``zero_amounts``, ``exclude_products``,
        ``duplicates``, ``currency``) and
        reading options (``sep``, ``encoding``, ``sheet``).

    Raises
    ------
    DataError
        With a one-line message naming the file, the column and the fix.
    """
    if data is None or (isinstance(data, str) and _no_cutoff(data)):
        raise NotApplicable(
            tr(
                "this analysis needs a purchase log and none was given; pass one with --data "
                "(a file or a built-in such as online_retail)"
            )
        )
    options = {k: v for k, v in options.items() if k not in TABLES}  # other tables' options
    if prepared is not None and not isinstance(data, pd.DataFrame):
        tx = read_prepared(prepared, request_key(data, columns, as_of, options))
        if tx is not None:
            return tx
    read_opts = {k: options.pop(k) for k in ("sep", "encoding", "sheet") if k in options}
    columns = {k: v for k, v in (columns or {}).items() if "." not in k}  # other tables' keys
    if isinstance(data, pd.DataFrame):
        return clean_transactions(data, columns, as_of, source="DataFrame", **options)
    name = str(data)
    if name in BUILTINS:
        builtin = BUILTINS[name]
        raw = builtin.reader()
        merged = {**builtin.columns, **dict(columns or {})}
        opts = {**builtin.options, **options}
        return clean_transactions(raw, merged, as_of, source=name, **opts)
    raw = read_query(name) if name.startswith(QUERY_PREFIXES) else read_table(name, **read_opts)
    return clean_transactions(raw, columns, as_of, source=name, **options)


# --------------------------------------------------------------------------- prepared logs

#: Parquet schema-metadata key holding a prepared log's cleaning record.
PREPARED_KEY = b"analysis.transactions"


def request_key(data, columns: Mapping | None, as_of, options: Mapping | None) -> str:
    """What a :func:`load_transactions` call asked for, as a stable string."""
    day = None if _no_cutoff(as_of) else f"{pd.Timestamp(as_of):%Y-%m-%d}"
    request = {  # the purchase log's part only: other tables' columns and options go
        "data": str(data),
        "columns": {k: v for k, v in (columns or {}).items() if "." not in k},
        "as_of": day,
        "options": {k: v for k, v in (options or {}).items() if k not in TABLES},
    }
    return json.dumps(request, sort_keys=True, default=str)


def save_prepared(tx: Transactions, path: str | Path, request: str) -> Path:
    """Write a clean log and its cleaning record to one Parquet file (atomically).

    ``request`` is :func:`request_key` of the call that produced ``tx``; only a
    :func:`load_transactions` call with the same arguments will use the file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    record = {
        "request": request,
        "source": tx.source,
        "as_of": f"{tx.as_of:%Y-%m-%d}",
        "rows_in": int(tx.rows_in),
        "available": list(tx.available),
        "currency": tx.currency,
        "log": tx.log.astype({"rows": "int64"}).to_dict(orient="list"),
    }
    table = pa.Table.from_pandas(tx.frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), PREPARED_KEY: json.dumps(record).encode()}
    tmp = path.with_suffix(".tmp")
    pq.write_table(table.replace_schema_metadata(metadata), tmp)
    os.replace(tmp, path)
    return path


def read_prepared(path: str | Path, request: str | None = None) -> Transactions | None:
    """The log saved by :func:`save_prepared`; None when it was made for another request."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        return None
    raw = (pq.read_schema(path).metadata or {}).get(PREPARED_KEY)
    if raw is None:
        return None
    record = json.loads(raw)
    if request is not None and record["request"] != request:
        return None
    frame = pd.read_parquet(path)
    return Transactions(
        frame=frame,
        log=pd.DataFrame(record["log"]),
        source=record["source"],
        as_of=pd.Timestamp(record["as_of"]),
        rows_in=record["rows_in"],
        available=tuple(record["available"]),
        currency=record["currency"],
    )


def describe_builtins() -> pd.DataFrame:
    """The built-in datasets, one row each."""
    return pd.DataFrame(
        [(k, b.description) for k, b in BUILTINS.items()], columns=["name", "description"]
    )


def log_text(log: pd.DataFrame) -> str:
    """The cleaning log as aligned plain text (for the CLI)."""
    buf = io.StringIO()
    width = max(len(s) for s in log["step"])
    for step, rows, note in log.itertuples(index=False):
        buf.write(f"  {step:<{width}}  {rows:>10,}  {note}\n")
    return buf.getvalue()


#: The optional tables' API (defined in :mod:`analysis.tables`), importable from here.
_TABLE_NAMES = (
    "SCHEMAS",
    "TABLES",
    "Table",
    "Tables",
    "clean_table",
    "link_checks",
    "load_table",
    "load_tables",
    "split_columns",
)


def __getattr__(name: str):
    if name in _TABLE_NAMES:  # imported on first use: analysis.tables imports this module
        from analysis import tables

        return getattr(tables, name)
    raise AttributeError(f"module 'analysis.data' has no attribute '{name}'")
