"""Lost clients learnt from the case's own past: ``lost_probability`` and the backtest that chooses it.

The rhythm rule of :func:`kbanalysis.audit.structure.base_structure` says who is lost from fixed
thresholds. Here the case is cut earlier (``as_of − horizon_days``), every candidate ranking of
"will buy nothing in the next ``horizon_days``" is scored on who really came back by ``as_of``, and
the most precise one at the number of clients the rule called lost at that cut is chosen:

* ``rule`` — the rhythm rule itself (silence / ``lost_after_days``);
* ``recency`` — days silent;
* ``bgnbd`` — the BG/NBD probability of no order in the horizon (:class:`BetaGeo`);
* ``learnt`` — a logistic regression on the client's history (:func:`lost_features`) trained on
  that earlier cut (its precision measured out of sample, by cross-validation).

:class:`LostModel` fits all of this; its ``lost_probability`` is the chosen ranking calibrated on
the earlier cut into the probability that the client buys nothing in ``horizon_days``.
:func:`lost_call` then calls lost as many clients as the rule does — the most probably lost ones.

>>> import pandas as pd
>>> s = pd.DataFrame({"client_id": ["a", "b"], "first_date": pd.to_datetime(["2023-01-01", "2023-06-01"]),
...     "last_date": pd.to_datetime(["2023-12-01", "2023-06-01"]), "orders": [12, 1],
...     "median_gap_days": [30.0, float("nan")], "revenue_total": [1200.0, 50.0], "active_months_12m": [11, 1],
...     "revenue_last_3m": [300.0, 0.0]})
>>> lost_features(s, "2024-01-01")[["days_silent", "orders", "x", "T"]].round(1)
           days_silent  orders     x     T
client_id                                 
a                 31.0    12.0  11.0  52.1
b                214.0     1.0   0.0  30.6
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, gammaln

from kbanalysis.errors import UserError
from kbanalysis.sales.calendar import _as_ts

#: the candidate rankings, in the order that wins a tie (the rule keeps its call when nothing is better)
METHODS = ("rule", "recency", "bgnbd", "learnt")
#: fewest clients (with orders at the earlier cut) for a backtest; below it the rule stays
MIN_BACKTEST_CLIENTS = 50
_WEEK = 7.0


# ------------------------------------------------------------------------------------------
# BG/NBD
# ------------------------------------------------------------------------------------------
class BetaGeo:
    """BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "Counting your customers the easy way",
    Marketing Science 24(2), eq. 6 for the likelihood; P(no order in t) from eq. 11's terms).

    ``x`` repeat orders, ``tx`` time of the last order since the first, ``T`` time from the first
    order to the cut (any one unit, e.g. weeks). Fitted by maximum likelihood (Nelder–Mead on the
    logs of ``r, alpha, a, b``) with a small L2 penalty on the parameters, as lifetimes does; written
    here because lifetimes is unmaintained and does not converge on real bases.

    >>> bg = BetaGeo().fit([0, 5, 10, 1], [0.0, 20.0, 40.0, 2.0], [50.0, 45.0, 42.0, 30.0])
    >>> p = bg.p_none([10, 10], [40.0, 5.0], [42.0, 42.0], 10.0)
    >>> bool(p[0] < p[1])   # ten orders, the last recent: less likely to stay away
    True
    """

    def __init__(self):
        pass

    def fit(self, x, tx, T, penalizer: float = 1e-3) -> "BetaGeo":
        x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
        if not (len(x) == len(tx) == len(T)) or len(x) == 0:
            raise UserError("BG/NBD: x, tx and T must be non-empty and of one length")
        if not (np.isfinite(x).all() and np.isfinite(tx).all() and np.isfinite(T).all()) or (x < 0).any() \
                or (tx < 0).any() or (T < tx).any():
            raise UserError("BG/NBD: x, tx, T must be finite with 0 <= tx <= T and x >= 0")

        def nll(p):
            r, al, a, b = np.exp(p)
            a1 = gammaln(r + x) - gammaln(r) + r * np.log(al)
            a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
            a3 = -(r + x) * np.log(al + T)
            with np.errstate(divide="ignore", invalid="ignore"):
                a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(al + tx),
                              -np.inf)
            return -(a1 + a2 + np.logaddexp(a3, a4)).mean() + penalizer * np.sum(np.exp(p) ** 2)

        start = np.log([1.0, max(float(T.mean()), 1.0), 1.0, 1.0])
        res = minimize(nll, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10})
        self.params_ = dict(zip(("r", "alpha", "a", "b"), np.exp(res.x)))
        self.converged_ = bool(res.success)
        return self

    def p_alive(self, x, tx, T) -> np.ndarray:
        """Probability that the client is still active at ``T``."""
        r, al, a, b = (self.params_[k] for k in ("r", "alpha", "a", "b"))
        x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * ((al + T) / (al + tx)) ** (r + x), 0.0)
        return 1.0 / (1.0 + d)

    def p_none(self, x, tx, T, t) -> np.ndarray:
        """Probability of no order in the next ``t`` (same unit as ``T``)."""
        r, al = self.params_["r"], self.params_["alpha"]
        x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
        alive = self.p_alive(x, tx, T)
        return (1.0 - alive) + alive * ((al + T) / (al + T + t)) ** (r + x)


# ------------------------------------------------------------------------------------------
# features of a client's history at a cut
# ------------------------------------------------------------------------------------------
def lost_features(summary: pd.DataFrame, cut, *, id_col: str = "client_id") -> pd.DataFrame:
    """Per client with an order before ``cut``: its history in the terms the candidates use.

    ``summary`` is :func:`kbanalysis.sales.engine.client_summary` at ``cut``. Columns (index
    client_id): ``days_silent`` (cut − last order), ``tenure_days`` (cut − first line), ``orders``,
    ``median_gap_days``, ``avg_order`` (revenue / orders), ``active_months_12m``, ``bought_3m`` (any
    revenue in the last 3 months), and for BG/NBD in weeks ``x`` (orders − 1), ``tx`` (last − first),
    ``T`` (cut − first). See the module example.
    """
    cut = _as_ts(cut)
    s = summary.loc[pd.to_numeric(summary["orders"], errors="coerce").fillna(0) > 0]
    s = s.drop_duplicates(id_col).set_index(s[id_col].astype(str).rename(id_col))
    last, first = pd.to_datetime(s["last_date"]), pd.to_datetime(s["first_date"])
    first = first.where(first <= last, last)
    n = s["orders"].to_numpy(dtype=float)

    def col(name):
        return s[name].fillna(0.0).to_numpy(dtype=float) if name in s else np.zeros(len(s))

    f = pd.DataFrame({
        "days_silent": (cut - last).dt.days.to_numpy(dtype=float),
        "tenure_days": (cut - first).dt.days.to_numpy(dtype=float), "orders": n,
        "median_gap_days": s["median_gap_days"].to_numpy(dtype=float),
        "avg_order": col("revenue_total") / np.maximum(n, 1), "active_months_12m": col("active_months_12m"),
        "bought_3m": (col("revenue_last_3m") > 0).astype(float)}, index=s.index)
    f["x"] = n - 1
    f["tx"] = (last - first).dt.days.to_numpy(dtype=float) / _WEEK
    f["T"] = f["tenure_days"] / _WEEK
    return f


def _design(f: pd.DataFrame, bg_logit: np.ndarray) -> np.ndarray:
    """The learnt model's inputs: logs of recency, tenure, orders, order size, silence in own gaps,
    yearly rate, active months, one-order flag, BG/NBD log-odds."""
    rec, ten, n = f["days_silent"].to_numpy(), f["tenure_days"].to_numpy(), f["orders"].to_numpy()
    span = np.maximum(ten - rec, 0.0)
    gap = f["median_gap_days"].fillna(f["tenure_days"]).to_numpy()
    return np.column_stack([
        np.log1p(rec), np.log1p(ten), np.log(n), np.log1p(np.maximum(f["avg_order"].to_numpy(), 0.0)),
        np.log1p(rec / np.maximum(gap, 1.0)), np.log1p((n - 1) / np.maximum(span, 1.0) * 365.0),
        np.log1p(f["active_months_12m"].to_numpy()), f["bought_3m"].to_numpy(), (n == 1).astype(float),
        np.log1p(rec) * np.log(n), bg_logit])


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def precision_at(score, lost, k: int) -> float:
    """Share really lost among the ``k`` highest scores (ties: the first in order).

    >>> precision_at([0.9, 0.1, 0.8, 0.3], [True, False, False, True], 2)
    0.5
    """
    score, lost = np.asarray(score, dtype=float), np.asarray(lost, dtype=bool)
    if k <= 0 or len(score) == 0:
        return float("nan")
    return float(lost[np.argsort(-score, kind="stable")[:k]].mean())


def _auc(score, lost) -> float:
    from sklearn.metrics import roc_auc_score

    lost = np.asarray(lost, dtype=bool)
    return float(roc_auc_score(lost, score)) if 0 < lost.sum() < len(lost) else float("nan")


# ------------------------------------------------------------------------------------------
# the model chosen on the case's own past
# ------------------------------------------------------------------------------------------
class LostModel:
    """Probability that a client buys nothing in the next ``horizon_days``, chosen by a backtest on the case's past.

    :meth:`fit` takes the sales ``lines`` (a DataFrame or the on-disk sales), the analysis date and
    ``base`` (:func:`kbanalysis.audit.structure.base_structure` at ``as_of``, whose rule parameters
    ``rule`` repeats). It cuts the history at ``as_of − horizon`` (``horizon_days``, at most half
    the history), computes every candidate of :data:`METHODS` at that cut, and scores them on who
    bought nothing from the cut to ``as_of``: precision and recall at ``k`` — the same share of
    the clients at the cut as the rule calls lost at ``as_of`` (at the cut itself the rule's
    thresholds see a shorter history) — and ranking AUC (``backtest_``). The most precise
    one is ``method_`` (ties: the earlier in :data:`METHODS`). Its score is calibrated into a
    probability on the cut (a one-variable logistic regression) and applied at ``as_of``:
    ``lost_probability_`` (client_id → probability; only clients with orders). ``past_`` keeps, per
    client at the cut, the calibrated probability (the learnt one out of fold) and ``came_back``.

    With fewer than :data:`MIN_BACKTEST_CLIENTS` clients at the cut, a horizon under 30 days or
    an outcome the same for everyone, there is no backtest: ``method_`` is ``rule`` and the
    probability is BG/NBD's, uncalibrated (``backtest_`` empty).

    ``summary`` is :func:`kbanalysis.sales.engine.client_summary` of ``lines`` at ``as_of`` when the
    caller has it (notebook 01 does): it is not aggregated again. ``past_summary_`` keeps the one at
    the cut for :func:`reactivation_backtest`.

    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> rows = [(f"c{i}", pd.Timestamp("2022-01-03") + pd.Timedelta(days=int(d)))
    ...         for i in range(200) for d in np.cumsum(rng.integers(5, 60, 30)) if d < 700 - 3 * i]
    >>> lines = pd.DataFrame(rows, columns=["client_id", "date"]).assign(product_group="x", amount=10.0)
    >>> from kbanalysis.sales.engine import client_summary
    >>> from kbanalysis.audit.structure import base_structure
    >>> s = client_summary(lines, "2024-01-01")
    >>> b = base_structure(pd.DataFrame({"client_id": s["client_id"]}), s, "2024-01-01")
    >>> m = LostModel().fit(lines, "2024-01-01", b, horizon_days=120)
    >>> m.method_ in METHODS, m.backtest_["method"].tolist() == list(METHODS)
    (True, True)
    >>> bool(m.lost_probability_.between(0, 1).all())
    True
    """

    def __init__(self):
        pass

    def fit(self, lines, as_of, base: pd.DataFrame, *, horizon_days: int = 120, seed: int = 42,
            rule: dict | None = None, summary: pd.DataFrame | None = None) -> "LostModel":
        from kbanalysis.audit.structure import base_structure
        from kbanalysis.sales.engine import client_summary

        as_of, rule = _as_ts(as_of), dict(rule or {})
        for c in ("client_id", "days_silent", "lost_after_days"):
            if c not in base:
                raise UserError(f"lost model: the base table has no column '{c}' (base_structure's output)")
        if int(horizon_days) < 1:
            raise UserError(f"lost model: horizon_days must be positive, got {horizon_days}")
        now = client_summary(lines, as_of) if summary is None else summary
        self.seed_, self.rule_ = int(seed), rule
        self.horizon_days_ = self._horizon(now, as_of, int(horizon_days))
        self.cut_ = as_of - pd.Timedelta(days=self.horizon_days_)
        self.backtest_ = pd.DataFrame(columns=["method", "k", "precision", "recall", "auc", "clients", "lost"])
        self.method_, self.calibration_, self.learnt_ = "rule", None, None
        self.past_ = pd.DataFrame({"lost_probability": [], "came_back": []})
        fn = lost_features(now, as_of)
        after = base.set_index(base["client_id"].astype(str))["lost_after_days"].reindex(fn.index)
        past = client_summary(lines, self.cut_) if self.horizon_days_ >= 30 else now.iloc[:0]
        self.past_summary_ = past
        f = lost_features(past, self.cut_) if len(past) else None
        if f is not None and len(f) >= MIN_BACKTEST_CLIENTS:
            came = now.set_index(now["client_id"].astype(str))["last_date"].reindex(f.index)
            y = ~(pd.to_datetime(came) >= self.cut_).to_numpy()
            if 0 < y.sum() < len(y):
                pb = base_structure(pd.DataFrame({"client_id": f.index}), past, self.cut_, **rule)
                self._choose(f, y, pb.set_index(pb["client_id"].astype(str))["lost_after_days"].reindex(f.index),
                             self._share_called(base, fn))
        self.lost_probability_ = pd.Series(self._probability(fn, after), index=fn.index, name="lost_probability")
        return self

    @staticmethod
    def _share_called(base: pd.DataFrame, fn: pd.DataFrame) -> float:
        """Share of the clients with orders that the rule calls lost at ``as_of`` (silent beyond its threshold)."""
        b = base.set_index(base["client_id"].astype(str)).reindex(fn.index)
        return float((b["days_silent"] > b["lost_after_days"]).mean()) if len(b) else 0.0

    @staticmethod
    def _horizon(now: pd.DataFrame, as_of, horizon_days: int) -> int:
        """``horizon_days``, at most half the days from the first line to ``as_of`` (the cut keeps some history)."""
        if not len(now):
            return 0
        span = (as_of - pd.to_datetime(now["first_date"]).min()).days
        return int(min(horizon_days, span // 2))

    def _scores(self, f: pd.DataFrame, after: pd.Series, bg: BetaGeo) -> dict:
        """Every candidate's score at a cut (higher = more likely lost), on a scale fit for a logistic calibration."""
        p0 = bg.p_none(f["x"], f["tx"], f["T"], self.horizon_days_ / _WEEK)
        ratio = f["days_silent"].to_numpy() / np.maximum(after.fillna(np.inf).to_numpy(dtype=float), 1.0)
        return {"rule": np.log(np.maximum(ratio, 1e-6)), "recency": np.log1p(f["days_silent"].to_numpy()),
                "bgnbd": _logit(p0)}

    def _choose(self, f: pd.DataFrame, y: np.ndarray, after: pd.Series, share: float) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        bg = BetaGeo().fit(f["x"], f["tx"], f["T"])
        scores = self._scores(f, after, bg)
        X = _design(f, scores["bgnbd"])
        lr = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=self.seed_)
        scores["learnt"] = cross_val_predict(lr, X, y, cv=folds, method="decision_function")
        k = max(int(round(share * len(f))), 1)
        rows = []
        for m in METHODS:
            prec = precision_at(scores[m], y, k)
            rows.append({"method": m, "k": k, "precision": prec,
                         "recall": prec * k / max(int(y.sum()), 1) if k else float("nan"),
                         "auc": _auc(scores[m], y), "clients": len(y), "lost": int(y.sum())})
        self.backtest_ = pd.DataFrame(rows)
        best = self.backtest_["precision"].fillna(-1.0)
        self.method_ = METHODS[int(np.flatnonzero(best.to_numpy() >= best.max() - 1e-12)[0])]
        if self.method_ == "learnt":
            self.learnt_ = lr.fit(X, y)
        c = self.calibration_ = LogisticRegression(C=1e4, max_iter=2000).fit(scores[self.method_].reshape(-1, 1), y)
        self.past_ = pd.DataFrame({"lost_probability": expit(c.intercept_[0] + c.coef_[0, 0] * scores[self.method_]),
                                   "came_back": ~y}, index=f.index)

    def _probability(self, f: pd.DataFrame, after: pd.Series) -> np.ndarray:
        """The chosen score at ``as_of`` through the calibration; BG/NBD's own probability without a backtest."""
        if not len(f):
            return np.zeros(0)
        bg = BetaGeo().fit(f["x"], f["tx"], f["T"])
        self.bgnbd_ = bg
        if self.calibration_ is None:
            return bg.p_none(f["x"], f["tx"], f["T"], max(self.horizon_days_, 1) / _WEEK)
        scores = self._scores(f, after, bg)
        if self.method_ == "learnt":
            scores["learnt"] = self.learnt_.decision_function(_design(f, scores["bgnbd"]))
        c = self.calibration_
        return expit(c.intercept_[0] + c.coef_[0, 0] * scores[self.method_])


