"""Backtests of the workbook on real data whose future is known.

The UCI Online Retail case (``../shared/real-data/uci-online-retail/case``: a UK gift-ware
wholesaler, clients + sales only) is cut at 2011-09-01; the raw file next to it holds what
happened next. The functions here compare what the workbook said at the cut with that future:

* :func:`lost_precision` — of the clients called ``lost``, the share that really did **not** come
  back within the next three months (no line with a CustomerID and a positive unit price dated
  2011-09-01 … 2011-11-30), next to the same figure for a plain rule (:func:`plain_lost_rule`);
* :func:`forecast_accuracy` — the ``history`` forecast (``ALL`` rows of ``forecast.csv``) against the
  real monthly revenue, with the case's amount definition (:func:`read_online_retail`);
* :func:`ranking_quality` — how the reactivation priority ranks the lost clients who did return
  (share of returners in the top decile against overall, rank correlation, AUC);
* :func:`online_retail_backtest` — all of it at once, straight from the package functions
  (:func:`kbanalysis.io.case.load_case`, :func:`kbanalysis.audit.core.audit_table`,
  :func:`kbanalysis.forecast.model.forecast_table`) or from the files of a finished run folder.

Nothing here writes into the repository; real data is only read (see ``data/real/README.md``).

>>> s = pd.DataFrame({"client_id": ["a"] * 4 + ["b"] * 3,
...     "date": pd.to_datetime(["2011-01-03", "2011-01-17", "2011-01-31", "2011-02-14",
...                             "2011-05-01", "2011-06-01", "2011-08-20"]),
...     "doc_id": ["1", "2", "3", "4", "5", "6", "7"], "amount": [10.0] * 7})
>>> r = plain_lost_rule(s, "2011-09-01")
>>> r[["client_id", "invoices", "median_gap_days", "days_silent", "lost"]]
  client_id  invoices  median_gap_days  days_silent   lost
0         a         4             14.0          199   True
1         b         3             55.5           12  False
>>> lost_precision(r.loc[r["lost"], "client_id"], pd.Index(["b"]))
{'n_flagged': 1, 'n_returned': 0, 'n_not_returned': 1, 'precision': 1.0}
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: The cut of the online-retail case and the last day of the three months after it.
AS_OF = "2011-09-01"
END = "2011-11-30"

#: Relative paths inside the real-data folder.
RETAIL_CASE = Path("uci-online-retail") / "case"
RETAIL_RAW = Path("uci-online-retail") / "online_retail.csv.gz"

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------
# where the real data is, and reading the raw file
# ------------------------------------------------------------------------------------------
def real_data_dir(path=None) -> Path:
    """The folder of the real public datasets.

    ``path`` when given (non-empty), else the environment variable ``KBANALYSIS_REAL_DATA``,
    else ``../shared/real-data`` next to the repository. The folder may not exist: callers check.

    >>> real_data_dir("/tmp/x")
    PosixPath('/tmp/x')
    """
    if path:
        return Path(path)
    env = os.environ.get("KBANALYSIS_REAL_DATA")
    if env:
        return Path(env)
    return (REPO.parent / "shared" / "real-data").resolve()


def read_online_retail(path) -> pd.DataFrame:
    """The raw UCI Online Retail lines the case is made of: with a CustomerID and a positive unit price.

    Returns ``client_id`` (CustomerID as text, ``17850``), ``date`` (the invoice day, midnight),
    ``doc_id`` (InvoiceNo; ``C…`` = cancellation), ``amount`` (Quantity × UnitPrice, returns
    negative) — the amount definition of ``uci-online-retail/case/sales.csv``.
    """
    raw = pd.read_csv(path, usecols=["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"],
                      dtype={"InvoiceNo": str})
    raw = raw.loc[raw["CustomerID"].notna() & (raw["UnitPrice"] > 0)]
    return pd.DataFrame({
        "client_id": pd.array(raw["CustomerID"].astype("int64").astype(str), dtype="string"),
        "date": pd.to_datetime(raw["InvoiceDate"]).dt.normalize().astype("datetime64[ns]").to_numpy(),
        "doc_id": pd.array(raw["InvoiceNo"], dtype="string"),
        "amount": (raw["Quantity"] * raw["UnitPrice"]).to_numpy(dtype="float64"),
    }).reset_index(drop=True)


# ------------------------------------------------------------------------------------------
# who came back
# ------------------------------------------------------------------------------------------
def returned_clients(lines: pd.DataFrame, start, end) -> pd.Index:
    """Clients with at least one line dated ``start`` … ``end`` (both days included), sorted.

    >>> l = pd.DataFrame({"client_id": ["a", "b", "c"],
    ...                   "date": pd.to_datetime(["2011-08-31", "2011-09-01", "2011-11-30"])})
    >>> returned_clients(l, "2011-09-01", "2011-11-30").tolist()
    ['b', 'c']
    """
    d = lines["date"]
    m = (d >= pd.Timestamp(start)) & (d <= pd.Timestamp(end))
    return pd.Index(sorted(pd.unique(lines.loc[m, "client_id"].astype(str))), dtype=object)


def plain_lost_rule(sales: pd.DataFrame, as_of, *, min_invoices: int = 3, min_days: float = 60,
                    gap_multiple: float = 3.0) -> pd.DataFrame:
    """A plain benchmark of ``lost``: at least ``min_invoices`` invoices and silent for more than
    ``max(min_days, gap_multiple × own median gap)`` days.

    An *invoice* is a distinct ``doc_id`` (a line without one counts its day as the invoice), cancellations
    included, dated by its first line; the gaps are the days between consecutive distinct invoice
    dates before ``as_of``; *silent* = days from the last invoice to ``as_of``.

    Returns ``client_id, invoices, median_gap_days, days_silent, lost_after_days, lost`` for every
    client with an invoice before ``as_of`` (see the module example).
    """
    as_of = pd.Timestamp(as_of).normalize()
    s = sales.loc[sales["date"] < as_of]
    ids = s["client_id"].astype(str).to_numpy()
    doc = s["doc_id"].astype("string") if "doc_id" in s else pd.Series(pd.NA, index=s.index, dtype="string")
    doc = doc.fillna("day:" + s["date"].dt.strftime("%Y-%m-%d").astype("string")).to_numpy()
    inv = pd.DataFrame({"client_id": ids, "doc": doc, "date": s["date"].to_numpy()}).groupby(
        ["client_id", "doc"], as_index=False)["date"].min()
    n = inv.groupby("client_id")["doc"].size()
    days = inv[["client_id", "date"]].drop_duplicates().sort_values(["client_id", "date"])
    gaps = days.groupby("client_id")["date"].diff().dt.days
    med = gaps.groupby(days["client_id"]).median().reindex(n.index)
    last = inv.groupby("client_id")["date"].max().reindex(n.index)
    silent = (as_of - last).dt.days
    after = np.fmax(float(min_days), gap_multiple * med.to_numpy(dtype="float64"))
    lost = (n.to_numpy() >= min_invoices) & (silent.to_numpy() > after)
    return pd.DataFrame({"client_id": n.index.astype(str), "invoices": n.to_numpy(dtype="int64"),
                         "median_gap_days": med.to_numpy(dtype="float64"),
                         "days_silent": silent.to_numpy(dtype="int64"), "lost_after_days": after,
                         "lost": lost}).sort_values("client_id", ignore_index=True)


def lost_precision(flagged, returned) -> dict:
    """How many of the ``flagged`` clients did not return: the precision of a ``lost`` call.

    ``precision`` = not returned / flagged (NaN when nothing is flagged).

    >>> lost_precision(["a", "b", "c", "d"], ["a"])
    {'n_flagged': 4, 'n_returned': 1, 'n_not_returned': 3, 'precision': 0.75}
    """
    f = pd.Index(pd.unique(pd.Series(list(flagged), dtype=object).astype(str)))
    back = f.isin(pd.Index(list(returned)).astype(str))
    n = len(f)
    return {"n_flagged": int(n), "n_returned": int(back.sum()), "n_not_returned": int(n - back.sum()),
            "precision": float((n - back.sum()) / n) if n else float("nan")}


# ------------------------------------------------------------------------------------------
# forecast against the real months
# ------------------------------------------------------------------------------------------
def monthly_revenue(lines: pd.DataFrame, start, end) -> pd.DataFrame:
    """Revenue of every calendar month from ``start``'s to ``end``'s (days ``start`` … ``end``).

    Returns ``month`` (``YYYY-MM``), ``actual`` (0 for a month without lines).

    >>> l = pd.DataFrame({"date": pd.to_datetime(["2011-09-02", "2011-09-30", "2011-11-01"]),
    ...                   "amount": [10.0, -2.0, 5.0]})
    >>> monthly_revenue(l, "2011-09-01", "2011-11-30")
         month  actual
    0  2011-09     8.0
    1  2011-10     0.0
    2  2011-11     5.0
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    m = (lines["date"] >= start) & (lines["date"] <= end)
    x = lines.loc[m]
    got = x.groupby(x["date"].dt.strftime("%Y-%m"))["amount"].sum()
    months = pd.period_range(start, end, freq="M").strftime("%Y-%m")
    return pd.DataFrame({"month": list(months), "actual": got.reindex(months).fillna(0.0).to_numpy()})


