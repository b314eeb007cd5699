"""Charts of the executive summary (05-summary): the money a plan can win, the client base, where the money is.

Every title is computed from the figures the chart draws (``summary.json`` or ``clients.csv``), so a
title never quotes a number the bars do not show.

>>> import matplotlib; matplotlib.use("Agg")
>>> s = {"clients": {"by_base": {"active": 8, "sleeping": 2, "lost": 3, "potential": 1, "closed": 1}},
...      "totals": {"current_month": 100.0, "achievable_month": 25.0, "ceiling_month": 900.0,
...                 "reactivation_month": 10.0, "acquisition_month": 5.0}}
>>> money_bridge(s, lang="en").get_title()
'Plans add RUB 25 a month (+25.0%) to current sales;\\nthe ceiling of RUB 900 is not a target'
>>> client_base(s, lang="en").get_title()
'10 of 15 clients buy now'
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from kbanalysis.deliverables import i18n
from kbanalysis.deliverables.style import money_ticks, new_axes
from kbanalysis.schema import BUYING

__all__ = ["money_bridge", "client_base", "achievable_by_class"]


def _total(summary: Mapping, name: str) -> float:
    v = (summary.get("totals") or {}).get(name)
    return float(v) if isinstance(v, (int, float)) and np.isfinite(v) else float("nan")


def _money_x(ax, lang, currency) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(5))
    money_ticks(ax.xaxis, lang, currency)


def _bar_labels(ax, bars, values, lang, currency) -> None:
    for b, v in zip(bars, values):
        if np.isfinite(v):
            ax.annotate(i18n.money_short(v, lang, currency), (b.get_width(), b.get_y() + b.get_height() / 2),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)


def money_bridge(summary: Mapping, ax=None, lang: str = "ru", currency: str = "RUB"):
    """Current monthly sales, the plans' achievable increment, reactivation and acquisition, and beside them
    the wallet ceiling (hatched: 100 % capture, not a target). From ``summary.json`` ``totals``.

    Returns the Axes.
    """
    ax = new_axes(ax, (9, 4.2))
    names = ("current_month", "achievable_month", "reactivation_month", "acquisition_month", "ceiling_month")
    vals = [_total(summary, n) for n in names]
    keep = [i for i, v in enumerate(vals) if np.isfinite(v) and (v > 0 or i < 2)]
    labels = [i18n.t(f"summary.chart.{names[i]}", lang) for i in keep]
    values = [vals[i] for i in keep]
    colors = ["#4c72b0", "#2a9d8f", "#e9a23b", "#8c8c8c", "white"]
    y = np.arange(len(keep))[::-1]
    bars = ax.barh(y, values, color=[colors[i] for i in keep], edgecolor="#555555",
                   hatch=None, linewidth=0.8)
    for b, i in zip(bars, keep):
        if names[i] == "ceiling_month":
            b.set_hatch("//")
    ax.set_yticks(y, labels)
    _money_x(ax, lang, currency)
    _bar_labels(ax, bars, values, lang, currency)
    ax.set_xlim(0, max([v for v in values if np.isfinite(v)] + [1.0]) * 1.15)
    cur, gain, ceil = vals[0], vals[1], vals[4]
    if np.isfinite(gain) and np.isfinite(cur) and cur > 0:
        key = "summary.chart.title_bridge" if np.isfinite(ceil) else "summary.chart.title_bridge_noceiling"
        ax.set_title(i18n.t(key, lang, gain=i18n.fmt_money(gain, lang, currency),
                            pct=i18n.fmt_pct(gain / cur, lang), ceiling=i18n.fmt_money(ceil, lang, currency)))
    else:
        ax.set_title(i18n.t("summary.chart.title_bridge_plain", lang))
    ax.grid(axis="y", visible=False)
    return ax


def client_base(summary: Mapping, ax=None, lang: str = "ru"):
    """Clients per base (active, sleeping, lost, potential, closed) from ``summary.json``; the title says how
    many of them buy now. Returns the Axes."""
    from kbanalysis.deliverables.report import label
    from kbanalysis.schema import BASES

    ax = new_axes(ax, (9, 3.6))
    by = (summary.get("clients") or {}).get("by_base") or {}
    bases = [b for b in BASES if by.get(b)]
    counts = [int(by[b]) for b in bases]
    y = np.arange(len(bases))[::-1]
    palette = {"active": "#4c72b0", "sleeping": "#e9a23b", "lost": "#c44e52", "potential": "#8c8c8c",
               "closed": "#cccccc"}
    bars = ax.barh(y, counts, color=[palette[b] for b in bases])
    ax.set_yticks(y, [label(b, lang) for b in bases])
    for b, v in zip(bars, counts):
        ax.annotate(i18n.fmt_int(v, lang), (b.get_width(), b.get_y() + b.get_height() / 2), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=9)
    ax.set_xlim(0, max(counts + [1]) * 1.12)
    ax.set_xlabel(i18n.t("summary.chart.clients", lang))
    buying = sum(int(by.get(b) or 0) for b in BUYING)
    ax.set_title(i18n.t("summary.chart.title_base", lang, n=i18n.fmt_int(buying, lang),
                        total=i18n.fmt_int(sum(counts), lang)))
    ax.grid(axis="y", visible=False)
    return ax


def achievable_by_class(clients: pd.DataFrame, ax=None, lang: str = "ru", currency: str = "RUB"):
    """The achievable increment of the clients buying now per ABCDE class (``clients.csv``, master cards);
    the title gives the share of classes A and B. Returns the Axes."""
    ax = new_axes(ax, (9, 3.6))
    c = clients
    if "merged_into" in c.columns:
        c = c[c["merged_into"].isna()]
    base = c["base"].astype("string") if "base" in c.columns else pd.Series(pd.NA, index=c.index, dtype="string")
    gain = pd.to_numeric(c.get("achievable_month", pd.Series(np.nan, index=c.index)), errors="coerce")
    m = base.isin(BUYING).fillna(False).to_numpy(dtype=bool) & (gain.fillna(0) > 0).to_numpy()
    cls = c.loc[m, "abcde"].astype("string").fillna("—") if "abcde" in c.columns else pd.Series("—", index=c.index[m])
    by = gain[m].groupby(cls.to_numpy()).sum()
    order = [k for k in ("A", "B", "C", "D", "E", "—") if k in by.index]
    by = by.reindex(order)
    y = np.arange(len(by))[::-1]
    bars = ax.barh(y, by.to_numpy(), color="#2a9d8f")
    ax.set_yticks(y, [i18n.t("summary.chart.class", lang, k=k) for k in by.index])
    _money_x(ax, lang, currency)
    _bar_labels(ax, bars, by.to_numpy(), lang, currency)
    ax.set_xlim(0, max(list(by.to_numpy()) + [1.0]) * 1.18)
    total = float(by.sum())
    if total > 0:
        ab = float(by.reindex(["A", "B"]).fillna(0).sum())
        ax.set_title(i18n.t("summary.chart.title_class", lang, pct=i18n.fmt_pct(ab / total, lang),
                            money=i18n.fmt_money(ab, lang, currency)))
    else:
        ax.set_title(i18n.t("summary.chart.title_class_none", lang))
    ax.grid(axis="y", visible=False)
    return ax
