"""One customer's page: attributes, purchases, standing, value, risk and service record.

Everything a profile shows comes from the tables of one run (:func:`analysis.tables.load_tables`)
and, where the period reports were rendered, from their exports (``segments.csv``,
``lifetime_value.csv``, ``churn_risk.csv``, ``recommendations.csv``) in the latest report
folder up to ``as_of``. A figure the reports did not export is computed here from the
purchase log (segment, tier, stage, CLV, P(alive)) or said absent in words.

The customer is named by their raw id or, under ``anonymize``, by the pseudonym the
reports show (:func:`analysis.privacy.find_customer`); the page then shows only the
pseudonym (:func:`analysis.privacy.display_id`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import i18n
from analysis.config import REPORTS_DIR
from analysis.errors import DataError
from analysis.privacy import canonical_ids, display_id, find_customer
from analysis.text import date_label, md_text, money, pct, sentences, tr, tr_name

#: Exports of the period reports a profile reads, by what they hold.
EXPORTS = {
    "segments": "segments.csv",
    "value": "lifetime_value.csv",
    "risk": "churn_risk.csv",
    "recommendations": "recommendations.csv",
}
RUN_FILE = "run.json"  # the runner's record of a period (same name as analysis.report's)

HOW_TO_FIND_IDS = (
    "find ids in segments.csv or churn_risk.csv of a report (reports/<period>/), "
    "or run `analysis validate` for the data's customers"
)


def resolve_customer(wanted, ids, source: str = "the data") -> str:
    """The raw id among ``ids`` named by ``wanted`` (raw id or pseudonym).

    Raises
    ------
    DataError
        One line naming the unknown id and how to find valid ones.
    """
    raw = find_customer(wanted, ids)
    if raw is None:
        raise DataError(f"customer '{wanted}' is not in {source}; {HOW_TO_FIND_IDS}")
    return raw


# --------------------------------------------------------------------------- report exports


def report_folders(reports_dir, as_of, data: str | None = None) -> list[Path]:
    """Period report folders up to ``as_of``, newest first, of the same ``data`` when given.

    ``reports_dir`` None is the project's ``reports/``. A folder counts when it holds
    the runner's ``run.json``; its ``source.data`` must equal ``data`` (compared as
    given to the notebooks).
    """
    root = Path(reports_dir).expanduser() if reports_dir else REPORTS_DIR
    if not root.is_dir():
        return []
    cutoff = pd.Timestamp(as_of).normalize()
    found = []
    for run_file in root.glob(f"*/{RUN_FILE}"):
        try:
            run = json.loads(run_file.read_text())
            period = pd.Timestamp(run["as_of"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        source = run.get("source") or run.get("parameters") or {}
        if data is not None and str(source.get("data", data)) != str(data):
            continue
        if period <= cutoff:
            found.append((period, run_file.parent))
    return [folder for _, folder in sorted(found, key=lambda x: x[0], reverse=True)]


def export_rows(folder: Path | None, name: str, shown_id: str) -> pd.DataFrame | None:
    """The rows of ``shown_id`` in a report folder's export ``name``, without the id column.

    None when there is no folder or export (or it has no ``customer_id``); an empty
    frame when the export does not list the customer. ``shown_id`` is the id as the
    reports show it (the pseudonym under ``anonymize``).
    """
    if folder is None:
        return None
    worded = Path(folder) / i18n.file_name(EXPORTS[name])  # reasons in the profile's language
    path = worded if worded.exists() else Path(folder) / EXPORTS[name]
    if not path.exists():
        return None
    frame = pd.read_csv(path, dtype={"customer_id": str})
    if "customer_id" not in frame.columns:
        return None
    rows = frame[(canonical_ids(frame["customer_id"]) == shown_id).to_numpy()]
    return rows.drop(columns="customer_id").reset_index(drop=True)


def export_row(folder: Path | None, name: str, shown_id: str) -> pd.Series | None:
    """The first row of :func:`export_rows` (None when absent or not listed)."""
    rows = export_rows(folder, name, shown_id)
    return rows.iloc[0] if rows is not None and len(rows) else None


# --------------------------------------------------------------------------- the customer


def attributes(customers, raw_id: str) -> pd.DataFrame:
    """The customer's row of the customers table as ``attribute``/``value`` pairs.

    Empty when no customers table was given or it does not hold the customer. The id
    itself is left out (the page names the customer by its display id).
    """
    if customers is None:
        return pd.DataFrame(columns=["attribute", "value"])
    frame = customers.frame
    row = frame[canonical_ids(frame["customer_id"]) == raw_id].drop(columns="customer_id")
    if row.empty:
        return pd.DataFrame(columns=["attribute", "value"])
    values = row.iloc[0].dropna()
    return pd.DataFrame({"attribute": values.index, "value": values.astype(str).to_numpy()})


def purchases(frame: pd.DataFrame, raw_id: str) -> pd.DataFrame:
    """The customer's purchases by day: ``orders``, ``lines``, ``amount``, running ``spend``."""
    mine = frame[canonical_ids(frame["customer_id"]) == raw_id]
    day = mine["order_date"].dt.normalize().rename("date")
    order = mine["order_id"] if "order_id" in mine.columns else day
    out = pd.DataFrame(
        {
            "orders": order.groupby(day).nunique(),
            "lines": mine.groupby(day).size(),
            "amount": mine["amount"].groupby(day).sum(),
        }
    )
    out["spend"] = out["amount"].cumsum()
    return out


