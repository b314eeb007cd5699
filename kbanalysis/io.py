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
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .cleaning import isin
from .errors import UserError, read_yaml_mapping
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
def issue_frame(table: str, rows, client_ids, issue, details) -> pd.DataFrame:
    """Quality findings as a frame with the contract's columns (``issue`` and ``details``: one for
    all rows, or one per row).

    >>> issue_frame("sales", [3], ["c1"], "bad_date", ["date '31.02.2024' is not a date"])
       table  row client_id     issue                           detail
    0  sales    3        c1  bad_date  date '31.02.2024' is not a date
    """
    n = len(rows)
    detail = pd.Series(list(details) if not isinstance(details, str) else [details] * n, dtype="string")
    return pd.DataFrame({
        "table": pd.Series([table] * n, dtype="string"),
        "row": pd.array(rows, dtype="Int64"),
        "client_id": pd.array(list(client_ids) if client_ids is not None else [pd.NA] * n, dtype="string"),
        "issue": pd.Series([issue] * n if isinstance(issue, str) else list(issue), dtype="string"),
        "detail": one_line(detail).array,
    })


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(details: pd.Series) -> pd.Series:
    """Details that quote raw cells, made printable on one line: control characters (a line break
    inside a quoted cell) are shown escaped.

    >>> one_line(pd.Series(['date "a\\nb" is not a date'], dtype="string")).tolist()
    ['date "a\\\\nb" is not a date']
    """
    if not details.str.contains(_CONTROL, regex=True).fillna(False).any():
        return details
    return details.str.replace(_CONTROL, lambda m: repr(m.group(0))[1:-1], regex=True)


def empty_issues() -> pd.DataFrame:
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
        df.columns = _dedupe([str(c).strip() for c in df.columns])
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
    df = _read_csv_fast(path, enc, sep, h, names) if not spare and path.stat().st_size >= FAST_CSV_BYTES else None
    if df is not None:
        bad = []
    else:
        df, bad = _read_csv(path, where, table.name, enc, sep, h, head.isascii(), info, names + spare)
    rows = np.arange(h + 2, h + 2 + len(df) + len(bad), dtype=np.int64)
    if bad:
        rows = rows[~np.isin(rows, [r for r, _ in bad])]
        if len(rows) != len(df):  # line numbers of the parser's warnings not as expected: keep the order
            rows = np.arange(h + 2, h + 2 + len(df), dtype=np.int64)
    if spare:  # lines wider than the header with something in the extra fields are not rows
        fields = np.zeros(len(df), dtype=np.int64)
        for i, c in enumerate(spare):
            fields = np.where(df[c].to_numpy(dtype=object, na_value="") != "", width + i + 1, fields)
        wide = fields > 0
        if wide.any():
            bad = sorted(bad + list(zip(rows[wide].tolist(), fields[wide].tolist())))
            df, rows = df.loc[~wide].reset_index(drop=True), rows[~wide]
        df = df.drop(columns=spare)
    info.bad_rows = [(r, f"the line has {saw} fields but the header has {width} (a stray "
                      f"{_SEP_NAMES.get(sep, sep)} in a cell?); the row is left out") for r, saw in bad]
    if info.encoding_errors:
        _mark_undecodable_rows(df, rows, table.name, where, info)
    return df, rows, info


def _mark_undecodable_rows(df: pd.DataFrame, rows: np.ndarray, name: str, where: str, info: RawInfo) -> None:
    """Rows holding bytes the file's encoding cannot decode: a few are listed, many stop the run."""
    hit = np.zeros(len(df), dtype=bool)
    for c in df.columns:
        hit |= df[c].astype("string").str.contains("\ufffd", regex=False).fillna(False).to_numpy(dtype=bool)
    n = int(hit.sum())
    if not n:
        return
    if n > max(0.05 * len(df), 20):
        raise UserError(f"{where}: {n:,} rows (the first is row {int(rows[hit][0])}) are not in "
                        f"{_ENCODING_NAMES.get(info.encoding, info.encoding)} like the rest of the file: the file "
                        "mixes encodings; export it again as CSV UTF-8")
    info.notes.append(issue_frame(name, rows[hit], None, "bad_value",
                                  f"the row has bytes that are not {_ENCODING_NAMES.get(info.encoding, info.encoding)} "
                                  "(the file mixes encodings); its text shows \ufffd where they were"))


