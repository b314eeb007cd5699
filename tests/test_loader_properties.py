"""Property-based tests of the loader: generated messy tables (encodings, delimiters, number and date
formats, title rows, junk rows, blank lines, missing cells, lines with too many fields) never crash it
with anything but a :class:`~kbanalysis.errors.UserError`, and its row accounting is exact:

* every table: read == used + rejected;
* sales: read == the non-blank lines under the header, used == exactly the good lines (same spreadsheet
  row numbers, same values), and every rejected line is listed with its row number.
"""
from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbanalysis.errors import UserError
from kbanalysis.io.case import load_case, parse_dates, parse_numbers

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: KB_PROPERTY_SCALE=20 searches twenty times longer (the normal test run keeps to a few seconds per test)
SCALE = float(os.environ.get("KB_PROPERTY_SCALE", "1"))


def examples(n: int) -> int:
    return max(1, int(n * SCALE))

ENCODINGS = ("utf-8", "utf-8-sig", "cp1251", "utf-16")
DELIMITERS = (",", ";", "\t", "|")
SALES_HEADERS = {
    "canonical": ("date", "client_id", "product_group", "amount", "cost"),
    "russian": ("Дата", "Код клиента", "Товарная группа", "Сумма", "Себестоимость"),
    "export": ("Дата документа", "Код контрагента", "Номенклатурная группа", "Сумма без НДС", "Себестоимость, руб"),
}
CLIENT_HEADERS = {
    "canonical": ("client_id", "name", "channel"),
    "russian": ("Код клиента", "Контрагент", "Канал сбыта"),
}
CLIENT_IDS = ("00-0001", "00-0002", "00-0003", "17", "A-5")
GROUPS = ("инструмент", "краска", "tools", "крепёж", "Электрика 220В")
TITLES = ("Отчёт о продажах за год", "Выгрузка из 1С 8.3", "Организация: ООО «Ромашка»", "Валюта: руб.")
JUNK = ("bad_amount", "bad_date", "old_date", "future_date", "unknown_client", "no_group", "no_amount",
        "no_client", "total", "extra_fields", "short")
BLANK = ("empty", "delimiters", "spaces")


# ---------------------------------------------------------------------------------------------
# formats people type numbers and dates in
# ---------------------------------------------------------------------------------------------
def _group(int_part: str, sep: str) -> str:
    out = ""
    while len(int_part) > 3:
        out = sep + int_part[-3:] + out
        int_part = int_part[:-3]
    return int_part + out


def fmt_number(x: float, style: str) -> str:
    """``x`` (2 decimals) as a person or an export writes it."""
    neg, a = x < 0, f"{abs(x):.2f}"
    i, d = a.split(".")
    body = {
        "plain": f"{i}.{d}",
        "comma": f"{i},{d}",
        "ru_space": f"{_group(i, ' ')},{d}",
        "ru_nbsp": f"{_group(i, chr(0xa0))},{d}",
        "en_group": f"{_group(i, ',')}.{d}",
        "de_group": f"{_group(i, '.')},{d}",
        "rub": f"{_group(i, ' ')},{d} руб.",
    }[style]
    if neg:
        return f"({body})" if style == "rub" else "-" + body
    return body


NUMBER_STYLES = ("plain", "comma", "ru_space", "ru_nbsp", "en_group", "de_group", "rub")


def fmt_date(d: date, style: str) -> str:
    return {
        "iso": d.isoformat(),
        "ru": d.strftime("%d.%m.%Y"),
        "ru_time": d.strftime("%d.%m.%Y") + " 13:45",
        "iso_time": d.isoformat() + " 00:00:00",
        "slash": d.strftime("%d/%m/%Y"),
        "serial": str((d - date(1899, 12, 30)).days),
    }[style]


DATE_STYLES = ("iso", "ru", "ru_time", "iso_time", "slash", "serial")

amounts = st.decimals(min_value=-50_000, max_value=5_000_000, places=2, allow_nan=False).map(float)
days = st.dates(min_value=date(2019, 1, 1), max_value=date(2025, 12, 31))


