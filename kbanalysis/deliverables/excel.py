"""``audit.xlsx``: the run's results as a workbook for the sales director and the managers.

Sheets (names in the run's language), each with a frozen bold header row, an autofilter, number
formats (money, percentages, dates) and sensible column widths:

* **Клиенты / Clients** — every client card with all columns of ``clients.csv`` (plus name, channel,
  region, manager, phone, e-mail, INN from the card when the run folder has it), codes labelled;
* **Возврат клиентов / Win-back** — ``lost_clients.csv`` with who to call and how, best first;
* **Допродажи и кросс-продажи / Up-sale and cross-sale** — the 1000 clients with the most growth potential
  (up-sale + cross-sale per month) and their plan;
* **Дубли карточек / Duplicates**, **Качество данных / Data quality** (the to-do list of data fixes),
  **Прогноз / Forecast** (with flags labelled);
* one sheet per manager with just that manager's clients (at most 50 managers, largest first).

Personal data (phones, e-mails, INNs) is masked with :mod:`kbanalysis.deliverables.privacy` when ``mask=True``.

Speed: the workbook is built with openpyxl in write-only mode; the data rows of big sheets are
serialised column-wise with pandas (``engine="fast"``, the default) because openpyxl's per-cell
writer needs ~15 s per million cells without lxml. ``engine="openpyxl"`` writes every cell
through openpyxl (same result, slower).

>>> import tempfile, pathlib
>>> run = pathlib.Path(tempfile.mkdtemp())
>>> _ = (run / "clients.csv").write_text("client_id,base,revenue_12m,share_of_wallet\\nC1,active,1200000,0.25\\n")
>>> from openpyxl import load_workbook
>>> ws = load_workbook(write_audit_xlsx(run, lang="ru"))["Клиенты"]
>>> [c.value for c in ws[1]][:4], ws["D2"].number_format, ws.freeze_panes
(['Код клиента', 'Клиентская база', 'Класс ABCDE', 'Выручка за 12 мес.'], '#,##0 "₽"', 'A2')
"""
from __future__ import annotations

import logging
import math
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from kbanalysis.deliverables import i18n
from kbanalysis.errors import UserError
from kbanalysis.deliverables.privacy import KEY_COLUMNS, mask_frame
from kbanalysis.deliverables.report import (CODE_COLUMNS, DATE_COLUMNS, INT_COLUMNS, MONEY_COLUMNS, MONTH_COLUMNS, PCT_COLUMNS, header, read_output,
                     translate_codes)
from kbanalysis.io.runfolder import RunFolder
from kbanalysis.sales.engine import revenue_per_month

log = logging.getLogger(__name__)

__all__ = ["write_audit_xlsx", "sheet_name", "number_format", "CARD_TABLES"]

#: work tables (``work/NAME.parquet``) searched, in order, for the client cards
CARD_TABLES = ("cards", "clients_card", "clients")
CARD_COLUMNS = ("name", "channel", "region", "manager", "phone", "email", "inn")
MAX_MANAGERS = 50
GROWTH_TOP = 1000
#: never scanned for personal data: keys and code columns
_NO_SCAN = KEY_COLUMNS + CODE_COLUMNS + ("abcde", "cluster", "channel", "region")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_ILLEGAL_XML = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_NUMERIC_KINDS = ("money", "pct", "int", "int0", "float", "date", "month")


# ------------------------------------------------------------------------------------------ formats
def _kind(name: str, s: pd.Series) -> str:
    if name in MONEY_COLUMNS:
        return "money"
    if name in PCT_COLUMNS:
        return "pct"
    if name in MONTH_COLUMNS:
        return "month"
    if name in DATE_COLUMNS or pd.api.types.is_datetime64_any_dtype(s):
        return "date"
    if name in ("row", "priority"):  # row numbers and ranks: no thousands separator
        return "int0"
    if name in INT_COLUMNS:
        return "int"
    if pd.api.types.is_bool_dtype(s):
        return "text"
    if pd.api.types.is_numeric_dtype(s):
        v = s.dropna().astype(float)
        return "int" if len(v) == 0 or (np.isfinite(v) & (v == np.round(v))).all() else "float"
    return "text"


