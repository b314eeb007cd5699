"""Sales lines, in memory or kept on disk, read the same way: the line-level operations the stages need.

Each function takes the lines as a DataFrame or as a :class:`~kbanalysis.sales.ondisk.SalesFile` and answers
alike; this module and :mod:`kbanalysis.sales.engine` are the only places that ask which
(:func:`~kbanalysis.sales.engine.on_disk`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from kbanalysis.io.case import isin
from kbanalysis.sales.calendar import _as_ts
from kbanalysis.sales.engine import group_months, groups_left_out, on_disk

#: the columns of a sales line the stages work with (others stay in the case)
LINE_COLUMNS = ("date", "client_id", "product_group", "amount", "cost")


def core_lines(sales) -> pd.DataFrame:
    """The sales lines with the :data:`LINE_COLUMNS` they have (lines on disk: the handle itself).

    >>> core_lines(pd.DataFrame({"client_id": ["a"], "amount": [1.0], "note": ["x"]})).columns.tolist()
    ['client_id', 'amount']
    """
    if on_disk(sales):
        return sales
    return sales[[c for c in LINE_COLUMNS if c in sales]]


def with_masters(df: pd.DataFrame, to_master: pd.Series, id_col: str = "client_id") -> pd.DataFrame:
    """``df`` with the ids of duplicate cards replaced by their master's (only those rows touched).

    Sales kept on disk (:class:`~kbanalysis.sales.ondisk.SalesFile`) come back as a handle that reads them so.

    >>> with_masters(pd.DataFrame({"client_id": ["a", "b"]}), pd.Series({"a": "a", "b": "a"}))["client_id"].tolist()
    ['a', 'a']
    """
    if on_disk(df):
        return df.with_masters(to_master)
    moved = to_master[to_master.index != to_master.to_numpy()]
    out = df.copy()
    if isinstance(out[id_col].dtype, pd.CategoricalDtype):  # remap the categories, not the lines
        out[id_col] = _remap_categories(out[id_col], moved)
        return out
    out[id_col] = out[id_col].astype("string")
    if len(moved):
        m = isin(out[id_col], moved.index)
        out.loc[m, id_col] = moved.reindex(out.loc[m, id_col].to_numpy()).to_numpy()
    return out


def _remap_categories(ids: pd.Series, moved: pd.Series) -> pd.Series:
    """Categorical ids with duplicate cards' categories replaced by their masters' (merged codes)."""
    cats = ids.cat.categories
    text = pd.Series(cats.astype("string").to_numpy(dtype=object))
    inv, uniq = pd.factorize(text.map(moved.astype(object)).fillna(text))
    lookup = np.append(inv.astype(np.int32), -1)  # code -1 (missing) stays missing
    codes = lookup[ids.array.codes]
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(uniq).astype(cats.dtype), validate=False),
                     index=ids.index, name=ids.name)


def distinct_ids(ids: pd.Series) -> np.ndarray:
    """The distinct non-missing ids as text (a categorical's used categories, without reading lines as text).

    >>> distinct_ids(pd.Series(pd.Categorical(["b", None, "b"], categories=["a", "b"]))).tolist()
    ['b']
    """
    if isinstance(ids.dtype, pd.CategoricalDtype):
        used = np.unique(ids.array.codes)
        return np.asarray(ids.cat.categories.astype("string")[used[used >= 0]], dtype=object)
    return pd.unique(ids.astype("string").dropna())


def buyer_ids(sales, as_of) -> np.ndarray:
    """The distinct ids of clients with a positive sales line before ``as_of``, as text.

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-05-01"]),
    ...                   "client_id": ["a", "b", "c"], "amount": [10.0, -5.0, 7.0]})
    >>> buyer_ids(s, "2024-04-01").tolist()
    ['a']
    """
    as_of = _as_ts(as_of)
    if on_disk(sales):
        return sales.buyers(as_of)
    return distinct_ids(sales.loc[(sales["date"] < as_of) & (sales["amount"] > 0), "client_id"])


def window_groups(df, start, end, cols: list[str]) -> pd.DataFrame:
    """The distinct combinations of ``cols`` among the rows dated in ``[start, end)``, with their row count
    (sales kept on disk: one query).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-02", "2023-01-01"]),
    ...                   "client_id": ["a", "a", "b"], "manager": ["Иванов"] * 3})
    >>> window_groups(s, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01"), ["client_id", "manager"])
      client_id manager  0
    0         a  Иванов  2
    """
    if on_disk(df):
        return df.window_groups(start, end, cols)
    w = df.loc[(df["date"] >= start) & (df["date"] < end), cols]
    return w.groupby(cols, observed=True, sort=False).size().reset_index()


def window_totals(sales, start, end, ids, id_col: str = "client_id") -> pd.DataFrame:
    """Per client of ``ids``: ``amount`` (sum), ``last`` (date) and ``lines`` of its sales dated in
    ``[start, end)``, indexed by the client id as text (sales kept on disk: one query).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-05", "2024-03-02"]),
    ...                   "client_id": ["a", "a", "b"], "amount": [10.0, 5.0, 7.0]})
    >>> window_totals(s, pd.Timestamp("2024-02-01"), pd.Timestamp("2024-04-01"), pd.Series(["a"])).to_dict("index")
    {'a': {'amount': 15.0, 'last': Timestamp('2024-03-05 00:00:00'), 'lines': 2}}
    """
    if on_disk(sales):
        return sales.window_totals(start, end, ids)
    w = sales.loc[(sales["date"] >= start) & (sales["date"] < end)]
    w = w.loc[isin(w[id_col].astype("string"), ids)]
    return w.groupby(w[id_col].astype("string")).agg(amount=("amount", "sum"), last=("date", "max"),
                                                     lines=("amount", "size"))


def costed_group_totals(sales, start, end) -> pd.DataFrame:
    """Per product group: ``amount`` and ``cost`` of the lines with a cost dated in ``[start, end)``
    (no cost at all: an empty frame; sales kept on disk: one query).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-03"]),
    ...                   "product_group": ["x", "x", "y"], "amount": [10.0, 5.0, 7.0], "cost": [6.0, 3.0, None]})
    >>> costed_group_totals(s, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01")).to_dict("index")
    {'x': {'amount': 15.0, 'cost': 9.0}}
    """
    if on_disk(sales):
        return sales.costed_group_totals(start, end)
    s = sales.loc[(sales["date"] < end) & (sales["date"] >= start)]
    if "cost" not in s or not s["cost"].notna().any():
        return pd.DataFrame({"amount": pd.Series(dtype="float64"), "cost": pd.Series(dtype="float64")})
    return s.loc[s["cost"].notna()].groupby("product_group", observed=True)[["amount", "cost"]].sum()


def deal_candidate_lines(sales, deal_ids, client_ids, start, end, as_of=None) -> pd.DataFrame:
    """The sales lines a won deal could have brought: in memory all lines before ``as_of`` (when given);
    kept on disk only those whose ``doc_id`` is one of ``deal_ids`` or of ``client_ids`` dated in
    ``[start, end)``, indexed by their spreadsheet row (one query).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-05-02"]), "amount": [1.0, 2.0]})
    >>> len(deal_candidate_lines(s, ["d"], ["a"], None, None, as_of="2024-04-01"))
    1
    """
    if on_disk(sales):
        return sales.deal_lines(deal_ids, client_ids, start, end, as_of)
    return sales if as_of is None else sales.loc[sales["date"] < _as_ts(as_of)]


def group_months_by_deal(sales, deal_lines: pd.Index, cut) -> pd.DataFrame:
    """``product_group, month, revenue, deal_revenue`` of the whole months before ``cut``: monthly sales per
    group and the part of them on the lines ``deal_lines`` (index labels; on disk, spreadsheet rows).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-01-09", "2024-04-03"]),
    ...                   "product_group": ["x", "x", "x"], "amount": [70.0, 30.0, 10.0]})
    >>> group_months_by_deal(s, pd.Index([0]), pd.Timestamp("2024-04-01")).to_dict("records")
    [{'product_group': 'x', 'month': Timestamp('2024-01-01 00:00:00'), 'revenue': 100.0, 'deal_revenue': 70.0}]
    """
    cut = _as_ts(cut)
    if on_disk(sales):
        g = group_months(sales, cut)
        g = g.assign(product_group=g["product_group"].astype("string"), month=g["month"].astype("datetime64[ns]"))
        d = sales.lines_at(deal_lines, ["date", "product_group", "amount"])
        d = d.loc[d["date"] < cut]
        deal = pd.DataFrame({"product_group": d["product_group"].astype("string").array,
                             "month": d["date"].to_numpy().astype("datetime64[M]").astype("datetime64[ns]"),
                             "deal_revenue": d["amount"].to_numpy(dtype="float64")})
        deal = deal.groupby(["product_group", "month"], as_index=False)["deal_revenue"].sum()
        g = g.merge(deal, on=["product_group", "month"], how="left")
        return g.assign(deal_revenue=g["deal_revenue"].fillna(0.0))[
            ["product_group", "month", "revenue", "deal_revenue"]]
    # vectorised on millions of lines: months by numpy, groups by category codes
    s = sales.loc[sales["date"] < cut]
    is_deal = s.index.isin(deal_lines)
    month = s["date"].to_numpy().astype("datetime64[M]").astype("datetime64[ns]")
    amount = s["amount"].to_numpy(dtype="float64")
    g = pd.DataFrame({"product_group": s["product_group"].astype("category").to_numpy(), "month": month,
                      "revenue": amount, "deal_revenue": np.where(is_deal, amount, 0.0)})
    g = g.groupby(["product_group", "month"], as_index=False, observed=True)[["revenue", "deal_revenue"]].sum()
    g["product_group"] = g["product_group"].astype("string")
    return g


def groups_left_out_of(sales, as_of, kept, **kw) -> dict | None:
    """:func:`~kbanalysis.sales.engine.groups_left_out` of the sales lines: the product groups sold before
    ``as_of`` but not in ``kept``. When every group the lines hold is kept, the answer is None without
    aggregating the lines by month (about 4 s at 10M lines in memory).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2020-01-05", "2024-03-01"]), "client_id": ["a", "a"],
    ...                   "product_group": ["old", "x"], "amount": [5.0, 9.0]})
    >>> groups_left_out_of(s, "2024-04-01", ["x"]), groups_left_out_of(s, "2024-04-01", ["x", "old"])
    ({'n': 1, 'groups': ['old'], 'amount': 5.0, 'last': '2020-01'}, None)
    """
    if not on_disk(sales) and "product_group" in sales:
        if set(distinct_ids(sales["product_group"])) <= set(pd.Index(list(kept), dtype="string").dropna()):
            return None
    return groups_left_out(group_months(sales, as_of), kept, **kw)