_SEP_NAMES = {";": "';'", ",": "','", "\t": "tab", "|": "'|'"}


def _encoding_hint(info: RawInfo, headers) -> str:
    """A sentence on the encoding when the headers (or the text) look like mojibake."""
    shown = _garbled_words(" ".join(str(x) for x in headers), 3)
    if not (info.garbled or shown):
        return ""
    name = _ENCODING_NAMES.get(info.encoding, info.encoding)
    ex = f" (e.g. {', '.join(repr(w) for w in shown)})" if shown else ""
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

    codec = {"utf-8": "utf8", "utf-8-sig": "utf8"}.get(enc, enc)
    try:
        tb = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=h + 1, encoding=codec,
                                          block_size=16 << 20),
            parse_options=pcsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True,
                                            ignore_empty_lines=False),  # a line of another width raises
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowException, UnicodeDecodeError, LookupError, ValueError, OSError):
        return None
    df = tb.to_pandas()  # Arrow-backed ``str`` columns, as the C parser's with ``dtype=str``
    df.columns = names
    return df


def _read_csv(path: Path, where: str, name: str, enc: str, sep: str, h: int, head_ascii: bool,
              info: RawInfo, names: list[str]) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    """The lines under the header as strings (C parser); lines with too many fields come back separately
    as (spreadsheet row, fields)."""
    kw = dict(sep=sep, dtype=str, keep_default_na=False, na_filter=False, skiprows=h + 1, header=None, names=names,
              index_col=False, skip_blank_lines=False, encoding="utf-8" if enc == "utf-8-sig" else enc,
              quotechar='"', engine="c", on_bad_lines="warn")
    while True:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                df = pd.read_csv(path, **kw)
            break
        except UnicodeDecodeError:
            if kw["encoding"] == "utf-8" and head_ascii:
                kw["encoding"] = "cp1251"  # plain ASCII at the top, Windows-1251 further down
                info.encoding = "cp1251"
                continue
            if kw.get("encoding_errors") != "replace":
                kw["encoding_errors"] = "replace"  # mixed encodings: rows with undecodable bytes are marked
                continue
            raise UserError(f"{where}: the encoding could not be detected (expected UTF-8 or Windows-1251); "
                            "save it as CSV UTF-8") from None
        except pd.errors.EmptyDataError:
            raise UserError(f"{where}: the file has no table (no header row); export the table again") from None
        except pd.errors.ParserError as e:
            m = re.search(r"EOF inside string starting at row (\d+)", str(e))
            if m and kw.get("quoting") != csv.QUOTE_NONE:
                kw["quoting"] = csv.QUOTE_NONE  # an unclosed quote: read quotes as ordinary characters
                row = int(m.group(1)) + 1  # the parser counts lines from 0, skipped ones included
                info.notes.append(issue_frame(
                    name, [row], None, "bad_value",
                    "a quote \" opened in this row is never closed; the file was read with quotes as ordinary "
                    "characters (cells quoted because they hold the delimiter may be split: see the rows listed)"))
                continue
            raise UserError(f"{where}: not a readable CSV table ({str(e).strip()}); export it again as CSV "
                            "UTF-8") from None
        except (csv.Error, ValueError) as e:
            raise UserError(f"{where}: not a readable CSV table ({e}); export it again as CSV UTF-8") from None
    info.encoding_errors = kw.get("encoding_errors") == "replace"
    bad = []
    for w in caught:
        for m in re.finditer(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)", str(w.message)):
            bad.append((int(m.group(1)), int(m.group(3))))
    bad.sort()
    return df, bad


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
        shown = ", ".join(repr(c) for c in found[:20]) + (" …" if len(found) > 20 else "")
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
_SPACES = "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x1c-\x1f\x85']"
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

    >>> import kbanalysis.io as kio
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
    distinct = _distinct(s)
    if distinct is not None:  # long columns repeat their dates: each distinct text is parsed once
        values, index = distinct
        v, bad = _parse_dates_by_rules(values)
        return (pd.Series(v.to_numpy()[index], index=s.index),
                pd.Series(bad.to_numpy()[index], index=s.index))
    return _parse_dates_by_rules(s)


