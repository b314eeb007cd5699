"""The output schemas catch a table that breaks the contract, naming column, check and row."""
import numpy as np
import pandas as pd
import pytest

from kbanalysis.contract import ContractError, check_output
from kbanalysis.schema import OUTPUTS


def clients(**over):
    row = {"client_id": "a", "base": "active", "abcde": "A", "revenue_12m": 100.0, "margin_12m": 20.0,
           "wallet_month": 50.0, "wallet_low": 40.0, "wallet_high": 70.0, "share_of_wallet": 0.17,
           "loyalty": "main", "upsell_month": 1.0, "crosssell_month": 2.0, "plan_month": 9.0, "cluster": "x",
           "key_account": "mono"}
    row.update(over)
    return pd.DataFrame([row])[list(OUTPUTS["clients.csv"])]


def test_a_valid_row_passes():
    df = clients()
    assert check_output("clients.csv", df) is df


@pytest.mark.parametrize("over,needle", [
    ({"base": "dormant"}, "base"), ({"share_of_wallet": 1.5}, "share_of_wallet"),
    ({"loyalty": "loyal"}, "loyalty"), ({"wallet_low": 60.0}, "wallet_low<=wallet"),
    ({"key_account": None}, "key_account"), ({"abcde": "F"}, "abcde"),
])
def test_broken_values_are_named(over, needle):
    with pytest.raises(ContractError, match=needle):
        check_output("clients.csv", clients(**over))


def test_missing_values_where_allowed():
    df = clients(abcde=None, wallet_month=np.nan, wallet_low=np.nan, wallet_high=np.nan, share_of_wallet=np.nan,
                 loyalty=None, margin_12m=np.nan)
    check_output("clients.csv", df)


def test_forecast_month_form_and_gap():
    f = pd.DataFrame({"month": ["2026-10"], "product_group": ["ALL"], "pipeline": [1.0],
                      "pipeline_calibrated": [1.0], "history": [1.0], "marketing": [np.nan], "reconciled": [1.0],
                      "stock_available": [1.0], "stock_gap": [-1.0], "flag": [""]})
    with pytest.raises(ContractError, match="stock_gap"):
        check_output("forecast.csv", f)
    with pytest.raises(ContractError, match="month"):
        check_output("forecast.csv", f.assign(month="10.2026", stock_gap=0.0))
