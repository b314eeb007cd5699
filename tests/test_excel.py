"""audit.xlsx from a hand-made run folder: sheets, headers, formats, masking, both writers."""
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from kbanalysis.deliverables.excel import number_format, sheet_name, write_audit_xlsx
from kbanalysis.io.runfolder import RunFolder

PHONES = ["8 (912) 345-67-89", "+7 495 123 45 67", "89031112233", "12-34-5"]
EMAILS = ["ivan.petrov@mail.ru", "sales@romashka.ru", "boss@vasilek.com", "x.y@z.org"]
INNS = ["7707083893", "500100732259", "7736207543", "1234567890"]
LONG_MANAGER = "Петрова Анна Сергеевна / отдел ключевых клиентов"


class _Run(RunFolder):
    def write_csv(self, name, df):  # plain pandas: the test controls exactly what is in the files
        df.to_csv(self.path / name, index=False)


@pytest.fixture
def run_dir(tmp_path) -> Path:
    rf = _Run(tmp_path / "run")
    ids = ["C1", "C2", "C3", "C4"]
    rf.write_csv("clients.csv", pd.DataFrame({
        "client_id": ids, "base": ["active", "sleeping", "lost", "potential"], "abcde": ["A", "C", "B", None],
        "revenue_12m": [1_234_567.0, 240_000.0, 96_000.0, None], "margin_12m": [200_000.0, 40_000.0, 10_000.0, None],
        "wallet_month": [500_000.0, 80_000.0, 40_000.0, 30_000.0], "wallet_low": [300_000.0, 50_000.0, 20_000.0, 9.0],
        "wallet_high": [800_000.0, 120_000.0, 60_000.0, 50_000.0], "share_of_wallet": [0.2057, 0.25, 0.2, 0.0],
        "loyalty": ["main", "main", "main", "indifferent"], "upsell_month": [50_000.0, 0.0, 0.0, 0.0],
        "crosssell_month": [20_000.0, 5_000.0, 0.0, 0.0], "plan_month": [130_000.0, 25_000.0, 8_000.0, 900.0],
        "cluster": ["1", "2", "2", "3"], "key_account": ["critical", "none", "none", "none"]}))
    rf.write_csv("lost_clients.csv", pd.DataFrame({"client_id": ["C3"], "last_order_date": ["2024-03-15"],
                                                   "active_months": [6], "avg_month_revenue": [8_000.0],
                                                   "priority": [1]}))
    rf.write_csv("duplicates.csv", pd.DataFrame({"client_id": ["C4"], "duplicate_of": ["C2"], "reason": ["same_inn"]}))
    rf.write_csv("quality_issues.csv", pd.DataFrame({
        "table": ["clients", "clients", "sales"], "row": [5, 2, None], "client_id": ["C4", "C1", None],
        "issue": ["invalid_phone", "invalid_inn", "short_history"],
        "detail": [f"номер «{PHONES[3]}» не похож на действующий", f"ИНН «{INNS[3]}»: не сходятся контрольные цифры",
                   "only 1 month of sales history"]}))
    rf.write_csv("forecast.csv", pd.DataFrame({
        "month": ["2024-07", "2024-07", "2024-08"], "product_group": ["ALL", "Трубы", "Трубы"],
        "pipeline": [1e6, 6e5, 5e5], "pipeline_calibrated": [8e5, 5e5, 4e5], "history": [9e5, 5.5e5, 5e5],
        "marketing": [1.1e6, None, None], "reconciled": [9.5e5, 5.2e5, 4.8e5], "stock_available": [5e5, 3e5, 0.0],
        "stock_gap": [4.5e5, 2.2e5, 4.8e5], "flag": ["stock_short;sources_disagree", "stock_short", None]}))
    rf.write_work("clients", pd.DataFrame({
        "client_id": ids, "name": ["ООО «Ромашка»", "=HYPERLINK(\"http://x\")", "ИП Васильков", "ЗАО Лютик"],
        "channel": ["опт", "розница", "опт", "дилер"], "region": ["Москва", "Казань", "Москва", None],
        "manager": ["Иванов", LONG_MANAGER, "Иванов", None], "phone": PHONES, "email": EMAILS, "inn": INNS,
        "status": ["active"] * 4, "_row": [2, 3, 4, 5]}))
    return rf.path


def _cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None:
                    yield ws, c


def _col(ws, title):
    for c in ws[1]:
        if c.value == title:
            return c.column_letter
    raise AssertionError(f"no column {title!r} in {ws.title}: {[c.value for c in ws[1]]}")


