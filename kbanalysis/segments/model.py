"""Segments of the client base: ABCDE within sales channels, potential clusters, the action matrix.

Three views of the same clients, each answering a different question:

* **ABCDE** (:func:`abcde_classes`) ranks the clients *within their own sales channel* by
  current profitability and potential, as the method prescribes: A — the highest profitability
  and the highest potential, B — high and high, C — modest profitability but high potential,
  D — low and low, E — loss-making. It tells how much effort a client deserves.
* **Potential clusters** (:func:`cluster_features`, :class:`PotentialClusters`) group clients
  with the same *situation* across channels: size of their wallet, our share in it, rhythm,
  growth, breadth of range, up-/cross-sale room. Each cluster gets a name a person understands
  (``names_``) and an archetype key (``archetypes_``) that tells *what to do*.
* The **action matrix** (:func:`action_matrix`) crosses the two: for every cluster × class it
  gives who works the client, how often, what to offer and how much money is at stake;
  the defaults live in ``kbanalysis/actions.yaml`` and can be replaced by the ``actions_file``
  run parameter.

Decisions taken here (documented once, relied on everywhere):

* *Clients with sales* are those with non-zero revenue in the 12 months (or a negative
  profitability, e.g. only returns). Only they get an ABCDE class; the others get ``<NA>``.
* *Profitability* is ``margin_12m``; when the whole case has no cost it is ``revenue_12m``
  (the data contract: "absent = profitability by revenue only"). A client with sales but a
  missing margin in a case with cost is read with cost 0, as :mod:`kbanalysis.sales.engine` does.
* *Potential* is the client's whole monthly wallet (its purchases of our categories from all
  suppliers), not the room left: the method ranks by the client's potential, and C ("modest
  profitability, high potential") is exactly the big-wallet client we have not won yet.
  A missing wallet falls back to our own monthly revenue (the wallet is at least that).
  Pass ``potential="room_month"`` (or any column) to rank by something else.
* *Clusters* are fitted on clients with sales only (their behaviour features exist).
  Clients without sales in the 12 months but with a wallet (never bought, or lost) get the
  fixed label ``-1`` (archetype ``prospect``, "Not buying now — acquire or win back"): they
  have no behaviour to cluster, and mixing them in would spend clusters on "no purchases".
  Closed and merged duplicate cards, and clients with neither sales nor wallet, get ``<NA>``.

>>> import pandas as pd
>>> df = pd.DataFrame({"channel": "retail",
...                    "revenue_12m": [100.0, 80, 60, 40, 50, 10, 20, 0],
...                    "margin_12m": [30.0, 20, 5, 8, 12, 2, -3, float("nan")],
...                    "wallet_month": [90.0, 60, 80, 5, 40, 10, 30, 50]})
>>> abcde_classes(df).tolist()
['A', 'B', 'C', 'D', 'D', 'D', 'E', <NA>]
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, clone
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler
from threadpoolctl import threadpool_limits

from kbanalysis.errors import UserError, read_yaml_mapping
from kbanalysis.deliverables.i18n import LANGS, t
from kbanalysis.sales.engine import revenue_per_month
from kbanalysis.schema import ABCDE

#: The label of clients without sales but with a wallet (not clustered: no behaviour to cluster).
PROSPECT = -1

#: Archetype keys a cluster can get from :func:`name_clusters` (``prospect`` is for label -1).
ARCHETYPES = ("key", "grow", "core", "fading", "new", "cross", "small", "middle", "prospect")

#: Row key of the action matrix for clients without an ABCDE class.
NO_CLASS = "none"

#: Feature columns of :func:`cluster_features`, in order.
FEATURES = ("log_wallet", "share", "log_revenue", "margin_rate", "growth", "frequency", "regularity",
            "recency", "breadth", "log_upsell", "log_crosssell")

ACTIONS_FILE = Path(__file__).with_name("actions.yaml")
ACTION_FIELDS = ("goal", "frequency", "owner", "offer")


# --------------------------------------------------------------------------------------------------
# ABCDE
# --------------------------------------------------------------------------------------------------
def _num(df: pd.DataFrame, col: str | None) -> pd.Series:
    """A float column of ``df`` (all-NaN when absent)."""
    if col is None or col not in df:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.to_numeric(df[col], errors="coerce").astype("float64")


def profitability(df: pd.DataFrame, profit: str = "margin_12m", revenue: str = "revenue_12m") -> pd.Series:
    """The profitability ABCDE ranks by: margin, or revenue when the whole case has no cost.

    A missing margin next to known revenue (a case with cost) is read with cost 0.

    >>> import pandas as pd
    >>> profitability(pd.DataFrame({"margin_12m": [float("nan")] * 2, "revenue_12m": [5.0, -1.0]})).tolist()
    [5.0, -1.0]
    """
    rev = _num(df, revenue)
    prof = _num(df, profit)
    if prof.notna().sum() == 0:
        return rev.rename("profitability")
    return prof.fillna(rev).rename("profitability")


def has_sales(df: pd.DataFrame, profit: str = "margin_12m", revenue: str = "revenue_12m") -> pd.Series:
    """True for clients with sales in the 12 months: non-zero revenue or negative profitability.

    >>> import pandas as pd
    >>> has_sales(pd.DataFrame({"revenue_12m": [10.0, 0.0, float("nan")],
    ...                         "margin_12m": [2.0, float("nan"), float("nan")]})).tolist()
    [True, False, False]
    """
    rev = _num(df, revenue)
    prof = profitability(df, profit, revenue)
    return ((rev.fillna(0.0) != 0) | (prof < 0)).rename("has_sales")


def client_potential(df: pd.DataFrame, potential: str = "wallet_month", revenue: str = "revenue_12m") -> pd.Series:
    """The potential ABCDE ranks by: the monthly wallet, else our own monthly revenue
    (:func:`kbanalysis.sales.engine.revenue_per_month` of ``revenue``).

    >>> import pandas as pd
    >>> client_potential(pd.DataFrame({"wallet_month": [50.0, None], "revenue_12m": [12.0, 24.0]})).tolist()
    [50.0, 2.0]
    """
    rev = revenue_per_month(df, revenue)
    return _num(df, potential).fillna(rev.clip(lower=0)).rename("potential")


def client_value(df: pd.DataFrame, client: str = "client_id", channel: str = "channel",
                 profit: str = "margin_12m", potential: str = "wallet_month", revenue: str = "revenue_12m"
                 ) -> pd.DataFrame:
    """Per client what ABCDE ranks: ``client_id, channel, profitability, potential, has_sales``.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"client_id": ["a", "b"], "channel": "retail", "revenue_12m": [120.0, 0.0],
    ...                    "margin_12m": [-5.0, None], "wallet_month": [None, 30.0]})
    >>> client_value(df)
      client_id channel  profitability  potential  has_sales
    0         a  retail           -5.0       10.0       True
    1         b  retail            0.0       30.0      False
    """
    out = pd.DataFrame({c: df[c] for c in (client, channel) if c in df}, index=df.index)
    out["profitability"] = profitability(df, profit, revenue)
    out["potential"] = client_potential(df, potential, revenue)
    out["has_sales"] = has_sales(df, profit, revenue)
    return out


def abcde_classes(df: pd.DataFrame, channel: str = "channel", profit: str = "margin_12m",
                  potential: str = "wallet_month", high: float = 0.8, mid: float = 0.5,
                  revenue: str = "revenue_12m", min_channel: int = 10) -> pd.Series:
    """ABCDE class of every client, ranked within its own sales channel.

    Within each channel, among its clients with sales and non-negative profitability,
    the cut points are the quantiles ``high`` and ``mid`` of profitability (P) and of
    potential (W). A client with profitability ``p`` and potential ``w`` is

    * **E** — ``p < 0`` (loss-making) — and only these;
    * **A** — ``p >= P_high`` and ``w >= W_high`` (the highest both);
    * **B** — otherwise ``p >= P_mid`` and ``w >= W_mid`` (high both); also ``p >= P_high``
      with ``w < W_mid``: a top-profit client with a small wallet is worth B-level care
      (we already hold most of it), not the D treatment;
    * **C** — ``p < P_mid`` and ``w >= W_mid`` (modest profitability, high potential);
    * **D** — the rest: low potential with profitability below ``P_high``.

    Every comparison is ``>=``: a client exactly at a cut point belongs to the upper side.
    Channels with fewer than ``min_channel`` ranked clients are cut by the quantiles of the
    whole base (a quantile of three clients means nothing). Clients without sales get ``<NA>``.

    Parameters
    ----------
    df : DataFrame
        One row per client.
    channel, profit, potential, revenue : str
        Column names. ``profit`` falls back to ``revenue`` when it is empty for the whole case;
        a missing ``potential`` falls back to ``revenue / 12``.
    high, mid : float
        Quantiles, ``0 < mid <= high < 1`` (run parameters ``abcde_high``, ``abcde_mid``).
    min_channel : int
        Smallest channel ranked on its own.

    Returns
    -------
    Series
        ``string`` dtype, values ``A``…``E`` or ``<NA>``, named ``abcde``, same index as ``df``.

    Examples
    --------
    Eleven clients whose profitability and wallet are each 0..10 put the cut points exactly
    on data points (P_high = W_high = 8, P_mid = W_mid = 5):

    >>> import pandas as pd
    >>> df = pd.DataFrame({"channel": "x", "revenue_12m": 100.0,
    ...                    "margin_12m":   [8.0, 5, 4, 6, 9, 10, 7, 3, 0, 1, 2],
    ...                    "wallet_month": [8.0, 5, 6, 4, 3, 10, 9, 7, 0, 2, 1]})
    >>> "".join(abcde_classes(df))
    'ABCDBABCDDD'
    """
    if not (0 < mid <= high < 1):
        raise UserError(f"ABCDE quantiles must satisfy 0 < mid <= high < 1, got mid={mid}, high={high}")
    prof = profitability(df, profit, revenue)
    pot = client_potential(df, potential, revenue)
    sold = has_sales(df, profit, revenue)
    ranked = sold & (prof >= 0)
    chan = (df[channel].astype("string").fillna("") if channel in df
            else pd.Series("", index=df.index, dtype="string"))

    qs = [high, mid]
    base_p = prof[ranked].quantile(qs).to_numpy() if ranked.any() else np.array([np.nan, np.nan])
    base_w = pot[ranked].quantile(qs).to_numpy() if ranked.any() else np.array([np.nan, np.nan])
    cuts = np.full((len(df), 4), np.nan)
    ch, r = chan.to_numpy(dtype=object), ranked.to_numpy()
    for key in sorted(set(ch[r])):
        rows = np.flatnonzero(r & (ch == key))
        if len(rows) >= min_channel:
            qp = np.quantile(prof.to_numpy()[rows], qs)
            qw = np.quantile(pot.to_numpy()[rows], qs)
        else:
            qp, qw = base_p, base_w
        cuts[rows] = [qp[0], qp[1], qw[0], qw[1]]
    p, w = prof.to_numpy(), pot.to_numpy()
    p_hi, p_mid, w_hi, w_mid = cuts.T
    with np.errstate(invalid="ignore"):
        a = (p >= p_hi) & (w >= w_hi)
        b = ~a & (((p >= p_mid) & (w >= w_mid)) | ((p >= p_hi) & (w < w_mid)))
        c = (p < p_mid) & (w >= w_mid)
    out = np.where(a, "A", np.where(b, "B", np.where(c, "C", "D"))).astype(object)
    out[~r] = None
    out[sold.to_numpy() & (p < 0)] = "E"
    return pd.Series(out, index=df.index, name="abcde").astype("string")


def abcde_matrix(df: pd.DataFrame, abcde: str = "abcde", channel: str = "channel",
                 revenue: str = "revenue_12m", margin: str = "margin_12m", **abcde_kw) -> pd.DataFrame:
    """Channel × class: clients, revenue, margin and their shares within the channel.

    Every channel × class A…E appears (zeros where empty); clients without a class are left
    out. When ``df`` has no ``abcde`` column the classes are computed with
    :func:`abcde_classes` (``abcde_kw`` passed on).

    Returns
    -------
    DataFrame
        ``channel, abcde, clients, revenue_12m, margin_12m, client_share, revenue_share,
        margin_share`` (shares within the channel; margin NaN when the case has no cost).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"channel": ["r", "r", "w"], "abcde": ["A", "D", "A"],
    ...                    "revenue_12m": [90.0, 10, 5], "margin_12m": [9.0, 1, 1]})
    >>> m = abcde_matrix(df)
    >>> m.loc[m["channel"] == "r", ["abcde", "clients", "revenue_share"]].head(2)
      abcde  clients  revenue_share
    0     A        1            0.9
    1     B        0            0.0
    """
    cls = df[abcde].astype("string") if abcde in df else abcde_classes(df, channel=channel, revenue=revenue,
                                                                         profit=margin, **abcde_kw)
    chan = df[channel].astype("string").fillna("") if channel in df else pd.Series("", index=df.index,
                                                                                    dtype="string")
    d = pd.DataFrame({"channel": chan, "abcde": cls, "rev": _num(df, revenue), "mar": _num(df, margin)})
    d = d.loc[d["abcde"].notna()]
    g = d.groupby(["channel", "abcde"], observed=True).agg(
        clients=("abcde", "size"), revenue_12m=("rev", "sum"), margin_12m=("mar", lambda s: s.sum(min_count=1)))
    chans = sorted(d["channel"].unique())
    full = pd.MultiIndex.from_product([chans, list(ABCDE)], names=["channel", "abcde"])
    g = g.reindex(full)
    g["clients"] = g["clients"].fillna(0).astype("int64")
    g["revenue_12m"] = g["revenue_12m"].fillna(0.0)
    has_margin = d["mar"].notna().any()
    g["margin_12m"] = g["margin_12m"].fillna(0.0) if has_margin else np.nan
    for col, share in (("clients", "client_share"), ("revenue_12m", "revenue_share"), ("margin_12m", "margin_share")):
        tot = g.groupby(level="channel")[col].transform("sum")
        g[share] = (g[col] / tot.where(tot != 0)).astype("float64")
    out = g.reset_index()
    out["channel"] = out["channel"].astype("string")
    out["abcde"] = out["abcde"].astype("string")
    return out


def pareto_by_class(df: pd.DataFrame, abcde: str = "abcde", revenue: str = "revenue_12m",
                    margin: str = "margin_12m") -> pd.DataFrame:
    """The 20/80 view of the classes: what share of clients brings what share of money.

    Returns
    -------
    DataFrame
        One row per class A…E: ``abcde, clients, revenue_12m, margin_12m, client_share,
        revenue_share, margin_share, cum_client_share, cum_revenue_share, cum_margin_share``
        over the clients with a class (margin columns NaN when the case has no cost). Shares are of the
        money the classes earn: a loss-making class has a negative share and no running total, so the
        running totals stop at 100 %.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"abcde": ["A", "B", "D", "D", "D"], "revenue_12m": [50.0, 30, 10, 5, 5],
    ...                    "margin_12m": float("nan")})
    >>> pareto_by_class(df)[["abcde", "client_share", "cum_revenue_share"]]
      abcde  client_share  cum_revenue_share
    0     A           0.2                0.5
    1     B           0.2                0.8
    2     C           0.0                0.8
    3     D           0.6                1.0
    4     E           0.0                1.0
    """
    d = pd.DataFrame({"abcde": df[abcde].astype("string"), "rev": _num(df, revenue), "mar": _num(df, margin)})
    d = d.loc[d["abcde"].notna()]
    g = d.groupby("abcde", observed=True).agg(clients=("abcde", "size"), revenue_12m=("rev", "sum"),
                                              margin_12m=("mar", lambda s: s.sum(min_count=1)))
    g = g.reindex(list(ABCDE))
    g["clients"] = g["clients"].fillna(0).astype("int64")
    g["revenue_12m"] = g["revenue_12m"].fillna(0.0)
    g["margin_12m"] = g["margin_12m"].fillna(0.0) if d["mar"].notna().any() else np.nan
    for col, share in (("clients", "client_share"), ("revenue_12m", "revenue_share"), ("margin_12m", "margin_share")):
        # shares of what the classes earn: a loss-making class (E) shows its loss as a negative share and
        # stays out of the running total, which so ends at 100 %
        earned = g[col].clip(lower=0)
        tot = earned.sum()
        g[share] = g[col] / tot if tot else np.nan
        g["cum_" + share] = (earned / tot).cumsum().where(g[col] >= 0) if tot else np.nan
    out = g.reset_index().rename(columns={"index": "abcde"})
    out["abcde"] = out["abcde"].astype("string")
    return out


# --------------------------------------------------------------------------------------------------
# Cluster features
# --------------------------------------------------------------------------------------------------
def features_shown(features: pd.DataFrame, lang: str = "ru") -> pd.DataFrame:
    """The clustering features (:func:`cluster_features`) with readable headers (``segments.feature.*``) for
    the report: the values are the features as the model sees them (logs, ratios), not money or shares.

    >>> features_shown(pd.DataFrame({"log_wallet": [5.2], "share": [0.1]}), "en").columns.tolist()
    ['Wallet (model scale)', 'Share of wallet (model scale)']
    """
    from kbanalysis.deliverables.i18n import t

    scale = t("segments.feature.scale", lang)
    return features.rename(columns={c: f"{t(f'segments.feature.{c}', lang)} ({scale})" for c in features.columns
                                    if c in FEATURES})


def cluster_features(df: pd.DataFrame, client: str = "client_id", wallet: str = "wallet_month",
                     share: str = "share_of_wallet", revenue: str = "revenue_12m", margin: str = "margin_12m",
                     upsell: str = "upsell_month", crosssell: str = "crosssell_month", orders: str = "orders",
                     first_date: str = "first_date", last_date: str = "last_date",
                     active_months: str = "active_months_12m", groups: str = "groups_12m",
                     revenue_prev: str = "revenue_prev_6m", revenue_last: str = "revenue_last_6m",
                     days_silent: str = "days_silent", usual_gap: str = "usual_gap_days",
                     median_gap: str = "median_gap_days", as_of=None, recency_cap: float = 10.0,
                     share_floor: float = 1e-3) -> pd.DataFrame:
    """Per-client features of the potential clusters (NaN where unknown: the model imputes).

    ========================  ====================================================================
    ``log_wallet``            log10(1 + wallet per month)
    ``share``                 share of wallet on a log10 scale, floored at ``share_floor`` (0.1 %):
                              the loyalty bands are 1 % and 10 %, a ratio scale separates them
    ``log_revenue``           log10(1 + our revenue per month over 12 months)
    ``margin_rate``           margin / revenue, bounded to -1..1 (NaN without cost)
    ``growth``                (last 6 months − the 6 before) / (their sum): -1..1
    ``frequency``             orders per month over the client's life with us (log10(1 + x))
    ``regularity``            months with purchases in the 12 / 12
    ``recency``               days silent / the client's usual gap, capped at ``recency_cap``
    ``breadth``               product groups bought in the 12 months
    ``log_upsell``            log10(1 + up-sale potential per month)
    ``log_crosssell``         log10(1 + cross-sale potential per month)
    ========================  ====================================================================

    Missing input columns give NaN features. ``share`` is computed from revenue and wallet
    when ``share_of_wallet`` is absent; ``days_silent`` from ``last_date`` and ``as_of``
    (or the day after the latest ``last_date``) when absent; the usual gap falls back to
    ``median_gap_days``.

    Returns
    -------
    DataFrame
        Columns :data:`FEATURES`, indexed by ``client_id`` (or ``df``'s index without it).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"client_id": ["a", "b"], "wallet_month": [999.0, 9.0],
    ...                    "share_of_wallet": [0.1, 0.0], "revenue_12m": [1200.0, 0.0],
    ...                    "revenue_prev_6m": [600.0, 0.0], "revenue_last_6m": [600.0, 0.0]})
    >>> cluster_features(df)[["log_wallet", "share", "growth"]].reset_index()
      client_id  log_wallet  share  growth
    0         a         3.0   -1.0     0.0
    1         b         1.0   -3.0     NaN
    """
    idx = pd.Index(df[client].astype("string"), name=client) if client in df else df.index
    wal = _num(df, wallet)
    rev, rev_m = _num(df, revenue), revenue_per_month(df, revenue).clip(lower=0)
    sh = _num(df, share)
    if share not in df:
        sh = rev_m / wal.where(wal > 0)
    mar = _num(df, margin)
    prev, last = _num(df, revenue_prev).clip(lower=0), _num(df, revenue_last).clip(lower=0)
    tot = prev + last

    fd = pd.to_datetime(df[first_date]) if first_date in df else pd.Series(pd.NaT, index=df.index)
    ld = pd.to_datetime(df[last_date]) if last_date in df else pd.Series(pd.NaT, index=df.index)
    silent = _num(df, days_silent)
    if as_of is not None:
        ref = pd.Series(pd.Timestamp(as_of), index=df.index)
    else:
        ref = ld + pd.to_timedelta(silent, unit="D")
        if ref.isna().any() and ld.notna().any():
            ref = ref.fillna(ld.max() + pd.Timedelta(days=1))
    if days_silent not in df:
        silent = (ref - ld).dt.days.astype("float64")
    tenure = ((ref - fd).dt.days.astype("float64") / 30.44).clip(lower=1.0)
    gap = _num(df, usual_gap).fillna(_num(df, median_gap)).where(lambda s: s > 0)

    out = pd.DataFrame({
        "log_wallet": np.log10(1 + wal.clip(lower=0)),
        "share": np.log10(sh.clip(lower=share_floor, upper=1.0)),
        "log_revenue": np.log10(1 + rev_m),
        "margin_rate": (mar / rev.where(rev > 0)).clip(-1.0, 1.0),
        "growth": ((last - prev) / tot.where(tot > 0)).clip(-1.0, 1.0),
        "frequency": np.log10(1 + _num(df, orders).clip(lower=0) / tenure),
        "regularity": (_num(df, active_months) / 12.0).clip(0.0, 1.0),
        "recency": (silent / gap).clip(0.0, recency_cap),
        "breadth": _num(df, groups).clip(lower=0),
        "log_upsell": np.log10(1 + _num(df, upsell).clip(lower=0)),
        "log_crosssell": np.log10(1 + _num(df, crosssell).clip(lower=0)),
    })
    out.index = idx
    return out.astype("float64")


# --------------------------------------------------------------------------------------------------
# Clusters
# --------------------------------------------------------------------------------------------------
class _Weights(BaseEstimator, TransformerMixin):
    """Multiply scaled columns by weights (a feature's say in the distance)."""

    def __init__(self, weights=None):
        self.weights = weights

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X if self.weights is None else np.asarray(X) * np.asarray(self.weights, dtype=float)


#: Default say of each feature in the distance: the potential axes (wallet, share) count double.
DEFAULT_WEIGHTS = {"log_wallet": 2.0, "share": 2.0}


def _mean(values) -> float:
    """The mean of ``values``; NaN when there are none."""
    return float(np.mean(values)) if len(values) else float("nan")


class PotentialClusters(BaseEstimator, ClusterMixin):
    """Clusters of clients by potential and behaviour, with names and bootstrap stability.

    A :class:`~sklearn.pipeline.Pipeline` of median imputation, scaling, feature weights and
    K-means (or a Gaussian mixture). The number of clusters is chosen by the silhouette
    (K-means, on a seeded subsample of at most ``sample_size`` rows) or by BIC (mixture) over
    ``k_min..k_max`` unless ``n_clusters > 0``. Fitting uses at most ``fit_size`` rows (a
    seeded subsample); every row is then predicted. Labels are renumbered by mean
    ``order_by`` descending, so cluster 0 has the biggest wallets.

    Parameters
    ----------
    n_clusters : int
        Fixed number of clusters; 0 = choose from the data.
    k_min, k_max : int
        Range searched.
    seed : int
        Seed of everything random: same data + seed → identical labels.
    n_boot : int
        Bootstrap resamples for ``stability_`` (0 = skip).
    model : {"kmeans", "gmm"}
    scaler : {"standard", "robust"}
        ``standard`` (default) z-scores every feature; ``robust`` centres on the median and
        divides by the 10–90 % range (measured worse: share-like features with many equal values
        get huge scales and dominate the distance).
    n_init : int
        Restarts of the model.
    sample_size, fit_size : int
        Rows used for scores / bootstrap, and for fitting.
    weights : dict or None
        Feature → weight after scaling; ``None`` = :data:`DEFAULT_WEIGHTS`, ``{}`` = all 1.
    order_by : str
        Feature whose cluster mean orders the labels (descending).
    n_threads : int or None
        Threads of the numeric libraries while fitting (1 by default: the models are small and
        many threads on a busy machine are much slower; ``None`` = no limit).

    Attributes
    ----------
    labels_ : Series
        Cluster of every row of the features (same index), ``int64`` 0..k-1.
    k_ : int
    scores_ : Series
        Silhouette (higher better) or BIC (lower better) per k searched.
    stability_ : float
        Mean adjusted Rand index between the fitted clustering and clusterings refitted on
        ``n_boot`` bootstrap resamples (1 = perfectly stable); NaN when ``n_boot == 0``.
    stability_by_k_ : Series
        The same for every k searched (fewer resamples: ``max(3, n_boot // 4)``).
    profiles_ : DataFrame
        Cluster × feature means of the standardised (z-scored) imputed features.
    means_ : DataFrame
        Cluster × feature means on the features' own scales.
    sizes_ : Series
        Clients per cluster.
    names_ : dict
        ``{cluster: {"ru": ..., "en": ...}}``, unique in each language.
    archetypes_ : dict
        ``{cluster: archetype key}`` (see :data:`ARCHETYPES`), the key of the action matrix.
    pipeline_ : Pipeline

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"log_wallet": np.r_[rng.normal(5, .1, 30), rng.normal(3, .1, 30), rng.normal(1, .1, 30)],
    ...                   "share": np.r_[rng.normal(-2, .1, 30), rng.normal(-1, .1, 30), rng.normal(-0.3, .1, 30)]})
    >>> pc = PotentialClusters(k_min=3, seed=1, n_boot=3).fit(X)
    >>> pc.k_, pc.labels_.iloc[[0, 30, 60]].tolist()
    (3, [0, 1, 2])
    >>> pc.names_[0]["en"]
    'Big wallet, low share — grow'
    """

    def __init__(self, n_clusters: int = 0, k_min: int = 4, k_max: int = 8, seed: int = 42, n_boot: int = 20,
                 model: str = "kmeans", scaler: str = "standard", n_init: int = 10, sample_size: int = 5000,
                 fit_size: int = 20000, weights: Mapping[str, float] | None = None, order_by: str = "log_wallet",
                 n_threads: int | None = 1):
        self.n_clusters = n_clusters
        self.k_min = k_min
        self.k_max = k_max
        self.seed = seed
        self.n_boot = n_boot
        self.model = model
        self.scaler = scaler
        self.n_init = n_init
        self.sample_size = sample_size
        self.fit_size = fit_size
        self.weights = weights
        self.order_by = order_by
        self.n_threads = n_threads

    # -- building blocks --------------------------------------------------------------------------
    def _weights_vector(self, columns) -> np.ndarray:
        w = DEFAULT_WEIGHTS if self.weights is None else self.weights
        return np.array([float(w.get(c, 1.0)) for c in columns])

    def _pipeline(self, k: int, seed: int, columns) -> Pipeline:
        if self.scaler not in ("robust", "standard"):
            raise ValueError(f"scaler must be 'robust' or 'standard', got {self.scaler!r}")
        scaler = RobustScaler(quantile_range=(10.0, 90.0)) if self.scaler == "robust" else StandardScaler()
        if self.model == "kmeans":
            est = KMeans(n_clusters=k, n_init=self.n_init, random_state=seed)
        elif self.model == "gmm":
            est = GaussianMixture(n_components=k, n_init=max(1, self.n_init // 3), covariance_type="diag",
                                  reg_covar=1e-4, random_state=seed)
        else:
            raise ValueError(f"model must be 'kmeans' or 'gmm', got {self.model!r}")
        return Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                         ("scale", scaler), ("weight", _Weights(self._weights_vector(columns))),
                         ("cluster", est)])

    @staticmethod
    def _space(pipe: Pipeline, X: np.ndarray) -> np.ndarray:
        for _, step in pipe.steps[:-1]:
            X = step.transform(X)
        return X

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X, y=None) -> "PotentialClusters":
        """Choose k, fit, renumber, measure stability, profile and name the clusters."""
        with threadpool_limits(limits=self.n_threads):
            return self._fit(X)

    def _fit(self, X) -> "PotentialClusters":
        Xdf = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float)).add_prefix("f")
        Xdf = Xdf.astype("float64")
        self.feature_names_in_ = np.array([str(c) for c in Xdf.columns], dtype=object)
        A = Xdf.to_numpy()
        n = len(A)
        if n < 2:
            raise ValueError(f"need at least 2 clients to cluster, got {n}")
        rng = np.random.default_rng(self.seed)
        fit_idx = np.arange(n) if n <= self.fit_size else np.sort(rng.choice(n, self.fit_size, replace=False))
        Af = A[fit_idx]
        sub_idx = (np.arange(len(Af)) if len(Af) <= self.sample_size
                   else np.sort(rng.choice(len(Af), self.sample_size, replace=False)))
        As = Af[sub_idx]
        n_distinct = len(np.unique(np.nan_to_num(Af, nan=-1e300), axis=0))

        if self.n_clusters and self.n_clusters > 0:
            ks = [min(int(self.n_clusters), n_distinct)]
        else:
            if not (1 <= self.k_min <= self.k_max):
                raise ValueError(f"need 1 <= k_min <= k_max, got {self.k_min}, {self.k_max}")
            ks = [k for k in range(self.k_min, self.k_max + 1) if k < min(n, n_distinct)] or [
                max(1, min(self.k_min, n_distinct, n - 1))]
        criterion = "bic" if self.model == "gmm" else "silhouette"
        scores, pipes, dist = {}, {}, None
        for k in ks:
            pipe = self._pipeline(k, self.seed, Xdf.columns).fit(Af)
            pipes[k] = pipe
            if criterion == "bic":
                scores[k] = float(pipe[-1].bic(self._space(pipe, Af)))
                continue
            lab = pipe.predict(As)
            if not 1 < len(np.unique(lab)) < len(As):
                scores[k] = np.nan
                continue
            if dist is None:  # the steps before the model do not depend on k: one space, one distance matrix
                dist = euclidean_distances(self._space(pipe, As))
            scores[k] = float(silhouette_score(dist, lab, metric="precomputed"))
        sc = pd.Series(scores, name=criterion, dtype="float64").rename_axis("k")
        if len(ks) == 1 or sc.isna().all():
            k_best = ks[0]
        else:
            k_best = int(sc.idxmin() if criterion == "bic" else sc.idxmax())
        self.k_ = int(k_best)
        self.scores_ = sc
        self.criterion_ = criterion
        self.pipeline_ = pipes[k_best]

        raw = self.pipeline_.predict(A)
        key = self.order_by if self.order_by in Xdf.columns else Xdf.columns[0]
        filled = self.pipeline_[0].transform(A)
        col = list(Xdf.columns).index(key)
        present = np.unique(raw)
        means = np.array([filled[raw == c, col].mean() for c in present])
        order = present[np.lexsort((present, -means))]
        self.relabel_ = {int(old): new for new, old in enumerate(order)}
        n_raw = int(getattr(self.pipeline_[-1], "n_clusters", getattr(self.pipeline_[-1], "n_components", 0)))
        for extra, old in enumerate(sorted(set(range(n_raw)) - set(self.relabel_))):  # empty clusters go last
            self.relabel_[old] = len(order) + extra
        self.labels_ = pd.Series(self._relabel(raw), index=Xdf.index, name="cluster", dtype="int64")
        self.k_ = len(order)

        # stability: bootstrap refits on the scoring subsample, compared on that subsample; fewer
        # resamples for every k searched, all of them for the chosen k (its first ones are the same)
        few = max(3, self.n_boot // 4)
        aris = self._stability(pipes, As, {k: max(few, self.n_boot) if k == k_best else few for k in ks})
        self.stability_by_k_ = pd.Series({k: _mean(aris[k][:few]) for k in ks}, dtype="float64").rename_axis("k")
        self.stability_ = _mean(aris[k_best][:self.n_boot]) if self.n_boot > 0 else float("nan")
        if self.n_boot > 0:
            self.stability_by_k_.loc[k_best] = self.stability_  # the fuller estimate for the chosen k

        # profiles on the standardised imputed features
        Z = pd.DataFrame(filled, columns=Xdf.columns)
        mu, sd = Z.mean(), Z.std(ddof=0).replace(0.0, 1.0)
        lab = self.labels_.to_numpy()
        self.means_ = Z.groupby(lab).mean().rename_axis("cluster")
        self.profiles_ = ((Z - mu) / sd).groupby(lab).mean().rename_axis("cluster")
        self.sizes_ = pd.Series(lab).value_counts().sort_index().rename_axis("cluster").rename("clients")
        self.archetypes_, self.names_ = name_clusters(self.profiles_, self.means_)
        return self

    def _stability(self, pipes: Mapping[int, Pipeline], As: np.ndarray, n_boot: Mapping[int, int]) -> dict:
        """Per k: the adjusted Rand index of each of ``n_boot[k]`` bootstrap refits with the fitted
        clustering on ``As`` (resample b of k is the same whatever the count; none below k = 2)."""
        out: dict = {k: [] for k in n_boot}
        for k, n in n_boot.items():
            if len(As) < 3 or k < 2 or n <= 0:
                continue
            ref = pipes[k].predict(As)
            rng = np.random.default_rng(self.seed + 7919 * k)
            for b in range(n):
                idx = rng.choice(len(As), len(As), replace=True)
                with warnings.catch_warnings():  # a resample of few distinct rows may hold fewer than k clusters
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    p = clone(pipes[k]).set_params(cluster__random_state=self.seed + b + 1).fit(As[idx])
                out[k].append(adjusted_rand_score(ref, p.predict(As)))
        return out

    def _relabel(self, raw: np.ndarray) -> np.ndarray:
        lut = np.arange(max(max(self.relabel_, default=0), int(np.max(raw, initial=0))) + 1, dtype="int64")
        for old, new in self.relabel_.items():
            lut[old] = new
        return lut[np.asarray(raw, dtype="int64")]

    def predict(self, X) -> pd.Series:
        """Clusters of new rows (renumbered like ``labels_``)."""
        with threadpool_limits(limits=self.n_threads):
            return self._predict(X)

    def _predict(self, X) -> pd.Series:
        Xdf = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float),
                                                                 columns=self.feature_names_in_)
        A = Xdf[list(self.feature_names_in_)].astype("float64").to_numpy()
        return pd.Series(self._relabel(self.pipeline_.predict(A)), index=Xdf.index, name="cluster",
                         dtype="int64")

    def fit_predict(self, X, y=None) -> pd.Series:
        return self.fit(X).labels_

    def name(self, cluster: int, lang: str = "ru") -> str:
        """The name of a cluster (``-1`` = prospects) in ``lang``."""
        if cluster == PROSPECT:
            return t("segments.archetype.prospect", lang)
        return self.names_[int(cluster)][lang]

    def archetype(self, cluster: int) -> str:
        """The archetype key of a cluster (``-1`` = ``prospect``)."""
        return "prospect" if cluster == PROSPECT else self.archetypes_[int(cluster)]


