"""Reading a case folder as people export it: any encoding, delimiter, number and date format.

:func:`load_case` finds every table of the contract in a folder (``NAME.csv``, ``NAME.xlsx`` or
``NAME.parquet``), maps its headers onto the canonical names (``mapping.yaml``, then the built-in
Russian aliases), parses each column by its kind, validates the rows and returns a :class:`Case`:
canonical tables (see :mod:`kbanalysis.schema`), the quality findings of loading and exact row
accounting (``read == used + rejected`` for every table).

A row that cannot be used (a required value missing or unreadable, an unknown client, a duplicate
client_id, a probability outside 0–100 %, negative stock, a date before 1990 or in the future, a
line with more fields than the header …) is left out and listed in ``Case.issues`` with its
spreadsheet row number; nothing is dropped silently. Entirely blank lines are not rows.
A problem that makes the whole case unusable raises :class:`~kbanalysis.errors.UserError` with one
clear message naming the file, the column or row, and how to fix it: a missing required table or
column, a file that is not a table (empty, binary, HTML, PDF, an old .xls, text named .xlsx), one
column only (the delimiter), an encoding that cannot be made out (neither UTF-8, UTF-16 nor
Windows-1251, and no KOI8-R / DOS-866 / Mac Cyrillic reading of the headers fits), no usable rows,
sales of which none names a known client, fewer than two client cards.

Reading is vectorised (pyarrow's or the C CSV parser, pyarrow string kernels, no Python loop over rows): a CSV
sales file loads at about two seconds per million lines (files from 32 MB on are read by pyarrow).

A sales table larger than the memory loads with ``load_case(case_dir, sales_to=PATH)``: its lines are
read, parsed and checked in batches (``batch_rows``) by the same code, and the usable ones appended to
the Parquet file ``PATH`` instead of ``Case.tables``; the findings and counts are those of the
in-memory load, and the peak memory is that of a batch (see :func:`stream_table`).

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

import calendar
import csv
import hashlib
import json
import re
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kbanalysis.errors import UserError, read_yaml_mapping
from kbanalysis.schema import (CLIENT_STATUS, DEAL_STATUS, DRIVER_ALIASES, DRIVER_COLUMNS, TABLES, Table,
                               canonical_header)

FORMATS = (".csv", ".xlsx", ".parquet")
ISSUE_COLUMNS = ["table", "row", "client_id", "issue", "detail"]
EARLIEST = pd.Timestamp("1990-01-01")
#: the largest magnitude a number of a case may have: no amount, cost or stock is larger, and sums of values
#: beyond it (``1e308``) overflow to infinity
LARGEST = 1e15


@dataclass
class Case:
    """A loaded case: canonical tables, loading findings, row accounting, file fingerprints.

    Attributes
    ----------
    path : Path
        The case folder.
    tables : dict of str to DataFrame
        The canonical tables the case has. Without ``"sales"`` when the sales lines were streamed to
        a Parquet file (``load_case(..., sales_to=...)``): see ``sales_path``.
    issues : DataFrame
        The findings of loading (:data:`ISSUE_COLUMNS`), sorted by table, row and issue.
    counts : dict of str to dict
        ``{table: {"read": n, "used": n, "rejected": n}}``, with ``read == used + rejected``.
    files : dict of str to str
        The file name of each table.
    hashes : dict of str to str
        SHA-256 of each file read (tables and ``mapping.yaml``).
    drivers : list of str
        The numeric client-card columns kept as potential drivers.
    ignored_numeric : list of str
        Other numeric client-card columns: neither a known driver nor named by the ``drivers`` parameter.
    sales_path : Path or None
        The Parquet file holding the usable sales lines when they were streamed to disk, else None.
        ``pd.read_parquet(sales_path)`` equals the ``tables["sales"]`` an in-memory load gives.
    """

    path: Path
    tables: dict[str, pd.DataFrame]
    issues: pd.DataFrame
    counts: dict[str, dict[str, int]]
    files: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    drivers: list[str] = field(default_factory=list)
    sales_path: Path | None = None
    ignored_numeric: list[str] = field(default_factory=list)

    @property
    def sales_on_disk(self) -> bool:
        """Whether the sales lines are in the Parquet file ``sales_path`` instead of ``tables``."""
        return self.sales_path is not None

    def table(self, name: str) -> pd.DataFrame | None:
        """The table, or None when the case does not have it (nor ``"sales"`` when it is on disk)."""
        return self.tables.get(name)


# --------------------------------------------------------------------------------------------
# issues
# --------------------------------------------------------------------------------------------
def isin(values, lookup) -> np.ndarray:
    """Fast membership of text ``values`` in ``lookup`` (Arrow ``is_in``; pandas' Arrow-string
    ``isin`` loops in Python over the lookup values). Missing values are never members.

    >>> isin(pd.Series(["a", "b", None]), ["b", "c"]).tolist()
    [False, True, False]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    v = values if isinstance(values, pd.Series) else pd.Series(values, dtype="object")
    if isinstance(v.dtype, pd.StringDtype) and v.dtype.storage == "pyarrow":
        arr = pa.array(v.array)
    else:
        arr = pa.array(v.astype("string").to_numpy(dtype=object, na_value=None), type=pa.large_string())
    lk = pd.Series(list(lookup) if not hasattr(lookup, "dtype") else lookup, dtype="object").dropna()
    lk = pa.array(pd.unique(lk.astype(str).to_numpy(dtype=object)).tolist(), type=arr.type)
    if len(lk) == 0 or len(arr) == 0:
        return np.zeros(len(arr), dtype=bool)
    return pc.is_in(arr, value_set=lk).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def issue_frame(table: str, rows, client_ids, issue, details) -> pd.DataFrame:
    """Quality findings as a frame with the contract's columns: one row per entry of ``rows``; ``client_ids``,
    ``issue`` and ``details`` are one value per row or a single value for all (``client_ids`` None: empty).
    Details that quote raw cells are made printable on one line (:func:`one_line`).

    >>> issue_frame("sales", [3], ["c1"], "bad_date", ["date '31.02.2024' is not a date"])
       table  row client_id     issue                           detail
    0  sales    3        c1  bad_date  date '31.02.2024' is not a date
    >>> issue_frame("clients", [5, 6], None, "invalid_inn", "bad").dtypes["row"]
    Int64Dtype()
    """
    rows = pd.Series(rows, dtype="object").tolist() if len(np.atleast_1d(rows)) else []
    n = len(rows)

    def each(v):
        if v is None or isinstance(v, str) or np.ndim(v) == 0:
            return [pd.NA if v is None else v] * n
        return pd.Series(v, dtype="object").tolist()

    return pd.DataFrame({
        "table": pd.Series([table] * n, dtype="string"),
        "row": pd.array(rows, dtype="Int64"),
        "client_id": pd.array(each(client_ids), dtype="string"),
        "issue": pd.Series(each(issue), dtype="string"),
        "detail": one_line(pd.Series(each(details), dtype="string")).array,
    })


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: longest detail or quoted text in a message; a longer one keeps its start and end (a cell of 10,000 characters)
DETAIL_CHARS = 300


def clip(text: str, most: int = 60) -> str:
    """``text`` cut in the middle to about ``most`` characters, saying how long it was (for messages that
    quote a cell or a header).

    >>> clip("short")
    'short'
    >>> clip("a" * 10 + "b" * 980 + "c" * 10, 20)
    'aaaaaaaaaabbb…ccccccc (1,000 characters)'
    """
    text = str(text)
    if len(text) <= most:
        return text
    head = most * 2 // 3
    return f"{text[:head]}…{text[len(text) - (most - head):]} ({len(text):,} characters)"


def one_line(details: pd.Series) -> pd.Series:
    """Details that quote raw cells, made printable on one line: control characters (a line break
    inside a quoted cell) are shown escaped, and a detail longer than :data:`DETAIL_CHARS` is cut
    in the middle (:func:`clip`: the column at its start and the reason at its end are kept).

    >>> one_line(pd.Series(['date "a\\nb" is not a date'], dtype="string")).tolist()
    ['date "a\\\\nb" is not a date']
    >>> d = one_line(pd.Series(['amount "' + "x" * 10_000 + '" is not a number'], dtype="string"))[0]
    >>> len(d), d[:12], d[-40:]
    (321, 'amount "xxxx', 'xxx" is not a number (10,025 characters)')
    """
    if details.str.contains(_CONTROL, regex=True).fillna(False).any():
        details = details.str.replace(_CONTROL, lambda m: repr(m.group(0))[1:-1], regex=True)
    long = details.str.len().fillna(0) > DETAIL_CHARS
    if long.any():
        details = details.copy()
        details[long] = details[long].map(lambda d: clip(d, DETAIL_CHARS))
    return details


def empty_issues() -> pd.DataFrame:
    """An empty findings frame with the contract's columns and dtypes.

    >>> list(empty_issues().columns)
    ['table', 'row', 'client_id', 'issue', 'detail']
    """
    return issue_frame("", [], [], "", [])


# --------------------------------------------------------------------------------------------
# raw reading
# --------------------------------------------------------------------------------------------
#: Other formats people save under a table's name, and what to say about them.
_OTHER_SUFFIXES = {
    ".xls": "the old Excel 97-2003 format (.xls) is not read: open it in Excel and save it as .xlsx or CSV UTF-8",
    ".xlsm": "save it from Excel as .xlsx (without macros) or CSV UTF-8",
    ".xlsb": "the binary Excel format (.xlsb) is not read: save it from Excel as .xlsx or CSV UTF-8",
    ".ods": "save it as .xlsx or CSV UTF-8",
    ".txt": "rename it to .csv if it is a delimited text export",
    ".tsv": "rename it to .csv (tab-delimited CSV files are read)",
    ".json": "export the table as CSV, .xlsx or .parquet",
    ".xml": "export the table as CSV, .xlsx or .parquet",
    ".html": "open it in Excel and save it as .xlsx or CSV UTF-8",
    ".htm": "open it in Excel and save it as .xlsx or CSV UTF-8",
    ".zip": "unpack it first",
    ".gz": "unpack it first",
}


def _table_files(case_dir: Path, name: str) -> tuple[list[Path], list[Path]]:
    """Files of table ``name`` (stem matched case-insensitively): (readable formats, other formats)."""
    ok, other = [], []
    for p in sorted(case_dir.iterdir()):
        if not p.is_file() or p.name.startswith((".", "~$")):
            continue
        stem, suffix = p.name.split(".", 1)[0].lower(), p.suffix.lower()
        if stem != name:
            continue
        if suffix in FORMATS and p.name.lower() == f"{name}{suffix}":
            ok.append(p)
        else:
            other.append(p)
    return ok, other


def find_table_file(case_dir: Path, name: str) -> Path | None:
    """The file of table ``name`` in the case folder; two formats of one table is an error."""
    found, _ = _table_files(case_dir, name)
    if len(found) > 1:
        raise UserError(f"{case_dir}: table '{name}' is given twice ({', '.join(p.name for p in found)}); "
                        "keep one file per table")
    return found[0] if found else None


def _missing_table_message(case_dir: Path, name: str) -> str:
    _, other = _table_files(case_dir, name)
    msg = (f"{case_dir}: the required table '{name}' is missing (expected {name}.csv, {name}.xlsx or "
           f"{name}.parquet in the case folder)")
    if other:
        p = other[0]
        hint = _OTHER_SUFFIXES.get(p.suffix.lower(), f"save it as {name}.csv, {name}.xlsx or {name}.parquet")
        with open(p, "rb") as f:
            head = f.read(2048)
        low = head.lower().lstrip(b"\xef\xbb\xbf \t\r\n")
        if low.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml", b"<head", b"<meta")) or b"<html" in low:
            hint = ("it is an HTML/XML page with an Excel name (as web systems export tables): open it in Excel and "
                    "save it as .xlsx or CSV UTF-8")
        elif head.startswith(b"PK\x03\x04") and p.suffix.lower() in (".xls", ".xlsm"):
            hint = f"it is an .xlsx workbook with another name: rename it to {name}.xlsx"
        elif head and b"\x00" not in head and _guess_encoding(head) and p.suffix.lower() in (".xls", ".txt", ".tsv"):
            hint = f"it is a text table: rename it to {name}.csv"
        msg += f". Found {p.name}: {hint}"
    return msg


def _utf16(head: bytes) -> str | None:
    """UTF-16 by its byte order mark, or by the zero bytes of ASCII characters (no mark) in readable text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[:4096]
    if len(sample) < 16:
        return None
    even, odd = sample[0::2], sample[1::2]
    ze, zo = even.count(0) / len(even), odd.count(0) / len(odd)
    enc = "utf-16-le" if zo > 0.2 and ze < 0.02 else "utf-16-be" if ze > 0.2 and zo < 0.02 else None
    if enc is None:
        return None
    text = _decode(sample[: len(sample) // 2 * 2], enc)
    if not text or not any(ch in text for ch in "\n,;\t"):
        return None
    readable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return enc if readable >= 0.98 * len(text) else None


#: Magic numbers of files that are not tables.
_MAGIC = ((b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"), (b"{\\rtf", "an RTF document"),
          (b"Rar!", "a RAR archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"\x89PNG", "a PNG image"),
          (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"), (b"PAR1", "a Parquet file"),
          (b"SQLite format", "an SQLite database"))


def _check_is_table(head: bytes, where: str) -> None:
    """Raise a clear error when the first bytes of a file show that it is not a table at all."""
    if not head.strip():
        raise UserError(f"{where}: the file is empty; export the table again")
    if _utf16(head):
        return
    low = head[:2048].lower().lstrip()
    if low.startswith(b"\xef\xbb\xbf"):
        low = low[3:].lstrip()
    if low.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml", b"<head", b"<body", b"<meta")) \
            or b"<html" in low[:512]:
        raise UserError(f"{where}: this is an HTML/XML page saved under a table's name, not a table; "
                        "open it in Excel and save it as .xlsx or CSV UTF-8")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            fix = ("rename it to .parquet" if magic == b"PAR1" else "export the table as CSV UTF-8 or .xlsx")
            raise UserError(f"{where}: this is {what}, not a table; {fix}")
    if head.startswith(b"PK\x03\x04"):
        raise UserError(f"{where}: this is an Excel/zip file with a .csv name; save it as CSV or rename it to .xlsx")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UserError(f"{where}: this is an old Excel 97-2003 (.xls) workbook with a .csv name; open it in Excel "
                        "and save it as .xlsx or CSV UTF-8")
    if b"\x00" in head[:4096]:
        raise UserError(f"{where}: this is a binary file, not a table; export the table as CSV or XLSX")


def _decode(head: bytes, enc: str) -> str | None:
    """The sample decoded strictly (a multi-byte character cut at its end is allowed), or None."""
    try:
        return head.decode(enc)
    except UnicodeDecodeError as e:
        if enc.startswith(("utf-8", "utf-16")) and e.start >= len(head) - 4:
            try:
                return head[: e.start].decode(enc)
            except UnicodeDecodeError:
                return None
        return None


def detect_encoding(head: bytes, where: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 or Windows-1251.

    >>> detect_encoding("Дата;Сумма".encode("cp1251"), "x")
    'cp1251'
    >>> detect_encoding("\\ufeffДата".encode("utf-8"), "x")
    'utf-8-sig'
    """
    enc = _guess_encoding(head)
    if enc is None:
        raise UserError(f"{where}: the encoding could not be detected (expected UTF-8 or Windows-1251); "
                        "save the file as CSV UTF-8 from Excel")
    return enc


