"""Demand forecast: managers' pipeline, its calibration, a statistical forecast, marketing, stock.

The method follows the consultants' practice: every manager's forecast of expected deals (amount,
probability, stage, planned month) is consolidated, then overlaid with past statistics, the stock
and the marketing estimate.

How the figures of ``forecast.csv`` are made (one row per month of the horizon × product group,
plus an ``ALL`` row per month, last within its month):

* ``pipeline`` = Σ amount × stated probability of the **open** deals planned in the month. Open
  deals whose planned month is already past are moved to the first month (they are still open);
  deals planned after the horizon are left out. A deal without a product group is split over the
  client's own group mix of the last 12 months of sales, or over the overall mix when the client
  has no sales.
* ``pipeline_calibrated`` = the same with the stated probability replaced by the stage's win rate
  measured on closed deals and shrunk toward the overall rate:
  ``(wins + prior × overall) / (n + prior)`` (beta / empirical-Bayes shrinkage, ``prior`` pseudo-deals).
  Deals count in their planned month (slips are measured per manager, not moved).
* ``history`` = statistical forecast of the **recurring flow only**: past monthly sales minus the
  sales that won deals brought (a won deal is matched to sales by ``doc_id == deal_id`` of the same
  client, else by one document of the same client in the closing month whose total equals the
  deal amount within 1 %). Per group, statsforecast's candidates (AutoETS, AutoARIMA, AutoTheta,
  SeasonalNaive from 24 months; last year's months × recent growth for 13–23 months; Croston / ADIDA /
  IMAPA for intermittent groups; Naive, HistoricAverage, WindowAverage always) are scored on a
  rolling-origin backtest (``cross_validation``, 12 origins × horizon) and the best ones combined with
  weights ∝ 1 / their backtest MSE (:mod:`kbanalysis.forecast.candidates`).
  Without deals (or unmatched deals) ``history`` forecasts all sales.
* ``marketing`` = the marketing estimate as given; a total-only estimate is split over groups by
  the ``history`` group mix.
* ``reconciled`` = demand. The recurring flow and the deal flow are disjoint, so the bottom-up
  demand is ``history + pipeline_calibrated``: the managers' deals are added once, on top of a
  history that no longer contains past deals (the stated pipeline is never added). When only a
  share ρ of the past won deals can be found in sales, history still holds the rest of the deal
  flow and only ρ × ``pipeline_calibrated`` is added (ρ = 0: the pipeline is a check only);
  without closed deals to calibrate on, the stated ``pipeline`` stands in (and a note says so). Marketing
  estimates the whole demand, so it is blended with the bottom-up figure, not added:
  ``reconciled = w × (history + pipeline_calibrated) + (1 − w) × k × marketing`` where ``k`` =
  actual / estimate of the past marketing months and ``w`` from the backtest MSE of each on the same
  past months (total level), shrunk toward equal weights when those months are few and capped so that
  neither takes all (:class:`kbanalysis.forecast.reconcile.ShrunkInverseMSE`). A source whose accuracy
  cannot be measured (marketing given only for future months) gets the stated prior weight
  ``marketing_prior_weight`` (``k`` = 1; the report says so). Every group uses the
  same weights and ``ALL`` is the sum of the groups (bottom-up), so the table is coherent exactly.
  Deals not yet in the CRM that will close within the horizon are not forecast separately: the
  backtest of ``history + pipeline_calibrated`` against all sales shows what that misses.
* ``stock_available`` = on hand + incoming of the group, the same figure on each month row (it
  serves the whole horizon); ``stock_gap`` = cumulative demand from the first month through this
  month that the stock cannot cover, ``max(0, Σ reconciled − stock_available)``; the last month
  shows the gap of the whole horizon. ``ALL`` rows carry the sums over groups (stock does not move
  between groups, so the ``ALL`` gap is the sum of the group gaps).
* ``flag`` = stable codes joined by ``;`` (see :data:`FLAGS`).

A missing optional table leaves its columns empty (NaN) and flags the rows; nothing is invented.

>>> import pandas as pd
>>> deals = pd.DataFrame({"deal_id": ["d1", "d2", "d3"], "client_id": ["a", "b", "a"],
...     "amount": [100.0, 200.0, 50.0], "probability": [0.5, 0.25, 0.9],
...     "stage": ["offer", "offer", "contract"], "status": ["open", "open", "won"],
...     "planned_month": pd.to_datetime(["2024-03-01", "2024-04-01", "2024-01-01"]),
...     "product_group": ["x", "y", "x"]})
>>> pipeline(deals, "2024-04-01", 2)
     month product_group  pipeline
0  2024-04             x      50.0
1  2024-04             y      50.0
2  2024-05             x       0.0
3  2024-05             y       0.0
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kbanalysis.forecast.candidates import HistoryForecaster
from kbanalysis.forecast.reconcile import InverseMSE
from kbanalysis.sales.engine import client_groups, last_sale
from kbanalysis.sales.lines import costed_group_totals, deal_candidate_lines, group_months_by_deal

#: The label of the total rows.
ALL = "ALL"

#: Flag codes of ``forecast.csv`` (stable; the report translates them with ``forecast.flag.<code>``).
FLAGS = ("sources_disagree", "stock_short", "stock_risk", "overstock", "manager_optimistic", "no_stock_data", "no_deals",
         "no_marketing")

#: A manager's stated pipeline for a month above this many times their average monthly won amount
#: (last 12 months) is ``manager_optimistic``.
OPTIMISM_RATIO = 2.0

DEAL_COLUMNS = dict(deal_id="deal_id", client_id="client_id", amount="amount", probability="probability",
                    stage="stage", planned_month="planned_month", status="status", manager="manager",
                    product_group="product_group", created_date="created_date", closed_date="closed_date")

OUT_COLUMNS = ["month", "product_group", "pipeline", "pipeline_calibrated", "history", "marketing", "reconciled",
               "stock_available", "stock_gap", "flag", "reconciled_low", "reconciled_high", "history_total"]


# --------------------------------------------------------------------------------------------
# months
# --------------------------------------------------------------------------------------------
def month_start(x) -> pd.Timestamp:
    """The first day of the month of ``x``.

    >>> month_start("2024-04-17")
    Timestamp('2024-04-01 00:00:00')
    """
    return pd.Timestamp(x).to_period("M").to_timestamp()


def forecast_months(as_of, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` calendar months of the forecast, starting at ``as_of``'s month.

    >>> forecast_months("2024-04-01", 3).strftime("%Y-%m").tolist()
    ['2024-04', '2024-05', '2024-06']
    """
    return pd.date_range(month_start(as_of), periods=int(horizon), freq="MS")


def month_text(months) -> pd.Series:
    """Months as ``YYYY-MM`` text (pandas string dtype)."""
    return pd.Series(pd.DatetimeIndex(months).strftime("%Y-%m"), dtype="string")


def resolve_as_of(sales: pd.DataFrame | None, as_of=None) -> pd.Timestamp:
    """``as_of`` as a timestamp; empty = the day after the last sale.

    >>> resolve_as_of(pd.DataFrame({"date": pd.to_datetime(["2024-03-31"])}))
    Timestamp('2024-04-01 00:00:00')
    """
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        if sales is None or not len(sales):
            raise ValueError("as_of is empty and there are no sales to infer it from")
        return (last_sale(sales) + pd.Timedelta(days=1)).normalize()
    return pd.Timestamp(as_of).normalize()


def _empty(df) -> bool:
    return df is None or len(df) == 0


