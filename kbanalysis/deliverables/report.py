"""Deliverables for people: formatted tables, headers and code labels, HTML/PDF, summary findings.

Headers and labels live in ``locale/report.yaml`` (``col.<column>`` and ``lbl.<code>`` keys):

>>> header("share_of_wallet", "ru"), header("share_of_wallet", "en")
('Наша доля в закупках клиента', "Our share of the client's purchases")
>>> label("lost", "ru"), label("stock_short", "en"), label("something_new", "ru")
('потерянные', 'stock too short', 'something_new')
>>> people_table(pd.DataFrame({"revenue_12m": [1234567.0], "share_of_wallet": [0.1234], "base": ["active"]}),
...              styler=False).iloc[0].tolist()
['1 234 567 ₽', '12,3\xa0%', 'активные']
"""
from __future__ import annotations

import functools
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from kbanalysis.deliverables import i18n
from kbanalysis.io.runfolder import unguarded
from kbanalysis.sales.engine import revenue_per_month
from kbanalysis.schema import BASES, OUTPUTS

log = logging.getLogger(__name__)

__all__ = ["header", "label", "labels", "translate_codes", "people_table", "notebook_title", "render_html",
           "render_pdf", "read_output", "findings", "top_findings", "summary_figures", "headline", "wallet_evidence",
           "narrative", "summary_title",
           "MONEY_COLUMNS", "PCT_COLUMNS", "INT_COLUMNS", "DATE_COLUMNS", "MONTH_COLUMNS", "CODE_COLUMNS"]

# ------------------------------------------------------------------------------------------ column kinds
#: money columns (formatted ``1 234 567 ₽``)
MONEY_COLUMNS = ("revenue_12m", "margin_12m", "wallet_month", "wallet_low", "wallet_high", "upsell_month",
                 "crosssell_month", "plan_month", "avg_month_revenue", "pipeline", "pipeline_calibrated", "history",
                 "marketing", "reconciled", "reconciled_low", "reconciled_high", "history_total", "stock_available",
                 "stock_gap", "reported_turnover", "revenue_month",
                 "potential_month", "money_at_stake", "revenue", "margin", "amount", "cost", "on_hand", "incoming",
                 "total_purchases", "avg_project_cost", "at_stake_month", "avg_month_margin", "our_month",
                 "revenue_last_3m", "revenue_last_6m", "revenue_prev_6m", "usual_3m_revenue", "revenue_total",
                 "forecast_reconciled", "ceiling_month", "achievable_month", "expected", "expected_calibrated",
                 "deal_revenue", "recurring", "rmse", "w_survey", "w_manager", "w_drivers", "w_lookalike")
#: shares 0..1 (formatted ``12,3 %``)
PCT_COLUMNS = ("share_of_wallet", "completeness", "share", "share_of_revenue", "probability",
               "imported_machine_share", "revenue_share", "client_share", "margin_share", "cum_client_share",
               "cum_revenue_share", "cum_margin_share", "incomplete_share", "rate", "shrunk_rate", "win_rate",
               "mean_stated", "slip_rate", "coverage", "mape", "wape", "median_abs_pct_error", "wape_naive", "bias")
#: whole numbers (formatted ``12 345``)
INT_COLUMNS = ("active_months", "priority", "row", "count", "n_clients", "orders", "days_silent", "read", "used",
               "rejected", "suppliers", "quantity", "outlets", "own_clients", "end_objects", "installations",
               "machines", "employees", "clients", "cards", "n", "wins", "n_closed", "months_since",
               "lost_regular", "active_months_12m", "groups_12m")
DATE_COLUMNS = ("last_order_date", "first_order_date", "last_contact_date", "date", "created_date", "closed_date",
                "as_of")
MONTH_COLUMNS = ("month", "planned_month")
#: columns holding codes that :func:`label` translates
CODE_COLUMNS = ("list", "base", "loyalty", "key_account", "issue", "reason", "flag", "table", "wallet_source", "source",
                "history_kind", "group_source", "valued", "method")

_CODE_SPLIT = re.compile(r"[;,|\s]+")


# ------------------------------------------------------------------------------------------ texts
def header(name: str, lang: str = "ru") -> str:
    """Readable header of column ``name`` (``col.<name>`` in locale); unknown names stay as they are.

    >>> header("plan_month", "ru"), header("my_extra", "en")
    ('План продаж в мес.', 'my_extra')
    """
    key = f"col.{name}"
    text = i18n.t(key, lang)
    return str(name) if text == key else text


def notebook_title(name: str, lang: str = "ru") -> str:
    """Title of an executed notebook's HTML page (``title.<name>``).

    >>> notebook_title("05-summary", "en")
    'Client base audit: summary'
    """
    key = f"title.{name}"
    text = i18n.t(key, lang)
    return name if text == key else text


def label(code, lang: str = "ru") -> str:
    """Readable label of a code (base, loyalty, key account, quality issue, duplicate reason, forecast flag,
    input table, wallet source). Several codes in one value (``"stock_short;overstock"``) are each labelled.
    Unknown codes are returned as they are; missing values as ``""``.

    >>> label("potential"), label("invalid_inn", "en"), label("stock_short; no_deals", "ru"), label(None)
    ('потенциальные (ни разу не покупали)', 'invalid tax ID (INN)', 'не хватает запаса; нет сделок в воронке', '')
    """
    if code is None or code is pd.NA or (isinstance(code, float) and math.isnan(code)):
        return ""
    s = str(code).strip()
    key = f"lbl.{s}"
    text = i18n.t(key, lang)
    if text != key:
        return text
    parts = [p for p in _CODE_SPLIT.split(s) if p]
    if len(parts) > 1:
        texts = [i18n.t(f"lbl.{p}", lang) for p in parts]
        if all(t != f"lbl.{p}" for t, p in zip(texts, parts)):
            return "; ".join(texts)
    return s