def forecast_accuracy(forecast: pd.DataFrame, actual: pd.DataFrame, columns=("history",),
                      group: str = "ALL") -> pd.DataFrame:
    """Forecast columns of the ``group`` rows of ``forecast.csv`` against the actual months.

    Returns ``month, actual`` and, per forecast column ``c``: ``c, c_error`` (forecast − actual),
    ``c_pct_error`` (error / actual). ``attrs["summary"]`` holds, per column, ``wape`` (Σ|error| /
    Σ actual) and ``bias`` (Σ error / Σ actual) over the months that have both.

    >>> fc = pd.DataFrame({"month": ["2011-09", "2011-10"], "product_group": ["ALL", "ALL"],
    ...                    "history": [90.0, 90.0]})
    >>> act = pd.DataFrame({"month": ["2011-09", "2011-10"], "actual": [100.0, 120.0]})
    >>> r = forecast_accuracy(fc, act)
    >>> r[["month", "history", "actual", "history_pct_error"]]
         month  history  actual  history_pct_error
    0  2011-09     90.0   100.0              -0.10
    1  2011-10     90.0   120.0              -0.25
    >>> {k: round(v, 3) for k, v in r.attrs["summary"]["history"].items()}
    {'wape': 0.182, 'bias': -0.182}
    """
    f = forecast.loc[forecast["product_group"].astype(str) == group].copy()
    f["month"] = pd.to_datetime(f["month"].astype(str)).dt.strftime("%Y-%m")
    out = actual[["month", "actual"]].merge(f[["month", *columns]], on="month", how="left")
    summary = {}
    for c in columns:
        e = out[c] - out["actual"]
        out[f"{c}_error"] = e
        out[f"{c}_pct_error"] = e / out["actual"].where(out["actual"] != 0)
        ok = e.notna()
        den = out.loc[ok, "actual"].abs().sum()
        summary[c] = {"wape": float(e[ok].abs().sum() / den) if den else float("nan"),
                      "bias": float(e[ok].sum() / den) if den else float("nan")}
    cols = ["month"] + [x for c in columns for x in (c,)] + ["actual"] + [
        x for c in columns for x in (f"{c}_error", f"{c}_pct_error")]
    out = out[cols]
    out.attrs["summary"] = summary
    return out


