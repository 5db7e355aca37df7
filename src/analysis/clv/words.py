"""The words and headline numbers of the lifetime-value report, from the computed tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.clv.models import MODEL_NAMES, PURCHASE_MODELS, RFT, FittedModel, _check_columns
from analysis.clv.uncertainty import MODEL_ERROR_ROW
from analysis.summary import TIME_UNITS
from analysis.text import amount


def dropout_note(fitted: FittedModel) -> str:
    """A sentence when the fit finds (almost) no customer dropout, else an empty string.

    BG/NBD and MBG/NBD: mean dropout chance per purchase ``a / (a + b)`` below 1 %;
    Pareto/NBD: ``s`` below 0.01 (dropout rates concentrated at zero).
    """
    if not hasattr(fitted.spec, "no_dropout") or not fitted.spec.no_dropout(fitted.params):
        return ""
    return (
        f"{fitted.name} finds almost no customer dropout in these data (its dropout parameters "
        "sit at their lower bound), so P(alive) is close to 100 % for everyone and the models "
        "behave alike; rank customers by expected purchases or CLV, not by P(alive)."
    )


def setup_text(calibration: pd.DataFrame, summary: pd.DataFrame, win: dict, unit: str) -> str:
    """The windows and their counts, in words (markdown)."""
    unit_name = {"W": "weeks", "weeks": "weeks", "D": "days", "days": "days"}[unit]
    return (
        f"**Calibration** up to {win['calibration_end']:%Y-%m-%d}: "
        f"{len(calibration):,} customers made {int(calibration['frequency'].sum()):,} repeat "
        f"purchases. **Holdout** {win['calibration_end'] + pd.Timedelta(days=1):%Y-%m-%d} to "
        f"{win['observation_end']:%Y-%m-%d} ({win['holdout_days']} days): the same customers made "
        f"{int(calibration['frequency_holdout'].sum()):,} repeat purchases. "
        f"**Forward-looking numbers** use all {len(summary):,} customers up to "
        f"{win['observation_end']:%Y-%m-%d}. Time is measured in {unit_name}; purchases on the "
        "same day count once."
    )


def spend_takeaway(corr: dict, spend: FittedModel | None, currency: str = "") -> str:
    """Plain-words check of the Gamma-Gamma independence assumption and its fit."""
    if not np.isfinite(corr["pearson"]):
        return (
            f"Only {corr['repeat_buyers']} repeat buyers: too few to check whether spend "
            "depends on purchase frequency, or to fit a spend model."
        )
    r, rho = corr["pearson"], corr["spearman"]
    both = f"correlation {r:.2f}, rank correlation {rho:.2f}"
    if max(abs(r), abs(rho)) < 0.2:
        verdict = (
            f"Spend per purchase barely moves with purchase frequency ({both} across "
            f"{corr['repeat_buyers']:,} repeat buyers), so the Gamma-Gamma spend model's "
            "key assumption holds."
        )
    elif max(abs(r), abs(rho)) < 0.3:
        verdict = (
            f"Spend per purchase depends weakly on purchase frequency ({both} across "
            f"{corr['repeat_buyers']:,} repeat buyers; the rank correlation is not swayed by a "
            "few huge orders). Gamma-Gamma assumes no dependence, so read the spend of light "
            "and heavy buyers as approximate."
        )
    else:
        verdict = (
            f"**Caution:** spend per purchase is correlated with purchase frequency "
            f"({both}), which the Gamma-Gamma model assumes away; CLV of "
            "frequent buyers is biased accordingly and should be read as indicative."
        )
    if spend is not None:
        p, q, v = (spend.params[k] for k in ("p", "q", "v"))
        if q > 1:
            verdict += (
                " The fitted model expects an average of "
                f"{amount(p * v / (q - 1), currency, 2)} per purchase for a new or "
                "one-time customer."
            )
    return verdict


# --------------------------------------------------------------------------- CLV tables


def one_time_takeaway(segments: pd.DataFrame, fitted: FittedModel, currency: str = "") -> str:
    """How one-time buyers are treated and what they are worth, in words."""
    row = segments.loc["one-time buyers"]
    if row["customers"] == 0:
        return "Every customer has bought at least twice, so no one-time-buyer caveat applies."
    text = (
        f"{row['share of customers']:.0%} of customers ({int(row['customers']):,}) have bought "
        f"only once. They hold {row['share of CLV']:.0%} of total CLV "
        f"({amount(row['CLV per customer'], currency, 2)} each on average). "
        "With no repeat purchase there is no spend history to learn from, so each is valued at "
        f"the population's average spend ({amount(row['expected spend'], currency, 2)}). "
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
    text = f"The top {len(top)} customers are worth {amount(top['CLV'].sum(), currency)} together. "
    odd = top.loc[top["expected spend"] > 10 * typical]
    if np.isfinite(typical) and len(odd):
        ids = ", ".join(odd["customer_id"].astype(str).head(3))
        text += (
            f"**Check before acting:** the value of {len(odd)} of them ({ids}) rests on an "
            f"average order more than ten times the typical {amount(typical, currency)}; confirm "
            "those orders were not cancelled, wholesale or one-off before treating them as "
            "repeatable."
        )
    else:
        text += "Their value comes from frequent, recent buying rather than a few outsized orders."
    return text


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def comparison_takeaway(table: pd.DataFrame, chosen: str) -> str:
    """Which model is used below, and why, in words."""
    row = table.loc[chosen]
    failed = table.loc[table["mae"].isna()]
    text = (
        f"**{row['name']}** is used below: over the holdout it predicts "
        f"{row['predicted_total']:,.0f} repeat purchases against {row['actual_total']:,.0f} "
        f"actual ({_pct(row['aggregate_error'])}), with a per-customer error of "
        f"{row['mae']:.2f} purchases (MAE)."
    )
    others = table.drop(index=[chosen]).dropna(subset=["mae"])
    if len(others):
        parts = [
            f"{r['name']} {_pct(r['aggregate_error'])} (MAE {r['mae']:.2f})"
            for _, r in others.iterrows()
        ]
        text += (
            " Models are chosen by the error of their holdout total, the quantity CLV adds "
            "up (MAE rewards forecasting the typical customer's zero and hardly separates "
            "them); other models: " + ", ".join(parts) + "."
        )
    not_converged = table.loc[table["mae"].notna() & ~table["converged"].astype(bool)]
    for _, r in not_converged.iterrows():
        text += f" {r['name']} did not fully converge ({r['note']}); treat its numbers with care."
    for _, r in failed.iterrows():
        text += f" {r['name']} could not be fitted: {r['note']}."
    spread = (
        (others["aggregate_error"] - row["aggregate_error"]).abs().max() if len(others) else np.inf
    )
    if spread <= 0.001:
        text += " All models forecast practically the same, so the choice hardly matters."
    return text


def tracking_takeaway(track: pd.DataFrame) -> str:
    """How closely the model tracks weekly repeat purchases, in calibration and holdout."""
    cal = track.loc[track["period"] == "calibration"]
    hold = track.loc[track["period"] == "holdout"]
    text = ""
    if len(cal):
        end = cal.iloc[-1]
        text += (
            "This is the population-level forecast (it does not use each customer's own "
            "history). "
            f"By the end of calibration (week {cal.index[-1]}) customers had made "
            f"{end['cum_actual']:,.0f} repeat purchases; "
            f"the model says {end['cum_predicted']:,.0f}. "
        )
    if len(hold):
        actual = hold["actual"].sum()
        predicted = hold["predicted"].sum()
        error = predicted / actual - 1 if actual > 0 else np.nan
        direction = "under" if error < 0 else "over"
        text += (
            f"Over the {len(hold)}-week holdout, which the model never saw, it predicted "
            f"{predicted:,.0f} against {actual:,.0f} actual ({_pct(error)}): it "
            f"{direction}-forecasts by {abs(error):.0%}, "
        )
        text += (
            "close enough to plan volumes with."
            if abs(error) <= 0.15
            else "so treat forward totals as rough and watch the trend."
        )
    return text


def calibration_takeaway(fit: pd.DataFrame) -> str:
    """Whether the model reproduces how many customers bought 0, 1, 2, ... times again."""
    share_zero = fit["actual"].iloc[0] / fit["actual"].sum()
    model_zero = fit["model"].iloc[0] / fit["model"].sum()
    gap = (fit["model"] - fit["actual"]).abs().sum() / 2 / fit["actual"].sum()
    return (
        f"{share_zero:.0%} of customers made no repeat purchase in the calibration window; the "
        f"model expects {model_zero:.0%}. Across all purchase counts the model misplaces "
        f"{gap:.1%} of customers, "
        + ("a good fit." if gap < 0.05 else "so the shape of buying is only roughly captured.")
    )


def conditional_takeaway(by_freq: pd.DataFrame) -> str:
    """How holdout predictions hold up for light and heavy buyers."""
    heavy = by_freq.iloc[-1]
    light = by_freq.iloc[0]
    return (
        f"Customers with {by_freq.index[0]} repeat purchases in calibration bought "
        f"{light['actual']:.2f} times on average in the holdout (model {light['predicted']:.2f}); "
        f"those with {by_freq.index[-1]} bought {heavy['actual']:.2f} times "
        f"(model {heavy['predicted']:.2f}). The model ranks customers the right way: "
        "past frequency is a strong signal of future buying, shrunk towards the average."
    )


def clv_takeaway(values: pd.DataFrame, horizon_months: int, rate: float, currency: str = "") -> str:
    """Total CLV and its concentration, in words."""
    clv = values["clv"].sort_values(ascending=False)
    total = clv.sum()
    top = clv.iloc[: max(1, int(round(0.1 * len(clv))))].sum() / total if total > 0 else np.nan
    return (
        f"The {len(clv):,} customers are expected to bring {amount(total, currency)} over the next "
        f"{horizon_months} months (discounted at {rate:.0%} a year), "
        f"{amount(clv.mean(), currency, 2)} per customer on average but a median of "
        f"{amount(clv.median(), currency, 2)}: the top 10 % "
        f"of customers hold {top:.0%} of that value, so retention effort pays most there."
    )


def uncertainty_takeaway(table: pd.DataFrame, level: float, currency: str = "") -> str:
    """The CLV total with its interval, in words."""
    row = table.loc["total_clv"]
    if not np.isfinite(row["low"]):
        return (
            "The bootstrap could not produce an interval (too few successful refits); the total "
            "CLV above has no range and should not be quoted alone."
        )
    spread = (row["high"] - row["low"]) / 2 / row["estimate"] if row["estimate"] else np.nan
    text = (
        f"Total CLV is {amount(row['estimate'], currency)}, with a {level:.0%} interval of "
        f"{amount(row['low'], currency)} to {amount(row['high'], currency)} "
        f"(about ±{spread:.0%}, from "
        f"{int(row['draws'])} bootstrap refits over customers). The interval covers uncertainty "
        "in the model's parameters, not a change in how customers behave."
    )
    if MODEL_ERROR_ROW in table.index and np.isfinite(table.loc[MODEL_ERROR_ROW, "low"]):
        wide = table.loc[MODEL_ERROR_ROW]
        e = wide["holdout_error"]
        text += (
            f" On the holdout the model's total was {abs(e):.1%} "
            f"{'under' if e < 0 else 'over'} the actual purchases; an error that size either "
            f"way widens the range to **{amount(wide['low'], currency)} to "
            f"{amount(wide['high'], currency)}**, the one to plan with. Both still leave out "
            "purchase-to-purchase chance and the spend model's error."
        )
    else:
        text += (
            " It leaves out the model's own forecast error (see the scorecard's total error), "
            "so the true range is wider."
        )
    if not row["low"] <= row["estimate"] <= row["high"]:
        text += (
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
    text = (
        f"{chosen_name} errs by {model['mae']:.2f} purchases per customer (MAE) against "
        f"{baselines.loc[best, 'mae']:.2f} for the best naive forecast ({best.split(': ')[1]}); "
    )
    text += (
        "it beats every baseline on that measure. "
        if beats
        else "a naive forecast is as good on this measure. "
    )
    text += (
        f"The 10 % of customers it ranks highest made {model['top_decile_capture']:.0%} of all "
        f"holdout purchases (best baseline {capture_best:.0%}), and its total is off by "
        f"{_pct(model['aggregate_error'])}."
    )
    closer = baselines.dropna(subset=["aggregate_error"])
    closer = closer.loc[closer["aggregate_error"].abs() < abs(model["aggregate_error"])]
    if len(closer):
        name = closer["aggregate_error"].abs().idxmin()
        text += (
            f" For the total alone, the naive '{name.split(': ')[1]}' forecast came closer "
            f"({_pct(closer.loc[name, 'aggregate_error'])}): use the model to rank and target "
            "customers, and check totals against simple run-rates."
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


def interval_style(table: pd.DataFrame, currency: str = ""):
    """Styled :func:`intervals` table: parameters to 4 significant digits, CLV rows as money."""
    money = [i for i in table.index if str(i).startswith(("clv", "total_clv"))]
    other = [i for i in table.index if i not in money]
    cols = ["estimate", "low", "high"]
    table = table.drop(columns=["holdout_error"], errors="ignore")
    renamed = {
        "total_clv": "CLV: all customers",
        MODEL_ERROR_ROW: "CLV: all customers, with the backtested model error",
    }
    renamed.update({i: "CLV: " + str(i)[5:] for i in money if str(i).startswith("clv: ")})
    return (
        table.style.format("{:.4g}", subset=pd.IndexSlice[other, cols], na_rep="–")
        .format("{:.3g}", subset=[c for c in ["Hessian SE"] if c in table], na_rep="–")
        .format(currency + "{:,.0f}", subset=pd.IndexSlice[money, cols], na_rep="–")
        .format_index(lambda i: renamed.get(i, i), axis=0)
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
        return (
            "Customers who bought often and recently are the ones the model expects back; "
            "too few frequent buyers have gone quiet to compare the two."
        )
    return (
        f"Frequent buyers (5+ purchases) who bought in the last 8 weeks are {recent.mean():.0%} "
        f"likely to still be active; the same kind of customer silent for 26 weeks or more only "
        f"{silent.mean():.0%} ({len(silent):,} customers): for a regular buyer, a long silence is "
        "the clearest churn signal, and worth a win-back contact."
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
        return "- No purchase model could be fitted on these data, so there is no CLV forecast."
    row = card.loc[MODEL_NAMES[chosen]]
    base = card.loc["baseline: calibration rate"]
    points = [
        f"- **Trust:** on the holdout, {MODEL_NAMES[chosen]}'s total was "
        f"{abs(row['aggregate_error']):.0%} {'under' if row['aggregate_error'] < 0 else 'over'} "
        f"the actual purchases; per customer it errs by {row['mae']:.2f} "
        f"purchases against {base['mae']:.2f} for 'repeat your past rate'."
    ]
    if values is None:
        points.append("- CLV in money is not available (the spend model could not be fitted).")
        return "\n".join(points)
    total = values["clv"].sum()
    text = f"- **Value:** {amount(total, currency)} expected over the next {horizon_months} months"
    key = (
        MODEL_ERROR_ROW
        if uncertainty is not None and MODEL_ERROR_ROW in uncertainty.index
        else "total_clv"
    )
    if uncertainty is not None and np.isfinite(uncertainty.loc[key, "low"]):
        low, high = uncertainty.loc[key, ["low", "high"]]
        text += f" (range {amount(low, currency)} to {amount(high, currency)}"
        text += (", with the backtested model error)" if key == MODEL_ERROR_ROW
                 else ", parameter uncertainty only)")  # fmt: skip
    points.append(text + ".")
    clv = values["clv"].sort_values(ascending=False)
    top = clv.iloc[: max(1, int(round(0.1 * len(clv))))].sum() / total if total > 0 else np.nan
    points.append(f"- **Focus:** the top 10 % of customers hold {top:.0%} of that value.")
    one_time = values["one_time_buyer"]
    share = values.loc[one_time, "clv"].sum() / total if total > 0 else np.nan
    points.append(
        f"- **One-time buyers:** {one_time.mean():.0%} of customers but {share:.0%} of value; "
        "their numbers rest on population averages, not on their own history."
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
    text = (
        f"{label}'s P(alive) is {now:.0%} today; at its lowest, during a silence, it fell to "
        f"{low:.0%}: each purchase after a long silence lifts it, each silence wears it down. "
    )
    if heavy.max() - heavy.min() < 0.01:
        return text + (
            "The model's grid is flat: it sees almost no dropout in these data, so P(alive) "
            "cannot tell an active customer from a lost one here; silence still lowers the "
            "expected purchases through the purchase rate."
        )
    return text + (
        f"In the model's grid, a customer with {matrix.index[-1]} repeat purchases whose last "
        f"one came early in their life is {heavy.iloc[0]:.0%} likely to be active, against "
        f"{heavy.iloc[-1]:.0%} if they bought recently: for frequent buyers, a silence much "
        "longer than their habit is the signal to act on."
    )
