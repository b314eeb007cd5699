"""Charts of the segments stage: clusters, profiles, ABCDE × cluster, ABCDE by channel, choice of k.

Every function takes ``ax=None`` (a new figure is made without touching pyplot's global
state) and returns the Axes. Texts come from ``locale/segments.yaml`` via
:func:`kbanalysis.deliverables.i18n.t`; each title states the conclusion of the chart.

>>> import pandas as pd
>>> df = pd.DataFrame({"channel": ["r", "r", "w"], "abcde": ["A", "D", "B"],
...                    "revenue_12m": [90.0, 10, 5], "margin_12m": [9.0, 1, 1]})
>>> ax = abcde_channels(df, lang="en")
>>> ax.get_title()
'Classes A and B bring 90.5% of revenue'
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from kbanalysis.deliverables.i18n import fmt_fixed, fmt_pct, t
from kbanalysis.deliverables.style import NumberTicks
from kbanalysis.sales.engine import revenue_per_month
from kbanalysis.schema import ABCDE
from kbanalysis.deliverables.style import money_ticks, new_axes

ABCDE_COLORS = {"A": "#1a9850", "B": "#91cf60", "C": "#fee08b", "D": "#bdbdbd", "E": "#d73027"}
PROSPECT_COLOR = "#9e9e9e"


def _ax(ax: Axes | None, size=(8, 5)) -> Axes:
    return new_axes(ax, size)


def _color(c: int) -> str:
    import matplotlib

    if c < 0:
        return PROSPECT_COLOR
    cmap = matplotlib.colormaps["tab10"]
    return matplotlib.colors.to_hex(cmap(c % 10))


def _names(model, lang: str) -> dict[int, str]:
    """{cluster: name} from a fitted PotentialClusters or a mapping {cluster: {lang: name}}."""
    if model is None:
        return {}
    names = model.names_ if hasattr(model, "names_") else model
    out = {int(c): (v[lang] if isinstance(v, Mapping) else str(v)) for c, v in names.items()}
    out.setdefault(-1, t("segments.archetype.prospect", lang))
    return out


def cluster_map(df: pd.DataFrame, model=None, lang: str = "ru", cluster: str = "cluster",
                wallet: str = "wallet_month", share: str = "share_of_wallet", revenue: str = "revenue_12m",
                max_points: int = 20000, seed: int = 42, currency: str = "RUB", ax: Axes | None = None) -> Axes:
    """Clients on wallet × share of wallet (log axes: the wallet as money, the share in percent), coloured by cluster.

    The title names the cluster with the most room (wallet not yet ours) and its share.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"cluster": [0, 0, 1], "wallet_month": [1e6, 2e6, 1e4],
    ...                    "share_of_wallet": [0.01, 0.02, 0.5], "revenue_12m": [1.2e5, 4.8e5, 6e4]})
    >>> cluster_map(df, {0: {"en": "Big"}, 1: {"en": "Small"}}, lang="en").get_title()
    '“Big”:\\n99.7% of the clients’ wallet at our share of 1.7%'
    """
    ax = _ax(ax)
    names = _names(model, lang)
    d = pd.DataFrame({"c": pd.to_numeric(df[cluster], errors="coerce"),
                      "w": pd.to_numeric(df[wallet], errors="coerce"),
                      "s": pd.to_numeric(df[share], errors="coerce"),
                      "r": revenue_per_month(df, revenue)})  # a month
    d = d.loc[d["c"].notna() & (d["w"] > 0)]
    if d.empty:
        ax.set_title(t("segments.title.map_empty", lang))
        return ax
    d["c"] = d["c"].astype(int)
    pts = d.sample(max_points, random_state=seed) if len(d) > max_points else d
    floor = 1e-3
    for c in sorted(pts["c"].unique()):  # prospects (-1) first: drawn under the clusters
        p = pts.loc[pts["c"] == c]
        ax.scatter(p["w"], p["s"].fillna(0).clip(lower=floor), s=8, alpha=0.5, color=_color(c),
                   label=names.get(c, str(c)), linewidths=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    money_ticks(ax.xaxis, lang, currency)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_pct(v, lang, 1 if v < 0.01 else 0)))
    ax.set_xlabel(t("segments.axis.wallet", lang))
    ax.set_ylabel(t("segments.axis.share", lang))
    for y in (0.01, 0.10):
        ax.axhline(y, color="#555555", lw=0.6, ls=":")
    ax.legend(fontsize=7, markerscale=2, loc="best")
    # conclusion: the cluster with the most room (wallet minus what it buys from us)
    g = d.groupby("c").agg(w=("w", "sum"), r=("r", "sum"))
    room = g["w"] - g["r"].fillna(0)
    room = room.drop(index=-1, errors="ignore")
    if room.empty:
        ax.set_title(t("segments.title.map_empty", lang))
        return ax
    best = int(room.idxmax())
    share_best = g.loc[best, "r"] / g.loc[best, "w"] if g.loc[best, "w"] > 0 else np.nan
    ax.set_title(t("segments.title.map", lang, name=names.get(best, str(best)),
                   wallet_pct=fmt_pct(g.loc[best, "w"] / g["w"].sum(), lang), share=fmt_pct(share_best, lang)))
    return ax


def cluster_profiles(model, lang: str = "ru", ax: Axes | None = None) -> Axes:
    """Heatmap of the standardised feature means of every cluster (``model.profiles_``).

    >>> import pandas as pd
    >>> prof = pd.DataFrame({"log_wallet": [1.0, -1.0], "share": [-0.2, 0.2]})
    >>> class M: profiles_ = prof; names_ = {0: {"en": "Big"}, 1: {"en": "Small"}}; sizes_ = pd.Series([1, 1])
    >>> print(cluster_profiles(M(), lang="en").get_title())
    Clusters differ most in Wallet:
    they explain 100.0% of its variance
    """
    import seaborn as sns

    prof = model.profiles_
    ax = _ax(ax, (11, 0.6 * len(prof) + 2.5))
    names = _names(model, lang)
    data = prof.copy()
    data.index = [names.get(int(c), str(c)) for c in prof.index]
    data.columns = [t(f"segments.feature.{f}", lang) for f in prof.columns]
    lim = max(1.0, float(np.nanmax(np.abs(data.to_numpy()))) if data.size else 1.0)
    cells = np.vectorize(lambda v: fmt_fixed(v, lang, 1), otypes=[object])(data.to_numpy(dtype=float))
    sns.heatmap(data, ax=ax, cmap="RdBu_r", center=0, vmin=-lim, vmax=lim, annot=cells, fmt="",
                annot_kws={"fontsize": 7}, cbar_kws={"label": t("segments.legend.profile", lang)})
    ax.set_ylabel("")
    ax.tick_params(axis="x", labelrotation=45)
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    # share of each feature's variance the clusters explain (eta squared: size-weighted squares of
    # the standardised cluster means, the features being z-scored over all clients)
    sizes = getattr(model, "sizes_", None)
    w = (sizes.reindex(prof.index).fillna(0).to_numpy(dtype=float) if sizes is not None
         else np.ones(len(prof)))
    eta = pd.Series((w[:, None] * prof.fillna(0).to_numpy() ** 2).sum(axis=0) / max(w.sum(), 1e-12),
                    index=prof.columns).clip(upper=1.0)
    top = eta.idxmax()
    ax.set_title(t("segments.title.profiles", lang, feature=t(f"segments.feature.{top}", lang),
                   pct=fmt_pct(eta[top], lang)))
    return ax


def abcde_by_cluster(df: pd.DataFrame, model=None, lang: str = "ru", cluster: str = "cluster",
                     abcde: str = "abcde", ax: Axes | None = None) -> Axes:
    """Cross-table ABCDE × cluster: client counts, coloured by the share of the cluster's clients.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"cluster": [0, 0, 1, 1], "abcde": ["A", "B", "D", "A"]})
    >>> print(abcde_by_cluster(df, {0: {"en": "Big"}, 1: {"en": "Small"}}, lang="en").get_title())
    66.7% of class A and B clients are in
    “Big”
    """
    import seaborn as sns

    names = _names(model, lang)
    d = pd.DataFrame({"c": pd.to_numeric(df[cluster], errors="coerce"), "k": df[abcde].astype("string")})
    d = d.loc[d["c"].notna() & d["k"].notna()]
    ax = _ax(ax, (8, 0.5 * max(1, d["c"].nunique()) + 2))
    if d.empty:
        ax.set_title(t("segments.title.cross_empty", lang))
        return ax
    d["c"] = d["c"].astype(int)
    tab = pd.crosstab(d["c"], d["k"]).reindex(columns=list(ABCDE), fill_value=0)
    tab = tab.loc[sorted(tab.index, key=lambda c: (c < 0, c))]
    rows = tab.div(tab.sum(axis=1).replace(0, 1), axis=0)
    rows.index = [names.get(c, str(c)) for c in tab.index]
    sns.heatmap(rows, ax=ax, cmap="Greens", vmin=0, vmax=1, annot=tab.to_numpy(), fmt="d",
                annot_kws={"fontsize": 8}, cbar_kws={"label": t("segments.legend.row_share", lang)})
    ax.set_xlabel(t("segments.axis.abcde", lang))
    ax.set_ylabel("")
    ab = tab[["A", "B"]].sum(axis=1)
    if ab.sum() > 0:
        best = int(ab.idxmax())
        ax.set_title(t("segments.title.cross", lang, pct=fmt_pct(ab.max() / ab.sum(), lang),
                       name=names.get(best, str(best))))
    else:
        ax.set_title(t("segments.title.cross_empty", lang))
    return ax


def abcde_channels(df: pd.DataFrame, lang: str = "ru", value: str = "revenue", abcde: str = "abcde",
                   channel: str = "channel", revenue: str = "revenue_12m", ax: Axes | None = None) -> Axes:
    """ABCDE classes by channel: stacked bars of each class's share of the channel's revenue
    (``value="revenue"``) or clients (``value="clients"``).

    ``df`` is the per-client frame (with ``abcde``) or the output of
    :func:`kbanalysis.segments.model.abcde_matrix`. E (loss-making) revenue is shown as its absolute
    size so that the bar still reads as shares.
    """
    from kbanalysis.segments.model import abcde_matrix

    m = df if {"clients", "revenue_12m", "abcde", "channel"} <= set(df.columns) and "client_share" in df \
        else abcde_matrix(df, abcde=abcde, channel=channel, revenue=revenue)
    col = "clients" if value == "clients" else "revenue_12m"
    wide = m.pivot_table(index="channel", columns="abcde", values=col, aggfunc="sum", observed=True)
    wide = wide.reindex(columns=list(ABCDE)).fillna(0.0).abs()
    share = wide.div(wide.sum(axis=1).replace(0, 1), axis=0)
    share = share.loc[wide.sum(axis=1).sort_values().index]
    ax = _ax(ax, (8, 0.45 * max(1, len(share)) + 2))
    left = np.zeros(len(share))
    for k in ABCDE:
        ax.barh(share.index.astype(str), share[k].to_numpy(), left=left, color=ABCDE_COLORS[k], label=k,
                edgecolor="white", linewidth=0.5)
        for y, (l0, w) in enumerate(zip(left, share[k].to_numpy())):
            if w >= 0.06:
                ax.text(l0 + w / 2, y, f"{100 * w:.0f}", ha="center", va="center", fontsize=7)
        left += share[k].to_numpy()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_pct(v, lang, 0)))
    ax.set_xlabel(t("segments.axis.revenue_share" if col == "revenue_12m" else "segments.axis.client_share", lang))
    ax.set_ylabel(t("segments.axis.channel", lang))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False,
              title=t("segments.axis.abcde", lang), title_fontsize=8)
    tot = wide.sum().sum()
    pct = (wide["A"].sum() + wide["B"].sum()) / tot if tot else np.nan
    key = "segments.title.channels" if col == "revenue_12m" else "segments.title.channels_clients"
    ax.set_title(t(key, lang, pct=fmt_pct(pct, lang)))
    return ax


def k_selection(model, lang: str = "ru", ax: Axes | None = None) -> Axes:
    """Score of every k searched (silhouette or BIC) and bootstrap stability, chosen k marked.

    >>> import pandas as pd
    >>> class M:
    ...     scores_ = pd.Series({3: 0.4, 4: 0.5}); stability_by_k_ = pd.Series({3: 0.9, 4: 0.8})
    ...     k_, stability_, criterion_, n_clusters = 4, 0.85, "silhouette", 0
    >>> k_selection(M(), lang="en").get_title()
    '4 clusters chosen: stability 0.85'
    """
    ax = _ax(ax)
    sc = model.scores_
    crit = getattr(model, "criterion_", "silhouette")
    ax.plot(sc.index, sc.to_numpy(), marker="o", color="#1f77b4", label=t(f"segments.axis.{crit}", lang))
    ax.set_xlabel(t("segments.axis.k", lang))
    ax.set_ylabel(t(f"segments.axis.{crit}", lang), color="#1f77b4")
    ax.set_xticks(list(sc.index))
    ax.yaxis.set_major_formatter(NumberTicks(lang))
    if model.k_ in sc.index:
        ax.axvline(model.k_, color="#555555", ls="--", lw=0.8)
        ax.annotate(t("segments.legend.chosen", lang), (model.k_, sc.loc[model.k_]), textcoords="offset points",
                    xytext=(6, 6), fontsize=8)
    st = getattr(model, "stability_by_k_", None)
    if st is not None and len(st) and st.notna().any():
        ax2 = ax.twinx()
        ax2.plot(st.index, st.to_numpy(), marker="s", ls=":", color="#ff7f0e")
        ax2.set_ylim(0, 1.05)
        ax2.yaxis.set_major_formatter(NumberTicks(lang))
        ax2.set_ylabel(t("segments.axis.stability", lang), color="#ff7f0e")
    stab = model.stability_
    key = "segments.title.k_fixed" if getattr(model, "n_clusters", 0) else "segments.title.k"
    stab_txt = f"{stab:.2f}".replace(".", ",") if lang == "ru" else f"{stab:.2f}"
    ax.set_title(t(key, lang, k=model.k_, stability=stab_txt if np.isfinite(stab) else "—"))
    return ax


__all__ = ["cluster_map", "cluster_profiles", "abcde_by_cluster", "abcde_channels", "k_selection"]