def labels(values: pd.Series, lang: str = "ru") -> pd.Series:
    """:func:`label` over a column (once per distinct value); missing stays missing.

    >>> labels(pd.Series(["main", None, "secondary"]), "en").tolist()
    ['one of the main suppliers', nan, 'secondary supplier']
    """
    keep = values.notna()
    mapping = {v: label(v, lang) for v in pd.unique(values[keep])}
    out = values.astype(object).copy()
    out[keep] = values[keep].map(mapping)
    return out


#: code columns whose labels live under their own prefix (``audit.base_reason.silent``), not ``lbl.``
CODE_PREFIXES = {"base_reason": "audit.base_reason"}


def value_label(code, values: Mapping, lang: str = "ru") -> str:
    """The label ``values`` (``mapping.yaml``'s ``labels`` of one column) give ``code`` in ``lang``; the code
    itself when they give none.

    >>> value_label("dealer", {"dealer": {"ru": "Дилеры", "en": "Dealers"}}, "en"), value_label("x", {}, "ru")
    ('Dealers', 'x')
    """
    text = values.get(str(code))
    if isinstance(text, dict):
        text = text.get(lang) or next(iter(text.values()), None)
    return str(code) if not text else str(text)


def with_value_labels(df: pd.DataFrame, values: Mapping[str, Mapping] | None, lang: str = "ru") -> pd.DataFrame:
    """``df`` with the case's codes replaced by their labels (``values``: ``mapping.yaml``'s ``labels``,
    ``{column: {code: label}}``), for a chart or table; codes without a label and other columns stay.

    >>> with_value_labels(pd.DataFrame({"channel": ["dealer", "web"]}), {"channel": {"dealer": "Дилеры"}})["channel"].tolist()
    ['Дилеры', 'web']
    """
    out = df.copy()
    for c, codes in (values or {}).items():
        if c in out.columns and codes:
            keep = out[c].notna()
            out[c] = out[c].astype(object).where(~keep, out[c].map(lambda v: value_label(v, codes, lang))).astype("string")
    return out


def _prefixed_label(code, prefix: str, lang: str) -> str:
    key = f"{prefix}.{code}"
    text = i18n.t(key, lang)
    return label(code, lang) if text == key else text


def translate_codes(df: pd.DataFrame, lang: str = "ru", columns: Iterable[str] = CODE_COLUMNS,
                    values: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """A copy with the code columns labelled (and the forecast's ``ALL`` product group); ``values`` are the
    case's labels of data codes (``mapping.yaml``'s ``labels``: ``{column: {code: label}}``).

    >>> translate_codes(pd.DataFrame({"base": ["lost"], "product_group": ["ALL"]}), "en").iloc[0].tolist()
    ['lost', 'all groups']
    >>> translate_codes(pd.DataFrame({"channel": ["dealer"]}), "ru", values={"channel": {"dealer": "Дилеры"}})["channel"].tolist()
    ['Дилеры']
    """
    out = df.copy()
    for c in columns:
        if c in out.columns:
            out[c] = labels(out[c], lang).astype("string")
    for c, prefix in CODE_PREFIXES.items():
        if c in out.columns:
            keep = out[c].notna()
            mapping = {v: _prefixed_label(v, prefix, lang) for v in pd.unique(out.loc[keep, c])}
            out[c] = out[c].astype(object).where(~keep, out[c].map(mapping)).astype("string")
    out = with_value_labels(out, values, lang)
    if "product_group" in out.columns:
        pg = out["product_group"].astype("string")
        out["product_group"] = pg.mask(pg == "ALL", label("ALL", lang))
    return out


# ------------------------------------------------------------------------------------------ tables for people
def _fmt_float(x, lang: str, decimals: int = 2) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return "—"
    x = float(x)
    return i18n.fmt_int(x, lang) if x.is_integer() else i18n.fmt_num(x, lang, decimals)  # never «-0»


def _fmt_date(x, lang: str, month: bool = False) -> str:
    if x is None or x is pd.NA or pd.isna(x):
        return "—"
    return i18n.fmt_month(x, lang) if month else i18n.fmt_date(x, lang)


def _pick(given, default: Iterable[str], columns) -> list[str]:
    if given is None:
        return [c for c in columns if c in default]
    return [c for c in given if c in columns]


def people_table(df: pd.DataFrame, lang: str = "ru", currency: str = "RUB", money: Iterable[str] | None = None,
                 pct: Iterable[str] | None = None, ints: Iterable[str] | None = None,
                 dates: Iterable[str] | None = None, headers: Mapping[str, str] | None = None, codes: bool = True,
                 styler: bool = True, pct_decimals: int = 1, mask: bool = False,
                 values: Mapping[str, Mapping] | None = None):
    """A table formatted for people: money, percentages, thousands separators, labels, readable headers.

    Parameters
    ----------
    df : DataFrame
        Canonical column names.
    lang, currency : str
        Run language and currency.
    money, pct, ints, dates : list of str, optional
        Columns to format as money (``1 234 567 ₽``), shares 0..1 (``12,3 %``), whole numbers
        (``12 345``), dates. ``None`` = the known columns of that kind present in ``df``
        (:data:`MONEY_COLUMNS` …; datetime columns are dates anyway). Other numbers get separators
        and up to two decimals.
    headers : dict, optional
        ``{column: header}`` overriding :func:`header`.
    codes : bool
        Label the code columns (:data:`CODE_COLUMNS`).
    styler : bool
        Return a pandas ``Styler`` (no index, numbers right-aligned) for display; ``False`` returns
        the DataFrame of strings (also available as ``styler.data``).
    pct_decimals : int
        Decimals of percentages.
    mask : bool
        Mask phones, e-mails and INNs first (:func:`kbanalysis.deliverables.privacy.mask_frame`); pass the run's
        ``mask_pii`` parameter.
    values : dict, optional
        The case's labels of data codes, ``{column: {code: label}}`` (``mapping.yaml``'s ``labels``).

    Returns
    -------
    pandas.io.formats.style.Styler or DataFrame
        Every cell a string; missing numbers shown as ``—``.

    Examples
    --------
    >>> df = pd.DataFrame({"client_id": ["a"], "plan_month": [1234567.0], "priority": [3.0], "margin": [np.nan]})
    >>> people_table(df, "ru", styler=False).to_dict("records")
    [{'Код клиента': 'a', 'План продаж в мес.': '1 234 567 ₽', 'Приоритет звонка': '3', 'Маржа': '—'}]
    >>> people_table(df, "en", styler=False).iloc[0].tolist()
    ['a', 'RUB 1,234,567', '3', '—']
    """
    if mask:
        from kbanalysis.deliverables.privacy import mask_frame

        df = mask_frame(df, lang)
    cols = list(df.columns)
    money = _pick(money, MONEY_COLUMNS, cols)
    pct = _pick(pct, PCT_COLUMNS, cols)
    ints = _pick(ints, INT_COLUMNS, cols)
    dates = _pick(dates, DATE_COLUMNS + MONTH_COLUMNS, cols)
    dates += [c for c in cols if pd.api.types.is_datetime64_any_dtype(df[c]) and c not in dates]
    src = translate_codes(df, lang, values=values) if codes else df
    out = pd.DataFrame(index=df.index)
    numeric_cols = []
    for c in cols:
        s = src[c]
        if c in money:
            v = [i18n.fmt_money(x, lang, currency) for x in pd.to_numeric(s, errors="coerce").astype(float)]
        elif c in pct:
            v = [i18n.fmt_pct(x, lang, pct_decimals) for x in pd.to_numeric(s, errors="coerce").astype(float)]
        elif c in ints:
            v = [i18n.fmt_int(x, lang) for x in pd.to_numeric(s, errors="coerce").astype(float)]
        elif c in dates:
            d = pd.to_datetime(s, errors="coerce")
            v = [_fmt_date(x, lang, month=c in MONTH_COLUMNS) for x in d]
        elif pd.api.types.is_bool_dtype(s):
            v = ["✓" if x else "" for x in s.fillna(False)]
        elif pd.api.types.is_numeric_dtype(s):
            v = [_fmt_float(x, lang) for x in s.astype(float)]
        else:
            v = ["" if (x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))) else str(x) for x in s]
        if c in money or c in pct or c in ints or (pd.api.types.is_numeric_dtype(s) and c not in dates):
            numeric_cols.append(c)
        out[c] = pd.Series(v, index=df.index, dtype=object)
    names = {c: (headers or {}).get(c) or header(c, lang) for c in cols}
    seen: dict[str, int] = {}
    for c in cols:  # headers must stay unique
        h = names[c]
        seen[h] = seen.get(h, 0) + 1
        if seen[h] > 1:
            names[c] = f"{h} ({c})"
    out = out.rename(columns=names)
    if not styler:
        return out
    st = out.style.format(escape="html").format_index(escape="html", axis=1).hide(axis="index").set_table_styles([{"selector": "th", "props": [("text-align", "left")]},
                                                        {"selector": "td", "props": [("text-align", "left")]}])
    right = [names[c] for c in numeric_cols]
    if right:  # one CSS rule per column, not per cell
        numeric = [{"selector": "td", "props": [("text-align", "right"), ("white-space", "nowrap")]}]
        st = st.set_table_styles({h: numeric for h in right}, overwrite=False)
    return st


