"""Behaviour and channels: where visitors drop out, how long they take, who left a cart.

Stands on the ``events`` table of :mod:`analysis.data` (canonical ``customer_id``,
``event_time``, ``event`` mapped onto steps ``view`` / ``cart`` / ``favourite`` /
``purchase``, and optionally ``product_id``, ``category``, ``channel``). The heavy
aggregations (funnel times, paths, cart outcomes, events per customer and day) are SQL
in :mod:`analysis.engine` (DuckDB by default, Spark-capable); this module turns their
small results into tables, intervals and sentences.

Definitions used throughout:

- **Funnel**: ordered steps (default view -> cart -> purchase). A visitor enters at the
  *first* time they did step 1; every later step counts once per visitor, only within the
  conversion window from that moment (inclusive). ``strict`` order needs each step at or
  after the previous one; ``any`` order needs each later step at or after step 1 only.
- **Abandoned cart**: a carted item the same customer has not bought at or after their last
  cart of it, and whose last cart is older than the grace period at ``as_of`` (younger
  carts are still *open* and left out of the rate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import engine as sql_engine
from analysis import i18n
from analysis.errors import NotApplicable
from analysis.intervals import wilson
from analysis.privacy import display_ids
from analysis.text import for_analyst, md_text, money, pct, sentences, shown, tr, tr_as, tr_name

DEFAULT_STEPS = ("view", "cart", "purchase")
#: Canonical step names (:data:`analysis.tables.EVENT_SYNONYMS`) and the two moves a path
#: adds ("left": nothing more up to as_of; "other": pooled rare moves); shown translated.
STEP_NAMES = i18n.fixed_names(
    __name__, ("view", "cart", "favourite", "purchase", "checkout", "visit", "left", "other")
)
#: Funnel orders (the ``order`` parameter).
ORDER_MODES = i18n.fixed_names(__name__, ("strict", "any"))
#: Channel mixes of :func:`channel_mix` and :func:`channel_switching`.
MIX_NAMES = i18n.fixed_names(__name__, ("online only", "offline only", "both", "other", "inactive"))
#: Feature sets of :func:`churn_lift`'s table and the tables channels come from.
LIFT_ROWS = i18n.fixed_names(__name__, ("purchases only", "purchases + behaviour"))
CHANNEL_SOURCES = ("purchases", "events")
#: Headers whose bare word means something else elsewhere (a forecast's "step", a value
#: tier's "low"): shown through their own catalogue entries (:func:`analysis.text.tr_as`).
HEADER_CONTEXTS = {
    "step": "funnel: step",
    "low": "interval: low",
    "high": "interval: high",
    "value": "cart: value",
}
SOURCE_CONTEXTS = {"purchases": "table: purchases", "events": "table: events"}
#: The cleaning log's headers ("step" of the log, not of the funnel).
LOG_CONTEXTS = {"step": "cleaning: step", "rows": "cleaning: rows"}
for _contexts in (HEADER_CONTEXTS, SOURCE_CONTEXTS, LOG_CONTEXTS):
    i18n.fixed_names(__name__, _contexts.values())
HOUR = 3600
#: Shortest churn window worth testing (days): a month without a visit or purchase.
MIN_CHURN_WINDOW_DAYS = 30

#: Channel names (lower case) read as online or offline; others stay as they are.
ONLINE = ("web", "app", "online", "mobile", "website", "ecommerce", "e-commerce", "email", "site")
OFFLINE = ("store", "shop", "offline", "pos", "retail", "branch", "outlet", "in-store", "phone")


def step_label(name):
    """A step or move name as the reader sees it (canonical names translated, others kept)."""
    return tr_name(name, STEP_NAMES)


def display_labels(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the row labels that are step, mix, feature-set or segment names
    translated (column headers are left to :func:`analysis.report.style_table`)."""
    from analysis.recommend import segment_label

    names = (*STEP_NAMES, *MIX_NAMES, *LIFT_ROWS)
    return table.rename(index=lambda v: segment_label(tr_name(v, names)))


def log_display(log: pd.DataFrame) -> pd.DataFrame:
    """The events' cleaning log with its headers under their own names (:data:`LOG_CONTEXTS`)."""
    return shown(log, LOG_CONTEXTS)[0]


def for_display(table: pd.DataFrame, formats=None):
    """``(table, formats)`` ready for ``report.style_table``: row labels through
    :func:`display_labels`, the :data:`HEADER_CONTEXTS` headers under their own names."""
    return shown(display_labels(table), HEADER_CONTEXTS, formats)


# --------------------------------------------------------------------------- funnel


def funnel_times(
    events,
    steps=DEFAULT_STEPS,
    window_hours: float = 72,
    mode: str = "strict",
    by=None,
    as_of=None,
    engine="duckdb",
) -> pd.DataFrame:
    """When each visitor first reached each step (see :func:`analysis.engine.funnel_times`).

    ``window_hours`` is the conversion window from the visitor's first step-1 event.
    Returns ``customer_id`` (and ``by``) with ``t1`` .. ``tk`` as timestamps (NaT: not reached).
    """
    out = sql_engine.funnel_times(
        events, list(steps), int(round(window_hours * HOUR)), mode, by, as_of, engine
    )
    for j in range(1, len(steps) + 1):
        out[f"t{j}"] = pd.to_datetime(out[f"t{j}"], unit="s")
    return out


def reached(times: pd.DataFrame, k: int) -> pd.DataFrame:
    """Boolean frame ``step_1`` .. ``step_k``: the visitor reached every step up to it."""
    hit = times[[f"t{j}" for j in range(1, k + 1)]].notna().to_numpy()
    return pd.DataFrame(
        np.cumprod(hit, axis=1).astype(bool),
        index=times.index,
        columns=[f"step_{j}" for j in range(1, k + 1)],
    )