# --------------------------------------------------------------------------------------------
# deals: normalisation, stage win rates, calibration
# --------------------------------------------------------------------------------------------
def _stage_key(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.casefold().fillna("")


def _status(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.lower()


def _closed(deals: pd.DataFrame, status: str) -> pd.DataFrame:
    st = _status(deals[status])
    return deals.loc[st.isin(["won", "lost"]).fillna(False).to_numpy()]


def stated_probability_usable(deals: pd.DataFrame, *, probability: str = "probability",
                              status: str = "status") -> bool:
    """False when the CRM overwrote the probability of closed deals with the outcome (won 1, lost 0).

    Then the closed deals say nothing about how well managers estimate, and calibration by the
    stated probability is not measured.

    >>> d = pd.DataFrame({"status": ["won", "lost"], "probability": [1.0, 0.0]})
    >>> stated_probability_usable(d)
    False
    """
    c = _closed(deals, status)
    p = c[probability].astype("float64")
    known = p.notna()
    if not known.any():
        return False
    won = (_status(c[status]) == "won").to_numpy()
    overwritten = ((p == 1.0) & won) | ((p == 0.0) & ~won)
    return not bool(overwritten[known].all())


def stage_win_rates(deals: pd.DataFrame, prior: float = 10.0, *, as_of=None, mature_months: int = 2,
                    stage: str = "stage", status: str = "status", planned_month: str = "planned_month",
                    closed_date: str = "closed_date") -> pd.DataFrame:
    """Win rate of each stage measured on closed deals, shrunk toward the overall rate.

    ``shrunk_rate = (wins + prior × overall_rate) / (n + prior)``: a beta prior worth ``prior``
    pseudo-deals centred on the overall win rate (empirical Bayes), so that a stage seen on three
    deals does not get a rate of 0 or 1. Stages are matched case- and space-insensitively. A stage
    of open deals that no closed deal has gets the overall rate (see :func:`stage_rate_of`). The
    overall rate is ``attrs["overall_rate"]`` (also Σ wins / Σ n of the table).

    With ``as_of`` only what was known then counts: deals closed before it, and only *mature*
    cohorts — planned at least ``mature_months`` months before ``as_of``'s month. Lost deals
    usually close faster than won ones (a win waits for the order); counting the recent cohorts,
    whose losses are already closed but whose wins are not, would bias the rates down.

    Note: this reads the stage a closed deal was left at. When a CRM moves closed deals to a final
    stage ("won" / "lost"), those stages never match an open deal's stage and every open deal gets
    the overall win rate.

    Parameters
    ----------
    deals : DataFrame
        Canonical deals; only ``status`` won / lost rows count.
    prior : float
        Shrinkage strength in pseudo-deals (parameter ``win_rate_prior``).
    as_of : date-like, optional
        Use only what was known at this date (see above).

    Returns
    -------
    DataFrame
        ``stage, n, wins, rate, shrunk_rate`` sorted by ``shrunk_rate``.

    Examples
    --------
    >>> d = pd.DataFrame({"stage": ["a", "a", "a", "b"], "status": ["won", "lost", "lost", "won"]})
    >>> r = stage_win_rates(d, prior=2)
    >>> r
      stage  n  wins      rate  shrunk_rate
    0     a  3     1  0.333333     0.400000
    1     b  1     1  1.000000     0.666667
    >>> r.attrs["overall_rate"]
    0.5
    """
    cols = ["stage", "n", "wins", "rate", "shrunk_rate"]
    c = _closed(deals, status) if not _empty(deals) else None
    if c is not None and as_of is not None:
        cut = pd.Timestamp(as_of)
        known = c[closed_date].isna() | (c[closed_date] < cut) if closed_date in c else True
        mature = c[planned_month] <= month_start(cut) - pd.DateOffset(months=mature_months)
        c = c.loc[np.asarray(known & mature, dtype=bool)]
    if c is None or not len(c):
        out = pd.DataFrame({k: pd.Series(dtype="string" if k == "stage" else "float64") for k in cols})
        out.attrs["overall_rate"] = float("nan")
        return out
    key = _stage_key(c[stage])
    won = (_status(c[status]) == "won").astype("int64").to_numpy()
    f = pd.DataFrame({"key": key.to_numpy(), "label": c[stage].astype("string").str.strip().fillna("").to_numpy(),
                      "won": won})
    g = f.groupby("key", sort=True).agg(n=("won", "size"), wins=("won", "sum"))
    label = f.groupby(["key", "label"]).size().reset_index(name="k").sort_values(
        ["key", "k", "label"], ascending=[True, False, True]).drop_duplicates("key").set_index("key")["label"]
    overall = float(won.mean())
    out = pd.DataFrame({"stage": label.reindex(g.index).astype("string").to_numpy(), "n": g["n"].to_numpy(),
                        "wins": g["wins"].to_numpy()})
    out["rate"] = out["wins"] / out["n"]
    out["shrunk_rate"] = (out["wins"] + prior * overall) / (out["n"] + prior)
    out = out.sort_values(["shrunk_rate", "stage"], ignore_index=True)
    out.attrs["overall_rate"] = overall
    return out


def stage_rate_of(stages: pd.Series, rates: pd.DataFrame) -> pd.Series:
    """The shrunk win rate of each stage in ``stages``; unknown stages get the overall rate.

    >>> r = stage_win_rates(pd.DataFrame({"stage": ["a", "b"], "status": ["won", "lost"]}), prior=0)
    >>> stage_rate_of(pd.Series(["A ", "c"]), r).tolist()
    [1.0, 0.5]
    """
    overall = rates.attrs.get("overall_rate")
    if overall is None or (isinstance(overall, float) and math.isnan(overall)):
        overall = float(rates["wins"].sum() / rates["n"].sum()) if len(rates) and rates["n"].sum() > 0 else np.nan
    m = dict(zip(_stage_key(rates["stage"]), rates["shrunk_rate"].astype("float64")))
    return pd.Series(_stage_key(stages).map(m).astype("float64").fillna(overall).to_numpy(), index=stages.index,
                     dtype="float64")


def manager_calibration(deals: pd.DataFrame, *, manager: str = "manager", probability: str = "probability",
                        status: str = "status", planned_month: str = "planned_month",
                        closed_date: str = "closed_date") -> pd.DataFrame:
    """How well each manager's stated probabilities matched the outcomes of their closed deals.

    Columns: ``manager, n_closed, mean_stated, win_rate, bias`` (= mean_stated − win_rate; positive
    = optimistic), ``brier`` (mean of (stated − outcome)², 0 = perfect, 0.25 = a coin), ``slip_rate``
    (share of won deals closed in a month after the planned one, among won deals with a closing
    date). Deals without a stated probability count in ``n_closed`` and ``win_rate`` only. The last
    row ``ALL`` covers every closed deal. When the CRM overwrote closed deals' probabilities with
    the outcome (see :func:`stated_probability_usable`) the stated columns are NaN.

    >>> d = pd.DataFrame({"manager": ["m", "m", "m", "m"], "probability": [0.8, 0.8, 0.6, 0.6],
    ...     "status": ["won", "lost", "lost", "won"],
    ...     "planned_month": pd.to_datetime(["2024-01-01"] * 4),
    ...     "closed_date": pd.to_datetime(["2024-02-10", "2024-01-10", "2024-01-10", "2024-01-20"])})
    >>> manager_calibration(d).round(3).to_dict("records")[0]
    {'manager': 'm', 'n_closed': 4, 'mean_stated': 0.7, 'win_rate': 0.5, 'bias': 0.2, 'brier': 0.3, 'slip_rate': 0.5}
    """
    cols = ["manager", "n_closed", "mean_stated", "win_rate", "bias", "brier", "slip_rate"]
    if _empty(deals):
        return pd.DataFrame({k: pd.Series(dtype="string" if k == "manager" else "float64") for k in cols})
    c = _closed(deals, status)
    usable = stated_probability_usable(deals, probability=probability, status=status)
    won = (_status(c[status]) == "won").astype("float64").to_numpy()
    p = c[probability].astype("float64").to_numpy() if usable else np.full(len(c), np.nan)
    mgr = c[manager].astype("string").fillna("—") if manager in c else pd.Series("—", index=c.index, dtype="string")
    if closed_date in c and c[closed_date].notna().any():
        cm = c[closed_date].dt.to_period("M").dt.to_timestamp()
        slip = np.where(cm.notna() & (won == 1), (cm > c[planned_month]).astype("float64"), np.nan)
    else:
        slip = np.full(len(c), np.nan)
    f = pd.DataFrame({"manager": mgr.to_numpy(), "won": won, "p": p, "sq": (p - won) ** 2, "slip": slip})

    def agg(x: pd.DataFrame) -> dict:
        return {"n_closed": len(x), "mean_stated": x["p"].mean(), "win_rate": x["won"].mean(),
                "brier": x["sq"].mean(), "slip_rate": x["slip"].mean()}

    rows = [{"manager": k, **agg(x)} for k, x in f.groupby("manager", sort=True)]
    rows.append({"manager": ALL, **agg(f)})
    out = pd.DataFrame(rows)
    out["bias"] = out["mean_stated"] - out["win_rate"]
    out["manager"] = out["manager"].astype("string")
    out["n_closed"] = out["n_closed"].astype("int64")
    return out[cols]


def calibration_curve(deals: pd.DataFrame, bins=5, *, by: str | None = None, probability: str = "probability",
                      status: str = "status") -> pd.DataFrame:
    """Stated probability vs actual win rate of closed deals, in probability bins (reliability chart).

    Parameters
    ----------
    bins : int or sequence of float
        Number of equal-width bins on 0..1, or the bin edges.
    by : str, optional
        A column (``stage``, ``manager``) to draw one curve per value of.

    Returns
    -------
    DataFrame
        ``[by,] bin, stated, actual, n``: mean stated probability and share won per bin (empty
        bins left out). Empty when stated probabilities of closed deals are not usable.

    >>> d = pd.DataFrame({"probability": [0.1, 0.2, 0.9, 0.8], "status": ["lost", "won", "won", "won"]})
    >>> calibration_curve(d, bins=2)
             bin  stated  actual  n
    0  0.00–0.50    0.15     0.5  2
    1  0.50–1.00    0.85     1.0  2
    """
    keys = [by] if by else []
    cols = keys + ["bin", "stated", "actual", "n"]
    if _empty(deals) or not stated_probability_usable(deals, probability=probability, status=status):
        return pd.DataFrame({k: pd.Series(dtype="float64") for k in cols})
    c = _closed(deals, status)
    c = c.loc[c[probability].notna()]
    edges = np.linspace(0, 1, int(bins) + 1) if np.isscalar(bins) else np.asarray(bins, dtype="float64")
    labels = [f"{a:.2f}–{b:.2f}" for a, b in zip(edges[:-1], edges[1:])]
    f = pd.DataFrame({"p": c[probability].astype("float64").to_numpy(),
                      "won": (_status(c[status]) == "won").astype("float64").to_numpy()})
    f["bin"] = pd.cut(f["p"], edges, labels=labels, include_lowest=True)
    if by:
        f[by] = c[by].astype("string").fillna("—").to_numpy()
    out = (f.groupby(keys + ["bin"], observed=True, sort=True)
           .agg(stated=("p", "mean"), actual=("won", "mean"), n=("won", "size")).reset_index())
    out["bin"] = out["bin"].astype("string")
    return out[cols]


def stated_vs_actual(deals: pd.DataFrame | None, by: str = "stage", *, prior: float = 10.0, as_of=None,
                     probability: str = "probability", status: str = "status", stage: str = "stage") -> pd.DataFrame:
    """Per stage (or manager …): closed deals, mean stated probability, share won, shrunk win rate.

    Returns ``<by>, n, stated, actual, shrunk_rate`` (``shrunk_rate`` only for ``by="stage"``;
    ``stated`` NaN when the stated probabilities of closed deals are not usable). With ``as_of`` the
    shrunk rates are those the forecast uses (:func:`stage_win_rates` with ``as_of``).

    >>> d = pd.DataFrame({"stage": ["a", "a", "b"], "probability": [0.5, 0.7, 0.9],
    ...                   "status": ["won", "lost", "won"]})
    >>> stated_vs_actual(d, prior=0)
      stage  n  stated  actual  shrunk_rate
    0     a  2     0.6     0.5          0.5
    1     b  1     0.9     1.0          1.0
    """
    cols = [by, "n", "stated", "actual", "shrunk_rate"]
    if _empty(deals):
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    c = _closed(deals, status)
    usable = stated_probability_usable(deals, probability=probability, status=status)
    key = c[by].astype("string").str.strip().fillna("—")
    f = pd.DataFrame({by: key.to_numpy(), "p": c[probability].astype("float64").to_numpy() if usable else np.nan,
                      "won": (_status(c[status]) == "won").astype("float64").to_numpy()})
    out = f.groupby(by, sort=True).agg(n=("won", "size"), stated=("p", "mean"), actual=("won", "mean")).reset_index()
    if by == stage:
        rates = stage_win_rates(deals, prior, as_of=as_of, stage=stage, status=status)
        out["shrunk_rate"] = stage_rate_of(out[by], rates).to_numpy()
    else:
        out["shrunk_rate"] = np.nan
    out[by] = out[by].astype("string")
    return out[cols]


# --------------------------------------------------------------------------------------------
# pipeline
# --------------------------------------------------------------------------------------------
def group_mix(sales: pd.DataFrame | None, as_of, months: int = 12) -> tuple[pd.DataFrame, pd.Series]:
    """Group shares of each client's sales and of all sales over the last ``months`` months.

    Returns ``(client_mix, overall)``: ``client_mix`` has ``client_id, product_group, share``
    (positive revenue only, shares sum to 1 per client); ``overall`` is a Series of shares by group.

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-05"] * 3), "client_id": ["a", "a", "b"],
    ...                   "product_group": ["x", "y", "x"], "amount": [30.0, 10.0, 60.0]})
    >>> cm, overall = group_mix(s, "2024-02-01")
    >>> cm["share"].tolist(), overall.to_dict()
    ([0.75, 0.25, 1.0], {'x': 0.9, 'y': 0.1})
    """
    if _empty(sales):
        return (pd.DataFrame({"client_id": pd.Series(dtype="string"), "product_group": pd.Series(dtype="string"),
                              "share": pd.Series(dtype="float64")}), pd.Series(dtype="float64"))
    cg = client_groups(sales, as_of, months)
    cg = cg.loc[cg["revenue"] > 0]
    cg = cg.assign(share=cg["revenue"] / cg.groupby("client_id", observed=True)["revenue"].transform("sum"))
    tot = cg.groupby("product_group", observed=True)["revenue"].sum()
    overall = (tot / tot.sum()) if tot.sum() > 0 else tot.astype("float64")
    overall.index = overall.index.astype(object)
    return cg[["client_id", "product_group", "share"]].reset_index(drop=True), overall


def pipeline_deals(deals: pd.DataFrame | None, as_of, horizon: int, *, sales: pd.DataFrame | None = None,
                   rates: pd.DataFrame | None = None, prior: float = 10.0, deal_id: str = "deal_id",
                   client_id: str = "client_id", amount: str = "amount", probability: str = "probability",
                   stage: str = "stage", planned_month: str = "planned_month", status: str = "status",
                   manager: str = "manager", product_group: str = "product_group") -> pd.DataFrame:
    """The open deals of the horizon, one row per deal × product group, with both expectations.

    Columns: ``deal_id, client_id, manager, stage, planned_month, month, moved, product_group,
    group_source, share, amount, probability, win_rate, expected, expected_calibrated``.

    * ``month`` is the planned month, or the first month of the horizon for an open deal whose
      planned month is already past (``moved`` = True); deals planned after the horizon and
      deals without an amount or planned month are left out.
    * ``group_source``: ``deal`` (the deal has a group), ``client_mix`` (split by the client's own
      group mix of the last 12 months of sales), ``overall_mix`` (split by the mix of all sales,
      or, without sales, of the open deals that have a group), ``none`` (nothing to split by:
      group ``unassigned``). ``share`` is the part of the deal in the row; ``amount`` is already
      multiplied by it.
    * ``expected`` = amount × stated probability (missing probability counts 0);
      ``expected_calibrated`` = amount × ``win_rate``, the stage's shrunk win rate
      (:func:`stage_win_rates` of the deals known at ``as_of``, with ``prior``, unless ``rates``
      is given).

    >>> d = pd.DataFrame({"deal_id": ["d1"], "client_id": ["a"], "amount": [100.0], "probability": [0.5],
    ...     "stage": ["offer"], "status": ["open"], "planned_month": pd.to_datetime(["2024-01-01"]),
    ...     "product_group": pd.array([None], dtype="string")})
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-05"] * 2), "client_id": ["a", "a"],
    ...                   "product_group": ["x", "y"], "amount": [30.0, 10.0]})
    >>> pipeline_deals(d, "2024-03-01", 3, sales=s)[["month", "moved", "product_group", "group_source", "expected"]]
           month  moved product_group group_source  expected
    0 2024-03-01   True             x   client_mix      37.5
    1 2024-03-01   True             y   client_mix      12.5
    """
    cols = ["deal_id", "client_id", "manager", "stage", "planned_month", "month", "moved", "product_group",
            "group_source", "share", "amount", "probability", "win_rate", "expected", "expected_calibrated"]
    if _empty(deals):
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    months = forecast_months(as_of, horizon)
    d = deals.loc[(_status(deals[status]) == "open").fillna(False).to_numpy()]
    d = d.loc[d[amount].notna() & d[planned_month].notna()]
    pm = d[planned_month]
    moved = (pm < months[0]).to_numpy()
    month = pm.where(~moved, months[0])
    keep = month.isin(months).to_numpy()
    d, month, moved = d.loc[keep], month[keep], moved[keep]
    if rates is None:
        rates = stage_win_rates(deals, prior, as_of=as_of, stage=stage, status=status, planned_month=planned_month)
    base = pd.DataFrame({
        "deal_id": d[deal_id].astype("string").to_numpy(), "client_id": d[client_id].astype("string").to_numpy(),
        "manager": (d[manager].astype("string") if manager in d else pd.Series(pd.NA, index=d.index,
                                                                              dtype="string")).to_numpy(),
        "stage": d[stage].astype("string").to_numpy(), "planned_month": d[planned_month].to_numpy(),
        "month": month.to_numpy(), "moved": moved,
        "product_group": (d[product_group].astype("string") if product_group in d
                          else pd.Series(pd.NA, index=d.index, dtype="string")).to_numpy(),
        "amount": d[amount].astype("float64").to_numpy(),
        "probability": d[probability].astype("float64").to_numpy() if probability in d else np.nan,
        "win_rate": stage_rate_of(d[stage], rates).to_numpy() if len(rates) else np.nan,
    })
    base["product_group"] = base["product_group"].astype("string")
    has = base["product_group"].notna()
    own = base.loc[has].assign(group_source="deal", share=1.0)
    rest = base.loc[~has].drop(columns="product_group")
    parts = [own]
    if len(rest):
        client_mix, overall = group_mix(sales, as_of)
        if not len(overall):
            gs = own.groupby("product_group")["amount"].sum()
            overall = gs / gs.sum() if len(gs) and gs.sum() > 0 else overall
        by_client = rest.merge(client_mix.astype({"client_id": "string"}), on="client_id", how="inner")
        parts.append(by_client.assign(group_source="client_mix"))
        left = rest.loc[~rest["client_id"].isin(client_mix["client_id"])]
        if len(left) and len(overall):
            ov = pd.DataFrame({"product_group": pd.array(list(overall.index), dtype="string"),
                               "share": overall.to_numpy(), "_k": 1})
            parts.append(left.assign(_k=1).merge(ov, on="_k").drop(columns="_k").assign(group_source="overall_mix"))
        elif len(left):
            parts.append(left.assign(product_group="unassigned", share=1.0, group_source="none"))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else own
    out["product_group"] = out["product_group"].astype("string")
    out["group_source"] = out["group_source"].astype("string")
    out["amount"] = out["amount"] * out["share"]
    out["expected"] = out["amount"] * out["probability"].fillna(0.0)
    out["expected_calibrated"] = out["amount"] * out["win_rate"]
    out["moved"] = out["moved"].astype(bool)
    return out[cols].sort_values(["month", "product_group", "deal_id"], ignore_index=True)


def _grid(months, groups) -> pd.DataFrame:
    g = sorted(set(groups))
    idx = pd.MultiIndex.from_product([pd.DatetimeIndex(months), g], names=["month", "product_group"])
    return idx.to_frame(index=False).astype({"product_group": "string"})


def _pipeline_sum(alloc: pd.DataFrame, as_of, horizon, value: str, name: str) -> pd.DataFrame:
    months = forecast_months(as_of, horizon)
    grid = _grid(months, alloc["product_group"].dropna().unique()) if len(alloc) else _grid(months, [])
    s = alloc.groupby(["month", "product_group"], as_index=False)[value].sum().rename(columns={value: name})
    out = grid.merge(s, on=["month", "product_group"], how="left")
    out[name] = out[name].fillna(0.0)
    out["month"] = month_text(out["month"]).to_numpy()
    out["month"] = out["month"].astype("string")
    out.attrs["overdue_deals"] = int(alloc.loc[alloc["moved"].astype(bool), "deal_id"].nunique()) if len(alloc) else 0
    out.attrs["overdue_amount"] = float(alloc.loc[alloc["moved"].astype(bool), "amount"].sum()) if len(alloc) else 0.0
    return out


def pipeline(deals: pd.DataFrame | None, as_of, horizon: int, *, sales: pd.DataFrame | None = None,
             **columns) -> pd.DataFrame:
    """Σ amount × stated probability of the open deals per month × product group of the horizon.

    Overdue open deals (planned before ``as_of``'s month) count in the first month: their number
    and amount are ``attrs["overdue_deals"]`` / ``attrs["overdue_amount"]``. Deals without a group
    are split as in :func:`pipeline_deals`. Column names as keywords of :func:`pipeline_deals`.

    Returns
    -------
    DataFrame
        ``month`` (``YYYY-MM``), ``product_group``, ``pipeline``: every month × every group that
        has an open deal in the horizon (0 where none).

    >>> d = pd.DataFrame({"deal_id": ["d1", "d2"], "client_id": ["a", "b"], "amount": [100.0, 40.0],
    ...     "probability": [0.5, 0.5], "stage": ["s", "s"], "status": ["open", "open"],
    ...     "planned_month": pd.to_datetime(["2024-02-01", "2024-05-01"]), "product_group": ["x", "x"]})
    >>> p = pipeline(d, "2024-04-01", 3)
    >>> p["pipeline"].tolist(), p.attrs["overdue_deals"]
    ([50.0, 20.0, 0.0], 1)
    """
    alloc = pipeline_deals(deals, as_of, horizon, sales=sales, **columns)
    return _pipeline_sum(alloc, as_of, horizon, "expected", "pipeline")


def pipeline_calibrated(deals: pd.DataFrame | None, as_of, horizon: int, *, prior: float = 10.0,
                        rates: pd.DataFrame | None = None, sales: pd.DataFrame | None = None,
                        **columns) -> pd.DataFrame:
    """As :func:`pipeline`, with the stated probability replaced by the stage's shrunk win rate.

    >>> d = pd.DataFrame({"deal_id": ["o", "w", "l"], "client_id": ["a", "a", "a"],
    ...     "amount": [100.0, 1.0, 1.0], "probability": [0.9, 0.5, 0.5], "stage": ["s", "s", "s"],
    ...     "status": ["open", "won", "lost"],
    ...     "planned_month": pd.to_datetime(["2024-04-01", "2024-01-01", "2024-01-01"]),
    ...     "product_group": ["x", "x", "x"]})
    >>> pipeline_calibrated(d, "2024-04-01", 1, prior=0)["pipeline_calibrated"].tolist()
    [50.0]
    """
    alloc = pipeline_deals(deals, as_of, horizon, sales=sales, rates=rates, prior=prior, **columns)
    return _pipeline_sum(alloc, as_of, horizon, "expected_calibrated", "pipeline_calibrated")


def manager_optimism(deals: pd.DataFrame | None, as_of, horizon: int, *, ratio: float = OPTIMISM_RATIO,
                     months: int = 12, min_closed: int = 3, alloc: pd.DataFrame | None = None,
                     manager: str = "manager", amount: str = "amount", status: str = "status",
                     planned_month: str = "planned_month", closed_date: str = "closed_date") -> pd.DataFrame:
    """Each manager's stated pipeline per month of the horizon against their own track record.

    ``won_month`` = the manager's average monthly amount of won deals over the last ``months``
    months (by closing month, else planned month; months without wins count as 0). ``optimistic``
    when the stated pipeline of the month exceeds ``ratio`` × ``won_month``; managers with fewer
    than ``min_closed`` closed deals in that window have no track record (``optimistic`` False,
    ``ratio`` NaN).

    Returns ``manager, month, pipeline, pipeline_calibrated, won_month, ratio, optimistic``.

    >>> d = pd.DataFrame({"deal_id": ["o", "w1", "w2", "l"], "client_id": ["a"] * 4, "manager": ["m"] * 4,
    ...     "amount": [1000.0, 120.0, 120.0, 50.0], "probability": [0.8, 1, 1, 0], "stage": ["s"] * 4,
    ...     "status": ["open", "won", "won", "lost"], "product_group": ["x"] * 4,
    ...     "planned_month": pd.to_datetime(["2024-04-01", "2023-06-01", "2023-09-01", "2023-09-01"])})
    >>> manager_optimism(d, "2024-04-01", 1)[["manager", "pipeline", "won_month", "optimistic"]]
      manager  pipeline  won_month  optimistic
    0       m     800.0       20.0        True
    """
    cols = ["manager", "month", "pipeline", "pipeline_calibrated", "won_month", "ratio", "optimistic"]
    if _empty(deals) or manager not in deals:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    if alloc is None:
        alloc = pipeline_deals(deals, as_of, horizon)
    a = alloc.assign(manager=alloc["manager"].astype("string").fillna("—"))
    p = a.groupby(["manager", "month"], as_index=False).agg(pipeline=("expected", "sum"),
                                                             pipeline_calibrated=("expected_calibrated", "sum"))
    c = _closed(deals, status)
    when = c[closed_date] if closed_date in c else pd.Series(pd.NaT, index=c.index)
    when = when.dt.to_period("M").dt.to_timestamp().fillna(c[planned_month])
    start = month_start(as_of) - pd.DateOffset(months=months)
    w = c.loc[((when >= start) & (when < month_start(as_of))).to_numpy()]
    wm = w[manager].astype("string").fillna("—")
    won = (_status(w[status]) == "won").to_numpy()
    hist = pd.DataFrame({"manager": wm.to_numpy(), "won": np.where(won, w[amount].to_numpy(), 0.0)}).groupby(
        "manager").agg(won_amount=("won", "sum"), n=("won", "size"))
    hist["won_month"] = hist["won_amount"] / months
    out = p.merge(hist[["won_month", "n"]], left_on="manager", right_index=True, how="left")
    record = out["n"].fillna(0) >= min_closed
    out["ratio"] = np.where(record, out["pipeline"] / out["won_month"].replace(0.0, np.nan), np.nan)
    out.loc[record & (out["won_month"].fillna(0) == 0) & (out["pipeline"] > 0), "ratio"] = np.inf
    out["optimistic"] = (record & (out["ratio"] > ratio)).astype(bool)
    out["manager"] = out["manager"].astype("string")
    return out[cols].sort_values(["month", "manager"], ignore_index=True)


# --------------------------------------------------------------------------------------------
# sales: recurring flow vs deal-driven sales
# --------------------------------------------------------------------------------------------
def match_won_deals(sales: pd.DataFrame, deals: pd.DataFrame | None, as_of=None, *, tol: float = 0.01,
                    deal_id: str = "deal_id", client_id: str = "client_id", amount: str = "amount",
                    status: str = "status", planned_month: str = "planned_month",
                    closed_date: str = "closed_date") -> pd.DataFrame:
    """Which sales lines won deals brought.

    A won deal matches (1) the lines whose ``doc_id`` equals its ``deal_id`` and whose client is the
    deal's client; else (2) one document (``doc_id``, or the client's day when there is no
    ``doc_id``) of the same client in the closing month (``closed_date``, else planned month)
    whose total is the deal amount within ``tol``. Everything is vectorised: (1) is one ``isin``,
    (2) groups only the lines of the clients of unmatched won deals.

    Returns
    -------
    DataFrame
        ``deal_id, method`` (``doc_id`` / ``client_month_amount`` / ``none``) ``, matched``
        (amount of sales found) for every won deal; the sales lines are ``attrs["lines"]``
        (the index labels of ``sales`` that deals brought).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-01-09", "2024-02-03"]),
    ...     "client_id": ["a", "a", "b"], "product_group": ["x", "x", "y"], "amount": [70.0, 30.0, 99.5],
    ...     "doc_id": ["D1", "n1", "n2"]})
    >>> d = pd.DataFrame({"deal_id": ["D1", "D2"], "client_id": ["a", "b"], "amount": [70.0, 100.0],
    ...     "status": ["won", "won"], "planned_month": pd.to_datetime(["2024-01-01", "2024-02-01"])})
    >>> match_won_deals(s, d)
      deal_id               method  matched
    0      D1               doc_id     70.0
    1      D2  client_month_amount     99.5
    """
    cols = ["deal_id", "method", "matched"]
    empty = pd.DataFrame({"deal_id": pd.Series(dtype="string"), "method": pd.Series(dtype="string"),
                          "matched": pd.Series(dtype="float64")})
    empty.attrs["lines"] = pd.Index([])
    if _empty(deals) or _empty(sales):
        return empty
    w = deals.loc[(_status(deals[status]) == "won").fillna(False).to_numpy()]
    if not len(w):
        return empty
    ids = w[deal_id].astype("string")
    wk = pd.DataFrame({"deal_id": ids.to_numpy(), "client_id": w[client_id].astype("string").to_numpy(),
                       "amount": w[amount].astype("float64").to_numpy()})
    when = w[closed_date] if closed_date in w else pd.Series(pd.NaT, index=w.index)
    wk["month"] = when.dt.to_period("M").dt.to_timestamp().fillna(w[planned_month]).to_numpy()
    s = deal_candidate_lines(sales, wk["deal_id"], wk["client_id"], wk["month"].min(),
                             wk["month"].max() + pd.offsets.MonthBegin(1), as_of)
    lines = []
    got = pd.Series(0.0, index=pd.Index(wk["deal_id"], dtype="string"))
    method = pd.Series("none", index=got.index, dtype="string")
    has_doc = "doc_id" in s and s["doc_id"].notna().any()
    if has_doc:
        cand = s.loc[s["doc_id"].isin(ids).fillna(False).to_numpy()]
        if len(cand):
            key = pd.DataFrame({"deal_id": cand["doc_id"].astype("string").to_numpy(),
                                "client_id": cand["client_id"].astype("string").to_numpy()}, index=cand.index)
            ok = key.merge(wk[["deal_id", "client_id"]], on=["deal_id", "client_id"], how="left",
                           indicator=True)["_merge"].eq("both").to_numpy()
            cand = cand.loc[ok]
            sums = cand.groupby(cand["doc_id"].astype("string"))["amount"].sum()
            got.loc[sums.index] = sums.to_numpy()
            method.loc[sums.index] = "doc_id"
            lines.append(cand.index)
    rest = wk.loc[~wk["deal_id"].isin(method.index[method != "none"])]
    rest = rest.loc[rest["month"].notna() & rest["amount"].notna()]
    if len(rest):
        lo, hi = rest["month"].min(), rest["month"].max() + pd.offsets.MonthBegin(1)
        sc = s.loc[s["client_id"].isin(rest["client_id"]).fillna(False).to_numpy()
                   & (s["date"] >= lo).to_numpy() & (s["date"] < hi).to_numpy()]
        if len(lines):
            sc = sc.loc[~sc.index.isin(lines[0])]
        if len(sc):
            doc = (sc["doc_id"].astype("string") if has_doc else pd.Series(pd.NA, index=sc.index, dtype="string"))
            doc = doc.fillna(sc["date"].dt.strftime("%Y-%m-%d").astype("string"))
            k = pd.DataFrame({"client_id": sc["client_id"].astype("string").to_numpy(),
                              "month": sc["date"].dt.to_period("M").dt.to_timestamp().to_numpy(),
                              "doc": doc.to_numpy(), "amount": sc["amount"].to_numpy()}, index=sc.index)
            docs = k.groupby(["client_id", "month", "doc"], as_index=False)["amount"].sum()
            m = rest.merge(docs, on=["client_id", "month"], suffixes=("", "_doc"))
            m = m.loc[(m["amount_doc"] - m["amount"]).abs() <= tol * m["amount"].abs()]
            m = m.assign(diff=(m["amount_doc"] - m["amount"]).abs()).sort_values(["diff", "deal_id"])
            m = m.drop_duplicates("deal_id").drop_duplicates(["client_id", "month", "doc"])
            if len(m):
                got.loc[m["deal_id"].to_numpy()] = m["amount_doc"].to_numpy()
                method.loc[m["deal_id"].to_numpy()] = "client_month_amount"
                hit = k.reset_index().merge(m[["client_id", "month", "doc"]], on=["client_id", "month", "doc"])
                lines.append(pd.Index(hit["index"].to_numpy()))
    out = pd.DataFrame({"deal_id": got.index.astype("string"), "method": method.to_numpy(),
                        "matched": got.to_numpy()})
    out = out.drop_duplicates("deal_id", ignore_index=True)
    out.attrs["lines"] = lines[0].append(lines[1:]) if lines else pd.Index([])
    return out[cols]


def split_group_months(sales: pd.DataFrame, deals: pd.DataFrame | None, as_of,
                       matches: pd.DataFrame | None = None) -> pd.DataFrame:
    """Monthly sales per group split into the recurring flow and what won deals brought.

    Only whole months before ``as_of``'s month count (a partial month of ``as_of`` is left out).
    Months without sales inside a group's span are 0.

    Returns ``product_group, month, revenue, deal_revenue, recurring`` (recurring = revenue −
    deal_revenue).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-01-09", "2024-03-03"]),
    ...     "client_id": ["a", "a", "a"], "product_group": ["x", "x", "x"], "amount": [70.0, 30.0, 10.0],
    ...     "doc_id": ["D1", "n1", "n2"]})
    >>> d = pd.DataFrame({"deal_id": ["D1"], "client_id": ["a"], "amount": [70.0], "status": ["won"],
    ...     "planned_month": pd.to_datetime(["2024-01-01"])})
    >>> split_group_months(s, d, "2024-04-01")[["month", "revenue", "deal_revenue", "recurring"]]
           month  revenue  deal_revenue  recurring
    0 2024-01-01    100.0          70.0       30.0
    1 2024-02-01      0.0           0.0        0.0
    2 2024-03-01     10.0           0.0       10.0
    """
    cut = month_start(as_of)
    if matches is None:
        matches = match_won_deals(sales, deals, cut)
    g = group_months_by_deal(sales, matches.attrs.get("lines", pd.Index([])), cut)
    if not len(g):
        return g.assign(recurring=pd.Series(dtype="float64"))
    # complete the months of each group's span (first sale month .. last whole month)
    span = g.groupby("product_group")["month"].min()
    full = [pd.DataFrame({"product_group": k, "month": pd.date_range(v, cut - pd.offsets.MonthBegin(1), freq="MS")})
            for k, v in span.items()]
    grid = pd.concat(full, ignore_index=True).astype({"product_group": "string"})
    out = grid.merge(g, on=["product_group", "month"], how="left").fillna({"revenue": 0.0, "deal_revenue": 0.0})
    out["recurring"] = out["revenue"] - out["deal_revenue"]
    return out.sort_values(["product_group", "month"], ignore_index=True)


def matched_share(deals: pd.DataFrame | None, matches: pd.DataFrame, start, end, *, deal_id: str = "deal_id",
                  amount: str = "amount", status: str = "status", planned_month: str = "planned_month",
                  closed_date: str = "closed_date") -> float:
    """Share (by deal amount) of the won deals closed in ``[start, end)`` that were found in sales.

    It says how much of the past deal flow was taken out of the recurring history: the forecast
    adds only that share of the calibrated pipeline back (1 = all, 0 = deals are not traceable in
    sales, history already holds them and the pipeline is a check only). NaN without won deals.

    >>> d = pd.DataFrame({"deal_id": ["a", "b"], "amount": [30.0, 10.0], "status": ["won", "won"],
    ...                   "planned_month": pd.to_datetime(["2024-01-01", "2024-02-01"])})
    >>> m = pd.DataFrame({"deal_id": ["a", "b"], "method": ["doc_id", "none"], "matched": [30.0, 0.0]})
    >>> matched_share(d, m, "2023-01-01", "2024-04-01")
    0.75
    """
    if _empty(deals):
        return float("nan")
    w = deals.loc[(_status(deals[status]) == "won").fillna(False).to_numpy()]
    when = w[closed_date] if closed_date in w else pd.Series(pd.NaT, index=w.index)
    when = when.dt.to_period("M").dt.to_timestamp().fillna(w[planned_month])
    w = w.loc[((when >= pd.Timestamp(start)) & (when < pd.Timestamp(end))).fillna(False).to_numpy()]
    total = float(w[amount].sum())
    if not len(w) or total <= 0:
        return float("nan")
    found = set(matches.loc[matches["method"] != "none", "deal_id"].astype(str))
    return float(w.loc[w[deal_id].astype(str).isin(found).to_numpy(), amount].sum() / total)


# --------------------------------------------------------------------------------------------
# past accuracy of the pipeline and of marketing
# --------------------------------------------------------------------------------------------
def deal_backtest(deals: pd.DataFrame | None, origins, horizon: int, *, prior: float = 10.0,
                  deal_id: str = "deal_id", amount: str = "amount", probability: str = "probability",
                  stage: str = "stage", planned_month: str = "planned_month", status: str = "status",
                  created_date: str = "created_date", closed_date: str = "closed_date") -> pd.DataFrame:
    """What the pipeline said at past origins and what those deals brought.

    At each origin (a month start) the pipeline is rebuilt from today's deal records: deals created
    before the origin (when ``created_date`` is known) and not closed before it, planned in the
    ``horizon`` months from the origin (overdue ones in the first month). ``stated`` = Σ amount ×
    recorded probability; ``calibrated`` = Σ amount × stage win rate shrunk with ``prior``, where
    the rates come only from deals closed before the origin, mature cohorts only (see
    :func:`stage_win_rates`; a true out-of-sample check);
    ``won`` = Σ amount of those deals that were won. Deals still open today are left out (their
    outcome is unknown). Stage, probability and planned month are the last recorded ones: the
    check is slightly optimistic when deals moved between stages.

    Returns ``origin, step, month, n, stated, calibrated, won`` (one row per origin × step).

    >>> d = pd.DataFrame({"deal_id": list("abcd"), "amount": [10.0, 10, 10, 10], "probability": [0.9] * 4,
    ...     "stage": ["s"] * 4, "status": ["won", "lost", "won", "lost"],
    ...     "planned_month": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01", "2024-03-01"]),
    ...     "closed_date": pd.to_datetime(["2024-01-20", "2024-01-25", "2024-03-10", "2024-03-15"])})
    >>> deal_backtest(d, ["2024-03-01"], 1, prior=0)
          origin  step      month  n  stated  calibrated   won
    0 2024-03-01     1 2024-03-01  2    18.0        10.0  10.0
    """
    cols = ["origin", "step", "month", "n", "stated", "calibrated", "won"]
    if _empty(deals):
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    c = _closed(deals, status)
    c = c.loc[c[amount].notna() & c[planned_month].notna()]
    usable = stated_probability_usable(deals, probability=probability, status=status)
    won = (_status(c[status]) == "won").to_numpy()
    closed = c[closed_date] if closed_date in c and c[closed_date].notna().any() else None
    created = c[created_date] if created_date in c and c[created_date].notna().any() else None
    rows = []
    for o in pd.DatetimeIndex(origins):
        # rates from deals closed before the origin
        before = (closed < o).to_numpy() if closed is not None else (c[planned_month] < o).to_numpy()
        rates = stage_win_rates(c.loc[before], prior, as_of=o, stage=stage, status=status,
                                planned_month=planned_month, closed_date=closed_date)
        snap = ~before
        if created is not None:
            snap &= (created.fillna(pd.Timestamp.min) < o).to_numpy()
        x = c.loc[snap]
        if not len(x) or not len(rates):
            continue
        pm = x[planned_month].where(x[planned_month] >= o, o)
        rate = stage_rate_of(x[stage], rates).to_numpy()
        xw = won[snap]
        for k in range(horizon):
            m = o + pd.DateOffset(months=k)
            sel = (pm == m).to_numpy()
            a = x[amount].to_numpy()[sel]
            p = x[probability].astype("float64").fillna(0.0).to_numpy()[sel] if usable else np.nan
            rows.append((o, k + 1, m, int(sel.sum()), float(np.sum(a * p)) if usable else np.nan,
                         float(np.sum(a * rate[sel])), float(a[xw[sel]].sum())))
    return pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})


