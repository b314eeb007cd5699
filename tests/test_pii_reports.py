"""Personal data in the deliverables: with ``mask_pii`` at its default (on), no phone, e-mail or INN of
the case appears in the HTML reports or in the director's sheets of ``audit.xlsx`` (clients, up-sale,
duplicates, forecast) — neither as typed in the client cards nor as the same digits in another format.
The managers' own sheets (one per manager, win-back) and the data fixes show them in full, so a manager
can call and fix; with ``mask_contacts`` they are masked too. The run's internal CSVs stay unmasked
(they are the data team's working files).

Uses the run shared with ``test_reproducible`` (one ``kbanalysis run`` of a messy generated case).
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from kbanalysis.deliverables import i18n
from kbanalysis.io.case import load_case
from test_reproducible import shared_run

pytestmark = pytest.mark.xdist_group("workbook")

MASKED_PHONE = re.compile(r"\+7 \(\d{3}\) \*\*\*-\*\*-\d\d")
MASKED_EMAIL = re.compile(r"\w\*\*\*@[\w-]+(?:\.[\w-]+)+")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return shared_run(tmp_path_factory)


@pytest.fixture(scope="module")
def pii(run) -> dict[str, list[str]]:
    """Phones, e-mails and INNs of the case's client cards, as typed."""
    cards = load_case(run / "case").tables["clients"]
    phones = [p for p in cards["phone"].dropna().unique() if len(re.sub(r"\D", "", p)) >= 7]
    emails = [e for e in cards["email"].dropna().unique() if "@" in e]
    inns = [i for i in cards["inn"].dropna().unique() if re.fullmatch(r"\d{10}|\d{12}", i)]
    assert len(phones) > 100 and len(emails) > 100 and len(inns) > 100, "the case is full of personal data"
    return {"phones": phones, "emails": emails, "inns": inns}


def _html_texts(run: Path) -> dict[str, str]:
    out = {}
    for p in sorted((run / "run").glob("*.html")):
        t = p.read_text(encoding="utf-8")
        t = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", t)  # embedded charts
        out[p.name] = html.unescape(t)
    return out


#: the director's sheets of audit.xlsx (masked by mask_pii); the others are the managers' own and the fixes
DIRECTOR_SHEETS = tuple(i18n.t(f"sheet.{k}", "ru") for k in ("clients", "growth", "duplicates", "forecast"))


def _xlsx_texts(path: Path, director_only: bool = True) -> dict[str, str]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    out = {}
    for ws in wb.worksheets:
        if director_only and ws.title not in DIRECTOR_SHEETS:
            continue
        cells = [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]
        out[f"audit.xlsx[{ws.title}]"] = "\n".join(cells)
    wb.close()
    return out


@pytest.fixture(scope="module")
def deliverables(run, tmp_path_factory) -> dict[str, str]:
    """The HTML reports and the director's sheets of the run, and every sheet of a workbook with mask_contacts."""
    from kbanalysis.deliverables.excel import write_audit_xlsx

    masked = write_audit_xlsx(run / "run", tmp_path_factory.mktemp("xlsx") / "all-masked.xlsx", lang="ru",
                              mask=True, mask_contacts=True)
    texts = {**_html_texts(run), **_xlsx_texts(run / "run" / "audit.xlsx"),
             **{f"mask_contacts:{k}": v for k, v in _xlsx_texts(masked, director_only=False).items()}}
    assert sum(k.endswith(".html") for k in texts) == 5 and any(k.startswith("audit.xlsx") for k in texts)
    return texts


def test_the_managers_sheets_show_contacts_in_full(run, pii):
    """By default a manager's own sheets and the win-back list show the phone to call, as typed."""
    own = _xlsx_texts(run / "run" / "audit.xlsx", director_only=False)
    managers = "\n".join(t for k, t in own.items() if k[len("audit.xlsx["):-1] not in DIRECTOR_SHEETS)
    assert sum(p in managers for p in pii["phones"]) > 100
    assert sum(e in managers for e in pii["emails"]) > 100


def _digit_runs(text: str) -> set[str]:
    """Digits of every phone-like stretch (digits with spaces, dashes, dots, brackets, a plus)."""
    return {re.sub(r"\D", "", m) for m in re.findall(r"\+?\d[\d\s\-().]{5,}\d", text)}


def test_the_run_masks_by_default(run):
    import json

    assert json.loads((run / "run" / "run.json").read_text(encoding="utf-8"))["params"]["mask_pii"] is True


def test_no_raw_phone_in_reports(deliverables, pii):
    for name, text in deliverables.items():
        leaked = [p for p in pii["phones"] if p in text]
        assert not leaked, f"{name} shows phones as typed: {leaked[:3]}"


def test_no_phone_digits_in_another_format(deliverables, pii):
    numbers = {re.sub(r"\D", "", p)[-10:] for p in pii["phones"] if len(re.sub(r"\D", "", p)) >= 10}
    for name, text in deliverables.items():
        runs = _digit_runs(text)
        leaked = [n for n in numbers if any(n in r for r in runs)]
        assert not leaked, f"{name} shows the digits of phones: {leaked[:3]}"


def test_no_email_in_reports(deliverables, pii):
    for name, text in deliverables.items():
        low = text.lower()
        leaked = [e for e in pii["emails"] if e.lower() in low]
        assert not leaked, f"{name} shows e-mails: {leaked[:3]}"


def test_no_inn_in_reports(deliverables, pii):
    for name, text in deliverables.items():
        runs = set(re.findall(r"(?<!\d)\d{10,12}(?!\d)", text))
        leaked = [i for i in pii["inns"] if i in runs]
        assert not leaked, f"{name} shows INNs: {leaked[:3]}"


def test_the_deliverables_do_carry_the_masked_contacts(deliverables):
    """Not vacuous: the client sheets of audit.xlsx hold every card's phone and e-mail, masked."""
    xlsx = "\n".join(t for k, t in deliverables.items() if k.startswith("audit.xlsx"))
    assert len(MASKED_PHONE.findall(xlsx)) > 100
    assert len(MASKED_EMAIL.findall(xlsx)) > 100


def test_internal_csvs_are_not_masked(run, pii):
    """The run's own tables keep the data (the contract's outputs are for the data team)."""
    q = pd.read_csv(run / "run" / "quality_issues.csv", dtype=str, keep_default_na=False)
    bad_phones = q.loc[q["issue"] == "invalid_phone", "detail"]
    assert len(bad_phones) and not bad_phones.str.contains(r"\*\*\*", regex=True).all()
