"""One look for every chart: seaborn theme, Cyrillic-capable font, money / percent axes, saving.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt, tempfile, pathlib
>>> apply_style()
>>> fig, ax = plt.subplots()
>>> _ = ax.bar(["А", "Б"], [1_250_000, 3_400_000])
>>> money_axis(ax, "y", lang="ru")
>>> ax.yaxis.get_major_formatter()(2_000_000, 0)
'2,0 млн ₽'
>>> p = save_chart(ax, pathlib.Path(tempfile.mkdtemp()) / "demo.png")
>>> p.exists(), plt.fignum_exists(fig.number)
(True, False)
"""
from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import Formatter, FuncFormatter

from kbanalysis.deliverables import i18n

__all__ = ["apply_style", "save_chart", "money_axis", "pct_axis", "thousands_axis", "PALETTE", "FONT"]

FONT = "DejaVu Sans"  # shipped with matplotlib, has Cyrillic
#: colour-blind-safe palette used by every chart
PALETTE = "colorblind"

_RC = {
    "text.parse_math": False,  # names from the case are labels, never mathtext ("$" pairs would be parsed)
    "font.family": "sans-serif",
    "font.sans-serif": [FONT, "Arial", "Liberation Sans", "sans-serif"],
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 14,
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.formatter.use_locale": False,
    "axes.formatter.limits": (-9, 12),  # no "1e6" offsets: the formatters below write the units
    "figure.figsize": (9, 4.8),
}


def apply_style() -> None:
    """Set the common seaborn theme (white grid, readable sizes, DejaVu Sans for Cyrillic).

    Idempotent; call it once per notebook (or before each chart, it is cheap).
    """
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font=FONT, rc=_RC)


def _axes_of(axis_name: str):
    if axis_name not in ("x", "y", "both"):
        raise ValueError(f"axis must be 'x', 'y' or 'both', not {axis_name!r}")
    return ("x", "y") if axis_name == "both" else (axis_name,)


def _set(ax, axis: str, fmt: FuncFormatter) -> None:
    for a in _axes_of(axis):
        (ax.xaxis if a == "x" else ax.yaxis).set_major_formatter(fmt)


def money_axis(ax, axis: str = "y", lang: str = "ru", currency: str = "RUB") -> None:
    """Ticks of ``axis`` as compact money: ``1,2 млн ₽`` / ``RUB 1.2M`` (:func:`kbanalysis.deliverables.i18n.money_short`)."""
    _set(ax, axis, MoneyTicks(lang, currency, negatives=True))


def pct_axis(ax, axis: str = "y", lang: str = "ru", decimals: int = 0) -> None:
    """Ticks of ``axis`` holding shares 0..1 as percentages: ``15 %`` / ``15%``.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(); pct_axis(ax, "x", "ru", 1)
    >>> ax.xaxis.get_major_formatter()(0.125, 0)
    '12,5\xa0%'
    >>> plt.close(fig)
    """
    _set(ax, axis, FuncFormatter(lambda v, _pos: i18n.fmt_pct(v, lang, decimals)))


def thousands_axis(ax, axis: str = "y", lang: str = "ru") -> None:
    """Ticks of ``axis`` as whole numbers with thousands separators: ``12 500`` / ``12,500``."""
    _set(ax, axis, FuncFormatter(lambda v, _pos: i18n.fmt_int(v, lang)))


def save_chart(ax_or_fig, path, dpi: int = 110) -> Path:
    """Save the figure of ``ax_or_fig`` (an Axes, a Figure or a seaborn grid) as PNG and close it.

    Uses the figure object itself, never pyplot's "current figure"; the parent folder is created.

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib.pyplot as plt

    fig = getattr(ax_or_fig, "figure", None) or getattr(ax_or_fig, "fig", None) or ax_or_fig
    if hasattr(fig, "get_figure") and not hasattr(fig, "savefig"):
        fig = fig.get_figure()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


def new_axes(ax=None, size=(8, 5)):
    """``ax`` itself, or the Axes of a new Figure of ``size`` (never pyplot's global state).

    >>> new_axes(None, (4, 3)).figure.get_size_inches().tolist()
    [4.0, 3.0]
    """
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained").add_subplot()


def wrapped_title(ax, text: str, width: int = 70) -> None:
    """A title that states the chart's conclusion, wrapped so that it never overflows."""
    import textwrap

    ax.set_title(textwrap.fill(text, width))


class MoneyTicks(Formatter):
    """Compact money ticks (:func:`kbanalysis.deliverables.i18n.money_short`; zero — and below, unless
    ``negatives`` — ``0``) with as many
    decimals as it takes for neighbouring ticks to read differently: ``GBP 9.50M, GBP 9.51M``, never
    ``GBP 9.5M, GBP 9.5M``.

    >>> MoneyTicks("en", "GBP").format_ticks([9_500_000, 9_510_000, 9_520_000])
    ['GBP 9.50M', 'GBP 9.51M', 'GBP 9.52M']
    >>> MoneyTicks("en", "GBP").format_ticks([0, 1_000_000, 2_000_000])
    ['0', 'GBP 1.0M', 'GBP 2.0M']
    """

    def __init__(self, lang: str = "ru", currency: str = "RUB", negatives: bool = False):
        self.lang, self.currency, self.decimals, self.negatives = lang, currency, 1, negatives

    def __call__(self, x, pos=None):
        if x <= 0 and not (self.negatives and x < 0):
            return "0"
        return i18n.money_short(x, self.lang, self.currency, self.decimals)

    def format_ticks(self, values):
        for self.decimals in (1, 2, 3):
            labels = [self(v) for v in values]
            if len(set(labels)) == len(labels):
                break
        return labels


def month_ticks(axis, lang: str = "ru") -> None:
    """Months on a date axis as the report's language writes them: ``10.2024`` in Russian, ``2024-10`` in English."""
    from matplotlib.dates import DateFormatter

    axis.set_major_formatter(DateFormatter(i18n.month_pattern(lang)))


def money_ticks(axis, lang: str = "ru", currency: str = "RUB") -> None:
    """Compact money on one axis object (``ax.xaxis`` / ``ax.yaxis``), neighbouring ticks distinct (:class:`MoneyTicks`)."""
    axis.set_major_formatter(MoneyTicks(lang, currency))


class NumberTicks(Formatter):
    """Plain number ticks in the language's decimal mark (``0,25`` in Russian) with as many decimals as it
    takes for neighbouring ticks to read differently: ``0,265, 0,270``, never ``0,27, 0,27``.

    >>> NumberTicks("ru").format_ticks([0.26, 0.265, 0.27])
    ['0,26', '0,265', '0,27']
    >>> NumberTicks("en").format_ticks([0.0, 0.5, 1.0])
    ['0', '0.5', '1']
    """

    def __init__(self, lang: str = "ru"):
        self.lang, self.decimals = lang, 2

    def __call__(self, x, pos=None):
        return i18n.fmt_num(x, self.lang, self.decimals)

    def format_ticks(self, values):
        for self.decimals in (1, 2, 3, 4):
            labels = [self(v) for v in values]
            if len(set(labels)) == len(labels):
                break
        return labels
