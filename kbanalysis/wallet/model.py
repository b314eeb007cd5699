"""The client's wallet: its own monthly purchases of our categories from all suppliers.

A client's *wallet* («оборот клиента», собственные закупки наших категорий у всех поставщиков)
is estimated from every source a case has, each with its own **measured** error.

Sources
-------
``survey``
    the client's own answers (table ``survey``): the sum over product groups of
    ``total_purchases``. The most trusted source.
``manager``
    the manager's estimate ``clients.reported_turnover`` divided by ``1 - bias``. Managers
    underestimate the client's turnover; the typical underestimate is the median log ratio
    manager / survey over clients that have both (unless ``manager_bias`` gives it).
``drivers``
    numeric drivers on the card (outlets, own clients, installations x project cost, machines x
    imported share ...). Learnt from the known wallets (survey answers, bias-corrected manager
    estimates): a log-linear regression on the log drivers (a share-like driver in 0..1 also
    enters as is), one slope set per channel shrunk (ridge) toward slopes pooled over the
    channels, the shrinkage chosen by leave-one-out error; a missing driver is imputed with the
    channel mean plus a missing-value indicator. Channels with fewer than 3 known wallets use the
    consultant's norms ``driver_norms`` when given.
``lookalike``
    Perlich, Rosset et al. (KDD 2007), *High-quantile modeling for customer wallet estimation*:
    the wallet is near a high conditional quantile (``wallet_quantile``, 0.85) of what look-alike
    clients buy from us: linear quantile regression (statsmodels ``QuantReg``) on the log drivers
    and the channel, averaged in logs with the same quantile over the ``k`` nearest neighbours
    within the channel. Clients (or cases) without drivers are matched on behaviour: orders,
    active months, breadth of groups, channel (not on revenue: look-alikes matched on it buy what
    the client buys, and their high quantile is just its own revenue). With known wallets its scale is
    calibrated on them (median log ratio per channel) and it is a cross-check; a client with no
    driver on its card but with known wallets in the case gets the *behavioural* model instead: a
    regression of the known wallets on its own revenue, orders, months and breadth (same ridge).

Errors, combination, interval
-----------------------------
Every source is checked by 5-fold cross-validation on the clients whose wallet is known from the
survey: out-of-fold log residuals ``log(survey) - log(source)`` give its median absolute
percentage error, its (robust) log standard deviation, its bias and the coverage of its interval
(:attr:`WalletEstimator.errors_`). The survey's own noise is measured by the "three-cornered hat"
(survey, manager and drivers are three independent measurements of one quantity); being
imprecise with a few hundred answers, its upper end (90 % bootstrap quantile) is the survey's
error, and the other sources keep the survey's noise in theirs (conservative).

The estimate is the inverse-variance weighted mean, in logs, of the sources the client has
(survey, manager, and one model source: ``drivers``, else the behavioural / Perlich look-alike;
the model sources are not combined with each other, their errors are not independent).
``wallet_source`` names the source carrying >= 75 % of the weight, else ``combined``.

The interval is empirical: the 10 % / 90 % quantiles of the out-of-fold residuals of the *same
combination of sources* on the survey clients (it includes the survey's own noise, so it is
slightly conservative); a normal approximation with the measured variances when fewer than 20
survey clients can check the combination (e.g. combinations that include the survey itself).
Finally the estimate is conditioned on what the client already buys from us: the wallet cannot
be below our average monthly revenue of the last 12 months, so the error distribution is
truncated there and the wallet, low and high are its 50 %, 10 % and 90 % quantiles.

A look-alike wallet floored at the client's own revenue (the top of a channel: no look-alike buys
more) is extrapolated from the headroom of the channel's upper half (:func:`kbanalysis.wallet.top.extrapolate_top`,
``wallet_source`` = ``extrapolated``): a share of wallet of 1.0 stays only where a survey, a
manager's estimate or drivers say so.

Without any known wallet no error can be measured: the wallet is the consultant's norms when
given, else the look-alike quantile (which underestimates wherever even the best-served
look-alikes buy only part of their needs from us); the interval is the look-alikes' spread (their
quantiles ``q - 0.10`` .. ``q + 0.10``). Without a survey but with managers' estimates these are
the reference, the bias cannot be learnt (0 unless given) and the managers' own error is taken
as equal to the drivers model's.

>>> import pandas as pd
>>> share_of_wallet(pd.Series([10.0, 1.0]), pd.Series([100.0, 10.0])).round(3).tolist()
[0.1, 0.1]
>>> loyalty(pd.Series([0.0099, 0.01, 0.0999, 0.10])).tolist()
['indifferent', 'secondary', 'secondary', 'main']
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats

from kbanalysis.io.case import driver_columns
from kbanalysis.sales.engine import revenue_per_month
from kbanalysis.wallet.top import extrapolate_top

SOURCES = ("survey", "manager", "drivers", "lookalike")
#: a source carrying at least this share of the combination weight names ``wallet_source``
DOMINANT_WEIGHT = 0.75
#: yearly-ish growth kept for clients where we are already a main supplier
MAIN_GROWTH = 0.05
_Z80 = stats.norm.ppf(0.9)
_MIN_LOG_VAR = 0.02 ** 2
#: a survey answer is never taken as more precise than this (log sd, about +-5 %)
SURVEY_MIN_LOG_SD = 0.05


# ----------------------------------------------------------------------------------------------
# small pure functions
# ----------------------------------------------------------------------------------------------
def share_of_wallet(revenue_month, wallet_month) -> pd.Series:
    """Our share in the client's purchases: ``revenue_month / wallet_month`` clipped to 0..1.

    ``revenue_month`` is our monthly revenue (:func:`kbanalysis.sales.engine.revenue_per_month`); NaN
    where the wallet is unknown or not positive.

    >>> share_of_wallet(pd.Series([0.0, 5.0, 100.0, 5.0]), pd.Series([100.0, 10.0, 100.0, float("nan")])).tolist()
    [0.0, 0.5, 1.0, nan]
    """
    rev = pd.Series(revenue_month, dtype="float64").fillna(0.0).clip(lower=0.0)
    w = pd.Series(wallet_month, dtype="float64")
    w = w.where(w > 0)
    out = (rev.to_numpy() / w.to_numpy()).clip(0.0, 1.0)
    return pd.Series(out, index=w.index, name="share_of_wallet")


def loyalty(share, low: float = 0.01, high: float = 0.10) -> pd.Series:
    """Loyalty level by our share of the client's wallet.

    ``indifferent`` below ``low`` («безразличие»), ``secondary`` from ``low`` up to ``high``,
    ``main`` from ``high`` on (we are among the main suppliers); ``<NA>`` when the share is unknown.

    >>> loyalty(pd.Series([0.005, 0.01, 0.2, None])).tolist()
    ['indifferent', 'secondary', 'main', <NA>]
    """
    s = pd.Series(share, dtype="float64")
    out = np.where(s < low, "indifferent", np.where(s < high, "secondary", "main")).astype(object)
    out[s.isna().to_numpy()] = None
    return pd.Series(out, index=s.index, name="loyalty", dtype="string")


def _f(x) -> np.ndarray:
    return np.array(pd.to_numeric(pd.Series(x), errors="coerce").astype("float64").to_numpy(), dtype="float64")


def _robust_var(r: np.ndarray) -> float:
    r = r[np.isfinite(r)]
    if len(r) < 2:
        return np.nan
    return float((1.4826 * np.median(np.abs(r - np.median(r)))) ** 2)


def _trimmed_var(r: np.ndarray, cut: float = 0.02) -> float:
    """Variance after winsorising ``cut`` of each tail (efficient, not thrown by a few outliers)."""
    r = r[np.isfinite(r)]
    if len(r) < 2:
        return np.nan
    lo, hi = np.quantile(r, [cut, 1 - cut])
    return float(np.var(np.clip(r, lo, hi), ddof=1))


# ----------------------------------------------------------------------------------------------
# design matrices: channel intercepts + pooled slopes + channel-specific slopes
# ----------------------------------------------------------------------------------------------
@dataclass
class _Design:
    """Log features of the drivers (or behaviour), centred within channel, missing = channel mean."""

    channels: list
    used: dict  # channel -> list of feature names
    center: dict = field(default_factory=dict)  # (channel, feat) -> mean
    scale: dict = field(default_factory=dict)  # (channel, feat) -> sd
    missing_ind: dict = field(default_factory=dict)  # channel -> feats needing an indicator

    @staticmethod
    def features(frame: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
        """Raw log features: log(x + offset) for every driver, plus x itself for shares (0..1)."""
        out = {}
        for d in names:
            v = _f(frame[d])
            v[v < 0] = np.nan
            pos = v[v > 0]
            if not len(pos):
                continue
            offset = 0.5 * pos.min() if (v == 0).any() else 0.0
            out[f"L:{d}"] = np.log(v + offset)
            fin = v[np.isfinite(v)]
            if fin.max() <= 1.0 and np.any((fin > 0) & (fin < 1)):
                out[f"R:{d}"] = v.copy()
        return out

    @classmethod
    def build(cls, channel: np.ndarray, feats: dict[str, np.ndarray], min_count: int = 5,
              min_present: float = 0.2) -> "_Design":
        chans = sorted(pd.unique(channel))
        des = cls(chans, {})
        for c in chans:
            m = channel == c
            used = []
            for k, v in feats.items():
                x = v[m]
                ok = np.isfinite(x)
                if ok.sum() >= min_count and ok.mean() >= min_present and np.nanstd(x) > 1e-9:
                    used.append(k)
                    des.center[(c, k)] = float(np.nanmean(x))
                    des.scale[(c, k)] = float(np.nanstd(x)) or 1.0
            des.used[c] = used
            des.missing_ind[c] = [k for k in used if not np.isfinite(feats[k][m]).all()]
        return des

    def has_any(self, channel: np.ndarray, feats: dict[str, np.ndarray]) -> np.ndarray:
        """True for rows with at least one used feature present."""
        out = np.zeros(len(channel), bool)
        for c in self.channels:
            m = channel == c
            for k in self.used.get(c, []):
                out[m] |= np.isfinite(feats[k][m])
        return out

    def matrix(self, channel: np.ndarray, feats: dict[str, np.ndarray], channel_slopes=True,
               standardise=False) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Columns ``1|c`` (intercept per channel), ``g|f`` (pooled slope), ``c|f`` (channel slope),
        ``m|c|f`` (missing indicator). Returns X, names, penalty group (0 intercept/indicator,
        1 pooled, 2 channel-specific)."""
        n = len(channel)
        cols, names, grp = [], [], []
        glob: dict[str, np.ndarray] = {}
        for c in self.channels:
            m = channel == c
            if not m.any():
                continue
            x1 = m.astype(float)
            cols.append(x1); names.append(f"1|{c}"); grp.append(0)
            for k in self.used.get(c, []):
                v = feats[k]
                z = np.where(m, v - self.center[(c, k)], 0.0)
                if standardise:
                    z = z / self.scale[(c, k)]
                miss = m & ~np.isfinite(v)
                z[miss] = 0.0
                glob.setdefault(k, np.zeros(n))
                glob[k] += z
                if channel_slopes:
                    cols.append(z); names.append(f"{c}|{k}"); grp.append(2)
                if k in self.missing_ind.get(c, []):
                    cols.append(miss.astype(float)); names.append(f"m|{c}|{k}"); grp.append(0)
        for k, z in glob.items():
            cols.append(z); names.append(f"g|{k}"); grp.append(1)
        X = np.column_stack(cols) if cols else np.zeros((n, 0))
        return X, names, np.array(grp)


