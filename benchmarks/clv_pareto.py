"""Pareto/NBD on Online Retail: our fit and 12-month CLV against lifetimes', same run.

``flock /tmp/heavy.lock .venv/bin/python benchmarks/clv_pareto.py [--repeats 3]`` prints a
markdown table (medians of ``--repeats`` runs, in this process after a warm-up import):
lifetimes' ParetoNBDFitter on the compressed rows (its Nelder-Mead on its closed-form
likelihood) and ``customer_lifetime_value``, against ``analysis.clv.fit_model`` and
``customer_value``; the number of non-finite CLVs each gives is shown beside the time.
"""

from __future__ import annotations

import argparse
import statistics
import time


def _timed(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None) -> int:
    """Run the comparison and print the markdown rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import numpy as np
    from lifetimes import GammaGammaFitter, ParetoNBDFitter

    from analysis import clv
    from analysis.data import load_transactions
    from analysis.summary import customer_summary

    tx = load_transactions("online_retail")
    summary = customer_summary(tx.frame, tx.as_of, "W")
    rows = clv.compress(summary)

    def theirs():
        with clv.adapter.quiet():
            fit = ParetoNBDFitter().fit(rows["frequency"], rows["recency"], rows["T"],
                                        weights=rows["weights"])  # fmt: skip
            repeat = summary.loc[summary["frequency"] > 0]
            spend = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
            value = spend.customer_lifetime_value(fit, summary["frequency"], summary["recency"],
                                                  summary["T"], summary["monetary_value"],
                                                  time=12, freq="W")  # fmt: skip
        return np.asarray(value, dtype=float)

    def ours():
        fitted = clv.fit_model(summary, "pareto_nbd", "W")
        return clv.customer_value(fitted, clv.fit_spend(summary), summary)["clv"].to_numpy()

    t_theirs, v_theirs = _timed(theirs, args.repeats)
    t_ours, v_ours = _timed(ours, args.repeats)
    print("| Online Retail, Pareto/NBD + Gamma-Gamma + 12-month CLV | wall s | non-finite CLV |")
    print("|---|---:|---:|")
    print(f"| lifetimes | {t_theirs:.2f} | {int((~np.isfinite(v_theirs)).sum())} |")
    print(f"| ours | {t_ours:.2f} | {int((~np.isfinite(v_ours)).sum())} |")
    print(f"| ratio lifetimes / ours | {t_theirs / t_ours:.1f}x | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
