"""The forecast's steps, in the order notebook 04 runs them, and :class:`DemandForecast` that runs them all.

The building blocks (stage win rates, the pipeline, matching won deals to sales, stock, marketing) are in
:mod:`kbanalysis.forecast.model`, the statistical candidates in :mod:`kbanalysis.forecast.candidates` and
the weighting methods in :mod:`kbanalysis.forecast.reconcile`; this module only prepares their tables and
joins them (the method itself is described in :mod:`kbanalysis.forecast.model`). Each step is a function
that returns one table, so the notebook shows each and an analyst can change one:

1. :func:`~kbanalysis.forecast.model.stage_win_rates`, :func:`~kbanalysis.forecast.model.pipeline_deals`,
   :func:`~kbanalysis.forecast.model.match_won_deals` — the deals;
2. :func:`~kbanalysis.forecast.model.split_group_months` and :class:`HistoryForecaster` — the recurring history;
3. :func:`forecast_groups`, :func:`source_grid` — every source per month and group;
4. :func:`source_backtest`, :func:`reconciliation_weights`, :func:`source_errors` — the accuracy of each
   source and the weights;
5. :func:`reconciled`, :func:`~kbanalysis.forecast.model.stock_gap`, :func:`with_totals`,
   :func:`forecast_flags` — the reconciled demand, the stock check, the ``ALL`` rows and the flags;
6. :func:`forecast_output` — the contract columns of ``forecast.csv``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from kbanalysis.forecast.candidates import Z80, HistoryForecaster
from kbanalysis.forecast.model import (ALL, OPTIMISM_RATIO, OUT_COLUMNS, _empty, _grid, _status, deal_backtest,
                                       error_stats, forecast_months, manager_optimism, marketing_backtest,
                                       marketing_by_group, match_won_deals, matched_share, month_start,
                                       month_text, pipeline_deals, resolve_as_of, split_group_months,
                                       stage_win_rates, stated_probability_usable, stock_by_group, stock_gap)
from kbanalysis.forecast.reconcile import ShrunkInverseMSE
from kbanalysis.sales.engine import groups_left_out
from kbanalysis.sales.lines import costed_group_totals

#: what each source of :func:`source_errors` is compared against in the backtest
TARGETS = {"history": "recurring sales", "pipeline": "won amount of those deals",
           "pipeline_calibrated": "won amount of those deals", "bottom_up": "all sales",
           "history_total": "all sales", "marketing": "all sales", "marketing_corrected": "all sales",
           "reconciled": "all sales"}

_BT_COLUMNS = ["origin", "step", "month", "forecast", "actual", "source"]


def _note(code: str, **kw) -> dict:
    return {"code": code, **kw}


def has_rows(table: pd.DataFrame | None) -> bool:
    """Whether an optional table of the case was given and has rows.

    >>> has_rows(None), has_rows(pd.DataFrame({"a": [1]}))
    (False, True)
    """
    return not _empty(table)


# --------------------------------------------------------------------------------------------
# 1. deals
# --------------------------------------------------------------------------------------------
def has_open_deals(deals: pd.DataFrame | None) -> bool:
    """Whether any deal is open (``status == open``)."""
    return not _empty(deals) and bool((_status(deals["status"]) == "open").fillna(False).any())


def deal_notes(deals: pd.DataFrame | None, rates: pd.DataFrame, alloc: pd.DataFrame, matches: pd.DataFrame,
               months: pd.DatetimeIndex) -> list[dict]:
    """What the report must say about the deals: missing, not calibratable, overdue, after the horizon,
    without a group, matched to sales (codes of :func:`~kbanalysis.forecast.model.note_text`).

    >>> deal_notes(None, stage_win_rates(None), pipeline_deals(None, "2024-04-01", 2), match_won_deals(
    ...     pd.DataFrame(), None), forecast_months("2024-04-01", 2))
    [{'code': 'no_deals'}]
    """
    if _empty(deals):
        return [_note("no_deals")]
    notes = []
    if not len(rates):
        notes.append(_note("no_closed_deals"))
    elif not stated_probability_usable(deals):
        notes.append(_note("stated_probability_not_measurable"))
    if has_open_deals(deals):
        od = deals.loc[(_status(deals["status"]) == "open").fillna(False).to_numpy()]
        later = od.loc[(od["planned_month"] > months[-1]).fillna(False).to_numpy()]
        if len(later):
            notes.append(_note("deals_after_horizon", n=int(len(later)), amount=float(later["amount"].sum())))
        bad = od.loc[(od["planned_month"].isna() | od["amount"].isna()).to_numpy()]
        if len(bad):
            notes.append(_note("deals_without_month_or_amount", n=int(len(bad))))
    if len(alloc):
        mv = alloc.loc[alloc["moved"]]
        if len(mv):
            notes.append(_note("overdue_deals", n=int(mv["deal_id"].nunique()), amount=float(mv["amount"].sum())))
        split = alloc.loc[alloc["group_source"] != "deal"]
        if len(split):
            notes.append(_note("deals_without_group", n=int(split["deal_id"].nunique()),
                               client_mix=int(split.loc[split["group_source"] == "client_mix", "deal_id"].nunique())))
    if len(matches):
        notes.append(_note("won_deals_matched", n=int((matches["method"] != "none").sum()), of=int(len(matches)),
                           by_doc=int((matches["method"] == "doc_id").sum()), amount=float(matches["matched"].sum())))
    return notes


def deal_share(deals: pd.DataFrame | None, matches: pd.DataFrame, series: pd.DataFrame,
               months: pd.DatetimeIndex) -> float:
    """Share (by amount) of the past won deals found in sales: the part of the calibrated pipeline that is
    added to the recurring history (1 when nothing can be measured; see
    :func:`~kbanalysis.forecast.model.matched_share`)."""
    start = series["month"].min() if len(series) else months[0]
    share = matched_share(deals, matches, start, months[0])
    return 1.0 if np.isnan(share) else float(share)


def history_notes(series: pd.DataFrame, share: float, has_deals: bool) -> list[dict]:
    """Notes on the history: deals only partly found in sales, a history shorter than two years."""
    notes = []
    if has_deals and share < 0.95:
        notes.append(_note("deals_partly_in_sales", share=share))
    n_hist = int(series.groupby("product_group")["month"].nunique().max()) if len(series) else 0
    if n_hist < 24:
        notes.append(_note("short_history", months=n_hist))
    return notes


def total_history(series: pd.DataFrame, horizon: int, n_origins: int = 12) -> HistoryForecaster:
    """The statistical forecast of the monthly total of all sales (one series, group ``ALL``): the same
    candidates and backtest as each group's (:class:`HistoryForecaster`), fitted on the sum of ``revenue``
    (deal sales included). Its forecast is the reconciliation's top-down source ``history_total``: a total
    carries a trend or a season that the groups' own series are too noisy to show.

    >>> m = pd.date_range("2022-01-01", periods=15, freq="MS")
    >>> s = pd.DataFrame({"product_group": ["x", "y"] * 15, "month": m.repeat(2), "revenue": 50.0})
    >>> total_history(s, 2).forecast_[["product_group", "forecast"]].round(6).to_dict("list")
    {'product_group': ['ALL', 'ALL'], 'forecast': [100.0, 100.0]}
    """
    tot = monthly_revenue(series).assign(product_group=ALL) if len(series) \
        else pd.DataFrame(columns=["month", "revenue", "product_group"])
    return HistoryForecaster(horizon=horizon, n_origins=n_origins, value="revenue").fit(tot)


def horizon_forecast(history: HistoryForecaster, months: pd.DatetimeIndex) -> pd.DataFrame:
    """The history forecaster's ``forecast_`` rows of the forecast months."""
    hf = history.forecast_
    return hf.loc[hf["month"].isin(months)] if len(hf) else hf