@st.composite
def good_row(draw):
    return {"kind": "good", "date": draw(days), "client": draw(st.sampled_from(CLIENT_IDS)),
            "group": draw(st.sampled_from(GROUPS)), "amount": draw(amounts),
            "cost": draw(st.none() | amounts), "date_style": draw(st.sampled_from(DATE_STYLES)),
            "num_style": draw(st.sampled_from(NUMBER_STYLES))}


@st.composite
def junk_row(draw):
    r = draw(good_row())
    r["kind"] = draw(st.sampled_from(JUNK))
    return r


rows_strategy = st.lists(st.one_of(good_row(), good_row(), junk_row(), st.sampled_from(BLANK)), min_size=0,
                         max_size=25)


def sales_cells(r, width: int) -> list[str] | str:
    """The cells of one generated line (or a blank-line marker)."""
    if isinstance(r, str):
        return r
    k = r["kind"]
    cells = [fmt_date(r["date"], r["date_style"]), r["client"], r["group"], fmt_number(r["amount"], r["num_style"]),
             "" if r["cost"] is None else fmt_number(r["cost"], r["num_style"])]
    if k == "bad_amount":
        cells[3] = "н/д"
    elif k == "bad_date":
        cells[0] = "31.02.2024"
    elif k == "old_date":
        cells[0] = fmt_date(date(1985, 5, 17), r["date_style"])
    elif k == "future_date":
        cells[0] = fmt_date(date(2099, 1, 1), "ru")
    elif k == "unknown_client":
        cells[1] = "99-9999"
    elif k == "no_group":
        cells[2] = ""
    elif k == "no_amount":
        cells[3] = ""
    elif k == "no_client":
        cells[1] = " "
    elif k == "total":
        cells = ["Итого", "", "", cells[3], ""]
    elif k == "extra_fields":
        cells = cells + ["лишнее", "поле"]
    elif k == "short":
        cells = cells[:1]
    return cells[:width] if k != "extra_fields" else cells


