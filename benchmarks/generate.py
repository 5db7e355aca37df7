"""Realistic purchase logs simulated from known BG/NBD and Gamma-Gamma parameters.

Each customer makes a first purchase at a uniformly drawn time in the first
``birth_weeks`` weeks, then repeat purchases as a Poisson process of rate
``lambda ~ Gamma(r, alpha)``; after each repeat purchase they become inactive with
probability ``p ~ Beta(a, b)`` (BG/NBD, Fader, Hardie & Lee 2005). The amount of a
purchase is ``Gamma(p_gg, nu)`` with the customer's ``nu ~ Gamma(q_gg, gamma)``
(Gamma-Gamma). Defaults are the published CDNOW estimates, so a log of N customers
has about 3N orders over 78 weeks, like the CDNOW master file.

Each order has 1-3 lines (products drawn from a long-tailed catalogue of 2,000
products in 20 categories, a quantity and a unit price), a channel (each customer
has a usual one) and the customer's region; 0.5 % of orders are later returned
(a cancellation line with order id ``C<order>`` and a negative amount), which the
loader's default policy drops.

Usage::

    python benchmarks/generate.py 1000000 /tmp/bench/log_1m.parquet [--seed 1]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Truth:
    """The parameters the log is drawn from (BG/NBD per week; Gamma-Gamma)."""

    r: float = 0.243
    alpha: float = 4.414
    a: float = 0.793
    b: float = 2.426
    p_gg: float = 6.25
    q_gg: float = 3.74
    gamma_gg: float = 15.44
    birth_weeks: float = 12.0
    weeks: float = 78.0
    start: str = "2023-01-02"


CHANNELS = np.array(["online", "store", "phone"])
CHANNEL_SHARE = np.array([0.6, 0.3, 0.1])
REGIONS = np.array(
    ["North", "South", "East", "West", "Central", "Scotland", "Wales", "Ireland", "Export"]
)
REGION_SHARE = np.array([0.2, 0.18, 0.15, 0.15, 0.12, 0.08, 0.05, 0.04, 0.03])
N_PRODUCTS = 2000
CATEGORIES = np.array(
    [
        "Kitchen",
        "Garden",
        "Toys",
        "Stationery",
        "Lighting",
        "Textiles",
        "Candles",
        "Party",
        "Storage",
        "Bags",
        "Jewellery",
        "Clocks",
        "Frames",
        "Ceramics",
        "Christmas",
        "Baby",
        "Pets",
        "Bath",
        "Travel",
        "Gifts",
    ]
)


def simulate_times(rng: np.random.Generator, n: int, truth: Truth):
    """Purchase times (weeks since start) of ``n`` customers.

    Returns
    -------
    customer : ndarray of int
        Customer index of each purchase (first purchases included).
    week : ndarray of float
        Time of the purchase, in weeks since ``truth.start``.
    """
    lam = rng.gamma(truth.r, 1.0 / truth.alpha, n)
    p = rng.beta(truth.a, truth.b, n)
    birth = rng.uniform(0.0, truth.birth_weeks, n)
    customers = [np.arange(n)]
    weeks = [birth]
    idx = np.arange(n)
    t = birth.copy()
    alive = lam > 0
    while idx.size:
        idx, t = idx[alive], t[alive]
        t = t + rng.exponential(1.0, idx.size) / lam[idx]
        inside = t <= truth.weeks
        idx, t = idx[inside], t[inside]
        customers.append(idx)
        weeks.append(t)
        alive = rng.random(idx.size) >= p[idx]  # drop out after this repeat purchase
    return np.concatenate(customers), np.concatenate(weeks)


def _strings(values: np.ndarray, prefix: str = "") -> pa.Array:
    text = pa.array(values).cast(pa.string())
    if not prefix:
        return text
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def simulate_chunk(
    rng: np.random.Generator, n: int, first_id: int, first_order: int, truth: Truth
) -> pa.Table:
    """Order lines of customers ``first_id ..`` (orders numbered from ``first_order``)."""
    cust, week = simulate_times(rng, n, truth)
    n_orders = cust.size
    nu = rng.gamma(truth.q_gg, 1.0 / truth.gamma_gg, n)
    spend = rng.gamma(truth.p_gg, 1.0 / nu[cust])
    home_channel = rng.choice(3, n, p=CHANNEL_SHARE)
    channel = np.where(
        rng.random(n_orders) < 0.85, home_channel[cust], rng.integers(0, 3, n_orders)
    )
    region = rng.choice(REGIONS.size, n, p=REGION_SHARE)
    order_no = np.arange(n_orders) + first_order
    # Lines: 1 + Binomial(2, 0.1) per order; spend split by random shares.
    n_lines = 1 + rng.binomial(2, 0.1, n_orders)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    share = rng.exponential(1.0, line_order.size)
    share /= np.bincount(line_order, weights=share)[line_order]
    popularity = 1.0 / (np.arange(N_PRODUCTS) + 10.0) ** 1.1
    product = rng.choice(N_PRODUCTS, line_order.size, p=popularity / popularity.sum())
    quantity = 1 + rng.poisson(0.7, line_order.size)
    unit_price = np.maximum(np.round(spend[line_order] * share / quantity, 2), 0.01)
    amount = np.round(quantity * unit_price, 2)
    seconds = np.round(week[line_order] * 7 * 86400).astype("int64")
    start = np.datetime64(truth.start, "s")
    lines = {
        "customer_id": _strings(cust[line_order] + first_id),
        "order_id": _strings(order_no[line_order]),
        "order_date": pa.array(start + seconds.astype("timedelta64[s]")).cast(pa.timestamp("us")),
        "product_id": _strings(product, "P"),
        "category": pa.array(CATEGORIES[product % CATEGORIES.size]),
        "quantity": pa.array(quantity.astype("int64")),
        "unit_price": pa.array(unit_price),
        "amount": pa.array(amount),
        "channel": pa.array(CHANNELS[channel[line_order]]),
        "region": pa.array(REGIONS[region[cust[line_order]]]),
    }
    table = pa.table(lines)
    # 0.5 % of orders are returned a few days later: a cancellation line per order line.
    returned = rng.random(n_orders) < 0.005
    rows = np.flatnonzero(returned[line_order])
    if rows.size:
        back = table.take(rows)
        later = np.datetime64(truth.start, "s") + (
            seconds[rows] + rng.integers(1, 14, rows.size) * 86400
        ).astype("timedelta64[s]")
        end = np.datetime64(truth.start, "s") + np.timedelta64(int(truth.weeks * 7 * 86400), "s")
        keep = later <= end
        back = back.filter(pa.array(keep))
        back = back.set_column(1, "order_id", _strings(order_no[line_order][rows][keep], "C"))
        back = back.set_column(2, "order_date", pa.array(later[keep]).cast(pa.timestamp("us")))
        back = back.set_column(7, "amount", pa.array(-amount[rows][keep]))
        back = back.set_column(5, "quantity", pa.array(-quantity[rows][keep].astype("int64")))
        table = pa.concat_tables([table, back])
    return table


def generate(
    n_customers: int,
    path: str | Path,
    seed: int = 1,
    truth: Truth = Truth(),
    chunk: int = 1_000_000,
) -> dict:
    """Write a simulated log of ``n_customers`` to a Parquet file, in chunks of customers.

    Returns a dict with the truth parameters and the row/order counts, also
    written next to the file as ``<name>.json``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writer = None
    rows = orders = 0
    try:
        for first in range(0, n_customers, chunk):
            table = simulate_chunk(rng, min(chunk, n_customers - first), first, orders, truth)
            orders += pc.count_distinct(table["order_id"]).as_py()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=1_000_000)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    info = {"customers": n_customers, "rows": rows, "seed": seed, "truth": asdict(truth)}
    path.with_suffix(".json").write_text(json.dumps(info, indent=2))
    return info


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customers", type=int)
    parser.add_argument("path")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    info = generate(args.customers, args.path, args.seed)
    print(f"{info['customers']:,} customers, {info['rows']:,} rows -> {args.path}")


if __name__ == "__main__":
    main()