def _solve(G, b, pen):
    A = G + np.diag(pen)
    try:
        return np.linalg.solve(A, b), np.linalg.inv(A)
    except np.linalg.LinAlgError:
        Ainv = np.linalg.pinv(A)
        return Ainv @ b, Ainv


class _DriversModel:
    """Weighted ridge of log wallet on the design; channel slopes shrunk toward pooled ones."""

    LAMBDAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0)

    def __init__(self, design: _Design, min_known: int = 3):
        self.design = design
        self.min_known = min_known

    def fit(self, channel, feats, y, w):
        ok = np.isfinite(y) & (w > 0)
        counts = pd.Series(channel[ok]).value_counts()
        self.channels_ = [c for c in self.design.channels if counts.get(c, 0) >= self.min_known]
        keep = ok & np.isin(channel, self.channels_)
        X, names, grp = self.design.matrix(channel[keep], _feats_sub(feats, keep))
        yk, wk = y[keep], w[keep]
        self.names_ = names
        if X.shape[1] == 0 or keep.sum() == 0:
            self.beta_ = np.zeros(0)
            return self
        G = X.T @ (X * wk[:, None])
        b = X.T @ (wk * yk)
        # shrinkage chosen by leave-one-out error (on a seeded sub-sample of 20k when larger)
        sub = np.arange(len(yk))
        if len(sub) > 20000:
            sub = np.sort(np.random.default_rng(0).choice(len(yk), 20000, replace=False))
        Xs, ys, ws = X[sub], yk[sub], wk[sub]
        Gs = G if len(sub) == len(yk) else Xs.T @ (Xs * ws[:, None])
        bs = b if len(sub) == len(yk) else Xs.T @ (ws * ys)
        best = (np.inf, self.LAMBDAS[0])
        for lam in self.LAMBDAS:
            pen = np.where(grp == 2, lam, np.where(grp == 1, 1e-3, 1e-6))
            beta, Ainv = _solve(Gs, bs, pen)
            h = np.sum((Xs @ Ainv) * Xs, axis=1) * ws  # leave-one-out leverage
            loo = (ys - Xs @ beta) / np.clip(1 - h, 1e-3, None)
            score = np.sum(ws * loo ** 2) / np.sum(ws)
            if score < best[0]:
                best = (score, lam)
        self.lambda_ = best[1]
        self.beta_ = _solve(G, b, np.where(grp == 2, self.lambda_, np.where(grp == 1, 1e-3, 1e-6)))[0]
        resid = yk - X @ self.beta_
        self.resid_var_ = float(np.sum(wk * resid ** 2) / np.sum(wk))
        return self

    def predict(self, channel, feats) -> np.ndarray:
        out = np.full(len(channel), np.nan)
        m = np.isin(channel, getattr(self, "channels_", []))
        if not m.any() or not len(self.beta_):
            return out
        X, names, _ = self.design.matrix(channel[m], _feats_sub(feats, m))
        coef = dict(zip(self.names_, self.beta_))
        out[m] = X @ np.array([coef.get(n, 0.0) for n in names])
        return out


def _feats_sub(feats: dict, mask: np.ndarray) -> dict:
    return {k: v[mask] for k, v in feats.items()}


# ----------------------------------------------------------------------------------------------
# look-alikes: high conditional quantile of our revenue (Perlich et al. 2007)
# ----------------------------------------------------------------------------------------------
def _quantreg(X, y, q, seed, max_rows=8000):
    from statsmodels.regression.quantile_regression import QuantReg

    rng = np.random.default_rng(seed)
    idx = np.arange(len(y)) if len(y) <= max_rows else np.sort(rng.choice(len(y), max_rows, replace=False))
    Xs, ys = X[idx], y[idx]
    keep = np.abs(Xs).sum(axis=0) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = QuantReg(ys, Xs[:, keep]).fit(q=q, max_iter=1000, p_tol=1e-5)
    beta = np.zeros(X.shape[1])
    beta[keep] = np.asarray(res.params)
    return beta


