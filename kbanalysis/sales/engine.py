"""The core aggregations of sales every stage works from: per client-day, client-month, client.

All functions take the canonical ``sales`` frame (see :mod:`kbanalysis.schema`) and the
analysis date ``as_of``; only sales strictly before ``as_of`` count. An *order* is a day on
which the client's shipments sum to a positive amount (returns alone are not orders).

Large tables (at least :data:`FAST_MIN_ROWS` lines) go through an array engine: client ids and
product groups are dictionary-encoded once (Arrow, ranked in sorted order; ids that come as
categoricals, as the stages read them from Parquet, only have their categories ranked), and every
group-by is a ``numpy.bincount`` over a dense (client × month / day / group) grid, so no line is
hashed or sorted per group-by and results come out in sorted order; orders (days with a positive
total) come from a client × day mark grid. A client's totals over whole months are added from its
(client, month) sums, which :func:`client_months` returns too; the encoded lines and those sums
are computed once per frame. Small tables, and frames that engine does not cover (numeric ids,
dates with a time of day, missing amounts), use pandas, on text ids. Both give the same frames,
with text ids whatever the input (rows, order, columns, dtypes, counts, dates); money is added in
another order than pandas' (which adds with Kahan compensation), so sums can differ in the last
bits (~1e-16 relative) and are exactly equal whenever they are exact (e.g. whole kopecks as binary
fractions).
``engine="pandas"`` / ``"fast"`` forces one. Sales kept on disk (a :class:`~kbanalysis.sales.ondisk.SalesFile`)
are aggregated by DuckDB whatever the engine, into the same frames.

>>> import pandas as pd
>>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-01-05", "2024-03-10", "2024-03-20"]),
...                   "client_id": ["a", "a", "a", "b"], "product_group": ["x", "y", "x", "x"],
...                   "amount": [100.0, 50.0, 30.0, -5.0], "cost": [60.0, 30.0, 20.0, -3.0]})
>>> client_summary(s, "2024-04-01")[["client_id", "orders", "revenue_12m", "margin_12m"]]
  client_id  orders  revenue_12m  margin_12m
0         a       2        180.0        70.0
1         b       0         -5.0        -2.0
>>> client_summary(s, "2024-04-01", engine="fast").equals(client_summary(s, "2024-04-01", engine="pandas"))
True
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from kbanalysis.io.case import arrow_strings
from kbanalysis.sales.calendar import _as_ts, months_back, window_months
from kbanalysis.sales.ondisk import SalesFile

#: Tables with fewer lines are aggregated by pandas (the fixed cost of encoding dominates there).
FAST_MIN_ROWS = 100_000
_DAY_NS = 86_400_000_000_000
_ENGINES = ("auto", "pandas", "fast")


def on_disk(sales) -> bool:
    """Whether ``sales`` are kept on disk (a :class:`~kbanalysis.sales.ondisk.SalesFile`: DuckDB answers)
    rather than a frame."""
    return isinstance(sales, SalesFile)


def last_sale(sales) -> pd.Timestamp:
    """The date of the last sales line (of a frame or of sales kept on disk).

    >>> last_sale(pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-03-01"])}))
    Timestamp('2024-03-01 00:00:00')
    """
    return sales.date_range()[1] if on_disk(sales) else sales["date"].max()


def first_sale(sales) -> pd.Timestamp:
    """The date of the first sales line (of a frame or of sales kept on disk); NaT without lines.

    >>> first_sale(pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-03-01"])}))
    Timestamp('2024-01-02 00:00:00')
    """
    return sales.date_range()[0] if on_disk(sales) else sales["date"].min()


def revenue_per_month(frame: pd.DataFrame, total: str = "revenue_12m", month: str = "revenue_month",
                      months: int = 12) -> pd.Series:
    """A table's monthly revenue: its ``month`` column (:func:`client_summary` and :func:`client_groups`
    divide the window's sum by the months the sales cover, :func:`~kbanalysis.sales.calendar.window_months`),
    else ``total`` over ``months`` (a table made without it).

    >>> revenue_per_month(pd.DataFrame({"revenue_12m": [90.0], "revenue_month": [10.0]})).tolist()
    [10.0]
    >>> revenue_per_month(pd.DataFrame({"revenue_12m": [120.0]})).tolist()
    [10.0]
    """
    if month in frame:
        return pd.to_numeric(frame[month], errors="coerce").rename(month)
    if total not in frame:
        return pd.Series(np.nan, index=frame.index, name=month)
    return (pd.to_numeric(frame[total], errors="coerce") / months).rename(month)


def short_window(sales, as_of, months: int = 12) -> dict | None:
    """What a sentence says when the sales start inside the ``months``-month window before ``as_of``:
    ``first`` (the first sales line) and ``months`` (the months covered,
    :func:`~kbanalysis.sales.calendar.window_months`, over which monthly figures average); None when
    the sales cover the whole window.

    >>> short_window(pd.DataFrame({"date": pd.to_datetime(["2010-12-01", "2011-05-01"])}), "2011-09-01")
    {'first': Timestamp('2010-12-01 00:00:00'), 'months': 9.0, 'window': 12}
    >>> short_window(pd.DataFrame({"date": pd.to_datetime(["2009-12-01"])}), "2011-09-01") is None
    True
    """
    first = first_sale(sales)
    covered = window_months(first, as_of, months)
    return None if covered >= months else {"first": pd.Timestamp(first), "months": covered, "window": months}


def _with_month(table: pd.DataFrame, total: str, first, as_of, months: int) -> pd.DataFrame:
    """``table`` with ``revenue_month`` = ``total`` over the months of the window the sales cover."""
    return table.assign(revenue_month=table[total] / window_months(first, as_of, months))


def before(sales: pd.DataFrame, as_of) -> pd.DataFrame:
    """Sales strictly before the analysis date (of a :class:`~kbanalysis.sales.ondisk.SalesFile`: a handle on them)."""
    if on_disk(sales):
        return sales.before(as_of)
    return sales.loc[sales["date"] < _as_ts(as_of)]


def has_cost(sales: pd.DataFrame) -> bool:
    """True when the sales table carries cost for at least some lines."""
    if on_disk(sales):
        return sales.has_cost()
    return "cost" in sales and bool(sales["cost"].notna().any())


# --------------------------------------------------------------------------------------------
# public functions: dispatch to the array engine (large frames) or pandas
# --------------------------------------------------------------------------------------------
def client_days(sales: pd.DataFrame, as_of, *, engine: str = "auto") -> pd.DataFrame:
    """Per client and day: ``client_id, date, amount`` (days before ``as_of``)."""
    if on_disk(sales):
        return sales.client_days(as_of)
    src = _fast_source(sales, as_of, engine)
    return _pd_client_days(as_text_labels(sales), as_of) if src is None else src.client_days()


def client_months(sales: pd.DataFrame, as_of, *, engine: str = "auto") -> pd.DataFrame:
    """Per client and calendar month: ``client_id, month, revenue, margin, lines``.

    ``month`` is the first day of the month; ``margin`` is NaN when the case has no cost.
    """
    if on_disk(sales):
        return sales.client_months(as_of)
    src = _fast_source(sales, as_of, engine)
    return _pd_client_months(as_text_labels(sales), as_of) if src is None else src.client_months()


def group_months(sales: pd.DataFrame, as_of, *, engine: str = "auto") -> pd.DataFrame:
    """Per product group and calendar month: ``product_group, month, revenue``."""
    if on_disk(sales):
        return sales.group_months(as_of)
    src = _fast_source(sales, as_of, engine, groups=True)
    return _pd_group_months(as_text_labels(sales), as_of) if src is None else src.group_months()


def shortened(text, width: int = 60) -> str:
    """A name cut to ``width`` characters with ``…`` for prose and chart labels (the data keep the whole text).

    >>> shortened("Группа " + "ж" * 50, 28), shortened("tools")
    ('Группа жжжжжжжжжжжжжжжжжжжж…', 'tools')
    """
    s = str(text)
    return s if len(s) <= width else s[:width - 1].rstrip() + "…"


def groups_left_out(months: pd.DataFrame, kept, *, shown: int = 5, width: int = 60) -> dict | None:
    """What a sentence says of the product groups sold before but left out of a table (``kept``: the table's
    groups), or None when none is: ``n``, ``groups``: the ``shown`` largest by revenue (names shortened to
    ``width`` characters for the prose; ``…`` after them when there are more), ``amount`` (their revenue over the whole history) and ``last`` (the last month
    any of them sold, ``YYYY-MM``). ``months`` is per group and month, as :func:`group_months` gives it.

    >>> gm = pd.DataFrame({"product_group": ["x", "y", "y", "z"], "revenue": [9.0, 5.0, 2.0, 1.0],
    ...                    "month": pd.to_datetime(["2024-03-01", "2020-01-01", "2020-02-01", "2021-06-01"])})
    >>> groups_left_out(gm, ["x"])
    {'n': 2, 'groups': ['y', 'z'], 'amount': 8.0, 'last': '2021-06'}
    >>> groups_left_out(gm, ["x", "y", "z"]) is None
    True
    """
    gm = months.loc[months["revenue"].fillna(0) != 0]
    out = gm.loc[~gm["product_group"].astype("string").isin(pd.Index(list(kept), dtype="string"))]
    if not len(out):
        return None
    rev = out.groupby("product_group", observed=True)["revenue"].sum().sort_values(ascending=False, kind="mergesort")
    names = [shortened(g, width) for g in rev.index[:shown]] + (["…"] if len(rev) > shown else [])
    return {"n": int(len(rev)), "groups": names, "amount": float(rev.sum()),
            "last": pd.Timestamp(out["month"].max()).strftime("%Y-%m")}


def client_groups(sales: pd.DataFrame, as_of, months: int = 12, *, engine: str = "auto") -> pd.DataFrame:
    """Per client and product group over the last ``months``: ``client_id, product_group, revenue,
    revenue_month`` (``revenue`` over the months of the window the sales cover, :func:`revenue_per_month`)."""
    if on_disk(sales):
        out = sales.client_groups(as_of, months)
    else:
        src = _fast_source(sales, as_of, engine, groups=True)
        out = _pd_client_groups(as_text_labels(sales), as_of, months) if src is None else src.client_groups(months)
    return _with_month(out, "revenue", first_sale(sales), as_of, months)


def client_summary(sales: pd.DataFrame, as_of, months: int = 12, *, engine: str = "auto") -> pd.DataFrame:
    """One row per client that has any sales before ``as_of``.

    Columns: ``client_id, first_date, last_date, orders, median_gap_days, revenue_total,
    revenue_12m, margin_12m, active_months_12m, groups_12m, revenue_prev_6m, revenue_last_6m,
    revenue_last_3m, revenue_month``. ``last_date`` is the last order (positive day); ``median_gap_days`` is
    the median of the gaps between consecutive orders (NaN with fewer than two orders); ``revenue_month``
    is ``revenue_12m`` over the months of the window the case's sales cover (12 unless they start later,
    :func:`~kbanalysis.sales.calendar.window_months`).
    """
    if on_disk(sales):
        out = sales.client_summary(as_of, months)
    else:
        src = _fast_source(sales, as_of, engine, groups=True)
        out = _pd_client_summary(as_text_labels(sales), as_of, months) if src is None else src.client_summary(months)
    return _with_month(out, "revenue_12m", first_sale(sales), as_of, months)


# --------------------------------------------------------------------------------------------
# array engine: client codes + numpy bincount (no hashing of text per group-by, no sorting of lines)
# --------------------------------------------------------------------------------------------
#: Most cells of a dense (client, day) grid held at once: clients are taken in blocks below it.
_GRID_CELLS = 8_000_000
#: Most cells of the (client × day) mark grid of orders (one byte each); beyond, blocks of sums.
_ORDER_GRID = 400_000_000
#: A dense grid larger than this (absurd date ranges) goes to pandas instead.
_MAX_GRID = 400_000_000
_NAT = np.iinfo(np.int64).min
_cache: dict = {}


def _is_text(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.StringDtype)


def _is_label(s: pd.Series) -> bool:
    """Text, or categorical with text categories (ids read as Parquet dictionaries, see
    :func:`kbanalysis.io.runfolder.RunFolder.read_work`)."""
    return _is_text(s) or (isinstance(s.dtype, pd.CategoricalDtype) and _is_text(s.cat.categories.to_series()))


def as_text_labels(sales: pd.DataFrame) -> pd.DataFrame:
    """``sales`` with categorical ``client_id`` / ``product_group`` turned back into text.

    The pandas engine works on text so that both engines return text ids whatever the input.

    >>> s = pd.DataFrame({"client_id": pd.Categorical(["b", "a"]), "amount": [1.0, 2.0]})
    >>> as_text_labels(s)["client_id"].dtype
    <StringDtype(na_value=nan)>
    """
    cols = [c for c in ("client_id", "product_group") if c in sales and isinstance(sales[c].dtype, pd.CategoricalDtype)]
    if not cols:
        return sales
    out = sales.copy()
    for c in cols:
        cats = out[c].cat.categories
        out[c] = out[c].astype(cats.dtype if _is_text(cats.to_series()) else "str")
    return out


def _fast_source(sales, as_of, engine: str, groups: bool = False) -> "_Lines | None":
    """The frame prepared for the array engine, or None when pandas is to do it."""
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {_ENGINES}, not {engine!r}")
    if engine == "pandas" or not isinstance(sales, pd.DataFrame):
        return None
    if engine == "auto" and len(sales) < FAST_MIN_ROWS:
        return None
    need = ["date", "client_id", "amount"] + (["product_group"] if groups else [])
    if any(c not in sales for c in need):
        return None
    if sales["date"].dtype != np.dtype("datetime64[ns]") or sales["amount"].dtype != np.float64:
        return None
    if not _is_label(sales["client_id"]) or ("product_group" in sales and not _is_label(sales["product_group"])):
        return None
    if "cost" in sales and sales["cost"].dtype != np.float64:
        return None
    try:
        return _lines_of(sales, _as_ts(as_of))
    except _NotCovered:
        return None


_LINE_COLUMNS = ("date", "client_id", "product_group", "amount", "cost")


def _lines_of(sales: pd.DataFrame, as_of: pd.Timestamp) -> "_Lines":
    """The encoded lines of ``sales``, reused while a stage asks several aggregations of one frame.

    The key is the identity of the columns' arrays (kept alive by the cache, so it cannot be reused)
    plus a fingerprint of the dates and amounts, which catches a frame edited in place.
    """
    arrays = [arrow_strings(sales[c]) if _is_text(sales[c]) else
              (sales[c].array.codes, sales[c].cat.categories) if isinstance(sales[c].dtype, pd.CategoricalDtype)
              else sales[c].to_numpy() for c in _LINE_COLUMNS if c in sales]
    ident = [(a.__array_interface__["data"][0], a.dtype.str) if isinstance(a, np.ndarray) else
             (a[0].__array_interface__["data"][0], id(a[1])) if isinstance(a, tuple) else id(a) for a in arrays]
    key = (tuple(c for c in _LINE_COLUMNS if c in sales), as_of.value, tuple(ident), len(sales))
    amount = sales["amount"].to_numpy()
    fp = (int(amount.view(np.int64).sum()), int(sales["date"].to_numpy().view(np.int64).sum()))  # bits: no copies
    for k, refs, f, lines in _cache.get("lines", []):
        if k == key and f == fp:
            return lines
    lines = _Lines(sales, as_of)
    _cache["lines"] = [(key, arrays, fp, lines)]  # one frame: a stage works on one sales table at a time
    return lines


class _NotCovered(Exception):
    pass


def _ranked_codes(s: pd.Series):
    """(codes ranked in sorted text order, -1 for missing; the sorted distinct values as Arrow).

    The encoding of the last few columns is kept: a stage asks for several aggregations of one
    frame. Arrow arrays are immutable, so the identity of the column's Arrow data is a safe key.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(s.dtype, pd.CategoricalDtype):
        return _ranked_category_codes(s)
    a = arrow_strings(s)
    for hit in _cache.get("codes", []):
        if hit[0] is a:
            return hit[1], hit[2]
    enc = pc.dictionary_encode(a)
    dictionary = enc.chunk(0).dictionary if enc.num_chunks else pa.array([], type=pa.string())
    idx = pa.chunked_array([c.indices for c in enc.chunks], type=pa.int32()) if enc.num_chunks else \
        pa.chunked_array([], type=pa.int32())
    rank, ranked = _sort_rank(dictionary)
    if idx.null_count:
        valid = pc.is_valid(idx).to_numpy(zero_copy_only=False)
        codes = rank[pc.fill_null(idx, 0).to_numpy()] if len(dictionary) else np.zeros(len(idx), np.int32)
        codes[~valid] = -1
    else:
        codes = rank[idx.to_numpy()]
    out = (codes, ranked)
    if isinstance(s.array, pd.arrays.ArrowStringArray):
        _cache["codes"] = [(a, *out)] + _cache.get("codes", [])[:3]
    return out


def _label_codes(sales: pd.DataFrame):
    """Ranked codes and sorted values of ``client_id`` and of ``product_group`` (-1 / None without it)."""
    codes, values = _ranked_codes(sales["client_id"])
    if "product_group" not in sales:
        return codes, values, np.full(len(sales), -1, np.int32), None
    return (codes, values, *_ranked_codes(sales["product_group"]))


def _ranked_category_codes(s: pd.Series):
    """:func:`_ranked_codes` of a categorical column: its codes re-ranked by a sort of the categories
    (unused categories keep a rank, no line has it)."""
    rank, ranked = _sort_rank(arrow_strings(s.cat.categories.to_series()).combine_chunks())
    rank = np.append(rank, np.int32(-1))  # code -1 (missing) indexes the last slot
    return rank[s.array.codes], ranked


def _sort_rank(values):
    """(the rank of each of the Arrow strings ``values`` in sorted order, as int32; the values sorted).

    Sorted by UTF-8 bytes, which is code point order, as pandas sorts text.
    """
    import pyarrow.compute as pc

    order = pc.sort_indices(values).to_numpy()
    rank = np.empty(len(values), dtype=np.int32)
    rank[order] = np.arange(len(values), dtype=np.int32)
    return rank, values.take(order)


def _text(values, dtype) -> pd.Series:
    """Arrow strings as a pandas Series of ``dtype`` (the input column's text dtype)."""
    return pd.Series(values.to_pandas(types_mapper={values.type: dtype}.get), dtype=dtype, copy=False)


def _text_dtype(s: pd.Series):
    """The text dtype ids come out in: the column's, or its categories' for a categorical."""
    return s.cat.categories.dtype if isinstance(s.dtype, pd.CategoricalDtype) else s.dtype


def _wsum(key: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Sums of ``weights`` per key in line order (float64 even when there are no lines)."""
    return np.bincount(key, weights=weights, minlength=size).astype(np.float64, copy=False)


def _days(d: np.ndarray) -> np.ndarray:
    """Days since 1970 (``_NAT`` = missing) -> datetime64[ns]."""
    d = np.asarray(d, dtype=np.int64)
    return np.where(d == _NAT, _NAT, d * _DAY_NS).view("datetime64[ns]")


def _months(m: np.ndarray) -> np.ndarray:
    """Months since 1970-01 -> first days of the months, as pandas' ``to_period("M").to_timestamp()``."""
    return np.asarray(m, dtype=np.int64).astype("datetime64[M]").astype("datetime64[us]")  # as pandas 3 gives


#: Lines per chunk of the element-wise passes over lines (their temporaries stay in cache).
_CHUNK = 1 << 18


def _line_days(ns: np.ndarray, upto: int):
    """Per line of nanosecond dates ``ns``: the day since 1970 (int32), whether it is kept (before
    ``upto`` ns, not NaT); whether a kept line has a time of day; the first and last kept day.

    >>> day, keep, timed, span = _line_days(np.array([0, 86_400_000_000_000, _NAT]), 10**18)
    >>> day[:2].tolist(), keep.tolist(), timed, span
    ([0, 1], [True, True, False], False, (0, 1))
    """
    n = len(ns)
    day, keep = np.empty(n, np.int32), np.empty(n, dtype=bool)
    timed, lo, hi = False, None, None
    for a in range(0, n, _CHUNK):
        c, k = ns[a:a + _CHUNK], keep[a:a + _CHUNK]
        np.less(c, upto, out=k)
        k &= c != _NAT
        d = c // _DAY_NS
        day[a:a + _CHUNK] = d  # NaT and far dates wrap: not kept
        kd = d[k]
        if len(kd):
            lo = int(kd.min()) if lo is None else min(lo, int(kd.min()))
            hi = int(kd.max()) if hi is None else max(hi, int(kd.max()))
        d *= _DAY_NS
        timed = timed or bool(((d != c) & k).any())
    return day, keep, timed, (lo, hi)


def _line_months(day: np.ndarray, lo: int | None, hi: int | None) -> np.ndarray:
    """Per line: the month since 1970-01 of its day (int32), through a table of the days ``lo..hi``
    (days outside it get a month of the table's ends: such lines are not kept)."""
    month = np.zeros(len(day), np.int32)
    if lo is None:
        return month
    table = np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int32)
    for a in range(0, len(day), _CHUNK):
        np.take(table, day[a:a + _CHUNK] - np.int32(lo), mode="clip", out=month[a:a + _CHUNK])
    return month


def _margins(amount: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Per line: amount - cost, the amount itself where the cost is unknown (NaN).

    >>> _margins(np.array([10.0, 5.0]), np.array([7.0, np.nan])).tolist()
    [3.0, 5.0]
    """
    margin = np.empty_like(amount)
    for a in range(0, len(amount), _CHUNK):
        x, c, out = amount[a:a + _CHUNK], cost[a:a + _CHUNK], margin[a:a + _CHUNK]
        np.subtract(x, c, out=out)
        np.copyto(out, x, where=np.isnan(c))
    return margin


class _Lines:
    """Sales lines before ``as_of`` as arrays: ranked client / group codes, day, month, amount, margin."""

    def __init__(self, sales: pd.DataFrame, as_of: pd.Timestamp):
        self.as_of = as_of
        ns = sales["date"].to_numpy().view(np.int64)
        amount = sales["amount"].to_numpy()
        cost = sales["cost"].to_numpy() if "cost" in sales else None
        with ThreadPoolExecutor(1) as pool:  # ids and groups ranked (gathers, GIL released) beside the dates
            labels = pool.submit(_label_codes, sales)
            day, keep, timed, (d_lo, d_hi) = _line_days(ns, as_of.value)
            month = _line_months(day, d_lo, d_hi)
            margin = _margins(amount, cost) if cost is not None else None
            codes, self.cid_values, pg, self.pg_values = labels.result()
        keep &= codes >= 0
        if not keep.any():
            raise _NotCovered  # nothing before as_of: pandas' empty frames
        self.cid_dtype = _text_dtype(sales["client_id"])
        self.pg_dtype = _text_dtype(sales["product_group"]) if "product_group" in sales else None
        all_kept = bool(keep.all())
        take = (lambda x: x) if all_kept else (lambda x: x[keep])
        if timed and not all_kept:  # a time of day on a line kept by its date: is that line kept?
            timed = bool((take(ns) % _DAY_NS).any())
        if timed or bool(np.isnan(take(amount)).any()):
            raise _NotCovered  # times of day or missing amounts: pandas' rules
        self.code = take(codes)
        self.pg = take(pg)
        self.day = take(day)
        self.month = take(month)
        self.amount = take(amount)
        self.cost_known = cost is not None and not bool(np.isnan(take(cost)).all())
        self.margin = take(margin) if self.cost_known else None  # amount - cost, unknown cost counted as 0
        self.n_codes = len(self.cid_values)
        self.n_groups = len(self.pg_values) if self.pg_values is not None else 0
        self.m0 = int(self.month.min()) if len(self.month) else 0
        self.n_months = int(self.month.max()) - self.m0 + 1 if len(self.month) else 1
        if self.n_codes * self.n_months > _MAX_GRID or self.n_groups * self.n_months > _MAX_GRID:
            raise _NotCovered
        self._by_month = None
        self._mkey = None

    def _day_of(self, ts: pd.Timestamp) -> int:
        return ts.value // _DAY_NS

    # -------------------------------------------------------------- grid helpers
    def _grid(self, key: np.ndarray, size: int, weights: list[np.ndarray]):
        """Occupied cells of a dense grid (ascending) and the line count and sums of each."""
        if len(key) < FAST_MIN_ROWS:
            lines = np.bincount(key, minlength=size)
            cells = np.flatnonzero(lines)
            return cells, lines[cells], [_wsum(key, w, size)[cells] for w in weights]
        with ThreadPoolExecutor(2) as pool:  # weighted bincounts release the GIL; each sum is as alone
            sums = [pool.submit(_wsum, key, w, size) for w in weights]
            lines = np.bincount(key, minlength=size)
            cells = np.flatnonzero(lines)
            return cells, lines[cells], [f.result()[cells] for f in sums]

    def _per_day(self):
        """Per (client, day) with lines, in (client, day) order: codes, days, amount sums."""
        if not len(self.day):
            return np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0)
        d0 = int(self.day.min())
        n_days = int(self.day.max()) - d0 + 1
        block = max(1, _GRID_CELLS // n_days)  # clients per block
        n_blocks = -(-self.n_codes // block)
        rel = (self.day - d0).astype(np.int64)
        if n_blocks == 1:
            parts = [(np.arange(len(rel)), 0)]
        else:
            blk = (self.code // block).astype(np.int16 if n_blocks < 32000 else np.int32)
            order = np.argsort(blk, kind="stable")  # radix sort; keeps line order within a block
            bounds = np.searchsorted(blk[order], np.arange(n_blocks + 1))
            parts = [(order[bounds[b]:bounds[b + 1]], b * block) for b in range(n_blocks)]
        codes, days, sums = [], [], []
        for rows, first in parts:
            key = (self.code[rows].astype(np.int64) - first) * n_days + rel[rows]
            cells, _, (amt,) = self._grid(key, block * n_days if n_blocks > 1 else self.n_codes * n_days,
                                           [self.amount[rows]])
            codes.append((cells // n_days + first).astype(np.int32))
            days.append(cells % n_days + d0)
            sums.append(amt)
        return np.concatenate(codes), np.concatenate(days).astype(np.int64), np.concatenate(sums)

    def _order_grid(self):
        """The flat (client × day) grid of orders (True = the client's lines of that day sum to a
        positive amount), its number of days and first day; grid None when it would exceed
        :data:`_ORDER_GRID` cells.

        A day with only positive lines is an order whatever its sum, so marking the lines' cells
        answers for most days; only cells that also hold a return or a zero line are summed (in
        line order, as :meth:`_per_day` does).
        """
        d0 = int(self.day.min())
        n_days = int(self.day.max()) - d0 + 1
        if self.n_codes * n_days > _ORDER_GRID:
            return None, n_days, d0
        key = self.code.astype(np.int64)  # client * n_days + day - d0, in place
        key *= n_days
        key += self.day
        key -= d0
        grid = np.zeros(self.n_codes * n_days, dtype=np.uint8)
        grid[key] = 1
        nonpositive = self.amount <= 0
        if nonpositive.any():  # cells with a return or a zero line: 3, summed below
            grid[key[nonpositive]] |= 2
            # the lines of those cells: first those of the (client, month)s with such a line (a
            # small grid, and few lines), then the (client, day) grid's mark on those
            mkey = self._month_key()
            coarse = np.zeros(self.n_codes * self.n_months, dtype=bool)
            coarse[mkey[nonpositive]] = True
            near = np.flatnonzero(coarse[mkey])
            mixed = near[grid[key[near]] >= 2]
            cells, where = np.unique(key[mixed], return_inverse=True)
            total = np.bincount(where, weights=self.amount[mixed], minlength=len(cells))
            grid[cells] = total > 0
        return grid.view(bool), n_days, d0  # all 0 / 1 now: bool's fast nonzero

    def _order_stats(self, pool: ThreadPoolExecutor | None = None):
        """Per client code: orders, first and last order day (``_NAT`` = none), median gap in days.

        With a ``pool``, the second half of the clients is done there meanwhile (disjoint clients:
        the same numbers).
        """
        n = self.n_codes
        stats = (np.zeros(n, np.int64), np.full(n, _NAT, np.int64), np.full(n, _NAT, np.int64), np.full(n, np.nan))
        grid, n_days, d0 = self._order_grid()
        if grid is None:
            code, day, amt = self._per_day()
            pos = amt > 0
            _fill_order_stats(code[pos].astype(np.int64), day[pos], stats)
            return stats

        def rows(lo: int, hi: int) -> None:
            client, day = np.divmod(np.flatnonzero(grid[lo * n_days:hi * n_days]), n_days)
            client += lo
            day += d0
            _fill_order_stats(client, day, stats)

        half = n // 2
        other = pool.submit(rows, half, n) if pool is not None else None
        rows(0, half if other is not None else n)
        if other is not None:
            other.result()
        return stats

    # -------------------------------------------------------------- the aggregations
    def client_days(self) -> pd.DataFrame:
        code, day, amt = self._per_day()
        return pd.DataFrame({"client_id": _text(self.cid_values.take(code), self.cid_dtype),
                             "date": _days(day), "amount": amt})

    def _month_key(self) -> np.ndarray:
        """Each line's (client, month) cell: ``client * n_months + month - m0`` (computed once)."""
        if self._mkey is None:
            key = self.code.astype(np.int64)
            key *= self.n_months
            key += self.month
            key -= self.m0
            self._mkey = key
        return self._mkey

    def _month_cells(self):
        """Per (client, month) with lines, in (client, month) order: client codes, month offsets from
        ``m0``, line counts, revenue and margin sums (margin None without cost). Computed once: the
        summary's per-client totals come from it, and a stage asks for both."""
        if self._by_month is None:
            w = [self.amount] + ([self.margin] if self.cost_known else [])
            cells, lines, sums = self._grid(self._month_key(), self.n_codes * self.n_months, w)
            code, month = np.divmod(cells, self.n_months)
            self._by_month = (code, month, lines.astype(np.int64), sums[0], sums[1] if self.cost_known else None)
        return self._by_month

    def client_months(self) -> pd.DataFrame:
        code, month, lines, revenue, margin = self._month_cells()
        firsts = _months(np.arange(self.m0, self.m0 + self.n_months))  # one conversion per month
        return pd.DataFrame({"client_id": _text(self.cid_values.take(code), self.cid_dtype),
                             "month": firsts[month], "revenue": revenue,
                             "margin": np.nan if margin is None else margin, "lines": lines})

    def group_months(self) -> pd.DataFrame:
        ok = self.pg >= 0
        key = self.pg[ok].astype(np.int64) * self.n_months + (self.month[ok] - self.m0)
        cells, _, (rev,) = self._grid(key, self.n_groups * self.n_months, [self.amount[ok]])
        return pd.DataFrame({"product_group": _text(self.pg_values.take(cells // self.n_months), self.pg_dtype),
                             "month": _months(cells % self.n_months + self.m0), "revenue": rev})

    def _group_lines(self, lo: int):
        """The lines on or after day ``lo`` with a product group: their positions and (client, group)
        cells ``client * n_groups + group``."""
        sel = np.flatnonzero((self.day >= lo) & (self.pg >= 0))
        key = self.code[sel].astype(np.int64)
        key *= self.n_groups
        key += self.pg[sel]
        return sel, key

    def client_groups(self, months: int = 12) -> pd.DataFrame:
        sel, key = self._group_lines(self._day_of(months_back(self.as_of, months)))
        cells, _, (rev,) = self._grid(key, self.n_codes * self.n_groups, [self.amount[sel]])
        return pd.DataFrame({"client_id": _text(self.cid_values.take(cells // self.n_groups), self.cid_dtype),
                             "product_group": _text(self.pg_values.take(cells % self.n_groups), self.pg_dtype),
                             "revenue": rev})

    def _month_of(self, day: int) -> int:
        """The month offset (from ``m0``) of a day since 1970."""
        return int(np.datetime64(day, "D").astype("datetime64[M]").astype(np.int64)) - self.m0

    def _groups_since(self, lo: int) -> np.ndarray:
        """Per client code: the number of product groups it bought on or after day ``lo``."""
        ng = max(self.n_groups, 1)  # no groups: no lines, an empty column per client
        seen = np.zeros(self.n_codes * ng, dtype=bool)
        seen[self._group_lines(lo)[1]] = True
        return np.count_nonzero(seen.reshape(self.n_codes, ng), axis=1)

    def client_summary(self, months: int = 12) -> pd.DataFrame:
        n = self.n_codes
        # orders in the pool, each half of the clients in a thread of its own (numpy's sorts,
        # gathers and nonzero release the GIL): the month and window sums run here meanwhile; each
        # part is computed as alone, so the numbers do not depend on the threads
        self._month_key()  # both threads read it
        with ThreadPoolExecutor(2) as pool:
            order_stats = pool.submit(self._order_stats, pool)
            mcode, _, _, mrev, _ = self._month_cells()
            present = np.zeros(n, dtype=bool)
            present[mcode] = True
            total = _wsum(mcode, mrev, n)  # the months' sums
            lo = self._day_of(months_back(self.as_of, months))  # the last ``months`` months
            m6, m3 = self._day_of(months_back(self.as_of, 6)), self._day_of(months_back(self.as_of, 3))
            win = _Windows(self, [lo, max(lo, m6), max(lo, m3)])
            r12, m12, act = win.sums(lo, None, margin=True)
            l6 = win.sums(max(lo, m6))[0]
            p6 = win.sums(lo, max(lo, m6))[0]
            l3 = win.sums(max(lo, m3))[0]
            grp = self._groups_since(lo)
            orders, first, last, med = order_stats.result()
        ids = np.flatnonzero(present)
        return pd.DataFrame({
            "client_id": _text(self.cid_values.take(ids), self.cid_dtype),
            "first_date": _days(first[ids]), "last_date": _days(last[ids]), "orders": orders[ids].astype("int64"),
            "median_gap_days": med[ids], "revenue_total": total[ids], "revenue_12m": r12[ids],
            "margin_12m": m12[ids], "active_months_12m": act[ids].astype("int64"),
            "groups_12m": grp[ids].astype("int64"), "revenue_prev_6m": p6[ids], "revenue_last_6m": l6[ids],
            "revenue_last_3m": l3[ids]})


class _Windows:
    """Per-client sums over day windows ``[lo, hi)``: whole months from the (client, month) cells,
    the months a window starts or ends within from their lines (taken once for all windows, whose
    bounds are ``bounds``)."""

    def __init__(self, lines: "_Lines", bounds: list[int]):
        self.lines = lines
        self.cells = lines._month_cells()
        part = sorted({lines._month_of(b) for b in bounds if not self._first_of_month(b)})
        sel = np.flatnonzero(np.isin(lines.month, np.asarray(part, np.int32) + lines.m0)) if part else \
            np.zeros(0, np.int64)
        self.code, self.day, self.month, self.amount = lines.code[sel], lines.day[sel], lines.month[sel], lines.amount[sel]
        self.margin = lines.margin[sel] if lines.cost_known else None

    @staticmethod
    def _first_of_month(day: int) -> bool:
        d = np.datetime64(day, "D")
        return d == d.astype("datetime64[M]").astype("datetime64[D]")

    def sums(self, lo: int, hi: int | None = None, margin: bool = False):
        """(revenue, margin or NaN, months with lines) per client code over days ``[lo, hi)``
        (``hi`` None: to the end); margin and months only when ``margin``."""
        ln = self.lines
        n = ln.n_codes
        code, month, _, rev, mar = self.cells
        first_full = ln._month_of(lo) + (0 if self._first_of_month(lo) else 1)
        end_full = ln.n_months if hi is None else ln._month_of(hi)  # months before hi's own
        full = (month >= first_full) & (month < end_full)
        pm = self.month - ln.m0
        part = (pm < first_full) | (pm >= end_full)  # lines of months not counted whole, in the window
        part &= self.day >= lo
        if hi is not None:
            part &= self.day < hi
        fc, pc = code[full], self.code[part]
        revenue = _wsum(fc, rev[full], n)
        revenue += _wsum(pc, self.amount[part], n)
        if not margin:
            return revenue, None, None
        if ln.cost_known:
            m = _wsum(fc, mar[full], n)
            m += _wsum(pc, self.margin[part], n)
        else:
            m = np.full(n, np.nan)
        active = np.bincount(fc, minlength=n)  # whole months with lines, and the others with a line in
        seen = np.zeros(n * ln.n_months, dtype=bool)
        seen[pc.astype(np.int64) * ln.n_months + pm[part]] = True
        active += np.count_nonzero(seen.reshape(n, ln.n_months), axis=1)
        return revenue, m, active


def _fill_order_stats(oc: np.ndarray, od: np.ndarray, stats) -> None:
    """Write the orders, first and last order day and median gap of the clients in ``oc`` into
    ``stats`` (arrays by client code), from the orders' client codes and days in (client, day) order.

    >>> stats = (np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros(2, np.int64), np.full(2, np.nan))
    >>> _fill_order_stats(np.array([1, 1, 1, 1]), np.array([10, 11, 20, 21]), stats)
    >>> [s.tolist() for s in stats]
    [[0, 4], [0, 10], [0, 21], [nan, 1.0]]
    """
    orders, first, last, med = stats
    if not len(oc):
        return
    new = np.empty(len(oc), dtype=bool)  # the first order of each client
    new[0] = True
    np.not_equal(oc[1:], oc[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(oc)) - 1
    clients = oc[starts]
    orders[clients] = ends - starts + 1
    first[clients] = od[starts]
    last[clients] = od[ends]
    n_gaps = ends - starts
    has = n_gaps > 0
    if not has.any():
        return
    same = ~new[1:]
    gap = np.diff(od)[same]  # each client's gaps in day order, clients in code order
    span = int(gap.max()) + 1
    base = oc[1:][same].astype(np.int32 if (int(oc[-1]) + 1) * span < 2**31 else np.int64)
    base *= span
    key = base + gap.astype(base.dtype)
    key.sort(kind="stable")  # by client, then gap: sorted runs, fast
    key -= base  # the clients keep their places: each client's gaps, sorted
    at = (starts - np.arange(len(starts)))[has]  # where each client's gaps begin
    med[clients[has]] = (key[at + (n_gaps[has] - 1) // 2] + key[at + n_gaps[has] // 2]) / 2.0


# --------------------------------------------------------------------------------------------
# pandas engine (the reference)
# --------------------------------------------------------------------------------------------
def _pd_client_days(sales: pd.DataFrame, as_of) -> pd.DataFrame:
    """Per client and day: ``client_id, date, amount`` (days before ``as_of``)."""
    s = before(sales, as_of)
    return s.groupby(["client_id", "date"], as_index=False, observed=True)["amount"].sum()


def _pd_client_months(sales: pd.DataFrame, as_of) -> pd.DataFrame:
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


def _pd_group_months(sales: pd.DataFrame, as_of) -> pd.DataFrame:
    """Per product group and calendar month: ``product_group, month, revenue``."""
    s = before(sales, as_of)
    month = s["date"].dt.to_period("M").dt.to_timestamp()
    g = pd.DataFrame({"product_group": s["product_group"], "month": month, "revenue": s["amount"]})
    return (g.groupby(["product_group", "month"], as_index=False, observed=True)["revenue"].sum()
            .sort_values(["product_group", "month"], ignore_index=True))


def _pd_client_groups(sales: pd.DataFrame, as_of, months: int = 12) -> pd.DataFrame:
    """Per client and product group over the last ``months``: ``client_id, product_group, revenue``."""
    s = before(sales, as_of)
    s = s.loc[s["date"] >= months_back(as_of, months)]
    return (s.groupby(["client_id", "product_group"], as_index=False, observed=True)["amount"].sum()
            .rename(columns={"amount": "revenue"}).sort_values(["client_id", "product_group"], ignore_index=True))


def _pd_client_summary(sales: pd.DataFrame, as_of, months: int = 12) -> pd.DataFrame:
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

    out = pd.DataFrame(index=pd.Index(s["client_id"].dropna().unique(), name="client_id"))  # as groupby: no NaN id
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