def purchase_text(timeline: pd.DataFrame, as_of, currency: str = "") -> str:
    """The purchase history in one sentence."""
    if timeline.empty:
        return tr("No purchase up to the cutoff: this is a potential customer.")
    first, last = timeline.index.min(), timeline.index.max()
    days = (pd.Timestamp(as_of).normalize() - last).days
    return tr(
        "{orders:,} orders on {n:,} days between {first} and {last}, "
        "{spend} in all; last purchase {days:,} days before the cutoff."
    ).format(
        orders=int(timeline["orders"].sum()),
        n=len(timeline),
        first=date_label(first),
        last=date_label(last),
        spend=money(timeline["amount"].sum(), currency),
        days=days,
    )


@dataclass
class Standing:
    """Segment, value tier and life stage of one customer at one cutoff, and their source."""

    as_of: pd.Timestamp
    segment: str | None
    tier: str | None
    stage: str | None
    source: str  # "segments.csv of <folder>" or "computed"


def _from_export(row: pd.Series | None, folder: Path, as_of) -> Standing | None:
    if row is None:
        return None
    get = {k: (str(row[k]) if k in row.index and pd.notna(row[k]) else None) for k in row.index}
    return Standing(
        pd.Timestamp(as_of),
        get.get("segment"),
        get.get("tier"),
        get.get("stage"),
        tr("segments.csv of the {folder} report", folder=folder.name),
    )


def computed_standing(frame: pd.DataFrame, as_of, raw_id: str) -> Standing:
    """The customer's RFM segment, value tier and life stage computed at ``as_of``.

    Same rules and defaults as the segmentation report (scores relative to all
    customers at that cutoff). None for a figure the customer has no basis for yet.
    """
    from analysis import cycle
    from analysis import segmentation as seg
    from analysis.summary import customer_summary

    as_of = pd.Timestamp(as_of).normalize()
    summary = customer_summary(frame, as_of, time_unit="D")
    ids = canonical_ids(summary.index.to_series())
    if summary.empty or raw_id not in set(ids):
        return Standing(as_of, None, None, "potential", tr("computed"))
    key = summary.index[(ids == raw_id).to_numpy()][0]
    rfm = seg.rfm_segments(summary)
    tiers = seg.value_tiers(summary)
    thresholds = seg.lifecycle_thresholds(cycle.cycle_at(frame, as_of), summary)
    stages = seg.lifecycle_stages(summary, thresholds)
    return Standing(
        as_of,
        str(rfm.loc[key, "segment"]),
        str(tiers.loc[key, "tier"]),
        str(stages.loc[key, "stage"]),
        tr("computed"),
    )


