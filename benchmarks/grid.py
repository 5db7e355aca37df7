"""Effect of fitting on a coarser time grid: speed gained, estimate changed.

``python benchmarks/grid.py [LOG] [--repeats 3]`` summarises the log (default: the cached
1M-customer simulation; ``cdnow`` for the real CDNOW sample), fits each purchase model on
the exact data (compressed without loss) and on recency/T rounded to whole weeks and to
whole days, and prints one Markdown table: distinct rows, median fit time, parameters,
and the change in the expected purchases of every customer over the next 52 weeks.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from analysis import clv, engine
from analysis.data import load_transactions
from analysis.summary import customer_summary

GRIDS = {"exact": None, "1 day": 1 / 7, "1 week": 1.0}


def summary_of(log: str, as_of: str):
    if log == "cdnow":
        t = load_transactions("cdnow")
        return customer_summary(t.frame, t.as_of, "W")
    return engine.customer_summary(log, as_of, "W", orders=False)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="?", default="/tmp/analysis-bench/log_1M_seed1.parquet")
    parser.add_argument("--as-of", default="2024-07-01")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="bgnbd,pareto_nbd")
    args = parser.parse_args(argv)
    summary = summary_of(args.log, args.as_of)
    print(f"{args.log}: {len(summary):,} customers\n")
    print(
        "| model | grid | distinct rows | fit s (median) | parameters | "
        "52-week purchases: total change | per customer: median / max abs change |"
    )
    print("|---|---|---:|---:|---|---:|---:|")
    for model in args.models.split(","):
        exact = None
        for label, grid in GRIDS.items():
            data = summary if grid is None else clv.on_grid(summary, grid)
            rows = len(clv.compress(data))
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                fitted = clv.fit_model(summary, model, "W", grid=grid)
                times.append(time.perf_counter() - start)
            expected = clv.expected_purchases(fitted, summary, 52.0).to_numpy()
            params = ", ".join(f"{k} {v:.4g}" for k, v in fitted.params.items())
            if grid is None:
                exact = expected
                change = "–"
                per = "–"
            else:
                total = expected.sum() / exact.sum() - 1
                diff = np.abs(expected - exact)
                change = f"{100 * total:+.2f} %"
                per = f"{np.median(diff):.4f} / {diff.max():.3f}"
            print(
                f"| {model} | {label} | {rows:,} | {statistics.median(times):.2f} | "
                f"{params} | {change} | {per} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