def marketing_by_group(marketing: pd.DataFrame | None, months, mix: pd.Series, *, month: str = "month",
                       product_group: str = "product_group", amount: str = "amount") -> pd.DataFrame:
    """The marketing estimate per month × group over ``months``.

    Rows with a group are taken as given. A total row (no group) of a month is split over the
    groups that have no own figure that month, by ``mix`` (group shares, e.g. of the history
    forecast): what the total leaves after the given groups, ``max(0, total − Σ given)``. A
    month without any marketing row is left out.

    >>> mk = pd.DataFrame({"month": pd.to_datetime(["2024-04-01"]), "product_group": pd.array([None], dtype="string"),
    ...                    "amount": [100.0]})
    >>> marketing_by_group(mk, pd.to_datetime(["2024-04-01"]), pd.Series({"x": 0.75, "y": 0.25}))
           month product_group  marketing
    0 2024-04-01             x       75.0
    1 2024-04-01             y       25.0
    """
    cols = ["month", "product_group", "marketing"]
    if _empty(marketing):
        return pd.DataFrame({"month": pd.Series(dtype="datetime64[ns]"),
                             "product_group": pd.Series(dtype="string"), "marketing": pd.Series(dtype="float64")})
    mk = marketing.loc[marketing[month].isin(pd.DatetimeIndex(months)) & marketing[amount].notna()]
    grp = mk[product_group].astype("string") if product_group in mk else pd.Series(pd.NA, index=mk.index,
                                                                                     dtype="string")
    given = pd.DataFrame({"month": mk[month].to_numpy(), "product_group": grp.to_numpy(),
                          "marketing": mk[amount].astype("float64").to_numpy()})
    given["product_group"] = given["product_group"].astype("string")
    by_group = given.loc[given["product_group"].notna()].groupby(["month", "product_group"], as_index=False)[
        "marketing"].sum()
    totals = given.loc[given["product_group"].isna()].groupby("month")["marketing"].sum()
    parts = [by_group]
    mix = mix[mix > 0]
    for m, tot in totals.items():
        have = by_group.loc[by_group["month"] == m]
        left = max(0.0, tot - have["marketing"].sum())
        rest = mix.loc[~mix.index.isin(have["product_group"])]
        if len(rest) and rest.sum() > 0:
            parts.append(pd.DataFrame({"month": m, "product_group": pd.array(list(rest.index), dtype="string"),
                                       "marketing": left * rest.to_numpy() / rest.sum()}))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else by_group
    out["product_group"] = out["product_group"].astype("string")
    return out[cols].sort_values(["month", "product_group"], ignore_index=True)


