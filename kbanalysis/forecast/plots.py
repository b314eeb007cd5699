"""Charts of the forecast stage: history and forecast fan, sources side by side, calibration of the
managers' probabilities, stock cover per group.

Every function takes ``ax=None`` (a new figure is made without touching pyplot's global state)
and returns the Axes. Texts come from ``locale/forecast.yaml`` via :func:`kbanalysis.deliverables.i18n.t`;
each title states the conclusion of the chart. The inputs are the frames of a fitted
:class:`kbanalysis.forecast.model.DemandForecast` (``series_``, ``history_.forecast_``, ``table_`` or
``detail_``) and the canonical ``deals``.

>>> import pandas as pd
>>> table = pd.DataFrame({"month": ["2024-04", "2024-04", "2024-04"], "product_group": ["x", "y", "ALL"],
...     "reconciled": [100.0, 50.0, 150.0], "stock_available": [60.0, 400.0, 460.0],
...     "stock_gap": [40.0, 0.0, 40.0]})
>>> stock_cover(table, lang="en", horizon=1).get_title().replace(chr(10), " ")
'Shortage in 1 of 2 groups: RUB 40 missing over 1 months; overstock in y (stock for more than 6 months)'
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from kbanalysis.forecast.model import ALL, calibration_curve, manager_calibration, stated_vs_actual
from kbanalysis.deliverables.i18n import fmt_pct, money_short, month_pattern, t
from kbanalysis.deliverables.style import money_ticks, month_ticks, new_axes, wrapped_title
from kbanalysis.sales.engine import shortened

COLORS = {"revenue": "#bdbdbd", "recurring": "#4575b4", "history": "#4575b4", "fan": "#91bfdb",
          "reconciled": "#d73027", "pipeline": "#fdae61", "pipeline_calibrated": "#1a9850",
          "marketing": "#984ea3", "short": "#d73027", "over": "#fdae61", "ok": "#1a9850", "stock": "#636363"}


def _ax(ax: Axes | None, size=(9, 5)) -> Axes:
    return new_axes(ax, size)


def _title(ax: Axes, text: str, width: int = 70) -> None:
    wrapped_title(ax, text, width)


def _money(axis, lang: str, currency: str) -> None:
    money_ticks(axis, lang, currency)


def _pct(axis, lang: str) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt_pct(v, lang, 0)))


def _signed_pct(x: float, lang: str) -> str:
    s = fmt_pct(abs(x), lang)
    return ("+" if x >= 0 else "−") + s


def _group_label(group: str, lang: str) -> str:
    return t("forecast.group.all", lang) if group == ALL else str(group)


def _months(s: pd.Series) -> pd.Series:
    """Months as timestamps whether they come as ``YYYY-MM`` text or as dates."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    return pd.to_datetime(s.astype(str) + "-01")


