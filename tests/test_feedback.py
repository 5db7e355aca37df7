"""Satisfaction and feedback (analysis.feedback, analysis.sentiment) on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import feedback as fb
from analysis import sentiment

SHARED = "../shared/data"


def _shared(path):
    from analysis.config import PROJ_ROOT

    full = PROJ_ROOT.parent / "shared" / "data" / path
    if not full.exists():
        full = PROJ_ROOT.parents[1] / "shared" / "data" / path
    if not full.exists():
        pytest.skip(f"{path} not found beside the project")
    return full


@pytest.fixture(scope="module")
def olist():
    """Canonical transactions and feedback frames of the Olist sample (the tables contract)."""
    return olist_frames()


def olist_frames():
    """Transactions (order items) and feedback of the Olist sample as canonical frames."""
    root = _shared("olist_sample")
    orders = pd.read_csv(root / "olist_orders_dataset.csv")
    items = pd.read_csv(root / "olist_order_items_dataset.csv")
    people = pd.read_csv(root / "olist_customers_dataset.csv")
    products = pd.read_csv(root / "olist_products_dataset.csv")
    names = pd.read_csv(root / "product_category_name_translation.csv")
    reviews = pd.read_csv(root / "olist_order_reviews_dataset.csv")
    products = products.merge(names, on="product_category_name", how="left")
    orders = orders.merge(people, on="customer_id")
    tx = items.merge(orders, on="order_id").merge(products, on="product_id", how="left")
    tx = pd.DataFrame({
        "customer_id": tx["customer_unique_id"].astype(str), "order_id": tx["order_id"],
        "order_date": pd.to_datetime(tx["order_purchase_timestamp"]),
        "amount": tx["price"], "product_id": tx["product_id"],
        "category": tx["product_category_name_english"], "region": tx["customer_state"],
        "delivered_at": pd.to_datetime(tx["order_delivered_customer_date"]),
        "estimated_delivery_at": pd.to_datetime(tx["order_estimated_delivery_date"]),
        "freight": tx["freight_value"], "status": tx["order_status"],
    })  # fmt: skip
    owner = orders.set_index("order_id")["customer_unique_id"]
    feedback = pd.DataFrame({
        "response_id": reviews["review_id"], "order_id": reviews["order_id"],
        "customer_id": reviews["order_id"].map(owner),
        "response_date": pd.to_datetime(reviews["review_creation_date"]),
        "score": reviews["review_score"].astype(float),
        "comment": reviews["review_comment_message"].astype("string"),
    })  # fmt: skip
    return tx, feedback


def test_nps_interval_formula_and_adjusted_wald():
    r = fb.nps_interval(50, 20, 100)
    assert r["nps"] == 30.0
    assert r["se"] == pytest.approx(100 * np.sqrt((0.7 - 0.09) / 100))
    # adjusted Wald: 50.75 and 20.75 of 103
    centre = (50.75 - 20.75) / 103
    se = np.sqrt((50.75 / 103 + 20.75 / 103 - centre**2) / 103)
    assert r["low"] == pytest.approx(100 * (centre - 1.959964 * se), abs=1e-3)
    big = fb.nps_interval(50_000, 20_000, 100_000)
    assert big["high"] - big["low"] == pytest.approx(2 * 1.959964 * big["se"], rel=1e-3)
    # small n stays inside [-100, 100] and is not degenerate at 0 detractors
    tiny = fb.nps_interval(5, 0, 5)
    assert tiny["nps"] == 100 and tiny["low"] < 100 and tiny["high"] <= 100


def test_csat_wilson_and_scale_groups():
    c = fb.csat_interval(8, 10)
    assert (c["low"], c["high"]) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    stars = fb.Scale("stars", 1, 5)
    s = pd.Series([1, 2, 3, 4, 5, np.nan])
    assert list(fb.nps_groups(s, stars).astype(object)[:5]) == [
        "detractor", "detractor", "detractor", "passive", "promoter"]  # fmt: skip
    assert list(fb.score_labels(s, stars)[:5]) == [0, 0, None, 1, 1] or list(
        fb.score_labels(s, stars).fillna(-1)[:5]) == [0, 0, -1, 1, 1]  # fmt: skip
    nps = fb.Scale("nps", 0, 10)
    g = fb.nps_groups(pd.Series([0, 6, 7, 8, 9, 10]), nps).astype(object)
    assert list(g) == ["detractor"] * 2 + ["passive"] * 2 + ["promoter"] * 2


def test_olist_scores_and_groups(olist):
    tx, feedback = olist
    scale = fb.scale_of({}, feedback["score"])
    assert (scale.low, scale.high) == (1, 5)
    s = fb.summarise(feedback["score"], scale)
    assert s["responses"] == 3986
    assert s["promoters"] == 2293 and s["detractors"] == 454 + 137 + 337
    assert s["nps"] == pytest.approx(100 * (2293 - 928) / 3986)
    assert s["csat"] == pytest.approx((765 + 2293) / 3986)
    assert s["mean_score"] == pytest.approx(
        (454 + 2 * 137 + 3 * 337 + 4 * 765 + 5 * 2293) / 3986)  # fmt: skip
    enriched = fb.enrich(feedback, tx)
    by_state = fb.group_table(enriched, "region", scale)
    assert by_state.loc["SP", "responses"] > 1500 and not by_state.loc["SP", "small"]
    assert by_state["rank"].isna().equals(by_state["small"])
    periods = fb.period_table(enriched, scale, "M")
    assert periods["responses"].sum() == 3986


def test_olist_late_delivery_is_the_top_driver(olist):
    tx, feedback = olist
    enriched = fb.enrich(feedback, tx)
    late = enriched.groupby("late")["score"].mean()
    assert late[1.0] == pytest.approx(2.15, abs=0.06) and late[0.0] == pytest.approx(4.29, abs=0.03)
    table = fb.drivers(enriched)
    assert table.index[0] == "delivery delay"
    assert set(table.index) >= {"delivery delay", "order value", "freight share", "category"}
    assert table["share"].iloc[0] > 0.5


def test_shapley_r2_matches_pingouin_on_single_columns(olist):
    pg = pytest.importorskip("pingouin")
    tx, feedback = olist
    enriched = fb.enrich(feedback, tx).dropna(subset=["score", "delay_days", "freight_share"])
    X = pd.DataFrame({"delay": enriched["delay_days"], "freight": enriched["freight_share"],
                      "value": np.log1p(enriched["order_value"])})  # fmt: skip
    ours = fb.shapley_r2(X, enriched["score"], {c: [c] for c in X.columns})
    theirs = pg.linear_regression(X, enriched["score"], relimp=True).set_index("names")["relimp"]
    for c in X.columns:
        assert ours[c] == pytest.approx(theirs[c], abs=1e-6)
    full = np.linalg.lstsq(np.c_[np.ones(len(X)), X], enriched["score"], rcond=None)
    assert ours.sum() == pytest.approx(
        1 - full[1][0] / ((enriched["score"] - enriched["score"].mean()) ** 2).sum())  # fmt: skip


def test_feedback_per_customer_sql_matches_pandas(olist):
    from analysis import engine

    _, feedback = olist
    out = engine.feedback_per_customer(feedback, promoter=5, detractor=3)
    with_id = feedback.dropna(subset=["customer_id"])
    assert len(out) == with_id["customer_id"].nunique()
    assert out["responses"].sum() == len(with_id)
    assert out["promoters"].sum() == (with_id["score"] == 5).sum() == 2293
    assert out["detractors"].sum() == (with_id["score"] <= 3).sum()
    assert out["comments"].sum() == with_id["comment"].str.strip().str.len().gt(0).sum()
    last = with_id.sort_values("response_date").groupby("customer_id")["score"].last()
    single = out[out["responses"] == 1].index
    assert (out.loc[single, "last_score"] == last[single]).all()
    cut = engine.feedback_per_customer(feedback, as_of="2017-12-31", promoter=5, detractor=3)
    assert cut["responses"].sum() == (with_id["response_date"] <= "2017-12-31").sum()
    assert cut["last_response"].max() <= pd.Timestamp("2017-12-31")


# --------------------------------------------------------------------------- text


def test_language_detection_and_chinese_words():
    texts = pd.Series([
        "O produto chegou antes do prazo, muito bom", "The staff were kind and quick",
        "客服态度很好，物流也快", "ok", None, "Não recebi o produto até agora",
    ])  # fmt: skip
    langs = sentiment.detect_language(texts)
    assert list(langs[:4]) == ["pt", "en", "zh", "pt"]  # "ok": the most common language
    assert pd.isna(langs[4]) and langs[5] == "pt"
    assert "客服" in sentiment.tokenize("客服态度很好")  # jieba keeps "customer service" whole


@pytest.fixture(scope="module")
def nhs():
    d = pd.read_csv(_shared("nhs_feedback/v6framework_230831.csv"))
    d = d[d["FFT answer"] != "Did not answer"].sample(2500, random_state=0)
    texts = d["FFT answer"].astype("string").reset_index(drop=True)
    human = d["Comment sentiment"].reset_index(drop=True)
    y = pd.Series(np.where(human <= 2, 1.0, np.where(human >= 4, 0.0, np.nan)))
    return d.reset_index(drop=True), texts, y


def test_shared_words_give_the_vectoriser_s_own_matrix(nhs, olist):
    """Words.matrix (one tokenisation, an Arrow look-up of the n-grams) equals sklearn's
    transform, value for value, for the sentiment (1-2 grams) and theme (stop words
    dropped) vectorisers, on English, Portuguese and mixed Chinese comments; blanks and
    spaces around a comment do not change its row."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    _, feedback = olist
    mixed = ["客服态度很好，物流也快 good", "物流太慢了", "  The staff were kind  "] * 3
    texts = pd.concat([nhs[1], feedback["comment"], pd.Series(mixed, dtype="string")])
    distinct = pd.Series(texts.dropna().unique()).astype("string")
    distinct = distinct[distinct.str.strip().str.len() > 0]
    words = sentiment.Words(distinct)
    stops = sentiment.stop_words(("en", "pt", "zh"))
    themes = TfidfVectorizer(
        tokenizer=lambda t: [w for w in sentiment.tokenize(t) if w not in stops and len(w) > 1],
        token_pattern=None, lowercase=False, min_df=2, max_df=0.5, sublinear_tf=True,
    )  # fmt: skip
    for vec in (sentiment._vectorizer(100_000), themes):
        vec.fit(distinct.astype(str))
        expected = vec.transform(distinct.astype(str))
        got = words.matrix(vec, distinct)
        assert got.shape == expected.shape and expected.nnz > 10_000
        assert np.array_equal(got.indptr, expected.indptr)
        assert np.array_equal(got.indices, expected.indices)
        assert np.array_equal(got.data, expected.data)  # exactly, not approximately
    assert words.positions(["  The staff were kind  ", "The staff were kind", " "])[2] == -1
    assert len(set(words.positions(["  The staff were kind  ", "The staff were kind"]))) == 1


