"""Texts in Russian and English, and numbers formatted for people.

Texts live beside each part's code, ``kbanalysis/<part>/texts.yaml`` (``audit/texts.yaml``, ``wallet/texts.yaml`` …),
each a mapping ``key: {ru: "...", en: "..."}``; keys are unique across files.

>>> fmt_money(1234567, "ru")
'1 234 567 ₽'
>>> fmt_money(1234567.4, "en", "RUB")
'RUB 1,234,567'
>>> fmt_pct(0.1234, "ru")
'12,3\xa0%'
>>> fmt_int(1234567, "en")
'1,234,567'

Texts quote raw numbers with a format of their kind, so that a text never repeats a parameter's value:
``{key_share:pct0}`` (a share as a percentage without decimals), ``{x:pct}`` (one decimal),
``{x:money}``, ``{x:int}``, ``{x:date}``, ``{x:month}``, ``{x:num}`` (a number with the language's decimal mark); any other spec is Python's (``{hhi:.3f}``); a missing
value (None, NaN) is shown as a dash whatever the spec.

>>> fmt_text("over {key_share:pct0} of {revenue:money}", "en", key_share=0.1, revenue=1500)
'over 10% of RUB 1,500'

A date without a spec is a date for people, and a Python spec keeps the language's decimal mark:

>>> import datetime
>>> fmt_text("on {d}, HHI = {hhi:.3f}", "ru", d=datetime.date(2026, 10, 1), hhi=0.0412)
'on 01.10.2026, HHI = 0,041'
"""
from __future__ import annotations

import math
import string
from functools import lru_cache
from pathlib import Path

import yaml

LANGS = ("ru", "en")
_SYMBOL = {"RUB": "₽", "USD": "$", "EUR": "€", "GBP": "£", "BRL": "R$", "KZT": "₸"}
NBSP = "\u00a0"


@lru_cache(maxsize=1)
def _texts() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for f in sorted(Path(__file__).resolve().parent.parent.glob("*/texts.yaml")):
        data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        for k, v in data.items():
            if k in out:
                raise ValueError(f"text key {k!r} is defined twice (second time in {f.name})")
            out[k] = v
    return out


class _Formatter(string.Formatter):
    """``str.format`` with the format specs of people's numbers (``money``, ``pct``, ``pct0``, ``int``, ``date``, ``month``)."""

    def __init__(self, lang: str, currency: str):
        super().__init__()
        self.lang, self.currency = lang, currency

    def format_field(self, value, format_spec: str):
        if format_spec and (value is None or (isinstance(value, float) and math.isnan(value))):
            return "—"
        if format_spec == "money":
            return fmt_money(value, self.lang, self.currency)
        if format_spec in ("pct", "pct0"):
            return fmt_pct(value, self.lang, 1 if format_spec == "pct" else 0)
        if format_spec == "int":
            return fmt_int(value, self.lang)
        if format_spec == "date":
            return fmt_date(value, self.lang)
        if format_spec == "num":
            return fmt_num(value, self.lang)
        if format_spec == "month":
            return fmt_month(value, self.lang)
        if not format_spec and _is_date(value):
            return fmt_date(value, self.lang)
        out = super().format_field(value, format_spec)
        if self.lang == "ru" and format_spec and isinstance(value, (int, float)) and not isinstance(value, bool):
            out = out.replace(",", NBSP).replace(".", ",")  # a Python spec (``{hhi:.3f}``) with Russian marks
        return out


def _is_date(value) -> bool:
    import datetime as dt

    return isinstance(value, (dt.date, dt.datetime)) or type(value).__name__ == "Timestamp"


def fmt_text(text: str, lang: str = "ru", currency: str = "RUB", **kw) -> str:
    """``text`` formatted with ``kw`` (see the module's format specs)."""
    return _Formatter(lang, currency).format(text, **kw) if kw else text


def t(key: str, lang: str = "ru", currency: str = "RUB", **kw) -> str:
    """The text ``key`` in ``lang``, formatted with ``kw``; the key itself when it is unknown."""
    entry = _texts().get(key)
    text = key if entry is None else (entry.get(lang) or entry.get("en") or key)
    return fmt_text(text, lang, currency, **kw)


def listed(items, lang: str = "ru") -> str:
    """Items as prose lists them: ``a, b и c`` / ``a, b and c``; one item alone; ``""`` for none.

    >>> listed(["опрос", "менеджеры", "похожие клиенты"]), listed(["INN", "phone"], "en"), listed(["x"])
    ('опрос, менеджеры и похожие клиенты', 'INN and phone', 'x')
    """
    items = [str(x) for x in items]
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + t("text.and", lang) + items[-1]


def fmt_num(x, lang: str = "ru", decimals: int = 2) -> str:
    """A number without trailing zeros, with the language's decimal mark: ``1,5`` / ``1.5``.

    >>> fmt_num(1.5, "ru"), fmt_num(3.0, "en")
    ('1,5', '3')
    """
    body = _group(float(x), lang, decimals)
    sep = "," if lang == "ru" else "."
    return body.rstrip("0").rstrip(sep) if sep in body else body


