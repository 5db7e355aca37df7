"""Recommendations: what to offer each customer next, proved on a window the models never saw.

Two questions, one module:

- **Bought together** (:func:`basket_rules`, :func:`also_bought`): association rules between
  products from orders (mlxtend's FP-growth) with a support floor, capped basket sizes and a
  maximum itemset length, so that a large catalogue stays fast.
- **Next products per customer**: top-k from purchase history (and from views, carts and
  favourites when an events table is given: implicit feedback, weighted by
  :data:`SIGNAL_WEIGHTS`) with the ``implicit`` library (ALS, BPR, item-kNN), beside three
  baselines measured in the same run: recent popularity, the customer's own most-bought
  products and item-kNN.

Proof on the future (:func:`make_split`): the models learn from history up to ``t0``; the
method and its settings are chosen on the validation window ``(t0, t1]``; the chosen method
and the baselines are refitted on history up to ``t1`` and judged on the untouched test window
``(t1, as_of]``. Nothing after a stage's cutoff is read when that stage is fitted (a test
deletes every later row and finds the same recommendations). Ranking metrics are computed
here (:func:`ranking_metrics`), not by ``implicit``, whose precision divides by
``min(k, relevant items)``.

Public API
----------
purchase_signals, event_signals, combine_signals, prepare
    One row per customer, product, day and signal (purchase, view, cart, favourite ...);
    :func:`prepare` gives the notebook its signals, orders and product names.
make_split, split_table, repeat_share, repeats_default
    The dates, and whether already-bought products may be recommended again.
build_history, window_truth
    Sparse customer x product matrices at a cutoff; what each customer bought in a window.
Popularity, OwnHistory, ItemKNN, Factors, make_model, top_k
    The recommenders (one ``fit`` / ``recommend`` interface) and the shared top-k step.
ranking_metrics, choose_on_validation, compare_methods, customer_segments, segment_table
    Precision@k, recall@k, NDCG@k, coverage; choice on validation, report on test; by segment.
fit_final, recommend_all, explain, recommendations_export
    Top-k for everyone at ``as_of`` with a reason in words.
basket_rules, also_bought, rules_table, bought_together_export
    Bought together.
recommend_metrics
    The ``recommendations`` entry of ``metrics.json``.
The ``*_takeaway`` and ``findings`` functions turn those numbers into sentences.

Threads: ``implicit`` and BLAS run with ``threads`` threads (default 1: the report runner
executes two notebooks at once on small machines; the benchmark passes 2).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from analysis import i18n
from analysis.errors import NotApplicable
from analysis.text import date_label, md_text, pct, sentences, tr, tr_name

#: Confidence each signal adds to a customer-product pair (one per day and signal).
SIGNAL_WEIGHTS = {"purchase": 1.0, "cart": 0.5, "favourite": 0.3, "view": 0.1}
#: Default settings tried on the validation window, per method.
DEFAULT_GRID = {
    "als": {"factors": [32, 64], "alpha": [1.0, 10.0], "regularization": [0.05]},
    "bpr": {"factors": [64], "learning_rate": [0.05], "iterations": [50]},
}
BASELINES = ("popularity", "own_history", "item_knn")
LABELS = {
    "popularity": "Baseline: popular lately",
    "own_history": "Baseline: own most-bought",
    "item_knn": "Baseline: item-kNN",
    "als": "ALS (implicit)",
    "bpr": "BPR (implicit)",
}
#: The method labels as a list (translated when shown; English in tables' keys and exports).
METHOD_LABELS = i18n.fixed_names(__name__, LABELS.values())
#: Stages of :func:`split_table`.
STAGES = i18n.fixed_names(
    __name__, ("choose the method (validation)", "report (test, untouched)", "recommend now")
)
#: Segments of :func:`customer_segments` when the log has no amounts (purchase-day tiers).
PURCHASE_DAY_TIERS = i18n.fixed_names(
    __name__, ("1 purchase day", "2-3 purchase days", "4-9 purchase days", "10+ purchase days")
)


def method_label(key: str) -> str:
    """A method's label as the reader sees it (``als`` -> "ALS (implicit)", translated)."""
    return tr_name(LABELS.get(key, key), METHOD_LABELS)


def segment_label(name):
    """A segment name as the reader sees it: the segmentation's segment, tier and stage
    names and the purchase-day tiers translated, other names (the data's) kept."""
    from analysis.segmentation import display_name

    if not isinstance(name, str):
        return name
    return tr_name(name, PURCHASE_DAY_TIERS) if name in PURCHASE_DAY_TIERS else display_name(name)


#: Relative recall gain over the best baseline a method needs (on validation) to be shipped.
REQUIRED_LIFT = 0.10
#: Above this many customer x product cells of the validation history, the factor models
#: (ALS, BPR) are left out of the choice: their top-k scores every product for every
#: customer (at 100k x 45k cells one ALS setting took 204 s; 1M x 50k would take minutes
#: per setting), while the baselines and item-kNN score only what co-occurs.
MAX_FACTOR_CELLS = 1e9
FACTOR_MODELS = ("als", "bpr")
_CHUNK = 20_000  # customers scored at a time


# --------------------------------------------------------------------------- signals


def purchase_signals(frame: pd.DataFrame) -> pd.DataFrame:
    """Purchases as signals: one row per customer, product and day.

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean transactions with ``customer_id``, ``order_date`` and ``product_id``.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``product_id`` (str), ``day`` (datetime, midnight), ``signal``
        (``"purchase"``).

    Raises
    ------
    NotApplicable
        When the log has no ``product_id`` column.
    """
    if "product_id" not in frame.columns:
        raise NotApplicable(
            tr(
                "the purchase log has no product_id column, so there is nothing to recommend; "
                "map one with --column product_id=YOUR_COLUMN (columns={example})",
                example="{'product_id': ...}",
            )
        )
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str).to_numpy(),
            "product_id": frame["product_id"].astype(str).to_numpy(),
            "day": frame["order_date"].dt.normalize().to_numpy(),
        }
    )
    out = out[frame["product_id"].notna().to_numpy()].drop_duplicates(ignore_index=True)
    return out.assign(signal="purchase")


