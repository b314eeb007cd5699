"""One number, one truth (#23): every figure the reports quote in prose and in chart titles is the figure of
the table it describes.

Two cases run through the whole workbook (``kbanalysis run``): the bundled sample ``data/sample`` in Russian
and a generated case in English (the run of ``test_summary_figures``, shared per session). The notebooks record
the facts each text quotes and each chart's title, ticks and marks in ``work/said.json``
(:meth:`kbanalysis.run.workbook.Workbook.record`); the facts are checked against ``clients.csv``,
``lost_clients.csv``, ``duplicates.csv``, ``quality_issues.csv``, ``wallet_groups.csv``, ``forecast.csv`` and
``summary.json``, and the sentences they make are looked for in the rendered HTML.

A third case is stripped of what Online Retail lacks (drivers, survey, managers' estimates, managers, INNs,
phones, deals, stock, marketing, contacts): its reports say nothing about a source it lacks, show no empty
chart and state the share of wallet only as an upper bound.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kbanalysis.deliverables import i18n, report
from kbanalysis.schema import BASES, BUYING, LOYALTY

pytestmark = [pytest.mark.xdist_group("workbook"), pytest.mark.slow]
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
QUIET = ("no_stock_data", "no_deals", "no_marketing")  # flags that only say a source is absent


def _build_sample(root: Path):
    from kbanalysis.run.cli import main

    assert main(["run", str(SAMPLE), "--out", str(root / "run"), "--quiet"]) == 0


def _build_bare(root: Path):
    """A generated case with only what Online Retail has: cards with name, channel and region; sales without
    cost or manager; no survey, stock, deals, marketing or contacts."""
    from kbanalysis.run.cli import main
    from kbanalysis.synth.case import sample_case

    case = root / "case"
    sample_case(case, n_clients=150, seed=7, messy=False, deals=False, marketing=False)
    for name in ("survey.csv", "stock.csv", "contacts.csv", "deals.xlsx", "marketing.csv"):
        (case / name).unlink(missing_ok=True)
    cards = pd.read_csv(case / "clients.csv", dtype=str)
    cards[["client_id", "name", "channel", "region"]].to_csv(case / "clients.csv", index=False)
    sales = pd.read_csv(case / "sales.csv", dtype=str)
    sales.drop(columns=["cost", "manager"]).to_csv(case / "sales.csv", index=False)
    assert main(["run", str(case), "--out", str(root / "run"), "--quiet", "-p", "lang=en",
                 "-p", "currency=GBP"]) == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from test_reproducible import built_once
    from test_summary_figures import en_run

    sample = built_once(tmp_path_factory, "report-figures-sample", _build_sample) / "run"
    return [(sample, "ru", "RUB"), (en_run(tmp_path_factory), "en", "EUR")]


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    from test_reproducible import built_once

    return built_once(tmp_path_factory, "report-figures-bare", _build_bare) / "run"


# ------------------------------------------------------------------------------------------ reading a run
def said(run: Path, stage: str, kind: str = "texts") -> dict:
    return json.loads((run / "work" / "said.json").read_text(encoding="utf-8")).get(stage, {}).get(kind, {})


def fact(run: Path, stage: str, *keys: str) -> tuple[str, dict]:
    """The key and facts of the one of ``keys`` (variants of a text) the notebook said."""
    texts = said(run, stage)
    found = [k for k in keys if k in texts]
    assert len(found) == 1, (stage, keys, sorted(texts))
    return found[0], texts[found[0]]


def page(run: Path, name: str) -> str:
    """The visible text of a report: markup dropped (so ``**12**`` reads ``12``), whitespace collapsed."""
    t = (run / f"{name}.html").read_text(encoding="utf-8")
    t = re.sub(r"<style.*?</style>|<script.*?</script>", " ", t, flags=re.S)
    t = html.unescape(re.sub(r"<[^>]+>", "", t)).replace("¶", " ")
    return re.sub(r"\s+", " ", t)


def prose(key: str, lang: str, currency: str, facts: dict) -> list[str]:
    """The paragraphs a text makes of its facts, as the page shows them (Markdown marks dropped)."""
    text = i18n.t(key, lang, currency, **facts)
    text = re.sub(r"^#+ ", "", text, flags=re.M).replace("**", "").replace("`", "")
    return [re.sub(r"\s+", " ", p).strip() for p in text.split("\n\n") if p.strip()]


def assert_rendered(run, name, key, lang, currency, facts):
    text = page(run, name)
    for para in prose(key, lang, currency, facts):
        assert para in text, (name, key, para)


def masters(run: Path) -> pd.DataFrame:
    c = pd.read_csv(run / "clients.csv", dtype={"client_id": str, "merged_into": str})
    return c[c["merged_into"].isna()].reset_index(drop=True)


def csv(run: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(run / name, dtype={"client_id": str, "duplicate_of": str})


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


def flat(text: str) -> str:
    """``text`` with its whitespace (line breaks of a chart title, no-break spaces of ``10,6 %``) as single spaces."""
    return re.sub(r"\s+", " ", text)


# ------------------------------------------------------------------------------------------ 01-audit
def test_audit_prose_counts_the_tables(runs):
    for run, lang, cur in runs:
        m, s = masters(run), summary(run)
        base = said(run, "audit")["nb.audit.base"]
        assert base == {f"n_{b}": int((m["base"] == b).sum()) for b in BASES} == \
            {f"n_{b}": s["clients"]["by_base"][b] for b in BASES}
        assert_rendered(run, "01-audit", "nb.audit.base", lang, cur, base)

        dup = csv(run, "duplicates.csv")
        key, f = fact(run, "audit", "nb.audit.duplicates", "nb.audit.duplicates_none")
        assert f["n_dups"] == len(dup) == s["duplicates"] and (key == "nb.audit.duplicates") == (len(dup) > 0)
        assert_rendered(run, "01-audit", key, lang, cur, f)

        q = csv(run, "quality_issues.csv")
        f = said(run, "audit")["nb.audit.quality"]
        assert f["n_issues"] == len(q) == s["quality"]["findings"]
        assert f["n_invalid_inn"] == int((q["issue"] == "invalid_inn").sum())
        assert f["n_invalid_phone"] == int((q["issue"] == "invalid_phone").sum())
        assert_rendered(run, "01-audit", "nb.audit.quality", lang, cur, f)

        f = said(run, "audit")["nb.audit.concentration"]
        rev = m["revenue_12m"].fillna(0)
        assert f["revenue"] == pytest.approx(rev.sum(), abs=0.01) and f["revenue"] == pytest.approx(
            s["totals"]["revenue_12m"], abs=0.01)
        assert f["n_key"] == int((m["key_account"] != "none").sum())
        assert f["top_share"] == pytest.approx(rev.max() / rev[rev > 0].sum())
        assert_rendered(run, "01-audit", "nb.audit.concentration", lang, cur, f)


def test_the_win_back_list_is_quoted_as_listed(runs):
    """'28 regular clients left' is the length of lost_clients.csv, split into lost and silent ones as the
    base counts them; a chart or table showing part of it says '15 of 28'."""
    for run, lang, cur in runs:
        m, lc = masters(run), csv(run, "lost_clients.csv")
        key, f = fact(run, "audit", "nb.audit.lost", "nb.audit.lost_only", "nb.audit.lost_silent")
        base = lc["client_id"].map(m.set_index("client_id")["base"])
        money = lc["avg_month_revenue"]
        assert f["n_lost_regular"] == len(lc) == summary(run)["lost_regular"]
        assert f["lost_money"] == pytest.approx(money.sum())
        assert f["n_regular_lost"] == int((base == "lost").sum())
        assert f["n_regular_lost"] + f["n_regular_silent"] == len(lc)
        assert f["money_regular_lost"] == pytest.approx(money[base == "lost"].sum())
        assert f["money_regular_lost"] + f["money_regular_silent"] == pytest.approx(f["lost_money"])
        assert set(base[base != "lost"]) <= {"sleeping"}  # silent past the rule, expected back: sleeping
        assert_rendered(run, "01-audit", key, lang, cur, f)
        shown = min(15, len(lc))
        title = flat(said(run, "audit", "charts")["reactivation"]["title"])
        top = lc.sort_values("priority").head(shown)["avg_month_revenue"].sum()
        expected = i18n.t("audit.title.reactivation_part" if shown < len(lc) else "audit.title.reactivation",
                          lang, n=i18n.fmt_int(shown, lang), total=i18n.fmt_int(len(lc), lang),
                          revenue=i18n.money_short(top, lang, cur), all_revenue=i18n.money_short(money.sum(), lang, cur))
        assert title == flat(expected)
        if len(lc) > 15:
            assert flat(i18n.t("nb.shown_of", lang, n=15, total=len(lc))) in page(run, "01-audit")
        # the summary's finding quotes the same list
        finding = report.findings(run, lang, cur).set_index("code").loc["lost"]
        assert finding["n"] == len(lc) and finding["money_at_stake"] == pytest.approx(money.sum())
        assert i18n.fmt_int(f["n_regular_lost"], lang) in finding["finding"] or f["n_regular_lost"] == 0


def test_base_chart_counts_the_base(runs):
    for run, lang, _ in runs:
        m = masters(run)
        n = lambda x: i18n.fmt_int(x, lang)  # noqa: E731
        title = flat(said(run, "audit", "charts")["base_structure"]["title"])
        at_risk = int(m["base"].isin(["sleeping", "lost"]).sum())
        assert all(flat(n(x)) in title for x in ((m["base"] == "active").sum(), len(m), at_risk))


# ------------------------------------------------------------------------------------------ 02-turnover
def test_wallet_prose_is_summary_json(runs):
    for run, lang, cur in runs:
        m, s = masters(run), summary(run)
        tot = s["totals"]
        known = m["wallet_month"].notna()
        key, f = fact(run, "wallet", "nb.turnover.share", "nb.turnover.share_bound")
        counts = m.loc[known, "loyalty"].value_counts()
        assert {lv: f[f"n_{lv}"] for lv in LOYALTY} == {lv: int(counts.get(lv, 0)) for lv in LOYALTY}
        assert f["wallet_total"] == pytest.approx(tot["wallet_month"], abs=0.01)
        bought = m["revenue_12m"].fillna(0).clip(lower=0) / 12
        assert f["revenue_month"] == pytest.approx(bought[known].sum(), abs=0.01)
        assert f["share_total"] == pytest.approx(tot["share_of_wallet"], abs=1e-6)
        assert f["firm"] == (report.wallet_evidence(s) != "lookalike") == (key == "nb.turnover.share")
        assert_rendered(run, "02-turnover", key, lang, cur, f)
        # the headline of the summary quotes the same share
        assert flat(i18n.fmt_pct(f["share_total"], lang)) in page(run, "05-summary")

        key, f = fact(run, "wallet", "nb.turnover.sources", "nb.turnover.sources_unchecked")
        assert f["n_wallet"] == int(known.sum())
        assert_rendered(run, "02-turnover", key, lang, cur, f)

        f = said(run, "wallet")["nb.turnover.gaps"]
        groups = csv(run, "wallet_groups.csv")
        for name in ("upsell", "crosssell"):
            assert f[name] == pytest.approx(tot[f"{name}_month"], abs=0.01)
            assert f[name] == pytest.approx(groups[f"{name}_month"].sum(), abs=0.01)
        assert_rendered(run, "02-turnover", "nb.turnover.gaps", lang, cur, f)

        n_extra = int((m["wallet_source"] == "extrapolated").sum())
        said_extra = [k for k in ("nb.turnover.extrapolated", "nb.turnover.extrapolated_unchecked")
                      if k in said(run, "wallet")]
        assert len(said_extra) == (1 if n_extra else 0)  # no section on 0 extrapolated clients
        for k in said_extra:
            assert said(run, "wallet")[k]["n_extrapolated"] == n_extra
            assert_rendered(run, "02-turnover", k, lang, cur, said(run, "wallet")[k])


def test_plans_add_up_and_match_the_summary(runs):
    """The plans' parts in 02 (current + kept + achievable + reactivation + acquisition) add up to the plans'
    sum, each is the summary's total, and the plans chart quotes the summary's achievable money and share."""
    for run, lang, cur in runs:
        tot = summary(run)["totals"]
        key, f = fact(run, "wallet", "nb.turnover.plans", "nb.turnover.plans_noprospects")
        parts = {"current": "current_month", "achievable": "achievable_month", "reactivation": "reactivation_month",
                 "acquisition": "acquisition_month", "plan": "plan_month"}
        for k, total in parts.items():
            assert f[k] == pytest.approx(tot[total], abs=0.02), k
        assert f["current"] + f["kept"] + f["achievable"] + f["reactivation"] + f["acquisition"] == pytest.approx(
            f["plan"], abs=0.05)
        assert f["kept"] >= -0.01
        assert f["achievable_pct"] == pytest.approx(tot["achievable_month"] / tot["current_month"], rel=1e-6)
        assert (key == "nb.turnover.plans") == (f["acquisition"] > 0)
        assert_rendered(run, "02-turnover", key, lang, cur, f)
        money = lambda x: i18n.fmt_money(x, lang, cur)  # noqa: E731
        title = flat(said(run, "wallet", "charts")["plans"]["title"])
        pct = i18n.fmt_pct(tot["achievable_month"] / tot["current_month"], lang)
        for text in map(flat, (money(tot["achievable_month"]), money(tot["current_month"]), pct)):
            assert text in title
            assert text in page(run, "05-summary")  # the summary says the same
        if tot["reactivation_month"]:
            assert flat(money(tot["reactivation_month"])) in title


def test_loyalty_charts_count_the_clients(runs):
    for run, lang, _ in runs:
        m = masters(run)
        charts = said(run, "wallet", "charts")
        shown = m[(m["wallet_month"] > 0) & (m["revenue_12m"] > 0)]
        title = flat(charts["wallet_map"]["title"])
        assert flat(i18n.fmt_int(len(shown), lang)) in title
        low, main = int((shown["loyalty"] == "indifferent").sum()), int((shown["loyalty"] == "main").sum())
        if report.wallet_evidence(summary(run)) == "lookalike":
            assert "loyalty" not in charts
            continue
        assert flat(i18n.fmt_int(low if low >= main else main, lang)) in title
        lv = m.loc[m["loyalty"].notna(), "loyalty"]
        share = (lv == "indifferent").mean() if (lv == "indifferent").sum() >= (lv == "main").sum() \
            else (lv == "main").mean()
        assert flat(i18n.fmt_pct(share, lang)) in flat(charts["loyalty"]["title"])


# ------------------------------------------------------------------------------------------ 03, 04, 05
def test_segments_and_forecast_prose_count_the_tables(runs):
    for run, lang, cur in runs:
        m = masters(run)
        f = said(run, "segments")["nb.segments.abcde"]
        assert (f["n_A"], f["n_E"]) == (int((m["abcde"] == "A").sum()), int((m["abcde"] == "E").sum()))
        assert_rendered(run, "03-segments", "nb.segments.abcde", lang, cur, f)
        f = said(run, "segments")["nb.segments.clusters"]
        assert_rendered(run, "03-segments", "nb.segments.clusters", lang, cur, f)

        fc = pd.read_csv(run / "forecast.csv", dtype={"month": str, "flag": str})
        key, f = fact(run, "forecast", "nb.forecast.method", "nb.forecast.method_one")
        alls = fc[fc["product_group"] == "ALL"]
        assert f["reconciled"] == pytest.approx(alls["reconciled"].sum())
        assert alls["reconciled"].sum() == pytest.approx(summary(run)["totals"]["forecast_reconciled"], abs=0.01)
        codes = fc["flag"].fillna("").str.split(";")
        assert f["n_flagged"] == int(codes.map(lambda cs: any(c and c not in QUIET for c in cs)).sum())
        assert_rendered(run, "04-forecast", key, lang, cur, f)


def test_the_summary_lists_the_findings_it_announces(runs):
    for run, lang, cur in runs:
        text = page(run, "05-summary")
        top = report.top_findings(run, lang, n=5, currency=cur)
        money_findings = report.findings(run, lang, cur)
        assert len(top) == min(5, int(money_findings["code"].isin(report.MONEY_FINDINGS).sum()))
        for sentence in top["finding"]:
            assert flat(sentence) in text
        assert not re.search(r"\b(five|four|пять|четыре)\b", text, flags=re.I)
        for value in report.headline(summary(run), lang, cur).iloc[:, 1]:
            assert flat(str(value)) in text


def test_every_chart_has_data_and_readable_ticks(runs, bare):
    for run, _, _ in runs + [(bare, "en", "GBP")]:
        every = json.loads((run / "work" / "said.json").read_text(encoding="utf-8"))
        for stage, kinds in every.items():
            for name, chart in kinds.get("charts", {}).items():
                assert chart["marks"] > 0, (run, name, chart["title"])  # no empty chart
                ticks = chart["xticks"] + chart["yticks"]
                assert not [x for x in ticks if "$" in x or "mathdefault" in x], (name, ticks)
                for axis in ("xticks", "yticks"):
                    labels = chart[axis]
                    assert len(labels) == len(set(labels)), (name, labels)  # 'GBP 0, GBP 0'
                assert not re.search(r"(?<![\d.,])-0(?:[.,]0+)?(?![\d.,])", " ".join(ticks)), (name, ticks)


# ------------------------------------------------------------------------------------------ no evidence
def test_no_sentence_about_a_source_the_case_lacks(bare):
    texts = {s: said(bare, s) for s in ("audit", "wallet", "forecast", "general")}
    charts = {s: said(bare, s, "charts") for s in ("audit", "wallet", "forecast")}
    # the variants for what the case has are the ones said; sections about absent sources are left out
    _, dup = fact(bare, "audit", "nb.audit.duplicates", "nb.audit.duplicates_none")
    assert dup["compared"] == i18n.t("audit.compared.name", "en")  # cards without INN or phone: names only
    assert {"nb.turnover.sources_unchecked", "nb.turnover.share_bound",
            "nb.turnover.side_by_side_unchecked", "nb.forecast.method"} <= set().union(*texts.values())
    # no deals or marketing: the forecast names only the two statistical sources it blends
    assert texts["forecast"]["nb.forecast.method"]["parts"] == ["history", "history_total"]
    for gone in ("nb.turnover.sources", "nb.turnover.share", "nb.turnover.side_by_side", "nb.audit.completeness",
                 "nb.forecast.method_one", "nb.forecast.calibration", "nb.forecast.stock", "nb.forecast.no_deals",
                 "nb.forecast.no_stock"):
        assert not any(gone in t for t in texts.values()), gone
    for gone in ("wallet_sources", "loyalty", "completeness", "calibration", "stock_cover"):
        assert not any(gone in c for c in charts.values()), gone
    assert texts["audit"]["nb.audit.quality"]["checks"] == ""  # no INNs or phones: no '0 invalid INNs'
    assert texts["forecast"]["nb.forecast.title"]["sources"] == i18n.t("nb.forecast.src.history", "en")
    pages = {n: page(bare, n) for n in ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary")}
    absent = [i18n.t(k, "en") for k in ("nb.turnover.src.survey", "nb.turnover.src.drivers", "audit.compared.inn",
                                         "audit.compared.phone", "nb.forecast.src.deals")]
    absent += ["the managers' turnover estimates (", "managers' estimates (corrected", ": —)", "invalid INNs",
               "invalid phone", "deals ×", "Stock on hand", "marketing estimate (", "if any", "the pipeline:",
               "Main supplier", "main suppliers", "indifferent)", "a survey, a manager or the client's drivers"]
    for name, text in pages.items():
        for phrase in absent:
            assert phrase not in text, (name, phrase)
    # the share is an upper bound where it is quoted, with what would make it firm
    assert flat(i18n.t("headline.share_of_wallet_bound", "en")) in pages["05-summary"]
    share = i18n.fmt_pct(summary(bare)["totals"]["share_of_wallet"], "en")
    assert flat(i18n.t("summary.say.evidence", "en", share=share)) in pages["05-summary"]
    assert_rendered(bare, "02-turnover", "nb.turnover.share_bound", "en", "GBP", texts["wallet"]["nb.turnover.share_bound"])
    assert "upper bound" in flat(charts["wallet"]["wallet_map"]["title"])


# ------------------------------------------------------------------------------------------ one language
class _Tables:
    """The header and body cells of every table of an HTML page, with each body cell's header."""

    def __init__(self, text: str):
        from html.parser import HTMLParser

        tables: list[list[list[tuple[str, str]]]] = []

        class P(HTMLParser):
            cell = row = None

            def handle_starttag(self, tag, attrs):
                if tag == "table":
                    tables.append([])
                elif tag == "tr" and tables:
                    self.row = []
                elif tag in ("td", "th") and self.row is not None:
                    self.cell = (tag, "")

            def handle_endtag(self, tag):
                if tag in ("td", "th") and self.cell is not None:
                    self.row.append((self.cell[0], self.cell[1].strip()))
                    self.cell = None
                elif tag == "tr" and self.row is not None:
                    tables[-1].append(self.row)
                    self.row = None

            def handle_data(self, data):
                if self.cell is not None:
                    self.cell = (self.cell[0], self.cell[1] + data)

        P().feed(text)
        self.headers = [c for t in tables for r in t for tag, c in r if tag == "th" and c]
        self.columns: dict[str, list[str]] = {}
        for t in tables:
            head = [c for tag, c in t[0] if tag == "th"] if t else []
            for r in t[1:]:
                for h, (_, c) in zip(head, r):
                    self.columns.setdefault(h, []).append(c)


CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def test_a_russian_report_shows_russian_headers_and_labels(runs):
    """Item 4: in the Russian report every table header is Russian, and the channel and group codes of the
    sample are shown through the labels its mapping.yaml gives; the English report has no Russian header."""
    for run, lang, _ in runs:
        for name in ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary"):
            tables = _Tables(page(run, name))
            if lang == "ru":
                latin = [h for h in tables.headers if not CYRILLIC.search(h) and not re.fullmatch(r"[\d\s.,%—-]+", h)]
                assert not latin, (name, latin)
                for col in (i18n.t("col.channel", "ru"), i18n.t("col.product_group", "ru")):
                    codes = [c for c in tables.columns.get(col, []) if c and c != "—" and not CYRILLIC.search(c)]
                    assert not codes, (name, col, codes[:5])
            else:
                assert not [h for h in tables.headers if CYRILLIC.search(h)], name


def test_charts_name_the_sample_channels_and_groups_by_their_labels(runs):
    """The bundled sample's channel and group codes appear in the Russian charts by their labels."""
    from kbanalysis.synth.case import CHANNELS, GROUPS

    run = runs[0][0]
    ticks = {name: c["xticks"] + c["yticks"] for kinds in json.loads(
        (run / "work" / "said.json").read_text(encoding="utf-8")).values() for name, c in kinds.get("charts", {}).items()}
    for name in ("abcde_channels", "stock_cover"):
        shown = " ".join(ticks[name])
        assert not [code for code in CHANNELS + GROUPS if re.search(rf"\b{code}\b", shown)], (name, shown)
        assert CYRILLIC.search(shown), (name, shown)


def test_russian_chart_ticks_use_decimal_commas(runs):
    """Item 4: no «0.2» on a Russian chart axis (month ticks «09.2025» are dates, not decimals)."""
    run = runs[0][0]
    every = json.loads((run / "work" / "said.json").read_text(encoding="utf-8"))
    for stage, kinds in every.items():
        for name, chart in kinds.get("charts", {}).items():
            dotted = [x for x in chart["xticks"] + chart["yticks"] if re.search(r"\d\.\d", x)
                      and not re.fullmatch(r"\d{2}\.\d{4}", x)]
            assert not dotted, (name, dotted)