def standing(frame, as_of, raw_id, shown_id, folder: Path | None) -> Standing:
    """The standing at ``as_of``: from ``folder``'s ``segments.csv`` when it has the
    customer, else computed from the purchase log."""
    found = (
        _from_export(export_row(folder, "segments", shown_id), folder, as_of) if folder else None
    )
    return found or computed_standing(frame, as_of, raw_id)


def folder_as_of(folder: Path) -> pd.Timestamp:
    """The cutoff of a report folder (its ``run.json``)."""
    return pd.Timestamp(json.loads((Path(folder) / RUN_FILE).read_text())["as_of"])


#: Rows of :func:`standing_table`.
STANDING_ROWS = ("RFM segment", "value tier", "life stage", "source")
#: The figures :func:`standing_text` compares.
STANDING_FIGURES = ("segment", "tier", "stage")


def standing_table(now: Standing, before: Standing | None) -> pd.DataFrame:
    """Segment, tier and stage now and at the previous report, side by side."""
    columns = {tr("now ({d})", d=date_label(now.as_of, "%Y-%m-%d")): now}
    if before is not None:
        columns[tr("previous ({d})", d=date_label(before.as_of, "%Y-%m-%d"))] = before
    return pd.DataFrame(
        {
            label: {
                tr(STANDING_ROWS[0]): tr_name(s.segment) if s.segment else "–",
                tr(STANDING_ROWS[1]): tr_name(s.tier) if s.tier else "–",
                tr(STANDING_ROWS[2]): tr_name(s.stage) if s.stage else "–",
                tr(STANDING_ROWS[3]): s.source,
            }
            for label, s in columns.items()
        }
    )


def standing_text(now: Standing, before: Standing | None) -> str:
    """What changed between the previous report and now, in words."""
    if before is None:
        return tr("There is no earlier report to compare with.")
    moves = [
        f"{tr(what)} {md_text(tr_name(b))} → {md_text(tr_name(a))}"
        for what, b, a in zip(
            STANDING_FIGURES,
            (before.segment, before.tier, before.stage),
            (now.segment, now.tier, now.stage),
            strict=True,
        )
        if a and b and a != b
    ]
    if not moves:
        return tr("Segment, tier and stage are unchanged since {d}.").format(
            d=date_label(before.as_of)
        )
    return tr("Since {d}: {m}.").format(d=date_label(before.as_of), m="; ".join(moves))


# --------------------------------------------------------------------------- value and risk


def computed_value(
    frame: pd.DataFrame, as_of, raw_id: str, horizon_months: int = 12, discount_rate: float = 0.10
) -> dict:
    """CLV and P(alive) of the customer from a BG/NBD + Gamma-Gamma fit on all customers.

    Returns a dict with ``clv``, ``p_alive``, ``expected_purchases`` and the
    :func:`analysis.clv.next_purchase` dates (80 % intervals), or ``note`` when the customer
    has no purchase or the models cannot be fitted.
    """
    from analysis import clv
    from analysis.summary import customer_summary

    summary = customer_summary(frame, as_of, time_unit="W")
    ids = canonical_ids(summary.index.to_series())
    if raw_id not in set(ids):
        return {"note": tr("no purchase yet, so no lifetime value")}
    key = summary.index[(ids == raw_id).to_numpy()][0]
    try:
        fitted = clv.fit_model(summary, model="bgnbd")
        spend = clv.fit_spend(summary)
        values = clv.customer_value(
            fitted, spend, summary.loc[[key]], horizon_months, discount_rate
        )
    except (AttributeError, ValueError, RuntimeError, ArithmeticError) as exc:
        return {"note": tr("the purchase models could not be fitted ({e})").format(e=exc)}
    row = values.iloc[0]
    upcoming = clv.next_purchase(fitted, summary.loc[[key]], as_of).iloc[0]
    return {
        "clv": float(row["clv"]),
        "p_alive": float(row["p_alive"]),
        "expected_purchases": float(row["expected_purchases"]),
        "horizon_months": horizon_months,
        **{k: v for k, v in upcoming.items() if k.startswith("next_purchase")},
    }