# ------------------------------------------------------------------------------------------
# the reactivation priority against who came back
# ------------------------------------------------------------------------------------------
def ranking_quality(ranked: pd.DataFrame, returned, *, score: str = "score", id_col: str = "client_id",
                    value: pd.Series | None = None, top: float = 0.1) -> dict:
    """How well a call list ranks the clients who came back.

    ``ranked`` holds one row per client with a ``score`` (higher = call first). Returns ``n``,
    ``returners``, ``share_overall`` (returners / n), ``top_n`` (the first ⌈top × n⌉ by score),
    ``share_top`` (returners among them), ``lift`` (share_top / share_overall), ``spearman`` (rank
    correlation of the score with having returned, 0/1: > 0 = returners rank higher), ``auc``
    (the chance that a random returner ranks above a random non-returner; 0.5 = random) and, with
    ``value`` (money each client brought after the cut, by client id), ``value_share_top`` (the
    top's share of that money).

    >>> r = pd.DataFrame({"client_id": list("abcdefghij"), "score": np.arange(10, 0, -1.0)})
    >>> q = ranking_quality(r, ["a", "b", "e"])
    >>> q["share_overall"], q["share_top"], round(q["lift"], 2), round(q["auc"], 3)
    (0.3, 1.0, 3.33, 0.905)
    """
    r = ranked[[id_col, score]].copy()
    r[id_col] = r[id_col].astype(str)
    r = r.sort_values([score, id_col], ascending=[False, True], kind="mergesort", ignore_index=True)
    y = r[id_col].isin(pd.Index(list(returned)).astype(str)).to_numpy()
    n = len(r)
    out = {"n": n, "returners": int(y.sum()), "share_overall": float(y.mean()) if n else float("nan")}
    k = int(np.ceil(top * n)) if n else 0
    out["top_n"] = k
    out["share_top"] = float(y[:k].mean()) if k else float("nan")
    out["lift"] = out["share_top"] / out["share_overall"] if n and out["share_overall"] > 0 else float("nan")
    if n > 1 and 0 < y.sum() < n:
        rk = r[score].rank(method="average").to_numpy()
        out["spearman"] = float(np.corrcoef(rk, pd.Series(y).rank(method="average").to_numpy())[0, 1])
        n1, n0 = int(y.sum()), int(n - y.sum())
        out["auc"] = float((rk[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    else:
        out["spearman"] = out["auc"] = float("nan")
    if value is not None:
        v = r[id_col].map(pd.Series(value, dtype="float64").rename(index=str)).fillna(0.0).clip(lower=0.0).to_numpy()
        out["value_after"] = float(v.sum())
        out["value_share_top"] = float(v[:k].sum() / v.sum()) if k and v.sum() > 0 else float("nan")
    return out


def lost_call_list(sales: pd.DataFrame, base: pd.DataFrame, as_of, *, min_months: int = 1,
                   window_months: int = 6, half_life_months: float = 12.0) -> pd.DataFrame:
    """Every ``lost`` client ranked by the workbook's reactivation score (not only the regular ones).

    The same rule as :func:`kbanalysis.audit.structure.lost_regular_clients` with ``min_months`` = 1: what the
    client used to bring a month, halved for every ``half_life_months`` since it left. ``base`` is
    :func:`kbanalysis.audit.structure.base_structure`-like: ``client_id, base, days_silent, last_date``.
    """
    from kbanalysis.sales.engine import client_months
    from kbanalysis.audit.structure import lost_regular_clients

    cols = [c for c in ("date", "client_id", "product_group", "amount", "cost") if c in sales]
    cm = client_months(sales[cols], pd.Timestamp(as_of))
    return lost_regular_clients(cm, base, min_months=min_months, window_months=window_months,
                                half_life_months=half_life_months)


# ------------------------------------------------------------------------------------------
# the whole online-retail backtest
# ------------------------------------------------------------------------------------------
@dataclass
class BacktestResult:
    """Figures (``figures``: plain numbers, JSON-ready) and tables of a backtest."""

    available: bool
    figures: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    message: str = ""

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def text(self) -> str:
        """The headline figures as Markdown."""
        if not self.available:
            return f"**Backtest not run:** {self.message}"
        f = self.figures
        lw, lp = f["lost"]["workbook"], f["lost"]["plain_rule"]
        lines = [
            f"Analysis date {f['as_of']}; did a client come back between {f['as_of']} and {f['end']}? "
            f"{f['clients']} clients with sales before the cut, {f['returned']} of them came back.",
            "",
            f"- **Lost, workbook rule:** {lw['n_flagged']} flagged, {lw['n_not_returned']} did not return: "
            f"precision **{lw['precision']:.2f}**.",
            f"- **Lost, plain rule** (≥ 3 invoices, silent > max(60 days, 3 × own median gap)): {lp['n_flagged']} "
            f"flagged, {lp['n_not_returned']} did not return: precision **{lp['precision']:.2f}**.",
        ]
        for r in self.tables["forecast"].itertuples(index=False):
            lines.append(f"- **History forecast {r.month}:** {r.history:,.0f} against {r.actual:,.0f} real "
                         f"({r.history_pct_error:+.1%}).")
        for r in self.tables["ranking"].itertuples(index=False):
            lines.append(f"- **Reactivation priority, {r.list}:** {r.n} clients, {r.share_overall:.0%} came back "
                         f"overall, {r.share_top:.0%} of the top decile ({r.top_n}); Spearman {r.spearman:+.2f}, "
                         f"AUC {r.auc:.2f}.")
        return "\n".join(lines)

    def markdown(self):
        """:meth:`text` for display in a notebook."""
        from IPython.display import Markdown

        return Markdown(self.text())


def _lost_by_base(base: pd.DataFrame, returned) -> pd.DataFrame:
    rows = []
    for b, part in base.groupby(base["base"].astype(str), sort=False):
        p = lost_precision(part["client_id"], returned)
        rows.append({"base": b, "clients": p["n_flagged"], "returned": p["n_returned"],
                     "not_returned_share": p["precision"]})
    order = {b: i for i, b in enumerate(("active", "sleeping", "lost", "potential", "closed"))}
    out = pd.DataFrame(rows)
    return out.sort_values("base", key=lambda s: s.map(order).fillna(99), ignore_index=True)


def online_retail_backtest(real_data=None, *, as_of=AS_OF, end=END, run_dir=None, params: dict | None = None,
                           case_dir=None, raw_file=None) -> BacktestResult:
    """Backtest the workbook on the UCI Online Retail case cut at ``as_of`` against ``as_of`` … ``end``.

    Without ``run_dir`` the calls are computed here with the package functions
    (:func:`kbanalysis.io.case.load_case`, :func:`kbanalysis.audit.core.audit_table` and
    :func:`kbanalysis.forecast.model.forecast_table`, run parameters ``params`` over the defaults); with
    ``run_dir`` they are read from that run's ``clients.csv``, ``lost_clients.csv`` and
    ``forecast.csv`` (a ``kbanalysis run`` of the same case with ``-p as_of=…``).

    Tables: ``lost`` (precision of the workbook's rule, of its rhythm part — clients with 3+ orders —
    and of the plain rule), ``by_base`` (share not returned per base), ``forecast``
    (:func:`forecast_accuracy` of ``history``, with a naive last-month benchmark), ``ranking``
    (:func:`ranking_quality` of the reactivation list and of every lost client ranked the same way),
    ``deciles`` (the latter by priority decile). When the data is absent, ``available`` is False
    and ``message`` says what is missing.
    """
    from kbanalysis.run.params import defaults

    t0 = time.perf_counter()
    timing = {}
    root = real_data_dir(real_data)
    case_dir = Path(case_dir) if case_dir else root / RETAIL_CASE
    raw_file = Path(raw_file) if raw_file else root / RETAIL_RAW
    missing = [str(p) for p in (case_dir / "sales.csv", case_dir / "clients.csv", raw_file) if not p.exists()]
    if missing:
        return BacktestResult(False, message="real data not found: " + ", ".join(missing)
                              + " (set KBANALYSIS_REAL_DATA to the real-data folder)")
    p = defaults()
    p.update(params or {})
    p["as_of"] = str(as_of)
    as_of = pd.Timestamp(as_of).normalize()
    from kbanalysis.io.case import load_case

    case = load_case(case_dir)
    sales = case.tables["sales"]
    timing["load_case"] = time.perf_counter() - t0
    t = time.perf_counter()
    if run_dir is None:
        base, lost_list, fc = _calls_from_package(case.tables["clients"], sales, as_of, p, timing)
    else:
        base, lost_list, fc = _calls_from_run(Path(run_dir), sales, as_of)
        timing["read_run"] = time.perf_counter() - t
    t = time.perf_counter()
    lines = read_online_retail(raw_file)
    timing["read_raw"] = time.perf_counter() - t
    t = time.perf_counter()
    back = returned_clients(lines, as_of, end)
    had = base.loc[base["base"].astype(str) != "potential", "client_id"]
    lost_figs, lost_tab = _lost_figures(base, sales, as_of, back)
    acc = _forecast_figures(fc, lines, as_of, end)
    rk, ranking, deciles = _ranking_figures(lines, sales, base, lost_list, as_of, end, back,
                                            p["regular_window_months"])
    timing["evaluate"] = time.perf_counter() - t
    timing["total"] = time.perf_counter() - t0

    figures = {
        "as_of": str(as_of.date()), "end": str(pd.Timestamp(end).date()), "source": str(run_dir or "package"),
        "clients": int(len(had)), "returned": int(had.isin(back).sum()),
        "lost": {"workbook": lost_figs["workbook"], "workbook_3plus_orders": lost_figs["workbook, 3+ orders"],
                 "workbook_1_2_orders": lost_figs["workbook, 1-2 orders"], "plain_rule": lost_figs["plain rule"]},
        "forecast": {"months": acc.to_dict("records"), **{f"{k}_{m}": v for k, s in acc.attrs["summary"].items()
                                                          for m, v in s.items()}},
        "ranking": {r["list"]: {k: v for k, v in r.items() if k != "list"} for r in rk},
        "seconds": {k: round(v, 2) for k, v in timing.items()},
    }
    figures = _plain(figures)
    return BacktestResult(True, figures, {"lost": lost_tab, "by_base": _lost_by_base(base, back), "forecast": acc,
                                          "ranking": ranking, "deciles": deciles})


def _calls_from_package(clients, sales, as_of, p: dict, timing: dict):
    """The workbook's calls at the cut computed with the package: (base per client, reactivation list, forecast)."""
    from kbanalysis.audit.core import audit_table
    from kbanalysis.forecast.core import forecast_table

    t = time.perf_counter()
    per_client, _, _, lost_list = audit_table(clients, sales, None, as_of, p)
    timing["audit"] = time.perf_counter() - t
    t = time.perf_counter()
    fc = forecast_table(sales, as_of=as_of, params=p)
    timing["forecast"] = time.perf_counter() - t
    base = per_client.loc[per_client["merged_into"].isna(), ["client_id", "base", "days_silent", "last_date", "orders"]]
    return base.assign(client_id=base["client_id"].astype(str)), lost_list, fc


def _calls_from_run(run: Path, sales, as_of):
    """The calls read from a finished run folder of the same case: (base per client, reactivation list, forecast)."""
    from kbanalysis.sales.engine import client_summary

    cl = pd.read_csv(run / "clients.csv", dtype={"client_id": str, "merged_into": str})
    cl = cl.loc[cl["merged_into"].isna()] if "merged_into" in cl else cl
    lost_list = pd.read_csv(run / "lost_clients.csv", dtype={"client_id": str})
    lost_list["score"] = -lost_list["priority"].astype(float)
    fc = pd.read_csv(run / "forecast.csv", dtype={"month": str, "product_group": str})
    summ = client_summary(sales, as_of)
    summ["client_id"] = summ["client_id"].astype(str)
    base = cl[["client_id", "base"]].merge(summ[["client_id", "last_date", "orders"]], on="client_id", how="left")
    base["days_silent"] = (as_of - base["last_date"]).dt.days.astype("float64")
    return base.assign(client_id=base["client_id"].astype(str)), lost_list, fc


def _lost_figures(base, sales, as_of, back):
    """Precision of the workbook's lost call (all, its rhythm part, its few-orders part) and of the plain rule."""
    wb_lost = base.loc[base["base"].astype(str) == "lost"]
    plain = plain_lost_rule(sales, as_of)
    rows = [("workbook", wb_lost["client_id"]),
            ("workbook, 3+ orders", wb_lost.loc[wb_lost["orders"].fillna(0) >= 3, "client_id"]),
            ("workbook, 1-2 orders", wb_lost.loc[wb_lost["orders"].fillna(0) < 3, "client_id"]),
            ("plain rule", plain.loc[plain["lost"], "client_id"])]
    figs = {k: lost_precision(v, back) for k, v in rows}
    return figs, pd.DataFrame([{"rule": k, **v} for k, v in figs.items()])


def _forecast_figures(fc, lines, as_of, end):
    """The ``history`` forecast against the real months, with a naive benchmark (the last whole month)."""
    actual = monthly_revenue(lines, as_of, end)
    prev = monthly_revenue(lines, as_of - pd.DateOffset(months=1), as_of - pd.Timedelta(days=1))
    fc2 = fc.copy()
    fc2["naive_last_month"] = np.where(fc2["product_group"].astype(str) == "ALL", float(prev["actual"].iloc[-1]),
                                       np.nan)
    return forecast_accuracy(fc2, actual, columns=("history", "naive_last_month"))


def _ranking_figures(lines, sales, base, lost_list, as_of, end, back, window_months: int):
    """Ranking quality of the reactivation list and of every lost client ranked the same way, and by decile."""
    after = lines.loc[(lines["date"] >= as_of) & (lines["date"] <= pd.Timestamp(end))]
    value = after.groupby(after["client_id"].astype(str))["amount"].sum()
    calls = lost_call_list(sales, base, as_of, window_months=window_months)
    rk = [{"list": name, **ranking_quality(frame, back, value=value)}
          for name, frame in (("reactivation list (regular buyers)", lost_list), ("every lost client", calls))]
    calls = calls.assign(returned=calls["client_id"].astype(str).isin(back),
                         value_after=calls["client_id"].astype(str).map(value).fillna(0.0))
    n = len(calls)
    calls["decile"] = (np.arange(n) * 10 // max(n, 1)) + 1
    deciles = calls.groupby("decile").agg(clients=("client_id", "size"), returned_share=("returned", "mean"),
                                          value_after=("value_after", "sum")).reset_index()
    return rk, pd.DataFrame(rk), deciles


def _plain(x):
    """numpy scalars -> Python numbers, NaN -> None (JSON-ready)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
