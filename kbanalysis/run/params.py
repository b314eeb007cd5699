"""Every run parameter in one place: default, type and a one-line meaning.

Notebooks receive these through their ``parameters`` cell (papermill); the CLI validates
``--params FILE.yaml`` and ``-p key=value`` against this table before anything runs.

>>> PARAMS["lang"].default
'ru'
>>> coerce("horizon", "6")
6
>>> validate({"lang": "en", "colour": 1})
Traceback (most recent call last):
...
kbanalysis.errors.UserError: unknown parameter 'colour'. Valid parameters: ...
>>> validate({"horizon": "-5"})
Traceback (most recent call last):
...
kbanalysis.errors.UserError: parameter horizon=-5 is out of range: it must be between 1 and 36 (months of the forecast)
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kbanalysis.errors import UserError
from kbanalysis.schema import DRIVER_COLUMNS


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    type: type
    meaning: str
    choices: tuple | None = None
    #: the stage whose notebook takes it (``general``: every notebook)
    stage: str = "general"
    #: the smallest and largest value allowed (numbers; ``None``: no limit on that side)
    bounds: tuple | None = None


#: the parameters by stage (``general``: every notebook takes them)
_BY_STAGE: dict[str, list[Param]] = {
    "general": [
        Param("case_dir", "", str, "folder of the input case (set by `kbanalysis run`)"),
        Param("run_dir", "", str, "folder the run writes into (set by `kbanalysis run`)"),
        Param("as_of", "", str, "analysis date YYYY-MM-DD; empty: the day after the last sale"),
        Param("lang", "ru", str, "language of the reports", ("ru", "en")),
        Param("currency", "RUB", str, "currency of the case, for labels (up to 8 letters or a currency sign)"),
        Param("seed", 42, int, "seed for everything random (clustering, bootstrap)", bounds=(0, 2**32 - 1)),
        Param("drivers", [], list, "client-card columns used as potential drivers (exactly these); empty: the known driver "
              f"columns ({', '.join(DRIVER_COLUMNS)}), other numeric columns ignored"),
        Param("mask_pii", True, bool, "mask phones, e-mails and INNs in the HTML and Excel deliverables"),
        Param("out_of_core", "auto", str, "keep the sales lines on disk and aggregate them in DuckDB: on, off, or auto (when "
              "the sales file is larger than a quarter of the free memory)", ("auto", "on", "off")),
        Param("company", "", str, "the audited company's name for the reports' titles; empty: no name"),
        Param("mask_contacts", False, bool, "mask phones and e-mails in the managers' Excel sheets too (per-manager "
              "and win-back; the HTML follows mask_pii)"),
    ],
    "audit": [
        Param("lost_gap_multiple", 3.0, float, "a client is lost when silent longer than this many of its own usual gaps", bounds=(1.0, 100.0)),
        Param("lost_min_days", 90, int, "...but never before this many days of silence", bounds=(1, 3650)),
        Param("sleeping_gap_multiple", 1.5, float, "silent longer than this many usual gaps (but not lost): sleeping", bounds=(1.0, 100.0)),
        Param("sleeping_drop", 0.5, float, "sleeping when the last 3 months bring less than this share of its own usual level", bounds=(0.0, 1.0)),
        Param("few_orders_lost_days", 180, int, "lost threshold in days for clients with one or two orders (no rhythm)", bounds=(1, 3650)),
        Param("lost_horizon_days", 120, int, "the lost backtest cuts the history this many days before as_of and sees "
              "who bought again (lost_probability: the chance of no order in this many days)", bounds=(7, 3650)),
        Param("regular_min_months", 4, int, "regular buyer: orders in at least this many months ...", bounds=(1, 120)),
        Param("regular_window_months", 6, int, "... of this many months before the client stopped", bounds=(1, 120)),
        Param("contact_min_days", 30, int, "contacts with one client closer than this are too frequent", bounds=(0, 3650)),
        Param("contact_stale_days", 180, int, "active clients no one contacted for this long are flagged", bounds=(1, 3650)),
        Param("fuzzy_name_threshold", 92, int, "rapidfuzz score (0-100) above which two names in a region are duplicates", bounds=(0, 100)),
        Param("key_share", 0.10, float, "client share of revenue above which it is a key account", bounds=(0.0, 1.0)),
        Param("critical_share", 0.20, float, "share above which the dependency is critical", bounds=(0.0, 1.0)),
        Param("mono_share", 0.70, float, "share above which the business is a mono-client one", bounds=(0.0, 1.0)),
    ],
    "wallet": [
        Param("wallet_quantile", 0.85, float, "high quantile of look-alike clients' purchases used as their wallet", bounds=(0.5, 0.99)),
        Param("manager_bias", 0.0, float, "managers' typical underestimate (0.3: 30 % low); 0: learn it from data", bounds=(0.0, 0.9)),
        Param("driver_norms", {}, dict, "monthly purchases per unit of driver by channel, {channel: {driver: norm}}"),
        Param("loyalty_low", 0.01, float, "share of wallet below which the client is indifferent", bounds=(0.0, 1.0)),
        Param("loyalty_high", 0.10, float, "share of wallet from which we are among the main suppliers", bounds=(0.0, 1.0)),
        Param("plan_step_indifferent", 0.03, float, "target share for an indifferent client's plan", bounds=(0.0, 1.0)),
        Param("plan_step_secondary", 2.0, float, "a secondary client's plan multiplies its share by this (up to loyalty_high)", bounds=(1.0, 100.0)),
        Param("plan_max_growth", 2.0, float, "a plan is at most this many times the current monthly revenue (new clients aside)", bounds=(1.0, 1000.0)),
    ],
    "segments": [
        Param("abcde_high", 0.8, float, "within-channel quantile of profitability/potential above which it is the highest", bounds=(0.0, 1.0)),
        Param("abcde_mid", 0.5, float, "within-channel quantile above which it is high", bounds=(0.0, 1.0)),
        Param("n_clusters", 0, int, "number of clusters; 0: choose from the data", bounds=(0, 50)),
        Param("k_min", 4, int, "smallest number of clusters searched (3 is too coarse to act on)", bounds=(2, 50)),
        Param("k_max", 8, int, "largest number of clusters searched", bounds=(2, 50)),
        Param("actions_file", "", str, "YAML with the action matrix; empty: the built-in defaults"),
    ],
    "forecast": [
        Param("horizon", 3, int, "months of the forecast", bounds=(1, 36)),
        Param("win_rate_prior", 10.0, float, "shrinkage strength (pseudo-deals) of stage win rates toward the overall rate", bounds=(0.0, 1000.0)),
        Param("disagreement", 0.25, float, "flag a forecast row when sources disagree by more than this share", bounds=(0.0, 10.0)),
        Param("overstock_months", 6.0, float, "flag a group overstocked when stock covers more than this many months", bounds=(0.0, 120.0)),
        Param("stock_valued_at", "price", str, "stock on_hand is valued at sales price or at cost", ("price", "cost")),
        Param("marketing_prior_weight", 0.2, float, "weight of a marketing estimate that has no past months to check it on"),
        Param("flag_share", 0.05, float, "flag a shortage, a shortage risk or an optimistic manager's deals only when their money is at least this share of the row's forecast", bounds=(0.0, 1.0)),
    ],
}
_P = [replace(p, stage=stage) for stage, ps in _BY_STAGE.items() for p in ps]
PARAMS: dict[str, Param] = {p.name: p for p in _P}
#: the stages in the order of the workbook, and the notebook of each
STAGES = ("audit", "wallet", "segments", "forecast")
NOTEBOOK_STAGE = {"01-audit": "audit", "02-turnover": "wallet", "03-segments": "segments", "04-forecast": "forecast",
                  "05-summary": "general"}


def for_stage(stage: str) -> list[str]:
    """The parameters a stage's notebook takes: the general ones, then the stage's own.

    >>> for_stage("forecast")[-4:]
    ['overstock_months', 'stock_valued_at', 'marketing_prior_weight', 'flag_share']
    """
    return [p.name for p in _P if p.stage in ("general", stage)]


def defaults() -> dict[str, Any]:
    """All parameters with their defaults."""
    return {k: p.default for k, p in PARAMS.items()}


def coerce(name: str, value: Any) -> Any:
    """Convert a value (often a string from ``-p key=value``) to the parameter's type."""
    p = PARAMS[name]
    try:
        if p.type is bool:
            if isinstance(value, str):
                v = value.strip().lower()
                if v in ("1", "true", "yes", "on", "да"):
                    return True
                if v in ("0", "false", "no", "off", "нет"):
                    return False
                raise ValueError(value)
            return bool(value)
        if p.type is list:
            if isinstance(value, str):
                return [x.strip() for x in value.split(",") if x.strip()]
            return list(value)
        if p.type is dict:
            if isinstance(value, str):
                import yaml

                value = yaml.safe_load(value) or {}
            if not isinstance(value, dict):
                raise ValueError(value)
            return value
        if p.type is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        out = p.type(value)
    except (TypeError, ValueError):
        raise UserError(f"parameter {name}={value!r} is not a valid {p.type.__name__} ({p.meaning})") from None
    if p.choices and out not in p.choices:
        raise UserError(f"parameter {name}={out!r} must be one of {', '.join(map(str, p.choices))}")
    if p.bounds is not None:
        lo, hi = p.bounds
        if not ((lo is None or out >= lo) and (hi is None or out <= hi)):  # NaN fails both
            raise UserError(f"parameter {name}={out!r} is out of range: it must be between {lo} and {hi} "
                            f"({p.meaning})")
    return out