def _knn_quantiles(channel, Z, ref, y, qs, k, seed, query=None, max_ref=20000):
    """Per ``query`` row: quantiles ``qs`` of ``y`` over its ``k`` nearest reference rows of the
    same channel (itself excluded; at most ``max_ref`` seeded references per channel). ``Z``:
    standardised features (NaN = 0 = channel mean); a tiny seeded jitter breaks ties (integer
    drivers), which would otherwise defeat the KD-tree."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    Z = Z + 1e-4 * rng.standard_normal(Z.shape)
    out = np.full((len(channel), len(qs)), np.nan)
    query = np.ones(len(channel), bool) if query is None else query
    for c in pd.unique(channel[query]):
        m = np.flatnonzero((channel == c) & query)
        r = np.flatnonzero((channel == c) & ref)
        if len(r) > max_ref:
            r = np.sort(rng.choice(r, max_ref, replace=False))
        if len(r) < 5:
            continue
        kk = int(min(k, len(r) - 1))
        if Z.shape[1] == 0:
            out[m] = np.quantile(y[r], qs)
            continue
        nn = NearestNeighbors(n_neighbors=kk + 1).fit(Z[r])
        _, ind = nn.kneighbors(Z[m])
        nb = r[ind]  # (len(m), kk+1)
        is_self = nb == m[:, None]
        # drop self when present, else the farthest neighbour
        drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), kk)
        keep = np.ones_like(nb, bool)
        keep[np.arange(len(m)), drop] = False
        vals = y[nb[keep].reshape(len(m), kk)]
        out[m] = np.quantile(vals, qs, axis=1).T
    return out


class _Lookalike:
    def __init__(self, design: _Design, quantile: float, seed: int, k: int = 50, min_ref: int = 20):
        self.design, self.q, self.seed, self.k, self.min_ref = design, quantile, seed, k, min_ref

    def fit_predict(self, channel, feats, logrev, rows, query=None):
        """Log look-alike quantile (and its q-0.1 / q+0.1 spread) for ``query`` rows (default
        ``rows``); references are ``rows`` with positive revenue."""
        n = len(channel)
        query = rows if query is None else query
        ref = rows & np.isfinite(logrev)
        est = np.full(n, np.nan)
        lo, hi = np.full(n, np.nan), np.full(n, np.nan)
        if ref.sum() < 5:
            return est, lo, hi
        qs = [max(self.q - 0.10, 0.5), self.q, min(self.q + 0.10, 0.99)]
        counts = pd.Series(channel[ref]).value_counts()
        big = {c for c in self.design.channels if counts.get(c, 0) >= self.min_ref}
        # quantile regression: channel slopes only for channels with enough references
        X, names, grp = self.design.matrix(channel, feats, channel_slopes=True)
        chan_of = np.array([nm.split("|")[0] if g == 2 else "" for nm, g in zip(names, grp)])
        colkeep = (grp != 2) | np.isin(chan_of, list(big))
        X = X[:, colkeep]
        qr = np.full(n, np.nan)
        try:
            beta = _quantreg(X[ref], logrev[ref], self.q, self.seed)
            qr = X @ beta
        except Exception:  # pragma: no cover - numerical failure: kNN alone
            pass
        # kNN within channel on standardised features
        Zcols = []
        allk = sorted({k for c in self.design.channels for k in self.design.used.get(c, [])})
        for k in allk:
            z = np.zeros(n)
            for c in self.design.channels:
                if k in self.design.used.get(c, []):
                    m = channel == c
                    v = (feats[k][m] - self.design.center[(c, k)]) / self.design.scale[(c, k)]
                    z[m] = np.where(np.isfinite(v), v, 0.0)
            Zcols.append(z)
        Z = np.column_stack(Zcols) if Zcols else np.zeros((n, 0))
        kq = _knn_quantiles(channel, Z, ref, np.where(ref, logrev, np.nan), qs, self.k, self.seed, query)
        knn = kq[:, 1]
        est = np.where(np.isfinite(qr) & np.isfinite(knn), 0.5 * (qr + knn), np.where(np.isfinite(qr), qr, knn))
        est[~query] = np.nan
        lo = est + (kq[:, 0] - kq[:, 1])
        hi = est + (kq[:, 2] - kq[:, 1])
        return est, lo, hi


# ----------------------------------------------------------------------------------------------
# the estimator
# ----------------------------------------------------------------------------------------------
class WalletEstimator:
    """Estimate every client's wallet (own monthly purchases of our categories, all suppliers).

    Parameters
    ----------
    drivers : list of str, optional
        Client-card columns used as drivers; empty = the case's driver columns (:data:`kbanalysis.schema.DRIVER_COLUMNS`).
    quantile : float
        The look-alike quantile (Perlich et al.: the wallet is a high quantile of what similar
        clients buy from us).
    manager_bias : float
        Managers' typical underestimate (0.3 = estimates are 30 % low); 0 = learn it from clients
        with both a survey answer and a manager's estimate.
    driver_norms : dict
        ``{channel: {driver: monthly purchases per unit}}`` from the consultant. A key may be a
        product of drivers, ``"installations*avg_project_cost"``. Several drivers of one channel
        are averaged in logs (geometric mean of their estimates). Used for channels without
        enough known wallets to learn from (at least 3).
    seed : int
        Seed for the cross-validation folds, sub-samples and the look-alikes' tie-breaking.
    k : int
        Number of look-alikes (nearest neighbours) per client.
    n_folds : int
        Folds of the cross-validation that measures the errors.
    behaviour : bool
        Learn a behavioural model (own revenue, orders, months, breadth) for clients with no
        driver on the card.

    Attributes
    ----------
    estimates_ : DataFrame
        ``client_id, channel, revenue_month, wallet_month, wallet_low, wallet_high, wallet_source,
        w_survey, w_manager, w_drivers, w_lookalike`` (one row per client card; the ``w_*`` are
        each source's own estimate: ``w_manager`` corrected for the bias, ``w_drivers`` the drivers
        model or the norms, ``w_lookalike`` the calibrated look-alike quantile, or for clients
        without drivers the behavioural model). NaN wallet: nothing to go on (no sales, no
        drivers, no survey, no manager's estimate).
    errors_ : DataFrame
        One row per source (``survey, manager_raw, manager, drivers, behaviour, norms, lookalike,
        combined``, those present): ``n`` (clients it was checked on), ``median_abs_pct_error``,
        ``log_sd`` (robust sd of the out-of-fold log residuals, survey noise included),
        ``own_log_sd`` (survey noise removed), ``q10``, ``q90`` (residual quantiles),
        ``coverage`` (share of survey answers inside the source's 10-90 % residual band learnt
        on the other folds), ``bias`` (median source / survey - 1; ``manager_raw`` shows the
        managers' underestimate). ``combined`` = what clients without a survey answer get
        (manager + model source). The ``survey`` row holds the three-cornered-hat noise.
    manager_bias_ : float
        The underestimate used (learnt or given).
    manager_bias_source_ : str
        ``given``, ``learnt`` or ``assumed`` (0: nothing to learn it from).
    reference_ : str
        What the errors were measured against: ``survey``, ``manager`` or ``none``.
    survey_log_sd_, survey_log_sd_high_ : float
        The survey's own noise (log sd) by the three-cornered hat, and the upper end (90 %
        bootstrap quantile) used for the survey's weight and interval.
    own_log_var_ : dict
        The error variances (log scale) used as weights: ``s`` survey, ``m`` manager,
        ``d`` drivers model, ``b`` behavioural model, ``n`` norms, ``l`` look-alikes.
    interval_kind_ : dict
        Per combination of sources (``"md"`` = manager + drivers ...): ``empirical``, ``normal``
        or ``lookalike_spread``.
    models_ : dict
        The fitted ridge models (``drivers``, ``behaviour``) with ``lambda_`` and ``beta_``.
    channel_drivers_ : dict
        The drivers used in each channel.
    notes_ : list of str
        What the estimator learnt or had to fall back on, in plain English; :meth:`notes` gives
        them in Russian (``wallet.note.*`` texts).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 300
    >>> outlets = np.ceil(rng.lognormal(1, 0.8, n))
    >>> true = outlets * 100_000 * rng.lognormal(0, 0.3, n)
    >>> ids = [f"c{i}" for i in range(n)]
    >>> clients = pd.DataFrame({"client_id": ids, "channel": "retail", "outlets": outlets,
    ...                         "reported_turnover": np.where(np.arange(n) % 2 == 0, true * 0.7, np.nan)})
    >>> summary = pd.DataFrame({"client_id": ids, "revenue_12m": 12 * true * rng.uniform(0.001, 0.5, n),
    ...                         "orders": 10, "groups_12m": 3, "active_months_12m": 8})
    >>> survey = pd.DataFrame({"client_id": ids[:90], "product_group": "x", "total_purchases": true[:90]})
    >>> est = WalletEstimator(seed=1).fit(clients, summary, survey)
    >>> round(est.manager_bias_, 2)
    0.3
    >>> bool((est.estimates_["wallet_month"] >= summary["revenue_12m"] / 12 - 1e-6).all())
    True
    >>> float(est.errors_.set_index("source").loc["manager_raw", "bias"].round(2))  # managers 30 % low
    -0.3
    >>> set(est.estimates_["wallet_source"]) <= {"survey", "manager", "drivers", "lookalike", "combined"}
    True
    """

    def __init__(self, drivers=None, quantile: float = 0.85, manager_bias: float = 0.0, driver_norms=None,
                 seed: int = 42, k: int = 50, n_folds: int = 5, behaviour: bool = True):
        self.drivers = list(drivers or [])
        self.quantile = float(quantile)
        self.manager_bias = float(manager_bias or 0.0)
        self.driver_norms = dict(driver_norms or {})
        self.seed = int(seed)
        self.k = int(k)
        self.n_folds = int(n_folds)
        self.behaviour = bool(behaviour)

    @property
    def notes_(self) -> list[str]:
        """What the estimator had to fall back on, in plain English (see :meth:`notes`)."""
        return self.notes("en")

    def notes(self, lang: str = "ru") -> list[str]:
        """What the estimator learnt or had to fall back on, in plain words (``ru`` / ``en``)."""
        from kbanalysis.deliverables.i18n import fmt_pct, t

        out = []
        for key, kw in getattr(self, "note_keys_", []):
            kw = dict(kw)
            if "bias" in kw:
                kw["bias"] = fmt_pct(kw["bias"], lang, 0)
            if "q" in kw:
                kw["q"] = f"{100 * kw['q']:.0f}"
            out.append(t(key, lang, **kw))
        return out

    # -- inputs ----------------------------------------------------------------------------
    def _prepare(self, clients, summary, survey):
        cl = clients.drop_duplicates("client_id").reset_index(drop=True)
        ids = cl["client_id"].astype("string")
        self.drivers_ = driver_columns(cl, self.drivers)
        ch = (cl["channel"].astype("string").fillna("(none)") if "channel" in cl
              else pd.Series("(none)", index=cl.index, dtype="string"))
        channel = ch.to_numpy(dtype=object)
        s = (summary if summary is not None else pd.DataFrame(columns=["client_id"])).copy()
        s["client_id"] = s["client_id"].astype("string")
        s = s.drop_duplicates("client_id").set_index("client_id").reindex(ids.to_numpy())
        rev_m = np.clip(np.nan_to_num(_f(revenue_per_month(s)), nan=0.0), 0, None)  # no revenue: 0
        orders = _f(s["orders"]) if "orders" in s else np.full(len(cl), np.nan)
        months = _f(s["active_months_12m"]) if "active_months_12m" in s else np.full(len(cl), np.nan)
        groups = _f(s["groups_12m"]) if "groups_12m" in s else np.full(len(cl), np.nan)
        w_survey = np.full(len(cl), np.nan)
        if survey is not None and len(survey):
            sv = survey.copy()
            sv["client_id"] = sv["client_id"].astype("string")
            tp = pd.to_numeric(sv["total_purchases"], errors="coerce")
            tot = tp.where(tp > 0).groupby(sv["client_id"]).sum(min_count=1)
            w_survey = _f(tot.reindex(ids.to_numpy()))
            w_survey[~(w_survey > 0)] = np.nan
        rep = _f(cl["reported_turnover"]) if "reported_turnover" in cl else np.full(len(cl), np.nan)
        rep[~(rep > 0)] = np.nan
        # behaviour (look-alikes without drivers): how often and how broadly the client buys, never
        # how much (matched on revenue or order value, look-alikes buy what the client buys and
        # their high quantile degenerates to its own revenue); only clients that buy
        buys = rev_m > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            beh = {
                "b_orders": np.where(buys, np.log1p(np.nan_to_num(orders)), np.nan),
                "b_months": np.where(buys, np.log1p(np.nan_to_num(months)), np.nan),
                "b_groups": np.where(buys, np.log1p(np.nan_to_num(groups)), np.nan),
            }
        beh = {k: v for k, v in beh.items() if np.isfinite(v).sum() >= 5 and np.nanstd(v) > 1e-9}
        return cl, ids, channel, rev_m, w_survey, rep, beh

    def _norms_log(self, cl, channel) -> np.ndarray:
        """Log wallet from the consultant's norms (geometric mean over the channel's drivers)."""
        out = np.full(len(cl), np.nan)
        for c, norms in (self.driver_norms or {}).items():
            m = channel == c
            if not m.any() or not norms:
                continue
            logs = []
            for key, norm in norms.items():
                parts = [p.strip() for p in str(key).split("*")]
                if not all(p in cl.columns for p in parts) or not (float(norm) > 0):
                    continue
                v = np.ones(m.sum())
                for p in parts:
                    v = v * _f(cl.loc[m, p])
                with np.errstate(divide="ignore", invalid="ignore"):
                    logs.append(np.where(v > 0, np.log(v * float(norm)), np.nan))
            if logs:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out[m] = np.nanmean(np.column_stack(logs), axis=1)
        return out

    # -- fit -------------------------------------------------------------------------------
    def fit(self, clients: pd.DataFrame, summary: pd.DataFrame | None, survey: pd.DataFrame | None = None):
        """Estimate the wallets. ``clients``: canonical clients table; ``summary``:
        :func:`kbanalysis.sales.engine.client_summary`; ``survey``: canonical survey table or None."""
        from threadpoolctl import threadpool_limits

        # the matrices are small (tens of columns): BLAS threads only add overhead and contention
        with threadpool_limits(limits=1, user_api="blas"):
            self._fit(clients, summary, survey)
        self.estimates_ = extrapolate_top(self.estimates_)
        return self

    def _fit(self, clients, summary, survey):
        """The steps of the estimate, in order; each reads and adds arrays of the fit ``s`` (one per client)."""
        s = self._inputs(clients, summary, survey)
        self._features(s)  # 1. drivers, behaviour
        self._manager_bias(s)  # 2. the managers' underestimate
        self._lookalikes(s)  # 3. look-alikes (unsupervised)
        self._models(s)  # 4. supervised models, out of fold and on all known wallets
        self._measured_errors(s)  # 5. each source's out-of-fold error, the survey's noise
        self._combination(s)  # 6. inverse-variance combination
        self._intervals(s)  # 7. intervals
        self.errors_ = self._errors_table(s)  # 8. the errors table
        self._reference_notes(s)
        self.estimates_ = self._estimates(s)
        return self

    def _inputs(self, clients, summary, survey) -> SimpleNamespace:
        """The arrays every step reads: ids, integer channel codes, monthly revenue and its log, the
        survey's and the managers' wallets and their logs, the behaviour features."""
        cl, ids, channel_names, rev_m, w_survey, rep, beh = self._prepare(clients, summary, survey)
        codes, uniq = pd.factorize(pd.Series(channel_names, dtype=object))
        n = len(cl)
        buys = rev_m > 0
        self.note_keys_ = []  # (locale key, format kwargs): the notes in plain words, see notes()
        ls, lr = np.log(w_survey), np.log(rep)
        return SimpleNamespace(
            cl=cl, ids=ids, channel_names=channel_names, uniq=uniq, n=n, nan=np.full(n, np.nan),
            channel=codes.astype(np.int64),  # integer channel codes: fast comparisons at 100k clients
            rng=np.random.default_rng(self.seed), rev_m=rev_m, w_survey=w_survey, beh=beh, buys=buys,
            logrev=np.where(buys, np.log(np.where(buys, rev_m, 1.0)), np.nan), ls=ls, lr=lr,
            has_s=np.isfinite(ls), has_r=np.isfinite(lr))

    def _features(self, s) -> None:
        """Step 1, features: drivers (look-alikes, drivers model), behaviour (look-alikes without drivers),
        the client's own revenue and behaviour (model for clients without drivers)."""
        s.feats = _Design.features(s.cl, self.drivers_)
        s.design = _Design.build(s.channel, s.feats)
        s.has_drv = s.design.has_any(s.channel, s.feats) if s.feats else np.zeros(s.n, bool)
        s.beh_design = _Design.build(s.channel, s.beh) if s.beh else None
        s.has_beh = s.beh_design.has_any(s.channel, s.beh) if s.beh_design is not None else np.zeros(s.n, bool)
        beh_sup = {}
        if self.behaviour and s.buys.sum() >= 5:
            beh_sup = {"b_rev": s.logrev, **{k: s.beh[k] for k in ("b_orders", "b_months", "b_groups") if k in s.beh}}
        s.beh_sup = beh_sup
        s.beh_sup_design = _Design.build(s.channel, beh_sup) if beh_sup else None
        self.channel_drivers_ = {str(s.uniq[c]): [k.split(":", 1)[1] for k in s.design.used.get(c, [])
                                                  if k.startswith("L:")] for c in s.design.channels}
        if not any(self.channel_drivers_.values()):
            self.note_keys_.append(("wallet.note.no_drivers", {}))

    def _manager_bias(self, s) -> None:
        """Step 2, the managers' underestimate: given, learnt from clients with a survey answer and a
        manager's estimate (>= 5), else assumed 0."""
        s.both = s.has_s & s.has_r
        if self.manager_bias > 0:
            self.manager_bias_, self.manager_bias_source_ = self.manager_bias, "given"
        elif s.both.sum() >= 5:
            self.manager_bias_, self.manager_bias_source_ = _learnt_bias(s.lr, s.ls, s.both), "learnt"
        else:
            self.manager_bias_, self.manager_bias_source_ = 0.0, "assumed"
        self.manager_bias_ = float(min(self.manager_bias_, 0.95))
        if s.has_r.any():
            self.note_keys_.append((f"wallet.note.bias_{self.manager_bias_source_}",
                                    {"bias": self.manager_bias_, "n": int(s.both.sum())}))

    def _lookalikes(self, s) -> None:
        """Step 3, look-alikes (Perlich et al.): unsupervised, fitted once on all clients — on drivers,
        else on behaviour, else the channel's quantile; ``la_kind`` says which."""
        n, nan, channel, logrev, buys = s.n, s.nan, s.channel, s.logrev, s.buys
        qs = [max(self.quantile - 0.10, 0.5), self.quantile, min(self.quantile + 0.10, 0.99)]
        la, la_lo, la_hi = nan.copy(), nan.copy(), nan.copy()
        la_kind = np.full(n, "", dtype=object)
        if s.has_drv.any():
            e, lo_, hi_ = _Lookalike(s.design, self.quantile, self.seed, self.k).fit_predict(
                channel, s.feats, logrev, s.has_drv)
            la, la_lo, la_hi = e, lo_, hi_
            la_kind[np.isfinite(e)] = "drivers"
        rest = ~np.isfinite(la) & s.has_beh
        if rest.any():
            e, lo_, hi_ = _Lookalike(s.beh_design, self.quantile, self.seed, self.k).fit_predict(
                channel, s.beh, logrev, s.has_beh, query=rest)
            la[rest], la_lo[rest], la_hi[rest] = e[rest], lo_[rest], hi_[rest]
            la_kind[rest & np.isfinite(e)] = "behaviour"
        rest = ~np.isfinite(la) & buys
        if rest.any():
            # too few look-alikes to match on anything: the quantile of the channel's buyers (>= 5),
            # else of all buyers
            allq = np.quantile(logrev[buys], qs)
            for c in pd.unique(channel[rest]):
                m = channel == c
                qv = np.quantile(logrev[m & buys], qs) if (m & buys).sum() >= 5 else allq
                r = rest & m
                la_lo[r], la[r], la_hi[r] = qv
            la_kind[rest] = "channel"
            self.note_keys_.append(("wallet.note.channel_quantile", {"n": int(rest.sum()), "q": self.quantile}))
        s.la, s.la_lo, s.la_hi, s.la_kind = la, la_lo, la_hi, la_kind
        s.norms = self._norms_log(s.cl, s.channel_names)

    def _supervised(self, s, train, bias):
        """The supervised models fitted on the known wallets of ``train`` (the managers' corrected by
        ``bias``): the drivers model, the behaviour model for clients without drivers, and the look-alikes'
        log offset per kind of matching (per channel with >= 20 known wallets). Returns ``mod, off, models, y``."""
        nan, channel, has_drv, buys, la, la_kind = s.nan, s.channel, s.has_drv, s.buys, s.la, s.la_kind
        y = np.where(s.has_s, s.ls, s.lr - np.log1p(-bias))
        mod, models = nan.copy(), {}
        ok = train & np.isfinite(y) & has_drv
        if s.feats and ok.sum() >= 3:
            models["drivers"] = m_ = _DriversModel(s.design).fit(channel, s.feats, np.where(ok, y, np.nan),
                                                                 ok.astype(float))
            mod = np.where(has_drv, m_.predict(channel, s.feats), np.nan)
        # clients without drivers on the card: learnt from every known wallet of a buyer, on the
        # client's own purchases (revenue, orders, months, breadth) within its channel
        ok = train & np.isfinite(y) & buys
        if s.beh_sup_design is not None and ok.sum() >= 20 and (~has_drv & buys).any():
            models["behaviour"] = m_ = _DriversModel(s.beh_sup_design).fit(
                channel, s.beh_sup, np.where(ok, y, np.nan), ok.astype(float))
            mod = np.where(has_drv, mod, np.where(buys, m_.predict(channel, s.beh_sup), np.nan))
        # look-alike calibration per kind of matching: median log ratio known / look-alike,
        # per channel when it has >= 20 known wallets
        off = nan.copy()
        t = train & np.isfinite(y) & np.isfinite(la)
        if t.sum() >= 3:
            off[:] = np.median(y[t] - la[t])
            for kind in pd.unique(la_kind[la_kind != ""]):
                tk = t & (la_kind == kind)
                if tk.sum() < 3:
                    continue
                d = y[tk] - la[tk]
                off[la_kind == kind] = np.median(d)
                sd = pd.Series(d).groupby(channel[tk]).agg(["median", "size"])
                for c, row in sd.iterrows():
                    if row["size"] >= 20:
                        off[(channel == c) & (la_kind == kind)] = row["median"]
        return mod, off, models, y

    def _models(self, s) -> None:
        """Step 4, the supervised models and the look-alikes' scale: out of fold (``n_folds`` folds of the
        known wallets) for the errors, then on all known wallets for the estimates; each client's model
        source ``kind``: d = drivers model, b = behaviour model (no drivers on the card), n = consultant's
        norms, l = look-alikes."""
        nan, known = s.nan, s.has_s | s.has_r
        s.known, s.ref_is_survey = known, bool(s.has_s.sum() >= 5)
        mod_oof, la_oof, m_oof = nan.copy(), nan.copy(), nan.copy()
        folds = np.full(s.n, -1)
        kidx = np.flatnonzero(known)
        if len(kidx) >= 2 * self.n_folds:
            perm = s.rng.permutation(kidx)
            folds[perm] = np.arange(len(perm)) % self.n_folds
            for f in range(self.n_folds):
                test = folds == f
                train = known & ~test
                bias = (_learnt_bias(s.lr, s.ls, train & s.both) if self.manager_bias_source_ == "learnt"
                        else self.manager_bias_)
                mod, off, _, _ = self._supervised(s, train, bias)
                mod_oof[test] = mod[test]
                la_oof[test] = s.la[test] + off[test]
                m_oof[test] = s.lr[test] - np.log1p(-bias)
        mod_full, off_full, self.models_, s.y_known = self._supervised(s, known, self.manager_bias_)
        la_full = s.la + np.where(np.isfinite(off_full), off_full, 0.0)
        s.lm_full = s.lr - np.log1p(-self.manager_bias_)
        kind = np.select([np.isfinite(mod_full) & s.has_drv, np.isfinite(mod_full), np.isfinite(s.norms),
                          np.isfinite(la_full)], ["d", "b", "n", "l"], "").astype(object)
        pick = [np.isin(kind, ["d", "b"]), kind == "n", kind == "l"]
        s.model_log = np.select(pick, [mod_full, s.norms, la_full], np.nan)
        s.model_oof = np.select(pick, [mod_oof, s.norms, la_oof], np.nan)
        s.kind, s.folds, s.mod_full, s.la_full, s.la_oof, s.m_oof = kind, folds, mod_full, la_full, la_oof, m_oof

    def _measured_errors(self, s) -> None:
        """Step 5, measured errors: out-of-fold log residuals of each source against the reference (the
        survey, else the corrected managers), the survey's noise (three-cornered hat) and each source's own
        log variance (``own_log_var_``)."""
        if s.ref_is_survey:
            s.ref, s.chk = s.ls, s.has_s
        else:
            s.ref, s.chk = s.lm_full, s.has_r
        ref, chk, kind = s.ref, s.chk, s.kind
        res = {"m": np.where(chk, ref - s.m_oof, np.nan) if s.ref_is_survey else s.nan.copy()}
        for k in ("d", "b", "n", "l"):
            res[k] = np.where(chk & (kind == k), ref - s.model_oof, np.nan)
            if np.isfinite(res[k]).sum() < 20:  # too few on the reference: all known wallets
                alt = np.where(s.known & (kind == k), s.y_known - s.model_oof, np.nan)
                if np.isfinite(alt).sum() > np.isfinite(res[k]).sum():
                    res[k] = alt
        s.res = res
        s.s_var, s.s_var_hi, s.tri = self._survey_noise(s)
        own = {}
        for k, r in res.items():
            v = _robust_var(r) if np.isfinite(r).sum() >= 5 else np.nan
            # weights and intervals keep the survey's noise in the other sources' variances: the
            # hat is too imprecise to subtract (errors_ shows the difference as own_log_sd)
            own[k] = max(v, _MIN_LOG_VAR) if np.isfinite(v) else np.nan
        own["s"] = max(s.s_var_hi, SURVEY_MIN_LOG_SD ** 2)
        if not s.ref_is_survey and np.isfinite(own["d"]):
            # the managers are the reference: their own error cannot be told from the model's;
            # assumed to be an equal part of their disagreement
            own["m"] = own["d"] = max(own["d"] / 2.0, _MIN_LOG_VAR)
        self.own_log_var_ = {k: float(v) for k, v in own.items()}
        s.own = own

    def _survey_noise(self, s):
        """The survey's noise variance by the three-cornered hat (survey, manager, drivers model) and its
        upper end: with a few hundred clients the hat is imprecise, so the survey's own interval and weight
        use the 90 % bootstrap quantile of what the data allow. Returns ``var, var_high, rows used``."""
        s_var, s_var_hi, tri = 0.0, 0.0, np.isfinite(s.res["m"]) & np.isfinite(s.res["d"])
        if s.ref_is_survey and tri.sum() >= 20:
            a_, b_, c_ = s.res["m"][tri], s.res["d"][tri], (s.m_oof - s.model_oof)[tri]

            def hat(i):
                return (_trimmed_var(a_[i]) + _trimmed_var(b_[i]) - _trimmed_var(c_[i])) / 2.0

            s_var = max(hat(np.arange(len(a_))), 0.0)
            boot = [hat(s.rng.integers(0, len(a_), len(a_))) for _ in range(200)]
            s_var_hi = max(float(np.quantile(boot, 0.9)), s_var)
        self.survey_log_sd_ = float(np.sqrt(s_var)) if s.ref_is_survey else np.nan
        self.survey_log_sd_high_ = float(np.sqrt(s_var_hi)) if s.ref_is_survey else np.nan
        return s_var, s_var_hi, tri

    def _combination(self, s) -> None:
        """Step 6, combination on the log scale: inverse-variance weights of the survey, the corrected
        managers and the model; the ``wallet_source`` is the one with >= ``DOMINANT_WEIGHT`` of the weight,
        else "combined"; with nothing measured, precedence survey > manager > model."""
        n, own, kind = s.n, s.own, s.kind
        est = {"s": s.ls, "m": s.lm_full, "model": s.model_log}
        s.var_model = np.array([own.get(k, np.nan) if k else np.nan for k in kind], dtype=float)
        var = {"s": np.full(n, own["s"]), "m": np.full(n, own.get("m", np.nan)), "model": s.var_model}
        W = {}
        for k in est:
            ok = np.isfinite(est[k]) & np.isfinite(var[k])
            W[k] = np.where(ok, 1.0 / np.where(ok, var[k], 1.0), 0.0)
        wsum = W["s"] + W["m"] + W["model"]
        has_w = wsum > 0
        comb = np.where(has_w, sum(np.where(W[k] > 0, est[k], 0.0) * W[k] for k in W) / np.where(has_w, wsum, 1.0),
                        np.nan)
        s.comb_var = np.where(has_w, 1.0 / np.where(has_w, wsum, 1.0), np.nan)
        model_name = np.select([np.isin(kind, ["d", "n"]), np.isin(kind, ["b", "l"])], ["drivers", "lookalike"], "")
        source = np.full(n, "", dtype=object)
        for k, name in (("s", "survey"), ("m", "manager"), ("model", None)):
            dom = has_w & (W[k] >= DOMINANT_WEIGHT * wsum)
            source[dom] = model_name[dom] if name is None else name
        source[has_w & (source == "")] = "combined"
        for k, name in (("s", "survey"), ("m", "manager"), ("model", None)):  # nothing measured: precedence
            put = ~np.isfinite(comb) & np.isfinite(est[k])
            comb[put] = est[k][put]
            source[put] = model_name[put] if name is None else name
        s.W, s.comb, s.source = W, comb, source

    def _intervals(self, s) -> None:
        """Step 7, intervals: for each pattern of sources a client has, the same combination checked out of
        fold (``empirical``), else the normal approximation (``normal``), else the look-alikes' spread
        (``lookalike_spread``); conditioned on wallet >= revenue (``interval_kind_`` says which)."""
        W, kind, own, comb, chk, ref = s.W, s.kind, s.own, s.comb, s.chk, s.ref
        pat = (np.where(W["s"] > 0, "s", "").astype(object) + np.where(W["m"] > 0, "m", "")
               + np.where(W["model"] > 0, kind, ""))
        s.L = L = np.where(s.buys, s.logrev, -np.inf)
        lo, mid, hi = s.nan.copy(), s.nan.copy(), s.nan.copy()
        oof = {"m": s.m_oof, **{k: np.where(kind == k, s.model_oof, np.nan) for k in ("d", "b", "n", "l")}}
        self.interval_kind_ = {}
        for p in pd.unique(pat):
            rows = (pat == p) & np.isfinite(comb)
            if not rows.any():
                continue
            r = None
            parts = list(p)
            if p and "s" not in p and not (not s.ref_is_survey and "m" in p):
                ok = chk.copy()
                for q in parts:
                    ok &= np.isfinite(oof[q])
                if ok.sum() >= 20:
                    ws = [1.0 / own[q] for q in parts]
                    e = sum(oof[q][ok] * wq for q, wq in zip(parts, ws)) / sum(ws)
                    r = np.sort(ref[ok] - e)  # the reference's own noise included: slightly conservative
            if r is not None:
                self.interval_kind_[p] = "empirical"
                a, b, c_ = _truncated_quantiles(comb[rows], L[rows], r, np.ones(rows.sum()))
            elif p:
                self.interval_kind_[p] = "normal"
                unit = stats.norm.ppf((np.arange(400) + 0.5) / 400)
                a, b, c_ = _truncated_quantiles(comb[rows], L[rows], unit, np.sqrt(s.comb_var[rows]))
            else:
                # nothing measured: the spread of look-alikes around the estimate
                self.interval_kind_[p] = "lookalike_spread"
                d_lo = np.where(np.isfinite(s.la_lo - s.la), np.minimum(s.la_lo - s.la, 0.0), -np.log(2.0))[rows]
                d_hi = np.where(np.isfinite(s.la_hi - s.la), np.maximum(s.la_hi - s.la, 0.0), np.log(2.0))[rows]
                b = np.maximum(comb[rows], L[rows])
                a = np.maximum(comb[rows] + d_lo, L[rows])
                c_ = np.maximum(comb[rows] + d_hi, b)
            lo[rows], mid[rows], hi[rows] = a, b, c_
        s.lo, s.mid, s.hi = lo, mid, hi

    def _errors_table(self, s) -> pd.DataFrame:
        """Step 8, :attr:`errors_`: each source's out-of-fold error against the reference, and the
        combination without the survey (what clients without a survey answer get)."""
        chk, ref, own, res, folds = s.chk, s.ref, s.own, s.res, s.folds
        rows_err = []
        if s.ref_is_survey:
            rows_err.append({"source": "survey", "n": int(s.tri.sum()), "log_sd": self.survey_log_sd_,
                             "own_log_sd": float(np.sqrt(own["s"]))})
            rows_err.append(_error_row("manager_raw", np.where(chk, ref - s.lr, np.nan), s.s_var))
            rows_err.append(_error_row("manager", res["m"], s.s_var, _oof_coverage(res["m"], folds)))
        r_la = np.where(chk, ref - s.la_oof, np.nan)
        for name, r_ in (("drivers", res["d"]), ("behaviour", res["b"]), ("norms", res["n"]),
                         ("lookalike", r_la)):
            if np.isfinite(r_).any():
                rows_err.append(_error_row(name, r_, s.s_var, _oof_coverage(r_, folds)))
        wm = np.where(np.isfinite(s.m_oof) & s.ref_is_survey, 1.0 / own["m"], 0.0) if np.isfinite(
            own.get("m", np.nan)) else np.zeros(s.n)
        var_model = s.var_model
        wd = np.where(np.isfinite(s.model_oof) & np.isfinite(var_model), 1.0 / np.where(np.isfinite(var_model),
                                                                                      var_model, 1.0), 0.0)
        cw = wm + wd
        c_oof = np.where(cw > 0, (np.nan_to_num(s.m_oof) * wm + np.nan_to_num(s.model_oof) * wd) / np.where(
            cw > 0, cw, 1.0), np.nan)
        rows_err.append(_error_row("combined", np.where(chk, ref - np.maximum(c_oof, s.L), np.nan), s.s_var,
                                   _oof_coverage(np.where(chk, ref - c_oof, np.nan), folds)))
        errs = pd.DataFrame(rows_err)
        for c in ("n", "median_abs_pct_error", "log_sd", "own_log_sd", "q10", "q90", "coverage", "bias"):
            if c not in errs:
                errs[c] = np.nan
        errs["n"] = errs["n"].fillna(0).astype("int64")
        return errs[["source", "n", "median_abs_pct_error", "log_sd", "own_log_sd", "q10", "q90",
                     "coverage", "bias"]].reset_index(drop=True)

    def _reference_notes(self, s) -> None:
        """What the wallets were checked against (``reference_``) and the note when it is not a survey."""
        self.reference_ = "survey" if s.ref_is_survey else ("manager" if s.has_r.any() else "none")
        if not s.known.any():
            key = "wallet.note.no_known_norms" if np.isfinite(s.norms).any() else "wallet.note.no_known"
            self.note_keys_.append((key, {"q": self.quantile}))
        elif not s.ref_is_survey:
            self.note_keys_.append(("wallet.note.no_survey", {}))

    def _estimates(self, s) -> pd.DataFrame:
        """:attr:`estimates_` before :func:`~kbanalysis.wallet.top.extrapolate_top`: the wallet, its interval
        and source, and each source's estimate, per month."""
        def ex(x):
            return np.where(np.isfinite(x), np.exp(x), np.nan)

        kind = s.kind
        return pd.DataFrame({
            "client_id": pd.array(s.ids.to_numpy(), dtype="string"),
            "channel": pd.array(s.channel_names, dtype="string"),
            "revenue_month": s.rev_m,
            "wallet_month": ex(s.mid),
            "wallet_low": ex(s.lo),
            "wallet_high": ex(s.hi),
            "wallet_source": pd.array(np.where(s.source == "", None, s.source), dtype="string"),
            "w_survey": s.w_survey,
            "w_manager": ex(s.lm_full),
            "w_drivers": ex(np.where(kind == "d", s.mod_full, np.where(kind == "n", s.norms, np.nan))),
            "w_lookalike": ex(np.where(kind == "b", s.mod_full, s.la_full)),
        })


