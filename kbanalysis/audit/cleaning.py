"""Cleaning of the client base: INN and phone checks, name normalisation, duplicate cards,
card completeness, two managers on one client, contact cadence and closed cards with sales.

Every ``*_issues``-style function returns *quality findings*: a DataFrame with the columns
``table, row, client_id, issue, detail`` (``row`` = the ``_row`` of the offending line as a
nullable ``Int64``; card-level findings carry the ``_row`` of the client card). Texts of
``detail`` come from ``locale/audit.yaml`` in the language ``lang``.

All functions are vectorised (or cached by unique value) so that 100k cards and millions of
sales lines run in seconds.

>>> inn_is_valid("7707083893"), inn_is_valid("7707083894")
(True, False)
>>> normalize_phone("8 (912) 345-67-89")
'+79123456789'
>>> normalize_name('ООО «Ромашка»') == normalize_name('"РОМАШКА", ООО') == 'ромашка'
True
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from kbanalysis.sales.calendar import _as_ts
from kbanalysis.deliverables.i18n import listed, t
from kbanalysis.io.case import empty_issues, isin, issue_frame
from kbanalysis.sales.lines import window_groups, window_totals

FINDING_COLUMNS = ("table", "row", "client_id", "issue", "detail")
#: Reasons of :func:`duplicate_pairs`, in the order they are joined.
DUPLICATE_REASONS = ("same_inn", "same_phone", "same_name", "similar_name")


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------
def concat_findings(frames) -> pd.DataFrame:
    """Concatenate findings frames (empty ones are fine) into one, stable order.

    >>> len(concat_findings([empty_issues(), empty_issues()]))
    0
    """
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return empty_issues()
    out = pd.concat([f[list(FINDING_COLUMNS)] for f in frames], ignore_index=True)
    out["row"] = out["row"].astype("Int64")
    for c in ("table", "client_id", "issue", "detail"):
        out[c] = out[c].astype("string")
    return out


def _join_by(keys, values, sep: str, sort_values: bool = False) -> pd.Series:
    """``sep``-join of ``values`` per key (keys sorted; values in order, or sorted) — a fast
    replacement for ``groupby(...).agg(sep.join)``, which runs Python per group.

    >>> _join_by(["b", "a", "b"], ["x", "y", "z"], ", ").to_dict()
    {'a': 'y', 'b': 'x, z'}
    """
    from itertools import groupby

    k = np.asarray(pd.Series(keys, dtype="object").astype(str), dtype=object)
    v = np.asarray(pd.Series(values, dtype="object").astype(str), dtype=object)
    if not len(k):
        return pd.Series([], dtype="object")
    order = np.lexsort((v, k)) if sort_values else np.argsort(k, kind="mergesort")
    pairs = zip(k[order].tolist(), v[order].tolist())
    out_k, out_v = [], []
    for key, grp in groupby(pairs, key=lambda x: x[0]):
        out_k.append(key)
        out_v.append(sep.join(x[1] for x in grp))
    return pd.Series(out_v, index=pd.Index(out_k, dtype="object"), dtype="object")


def _rows(df: pd.DataFrame, row_col: str = "_row") -> pd.Series:
    if row_col in df:
        return df[row_col].astype("Int64")
    return pd.Series(pd.array([pd.NA] * len(df), dtype="Int64"), index=df.index)


def _text(s: pd.Series) -> pd.Series:
    """Stripped string series, empty -> <NA>."""
    s = s.astype("string").str.strip()
    return s.mask(s == "")


def _norm_text(s: pd.Series) -> pd.Series:
    """Lower-case, ё→е, single spaces; for matching managers and regions."""
    s = _text(s).str.lower().str.replace("ё", "е", regex=False).str.replace(r"\s+", " ", regex=True)
    return s


# ------------------------------------------------------------------------------------------
# INN
# ------------------------------------------------------------------------------------------
_W10 = np.array([2, 4, 10, 3, 5, 9, 4, 6, 8])
_W11 = np.array([7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
_W12 = np.array([3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8])


def _clean_inn(s: pd.Series) -> pd.Series:
    """Strip spaces (and a trailing ``.0`` left by spreadsheets) from INN text."""
    s = _text(s).str.replace(r"[\s\u00a0]+", "", regex=True).str.replace(r"\.0$", "", regex=True)
    return s.mask(s == "")


def _digits_matrix(s: pd.Series, width: int) -> np.ndarray:
    """Rows of ``width`` ASCII digits -> int matrix (n, width)."""
    b = "".join(s.tolist()).encode("ascii")
    return (np.frombuffer(b, dtype=np.uint8).reshape(-1, width) - 48).astype(np.int64)


def _inn_check(s: pd.Series) -> pd.Series:
    """Vectorised check; ``s`` holds cleaned INN text (no NA). Returns a reason code or ''."""
    reason = pd.Series("", index=s.index, dtype="object")
    digits = s.str.fullmatch(r"\d+").fillna(False).astype(bool)
    reason[~digits] = "chars"
    length = s.str.len()
    wrong_len = digits & ~length.isin([10, 12])
    reason[wrong_len] = "length"
    ten = digits & (length == 10)
    if ten.any():
        d = _digits_matrix(s[ten], 10)
        ok = (d[:, :9] @ _W10) % 11 % 10 == d[:, 9]
        reason[ten[ten].index[~ok]] = "check"
    twelve = digits & (length == 12)
    if twelve.any():
        d = _digits_matrix(s[twelve], 12)
        ok = ((d[:, :10] @ _W11) % 11 % 10 == d[:, 10]) & ((d[:, :11] @ _W12) % 11 % 10 == d[:, 11])
        reason[twelve[twelve].index[~ok]] = "check"
    # a row of one repeated digit passes some checks (1111111111) but is a placeholder
    same = digits & s.str.fullmatch(r"(\d)\1+").fillna(False).astype(bool) & (reason == "")
    reason[same] = "placeholder"
    return reason


def quality_table(load_issues: pd.DataFrame | None, findings: pd.DataFrame) -> pd.DataFrame:
    """``quality_issues.csv``: the rows rejected or doubted while reading the case, then the audit's
    findings, in the contract's columns, ordered by table, row, issue and client.

    >>> f = issue_frame("clients", [3, 2], ["b", "a"], "invalid_inn", ["x", "y"])
    >>> quality_table(None, f)[["row", "client_id"]].to_dict("list")
    {'row': [2, 3], 'client_id': ['a', 'b']}
    """
    from kbanalysis.schema import OUTPUTS

    parts = [x for x in (load_issues, findings) if x is not None and len(x)]
    issues = pd.concat(parts, ignore_index=True) if parts else empty_issues()
    return issues[list(OUTPUTS["quality_issues.csv"])].sort_values(
        ["table", "row", "issue", "client_id"], kind="mergesort", na_position="first", ignore_index=True)


def issue_counts(issues: pd.DataFrame) -> pd.DataFrame:
    """How many findings of each kind, most frequent first: ``issue, count``.

    >>> issue_counts(pd.DataFrame({"issue": ["b", "a", "b"]})).to_dict("list")
    {'issue': ['b', 'a'], 'count': [2, 1]}
    """
    return issues.groupby("issue", sort=True).size().rename("count").reset_index().sort_values(
        "count", ascending=False, kind="mergesort", ignore_index=True)


def issue_facts(issues: pd.DataFrame, clients: pd.DataFrame | None = None, lang: str = "ru") -> dict:
    """The numbers the audit's text on data quality quotes: findings, invalid INNs, invalid phones, and
    ``checks``, the phrase naming the INN and phone counts for the fields the client cards have (empty
    when they have neither: a case without INNs is not said to have 0 invalid ones).

    >>> f = issue_facts(pd.DataFrame({"issue": ["invalid_inn", "invalid_phone", "invalid_inn"]}), lang="en")
    >>> f["n_issues"], f["n_invalid_inn"], f["n_invalid_phone"], f["checks"]
    (3, 2, 1, ': 2 invalid INNs and 1 invalid phone numbers')
    >>> issue_facts(pd.DataFrame({"issue": ["bad_date"]}), pd.DataFrame({"name": ["A"]}), "en")["checks"]
    ''
    """
    facts = {"n_issues": len(issues), "n_invalid_inn": int((issues["issue"] == "invalid_inn").sum()),
             "n_invalid_phone": int((issues["issue"] == "invalid_phone").sum())}
    parts = [t(f"audit.check.{k}", lang, n=facts[f"n_invalid_{k}"]) for k in ("inn", "phone")
             if clients is None or has_values(clients, k)]
    facts["checks"] = (t("audit.check.lead", lang) + listed(parts, lang)) if parts else ""
    return facts


def has_values(df: pd.DataFrame | None, column: str) -> bool:
    """Whether table ``df`` has ``column`` with at least one value (an export may lack a field, or carry it empty).

    >>> has_values(pd.DataFrame({"manager": [None, "Иванов"]}), "manager"), has_values(pd.DataFrame({"a": [1]}), "manager")
    (True, False)
    """
    return df is not None and column in df and bool(df[column].notna().any())


def duplicate_facts(clients: pd.DataFrame, duplicates: pd.DataFrame, lang: str = "ru") -> dict:
    """What the text on duplicate cards quotes: the pairs found (``n_dups``) and the fields the cards were
    compared on (``compared``: INN, phone and name, only those the cards carry).

    >>> duplicate_facts(pd.DataFrame({"name": ["A"], "phone": [None]}), pd.DataFrame({"client_id": []}), "en")
    {'n_dups': 0, 'compared': 'name (also spelt differently)'}
    """
    fields = [t(f"audit.compared.{k}", lang) for k in ("inn", "phone", "name") if has_values(clients, k)]
    return {"n_dups": len(duplicates), "compared": listed(fields, lang)}


def inn_is_valid(inn) -> bool:
    """True when ``inn`` is a Russian taxpayer number with correct check digits.

    10 digits (companies): the control digit is ``sum(d[i] * w[i]) % 11 % 10`` with weights
    ``[2, 4, 10, 3, 5, 9, 4, 6, 8]``. 12 digits (individuals): two control digits with weights
    ``[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]`` and ``[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]``. Spaces are
    ignored; anything else that is not a digit makes the INN invalid, as does a placeholder of one
    repeated digit. A missing INN is *not* valid here (but :func:`inn_issues` does not flag it).

    Examples
    --------
    >>> inn_is_valid("7707083893"), inn_is_valid("500100732259"), inn_is_valid("500100732258")
    (True, True, False)
    >>> inn_is_valid("77070838"), inn_is_valid(None)
    (False, False)
    """
    if inn is None or (isinstance(inn, float) and np.isnan(inn)) or inn is pd.NA:
        return False
    s = _clean_inn(pd.Series([str(inn)], dtype="string"))
    if s.isna().iloc[0]:
        return False
    return _inn_check(s).iloc[0] == ""


def inn_issues(clients: pd.DataFrame, *, inn_col: str = "inn", id_col: str = "client_id", row_col: str = "_row",
               lang: str = "ru") -> pd.DataFrame:
    """``invalid_inn`` findings: INNs with non-digits, a wrong length or wrong check digits.

    A missing INN is not invalid (completeness covers it).

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b", "c", "d"], "inn": ["7707083893", "7707083894", None, "12ab"],
    ...                   "_row": [2, 3, 4, 5]})
    >>> inn_issues(c, lang="en")[["row", "client_id", "issue"]]
       row client_id        issue
    0    3         b  invalid_inn
    1    5         d  invalid_inn
    """
    if inn_col not in clients or not len(clients):
        return empty_issues()
    s = _clean_inn(clients[inn_col])
    known = s.notna()
    reason = _inn_check(s[known])
    bad = reason[reason != ""]
    if bad.empty:
        return empty_issues()
    raw = clients.loc[bad.index, inn_col].astype("string")
    detail = [t(f"audit.detail.inn_{r}", lang, inn=v) for r, v in zip(bad.tolist(), raw.tolist())]
    return issue_frame("clients", _rows(clients, row_col)[bad.index].tolist(),
                          clients.loc[bad.index, id_col].tolist(), "invalid_inn", detail)


# ------------------------------------------------------------------------------------------
# phones
# ------------------------------------------------------------------------------------------
_PHONE_SPLIT = r"[,;]"
_EXT = re.compile(r"(?:доб\.?|добавочный|вн\.?|ext\.?|extension|x)\s*\d{1,6}\s*$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _ru_pattern() -> str:
    """Union of the RU national-number patterns of phonenumbers' metadata (valid numbers)."""
    import phonenumbers

    meta = phonenumbers.PhoneMetadata.metadata_for_region("RU")
    pats = []
    for kind in ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number", "voip",
                 "uan"):
        desc = getattr(meta, kind, None)
        if desc is not None and desc.national_number_pattern:
            pats.append(f"(?:{desc.national_number_pattern})")
    return "|".join(pats)


