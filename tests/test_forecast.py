"""Hand-checked tests of kbanalysis.forecast.model on tiny fixtures (probabilities already 0..1)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kbanalysis.forecast.candidates import combination_weights
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbanalysis.forecast import core, model as fc
from kbanalysis.schema import OUTPUT_EXTRAS, OUTPUTS

AS_OF = "2024-04-01"


def deals_frame(rows):
    """rows: (deal_id, client, amount, prob, stage, status, planned 'YYYY-MM', group|None, manager, closed|None)."""
    cols = ["deal_id", "client_id", "amount", "probability", "stage", "status", "planned_month", "product_group",
            "manager", "closed_date"]
    d = pd.DataFrame(rows, columns=cols)
    for c in ("deal_id", "client_id", "stage", "status", "product_group", "manager"):
        d[c] = d[c].astype("string")
    d["amount"] = d["amount"].astype("float64")
    d["probability"] = d["probability"].astype("float64")
    d["planned_month"] = pd.to_datetime(d["planned_month"] + "-01")
    d["closed_date"] = pd.to_datetime(d["closed_date"])
    d["created_date"] = pd.NaT
    return d


def sales_frame(rows):
    """rows: (date, client, group, amount[, doc_id])."""
    d = pd.DataFrame(rows, columns=["date", "client_id", "product_group", "amount", "doc_id"][:len(rows[0])])
    d["date"] = pd.to_datetime(d["date"])
    for c in ("client_id", "product_group", "doc_id"):
        if c in d:
            d[c] = d[c].astype("string")
    d["amount"] = d["amount"].astype("float64")
    return d


def monthly_sales(groups: dict, start="2022-01-01", months=27, client="c1"):
    """One sale on the 5th of every month per group; groups = {group: amount or array}."""
    m = pd.date_range(start, periods=months, freq="MS") + pd.Timedelta(days=4)
    parts = []
    for g, a in groups.items():
        parts.append(pd.DataFrame({"date": m, "client_id": client, "product_group": g,
                                   "amount": np.broadcast_to(np.asarray(a, dtype="float64"), (months,)).copy()}))
    s = pd.concat(parts, ignore_index=True)
    s["client_id"] = s["client_id"].astype("string")
    s["product_group"] = s["product_group"].astype("string")
    s["doc_id"] = pd.Series([f"s{i}" for i in range(len(s))], dtype="string")
    return s


# ---------------------------------------------------------------------------------------------
# pipeline
# ---------------------------------------------------------------------------------------------
def test_pipeline_arithmetic_overdue_horizon_and_status():
    d = deals_frame([
        ("d1", "a", 100, 0.5, "offer", "open", "2024-04", "x", "m1", None),   # 50 in April
        ("d2", "a", 200, 0.25, "offer", "open", "2024-01", "x", "m1", None),  # overdue -> April, 50
        ("d3", "b", 80, 0.5, "offer", "open", "2024-06", "y", "m2", None),    # June, 40
        ("d4", "b", 999, 0.9, "offer", "open", "2024-07", "y", "m2", None),   # after the horizon
        ("d5", "b", 999, 1.0, "contract", "won", "2024-04", "y", "m2", "2024-04-02"),  # closed: not pipeline
        ("d6", "b", 999, 0.0, "offer", "lost", "2024-05", "y", "m2", "2024-03-02"),
    ])
    p = fc.pipeline(d, AS_OF, 3)
    got = {(r.month, r.product_group): r.pipeline for r in p.itertuples()}
    assert got == {("2024-04", "x"): 100.0, ("2024-05", "x"): 0.0, ("2024-06", "x"): 0.0,
                   ("2024-04", "y"): 0.0, ("2024-05", "y"): 0.0, ("2024-06", "y"): 40.0}
    assert p.attrs["overdue_deals"] == 1 and p.attrs["overdue_amount"] == 200.0
    assert list(p.columns) == ["month", "product_group", "pipeline"]


def test_pipeline_splits_deals_without_group_by_client_then_overall_mix():
    sales = sales_frame([("2024-01-10", "a", "x", 300.0), ("2024-01-10", "a", "y", 100.0),
                         ("2024-02-10", "b", "y", 600.0)])
    d = deals_frame([
        ("d1", "a", 100, 1.0, "s", "open", "2024-04", None, "m", None),  # a: 75 % x, 25 % y
        ("d2", "z", 100, 1.0, "s", "open", "2024-04", None, "m", None),  # no sales: overall 30 % x, 70 % y
    ])
    alloc = fc.pipeline_deals(d, AS_OF, 1, sales=sales)
    src = alloc.groupby("deal_id")["group_source"].first().to_dict()
    assert src == {"d1": "client_mix", "d2": "overall_mix"}
    p = fc.pipeline(d, AS_OF, 1, sales=sales).set_index("product_group")["pipeline"]
    assert p["x"] == pytest.approx(75 + 30) and p["y"] == pytest.approx(25 + 70)
    assert p.sum() == pytest.approx(200.0)  # the split never loses money


def test_missing_probability_of_open_deal_counts_zero_in_stated_pipeline():
    d = deals_frame([("d1", "a", 100, np.nan, "s", "open", "2024-04", "x", "m", None)])
    assert fc.pipeline(d, AS_OF, 1)["pipeline"].tolist() == [0.0]


# ---------------------------------------------------------------------------------------------
# stage win rates, calibration
# ---------------------------------------------------------------------------------------------
def test_shrinkage_formula_by_hand():
    # stage a: 1 win of 4; stage b: 3 wins of 4; overall 4/8 = 0.5; prior 10
    rows = [(f"a{i}", "c", 10, 0.5, "a", "won" if i == 0 else "lost", "2024-01", "x", "m", "2024-01-15")
            for i in range(4)]
    rows += [(f"b{i}", "c", 10, 0.5, "b", "won" if i < 3 else "lost", "2024-01", "x", "m", "2024-01-15")
             for i in range(4)]
    r = fc.stage_win_rates(deals_frame(rows), prior=10).set_index("stage")
    assert r.attrs["overall_rate"] == 0.5
    assert r.loc["a", "rate"] == 0.25 and r.loc["b", "rate"] == 0.75
    assert r.loc["a", "shrunk_rate"] == pytest.approx((1 + 10 * 0.5) / (4 + 10))
    assert r.loc["b", "shrunk_rate"] == pytest.approx((3 + 10 * 0.5) / (4 + 10))
    r0 = fc.stage_win_rates(deals_frame(rows), prior=0).set_index("stage")
    assert r0.loc["a", "shrunk_rate"] == 0.25  # no prior = raw rate


def test_calibrated_pipeline_uses_stage_rate_and_overall_rate_for_unknown_stage():
    rows = [("w", "c", 10, 0.9, "Offer", "won", "2024-01", "x", "m", "2024-01-15"),
            ("l1", "c", 10, 0.9, "offer ", "lost", "2024-01", "x", "m", "2024-01-15"),
            ("l2", "c", 10, 0.9, "talk", "lost", "2024-01", "x", "m", "2024-01-15"),
            ("l3", "c", 10, 0.9, "talk", "lost", "2024-01", "x", "m", "2024-01-15"),
            ("o1", "c", 100, 0.9, "OFFER", "open", "2024-04", "x", "m", None),
            ("o2", "c", 100, 0.9, "new stage", "open", "2024-04", "x", "m", None)]
    d = deals_frame(rows)
    # prior 2: overall 1/4; offer (1 + 0.5) / 4 = 0.375; unknown stage: 0.25
    p = fc.pipeline_calibrated(d, AS_OF, 1, prior=2)
    assert p["pipeline_calibrated"].iloc[0] == pytest.approx(100 * 0.375 + 100 * 0.25)
    assert fc.pipeline(d, AS_OF, 1)["pipeline"].iloc[0] == pytest.approx(180.0)


def test_manager_calibration_brier_bias_slip_by_hand():
    rows = [("1", "c", 10, 0.9, "s", "won", "2024-01", "x", "ann", "2024-01-20"),
            ("2", "c", 10, 0.9, "s", "lost", "2024-01", "x", "ann", "2024-01-20"),
            ("3", "c", 10, 0.5, "s", "won", "2024-01", "x", "ann", "2024-03-02"),  # slipped
            ("4", "c", 10, 0.2, "s", "lost", "2024-02", "x", "bob", "2024-02-20"),
            ("5", "c", 10, 0.6, "s", "open", "2024-05", "x", "bob", None)]          # open: not counted
    m = fc.manager_calibration(deals_frame(rows)).set_index("manager")
    ann = m.loc["ann"]
    assert ann["n_closed"] == 3
    assert ann["mean_stated"] == pytest.approx((0.9 + 0.9 + 0.5) / 3)
    assert ann["win_rate"] == pytest.approx(2 / 3)
    assert ann["bias"] == pytest.approx((0.9 + 0.9 + 0.5) / 3 - 2 / 3)
    assert ann["brier"] == pytest.approx((0.1 ** 2 + 0.9 ** 2 + 0.5 ** 2) / 3)
    assert ann["slip_rate"] == pytest.approx(0.5)
    bob = m.loc["bob"]
    assert bob["brier"] == pytest.approx(0.04) and math.isnan(bob["slip_rate"])
    assert m.loc["ALL", "n_closed"] == 4


def test_overwritten_probabilities_are_not_used_for_calibration():
    rows = [("1", "c", 10, 1.0, "s", "won", "2024-01", "x", "a", "2024-01-20"),
            ("2", "c", 10, 0.0, "s", "lost", "2024-01", "x", "a", "2024-01-20")]
    d = deals_frame(rows)
    assert not fc.stated_probability_usable(d)
    m = fc.manager_calibration(d)
    assert m["brier"].isna().all() and m["win_rate"].tolist() == [0.5, 0.5]
    assert fc.calibration_curve(d).empty


def test_calibration_curve_bins():
    rows = [(str(i), "c", 10, p, "s", st_, "2024-01", "x", "a", "2024-01-20")
            for i, (p, st_) in enumerate([(0.1, "lost"), (0.3, "won"), (0.7, "won"), (0.9, "won"), (0.9, "lost")])]
    c = fc.calibration_curve(deals_frame(rows), bins=2)
    assert c["n"].tolist() == [2, 3]
    assert c["stated"].tolist() == pytest.approx([0.2, 2.5 / 3])
    assert c["actual"].tolist() == pytest.approx([0.5, 2 / 3])
    by = fc.calibration_curve(deals_frame(rows), bins=2, by="manager")
    assert list(by.columns) == ["manager", "bin", "stated", "actual", "n"]


# ---------------------------------------------------------------------------------------------
# recurring flow vs deal sales
# ---------------------------------------------------------------------------------------------
def test_match_won_deals_by_doc_id_and_by_client_month_amount():
    s = sales_frame([("2024-01-05", "a", "x", 60.0, "D1"), ("2024-01-05", "a", "y", 40.0, "D1"),
                     ("2024-01-09", "b", "x", 5.0, "D3"),           # D3's number but another client
                     ("2024-02-03", "b", "y", 250.0, "inv7"),       # matches D2 by amount
                     ("2024-02-04", "b", "y", 30.0, "inv8")])
    d = deals_frame([("D1", "a", 100, 0.5, "s", "won", "2024-01", "x", "m", "2024-01-04"),
                     ("D2", "b", 250, 0.5, "s", "won", "2024-02", "y", "m", "2024-02-01"),
                     ("D3", "c", 5, 0.5, "s", "won", "2024-01", "x", "m", "2024-01-09"),
                     ("D4", "c", 70, 0.5, "s", "lost", "2024-01", "x", "m", "2024-01-09")])
    m = fc.match_won_deals(s, d).set_index("deal_id")
    assert m.loc["D1", "method"] == "doc_id" and m.loc["D1", "matched"] == 100.0
    assert m.loc["D2", "method"] == "client_month_amount" and m.loc["D2", "matched"] == 250.0
    assert m.loc["D3", "method"] == "none"
    assert "D4" not in m.index
    sp = fc.split_group_months(s, d, "2024-03-01")
    assert sp["deal_revenue"].sum() == 350.0
    assert sp["recurring"].sum() == pytest.approx(35.0)
    assert (sp["revenue"] == sp["deal_revenue"] + sp["recurring"]).all()


def test_split_leaves_out_the_incomplete_month_of_as_of():
    s = sales_frame([("2024-03-05", "a", "x", 10.0, "n1"), ("2024-04-03", "a", "x", 99.0, "n2")])
    sp = fc.split_group_months(s, None, "2024-04-15")
    assert sp["month"].max() == pd.Timestamp("2024-03-01") and sp["revenue"].sum() == 10.0


# ---------------------------------------------------------------------------------------------
# statistical forecast
# ---------------------------------------------------------------------------------------------
def _series(values, group="x", start="2021-01-01"):
    m = pd.date_range(start, periods=len(values), freq="MS")
    return pd.DataFrame({"product_group": pd.Series(group, index=range(len(values)), dtype="string"),
                         "month": m, "recurring": np.asarray(values, dtype="float64")})


def test_history_picks_seasonal_model_for_a_pure_seasonal_series():
    y = np.tile([100, 80, 120, 90, 110, 70, 130, 95, 105, 85, 125, 140], 3)
    f = fc.HistoryForecaster(horizon=3).fit(_series(y))
    assert f.kind_["x"] == "seasonal"
    assert f.model_["x"] in ("SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta")
    assert f.forecast_["forecast"].to_numpy() == pytest.approx([100, 80, 120], rel=0.02)
    assert f.forecast_["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-03"]
    b = f.scores_.set_index("model")
    assert b.loc[f.model_["x"], "chosen"] and b.loc[f.model_["x"], "wape"] == b["wape"].min()
    # the flat candidates are far worse on the backtest: they get no weight (the season is not diluted)
    w = f.weights_.set_index("model")["weight"]
    assert w[["Naive", "HistoricAverage", "WindowAverage"]].sum() == 0


def test_history_of_18_months_uses_last_year_times_growth_not_the_last_peak():
    # 18 months, a peak in the last 3 months (Apr-Jun) and a trough in the 3 to forecast (Jul-Sep)
    season = np.array([100, 100, 100, 150, 150, 150, 60, 60, 60, 100, 100, 100], dtype="float64")
    y = np.concatenate([season, season[:6]]) * 1.0
    f = fc.HistoryForecaster(horizon=3).fit(_series(y))
    assert f.kind_["x"] == "year" and "LastYearGrowth" in set(f.weights_["model"])
    assert f.forecast_["forecast"].to_numpy() == pytest.approx([60, 60, 60], rel=0.05)


def test_history_short_and_sparse_series():
    f = fc.HistoryForecaster(horizon=2).fit(_series([10, 20, 30, 40, 50, 60]))
    assert f.kind_["x"] == "short" and f.model_["x"] == "Naive"  # a straight rise: the last month is best
    assert f.forecast_["forecast"].to_numpy() == pytest.approx([60, 60])
    sparse = [0, 0, 50, 0, 0, 0, 60, 0, 0, 0, 40, 0] * 2
    f2 = fc.HistoryForecaster(horizon=2).fit(_series(sparse))
    assert f2.kind_["x"] == "intermittent"
    assert set(f2.weights_["model"]) >= {"CrostonOptimized", "ADIDA", "IMAPA"}
    assert (f2.forecast_["forecast"] >= 0).all() and f2.forecast_["forecast"].max() <= 60


def test_combination_keeps_the_best_few_weighted_by_inverse_mse():
    w = combination_weights(pd.Series({"a": 2.0, "b": 1.0, "c": 3.0, "d": 10.0}), top=3, within=2.0)
    assert w.to_dict() == pytest.approx({"a": 1 / 3, "b": 2 / 3, "c": 0.0, "d": 0.0})
    assert combination_weights(pd.Series({"a": 0.0, "b": 1.0})).to_dict() == {"a": 1.0, "b": 0.0}


def test_history_interval_contains_point_and_is_wider_with_noise():
    rng = np.random.default_rng(1)
    flat = fc.HistoryForecaster(horizon=3).fit(_series(np.full(30, 100.0))).forecast_
    assert (flat["high"] - flat["low"]).max() == pytest.approx(0.0)
    noisy = fc.HistoryForecaster(horizon=3).fit(_series(100 + rng.normal(0, 20, 30))).forecast_
    assert ((noisy["low"] <= noisy["forecast"]) & (noisy["forecast"] <= noisy["high"])).all()
    assert (noisy["high"] - noisy["low"]).min() > 0


# ---------------------------------------------------------------------------------------------
# marketing, weights, errors
# ---------------------------------------------------------------------------------------------
def test_marketing_total_split_by_mix_and_given_groups_kept():
    mk = pd.DataFrame({"month": pd.to_datetime(["2024-04-01", "2024-04-01", "2024-05-01"]),
                       "product_group": pd.array([None, "x", None], dtype="string"), "amount": [100.0, 40.0, 50.0]})
    out = fc.marketing_by_group(mk, pd.to_datetime(["2024-04-01", "2024-05-01"]), pd.Series({"x": 0.5, "y": 0.5}))
    got = {(r.month.strftime("%Y-%m"), r.product_group): r.marketing for r in out.itertuples()}
    assert got == {("2024-04", "x"): 40.0, ("2024-04", "y"): 60.0, ("2024-05", "x"): 25.0, ("2024-05", "y"): 25.0}


def test_inverse_mse_weights_and_error_stats():
    assert fc.inverse_mse_weights({"a": 4.0, "b": 4.0}) == {"a": 0.5, "b": 0.5}
    assert fc.inverse_mse_weights({"a": 1.0, "b": np.nan}) == {"a": 1.0, "b": 0.0}
    assert fc.inverse_mse_weights({"a": np.nan, "b": np.nan}) == {"a": 0.5, "b": 0.5}
    e = fc.error_stats([90, 130, 5], [100, 100, 0])
    assert e["wape"] == pytest.approx(45 / 200) and e["mape"] == pytest.approx(0.2)
    assert e["bias"] == pytest.approx(25 / 200) and e["n"] == 3


# ---------------------------------------------------------------------------------------------
# stock
# ---------------------------------------------------------------------------------------------
def test_stock_gap_arithmetic_cumulative_by_month():
    dm = pd.DataFrame({"product_group": ["x"] * 3 + ["y"] * 3 + ["z"] * 3,
                       "month": ["2024-04", "2024-05", "2024-06"] * 3,
                       "reconciled": [50.0, 60.0, 70.0, 10.0, 10.0, 10.0, 5.0, 5.0, 5.0]})
    stock = fc.stock_by_group(pd.DataFrame({"product_group": ["x", "y", "y"], "on_hand": [80.0, 100.0, 200.0],
                                            "incoming": [20.0, np.nan, 0.0]}))
    assert stock.set_index("product_group")["stock_available"].to_dict() == {"x": 100.0, "y": 300.0}
    g = fc.stock_gap(dm, stock, overstock_months=6).set_index(["product_group", "month"])
    assert g.loc["x", "stock_gap"].tolist() == [0.0, 10.0, 80.0]       # 50, 110, 180 against 100
    assert g.loc["y", "stock_gap"].tolist() == [0.0, 0.0, 0.0]
    assert g.loc["y", "cover_months"].iloc[0] == 30.0 and g.loc["y", "overstock"].all()
    assert g.loc["z", "stock_gap"].isna().all() and not g.loc["z", "overstock"].any()


def test_stock_valued_at_cost_is_converted_with_the_groups_markup():
    st_ = pd.DataFrame({"product_group": ["x"], "on_hand": [80.0], "incoming": [20.0]})
    out = fc.stock_by_group(st_, valued_at="cost", price_per_cost=pd.Series({"x": 1.25}))
    assert out["stock_available"].iloc[0] == 125.0 and out["valued"].iloc[0] == "price"


# ---------------------------------------------------------------------------------------------
# the whole table
# ---------------------------------------------------------------------------------------------
def small_case(deal_sales: bool = True):
    """27 months of flat recurring sales in x (100/month) and y (50/month), deals (won ones shipped
    with doc_id = deal_id unless ``deal_sales`` is False), stock, marketing."""
    sales = monthly_sales({"x": 100.0, "y": 50.0})
    closed = []
    for i in range(24):
        pm = (pd.Timestamp("2022-06-01") + pd.DateOffset(months=i % 20)).strftime("%Y-%m")
        closed.append((f"c{i}", "c1", 10.0, 0.9, "offer" if i % 2 else "contract",
                       "won" if i % 4 == 0 else "lost", pm, "x", "ann", pm + "-20"))
    opened = [("o1", "c1", 1000.0, 0.9, "offer", "open", "2024-04", "x", "ann", None),
              ("o2", "c1", 100.0, 0.5, "contract", "open", "2024-05", "y", "bob", None)]
    deals = deals_frame(closed + opened)
    if deal_sales:
        won = deals.loc[deals["status"] == "won"]
        lines = pd.DataFrame({"date": won["closed_date"], "client_id": won["client_id"],
                              "product_group": won["product_group"], "amount": won["amount"],
                              "doc_id": won["deal_id"]})
        sales = pd.concat([sales, lines], ignore_index=True)
    stock = pd.DataFrame({"product_group": pd.array(["x", "y"], dtype="string"), "on_hand": [200.0, 5000.0],
                          "incoming": [0.0, 0.0]})
    marketing = pd.DataFrame({"month": pd.to_datetime(["2024-04-01", "2024-05-01", "2024-06-01"]),
                              "product_group": pd.array([None] * 3, dtype="string"), "amount": [160.0] * 3})
    return sales, deals, stock, marketing


def test_forecast_table_columns_order_and_all_rows():
    sales, deals, stock, marketing = small_case()
    t = core.forecast_table(sales, deals, stock, marketing, AS_OF, {"horizon": 3})
    assert tuple(t.columns) == OUTPUTS["forecast.csv"] + OUTPUT_EXTRAS["forecast.csv"]
    assert t["month"].tolist() == ["2024-04"] * 3 + ["2024-05"] * 3 + ["2024-06"] * 3
    assert t["product_group"].tolist() == ["x", "y", "ALL"] * 3
    groups = t.loc[t["product_group"] != "ALL"].groupby("month")
    total = t.loc[t["product_group"] == "ALL"].set_index("month")
    for col in ("pipeline", "pipeline_calibrated", "history", "marketing", "reconciled", "stock_available",
                "stock_gap"):
        assert groups[col].sum().to_numpy() == pytest.approx(total[col].to_numpy()), col
    assert t["history"].iloc[0] == pytest.approx(100.0) and t["history"].iloc[1] == pytest.approx(50.0)


def test_flags_and_sources():
    sales, deals, stock, marketing = small_case()
    f = core.DemandForecast(horizon=3).fit(sales, deals, stock, marketing, AS_OF)
    t = f.table_.set_index(["month", "product_group"])
    # manager ann states 900 for April in x: far above 10/month of her won deals
    assert "manager_optimistic" in t.loc[("2024-04", "x"), "flag"]
    assert "manager_optimistic" in t.loc[("2024-04", "ALL"), "flag"]
    # x: 100/month recurring + calibrated deal against 200 of stock -> short by June at the latest, flagged
    # once, in the first month short (the cumulative gap stays in stock_gap)
    x = t.xs("x", level="product_group")
    short = [m for m in x.index if "stock_short" in x.loc[m, "flag"]]
    assert len(short) == 1 and short[0] <= "2024-06" and t.loc[("2024-06", "x"), "stock_gap"] > 0
    assert (x.loc[x.index >= short[0], "stock_gap"] > 0).all()
    # y: 5000 of stock for 50/month -> overstock (said in the first month), never short
    assert ["overstock" in t.loc[(m, "y"), "flag"] for m in ("2024-04", "2024-05", "2024-06")] == [True, False, False]
    assert (t.xs("y", level="product_group")["stock_gap"] == 0).all()
    # marketing 160 vs 150 + deals: close enough in May/June, far off in April when the deal is big
    assert "no_marketing" not in t.loc[("2024-04", "x"), "flag"]
    # no past marketing months: the stated prior weight, uncorrected
    assert f.weights_["marketing"] == pytest.approx(f.marketing_prior_weight)
    assert f.weights_["bottom_up"] + f.weights_["history_total"] == pytest.approx(1 - f.marketing_prior_weight)
    # stated vs calibrated: overall win rate of the closed deals is 25 %
    assert t.loc[("2024-04", "x"), "pipeline"] == pytest.approx(900.0)
    assert t.loc[("2024-04", "x"), "pipeline_calibrated"] < 400
    for code in ";".join(f.table_["flag"]).split(";"):
        assert code == "" or code in fc.FLAGS


def test_missing_optional_tables_leave_columns_empty_and_flag_rows():
    sales, *_ = small_case()
    for empty in (None, pd.DataFrame()):
        f = core.DemandForecast(horizon=2).fit(sales, empty, empty, empty, AS_OF)
        t = f.table_
        for col in ("pipeline", "pipeline_calibrated", "marketing", "stock_available", "stock_gap"):
            assert t[col].isna().all(), col
        assert t["history"].notna().all() and t["reconciled"].notna().all()
        assert t["flag"].str.contains("no_deals").all() and t["flag"].str.contains("no_marketing").all()
        assert t["flag"].str.contains("no_stock_data").all()
        codes = {n["code"] for n in f.notes_}
        assert {"no_deals", "no_marketing", "no_stock_data"} <= codes


def test_past_marketing_months_are_measured_and_weighted():
    sales, deals, stock, _ = small_case()
    m = pd.date_range("2023-01-01", "2024-06-01", freq="MS")
    marketing = pd.DataFrame({"month": m, "product_group": pd.array([None] * len(m), dtype="string"),
                              "amount": 165.0 + 10 * np.sin(np.arange(len(m)))})  # ≈ 1.1 × actual, noisy
    f = core.DemandForecast(horizon=3).fit(sales, deals, stock, marketing, AS_OF)
    assert f.marketing_factor_ == pytest.approx(150 / 165, rel=0.02)
    assert 0 < f.weights_["marketing"] < 1 and sum(f.weights_.values()) == pytest.approx(1)
    e = f.source_errors().set_index("source")
    assert {"history", "pipeline", "pipeline_calibrated", "bottom_up", "marketing", "marketing_corrected",
            "reconciled"} <= set(e.index)
    assert e.loc["marketing", "bias"] == pytest.approx(0.1, abs=0.02)
    assert abs(e.loc["marketing_corrected", "bias"]) < 0.02


def test_total_source_takes_the_weight_when_groups_hide_the_trend():
    # two groups swing against each other at random; their sum is a clean line 200 + 4t
    m = pd.date_range("2021-01-01", periods=36, freq="MS")
    t = np.arange(36)
    swing = np.random.default_rng(1).normal(0.0, 30.0, 36)
    sales = pd.concat([pd.DataFrame({"date": m, "client_id": "a", "product_group": "x", "amount": 100 + 2 * t + swing}),
                       pd.DataFrame({"date": m, "client_id": "b", "product_group": "y", "amount": 100 + 2 * t - swing})])
    f = core.DemandForecast(horizon=3).fit(sales, as_of="2024-01-01")
    # the total's backtest error is ~0 and the groups' is not: the total takes the weight up to the cap
    e = f.source_errors().set_index("source")
    assert e.loc["history_total", "mape"] < 0.01 < e.loc["bottom_up", "mape"]
    assert f.weights_["history_total"] > 0.8 and f.weights_["marketing"] == 0.0
    alls = f.detail_.loc[f.detail_["product_group"] == core.ALL, "reconciled"].to_numpy()
    truth = 200 + 4 * np.arange(36, 39)
    assert np.abs(alls / truth - 1).max() < 0.02
    # the total is split over the groups ∝ bottom-up, so ALL stays the sum of the groups
    g = f.detail_.loc[f.detail_["product_group"] != core.ALL].groupby("month")[["history_total", "reconciled"]].sum()
    a = f.detail_.loc[f.detail_["product_group"] == core.ALL].set_index("month")
    assert np.allclose(g["history_total"], a["history_total"]) and np.allclose(g["reconciled"], a["reconciled"])


def test_no_backtest_of_the_total_leaves_it_out():
    m = pd.date_range("2023-11-01", periods=4, freq="MS")
    sales = pd.DataFrame({"date": m, "client_id": "a", "product_group": "x", "amount": 10.0})
    f = core.DemandForecast(horizon=2).fit(sales, as_of="2024-03-01")
    assert f.weights_ == {"bottom_up": 1.0, "history_total": 0.0, "marketing": 0.0}


# ---------------------------------------------------------------------------------------------
# invariant: ALL == sum of groups, for any case
# ---------------------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    levels=st.lists(st.floats(0, 500), min_size=1, max_size=3),
    n_months=st.integers(3, 30),
    deal_amounts=st.lists(st.floats(1, 1000), min_size=0, max_size=6),
    probs=st.lists(st.floats(0, 1), min_size=6, max_size=6),
    with_stock=st.booleans(), with_marketing=st.booleans(), horizon=st.integers(1, 4),
)
def test_all_equals_sum_of_groups(levels, n_months, deal_amounts, probs, with_stock, with_marketing, horizon):
    groups = {f"g{i}": v for i, v in enumerate(levels)}
    sales = monthly_sales(groups, start=(pd.Timestamp(AS_OF) - pd.DateOffset(months=n_months)).strftime("%Y-%m-%d"),
                          months=n_months)
    rows = []
    for i, a in enumerate(deal_amounts):
        rows.append((f"d{i}", "c1", a, probs[i], "s" if i % 2 else "t", ["open", "won", "lost"][i % 3],
                     ["2024-03", "2024-04", "2024-05"][i % 3], [None, "g0", "new"][i % 3], "m", "2024-02-10"))
    deals = deals_frame(rows) if rows else None
    stock = pd.DataFrame({"product_group": pd.array(list(groups)[:1], dtype="string"), "on_hand": [300.0],
                          "incoming": [0.0]}) if with_stock else None
    marketing = pd.DataFrame({"month": fc.forecast_months(AS_OF, horizon),
                              "product_group": pd.array([None] * horizon, dtype="string"),
                              "amount": [sum(levels) * 1.1] * horizon}) if with_marketing else None
    t = core.forecast_table(sales, deals, stock, marketing, AS_OF, {"horizon": horizon})
    assert tuple(t.columns) == OUTPUTS["forecast.csv"] + OUTPUT_EXTRAS["forecast.csv"]
    is_all = t["product_group"] == "ALL"
    assert is_all.sum() == horizon
    iv = t.dropna(subset=["reconciled_low", "reconciled_high"])  # no interval where nothing was measured
    assert (iv["reconciled_low"] <= iv["reconciled"] + 1e-9).all() and (iv["reconciled"] <= iv["reconciled_high"] + 1e-9).all()
    assert (iv["reconciled_low"] >= 0).all() and t.loc[t["reconciled"].isna(), "reconciled_low"].isna().all()
    for col in ("pipeline", "pipeline_calibrated", "history", "marketing", "reconciled", "stock_available",
                "stock_gap"):
        g = t.loc[~is_all].groupby("month")[col].sum(min_count=1)
        a = t.loc[is_all].set_index("month")[col]
        np.testing.assert_allclose(g.reindex(a.index).to_numpy(dtype="float64"), a.to_numpy(dtype="float64"),
                                   rtol=1e-9, atol=1e-6, err_msg=col)
    assert (t["reconciled"].dropna() >= 0).all() and (t["stock_gap"].dropna() >= 0).all()


# ---------------------------------------------------------------------------------------------
# texts and charts
# ---------------------------------------------------------------------------------------------
def test_every_flag_and_note_has_russian_and_english_text():
    import re
    from pathlib import Path

    from kbanalysis.deliverables.i18n import _texts

    texts = _texts()
    src = Path(fc.__file__).read_text(encoding="utf-8")
    notes = set(re.findall(r'notes\.add\("([a-z_]+)"', src))
    for key in [f"forecast.flag.{c}" for c in fc.FLAGS] + [f"forecast.note.{c}" for c in notes]:
        assert texts[key]["ru"] and texts[key]["en"], key
        assert texts[key]["en"].isascii(), key
    assert fc.flag_text("stock_short;overstock", "ru").startswith("дефицит")
    sales, deals, stock, marketing = small_case()
    f = core.DemandForecast(horizon=3).fit(sales, deals, stock, marketing, AS_OF)
    for n in f.notes_:
        assert "{" not in fc.note_text(n, "ru") and "{" not in fc.note_text(n, "en")


def test_charts_return_axes_with_conclusions_and_leave_pyplot_alone():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kbanalysis.forecast import plots as pf

    sales, deals, stock, marketing = small_case()
    f = core.DemandForecast(horizon=3).fit(sales, deals, stock, marketing, AS_OF)
    before = plt.get_fignums()
    axes = [pf.forecast_fan(f.series_, f.history_.forecast_, f.detail_),
            pf.forecast_fan(f.series_, f.history_.forecast_, f.detail_, group="x", lang="en"),
            pf.sources_by_month(f.detail_), pf.sources_by_month(f.table_, group="y", lang="en"),
            pf.calibration_chart(deals, by="stage"), pf.calibration_chart(deals, by="manager", lang="en"),
            pf.calibration_chart(deals, by=None), pf.history_fan(f), pf.calibration_plot(deals),
            pf.stock_cover(f.table_)]
    for ax in axes:
        assert ax.get_title() and "forecast." not in ax.get_title()
    assert "Дефицит" in axes[-1].get_title()
    assert plt.get_fignums() == before
    # an axes passed in is drawn on and returned
    fig, ax = plt.subplots()
    assert pf.stock_cover(f.table_, ax=ax) is ax
    plt.close(fig)
    # no data: still a titled chart, no error
    empty = f.table_.assign(stock_available=np.nan, stock_gap=np.nan)
    assert pf.stock_cover(empty).get_title()
    assert pf.calibration_chart(deals.iloc[:0]).get_title()


def test_deals_not_traceable_in_sales_are_not_added_twice():
    # won deals whose sales cannot be found: history keeps them, so the calibrated pipeline is a
    # check only and reconciled == history
    sales, deals, stock, _ = small_case()
    f = core.DemandForecast(horizon=3).fit(sales, deals, stock, None, AS_OF)
    assert f.deal_share_ == 1.0 and f.matches_["method"].eq("doc_id").all()
    d = f.detail_
    np.testing.assert_allclose(d["bottom_up"], d["history"] + d["pipeline_calibrated"])
    w = f.weights_
    np.testing.assert_allclose(d["reconciled"], w["bottom_up"] * d["bottom_up"] + w["history_total"] * d["history_total"])
    bare, *_ = small_case(deal_sales=False)
    f0 = core.DemandForecast(horizon=3).fit(bare, deals, stock, None, AS_OF)
    assert f0.deal_share_ == 0.0
    d0 = f0.detail_
    np.testing.assert_allclose(d0["bottom_up"], d0["history"])
    assert any(n["code"] == "deals_partly_in_sales" for n in f0.notes_)


def test_shrunk_weights_short_backtest_near_equal_and_no_source_takes_all():
    from kbanalysis.forecast.reconcile import ShrunkInverseMSE

    m = ShrunkInverseMSE(shrink_points=12, prior_weight=0.2, cap=0.9)
    # one month of backtest: close to equal although b looks 100 times worse
    w1 = m.weights({"a": 1.0, "b": 100.0}, n=1)
    assert 0.5 < w1["a"] < 0.6 and w1["a"] + w1["b"] == pytest.approx(1.0)
    # a long backtest: the far worse source still keeps at least 1 - cap
    w2 = m.weights({"a": 1.0, "b": 100.0}, n=1000)
    assert w2["a"] == pytest.approx(0.9) and w2["b"] == pytest.approx(0.1)
    # a source with no past gets the prior weight; nothing measured: equal
    assert m.weights({"a": 4.0, "b": 4.0, "m": np.nan}, n=24) == pytest.approx({"a": 0.4, "b": 0.4, "m": 0.2})
    assert m.weights({"a": np.nan, "b": np.nan}) == {"a": 0.5, "b": 0.5}


def test_interval_from_the_groups_own_past_errors_and_pooled_when_few():
    """Hand-checked: group x has 10 past errors -0.30, -0.25 .. 0.15, without sign 0, 0.05, 0.05, 0.10, 0.10,
    0.15, 0.15, 0.20, 0.25, 0.30 (its own finite-sample 80 % quantile: the ⌈11 × 0.8⌉ = 9th smallest, 0.25);
    group y only 2 (pooled over x and y, 12 errors: the ⌈13 × 0.8⌉ = 11th, 0.50); ALL the reconciled
    total's (all 0)."""
    e = pd.DataFrame({"product_group": ["x"] * 10 + ["y"] * 2 + ["ALL"] * 10,
                      "error": list(np.linspace(-0.3, 0.15, 10)) + [0.5, 0.5] + [0.0] * 10})
    d = pd.DataFrame({"product_group": ["x", "y", "ALL"], "reconciled": [100.0, 100.0, 200.0]})
    out = core.with_intervals(d, e).set_index("product_group")
    assert out.loc["x", "reconciled_low"] == pytest.approx(75.0)
    assert out.loc["x", "reconciled_high"] == pytest.approx(125.0)
    assert out.loc["y", "reconciled_low"] == pytest.approx(50.0)
    assert out.loc["y", "reconciled_high"] == pytest.approx(150.0)
    assert out.loc["ALL", ["reconciled_low", "reconciled_high"]].tolist() == [200.0, 200.0]


