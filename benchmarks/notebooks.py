"""Notebook timings of issue 18 (``python benchmarks/notebooks.py``), each run a fresh
``analysis report`` process.

Cases (``--cases``, default all):

- ``ltv_1m``: the lifetime-value notebook on the simulated 1M-customer log;
- ``churn_1m``: the churn notebook on the same log;
- ``pareto_retail``: the lifetime-value notebook with ``--param model=pareto_nbd`` on the
  default data (Online Retail);
- ``report_1m``: the five original notebooks (overview, demand, segmentation,
  lifetime_value, churn) on the 1M log, two at a time (the runner's default).

Each case gives the whole command's wall time and peak RSS of its process tree (notebook
kernels included, :func:`run.measure`), each notebook's own seconds from ``run.json`` and
the 1-minute load average before and after the run (the machine may be shared). Results go
to ``benchmarks/notebooks_results.json`` and to their own section of ``RESULTS.md``.

Run it under the heavy-job lock on a shared machine::

    flock /tmp/heavy.lock .venv/bin/python benchmarks/notebooks.py --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import Truth  # noqa: E402
from run import ANALYSIS, as_of_of, ensure_log, measure  # noqa: E402

FIVE = ["overview", "demand", "segmentation", "lifetime_value", "churn"]
CASES = {
    "ltv_1m": {"notebooks": ["lifetime_value"], "log": True, "target": 60},
    "churn_1m": {"notebooks": ["churn"], "log": True, "target": 60},
    "pareto_retail": {
        "notebooks": ["lifetime_value"],
        "log": False,
        "params": ["model=pareto_nbd"],
        "target": 60,
    },
    "report_1m": {"notebooks": FIVE, "log": True, "target": 150},
}
MARK = ("<!-- notebooks benchmark -->", "<!-- /notebooks benchmark -->")


def run_case(name: str, log: Path, as_of: str, repeats: int) -> dict:
    """Median wall, peak and per-notebook seconds of ``repeats`` runs of one case."""
    case = CASES[name]
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            cmd = [ANALYSIS, "report", "--out", out, "--notebooks", *case["notebooks"]]
            if case["log"]:
                cmd += ["--data", str(log), "--as-of", as_of]
            for param in case.get("params", []):
                cmd += ["--param", param]
            load_before = os.getloadavg()[0]
            m = measure(cmd)
            found = sorted(Path(out).glob("*/run.json"))
            books = json.loads(found[0].read_text())["notebooks"] if found else {}
        runs.append(
            {
                "wall": m["wall"],
                "peak_mb": m["peak_mb"],
                "code": m["code"],
                "load_before": load_before,
                "load_after": os.getloadavg()[0],
                "notebooks": {k: (v["seconds"], v["status"]) for k, v in books.items()},
            }
        )
        print(f"  {name}: {runs[-1]}", flush=True)
    return {
        "case": name,
        "runs": runs,
        "wall": statistics.median(r["wall"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "target": case["target"],
    }


def section(results: dict) -> str:
    """The Markdown section of these results."""
    lines = [
        MARK[0],
        "## Notebook times at scale (issue 18, `benchmarks/notebooks.py`)",
        "",
        f"Run {results['date']}, {os.cpu_count()} cores; each run a fresh `analysis report`"
        " process (kernel start and HTML export included); *notebook s* = the runner's own"
        " time of each notebook (`run.json`); load = 1-minute load average before / after the"
        " run (a machine shared with other jobs when above 2).",
        "",
        "| case | runs | wall s (each run) | notebook s (each run) | peak MB | load | target s |",
        "|---|---:|---|---|---:|---|---:|",
    ]
    for r in results["cases"]:
        walls = ", ".join(f"{x['wall']:.0f}" for x in r["runs"])
        books = "; ".join(
            ", ".join(f"{k} {s:.0f}" + ("" if st == "ok" else f" ({st})") for k, (s, st) in
                      x["notebooks"].items())
            for x in r["runs"]
        )  # fmt: skip
        load = ", ".join(f"{x['load_before']:.1f} / {x['load_after']:.1f}" for x in r["runs"])
        lines.append(
            f"| {r['case']} | {len(r['runs'])} | {walls} | {books} | {r['peak_mb']:.0f} | "
            f"{load} | {r['target']} |"
        )
    return "\n".join(lines) + "\n" + MARK[1] + "\n"


def write(results: dict, out: Path) -> None:
    text = out.read_text() if out.exists() else ""
    block = section(results)
    pattern = re.escape(MARK[0]) + r".*?" + re.escape(MARK[1]) + r"\n?"
    text = re.sub(pattern, lambda _: block, text, flags=re.S) if MARK[0] in text else (
        text.rstrip("\n") + "\n\n" + block
    )  # fmt: skip
    out.write_text(text)
    out.with_name("notebooks_results.json").write_text(json.dumps(results, indent=2))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help=",".join(CASES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "analysis-bench"))
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args(argv)
    log, _ = ensure_log(1_000_000, Path(args.data_dir), args.seed)
    as_of = as_of_of(Truth())
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cases = [run_case(c.strip(), log, as_of, args.repeats) for c in args.cases.split(",")]
    write({"date": date, "cases": cases}, Path(args.out))
    print(f"results -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
