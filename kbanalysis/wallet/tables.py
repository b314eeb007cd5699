"""What notebook 02 shows of the wallet stage's results: where the wallets came from, where the money is,
and the numbers its texts quote (raw numbers: the report formats them)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from kbanalysis.schema import BUYING, LOYALTY


def source_counts(per_client: pd.DataFrame) -> pd.DataFrame:
    """How many clients got their wallet from each source: ``wallet_source, clients``.

    >>> source_counts(pd.DataFrame({"wallet_source": ["survey", None, "survey"]})).to_dict("list")
    {'wallet_source': ['survey', 'no_estimate'], 'clients': [2, 1]}
    """
    return per_client["wallet_source"].fillna("no_estimate").value_counts().rename_axis(
        "wallet_source").reset_index(name="clients")


def largest_room(per_client: pd.DataFrame, cards: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` clients with the most up-sale + cross-sale room a month, with their name and channel.

    >>> pc = pd.DataFrame({"client_id": ["a", "b"], "upsell_month": [1.0, 5.0], "crosssell_month": [0.0, np.nan]})
    >>> largest_room(pc, pd.DataFrame({"client_id": ["a", "b"], "name": ["A", "B"], "channel": ["r", "r"]}))["name"].tolist()
    ['B', 'A']
    """
    gaps = per_client.assign(room=per_client["upsell_month"].fillna(0) + per_client["crosssell_month"].fillna(0))
    gaps = gaps.merge(cards[["client_id", "name", "channel"]], on="client_id", how="left",
                      suffixes=("", "_card")).sort_values("room", ascending=False, kind="mergesort").head(n)
    cols = [c for c in ("client_id", "name", "channel", "wallet_month", "revenue_month", "share_of_wallet", "loyalty",
                        "upsell_month", "crosssell_month", "plan_month", "wallet_source") if c in gaps.columns]
    return gaps[cols]


def wallet_facts(per_client: pd.DataFrame) -> dict:
    """The numbers the wallet texts quote: clients with a wallet, the wallets' and our monthly total,
    our share of it, clients per loyalty band, up-sale, cross-sale, plans, the plans' achievable uplift of
    active and sleeping clients and the lost clients' plans (reactivation), a month (None for those not yet
    in ``per_client``).

    >>> pc = pd.DataFrame({"wallet_month": [100.0, np.nan], "revenue_month": [10.0, 5.0],
    ...     "loyalty": ["main", None], "upsell_month": [3.0, np.nan], "crosssell_month": [1.0, np.nan],
    ...     "plan_month": [12.0, 5.0]})
    >>> f = wallet_facts(pc)
    >>> f["n_wallet"], f["share_total"], f["n_main"], f["plan"]
    (1, 0.1, 1, 17.0)
    """
    pc = per_client.loc[per_client["wallet_month"].notna()]
    money = {k: float(per_client[c].sum()) if c in per_client else None for k, c in (
        ("upsell", "upsell_month"), ("crosssell", "crosssell_month"), ("plan", "plan_month"))}
    if "achievable_month" in per_client and "base" in per_client:  # as summary.json's totals count them
        base = per_client["base"].astype("string")
        gain = pd.to_numeric(per_client["achievable_month"], errors="coerce")
        money["achievable"] = float(gain[base.isin(BUYING).fillna(False).to_numpy(dtype=bool)].sum())
        money["reactivation"] = float(gain[(base == "lost").fillna(False).to_numpy(dtype=bool)].sum())
    else:
        money["achievable"] = money["reactivation"] = None
    rev_m = pc["revenue_month"].fillna(0.0) if "revenue_month" in pc else pd.Series(0.0, index=pc.index)
    loyal = pc["loyalty"].value_counts().reindex(list(LOYALTY)).fillna(0).astype(int)
    total = float(pc["wallet_month"].sum())
    return {"n_wallet": len(pc), "wallet_total": total, "revenue_month": float(rev_m.sum()),
            "share_total": float(rev_m.sum() / total) if total > 0 else None,
            "n_indifferent": int(loyal.get("indifferent", 0)), "n_secondary": int(loyal.get("secondary", 0)),
            "n_main": int(loyal.get("main", 0)), **money}


def manager_bias_shown(estimator, cards: pd.DataFrame) -> float | None:
    """The managers' underestimate the estimator corrected for, or None when no card carries an estimate.

    >>> class E: manager_bias_ = 0.3
    >>> manager_bias_shown(E(), pd.DataFrame({"reported_turnover": [np.nan]})) is None
    True
    """
    b = getattr(estimator, "manager_bias_", None)
    known = "reported_turnover" in cards and cards["reported_turnover"].notna().any()
    return float(b) if b is not None and np.isfinite(b) and known else None
