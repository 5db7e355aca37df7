"""The words and headline numbers of the lifetime-value report, from the computed tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import i18n
from analysis.clv.models import (
    LABELS,
    MODEL_NAMES,
    PURCHASE_MODELS,
    RFT,
    FittedModel,
    _check_columns,
)
from analysis.clv.predict import VALUE_AT_RISK_DEFINITION
from analysis.clv.tables import VALUE_SEGMENTS
from analysis.clv.uncertainty import MODEL_ERROR_ROW
from analysis.clv.validate import BASELINES
from analysis.summary import TIME_UNITS
from analysis.text import amount, date_label, listed, tr, tr_as, tr_label


def dropout_note(fitted: FittedModel) -> str:
    """A sentence when the fit finds (almost) no customer dropout, else an empty string.

    BG/NBD and MBG/NBD: mean dropout chance per purchase ``a / (a + b)`` below 1 %;
    Pareto/NBD: ``s`` below 0.01 (dropout rates concentrated at zero).
    """
    if not hasattr(fitted.spec, "no_dropout") or not fitted.spec.no_dropout(fitted.params):
        return ""
    return tr(
        "{name} finds almost no customer dropout in these data (its dropout parameters "
        "sit at their lower bound), so P(alive) is close to 100 % for everyone and the models "
        "behave alike; rank customers by expected purchases or CLV, not by P(alive).",
        name=fitted.name,
    )


def setup_text(calibration: pd.DataFrame, summary: pd.DataFrame, win: dict, unit: str) -> str:
    """The windows and their counts, in words (markdown)."""
    weeks = {"W": True, "weeks": True, "D": False, "days": False}[unit]
    return tr(
        "**Calibration** up to {cal_end}: "
        "{customers:,} customers made {repeat:,} repeat "
        "purchases. **Holdout** {hold_start} to "
        "{end} ({days} days): the same customers made "
        "{repeat_holdout:,} repeat purchases. "
        "**Forward-looking numbers** use all {everyone:,} customers up to "
        "{end}. ",
        cal_end=date_label(win["calibration_end"], "%Y-%m-%d"),
        customers=len(calibration),
        repeat=int(calibration["frequency"].sum()),
        hold_start=date_label(win["calibration_end"] + pd.Timedelta(days=1), "%Y-%m-%d"),
        end=date_label(win["observation_end"], "%Y-%m-%d"),
        days=win["holdout_days"],
        repeat_holdout=int(calibration["frequency_holdout"].sum()),
        everyone=len(summary),
    ) + (
        tr("Time is measured in weeks; purchases on the same day count once.")
        if weeks
        else tr("Time is measured in days; purchases on the same day count once.")
    )


def spend_takeaway(corr: dict, spend: FittedModel | None, currency: str = "") -> str:
    """Plain-words check of the Gamma-Gamma independence assumption and its fit."""
    if not np.isfinite(corr["pearson"]):
        return tr(
            "Only {n} repeat buyers: too few to check whether spend "
            "depends on purchase frequency, or to fit a spend model.",
            n=corr["repeat_buyers"],
        )
    r, rho = corr["pearson"], corr["spearman"]
    both = tr("correlation {r:.2f}, rank correlation {rho:.2f}", r=r, rho=rho)
    if max(abs(r), abs(rho)) < 0.2:
        verdict = tr(
            "Spend per purchase barely moves with purchase frequency ({both} across "
            "{n:,} repeat buyers), so the Gamma-Gamma spend model's "
            "key assumption holds.",
            both=both,
            n=corr["repeat_buyers"],
        )
    elif max(abs(r), abs(rho)) < 0.3:
        verdict = tr(
            "Spend per purchase depends weakly on purchase frequency ({both} across "
            "{n:,} repeat buyers; the rank correlation is not swayed by a "
            "few huge orders). Gamma-Gamma assumes no dependence, so read the spend of light "
            "and heavy buyers as approximate.",
            both=both,
            n=corr["repeat_buyers"],
        )
    else:
        verdict = tr(
            "**Caution:** spend per purchase is correlated with purchase frequency "
            "({both}), which the Gamma-Gamma model assumes away; CLV of "
            "frequent buyers is biased accordingly and should be read as indicative.",
            both=both,
        )
    if spend is not None:
        p, q, v = (spend.params[k] for k in ("p", "q", "v"))
        if q > 1:
            verdict += tr(
                " The fitted model expects an average of "
                "{spend} per purchase for a new or "
                "one-time customer.",
                spend=amount(p * v / (q - 1), currency, 2),
            )
    return verdict


# --------------------------------------------------------------------------- CLV tables


def one_time_takeaway(segments: pd.DataFrame, fitted: FittedModel, currency: str = "") -> str:
    """How one-time buyers are treated and what they are worth, in words."""
    row = segments.loc["one-time buyers"]
    if row["customers"] == 0:
        return tr("Every customer has bought at least twice, so no one-time-buyer caveat applies.")
    text = tr(
        "{share:.0%} of customers ({n:,}) have bought "
        "only once. They hold {value_share:.0%} of total CLV "
        "({each} each on average). "
        "With no repeat purchase there is no spend history to learn from, so each is valued at "
        "the population's average spend ({spend}). ",
        share=row["share of customers"],
        n=int(row["customers"]),
        value_share=row["share of CLV"],
        each=amount(row["CLV per customer"], currency, 2),
        spend=amount(row["expected spend"], currency, 2),
    )
    words = fitted.spec.one_time_words(row["mean P(alive)"])
    if fitted.spec.dropout_at_first and dropout_note(fitted):
        words = dropout_note(fitted)
    return text + words


def top_customers_takeaway(top: pd.DataFrame, spend: FittedModel, currency: str = "") -> str:
    """What drives the top of the CLV list, flagging values that rest on outsized orders.

    Parameters
    ----------
    top : pandas.DataFrame
        :func:`top_customers` output (``customer_id``, ``expected spend``, ``CLV``).
    """
    if top.empty:
        return ""
    p, q, v = (spend.params[k] for k in ("p", "q", "v"))
    typical = p * v / (q - 1) if q > 1 else np.nan
    text = tr(
        "The top {n} customers are worth {value} together. ",
        n=len(top),
        value=amount(top["CLV"].sum(), currency),
    )
    odd = top.loc[top["expected spend"] > 10 * typical]
    if np.isfinite(typical) and len(odd):
        ids = ", ".join(odd["customer_id"].astype(str).head(3))
        text += tr(
            "**Check before acting:** the value of {n} of them ({ids}) rests on an "
            "average order more than ten times the typical {typical}; confirm "
            "those orders were not cancelled, wholesale or one-off before treating them as "
            "repeatable.",
            n=len(odd),
            ids=ids,
            typical=amount(typical, currency),
        )
    else:
        text += tr(
            "Their value comes from frequent, recent buying rather than a few outsized orders."
        )
    return text


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def comparison_takeaway(table: pd.DataFrame, chosen: str) -> str:
    """Which model is used below, and why, in words."""
    row = table.loc[chosen]
    failed = table.loc[table["mae"].isna()]
    text = tr(
        "**{name}** is used below: over the holdout it predicts "
        "{predicted:,.0f} repeat purchases against {actual:,.0f} "
        "actual ({error}), with a per-customer error of "
        "{mae:.2f} purchases (MAE).",
        name=row["name"],
        predicted=row["predicted_total"],
        actual=row["actual_total"],
        error=_pct(row["aggregate_error"]),
        mae=row["mae"],
    )
    others = table.drop(index=[chosen]).dropna(subset=["mae"])
    if len(others):
        parts = [
            f"{r['name']} {_pct(r['aggregate_error'])} (MAE {r['mae']:.2f})"
            for _, r in others.iterrows()
        ]
        text += tr(
            " Models are chosen by the error of their holdout total, the quantity CLV adds "
            "up (MAE rewards forecasting the typical customer's zero and hardly separates "
            "them); other models: {others}.",
            others=listed(parts),
        )
    not_converged = table.loc[table["mae"].notna() & ~table["converged"].astype(bool)]
    for _, r in not_converged.iterrows():
        text += tr(
            " {name} did not fully converge ({note}); treat its numbers with care.",
            name=r["name"],
            note=r["note"],
        )
    for _, r in failed.iterrows():
        text += tr(" {name} could not be fitted: {note}.", name=r["name"], note=r["note"])
    spread = (
        (others["aggregate_error"] - row["aggregate_error"]).abs().max() if len(others) else np.inf
    )
    if spread <= 0.001:
        text += tr(" All models forecast practically the same, so the choice hardly matters.")
    return text


def tracking_takeaway(track: pd.DataFrame) -> str:
    """How closely the model tracks weekly repeat purchases, in calibration and holdout."""
    cal = track.loc[track["period"] == "calibration"]
    hold = track.loc[track["period"] == "holdout"]
    text = ""
    if len(cal):
        end = cal.iloc[-1]
        text += tr(
            "This is the population-level forecast (it does not use each customer's own "
            "history). "
            "By the end of calibration (week {week}) customers had made "
            "{actual:,.0f} repeat purchases; "
            "the model says {predicted:,.0f}. ",
            week=cal.index[-1],
            actual=end["cum_actual"],
            predicted=end["cum_predicted"],
        )
    if len(hold):
        actual = hold["actual"].sum()
        predicted = hold["predicted"].sum()
        error = predicted / actual - 1 if actual > 0 else np.nan
        values = {
            "weeks": len(hold),
            "predicted": predicted,
            "actual": actual,
            "error": _pct(error),
            "size": abs(error),
        }
        text += (
            tr(
                "Over the {weeks}-week holdout, which the model never saw, it predicted "
                "{predicted:,.0f} against {actual:,.0f} actual ({error}): it "
                "under-forecasts by {size:.0%}, ",
                **values,
            )
            if error < 0
            else tr(
                "Over the {weeks}-week holdout, which the model never saw, it predicted "
                "{predicted:,.0f} against {actual:,.0f} actual ({error}): it "
                "over-forecasts by {size:.0%}, ",
                **values,
            )
        )
        text += (
            tr("close enough to plan volumes with.")
            if abs(error) <= 0.15
            else tr("so treat forward totals as rough and watch the trend.")
        )
    return text


def calibration_takeaway(fit: pd.DataFrame) -> str:
    """Whether the model reproduces how many customers bought 0, 1, 2, ... times again."""
    share_zero = fit["actual"].iloc[0] / fit["actual"].sum()
    model_zero = fit["model"].iloc[0] / fit["model"].sum()
    gap = (fit["model"] - fit["actual"]).abs().sum() / 2 / fit["actual"].sum()
    return tr(
        "{share:.0%} of customers made no repeat purchase in the calibration window; the "
        "model expects {model:.0%}. Across all purchase counts the model misplaces "
        "{gap:.1%} of customers, ",
        share=share_zero,
        model=model_zero,
        gap=gap,
    ) + (
        tr("a good fit.") if gap < 0.05 else tr("so the shape of buying is only roughly captured.")
    )


def conditional_takeaway(by_freq: pd.DataFrame) -> str:
    """How holdout predictions hold up for light and heavy buyers."""
    heavy = by_freq.iloc[-1]
    light = by_freq.iloc[0]
    return tr(
        "Customers with {light} repeat purchases in calibration bought "
        "{light_actual:.2f} times on average in the holdout (model {light_model:.2f}); "
        "those with {heavy} bought {heavy_actual:.2f} times "
        "(model {heavy_model:.2f}). The model ranks customers the right way: "
        "past frequency is a strong signal of future buying, shrunk towards the average.",
        light=by_freq.index[0],
        light_actual=light["actual"],
        light_model=light["predicted"],
        heavy=by_freq.index[-1],
        heavy_actual=heavy["actual"],
        heavy_model=heavy["predicted"],
    )


def clv_takeaway(values: pd.DataFrame, horizon_months: int, rate: float, currency: str = "") -> str:
    """Total CLV and its concentration, in words."""
    clv = values["clv"].sort_values(ascending=False)
    total = clv.sum()
    top = clv.iloc[: max(1, int(round(0.1 * len(clv))))].sum() / total if total > 0 else np.nan
    return tr(
        "The {n:,} customers are expected to bring {total} over the next "
        "{months} months (discounted at {rate:.0%} a year), "
        "{mean} per customer on average but a median of "
        "{median}: the top 10 % "
        "of customers hold {top:.0%} of that value, so retention effort pays most there.",
        n=len(clv),
        total=amount(total, currency),
        months=horizon_months,
        rate=rate,
        mean=amount(clv.mean(), currency, 2),
        median=amount(clv.median(), currency, 2),
        top=top,
    )


def uncertainty_takeaway(table: pd.DataFrame, level: float, currency: str = "") -> str:
    """The CLV total with its interval, in words."""
    row = table.loc["total_clv"]
    if not np.isfinite(row["low"]):
        return tr(
            "The bootstrap could not produce an interval (too few successful refits); the total "
            "CLV above has no range and should not be quoted alone."
        )
    spread = (row["high"] - row["low"]) / 2 / row["estimate"] if row["estimate"] else np.nan
    text = tr(
        "Total CLV is {estimate}, with a {level:.0%} interval of "
        "{low} to {high} "
        "(about ±{spread:.0%}, from "
        "{draws} bootstrap refits over customers). The interval covers uncertainty "
        "in the model's parameters, not a change in how customers behave.",
        estimate=amount(row["estimate"], currency),
        level=level,
        low=amount(row["low"], currency),
        high=amount(row["high"], currency),
        spread=spread,
        draws=int(row["draws"]),
    )
    if MODEL_ERROR_ROW in table.index and np.isfinite(table.loc[MODEL_ERROR_ROW, "low"]):
        wide = table.loc[MODEL_ERROR_ROW]
        e = wide["holdout_error"]
        values = {
            "error": abs(e),
            "low": amount(wide["low"], currency),
            "high": amount(wide["high"], currency),
        }
        text += (
            tr(
                " On the holdout the model's total was {error:.1%} "
                "under the actual purchases; an error that size either "
                "way widens the range to **{low} to "
                "{high}**, the one to plan with. Both still leave out "
                "purchase-to-purchase chance and the spend model's error.",
                **values,
            )
            if e < 0
            else tr(
                " On the holdout the model's total was {error:.1%} "
                "over the actual purchases; an error that size either "
                "way widens the range to **{low} to "
                "{high}**, the one to plan with. Both still leave out "
                "purchase-to-purchase chance and the spend model's error.",
                **values,
            )
        )
    else:
        text += tr(
            " It leaves out the model's own forecast error (see the scorecard's total error), "
            "so the true range is wider."
        )
    if not row["low"] <= row["estimate"] <= row["high"]:
        text += tr(
            " **The estimate lies outside its own interval:** the refits on resampled "
            "customers disagree with the fit on the actual ones (typically a few customers "
            "with extreme histories drive the total), so quote the range, not the point."
        )
    return text


def scorecard_takeaway(card: pd.DataFrame, chosen_name: str) -> str:
    """How the chosen model compares with the naive forecasts, in words."""
    model = card.loc[chosen_name]
    baselines = card.loc[card["kind"] == "baseline"]
    best = baselines["mae"].idxmin()
    capture_best = baselines["top_decile_capture"].max()
    beats = model["mae"] < baselines.loc[best, "mae"]
    text = tr(
        "{name} errs by {mae:.2f} purchases per customer (MAE) against "
        "{best_mae:.2f} for the best naive forecast ({best}); ",
        name=chosen_name,
        mae=model["mae"],
        best_mae=baselines.loc[best, "mae"],
        best=tr(best.split(": ")[1]),
    )
    text += (
        tr("it beats every baseline on that measure. ")
        if beats
        else tr("a naive forecast is as good on this measure. ")
    )
    text += tr(
        "The 10 % of customers it ranks highest made {capture:.0%} of all "
        "holdout purchases (best baseline {best:.0%}), and its total is off by "
        "{error}.",
        capture=model["top_decile_capture"],
        best=capture_best,
        error=_pct(model["aggregate_error"]),
    )
    closer = baselines.dropna(subset=["aggregate_error"])
    closer = closer.loc[closer["aggregate_error"].abs() < abs(model["aggregate_error"])]
    if len(closer):
        name = closer["aggregate_error"].abs().idxmin()
        text += tr(
            " For the total alone, the naive '{name}' forecast came closer "
            "({error}): use the model to rank and target "
            "customers, and check totals against simple run-rates.",
            name=tr(name.split(": ")[1]),
            error=_pct(closer.loc[name, "aggregate_error"]),
        )
    return text


def headline_metrics(
    fits: dict[str, FittedModel],
    spend: FittedModel | None,
    card: pd.DataFrame | None,
    chosen: str | None,
    values: pd.DataFrame | None,
    uncertainty: pd.DataFrame | None,
) -> dict:
    """The ``lifetime_value`` metrics (models and spend model fitted on the calibration window).

    Parameters
    ----------
    fits : dict
        Calibration fits from :func:`compare_models` (missing models become None).
    spend : FittedModel or None
        Gamma-Gamma fitted on the calibration window.
    card : pandas.DataFrame or None
        :func:`scorecard` table.
    chosen : str or None
        Chosen model key.
    values : pandas.DataFrame or None
        Forward :func:`customer_value` output.
    uncertainty : pandas.DataFrame or None
        :func:`intervals` table with a ``total_clv`` row.

    Returns
    -------
    dict
        ``bgnbd``, ``pareto_nbd``, ``mbgnbd`` ({params..., loglik} or None),
        ``gamma_gamma`` ({p, q, v} or None), ``holdout_actual_total``,
        ``holdout_predicted_total``, ``holdout_mae``, ``baseline_mae``,
        ``chosen_model``, ``total_clv``, ``total_clv_interval`` (parameters only),
        ``total_clv_interval_with_model_error``, ``holdout_total_error``, ``customers``.
    """
    out = {}
    for model in PURCHASE_MODELS:
        f = fits.get(model)
        out[model] = None if f is None else {**f.params, "loglik": f.loglik}
    out["gamma_gamma"] = None if spend is None else dict(spend.params)
    row = card.loc[MODEL_NAMES[chosen]] if card is not None and chosen else None
    base = card.loc["baseline: calibration rate"] if card is not None else None
    out["holdout_actual_total"] = None if base is None else base["actual_total"]
    out["holdout_predicted_total"] = None if row is None else row["predicted_total"]
    out["holdout_mae"] = None if row is None else row["mae"]
    out["baseline_mae"] = None if base is None else base["mae"]
    out["chosen_model"] = chosen
    out["total_clv"] = None if values is None else float(values["clv"].sum())
    interval = None
    if uncertainty is not None and "total_clv" in uncertainty.index:
        interval = uncertainty.loc["total_clv", ["low", "high"]].tolist()
    out["total_clv_interval"] = interval  # parameters only (bootstrap)
    wide = None
    if uncertainty is not None and MODEL_ERROR_ROW in uncertainty.index:
        wide = uncertainty.loc[MODEL_ERROR_ROW, ["low", "high"]].tolist()
    out["total_clv_interval_with_model_error"] = wide
    out["holdout_total_error"] = None if row is None else float(row["aggregate_error"])
    out["customers"] = None if values is None else len(values)
    return out


#: Translation keys (:func:`analysis.text.tr_as`) of the :func:`intervals` columns whose
#: own names mean something else elsewhere (a value tier's "low").
INTERVAL_COLUMNS = {"low": "interval: low", "high": "interval: high"}

# The fixed names the lifetime-value report shows through tr(name): model names, table
# headers, purchase-history segments, naive forecasts (also as scorecard rows).
i18n.fixed_names(
    "analysis.clv",
    (
        *MODEL_NAMES.values(),
        "Gamma-Gamma",
        *LABELS.values(),
        *VALUE_SEGMENTS,
        *BASELINES,
        *(f"baseline: {name}" for name in BASELINES),
        *INTERVAL_COLUMNS.values(),
        VALUE_AT_RISK_DEFINITION,
    ),
)


def interval_style(table: pd.DataFrame, currency: str = ""):
    """Styled :func:`intervals` table: parameters to 4 significant digits, CLV rows as money."""
    money = [i for i in table.index if str(i).startswith(("clv", "total_clv"))]
    other = [i for i in table.index if i not in money]
    cols = ["estimate", "low", "high"]
    table = table.drop(columns=["holdout_error"], errors="ignore")
    renamed = {
        "total_clv": tr("CLV: all customers"),
        MODEL_ERROR_ROW: tr("CLV: all customers, with the backtested model error"),
    }
    renamed.update(
        {
            i: tr("CLV: {segment}", segment=tr(str(i)[5:]))
            for i in money
            if str(i).startswith("clv: ")
        }
    )
    return (
        table.style.format("{:.4g}", subset=pd.IndexSlice[other, cols], na_rep="–")
        .format("{:.3g}", subset=[c for c in ["Hessian SE"] if c in table], na_rep="–")
        .format(currency + "{:,.0f}", subset=pd.IndexSlice[money, cols], na_rep="–")
        .format_index(lambda i: renamed.get(i, i), axis=0)
        .format_index(
            lambda c: tr_as(INTERVAL_COLUMNS[c], c) if c in INTERVAL_COLUMNS else tr_label(c),
            axis=1,
        )
        .format_index_names(tr, axis=0)
    )


def matrix_takeaway(values: pd.DataFrame, fitted: FittedModel) -> str:
    """What the P(alive) grid says about silence after frequent buying, in words.

    Compares customers with 4 or more repeat purchases whose last purchase was under
    8 weeks ago with those silent for 26 weeks or more.
    """
    _check_columns(values, RFT + ["p_alive", "expected_purchases"])
    note = dropout_note(fitted)
    if note:
        return note
    weeks = (values["T"] - values["recency"]) * TIME_UNITS[fitted.time_unit] / 7.0
    frequent = values["frequency"] >= 4
    recent = values.loc[frequent & (weeks < 8), "p_alive"]
    silent = values.loc[frequent & (weeks >= 26), "p_alive"]
    if len(recent) == 0 or len(silent) == 0:
        return tr(
            "Customers who bought often and recently are the ones the model expects back; "
            "too few frequent buyers have gone quiet to compare the two."
        )
    return tr(
        "Frequent buyers (5+ purchases) who bought in the last 8 weeks are {recent:.0%} "
        "likely to still be active; the same kind of customer silent for 26 weeks or more only "
        "{silent:.0%} ({n:,} customers): for a regular buyer, a long silence is "
        "the clearest churn signal, and worth a win-back contact.",
        recent=recent.mean(),
        silent=silent.mean(),
        n=len(silent),
    )


def findings(
    card: pd.DataFrame | None,
    chosen: str | None,
    values: pd.DataFrame | None,
    uncertainty: pd.DataFrame | None,
    horizon_months: int = 12,
    currency: str = "",
) -> str:
    """The notebook's conclusions as markdown bullets (what a manager reads first).

    Parameters
    ----------
    card : pandas.DataFrame or None
        :func:`scorecard` table.
    chosen : str or None
        Chosen model key.
    values : pandas.DataFrame or None
        :func:`customer_value` output.
    uncertainty : pandas.DataFrame or None
        :func:`intervals` table.
    """
    if chosen is None or card is None:
        return tr("- No purchase model could be fitted on these data, so there is no CLV forecast.")
    row = card.loc[MODEL_NAMES[chosen]]
    base = card.loc["baseline: calibration rate"]
    trust = {
        "name": MODEL_NAMES[chosen],
        "error": abs(row["aggregate_error"]),
        "mae": row["mae"],
        "base": base["mae"],
    }
    points = [
        tr(
            "- **Trust:** on the holdout, {name}'s total was "
            "{error:.0%} under "
            "the actual purchases; per customer it errs by {mae:.2f} "
            "purchases against {base:.2f} for 'repeat your past rate'.",
            **trust,
        )
        if row["aggregate_error"] < 0
        else tr(
            "- **Trust:** on the holdout, {name}'s total was "
            "{error:.0%} over "
            "the actual purchases; per customer it errs by {mae:.2f} "
            "purchases against {base:.2f} for 'repeat your past rate'.",
            **trust,
        )
    ]
    if values is None:
        points.append(tr("- CLV in money is not available (the spend model could not be fitted)."))
        return "\n".join(points)
    total = values["clv"].sum()
    key = (
        MODEL_ERROR_ROW
        if uncertainty is not None and MODEL_ERROR_ROW in uncertainty.index
        else "total_clv"
    )
    span = ""
    if uncertainty is not None and np.isfinite(uncertainty.loc[key, "low"]):
        low, high = (amount(x, currency) for x in uncertainty.loc[key, ["low", "high"]])
        span = (
            tr(" (range {low} to {high}, with the backtested model error)", low=low, high=high)
            if key == MODEL_ERROR_ROW
            else tr(" (range {low} to {high}, parameter uncertainty only)", low=low, high=high)
        )
    points.append(
        tr(
            "- **Value:** {total} expected over the next {months} months{span}.",
            total=amount(total, currency),
            months=horizon_months,
            span=span,
        )
    )
    clv = values["clv"].sort_values(ascending=False)
    top = clv.iloc[: max(1, int(round(0.1 * len(clv))))].sum() / total if total > 0 else np.nan
    points.append(
        tr("- **Focus:** the top 10 % of customers hold {top:.0%} of that value.", top=top)
    )
    one_time = values["one_time_buyer"]
    share = values.loc[one_time, "clv"].sum() / total if total > 0 else np.nan
    points.append(
        tr(
            "- **One-time buyers:** {customers:.0%} of customers but {share:.0%} of value; "
            "their numbers rest on population averages, not on their own history.",
            customers=one_time.mean(),
            share=share,
        )
    )
    return "\n".join(points)


def history_takeaway(history: pd.DataFrame, matrix: pd.DataFrame, label: str) -> str:
    """What one customer's P(alive) path and the model's grid say, in words.

    Parameters
    ----------
    history : pandas.DataFrame
        :func:`analysis.clv.alive_history` of the customer.
    matrix : pandas.DataFrame
        :func:`analysis.clv.model_matrix` (P(alive) by repeat purchases x recency).
    """
    now, low = history["p_alive"].iloc[-1], history["p_alive"].min()
    heavy = matrix.iloc[-1]
    text = tr(
        "{label}'s P(alive) is {now:.0%} today; at its lowest, during a silence, it fell to "
        "{low:.0%}: each purchase after a long silence lifts it, each silence wears it down. ",
        label=label,
        now=now,
        low=low,
    )
    if heavy.max() - heavy.min() < 0.01:
        return text + tr(
            "The model's grid is flat: it sees almost no dropout in these data, so P(alive) "
            "cannot tell an active customer from a lost one here; silence still lowers the "
            "expected purchases through the purchase rate."
        )
    return text + tr(
        "In the model's grid, a customer with {n} repeat purchases whose last "
        "one came early in their life is {early:.0%} likely to be active, against "
        "{recent:.0%} if they bought recently: for frequent buyers, a silence much "
        "longer than their habit is the signal to act on.",
        n=matrix.index[-1],
        early=heavy.iloc[0],
        recent=heavy.iloc[-1],
    )