def event_signals(events: pd.DataFrame, weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Events (views, carts, favourites, purchases) as signals, one row per customer/product/day.

    Parameters
    ----------
    events : pandas.DataFrame
        The events table: ``customer_id``, ``event_time``, ``event`` (canonical steps such as
        ``view``, ``cart``, ``favourite``, ``purchase``) and ``product_id``.
    weights : mapping, optional
        Event name -> confidence weight (default :data:`SIGNAL_WEIGHTS`); other events are
        dropped.

    Returns
    -------
    pandas.DataFrame
        Same columns as :func:`purchase_signals`, ``signal`` holding the event name.
    """
    missing = [c for c in ("customer_id", "event_time", "event", "product_id") if c not in events]
    if missing:
        raise NotApplicable(
            tr(
                "the events table lacks {missing}, so views and carts cannot inform the "
                "recommendations; map them with --column events.product_id=YOUR_COLUMN",
                missing=", ".join(missing),
            )
        )
    weights = dict(weights or SIGNAL_WEIGHTS)
    keep = events["event"].isin(list(weights)) & events["product_id"].notna()
    rows = events.loc[keep]
    out = pd.DataFrame(
        {
            "customer_id": rows["customer_id"].astype(str).to_numpy(),
            "product_id": rows["product_id"].astype(str).to_numpy(),
            "day": pd.to_datetime(rows["event_time"]).dt.normalize().to_numpy(),
            "signal": rows["event"].astype(str).to_numpy(),
        }
    )
    return out.drop_duplicates(ignore_index=True)


def combine_signals(
    purchases: pd.DataFrame | None, events: pd.DataFrame | None, min_overlap: float = 0.5
) -> tuple[pd.DataFrame, str]:
    """Purchases and events in one signal frame, and a sentence on what was used.

    When fewer than ``min_overlap`` of the event customers appear in the purchase log, the
    two tables describe different people: the events are used alone (their purchase events
    are the target).
    """
    if events is None or len(events) == 0:
        return purchases, tr("Signals: purchases only.")
    if purchases is None or len(purchases) == 0:
        return events, tr("Signals: the events table alone (its purchases are the target).")
    ev_customers = pd.Index(events["customer_id"].unique())
    overlap = ev_customers.isin(purchases["customer_id"].unique()).mean()
    if overlap < min_overlap:
        note = tr(
            "Only {share} of the event visitors appear in the purchase log, so the events "
            "table is used alone: its views, carts and favourites are the signals and its "
            "purchases the target.",
            share=pct(overlap),
        )
        return events, note
    both = pd.concat([purchases, events], ignore_index=True).drop_duplicates(ignore_index=True)
    note = tr(
        "Signals: purchases plus {n} events (views, carts, favourites) of the same customers.",
        n=f"{len(events):,}",
    )
    return both, note


@dataclass
class Inputs:
    """Everything the notebook recommends from, at one cutoff."""

    signals: pd.DataFrame  # :func:`purchase_signals` / :func:`combine_signals` output
    note: str  # which tables were used, in words
    orders: pd.DataFrame  # order lines for the bought-together rules
    frame: pd.DataFrame | None  # the clean purchase log (RFM segments), None for events only
    names: pd.Series  # product id -> name
    as_of: pd.Timestamp


def prepare(
    transactions: pd.DataFrame | None,
    events: pd.DataFrame | None = None,
    as_of=None,
    weights: Mapping[str, float] | None = None,
    name_column: str | None = None,
) -> Inputs:
    """Signals, orders and product names from the purchase log and/or the events table.

    ``as_of`` defaults to the last day of the signals; when the events are used alone (see
    :func:`combine_signals`) it is their last day (the events were cut at ``as_of`` on load).
    Raises NotApplicable when neither table names products.
    """
    has_products = transactions is not None and "product_id" in transactions.columns
    if not has_products and events is None:
        purchase_signals(transactions if transactions is not None else pd.DataFrame())
    buys = purchase_signals(transactions) if has_products else None
    extra = event_signals(events, weights) if events is not None else None
    signals, note = combine_signals(buys, extra)
    if as_of is None or pd.isna(as_of) or signals is extra:  # events alone: their own last day
        as_of = signals["day"].max()
    if signals is not extra:
        orders, frame = transactions, transactions
    else:  # events alone: their purchases, one basket per customer and day
        pur = signals[signals["signal"] == "purchase"]
        orders = pd.DataFrame(
            {
                "customer_id": pur["customer_id"],
                "product_id": pur["product_id"],
                "order_date": pur["day"],
            }
        )
        frame = None
    names = product_names(transactions if has_products else None, name_column)
    return Inputs(signals, note, orders, frame, names, pd.Timestamp(as_of).normalize())


# --------------------------------------------------------------------------- split


@dataclass(frozen=True)
class Split:
    """The dates of the time split (all inclusive, whole days)."""

    window_days: int
    first_day: pd.Timestamp
    t0: pd.Timestamp  # end of the training history
    t1: pd.Timestamp  # end of the validation window
    as_of: pd.Timestamp  # end of the test window


def make_split(signals: pd.DataFrame, as_of, window_days: int | None = None) -> Split:
    """Training history up to ``t0``, validation ``(t0, t1]``, test ``(t1, as_of]``.

    Parameters
    ----------
    signals : pandas.DataFrame
        :func:`purchase_signals` (or combined) output.
    as_of : date-like
        End of the test window; later rows are ignored.
    window_days : int, optional
        Length of the validation and test windows; default 30 days, shortened to a fifth
        of the data's span (1 % to 100 % of the purchase days) for short logs.

    Raises
    ------
    NotApplicable
        When the data hold less than one window of history before ``t0``.
    """
    as_of = pd.Timestamp(as_of).normalize()
    days = signals.loc[(signals["signal"] == "purchase") & (signals["day"] <= as_of), "day"]
    if days.empty:
        raise NotApplicable(tr("there are no purchases up to as_of, so nothing can be evaluated"))
    first = days.min()
    if window_days is None:
        span = (as_of - days.quantile(0.01)).days
        window_days = int(max(1, min(30, span // 5)))
    window = pd.Timedelta(days=int(window_days))
    t1 = as_of - window
    t0 = t1 - window
    if t0 - window < first:
        raise NotApplicable(
            tr(
                "{days}-day validation and test windows need history from {need}, but the "
                "purchases start on {first}; set a shorter window_days",
                days=window_days,
                need=(t0 - window).date(),
                first=first.date(),
            )
        )
    return Split(int(window_days), first, t0, t1, as_of)


def split_table(split: Split) -> pd.DataFrame:
    """The stages as a table: what each learns from and what it is judged on."""
    one = pd.Timedelta(days=1)
    rows = [
        (tr(STAGES[0]), split.first_day, split.t0, split.t0 + one, split.t1),
        (tr(STAGES[1]), split.first_day, split.t1, split.t1 + one, split.as_of),
        (tr(STAGES[2]), split.first_day, split.as_of, pd.NaT, pd.NaT),
    ]
    columns = [tr("stage"), tr("history from"), tr("history to"), tr("judged from"),
               tr("judged to")]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    for col in table.columns[1:]:
        table[col] = table[col].dt.strftime("%Y-%m-%d").fillna(tr("future"))
    return table.set_index(columns[0])


def repeat_share(signals: pd.DataFrame, cutoff, end) -> float:
    """Share of (customer, product) purchases in ``(cutoff, end]`` the customer had bought before.

    Only customers with purchases up to ``cutoff`` count.
    """
    cutoff, end = pd.Timestamp(cutoff), pd.Timestamp(end)
    buys = signals[(signals["signal"] == "purchase") & (signals["day"] <= end)]
    customer = pd.factorize(buys["customer_id"])[0].astype("int64")
    product, products = pd.factorize(buys["product_id"])
    pair = customer * max(len(products), 1) + product  # one integer per (customer, product)
    early = (buys["day"] <= cutoff).to_numpy()
    before = np.unique(pair[early])
    window = np.unique(pair[~early])
    window = window[np.isin(window // max(len(products), 1), np.unique(customer[early]))]
    if len(window) == 0:
        return float("nan")
    return float(np.isin(window, before).mean())


def repeats_default(
    signals: pd.DataFrame, split: Split, threshold: float = 0.2, share: float | None = None
) -> bool:
    """Whether to recommend already-bought products: yes when, in the validation window,
    at least ``threshold`` of returning customers' purchases were products they had bought.

    Reads nothing after ``t1``. ``share``: that window's :func:`repeat_share`, when the
    caller has it already (at 1M customers it takes seconds).
    """
    share = repeat_share(signals, split.t0, split.t1) if share is None else share
    return bool(share >= threshold) if np.isfinite(share) else True


# --------------------------------------------------------------------------- matrices


@dataclass
class History:
    """Customer x product matrices from every signal up to ``cutoff``."""

    cutoff: pd.Timestamp
    users: pd.Index
    items: pd.Index
    confidence: sp.csr_matrix  # weighted signals (implicit feedback), float32
    bought: sp.csr_matrix  # purchase days per customer and product, float32
    popularity: np.ndarray  # distinct buyers in the popular_days before the cutoff
    popular_days: int = 30


def build_history(
    signals: pd.DataFrame,
    cutoff,
    weights: Mapping[str, float] | None = None,
    half_life_days: float | None = None,
    popular_days: int = 30,
) -> History:
    """Sparse matrices of everything up to ``cutoff`` (inclusive); nothing later is read.

    Parameters
    ----------
    signals : pandas.DataFrame
        :func:`purchase_signals` / :func:`combine_signals` output.
    cutoff : date-like
        Last day of the history.
    weights : mapping, optional
        Signal -> confidence weight (default :data:`SIGNAL_WEIGHTS`).
    half_life_days : float, optional
        Older signals count less: weight x 0.5 ** (age / half-life). None: no decay.
    popular_days : int
        Days before the cutoff over which popularity counts distinct buyers.
    """
    cutoff = pd.Timestamp(cutoff).normalize()
    weights = dict(weights or SIGNAL_WEIGHTS)
    past = signals[(signals["day"] <= cutoff) & signals["signal"].isin(list(weights))]
    users = pd.Index(np.sort(past["customer_id"].unique()), name="customer_id")
    items = pd.Index(np.sort(past["product_id"].unique()), name="product_id")
    u = users.get_indexer(past["customer_id"])
    i = items.get_indexer(past["product_id"])
    w = past["signal"].map(weights).to_numpy(dtype="float64")
    if half_life_days:
        age = (cutoff - past["day"]).dt.days.to_numpy()
        w = w * 0.5 ** (age / float(half_life_days))
    shape = (len(users), len(items))
    confidence = sp.csr_matrix((w.astype("float32"), (u, i)), shape=shape)
    buy = (past["signal"] == "purchase").to_numpy()
    bought = sp.csr_matrix(
        (np.ones(buy.sum(), dtype="float32"), (u[buy], i[buy])), shape=shape, dtype="float32"
    )
    recent = buy & (past["day"] > cutoff - pd.Timedelta(days=popular_days)).to_numpy()
    pairs = np.unique(u[recent].astype("int64") * len(items) + i[recent])
    popularity = np.bincount(pairs % len(items), minlength=len(items)).astype("float64")
    return History(cutoff, users, items, confidence, bought, popularity, popular_days)


@dataclass
class Truth:
    """What the evaluated customers bought in a window."""

    users: np.ndarray  # row positions in the history's users
    matrix: sp.csr_matrix  # len(users) x items, 1 where bought (catalogue products only)
    n_relevant: np.ndarray  # products bought in the window, including ones new to the catalogue
    start: pd.Timestamp
    end: pd.Timestamp
    new_customers: int  # bought in the window without any history (not evaluated)


def window_truth(signals: pd.DataFrame, history: History, end, repeats: bool = True) -> Truth:
    """Products each customer with history bought in ``(history.cutoff, end]``.

    With ``repeats`` False only products the customer had not bought before count.
    """
    start, end = history.cutoff, pd.Timestamp(end).normalize()
    buys = signals[
        (signals["signal"] == "purchase") & (signals["day"] > start) & (signals["day"] <= end)
    ]
    pairs = buys[["customer_id", "product_id"]].drop_duplicates()
    u = history.users.get_indexer(pairs["customer_id"])
    new_customers = int(pairs.loc[u < 0, "customer_id"].nunique())
    pairs, u = pairs[u >= 0], u[u >= 0]
    i = history.items.get_indexer(pairs["product_id"])
    if not repeats:
        inside = i >= 0
        before = np.zeros(len(i), dtype=bool)
        before[inside] = np.asarray(history.bought[u[inside], i[inside]]).ravel() > 0
        u, i = u[~before], i[~before]
    users, row = np.unique(u, return_inverse=True)
    n_relevant = np.bincount(row, minlength=len(users))
    known = i >= 0
    matrix = sp.csr_matrix(
        (np.ones(known.sum(), dtype="float32"), (row[known], i[known])),
        shape=(len(users), len(history.items)),
    )
    return Truth(users, matrix, n_relevant, start, end, new_customers)


# --------------------------------------------------------------------------- top-k


def _without(rows, cols, m: int, exclude: sp.csr_matrix | None):
    """Mask of the (row, col) pairs not in ``exclude``."""
    if exclude is None or exclude.nnz == 0:
        return np.ones(len(rows), dtype=bool)
    ex = exclude.tocoo()
    return ~np.isin(rows * m + cols, ex.row.astype("int64") * m + ex.col)


def _rank_in_rows(rows: np.ndarray, n: int) -> np.ndarray:
    """0, 1, 2 ... within each run of equal (sorted) ``rows``."""
    starts = np.searchsorted(rows, np.arange(n))
    return np.arange(len(rows)) - starts[rows]


def top_k(
    scores: sp.csr_matrix,
    k: int,
    popularity: np.ndarray,
    exclude: sp.csr_matrix | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best products per row of a sparse score matrix, padded with popular ones.

    Ties and rows with fewer than ``k`` scored products are resolved by ``popularity``;
    products in ``exclude`` (same shape) are never returned. Returns item positions (-1
    where fewer than ``k`` remain) and scores (NaN for padding).

    One sort of a single float key (row + position of the score inside its row's range)
    instead of a lexicographic sort: 2.6M scores take 0.4 s instead of 8.6 s.
    """
    n, m = scores.shape
    coo = scores.tocoo()
    rows, cols, vals = coo.row.astype("int64"), coo.col.astype("int64"), coo.data.astype("float64")
    keep = _without(rows, cols, m, exclude)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    pop = popularity / popularity.max() if len(popularity) and popularity.max() > 0 else popularity
    spread = np.abs(vals).max() if len(vals) else 1.0
    tied = vals + 1e-9 * spread * pop[cols]  # equal scores: the more popular product first
    low = np.full(n, np.inf)
    high = np.full(n, -np.inf)
    np.minimum.at(low, rows, tied)
    np.maximum.at(high, rows, tied)
    width = np.where(high > low, high - low, 1.0)
    position = (high[rows] - tied) / width[rows]  # 0 = the row's best, 1 = its worst
    order = np.argsort(rows + 0.9 * position, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    rank = _rank_in_rows(rows, n)
    top = rank < k
    items = np.full((n, k), -1, dtype="int64")
    out_scores = np.full((n, k), np.nan)
    items[rows[top], rank[top]] = cols[top]
    out_scores[rows[top], rank[top]] = vals[top]
    filled = np.bincount(rows[top], minlength=n)
    short = np.flatnonzero(filled < k)
    if len(short):
        _pad(items, short, filled, popularity, m, exclude)
    return items, out_scores


def _pad(items, short, filled, popularity, m, exclude) -> None:
    """Fill the free places of rows ``short`` with popular products not listed or excluded."""
    k = items.shape[1]
    pad = np.argsort(-popularity, kind="stable")[: 3 * k]
    rows = np.repeat(short, len(pad))
    cols = np.tile(pad, len(short))
    listed = items[short]
    listed_rows = np.repeat(short, k)[listed.ravel() >= 0]
    listed_cols = listed.ravel()[listed.ravel() >= 0]
    taken = np.isin(rows * m + cols, listed_rows * m + listed_cols)
    keep = ~taken & _without(rows, cols, m, exclude)
    rows, cols = rows[keep], cols[keep]
    slot = filled[rows] + _rank_in_rows(rows, len(filled))
    ok = slot < k
    items[rows[ok], slot[ok]] = cols[ok]


def _chunks(users: np.ndarray):
    for start in range(0, len(users), _CHUNK):
        yield users[start : start + _CHUNK]


def _stack(parts):
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])


