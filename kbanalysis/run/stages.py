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
    facts = forecast_facts(wb, table, deals is not None, stock is not None, marketing is not None)
    shown = errors.assign(target=errors["source"].map(lambda x: wb.t(f"nb.forecast.target.{x}")),
                          source=errors["source"].map(lambda x: wb.t(f"forecast.source.{x}")))
    view = material_flags(table)
    columns = [c for c in view.columns if c == "flag" or view[c].notna().any()]  # no column of a source the case lacks
    return Result(tables={"forecast": view, "shown": view[columns], "errors": shown, "stage_rates": rates,
                          "managers": managers, "flagged": view.loc[view["flag"] != "", columns]}, facts=facts,
                  extra={"model": model, "deals": deals, "notes": notes})


#: the forecast flags that ask a person to look at a row; the others say a source is absent, which the
#: notes of the run say once (``no_stock_data``, ``no_deals``, ``no_marketing``)
MATERIAL_FLAGS = ("sources_disagree", "stock_short", "overstock", "manager_optimistic")


def material_flags(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (``forecast.csv``'s rows) with its ``flag`` codes cut to :data:`MATERIAL_FLAGS`: what the report
    shows and counts as needing a look (``forecast.csv`` keeps every code).

    >>> material_flags(pd.DataFrame({"flag": ["no_deals;stock_short", "no_stock_data", None]}))["flag"].tolist()
    ['stock_short', '', '']
    """
    codes = table["flag"].astype("string").fillna("").str.split(";")
    return table.assign(flag=codes.map(lambda cs: ";".join(c for c in cs if c in MATERIAL_FLAGS)).astype("string"))


def forecast_facts(wb: Workbook, table: pd.DataFrame, has_deals: bool, has_stock: bool, has_marketing: bool) -> dict:
    """The figures notebook 04's texts quote (money formatted in the run's language) and the phrases naming
    only the sources the case has: ``sources`` (the title's) and ``method`` (each source with its total);
    ``n_sources`` how many there are, ``n_flagged`` the rows with a :data:`MATERIAL_FLAGS` flag."""
    alls = table.loc[table["product_group"] == "ALL"]
    groups = table.loc[table["product_group"] != "ALL"]
    money = {c: wb.money(alls[c].sum(min_count=1)) if c in alls else "—"
             for c in ("pipeline", "pipeline_calibrated", "history", "marketing", "reconciled")}
    has = {"deals": has_deals, "history": True, "stock": has_stock, "marketing": has_marketing}
    parts = [k for k, ok in (("pipeline", has_deals), ("calibrated", has_deals and
                                                         alls["pipeline_calibrated"].notna().any()),
                             ("history", True), ("marketing", has_marketing and alls["marketing"].notna().any()))
             if ok]
    flagged = material_flags(table)["flag"].fillna("") != ""
    return {"horizon": wb.params["horizon"], "has_deals": has_deals, "has_stock": has_stock,
            "has_marketing": has_marketing, **money, "n_flagged": int(flagged.sum()), "n_sources": len(parts),
            "sources": _listed([wb.t(f"nb.forecast.src.{k}") for k, ok in has.items() if ok], wb),
            "method": "; ".join(wb.t(f"nb.forecast.part.{k}", **money) for k in parts),
            "stock_gap": wb.money(groups.groupby("product_group")["stock_gap"].max().sum()) if has_stock else "—"}


def _listed(items: list[str], wb: Workbook) -> str:
    return ", ".join(items[:-1]) + wb.t("nb.forecast.src.and") + items[-1] if len(items) > 1 else "".join(items)
