"""Covariates for the lifetime-value report: the design from a customers table, the table of
effects with their standard errors, and the takeaway in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from analysis.clv.covariates import CovariateFit, new_customer_expected, row_params
from analysis.text import md_text, sentences, tr

#: Column headers of :func:`effects_table` and :func:`covariate_holdout` and their fixed row
#: labels (English: ``report.style_table`` shows them in the report's language).
HEADERS = (
    "covariate", "purchase rate x", "purchase effect", "purchase SE", "purchase p",
    "dropout x", "dropout effect", "dropout SE", "dropout p", "repeat purchases in a year",
    "covariate group", "customers in the group", "holdout purchases",
    "predicted without covariates", "predicted with covariates", "MAE without covariates",
    "MAE with covariates", "all customers", "baseline group", "baseline (all covariates 0)",
)  # fmt: skip
#: Customers-table columns never used as covariates: the key, dates, and ``city`` (nested in
#: ``region`` and with thousands of values).
NOT_COVARIATES = ("customer_id", "signup_date", "city")
DAYS = {"W": 7.0, "D": 1.0}


def covariate_design(
    customers: pd.DataFrame, columns=None, levels: int = 4, min_share: float = 0.01
) -> pd.DataFrame:
    """Covariates from a customers table: categorical columns one-hot, numeric ones
    standardised.

    A categorical column (``channel``, ``region``, other text attributes) gets one 0/1
    column per value among its ``levels`` most common ones except the most common (the
    baseline), each held by at least ``min_share`` of customers; rarer values are pooled in
    ``<column>=other`` and missing values count as the baseline. A numeric attribute becomes
    ``(value - mean) / sd`` (missing: 0, the mean). Columns with one value, identifiers
    (a distinct text value per customer) and dates are left out.

    Parameters
    ----------
    customers : pandas.DataFrame
        The customers table (``customer_id`` and e.g. ``channel``, ``region``, attributes).
    columns : sequence of str, optional
        Columns to use; default every column except :data:`NOT_COVARIATES`.
    levels : int
        Values per categorical column kept apart (the baseline included).

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id`` (str); columns ``<column>=<value>`` (0/1) and ``<column>``
        (standardised). ``attrs["baseline"]`` maps each categorical column to its baseline,
        ``attrs["standardised"]`` lists the numeric ones.
    """
    frame = customers.drop_duplicates("customer_id").set_index("customer_id")
    frame.index = frame.index.astype(str)
    chosen = [c for c in (columns or frame.columns) if c in frame and c not in NOT_COVARIATES]
    parts, baseline, standardised = [], {}, []
    for column in chosen:
        values = frame[column]
        if values.nunique() < 2 or pd.api.types.is_datetime64_any_dtype(values):
            continue
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            sd = float(values.std())
            parts.append(((values - values.mean()) / sd).fillna(0.0).rename(column))
            standardised.append(column)
            continue
        if values.nunique() > 0.5 * len(values):
            continue  # an identifier, not a group
        counts = values.value_counts()
        kept = [v for v in counts.index[:levels] if counts[v] >= min_share * len(values)]
        baseline[column] = kept[0]
        for value in kept[1:]:
            parts.append((values == value).astype(float).rename(f"{column}={value}"))
        rest = values.notna() & ~values.isin(kept)
        if rest.any():
            parts.append(rest.astype(float).rename(f"{column}=other"))
    out = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)
    out.index.name = "customer_id"
    out.attrs.update(baseline=baseline, standardised=standardised)
    return out


def effects_table(result: CovariateFit) -> pd.DataFrame:
    """The effects as factors on the baseline customer, with standard errors and p-values.

    Returns
    -------
    pandas.DataFrame
        One row per covariate: the purchase-rate factor ``exp(g_trans)``, ``g_trans`` and
        its SE and Wald p-value; the same for dropout (Pareto/NBD: factor on the dropout
        rate; BG/NBD: on both a and b); expected repeat purchases of a new customer over a
        year, with the covariate at 1 (a dummy's group; +1 SD of a number); a last row
        gives the baseline customer's (every covariate 0).
    """
    e = result.effects
    year = 365.25 / DAYS[result.time_unit]
    names = result.effects.index
    at_one = row_params(result.model, result.params, e, np.eye(len(names)))
    base = [result.params[k] for k in list(result.params)]
    table = pd.DataFrame(
        {
            "covariate": list(names),
            "purchase rate x": np.exp(e["purchase"]).to_numpy(),
            "purchase effect": e["purchase"].to_numpy(),
            "purchase SE": e["purchase_se"].to_numpy(),
            "purchase p": _wald_p(e["purchase"], e["purchase_se"]),
            "dropout x": np.exp(e["dropout"]).to_numpy(),
            "dropout effect": e["dropout"].to_numpy(),
            "dropout SE": e["dropout_se"].to_numpy(),
            "dropout p": _wald_p(e["dropout"], e["dropout_se"]),
            "repeat purchases in a year": new_customer_expected(result.model, at_one, year),
        }
    )
    baseline_year = float(new_customer_expected(result.model, base, year))
    baseline = {
        "covariate": "baseline (all covariates 0)",
        "repeat purchases in a year": baseline_year,
    }
    table = pd.concat([table, pd.DataFrame([baseline])], ignore_index=True)
    table.attrs["baseline_year"] = baseline_year
    return table


def _wald_p(effect: pd.Series, se: pd.Series) -> np.ndarray:
    # the normal tail from scipy.special: importing scipy.stats costs 0.4 s per process
    return 2.0 * ndtr(-np.abs(effect.to_numpy() / se.to_numpy()))


def covariate_metrics(result: CovariateFit | None) -> dict:
    """``lifetime_value`` metrics of the covariate fit, for the run's ``metrics.json``:
    ``covariates`` = {model, customers, lr_statistic, df, p_value, effects: {covariate:
    {purchase, dropout}}} (log-factors), None without a customers table or a fit."""
    if result is None:
        return {"covariates": None}
    effects = {
        str(name): {"purchase": float(row["purchase"]), "dropout": float(row["dropout"])}
        for name, row in result.effects.iterrows()
    }
    return {
        "covariates": {
            "model": result.model,
            "customers": int(result.customers),
            "lr_statistic": float(result.lr_statistic),
            "df": int(result.df),
            "p_value": float(result.p_value),
            "effects": effects,
        }
    }


def covariate_takeaway(
    result: CovariateFit | None, note: str = "", design: dict | None = None
) -> str:
    """The likelihood-ratio test and the clearest effects, in words (or why there are none).

    Parameters
    ----------
    result : CovariateFit or None
        None when no covariate model was fitted; ``note`` then says why.
    design : dict, optional
        ``covariate_design(...).attrs``: ``baseline`` (column -> baseline value) and
        ``standardised`` (numeric columns), to name the groups compared.
    """
    if result is None:
        return tr("*Covariates not estimated: {note}.*", note=md_text(note)) if note else ""
    values = dict(model=result.plain.name, n=f"{result.customers:,}", stat=result.lr_statistic,
                  df=result.df, p=result.p_value)  # fmt: skip
    if result.p_value < 0.05:
        verdict = tr(
            "Together the covariates improve the {model} purchase model on {n} customers "
            "(likelihood-ratio test {stat:.1f} on {df} degrees of freedom, p = {p:.2g}).",
            **values,
        )
    else:
        verdict = tr(
            "Together the covariates do not improve the {model} purchase model on {n} "
            "customers (likelihood-ratio test {stat:.1f} on {df} degrees of freedom, "
            "p = {p:.2g}).",
            **values,
        )
    if result.note:
        unidentified = result.effects[["purchase_se", "dropout_se"]].isna().to_numpy()
        verdict = sentences(verdict, tr(
            "{n} effects cannot be estimated from these data (the likelihood is flat in their "
            "direction: a covariate that is constant, or dropout the data barely show); "
            "the table shows no standard error for them.", n=int(unidentified.sum()),
        ))  # fmt: skip
    if result.p_value >= 0.05:
        return sentences(
            verdict, tr("These groups buy and drop out alike, so one model serves them all.")
        )
    return sentences(verdict, *_effect_sentences(result, design or {}))


def _who(name: str, design: dict) -> str:
    """The group a covariate describes, against its baseline."""
    column = name.split("=", 1)[0]
    if name in design.get("standardised", ()):
        return tr("Customers one standard deviation higher in {name}", name=md_text(name))
    if column in design.get("baseline", {}):
        base = f"{column}={design['baseline'][column]}"
        return tr("Customers with {name} (against {base})", name=md_text(name),
                  base=md_text(base))  # fmt: skip
    return tr("Customers with {name}", name=md_text(name))


def _effect_sentences(result: CovariateFit, design: dict) -> list[str]:
    """One sentence per covariate whose purchase or dropout effect is clear (p < 0.05)."""
    table = effects_table(result)
    sentences = []
    for i, name in enumerate(result.effects.index):
        row = table.iloc[i]
        who = _who(name, design)
        parts = []
        if row["purchase p"] < 0.05:
            factor = row["purchase rate x"]
            if factor > 1:
                parts.append(tr("buy {pct:.0%} more often", pct=factor - 1.0))
            else:
                parts.append(tr("buy {pct:.0%} less often", pct=1.0 - factor))
        if row["dropout p"] < 0.05:
            parts.append(_dropout_words(result.model, row["dropout x"]))
        if parts:
            sentences.append(tr(
                "**{who}** {effects}: a new customer in this group is expected to make {year:.2f} "
                "repeat purchases in a year, against {base:.2f}.",
                who=who, effects=tr("; ").join(parts),
                year=row["repeat purchases in a year"], base=table.attrs["baseline_year"],
            ))  # fmt: skip
    return sentences or [tr("No single covariate is clear on its own (every p >= 0.05).")]


def _dropout_words(model: str, factor: float) -> str:
    if model == "pareto_nbd" and factor > 1:
        return tr("drop out {pct:.0%} faster", pct=factor - 1.0)
    if model == "pareto_nbd":
        return tr("drop out {pct:.0%} slower", pct=1.0 - factor)
    return tr(
        "differ in how unevenly they drop out (BG/NBD's a and b times {factor:.2f})",
        factor=factor,
    )


def covariates_from_table(customers, summary: pd.DataFrame, model: str | None, time_unit="W"):
    """The report's covariate step: design from the customers table, then the chosen model
    (BG/NBD when it has no covariate version) with covariates, or why not.

    Parameters
    ----------
    customers : pandas.DataFrame or None
        The customers table's frame (None: no table given).
    summary : pandas.DataFrame
        The per-customer summary the plain model was fitted on.
    model : str or None
        The chosen purchase model.

    Returns
    -------
    tuple
        ``(CovariateFit or None, design or None, note)``; ``note`` says why there is no fit.
    """
    from analysis.clv.covariates import COVARIATE_PARAMS, fit_covariates
    from analysis.clv.fit import attempt

    if customers is None:
        return None, None, ""
    design = covariate_design(customers)
    if not len(design.columns):
        note = tr("the customers table has no channel, region or attribute that varies")
        return None, design, note
    model = model if model in COVARIATE_PARAMS else "bgnbd"
    result, note = attempt(fit_covariates, summary, design, model, time_unit)
    return result, design, note or ""


def effects_caption(result: CovariateFit) -> str:
    """Caption of :func:`effects_table`."""
    return tr(
        "{model} with covariates: factors on the baseline group's purchase rate and dropout "
        "(x), log-scale effects with Hessian standard errors and Wald p-values",
        model=result.plain.name,
    )


def no_customers_text() -> str:
    """The one sentence shown when no customers table is given."""
    return tr(
        "*No customers table given, so no covariates: pass `--customers FILE` to see "
        "whether acquisition channel, region or other attributes change how customers buy.*"
    )


def covariate_holdout(calibration: pd.DataFrame, design: pd.DataFrame, result: CovariateFit):
    """Holdout check of the covariates: the model with and without them, both fitted on the
    calibration window, against what each group actually bought in the holdout.

    Parameters
    ----------
    calibration : pandas.DataFrame
        :func:`analysis.summary.calibration_holdout` output.
    design : pandas.DataFrame
        Covariates by customer (:func:`covariate_design`).
    result : CovariateFit
        Fitted on ``calibration`` (its ``plain`` fit is the model without covariates).

    Returns
    -------
    pandas.DataFrame
        One row for all customers, one per 0/1 covariate's group and one for the baseline:
        customers, actual holdout purchases, each model's prediction, and each model's
        mean absolute error per customer. Raises ModelFitError if a forecast is not finite.
    """
    from analysis.clv.covariates import covariate_predictions
    from analysis.clv.validate import holdout_prediction

    duration = float(calibration["duration_holdout"].iloc[0])
    with_cov = covariate_predictions(result, calibration, design, duration)["expected_purchases"]
    rows = calibration.loc[with_cov.index]
    plain = holdout_prediction(result.plain, rows)
    actual = rows["frequency_holdout"].astype(float)
    dummies = [c for c in result.effects.index if set(design[c].unique()) <= {0.0, 1.0}]
    groups = {"all customers": np.ones(len(rows), bool)}
    groups.update({c: design.loc[rows.index, c].to_numpy() == 1 for c in dummies})
    if dummies:
        groups["baseline group"] = (design.loc[rows.index, dummies] == 0).all(axis=1).to_numpy()
    table = pd.DataFrame(
        [
            {
                "covariate group": name,
                "customers in the group": int(mask.sum()),
                "holdout purchases": actual[mask].sum(),
                "predicted without covariates": plain[mask].sum(),
                "predicted with covariates": with_cov[mask].sum(),
                "MAE without covariates": (plain[mask] - actual[mask]).abs().mean(),
                "MAE with covariates": (with_cov[mask] - actual[mask]).abs().mean(),
            }
            for name, mask in groups.items()
            if mask.any()
        ]
    )
    return table


def holdout_takeaway(table: pd.DataFrame) -> str:
    """Whether the covariates forecast the holdout better than the plain model, in words."""
    overall = table.iloc[0]
    without, with_ = overall["MAE without covariates"], overall["MAE with covariates"]
    groups = table.iloc[1:]
    actual = groups["holdout purchases"]
    values = dict(
        with_=with_,
        without=without,
        g_with=(groups["predicted with covariates"] - actual).abs().sum(),
        g_without=(groups["predicted without covariates"] - actual).abs().sum(),
    )
    if abs(with_ - without) < 0.01 * without:
        return tr(
            "On the holdout window the covariates change the forecast little: mean absolute "
            "error {with_:.3f} purchases per customer against {without:.3f} without them; the "
            "groups' totals are off by {g_with:,.0f} purchases in all, against {g_without:,.0f}.",
            **values,
        )
    if with_ < without:
        return tr(
            "On the holdout window the covariates help: mean absolute error {with_:.3f} "
            "purchases per customer against {without:.3f} without them; the groups' totals "
            "are off by {g_with:,.0f} purchases in all, against {g_without:,.0f}.",
            **values,
        )
    return tr(
        "On the holdout window the covariates do not help: mean absolute error {with_:.3f} "
        "purchases per customer against {without:.3f} without them; the groups' totals are "
        "off by {g_with:,.0f} purchases in all, against {g_without:,.0f}.",
        **values,
    )