def _implicit(module: str):
    """Import ``implicit.<module>`` (its tqdm import warns about ipywidgets in notebooks;
    progress bars are off here, so that one warning is not shown)."""
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        return importlib.import_module(f"implicit.{module}")


class Popularity:
    """Baseline: the products most customers bought in the last ``popular_days``."""

    key = "popularity"

    def fit(self, history: History) -> Popularity:
        return self

    def recommend(self, history: History, users: np.ndarray, k: int, repeats: bool):
        exclude = None if repeats else history.bought
        parts = [
            top_k(
                sp.csr_matrix((len(c), len(history.items)), dtype="float32"),
                k,
                history.popularity,
                None if exclude is None else exclude[c],
            )
            for c in _chunks(users)
        ]
        return _stack(parts)


class OwnHistory:
    """Baseline: the customer's own most-bought products (purchase days), then popular ones."""

    key = "own_history"

    def fit(self, history: History) -> OwnHistory:
        return self

    def recommend(self, history: History, users: np.ndarray, k: int, repeats: bool):
        if not repeats:  # nothing of one's own is left to recommend: popularity
            return Popularity().recommend(history, users, k, repeats)
        parts = [top_k(history.bought[c], k, history.popularity) for c in _chunks(users)]
        return _stack(parts)


class ItemKNN:
    """Item-kNN (``implicit``'s BM25-weighted item-item model): products like the customer's."""

    key = "item_knn"

    def __init__(self, neighbours: int = 50, threads: int = 1):
        self.neighbours, self.threads = int(neighbours), int(threads)
        self.similarity: sp.csr_matrix | None = None

    def fit(self, history: History) -> ItemKNN:
        nn = _implicit("nearest_neighbours")
        # BM25Recommender.fit, with the weighted matrix handed over as CSR (implicit passes COO
        # and warns about the conversion)
        weighted = nn.bm25_weight(history.confidence.T, K1=1.2, B=0.75).T.tocsr()
        model = nn.ItemItemRecommender(K=self.neighbours, num_threads=self.threads)
        with threadpool_limits(1, "blas"):
            model.fit(weighted, show_progress=False)
        self.similarity = model.similarity.tocsr()
        return self

    def recommend(self, history: History, users: np.ndarray, k: int, repeats: bool):
        parts = []
        for c in _chunks(users):
            scores = (history.confidence[c] @ self.similarity).tocsr()
            parts.append(
                top_k(scores, k, history.popularity, None if repeats else history.bought[c])
            )
        return _stack(parts)