def number_format(kind: str, lang: str = "ru", currency: str = "RUB") -> str | None:
    """Excel number format of a column kind (``money``, ``pct``, ``int``, ``float``, ``date``, ``month``).

    Excel shows ``,`` as the thousands separator of the reader's locale (a space in Russian Excel).

    >>> number_format("money", "ru"), number_format("money", "en"), number_format("pct"), number_format("date", "en")
    ('#,##0 "₽"', '#,##0', '0.0%', 'yyyy-mm-dd')
    """
    if kind == "money":
        if lang == "ru":
            return f'#,##0 "{i18n._SYMBOL.get(currency, currency)}"'
        return "#,##0"
    return {
        "pct": "0.0%",
        "int": "#,##0",
        "int0": "0",
        "float": "#,##0.00",
        "date": "dd.mm.yyyy" if lang == "ru" else "yyyy-mm-dd",
        "month": "mm.yyyy" if lang == "ru" else "yyyy-mm",
    }.get(kind)


_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


def sheet_name(text, taken: set[str] | None = None) -> str:
    """A valid, unique Excel sheet name: no ``[]:*?/\\``, at most 31 characters.

    ``taken`` holds the lower-cased names already used; the result is added to it.

    >>> taken = set()
    >>> sheet_name("Иванов И.И. / опт", taken), sheet_name("иванов и.и. / ОПТ", taken)
    ('Иванов И.И. опт', 'иванов и.и. ОПТ (2)')
    >>> len(sheet_name("x" * 40))
    31
    """
    taken = set() if taken is None else taken
    s = re.sub(r"\s+", " ", _BAD_SHEET_CHARS.sub(" ", str(text))).strip().strip("'").strip() or "—"
    s = s[:31].rstrip()
    name, i = s, 1
    while name.lower() in taken:
        i += 1
        suffix = f" ({i})"
        name = s[: 31 - len(suffix)].rstrip() + suffix
    taken.add(name.lower())
    return name


# ------------------------------------------------------------------------------------------ sheet contents
@dataclass
class _Sheet:
    title: str
    df: pd.DataFrame  # canonical column names, codes already labelled
    totals: bool = False  # a totals row under the data (money sheets)


def _read_cards(rf: RunFolder) -> pd.DataFrame | None:
    for name in CARD_TABLES:
        if not rf.has_work(name):
            continue
        try:
            df = rf.read_work(name)
        except Exception as e:  # noqa: BLE001 - a broken work file only costs the card columns
            log.warning("cannot read work/%s.parquet: %s", name, e)
            continue
        if "client_id" not in df.columns:
            continue
        cols = ["client_id"] + [c for c in CARD_COLUMNS if c in df.columns]
        out = df[cols].copy()
        out["client_id"] = out["client_id"].astype("string")
        return out.drop_duplicates("client_id")
    return None


def _with_cards(df: pd.DataFrame, cards: pd.DataFrame | None, cols=CARD_COLUMNS, on: str = "client_id",
                after: str = "client_id") -> pd.DataFrame:
    if cards is None or df.empty and not len(df.columns):
        return df
    add = [c for c in cols if c in cards.columns and c not in df.columns]
    if not add:
        return df
    right = cards[["client_id"] + add].rename(columns={"client_id": on})
    out = df.merge(right, on=on, how="left")
    order = list(df.columns)
    i = order.index(after) + 1 if after in order else len(order)
    return out[order[:i] + add + order[i:]]


def _order(df: pd.DataFrame, first: list[str], last: list[str] = ()) -> pd.DataFrame:
    first = [c for c in first if c in df.columns]
    last = [c for c in last if c in df.columns and c not in first]
    mid = [c for c in df.columns if c not in first and c not in last]
    return df[first + mid + last]


def _num(df, col) -> pd.Series:
    return pd.to_numeric(df[col], errors="coerce").astype(float) if col in df.columns else \
        pd.Series(np.nan, index=df.index)


