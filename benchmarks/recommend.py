"""Recommendations at scale: 1M customers, 50k products, 5M order lines, top-10 for everyone.

The log is simulated with the structure that makes Online Retail hard for models: customers
rebuy from a small personal pool of products in one or two favourite categories (Zipf
popularity inside each of 500 categories), plus some globally popular products; orders are
spread over a year.

Each measured step runs in a fresh process (so that its peak memory is its own), ``--repeats``
times; the medians are reported. A run is: order lines -> signals -> history matrices at
``as_of`` -> fit -> top-10 for every customer (the notebook's "recommendations now" step),
for each method; then the reasons for the shipped baseline's lists, and the bought-together
rules.

Usage (heavy: run under ``flock /tmp/heavy.lock``)::

    python benchmarks/recommend.py generate /tmp/bench/reco_1m.parquet
    python benchmarks/recommend.py run /tmp/bench/reco_1m.parquet --repeats 3 \\
        --out benchmarks/recommend_results.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

STEPS = ("popularity", "own_history", "item_knn", "als", "reasons", "rules", "notebook")
HERE = Path(__file__).resolve().parent


def generate(
    path: Path,
    customers: int = 1_000_000,
    products: int = 50_000,
    lines: int = 5_000_000,
    categories: int = 500,
    seed: int = 1,
) -> dict:
    """Write a clean order-line log (customer_id, order_id, order_date, product_id, amount)."""
    rng = np.random.default_rng(seed)
    per_cat = products // categories
    # order lines per customer: 1 + negative binomial, mean lines / customers
    extra = rng.negative_binomial(1.0, 1.0 / (lines / customers), size=customers)
    counts = 1 + extra
    counts = np.maximum(1, np.rint(counts * lines / counts.sum())).astype("int64")
    owner = np.repeat(np.arange(customers), counts)
    n = len(owner)
    favourite = rng.integers(0, categories, size=customers)
    pool = 1 + rng.poisson(3, size=customers)  # products in the personal pool
    # personal pool product j of customer c: Zipf rank inside the favourite category
    slot = rng.integers(0, pool[owner])
    zipf_rank = (rng.zipf(1.3, size=n) - 1) % per_cat
    seed_rank = (owner * 7919 + slot * 104729) % per_cat  # stable per customer and slot
    personal = favourite[owner] * per_cat + np.where(slot < 2, zipf_rank % 5, seed_rank)
    popular = (rng.zipf(1.2, size=n) - 1) % products
    product = np.where(rng.random(n) < 0.8, personal, popular)
    # orders: a customer's lines grouped into orders of about 2 lines, dates over a year
    order_no = np.arange(n) // 2
    day = rng.integers(0, 365, size=n // 2 + 1)[order_no]
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(owner).astype(str),
            "order_id": pd.Series(order_no).astype(str),
            "order_date": pd.Timestamp("2023-01-01") + pd.to_timedelta(day, unit="D"),
            "product_id": pd.Series(product).map(lambda p: f"P{p:05d}"),
            "amount": rng.gamma(2.0, 10.0, size=n).round(2),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return {
        "rows": len(frame),
        "customers": int(frame["customer_id"].nunique()),
        "products": int(frame["product_id"].nunique()),
        "orders": int(frame["order_id"].nunique()),
    }


def _peak_gb() -> float:
    """This process's own peak RSS (VmHWM: ``ru_maxrss`` carries the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_notebook(path: Path, threads: int) -> dict:
    """``07_recommendations.ipynb`` on the log, executed by papermill in a fresh process:
    wall time, peak RSS of the process tree (kernel included), time per cell."""
    sys.path.insert(0, str(HERE))
    from run import measure  # the sampler of the other benchmarks

    code = (
        "import papermill as pm, sys, json; "
        "pm.execute_notebook('notebooks/07_recommendations.ipynb', sys.argv[1], "
        "parameters=json.loads(sys.argv[2]), kernel_name='python3', cwd='notebooks', "
        "progress_bar=False)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.ipynb"
        params = {"data": str(path), "output_dir": tmp, "threads": threads}
        done = measure([sys.executable, "-c", code, str(out), json.dumps(params)], HERE.parent)
        if done["code"] != 0:
            raise RuntimeError(done["stderr"])
        cells, notes = {}, []
        for cell in json.loads(out.read_text())["cells"]:
            if cell["cell_type"] == "code" and "parameters" not in cell["metadata"].get("tags", []):
                first = "".join(cell["source"]).splitlines()[0][:60]
                cells[first] = round(cell["metadata"]["papermill"]["duration"], 1)
                for output in cell.get("outputs", []):
                    text = "".join(output.get("data", {}).get("text/markdown", ""))
                    notes += [line for line in text.split(". ") if "ALS and BPR" in line]
        metrics = json.loads(next(Path(tmp).rglob("recommendations.json")).read_text())
        exported = sum(1 for _ in (Path(tmp) / "recommendations.csv").open()) - 1
    return {
        "seconds": done["wall"],
        "peak_gb": done["peak_mb"] / 1024,
        "cpu_s": done["cpu"],
        "method": metrics.get("method"),
        "customers": metrics.get("customers_scored"),
        "lists": exported,
        "cells": cells,
        "factor_note": notes,
    }


def run_step(path: Path, step: str, threads: int, k: int = 10) -> dict:
    """One measured step in this process; returns seconds and peak memory (GB)."""
    from analysis import recommend as rec

    if step == "notebook":
        return run_notebook(path, threads)
    frame = pd.read_parquet(path)
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    as_of = frame["order_date"].max()
    loaded = _peak_gb()
    start, cpu = time.perf_counter(), time.process_time()
    facts: dict = {}
    if step == "rules":
        rules, info = rec.basket_rules(frame, min_support=0.001, max_len=2, max_items=50)
        facts = {**info, "rules": len(rules)}
    else:
        signals = rec.purchase_signals(frame)
        key = "own_history" if step == "reasons" else step
        params = {"factors": 64, "alpha": 1.0, "regularization": 0.05} if key == "als" else {}
        final = rec.fit_final(signals, as_of, key, params, seed=0, threads=threads)
        fitted = time.perf_counter()
        recs = rec.recommend_all(final, k, repeats=True)
        facts = {
            "fit_s": fitted - start,
            "customers": int(recs["customer_id"].nunique()),
            "lists": len(recs),
            "products": len(final.history.items),
        }
        if step == "reasons":
            facts["before_reasons_gb"] = _peak_gb()
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM restarts from the current RSS
            listed = time.perf_counter()
            reasons = rec.explain(final, recs)
            facts["reasons_s"] = time.perf_counter() - listed
            facts["reasons_peak_gb"] = _peak_gb()  # the peak while the reasons were built
            counts = reasons.value_counts()  # a few thousand distinct sentences
            kinds = counts.groupby(counts.index.str.split().str[0]).sum()
            facts["reason_kinds"] = {str(k): int(v) for k, v in kinds.items()}
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,
        "peak_gb": max(_peak_gb(), facts.get("before_reasons_gb", 0.0)),
        "loaded_gb": loaded,
        **facts,
    }