def _learnt_bias(lr: np.ndarray, ls: np.ndarray, mask: np.ndarray) -> float:
    """The managers' underestimate learnt on ``mask`` (>= 5 clients with both): ``1 - exp(median(log
    manager - log survey))``; 0 with fewer."""
    return float(1 - np.exp(np.median(lr[mask] - ls[mask]))) if mask.sum() >= 5 else 0.0


def _error_row(name: str, r_: np.ndarray, s_var: float, cov: float = np.nan) -> dict:
    """One row of :attr:`WalletEstimator.errors_` from the log residuals ``r_`` (reference - source)."""
    r_ = r_[np.isfinite(r_)]
    if not len(r_):
        return {"source": name, "n": 0}
    v = _robust_var(r_)
    return {"source": name, "n": int(len(r_)),
            "median_abs_pct_error": float(np.median(np.abs(np.exp(-r_) - 1))),
            "log_sd": float(np.sqrt(v)), "own_log_sd": float(np.sqrt(max(v - s_var, 0.0))),
            "q10": float(np.quantile(r_, 0.1)), "q90": float(np.quantile(r_, 0.9)),
            "coverage": cov, "bias": float(np.exp(-np.median(r_)) - 1)}


def _truncated_quantiles(mu, L, r_sorted, scale, qs=(0.1, 0.5, 0.9)):
    """Quantiles of ``mu + scale * r`` (r an empirical sample, sorted) conditional on being >= L."""
    n = len(r_sorted)
    pp = (np.arange(n) + 0.5) / n
    z = (L - mu) / scale
    F0 = np.interp(z, r_sorted, pp, left=0.0, right=1.0)
    F0 = np.where(np.isfinite(z), F0, 0.0)
    out = []
    for q in qs:
        p = F0 + q * (1 - F0)
        v = mu + scale * np.interp(p, pp, r_sorted)
        out.append(np.maximum(v, np.where(np.isfinite(L), L, -np.inf)))
    a, b, c = out
    return a, np.maximum(b, a), np.maximum(c, np.maximum(b, a))