# --------------------------------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------------------------------
def _archetype(z: Mapping[str, float]) -> str:
    """Archetype of one cluster from its standardised profile (rules in priority order)."""
    g = lambda k: float(z.get(k, 0.0)) if pd.notna(z.get(k, 0.0)) else 0.0  # noqa: E731
    W, S, G, Rc = g("log_wallet"), g("share"), g("growth"), g("recency")
    Rg, F, B, X = g("regularity"), g("frequency"), g("breadth"), g("log_crosssell")
    if Rc >= 0.8 or G <= -0.8:
        return "fading"                       # silent long for its rhythm or shrinking: win back first
    if W >= 0.5:
        return "key" if S >= 0.5 else "grow"  # big wallet: protect what we hold or take more of it
    if G >= 0.8:
        return "new"
    if S >= 0.5 and (Rg >= 0 or F >= 0):
        return "core"
    if W <= -0.5 and (Rg <= 0 or F <= 0 or S <= 0):
        return "small"
    if X >= 0.5 and B <= 0:
        return "cross"
    return "middle"


#: Qualifier keys per feature (direction high / low) used to tell apart clusters with one archetype.
_QUALIFIERS = ("log_wallet", "share", "regularity", "frequency", "growth", "recency", "breadth", "margin_rate",
               "log_upsell", "log_crosssell", "log_revenue")


