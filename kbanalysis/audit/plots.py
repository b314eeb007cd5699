"""Charts of the audit: base structure, Pareto curve, key-account dependency, card completeness
per manager, the reactivation list.

Every function takes ``ax=None`` (a new :class:`matplotlib.figure.Figure` is made, pyplot's
global state is never touched) and returns the Axes. Texts come from ``locale/audit.yaml`` via
:func:`kbanalysis.deliverables.i18n.t`, money through :func:`kbanalysis.deliverables.i18n.money_short`; each title states
the conclusion of the chart.

>>> import pandas as pd
>>> pareto_curve(pd.Series([50.0, 30.0, 10.0, 5.0, 5.0]), lang="en").get_title()
'40.0% of clients bring 80% of revenue'
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from kbanalysis.audit.structure import key_accounts, pareto_share, pareto_table, revenue_shares
from kbanalysis.deliverables.i18n import fmt_int, fmt_pct, money_short, t
from kbanalysis.schema import BASES
from kbanalysis.deliverables.style import money_ticks, new_axes, wrapped_title

BASE_COLORS = {"active": "#1a9850", "sleeping": "#fdae61", "lost": "#d73027", "potential": "#4575b4",
               "closed": "#969696"}
KEY_COLORS = {"none": "#9ecae1", "key": "#fdae61", "critical": "#f46d43", "mono": "#a50026"}


def _ax(ax: Axes | None, size=(8, 5)) -> Axes:
    return new_axes(ax, size)


def _title(ax: Axes, text: str, width: int = 70) -> None:
    wrapped_title(ax, text, width)


def _pct_axis(axis, lang: str, decimals: int = 0) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt_pct(v, lang, decimals)))


def _money_axis(axis, lang: str, currency: str) -> None:
    money_ticks(axis, lang, currency)


def _labels(ids, names) -> list[str]:
    """Client names for the axis (shortened), or the ids when no names are given."""
    if names is None:
        return [str(i) for i in ids]
    nm = pd.Series(names)
    nm.index = nm.index.astype(str)
    return [textwrap.shorten(str(nm.get(str(i), i)), 32, placeholder="…") for i in ids]


def base_structure_bars(per_client: pd.DataFrame, lang: str = "ru", currency: str = "RUB",
                        ax: Axes | None = None) -> Axes:
    """Number of cards per base (active, sleeping, lost, potential, closed), each bar labelled
    with its count and 12-month revenue. Duplicate cards merged into another (``merged_into``
    set) are not counted.

    ``per_client`` needs ``base`` and ``revenue_12m`` (:func:`kbanalysis.audit.core.audit_table`).

    >>> pc = pd.DataFrame({"base": ["active", "active", "lost", "potential"], "revenue_12m": [100.0, 50, 0, 0]})
    >>> base_structure_bars(pc, lang="en").get_title()
    '2 of 4 clients are active; 1 (25.0%) are sleeping or lost'
    """
    ax = _ax(ax)
    d = per_client
    if "merged_into" in d:
        d = d.loc[d["merged_into"].isna()]
    base = d["base"].astype("string")
    rev = pd.to_numeric(d["revenue_12m"], errors="coerce").fillna(0.0)
    counts = base.value_counts().reindex(list(BASES), fill_value=0)
    revs = rev.groupby(base.to_numpy()).sum().reindex(list(BASES), fill_value=0.0)
    n = int(counts.sum())
    if n == 0:
        _title(ax, t("audit.title.empty", lang))
        return ax
    labels = [textwrap.fill(t(f"audit.base.{b}", lang), 14) for b in BASES]
    bars = ax.bar(labels, counts.to_numpy(), color=[BASE_COLORS[b] for b in BASES])
    for b, key in zip(bars, BASES):
        ax.annotate(t("audit.bar.base_label", lang, n=fmt_int(counts[key], lang),
                      revenue=money_short(revs[key], lang, currency)),
                    (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(t("audit.axis.clients", lang))
    ax.margins(y=0.18)
    at_risk = int(counts["sleeping"] + counts["lost"])
    _title(ax, t("audit.title.base", lang, active=fmt_int(counts["active"], lang), n=fmt_int(n, lang),
                 at_risk=fmt_int(at_risk, lang), pct=fmt_pct(at_risk / n, lang)))
    return ax


def pareto_curve(revenue: pd.Series, target: float = 0.8, lang: str = "ru", ax: Axes | None = None) -> Axes:
    """Cumulative share of revenue (y) against the cumulative share of clients, biggest first
    (x), with the ``target`` line (80 %) and the share of clients that reaches it.

    ``revenue`` is the 12-month revenue per client (non-positive values are left out).

    >>> pareto_curve(pd.Series([50.0, 30.0, 10.0, 5.0, 5.0]), lang="ru").get_title()
    '40,0\xa0% клиентов приносят 80\xa0% выручки'
    """
    ax = _ax(ax)
    p = pareto_table(revenue)
    if p.empty:
        _title(ax, t("audit.title.empty", lang))
        return ax
    x = np.concatenate([[0.0], p["client_share"].to_numpy()])
    y = np.concatenate([[0.0], p["revenue_share"].to_numpy()])
    ax.plot(x, y, color="#4575b4", lw=2)
    ax.plot([0, 1], [0, 1], ":", color="#999999", lw=1)
    share = pareto_share(revenue, target)
    ax.axhline(target, ls="--", color="#d73027", lw=1)
    ax.axvline(share, ls="--", color="#d73027", lw=1)
    ax.annotate(t("audit.line.target", lang, share=fmt_pct(target, lang, 0)), (1.0, target), ha="right",
                va="bottom", fontsize=8, color="#d73027")
    ax.annotate(fmt_pct(share, lang), (share, 0.02), ha="left", va="bottom", fontsize=9, color="#d73027")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    _pct_axis(ax.xaxis, lang)
    _pct_axis(ax.yaxis, lang)
    ax.set_xlabel(t("audit.axis.client_share", lang))
    ax.set_ylabel(t("audit.axis.revenue_share", lang))
    _title(ax, t("audit.title.pareto", lang, clients=fmt_pct(share, lang), target=fmt_pct(target, lang, 0)))
    return ax


def key_account_bars(revenue: pd.Series, names=None, key: float = 0.10, critical: float = 0.20,
                     mono: float = 0.70, top: int = 15, lang: str = "ru", ax: Axes | None = None) -> Axes:
    """Share of revenue of the ``top`` biggest clients, coloured by dependency class, with the
    ``key`` / ``critical`` / ``mono`` lines (10 / 20 / 70 %).

    ``revenue``: 12-month revenue indexed by client_id; ``names``: optional client_id -> name.

    >>> r = pd.Series({"a": 75.0, "b": 15.0, "c": 10.0})
    >>> key_account_bars(r, names={"a": "ООО «Альфа»"}, lang="en").get_title().replace(chr(10), " ")
    'Mono-client: ООО «Альфа» brings 75.0% of revenue, the business rests on one client'
    """
    ax = _ax(ax)
    sh = revenue_shares(revenue)
    sh = sh[sh > 0]
    if sh.empty:
        _title(ax, t("audit.title.empty", lang))
        return ax
    sh = sh.sort_values(ascending=False, kind="mergesort").head(top)
    cls = key_accounts(sh, key, critical, mono)
    labels = _labels(sh.index, names)
    y = np.arange(len(sh))[::-1]
    ax.barh(y, sh.to_numpy(), color=[KEY_COLORS[c] for c in cls])
    ax.set_yticks(y, labels)
    xmax = max(float(sh.max()) * 1.15, key * 1.4)
    for thr, name in ((key, "key"), (critical, "critical"), (mono, "mono")):
        if thr <= xmax:
            ax.axvline(thr, ls="--", lw=1, color=KEY_COLORS[name])
            ax.annotate(t(f"audit.line.{name}", lang, share=fmt_pct(thr, lang, 0)), (thr, y.max() + 0.4),
                        ha="left", va="bottom", fontsize=8, color=KEY_COLORS[name])
    ax.set_xlim(0, xmax)
    _pct_axis(ax.xaxis, lang)
    ax.set_xlabel(t("audit.axis.share_of_revenue", lang))
    top_id, top_share, top_cls = sh.index[0], float(sh.iloc[0]), cls.iloc[0]
    top_name = _labels([top_id], names)[0]
    if top_cls == "mono":
        _title(ax, t("audit.title.key_mono", lang, name=top_name, share=fmt_pct(top_share, lang)))
    elif top_cls == "critical":
        _title(ax, t("audit.title.key_critical", lang, name=top_name, share=fmt_pct(top_share, lang),
                     critical=fmt_pct(critical, lang, 0)))
    elif top_cls == "key":
        k = cls != "none"
        _title(ax, t("audit.title.key_some", lang, n=fmt_int(int(k.sum()), lang), threshold=fmt_pct(key, lang, 0),
                     share=fmt_pct(float(sh[k.to_numpy()].sum()), lang)))
    else:
        _title(ax, t("audit.title.key_none", lang, threshold=fmt_pct(key, lang, 0)))
    return ax


def completeness_bars(by_manager: pd.DataFrame, min_completeness: float = 0.75, lang: str = "ru",
                      ax: Axes | None = None) -> Axes:
    """Average card completeness per manager (worst on top), with the ``min_completeness`` line.

    ``by_manager`` is :func:`kbanalysis.audit.cleaning.completeness_by_manager`.

    >>> bm = pd.DataFrame({"manager": ["Иванов", "Петров"], "cards": [10, 5], "completeness": [0.6, 0.9]})
    >>> completeness_bars(bm, lang="en").get_title()
    'Least complete cards: Иванов, 60.0%; 1 of 2 managers are below 75%'
    """
    ax = _ax(ax)
    if by_manager is None or by_manager.empty:
        _title(ax, t("audit.title.empty", lang))
        return ax
    d = by_manager.copy()
    d["label"] = d["manager"].astype("string").fillna(t("audit.no_manager", lang))
    d = d.sort_values("completeness", kind="mergesort").reset_index(drop=True)
    y = np.arange(len(d))[::-1]
    comp = d["completeness"].to_numpy(dtype=float)
    ax.barh(y, comp, color=np.where(comp < min_completeness, "#d73027", "#1a9850"))
    ax.set_yticks(y, [textwrap.shorten(str(s), 28, placeholder="…") for s in d["label"]])
    for yy, c, n in zip(y, comp, d["cards"] if "cards" in d else [np.nan] * len(d)):
        ax.annotate(t("audit.bar.manager_label", lang, pct=fmt_pct(c, lang, 0), n=fmt_int(n, lang)), (c, yy),
                    ha="left", va="center", fontsize=8, xytext=(3, 0), textcoords="offset points")
    ax.axvline(min_completeness, ls="--", lw=1, color="#555555")
    ax.set_xlim(0, 1.15)
    _pct_axis(ax.xaxis, lang)
    ax.set_xlabel(t("audit.axis.completeness", lang))
    bad = int((comp < min_completeness).sum())
    if bad == 0:
        _title(ax, t("audit.title.completeness_ok", lang, target=fmt_pct(min_completeness, lang, 0)))
    else:
        _title(ax, t("audit.title.completeness_bad", lang, manager=d["label"].iloc[0], pct=fmt_pct(comp[0], lang),
                     n=fmt_int(bad, lang), m=fmt_int(len(d), lang), target=fmt_pct(min_completeness, lang, 0)))
    return ax


def reactivation_top(lost: pd.DataFrame, names=None, top: int = 15, lang: str = "ru", currency: str = "RUB",
                     ax: Axes | None = None) -> Axes:
    """The first ``top`` of the reactivation list (by priority): what each used to bring per month.

    ``lost`` is :func:`kbanalysis.audit.structure.lost_regular_clients`; ``names``: optional client_id -> name.

    >>> lost = pd.DataFrame({"client_id": ["a", "b"], "avg_month_revenue": [200_000.0, 50_000.0],
    ...                      "priority": [1, 2], "months_since": [5.0, 9.0]})
    >>> reactivation_top(lost, lang="en").get_title().replace(chr(10), " ")
    'Call first: 2 regular clients that left used to bring RUB 250.0k a month'
    >>> reactivation_top(lost, top=1, lang="en").get_title().replace(chr(10), " ")
    'Call first: the first 1 of 2 regular clients that left used to bring RUB 200.0k a month (all 2: RUB 250.0k)'
    """
    ax = _ax(ax)
    if lost is None or lost.empty:
        _title(ax, t("audit.title.reactivation_none", lang))
        return ax
    d = lost.sort_values("priority", kind="mergesort").head(top).reset_index(drop=True)
    y = np.arange(len(d))[::-1]
    v = d["avg_month_revenue"].to_numpy(dtype=float)
    ax.barh(y, v, color="#d73027")
    ax.set_yticks(y, _labels(d["client_id"], names))
    months = d["months_since"].to_numpy(dtype=float) if "months_since" in d else np.full(len(d), np.nan)
    for yy, val, m in zip(y, v, months):
        ax.annotate(t("audit.bar.lost_label", lang, revenue=money_short(val, lang, currency),
                      months=fmt_int(m, lang)), (max(val, 0), yy), ha="left", va="center", fontsize=8,
                    xytext=(3, 0), textcoords="offset points")
    ax.set_xlim(0, max(float(np.nanmax(v)) * 1.6, 1.0))
    ax.xaxis.set_major_locator(MaxNLocator(4))
    _money_axis(ax.xaxis, lang, currency)
    ax.set_xlabel(t("audit.axis.avg_month_revenue", lang))
    total = pd.to_numeric(lost["avg_month_revenue"], errors="coerce")
    key = "audit.title.reactivation" if len(d) == len(lost) else "audit.title.reactivation_part"
    _title(ax, t(key, lang, n=fmt_int(len(d), lang), total=fmt_int(len(lost), lang),
                 revenue=money_short(float(np.nansum(v)), lang, currency),
                 all_revenue=money_short(float(total.sum()), lang, currency)))
    return ax
