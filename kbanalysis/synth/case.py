"""Seeded synthetic client-base case of a B2B distributor (Russian market) with ground truth.

:func:`generate_case` simulates a client base, its sales, the managers' deal forecast, stock,
the marketing estimate, a client survey and the contact history, all vectorised with numpy
(100k clients and ~10M sales lines take seconds of CPU). :func:`write_case` writes the case
folder either as messy 1C / CRM / Excel exports or as plain canonical CSV, plus ``truth/*.csv``;
:func:`sample_case` does both (``kbanalysis sample``). ``python -m kbanalysis.synth.case`` times
2k and 100k clients.

The simulation (amounts in RUB, "monthly" = per calendar month):

* every client has a channel and the channel's potential drivers on the card (``outlets``,
  ``own_clients``, ``machines`` x ``imported_machine_share``, ``installations`` x
  ``avg_project_cost``; ~10 % missing); its true monthly *wallet* (purchases of our
  categories from all suppliers) is the channel norm (:data:`DRIVER_NORMS`) times its
  driver(s) times lognormal noise (sigma :data:`WALLET_SIGMA`);
* the wallet splits over :data:`GROUPS` by a channel-specific mix (:data:`CHANNEL_MIX`); the
  client buys from us in some groups only; our true share of its wallet comes from a mixture
  (35 % indifferent < 1 %, 40 % secondary 1-10 %, 25 % main 10-60 %);
* our sales are orders with a client-specific rhythm (1-8 weeks), 1-4 lines each, yearly
  seasonality, 6 % yearly growth, ~2 % returns, margins of 10-35 % (~3 % loss-making
  clients), and a life cycle: never bought (potential), closed (some still buying:
  closed_with_sales), lost (stopped 4-24 months ago; ~60 % were regular buyers), sleeping
  (at <= 40 % of their level for the last 4-6 months), new, active;
* data defects: ~3 % duplicate cards (same INN / same phone in another format / the name
  spelt differently), ~3 % INNs with a wrong check digit, ~3 % broken phones, missing
  fields, two managers on ~3 % of clients, too frequent and stale contacts, ~0.2 % broken
  sales lines in the messy file;
* deals: closed history over ~18 months and open deals for the next 3 months, at stages with
  TRUE win rates :data:`STAGE_WIN`; managers state them 10-30 points higher; won deals are
  sales lines with ``doc_id`` = ``deal_id``;
* the horizon after ``as_of`` (truth only) continues the story: active clients go on, lost
  ones mostly do not return, sleeping ones partly recover, open deals win at the true rates.

Messy files (``write_case(messy=True)``), headers in :data:`MESSY_HEADERS`: ``clients.csv``,
``sales.csv`` and ``contacts.csv`` in Windows-1251 with ``;``, decimal commas and
(non-breaking) space thousands separators, dates ``DD.MM.YYYY``; ``deals.xlsx`` (probability
in %, month as ``YYYY-MM`` text, Russian statuses); ``stock.csv`` UTF-8 with BOM, tab;
``marketing.csv`` UTF-8 ``,``; ``survey.csv`` UTF-8 ``;``; ``mapping.yaml`` for the driver
header ``Станки, шт``.

>>> case = generate_case(n_clients=60, seed=1)
>>> sorted(case.tables)
['clients', 'contacts', 'deals', 'marketing', 'sales', 'stock', 'survey']
>>> bool((case.tables["sales"]["date"] < case.as_of).all())
True
>>> sorted(case.truth["clients"]["true_base"].unique())  # doctest: +ELLIPSIS
['active', ...]
"""
from __future__ import annotations

import io as _io
import json
import re
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from kbanalysis.schema import TABLES

# --------------------------------------------------------------------------------------------
# the world
# --------------------------------------------------------------------------------------------
GROUPS = ("fasteners", "tools", "consumables", "electrical", "plumbing", "paint", "safety")
_G = len(GROUPS)
_GROUP_PEAK = np.array([6, 5, 9, 10, 8, 6, 11])  # calendar month of the seasonal peak
_GROUP_AMP = np.array([0.12, 0.10, 0.08, 0.15, 0.12, 0.18, 0.14])  # +- share of the yearly cycle
#: Common peak month of every group when ``generate_case(season=...)`` sets one amplitude (August: about
#: where the default groups' total peaks).
_SEASON_PEAK = 8
#: Allowed ranges of the options of a forecast benchmark (``generate_case`` and ``kbanalysis sample``).
SEASON_RANGE, TREND_RANGE, MONTHS_RANGE = (0.0, 0.4), (-0.01, 0.01), (14, 36)
_GROUP_PRICE = np.array([12.0, 1500.0, 180.0, 350.0, 600.0, 800.0, 300.0])  # typical unit price
_GROUP_MARGIN = np.array([0.05, -0.03, 0.0, -0.02, 0.0, 0.02, 0.03])  # margin offset per group
_GROUP_SKU_PREFIX = ("КРП", "ИНС", "РСХ", "ЭЛТ", "САН", "ЛКМ", "СИЗ")
_N_SKU = 150

CHANNELS = ("retail", "chain", "wholesale", "online", "end_user", "dealer")
_CHANNEL_P = np.array([0.32, 0.06, 0.12, 0.08, 0.21, 0.21])
#: Base category mix of a channel's wallet (rows follow CHANNELS, columns GROUPS).
CHANNEL_MIX = np.array([
    [0.22, 0.18, 0.12, 0.15, 0.13, 0.14, 0.06],  # retail
    [0.18, 0.20, 0.10, 0.15, 0.15, 0.17, 0.05],  # chain
    [0.20, 0.15, 0.15, 0.15, 0.15, 0.12, 0.08],  # wholesale
    [0.12, 0.30, 0.12, 0.18, 0.10, 0.10, 0.08],  # online
    [0.15, 0.20, 0.30, 0.10, 0.05, 0.05, 0.15],  # end_user
    [0.15, 0.10, 0.08, 0.35, 0.22, 0.04, 0.06],  # dealer
])
#: Potential drivers on the card, by channel.
CHANNEL_DRIVERS = {"retail": ("outlets",), "chain": ("outlets",), "wholesale": ("own_clients",),
                   "online": ("own_clients",), "end_user": ("machines", "imported_machine_share"),
                   "dealer": ("installations", "avg_project_cost")}
DRIVERS = ("outlets", "own_clients", "machines", "imported_machine_share", "installations", "avg_project_cost")
#: True monthly wallet per unit of the driver (end_user: per imported machine = machines x share;
#: dealer: share of installations x avg_project_cost bought in our categories).
DRIVER_NORMS = {"retail": 55_000.0, "chain": 40_000.0, "wholesale": 3_500.0, "online": 600.0,
                "end_user": 30_000.0, "dealer": 0.12}
WALLET_SIGMA = 0.35

#: Negotiation stages of the deal forecast and their TRUE win rates.
STAGES = ("первичный контакт", "КП отправлено", "переговоры", "согласование договора", "счёт выставлен")
STAGE_WIN = np.array([0.10, 0.20, 0.35, 0.55, 0.80])
_STAGE_P = np.array([0.30, 0.25, 0.20, 0.15, 0.10])

BASES = ("active", "sleeping", "lost", "potential", "closed")
# planted life states (new clients are active in the truth)
_ACTIVE, _NEW, _SLEEPING, _LOST, _POTENTIAL, _CLOSED = range(6)
_STATE_P = np.array([0.62, 0.06, 0.08, 0.12, 0.08, 0.04])
_STATE_BASE = np.array(["active", "active", "sleeping", "lost", "potential", "closed"])

_REGIONS = (  # city, weight, landline code, INN region code
    ("Москва", 18, 495, 77), ("Санкт-Петербург", 9, 812, 78), ("Екатеринбург", 5, 343, 66),
    ("Новосибирск", 5, 383, 54), ("Казань", 4.5, 843, 16), ("Нижний Новгород", 4, 831, 52),
    ("Самара", 4, 846, 63), ("Краснодар", 4.5, 861, 23), ("Ростов-на-Дону", 4, 863, 61), ("Пермь", 3, 342, 59),
    ("Уфа", 3, 347, 2), ("Челябинск", 3.5, 351, 74), ("Воронеж", 3, 473, 36), ("Волгоград", 2.5, 844, 34),
    ("Красноярск", 3, 391, 24), ("Тюмень", 2.5, 345, 72), ("Ижевск", 2, 341, 18), ("Барнаул", 2, 385, 22),
    ("Иркутск", 2, 395, 38), ("Ярославль", 2, 485, 76), ("Тула", 2, 487, 71), ("Калининград", 1.5, 401, 39),
    ("Владивосток", 2, 423, 25), ("Оренбург", 1.5, 353, 56), ("Рязань", 1.5, 491, 62), ("Липецк", 1.5, 474, 48),
    ("Пенза", 1.5, 841, 58), ("Киров", 1.5, 833, 43), ("Саратов", 2, 845, 64), ("Хабаровск", 1.5, 421, 27),
)
_PREFIX = (("Строй", "stroy"), ("Техно", "tekhno"), ("Мега", "mega"), ("Альфа", "alfa"), ("Вектор", "vektor"),
           ("Гранит", "granit"), ("Прогресс", "progress"), ("Энерго", "energo"), ("Пром", "prom"),
           ("Мастер", "master"), ("Феникс", "feniks"), ("Орион", "orion"), ("Сибирь", "sibir"), ("Урал", "ural"),
           ("Волга", "volga"), ("Регион", "region"), ("Евро", "evro"), ("Спектр", "spektr"), ("Интер", "inter"),
           ("Арсенал", "arsenal"), ("Форт", "fort"), ("Монолит", "monolit"), ("Лидер", "lider"),
           ("Стандарт", "standart"), ("Профи", "profi"), ("Гарант", "garant"), ("Азимут", "azimut"),
           ("Атлант", "atlant"), ("Бизон", "bizon"), ("Кедр", "kedr"), ("Меридиан", "meridian"),
           ("Полюс", "polyus"), ("Ресурс", "resurs"), ("Титан", "titan"), ("Уют", "uyut"), ("Металл", "metall"),
           ("Электро", "elektro"), ("Нева", "neva"), ("Агро", "agro"), ("Авто", "avto"), ("Вега", "vega"),
           ("Дельта", "delta"), ("Крона", "krona"), ("Сокол", "sokol"))
_SUFFIX = (("торг", "torg"), ("снаб", "snab"), ("комплект", "komplekt"), ("сервис", "servis"),
           ("маркет", "market"), ("трейд", "treyd"), ("строй", "stroy"), ("пром", "prom"), ("мир", "mir"),
           ("центр", "tsentr"), ("инвест", "invest"), ("техника", "tekhnika"), ("монтаж", "montazh"),
           ("холдинг", "kholding"), ("опт", "opt"), ("база", "baza"), ("лайн", "layn"), ("профиль", "profil"),
           ("систем", "sistem"), ("деталь", "detal"), ("стиль", "stil"), ("ком", "kom"), ("снабжение", "snabzhenie"),
           ("инструмент", "instrument"))
_TAIL = (("", ""), ("-М", "-m"), (" Плюс", "plus"), ("-Юг", "-yug"), ("-Север", "-sever"), (" Групп", "grupp"),
         ("-Сервис", "-servis"), (" и К", "ik"), ("-2000", "2000"), ("-Регион", "-region"), (" Про", "pro"),
         ("-Т", "-t"))
_TAIL_P = np.array([0.5] + [0.5 / 11] * 11)
_SURNAMES = (("Иванов", "ivanov"), ("Петров", "petrov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"),
             ("Попов", "popov"), ("Соколов", "sokolov"), ("Лебедев", "lebedev"), ("Козлов", "kozlov"),
             ("Новиков", "novikov"), ("Морозов", "morozov"), ("Волков", "volkov"), ("Алексеев", "alekseev"),
             ("Семёнов", "semenov"), ("Егоров", "egorov"), ("Павлов", "pavlov"), ("Степанов", "stepanov"),
             ("Николаев", "nikolaev"), ("Орлов", "orlov"), ("Андреев", "andreev"), ("Макаров", "makarov"),
             ("Никитин", "nikitin"), ("Захаров", "zakharov"), ("Зайцев", "zaytsev"), ("Соловьёв", "solovev"),
             ("Борисов", "borisov"), ("Яковлев", "yakovlev"), ("Григорьев", "grigorev"), ("Романов", "romanov"),
             ("Воробьёв", "vorobev"), ("Сергеев", "sergeev"), ("Фролов", "frolov"), ("Александров", "aleksandrov"),
             ("Дмитриев", "dmitriev"), ("Королёв", "korolev"), ("Гусев", "gusev"), ("Киселёв", "kiselev"),
             ("Ильин", "ilin"), ("Максимов", "maksimov"), ("Поляков", "polyakov"), ("Сорокин", "sorokin"),
             ("Виноградов", "vinogradov"), ("Ковалёв", "kovalev"), ("Белов", "belov"), ("Медведев", "medvedev"),
             ("Антонов", "antonov"), ("Тарасов", "tarasov"), ("Жуков", "zhukov"), ("Баранов", "baranov"))
_INITIALS = "АБВГДЕИКЛМНОПРСТФЮЯ"
_INITIALS_LAT = ("a", "b", "v", "g", "d", "e", "i", "k", "l", "m", "n", "o", "p", "r", "s", "t", "f", "yu", "ya")
_MANAGERS = ("Иванова Анна", "Петров Дмитрий", "Смирнова Ольга", "Кузнецов Алексей", "Соколова Мария",
             "Попов Игорь", "Лебедева Екатерина", "Козлов Сергей", "Новикова Татьяна", "Морозов Андрей",
             "Волкова Наталья", "Егоров Павел", "Павлова Юлия", "Орлов Максим", "Зайцева Елена",
             "Белов Артём", "Фролова Ирина", "Тарасов Никита")
_CONTACT_KINDS = ("звонок", "визит", "email", "встреча")
_CONTACT_KIND_P = np.array([0.6, 0.2, 0.1, 0.1])
_OUTCOMES = ("договорились о заказе", "отправлено КП", "нет ответа", "перезвонить позже", "уточнили потребность",
             "не заинтересован", "обсудили условия")
_FREE_MAIL = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "list.ru", "inbox.ru")
_COMPANY_LOGIN = ("info", "zakaz", "snab", "office", "sales", "opt", "zakupki")