def run_all(path: Path, repeats: int, threads: int, steps=STEPS) -> dict:
    """Each step, ``repeats`` times, each in a fresh process; medians and all runs."""
    out = {"log": str(path), "repeats": repeats, "threads": threads, "steps": {}}
    for step in steps:
        runs = []
        for _ in range(repeats):
            load = os.getloadavg()[0]
            cmd = [sys.executable, __file__, "step", str(path), step, "--threads", str(threads)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs.append({**json.loads(done.stdout.strip().splitlines()[-1]), "load": load})
            print(step, json.dumps(runs[-1]), file=sys.stderr, flush=True)
        out["steps"][step] = {
            "median_s": statistics.median(r["seconds"] for r in runs),
            "median_peak_gb": statistics.median(r["peak_gb"] for r in runs),
            "runs": runs,
        }
    return out


BEGIN, END = "<!-- recommend.py: begin -->", "<!-- recommend.py: end -->"
LABELS = {
    "popularity": "popularity baseline: fit + top-10 for everyone",
    "own_history": "own most-bought (shipped on Online Retail): fit + top-10 for everyone",
    "item_knn": "item-kNN (implicit, BM25, K=50): fit + top-10 for everyone",
    "als": "ALS (implicit, 64 factors): fit + top-10 for everyone",
    "reasons": "own most-bought lists + a reason for each of the 10M recommendations",
    "rules": "bought-together rules (FP-growth, support >= 0.1 %, pairs)",
    "notebook": "the notebook end to end (papermill: load + clean, rules, validation choice, "
    "test window, segments, refit, top-10 + reasons for everyone, CSV export)",
}


def markdown(results: list[dict], note: str) -> str:
    """The RESULTS.md section: one row per step of every results file."""
    lines = [
        BEGIN,
        "## Recommendations (`benchmarks/recommend.py`)",
        "",
        note,
        "",
        "| log | step | runs | median s | fit s | peak GB (process) | notes |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for result in results:
        for step, info in result["steps"].items():
            run = info["runs"][0]
            notes = ", ".join(
                f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                for k, v in run.items()
                if k in ("customers", "products", "lists", "baskets", "left_out", "rules")
            )
            fit = f"{run['fit_s']:.1f}" if "fit_s" in run else "–"
            lines.append(
                f"| {Path(result['log']).name} | {LABELS[step]} | {len(info['runs'])} | "
                f"{info['median_s']:.1f} | {fit} | {info['median_peak_gb']:.2f} | {notes} |"
            )
    lines.append(END)
    return "\n".join(lines)


def update_results_md(path: Path, section: str) -> None:
    """Replace this script's section of RESULTS.md (or append it)."""
    from results_md import replace_section

    replace_section(path, BEGIN, END, section)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("path", type=Path)
    gen.add_argument("--customers", type=int, default=1_000_000)
    gen.add_argument("--products", type=int, default=50_000)
    gen.add_argument("--lines", type=int, default=5_000_000)
    gen.add_argument("--seed", type=int, default=1)
    one = sub.add_parser("step")
    one.add_argument("path", type=Path)
    one.add_argument("step", choices=STEPS)
    one.add_argument("--threads", type=int, default=2)
    every = sub.add_parser("run")
    every.add_argument("path", type=Path)
    every.add_argument("--repeats", type=int, default=3)
    every.add_argument("--threads", type=int, default=2)
    every.add_argument("--out", type=Path)
    every.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    md = sub.add_parser("markdown", help="write the results files into RESULTS.md")
    md.add_argument("results", type=Path, nargs="+")
    md.add_argument("--note", default="")
    md.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args(argv)
    if args.command == "generate":
        facts = generate(args.path, args.customers, args.products, args.lines, seed=args.seed)
        print(json.dumps(facts))
    elif args.command == "markdown":
        results = [json.loads(p.read_text()) for p in args.results]
        update_results_md(args.out, markdown(results, args.note))
    elif args.command == "step":
        print(json.dumps(run_step(args.path, args.step, args.threads), default=str))
    else:
        result = run_all(args.path, args.repeats, args.threads, args.steps)
        text = json.dumps(result, indent=1, default=str)
        if args.out:
            args.out.write_text(text + "\n")
        print(text)


if __name__ == "__main__":
    main()