@lru_cache(maxsize=200_000)
def _parse_phone_slow(part: str) -> tuple[str | None, str | None]:
    """phonenumbers parse (region RU) -> (E.164, region code) when the number is valid, else (None, None)."""
    import phonenumbers

    try:
        n = phonenumbers.parse(part, "RU")
    except phonenumbers.NumberParseException:
        return None, None
    if not phonenumbers.is_valid_number(n):
        return None, None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164), phonenumbers.region_code_for_number(n)


def _phone_parts(s: pd.Series) -> pd.DataFrame:
    """Explode phone cells into parts: ``idx`` (source index), ``raw``, ``e164`` (<NA> if not a valid
    number) and ``country`` (ISO region of the number, <NA> if invalid)."""
    s = _text(s).dropna()
    if s.empty:
        return pd.DataFrame({"idx": pd.Series([], dtype="object"), "raw": pd.Series([], dtype="string"),
                             "e164": pd.Series([], dtype="string"), "country": pd.Series([], dtype="string")})
    uniq = pd.Series(pd.unique(s), dtype="string")
    parts = uniq.str.split(_PHONE_SPLIT, regex=True).explode().astype("string").str.strip()
    parts = parts[parts.notna() & (parts != "")]
    # fast path: separators only, optional leading +7 / 7 / 8, a valid RU national number
    body = parts.str.replace(r"(?:доб\.?|добавочный|вн\.?|ext\.?|extension|x)\s*\d{1,6}\s*$", "", regex=True,
                             case=False)
    compact = body.str.replace(r"[\s\u00a0\-\(\)\.]", "", regex=True)
    m = compact.str.extract(r"^(?:\+7|[78])?(\d{10})$", expand=False)
    plus_other = compact.str.match(r"^\+(?!7)").fillna(False).astype(bool)
    m = m.mask(plus_other)
    ok = (m.notna() & m.str.fullmatch(_ru_pattern()).fillna(False).astype(bool)).to_numpy()
    e164 = np.full(len(parts), None, dtype=object)
    country = np.full(len(parts), None, dtype=object)
    e164[ok] = ("+7" + m[ok]).to_numpy(dtype=object)
    country[ok] = "RU"
    # slow path (phonenumbers) for everything else, cached by unique value
    if (~ok).any():
        res = [_parse_phone_slow(str(x)) for x in parts[~ok].tolist()]
        e164[~ok] = [r[0] for r in res]
        country[~ok] = [r[1] for r in res]
    per_uniq = pd.DataFrame({"u": parts.index, "raw": parts.to_numpy(), "e164": pd.array(e164, dtype="string"),
                             "country": pd.array(country, dtype="string")})
    per_uniq["key"] = uniq.to_numpy()[per_uniq["u"].to_numpy()]
    src = pd.DataFrame({"idx": s.index, "key": s.to_numpy()})
    out = src.merge(per_uniq[["key", "raw", "e164", "country"]], on="key", how="inner", sort=False)
    return out[["idx", "raw", "e164", "country"]]


