"""analysis.clv covariates: BG/NBD and Pareto/NBD with time-invariant covariates (CLVTools'
parametrisation), on CDNOW, on simulated customers with known effects and on real customers
tables (Online Retail countries, Olist states), and in the lifetime-value report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import run_notebook

from analysis import clv
from analysis.summary import customer_summary


@pytest.fixture(scope="module")
def big_first_order(cdnow_sample):
    """1 for the customers whose first order was above the median first order (CDNOW)."""
    first = cdnow_sample.frame.sort_values("order_date").groupby("customer_id").first()
    return (first["amount"] > first["amount"].median()).astype(float).rename("big").to_frame()


# --------------------------------------------------------------------------- CDNOW


def test_bgnbd_with_a_covariate_and_its_likelihood_ratio_test(calibration, big_first_order):
    """CDNOW sample: a big first order -> purchase rate exp(0.568) = 1.76x (SE 0.104);
    LR test against the plain BG/NBD (LL -9,582.43 -> -9,567.33): 30.19 on 2 df."""
    fitted = clv.fit_model(calibration, "bgnbd")
    p = fitted.params
    by_hand = clv.bgnbd_loglik_rows(p["r"], p["alpha"], p["a"], p["b"],
                                    *(calibration[c] for c in clv.RFT)).sum()  # fmt: skip
    assert by_hand == pytest.approx(-9582.43, abs=0.01)
    result = clv.fit_covariates(calibration, big_first_order)
    assert result.converged and result.df == 2 and result.customers == 2357
    assert result.plain_loglik == pytest.approx(fitted.loglik, abs=1e-6)
    assert result.loglik == pytest.approx(-9567.33, abs=0.01)
    assert result.effects.loc["big", "purchase"] == pytest.approx(0.568, abs=1e-3)
    assert result.effects.loc["big", "purchase_se"] == pytest.approx(0.104, abs=1e-3)
    assert result.lr_statistic == pytest.approx(30.19, abs=0.01)
    assert result.p_value == pytest.approx(2.78e-7, rel=1e-2)
    words = clv.covariate_takeaway(result)
    assert "improve the BG/NBD" in words and "buy 76% more often" in words


def test_covariates_on_the_holdout_window(calibration, big_first_order):
    """Fitted on the calibration window, the covariate beats the plain model in-sample but
    not on the 39 holdout weeks: 1,882 actual repeat purchases, 1,653.4 forecast without it
    and 1,669.0 with it; MAE 0.7921 against 0.7855 per customer (the big first-order group:
    1,123 actual, 908.6 without, 873.6 with)."""
    result = clv.fit_covariates(calibration, big_first_order)
    table = clv.covariate_holdout(calibration, big_first_order, result).set_index("covariate group")
    assert table.index.tolist() == ["all customers", "big", "baseline group"]
    assert table["customers in the group"].tolist() == [2357, 1178, 1179]
    assert table["holdout purchases"].tolist() == [1882, 1123, 759]
    assert table["predicted without covariates"].round(1).tolist() == [1653.4, 908.6, 744.8]
    assert table["predicted with covariates"].round(1).tolist() == [1669.0, 873.6, 795.3]
    assert table.loc["all customers", ["MAE with covariates", "MAE without covariates"]].round(
        4
    ).tolist() == [0.7921, 0.7855]
    assert clv.holdout_takeaway(table.reset_index()).startswith(
        "On the holdout window the covariates change the forecast little: mean absolute error "
        "0.792 purchases per customer against 0.785"
    )


def test_pareto_nbd_with_a_covariate(calibration, big_first_order):
    """Pareto/NBD: purchase effect 0.367 (SE 0.091), dropout effect -0.124 (SE 0.220, not
    clear); LR 25.94 on 2 df against the plain fit's LL -9,594.98."""
    result = clv.fit_covariates(calibration, big_first_order, "pareto_nbd")
    assert result.plain_loglik == pytest.approx(-9594.976, abs=1e-3)
    assert result.plain_loglik == pytest.approx(result.plain.loglik, abs=1e-6)
    e = result.effects.loc["big"]
    assert [round(e[k], 3) for k in e.index] == [0.367, 0.091, -0.124, 0.220]
    assert result.lr_statistic == pytest.approx(25.94, abs=0.01)
    table = clv.effects_table(result)
    assert table["purchase p"].iloc[0] < 1e-4 and table["dropout p"].iloc[0] > 0.5
    year = table.set_index("covariate")["repeat purchases in a year"].round(2)
    assert year.to_dict() == {"big": 1.78, "baseline (all covariates 0)": 1.19}
    words = clv.covariate_takeaway(result)
    assert "buy 44% more often" in words and "drop out" not in words


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_all_zero_covariates_give_the_plain_fit(calibration, big_first_order, model):
    """A covariate that is 0 for everyone: parameters and log-likelihood equal the plain fit
    to 1e-6, LR statistic 0, and the standard errors are NaN with the reason."""
    result = clv.fit_covariates(calibration, big_first_order * 0.0, model)
    plain = result.plain
    for name, value in plain.params.items():
        assert result.params[name] == pytest.approx(value, rel=1e-6), name
    assert result.loglik == pytest.approx(plain.loglik, abs=1e-6)
    assert result.lr_statistic == pytest.approx(0.0, abs=1e-6)
    assert result.effects[["purchase", "dropout"]].abs().to_numpy().max() < 1e-6
    assert result.effects["purchase_se"].isna().all() and "not identified" in result.note


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_predictions_at_zero_effects_equal_the_plain_models(calibration, big_first_order, model):
    """Per-customer predictions with each customer's own parameters: with zero effects they
    are the plain model's (lifetimes' closed forms for BG/NBD) to 1e-8."""
    plain = clv.fit_model(calibration, model)
    zero = pd.DataFrame({k: [0.0] for k in ("purchase", "purchase_se", "dropout", "dropout_se")},
                        index=pd.Index(["big"], name="covariate"))  # fmt: skip
    result = clv.CovariateFit(model, plain.params, {}, zero, 0, 0, 0, 2, 1, True, 2357)
    got = clv.covariate_predictions(result, calibration, big_first_order, 39.0)
    expected = clv.expected_purchases(plain, calibration, 39.0)
    alive = clv.probability_alive(plain, calibration)
    assert np.allclose(got["expected_purchases"], expected.loc[got.index], atol=1e-8)
    assert np.allclose(got["p_alive"], alive.loc[got.index], atol=1e-8)


