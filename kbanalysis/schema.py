"""The data contract in code: tables, canonical columns, types and header aliases.

Every input table is described by a :class:`Table` of :class:`Column` objects. The loader
(:mod:`kbanalysis.io.case`) maps the source headers onto the canonical names (through
``mapping.yaml`` and the built-in aliases below), parses each column by its ``kind`` and
validates it. After loading, every table is a DataFrame with the canonical columns (optional
ones present, filled with missing values, when the source lacks them) plus ``_row``: the
row number a spreadsheet shows for the source line (header = 1, first data row = 2).

Canonical in-memory types:

* ``text``   -> pandas string dtype, stripped, empty -> ``<NA>``
* ``number`` -> ``float64``
* ``date``   -> ``datetime64[ns]`` at midnight
* ``month``  -> ``datetime64[ns]`` at the first day of the month
* ``prob``   -> ``float64`` in 0..1 (values given in percent are divided by 100)

>>> TABLES["sales"].required
['date', 'client_id', 'product_group', 'amount']
>>> canonical_header("Канал  сбыта")
'канал сбыта'
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One canonical column of a table."""

    name: str
    kind: str  # text | number | date | month | prob
    required: bool = False
    aliases: tuple[str, ...] = ()
    meaning: str = ""


@dataclass(frozen=True)
class Table:
    """One table of a case."""

    name: str
    columns: tuple[Column, ...]
    required_table: bool = False
    key: str | None = None  # unique key column, if any
    extra_numeric: bool = False  # keep unknown numeric columns (drivers on client cards)
    meaning: str = ""
    _by_name: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def canonical_header(text: str) -> str:
    """Normalise a header for matching: lower case, ё→е, single spaces, no outer punctuation.

    >>> canonical_header(" Сумма, руб. ")
    'сумма, руб'
    """
    s = str(text).replace("\ufeff", "").replace("\xa0", " ").strip().lower().replace("ё", "е")
    s = re.sub(r"\s+", " ", s)
    return s.strip(" .:;_-*\"'")


C = Column
CLIENT_ID_ALIASES = ("код клиента", "код контрагента", "id клиента", "клиент id", "идентификатор клиента",
                     "customer id", "customerid", "client")