def forecast_fan(series: pd.DataFrame, forecast: pd.DataFrame, detail: pd.DataFrame | None = None,
                 group: str = ALL, lang: str = "ru", currency: str = "RUB", months_back: int = 24,
                 ax: Axes | None = None) -> Axes:
    """Monthly sales of a group (or of all groups) and the statistical forecast with its 80 % fan.

    ``series``: ``product_group, month, revenue[, recurring]`` (``DemandForecast.series_``);
    ``forecast``: ``product_group, month, forecast, low, high`` (``DemandForecast.history_.forecast_``);
    ``detail``: optional ``month, product_group, reconciled[, history_low, history_high]``
    (``DemandForecast.detail_``) to draw the reconciled forecast (with the deals) on top and, for
    ``ALL``, to take the fan measured on the total (without it the group fans are summed: a
    conservative width, as if the groups' errors never cancelled). The title compares the
    forecast with the same months a year ago (or with the last months when the history is
    shorter).

    >>> m = pd.date_range("2023-01-01", periods=15, freq="MS")
    >>> s = pd.DataFrame({"product_group": "x", "month": m, "revenue": 100.0, "recurring": 100.0})
    >>> f = pd.DataFrame({"product_group": "x", "month": pd.date_range("2024-04-01", periods=3, freq="MS"),
    ...                   "forecast": 110.0, "low": 90.0, "high": 130.0})
    >>> forecast_fan(s, f, group="x", lang="en").get_title().replace(chr(10), " ")
    'x: RUB 330 expected over 3 months, +10.0% on the same months a year ago'
    """
    ax = _ax(ax)
    s = series if group == ALL else series.loc[series["product_group"] == group]
    f = forecast if group == ALL else forecast.loc[forecast["product_group"] == group]
    if not len(f) or not len(s):
        _title(ax, t("forecast.title.fan_empty", lang))
        return ax
    value_cols = [c for c in ("revenue", "recurring") if c in s]
    hist = s.assign(month=_months(s["month"])).groupby("month")[value_cols].sum().sort_index()
    hist = hist.iloc[-months_back:] if months_back else hist
    fc = f.assign(month=_months(f["month"])).groupby("month")[["forecast", "low", "high"]].sum(min_count=1)
    if detail is not None and {"history_low", "history_high"} <= set(detail.columns):
        dd = detail.loc[detail["product_group"] == group]
        band = dd.assign(month=_months(dd["month"])).set_index("month")[["history_low", "history_high"]]
        band = band.reindex(fc.index)
        if band.notna().all().all():
            fc["low"], fc["high"] = band["history_low"], band["history_high"]
    if "recurring" in hist and not np.allclose(hist["recurring"], hist["revenue"]):
        ax.plot(hist.index, hist["revenue"], color=COLORS["revenue"], lw=1.2, label=t("forecast.legend.revenue", lang))
        ax.plot(hist.index, hist["recurring"], color=COLORS["recurring"], lw=1.8,
                label=t("forecast.legend.recurring", lang))
        last = hist["recurring"]
    else:
        ax.plot(hist.index, hist["revenue"], color=COLORS["recurring"], lw=1.8,
                label=t("forecast.legend.revenue", lang))
        last = hist["revenue"]
    # the forecast joins the last actual month
    x = [hist.index[-1]] + list(fc.index)
    ax.plot(x, [last.iloc[-1]] + list(fc["forecast"]), color=COLORS["history"], lw=1.8, ls="--",
            label=t("forecast.legend.history", lang))
    if fc["low"].notna().all():
        ax.fill_between(fc.index, fc["low"], fc["high"], color=COLORS["fan"], alpha=0.45, lw=0,
                        label=t("forecast.legend.fan", lang))
    total = float(fc["forecast"].sum())
    if detail is not None and len(detail):
        d = detail.loc[detail["product_group"] == group]
        rec = d.assign(month=_months(d["month"])).groupby("month")["reconciled"].sum()
        if len(rec):
            ax.plot(rec.index, rec.to_numpy(), "o", color=COLORS["reconciled"], ms=6,
                    label=t("forecast.legend.reconciled", lang))
            total = float(rec.sum())
    _money(ax.yaxis, lang, currency)
    month_ticks(ax.xaxis, lang)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(t("forecast.axis.month", lang))
    ax.set_ylabel(t("forecast.axis.sales", lang))
    ax.legend(fontsize=8, loc="lower left")
    h = len(fc)
    year_ago = fc.index - pd.DateOffset(years=1)
    base_col = "revenue"
    full = s.assign(month=_months(s["month"])).groupby("month")[base_col].sum()
    if set(year_ago) <= set(full.index):
        base, key = float(full.loc[year_ago].sum()), "forecast.title.fan_year"
    else:
        base, key = float(full.iloc[-h:].sum()), "forecast.title.fan_recent"
    change = total / base - 1 if base > 0 else np.nan
    _title(ax, t(key, lang, group=_group_label(group, lang), h=h, total=money_short(total, lang, currency),
                 change=_signed_pct(change, lang) if np.isfinite(change) else "—"))
    return ax


