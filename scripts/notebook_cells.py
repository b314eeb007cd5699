"""The cells of the workbook's notebooks (after the parameters cell), for scripts/build_notebooks.py.

Every visible word comes from kbanalysis/locale/*.yaml through `wb.say`, so that a run in `lang=en`
has no Russian in it and a run in `lang=ru` no English. One package call per cell.
"""

SETUP = """import kbanalysis as kb
wb = kb.Workbook(globals())"""

C = "code"

NOTEBOOK_CELLS = {
    "01-audit": [
        (C, SETUP + "\nfrom kbanalysis.plots import audit as charts"),
        (C, 'wb.say("nb.audit.title")'),
        (C, 'wb.show(wb.load(), ints=["read", "used", "rejected"])'),
        (C, 'wb.say("nb.audit.loaded", as_of=wb.as_of.date(), storage=wb.storage_note())'),
        (C, "res = kb.stages.audit(wb)"),
        (C, 'wb.say("nb.audit.quality", **res.facts)'),
        (C, 'wb.show(res["issue_counts"], ints=["count"], n=30)'),
        (C, 'wb.say("nb.audit.duplicates", **res.facts)'),
        (C, 'wb.show(res["duplicates"][["client_id", "name", "duplicate_of", "name_of", "reason"]])'),
        (C, 'wb.say("nb.audit.completeness")'),
        (C, 'wb.chart("completeness", charts.completeness_bars, res["completeness"])'),
        (C, 'wb.say("nb.audit.base", **res.facts)'),
        (C, 'wb.show(res["base_counts"], money=["revenue_12m"], ints=["clients"])'),
        (C, 'wb.chart("base_structure", charts.base_structure_bars, res["per_client"], currency=wb.currency)'),
        (C, 'wb.say("nb.audit.lost", **res.facts)'),
        (C, 'wb.show(res["lost"][["priority", "client_id", "name", "last_order_date", "active_months", '
            '"avg_month_revenue"]], money=["avg_month_revenue"])'),
        (C, 'wb.chart("reactivation", charts.reactivation_top, res["lost"], names=res.extra["names"], '
            'currency=wb.currency)'),
        (C, 'wb.say("nb.audit.concentration", **res.facts)'),
        (C, 'wb.chart("pareto", charts.pareto_curve, res.extra["revenue"])'),
        (C, 'wb.chart("key_accounts", charts.key_account_bars, res.extra["revenue"], names=res.extra["names"], '
            'key=wb.params["key_share"], critical=wb.params["critical_share"], mono=wb.params["mono_share"])'),
        (C, 'wb.say("nb.audit.next")'),
    ],
    "02-turnover": [
        (C, SETUP + "\nfrom kbanalysis.plots import wallet as charts"),
        (C, 'wb.say("nb.turnover.title")'),
        (C, "res = kb.stages.turnover(wb)"),
        (C, 'wb.say("nb.turnover.sources", **res.facts)'),
        (C, 'wb.show(res["sources"], ints=["clients"])'),
        (C, 'wb.say_lines(res.extra["estimator"].notes(wb.lang))'),
        (C, 'wb.show(res["errors"])'),
        (C, 'wb.chart("wallet_sources", charts.sources_compared, res.extra["estimator"].estimates_, res["errors"], '
            'currency=wb.currency)'),
        (C, 'wb.say("nb.turnover.share", **res.facts)'),
        (C, 'wb.chart("wallet_map", charts.wallet_map, res["per_client"], currency=wb.currency)'),
        (C, 'wb.chart("loyalty", charts.loyalty_bars, res["per_client"])'),
        (C, 'wb.say("nb.turnover.gaps", **res.facts)'),
        (C, 'wb.show(res["gaps"], n=20)'),
        (C, 'wb.say("nb.turnover.plans", **res.facts)'),
        (C, 'wb.chart("plans", charts.plan_vs_current, res["per_client"], currency=wb.currency)'),
    ],
    "03-segments": [
        (C, SETUP + "\nfrom kbanalysis.plots import segments as charts"),
        (C, 'wb.say("nb.segments.title")'),
        (C, "res = kb.stages.segments(wb)"),
        (C, 'wb.say("nb.segments.abcde", **res.facts)'),
        (C, 'wb.show(res["matrix"], n=60)'),
        (C, 'wb.chart("abcde_channels", charts.abcde_channels, res["frame"])'),
        (C, 'wb.show(res["pareto"])'),
        (C, 'wb.say("nb.segments.clusters", **res.facts)'),
        (C, 'wb.chart("k_selection", charts.k_selection, res.extra["model"])'),
        (C, 'wb.chart("cluster_map", charts.cluster_map, res["frame"], res.extra["model"])'),
        (C, 'wb.chart("cluster_profiles", charts.cluster_profiles, res.extra["model"], figsize=(10, 5.5))'),
        (C, 'wb.chart("abcde_by_cluster", charts.abcde_by_cluster, res["frame"], res.extra["model"])'),
        (C, 'wb.say("nb.segments.actions")'),
        (C, 'wb.show(res["actions"], n=40)'),
    ],
    "04-forecast": [
        (C, SETUP + "\nfrom kbanalysis.plots import forecast as charts"),
        (C, 'wb.say("nb.forecast.title")'),
        (C, "res = kb.stages.forecast(wb)"),
        (C, 'wb.say("nb.forecast.method", **res.facts)'),
        (C, 'wb.say_lines(res.extra["notes"])'),
        (C, 'wb.show(res["forecast"], n=60)'),
        (C, 'wb.chart("forecast_sources", charts.sources_by_month, res["forecast"], currency=wb.currency)'),
        (C, 'wb.say("nb.forecast.errors", **res.facts)'),
        (C, 'wb.show(res["errors"])'),
        (C, 'wb.chart("forecast_fan", charts.history_fan, res.extra["model"], currency=wb.currency, '
            'figsize=(10, 6))'),
        (C, 'wb.say("nb.forecast.calibration", **res.facts)'),
        (C, 'wb.show(res["stage_rates"]) if res.facts["has_deals"] else wb.say("nb.forecast.no_deals")'),
        (C, 'wb.show(res["managers"]) if res.facts["has_deals"] else None'),
        (C, 'wb.chart("calibration", charts.calibration_plot, res.extra["deals"], as_of=wb.as_of, '
            'prior=wb.params["win_rate_prior"]) if res.facts["has_deals"] else None'),
        (C, 'wb.say("nb.forecast.stock", **res.facts)'),
        (C, 'wb.chart("stock_cover", charts.stock_cover, res["forecast"], currency=wb.currency, '
            'overstock_months=wb.params["overstock_months"]) if res.facts["has_stock"] else wb.say("nb.forecast.no_stock")'),
        (C, 'wb.show(res["flagged"], n=40)'),
    ],
    "05-summary": [
        (C, SETUP),
        (C, 'wb.say("nb.summary.title")'),
        (C, "res = kb.stages.summary(wb)"),
        (C, 'wb.show(res["headline"], n=30)'),
        (C, 'wb.say("nb.summary.findings")'),
        (C, 'wb.show(res["top"])'),
        (C, 'wb.say("nb.summary.files", **res.facts)'),
    ],
}