# --------------------------------------------------------------------------- simulated


def simulate(model: str, base: dict, trans, life, n: int = 6000, seed: int = 1):
    """Customers with a 0/1 and a standard-normal covariate, buying by ``model`` with
    alpha_i = alpha exp(-trans'z) and life effects as in CLVTools; ages 30-78 weeks."""
    rng = np.random.default_rng(seed)
    z = np.column_stack([rng.random(n) < 0.4, rng.standard_normal(n)]).astype(float)
    T = rng.uniform(30, 78, n)
    lam = rng.gamma(base["r"], 1.0 / (base["alpha"] * np.exp(-z @ trans)))
    if model == "pareto_nbd":
        mu = rng.gamma(base["s"], 1.0 / (base["beta"] * np.exp(-z @ life)))
        span = np.minimum(rng.exponential(1.0 / mu), T)
        x = rng.poisson(lam * span)
        tx = np.where(x > 0, span * rng.random(n) ** (1.0 / np.maximum(x, 1)), 0.0)
    else:
        factor = np.exp(z @ life)
        p = rng.beta(base["a"] * factor, base["b"] * factor)
        x, tx, clock, alive = np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n, bool)
        while alive.any():
            clock = clock + rng.exponential(1.0 / lam)
            bought = alive & (clock <= T)
            x, tx = x + bought, np.where(bought, clock, tx)
            alive = bought & (rng.random(n) >= p)
    ids = pd.Index([f"c{i}" for i in range(n)], name="customer_id")
    summary = pd.DataFrame({"frequency": x, "recency": tx, "T": T}, index=ids)
    return summary, pd.DataFrame(z, index=ids, columns=["group", "score"])


@pytest.mark.parametrize(
    "model, base, life",
    [
        ("bgnbd", {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 2.5}, [0.7, 0.0]),
        pytest.param(
            "pareto_nbd",
            {"r": 0.6, "alpha": 5.0, "s": 0.8, "beta": 12.0},
            [0.5, -0.4],
            marks=pytest.mark.slow,
        ),
    ],
)
def test_simulated_effects_are_recovered_within_three_standard_errors(model, base, life):
    """6,000 simulated customers with known effects (purchase 0.5 and -0.3): every estimate
    within 3 standard errors of the truth (8 parameters: 2 SE would fail about one seed in
    five by chance; the BG/NBD group effect here is 0.385, 2.7 SE off, on this seed; the
    standard errors' own calibration is the next test), and the LR test rejects no
    covariates."""
    trans = [0.5, -0.3]
    summary, z = simulate(model, base, np.array(trans), np.array(life))
    result = clv.fit_covariates(summary, z, model)
    e = result.effects
    assert np.all(np.abs(e["purchase"] - trans) < 3 * e["purchase_se"]), e
    assert np.all(np.abs(e["dropout"] - life) < 3 * e["dropout_se"]), e
    for name, value in base.items():
        assert abs(result.params[name] - value) < 3 * result.param_se[name], name
    assert result.p_value < 1e-10
    predicted = clv.covariate_predictions(result, summary, z, 26.0)
    assert np.isfinite(predicted.to_numpy()).all() and len(predicted) == len(summary)