# --------------------------------------------------------------------------------------------
# 2. stock and marketing
# --------------------------------------------------------------------------------------------
def price_per_cost(sales: pd.DataFrame, as_of) -> pd.Series:
    """Per product group: sales amount / cost over the 12 months before ``as_of`` (to value stock given at
    cost at prices); empty when the sales carry no cost.

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-03-01"]), "product_group": ["x"], "amount": [15.0],
    ...                   "cost": [10.0]})
    >>> price_per_cost(s, pd.Timestamp("2024-04-01")).to_dict()
    {'x': 1.5}
    """
    g = costed_group_totals(sales, as_of - pd.DateOffset(months=12), as_of)
    if not len(g):
        return pd.Series(dtype="float64")
    k = g["amount"] / g["cost"].where(g["cost"] > 0)
    k.index = k.index.astype(object)
    return k.dropna()


def history_mix(forecast: pd.DataFrame, series: pd.DataFrame) -> pd.Series:
    """Group shares of the history forecast (of past sales when there is none): how a total-only
    marketing estimate is split over groups."""
    if len(forecast):
        s = forecast.groupby("product_group")["forecast"].sum()
    else:
        s = series.groupby("product_group")["revenue"].sum() if len(series) else pd.Series(dtype="float64")
    s = s.clip(lower=0)
    s.index = s.index.astype(object)
    return s / s.sum() if s.sum() > 0 else s


def stock_notes(stock_groups: pd.DataFrame) -> list[dict]:
    """Notes on the stock: none given, or some given at cost that could not be converted to prices."""
    if not len(stock_groups):
        return [_note("no_stock_data")]
    if (stock_groups["valued"] == "cost").any():
        return [_note("stock_at_cost_not_converted",
                      groups=sorted(stock_groups.loc[stock_groups["valued"] == "cost", "product_group"]))]
    return []


# --------------------------------------------------------------------------------------------
# 3. every source per month and group
# --------------------------------------------------------------------------------------------
def forecast_groups(series: pd.DataFrame, alloc: pd.DataFrame, stock_groups: pd.DataFrame,
                    marketing_groups: pd.DataFrame, months: pd.DatetimeIndex) -> list[str]:
    """The groups forecast: sales in the last 12 months, open deals, stock or a marketing estimate.

    >>> s = pd.DataFrame({"product_group": ["x", "y"], "month": pd.to_datetime(["2024-03-01", "2020-01-01"]),
    ...                   "revenue": [1.0, 1.0]})
    >>> forecast_groups(s, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), forecast_months("2024-04-01", 1))
    ['x']
    """
    recent = series.loc[series["month"] >= months[0] - pd.DateOffset(months=12)]
    groups = set(recent.loc[recent["revenue"] != 0, "product_group"].dropna())
    for t in (alloc, stock_groups, marketing_groups):
        if len(t):
            groups |= set(t["product_group"].dropna())
    return sorted(str(g) for g in groups)


def left_out_notes(series: pd.DataFrame, groups: list[str]) -> list[dict]:
    """A note naming the groups sold before but not forecast (:func:`forecast_groups` left them out: no sale in
    the 12 months before the forecast, no open deal, stock or marketing figure), so none is dropped silently.

    >>> s = pd.DataFrame({"product_group": ["x", "y"], "month": pd.to_datetime(["2024-03-01", "2020-01-01"]),
    ...                   "revenue": [1.0, 45.0]})
    >>> left_out_notes(s, ["x"])
    [{'code': 'groups_not_forecast', 'n': 1, 'groups': ['y'], 'amount': 45.0, 'last': '2020-01'}]
    """
    left = groups_left_out(series, groups)
    return [_note("groups_not_forecast", **left)] if left else []


def source_grid(months: pd.DatetimeIndex, groups: list[str], history: pd.DataFrame, alloc: pd.DataFrame,
                marketing_groups: pd.DataFrame, *, has_deals: bool, calibrable: bool) -> pd.DataFrame:
    """One row per month × group with every source: ``history`` (and its 80 % fan ``history_low``,
    ``history_high``), ``pipeline``, ``pipeline_calibrated`` and ``marketing``.

    >>> m = forecast_months("2024-04-01", 1)
    >>> source_grid(m, ["x"], pd.DataFrame(), pd.DataFrame(), pd.DataFrame(columns=["month", "product_group",
    ...     "marketing"]), has_deals=False, calibrable=False).columns.tolist()
    ['month', 'product_group', 'history', 'history_low', 'history_high', 'pipeline', 'pipeline_calibrated', 'marketing']
    """
    d = _grid(months, groups)
    if len(history):
        d = d.merge(history.rename(columns={"forecast": "history", "low": "history_low", "high": "history_high"})[
            ["product_group", "month", "history", "history_low", "history_high"]],
            on=["product_group", "month"], how="left")
    else:
        d = d.assign(history=np.nan, history_low=np.nan, history_high=np.nan)
    if has_deals:
        for value, name in (("expected", "pipeline"), ("expected_calibrated", "pipeline_calibrated")):
            s = alloc.groupby(["month", "product_group"], as_index=False)[value].sum().rename(columns={value: name})
            d = d.merge(s, on=["month", "product_group"], how="left")
            d[name] = d[name].fillna(0.0)
        if not calibrable:
            d["pipeline_calibrated"] = np.nan
    else:
        d = d.assign(pipeline=np.nan, pipeline_calibrated=np.nan)
    return d.merge(marketing_groups, on=["month", "product_group"], how="left")


# --------------------------------------------------------------------------------------------
# 4. accuracy of every source, weights
# --------------------------------------------------------------------------------------------
def history_total_backtest(history: HistoryForecaster) -> pd.DataFrame:
    """The history forecast's backtest summed over groups: ``origin, step, month, forecast, actual`` of the
    origins where every group has a backtest (so the total is complete)."""
    hb = history.chosen_backtest()
    if not len(hb):
        return pd.DataFrame(columns=["origin", "step", "month", "forecast", "actual"])
    ng = hb.groupby(["origin", "step"])["product_group"].nunique()
    full = ng[ng == ng.max()].index
    hbt = hb.groupby(["origin", "step", "month"], as_index=False)[["forecast", "actual"]].sum()
    return hbt.set_index(["origin", "step"]).loc[full].reset_index()


def step_rmse(total_backtest: pd.DataFrame, horizon: int) -> pd.Series:
    """RMSE of the total per step ahead 1..``horizon`` (the width of the total's fan)."""
    if not len(total_backtest):
        return pd.Series(np.nan, index=range(1, horizon + 1))
    e = total_backtest["forecast"] - total_backtest["actual"]
    return ((e ** 2).groupby(total_backtest["step"]).mean() ** 0.5).reindex(range(1, horizon + 1)).ffill()


def backtest_origins(total_backtest: pd.DataFrame, as_of, horizon: int, n_origins: int = 12) -> list:
    """The origins of the history backtest, or the last ``n_origins`` months that leave a whole horizon."""
    if len(total_backtest):
        return sorted(total_backtest["origin"].unique())
    last = month_start(as_of)
    return list(pd.date_range(end=last - pd.DateOffset(months=horizon), periods=n_origins, freq="MS"))


def monthly_revenue(series: pd.DataFrame) -> pd.DataFrame:
    """All sales per past month (``month, revenue``): what the marketing estimate is checked against."""
    return series.groupby("month")["revenue"].sum().rename("revenue").reset_index()


