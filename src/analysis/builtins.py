"""How the built-in real datasets in ``data/`` were made from the shared raw files.

The Parquet files are shipped; :func:`build_builtins` rebuilds them (values unchanged,
only joined and typed) from the raw files whose provenance ``data/README.md`` gives:
``olist_sample/`` (Olist, CC BY-NC-SA 4.0), ``olist_leads/`` (same licence) and
``taobao_user_behavior_sample.csv`` (Alibaba Tianchi UserBehavior, research use,
Zhu et al. KDD 2018).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.config import DATA_DIR

#: File name of each built-in table in ``data/``.
FILES = {
    "olist_orders": "olist_orders.parquet",
    "olist_customers": "olist_customers.parquet",
    "olist_reviews": "olist_reviews.parquet",
    "taobao_events": "taobao_events.parquet",
    "olist_leads": "olist_leads.parquet",
}


def _olist(folder: Path) -> dict[str, pd.DataFrame]:
    def read(name: str, **kw) -> pd.DataFrame:
        return pd.read_csv(folder / f"olist_{name}_dataset.csv", **kw)

    orders = read(
        "orders",
        parse_dates=[
            "order_purchase_timestamp",
            "order_delivered_customer_date",
            "order_estimated_delivery_date",
        ],
    )
    people = read("customers", dtype=str)
    items = read("order_items", dtype={"order_item_id": "int64"})
    products = read("products", usecols=["product_id", "product_category_name"])
    english = pd.read_csv(folder / "product_category_name_translation.csv")
    products = products.merge(english, on="product_category_name", how="left")
    orders = orders.merge(people[["customer_id", "customer_unique_id", "customer_state"]])
    lines = items.merge(orders, on="order_id").merge(products, on="product_id", how="left")
    lines = lines[
        [
            "customer_unique_id",
            "order_id",
            "order_item_id",
            "order_purchase_timestamp",
            "price",
            "freight_value",
            "product_id",
            "product_category_name_english",
            "customer_state",
            "order_status",
            "order_delivered_customer_date",
            "order_estimated_delivery_date",
        ]
    ].sort_values(["order_purchase_timestamp", "order_id", "order_item_id"])
    reviews = read("order_reviews", parse_dates=["review_creation_date", "review_answer_timestamp"])
    reviews = reviews.merge(orders[["order_id", "customer_unique_id"]], on="order_id", how="left")
    customers = people[["customer_unique_id", "customer_city", "customer_state"]]
    return {
        "olist_orders": lines.reset_index(drop=True),
        "olist_customers": customers.reset_index(drop=True),
        "olist_reviews": reviews.reset_index(drop=True),
    }


def _leads(folder: Path) -> pd.DataFrame:
    leads = pd.read_csv(
        folder / "olist_marketing_qualified_leads_dataset.csv", parse_dates=["first_contact_date"]
    )
    deals = pd.read_csv(
        folder / "olist_closed_deals_dataset.csv",
        usecols=["mql_id", "won_date", "business_segment", "lead_type", "business_type"],
        parse_dates=["won_date"],
    )
    return leads.merge(deals, on="mql_id", how="left")


def _taobao(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path,
        header=None,
        names=["user_id", "item_id", "category_id", "behavior_type", "timestamp"],
        dtype={"user_id": str, "item_id": str, "category_id": str, "behavior_type": str},
    )


def build_builtins(shared: str | Path, out: str | Path = DATA_DIR) -> dict[str, Path]:
    """Write the built-in tables' Parquet files (zstd) from the shared raw data.

    Parameters
    ----------
    shared : str or Path
        The folder holding ``olist_sample/``, ``olist_leads/`` and
        ``taobao_user_behavior_sample.csv``.
    out : str or Path
        Where to write them (default ``data/``).

    Returns
    -------
    dict
        Built-in table name -> path written.
    """
    shared, out = Path(shared), Path(out)
    frames = _olist(shared / "olist_sample")
    frames["olist_leads"] = _leads(shared / "olist_leads")
    frames["taobao_events"] = _taobao(shared / "taobao_user_behavior_sample.csv")
    written = {}
    for name, frame in frames.items():
        path = out / FILES[name]
        frame.to_parquet(path, compression="zstd", index=False)
        written[name] = path
    return written


def read_builtin(name: str) -> pd.DataFrame:
    """One shipped built-in table, as stored."""
    return pd.read_parquet(DATA_DIR / FILES[name])