def _oof_coverage(r, folds) -> float:
    """Share of residuals inside the 10-90 % quantiles of the other folds' residuals."""
    ok = np.isfinite(r) & (folds >= 0)
    if ok.sum() < 20:
        return np.nan
    hit = []
    for f in np.unique(folds[ok]):
        tr = ok & (folds != f)
        te = ok & (folds == f)
        if tr.sum() < 10 or not te.any():
            continue
        q10, q90 = np.quantile(r[tr], [0.1, 0.9])
        hit.append((r[te] >= q10) & (r[te] <= q90))
    return float(np.concatenate(hit).mean()) if hit else np.nan


# ----------------------------------------------------------------------------------------------
# wallet per product group: up-sale and cross-sale
# ----------------------------------------------------------------------------------------------
def channel_mix(client_groups: pd.DataFrame, wallets: pd.DataFrame, survey: pd.DataFrame | None = None,
                loyalty_high: float = 0.10, min_clients: int = 5) -> pd.DataFrame:
    """The typical category mix of each channel's wallet: ``channel, product_group, mix, mix_source``.

    Per channel, the first that has at least ``min_clients`` clients:

    1. ``well_served``: our revenue mix of well-served clients (share of wallet at least
       ``loyalty_high`` and at least the channel's median number of groups bought): where we
       are a main supplier across many groups, what the client buys from us mirrors its needs;
    2. ``survey``: the mean of the survey answers' group shares (clients tend to leave out
       their small groups, so it comes second);
    3. ``buyers``: our revenue mix of every client of the channel that buys;
    4. ``all``: our revenue mix over all clients.

    ``wallets`` needs ``client_id, channel, wallet_month``.

    >>> cg = pd.DataFrame({"client_id": ["a", "a", "b"], "product_group": ["x", "y", "x"],
    ...                    "revenue": [120.0, 120.0, 24.0]})
    >>> w = pd.DataFrame({"client_id": ["a", "b"], "channel": ["r", "r"], "wallet_month": [100.0, 1000.0]})
    >>> channel_mix(cg, w, min_clients=1)[["product_group", "mix", "mix_source"]].to_dict("list")
    {'product_group': ['x', 'y'], 'mix': [0.5, 0.5], 'mix_source': ['well_served', 'well_served']}
    """
    w = wallets[["client_id", "channel", "wallet_month"]].copy()
    w["client_id"] = w["client_id"].astype("string")
    cg = client_groups.copy()
    cg["client_id"] = cg["client_id"].astype("string")
    cg = cg.loc[cg["revenue"] > 0]
    tot = cg.groupby("client_id")["revenue"].transform("sum")
    cg["share"] = cg["revenue"] / tot
    cg["revenue_month"] = revenue_per_month(cg, "revenue").to_numpy()
    per = cg.groupby("client_id").agg(revenue_month=("revenue_month", "sum"),
                                      groups=("product_group", "nunique")).reset_index()
    per = per.merge(w, on="client_id", how="left")
    per["sow"] = per["revenue_month"] / per["wallet_month"]
    med = per.groupby("channel")["groups"].transform("median")
    per["well"] = (per["sow"] >= loyalty_high) & (per["groups"] >= med)
    cg = cg.merge(per[["client_id", "channel", "well"]], on="client_id", how="left")

    def mean_mix(long, key):
        """Mean over clients of each client's group shares (absent group = 0)."""
        nc = long.groupby(key)["client_id"].nunique().rename("nc")
        s = long.groupby([key, "product_group"])["share"].sum().rename("s").reset_index().merge(
            nc.reset_index(), on=key)
        s["mix"] = s["s"] / s["nc"]
        return s[[key, "product_group", "mix", "nc"]]

    cands = []
    if cg["well"].any():
        cands.append(("well_served", mean_mix(cg.loc[cg["well"].fillna(False)], "channel")))
    if survey is not None and len(survey):
        sv = survey[["client_id", "product_group", "total_purchases"]].copy()
        sv["client_id"] = sv["client_id"].astype("string")
        sv = sv.loc[pd.to_numeric(sv["total_purchases"], errors="coerce") > 0]
        sv["share"] = sv["total_purchases"] / sv.groupby("client_id")["total_purchases"].transform("sum")
        sv = sv.merge(w[["client_id", "channel"]], on="client_id", how="inner")
        if len(sv):
            cands.append(("survey", mean_mix(sv, "channel")))
    if len(cg):
        cands.append(("buyers", mean_mix(cg, "channel")))
    out = []
    done: set = set()
    chans = [c for c in pd.unique(w["channel"].dropna())]
    for name, m in cands:
        ok = m.loc[(m["nc"] >= min_clients) & ~m["channel"].isin(done)]
        if len(ok):
            out.append(ok.assign(mix_source=name))
            done |= set(ok["channel"])
    if len(cg):
        allmix = mean_mix(cg.assign(_all="all"), "_all")
        rest = [c for c in chans if c not in done]
        if rest:
            out.append(pd.concat([allmix.assign(channel=c) for c in rest]).assign(mix_source="all"))
    if not out:
        return pd.DataFrame({"channel": pd.Series(dtype="string"), "product_group": pd.Series(dtype="string"),
                             "mix": pd.Series(dtype="float64"), "mix_source": pd.Series(dtype="string")})
    res = pd.concat(out, ignore_index=True)[["channel", "product_group", "mix", "mix_source"]]
    res["mix"] = res["mix"] / res.groupby("channel")["mix"].transform("sum")
    return res.sort_values(["channel", "product_group"], ignore_index=True)