def marketing_factor(marketing_bt: pd.DataFrame) -> float:
    """actual / marketing over the past months with an estimate (1 when fewer than 3 such months)."""
    if len(marketing_bt) >= 3 and marketing_bt["marketing"].sum() > 0:
        return float(marketing_bt["actual"].sum() / marketing_bt["marketing"].sum())
    return 1.0


def _points(frame: pd.DataFrame, forecast, source: str) -> pd.DataFrame:
    return pd.DataFrame({"origin": frame.get("origin", pd.NaT), "step": frame.get("step", np.nan),
                         "month": frame["month"], "forecast": forecast, "actual": frame.get("actual", frame.get("won")),
                         "source": source})


def _deal_points(db: pd.DataFrame, calibrable: bool) -> list[pd.DataFrame]:
    if not len(db):
        return []
    out = [_points(db.assign(actual=db["won"]), db["stated"], "pipeline")]
    if calibrable:
        out.append(_points(db.assign(actual=db["won"]), db["calibrated"], "pipeline_calibrated"))
    return out


def _marketing_points(mb: pd.DataFrame) -> list[pd.DataFrame]:
    if len(mb) >= 3 and mb["marketing"].sum() > 0:
        # leave-one-month-out factor for an honest error of the corrected estimate
        loo = (mb["actual"].sum() - mb["actual"]) / (mb["marketing"].sum() - mb["marketing"])
        return [_points(mb, mb["marketing"], "marketing"), _points(mb, mb["marketing"] * loo, "marketing_corrected")]
    return [_points(mb, mb["marketing"], "marketing")] if len(mb) else []


def source_backtest(total_backtest: pd.DataFrame, deal_bt: pd.DataFrame, marketing_bt: pd.DataFrame,
                    series: pd.DataFrame, *, share: float, calibrable: bool,
                    history_total: HistoryForecaster | None = None) -> pd.DataFrame:
    """Total-level backtest points of every source on the same past months: ``origin, step, month, forecast,
    actual, source`` with sources ``history`` (vs recurring sales), ``pipeline`` / ``pipeline_calibrated``
    (past pipelines vs the won amount of those deals), ``bottom_up`` (history + ``share`` × calibrated
    pipeline vs all sales), ``history_total`` (the statistical forecast of the total, :func:`total_history`, vs all
    sales), ``marketing`` / ``marketing_corrected`` (vs all sales)."""
    pts = [total_backtest.assign(source="history")] if len(total_backtest) else []
    pts += _deal_points(deal_bt, calibrable)
    if len(total_backtest):
        bu = total_backtest[["origin", "step", "month", "forecast"]].copy()
        if len(deal_bt) and calibrable:
            bu = bu.merge(deal_bt[["origin", "step", "calibrated"]], on=["origin", "step"], how="left")
            bu["forecast"] = bu["forecast"] + share * bu["calibrated"].fillna(0.0)
            bu = bu.drop(columns="calibrated")
        revenue = monthly_revenue(series).set_index("month")["revenue"]
        bu["actual"] = bu["month"].map(revenue).to_numpy()
        pts.append(bu.assign(source="bottom_up"))
    tb = history_total.chosen_backtest() if history_total is not None else pd.DataFrame()
    if len(tb):
        pts.append(tb[["origin", "step", "month", "forecast", "actual"]].assign(source="history_total"))
    pts += _marketing_points(marketing_bt)
    pts = [p for p in pts if len(p)]
    bt = pd.concat(pts, ignore_index=True)[_BT_COLUMNS] if pts else pd.DataFrame(columns=_BT_COLUMNS)
    bt["source"] = bt["source"].astype("string")
    return bt


#: the backtest source of each reconciliation weight
WEIGHTED = {"bottom_up": "bottom_up", "history_total": "history_total", "marketing": "marketing_corrected"}


def _mse(backtest: pd.DataFrame, source: str) -> float:
    x = backtest.loc[backtest["source"] == source]
    return error_stats(x["forecast"], x["actual"])["mse"] if len(x) else np.nan


def reconciliation_weights(backtest: pd.DataFrame, *, prior_weight: float, has_marketing: bool) -> dict:
    """Weights ``{"bottom_up", "history_total", "marketing"}`` (summing to 1) from the backtest MSE of the
    bottom-up figure, of the statistical total (:func:`total_history`) and of the corrected marketing
    estimate, shrunk toward equal when the backtest is short, none above the cap while another is measured
    (:class:`~kbanalysis.forecast.reconcile.ShrunkInverseMSE`). A marketing estimate with no past months
    gets ``prior_weight``; a source the case lacks gets 0 (no marketing, or a history too short for a
    backtest of the total).

    >>> bt = pd.DataFrame({"source": ["bottom_up"], "forecast": [1.0], "actual": [1.0]})
    >>> reconciliation_weights(bt, prior_weight=0.2, has_marketing=False)
    {'bottom_up': 1.0, 'history_total': 0.0, 'marketing': 0.0}
    """
    mse = {"bottom_up": _mse(backtest, "bottom_up")}
    if np.isnan(mse["bottom_up"]):
        mse["bottom_up"] = _mse(backtest, "history")
    if (backtest["source"] == "history_total").any():
        mse["history_total"] = _mse(backtest, "history_total")
    if has_marketing:
        mse["marketing"] = _mse(backtest, "marketing_corrected")
    counts = backtest["source"].value_counts()
    n = [int(counts.get(WEIGHTED[k], 0)) for k, v in mse.items() if np.isfinite(v)]
    w = ShrunkInverseMSE(prior_weight=prior_weight).weights(mse, n=min(n) if n else 0) if len(mse) > 1 \
        else {"bottom_up": 1.0}
    return {k: float(w.get(k, 0.0)) for k in WEIGHTED}


def with_reconciled_backtest(backtest: pd.DataFrame, weights: dict) -> pd.DataFrame:
    """The backtest with the ``reconciled`` points: the blend of the sources with the final ``weights``
    (renormalised over the weighted sources that have backtest points) on the past months where all of
    them were measured (in-sample weights: the report says so)."""
    parts = []
    for key, src in WEIGHTED.items():
        x = backtest.loc[backtest["source"] == src]
        if weights.get(key, 0.0) > 0 and len(x):
            parts.append((key, x))
    if not parts:
        return backtest
    on = ["origin", "step", "month"]
    r = parts[0][1][on + ["actual"]].copy()
    for key, x in parts:
        # marketing is checked month by month (no origin): it joins on the month alone
        cols = ["month"] if key == "marketing" else on
        r = r.merge(x[cols + ["forecast"]].rename(columns={"forecast": key}), on=cols)
    tot_w = sum(weights[k] for k, _ in parts)
    r["forecast"] = sum(weights[k] * r[k] for k, _ in parts) / tot_w
    r = r.drop(columns=[k for k, _ in parts]).assign(source="reconciled")[_BT_COLUMNS]
    return pd.concat([backtest, r], ignore_index=True)


def source_errors(backtest: pd.DataFrame, weights: dict) -> pd.DataFrame:
    """Backtest errors of every source at the total level, with what each is compared against
    (:data:`TARGETS`) and its weight: ``source, target, mape, wape, bias, rmse, n, weight``.

    >>> bt = pd.DataFrame({"source": ["bottom_up"] * 2, "forecast": [110.0, 90.0], "actual": [100.0, 100.0]})
    >>> source_errors(bt, {"bottom_up": 1.0, "marketing": 0.0})[["source", "mape", "weight"]]
          source  mape  weight
    0  bottom_up   0.1     1.0
    """
    weight = {WEIGHTED[k]: v for k, v in weights.items() if k in WEIGHTED} | {"reconciled": 1.0}
    rows = []
    for src, target in TARGETS.items():
        x = backtest.loc[backtest["source"] == src]
        if not len(x):
            continue
        st = error_stats(x["forecast"], x["actual"])
        rows.append({"source": src, "target": target, "mape": st["mape"], "wape": st["wape"], "bias": st["bias"],
                     "rmse": st["rmse"], "n": st["n"], "weight": weight.get(src, np.nan)})
    out = pd.DataFrame(rows, columns=["source", "target", "mape", "wape", "bias", "rmse", "n", "weight"])
    return out.astype({"source": "string", "target": "string"})