def marketing_backtest(marketing: pd.DataFrame | None, actual: pd.DataFrame, as_of, *, month: str = "month",
                       amount: str = "amount") -> pd.DataFrame:
    """Past months of the marketing estimate (total) against actual sales of the same months.

    ``actual``: ``month, revenue`` totals (whole months). Returns ``month, marketing, actual``.

    >>> mk = pd.DataFrame({"month": pd.to_datetime(["2024-01-01", "2024-05-01"]), "amount": [110.0, 120.0]})
    >>> act = pd.DataFrame({"month": pd.to_datetime(["2024-01-01"]), "revenue": [100.0]})
    >>> marketing_backtest(mk, act, "2024-04-01")
           month  marketing  actual
    0 2024-01-01      110.0   100.0
    """
    cols = ["month", "marketing", "actual"]
    if _empty(marketing) or not len(actual):
        return pd.DataFrame({"month": pd.Series(dtype="datetime64[ns]"), "marketing": pd.Series(dtype="float64"),
                             "actual": pd.Series(dtype="float64")})
    mk = marketing.loc[(marketing[month] < month_start(as_of)) & marketing[amount].notna()]
    tot = mk.groupby(month)[amount].sum().rename("marketing")
    out = pd.DataFrame(tot).join(actual.set_index("month")["revenue"].rename("actual"), how="inner").reset_index()
    out = out.rename(columns={out.columns[0]: "month"})
    return out[cols].sort_values("month", ignore_index=True)


