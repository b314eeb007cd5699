"""kbanalysis.deliverables.summary: clients.csv and summary.json from the stages' tables (tiny, hand-checked)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kbanalysis.contract import ContractError
from kbanalysis.deliverables import summary as sm


def _tables():
    audit = pd.DataFrame({"client_id": ["b", "a", "c"], "master_id": ["a", "a", "c"], "merged_into": ["a", None, None],
                          "base": ["active", "active", "lost"], "revenue_12m": [0.0, 120.0, 0.0],
                          "margin_12m": [0.0, 30.0, 0.0], "key_account": ["none", "key", "none"]})
    wallet = pd.DataFrame({"client_id": ["a", "c"], "wallet_month": [100.0, 50.0], "wallet_low": [80.0, 40.0],
                           "wallet_high": [120.0, 60.0], "share_of_wallet": [0.1, 0.0], "loyalty": ["secondary", None],
                           "upsell_month": [20.0, 5.0], "crosssell_month": [3.0, 1.0], "plan_month": [12.0, 2.0],
                           "wallet_source": ["survey", "lookalike"], "achievable_month": [2.0, 2.0]})
    segs = pd.DataFrame({"client_id": ["a", "c"], "abcde": ["A", None], "cluster_name": ["Big", "Prospects"]})
    return audit, wallet, segs


def test_clients_table_one_row_per_card_money_in_the_master_row():
    t = sm.clients_table(*_tables())
    assert t["client_id"].tolist() == ["a", "b", "c"]
    a, b = t.set_index("client_id").loc["a"], t.set_index("client_id").loc["b"]
    assert a["wallet_month"] == 100.0 and a["cluster"] == "Big" and a["abcde"] == "A"
    assert np.isnan(b["wallet_month"]) and np.isnan(b["upsell_month"])  # a merged card's money is in a's row
    assert b["loyalty"] == "secondary" and b["cluster"] == "Big" and b["merged_into"] == "a"
    assert list(t.columns[-3:]) == ["merged_into", "wallet_source", "achievable_month"]


def test_clients_table_checks_the_contract():
    audit, wallet, segs = _tables()
    with pytest.raises(ContractError, match="key_account"):
        sm.clients_table(audit.assign(key_account="vip"), wallet, segs)


def test_counts_and_totals_by_hand():
    t = sm.clients_table(*_tables())
    c = sm.client_counts(t)
    assert (c["cards"], c["after_merging_duplicates"]) == (3, 2)
    assert c["by_base"]["active"] == 1 and c["by_base"]["lost"] == 1
    assert c["by_class"] == {"A": 1, "B": 0, "C": 0, "D": 0, "E": 0}
    assert c["by_key_account"] == {"key": 1, "none": 1}
    fc = pd.DataFrame({"product_group": ["ALL", "ALL", "g", "g", "h"], "reconciled": [10.0, 5.0, 1, 1, 1],
                       "stock_gap": [np.nan, np.nan, 2.0, 7.0, 1.0]})
    tot = sm.money_totals(t, fc)
    # a (active) buys 120 a year: current 10 a month; c (lost): its plan is reactivation, apart
    # our share: a's 10 a month (c buys nothing) over the wallets 100 + 50
    assert tot == {"revenue_12m": 120.0, "margin_12m": 30.0, "wallet_month": 150.0, "share_of_wallet": 0.066667,
                   "upsell_month": 25.0,
                   "crosssell_month": 4.0, "plan_month": 14.0, "current_month": 10.0, "achievable_month": 2.0,
                   "ceiling_month": 23.0, "reactivation_month": 2.0, "acquisition_month": 0.0,
                   "forecast_reconciled": 15.0, "stock_gap": 8.0}
    from kbanalysis.schema import SUMMARY_TOTALS
    assert tuple(tot) == SUMMARY_TOTALS
    assert sm.money_totals(t, fc.assign(stock_gap=np.nan))["stock_gap"] is None  # no stock table
    # a client whose returns exceed its sales buys nothing now (as its plan counts it): current 0, not -1
    returns = t.assign(revenue_12m=np.where(t["client_id"] == "a", -12.0, t["revenue_12m"]))
    assert sm.money_totals(returns, fc)["current_month"] == 0.0 and sm.money_totals(returns, fc)["share_of_wallet"] == 0.0


def test_summary_data_reads_the_run_folder(tmp_path):
    t = sm.clients_table(*_tables())
    pd.DataFrame({"issue": ["invalid_inn", "invalid_inn", "invalid_phone"]}).to_csv(tmp_path / "quality_issues.csv")
    pd.DataFrame({"product_group": ["ALL"], "reconciled": [3.0], "stock_gap": [np.nan],
                  "month": ["2026-01"]}).to_csv(tmp_path / "forecast.csv", index=False)
    pd.DataFrame({"client_id": ["b"]}).to_csv(tmp_path / "duplicates.csv", index=False)
    pd.DataFrame({"client_id": ["c", "d"]}).to_csv(tmp_path / "lost_clients.csv", index=False)
    meta = {"as_of": "2026-10-01", "counts": {"sales": {"read": 9}}, "hashes": {"sales.csv": "abc"}}
    d = sm.summary_data(t, tmp_path, meta=meta, currency="RUB", params={"seed": 1})
    assert d["quality"] == {"findings": 3, "by_issue": {"invalid_inn": 2, "invalid_phone": 1}}
    assert (d["duplicates"], d["lost_regular"]) == (1, 2)
    assert d["params"] == {"seed": 1} and d["rows"] == {"sales": {"read": 9}} and d["as_of"] == "2026-10-01"
    assert d["totals"]["forecast_reconciled"] == 3.0 and d["totals"]["stock_gap"] is None
