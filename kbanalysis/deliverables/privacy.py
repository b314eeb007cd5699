"""Masking of personal data (phones, e-mails, INNs) in the deliverables.

The HTML reports and the Excel workbook go to people outside the data team, so when the run
parameter ``mask_pii`` is on (the default) every phone, e-mail and INN is shown masked:

>>> mask_phone("8 (912) 345-67-89")
'+7 (912) ***-**-89'
>>> mask_email("ivan.petrov@mail.ru")
'i***@mail.ru'
>>> mask_inn("7707083893")
'77******93'
>>> mask_text("звонить 8-912-345-67-89 или писать ivan@mail.ru")
'звонить +7 (912) ***-**-89 или писать i***@mail.ru'

:func:`mask_frame` masks a whole table: the columns recognised as phone / e-mail / INN by their
names (canonical names, the Russian export headers, the report headers) and, in every other text
column, whatever looks like a phone, an e-mail or an INN after the word ИНН. Key columns
(``client_id``, ``duplicate_of`` …) are left alone so that people can still find the cards.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import phonenumbers

from kbanalysis.deliverables import i18n
from kbanalysis.schema import TABLES, canonical_header

__all__ = ["mask_phone", "mask_email", "mask_inn", "mask_digits", "mask_text", "mask_series_text",
           "pii_columns", "mask_frame", "KEY_COLUMNS"]

#: Columns never scanned for PII in :func:`mask_frame`: the keys people search the CRM by.
KEY_COLUMNS = ("client_id", "duplicate_of", "merged_into", "deal_id", "doc_id", "sku", "_row", "row")

#: quality issue codes whose ``detail`` quotes the raw phone / INN of a card
PII_ISSUES = ("invalid_phone", "invalid_inn")

_SEP = r"[\s\-.()]*"
#: a Russian phone in free text: an optional +7 / 8 / 7 and ten digits with any separators
PHONE_RE = re.compile(r"(?<!\d)(?:(?:\+\s*7|8|7)[\s\-.]*)?\(?(?:\d" + _SEP + r"){9}\d(?!\d)")
#: an e-mail address (the local part as RFC 5322 allows without quotes)
EMAIL_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
#: an INN written after its name
INN_KW_RE = re.compile(r"((?:ИНН|INN)\s*[:№#]?\s*)(\d{12}|\d{10})(?!\d)", re.IGNORECASE)
#: a bare 12-digit number (an individual's INN; ten digits are caught as phones)
INN12_RE = re.compile(r"(?<!\d)\d{12}(?!\d)")
_QUOTED_RE = re.compile(r"«[^»]*»|'[^']*'|\"[^\"]*\"")
_DIGIT_RE = re.compile(r"\d")

_PHONE_WORDS = {"phone", "phones", "telephone", "tel", "mobile", "cell", "телефон", "телефоны", "тел", "моб",
                "мобильный", "сотовый"}
_EMAIL_WORDS = {"email", "emails", "mail", "почта", "емейл", "емэйл", "имейл"}
_INN_WORDS = {"inn", "инн"}


def _missing(x) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    return isinstance(x, float) and math.isnan(x)


def _as_text(x) -> str:
    """A cell as text; whole floats (a phone or INN read as a number) without ``.0``."""
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return str(x)


def mask_digits(text, keep: int = 2):
    """Every digit but the last ``keep`` replaced by ``*`` (other characters kept).

    >>> mask_digits("12-34-56")
    '**-**-56'
    >>> mask_digits("доб. 7")
    'доб. 7'
    """
    if _missing(text):
        return text
    s = _as_text(text)
    pos = [i for i, ch in enumerate(s) if ch.isdigit()]
    hide = set(pos[: max(len(pos) - keep, 0)])
    return "".join("*" if i in hide else ch for i, ch in enumerate(s))


#: the usual Russian forms (+7 / 8 / 7 / nothing, then a 10-digit number with separators): no parsing needed
_RU_PLAIN = re.compile(r"\s*(?:\+\s*7|8|7)?[\s\-.()]*[3-9](?:[\s\-.()]*\d){9}\s*")


def _mask_one_phone(s: str) -> str | None:
    """The masked form when the whole of ``s`` is one phone number, else None."""
    if _RU_PLAIN.fullmatch(s):  # fast path, same result as phonenumbers for these forms
        nsn = re.sub(r"\D", "", s)[-10:]
        return f"+7 ({nsn[:3]}) ***-**-{nsn[-2:]}"
    try:
        p = phonenumbers.parse(s, "RU")
    except phonenumbers.NumberParseException:
        return None
    nsn = phonenumbers.national_significant_number(p)
    digits = re.sub(r"\D", "", s)
    if p.extension and digits.endswith(p.extension):
        digits = digits[: -len(p.extension)]
    # the parsed number must account for (almost) every digit: else the cell holds several numbers
    if len(nsn) < 3 or not digits.endswith(nsn) or len(digits) - len(nsn) > 4:
        return None
    if p.country_code == 7 and len(nsn) == 10:
        return f"+7 ({nsn[:3]}) ***-**-{nsn[-2:]}"
    if p.country_code != 7 and phonenumbers.is_possible_number(p):
        return f"+{p.country_code} " + "*" * (len(nsn) - 2) + nsn[-2:]
    return None


def _phone_sub(m: re.Match) -> str:
    return _mask_one_phone(m.group()) or mask_digits(m.group())


def mask_phone(text):
    """A phone as people typed it, masked: ``+7 (912) ***-**-89``.

    Any Russian format is recognised (parsed by phonenumbers, region RU); the area code and the
    last two digits stay visible. A cell with several numbers has each masked; anything that is
    not a phone has all its digits but the last two masked. Missing values are returned as they are.

    Examples
    --------
    >>> [mask_phone(x) for x in ["+79123456789", "8 912 345 67 89", "9123456789", "(495) 123-45-67 доб. 12"]]
    ['+7 (912) ***-**-89', '+7 (912) ***-**-89', '+7 (912) ***-**-89', '+7 (495) ***-**-67']
    >>> mask_phone("8 912 345-67-89, 8 (495) 123-45-67")
    '+7 (912) ***-**-89, +7 (495) ***-**-67'
    >>> mask_phone("12-34-56"), mask_phone(None)
    ('**-**-56', None)
    """
    if _missing(text):
        return text
    s = _as_text(text).strip()
    if not _DIGIT_RE.search(s):
        return s
    one = _mask_one_phone(s)
    if one is not None:
        return one
    pieces, last, found = [], 0, False
    for m in PHONE_RE.finditer(s):
        found = True
        pieces.append(mask_digits(s[last:m.start()], keep=0) if _DIGIT_RE.search(s[last:m.start()]) else
                      s[last:m.start()])
        pieces.append(_phone_sub(m))
        last = m.end()
    if not found:
        return mask_digits(s)
    tail = s[last:]
    pieces.append(mask_digits(tail, keep=0) if _DIGIT_RE.search(tail) else tail)
    return "".join(pieces)


def _email_sub(m: re.Match) -> str:
    local, _, domain = m.group().rpartition("@")
    return f"{local[:1]}***@{domain}"


def mask_email(text):
    """An e-mail masked: the first letter of the mailbox and the domain stay.

    Examples
    --------
    >>> mask_email("ivan.petrov@mail.ru")
    'i***@mail.ru'
    >>> mask_email("a@b.ru; sales@firma.ru")
    'a***@b.ru; s***@firma.ru'
    >>> mask_email("not an address"), mask_email(None)
    ('not an address', None)
    """
    if _missing(text):
        return text
    s = _as_text(text)
    out, n = EMAIL_RE.subn(_email_sub, s)
    if n:
        return out
    if "@" in s:
        local, _, domain = s.rpartition("@")
        return f"{local.strip()[:1]}***@{domain}"
    return s


def mask_inn(text):
    """An INN masked: the first two digits (region) and the last two stay.

    Examples
    --------
    >>> mask_inn("7707083893"), mask_inn("500100732259"), mask_inn(7707083893.0)
    ('77******93', '50********59', '77******93')
    >>> mask_inn("123")
    '*23'
    """
    if _missing(text):
        return text
    s = _as_text(text)
    pos = [i for i, ch in enumerate(s) if ch.isdigit()]
    if len(pos) < 6:
        return mask_digits(s)
    hide = set(pos[2:-2])
    return "".join("*" if i in hide else ch for i, ch in enumerate(s))


def _inn_kw_sub(m: re.Match) -> str:
    return m.group(1) + mask_inn(m.group(2))


def mask_text(text, what=("email", "inn", "phone")):
    """Free text with every e-mail, phone and INN inside it masked (``what`` picks which of them).

    >>> mask_text("ИНН 7707083893, тел. +7 912 345-67-89")
    'ИНН 77******93, тел. +7 (912) ***-**-89'
    >>> mask_text("заказ 12 на 1 500 руб.")
    'заказ 12 на 1 500 руб.'
    """
    if _missing(text):
        return text
    s = str(text)
    if "email" in what:
        s = EMAIL_RE.sub(_email_sub, s)
    if "inn" in what:
        s = INN_KW_RE.sub(_inn_kw_sub, s)
        s = INN12_RE.sub(lambda m: mask_inn(m.group()), s)
    if "phone" in what:
        s = PHONE_RE.sub(_phone_sub, s)
    return s


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s) or s.dtype == object


#: a cheap superset of the cells :func:`mask_text` changes (RE2-compatible: runs inside pyarrow)
_WS = " \t\n\r\f\v\u00a0\u2009\u202f"  # literal characters: pandas hands \\s and \\d to slow Python re
_CANDIDATES = {"email": "@", "phone": "(?:[0-9][" + _WS + r"\-.()]*){10}",
               "inn": "ИНН|инн|Инн|INN|inn|Inn|[0-9]{12}"}
_RU_PLAIN_VEC = "[" + _WS + r"]*(?:\+[" + _WS + r"]*7|8|7)?[" + _WS + r"\-.()]*[3-9](?:[" + _WS + r"\-.()]*[0-9]){9}[" + \
    _WS + "]*"


def _as_str(s: pd.Series) -> pd.Series:
    """A column as pandas ``str`` (pyarrow) text; numbers written without ``.0``; missing stays missing."""
    if s.dtype == object or not pd.api.types.is_string_dtype(s):
        s = s.map(lambda v: None if _missing(v) else _as_text(v), na_action="ignore")
    return s.astype("str")


def mask_series_text(s: pd.Series, what=("email", "inn", "phone")) -> pd.Series:
    """:func:`mask_text` over a text column, vectorised (only cells with a candidate are touched).

    >>> mask_series_text(pd.Series(["тел 89123456789", None, "ok"], dtype="string")).tolist()
    ['тел +7 (912) ***-**-89', <NA>, 'ok']
    """
    if not len(s):
        return s
    text = _as_str(s)
    pattern = "|".join(_CANDIDATES[w] for w in what)
    cand = text.str.contains(pattern, regex=True).fillna(False).astype(bool)
    if not cand.any():
        return s
    sub = text[cand].map(lambda v: mask_text(v, what))
    out = s.astype("string") if s.dtype == object else s.copy()
    out[cand] = sub.astype(out.dtype)
    return out


def _names(kind: str) -> set[str]:
    """Known headers of a PII column: canonical name, schema aliases, report headers in ru/en."""
    names = {kind, *TABLES["clients"].column(kind).aliases}
    for lang in i18n.LANGS:
        names.add(i18n.t(f"col.{kind}", lang))
    return {canonical_header(n) for n in names}


def pii_columns(df: pd.DataFrame) -> dict[str, str]:
    """Columns of ``df`` holding phones, e-mails or INNs, by their header: ``{column: kind}``.

    >>> pii_columns(pd.DataFrame(columns=["client_id", "Телефон", "e-mail", "ИНН", "name", "phone 2"]))
    {'Телефон': 'phone', 'e-mail': 'email', 'ИНН': 'inn', 'phone 2': 'phone'}
    """
    exact = {kind: _names(kind) for kind in ("phone", "email", "inn")}
    out = {}
    for col in df.columns:
        h = canonical_header(col)
        if h in KEY_COLUMNS:
            continue
        words = set(re.split(r"[^a-zа-яё0-9]+", h)) - {""}
        if h in exact["phone"] or words & _PHONE_WORDS:
            out[col] = "phone"
        elif h in exact["email"] or words & _EMAIL_WORDS or ("e" in words and "mail" in h):
            out[col] = "email"
        elif h in exact["inn"] or words & _INN_WORDS:
            out[col] = "inn"
    return out


def _fast_phone(u: pd.Series) -> pd.Series:
    ok = u.str.fullmatch(_RU_PLAIN_VEC).fillna(False).astype(bool)
    d = u[ok].str.replace(r"[^0-9]", "", regex=True).str.slice(-10)
    return "+7 (" + d.str.slice(0, 3) + ") ***-**-" + d.str.slice(-2)


def _fast_email(u: pd.Series) -> pd.Series:
    ok = u.str.fullmatch(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+").fillna(False).astype(bool)
    v = u[ok]
    return v.str.slice(0, 1) + "***@" + v.str.split("@").str[-1]


def _fast_inn(u: pd.Series) -> pd.Series:
    ok = u.str.fullmatch(r"[0-9]{10}|[0-9]{12}").fillna(False).astype(bool)
    v = u[ok]
    return v.str.slice(0, 2) + v.str.slice(2, -2).str.replace(r"[0-9]", "*", regex=True) + v.str.slice(-2)


def _map_unique(s: pd.Series, fn: Callable, fast: Callable | None = None) -> pd.Series:
    """``fn`` once per distinct non-missing value (the common forms vectorised by ``fast``)."""
    if pd.api.types.is_bool_dtype(s):
        return s
    text = _as_str(s)
    keep = text.notna()
    if not keep.any():
        return text.astype("string")
    uniq = pd.Series(pd.unique(text[keep]), dtype="str")
    done = fast(uniq) if fast is not None else pd.Series([], dtype="str")
    rest = uniq.drop(done.index)
    mapping = dict(zip(uniq[done.index].tolist(), done.tolist()))
    mapping.update({v: fn(v) for v in rest.tolist()})
    out = pd.Series(pd.NA, index=s.index, dtype="string")
    out[keep] = text[keep].map(mapping).astype("string")
    return out


_MASKERS = {"phone": (mask_phone, _fast_phone), "email": (mask_email, _fast_email), "inn": (mask_inn, _fast_inn)}


def mask_frame(df: pd.DataFrame, lang: str = "ru", *, scan_text: bool = True,
               exclude: Iterable[str] = KEY_COLUMNS) -> pd.DataFrame:
    """A copy of ``df`` with phones, e-mails and INNs masked.

    Parameters
    ----------
    df : DataFrame
        Any table: canonical column names or report headers (ru/en).
    lang : str
        Language of the table's headers (both languages' headers are recognised anyway).
    scan_text : bool
        Also mask phones / e-mails / INNs found inside every other text column (names, notes,
        ``detail`` of quality issues …).
    exclude : iterable of str
        Columns left as they are (keys people search by).

    Returns
    -------
    DataFrame
        Same shape and columns; masked columns become text.

    Examples
    --------
    >>> df = pd.DataFrame({"client_id": ["7707083893"], "phone": ["8 912 345 67 89"], "email": ["ivan@mail.ru"],
    ...                    "inn": ["7707083893"], "note": ["звонить на 89123456789"]})
    >>> mask_frame(df).iloc[0].tolist()
    ['7707083893', '+7 (912) ***-**-89', 'i***@mail.ru', '77******93', 'звонить на +7 (912) ***-**-89']
    """
    out = df.copy()
    exclude = {canonical_header(c) for c in exclude}
    kinds = {c: k for c, k in pii_columns(df).items() if canonical_header(c) not in exclude}
    for col, kind in kinds.items():
        masked = _map_unique(out[col], *_MASKERS[kind])
        if kind != "inn" and scan_text and not pd.api.types.is_bool_dtype(masked):
            # an e-mail typed into the phone column and so on
            masked = mask_series_text(masked, ("email", "inn") if kind == "phone" else ("inn", "phone"))
        out[col] = masked
    # quality issues quote the raw value of an invalid phone / INN in their detail
    if "issue" in out.columns and "detail" in out.columns:
        codes = set(PII_ISSUES) | {i18n.t(f"lbl.{c}", la) for c in PII_ISSUES for la in i18n.LANGS}
        rows = out["issue"].isin(codes).fillna(False).astype(bool) & out["detail"].notna()
        if rows.any():
            fixed = out.loc[rows, "detail"].map(_mask_quoted)
            out["detail"] = out["detail"].astype("object")
            out.loc[rows, "detail"] = fixed
            out["detail"] = out["detail"].astype("string")
    if scan_text:
        for col in out.columns:
            if col in kinds or canonical_header(col) in exclude or not _is_text(out[col]):
                continue
            out[col] = mask_series_text(out[col])
    return out


def _mask_quoted(text):
    """Digits inside quotes masked (all of them when nothing is quoted)."""
    s = str(text)
    out, n = _QUOTED_RE.subn(lambda m: mask_digits(m.group()), s)
    return out if n else mask_digits(s)
