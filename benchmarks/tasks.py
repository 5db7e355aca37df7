"""One benchmark task per process, so that its wall time and peak memory are its own.

``python benchmarks/tasks.py TASK LOG AS_OF [--engine spark]`` runs TASK on the
Parquet log and prints one JSON line: the seconds of each step (timed inside the
process, after imports) and the number of customers. :mod:`run` starts these
processes and measures the whole process tree from outside.

Tasks
-----
summary-lifetimes   read the log with pandas, drop returns, lifetimes' summary
                    function (the straightforward baseline)
summary-engine      the engine's SQL over the file (DuckDB, or Spark with --engine),
                    with the baseline's cleaning and the columns lifetimes' function
                    gives (no order counts, no reversed-purchase join): the same work
summary-orders      the engine's default over a raw file: also drops the purchases a
                    later cancellation reverses and counts orders (what
                    ``engine.customer_summary(path)`` does)
summary-frame       read the log with pandas, then analysis.summary.customer_summary
                    on the frame (the path the notebooks take after load_transactions)
pipeline-lifetimes  baseline summary + BG/NBD and Gamma-Gamma fits on every row +
                    lifetimes' customer_lifetime_value (12 months)
pipeline-ours       engine summary + fits on compressed rows + vectorised scoring
                    (analysis.clv)
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import pandas as pd

COLUMNS = ["customer_id", "order_date", "amount", "order_id"]


class Clock:
    """Collects the wall time and CPU time (all threads of the process) of named steps."""

    def __init__(self):
        self.steps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._last = time.perf_counter()
        self._last_cpu = time.process_time()

    def lap(self, name: str) -> None:
        now, now_cpu = time.perf_counter(), time.process_time()
        self.steps[name] = round(now - self._last, 4)
        self.cpu[name] = round(now_cpu - self._last_cpu, 4)
        self._last, self._last_cpu = now, now_cpu


def _read_clean(path: str) -> pd.DataFrame:
    """The log as a pandas frame, returns dropped the way the loader's default does."""
    frame = pd.read_parquet(path, columns=COLUMNS)
    keep = (frame["amount"] > 0) & ~frame["order_id"].str.upper().str.startswith("C")
    return frame.loc[keep]


def lifetimes_summary(path: str, as_of: str, clock: Clock) -> pd.DataFrame:
    from lifetimes.utils import summary_data_from_transaction_data

    frame = _read_clean(path)
    clock.lap("read")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' pandas-3 deprecation noise
        summary = summary_data_from_transaction_data(
            frame,
            "customer_id",
            "order_date",
            monetary_value_col="amount",
            observation_period_end=as_of,
            freq="D",
        )
    clock.lap("summary")
    return summary


def engine_summary(
    path: str, as_of: str, clock: Clock, engine: str = "duckdb", full: bool = False
) -> pd.DataFrame:
    from analysis import engine as eng

    runner = eng.get_engine(engine)
    clock.lap("engine start")
    source = eng.Source(path=path, reversals=full)
    summary = eng.customer_summary(source, as_of, engine=runner, orders=full)
    clock.lap("summary")
    return summary


def frame_summary(path: str, as_of: str, clock: Clock) -> pd.DataFrame:
    from analysis.summary import customer_summary

    frame = _read_clean(path)
    clock.lap("read")
    summary = customer_summary(frame, as_of)
    clock.lap("summary")
    return summary


def pipeline_lifetimes(path: str, as_of: str, clock: Clock) -> int:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    summary = lifetimes_summary(path, as_of, clock)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
        clock.lap("fit purchases")
        repeat = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        clock.lap("fit spend")
        clv = ggf.customer_lifetime_value(
            bgf,
            summary["frequency"],
            summary["recency"],
            summary["T"],
            summary["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="D",
        )
    clock.lap("score")
    return int(clv.notna().sum())


def pipeline_ours(path: str, as_of: str, clock: Clock, engine: str = "duckdb") -> int:
    from analysis import clv

    summary = engine_summary(path, as_of, clock, engine)
    fitted = clv.fit_model(summary, "bgnbd", "W")
    clock.lap("fit purchases")
    spend = clv.fit_spend(summary)
    clock.lap("fit spend")
    values = clv.customer_value(fitted, spend, summary, horizon_months=12, discount_rate=0.1268)
    clock.lap("score")
    return int(values["clv"].notna().sum())


def _preload(task: str, engine: str) -> None:
    """Import what the task needs before the clock starts: imports are not the step's cost."""
    import pyarrow.parquet  # noqa: F401

    if "lifetimes" in task:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import lifetimes  # noqa: F401
            import lifetimes.utils  # noqa: F401
    else:
        from analysis import clv, summary  # noqa: F401

        if engine == "duckdb":
            import duckdb  # noqa: F401


def run(task: str, path: str, as_of: str, engine: str = "duckdb") -> dict:
    _preload(task, engine)
    clock = Clock()
    if task == "summary-lifetimes":
        n = len(lifetimes_summary(path, as_of, clock))
    elif task == "summary-engine":
        n = len(engine_summary(path, as_of, clock, engine))
    elif task == "summary-orders":
        n = len(engine_summary(path, as_of, clock, engine, full=True))
    elif task == "summary-frame":
        n = len(frame_summary(path, as_of, clock))
    elif task == "pipeline-lifetimes":
        n = pipeline_lifetimes(path, as_of, clock)
    elif task == "pipeline-ours":
        n = pipeline_ours(path, as_of, clock, engine)
    else:
        raise SystemExit(f"unknown task {task}")
    return {"task": task, "customers": n, "steps": clock.steps, "cpu_steps": clock.cpu}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="run one benchmark task")
    parser.add_argument("task")
    parser.add_argument("path")
    parser.add_argument("as_of")
    parser.add_argument("--engine", default="duckdb")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.task, args.path, args.as_of, args.engine)))


if __name__ == "__main__":
    main()
