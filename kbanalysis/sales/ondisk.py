"""Sales lines kept on disk: the out-of-core engine of the per-client aggregations.

A large case (tens of millions of sales lines) need not fit in memory: the lines stay in the run
folder's Parquet file (``work/sales.parquet``) and :class:`SalesFile` runs the group-bys of
:mod:`kbanalysis.sales.engine` in DuckDB, with a memory limit and a temporary directory, so DuckDB
spills to disk beyond the limit. Only the results come into pandas (per client, client-day,
client-month, group-month), never the lines, and they are the frames the pandas reference engine
returns on the same lines: same rows, order, columns, dtypes and values (money sums up to the order
of addition). ``aggregate.client_summary(sales_file, as_of)`` and the other public aggregations
dispatch here.

>>> import tempfile, pandas as pd
>>> from kbanalysis.io.runfolder import RunFolder
>>> rf = RunFolder(tempfile.mkdtemp())
>>> rf.write_work("sales", pd.DataFrame({
...     "date": pd.to_datetime(["2024-01-05", "2024-01-05", "2024-03-10", "2024-03-20"]),
...     "client_id": ["a", "a", "a", "b"], "product_group": ["x", "y", "x", "x"],
...     "amount": [100.0, 50.0, 30.0, -5.0], "cost": [60.0, 30.0, 20.0, -3.0]}))
>>> sf = SalesFile(rf.work / "sales.parquet", memory_limit="256MB")
>>> len(sf)
4
>>> sf.client_summary("2024-04-01")[["client_id", "orders", "revenue_12m", "margin_12m"]]
  client_id  orders  revenue_12m  margin_12m
0         a       2        180.0        70.0
1         b       0         -5.0        -2.0
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd

from kbanalysis.sales.calendar import _as_ts, months_back

#: Money as DuckDB holds it: exact decimals (10 places), so that a sum is the same whatever the order in
#: which threads and spilled partitions add the lines (a float sum is not: reruns would differ in the last
#: bits, which a fitted forecast carries into its 10th digit); converted to float64 on the way out.
MONEY = "DECIMAL(38, 10)"

#: Columns of the reference's frames, in their order.
_SUMMARY_COLUMNS = ["client_id", "first_date", "last_date", "orders", "median_gap_days", "revenue_total",
                    "revenue_12m", "margin_12m", "active_months_12m", "groups_12m", "revenue_prev_6m",
                    "revenue_last_6m", "revenue_last_3m"]
_DAY_NS = 86_400_000_000_000


def _sql_text(s: str) -> str:
    """A SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def _text_dtype(dtype):
    """The text dtype a column of pandas ``dtype`` gives ids in (a categorical's categories' dtype)."""
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    return dtype if isinstance(dtype, pd.StringDtype) else pd.StringDtype(na_value=np.nan)


