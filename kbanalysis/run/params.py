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
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kbanalysis.errors import UserError


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    type: type
    meaning: str
    choices: tuple | None = None
    #: the stage whose notebook takes it (``general``: every notebook)
    stage: str = "general"


#: the parameters by stage (``general``: every notebook takes them)
_BY_STAGE: dict[str, list[Param]] = {
    "general": [
        Param("case_dir", "", str, "folder of the input case (set by `kbanalysis run`)"),
        Param("run_dir", "", str, "folder the run writes into (set by `kbanalysis run`)"),
        Param("as_of", "", str, "analysis date YYYY-MM-DD; empty: the day after the last sale"),
        Param("lang", "ru", str, "language of the reports", ("ru", "en")),
        Param("currency", "RUB", str, "currency of the case, for labels"),
        Param("seed", 42, int, "seed for everything random (clustering, bootstrap)"),
        Param("drivers", [], list, "client-card columns used as potential drivers; empty: every numeric non-contract column"),
        Param("mask_pii", True, bool, "mask phones, e-mails and INNs in the HTML and Excel deliverables"),
        Param("out_of_core", "auto", str, "keep the sales lines on disk and aggregate them in DuckDB: on, off, or auto (when "
              "the sales file is larger than a quarter of the free memory)", ("auto", "on", "off")),
        Param("company", "", str, "the audited company's name for the reports' titles; empty: no name"),
        Param("mask_contacts", False, bool, "mask phones and e-mails in the managers' Excel sheets too (per-manager "
              "and win-back; the HTML follows mask_pii)"),
    ],
    "audit": [
        Param("lost_gap_multiple", 3.0, float, "a client is lost when silent longer than this many of its own usual gaps"),
        Param("lost_min_days", 90, int, "...but never before this many days of silence"),
        Param("sleeping_gap_multiple", 1.5, float, "silent longer than this many usual gaps (but not lost): sleeping"),
        Param("sleeping_drop", 0.5, float, "sleeping when the last 3 months bring less than this share of its own usual level"),
        Param("few_orders_lost_days", 180, int, "lost threshold in days for clients with one or two orders (no rhythm)"),
        Param("regular_min_months", 4, int, "regular buyer: orders in at least this many months ..."),
        Param("regular_window_months", 6, int, "... of this many months before the client stopped"),
        Param("contact_min_days", 30, int, "contacts with one client closer than this are too frequent"),
        Param("contact_stale_days", 180, int, "active clients no one contacted for this long are flagged"),
        Param("fuzzy_name_threshold", 92, int, "rapidfuzz score (0-100) above which two names in a region are duplicates"),
        Param("key_share", 0.10, float, "client share of revenue above which it is a key account"),
        Param("critical_share", 0.20, float, "share above which the dependency is critical"),
        Param("mono_share", 0.70, float, "share above which the business is a mono-client one"),
    ],
    "wallet": [
        Param("wallet_quantile", 0.85, float, "high quantile of look-alike clients' purchases used as their wallet"),
        Param("manager_bias", 0.0, float, "managers' typical underestimate (0.3: 30 % low); 0: learn it from data"),
        Param("driver_norms", {}, dict, "monthly purchases per unit of driver by channel, {channel: {driver: norm}}"),
        Param("loyalty_low", 0.01, float, "share of wallet below which the client is indifferent"),
        Param("loyalty_high", 0.10, float, "share of wallet from which we are among the main suppliers"),
        Param("plan_step_indifferent", 0.03, float, "target share for an indifferent client's plan"),
        Param("plan_step_secondary", 2.0, float, "a secondary client's plan multiplies its share by this (up to loyalty_high)"),
        Param("plan_max_growth", 2.0, float, "a plan is at most this many times the current monthly revenue (new clients aside)"),
    ],
    "segments": [
        Param("abcde_high", 0.8, float, "within-channel quantile of profitability/potential above which it is the highest"),
        Param("abcde_mid", 0.5, float, "within-channel quantile above which it is high"),
        Param("n_clusters", 0, int, "number of clusters; 0: choose from the data"),
        Param("k_min", 4, int, "smallest number of clusters searched (3 is too coarse to act on)"),
        Param("k_max", 8, int, "largest number of clusters searched"),
        Param("actions_file", "", str, "YAML with the action matrix; empty: the built-in defaults"),
    ],
    "forecast": [
        Param("horizon", 3, int, "months of the forecast"),
        Param("win_rate_prior", 10.0, float, "shrinkage strength (pseudo-deals) of stage win rates toward the overall rate"),
        Param("disagreement", 0.25, float, "flag a forecast row when sources disagree by more than this share"),
        Param("overstock_months", 6.0, float, "flag a group overstocked when stock covers more than this many months"),
        Param("stock_valued_at", "price", str, "stock on_hand is valued at sales price or at cost", ("price", "cost")),
        Param("marketing_prior_weight", 0.2, float, "weight of a marketing estimate that has no past months to check it on"),
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
    ['disagreement', 'overstock_months', 'stock_valued_at', 'marketing_prior_weight']
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
    return out


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
    if out["as_of"]:
        import pandas as pd

        try:
            pd.Timestamp(out["as_of"])
        except (ValueError, TypeError):
            raise UserError(f"parameter as_of={out['as_of']!r} is not a date (use YYYY-MM-DD)") from None
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