def lost_call(base: pd.DataFrame, lost_probability: pd.Series, method: str = "rule") -> pd.DataFrame:
    """``base`` with ``lost_probability`` and, unless ``method`` is ``rule``, the lost call made by that probability.

    The rule decides how many buying clients are lost (those with ``base_reason`` ``silent`` among
    ``lost``); the probability decides which: the same number with the highest ``lost_probability``
    (ties: longer silent first). A client the probability calls lost that the rule did not gets
    ``base_reason`` ``lost_model``; a client the rule called lost that the probability does not is
    ``sleeping`` with ``base_reason`` ``rule_only`` (silent beyond the rule's threshold: it stays a
    candidate of the reactivation list, ranked by its probability). Closed cards, cards without orders and
    returns-only cards keep their base.

    >>> b = pd.DataFrame({"client_id": ["a", "b", "c"], "base": ["lost", "active", "sleeping"],
    ...                   "base_reason": ["silent", "rhythm", "silent"], "days_silent": [100.0, 20.0, 60.0]})
    >>> lost_call(b, pd.Series({"a": 0.4, "b": 0.1, "c": 0.7}), "bgnbd")[["client_id", "base", "base_reason"]]
      client_id      base base_reason
    0         a  sleeping   rule_only
    1         b    active      rhythm
    2         c      lost  lost_model
    """
    out = base.copy()
    ids = out["client_id"].astype(str)
    out["lost_probability"] = pd.Series(lost_probability, dtype=float).reindex(ids.to_numpy()).to_numpy()
    if method == "rule":
        return out
    reason, b = out["base_reason"].astype(str), out["base"].astype(str)
    rule_lost = (b == "lost") & (reason == "silent")
    pool = (b.isin(["active", "sleeping"]) | rule_lost) & out["lost_probability"].notna()
    k = int(rule_lost.sum())
    order = out.loc[pool].sort_values(["lost_probability", "days_silent"], ascending=False, kind="mergesort").index
    new = pd.Series(False, index=out.index)
    new.loc[order[:k]] = True
    gained, dropped = new & ~rule_lost, rule_lost & ~new
    out["base"] = out["base"].astype("string").mask(gained, "lost").mask(dropped, "sleeping")
    out["base_reason"] = out["base_reason"].astype("string").mask(gained, "lost_model").mask(dropped, "rule_only")
    return out