def name_clusters(profiles: pd.DataFrame, means: pd.DataFrame | None = None
                  ) -> tuple[dict[int, str], dict[int, dict[str, str]]]:
    """Archetype and unique ru/en name of every cluster from its standardised profile.

    Rules, in priority order, on the cluster's mean z-scores: *fading* (recency ≥ 0.8 or
    growth ≤ −0.8), big wallet (≥ 0.5) → *key* if share ≥ 0.5 else *grow*, *new* (growth ≥
    0.8), *core* (share ≥ 0.5 and regular or frequent), *small* (wallet ≤ −0.5 and rare or
    low share), *cross* (cross-sale room ≥ 0.5, narrow range), else *middle*. Clusters that
    share an archetype are told apart by the feature that separates them most
    ("(larger wallet)" / «(крупнее)», "(more regular)" / «(регулярнее)» …), then by an ordinal.

    Examples
    --------
    >>> import pandas as pd
    >>> prof = pd.DataFrame({"log_wallet": [1.2, 0.9, -1.0], "share": [-0.8, -0.2, 0.1]})
    >>> arch, names = name_clusters(prof)
    >>> arch
    {0: 'grow', 1: 'grow', 2: 'small'}
    >>> [names[c]["en"] for c in (0, 1)]
    ['Big wallet, low share — grow (lower share)', 'Big wallet, low share — grow (higher share)']
    """
    arch = {int(c): _archetype(row.to_dict()) for c, row in profiles.iterrows()}
    names = {c: {lg: t(f"segments.archetype.{a}", lg) for lg in LANGS} for c, a in arch.items()}
    by_arch: dict[str, list[int]] = {}
    for c, a in arch.items():
        by_arch.setdefault(a, []).append(c)
    for a, members in by_arch.items():
        if len(members) < 2:
            continue
        sub = profiles.loc[members, [f for f in _QUALIFIERS if f in profiles.columns]].fillna(0.0)
        dev = sub - sub.mean()
        taken: set[tuple[str, str]] = set()
        # the most distinct member picks first; each takes its strongest qualifier not yet taken
        for c in sorted(members, key=lambda m: (-dev.loc[m].abs().max(), m)):
            row = dev.loc[c]
            for f in row.abs().sort_values(ascending=False, kind="stable").index:
                if row[f] == 0:
                    break
                q = (f, "hi" if row[f] > 0 else "lo")
                if q not in taken:
                    taken.add(q)
                    for lg in LANGS:
                        names[c][lg] = f"{names[c][lg]} ({t(f'segments.qual.{q[0]}.{q[1]}', lg)})"
                    break
    # last resort: ordinals (by cluster number = by wallet) for names still equal
    for lg in LANGS:
        seen: dict[str, list[int]] = {}
        for c in sorted(names):
            seen.setdefault(names[c][lg], []).append(c)
        for nm, cs in seen.items():
            if len(cs) > 1:
                for i, c in enumerate(cs, 1):
                    for lg2 in LANGS:
                        names[c][lg2] = f"{names[c][lg2]} {i}"
    return arch, names


