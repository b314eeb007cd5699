"""Reading a case folder as people export it: any encoding, delimiter, number and date format.

:func:`load_case` finds every table of the contract in a folder (``NAME.csv``, ``NAME.xlsx`` or
``NAME.parquet``), maps its headers onto the canonical names (``mapping.yaml``, then the built-in
Russian aliases), parses each column by its kind, validates the rows and returns a :class:`Case`:
canonical tables (see :mod:`kbanalysis.schema`), the quality findings of loading and exact row
accounting (``read == used + rejected`` for every table).

A row that cannot be used (a required value missing or unreadable, an unknown client …) is left
out and listed in ``Case.issues`` with its spreadsheet row number; nothing is dropped silently.
A problem that makes the whole case unusable (a missing required table or column, a file that is
not a table) raises :class:`~kbanalysis.errors.UserError` with one clear message.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "clients.csv").write_text("Код клиента;Контрагент;Канал сбыта\\n1;ООО Ромашка;retail\\n2;ИП Ива;dealer\\n",
...                                    encoding="cp1251")
>>> _ = (d / "sales.csv").write_text("Дата;Код клиента;Товарная группа;Сумма\\n05.02.2024;1;tools;1 234,5\\n"
...                                  "06.02.2024;1;tools;н/д\\n", encoding="cp1251")
>>> case = load_case(d)
>>> case.tables["sales"][["date", "amount", "_row"]]
        date  amount  _row
0 2024-02-05  1234.5     2
>>> case.counts["sales"]
{'read': 2, 'used': 1, 'rejected': 1}
>>> case.issues[["table", "row", "issue"]].to_dict("records")
[{'table': 'sales', 'row': 3, 'issue': 'bad_number'}]
"""
from __future__ import annotations

import csv
import hashlib
import io as _io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .errors import UserError
from .schema import (CLIENT_CONTRACT_COLUMNS, CLIENT_STATUS, DEAL_STATUS, DRIVER_ALIASES, TABLES, Table,
                     canonical_header)

FORMATS = (".csv", ".xlsx", ".parquet")
ISSUE_COLUMNS = ["table", "row", "client_id", "issue", "detail"]
EARLIEST = pd.Timestamp("1990-01-01")


@dataclass
class Case:
    """A loaded case: canonical tables, loading findings, row accounting, file fingerprints."""

    path: Path
    tables: dict[str, pd.DataFrame]
    issues: pd.DataFrame
    counts: dict[str, dict[str, int]]
    files: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    drivers: list[str] = field(default_factory=list)

    def table(self, name: str) -> pd.DataFrame | None:
        """The table, or None when the case does not have it."""
        return self.tables.get(name)


# --------------------------------------------------------------------------------------------
# issues
# --------------------------------------------------------------------------------------------
def issue_frame(table: str, rows, client_ids, issue: str, details) -> pd.DataFrame:
    """Quality findings as a frame with the contract's columns.

    >>> issue_frame("sales", [3], ["c1"], "bad_date", ["date '31.02.2024' is not a date"])
       table  row client_id     issue                           detail
    0  sales    3        c1  bad_date  date '31.02.2024' is not a date
    """
    n = len(rows)
    return pd.DataFrame({
        "table": pd.Series([table] * n, dtype="string"),
        "row": pd.array(rows, dtype="Int64"),
        "client_id": pd.array(list(client_ids) if client_ids is not None else [pd.NA] * n, dtype="string"),
        "issue": pd.Series([issue] * n, dtype="string"),
        "detail": pd.array(list(details) if not isinstance(details, str) else [details] * n, dtype="string"),
    })


def empty_issues() -> pd.DataFrame:
    return issue_frame("", [], [], "", [])


# --------------------------------------------------------------------------------------------
# raw reading
# --------------------------------------------------------------------------------------------
def find_table_file(case_dir: Path, name: str) -> Path | None:
    """The file of table ``name`` in the case folder; two formats of one table is an error."""
    found = [p for p in (case_dir / f"{name}{ext}" for ext in FORMATS) if p.is_file()]
    found += [p for p in case_dir.glob(f"{name}.*") if p.suffix.lower() in FORMATS and p not in found]
    if len(found) > 1:
        raise UserError(f"{case_dir}: table '{name}' is given twice ({', '.join(p.name for p in found)}); "
                        "keep one file per table")
    return found[0] if found else None