#: Figures of ``lifetime_value.csv`` a profile shows, in order, with their labels.
VALUE_LABELS = {
    "clv": "expected lifetime value",
    "clv_low": "interval: low",
    "clv_high": "interval: high",
    "p_alive": "P(alive)",
    "expected_purchases": "expected purchases over the horizon",
    "expected_spend": "expected spend per purchase",
}


def value_table(value_row: pd.Series | None, computed: dict | None, currency: str = ""):
    """CLV (with its interval when the report exported one) and P(alive), with the source.

    Columns ``figure``, ``value`` (formatted text) and ``source``; empty when there is
    neither an exported row nor a computed value. A figure's raw number stays in
    ``number``.
    """
    if value_row is not None:
        numbers, source = value_row, "lifetime_value.csv"
    elif computed and "note" not in computed:
        numbers = pd.Series(computed)
        source = tr(
            "computed ({months}-month BG/NBD + Gamma-Gamma)", months=computed["horizon_months"]
        )
    else:
        return pd.DataFrame(columns=["figure", "value", "source", "number"])
    rows = []
    for key, label in VALUE_LABELS.items():
        if key not in numbers.index or pd.isna(numbers[key]):
            continue
        number = float(numbers[key])
        if key == "p_alive":
            text = pct(number)
        elif key == "expected_purchases":
            text = f"{number:,.1f}"
        else:
            text = f"{currency}{number:,.0f}"
        rows.append({"figure": tr(label), "value": text, "source": source, "number": number})
    return pd.DataFrame(
        rows, index=[r for r in VALUE_LABELS if r in numbers.index and pd.notna(numbers[r])]
    )


def risk_reasons(timeline: pd.DataFrame, as_of, p_alive: float | None = None) -> list[str]:
    """Why the customer's churn risk is what it is, from their own purchase rhythm.

    Overdue against their usual gap, fewer purchases in the last half of their history
    than in the first, a single purchase, and a low P(alive); each reason in words.
    """
    if timeline.empty:
        return []
    as_of = pd.Timestamp(as_of).normalize()
    days = timeline.index.to_series()
    since = (as_of - days.max()).days
    reasons = []
    if len(days) == 1:
        reasons.append(tr("bought once only ({d:,} days ago)").format(d=since))
    else:
        gap = days.diff().dt.days.dropna().mean()
        if since > gap:
            reasons.append(
                tr(
                    "{s:,} days since the last purchase, {r:.1f}× the usual gap of {g:.0f} days"
                ).format(s=since, r=since / gap, g=gap)
            )
        middle = days.min() + (as_of - days.min()) / 2
        early, late = int((days <= middle).sum()), int((days > middle).sum())
        if late < early:
            reasons.append(
                tr(
                    "fewer purchase days lately ({late} in the second half of their history "
                    "against {early} in the first)"
                ).format(late=late, early=early)
            )
    if p_alive is not None and p_alive < 0.5:
        reasons.append(
            tr("the purchase model gives only {p:.0%} that they are still a customer").format(
                p=p_alive
            )
        )
    return reasons


def _band(band) -> str:
    """A risk band of ``churn_risk.csv`` (English) in the report's language."""
    from analysis.churn import display_label

    return display_label(band)


#: The service tables :func:`record_text` names (``what``).
RECORD_KINDS = ("feedback answers", "service tickets", "events")