def _build_sheets(run_dir: Path, lang: str, mask: bool, max_managers: int,
                  growth_top: int | None = 1000, mask_contacts: bool = False,
                  values: Mapping | None = None) -> list[_Sheet]:
    rf = RunFolder(run_dir)
    if not (run_dir / "clients.csv").exists():
        raise UserError(f"{run_dir / 'clients.csv'} is missing: the workbook is built from a finished run "
                        "(run notebook 05-summary or `kbanalysis run` first)")
    # each table is masked once, right after reading; every sheet is cut from the masked tables
    def read(name: str) -> pd.DataFrame:
        df = read_output(run_dir, name)
        return mask_frame(df, lang, exclude=_NO_SCAN) if mask else df

    raw_cards = _read_cards(rf)
    cards = raw_cards
    if mask and cards is not None:
        cards = mask_frame(cards, lang, exclude=_NO_SCAN)
    # the managers' own sheets (per manager, win-back) and the data fixes show contacts and values in full:
    # a manager must call the client and fix the card; ``mask_contacts`` masks them too
    contact_cards = raw_cards
    if mask_contacts and raw_cards is not None:
        contact_cards = mask_frame(raw_cards, lang, exclude=_NO_SCAN)
    clients = read("clients.csv")
    pii_last = ["phone", "email", "inn"]
    full = _with_cards(clients, cards)
    full = _order(full, ["client_id", "name", "channel", "region", "manager"], pii_last)
    full = full.sort_values(["revenue_12m", "client_id"], ascending=[False, True], na_position="last",
                            kind="mergesort").reset_index(drop=True)
    t = lambda key: i18n.t(f"sheet.{key}", lang)  # noqa: E731
    sheets: list[tuple[str, pd.DataFrame]] = [(t("clients"), full)]

    if (run_dir / "lost_clients.csv").exists():
        lost = read_output(run_dir, "lost_clients.csv")
        lost = lost.sort_values(["priority", "client_id"], na_position="last", kind="mergesort")
        lost = _with_cards(lost, contact_cards, ("name", "manager", "channel", "region", "phone", "email"))
        sheets.append((t("reactivation"), _order(lost, ["priority", "client_id", "name", "manager"])))

    g = full.copy()
    g["revenue_month"] = revenue_per_month(g).to_numpy()
    g["potential_month"] = _num(g, "upsell_month").fillna(0) + _num(g, "crosssell_month").fillna(0)
    # clients buying now, by the money their plans can win (the wallet's rest beside it as the ceiling);
    # closed cards are not worked, lost clients are on the win-back sheet
    buying = g["base"].astype("string").isin(["active", "sleeping"]).fillna(False).to_numpy(dtype=bool)
    rank = "achievable_month" if "achievable_month" in g.columns else "potential_month"
    g = g[buying & (_num(g, rank) > 0).to_numpy()].sort_values([rank, "client_id"], ascending=[False, True],
                                                               kind="mergesort")
    if growth_top:
        g = g.head(growth_top)
    gcols = ["client_id", "name", "manager", "channel", "base", "abcde", "loyalty", "revenue_month", "plan_month",
             "achievable_month", "wallet_month", "share_of_wallet", "upsell_month", "crosssell_month",
             "potential_month", "phone", "email"]
    sheets.append((t("growth"), g[[c for c in gcols if c in g.columns]]))

    if (run_dir / "duplicates.csv").exists():
        d = read("duplicates.csv")
        d = _with_cards(d, cards, ("name",))
        if cards is not None and "name" in cards.columns:
            d = _with_cards(d, cards.rename(columns={"name": "duplicate_of_name"}), ("duplicate_of_name",),
                            on="duplicate_of", after="duplicate_of")
        sheets.append((t("duplicates"), d))

    if (run_dir / "quality_issues.csv").exists():
        q = read_output(run_dir, "quality_issues.csv")  # the detail shows the value to fix, unmasked
        if mask_contacts:
            q = mask_frame(q, lang, exclude=_NO_SCAN)
        q = q.sort_values(["issue", "table", "row"], na_position="last", kind="mergesort")
        q = _with_cards(q, contact_cards, ("name", "manager"))
        sheets.append((t("quality"), _order(q, ["issue", "table", "row", "client_id", "name", "manager"])))

    if (run_dir / "forecast.csv").exists():
        f = read("forecast.csv")
        sheets.append((t("forecast"), f.sort_values(["month", "product_group"], kind="mergesort")))

    own = _order(_with_cards(clients, contact_cards), ["client_id", "name", "channel", "region", "manager"], pii_last)
    managers: list = []
    if "manager" in own.columns and own["manager"].notna().any():
        mcols = ["client_id", "name", "channel", "region", "base", "abcde", "revenue_12m", "wallet_month",
                 "share_of_wallet", "loyalty", "upsell_month", "crosssell_month", "plan_month", "key_account",
                 "phone", "email"]
        mcols = [c for c in mcols if c in own.columns]
        own = own.sort_values(["revenue_12m", "client_id"], ascending=[False, True], na_position="last",
                              kind="mergesort")
        rev = _num(own, "revenue_12m").fillna(0).groupby(own["manager"].astype("string")).sum()
        managers = rev.sort_values(ascending=False, kind="mergesort").index.tolist()
        if len(managers) > max_managers:
            log.warning("%d managers: sheets only for the %d largest by revenue", len(managers), max_managers)
        for m in managers[:max_managers]:
            sheets.append((str(m), own.loc[own["manager"] == m, mcols]))

    money_sheets = {t("clients"), t("reactivation"), t("growth")} | {str(m) for m in managers}
    return [_Sheet(title, translate_codes(df.reset_index(drop=True), lang, values=values), title in money_sheets)
            for title, df in sheets]