def detect_encoding(head: bytes, where: str) -> str:
    """UTF-8 (with or without BOM) or Windows-1251.

    >>> detect_encoding("Дата;Сумма".encode("cp1251"), "x")
    'cp1251'
    >>> detect_encoding("\\ufeffДата".encode("utf-8"), "x")
    'utf-8-sig'
    """
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if e.start >= len(head) - 3:
            try:
                head[: e.start].decode("utf-8")
                return "utf-8"
            except UnicodeDecodeError:
                pass
    try:
        head.decode("cp1251")
        return "cp1251"
    except UnicodeDecodeError:
        raise UserError(f"{where}: the encoding could not be detected (expected UTF-8 or Windows-1251); "
                        "save the file as CSV UTF-8 from Excel") from None


def _check_is_table(head: bytes, where: str) -> None:
    if not head.strip():
        raise UserError(f"{where}: the file is empty; export the table again")
    low = head[:2048].lower().lstrip()
    if low.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")) or b"<html" in low[:512]:
        raise UserError(f"{where}: this is an HTML/XML page saved under a table's name, not a table; "
                        "open it in Excel and save as CSV or XLSX")
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise UserError(f"{where}: this is an Excel/zip file with a .csv name; save it as CSV or rename it to .xlsx")
    if b"\x00" in head[:4096]:
        raise UserError(f"{where}: this is a binary file, not a table; export the table as CSV or XLSX")


def detect_delimiter(lines: list[str]) -> str:
    """``,`` ``;`` or tab: the one that splits the sample into the most consistent columns.

    >>> detect_delimiter(["a;b;c", "1,5;2;3"])
    ';'
    """
    best, best_score = ",", -1.0
    for d in (";", "\t", ",", "|"):
        try:
            rows = list(csv.reader(lines, delimiter=d))
        except csv.Error:
            continue
        widths = [len(r) for r in rows if any(x.strip() for x in r)]
        if not widths:
            continue
        mode = max(set(widths), key=widths.count)
        if mode < 2:
            continue
        score = mode * widths.count(mode) / len(widths)
        if score > best_score:
            best, best_score = d, score
    if best_score < 0:
        return ","
    return best


def _header_index(rows: list[list], table: Table, mapping: dict) -> int:
    """Index of the header row among the first rows (title lines of 1C reports come before it)."""
    best, best_hits = 0, -1
    for i, r in enumerate(rows[:30]):
        hits = sum(_canonical_for(str(x), table, mapping) is not None for x in r if x is not None and str(x).strip())
        if hits > best_hits:
            best, best_hits = i, hits
    return best