def _guess_encoding(head: bytes) -> str | None:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    u16 = _utf16(head)
    if u16:
        return u16
    if _decode(head, "utf-8") is not None:
        return "utf-8"
    # not UTF-8 throughout, yet much UTF-8 Cyrillic: a file that mixes encodings (read as UTF-8, the rows
    # with foreign bytes are marked); Windows-1251 text hardly ever makes such byte pairs
    pairs = len(re.findall(rb"[\xd0\xd1][\x80-\xbf]", head))
    if pairs and 2 * pairs >= 0.2 * (len(head) - len(head.translate(None, bytes(range(128))))):
        return "utf-8"
    if _decode(head, "cp1251") is not None:
        return "cp1251"
    return None


#: Encodings tried when the headers do not read in UTF-8 / Windows-1251 (old DOS, Unix and Mac exports).
_OTHER_ENCODINGS = ("utf-8", "cp1251", "koi8-r", "cp866", "mac-cyrillic")
_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1251": "Windows-1251", "koi8-r": "KOI8-R",
                   "cp866": "DOS-866", "mac-cyrillic": "Mac Cyrillic", "utf-16": "UTF-16", "utf-16-le": "UTF-16",
                   "utf-16-be": "UTF-16"}
# signs of text decoded with the wrong code page: a replacement character; Windows-1251 symbols that
# Russian text does not use (DOS-866 read as 1251); a quote, dash or bullet glued before a lower-case
# letter (Mac Cyrillic capitals read as 1251); a Latin letter glued to a Cyrillic one (Latin-1 read as
# 1251); a lower-case Cyrillic letter followed by two capitals (KOI8-R read as 1251)
_LOWER, _UPPER = "\u0430-\u044f\u0451", "\u0410-\u042f\u0401"
_GARBLED = re.compile(
    "\ufffd"
    "|[\u0402\u0403\u201a\u0453\u2020\u2021\u2030\u0409\u2039\u040a\u040c\u040b\u040f\u0452\u0459\u203a"
    "\u045a\u045c\u045b\u045f\u0408\u00a4\u00a6\u00ac\u00b6\u0458\u0405\u0455]"
    f"|[\u201e\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u2026\u20ac\u2030\u2122][{_LOWER}]"
    f"|[A-Za-z][{_LOWER}]|[{_LOWER}][A-Za-z]|[{_LOWER}][{_UPPER}]{{2}}")


def _garbled_words(text: str, limit: int = 5) -> list[str]:
    """Words of ``text`` that look like mojibake (text decoded with the wrong code page)."""
    out = []
    for w in re.findall(r"\S+", text):
        if not w.isascii() and _GARBLED.search(w):
            out.append(w)
            if len(out) >= limit:
                break
    return out


def _looks_garbled(text: str) -> bool:
    """Whether many non-ASCII words of ``text`` look like mojibake.

    >>> _looks_garbled("Дата Сумма Контрагент ООО «Ромашка» №5")
    False
    >>> _looks_garbled("„ата Љод клиента ’оварнаЯ группа ‘умма")
    True
    >>> _looks_garbled("M\\u044cller Stra\\u00dfe Gr\\u044cn K\\u044chn")  # Latin-1 read as Windows-1251
    True
    """
    words = [w for w in re.findall(r"\S+", text[:20000]) if not w.isascii()]
    if not words:
        return False
    bad = sum(bool(_GARBLED.search(w)) for w in words)
    return bad >= 2 and bad >= 0.2 * len(words)


def _split_lines(text: str, full: bool) -> list[str]:
    lines = re.split(r"\r\n|\r|\n", text)[:60]
    if full and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut sample may be partial
    return lines


def detect_delimiter(lines: list[str]) -> str:
    """``,`` ``;`` tab or ``|``: the one that splits the sample into the most consistent columns.

    >>> detect_delimiter(["a;b;c", "1,5;2;3"])
    ';'
    """
    return _sniff(lines, None, {})[0]


def _sniff(lines: list[str], table: Table | None, mapping: dict) -> tuple[str, list[list[str]], int, int]:
    """(delimiter, rows of the sample, index of the header row, header columns recognised).

    The delimiter under which a header row names the most columns of ``table`` wins; then the one
    that splits the sample into the most consistent columns (title lines above the header do not count).
    """
    best = None
    best_score = None
    for d in (";", "\t", ",", "|"):
        try:
            rows = list(csv.reader(lines, delimiter=d))
        except csv.Error:
            continue
        widths = [len(r) for r in rows if any(x.strip() for x in r)]
        multi = [w for w in widths if w >= 2]
        if not multi:
            continue
        mode = max(sorted(set(multi)), key=multi.count)
        h, hits = _header_index(rows, table, mapping, mode)
        score = (hits, mode * multi.count(mode) / len(widths))
        if best_score is None or score > best_score:
            best, best_score = (d, rows, h, hits), score
    if best is None:
        rows = list(csv.reader(lines, delimiter=",")) if lines else []
        h, hits = _header_index(rows, table, mapping, 0)
        return ",", rows, h, hits
    return best


def _header_index(rows: list[list], table: Table | None, mapping: dict, width: int = 0) -> tuple[int, int]:
    """Index of the header row among the first rows (title lines of 1C reports come before it), its hits.

    The row naming the most columns of ``table``; when none names any, the first row ``width`` wide.
    """
    best, best_hits = 0, 0
    for i, r in enumerate(rows[:30]):
        if table is None:
            break
        hits = len({_canonical_for(str(x), table, mapping) for x in r if x is not None and str(x).strip()} - {None})
        if hits > best_hits:
            best, best_hits = i, hits
    if best_hits == 0 and width:
        best = next((i for i, r in enumerate(rows[:30]) if len(r) == width), 0)
    return best, best_hits


@dataclass
class RawInfo:
    """What reading a file found out besides its cells."""

    encoding: str = ""
    delimiter: str = ""
    garbled: bool = False
    encoding_errors: bool = False  # undecodable bytes were replaced (a file mixing encodings)
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (row, detail) of lines that are not rows
    notes: list[pd.DataFrame] = field(default_factory=list)  # findings about the whole file or a few rows


def read_raw(path: Path, table: Table, mapping: dict) -> tuple[pd.DataFrame, np.ndarray, RawInfo]:
    """Read a file as strings (xlsx keeps dates and numbers).

    Returns the frame, the spreadsheet row number of each of its rows and what reading found out
    (lines with more fields than the header are not in the frame: they are in ``RawInfo.bad_rows``).
    """
    where = path.name
    suffix = path.suffix.lower()
    info = RawInfo()
    if suffix == ".parquet":
        with open(path, "rb") as f:
            head = f.read(4)
        if head != b"PAR1":
            with open(path, "rb") as f:
                _check_is_table(f.read(1 << 16), where)
            raise UserError(f"{where}: not a Parquet file; export the table again as .parquet, .xlsx or CSV")
        try:
            df = pd.read_parquet(path)
        except Exception as e:  # noqa: BLE001 - any reader failure is the user's file
            raise UserError(f"{where}: not a readable Parquet file ({e.__class__.__name__}: {e})") from None
        df.columns = _parquet_names(df.columns)
        return df, np.arange(2, len(df) + 2), info
    if suffix == ".xlsx":
        with open(path, "rb") as f:
            head = f.read(1 << 16)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise UserError(f"{where}: this is an old Excel 97-2003 workbook (.xls) or a password-protected one "
                            "under an .xlsx name; open it in Excel and save it as .xlsx (without a password) "
                            "or CSV UTF-8")
        if not head.startswith(b"PK"):
            _check_is_table(head, where)
            raise UserError(f"{where}: not an Excel .xlsx file (it looks like a text file); rename it to .csv or "
                            "save it from Excel as .xlsx")
        try:
            raw = pd.read_excel(path, header=None, dtype=object, engine="openpyxl")
        except Exception as e:  # noqa: BLE001
            raise UserError(f"{where}: the Excel file could not be read ({e.__class__.__name__}: {e}); "
                            "open it in Excel and save it again as .xlsx") from None
        if raw.empty:
            raise UserError(f"{where}: the first sheet is empty; put the table on the first sheet")
        rows = raw.head(30).values.tolist()
        h, hits = _header_index(rows, table, mapping)
        if hits == 0:  # nothing recognised: the first row with two cells filled (title rows have one)
            filled = raw.head(30).notna().sum(axis=1).to_numpy()
            h = int(np.argmax(filled >= 2)) if (filled >= 2).any() else 0
        header = [str(x).strip() if x is not None and not (isinstance(x, float) and np.isnan(x)) else f"col{i}"
                  for i, x in enumerate(raw.iloc[h].tolist())]
        df = raw.iloc[h + 1:].reset_index(drop=True)
        df.columns = _dedupe(header)
        return df, np.arange(h + 2, h + 2 + len(df)), info
    # csv and anything else that claims to be text
    layout = _csv_layout(path, table, mapping, info)
    df = _read_csv_fast(path, layout.enc, layout.sep, layout.h, layout.names) if layout.fast else None
    bad: list[tuple[int, int]] = []
    if df is None:
        df, bad = _read_csv(path, where, table.name, layout.enc, layout.sep, layout.h, layout.head_ascii, info,
                            layout.names + layout.spare)
    rows = _spreadsheet_rows(len(df), bad, layout.h + 2)
    df, rows, bad = _without_wide_lines(df, rows, bad, layout)
    info.bad_rows = _bad_line_details(bad, layout)
    if info.encoding_errors:
        _mark_undecodable_rows(df, rows, table.name, where, info)
    return df, rows, info


@dataclass
class _CsvLayout:
    """How a CSV file holds its table, as made out from its first 64 KB."""

    enc: str  # the encoding
    sep: str  # the delimiter
    h: int  # index of the header line (title lines of 1C reports come before it)
    names: list[str]  # the columns of the header (deduplicated)
    spare: list[str]  # extra columns for the widest line of the sample, when it is wider than the header
    head_ascii: bool  # the first 64 KB are plain ASCII
    fast: bool  # pyarrow's reader is tried first (a large file and no spare columns)

    @property
    def width(self) -> int:
        return len(self.names)


def _csv_layout(path: Path, table: Table, mapping: dict, info: RawInfo) -> _CsvLayout:
    """The encoding, delimiter, header line and columns of a CSV file, from its head (sets ``info``'s
    encoding, delimiter and garbled flag); a file that is no table of at least two columns is an error."""
    where = path.name
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    _check_is_table(head, where)
    full = len(head) == 1 << 16
    need = len(table.required)
    enc = _guess_encoding(head)
    text = (_decode(head, enc) or head.decode(enc, errors="replace")) if enc else \
        head.decode("cp1251", errors="replace")
    sep, sample, h, hits = _sniff(_split_lines(text, full), table, mapping)
    if enc is None or hits < need:  # the headers do not read: another code page?
        for alt in _OTHER_ENCODINGS:
            alt_text = _decode(head, alt) if alt != enc else None
            if alt_text is None:
                continue
            s2 = _sniff(_split_lines(alt_text, full), table, mapping)
            if s2[3] >= need and s2[3] > hits:
                enc, text, (sep, sample, h, hits) = alt, alt_text, s2
                break
    if enc is None:
        shown = ", ".join(repr(w) for w in _garbled_words(text, 3))
        raise UserError(f"{where}: the encoding could not be detected: the file is neither UTF-8 nor Windows-1251"
                        f"{' (it reads as ' + shown + ')' if shown else ''}; open it in Excel and save it as "
                        "CSV UTF-8")
    info.encoding, info.delimiter = enc, sep
    info.garbled = _looks_garbled(text)
    header = [x.strip().lstrip("\ufeff").strip() for x in sample[h]] if len(sample) > h else []
    if len(header) < 2:
        first = header[0] if header else ""
        raise UserError(f"{where}: only one column was found (header {first[:80]!r}); the columns must be "
                        "separated by ',', ';' or tab. Export the table again as CSV (or check that this is the "
                        f"right file){_encoding_hint(info, [first])}")
    width = len(header)
    # room for the widest line of the sample: a wider first line would otherwise turn into an index
    extra = max([len(r) for r in sample[h + 1:]] + [width]) - width
    names = _dedupe([x or f"col{i}" for i, x in enumerate(header)])
    spare = [f"\x00extra{i}" for i in range(extra)]
    return _CsvLayout(enc, sep, h, names, spare, head.isascii(),
                      fast=not spare and path.stat().st_size >= FAST_CSV_BYTES)