# ------------------------------------------------------------------------------------------ HTML and PDF
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def md_escaped(value):
    """Text from the case made safe to quote in Markdown prose: HTML markup shown as text, Markdown
    punctuation escaped (so a name cannot open a link or a tag); other values are returned unchanged.

    >>> md_escaped('<img src=x onerror=alert(1)> [x](javascript:1) *A*')
    '&lt;img src=x onerror=alert(1)&gt; \\\\[x\\\\](javascript:1) \\\\*A\\\\*'
    >>> md_escaped(12.5)
    12.5
    """
    if not isinstance(value, str):
        return value
    import html

    return _MD_SPECIAL.sub(r"\\\1", html.escape(value, quote=False))


def markup_escaped(line: str) -> str:
    """A sentence of our own that quotes case text: its HTML markup shown as text, its Markdown kept.

    >>> markup_escaped("**Top:** <script>x</script> & co")
    '**Top:** &lt;script&gt;x&lt;/script&gt; &amp; co'
    """
    import html

    return html.escape(str(line), quote=False)


_CSS = """
body.jp-Notebook { max-width: 1180px; margin: 0 auto; padding: 24px 32px; }
.jp-RenderedHTMLCommon { font-size: 14px; line-height: 1.5; }
.jp-RenderedHTMLCommon h1, .jp-RenderedHTMLCommon h2 { color: #1f3b57; }
.jp-RenderedHTMLCommon table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
.jp-RenderedHTMLCommon th { background: #e8eef5; font-weight: 600; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { padding: 4px 10px; border-bottom: 1px solid #dfe5ec; }
.jp-RenderedHTMLCommon td { white-space: normal; max-width: 32em; overflow-wrap: break-word; }
.jp-RenderedHTMLCommon tbody tr:nth-child(even) { background: #f7f9fb; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
.jp-Cell { padding: 2px 0; }
@page { size: A4; margin: 12mm; }
@media print { body.jp-Notebook { max-width: none; padding: 0; } .jp-Cell { break-inside: avoid; } }
"""
_JUNK_REPR = re.compile(r"^\s*<(?:matplotlib|Figure|Axes|seaborn|Text|BarContainer|pandas\.io\.formats)[^>]*>\s*$"
                        r"|^\s*\[<matplotlib[^\]]*\]\s*$")
_REMOVE_TAGS = {"remove", "remove-cell", "remove_cell", "hide", "hide-cell"}


def _clean_outputs(outputs) -> list:
    kept = []
    for o in outputs:
        if o.get("output_type") == "stream" and o.get("name") == "stderr":
            continue
        if o.get("output_type") in ("display_data", "execute_result"):
            data = o.get("data", {})
            if set(data) <= {"text/plain"} and _JUNK_REPR.match(str(data.get("text/plain", ""))):
                continue  # "<Axes: ...>" and similar reprs of plotting calls
        kept.append(o)
    return kept


