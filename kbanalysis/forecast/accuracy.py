"""How accurate the reconciled forecast was on the case's own past, beside plain statistical peers.

The reconciled forecast's backtest (:func:`kbanalysis.forecast.core.with_reconciled_backtest`, source
``reconciled``: forecasts made from past origins with only what was known then, against all sales of the
month) is set beside statsforecast's Naive (the last month repeated), SeasonalNaive (the same month last
year, from 24 months of history) and AutoETS forecasting the same monthly totals of all sales from the same
origins (``cross_validation``). Only the (origin, step) points that every method has are compared, so
the figures are like for like.

``MAPE`` = mean |forecast − actual| / actual over the points; ``WAPE`` = Σ |forecast − actual| / Σ actual.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from kbanalysis.forecast.candidates import backtest_series

#: the peers the reconciled forecast is compared with (statsforecast's model names)
PEERS = ("Naive", "SeasonalNaive", "AutoETS")

_COLUMNS = ["method", "mape", "wape", "n", "months"]


def peer_backtest(series: pd.DataFrame, horizon: int, n_origins: int = 12, *, peers=PEERS) -> pd.DataFrame:
    """Rolling-origin backtest of the ``peers`` on the monthly total of all sales (``revenue`` of
    :func:`~kbanalysis.forecast.model.split_group_months`): ``method, origin, step, month, forecast, actual``.

    >>> m = pd.date_range("2021-01-01", periods=30, freq="MS")
    >>> s = pd.DataFrame({"product_group": "x", "month": m, "revenue": 100.0})
    >>> b = peer_backtest(s, 2)
    >>> sorted(b["method"].unique()), float(b.loc[b["method"] == "Naive", "forecast"].iloc[0])
    (['AutoETS', 'Naive', 'SeasonalNaive'], 100.0)
    """
    cols = ["method", "origin", "step", "month", "forecast", "actual"]
    if not len(series):
        return pd.DataFrame(columns=cols)
    tot = series.groupby("month")["revenue"].sum().sort_index()
    _, b = backtest_series(np.round(tot.to_numpy(dtype="float64"), 2), tot.index, int(horizon), n_origins)
    b = b.loc[b["model"].isin(list(peers))].rename(columns={"model": "method"})
    return b[cols].reset_index(drop=True)


def _errors(x: pd.DataFrame) -> dict:
    ab = (x["forecast"] - x["actual"]).abs()
    pos = x["actual"] > 0
    return {"mape": float((ab[pos] / x.loc[pos, "actual"]).mean()) if pos.any() else np.nan,
            "wape": float(ab.sum() / x["actual"].abs().sum()) if x["actual"].abs().sum() > 0 else np.nan,
            "n": int(len(x)), "months": int(x["month"].nunique())}


def accuracy_table(backtest: pd.DataFrame, peers: pd.DataFrame) -> pd.DataFrame:
    """MAPE and WAPE of the reconciled forecast (``method = "reconciled"``) and of each peer on the
    (origin, step) points they all have: ``method, mape, wape, n, months`` (our forecast first, then the
    peers from the most to the least accurate).

    >>> bt = pd.DataFrame({"source": "reconciled", "origin": pd.to_datetime(["2024-01-01"] * 2), "step": [1, 2],
    ...     "month": pd.to_datetime(["2024-01-01", "2024-02-01"]), "forecast": [110.0, 100.0], "actual": [100.0, 100.0]})
    >>> pe = bt.drop(columns="source").assign(method="Naive", forecast=[80.0, 100.0])
    >>> accuracy_table(bt, pe)[["method", "mape", "n"]]
           method  mape  n
    0  reconciled  0.05  2
    1       Naive  0.10  2
    """
    ours = backtest.loc[backtest["source"] == "reconciled"].dropna(subset=["origin"])
    ours = ours.assign(method="reconciled")[["method", "origin", "step", "month", "forecast", "actual"]]
    if not len(ours) or not len(peers):
        return pd.DataFrame(columns=_COLUMNS)
    both = pd.concat([ours, peers], ignore_index=True)
    n_methods = both["method"].nunique()
    common = both.groupby(["origin", "step"])["method"].transform("nunique") == n_methods
    both = both.loc[common.to_numpy()]
    rows = [{"method": m, **_errors(x)} for m, x in both.groupby("method", sort=False)]
    out = pd.DataFrame(rows, columns=_COLUMNS)
    out = pd.concat([out.loc[out["method"] == "reconciled"],
                     out.loc[out["method"] != "reconciled"].sort_values("wape", kind="mergesort")], ignore_index=True)
    return out.astype({"method": "string"})


def accuracy_facts(accuracy: pd.DataFrame, lang: str | None = None) -> dict:
    """The figures the accuracy text quotes: our WAPE, the naive forecast's, the best peer (named in
    ``lang`` when given) and its WAPE, the number of past months the comparison covers, and whether ours is
    the most accurate.

    >>> a = pd.DataFrame({"method": ["reconciled", "AutoETS", "Naive"], "mape": [0.05, 0.06, 0.09],
    ...                   "wape": [0.05, 0.06, 0.09], "n": [24] * 3, "months": [14] * 3})
    >>> f = accuracy_facts(a)
    >>> f["ours"], f["naive"], f["best_peer"], f["ours_best"]
    (0.05, 0.09, 'AutoETS', True)
    """
    if not len(accuracy) or not (accuracy["method"] == "reconciled").any():
        return {"ours": np.nan, "naive": np.nan, "best_peer": "", "best_peer_wape": np.nan, "months": 0,
                "ours_best": False, "measured": False}
    a = accuracy.set_index("method")
    peers = a.drop(index="reconciled")
    best = str(peers["wape"].idxmin()) if len(peers) and peers["wape"].notna().any() else ""
    ours = float(a.loc["reconciled", "wape"])
    name = best
    if lang and best:
        from kbanalysis.deliverables.i18n import t

        name = t(f"lbl.{best}", lang)
    return {"ours": ours, "naive": float(a.loc["Naive", "wape"]) if "Naive" in a.index else np.nan,
            "best_peer": name, "best_peer_wape": float(peers.loc[best, "wape"]) if best else np.nan,
            "months": int(a.loc["reconciled", "months"]), "ours_best": bool(not best or ours <= peers["wape"].min()),
            "measured": True}