class Factors:
    """Matrix factorisation from ``implicit``: ALS or BPR on the confidence matrix."""

    def __init__(self, kind: str = "als", seed: int = 0, threads: int = 1, **params):
        if kind not in ("als", "bpr"):
            raise ValueError(f"kind must be 'als' or 'bpr', got {kind!r}")
        self.key, self.seed, self.threads, self.params = kind, int(seed), int(threads), params
        self.model = None

    def fit(self, history: History) -> Factors:
        name = "AlternatingLeastSquares" if self.key == "als" else "BayesianPersonalizedRanking"
        module = _implicit("cpu.als" if self.key == "als" else "cpu.bpr")
        with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, BLAS single
            self.model = getattr(module, name)(
                **self.params, num_threads=self.threads, random_state=self.seed
            )
            self.model.fit(history.confidence, show_progress=False)
        return self

    def recommend(self, history: History, users: np.ndarray, k: int, repeats: bool):
        """Top-``k`` by the factor model's score, in blocks of customers.

        Blocks of a dense matrix product and ``argpartition`` instead of ``implicit``'s own
        ``recommend``: the same scores (user factors . item factors, bought products masked
        when ``repeats`` is False), measured 8x faster on 2 cores (its ``topk`` took 2.2 s per
        1,000 customers x 45,000 products; this 0.3 s).
        """
        users_f, items_f = self.model.user_factors, self.model.item_factors
        kk = min(k, items_f.shape[0])
        items = np.full((len(users), k), -1, dtype="int64")
        scores = np.full((len(users), k), np.nan)
        block = max(1, 4_000_000 // max(1, items_f.shape[0]))  # about 16 MB of scores
        with threadpool_limits(self.threads, "blas"):
            for start in range(0, len(users), block):
                rows = users[start : start + block]
                dense = users_f[rows] @ items_f.T
                if not repeats:
                    mask = history.bought[rows].tocoo()
                    dense[mask.row, mask.col] = -np.inf
                top = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
                vals = np.take_along_axis(dense, top, axis=1)
                order = np.argsort(-vals, axis=1, kind="stable")
                top, vals = np.take_along_axis(top, order, 1), np.take_along_axis(vals, order, 1)
                top[~np.isfinite(vals)] = -1
                items[start : start + len(rows), :kk] = top
                scores[start : start + len(rows), :kk] = vals
        return items, scores


def make_model(key: str, seed: int = 0, threads: int = 1, neighbours: int = 50, **params):
    """A recommender by key: ``popularity``, ``own_history``, ``item_knn``, ``als``, ``bpr``."""
    if key == "popularity":
        return Popularity()
    if key == "own_history":
        return OwnHistory()
    if key == "item_knn":
        return ItemKNN(params.get("neighbours", neighbours), threads)
    return Factors(key, seed=seed, threads=threads, **params)


# --------------------------------------------------------------------------- evaluation


def hits_matrix(recs: np.ndarray, truth: Truth) -> np.ndarray:
    """Boolean ``len(truth.users) x k``: whether each recommended product was bought."""
    rows = np.repeat(np.arange(len(recs)), recs.shape[1])
    cols = recs.ravel()
    valid = cols >= 0
    hit = np.zeros(len(cols), dtype=bool)
    hit[valid] = np.asarray(truth.matrix[rows[valid], cols[valid]]).ravel() > 0
    return hit.reshape(recs.shape)


def per_customer(recs: np.ndarray, truth: Truth) -> pd.DataFrame:
    """Precision, recall and NDCG at k of every evaluated customer (rows of ``truth``)."""
    k = recs.shape[1]
    hit = hits_matrix(recs, truth)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.minimum(truth.n_relevant, k) - 1]
    return pd.DataFrame(
        {
            "hits": hit.sum(axis=1),
            "precision": hit.sum(axis=1) / k,
            "recall": hit.sum(axis=1) / truth.n_relevant,
            "ndcg": (hit * discount).sum(axis=1) / ideal,
        }
    )


def ranking_metrics(recs: np.ndarray, truth: Truth, n_items: int) -> dict:
    """Precision@k, recall@k, NDCG@k (binary relevance), hit rate and catalogue coverage.

    Parameters
    ----------
    recs : numpy.ndarray
        ``len(truth.users) x k`` item positions (-1 = no recommendation).
    truth : Truth
        What the same customers bought in the window (:func:`window_truth`).
    n_items : int
        Catalogue size at the cutoff (coverage = distinct products recommended / it).

    Notes
    -----
    precision@k = hits / k; recall@k = hits / products bought in the window (those new to
    the catalogue included: no model could name them); NDCG@k divides by the ideal DCG of
    min(k, products bought) hits. Each is the mean over customers.
    """
    scores = per_customer(recs, truth)
    shown = np.unique(recs[recs >= 0])
    return {
        "precision": float(scores["precision"].mean()),
        "recall": float(scores["recall"].mean()),
        "ndcg": float(scores["ndcg"].mean()),
        "hit_rate": float((scores["hits"] > 0).mean()),
        "coverage": len(shown) / n_items if n_items else float("nan"),
        "customers": len(scores),
    }


def expand_grid(grid: Mapping[str, Mapping[str, list]]) -> list[tuple[str, dict]]:
    """``{"als": {"factors": [32, 64]}}`` -> ``[("als", {"factors": 32}), ("als", {...})]``."""
    out = []
    for key, options in grid.items():
        names = list(options)
        for values in itertools.product(*(options[n] for n in names)):
            out.append((key, dict(zip(names, values, strict=True))))
    return out


def settings_text(params: Mapping) -> str:
    """``{"factors": 64, "alpha": 10.0}`` -> ``"factors=64, alpha=10"``."""
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


@dataclass
class Stage:
    """One stage of the split: the history up to a cutoff and the window after it."""

    history: History
    truth: Truth


def make_stage(signals: pd.DataFrame, cutoff, end, repeats: bool, half_life=None) -> Stage:
    """History up to ``cutoff`` and what its customers bought in ``(cutoff, end]``.

    Raises NotApplicable when no customer with earlier history bought in that window.
    """
    history = build_history(signals, cutoff, half_life_days=half_life)
    truth = window_truth(signals, history, end, repeats)
    if len(truth.users) == 0:
        raise NotApplicable(
            tr(
                "no customer who bought before {cutoff} bought again in the window up to {end}, "
                "so recommendations cannot be judged; set a longer window_days or a later as_of",
                cutoff=f"{pd.Timestamp(cutoff):%Y-%m-%d}",
                end=f"{pd.Timestamp(end):%Y-%m-%d}",
            )
        )
    return Stage(history, truth)


def evaluate(stage: Stage, key: str, params: Mapping, k: int, repeats: bool, seed=0, threads=1):
    """Fit one recommender on the stage's history, judge it on its window.

    Returns the :func:`ranking_metrics` dict and the :func:`per_customer` table.
    """
    history, truth = stage.history, stage.truth
    model = make_model(key, seed, threads, **params).fit(history)
    recs, _ = model.recommend(history, truth.users, k, repeats)
    return ranking_metrics(recs, truth, len(history.items)), per_customer(recs, truth)


