"""The stages of the workbook: each runs its area's functions on the run's tables and writes its outputs.

A notebook calls one stage function (``audit``, ``turnover``, ``forecast``) and then shows the
parts of the result it returns, one table or chart per cell. The stages hand results to each other
only through the run folder:

* ``audit``     -> ``work/audit.parquet``, ``duplicates.csv``, ``lost_clients.csv``, ``quality_issues.csv``
* ``turnover``  -> ``work/wallet.parquet``, ``wallet_groups.csv``
* ``forecast``  -> ``forecast.csv``, ``forecast_errors.csv``

Notebooks 03-segments and 05-summary call the functions of :mod:`kbanalysis.segments` and
:mod:`kbanalysis.deliverables.summary` step by step (``work/segments.parquet``, ``actions.csv``;
``clients.csv``, ``summary.json``, ``audit.xlsx``).

Duplicate cards are analysed as one client: from the audit on, sales, survey answers and
contacts of a duplicate card count for its master card (``merged_into`` in ``clients.csv``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kbanalysis.sales import engine as aggregate
from kbanalysis.contract import check_output
from kbanalysis.io.case import empty_issues
from kbanalysis.io.runfolder import write_table_csv
from kbanalysis.schema import BASES, LOYALTY, OUTPUTS
from kbanalysis.run.workbook import SALES_CORE as W_SALES_CORE, SALES_LABELS as W_SALES_LABELS, Workbook


@dataclass
class Result:
    """What a stage returns to its notebook: named tables and the facts its texts quote."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


# ----------------------------------------------------------------------------------------------
# shared helpers
# ----------------------------------------------------------------------------------------------
def _masters(wb: Workbook) -> pd.Series:
    return wb.masters()


def _to_master(df, to_master):
    from kbanalysis.audit.structure import _remap

    return None if df is None else _remap(df, to_master)


SALES_CORE, SALES_LABELS = list(W_SALES_CORE), W_SALES_LABELS


def master_sales(wb: Workbook, columns: list[str] | None = SALES_CORE) -> pd.DataFrame:
    return wb.master_sales(columns)


def master_cards(wb: Workbook) -> pd.DataFrame:
    return wb.master_cards()


# ----------------------------------------------------------------------------------------------
# 01 audit
# ----------------------------------------------------------------------------------------------
def audit(wb: Workbook) -> Result:
    """Cleaning findings, duplicates, base structure, reactivation list, concentration."""
    from kbanalysis.audit import structure as A
    from kbanalysis.audit import cleaning

    p = wb.params
    clients, contacts = wb.table("clients"), wb.table("contacts")
    sales = wb.table("sales", columns=SALES_CORE + ["manager"], labels=SALES_LABELS + ("manager",))
    per_client, findings, dups, lost = A.audit_table(clients, sales, contacts, wb.as_of, p)
    wb.rf.write_work("audit", per_client)
    load_issues = wb.rf.read_work("load_issues")
    issues = pd.concat([x for x in (load_issues, findings) if len(x)], ignore_index=True) if (
        len(load_issues) or len(findings)) else empty_issues()
    issues = issues[list(OUTPUTS["quality_issues.csv"])].sort_values(
        ["table", "row", "issue", "client_id"], kind="mergesort", na_position="first", ignore_index=True)
    wb.rf.write_csv("quality_issues.csv", check_output("quality_issues.csv", issues))
    wb.rf.write_csv("duplicates.csv", check_output("duplicates.csv", dups[list(OUTPUTS["duplicates.csv"])]))
    lost_out = check_output("lost_clients.csv", lost[list(OUTPUTS["lost_clients.csv"])]).sort_values(
        "priority", kind="mergesort")
    p_ = wb.rf.path / "lost_clients.csv"  # best first (the contract's reactivation order)
    write_table_csv(lost_out, p_)

    masters = per_client.loc[per_client["merged_into"].isna()]
    rev = masters.set_index("client_id")["revenue_12m"].fillna(0.0)
    names = clients.set_index("client_id")["name"]
    comp = cleaning.card_completeness(clients, wb.drivers)
    by_manager = cleaning.completeness_by_manager(clients, comp)
    counts = issues.groupby("issue", sort=True).size().rename("count").reset_index().sort_values(
        "count", ascending=False, kind="mergesort", ignore_index=True)
    base_counts = (masters.groupby("base").agg(clients=("client_id", "size"), revenue_12m=("revenue_12m", "sum"))
                   .reindex(list(BASES)).fillna(0).reset_index())
    base_counts["clients"] = base_counts["clients"].astype(int)
    pos = rev[rev > 0]
    facts = {
        "n_cards": len(per_client), "n_dups": len(dups), "n_issues": len(issues),
        "n_invalid_inn": int((issues["issue"] == "invalid_inn").sum()),
        "n_invalid_phone": int((issues["issue"] == "invalid_phone").sum()),
        "n_lost": int((masters["base"] == "lost").sum()), "n_lost_regular": len(lost),
        "lost_money": wb.money(lost["avg_month_revenue"].sum()) if len(lost) else wb.money(0),
        "pareto": wb.pct(A.pareto_share(pos)) if len(pos) else "—",
        "hhi": f"{A.hhi(pos):.3f}" if len(pos) else "—",
        "n_key": int(masters["key_account"].isin(["key", "critical", "mono"]).sum()),
        "top_share": wb.pct(float(pos.max() / pos.sum())) if len(pos) else "—",
        "revenue": wb.money(rev.sum()),
    }
    for b in BASES:
        facts[f"n_{b}"] = int((masters["base"] == b).sum())
    dshow = dups.merge(names.rename("name").reset_index(), on="client_id", how="left").merge(
        names.rename("name_of").rename_axis("duplicate_of").reset_index(), on="duplicate_of", how="left")
    lshow = lost.merge(names.rename("name").reset_index(), on="client_id", how="left")
    return Result(
        tables={"per_client": per_client, "issues": issues, "issue_counts": counts, "duplicates": dshow,
                "lost": lshow, "base_counts": base_counts, "completeness": by_manager, "revenue": rev.to_frame()},
        facts=facts, extra={"revenue": rev, "names": names})