#: pairs of parameters of which the first must not be larger than the second
ORDERED = (("sleeping_gap_multiple", "lost_gap_multiple"), ("regular_min_months", "regular_window_months"),
           ("key_share", "critical_share"), ("critical_share", "mono_share"), ("loyalty_low", "loyalty_high"),
           ("abcde_mid", "abcde_high"), ("k_min", "k_max"))
#: what ``currency`` may be: a short code or a sign, as it is printed into labels and number formats
_CURRENCY = r"^(?:[A-Za-zА-Яа-яЁё]{1,8}\.?|[₽$€£¥₸₴]|)$"


def _check_values(out: dict[str, Any]) -> None:
    """What one parameter's range does not say: the order of pairs, the currency, the date, the lists."""
    import re

    for a, b in ORDERED:
        if out[a] > out[b]:
            raise UserError(f"parameters {a}={out[a]!r} and {b}={out[b]!r}: {a} must not be larger than {b}")
    if out["n_clusters"] == 1:
        raise UserError("parameter n_clusters=1: use 0 (choose from the data) or at least 2 clusters")
    if not re.match(_CURRENCY, out["currency"]):
        raise UserError(f"parameter currency={out['currency']!r} must be a code of up to 8 letters (RUB, руб.) "
                        "or one currency sign")
    if out["as_of"]:
        import datetime as dt

        text = str(out["as_of"]).strip()
        try:
            day = dt.date.fromisoformat(text) if re.match(r"^\d{4}-\d{2}-\d{2}$", text) else None
        except ValueError:
            day = None
        if day is None or not 1990 <= day.year <= 2100:
            raise UserError(f"parameter as_of={out['as_of']!r} is not a date between 1990 and 2100 (use YYYY-MM-DD)")
        out["as_of"] = text
    bad = [d for d in out["drivers"] if not isinstance(d, str) or not d.strip()]
    if bad:
        raise UserError(f"parameter drivers={out['drivers']!r}: each driver is a column name of the client cards")
    for channel, norms in out["driver_norms"].items():
        if not isinstance(norms, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < float("inf")
                for v in norms.values()):
            raise UserError(f"parameter driver_norms: channel {channel!r} must map driver names to numbers >= 0 "
                            "(monthly purchases per unit of driver)")


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Check names and types; return the full parameter dict (defaults filled in)."""
    unknown = [k for k in values if k not in PARAMS]
    if unknown:
        raise UserError(
            f"unknown parameter {', '.join(repr(k) for k in unknown)}. Valid parameters: {', '.join(PARAMS)}"
        )
    out = defaults()
    for k, v in values.items():
        out[k] = coerce(k, v)
    _check_values(out)
    return out


def describe() -> str:
    """Every parameter, its default and meaning, grouped by stage (for ``kbanalysis params``)."""
    w = max(len(k) for k in PARAMS)
    titles = {"general": "general (every notebook)", "audit": "audit (01-audit)", "wallet": "wallet (02-turnover)",
              "segments": "segments (03-segments)", "forecast": "forecast (04-forecast)"}
    lines = []
    for stage, title in titles.items():
        lines.append(("\n" if lines else "") + f"# {title}")
        for p in (q for q in _P if q.stage == stage):
            d = repr(p.default)
            ch = f" [{'/'.join(p.choices)}]" if p.choices else ""
            lines.append(f"{p.name:<{w}}  {d:<10}  {p.meaning}{ch}")
    return "\n".join(lines)
