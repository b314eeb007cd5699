"""Day-month dates are never guessed: the order of ``10/02/2023`` is decided for the whole column.

A column whose unambiguous slash dates are month first (``10/13/2023``) is read month first, day first
likewise; a column that has both kinds, or only dates that read two ways, is a UserError naming the
file, the column and a row and saying how ``mapping.yaml`` states the order (``dates: {sales: ...}``).
Dot dates stay DD.MM.YYYY unless the mapping says otherwise. Streamed loads decide as the whole-file
load does, also when the first batches cannot tell.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from kbanalysis.errors import UserError
from kbanalysis.io import case as kio
from kbanalysis.io.case import load_case, parse_dates, read_mapping

CLIENTS = "client_id,name,channel\n1,ООО Ромашка,retail\n2,ИП Иванов,dealer\n"
HEAD = "date,client_id,product_group,amount\n"
T = pd.Timestamp


def make_case(tmp_path: Path, dates: list[str], mapping: str | None = None) -> Path:
    d = tmp_path / "case"
    d.mkdir(exist_ok=True)
    (d / "clients.csv").write_text(CLIENTS, encoding="utf-8")
    (d / "sales.csv").write_text(HEAD + "".join(f"{x},1,tools,{i + 1}\n" for i, x in enumerate(dates)),
                                 encoding="utf-8")
    if mapping is not None:
        (d / "mapping.yaml").write_text(mapping, encoding="utf-8")
    return d


def sales_dates(case) -> list:
    return case.tables["sales"]["date"].tolist()


# ---------------------------------------------------------------------------------------------
# parse_dates on one column
# ---------------------------------------------------------------------------------------------
def test_a_month_first_column_is_read_month_first():
    v, bad = parse_dates(pd.Series(["10/02/2023", "10/13/2023", "1/31/2024 10:30", "12/01/2023 08:00:05"]))
    assert v.tolist() == [T("2023-10-02"), T("2023-10-13"), T("2024-01-31"), T("2023-12-01")]
    assert not bad.any()


def test_a_day_first_column_is_read_day_first():
    v, bad = parse_dates(pd.Series(["02/10/2023", "13/10/2023", "31/1/2024 10:30"]))
    assert v.tolist() == [T("2023-10-02"), T("2023-10-13"), T("2024-01-31")]
    assert not bad.any()


def test_the_decision_is_the_same_for_long_columns_parsed_once_per_distinct_value(monkeypatch):
    monkeypatch.setattr(kio, "FAST_MIN_CELLS", 1)
    s = pd.Series(["10/02/2023"] * 5 + ["10/13/2023"], dtype="str")
    v, _ = parse_dates(s)
    assert v.tolist() == [T("2023-10-02")] * 5 + [T("2023-10-13")]


def test_equal_day_and_month_need_no_order_and_iso_stays_iso():
    v, bad = parse_dates(pd.Series(["05/05/2023", "2023-02-10", "10.02.2023", ""]))
    assert v.tolist()[:3] == [T("2023-05-05"), T("2023-02-10"), T("2023-02-10")] and not bad.any()


def test_orders_can_be_given():
    v, _ = parse_dates(pd.Series(["10/02/2023", "10.02.2023"]), ("month_first", "month_first"))
    assert v.tolist() == [T("2023-10-02"), T("2023-10-02")]
    v, bad = parse_dates(pd.Series(["10/02/2023", "10/13/2023"]), ("day_first", "day_first"))
    assert v.tolist()[0] == T("2023-02-10") and bad.tolist() == [False, True]


# ---------------------------------------------------------------------------------------------
# a case folder
# ---------------------------------------------------------------------------------------------
def test_a_month_first_sales_file_moves_no_row(tmp_path):
    """The issue's file: 10/02/2023 used to be read as 10 February, 10/13/2023 rejected."""
    case = load_case(make_case(tmp_path, ["10/02/2023", "10/13/2023", "11/01/2023"]))
    assert sales_dates(case) == [T("2023-10-02"), T("2023-10-13"), T("2023-11-01")]
    assert case.counts["sales"] == {"read": 3, "used": 3, "rejected": 0}


