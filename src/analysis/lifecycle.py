"""Potential customers and their conversion to a first purchase.

With a customers table (sign-ups, leads, registrations), the customers without a
purchase up to ``as_of`` are the first life stage, **potential**. How many of them
become buyers, and how fast, by acquisition channel and sign-up cohort:

- the share converted by ``as_of``, with a Wilson interval;
- the cumulative conversion curve: the share of a group who made their first purchase
  within ``t`` days of signing up, by Kaplan-Meier (statsmodels ``SurvfuncRight``), so
  that recent sign-ups who have not bought *yet* count as "not yet" rather than
  "never"; pointwise log-log intervals from Greenwood's variance;
- the prospects still worth contacting: recent sign-ups, not converted yet, in the
  channels that convert at least as well as all channels together, ranked by their
  chance of a first purchase in the next ``horizon_days`` given they have not bought
  so far (from their channel's curve).

A first purchase is the customer's first order in the purchase log or, for a
table that dates conversions itself (``olist_leads``: the deal's ``won_date``), that
column (:data:`FIRST_PURCHASE_COLUMNS`); the earlier of the two when both exist.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from analysis import i18n
from analysis.errors import NotApplicable
from analysis.intervals import wilson
from analysis.privacy import canonical_ids
from analysis.text import md_text, pct, sentences, tr, tr_name

#: Customers-table columns that date a customer's first purchase (first match is used).
FIRST_PURCHASE_COLUMNS = ("first_purchase", "first_purchase_date", "converted_at", "won_date")
POTENTIAL = "potential"
LEVEL = 0.95
#: Group labels the package itself writes in the channel / cohort tables (the data values;
#: reports show them translated).
GROUP_NAMES = i18n.fixed_names(__name__, ("all", "unknown"))
#: Column headers of the conversion and prospects tables, for the table-header translation.
TABLE_HEADERS = i18n.fixed_names(
    __name__,
    (
        "channel",
        "cohort",
        "customers",
        "converted",
        "share",
        "share_low",
        "share_high",
        "within",
        "within_low",
        "within_high",
        "median_days",
        "customer_id",
        "signup_date",
        "days",
        "channel_share",
        "chance",
    ),
)


def group_label(label) -> str:
    """A channel or cohort label as the report shows it: ``all`` and ``unknown`` translated
    (tables through ``report.style_table`` show them so by themselves)."""
    return tr_name(str(label), GROUP_NAMES)


def _day_after(as_of) -> pd.Timestamp:
    """The cutoff day is inclusive: everything before the next midnight counts."""
    return pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)


def first_purchase_column(customers: pd.DataFrame, column: str | None = None) -> str | None:
    """The customers column dating first purchases: ``column``, else the first of
    :data:`FIRST_PURCHASE_COLUMNS` present as dates; None when there is none."""
    if column:
        if column not in customers.columns:
            raise NotApplicable(
                tr(
                    "the customers table has no column '{column}'; set first_purchase_column "
                    "to one of {columns}",
                    column=column,
                    columns=", ".join(map(str, customers.columns)),
                )
            )
        return column
    for name in FIRST_PURCHASE_COLUMNS:
        if name in customers.columns and pd.api.types.is_datetime64_any_dtype(customers[name]):
            return name
    return None


def first_purchases(
    customers: pd.DataFrame,
    transactions: pd.DataFrame | None,
    as_of,
    column: str | None = None,
) -> pd.Series:
    """Each customer's first purchase up to ``as_of`` (NaT: none yet), by customer id.

    Parameters
    ----------
    customers : pandas.DataFrame
        The customers table's frame (``customer_id``; optional conversion column).
    transactions : pandas.DataFrame, optional
        Clean purchase log (``customer_id``, ``order_date``).
    as_of : date-like
        Purchases after it do not count.
    column : str, optional
        Customers column dating first purchases (:func:`first_purchase_column`).
    """
    end = _day_after(as_of)
    ids = canonical_ids(customers["customer_id"])
    first = pd.Series(pd.NaT, index=pd.Index(ids, name="customer_id"), dtype="datetime64[ns]")
    if transactions is not None and len(transactions):
        log = transactions.loc[transactions["order_date"] < end]
        by_id = log.groupby(canonical_ids(log["customer_id"]).to_numpy())["order_date"].min()
        first = first.fillna(by_id.reindex(first.index).astype("datetime64[ns]"))
    name = first_purchase_column(customers, column)
    if name is not None:
        dated = pd.Series(
            pd.to_datetime(customers[name], errors="coerce").to_numpy(), index=first.index
        )
        dated = dated.where(dated < end).astype("datetime64[ns]")
        first = pd.concat([first, dated], axis=1).min(axis=1)
    return first[~first.index.duplicated()]


def stage_counts(purchaser_stages: Mapping[str, int], customer_ids, purchasers) -> dict:
    """Life-stage counts with ``potential`` first: customers without a purchase.

    Parameters
    ----------
    purchaser_stages : mapping
        The segmentation report's stage counts of the customers who bought up to the
        cutoff (new, active repeat, loyal, at risk, lapsed).
    customer_ids : iterable
        Every id of the customers table.
    purchasers : iterable
        Ids of the customers who bought up to the cutoff (the summary's index).

    Returns
    -------
    dict
        ``potential`` (customers-table ids that never bought up to the cutoff) then
        the purchaser stages: the counts add up to every customer of either table.
    """
    known = set(canonical_ids(pd.Series(list(customer_ids), dtype=object)).dropna())
    bought = set(canonical_ids(pd.Series(list(purchasers), dtype=object)).dropna())
    return {POTENTIAL: len(known - bought), **{k: int(v) for k, v in purchaser_stages.items()}}


def potential_note(counts: Mapping[str, int]) -> str:
    """One sentence on the potential customers beside the life stages."""
    total = sum(counts.values())
    return tr(
        "Beside these stages, **{p:,} potential customers** ({s} of {t:,}) are in the "
        "customers table without a purchase up to the cutoff; the lifecycle report shows "
        "which channels turn them into buyers."
    ).format(p=counts[POTENTIAL], s=pct(counts[POTENTIAL] / max(total, 1)), t=total)


def default_as_of(customers: pd.DataFrame, transactions: pd.DataFrame | None, as_of=None):
    """The cutoff: ``as_of`` when given, else the purchase log's last order, else the
    last sign-up (conversions dated later are not counted: they had not happened yet)."""
    if as_of is not None and str(as_of).strip().lower() not in ("", "none", "null"):
        return pd.Timestamp(as_of).normalize()
    if transactions is not None and len(transactions):
        return pd.Timestamp(transactions["order_date"].max()).normalize()
    if "signup_date" in customers.columns and customers["signup_date"].notna().any():
        return pd.Timestamp(customers["signup_date"].max()).normalize()
    raise NotApplicable(
        tr("no purchase log and no sign-up dates, so no cutoff; pass as_of or a purchase log")
    )


def conversion_frame(customers: pd.DataFrame, first: pd.Series, as_of, cohort: str = "M"):
    """One row per customer with a sign-up date up to ``as_of``: the conversion data.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; ``signup_date``, ``channel`` ("unknown" when missing),
        ``cohort`` (sign-up period, ``cohort`` frequency), ``first_purchase``,
        ``converted`` (bool), ``days`` (sign-up to first purchase, or to ``as_of`` when
        not converted; a purchase before signing up counts as day 0).
    """
    if "signup_date" not in customers.columns:
        raise NotApplicable(
            tr(
                "the customers table has no sign-up date; map one with "
                "--column customers.signup_date=YOUR_COLUMN"
            )
        )
    cutoff = pd.Timestamp(as_of).normalize()
    frame = pd.DataFrame(
        {
            "signup_date": pd.to_datetime(customers["signup_date"]).to_numpy(),
            "channel": (
                customers["channel"].fillna("unknown").astype(str).to_numpy()
                if "channel" in customers.columns
                else "all"
            ),
        },
        index=pd.Index(canonical_ids(customers["customer_id"]), name="customer_id"),
    )
    frame = frame[~frame.index.duplicated()]
    frame = frame[frame["signup_date"].notna() & (frame["signup_date"] < _day_after(cutoff))]
    frame["cohort"] = frame["signup_date"].dt.to_period(cohort).astype(str)
    frame["first_purchase"] = first.reindex(frame.index).to_numpy()
    frame["converted"] = frame["first_purchase"].notna()
    end = frame["first_purchase"].dt.normalize().fillna(cutoff)
    frame["days"] = (end - frame["signup_date"].dt.normalize()).dt.days.clip(lower=0).astype(float)
    return frame


def conversion_curve(days, converted, level: float = LEVEL) -> pd.DataFrame:
    """Kaplan-Meier cumulative conversion: share converted within ``days`` of signing up.

    Returns
    -------
    pandas.DataFrame
        ``days``, ``converted`` (1 - S(t)), ``low``, ``high`` (pointwise log-log
        interval at ``level``), ``at_risk``; starts at day 0 with 0 converted
        unless some converted on day 0.
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    days = np.asarray(days, dtype=float)
    done = np.asarray(converted, dtype=bool)
    if len(days) == 0:
        return pd.DataFrame(columns=["days", "converted", "low", "high", "at_risk"])
    if not done.any():
        flat = pd.DataFrame(
            {
                "days": [0.0, days.max()],
                "converted": 0.0,
                "low": 0.0,
                "high": 0.0,
                "at_risk": [len(days), int((days >= days.max()).sum())],
            }
        )
        return flat.assign(longest=float(days.max()))
    # KM on (days + 0.5): a conversion on the sign-up day happens after time 0
    fit = SurvfuncRight(days + 0.5, done.astype(int))
    surv = np.asarray(fit.surv_prob, dtype=float)
    se = np.asarray(fit.surv_prob_se, dtype=float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(surv)
        theta = z * se / (surv * np.abs(log_s))
        s_low = np.where((surv > 0) & (surv < 1), surv ** np.exp(-theta), surv)
        s_high = np.where((surv > 0) & (surv < 1), surv ** np.exp(theta), surv)
    out = pd.DataFrame(
        {
            "days": np.asarray(fit.surv_times, dtype=float) - 0.5,
            "converted": 1 - surv,
            "low": 1 - s_low,
            "high": 1 - s_high,
            "at_risk": np.asarray(fit.n_risk, dtype=float),
        }
    )
    start = pd.DataFrame(
        {"days": [0.0], "converted": [0.0], "low": [0.0], "high": [0.0], "at_risk": [len(days)]}
    )
    out = out if out["days"].iloc[0] <= 0 else pd.concat([start, out], ignore_index=True)
    out["longest"] = float(days.max())
    return out.reset_index(drop=True)


def curve_at(curve: pd.DataFrame, day: float) -> dict:
    """The curve's value and interval at ``day`` (step function); NaN past its follow-up."""
    if curve.empty or day > curve["longest"].iloc[0]:
        return {"converted": np.nan, "low": np.nan, "high": np.nan}
    row = curve.loc[curve["days"] <= day].iloc[-1]
    return {k: float(row[k]) for k in ("converted", "low", "high")}


def conversion_by(
    frame: pd.DataFrame, by: str, horizon_days: int = 90, level: float = LEVEL, min_size: int = 1
) -> pd.DataFrame:
    """Conversion per group (``by``: ``channel`` or ``cohort``) and for all customers.

    Returns
    -------
    pandas.DataFrame
        Index the groups (largest first for channels, in order for cohorts) then
        ``all``; ``customers``, ``converted``, ``share`` with ``share_low``/``share_high``
        (Wilson), ``within`` the Kaplan-Meier share converted within ``horizon_days``
        with ``within_low``/``within_high`` (NaN when the group's follow-up is shorter),
        ``median_days`` (sign-up to first purchase among the converted).
    """
    groups = [(name, part) for name, part in frame.groupby(by, sort=(by == "cohort"))]
    if by != "cohort":
        groups.sort(key=lambda g: -len(g[1]))
    rows = {}
    for name, part in [*groups, ("all", frame)]:
        if len(part) < min_size and name != "all":
            continue
        won = int(part["converted"].sum())
        low, high = wilson(won, len(part), level)
        at = curve_at(conversion_curve(part["days"], part["converted"], level), horizon_days)
        rows[name] = {
            "customers": len(part),
            "converted": won,
            "share": won / len(part) if len(part) else np.nan,
            "share_low": low,
            "share_high": high,
            "within": at["converted"],
            "within_low": at["low"],
            "within_high": at["high"],
            "median_days": float(part.loc[part["converted"], "days"].median()) if won else np.nan,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = by
    return out


def prospects(
    frame: pd.DataFrame,
    by_channel: pd.DataFrame,
    as_of,
    recent_days: int = 90,
    horizon_days: int = 90,
) -> pd.DataFrame:
    """Recent sign-ups not converted yet, in channels converting at least as well as all.

    Each prospect's ``chance`` is their channel's Kaplan-Meier probability of a first
    purchase within the next ``horizon_days``, given none in the ``days`` since they
    signed up: (F(days + h) - F(days)) / (1 - F(days)); NaN past the channel's
    follow-up. Sorted by chance, then most recent sign-up.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; ``signup_date``, ``channel``, ``days`` (since sign-up),
        ``channel_share`` (converted share of the channel), ``chance``.
    """
    overall = float(by_channel.loc["all", "share"])
    good = [c for c in by_channel.index if c != "all" and by_channel.loc[c, "share"] >= overall]
    cutoff = pd.Timestamp(as_of)
    recent = frame[
        ~frame["converted"]
        & (frame["signup_date"] > cutoff - pd.Timedelta(days=recent_days))
        & frame["channel"].isin(good)
    ]
    chance = pd.Series(np.nan, index=recent.index)
    for channel, part in recent.groupby("channel"):
        members = frame[frame["channel"] == channel]
        curve = conversion_curve(members["days"], members["converted"])
        for cid, age in part["days"].items():
            now, later = curve_at(curve, age)["converted"], curve_at(curve, age + horizon_days)
            if np.isfinite(now) and np.isfinite(later["converted"]) and now < 1:
                chance[cid] = (later["converted"] - now) / (1 - now)
    out = recent[["signup_date", "channel", "days"]].copy()
    out["channel_share"] = out["channel"].map(by_channel["share"]).astype(float)
    out["chance"] = chance.round(4)
    out["channel_share"] = out["channel_share"].round(4)
    return out.sort_values(["chance", "signup_date"], ascending=[False, False], na_position="last")


def lifecycle_metrics(by_channel: pd.DataFrame, first: pd.Series, horizon_days: int) -> dict:
    """Headline numbers: conversion rate, median days to a first purchase, potential count."""
    total = by_channel.loc["all"]
    rates = by_channel.drop(index="all")["share"].round(4)
    return {
        "conversion_rate": round(float(total["share"]), 4),
        "conversion_rate_interval": [
            round(float(total["share_low"]), 4),
            round(float(total["share_high"]), 4),
        ],
        "median_days_to_first_purchase": (
            None if np.isnan(total["median_days"]) else float(total["median_days"])
        ),
        f"converted_within_{horizon_days}_days": (
            None if np.isnan(total["within"]) else round(float(total["within"]), 4)
        ),
        "potential": int(first.isna().sum()),
        "conversion_rate_by_channel": rates.to_dict(),
    }


def _best_worst(channels: pd.DataFrame) -> tuple[str, str]:
    """The channels converting best and worst, leaving out catch-alls (unknown, other)."""
    named = channels.drop(index=[c for c in ("unknown", "other", "all") if c in channels.index])
    named = named if len(named) else channels
    return named["share"].idxmax(), named["share"].idxmin()


def channel_takeaway(by_channel: pd.DataFrame, horizon_days: int) -> str:
    """Which channels convert, in words, with the intervals."""
    total = by_channel.loc["all"]
    channels = by_channel.drop(index="all")
    if channels.empty or total["customers"] == 0:
        return tr("No sign-ups to judge conversion from.")
    best, worst = _best_worst(channels)
    text = tr(
        "{share} of {n:,} sign-ups made a first purchase by the cutoff (95% interval "
        "{lo}–{hi}). The best channel is **{best}** ({bs}, interval {blo}–{bhi}), the weakest "
        "**{worst}** ({ws})."
    ).format(
        share=pct(total["share"], 1),
        n=int(total["customers"]),
        lo=pct(total["share_low"], 1),
        hi=pct(total["share_high"], 1),
        best=md_text(group_label(best)),
        bs=pct(channels.loc[best, "share"], 1),
        blo=pct(channels.loc[best, "share_low"], 1),
        bhi=pct(channels.loc[best, "share_high"], 1),
        worst=md_text(group_label(worst)),
        ws=pct(channels.loc[worst, "share"], 1),
    )
    if np.isfinite(total["median_days"]):
        text = sentences(
            text,
            tr(
                "Those who convert take a median of {d:.0f} days from sign-up to first purchase; "
                "{w} convert within {h} days (Kaplan-Meier, recent sign-ups counted as not yet)."
            ).format(d=total["median_days"], w=pct(total["within"], 1), h=horizon_days),
        )
    return text


def cohort_takeaway(by_cohort: pd.DataFrame, horizon_days: int) -> str:
    """Is conversion getting better or worse across sign-up cohorts?"""
    seen = by_cohort.drop(index="all")["within"].dropna()
    if len(seen) < 2:
        return tr("Too few sign-up cohorts with {h} days of follow-up to compare.").format(
            h=horizon_days
        )
    first, last = seen.index[0], seen.index[-1]
    values = {
        "h": horizon_days,
        "a": pct(seen.iloc[0], 1),
        "first": first,
        "b": pct(seen.iloc[-1], 1),
        "last": last,
    }
    if seen.iloc[-1] > seen.iloc[0]:
        return tr(
            "Within {h} days of signing up, {a} of the {first} cohort had bought against {b} of "
            "the {last} cohort, the latest with {h} days of follow-up: conversion is getting "
            "better. Later cohorts have not had {h} days yet and are left out of this comparison.",
            **values,
        )
    return tr(
        "Within {h} days of signing up, {a} of the {first} cohort had bought against {b} of "
        "the {last} cohort, the latest with {h} days of follow-up: conversion is getting "
        "worse. Later cohorts have not had {h} days yet and are left out of this comparison.",
        **values,
    )


def prospects_takeaway(found: pd.DataFrame, recent_days: int, horizon_days: int) -> str:
    """How many prospects are worth a call, and the chance the best of them buy."""
    if found.empty:
        return _prospects_headline(found, recent_days)
    expected = found["chance"].fillna(0).sum()
    return sentences(
        _prospects_headline(found, recent_days),
        tr(
            "From their channels' curves, about {e:.0f} of them would make a first purchase in "
            "the next {h} days without extra effort: they are the list to contact first "
            "(`prospects.csv`)."
        ).format(e=expected, h=horizon_days),
    )


def _prospects_headline(found: pd.DataFrame, recent_days: int) -> str:
    """The first sentence of :func:`prospects_takeaway`: how many prospects there are."""
    if found.empty:
        return tr(
            "No recent sign-up ({r} days) without a purchase in a channel that converts well."
        ).format(r=recent_days)
    return tr(
        "{n:,} people signed up in the last {r} days through channels that convert at least as "
        "well as average and have not bought yet."
    ).format(n=len(found), r=recent_days)


def curve_takeaway(curves: Mapping[str, pd.DataFrame], horizon_days: int) -> str:
    """How fast conversion comes: the share within a week, a month and the horizon."""
    overall = curves.get("all")
    if overall is None or overall.empty:
        return tr("No sign-ups to draw a conversion curve from.")
    at = {d: curve_at(overall, d)["converted"] for d in (7, 30, horizon_days)}
    text = tr(
        "Of all sign-ups, {a} buy within a week, {b} within a month and {c} within {h} days."
    ).format(a=pct(at[7], 1), b=pct(at[30], 1), c=pct(at[horizon_days], 1), h=horizon_days)
    if np.isfinite(at[30]) and np.isfinite(at[horizon_days]) and at[horizon_days] > 0:
        early = at[30] / at[horizon_days]
        text = sentences(
            text,
            tr(
                "{e} of the conversions within {h} days happen in the first month: a sign-up "
                "who has not bought after a month is much less likely to, so follow-up belongs "
                "in the first weeks."
            ).format(e=pct(early), h=horizon_days),
        )
    return text


def findings(
    metrics: Mapping,
    by_channel: pd.DataFrame,
    found: pd.DataFrame,
    horizon_days: int,
    recent_days: int,
) -> str:
    """The report in a few bullet points."""
    median = metrics["median_days_to_first_purchase"]
    lines = [
        tr("- **{n:,} potential customers** have signed up and not bought yet.").format(
            n=metrics["potential"]
        ),
        tr("- **{r}** of sign-ups converted by the cutoff (95% interval {lo}–{hi}).").format(
            r=pct(metrics["conversion_rate"], 1),
            lo=pct(metrics["conversion_rate_interval"][0], 1),
            hi=pct(metrics["conversion_rate_interval"][1], 1),
        ),
    ]
    if median is not None:
        lines.append(
            tr("- Converted customers bought a median **{d:.0f} days** after signing up.").format(
                d=median
            )
        )
    if len(by_channel) > 2:
        best, worst = _best_worst(by_channel)
        lines.append(
            tr("- Best channel **{b}** ({bs}); weakest **{w}** ({ws}).").format(
                b=md_text(group_label(best)),
                bs=pct(by_channel.loc[best, "share"], 1),
                w=md_text(group_label(worst)),
                ws=pct(by_channel.loc[worst, "share"], 1),
            )
        )
    lines.append("- " + _prospects_headline(found, recent_days))
    return "\n".join(lines)
