"""Pseudonymised customer ids for shared reports.

A keyed hash (HMAC-SHA256) turns each id into ``C-xxxxxxxxxxxx``. The same key
gives the same pseudonym in every period, so the owner can join reports over
time (and map back by hashing their own ids), while a reader without the key
cannot reverse it. The key comes from the environment variable
``ANALYSIS_ID_KEY`` or, when that is unset, from a file outside the repository
(``~/.config/customer-analytics/id_key``, created on first use, mode 600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import pandas as pd

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
        Pseudonyms aligned with ``ids`` (same index when ``ids`` is a Series).
    """
    key = key if key is not None else id_key()
    series = ids if isinstance(ids, pd.Series) else pd.Series(list(ids))
    text = series.astype(str)
    uniques = pd.unique(text)
    table = {u: "C-" + hmac.new(key, u.encode(), hashlib.sha256).hexdigest()[:12] for u in uniques}
    return text.map(table)


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