# --------------------------------------------------------------------------------------------------
# Whole stage, action matrix
# --------------------------------------------------------------------------------------------------
def cluster_labels(df: pd.DataFrame, model: PotentialClusters, features: pd.DataFrame | None = None,
                   wallet: str = "wallet_month", profit: str = "margin_12m", revenue: str = "revenue_12m"
                   ) -> pd.Series:
    """Cluster of every client of ``df``: predicted for clients with sales, ``-1`` for
    :func:`prospects` (no sales, a wallet), ``<NA>`` for the rest (``Int64``, ``df``'s index)."""
    feats = cluster_features(df) if features is None else features
    sold = has_sales(df, profit, revenue).to_numpy()
    out = pd.Series(pd.NA, index=df.index, dtype="Int64", name="cluster")
    if sold.any():
        out.iloc[np.flatnonzero(sold)] = model.predict(feats.iloc[np.flatnonzero(sold)]).to_numpy()
    out.iloc[np.flatnonzero(prospects(df, wallet=wallet, profit=profit, revenue=revenue).to_numpy())] = PROSPECT
    return out


def prospects(df: pd.DataFrame, wallet: str = "wallet_month", profit: str = "margin_12m",
              revenue: str = "revenue_12m", base: str = "base", merged_into: str = "merged_into") -> pd.Series:
    """Clients without sales in the 12 months but with a wallet: the cluster ``-1``.

    Closed cards (``base == "closed"``) and duplicate cards merged into another one
    (``merged_into`` set, see :func:`kbanalysis.audit.core.audit_table`) are not prospects.

    >>> import pandas as pd
    >>> prospects(pd.DataFrame({"revenue_12m": [0.0, 0.0, 5.0, 0.0], "wallet_month": [9.0, 9.0, 9.0, None],
    ...                         "base": ["lost", "closed", "active", "potential"]})).tolist()
    [True, False, False, False]
    """
    out = ~has_sales(df, profit, revenue) & (_num(df, wallet) > 0)
    if base in df:
        out &= (df[base].astype("string") != "closed").fillna(True).to_numpy(dtype=bool)
    if merged_into in df:
        out &= df[merged_into].isna().to_numpy()
    return out.rename("prospect")