TABLES: dict[str, Table] = {
    "clients": Table(
        "clients",
        (
            C("client_id", "text", True, ("код", "id", "идентификатор") + CLIENT_ID_ALIASES, "unique key of the card"),
            C("name", "text", True, ("контрагент", "клиент", "наименование", "название", "наименование клиента",
                                     "customer", "company"), "client's name"),
            C("channel", "text", True, ("канал сбыта", "канал", "канал продаж", "сегмент", "segment"),
              "sales channel"),
            C("inn", "text", False, ("инн", "tax id"), "taxpayer number"),
            C("region", "text", False, ("регион", "город", "область", "country", "страна")),
            C("manager", "text", False, ("менеджер", "ответственный", "ответственный менеджер", "sales rep")),
            C("phone", "text", False, ("телефон", "тел", "телефоны", "phone number")),
            C("email", "text", False, ("e-mail", "эл. почта", "электронная почта", "почта", "mail")),
            C("status", "text", False, ("статус", "состояние")),
            C("reported_turnover", "number", False, ("оборот клиента", "оценка оборота", "оборот",
                                                     "оборот (оценка менеджера)", "оценка менеджера")),
        ),
        required_table=True,
        key="client_id",
        extra_numeric=True,
        meaning="one row per client card",
    ),
    "sales": Table(
        "sales",
        (
            C("date", "date", True, ("дата", "дата отгрузки", "дата документа", "дата продажи", "период",
                                     "invoicedate", "order date")),
            C("client_id", "text", True, ("контрагент",) + CLIENT_ID_ALIASES),
            C("product_group", "text", True, ("товарная группа", "группа товаров", "номенклатурная группа",
                                              "категория", "группа", "category")),
            C("amount", "number", True, ("сумма", "выручка", "сумма продажи", "сумма без ндс", "сумма, руб",
                                         "revenue", "sales")),
            C("cost", "number", False, ("себестоимость", "себестоимость, руб")),
            C("quantity", "number", False, ("количество", "кол-во", "qty")),
            C("sku", "text", False, ("артикул", "номенклатура", "товар")),
            C("doc_id", "text", False, ("документ", "номер документа", "накладная", "invoice", "invoiceno")),
            C("manager", "text", False, ("менеджер", "ответственный")),
        ),
        required_table=True,
        meaning="one row per shipment line",
    ),
    "deals": Table(
        "deals",
        (
            C("deal_id", "text", True, ("сделка", "номер сделки", "id сделки", "код сделки")),
            C("client_id", "text", True, ("контрагент",) + CLIENT_ID_ALIASES),
            C("amount", "number", True, ("сумма", "сумма сделки", "ожидаемая сумма")),
            C("probability", "prob", False, ("вероятность", "вероятность, %", "вероятность %")),
            C("stage", "text", True, ("стадия", "этап", "этап сделки", "стадия сделки")),
            C("planned_month", "month", True, ("месяц", "планируемый месяц", "месяц закрытия", "плановый месяц")),
            C("status", "text", True, ("статус", "состояние", "статус сделки")),
            C("manager", "text", False, ("менеджер", "ответственный")),
            C("product_group", "text", False, ("товарная группа", "группа товаров", "категория")),
            C("created_date", "date", False, ("дата создания", "создана")),
            C("closed_date", "date", False, ("дата закрытия", "закрыта")),
        ),
        key="deal_id",
        meaning="the managers' forecast of expected deals",
    ),
    "stock": Table(
        "stock",
        (
            C("product_group", "text", True, ("товарная группа", "группа товаров", "категория")),
            C("on_hand", "number", True, ("остаток", "остаток на складе", "на складе")),
            C("incoming", "number", False, ("в пути", "поступление", "ожидается", "ожидаемое поступление")),
            C("as_of", "date", False, ("дата", "на дату")),
        ),
        meaning="warehouse stock on the analysis date",
    ),
    "marketing": Table(
        "marketing",
        (
            C("month", "month", True, ("месяц", "период")),
            C("product_group", "text", False, ("товарная группа", "группа товаров", "категория")),
            C("amount", "number", True, ("сумма", "прогноз", "оценка", "оценка спроса")),
        ),
        meaning="the marketing estimate of demand",
    ),
    "survey": Table(
        "survey",
        (
            C("client_id", "text", True, ("контрагент",) + CLIENT_ID_ALIASES),
            C("product_group", "text", True, ("товарная группа", "группа товаров", "категория")),
            C("total_purchases", "number", True, ("закупки всего", "объем закупок", "общие закупки",
                                                  "закупки в месяц")),
            C("suppliers", "number", False, ("поставщиков", "число поставщиков", "количество поставщиков")),
            C("date", "date", False, ("дата", "дата опроса")),
        ),
        meaning="what clients answered about their purchases",
    ),
    "contacts": Table(
        "contacts",
        (
            C("client_id", "text", True, ("контрагент",) + CLIENT_ID_ALIASES),
            C("date", "date", True, ("дата", "дата контакта")),
            C("manager", "text", False, ("менеджер", "ответственный")),
            C("kind", "text", False, ("тип", "вид", "вид контакта", "тип контакта")),
            C("outcome", "text", False, ("результат", "итог")),
        ),
        meaning="history of calls and visits",
    ),
}

#: Russian headers of common potential drivers on the client card -> canonical driver names.
DRIVER_ALIASES: dict[str, str] = {
    "торговые точки": "outlets",
    "торговых точек": "outlets",
    "точки продаж": "outlets",
    "клиентская база": "own_clients",
    "клиентов у клиента": "own_clients",
    "объекты": "end_objects",
    "конечные объекты": "end_objects",
    "монтажи": "installations",
    "монтажей в месяц": "installations",
    "средняя стоимость проекта": "avg_project_cost",
    "станки": "machines",
    "станочный парк": "machines",
    "доля импортных станков": "imported_machine_share",
    "сотрудники": "employees",
    "площадь": "area",
}

