"""Personal data: found and removed on load, masked in free text, pseudonymised ids.

Columns that hold personal data are found by their names (English and CJK) and by
their values (e-mail addresses, phone numbers, Chinese national ids, card numbers,
IBANs): :func:`personal_columns`, :func:`drop_personal`. Free text that must stay
has the e-mails and phone numbers inside it masked: :func:`mask_text`.

Customer ids are pseudonymised for shared reports. A keyed hash (HMAC-SHA256)
turns each id into ``C-xxxxxxxxxxxx``. The same key gives the same pseudonym in
every period and every table, so the owner can join reports over time (and map
back by hashing their own ids), while a reader without the key cannot reverse it.
The key comes from the environment variable ``ANALYSIS_ID_KEY`` or, when that is
unset, from a file outside the repository (``~/.config/customer-analytics/id_key``,
created on first use, mode 600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from stdnum import iban, luhn
from stdnum.cn import ric

from analysis.config import PROJ_ROOT

KEY_ENV = "ANALYSIS_ID_KEY"
KEY_FILE_ENV = "ANALYSIS_ID_KEY_FILE"
DEFAULT_KEY_FILE = Path.home() / ".config" / "customer-analytics" / "id_key"


def id_key() -> bytes:
    """The pseudonymisation key: ``$ANALYSIS_ID_KEY``, else the key file (created once).

    Raises
    ------
    ValueError
        When the key file (``$ANALYSIS_ID_KEY_FILE``) lies inside the project folder,
        where it could be committed and shared with the reports it protects.
    """
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode()
    path = Path(os.environ.get(KEY_FILE_ENV, DEFAULT_KEY_FILE)).expanduser().resolve()
    if path.is_relative_to(PROJ_ROOT):
        raise ValueError(
            f"the id key file {path} is inside the project folder; keep it outside "
            f"(set {KEY_FILE_ENV} to e.g. ~/.config/customer-analytics/id_key) or set {KEY_ENV}"
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def canonical_ids(values: pd.Series) -> pd.Series:
    """Customer ids as stripped strings; ``12345.0`` and ``12345`` are the same id.

    The one rule for what makes two ids the same customer, whatever table or file
    type they come from (a CSV reads ``12345``, a Parquet column with gaps
    ``12345.0``). Blank and null-like cells become missing.
    """
    text = values.astype("string").str.strip()
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.mask(text.isin(["", "nan", "NaN", "None", "NULL", "null", "<NA>"]))


def pseudonymize(ids: pd.Series | pd.Index | list, key: bytes | None = None) -> pd.Series:
    """Replace customer ids by stable keyed pseudonyms ``C-`` + 12 hex digits.

    Parameters
    ----------
    ids : Series, Index or list
        Customer ids (any type; compared as strings).
    key : bytes, optional
        HMAC key; default :func:`id_key`.

    Returns
    -------
    pandas.Series
        Pseudonyms aligned with ``ids`` (same index when ``ids`` is a Series); a
        missing id stays missing. Ids are compared after :func:`canonical_ids`, so
        ``12345``, ``12345.0`` and ``" 12345 "`` get one pseudonym in every table.
    """
    key = key if key is not None else id_key()
    series = ids if isinstance(ids, pd.Series) else pd.Series(list(ids))
    text = canonical_ids(series)
    uniques = text.dropna().unique()
    table = {u: "C-" + hmac.new(key, u.encode(), hashlib.sha256).hexdigest()[:12] for u in uniques}
    return text.map(table).astype(object)


def display_ids(frame: pd.DataFrame, anonymize: bool, column: str = "customer_id") -> pd.DataFrame:
    """Return ``frame`` with its customer ids pseudonymised when ``anonymize`` is true.

    Works on a ``customer_id`` column or, when there is none, on an index of
    that name. The input frame is not modified.
    """
    if not anonymize:
        return frame
    out = frame.copy()
    if column in out.columns:
        out[column] = pseudonymize(out[column]).to_numpy()
    elif out.index.name == column:
        out.index = pd.Index(pseudonymize(out.index.to_series()).to_numpy(), name=column)
    else:
        raise ValueError(f"no '{column}' column or index to pseudonymise")
    return out


def display_id(customer_id, anonymize: bool) -> str:
    """One customer id as a report shows it: its pseudonym under ``anonymize``.

    The same raw id gives the same pseudonym as :func:`display_ids` gives it in
    any table (a profile page's title matches the rows of every export).
    """
    shown = pseudonymize([customer_id]) if anonymize else canonical_ids(pd.Series([customer_id]))
    return str(shown.iloc[0])


def find_customer(pseudonym_or_id, ids: Iterable) -> str | None:
    """The raw id among ``ids`` that is ``pseudonym_or_id`` or has it as pseudonym.

    Lets the owner of the key open a customer named by a shared report: the
    pseudonym is matched by hashing the known ids (it cannot be reversed).
    Returns None when no id matches.
    """
    known = canonical_ids(pd.Series(list(ids), dtype=object)).dropna().drop_duplicates()
    wanted = str(pseudonym_or_id).strip()
    if wanted in set(known):
        return wanted
    hit = known[pseudonymize(known).to_numpy() == wanted]
    return str(hit.iloc[0]) if len(hit) else None


# --------------------------------------------------------------------------- personal data

#: English column names that are personal data, matched on the name in lower case
#: with runs of other characters as ``_`` (``E-mail`` -> ``e_mail``). Such columns are
#: removed on load and never reach a report, whatever the mode.
PERSONAL_NAME = re.compile(
    r"^(e?_?mail|email_?address|phone|phone_?number|tel|telephone|mobile|cell|"
    r"(first|last|full|given|family|customer|contact|sur)?_?name|address|street|"
    r"address_?line_?\d?|zip|zip_?code|post_?code|postal_?code|birth_?date|dob|ssn|iban|"
    r"passport|national_?id|id_?card|credit_?card|card_?number)$"
)
#: Words that make a Chinese / Japanese column name personal wherever they stand in it
#: (CJK names have no word boundaries: 收货地址, 会员姓名, 联系电话).
PERSONAL_WORDS = (
    "姓名", "手机", "手機", "电话", "電話", "身份证", "身份證", "身分證", "证件号", "地址",
    "住址", "住所", "邮箱", "郵箱", "电子邮件", "電子郵件", "邮编", "郵遞區號", "出生日期",
    "生日", "银行卡", "信用卡", "联系人", "聯絡人", "收货人", "收件人", "氏名", "メール",
    "微信号",
)  # fmt: skip

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
# A run of digits with phone separators; _is_phone then checks digits and groups.
_PHONE = r"(?:\+|00)?\(?\d[\d ()/-]{5,22}\d"
_CN_MOBILE = re.compile(r"(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}")
_DATE_INSIDE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}")
_DIGITS = re.compile(r"\d+")
_ID_CN = re.compile(r"\d{17}[\dXx]")
_CARD = re.compile(r"\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,7}")
_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")
_IN_TEXT = re.compile(
    rf"(?<![A-Za-z0-9._%+-])(?:(?P<email>{_EMAIL})|(?P<phone>{_PHONE}))(?![0-9A-Za-z])"
)


def _is_phone(text: str) -> bool:
    """Whether a digit run with separators reads as a phone number (not a date or amount)."""
    if _CN_MOBILE.fullmatch(text):
        return True
    if _DATE_INSIDE.search(text):
        return False
    groups = _DIGITS.findall(text)
    digits = sum(map(len, groups))
    if text.startswith(("+", "00")):
        return 8 <= digits <= 15 and len(groups) <= 6
    return 9 <= digits <= 15 and 2 <= len(groups) <= 4 and len(groups[-1]) >= 4


def _is_card(text: str) -> bool:
    return bool(_CARD.fullmatch(text)) and luhn.is_valid(re.sub(r"[ -]", "", text))


#: What a value can be, and how to recognise it (the whole stripped value must match).
VALUE_KINDS = {
    "e-mail addresses": lambda v: re.fullmatch(_EMAIL, v) is not None,
    "phone numbers": lambda v: re.fullmatch(_PHONE, v) is not None and _is_phone(v),
    "Chinese national ids": lambda v: _ID_CN.fullmatch(v) is not None and ric.is_valid(v),
    "card numbers": _is_card,
    "IBANs": lambda v: _IBAN.fullmatch(v) is not None and iban.is_valid(v),
}


def _value_kinds(values: pd.Series) -> pd.Series:
    """The personal kind of each value (None when it looks like none)."""

    def kind(value: str) -> str | None:
        return next((name for name, test in VALUE_KINDS.items() if test(value)), None)

    return values.map(kind)


def _sample_values(values: pd.Series, size: int) -> pd.Series:
    """Up to ``size`` non-null values at fixed random rows (cheap on 10M rows)."""
    if len(values) > 4 * size:
        rows = np.random.default_rng(0).integers(0, len(values), 4 * size)
        picked = values.iloc[rows].dropna()
        if len(picked) >= size:
            return picked.head(size)
    values = values.dropna()
    return values.sample(size, random_state=0) if len(values) > size else values


def _name_is_personal(name) -> bool:
    text = str(name)
    normal = re.sub(r"[\W_]+", "_", text.casefold()).strip("_")
    return bool(PERSONAL_NAME.match(normal)) or any(word in text for word in PERSONAL_WORDS)


def personal_columns(
    frame: pd.DataFrame, keep: Iterable[str] = (), share: float = 0.5, sample: int = 1000
) -> dict[str, str]:
    """Columns of ``frame`` that hold personal data, each with the reason.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table as read (names in any language).
    keep : iterable of str
        Columns never reported (the canonical ones a loader has mapped).
    share : float
        Share of sampled non-null values that must look personal for a column to
        be flagged by its values.
    sample : int
        Non-null values examined per column (a fixed random sample when more).

    Returns
    -------
    dict
        Column -> reason: ``"name"`` or e.g. ``"values: 100% e-mail addresses"``.
        Text and integer columns are examined; floats, dates and booleans are not
        (amounts and timestamps are never personal by their values).
    """
    keep = set(keep)
    found: dict[str, str] = {}
    for column in frame.columns:
        if column in keep:
            continue
        if _name_is_personal(column):
            found[column] = "name"
            continue
        values = frame[column]
        is_text = pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
        if not (is_text or pd.api.types.is_integer_dtype(values)):
            continue
        values = _sample_values(values, sample)
        if values.empty:
            continue
        kinds = _value_kinds(values.astype(str).str.strip())
        if kinds.notna().mean() >= share:
            counts = kinds.value_counts()
            found[column] = "values: " + ", ".join(
                f"{n / len(kinds):.0%} {name}" for name, n in counts.items()
            )
    return found


def describe_personal(found: Mapping[str, str]) -> str:
    """The cleaning-log note for removed columns: ``手机号 (name), contact (values: ...)``."""
    return ", ".join(f"{column} ({reason})" for column, reason in found.items())


def drop_personal(frame: pd.DataFrame, keep: Iterable[str] = ()) -> tuple[pd.DataFrame, str]:
    """``frame`` without its personal-data columns, and the log note naming them.

    The loaders of every table call this; the note is empty when nothing was removed
    (log step ``personal-data columns removed``).
    """
    found = personal_columns(frame, keep)
    return (frame.drop(columns=list(found)) if found else frame), describe_personal(found)


def mask_text(texts: pd.Series) -> pd.Series:
    """Free text with its e-mail addresses and phone numbers masked, its words kept.

    ``"mail me at li.wei@example.com or 138 1234 5678"`` becomes
    ``"mail me at [email] or [phone]"``; dates, amounts and order numbers stay.
    Missing values stay missing.
    """

    def mask(match: re.Match) -> str:
        if match.group("email"):
            return "[email]"
        run = match.group("phone")
        return "[phone]" if _is_phone(run.strip()) else _CN_MOBILE.sub("[phone]", run)

    text = texts.astype("string")
    candidates = text[text.str.contains(r"@|\d", na=False)]  # the slow pass only where needed
    changed = {}  # each distinct text once (1M answers repeat many comments)
    for t in candidates.unique():
        masked = _IN_TEXT.sub(mask, t)
        if masked != t:
            changed[t] = masked
    out = texts.copy() if pd.api.types.is_string_dtype(texts) else texts.astype(object)
    if changed:
        hit = text.isin(list(changed)).fillna(False).to_numpy(dtype=bool)
        out[hit] = text[hit].map(changed).to_numpy(dtype=object)
    return out