def normalize_phone(text) -> str | None:
    """A phone as people typed it -> E.164 (``+79123456789``); ``None`` when it is not a valid number.

    Russian forms ``8 (912) 345-67-89``, ``+7 912 345 67 89``, ``79123456789`` and ``9123456789`` are
    one number (region RU); an extension (``доб. 123``) is dropped; foreign numbers in ``+``
    form are kept when valid. Several numbers in one cell separated by ``,`` or ``;`` give
    their E.164 forms joined by ``;`` (invalid parts are left out).

    Examples
    --------
    >>> [normalize_phone(x) for x in ["8 (912) 345-67-89", "+79123456789", "79123456789", "9123456789"]]
    ['+79123456789', '+79123456789', '+79123456789', '+79123456789']
    >>> normalize_phone("8 495 123-45-67; 8-912-345-67-89"), normalize_phone("12-34")
    ('+74951234567;+79123456789', None)
    """
    if text is None or text is pd.NA or (isinstance(text, float) and np.isnan(text)):
        return None
    p = _phone_parts(pd.Series([str(text)], dtype="string"))
    good = p["e164"].dropna()
    good = list(dict.fromkeys(good.tolist()))
    return ";".join(good) if good else None


def normalize_phones(clients: pd.DataFrame, *, phone_col: str = "phone") -> pd.Series:
    """Vectorised :func:`normalize_phone` over a column (``<NA>`` when no valid number).

    >>> normalize_phones(pd.DataFrame({"phone": ["89123456789", None, "x"]})).tolist()
    ['+79123456789', <NA>, <NA>]
    """
    out = pd.Series(pd.NA, index=clients.index, dtype="string")
    if phone_col not in clients:
        return out
    p = _phone_parts(clients[phone_col]).dropna(subset=["e164"]).drop_duplicates(["idx", "e164"])
    if len(p):
        joined = p.groupby("idx", sort=False)["e164"].agg(";".join)
        out[joined.index] = joined.astype("string")
    return out


def phone_issues(clients: pd.DataFrame, *, phone_col: str = "phone", id_col: str = "client_id",
                 row_col: str = "_row", countries=("RU", "KZ"), lang: str = "ru") -> pd.DataFrame:
    """``invalid_phone`` findings, one per card: a phone part that is not a valid number of ``countries``.

    Valid means a valid number by the phonenumbers metadata (length, operator ranges) whose country
    is one of ``countries`` (Russia, and Kazakhstan, which shares the +7 plan); a foreign number
    (+380 …, +1 …) in a Russian client base is flagged as a mistake too. Fast on 100k cards: the
    common Russian forms are checked vectorised against phonenumbers' RU patterns, the rest parsed
    by phonenumbers once per unique value.

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b", "c", "d"],
    ...                   "phone": ["+7 912 345 67 89", "12345", None, "+380 (67) 123-45-67"], "_row": [2, 3, 4, 5]})
    >>> phone_issues(c, lang="en")[["row", "client_id", "issue", "detail"]]
       row client_id          issue                                          detail
    0    3         b  invalid_phone             '12345' is not a valid phone number
    1    5         d  invalid_phone  '+380 (67) 123-45-67' is a foreign number (UA)
    """
    if phone_col not in clients or not len(clients):
        return empty_issues()
    p = _phone_parts(clients[phone_col])
    allowed = isin(p["country"].fillna(""), list(countries))
    bad = p.loc[~allowed]
    if bad.empty:
        return empty_issues()
    det = [t("audit.detail.phone", lang, phone=r) if pd.isna(c) else
           t("audit.detail.phone_foreign", lang, phone=r, country=c)
           for r, c in zip(bad["raw"].tolist(), bad["country"].tolist())]
    pos = pd.Index(clients.index).get_indexer(bad["idx"])
    joined = _join_by(pos, det, "; ")
    k = joined.index.astype(int).to_numpy()
    order = np.argsort(k, kind="mergesort")
    k = k[order]
    return issue_frame("clients", _rows(clients, row_col).to_numpy()[k].tolist(),
                          clients[id_col].astype("string").to_numpy()[k].tolist(), "invalid_phone",
                          joined.to_numpy()[order].tolist())


# ------------------------------------------------------------------------------------------
# names
# ------------------------------------------------------------------------------------------
_FULL_FORMS = (
    "общество с ограниченной ответственностью", "общество с дополнительной ответственностью",
    "публичное акционерное общество", "непубличное акционерное общество", "закрытое акционерное общество",
    "открытое акционерное общество", "акционерное общество", "индивидуальный предприниматель",
    "крестьянское фермерское хозяйство", "федеральное государственное унитарное предприятие",
    "государственное унитарное предприятие", "муниципальное унитарное предприятие",
    "автономная некоммерческая организация", "некоммерческая организация", "товарищество с ограниченной ответственностью",
    "limited liability company", "public limited company", "joint stock company", "limited liability partnership",
)
_FORMS = frozenset("""
ооо оао зао пао ао нао ип чп тоо одо кфх гуп муп фгуп ано нко пбоюл ичп
ooo oao zao pao llc ltd inc gmbh llp plc corp co ag jsc pjsc ojsc cjsc sarl srl bv nv kg
limited incorporated corporation
""".split())
_FULL_RE = r"\b(?:" + "|".join(f.replace(" ", r"\s+") for f in _FULL_FORMS) + r")\b"


def _normalize_names(s: pd.Series) -> pd.Series:
    """Vectorised name normalisation (see :func:`normalize_name`)."""
    s = s.astype("string").fillna("")
    s = s.str.lower().str.replace("ё", "е", regex=False)
    s = s.str.replace(r"[^\w\s]|_", " ", regex=True)
    s = s.str.replace(_FULL_RE, " ", regex=True)
    toks = s.str.split()
    s = toks.map(lambda ws: " ".join(w for w in ws if w not in _FORMS) if isinstance(ws, list) else "")
    return s.astype("string")


_FAMILY_RE = (  # legal-form families: a card of an LLC and one of a joint-stock company are two companies
    ("ip", r"\b(?:ип|ичп|чп|пбоюл|индивидуальный\s+предприниматель)\b"),
    ("llc", r"\b(?:ооо|ooo|одо|тоо|llc|ltd|limited|gmbh|llp|общество\s+с\s+(?:ограниченной|дополнительной)\s+"
            r"ответственностью|товарищество\s+с\s+ограниченной\s+ответственностью)\b"),
    ("jsc", r"\b(?:ао|зао|оао|пао|нао|oao|zao|pao|jsc|pjsc|ojsc|cjsc|ag|plc|акционерное\s+общество)\b"),
    ("state", r"\b(?:гуп|муп|фгуп|унитарное\s+предприятие)\b"),
    ("nko", r"\b(?:ано|нко|некоммерческая\s+организация)\b"),
    ("kfh", r"\b(?:кфх|крестьянское\s+фермерское\s+хозяйство)\b"),
)


