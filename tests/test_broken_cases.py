"""Broken cases: each either stops with one clear message (UserError, exit code 2) naming what is wrong,
or goes on with the bad rows left out and listed in the quality findings.

What stops: a missing required table or column, a file that is not a table (empty, binary, HTML,
PDF, an old .xls, a text file named .xlsx), a delimiter or an encoding that cannot be made out, no
usable rows, sales of which none names a known client, a single client card, no sales in the 12
months before the analysis date.
What goes on (rows left out and listed): a duplicate client_id, sales of an unknown client, deal
probabilities outside 0–100 %, negative stock, dates before 1990 or in the future, lines with too
many fields, an unclosed quote, a few rows in another encoding, a single month of history.

Most cases call :func:`kbanalysis.io.case.load_case` directly; a few go through the CLI in-process and one
runs ``kbanalysis run`` as a subprocess to show that the user sees one line and no traceback.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kbanalysis.run.cli import main
from kbanalysis.errors import UserError
from kbanalysis.io.case import load_case

CLIENTS = ("client_id,name,channel,inn,phone\n1,ООО Ромашка,retail,7707083893,+79123456789\n"
           "2,ИП Иванов,dealer,,\n3,АО Вектор,wholesale,,\n")
SALES = ("date,client_id,product_group,amount,cost\n2024-01-15,1,tools,1234.5,1000\n"
         "2024-02-03,2,paint,99.9,\n2024-03-01,1,tools,-10,-8\n2024-03-05,3,paint,500,400\n")
DEALS_HEAD = "deal_id,client_id,amount,probability,stage,planned_month,status\n"


@pytest.fixture(autouse=True, params=["c-parser", "fast-path"])
def reader(request, monkeypatch):
    """Every case twice: as small files are read (the C parser, rule by rule) and as large ones are
    (pyarrow's reader and the vectorised shortcuts, forced here by zero thresholds)."""
    if request.param == "fast-path":
        from kbanalysis.io import case as kio

        monkeypatch.setattr(kio, "FAST_CSV_BYTES", 0)
        monkeypatch.setattr(kio, "FAST_MIN_CELLS", 1)
    return request.param


def make_case(d: Path, **files) -> Path:
    """Write a case folder: ``name=text`` (UTF-8) or ``name=bytes``; clients and sales default to good ones."""
    d.mkdir(parents=True, exist_ok=True)
    files = {"clients.csv": CLIENTS, "sales.csv": SALES, **{k.replace("__", "."): v for k, v in files.items()}}
    for name, content in files.items():
        if content is None:
            continue
        p = d / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return d


def stops(d: Path, *needles: str) -> str:
    """load_case raises UserError whose message contains every needle (case-insensitive); return it."""
    with pytest.raises(UserError) as e:
        load_case(d)
    msg = str(e.value)
    assert "\n" not in msg.strip(), "one message, one line"
    for n in needles:
        assert n.lower() in msg.lower(), f"{n!r} not in: {msg}"
    return msg


def issues_of(case, table: str, issue: str) -> pd.DataFrame:
    i = case.issues
    return i.loc[(i["table"] == table) & (i["issue"] == issue)].reset_index(drop=True)


def assert_accounting(case):
    for t, c in case.counts.items():
        assert c["read"] == c["used"] + c["rejected"], t
        assert c["used"] == len(case.tables[t]), t
        rejected_rows = set(case.issues.loc[case.issues["table"] == t, "row"].dropna().astype(int))
        assert c["rejected"] <= len(rejected_rows), f"{t}: every rejected row is listed"


# ---------------------------------------------------------------------------------------------
# the case stops: one message that names what is wrong
# ---------------------------------------------------------------------------------------------
def test_missing_required_table(tmp_path):
    d = make_case(tmp_path, sales__csv=None)
    stops(d, "required table 'sales' is missing", "sales.csv")


def test_missing_table_saved_as_old_xls(tmp_path):
    d = make_case(tmp_path, sales__csv=None, sales__xls=b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    stops(d, "'sales' is missing", "found sales.xls", ".xlsx")


@pytest.mark.parametrize("content,needles", [
    (b"<html><body><table><tr><td>date</td><td>amount</td></tr></table></body></html>",
     ("found sales.xls", "HTML", "save it as .xlsx")),
    (SALES.encode("cp1251"), ("found sales.xls", "text table", "rename it to sales.csv")),
], ids=["html-as-xls", "csv-as-xls"])
def test_missing_table_found_under_an_xls_name(tmp_path, content, needles):
    stops(make_case(tmp_path, sales__csv=None, sales__xls=content), "'sales' is missing", *needles)


def test_missing_required_column_names_file_and_column(tmp_path):
    d = make_case(tmp_path, sales__csv="date,client_id,product_group,cost\n2024-01-15,1,tools,5\n")
    stops(d, "sales.csv", "'amount'", "is missing", "mapping.yaml")


def test_several_missing_columns_are_all_named(tmp_path):
    d = make_case(tmp_path, clients__csv="Код клиента;Регион\n1;Москва\n2;Тверь\n")
    stops(d, "clients.csv", "'name'", "'channel'", "are missing", "'Регион'")


@pytest.mark.parametrize("content,needles", [
    (b"", ("sales.csv", "empty")),
    (b" \r\n\r\n  \n", ("sales.csv", "empty")),
    (bytes(range(256)) * 8, ("sales.csv", "binary")),
    (b"<!DOCTYPE html><html><body><table><tr><td>date</td></tr></table></body></html>", ("sales.csv", "HTML")),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", ("sales.csv", "PDF")),
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\0" * 64, ("sales.csv", "zip", ".xlsx")),
    (b"\x1f\x8b\x08\x00" + b"\0" * 64, ("sales.csv", "gzip")),
], ids=["empty", "blank-lines", "binary", "html", "pdf", "xlsx-named-csv", "gzip"])
def test_csv_that_is_not_a_table(tmp_path, content, needles):
    stops(make_case(tmp_path, sales__csv=content), *needles)


@pytest.mark.parametrize("content,needles", [
    (b"<html><head><meta charset='utf-8'></head><body><table><tr><td>date</td><td>amount</td></tr></table>"
     b"</body></html>", ("sales.xlsx", "HTML", "save it as .xlsx")),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, ("sales.xlsx", "97-2003", "save it as .xlsx")),
    (SALES.encode(), ("sales.xlsx", "not an Excel .xlsx file", "rename it to .csv")),
    (b"PK\x03\x04 this zip is cut short", ("sales.xlsx", "could not be read")),
    (b"", ("sales.xlsx", "empty")),
], ids=["html-as-xlsx", "xls-as-xlsx", "csv-as-xlsx", "broken-zip", "empty"])
def test_xlsx_that_is_not_a_workbook(tmp_path, content, needles):
    stops(make_case(tmp_path, sales__csv=None, sales__xlsx=content), *needles)


def test_parquet_that_is_not_parquet(tmp_path):
    d = make_case(tmp_path, sales__csv=None, sales__parquet=SALES.encode())
    stops(d, "sales.parquet", "not a Parquet file")


def test_wrong_delimiter_gives_one_column(tmp_path):
    d = make_case(tmp_path, sales__csv=SALES.replace(",", ":"))
    stops(d, "sales.csv", "only one column", "date:client_id", "';' or tab")


def test_encoding_that_cannot_be_detected(tmp_path):
    # bytes that are neither UTF-8 nor Windows-1251 (0x98 is unassigned in 1251), nor a Cyrillic DOS/KOI8/Mac
    # export with readable headers
    junk = "Дата;Код клиента;Товарная группа;Сумма\n".encode("cp1251").replace(b"\xe0", b"\x98")
    d = make_case(tmp_path, sales__csv=junk + b"15.01.2024;1;tools;12\n")
    stops(d, "sales.csv", "encoding could not be detected", "UTF-8")


def test_mojibake_headers_say_the_encoding_may_be_wrong(tmp_path):
    # a UTF-8 export that was once read as Windows-1251 and saved again: headers like 'Р”Р°С‚Р°'
    text = "Дата;Код клиента;Товарная группа;Сумма\n15.01.2024;1;tools;12\n"
    garbled = text.encode("utf-8").decode("cp1251").encode("utf-8")
    d = make_case(tmp_path, sales__csv=garbled)
    stops(d, "sales.csv", "'date'", "are missing", "garbled", "encoding", "CSV UTF-8")


def test_no_data_rows(tmp_path):
    stops(make_case(tmp_path, sales__csv="date,client_id,product_group,amount\n\n\n"),
          "sales.csv", "header but no data rows")


def test_no_usable_rows_names_the_first_problems(tmp_path):
    d = make_case(tmp_path, sales__csv="date,client_id,product_group,amount\n2024-01-15,1,tools,н/д\n"
                                       "31.02.2024,1,tools,5\n")
    stops(d, "sales.csv", "no usable rows", "row 2", "amount \"н/д\" is not a number", "row 3")


def test_no_sales_row_names_a_known_client(tmp_path):
    d = make_case(tmp_path, sales__csv=SALES.replace(",1,", ",00-1,").replace(",2,", ",00-2,")
                  .replace(",3,", ",00-3,"))
    stops(d, "sales.csv", "none of the", "clients.csv", "'00-1'", "same client code")


def test_single_client(tmp_path):
    d = make_case(tmp_path, clients__csv="client_id,name,channel\n1,ООО Ромашка,retail\n",
                  sales__csv="date,client_id,product_group,amount\n2024-01-15,1,tools,5\n")
    stops(d, "clients.csv", "only 1 usable client card", "at least two clients")


def test_single_client_after_duplicates_are_left_out(tmp_path):
    d = make_case(tmp_path, clients__csv="client_id,name,channel\n1,ООО Ромашка,retail\n1,Ромашка ООО,retail\n",
                  sales__csv="date,client_id,product_group,amount\n2024-01-15,1,tools,5\n")
    stops(d, "clients.csv", "only 1 usable client card (2 read)")


def test_mapping_to_an_unknown_column(tmp_path):
    d = make_case(tmp_path, mapping__yaml="sales:\n  Сумма: amout\n")
    stops(d, "mapping.yaml", "'amout'", "not a column of sales")


def test_mapping_that_is_not_yaml_mapping(tmp_path):
    stops(make_case(tmp_path, mapping__yaml="sales: [date, amount]\n"), "mapping.yaml", "expected")


def test_many_rows_in_another_encoding_stop(tmp_path):
    good = "date;client_id;product_group;amount\n" + "2024-01-15;1;инструмент;5\n" * 50
    bad = "2024-01-16;2;краска;7\n" * 100
    d = make_case(tmp_path, sales__csv=good.encode("utf-8") + bad.encode("cp1251"))
    stops(d, "sales.csv", "100 rows", "row 52", "mixes encodings")


# ---------------------------------------------------------------------------------------------
# the case goes on: the rows are left out and listed
# ---------------------------------------------------------------------------------------------
def test_duplicate_client_id_is_left_out_and_listed(tmp_path):
    case = load_case(make_case(tmp_path, clients__csv=CLIENTS + "2,ИП Иванов (дубль),dealer,,\n"))
    dup = issues_of(case, "clients", "duplicate_id")
    assert dup[["row", "client_id"]].values.tolist() == [[5, "2"]]
    assert "row 3" in dup["detail"].iloc[0]
    assert case.counts["clients"] == {"read": 4, "used": 3, "rejected": 1}
    assert_accounting(case)


def test_sales_of_unknown_clients_are_left_out_and_listed(tmp_path):
    case = load_case(make_case(tmp_path, sales__csv=SALES + "2024-03-09,99,tools,5,\n2024-03-10,1,tools,6,\n"))
    unk = issues_of(case, "sales", "unknown_client")
    assert unk[["row", "client_id"]].values.tolist() == [[6, "99"]]
    assert "client_id 99 is not in clients.csv" in unk["detail"].iloc[0]
    assert case.counts["sales"] == {"read": 6, "used": 5, "rejected": 1}
    assert_accounting(case)


def test_probability_outside_0_100_is_left_out_and_listed(tmp_path):
    deals = DEALS_HEAD + ("D1,1,100,150,offer,2024-05,open\nD2,1,100,-5,offer,2024-05,open\n"
                          "D3,2,100,40,offer,2024-05,open\nD4,3,100,0.5,offer,2024-05,open\n")
    case = load_case(make_case(tmp_path, deals__csv=deals))
    bad = issues_of(case, "deals", "bad_probability")
    assert bad["row"].tolist() == [2, 3]
    assert 'probability "150" is outside 0–100 %' in bad["detail"].iloc[0]
    assert 'probability "-5"' in bad["detail"].iloc[1]
    assert case.tables["deals"]["probability"].tolist() == pytest.approx([0.40, 0.005])  # 0.5 of 100 %
    assert case.counts["deals"] == {"read": 4, "used": 2, "rejected": 2}


def test_probability_as_fractions_keeps_the_scale(tmp_path):
    deals = DEALS_HEAD + ("D1,1,100,0.4,offer,2024-05,open\nD2,1,100,1.5,offer,2024-05,open\n"
                          "D3,1,100,0.25,offer,2024-05,open\n")
    case = load_case(make_case(tmp_path, deals__csv=deals))
    assert case.tables["deals"]["probability"].tolist() == [0.4, 0.25]
    assert issues_of(case, "deals", "bad_probability")["row"].tolist() == [3]


def test_negative_stock_is_left_out_and_listed(tmp_path):
    stock = "Товарная группа;Остаток на складе;В пути\ntools;-5;0\npaint;1 000,5;\nglue;10;-3\n"
    case = load_case(make_case(tmp_path, stock__csv=stock))
    neg = issues_of(case, "stock", "negative_stock")
    assert neg["row"].tolist() == [2, 4]
    assert "stock of tools is negative (on_hand -5" in neg["detail"].iloc[0]
    assert case.tables["stock"]["product_group"].tolist() == ["paint"]
    assert case.counts["stock"] == {"read": 3, "used": 1, "rejected": 2}


def test_dates_before_1990_and_in_the_future(tmp_path):
    sales = SALES + "1985-03-01,1,tools,5,\n01.01.2099,2,tools,6,\n"
    contacts = "client_id,date,manager\n1,2024-02-01,Иванов\n2,2099-02-01,Иванов\n"
    deals = DEALS_HEAD.replace("status\n", "status,closed_date\n") + "D1,1,100,40,offer,2024-05,won,1985-05-05\n"
    case = load_case(make_case(tmp_path, sales__csv=sales, contacts__csv=contacts, deals__csv=deals))
    early, late = issues_of(case, "sales", "bad_date"), issues_of(case, "sales", "future_date")
    assert early["row"].tolist() == [6] and late["row"].tolist() == [7]
    assert 'date "1985-03-01" is before 1990' in early["detail"].iloc[0]
    assert 'date "01.01.2099" is in the future' in late["detail"].iloc[0]
    assert "missing_value" not in set(case.issues.loc[case.issues["table"] == "sales", "issue"]), "listed once"
    assert case.counts["sales"] == {"read": 6, "used": 4, "rejected": 2}
    assert issues_of(case, "contacts", "future_date")["row"].tolist() == [3]
    # an optional date out of range is blanked, the row is kept
    assert case.counts["deals"] == {"read": 1, "used": 1, "rejected": 0}
    assert case.tables["deals"]["closed_date"].isna().all()
    assert "the value is ignored" in issues_of(case, "deals", "bad_date")["detail"].iloc[0]
    assert_accounting(case)


def test_lines_with_too_many_fields_are_left_out_and_listed(tmp_path):
    sales = SALES + "2024-03-06,1,tools,1,5,extra,fields\n2024-03-07,1,tools,7,\n"
    case = load_case(make_case(tmp_path, sales__csv=sales))
    bad = issues_of(case, "sales", "bad_value")
    assert bad["row"].tolist() == [6]
    assert "7 fields but the header has 5" in bad["detail"].iloc[0]
    assert case.tables["sales"]["_row"].tolist() == [2, 3, 4, 5, 7], "later rows keep their numbers"
    assert case.counts["sales"] == {"read": 6, "used": 5, "rejected": 1}


def test_unclosed_quote_is_listed_and_nothing_is_swallowed(tmp_path):
    sales = "Продажи за 2024 год\n\n" + SALES + '2024-03-06,1,"tools,7,\n2024-03-07,1,tools,8,\n'
    case = load_case(make_case(tmp_path, sales__csv=sales))
    assert case.tables["sales"]["_row"].tolist() == [4, 5, 6, 7, 8, 9], "the line after the quote is a row"
    note = issues_of(case, "sales", "bad_value")
    assert note["row"].tolist() == [8] and "never closed" in note["detail"].iloc[0]
    assert case.counts["sales"]["read"] == 6
    assert_accounting(case)


def test_a_few_rows_in_another_encoding_are_listed(tmp_path):
    good = "date;client_id;product_group;amount\n" + "2024-01-15;1;инструмент;5\n" * 60
    d = make_case(tmp_path, sales__csv=good.encode("utf-8") + "2024-01-16;2;краска;7\n".encode("cp1251"))
    case = load_case(d)
    bad = issues_of(case, "sales", "bad_value")
    assert bad["row"].tolist() == [62] and "UTF-8" in bad["detail"].iloc[0]
    assert case.counts["sales"] == {"read": 61, "used": 61, "rejected": 0}


def test_latin1_text_is_read_but_flagged_as_garbled(tmp_path):
    clients = ("client_id,name,channel\n1,Müller GmbH,retail\n2,Jäger & Söhne,dealer\n3,Café Noël,retail\n"
               "4,Björn Größe,retail\n")
    case = load_case(make_case(tmp_path, clients__csv=clients.encode("latin-1")))
    note = issues_of(case, "clients", "bad_value")
    assert len(note) == 1 and pd.isna(note["row"].iloc[0])
    assert "garbled" in note["detail"].iloc[0] and "encoding" in note["detail"].iloc[0]
    assert case.counts["clients"]["used"] == 4


@pytest.mark.parametrize("encoding", ["koi8-r", "cp866", "mac-cyrillic", "utf-16"])
def test_other_cyrillic_encodings_are_read_when_the_headers_prove_them(tmp_path, encoding):
    sales = "Дата;Код клиента;Товарная группа;Сумма\n15.01.2024;1;Инструмент;1 234,5\n03.02.2024;2;Краска;99,9\n"
    case = load_case(make_case(tmp_path, sales__csv=sales.encode(encoding)))
    assert case.tables["sales"]["product_group"].tolist() == ["Инструмент", "Краска"]
    assert case.tables["sales"]["amount"].tolist() == [1234.5, 99.9]


def test_windows_1251_after_an_ascii_start(tmp_path):
    # the first 64 KB are plain ASCII, Cyrillic comes later: not UTF-8 after all
    sales = "date;client_id;product_group;amount\n" + "2024-01-15;1;tools;5\n" * 4000 + "2024-01-16;2;краска;7\n"
    case = load_case(make_case(tmp_path, sales__csv=sales.encode("cp1251")))
    assert case.tables["sales"]["product_group"].iloc[-1] == "краска"
    assert case.counts["sales"] == {"read": 4001, "used": 4001, "rejected": 0}


# ---------------------------------------------------------------------------------------------
# the workbook's own checks (the analysis date), in-process
# ---------------------------------------------------------------------------------------------
def _synthetic(tmp_path, months=12, keep=None):
    from kbanalysis.synth.case import generate_case, write_case

    c = generate_case(n_clients=60, seed=4, months=months, horizon=2)
    if keep is not None:
        c.tables["sales"] = keep(c.tables["sales"]).reset_index(drop=True)
    return write_case(c, tmp_path / "case", messy=False)


def test_no_sales_in_the_12_months_before_the_analysis_date(tmp_path):
    from kbanalysis.run.workbook import Workbook

    case = _synthetic(tmp_path)
    wb = Workbook(case_dir=str(case), run_dir=str(tmp_path / "run"), as_of="2028-06-01")
    with pytest.raises(UserError, match=r"sales.csv: no sales in the 12 months before 2028-06-01.*as_of"):
        wb.load()


def test_analysis_date_before_every_sale(tmp_path):
    from kbanalysis.run.workbook import Workbook

    case = _synthetic(tmp_path)
    wb = Workbook(case_dir=str(case), run_dir=str(tmp_path / "run"), as_of="2001-01-01")
    with pytest.raises(UserError, match=r"no sales before the analysis date 2001-01-01"):
        wb.load()


def test_single_month_of_history_goes_on_with_a_finding(tmp_path):
    from conftest import run_workbook_inprocess

    case = _synthetic(tmp_path, keep=lambda s: s.loc[s["date"] >= "2026-09-01"])
    run_workbook_inprocess(case, tmp_path / "run")
    q = pd.read_csv(tmp_path / "run" / "quality_issues.csv", dtype=str)
    short = q.loc[q["issue"] == "short_history"]
    assert len(short) == 1 and "only 1 month" in short["detail"].iloc[0]
    assert (tmp_path / "run" / "clients.csv").exists() and (tmp_path / "run" / "forecast.csv").exists()


# ---------------------------------------------------------------------------------------------
# through the CLI: one line on stderr, exit code 2
# ---------------------------------------------------------------------------------------------
def test_cli_validate_broken_case_exit_2_one_line(tmp_path, capsys):
    d = make_case(tmp_path, sales__csv="date,client_id,amount\n2024-01-15,1,5\n")
    assert main(["validate", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kbanalysis: error: sales.csv: required column 'product_group'")


def test_cli_validate_goes_on_and_lists_problems(tmp_path, capsys):
    d = make_case(tmp_path, clients__csv=CLIENTS + "2,ИП Иванов (дубль),dealer,,\n",
                  stock__csv="product_group,on_hand\ntools,-5\npaint,10\n")
    assert main(["validate", str(d)]) == 1  # problems found, nothing fatal
    out = capsys.readouterr().out
    assert "duplicate_id" in out and "negative_stock" in out


def test_cli_run_with_unknown_parameter_stops_before_running(tmp_path, capsys):
    d = make_case(tmp_path)
    assert main(["run", str(d), "--out", str(tmp_path / "run"), "-p", "horizn=3"]) == 2
    assert "unknown parameter 'horizn'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.xdist_group("workbook")
def test_run_subprocess_notebook_error_is_one_line_exit_2(tmp_path):
    """``kbanalysis run`` on a case the workbook refuses inside notebook 01: exit 2, one line, no traceback."""
    case = _synthetic(tmp_path)
    exe = Path(sys.executable).parent / "kbanalysis"
    env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    r = subprocess.run([str(exe), "run", str(case), "--out", str(tmp_path / "run"), "--quiet", "-p",
                        "as_of=2030-01-01"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip() and "IPKernelApp" not in x]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("kbanalysis: error: sales.csv: no sales in the 12 months before 2030-01-01")
    assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "kbanalysis-error.log").exists()


def test_every_stop_message_is_a_user_error_not_a_crash(tmp_path):
    """A sweep of small broken folders: only UserError comes out of load_case, never another exception."""
    rng = np.random.default_rng(0)
    for i in range(30):
        content = rng.integers(0, 256, size=int(rng.integers(1, 400)), dtype=np.uint8).tobytes()
        d = make_case(tmp_path / f"c{i}", sales__csv=content)
        try:
            assert_accounting(load_case(d))
        except UserError:
            pass


@pytest.mark.parametrize("value", ["1e309", "-1e400", "inf"])
def test_infinite_amounts_are_rejected_rows(tmp_path, value):
    """#21: an overflowing amount is a rejected row with its reason, never a used one."""
    sales = SALES + f"2024-03-06,3,paint,{value},1\n"
    case = load_case(make_case(tmp_path, sales__csv=sales))
    assert case.counts["sales"] == {"read": 5, "used": 4, "rejected": 1}
    q = case.issues
    hit = q.loc[(q["table"] == "sales") & (q["row"].astype(str) == "6")]
    assert len(hit) == 1 and hit["issue"].iloc[0] == "bad_number", hit
    assert np.isfinite(case.tables["sales"]["amount"]).all()


@pytest.mark.parametrize("value", ["1e308", "-1e308", "999999999999999999999"])
def test_amounts_beyond_1e15_are_rejected_rows(tmp_path, value):
    """#21 (found by tests/test_damage_property.py): a finite but absurd amount (1e308) was used, and two of them
    summed to infinity (05-summary failed); now the row is rejected, a cost that large is ignored."""
    sales = SALES + f"2024-03-06,3,paint,{value},1\n2024-03-07,3,paint,7,{value}\n"
    case = load_case(make_case(tmp_path, sales__csv=sales))
    assert case.counts["sales"] == {"read": 6, "used": 5, "rejected": 1}
    bad = issues_of(case, "sales", "bad_number")
    assert bad["row"].tolist() == [6, 7]
    assert f'amount "{value}" is beyond ±1,000,000,000,000,000' in bad["detail"].iloc[0]
    assert "the row is left out" in bad["detail"].iloc[0] and "the value is ignored" in bad["detail"].iloc[1]
    s = case.tables["sales"]
    assert s.loc[s["_row"] == 7, "amount"].tolist() == [7.0] and s.loc[s["_row"] == 7, "cost"].isna().all()
    assert_accounting(case)


def test_amount_of_1e15_is_still_used(tmp_path):
    case = load_case(make_case(tmp_path, sales__csv=SALES + "2024-03-06,3,paint,1e15,1\n"))
    assert case.counts["sales"]["used"] == 5 and case.tables["sales"]["amount"].max() == 1e15


def test_a_10000_character_header_is_cut_short_in_the_message(tmp_path):
    """#21 (found by tests/test_damage_property.py): a 10,000-character header made a 10,000-character error line."""
    d = make_case(tmp_path, clients__csv="x" * 10_000 + CLIENTS[len("client_id"):])
    msg = stops(d, "clients.csv", "'client_id' is missing", "(10,000 characters)")
    assert len(msg) < 400


def test_a_10000_character_cell_is_cut_short_in_the_finding(tmp_path):
    sales = "date,client_id,product_group,amount\n" + "2024-01-15,1,tools,5\n" + "2024-01-16,1,tools," + "9" * 50 \
        + "н" * 9_950 + "\n"
    case = load_case(make_case(tmp_path, sales__csv=sales))
    bad = issues_of(case, "sales", "bad_number")
    d = bad["detail"].iloc[0]
    assert bad["row"].tolist() == [3] and d.startswith('amount "999') and d.endswith(" is not a number (10,025 characters)")
    assert len(d) < 400