class SalesFile:
    """Sales lines kept on disk in Parquet; group-bys run in DuckDB, which spills to disk beyond its memory limit.

    The methods named after the functions of :mod:`kbanalysis.sales.engine` return the frames the pandas
    reference (``engine="pandas"``) returns on the same lines read as a frame
    (``RunFolder.read_work("sales", labels=("client_id", "product_group"))``): the ids come in the text
    dtype of the file's column, dates in the dtype pandas reads the ``date`` column as, months as
    ``to_period("M").to_timestamp()`` gives them. Lines with a missing ``client_id`` count nowhere (as
    in the array engine of :mod:`kbanalysis.sales.engine`); a missing or NaN amount or cost is missing.

    Parameters
    ----------
    path : str or Path
        The Parquet file of the lines: columns ``date`` (timestamp), ``client_id`` (text), ``amount``
        (number) and, when the case has them, ``product_group`` (text) and ``cost`` (number); others
        are kept for :meth:`query`.
    to_master : pandas.Series, optional
        Client id -> master client id: lines of an id in the index count for its master (see
        :meth:`with_masters`).
    memory_limit : str, optional
        DuckDB's memory limit, e.g. ``"2GB"`` (default: DuckDB's, 80% of the memory). Beyond it,
        DuckDB writes intermediate results to ``temp_dir``.
    temp_dir : str or Path, optional
        Where DuckDB spills (default: ``duckdb_tmp`` next to the Parquet file); created when needed.
    threads : int, optional
        DuckDB's threads (default: DuckDB's, one per core).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from kbanalysis.io.runfolder import RunFolder
    >>> rf = RunFolder(tempfile.mkdtemp())
    >>> rf.write_work("sales", pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-02-07"]),
    ...                                      "client_id": ["a", "a2"], "product_group": ["x", "x"],
    ...                                      "amount": [10.0, 5.0]}))
    >>> sf = SalesFile(rf.work / "sales.parquet", threads=1)
    >>> sf.client_months("2024-03-01")
      client_id      month  revenue  margin  lines
    0         a 2024-01-01     10.0     NaN      1
    1        a2 2024-02-01      5.0     NaN      1
    >>> sf.with_masters(pd.Series({"a2": "a"})).client_days("2024-03-01")
      client_id       date  amount
    0         a 2024-01-05    10.0
    1         a 2024-02-07     5.0
    """

    def __init__(self, path, *, to_master: pd.Series | None = None, memory_limit: str | None = None,
                 temp_dir=None, threads: int | None = None):
        import pyarrow.parquet as pq

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such sales file")
        self.memory_limit = memory_limit
        self.temp_dir = Path(temp_dir) if temp_dir is not None else self.path.parent / "duckdb_tmp"
        self.threads = threads
        schema = pq.read_schema(self.path)
        self.columns: list[str] = list(schema.names)
        missing = [c for c in ("date", "client_id", "amount") if c not in self.columns]
        if missing:
            raise ValueError(f"{self.path}: the sales lines lack the column(s) {', '.join(missing)}")
        plain = schema.empty_table().to_pandas().dtypes  # the dtypes pandas reads the columns as
        self._date_dtype = plain["date"]
        if not (isinstance(self._date_dtype, np.dtype) and self._date_dtype.kind == "M"):
            raise TypeError(f"{self.path}: column 'date' must be a timestamp without time zone, "
                            f"not {schema.field('date').type}")
        self._month_dtype = pd.Series([], dtype=self._date_dtype).dt.to_period("M").dt.to_timestamp().dtype
        self._id_dtype = _text_dtype(plain["client_id"])
        self._group_dtype = _text_dtype(plain["product_group"]) if "product_group" in plain else self._id_dtype
        self._masters: pd.Series | None = None
        if to_master is not None:
            self._masters = self._moved(to_master)
        self._upper: pd.Timestamp | None = None  # only lines before it (see before())
        self._con = None
        self._date_type: str | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ handles
    def _copy(self) -> "SalesFile":
        new = object.__new__(SalesFile)
        new.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("_con", "_lock")})
        new._con = None
        new._lock = threading.RLock()
        return new

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_con", "_lock")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._con = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        extra = "" if self._masters is None else f", {len(self._masters)} ids moved to masters"
        extra += "" if self._upper is None else f", before {self._upper.date()}"
        return f"SalesFile({str(self.path)!r}{extra})"

    @staticmethod
    def _moved(to_master: pd.Series) -> pd.Series:
        """The entries of ``to_master`` that move an id (text -> text), as :func:`kbanalysis.audit.structure._remap` uses."""
        ids = pd.Series(to_master.index, dtype="string")
        masters = pd.Series(to_master.to_numpy(), dtype="string")
        if ids.duplicated().any():
            dup = ids[ids.duplicated()].iloc[0]
            raise ValueError(f"to_master: the id {dup!r} appears more than once in the index")
        keep = (ids.notna() & masters.notna() & (ids != masters)).fillna(False).to_numpy(dtype=bool)
        return pd.Series(masters[keep].to_numpy(), index=pd.Index(ids[keep].to_numpy(), dtype="string"),
                         dtype="string")

    def with_masters(self, to_master: pd.Series) -> "SalesFile":
        """A new handle where each line's ``client_id`` ``c`` reads as ``to_master[c]`` when ``c`` is in the index.

        What :func:`kbanalysis.audit.structure._remap` does to a frame (duplicate cards' sales move to their
        master card), done by DuckDB as a left join on the small table of moved ids. On a handle that
        already has masters the maps compose (the new map applies to the remapped ids).

        Parameters
        ----------
        to_master : pandas.Series
            Client id (index) -> master client id; ids mapped to themselves or to a missing value stay.

        Returns
        -------
        SalesFile

        Examples
        --------
        >>> import tempfile, pandas as pd
        >>> from kbanalysis.io.runfolder import RunFolder
        >>> rf = RunFolder(tempfile.mkdtemp())
        >>> rf.write_work("sales", pd.DataFrame({"date": pd.to_datetime(["2024-01-05"] * 3),
        ...                                      "client_id": ["a", "b", "c"], "amount": [1.0, 2.0, 4.0]}))
        >>> sf = SalesFile(rf.work / "sales.parquet").with_masters(pd.Series({"b": "a", "c": "c"}))
        >>> sf.query("SELECT client_id, CAST(SUM(amount) AS DOUBLE) AS amount FROM sales GROUP BY 1 ORDER BY 1")
          client_id  amount
        0         a     3.0
        1         c     4.0
        """
        new = self._copy()
        moved = self._moved(to_master)
        if self._masters is not None and len(self._masters):
            old = self._masters  # id -> master before; the new map applies to those masters
            composed = pd.Series(moved.reindex(old.to_numpy()).to_numpy(), index=old.index, dtype="string").fillna(old)
            moved = pd.concat([composed, moved[~moved.index.isin(old.index)]])
            moved = self._moved(moved)
        new._masters = moved
        return new

    def before(self, as_of) -> "SalesFile":
        """A new handle on the lines strictly before ``as_of`` (as :func:`kbanalysis.sales.engine.before` cuts a frame).

        >>> import tempfile, pandas as pd
        >>> from kbanalysis.io.runfolder import RunFolder
        >>> rf = RunFolder(tempfile.mkdtemp())
        >>> rf.write_work("sales", pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-03-01"]),
        ...                                      "client_id": ["a", "b"], "amount": [1.0, 2.0]}))
        >>> len(SalesFile(rf.work / "sales.parquet").before("2024-02-01"))
        1
        """
        new = self._copy()
        as_of = _as_ts(as_of)
        new._upper = as_of if self._upper is None else min(self._upper, as_of)
        return new

    def close(self) -> None:
        """Close the DuckDB connection (a later query opens a new one)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> "SalesFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ DuckDB
    def _connection(self):
        """The handle's DuckDB connection, opened on first use with its settings and the ``sales`` view."""
        if self._con is not None:
            return self._con
        import duckdb
        import pyarrow as pa

        con = duckdb.connect(":memory:")
        try:
            if self.memory_limit is not None:
                con.execute(f"SET memory_limit = {_sql_text(self.memory_limit)}")
            self.temp_dir.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET temp_directory = {_sql_text(self.temp_dir)}")
            if self.threads is not None:
                con.execute(f"SET threads = {int(self.threads)}")
            con.execute("SET preserve_insertion_order = false")
            src = f"read_parquet({_sql_text(self.path)})"
            cols = []
            for c in self.columns:
                q = _name(c)
                if c in ("amount", "cost"):  # NaN: missing; exact decimals: sums in any order are the same
                    cols.append(f"CAST(NULLIF(CAST(s.{q} AS DOUBLE), 'NaN'::DOUBLE) AS {MONEY}) AS {q}")
                elif c == "client_id" and self._masters is not None and len(self._masters):
                    cols.append("COALESCE(m.master_id, CAST(s.client_id AS VARCHAR)) AS client_id")
                elif c in ("client_id", "product_group"):
                    cols.append(f"CAST(s.{q} AS VARCHAR) AS {q}")
                else:
                    cols.append(f"s.{q}")
            for c in ("product_group", "cost"):
                if c not in self.columns:
                    cols.append(f"CAST(NULL AS {'VARCHAR' if c == 'product_group' else MONEY}) AS {c}")
            join = ""
            if self._masters is not None and len(self._masters):
                table = pa.table({"client_id": pa.array(self._masters.index.to_numpy(dtype=object), pa.string()),
                                  "master_id": pa.array(self._masters.to_numpy(dtype=object), pa.string())})
                con.register("_masters_arrow", table)
                con.execute("CREATE TEMP TABLE _masters AS SELECT * FROM _masters_arrow")
                con.unregister("_masters_arrow")
                join = " LEFT JOIN _masters m ON CAST(s.client_id AS VARCHAR) = m.client_id"
            where = ""
            if self._upper is not None:
                date_type = con.execute(f"DESCRIBE SELECT date FROM {src}").fetchall()[0][1]
                where = f" WHERE s.date < CAST({_sql_text(self._upper)} AS {date_type})"
            con.execute(f"CREATE TEMP VIEW sales AS SELECT {', '.join(cols)} FROM {src} s{join}{where}")
            self._date_type = con.execute("DESCRIBE SELECT date FROM sales").fetchall()[0][1]
        except BaseException:
            con.close()
            raise
        self._con = con
        return con

    def _arrow(self, sql: str, params=None):
        """The Arrow table of a query on the ``sales`` view."""
        with self._lock:
            con = self._connection()
            rel = con.sql(sql, params=params) if params is not None else con.sql(sql)
            if rel is None:
                return None
            return rel.to_arrow_table()

    def _ts(self, ts: pd.Timestamp) -> str:
        """A date as a SQL constant of the ``date`` column's type (compared without a cast of the column)."""
        with self._lock:
            self._connection()
        return f"CAST({_sql_text(pd.Timestamp(ts).isoformat(sep=' '))} AS {self._date_type})"

    def query(self, sql: str, params=None) -> pd.DataFrame:
        """The result of a SQL query in which the view ``sales`` is the lines (ids read through the masters;
        ``amount`` and ``cost`` as exact decimals, :data:`MONEY`).

        Parameters
        ----------
        sql : str
            A DuckDB query; ``?`` or ``$name`` placeholders take ``params``.
        params : list or dict, optional

        Returns
        -------
        pandas.DataFrame
            Empty for a statement that returns no rows.

        Examples
        --------
        >>> import tempfile, pandas as pd
        >>> from kbanalysis.io.runfolder import RunFolder
        >>> rf = RunFolder(tempfile.mkdtemp())
        >>> rf.write_work("sales", pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-03-01"]),
        ...                                      "client_id": ["a", "b"], "amount": [1.0, 2.0]}))
        >>> SalesFile(rf.work / "sales.parquet").query("SELECT CAST(SUM(amount) AS DOUBLE) AS s FROM sales "
        ...                                            "WHERE amount > ?", [1.5])
             s
        0  2.0
        """
        t = self._arrow(sql, params)
        return pd.DataFrame() if t is None else t.to_pandas()

    def _frame(self, sql: str, kinds: dict[str, str]) -> pd.DataFrame:
        """A query's result as the reference's frame: each column as ``kinds`` says (id / group / date /
        month / float / int), in that order."""
        t = self._arrow(sql)
        out = {}
        for name, kind in kinds.items():
            col = t.column(name)
            if kind in ("id", "group"):
                dtype = self._id_dtype if kind == "id" else self._group_dtype
                out[name] = pd.Series(col.to_pandas(types_mapper={col.type: dtype}.get), dtype=dtype, copy=False)
            elif kind in ("date", "month"):
                s = col.to_pandas()
                out[name] = s.astype(self._date_dtype if kind == "date" else self._month_dtype, copy=False)
            elif kind == "int":
                out[name] = col.to_pandas().astype("int64", copy=False)
            else:
                out[name] = _floats(col)
        return pd.DataFrame(out, index=pd.RangeIndex(t.num_rows))

    # ------------------------------------------------------------------ facts
    def __len__(self) -> int:
        """The number of lines (before the bound of :meth:`before`, when it has one)."""
        return int(self._arrow("SELECT COUNT(*) AS n FROM sales").column(0)[0].as_py())

    def has_cost(self) -> bool:
        """True when some line has a cost (not missing, not NaN), as :func:`kbanalysis.sales.engine.has_cost`."""
        t = self._arrow("SELECT 1 AS x FROM sales WHERE cost IS NOT NULL LIMIT 1")
        return t.num_rows > 0

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The first and last date of the lines (``NaT, NaT`` without lines).

        >>> import tempfile, pandas as pd
        >>> from kbanalysis.io.runfolder import RunFolder
        >>> rf = RunFolder(tempfile.mkdtemp())
        >>> rf.write_work("sales", pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-01-05"]),
        ...                                      "client_id": ["a", "b"], "amount": [1.0, 2.0]}))
        >>> SalesFile(rf.work / "sales.parquet").date_range()
        (Timestamp('2024-01-05 00:00:00'), Timestamp('2024-03-01 00:00:00'))
        """
        f = self._frame("SELECT MIN(date) AS lo, MAX(date) AS hi FROM sales", {"lo": "date", "hi": "date"})
        return f["lo"].iloc[0], f["hi"].iloc[0]

    # ------------------------------------------------------------------ the aggregations
    def client_days(self, as_of) -> pd.DataFrame:
        """Per client and day: ``client_id, date, amount`` (days before ``as_of``), as
        :func:`kbanalysis.sales.engine.client_days`."""
        a = self._ts(_as_ts(as_of))
        return self._frame(f"""
            SELECT client_id, date, COALESCE(SUM(amount), 0) AS amount
            FROM sales WHERE date < {a} AND client_id IS NOT NULL
            GROUP BY client_id, date ORDER BY client_id, date""",
                           {"client_id": "id", "date": "date", "amount": "float"})

    def client_months(self, as_of) -> pd.DataFrame:
        """Per client and calendar month: ``client_id, month, revenue, margin, lines``, as
        :func:`kbanalysis.sales.engine.client_months` (``margin`` NaN when no line before ``as_of`` has a cost)."""
        a = self._ts(_as_ts(as_of))
        return self._frame(f"""
            WITH m AS MATERIALIZED (
                SELECT client_id, date_trunc('month', date) AS month, SUM(amount) AS revenue,
                       SUM(amount - COALESCE(cost, 0)) AS margin, COUNT(*) AS lines, COUNT(cost) AS n_cost
                FROM sales WHERE date < {a} GROUP BY ALL)
            SELECT client_id, month, COALESCE(revenue, 0) AS revenue,
                   CASE WHEN (SELECT SUM(n_cost) FROM m) > 0 THEN COALESCE(margin, 0) END AS margin, lines
            FROM m WHERE client_id IS NOT NULL ORDER BY client_id, month""",
                           {"client_id": "id", "month": "month", "revenue": "float", "margin": "float",
                            "lines": "int"})

    def group_months(self, as_of) -> pd.DataFrame:
        """Per product group and calendar month: ``product_group, month, revenue``, as
        :func:`kbanalysis.sales.engine.group_months`."""
        a = self._ts(_as_ts(as_of))
        return self._frame(f"""
            SELECT product_group, date_trunc('month', date) AS month, COALESCE(SUM(amount), 0) AS revenue
            FROM sales WHERE date < {a} AND product_group IS NOT NULL
            GROUP BY ALL ORDER BY product_group, month""",
                           {"product_group": "group", "month": "month", "revenue": "float"})

    def client_groups(self, as_of, months: int = 12) -> pd.DataFrame:
        """Per client and product group over the last ``months``: ``client_id, product_group, revenue``, as
        :func:`kbanalysis.sales.engine.client_groups`."""
        as_of = _as_ts(as_of)
        a, start = self._ts(as_of), self._ts(months_back(as_of, months))
        return self._frame(f"""
            SELECT client_id, product_group, COALESCE(SUM(amount), 0) AS revenue
            FROM sales WHERE date < {a} AND date >= {start} AND client_id IS NOT NULL AND product_group IS NOT NULL
            GROUP BY ALL ORDER BY client_id, product_group""",
                           {"client_id": "id", "product_group": "group", "revenue": "float"})

    def client_summary(self, as_of, months: int = 12) -> pd.DataFrame:
        """One row per client with sales before ``as_of``, as :func:`kbanalysis.sales.engine.client_summary`.

        Columns ``client_id, first_date, last_date, orders, median_gap_days, revenue_total,
        revenue_12m, margin_12m, active_months_12m, groups_12m, revenue_prev_6m, revenue_last_6m,
        revenue_last_3m``. The lines are summed per client and day once (orders are days with a
        positive total); the window sums add up those day sums.
        """
        as_of = _as_ts(as_of)
        a, s = self._ts(as_of), self._ts(months_back(as_of, months))
        m6, m3 = self._ts(months_back(as_of, 6)), self._ts(months_back(as_of, 3))
        sql = f"""
            WITH days AS MATERIALIZED (
                SELECT client_id, date, SUM(amount) AS amt, SUM(amount - COALESCE(cost, 0)) AS mar,
                       COUNT(cost) AS n_cost
                FROM sales WHERE date < {a} GROUP BY client_id, date),
            ords AS (
                SELECT client_id, COUNT(*) AS orders, MIN(date) AS first_date, MAX(date) AS last_date,
                       median(gap) AS median_gap_days
                FROM (SELECT client_id, date,
                             (epoch_ns(date) - epoch_ns(lag(date) OVER (PARTITION BY client_id ORDER BY date)))
                                 // {_DAY_NS} AS gap
                      FROM days WHERE amt > 0 AND client_id IS NOT NULL)
                GROUP BY client_id),
            per AS (
                SELECT client_id, SUM(amt) AS revenue_total,
                       SUM(amt) FILTER (WHERE date >= {s}) AS revenue_12m,
                       SUM(mar) FILTER (WHERE date >= {s}) AS margin_12m,
                       COUNT(DISTINCT date_trunc('month', date)) FILTER (WHERE date >= {s}) AS active_months_12m,
                       SUM(amt) FILTER (WHERE date >= {s} AND date < {m6}) AS revenue_prev_6m,
                       SUM(amt) FILTER (WHERE date >= {s} AND date >= {m6}) AS revenue_last_6m,
                       SUM(amt) FILTER (WHERE date >= {s} AND date >= {m3}) AS revenue_last_3m
                FROM days WHERE client_id IS NOT NULL GROUP BY client_id),
            grp AS (
                SELECT client_id, COUNT(DISTINCT product_group) AS groups_12m
                FROM sales WHERE date < {a} AND date >= {s} AND client_id IS NOT NULL GROUP BY client_id)
            SELECT per.client_id, ords.first_date, ords.last_date, COALESCE(ords.orders, 0) AS orders,
                   ords.median_gap_days, COALESCE(per.revenue_total, 0) AS revenue_total,
                   COALESCE(per.revenue_12m, 0) AS revenue_12m,
                   CASE WHEN (SELECT SUM(n_cost) FROM days) > 0 THEN COALESCE(per.margin_12m, 0) END AS margin_12m,
                   per.active_months_12m, COALESCE(grp.groups_12m, 0) AS groups_12m,
                   COALESCE(per.revenue_prev_6m, 0) AS revenue_prev_6m,
                   COALESCE(per.revenue_last_6m, 0) AS revenue_last_6m,
                   COALESCE(per.revenue_last_3m, 0) AS revenue_last_3m
            FROM per LEFT JOIN ords ON per.client_id = ords.client_id
                     LEFT JOIN grp ON per.client_id = grp.client_id
            ORDER BY per.client_id"""
        kinds = dict(zip(_SUMMARY_COLUMNS, ["id", "date", "date", "int", "float", "float", "float", "float", "int",
                                            "int", "float", "float", "float"]))
        return self._frame(sql, kinds)

    # ------------------------------------------------------------------ lines and windows for the checks
    def __contains__(self, column: str) -> bool:
        """Whether the file has the column (the canonical sales table has all of them, maybe empty)."""
        return column in self.columns

    def buyers(self, as_of) -> np.ndarray:
        """The distinct ids of clients with a positive line before ``as_of``, as text (unordered).

        >>> import tempfile, pandas as pd
        >>> from kbanalysis.io.runfolder import RunFolder
        >>> rf = RunFolder(tempfile.mkdtemp())
        >>> rf.write_work("sales", pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-01-06", "2024-05-01"]),
        ...                                      "client_id": ["a", "b", "c"], "amount": [1.0, -2.0, 3.0]}))
        >>> SalesFile(rf.work / "sales.parquet").buyers("2024-04-01").tolist()
        ['a']
        """
        t = self._arrow(f"SELECT DISTINCT client_id FROM sales WHERE date < {self._ts(_as_ts(as_of))} AND amount > 0 "
                        "AND client_id IS NOT NULL")
        return np.asarray(t.column(0).to_pylist(), dtype=object)

    def window_groups(self, start, end, cols: list[str]) -> pd.DataFrame:
        """The distinct non-missing combinations of ``cols`` among the lines dated in ``[start, end)`` and their
        line count (column ``0``), as :func:`kbanalysis.audit.cleaning.window_groups` gives them for a frame."""
        names = ", ".join(_name(c) for c in cols)
        t = self._arrow(f"SELECT {names}, COUNT(*) AS n FROM sales WHERE date >= {self._ts(start)} AND date < "
                        f"{self._ts(end)} AND " + " AND ".join(f"{_name(c)} IS NOT NULL" for c in cols)
                        + f" GROUP BY {names}")
        out = t.to_pandas()
        for c in cols:
            out[c] = out[c].astype(self._id_dtype)
        return out.rename(columns={"n": 0})

    def window_totals(self, start, end, ids) -> pd.DataFrame:
        """Per client of ``ids``: ``amount``, ``last`` date and ``lines`` of its lines dated in ``[start, end)``,
        indexed by client id, as :func:`kbanalysis.audit.cleaning.window_totals` gives them for a frame."""
        t = self._arrow(f"SELECT client_id, SUM(amount) AS amount, MAX(date) AS last, COUNT(*) AS lines FROM sales "
                        f"WHERE date >= {self._ts(start)} AND date < {self._ts(end)} AND client_id IN "
                        "(SELECT unnest($ids)) GROUP BY client_id ORDER BY client_id", {"ids": _texts(ids)})
        out = t.to_pandas()
        return pd.DataFrame({"amount": _floats(t.column("amount")).fillna(0.0).to_numpy(),
                             "last": out["last"].astype(self._date_dtype).to_numpy(),
                             "lines": out["lines"].astype("int64").to_numpy()},
                            index=pd.Index(out["client_id"].astype("string").to_numpy(), name="client_id"))

    def deal_lines(self, deal_ids, client_ids, start, end, as_of=None) -> pd.DataFrame:
        """The lines a won deal could have brought, indexed by their spreadsheet row ``_row``: lines whose
        ``doc_id`` is one of ``deal_ids``, and lines of ``client_ids`` dated in ``[start, end)`` (all before
        ``as_of`` when given). Columns ``date, client_id, product_group, amount, doc_id``."""
        cond = ["doc_id IN (SELECT unnest($deals))"] if "doc_id" in self.columns else []
        if pd.notna(start) and pd.notna(end):
            cond.append(f"(client_id IN (SELECT unnest($clients)) AND date >= {self._ts(start)} AND "
                        f"date < {self._ts(end)})")
        if not cond:
            cond = ["FALSE"]
        upper = f" AND date < {self._ts(_as_ts(as_of))}" if as_of is not None else ""
        doc = "doc_id" if "doc_id" in self.columns else "CAST(NULL AS VARCHAR) AS doc_id"
        params = {"deals": _texts(deal_ids), "clients": _texts(client_ids)}
        params = {k: v for k, v in params.items() if f"${k}" in " ".join(cond)}
        t = self._arrow(f"SELECT _row, date, client_id, product_group, amount, {doc} FROM sales "
                        f"WHERE ({' OR '.join(cond)}){upper} ORDER BY _row", params)
        return self._lines_frame(t)

    def lines_at(self, rows, columns: list[str]) -> pd.DataFrame:
        """The lines of the given spreadsheet rows (``_row``), with ``columns``, indexed by ``_row``."""
        t = self._arrow(f"SELECT _row, {', '.join(_name(c) for c in columns)} FROM sales WHERE _row IN "
                        "(SELECT unnest($rows)) ORDER BY _row", {"rows": [int(r) for r in rows]})
        return self._lines_frame(t)

    def _lines_frame(self, t) -> pd.DataFrame:
        out = t.to_pandas()
        if "amount" in out:
            out["amount"] = _floats(t.column("amount")).to_numpy()
        for c in ("client_id", "product_group", "doc_id"):
            if c in out:
                out[c] = out[c].astype(self._id_dtype)
        if "date" in out:
            out["date"] = out["date"].astype(self._date_dtype)
        return out.set_index(pd.Index(out.pop("_row").astype("int64").to_numpy()))

    def costed_group_totals(self, start, end) -> pd.DataFrame:
        """Per product group: ``amount`` and ``cost`` of the lines with a cost dated in ``[start, end)``."""
        t = self._arrow(f"SELECT product_group, SUM(amount) AS amount, SUM(cost) AS cost FROM sales "
                        f"WHERE cost IS NOT NULL AND product_group IS NOT NULL AND date >= {self._ts(start)} AND "
                        f"date < {self._ts(end)} GROUP BY product_group ORDER BY product_group")
        return pd.DataFrame({c: _floats(t.column(c)).to_numpy() for c in ("amount", "cost")},
                            index=pd.Index(t.column("product_group").to_pylist(), dtype=object))

    def span(self, as_of, start) -> dict:
        """What the load checks about the dates (see :func:`kbanalysis.run.workbook.sales_span`)."""
        a, s = self._ts(_as_ts(as_of)), self._ts(start)
        t = self._arrow(f"""SELECT MIN(date) AS first, MAX(date) AS last, COUNT(*) FILTER (WHERE date < {a}) AS past,
                COUNT(*) FILTER (WHERE date < {a} AND date >= {s}) AS recent, MAX(date) FILTER (WHERE date < {a})
                AS last_past, COUNT(DISTINCT date_trunc('month', date)) FILTER (WHERE date < {a}) AS months
            FROM sales""").to_pylist()[0]
        return {"first": pd.Timestamp(t["first"]), "last": pd.Timestamp(t["last"]), "past": t["past"] > 0,
                "recent": t["recent"] > 0, "last_past": pd.Timestamp(t["last_past"]), "months": int(t["months"])}


def _floats(col) -> pd.Series:
    """An Arrow column of numbers (exact decimals included) as float64."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_decimal(col.type):
        col = pc.cast(col, pa.float64())
    return col.to_pandas().astype("float64", copy=False)


def _name(c: str) -> str:
    """A column name quoted for SQL."""
    return '"' + str(c).replace('"', '""') + '"'


def _texts(values) -> list:
    """Ids as a list of Python strings (missing ones left out), for a DuckDB list parameter."""
    return [str(x) for x in pd.Series(values, dtype="object").dropna().tolist()]
