"""Scale of the optional tables: 1M customers, 10M events, 1M feedback rows.

Generates the three tables as Parquet (seeded), then, in a fresh process per run,
validates them with :func:`analysis.data.load_tables` (mapping, typing, every cleaning
step, the cross-table checks) and aggregates them with DuckDB (events per customer,
day and step; feedback per customer), reporting wall time and peak memory (RSS).
The baseline, measured in the same run, is reading the same files with
``pandas.read_parquet`` and nothing else.

Usage (heavy: run under the shared lock)::

    flock /tmp/heavy.lock python benchmarks/tables.py /tmp/bench_tables --repeat 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

SIZES = {"customers": 1_000_000, "events": 10_000_000, "feedback": 1_000_000}
STEPS = np.array(["pv", "cart", "fav", "buy"])
STEP_SHARES = [0.898, 0.053, 0.028, 0.021]  # the Taobao sample's mix


def generate(folder: Path, seed: int = 1, scale: float = 1.0) -> dict[str, Path]:
    """Write customers, events and feedback Parquet files (with a little dirt)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_c, n_e, n_f = (int(SIZES[k] * scale) for k in ("customers", "events", "feedback"))
    start = np.datetime64("2024-01-01T00:00:00", "s")
    ids = np.char.add("C", np.arange(n_c).astype(str))
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": start - rng.integers(0, 3 * 365 * 86400, n_c).astype("timedelta64[s]"),
            "region": rng.choice(np.array(["north", "south", "east", "west"]), n_c),
            "channel": rng.choice(np.array(["organic", "paid", "social", "email"]), n_c),
            "tier": rng.choice(np.array(["bronze", "silver", "gold"]), n_c, p=[0.7, 0.25, 0.05]),
        }
    )
    who = rng.zipf(1.3, n_e) % n_c  # a long tail: few very active visitors
    events = pd.DataFrame(
        {
            "customer_id": ids[who],
            "event_time": start + rng.integers(0, 90 * 86400, n_e).astype("timedelta64[s]"),
            "event": rng.choice(STEPS, n_e, p=STEP_SHARES),
            "product_id": np.char.add("P", (rng.zipf(1.5, n_e) % 50_000).astype(str)),
            "channel": rng.choice(np.array(["web", "app"]), n_e, p=[0.4, 0.6]),
        }
    )
    events.loc[rng.choice(n_e, 1_000, replace=False), "customer_id"] = "unknown-visitor"
    scores = rng.choice(np.arange(11), n_f, p=[0.02] * 5 + [0.05, 0.08, 0.15, 0.2, 0.2, 0.22])
    scores = scores.astype("float64")
    scores[rng.choice(n_f, 100, replace=False)] = 11.0  # out of scale: counted, dropped
    comments = np.where(rng.random(n_f) < 0.3, "delivery was late but support helped", None)
    feedback = pd.DataFrame(
        {
            "response_date": start + rng.integers(0, 90 * 86400, n_f).astype("timedelta64[s]"),
            "customer_id": ids[rng.integers(0, n_c, n_f)],
            "score": scores,
            "comment": comments,
            "touchpoint": rng.choice(np.array(["delivery", "support", "checkout"]), n_f),
        }
    )
    paths = {}
    for name, frame in (("customers", customers), ("events", events), ("feedback", feedback)):
        paths[name] = folder / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False, compression="zstd")
    return paths


EVENTS_PER_DAY_SQL = """
SELECT customer_id, CAST(event_time AS DATE) AS day, event, COUNT(*) AS n
FROM events GROUP BY 1, 2, 3
"""
FEEDBACK_PER_CUSTOMER_SQL = """
SELECT customer_id, COUNT(*) AS responses, AVG(score) AS mean_score,
       COUNT(comment) AS comments, MAX(response_date) AS last_response
FROM feedback WHERE customer_id IS NOT NULL GROUP BY 1
"""


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def run_once(folder: Path, mode: str) -> dict:
    """One measurement in this process: ``baseline`` (read only) or ``tables``."""
    paths = {n: str(folder / f"{n}.parquet") for n in SIZES}
    t0 = time.perf_counter()
    if mode == "baseline":
        frames = {n: pd.read_parquet(p) for n, p in paths.items()}
        rows = {n: len(f) for n, f in frames.items()}
        return {"mode": mode, "seconds": time.perf_counter() - t0, "peak_gb": _peak_gb(), **rows}
    import duckdb

    from analysis.data import load_tables

    tables = load_tables(
        customers=paths["customers"], events=paths["events"], feedback=paths["feedback"]
    )
    t_validate = time.perf_counter() - t0
    con = duckdb.connect()
    con.register("events", tables.events.frame)
    con.register("feedback", tables.feedback.frame)
    daily = con.sql(EVENTS_PER_DAY_SQL).to_arrow_table()
    per_customer = con.sql(FEEDBACK_PER_CUSTOMER_SQL).to_arrow_table()
    checks = {f"{c} ({t})": r for c, t, r, _ in tables.checks.itertuples(index=False)}
    return {
        "mode": mode,
        "seconds": time.perf_counter() - t0,
        "validate_seconds": t_validate,
        "peak_gb": _peak_gb(),
        "customers": tables.customers.rows_clean,
        "events": tables.events.rows_clean,
        "feedback": tables.feedback.rows_clean,
        "event_day_rows": daily.num_rows,
        "feedback_customers": per_customer.num_rows,
        "scale": tables.feedback.info["scale"],
        "feedback_out_of_scale": int(
            -tables.feedback.log.set_index("step").loc["score outside the scale", "rows"]
        ),
        **checks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full sizes")
    parser.add_argument("--once", choices=("baseline", "tables"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(json.dumps(run_once(args.folder, args.once)))
        return
    if not (args.folder / "events.parquet").exists():
        t0 = time.perf_counter()
        generate(args.folder, scale=args.scale)
        print(f"generated in {time.perf_counter() - t0:.1f} s", flush=True)
    runs: dict[str, list[dict]] = {"baseline": [], "tables": []}
    for _ in range(args.repeat):
        for mode in runs:  # a fresh process each: peak memory is the run's own
            cmd = [sys.executable, __file__, str(args.folder), "--once", mode]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs[mode].append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(runs[mode][-1]), flush=True)
    summary = {
        mode: {
            "median_seconds": statistics.median(r["seconds"] for r in rs),
            "max_peak_gb": max(r["peak_gb"] for r in rs),
        }
        for mode, rs in runs.items()
    }
    summary["ratio_to_baseline"] = (
        summary["tables"]["median_seconds"] / summary["baseline"]["median_seconds"]
    )
    summary["last_run"] = runs["tables"][-1]
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