_NS_MIN, _NS_MAX = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def _parse_dates_by_rules(s: pd.Series) -> tuple[pd.Series, pd.Series]:
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
    for fmt in _DATE_FORMATS:
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
        todo = pc.match_substring_regex(a, _NEEDS_CLEANING + ("|^[0-9]+[.]0+$" if is_id else ""))
        if pc.any(todo).as_py():
            fixed = _text_by_rules(s[todo.to_numpy(zero_copy_only=False)], is_id).array
            a = pc.replace_with_mask(a, todo, pa.array(fixed, type=a.type).fill_null(""))
        a = pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)
        return pd.Series(pd.arrays.ArrowStringArray(a), index=s.index, copy=False)
    return _text_by_rules(s, is_id)


#: what :func:`parse_text` would change: a space other than ' ', or ' ' at an end or twice in a row
_NEEDS_CLEANING = "[" + _SPACES[1:-2].replace(" ", "") + "]|^ | $|  "


def _text_by_rules(s: pd.Series, is_id: bool) -> pd.Series:
    t = _strings(s)
    if is_id:
        t = t.str.replace("^([0-9]+)[.]0+$", "\\1", regex=True)
    t = t.str.replace(_WHITESPACE_RUN, " ", regex=True)
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
                consume: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Parse a mapped raw frame into the canonical table; return (usable rows, findings, rows read).

    Entirely blank lines are not rows of data: they are neither read nor rejected. ``bad_rows``
    (spreadsheet row, detail) are lines the reader could not split into the header's columns: they
    count as read and rejected. ``consume=True`` drops each raw column from ``df`` once it is
    parsed, so a large file's text is freed column by column (the caller must hold no other
    reference to the raw frame).
    """
    name = table.name
    issues = []
    bad_rows = list(bad_rows or [])
    out = pd.DataFrame(index=df.index)
    out["_row"] = np.asarray(rows).astype("int64")
    rows = out["_row"].to_numpy()
    reject = pd.Series(False, index=df.index)
    # rows that are entirely empty are not data rows (blank lines of an export)
    blank = pd.Series(True, index=df.index)
    for c in df.columns:  # each column only where the row is still blank (after one, hardly any row is)
        if blank.any():
            blank[blank] = (_strings(df.loc[blank, c]) == "").to_numpy()
    today = pd.Timestamp.today().normalize()

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
        wrong = pd.Series(False, index=df.index)
        if col.kind == "text":
            v = parse_text(src, is_id=col.name in ("client_id", "deal_id"))
            bad = pd.Series(False, index=df.index)
        elif col.kind == "number":
            v, bad = parse_numbers(src)
        elif col.kind == "prob":
            v, bad = parse_numbers(src)
            pct = _strings(src).str.endswith("%") if not pd.api.types.is_numeric_dtype(src) else \
                pd.Series(False, index=src.index)
            # percent when a value is written with % or most values are above 1; 150 or -5 are wrong either way
            nonzero = v.abs()[v.notna() & (v != 0)]
            if pct.any() or (len(nonzero) and nonzero.median() > 1):
                v = v / 100.0
            wrong = v.notna() & ((v < 0) | (v > 1))
            if wrong.any():
                issues.append(issue_frame(name, rows[wrong.to_numpy()], None, "bad_probability",
                                          [f"{col.name} \"{x}\" is outside 0–100 %; the row is left out"
                                           for x in _strings(src)[wrong]]))
                reject |= wrong
        elif col.kind == "date":
            v, bad = parse_dates(src)
            early = v.notna() & (v < EARLIEST)
            late = v.notna() & (v > today + pd.Timedelta(days=1))
            fate = "the row is left out" if col.required else "the value is ignored"
            if early.any():
                issues.append(issue_frame(name, rows[early.to_numpy()], None, "bad_date",
                                          [f"{col.name} \"{x}\" is before 1990: check the year; {fate}"
                                           for x in _strings(src)[early]]))
            if late.any():
                issues.append(issue_frame(name, rows[late.to_numpy()], None, "future_date",
                                          [f"{col.name} \"{x}\" is in the future (after {today.date()}): check the "
                                           f"year; {fate}" for x in _strings(src)[late]]))
            wrong = early | late
            if wrong.any():
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
        if consume:
            del df[col.name], src
        if col.required and col.name != "probability":
            miss = v.isna() & ~bad & ~wrong & ~blank
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

    if bad_rows:
        issues.append(issue_frame(name, [r for r, _ in bad_rows], None, "bad_value", [d for _, d in bad_rows]))

    out = out.loc[~blank]
    reject = reject.loc[~blank]
    good = out.loc[~reject].reset_index(drop=True)
    found = pd.concat(issues, ignore_index=True) if issues else empty_issues()
    if "client_id" in out.columns and len(found):  # the card each finding is about
        cid_for = pd.Series(out["client_id"].to_numpy(), index=out["_row"].to_numpy())
        found["client_id"] = found["row"].astype("float64").map(cid_for).astype("string")
    good.attrs["drivers"] = drivers
    return good, found, int((~blank).sum()) + len(bad_rows)


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
    """``mapping.yaml``: ``{table: {source header: canonical column}}`` (optional)."""
    p = case_dir / "mapping.yaml"
    if not p.exists():
        p = case_dir / "mapping.yml"
        if not p.exists():
            return {}
    m = read_yaml_mapping(p, "column mapping")
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
    return out


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
    raw, rows, info = read_raw(path, table, mapping)
    sample = " ".join(str(x) for c in raw.columns[:30] for x in raw[c].head(200).tolist()) if info.garbled else ""
    mapped = map_headers(raw, table, mapping, path.name, info)
    del raw  # parse_table frees the raw text column by column (the peak of a large load)
    good, issues, n_read = parse_table(mapped, rows, table, path.name, drivers, info.bad_rows, consume=True)
    del mapped
    good, more = _finish_table(name, good, path.name)
    notes = list(info.notes)
    if info.garbled:
        shown = ", ".join(repr(w) for w in _garbled_words(sample, 3))
        notes.append(issue_frame(name, [pd.NA], None, "bad_value",
                                 f"the text of {path.name} looks garbled{' (e.g. ' + shown + ')' if shown else ''}: "
                                 f"it was read as {_ENCODING_NAMES.get(info.encoding, info.encoding)} but is probably "
                                 "in another encoding; names may be wrong: save the file as CSV UTF-8"))
    parts = [x for x in (issues, more, *notes) if len(x)]
    issues = pd.concat(parts, ignore_index=True) if parts else empty_issues()
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
                raise UserError(_missing_table_message(case_dir, name))
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
            if n_read == 0:
                raise UserError(f"{path.name}: the table has a header but no data rows; export it again with its "
                                "rows")
            first = found.dropna(subset=["row"]).head(3)
            raise UserError(f"{path.name}: no usable rows ({n_read} read, all rejected). The first problems: "
                            + "; ".join(f"row {r}: {d}" for r, d in first[["row", "detail"]].itertuples(index=False))
                            + ". Fix them in the file (every problem is listed by kbanalysis validate)")
    for m in ("mapping.yaml", "mapping.yml"):
        if (case_dir / m).exists():
            hashes[m] = file_hash(case_dir / m)

    # references to clients
    for name in ("sales", "deals", "survey", "contacts"):
        if name not in tables:
            continue
        df = tables[name]
        unk = pd.Series(~isin(df["client_id"], tables["clients"]["client_id"]), index=df.index)
        if unk.any():
            issues.append(issue_frame(name, df.loc[unk, "_row"], df.loc[unk, "client_id"], "unknown_client",
                                      [f"client_id {c} is not in {files['clients']}; the row is left out"
                                       for c in df.loc[unk, "client_id"]]))
            tables[name] = df.loc[~unk].reset_index(drop=True)
            counts[name]["used"] -= int(unk.sum())
            counts[name]["rejected"] += int(unk.sum())
            if name == "sales" and len(tables[name]) == 0:
                raise UserError(f"{files[name]}: none of the {int(unk.sum())} usable sales rows names a client of "
                                f"{files['clients']} (e.g. client_id {df['client_id'].iloc[0]!r}, while the cards "
                                f"have e.g. {tables['clients']['client_id'].iloc[0]!r}); check that both files use "
                                "the same client code")
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
    return Case(case_dir, tables, all_issues, counts, files, hashes, found_drivers)


def driver_columns(clients: pd.DataFrame) -> list[str]:
    """Numeric client-card columns outside the contract's own: the potential drivers."""
    return [c for c in clients.columns if c not in CLIENT_CONTRACT_COLUMNS and c != "_row"
            and pd.api.types.is_float_dtype(clients[c])]
