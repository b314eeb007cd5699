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
from kbanalysis.sales.engine import on_disk

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
