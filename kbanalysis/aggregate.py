"""The core aggregations of sales every stage works from: per client-day, client-month, client.

All functions take the canonical ``sales`` frame (see :mod:`kbanalysis.schema`) and the
analysis date ``as_of``; only sales strictly before ``as_of`` count. An *order* is a day on
which the client's shipments sum to a positive amount (returns alone are not orders).

>>> import pandas as pd
>>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-01-05", "2024-03-10", "2024-03-20"]),
...                   "client_id": ["a", "a", "a", "b"], "product_group": ["x", "y", "x", "x"],
...                   "amount": [100.0, 50.0, 30.0, -5.0], "cost": [60.0, 30.0, 20.0, -3.0]})
>>> client_summary(s, "2024-04-01")[["client_id", "orders", "revenue_12m", "margin_12m"]]
  client_id  orders  revenue_12m  margin_12m
0         a       2        180.0        70.0
1         b       0         -5.0        -2.0
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def _as_ts(as_of) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize()


def months_back(as_of, n: int) -> pd.Timestamp:
    """The first day of the window of ``n`` whole months before ``as_of``'s month... or n*30.44 days.

    The 12-month window is ``[as_of - 12 months, as_of)``.

    >>> months_back("2024-04-01", 12)
    Timestamp('2023-04-01 00:00:00')
    """
    return _as_ts(as_of) - pd.DateOffset(months=n)


def before(sales: pd.DataFrame, as_of) -> pd.DataFrame:
    """Sales strictly before the analysis date."""
    return sales.loc[sales["date"] < _as_ts(as_of)]


def has_cost(sales: pd.DataFrame) -> bool:
    """True when the sales table carries cost for at least some lines."""
    return "cost" in sales and bool(sales["cost"].notna().any())


def client_days(sales: pd.DataFrame, as_of) -> pd.DataFrame:
    """Per client and day: ``client_id, date, amount`` (days before ``as_of``)."""
    s = before(sales, as_of)
    return s.groupby(["client_id", "date"], as_index=False, observed=True)["amount"].sum()


def client_months(sales: pd.DataFrame, as_of) -> pd.DataFrame:
    """Per client and calendar month: ``client_id, month, revenue, margin, lines``.

    ``month`` is the first day of the month; ``margin`` is NaN when the case has no cost.
    """
    s = before(sales, as_of)
    month = s["date"].dt.to_period("M").dt.to_timestamp()
    cost = s["cost"] if has_cost(s) else pd.Series(np.nan, index=s.index)
    g = pd.DataFrame({"client_id": s["client_id"], "month": month, "revenue": s["amount"],
                      "margin": s["amount"] - cost.fillna(0.0)})
    out = g.groupby(["client_id", "month"], as_index=False, observed=True).agg(
        revenue=("revenue", "sum"), margin=("margin", "sum"), lines=("revenue", "size"))
    if not has_cost(s):
        out["margin"] = np.nan
    return out.sort_values(["client_id", "month"], ignore_index=True)


def group_months(sales: pd.DataFrame, as_of) -> pd.DataFrame:
    """Per product group and calendar month: ``product_group, month, revenue``."""
    s = before(sales, as_of)
    month = s["date"].dt.to_period("M").dt.to_timestamp()
    g = pd.DataFrame({"product_group": s["product_group"], "month": month, "revenue": s["amount"]})
    return (g.groupby(["product_group", "month"], as_index=False, observed=True)["revenue"].sum()
            .sort_values(["product_group", "month"], ignore_index=True))


def client_groups(sales: pd.DataFrame, as_of, months: int = 12) -> pd.DataFrame:
    """Per client and product group over the last ``months``: ``client_id, product_group, revenue``."""
    s = before(sales, as_of)
    s = s.loc[s["date"] >= months_back(as_of, months)]
    return (s.groupby(["client_id", "product_group"], as_index=False, observed=True)["amount"].sum()
            .rename(columns={"amount": "revenue"}).sort_values(["client_id", "product_group"], ignore_index=True))


def client_summary(sales: pd.DataFrame, as_of, months: int = 12) -> pd.DataFrame:
    """One row per client that has any sales before ``as_of``.

    Columns: ``client_id, first_date, last_date, orders, median_gap_days, revenue_total,
    revenue_12m, margin_12m, active_months_12m, groups_12m, revenue_prev_6m, revenue_last_6m,
    revenue_last_3m``. ``last_date`` is the last order (positive day); ``median_gap_days`` is
    the median of the gaps between consecutive orders (NaN with fewer than two orders).
    """
    as_of = _as_ts(as_of)
    s = before(sales, as_of)
    cost_known = has_cost(s)
    days = s.groupby(["client_id", "date"], as_index=False, observed=True)["amount"].sum()
    orders = days.loc[days["amount"] > 0].sort_values(["client_id", "date"])
    gaps = orders.groupby("client_id", observed=True)["date"].diff().dt.days
    gap_med = gaps.groupby(orders["client_id"], observed=True).median()
    o = orders.groupby("client_id", observed=True).agg(
        first_date=("date", "min"), last_date=("date", "max"), orders=("date", "size"))

    start12 = months_back(as_of, months)
    w = s.loc[s["date"] >= start12]
    margin = w["amount"] - (w["cost"].fillna(0.0) if cost_known else 0.0)
    m6, m3 = months_back(as_of, 6), months_back(as_of, 3)
    agg = pd.DataFrame({
        "client_id": w["client_id"], "amount": w["amount"], "margin": margin,
        "month": w["date"].dt.to_period("M"), "group": w["product_group"],
        "last6": w["amount"].where(w["date"] >= m6, 0.0), "prev6": w["amount"].where(w["date"] < m6, 0.0),
        "last3": w["amount"].where(w["date"] >= m3, 0.0),
    }).groupby("client_id", observed=True).agg(
        revenue_12m=("amount", "sum"), margin_12m=("margin", "sum"), active_months_12m=("month", "nunique"),
        groups_12m=("group", "nunique"), revenue_last_6m=("last6", "sum"), revenue_prev_6m=("prev6", "sum"),
        revenue_last_3m=("last3", "sum"))
    total = s.groupby("client_id", observed=True)["amount"].sum().rename("revenue_total")

    out = pd.DataFrame(index=pd.Index(s["client_id"].unique(), name="client_id"))
    out = out.join(o).join(gap_med.rename("median_gap_days")).join(total).join(agg)
    out["orders"] = out["orders"].fillna(0).astype("int64")
    for c in ("revenue_12m", "margin_12m", "revenue_last_6m", "revenue_prev_6m", "revenue_last_3m"):
        out[c] = out[c].fillna(0.0)
    for c in ("active_months_12m", "groups_12m"):
        out[c] = out[c].fillna(0).astype("int64")
    if not cost_known:
        out["margin_12m"] = np.nan
    cols = ["first_date", "last_date", "orders", "median_gap_days", "revenue_total", "revenue_12m", "margin_12m",
            "active_months_12m", "groups_12m", "revenue_prev_6m", "revenue_last_6m", "revenue_last_3m"]
    return out[cols].reset_index().sort_values("client_id", ignore_index=True)