def sources_by_month(table: pd.DataFrame, group: str = ALL, lang: str = "ru", currency: str = "RUB",
                     ax: Axes | None = None) -> Axes:
    """The sources of one group (default ``ALL``) side by side per month of the horizon.

    Per month, points on a common scale (not from zero: the sources differ by a few per cent):
    the statistical forecast of recurring sales (with its 80 % fan when ``table`` has
    ``history_low`` / ``history_high``, i.e. ``DemandForecast.detail_``), statistics + the
    managers' pipeline at their probabilities, statistics + the pipeline calibrated on past deals,
    the marketing estimate, and the reconciled forecast (black bar). The title gives the total of
    the horizon, how far the managers' pipeline is from its calibrated value and marketing from
    the total.

    >>> tb = pd.DataFrame({"month": ["2024-04", "2024-05"], "product_group": ["ALL", "ALL"],
    ...     "pipeline": [30.0, 10.0], "pipeline_calibrated": [15.0, 5.0], "history": [100.0, 100.0],
    ...     "marketing": [130.0, 130.0], "reconciled": [115.0, 105.0]})
    >>> print(sources_by_month(tb, lang="en").get_title().replace(chr(10), " "))  # doctest: +ELLIPSIS
    RUB 220 forecast over 2 months; past deals show the managers' pipeline is 100.0% too high; marketing is ...
    """
    ax = _ax(ax)
    d = table.loc[table["product_group"] == group].copy()
    d["month"] = _months(d["month"])
    d = d.sort_values("month")
    labels = d["month"].dt.strftime(month_pattern(lang)).tolist()
    x = np.arange(len(d))
    hist = d["history"].astype("float64")
    pipe = d["pipeline"].astype("float64") if "pipeline" in d else pd.Series(np.nan, index=d.index)
    cal = d["pipeline_calibrated"].astype("float64") if "pipeline_calibrated" in d else pd.Series(np.nan,
                                                                                                  index=d.index)
    series = [("history", hist, COLORS["history"], "o", t("forecast.source.history", lang)),
              ("pipeline", hist + pipe, COLORS["pipeline"], "^", t("forecast.source.managers_view", lang)),
              ("pipeline_calibrated", hist + cal, COLORS["pipeline_calibrated"], "v",
               t("forecast.source.bottom_up", lang)),
              ("marketing", d["marketing"].astype("float64") if "marketing" in d else pd.Series(np.nan, index=d.index),
               COLORS["marketing"], "s", t("forecast.source.marketing", lang))]
    step = 0.13
    for i, (key, v, color, marker, label) in enumerate(series):
        if not v.notna().any():
            continue
        xi = x + (i - 1.5) * step
        if key == "history" and {"history_low", "history_high"} <= set(d.columns) and d["history_low"].notna().any():
            ax.vlines(xi, d["history_low"], d["history_high"], color=COLORS["fan"], lw=6, alpha=0.8,
                      label=t("forecast.legend.fan", lang))
        ax.plot(xi, v.to_numpy(), marker, color=color, ms=9, ls="none", label=label)
    ax.hlines(d["reconciled"], x - 2.6 * step, x + 2.6 * step, color="black", lw=2.5,
              label=t("forecast.source.reconciled", lang))
    ax.set_xticks(x, labels)
    ax.set_xlim(-0.6, len(d) - 0.4)
    _money(ax.yaxis, lang, currency)
    ax.set_xlabel(t("forecast.axis.month", lang))
    ax.set_ylabel(t("forecast.axis.sales", lang))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=3, frameon=False)
    total = float(d["reconciled"].sum())
    stated, calib = float(pipe.fillna(0).sum()), float(cal.fillna(0).sum())
    h = len(d)
    if stated > 0 and calib > 0:
        over = stated / calib - 1
        key = "forecast.title.sources_over" if over >= 0 else "forecast.title.sources_under"
        text = t(key, lang, h=h, total=money_short(total, lang, currency), pct=fmt_pct(abs(over), lang))
    else:
        text = t("forecast.title.sources_plain", lang, h=h, total=money_short(total, lang, currency))
    if "marketing" in d and d["marketing"].notna().any() and total > 0:
        diff = float(d["marketing"].sum()) / total - 1
        key = "forecast.title.sources_marketing_above" if diff >= 0 else "forecast.title.sources_marketing_below"
        text += t(key, lang, pct=fmt_pct(abs(diff), lang))
    _title(ax, text, 95)
    return ax