def read_raw(path: Path, table: Table, mapping: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a file as strings (xlsx keeps dates and numbers); return the frame and spreadsheet row numbers."""
    where = path.name
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as e:  # noqa: BLE001 - any reader failure is the user's file
            raise UserError(f"{where}: not a readable Parquet file ({e.__class__.__name__})") from None
        return df, np.arange(2, len(df) + 2)
    if suffix == ".xlsx":
        head = path.read_bytes()[:8]
        if not head.startswith(b"PK"):
            _check_is_table(path.read_bytes()[:65536], where)
            raise UserError(f"{where}: not an Excel .xlsx file; save it from Excel as .xlsx or .csv")
        try:
            raw = pd.read_excel(path, header=None, dtype=object, engine="openpyxl")
        except Exception as e:  # noqa: BLE001
            raise UserError(f"{where}: the Excel file could not be read ({e.__class__.__name__}: {e})") from None
        if raw.empty:
            raise UserError(f"{where}: the first sheet is empty")
        rows = raw.head(30).values.tolist()
        h = _header_index(rows, table, mapping)
        header = [str(x).strip() if x is not None and not (isinstance(x, float) and np.isnan(x)) else f"col{i}"
                  for i, x in enumerate(raw.iloc[h].tolist())]
        df = raw.iloc[h + 1:].reset_index(drop=True)
        df.columns = _dedupe(header)
        return df, np.arange(h + 2, h + 2 + len(df))
    # csv and anything else that claims to be text
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    _check_is_table(head, where)
    enc = detect_encoding(head, where)
    text_head = head.decode(enc, errors="ignore")
    lines = text_head.splitlines()[:50]
    if len(head) == 1 << 16 and len(lines) > 1:
        lines = lines[:-1]
    sep = detect_delimiter(lines)
    sample = list(csv.reader(lines, delimiter=sep))
    h = _header_index(sample, table, mapping)
    width = len(sample[h]) if sample else 0
    bad_lines: list[int] = []

    def on_bad(line: list[str]):
        bad_lines.append(1)
        fixed = (line + [""] * width)[:width]
        fixed[0] = "\x00BADLINE\x00" + (fixed[0] or "")
        return fixed

    kw = dict(sep=sep, dtype=str, keep_default_na=False, na_filter=False, skiprows=h, skip_blank_lines=False,
              encoding="utf-8" if enc == "utf-8-sig" else enc, quotechar='"')
    try:
        try:
            df = pd.read_csv(path, engine="c", on_bad_lines="error", **kw)
        except pd.errors.ParserError:
            df = pd.read_csv(path, engine="python", on_bad_lines=on_bad, **kw)
    except UnicodeDecodeError:
        raise UserError(f"{where}: mixed or unknown encoding (not UTF-8 nor Windows-1251 throughout); "
                        "save it as CSV UTF-8") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as e:
        raise UserError(f"{where}: not a readable CSV table ({e})") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{where}: the file has no rows") from None
    if enc == "utf-8-sig" and len(df.columns):
        df = df.rename(columns={df.columns[0]: str(df.columns[0]).lstrip("\ufeff")})
    df.columns = _dedupe([str(c).strip() for c in df.columns])
    if df.shape[1] < 2:
        raise UserError(f"{where}: only one column was found (delimiter '{sep}'); the file must be separated by "
                        "',', ';' or tab")
    return df, np.arange(h + 2, h + 2 + len(df))


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


# --------------------------------------------------------------------------------------------
# headers
# --------------------------------------------------------------------------------------------
def _canonical_for(header: str, table: Table, mapping: dict) -> str | None:
    if header in mapping:
        return mapping[header]
    h = canonical_header(header)
    for src, dst in mapping.items():
        if canonical_header(src) == h:
            return dst
    for c in table.columns:
        if h == c.name or h in c.aliases:
            return c.name
    if table.name == "clients" and h in DRIVER_ALIASES:
        return DRIVER_ALIASES[h]
    return None


def map_headers(df: pd.DataFrame, table: Table, mapping: dict, where: str) -> pd.DataFrame:
    """Rename source headers to canonical names; raise naming the missing required columns."""
    rename: dict[str, str] = {}
    taken: set[str] = set()
    # exact canonical names first, then mapping, then aliases
    for src in df.columns:
        dst = _canonical_for(str(src), table, mapping)
        if dst and dst not in taken:
            rename[src] = dst
            taken.add(dst)
    missing = [c for c in table.required if c not in taken]
    if missing:
        hint = ", ".join(f"'{c}'" for c in df.columns[:20])
        raise UserError(
            f"{where}: required column {', '.join(repr(m) for m in missing)} is missing. Columns found: {hint}. "
            f"Rename the column or map it in mapping.yaml as {{{table.name}: {{'source header': {missing[0]}}}}}")
    keep = list(rename)
    if table.extra_numeric:  # client-card drivers: any other column, parsed later if numeric
        keep += [c for c in df.columns if c not in rename]
    out = df[keep].rename(columns=rename)
    return out


# --------------------------------------------------------------------------------------------
# parsing of values
# --------------------------------------------------------------------------------------------
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
_CURRENCY = re.compile(r"(руб\.?|р\.|₽|rub|usd|eur|\$|€|£)", re.I)


def _strings(s: pd.Series) -> pd.Series:
    """Values as stripped strings, missing as ''."""
    if s.dtype == object:
        s = s.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return s.astype("string").fillna("").str.strip()


def parse_numbers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers as people type them -> (float values, mask of unreadable non-empty cells).

    >>> v, bad = parse_numbers(pd.Series(["1 234,56", "1,234.5", "12,5", "-7", "", "н/д", "1\\u00a0000 ₽", "(30)"]))
    >>> v.tolist()[:4], bad.tolist()
    ([1234.56, 1234.5, 12.5, -7.0], [False, False, False, False, False, True, False, False])
    >>> v.tolist()[6:]
    [1000.0, -30.0]
    """
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = pd.to_numeric(s, errors="coerce").astype("float64")
        return v, pd.Series(False, index=s.index)
    raw = _strings(s)
    t = raw.str.replace(_SPACES, "", regex=True).str.replace(_CURRENCY, "", regex=True).str.rstrip("%")
    neg = t.str.startswith("(") & t.str.endswith(")")
    t = t.where(~neg, "-" + t.str.strip("()"))
    t = t.str.replace("\u2212", "-", regex=False)
    has_c, has_d = t.str.contains(",", regex=False), t.str.contains(".", regex=False)
    both = has_c & has_d
    comma_last = t.str.rfind(",") > t.str.rfind(".")
    # both separators: the last one is the decimal separator
    t = t.where(~(both & comma_last), t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    t = t.where(~(both & ~comma_last), t.str.replace(",", "", regex=False))
    only_c = has_c & ~has_d
    many_c = t.str.count(r",") > 1
    grouped_c = t.str.fullmatch(r"[-+]?\d{1,3}(,\d{3})+")
    t = t.where(~(only_c & many_c & grouped_c), t.str.replace(",", "", regex=False))  # 1,234,567 (12,3,4 stays bad)
    t = t.where(~(only_c & ~many_c), t.str.replace(",", ".", regex=False))  # 12,5
    grouped_d = t.str.fullmatch(r"[-+]?\d{1,3}(\.\d{3})+")
    t = t.where(~(has_d & ~has_c & (t.str.count(r"\.") > 1) & grouped_d), t.str.replace(".", "", regex=False))
    empty = t.isin(["", "-", "—", "–"])
    v = pd.to_numeric(t.where(~empty, None), errors="coerce").astype("float64")
    bad = v.isna() & ~empty
    return v, bad.astype(bool)


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d/%m/%Y",
                 "%Y-%m-%dT%H:%M:%S", "%d.%m.%y", "%Y/%m/%d", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M")


def parse_dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates as ``YYYY-MM-DD``, ``DD.MM.YYYY`` (with or without time) or Excel serial numbers.

    >>> v, bad = parse_dates(pd.Series(["2024-02-05", "05.02.2024", "45327", "31.02.2024", ""]))
    >>> [str(x.date()) if not pd.isna(x) else None for x in v], bad.tolist()
    (['2024-02-05', '2024-02-05', '2024-02-05', None, None], [False, False, False, True, False])
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        v = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        return v.astype("datetime64[ns]").dt.normalize(), pd.Series(False, index=s.index)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if s.dtype == object:  # xlsx cells: datetime objects and numbers mixed with text
        is_dt = s.map(lambda x: isinstance(x, (pd.Timestamp, np.datetime64)) or hasattr(x, "year"))
        if is_dt.any():
            out[is_dt] = pd.to_datetime(s[is_dt], errors="coerce").astype("datetime64[ns]")
    raw = _strings(s)
    todo = out.isna() & (raw != "")
    for fmt in _DATE_FORMATS:
        if not todo.any():
            break
        got = pd.to_datetime(raw[todo], format=fmt, errors="coerce")
        ok = got.notna()
        if ok.any():
            out[got.index[ok]] = got[ok].astype("datetime64[ns]")
            todo = out.isna() & (raw != "")
    if todo.any():  # Excel serial numbers
        num = pd.to_numeric(raw[todo].str.replace(",", ".", regex=False), errors="coerce")
        ok = num.between(20000, 80000)
        if ok.any():
            out[num.index[ok]] = (pd.Timestamp("1899-12-30") + pd.to_timedelta(num[ok].round(), unit="D")).astype(
                "datetime64[ns]")
        todo = out.isna() & (raw != "")
    return out.dt.normalize(), todo.astype(bool)


_RU_MONTHS = {"январ": 1, "феврал": 2, "март": 3, "апрел": 4, "ма": 5, "июн": 6, "июл": 7, "август": 8,
              "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12}


def parse_months(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Months as ``YYYY-MM``, ``MM.YYYY``, a date, or ``март 2025`` -> the 1st of the month.

    >>> v, bad = parse_months(pd.Series(["2025-03", "03.2025", "2025-03-15", "март 2025", "x"]))
    >>> [str(x.date()) if not pd.isna(x) else None for x in v], bad.tolist()
    (['2025-03-01', '2025-03-01', '2025-03-01', '2025-03-01', None], [False, False, False, False, True])
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        v, bad = parse_dates(s)
        return v.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]"), bad
    raw = _strings(s)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    for pat, fmt in ((r"^\d{4}-\d{1,2}$", "%Y-%m"), (r"^\d{1,2}\.\d{4}$", "%m.%Y"), (r"^\d{4}\.\d{1,2}$", "%Y.%m"),
                     (r"^\d{1,2}/\d{4}$", "%m/%Y")):
        m = raw.str.match(pat) & out.isna()
        if m.any():
            out[m] = pd.to_datetime(raw[m], format=fmt, errors="coerce").astype("datetime64[ns]")
    todo = out.isna() & (raw != "")
    if todo.any():
        low = raw[todo].str.lower()
        mm = re.compile(r"^([а-яё]+)\s+(\d{4})")
        def ru(x: str):
            m = mm.match(x)
            if not m:
                return pd.NaT
            for stem, num in _RU_MONTHS.items():
                if m.group(1).startswith(stem):
                    return pd.Timestamp(int(m.group(2)), num, 1)
            return pd.NaT
        got = low.map(ru)
        ok = got.notna()
        if ok.any():
            out[got.index[ok]] = pd.to_datetime(got[ok]).astype("datetime64[ns]")
        todo = out.isna() & (raw != "")
    if todo.any():
        d, _ = parse_dates(s[todo])
        out[d.index[d.notna()]] = d[d.notna()]
    bad = out.isna() & (raw != "")
    return out.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]"), bad.astype(bool)


def parse_text(s: pd.Series, *, is_id: bool = False) -> pd.Series:
    """Text stripped; empty -> <NA>; identifiers exported as floats (``17850.0``) lose the ``.0``."""
    t = _strings(s)
    if is_id:
        t = t.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    t = t.str.replace(r"\s+", " ", regex=True)
    return t.mask(t == "", pd.NA).astype("string")


# --------------------------------------------------------------------------------------------
# one table
# --------------------------------------------------------------------------------------------
def _normalise_choice(s: pd.Series, choices: dict[str, tuple[str, ...]]) -> tuple[pd.Series, pd.Series]:
    low = s.fillna("").str.lower().str.strip().str.replace("ё", "е")
    out = pd.Series(pd.NA, index=s.index, dtype="string")
    for canon, variants in choices.items():
        out = out.mask(low.isin([v.replace("ё", "е") for v in variants]) & out.isna(), canon)
    bad = out.isna() & (low != "")
    return out, bad


def parse_table(df: pd.DataFrame, rows: np.ndarray, table: Table, where: str,
                drivers_wanted: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Parse a mapped raw frame into the canonical table; return (usable rows, findings, rows read).

    Entirely blank lines are not rows of data: they are neither read nor rejected.
    """
    name = table.name
    issues = []
    out = pd.DataFrame(index=df.index)
    out["_row"] = rows.astype("int64")
    reject = pd.Series(False, index=df.index)
    badline = pd.Series(False, index=df.index)
    if len(df.columns):
        first = _strings(df.iloc[:, 0]) if df.dtypes.iloc[0] == object or df.dtypes.iloc[0] == "string" else None
        if first is not None:
            badline = first.str.startswith("\x00BADLINE\x00")
            if badline.any():
                df = df.copy()
                df.iloc[:, 0] = first.str.replace("\x00BADLINE\x00", "", regex=False)
    # rows that are entirely empty are not data rows (blank lines of an export)
    blank = df.apply(lambda c: _strings(c) == "").all(axis=1) if len(df.columns) else pd.Series(True, index=df.index)
    cid_for = None

    for col in table.columns:
        if col.name not in df.columns:
            if col.kind in ("number", "prob"):
                out[col.name] = np.nan
            elif col.kind in ("date", "month"):
                out[col.name] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
            else:
                out[col.name] = pd.Series(pd.NA, index=df.index, dtype="string")
            continue
        src = df[col.name]
        if col.kind == "text":
            v = parse_text(src, is_id=col.name in ("client_id", "deal_id"))
            bad = pd.Series(False, index=df.index)
        elif col.kind == "number":
            v, bad = parse_numbers(src)
        elif col.kind == "prob":
            v, bad = parse_numbers(src)
            pct = _strings(src).str.endswith("%") if not pd.api.types.is_numeric_dtype(src) else \
                pd.Series(False, index=src.index)
            if (v > 1).any() or pct.any():
                v = v / 100.0
            out_of = v.notna() & ((v < 0) | (v > 1))
            if out_of.any():
                issues.append(issue_frame(name, rows[out_of.to_numpy()], None, "bad_probability",
                                          [f"{col.name} {x!r} is outside 0–100 %" for x in _strings(src)[out_of]]))
                reject |= out_of
        elif col.kind == "date":
            v, bad = parse_dates(src)
            wrong = v.notna() & ((v < EARLIEST) | (v > pd.Timestamp.today().normalize() + pd.Timedelta(days=1)))
            if wrong.any():
                issues.append(issue_frame(name, rows[wrong.to_numpy()], None, "bad_date",
                                          [f"{col.name} {str(x.date())} is in the future or before 1990"
                                           for x in v[wrong]]))
                if col.required:
                    reject |= wrong
                v = v.mask(wrong)
        else:  # month
            v, bad = parse_months(src)
        if bad.any():
            code = {"number": "bad_number", "prob": "bad_number"}.get(col.kind, "bad_date")
            kind = {"number": "a number", "prob": "a number", "date": "a date", "month": "a month (YYYY-MM)"}.get(
                col.kind, "valid")
            raw = _strings(src)[bad]
            issues.append(issue_frame(name, rows[bad.to_numpy()], None, code,
                                      [f"{col.name} \"{x}\" is not {kind}" for x in raw]))
            if col.required:
                reject |= bad
        out[col.name] = v
        if col.required:
            miss = v.isna() & ~bad & ~blank
            if col.name == "probability":
                miss = pd.Series(False, index=df.index)
            if miss.any():
                issues.append(issue_frame(name, rows[miss.to_numpy()], None, "missing_value",
                                          f"required {col.name} is empty"))
                reject |= miss

    # driver columns on client cards
    drivers: list[str] = []
    if table.extra_numeric:
        for c in df.columns:
            if c in table.names or c in out.columns:
                continue
            v, bad = parse_numbers(df[c])
            filled = _strings(df[c]) != ""
            wanted = drivers_wanted is not None and c in drivers_wanted
            if wanted or (filled.sum() > 0 and bad.sum() <= 0.05 * filled.sum()):
                if bad.any():
                    issues.append(issue_frame(name, rows[bad.to_numpy()], None, "bad_number",
                                              [f"{c} \"{x}\" is not a number" for x in _strings(df[c])[bad]]))
                out[c] = v
                drivers.append(c)

    if badline.any():
        issues.append(issue_frame(name, rows[badline.to_numpy()], None, "bad_value",
                                  "the line has a different number of fields than the header"))
        reject |= badline

    out = out.loc[~blank]
    reject = reject.loc[~blank]
    # client ids in findings
    if "client_id" in out.columns:
        cid_for = pd.Series(out["client_id"].to_numpy(), index=out["_row"].to_numpy())
    good = out.loc[~reject].reset_index(drop=True)
    found = pd.concat(issues, ignore_index=True) if issues else empty_issues()
    if cid_for is not None and len(found):
        found["client_id"] = found["row"].map(lambda r: cid_for.get(r, pd.NA) if not pd.isna(r) else pd.NA).astype(
            "string")
    good.attrs["drivers"] = drivers
    return good, found, int((~blank).sum())


def _finish_table(name: str, df: pd.DataFrame, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table-specific normalisation and row checks after parsing."""
    issues = []
    drop = pd.Series(False, index=df.index)
    if name == "clients":
        st, bad = _normalise_choice(df["status"], CLIENT_STATUS)
        if bad.any():
            issues.append(issue_frame(name, df.loc[bad, "_row"], df.loc[bad, "client_id"], "bad_value",
                                      [f"status \"{x}\" is not active/closed; read as active"
                                       for x in df.loc[bad, "status"]]))
        df["status"] = st.fillna("active").astype("string")
        dup = df["client_id"].duplicated(keep="first")
        if dup.any():
            first_row = df.drop_duplicates("client_id").set_index("client_id")["_row"]
            issues.append(issue_frame(name, df.loc[dup, "_row"], df.loc[dup, "client_id"], "duplicate_id",
                                      [f"client_id {c} is already used by the card in row {first_row[c]}; "
                                       "this card is left out" for c in df.loc[dup, "client_id"]]))
            drop |= dup
    elif name == "deals":
        st, bad = _normalise_choice(df["status"], DEAL_STATUS)
        if bad.any():
            issues.append(issue_frame(name, df.loc[bad, "_row"], df.loc[bad, "client_id"], "bad_value",
                                      [f"status \"{x}\" is not open/won/lost" for x in df.loc[bad, "status"]]))
            drop |= bad
        df["status"] = st.astype("string")
        nop = (df["status"] == "open") & df["probability"].isna()
        if nop.any():
            issues.append(issue_frame(name, df.loc[nop, "_row"], df.loc[nop, "client_id"], "missing_value",
                                      "an open deal needs a probability"))
            drop |= nop
        dup = df["deal_id"].duplicated(keep="first") & ~drop
        if dup.any():
            issues.append(issue_frame(name, df.loc[dup, "_row"], df.loc[dup, "client_id"], "duplicate_id",
                                      [f"deal_id {d} appears twice; the later row is left out"
                                       for d in df.loc[dup, "deal_id"]]))
            drop |= dup
    elif name == "stock":
        neg = (df["on_hand"] < 0) | (df["incoming"].fillna(0) < 0)
        if neg.any():
            issues.append(issue_frame(name, df.loc[neg, "_row"], None, "negative_stock",
                                      [f"stock of {g} is negative" for g in df.loc[neg, "product_group"]]))
            drop |= neg
        df["incoming"] = df["incoming"].fillna(0.0)
    out = df.loc[~drop].reset_index(drop=True)
    out.attrs.update(df.attrs)
    return out, (pd.concat(issues, ignore_index=True) if issues else empty_issues())


# --------------------------------------------------------------------------------------------
# the case
# --------------------------------------------------------------------------------------------
def read_mapping(case_dir: Path) -> dict:
    """``mapping.yaml``: ``{table: {source header: canonical column}}`` (optional)."""
    p = case_dir / "mapping.yaml"
    if not p.exists():
        p = case_dir / "mapping.yml"
        if not p.exists():
            return {}
    try:
        m = yaml.safe_load(p.read_text(encoding="utf-8-sig")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise UserError(f"{p.name}: not valid YAML ({e})") from None
    if not isinstance(m, dict) or not all(isinstance(v, dict) for v in m.values()):
        raise UserError(f"{p.name}: expected {{table: {{source column: canonical column}}}}")
    unknown = [t for t in m if t not in TABLES]
    if unknown:
        raise UserError(f"{p.name}: unknown table {unknown[0]!r}; tables are {', '.join(TABLES)}")
    return {t: {str(k): str(v) for k, v in cols.items()} for t, cols in m.items()}


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_table(path: Path, name: str, mapping: dict | None = None,
               drivers: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Load one table file: (usable canonical rows, findings, rows read)."""
    table = TABLES[name]
    mapping = mapping or {}
    raw, rows = read_raw(path, table, mapping)
    mapped = map_headers(raw, table, mapping, path.name)
    good, issues, n_read = parse_table(mapped, rows, table, path.name, drivers)
    good, more = _finish_table(name, good, path.name)
    issues = pd.concat([issues, more], ignore_index=True) if len(more) else issues
    return good, issues, n_read


def load_case(case_dir, drivers: list[str] | None = None) -> Case:
    """Load and validate every table of a case folder (see the module docstring)."""
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise UserError(f"{case_dir}: no such folder; give the folder that holds clients.csv and sales.csv")
    mapping = read_mapping(case_dir)
    tables: dict[str, pd.DataFrame] = {}
    issues: list[pd.DataFrame] = []
    counts: dict[str, dict[str, int]] = {}
    files: dict[str, str] = {}
    hashes: dict[str, str] = {}
    found_drivers: list[str] = []
    for name, table in TABLES.items():
        path = find_table_file(case_dir, name)
        if path is None:
            if table.required_table:
                raise UserError(f"{case_dir}: the required table '{name}' is missing (expected {name}.csv, "
                                f"{name}.xlsx or {name}.parquet)")
            continue
        df, found, n_read = load_table(path, name, mapping.get(name), drivers)
        if name == "clients":
            found_drivers = df.attrs.get("drivers", [])
        files[name] = path.name
        hashes[path.name] = file_hash(path)
        tables[name] = df
        issues.append(found)
        counts[name] = {"read": n_read, "used": len(df), "rejected": n_read - len(df)}
        if name in ("clients", "sales") and len(df) == 0:
            raise UserError(f"{path.name}: no usable rows ({n_read} read, all rejected: see the first problems: "
                            + "; ".join(f"row {r}: {d}" for r, d in found[["row", "detail"]].head(3).itertuples(
                                index=False)) + ")")
    if (case_dir / "mapping.yaml").exists():
        hashes["mapping.yaml"] = file_hash(case_dir / "mapping.yaml")

    # references to clients
    known = set(tables["clients"]["client_id"].dropna())
    for name in ("sales", "deals", "survey", "contacts"):
        if name not in tables:
            continue
        df = tables[name]
        unk = ~df["client_id"].isin(known)
        if unk.any():
            issues.append(issue_frame(name, df.loc[unk, "_row"], df.loc[unk, "client_id"], "unknown_client",
                                      [f"client_id {c} is not in clients" for c in df.loc[unk, "client_id"]]))
            tables[name] = df.loc[~unk].reset_index(drop=True)
            counts[name]["used"] -= int(unk.sum())
            counts[name]["rejected"] += int(unk.sum())
            if name == "sales" and len(tables[name]) == 0:
                raise UserError(f"{files[name]}: none of the {int(unk.sum())} sales rows names a client of "
                                f"{files['clients']} (e.g. client_id {df['client_id'].iloc[0]}); check that both "
                                "files use the same client code")
    if len(tables["clients"]) < 2:
        raise UserError(f"{files['clients']}: only {len(tables['clients'])} usable client card; an audit needs a "
                        "client base of at least two clients")
    all_issues = pd.concat([i for i in issues if len(i)], ignore_index=True) if any(len(i) for i in issues) \
        else empty_issues()
    all_issues = all_issues.sort_values(["table", "row", "issue"], kind="mergesort", ignore_index=True)
    if drivers:
        missing = [d for d in drivers if d not in tables["clients"].columns]
        if missing:
            raise UserError(f"parameter drivers names {', '.join(missing)}, not numeric columns of "
                            f"{files['clients']} (numeric columns found: {', '.join(found_drivers) or 'none'})")
        found_drivers = list(drivers)
    return Case(case_dir, tables, all_issues, counts, files, hashes, found_drivers)


def driver_columns(clients: pd.DataFrame) -> list[str]:
    """Numeric client-card columns outside the contract's own: the potential drivers."""
    return [c for c in clients.columns if c not in CLIENT_CONTRACT_COLUMNS and c != "_row"
            and pd.api.types.is_float_dtype(clients[c])]
