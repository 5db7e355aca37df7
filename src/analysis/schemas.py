"""The canonical columns of every table: the purchase log and the four optional tables.

One :class:`Schema` per table; ``data/README.md`` documents them for users. Cleaning
(:mod:`analysis.cleaning`, :mod:`analysis.data`, :mod:`analysis.tables`) maps and
types a source by its table's schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

TABLES = ("customers", "events", "feedback", "tickets")


def normalise_name(name) -> str:
    """A column name compared without case, spaces or punctuation (``Customer ID``)."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


@dataclass(frozen=True)
class Schema:
    """A table's canonical columns: which are required, and each one's kind.

    ``kinds`` values: ``id`` (stripped string, ``12.0`` is ``12``), ``date``
    (naive datetime), ``float``, ``text`` (stripped string). ``one_of``: at least
    one of these columns must exist. ``derivable``: a required column that other
    columns can stand in for (``amount`` from ``quantity`` and ``unit_price``).
    ``date``: the column the cutoff applies to. ``label``: how messages name it.
    """

    name: str
    required: tuple[str, ...]
    kinds: Mapping[str, str]
    date: str | None
    one_of: tuple[str, ...] = ()
    derivable: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    label: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.kinds)

    def flag(self, column: str) -> str:
        """The CLI mapping flag for ``column`` (bare for the purchase log)."""
        key = column if self.name == "transactions" else f"{self.name}.{column}"
        return f"--column {key}=<name>"


SCHEMAS: dict[str, Schema] = {
    "customers": Schema(
        "customers",
        ("customer_id",),
        {
            "customer_id": "id",
            "signup_date": "date",
            "region": "text",
            "city": "text",
            "channel": "text",
        },
        date="signup_date",
    ),
    "events": Schema(
        "events",
        ("customer_id", "event_time", "event"),
        {
            "customer_id": "id",
            "event_time": "date",
            "event": "text",
            "product_id": "id",
            "category": "text",
            "channel": "text",
            "session_id": "id",
        },
        date="event_time",
    ),
    "feedback": Schema(
        "feedback",
        ("response_date",),
        {
            "response_id": "id",
            "response_date": "date",
            "score": "float",
            "comment": "text",
            "customer_id": "id",
            "order_id": "id",
            "channel": "text",
            "touchpoint": "text",
        },
        date="response_date",
        one_of=("score", "comment"),
    ),
    "tickets": Schema(
        "tickets",
        ("customer_id", "opened_at"),
        {
            "customer_id": "id",
            "opened_at": "date",
            "closed_at": "date",
            "channel": "text",
            "category": "text",
            "status": "text",
            "rating": "float",
        },
        date="opened_at",
    ),
}


TRANSACTIONS = Schema(
    "transactions",
    ("customer_id", "order_date", "amount"),
    {
        "customer_id": "id",
        "order_date": "date",
        "amount": "float",
        "order_id": "text",
        "product_id": "text",
        "category": "text",
        "quantity": "float",
        "unit_price": "float",
        "channel": "text",
        "region": "text",
    },
    date="order_date",
    derivable={"amount": ("quantity", "unit_price")},
    label="the purchase log",
)

#: Every table's schema, the purchase log first.
ALL_SCHEMAS: dict[str, Schema] = {"transactions": TRANSACTIONS, **SCHEMAS}