def test_a_column_with_both_orders_is_an_error_naming_file_column_and_rows(tmp_path):
    d = make_case(tmp_path, ["2023-10-01", "13/02/2023", "10/02/2023", "10/13/2023"])
    with pytest.raises(UserError) as e:
        load_case(d)
    msg = str(e.value)
    assert msg.startswith("sales.csv: column date: slash dates are written both day first (row 3: '13/02/2023') "
                          "and month first (row 5: '10/13/2023')")
    assert "mapping.yaml" in msg and "'dates: {sales: month_first}'" in msg and "day_first" in msg


def test_a_column_of_only_two_way_dates_is_an_error(tmp_path):
    d = make_case(tmp_path, ["05/05/2023", "10/02/2023", "11/03/2023"])
    with pytest.raises(UserError, match=r"^sales\.csv: column date: every slash date has a day and a month up to "
                                        r"12, so each reads two ways \(row 3: '10/02/2023'\);.*mapping\.yaml"):
        load_case(d)


def test_the_mapping_states_the_order(tmp_path):
    d = make_case(tmp_path, ["10/02/2023", "11/03/2023"], "dates:\n  sales: month_first\n")
    assert sales_dates(load_case(d)) == [T("2023-10-02"), T("2023-11-03")]
    (d / "mapping.yaml").write_text("dates: {sales: day_first}\n", encoding="utf-8")
    assert sales_dates(load_case(d)) == [T("2023-02-10"), T("2023-03-11")]


def test_with_the_order_stated_the_dates_that_do_not_fit_are_rejected_rows(tmp_path):
    d = make_case(tmp_path, ["13/02/2023", "10/02/2023", "10/13/2023"], "dates: {sales: month_first}\n")
    case = load_case(d)
    assert sales_dates(case) == [T("2023-10-02"), T("2023-10-13")]
    bad = case.issues.loc[case.issues["issue"] == "bad_date"]
    assert bad["row"].tolist() == [2] and bad["detail"].tolist() == ['date "13/02/2023" is not a date']


def test_the_mapping_also_turns_dot_dates(tmp_path):
    d = make_case(tmp_path, ["10.02.2023", "10.13.2023"], "dates: {sales: month_first}\n")
    assert sales_dates(load_case(d)) == [T("2023-10-02"), T("2023-10-13")]


def test_dot_dates_stay_day_first(tmp_path):
    case = load_case(make_case(tmp_path, ["10.02.2023", "11.03.2023", "25.03.2023", "03.25.2023"]))
    assert sales_dates(case) == [T("2023-02-10"), T("2023-03-11"), T("2023-03-25")]  # 03.25: a typo, rejected
    assert case.issues.loc[case.issues["issue"] == "bad_date", "row"].tolist() == [5]


def test_dot_dates_that_only_read_month_first_are_an_error(tmp_path):
    d = make_case(tmp_path, ["10.02.2023", "10.13.2023"])
    with pytest.raises(UserError, match=r"^sales\.csv: column date: dot dates are read day first \(DD\.MM\.YYYY\), "
                                        r"but row 3: '10\.13\.2023' is a date only month first"):
        load_case(d)


def test_each_date_column_is_decided_on_its_own(tmp_path):
    d = make_case(tmp_path, ["2023-10-01", "2023-10-02"])
    (d / "deals.csv").write_text("deal_id,client_id,stage,status,amount,probability,planned_month,created_date,"
                                 "closed_date\na,1,done,won,10,,2023-10,10/13/2023,13/10/2023\n"
                                 "b,1,done,won,10,,2023-10,10/02/2023,02/10/2023\n", encoding="utf-8")
    deals = load_case(d).tables["deals"]
    assert deals["created_date"].tolist() == [T("2023-10-13"), T("2023-10-02")]
    assert deals["closed_date"].tolist() == [T("2023-10-13"), T("2023-10-02")]


@pytest.mark.parametrize("text,needle", [
    ("dates: {foo: month_first}\n", "'foo' is not a table with dates; tables with dates are sales, deals"),
    ("dates: {clients: month_first}\n", "'clients' is not a table with dates"),
    ("dates: {sales: mdy}\n", "dates: sales: 'mdy' is not an order of dates; write day_first or month_first"),
    ("dates: month_first\n", "dates: expected {table: day_first or month_first}"),
])
def test_a_bad_dates_key_is_an_error(tmp_path, text, needle):
    d = make_case(tmp_path, ["2023-10-01"], text)
    with pytest.raises(UserError) as e:
        read_mapping(d)
    assert str(e.value).startswith("mapping.yaml: ") and needle in str(e.value)


