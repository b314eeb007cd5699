"""Identifiers that say they are empty, invisible characters stuck to codes, negative deal amounts (#21)."""
from __future__ import annotations

import pandas as pd
import pytest

from kbanalysis.io.case import load_case, parse_text


@pytest.mark.parametrize("cell", ["NULL", "null", "#N/A", "N/A", "none", "NaN", "-", "—", " - ", "#REF!"])
def test_a_placeholder_is_no_client_id(cell):
    assert parse_text(pd.Series([cell, "17850"]), is_id=True).isna().tolist() == [True, False]
    assert parse_text(pd.Series([cell]), is_id=False).notna().all()  # a name or a group may say it


def test_the_large_column_path_treats_placeholders_and_boms_the_same():
    ids = pd.Series([f"C{i}" for i in range(30_000)] + ["#N/A", "\ufeffC7", "C8\u200b", "NULL"])
    out = parse_text(ids, is_id=True)
    assert out.iloc[-4:].isna().tolist() == [True, False, False, True]
    assert out.iloc[-3:-1].tolist() == ["C7", "C8"] and out.iloc[:-4].notna().all()


def test_a_case_with_placeholder_ids_bom_codes_and_negative_deals(tmp_path):
    (tmp_path / "clients.csv").write_text("client_id,name,channel\n\ufeff1,А,retail\n2,Б,dealer\nNULL,В,dealer\n",
                                          encoding="utf-8")
    (tmp_path / "sales.csv").write_text("date,client_id,product_group,amount\n2024-01-15,1\ufeff,tools,100\n"
                                        "2024-02-03,#N/A,paint,50\n2024-02-04,2,paint,70\n", encoding="utf-8")
    (tmp_path / "deals.csv").write_text("deal_id,client_id,amount,probability,stage,planned_month,status\n"
                                        "D1,1,-5000,50%,счёт,2024-05,open\nD2,2,7000,50%,счёт,2024-05,open\n",
                                        encoding="utf-8")
    case = load_case(tmp_path)
    assert case.tables["clients"]["client_id"].tolist() == ["1", "2"]
    assert case.tables["sales"]["client_id"].tolist() == ["1", "2"]  # the BOM is gone: the line is client 1's
    assert case.tables["deals"]["deal_id"].tolist() == ["D2"]
    issues = case.issues.set_index(["table", "issue"])
    assert ("clients", "missing_value") in issues.index and ("sales", "missing_value") in issues.index
    neg = case.issues.loc[(case.issues["table"] == "deals") & (case.issues["issue"] == "bad_number"), "detail"]
    assert neg.str.contains("D1").all() and neg.str.contains("negative").all() and len(neg) == 1