def test_lexicon_route_beats_the_lexicon_on_nhs_human_labels(nhs):
    _, texts, y = nhs
    langs = sentiment.detect_language(texts)
    result = sentiment.comment_sentiment(texts, langs)  # no scores: lexicon + self-training
    assert result.method == "lexicon"
    ours, lexicon = sentiment.agreement(result.scores, y), sentiment.agreement(result.lexicon, y)
    assert ours["n"] > 1500
    assert lexicon["roc_auc"] == pytest.approx(0.76, abs=0.03)  # VADER on NHS
    assert ours["roc_auc"] > lexicon["roc_auc"] + 0.03
    assert result.scores.dropna().between(-1, 1).all()
    assert result.scores[texts.str.strip().str.len() > 0].notna().all()


def test_scored_route_is_out_of_fold_on_olist(olist):
    _, feedback = olist
    scale = fb.Scale("stars", 1, 5)
    labels = fb.score_labels(feedback["score"], scale)
    texts = feedback["comment"]
    langs = sentiment.detect_language(texts)
    assert (langs.value_counts(normalize=True)["pt"]) > 0.9
    result = sentiment.comment_sentiment(texts, langs, labels)
    assert result.method == "scored" and result.labelled > 1400
    ours = sentiment.agreement(result.scores, labels)["roc_auc"]
    lexicon = sentiment.agreement(result.lexicon, labels)["roc_auc"]
    assert 0.90 < ours < 0.99 and lexicon == pytest.approx(0.87, abs=0.03)  # LeIA alone


