"""Scale benchmarks: `make bench` (``python benchmarks/run.py [options]``).

For each size (default 10k, 100k and 1M customers) it simulates a purchase log
from known BG/NBD + Gamma-Gamma parameters (:mod:`generate`, cached in
``--data-dir``), then measures, each task in its own process tree:

- the summary step: our SQL engine over the file vs lifetimes' summary function
  (and our summary on an in-memory frame, the notebooks' path);
- summary + fit + scoring: ours (compressed fits, vectorised scoring) vs lifetimes
  used the straightforward way (unweighted fits, ``customer_lifetime_value``);
- the full report: ``analysis report`` rendering every notebook on the log.

Wall time and peak RSS (summed over the whole process tree, sampled every 50 ms)
are medians of ``--repeats`` runs; ratios are baseline / ours from the same run.
Results go to ``benchmarks/RESULTS.md`` (and ``benchmarks/results.json``).

Examples::

    make bench                                   # 10k, 100k, 1M; 3 repeats
    make bench ARGS="--sizes 10k --repeats 1"     # quick check
    make bench ARGS="--sizes 10m --steps pipeline --repeats 1 --no-baseline"
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import Truth, generate  # noqa: E402

PYTHON = sys.executable
ANALYSIS = str(Path(PYTHON).with_name("analysis"))
STEPS = ("summary", "pipeline", "report")


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1_000}k"


def as_of_of(truth: Truth) -> str:
    import pandas as pd

    end = pd.Timestamp(truth.start) + pd.Timedelta(weeks=truth.weeks)
    return f"{end:%Y-%m-%d}"


def measure(cmd: list[str], cwd: Path = ROOT, timeout: float = 3600) -> dict:
    """Run ``cmd``; return wall seconds, peak RSS of its process tree (MB), exit code, stdout."""
    start = time.perf_counter()
    out = tempfile.TemporaryFile(mode="w+")
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
    root = psutil.Process(proc.pid)
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:  # exited; usage covers the process and its waited-for children
            break
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, total)
        if time.perf_counter() - start > timeout:
            proc.kill()
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    out.seek(0)
    err.seek(0)
    return {
        "wall": wall,
        "peak_mb": peak / 2**20,
        "cpu": usage.ru_utime + usage.ru_stime,
        "code": proc.returncode,
        "stdout": out.read(),
        "stderr": err.read()[-2000:],
    }


def run_task(task: str, log: Path, as_of: str, repeats: int, engine: str = "duckdb") -> dict:
    """Median wall, peak RSS and in-process step times of ``repeats`` runs of a task."""
    runs = []
    for _ in range(repeats):
        cmd = [PYTHON, str(HERE / "tasks.py"), task, str(log), as_of, "--engine", engine]
        m = measure(cmd)
        if m["code"] != 0:
            print(f"  {task} failed:\n{m['stderr']}", file=sys.stderr)
            return {"task": task, "engine": engine, "failed": m["stderr"][-300:]}
        info = json.loads(m["stdout"].strip().splitlines()[-1])
        runs.append({**m, **info})
    steps = {k: statistics.median(r["steps"][k] for r in runs) for k in runs[0]["steps"]}
    cpu_steps = {k: statistics.median(r["cpu_steps"][k] for r in runs) for k in runs[0]["steps"]}
    result = {
        "task": task,
        "engine": engine,
        "repeats": repeats,
        "customers": runs[0]["customers"],
        "wall": statistics.median(r["wall"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "steps": steps,
        "cpu_steps": cpu_steps,
    }
    print(
        f"  {task:<20} {engine:<7} wall {result['wall']:7.2f} s  peak {result['peak_mb']:7.0f} MB"
        f"  steps {steps}",
        flush=True,
    )
    return result


def run_report(log: Path, as_of: str, repeats: int, notebooks: list[str] | None) -> dict:
    """Median wall and peak RSS of ``analysis report`` on the log (all notebooks)."""
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            cmd = [ANALYSIS, "report", "--data", str(log), "--as-of", as_of, "--out", out]
            if notebooks:
                cmd += ["--notebooks", *notebooks]
            m = measure(cmd)
            m["failed"] = m["code"] != 0
            m["notebooks"] = sorted(p.stem for p in Path(out).rglob("*.html") if p.stem != "index")
        runs.append(m)
        status = "FAILED" if m["failed"] else "ok"
        print(
            f"  report  wall {m['wall']:7.2f} s  peak {m['peak_mb']:7.0f} MB  {status}",
            flush=True,
        )
    return {
        "task": "report",
        "repeats": repeats,
        "wall": statistics.median(r["wall"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "failed": any(r["failed"] for r in runs),
        "notebooks": runs[-1]["notebooks"],
        "stderr": runs[-1]["stderr"][-600:] if any(r["failed"] for r in runs) else "",
    }


def ensure_log(n: int, data_dir: Path, seed: int) -> tuple[Path, dict]:
    path = data_dir / f"log_{size_label(n)}_seed{seed}.parquet"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    print(f"generating {n:,} customers -> {path}", flush=True)
    return path, generate(n, path, seed)


def machine() -> dict:
    import duckdb
    import lifetimes
    import pandas

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "pandas": pandas.__version__,
        "duckdb": duckdb.__version__,
        "lifetimes": lifetimes.__version__,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1m", help="customers, e.g. 10k,100k,1m,10m")
    parser.add_argument("--steps", default=",".join(STEPS), help="summary,pipeline,report")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--report-repeats",
        type=int,
        default=None,
        help="runs of the full report (default: 3 up to 100k customers, 1 above)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the lifetimes baseline")
    parser.add_argument("--spark", action="store_true", help="also time the summary on Spark")
    parser.add_argument(
        "--spark-only", action="store_true", help="only the Spark summary (add with --merge)"
    )
    parser.add_argument("--notebooks", nargs="*", help="notebooks of the full report (default all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--data-dir",
        default=str(Path(tempfile.gettempdir()) / "analysis-bench"),
        help="where simulated logs are cached",
    )
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument(
        "--merge", action="store_true", help="add to the results already in results.json"
    )
    args = parser.parse_args(argv)

    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    truth = Truth()
    as_of = as_of_of(truth)
    results = {"machine": machine(), "truth": truth.__dict__, "as_of": as_of, "sizes": []}
    previous = Path(args.out).with_name("results.json")
    if args.merge and previous.exists():
        results["sizes"] = json.loads(previous.read_text())["sizes"]
        results["machine"]["date"] += " (merged with earlier runs)"
    print(f"benchmarks on {results['machine']}", flush=True)
    for n in [parse_size(s) for s in args.sizes.split(",")]:
        log, info = ensure_log(n, Path(args.data_dir), args.seed)
        print(f"{size_label(n)}: {info['rows']:,} rows", flush=True)
        size = next((s for s in results["sizes"] if s["customers"] == n), None)
        if size is None:
            size = {"customers": n, "rows": info["rows"], "tasks": []}
            results["sizes"].append(size)
            results["sizes"].sort(key=lambda s: s["customers"])
        if args.spark_only:
            _add(size, run_task("summary-engine", log, as_of, args.repeats, "spark"))
        elif "summary" in steps:
            if not args.no_baseline:
                _add(size, run_task("summary-lifetimes", log, as_of, args.repeats))
            _add(size, run_task("summary-engine", log, as_of, args.repeats))
            _add(size, run_task("summary-orders", log, as_of, args.repeats))
            _add(size, run_task("summary-frame", log, as_of, args.repeats))
            if args.spark:
                _add(size, run_task("summary-engine", log, as_of, args.repeats, "spark"))
        if "pipeline" in steps:
            if not args.no_baseline:
                _add(size, run_task("pipeline-lifetimes", log, as_of, args.repeats))
            _add(size, run_task("pipeline-ours", log, as_of, args.repeats))
        if "report" in steps:
            repeats = args.report_repeats or (3 if n <= 100_000 else 1)
            _add(size, run_report(log, as_of, repeats, args.notebooks))
        write(results, Path(args.out))  # after each size, so a long run leaves partial results
    print(f"results -> {args.out}")
    return 0


def _add(size: dict, task: dict) -> None:
    """Put a task's result in its size, replacing an earlier result of the same task."""
    key = (task["task"], task.get("engine"))
    size["tasks"] = [t for t in size["tasks"] if (t["task"], t.get("engine")) != key] + [task]