#: The potential drivers a client card may carry (the contract's driver columns and their kin): without the
#: ``drivers`` parameter only these numeric columns are drivers; any other numeric column is ignored and named.
DRIVER_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(DRIVER_ALIASES.values()))

#: Values of ``clients.status`` read as closed / active.
CLIENT_STATUS = {
    "closed": ("closed", "закрыт", "закрыта", "ликвидирован", "ликвидирована", "не работать", "архив", "inactive"),
    "active": ("active", "активен", "активный", "действующий", "работаем", "в работе", ""),
}

#: Values of ``deals.status`` read as open / won / lost.
DEAL_STATUS = {
    "open": ("open", "открыта", "открыт", "в работе", "активна", "pipeline", "engaging", "prospecting"),
    "won": ("won", "выиграна", "выигран", "успешно", "успешна", "закрыта успешно", "оплачена", "реализована"),
    "lost": ("lost", "проиграна", "проигран", "отказ", "закрыта неуспешно", "провал", "неуспешно"),
}

#: The columns of clients that are part of the contract (the drivers are :data:`DRIVER_COLUMNS` or the ``drivers``
#: parameter's).
CLIENT_CONTRACT_COLUMNS = tuple(TABLES["clients"].names)

#: Output tables of a run and their exact columns (the contract's "Output" part).
OUTPUTS: dict[str, tuple[str, ...]] = {
    "clients.csv": ("client_id", "base", "abcde", "revenue_12m", "margin_12m", "wallet_month", "wallet_low",
                    "wallet_high", "share_of_wallet", "loyalty", "upsell_month", "crosssell_month", "plan_month",
                    "cluster", "key_account"),
    "lost_clients.csv": ("client_id", "last_order_date", "active_months", "avg_month_revenue", "priority"),
    "duplicates.csv": ("client_id", "duplicate_of", "reason"),
    "quality_issues.csv": ("table", "row", "client_id", "issue", "detail"),
    "forecast.csv": ("month", "product_group", "pipeline", "pipeline_calibrated", "history", "marketing",
                     "reconciled", "stock_available", "stock_gap", "flag"),
}

#: Columns a run writes after the required ones (documented in the contract too).
OUTPUT_EXTRAS: dict[str, tuple[str, ...]] = {
    "clients.csv": ("merged_into", "wallet_source", "achievable_month", "lost_probability", "revenue_month"),
    "forecast.csv": ("reconciled_low", "reconciled_high", "history_total"),
}

#: Money totals of ``summary.json`` (``totals``), per month unless named otherwise.
SUMMARY_TOTALS = ("revenue_12m", "margin_12m", "wallet_month", "share_of_wallet", "upsell_month", "crosssell_month", "plan_month",
                  "current_month", "achievable_month", "ceiling_month", "reactivation_month", "acquisition_month",
                  "forecast_reconciled", "stock_gap")

BASES = ("active", "sleeping", "lost", "potential", "closed")
#: the bases that buy now: their achievable money is the plans' uplift over current sales
BUYING = ("active", "sleeping")
LOYALTY = ("indifferent", "secondary", "main")
#: wallet sources that rest on look-alike clients alone (no survey, managers' estimates or drivers of the
#: client's own): shares and loyalty made from them are upper bounds, not measurements
LOOKALIKE_SOURCES = ("lookalike", "extrapolated")


def wallet_evidence_of(counts) -> str:
    """How firm a run's wallets are, from the number of clients per ``wallet_source``: ``lookalike`` when
    every estimate rests on :data:`LOOKALIKE_SOURCES` alone, ``firm`` when some rest on evidence of the
    client's own (survey, manager, drivers), ``unknown`` without estimates.

    >>> wallet_evidence_of({"lookalike": 30, "extrapolated": 4, "no_estimate": 2}), wallet_evidence_of({"survey": 1})
    ('lookalike', 'firm')
    """
    used = {str(k) for k, v in dict(counts if counts is not None else {}).items() if v and k not in ("no_estimate", None)}
    if not used:
        return "unknown"
    return "lookalike" if used <= set(LOOKALIKE_SOURCES) else "firm"
KEY_ACCOUNT = ("none", "key", "critical", "mono")
ABCDE = ("A", "B", "C", "D", "E")
