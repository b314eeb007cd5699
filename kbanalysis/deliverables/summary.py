"""The run's summary outputs: ``clients.csv`` (one row per input card) and ``summary.json``.

``clients_table`` joins the stages' per-client tables; ``summary_data`` counts and totals the
run from the run folder. Duplicate cards are analysed as one client: from the audit on, their
sales, survey answers and contacts count for the master card (``merged_into`` in ``clients.csv``),
so the money of a merged card is empty in its own row and counted in its master's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from kbanalysis.contract import check_output
from kbanalysis.sales.engine import revenue_per_month
from kbanalysis.schema import BASES, BUYING, LOYALTY, OUTPUT_EXTRAS, OUTPUTS

#: Wallet columns of ``clients.csv`` (from ``work/wallet.parquet``).
WALLET_COLUMNS = ("wallet_month", "wallet_low", "wallet_high", "share_of_wallet", "loyalty", "upsell_month",
                  "crosssell_month", "plan_month", "wallet_source", "achievable_month")
#: Money of a card that is counted in its master's row, empty in a merged card's own row.
MASTER_MONEY = ("wallet_month", "wallet_low", "wallet_high", "share_of_wallet", "upsell_month", "crosssell_month",
                "plan_month", "achievable_month")
#: the bases whose clients buy now: their plans' uplift is the achievable increment


def clients_table(audit: pd.DataFrame, wallet: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """``clients.csv``: one row per input card with the contract's columns (+ ``merged_into``, ``wallet_source``,
    ``achievable_month``).

    ``audit``, ``wallet``, ``segments`` are ``work/audit.parquet``, ``work/wallet.parquet`` and
    ``work/segments.parquet``; a card takes its master's wallet and segment; the wallet money
    of a merged card stays empty (it is in the master's row). Checked against the contract.

    >>> import pandas as pd
    >>> a = pd.DataFrame({"client_id": ["b", "a"], "master_id": ["a", "a"], "merged_into": ["a", None],
    ...                   "base": "active", "revenue_12m": [0.0, 10.0], "margin_12m": [0.0, 2.0],
    ...                   "key_account": "none"})
    >>> w = pd.DataFrame({"client_id": ["a"], **{c: [1.0] for c in WALLET_COLUMNS}})
    >>> w["loyalty"], w["wallet_source"] = "main", "survey"
    >>> s = pd.DataFrame({"client_id": ["a"], "abcde": ["A"], "cluster_name": ["Big"]})
    >>> t = clients_table(a, w, s)
    >>> t[["client_id", "wallet_month", "loyalty", "abcde", "cluster"]].values.tolist()
    [['a', 1.0, 'main', 'A', 'Big'], ['b', nan, 'main', 'A', 'Big']]
    """
    df = audit[["client_id", "master_id", "merged_into", "base", "revenue_12m", "margin_12m", "key_account"]
               + [c for c in ("lost_probability", "revenue_month") if c in audit.columns]]
    wcols = ["client_id", *WALLET_COLUMNS]
    wcols = [c for c in wcols if c in wallet.columns]
    df = df.merge(wallet[wcols].rename(columns={"client_id": "master_id"}), on="master_id", how="left")
    seg = segments[["client_id", "abcde", "cluster_name"]].rename(columns={"client_id": "master_id",
                                                                           "cluster_name": "cluster"})
    df = df.merge(seg, on="master_id", how="left")
    dup = df["merged_into"].notna()
    for c in MASTER_MONEY:
        if c in df.columns:
            df.loc[dup, c] = np.nan  # the money of a merged card is in its master's row
    cols = list(OUTPUTS["clients.csv"]) + [c for c in OUTPUT_EXTRAS["clients.csv"] if c in df.columns]
    return check_output("clients.csv", df[cols].sort_values("client_id", kind="mergesort", ignore_index=True))


def rounded(x) -> float | None:
    """A total for ``summary.json``: rounded to cents, ``None`` when not finite.

    >>> rounded(1.005), rounded(float("nan")), rounded(3)
    (1.0, None, 3.0)
    """
    x = float(x)
    return None if not np.isfinite(x) else round(x, 2)


def client_counts(clients: pd.DataFrame) -> dict:
    """``summary.json`` ``clients``: cards, clients after merging duplicates, by base, class, loyalty, key account.

    >>> import pandas as pd
    >>> c = pd.DataFrame({"merged_into": [None, "a"], "base": "active", "abcde": ["A", "A"],
    ...                   "loyalty": "main", "key_account": "key"})
    >>> d = client_counts(c)
    >>> d["cards"], d["after_merging_duplicates"], d["by_class"]["A"], d["by_key_account"]
    (2, 1, 1, {'key': 1})
    """
    masters = clients.loc[clients["merged_into"].isna()]
    return {"cards": len(clients), "after_merging_duplicates": len(masters),
            "by_base": {b: int((masters["base"] == b).sum()) for b in BASES},
            "by_class": {c: int((masters["abcde"] == c).sum()) for c in "ABCDE"},
            "by_loyalty": {lv: int((masters["loyalty"] == lv).sum()) for lv in LOYALTY},
            "by_key_account": masters["key_account"].value_counts().sort_index().to_dict()}


def money_totals(clients: pd.DataFrame, forecast: pd.DataFrame) -> dict:
    """``summary.json`` ``totals``: the master cards' money and the forecast's reconciled total and stock gap.

    ``achievable_month`` is the plans' uplift over current monthly sales of the active and sleeping
    clients (the money a plan can win, :func:`kbanalysis.wallet.model.achievable`) and ``current_month`` their
    current monthly sales (``revenue_month``; a client whose returns exceed its sales counts 0, as in the
    plans), ``share_of_wallet`` our monthly sales to the clients with a wallet over their wallets, ``ceiling_month``
    their up-sale + cross-sale (the rest of their wallets: a ceiling, 100 % capture);
    ``reactivation_month`` the plans of lost clients, ``acquisition_month`` those of clients that never bought.
    The stock gap is the largest gap of each product group, summed (``None`` without stock).

    >>> import pandas as pd
    >>> c = pd.DataFrame({"merged_into": [None], "revenue_12m": [120.0], "margin_12m": [None],
    ...                   **{k: [1.0] for k in ("wallet_month", "upsell_month", "crosssell_month", "plan_month")}})
    >>> f = pd.DataFrame({"product_group": ["ALL", "g", "g"], "reconciled": [5.0, 2, 3],
    ...                   "stock_gap": [None, 1.0, 4.0]})
    >>> t = money_totals(c, f)
    >>> t["margin_12m"], t["forecast_reconciled"], t["stock_gap"]
    (None, 5.0, 4.0)
    """
    masters = clients.loc[clients["merged_into"].isna()]
    alls = forecast.loc[forecast["product_group"] == "ALL"]
    base = masters["base"].astype("string") if "base" in masters else pd.Series(pd.NA, index=masters.index,
                                                                                 dtype="string")
    buying = base.isin(BUYING).fillna(False).to_numpy(dtype=bool)
    gain = masters["achievable_month"] if "achievable_month" in masters else pd.Series(np.nan, index=masters.index)

    def of(col, mask):
        v = pd.to_numeric(masters[col], errors="coerce") if col in masters else pd.Series(np.nan, masters.index)
        return rounded(v[mask].sum())

    gaps = forecast.loc[forecast["product_group"] != "ALL"].groupby("product_group")["stock_gap"].max()
    bought = revenue_per_month(masters).fillna(0.0).clip(lower=0.0)
    wallet = pd.to_numeric(masters["wallet_month"], errors="coerce")
    return {"revenue_12m": rounded(masters["revenue_12m"].sum()),
            "margin_12m": rounded(masters["margin_12m"].sum()) if masters["margin_12m"].notna().any() else None,
            "wallet_month": rounded(wallet.sum()),
            "share_of_wallet": (round(float(bought[wallet.notna()].sum() / wallet.sum()), 6)
                                if wallet.sum() > 0 else None),
            "upsell_month": rounded(masters["upsell_month"].sum()),
            "crosssell_month": rounded(masters["crosssell_month"].sum()),
            "plan_month": rounded(masters["plan_month"].sum()),
            "current_month": rounded(bought[buying].sum()),
            "achievable_month": rounded(pd.to_numeric(gain, errors="coerce")[buying].sum()),
            "ceiling_month": rounded(of("upsell_month", buying) + of("crosssell_month", buying)),
            "reactivation_month": of("plan_month", (base == "lost").fillna(False).to_numpy(dtype=bool)),
            "acquisition_month": of("plan_month", (base == "potential").fillna(False).to_numpy(dtype=bool)),
            "forecast_reconciled": rounded(alls["reconciled"].sum()),
            "stock_gap": rounded(gaps.sum(min_count=1))}


def wallet_sources(clients: pd.DataFrame) -> dict:
    """``summary.json`` ``wallet_sources``: master cards per source of their wallet estimate.

    A run whose wallets all come from look-alikes has no evidence of its own for shares and loyalty.

    >>> import pandas as pd
    >>> wallet_sources(pd.DataFrame({"merged_into": [None, None, "a"], "wallet_source": ["lookalike", None, "x"]}))
    {'lookalike': 1}
    """
    if "wallet_source" not in clients:
        return {}
    masters = clients.loc[clients["merged_into"].isna()] if "merged_into" in clients else clients
    return {str(k): int(v) for k, v in masters["wallet_source"].value_counts().sort_index().items()}


def summary_data(clients: pd.DataFrame, run_dir: str | Path, meta: Mapping, currency: str, params: Mapping
                 ) -> dict:
    """``summary.json``: date, currency, client counts, money totals, wallet sources, data quality, duplicates,
    the win-back list's length, rows read, input hashes and the run's parameters.

    Reads ``quality_issues.csv``, ``forecast.csv``, ``duplicates.csv`` and ``lost_clients.csv``
    from ``run_dir``; ``meta`` is the run's ``meta`` (``as_of``, ``counts``, ``hashes``);
    ``params`` each stage's parameters as that stage last ran.
    """
    path = Path(run_dir)
    issues = pd.read_csv(path / "quality_issues.csv", dtype=str, keep_default_na=False)
    fc = pd.read_csv(path / "forecast.csv", dtype={"month": str})
    return {
        "as_of": meta["as_of"], "currency": currency,
        "clients": client_counts(clients),
        "totals": money_totals(clients, fc),
        "wallet_sources": wallet_sources(clients),
        "quality": {"findings": len(issues), "by_issue": issues["issue"].value_counts().sort_index().to_dict()},
        "duplicates": int(len(pd.read_csv(path / "duplicates.csv", dtype=str))),
        "lost_regular": int(len(pd.read_csv(path / "lost_clients.csv", dtype=str))),
        "rows": {k: dict(v) for k, v in meta["counts"].items()}, "input_sha256": meta["hashes"],
        "params": dict(params),
    }


__all__ = ["clients_table", "rounded", "client_counts", "money_totals", "wallet_sources", "summary_data", "WALLET_COLUMNS",
           "MASTER_MONEY"]