def legal_family(names: pd.Series) -> pd.Series:
    """The family of the legal form in each name: ``ip``, ``llc``, ``jsc`` (АО, ЗАО, ОАО, ПАО, НАО —
    one family, since ЗАО/ОАО became АО/ПАО), ``state``, ``nko``, ``kfh``; <NA> when none is named.

    >>> legal_family(pd.Series(["ООО «Ромашка»", "ЗАО Лютик", "ИП Иванов И.И.", "Ромашка"])).tolist()
    ['llc', 'jsc', 'ip', <NA>]
    """
    s = names.astype("string").fillna("").str.lower().str.replace("ё", "е", regex=False)
    s = s.str.replace(r"[^\w\s]|_", " ", regex=True)
    out = pd.Series(pd.NA, index=names.index, dtype="string")
    for fam, rx in reversed(_FAMILY_RE):
        out = out.mask(s.str.contains(rx, regex=True).fillna(False).astype(bool), fam)
    return out


def normalize_name(name) -> str:
    """A client's name for matching: no legal form, quotes, punctuation, case, ``ё``, extra spaces.

    Legal forms are dropped both as abbreviations (ООО, АО, ПАО, ЗАО, ОАО, ИП, НАО, LLC, Ltd, Inc,
    GmbH …, also ``OOO`` typed in Latin letters) and spelled out («Общество с ограниченной
    ответственностью», «Акционерное общество» …), wherever they stand.

    Examples
    --------
    >>> normalize_name("ООО «Ромашка»"), normalize_name("Ромашка ООО"), normalize_name('"РОМАШКА", ООО')
    ('ромашка', 'ромашка', 'ромашка')
    >>> normalize_name("Общество с ограниченной ответственностью «Торг-Сервис Плюс»")
    'торг сервис плюс'
    >>> normalize_name("ИП Семёнов  И.И.")
    'семенов и и'
    """
    if name is None or name is pd.NA or (isinstance(name, float) and np.isnan(name)):
        return ""
    return str(_normalize_names(pd.Series([str(name)])).iloc[0])


# ------------------------------------------------------------------------------------------
# duplicates
# ------------------------------------------------------------------------------------------
def _star_pairs(pos: np.ndarray, key: pd.Series) -> pd.DataFrame:
    """Within each group of equal non-missing ``key``: (later, earliest) pairs; ``pos`` sorted = order."""
    df = pd.DataFrame({"pos": pos, "key": key.to_numpy()}).dropna(subset=["key"])
    if df.empty:
        return pd.DataFrame({"a": [], "b": []}, dtype="int64")
    df = df.drop_duplicates().sort_values(["pos"], kind="mergesort")
    first = df.groupby("key", sort=False)["pos"].transform("min")
    m = df["pos"] != first
    return pd.DataFrame({"a": first[m].to_numpy(dtype="int64"), "b": df.loc[m, "pos"].to_numpy(dtype="int64")})


def _group_pairs(pos: np.ndarray, key: pd.Series, max_all: int = 50) -> pd.DataFrame:
    """All (earlier, later) pairs within groups of equal non-missing ``key`` of at most ``max_all``
    cards; bigger groups are linked to their earliest card only (star)."""
    df = pd.DataFrame({"pos": pos, "key": key.to_numpy()}).dropna(subset=["key"]).drop_duplicates()
    size = df.groupby("key")["pos"].transform("size")
    small = df.loc[(size >= 2) & (size <= max_all)]
    out = [_star_pairs(df.loc[size > max_all, "pos"].to_numpy(), df.loc[size > max_all, "key"])]
    if len(small):
        m = small.merge(small, on="key", suffixes=("_a", "_b"))
        m = m.loc[m["pos_a"] < m["pos_b"]]
        out.append(pd.DataFrame({"a": m["pos_a"].to_numpy(dtype="int64"), "b": m["pos_b"].to_numpy(dtype="int64")}))
    return pd.concat(out, ignore_index=True)


def _adaptive_blocks(keys_src: pd.Series, group: pd.Series, start: int, max_block: int) -> list[np.ndarray]:
    """Blocks of positions: same ``group`` and same first ``L`` chars of ``keys_src``; ``L`` grows
    (from ``start``) only inside blocks larger than ``max_block``."""
    out: list[np.ndarray] = []
    pending = np.arange(len(keys_src))
    length = start
    strings = keys_src.to_numpy(dtype=object)
    groups = group.to_numpy(dtype=object)
    max_len = int(keys_src.str.len().max() or 0)
    while len(pending):
        k = pd.Series([f"{g}\x00{s[:length]}" for g, s in zip(groups[pending], strings[pending])])
        codes, uniq = pd.factorize(k)
        counts = np.bincount(codes)
        order = np.argsort(codes, kind="mergesort")
        bounds = np.cumsum(counts)[:-1]
        nxt = []
        for c, idx in enumerate(np.split(pending[order], bounds)):
            if counts[c] < 2:
                continue
            if counts[c] > max_block and length < max_len:
                nxt.append(idx)
            else:
                out.append(idx)
        pending = np.concatenate(nxt) if nxt else np.array([], dtype=np.int64)
        length += 1
    return out


def _name_guard(names: pd.Series) -> np.ndarray:
    """What must be equal in two similar names: their short words (initials, «-М») and numbers, in order."""
    toks = names.fillna("").str.split()
    digits = names.fillna("").str.findall(r"\d+")
    return np.array([" ".join([w for w in ws if len(w) <= 2] + ds) for ws, ds in zip(toks, digits)], dtype=object)