def _spreadsheet_rows(n: int, skipped: list[tuple[int, int]], first: int) -> np.ndarray:
    """Spreadsheet row numbers of the ``n`` lines a reader gave, the ``skipped`` lines (row, fields) left
    out; when the parser's line numbers do not fit (quoted line breaks), plain order from ``first``.

    >>> _spreadsheet_rows(3, [(3, 7)], 2).tolist()
    [2, 4, 5]
    """
    rows = np.arange(first, first + n + len(skipped), dtype=np.int64)
    if skipped:
        rows = rows[~np.isin(rows, [r for r, _ in skipped])]
        if len(rows) != n:  # line numbers of the parser's warnings not as expected: keep the order
            rows = np.arange(first, first + n, dtype=np.int64)
    return rows


def _without_wide_lines(df: pd.DataFrame, rows: np.ndarray, bad: list[tuple[int, int]],
                        layout: _CsvLayout) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, int]]]:
    """The lines read without the spare columns; lines wider than the header with something in the extra
    fields are not rows: they join ``bad`` as (row, fields)."""
    if not layout.spare:
        return df, rows, bad
    fields = np.zeros(len(df), dtype=np.int64)
    for i, c in enumerate(layout.spare):
        fields = np.where(df[c].to_numpy(dtype=object, na_value="") != "", layout.width + i + 1, fields)
    wide = fields > 0
    if wide.any():
        bad = sorted(bad + list(zip(rows[wide].tolist(), fields[wide].tolist())))
        df, rows = df.loc[~wide].reset_index(drop=True), rows[~wide]
    return df.drop(columns=layout.spare), rows, bad


def _bad_line_details(bad: list[tuple[int, int]], layout: _CsvLayout) -> list[tuple[int, str]]:
    """(row, detail) of lines with more fields than the header."""
    return [(r, f"the line has {saw} fields but the header has {layout.width} (a stray "
             f"{_SEP_NAMES.get(layout.sep, layout.sep)} in a cell?); the row is left out") for r, saw in bad]


def _mark_undecodable_rows(df: pd.DataFrame, rows: np.ndarray, name: str, where: str, info: RawInfo) -> None:
    """Rows holding bytes the file's encoding cannot decode: a few are listed, many stop the run."""
    _note_undecodable(rows[_undecodable(df)], len(df), name, where, info)


def _undecodable(df: pd.DataFrame) -> np.ndarray:
    """Mask of the rows with a cell holding U+FFFD (bytes the encoding could not decode, replaced)."""
    hit = np.zeros(len(df), dtype=bool)
    for c in df.columns:
        hit |= df[c].astype("string").str.contains("\ufffd", regex=False).fillna(False).to_numpy(dtype=bool)
    return hit


def _note_undecodable(hit: np.ndarray, n_rows: int, name: str, where: str, info: RawInfo) -> None:
    """List the rows ``hit`` (of ``n_rows`` read) in ``info.notes``; raise when they are too many."""
    n = len(hit)
    if not n:
        return
    if n > max(0.05 * n_rows, 20):
        raise UserError(f"{where}: {n:,} rows (the first is row {int(hit[0])}) are not in "
                        f"{_ENCODING_NAMES.get(info.encoding, info.encoding)} like the rest of the file: the file "
                        "mixes encodings; export it again as CSV UTF-8")
    info.notes.append(issue_frame(name, hit, None, "bad_value",
                                  f"the row has bytes that are not {_ENCODING_NAMES.get(info.encoding, info.encoding)} "
                                  "(the file mixes encodings); its text shows \ufffd where they were"))


_SEP_NAMES = {";": "';'", ",": "','", "\t": "tab", "|": "'|'"}


def _encoding_hint(info: RawInfo, headers) -> str:
    """A sentence on the encoding when the headers (or the text) look like mojibake."""
    shown = _garbled_words(" ".join(str(x) for x in headers), 3)
    if not (info.garbled or shown):
        return ""
    name = _ENCODING_NAMES.get(info.encoding, info.encoding)
    ex = f" (e.g. {', '.join(repr(clip(w)) for w in shown)})" if shown else ""
    return (f". The text looks garbled{ex}: the file was read as {name}, but it is probably in another encoding; "
            "open it in Excel and save it as CSV UTF-8")


#: CSV files from this size on are first read with pyarrow's multi-threaded reader (falling back to
#: the C parser below on anything it does not read exactly the same way).
FAST_CSV_BYTES = 32 << 20


def _read_csv_fast(path: Path, enc: str, sep: str, h: int, names: list[str]) -> pd.DataFrame | None:
    """The lines under the header as strings, read by pyarrow (several threads, Arrow strings).

    Returns None, for the C parser to read the file, whenever the result could differ from it: a
    line with more or fewer fields than the header, bytes the encoding cannot decode, any error.
    Blank lines come back as rows of empty strings, as from the C parser.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a;b\\n1;x\\n\\n2; y \\n", encoding="utf-8")
    >>> _read_csv_fast(p, "utf-8", ";", 0, ["a", "b"]).to_dict("list")
    {'a': ['1', '', '2'], 'b': ['x', '', ' y ']}
    >>> _ = p.write_text("a;b\\n1;x;3\\n", encoding="utf-8")
    >>> _read_csv_fast(p, "utf-8", ";", 0, ["a", "b"]) is None
    True
    """
    import pyarrow.csv as pcsv

    try:
        tb = pcsv.read_csv(path, **_arrow_csv_options(enc, sep, h, names))
    except _ARROW_READ_ERRORS:
        return None
    return _arrow_frame(tb, names)


#: What pyarrow's CSV reader raises on a file it does not read (the C parser reads it then).
_ARROW_READ_ERRORS = (pa.ArrowException, UnicodeDecodeError, LookupError, ValueError, OSError)


def _arrow_csv_options(enc: str, sep: str, h: int, names: list[str]) -> dict:
    """Options of pyarrow's CSV readers (whole-file and streaming alike): every column a string, a line of
    another width an error."""
    import pyarrow.csv as pcsv

    codec = {"utf-8": "utf8", "utf-8-sig": "utf8"}.get(enc, enc)
    return dict(
        read_options=pcsv.ReadOptions(column_names=names, skip_rows=h + 1, encoding=codec, block_size=16 << 20),
        parse_options=pcsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True,
                                        ignore_empty_lines=False),  # a line of another width raises
        convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                            strings_can_be_null=False, quoted_strings_can_be_null=False))


def _read_csv(path: Path, where: str, name: str, enc: str, sep: str, h: int, head_ascii: bool,
              info: RawInfo, names: list[str]) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    """The lines under the header as strings (C parser); lines with too many fields come back separately
    as (spreadsheet row, fields)."""
    kw = _c_parser_options(enc, sep, h, names)
    while True:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                df = pd.read_csv(path, **kw)
            break
        except _C_READ_ERRORS as e:
            if not _read_again(e, kw, name, head_ascii, info):
                raise _read_error(e, where) from None
    info.encoding_errors = kw.get("encoding_errors") == "replace"
    return df, _skipped_lines(caught)


#: What the C parser raises on a file it cannot read as it is (see :func:`_read_again`).
_C_READ_ERRORS = (UnicodeDecodeError, pd.errors.EmptyDataError, pd.errors.ParserError, csv.Error, ValueError)


def _c_parser_options(enc: str, sep: str, h: int, names: list[str]) -> dict:
    """``pd.read_csv`` options: every cell a string as written, blank lines kept, long lines warned of."""
    return dict(sep=sep, dtype=str, keep_default_na=False, na_filter=False, skiprows=h + 1, header=None,
                names=names, index_col=False, skip_blank_lines=False,
                encoding="utf-8" if enc == "utf-8-sig" else enc, quotechar='"', engine="c", on_bad_lines="warn")


def _read_again(e: Exception, kw: dict, name: str, head_ascii: bool, info: RawInfo) -> bool:
    """Change the C parser's options ``kw`` for reading the file again after ``e`` (True), or False when
    ``e`` is final: Windows-1251 after an ASCII start, undecodable bytes replaced (a file mixing
    encodings), quotes as ordinary characters after an unclosed one (noted in ``info``)."""
    if isinstance(e, UnicodeDecodeError):
        if kw["encoding"] == "utf-8" and head_ascii:
            kw["encoding"] = "cp1251"  # plain ASCII at the top, Windows-1251 further down
            info.encoding = "cp1251"
            return True
        if kw.get("encoding_errors") != "replace":
            kw["encoding_errors"] = "replace"  # mixed encodings: rows with undecodable bytes are marked
            return True
        return False
    if isinstance(e, pd.errors.ParserError):
        m = re.search(r"EOF inside string starting at row (\d+)", str(e))
        if m and kw.get("quoting") != csv.QUOTE_NONE:
            kw["quoting"] = csv.QUOTE_NONE  # an unclosed quote: read quotes as ordinary characters
            row = int(m.group(1)) + 1  # the parser counts lines from 0, skipped ones included
            info.notes.append(issue_frame(
                name, [row], None, "bad_value",
                "a quote \" opened in this row is never closed; the file was read with quotes as ordinary "
                "characters (cells quoted because they hold the delimiter may be split: see the rows listed)"))
            return True
    return False


def _read_error(e: Exception, where: str) -> UserError:
    """The message for an error of the C parser that reading again does not get round."""
    if isinstance(e, UnicodeDecodeError):
        return UserError(f"{where}: the encoding could not be detected (expected UTF-8 or Windows-1251); "
                         "save it as CSV UTF-8")
    if isinstance(e, pd.errors.EmptyDataError):
        return UserError(f"{where}: the file has no table (no header row); export the table again")
    if isinstance(e, pd.errors.ParserError):
        return UserError(f"{where}: not a readable CSV table ({str(e).strip()}); export it again as CSV UTF-8")
    return UserError(f"{where}: not a readable CSV table ({e}); export it again as CSV UTF-8")


def _skipped_lines(caught) -> list[tuple[int, int]]:
    """(line, fields) of the lines the C parser skipped for having too many fields, from its warnings."""
    bad = []
    for w in caught:
        for m in re.finditer(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)", str(w.message)):
            bad.append((int(m.group(1)), int(m.group(3))))
    return sorted(bad)


def _parquet_names(columns) -> list[str]:
    """The raw column names of a Parquet table (whole file or a batch): as text, trimmed, made unique."""
    return _dedupe([str(c).strip() for c in columns])


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


def map_headers(df: pd.DataFrame, table: Table, mapping: dict, where: str,
                info: RawInfo | None = None) -> pd.DataFrame:
    """Rename source headers to canonical names; raise naming the missing required columns."""
    rename: dict[str, str] = {}
    taken: set[str] = set()
    for src in df.columns:
        dst = _canonical_for(str(src), table, mapping)
        if dst and dst not in taken:
            rename[src] = dst
            taken.add(dst)
    missing = [c for c in table.required if c not in taken]
    if missing:
        found = [str(c) for c in df.columns]
        shown = ", ".join(repr(clip(c)) for c in found[:20]) + (" …" if len(found) > 20 else "")
        what = (f"required column {missing[0]!r} is missing" if len(missing) == 1 else
                f"required columns {', '.join(repr(m) for m in missing)} are missing")
        hint = _encoding_hint(info, found) if info is not None and info.encoding else ""
        if not hint and info is not None and info.delimiter:
            glued = [c for c in found if any(d in c for d in (";", "\t", ",", "|") if d != info.delimiter)]
            if glued and len(found) <= 3:
                hint = (f". The header was split by {_SEP_NAMES.get(info.delimiter, info.delimiter)}, but "
                        f"{glued[0][:60]!r} still holds other separators: the delimiter may be wrong")
        raise UserError(
            f"{where}: {what} (table {table.name}). Columns found: {shown}{hint}. Rename the column in the file "
            f"or map it in mapping.yaml as {{{table.name}: {{'source header': {missing[0]}}}}}")
    keep = list(rename)
    if table.extra_numeric:  # client-card drivers: any other column, parsed later if numeric
        keep += [c for c in df.columns if c not in rename]
    out = df[keep].rename(columns=rename)
    return out


# --------------------------------------------------------------------------------------------
# parsing of values
# --------------------------------------------------------------------------------------------
# Patterns are plain strings (not compiled) so that pandas runs them in pyarrow (RE2) on Arrow-backed text.
#: thousands separators: every kind of space (as Python's \\s, spelt out for RE2) and the apostrophe
_SPACES = "[\t\n\v\f\r \u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\u2060\ufeff\x1c-\x1f\x85']"
_CURRENCY = "(?i)(руб\\.?|р\\.|₽|rub|usd|eur|\\$|€|£)"
_PLAIN_NUMBER = "^[-+]?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"


def _strings(s: pd.Series) -> pd.Series:
    """Values as stripped strings, missing as ''."""
    if s.dtype == object:
        kind = pd.api.types.infer_dtype(s, skipna=True)
        if kind not in ("string", "empty"):
            s = s.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return s.astype("string").fillna("").str.strip()


def _to_float(t: pd.Series) -> pd.Series:
    """Plain numbers (``-1234.5``, ``1e3``) of a text column as float64, correctly rounded; anything else NaN."""
    arr = arrow_strings(t)
    ok = pc.match_substring_regex(arr, _PLAIN_NUMBER)
    clean = pc.replace_substring_regex(pc.if_else(ok, arr, pa.scalar(None, arr.type)), pattern="^[+]",
                                       replacement="")
    return pd.Series(np.asarray(pc.cast(clean, pa.float64()).to_numpy(), dtype="float64"), index=t.index)


#: Columns from this length on take the vectorised shortcuts for cells that need no cleaning.
FAST_MIN_CELLS = 50_000


def _arrow_text(s: pd.Series) -> pa.ChunkedArray | None:
    """The column's Arrow strings without a copy, or None for other data (numbers, objects from xlsx)."""
    arr = s.array
    if isinstance(arr, pd.arrays.ArrowStringArray):  # both "string" and pandas 3's default "str"
        a = arr._pa_array  # noqa: SLF001 - zero-copy view of the immutable Arrow buffers
        return a if isinstance(a, pa.ChunkedArray) else pa.chunked_array([a])
    return None