def render_html(executed_ipynb, out_html, title: str, lang: str | None = None) -> Path:
    """An executed notebook as a clean HTML page for people: no code, no prompts, no stderr.

    Parameters
    ----------
    executed_ipynb : path
        The notebook papermill executed.
    out_html : path
        Where to write the page.
    title : str
        The page's ``<title>``.
    lang : str, optional
        ``<html lang>``; default: the notebook's papermill ``lang`` parameter, else guessed from ``title``.

    Notes
    -----
    Cells tagged ``remove``/``remove-cell``/``hide`` are dropped, as are code cells without output
    (parameters …), stderr streams (warnings, progress bars) and bare reprs such as ``<Axes: …>``.
    Images are embedded and every script is removed (:func:`self_contained`), so the page is one
    self-contained file that runs no code.

    Returns
    -------
    Path
        ``out_html``.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed_ipynb), as_version=4)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & _REMOVE_TAGS:
            continue
        if cell.cell_type == "code":
            cell.outputs = [] if "remove-output" in tags else _clean_outputs(cell.get("outputs", []))
            if not cell.outputs:
                continue
        cells.append(cell)
    nb.cells = cells
    nb.metadata["title"] = title
    if lang is None:
        lang = nb.metadata.get("papermill", {}).get("parameters", {}).get("lang")
    if lang not in ("ru", "en"):
        lang = "ru" if re.search("[А-Яа-яЁё]", title or "") else "en"
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True, language_code=lang)
    quiet = exporter.log  # nbconvert warns about every chart without alt text: they get one below
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    finally:
        quiet.setLevel(level)
    body = body.replace('alt="No description has been provided for this image"',
                        'alt="{}"'.format("график" if lang == "ru" else "chart"))
    body = self_contained(body)
    body = body.replace("</head>", f'<style type="text/css">{_CSS}</style>\n</head>', 1)
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out


#: a report page runs no script and loads nothing from outside its own file
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.S | re.I)
_EXTERNAL = re.compile(r"<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>", re.I)


def self_contained(page: str) -> str:
    """An HTML page with every ``<script>`` and external ``<link>`` removed and a Content-Security-Policy
    (:data:`CSP`) that forbids scripts and outside resources: the report opens offline, and markup that
    reached it from the case cannot run.

    >>> p = self_contained('<html><head><script src="https://cdn/x.js"></script></head><body>a</body></html>')
    >>> "<script" in p, "Content-Security-Policy" in p
    (False, True)
    """
    page = _EXTERNAL.sub("", _SCRIPT.sub("", page))
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    if re.search(r"<head\b[^>]*>", page, re.I):
        return re.sub(r"(<head\b[^>]*>)", lambda m: m.group(1) + meta, page, count=1, flags=re.I)
    return meta + page


CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _run_quiet(cmd: list[str], timeout: float) -> bool:
    """Run a converter in its own process group; kill that group on timeout. True when it exited 0."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as e:
        log.info("PDF converter %s could not start: %s", cmd[0], e)
        return False
    try:
        return proc.wait(timeout=timeout) == 0
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        log.info("PDF converter %s timed out after %s s", cmd[0], timeout)
        return False


def pdf_converter() -> str | None:
    """The first PDF converter found on PATH (Chromium-like browser, then wkhtmltopdf), or None."""
    for exe in CHROMIUM + ("wkhtmltopdf",):
        if shutil.which(exe):
            return exe
    return None


def render_pdf(html_path, pdf_path=None, timeout: float = 180) -> Path | None:
    """The HTML page printed to PDF when a converter is installed; None (and no error) otherwise.

    Tries headless Chromium / Chrome (``--print-to-pdf``, throw-away profile), then ``wkhtmltopdf``.
    Never raises: a missing or failing converter must not fail the run.

    Returns
    -------
    Path or None
        The PDF (next to the HTML by default).
    """
    try:
        html = Path(html_path).resolve()
        if not html.is_file():
            log.warning("no PDF: %s does not exist", html)
            return None
        pdf = Path(pdf_path).resolve() if pdf_path else html.with_suffix(".pdf")
        if pdf.exists():
            pdf.unlink()
        for exe in CHROMIUM:
            path = shutil.which(exe)
            if not path:
                continue
            with tempfile.TemporaryDirectory(prefix="kb-chromium-") as profile:
                cmd = [path, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                       "--disable-background-networking", "--disable-component-update", "--disable-sync",
                       f"--user-data-dir={profile}", "--no-pdf-header-footer", "--print-to-pdf-no-header",
                       f"--print-to-pdf={pdf}", html.as_uri()]
                if _run_quiet(cmd, timeout) and pdf.exists() and pdf.stat().st_size > 0:
                    return pdf
        path = shutil.which("wkhtmltopdf")
        if path:
            cmd = [path, "--quiet", "--encoding", "utf-8", "--enable-local-file-access", str(html), str(pdf)]
            if _run_quiet(cmd, timeout) and pdf.exists() and pdf.stat().st_size > 0:
                return pdf
        log.info("no PDF converter (chromium or wkhtmltopdf) produced %s; HTML only", pdf.name)
    except Exception as e:  # noqa: BLE001 - a PDF is a bonus, never a failure
        log.warning("PDF rendering failed: %s", e)
    return None


# ------------------------------------------------------------------------------------------ run-folder outputs
_TEXT = ("client_id", "duplicate_of", "reason", "table", "issue", "detail", "product_group", "flag", "base",
         "abcde", "loyalty", "cluster", "key_account")
_DATES = ("last_order_date",)
_MONTHS = ("month",)