def test_workbook_ru(run_dir):
    path = write_audit_xlsx(run_dir, lang="ru")
    assert path == run_dir / "audit.xlsx"
    wb = load_workbook(path)
    names = wb.sheetnames
    assert len(names) >= 4
    assert names[:6] == ["Клиенты", "Возврат клиентов", "Допродажи и кросс-продажи", "Дубли карточек",
                         "Качество данных", "Прогноз"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb.endswith("DCE6F1")
        assert ws.column_dimensions["A"].width >= 6
        assert len(ws.title) <= 31
    ws = wb["Клиенты"]
    heads = [c.value for c in ws[1]]
    assert heads[:5] == ["Код клиента", "Клиент", "Канал сбыта", "Регион", "Менеджер"]
    assert "Наша доля в закупках клиента" in heads and "Ключевой клиент" in heads
    rev = _col(ws, "Выручка за 12 мес.")
    assert ws[f"{rev}2"].value == pytest.approx(1_234_567.0)  # sorted by revenue, largest first
    assert ws[f"{rev}2"].number_format == '#,##0 "₽"'
    assert ws[f"{_col(ws, 'План продаж в мес.')}2"].number_format == '#,##0 "₽"'
    assert ws[f"{_col(ws, 'Наша доля в закупках клиента')}2"].number_format == "0.0%"
    values = {c.value for _, c in _cells(wb)}
    assert {"активные", "спящие", "потерянные", "потенциальные (ни разу не покупали)", "критическая зависимость",
            "один из основных поставщиков"} <= values
    assert {"некорректный телефон", "одинаковый ИНН", "все группы", "не хватает запаса; источники прогноза расходятся"} \
        <= values
    lost = wb["Возврат клиентов"]
    d = lost[f"{_col(lost, 'Последняя отгрузка')}2"]
    assert d.number_format == "dd.mm.yyyy" and d.value.year == 2024
    assert lost[f"{_col(lost, 'Клиент')}2"].value == "ИП Васильков"
    # one sheet per manager, names sanitized and short; clients without a manager get none
    assert "Иванов" in names and sheet_name(LONG_MANAGER) in names
    iv = wb["Иванов"]
    assert sorted(c.value for c in iv["A"][1:-1]) == ["C1", "C3"] and iv["A"][-1].value == "Итого"
    # a name starting with "=" stays text, never a formula
    formula_like = [c for _, c in _cells(wb) if isinstance(c.value, str) and c.value.startswith("=HYPERLINK")]
    assert formula_like and all(c.data_type == "s" for c in formula_like)


def test_no_raw_pii_when_masked(run_dir):
    wb = load_workbook(write_audit_xlsx(run_dir, lang="ru", mask=True, mask_contacts=True))
    text = "\n".join(str(c.value) for _, c in _cells(wb))
    for raw in PHONES + EMAILS + INNS:
        assert raw not in text, raw
    digits = re.sub(r"\D", "", text)
    for raw in PHONES[:3]:
        assert re.sub(r"\D", "", raw)[-10:] not in digits
    assert "+7 (912) ***-**-89" in text and "i***@mail.ru" in text and "77******93" in text
    # and unmasked when asked
    wb = load_workbook(write_audit_xlsx(run_dir, run_dir / "raw.xlsx", lang="ru", mask=False))
    text = "\n".join(str(c.value) for _, c in _cells(wb))
    assert PHONES[0] in text and EMAILS[0] in text


def test_workbook_en_has_no_cyrillic_headers(run_dir):
    wb = load_workbook(write_audit_xlsx(run_dir, lang="en"))
    assert wb.sheetnames[:6] == ["Clients", "Win-back", "Up-sale and cross-sale", "Duplicates", "Data quality",
                                 "Forecast"]
    for ws in wb.worksheets:
        for c in ws[1]:
            assert c.value and not re.search("[А-Яа-яЁё]", c.value), (ws.title, c.value)
    ws = wb["Clients"]
    assert ws[f"{_col(ws, 'Revenue, 12 months')}2"].number_format == "#,##0"
    values = {c.value for _, c in _cells(wb)}
    assert {"active", "potential (never bought)", "invalid phone", "all groups"} <= values


def test_fast_writer_equals_openpyxl_writer(run_dir):
    a = load_workbook(write_audit_xlsx(run_dir, run_dir / "a.xlsx", engine="fast"))
    b = load_workbook(write_audit_xlsx(run_dir, run_dir / "b.xlsx", engine="openpyxl"))
    assert a.sheetnames == b.sheetnames
    for wa, wb_ in zip(a.worksheets, b.worksheets):
        assert wa.max_row == wb_.max_row and wa.max_column == wb_.max_column, wa.title
        for ra, rb in zip(wa.iter_rows(), wb_.iter_rows()):
            for ca, cb in zip(ra, rb):
                if isinstance(ca.value, float):
                    assert ca.value == pytest.approx(cb.value, rel=1e-12), (wa.title, ca.coordinate)
                else:
                    assert ca.value == cb.value, (wa.title, ca.coordinate)
                assert ca.number_format == cb.number_format, (wa.title, ca.coordinate)
                assert ca.data_type == cb.data_type, (wa.title, ca.coordinate)


def test_only_clients_csv(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "clients.csv").write_text("client_id,base,revenue_12m\n007,active,10\n", encoding="utf-8")
    wb = load_workbook(write_audit_xlsx(run))
    ws = wb["Клиенты"]
    assert ws["A2"].value == "007"  # IDs keep their leading zeros
    assert all(w.freeze_panes == "A2" for w in wb.worksheets)


def test_missing_clients_csv_is_a_user_error(tmp_path):
    from kbanalysis.errors import UserError

    with pytest.raises(UserError, match="clients.csv"):
        write_audit_xlsx(tmp_path)


def test_helpers():
    assert number_format("money", "ru", "USD") == '#,##0 "$"'
    assert number_format("month", "ru") == "mm.yyyy"
    taken = set()
    names = [sheet_name("a" * 40, taken), sheet_name("A" * 40, taken), sheet_name("x[1]:*?/\\", taken)]
    assert all(len(n) <= 31 for n in names) and len({n.lower() for n in names}) == 3
    assert not re.search(r"[\[\]:*?/\\]", names[2])


def test_managers_sheets_show_contacts_in_full_by_default(run_dir):
    """mask_pii masks the director's sheets; a manager's own sheets and the data fixes show what to call or fix."""
    wb = load_workbook(write_audit_xlsx(run_dir, lang="ru", mask=True))
    director = "\n".join(str(c.value) for ws, c in _cells(wb) if ws.title in ("Клиенты", "Допродажи и кросс-продажи"))
    for raw in PHONES + EMAILS + INNS:
        assert raw not in director, raw
    own = "\n".join(str(c.value) for ws, c in _cells(wb) if ws.title in ("Иванов", "Возврат клиентов"))
    assert any(p in own for p in PHONES) and any(e in own for e in EMAILS)
    quality = "\n".join(str(c.value) for ws, c in _cells(wb) if ws.title == "Качество данных")
    assert "*" not in quality  # the value to fix is shown as it is


def test_print_setup_and_totals_rows(run_dir, tmp_path):
    for engine in ("fast", "openpyxl"):
        wb = load_workbook(write_audit_xlsx(run_dir, tmp_path / f"{engine}.xlsx", lang="en", engine=engine))
        for ws in wb.worksheets:
            assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1, ws.title
            assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows == "$1:$1", ws.title
        ws = wb["Clients"]
        n = ws.max_row
        rev = _col(ws, "Revenue, 12 months")
        assert ws[f"A{n}"].value == "Total"
        assert ws[f"{rev}{n}"].value == f"=SUBTOTAL(9,{rev}2:{rev}{n - 1})"
        assert ws[f"{rev}{n}"].number_format == "#,##0"
        assert ws.auto_filter.ref.endswith(str(n - 1))  # the totals row stays out of the filter
        assert wb["Data quality"]["A"][-1].value != "Total"  # no money, no totals


def test_sheets_show_the_case_labels_of_channels(tmp_path):
    """mapping.yaml's labels reach the managers' workbook; clients.csv keeps the code (#23 item 4)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "clients.csv").write_text("client_id,base,channel,revenue_12m\n1,active,dealer,10\n2,active,web,5\n",
                                     encoding="utf-8")
    values = {"channel": {"dealer": {"ru": "Дилеры", "en": "Dealers"}}}
    ws = load_workbook(write_audit_xlsx(run, values=values))["Клиенты"]
    head = [c.value for c in ws[1]]
    col = head.index("Канал сбыта") + 1
    assert [ws.cell(r, col).value for r in (2, 3)] == ["Дилеры", "web"]
    en = load_workbook(write_audit_xlsx(run, tmp_path / "en.xlsx", lang="en", values=values)).worksheets[0]
    assert "Dealers" in [c.value for row in en.iter_rows() for c in row]
    assert "dealer" in (run / "clients.csv").read_text(encoding="utf-8")