def arrow_strings(s: pd.Series) -> pa.ChunkedArray:
    """A text column as Arrow strings: :func:`_arrow_text` without a copy when it is Arrow-backed,
    else converted (missing values null).

    >>> arrow_strings(pd.Series(["a", None], dtype="object")).to_pylist()
    ['a', None]
    """
    a = _arrow_text(s)
    if a is not None:
        return a
    return pa.chunked_array([pa.array(np.asarray(s.array, dtype=object), type=pa.string(), from_pandas=True)])


def _distinct(s: pd.Series, most: float = 0.5) -> tuple[pd.Series, np.ndarray] | None:
    """For a long text column with repeated values: (its distinct values, the position of each cell's
    value among them), so that a cell-by-cell rule runs once per distinct value; None otherwise.

    >>> import kbanalysis.io.case as kio
    >>> kio.FAST_MIN_CELLS, old = 1, kio.FAST_MIN_CELLS
    >>> values, index = _distinct(pd.Series(["b", "a", "b", "b"], dtype="str"))
    >>> values.tolist(), index.tolist()
    (['b', 'a'], [0, 1, 0, 0])
    >>> kio.FAST_MIN_CELLS = old
    """
    a = _arrow_text(s) if len(s) >= FAST_MIN_CELLS else None
    if a is None:
        return None
    enc = pc.dictionary_encode(a.combine_chunks())
    if len(enc.dictionary) > most * len(s):
        return None
    index = pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy(zero_copy_only=False)
    values = pd.Series(pd.array(enc.dictionary, dtype=s.dtype))
    if enc.indices.null_count:  # a missing cell is its own distinct value, last
        values = pd.concat([values, pd.Series([None], dtype=s.dtype)], ignore_index=True)
    return values, index


def _plain_numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """For a long text column: (values, mask of the cells that are plain numbers such as ``-1234.5``
    or ``12,5`` — one comma, no point, no space); None for short or non-text columns.

    Those cells get exactly the values :func:`parse_numbers` gives them; the others are left to it.
    """
    a = _arrow_text(s) if len(s) >= FAST_MIN_CELLS else None
    if a is None:
        return None
    try:  # the usual large export: every cell a plain number (arrow reads "nan"/"inf" too: not plain)
        v = pc.cast(a, pa.float64())
        if pc.all(pc.is_finite(v)).as_py() is not False and v.null_count == 0:
            return np.asarray(v.to_numpy(), dtype="float64").copy(), np.ones(len(s), dtype=bool)
    except pa.ArrowInvalid:
        pass
    plain = pc.match_substring_regex(a, _PLAIN_NUMBER)
    comma = pc.and_(pc.invert(plain), pc.match_substring_regex(a, "^[-+]?[0-9]+,[0-9]+$"))
    text = pc.if_else(comma, pc.replace_substring(a, ",", "."), a)
    ok = pc.or_(plain, comma)
    clean = pc.replace_substring_regex(pc.if_else(ok, text, pa.scalar(None, pa.string())), pattern="^[+]",
                                       replacement="")
    v = pc.cast(clean, pa.float64()).to_numpy()
    done = ok.to_numpy()
    return np.asarray(v, dtype="float64").copy(), np.asarray(done, dtype=bool)


def parse_numbers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers as people type them -> (float values, mask of unreadable non-empty cells); an infinite or
    overflowing value (``1e309``) is unreadable too, never used.

    >>> parse_numbers(pd.Series(["1e309", "-inf", "5"]))[1].tolist()
    [True, True, False]

    >>> v, bad = parse_numbers(pd.Series(["1 234,56", "1,234.5", "12,5", "-7", "", "н/д", "1\\u00a0000 ₽", "(30)"]))
    >>> v.tolist()[:4], bad.tolist()
    ([1234.56, 1234.5, 12.5, -7.0], [False, False, False, False, False, True, False, False])
    >>> v.tolist()[6:]
    [1000.0, -30.0]
    """
    v, bad = _numbers(s)
    inf = np.isinf(v.to_numpy(dtype="float64", na_value=np.nan))
    if inf.any():
        v, bad = v.mask(inf), bad | inf
    return v, bad


def _numbers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = pd.to_numeric(s, errors="coerce").astype("float64")
        return v, pd.Series(False, index=s.index)
    plain = _plain_numbers(s)
    if plain is not None:  # large columns: cells already written as plain numbers skip the rules below
        v, done = plain
        bad = np.zeros(len(s), dtype=bool)
        if not done.all():
            rest, rest_bad = _parse_numbers_by_rules(s[~done])
            v[~done], bad[~done] = rest.to_numpy(), rest_bad.to_numpy()
        return pd.Series(v, index=s.index), pd.Series(bad, index=s.index)
    return _parse_numbers_by_rules(s)


def _parse_numbers_by_rules(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """:func:`parse_numbers` of text cells: spaces, currencies, brackets, both separators."""
    raw = _strings(s)
    t = raw.str.replace(_SPACES, "", regex=True)
    t = t.str.replace(_CURRENCY, "", regex=True).str.rstrip("%")
    neg = t.str.startswith("(") & t.str.endswith(")")
    if neg.any():
        t = t.where(~neg, "-" + t.str.strip("()"))
    t = t.str.replace("\u2212", "-", regex=False)
    has_c, has_d = t.str.contains(",", regex=False), t.str.contains(".", regex=False)
    both = has_c & has_d
    if both.any():  # both separators: the last one is the decimal separator
        comma_last = t.str.contains(",[^.]*$", regex=True)
        t = t.where(~(both & comma_last), t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
        t = t.where(~(both & ~comma_last), t.str.replace(",", "", regex=False))
    only_c = has_c & ~has_d
    if only_c.any():
        many_c = t.str.count(",") > 1
        grouped_c = t.str.contains("^[-+]?[0-9]{1,3}(?:,[0-9]{3})+$", regex=True)
        t = t.where(~(only_c & many_c & grouped_c), t.str.replace(",", "", regex=False))  # 1,234,567 (12,3,4 stays bad)
        t = t.where(~(only_c & ~many_c), t.str.replace(",", ".", regex=False))  # 12,5
    many_d = has_d & ~has_c & (t.str.count("\\.") > 1)
    if many_d.any():
        grouped_d = t.str.contains("^[-+]?[0-9]{1,3}(?:\\.[0-9]{3})+$", regex=True)
        t = t.where(~(many_d & grouped_d), t.str.replace(".", "", regex=False))
    empty = (raw == "") | t.isin(["-", "—", "–"])  # blank, or a dash for nothing ("- руб.")
    v = _to_float(t.where(~empty, ""))
    bad = v.isna() & ~empty
    return v, bad.astype(bool)


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d/%m/%Y",
                 "%Y-%m-%dT%H:%M:%S", "%d.%m.%y", "%Y/%m/%d", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M",
                 "%d/%m/%Y %H:%M:%S")

#: The orders ``mapping.yaml`` can state for a table's dates whose day and month are both up to 12
#: (``dates: {sales: month_first}``): ``DD/MM/YYYY`` and ``DD.MM.YYYY``, or ``MM/DD/YYYY`` and ``MM.DD.YYYY``.
DATE_ORDERS = ("day_first", "month_first")

#: A cell that may be a day-month or month-day date (the formats of :data:`_DATE_FORMATS` with ``/`` or ``.``).
_DM_CELL = r"^[0-9]{1,2}[/.][0-9]{1,2}[/.][0-9]{2,4}(?: [0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?$"
_DM_PARTS = re.compile(r"(\d{1,2})([/.])(\d{1,2})\2(\d{4}|\d{2})$")
_DM_START = r"^[\s\pZ\x{0b}\x{1c}-\x{1f}\x{85}]*[0-9]{1,2}[/.]"  # after what str.strip removes
_DM_KINDS = ("", "/day", "/month", "/either", ".day", ".month", ".either")


def _date_formats(orders: tuple[str, str]) -> tuple[str, ...]:
    """:data:`_DATE_FORMATS` with the slash and the dot formats in the ``(slash, dot)`` orders."""
    slash, dot = orders

    def turn(fmt: str) -> str:
        sep = "/" if "/%m/" in fmt else "." if ".%m." in fmt else None
        if sep is None or (slash if sep == "/" else dot) == "day_first":
            return fmt
        return fmt.replace(f"%d{sep}%m", f"%m{sep}%d")
    return tuple(turn(f) for f in _DATE_FORMATS)


def _dm_kind(text: str) -> str | None:
    """How a date written ``A/B/YYYY`` or ``A.B.YYYY`` reads: separator + ``day`` (a date only day first),
    ``month`` (only month first) or ``either`` (two different dates); None when the order does not matter.

    >>> _dm_kind("13/02/2024"), _dm_kind("02/13/2024"), _dm_kind("10.02.2024"), _dm_kind("05/05/2024")
    ('/day', '/month', '.either', None)
    """
    m = _DM_PARTS.match(text)
    if m is None or (m[2] == "/" and len(m[4]) != 4):
        return None
    a, b, y = int(m[1]), int(m[3]), int(m[4])
    if len(m[4]) == 2:
        y += 2000 if y < 69 else 1900  # as %y reads it

    def real(month: int, day: int) -> bool:
        return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(max(y, 1), month)[1]
    day_first, month_first = real(b, a), real(a, b)
    if day_first and month_first:
        return m[2] + "either" if a != b else None
    return m[2] + "day" if day_first else m[2] + "month" if month_first else None


def _date_evidence(s: pd.Series, rows: np.ndarray) -> dict[str, tuple[int, str]]:
    """The first cell (row, text) of each :func:`_dm_kind` in a column, judged once per distinct date.

    >>> _date_evidence(pd.Series(["10/02/2023", "10/13/2023", "x", "10/14/2023"]), np.array([2, 3, 4, 5]))
    {'/either': (2, '10/02/2023'), '/month': (3, '10/13/2023')}
    """
    if len(s) == 0 or pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return {}
    a = _arrow_text(s)
    a = a if a is not None else arrow_strings(_strings(s))
    if not pc.any(pc.match_substring_regex(a, _DM_START)).as_py():
        return {}  # ISO dates, serials: one scan
    cells = pc.dictionary_encode(a.combine_chunks())  # the rules below run once per distinct text, then date
    texts = pc.utf8_trim_whitespace(cells.dictionary)
    hit = pc.fill_null(pc.match_substring_regex(texts, _DM_CELL), False)
    days = pc.dictionary_encode(pc.replace_substring_regex(texts.filter(hit), pattern=" .*$", replacement=""))
    codes = np.array([_DM_KINDS.index(_dm_kind(x) or "") for x in days.dictionary.to_pylist()], dtype=np.int8)
    of_text = np.zeros(len(texts) + 1, dtype=np.int8)  # the last: missing cells
    of_text[np.flatnonzero(hit.to_numpy(zero_copy_only=False))] = codes[days.indices.to_numpy(zero_copy_only=False)]
    per_cell = of_text[pc.fill_null(cells.indices, len(texts)).to_numpy(zero_copy_only=False)]
    first = {k: int(np.argmax(per_cell == k)) for k in np.unique(codes) if k}
    return {_DM_KINDS[k]: (int(rows[i]), texts[cells.indices[i].as_py()].as_py())
            for k, i in sorted(first.items(), key=lambda kv: kv[1])}


class _DatesUndecided(Exception):
    """The lines streamed so far cannot tell day-first from month-first dates: the whole file's are needed."""


@dataclass
class DateOrders:
    """The order of the day-month dates of a table's date columns, decided for each whole column.

    ``stated`` is the order ``mapping.yaml`` states for the table (``day_first`` / ``month_first``), else
    None: then the column's unambiguous dates decide (:meth:`decide`). ``final`` is False while a file
    is streamed and more lines may come: a column the lines so far cannot decide raises
    :class:`_DatesUndecided` instead of an error. ``seen`` keeps each column's first cell of each kind.

    >>> o = DateOrders("sales", "sales.csv")
    >>> o.decide("date", pd.Series(["10/02/2023", "10/13/2023"]), np.array([2, 3]))
    ('month_first', 'day_first')
    """

    table: str
    where: str
    stated: str | None = None
    final: bool = True
    seen: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)

    def look(self, column: str, s: pd.Series, rows: np.ndarray) -> dict[str, tuple[int, str]]:
        """Add the cells of ``s`` (spreadsheet ``rows``) to what is known of ``column``; return it."""
        ev = self.seen.setdefault(column, {})
        for k, v in _date_evidence(s, rows).items():
            ev.setdefault(k, v)
        return ev

    def decide(self, column: str, s: pd.Series, rows: np.ndarray) -> tuple[str, str]:
        """The ``(slash, dot)`` orders of ``column`` given its cells ``s`` (and the lines before them)."""
        ev = self.look(column, s, rows)
        if self.stated is not None:
            return self.stated, self.stated
        slash = self._order(column, ev, "/")
        dot = self._order(column, ev, ".")
        if slash is None or dot is None:
            raise _DatesUndecided(column)
        return slash, dot

    def _order(self, column: str, ev: dict, sep: str) -> str | None:
        day, month, either = ev.get(sep + "day"), ev.get(sep + "month"), ev.get(sep + "either")
        if sep == "." and not month:  # DD.MM.YYYY, as Russian exports write it
            return "day_first"
        if day and month:
            if sep == ".":
                return "day_first"  # a few MM.DD among DD.MM dates: typos, rejected as they are
            raise UserError(self._message(column, f"slash dates are written both day first (row {day[0]}: "
                                                  f"{day[1]!r}) and month first (row {month[0]}: {month[1]!r})"))
        if day or month:
            if sep == "." and not self.final:
                return None  # a later DD.MM date may show these are typos
            if sep == ".":
                raise UserError(self._message(column, f"dot dates are read day first (DD.MM.YYYY), but row "
                                                      f"{month[0]}: {month[1]!r} is a date only month first "
                                                      "and no dot date is one only day first"))
            return "day_first" if day else "month_first"
        if either:
            if not self.final:
                return None
            raise UserError(self._message(column, f"every slash date has a day and a month up to 12, so each "
                                                  f"reads two ways (row {either[0]}: {either[1]!r})"))
        return "day_first"

    def _message(self, column: str, what: str) -> str:
        where = f"{self.where}: " if self.where else ""
        return (f"{where}column {column}: {what}; kbanalysis does not guess the order: state it in "
                f"mapping.yaml as 'dates: {{{self.table}: month_first}}' (MM/DD/YYYY) or "
                f"'dates: {{{self.table}: day_first}}' (DD/MM/YYYY); dates that do not fit it are then "
                "rejected rows")