@pytest.mark.slow
def test_standard_errors_match_the_spread_over_simulated_samples():
    """BG/NBD on 20 simulated samples of 6,000 customers: the mean estimate is within 2
    standard errors of the mean of the truth (unbiased), and the Hessian standard errors
    match the spread of the estimates across samples (ratio 0.7-1.4; measured 0.044 / 0.042,
    0.101 / 0.111, 0.024 / 0.021, 0.054 / 0.057)."""
    base = {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 2.5}
    truth = np.array([0.5, 0.0, -0.3, 0.0])  # group: purchase, dropout; score: the same
    estimates, errors = [], []
    for seed in range(10, 30):
        summary, z = simulate("bgnbd", base, truth[[0, 2]], truth[[1, 3]], seed=seed)
        e = clv.fit_covariates(summary, z).effects
        estimates.append(e[["purchase", "dropout"]].to_numpy().ravel())
        errors.append(e[["purchase_se", "dropout_se"]].to_numpy().ravel())
    estimates, errors = np.array(estimates), np.array(errors)
    se = errors.mean(axis=0)
    assert np.all(np.abs(estimates.mean(axis=0) - truth) < 2 * se / np.sqrt(20))
    ratio = estimates.std(axis=0, ddof=1) / se
    assert np.all((ratio > 0.7) & (ratio < 1.4)), ratio


# --------------------------------------------------------------------------- customers tables


def test_design_one_hot_categories_and_standardised_numbers():
    """Most common value = baseline; values under 1 % share pooled in "other"; missing =
    baseline; numbers standardised (missing = mean); ids, dates, city and constants left out."""
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(200)],
            "channel": ["web"] * 120 + ["shop"] * 60 + ["phone"] * 19 + ["fax"],
            "region": ["north"] * 100 + [None] * 100,
            "age": [20.0, 40.0] * 99 + [np.nan, np.nan],
            "email_hash": [f"h{i}" for i in range(200)],
            "signup_date": pd.date_range("2024-01-01", periods=200),
            "city": ["a", "b"] * 100,
            "tier": ["gold"] * 200,
        }
    )
    design = clv.covariate_design(customers, levels=3)
    assert list(design.columns) == ["channel=shop", "channel=phone", "channel=other", "age"]
    assert design[["channel=shop", "channel=phone", "channel=other"]].sum().tolist() == [60, 19, 1]
    assert design.attrs == {"baseline": {"channel": "web"}, "standardised": ["age"]}
    assert design["age"].iloc[:2].round(4).tolist() == [-0.9975, 0.9975]
    assert design["age"].iloc[-1] == 0.0 and design.index[0] == "c0"


@pytest.mark.slow
def test_online_retail_countries_do_not_change_how_customers_buy(online_retail):
    """Online Retail (4,324 customers), Country as a customer attribute: Germany, France and
    the other non-UK countries against the UK. LR 4.23 on 6 df, p = 0.65: no difference.
    The plain fit sees almost no dropout (a = 0.0027), so the dropout effects are not
    identified: NaN standard errors, said in words; every prediction is finite, also for the
    heavy buyers 12748 and 15311 and under Pareto/NBD."""
    summary = customer_summary(online_retail.frame, online_retail.as_of, "W")
    customers = online_retail.frame.groupby("customer_id")["region"].first().reset_index()
    design = clv.covariate_design(customers)
    assert list(design.columns) == ["region=Germany", "region=France", "region=other"]
    assert design.sum().tolist() == [94, 87, 234]
    result = clv.fit_covariates(summary, design)
    assert result.customers == 4324 and result.df == 6
    assert result.lr_statistic == pytest.approx(4.228, abs=1e-3)
    assert result.p_value == pytest.approx(0.646, abs=1e-3)
    e = result.effects
    assert e["purchase_se"].round(3).tolist() == [0.134, 0.140, 0.088]
    assert e["dropout_se"].isna().all() and "not identified" in result.note
    words = clv.covariate_takeaway(result, design=design.attrs)
    assert "do not improve the BG/NBD" in words and "3 effects cannot be estimated" in words
    for model, fitted in (("bgnbd", result), ("pareto_nbd", None)):
        fitted = fitted or clv.fit_covariates(summary, design, model)
        forecast = clv.covariate_predictions(fitted, summary, design, 52.0)
        assert len(forecast) == 4324 and np.isfinite(forecast.to_numpy()).all(), model
        assert forecast.loc["12748", "expected_purchases"] > 80, model