def error_stats(forecast, actual) -> dict:
    """``mape`` (mean |e| / actual over actual > 0), ``wape`` (Σ|e| / Σ|actual|), ``bias`` (Σe / Σ|actual|),
    ``rmse``, ``mse``, ``n``.

    >>> {k: round(v, 3) for k, v in error_stats([110, 90], [100, 100]).items()}
    {'mape': 0.1, 'wape': 0.1, 'bias': 0.0, 'rmse': 10.0, 'mse': 100.0, 'n': 2}
    """
    f, a = np.asarray(forecast, dtype="float64"), np.asarray(actual, dtype="float64")
    ok = np.isfinite(f) & np.isfinite(a)
    f, a = f[ok], a[ok]
    if not len(a):
        return {"mape": np.nan, "wape": np.nan, "bias": np.nan, "rmse": np.nan, "mse": np.nan, "n": 0}
    e = f - a
    pos = a > 0
    den = np.abs(a).sum()
    return {"mape": float(np.mean(np.abs(e[pos]) / a[pos])) if pos.any() else np.nan,
            "wape": float(np.abs(e).sum() / den) if den > 0 else np.nan,
            "bias": float(e.sum() / den) if den > 0 else np.nan,
            "rmse": float(np.sqrt(np.mean(e ** 2))), "mse": float(np.mean(e ** 2)), "n": int(len(a))}


