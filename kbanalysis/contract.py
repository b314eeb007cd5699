"""Schemas (pandera) of the run's output tables: the contract's "Output" part, checked before writing.

A run never writes an output that breaks the contract silently: :func:`check_output` validates a
table against its schema and raises with every failing column, check and row.

>>> import pandas as pd
>>> ok = pd.DataFrame({"client_id": ["a"], "duplicate_of": ["b"], "reason": ["same_inn"]})
>>> check_output("duplicates.csv", ok) is ok
True
>>> check_output("duplicates.csv", ok.drop(columns="reason"))
Traceback (most recent call last):
...
kbanalysis.contract.ContractError: duplicates.csv breaks the data contract: column 'reason' is missing
"""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from kbanalysis.schema import ABCDE, BASES, KEY_ACCOUNT, LOYALTY, OUTPUTS


class ContractError(Exception):
    """An output table does not match the data contract (a bug of the workbook, not of the data)."""


def _col(dtype=None, *checks, nullable=True, required=True):
    return pa.Column(dtype, list(checks), nullable=nullable, coerce=False, required=required)


_NUM = "float64"
SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "clients.csv": pa.DataFrameSchema({
        "client_id": _col(None, nullable=False),
        "base": _col(None, pa.Check.isin(BASES), nullable=False),
        "abcde": _col(None, pa.Check.isin(ABCDE)),
        "revenue_12m": _col(_NUM),
        "margin_12m": _col(_NUM),
        "wallet_month": _col(_NUM, pa.Check.ge(0)),
        "wallet_low": _col(_NUM, pa.Check.ge(0)),
        "wallet_high": _col(_NUM, pa.Check.ge(0)),
        "share_of_wallet": _col(_NUM, pa.Check.in_range(0, 1)),
        "loyalty": _col(None, pa.Check.isin(LOYALTY)),
        "upsell_month": _col(_NUM, pa.Check.ge(0)),
        "crosssell_month": _col(_NUM, pa.Check.ge(0)),
        "plan_month": _col(_NUM, pa.Check.ge(0)),
        "cluster": _col(None),
        "key_account": _col(None, pa.Check.isin(KEY_ACCOUNT), nullable=False),
        "revenue_month": _col(_NUM, required=False),
    }, unique=["client_id"], checks=[
        pa.Check(lambda d: (d["wallet_low"].isna() | d["wallet_month"].isna()
                            | (d["wallet_low"] <= d["wallet_month"] * (1 + 1e-9))), name="wallet_low<=wallet"),
        pa.Check(lambda d: (d["wallet_high"].isna() | d["wallet_month"].isna()
                            | (d["wallet_high"] >= d["wallet_month"] * (1 - 1e-9))), name="wallet<=wallet_high"),
    ]),
    "lost_clients.csv": pa.DataFrameSchema({
        "client_id": _col(None, nullable=False), "last_order_date": _col(None, nullable=False),
        "active_months": _col(None, pa.Check.ge(0)), "avg_month_revenue": _col(None),
        "priority": _col(None, pa.Check.ge(1), nullable=False),
    }, unique=["client_id"]),
    "duplicates.csv": pa.DataFrameSchema({
        "client_id": _col(None, nullable=False), "duplicate_of": _col(None, nullable=False),
        "reason": _col(None, nullable=False),
    }),
    "quality_issues.csv": pa.DataFrameSchema({
        "table": _col(None, nullable=False), "row": _col(None), "client_id": _col(None),
        "issue": _col(None, nullable=False), "detail": _col(None),
    }),
    "forecast.csv": pa.DataFrameSchema({
        "month": _col(None, pa.Check.str_matches(r"^\d{4}-\d{2}$"), nullable=False),
        "product_group": _col(None, nullable=False),
        **{c: _col(_NUM) for c in ("pipeline", "pipeline_calibrated", "history", "marketing", "reconciled",
                                    "stock_available")},
        "stock_gap": _col(_NUM, pa.Check.ge(0)),
        "flag": _col(None),
        **{c: _col(_NUM, pa.Check.ge(0), required=False) for c in ("reconciled_low", "reconciled_high",
                                                                   "history_total")},
    }),
}


def check_output(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Validate an output table against its contract schema; return it unchanged."""
    missing = [c for c in OUTPUTS[name] if c not in df.columns]
    if missing:
        raise ContractError(f"{name} breaks the data contract: column {missing[0]!r} is missing")
    try:
        SCHEMAS[name].validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases.head(10)
        where = "; ".join(f"{r.column}: {r.check} fails at row {r.index} ({r.failure_case!r})"
                          for r in fc.itertuples())
        raise ContractError(f"{name} breaks the data contract: {where}") from None
    return df