# ------------------------------------------------------------------------------------------ writing
def _width(name: str, head: str, s: pd.Series, kind: str) -> float:
    if kind in ("money", "float"):
        body = 14
    elif kind in ("int", "int0", "pct"):
        body = 9
    elif kind in ("date", "month"):
        body = 11
    else:
        sample = s.dropna().astype(str).head(2000)
        body = float(sample.str.len().quantile(0.9)) if len(sample) else 6
    head_len = max((len(w) for w in head.split()), default=6)  # the header wraps; its longest word must fit
    return float(min(max(body, head_len, min(len(head), 18), 6) + 2, 60))


def _cell_values(s: pd.Series, kind: str) -> list:
    """Python values of a column for openpyxl (None for empty)."""
    if kind in ("date", "month"):
        d = pd.to_datetime(s, errors="coerce")
        return [None if pd.isna(x) else x.to_pydatetime() for x in d]
    if kind in _NUMERIC_KINDS:
        v = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
        return [None if not math.isfinite(x) else float(x) for x in v]
    out = []
    for x in s.astype(object):
        if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
            out.append(None)
        else:
            x = re.sub(_ILLEGAL_XML, "", str(x))[:32767]
            out.append(x if x else None)
    return out


_ILLEGAL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"


#: text Excel would turn into a formula once a person edits the cell: stored with Excel's text marker (quotePrefix)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _looks_like_formula(v) -> bool:
    return isinstance(v, str) and v.startswith(_FORMULA_START)


def _xml_column(s: pd.Series, kind: str, letter: str, style_id: int, rn, quote_id: int = 0):
    """The ``<c>`` elements of one column as a pyarrow string array (``""`` for an empty cell); text that
    starts like a formula gets the style ``quote_id`` (Excel's quote prefix)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sid = f' s="{style_id}"' if style_id else ""
    if kind in _NUMERIC_KINDS:
        if kind in ("date", "month"):
            d = pd.to_datetime(s, errors="coerce")
            v = ((d - _EXCEL_EPOCH) / pd.Timedelta(days=1)).astype(float).to_numpy()
        else:
            v = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
        ok = pa.array(np.isfinite(v))
        text = pc.cast(pa.array(np.where(np.isfinite(v), v, 0.0)), pa.string())  # shortest round-trip form
        cells = pc.binary_join_element_wise(f'<c r="{letter}', rn, f'"{sid}><v>', text, "</v></c>", "")
        return pc.if_else(ok, cells, "")
    if s.dtype == object:
        s = s.map(lambda x: x if isinstance(x, str) or x is None or x is pd.NA or
                  (isinstance(x, float) and math.isnan(x)) else str(x))
    txt = pa.array(s, type=pa.string(), from_pandas=True)
    txt = pc.utf8_slice_codeunits(pc.replace_substring_regex(txt, _ILLEGAL_RE2, ""), 0, 32767)
    ok = pc.fill_null(pc.not_equal(txt, ""), False)
    txt = pc.fill_null(txt, "")
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        txt = pc.replace_substring(txt, a, b)
    padded = pc.not_equal(pc.utf8_trim_whitespace(txt), txt)
    tag = pc.if_else(padded, '<t xml:space="preserve">', "<t>")
    formula = pc.match_substring_regex(txt, r"^[=+\-@\t\r]")
    style = pc.if_else(formula, f' s="{quote_id}"' if quote_id else sid, sid)
    cells = pc.binary_join_element_wise(f'<c r="{letter}', rn, '"', style, ' t="inlineStr"><is>', tag, txt,
                                        "</t></is></c>", "")
    return pc.if_else(ok, cells, "")


def _rows_xml(df: pd.DataFrame, kinds: list[str], style_ids: list[int], start_row: int = 2, quote_id: int = 0):
    """The sheet's data rows as ``<row>`` XML, yielded in chunks of UTF-8 bytes."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from openpyxl.utils import get_column_letter

    chunk = 20_000
    letters = [get_column_letter(j + 1) for j in range(len(df.columns))]
    for lo in range(0, len(df), chunk):
        part = df.iloc[lo:lo + chunk]
        rn = pc.cast(pa.array(np.arange(start_row + lo, start_row + lo + len(part))), pa.string())
        cols = [_xml_column(part.iloc[:, j], kind, letters[j], sid, rn, quote_id)
                for j, (kind, sid) in enumerate(zip(kinds, style_ids))]
        rows = pc.binary_join_element_wise('<row r="', rn, '">', *cols, "</row>", "")
        yield "".join(rows.to_pylist()).encode("utf-8")


