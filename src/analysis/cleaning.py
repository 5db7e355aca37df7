"""Cleaning as a pipeline of named steps, the same machinery for every table.

A step is a function ``step(frame, ctx) -> (frame, rows)``: it returns the frame
after the step and its log row(s) ``(step, rows, note)``: ``rows`` is minus the
number of rows removed (0 for a step that only changes or notes something). A
pipeline is a tuple of steps; :func:`run_steps` applies them in order and collects
the log. Options are checked once, by :func:`check_options`, against an
:class:`Option` table, before any step runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from analysis.errors import DataError

LogRow = tuple[str, int, str]
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
    """

    source: str
    options: dict
    table: str = "transactions"
    as_of: pd.Timestamp | None = None
    available: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)


Step = Callable[[pd.DataFrame, Context], tuple[pd.DataFrame, "LogRow | list[LogRow] | None"]]


def dropped(frame: pd.DataFrame, mask: pd.Series, step: str, note: str = ""):
    """``frame`` without the rows of ``mask``, and the log row that counts them."""
    n = int(mask.sum())
    return (frame.loc[~mask] if n else frame), (step, -n, note if n else "")


def run_steps(
    frame: pd.DataFrame, steps: Iterable[Step], ctx: Context
) -> tuple[pd.DataFrame, list[LogRow]]:
    """Apply ``steps`` in order; return the frame and every log row they wrote."""
    log: list[LogRow] = []
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