def inverse_mse_weights(mse: dict[str, float]) -> dict[str, float]:
    """Weights ∝ 1 / MSE over the sources whose MSE is measured; unmeasured sources get 0.

    When nothing is measured every source gets an equal share. A source with MSE 0 takes all.

    >>> inverse_mse_weights({"a": 1.0, "b": 3.0, "c": float("nan")})
    {'a': 0.75, 'b': 0.25, 'c': 0.0}
    """
    return InverseMSE().weights(mse)


# --------------------------------------------------------------------------------------------
# stock
# --------------------------------------------------------------------------------------------
def stock_by_group(stock: pd.DataFrame | None, *, valued_at: str = "price", price_per_cost: pd.Series | None = None,
                   product_group: str = "product_group", on_hand: str = "on_hand", incoming: str = "incoming",
                   as_of: str = "as_of") -> pd.DataFrame:
    """On hand + incoming per group, in sales prices.

    Rows of the latest ``as_of`` of each group are summed (several warehouses). With
    ``valued_at="cost"`` the stock is converted to sales prices with ``price_per_cost`` (revenue /
    cost of the group's last 12 months); a group without that ratio stays at cost
    (``valued`` = ``cost``).

    Returns ``product_group, on_hand, incoming, stock_available, valued``.

    >>> st = pd.DataFrame({"product_group": ["x", "x"], "on_hand": [50.0, 10.0], "incoming": [5.0, 0.0]})
    >>> stock_by_group(st)
      product_group  on_hand  incoming  stock_available valued
    0             x     60.0       5.0             65.0  price
    """
    cols = ["product_group", "on_hand", "incoming", "stock_available", "valued"]
    if _empty(stock):
        return pd.DataFrame({c: pd.Series(dtype="string" if c in ("product_group", "valued") else "float64")
                             for c in cols})
    s = stock.loc[stock[product_group].notna()]
    if as_of in s and s[as_of].notna().any():
        latest = s.groupby(product_group)[as_of].transform("max")
        s = s.loc[(s[as_of] == latest) | latest.isna()]
    inc = s[incoming].fillna(0.0) if incoming in s else 0.0
    g = pd.DataFrame({"product_group": s[product_group].astype("string").to_numpy(),
                      "on_hand": s[on_hand].fillna(0.0).to_numpy(),
                      "incoming": np.asarray(inc, dtype="float64") * np.ones(len(s))})
    out = g.groupby("product_group", as_index=False)[["on_hand", "incoming"]].sum()
    out["valued"] = "price"
    if valued_at == "cost":
        k = (price_per_cost if price_per_cost is not None else pd.Series(dtype="float64"))
        k = out["product_group"].map(k).astype("float64")
        out["on_hand"] = np.where(k.notna(), out["on_hand"] * k, out["on_hand"])
        out["incoming"] = np.where(k.notna(), out["incoming"] * k, out["incoming"])
        out["valued"] = np.where(k.notna(), "price", "cost")
    out["stock_available"] = out["on_hand"] + out["incoming"]
    out["valued"] = out["valued"].astype("string")
    out["product_group"] = out["product_group"].astype("string")
    return out[cols]