def _inject_rows(path: Path, rows_by_part: dict) -> None:
    """Stream the data rows into the saved workbook's sheet parts (after their header row)."""
    tmp = path.with_suffix(".tmp.xlsx")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            rows = rows_by_part.get(item.filename)
            if rows is None:
                dst.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
                continue
            if b"</sheetData>" in data:
                head, _, tail = data.partition(b"</sheetData>")
            else:
                head, _, tail = data.partition(b"<sheetData/>")
                head += b"<sheetData>"
            with dst.open(item.filename, "w", force_zip64=True) as out:
                out.write(head)
                for data_rows in rows:
                    out.write(data_rows)
                out.write(b"</sheetData>" + tail)
    shutil.move(tmp, path)


def _write(sheets: list[_Sheet], out: Path, lang: str, currency: str, engine: str) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    head_font = Font(bold=True, color="1F3B57")
    head_fill = PatternFill("solid", fgColor="DCE6F1")
    head_align = Alignment(wrap_text=True, vertical="center")
    head_border = Border(bottom=Side(style="thin", color="8EA9C1"))
    taken: set[str] = set()
    pending: list[tuple[object, str]] = []
    for sh in sheets:
        df = sh.df
        ws = wb.create_sheet(sheet_name(sh.title, taken))
        heads = [header(c, lang) for c in df.columns]
        kinds = [_kind(c, df[c]) for c in df.columns]
        for j, (c, h, k) in enumerate(zip(df.columns, heads, kinds), 1):
            ws.column_dimensions[get_column_letter(j)].width = _width(c, h, df[c], k)
        ws.freeze_panes = "A2"
        last = get_column_letter(max(len(df.columns), 1))
        ws.auto_filter.ref = f"A1:{last}{len(df) + 1}"
        _print_setup(ws)
        ws.row_dimensions[1].height = 45 if any(len(h) > 18 for h in heads) else 30
        row = []
        for h in heads:
            c = _text_cell(ws, h) if _looks_like_formula(h) else WriteOnlyCell(ws, value=h)
            c.font, c.fill, c.alignment, c.border = head_font, head_fill, head_align, head_border
            row.append(c)
        ws.append(row)
        templates = []
        for k in kinds:
            c = WriteOnlyCell(ws)
            fmt = number_format(k, lang, currency)
            if fmt:
                c.number_format = fmt
            templates.append(c)
        total = _totals_row(df, kinds, lang) if sh.totals and len(df) else None
        if engine == "fast":
            style_ids = [c.style_id if c.has_style else 0 for c in templates]
            pending.append((ws, (df, kinds, style_ids, 2, _text_cell(ws, "").style_id), total))
            continue
        columns = [_cell_values(df[c], k) for c, k in zip(df.columns, kinds)]
        for values in zip(*columns):
            cells = []
            for tpl, v in zip(templates, values):
                if v is None or not tpl.has_style:
                    cells.append(_text_cell(ws, v) if _looks_like_formula(v) else v)
                else:
                    tpl.value = v
                    cells.append(tpl)
            ws.append(cells)
        if total is not None:
            cells = []
            for tpl, v in zip(templates, total):
                c = WriteOnlyCell(ws, value=v)
                c.font = Font(bold=True)
                if tpl.has_style and isinstance(v, str) and v.startswith("="):
                    c.number_format = tpl.number_format
                cells.append(c)
            ws.append(cells)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    if pending:
        _inject_rows(out, {ws.path.lstrip("/"): _with_total(_rows_xml(*args), args, total)
                           for ws, args, total in pending})


