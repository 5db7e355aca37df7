"""Figures of the lifetime-value notebook (inputs are the tables of :mod:`analysis.clv`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from analysis.plots import PALETTE, money_axis, new_ax, percent_axis
from analysis.text import tr

ACTUAL = sns.color_palette(PALETTE)[0]
MODEL = sns.color_palette(PALETTE)[1]


def calibration_bars(fit, ax=None, model_name: str = "model"):
    """Customers by repeat purchases in the calibration window, actual vs model.

    Parameters
    ----------
    fit : pandas.DataFrame
        :func:`analysis.clv.calibration_fit` output (``actual``, ``model``).
    """
    ax = new_ax(ax, figsize=(9, 4))
    x = np.arange(len(fit))
    ax.bar(x - 0.2, fit["actual"], width=0.4, label=tr("actual"), color=ACTUAL)
    ax.bar(x + 0.2, fit["model"], width=0.4, label=model_name, color=MODEL)
    ax.set_xticks(x, fit.index)
    ax.set_xlabel(tr("repeat purchases in the calibration window"))
    ax.set_ylabel(tr("customers"))
    ax.set_title(tr("How many customers bought again, and how often"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend()
    return ax


def holdout_by_frequency(by_freq, ax=None, model_name: str = "model"):
    """Mean holdout purchases by calibration repeat purchases, actual vs predicted.

    Parameters
    ----------
    by_freq : pandas.DataFrame
        :func:`analysis.clv.holdout_by_frequency` output.
    """
    ax = new_ax(ax, figsize=(9, 4))
    x = np.arange(len(by_freq))
    ax.plot(x, by_freq["actual"], marker="o", label=tr("actual"), color=ACTUAL)
    ax.plot(x, by_freq["predicted"], marker="s", ls="--", label=model_name, color=MODEL)
    ax.set_xticks(x, by_freq.index)
    ax.set_xlabel(tr("repeat purchases in the calibration window"))
    ax.set_ylabel(tr("purchases per customer in holdout"))
    ax.set_title(tr("Holdout purchases by past purchase frequency"))
    ax.legend()
    return ax


def tracking(track, model_name: str = "model", unit_label: str = "purchases"):
    """Weekly and cumulative repeat purchases, actual vs model, with the holdout shaded.

    Parameters
    ----------
    track : pandas.DataFrame
        :func:`analysis.clv.tracking` output.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: weekly (left), cumulative (right).
    """
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    hold = track.index[track["period"] == "holdout"]
    full = track["days"] == 7 if "days" in track else np.ones(len(track), dtype=bool)
    days = int(track["days"].iloc[0]) if "days" in track else 7
    start = track["week_end"].iloc[0] - np.timedelta64(days - 1, "D")
    for ax, (act, pred, title) in zip(
        axes,
        [
            ("actual", "predicted", tr("Repeat purchases per week")),
            ("cum_actual", "cum_predicted", tr("Cumulative repeat purchases")),
        ],
        strict=True,
    ):
        rows = (
            track.loc[full] if act == "actual" else track
        )  # a partial last week looks like a drop
        ax.plot(rows.index, rows[act], label=tr("actual"), color=ACTUAL)
        ax.plot(rows.index, rows[pred], label=model_name, color=MODEL, ls="--")
        if len(hold):
            ax.axvspan(hold[0] - 0.5, hold[-1] + 0.5, color="0.9", zorder=0)
            ax.text(
                hold[0],
                ax.get_ylim()[1] * 0.97,
                " " + tr("holdout"),
                va="top",
                ha="left",
                color="0.35",
            )
        ax.set_xlabel(tr("week (week 1 starts {start:%Y-%m-%d})", start=start))
        ax.set_ylabel(tr("repeat {unit}", unit=tr(unit_label)))
        ax.set_title(title)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axes[0].legend(loc="upper left")
    return fig


def spend_by_frequency(spend, ax=None, currency: str = ""):
    """Median and interquartile range of mean repeat spend by purchase frequency.

    Parameters
    ----------
    spend : pandas.DataFrame
        :func:`analysis.clv.spend_by_frequency` output.
    """
    ax = new_ax(ax, figsize=(9, 4))
    x = np.arange(len(spend))
    ax.fill_between(x, spend["q25"], spend["q75"], color=ACTUAL, alpha=0.2, label=tr("middle 50 %"))
    ax.plot(x, spend["median"], marker="o", color=ACTUAL, label=tr("median"))
    ax.set_xticks(x, spend.index)
    ax.set_xlabel(tr("repeat purchases"))
    ax.set_ylabel(tr("mean spend per repeat purchase"))
    ax.set_title(tr("Does spend per purchase depend on how often customers buy?"))
    money_axis(ax, "y", currency)
    ax.set_ylim(bottom=0)
    ax.legend()
    return ax


def clv_concentration(values, ax=None, currency: str = ""):
    """Share of total CLV held by each customer decile (highest CLV first).

    Parameters
    ----------
    values : pandas.DataFrame
        :func:`analysis.clv.customer_value` output (``clv``).
    """
    ax = new_ax(ax, figsize=(9, 4))
    clv = values["clv"].sort_values(ascending=False).to_numpy()
    n = len(clv)
    decile = np.minimum((np.arange(n) * 10) // max(n, 1), 9)
    share = np.bincount(decile, weights=clv, minlength=10) / max(clv.sum(), 1e-12)
    per_customer = np.bincount(decile, weights=clv, minlength=10) / np.maximum(
        np.bincount(decile, minlength=10), 1
    )
    labels = [f"{10 * i}-{10 * (i + 1)}%" for i in range(10)]
    bars = ax.bar(labels, share, color=ACTUAL)
    for bar, value in zip(bars, per_customer, strict=True):
        ax.annotate(
            f"{currency}{value:,.0f}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    percent_axis(ax)
    ax.set_xlabel(tr("customers ranked by CLV (decile, highest first)"))
    ax.set_ylabel(tr("share of total CLV"))
    ax.set_title(tr("Where the value sits (labels: average CLV per customer)"))
    return ax


def matrix(table, ax=None, title: str = "", fmt: str = ".0%", label: str = "", vmax=None):
    """Heatmap of a :func:`analysis.clv.behaviour_matrix` table (colour scale from 0)."""
    ax = new_ax(ax, figsize=(7, 4.5))
    sns.heatmap(
        table,
        vmin=0,
        vmax=vmax,
        ax=ax,
        annot=True,
        fmt=fmt,
        cmap="Blues",
        cbar_kws={"label": label},
        linewidths=0.5,
        annot_kws={"fontsize": 9},
    )
    ax.set_title(title)
    ax.set_xlabel(tr("weeks since last purchase"))
    ax.set_ylabel(tr("repeat purchases"))
    ax.tick_params(axis="y", rotation=0)
    return ax


def bootstrap_total(draws, estimate: float, low: float, high: float, ax=None, currency: str = ""):
    """Histogram of bootstrap total CLV with the point estimate and interval marked."""
    ax = new_ax(ax, figsize=(9, 3.5))
    values = draws["total_clv"].dropna()
    ax.hist(values, bins=min(30, max(5, len(values) // 3)), color=ACTUAL, alpha=0.7)
    ax.axvline(estimate, color="black", label=tr("estimate"))
    ax.axvspan(low, high, color=MODEL, alpha=0.15, label=tr("interval"))
    span = max(values.max() - values.min(), abs(estimate) * 1e-3, 1e-9)
    scale, suffix = (
        (1e6, "M") if abs(estimate) >= 1e6 else (1e3, "k") if abs(estimate) >= 1e4 else (1, "")
    )
    decimals = int(max(0, np.ceil(-np.log10(span / scale / 5))))
    ax.xaxis.set_major_formatter(
        plt.FuncFormatter(lambda x, _: f"{currency}{x / scale:,.{decimals}f}{suffix}")
    )
    ax.set_xlabel(tr("total CLV of today's customers"))
    ax.set_ylabel(tr("bootstrap refits"))
    ax.set_title(tr("How sure is the total? (bootstrap over customers)"))
    ax.legend()
    return ax


def alive_history(history, ax=None, label: str = "customer"):
    """One customer's P(alive) day by day, purchases marked.

    Parameters
    ----------
    history : pandas.DataFrame
        :func:`analysis.clv.alive_history` output (``p_alive``, ``purchase``; index ``day``).
    """
    ax = new_ax(ax, figsize=(10, 3.5))
    ax.plot(history.index, history["p_alive"], color=MODEL, label="P(alive)")
    bought = history.loc[history["purchase"]]
    ax.scatter(bought.index, bought["p_alive"], color=ACTUAL, s=12, zorder=3, label=tr("purchase"))
    ax.set_ylim(0, 1.05)
    percent_axis(ax, "y")
    ax.set_ylabel("P(alive)")
    ax.set_title(tr("P(alive) through the history of {label}", label=label))
    ax.legend(loc="lower left")
    return ax