def parse_dates(s: pd.Series, orders: tuple[str, str] | None = None) -> tuple[pd.Series, pd.Series]:
    """Dates as ``YYYY-MM-DD``, ``DD.MM.YYYY``, ``DD/MM/YYYY`` or ``MM/DD/YYYY`` (with or without time)
    or Excel serial numbers -> (dates, mask of unreadable non-empty cells).

    ``orders`` is ``(slash, dot)``: the order (:data:`DATE_ORDERS`) of dates written with ``/`` and with
    ``.``; by default it is decided on the whole of ``s`` (:class:`DateOrders`: a
    :class:`~kbanalysis.errors.UserError` when the column does not tell).

    >>> v, bad = parse_dates(pd.Series(["2024-02-05", "05.02.2024", "45327", "31.02.2024", ""]))
    >>> [str(x.date()) if not pd.isna(x) else None for x in v], bad.tolist()
    (['2024-02-05', '2024-02-05', '2024-02-05', None, None], [False, False, False, True, False])
    >>> v, _ = parse_dates(pd.Series(["10/02/2023", "10/13/2023"]))
    >>> [str(x.date()) for x in v]
    ['2023-10-02', '2023-10-13']
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        v = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        return v.astype("datetime64[ns]").dt.normalize(), pd.Series(False, index=s.index)
    if orders is None:
        orders = DateOrders("TABLE", "").decide("date", s, np.arange(len(s)) + 1)
    distinct = _distinct(s)
    if distinct is not None:  # long columns repeat their dates: each distinct text is parsed once
        values, index = distinct
        v, bad = _parse_dates_by_rules(values, orders)
        return (pd.Series(v.to_numpy()[index], index=s.index),
                pd.Series(bad.to_numpy()[index], index=s.index))
    return _parse_dates_by_rules(s, orders)


_NS_MIN, _NS_MAX = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def _parse_dates_by_rules(s: pd.Series, orders: tuple[str, str]) -> tuple[pd.Series, pd.Series]:
    """:func:`parse_dates` cell by cell kind: datetimes from xlsx, the formats in turn, Excel serials."""
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if s.dtype == object:  # xlsx cells: datetime objects and numbers mixed with text; parquet date32
        kind = pd.api.types.infer_dtype(s, skipna=True)
        if kind in ("date", "datetime", "datetime64"):
            v = pd.to_datetime(s, errors="coerce")
            v = v.dt.tz_localize(None) if getattr(v.dt, "tz", None) is not None else v
            return v.astype("datetime64[ns]").dt.normalize(), pd.Series(False, index=s.index)
        if kind not in ("string", "empty", "integer", "floating", "mixed-integer-float"):
            is_dt = s.map(lambda x: isinstance(x, (pd.Timestamp, np.datetime64)) or hasattr(x, "year"))
            if is_dt.any():
                out[is_dt] = pd.to_datetime(s[is_dt], errors="coerce").astype("datetime64[ns]")
    raw = _strings(s)
    todo = out.isna() & (raw != "")
    for fmt in _date_formats(orders):
        if not todo.any():
            break
        got = pd.to_datetime(raw[todo], format=fmt, errors="coerce")
        ok = got.notna() & (got >= _NS_MIN) & (got <= _NS_MAX)  # year 0024 is no date (and no datetime64[ns])
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


def parse_months(s: pd.Series, orders: tuple[str, str] | None = None) -> tuple[pd.Series, pd.Series]:
    """Months as ``YYYY-MM``, ``MM.YYYY``, a date, or ``март 2025`` -> the 1st of the month (``orders``:
    those of the dates, see :func:`parse_dates`).

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
        d, _ = parse_dates(s[todo], orders)
        out[d.index[d.notna()]] = d[d.notna()]
    bad = out.isna() & (raw != "")
    return out.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]"), bad.astype(bool)


_WHITESPACE_RUN = "[" + _SPACES[1:-2] + "]+"  # the spaces of _SPACES without the apostrophe


def parse_text(s: pd.Series, *, is_id: bool = False) -> pd.Series:
    """Text stripped; empty -> <NA>; identifiers exported as floats (``17850.0``) lose the ``.0``.

    >>> parse_text(pd.Series(["  ООО  «Ива» ", "", "17850.0"]), is_id=True).tolist()
    ['ООО «Ива»', <NA>, '17850']
    """
    distinct = _distinct(s, most=0.2)
    if distinct is not None:  # names, groups, managers repeat: each distinct text is cleaned once
        values, index = distinct
        clean = pa.array(_text_by_rules(values, is_id).array)
        return pd.Series(pd.arrays.ArrowStringArray(clean.take(pa.array(index))), index=s.index, copy=False)
    a = _arrow_text(s) if len(s) >= FAST_MIN_CELLS else None
    if a is not None:  # large columns of mostly distinct values: only cells that need cleaning get the rules
        a = a.combine_chunks()
        todo = pc.match_substring_regex(a, _NEEDS_CLEANING + ("|^[0-9]+[.]0+$|" + _ID_PLACEHOLDER if is_id else ""),
                                        ignore_case=is_id)
        if pc.any(todo).as_py():
            fixed = _text_by_rules(s[todo.to_numpy(zero_copy_only=False)], is_id).array
            a = pc.replace_with_mask(a, todo, pa.array(fixed, type=a.type).fill_null(""))
        a = pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)
        return pd.Series(pd.arrays.ArrowStringArray(a), index=s.index, copy=False)
    return _text_by_rules(s, is_id)


#: what :func:`parse_text` would change: a space other than ' ', or ' ' at an end or twice in a row
_NEEDS_CLEANING = "[" + _SPACES[1:-2].replace(" ", "") + "]|^ | $|  "


#: what spreadsheets and databases write for "no value": an identifier that says it is empty
_ID_PLACEHOLDER = "^(?:null|none|nan|n/a|#n/a|na|-|—|–|#ref!|#value!|#name\\?)$"  # matched ignoring case
ID_PLACEHOLDERS = "(?i)" + _ID_PLACEHOLDER


def _text_by_rules(s: pd.Series, is_id: bool) -> pd.Series:
    t = _strings(s)
    if is_id:
        t = t.str.replace("^([0-9]+)[.]0+$", "\\1", regex=True)
    t = t.str.replace(_WHITESPACE_RUN, " ", regex=True)
    if is_id:  # a BOM or zero-width space at an end is a space now; a placeholder is no id
        t = t.str.strip()
        t = t.mask(t.str.contains(ID_PLACEHOLDERS, regex=True), "")
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
                drivers_wanted: list[str] | None = None,
                bad_rows: list[tuple[int, str]] | None = None, *,
                consume: bool = False, today: pd.Timestamp | None = None,
                dates: DateOrders | None = None) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Parse a mapped raw frame into the canonical table; return (usable rows, findings, rows read).

    Entirely blank lines are not rows of data: they are neither read nor rejected. ``bad_rows``
    (spreadsheet row, detail) are lines the reader could not split into the header's columns: they
    count as read and rejected. ``consume=True`` drops each raw column from ``df`` once it is
    parsed, so a large file's text is freed column by column (the caller must hold no other
    reference to the raw frame). ``today`` (default: the current date) is the limit of future dates.
    ``dates`` holds the order of the table's day-month dates (default: decided on each date column,
    :class:`DateOrders`; ``mapping.yaml`` may state it).

    Every rule is cell by cell, except two that look at a whole column: a ``prob`` column is read
    as percent when most of its values are above 1, and an unknown client-card column is kept as
    a driver when nearly all its cells are numbers. A table without them (:func:`row_by_row`:
    sales) parses to the same rows and findings in batches of lines as at once, given one ``today``
    and one ``dates`` for all the batches (the order of day-month dates is decided for the whole
    column, :class:`DateOrders`: :func:`stream_table` makes the batches agree with the whole file).
    """
    good, parts, n_read = _parse_table_parts(df, rows, table, where, drivers_wanted, bad_rows, consume=consume,
                                             today=today, dates=dates)
    found = pd.concat([f for _, f in parts], ignore_index=True) if parts else empty_issues()
    return good, found, n_read


def _parse_table_parts(df: pd.DataFrame, rows: np.ndarray, table: Table, where: str,
                       drivers_wanted: list[str] | None = None,
                       bad_rows: list[tuple[int, str]] | None = None, *, consume: bool = False,
                       today: pd.Timestamp | None = None,
                       dates: DateOrders | None = None) -> tuple[pd.DataFrame, list, int]:
    """:func:`parse_table` with its findings as a list of ``(key, frame)``: the keys increase in the
    order the frames come (by column, then by check), so that findings of several batches sorted
    stably by key come in the order one call on all the lines gives them."""
    name = table.name
    parts: list[tuple[tuple[int, int], pd.DataFrame]] = []

    def note(key: tuple[int, int], frame: pd.DataFrame) -> None:
        parts.append((key, frame))

    bad_rows = list(bad_rows or [])
    out = pd.DataFrame(index=df.index)
    out["_row"] = np.asarray(rows).astype("int64")
    rows = out["_row"].to_numpy()
    reject = pd.Series(False, index=df.index)
    blank = _blank_rows(df)
    today = pd.Timestamp.today().normalize() if today is None else today
    dates = DateOrders(name, where) if dates is None else dates

    for ci, col in enumerate(table.columns):
        if col.name not in df.columns:
            out[col.name] = _absent_column(col, df.index)
            continue
        src = df[col.name]
        v, bad, wrong, left_out = _parsed_column(src, col, ci, rows, name, note, dates, today)
        reject |= left_out
        out[col.name] = v
        if consume:
            del df[col.name], src
        if col.required and col.name != "probability":
            miss = v.isna() & ~bad & ~wrong & ~blank
            if miss.any():
                note((ci, 4), issue_frame(name, rows[miss.to_numpy()], None, "missing_value",
                                          f"required {col.name} is empty"))
                reject |= miss

    drivers, ignored = _card_drivers(df, out, table, drivers_wanted, rows, note) if table.extra_numeric \
        else ([], [])
    if bad_rows:
        note(_BAD_LINES_KEY, issue_frame(name, [r for r, _ in bad_rows], None, "bad_value",
                                         [d for _, d in bad_rows]))

    out = out.loc[~blank]
    reject = reject.loc[~blank]
    good = out.loc[~reject].reset_index(drop=True)
    if "client_id" in out.columns and parts:  # the card each finding is about
        cid_for = pd.Series(out["client_id"].to_numpy(), index=out["_row"].to_numpy())
        parts = [(key, f.assign(client_id=f["row"].astype("float64").map(cid_for).astype("string")))
                 for key, f in parts]
    good.attrs["drivers"], good.attrs["ignored_numeric"] = drivers, ignored
    return good, parts, int((~blank).sum()) + len(bad_rows)


def _blank_rows(df: pd.DataFrame) -> pd.Series:
    """Rows that are entirely empty: no data rows (blank lines of an export)."""
    blank = pd.Series(True, index=df.index)
    for c in df.columns:  # each column only where the row is still blank (after one, hardly any row is)
        if blank.any():
            blank[blank] = (_strings(df.loc[blank, c]) == "").to_numpy()
    return blank


def _absent_column(col, index: pd.Index) -> pd.Series:
    """An empty column of ``col``'s kind for a table that lacks it."""
    if col.kind in ("number", "prob"):
        return pd.Series(np.nan, index=index)
    if col.kind in ("date", "month"):
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    return pd.Series(pd.NA, index=index, dtype="string")


def _parsed_column(src: pd.Series, col, ci: int, rows: np.ndarray, name: str, note, dates: DateOrders,
                   today: pd.Timestamp) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """The cells ``src`` of column ``col`` (the ``ci``-th of the table) parsed by its kind: ``(values,
    unreadable, wrong, rows to leave out)``; findings go to ``note`` under ``(ci, check)`` keys."""
    wrong = pd.Series(False, index=src.index)
    reject = pd.Series(False, index=src.index)
    if col.kind == "text":
        return (parse_text(src, is_id=col.name in ("client_id", "deal_id")), pd.Series(False, index=src.index),
                wrong, reject)
    if col.kind == "number":
        v, bad = parse_numbers(src)
        v, wrong = _too_large(v, src, rows, name, col, note, (ci, 0))
        if col.required:
            reject |= wrong
    elif col.kind == "prob":
        v, bad = parse_numbers(src)
        v, wrong = _probabilities(v, src, rows, name, col, note, (ci, 0))
        reject |= wrong
    elif col.kind == "date":
        v, bad = parse_dates(src, dates.decide(col.name, src, rows))
        v, wrong, found = _dates_in_range(src, v, col, name, rows, today)
        for check, frame in found:
            note((ci, check), frame)
        if wrong.any() and col.required:
            reject |= wrong
    else:  # month
        v, bad = parse_months(src, dates.decide(col.name, src, rows))
    if bad.any():
        code = {"number": "bad_number", "prob": "bad_number"}.get(col.kind, "bad_date")
        kind = {"number": "a number", "prob": "a number", "date": "a date", "month": "a month (YYYY-MM)"}.get(
            col.kind, "valid")
        note((ci, 3), issue_frame(name, rows[bad.to_numpy()], None, code,
                                  [f"{col.name} \"{x}\" is not {kind}" for x in _strings(src)[bad]]))
        if col.required:
            reject |= bad
    return v, bad, wrong, reject


