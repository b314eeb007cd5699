"""Broken input at scale (#21, item 8): Hypothesis builds small case folders from a valid tiny base plus a
random list of damages — wrong encodings, mixed delimiters, BOMs, empty and header-only files, binary files
named .csv, 0-byte .xlsx, duplicated, missing and unknown ids, dates in three formats and in the future,
negative, zero, huge and NaN amounts, 10,000-character strings, extra and missing columns, ragged lines —
and runs the command line on them. Every run ends one of two ways:

* the case loads: per table read == used + rejected, ``used`` is the rows kept, and every rejected row is
  listed (file, spreadsheet row, issue code and a one-line reason);
* it stops with exactly one line ``kbanalysis: error: ...`` naming the file (and the column or row the
  message is about), exit code 2.

Never a traceback, never an internal error. The default test set runs 20 cases through ``kbanalysis
validate`` in this process; the slow set (``make test-property``: ``KB_PROPERTY_SLOW=1``) runs 250 more and
5 through ``kbanalysis run --only 01-audit`` in a subprocess, checking the finished run folder.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, note, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from kbanalysis.io import case as kio
from kbanalysis.errors import UserError
from kbanalysis.run.cli import main

#: KB_PROPERTY_SCALE=10 draws ten times as many cases (as tests/test_loader_properties.py)
SCALE = float(os.environ.get("KB_PROPERTY_SCALE", "1"))
SLOW = bool(os.environ.get("KB_PROPERTY_SLOW"))
SLOW_SETTINGS = dict(deadline=None, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SETTINGS = dict(derandomize=True, **SLOW_SETTINGS)  # the same 20 cases every run


def slow_only(test):
    """Marks of the slow set: ``slow`` and ``property_slow``, skipped unless KB_PROPERTY_SLOW is set."""
    for mark in (pytest.mark.slow, pytest.mark.property_slow,
                 pytest.mark.skipif(not SLOW, reason="slow property set: make test-property (KB_PROPERTY_SLOW=1)")):
        test = mark(test)
    return test


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


# ---------------------------------------------------------------------------------------------
# the valid tiny base
# ---------------------------------------------------------------------------------------------
CLIENTS = [["client_id", "name", "channel", "inn", "region", "manager", "phone"],
           ["C1", "ООО Ромашка", "retail", "7707083893", "Москва", "Иванов", "+79123456789"],
           ["C2", "ИП Петров", "dealer", "", "Тверь", "Петров", ""],
           ["C3", "АО Вектор", "wholesale", "", "Москва", "Иванов", "8 (495) 123-45-67"],
           ["C4", "ООО Луч", "retail", "", "Казань", "Сидоров", ""],
           ["C5", "ЗАО Заря", "dealer", "", "Тверь", "Петров", ""],
           ["C6", "ООО Нива", "online", "", "Москва", "Сидоров", ""]]
GROUPS = ("инструмент", "краска")


def base_sales() -> list[list[str]]:
    """14 months of sales of 2 to 6 clients a month (hand-made, fixed: the damage brings the variety)."""
    rows = [["date", "client_id", "product_group", "amount", "cost"]]
    for m in range(14):
        y, mm = 2024 + m // 12, m % 12 + 1
        for k in range(2 + m % 5):
            a = 100 + 37 * (m * 7 + k * 13) % 4900
            rows.append([f"{y}-{mm:02d}-{1 + (m * 5 + k * 3) % 28:02d}", f"C{k + 1}", GROUPS[(m + k) % 2],
                         str(a), str(int(a * 0.7))])
    return rows


OPTIONAL = {
    "deals": [["deal_id", "client_id", "amount", "probability", "stage", "planned_month", "status"],
              ["D1", "C1", "5000", "40", "offer", "2025-04", "open"],
              ["D2", "C2", "1200", "0.8", "contract", "2025-05", "open"],
              ["D3", "C3", "900", "100", "contract", "2024-11", "won"],
              ["D4", "C4", "700", "0", "offer", "2024-10", "lost"]],
    "stock": [["product_group", "on_hand", "incoming"], ["инструмент", "12000", "3000"],
              ["краска", "4 500,50", ""]],
    "contacts": [["client_id", "date", "manager", "kind"], ["C1", "2025-01-10", "Иванов", "call"],
                 ["C2", "15.01.2025", "Петров", "visit"], ["C5", "2025-02-01", "Петров", "email"]],
}
DATE_COLUMNS = {"sales": ("date",), "contacts": ("date",)}
NUMBER_COLUMNS = {"sales": ("amount", "cost"), "deals": ("amount", "probability"), "stock": ("on_hand", "incoming")}
ID_TABLES = ("clients", "sales", "deals", "contacts")


@dataclass
class TableFile:
    """One table of a generated case as its lines (header first), and how it is written."""

    name: str
    lines: list[list[str]]
    encoding: str = "utf-8"
    sep: str = ","
    bom: bool = False
    suffix: str = ".csv"
    raw: bytes | None = None  # the whole file instead of the lines
    line_sep: dict[int, str] = field(default_factory=dict)  # line index -> another delimiter
    line_encoding: dict[int, str] = field(default_factory=dict)  # line index -> another encoding
    bom_at: set[int] = field(default_factory=set)  # lines that start with a BOM (concatenated exports)
    blank_after: dict[int, str] = field(default_factory=dict)  # line index -> a blank line written after it
    tail: str = ""  # text appended as is (an unclosed quote)

    def col(self, name: str) -> int | None:
        head = self.lines[0] if self.lines else []
        return head.index(name) if name in head else None

    def data(self) -> range:
        return range(1, len(self.lines))

    def file_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        out = b""
        enc = "utf-16-le" if self.encoding == "utf-16" else self.encoding  # one BOM for the file, not per line
        for i, cells in enumerate(self.lines):
            out += _encode(_csv_line(cells, self.line_sep.get(i, self.sep)), self.line_encoding.get(i, enc),
                           bom=(self.bom and i == 0) or i in self.bom_at)
            if i in self.blank_after:
                out += _encode(self.blank_after[i], enc)
        out += _encode(self.tail, enc)
        return (b"\xff\xfe" + out) if self.encoding == "utf-16" else out


def _csv_line(cells: list[str], sep: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\r\n" if sep == ";" else "\n").writerow(cells)
    return buf.getvalue()


def _encode(text: str, encoding: str, bom: bool = False) -> bytes:
    if encoding == "mojibake":  # a UTF-8 export once opened as Windows-1251 and saved again as UTF-8
        b = text.encode("utf-8").decode("cp1251", errors="replace").encode("utf-8")
    else:
        b = text.encode(encoding, errors="replace")
    mark = "\ufeff".encode(encoding) if encoding.startswith("utf") else b"\xef\xbb\xbf"  # UTF-8's on a 1251 file
    return mark + b if bom else b


# ---------------------------------------------------------------------------------------------
# the damages: each takes the draw function and the case's tables, changes them, says what it did
# ---------------------------------------------------------------------------------------------
def _table(draw, tables, names=None) -> TableFile:
    """One of the tables ``names`` (default: all) of the case, one written from its lines when there is one."""
    present = [n for n in (names or tables) if n in tables]  # clients and sales always are
    lines = [n for n in present if tables[n].raw is None]
    return tables[draw(st.sampled_from(sorted(lines or present)))]


def _rows(draw, t: TableFile, most: int = 3) -> list[int]:
    if len(t.lines) < 2:
        return []
    return draw(st.lists(st.integers(1, len(t.lines) - 1), min_size=1, max_size=most, unique=True))


def _set(t: TableFile, i: int, c: int | None, value: str) -> None:
    if c is not None and i < len(t.lines) and c < len(t.lines[i]):
        t.lines[i][c] = value


def wrong_encoding(draw, tables):
    t = _table(draw, tables)
    t.encoding = draw(st.sampled_from(["cp1251", "utf-16", "koi8-r", "cp866", "mojibake", "latin-1"]))
    return f"{t.name}: encoding {t.encoding}"


def mixed_encoding(draw, tables):
    t = _table(draw, tables)
    rows = _rows(draw, t, 4)
    for i in rows:
        t.line_encoding[i] = draw(st.sampled_from(["cp1251", "koi8-r"]))
    return f"{t.name}: lines {rows} in another encoding"


def delimiter(draw, tables):
    t = _table(draw, tables)
    t.sep = draw(st.sampled_from([";", "\t", "|"]))
    return f"{t.name}: delimiter {t.sep!r}"


def mixed_delimiters(draw, tables):
    t = _table(draw, tables)
    rows = _rows(draw, t, 5) + ([0] if draw(st.booleans()) else [])
    for i in rows:
        t.line_sep[i] = draw(st.sampled_from([";", "\t", ",", "|"]))
    return f"{t.name}: lines {rows} with other delimiters"


def bom(draw, tables):
    t = _table(draw, tables)
    if draw(st.booleans()):
        t.bom = True
        return f"{t.name}: BOM"
    rows = _rows(draw, t, 2)
    t.bom_at.update(rows)
    return f"{t.name}: BOM at the start of lines {rows}"


def empty_file(draw, tables):
    t = _table(draw, tables)
    t.raw = draw(st.sampled_from([b"", b"\n\n", b" \r\n \r\n", b"\xef\xbb\xbf"]))
    return f"{t.name}: empty ({t.raw!r})"


def header_only(draw, tables):
    t = _table(draw, tables)
    t.lines = t.lines[:1]
    return f"{t.name}: header only"


def binary_csv(draw, tables):
    t = _table(draw, tables)
    t.raw = draw(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"\x00\x01", b"MZ\x90\x00", b""])) + draw(
        st.binary(min_size=1, max_size=300))
    return f"{t.name}: binary ({len(t.raw)} bytes)"


def zero_byte_xlsx(draw, tables):
    how = draw(st.sampled_from(["instead", "beside", "optional"]))
    if how == "optional":
        name = draw(st.sampled_from(["deals", "stock", "survey", "marketing"]))
        tables[name + ".xlsx"] = TableFile(name, [], suffix=".xlsx", raw=b"")
        return f"{name}.xlsx: 0 bytes"
    t = _table(draw, tables, ["clients", "sales", "deals", "stock", "contacts"])
    if how == "instead":
        t.suffix, t.raw = ".xlsx", b""
        return f"{t.name}.xlsx: 0 bytes, no .csv"
    tables[t.name + ".xlsx"] = TableFile(t.name, [], suffix=".xlsx", raw=b"")
    return f"{t.name}.xlsx: 0 bytes beside {t.name}.csv"


def duplicated_id(draw, tables):
    t = _table(draw, tables, ["clients", "deals", "sales"])
    rows = _rows(draw, t, 2)
    c = t.col("deal_id") if t.name == "deals" else t.col("client_id")
    for i in rows:
        copy = list(t.lines[i])
        if draw(st.booleans()) and c is not None and c < len(copy):
            copy[c] = draw(st.sampled_from([" ", "", "\u00a0"])) + copy[c] + draw(st.sampled_from(["", " "]))
        t.lines.insert(draw(st.integers(1, len(t.lines))), copy)
    return f"{t.name}: {len(rows)} duplicated ids"


def missing_id(draw, tables):
    t = _table(draw, tables, ID_TABLES)
    rows = _rows(draw, t, 4)
    for i in rows:
        _set(t, i, t.col("client_id"), draw(st.sampled_from(["", " ", "NULL", "-", "#N/A"])))
    return f"{t.name}: client_id missing in lines {rows}"


def unknown_id(draw, tables):
    t = _table(draw, tables, ["sales", "deals", "contacts"])
    rows = _rows(draw, t, 4)
    for i in rows:
        _set(t, i, t.col("client_id"), draw(st.sampled_from(["X99", "c1", "C1.0", "00C1", "C7"])))
    return f"{t.name}: unknown client_id in lines {rows}"


def date_formats(draw, tables):
    t = _table(draw, tables, list(DATE_COLUMNS))
    c = t.col("date")
    styles = []
    for i in t.data() if c is not None else ():
        try:
            d = date.fromisoformat(t.lines[i][c])
        except (ValueError, IndexError):
            continue
        s = draw(st.sampled_from(["iso", "ru", "serial"]))
        styles.append(s)
        _set(t, i, c, {"iso": d.isoformat(), "ru": d.strftime("%d.%m.%Y"),
                       "serial": str((d - date(1899, 12, 30)).days)}[s])
    return f"{t.name}: dates in {sorted(set(styles))}"


def future_or_bad_date(draw, tables):
    t = _table(draw, tables, list(DATE_COLUMNS) + ["deals"])
    c = t.col("planned_month") if t.name == "deals" else t.col("date")
    soon = date.today() + timedelta(days=draw(st.integers(3, 4000)))
    values = [soon.isoformat(), soon.strftime("%d.%m.%Y"), "2099-01-01", "31.02.2024", "2024-13-01", "1899-12-31",
              "вчера", "0", "99999999", soon.strftime("%Y-%m")]
    rows = _rows(draw, t, 4)
    for i in rows:
        _set(t, i, c, draw(st.sampled_from(values)))
    return f"{t.name}: future or bad dates in lines {rows}"


AMOUNTS = ["-500", "-0", "0", "0,00", "1e15", "999999999999999999999", "1e308", "1e309", "-1e309", "NaN", "nan",
           "inf", "-inf", "", "н/д", "1 234,56", "12.345.678,9", "(150,00)", "1,5e3", "0x10", "--5"]


def amounts(draw, tables):
    t = _table(draw, tables, list(NUMBER_COLUMNS))
    cols = [t.col(n) for n in NUMBER_COLUMNS[t.name] if t.col(n) is not None]
    rows = _rows(draw, t, 6)
    for i in rows:
        if cols:
            _set(t, i, draw(st.sampled_from(cols)), draw(st.sampled_from(AMOUNTS)))
    return f"{t.name}: odd numbers in lines {rows}"


def long_string(draw, tables):
    t = _table(draw, tables)
    filled = [i for i, cells in enumerate(t.lines) if cells]  # the header too
    if not filled:
        return f"{t.name}: no line for a long string"
    i = draw(st.sampled_from(filled))
    c = draw(st.integers(0, len(t.lines[i]) - 1))
    unit = draw(st.sampled_from(["x", "Щ", "ab,c;d\t", '"', "ё\u00a0", "\n", "<b>", "=1+"]))
    t.lines[i][c] = (unit * (10_000 // len(unit) + 1))[:10_000]
    return f"{t.name}: 10,000 characters ({unit!r}) in line {i}, column {c}"


def extra_column(draw, tables):
    t = _table(draw, tables)
    name = draw(st.sampled_from(["comment", "row_no", "", "Unnamed: 7", "amount", "client_id", "№ п/п", "date",
                                 "outlets"]))
    kind = draw(st.sampled_from(["counter", "text", "empty"]))
    for i, cells in enumerate(t.lines):
        cells.append(name if i == 0 else {"counter": str(i), "text": f"заметка {i}", "empty": ""}[kind])
    return f"{t.name}: extra column {name!r} ({kind})"


def missing_column(draw, tables):
    t = _table(draw, tables)
    if not t.lines or not t.lines[0]:
        return f"{t.name}: no column to drop"
    c = draw(st.integers(0, len(t.lines[0]) - 1))
    gone = t.lines[0][c]
    both = draw(st.booleans())  # the header and the cells, or only the header (every line one field too long)
    for i, cells in enumerate(t.lines):
        if (both or i == 0) and c < len(cells):
            del cells[c]
    return f"{t.name}: column {gone!r} dropped ({'with its cells' if both else 'header only'})"


def ragged_lines(draw, tables):
    t = _table(draw, tables)
    rows = _rows(draw, t, 4)
    for i in rows:
        if draw(st.booleans()):
            t.lines[i] = t.lines[i] + ["лишнее"] * draw(st.integers(1, 3))
        else:
            t.lines[i] = t.lines[i][:draw(st.integers(0, max(0, len(t.lines[i]) - 1)))]
    return f"{t.name}: lines {rows} with too many or too few fields"


def blank_and_quote(draw, tables):
    t = _table(draw, tables)
    rows = _rows(draw, t, 3)
    for i in rows:
        t.blank_after[i] = draw(st.sampled_from(["\n", ",,,,\n", "   \n", ";;\n"]))
    if draw(st.booleans()):
        t.tail = '2025-02-10,C1,"инструмент,100,70\n2025-02-11,C2,краска,50,30\n'
    return f"{t.name}: blank lines after {rows}" + (", an unclosed quote at the end" if t.tail else "")


DAMAGES = (wrong_encoding, mixed_encoding, delimiter, mixed_delimiters, bom, empty_file, header_only, binary_csv,
           zero_byte_xlsx, duplicated_id, missing_id, unknown_id, date_formats, future_or_bad_date, amounts,
           long_string, extra_column, missing_column, ragged_lines, blank_and_quote)


@st.composite
def damaged_cases(draw, min_damages: int = 0) -> tuple[dict[str, TableFile], list[str]]:
    """The tables of a case (the base, some optional tables) and the list of damages done to them."""
    tables = {"clients": TableFile("clients", [list(r) for r in CLIENTS]),
              "sales": TableFile("sales", base_sales())}
    for name in draw(st.lists(st.sampled_from(sorted(OPTIONAL)), unique=True, max_size=3)):
        tables[name] = TableFile(name, [list(r) for r in OPTIONAL[name]])
    damages = draw(st.lists(st.sampled_from(DAMAGES), min_size=min_damages, max_size=4))
    done = [d.__name__ + ": " + d(draw, tables) for d in damages]
    return tables, done


def write_case(tables: dict[str, TableFile], d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for t in tables.values():
        (d / (t.name + t.suffix)).write_bytes(t.file_bytes())
    return d


# ---------------------------------------------------------------------------------------------
# what must hold
# ---------------------------------------------------------------------------------------------
def check_accounting(counts: dict, files: dict, issues: pd.DataFrame, used_rows: dict[str, list[int]]) -> None:
    """read == used + rejected per table, and the rejected rows are exactly the listed rows not used."""
    assert not issues["issue"].isna().any() and issues["issue"].astype(str).str.fullmatch(r"[a-z_0-9]+").all()
    detail = issues["detail"].astype(str)
    assert (detail.str.strip() != "").all() and not detail.str.contains("\n").any(), "a reason, on one line"
    for t, c in counts.items():
        assert c["read"] == c["used"] + c["rejected"], (t, c)
        assert files[t], t
        used = used_rows[t]
        assert len(used) == c["used"] and len(set(used)) == len(used), (t, c, len(used))
        listed = set(issues.loc[issues["table"] == t, "row"].dropna().astype(int))
        rejected = listed - set(used)
        assert len(rejected) == c["rejected"], \
            f"{files[t]}: {c['rejected']} rows rejected, {len(rejected)} rows listed and not used: {sorted(rejected)}"
        assert all(r >= 2 for r in listed), f"{files[t]}: a listed row above the first data row"


def check_one_error_line(err: str, case_dir: Path, out: str = "") -> str:
    lines = [x for x in err.splitlines() if x.strip() and "IPKernelApp" not in x]
    assert len(lines) == 1, err
    line = lines[0]
    assert "Traceback" not in err + out and "internal error" not in line, err
    assert line.startswith("kbanalysis: error: "), line
    assert len(line) <= 1500, f"one line, but {len(line):,} characters long: {line[:300]}…"
    names = [p.name for p in case_dir.iterdir()] + ["mapping.yaml"]
    assert any(n in line for n in names), f"names no file of the case: {line}"
    if re.search(r"\bcolumns?\b", line) and "one column" not in line:
        assert re.search(r"'[^']*'", line), f"a column without its name: {line}"
    if "no usable rows" in line:  # every row rejected: the first problems with their rows
        assert re.search(r"row \d+: ", line), f"no usable rows, but which and why: {line}"
    return line


def validate_in_process(case_dir: Path) -> tuple[int, str, str, dict]:
    """``kbanalysis validate CASE`` in this process: exit code, stdout, stderr and what the loader returned."""
    seen: dict = {}
    real = kio.load_case

    def spy(*a, **kw):
        case = real(*a, **kw)
        seen["case"] = case
        seen["sales"] = pd.read_parquet(case.sales_path, columns=["_row", "amount"]) \
            if case.sales_path is not None else None
        return case

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        mp.setattr(kio, "load_case", spy)
        try:
            code = main(["validate", str(case_dir)])
        except SystemExit as e:  # argparse would exit this way; main must not
            code = f"SystemExit({e.code})"
    return code, out.getvalue(), err.getvalue(), seen


def in_memory(case_dir: Path):
    """``load_case`` with the sales in memory, as a run on a small case loads it: the case, or the message."""
    try:
        return kio.load_case(case_dir)
    except UserError as e:
        return str(e)


def _note(text: str) -> None:
    """``hypothesis.note`` inside a property, nothing outside one."""
    with contextlib.suppress(InvalidArgument):
        note(text)


def check_validate(tables: dict[str, TableFile], done: list[str]) -> str:
    for d in done:
        _note(d)
    with tempfile.TemporaryDirectory() as tmp:
        case_dir = write_case(tables, Path(tmp) / "case")
        code, out, err, seen = validate_in_process(case_dir)
        _note(f"exit {code}\n{out}{err}")
        assert "Traceback" not in out + err
        memory = in_memory(case_dir)  # what a run loads (validate streams the sales to disk): the same
        if code == 2:
            assert done, "the undamaged base case loads"
            assert memory == err.strip().removeprefix("kbanalysis: error: "), "the same stop in memory"
            return "stop: " + check_one_error_line(err, case_dir, out)
    assert code in (0, 1), (code, err)
    assert err == "", err
    case = seen["case"]
    assert not isinstance(memory, str), f"validate loaded, the in-memory load stopped: {memory}"
    assert memory.counts == case.counts
    pd.testing.assert_frame_equal(memory.issues, case.issues)
    tables = {**case.tables, **({"sales": seen["sales"]} if seen["sales"] is not None else {})}
    used = {t: tables[t]["_row"].astype(int).tolist() for t in case.counts}
    check_accounting(case.counts, case.files, case.issues, used)
    for t, cols in NUMBER_COLUMNS.items():  # a used row's required number is a real, finite figure
        if t in tables and "amount" in cols:
            a = tables[t]["amount"].astype("float64")
            assert a.notna().all() and (a.abs() <= kio.LARGEST).all(), (t, a[~(a.abs() <= kio.LARGEST)].tolist())
    assert (code == 1) == (len(case.issues) > 0)
    for t, c in case.counts.items():  # what validate prints is the same accounting
        assert re.search(rf"{re.escape(case.files[t])}\s+read\s+{c['read']:,}\s+used\s+{c['used']:,}\s+"
                         rf"rejected\s+{c['rejected']:,}", out), (t, out)
    return "loaded"


# ---------------------------------------------------------------------------------------------
# the default set: 20 cases through `kbanalysis validate` in this process
# ---------------------------------------------------------------------------------------------
@settings(max_examples=examples(20), **SETTINGS)
@given(case=damaged_cases())
def test_damaged_case_validates_or_stops_with_one_line(case):
    check_validate(*case)


def test_the_strategy_damages_and_the_base_loads(tmp_path):
    """The base case loads clean; a hand-picked damage of each outcome gives what it must."""
    base = {"clients": TableFile("clients", [list(r) for r in CLIENTS]), "sales": TableFile("sales", base_sales())}
    assert check_validate(base, []) == "loaded"
    empty = {**base, "sales": TableFile("sales", [], raw=b"")}
    assert "sales.csv" in check_validate(empty, ["sales: empty"])
    s = TableFile("sales", base_sales())
    s.lines[3][3] = "1e309"
    s.lines[5][1] = "X99"
    assert check_validate({**base, "sales": s}, ["sales: inf, unknown client"]) == "loaded"
    d = write_case({**base, "sales": s}, tmp_path / "c")
    code, _, _, seen = validate_in_process(d)
    assert code == 1 and seen["case"].counts["sales"]["rejected"] == 2
    q = seen["case"].issues
    assert sorted(q.loc[q["table"] == "sales", "row"].dropna().astype(int)) == [4, 6]


# ---------------------------------------------------------------------------------------------
# the slow set (make test-property): 250 more through validate, 5 through `kbanalysis run --only 01-audit`
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("part", range(5))  # five seeds of 50: two workers share them under -n 2
@slow_only
def test_slow_many_damaged_cases_validate_or_stop(part):
    @seed(1000 + part)
    @settings(max_examples=examples(50), database=None, **SLOW_SETTINGS)
    @given(case=damaged_cases())
    def prop(case):
        check_validate(*case)

    prop()


def _run_cli(case_dir: Path, out: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "kbanalysis"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "kbanalysis.run.cli"]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(cmd + ["run", str(case_dir), "--out", str(out), "--only", "01-audit", "--quiet"],
                          capture_output=True, text=True, env=env, cwd=out.parent, timeout=900)


def check_run_folder(run: Path) -> None:
    """A finished run folder whose accounting adds up: work/load.json's counts, the used rows of each table
    in work/, every rejected row in quality_issues.csv (table, row, issue, detail; the file in load.json)."""
    from kbanalysis.io.runfolder import is_run_folder, unguarded

    assert is_run_folder(run) and (run / "run.json").is_file() and (run / "01-audit.html").is_file()
    meta = json.loads((run / "work" / "load.json").read_text(encoding="utf-8"))
    q = unguarded(pd.read_csv(run / "quality_issues.csv", dtype=str, keep_default_na=False))
    assert list(q.columns[:5]) == ["table", "row", "client_id", "issue", "detail"]
    q["row"] = pd.to_numeric(q["row"].replace("", None))
    used = {t: pd.read_parquet(run / "work" / f"{t}.parquet", columns=["_row"])["_row"].astype(int).tolist()
            for t in meta["counts"]}
    check_accounting(meta["counts"], meta["files"], q, used)


@slow_only
def test_slow_damaged_cases_through_kbanalysis_run(tmp_path):
    outcomes = []

    @seed(2000)
    @settings(max_examples=examples(5), database=None, phases=(Phase.generate,), **SLOW_SETTINGS)
    @given(case=damaged_cases(min_damages=1))
    def prop(case):
        tables, done = case
        for d in done:
            note(d)
        k = len(outcomes)
        case_dir = write_case(tables, tmp_path / f"case{k}")
        out = tmp_path / f"run{k}"
        r = _run_cli(case_dir, out)
        note(f"exit {r.returncode}\n{r.stdout}{r.stderr}")
        assert "Traceback" not in r.stdout + r.stderr
        if r.returncode == 2:
            outcomes.append(check_one_error_line(r.stderr, case_dir, r.stdout) + " <- " + "; ".join(done))
            assert not out.exists()
            return
        assert r.returncode == 0, r.stderr
        check_run_folder(out)
        outcomes.append("run folder: " + "; ".join(done))

    prop()
    print("\n".join(outcomes))
    assert len(outcomes) == examples(5)