def funnel_table(times: pd.DataFrame, steps=DEFAULT_STEPS, confidence: float = 0.95):
    """Visitors per step, overall and step-to-step conversion with Wilson intervals.

    Parameters
    ----------
    times : pandas.DataFrame
        From :func:`funnel_times` (``t1`` .. ``tk``).
    steps : sequence of str
        The step names, in order.
    confidence : float
        Level of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        One row per step: ``step``, ``visitors``, ``conversion`` (from step 1) with
        ``conversion_low`` / ``conversion_high``, ``step_conversion`` (from the previous
        step) with ``step_low`` / ``step_high``, ``dropped`` (visitors lost since the
        previous step) and ``drop_off`` (their share).
    """
    counts = reached(times, len(steps)).sum().to_numpy()
    first = counts[0] if len(counts) else 0
    previous = np.concatenate([[first], counts[:-1]])
    lo, hi = wilson(counts, np.full(len(counts), first), confidence)
    slo, shi = wilson(counts, previous, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "step": list(steps),
                "visitors": counts.astype("int64"),
                "conversion": counts / first if first else np.nan,
                "conversion_low": lo,
                "conversion_high": hi,
                "step_conversion": counts / np.where(previous > 0, previous, np.nan),
                "step_low": slo,
                "step_high": shi,
                "dropped": (previous - counts).astype("int64"),
            }
        )
    table["drop_off"] = 1 - table["step_conversion"]
    return table


def mode_comparison(events, steps, window_hours, as_of=None, engine="duckdb") -> pd.DataFrame:
    """Visitors per step in strict and in any order, side by side (index: step)."""
    out = {}
    for mode in ("strict", "any"):
        table = funnel_table(
            funnel_times(events, steps, window_hours, mode, None, as_of, engine), steps
        )
        out[f"{mode} order"] = table.set_index("step")["visitors"]
        out[f"{mode} conversion"] = table.set_index("step")["conversion"]
    return pd.DataFrame(out)


def hours_to_convert(times: pd.DataFrame, k: int) -> pd.Series:
    """Hours from step 1 to the last step, for the visitors who completed the funnel."""
    done = reached(times, k)[f"step_{k}"]
    last = times.loc[done, [f"t{j}" for j in range(2, k + 1)]].max(axis=1)
    hours = (last - times.loc[done, "t1"]).dt.total_seconds() / HOUR
    return pd.Series(
        hours.to_numpy(), index=times.loc[done, "customer_id"].to_numpy(), name="hours"
    )


def time_to_convert_summary(hours: pd.Series) -> pd.Series:
    """Median and quartiles of the hours to convert, and the share done within 1 h and 24 h."""
    if hours.empty:
        return pd.Series(dtype="float64")
    return pd.Series(
        {
            "converters": float(len(hours)),
            "median hours": hours.median(),
            "25th percentile": hours.quantile(0.25),
            "75th percentile": hours.quantile(0.75),
            "within 1 hour": float((hours <= 1).mean()),
            "within 24 hours": float((hours <= 24).mean()),
        }
    )


def censored(times: pd.DataFrame, as_of, window_hours: float) -> int:
    """Visitors whose conversion window had not closed by the end of ``as_of``."""
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    return int((times["t1"] + pd.Timedelta(hours=window_hours) >= end).sum())


def _group_funnels(
    times: pd.DataFrame, steps, key: pd.Series, min_visitors: int, top: int, name: str
) -> pd.DataFrame:
    """One funnel row per group of ``key`` (index named ``name``), largest groups first."""
    rows = []
    for group, part in times.groupby(key.to_numpy(), sort=False):
        table = funnel_table(part, steps)
        if table["visitors"].iloc[0] >= min_visitors:
            rows.append(table.assign(group=group))
    if not rows:
        columns = ["entered", *steps[1:], "overall", "low", "high"]
        return pd.DataFrame(columns=columns, index=pd.Index([], name=name))
    long = pd.concat(rows)
    wide = long.pivot(index="group", columns="step", values="visitors")[list(steps)]
    last = long[long["step"] == steps[-1]].set_index("group")
    wide = wide.rename(columns={steps[0]: "entered"})
    wide["overall"] = last["conversion"]
    wide["low"] = last["conversion_low"]
    wide["high"] = last["conversion_high"]
    wide.index.name, wide.columns.name = name, None
    return wide.sort_values("entered", ascending=False).head(top)


def funnel_by(
    events,
    steps=DEFAULT_STEPS,
    window_hours: float = 72,
    mode: str = "strict",
    by: str = "category",
    as_of=None,
    min_visitors: int = 30,
    top: int = 10,
    engine="duckdb",
) -> pd.DataFrame:
    """The funnel within each ``category`` or ``channel``: a visitor counts once per group.

    Returns one row per group (the ``top`` with most entrants, at least ``min_visitors``):
    visitors per step (``entered`` = step 1), ``overall`` conversion and its Wilson interval.
    """
    times = funnel_times(events, steps, window_hours, mode, by, as_of, engine)
    times = times[times[by].astype(str) != ""]
    return _group_funnels(times, list(steps), times[by], min_visitors, top, by)


def funnel_by_period(times: pd.DataFrame, steps=DEFAULT_STEPS, freq: str = "D", min_visitors=1):
    """The funnel per period of entry (the day or week of the visitor's first step-1 event)."""
    key = times["t1"].dt.to_period(freq).dt.start_time.dt.date
    out = _group_funnels(times, list(steps), key, min_visitors, 10_000, tr("entered on"))
    return out.sort_index()