def risk_text(risk_row: pd.Series | None, p_alive: float | None, reasons: list[str]) -> str:
    """Churn risk in words: the churn report's P(churn) when exported, else 1 − P(alive)."""
    because = (
        tr("{reasons}.", reasons="; ".join(reasons))
        if reasons
        else tr("nothing in the purchase rhythm is unusual.")
    )
    if risk_row is not None and "p_churn" in risk_row.index:
        band = (
            tr(" ({band})", band=md_text(_band(risk_row["risk_band"])))
            if "risk_band" in risk_row.index
            else ""
        )
        rank = (
            tr(", rank {rank:,} by value at risk", rank=int(risk_row["rank"]))
            if "rank" in risk_row.index
            else ""
        )
        return tr("**Churn risk {p:.0%}**{band}{rank} (churn report). Reasons: {why}").format(
            p=float(risk_row["p_churn"]), band=band, rank=rank, why=because
        )
    if p_alive is not None:
        risk = 1 - p_alive
        return tr(
            "**Churn risk {p}** (1 − P(alive); the churn report's list was not "
            "rendered for this period or does not score this customer). Reasons: {why}"
        ).format(
            p=tr("under 1%") if risk < 0.01 else tr("about {p}").format(p=pct(risk)), why=because
        )
    if reasons:
        return tr(
            "No churn risk figure: the churn report's list was not rendered and the purchase "
            "model could not be fitted. Warning signs in their purchase rhythm: {why}"
        ).format(why=because)
    return tr("No churn risk figure: no churn report and no purchase model for these data.")


def next_purchase_text(value_row: pd.Series | None, computed: dict | None, frame=None,
                       as_of=None, raw_id: str | None = None) -> str:  # fmt: skip
    """When the customer is likely to buy next, in words: from ``lifetime_value.csv`` when
    it holds the dates (:func:`analysis.clv.next_purchase`), else from the value computed here
    (computed now from ``frame`` when neither has them, e.g. an older report's export).
    """
    has_dates = computed is not None and "next_purchase" in computed
    if not has_dates and (value_row is None or "next_purchase" not in value_row.index):
        if frame is not None and raw_id is not None:
            computed = computed_value(frame, as_of, raw_id)
    found = None
    for numbers in (value_row, pd.Series(computed or {}, dtype=object)):
        if numbers is not None and "next_purchase" in numbers.index:
            found = numbers
            break
    if found is None or pd.isna(found.get("next_purchase")):
        return tr("No next-purchase date: the purchase model gave none for this customer.")
    day = {k: pd.Timestamp(v) if pd.notna(v) and v != "" else None for k, v in found.items()
           if str(k).startswith("next_purchase")}  # fmt: skip
    text = tr(
        "**Next purchase** if still a customer: around {d:%Y-%m-%d} (likely between "
        "{low:%Y-%m-%d} and {high})."
    ).format(
        d=day["next_purchase"],
        low=day.get("next_purchase_low") or day["next_purchase"],
        high=f"{day['next_purchase_high']:%Y-%m-%d}" if day.get("next_purchase_high")
        else tr("later, or never"),
    )  # fmt: skip
    weighted = day.get("next_purchase_weighted")
    if weighted is None:
        return (
            text
            + " "
            + tr(
                "Allowing for the chance that they have already gone, a further purchase is less "
                "likely than not."
            )
        )
    return (
        text
        + " "
        + tr(
            "Allowing for the chance that they have already gone: even odds of a purchase by "
            "{d:%Y-%m-%d}."
        ).format(d=weighted)
    )