def fit_lost_model(lines, as_of, base: pd.DataFrame, *, horizon_days: int = 120, seed: int = 42,
                   summary: pd.DataFrame | None = None, **rule) -> LostModel:
    """:class:`LostModel` fitted on ``lines`` at ``as_of`` (``rule``: the thresholds ``base`` was made with).

    ``summary``: the client summary at ``as_of`` when the caller has it. The facade of notebook 01:
    ``kb.audit.lost_call(base, m.lost_probability_, m.method_)`` applies it.
    """
    return LostModel().fit(lines, as_of, base, horizon_days=horizon_days, seed=seed, rule=rule, summary=summary)


def reactivation_backtest(lines, model: LostModel, *, min_months: int = 4, window_months: int = 6) -> pd.DataFrame:
    """The reactivation list as the workbook would have made it at the model's cut, against who came back
    by ``as_of`` without being called (the data hold no calls: every return was unprompted).

    Rows ``list`` — ``reactivation_list`` (:func:`kbanalysis.audit.structure.lost_regular_clients` at
    the cut with ``min_months``, ``window_months`` and the model's ``lost_probability``), ``first_10``
    (its first 10), ``called_lost`` (every client the rule called lost) — with ``clients``, ``came_back`` and ``came_back_share``.
    Empty without a backtest (``model.past_`` empty).
    """
    from kbanalysis.audit.structure import base_structure, lost_regular_clients
    from kbanalysis.sales.engine import client_months

    cols = ["list", "clients", "came_back", "came_back_share"]
    if model.past_.empty:
        return pd.DataFrame(columns=cols)
    cut, past = model.cut_, model.past_
    b = base_structure(pd.DataFrame({"client_id": past.index}), model.past_summary_, cut, **model.rule_)
    b = lost_call(b, past["lost_probability"], model.method_)
    ranked = lost_regular_clients(client_months(lines, cut), b, min_months=min_months, window_months=window_months)
    back = past["came_back"].astype(bool)
    rows = []
    for name, ids in (("reactivation_list", ranked["client_id"]), ("first_10", ranked["client_id"].head(10)),
                      ("called_lost", b.loc[b["base"] == "lost", "client_id"])):
        got = back.reindex(pd.Index(ids.astype(str))).fillna(False).astype(bool)
        rows.append({"list": name, "clients": len(got), "came_back": int(got.sum()),
                     "came_back_share": float(got.mean()) if len(got) else float("nan")})
    return pd.DataFrame(rows, columns=cols)
