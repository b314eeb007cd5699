"""The forecast stage as one call, until notebook 04 walks through its steps as 01, 02, 03 and 05 do.

Notebooks 01-05 otherwise call the functions of their stage's part step by step and hand results
to each other only through the run folder (``work/audit.parquet``, ``work/wallet.parquet``, ...).
``forecast`` -> ``forecast.csv``, ``forecast_errors.csv``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from kbanalysis.contract import check_output
from kbanalysis.schema import OUTPUTS
from kbanalysis.run.workbook import SALES_CORE as W_SALES_CORE, SALES_LABELS as W_SALES_LABELS, Workbook


@dataclass
class Result:
    """What a stage returns to its notebook: named tables and the facts its texts quote."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


SALES_CORE, SALES_LABELS = list(W_SALES_CORE), W_SALES_LABELS


# ----------------------------------------------------------------------------------------------
# 04 forecast
# ----------------------------------------------------------------------------------------------
def forecast(wb: Workbook) -> Result:
    """Pipeline, calibration, statistical forecast, marketing, reconciliation, stock."""
    from kbanalysis.forecast import model as F

    p = wb.params
    sales = wb.table("sales", columns=SALES_CORE + ["doc_id"], labels=SALES_LABELS)
    deals, stock, marketing = wb.table("deals"), wb.table("stock"), wb.table("marketing")
    model = F.DemandForecast.from_params(p).fit(sales, deals, stock, marketing, wb.as_of)
    table = model.table_
    wb.rf.write_csv("forecast.csv", check_output("forecast.csv", table[list(OUTPUTS["forecast.csv"])]))
    errors = model.source_errors()
    wb.rf.write_csv("forecast_errors.csv", errors)
    rates = model.rates_ if deals is not None else None
    managers = F.manager_calibration(deals) if deals is not None else None
    notes = [F.note_text(n, wb.lang, wb.currency) for n in model.notes_]
    alls = table.loc[table["product_group"] == "ALL"]
    flagged = table.loc[table["flag"].fillna("") != ""]
    facts = {"horizon": p["horizon"], "has_deals": deals is not None, "has_stock": stock is not None,
             "has_marketing": marketing is not None,
             "reconciled": wb.money(alls["reconciled"].sum()),
             "pipeline": wb.money(alls["pipeline"].sum(min_count=1)),
             "pipeline_calibrated": wb.money(alls["pipeline_calibrated"].sum(min_count=1)),
             "history": wb.money(alls["history"].sum()), "n_flagged": len(flagged),
             "stock_gap": wb.money(table.loc[table["product_group"] != "ALL"].groupby("product_group")[
                 "stock_gap"].max().sum()) if stock is not None else "—"}
    shown = errors.assign(target=errors["source"].map(lambda x: wb.t(f"nb.forecast.target.{x}")),
                          source=errors["source"].map(lambda x: wb.t(f"forecast.source.{x}")))
    return Result(tables={"forecast": table, "errors": shown, "stage_rates": rates, "managers": managers,
                          "flagged": flagged}, facts=facts,
                  extra={"model": model, "deals": deals, "notes": notes})