def funnel_by_segment(
    times: pd.DataFrame, segments: pd.Series, steps=DEFAULT_STEPS, min_visitors: int = 30
) -> pd.DataFrame:
    """The funnel per customer segment (``segments``: customer id -> segment name)."""
    key = times["customer_id"].map(segments).fillna(tr("(no segment)"))
    return _group_funnels(times, list(steps), key, min_visitors, 50, tr("segment"))


# --------------------------------------------------------------------------- paths


def _path_text(row, names) -> str:
    moves = [str(row[n]) for n in names if isinstance(row[n], str)]
    return " → ".join(map(step_label, moves)) if moves else tr("(no further activity)")


def top_paths(top: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` most common paths (first moves of each visitor) with their share."""
    names = [c for c in top.columns if c.startswith("step_")]
    out = pd.DataFrame(
        {"path": top.apply(_path_text, axis=1, names=names), "visitors": top["visitors"]}
    )
    out = out.groupby("path", as_index=False)["visitors"].sum()
    out["share"] = out["visitors"] / out["visitors"].sum()
    return (
        out.sort_values(["visitors", "path"], ascending=[False, True])
        .head(n)
        .reset_index(drop=True)
    )


def next_after_dropout(after: pd.DataFrame, steps=DEFAULT_STEPS) -> pd.DataFrame:
    """What drop-outs of each step did next: share of each first move (and 'left').

    Returns ``dropped_at`` (step name), ``next`` (the first move after the last step
    reached, or "left" when nothing followed up to ``as_of``), ``visitors``, ``share``.
    """
    first = after["step_1"].fillna("left")
    out = (
        after.assign(next=first, dropped_at=[steps[i - 1] for i in after["reached"]])
        .groupby(["dropped_at", "next"], as_index=False, sort=False)["visitors"]
        .sum()
    )
    out["share"] = out["visitors"] / out.groupby("dropped_at")["visitors"].transform("sum")
    order = {s: i for i, s in enumerate(steps)}
    out = out.sort_values(
        ["dropped_at", "visitors"], key=lambda c: c.map(order) if c.name == "dropped_at" else -c
    )
    return out.reset_index(drop=True)


def dropout_paths(after: pd.DataFrame, steps=DEFAULT_STEPS, n: int = 3) -> pd.DataFrame:
    """The ``n`` most common continuations after dropping out of each step, as text."""
    names = [c for c in after.columns if c.startswith("step_")]
    out = after.assign(
        dropped_at=[steps[i - 1] for i in after["reached"]],
        path=after.apply(_path_text, axis=1, names=names),
    )
    out["share"] = out["visitors"] / out.groupby("dropped_at")["visitors"].transform("sum")
    out = out.sort_values("visitors", ascending=False).groupby("dropped_at", sort=False).head(n)
    order = {s: i for i, s in enumerate(steps)}
    out = out.sort_values(
        ["dropped_at", "visitors"], key=lambda c: c.map(order) if c.name == "dropped_at" else -c
    )
    out = out.assign(dropped_at=out["dropped_at"].map(step_label))
    return out[["dropped_at", "path", "visitors", "share"]].reset_index(drop=True)


# --------------------------------------------------------------------------- abandoned carts


def item_prices(transactions: pd.DataFrame | None) -> pd.Series | None:
    """Median price per product from a purchase log (``unit_price``, else ``amount``)."""
    if transactions is None or "product_id" not in transactions.columns:
        return None
    price = "unit_price" if "unit_price" in transactions.columns else "amount"
    return transactions.groupby(transactions["product_id"].astype(str))[price].median()


def cart_outcomes(
    events,
    cart: str = "cart",
    purchase: str = "purchase",
    grace_hours: float = 24,
    as_of=None,
    prices: pd.Series | None = None,
    engine="duckdb",
) -> pd.DataFrame:
    """Every carted item and its outcome (see :func:`analysis.engine.cart_outcomes`).

    Times come back as timestamps; ``value`` is the events' own value when they carry one,
    else the item's price in ``prices`` (product id -> price) when given, else NaN.
    """
    out = sql_engine.cart_outcomes(
        events, cart, purchase, int(round(grace_hours * HOUR)), as_of, engine
    )
    for c in ("first_cart", "last_cart", "last_purchase"):
        out[c] = pd.to_datetime(out[c], unit="s")
    if prices is not None and out["value"].isna().all():
        out["value"] = out["product_id"].map(prices).astype("float64")
    return out


def abandonment(outcomes: pd.DataFrame) -> dict:
    """Cart abandonment: items and customers, open carts left out.

    Returns a dict: ``carted_items`` (decided: bought or abandoned), ``abandoned_items``,
    ``rate`` (abandoned / decided items), ``open_items``, ``customers_with_carts``,
    ``customers_abandoned`` (at least one abandoned item), ``customers_rate`` (customers whose
    every decided cart was abandoned), ``value`` (abandoned value, NaN when unknown).
    """
    decided = outcomes[outcomes["status"] != "open"]
    abandoned = decided["status"] == "abandoned"
    per_customer = abandoned.groupby(decided["customer_id"]).agg(["any", "all"])
    return {
        "carted_items": int(len(decided)),
        "abandoned_items": int(abandoned.sum()),
        "rate": float(abandoned.mean()) if len(decided) else float("nan"),
        "open_items": int((outcomes["status"] == "open").sum()),
        "customers_with_carts": int(len(per_customer)),
        "customers_abandoned": int(per_customer["any"].sum()),
        "customers_rate": float(per_customer["all"].mean()) if len(per_customer) else np.nan,
        "value": float(decided.loc[abandoned, "value"].sum(min_count=1)),
    }


def winback_list(outcomes: pd.DataFrame, as_of, max_days: int = 30, items_shown: int = 5):
    """Customers with abandoned carts, ranked for win-back.

    Ranked by abandoned value when known, else by the number of abandoned items; ties go
    to the most recent cart (a fresh cart is the easiest to win back). Carts older than
    ``max_days`` are left out (too stale to act on).

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``customer_id``, ``items`` (abandoned), ``item_ids`` (up to
        ``items_shown``, most recent first), ``value`` (NaN when unknown), ``last_cart``,
        ``days_since`` (whole days from the last abandoned cart to ``as_of``).
    """
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    gone = outcomes[outcomes["status"] == "abandoned"].sort_values("last_cart", ascending=False)
    gone = gone[(end - gone["last_cart"]).dt.days <= max_days]
    ids = gone["product_id"].astype("string").fillna("")
    grouped = gone.assign(_id=ids).groupby("customer_id")
    out = pd.DataFrame(
        {
            "items": grouped.size(),
            "item_ids": grouped["_id"].agg(lambda s: ", ".join([i for i in s if i][:items_shown])),
            "value": grouped["value"].sum(min_count=1),
            "last_cart": grouped["last_cart"].max(),
        }
    )
    out["days_since"] = (end - pd.Timedelta(seconds=1) - out["last_cart"]).dt.days
    key = "value" if out["value"].notna().any() else "items"
    out = out.sort_values([key, "last_cart"], ascending=[False, False]).reset_index()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def winback_export(winback: pd.DataFrame, anonymize: bool) -> pd.DataFrame:
    """The win-back list as exported in ``abandoned_carts.csv`` (ids through display_ids)."""
    return display_ids(winback, anonymize).set_index("rank")


# --------------------------------------------------------------------------- activity


def activity(days: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Active visitors per period, and how many of them had visited in an earlier period.

    ``days`` is :func:`analysis.engine.event_days`. Returns index ``period`` (start),
    ``active``, ``new`` (first visit in the period), ``returning`` and ``returning_share``.
    """
    period = days["day"].dt.to_period(freq).dt.start_time
    visits = pd.DataFrame({"customer_id": days["customer_id"], "period": period}).drop_duplicates()
    first = visits.groupby("customer_id")["period"].transform("min")
    out = (
        visits.assign(new=visits["period"] == first)
        .groupby("period")
        .agg(active=("customer_id", "size"), new=("new", "sum"))
    )
    out["returning"] = out["active"] - out["new"]
    out["returning_share"] = out["returning"] / out["active"]
    return out.astype({"new": "int64", "returning": "int64"})


def first_visit_cohorts(days: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Share of each first-visit cohort active 0, 1, 2, ... periods later (rows: cohorts)."""
    period = days["day"].dt.to_period(freq)
    visits = pd.DataFrame({"customer_id": days["customer_id"], "period": period}).drop_duplicates()
    cohort = visits.groupby("customer_id")["period"].transform("min")
    visits["age"] = [(p - c).n for p, c in zip(visits["period"], cohort, strict=True)]
    visits["cohort"] = cohort.dt.start_time
    counts = visits.pivot_table(
        index="cohort", columns="age", values="customer_id", aggfunc="count", fill_value=0
    )
    shares = counts.div(counts[0], axis=0).astype("float64")
    last = period.max()
    seen = [(last - p).n for p in counts.index.to_period(freq)]
    for row, limit in zip(shares.index, seen, strict=True):
        shares.loc[row, shares.columns > limit] = np.nan  # not observable yet
    return shares


# --------------------------------------------------------------------------- channels


def channel_kind(channel: pd.Series) -> pd.Series:
    """``online`` / ``offline`` for known channel names (:data:`ONLINE`, :data:`OFFLINE`)."""
    name = channel.astype(str).str.strip().str.lower()
    return pd.Series(
        np.select([name.isin(ONLINE), name.isin(OFFLINE)], ["online", "offline"], default=name),
        index=channel.index,
    )


def channel_sources(transactions: pd.DataFrame | None, events: pd.DataFrame | None) -> list:
    """Which tables carry a usable ``channel`` column (names for the reader)."""
    found = []
    for name, frame in (("purchases", transactions), ("events", events)):
        if frame is not None and "channel" in frame.columns and frame["channel"].notna().any():
            found.append(name)
    return found


def channel_mix(transactions: pd.DataFrame | None, events: pd.DataFrame | None) -> pd.DataFrame:
    """Per customer: the channels used in purchases and events, as online / offline / both.

    Returns index ``customer_id`` with ``kinds`` (sorted channel kinds joined by ``+``) and
    ``mix``: ``online only``, ``offline only``, ``both`` or ``other`` (channels that are
    neither). Raises :class:`NotApplicable` when no table carries channels.
    """
    parts = [
        frame[["customer_id", "channel"]].dropna()
        for frame in (transactions, events)
        if frame is not None and "channel" in frame.columns
    ]
    if not parts or all(p.empty for p in parts):
        raise NotApplicable(
            tr(
                "neither the purchases nor the events carry a channel column, so single- and "
                "multi-channel customers cannot be told apart"
            ),
            tr("map one with --column channel=... or --column events.channel=..."),
        )
    both = pd.concat(parts)
    both = both.assign(kind=channel_kind(both["channel"])).drop_duplicates(["customer_id", "kind"])
    kinds = both.groupby("customer_id")["kind"].agg(lambda s: "+".join(sorted(s)))
    online = kinds.str.contains("online")
    offline = kinds.str.contains("offline")
    mix = np.select(
        [online & offline, online, offline],
        ["both", "online only", "offline only"],
        default="other",
    )
    return pd.DataFrame({"kinds": kinds, "mix": mix}, index=kinds.index)


def channel_value(
    mix: pd.DataFrame,
    transactions: pd.DataFrame | None,
    as_of,
    clv: pd.Series | None = None,
    retention_days: int = 90,
) -> pd.DataFrame:
    """Customers, revenue, retention and CLV per channel mix.

    Retention: share of the mix's buyers who bought again in the last ``retention_days``
    before ``as_of`` among those who had bought before that period.
    """
    table = mix.groupby("mix").size().rename("customers").to_frame()
    table["share"] = table["customers"] / table["customers"].sum()
    if transactions is None or transactions.empty:
        return table
    tx = transactions.assign(mix=transactions["customer_id"].map(mix["mix"]))
    per = tx.groupby("customer_id").agg(revenue=("amount", "sum"), mix=("mix", "first"))
    start = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=retention_days - 1)
    before = set(tx.loc[tx["order_date"] < start, "customer_id"])
    after = set(tx.loc[tx["order_date"] >= start, "customer_id"])
    per["earlier"] = per.index.isin(before)
    per["retained"] = per.index.isin(before & after)
    grouped = per.groupby("mix")
    table["revenue"] = grouped["revenue"].sum()
    table["revenue per customer"] = grouped["revenue"].mean()
    table["retention"] = grouped["retained"].sum() / grouped["earlier"].sum().replace(0, np.nan)
    if clv is not None:
        table["mean CLV"] = clv.reindex(per.index).groupby(per["mix"]).mean()
    return table


def channel_switching(transactions: pd.DataFrame, as_of, period_days: int = 90) -> pd.DataFrame:
    """Customers by channel mix in the period before the last one and in the last one.

    Rows: mix in ``(as_of - 2p, as_of - p]``; columns: mix in ``(as_of - p, as_of]``
    (``inactive`` when no purchase with a channel). Needs ``channel`` on the purchases.
    """
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    step = pd.Timedelta(days=period_days)
    periods = {}
    for name, lo in (("earlier", end - 2 * step), ("later", end - step)):
        part = transactions[
            (transactions["order_date"] >= lo) & (transactions["order_date"] < lo + step)
        ]
        periods[name] = channel_mix(part, None)["mix"]
    ids = periods["earlier"].index.union(periods["later"].index)
    frame = pd.DataFrame({k: v.reindex(ids).fillna("inactive") for k, v in periods.items()})
    return pd.crosstab(frame["earlier"], frame["later"])


# --------------------------------------------------------------------------- loading


@dataclass
class Inputs:
    """What the behaviour notebook works on: the events and, when linked, the purchases."""

    events: object  # analysis.data.Table
    transactions: object | None  # analysis.data.Transactions, when its customers meet the events
    as_of: pd.Timestamp
    note: str


def _linked_purchases(tx, events: pd.DataFrame):
    """The purchase log when it shares customers and dates with the events, else None."""
    shared = np.intersect1d(tx.frame["customer_id"].unique(), events["customer_id"].unique()).size
    overlap = (tx.frame["order_date"].max() >= events["event_time"].min()) and (
        tx.frame["order_date"].min() <= events["event_time"].max()
    )
    if shared == 0 or not overlap:
        why = tr("no customer") if shared == 0 else tr("no dates")
        return None, tr(
            "The purchase log shares {why} with the events, so it is not used here.", why=why
        )
    return tx, tr("{n} customers appear in both the events and the purchase log.", n=f"{shared:,}")


def inputs(tables) -> Inputs:
    """The events table of ``tables`` (raise :class:`NotApplicable` without one), and the
    purchase log when it shares customers with the events."""
    events = getattr(tables, "events", None)
    if events is None or events.frame.empty:
        raise NotApplicable(
            tr("the behaviour analysis needs an events table (views, carts, purchases)"),
            tr("pass one with --events PATH (or --events taobao for the built-in sample)"),
        )
    tx = getattr(tables, "transactions", None)
    as_of = events.as_of if events.as_of is not None else events.frame["event_time"].max()
    note = ""
    if tx is not None:
        tx, note = _linked_purchases(tx, events.frame)
    return Inputs(events, tx, pd.Timestamp(as_of).normalize(), note)


# --------------------------------------------------------------------------- churn


def behaviour_features(days: pd.DataFrame, cutoff, window_days: int, steps=DEFAULT_STEPS):
    """Per customer, from events up to ``cutoff`` only: views and carts in the last window,
    active days in it, and days since the last visit (NaN: no visit before the cutoff)."""
    cutoff = pd.Timestamp(cutoff).normalize()
    past = days[days["day"] <= cutoff]
    recent = past[past["day"] > cutoff - pd.Timedelta(days=window_days)]
    grouped = recent.groupby("customer_id")
    out = pd.DataFrame(
        {
            f"{steps[0]}s in window": grouped[sql_engine.step_count_column(steps[0])].sum(),
            f"{steps[1]}s in window": grouped[sql_engine.step_count_column(steps[1])].sum(),
            "visit days in window": grouped.size(),
        }
    )
    last = past.groupby("customer_id")["day"].max()
    out = out.reindex(last.index).fillna(0.0)
    out["days since last visit"] = (cutoff - last).dt.days.astype("float64")
    return out


@dataclass
class ChurnLift:
    """Out-of-time churn scores with and without behaviour features (or why not)."""

    table: pd.DataFrame | None  # ROC-AUC / PR-AUC per feature set
    note: str


def churn_lift(
    tx, days: pd.DataFrame, as_of, window_days=None, active_days: int | None = None, seed: int = 0
) -> ChurnLift:
    """Does behaviour improve the churn warning? Purchases-only vs purchases + behaviour.

    Uses the churn notebook's out-of-time design (:func:`analysis.churn.make_design`):
    both feature sets are fitted at the training cutoff and scored at the test cutoff.
    Returns a note in words instead of a table when the purchase log is missing or the
    events do not cover the design's history.
    """
    from analysis import churn, cycle

    span = (days["day"].max() - days["day"].min()).days + 1
    if tx is None:
        short = (
            tr(
                " The events also cover only {span} days: too short a history for a churn "
                "window, which needs three windows of history before `as_of`.",
                span=span,
            )
            if span < 3 * MIN_CHURN_WINDOW_DAYS
            else ""
        )
        return ChurnLift(
            None,
            tr(
                "Not applicable: churn is defined on purchases, and there is no purchase log "
                "linked to these visitors."
            )
            + " "
            + for_analyst(tr("Pass `--data` with the same customer ids."))
            + short,
        )
    frame = tx.frame
    try:
        window = churn.derive_window(cycle.cycle_at(frame, as_of), 0.8, window_days)
        window, _ = churn.feasible_window(frame, as_of, window)
        design = churn.make_design(frame, as_of, window, active_days)
    except (NotApplicable, ValueError) as exc:
        return ChurnLift(None, tr("Not applicable: {reason}.", reason=str(exc).rstrip(".")))
    need = design.train_cutoff - pd.Timedelta(days=window)
    if days["day"].min() > need:
        return ChurnLift(
            None,
            tr(
                "Not applicable: history too short. The churn design trains at {train} on "
                "behaviour from {need}, but the events cover only {span} days from {start}.",
                train=f"{design.train_cutoff:%Y-%m-%d}",
                need=f"{need:%Y-%m-%d}",
                span=span,
                start=f"{days['day'].min():%Y-%m-%d}",
            ),
        )
    sets = {}
    for cutoff in (design.train_cutoff, design.test_cutoff):
        X, y = churn.build_dataset(frame, cutoff, window, design.active_days)
        extra = behaviour_features(days, cutoff, window).reindex(X.index)
        extra["days since last visit"] = extra["days since last visit"].fillna(
            (cutoff - days["day"].min()).days
        )
        sets[cutoff] = (X, extra.fillna(0.0), y)
    (X_tr, B_tr, y_tr), (X_te, B_te, y_te) = sets[design.train_cutoff], sets[design.test_cutoff]
    rows = {}
    for name, (train, test) in {
        "purchases only": (X_tr, X_te),
        "purchases + behaviour": (X_tr.join(B_tr), X_te.join(B_te)),
    }.items():
        train, test = churn.common_columns(train, test)
        fit = churn.fit_models(train, y_tr, seed)
        if fit.chosen is None:
            return ChurnLift(None, tr("Not applicable: {note}.", note=fit.note or "no model fits"))
        key = fit.chosen
        p = churn.predict(fit.models[key], test, fit.features)
        rows[name] = churn.score_table(y_te, {key: p}).iloc[0][["ROC-AUC", "PR-AUC", "Brier"]]
    table = pd.DataFrame(rows).T
    lift = table.loc["purchases + behaviour", "ROC-AUC"] - table.loc["purchases only", "ROC-AUC"]
    return ChurnLift(
        table,
        tr(
            "Out of time ({n} customers at {test}), behaviour changes the churn model's ROC-AUC by "
            "{lift:+.3f} ({base:.3f} → {with_b:.3f}).",
            n=f"{len(y_te):,}",
            test=f"{design.test_cutoff:%Y-%m-%d}",
            lift=lift,
            base=table.loc["purchases only", "ROC-AUC"],
            with_b=table.loc["purchases + behaviour", "ROC-AUC"],
        ),
    )


# --------------------------------------------------------------------------- words


def funnel_takeaway(table: pd.DataFrame, window_hours: float, mode: str, open_windows: int) -> str:
    """The funnel in words: overall conversion, the biggest leak, the window used."""
    worst = table.iloc[1:].sort_values("drop_off", ascending=False).iloc[0]
    prev = table["step"].iloc[table.index.get_loc(worst.name) - 1]
    last = table.iloc[-1]
    text = tr(
        "Of **{n}** visitors who did *{first}*, **{conv}** reached *{last}* within "
        "{hours:g} hours ({lo}–{hi}, 95% Wilson interval; {mode} order). The biggest leak is "
        "**{prev} → {step}**: {drop} of those who did *{prev}* never did *{step}* "
        "in the window.",
        n=f"{table['visitors'].iloc[0]:,}",
        first=md_text(step_label(table["step"].iloc[0])),
        conv=pct(last["conversion"], 1),
        last=md_text(step_label(last["step"])),
        hours=window_hours,
        lo=pct(last["conversion_low"], 1),
        hi=pct(last["conversion_high"], 1),
        mode=tr_name(mode, ORDER_MODES),
        prev=md_text(step_label(prev)),
        step=md_text(step_label(worst["step"])),
        drop=pct(worst["drop_off"]),
    )
    if open_windows:
        text = sentences(
            text,
            tr(
                "{n} visitors entered less than {hours:g} hours before `as_of`: their window is "
                "still open, so the conversion is a slight underestimate.",
                n=f"{open_windows:,}",
                hours=window_hours,
            ),
        )
    return text


def mode_takeaway(modes: pd.DataFrame) -> str:
    """How much strict order changes the count at the last step."""
    strict, anyo = modes["strict order"].iloc[-1], modes["any order"].iloc[-1]
    extra = anyo - strict
    return tr(
        "In any order **{any}** visitors complete the funnel against **{strict}** in strict "
        "order: {extra} visitors did the later steps out of sequence (for example bought "
        "without carting first, then carted).",
        any=f"{anyo:,}",
        strict=f"{strict:,}",
        extra=f"{extra:,}",
    )


def time_takeaway(summary: pd.Series) -> str:
    """Time to convert in words."""
    if summary.empty:
        return tr("No visitor completed the funnel, so there is no time to convert.")
    return tr(
        "Converters take a median of **{median:.1f} hours** from the first step to the last "
        "(half between {q1:.1f} and {q3:.1f} hours); {h1} finish within an hour and {h24} "
        "within a day. Reminders sent after a day reach mostly those who would not have "
        "come back on their own.",
        median=summary["median hours"],
        q1=summary["25th percentile"],
        q3=summary["75th percentile"],
        h1=pct(summary["within 1 hour"]),
        h24=pct(summary["within 24 hours"]),
    )


def dropout_takeaway(nexts: pd.DataFrame, steps=DEFAULT_STEPS) -> str:
    """The most common next move of each step's drop-outs."""
    parts = []
    for step, part in nexts.groupby("dropped_at", sort=False):
        top = part.iloc[0]
        parts.append(
            tr(
                "after *{step}* most often **{next}** ({share})",
                step=md_text(step_label(step)),
                next=md_text(step_label(top["next"])),
                share=pct(top["share"]),
            )
        )
    text = tr("Visitors who stopped go on as follows: {parts}.", parts=tr("; ").join(parts))
    later = nexts["next"].isin(list(steps[1:]))
    skipped = nexts[(nexts["dropped_at"] == steps[0]) & later]
    if not skipped.empty:
        text = sentences(
            text,
            tr(
                "{share} of those who stopped after *{first}* went on to a later step outside the "
                "funnel's order or window (for example bought without using the cart): they are "
                "not lost customers, and the any-order funnel counts those within the window.",
                share=pct(skipped["share"].sum()),
                first=md_text(step_label(steps[0])),
            ),
        )
    return text


def carts_takeaway(stats: dict, winback: pd.DataFrame, currency: str = "") -> str:
    """Abandoned carts in words."""
    value = stats["value"]
    worth = (
        tr(", worth {v}", v=money(value, currency))
        if not np.isnan(value)
        else tr("; the events carry no prices, so their value is unknown")
    )
    return tr(
        "**{rate}** of carted items were not bought ({abandoned} of {decided} items{worth}; "
        "{open} carts younger than the grace period are still open). {customers} customers "
        "left at least one item; the win-back list ranks the {listed} with recent carts.",
        rate=pct(stats["rate"]),
        abandoned=f"{stats['abandoned_items']:,}",
        decided=f"{stats['carted_items']:,}",
        worth=worth,
        open=f"{stats['open_items']:,}",
        customers=f"{stats['customers_abandoned']:,}",
        listed=f"{len(winback):,}",
    )


def activity_takeaway(daily: pd.DataFrame, weekly: pd.DataFrame) -> str:
    """Active visitors and the returning share in words."""
    return tr(
        "On a typical day **{dau}** visitors are active (median), {share} of them returning "
        "from an earlier day; the busiest day had {peak} ({peak_day}). Weekly active visitors: "
        "{wau} in the last week.",
        dau=f"{daily['active'].median():,.0f}",
        share=pct(daily["returning_share"].iloc[1:].median()),
        peak=f"{daily['active'].max():,}",
        peak_day=f"{daily['active'].idxmax():%Y-%m-%d}",
        wau=f"{weekly['active'].iloc[-1]:,}",
    )


def behaviour_metrics(
    visitors: int, table: pd.DataFrame, hours: pd.Series, stats: dict, mix: pd.DataFrame | None
) -> dict:
    """The headline numbers recorded under ``behaviour``."""
    multi = None
    if mix is not None and len(mix):
        multi = float((mix["mix"] == "both").mean())
    return {
        "visitors": int(visitors),
        "funnel": [
            {"step": s, "visitors": int(v), "conversion": round(float(c), 4)}
            for s, v, c in zip(table["step"], table["visitors"], table["conversion"], strict=True)
        ],
        "overall_conversion": round(float(table["conversion"].iloc[-1]), 4),
        "median_time_to_convert_hours": (round(float(hours.median()), 2) if len(hours) else None),
        "cart_abandonment_rate": round(float(stats["rate"]), 4),
        "multichannel_share": multi,
    }


def findings(
    metrics: dict, window_hours: float, mode: str, stats: dict, channel_note: str, churn_note: str
) -> str:
    """The notebook's findings as a Markdown list."""
    steps = " → ".join(md_text(step_label(s["step"])) for s in metrics["funnel"])
    median = metrics["median_time_to_convert_hours"]
    lines = [
        tr(
            "**{n} visitors**; funnel {steps} converts **{conv}** within {h:g} hours ({mode} "
            "order).",
            n=f"{metrics['visitors']:,}",
            steps=steps,
            conv=pct(metrics["overall_conversion"], 1),
            h=window_hours,
            mode=tr_name(mode, ORDER_MODES),
        ),
        tr(
            "Median time to convert: {m}.",
            m=(tr("{h:.1f} hours", h=median) if median is not None else tr("n/a")),
        ),
        tr(
            "Cart abandonment: **{rate}** of carted items; {n} customers on the win-back list "
            "(`abandoned_carts.csv`).",
            rate=pct(stats["rate"]),
            n=f"{stats['customers_abandoned']:,}",
        ),
        tr("Channels: {note}", note=channel_note),
        tr("Behaviour and churn: {note}", note=churn_note),
    ]
    return "\n".join(f"- {line}" for line in lines)


# --------------------------------------------------------------------------- notebook sections


def segments_for(tables, inputs_: Inputs) -> tuple[pd.Series | None, str]:
    """A segment per customer for the funnel breakdown, and a sentence saying where from.

    A ``segment`` (or ``tier``) attribute of the customers table when there is one, else RFM
    segments from the linked purchase log, else None with the reason.
    """
    customers = getattr(tables, "customers", None)
    if customers is not None:
        for column in ("segment", "tier", "value_tier"):
            if column in customers.frame.columns:
                seg = customers.frame.set_index("customer_id")[column].astype(str)
                return seg, tr("Segments: the customers table's `{c}` column.", c=column)
    if inputs_.transactions is not None:
        from analysis import segmentation
        from analysis.summary import customer_summary

        summary = customer_summary(inputs_.transactions.frame, inputs_.as_of)
        seg = segmentation.rfm_segments(summary)["segment"]
        return seg, tr("Segments: RFM segments of the linked purchase log at `as_of`.")
    return None, tr(
        "*No segment breakdown: there is no customers table with a segment column and no "
        "purchase log linked to these visitors.*"
    ) + " " + for_analyst(tr("*Pass `--customers` or `--data`.*"))


def breakdown_takeaway(by_day: pd.DataFrame, by_category: pd.DataFrame | None) -> str:
    """Where the funnel converts best and worst, in words."""
    parts = []
    if by_category is not None and len(by_category) > 1:
        best, worst = by_category["overall"].idxmax(), by_category["overall"].idxmin()
        parts.append(
            tr(
                "Inside a single category conversion is far lower than overall, because most "
                "visitors browse several categories and buy in one: among the largest categories "
                "it ranges from {lo} ({worst}) to {hi} ({best}).",
                lo=pct(by_category.loc[worst, "overall"], 1),
                worst=md_text(worst),
                hi=pct(by_category.loc[best, "overall"], 1),
                best=md_text(best),
            )
        )
    big = by_day[by_day["entered"] >= 30]
    if len(big) > 1:
        parts.append(
            tr(
                "By day of entry (days with 30 or more entrants) conversion ranges from {lo} to "
                "{hi}; later entrants have had less time before `as_of`.",
                lo=pct(big["overall"].min(), 1),
                hi=pct(big["overall"].max(), 1),
            )
        )
    return sentences(*parts)


def cohort_takeaway(cohorts: pd.DataFrame) -> str:
    """How many visitors come back the day after their first visit, in words."""
    if 1 not in cohorts.columns or cohorts[1].dropna().empty:
        return tr("The events cover too few days to see visitors come back.")
    first = cohorts.iloc[0].dropna()
    return tr(
        "A median {d1} of each cohort is back the day after its first visit; of the first "
        "cohort ({day}), {last} were still active {n} days later. Visitors here come back "
        "often, so reminders can ride on visits rather than on e-mail alone.",
        d1=pct(cohorts[1].median()),
        day=f"{cohorts.index[0]:%Y-%m-%d}",
        last=pct(first.iloc[-1]),
        n=int(first.index[-1]),
    )


@dataclass
class ChannelReport:
    """The channel section: a sentence, the tables to show, and the per-customer mix."""

    note: str
    tables: dict  # caption -> (table, its number formats)
    mix: pd.DataFrame | None


def channel_report(
    inputs_: Inputs,
    retention_days: int = 90,
    min_visitors: int = 30,
    steps=DEFAULT_STEPS,
    window_hours: float = 72,
    mode: str = "strict",
) -> ChannelReport:
    """Single- vs multi-channel customers, their value, switching and the funnel by channel.

    Returns a :class:`ChannelReport` whose note says, in words, when no table carries channels.
    """
    tx = inputs_.transactions.frame if inputs_.transactions is not None else None
    ev = inputs_.events.frame
    found = channel_sources(tx, ev)
    if not found:
        return ChannelReport(
            tr(
                "not applicable: neither the events (`{src}`) nor a purchase log carry a channel, "
                "so online, offline and multi-channel customers cannot be told apart.",
                src=md_text(inputs_.events.source),
            ),
            {},
            None,
        )
    mix = channel_mix(tx if "purchases" in found else None, ev if "events" in found else None)
    clv = None
    if tx is not None:
        from analysis import churn

        value = churn.value_and_segments(tx, inputs_.as_of)[0]
        clv = None if value is None else value["clv"]
    tables = {
        tr("Customers by channel mix"): channel_value(mix, tx, inputs_.as_of, clv, retention_days)
    }
    if "purchases" in found:
        tables[
            tr(
                "Channel mix in the {d} days before the last {d} (rows) and in them (columns)",
                d=retention_days,
            )
        ] = channel_switching(tx, inputs_.as_of, retention_days)
    if "events" in found:
        tables[tr("Funnel by channel")] = funnel_by(
            ev, steps, window_hours, mode, "channel", inputs_.as_of, min_visitors
        )
    share = float((mix["mix"] == "both").mean())
    note = tr(
        "{share} of the {n} customers with a known channel use both online and offline "
        "channels (channels from {src}).",
        share=pct(share),
        n=f"{len(mix):,}",
        src=tr(" and ").join(tr_as(SOURCE_CONTEXTS[f], f) for f in found),
    )
    formats = {
        "share": "{:.1%}",
        "retention": "{:.1%}",
        "revenue": "{:,.0f}",
        "revenue per customer": "{:,.0f}",
        "mean CLV": "{:,.0f}",
        "overall": "{:.1%}",
        "low": "{:.1%}",
        "high": "{:.1%}",
    }
    styled = {
        caption: for_display(table, {c: f for c, f in formats.items() if c in table.columns})
        for caption, table in tables.items()
    }
    return ChannelReport(note, styled, mix)