def calibration_chart(deals: pd.DataFrame, by: str | None = "stage", bins: int = 5, lang: str = "ru",
                      as_of=None, prior: float = 10.0, ax: Axes | None = None) -> Axes:
    """Stated probability against the share actually won, for closed deals.

    ``by="stage"`` / ``"manager"``: one point per stage / manager (size = number of closed deals,
    labelled; for stages also the shrunk win rate the calibrated pipeline uses, with ``as_of`` and
    ``prior`` as in the forecast); ``by=None``: a reliability curve over ``bins`` probability bins. Points below the
    diagonal = optimism. The title states the overall verdict (from :func:`manager_calibration`).

    >>> d = pd.DataFrame({"stage": ["a", "a", "b", "b"], "manager": ["m"] * 4,
    ...     "probability": [0.6, 0.6, 0.9, 0.9], "status": ["won", "lost", "won", "lost"],
    ...     "planned_month": pd.to_datetime(["2024-01-01"] * 4)})
    >>> calibration_chart(d, lang="en").get_title().replace(chr(10), " ")
    'Managers overstate deal probabilities: 75.0% stated on average, 50.0% won'
    """
    ax = _ax(ax, (7, 6))
    overall = manager_calibration(deals)
    row = overall.loc[overall["manager"] == ALL] if len(overall) else overall
    if not len(row) or pd.isna(row["mean_stated"].iloc[0]):
        _title(ax, t("forecast.title.calibration_empty", lang))
        return ax
    ax.plot([0, 1], [0, 1], color="#555555", lw=1, ls=":", label=t("forecast.legend.ideal", lang))
    if by:
        pts = stated_vs_actual(deals, by=by, prior=prior, as_of=as_of).dropna(subset=["stated"])
        size = 30 + 400 * pts["n"] / max(pts["n"].max(), 1)
        ax.scatter(pts["stated"], pts["actual"], s=size, color=COLORS["pipeline"], alpha=0.8, edgecolor="black",
                   lw=0.5)
        # labels: every point when few, else the most optimistic, the least and the biggest ones;
        # a label too close to one already placed is skipped
        gap = (pts["stated"] - pts["actual"]).sort_values(ascending=False)
        order = list(gap.index) if len(gap) <= 8 else (list(gap.index[:3]) + list(gap.index[-2:])
                                                        + list(pts["n"].sort_values(ascending=False).index[:2]))
        placed: list[tuple[float, float]] = []
        for i in dict.fromkeys(order):
            px, py = float(pts.at[i, "stated"]), float(pts.at[i, "actual"])
            if any(abs(px - qx) < 0.04 and abs(py - qy) < 0.02 for qx, qy in placed):
                continue
            placed.append((px, py))
            ax.annotate(textwrap.shorten(str(pts.at[i, by]), 28, placeholder="…"), (px, py),
                        xytext=(6, 4), textcoords="offset points", fontsize=8)
        if by == "stage" and pts["shrunk_rate"].notna().any():
            ax.scatter(pts["stated"], pts["shrunk_rate"], marker="_", s=250, color=COLORS["pipeline_calibrated"],
                       lw=2.5, label=t("forecast.legend.shrunk_rate", lang))
    else:
        cur = calibration_curve(deals, bins=bins)
        ax.plot(cur["stated"], cur["actual"], "o-", color=COLORS["pipeline"])
    vals = pd.concat([pts["stated"], pts["actual"], pts["shrunk_rate"]]).dropna() if by else \
        pd.concat([cur["stated"], cur["actual"]])
    lo = max(0.0, np.floor((vals.min() - 0.05) * 10) / 10) if len(vals) else 0.0
    hi = min(1.0, np.ceil((vals.max() + 0.05) * 10) / 10) if len(vals) else 1.0
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    _pct(ax.xaxis, lang)
    _pct(ax.yaxis, lang)
    ax.set_xlabel(t("forecast.axis.stated", lang))
    ax.set_ylabel(t("forecast.axis.actual", lang))
    ax.legend(fontsize=8, loc="upper left")
    stated, actual = float(row["mean_stated"].iloc[0]), float(row["win_rate"].iloc[0])
    gap = stated - actual
    key = ("forecast.title.calibration_over" if gap > 0.05 else
           "forecast.title.calibration_under" if gap < -0.05 else "forecast.title.calibration_ok")
    _title(ax, t(key, lang, stated=fmt_pct(stated, lang), actual=fmt_pct(actual, lang)), 60)
    return ax