def segment_frame(audit: pd.DataFrame, wallet: pd.DataFrame, cards: pd.DataFrame, client: str = "client_id",
                  merged_into: str = "merged_into", channel: str = "channel") -> pd.DataFrame:
    """The per-client frame segmentation works on: audit + wallet + the card's channel, master cards only.

    ``audit`` is ``work/audit.parquet`` (duplicate cards, ``merged_into`` set, are dropped),
    ``wallet`` is ``work/wallet.parquet`` (its own ``channel`` gives way to the card's and a column the audit
    has too, ``base`` or ``revenue_month``, to the audit's), ``cards`` the master cards with their ``channel``.

    >>> import pandas as pd
    >>> a = pd.DataFrame({"client_id": ["a", "b"], "merged_into": [None, "a"], "base": "active"})
    >>> w = pd.DataFrame({"client_id": ["a"], "wallet_month": [9.0], "base": "x"})
    >>> segment_frame(a, w, pd.DataFrame({"client_id": ["a"], "channel": ["retail"]}))
      client_id merged_into    base  wallet_month channel
    0         a         NaN  active           9.0  retail
    """
    a = audit.loc[audit[merged_into].isna()]
    w = wallet.drop(columns=[c for c in wallet.columns if c == channel or (c != client and c in a.columns)])
    df = a.merge(w, on=client, how="left")
    return df.merge(cards[[client, channel]], on=client, how="left")


