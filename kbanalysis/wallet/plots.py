"""Charts of the wallet stage: the client's own turnover against our sales, sources compared,
loyalty levels, individual plans against current sales.

Every function takes ``ax=None`` (a new figure is made without touching pyplot's global
state) and returns the Axes. Texts come from ``locale/wallet.yaml`` via
:func:`kbanalysis.deliverables.i18n.t`; each title states the conclusion of the chart.

>>> import pandas as pd
>>> pc = pd.DataFrame({"wallet_month": [1e6, 2e5, 1e4], "revenue_month": [5e3, 1e4, 5e3],
...                    "loyalty": ["indifferent", "secondary", "main"], "plan_month": [1e4, 2e4, 5.25e3]})
>>> loyalty_bars(pc, lang="en").get_title().replace(chr(10), " ")
'33.3% of clients are indifferent to us: we are below 1% of their purchases'
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from kbanalysis.deliverables.i18n import fmt_int, fmt_pct, money_short, t
from kbanalysis.schema import LOYALTY
from kbanalysis.deliverables.style import money_ticks, new_axes, wrapped_title

LOYALTY_COLORS = {"indifferent": "#d73027", "secondary": "#fdae61", "main": "#1a9850"}
SOURCE_COLORS = {"manager_raw": "#bdbdbd", "manager": "#4575b4", "drivers": "#1a9850", "lookalike": "#984ea3",
                 "combined": "#d73027"}


def _ax(ax: Axes | None, size=(8, 5)) -> Axes:
    return new_axes(ax, size)


def _title(ax: Axes, text: str, width: int = 60) -> None:
    wrapped_title(ax, text, width)


def _wrap(label: str, width: int = 22) -> str:
    return textwrap.fill(label, width)


def _money_axis(axis, lang: str, currency: str) -> None:
    money_ticks(axis, lang, currency)


def _loyalty_label(level: str, lang: str, low: float, high: float) -> str:
    return t(f"wallet.loyalty.{level}", lang, low=fmt_pct(low, lang, 0), high=fmt_pct(high, lang, 0))


def _revenue_month(df: pd.DataFrame) -> pd.Series:
    if "revenue_month" in df:
        return pd.to_numeric(df["revenue_month"], errors="coerce")
    return pd.to_numeric(df["revenue_12m"], errors="coerce") / 12.0


def wallet_map(per_client: pd.DataFrame, lang: str = "ru", currency: str = "RUB", loyalty_low: float = 0.01,
               loyalty_high: float = 0.10, max_points: int = 20000, seed: int = 42, ax: Axes | None = None) -> Axes:
    """Client's wallet (x) against our monthly sales to it (y), log axes, with the share lines
    ``loyalty_low`` and ``loyalty_high``; points coloured by loyalty.

    ``per_client`` needs ``wallet_month``, ``loyalty`` and ``revenue_month`` (or ``revenue_12m``).

    >>> df = pd.DataFrame({"wallet_month": [1e6, 2e5, 1e4], "revenue_month": [5e3, 1e4, 5e3],
    ...                    "loyalty": ["indifferent", "secondary", "main"]})
    >>> wallet_map(df, lang="en").get_title().replace(chr(10), " ")
    'For 1 of 3 clients our share of their purchases is below 1%: we are one of the others'
    """
    ax = _ax(ax)
    d = pd.DataFrame({"w": pd.to_numeric(per_client["wallet_month"], errors="coerce"),
                      "r": _revenue_month(per_client), "l": per_client["loyalty"].astype("string")})
    d = d.loc[(d["w"] > 0) & (d["r"] > 0)]
    if d.empty:
        _title(ax, t("wallet.title.empty", lang))
        return ax
    n, n_low, n_main = len(d), int((d["l"] == "indifferent").sum()), int((d["l"] == "main").sum())
    pts = d.sample(max_points, random_state=seed) if len(d) > max_points else d
    for level in LOYALTY:
        p = pts.loc[pts["l"] == level]
        if len(p):
            ax.scatter(p["w"], p["r"], s=10, alpha=0.6, color=LOYALTY_COLORS[level], linewidths=0,
                       label=_loyalty_label(level, lang, loyalty_low, loyalty_high))
    lo, hi = d["w"].min() / 1.5, d["w"].max() * 1.5
    xs = np.geomspace(lo, hi, 50)
    for s, style in ((loyalty_low, ":"), (loyalty_high, "--"), (1.0, "-")):
        ax.plot(xs, xs * s, style, color="#555555", lw=1)
        ax.annotate(t("wallet.line.share", lang, share=fmt_pct(s, lang, 0)), (xs[-1], xs[-1] * s), fontsize=8,
                    ha="right", va="bottom", color="#555555")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    _money_axis(ax.xaxis, lang, currency)
    _money_axis(ax.yaxis, lang, currency)
    ax.set_xlabel(t("wallet.axis.wallet", lang))
    ax.set_ylabel(t("wallet.axis.revenue", lang))
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    if n_low >= n_main:
        _title(ax, t("wallet.title.map", lang, n_low=fmt_int(n_low, lang), n=fmt_int(n, lang),
                       low=fmt_pct(loyalty_low, lang, 0)))
    else:
        _title(ax, t("wallet.title.map_main", lang, n_main=fmt_int(n_main, lang), n=fmt_int(n, lang),
                       high=fmt_pct(loyalty_high, lang, 0)))
    return ax


def sources_compared(estimates: pd.DataFrame, errors: pd.DataFrame | None = None, lang: str = "ru",
                     currency: str = "RUB", max_points: int = 5000, seed: int = 42, ax: Axes | None = None) -> Axes:
    """Each source's estimate (y) against the client's own survey answer (x), log axes, with the
    line ``estimate = survey``; the legend gives every source's cross-validated typical error.

    Without a survey the managers' estimates are the reference. ``estimates`` is
    :attr:`kbanalysis.wallet.model.WalletEstimator.estimates_`; ``errors`` its ``errors_``.

    >>> est = pd.DataFrame({"w_survey": [100.0, 200.0, 400.0], "w_manager": [110.0, 190.0, 380.0],
    ...                     "w_drivers": [150.0, 120.0, 500.0]})
    >>> err = pd.DataFrame({"source": ["manager", "drivers"], "median_abs_pct_error": [0.05, 0.3]})
    >>> sources_compared(est, err, lang="en").get_title().replace(chr(10), " ")
    "Closest to the clients' answers: Manager's estimate (corrected), typical error 5.0%"
    """
    ax = _ax(ax)
    ref_col = "w_survey" if "w_survey" in estimates and estimates["w_survey"].notna().any() else None
    ref_key = "wallet.axis.reference"
    if ref_col is None and "w_manager" in estimates and estimates["w_manager"].notna().any():
        ref_col, ref_key = "w_manager", "wallet.axis.reference_manager"
    if ref_col is None:
        _title(ax, t("wallet.title.sources_none", lang))
        return ax
    err = {}
    if errors is not None and len(errors):
        err = dict(zip(errors["source"], pd.to_numeric(errors["median_abs_pct_error"], errors="coerce")))
    ref = pd.to_numeric(estimates[ref_col], errors="coerce")
    shown, allv = [], [ref[ref > 0]]
    for src in ("manager", "drivers", "lookalike"):
        col = f"w_{src}"
        if col == ref_col or col not in estimates:
            continue
        v = pd.to_numeric(estimates[col], errors="coerce")
        ok = (ref > 0) & (v > 0)
        if not ok.any():
            continue
        d = pd.DataFrame({"x": ref[ok], "y": v[ok]})
        d = d.sample(max_points, random_state=seed) if len(d) > max_points else d
        e = err.get(src, np.nan)
        if not np.isfinite(e):
            e = float(np.median(np.abs(d["y"] / d["x"] - 1)))
        label = t("wallet.legend.error", lang, source=t(f"wallet.source.{src}", lang), err=fmt_pct(e, lang))
        ax.scatter(d["x"], d["y"], s=12, alpha=0.55, color=SOURCE_COLORS[src], linewidths=0, label=label)
        shown.append((e, src))
        allv.append(d["y"])
    if not shown:
        _title(ax, t("wallet.title.sources_none", lang))
        return ax
    v = pd.concat(allv)
    lo, hi = v.min() / 1.5, v.max() * 1.5
    ax.plot([lo, hi], [lo, hi], "-", color="#555555", lw=1, label=t("wallet.line.equal", lang))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    _money_axis(ax.xaxis, lang, currency)
    _money_axis(ax.yaxis, lang, currency)
    ax.set_xlabel(t(ref_key, lang))
    ax.set_ylabel(t("wallet.axis.estimate", lang))
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    e, best = min(shown)
    key = "wallet.title.sources" if ref_col == "w_survey" else "wallet.title.sources_manager"
    _title(ax, t(key, lang, best=t(f"wallet.source.{best}", lang), err=fmt_pct(e, lang)))
    return ax


def loyalty_bars(per_client: pd.DataFrame, lang: str = "ru", loyalty_low: float = 0.01, loyalty_high: float = 0.10,
                 ax: Axes | None = None) -> Axes:
    """Number of clients per loyalty level, each bar labelled with its share of our sales.

    >>> df = pd.DataFrame({"loyalty": ["main", "main", "secondary"], "revenue_month": [10.0, 30.0, 10.0]})
    >>> loyalty_bars(df, lang="en").get_title().replace(chr(10), " ")
    'A main supplier for 66.7% of clients: they bring 80.0% of our sales'
    """
    ax = _ax(ax)
    lv = per_client["loyalty"].astype("string")
    rev = _revenue_month(per_client).clip(lower=0).fillna(0.0)
    known = lv.notna()
    counts = lv[known].value_counts().reindex(list(LOYALTY), fill_value=0)
    revs = rev[known].groupby(lv[known]).sum().reindex(list(LOYALTY), fill_value=0.0)
    n = int(counts.sum())
    if n == 0:
        _title(ax, t("wallet.title.empty", lang))
        return ax
    tot = float(revs.sum()) or 1.0
    labels = [_wrap(_loyalty_label(level, lang, loyalty_low, loyalty_high)) for level in LOYALTY]
    bars = ax.bar(labels, counts.to_numpy(), color=[LOYALTY_COLORS[level] for level in LOYALTY])
    for b, level in zip(bars, LOYALTY):
        ax.annotate(t("wallet.bar.revenue_share", lang, share=fmt_pct(revs[level] / tot, lang)),
                    (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel(t("wallet.axis.clients", lang))
    ax.margins(y=0.12)
    if counts["indifferent"] >= counts["main"]:
        _title(ax, t("wallet.title.loyalty", lang, pct=fmt_pct(counts["indifferent"] / n, lang),
                       low=fmt_pct(loyalty_low, lang, 0)))
    else:
        _title(ax, t("wallet.title.loyalty_main", lang, pct=fmt_pct(counts["main"] / n, lang),
                       rev=fmt_pct(revs["main"] / tot, lang)))
    return ax


def plan_vs_current(per_client: pd.DataFrame, lang: str = "ru", currency: str = "RUB", by: str = "loyalty",
                    loyalty_low: float = 0.01, loyalty_high: float = 0.10, ax: Axes | None = None) -> Axes:
    """Sum of the individual monthly plans against current monthly sales, per ``by`` group
    (loyalty level by default; any column, e.g. ``base`` or ``channel``).

    >>> df = pd.DataFrame({"loyalty": ["main", "secondary"], "revenue_month": [100.0, 10.0],
    ...                    "plan_month": [105.0, 20.0]})
    >>> plan_vs_current(df, lang="en").get_title().replace(chr(10), " ")
    'Individual plans: +13.6% over current sales, RUB 125 per month'
    """
    ax = _ax(ax)
    rev = _revenue_month(per_client).clip(lower=0).fillna(0.0)
    plan = pd.to_numeric(per_client["plan_month"], errors="coerce")
    ok = plan.notna()
    if not ok.any():
        _title(ax, t("wallet.title.plan_empty", lang))
        return ax
    g = per_client[by].astype("string").fillna("_unknown")[ok]
    d = pd.DataFrame({"g": g, "r": rev[ok], "p": plan[ok]}).groupby("g")[["r", "p"]].sum()
    order = [x for x in LOYALTY if x in d.index] if by == "loyalty" else []
    order += [x for x in d.index if x not in order]
    d = d.reindex(order)
    labels = [_wrap(_loyalty_label(x, lang, loyalty_low, loyalty_high) if by == "loyalty" and x in LOYALTY
                    else t("wallet.loyalty.unknown", lang) if x == "_unknown" else str(x)) for x in d.index]
    x = np.arange(len(d))
    ax.bar(x - 0.2, d["r"], 0.4, color="#bdbdbd", label=t("wallet.bar.current", lang))
    ax.bar(x + 0.2, d["p"], 0.4, color="#4575b4", label=t("wallet.bar.plan", lang))
    ax.set_xticks(x, labels)
    _money_axis(ax.yaxis, lang, currency)
    ax.set_ylabel(t("wallet.axis.per_month", lang))
    ax.legend(frameon=False)
    cur, tot = float(d["r"].sum()), float(d["p"].sum())
    growth = tot / cur - 1 if cur > 0 else np.nan
    _title(ax, t("wallet.title.plan", lang, growth=fmt_pct(growth, lang), plan=money_short(tot, lang, currency)))
    return ax