def test_interval_of_a_one_sided_past_reaches_both_ways():
    """A short backtest whose errors all have one sign (a growing history, under-forecast at each origin)
    still gives an interval that reaches below the forecast as far as above it: nine errors 0.05, 0.06875 ..
    0.20, the ⌈10 × 0.8⌉ = 8th smallest is 0.18125."""
    e = pd.DataFrame({"product_group": "x", "error": np.linspace(0.05, 0.2, 9)})
    out = core.with_intervals(pd.DataFrame({"product_group": ["x"], "reconciled": [100.0]}), e)
    low, high = out.loc[0, "reconciled_low"], out.loc[0, "reconciled_high"]
    assert low == pytest.approx(81.875) and high == pytest.approx(118.125)


def test_conformal_quantile_covers_on_a_short_backtest():
    """Property: on exchangeable errors, a new error falls inside [q(0.1), q(0.9)] at least ~80 % of the time
    even when only 12 past errors are known (the plain empirical quantiles cover about 73 %)."""
    rng = np.random.default_rng(0)
    hits = plain = 0
    for _ in range(4000):
        past, new = rng.normal(size=12), rng.normal()
        hits += core.conformal_quantile(past, 0.1) <= new <= core.conformal_quantile(past, 0.9)
        lo, hi = np.quantile(past, [0.1, 0.9])
        plain += lo <= new <= hi
    assert hits / 4000 >= 0.79 and plain / 4000 < 0.76