def fit_clusters(features: pd.DataFrame, sold: pd.Series | np.ndarray, *, n_clusters: int = 0, k_min: int = 4,
                 k_max: int = 8, seed: int = 42, n_boot: int = 20, **model_kw) -> PotentialClusters:
    """:class:`PotentialClusters` fitted on the features of the clients with sales (``sold`` True).

    ``n_clusters`` 0 chooses k in ``k_min..k_max`` from the data; the fitted model keeps the
    scores of every k (``scores_``), the stability (``stability_``) and the names (``names_``).

    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"a": [0.0, 0.1, 0.2, 5.0, 5.1, 5.2]})
    >>> fit_clusters(X, np.array([True] * 6), n_clusters=2, n_boot=0).labels_.tolist()
    [1, 1, 1, 0, 0, 0]
    """
    model = PotentialClusters(n_clusters=n_clusters, k_min=k_min, k_max=k_max, seed=seed, n_boot=n_boot,
                              **model_kw)
    return model.fit(features.iloc[np.flatnonzero(np.asarray(sold, dtype=bool))])


def segment_table(df: pd.DataFrame, classes: pd.Series, model: PotentialClusters,
                  features: pd.DataFrame | None = None, lang: str | None = None, client: str = "client_id"
                  ) -> pd.DataFrame:
    """``work/segments.parquet``: ``client_id, abcde, cluster, archetype, cluster_name_ru, cluster_name_en``.

    Clusters come from :func:`cluster_labels`; with ``lang`` a ``cluster_name`` column in that
    language is added last. Row order and index are ``df``'s.

    >>> import pandas as pd
    >>> class M:  # anything with predict, archetype and name
    ...     def predict(self, X): return pd.Series([0] * len(X))
    ...     def archetype(self, c): return "key"
    ...     def name(self, c, lang): return f"k{c}{lang}"
    >>> df = pd.DataFrame({"client_id": ["a"], "revenue_12m": [5.0]})
    >>> [str(x) for x in segment_table(df, pd.Series(["A"]), M(), features=df, lang="en").iloc[0]]
    ['a', 'A', '0', 'key', 'k0ru', 'k0en', 'k0en']
    """
    cl = cluster_labels(df, model, features)
    arch = cl.map(lambda c: model.archetype(int(c)) if pd.notna(c) else pd.NA).astype("string")
    table = pd.DataFrame({
        "client_id": df[client].astype("string") if client in df else pd.Series(df.index, index=df.index),
        "abcde": pd.Series(classes, index=df.index).astype("string"), "cluster": cl, "archetype": arch,
        "cluster_name_ru": cl.map(lambda c: model.name(int(c), "ru") if pd.notna(c) else pd.NA).astype("string"),
        "cluster_name_en": cl.map(lambda c: model.name(int(c), "en") if pd.notna(c) else pd.NA).astype("string"),
    }, index=df.index)
    if lang is not None:
        table["cluster_name"] = table[f"cluster_name_{lang}"]
    return table


