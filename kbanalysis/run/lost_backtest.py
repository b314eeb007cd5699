"""Real backtests of the lost call: UCI Online Retail and CDNOW cut in the past, against what happened next.

For each dataset the sales before the cut go through the workbook's steps
(:func:`kbanalysis.sales.engine.client_summary`, :func:`kbanalysis.audit.structure.base_structure`,
:func:`kbanalysis.audit.lost.fit_lost_model`, :func:`kbanalysis.audit.lost.lost_call`); the truth
is whether a client bought anything from the cut to the end of the data. Compared at the same
number of clients called lost (the workbook's): the workbook's call, the rhythm rule alone, plain
recency (longest silent) and BG/NBD's probability of no order to the end (:class:`~kbanalysis.audit.lost.BetaGeo`
fitted at the cut); AUC of each ranking (the workbook's: ``lost_probability``).

    .venv/bin/python scripts/backtest_lost.py            # both datasets, ~1 min

>>> s = pd.DataFrame({"client_id": ["a", "b"], "date": pd.to_datetime(["2011-01-02", "2011-02-01"]),
...                   "amount": [5.0, 0.0]})
>>> order_lines(s)["client_id"].tolist()
['a']
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from kbanalysis.run.backtest import RETAIL_RAW, read_online_retail, real_data_dir

#: dataset -> (cut, last day of the data)
CUTS = {"online_retail": ("2011-09-01", "2011-12-09"), "cdnow": ("1997-10-01", "1998-06-30")}
CDNOW_RAW = "cdnow/CDNOW_master.txt"


def order_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Per client and day with a positive total: ``client_id, date, product_group, amount`` (one group ``all``)."""
    d = lines.groupby([lines["client_id"].astype(str), "date"], as_index=False)["amount"].sum()
    d = d.loc[d["amount"] > 0].reset_index(drop=True)
    d["product_group"] = "all"
    return d[["client_id", "date", "product_group", "amount"]]


def read_cdnow(path) -> pd.DataFrame:
    """CDNOW_master.txt as ``client_id, date, amount`` (dollar value)."""
    d = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame({"client_id": d["customer_id"].astype(str),
                         "date": pd.to_datetime(d["date"], format="%Y%m%d"), "amount": d["dollar_value"].astype(float)})


def load(dataset: str, real_data=None) -> pd.DataFrame:
    """The order lines of ``dataset`` (``online_retail`` or ``cdnow``) from the real-data folder."""
    root = real_data_dir(real_data)
    if dataset == "online_retail":
        return order_lines(read_online_retail(root / RETAIL_RAW))
    return order_lines(read_cdnow(root / CDNOW_RAW))


def lost_backtest(lines: pd.DataFrame, as_of, end, *, horizon_days: int = 120, seed: int = 42,
                  rule: dict | None = None) -> dict:
    """The workbook's lost call at ``as_of`` against who bought nothing from ``as_of`` to ``end``.

    Returns ``table`` (one row per ranking: ``ranking, k, precision, recall, auc``), ``model``
    (the fitted :class:`~kbanalysis.audit.lost.LostModel`: its ``method_`` and own-past ``backtest_``),
    ``clients``, ``really_lost``, ``reactivation`` (the reactivation list at the cut: how many came
    back unprompted by ``end``), ``reactivation_own_past`` (the same on the model's own earlier cut,
    as notebook 01 shows it) and ``seconds``.
    """
    from kbanalysis.audit.lost import (BetaGeo, _auc, fit_lost_model, lost_call, lost_features, precision_at,
                                       reactivation_backtest)
    from kbanalysis.audit.structure import base_structure
    from kbanalysis.sales.engine import client_summary

    t0 = time.perf_counter()
    as_of, end, rule = pd.Timestamp(as_of), pd.Timestamp(end), dict(rule or {})
    past = lines.loc[lines["date"] < as_of]
    s = client_summary(past, as_of)
    base = base_structure(pd.DataFrame({"client_id": s["client_id"]}), s, as_of, **rule)
    m = fit_lost_model(past, as_of, base, horizon_days=horizon_days, seed=seed, **rule)
    called = lost_call(base, m.lost_probability_, m.method_)
    ids = called["client_id"].astype(str).to_numpy()
    later = lines.loc[(lines["date"] >= as_of) & (lines["date"] <= end), "client_id"].astype(str)
    y = ~pd.Index(ids).isin(pd.Index(later.unique()))
    k = int((base["base"] == "lost").sum())
    f = lost_features(s, as_of).reindex(ids)
    bg = BetaGeo().fit(f["x"], f["tx"], f["T"])
    p0 = bg.p_none(f["x"], f["tx"], f["T"], (end - as_of).days / 7.0)
    rank = {"workbook (lost_probability)": called["lost_probability"].to_numpy(),
            "rhythm rule": (base["days_silent"] / base["lost_after_days"]).to_numpy(),
            "recency": f["days_silent"].to_numpy() - 1e-6 * f["orders"].to_numpy(), "BG/NBD": p0}
    rows = [{"ranking": "workbook call (base = lost)", "k": int((called["base"] == "lost").sum()),
             "precision": float(y[(called["base"] == "lost").to_numpy()].mean()), "auc": float("nan")}]
    for name, sc in rank.items():
        rows.append({"ranking": name, "k": k, "precision": precision_at(sc, y, k), "auc": _auc(sc, y)})
    table = pd.DataFrame(rows)
    table["recall"] = table["precision"] * table["k"] / max(int(y.sum()), 1)
    return {"table": table[["ranking", "k", "precision", "recall", "auc"]], "model": m, "clients": len(ids),
            "really_lost": int(y.sum()), "reactivation": _reactivation(past, as_of, called, later),
            "reactivation_own_past": reactivation_backtest(past, m), "seconds": round(time.perf_counter() - t0, 1)}


def _reactivation(past: pd.DataFrame, as_of, called: pd.DataFrame, later: pd.Series) -> pd.DataFrame:
    """The reactivation list at the cut against who came back unprompted by the end of the data."""
    from kbanalysis.audit.structure import lost_regular_clients
    from kbanalysis.sales.engine import client_months

    ranked = lost_regular_clients(client_months(past, as_of), called)
    back = pd.Index(later.unique())
    rows = []
    for name, ids in (("reactivation_list", ranked["client_id"]), ("first_10", ranked["client_id"].head(10)),
                      ("called_lost", called.loc[called["base"] == "lost", "client_id"])):
        got = pd.Index(ids.astype(str)).isin(back)
        rows.append({"list": name, "clients": len(got), "came_back": int(got.sum()),
                     "came_back_share": float(got.mean()) if len(got) else float("nan")})
    return pd.DataFrame(rows)


def real_lost_backtests(real_data=None, *, horizon_days: int = 120, seed: int = 42) -> dict:
    """:func:`lost_backtest` of both datasets at their cuts (:data:`CUTS`): dataset -> result."""
    return {name: lost_backtest(load(name, real_data), *CUTS[name], horizon_days=horizon_days, seed=seed)
            for name in CUTS}


__all__ = ["CUTS", "order_lines", "read_cdnow", "load", "lost_backtest", "real_lost_backtests", "np"]