def test_olist_customers_table_is_refused_with_a_sentence():
    """Olist's customers table gives state dummies (SP the baseline; RJ 495, MG 491, PR 207,
    1,093 elsewhere) but only 2 of its 3,975 buyers bought twice: no model, one sentence."""
    from analysis.data import load_transactions
    from analysis.tables import load_table

    tx = load_transactions("olist")
    summary = customer_summary(tx.frame, tx.as_of, "W")
    design = clv.covariate_design(load_table("customers", "olist", as_of=tx.as_of).frame)
    assert design.attrs["baseline"] == {"region": "SP"}
    assert design.sum().tolist() == [495, 491, 207, 1093]
    result, note = clv.attempt(clv.fit_covariates, summary, design)
    assert result is None
    assert clv.covariate_takeaway(result, note) == (
        "*Covariates not estimated: BG/NBD needs at least 10 repeat buyers; these data have 2.*"
    )


@pytest.mark.slow
def test_notebook_shows_covariate_effects_from_a_customers_table(tmp_path, retail_sample):
    """Online Retail sample with a customers table of each customer's country: the report
    refits the chosen model with the country dummies and shows the effects table and the
    likelihood-ratio test in words."""
    frame = retail_sample.frame
    customers = frame.groupby("customer_id")["region"].first().reset_index()
    design = clv.covariate_design(customers)
    top = customers["region"].value_counts()
    assert list(design.columns) == [f"region={v}" for v in top.index[1:4]] + ["region=other"]
    path = tmp_path / "customers.csv"
    customers.to_csv(path, index=False)
    metrics, error, out = run_notebook(
        "lifetime_value", tmp_path, data="online_retail_sample", customers=str(path),
        bootstrap_draws=3,
    )  # fmt: skip
    assert error is None, error
    html = (out / "03_lifetime_value.ipynb").read_text()
    assert "with covariates: factors on the baseline group" in html
    assert "likelihood-ratio test" in html and "degrees of freedom" in html
    assert "On the holdout window the covariates" in html
    found = metrics["covariates"]  # the record a scheduler keeps of the test
    assert found["df"] == 2 * len(design.columns) and 0 <= found["p_value"] <= 1
    assert set(found["effects"]) == set(design.columns) and found["lr_statistic"] >= 0


def test_every_covariate_message_and_cell_has_its_chinese(calibration, big_first_order):
    """Each tr() literal of clv.covariate_report, its table headers and the notebook's
    covariate Markdown cell are in locale/zh/covariates.po, with the same placeholders; the
    takeaway renders in Chinese."""
    import json
    import string
    from pathlib import Path

    from babel.messages.extract import extract_from_file

    from analysis import i18n
    from analysis.config import NOTEBOOKS_DIR

    source = Path(clv.covariate_report.__file__)
    messages = {m for _, m, _, _ in extract_from_file("python", source, keywords={"tr": None})}
    messages |= set(clv.covariate_report.HEADERS)  # translated by report.style_table
    cells = json.loads((NOTEBOOKS_DIR / "03_lifetime_value.ipynb").read_text())["cells"]
    messages |= {
        "".join(c["source"]).strip()
        for c in cells
        if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("### Do acquisition")
    }
    assert len(messages) == 43  # "; " is the shared separator (satisfaction.po)
    catalogue = i18n.catalogue("zh")

    def fields(text):
        return sorted(f for _, f, _, _ in string.Formatter().parse(text) if f)

    for message in messages:
        assert message in catalogue, message
        assert fields(catalogue[message]) == fields(message), message
    result = clv.fit_covariates(calibration, big_first_order)
    try:
        i18n.set_language("zh")
        words = clv.covariate_takeaway(result)
    finally:
        i18n.set_language("en")
    assert words.startswith("在 2,357 位客户上，这些协变量合起来改进了 BG/NBD 购买模型")
    assert "购买频率高 76%" in words


def test_a_forecast_that_is_not_finite_is_refused_with_a_sentence(calibration, big_first_order):
    """An effect so large that alpha_i overflows gives no finite forecast: refused by
    ModelFitError naming how many customers, never returned as NaN."""
    plain = clv.fit_model(calibration, "bgnbd")
    values = {"purchase": [-800.0], "purchase_se": [1.0], "dropout": [0.0], "dropout_se": [1.0]}
    huge = pd.DataFrame(values, index=pd.Index(["big"], name="covariate"))
    result = clv.CovariateFit("bgnbd", plain.params, {}, huge, 0, 0, 0, 2, 1, True, 2357)
    with pytest.raises(clv.ModelFitError, match="no finite forecast for 1,178 customers"):
        clv.covariate_predictions(result, calibration, big_first_order, 39.0)