def marketing_notes(marketing: pd.DataFrame | None, marketing_bt: pd.DataFrame, weights: dict,
                    factor: float) -> list[dict]:
    """How the marketing estimate entered: no estimate, weighted by its backtest, or at the prior weight."""
    if _empty(marketing):
        return [_note("no_marketing")]
    if len(marketing_bt) >= 3:
        return [_note("marketing_weighted", weight=weights["marketing"], factor=factor, months=int(len(marketing_bt)))]
    return [_note("marketing_prior", weight=weights["marketing"], months=int(len(marketing_bt)))]


# --------------------------------------------------------------------------------------------
# 5. reconciled demand, totals, flags
# --------------------------------------------------------------------------------------------
def reconciled(grid: pd.DataFrame, weights: dict, *, factor: float, share: float,
               history_total: pd.DataFrame | None = None) -> pd.DataFrame:
    """The grid with ``bottom_up`` = history + ``share`` × calibrated pipeline (the stated one when there is
    no calibration), ``history_total`` = the statistical forecast of the month's total (``history_total``:
    ``month, forecast``, :func:`total_history`) split over the groups in proportion to ``bottom_up``, and
    ``reconciled`` = w_b × bottom_up + w_t × history_total + w_m × ``factor`` × marketing (the weights of
    :func:`reconciliation_weights`, renormalised over the sources a row has).

    >>> g = pd.DataFrame({"month": pd.Timestamp("2024-04-01"), "history": [100.0], "pipeline": [20.0],
    ...                   "pipeline_calibrated": [10.0], "marketing": [150.0]})
    >>> w = {"bottom_up": 0.8, "history_total": 0.0, "marketing": 0.2}
    >>> reconciled(g, w, factor=1.0, share=1.0)[["bottom_up", "reconciled"]]
       bottom_up  reconciled
    0      110.0       118.0
    >>> t = pd.DataFrame({"month": [pd.Timestamp("2024-04-01")], "forecast": [130.0]})
    >>> reconciled(g, {"bottom_up": 0.5, "history_total": 0.5, "marketing": 0.0}, factor=1.0, share=1.0,
    ...            history_total=t)[["bottom_up", "history_total", "reconciled"]]
       bottom_up  history_total  reconciled
    0      110.0          130.0       120.0
    """
    d = grid.copy()
    deal_part = d["pipeline_calibrated"].where(d["pipeline_calibrated"].notna(), d["pipeline"])
    d["bottom_up"] = d["history"].fillna(0.0) + share * deal_part.fillna(0.0)
    d.loc[d["history"].isna() & deal_part.isna(), "bottom_up"] = np.nan
    d["history_total"] = _split_total(d, history_total)
    values = {"bottom_up": d["bottom_up"], "history_total": d["history_total"],
              "marketing": d["marketing"] * factor}
    num = sum(weights.get(k, 0.0) * v.fillna(0.0) for k, v in values.items())
    den = sum(weights.get(k, 0.0) * v.notna() for k, v in values.items())
    fallback = d["bottom_up"].fillna(values["marketing"])
    d["reconciled"] = np.where(den > 0, num / den.where(den > 0, 1.0), fallback).astype("float64")
    return d


def _split_total(d: pd.DataFrame, total: pd.DataFrame | None) -> pd.Series:
    """The month's statistical total split over the rows of that month ∝ ``bottom_up`` (NaN without it)."""
    if total is None or not len(total):
        return pd.Series(np.nan, index=d.index, dtype="float64")
    t = d["month"].map(total.set_index("month")["forecast"]).astype("float64")
    bu = d["bottom_up"].clip(lower=0)
    mix = bu / bu.groupby(d["month"]).transform("sum")
    return (t * mix).where(mix.notna() & np.isfinite(mix))


def with_stock(d: pd.DataFrame, stock_groups: pd.DataFrame, *, overstock_months: float) -> pd.DataFrame:
    """The grid with the stock check of :func:`~kbanalysis.forecast.model.stock_gap`."""
    sg = stock_gap(d[["product_group", "month", "reconciled"]], stock_groups, overstock_months=overstock_months)
    return d.merge(sg, on=["product_group", "month"], how="left")


def optimistic_rows(optimism: pd.DataFrame, alloc: pd.DataFrame) -> pd.Series:
    """By ``(month, product_group)``: how far the stated pipeline of the deals of managers flagged optimistic
    that month is above the calibrated one (``expected − expected_calibrated``; the whole stated amount
    when there is no calibration). Empty when no manager is flagged.

    >>> o = pd.DataFrame({"manager": ["ann"], "month": [1], "optimistic": [True]})
    >>> a = pd.DataFrame({"manager": ["ann", "bob"], "month": [1, 1], "product_group": ["x", "x"],
    ...                   "expected": [90.0, 50.0], "expected_calibrated": [30.0, 40.0]})
    >>> optimistic_rows(o, a).to_dict()
    {(1, 'x'): 60.0}
    """
    empty = pd.Series(dtype="float64", index=pd.MultiIndex.from_tuples([], names=["month", "product_group"]))
    if not len(optimism) or not optimism["optimistic"].any():
        return empty
    bad = optimism.loc[optimism["optimistic"], ["manager", "month"]]
    a = alloc.assign(manager=alloc["manager"].astype("string").fillna("—"))
    hit = a.merge(bad.assign(manager=bad["manager"].astype("string")), on=["manager", "month"])
    hit = hit.loc[hit["expected"] > 0]
    if not len(hit):
        return empty
    cal = hit["expected_calibrated"] if "expected_calibrated" in hit else pd.Series(np.nan, index=hit.index)
    over = (hit["expected"] - cal.fillna(0.0)).clip(lower=0.0)
    return over.groupby([hit["month"], hit["product_group"]]).sum().rename_axis(["month", "product_group"])


def optimism_notes(optimism: pd.DataFrame) -> list[dict]:
    """The managers whose stated pipeline is far above their own track record."""
    if not len(optimism) or not optimism["optimistic"].any():
        return []
    return [_note("managers_optimistic", managers=sorted(set(optimism.loc[optimism["optimistic"], "manager"])))]


def with_totals(d: pd.DataFrame, months: pd.DatetimeIndex, total_rmse: pd.Series, *,
                overstock_months: float) -> pd.DataFrame:
    """The grid with one ``ALL`` row per month (sums over groups; the fan of the total from the backtest
    errors of the total, ``total_rmse`` per step, since group errors partly cancel) and a helper column
    ``_all`` (1 on the ``ALL`` rows)."""
    num = ["pipeline", "pipeline_calibrated", "history", "history_low", "history_high", "marketing",
           "bottom_up", "history_total", "reconciled", "stock_available", "stock_gap"]
    tot = d.groupby("month")[num].sum(min_count=1).reindex(pd.DatetimeIndex(months, name="month")).reset_index()
    rmse = total_rmse.to_numpy()[:len(tot)]
    if np.isfinite(rmse).all():
        tot["history_low"] = np.maximum(tot["history"] - Z80 * rmse, 0.0)
        tot["history_high"] = tot["history"] + Z80 * rmse
    tot["product_group"] = ALL
    # cover of the total: stock of the groups with stock data / their average monthly demand
    with_stock_data = d.loc[d["stock_available"].notna()]
    mean = with_stock_data.groupby("month")["reconciled"].sum().mean() if len(with_stock_data) else np.nan
    tot["cover_months"] = (tot["stock_available"] / mean) if mean and mean > 0 else np.where(
        tot["stock_available"] > 0, np.inf, np.nan)
    tot["overstock"] = (tot["cover_months"] > overstock_months).fillna(False)
    out = pd.concat([d.assign(_all=0), tot.assign(_all=1)], ignore_index=True)
    out["product_group"] = out["product_group"].astype("string")
    out["overstock"] = out["overstock"].fillna(False).astype(bool)
    return out