def _probabilities(v: pd.Series, src: pd.Series, rows: np.ndarray, name: str, col, note,
                   key: tuple[int, int]) -> tuple[pd.Series, pd.Series]:
    """Numbers ``v`` of a probability column as shares: percent when a value is written with % or most
    values are above 1; values outside 0–1 after that (150 or -5 are wrong either way) are noted under
    ``key`` and returned as the mask of rows to leave out."""
    pct = _strings(src).str.endswith("%") if not pd.api.types.is_numeric_dtype(src) else \
        pd.Series(False, index=src.index)
    nonzero = v.abs()[v.notna() & (v != 0)]
    if pct.any() or (len(nonzero) and nonzero.median() > 1):
        v = v / 100.0
    wrong = v.notna() & ((v < 0) | (v > 1))
    if wrong.any():
        note(key, issue_frame(name, rows[wrong.to_numpy()], None, "bad_probability",
                              [f"{col.name} \"{x}\" is outside 0–100 %; the row is left out"
                               for x in _strings(src)[wrong]]))
    return v, wrong


def _card_drivers(df: pd.DataFrame, out: pd.DataFrame, table: Table, drivers_wanted: list[str] | None,
                  rows: np.ndarray, note) -> tuple[list[str], list[str]]:
    """The driver columns of client cards, parsed into ``out``: the known drivers
    (``DRIVER_COLUMNS``) or exactly ``drivers_wanted``. Returns ``(drivers, ignored)``: the other numeric
    columns are named, not used (a row counter or a code is no potential)."""
    drivers: list[str] = []
    ignored: list[str] = []
    for j, c in enumerate(df.columns):
        if c in table.names or c in out.columns:
            continue
        v, bad = parse_numbers(df[c])
        filled = _strings(df[c]) != ""
        wanted = c in drivers_wanted if drivers_wanted else c in DRIVER_COLUMNS
        numeric = filled.sum() > 0 and bad.sum() <= 0.05 * filled.sum()
        if numeric and not wanted and not str(c).startswith("_"):
            ignored.append(str(c))
        if wanted and (drivers_wanted or numeric):
            if bad.any():
                note((len(table.columns) + j, 3),
                     issue_frame(table.name, rows[bad.to_numpy()], None, "bad_number",
                                 [f"{c} \"{x}\" is not a number" for x in _strings(df[c])[bad]]))
            out[c] = v
            drivers.append(c)
    return drivers, ignored


def _dates_in_range(src: pd.Series, v: pd.Series, col, name: str, rows: np.ndarray,
                    today: pd.Timestamp) -> tuple[pd.Series, pd.Series, list[tuple[int, pd.DataFrame]]]:
    """Dates ``v`` of column ``col`` (raw cells ``src``) before 1990 or in the future: (``v`` without them,
    their mask, ``(check, findings)`` to note)."""
    early = v.notna() & (v < EARLIEST)
    late = v.notna() & (v > today + pd.Timedelta(days=1))
    fate = "the row is left out" if col.required else "the value is ignored"
    found = []
    if early.any():
        found.append((1, issue_frame(name, rows[early.to_numpy()], None, "bad_date",
                                     [f"{col.name} \"{x}\" is before 1990: check the year; {fate}"
                                      for x in _strings(src)[early]])))
    if late.any():
        found.append((2, issue_frame(name, rows[late.to_numpy()], None, "future_date",
                                     [f"{col.name} \"{x}\" is in the future (after {today.date()}): check the "
                                      f"year; {fate}" for x in _strings(src)[late]])))
    wrong = early | late
    return (v.mask(wrong) if wrong.any() else v), wrong, found


#: Key of the lines a reader could not split (they come after every column's findings).
_BAD_LINES_KEY = (1 << 30, 0)


def _too_large(v: pd.Series, src: pd.Series, rows: np.ndarray, name: str, col, note,
               key) -> tuple[pd.Series, pd.Series]:
    """Numbers beyond ±:data:`LARGEST` of column ``col``: noted as ``bad_number`` (the row left out when the
    column is required, else the value ignored); returns the values without them and their mask."""
    wrong = v.abs() > LARGEST
    if not wrong.any():
        return v, wrong
    fate = "the row is left out" if col.required else "the value is ignored"
    note(key, issue_frame(name, rows[wrong.to_numpy()], None, "bad_number",
                          [f"{col.name} \"{x}\" is beyond ±{LARGEST:,.0f}: no figure is that large; {fate}"
                           for x in _strings(src)[wrong]]))
    return v.mask(wrong), wrong


def row_by_row(table: Table) -> bool:
    """Whether every rule of loading ``table`` looks at one row at a time, so that it loads the same in
    batches of lines as at once: no ``prob`` column (read as percent when most values are above 1), no
    driver columns (kept when nearly all cells are numbers), no key (duplicates are found across rows).

    >>> row_by_row(TABLES["sales"]), row_by_row(TABLES["clients"]), row_by_row(TABLES["deals"])
    (True, False, False)
    """
    return not table.extra_numeric and table.key is None and all(c.kind != "prob" for c in table.columns)



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
                                      [f"status \"{x}\" is not open/won/lost; the row is left out"
                                       for x in df.loc[bad, "status"]]))
            drop |= bad
        df["status"] = st.astype("string")
        nop = (df["status"] == "open") & df["probability"].isna()
        if nop.any():
            issues.append(issue_frame(name, df.loc[nop, "_row"], df.loc[nop, "client_id"], "missing_value",
                                      "an open deal needs a probability"))
            drop |= nop
        neg = (df["amount"] < 0) & ~drop
        if neg.any():
            issues.append(issue_frame(name, df.loc[neg, "_row"], df.loc[neg, "client_id"], "bad_number",
                                      [f"deal {d}: amount {a:g} is negative; a deal's amount is what it would "
                                       "bring: the row is left out" for d, a in
                                       zip(df.loc[neg, "deal_id"], df.loc[neg, "amount"])]))
            drop |= neg
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
                                      [f"stock of {g} is negative (on_hand {a:g}, incoming {b:g}); the row is left "
                                       "out: check the warehouse export" for g, a, b in
                                       zip(df.loc[neg, "product_group"], df.loc[neg, "on_hand"],
                                           df.loc[neg, "incoming"].fillna(0))]))
            drop |= neg
        df["incoming"] = df["incoming"].fillna(0.0)
    out = df.loc[~drop].reset_index(drop=True)
    out.attrs.update(df.attrs)
    return out, (pd.concat(issues, ignore_index=True) if issues else empty_issues())


# --------------------------------------------------------------------------------------------
# the case
# --------------------------------------------------------------------------------------------
def read_mapping(case_dir: Path) -> dict:
    """``mapping.yaml``: ``{table: {source header: canonical column}}`` (optional), and under the key
    ``dates`` the order of each table's day-month dates, ``{table: day_first | month_first}`` (optional:
    returned as ``"dates"`` when given), under ``labels`` the labels of data codes for the reports
    (:func:`_value_labels_stated`; returned as ``"labels"``).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "mapping.yaml").write_text("sales: {Дата: date}\\ndates: {sales: month_first}\\n",
    ...                                     encoding="utf-8")
    >>> read_mapping(d)
    {'sales': {'Дата': 'date'}, 'dates': {'sales': 'month_first'}}
    """
    p = case_dir / "mapping.yaml"
    if not p.exists():
        p = case_dir / "mapping.yml"
        if not p.exists():
            return {}
    m = read_yaml_mapping(p, "column mapping")
    dates = _date_orders_stated(m.pop("dates", None), p.name) if "dates" in m else None
    labels = _value_labels_stated(m.pop("labels", None), p.name) if "labels" in m else None
    if not all(isinstance(v, dict) for v in m.values()):
        raise UserError(f"{p.name}: expected {{table: {{source column: canonical column}}}}")
    unknown = [t for t in m if t not in TABLES]
    if unknown:
        raise UserError(f"{p.name}: unknown table {unknown[0]!r}; tables are {', '.join(TABLES)}")
    out = {t: {str(k): str(v) for k, v in (cols or {}).items()} for t, cols in m.items()}
    for t, cols in out.items():
        for src, dst in cols.items():
            if dst not in TABLES[t].names and not TABLES[t].extra_numeric:
                raise UserError(f"{p.name}: {t}: {src!r} is mapped to {dst!r}, which is not a column of {t} "
                                f"(columns: {', '.join(TABLES[t].names)})")
    if dates is not None:
        out["dates"] = dates
    if labels is not None:
        out["labels"] = labels
    return out


#: the columns whose codes ``mapping.yaml``'s ``labels`` may name for the reports
LABELLED_COLUMNS = ("channel", "product_group", "region", "segment")


def _value_labels_stated(labels, where: str) -> dict[str, dict[str, dict[str, str] | str]]:
    """``mapping.yaml``'s ``labels``: ``{column: {code: label}}`` for :data:`LABELLED_COLUMNS`, a label being
    one text or ``{ru: text, en: text}``; the reports show the label in place of the code (the data outputs
    keep the codes).

    >>> _value_labels_stated({"channel": {"dealer": {"ru": "Дилеры", "en": "Dealers"}, "web": "Онлайн"}}, "m")
    {'channel': {'dealer': {'ru': 'Дилеры', 'en': 'Dealers'}, 'web': 'Онлайн'}}
    """
    example = "e.g. 'labels: {channel: {dealer: {ru: Дилеры, en: Dealers}}}'"
    if not isinstance(labels, dict):
        raise UserError(f"{where}: labels: expected {{column: {{code: label}}}}, {example}")
    out: dict[str, dict] = {}
    for col, codes in labels.items():
        if col not in LABELLED_COLUMNS:
            raise UserError(f"{where}: labels: {col!r} is not a column with codes; labelled columns are "
                            f"{', '.join(LABELLED_COLUMNS)}")
        if not isinstance(codes, dict):
            raise UserError(f"{where}: labels: {col}: expected {{code: label}}, {example}")
        out[str(col)] = {}
        for code, text in codes.items():
            if isinstance(text, dict) and text and all(k in ("ru", "en") and isinstance(v, str) and v.strip()
                                                       for k, v in text.items()):
                out[str(col)][str(code)] = {str(k): str(v) for k, v in text.items()}
            elif isinstance(text, str) and text.strip():
                out[str(col)][str(code)] = text
            else:
                raise UserError(f"{where}: labels: {col}: {code!r}: expected a text or {{ru: text, en: text}}, "
                                f"{example}")
    return out


