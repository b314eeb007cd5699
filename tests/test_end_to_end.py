"""`kbanalysis run` on a generated case writes every output file and column named in the contract.

The runs are the suite's shared ones (built once per session, see ``test_reproducible.built_once``): the
English run of ``test_summary_figures`` and the Russian run of ``test_reproducible``.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from kbanalysis.schema import BASES, KEY_ACCOUNT, LOYALTY, OUTPUTS

pytestmark = pytest.mark.xdist_group("workbook")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The folder holding ``case/`` (a generated case with its truth) and ``run/`` (its run in English)."""
    from test_summary_figures import en_run

    return en_run(tmp_path_factory).parent


def test_every_contract_file_and_column(run):
    out = run / "run"
    for name, cols in OUTPUTS.items():
        df = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        assert tuple(df.columns[: len(cols)]) == cols, name
        if len(df) > 1 and name != "lost_clients.csv":
            first = df[cols[0]].tolist()
            assert first == sorted(first), f"{name} is sorted by its first column"
    lost = pd.read_csv(out / "lost_clients.csv")
    assert lost["priority"].tolist() == list(range(1, len(lost) + 1)), "the reactivation list is best first"
    assert (out / "summary.json").exists()


def test_clients_one_row_per_card_with_valid_codes(run):
    out = run / "run"
    cards = pd.read_csv(run / "case" / "truth" / "clients.csv", dtype=str)
    clients = pd.read_csv(out / "clients.csv", dtype={"client_id": str})
    assert len(clients) == len(cards) and clients["client_id"].is_unique
    assert set(clients["base"]) <= set(BASES)
    assert set(clients["key_account"]) <= set(KEY_ACCOUNT)
    assert set(clients["loyalty"].dropna()) <= set(LOYALTY)
    assert set(clients["abcde"].dropna()) <= set("ABCDE")
    assert clients["cluster"].notna().any()


def test_summary_row_accounting(run):
    summary = json.loads((run / "run" / "summary.json").read_text(encoding="utf-8"))
    rows = summary["rows"]
    assert {"clients", "sales"} <= set(rows)
    for table, c in rows.items():
        assert c["read"] == c["used"] + c["rejected"], table
    assert summary["params"]["lang"] == "en"


def test_reports_written(run):
    out = run / "run"
    for name in ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary"):
        assert (out / f"{name}.html").stat().st_size > 1000
    assert (out / "audit.xlsx").exists()
    assert list((out / "charts").glob("*.png"))
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert "sales.csv" in record["input_sha256"]


# ------------------------------------------------------------------------------------------------
# deliverables: HTML without code, headings in the run's language, Excel, charts
# ------------------------------------------------------------------------------------------------
import re  # noqa: E402

CYRILLIC = re.compile("[А-Яа-яЁё]")


def _headings(html: str) -> list[str]:
    return [re.sub("<[^>]+>", "", h).strip() for h in re.findall(r"<h[1-3][^>]*>.*?</h[1-3]>", html, re.S)]


@pytest.fixture(scope="module")
def run_ru(tmp_path_factory):
    """The run folder of the shared messy case, in Russian (the default language)."""
    from test_reproducible import shared_run

    return shared_run(tmp_path_factory) / "run"


def test_html_has_no_code_and_carries_charts(run):
    for page in sorted((run / "run").glob("*.html")):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"class=\"[^\"]*jp-InputArea", html) and "kb.stages" not in html and "wb.say" not in html, page.name
        assert "Traceback" not in html and "Warning" not in html, page.name
        if page.stem != "05-summary":
            assert "<img" in html, page.name


def test_english_headings_have_no_cyrillic(run):
    for page in sorted((run / "run").glob("*.html")):
        heads = _headings(page.read_text(encoding="utf-8"))
        assert heads, page.name
        assert not [h for h in heads if CYRILLIC.search(h)], page.name


def test_russian_headings_are_russian(run_ru):
    for page in sorted(run_ru.glob("*.html")):
        heads = _headings(page.read_text(encoding="utf-8"))
        assert heads and all(CYRILLIC.search(h) for h in heads), page.name
    html = (run_ru / "02-turnover.html").read_text(encoding="utf-8")
    assert re.search(r"\d \d{3} \d{3} ₽", html.replace("\xa0", " ")), "money as 1 234 567 ₽"


def test_excel_workbook_for_managers(run):
    from openpyxl import load_workbook

    wb = load_workbook(run / "run" / "audit.xlsx", read_only=False)
    assert len(wb.sheetnames) >= 4
    for ws in wb.worksheets[:5]:
        assert ws.freeze_panes == "A2", ws.title
    formats = {c.number_format for ws in wb.worksheets[:2] for c in ws[2] if isinstance(c.value, (int, float))}
    assert formats - {"General"}, "money and percentage columns carry number formats"
    assert not any(CYRILLIC.search(c.value or "") for c in wb.worksheets[0][1]), "English headers under lang=en"


def test_charts_are_valid_png(run):
    from PIL import Image

    charts = sorted((run / "run" / "charts").glob("*.png"))
    assert len(charts) >= 10
    for p in charts:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(p) as im:
            im.verify()