@dataclass
class Comparison:
    """Validation table (every candidate), test table (chosen + baselines) and the choice."""

    validation: pd.DataFrame
    test: pd.DataFrame
    chosen: str  # best non-baseline on validation
    shipped: str  # chosen, or the best validation baseline when chosen misses REQUIRED_LIFT
    best_baseline: str  # best baseline on the test window
    settings: dict  # method key -> settings dict (chosen on validation)
    per_customer: dict = field(default_factory=dict)  # method -> per-customer test scores
    test_users: pd.Index | None = None  # customer ids of the per-customer rows
    k: int = 10
    repeats: bool = True
    validation_lift: float = float("nan")  # chosen vs best baseline, validation recall
    note: str = ""  # methods of the grid left out of the choice, and why


def _candidates(grid: Mapping | None, neighbours: int) -> list[tuple[str, dict]]:
    base = [(b, {"neighbours": neighbours} if b == "item_knn" else {}) for b in BASELINES]
    return base + expand_grid(grid if grid is not None else DEFAULT_GRID)


def _choose(validation: pd.DataFrame) -> tuple[pd.Series, pd.Series, float]:
    """The best candidate and the best baseline by validation recall, and the lift between."""
    is_base = validation["method"].isin(BASELINES)
    bases = validation[is_base]
    models = validation[~is_base] if (~is_base).any() else bases
    best, base = models.loc[models["recall"].idxmax()], bases.loc[bases["recall"].idxmax()]
    gain = best["recall"] / base["recall"] - 1 if base["recall"] > 0 else float("inf")
    return best, base, float(gain)


@dataclass
class Choice:
    """What the validation window decided."""

    validation: pd.DataFrame  # every candidate and baseline, with its settings
    chosen: str  # best non-baseline
    shipped: str  # chosen, or the best baseline when chosen misses REQUIRED_LIFT
    settings: dict  # method key -> settings
    lift: float  # chosen vs best baseline, validation recall
    note: str = ""  # methods of the grid left out of the choice, and why


def choose_on_validation(
    signals: pd.DataFrame,
    split: Split,
    k: int = 10,
    repeats: bool = True,
    grid: Mapping | None = None,
    seed: int = 0,
    threads: int = 1,
    neighbours: int = 50,
    max_factor_cells: float | None = MAX_FACTOR_CELLS,
) -> Choice:
    """Fit every candidate of ``grid`` and every baseline on history up to ``t0``; judge
    them on ``(t0, t1]``; choose. Reads nothing after ``t1``.

    ALS and BPR are left out (with a note saying so) when the history has more than
    ``max_factor_cells`` customers x products (None: never).
    """
    stage = make_stage(signals, split.t0, split.t1, repeats)
    candidates, note = _size_rule(_candidates(grid, neighbours), stage.history, max_factor_cells)
    rows = []
    for key, params in candidates:
        scores, _ = evaluate(stage, key, params, k, repeats, seed, threads)
        rows.append({"method": key, "settings": settings_text(params), **scores, "params": params})
    validation = pd.DataFrame(rows)
    best, base, gain = _choose(validation)
    chosen = str(best["method"])
    shipped = chosen if gain >= REQUIRED_LIFT else str(base["method"])
    is_base = validation["method"].isin(BASELINES)
    settings = dict(
        zip(validation.loc[is_base, "method"], validation.loc[is_base, "params"], strict=True)
    )
    settings[chosen] = best["params"]
    return Choice(validation.drop(columns="params"), chosen, shipped, settings, gain, note)


def _size_rule(candidates: list, history: History, max_cells: float | None) -> tuple[list, str]:
    """The candidates without the factor models when the history is too large to score densely."""
    cells = len(history.users) * len(history.items)
    dropped = [key for key, _ in candidates if key in FACTOR_MODELS]
    if max_cells is None or cells <= max_cells or not dropped:
        return candidates, ""
    note = tr(
        "ALS and BPR were not tried: {customers} customers × {products} products is more than "
        "max_factor_cells ({limit}), and they score every product for every customer "
        "(minutes per setting at this size); raise max_factor_cells to try them.",
        customers=f"{len(history.users):,}",
        products=f"{len(history.items):,}",
        limit=f"{max_cells:,.0f}",
    )
    return [(key, p) for key, p in candidates if key not in FACTOR_MODELS], note


def compare_methods(
    signals: pd.DataFrame,
    split: Split,
    k: int = 10,
    repeats: bool = True,
    grid: Mapping | None = None,
    seed: int = 0,
    threads: int = 1,
    neighbours: int = 50,
    max_factor_cells: float | None = MAX_FACTOR_CELLS,
) -> Comparison:
    """Choose the method and settings on validation; report them and the baselines on test.

    Every candidate of ``grid`` (default :data:`DEFAULT_GRID`) and every baseline is fitted
    on history up to ``t0`` and judged on ``(t0, t1]`` (:func:`choose_on_validation`). The
    best candidate by recall@k is *chosen*; it is *shipped* when it beats the best baseline
    by :data:`REQUIRED_LIFT` on validation, else that baseline is shipped. Then the chosen
    method and the baselines are refitted on history up to ``t1`` and judged on the
    untouched ``(t1, as_of]``: the test window decides nothing. ALS and BPR are left out
    above ``max_factor_cells`` customers x products (``note`` says so).
    """
    choice = choose_on_validation(
        signals, split, k, repeats, grid, seed, threads, neighbours, max_factor_cells
    )
    stage = make_stage(signals, split.t1, split.as_of, repeats)
    test_rows, per = [], {}
    for key in dict.fromkeys([choice.chosen, *BASELINES]):
        params = choice.settings[key]
        scores, per[key] = evaluate(stage, key, params, k, repeats, seed, threads)
        test_rows.append({"method": key, "settings": settings_text(params), **scores})
    test = pd.DataFrame(test_rows)
    bases = test[test["method"].isin(BASELINES)]
    return Comparison(
        validation=choice.validation,
        test=test,
        chosen=choice.chosen,
        shipped=choice.shipped,
        best_baseline=str(bases.loc[bases["recall"].idxmax(), "method"]),
        settings=choice.settings,
        per_customer=per,
        test_users=stage.history.users[stage.truth.users],
        k=k,
        repeats=repeats,
        validation_lift=choice.lift,
        note=choice.note,
    )