#: the central share of outcomes the forecast interval holds (``reconciled_low`` .. ``reconciled_high``)
INTERVAL = 0.8
#: fewer backtest points than this in a group: its interval uses the errors of all groups pooled
MIN_POINTS = 8


def relative_errors(history: HistoryForecaster, backtest: pd.DataFrame) -> pd.DataFrame:
    """Past relative errors ``actual / forecast − 1`` of the forecast, by ``product_group``: each group's
    combined statistical forecast (:meth:`HistoryForecaster.chosen_backtest`) and, as group ``ALL``, the
    reconciled total (``source == "reconciled"`` of the source backtest).

    >>> bt = pd.DataFrame({"source": ["reconciled"] * 2, "forecast": [100.0, 100.0], "actual": [90.0, 120.0]})
    >>> h = HistoryForecaster()
    >>> h.backtest_ = pd.DataFrame(columns=["product_group", "model", "origin", "step", "month", "forecast", "actual"])
    >>> relative_errors(h, bt).round(2).to_dict("list")
    {'product_group': ['ALL', 'ALL'], 'error': [-0.1, 0.2]}
    """
    g = history.chosen_backtest()
    tot = backtest.loc[backtest["source"] == "reconciled"]
    parts = [pd.DataFrame({"product_group": g["product_group"].astype(object).to_numpy(),
                           "forecast": g["forecast"].to_numpy(dtype="float64"),
                           "actual": g["actual"].to_numpy(dtype="float64")}) if len(g) else None,
             pd.DataFrame({"product_group": ALL, "forecast": tot["forecast"].to_numpy(dtype="float64"),
                           "actual": tot["actual"].to_numpy(dtype="float64")}) if len(tot) else None]
    e = pd.concat([p for p in parts if p is not None], ignore_index=True) if any(
        p is not None for p in parts) else pd.DataFrame(columns=["product_group", "forecast", "actual"])
    e = e.loc[e["forecast"] > 0]
    return pd.DataFrame({"product_group": e["product_group"].to_numpy(),
                         "error": (e["actual"] / e["forecast"] - 1.0).to_numpy(dtype="float64")})


def conformal_quantile(x, q: float) -> float:
    """The finite-sample (split-conformal) ``q`` quantile of ``x``: the ``⌈(n + 1) q⌉``-th smallest value for
    an upper quantile, the ``⌊(n + 1) q⌋``-th for a lower one (the extreme value when that rank falls outside
    1..n), so that a new error falls below it with probability at least ``q`` (upper) / at most ``q``
    (lower) when the errors are exchangeable. On a short backtest this widens the plain empirical quantile.

    References: Lei, J., G'Sell, M., Rinaldo, A., Tibshirani, R. J. & Wasserman, L. (2018), "Distribution-free
    predictive inference for regression", JASA 113(523), 1094–1111.

    >>> conformal_quantile(range(1, 10), 0.9), conformal_quantile(range(1, 10), 0.1)
    (9.0, 1.0)
    >>> conformal_quantile(range(1, 100), 0.9), conformal_quantile(range(1, 100), 0.1)
    (90.0, 10.0)
    """
    v = np.sort(np.asarray(x, dtype="float64"))
    v = v[np.isfinite(v)]
    n = len(v)
    if not n:
        return float("nan")
    k = int(np.ceil((n + 1) * q)) if q >= 0.5 else int(np.floor((n + 1) * q))
    return float(v[min(max(k, 1), n) - 1])


def with_intervals(d: pd.DataFrame, errors: pd.DataFrame, *, level: float = INTERVAL) -> pd.DataFrame:
    """The grid with ``reconciled_low`` / ``reconciled_high``: ``reconciled`` × (1 ∓ the ``level`` quantile of the
    absolute past relative errors of the row's group (:func:`relative_errors`; a group with fewer than
    :data:`MIN_POINTS` uses all groups' errors pooled; ``ALL`` uses the reconciled total's)), never below 0:
    the split-conformal interval of absolute residuals (:func:`conformal_quantile`). No normality is
    assumed and a short backtest widens the interval instead of pretending to know. The interval is
    symmetric: a backtest of a few origins holds a few overlapping windows, whose sign (a history that
    grew and was under-forecast) says little about the next months', so signed quantiles of it would
    lean the interval to the wrong side (on the 18-month shape of ``make bench-forecast`` they covered
    55 % of the held-out group-months, the absolute ones 81 %).

    >>> d = pd.DataFrame({"product_group": ["x"], "reconciled": [200.0]})
    >>> e = pd.DataFrame({"product_group": "x", "error": np.linspace(-0.2, 0.2, 11)})
    >>> with_intervals(d, e)[["reconciled_low", "reconciled_high"]].round(1).to_dict("records")
    [{'reconciled_low': 160.0, 'reconciled_high': 240.0}]
    """
    groups = errors.loc[errors["product_group"] != ALL]
    by = errors.groupby("product_group")["error"]
    n = by.size()
    a = by.apply(lambda x: conformal_quantile(np.abs(x), level))
    q = pd.DataFrame({"lo": -a, "hi": a}).loc[n[n >= MIN_POINTS].index]
    pa = conformal_quantile(np.abs(groups["error"]), level) if len(groups) else np.nan
    pooled = (-pa, pa)
    key = d["product_group"].astype(object)
    lo = key.map(q["lo"]).astype("float64")
    hi = key.map(q["hi"]).astype("float64")
    not_all = (key != ALL).to_numpy()
    lo = lo.where(lo.notna() | ~not_all, pooled[0])
    hi = hi.where(hi.notna() | ~not_all, pooled[1])
    out = d.copy()
    out["reconciled_low"] = np.maximum(out["reconciled"] * (1 + lo.to_numpy()), 0.0)
    out["reconciled_high"] = np.maximum(out["reconciled"] * (1 + hi.to_numpy()), out["reconciled"])
    out["reconciled_low"] = np.minimum(out["reconciled_low"], out["reconciled"])
    return out


def interval_notes(errors: pd.DataFrame) -> list[dict]:
    """A note when the reconciled total has fewer than :data:`MIN_POINTS` past errors: its interval is left
    empty (``n`` errors, ``min_points``) rather than drawn from too few.

    >>> interval_notes(pd.DataFrame({"product_group": ["ALL"] * 3, "error": [0.1, -0.1, 0.0]}))
    [{'code': 'total_interval_short', 'n': 3, 'min_points': 8}]
    """
    n = int((errors["product_group"] == ALL).sum())
    return [_note("total_interval_short", n=n, min_points=MIN_POINTS)] if n < MIN_POINTS else []


#: share of a row's reconciled forecast the money behind a shortage, a shortage risk or an optimistic
#: manager's deals must reach for the row to be flagged (run parameter ``flag_share``)
FLAG_SHARE = 0.05


