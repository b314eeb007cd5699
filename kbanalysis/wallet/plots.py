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

from kbanalysis.deliverables.i18n import fmt_int, fmt_money, fmt_pct, money_short, t
from kbanalysis.sales.engine import revenue_per_month
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


def wallet_map(per_client: pd.DataFrame, lang: str = "ru", currency: str = "RUB", loyalty_low: float = 0.01,
               loyalty_high: float = 0.10, max_points: int = 20000, seed: int = 42, firm: bool = True,
               ax: Axes | None = None) -> Axes:
    """Client's wallet (x) against our monthly sales to it (y), log axes, with the share lines
    ``loyalty_low`` and ``loyalty_high``; points coloured by loyalty.

    ``per_client`` needs ``wallet_month``, ``loyalty`` and ``revenue_month`` (or ``revenue_12m``). With
    ``firm=False`` (wallets from look-alikes alone) the loyalty bands are withheld: one colour, and a title
    saying our share is an upper bound. Sales below one unit of money a month are drawn at that floor
    (a log axis would otherwise run down to fractions of a cent).

    >>> df = pd.DataFrame({"wallet_month": [1e6, 2e5, 1e4], "revenue_month": [5e3, 1e4, 5e3],
    ...                    "loyalty": ["indifferent", "secondary", "main"]})
    >>> wallet_map(df, lang="en").get_title().replace(chr(10), " ")
    'For 1 of 3 buying clients our share of their purchases is below 1%: we are one of the others'
    >>> wallet_map(df, lang="en", firm=False).get_title().replace(chr(10), " ")
    'From look-alike clients alone: our share of the purchases of 3 clients is at most 1.7%, an upper bound'
    """
    ax = _ax(ax)
    d = pd.DataFrame({"w": pd.to_numeric(per_client["wallet_month"], errors="coerce"),
                      "r": revenue_per_month(per_client), "l": per_client["loyalty"].astype("string")})
    d = d.loc[(d["w"] > 0) & (d["r"] > 0)]
    if d.empty:
        _title(ax, t("wallet.title.empty", lang))
        return ax
    n, n_low, n_main = len(d), int((d["l"] == "indifferent").sum()), int((d["l"] == "main").sum())
    share = float(d["r"].sum() / d["w"].sum())
    pts = d.sample(max_points, random_state=seed) if len(d) > max_points else d
    floor = 1.0
    for level in LOYALTY if firm else (None,):
        p = pts.loc[pts["l"] == level] if firm else pts
        if len(p):
            ax.scatter(p["w"].clip(lower=floor), p["r"].clip(lower=floor), s=10, alpha=0.6, linewidths=0,
                       color=LOYALTY_COLORS[level] if firm else "#4575b4",
                       label=_loyalty_label(level, lang, loyalty_low, loyalty_high) if firm else None)
    lo, hi = max(d["w"].min(), floor) / 1.5, d["w"].max() * 1.5
    xs = np.geomspace(lo, hi, 50)
    for s, style in ((loyalty_low, ":"), (loyalty_high, "--"), (1.0, "-")):
        ax.plot(xs, xs * s, style, color="#555555", lw=1)
        ax.annotate(t("wallet.line.share", lang, share=fmt_pct(s, lang, 0)), (xs[-1], xs[-1] * s), fontsize=8,
                    ha="right", va="bottom", color="#555555")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(max(min(d["r"].min(), lo * loyalty_low), floor) / 1.5, hi * 1.1)
    _money_axis(ax.xaxis, lang, currency)
    _money_axis(ax.yaxis, lang, currency)
    ax.set_xlabel(t("wallet.axis.wallet", lang))
    ax.set_ylabel(t("wallet.axis.revenue", lang))
    if firm:
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    if not firm:
        _title(ax, t("wallet.title.map_bound", lang, n=fmt_int(n, lang), share=fmt_pct(share, lang)))
    elif n_low >= n_main:
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
    rev = revenue_per_month(per_client).clip(lower=0).fillna(0.0)
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


def plan_vs_current(per_client: pd.DataFrame, lang: str = "ru", currency: str = "RUB", ax: Axes | None = None) -> Axes:
    """The monthly plans per base in the parts that add up to them (:func:`kbanalysis.wallet.tables.plan_parts`):
    for active and sleeping clients what they buy now, the recent rise the plans keep and the achievable
    uplift; the lost clients' reactivation; the first orders of clients that never bought. The title quotes
    the achievable uplift and its share of current sales, as the summary does.

    >>> df = pd.DataFrame({"base": ["active", "sleeping", "lost"], "revenue_month": [100.0, 10.0, 0.0],
    ...                    "plan_month": [130.0, 20.0, 5.0], "achievable_month": [25.0, 10.0, 5.0]})
    >>> plan_vs_current(df, lang="en").get_title().replace(chr(10), " ")
    'Individual plans add RUB 35 a month (+31.8% on current sales of RUB 110); winning back lost clients RUB 5 more'
    """
    from kbanalysis.wallet.tables import plan_parts

    ax = _ax(ax)
    parts = plan_parts(per_client)
    if parts["achievable"] is None or not pd.to_numeric(per_client["plan_month"], errors="coerce").notna().any():
        _title(ax, t("wallet.title.plan_empty", lang))
        return ax
    bars = [(b, {k: v for k, v in plan_parts(per_client.loc[per_client["base"].astype("string") == b]).items()
                 if v}) for b in ("active", "sleeping", "lost", "potential")]
    bars = [(b, p) for b, p in bars if p]
    colors = {"current": "#bdbdbd", "kept": "#9ecae1", "achievable": "#4575b4", "reactivation": "#e9a23b",
              "acquisition": "#1a9850"}
    x = np.arange(len(bars))
    for part, color in colors.items():
        below = np.array([sum(v for k, v in p.items() if list(colors).index(k) < list(colors).index(part))
                          for _, p in bars])
        height = np.array([p.get(part, 0.0) for _, p in bars])
        if (height != 0).any():
            ax.bar(x, height, 0.6, bottom=below, color=color, label=t(f"wallet.bar.{part}", lang))
    ax.set_xticks(x, [_wrap(t(f"audit.base.{b}", lang)) for b, _ in bars])
    ax.set_ylim(0, max([sum(v for v in p.values() if v > 0) for _, p in bars] + [1.0]) * 1.08)
    _money_axis(ax.yaxis, lang, currency)
    ax.set_ylabel(t("wallet.axis.per_month", lang))
    ax.legend(frameon=False, fontsize=8)
    money = lambda v: fmt_money(v, lang, currency)  # noqa: E731
    cur, gain = parts["current"], parts["achievable"]
    key = "wallet.title.plan" if parts["reactivation"] else "wallet.title.plan_nolost"
    _title(ax, t(key, lang, achievable=money(gain), pct=fmt_pct(gain / cur, lang) if cur > 0 else "—",
                 current=money(cur), reactivation=money(parts["reactivation"])))
    return ax