def _water_fill(codes: np.ndarray, mix: np.ndarray, our: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Split ``total`` (per code) over rows in proportion to ``mix`` with every row >= ``our``."""
    n_c = int(codes.max()) + 1 if len(codes) else 0
    sum_our = np.bincount(codes, our, n_c)
    tot = np.maximum(total, sum_our)
    fixed = np.zeros(len(codes), bool)
    alloc = our.copy()
    for _ in range(len(codes) + 1):
        rem = tot - np.bincount(codes, np.where(fixed, our, 0.0), n_c)
        free = np.bincount(codes, np.where(fixed, 0.0, mix), n_c)
        alloc = np.where(fixed, our, np.where(free[codes] > 0, mix * rem[codes] / np.where(free[codes] > 0,
                                                                                         free[codes], 1.0), 0.0))
        new = fixed | (alloc < our - 1e-12)
        if (new == fixed).all():
            break
        fixed = new
    # leftover when every row is fixed (or the free rows have no mix): spread over our purchases
    left = tot - np.bincount(codes, alloc, n_c)
    w_our = np.bincount(codes, our, n_c)
    cnt = np.bincount(codes, minlength=n_c)
    add = np.where(w_our[codes] > 0, left[codes] * our / np.where(w_our[codes] > 0, w_our[codes], 1.0),
                   left[codes] / cnt[codes])
    return alloc + np.where(left[codes] > 1e-9 * np.maximum(tot[codes], 1.0), add, 0.0)


def group_wallets(wallets: pd.DataFrame, client_groups: pd.DataFrame, survey: pd.DataFrame | None = None,
                  clients: pd.DataFrame | None = None, loyalty_high: float = 0.10, min_mix: float = 0.005,
                  min_clients: int = 5) -> pd.DataFrame:
    """The wallet of every client split over product groups, with up-sale and cross-sale room.

    The split follows the client's own survey answers when it answered, else its channel's
    typical mix (:func:`channel_mix` with ``min_clients``; groups below ``min_mix`` dropped).
    Every group's wallet is at least what the client buys from us in it (the rest of the wallet is
    re-spread over the other groups), and the groups add up to ``wallet_month``.

    Returns ``client_id, product_group, wallet_month, our_month, upsell_month, crosssell_month,
    mix_source``: ``upsell_month`` = group wallet - our monthly revenue in groups the client buys
    from us («допродажи»), ``crosssell_month`` = the whole group wallet in groups it does not
    buy from us («кросс-продажи»).

    >>> w = pd.DataFrame({"client_id": ["a"], "channel": ["r"], "wallet_month": [100.0]})
    >>> cg = pd.DataFrame({"client_id": ["a"], "product_group": ["x"], "revenue": [120.0]})
    >>> sv = pd.DataFrame({"client_id": ["a", "a"], "product_group": ["x", "y"], "total_purchases": [30.0, 90.0]})
    >>> group_wallets(w, cg, sv)[["product_group", "wallet_month", "our_month", "upsell_month", "crosssell_month"]]
      product_group  wallet_month  our_month  upsell_month  crosssell_month
    0             x          25.0       10.0          15.0              0.0
    1             y          75.0        0.0           0.0             75.0
    """
    if client_groups is None:  # no sales: every group wallet is cross-sale room
        client_groups = pd.DataFrame({"client_id": pd.Series(dtype="string"),
                                      "product_group": pd.Series(dtype="string"),
                                      "revenue": pd.Series(dtype="float64")})
    w = wallets.copy()
    w["client_id"] = w["client_id"].astype("string")
    if "channel" not in w:
        if clients is None:
            w["channel"] = "(none)"
        else:
            c = clients[["client_id", "channel"]].copy()
            c["client_id"] = c["client_id"].astype("string")
            w = w.merge(c.drop_duplicates("client_id"), on="client_id", how="left")
    w["channel"] = w["channel"].astype("string").fillna("(none)")
    w = w.loc[w["wallet_month"].notna() & (w["wallet_month"] > 0), ["client_id", "channel", "wallet_month"]]
    cg = client_groups.copy()
    cg["client_id"] = cg["client_id"].astype("string")
    cg["product_group"] = cg["product_group"].astype("string")
    cg["our_month"] = revenue_per_month(cg, "revenue").clip(lower=0.0).to_numpy()
    cg = cg.loc[cg["client_id"].isin(w["client_id"]), ["client_id", "product_group", "our_month"]]
    mixes = []
    answered = pd.Index([], dtype="string")
    if survey is not None and len(survey):
        sv = survey[["client_id", "product_group", "total_purchases"]].copy()
        sv["client_id"] = sv["client_id"].astype("string")
        sv["product_group"] = sv["product_group"].astype("string")
        sv = sv.loc[pd.to_numeric(sv["total_purchases"], errors="coerce") > 0]
        sv = sv.groupby(["client_id", "product_group"], as_index=False)["total_purchases"].sum()
        sv = sv.loc[sv["client_id"].isin(w["client_id"])]
        sv["mix"] = sv["total_purchases"] / sv.groupby("client_id")["total_purchases"].transform("sum")
        answered = pd.Index(sv["client_id"].unique())
        mixes.append(sv[["client_id", "product_group", "mix"]].assign(mix_source="survey"))
    cm = channel_mix(client_groups, w, survey, loyalty_high, min_clients)
    cm = cm.loc[cm["mix"] >= min_mix]
    cm = cm.assign(mix=cm["mix"] / cm.groupby("channel")["mix"].transform("sum"))
    rest = w.loc[~w["client_id"].isin(answered), ["client_id", "channel"]]
    if len(cm) and len(rest):
        mixes.append(rest.merge(cm, on="channel")[["client_id", "product_group", "mix"]]
                     .assign(mix_source="channel"))
    long = (pd.concat(mixes, ignore_index=True) if mixes else
            pd.DataFrame({"client_id": pd.Series(dtype="string"), "product_group": pd.Series(dtype="string"),
                          "mix": pd.Series(dtype="float64"), "mix_source": pd.Series(dtype="string")}))
    long = long.merge(cg, on=["client_id", "product_group"], how="outer")
    long["mix"] = long["mix"].fillna(0.0)
    long["our_month"] = long["our_month"].fillna(0.0)
    src = long.groupby("client_id")["mix_source"].transform("first")
    long["mix_source"] = src.fillna("own_sales").astype("string")
    long = long.merge(w[["client_id", "wallet_month"]].rename(columns={"wallet_month": "_total"}), on="client_id")
    long = long.sort_values(["client_id", "product_group"], ignore_index=True)
    codes, uniq = pd.factorize(long["client_id"])
    total = long.groupby(codes)["_total"].first().to_numpy()
    gw = _water_fill(codes, long["mix"].to_numpy(dtype=float), long["our_month"].to_numpy(dtype=float), total)
    buys = long["our_month"].to_numpy() > 0
    out = pd.DataFrame({
        "client_id": long["client_id"].astype("string"),
        "product_group": long["product_group"].astype("string"),
        "wallet_month": gw,
        "our_month": long["our_month"].to_numpy(dtype=float),
    })
    out["upsell_month"] = np.where(buys, np.maximum(gw - out["our_month"].to_numpy(), 0.0), 0.0)
    out["crosssell_month"] = np.where(buys, 0.0, gw)
    out["mix_source"] = long["mix_source"].to_numpy()
    keep = (out["wallet_month"] > 0) | (out["our_month"] > 0)
    return out.loc[keep].sort_values(["client_id", "product_group"], kind="mergesort", ignore_index=True)


# ----------------------------------------------------------------------------------------------
# individual plans
# ----------------------------------------------------------------------------------------------
def individual_plan(frame: pd.DataFrame, loyalty_low: float = 0.01, loyalty_high: float = 0.10,
                    step_indifferent: float = 0.03, step_secondary: float = 2.0, max_growth: float = 2.0,
                    main_growth: float = MAIN_GROWTH) -> pd.Series:
    """Monthly plan per client that moves it up the share ladder by a realistic step.

    ``frame`` needs ``wallet_month`` and ``revenue_month`` (our average monthly revenue over 12
    months); optional ``base`` (active / sleeping / lost / potential / closed), ``run_rate``
    (current monthly run rate, e.g. the last 3 months) and ``former_month`` (a lost client's
    monthly level while it was buying).

    * indifferent (share < ``loyalty_low``): target share ``step_indifferent`` (3 %);
    * secondary: share x ``step_secondary``, at most ``loyalty_high``;
    * main: keep the share and grow by ``main_growth`` (5 %), at most the whole wallet;
    * clients that buy: at most ``max_growth`` x current monthly revenue;
      clients without revenue (new, potential): the indifferent target, no cap;
    * active clients: never below the current run rate (``max(revenue_month, run_rate)``);
    * closed: 0;
    * lost: the reactivation target = the level it had while buying (``former_month``, else
      ``revenue_month``), at most its wallet; with neither, the indifferent target;
    * unknown wallet: the current run rate (NaN for clients without revenue).

    >>> f = pd.DataFrame({"wallet_month": [1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0],
    ...                   "revenue_month": [5.0, 1.0, 50.0, 80.0, 200.0, 0.0],
    ...                   "base": ["active", "active", "active", "active", "active", "potential"]})
    >>> individual_plan(f).round(6).tolist()
    [10.0, 2.0, 100.0, 100.0, 210.0, 30.0]
    """
    W = frame["wallet_month"].to_numpy(dtype=float)
    cur = np.clip(np.nan_to_num(frame["revenue_month"].to_numpy(dtype=float)), 0, None)
    base = (frame["base"].astype("string").fillna("") if "base" in frame
            else pd.Series("", index=frame.index, dtype="string")).to_numpy(dtype=object)
    run = np.nan_to_num(frame["run_rate"].to_numpy(dtype=float)) if "run_rate" in frame else cur
    former = (np.nan_to_num(frame["former_month"].to_numpy(dtype=float)) if "former_month" in frame
              else np.zeros(len(frame)))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(W > 0, cur / W, np.nan)
    target = np.where(share < loyalty_low, step_indifferent,
                      np.where(share < loyalty_high, np.minimum(share * step_secondary, loyalty_high),
                               np.minimum(share * (1 + main_growth), 1.0)))
    plan = target * W
    plan = np.where(cur > 0, np.minimum(plan, max_growth * cur), step_indifferent * W)
    plan = np.where((base == "active") & (cur > 0), np.maximum(plan, np.maximum(cur, run)), plan)
    unknown = ~(W > 0)
    plan = np.where(unknown, np.where(cur > 0, np.maximum(cur, run), np.nan), plan)
    lost_level = np.where(former > 0, former, cur)
    lost_plan = np.where(lost_level > 0, np.where(W > 0, np.minimum(lost_level, W), lost_level),
                         step_indifferent * W)
    plan = np.where(base == "lost", lost_plan, plan)
    plan = np.where(base == "closed", 0.0, plan)
    return pd.Series(plan, index=frame.index, name="plan_month")


def achievable(frame: pd.DataFrame, base: str = "base", plan: str = "plan_month",
               revenue: str = "revenue_month", run_rate: str = "run_rate") -> pd.Series:
    """The money a plan can win per month: what a person can defend, not the wallet's ceiling.

    * active and sleeping clients: the plan's uplift over current monthly sales,
      ``max(plan - max(revenue, run_rate), 0)`` (a client already running above its 12-month average
      gains nothing from a plan that only keeps that run rate); so never more than the wallet left;
    * lost clients: the whole plan (reactivation: they buy nothing now);
    * potential clients (never bought): the whole plan (acquisition);
    * closed cards: 0; an unknown plan: NaN.

    >>> f = pd.DataFrame({"base": ["active", "sleeping", "lost", "potential", "closed", "active"],
    ...                   "plan_month": [150.0, 80.0, 40.0, 30.0, 0.0, float("nan")],
    ...                   "revenue_month": [100.0, 90.0, 10.0, 0.0, 5.0, 7.0]})
    >>> achievable(f).tolist()
    [50.0, 0.0, 40.0, 30.0, 0.0, nan]
    >>> achievable(f.assign(run_rate=[120.0, 0, 0, 0, 0, 0])).tolist()[0]  # runs at 120 already: plan adds 30
    30.0
    """
    b = frame[base].astype("string").fillna("") if base in frame else pd.Series("", index=frame.index)
    pl = pd.to_numeric(frame[plan], errors="coerce").astype(float)
    cur = pd.to_numeric(frame[revenue], errors="coerce").astype(float).fillna(0.0).clip(lower=0.0)
    if run_rate in frame:
        cur = np.maximum(cur, pd.to_numeric(frame[run_rate], errors="coerce").astype(float).fillna(0.0))
    out = (pl - cur).clip(lower=0.0)
    out = out.where(~b.isin(["lost", "potential"]).to_numpy(dtype=bool), pl)
    out = out.where(~(b == "closed").to_numpy(dtype=bool), 0.0)
    return out.rename("achievable_month")


# ----------------------------------------------------------------------------------------------
# everything for notebook 02-turnover
# ----------------------------------------------------------------------------------------------
def wallet_frame(estimates: pd.DataFrame, summary: pd.DataFrame | None, base: pd.DataFrame | None, *,
                 loyalty_low: float = 0.01, loyalty_high: float = 0.10) -> pd.DataFrame:
    """The estimator's wallets (:attr:`WalletEstimator.estimates_`) with what the plans need beside them:
    ``share_of_wallet``, ``loyalty`` (bands ``loyalty_low``, ``loyalty_high``), the audit's ``base``,
    the current ``run_rate`` (last 3 months a month) and ``former_month`` (a lost client's monthly
    level while it was buying).

    ``summary`` is :func:`kbanalysis.sales.engine.client_summary`, ``base`` the audit's
    ``client_id, base`` (None: active with revenue, else potential).

    >>> e = pd.DataFrame({"client_id": ["a"], "wallet_month": [1000.0], "revenue_month": [100.0]})
    >>> s = pd.DataFrame({"client_id": ["a"], "revenue_12m": [1200.0], "revenue_last_3m": [600.0]})
    >>> wallet_frame(e, s, None)[["share_of_wallet", "loyalty", "base", "run_rate"]].to_dict("records")
    [{'share_of_wallet': 0.1, 'loyalty': 'main', 'base': 'active', 'run_rate': 200.0}]
    """
    e = estimates.copy()
    ids = e["client_id"]
    s = (summary.copy() if summary is not None else pd.DataFrame({"client_id": pd.Series(dtype="string")}))
    s["client_id"] = s["client_id"].astype("string")
    s = s.drop_duplicates("client_id").set_index("client_id").reindex(ids.to_numpy())
    rev12 = _f(s["revenue_12m"]) if "revenue_12m" in s else np.zeros(len(e))
    rev_m = _f(revenue_per_month(s))  # no revenue: NaN, a share of 0
    e["share_of_wallet"] = share_of_wallet(pd.Series(rev_m, index=e.index), e["wallet_month"]).to_numpy()
    e["loyalty"] = loyalty(e["share_of_wallet"], loyalty_low, loyalty_high).array
    if base is not None and len(base):
        b = base[["client_id", "base"]].copy()
        b["client_id"] = b["client_id"].astype("string")
        e = e.merge(b.drop_duplicates("client_id"), on="client_id", how="left")
    else:
        e["base"] = np.where(rev12 > 0, "active", "potential")
    e["base"] = e["base"].astype("string")
    e["run_rate"] = (_f(s["revenue_last_3m"]) / 3.0) if "revenue_last_3m" in s else np.nan
    e["former_month"] = _former_month(s, len(e))
    return e


def _former_month(s: pd.DataFrame, n: int) -> np.ndarray:
    """A client's average monthly revenue from its first to its last order month (NaN without sales)."""
    if not {"revenue_total", "first_date", "last_date"} <= set(s.columns):
        return np.full(n, np.nan)
    fd, ld = pd.to_datetime(s["first_date"]), pd.to_datetime(s["last_date"])
    months = ((ld.dt.year - fd.dt.year) * 12 + (ld.dt.month - fd.dt.month) + 1).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(months > 0, _f(s["revenue_total"]) / months, np.nan)


