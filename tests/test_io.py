"""Loading case folders: every format quirk of real exports, each on a tiny fixture."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kbanalysis.errors import UserError
from kbanalysis.io.case import load_case, parse_dates, parse_months, parse_numbers

CLIENTS_PLAIN = "client_id,name,channel,inn,phone\n1,ООО Ромашка,retail,7707083893,+79123456789\n2,ИП Иванов,dealer,,\n"
SALES_PLAIN = ("date,client_id,product_group,amount,cost\n2024-01-15,1,tools,1234.5,1000\n"
               "2024-02-03,2,paint,99.9,\n2024-03-01,1,tools,-10,-8\n")


def write(d: Path, name: str, text: str, encoding="utf-8"):
    (d / name).write_text(text, encoding=encoding)


def plain_case(d: Path) -> Path:
    write(d, "clients.csv", CLIENTS_PLAIN)
    write(d, "sales.csv", SALES_PLAIN)
    return d


def canon(case):
    out = {}
    for k, df in case.tables.items():
        out[k] = df.drop(columns="_row").reset_index(drop=True)
    return out


def assert_same(a, b):
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k], check_dtype=True)


@pytest.fixture
def plain(tmp_path):
    d = tmp_path / "plain"
    d.mkdir()
    return canon(load_case(plain_case(d)))


MESSY_CLIENTS = ("Код клиента;Контрагент;Канал сбыта;ИНН;Телефон\n"
                 "1;ООО Ромашка;retail;7707083893;+79123456789\n2;ИП Иванов;dealer;;\n")
MESSY_SALES = ("Дата;Код клиента;Товарная группа;Сумма;Себестоимость\n15.01.2024;1;tools;1 234,5;1 000\n"
               "03.02.2024;2;paint;99,9;\n01.03.2024;1;tools;-10;-8\n")


@pytest.mark.parametrize("encoding", ["cp1251", "utf-8", "utf-8-sig"])
@pytest.mark.parametrize("sep", [";", "\t"])
def test_messy_csv_equals_plain(tmp_path, plain, encoding, sep):
    write(tmp_path, "clients.csv", MESSY_CLIENTS.replace(";", sep), encoding)
    write(tmp_path, "sales.csv", MESSY_SALES.replace(";", sep), encoding)
    assert_same(canon(load_case(tmp_path)), plain)


def test_nbsp_thousands_and_quoted_comma_decimals(tmp_path, plain):
    write(tmp_path, "clients.csv", CLIENTS_PLAIN)
    write(tmp_path, "sales.csv", 'Дата,Код клиента,Товарная группа,Сумма,Себестоимость\n'
                                 '15.01.2024,1,tools,"1\u00a0234,5","1 000,00"\n03.02.2024,2,paint,"99,9",\n'
                                 '01.03.2024,1,tools,-10,-8\n')
    assert_same(canon(load_case(tmp_path)), plain)


def test_xlsx_with_excel_dates_and_title_rows(tmp_path, plain):
    write(tmp_path, "clients.csv", CLIENTS_PLAIN)
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Отчёт о продажах за 2024 год"])
    ws.append([])
    ws.append(["Дата", "Код клиента", "Товарная группа", "Сумма", "Себестоимость"])
    ws.append([pd.Timestamp("2024-01-15").to_pydatetime(), 1, "tools", 1234.5, 1000])
    ws.append([45325, 2, "paint", 99.9, None])  # Excel serial of 2024-02-03
    ws.append(["01.03.2024", "1", "tools", -10, -8])
    wb.save(tmp_path / "sales.xlsx")
    case = load_case(tmp_path)
    assert_same(canon(case), plain)
    assert case.tables["sales"]["_row"].tolist() == [4, 5, 6]


def test_parquet(tmp_path, plain):
    write(tmp_path, "clients.csv", CLIENTS_PLAIN)
    pd.read_csv(pd.io.common.StringIO(SALES_PLAIN), dtype={"client_id": str}).assign(
        date=lambda d: pd.to_datetime(d["date"])).to_parquet(tmp_path / "sales.parquet")
    assert_same(canon(load_case(tmp_path)), plain)


def test_mapping_yaml_and_driver_columns(tmp_path):
    write(tmp_path, "clients.csv", "Код;Клиент;Тип;Станки, шт;Торговые точки\n1;А;retail;3;2\n2;Б;retail;5;\n",
          "cp1251")
    write(tmp_path, "sales.csv", "Дата;Клиент ID;Группа;Выручка\n01.01.2024;1;x;10\n")
    write(tmp_path, "mapping.yaml", "clients:\n  Тип: channel\n  'Станки, шт': machines\nsales:\n  Клиент ID: client_id\n")
    case = load_case(tmp_path)
    c = case.tables["clients"]
    assert c["channel"].tolist() == ["retail", "retail"]
    assert c["machines"].tolist() == [3.0, 5.0] and c["outlets"].iloc[0] == 2.0
    assert set(case.drivers) == {"machines", "outlets"}


def test_bad_rows_are_listed_with_spreadsheet_rows_and_counted(tmp_path):
    write(tmp_path, "clients.csv", CLIENTS_PLAIN)
    write(tmp_path, "sales.csv", "date,client_id,product_group,amount\n2024-01-15,1,tools,10\n"
                                 "2024-01-16,1,tools,н/д\n31.02.2024,1,tools,5\n2024-01-17,99,tools,5\n"
                                 "2024-01-18,1,,5\n\n2024-01-19,2,tools,7\n")
    case = load_case(tmp_path)
    got = case.issues.loc[case.issues["table"] == "sales", ["row", "issue"]].astype({"row": int})
    assert got.values.tolist() == [[3, "bad_number"], [4, "bad_date"], [5, "unknown_client"], [6, "missing_value"]]
    assert case.counts["sales"] == {"read": 6, "used": 2, "rejected": 4}
    assert case.tables["sales"]["_row"].tolist() == [2, 8]
    detail = case.issues.loc[case.issues["row"] == 3, "detail"].iloc[0]
    assert detail == 'amount "н/д" is not a number'


def test_deals_percent_probability_months_and_russian_status(tmp_path):
    plain_case(tmp_path)
    write(tmp_path, "deals.csv", "Сделка;Код клиента;Сумма;Вероятность;Стадия;Месяц;Статус\n"
                                 "D1;1;100 000;40%;переговоры;2024-05;открыта\n"
                                 "D2;2;5 000;;счёт;03.2024;выиграна\n"
                                 "D3;1;7 000;150;счёт;2024-05;открыта\n", "cp1251")
    case = load_case(tmp_path)
    d = case.tables["deals"]
    assert d["probability"].iloc[0] == pytest.approx(0.40)
    assert d["status"].tolist() == ["open", "won"]
    assert d["planned_month"].tolist() == [pd.Timestamp("2024-05-01"), pd.Timestamp("2024-03-01")]
    assert case.issues.loc[case.issues["table"] == "deals", "issue"].tolist() == ["bad_probability"]


def test_duplicate_client_ids_keep_the_first(tmp_path):
    write(tmp_path, "clients.csv", CLIENTS_PLAIN + "1,ООО Другая,retail,,\n")
    write(tmp_path, "sales.csv", SALES_PLAIN)
    case = load_case(tmp_path)
    assert case.counts["clients"] == {"read": 3, "used": 2, "rejected": 1}
    row = case.issues.loc[case.issues["issue"] == "duplicate_id"].iloc[0]
    assert row["row"] == 4 and "row 2" in row["detail"]


@pytest.mark.parametrize("values,expected", [
    (["1 234,56"], [1234.56]), (["1,234.56"], [1234.56]), (["1.234,56"], [1234.56]), (["12,5"], [12.5]),
    (["1,234,567"], [1234567.0]), (["\u22125"], [-5.0]), (["(7)"], [-7.0]), (["15 %"], [15.0]),
    (["100 руб."], [100.0]), (["₽ 1 000"], [1000.0]),
])
def test_numbers(values, expected):
    v, bad = parse_numbers(pd.Series(values))
    assert v.tolist() == expected and not bad.any()


def test_dates_and_months():
    v, bad = parse_dates(pd.Series(["2024-02-29", "29.02.2024", "29.02.2024 13:45", "45351", "2024-02-29 10:00:00",
                                    "30.02.2024", "вчера"]))
    assert v.iloc[:5].tolist() == [pd.Timestamp("2024-02-29")] * 5
    assert bad.tolist() == [False] * 5 + [True, True]
    m, bad = parse_months(pd.Series(["2024-2", "02.2024", "февраль 2024", "2024-02-17"]))
    assert m.tolist() == [pd.Timestamp("2024-02-01")] * 4 and not bad.any()


@pytest.mark.parametrize("content,needle", [
    (b"", "empty"),
    (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "HTML"),
    (b"\x00\x01\x02\x03binary\x00junk", "binary"),
    (b"PK\x03\x04zipzipzip", "Excel"),
])
def test_not_a_table(tmp_path, content, needle):
    write(tmp_path, "clients.csv", CLIENTS_PLAIN)
    (tmp_path / "sales.csv").write_bytes(content)
    with pytest.raises(UserError, match=needle):
        load_case(tmp_path)


def test_missing_required_column_names_file_and_column(tmp_path):
    write(tmp_path, "clients.csv", CLIENTS_PLAIN)
    write(tmp_path, "sales.csv", "date,client_id,amount\n2024-01-01,1,5\n")
    with pytest.raises(UserError, match=r"sales.csv: required column 'product_group' is missing"):
        load_case(tmp_path)


def test_missing_required_table(tmp_path):
    write(tmp_path, "clients.csv", CLIENTS_PLAIN)
    with pytest.raises(UserError, match="required table 'sales' is missing"):
        load_case(tmp_path)


def test_two_formats_of_one_table(tmp_path):
    plain_case(tmp_path)
    write(tmp_path, "sales.xlsx", "x")
    with pytest.raises(UserError, match="given twice"):
        load_case(tmp_path)


@pytest.mark.parametrize("value", ["12,3,4", "1.2.3", "1,23,456"])
def test_malformed_grouping_is_not_a_number(value):
    v, bad = parse_numbers(pd.Series([value]))
    assert bad.tolist() == [True]


def test_months_are_nanosecond_datetimes():
    m, _ = parse_months(pd.Series(["2025-03"]))
    assert str(m.dtype) == "datetime64[ns]"


def test_error_quoting_a_cell_with_a_line_break_stays_on_one_line(tmp_path):
    # found by the property test: a quoted cell holding a line break, quoted back in the message
    write(tmp_path, "clients.csv", CLIENTS_PLAIN)
    (tmp_path / "sales.csv").write_bytes("Дата;Код клиента;Товарная группа;Сумма\n".encode() + b'"\x01\n"\x01')
    with pytest.raises(UserError) as e:
        load_case(tmp_path)
    assert "\n" not in str(e.value) and "\\n" in str(e.value)


def test_parse_table_consume_frees_raw_columns_and_gives_the_same_table():
    """``consume=True`` (what load_table uses, to keep a large load's peak down) parses exactly as
    without it and leaves only the columns it did not parse in the raw frame."""
    import numpy as np

    from kbanalysis.io.case import parse_table
    from kbanalysis.schema import TABLES

    raw = pd.DataFrame({"date": ["05.02.2024", "", "31.02.2024", "2024-03-01"],
                        "client_id": ["a", "", "b", "c"], "amount": ["12,5", "", "н/д", "7"],
                        "product_group": ["x", "", "y", "x"], "note": ["", "", "", "кто-то"]}, dtype="str")
    rows = np.arange(2, 6)
    ref = parse_table(raw.copy(), rows, TABLES["sales"], "sales.csv")
    eaten = raw.copy()
    got = parse_table(eaten, rows, TABLES["sales"], "sales.csv", consume=True)
    pd.testing.assert_frame_equal(got[0], ref[0])
    pd.testing.assert_frame_equal(got[1], ref[1])
    assert got[2] == ref[2] == 3  # the blank line is not a row
    assert list(eaten.columns) == ["note"]
    assert list(ref[1]["issue"]) == ["bad_date", "bad_number"]


def test_only_known_driver_columns_or_the_drivers_parameter_are_drivers(tmp_path):
    """A row counter is numeric but no potential: without ``drivers`` it is named as ignored, not used;
    listed in ``drivers`` it is the only driver (#21 item 6)."""
    from kbanalysis.io.case import load_case

    (tmp_path / "clients.csv").write_text("client_id,name,channel,outlets,row_no\na,A,retail,3,1\nb,B,retail,5,2\n",
                                          encoding="utf-8")
    (tmp_path / "sales.csv").write_text("date,client_id,product_group,amount\n2024-01-15,a,x,100\n2024-02-03,b,x,50\n",
                                        encoding="utf-8")
    case = load_case(tmp_path)
    assert case.drivers == ["outlets"] and case.ignored_numeric == ["row_no"]
    named = load_case(tmp_path, drivers=["row_no"])
    assert named.drivers == ["row_no"] and "row_no" in named.tables["clients"]