def _fuzzy_pairs(names: pd.Series, region: pd.Series, threshold: float, max_block: int, scorer,
                 typo_min_len: int) -> pd.DataFrame:
    """Pairs (a < b positions) of similar names in the same region, by blocked ``cdist``."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    valid = names.fillna("") != ""
    pos_all = np.flatnonzero(valid.to_numpy())
    if len(pos_all) < 2:
        return pd.DataFrame({"a": [], "b": []}, dtype="int64")
    nm = names[valid].reset_index(drop=True)
    rg = region[valid].reset_index(drop=True).fillna("\x01")
    guard = _name_guard(nm)
    long_ = (nm.str.len() >= max(typo_min_len, 1)).to_numpy() if typo_min_len else np.zeros(len(nm), bool)
    multi = nm.str.contains(" ", regex=False).fillna(False).to_numpy(dtype=bool)
    sorted_tok = nm.str.split().map(lambda w: " ".join(sorted(w))).astype("string")
    reversed_nm = nm.map(lambda s: s[::-1]).astype("string")
    arr = nm.to_numpy(dtype=object)
    if scorer is None:  # token_sort_ratio = ratio of the names with sorted words: sort once, not per pair
        from rapidfuzz import fuzz

        cmp_arr, scorer = sorted_tok.to_numpy(dtype=object), fuzz.ratio
    else:
        cmp_arr = arr
    # one Indel cdist per block with a cutoff low enough for one typo in a long name (score >= 100(1 - 1/L))
    low = min(float(threshold), 100.0 * (1 - 1 / typo_min_len) - 0.5) if typo_min_len else float(threshold)
    found = []
    # pass 2 (sorted words) only matters for names of several words
    for src, use in ((nm, None), (sorted_tok, multi), (reversed_nm, None)):
        sel = np.flatnonzero(use) if use is not None else np.arange(len(nm))
        if len(sel) < 2:
            continue
        for blk in _adaptive_blocks(src.iloc[sel].reset_index(drop=True), rg.iloc[sel].reset_index(drop=True), 1,
                                    max_block):
            blk = np.sort(sel[blk])
            names_b = cmp_arr[blk].tolist()
            sc = process.cdist(names_b, names_b, scorer=scorer, score_cutoff=low, dtype=np.float32, workers=1)
            sc = np.triu(sc, 1)
            i, j = np.nonzero(sc)
            if not len(i):
                continue
            v = sc[i, j]
            a, b = blk[i], blk[j]
            hit = v >= threshold
            cand = ~hit & long_[a] & long_[b]
            if cand.any():
                k = np.flatnonzero(cand)
                k = k[[arr[x][:1] == arr[y][:1] and OSA.distance(arr[x], arr[y], score_cutoff=1) <= 1
                       for x, y in zip(a[k], b[k])]]
                hit[k] = True
            keep = hit & (guard[a] == guard[b]) & (arr[a] != arr[b])
            if keep.any():
                found.append(np.column_stack([a[keep], b[keep]]))
    if not found:
        return pd.DataFrame({"a": [], "b": []}, dtype="int64")
    ab = np.unique(np.concatenate(found), axis=0)
    return pd.DataFrame({"a": pos_all[ab[:, 0]], "b": pos_all[ab[:, 1]]})


def duplicate_pairs(clients: pd.DataFrame, fuzzy_threshold: float = 92, *, id_col: str = "client_id",
                    name_col: str = "name", inn_col: str = "inn", phone_col: str = "phone",
                    region_col: str = "region", row_col: str = "_row", max_block: int = 150,
                    typo_min_len: int = 8, scorer=None) -> pd.DataFrame:
    """Suspected duplicate cards: ``client_id, duplicate_of, reason``.

    Reasons (joined with ``;`` when several hold for one pair, in this order):

    * ``same_inn`` — the same INN (spaces ignored; placeholders of one repeated digit ignored);
    * ``same_phone`` — a common number after :func:`normalize_phone` (every number of a cell counts);
    * ``same_name`` — the same :func:`normalize_name` in the same region;
    * ``similar_name`` — different normalised names in the same region that are near-identical:
      a rapidfuzz score of at least ``fuzzy_threshold`` (default scorer ``token_sort_ratio``, so
      word order does not matter), or — for names of at least ``typo_min_len`` characters — one
      typo apart (optimal-string-alignment distance 1: a letter replaced, added, dropped or two
      neighbours swapped — but not the first letter, which people rarely mistype; ``Строймаркет``
      / ``Стрйомаркет`` score only 91 by Indel); and with the same numbers and short words
      (initials, «-М») in them: «Магнит 1» is not «Магнит 2», ИП «Иванов А.Б.» is not ИП
      «Иванов А.В.».

    Name matches are vetoed by the law: two cards whose valid INNs differ, or whose legal forms
    belong to different families (ООО vs АО/ЗАО/ПАО vs ИП, see :func:`legal_family`), are two
    companies whatever their names. Each later card keeps its earliest compatible name match.

    Exact keys link every card of a group to the group's earliest card (by ``_row``), so a
    phone shared by ``k`` cards gives ``k - 1`` pairs, not ``k²``. Similar names are compared only
    inside blocks: region × the first letters of the name, of its sorted words and of the
    reversed name (three passes, so one typo cannot hide a pair), the prefix growing only
    inside blocks larger than ``max_block``; each block is scored by ``rapidfuzz.process.cdist``
    with ``score_cutoff``. The cost grows linearly with the number of cards.

    ``duplicate_of`` is the earlier card (smaller ``_row``), ``client_id`` the later one; rows are
    ordered by the later card, then the earlier one.

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b", "c", "d"],
    ...     "name": ["ООО «Ромашка»", "Ромашка ООО", "Лютик", "Лютик"],
    ...     "inn": ["7707083893", None, None, "7707083893"], "phone": [None, None, "89123456789", "+79123456789"],
    ...     "region": ["Москва", "Москва", "Тула", "Тверь"], "_row": [2, 3, 4, 5]})
    >>> duplicate_pairs(c)
      client_id duplicate_of      reason
    0         b            a   same_name
    1         d            a    same_inn
    2         d            c  same_phone
    """
    cols = {"client_id": pd.Series([], dtype="string"), "duplicate_of": pd.Series([], dtype="string"),
            "reason": pd.Series([], dtype="string")}
    if len(clients) < 2:
        return pd.DataFrame(cols)
    c = clients.copy()
    c["_ord_row"] = _rows(c, row_col).fillna(np.iinfo(np.int64).max).astype("int64")
    c = c.sort_values(["_ord_row", id_col], kind="mergesort").reset_index(drop=True)
    pos = np.arange(len(c))
    ids = c[id_col].astype("string").to_numpy(dtype=object)
    region = _norm_text(c[region_col]) if region_col in c else pd.Series(pd.NA, index=c.index, dtype="string")
    names = _normalize_names(c[name_col]) if name_col in c else pd.Series("", index=c.index, dtype="string")
    found = []
    if inn_col in c:
        inn = _clean_inn(c[inn_col])
        inn = inn.mask(inn.str.fullmatch(r"(\d)\1*").fillna(False).astype(bool))
        found.append(_star_pairs(pos, inn).assign(reason="same_inn"))
    if phone_col in c:
        p = _phone_parts(c[phone_col]).dropna(subset=["e164"])
        if len(p):
            found.append(_star_pairs(p["idx"].to_numpy(dtype="int64"), p["e164"]).assign(reason="same_phone"))
    nk = (region.fillna("\x01") + "\x00" + names).mask(names == "")
    by_name = pd.concat([_group_pairs(pos, nk).assign(reason="same_name"),
                         _fuzzy_pairs(names, region, fuzzy_threshold, max_block, scorer, typo_min_len)
                         .assign(reason="similar_name")], ignore_index=True)
    if len(by_name):
        # a name is no proof against the law: different valid INNs or different legal forms = two companies
        a, b = by_name["a"].to_numpy(dtype="int64"), by_name["b"].to_numpy(dtype="int64")
        veto = np.zeros(len(by_name), bool)
        if inn_col in c:
            inn_v = _clean_inn(c[inn_col])
            ok = inn_v.notna().to_numpy()
            good = np.zeros(len(c), bool)
            good[ok] = (_inn_check(inn_v[ok]) == "").to_numpy()
            iv = inn_v.fillna("").to_numpy(dtype=object)
            veto |= good[a] & good[b] & (iv[a] != iv[b])
        fam = np.full(len(c), "", dtype=object)
        if name_col in c:
            involved = np.unique(np.concatenate([a, b]))
            fam[involved] = legal_family(c[name_col].iloc[involved]).fillna("").to_numpy(dtype=object)
        known = fam != ""
        veto |= known[a] & known[b] & (fam[a] != fam[b])
        by_name = by_name.loc[~veto]
        # each later card keeps its earliest compatible match (per reason)
        by_name = by_name.sort_values(["reason", "b", "a"], kind="mergesort").drop_duplicates(["reason", "b"])
        found.append(by_name)
    pairs = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    if pairs.empty:
        return pd.DataFrame(cols)
    pairs["a"] = pairs["a"].astype("int64")
    pairs["b"] = pairs["b"].astype("int64")
    pairs["r"] = pairs["reason"].map({r: i for i, r in enumerate(DUPLICATE_REASONS)})
    pairs = pairs.drop_duplicates(["a", "b", "r"]).sort_values(["b", "a", "r"], kind="mergesort")
    key = pairs["b"].to_numpy() * len(c) + pairs["a"].to_numpy()
    first = ~pd.Series(key).duplicated().to_numpy()
    joined = _join_by(pd.Series(key).map("{:020d}".format), pairs["reason"], ";")
    out = pd.DataFrame({"b": pairs["b"].to_numpy()[first], "a": pairs["a"].to_numpy()[first]})
    out["reason"] = joined.reindex((out["b"] * len(c) + out["a"]).map("{:020d}".format)).to_numpy()
    out = out.sort_values(["b", "a"], kind="mergesort")
    return pd.DataFrame({"client_id": pd.array(ids[out["b"].to_numpy()], dtype="string"),
                         "duplicate_of": pd.array(ids[out["a"].to_numpy()], dtype="string"),
                         "reason": out["reason"].astype("string").to_numpy()})


def merge_map(clients: pd.DataFrame, pairs: pd.DataFrame, *, buyers=None, id_col: str = "client_id",
              row_col: str = "_row") -> pd.Series:
    """client_id -> master client_id: connected components of the duplicate pairs.

    The master of a component is its card with the smallest ``_row`` (then the smallest id);
    every card is present, mapped to itself when it has no duplicate.

    ``buyers`` (optional: ids of the cards with sales) restricts merging on a name alone: a pair
    whose only reasons are ``same_name`` / ``similar_name`` is merged only when both cards have
    sales (their split history must be joined). A never-bought card that merely shares a name
    with a client stays itself: nothing to join, and a namesake must not inherit the other's
    base. Such pairs stay in the duplicates list for a person to check. Pairs with the same INN
    or phone are always merged.

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b", "c", "d"], "_row": [5, 2, 3, 4]})
    >>> p = pd.DataFrame({"client_id": ["a", "d"], "duplicate_of": ["b", "a"], "reason": ["same_inn"] * 2})
    >>> merge_map(c, p).to_dict()
    {'a': 'b', 'b': 'b', 'c': 'c', 'd': 'b'}
    >>> p2 = pd.DataFrame({"client_id": ["c"], "duplicate_of": ["b"], "reason": ["same_name"]})
    >>> merge_map(c, p2, buyers=["b"]).to_dict()
    {'a': 'a', 'b': 'b', 'c': 'c', 'd': 'd'}
    """
    if buyers is not None and len(pairs):
        name_only = pairs["reason"].astype("string").str.fullmatch(r"(?:same_name|similar_name)(?:;similar_name)?")
        name_only = name_only.fillna(False).to_numpy(dtype=bool)
        both_buy = isin(pairs["client_id"], buyers) & isin(pairs["duplicate_of"], buyers)
        pairs = pairs.loc[~name_only | both_buy]
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    c = clients[[id_col]].copy()
    c["_o"] = _rows(clients, row_col).fillna(np.iinfo(np.int64).max).astype("int64").to_numpy()
    c = c.sort_values(["_o", id_col], kind="mergesort").reset_index(drop=True)
    ids = c[id_col].astype("string")
    where = pd.Series(np.arange(len(c)), index=ids.to_numpy())
    where = where[~where.index.duplicated()]
    p = pairs.loc[isin(pairs["client_id"], where.index) & isin(pairs["duplicate_of"], where.index)] \
        if len(pairs) else pairs
    n = len(c)
    if len(p):
        i = where[p["client_id"].astype(str).to_numpy()].to_numpy()
        j = where[p["duplicate_of"].astype(str).to_numpy()].to_numpy()
        g = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
        _, lab = connected_components(g, directed=False)
    else:
        lab = np.arange(n)
    # the first position of each label in sorted order = master
    first = pd.Series(np.arange(n)).groupby(lab).transform("min").to_numpy()
    master = ids.to_numpy(dtype=object)[first]
    out = pd.Series(pd.array(master, dtype="string"), index=pd.Index(ids.to_numpy(dtype=object), name=id_col),
                    name="master_id")
    return out.reindex(clients[id_col].astype("string").to_numpy())


# ------------------------------------------------------------------------------------------
# completeness
# ------------------------------------------------------------------------------------------
#: Card fields checked for completeness, besides the drivers. ``contact`` = phone or e-mail.
CARD_FIELDS = ("name", "channel", "inn", "region", "manager", "contact")
#: From this many cards on, a card field that no card has is reported once for the table, not per card.
ABSENT_FIELD_MIN_CARDS = 10


def _filled(clients: pd.DataFrame, drivers, channel_col: str = "channel",
            driver_min_share: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(filled, applicable) boolean frames over the card fields and drivers."""
    f = {}
    for col in CARD_FIELDS:
        if col == "contact":
            ph = _text(clients["phone"]).notna() if "phone" in clients else pd.Series(False, index=clients.index)
            em = _text(clients["email"]).notna() if "email" in clients else pd.Series(False, index=clients.index)
            f[col] = ph | em
        elif col in clients:
            f[col] = _text(clients[col]).notna()
        else:
            f[col] = pd.Series(False, index=clients.index)
    app = {k: pd.Series(True, index=clients.index) for k in f}
    # a field no card has (the export lacks the column) is the export's gap, not each card's: it does not
    # count against completeness (incomplete_card_issues reports it once for the whole table)
    if len(clients) >= ABSENT_FIELD_MIN_CARDS:
        for k in CARD_FIELDS:
            if not f[k].any():
                app[k] = pd.Series(False, index=clients.index)
    ch = _norm_text(clients[channel_col]).fillna("") if channel_col in clients else \
        pd.Series("", index=clients.index)
    for d in drivers:
        f[d] = clients[d].notna() if d in clients else pd.Series(False, index=clients.index)
        share = f[d].groupby(ch.to_numpy()).transform("mean")
        app[d] = pd.Series(share.to_numpy() >= driver_min_share, index=clients.index)
    return (pd.DataFrame(f, index=clients.index).astype(bool), pd.DataFrame(app, index=clients.index).astype(bool))


