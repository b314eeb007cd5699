"""One number, one truth: the executive summary of two different cases (a messy generated case in Russian,
a second generated case in English), rendered as HTML, quotes every figure as its tables compute it.

The figures of the narrative, the headline table, the findings and the chart titles are recomputed here
from ``clients.csv`` (master cards) and checked in the rendered ``05-summary.html``; the page has no
"five findings" heading, no ``-0``, no ``%`` that can wrap onto its own line, no code of the data.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from kbanalysis.deliverables import charts, i18n, report

matplotlib.use("Agg")
pytestmark = [pytest.mark.xdist_group("workbook"), pytest.mark.slow]


def build_en(root: Path):
    """A generated case run in English with a company name and euros (shared with test_report_figures)."""
    from kbanalysis.run.cli import main
    from kbanalysis.synth.case import sample_case

    sample_case(root / "case", n_clients=150, seed=5)
    assert main(["run", str(root / "case"), "--out", str(root / "run"), "--quiet", "-p", "lang=en",
                 "-p", "company=Test Trading", "-p", "currency=EUR"]) == 0


def en_run(tmp_path_factory) -> Path:
    """The run folder of :func:`build_en`, built once per test session."""
    from test_reproducible import built_once

    return built_once(tmp_path_factory, "summary-en-run", build_en) / "run"


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    from test_reproducible import shared_run

    ru = shared_run(tmp_path_factory) / "run"
    return [(ru, "ru", "RUB"), (en_run(tmp_path_factory), "en", "EUR")]


def page_text(path: Path) -> str:
    text = re.sub(r"<style.*?</style>|<script.*?</script>", " ", path.read_text(encoding="utf-8"), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def masters(run: Path) -> pd.DataFrame:
    c = pd.read_csv(run / "clients.csv", dtype={"client_id": str, "merged_into": str})
    return c[c["merged_into"].isna()]


def test_quoted_figures_come_from_the_tables(cases):
    for run, lang, cur in cases:
        m = masters(run)
        data = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        buying = m["base"].isin(["active", "sleeping"])
        gain = m.loc[buying, "achievable_month"].sum()
        ceiling = (m.loc[buying, "upsell_month"].fillna(0) + m.loc[buying, "crosssell_month"].fillna(0)).sum()
        current = m.loc[buying, "revenue_12m"].clip(lower=0).sum() / 12  # net returns count 0, as in the plans
        tot = data["totals"]
        # summary.json totals are the tables' sums
        assert tot["achievable_month"] == pytest.approx(gain, abs=0.01)
        assert tot["ceiling_month"] == pytest.approx(ceiling, abs=0.02)
        assert tot["current_month"] == pytest.approx(current, abs=0.01)
        assert tot["reactivation_month"] == pytest.approx(m.loc[m["base"] == "lost", "plan_month"].sum(), abs=0.01)
        assert 0 < gain < ceiling  # the achievable increment is far below the ceiling
        assert (m.loc[m["base"] == "closed", ["upsell_month", "crosssell_month"]].fillna(0) == 0).all().all()
        money = lambda x: i18n.fmt_money(x, lang, cur)  # noqa: E731
        text = page_text(run / "05-summary.html")
        # narrative and headline quote the same figures
        for v in (gain, ceiling, current):
            assert text.count(money(v)) >= 2, (lang, money(v))
        assert i18n.fmt_pct(gain / current, lang) in text
        n_buy, n_all = int(buying.sum()), len(m)
        assert i18n.t("summary.say.base", lang, date=i18n.fmt_date(data["as_of"], lang),
                      buying=i18n.fmt_int(n_buy, lang), total=i18n.fmt_int(n_all, lang),
                      active=i18n.fmt_int((m["base"] == "active").sum(), lang),
                      sleeping=i18n.fmt_int((m["base"] == "sleeping").sum(), lang), current=money(current)) in text
        # the findings table: the growth finding's money is the achievable increment, its ceiling beside it
        f = report.findings(run, lang, cur).set_index("code")
        assert f.loc["growth", "money_at_stake"] == pytest.approx(gain, abs=0.01)
        assert f.loc["growth", "ceiling_month"] == pytest.approx(ceiling, abs=0.02)
        assert f.loc["growth", "finding"] in text
        # chart titles are computed from what the charts draw
        t = charts.client_base(data, lang=lang).get_title()
        assert i18n.fmt_int(n_buy, lang) in t and i18n.fmt_int(n_all, lang) in t
        t = charts.money_bridge(data, lang=lang, currency=cur).get_title()
        assert money(gain) in t and money(ceiling) in t
        ab = m.loc[buying & m["abcde"].isin(["A", "B"]), "achievable_month"].sum()
        t = charts.achievable_by_class(m, lang=lang, currency=cur).get_title()
        assert money(ab) in t and i18n.fmt_pct(ab / gain, lang) in t


def test_the_summary_page_reads_in_one_language(cases):
    for run, lang, _ in cases:
        text = page_text(run / "05-summary.html")
        assert not re.search(r"(?<![\w.])-0(?:[.,]0+)?(?![\d.,])", text), "a negative zero"
        assert not re.search(r"\b(five|пять)\b", text, flags=re.I), "no counted findings heading"
        assert "Test Trading" in text if lang == "en" else "Дата анализа" in text
        if lang == "ru":
            assert not re.search(r"\d %", text), "a % that can wrap onto its own line"
        else:
            assert not re.search("[А-Яа-яЁё]", text), "Cyrillic in the English summary"
        for code in ("achievable_month", "ceiling_month", "lookalike", "upsell_month"):
            assert code not in text