def test_the_dates_key_sits_beside_the_headers(tmp_path):
    d = make_case(tmp_path, ["2023-10-01"], "sales:\n  Дата: date\ndates:\n  sales: day_first\n")
    assert read_mapping(d) == {"sales": {"Дата": "date"}, "dates": {"sales": "day_first"}}


# ---------------------------------------------------------------------------------------------
# streamed (out-of-core) loads decide for the whole file too
# ---------------------------------------------------------------------------------------------
@pytest.fixture(params=["c-parser", "fast-path"])
def reader(request, monkeypatch):
    if request.param == "fast-path":
        monkeypatch.setattr(kio, "FAST_CSV_BYTES", 0)
        monkeypatch.setattr(kio, "FAST_MIN_CELLS", 1)
    return request.param


def streamed(d: Path, tmp_path: Path, batch_rows: int):
    out = tmp_path / f"s{batch_rows}.parquet"
    case = load_case(d, sales_to=out, batch_rows=batch_rows)
    return case, pd.read_parquet(out)


def test_a_stream_whose_first_batches_cannot_tell_reads_as_the_whole_file(tmp_path, reader, monkeypatch):
    passes = []
    real = kio._stream_file
    monkeypatch.setattr(kio, "_stream_file", lambda *a: passes.append(1) or real(*a))
    dates = ["10/02/2023", "10/05/2023", "11/03/2023", "12/01/2023", "10/13/2023", "10/02/2023"]
    d = make_case(tmp_path, dates)
    ref = load_case(d)
    assert sales_dates(ref) == [T("2023-10-02"), T("2023-10-05"), T("2023-11-03"), T("2023-12-01"),
                                T("2023-10-13"), T("2023-10-02")]
    for b, n_passes in ((1, 3), (2, 3), (4, 3), (5, 1), (100, 1)):
        passes.clear()
        case, sales = streamed(d, tmp_path, b)
        pd.testing.assert_frame_equal(sales, ref.tables["sales"], check_exact=True)
        pd.testing.assert_frame_equal(case.issues, ref.issues, check_exact=True)
        assert len(passes) == n_passes, b  # two more passes (the date cells, then the file) only when needed


@pytest.mark.parametrize("dates", [
    ["10/13/2023", "10/02/2023", "10/01/2023", "13/10/2023"],  # a later batch contradicts the first
    ["10/02/2023", "11/03/2023", "10/01/2023"],  # no batch tells
    ["10.02.2023", "11.03.2023", "10.13.2023"],  # dot dates only month first, in the last batch
])
def test_a_stream_gives_the_whole_file_error(tmp_path, reader, dates):
    d = make_case(tmp_path, dates)
    with pytest.raises(UserError) as whole:
        load_case(d)
    for b in (1, 2, 10):
        out = tmp_path / "o" / "s.parquet"
        with pytest.raises(UserError) as got:
            load_case(d, sales_to=out, batch_rows=b)
        assert str(got.value) == str(whole.value), b
        assert not any(out.parent.iterdir()), "nothing is left behind"
        shutil.rmtree(out.parent)


def test_a_streamed_parquet_file_decides_for_the_whole_file(tmp_path):
    d = make_case(tmp_path, ["2023-10-01"])
    (d / "sales.csv").unlink()
    pd.DataFrame({"date": ["10/02/2023", "11/03/2023", "10/13/2023"], "client_id": ["1"] * 3,
                  "product_group": ["tools"] * 3, "amount": [1.0, 2.0, 3.0]}).to_parquet(d / "sales.parquet")
    ref = load_case(d)
    assert sales_dates(ref) == [T("2023-10-02"), T("2023-11-03"), T("2023-10-13")]
    _, sales = streamed(d, tmp_path, 1)
    pd.testing.assert_frame_equal(sales, ref.tables["sales"], check_exact=True)


def test_spaces_around_a_date_do_not_hide_it_from_the_decision(monkeypatch):
    for fast in (10**12, 1):
        monkeypatch.setattr(kio, "FAST_MIN_CELLS", fast)
        v, _ = parse_dates(pd.Series(["\u00a010/02/2023", " 10/13/2023\u2003", "\x0b10/02/2023"], dtype="str"))
        assert v.tolist() == [T("2023-10-02"), T("2023-10-13"), T("2023-10-02")]
        with pytest.raises(UserError, match="reads two ways"):
            parse_dates(pd.Series(["\u00a010/02/2023", "11/03/2023"], dtype="str"))