def read_output(run_dir, name: str) -> pd.DataFrame:
    """A contract output of a run folder (``clients.csv`` …) with the contract's columns and types.

    Robust for a report: a missing or empty file gives an empty table; missing columns are added
    empty. IDs stay text (leading zeros kept); dates and months are parsed.

    >>> import tempfile
    >>> read_output(tempfile.mkdtemp(), "lost_clients.csv").columns.tolist()
    ['client_id', 'last_order_date', 'active_months', 'avg_month_revenue', 'priority']
    """
    cols = OUTPUTS.get(name, ())
    p = Path(run_dir) / name
    df = pd.DataFrame()
    if p.exists() and p.stat().st_size > 0:
        try:
            df = unguarded(pd.read_csv(p, dtype={c: "string" for c in _TEXT}, keep_default_na=True, na_values=[""]))
        except pd.errors.EmptyDataError:
            df = pd.DataFrame()
    for c in cols:
        if c not in df.columns:
            df[c] = (pd.Series(pd.NA, index=df.index, dtype="string") if c in _TEXT
                     else pd.Series(np.nan, index=df.index, dtype="float64"))
    for c in df.columns:
        if c in _DATES or c in _MONTHS:
            df[c] = pd.to_datetime(df[c], errors="coerce")
        elif c not in _TEXT and df[c].dtype == object:
            num = pd.to_numeric(df[c], errors="coerce")
            if num.notna().sum() == df[c].notna().sum():
                df[c] = num
    order = list(cols) + [c for c in df.columns if c not in cols]
    return df[order]


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[col], errors="coerce").astype(float)


def _revenue_month_of(clients: pd.DataFrame, ids: Iterable) -> float:
    ids = pd.Series(list(ids), dtype="string").dropna().unique()
    if not len(ids) or clients.empty:
        return float("nan")
    rev = revenue_per_month(clients)[clients["client_id"].isin(ids)]
    return float(rev.sum(min_count=1)) if rev.notna().any() else float("nan")


def findings(run_dir, lang: str = "ru", currency: str = "RUB") -> pd.DataFrame:
    """Every headline finding of a run, with the money at stake (for the executive summary).

    Built from the run folder's contract files; a missing file or column only drops the findings
    that need it. Money is **per month** (revenue at risk or potential), except the stock gap,
    which is the total over the forecast horizon (the largest cumulative gap of each product group).

    Returns
    -------
    DataFrame
        ``code`` (``lost``, ``sleeping``, ``growth``, ``key_account``, ``potential``,
        ``duplicates``, ``quality``, ``stock_gap``), ``finding`` (a sentence in ``lang``), ``n``
        (how many clients / rows), ``money_at_stake`` (achievable money: the plans' uplift of the
        clients buying now, the plans of prospects; never the whole wallet), ``ceiling_month`` (the
        wallet left to win, 100 % capture; only for ``growth`` and ``potential``); sorted by money at
        stake, largest first. Closed cards carry no potential.
    """
    def money(x) -> str:
        return i18n.fmt_money(x, lang, currency)

    rows = []

    def add(code: str, n, amount, ceiling=None, text_key=None, **kw):
        amount = float(amount) if amount is not None and not pd.isna(amount) else float("nan")
        ceiling = float(ceiling) if ceiling is not None and not pd.isna(ceiling) else float("nan")
        text = i18n.t(f"finding.{text_key or code}", lang, n=i18n.fmt_int(n, lang), money=money(amount),
                      ceiling=money(ceiling), **kw)
        rows.append({"code": code, "finding": text, "n": int(n), "money_at_stake": amount, "ceiling_month": ceiling})

    cards = read_output(run_dir, "clients.csv")
    # a merged duplicate card repeats its master's codes: count clients on master cards only
    clients = cards[cards["merged_into"].isna()] if "merged_into" in cards.columns else cards
    base = clients["base"].astype("string")
    rev_m = revenue_per_month(clients)
    bought = rev_m.fillna(0.0).clip(lower=0.0)  # current sales as summary.json counts them (net returns: 0)
    steps = []

    win_back = functools.cache(lambda: read_output(run_dir, "lost_clients.csv"))  # read once for both steps

    def lost():
        lc = win_back()
        if len(lc):  # the list holds lost clients and ones silent past the rule's threshold (sleeping in the base)
            money_lc = _num(lc, "avg_month_revenue")
            silent = (lc["client_id"].astype("string").map(dict(zip(clients["client_id"].astype("string"), base)))
                      != "lost").fillna(True).to_numpy(dtype=bool)
            text_key = "lost" if not silent.any() else "lost_split" if (~silent).any() else "lost_silent"
            add("lost", len(lc), money_lc.sum(min_count=1), text_key=text_key,
                n_lost=i18n.fmt_int(int((~silent).sum()), lang), n_silent=i18n.fmt_int(int(silent.sum()), lang),
                money_lost=money(money_lc[~silent].sum()), money_silent=money(money_lc[silent].sum()))

    def sleeping():
        # a sleeping client on the win-back list is counted there (its money once, in the lost finding)
        listed = win_back()["client_id"]
        asleep = (base == "sleeping").fillna(False).astype(bool)
        m = asleep & ~clients["client_id"].astype("string").isin(listed.astype("string")).fillna(False).astype(bool)
        if m.any():
            n_listed = int(asleep.sum() - m.sum())
            add("sleeping", int(m.sum()), rev_m[m].sum(min_count=1), text_key="sleeping_rest" if n_listed else None,
                n_listed=i18n.fmt_int(n_listed, lang))

    def growth():
        # the plans' uplift of the clients buying now; the rest of their wallets is the ceiling beside it
        gain = _num(clients, "achievable_month")
        m = base.isin(["active", "sleeping"]).fillna(False).to_numpy(dtype=bool) & gain.notna().to_numpy()
        if m.any() and gain[m].sum() > 0:  # the same clients as summary.json's achievable and ceiling totals
            room = _num(clients, "upsell_month").fillna(0) + _num(clients, "crosssell_month").fillna(0)
            cur = bought[m].sum()
            add("growth", int(m.sum()), gain[m].sum(), room[m].sum(),
                pct=i18n.fmt_pct(gain[m].sum() / cur if cur > 0 else float("nan"), lang))

    def key_accounts():
        m = clients["key_account"].isin(["key", "critical", "mono"]).fillna(False).astype(bool)
        if m.any():
            total = rev_m.sum(min_count=1)
            share = rev_m[m].sum() / total if total and not pd.isna(total) else float("nan")
            add("key_account", int(m.sum()), rev_m[m].sum(min_count=1), pct=i18n.fmt_pct(share, lang))

    def potential():
        m = (base == "potential").fillna(False).astype(bool) & (_num(clients, "plan_month") > 0)
        if m.any():
            add("potential", int(m.sum()), _num(clients, "plan_month")[m].sum(min_count=1),
                _num(clients, "wallet_month")[m].sum(min_count=1))

    def duplicates():
        d = read_output(run_dir, "duplicates.csv")
        if len(d):
            ids = pd.concat([d["client_id"], d["duplicate_of"]])
            add("duplicates", len(d), _revenue_month_of(clients, ids))

    def quality():
        q = read_output(run_dir, "quality_issues.csv")
        if len(q) and q["client_id"].notna().any():  # whole-table findings alone put no client's money at stake
            ids = q["client_id"].dropna()
            add("quality", len(q), _revenue_month_of(clients, ids), k=i18n.fmt_int(ids.nunique(), lang))

    def stock_gap():
        f = read_output(run_dir, "forecast.csv")
        if not len(f):
            return
        groups = f[f["product_group"].astype("string") != "ALL"]
        f = groups if len(groups) else f
        # stock_gap is cumulative over the horizon: a group's gap is its largest (last) value
        gap = _num(f, "stock_gap").clip(lower=0).groupby(f["product_group"].astype("string").fillna("")).max()
        if gap.sum() > 0:
            add("stock_gap", int((gap > 0).sum()), gap.sum())

    steps = [lost, sleeping, growth, key_accounts, potential, duplicates, quality, stock_gap]
    for step in steps:
        try:
            step()
        except (KeyError, ValueError, TypeError) as e:  # a malformed file drops its finding, not the summary
            log.warning("finding skipped: %s", e)
    out = pd.DataFrame(rows, columns=["code", "finding", "n", "money_at_stake", "ceiling_month"])
    return out.sort_values("money_at_stake", ascending=False, na_position="last", kind="mergesort") \
        .reset_index(drop=True)


