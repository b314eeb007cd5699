"""Issue #21, items 3, 4 and 7: text from the case never becomes live markup in a report, never a formula in
what people open in Excel, and a report loads nothing from outside its file.

One generated case gets markup and formula-like text in every text column of every table (names, regions,
managers, channels, product groups, deal stages, contact outcomes, one client id) and runs through the whole
workbook (papermill, HTML, Excel) with ``mask_pii=false`` so that names are shown."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest

TAG = "<kbtag>"  # a tag no report of ours writes: if it survives, markup from the case survived
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
FORMULAS = ('=HYPERLINK("http://example.com","x")', "@SUM(1+1)", "+1+cmd|calc", "=1+2", "-2+3")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: a 10,000-character product group (a description pasted into the group field)
LONG = "Группа " + "ж" * 9_993


def _hostile_case(root: Path) -> Path:
    from kbanalysis.synth.case import generate_case, write_case

    case = write_case(generate_case(n_clients=60, seed=4, months=24, horizon=2), root / "case", messy=False)
    read = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in case.glob("*.csv")}
    sales, clients = read["sales"], read["clients"]
    groups = sales["product_group"].value_counts().index.tolist()
    managers = clients["manager"].value_counts().index.tolist()
    regions = clients["region"].value_counts().index.tolist()
    channels = clients["channel"].value_counts().index.tolist()
    stages = read["deals"]["stage"].value_counts().index.tolist()
    ids = sales["client_id"].value_counts().index.tolist()  # the busiest clients are in every top list
    text = {  # one consistent rename per value, in every table that names it
        "product_group": {groups[0]: f"{TAG}group{SCRIPT}", groups[1]: "=1+2", groups[2]: LONG},
        "manager": {managers[0]: IMG, managers[1]: "@SUM(1+1)"},
        "region": {regions[0]: f"{TAG}region"},
        "channel": {channels[-1]: f"{TAG}channel"},
        "stage": {stages[0]: f"{TAG}stage{SCRIPT}"},
        "outcome": {v: f"{TAG}outcome" for v in read["contacts"]["outcome"].unique()[:1]},
        "client_id": {ids[5]: "@" + ids[5]},
    }
    names = {ids[0]: f"{TAG}name{SCRIPT}", ids[1]: FORMULAS[0], ids[2]: FORMULAS[2], ids[3]: IMG,
             ids[4]: "[click](javascript:alert(1))"}
    clients["name"] = [names.get(i, n) for i, n in zip(clients["client_id"], clients["name"])]
    for name, df in read.items():
        for col, change in text.items():
            if col in df:
                df[col] = df[col].replace(change)
        df.to_csv(case / f"{name}.csv", index=False)
    return case


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from kbanalysis.run.runner import run_workbook

    root = tmp_path_factory.mktemp("hostile")
    case = _hostile_case(root)
    run_workbook(case, root / "run", {"mask_pii": False, "company": f"{TAG}company"}, progress=False)
    return root / "run"


pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("workbook")]


def test_no_tag_from_the_case_survives_in_any_report(hostile_run):
    pages = sorted(hostile_run.glob("*.html"))
    assert len(pages) == 5
    shown = 0
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert TAG not in html and "<img src=x" not in html, page.name
        assert not re.search(r"<script\b", html, re.I), page.name  # not ours either: a report runs nothing
        assert 'http-equiv="Content-Security-Policy"' in html
        shown += html.count("&lt;kbtag&gt;")
    assert shown >= 5  # the hostile texts are shown, as text


def test_reports_load_nothing_from_outside(hostile_run):
    for page in hostile_run.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"""<(?:script|link|iframe|img)\b[^>]*(?:src|href)=["']?(?:https?:)?//""", html, re.I)


def test_formula_like_text_stays_text_in_the_excel_workbook(hostile_run):
    from openpyxl import load_workbook

    wb = load_workbook(hostile_run / "audit.xlsx")
    quoted = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    assert str(c.value).startswith("=SUBTOTAL("), (ws.title, c.coordinate, c.value)  # our totals
                elif isinstance(c.value, str) and c.value.startswith(FORMULA_START):
                    assert c.quotePrefix, (ws.title, c.coordinate, c.value)
                    quoted += 1
    assert quoted >= 3
    cards = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert FORMULAS[0] in cards and "+1+cmd|calc" in cards  # kept whole, as text


def test_csv_outputs_neutralise_formulas(hostile_run):
    seen = set()
    for path in sorted(hostile_run.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            for r, row in enumerate(csv.reader(f)):
                for cell in row:
                    if cell.startswith(FORMULA_START):
                        float(cell)  # only a negative number may start so
                    if cell.startswith("'"):
                        seen.add(cell)
    assert "'=1+2" in seen  # the product group, in forecast.csv and wallet_groups.csv
    assert any(c.startswith("'@") for c in seen)  # the client id
    clients = pd.read_csv(hostile_run / "clients.csv", dtype=str)
    assert clients["client_id"].str.startswith("'@").sum() == 1


def test_reports_read_the_text_back_as_it_was(hostile_run):
    from kbanalysis.deliverables.report import read_output

    f = read_output(hostile_run, "forecast.csv")
    assert "=1+2" in set(f["product_group"])


def test_a_10000_character_group_is_kept_whole_in_every_output(hostile_run):
    from kbanalysis.deliverables.report import read_output

    assert len(LONG) == 10_000
    for name in ("forecast.csv", "wallet_groups.csv"):
        assert LONG in set(read_output(hostile_run, name)["product_group"]), name


def test_the_summary_still_prints_to_pdf(hostile_run):
    """Markup in the case once hung the PDF step (203 s, no PDF, no word): scripts are gone from the page."""
    from kbanalysis.deliverables.report import pdf_converter

    if pdf_converter() is None:
        pytest.skip("no PDF converter (chromium, wkhtmltopdf) on this machine")
    pdf = hostile_run / "05-summary.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