def card_completeness(clients: pd.DataFrame, drivers=(), *, driver_min_share: float = 0.25,
                      id_col: str = "client_id", channel_col: str = "channel") -> pd.DataFrame:
    """Share of filled card fields: ``client_id, completeness (0..1), missing``.

    Fields: name, channel, inn, region, manager, contact (phone *or* e-mail) and the drivers
    that apply to the card's channel — a driver applies to a channel when at least
    ``driver_min_share`` of the channel's cards have it (machines are asked of end users, not of
    shops). ``missing`` lists the empty fields, comma separated (empty string when complete).

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b"], "name": ["X", "Y"], "channel": ["retail", "dealer"],
    ...                   "inn": [None, None], "region": ["Тула"] * 2, "manager": ["Иванов"] * 2,
    ...                   "phone": [None] * 2, "email": ["x@y.ru"] * 2, "outlets": [float("nan"), 3.0],
    ...                   "machines": [float("nan")] * 2})
    >>> card_completeness(c, ["outlets", "machines"])
      client_id  completeness missing
    0         a      0.833333     inn
    1         b      0.857143     inn
    """
    drivers = list(drivers or [])
    f, app = _filled(clients, drivers, channel_col, driver_min_share)
    names = np.array(f.columns, dtype=object)
    fv, av = f.to_numpy(), app.to_numpy()
    miss = av & ~fv
    missing = [", ".join(names[row]) for row in miss]
    n_app = av.sum(axis=1)
    comp = np.where(n_app > 0, (fv & av).sum(axis=1) / np.maximum(n_app, 1), 1.0)
    return pd.DataFrame({id_col: clients[id_col].astype("string").to_numpy(), "completeness": comp,
                         "missing": pd.array(missing, dtype="string")})