#: the columns of the wallet stage's per-client table, in this order
WALLET_COLUMNS = ["client_id", "wallet_month", "wallet_low", "wallet_high", "wallet_source", "share_of_wallet",
                  "loyalty", "upsell_month", "crosssell_month", "plan_month", "achievable_month", "channel", "base",
                  "revenue_month", "w_survey", "w_manager", "w_drivers", "w_lookalike"]


def worked_groups(per_group: pd.DataFrame, frame: pd.DataFrame, closed: str = "closed") -> pd.DataFrame:
    """:func:`group_wallets` without the room of cards nobody works: a ``closed`` card's up-sale and
    cross-sale are 0 (its wallet stays, as a fact about the client).

    >>> g = pd.DataFrame({"client_id": ["a", "b"], "upsell_month": [2.0, 5.0], "crosssell_month": [1.0, 4.0]})
    >>> f = pd.DataFrame({"client_id": ["a", "b"], "base": ["active", "closed"]})
    >>> worked_groups(g, f)[["upsell_month", "crosssell_month"]].to_numpy().tolist()
    [[2.0, 1.0], [0.0, 0.0]]
    """
    out = per_group.copy()
    shut = out["client_id"].isin(frame.loc[frame["base"] == closed, "client_id"]).to_numpy(dtype=bool)
    out.loc[shut, ["upsell_month", "crosssell_month"]] = 0.0
    return out