def material(amount: pd.Series, reconciled: pd.Series, share: float) -> pd.Series:
    """Whether ``amount`` is at least ``share`` of the row's ``reconciled`` forecast (any positive amount when
    the forecast is 0).

    >>> material(pd.Series([4.0, 5.0, 1.0, 0.0]), pd.Series([100.0, 100.0, 0.0, 0.0]), 0.05).tolist()
    [False, True, True, False]
    """
    ref = reconciled.clip(lower=0.0).fillna(0.0)
    a = amount.fillna(0.0)
    return ((a > 0) & (a >= share * ref)).astype(bool)


def stock_risk(d: pd.DataFrame, flag_share: float = FLAG_SHARE) -> pd.Series:
    """Rows where the stock covers the reconciled demand but not the interval's upper end: the cumulative
    ``reconciled_high`` of the group from the first month through this month exceeds ``stock_available``
    by at least ``flag_share`` of the row's ``reconciled`` (:func:`material`).

    >>> d = pd.DataFrame({"product_group": ["x", "x"], "month": [1, 2], "reconciled": [50.0, 50.0],
    ...                   "reconciled_high": [60.0, 60.0], "stock_available": [100.0, 100.0], "stock_gap": [0.0, 0.0]})
    >>> stock_risk(d).tolist(), stock_risk(d, flag_share=0.5).tolist()
    ([False, True], [False, False])
    """
    high = d.sort_values("month").groupby("product_group", sort=False)["reconciled_high"].cumsum().reindex(d.index)
    above = material(high - d["stock_available"], d["reconciled"], flag_share)
    risky = above & ~(d["stock_gap"].fillna(0.0) > 0)
    return risky.fillna(False).astype(bool)


def first_month(mask: pd.Series, d: pd.DataFrame) -> pd.Series:
    """``mask`` kept only in the first month it holds for each ``product_group`` of ``d``.

    >>> d = pd.DataFrame({"product_group": ["x", "x", "y", "y"], "month": [2, 1, 1, 2]})
    >>> first_month(pd.Series([True, True, False, True]), d).tolist()
    [False, True, False, True]
    """
    m = mask.astype(bool)
    hit = d.loc[m.to_numpy(), ["product_group", "month"]]
    first = hit.groupby("product_group")["month"].transform("min")
    out = pd.Series(False, index=d.index)
    out.loc[first.index[(hit["month"] == first).to_numpy()]] = True
    return out


def forecast_flags(d: pd.DataFrame, alloc: pd.DataFrame, opt_rows: pd.Series | None, *, has_deals: bool,
                   open_deals: bool, disagreement: float, flag_share: float = FLAG_SHARE) -> pd.Series:
    """The ``flag`` codes of every row (:data:`~kbanalysis.forecast.model.FLAGS`), joined by ``;``.

    A shortage (``stock_gap``), a shortage risk (the cumulative ``reconciled_high`` above the stock) and an
    optimistic manager's deals (``opt_rows``, :func:`optimistic_rows`; on ``ALL`` summed over the month's
    groups) flag a row only when their money is at least ``flag_share`` of the row's reconciled forecast
    (:func:`material`): a 45 450 pipeline under a 3.9 M forecast needs nobody's look. A group's shortage,
    shortage risk (only for a group that does not run short) and overstock are flagged in the first month
    they appear (:func:`first_month`); the later months' ``stock_gap`` still shows the cumulative gap.
    """
    codes = []
    is_all = d["_all"] == 1
    grp_no_deals = set()
    if has_deals:
        deal_groups = set(alloc["product_group"].dropna()) if len(alloc) else set()
        grp_no_deals = set(d.loc[~is_all, "product_group"]) - deal_groups
    over = opt_rows if opt_rows is not None and len(opt_rows) else pd.Series(dtype="float64")
    by_month = over.groupby(level=0).sum() if len(over) else pd.Series(dtype="float64")
    keys = list(zip(d["month"], d["product_group"]))
    over_row = pd.Series([by_month.get(m, 0.0) if a else over.get((m, g), 0.0)
                          for (m, g), a in zip(keys, is_all)], index=d.index, dtype="float64")
    optimistic = material(over_row, d["reconciled"], flag_share)
    short = material(d["stock_gap"], d["reconciled"], flag_share)
    ever_short = short.groupby(d["product_group"]).transform("any")
    # an ALL row whose sum misses some group's stock / marketing says so
    grp = d.loc[~is_all]
    part_stock = set(grp.loc[grp["stock_available"].isna(), "month"])
    part_mk = set(grp.loc[grp["marketing"].isna(), "month"])
    ref = d["reconciled"].where(d["reconciled"] > 0)
    disagree = ((d["bottom_up"] - d["marketing"]).abs() / ref > disagreement).fillna(False)
    risk = stock_risk(d, flag_share=flag_share) if "reconciled_high" in d else pd.Series(False, index=d.index)
    # a group's shortage (the gap is cumulative), risk and overstock are said once, in the first month
    short, risk = first_month(short, d), first_month(risk & ~ever_short, d)
    overstock = first_month(d["overstock"].fillna(False).astype(bool), d)
    for i, r in enumerate(d.itertuples(index=False)):
        c = []
        if disagree.iat[i]:
            c.append("sources_disagree")
        if short.iat[i]:
            c.append("stock_short")
        elif risk.iat[i]:
            c.append("stock_risk")
        if overstock.iat[i]:
            c.append("overstock")
        if optimistic.iat[i]:
            c.append("manager_optimistic")
        if pd.isna(r.stock_available) or (is_all.iat[i] and r.month in part_stock):
            c.append("no_stock_data")
        if not has_deals or not open_deals or (not is_all.iat[i] and r.product_group in grp_no_deals):
            c.append("no_deals")
        if pd.isna(r.marketing) or (is_all.iat[i] and r.month in part_mk):
            c.append("no_marketing")
        codes.append(";".join(c))
    return pd.Series(codes, index=d.index, dtype="string")


def forecast_detail(d: pd.DataFrame, flags: pd.Series) -> pd.DataFrame:
    """The rows in ``forecast.csv``'s order (months, groups, ``ALL`` last within its month) with every
    helper column."""
    d = d.assign(flag=flags).sort_values(["month", "_all", "product_group"], ignore_index=True)
    return d.drop(columns="_all")


def forecast_output(detail: pd.DataFrame) -> pd.DataFrame:
    """Exactly the contract columns of ``forecast.csv`` (months as ``YYYY-MM`` text)."""
    t = detail.copy()
    t["month"] = month_text(t["month"]).astype("string").to_numpy()
    t["product_group"] = t["product_group"].astype("string")
    t["flag"] = t["flag"].astype("string")
    return t[OUT_COLUMNS].reset_index(drop=True)


#: flag codes that only say a source is absent: the notes of the run say that once, a row needs no look for it
QUIET_FLAGS = ("no_stock_data", "no_deals", "no_marketing")


def loud_flags(table: pd.DataFrame) -> pd.Series:
    """The ``flag`` of each row of ``forecast.csv`` without the :data:`QUIET_FLAGS` codes ("" when none is left).

    >>> loud_flags(pd.DataFrame({"flag": ["no_deals;stock_short", "no_stock_data", None]})).tolist()
    ['stock_short', '', '']
    """
    codes = table["flag"].astype("string").fillna("").str.split(";")
    return codes.map(lambda cs: ";".join(c for c in cs if c and c not in QUIET_FLAGS)).astype("string")