def incomplete_card_issues(clients: pd.DataFrame, drivers=(), *, min_completeness: float = 0.75,
                           id_col: str = "client_id", row_col: str = "_row", status_col: str = "status",
                           lang: str = "ru") -> pd.DataFrame:
    """Findings about empty card fields (closed cards are skipped).

    * ``missing_value`` — no responsible manager; no phone *and* no e-mail (no way to reach the client);
    * ``incomplete_card`` — completeness (see :func:`card_completeness`) below ``min_completeness``,
      or a driver of its channel missing (see :func:`card_completeness`); the detail lists what is missing.

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b"], "name": ["X", "Y"], "channel": ["retail"] * 2,
    ...                   "inn": ["7707083893", None], "region": ["Тула", None], "manager": ["Иванов", None],
    ...                   "phone": ["89123456789", None], "email": [None, None], "_row": [2, 3]})
    >>> incomplete_card_issues(c, lang="en")[["row", "client_id", "issue"]]
       row client_id            issue
    0    3         b    missing_value
    1    3         b    missing_value
    2    3         b  incomplete_card
    """
    if not len(clients):
        return empty_issues()
    drivers = list(drivers or [])
    c = clients
    if status_col in c:
        c = c.loc[c[status_col].astype("string").fillna("active") != "closed"]
    f, app = _filled(c, drivers)
    comp = card_completeness(c, drivers, id_col=id_col)
    rows = _rows(c, row_col)
    ids = c[id_col].astype("string")
    out = []
    absent = [k for k in ("manager", "contact") if len(c) >= ABSENT_FIELD_MIN_CARDS and not f[k].any()]
    whole = issue_frame("clients", [None] * len(absent), [None] * len(absent), "missing_value",
                           [t(f"audit.detail.no_{k}_in_table", lang, n=len(c)) for k in absent])
    no_mgr = ~f["manager"] & ("manager" not in absent)
    if no_mgr.any():
        out.append(pd.DataFrame({"k": np.flatnonzero(no_mgr.to_numpy()), "o": 0, "issue": "missing_value",
                                 "detail": t("audit.detail.no_manager", lang)}))
    no_contact = ~f["contact"] & ("contact" not in absent)
    if no_contact.any():
        out.append(pd.DataFrame({"k": np.flatnonzero(no_contact.to_numpy()), "o": 1, "issue": "missing_value",
                                 "detail": t("audit.detail.no_contact", lang)}))
    drv_missing = (app[drivers] & ~f[drivers]).any(axis=1) if drivers else pd.Series(False, index=c.index)
    inc = (comp["completeness"].to_numpy() < min_completeness) | drv_missing.to_numpy()
    if inc.any():
        k = np.flatnonzero(inc)
        det = [t("audit.detail.incomplete", lang, pct=f"{100 * v:.0f}", missing=m)
               for v, m in zip(comp["completeness"].to_numpy()[k], comp["missing"].to_numpy()[k])]
        out.append(pd.DataFrame({"k": k, "o": 2, "issue": "incomplete_card", "detail": det}))
    if not out:
        return whole if len(whole) else empty_issues()
    d = pd.concat(out, ignore_index=True).sort_values(["k", "o"], kind="mergesort")
    k = d["k"].to_numpy()
    per_card = issue_frame("clients", rows.to_numpy()[k].tolist(), ids.to_numpy()[k].tolist(),
                              d["issue"].tolist(), d["detail"].tolist())
    return concat_findings([whole, per_card])


def completeness_by_manager(clients: pd.DataFrame, completeness: pd.DataFrame, *, id_col: str = "client_id",
                            manager_col: str = "manager", status_col: str = "status",
                            min_completeness: float = 0.75) -> pd.DataFrame:
    """Card quality per manager: ``manager, cards, completeness (mean), incomplete_share``.

    Cards without a manager are grouped under ``<NA>`` (last); closed cards are left out; rows
    are sorted from the worst average completeness.

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b", "c"], "manager": ["Иванов", "Иванов", "Петров"]})
    >>> comp = pd.DataFrame({"client_id": ["a", "b", "c"], "completeness": [1.0, 0.5, 0.9]})
    >>> completeness_by_manager(c, comp)
      manager  cards  completeness  incomplete_share
    0  Иванов      2          0.75               0.5
    1  Петров      1          0.90               0.0
    """
    c = clients
    if status_col in c:
        c = c.loc[c[status_col].astype("string").fillna("active") != "closed"]
    m = pd.DataFrame({"id": c[id_col].astype("string").to_numpy(),
                      "manager": _text(c[manager_col]).to_numpy() if manager_col in c else pd.NA})
    comp = completeness.set_index(completeness[id_col].astype("string"))["completeness"]
    m["completeness"] = comp.reindex(m["id"]).to_numpy()
    m["inc"] = m["completeness"] < min_completeness
    g = m.groupby("manager", dropna=False, sort=False).agg(cards=("id", "size"), completeness=("completeness", "mean"),
                                                          incomplete_share=("inc", "mean")).reset_index()
    g["manager"] = g["manager"].astype("string")
    g = g.sort_values(["completeness", "manager"], kind="mergesort", na_position="last")
    g = pd.concat([g[g["manager"].notna()], g[g["manager"].isna()]])
    return g.reset_index(drop=True)


# ------------------------------------------------------------------------------------------
# managers, contacts, closed cards
# ------------------------------------------------------------------------------------------
def _by_client_text(df: pd.DataFrame, col: str, id_col: str) -> pd.DataFrame:
    d = pd.DataFrame({"client_id": df[id_col].astype("string").to_numpy(), "m": _text(df[col]).to_numpy()})
    return d.dropna()


def two_managers(clients: pd.DataFrame, sales: pd.DataFrame | None = None, contacts: pd.DataFrame | None = None,
                 pairs: pd.DataFrame | None = None, merge_map: pd.Series | None = None, *, as_of=None,
                 months: int = 12, id_col: str = "client_id", manager_col: str = "manager",
                 row_col: str = "_row", lang: str = "ru") -> pd.DataFrame:
    """``two_managers`` findings: more than one manager works one client (one finding per card).

    A card is flagged when

    * its sales or contacts of the last ``months`` months (before ``as_of``; default: the day
      after the last sale) name a manager other than the card's — or, when the card has no
      manager, at least two different ones (empty names are ignored; names compare case- and
      space-insensitively); or
    * its duplicate cards (the components of ``merge_map``, or of ``pairs``) are held by
      different managers — every card of such a group is flagged.

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b", "c"], "manager": ["Иванов", "Петров", "Сидоров"],
    ...                   "_row": [2, 3, 4]})
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-02"]), "client_id": ["a", "b"],
    ...                   "manager": ["Иванов", "Сидоров"]})
    >>> mm = pd.Series({"a": "a", "b": "b", "c": "c"})
    >>> two_managers(c, s, None, None, mm, as_of="2024-04-01", lang="en")[["row", "client_id", "issue"]]
       row client_id         issue
    0    3         b  two_managers
    """
    if not len(clients) or manager_col not in clients:
        return empty_issues()
    ids = clients[id_col].astype("string")
    card_m = pd.Series(_norm_text(clients[manager_col]).to_numpy(), index=ids.to_numpy())
    card_m = card_m[~card_m.index.duplicated()]
    card_raw = pd.Series(_text(clients[manager_col]).to_numpy(), index=ids.to_numpy())
    card_raw = card_raw[~card_raw.index.duplicated()]
    if as_of is None:
        as_of = (sales["date"].max() + pd.Timedelta(days=1)) if sales is not None and len(sales) else \
            pd.Timestamp.today()
    as_of = _as_ts(as_of)
    start = as_of - pd.DateOffset(months=months)
    acts = []
    for df in (sales, contacts):
        if df is None or not len(df) or manager_col not in df or "date" not in df:
            continue
        w = window_groups(df, start, as_of, [id_col, manager_col])
        d = pd.DataFrame({"id": w[id_col].astype("string").to_numpy(), "raw": _text(w[manager_col]).to_numpy()})
        d = d.dropna()
        d["m"] = _norm_text(d["raw"]).to_numpy()
        acts.append(d)
    parts = []  # (id, detail)
    if acts:
        a = pd.concat(acts, ignore_index=True)
        a = a.loc[isin(a["id"], card_m.index)].drop_duplicates(["id", "m"])
        a["card"] = card_m.reindex(a["id"]).to_numpy()
        n_distinct = a.groupby("id")["m"].nunique()
        has_card = a.groupby("id")["card"].first().notna()
        ok_ids = has_card.index[has_card.to_numpy() | (n_distinct.reindex(has_card.index).to_numpy() >= 2)]
        other = a.loc[(a["card"].isna() | (a["m"] != a["card"])) & isin(a["id"], ok_ids)]
        flagged = _join_by(other["id"], other["raw"], ", ", sort_values=True)
        card_txt = card_raw.reindex(flagged.index).astype(object).where(lambda x: x.notna(), "—")
        tmpl = t("audit.detail.two_managers_sales", lang, card="\x00c", others="\x00o")
        parts.append(pd.DataFrame({"id": flagged.index.to_numpy(dtype=object),
                                   "detail": [tmpl.replace("\x00c", str(c)).replace("\x00o", o)
                                              for c, o in zip(card_txt.to_numpy(), flagged.to_numpy())]}))
    if merge_map is None and pairs is not None:
        merge_map = globals()["merge_map"](clients, pairs, id_col=id_col, row_col=row_col)
    if merge_map is not None and len(merge_map):
        g = pd.DataFrame({"id": merge_map.index.astype(str), "master": merge_map.astype(str).to_numpy()})
        g["m"] = card_m.reindex(g["id"]).to_numpy()
        g["raw"] = card_raw.reindex(g["id"]).to_numpy(dtype=object)
        nm = g.dropna(subset=["m"]).groupby("master")["m"].nunique()
        bad_masters = nm[nm >= 2].index
        if len(bad_masters):
            gg = g.loc[isin(g["master"], bad_masters)]
            gl = gg.dropna(subset=["raw"]).drop_duplicates(["master", "m"])
            lists = _join_by(gl["master"], gl["raw"], ", ", sort_values=True)
            tmpl = t("audit.detail.two_managers_dup", lang, managers="\x00m")
            parts.append(pd.DataFrame({"id": gg["id"].to_numpy(dtype=object),
                                       "detail": [tmpl.replace("\x00m", lists[m]) for m in gg["master"]]}))
    parts = [x for x in parts if len(x)]
    if not parts:
        return empty_issues()
    pp = pd.concat(parts, ignore_index=True)
    det = _join_by(pp["id"], pp["detail"], "; ")
    mask = isin(ids, det.index)
    sel = clients.loc[mask]
    sel_ids = sel[id_col].astype("string").tolist()
    return issue_frame("clients", _rows(sel, row_col).tolist(), sel_ids, "two_managers",
                          det.reindex(sel_ids).tolist())