#: the characters of a product group's name on a chart's axis
LABEL_WIDTH = 28


def _short(label) -> str:
    """A group's name for an axis: :func:`kbanalysis.sales.engine.shortened` to :data:`LABEL_WIDTH`."""
    return shortened(label, LABEL_WIDTH)


def stock_cover(table: pd.DataFrame, lang: str = "ru", currency: str = "RUB", horizon: int | None = None,
                overstock_months: float = 6.0, ax: Axes | None = None) -> Axes:
    """Stock (on hand + incoming) against the demand of the horizon, per product group.

    ``table``: ``forecast.csv`` rows (``month, product_group, reconciled, stock_available,
    stock_gap``). Each group gets a bar of its demand over the horizon and a bar of its stock,
    coloured red for a shortage (``stock_gap`` > 0 in the last month), orange for overstock (cover
    above ``overstock_months`` months), green otherwise; the label is the cover in months.

    >>> tb = pd.DataFrame({"month": ["2024-04"] * 2, "product_group": ["x", "ALL"], "reconciled": [10.0, 10.0],
    ...                    "stock_available": [30.0, 30.0], "stock_gap": [0.0, 0.0]})
    >>> stock_cover(tb, lang="en").get_title().replace(chr(10), " ")
    'Stock covers 1 months in every group'
    """
    d = table.loc[table["product_group"] != ALL].copy()
    d["month"] = _months(d["month"])
    h = horizon or d["month"].nunique()
    ax = _ax(ax, (9, 0.45 * max(d["product_group"].nunique(), 1) + 2))
    d = d.loc[d["stock_available"].notna()]
    if not len(d):
        _title(ax, t("forecast.title.stock_empty", lang))
        return ax
    last = d["month"].max()
    g = d.groupby("product_group").agg(demand=("reconciled", "sum"), stock=("stock_available", "first"))
    g["gap"] = d.loc[d["month"] == last].set_index("product_group")["stock_gap"].reindex(g.index).fillna(0.0)
    monthly = g["demand"] / max(d["month"].nunique(), 1)
    g["cover"] = np.where(monthly > 0, g["stock"] / monthly.where(monthly > 0, 1.0), np.inf)
    g["state"] = np.where(g["gap"] > 0, "short", np.where(g["cover"] > overstock_months, "over", "ok"))
    g = g.sort_values("cover", ascending=False)
    y = np.arange(len(g))
    ax.barh(y + 0.2, g["demand"], 0.4, color="#bdbdbd", label=t("forecast.legend.demand", lang, h=h))
    colors = [COLORS[s] for s in g["state"]]
    ax.barh(y - 0.2, g["stock"], 0.4, color=colors, label=t("forecast.legend.stock", lang))
    for yi, (cover, stock) in enumerate(zip(g["cover"], g["stock"])):
        txt = "∞" if not np.isfinite(cover) else f"{cover:.1f}".replace(".", "," if lang == "ru" else ".")
        ax.annotate(t("forecast.label.cover", lang, months=txt), (stock, yi - 0.2), xytext=(4, -3),
                    textcoords="offset points", fontsize=8)
    ax.set_yticks(y, [_short(i) for i in g.index])  # a 10,000-character group made the chart 140,000 px wide
    _money(ax.xaxis, lang, currency)
    ax.set_xlabel(t("forecast.axis.amount_horizon", lang))
    from matplotlib.patches import Patch

    handles = [Patch(color="#bdbdbd", label=t("forecast.legend.demand", lang, h=h))]
    handles += [Patch(color=COLORS[k], label=t(f"forecast.legend.{k}", lang)) for k in ("short", "over", "ok")
                if (g["state"] == k).any()]
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=4,
              frameon=False)
    short, over = g.loc[g["state"] == "short"], g.loc[g["state"] == "over"]
    months_txt = f"{overstock_months:g}"
    if len(short):
        text = t("forecast.title.stock_short", lang, n=len(short), total=len(g), h=h,
                 gap=money_short(short["gap"].sum(), lang, currency))
        if len(over):
            text += t("forecast.title.stock_over", lang, m=", ".join(map(str, over.index)), months=months_txt)
    elif len(over):
        text = t("forecast.title.stock_only_over", lang, m=len(over), total=len(g), months=months_txt)
    else:
        text = t("forecast.title.stock_ok", lang, h=h)
    _title(ax, text, 95)
    return ax