def fmt_fixed(x, lang: str = "ru", decimals: int = 1) -> str:
    """A number with exactly ``decimals`` decimals and the language's decimal mark, never ``-0,0`` (a heatmap's
    cells); a dash when missing.

    >>> fmt_fixed(-0.04, "ru"), fmt_fixed(1.0, "ru"), fmt_fixed(-2.25, "en"), fmt_fixed(float("nan"))
    ('0,0', '1,0', '-2.2', '—')
    """
    if x is None or not math.isfinite(float(x)):
        return "—"
    return _group(float(x), lang, decimals)


def _group(n: float, lang: str, decimals: int = 0) -> str:
    """``n`` with thousands separators and ``decimals``; what rounds to zero has no sign (never ``-0,0``).

    >>> _group(-0.04, "ru", 1), _group(-1234.5, "ru", 1), _group(1234.5, "en", 0)
    ('0,0', '-1 234,5', '1,234')
    """
    s = f"{abs(n):,.{decimals}f}"
    negative = n < 0 and any(ch not in "0.," for ch in s)
    if lang == "ru":
        s = s.replace(",", " ").replace(".", ",")
    return ("-" if negative else "") + s


def fmt_int(x, lang: str = "ru") -> str:
    """An integer with thousands separators (a space in Russian)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return _group(round(float(x)), lang)


def fmt_money(x, lang: str = "ru", currency: str = "RUB", decimals: int = 0) -> str:
    """Money for people: ``1 234 567 ₽`` in Russian, ``RUB 1,234,567`` in English."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    body = _group(float(x), lang, decimals)
    if lang == "ru":
        return f"{body} {_SYMBOL.get(currency, currency)}"
    return f"{currency} {body}"


def fmt_pct(x, lang: str = "ru", decimals: int = 1) -> str:
    """A share 0..1 as a percentage: ``12,3 %`` in Russian (a non-breaking space: the ``%`` never wraps onto
    a line of its own), ``12.3%`` in English."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    body = _group(100 * float(x), lang, decimals)
    return f"{body}{NBSP}%" if lang == "ru" else f"{body}%"


#: how a month is written, per language (prose, tables and chart axes)
MONTH_PATTERN = {"ru": "%m.%Y", "en": "%Y-%m"}


def month_pattern(lang: str) -> str:
    """The strftime pattern of a month in ``lang`` (:data:`MONTH_PATTERN`; English for another language)."""
    return MONTH_PATTERN.get(lang, MONTH_PATTERN["en"])


def fmt_month(x, lang: str = "ru") -> str:
    """A month for people: ``06.2021`` in Russian, ``2021-06`` in English; ``—`` when missing.

    >>> fmt_month("2021-06", "ru"), fmt_month("2021-06-15", "en"), fmt_month(None)
    ('06.2021', '2021-06', '—')
    """
    import pandas as pd

    if x is None or x is pd.NA or (not isinstance(x, str) and pd.isna(x)) or x == "":
        return "—"
    return pd.Timestamp(x).strftime(month_pattern(lang))


def fmt_date(x, lang: str = "ru") -> str:
    """A date for people: ``31.12.2026`` in Russian, ``2026-12-31`` in English; ``—`` when missing.

    >>> fmt_date("2026-08-07", "ru"), fmt_date("2026-08-07", "en"), fmt_date(None)
    ('07.08.2026', '2026-08-07', '—')
    """
    import pandas as pd

    if x is None or x is pd.NA or (not isinstance(x, str) and pd.isna(x)) or x == "":
        return "—"
    return pd.Timestamp(x).strftime("%d.%m.%Y" if lang == "ru" else "%Y-%m-%d")


def money_short(x, lang: str = "ru", currency: str = "RUB", decimals: int = 1) -> str:
    """Compact money for chart axes: ``1,2 млн ₽`` / ``RUB 1.2M`` (``decimals`` after the mark of thousands,
    millions, billions).

    >>> money_short(1_250_000, "ru"), money_short(0.1, "en", "GBP"), money_short(1, "en", "GBP")
    ('1,2 млн ₽', 'GBP 0.10', 'GBP 1')
    >>> money_short(9_512_000, "en", "GBP", decimals=2)
    'GBP 9.51M'
    """
    v = float(x)
    for div, ru, en in ((1e9, "млрд", "B"), (1e6, "млн", "M"), (1e3, "тыс.", "k")):
        if abs(v) >= div:
            body = _group(v / div, lang, decimals)
            return f"{body} {ru} {_SYMBOL.get(currency, currency)}" if lang == "ru" else f"{currency} {body}{en}"
    # small amounts (log axes): enough decimals that 0.1 is not shown as 0
    decimals = 0 if abs(v) >= 10 or float(v).is_integer() else (1 if abs(v) >= 1 else 2)
    return fmt_money(v, lang, currency, decimals)