def client_potential(frame: pd.DataFrame, per_group: pd.DataFrame) -> pd.DataFrame:
    """Per client (:data:`WALLET_COLUMNS`, sorted by client_id): ``frame`` with its up-sale and cross-sale
    room, the sums over its product groups of :func:`group_wallets` (0 when it has a wallet but no
    room, NaN when its wallet is unknown).

    >>> f = pd.DataFrame({c: [np.nan] for c in WALLET_COLUMNS}).assign(client_id=["a"], wallet_month=[10.0])
    >>> g = pd.DataFrame({"client_id": ["a", "a"], "upsell_month": [2.0, 0.0], "crosssell_month": [0.0, 3.0]})
    >>> client_potential(f.drop(columns=["upsell_month", "crosssell_month"]), g)[["upsell_month", "crosssell_month"]]
       upsell_month  crosssell_month
    0           2.0              3.0
    """
    sums = per_group.groupby("client_id")[["upsell_month", "crosssell_month"]].sum()
    e = frame.merge(sums, left_on="client_id", right_index=True, how="left")
    has_w = e["wallet_month"].notna()
    for c in ("upsell_month", "crosssell_month"):
        e[c] = e[c].where(~has_w, e[c].fillna(0.0)).where(has_w)
    e["achievable_month"] = achievable(e).to_numpy()
    return e[WALLET_COLUMNS].sort_values("client_id", kind="mergesort", ignore_index=True)


def wallet_table(clients: pd.DataFrame, summary: pd.DataFrame | None, client_groups: pd.DataFrame | None,
                 survey: pd.DataFrame | None, base: pd.DataFrame | None, params: dict | None = None,
                 estimator: WalletEstimator | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wallet, share of wallet, loyalty, up-sale / cross-sale and plan for every client card.

    Parameters
    ----------
    clients, summary, client_groups, survey
        Canonical clients, :func:`kbanalysis.sales.engine.client_summary`,
        :func:`kbanalysis.sales.engine.client_groups` (12 months), canonical survey (or None).
    base : DataFrame or None
        ``client_id, base`` from the audit (active / sleeping / lost / potential / closed).
    params : dict
        Run parameters (:mod:`kbanalysis.run.params`); missing ones take their defaults.
    estimator : WalletEstimator, optional
        An already fitted estimator (to show its ``errors_`` in the notebook without fitting twice).

    Returns
    -------
    per_client : DataFrame
        ``client_id, wallet_month, wallet_low, wallet_high, wallet_source, share_of_wallet,
        loyalty, upsell_month, crosssell_month, plan_month, achievable_month`` (:func:`achievable`;
        closed cards carry no up- or cross-sale) then ``channel, base, revenue_month,
        w_survey, w_manager, w_drivers, w_lookalike``; one row per client card, sorted.
    per_group : DataFrame
        :func:`group_wallets`.

    Examples
    --------
    >>> clients = pd.DataFrame({"client_id": ["a", "b"], "channel": ["r", "r"],
    ...                         "reported_turnover": [1000.0, float("nan")]})
    >>> summary = pd.DataFrame({"client_id": ["a"], "revenue_12m": [1200.0], "orders": [5],
    ...                         "groups_12m": [1], "active_months_12m": [5]})
    >>> cg = pd.DataFrame({"client_id": ["a"], "product_group": ["x"], "revenue": [1200.0]})
    >>> pc, pg = wallet_table(clients, summary, cg, None, None, {"manager_bias": 0.2})
    >>> pc[["client_id", "wallet_month", "share_of_wallet", "loyalty", "wallet_source"]]
      client_id  wallet_month  share_of_wallet    loyalty wallet_source
    0         a        1250.0             0.08  secondary       manager
    1         b           NaN              NaN       <NA>          <NA>
    """
    p = {k: v for k, v in (params or {}).items() if v is not None}
    est = estimator
    if est is None:
        est = WalletEstimator(drivers=p.get("drivers"), **{a: p[n] for a, n in (
            ("quantile", "wallet_quantile"), ("manager_bias", "manager_bias"), ("driver_norms", "driver_norms"),
            ("seed", "seed")) if n in p}).fit(clients, summary, survey)
    bands = {k: p[k] for k in ("loyalty_low", "loyalty_high") if k in p}
    frame = wallet_frame(est.estimates_, summary, base, **bands)
    frame["plan_month"] = individual_plan(frame, **bands, **{a: p[n] for a, n in (
        ("step_indifferent", "plan_step_indifferent"), ("step_secondary", "plan_step_secondary"),
        ("max_growth", "plan_max_growth")) if n in p}).to_numpy()
    per_group = group_wallets(frame[["client_id", "channel", "wallet_month"]], client_groups, survey,
                              **{k: p[k] for k in ("loyalty_high",) if k in p})
    per_group = worked_groups(per_group, frame)
    return client_potential(frame, per_group), per_group