def results_table(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """Validation or test table for display: labelled methods, metrics at k."""
    out = table.copy()
    out.insert(0, "method ", out["method"].map(method_label))
    out = out.rename(
        columns={
            "precision": f"precision@{k}",
            "recall": f"recall@{k}",
            "ndcg": f"NDCG@{k}",
            "hit_rate": "hit rate",
        }
    )
    return out.drop(columns="method").rename(columns={"method ": "method"}).set_index("method")


def lift(comparison: Comparison, key: str | None = None) -> float:
    """Relative recall@k of ``key`` (default the shipped method) over the best test baseline."""
    test = comparison.test.set_index("method")["recall"]
    base = test[comparison.best_baseline]
    return float(test[key or comparison.shipped] / base - 1) if base > 0 else float("nan")


# --------------------------------------------------------------------------- recommendations now


NAME_COLUMNS = ("description", "product_name", "item_name", "product_title", "title")


def product_names(frame: pd.DataFrame | None, column: str | None = None) -> pd.Series:
    """Product id -> name (its most frequent text in ``column``, default the first of
    :data:`NAME_COLUMNS` present, case-insensitive). Empty when there is no such column."""
    if frame is None or "product_id" not in frame.columns:
        return pd.Series(dtype="str", name="product")
    if column is None:
        lower = {c.lower(): c for c in frame.columns}
        column = next((lower[n] for n in NAME_COLUMNS if n in lower), None)
    if column is None or column not in frame.columns:
        return pd.Series(dtype="str", name="product")
    pairs = frame[["product_id", column]].dropna().astype(str)
    pairs[column] = pairs[column].str.strip()
    counts = pairs.value_counts().reset_index(name="n")
    names = counts.drop_duplicates("product_id").set_index("product_id")[column]
    return names.rename("product")


def name_of(product_ids, names: pd.Series) -> np.ndarray:
    """Names of ``product_ids`` (the id itself when the name is unknown)."""
    codes, uniques = pd.factorize(np.asarray(product_ids, dtype=object))
    ids = pd.Series(np.asarray(uniques, dtype=object))  # each product once (10M rows: 50k)
    mapped = ids.map(names).astype(object)
    named = mapped.where(mapped.notna(), ids).to_numpy()
    return named[codes] if len(codes) else np.asarray([], dtype=object)


@dataclass
class Final:
    """The shipped method refitted on everything up to ``as_of``."""

    key: str
    history: History
    model: object
    neighbours: ItemKNN  # co-purchase neighbours for the reasons, fitted on first use

    def similarity(self) -> sp.csr_matrix:
        """The item-kNN similarity behind "often bought with X" (fitted once, when asked)."""
        if self.neighbours.similarity is None:
            self.neighbours.fit(self.history)
        return self.neighbours.similarity


def fit_final(
    signals: pd.DataFrame, as_of, key: str, params: Mapping, seed=0, threads=1, neighbours=50
) -> Final:
    """Refit the shipped method (``key`` with ``params``) on all history up to ``as_of``."""
    history = build_history(signals, as_of)
    model = make_model(key, seed, threads, **params).fit(history)
    knn = model if isinstance(model, ItemKNN) else ItemKNN(neighbours, threads)
    return Final(key, history, model, knn)


def recommend_all(final: Final, k: int = 10, repeats: bool = True) -> pd.DataFrame:
    """Top-``k`` for every customer with history at ``as_of``.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``rank`` (1 = best), ``product_id``, ``score`` (the method's own
        scale: purchase days, buyers, similarity or model score), one row per recommendation.
    """
    history = final.history
    users = np.arange(len(history.users))
    items, scores = final.model.recommend(history, users, k, repeats)
    rows = np.repeat(users, k)
    flat = items.ravel()
    keep = flat >= 0
    return pd.DataFrame(
        {
            "customer_id": history.users[rows[keep]],
            "rank": np.tile(np.arange(1, k + 1), len(users))[keep],
            "product_id": history.items[flat[keep]],
            "score": scores.ravel()[keep],
        }
    )


def _best_anchor(history: History, similarity: sp.csr_matrix, u: np.ndarray, i: np.ndarray):
    """For each (customer row u, product i): the customer's bought product most similar to i."""
    anchor = np.full(len(u), -1, dtype="int64")
    best = np.zeros(len(u))
    for start in range(0, len(u), 200_000):
        uu, ii = u[start : start + 200_000], i[start : start + 200_000]
        own = history.bought[uu].tocoo()  # row r of `own` belongs to pair start + r
        if own.nnz == 0:
            continue
        sim = np.asarray(similarity[own.col, ii[own.row]]).ravel()
        # per pair (own.row is sorted): its most similar own product, the first one on ties
        starts = np.flatnonzero(np.r_[True, own.row[1:] != own.row[:-1]])
        best_sim = np.maximum.reduceat(sim, starts)
        top = sim == np.repeat(best_sim, np.diff(np.r_[starts, len(sim)]))
        rows, cols, sim = own.row[top], own.col[top], sim[top]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        rows, cols, sim = rows[first], cols[first], sim[first]
        pos = start + rows
        ok = (sim > 0) & (cols != ii[rows])
        anchor[pos[ok]], best[pos[ok]] = cols[ok], sim[ok]
    return anchor, best


def explain(
    final: Final, recs: pd.DataFrame, names: pd.Series | None = None, chunk: int = 1_000_000
) -> pd.Series:
    """A reason in words for every recommendation of :func:`recommend_all`.

    In order: "bought it N times before"; "often bought with X" (X: the customer's own
    product most similar by co-purchase); "viewed or carted it"; "popular in the last D days".

    The reasons are built ``chunk`` rows at a time (100,000 customers' top-10 lists by
    default) and each distinct sentence is made once and shared by every row that gives it:
    10M recommendations then hold a few thousand strings instead of 10M (the whole-frame
    version peaked at 7.3 GB at 1M customers). Each row's reason depends on its own customer
    and product only, so the result does not depend on ``chunk``.
    """
    history = final.history
    names = names if names is not None else pd.Series(dtype="str")
    similarity = final.similarity()
    u_all = history.users.get_indexer(recs["customer_id"])
    i_all = history.items.get_indexer(recs["product_id"])
    reason = np.empty(len(recs), dtype=object)
    texts = _ReasonTexts(history, names)
    for start in range(0, len(recs), max(1, int(chunk))):
        u, i = u_all[start : start + chunk], i_all[start : start + chunk]
        reason[start : start + len(u)] = texts.rows(history, similarity, u, i)
    return pd.Series(reason, index=recs.index, name="reason")


class _ReasonTexts:
    """The sentences of :func:`explain`, each made once (by repeat count, by anchor product)."""

    def __init__(self, history: History, names: pd.Series):
        self.names = names
        self.popular = tr("popular in the last {d} days", d=history.popular_days)
        self.seen = tr("viewed or carted it")
        self.with_text = tr("often bought with {name}", name="\0")
        self.once, self.many = tr("bought it once before"), tr("bought it {n} times before", n="\0")
        self.anchors: dict[int, str] = {}
        self.repeats: dict[int, str] = {1: self.once}

    def rows(self, history: History, similarity, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """The reason of each (customer row ``u``, product ``i``) pair."""
        times = np.asarray(history.bought[u, i]).ravel().astype("int64")
        seen = np.asarray(history.confidence[u, i]).ravel()
        anchor, _ = _best_anchor(history, similarity, u, i)
        out = np.full(len(u), self.popular, dtype=object)
        out[seen > 0] = self.seen
        has_anchor = anchor >= 0
        out[has_anchor] = self._shared(anchor[has_anchor], self.anchors, self._anchor, history)
        repeat = times > 0
        out[repeat] = self._shared(times[repeat], self.repeats, self._repeat, history)
        return out

    @staticmethod
    def _shared(keys: np.ndarray, cache: dict, make, history: History) -> np.ndarray:
        """One string per distinct key (cached across chunks), spread over the rows."""
        uniques, where = np.unique(keys, return_inverse=True)
        missing = [int(k) for k in uniques if int(k) not in cache]
        cache.update(zip(missing, make(np.asarray(missing, dtype="int64"), history), strict=True))
        made = np.empty(len(uniques), dtype=object)
        made[:] = [cache[int(k)] for k in uniques]
        return made[where]

    def _anchor(self, anchors: np.ndarray, history: History) -> list[str]:
        found = name_of(history.items[anchors], self.names) if len(anchors) else []
        return [self.with_text.replace("\0", str(n)) for n in found]

    def _repeat(self, times: np.ndarray, history: History) -> list[str]:
        return [self.once if t == 1 else self.many.replace("\0", f"{int(t)}") for t in times]


def recommendations_export(
    recs: pd.DataFrame, reasons: pd.Series, names: pd.Series, anonymize: bool
) -> pd.DataFrame:
    """``recommendations.csv``: customer, rank, product id and name, score, reason."""
    from analysis.privacy import display_ids

    out = recs.assign(product=name_of(recs["product_id"], names), reason=reasons.to_numpy())
    out = out[["customer_id", "rank", "product_id", "product", "score", "reason"]]
    return display_ids(out, anonymize)


def sample_table(
    export: pd.DataFrame, customers: int = 3, k: int = 5, seed: int = 0
) -> pd.DataFrame:
    """A few customers' top-``k`` (ids already displayed as in the export)."""
    chosen = pd.Series(export["customer_id"].unique()).sample(
        min(customers, export["customer_id"].nunique()), random_state=seed
    )
    table = export[export["customer_id"].isin(chosen) & (export["rank"] <= k)]
    return table.drop(columns=["score"]).set_index(["customer_id", "rank"])


# --------------------------------------------------------------------------- bought together


def baskets(frame: pd.DataFrame, max_items: int = 50) -> tuple[sp.csr_matrix, pd.Index, int]:
    """Orders as a sparse basket x product matrix (order id, else customer and day).

    Baskets with more than ``max_items`` distinct products (restocking orders) are left out,
    so that itemsets do not explode; returns the matrix, the product index and how many
    baskets were left out.
    """
    if "product_id" not in frame.columns:
        raise NotApplicable(tr("the purchase log has no product_id column; map one with --column"))
    if "order_id" in frame.columns:
        basket = frame["order_id"].astype(str)
    else:
        basket = frame["customer_id"].astype(str) + "|" + frame["order_date"].dt.date.astype(str)
    pairs = pd.DataFrame({"b": basket.to_numpy(), "p": frame["product_id"].astype(str).to_numpy()})
    pairs = pairs.drop_duplicates()
    size = pairs.groupby("b")["p"].transform("size")
    dropped = int(pairs.loc[size > max_items, "b"].nunique())
    pairs = pairs[size <= max_items]
    b_codes, _ = pd.factorize(pairs["b"])
    p_codes, products = pd.factorize(pairs["p"])
    matrix = sp.csr_matrix(
        (np.ones(len(pairs), dtype=bool), (b_codes, p_codes)),
        shape=(b_codes.max() + 1 if len(b_codes) else 0, len(products)),
    )
    return matrix, pd.Index(products, name="product_id"), dropped


def basket_rules(
    frame: pd.DataFrame,
    min_support: float = 0.01,
    max_len: int = 2,
    max_items: int = 50,
    min_lift: float = 1.0,
) -> tuple[pd.DataFrame, dict]:
    """Association rules "who buys A also buys B" from orders, with mlxtend's FP-growth.

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean transactions (``product_id``; ``order_id`` when present).
    min_support : float
        Share of baskets an itemset must appear in; products below it are dropped before
        FP-growth (they cannot be in a frequent itemset), which keeps a large catalogue fast.
    max_len : int
        Longest itemset (2: one product -> one product).
    max_items : int
        Baskets with more distinct products are left out (see :func:`baskets`).
    min_lift : float
        Keep rules whose lift is at least this (1 = as likely as chance).

    Returns
    -------
    (pandas.DataFrame, dict)
        Rules sorted by lift: ``antecedent``, ``consequent`` (product ids joined by ``" + "``),
        ``support``, ``confidence``, ``lift``, ``leverage``, ``orders`` (baskets holding both);
        and facts: ``baskets``, ``left_out`` (large baskets), ``products`` considered.
    """
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    matrix, products, left_out = baskets(frame, max_items)
    n = matrix.shape[0]
    facts = {"baskets": n, "left_out": left_out, "products": 0, "min_support": min_support}
    columns = ["antecedent", "consequent", "support", "confidence", "lift", "leverage", "orders"]
    if n == 0:
        return pd.DataFrame(columns=columns), facts
    support = np.asarray(matrix.sum(axis=0)).ravel() / n
    keep = np.flatnonzero(support >= min_support)
    facts["products"] = len(keep)
    if len(keep) < 2:
        return pd.DataFrame(columns=columns), facts
    onehot = pd.DataFrame.sparse.from_spmatrix(matrix[:, keep], columns=products[keep])
    itemsets = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=max_len)
    if (itemsets["itemsets"].map(len) > 1).sum() == 0:
        return pd.DataFrame(columns=columns), facts
    rules = association_rules(itemsets, num_itemsets=n, metric="lift", min_threshold=min_lift)
    out = pd.DataFrame(
        {
            "antecedent": rules["antecedents"].map(lambda s: " + ".join(sorted(s))),
            "consequent": rules["consequents"].map(lambda s: " + ".join(sorted(s))),
            "support": rules["support"],
            "confidence": rules["confidence"],
            "lift": rules["lift"],
            "leverage": rules["leverage"],
            "orders": np.rint(rules["support"] * n).astype("int64"),
        }
    )
    out = out.sort_values(["lift", "support"], ascending=False, ignore_index=True)
    return out, facts


def _named(ids: pd.Series, names: pd.Series) -> pd.Series:
    return ids.map(lambda s: " + ".join(name_of(s.split(" + "), names)))


def rules_table(rules: pd.DataFrame, names: pd.Series, top: int = 15) -> pd.DataFrame:
    """The strongest rules with product names, for the report; a pair shown once (its more
    confident direction), since A -> B and B -> A share their lift."""
    pair = [
        " | ".join(sorted((a, b)))
        for a, b in zip(rules["antecedent"], rules["consequent"], strict=True)
    ]
    ordered = rules.assign(pair=pair).sort_values(["lift", "confidence"], ascending=False)
    head = ordered.drop_duplicates("pair").head(top)
    return pd.DataFrame(
        {
            "who buys": _named(head["antecedent"], names),
            "also buys": _named(head["consequent"], names),
            "orders": head["orders"],
            "confidence": head["confidence"],
            "lift": head["lift"],
        }
    )


def also_bought(rules: pd.DataFrame, names: pd.Series, top: int = 3) -> pd.DataFrame:
    """Per product: the ``top`` products its buyers also bought, by confidence (single items)."""
    single = rules[
        ~rules["antecedent"].str.contains(r" \+ ") & ~rules["consequent"].str.contains(r" \+ ")
    ]
    single = single.sort_values(["antecedent", "confidence"], ascending=[True, False])
    single = single.groupby("antecedent").head(top)
    out = single.assign(
        product=_named(single["antecedent"], names), also=_named(single["consequent"], names)
    )
    out["rank"] = out.groupby("antecedent").cumcount() + 1
    return out


def bought_together_export(rules: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """``bought_together.csv``: every rule with ids, names and measures (no customer data)."""
    return rules.assign(
        antecedent_name=_named(rules["antecedent"], names),
        consequent_name=_named(rules["consequent"], names),
    )[
        ["antecedent", "antecedent_name", "consequent", "consequent_name",
         "orders", "support", "confidence", "lift", "leverage"]
    ]  # fmt: skip


# --------------------------------------------------------------------------- segments


def customer_segments(frame: pd.DataFrame | None, signals: pd.DataFrame, cutoff) -> pd.Series:
    """Segment of every customer at ``cutoff``: RFM segment from :mod:`analysis.segmentation`
    when the purchase log has amounts, else a purchase-day tier (1, 2-3, 4-9, 10+ days).

    Reads nothing after ``cutoff``.
    """
    from analysis import segmentation
    from analysis.summary import customer_summary

    cutoff = pd.Timestamp(cutoff)
    if frame is not None and "amount" in frame.columns:
        past = frame[frame["order_date"] < cutoff + pd.Timedelta(days=1)]
        if past["customer_id"].nunique() >= 10:
            try:
                summary = customer_summary(past, cutoff, time_unit="D")
                out = segmentation.rfm_segments(summary)["segment"]
                out.index = out.index.astype(str)
                return out.rename("segment")
            except (ValueError, ArithmeticError):
                pass
    buys = signals[(signals["signal"] == "purchase") & (signals["day"] <= cutoff)]
    days = buys.drop_duplicates(["customer_id", "day"]).groupby("customer_id").size()
    tiers = pd.cut(days, [0, 1, 3, 9, np.inf], labels=list(PURCHASE_DAY_TIERS))
    return tiers.rename("segment")


def segment_table(comparison: Comparison, segments: pd.Series) -> pd.DataFrame:
    """Recall@k of every tested method by customer segment, on the test window.

    Columns: ``customers`` evaluated, one ``recall@k`` column per method (labelled), and
    ``hit rate`` of the shipped method (share of customers who bought at least one of
    their recommendations). Segments without evaluated customers are left out.
    """
    seg = segments.reindex(comparison.test_users.astype(str))
    missing = tr("no purchase yet")  # events only, or bought first in the window's history day
    if hasattr(seg, "cat"):
        seg = seg.cat.add_categories(missing)
    seg = seg.fillna(missing)
    frame = pd.DataFrame({"segment": seg.to_numpy()})
    for key, each in comparison.per_customer.items():
        frame[LABELS.get(key, key)] = each["recall"].to_numpy()
    frame["hit rate"] = (comparison.per_customer[comparison.shipped]["hits"] > 0).to_numpy()
    grouped = frame.groupby("segment", observed=True)
    table = grouped.mean()
    table.insert(0, "customers", grouped.size())
    table = table[table["customers"] > 0]
    return table.rename(index=segment_label)


def segment_takeaway(table: pd.DataFrame, comparison: Comparison) -> str:
    """Which segments the shipped recommendations serve well, and which poorly."""
    col = LABELS[comparison.shipped] if comparison.shipped in LABELS else comparison.shipped
    big = table[table["customers"] >= max(5, 0.02 * table["customers"].sum())]
    if big.empty:
        return tr("Too few customers per segment to compare them.")
    overall = np.average(table[col], weights=table["customers"])
    best, worst = big[col].idxmax(), big[col].idxmin()
    return tr(
        "The recommendations serve **{best}** best (recall@{k} {rb} against {ro} overall, "
        "{n} customers) and **{worst}** worst ({rw}). Where recall is low, the history says "
        "little about the next order: use broad offers (what is popular now) there and "
        "personal lists where they work.",
        best=md_text(best),
        worst=md_text(worst),
        k=comparison.k,
        rb=pct(big.loc[best, col], 1),
        ro=pct(overall, 1),
        rw=pct(big.loc[worst, col], 1),
        n=f"{int(big.loc[best, 'customers']):,}",
    )


# --------------------------------------------------------------------------- metrics, words


def recommend_metrics(comparison: Comparison, customers_scored: int) -> dict:
    """The ``recommendations`` entry of ``metrics.json`` (test window, shipped method)."""
    test = comparison.test.set_index("method")
    shipped = test.loc[comparison.shipped]
    return {
        "method": comparison.shipped,
        "chosen_model": comparison.chosen,
        "k": comparison.k,
        "recall_at_k": shipped["recall"],
        "precision_at_k": shipped["precision"],
        "ndcg_at_k": shipped["ndcg"],
        "coverage": shipped["coverage"],
        "baseline_recall_at_k": {b: test.loc[b, "recall"] for b in BASELINES},
        "lift_vs_best_baseline": lift(comparison),
        "chosen_model_lift": lift(comparison, comparison.chosen),
        "validation_lift": comparison.validation_lift,
        "repeats_allowed": comparison.repeats,
        "customers_evaluated": int(shipped["customers"]),
        "customers_scored": int(customers_scored),
    }


def _days(first: pd.Timestamp, last: pd.Timestamp) -> str:
    """``"10 Nov 2011 - 09 Dec 2011"``, or one day alone."""
    if first == last:
        return date_label(first)
    return f"{date_label(first)} – {date_label(last)}"


def split_takeaway(split: Split, comparison: Comparison, share: float, note: str = "") -> str:
    """The split and the repeat decision in one paragraph."""
    test = comparison.test.set_index("method")
    valid = comparison.validation.set_index("method")
    repeat = (
        tr("so products a customer bought before **may** be recommended again")
        if comparison.repeats
        else tr("so only products new to each customer are recommended")
    )
    one = pd.Timedelta(days=1)
    return tr(
        "Methods are chosen on {nv} customers who bought in {a} and reported on {nt} "
        "customers who bought in {b}, a window no choice looked at. In the validation window "
        "{share} of returning customers' purchases were products they had bought before, "
        "{repeat}.",
        nv=f"{int(valid['customers'].iloc[0]):,}",
        nt=f"{int(test['customers'].iloc[0]):,}",
        a=_days(split.t0 + one, split.t1),
        b=_days(split.t1 + one, split.as_of),
        share=pct(share),
        repeat=repeat,
    ) + (f" {note}" if note else "")


def comparison_takeaway(comparison: Comparison) -> str:
    """Whether the chosen model beat the baselines, in words, with the numbers."""
    test = comparison.test.set_index("method")["recall"]
    k, chosen, base = comparison.k, comparison.chosen, comparison.best_baseline
    model_lift = lift(comparison, chosen)
    text = tr(
        "On the untouched window the best model, **{model}** ({settings}, chosen on "
        "validation), reaches recall@{k} {rm}; the best baseline, **{base}**, {rb}: a "
        "{sign}{lift} relative difference.",
        model=method_label(chosen),
        settings=comparison.test.set_index("method").loc[chosen, "settings"] or tr("defaults"),
        k=k,
        rm=pct(test[chosen], 1),
        base=method_label(base),
        rb=pct(test[base], 1),
        sign="+" if model_lift >= 0 else "",
        lift=pct(model_lift, 0),
    )
    if comparison.shipped == chosen:
        text = sentences(
            text,
            tr(
                "It beat the best baseline by at least {req} on validation and is the method "
                "shipped.",
                req=pct(REQUIRED_LIFT),
            ),
        )
        if model_lift < REQUIRED_LIFT:
            text = sentences(
                text,
                tr(
                    "On the test window it falls short of that margin: treat the gain as uncertain."
                ),
            )
    else:
        text = sentences(
            text,
            tr(
                "No model beat the best baseline by {req} on validation (it managed {v}), so the "
                "recommendations shipped are the baseline's: **{shipped}**. The target (a model "
                "{req} better than the best baseline) is **not met** on this data.",
                req=pct(REQUIRED_LIFT),
                v=pct(comparison.validation_lift, 0),
                shipped=method_label(comparison.shipped),
            ),
        )
    return text


def rules_takeaway(rules: pd.DataFrame, facts: Mapping, names: pd.Series) -> str:
    """The strongest bought-together pair and what the rules cover, in words."""
    if rules.empty:
        return tr(
            "No pair of products reaches {s} of the {n} baskets: lower min_support to see "
            "weaker links.",
            s=pct(facts["min_support"], 1),
            n=f"{facts['baskets']:,}",
        )
    top = rules.iloc[0]
    return tr(
        "{r} rules link {p} products that each appear in at least {s} of {n} baskets "
        "({lo} baskets with more than the cap of distinct products were left out). The "
        "strongest: buyers of **{a}** buy **{b}** in the same order {c} of the time, "
        "{lift:.0f} times more often than shoppers at large. Place such pairs together, "
        "bundle them, or suggest the second at checkout.",
        r=f"{len(rules):,}",
        p=f"{facts['products']:,}",
        s=pct(facts["min_support"], 1),
        n=f"{facts['baskets']:,}",
        lo=f"{facts['left_out']:,}",
        a=md_text(_named(pd.Series([top["antecedent"]]), names).iloc[0]),
        b=md_text(_named(pd.Series([top["consequent"]]), names).iloc[0]),
        c=pct(top["confidence"]),
        lift=top["lift"],
    )


def findings(metrics: Mapping, comparison: Comparison, segment_text: str) -> str:
    """The notebook's closing bullets."""
    k = metrics["k"]
    shipped = method_label(metrics["method"])
    met = metrics["method"] not in BASELINES and metrics["lift_vs_best_baseline"] >= REQUIRED_LIFT
    lines = [
        tr(
            "- **Shipped: {m}.** On the untouched window it finds {r} of what a customer buys "
            "next in its top {k} (precision@{k} {p}, NDCG@{k} {n}), covering {c} of the "
            "catalogue.",
            m=shipped,
            r=pct(metrics["recall_at_k"], 1),
            k=k,
            p=pct(metrics["precision_at_k"], 1),
            n=f"{metrics['ndcg_at_k']:.3f}",
            c=pct(metrics["coverage"], 1),
        ),
        tr(
            "- **Target {state}:** a model {req} better than the best baseline on recall@{k}. "
            "The best model managed {lift} on the test window.",
            state=tr("met") if met else tr("not met"),
            req=pct(REQUIRED_LIFT),
            k=k,
            lift=pct(metrics["chosen_model_lift"], 0),
        ),
        f"- {segment_text}",
        tr(
            "- `{file}` holds the top {k} of {n} customers with a reason each; "
            "`bought_together.csv` every bought-together rule.",
            file=i18n.file_name("recommendations.csv"),
            k=k,
            n=f"{metrics['customers_scored']:,}",
        ),
    ]
    return "\n".join(lines)