def test_themes_agree_with_human_labels(nhs):
    d, texts, _ = nhs
    langs = pd.Series("en", index=texts.index, dtype="string")
    themes = sentiment.find_themes(texts, langs, n_themes=8)
    assert len(themes.table) == 8 and themes.table["share"].between(0, 1).all()
    assert themes.mentions.any(axis=1)[texts.notna()].mean() > 0.75  # the rest: no theme word
    cols = sentiment.human_label_columns(d, exclude={"FFT categorical answer", "Comment sentiment"})
    assert "Staff manner & personal attributes" in cols and "Trust" not in cols
    agree = sentiment.theme_agreement(themes, d[cols])
    assert len(agree) >= 15
    assert agree["roc_auc"].median() > 0.65  # chance is 0.5
    timely = agree.set_index("label").loc["Timeliness of care"]
    assert timely["roc_auc"] > 0.75


# --------------------------------------------------------------------------- notebook


@pytest.mark.slow
def test_notebook_on_olist_names_late_delivery(tmp_path):
    from conftest import run_notebook

    metrics, error, out = run_notebook("satisfaction", tmp_path, data="olist", anonymize=True)
    assert error is None, error
    m = metrics
    assert m["top_driver"] == "delivery delay"
    assert m["responses"] > 3900 and m["nps_ci"][0] < m["nps"] < m["nps_ci"][1]
    assert m["csat_ci"][0] < m["csat"] < m["csat_ci"][1] and 4.0 < m["mean_score"] < 4.2
    assert len(m["themes"]) == 8 and m["sentiment_agreement"] > 0.9
    follow = pd.read_csv(out / "followup.csv")
    assert follow["customer_id"].str.startswith("C-").all() and len(follow) > 900
    assert follow["revenue"].dropna().is_monotonic_decreasing
    scored = pd.read_csv(out / "feedback_scored.csv")
    assert len(scored) == m["responses"] and "comment" not in scored
    assert scored["sentiment"].dropna().between(-1, 1).all()