def record_formats(rows: pd.DataFrame | None) -> dict:
    """Number and date formats for a feedback, tickets or events table (scores and ratings
    without float noise: ``4`` not ``4.000000``, ``8.5`` kept; dates without midnight
    times; missing values as a dash)."""
    if rows is None:
        return {}

    def number(decimals):
        return lambda v: "–" if pd.isna(v) else f"{v:,.{decimals}f}"

    def when(with_time):
        return lambda v: (
            "–" if pd.isna(v) else f"{v:%Y-%m-%d %H:%M}" if with_time else f"{v:%Y-%m-%d}"
        )

    formats = {}
    for column in rows.columns:
        values = rows[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            clock = values.dropna()
            formats[column] = when(bool(len(clock)) and bool((clock != clock.dt.normalize()).any()))
        elif pd.api.types.is_float_dtype(values):
            whole = values.dropna()
            formats[column] = number(0 if (whole == whole.round()).all() else 1)
    return formats


# --------------------------------------------------------------------------- service record


def _mine(table, raw_id: str) -> pd.DataFrame | None:
    if table is None or "customer_id" not in table.frame.columns:
        return None
    frame = table.frame
    return frame[canonical_ids(frame["customer_id"]) == raw_id].drop(columns="customer_id")


def records(table, raw_id: str, date_column: str, last: int = 20) -> pd.DataFrame | None:
    """The customer's latest ``last`` rows of a feedback, tickets or events table.

    None when the table was not given (or has no customer ids); the id column is left
    out and the rows come newest first.
    """
    rows = _mine(table, raw_id)
    if rows is None:
        return None
    drop = [c for c in ("response_id", "session_id") if c in rows.columns]
    rows = rows.drop(columns=drop)
    if date_column in rows.columns:
        rows = rows.sort_values(date_column, ascending=False, kind="stable")
    return rows.head(last).reset_index(drop=True)


def record_text(rows: pd.DataFrame | None, what: str, option: str) -> str:
    """One line on a service table: absent (name the option), empty, or how many rows."""
    if rows is None:
        return tr("No {what} table was given (pass {option}).").format(what=tr(what), option=option)
    if rows.empty:
        return tr("No {what} from this customer.").format(what=tr(what))
    return tr("Latest {n} {what}:").format(n=len(rows), what=tr(what))


def title(raw_id: str, anonymize: bool) -> str:
    """The page's heading: the customer as every report shows them."""
    return tr("Customer {id}").format(id=md_text(display_id(raw_id, anonymize)))


#: What to do next with a customer, by life stage (the segmentation report's stages).
NEXT_STEP = {
    "potential": "turn the first contact into a first purchase",
    "new": "win the second purchase while the first is fresh",
    "active repeat": "keep the rhythm going with offers matched to what they buy",
    "loyal": "thank and reward them; ask for a review or a referral",
    "at risk": "reach out now, before the silence becomes a lapse",
    "lapsed": "try a win-back offer, or stop spending on them",
}


i18n.fixed_names(
    __name__,
    (
        *VALUE_LABELS.values(),
        *NEXT_STEP.values(),
        *STANDING_ROWS,
        *STANDING_FIGURES,
        *RECORD_KINDS,
    ),
)


def findings(
    now: Standing, values: pd.DataFrame, p_alive: float | None, timeline, as_of, currency=""
) -> str:
    """The profile in a few sentences, ending with the suggested next step."""
    parts = [purchase_text(timeline, as_of, currency)]
    if now.segment:
        parts.append(
            tr("Segment **{s}**, {t} value tier, life stage **{st}**.").format(
                s=md_text(tr_name(now.segment)),
                t=md_text(tr_name(now.tier)),
                st=md_text(tr_name(now.stage)),
            )
        )
    if "clv" in values.index:
        parts.append(
            tr("Expected value {v}.").format(v=money(float(values.loc["clv", "number"]), currency))
        )
    if p_alive is not None:
        parts.append(tr("P(alive) {p:.0%}.").format(p=p_alive))
    step = NEXT_STEP.get(str(now.stage))
    if step:
        parts.append(tr("Next step: {s}.").format(s=tr(step)))
    return sentences(*parts)