def _date_orders_stated(dates, where: str) -> dict[str, str]:
    """``mapping.yaml``'s ``dates``: ``{table: order}`` for tables with a date or month column, each order
    one of :data:`DATE_ORDERS`."""
    with_dates = [t for t, tb in TABLES.items() if any(c.kind in ("date", "month") for c in tb.columns)]
    example = f"e.g. 'dates: {{sales: month_first}}' (MM/DD/YYYY) or 'dates: {{sales: day_first}}' (DD/MM/YYYY)"
    if not isinstance(dates, dict):
        raise UserError(f"{where}: dates: expected {{table: {' or '.join(DATE_ORDERS)}}}, {example}")
    for t, order in dates.items():
        if t not in with_dates:
            raise UserError(f"{where}: dates: {t!r} is not a table with dates; tables with dates are "
                            f"{', '.join(with_dates)}")
        if order not in DATE_ORDERS:
            raise UserError(f"{where}: dates: {t}: {order!r} is not an order of dates; write "
                            f"{' or '.join(DATE_ORDERS)}, {example}")
    return {str(t): str(o) for t, o in dates.items()}


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_table(path: Path, name: str, mapping: dict | None = None,
               drivers: list[str] | None = None, dates: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Load one table file: (usable canonical rows, findings, rows read); ``dates``: the order of its
    day-month dates that ``mapping.yaml`` states (:data:`DATE_ORDERS`), else decided on each column."""
    table = TABLES[name]
    mapping = mapping or {}
    raw, rows, info = read_raw(path, table, mapping)
    sample = _text_sample({c: raw[c].head(200).tolist() for c in raw.columns[:30]}) if info.garbled else ""
    mapped = map_headers(raw, table, mapping, path.name, info)
    del raw  # parse_table frees the raw text column by column (the peak of a large load)
    good, issues, n_read = parse_table(mapped, rows, table, path.name, drivers, info.bad_rows, consume=True,
                                       dates=DateOrders(name, path.name, dates))
    del mapped
    good, more = _finish_table(name, good, path.name)
    parts = [x for x in (issues, more, *_file_notes(name, path.name, info, sample)) if len(x)]
    issues = pd.concat(parts, ignore_index=True) if parts else empty_issues()
    return good, issues, n_read


def _text_sample(cells: dict[str, list]) -> str:
    """The cells (the first 200 of each of the first 30 raw columns) as one text, to quote garbled words from."""
    return " ".join(str(x) for values in cells.values() for x in values)


def _file_notes(name: str, where: str, info: RawInfo, sample: str) -> list[pd.DataFrame]:
    """Findings about the file rather than a cell: the reader's notes, then a note when the text looks garbled."""
    notes = list(info.notes)
    if info.garbled:
        shown = ", ".join(repr(w) for w in _garbled_words(sample, 3))
        notes.append(issue_frame(name, [pd.NA], None, "bad_value",
                                 f"the text of {where} looks garbled{' (e.g. ' + shown + ')' if shown else ''}: "
                                 f"it was read as {_ENCODING_NAMES.get(info.encoding, info.encoding)} but is probably "
                                 "in another encoding; names may be wrong: save the file as CSV UTF-8"))
    return notes


def load_case(case_dir, drivers: list[str] | None = None, *, sales_to: Path | str | None = None,
              batch_rows: int = 1_000_000) -> Case:
    """Load and validate every table of a case folder (see the module docstring).

    Parameters
    ----------
    case_dir : str or Path
        The folder holding ``clients``, ``sales`` and the optional tables.
    drivers : list of str, optional
        Client-card columns to use as drivers (each must be a numeric column of the cards); by
        default every mostly numeric column outside the contract's own.
    sales_to : str or Path, optional
        Stream the sales table to this Parquet file instead of holding it in memory: the lines are
        read, parsed and checked in batches and the usable ones appended to the file, so that a
        sales table larger than the memory loads. ``pd.read_parquet(sales_to)`` then equals the
        ``tables["sales"]`` of an in-memory load (same columns, types, values and order); findings,
        counts, files and hashes are the same too. The file is written as ``NAME.part`` and renamed
        when the whole case has loaded (nothing is left behind when it does not).
    batch_rows : int, default 1,000,000
        Lines per batch when streaming (about 300 bytes of memory per line at the peak).

    Returns
    -------
    Case
        Without ``tables["sales"]`` and with ``sales_path`` set when ``sales_to`` is given.

    Raises
    ------
    UserError
        When the case cannot be used: one message naming the file, the column or row, and the fix.
    """
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise UserError(f"{case_dir}: no such folder; give the folder that holds clients.csv and sales.csv")
    if sales_to is None:
        return _load_case(case_dir, drivers, None, batch_rows)
    if int(batch_rows) < 1:
        raise ValueError(f"batch_rows must be at least 1 (got {batch_rows})")
    target = Path(sales_to)
    if target.resolve().parent == case_dir.resolve() and target.name.split(".", 1)[0].lower() in TABLES:
        raise UserError(f"{target}: the sales lines cannot be written into the case folder under a table's name "
                        "(the next load would read it as a table); give a path outside the case folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        case = _load_case(case_dir, drivers, part, int(batch_rows))
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    case.sales_path = target
    return case


def _load_case(case_dir: Path, drivers: list[str] | None, sales_to: Path | None, batch_rows: int) -> Case:
    """:func:`load_case` of an existing folder, the sales table streamed to ``sales_to`` when given."""
    mapping = read_mapping(case_dir)
    stated = mapping.get("dates", {})
    tables: dict[str, pd.DataFrame] = {}
    issues: list[pd.DataFrame] = []
    counts: dict[str, dict[str, int]] = {}
    files: dict[str, str] = {}
    hashes: dict[str, str] = {}
    found_drivers: list[str] = []
    ignored_numeric: list[str] = []
    streamed: StreamedTable | None = None
    for name, table in TABLES.items():
        path = find_table_file(case_dir, name)
        if path is None:
            if table.required_table:
                raise UserError(_missing_table_message(case_dir, name))
            continue
        if name == "sales" and sales_to is not None:  # the client cards are loaded: TABLES has them first
            streamed = stream_table(path, table, mapping.get(name), tables["clients"]["client_id"],
                                    files["clients"], sales_to, batch_rows, stated.get(name))
            n_read, n_used, found = streamed.n_read, streamed.usable, streamed.found
        else:
            df, found, n_read = load_table(path, name, mapping.get(name), drivers, stated.get(name))
            n_used, tables[name] = len(df), df
            if name == "clients":
                found_drivers = df.attrs.get("drivers", [])
                ignored_numeric = df.attrs.get("ignored_numeric", [])
        files[name] = path.name
        hashes[path.name] = file_hash(path)
        issues.append(found)
        counts[name] = {"read": n_read, "used": n_used, "rejected": n_read - n_used}
        if name in ("clients", "sales") and n_used == 0:
            raise UserError(_no_usable_rows_message(path.name, n_read, found))
    for m in ("mapping.yaml", "mapping.yml"):
        if (case_dir / m).exists():
            hashes[m] = file_hash(case_dir / m)

    # references to clients
    for name in ("sales", "deals", "survey", "contacts"):
        if name == "sales" and streamed is not None:
            unknown, example = streamed.unknown, streamed.first_client
        elif name in tables:
            df = tables[name]
            unk = pd.Series(~isin(df["client_id"], tables["clients"]["client_id"]), index=df.index)
            if not unk.any():
                continue
            unknown, example = _unknown_client_findings(name, df, unk, files["clients"]), df["client_id"].iloc[0]
            tables[name] = df.loc[~unk].reset_index(drop=True)
        else:
            continue
        if len(unknown):
            issues.append(unknown)
            counts[name]["used"] -= len(unknown)
            counts[name]["rejected"] += len(unknown)
            if name == "sales" and counts[name]["used"] == 0:
                raise UserError(f"{files[name]}: none of the {len(unknown)} usable sales rows names a client of "
                                f"{files['clients']} (e.g. client_id {clip(example)!r}, while the cards have e.g. "
                                f"{clip(tables['clients']['client_id'].iloc[0])!r}); check that both files use the same "
                                "client code")
    if len(tables["clients"]) < 2:
        raise UserError(f"{files['clients']}: only {len(tables['clients'])} usable client card "
                        f"({counts['clients']['read']} read); an audit needs a client base of at least two clients")
    all_issues = pd.concat([i for i in issues if len(i)], ignore_index=True) if any(len(i) for i in issues) \
        else empty_issues()
    all_issues = all_issues.sort_values(["table", "row", "issue"], kind="mergesort", ignore_index=True)
    if drivers:
        missing = [d for d in drivers if d not in tables["clients"].columns]
        if missing:
            raise UserError(f"parameter drivers names {', '.join(missing)}, not numeric columns of "
                            f"{files['clients']} (numeric columns found: {', '.join(found_drivers) or 'none'})")
        found_drivers = list(drivers)
    return Case(case_dir, tables, all_issues, counts, files, hashes, found_drivers,
                ignored_numeric=[c for c in ignored_numeric if c not in found_drivers])


def _no_usable_rows_message(where: str, n_read: int, found: pd.DataFrame) -> str:
    """Why a table has no usable row: no data rows at all, or the first three problems."""
    if n_read == 0:
        return f"{where}: the table has a header but no data rows; export it again with its rows"
    first = found.dropna(subset=["row"]).head(3)
    return (f"{where}: no usable rows ({n_read} read, all rejected). The first problems: "
            + "; ".join(f"row {r}: {d}" for r, d in first[["row", "detail"]].itertuples(index=False))
            + ". Fix them in the file (every problem is listed by kbanalysis validate)")


def _unknown_client_findings(name: str, df: pd.DataFrame, unk, clients_file: str) -> pd.DataFrame:
    """``unknown_client`` findings for the rows ``unk`` of ``df``."""
    ids = df.loc[unk, "client_id"]
    return issue_frame(name, df.loc[unk, "_row"], ids, "unknown_client",
                       [f"client_id {c} is not in {clients_file}; the row is left out" for c in ids])


def driver_columns(clients: pd.DataFrame, drivers=None, *, with_values: bool = True) -> list[str]:
    """The client-card columns used as potential drivers: ``drivers`` when given (those present), else the known
    driver columns (:data:`~kbanalysis.schema.DRIVER_COLUMNS`) that are numeric and not boolean — with at least
    one value unless ``with_values`` is False. Any other numeric column (a row counter, a code) is no driver.

    >>> c = pd.DataFrame({"client_id": ["a"], "reported_turnover": [1.0], "outlets": [3.0], "_row": [2],
    ...                   "machines": [float("nan")], "row_no": [1]})
    >>> driver_columns(c), driver_columns(c, with_values=False), driver_columns(c, ["row_no", "absent"])
    (['outlets'], ['outlets', 'machines'], ['row_no'])
    """
    if drivers:
        return [d for d in drivers if d in clients.columns]
    return [c for c in clients.columns
            if c in DRIVER_COLUMNS
            and pd.api.types.is_numeric_dtype(clients[c]) and not pd.api.types.is_bool_dtype(clients[c])
            and (not with_values or clients[c].notna().any())]


# --------------------------------------------------------------------------------------------
# streaming a table to Parquet (the sales lines of a case larger than the memory)
# --------------------------------------------------------------------------------------------
# The batches are read by the same readers with the same options as the whole file, parsed by the
# same code (parse_table with each batch's spreadsheet row numbers, _finish_table, the client check)
# and give the same rows and findings: every rule for sales looks at one row at a time
# (row_by_row), "today" is fixed once, the findings are put back into whole-file order (by the keys
# of _parse_table_parts), and every decision the whole-file readers take for the whole file is
# taken for the whole stream: pyarrow failing anywhere, a UnicodeDecodeError or an unclosed quote
# anywhere make the stream start again from the top with the options the whole-file read would
# switch to, as _read_csv_fast / _read_csv read the whole file again; the share of rows in another
# encoding is judged at the end, over all of them. The few files whose result in batches could
# differ in another way are loaded whole (_NotStreamable: see where it is raised).
@dataclass
class StreamedTable:
    """What streaming a table to Parquet keeps in memory: row accounting and findings."""

    n_read: int  # rows read (blank lines are not rows)
    usable: int  # rows that passed the table's own checks (before the check of their client)
    found: pd.DataFrame  # findings of reading and parsing, as load_table gives them
    unknown: pd.DataFrame  # unknown_client findings of the usable rows
    first_client: str | None  # client_id of the first usable row (quoted when none is known)


class _NotStreamable(Exception):
    """A file the batches would not read exactly as the whole-file path does: it is loaded whole."""


class _ReadFailed(Exception):
    """A reader's error while streaming (its ``__cause__``), kept apart from errors of the parsing."""


def stream_table(path: Path, table: Table, mapping: dict | None, clients: pd.Series, clients_file: str,
                 target: Path, batch_rows: int, dates: str | None = None) -> StreamedTable:
    """Load a table file to the Parquet file ``target`` batch by batch, without holding it in memory.

    Parameters
    ----------
    path : Path
        The table's file (CSV, xlsx or Parquet).
    table : Table
        Its contract; its rules must look at one row at a time (:func:`row_by_row`).
    mapping : dict or None
        ``mapping.yaml``'s headers for the table.
    clients : Series
        The client_id of the usable client cards: rows naming another client are left out.
    clients_file : str
        The client cards' file name (quoted in the findings).
    target : Path
        The Parquet file to write (replaced).
    batch_rows : int
        Lines per batch.
    dates : str, optional
        The order of the day-month dates ``mapping.yaml`` states (:data:`DATE_ORDERS`). Without it each
        date column's order is decided by the lines read so far; when they cannot tell (only dates
        such as ``10/02/2023`` so far), the date cells of the whole file are read first, so the
        order is the one the whole-file load decides.

    Returns
    -------
    StreamedTable
        Counts and findings; the usable rows of known clients are in ``target``, in file order,
        with the schema ``df.to_parquet(index=False)`` gives for the table loaded in memory.
    """
    if not row_by_row(table) or "client_id" not in table.names:
        raise ValueError(f"table {table.name} has rules over whole columns or rows, or no client_id: it is not "
                         "streamed")
    loader = _BatchLoader(path, table, mapping or {}, target, clients, clients_file, dates)
    try:
        try:
            return _stream_file(path, loader, batch_rows)
        except _DatesUndecided:  # read the date cells of the whole file, then the file with their orders
            loader.dates_only = True
            _stream_file(path, loader, batch_rows)
            loader.dates_only, loader.dates.final = False, True
            return _stream_file(path, loader, batch_rows)
    except _NotStreamable:
        pass  # one of the rare malformed files that only the whole-file path reads as it does: see the raise
    finally:
        loader.close()
    return _load_whole(path, loader, batch_rows)


def _stream_file(path: Path, loader: _BatchLoader, batch_rows: int) -> StreamedTable:
    """One pass of ``loader`` over a CSV or Parquet file (an xlsx file is :class:`_NotStreamable`)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _stream_parquet(path, loader, batch_rows)
    if suffix != ".xlsx":
        return _stream_csv(path, loader, batch_rows)
    raise _NotStreamable("an xlsx file is read whole")


class _BatchLoader:
    """Parses a table batch by batch: usable rows of known clients go to a Parquet file; findings and
    counts stay in memory."""

    def __init__(self, path: Path, table: Table, mapping: dict, target: Path, clients: pd.Series,
                 clients_file: str, dates: str | None = None):
        self.path, self.where, self.table, self.mapping = path, path.name, table, mapping
        self.target, self.clients, self.clients_file = target, clients, clients_file
        self.dates = DateOrders(table.name, path.name, dates, final=False)
        self.dates_only = False  # a pass that only looks at the date cells (DateOrders.look)
        self.today = pd.Timestamp.today().normalize()  # one date for every batch
        self.writer = None
        self.begin(RawInfo())

    def begin(self, info: RawInfo) -> None:
        """Start (again) from the top of the file: an empty Parquet file, no rows, no findings."""
        self.close()
        self.info = info
        if not self.dates.final:  # what the lines of an earlier pass showed is seen again
            self.dates.seen.clear()
        self.parts: dict[tuple[int, int], list[pd.DataFrame]] = {}  # parsing findings by key
        self.more: list[pd.DataFrame] = []  # findings of _finish_table
        self.unknown: list[pd.DataFrame] = []
        self.n_read = self.usable = self.n_lines = 0
        self.first_client: str | None = None
        self.columns: list | None = None  # the raw columns
        self.unmapped = False  # the headers do not map (raised at the end, after the reader's errors)
        self.undecodable: list[np.ndarray] = []  # rows showing U+FFFD
        self.sample: dict = {}  # first 200 cells of the first 30 raw columns (quoted if the text is garbled)

    def add(self, raw: pd.DataFrame, rows: np.ndarray, bad: list[tuple[int, str]] | None = None) -> None:
        """Parse one batch of raw lines (spreadsheet ``rows``; ``bad``: its lines that are not rows). The
        columns of ``raw`` are taken out of it, so that their text is freed column by column as it is parsed."""
        if self.columns is None:
            self.columns = list(raw.columns)
        self._keep_sample(raw)
        self.n_lines += len(raw)
        if self.info.encoding_errors:
            self.undecodable.append(rows[_undecodable(raw)])
        if self.unmapped:
            return
        try:
            mapped = map_headers(raw, self.table, self.mapping, self.where, self.info)
        except UserError:
            self.unmapped = True
            return
        for c in list(raw.columns):
            del raw[c]
        if self.dates_only:
            for col in self.table.columns:
                if col.kind in ("date", "month") and col.name in mapped.columns:
                    self.dates.look(col.name, mapped[col.name], rows)
            return
        good, parts, n_read = _parse_table_parts(mapped, rows, self.table, self.where, None, bad, consume=True,
                                                 today=self.today, dates=self.dates)
        del mapped
        self.n_read += n_read
        for key, frame in parts:
            self.parts.setdefault(key, []).append(frame)
        good, more = _finish_table(self.table.name, good, self.where)
        if len(more):
            self.more.append(more)
        self.add_usable(good)

    def add_usable(self, good: pd.DataFrame) -> None:
        """Check the clients of parsed rows and append the rows of known ones to the Parquet file."""
        known = isin(good["client_id"], self.clients)
        if self.first_client is None and len(good):
            self.first_client = good["client_id"].iloc[0]
        self.usable += len(good)
        if not known.all():
            self.unknown.append(_unknown_client_findings(self.table.name, good, ~known, self.clients_file))
            good = good.loc[known].reset_index(drop=True)
        self._write(good)

    def finish(self) -> StreamedTable:
        """Judge the whole file (rows in another encoding, headers) and return what the batches found."""
        if self.info.encoding_errors:
            hit = np.concatenate(self.undecodable) if self.undecodable else np.zeros(0, dtype=np.int64)
            _note_undecodable(hit, self.n_lines, self.table.name, self.where, self.info)
        if self.unmapped:  # raises the message the whole-file load gives
            map_headers(pd.DataFrame(columns=self.columns), self.table, self.mapping, self.where, self.info)
        found = [f for key in sorted(self.parts) for f in self.parts[key]] + self.more
        found += _file_notes(self.table.name, self.where, self.info, _text_sample(self.sample))
        found = [f for f in found if len(f)]
        return self.result(self.n_read, pd.concat(found, ignore_index=True) if found else empty_issues())

    def result(self, n_read: int, found: pd.DataFrame) -> StreamedTable:
        """Close the Parquet file; the counts and findings."""
        self.close()
        unknown = pd.concat(self.unknown, ignore_index=True) if self.unknown else empty_issues()
        return StreamedTable(n_read, self.usable, found, unknown, self.first_client)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _keep_sample(self, raw: pd.DataFrame) -> None:
        if self.info.garbled:
            for c in list(raw.columns)[:30]:
                cells = self.sample.setdefault(c, [])
                if len(cells) < 200:
                    cells.extend(raw[c].head(200 - len(cells)).tolist())

    def _write(self, df: pd.DataFrame) -> None:
        import pyarrow.parquet as pq

        tb = _parquet_table(df)
        if self.writer is None:  # the first batch (even empty) sets the schema
            self.writer = pq.ParquetWriter(self.target, tb.schema, compression="snappy")
        elif not tb.schema.equals(self.writer.schema, check_metadata=False):
            tb = tb.cast(self.writer.schema)
        if tb.num_rows:
            self.writer.write_table(tb)


def _parquet_table(df: pd.DataFrame) -> pa.Table:
    """``df`` as the Arrow table ``df.to_parquet(index=False)`` writes (``df.attrs`` kept as pandas keeps them)."""
    tb = pa.Table.from_pandas(df, preserve_index=False)
    if df.attrs:
        tb = tb.replace_schema_metadata({**tb.schema.metadata, "PANDAS_ATTRS": json.dumps(df.attrs)})
    return tb


def _load_whole(path: Path, loader: _BatchLoader, batch_rows: int) -> StreamedTable:
    """An xlsx table (at most 1,048,576 rows) or a file the batches would not read exactly: loaded whole
    with :func:`load_table`, checked and written in batches."""
    loader.begin(RawInfo())
    try:
        good, found, n_read = load_table(path, loader.table.name, loader.mapping, dates=loader.dates.stated)
        for start in range(0, len(good), batch_rows):
            loader.add_usable(good.iloc[start:start + batch_rows])
        return loader.result(n_read, found)
    finally:
        loader.close()


def _stream_csv(path: Path, loader: _BatchLoader, batch_rows: int) -> StreamedTable:
    """A CSV table in batches: the head is read once for the layout; large files are streamed by pyarrow
    and, when it fails anywhere (as :func:`_read_csv_fast` returns None), by the C parser in chunks,
    from the top again with the options :func:`_read_csv` would read the whole file again with."""
    info = RawInfo()
    layout = _csv_layout(path, loader.table, loader.mapping, info)
    if layout.fast:
        loader.begin(info)
        try:
            return _add_in_order(loader, _arrow_batches(path, layout, batch_rows), layout.h + 2)
        except _ReadFailed:
            pass
    kw = _c_parser_options(layout.enc, layout.sep, layout.h, layout.names + layout.spare)
    while True:
        loader.begin(info)
        info.encoding_errors = kw.get("encoding_errors") == "replace"
        try:
            return _stream_c_parser(path, layout, kw, loader, batch_rows)
        except _ReadFailed as failed:
            e = failed.__cause__
            if _read_again(e, kw, loader.table.name, layout.head_ascii, info):
                continue
            if isinstance(e, (UnicodeDecodeError, pd.errors.EmptyDataError)):
                raise _read_error(e, path.name) from None
            # the message quotes the parser's, which a chunk may word otherwise: the whole-file read words it
            raise _NotStreamable from e


def _stream_c_parser(path: Path, layout: _CsvLayout, kw: dict, loader: _BatchLoader,
                     batch_rows: int) -> StreamedTable:
    """One pass of the C parser over a CSV file, in chunks, numbered and split as :func:`read_raw` does."""
    numbers = _RowNumbers(layout.h + 2)
    with closing(_c_parser_batches(path, kw, batch_rows)) as batches:
        for chunk, skipped in batches:
            rows, skipped = numbers.take(len(chunk), skipped)
            chunk, rows, bad = _without_wide_lines(chunk, rows, skipped, layout)
            loader.add(chunk, rows, _bad_line_details(bad, layout))
    tail = numbers.rest()
    if tail:  # lines with too many fields after the last row
        loader.add(_no_lines(layout.names), np.zeros(0, dtype=np.int64), _bad_line_details(tail, layout))
    return loader.finish()


def _add_in_order(loader: _BatchLoader, batches, first: int) -> StreamedTable:
    """Parse frames of consecutive lines (no line skipped), numbered from spreadsheet row ``first``."""
    with closing(batches):
        for df in batches:
            n = len(df)
            loader.add(df, np.arange(first, first + n, dtype=np.int64))
            first += n
    return loader.finish()


def _no_lines(names: list[str]) -> pd.DataFrame:
    """A raw frame of text columns ``names`` without lines."""
    return pd.DataFrame({n: pd.Series([], dtype="str") for n in names})


class _RowNumbers:
    """Spreadsheet row numbers of the C parser's chunks, as :func:`_spreadsheet_rows` numbers the whole file.

    The lines of each chunk take the next numbers that are not those of lines the parser skipped
    (too many fields). A skipped line reported after its number was given to a row, or skipped lines
    after the last row that the whole-file numbering would not place (its line numbers do not fit,
    e.g. quoted line breaks: it falls back to plain order) make the file :class:`_NotStreamable`.

    >>> n = _RowNumbers(2)
    >>> [r.tolist() for r in n.take(2, [(3, 7)])[0:1]], n.take(1, [])[0].tolist(), n.rest()
    ([[2, 4]], [5], [])
    """

    def __init__(self, first: int):
        self.next = first
        self.pending: list[tuple[int, int]] = []

    def take(self, n: int, skipped: list[tuple[int, int]]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The row numbers of the next ``n`` lines and the skipped lines among them."""
        if any(r < self.next for r, _ in skipped):
            raise _NotStreamable("a skipped line was reported after its number was given")
        pending = sorted(self.pending + list(skipped))
        skip = np.array([r for r, _ in pending], dtype=np.int64)
        if len(np.unique(skip)) < len(skip):
            raise _NotStreamable("a line was reported skipped twice")
        span = np.arange(self.next, self.next + n + len(skip), dtype=np.int64)
        rows = span[~np.isin(span, skip)][:n]
        end = int(rows[-1]) + 1 if n else self.next
        self.next, self.pending = end, [p for p in pending if p[0] >= end]
        return rows, [p for p in pending if p[0] < end]

    def rest(self) -> list[tuple[int, int]]:
        """The skipped lines after the last row (they must follow it, as in the whole-file numbering)."""
        if [r for r, _ in self.pending] != list(range(self.next, self.next + len(self.pending))):
            raise _NotStreamable("skipped lines past the end of the numbering")
        return self.pending


def _c_parser_batches(path: Path, kw: dict, batch_rows: int):
    """Yield (chunk of ``batch_rows`` lines, (line, fields) of the lines skipped in it) from the C parser:
    at least one chunk (empty for a file without lines); its errors come as :class:`_ReadFailed`."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            reader = pd.read_csv(path, chunksize=batch_rows, **kw)
    except _C_READ_ERRORS as e:
        raise _ReadFailed from e
    skipped, done = _skipped_lines(caught), False
    with reader:
        while True:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", pd.errors.ParserWarning)
                    chunk = [next(reader)]
            except StopIteration:
                skipped += _skipped_lines(caught)
                break
            except _C_READ_ERRORS as e:
                raise _ReadFailed from e
            skipped, done = sorted(skipped + _skipped_lines(caught)), True
            yield chunk.pop(), skipped  # nothing here holds the lines yielded
            skipped = []
    if skipped or not done:
        yield _no_lines(kw["names"]), sorted(skipped)


def _arrow_batches(path: Path, layout: _CsvLayout, batch_rows: int):
    """Yield frames of ``batch_rows`` lines from pyarrow's streaming CSV reader, with the options of
    :func:`_read_csv_fast` (the same blocks: the same rows), at least one frame; its errors come as
    :class:`_ReadFailed`."""
    import pyarrow.csv as pcsv

    opts = _arrow_csv_options(layout.enc, layout.sep, layout.h, layout.names)
    # one thread: pyarrow's streaming reader would otherwise read up to 32 blocks (512 MB) ahead in the
    # background; parsing the batches, not reading them, is the load's cost
    opts["read_options"].use_threads = False
    source = open(path, "rb")  # noqa: SIM115 - closed in ``finally``
    try:
        try:
            reader = pcsv.open_csv(source, **opts)
        except _ARROW_READ_ERRORS as e:
            raise _ReadFailed from e
        pending: list[pa.RecordBatch] = []
        n, done = 0, False
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except _ARROW_READ_ERRORS as e:
                raise _ReadFailed from e
            pending.append(batch)
            n += batch.num_rows
            del batch
            while n >= batch_rows:
                tb = pa.Table.from_batches(pending, schema=reader.schema)
                head, rest = [tb.slice(0, batch_rows)], tb.slice(batch_rows)
                pending, n, done = rest.to_batches(), rest.num_rows, True
                del tb, rest
                yield _arrow_frame(head.pop(), layout.names)  # nothing here holds the lines yielded
        if n or not done:
            yield _arrow_frame(pa.Table.from_batches(pending, schema=reader.schema), layout.names)
    finally:
        source.close()


def _arrow_frame(tb: pa.Table, names: list[str]) -> pd.DataFrame:
    """Lines read by pyarrow (whole file or a batch) as a frame of the header's ``names``: Arrow-backed
    ``str`` columns, as the C parser's with ``dtype=str``."""
    df = tb.to_pandas()
    df.columns = names
    return df


def _stream_parquet(path: Path, loader: _BatchLoader, batch_rows: int) -> StreamedTable:
    """A Parquet table in batches of rows."""
    loader.begin(RawInfo())
    return _add_in_order(loader, _parquet_batches(path, batch_rows), 2)


def _parquet_batches(path: Path, batch_rows: int):
    """Yield frames of ``batch_rows`` rows of a Parquet file with the types and names :func:`read_raw` gives
    the whole file (at least one frame). Any error makes it :class:`_NotStreamable`: the whole-file read
    words the message."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        widen = _columns_with_nulls(pf)
        batches = pf.iter_batches(batch_size=batch_rows, use_pandas_metadata=True)
    except Exception as e:  # noqa: BLE001 - any reader failure is the user's file
        raise _NotStreamable from e
    done = False
    while True:
        try:
            batch = [next(batches)]
        except StopIteration:
            break
        except Exception as e:  # noqa: BLE001
            raise _NotStreamable from e
        done = True  # nothing here holds the rows yielded
        yield _parquet_frame(pa.Table.from_batches([batch.pop()]).replace_schema_metadata(schema.metadata), widen)
    if not done:
        yield _parquet_frame(schema.empty_table(), widen)


def _columns_with_nulls(pf) -> set[str]:
    """Integer and boolean columns of a Parquet file with a missing value anywhere: pandas reads them
    whole as float / object, a batch without a missing value as int / bool."""
    out = set()
    for f in pf.schema_arrow:
        if pa.types.is_integer(f.type) or pa.types.is_boolean(f.type):
            if any(_null_count(pf, i, f.name) for i in range(pf.num_row_groups)):
                out.add(f.name)
    return out


def _null_count(pf, group: int, name: str) -> int:
    """Missing values of column ``name`` in row group ``group``: from its statistics, read when it has none."""
    meta = pf.metadata.row_group(group)
    for j in range(meta.num_columns):
        st = meta.column(j).statistics
        if meta.column(j).path_in_schema == name and st is not None and st.has_null_count:
            return st.null_count
    return pf.read_row_group(group, columns=[name]).column(0).null_count


def _parquet_frame(tb: pa.Table, widen: set[str]) -> pd.DataFrame:
    """Rows of a Parquet file as ``pd.read_parquet`` converts the whole file, named as :func:`read_raw` names them."""
    try:  # what pd.read_parquet converts with (types mapped as pandas maps them)
        from pandas.io._util import arrow_table_to_pandas
    except ImportError:  # pragma: no cover - another pandas
        arrow_table_to_pandas = pa.Table.to_pandas
    df = arrow_table_to_pandas(tb)
    for c in df.columns:
        if str(c) in widen and df[c].dtype.kind in "iub":
            df[c] = df[c].astype("float64" if df[c].dtype.kind in "iu" else object)
    df.columns = _parquet_names(df.columns)
    return df