def abcde_counts(df: pd.DataFrame, abcde: str = "abcde", channel: str = "channel") -> dict:
    """The numbers the ABCDE text quotes: ``n_A``, ``n_E`` (clients of class A, E) and ``n_channels``.

    >>> import pandas as pd
    >>> abcde_counts(pd.DataFrame({"abcde": ["A", "E", "A"], "channel": ["r", "r", "d"]}))
    {'n_A': 2, 'n_E': 1, 'n_channels': 2}
    """
    return {"n_A": int((df[abcde] == "A").sum()), "n_E": int((df[abcde] == "E").sum()),
            "n_channels": int(df[channel].nunique())}


def segment_clients(df: pd.DataFrame, *, channel: str = "channel", high: float = 0.8, mid: float = 0.5,
                    n_clusters: int = 0, k_min: int = 4, k_max: int = 8, seed: int = 42, n_boot: int = 20,
                    **model_kw) -> tuple[pd.DataFrame, PotentialClusters]:
    """The whole stage on the per-client frame: classes, features, clusters.

    :func:`abcde_classes`, :func:`cluster_features`, :func:`fit_clusters` and :func:`segment_table`
    in a row. Returns ``(table, model)``: ``table`` has ``client_id, abcde, cluster, archetype,
    cluster_name_ru, cluster_name_en`` (``df``'s row order); ``model`` is the fitted
    :class:`PotentialClusters` (fitted on clients with sales).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 60
    >>> df = pd.DataFrame({"client_id": [f"c{i}" for i in range(n)], "channel": "retail",
    ...     "wallet_month": 10 ** rng.uniform(3, 6, n), "share_of_wallet": 10 ** rng.uniform(-3, 0, n)})
    >>> df["revenue_12m"] = 12 * df["wallet_month"] * df["share_of_wallet"]
    >>> df["margin_12m"] = 0.2 * df["revenue_12m"]
    >>> table, model = segment_clients(df, n_boot=2)
    >>> table["abcde"].notna().all(), table["cluster"].between(0, model.k_ - 1).all()
    (np.True_, np.True_)
    """
    classes = abcde_classes(df, channel=channel, high=high, mid=mid)
    feats = cluster_features(df)
    model = fit_clusters(feats, has_sales(df), n_clusters=n_clusters, k_min=k_min, k_max=k_max, seed=seed,
                         n_boot=n_boot, **model_kw)
    return segment_table(df, classes, model, feats), model


def load_actions(actions_file: str | Path | None = None) -> dict:
    """The action matrix definition (``actions.yaml`` or the user's file), validated.

    Layout: ``classes`` (A…E and ``none``), ``archetypes`` (every key of :data:`ARCHETYPES`)
    and optional ``cells`` ``{archetype: {class: {...}}}``; each entry gives some of the fields
    ``goal, frequency, owner, offer`` as ``{ru: ..., en: ...}``. A field is taken from the cell,
    else from the class, else from the archetype. Every archetype × class must resolve every field.

    >>> a = load_actions()
    >>> sorted(a["classes"]) == sorted([*"ABCDE", "none"])
    True
    """
    path = Path(actions_file) if actions_file else ACTIONS_FILE
    data = read_yaml_mapping(path, "actions file (parameter actions_file)")
    data.setdefault("cells", {})
    missing = [k for k in ("classes", "archetypes") if not isinstance(data.get(k), dict)]
    if missing:
        raise UserError(f"actions file {path}: section(s) {', '.join(missing)} missing")
    problems = []
    for a in ARCHETYPES:
        for c in (*ABCDE, NO_CLASS):
            for f in ACTION_FIELDS:
                v = _action_field(data, a, c, f)
                if not isinstance(v, dict) or not all(v.get(lg) for lg in LANGS):
                    problems.append(f"{a}/{c}/{f}")
    if problems:
        raise UserError(f"actions file {path}: no ru+en text for {', '.join(problems[:10])}"
                        + (" …" if len(problems) > 10 else ""))
    return data


def _action_field(data: dict, archetype: str, cls: str, field: str):
    for entry in ((data.get("cells", {}).get(archetype) or {}).get(cls) or {},
                  data["classes"].get(cls) or {}, data["archetypes"].get(archetype) or {}):
        if field in entry:
            return entry[field]
    return None