def stock_gap(demand: pd.DataFrame, stock: pd.DataFrame, *, overstock_months: float = 6.0) -> pd.DataFrame:
    """Stock against the demand of the horizon, per group and month.

    ``demand``: ``product_group, month, reconciled`` (months in order); ``stock``:
    ``product_group, stock_available`` (:func:`stock_by_group`). ``stock_gap`` is cumulative:
    ``max(0, Σ demand from the first month through this one − stock_available)``.
    ``cover_months`` = stock_available / average monthly demand of the horizon (``inf`` when
    there is no demand); ``overstock`` when it exceeds ``overstock_months``. Groups without stock
    data get NaN.

    Returns ``product_group, month, stock_available, stock_gap, cover_months, overstock``.

    >>> dm = pd.DataFrame({"product_group": ["x"] * 3, "month": ["2024-04", "2024-05", "2024-06"],
    ...                    "reconciled": [40.0, 40.0, 40.0]})
    >>> stock_gap(dm, pd.DataFrame({"product_group": ["x"], "stock_available": [100.0]}))
      product_group    month  stock_available  stock_gap  cover_months  overstock
    0             x  2024-04            100.0        0.0           2.5      False
    1             x  2024-05            100.0        0.0           2.5      False
    2             x  2024-06            100.0       20.0           2.5      False
    """
    d = demand.sort_values(["product_group", "month"]).reset_index(drop=True)
    st = stock.set_index("product_group")["stock_available"] if len(stock) else pd.Series(dtype="float64")
    avail = d["product_group"].map(st).astype("float64")
    dem = d["reconciled"].fillna(0.0)
    cum = dem.groupby(d["product_group"]).cumsum()
    mean = dem.groupby(d["product_group"]).transform("mean")
    gap = np.maximum(cum - avail, 0.0).where(avail.notna())
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(mean > 0, avail / mean, np.where(avail > 0, np.inf, 0.0))
    cover = pd.Series(cover, index=d.index).where(avail.notna())
    return pd.DataFrame({"product_group": d["product_group"], "month": d["month"], "stock_available": avail,
                         "stock_gap": gap, "cover_months": cover,
                         "overstock": (cover > overstock_months).fillna(False).astype(bool)})