#: findings whose money can be won or lost; duplicates and data quality only touch revenue (the narrative
#: counts them) and never head the executive summary's findings
MONEY_FINDINGS = ("lost", "sleeping", "growth", "key_account", "potential", "stock_gap")


def top_findings(run_dir, lang: str = "ru", n: int = 5, currency: str = "RUB") -> pd.DataFrame:
    """The ``n`` money findings (:data:`MONEY_FINDINGS`) with the most money at stake: ``finding, money_at_stake``
    and, when any
    finding has one, ``ceiling_month`` (the wallet left to win, shown beside as a ceiling).

    See :func:`findings` for what is covered. Display with
    ``people_table(top, lang, currency, money=["money_at_stake", "ceiling_month"])``.

    Examples
    --------
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / "clients.csv").write_text(
    ...     "client_id,base,revenue_12m,upsell_month,achievable_month,key_account\\n"
    ...     "a,active,1200000,900000,50000,critical\\nb,sleeping,240000,0,0,none\\n")
    >>> top = top_findings(run, "en", n=2)
    >>> top["money_at_stake"].tolist(), top["ceiling_month"].tolist()
    ([100000.0, 50000.0], [nan, 900000.0])
    >>> top_findings(tempfile.mkdtemp(), "ru").empty  # an empty run folder
    True
    """
    f = findings(run_dir, lang, currency)
    top = f[f["code"].isin(MONEY_FINDINGS)].head(n)
    cols = ["finding", "money_at_stake"] + (["ceiling_month"] if top["ceiling_month"].notna().any() else [])
    return top[cols].reset_index(drop=True)


# ------------------------------------------------------------------------------------------ headline figures
_TOTALS = ("revenue_12m", "margin_12m", "wallet_month", "upsell_month", "crosssell_month", "plan_month")


def summary_figures(clients: pd.DataFrame) -> dict:
    """Headline figures of ``clients.csv`` in the shape :func:`headline` reads (JSON-ready).

    >>> c = pd.DataFrame({"client_id": ["a", "b"], "base": ["active", "lost"], "revenue_12m": [120.0, 24.0],
    ...                   "loyalty": ["main", None]})
    >>> s = summary_figures(c)
    >>> s["clients"], s["clients_per_base"], s["totals"]["revenue_12m"]
    (2, {'active': 1, 'sleeping': 0, 'lost': 1, 'potential': 0, 'closed': 0}, 144.0)
    """
    out: dict = {"clients": int(len(clients))}
    if "merged_into" in clients.columns:  # merged duplicate cards repeat their master's codes
        clients = clients[clients["merged_into"].isna()]
        out["after_merging_duplicates"] = int(len(clients))

    def counts(col, order):
        if col not in clients.columns:
            return {}
        vc = clients[col].astype("string").value_counts()
        return {k: int(vc.get(k, 0)) for k in order} | {str(k): int(v) for k, v in vc.items() if k not in order}

    from kbanalysis.schema import ABCDE, KEY_ACCOUNT, LOYALTY

    out["clients_per_base"] = counts("base", BASES)
    out["clients_per_abcde"] = counts("abcde", ABCDE)
    out["clients_per_loyalty"] = counts("loyalty", LOYALTY)
    out["clients_per_key_account"] = counts("key_account", KEY_ACCOUNT)
    out["totals"] = {c: float(_num(clients, c).sum()) for c in _TOTALS if c in clients.columns}
    rev, wallet = revenue_per_month(clients), _num(clients, "wallet_month")
    both = rev.notna() & wallet.notna() & (wallet > 0)
    if both.any():
        out["totals"]["share_of_wallet"] = float(rev[both].sum() / wallet[both].sum())
    return out


