"""Statistical forecast of monthly series: statsforecast's candidates, their rolling-origin backtest, a combination.

The candidates and their backtest come from statsforecast (``StatsForecast.cross_validation``); what is
written here is only which candidates a history supports, the one candidate statsforecast has not
("last year's months × recent growth" for 13–23 months of history), and how the backtest's winners
are combined.

Which candidates (``season_length`` = 12 months):

* intermittent series (more than a third of the last 12 months without sales): CrostonOptimized, ADIDA,
  IMAPA, Naive, HistoricAverage, WindowAverage(6);
* at least ``seasonal_min`` (24) months: AutoETS, AutoARIMA and AutoTheta with a yearly season,
  SeasonalNaive(12), ``LastYearGrowth`` (below), Naive, HistoricAverage, WindowAverage(3);
* 13–23 months: the same without season, plus ``LastYearGrowth`` — the same months of last year times the
  growth of the last ``min(12, n − 12)`` months over the same months a year earlier (clipped to 0.5–2), so
  that a short history neither ignores the season nor carries the last peak forward; on a longer history
  it is the seasonal naive forecast corrected by the last year's growth, which a declining or growing
  seasonal series needs and SeasonalNaive(12) lacks;
* fewer months: Naive, HistoricAverage, WindowAverage(3) and the non-seasonal AutoETS.

Every candidate forecasts ``horizon`` months from each of the last ``n_origins`` origins (fewer when the
history is short: the first training window keeps ``min_train`` months). The combination keeps the
``top`` candidates with the smallest backtest MSE, drops those whose MSE is more than ``within`` times the
best one, and weights the rest ∝ 1 / MSE: a season that the backtest clearly prefers is not diluted by flat
candidates. The fan is the combination ± z80 × RMSE of its backtest errors at that step.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

#: z of the two-sided 80 % normal interval.
Z80 = 1.2815515655446004

SEASON = 12


def _models(kind: str):
    """statsforecast models of a kind of history: (models with ``forward`` -- fitted once per backtest, cheap ones)."""
    from statsforecast.models import (ADIDA, IMAPA, AutoARIMA, AutoETS, AutoTheta, CrostonOptimized, HistoricAverage,
                                      Naive, SeasonalNaive, WindowAverage)

    if kind == "intermittent":
        return [], [CrostonOptimized(), ADIDA(), IMAPA(), Naive(), HistoricAverage(), WindowAverage(window_size=6)]
    if kind == "seasonal":
        return ([AutoETS(season_length=SEASON), AutoARIMA(season_length=SEASON, max_p=2, max_q=2, max_P=1, max_Q=1,
                                                          approximation=True),
                 AutoTheta(season_length=SEASON)],
                [SeasonalNaive(season_length=SEASON), Naive(), HistoricAverage(), WindowAverage(window_size=3)])
    if kind == "year":
        return ([AutoETS(season_length=1), AutoARIMA(season_length=1, max_p=2, max_q=2, approximation=True),
                 AutoTheta(season_length=1)], [Naive(), HistoricAverage(), WindowAverage(window_size=3)])
    return [AutoETS(season_length=1)], [Naive(), HistoricAverage(), WindowAverage(window_size=3)]


def last_year_growth(y, h: int) -> np.ndarray:
    """Last year's same months × the growth of the last ``k = min(12, n − 12)`` months over the same months a
    year earlier (clipped to 0.5–2; 1 when either sum is not positive). Needs 13 months.

    >>> last_year_growth([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 12, 24], 2).tolist()
    [36.0, 48.0]
    """
    y = np.asarray(y, dtype="float64")
    n = len(y)
    k = min(SEASON, n - SEASON)
    prev, last = y[n - SEASON - k:n - SEASON].sum(), y[n - k:].sum()
    g = float(np.clip(last / prev, 0.5, 2.0)) if prev > 0 and last > 0 else 1.0
    return np.array([y[n - SEASON + (j % SEASON)] * g ** (1 + j // SEASON) for j in range(h)])


def history_kind(y, seasonal_min: int = 24) -> str:
    """``intermittent``, ``seasonal`` (≥ ``seasonal_min`` months), ``year`` (13 months to ``seasonal_min − 1``)
    or ``short``.

    >>> history_kind(np.ones(30)), history_kind(np.ones(18)), history_kind(np.ones(8)), history_kind([0, 0, 5] * 8)
    ('seasonal', 'year', 'short', 'intermittent')
    """
    y = np.asarray(y, dtype="float64")
    if len(y) >= SEASON and (y[-SEASON:] <= 0).sum() > SEASON // 3:
        return "intermittent"
    if len(y) >= seasonal_min:
        return "seasonal"
    return "year" if len(y) > SEASON else "short"


def _frame(y, months) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": "s", "ds": pd.DatetimeIndex(months), "y": np.asarray(y, dtype="float64")})


def _cv(models, df, h, n_windows, refit) -> pd.DataFrame:
    from statsforecast import StatsForecast

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cv = StatsForecast(models=models, freq="MS", n_jobs=1).cross_validation(
            df=df, h=h, n_windows=n_windows, step_size=1, refit=refit)
    return cv.drop(columns=["unique_id"], errors="ignore")


def _final(models, df, h) -> pd.DataFrame:
    from statsforecast import StatsForecast

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return StatsForecast(models=models, freq="MS", n_jobs=1).forecast(df=df, h=h).drop(
            columns=["unique_id"], errors="ignore")


def backtest_series(y, months, h: int, n_origins: int = 12, seasonal_min: int = 24, min_train: int = 12):
    """Rolling-origin backtest of every candidate of one series (statsforecast ``cross_validation``).

    Returns ``(kind, long table model, origin, step, month, forecast, actual)``; ``origin`` is the first
    forecast month. Empty when the series is too short for one origin.
    """
    y = np.asarray(y, dtype="float64")
    months = pd.DatetimeIndex(months)
    kind = history_kind(y, seasonal_min)
    n = len(y)
    need = min_train if kind == "seasonal" else max(3, min_train // 2)
    n_windows = int(min(n_origins, n - h - max(3, min(need, n - h)) + 1))
    cols = ["model", "origin", "step", "month", "forecast", "actual"]
    if n_windows < 1:
        return kind, pd.DataFrame({c: [] for c in cols})
    forward, cheap = _models(kind)
    df = _frame(y, months)
    cv = _cv(cheap, df, h, n_windows, True)
    if forward:
        try:
            cv = cv.merge(_cv(forward, df, h, n_windows, False).drop(columns="y"), on=["cutoff", "ds"], how="left")
        except Exception:  # noqa: BLE001 -- statsforecast raises ValueError, KeyError, NotImplementedError on tiny data
            pass  # too few months for the fitted models at the first origin: the simple ones only
    if kind in ("year", "seasonal"):
        pos = {m: i for i, m in enumerate(months)}
        cv["LastYearGrowth"] = [last_year_growth(y[:pos[c] + 1], h)[pos[d] - pos[c] - 1]
                                if pos[c] + 1 > SEASON else np.nan for c, d in zip(cv["cutoff"], cv["ds"])]
    names = [c for c in cv.columns if c not in ("cutoff", "ds", "y")]
    long = cv.melt(id_vars=["cutoff", "ds", "y"], value_vars=names, var_name="model", value_name="forecast")
    long["origin"] = long["cutoff"] + pd.offsets.MonthBegin(1)
    long["step"] = ((long["ds"].dt.year - long["origin"].dt.year) * 12 + long["ds"].dt.month
                    - long["origin"].dt.month + 1).astype("int64")
    long = long.rename(columns={"ds": "month", "y": "actual"})
    long["forecast"] = np.maximum(long["forecast"].astype("float64"), 0.0)
    long = long.loc[np.isfinite(long["forecast"])]
    return kind, long[cols].reset_index(drop=True)


def combination_weights(mse: pd.Series, top: int = 3, within: float = 2.0) -> pd.Series:
    """Weights ∝ 1 / MSE over the ``top`` best candidates whose MSE is at most ``within`` × the best.

    A candidate with MSE 0 takes all (ties share). Ties in MSE keep the order given (simpler first).

    >>> combination_weights(pd.Series({"a": 1.0, "b": 1.5, "c": 4.0, "d": 1.2}), top=2).round(3).to_dict()
    {'a': 0.545, 'b': 0.0, 'c': 0.0, 'd': 0.455}
    """
    m = mse.astype("float64").replace([np.inf, -np.inf], np.nan).dropna()
    w = pd.Series(0.0, index=mse.index)
    if not len(m):
        return w
    order = pd.DataFrame({"mse": m, "k": range(len(m))}).sort_values(["mse", "k"])
    best = order["mse"].iloc[0]
    if best <= 0:
        zero = order.index[order["mse"] <= 0]
        w[zero] = 1.0 / len(zero)
        return w
    keep = order.loc[order["mse"] <= within * best].index[:top]
    inv = 1.0 / m[keep]
    w[keep] = inv / inv.sum()
    return w


class HistoryForecaster:
    """Statistical forecast per series: statsforecast's candidates scored by a rolling-origin backtest, combined.

    See the module's docstring for the candidates and the rule. Forecasts are never negative.

    Attributes
    ----------
    kind_ : dict  group -> ``seasonal`` / ``year`` / ``short`` / ``intermittent``
    model_ : dict  group -> the best single candidate
    weights_ : DataFrame  ``product_group, model, mse, weight``
    backtest_ : DataFrame  ``product_group, model, origin, step, month, forecast, actual``
        (every candidate, plus ``model = "combined"``: the final weights applied at that origin)
    scores_ : DataFrame  ``product_group, model, mae, wape, n, chosen``
    forecast_ : DataFrame  ``product_group, month, forecast, low, high, model``

    >>> m = pd.date_range("2021-01-01", periods=36, freq="MS")
    >>> y = 100 + 30 * np.sin(2 * np.pi * np.arange(36) / 12)
    >>> f = HistoryForecaster(horizon=2).fit(pd.DataFrame({"product_group": "x", "month": m, "recurring": y}))
    >>> f.kind_["x"], len(f.forecast_), bool(abs(f.forecast_["forecast"].iloc[0] - y[0]) < 3)
    ('seasonal', 2, True)
    """

    def __init__(self, horizon: int = 3, n_origins: int = 12, seasonal_min: int = 24, top: int = 3,
                 within: float = 2.0, value: str = "recurring", group: str = "product_group", month: str = "month"):
        self.horizon = horizon
        self.n_origins = n_origins
        self.seasonal_min = seasonal_min
        self.top = top
        self.within = within
        self.value = value
        self.group = group
        self.month = month

    def fit(self, series: pd.DataFrame) -> "HistoryForecaster":
        from threadpoolctl import threadpool_limits

        for c in (self.group, self.month, self.value):
            if c not in series:
                raise KeyError(f"series: no column {c!r}")
        with threadpool_limits(1):  # tiny models: BLAS threads only fight each other
            return self._fit(series)

    def _one(self, g, y, months, h):
        kind, b = backtest_series(y, months, h, self.n_origins, self.seasonal_min)
        if len(b):
            n_or = b.groupby("model")["origin"].nunique()
            b = b.loc[b["model"].isin(n_or.index[n_or >= min(2, n_or.max())])]
            full = b.groupby(["origin", "step"])["model"].transform("nunique") == b["model"].nunique()
            b = b.loc[full].reset_index(drop=True)
            err = b["forecast"] - b["actual"]
            mse = (err ** 2).groupby(b["model"], sort=False).mean()
            w = combination_weights(mse, self.top, self.within)
            piv = b.pivot_table(index=["origin", "step", "month", "actual"], columns="model", values="forecast")
            comb = piv.reset_index()[["origin", "step", "month", "actual"]]
            comb["forecast"] = piv[w.index[w > 0]].to_numpy() @ w[w > 0].to_numpy()
            b = pd.concat([b, comb.assign(model="combined")], ignore_index=True)
            e = comb["forecast"] - comb["actual"]
            rmse = ((e ** 2).groupby(comb["step"]).mean() ** 0.5).reindex(range(1, h + 1)).ffill().to_numpy()
            ab = err.abs()
            sc = pd.DataFrame({"mae": ab.groupby(b["model"]).mean(), "n": ab.groupby(b["model"]).size(),
                               "wape": ab.groupby(b["model"]).sum() / b["actual"].abs().groupby(b["model"]).sum()
                               }).reindex(mse.index).reset_index(names="model")
            best = mse.idxmin()
            sc["chosen"] = sc["model"] == best
        else:
            w, mse, sc, best = pd.Series({"Naive": 1.0}), pd.Series({"Naive": np.nan}), None, "Naive"
            rmse = np.full(h, np.nan)
        f = self._final_forecast(kind, y, months, h, w)
        fm = pd.date_range(months[-1] + pd.offsets.MonthBegin(1), periods=h, freq="MS")
        label = best if (w > 0).sum() == 1 else "combination"
        fc = pd.DataFrame({"product_group": g, "month": fm, "forecast": f, "low": np.maximum(f - Z80 * rmse, 0.0),
                           "high": f + Z80 * rmse, "model": label})
        wt = pd.DataFrame({"product_group": g, "model": list(mse.index), "mse": mse.to_numpy(),
                           "weight": w.reindex(mse.index).to_numpy()})
        return kind, best, b.assign(product_group=g), (sc.assign(product_group=g) if sc is not None else None), wt, fc

    def _final_forecast(self, kind, y, months, h, w: pd.Series) -> np.ndarray:
        used = w[w > 0]
        if not len(y):
            return np.zeros(h)
        out = np.zeros(h)
        sf_names = [m for m in used.index if m != "LastYearGrowth"]
        if sf_names:
            forward, cheap = _models(kind)
            if not len(y) or len(y) < 2:
                models = [m for m in cheap if type(m).__name__ in ("Naive",)]
            else:
                models = [m for m in forward + cheap if repr(m) in sf_names]
            fc = _final(models, _frame(y, months), h)
            for m in sf_names:
                out += used[m] * np.nan_to_num(fc[m].to_numpy(dtype="float64"), nan=float(np.mean(y[-3:])))
        if "LastYearGrowth" in used:
            out += used["LastYearGrowth"] * last_year_growth(y, h)
        return np.maximum(out, 0.0)

    def _fit(self, series: pd.DataFrame) -> "HistoryForecaster":
        h = int(self.horizon)
        out = {k: [] for k in ("bt", "sc", "wt", "fc")}
        self.kind_, self.model_ = {}, {}
        for g, part in series.sort_values(self.month).groupby(self.group, sort=True):
            # whole cents: the same sums from DuckDB and pandas differ in the last bits, and a model search
            # (stepwise ARIMA) may turn that into a different model
            y = np.round(part[self.value].to_numpy(dtype="float64"), 2)
            if not len(y):
                continue
            kind, best, b, sc, wt, fc = self._one(g, y, pd.DatetimeIndex(part[self.month]), h)
            self.kind_[g], self.model_[g] = kind, best
            out["bt"].append(b)
            if sc is not None:
                out["sc"].append(sc)
            out["wt"].append(wt)
            out["fc"].append(fc)

        def cat(parts, cols):
            parts = [p for p in parts if len(p)]
            return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)

        self.backtest_ = cat(out["bt"], ["product_group", "model", "origin", "step", "month", "forecast", "actual"])
        self.scores_ = cat(out["sc"], ["product_group", "model", "mae", "wape", "n", "chosen"])
        self.weights_ = cat(out["wt"], ["product_group", "model", "mse", "weight"])
        self.forecast_ = cat(out["fc"], ["product_group", "month", "forecast", "low", "high", "model"])
        for fr in (self.backtest_, self.scores_, self.weights_, self.forecast_):
            if len(fr):
                fr["product_group"] = fr["product_group"].astype("string")
        return self

    def chosen_backtest(self) -> pd.DataFrame:
        """The backtest rows of the final rule (``model == "combined"``) of every group."""
        b = self.backtest_
        if not len(b):
            return b
        return b.loc[b["model"] == "combined"].dropna(subset=["forecast"]).reset_index(drop=True)


def model_choice(history: HistoryForecaster, total: HistoryForecaster | None = None) -> pd.DataFrame:
    """Per group: the kind of history, the candidates the forecast combines (with their weights) and the
    backtest WAPE of that combination beside Naive's (the last month repeated); with ``total`` (the
    forecaster of the total of all sales) its row last.

    >>> m = pd.date_range("2021-01-01", periods=30, freq="MS")
    >>> f = HistoryForecaster(horizon=2).fit(pd.DataFrame({"product_group": "x", "month": m, "recurring": 100.0}))
    >>> model_choice(f).columns.tolist()
    ['product_group', 'history_kind', 'models', 'wape', 'wape_naive']
    """
    cols = ["product_group", "history_kind", "models", "wape", "wape_naive"]
    if not len(history.weights_):
        return pd.DataFrame(columns=cols)
    w = history.weights_.loc[history.weights_["weight"] > 0].sort_values(["product_group", "weight"],
                                                                          ascending=[True, False])
    models = w.groupby("product_group").apply(
        lambda x: ", ".join(f"{m} {v:.0%}" for m, v in zip(x["model"], x["weight"])), include_groups=False)
    b = history.backtest_.dropna(subset=["forecast"])
    ab = (b["forecast"] - b["actual"]).abs()
    wape = (ab.groupby([b["product_group"], b["model"]]).sum()
            / b["actual"].abs().groupby([b["product_group"], b["model"]]).sum())
    out = pd.DataFrame({"product_group": models.index.astype("string"), "models": models.to_numpy()})
    out["history_kind"] = out["product_group"].map(history.kind_)
    key = lambda m: [wape.get((g, m), np.nan) for g in out["product_group"]]  # noqa: E731
    out["wape"], out["wape_naive"] = key("combined"), key("Naive")
    if total is not None and len(total.weights_):
        out = pd.concat([out[cols], model_choice(total)], ignore_index=True)
    return out[cols]