def _print_setup(ws) -> None:
    """Landscape, fitted to the page width, the header row repeated on every printed page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


def _totals_row(df: pd.DataFrame, kinds: list[str], lang: str) -> list | None:
    """The totals row under a money sheet's data: the word "total" in the first text column and
    ``=SUBTOTAL(9, …)`` of each money column (the sum of the rows the autofilter shows); None without money.

    >>> _totals_row(pd.DataFrame({"client_id": ["a", "b"], "revenue_12m": [1.0, 2.0]}), ["text", "money"], "en")
    ['Total', '=SUBTOTAL(9,B2:B3)']
    """
    from openpyxl.utils import get_column_letter

    if "money" not in kinds:
        return None
    n = len(df) + 1
    row: list = [None] * len(kinds)
    first_text = next((j for j, k in enumerate(kinds) if k == "text"), 0)
    row[first_text] = i18n.t("excel.total", lang)
    for j, k in enumerate(kinds):
        if k == "money":
            col = get_column_letter(j + 1)
            row[j] = f"=SUBTOTAL(9,{col}2:{col}{n})"
    return row


def _with_total(rows, args, total):
    """The data rows' XML chunks, then the totals row (bold label, money formulas in the money style)."""
    yield from rows
    if total is None:
        return
    from openpyxl.utils import get_column_letter

    df, kinds, style_ids = args[:3]
    r = len(df) + 2
    cells = []
    for j, (v, sid) in enumerate(zip(total, style_ids)):
        ref = f"{get_column_letter(j + 1)}{r}"
        if isinstance(v, str) and v.startswith("="):
            st = f' s="{sid}"' if sid else ""
            cells.append(f'<c r="{ref}"{st}><f>{v[1:]}</f></c>')
        elif v is not None:
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>')
    yield f'<row r="{r}">{"".join(cells)}</row>'.encode("utf-8")


def _text_cell(ws, v: str):
    from openpyxl.cell import WriteOnlyCell

    c = WriteOnlyCell(ws, value=v)
    c.data_type = "s"  # text that starts with "=" is not a formula ...
    c.quotePrefix = True  # ... and stays text when a person edits the cell
    return c


def write_audit_xlsx(run_dir, out_path=None, lang: str = "ru", mask: bool = True, currency: str = "RUB",
                     max_managers: int = MAX_MANAGERS, growth_top: int | None = GROWTH_TOP,
                     engine: str = "fast", mask_contacts: bool = False, values: Mapping | None = None) -> Path:
    """Build ``audit.xlsx`` from a run folder's contract files.

    Parameters
    ----------
    run_dir : path
        The run folder (``clients.csv`` is required; the other outputs and ``work/clients.parquet``
        — or ``work/cards.parquet`` / ``work/clients_card.parquet`` — are used when present).
    out_path : path, optional
        Default ``run_dir/audit.xlsx``.
    lang : {"ru", "en"}
        Language of sheet names, headers and code labels.
    mask : bool
        Mask phones, e-mails and INNs (the ``mask_pii`` run parameter) on the sheets for the director
        (clients, up-sale, duplicates, forecast).
    mask_contacts : bool
        Mask them on the managers' own sheets too (one per manager, win-back) and in the data-quality
        sheet's details (the ``mask_contacts`` run parameter); by default a manager sees the phone to call
        and the value to fix.
    currency : str
        Currency of the case, for the money format.
    max_managers : int
        At most this many per-manager sheets (the largest managers by revenue).
    growth_top : int or None
        The up-sale / cross-sale sheet lists this many clients with the most potential
        (``None``: all with potential; every client's potential is on the client and manager sheets anyway).
    engine : {"fast", "openpyxl"}
        How data rows are serialised (see the module notes); the result is the same.
    values : dict, optional
        The case's labels of its codes (``mapping.yaml``'s ``labels``, ``{column: {code: label}}``): the
        sheets show the channels and groups by them.

    Returns
    -------
    Path
        The workbook.
    """
    if engine not in ("fast", "openpyxl"):
        raise ValueError(f"engine must be 'fast' or 'openpyxl', not {engine!r}")
    run_dir = Path(run_dir)
    out = Path(out_path) if out_path else run_dir / "audit.xlsx"
    t0 = time.perf_counter()
    sheets = _build_sheets(run_dir, lang, mask, max_managers, growth_top, mask_contacts, values)
    with tempfile.TemporaryDirectory(prefix="kb-xlsx-") as tmp:
        part = Path(tmp) / "audit.xlsx"
        _write(sheets, part, lang, currency, engine)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(part), out)
    log.info("%s: %d sheets, %d rows in %.1f s", out.name, len(sheets), sum(len(s.df) for s in sheets),
             time.perf_counter() - t0)
    return out