#: Headers of the messy files, canonical column -> Russian export header.
MESSY_HEADERS = {
    "clients": {"client_id": "Код клиента", "name": "Контрагент", "channel": "Канал сбыта", "inn": "ИНН",
                "region": "Регион", "manager": "Менеджер", "phone": "Телефон", "email": "E-mail",
                "status": "Статус", "reported_turnover": "Оценка оборота", "outlets": "Торговые точки",
                "own_clients": "Клиентская база", "machines": "Станки, шт",
                "imported_machine_share": "Доля импортных станков", "installations": "Монтажей в месяц",
                "avg_project_cost": "Средняя стоимость проекта"},
    "sales": {"date": "Дата", "client_id": "Код клиента", "product_group": "Товарная группа", "amount": "Сумма",
              "cost": "Себестоимость", "quantity": "Количество", "sku": "Артикул", "doc_id": "Документ",
              "manager": "Менеджер"},
    "deals": {"deal_id": "Номер сделки", "client_id": "Код клиента", "amount": "Сумма сделки",
              "probability": "Вероятность, %", "stage": "Этап сделки", "planned_month": "Месяц",
              "status": "Статус сделки", "manager": "Ответственный", "product_group": "Товарная группа",
              "created_date": "Дата создания", "closed_date": "Дата закрытия"},
    "stock": {"product_group": "Товарная группа", "on_hand": "Остаток на складе", "incoming": "В пути",
              "as_of": "На дату"},
    "marketing": {"month": "Месяц", "amount": "Оценка спроса"},
    "survey": {"client_id": "Код клиента", "product_group": "Товарная группа",
               "total_purchases": "Закупки в месяц", "suppliers": "Количество поставщиков", "date": "Дата опроса"},
    "contacts": {"client_id": "Код клиента", "date": "Дата контакта", "manager": "Менеджер",
                 "kind": "Вид контакта", "outcome": "Результат"},
}
#: The ``mapping.yaml`` written with the messy case (a driver header that is not a built-in alias).
MESSY_MAPPING = {"clients": {"Станки, шт": "machines"}}
#: The labels of the case's channel and group codes for the reports (``mapping.yaml``'s ``labels``), as a
#: consultant writes them for a client whose 1C export carries codes.
MESSY_LABELS = {
    "channel": {"retail": {"ru": "Розница", "en": "Retail"}, "chain": {"ru": "Сети", "en": "Chains"},
                "wholesale": {"ru": "Опт", "en": "Wholesale"}, "online": {"ru": "Интернет-магазины", "en": "Online shops"},
                "end_user": {"ru": "Конечные потребители", "en": "End users"},
                "dealer": {"ru": "Дилеры", "en": "Dealers"}},
    "product_group": {"fasteners": {"ru": "Крепёж", "en": "Fasteners"}, "tools": {"ru": "Инструмент", "en": "Tools"},
                      "consumables": {"ru": "Расходники", "en": "Consumables"},
                      "electrical": {"ru": "Электрика", "en": "Electrical"},
                      "plumbing": {"ru": "Сантехника", "en": "Plumbing"}, "paint": {"ru": "Краски", "en": "Paint"},
                      "safety": {"ru": "Средства защиты", "en": "Safety"}}}
_DEAL_STATUS_RU = {"open": "открыта", "won": "выиграна", "lost": "проиграна"}
_CLIENT_STATUS_RU = {"active": "активен", "closed": "закрыт"}
_TABLE_NAMES = ("clients", "sales", "deals", "stock", "marketing", "survey", "contacts")
_NBSP = "\u00a0"
_DAY_NS = 86_400 * 10**9


@dataclass
class SyntheticCase:
    """A generated case: canonical tables, ground truth and the analysis date.

    ``tables`` hold the canonical clean tables as :func:`kbanalysis.io.case.load_case` returns them
    for the messy files (``_row`` = spreadsheet row in the messy file); ``truth`` the ground
    truth (see :func:`generate_case`); ``broken_sales`` the planted unusable sales lines as
    written in the messy file (text, with ``_row`` and ``issue``).
    """

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    as_of: pd.Timestamp
    seed: int = 0
    params: dict = field(default_factory=dict)
    broken_sales: pd.DataFrame | None = None

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.tables.items())
        return f"SyntheticCase(as_of={self.as_of.date()}, seed={self.seed}, {sizes})"


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def inn_check_ok(inn) -> bool:
    """True when ``inn`` is a 10- or 12-digit Russian INN with correct check digits.

    >>> inn_check_ok("7707083893"), inn_check_ok("7707083894"), inn_check_ok("500100732259")
    (True, False, True)
    >>> inn_check_ok(None), inn_check_ok("77070838")
    (False, False)
    """
    if inn is None or (isinstance(inn, float) and np.isnan(inn)) or inn is pd.NA:
        return False
    s = str(inn).strip()
    if not s.isdigit() or len(s) not in (10, 12):
        return False
    d = np.array([int(c) for c in s])
    return bool(_inn_ok(d[None, :])[0])


