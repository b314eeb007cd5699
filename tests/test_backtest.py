"""The backtest functions on tiny fixtures, and the online-retail backtest on the real data (skipped without it).

The real-data test calls the package functions directly (load_case + audit_table + forecast_table at
2011-09-01, ~10-15 s) rather than a full notebook run, and checks that the workbook's `lost` rule is right
more often than the plain rule the issue quotes (0.43).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kbanalysis.run import backtest as B


# ------------------------------------------------------------------ pure functions
def test_plain_rule_counts_invoices_not_lines_and_needs_three():
    s = pd.DataFrame({
        "client_id": ["a", "a", "a", "a", "b", "b", "c", "c", "c"],
        "date": pd.to_datetime(["2011-01-01", "2011-01-01", "2011-02-01", "2011-03-01",
                                "2011-01-01", "2011-02-01",
                                "2011-08-01", "2011-08-10", "2011-08-20"]),
        "doc_id": ["1", "1", "2", "3", "4", "5", "6", "7", "8"], "amount": 1.0})
    r = B.plain_lost_rule(s, "2011-09-01").set_index("client_id")
    assert r.loc["a", "invoices"] == 3 and r.loc["a", "lost"]          # 184 days silent > max(60, 3 x 29.5)
    assert not r.loc["b", "lost"]                                       # two invoices: no rhythm, never flagged
    assert not r.loc["c", "lost"]                                       # 12 days silent


def test_plain_rule_threshold_is_strict_and_at_least_min_days():
    # weekly buyer: 3 x 7 = 21 < 60, so the 60-day floor applies; 60 days silent is not lost, 61 is
    d = pd.to_datetime(["2011-05-01", "2011-05-08", "2011-05-15"])
    s = pd.DataFrame({"client_id": ["a"] * 3 + ["b"] * 3, "date": list(d) + list(d - pd.Timedelta(days=1)),
                      "doc_id": list("123456"), "amount": 1.0})
    as_of = pd.Timestamp("2011-05-15") + pd.Timedelta(days=60)
    r = B.plain_lost_rule(s, as_of).set_index("client_id")
    assert r.loc["a", "days_silent"] == 60 and not r.loc["a", "lost"]
    assert r.loc["b", "days_silent"] == 61 and r.loc["b", "lost"]


def test_lost_precision_and_returned_window():
    lines = pd.DataFrame({"client_id": ["a", "b", "c", "d"],
                          "date": pd.to_datetime(["2011-08-31", "2011-09-01", "2011-11-30", "2011-12-01"])})
    back = B.returned_clients(lines, "2011-09-01", "2011-11-30")
    assert list(back) == ["b", "c"]
    p = B.lost_precision(["a", "b", "d", "d"], back)
    assert p == {"n_flagged": 3, "n_returned": 1, "n_not_returned": 2, "precision": 2 / 3}
    assert np.isnan(B.lost_precision([], back)["precision"])


def test_forecast_accuracy_uses_all_rows_only():
    fc = pd.DataFrame({"month": ["2011-09", "2011-09", "2011-10", "2011-10"],
                       "product_group": ["x", "ALL", "x", "ALL"], "history": [1.0, 100.0, 1.0, 100.0]})
    act = pd.DataFrame({"month": ["2011-09", "2011-10"], "actual": [50.0, 200.0]})
    r = B.forecast_accuracy(fc, act)
    assert r["history"].tolist() == [100.0, 100.0]
    assert r["history_pct_error"].tolist() == [1.0, -0.5]
    assert r.attrs["summary"]["history"]["wape"] == pytest.approx(150 / 250)


def test_ranking_quality_perfect_random_and_reversed():
    r = pd.DataFrame({"client_id": [f"c{i}" for i in range(20)], "score": np.arange(20, 0, -1.0)})
    top = [f"c{i}" for i in range(5)]
    good = B.ranking_quality(r, top)
    assert good["auc"] == 1.0 and good["share_top"] == 1.0 and good["spearman"] > 0
    bad = B.ranking_quality(r, [f"c{i}" for i in range(15, 20)])
    assert bad["auc"] == 0.0 and bad["share_top"] == 0.0 and bad["spearman"] < 0
    v = B.ranking_quality(r, top, value=pd.Series({"c0": 30.0, "c19": 10.0}))
    assert v["value_share_top"] == 0.75


def test_missing_real_data_is_reported_not_raised(tmp_path):
    res = B.online_retail_backtest(tmp_path)
    assert not res.available and "not found" in res.message
    assert "not run" in res.text()


# ------------------------------------------------------------------ the real backtest
@pytest.fixture(scope="module")
def real():
    root = B.real_data_dir()
    if not (root / B.RETAIL_RAW).exists() or not (root / B.RETAIL_CASE / "sales.csv").exists():
        pytest.skip(f"real data absent: {root / B.RETAIL_RAW} (set KBANALYSIS_REAL_DATA to ../shared/real-data)")
    res = B.online_retail_backtest(root)
    assert res.available
    return res


def test_workbook_lost_beats_the_plain_rule(real):
    lw, lp = real.figures["lost"]["workbook"], real.figures["lost"]["plain_rule"]
    print(f"\nlost precision: workbook {lw['precision']:.3f} ({lw['n_not_returned']}/{lw['n_flagged']}), "
          f"plain rule {lp['precision']:.3f} ({lp['n_not_returned']}/{lp['n_flagged']})")
    assert lp["precision"] == pytest.approx(0.43, abs=0.02), "the plain rule as the issue measured it"
    assert lw["n_flagged"] > 0
    assert lw["precision"] > lp["precision"]
    # the bases order the risk: the longer the silence the workbook reads, the fewer come back
    share = real["by_base"].set_index("base")["not_returned_share"]
    assert share["active"] < share["sleeping"] < share["lost"]


def test_history_forecast_against_real_months(real):
    f = real["forecast"]
    print("\n" + f[["month", "history", "actual", "history_pct_error"]].to_string(index=False))
    assert f["month"].tolist() == ["2011-09", "2011-10", "2011-11"]
    assert f["history"].notna().all() and (f["history"] > 0).all()
    assert (f["actual"] > 0).all()


def test_reactivation_ranking_figures(real):
    r = real["ranking"].set_index("list")
    print("\n" + real["ranking"].to_string(index=False))
    every = r.loc["every lost client"]
    assert every["n"] >= 0.9 * real.figures["lost"]["workbook"]["n_flagged"], "every lost client with a sale is ranked"
    assert 0 <= every["auc"] <= 1 and 0 <= every["share_top"] <= 1
