"""Scale benchmark of the behaviour SQL: funnel, paths and abandoned carts on 10M events.

Simulates an events log (cached as Parquet), then times, each in a fresh process,
:func:`analysis.engine.funnel_times`, :func:`analysis.engine.paths` and
:func:`analysis.engine.cart_outcomes` on DuckDB, over the Parquet file and over an
in-memory pandas frame (the notebook's path), and a plain pandas funnel as the baseline
measured in the same run. Medians of ``--repeats`` runs; results replace the behaviour
section of ``benchmarks/RESULTS.md``. Run it under the shared machine's lock::

    flock /tmp/heavy.lock .venv/bin/python benchmarks/behaviour.py --events 10m

The simulated log: visitors with a negative-binomial number of events (mean 20) spread
over 30 days, 88 % views, 6 % carts, 3 % favourites, 3 % purchases; products from a
Zipf-like catalogue of 200,000 items in 500 categories; a third of the carted items are
bought later (the rest are abandoned), so the funnel and the carts have real work to do.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import measure, parse_size, size_label  # noqa: E402

STEPS = ["view", "cart", "purchase"]
WINDOW = 72 * 3600
AS_OF = "2024-06-30"
START = np.datetime64("2024-06-01T00:00:00", "s")
BEGIN, END = "<!-- behaviour benchmark -->", "<!-- /behaviour benchmark -->"


def simulate(n_events: int, path: Path, seed: int = 1) -> dict:
    """Write a simulated events log of about ``n_events`` rows to ``path`` (Parquet)."""
    rng = np.random.default_rng(seed)
    visitors = n_events // 20
    counts = rng.negative_binomial(2, 2 / 22, visitors) + 1
    who = np.repeat(np.arange(visitors), counts)
    n = len(who)
    seconds = rng.integers(0, 30 * 86_400, n)
    kind = rng.choice(4, n, p=[0.88, 0.06, 0.03, 0.03])  # view, cart, favourite, purchase
    product = (rng.pareto(1.2, n) * 1000).astype("int64") % 200_000
    # a third of the carts are bought later: a purchase of the same item an hour to 2 days on
    carts = np.flatnonzero(kind == 1)
    bought = carts[rng.random(len(carts)) < 1 / 3]
    who = np.concatenate([who, who[bought]])
    seconds = np.concatenate(
        [seconds, seconds[bought] + rng.integers(3600, 2 * 86_400, len(bought))]
    )
    kind = np.concatenate([kind, np.full(len(bought), 3)])
    product = np.concatenate([product, product[bought]])
    names = np.array(["view", "cart", "favourite", "purchase"])
    table = pa.table(
        {
            "customer_id": pa.array(np.char.add("v", who.astype(str))),
            "event_time": pa.array(START + seconds.astype("timedelta64[s]")),
            "event": pa.array(names[kind]).dictionary_encode(),
            "product_id": pa.array(product.astype(str)),
            "category": pa.array((product % 500).astype(str)),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    return {"rows": int(len(who)), "visitors": int(visitors)}


def task(name: str, path: str, where: str) -> None:
    """One timed task in this process; prints a JSON line with the step timings."""
    import pandas as pd

    from analysis import engine

    start = time.perf_counter()
    source = pd.read_parquet(path) if where == "frame" else path
    laps = {"read": time.perf_counter() - start}
    if name == "baseline":
        laps["pandas funnel"] = _pandas_funnel(source, laps)
    else:
        for step, call in (
            ("funnel", lambda: engine.funnel_times(source, STEPS, WINDOW, "strict", as_of=AS_OF)),
            ("paths", lambda: engine.paths(source, STEPS, WINDOW, "strict", 3, AS_OF)),
            ("carts", lambda: engine.cart_outcomes(source, as_of=AS_OF)),
        ):
            t = time.perf_counter()
            call()
            laps[step] = time.perf_counter() - t
    laps["step"] = time.perf_counter() - start
    print(json.dumps(laps))


def _pandas_funnel(frame, laps) -> float:
    """The strict funnel in plain pandas (groupby + merge per step): the baseline."""
    t = time.perf_counter()
    ts = frame["event_time"].astype("int64") // 10**9
    ev = frame.assign(ts=ts)[["customer_id", "event", "ts"]]
    reached = ev[ev["event"] == STEPS[0]].groupby("customer_id", observed=True)["ts"].min()
    first = reached.rename("t1").reset_index()
    prev = first.rename(columns={"t1": "prev"}).assign(t1=first["t1"])
    for step in STEPS[1:]:
        cand = ev[ev["event"] == step].merge(prev, on="customer_id")
        cand = cand[(cand["ts"] >= cand["prev"]) & (cand["ts"] <= cand["t1"] + WINDOW)]
        nxt = cand.groupby("customer_id")["ts"].min().rename("prev").reset_index()
        prev = nxt.merge(first, on="customer_id")
    return time.perf_counter() - t


def run(name: str, path: Path, where: str, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, __file__, "--task", name, "--path", str(path), "--where", where]
        runs.append(measure(cmd))
    steps = [json.loads(r["stdout"].strip().splitlines()[-1]) for r in runs]
    med = {k: statistics.median(s[k] for s in steps) for k in steps[0]}
    return {
        "task": name,
        "where": where,
        "steps": med,
        "wall": statistics.median(r["wall"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
    }


def write(results: dict, out: Path) -> None:
    """Replace the behaviour section of RESULTS.md (appended when absent)."""
    m = results["machine"]
    lines = [
        BEGIN,
        "## Behaviour events: funnel, paths and abandoned carts (DuckDB)",
        "",
        f"Written by `benchmarks/behaviour.py` on {m['date']}: {m['cores']} cores, load average "
        f"{m['load']} at start (a machine shared with other jobs); Python {m['python']}, DuckDB "
        f"{m['duckdb']}. Simulated log: {results['rows']:,} events by {results['visitors']:,} "
        "visitors over 30 days (see the script). Funnel view → cart → purchase, strict order, "
        "72-hour window; paths 3 moves deep; carts with a 24-hour grace period. Medians of "
        f"{results['repeats']} runs, each in a fresh process; *step* = inside the process after "
        "imports; *peak* = peak RSS of the process tree.",
        "",
        "| source | read s | funnel s | paths s | carts s | step s | wall s | peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["runs"]:
        if r["task"] != "behaviour":
            continue
        s = r["steps"]
        lines.append(
            f"| {r['where']} | {s['read']:.2f} | {s['funnel']:.2f} | {s['paths']:.2f} | "
            f"{s['carts']:.2f} | {s['step']:.2f} | {r['wall']:.2f} | {r['peak_mb']:.0f} |"
        )
    base = next(r for r in results["runs"] if r["task"] == "baseline")
    ours = next(r for r in results["runs"] if r["task"] == "behaviour" and r["where"] == "frame")
    ratio = base["steps"]["pandas funnel"] / ours["steps"]["funnel"]
    lines += [
        "",
        f"Baseline, same run: the same strict funnel in plain pandas (groupby + merge per step) "
        f"on the in-memory frame takes {base['steps']['pandas funnel']:.2f} s against "
        f"{ours['steps']['funnel']:.2f} s for the SQL funnel ({ratio:.1f}×; peak "
        f"{base['peak_mb']:.0f} MB against {ours['peak_mb']:.0f} MB).",
        END,
    ]
    from results_md import replace_section

    replace_section(out, BEGIN, END, "\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="10m", help="log size, e.g. 1m, 10m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default="/tmp/analysis_bench")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--where", default="file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.task:
        task(args.task, args.path, args.where)
        return 0
    import duckdb
    import psutil

    n = parse_size(args.events)
    path = Path(args.data_dir) / f"events_{size_label(n)}.parquet"
    meta_file = path.with_suffix(".json")
    if not path.exists() or not meta_file.exists():
        meta_file.parent.mkdir(parents=True, exist_ok=True)
        meta_file.write_text(json.dumps(simulate(n, path)))
    meta = json.loads(meta_file.read_text())
    machine = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "cores": psutil.cpu_count(),
        "load": f"{psutil.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }
    runs = [
        run("behaviour", path, "file", args.repeats),
        run("behaviour", path, "frame", args.repeats),
        run("baseline", path, "frame", args.repeats),
    ]
    results = {"machine": machine, "repeats": args.repeats, "runs": runs, **meta}
    write(results, Path(args.out))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