def contact_issues(contacts: pd.DataFrame | None, clients: pd.DataFrame, as_of, min_days: int = 30,
                   stale_days: int = 180, *, active_ids=None, id_col: str = "client_id", row_col: str = "_row",
                   status_col: str = "status", lang: str = "ru") -> pd.DataFrame:
    """Contact cadence findings (contacts before ``as_of`` only).

    * ``too_frequent_contact`` (table ``contacts``) — a contact less than ``min_days`` days after the
      previous contact with the same client ("let the client rest a month"); one finding per
      offending (later) contact row.
    * ``stale_contact`` (table ``clients``, card level) — a client of the active base no one
      contacted for more than ``stale_days`` days (or ever). The active base is ``active_ids``
      (pass the clients whose base is active or sleeping); by default every card not closed.
      Nothing is reported when there is no contact history at all.

    Examples
    --------
    >>> k = pd.DataFrame({"client_id": ["a", "a", "a"], "_row": [2, 3, 4],
    ...                   "date": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-03-01"])})
    >>> c = pd.DataFrame({"client_id": ["a", "b"], "_row": [2, 3]})
    >>> contact_issues(k, c, "2024-04-01", lang="en")[["table", "row", "client_id", "issue"]]
          table  row client_id                 issue
    0  contacts    3         a  too_frequent_contact
    1   clients    3         b         stale_contact
    """
    if contacts is None or not len(contacts):
        return empty_issues()
    as_of = _as_ts(as_of)
    k = contacts.loc[contacts["date"].notna() & (contacts["date"] < as_of)]
    d = pd.DataFrame({"id": k[id_col].astype("string").to_numpy(), "date": k["date"].to_numpy(),
                      "row": _rows(k, row_col).to_numpy(), "ord": np.arange(len(k))})
    d = d.sort_values(["id", "date", "row", "ord"], kind="mergesort")
    prev = d.groupby("id", sort=False)["date"].shift()
    gap = (d["date"] - prev).dt.days
    bad = d.loc[gap < min_days].assign(gap=gap[gap < min_days])
    out = []
    if len(bad):
        det = [t("audit.detail.too_frequent", lang, days=int(g), min_days=min_days) for g in bad["gap"]]
        out.append(issue_frame("contacts", bad["row"].tolist(), bad["id"].tolist(), "too_frequent_contact", det))
    last = d.groupby("id")["date"].max()
    c = clients
    if active_ids is not None:
        c = c.loc[isin(c[id_col].astype("string"), active_ids)]
    elif status_col in c:
        c = c.loc[c[status_col].astype("string").fillna("active") != "closed"]
    cid = c[id_col].astype("string")
    last_c = last.reindex(cid.to_numpy())
    silent = (as_of - pd.to_datetime(last_c)).dt.days
    stale = (silent > stale_days) | last_c.isna()
    if stale.any():
        m = stale.to_numpy()
        det = [t("audit.detail.stale_never", lang) if pd.isna(v)
               else t("audit.detail.stale", lang, days=int(v), date=str(pd.Timestamp(lv).date()))
               for v, lv in zip(silent.to_numpy()[m], last_c.to_numpy()[m])]
        out.append(issue_frame("clients", _rows(c, row_col).to_numpy()[m].tolist(), cid.to_numpy()[m].tolist(),
                                  "stale_contact", det))
    return concat_findings(out)


def closed_with_sales(clients: pd.DataFrame, sales: pd.DataFrame, as_of, days: int = 90, *,
                      id_col: str = "client_id", status_col: str = "status", row_col: str = "_row",
                      lang: str = "ru") -> pd.DataFrame:
    """``closed_with_sales`` findings: closed cards with shipments in the last ``days`` days.

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b"], "status": ["closed", "closed"], "_row": [2, 3]})
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-03-20", "2023-01-01"]), "client_id": ["a", "b"],
    ...                   "amount": [100.0, 50.0]})
    >>> closed_with_sales(c, s, "2024-04-01", lang="en")[["row", "client_id", "issue"]]
       row client_id              issue
    0    2         a  closed_with_sales
    """
    if status_col not in clients or not len(clients) or sales is None or not len(sales):
        return empty_issues()
    as_of = _as_ts(as_of)
    closed = clients.loc[clients[status_col].astype("string") == "closed"]
    if closed.empty:
        return empty_issues()
    agg = window_totals(sales, as_of - pd.Timedelta(days=days), as_of, closed[id_col].astype("string"), id_col)
    if agg.empty:
        return empty_issues()
    sel = closed.loc[isin(closed[id_col].astype("string"), agg.index)]
    sid = sel[id_col].astype("string")
    a = agg.reindex(sid.to_numpy())
    det = [t("audit.detail.closed_with_sales", lang, lines=int(n), amount=f"{v:,.0f}".replace(",", " "),
             date=str(pd.Timestamp(d).date()), days=days)
           for n, v, d in zip(a["lines"], a["amount"], a["last"])]
    return issue_frame("clients", _rows(sel, row_col).tolist(), sid.tolist(), "closed_with_sales", det)
