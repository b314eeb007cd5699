"""What notebook 02 shows of the wallet stage's results: where the wallets came from, where the money is,
and the numbers its texts quote (raw numbers: the report formats them)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from kbanalysis.schema import BUYING, LOYALTY, wallet_evidence_of


def source_counts(per_client: pd.DataFrame) -> pd.DataFrame:
    """How many clients got their wallet from each source: ``wallet_source, clients``.

    >>> source_counts(pd.DataFrame({"wallet_source": ["survey", None, "survey"]})).to_dict("list")
    {'wallet_source': ['survey', 'no_estimate'], 'clients': [2, 1]}
    """
    return per_client["wallet_source"].fillna("no_estimate").value_counts().rename_axis(
        "wallet_source").reset_index(name="clients")


def largest_room(per_client: pd.DataFrame, cards: pd.DataFrame, n: int = 20, loyalty: bool = True) -> pd.DataFrame:
    """The ``n`` clients with the most up-sale + cross-sale room a month, with their name and channel
    (``loyalty=False``: without the loyalty band, withheld where the wallets rest on look-alikes alone).

    >>> pc = pd.DataFrame({"client_id": ["a", "b"], "upsell_month": [1.0, 5.0], "crosssell_month": [0.0, np.nan]})
    >>> largest_room(pc, pd.DataFrame({"client_id": ["a", "b"], "name": ["A", "B"], "channel": ["r", "r"]}))["name"].tolist()
    ['B', 'A']
    """
    gaps = per_client.assign(room=per_client["upsell_month"].fillna(0) + per_client["crosssell_month"].fillna(0))
    gaps = gaps.merge(cards[["client_id", "name", "channel"]], on="client_id", how="left",
                      suffixes=("", "_card")).sort_values("room", ascending=False, kind="mergesort").head(n)
    cols = [c for c in ("client_id", "name", "channel", "wallet_month", "revenue_month", "share_of_wallet", "loyalty",
                        "upsell_month", "crosssell_month", "plan_month", "wallet_source")
            if c in gaps.columns and (loyalty or c != "loyalty")]
    return gaps[cols]


def wallet_facts(per_client: pd.DataFrame) -> dict:
    """The numbers the wallet texts quote (raw: the report formats them), every one as ``summary.json``
    counts it.

    Clients with a wallet (``n_wallet``), the wallets' and our monthly total (``wallet_total``,
    ``revenue_month``), our share of it (``share_total``), clients per loyalty band, whether the wallets rest
    on evidence of the clients' own (``firm``; False when look-alikes alone, :func:`kbanalysis.schema.wallet_evidence_of`),
    up-sale, cross-sale and the plans (``plan``, a month). Once the plans are made, the plans split into
    parts that add up to ``plan``: what the active and sleeping clients buy now (``current``, 12-month
    average), the recent rise above that average the plans keep (``kept``), the achievable uplift
    (``achievable``, :func:`kbanalysis.wallet.model.achievable`; ``achievable_pct`` its share of ``current``),
    the lost clients' plans (``reactivation``) and those of clients that never bought (``acquisition``);
    None before.

    >>> pc = pd.DataFrame({"wallet_month": [100.0, np.nan], "revenue_month": [10.0, 5.0],
    ...     "loyalty": ["main", None], "upsell_month": [3.0, np.nan], "crosssell_month": [1.0, np.nan],
    ...     "plan_month": [12.0, 5.0], "wallet_source": ["survey", None]})
    >>> f = wallet_facts(pc)
    >>> f["n_wallet"], f["share_total"], f["n_main"], f["plan"], f["firm"]
    (1, 0.1, 1, 17.0, True)
    >>> pc = pc.assign(base=["active", "lost"], achievable_month=[1.5, 5.0])
    >>> f = wallet_facts(pc)
    >>> f["current"], f["kept"], f["achievable"], f["reactivation"], f["acquisition"]
    (10.0, 0.5, 1.5, 5.0, 0.0)
    """
    pc = per_client.loc[per_client["wallet_month"].notna()]
    money = {k: float(per_client[c].sum()) if c in per_client else None for k, c in (
        ("upsell", "upsell_month"), ("crosssell", "crosssell_month"), ("plan", "plan_month"))}
    money.update(plan_parts(per_client))
    money["achievable_pct"] = (money["achievable"] / money["current"] if money["current"] else None)
    rev_m = pc["revenue_month"].fillna(0.0) if "revenue_month" in pc else pd.Series(0.0, index=pc.index)
    loyal = pc["loyalty"].value_counts().reindex(list(LOYALTY)).fillna(0).astype(int)
    total = float(pc["wallet_month"].sum())
    return {"n_wallet": len(pc), "wallet_total": total, "revenue_month": float(rev_m.sum()),
            "share_total": float(rev_m.sum() / total) if total > 0 else None,
            "n_indifferent": int(loyal.get("indifferent", 0)), "n_secondary": int(loyal.get("secondary", 0)),
            "n_main": int(loyal.get("main", 0)), "firm": firm(per_client), **money}


def firm(per_client: pd.DataFrame) -> bool:
    """Whether the wallets of ``per_client`` rest on some evidence of the clients' own (survey, managers'
    estimates, drivers): False when look-alikes alone (:func:`kbanalysis.schema.wallet_evidence_of`), and then
    the loyalty split is withheld.

    >>> firm(pd.DataFrame({"wallet_source": ["lookalike", "extrapolated"]})), firm(pd.DataFrame({"wallet_source": ["survey"]}))
    (False, True)
    """
    sources = per_client["wallet_source"].value_counts().to_dict() if "wallet_source" in per_client else {}
    return wallet_evidence_of(sources) != "lookalike"


def plan_parts(per_client: pd.DataFrame) -> dict:
    """The monthly plans of all clients in parts that add up to their sum: ``current`` (what the active and
    sleeping clients buy now, their 12-month average), ``kept`` (the part of their plans above that and below
    the achievable uplift: a recent rate the plan only keeps), ``achievable`` (their plans' uplift),
    ``reactivation`` (lost clients' plans) and ``acquisition`` (plans of clients that never bought); a closed
    card's plan is 0. All None while the plans or the bases are not there.

    >>> pc = pd.DataFrame({"base": ["active", "sleeping", "lost", "potential", "closed"],
    ...     "revenue_month": [100.0, 50.0, 0.0, 0.0, 9.0], "plan_month": [150.0, 60.0, 40.0, 30.0, 0.0],
    ...     "achievable_month": [30.0, 10.0, 40.0, 30.0, 0.0]})
    >>> plan_parts(pc)
    {'current': 150.0, 'kept': 20.0, 'achievable': 40.0, 'reactivation': 40.0, 'acquisition': 30.0}
    """
    names = ("current", "kept", "achievable", "reactivation", "acquisition")
    if not {"achievable_month", "base", "plan_month"} <= set(per_client.columns):
        return dict.fromkeys(names)
    base = per_client["base"].astype("string")

    def of(col, bases):
        mask = base.isin(bases).fillna(False).to_numpy(dtype=bool)
        return pd.to_numeric(per_client[col], errors="coerce").astype(float)[mask]

    buying_plan = of("plan_month", BUYING)
    current = float(of("revenue_month", BUYING).fillna(0.0).clip(lower=0.0).sum())
    gain = of("achievable_month", BUYING)
    return {"current": current, "kept": float((buying_plan - gain).sum()) - current,
            "achievable": float(gain.sum()), "reactivation": float(of("achievable_month", ["lost"]).sum()),
            "acquisition": float(of("achievable_month", ["potential"]).sum())}


def source_facts(estimates: pd.DataFrame, bias: float | None, lang: str = "ru") -> dict:
    """What the text on the wallet's sources quotes: the clients with a wallet (``n_wallet``), the sources the
    case has as one phrase in the run's language (``sources``: clients' answers, managers' estimates with
    their correction ``bias``, drivers, look-alikes — only those with an estimate) and whether any client's
    turnover is known to check the estimates against (``checked``: a survey or managers' estimates).

    ``estimates`` is :attr:`kbanalysis.wallet.model.WalletEstimator.estimates_`.

    >>> e = pd.DataFrame({"wallet_month": [5.0, np.nan], "w_survey": [np.nan, np.nan], "w_lookalike": [5.0, np.nan]})
    >>> f = source_facts(e, None, "en")
    >>> f["n_wallet"], f["sources"], f["checked"]
    (1, 'what look-alike clients buy (a high quantile, the data-driven wallet estimate)', False)
    """
    from kbanalysis.deliverables.i18n import fmt_pct, listed, t

    def has(col):
        return col in estimates and bool(pd.to_numeric(estimates[col], errors="coerce").notna().any())

    parts = []
    for src, col in (("survey", "w_survey"), ("manager", "w_manager"), ("drivers", "w_drivers"),
                     ("lookalike", "w_lookalike")):
        if has(col):
            key = f"nb.turnover.src.{src}" + ("_bias" if src == "manager" and bias else "")
            parts.append(t(key, lang, bias=fmt_pct(bias, lang) if bias else ""))
    joined = listed(parts, lang) if parts else t("nb.turnover.src.none", lang)
    return {"n_wallet": int(estimates["wallet_month"].notna().sum()), "sources": joined,
            "checked": has("w_survey") or has("w_manager")}


def side_by_side(estimates: pd.DataFrame) -> pd.DataFrame:
    """Each client's estimate per source beside the combined wallet, only the sources the case has.

    >>> e = pd.DataFrame({"client_id": ["a"], "w_survey": [np.nan], "w_lookalike": [5.0], "wallet_month": [5.0],
    ...                   "wallet_source": ["lookalike"]})
    >>> list(side_by_side(e).columns)
    ['client_id', 'w_lookalike', 'wallet_month', 'wallet_source']
    """
    cols = [c for c in ("w_survey", "w_manager", "w_drivers", "w_lookalike")
            if c in estimates and pd.to_numeric(estimates[c], errors="coerce").notna().any()]
    return estimates[["client_id", *cols, "wallet_month", "wallet_source"]]


def manager_bias_shown(estimator, cards: pd.DataFrame) -> float | None:
    """The managers' underestimate the estimator corrected for, or None when no card carries an estimate.

    >>> class E: manager_bias_ = 0.3
    >>> manager_bias_shown(E(), pd.DataFrame({"reported_turnover": [np.nan]})) is None
    True
    """
    b = getattr(estimator, "manager_bias_", None)
    known = "reported_turnover" in cards and cards["reported_turnover"].notna().any()
    return float(b) if b is not None and np.isfinite(b) and known else None