def flagged_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``forecast.csv`` that carry a flag a person should look at (not only "no data" codes),
    with only those flags (:func:`loud_flags`)."""
    flags = loud_flags(table)
    return table.assign(flag=flags).loc[(flags != "").to_numpy(dtype=bool)]


def forecast_shown(table: pd.DataFrame) -> pd.DataFrame:
    """``forecast.csv`` as the report shows it: only the flags a person should look at (:func:`loud_flags`)
    and no column of a source the case lacks (all empty); the file keeps every code and column.

    >>> t = pd.DataFrame({"product_group": ["x"], "stock_gap": [None], "reconciled": [1.0], "flag": ["no_stock_data"]})
    >>> forecast_shown(t).columns.tolist(), forecast_shown(t)["flag"].tolist()
    (['product_group', 'reconciled', 'flag'], [''])
    """
    shown = table.assign(flag=loud_flags(table))
    return shown[[c for c in shown.columns if c == "flag" or shown[c].notna().any()]]


def forecast_facts(table: pd.DataFrame, *, horizon: int, deals, stock, marketing) -> dict:
    """The figures the notebook's texts quote: the horizon's totals of every source (``ALL`` rows), the
    stock gap, the number of flagged rows, which tables the case has and which sources the forecast
    combines (``parts``: ``pipeline``, ``calibrated``, ``history``, ``history_total``, ``marketing``;
    ``n_sources`` of them).

    >>> t = pd.DataFrame({"month": ["2024-04"] * 2, "product_group": ["x", "ALL"], "pipeline": [1.0, 1.0],
    ...     "pipeline_calibrated": [2.0, 2.0], "history": [5.0, 5.0], "marketing": [None, None],
    ...     "reconciled": [7.0, 7.0], "stock_available": [None, None], "stock_gap": [None, None], "flag": ["", ""]})
    >>> f = forecast_facts(t, horizon=1, deals=None, stock=None, marketing=None)
    >>> f["reconciled"], f["parts"], f["n_sources"]
    (7.0, ['history'], 1)
    """
    alls = table.loc[table["product_group"] == ALL]
    groups = table.loc[table["product_group"] != ALL]
    total = {c: float(alls[c].sum(min_count=1)) if c in alls else float("nan")
             for c in ("pipeline", "pipeline_calibrated", "history", "history_total", "marketing")}
    has = {"deals": has_rows(deals), "stock": has_rows(stock), "marketing": has_rows(marketing)}
    parts = [k for k, ok in (("pipeline", has["deals"] and np.isfinite(total["pipeline"])),
                             ("calibrated", has["deals"] and np.isfinite(total["pipeline_calibrated"])),
                             ("history", True),
                             ("history_total", np.isfinite(total["history_total"])),
                             ("marketing", has["marketing"] and np.isfinite(total["marketing"]))) if ok]
    return {"horizon": int(horizon), "has_deals": has["deals"], "has_stock": has["stock"],
            "has_marketing": has["marketing"], "reconciled": float(alls["reconciled"].sum()), **total,
            "n_flagged": int(len(flagged_rows(table))), "parts": parts, "n_sources": len(parts),
            "stock_gap": float(groups.groupby("product_group")["stock_gap"].max().sum()) if has["stock"]
            else float("nan")}


def source_names(*, deals, stock, marketing, lang: str = "ru") -> str:
    """The sources a forecast of this case rests on, named in ``lang`` for the title: managers' deals,
    statistics, stock, marketing — only those the case has.

    >>> source_names(deals=None, stock=None, marketing=None, lang="en")
    'statistics'
    """
    from kbanalysis.deliverables.i18n import listed, t

    return listed([t(f"nb.forecast.src.{k}", lang) for k, ok in (("deals", has_rows(deals)), ("history", True),
                                                                 ("stock", has_rows(stock)),
                                                                 ("marketing", has_rows(marketing))) if ok], lang)


def method_text(facts: dict, *, lang: str = "ru", currency: str = "RUB") -> dict:
    """The text telling how the forecast was made (``key``) and its ``method`` phrase: each source of
    ``facts["parts"]`` (:func:`forecast_facts`) with its total, in ``lang``.

    >>> f = {"parts": ["history"], "history": 5.0}
    >>> method_text(f, lang="en", currency="GBP")["key"]
    'nb.forecast.method_one'
    """
    from kbanalysis.deliverables.i18n import t

    method = "; ".join(t(f"nb.forecast.part.{k}", lang, currency, **facts) for k in facts["parts"])
    return {"key": "nb.forecast.method" if len(facts["parts"]) > 1 else "nb.forecast.method_one",
            "method": method}


# --------------------------------------------------------------------------------------------
# all steps
# --------------------------------------------------------------------------------------------
class DemandForecast:
    """The reconciled forecast of ``forecast.csv``: the steps of this module run in order (notebook 04 runs
    the same steps one per cell).

    Parameters are the run parameters of the forecast (see :mod:`kbanalysis.run.params`).

    Attributes (after :meth:`fit`)
    ------------------------------
    table_ : DataFrame        exactly the contract columns of ``forecast.csv`` (:func:`forecast_output`)
    detail_ : DataFrame       the same rows with numeric months and helper columns (``bottom_up``,
                              ``history_low``/``history_high``, ``cover_months``)
    weights_ : dict           :func:`reconciliation_weights`
    marketing_factor_ : float :func:`marketing_factor`
    rates_, deals_, matches_, series_ : the deal and history tables (:func:`stage_win_rates`,
                              :func:`pipeline_deals`, :func:`match_won_deals`, :func:`split_group_months`)
    history_ : HistoryForecaster
    total_ : HistoryForecaster  :func:`total_history` (the statistical forecast of the total)
    deal_share_ : float       :func:`deal_share`
    deal_backtest_, marketing_backtest_ : DataFrame
    backtest_ : DataFrame     :func:`source_backtest` with the ``reconciled`` points
    optimism_ : DataFrame     :func:`~kbanalysis.forecast.model.manager_optimism`
    notes_ : list of dict     what the report must say (texts: :func:`~kbanalysis.forecast.model.note_text`)

    >>> m = pd.date_range("2022-01-01", periods=27, freq="MS")
    >>> sales = pd.DataFrame({"date": m, "client_id": "a", "product_group": "x", "amount": 100.0})
    >>> fc = DemandForecast(horizon=2).fit(sales, as_of="2024-04-01")
    >>> fc.table_[["month", "product_group", "history", "reconciled"]]
         month product_group  history  reconciled
    0  2024-04             x    100.0       100.0
    1  2024-04           ALL    100.0       100.0
    2  2024-05             x    100.0       100.0
    3  2024-05           ALL    100.0       100.0
    >>> fc.table_["flag"].iloc[0]
    'no_stock_data;no_deals;no_marketing'
    >>> fc.weights_
    {'bottom_up': 0.5, 'history_total': 0.5, 'marketing': 0.0}
    """

    def __init__(self, horizon: int = 3, win_rate_prior: float = 10.0, disagreement: float = 0.25,
                 overstock_months: float = 6.0, stock_valued_at: str = "price", n_origins: int = 12,
                 optimism_ratio: float = OPTIMISM_RATIO, marketing_prior_weight: float = 0.2,
                 flag_share: float = FLAG_SHARE):
        self.horizon = horizon
        self.flag_share = flag_share
        self.marketing_prior_weight = marketing_prior_weight
        self.win_rate_prior = win_rate_prior
        self.disagreement = disagreement
        self.overstock_months = overstock_months
        self.stock_valued_at = stock_valued_at
        self.n_origins = n_origins
        self.optimism_ratio = optimism_ratio

    @classmethod
    def from_params(cls, params: dict | None = None) -> "DemandForecast":
        """Build from the run parameters (unknown keys ignored)."""
        p = params or {}
        keys = ("horizon", "win_rate_prior", "disagreement", "overstock_months", "stock_valued_at",
                "marketing_prior_weight", "flag_share")
        return cls(**{k: p[k] for k in keys if k in p})

    def fit(self, sales: pd.DataFrame, deals: pd.DataFrame | None = None, stock: pd.DataFrame | None = None,
            marketing: pd.DataFrame | None = None, as_of=None) -> "DemandForecast":
        h = int(self.horizon)
        self.as_of_ = as_of = resolve_as_of(sales, as_of)
        self.months_ = months = forecast_months(as_of, h)
        has_deals = not _empty(deals)
        self._fit_deals(sales, deals, as_of, months)
        self.series_ = split_group_months(sales, deals, as_of, matches=self.matches_)
        self.deal_share_ = deal_share(deals, self.matches_, self.series_, months)
        self.history_ = HistoryForecaster(horizon=h, n_origins=self.n_origins).fit(self.series_)
        self.total_ = total_history(self.series_, h, self.n_origins)
        hf = horizon_forecast(self.history_, months)
        self.stock_ = stock_by_group(stock, valued_at=self.stock_valued_at, price_per_cost=price_per_cost(sales, as_of))
        self.marketing_groups_ = marketing_by_group(marketing, months, history_mix(hf, self.series_))
        groups = forecast_groups(self.series_, self.deals_, self.stock_, self.marketing_groups_, months)
        calibrable = has_deals and len(self.rates_) > 0
        grid = source_grid(months, groups, hf, self.deals_, self.marketing_groups_, has_deals=has_deals,
                           calibrable=calibrable)
        self._fit_weights(deals, marketing, as_of, calibrable)
        d = reconciled(grid, self.weights_, factor=self.marketing_factor_, share=self.deal_share_,
                       history_total=horizon_forecast(self.total_, months))
        d = with_stock(d, self.stock_, overstock_months=self.overstock_months)
        self.optimism_ = manager_optimism(deals, as_of, h, ratio=self.optimism_ratio, alloc=self.deals_) \
            if has_deals else manager_optimism(None, as_of, h)
        d = with_totals(d, months, self.history_total_rmse_, overstock_months=self.overstock_months)
        errors = relative_errors(self.history_, self.backtest_)
        d = with_intervals(d, errors)
        flags = forecast_flags(d, self.deals_, optimistic_rows(self.optimism_, self.deals_), has_deals=has_deals,
                               open_deals=has_open_deals(deals), disagreement=self.disagreement,
                               flag_share=self.flag_share)
        self.detail_ = forecast_detail(d, flags)
        self.table_ = forecast_output(self.detail_)
        self.notes_ = (self.notes_ + history_notes(self.series_, self.deal_share_, has_deals)
                       + left_out_notes(self.series_, groups) + stock_notes(self.stock_) + marketing_notes(marketing, self.marketing_backtest_,
                                                                    self.weights_, self.marketing_factor_)
                       + optimism_notes(self.optimism_) + interval_notes(errors))
        return self

    def _fit_deals(self, sales, deals, as_of, months) -> None:
        has_deals = not _empty(deals)
        self.rates_ = stage_win_rates(deals, self.win_rate_prior, as_of=as_of) if has_deals else stage_win_rates(None)
        self.deals_ = pipeline_deals(deals, as_of, len(months), sales=sales, rates=self.rates_) if has_deals else \
            pipeline_deals(None, as_of, len(months))
        self.matches_ = match_won_deals(sales, deals, as_of)
        self.notes_ = deal_notes(deals, self.rates_, self.deals_, self.matches_, months)

    def _fit_weights(self, deals, marketing, as_of, calibrable: bool) -> None:
        h = int(self.horizon)
        total = history_total_backtest(self.history_)
        self.history_total_rmse_ = step_rmse(total, h)
        origins = backtest_origins(total, as_of, h, self.n_origins)
        self.deal_backtest_ = deal_backtest(deals, origins, h, prior=self.win_rate_prior) if not _empty(deals) \
            else deal_backtest(None, origins, h)
        self.marketing_backtest_ = marketing_backtest(marketing, monthly_revenue(self.series_), as_of)
        self.marketing_factor_ = marketing_factor(self.marketing_backtest_)
        bt = source_backtest(total, self.deal_backtest_, self.marketing_backtest_, self.series_,
                             share=self.deal_share_, calibrable=calibrable,
                             history_total=self.total_)
        self.weights_ = reconciliation_weights(bt, prior_weight=self.marketing_prior_weight,
                                               has_marketing=not _empty(marketing))
        self.backtest_ = with_reconciled_backtest(bt, self.weights_)

    def calibration_summary(self) -> dict:
        """Headline figures of the deal calibration for the report.

        ``open_deals``, ``stated`` / ``calibrated`` (Σ over the horizon), ``ratio`` (calibrated /
        stated), ``overall_win_rate``, ``mean_stated`` (amount-weighted stated probability of the
        open deals), ``mean_calibrated``, and from the backtest of past pipelines: ``bias_stated``,
        ``bias_calibrated``, ``wape_stated``, ``wape_calibrated`` (NaN when not measurable).
        """
        a = self.deals_
        calibrable = len(a) > 0 and bool(a["win_rate"].notna().all())
        out = {"open_deals": int(a["deal_id"].nunique()) if len(a) else 0,
               "stated": float(a["expected"].sum()) if len(a) else np.nan,
               "calibrated": float(a["expected_calibrated"].sum()) if calibrable else np.nan,
               "overall_win_rate": float(self.rates_.attrs.get("overall_rate", np.nan))}
        out["ratio"] = out["calibrated"] / out["stated"] if out["stated"] else np.nan
        amt = a["amount"].sum() if len(a) else 0.0
        out["mean_stated"] = float(a["expected"].sum() / amt) if amt else np.nan
        out["mean_calibrated"] = float(a["expected_calibrated"].sum() / amt) if amt and calibrable else np.nan
        e = self.source_errors().set_index("source")
        for src, key in (("pipeline", "stated"), ("pipeline_calibrated", "calibrated")):
            out[f"bias_{key}"] = float(e.loc[src, "bias"]) if src in e.index else np.nan
            out[f"wape_{key}"] = float(e.loc[src, "wape"]) if src in e.index else np.nan
        return out

    def source_errors(self) -> pd.DataFrame:
        """:func:`source_errors` of the fitted backtest and weights."""
        return source_errors(self.backtest_, self.weights_)


def forecast_table(sales: pd.DataFrame, deals: pd.DataFrame | None = None, stock: pd.DataFrame | None = None,
                   marketing: pd.DataFrame | None = None, as_of=None, params: dict | None = None) -> pd.DataFrame:
    """``forecast.csv``: exactly the contract columns (see :class:`DemandForecast`).

    >>> m = pd.date_range("2023-01-01", periods=15, freq="MS")
    >>> sales = pd.DataFrame({"date": m, "client_id": "a", "product_group": "x", "amount": 10.0})
    >>> st = pd.DataFrame({"product_group": ["x"], "on_hand": [15.0], "incoming": [0.0]})
    >>> t = forecast_table(sales, stock=st, as_of="2024-04-01", params={"horizon": 2})
    >>> t[["month", "product_group", "reconciled", "stock_available", "stock_gap"]]
         month product_group  reconciled  stock_available  stock_gap
    0  2024-04             x        10.0             15.0        0.0
    1  2024-04           ALL        10.0             15.0        0.0
    2  2024-05             x        10.0             15.0        5.0
    3  2024-05           ALL        10.0             15.0        5.0
    """
    return DemandForecast.from_params(params).fit(sales, deals, stock, marketing, as_of).table_