# --------------------------------------------------------------------------------------------
# texts
# --------------------------------------------------------------------------------------------
def note_text(note: dict, lang: str = "ru", currency: str = "RUB") -> str:
    """A note of :attr:`DemandForecast.notes_` as a sentence of the report.

    >>> note_text({"code": "overdue_deals", "n": 3, "amount": 1_250_000.0}, "ru")
    '3 открытых сделок на 1,2 млн ₽ просрочены (плановый месяц прошёл) и учтены в первом месяце прогноза.'
    """
    from kbanalysis.deliverables.i18n import fmt_int, fmt_pct, money_short, t

    kw = {}
    for k, v in note.items():
        if k == "code":
            continue
        if k == "amount":
            kw[k] = money_short(v, lang, currency)
        elif k in ("weight", "share"):
            kw[k] = fmt_pct(v, lang, 0)
        elif k == "factor":
            kw[k] = f"{v:.2f}".replace(".", "," if lang == "ru" else ".")
        elif isinstance(v, (list, tuple)):
            kw[k] = ", ".join(map(str, v))
        elif isinstance(v, (int, np.integer)):
            kw[k] = fmt_int(v, lang)
        else:
            kw[k] = v
    return t(f"forecast.note.{note['code']}", lang, **kw)


def errors_shown(errors: pd.DataFrame, lang: str = "ru") -> pd.DataFrame:
    """:func:`~kbanalysis.forecast.core.source_errors` with the sources and targets named in ``lang``."""
    from kbanalysis.deliverables.i18n import t

    return errors.assign(target=errors["source"].map(lambda x: t(f"nb.forecast.target.{x}", lang)),
                         source=errors["source"].map(lambda x: t(f"forecast.source.{x}", lang)))


def flag_text(flag, lang: str = "ru") -> str:
    """The ``flag`` codes of a row translated and joined with ``; `` (empty for no flag).

    >>> flag_text("stock_short;no_marketing", "en")
    'shortage: stock and incoming goods will not cover demand; no marketing estimate'
    """
    from kbanalysis.deliverables.i18n import t

    if flag is None or (isinstance(flag, float) and math.isnan(flag)) or flag is pd.NA or not str(flag):
        return ""
    return "; ".join(t(f"forecast.flag.{c}", lang) for c in str(flag).split(";") if c)