@pytest.mark.slow
def test_notebook_on_nhs_feedback_alone(tmp_path, nhs):
    from conftest import run_notebook

    d, _, _ = nhs
    path = tmp_path / "nhs.csv"
    d.to_csv(path, index=False)
    metrics, error, _ = run_notebook(
        "satisfaction", tmp_path, data=None, feedback=str(path),
        columns={"feedback.comment": "FFT answer", "feedback.response_date": "Date"},
    )  # fmt: skip
    assert error is None, error
    assert metrics["responses"] is None and metrics["top_driver"] is None
    assert len(metrics["themes"]) == 8
    assert metrics["human_sentiment_auc"] > 0.78 and metrics["human_theme_auc"] > 0.6


@pytest.mark.slow
def test_notebook_without_feedback_is_not_applicable(tmp_path):
    from conftest import run_notebook

    from analysis.errors import is_not_applicable

    _, error, _ = run_notebook("satisfaction", tmp_path, data="online_retail_sample")
    assert is_not_applicable(error) and "--feedback" in error


def test_followup_masks_comments_and_ranks_by_value():
    scored = pd.DataFrame({
        "response_id": ["r1", "r2", "r3", "r4"], "customer_id": ["a", "b", "c", "d"],
        "response_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-20", "2024-02-25"]),
        "score": [1.0, 2.0, 5.0, 3.0], "group": ["detractor", "detractor", "promoter", "detractor"],
        "sentiment": [-0.8, np.nan, 0.9, -0.2], "theme": ["late / delivery", None, None, None],
        "comment": ["call me on +44 20 7946 0958 or ana@example.com", None, "great", "meh"],
    })  # fmt: skip
    value = pd.Series({"a": 10.0, "b": 500.0, "c": 1000.0, "d": 50.0})
    follow = fb.followup_list(scored, "2024-03-01", value, "revenue")
    assert list(follow["response_id"]) == ["r2", "r4", "r1"]  # the promoter is not called
    first = follow.set_index("response_id").loc["r1"]
    assert "ana@example.com" not in first["comment"] and "7946" not in first["comment"]
    assert first["reason"] == "score 1; negative comment; about late / delivery"
    assert first["days_since"] == 60