def _dicts(obj, path=()):
    """Every nested dict of ``obj`` with its path."""
    if isinstance(obj, Mapping):
        yield path, obj
        for k, v in obj.items():
            yield from _dicts(v, path + (str(k),))


def _leaf(summary: Mapping, names: Iterable[str]):
    for name in names:
        for _, d in _dicts(summary):
            v = d.get(name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and
                                                                                 math.isnan(v)):
                return v
    return None


def headline(summary: Mapping, lang: str = "ru", currency: str | None = None) -> pd.DataFrame:
    """Headline figures for the executive summary as a two-column table of strings.

    Reads ``summary.json`` as the run wrote it (or :func:`summary_figures`): client counts per base,
    revenue / margin, wallet, our share, up-sell and cross-sell potential, plans, key accounts, and
    the input rows read / used / rejected. Figures the summary lacks are left out.

    Returns
    -------
    DataFrame
        ``indicator``, ``value`` (formatted in ``lang``), headers translated.

    Examples
    --------
    >>> s = {"clients_per_base": {"active": 120, "lost": 30}, "totals": {"revenue_12m": 1234567.0},
    ...      "rows": {"sales": {"read": 10, "used": 9, "rejected": 1}}}
    >>> headline(s, "ru").values.tolist()
    [['Карточек клиентов всего', '150'], ['Активная клиентская база (АКБ)', '120'], ['Потерянные клиенты', '30'], \
['Выручка за 12 месяцев', '1 234 567 ₽'], ['Строк данных: прочитано / использовано / отклонено', '10 / 9 / 1']]
    """
    currency = currency or _find_currency(summary) or "RUB"
    rows: list[tuple[str, str]] = []
    bases = next((d for _, d in _dicts(summary) if len(d) >= 2 and set(d) <= set(BASES)), None)
    total = _leaf(summary, ("cards", "clients", "n_clients", "clients_total"))
    if total is None and bases:
        total = sum(v for v in bases.values() if isinstance(v, (int, float)))
    if total is not None:
        rows.append((i18n.t("headline.clients_total", lang), i18n.fmt_int(total, lang)))
    merged = _leaf(summary, ("after_merging_duplicates",))
    if merged is not None and merged != total:
        rows.append((i18n.t("headline.after_merging", lang), i18n.fmt_int(merged, lang)))
    if bases:
        for b in BASES:
            if bases.get(b):
                rows.append((i18n.t(f"headline.base.{b}", lang), i18n.fmt_int(bases[b], lang)))
    keys = next((d for _, d in _dicts(summary) if len(d) >= 2 and set(d) <= {"none", "key", "critical", "mono"}),
                None)
    if keys:
        n_key = sum(int(keys.get(k) or 0) for k in ("key", "critical", "mono"))
        if n_key:
            rows.append((i18n.t("headline.key_accounts", lang), i18n.fmt_int(n_key, lang)))
    firm = wallet_evidence(summary) != "lookalike"
    current = _leaf(summary, ("current_month",))
    has_gain = _leaf(summary, ("achievable_month",)) is not None
    for name, aliases in (("revenue_12m", ("revenue_12m", "revenue")), ("margin_12m", ("margin_12m", "margin")),
                          ("current_month", ("current_month",)),
                          ("achievable_month", ("achievable_month",)),
                          ("ceiling_month", ("ceiling_month",)),
                          ("reactivation_month", ("reactivation_month",)),
                          ("acquisition_month", ("acquisition_month",)),
                          ("plan_month", ("plan_month", "plan")),
                          ("wallet_month", ("wallet_month", "wallet")),
                          ("share_of_wallet", ("share_of_wallet",)),
                          ("upsell_month", ("upsell_month", "upsell")),
                          ("crosssell_month", ("crosssell_month", "crosssell"))):
        if has_gain and name in ("upsell_month", "crosssell_month"):
            continue  # their sum is the ceiling, shown beside the achievable increment
        v = _leaf(summary, aliases)
        if v is None and name == "share_of_wallet":
            rev, wallet = _leaf(summary, ("revenue_12m",)), _leaf(summary, ("wallet_month",))
            v = rev / 12 / wallet if rev is not None and wallet else None
        if v is None or (v == 0 and name in ("reactivation_month", "acquisition_month")):
            continue
        key = f"headline.{name}" + ("_bound" if name == "share_of_wallet" and not firm else "")
        text = i18n.fmt_pct(v, lang) if name == "share_of_wallet" else i18n.fmt_money(v, lang, currency)
        if name == "achievable_month" and current:
            text += f" (+{i18n.fmt_pct(v / current, lang)})"
        rows.append((i18n.t(key, lang), text))
    for name, aliases, kind in (("forecast_reconciled", ("forecast_reconciled",), "money"),
                                ("stock_gap", ("stock_gap",), "money"),
                                ("lost_regular", ("lost_regular",), "int"),
                                ("duplicates", ("duplicates",), "int"),
                                ("quality_findings", ("findings", "quality_findings"), "int")):
        v = _leaf(summary, aliases)
        if v is None:
            continue
        text = i18n.fmt_money(v, lang, currency) if kind == "money" else i18n.fmt_int(v, lang)
        rows.append((i18n.t(f"headline.{name}", lang), text))
    counts = [d for _, d in _dicts(summary) if {"read", "used", "rejected"} <= set(d)]
    if counts:
        tot = [sum(float(d.get(k) or 0) for d in counts) for k in ("read", "used", "rejected")]
        rows.append((i18n.t("headline.rows", lang), " / ".join(i18n.fmt_int(x, lang) for x in tot)))
    out = pd.DataFrame(rows, columns=["indicator", "value"])
    return out.rename(columns={c: header(c, lang) for c in out.columns})