def write_table(path: Path, titles: list[str], header, lines: list, sep: str, encoding: str, eol: str):
    """Write lines with the csv module; blank markers become '', a row of delimiters, or spaces."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator=eol, quoting=csv.QUOTE_MINIMAL)
    for t in titles:
        w.writerow([t])
    w.writerow(header)
    for cells in lines:
        if cells == "empty":
            buf.write(eol)
        elif cells == "delimiters":
            buf.write(sep * (len(header) - 1) + eol)
        elif cells == "spaces":
            buf.write("   " + eol)
        else:
            w.writerow(cells)
    path.write_bytes(buf.getvalue().encode(encoding))


def slash_undecided(dates: list[str]) -> bool:
    """Whether slash dates written day first (the generator's) leave the order open: some read two ways
    (day and month up to 12, not equal) and none has a day above 12 (the loader then refuses to guess)."""
    parts = [m.groups() for x in dates if (m := re.match(r"^(\d{1,2})/(\d{1,2})/\d{4}$", x))]
    return not any(int(a) > 12 for a, _ in parts) and any(a != b and int(b) <= 12 for a, b in parts)


def expected_value(r) -> tuple:
    d = pd.Timestamp(r["date"])
    return d, r["client"], r["group"].strip(), float(f"{r['amount']:.2f}")


# ---------------------------------------------------------------------------------------------
# the loader on generated messy case folders
# ---------------------------------------------------------------------------------------------
@settings(max_examples=examples(70), **SETTINGS)
@given(rows=rows_strategy, s_enc=st.sampled_from(ENCODINGS), s_sep=st.sampled_from(DELIMITERS),
       c_enc=st.sampled_from(ENCODINGS), c_sep=st.sampled_from(DELIMITERS),
       s_head=st.sampled_from(sorted(SALES_HEADERS)), c_head=st.sampled_from(sorted(CLIENT_HEADERS)),
       titles=st.lists(st.sampled_from(TITLES), max_size=2), eol=st.sampled_from(("\n", "\r\n")),
       with_cost=st.booleans(), state_dates=st.booleans())
def test_messy_sales_exact_row_accounting(rows, s_enc, s_sep, c_enc, c_sep, s_head, c_head, titles, eol,
                                          with_cost, state_dates):
    width = 5 if with_cost else 4
    header = list(SALES_HEADERS[s_head][:width])
    lines = [sales_cells(r, width) for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_table(d / "clients.csv", [], CLIENT_HEADERS[c_head],
                    [[c, f"Клиент {i}", "retail"] for i, c in enumerate(CLIENT_IDS)], c_sep, c_enc, eol)
        write_table(d / "sales.csv", titles, header, lines, s_sep, s_enc, eol)
        if state_dates:  # the generator writes slash dates day first
            (d / "mapping.yaml").write_text("dates:\n  sales: day_first\n", encoding="utf-8")
        goods = [(i, r) for i, r in enumerate(rows) if not isinstance(r, str) and r["kind"] == "good"]
        data_lines = [i for i, r in enumerate(rows) if not isinstance(r, str)]
        first = len(titles) + 2  # spreadsheet row of the first line under the header
        in_frame = [c[0] for c, r in zip(lines, rows) if not isinstance(c, str) and r["kind"] != "extra_fields"]
        if not state_dates and slash_undecided(in_frame):
            with pytest.raises(UserError, match="sales.csv: column date: .*dates: {sales: day_first}"):
                load_case(d)
            return
        if not goods:
            with pytest.raises(UserError, match="sales.csv"):
                load_case(d)
            return
        case = load_case(d)
    for t, c in case.counts.items():
        assert c["read"] == c["used"] + c["rejected"], t
    sales = case.tables["sales"]
    assert case.counts["sales"] == {"read": len(data_lines), "used": len(goods),
                                    "rejected": len(data_lines) - len(goods)}
    assert sales["_row"].tolist() == [first + i for i, _ in goods]
    got = list(zip(sales["date"], sales["client_id"], sales["product_group"], sales["amount"]))
    assert got == [expected_value(r) for _, r in goods]
    if with_cost:
        assert sales["cost"].tolist() == pytest.approx(
            [np.nan if r["cost"] is None else float(f"{r['cost']:.2f}") for _, r in goods], nan_ok=True)
    listed = set(case.issues.loc[case.issues["table"] == "sales", "row"].dropna().astype(int))
    rejected = {first + i for i in data_lines} - set(sales["_row"])
    assert rejected <= listed, "every rejected line is listed with its row"
    assert case.counts["clients"] == {"read": len(CLIENT_IDS), "used": len(CLIENT_IDS), "rejected": 0}


@settings(max_examples=examples(60), **SETTINGS)
@given(content=st.one_of(
    st.binary(max_size=600),
    st.text(alphabet=st.sampled_from(list("abcдж;,\t|\"'\n\r 0123456789.-%()ё\u00a0")), max_size=400)
    .map(lambda t: t.encode("utf-8")),
    st.lists(st.lists(st.text(alphabet="датсумкоїЫ0123456789 ,.;-\"'", max_size=12), min_size=1, max_size=7),
             max_size=12).map(lambda rows: "\n".join(";".join(r) for r in rows).encode("cp1251"))),
    header=st.booleans(), enc=st.sampled_from(("utf-8", "cp1251")))
def test_garbage_gives_a_user_error_or_exact_accounting(content, header, enc):
    prefix = "Дата;Код клиента;Товарная группа;Сумма\n".encode(enc) if header else b""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "clients.csv").write_text("client_id,name,channel\n1,A,retail\n2,B,dealer\n", encoding="utf-8")
        (d / "sales.csv").write_bytes(prefix + content)
        try:
            case = load_case(d)
        except UserError as e:
            msg = str(e)
            assert msg and "\n" not in msg.strip() and "sales" in msg
            return
    for t, c in case.counts.items():
        assert c["read"] == c["used"] + c["rejected"], t
        assert c["used"] == len(case.tables[t])
    assert case.tables["sales"]["_row"].is_unique


@settings(max_examples=examples(40), **SETTINGS)
@given(cols=st.lists(st.sampled_from(["date", "client_id", "product_group", "amount", "cost", "sku", "manager"]),
                     unique=True, min_size=1, max_size=7))
def test_missing_required_columns_are_all_named(cols):
    values = {"date": "2024-01-15", "client_id": "1", "product_group": "tools", "amount": "5", "cost": "4",
              "sku": "X1", "manager": "Иванов"}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "clients.csv").write_text("client_id,name,channel\n1,A,retail\n2,B,dealer\n", encoding="utf-8")
        (d / "sales.csv").write_text(";".join(cols) + "\n" + ";".join(values[c] for c in cols) + "\n",
                                     encoding="utf-8")
        missing = [c for c in ("date", "client_id", "product_group", "amount") if c not in cols]
        if len(cols) < 2:
            with pytest.raises(UserError, match="sales.csv"):
                load_case(d)
        elif missing:
            with pytest.raises(UserError) as e:
                load_case(d)
            assert all(f"'{m}'" in str(e.value) for m in missing)
            assert "sales.csv" in str(e.value)
        else:
            assert load_case(d).counts["sales"] == {"read": 1, "used": 1, "rejected": 0}


# ---------------------------------------------------------------------------------------------
# value parsers: every written form reads back to the same value
# ---------------------------------------------------------------------------------------------
@settings(max_examples=examples(200), **SETTINGS)
@given(xs=st.lists(st.tuples(amounts, st.sampled_from(NUMBER_STYLES)), min_size=1, max_size=30))
def test_numbers_read_back_exactly(xs):
    v, bad = parse_numbers(pd.Series([fmt_number(x, s) for x, s in xs], dtype="str"))
    assert not bad.any()
    assert v.tolist() == [float(f"{x:.2f}") for x, _ in xs]


@settings(max_examples=examples(200), **SETTINGS)
@given(junk=st.lists(st.text(max_size=15), min_size=1, max_size=30))
def test_numbers_never_crash_and_flag_every_unreadable_cell(junk):
    s = pd.Series(junk, dtype="str")
    v, bad = parse_numbers(s)
    assert len(v) == len(s) and v.dtype == "float64"
    has_digit = s.str.contains(r"\d", regex=True)
    assert (v.notna() | bad)[has_digit].all(), "a cell with a digit is either a number or flagged"
    blank = s.str.strip() == ""
    assert not bad[blank].any() and v[blank].isna().all(), "a blank cell is missing, not wrong"
    assert not (v.notna() & bad).any()


@settings(max_examples=examples(150), **SETTINGS)
@given(ds=st.lists(st.tuples(days, st.sampled_from(DATE_STYLES)), min_size=1, max_size=30))
def test_dates_read_back_exactly(ds):
    cells = pd.Series([fmt_date(d, s) for d, s in ds], dtype="str")
    if slash_undecided(cells.tolist()):
        with pytest.raises(UserError, match="reads two ways"):
            parse_dates(cells)
        v, bad = parse_dates(cells, ("day_first", "day_first"))
    else:
        v, bad = parse_dates(cells)
    assert not bad.any()
    assert v.tolist() == [pd.Timestamp(d) for d, _ in ds]


@settings(max_examples=examples(60), **SETTINGS)
@given(values=st.lists(st.one_of(st.none(), st.datetimes(min_value=datetime(1995, 1, 1),
                                                          max_value=datetime(2030, 1, 1)),
                                  st.integers(30000, 60000), st.text(max_size=8)), min_size=1, max_size=20))
def test_dates_from_excel_cells_never_crash(values):
    s = pd.Series(values, dtype=object)
    v, bad = parse_dates(s)
    assert len(v) == len(s) and str(v.dtype) == "datetime64[ns]"
    for x, got in zip(values, v):
        if isinstance(x, datetime):
            assert got == pd.Timestamp(x).normalize()
        elif isinstance(x, int):
            assert got == pd.Timestamp("1899-12-30") + timedelta(days=x)