def history_fan(model, group: str = ALL, lang: str = "ru", currency: str = "RUB", months_back: int = 24,
                ax: Axes | None = None) -> Axes:
    """:func:`forecast_fan` of a fitted :class:`kbanalysis.forecast.model.DemandForecast` (``model``).

    Uses ``model.series_``, ``model.history_.forecast_`` and ``model.detail_`` (reconciled points
    and, for ``ALL``, the fan measured on the total).
    """
    return forecast_fan(model.series_, model.history_.forecast_, model.detail_, group=group, lang=lang,
                        currency=currency, months_back=months_back, ax=ax)


def calibration_plot(deals: pd.DataFrame, by: str | None = "stage", lang: str = "ru", as_of=None,
                     prior: float = 10.0, ax: Axes | None = None) -> Axes:
    """Same as :func:`calibration_chart` (the name the notebook uses)."""
    return calibration_chart(deals, by=by, lang=lang, as_of=as_of, prior=prior, ax=ax)


def accuracy_chart(backtest: pd.DataFrame, peers: pd.DataFrame, accuracy: pd.DataFrame, lang: str = "ru",
                   currency: str = "RUB", ax: Axes | None = None) -> Axes:
    """The past months as each method forecast them one month ahead: actual sales, the reconciled forecast
    and the peers (:mod:`kbanalysis.forecast.accuracy`), each labelled with its WAPE from ``accuracy``.

    >>> bt = pd.DataFrame({"source": "reconciled", "origin": pd.to_datetime(["2024-01-01"]), "step": [1],
    ...     "month": pd.to_datetime(["2024-01-01"]), "forecast": [105.0], "actual": [100.0]})
    >>> pe = bt.drop(columns="source").assign(method="Naive", forecast=[90.0])
    >>> acc = pd.DataFrame({"method": ["reconciled", "Naive"], "mape": [0.05, 0.1], "wape": [0.05, 0.1],
    ...                     "n": [1, 1], "months": [1, 1]})
    >>> accuracy_chart(bt, pe, acc, lang="en").get_title()
    'Over 1 past months our forecast missed by 5.0% on average, the naive forecast by 10.0%'
    """
    ax = _ax(ax, (10, 5))
    ours = backtest.loc[(backtest["source"] == "reconciled") & (backtest["step"] == 1)]
    if not len(accuracy) or not len(ours):
        _title(ax, t("forecast.title.accuracy_empty", lang))
        return ax
    wape = accuracy.set_index("method")["wape"]
    first = ours.sort_values("month")
    ax.plot(first["month"], first["actual"], color="#252525", lw=2.2, label=t("forecast.legend.revenue", lang))
    ax.plot(first["month"], first["forecast"], color=COLORS["reconciled"], lw=2, marker="o", ms=3,
            label=t("forecast.legend.accuracy_ours", lang, wape=fmt_pct(wape.get("reconciled"), lang)))
    styles = {"Naive": ("#969696", ":"), "SeasonalNaive": ("#fdae61", "--"), "AutoETS": ("#4575b4", "-.")}
    for m, x in peers.loc[peers["step"] == 1].groupby("method", sort=False):
        x = x.loc[x["month"].isin(first["month"])].sort_values("month")
        color, style = styles.get(m, ("#636363", "--"))
        ax.plot(x["month"], x["forecast"], color=color, ls=style, lw=1.4,
                label=t(f"forecast.legend.peer_{m}", lang, wape=fmt_pct(wape.get(m), lang)))
    _money(ax.yaxis, lang, currency)
    month_ticks(ax.xaxis, lang)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, frameon=False)
    a = accuracy.set_index("method")
    _title(ax, t("forecast.title.accuracy", lang, months=int(a.loc["reconciled", "months"]),
                 ours=fmt_pct(wape.get("reconciled"), lang),
                 naive=fmt_pct(wape.get("Naive"), lang)), 90)
    return ax