# ----------------------------------------------------------------------------------------------
# 02 turnover
# ----------------------------------------------------------------------------------------------
def turnover(wb: Workbook) -> Result:
    """Wallet, share of wallet, loyalty, up-sale / cross-sale and plans, on master cards."""
    from kbanalysis.wallet import model as W

    p = dict(wb.params)
    p["drivers"] = p["drivers"] or wb.drivers
    cards = master_cards(wb)
    sales = master_sales(wb)
    summary = aggregate.client_summary(sales, wb.as_of)
    groups = aggregate.client_groups(sales, wb.as_of)
    survey = _to_master(wb.table("survey"), _masters(wb))
    a = wb.rf.read_work("audit")
    base = a.loc[a["merged_into"].isna(), ["client_id", "base"]]
    est = W.WalletEstimator(drivers=p["drivers"], quantile=p["wallet_quantile"], manager_bias=p["manager_bias"],
                            driver_norms=p["driver_norms"], seed=p["seed"]).fit(cards, summary, survey)
    per_client, per_group = W.wallet_table(cards, summary, groups, survey, base, p, estimator=est)
    wb.rf.write_work("wallet", per_client)
    wb.rf.write_csv("wallet_groups.csv", per_group)
    pc = per_client.loc[per_client["wallet_month"].notna()]
    rev_m = pc["revenue_month"].fillna(0.0) if "revenue_month" in pc else pd.Series(0.0, index=pc.index)
    loyal = pc["loyalty"].value_counts().reindex(list(LOYALTY)).fillna(0).astype(int)
    src = per_client["wallet_source"].fillna("no_estimate").value_counts().rename_axis("wallet_source").reset_index(
        name="clients")
    gaps = per_client.assign(room=per_client["upsell_month"].fillna(0) + per_client["crosssell_month"].fillna(0))
    gaps = gaps.merge(cards[["client_id", "name", "channel"]], on="client_id", how="left",
                      suffixes=("", "_card")).sort_values("room", ascending=False, kind="mergesort").head(20)
    cols = [c for c in ("client_id", "name", "channel", "wallet_month", "revenue_month", "share_of_wallet", "loyalty",
                        "upsell_month", "crosssell_month", "plan_month", "wallet_source") if c in gaps.columns]
    facts = {
        "n_wallet": len(pc), "wallet_total": wb.money(pc["wallet_month"].sum()),
        "revenue_month": wb.money(rev_m.sum()),
        "share_total": wb.pct(rev_m.sum() / pc["wallet_month"].sum()) if pc["wallet_month"].sum() > 0 else "—",
        "n_indifferent": int(loyal.get("indifferent", 0)), "n_secondary": int(loyal.get("secondary", 0)),
        "n_main": int(loyal.get("main", 0)),
        "upsell": wb.money(per_client["upsell_month"].sum()), "crosssell": wb.money(per_client["crosssell_month"].sum()),
        "plan": wb.money(per_client["plan_month"].sum()),
        "bias": wb.pct(est.manager_bias_) if getattr(est, "manager_bias_", None) is not None and np.isfinite(
            est.manager_bias_) and cards["reported_turnover"].notna().any() else "—",  # no estimates: no correction
        "has_survey": wb.has("survey"), "has_drivers": bool(p["drivers"]),
    }
    return Result(tables={"per_client": per_client, "per_group": per_group, "errors": est.errors_,
                          "sources": src, "gaps": gaps[cols]},
                  facts=facts, extra={"estimator": est})


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