def test_stock_risk_is_milder_than_stock_short():
    """Stock 100: demand 40 + 40 is covered, but the upper ends 55 + 55 are not -> stock_risk in month 2;
    demand 60 + 60 -> stock_short in month 2 (never both)."""
    base = pd.DataFrame({"month": pd.to_datetime(["2024-04-01", "2024-05-01"]), "product_group": "x",
                         "stock_available": 100.0, "overstock": False, "marketing": np.nan, "bottom_up": np.nan,
                         "_all": 0})
    risky = base.assign(reconciled=[40.0, 40.0], reconciled_high=[55.0, 55.0], stock_gap=[0.0, 0.0])
    short = base.assign(reconciled=[60.0, 60.0], reconciled_high=[70.0, 70.0], stock_gap=[0.0, 20.0])
    kw = dict(has_deals=False, open_deals=False, disagreement=0.25)
    f1 = core.forecast_flags(risky, pd.DataFrame(), None, **kw).tolist()
    f2 = core.forecast_flags(short, pd.DataFrame(), None, **kw).tolist()
    assert "stock_risk" not in f1[0] and "stock_risk" in f1[1] and "stock_short" not in f1[1]
    assert "stock_short" in f2[1] and "stock_risk" not in f2[1]


def test_flags_only_where_the_money_matters():
    """flag_share 5 %: a row of 1000 is flagged for a shortage of 50 but not of 49, for an optimistic
    manager's overstatement of 50 but not of 10; ALL (2000) sums the groups': 60 of overstatement and a
    shortage of 99 stay under its 100."""
    d = pd.DataFrame({"month": [1, 1, 1], "product_group": ["x", "y", "ALL"], "_all": [0, 0, 1],
                      "reconciled": [1000.0, 1000.0, 2000.0], "reconciled_high": [1000.0, 1000.0, 2000.0],
                      "stock_available": [951.0, 950.0, 1901.0], "stock_gap": [49.0, 50.0, 99.0],
                      "overstock": False, "marketing": [1000.0, 1000.0, 2000.0],
                      "bottom_up": [1000.0, 1000.0, 2000.0]})
    over = pd.Series({(1, "x"): 10.0, (1, "y"): 50.0})
    kw = dict(has_deals=True, open_deals=True, disagreement=0.25)
    alloc = pd.DataFrame({"product_group": ["x", "y"]})
    f = core.forecast_flags(d, alloc, over, flag_share=0.05, **kw).tolist()
    assert "stock_short" not in f[0] and "manager_optimistic" not in f[0]
    assert "stock_short" in f[1] and "manager_optimistic" in f[1]
    assert f[2] == ""
    f0 = core.forecast_flags(d, alloc, over, flag_share=0.0, **kw).tolist()
    assert all("stock_short" in x and "manager_optimistic" in x for x in f0)