# --------------------------------------------------------------------------- RESULTS.md


def _find(size: dict, task: str, engine: str = "duckdb") -> dict | None:
    for t in size["tasks"]:
        if t["task"] == task and t.get("engine", "duckdb") == engine and "failed" not in t:
            return t
        if t["task"] == task == "report":
            return t
    return None


def _ratio(base: float | None, ours: float | None) -> str:
    if not base or not ours:
        return "–"
    return f"{base / ours:.1f}×"


def _proc(task: dict) -> str:
    return f"{_fmt(task['wall'])} / {_fmt(task.get('cpu', 0))} / {task['peak_mb']:.0f}"


def _steps(task: dict) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in task["steps"].items())


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f}" if seconds < 100 else f"{seconds:.0f}"


def write(results: dict, out: Path) -> None:
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (benchmarks/run.py) on {m['date']}: {m['cores']} cores, "
        f"{m['ram_gb']} GB RAM, load average {m['load_avg_1min']} at start; Python {m['python']}, "
        f"pandas {m['pandas']}, DuckDB {m['duckdb']}, lifetimes {m['lifetimes']}.",
        "",
        "Logs simulated by `benchmarks/generate.py` from BG/NBD r, α, a, b = "
        f"{results['truth']['r']}, {results['truth']['alpha']}, {results['truth']['a']}, "
        f"{results['truth']['b']} (per week) and Gamma-Gamma p, q, γ = "
        f"{results['truth']['p_gg']}, {results['truth']['q_gg']}, {results['truth']['gamma_gg']}"
        f" (the published CDNOW estimates); 78 weeks, as_of {results['as_of']}.",
        "Times are medians of repeated runs, each in a fresh process; *step* = time inside the"
        " process after imports (reading the file included), *wall* = the whole process,"
        " *peak* = peak RSS summed over the process tree. Ratios = lifetimes / ours, same run.",
        "",
        "## Summary step (transactions → one row per customer)",
        "",
        "Both sides read the file, drop cancellations and non-positive lines and give"
        " frequency, recency, T and monetary value per customer (ours also first/last purchase,"
        " purchase days and revenue). *Full default* is what `engine.customer_summary(path)`"
        " does by default: it also drops the purchases a later cancellation reverses (a join)"
        " and counts orders.",
        "",
        "| customers | rows | lifetimes step s | DuckDB over file step s | ratio | "
        "step CPU s: lifetimes / DuckDB | CPU ratio | DuckDB full default step s | "
        "in-memory frame summary s | "
        "lifetimes process: wall s / CPU s / peak MB | DuckDB process: wall s / CPU s / peak MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        base = _find(size, "summary-lifetimes")
        ours = _find(size, "summary-engine")
        frame = _find(size, "summary-frame")
        counted = _find(size, "summary-orders")
        if not ours:
            continue
        bstep = base and base["steps"]["read"] + base["steps"]["summary"]
        ostep = ours["steps"]["summary"]
        bcpu = base and sum(base.get("cpu_steps", {}).get(k, 0) for k in ("read", "summary"))
        ocpu = ours.get("cpu_steps", {}).get("summary")
        lines.append(
            f"| {size['customers']:,} | {size['rows']:,} | {_fmt(bstep) if base else '–'} | "
            f"{_fmt(ostep)} | {_ratio(bstep, ostep)} | "
            f"{_fmt(bcpu) if bcpu else '–'} / {_fmt(ocpu) if ocpu else '–'} | "
            f"{_ratio(bcpu, ocpu)} | "
            f"{_fmt(counted['steps']['summary']) if counted else '–'} | "
            f"{_fmt(frame['steps']['summary']) if frame else '–'} | "
            + (_proc(base) + " | " if base else "– | ")
            + _proc(ours)
            + " |"
        )
    spark_rows = [(s, _find(s, "summary-engine", "spark")) for s in results["sizes"]]
    spark_rows = [(s, t) for s, t in spark_rows if t]
    if spark_rows:
        lines += [
            "",
            "Same SQL on Spark (local mode, session start included in wall):",
            "",
            "| customers | Spark step s | Spark wall s / peak MB |",
            "|---:|---:|---:|",
        ]
        for s, t in spark_rows:
            lines.append(
                f"| {s['customers']:,} | {_fmt(t['steps']['summary'])} | "
                f"{_fmt(t['wall'])} / {t['peak_mb']:.0f} |"
            )
    lines += [
        "",
        "## Summary + fit + scoring (BG/NBD, Gamma-Gamma, 12-month CLV)",
        "",
        "| customers | lifetimes wall s | ours wall s | ratio | lifetimes CPU s | ours CPU s |"
        " lifetimes peak MB | ours peak MB | lifetimes steps s | our steps s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for size in results["sizes"]:
        base = _find(size, "pipeline-lifetimes")
        ours = _find(size, "pipeline-ours")
        if not ours:
            continue
        cells = [
            f"{size['customers']:,}",
            _fmt(base["wall"]) if base else "–",
            _fmt(ours["wall"]),
            _ratio(base and base["wall"], ours["wall"]),
            _fmt(base.get("cpu", 0)) if base else "–",
            _fmt(ours.get("cpu", 0)),
            f"{base['peak_mb']:.0f}" if base else "–",
            f"{ours['peak_mb']:.0f}",
            _steps(base) if base else "–",
            _steps(ours),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Full report (`analysis report`, every notebook, HTML)",
        "",
        "| customers | rows | wall s | CPU s | peak MB (tree) | runs | notebooks rendered "
        "| status |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for size in results["sizes"]:
        rep = _find(size, "report")
        if not rep:
            continue
        status = (
            "failed: " + rep["stderr"].strip().splitlines()[-1][:120]
            if rep["failed"] and rep["stderr"].strip()
            else ("failed" if rep["failed"] else "ok")
        )
        lines.append(
            f"| {size['customers']:,} | {size['rows']:,} | {_fmt(rep['wall'])} | "
            f"{_fmt(rep.get('cpu', 0))} | {rep['peak_mb']:.0f} | {rep['repeats']} | "
            f"{', '.join(rep['notebooks'])} | {status} |"
        )
    out.write_text("\n".join(lines) + "\n\n" + _other_benchmarks(out))
    out.with_name("results.json").write_text(json.dumps(results, indent=2, default=str))


GENERATED = ("## Summary step", "## Summary + fit + scoring", "## Full report")


def _other_benchmarks(out: Path) -> str:
    """Every section of RESULTS.md this script does not write (other scripts' sections, marked
    ``<!-- ... -->`` or not, and hand-written ones), in their order."""
    text = out.read_text() if out.exists() else ""
    parts = re.split(r"(?m)^(?=## |<!-- )", text)[1:]  # [0]: the header this script writes
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts
                   if not p.startswith(GENERATED))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