def action_matrix(df: pd.DataFrame, clusters: PotentialClusters | Mapping[int, str], lang: str = "ru",
                  actions_file: str | Path | None = None, cluster: str = "cluster", abcde: str = "abcde",
                  revenue: str = "revenue_12m", wallet: str = "wallet_month", upsell: str = "upsell_month",
                  crosssell: str = "crosssell_month", names: Mapping[int, Mapping[str, str]] | None = None,
                  achievable: str = "achievable_month", full: bool = False) -> pd.DataFrame:
    """Who works which clients, how often, with what offer — per cluster × ABCDE class.

    The segments that have clients, the most achievable money first (``full=True``: every fitted
    cluster × every class A…E, also the empty ones, so the matrix reads as the full policy);
    prospects (cluster ``-1``, no class) are one row with class ``none``.

    Parameters
    ----------
    df : DataFrame
        Per client, with ``cluster`` and ``abcde`` columns and the money columns.
    clusters : PotentialClusters or mapping
        The fitted model (its ``archetypes_`` and ``names_``) or ``{cluster: archetype}``.
    lang : {"ru", "en"}
    actions_file : path or None
        The user's YAML (run parameter ``actions_file``); ``None`` = built-in defaults.

    Returns
    -------
    DataFrame
        ``cluster, cluster_name, archetype, abcde, clients, revenue_12m, wallet_month,
        at_stake_month`` (Σ achievable money per month: the plans' uplift, a lost or new client's
        plan; NaN when ``df`` has no ``achievable`` column) ``, ceiling_month`` (Σ up-sale + cross-sale:
        the wallet left, a ceiling) ``, goal, frequency, owner, offer``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"cluster": [0, 0, 1], "abcde": ["A", "C", "D"], "revenue_12m": [10.0, 5, 1],
    ...                    "wallet_month": [100.0, 50, 2], "upsell_month": [5.0, 5, 0],
    ...                    "crosssell_month": [1.0, 2, 0], "achievable_month": [2.0, 3, 0]})
    >>> action_matrix(df, {0: "grow", 1: "small"}, lang="en")[["cluster", "abcde", "clients", "at_stake_month",
    ...                                                       "ceiling_month"]]
       cluster abcde  clients  at_stake_month  ceiling_month
    0        0     C        1             3.0            7.0
    1        0     A        1             2.0            6.0
    2        1     D        1             0.0            0.0
    >>> len(action_matrix(df, {0: "grow", 1: "small"}, lang="en", full=True))  # 2 clusters x 5 classes
    10
    """
    if lang not in LANGS:
        raise UserError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    acts = load_actions(actions_file)
    if isinstance(clusters, PotentialClusters):
        arch_of = dict(clusters.archetypes_)
        names = {**clusters.names_, **(names or {})}
    else:
        arch_of = {int(k): v for k, v in dict(clusters).items()}
    arch_of[PROSPECT] = "prospect"
    unknown = sorted(set(arch_of.values()) - set(ARCHETYPES))
    if unknown:
        raise UserError(f"unknown cluster archetype(s): {', '.join(unknown)}")
    cl = pd.to_numeric(df[cluster], errors="coerce").astype("Int64")
    cls = df[abcde].astype("string").fillna(NO_CLASS) if abcde in df else pd.Series(NO_CLASS, index=df.index)
    up, cross = _num(df, upsell).fillna(0.0), _num(df, crosssell).fillna(0.0)
    gain = _num(df, achievable).fillna(0.0) if achievable in df else pd.Series(np.nan, index=df.index)
    d = pd.DataFrame({"cluster": cl, "abcde": cls, "rev": _num(df, revenue).fillna(0.0),
                      "wal": _num(df, wallet).fillna(0.0), "stake": gain, "room": up + cross}).loc[cl.notna()]
    g = d.groupby(["cluster", "abcde"], observed=True).agg(
        clients=("rev", "size"), revenue_12m=("rev", "sum"), wallet_month=("wal", "sum"),
        at_stake_month=("stake", "sum"), ceiling_month=("room", "sum"))
    if achievable not in df:
        g["at_stake_month"] = np.nan
    cluster_ids = sorted({c for c in arch_of if c != PROSPECT} | set(int(c) for c in d["cluster"].unique()),
                         key=lambda c: (c == PROSPECT, c))
    present = set(zip(d["cluster"].astype(int), d["abcde"]))
    cells = []
    for c in cluster_ids:  # clients with sales always have a class; prospects never do
        ks = [NO_CLASS] + [k for k in ABCDE if (c, k) in present] if c == PROSPECT else list(ABCDE)
        if c != PROSPECT and (c, NO_CLASS) in present:
            ks.append(NO_CLASS)
        cells += [(c, k) for k in ks]
    grid = pd.MultiIndex.from_tuples(cells, names=["cluster", "abcde"])
    g = g.reindex(grid)
    g["clients"] = g["clients"].fillna(0).astype("int64")
    for c in ("revenue_12m", "wallet_month", "ceiling_month") + (("at_stake_month",) if achievable in df else ()):
        g[c] = g[c].fillna(0.0)
    out = g.reset_index()
    missing = sorted(set(out["cluster"]) - set(arch_of))
    if missing:
        raise UserError(f"clusters {missing} have no archetype")
    out["archetype"] = out["cluster"].map(arch_of).astype("string")

    def _name(c):
        if names and int(c) in names:
            return names[int(c)][lang]
        return t(f"segments.archetype.{arch_of[int(c)]}", lang)

    out.insert(1, "cluster_name", out["cluster"].map(_name).astype("string"))
    for f in ACTION_FIELDS:
        out[f] = [(_action_field(acts, a, c, f) or {}).get(lang) for a, c in zip(out["archetype"], out["abcde"])]
        out[f] = out[f].astype("string")
    out["cluster"] = out["cluster"].astype("int64")
    out["abcde"] = out["abcde"].astype("string")
    cols = ["cluster", "cluster_name", "archetype", "abcde", "clients", "revenue_12m", "wallet_month",
            "at_stake_month", "ceiling_month", *ACTION_FIELDS]
    out = out[cols]
    if not full:
        out = out.loc[out["clients"] > 0].sort_values(["at_stake_month", "revenue_12m"], ascending=False,
                                                      kind="mergesort", na_position="last")
    return out.reset_index(drop=True)


def action_view(actions: pd.DataFrame, lang: str = "ru") -> pd.DataFrame:
    """The action matrix for people: segment name, class (prospects: "no class"), clients, achievable money and
    its ceiling, what to do — no internal codes (cluster number, archetype) and no 12-month revenue or wallet
    (``actions.csv`` keeps them), so that the offer fits the page.

    >>> m = pd.DataFrame({"cluster": [-1], "cluster_name": ["Prospects"], "archetype": ["prospect"],
    ...                   "abcde": ["none"], "clients": [3], "at_stake_month": [5.0], "offer": ["x"]})
    >>> action_view(m, "en").to_dict("records")
    [{'segment': 'Prospects', 'abcde': 'no class', 'clients': 3, 'at_stake_month': 5.0, 'offer': 'x'}]
    """
    out = actions.drop(columns=[c for c in ("cluster", "archetype", "wallet_month", "revenue_12m") if c in actions.columns])
    out = out.rename(columns={"cluster_name": "segment"})
    if "abcde" in out:
        out["abcde"] = out["abcde"].astype("string").replace({NO_CLASS: t("segments.no_class", lang)})
    return out


def cluster_summary(df: pd.DataFrame, model: PotentialClusters, lang: str = "ru", cluster: str = "cluster",
                    revenue: str = "revenue_12m", wallet: str = "wallet_month", share: str = "share_of_wallet",
                    upsell: str = "upsell_month", crosssell: str = "crosssell_month",
                    achievable: str = "achievable_month") -> pd.DataFrame:
    """Per cluster: name, clients, revenue, wallet, share of wallet (Σ monthly revenue / Σ wallet), achievable money
    (``at_stake_month``) and the ceiling beside it (``ceiling_month``, Σ up-sale + cross-sale).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"cluster": [0, -1], "revenue_12m": [120.0, 0], "wallet_month": [100.0, 50]})
    >>> class M:  # anything with .name(c, lang)
    ...     def name(self, c, lang): return "x" if c == 0 else "p"
    >>> cluster_summary(df, M(), "en")[["cluster", "name", "clients", "share_of_wallet"]]
       cluster name  clients  share_of_wallet
    0        0    x        1              0.1
    1       -1    p        1              0.0
    """
    cl = pd.to_numeric(df[cluster], errors="coerce").astype("Int64")
    gain = _num(df, achievable).fillna(0.0) if achievable in df else pd.Series(np.nan, index=df.index)
    d = pd.DataFrame({"cluster": cl, "rev": _num(df, revenue).fillna(0.0), "wal": _num(df, wallet).fillna(0.0),
                      "rev_m": revenue_per_month(df, revenue).fillna(0.0),
                      "stake": gain, "room": _num(df, upsell).fillna(0.0) + _num(df, crosssell).fillna(0.0)}
                     ).loc[cl.notna()]
    g = d.groupby("cluster").agg(clients=("rev", "size"), revenue_12m=("rev", "sum"), rev_m=("rev_m", "sum"),
                                 wallet_month=("wal", "sum"),
                                 at_stake_month=("stake", "sum"), ceiling_month=("room", "sum")).reset_index()
    if achievable not in df:
        g["at_stake_month"] = np.nan
    g["cluster"] = g["cluster"].astype("int64")
    g = g.sort_values("cluster", key=lambda s: s.where(s >= 0, 10 ** 9), ignore_index=True)
    g["share_of_wallet"] = g.pop("rev_m") / g["wallet_month"].where(g["wallet_month"] > 0)
    g.insert(1, "name", g["cluster"].map(lambda c: model.name(int(c), lang)).astype("string"))
    return g


__all__ = ["action_view", "abcde_classes", "abcde_matrix", "pareto_by_class", "profitability", "has_sales", "cluster_features",
           "client_potential", "client_value", "segment_frame", "fit_clusters", "segment_table", "abcde_counts",
           "PotentialClusters", "name_clusters", "cluster_labels", "prospects", "segment_clients", "load_actions",
           "action_matrix", "cluster_summary", "FEATURES", "ARCHETYPES", "PROSPECT", "NO_CLASS"]