def test_month_axes_speak_the_report_language():
    """A forecast chart's months read 10.2024 in Russian and 2024-10 in English (they read 2024-10 in both, #23)."""
    import matplotlib.pyplot as plt

    from kbanalysis.deliverables.style import month_ticks

    for lang, want in (("ru", "10.2024"), ("en", "2024-10")):
        fig, ax = plt.subplots()
        ax.plot(pd.to_datetime(["2024-09-01", "2024-10-01", "2024-11-01"]), [1, 2, 3])
        month_ticks(ax.xaxis, lang)
        fig.canvas.draw()
        assert want in [x.get_text() for x in ax.get_xticklabels()]
        plt.close(fig)


def test_an_empty_total_interval_is_explained():
    """Online Retail at 2011-09-01 gives the reconciled total 3 past errors: its interval stays empty and a
    note says why, quoting the count and the minimum (#20, #23)."""
    from kbanalysis.forecast import core
    from kbanalysis.forecast.model import note_text

    short = pd.DataFrame({"product_group": ["ALL"] * 3 + ["x"] * 9, "error": [0.1, -0.1, 0.0] + [0.05] * 9})
    notes = core.interval_notes(short)
    assert notes == [{"code": "total_interval_short", "n": 3, "min_points": core.MIN_POINTS}]
    assert f"{core.MIN_POINTS} at least" in note_text(notes[0], "en") and "3 of them" in note_text(notes[0], "en")
    d = core.with_intervals(pd.DataFrame({"product_group": ["ALL"], "reconciled": [100.0]}), short)
    assert d["reconciled_low"].isna().all()
    assert core.interval_notes(short.assign(product_group="ALL")) == []  # 12 errors: the interval is drawn