def summary_title(company: str, as_of, lang: str = "ru"):
    """The executive summary's heading: the company's name (parameter ``company``; none when empty) and the
    analysis date, as Markdown for the notebook.

    >>> summary_title("ООО «Ромашка»", "2026-10-01", "ru").data.splitlines()[0]
    '# ООО «Ромашка»: итоги аудита клиентской базы'
    >>> summary_title("", "2026-10-01", "en").data
    '# Client base audit: summary\\n\\nAnalysis date: 2026-10-01.'
    """
    from IPython.display import Markdown

    key = "summary.heading.company" if str(company or "").strip() else "summary.heading.plain"
    return Markdown(i18n.t(key, lang, company=md_escaped(str(company or "").strip()),
                           date=i18n.fmt_date(as_of, lang)))


def narrative(summary: Mapping, lang: str = "ru", currency: str | None = None) -> list[str]:
    """The executive summary's short story as sentences, every figure taken from ``summary.json``.

    The client base and its current sales; the achievable increment of the plans with the ceiling beside
    it; lost clients' reactivation and prospects apart; when the wallets rest on look-alikes alone, one
    sentence saying that shares are upper bounds and what data would make them firm; the forecast,
    the stock gap and data quality. Sentences whose figures the summary lacks are left out.

    >>> s = {"as_of": "2026-10-01", "clients": {"by_base": {"active": 3, "sleeping": 1, "lost": 2}},
    ...      "totals": {"current_month": 1000.0, "achievable_month": 250.0, "ceiling_month": 5000.0,
    ...                 "reactivation_month": 300.0},
    ...      "params": {"plan_step_indifferent": 0.03, "plan_step_secondary": 2.0, "loyalty_high": 0.1}}
    >>> lines = narrative(s, "en")
    >>> lines[0]
    'As of 2026-10-01, 4 of 6 clients buy (active 3, sleeping 1); their current sales are RUB 1,000 a month.'
    >>> "**RUB 250 a month (+25.0%)**" in lines[1], lines[2]
    (True, 'Apart from that, winning back the 2 lost clients to their former level is worth RUB 300 a month.')
    """
    currency = currency or _find_currency(summary) or "RUB"
    tot = summary.get("totals") or {}
    by = (summary.get("clients") or {}).get("by_base") or {}
    par = summary.get("params") or {}

    def money(x):
        return i18n.fmt_money(x, lang, currency)

    def num(name):
        v = tot.get(name)
        return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None

    lines = []
    cur, gain, ceil = num("current_month"), num("achievable_month"), num("ceiling_month")
    if cur is not None and by:
        act, sl = int(by.get("active") or 0), int(by.get("sleeping") or 0)
        lines.append(i18n.t("summary.say.base", lang, date=i18n.fmt_date(summary.get("as_of"), lang),
                            buying=i18n.fmt_int(act + sl, lang), total=i18n.fmt_int(sum(by.values()), lang),
                            active=i18n.fmt_int(act, lang), sleeping=i18n.fmt_int(sl, lang), current=money(cur)))
    if gain is not None:
        lines.append(i18n.t("summary.say.growth", lang, achievable=money(gain), ceiling=money(ceil),
                            pct=i18n.fmt_pct(gain / cur, lang) if cur else "—",
                            step_indifferent=i18n.fmt_pct(par.get("plan_step_indifferent"), lang, 0),
                            step_secondary=i18n.fmt_int(par.get("plan_step_secondary"), lang)
                            if float(par.get("plan_step_secondary") or 0).is_integer()
                            else str(par.get("plan_step_secondary")),
                            loyalty_high=i18n.fmt_pct(par.get("loyalty_high"), lang, 0)))
    if num("reactivation_month") and by.get("lost"):
        lines.append(i18n.t("summary.say.reactivation", lang, n=i18n.fmt_int(by["lost"], lang),
                            money=money(num("reactivation_month"))))
    if num("acquisition_month") and by.get("potential"):
        lines.append(i18n.t("summary.say.acquisition", lang, n=i18n.fmt_int(by["potential"], lang),
                            money=money(num("acquisition_month"))))
    if wallet_evidence(summary) == "lookalike":
        rev, wallet, sow = num("revenue_12m"), num("wallet_month"), num("share_of_wallet")
        sow = sow if sow is not None else (rev / 12 / wallet if rev is not None and wallet else None)
        lines.append(i18n.t("summary.say.evidence", lang, share=i18n.fmt_pct(sow, lang) if sow is not None else "—"))
    if num("forecast_reconciled"):
        lines.append(i18n.t("summary.say.forecast", lang, horizon=i18n.fmt_int(par.get("horizon"), lang),
                            forecast=money(num("forecast_reconciled"))))
    if num("stock_gap"):
        lines.append(i18n.t("summary.say.stock", lang, gap=money(num("stock_gap"))))
    q = summary.get("quality") or {}
    if "findings" in q:
        lines.append(i18n.t("summary.say.quality", lang, findings=i18n.fmt_int(q["findings"], lang),
                            duplicates=i18n.fmt_int(summary.get("duplicates") or 0, lang)))
    return lines


def wallet_evidence(summary: Mapping) -> str:
    """How firm the wallets of a run are: ``lookalike`` when every estimate rests on look-alike clients alone
    (:data:`kbanalysis.schema.LOOKALIKE_SOURCES`: look-alikes, and their extrapolation above the biggest clients;
    no drivers, survey or managers' estimates), ``firm`` when some rest on evidence of their own, ``unknown``.

    >>> wallet_evidence({"wallet_sources": {"lookalike": 30, "extrapolated": 4}}), wallet_evidence(
    ...     {"wallet_sources": {"survey": 2, "lookalike": 30}}), wallet_evidence({})
    ('lookalike', 'firm', 'unknown')
    """
    from kbanalysis.schema import wallet_evidence_of

    return wallet_evidence_of(summary.get("wallet_sources") if isinstance(summary, Mapping) else None)


def _find_currency(summary: Mapping) -> str | None:
    for _, d in _dicts(summary):
        v = d.get("currency")
        if isinstance(v, str) and v:
            return v
    return None