_W10 = np.array([2, 4, 10, 3, 5, 9, 4, 6, 8])
_W11 = np.array([7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
_W12 = np.array([3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8])


def _inn_check(d: np.ndarray) -> np.ndarray:
    """Check digit(s) for rows of INN digits without them: 9 digits -> 1 column, 10 -> 2 columns."""
    if d.shape[1] == 9:
        return ((d @ _W10) % 11 % 10)[:, None]
    c11 = (d @ _W11) % 11 % 10
    c12 = (np.column_stack([d, c11]) @ _W12) % 11 % 10
    return np.column_stack([c11, c12])


def _inn_ok(d: np.ndarray) -> np.ndarray:
    """Vectorised check of full-length INN digit rows (all of one length)."""
    k = 1 if d.shape[1] == 10 else 2
    return (_inn_check(d[:, :-k]) == d[:, -k:]).all(axis=1)


def _pa(values) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _num(x: np.ndarray, width: int = 0) -> pa.Array:
    s = pc.cast(pa.array(np.asarray(x, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(s, width, "0") if width else s


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    idx = np.asarray(idx)
    return arr.take(pa.array(idx.astype(np.int32, copy=False) if len(arr) < 2**31 else idx))


def _where(mask: np.ndarray, a, b) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), a, b)


def _null_where(mask: np.ndarray, a: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), pa.scalar(None, pa.string()), a)


def _text(a) -> pd.arrays.ArrowStringArray:
    """A pyarrow string array as pandas ``string`` dtype."""
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    return pd.array(a, dtype="string")


def _dates(hist_start: pd.Timestamp, day: np.ndarray) -> np.ndarray:
    """Day offsets from ``hist_start`` (NaN allowed in float input) -> datetime64[ns]."""
    day = np.asarray(day)
    if day.dtype.kind in "iu":
        out = day.astype(np.int64) * _DAY_NS
        out += hist_start.value
        return out.view("datetime64[ns]")
    out = np.full(len(day), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = ~np.isnan(day)
    out[ok] = (hist_start.value + day[ok].astype(np.int64) * _DAY_NS).astype("datetime64[ns]")
    return out


def _weekday_fix(day: np.ndarray, w0: int) -> np.ndarray:
    """Move Saturdays to Friday and Sundays to Monday."""
    wd = (w0 + day) % 7
    return day - (wd == 5) + (wd == 6)


def _fmt_ru(x: np.ndarray, decimals: int = 2, sep: str = _NBSP) -> pa.Array:
    """Numbers as Russian exports print them: ``1 234,56`` (thousands separator ``sep``); NaN -> null.

    Built byte by byte with numpy (one column of bytes per character position), so that
    millions of values take a fraction of a second.

    >>> _fmt_ru(np.array([1234.5, -7.0, np.nan, 1234567.891, 0.004]), 2, " ").to_pylist()
    ['1 234,50', '-7,00', None, '1 234 567,89', '0,00']
    >>> _fmt_ru(np.array([999.0, 1000.0, 25.0]), 0, "").to_pylist()
    ['999', '1000', '25']
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    nan = np.isnan(x)
    scale = 10**decimals
    v = np.round(np.abs(np.where(nan, 0.0, x)) * scale).astype(np.int64)
    ip, fp = v // scale, v % scale
    neg = (x < 0) & (v > 0)
    pow10 = 10 ** np.arange(1, 19, dtype=np.int64)
    nd = 1 + np.searchsorted(pow10, ip, side="right")  # digits of the integer part
    dmax = int(nd.max()) if n else 1
    sepb = np.frombuffer(sep.encode("utf-8"), np.uint8)
    cols: list[np.ndarray] = [np.full(n, ord("-"), np.uint8)]
    valid: list[np.ndarray] = [neg]
    for p in range(dmax - 1, -1, -1):
        cols.append(((ip // 10**p) % 10 + 48).astype(np.uint8))
        valid.append(nd > p)
        if p and p % 3 == 0 and len(sepb):
            for byte in sepb:
                cols.append(np.full(n, byte, np.uint8))
                valid.append(nd > p)
    if decimals:
        cols.append(np.full(n, ord(","), np.uint8))
        valid.append(np.ones(n, bool))
        for p in range(decimals - 1, -1, -1):
            cols.append(((fp // 10**p) % 10 + 48).astype(np.uint8))
            valid.append(np.ones(n, bool))
    chars, ok = np.stack(cols, axis=1), np.stack(valid, axis=1)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(ok.sum(axis=1), out=offsets[1:])
    arr = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars[ok].tobytes()))
    return _null_where(nan, arr) if nan.any() else arr


def _fmt_dates(values, fmt: str = "%d.%m.%Y") -> pa.Array:
    """datetime64 values as text; formats each distinct day once (sales have millions of lines)."""
    v = np.asarray(values).astype("datetime64[ns]")
    nat = np.isnat(v)
    day = np.where(nat, 0, v.astype("datetime64[D]").astype(np.int64))
    if not len(v):
        return pa.array([], pa.string())
    lo, hi = int(day.min()), int(day.max())
    uniq = np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[ns]")
    txt = _take(pc.strftime(pa.array(uniq), format=fmt), day - lo)
    return _null_where(nat, txt) if nat.any() else txt


def _fmt_int(x: np.ndarray) -> pa.Array:
    x = np.asarray(x, dtype=np.float64)
    return _null_where(np.isnan(x), _num(np.where(np.isnan(x), 0, np.round(x))))


def _fmt_day(hist_start: pd.Timestamp, day: np.ndarray, fmt: str) -> pa.Array:
    return _fmt_dates(_dates(hist_start, day), fmt)


# --------------------------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------------------------
def generate_case(n_clients: int = 2000, seed: int = 0, as_of="2026-10-01", months: int = 36,
                  horizon: int = 6, season: float | None = None, trend: float | None = None, deals: bool = True,
                  marketing: bool = True) -> SyntheticCase:
    """Simulate a client base with ``n_clients`` cards and ``months`` of sales before ``as_of``.

    Parameters
    ----------
    n_clients : int
        Number of client cards (about 3 % of them are duplicate cards of another client).
    seed : int
        Seed of everything random; the same seed gives identical tables and files.
    as_of : date-like
        Analysis date; every sale in ``tables`` is strictly before it.
    months : int
        Months of sales history (at least 12).
    horizon : int
        Months after ``as_of`` simulated for the truth (future sales, deal outcomes).
    season : float or None
        Yearly amplitude of the monthly sales (0-0.4): every group swings by ``+- season`` around a common
        peak in August. None (default): each group has its own amplitude (0.08-0.18) and peak month, which
        gives the total a yearly swing of about +- 6 %.
    trend : float or None
        Monthly growth of the company's sales (-0.01...+0.01, compounded). None (default): 6 % a year.
    deals : bool
        False: the case has no ``deals`` table (and no ``deal_outcomes`` truth); the world, including the
        sales of won deals, is the same as with deals.
    marketing : bool
        False: the case has no ``marketing`` table; everything else is the same.

    Returns
    -------
    SyntheticCase
        ``tables``: canonical ``clients, sales, deals, stock, marketing, survey, contacts``;
        ``truth``: ``clients`` (one row per card: ``client_id, channel, true_wallet_month,
        true_share, true_share_band, true_base, regular, returns_after, duplicate_of, bad_inn,
        bad_phone, loss_making, two_managers``; a duplicate card carries the figures of the real
        client it belongs to), ``duplicates`` (``client_id, duplicate_of, reason``),
        ``future_sales`` (``client_id, product_group, month, amount``), ``deal_outcomes``
        (``deal_id, outcome, won_month`` of the open deals), ``broken_rows`` (``table, row,
        issue``), ``stock_truth`` (``product_group, demand_3m, stock_available, status``), and
        extra ``wallet_groups`` (``client_id, product_group, wallet_month, buys_from_us``) and
        ``contact_flags`` (``client_id, too_frequent, stale, last_contact``).

    Examples
    --------
    >>> c = generate_case(n_clients=40, seed=3, months=24, horizon=4)
    >>> len(c.tables["clients"]), c.as_of.date().isoformat()
    (40, '2026-10-01')
    >>> c.tables["sales"]["amount"].dtype, c.tables["clients"]["inn"].dtype
    (dtype('float64'), <StringDtype(na_value=<NA>)>)
    """
    if n_clients < 10:
        raise ValueError("n_clients must be at least 10")
    if months < 12 or horizon < 1:
        raise ValueError("months must be at least 12 and horizon at least 1")
    rng = np.random.default_rng(seed)
    _check_options(season, trend)
    s = {"n_clients": n_clients, "seed": seed, "as_of": as_of, "months": months, "horizon": horizon,
         "season": season, "trend": trend, "with_deals": bool(deals), "with_marketing": bool(marketing)}
    for step in _STEPS:
        step(rng, s)
    return _assemble(rng, s)


def _calendar(rng: np.random.Generator, s: dict) -> None:
    """The calendar of the history and the horizon, and how many cards and real clients.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads as_of, horizon, months, n_clients and adds as_of, asof_m,
        cal_month, D_12, D_asof, D_end, hist_start, mday, month_of, mstart, n, n_cards, n_dup, n_months, w0.
    """
    as_of, horizon, months, n_clients = s["as_of"], s["horizon"], s["months"], s["n_clients"]
    as_of = pd.Timestamp(as_of).normalize()
    hist_start = as_of - pd.DateOffset(months=months)
    horizon_end = as_of + pd.DateOffset(months=horizon)
    D_asof = int((as_of - hist_start).days)
    D_end = int((horizon_end - hist_start).days)
    D_12 = int((as_of - pd.DateOffset(months=12) - hist_start).days)
    w0 = int(hist_start.day_of_week)
    mstart = pd.date_range(hist_start.to_period("M").start_time, horizon_end.to_period("M").start_time
                           + pd.DateOffset(months=4), freq="MS")
    mday = ((mstart - hist_start).days).to_numpy().astype(np.int64)
    cal_month = mstart.month.to_numpy()
    n_months = len(mday) - 1

    def month_of(day):
        return np.searchsorted(mday, day, side="right") - 1

    asof_m = int(month_of(np.array([D_asof]))[0])

    n_cards = int(n_clients)
    n_dup = int(round(0.03 * n_cards)) if n_cards >= 30 else 0
    n = n_cards - n_dup  # real clients
    s.update(D_12=D_12, D_asof=D_asof, D_end=D_end, as_of=as_of, asof_m=asof_m, cal_month=cal_month,
             hist_start=hist_start, mday=mday, month_of=month_of, mstart=mstart, n=n, n_cards=n_cards, n_dup=n_dup,
             n_months=n_months, w0=w0)


def _wallets(rng: np.random.Generator, s: dict) -> None:
    """Channels, regions, potential drivers, true wallets, category mix and our share of each real client.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads n and adds bought, breadth, cdf, ch, drv, mix, region, share,
        state, wallet.
    """
    n = s["n"]
    ch = rng.choice(len(CHANNELS), size=n, p=_CHANNEL_P)
    rw = np.array([r[1] for r in _REGIONS], dtype=float)
    region = rng.choice(len(_REGIONS), size=n, p=rw / rw.sum())
    drv = {d: np.full(n, np.nan) for d in DRIVERS}
    wallet = np.zeros(n)

    def loguni(lo, hi, k):
        return np.exp(rng.uniform(np.log(lo), np.log(hi), k))

    for ci, cname in enumerate(CHANNELS):
        m = ch == ci
        k = int(m.sum())
        if cname == "retail":
            v = np.minimum(20, 1 + np.floor(rng.pareto(1.4, k) * 1.5))
            drv["outlets"][m] = v
            base = v
        elif cname == "chain":
            v = np.clip(np.round(loguni(10, 300, k)), 10, 300)
            drv["outlets"][m] = v
            base = v
        elif cname == "wholesale":
            v = np.clip(np.round(loguni(20, 2000, k)), 20, 2000)
            drv["own_clients"][m] = v
            base = v
        elif cname == "online":
            v = np.clip(np.round(loguni(50, 5000, k), -1), 50, 5000)
            drv["own_clients"][m] = v
            base = v
        elif cname == "end_user":
            mach = np.clip(np.round(loguni(2, 150, k)), 2, 150)
            share = np.clip(np.round(rng.beta(2.0, 2.5, k) * 100), 3, 100) / 100
            drv["machines"][m], drv["imported_machine_share"][m] = mach, share
            base = mach * share
        else:
            inst = np.clip(np.round(loguni(1, 40, k)), 1, 40)
            cost = np.round(loguni(80_000, 1_500_000, k), -3)
            drv["installations"][m], drv["avg_project_cost"][m] = inst, cost
            base = inst * cost
        wallet[m] = DRIVER_NORMS[cname] * base
    wallet *= np.exp(rng.normal(-WALLET_SIGMA**2 / 2, WALLET_SIGMA, n))
    wallet = np.round(wallet, 2)

    alpha = 10.0 * CHANNEL_MIX[ch]
    mix = rng.gamma(alpha)
    mix = np.maximum(mix, 1e-6)
    mix /= mix.sum(axis=1, keepdims=True)

    state = rng.choice(6, size=n, p=_STATE_P)
    band = rng.choice(3, size=n, p=[0.35, 0.40, 0.25])
    share = np.where(band == 0, loguni(0.0015, 0.008, n),
                     np.where(band == 1, loguni(0.013, 0.085, n), rng.uniform(0.13, 0.55, n)))
    breadth = np.where(band == 0, 1 + rng.binomial(1, 0.4, n),
                       np.where(band == 1, 1 + rng.binomial(3, 0.5, n), 3 + rng.binomial(_G - 3, 0.5, n)))
    key = rng.exponential(size=(n, _G)) / mix
    order_g = np.argsort(key, axis=1)
    rank = np.argsort(order_g, axis=1)
    cum = np.cumsum(np.take_along_axis(mix, order_g, axis=1), axis=1)
    needed = (cum < (share / 0.85)[:, None]).sum(axis=1) + 1
    breadth = np.minimum(np.maximum(breadth, needed), _G)
    bought = rank < breadth[:, None]
    cover = (mix * bought).sum(axis=1)
    pline = mix * bought / cover[:, None]
    cdf = np.cumsum(pline, axis=1)
    s.update(bought=bought, breadth=breadth, cdf=cdf, ch=ch, drv=drv, mix=mix, region=region, share=share,
             state=state, wallet=wallet)


def _rhythms(rng: np.random.Generator, s: dict) -> None:
    """Order rhythm, margins, managers and the life line (start, stop, sleep, return) of each client.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads breadth, ch, D_asof, D_end, n, share, state, wallet and adds
        closed, interval, line_base, margin, mgr, mgr_names, n_mgr, optimism, ours, p_lines, potential,
        recover_day, recover_f, seg_c, seg_lvl, seg_t0, seg_t1, skip, sleep_f, sleep_q, sleep_start, t0, t1.
    """
    D_asof, D_end, breadth, ch, n, share = s["D_asof"], s["D_end"], s["breadth"], s["ch"], s["n"], s["share"]
    state, wallet = s["state"], s["wallet"]
    ours = wallet * share  # expected monthly revenue with us
    weeks = 4.45 - (np.log10(np.maximum(ours, 300.0)) - 2.5) * 1.35 + rng.normal(0, 0.6, n)
    weeks += np.select([np.isin(ch, [1, 2]), ch == 4], [-0.6, 0.4], 0.0)
    interval = np.clip(weeks, 1.0, 8.0) * 7.0
    skip = rng.uniform(0.0, 0.2, n)
    # lost: ~60 % were regular buyers before they stopped, the rest sporadic
    lost = state == _LOST
    lost_regular = lost & (rng.random(n) < 0.62)
    interval = np.where(lost_regular, np.minimum(interval, rng.uniform(7, 24, n)), interval)
    skip = np.where(lost_regular, np.minimum(skip, 0.08), skip)
    sporadic = lost & ~lost_regular
    interval = np.where(sporadic, rng.uniform(45, 80, n), interval)
    skip = np.where(sporadic, rng.uniform(0.2, 0.4, n), skip)
    p_lines = 0.15 + 0.55 * (breadth - 1) / (_G - 1)
    mean_lines = 1 + 3 * p_lines
    line_base = ours * 12 / 365.25 * interval / (mean_lines * (1 - skip))

    margin = rng.uniform(0.10, 0.35, n)
    n_mgr = int(rng.integers(8, 16))
    mgr_names = list(rng.choice(_MANAGERS, size=n_mgr, replace=False))
    optimism = rng.uniform(0.10, 0.30, n_mgr)
    mgr = rng.choice(n_mgr, size=n, p=rng.dirichlet(np.full(n_mgr, 4.0)))

    t0 = -rng.uniform(0, 1, n) * interval  # phase of clients buying before the window
    later = (state == _ACTIVE) & (rng.random(n) < 0.22)
    t0 = np.where(later, rng.uniform(0, max(D_asof - 200, 1), n), t0)
    t0 = np.where(state == _NEW, D_asof - rng.uniform(25, 180, n), t0)
    t1 = np.full(n, float(D_end))
    churn = (state == _ACTIVE) & (rng.random(n) < 0.03)
    t1 = np.where(churn, D_asof + rng.uniform(0, D_end - D_asof, n), t1)
    stop_lo, stop_hi = 122, min(730, D_asof - 90)
    t1 = np.where(lost, D_asof - rng.uniform(stop_lo, stop_hi, n), t1)
    lost_start_late = lost & (rng.random(n) < 0.25)
    t0 = np.where(lost_start_late, rng.uniform(0, 1, n) * np.maximum(t1 - 180, 0), t0)
    closed = state == _CLOSED
    closed_recent = closed & (rng.random(n) < 0.25)
    t1 = np.where(closed, D_asof - rng.uniform(365, D_asof + 400, n), t1)
    t1 = np.where(closed_recent, D_asof - rng.uniform(1, 60, n), t1)
    potential = state == _POTENTIAL
    sleeping = state == _SLEEPING
    sleep_start = np.where(sleeping, D_asof - rng.uniform(122, 184, n), np.inf)
    sleep_f = rng.uniform(0.1, 0.4, n)
    sleep_q = rng.uniform(0.0, 0.5, n)
    recovers = sleeping & (rng.random(n) < 0.5)
    recover_day = np.where(recovers, D_asof + rng.uniform(0, 60, n), np.inf)
    recover_f = sleep_f + (1 - sleep_f) * rng.uniform(0.5, 1.0, n)
    t0 = np.where(sleeping, np.minimum(t0, sleep_start - 240), t0)
    returner = lost & (rng.random(n) < 0.05)

    # segments of buying: the main one, and the return of a few lost clients in the horizon
    seg_c = np.flatnonzero(~potential)
    seg_t0, seg_t1 = t0[seg_c], t1[seg_c]
    seg_lvl = np.ones(len(seg_c))
    rc = np.flatnonzero(returner)
    seg_c = np.concatenate([seg_c, rc])
    seg_t0 = np.concatenate([seg_t0, D_asof + rng.uniform(0, max(D_end - D_asof - 25, 1), len(rc))])
    seg_t1 = np.concatenate([seg_t1, np.full(len(rc), float(D_end))])
    seg_lvl = np.concatenate([seg_lvl, rng.uniform(0.3, 1.0, len(rc))])
    s.update(closed=closed, interval=interval, line_base=line_base, margin=margin, mgr=mgr, mgr_names=mgr_names,
             n_mgr=n_mgr, optimism=optimism, ours=ours, p_lines=p_lines, potential=potential,
             recover_day=recover_day, recover_f=recover_f, seg_c=seg_c, seg_lvl=seg_lvl, seg_t0=seg_t0,
             seg_t1=seg_t1, skip=skip, sleep_f=sleep_f, sleep_q=sleep_q, sleep_start=sleep_start, t0=t0, t1=t1)


def _orders(rng: np.random.Generator, s: dict) -> None:
    """The order days of every client (sorted by day), with their level factor.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads D_asof, D_end, interval, n, recover_day, recover_f, seg_c,
        seg_lvl, seg_t0, seg_t1, skip, sleep_f, sleep_q, sleep_start, w0 and adds hist_orders, n_ord, n_ord_h,
        oc, oday, ofac.
    """
    D_asof, D_end, interval, n, recover_day = s["D_asof"], s["D_end"], s["interval"], s["n"], s["recover_day"]
    recover_f, seg_c, seg_lvl, seg_t0, seg_t1 = s["recover_f"], s["seg_c"], s["seg_lvl"], s["seg_t0"], s["seg_t1"]
    skip, sleep_f, sleep_q, sleep_start, w0 = s["skip"], s["sleep_f"], s["sleep_q"], s["sleep_start"], s["w0"]
    # (memory matters at 10M lines: small dtypes, in-place arithmetic, views instead of copies)
    iv = interval[seg_c]
    cnt = np.where(seg_t1 > seg_t0, np.floor((seg_t1 - seg_t0) / iv).astype(np.int64) + 1, 0)
    n_raw = int(cnt.sum())
    seg = np.repeat(np.arange(len(seg_c), dtype=np.int32), cnt)
    x = np.clip(rng.normal(0, 0.2, n_raw), -0.45, 0.45)  # jitter in intervals
    x += np.arange(n_raw, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt) + 0.5
    x *= iv[seg]
    x += seg_t0[seg]
    oday = _weekday_fix(np.floor(x).astype(np.int32), w0)
    del x
    oc = seg_c[seg].astype(np.int32)
    keep = (oday >= np.maximum(np.ceil(seg_t0), 0)[seg]) & (oday < np.minimum(seg_t1, D_end)[seg])
    keep &= rng.random(n_raw) >= skip[oc]
    in_sleep = (oday >= sleep_start[oc]) & (oday < recover_day[oc])
    keep &= ~(in_sleep & (rng.random(n_raw) < sleep_q[oc]))
    ofac = seg_lvl[seg] * np.where(in_sleep, sleep_f[oc] / (1 - sleep_q[oc]),
                                   np.where(oday >= recover_day[oc], recover_f[oc], 1.0))
    oday, oc, ofac = oday[keep], oc[keep], ofac[keep]
    del seg, keep, in_sleep
    srt = np.argsort(oday.astype(np.int16) if D_end < 32_000 else oday, kind="stable")
    oday, oc, ofac = oday[srt], oc[srt], ofac[srt]
    del srt
    n_ord = len(oday)
    n_ord_h = int(np.searchsorted(oday, D_asof))  # orders before as_of come first
    hist_orders = np.bincount(oc[:n_ord_h], minlength=n)
    s.update(hist_orders=hist_orders, n_ord=n_ord, n_ord_h=n_ord_h, oc=oc, oday=oday, ofac=ofac)


def _duplicates_and_damage(rng: np.random.Generator, s: dict) -> None:
    """Duplicate cards, the orders booked on them, two managers and loss-making clients.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads D_asof, hist_orders, margin, mgr, n, n_dup, n_mgr, n_ord, oc,
        oday, state, t0, t1 and adds card_mgr, dup_reason, loss, margin, masters, mgr2, n_cards, n_dup, ocard,
        omgr, two.
    """
    D_asof, hist_orders, margin, mgr, n = s["D_asof"], s["hist_orders"], s["margin"], s["mgr"], s["n"]
    n_dup, n_mgr, n_ord, oc, oday, state = s["n_dup"], s["n_mgr"], s["n_ord"], s["oc"], s["oday"], s["state"]
    t0, t1 = s["t0"], s["t1"]
    cand = np.flatnonzero(np.isin(state, [_ACTIVE, _NEW, _SLEEPING, _LOST]) & (hist_orders >= 4))
    n_dup = min(n_dup, len(cand))
    masters = np.sort(rng.choice(cand, size=n_dup, replace=False)) if n_dup else np.zeros(0, np.int64)
    n_cards = n + n_dup
    dup_reason = rng.choice(3, size=n_dup, p=[0.4, 0.3, 0.3])  # same_inn, same_phone, similar_name
    dup_of_real = np.full(n, -1)
    dup_of_real[masters] = np.arange(n_dup)  # real client -> its duplicate number
    lo_b, hi_b = np.maximum(t0[masters], 0), np.minimum(t1[masters], D_asof)
    dup_day = np.full(n, np.inf)
    dup_day[masters] = lo_b + rng.uniform(0.1, 0.8, n_dup) * (hi_b - lo_b)  # the second card appears
    dup_frac = np.zeros(n)
    dup_frac[masters] = rng.uniform(0.3, 0.7, n_dup)  # share of later orders booked on it
    ocard = np.where((oday >= dup_day[oc]) & (rng.random(n_ord) < dup_frac[oc]), n + dup_of_real[oc],
                     oc).astype(np.int32)

    # two managers, loss-making clients
    two_cand = np.flatnonzero(np.isin(state, [_ACTIVE, _NEW, _SLEEPING]) & (hist_orders >= 6)
                              & (dup_of_real < 0))
    n_two = min(len(two_cand), max(1, int(round(0.03 * n))))
    two = np.zeros(n, bool)
    two[rng.choice(two_cand, size=n_two, replace=False)] = True
    mgr2 = (mgr + 1 + rng.integers(0, n_mgr - 1, n)) % n_mgr
    p2 = rng.uniform(0.2, 0.5, n)
    loss_cand = np.flatnonzero(np.isin(state, [_ACTIVE, _NEW, _SLEEPING]) & (hist_orders >= 3))
    loss = np.zeros(n, bool)
    loss[rng.choice(loss_cand, size=min(len(loss_cand), max(1, int(round(0.03 * n)))), replace=False)] = True
    margin = np.where(loss, rng.uniform(-0.15, -0.04, n), margin)

    card_mgr = np.concatenate([mgr, np.where(rng.random(n_dup) < 0.4, mgr2[masters], mgr[masters])])
    omgr = np.where(ocard >= n, card_mgr[ocard],
                    np.where(two[oc] & (rng.random(n_ord) < p2[oc]), mgr2[oc], mgr[oc])).astype(np.int16)
    s.update(card_mgr=card_mgr, dup_reason=dup_reason, loss=loss, margin=margin, masters=masters, mgr2=mgr2,
             n_cards=n_cards, n_dup=n_dup, ocard=ocard, omgr=omgr, two=two)


def _order_lines(rng: np.random.Generator, s: dict) -> None:
    """The lines of the orders (group, amount with season, growth and noise) and the returns.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads cal_month, cdf, D_asof, D_end, line_base, month_of, n_ord, oc,
        ocard, oday, ofac, omgr, p_lines, season, trend, w0 and adds cents, lc, lcard, lday, lg, lm, lmgr, lo, n_l, n_mcol,
        rcents, rday, rsel.
    """
    D_asof, D_end, cal_month, cdf, line_base = s["D_asof"], s["D_end"], s["cal_month"], s["cdf"], s["line_base"]
    month_of, n_ord, oc, ocard, oday, ofac = s["month_of"], s["n_ord"], s["oc"], s["ocard"], s["oday"], s["ofac"]
    omgr, p_lines, w0 = s["omgr"], s["p_lines"], s["w0"]
    amp, peak = (_GROUP_AMP, _GROUP_PEAK) if s["season"] is None else (np.full(_G, float(s["season"])), _SEASON_PEAK)
    growth = np.log(1.06) / 365.25 if s["trend"] is None else np.log1p(float(s["trend"])) * 12 / 365.25
    nl_o = 1 + rng.binomial(3, p_lines[oc])
    lo = np.repeat(np.arange(n_ord, dtype=np.int32), nl_o)
    del nl_o
    n_l = len(lo)
    lc = oc[lo]
    lday = oday[lo]
    x = rng.random(n_l)
    lg = np.zeros(n_l, np.int8)
    for j in range(_G - 1):
        lg += x > cdf[:, j][lc]
    season = 1 + amp[:, None] * np.cos(2 * np.pi * (cal_month[None, :] - np.broadcast_to(peak, _G)[:, None]) / 12)
    n_mcol = season.shape[1]
    lm = month_of(lday).astype(np.int16)
    amt = line_base[lc]
    amt *= ofac[lo]
    amt *= season.ravel()[lg.astype(np.int32) * n_mcol + lm]
    x = (lday - D_asof).astype(np.float64)
    x *= growth  # company growth (6 % a year unless trend is given)
    np.exp(x, out=x)
    amt *= x
    x = rng.normal(-0.18, 0.6, n_l)
    np.exp(x, out=x)
    amt *= x
    del x
    amt *= 100
    np.round(amt, out=amt)
    np.maximum(amt, 1000, out=amt)
    cents = amt.astype(np.int64)
    del amt
    lcard, lmgr = ocard[lo], omgr[lo]

    # returns: a copy of ~2 % of the lines, negative, some days later
    rsel = np.flatnonzero(rng.random(n_l) < 0.02)
    rday = _weekday_fix(lday[rsel] + rng.integers(2, 21, len(rsel)).astype(np.int32), w0)
    rok = rday < D_end
    rsel, rday = rsel[rok], rday[rok]
    rcents = -np.maximum(np.round(cents[rsel] * rng.uniform(0.1, 1.0, len(rsel))), 100).astype(np.int64)
    s.update(cents=cents, lc=lc, lcard=lcard, lday=lday, lg=lg, lm=lm, lmgr=lmgr, lo=lo, n_l=n_l, n_mcol=n_mcol,
             rcents=rcents, rday=rday, rsel=rsel)


def _deals(rng: np.random.Generator, s: dict) -> None:
    """Closed and open deals of the managers' forecast, their true outcome and the lines of won deals.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads asof_m, D_asof, D_end, hist_orders, horizon, mday, mgr, mix,
        month_of, n, n_mgr, optimism, ours, potential, state, t0, t1, two, w0, wallet and adds closed_day,
        created, d_amount, d_client, d_group, d_mgr, d_num, d_open, d_pct, d_pm, d_stage, d_wm, d_won, deal_ids,
        dl, dl_cents, dord, nd, sday.
    """
    D_asof, D_end, asof_m, hist_orders = s["D_asof"], s["D_end"], s["asof_m"], s["hist_orders"]
    horizon, mday, mgr, mix, month_of, n = s["horizon"], s["mday"], s["mgr"], s["mix"], s["month_of"], s["n"]
    n_mgr, optimism, ours, potential, state = s["n_mgr"], s["optimism"], s["ours"], s["potential"], s["state"]
    t0, t1, two, w0, wallet = s["t0"], s["t1"], s["two"], s["w0"], s["wallet"]
    start_m = month_of(np.maximum(np.ceil(t0), 0).astype(np.int64))
    stop_m = month_of(np.minimum(t1, D_end - 1).astype(np.int64))
    lo_m = np.maximum(start_m, asof_m - 18)
    hi_m = np.minimum(stop_m - 2, asof_m - 2)
    elig = np.flatnonzero(~potential & (hi_m >= lo_m) & (hist_orders > 0))
    n_closed = int(round(0.45 * n)) if len(elig) else 0
    dc = rng.choice(elig, size=n_closed, p=np.sqrt(ours[elig] + 1) / np.sqrt(ours[elig] + 1).sum()) \
        if n_closed else np.zeros(0, np.int64)
    d_pm = lo_m[dc] + np.floor(rng.random(n_closed) * (hi_m[dc] - lo_m[dc] + 1)).astype(np.int64)
    open_pool = np.flatnonzero(np.isin(state, [_ACTIVE, _NEW, _SLEEPING]) & (t1 >= D_end))
    pot_pool = np.flatnonzero(potential)
    n_open = int(round(0.10 * n))
    n_open_pot = min(len(pot_pool), int(round(0.2 * n_open)))
    oc_deal = np.concatenate([rng.choice(open_pool, size=n_open - n_open_pot),
                              rng.choice(pot_pool, size=n_open_pot, replace=False)])
    n_open = len(oc_deal)
    d_client = np.concatenate([dc, oc_deal])
    nd = len(d_client)
    d_open = np.arange(nd) >= n_closed
    d_pm = np.concatenate([d_pm, asof_m + rng.integers(0, min(3, horizon), n_open)])
    d_stage = rng.choice(len(STAGES), size=nd, p=_STAGE_P)
    d_won = rng.random(nd) < STAGE_WIN[d_stage]
    d_slip = d_won & (rng.random(nd) < 0.25)
    d_wm = d_pm + d_slip
    size = np.where(potential[d_client], wallet[d_client] * rng.uniform(0.05, 0.25, nd),
                    np.maximum(ours[d_client], 0.02 * wallet[d_client]))
    size = size * (size / max(float(np.median(size)), 1.0)) ** -0.25 * rng.uniform(0.5, 3.0, nd)  # tail softened
    d_amount = np.maximum(np.round(size, -3), 3000.0)
    d_group = (rng.random(nd)[:, None] > np.cumsum(mix[d_client], axis=1)).sum(axis=1)
    d_group = np.minimum(d_group, _G - 1)
    d_mgr = mgr[d_client]
    d_mgr = np.where(rng.random(nd) < 0.1, rng.integers(0, n_mgr, nd), d_mgr)  # a colleague's deal now and then
    d_mgr = np.where(two[d_client], mgr[d_client], d_mgr)
    stated = STAGE_WIN[d_stage] + optimism[d_mgr] + rng.normal(0, 0.04, nd)
    d_pct = np.clip(np.round(stated * 20) * 5, 5, 100)
    # sale day of won deals: a working day in the won month (after as_of for open deals)
    lo_day = np.maximum(mday[d_wm], np.where(d_open, D_asof, 0))
    hi_day = mday[d_wm + 1]
    sday = np.floor(lo_day + rng.random(nd) * (hi_day - lo_day)).astype(np.int64)
    sday = _weekday_fix(sday, w0)
    sday = np.where(sday >= hi_day, sday - 7, sday)
    sday = np.maximum(sday, lo_day)
    created = np.where(d_open, D_asof - rng.uniform(5, 90, nd), mday[d_pm] - rng.uniform(15, 120, nd))
    created = np.floor(created)
    lost_close = np.minimum(mday[d_pm] + rng.uniform(0, 45, nd), D_asof - 1)
    closed_day = np.where(d_open, np.nan, np.where(d_won, sday, np.floor(lost_close)))
    closed_day = np.where(~d_open, np.maximum(closed_day, created + 1), closed_day)
    dord = np.lexsort((np.arange(nd), created))  # deal numbers in order of creation
    d_num = np.empty(nd, np.int64)
    d_num[dord] = np.arange(nd) + 1001
    deal_ids = _join("CRM-", _num(d_num, 6))
    # deal lines (won deals; open ones only in the horizon)
    dl_sel = np.flatnonzero(d_won & (sday < D_end))
    dl_n = 1 + rng.binomial(2, 0.4, len(dl_sel))
    dl = np.repeat(dl_sel, dl_n)
    wts = rng.exponential(size=len(dl))
    wsum = np.bincount(np.repeat(np.arange(len(dl_sel)), dl_n), weights=wts)
    dl_cents = np.round(d_amount[dl] * rng.uniform(0.92, 1.03, len(dl_sel))[np.repeat(
        np.arange(len(dl_sel)), dl_n)] * wts / np.repeat(wsum, dl_n) * 100).astype(np.int64)
    dl_cents = np.maximum(dl_cents, 1000)
    s.update(closed_day=closed_day, created=created, d_amount=d_amount, d_client=d_client, d_group=d_group,
             d_mgr=d_mgr, d_num=d_num, d_open=d_open, d_pct=d_pct, d_pm=d_pm, d_stage=d_stage, d_wm=d_wm,
             d_won=d_won, deal_ids=deal_ids, dl=dl, dl_cents=dl_cents, dord=dord, nd=nd, sday=sday)


def _all_lines(rng: np.random.Generator, s: dict) -> None:
    """Order lines, returns and deal lines merged by day, with cost, SKU and quantity; history / future split.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads cents, D_asof, d_client, d_group, d_mgr, d_wm, dl, dl_cents,
        lc, lcard, lday, lg, lm, lmgr, lo, loss, margin, month_of, n_l, rcents, rday, rsel, sday and adds f, h,
        n_lines.
    """
    D_asof, cents, d_client, d_group, d_mgr = s["D_asof"], s["cents"], s["d_client"], s["d_group"], s["d_mgr"]
    d_wm, dl, dl_cents, lc, lcard, lday = s["d_wm"], s["dl"], s["dl_cents"], s["lc"], s["lcard"], s["lday"]
    lg, lm, lmgr, lo, loss, margin = s["lg"], s["lm"], s["lmgr"], s["lo"], s["loss"], s["margin"]
    month_of, n_l, rcents, rday, rsel, sday = s["month_of"], s["n_l"], s["rcents"], s["rday"], s["rsel"], s["sday"]
    # returns and deal lines are inserted into the day-sorted order lines
    e_day = np.concatenate([rday, sday[dl].astype(np.int32)])
    eo = np.argsort(e_day, kind="stable")
    ins = np.searchsorted(lday, e_day[eo], side="right")

    def merged(main, *extra):
        return np.insert(main, ins, np.concatenate(extra)[eo])

    n_ret = len(rsel)
    a_c = merged(lc, lc[rsel], d_client[dl].astype(np.int32))
    a_card = merged(lcard, lcard[rsel], d_client[dl].astype(np.int32))
    a_day = merged(lday, rday, sday[dl].astype(np.int32))
    a_g = merged(lg, lg[rsel], d_group[dl].astype(np.int8))
    a_m = merged(lm, month_of(rday).astype(np.int16), d_wm[dl].astype(np.int16))
    a_cents = merged(cents, rcents, dl_cents)
    a_kind = merged(np.zeros(n_l, np.int8), np.ones(n_ret, np.int8), np.full(len(dl), 2, np.int8))
    a_num = merged(lo, np.zeros(n_ret, np.int32), dl.astype(np.int32))
    a_mgr = merged(lmgr, lmgr[rsel], d_mgr[dl].astype(np.int16))
    del lc, lcard, lday, lg, lm, cents, lo, lmgr
    N = len(a_c)
    x = margin[a_c]
    x += _GROUP_MARGIN[a_g]
    x += rng.normal(0, 0.02, N)
    lossl = loss[a_c]
    x = np.where(lossl, np.minimum(x, -0.01), np.maximum(x, 0.03))
    np.subtract(1.0, x, out=x)
    x *= a_cents
    a_cost = np.round(x).astype(np.int64)
    sku_price = _GROUP_PRICE[:, None] * np.exp(rng.normal(0, 0.6, (_G, _N_SKU)))
    x = rng.random(N)
    x *= x
    x *= _N_SKU
    a_sku = x.astype(np.int16)
    x = np.abs(a_cents) / 100.0
    x /= sku_price[a_g, a_sku]
    np.round(x, out=x)
    np.maximum(x, 1.0, out=x)
    x *= np.sign(a_cents)
    qty = x
    del x, lossl

    n_lines = int(np.searchsorted(a_day, D_asof))  # lines before as_of: a prefix (views, no copies)
    h = {k: v[:n_lines] for k, v in dict(c=a_c, card=a_card, day=a_day, g=a_g, m=a_m, cents=a_cents, kind=a_kind,
                                         num=a_num, mgr=a_mgr, cost=a_cost, sku=a_sku, qty=qty).items()}
    f = {k: v[n_lines:] for k, v in dict(c=a_c, card=a_card, day=a_day, g=a_g, m=a_m, cents=a_cents).items()}
    s.update(f=f, h=h, n_lines=n_lines)


def _card_names(rng: np.random.Generator, s: dict) -> None:
    """Card codes and the names of the real and the duplicate cards.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads ch, dup_reason, masters, n, n_cards, n_dup, region and adds
        card_ids, card_names, codes, creal, i1, is_dup, nth, person, slug, sur_lat.
    """
    ch, dup_reason, masters, n, n_cards = s["ch"], s["dup_reason"], s["masters"], s["n"], s["n_cards"]
    n_dup, region = s["n_dup"], s["region"]
    creal = np.concatenate([np.arange(n), masters])
    is_dup = np.arange(n_cards) >= n
    codes = rng.permutation(n_cards) + 1
    cm, cd = codes[masters], codes[n:]
    swap = cd < cm
    codes[masters[swap]], codes[n + np.flatnonzero(swap)] = cd[swap], cm[swap]
    card_ids = _join("00-", _num(codes, 6))

    # names: company = legal form + prefix + suffix (+ tail); ИП = surname + initials
    person = rng.random(n) < np.where(np.isin(ch, [0, 5]), 0.25, 0.05)
    form = rng.choice(4, size=n, p=[0.8, 0.09, 0.08, 0.03])  # ООО, АО, ЗАО, ПАО
    ip_, is_, it_ = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
    isur, female = np.zeros(n, np.int64), np.zeros(n, bool)
    i1, i2 = np.zeros(n, np.int64), np.zeros(n, np.int64)
    pre_lat, suf_lat = np.array([p[1] for p in _PREFIX]), np.array([x[1] for x in _SUFFIX])
    todo = np.arange(n)
    for _ in range(4):  # redraw namesakes in one city a few times, number the rest
        k = len(todo)
        ip_[todo], is_[todo] = rng.integers(0, len(_PREFIX), k), rng.integers(0, len(_SUFFIX), k)
        is_[todo] = np.where(pre_lat[ip_[todo]] == suf_lat[is_[todo]], (is_[todo] + 1) % len(_SUFFIX), is_[todo])
        it_[todo] = rng.choice(len(_TAIL), size=k, p=_TAIL_P)
        isur[todo], female[todo] = rng.integers(0, len(_SURNAMES), k), rng.random(k) < 0.3
        i1[todo], i2[todo] = rng.integers(0, len(_INITIALS), k), rng.integers(0, len(_INITIALS), k)
        kname = np.where(person, ((isur * 2 + female) * 100 + i1) * 100 + i2,
                         (ip_ * 100 + is_) * 100 + it_) * 1000 + region * 2 + person
        todo = np.flatnonzero(pd.Series(kname).duplicated().to_numpy())
        if not len(todo):
            break
    nth = pd.Series(kname).groupby(kname).cumcount().to_numpy()
    core = _join(_take(_pa(p[0] for p in _PREFIX), ip_), _take(_pa(x[0] for x in _SUFFIX), is_),
                 _take(_pa(t[0] for t in _TAIL), it_))
    slug = _join(_take(_pa(p[1] for p in _PREFIX), ip_), _take(_pa(x[1] for x in _SUFFIX), is_),
                 _take(_pa(t[1] for t in _TAIL), it_))
    sur = _join(_take(_pa(x[0] for x in _SURNAMES), isur), _where(female, pa.scalar("а"), pa.scalar("")))
    sur_lat = _join(_take(_pa(x[1] for x in _SURNAMES), isur), _where(female, pa.scalar("a"), pa.scalar("")))
    ini = _pa(_INITIALS)
    initials = _join(_take(ini, i1), ".", _take(ini, i2), ".")
    core = _where(nth > 0, _join(core, "-", _num(nth + 1)), core)
    sur = _where(person & (nth > 0), _join(sur, "-", _num(nth + 1)), sur)
    legal = _take(_pa(["ООО", "АО", "ЗАО", "ПАО"]), form)
    up = pc.utf8_upper(core)
    comp_v = [_join(legal, " «", core, "»"), _join(legal, " \"", core, "\""), _join(core, " ", legal),
              _join("\"", up, "\", ", legal), _join(legal, " ", core)]
    pers_v = [_join("ИП ", sur, " ", initials), _join("ИП ", sur, " ", _take(ini, i1), ". ", _take(ini, i2), "."),
              _join(sur, " ", initials, " ИП"), _join("ИП ", pc.utf8_upper(sur), " ", initials),
              _join("Индивидуальный предприниматель ", sur, " ", initials)]
    name_v = [_where(person, pv, cv) for pv, cv in zip(pers_v, comp_v)]
    mfmt = rng.choice(3, size=n, p=[0.72, 0.2, 0.08])
    names = pc.choose(pa.array(mfmt.astype(np.int8)), *name_v)
    # duplicate cards' names: another spelling, sometimes with a typo
    dfmt = np.where(dup_reason == 0, np.where(rng.random(n_dup) < 0.5, mfmt[masters], 2 + rng.integers(0, 3, n_dup)),
                    2 + rng.integers(0, 3, n_dup))
    dfmt = np.where((dup_reason == 2) & (dfmt == 4), 2 + rng.integers(0, 2, n_dup), dfmt)
    typo = (dup_reason == 2) & ((rng.random(n_dup) < 0.5) | (dfmt == mfmt[masters]))
    tkind = rng.integers(0, 3, n_dup)
    core_m, sur_m = _take(core, masters), _take(sur, masters)

    def typoed(a):
        t0_ = pc.replace_substring_regex(a, pattern="^(.{3})(.)(.)", replacement="\\1\\3\\2")
        t1_ = pc.replace_substring_regex(a, pattern="^(.+?)о", replacement="\\1а", max_replacements=1)
        t2_ = pc.replace_substring_regex(a, pattern="^(.{4})(.)", replacement="\\1\\2\\2")
        t = pc.choose(pa.array(tkind.astype(np.int8)), t0_, t1_, t2_)
        return _where(typo, t, a)

    core_d, sur_d = typoed(core_m), typoed(sur_m)
    up_d = pc.utf8_upper(core_d)
    legal_d, ini_d = _take(legal, masters), _take(initials, masters)
    ini1_d, ini2_d = _take(_take(ini, i1), masters), _take(_take(ini, i2), masters)
    comp_d = [_join(legal_d, " «", core_d, "»"), _join(legal_d, " \"", core_d, "\""), _join(core_d, " ", legal_d),
              _join("\"", up_d, "\", ", legal_d), _join(legal_d, " ", core_d)]
    pers_d = [_join("ИП ", sur_d, " ", ini_d), _join("ИП ", sur_d, " ", ini1_d, ". ", ini2_d, "."),
              _join(sur_d, " ", ini_d, " ИП"), _join("ИП ", pc.utf8_upper(sur_d), " ", ini_d),
              _join("Индивидуальный предприниматель ", sur_d, " ", ini_d)]
    pm = person[masters]
    dnames = pc.choose(pa.array(dfmt.astype(np.int8)), *[_where(pm, p_, c_) for p_, c_ in zip(pers_d, comp_d)])
    card_names = pa.concat_arrays([names, dnames])
    s.update(card_ids=card_ids, card_names=card_names, codes=codes, creal=creal, i1=i1, is_dup=is_dup, nth=nth,
             person=person, slug=slug, sur_lat=sur_lat)


def _card_contacts(rng: np.random.Generator, s: dict) -> None:
    """INNs, phones and e-mails of the real clients, and the card-level fields of every card.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads ch, creal, dup_reason, i1, masters, n, n_dup, nth, person,
        region, slug, sur_lat and adds c_channel, c_email, c_has_email, c_has_inn, c_has_phone, c_inn_int,
        c_inn_len, c_nat, c_phone, c_region.
    """
    ch, creal, dup_reason, i1, masters, n = s["ch"], s["creal"], s["dup_reason"], s["i1"], s["masters"], s["n"]
    n_dup, nth, person, region, slug = s["n_dup"], s["nth"], s["person"], s["region"], s["slug"]
    sur_lat = s["sur_lat"]
    # INN
    rcode = np.array([r[3] for r in _REGIONS])[region]
    inn_int = np.zeros(n, np.int64)
    inn_len = np.where(person, 12, 10)
    todo = np.arange(n)
    while len(todo):
        for L in (10, 12):
            idx = todo[inn_len[todo] == L]
            if not len(idx):
                continue
            body = rng.integers(0, 10, (len(idx), L - 4 - (1 if L == 10 else 2)))
            head = np.column_stack([rcode[idx] // 10, rcode[idx] % 10, rng.integers(0, 5, len(idx)),
                                    rng.integers(1, 10, len(idx))])
            d = np.column_stack([head, body])
            d = np.column_stack([d, _inn_check(d)])
            inn_int[idx] = d @ (10 ** np.arange(L - 1, -1, -1, dtype=np.int64))
        key2 = inn_int * 100 + inn_len
        _, first = np.unique(key2, return_index=True)
        dupmask = np.ones(n, bool)
        dupmask[first] = False
        todo = np.flatnonzero(dupmask)
    has_inn = rng.random(n) < 0.86
    has_inn[masters[dup_reason == 0]] = True
    # phones: national 10-digit numbers, unique
    rphone = np.array([r[2] for r in _REGIONS])[region]
    mobile = rng.random(n) < 0.65
    nat = np.zeros(n, np.int64)
    todo = np.arange(n)
    while len(todo):
        code = np.where(mobile[todo], rng.integers(900, 1000, len(todo)), rphone[todo])
        nat[todo] = code * 10**7 + rng.integers(2_000_000, 10**7, len(todo))
        _, first = np.unique(nat, return_index=True)
        dupmask = np.ones(n, bool)
        dupmask[first] = False
        todo = np.flatnonzero(dupmask)
    has_phone = rng.random(n) < 0.90
    has_phone[masters[dup_reason == 1]] = True
    pfmt = rng.choice(8, size=n, p=[0.3, 0.2, 0.12, 0.05, 0.08, 0.1, 0.1, 0.05])

    def phone_text(nat_, fmt_):
        code_ = _num(nat_ // 10**7, 3)
        a_, b_, c_ = _num((nat_ // 10**4) % 1000, 3), _num((nat_ // 100) % 100, 2), _num(nat_ % 100, 2)
        v = [_join("+7 (", code_, ") ", a_, "-", b_, "-", c_), _join("8 (", code_, ") ", a_, "-", b_, "-", c_),
             _join("+7", code_, a_, b_, c_), _join("7", code_, a_, b_, c_),
             _join("8-", code_, "-", a_, "-", b_, "-", c_), _join("8", code_, a_, b_, c_),
             _join("+7 ", code_, " ", a_, " ", b_, " ", c_), _join("8 ", code_, " ", a_, b_, c_)]
        return pc.choose(pa.array(fmt_.astype(np.int8)), *v)

    # e-mails from the latin spelling of the name
    free = rng.random(n) < 0.25
    login = _take(_pa(_COMPANY_LOGIN), rng.integers(0, len(_COMPANY_LOGIN), n))
    slug_p = _join(sur_lat, _take(_pa(_INITIALS_LAT), i1))
    base_slug = _where(person, slug_p, pc.replace_substring_regex(slug, "[^a-z0-9-]", ""))
    base_slug = _where(nth > 0, _join(base_slug, _num(nth + 1)), base_slug)
    tld = _take(_pa([".ru", ".com", ".su"]), rng.choice(3, size=n, p=[0.85, 0.1, 0.05]))
    fm = _take(_pa(_FREE_MAIL), rng.integers(0, len(_FREE_MAIL), n))
    emails = _where(free | person, _join(base_slug, _num(rng.integers(1, 99, n)), "@", fm),
                    _join(login, "@", base_slug, tld))
    has_email = rng.random(n) < 0.75

    # card-level fields (duplicates built from their master)
    u_d = rng.random(n_dup)
    c_has_inn = np.concatenate([has_inn, dup_reason == 0])
    c_inn_int = np.concatenate([inn_int, inn_int[masters]])
    c_inn_len = np.concatenate([inn_len, inn_len[masters]])
    c_nat = np.concatenate([nat, np.where(dup_reason == 1, nat[masters], 0)])
    other_phone = (dup_reason != 1) & (u_d < 0.35)  # another number of the same company
    new_nat = rng.integers(900, 1000, n_dup) * 10**7 + rng.integers(2_000_000, 10**7, n_dup)
    while True:
        clash = np.isin(new_nat, nat) | (pd.Series(new_nat).duplicated().to_numpy())
        if not clash.any():
            break
        new_nat[clash] = rng.integers(900, 1000, int(clash.sum())) * 10**7 + rng.integers(
            2_000_000, 10**7, int(clash.sum()))
    c_nat[n:] = np.where(other_phone, new_nat, c_nat[n:])
    c_has_phone = np.concatenate([has_phone, (dup_reason == 1) | other_phone])
    c_pfmt = np.concatenate([pfmt, (pfmt[masters] + 1 + rng.integers(0, 7, n_dup)) % 8])
    c_phone = phone_text(c_nat, c_pfmt)
    c_email = pa.concat_arrays([emails, _take(emails, masters)])
    c_has_email = np.concatenate([has_email, has_email[masters] & (rng.random(n_dup) < 0.3)])
    c_region = region[creal]
    c_channel = ch[creal]
    s.update(c_channel=c_channel, c_email=c_email, c_has_email=c_has_email, c_has_inn=c_has_inn,
             c_has_phone=c_has_phone, c_inn_int=c_inn_int, c_inn_len=c_inn_len, c_nat=c_nat, c_phone=c_phone,
             c_region=c_region)


def _card_defects(rng: np.random.Generator, s: dict) -> None:
    """Planted defects on the cards: bad INNs and phones, missing managers, reported turnover, drivers.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads c_has_inn, c_has_phone, c_inn_int, c_inn_len, c_nat, c_phone,
        closed, creal, drv, h, is_dup, masters, n, n_cards, wallet and adds bad_inn, bad_phone, c_drv, c_phone,
        c_status_closed, inn_txt, miss_mgr, reported.
    """
    c_has_inn, c_has_phone, c_inn_int, c_inn_len = s["c_has_inn"], s["c_has_phone"], s["c_inn_int"], s["c_inn_len"]
    c_nat, c_phone, closed, creal, drv, h = s["c_nat"], s["c_phone"], s["closed"], s["creal"], s["drv"], s["h"]
    is_dup, masters, n, n_cards, wallet = s["is_dup"], s["masters"], s["n"], s["n_cards"], s["wallet"]
    # planted defects: bad INNs and phones outside duplicate pairs
    in_pair = np.zeros(n_cards, bool)
    in_pair[masters] = True
    in_pair[n:] = True
    inn_pool = np.flatnonzero(c_has_inn & ~in_pair)
    bad_inn = np.zeros(n_cards, bool)
    bad_inn[rng.choice(inn_pool, size=min(len(inn_pool), int(round(0.03 * n_cards))), replace=False)] = True
    bump = rng.integers(1, 10, n_cards)
    last = c_inn_int % 10
    c_inn_int = np.where(bad_inn, c_inn_int - last + (last + bump) % 10, c_inn_int)
    inn_txt = _where(c_inn_len == 12, _num(c_inn_int, 12), _num(c_inn_int, 10))
    phone_pool = np.flatnonzero(c_has_phone & ~in_pair)
    bad_phone = np.zeros(n_cards, bool)
    bad_phone[rng.choice(phone_pool, size=min(len(phone_pool), int(round(0.03 * n_cards))), replace=False)] = True
    bkind = rng.integers(0, 5, n_cards)
    codeb = _num(c_nat // 10**7, 3)
    ab, bb, cb = _num((c_nat // 10**4) % 1000, 3), _num((c_nat // 100) % 100, 2), _num(c_nat % 100, 2)
    bad_v = [_join("+7 (", codeb, ") ", ab, "-", bb),  # too short
             _join("8 (", codeb, ") ", ab, "-", bb, "-ХХ"),  # letters
             _take(_pa(["уточнить", "нет", "звонить через секретаря"]), rng.integers(0, 3, n_cards)),  # no number
             _join("+380 (", _num(rng.integers(50, 100, n_cards)), ") ", ab, "-", bb, "-", cb),  # wrong country
             _join("+1 (", _num(rng.integers(201, 990, n_cards)), ") ", ab, "-", bb, cb)]  # wrong country
    c_phone = _where(bad_phone, pc.choose(pa.array(bkind.astype(np.int8)), *bad_v), c_phone)

    # card managers: missing only on cards without any sales
    card_hist_lines = np.bincount(h["card"], minlength=n_cards)
    no_sales = np.flatnonzero((card_hist_lines == 0) & ~is_dup)
    miss_mgr = np.zeros(n_cards, bool)
    miss_mgr[rng.choice(no_sales, size=min(len(no_sales), int(round(0.03 * n_cards))), replace=False)] = True
    c_status_closed = closed[creal]
    reported = np.where(rng.random(n_cards) < np.where(is_dup, 0.1, 0.4),
                        wallet[creal] * 0.7 * np.exp(rng.normal(0, 0.25, n_cards)), np.nan)
    reported = np.where(reported < 100_000, np.maximum(np.round(reported, -2), 100.0), np.round(reported, -3))
    c_drv = {}
    for d in DRIVERS:
        v = drv[d][creal]
        c_drv[d] = np.where(rng.random(n_cards) < np.where(is_dup, 0.5, 0.1), np.nan, v)
    s.update(bad_inn=bad_inn, bad_phone=bad_phone, c_drv=c_drv, c_phone=c_phone, c_status_closed=c_status_closed,
             inn_txt=inn_txt, miss_mgr=miss_mgr, reported=reported)


def _truth_clients(rng: np.random.Generator, s: dict) -> None:
    """The ground truth per card and the duplicate pairs.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads bad_inn, bad_phone, c_channel, card_ids, card_mgr, closed,
        creal, D_12, dup_reason, f, h, is_dup, loss, masters, miss_mgr, n, n_cards, n_mcol, state, wallet and
        adds bought_hist, truth_clients, truth_dups.
    """
    D_12, bad_inn, bad_phone, c_channel = s["D_12"], s["bad_inn"], s["bad_phone"], s["c_channel"]
    card_ids, card_mgr, closed, creal = s["card_ids"], s["card_mgr"], s["closed"], s["creal"]
    dup_reason, f, h, is_dup, loss, masters = s["dup_reason"], s["f"], s["h"], s["is_dup"], s["loss"], s["masters"]
    miss_mgr, n, n_cards, n_mcol, state = s["miss_mgr"], s["n"], s["n_cards"], s["n_mcol"], s["state"]
    wallet = s["wallet"]
    i12 = int(np.searchsorted(h["day"], D_12))
    rev12 = np.bincount(h["c"][i12:], weights=h["cents"][i12:] / 100.0, minlength=n)
    true_share = np.maximum(rev12, 0) / 12 / wallet
    pos = h["cents"] > 0
    pos_c = h["c"][pos]
    bought_hist = np.bincount(pos_c, minlength=n) > 0
    tbase = _STATE_BASE[state].copy()
    tbase[~bought_hist & ~closed] = "potential"
    # regular lost: orders in >= 4 of the 6 months ending with the month of the last order
    flags = np.zeros(n * n_mcol, bool)
    flags[pos_c.astype(np.int64) * n_mcol + h["m"][pos]] = True
    flags = flags.reshape(n, n_mcol)
    del pos, pos_c
    lastm = n_mcol - 1 - np.argmax(flags[:, ::-1], axis=1)
    csum = np.cumsum(flags, axis=1)
    rows_ = np.arange(n)
    in6 = csum[rows_, lastm] - np.where(lastm >= 6, csum[rows_, np.maximum(lastm - 6, 0)], 0)
    regular = (in6 >= 4) & (tbase == "lost")
    returns_after = np.bincount(f["c"][f["cents"] > 0], minlength=n) > 0
    other = (h["mgr"] != card_mgr[h["card"]]) & ~miss_mgr[h["card"]]
    two_card = np.bincount(h["card"][other], minlength=n_cards) > 0
    band_name = np.select([true_share < 0.01, true_share < 0.10], ["indifferent", "secondary"], "main")
    dup_of_card = _null_where(~is_dup, _take(card_ids, np.where(is_dup, creal, 0)))
    truth_clients = pd.DataFrame({
        "client_id": _text(card_ids), "channel": _text(_take(_pa(CHANNELS), c_channel)),
        "true_wallet_month": wallet[creal], "true_share": true_share[creal],
        "true_share_band": _text(_pa(band_name[creal])), "true_base": _text(_pa(tbase[creal])),
        "regular": regular[creal], "returns_after": returns_after[creal], "duplicate_of": _text(dup_of_card),
        "bad_inn": bad_inn, "bad_phone": bad_phone, "loss_making": loss[creal], "two_managers": two_card,
    })
    reasons = np.array(["same_inn", "same_phone", "similar_name"])
    truth_dups = pd.DataFrame({"client_id": _text(card_ids[n:]), "duplicate_of": _text(_take(card_ids, masters)),
                               "reason": _text(_pa(reasons[dup_reason]))})
    s.update(bought_hist=bought_hist, truth_clients=truth_clients, truth_dups=truth_dups)


def _clients_table(rng: np.random.Generator, s: dict) -> None:
    """The canonical clients table (in the export's order) and the truth in the same order.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads c_channel, c_drv, c_email, c_has_email, c_has_inn, c_has_phone,
        c_phone, c_region, c_status_closed, card_ids, card_mgr, card_names, codes, inn_txt, mgr_names, miss_mgr,
        n_cards, reported, truth_clients and adds clients, truth_clients.
    """
    c_channel, c_drv, c_email, c_has_email = s["c_channel"], s["c_drv"], s["c_email"], s["c_has_email"]
    c_has_inn, c_has_phone, c_phone, c_region = s["c_has_inn"], s["c_has_phone"], s["c_phone"], s["c_region"]
    c_status_closed, card_ids, card_mgr = s["c_status_closed"], s["card_ids"], s["card_mgr"]
    card_names, codes, inn_txt, mgr_names = s["card_names"], s["codes"], s["inn_txt"], s["mgr_names"]
    miss_mgr, n_cards, reported, truth_clients = s["miss_mgr"], s["n_cards"], s["reported"], s["truth_clients"]
    order_cards = np.argsort(codes)  # the export lists cards by code
    rows_c = np.empty(n_cards, np.int64)
    rows_c[order_cards] = np.arange(n_cards) + 2
    clients = pd.DataFrame({
        "_row": rows_c,
        "client_id": _text(card_ids), "name": _text(card_names), "channel": _text(_take(_pa(CHANNELS), c_channel)),
        "inn": _text(_null_where(~c_has_inn, inn_txt)),
        "region": _text(_take(_pa(r[0] for r in _REGIONS), c_region)),
        "manager": _text(_null_where(miss_mgr, _take(_pa(mgr_names), card_mgr))),
        "phone": _text(_null_where(~c_has_phone, c_phone)),
        "email": _text(_null_where(~c_has_email, c_email)),
        "status": _text(_take(_pa(["active", "closed"]), c_status_closed.astype(np.int64))),
        "reported_turnover": reported,
        **c_drv,
    })
    clients = clients.iloc[order_cards].reset_index(drop=True)
    truth_clients = truth_clients.iloc[order_cards].reset_index(drop=True)
    s.update(clients=clients, truth_clients=truth_clients)


def _sales_table(rng: np.random.Generator, s: dict) -> None:
    """The canonical sales table of the history and the planted broken rows of the messy file.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads card_ids, deal_ids, h, hist_start, mgr_names, n_lines, n_ord_h
        and adds broken, sales, truth_broken.
    """
    card_ids, deal_ids, h, hist_start = s["card_ids"], s["deal_ids"], s["h"], s["hist_start"]
    mgr_names, n_lines, n_ord_h = s["mgr_names"], s["n_lines"], s["n_ord_h"]
    sku_codes = _pa(f"{_GROUP_SKU_PREFIX[g]}-{g + 1}{i + 1:04d}" for g in range(_G) for i in range(_N_SKU))
    ret_idx = np.flatnonzero(h["kind"] == 1)
    n_ret_h = len(ret_idx)
    di = h["num"].astype(np.int64)
    di[h["kind"] == 2] += n_ord_h + n_ret_h
    di[ret_idx] = n_ord_h + np.arange(n_ret_h)
    doc = _take(pa.concat_arrays([_join("РН-", _num(np.arange(1, n_ord_h + 1), 7)),
                                  _join("ВЗ-", _num(np.arange(1, n_ret_h + 1), 6)), deal_ids]), di)
    del di
    n_broken = max(4, int(round(0.002 * n_lines)))
    total_rows = n_lines + n_broken
    bpos = np.sort(rng.choice(total_rows, size=n_broken, replace=False))
    is_b = np.zeros(total_rows, bool)
    is_b[bpos] = True
    sales_rows = np.flatnonzero(~is_b) + 2
    sales = pd.DataFrame({
        "_row": sales_rows.astype(np.int64),
        "date": _dates(hist_start, h["day"]),
        "client_id": _text(_take(card_ids, h["card"])),
        "product_group": _text(_take(_pa(GROUPS), h["g"])),
        "amount": h["cents"] / 100.0,
        "cost": h["cost"] / 100.0,
        "quantity": h["qty"].astype(np.float64),
        "sku": _text(_take(sku_codes, h["g"].astype(np.int64) * _N_SKU + h["sku"])),
        "doc_id": _text(doc),
        "manager": _text(_take(_pa(mgr_names), h["mgr"])),
    }, copy=False)
    src = rng.integers(0, max(n_lines, 1), n_broken)
    bkind_s = rng.integers(0, 4, n_broken)
    alt = rng.random(n_broken) < 0.5
    b_date = _fmt_day(hist_start, h["day"][src], "%d.%m.%Y")
    b_year = _num(hist_start.year + (h["day"][src] // 365))
    b_date = _where(bkind_s == 1, _where(alt, _join("31.02.", b_year), pa.scalar("вчера")), b_date)
    b_amount = _fmt_ru(h["cents"][src] / 100.0)
    b_amount = _where(bkind_s == 0, _where(alt, pa.scalar("н/д"), pa.scalar("12,3,4")), b_amount)
    b_client = _take(card_ids, h["card"][src])
    b_client = _where(bkind_s == 2, _join("00-9", _num(rng.integers(0, 100_000, n_broken), 5)), b_client)
    b_group = _where(bkind_s == 3, pa.scalar(""), _take(_pa(GROUPS), h["g"][src]))
    issue_names = np.array(["bad_number", "bad_date", "unknown_client", "missing_value"])
    broken = pd.DataFrame({
        "_row": (bpos + 2).astype(np.int64), "date": _text(b_date), "client_id": _text(b_client),
        "product_group": _text(b_group), "amount": _text(b_amount), "cost": _text(_fmt_ru(h["cost"][src] / 100.0)),
        "quantity": _text(_fmt_int(h["qty"][src])),
        "sku": _text(_take(sku_codes, h["g"][src].astype(np.int64) * _N_SKU + h["sku"][src])),
        "doc_id": _text(_take(doc, src)), "manager": _text(_take(_pa(mgr_names), h["mgr"][src])),
        "issue": _text(_pa(issue_names[bkind_s])),
    })
    truth_broken = pd.DataFrame({"table": _text(_pa(["sales"] * n_broken)), "row": (bpos + 2).astype(np.int64),
                                 "issue": broken["issue"].copy()})
    s.update(broken=broken, sales=sales, truth_broken=truth_broken)


def _future_sales(rng: np.random.Generator, s: dict) -> None:
    """The truth of the sales after ``as_of`` per card, group and month.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads asof_m, card_ids, f, horizon, mstart, n_cards and adds future.
    """
    asof_m, card_ids, f, horizon, mstart = s["asof_m"], s["card_ids"], s["f"], s["horizon"], s["mstart"]
    n_cards = s["n_cards"]
    nb = horizon + 1
    fkey = (f["card"].astype(np.int64) * _G + f["g"]) * nb + (f["m"] - asof_m)
    fsum = np.bincount(fkey, weights=f["cents"] / 100.0, minlength=n_cards * _G * nb)
    fcnt = np.bincount(fkey, minlength=n_cards * _G * nb)
    nzk = np.flatnonzero(fcnt)
    f_card, f_g, f_m = nzk // (_G * nb), (nzk // nb) % _G, nzk % nb + asof_m
    future = pd.DataFrame({"client_id": _text(_take(card_ids, f_card)), "product_group": _text(_take(_pa(GROUPS), f_g)),
                           "month": mstart[f_m].to_numpy().astype("datetime64[ns]"), "amount": np.round(fsum[nzk], 2)},
                          copy=False)
    future = future.sort_values(["client_id", "product_group", "month"], ignore_index=True)
    s.update(future=future)


def _deals_table(rng: np.random.Generator, s: dict) -> None:
    """The canonical deals table and the true outcome of the open deals.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads card_ids, closed_day, created, d_amount, d_client, d_group,
        d_mgr, d_num, d_open, d_pct, d_pm, d_stage, d_wm, d_won, deal_ids, dord, hist_start, mgr_names, mstart,
        n_months, nd and adds deal_outcomes, deals.
    """
    card_ids, closed_day, created, d_amount = s["card_ids"], s["closed_day"], s["created"], s["d_amount"]
    d_client, d_group, d_mgr, d_num, d_open = s["d_client"], s["d_group"], s["d_mgr"], s["d_num"], s["d_open"]
    d_pct, d_pm, d_stage, d_wm, d_won = s["d_pct"], s["d_pm"], s["d_stage"], s["d_wm"], s["d_won"]
    deal_ids, dord, hist_start, mgr_names = s["deal_ids"], s["dord"], s["hist_start"], s["mgr_names"]
    mstart, n_months, nd = s["mstart"], s["n_months"], s["nd"]
    d_status = np.where(d_open, "open", np.where(d_won, "won", "lost"))
    deals = pd.DataFrame({
        "_row": np.zeros(nd, np.int64),
        "deal_id": _text(deal_ids), "client_id": _text(_take(card_ids, d_client)), "amount": d_amount,
        "probability": d_pct / 100.0, "stage": _text(_take(_pa(STAGES), d_stage)),
        "planned_month": mstart[d_pm].to_numpy().astype("datetime64[ns]"),
        "status": _text(_pa(d_status)), "manager": _text(_take(_pa(mgr_names), d_mgr)),
        "product_group": _text(_take(_pa(GROUPS), d_group)),
        "created_date": _dates(hist_start, created), "closed_date": _dates(hist_start, closed_day),
    })
    deals = deals.iloc[dord].reset_index(drop=True)
    deals["_row"] = np.arange(nd, dtype=np.int64) + 2
    oo = np.flatnonzero(d_open)
    oo = oo[np.argsort(d_num[oo])]
    won_in = d_won[oo] & (d_wm[oo] < n_months)
    deal_outcomes = pd.DataFrame({
        "deal_id": _text(_take(deal_ids, oo)), "outcome": _text(_pa(np.where(d_won[oo], "won", "lost"))),
        "won_month": np.where(won_in, mstart[np.minimum(d_wm[oo], n_months)].to_numpy().astype("datetime64[ns]"),
                              np.datetime64("NaT")).astype("datetime64[ns]"),
    })
    s.update(deal_outcomes=deal_outcomes, deals=deals)


def _stock_marketing(rng: np.random.Generator, s: dict) -> None:
    """The stock per group with its truth, and the marketing estimate of the horizon.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads as_of, asof_m, D_end, f, horizon, mday, month_of, mstart and
        adds marketing, stock, stock_truth.
    """
    D_end, as_of, asof_m, f, horizon, mday = s["D_end"], s["as_of"], s["asof_m"], s["f"], s["horizon"], s["mday"]
    month_of, mstart = s["month_of"], s["mstart"]
    i3 = int(np.searchsorted(f["day"], mday[min(asof_m + 3, asof_m + horizon)]))
    demand3 = np.bincount(f["g"][:i3], weights=f["cents"][:i3] / 100.0, minlength=_G)
    perm = rng.permutation(_G)
    n_third = _G // 3
    status_g = np.full(_G, "mid", dtype=object)
    status_g[perm[:n_third]] = "short"
    status_g[perm[n_third:2 * n_third]] = "ample"
    cover_g = np.where(status_g == "short", rng.uniform(0.4, 0.6, _G),
                       np.where(status_g == "ample", rng.uniform(1.5, 3.0, _G), rng.uniform(0.8, 1.25, _G)))
    available = np.round(np.maximum(demand3, 0) * cover_g, -3)
    incoming = np.where(rng.random(_G) < 0.5, np.round(available * rng.uniform(0.2, 0.5, _G), -3), 0.0)
    on_hand = available - incoming
    stock = pd.DataFrame({"_row": np.arange(_G, dtype=np.int64) + 2, "product_group": _text(_pa(GROUPS)),
                          "on_hand": on_hand, "incoming": incoming,
                          "as_of": np.full(_G, as_of.to_datetime64()).astype("datetime64[ns]")})
    stock_truth = pd.DataFrame({"product_group": _text(_pa(GROUPS)), "demand_3m": np.round(demand3, 2),
                                "stock_available": on_hand + incoming, "status": _text(_pa(status_g))})
    n_hm = int(month_of(np.array([D_end - 1]))[0]) - asof_m + 1  # calendar months the horizon touches
    hm_ = np.arange(asof_m, asof_m + n_hm)
    fut_m = np.bincount(f["m"] - asof_m, weights=f["cents"] / 100.0, minlength=n_hm)[:n_hm]
    mk = np.round(fut_m * 1.10 * (1 + rng.normal(0, 0.04, n_hm)), -3)  # marketing is ~10 % optimistic
    marketing = pd.DataFrame({"_row": np.arange(n_hm, dtype=np.int64) + 2,
                              "month": mstart[hm_].to_numpy().astype("datetime64[ns]"),
                              "product_group": pd.array([pd.NA] * n_hm, dtype="string"), "amount": mk})
    s.update(marketing=marketing, stock=stock, stock_truth=stock_truth)


def _survey(rng: np.random.Generator, s: dict) -> None:
    """The client survey and the truth of the wallet per client and group.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads bought, bought_hist, card_ids, closed, D_asof, hist_start, mix,
        n, share, wallet and adds survey, wallet_groups.
    """
    D_asof, bought, bought_hist, card_ids = s["D_asof"], s["bought"], s["bought_hist"], s["card_ids"]
    closed, hist_start, mix, n, share = s["closed"], s["hist_start"], s["mix"], s["n"], s["share"]
    wallet = s["wallet"]
    sv_c = np.flatnonzero(~closed & (rng.random(n) < 0.15))
    sv_rows = np.repeat(sv_c, _G)
    sv_g = np.tile(np.arange(_G), len(sv_c))
    keep_sv = mix[sv_rows, sv_g] >= 0.05
    sv_rows, sv_g = sv_rows[keep_sv], sv_g[keep_sv]
    tp = np.round(wallet[sv_rows] * mix[sv_rows, sv_g] * np.exp(rng.normal(0, 0.15, len(sv_rows))), -2)
    tp = np.maximum(tp, 100.0)
    main_here = bought[sv_rows, sv_g] & (share[sv_rows] >= 0.1)
    sup = np.where(main_here, 1 + rng.poisson(1.0, len(sv_rows)), 2 + rng.poisson(1.8, len(sv_rows)))
    sv_day_rows = (D_asof - rng.integers(10, 150, n))[sv_rows]
    survey = pd.DataFrame({"_row": np.arange(len(sv_rows), dtype=np.int64) + 2,
                           "client_id": _text(_take(card_ids, sv_rows)),
                           "product_group": _text(_take(_pa(GROUPS), sv_g)),
                           "total_purchases": tp, "suppliers": sup.astype(np.float64),
                           "date": _dates(hist_start, sv_day_rows)})
    wg_c = np.repeat(np.arange(n), _G)
    wg_g = np.tile(np.arange(_G), n)
    wallet_groups = pd.DataFrame({"client_id": _text(_take(card_ids, wg_c)),
                                  "product_group": _text(_take(_pa(GROUPS), wg_g)),
                                  "wallet_month": np.round(wallet[wg_c] * mix[wg_c, wg_g], 2),
                                  "buys_from_us": bought[wg_c, wg_g] & bought_hist[wg_c]})
    s.update(survey=survey, wallet_groups=wallet_groups)


def _contacts(rng: np.random.Generator, s: dict) -> None:
    """The contact history and the contact flags computed from it.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads card_ids, D_asof, hist_start, mgr, mgr2, mgr_names, miss_mgr,
        n, potential, state, two, w0 and adds contact_flags, contacts.
    """
    D_asof, card_ids, hist_start, mgr, mgr2 = s["D_asof"], s["card_ids"], s["hist_start"], s["mgr"], s["mgr2"]
    mgr_names, miss_mgr, n, potential, state = s["mgr_names"], s["miss_mgr"], s["n"], s["potential"], s["state"]
    two, w0 = s["two"], s["w0"]
    ct_pool = ~miss_mgr[:n] & (np.isin(state, [_ACTIVE, _NEW, _SLEEPING, _LOST])
                               | (potential & (rng.random(n) < 0.5)))
    ct_c = np.flatnonzero(ct_pool)
    stale = rng.random(len(ct_c)) < np.where(state[ct_c] == _LOST, 0.4, 0.08)
    c_iv = rng.uniform(42, 120, len(ct_c))
    c_start = D_asof - 540 + rng.uniform(0, 1, len(ct_c)) * c_iv
    c_end = np.where(stale, D_asof - rng.uniform(185, 420, len(ct_c)), float(D_asof))
    c_cnt = np.where(c_end > c_start, np.floor((c_end - c_start) / c_iv).astype(np.int64) + 1, 0)
    cs = np.repeat(np.arange(len(ct_c)), c_cnt)
    ck = np.arange(len(cs)) - np.repeat(np.cumsum(c_cnt) - c_cnt, c_cnt)
    cday = np.floor(c_start[cs] + ck * c_iv[cs] + rng.uniform(-5, 5, len(cs))).astype(np.int64)
    cday = _weekday_fix(cday, w0)
    ok = (cday < c_end[cs]) & (cday < D_asof)
    cs, cday = cs[ok], cday[ok]
    freq = rng.random(len(ct_c)) < 0.03
    fsel = np.flatnonzero(freq[cs])
    fsel = fsel[np.unique(cs[fsel], return_index=True)[1]] if len(fsel) else fsel  # one extra per client
    xday = _weekday_fix(cday[fsel] + rng.integers(3, 21, len(fsel)), w0)
    xok = xday < D_asof
    cs = np.concatenate([cs, cs[fsel[xok]]])
    cday = np.concatenate([cday, xday[xok]])
    cc = ct_c[cs]
    csrt = np.lexsort((cc, cday))
    cc, cday = cc[csrt], cday[csrt]
    cmgr = np.where(two[cc] & (rng.random(len(cc)) < 0.3), mgr2[cc], mgr[cc])
    contacts = pd.DataFrame({
        "_row": np.arange(len(cc), dtype=np.int64) + 2, "client_id": _text(_take(card_ids, cc)),
        "date": _dates(hist_start, cday), "manager": _text(_take(_pa(mgr_names), cmgr)),
        "kind": _text(_take(_pa(_CONTACT_KINDS), rng.choice(4, size=len(cc), p=_CONTACT_KIND_P))),
        "outcome": _text(_take(_pa(_OUTCOMES), rng.integers(0, len(_OUTCOMES), len(cc)))),
    })
    # contact flags from the data
    o2 = np.lexsort((cday, cc))
    gap = np.diff(cday[o2])
    same = np.diff(cc[o2]) == 0
    too_freq = np.zeros(n, bool)
    too_freq[cc[o2][1:][same & (gap < 30)]] = True
    last_ct = np.full(n, -10**9)
    np.maximum.at(last_ct, cc, cday)
    flag_c = ct_c
    contact_flags = pd.DataFrame({
        "client_id": _text(_take(card_ids, flag_c)), "too_frequent": too_freq[flag_c],
        "stale": last_ct[flag_c] < D_asof - 180,
        "last_contact": _dates(hist_start, np.where(last_ct[flag_c] > -10**9, last_ct[flag_c], np.nan)),
    }).sort_values("client_id", ignore_index=True)
    s.update(contact_flags=contact_flags, contacts=contacts)


def _assemble(rng: np.random.Generator, s: dict) -> SyntheticCase:
    """The :class:`SyntheticCase` from the tables and truth built by the steps.

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's generator; the step draws from it in a fixed order.
    s : dict
        State of the case so far; the step reads as_of, broken, clients, contact_flags, contacts, deal_outcomes,
        deals, future, horizon, marketing, months, n_clients, n_mgr, sales, seed, stock, stock_truth, survey,
        truth_broken, truth_clients, truth_dups, wallet_groups.
    """
    as_of, broken, clients, contact_flags = s["as_of"], s["broken"], s["clients"], s["contact_flags"]
    contacts, deal_outcomes, deals, future = s["contacts"], s["deal_outcomes"], s["deals"], s["future"]
    horizon, marketing, months, n_clients = s["horizon"], s["marketing"], s["months"], s["n_clients"]
    n_mgr, sales, seed, stock, stock_truth = s["n_mgr"], s["sales"], s["seed"], s["stock"], s["stock_truth"]
    survey, truth_broken, truth_clients = s["survey"], s["truth_broken"], s["truth_clients"]
    truth_dups, wallet_groups = s["truth_dups"], s["wallet_groups"]
    tables = {"clients": clients, "sales": sales, "deals": deals, "stock": stock, "marketing": marketing,
              "survey": survey, "contacts": contacts}
    tables = {k: _canonical_order(k, v) for k, v in tables.items()}
    truth = {"clients": truth_clients, "duplicates": truth_dups.sort_values("client_id", ignore_index=True),
             "future_sales": future, "deal_outcomes": deal_outcomes, "broken_rows": truth_broken,
             "stock_truth": stock_truth, "wallet_groups": wallet_groups, "contact_flags": contact_flags}
    params = {"n_clients": int(n_clients), "seed": int(seed), "as_of": as_of.date().isoformat(), "months": int(months),
              "horizon": int(horizon), "n_managers": n_mgr}
    params.update(_benchmark_options(s))
    if not s["with_deals"]:  # the same world, only the CRM export is missing
        del tables["deals"], truth["deal_outcomes"]
    if not s["with_marketing"]:
        del tables["marketing"]
    return SyntheticCase(tables, truth, as_of, int(seed), params, broken)


def _benchmark_options(s: dict) -> dict:
    """The options of a forecast benchmark that differ from the defaults (recorded in ``truth/case.json``)."""
    out = {k: float(s[k]) for k in ("season", "trend") if s[k] is not None}
    out.update({k[5:]: False for k in ("with_deals", "with_marketing") if not s[k]})
    return out


#: The steps of :func:`generate_case` in the order they draw from the generator.
_STEPS = (_calendar, _wallets, _rhythms, _orders, _duplicates_and_damage, _order_lines, _deals, _all_lines,
          _card_names, _card_contacts, _card_defects, _truth_clients, _clients_table, _sales_table, _future_sales,
          _deals_table, _stock_marketing, _survey, _contacts)


def _check_options(season: float | None, trend: float | None) -> None:
    """Refuse a season amplitude or a trend outside :data:`SEASON_RANGE` / :data:`TREND_RANGE`."""
    if season is not None and not SEASON_RANGE[0] <= season <= SEASON_RANGE[1]:
        raise ValueError(f"season must be between {SEASON_RANGE[0]} and {SEASON_RANGE[1]}, not {season}")
    if trend is not None and not TREND_RANGE[0] <= trend <= TREND_RANGE[1]:
        raise ValueError(f"trend must be between {TREND_RANGE[0]} and {TREND_RANGE[1]} a month, not {trend}")


def _canonical_order(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """``_row``, the contract's columns in order, then drivers; types as the loader gives them."""
    cols = ["_row"] + TABLES[name].names
    extra = [c for c in df.columns if c not in cols]
    df = df[cols + extra]
    want = {c.name: {"text": "string", "number": "float64", "prob": "float64"}.get(c.kind, "datetime64[ns]")
            for c in TABLES[name].columns}
    want.update({c: "float64" for c in extra})
    want["_row"] = "int64"
    for c, dt in want.items():
        if df[c].dtype != dt:
            df[c] = df[c].astype(dt)
    return df


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def named_values(labels: dict = MESSY_LABELS, lang: str = "ru") -> dict:
    """The label table of a case whose files carry the codes' names in ``lang`` instead of the codes (as a
    1C export writes «Дилеры», not ``dealer``): ``{column: {name: {ru, en}}}``.

    >>> named_values({"channel": {"dealer": {"ru": "Дилеры", "en": "Dealers"}}})
    {'channel': {'Дилеры': {'ru': 'Дилеры', 'en': 'Dealers'}}}
    """
    return {col: {lab[lang]: dict(lab) for lab in codes.values()} for col, codes in labels.items()}


def with_named_values(case: SyntheticCase, labels: dict = MESSY_LABELS, lang: str = "ru") -> SyntheticCase:
    """The same case with the channel and product group codes of every table, of the truth and of the broken
    lines replaced by their names in ``lang`` (codes without a label stay); the numbers are untouched.

    >>> c = with_named_values(generate_case(n_clients=20, seed=1, months=12, horizon=2))
    >>> sorted(c.tables["clients"]["channel"].unique())[:2], "Инструмент" in set(c.truth["future_sales"]["product_group"])
    (['Дилеры', 'Интернет-магазины'], True)
    """
    names = {col: {code: lab[lang] for code, lab in codes.items()} for col, codes in labels.items()}

    def renamed(df):
        if df is None:
            return None
        df = df.copy()
        for col, m in names.items():
            if col in df.columns:
                v = df[col]
                df[col] = v.map(lambda x: m.get(x, x) if isinstance(x, str) else x).astype(v.dtype if v.dtype != "category" else "string")
        return df

    return replace(case, tables={k: renamed(v) for k, v in case.tables.items()},
                   truth={k: renamed(v) for k, v in case.truth.items()}, broken_sales=renamed(case.broken_sales),
                   params={**case.params, "values": f"names ({lang})"})


def write_case(case: SyntheticCase, out_dir, messy: bool = True, names: bool = False) -> Path:
    """Write the case folder and ``truth/*.csv``; return the folder.

    ``names=True`` writes the channel and product group names (Russian, :func:`with_named_values`) where the
    files otherwise carry codes, and ``mapping.yaml``'s labels then give their English names.

    ``messy=True`` writes the files as 1C / CRM / Excel exports look (see :data:`MESSY_HEADERS`):
    ``clients.csv``, ``sales.csv`` and ``contacts.csv`` in Windows-1251 with ``;``,
    ``deals.xlsx``, ``stock.csv`` (UTF-8 with BOM, tab), ``marketing.csv`` (UTF-8, ``,``),
    ``survey.csv`` (UTF-8, ``;``), ``mapping.yaml`` and the planted broken sales lines.
    ``messy=False`` writes every table as plain UTF-8 CSV with canonical headers, ISO dates and
    ``.`` decimals, without broken rows. Table files of other formats left in ``out_dir`` by an
    earlier write are removed.

    >>> import tempfile
    >>> c = generate_case(n_clients=30, seed=2, months=12, horizon=3)
    >>> d = write_case(c, tempfile.mkdtemp(), messy=True)
    >>> sorted(p.name for p in d.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['clients.csv', 'contacts.csv', 'deals.xlsx', 'mapping.yaml', 'marketing.csv', 'sales.csv',
     'stock.csv', 'survey.csv', 'truth']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in _TABLE_NAMES:
        for ext in (".csv", ".xlsx", ".parquet"):
            (out / f"{name}{ext}").unlink(missing_ok=True)
    (out / "mapping.yaml").unlink(missing_ok=True)
    labels = MESSY_LABELS
    if names:
        case, labels = with_named_values(case), named_values()
    if messy:
        _write_messy(case, out, labels)
    else:
        _write_plain(case, out)
    _write_truth(case, out / "truth")
    return out


def sample_case(out_dir, n_clients: int = 2000, seed: int = 0, messy: bool = True, names: bool = False,
                **kwargs) -> SyntheticCase:
    """Generate a case and write it to ``out_dir`` (what ``kbanalysis sample`` does; ``names``: channel and
    group names instead of codes, :func:`write_case`).

    Extra keyword arguments (``as_of``, ``months``, ``horizon``, ``season``, ``trend``, ``deals``, ``marketing``)
    go to :func:`generate_case`.

    >>> import tempfile
    >>> c = sample_case(tempfile.mkdtemp(), n_clients=20, seed=5, months=12, horizon=2)
    >>> len(c.truth["clients"])
    20
    """
    case = generate_case(n_clients=n_clients, seed=seed, **kwargs)
    write_case(case, out_dir, messy=messy, names=names)
    return case


def _col(s: pd.Series) -> pa.Array:
    """A text column as a pyarrow string array."""
    arr = s.array
    if isinstance(arr, pd.arrays.ArrowStringArray):
        a = arr._pa_array  # noqa: SLF001 - zero-copy access to the pyarrow data
        a = a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
        return a if a.type == pa.string() else a.cast(pa.string())
    return pa.array(s.to_numpy(dtype=object, na_value=None), type=pa.string())


def _frame(cols: dict[str, pa.Array]) -> pd.DataFrame:
    """String columns -> an object frame with '' for missing (for pandas' csv writer)."""
    return pd.DataFrame({k: pd.Series(v.to_pylist(), dtype=object).fillna("") for k, v in cols.items()})


def _to_csv(df: pd.DataFrame, path: Path, sep: str, encoding: str, eol: str = "\r\n") -> None:
    df.to_csv(path, sep=sep, index=False, encoding=encoding, lineterminator=eol)


def _day_text(s: pd.Series, fmt: str = "%d.%m.%Y") -> pa.Array:
    return _fmt_dates(s.to_numpy(), fmt)


def _write_messy(case: SyntheticCase, out: Path, labels: dict = MESSY_LABELS) -> None:
    rng = np.random.default_rng([case.seed, 20261001])
    t = case.tables

    # clients
    c = t["clients"]
    H = MESSY_HEADERS["clients"]
    status = np.where(c["status"].to_numpy() == "closed", _CLIENT_STATUS_RU["closed"],
                      np.where(rng.random(len(c)) < 0.12, "", _CLIENT_STATUS_RU["active"]))
    cols = {H[k]: _col(c[k]) for k in ("client_id", "name", "channel", "inn", "region", "manager", "phone", "email")}
    cols[H["status"]] = _pa(status)
    cols[H["reported_turnover"]] = _fmt_ru(c["reported_turnover"].to_numpy(), 0, " ")
    cols[H["outlets"]] = _fmt_int(c["outlets"].to_numpy())
    cols[H["own_clients"]] = _fmt_ru(c["own_clients"].to_numpy(), 0, _NBSP)
    cols[H["machines"]] = _fmt_int(c["machines"].to_numpy())
    cols[H["imported_machine_share"]] = _fmt_ru(c["imported_machine_share"].to_numpy(), 2, "")
    cols[H["installations"]] = _fmt_int(c["installations"].to_numpy())
    cols[H["avg_project_cost"]] = _fmt_ru(c["avg_project_cost"].to_numpy(), 2, _NBSP)
    _to_csv(_frame(cols), out / "clients.csv", ";", "cp1251")
    import yaml

    (out / "mapping.yaml").write_text(yaml.safe_dump({**MESSY_MAPPING, "labels": labels}, allow_unicode=True,
                                                     sort_keys=False, width=120), encoding="utf-8")

    # sales: clean lines and the planted broken ones, in spreadsheet-row order, in chunks
    s = t["sales"]
    H = MESSY_HEADERS["sales"]
    b = case.broken_sales
    if b is None or not len(b):
        b = pd.DataFrame({k: pd.Series([], dtype="string") for k in H} | {"_row": np.zeros(0, np.int64)})
    b_rows = b["_row"].to_numpy().astype(np.int64)
    b_cols = {k: _col(b[k]) for k in H}
    s_rows = s["_row"].to_numpy()
    step = 500_000
    with open(out / "sales.csv", "wb") as fh:
        for i in range(0, max(len(s), 1), step):
            part = s.iloc[i:i + step]
            lo_row = s_rows[i] if i else 0
            hi_row = s_rows[i + step] if i + step < len(s) else np.iinfo(np.int64).max
            bsel = np.flatnonzero((b_rows >= lo_row) & (b_rows < hi_row))  # broken rows before the next chunk
            clean = {"date": _day_text(part["date"]), "amount": _fmt_ru(part["amount"].to_numpy()),
                     "cost": _fmt_ru(part["cost"].to_numpy()), "quantity": _fmt_int(part["quantity"].to_numpy())}
            for k in ("client_id", "product_group", "sku", "doc_id", "manager"):
                clean[k] = _col(part[k])
            order = pa.array(np.argsort(np.concatenate([s_rows[i:i + step], b_rows[bsel]]), kind="stable"))
            table = pa.table({H[k]: pa.concat_arrays([clean[k], _take(b_cols[k], bsel)]).take(order) for k in H})
            buf = _io.BytesIO()
            pacsv.write_csv(table, buf, pacsv.WriteOptions(delimiter=";", quoting_style="none", quoting_header="none",
                                                           eol="\r\n", include_header=i == 0))
            fh.write(buf.getvalue().decode("utf-8").encode("cp1251"))

    if "deals" in t:
        _write_deals_xlsx(t["deals"], out / "deals.xlsx")

    # stock: UTF-8 with BOM, tab
    st = t["stock"]
    H = MESSY_HEADERS["stock"]
    inc = st["incoming"].to_numpy()
    cols = {H["product_group"]: _col(st["product_group"]), H["on_hand"]: _fmt_ru(st["on_hand"].to_numpy()),
            H["incoming"]: _fmt_ru(np.where(inc == 0, np.nan, inc)), H["as_of"]: _day_text(st["as_of"])}
    _to_csv(_frame(cols), out / "stock.csv", "\t", "utf-8-sig")

    # marketing: UTF-8, ','
    if "marketing" in t:
        mk = t["marketing"]
        H = MESSY_HEADERS["marketing"]
        cols = {H["month"]: _day_text(mk["month"], "%Y-%m"), H["amount"]: _fmt_int(mk["amount"].to_numpy())}
        _to_csv(_frame(cols), out / "marketing.csv", ",", "utf-8", "\n")

    # survey: UTF-8, ';'
    sv = t["survey"]
    H = MESSY_HEADERS["survey"]
    cols = {H["client_id"]: _col(sv["client_id"]), H["product_group"]: _col(sv["product_group"]),
            H["total_purchases"]: _fmt_ru(sv["total_purchases"].to_numpy(), 0, " "),
            H["suppliers"]: _fmt_int(sv["suppliers"].to_numpy()), H["date"]: _day_text(sv["date"])}
    _to_csv(_frame(cols), out / "survey.csv", ";", "utf-8", "\n")

    # contacts: cp1251, ';'
    ct = t["contacts"]
    H = MESSY_HEADERS["contacts"]
    cols = {H["client_id"]: _col(ct["client_id"]), H["date"]: _day_text(ct["date"]),
            H["manager"]: _col(ct["manager"]), H["kind"]: _col(ct["kind"]), H["outcome"]: _col(ct["outcome"])}
    _to_csv(_frame(cols), out / "contacts.csv", ";", "cp1251")


def _write_deals_xlsx(d: pd.DataFrame, path: Path) -> None:
    """The CRM export of deals, with fixed timestamps so that the bytes depend on the data only."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    H = MESSY_HEADERS["deals"]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Сделки")
    ws.append([H[k] for k in H])

    def obj(s: pd.Series) -> list:
        return s.astype(object).where(s.notna(), None).tolist()

    def dt(s: pd.Series) -> list:
        out = []
        for x in s:
            cell = WriteOnlyCell(ws, value=None if pd.isna(x) else x.to_pydatetime())
            cell.number_format = "DD.MM.YYYY"
            out.append(cell)
        return out

    cols = [obj(d["deal_id"]), obj(d["client_id"]), d["amount"].tolist(),
            np.round(d["probability"].to_numpy() * 100).astype(int).tolist(), obj(d["stage"]),
            d["planned_month"].dt.strftime("%Y-%m").tolist(), [_DEAL_STATUS_RU[x] for x in d["status"]],
            obj(d["manager"]), obj(d["product_group"]), dt(d["created_date"]), dt(d["closed_date"])]
    for row in zip(*cols):
        ws.append(list(row))
    fixed = pd.Timestamp("2026-01-01").to_pydatetime()
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buf = _io.BytesIO()
    wb.save(buf)
    # re-pack with fixed entry times and core properties: same data -> same bytes
    src = zipfile.ZipFile(_io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                              rb"\g<1>2026-01-01T00:00:00Z\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)


def _plain_frame(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Canonical columns without ``_row``; dates ISO, months ``YYYY-MM``."""
    kinds = {c.name: c.kind for c in TABLES[name].columns}
    out = df.drop(columns="_row")
    for c in out.columns:
        k = kinds.get(c)
        if k == "date":
            out[c] = out[c].dt.strftime("%Y-%m-%d")
        elif k == "month":
            out[c] = out[c].dt.strftime("%Y-%m")
    return out


def _write_plain(case: SyntheticCase, out: Path) -> None:
    for name in (n for n in _TABLE_NAMES if n in case.tables):
        df = case.tables[name]
        if name == "sales":  # pyarrow: fast for millions of lines
            cols = {"date": pa.array(df["date"].to_numpy()).cast(pa.date32())}
            for c in df.columns:
                if c not in ("_row", "date"):
                    cols[c] = _col(df[c]) if df[c].dtype == "string" else pa.array(df[c].to_numpy())
            with open(out / "sales.csv", "wb") as fh:
                pacsv.write_csv(pa.table(cols), fh,
                                pacsv.WriteOptions(quoting_style="none", quoting_header="none", eol="\n"))
        else:
            _plain_frame(df, name).to_csv(out / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n")


def _write_truth(case: SyntheticCase, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, df in case.truth.items():
        df = df.copy()
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c]):
                df[c] = df[c].dt.strftime("%Y-%m-%d")
        df.to_csv(out / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n")
    (out / "case.json").write_text(json.dumps(case.params, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                   encoding="utf-8")


if __name__ == "__main__":  # timing: python -m kbanalysis.synth.case
    for n_cl in (2_000, 100_000):
        t_wall, t_cpu = time.perf_counter(), time.process_time()
        c = generate_case(n_cl, seed=0)
        wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
        sizes = ", ".join(f"{k} {len(v):,}" for k, v in c.tables.items())
        print(f"generate_case({n_cl:,}): {wall:.2f} s wall ({cpu:.2f} s CPU); {sizes}; future_sales "
              f"{len(c.truth['future_sales']):,} rows; {len(c.tables['sales']) / n_cl:.1f} sales lines per client",
              flush=True)
