"""Every figure the notebooks show, in one consistent seaborn theme.

Plot functions take ``ax=None`` and return the ``Axes`` (or a ``Figure`` for
multi-panel plots); they never call ``plt.show()`` and never change global style.
Notebooks call :func:`use_theme` once. Topic modules (``plots.demand``,
``plots.segmentation``, ``plots.clv``, ``plots.churn``) hold the figures of
each analysis; shared helpers live here.
"""

from __future__ import annotations

import logging

import matplotlib as mpl
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import seaborn as sns

from analysis import i18n
from analysis.text import tr_name

#: Latin text first, then a CJK font for Chinese / Japanese / Korean labels (matplotlib falls
#: back glyph by glyph along this list). Noto Sans CJK SC (SIL Open Font Licence) comes from
#: the ``mplfonts`` package on PyPI, so a pip-only install draws 上海 instead of empty boxes.
FONT_FAMILIES = ("DejaVu Sans",)
CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"

PALETTE = "deep"
SEQUENTIAL = "Blues"
DIVERGING = "RdBu_r"


def cjk_font_path() -> str | None:
    """The packaged CJK font file (None when ``mplfonts`` or its font is absent)."""
    import os

    try:
        import mplfonts
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(mplfonts.__file__), "fonts", CJK_FONT_FILE)
    return path if os.path.exists(path) else None


def cjk_font() -> str | None:
    """Register the packaged CJK font with matplotlib once; its family name (None if absent)."""
    from matplotlib import font_manager

    path = cjk_font_path()
    if path is None:
        return None
    if path not in {f.fname for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


class _RegularCJKIsFine(logging.Filter):
    """Drop matplotlib's note that the CJK font has no bold face (titles then use regular)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Failed to find font weight" not in record.getMessage()


def use_theme() -> None:
    """Set the notebooks' theme (call once, in the first code cell after imports).

    Fonts cover the data's scripts: Latin first, then the CJK font for Chinese names.
    """
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    cjk = cjk_font()
    font_log = logging.getLogger("matplotlib.font_manager")
    if not any(isinstance(f, _RegularCJKIsFine) for f in font_log.filters):
        font_log.addFilter(_RegularCJKIsFine())
    mpl.rcParams.update(
        {
            "font.family": [*FONT_FAMILIES, *([cjk] if cjk else [])],
            "figure.figsize": (10, 4.5),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.autolayout": True,
            "axes.titlesize": 13,
            "axes.titleweight": "bold",
            "axes.labelsize": 11,
            "legend.frameon": False,
        }
    )


def new_ax(ax=None, figsize=None):
    """Return ``ax`` or a fresh Axes on a new figure."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


#: Money ticks in words for languages other than English, largest first: (from this
#: amount, divided by, decimals, unit); ``￥4.5万``, ``￥250万``, ``￥1.2亿``.
AXIS_UNITS = {"zh": ((1e8, 1e8, 1, "亿"), (1e4, 1e4, 1, "万"), (0, 1, 0, ""))}


def money_axis(ax, axis: str = "y", currency: str = "") -> None:
    """Format an axis as money with thousands separators (``£12k``, ``£1.2M``; in Chinese
    reports ``￥45万``, ``￥1.2亿``)."""
    units = AXIS_UNITS.get(i18n.current_language(), ())

    def fmt(x, _pos):
        sign = "-" if x < 0 else ""
        x = abs(x)
        for start, size, places, unit in units:
            if x >= start:  # 250万 rather than 250.0万
                number = f"{x / size:.{places}f}".removesuffix(".0")
                return f"{sign}{currency}{number}{unit}"
        if x >= 1e6:
            return f"{sign}{currency}{x / 1e6:.1f}M"
        if x >= 1e4:
            return f"{sign}{currency}{x / 1e3:.0f}k"
        if x >= 1e3:
            return f"{sign}{currency}{x / 1e3:.1f}k".replace(".0k", "k")
        return f"{sign}{currency}{x:.0f}"

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(mticker.FuncFormatter(fmt))


def percent_axis(ax, axis: str = "y", decimals: int = 0) -> None:
    """Format an axis holding fractions (0.25) as percentages (25 %)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(mticker.PercentFormatter(1.0, decimals=decimals))


def bar_top(series, ax=None, title: str = "", xlabel: str = "", money: str | None = None):
    """Horizontal bar chart of a named series (largest on top).

    Parameters
    ----------
    series : pandas.Series
        Values indexed by label (e.g. revenue by country).
    money : str, optional
        Currency symbol; formats the value axis as money.
    """
    ax = new_ax(ax, figsize=(9, 0.35 * len(series) + 1.2))
    data = series.sort_values()
    labels = [str(tr_name(i)) for i in data.index]  # names from fixed lists translated
    ax.barh(labels, data.to_numpy(), color=sns.color_palette(PALETTE)[0])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    if money is not None:
        money_axis(ax, "x", money)
    return ax


# Topic modules import the helpers above, so they are imported last.
from analysis.plots import (  # noqa: E402
    behaviour,
    churn,
    clv,
    cycle,
    demand,
    feedback,
    lifecycle,
    overview,
    profile,
    recommend,
    retention,
    segmentation,
)

__all__ = [
    "use_theme",
    "new_ax",
    "money_axis",
    "percent_axis",
    "bar_top",
    "overview",
    "demand",
    "segmentation",
    "clv",
    "churn",
    "feedback",
    "cycle",
    "behaviour",
    "lifecycle",
    "profile",
    "recommend",
    "retention",
]
