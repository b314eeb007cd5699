"""Structure of the client base, the reactivation list and revenue concentration.

* :func:`base_structure` — every card into one base: ``active`` (АКБ), ``sleeping``, ``lost``,
  ``potential`` (ПКБ, never bought) or ``closed``, from the client's own order rhythm;
* :func:`lost_regular_clients` — lost clients that used to buy regularly, with a call priority;
* :func:`revenue_shares`, :func:`key_accounts`, :func:`pareto_table`, :func:`pareto_share`,
  :func:`hhi` — dependency on single clients (key 10 %, critical 20 %, mono 70 %);
* :func:`audit_table` — runs the cleaning and all of the above for notebook 01-audit.

>>> import pandas as pd
>>> key_accounts(revenue_shares(pd.Series({"a": 75.0, "b": 15.0, "c": 10.0}))).to_dict()
{'a': 'mono', 'b': 'key', 'c': 'none'}
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from kbanalysis.sales.calendar import _as_ts
from kbanalysis.audit import cleaning
from kbanalysis.io.case import driver_columns
from kbanalysis.sales.engine import client_months as _client_months
from kbanalysis.sales.engine import client_summary as _client_summary
from kbanalysis.sales.engine import last_sale
from kbanalysis.sales.lines import buyer_ids, core_lines, distinct_ids, with_masters  # noqa: F401 (facade)

#: Relative tolerance of the share thresholds: a share of exactly 10 % is not "above 10 %"
#: even when floating-point sums make it 0.10000000000000002.
_EPS = 1e-9
_DAYS_PER_MONTH = 365.25 / 12


# ------------------------------------------------------------------------------------------
# base structure
# ------------------------------------------------------------------------------------------
def base_structure(clients: pd.DataFrame, summary: pd.DataFrame, as_of, *, lost_gap_multiple: float = 3.0,
                   lost_min_days: int = 90, sleeping_gap_multiple: float = 1.5, sleeping_drop: float = 0.5,
                   few_orders_lost_days: int = 180, sleeping_min_days: float | None = None,
                   drop_max_gap_days: float = 62,
                   min_rhythm_orders: int = 3, id_col: str = "client_id",
                   status_col: str = "status") -> pd.DataFrame:
    """Every card into exactly one base, by the client's own order rhythm.

    ``summary`` is :func:`kbanalysis.sales.engine.client_summary` of the sales (an *order* is a day
    with a positive total). Rules, first match wins:

    1. ``closed`` — the card's status is ``closed``;
    2. ``potential`` — no order ever (ПКБ);
    3. ``lost`` — silent (days from the last order to ``as_of``) **strictly longer** than
       ``lost_after_days = max(lost_min_days, lost_gap_multiple × usual gap)``;
    4. ``sleeping`` — silent strictly longer than
       ``sleeping_after_days = max(sleeping_min_days, sleeping_gap_multiple × usual gap)``, or a
       client with a rhythm of at most ``drop_max_gap_days`` (so that a quarter normally holds an
       order or two) whose last-3-months revenue is below ``sleeping_drop`` × its usual 3-month
       level;
    5. ``active`` otherwise (together with ``sleeping`` — the АКБ).

    The *usual gap* is the median of the days between consecutive orders over the whole history
    (robust to one long pause). With fewer than ``min_rhythm_orders`` orders (one or two: no
    rhythm yet) the usual gap is taken as ``few_orders_lost_days / lost_gap_multiple``, so such a
    client is lost after ``max(lost_min_days, few_orders_lost_days)`` days and sleeping after
    ``sleeping_gap_multiple`` of that gap. ``sleeping_min_days`` (default
    ``lost_min_days × sleeping_gap_multiple / lost_gap_multiple`` = 45 days) keeps a weekly buyer
    from "sleeping" after ten quiet days. The *usual 3-month level* is the revenue of months 7–12
    before ``as_of`` (``revenue_prev_6m``: the level half a year earlier, before any recent
    slowdown began), per month since the first order, times 3; it needs at least 3 such months,
    else the drop rule is not applied.

    Returns one row per card (clients' order): ``client_id, base, days_silent, usual_gap_days,
    lost_after_days, sleeping_after_days, last_date, orders, revenue_last_3m, usual_3m_revenue,
    base_reason`` (``closed``, ``returns_only``, ``no_orders``, ``silent``, ``revenue_drop``, ``rhythm``;
    :func:`kbanalysis.audit.lost.lost_call` adds ``lost_model`` and ``rule_only``).

    Examples
    --------
    Monthly buyer silent 91 days is lost, 90 days is not (strictly longer); one order 150 days
    ago is sleeping; no orders is potential:

    >>> c = pd.DataFrame({"client_id": ["a", "b", "c", "d"], "status": ["active"] * 4})
    >>> s = pd.DataFrame({"client_id": ["a", "b", "c"], "orders": [10, 10, 1],
    ...     "first_date": pd.to_datetime(["2023-01-01", "2023-01-01", "2023-11-01"]),
    ...     "last_date": pd.to_datetime(["2024-01-01", "2024-01-02", "2023-11-03"]),
    ...     "median_gap_days": [30.0, 30.0, np.nan], "revenue_12m": [1e5, 1e5, 10.0],
    ...     "revenue_last_3m": [0.0, 0.0, 0.0]})
    >>> base_structure(c, s, "2024-04-01")[["client_id", "base", "days_silent", "lost_after_days"]]
      client_id       base  days_silent  lost_after_days
    0         a       lost         91.0             90.0
    1         b   sleeping         90.0             90.0
    2         c   sleeping        150.0            180.0
    3         d  potential          NaN              NaN
    """
    as_of = _as_ts(as_of)
    ids = clients[id_col].astype("string")
    s = summary.copy()
    s[id_col] = s[id_col].astype("string")
    s = s.drop_duplicates(id_col).set_index(id_col).reindex(ids.to_numpy())
    orders = s["orders"].fillna(0).to_numpy(dtype=float) if "orders" in s else np.zeros(len(s))
    last = pd.to_datetime(s["last_date"])
    first = pd.to_datetime(s["first_date"]) if "first_date" in s else last
    silent = (as_of - last).dt.days.to_numpy(dtype=float)
    gap = s["median_gap_days"].to_numpy(dtype=float)
    rhythm = (orders >= min_rhythm_orders) & np.isfinite(gap)
    g_eff = np.where(rhythm, gap, few_orders_lost_days / lost_gap_multiple)
    has = orders > 0
    # lines but no order (only returns / cancellations, e.g. of purchases made before the data begins):
    # a former buyer, not a prospect that never bought
    in_sales = s["revenue_total"].notna().to_numpy() if "revenue_total" in s else np.zeros(len(s), dtype=bool)
    returns_only = ~has & in_sales
    lost_after = np.where(has, np.maximum(lost_min_days, lost_gap_multiple * g_eff), np.nan)
    if sleeping_min_days is None:
        sleeping_min_days = lost_min_days * sleeping_gap_multiple / lost_gap_multiple
    sleep_after = np.where(has, np.maximum(sleeping_min_days, sleeping_gap_multiple * g_eff), np.nan)

    def col(name):
        return s[name].fillna(0.0).to_numpy(dtype=float) if name in s else np.zeros(len(s))

    r3, prev6 = col("revenue_last_3m"), col("revenue_prev_6m")
    start12, start6 = as_of - pd.DateOffset(months=12), as_of - pd.DateOffset(months=6)
    prior_from = first.where(first > start12, start12)
    prior_months = ((start6 - prior_from).dt.days / _DAYS_PER_MONTH).clip(lower=0, upper=6).fillna(0)
    prior_months = prior_months.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        usual3 = np.where(prior_months >= 3, prev6 / np.maximum(prior_months, 1e-9) * 3, np.nan)
    drop = rhythm & (gap <= drop_max_gap_days) & (usual3 > 0) & (r3 < sleeping_drop * usual3)

    status = clients[status_col].astype("string").str.lower().fillna("active").to_numpy() \
        if status_col in clients else np.full(len(clients), "active", dtype=object)
    closed = status == "closed"
    lost = has & (silent > lost_after)
    sleeping = has & ~lost & ((silent > sleep_after) | drop)
    base = np.select([closed, returns_only, ~has, lost, sleeping], ["closed", "lost", "potential", "lost", "sleeping"],
                     "active")
    reason = np.select([closed, returns_only, ~has, lost, has & ~lost & (silent > sleep_after), sleeping],
                       ["closed", "returns_only", "no_orders", "silent", "silent", "revenue_drop"], "rhythm")
    return pd.DataFrame({
        "client_id": ids.to_numpy(), "base": pd.array(base, dtype="string"), "days_silent": silent,
        "usual_gap_days": np.where(rhythm, gap, np.nan), "lost_after_days": lost_after,
        "sleeping_after_days": sleep_after, "last_date": last.to_numpy(), "orders": orders.astype("int64"),
        "revenue_last_3m": np.where(has, r3, np.nan), "usual_3m_revenue": usual3,
        "base_reason": pd.array(reason, dtype="string"),
    })


# ------------------------------------------------------------------------------------------
# reactivation list
# ------------------------------------------------------------------------------------------
def _month_index(m: pd.Series) -> np.ndarray:
    m = pd.to_datetime(m)
    return (m.dt.year * 12 + m.dt.month - 1).to_numpy(dtype="int64")


def lost_regular_clients(client_months: pd.DataFrame, base: pd.DataFrame, *, min_months: int = 4,
                         window_months: int = 6, half_life_months: float = 12.0,
                         id_col: str = "client_id") -> pd.DataFrame:
    """The reactivation list: lost clients that used to buy regularly, best first.

    ``client_months`` is :func:`kbanalysis.sales.engine.client_months`, ``base`` the frame of
    :func:`base_structure` (``client_id, base, days_silent, last_date``). For every ``lost``
    client (and every client silent beyond the rule's threshold that the backtested model expects
    back, ``base_reason`` ``rule_only``: :func:`kbanalysis.audit.lost.lost_call`) the *window* is the ``window_months`` calendar months ending with the month of its
    last order. It is a regular buyer when it had orders (positive revenue) in at least
    ``min_months`` of them.

    Columns (the first five are ``lost_clients.csv``): ``client_id, last_order_date,
    active_months`` (months with orders in the window), ``avg_month_revenue`` (revenue of the
    window / active months), ``priority`` (1 = call first), then ``avg_month_margin`` (NaN when
    cost is unknown), ``months_since`` (months from the last order to the analysis date) and
    ``score``.

    Priority: ``score = value × lost_probability`` — what the client used to bring per month
    (``avg_month_margin`` when cost is known, else ``avg_month_revenue``) times the backtested
    probability that it stays away by itself (``base["lost_probability"]``,
    :class:`kbanalysis.audit.lost.LostModel`): a big client that will not come back unprompted
    comes first, a loss-making one last. Without that column (or where it is NaN) the probability
    is replaced by ``0.5 ** (months_since / half_life_months)`` (halved for every
    ``half_life_months`` since it left). Ties by client_id.

    Examples
    --------
    >>> cm = pd.DataFrame({"client_id": ["a"] * 5 + ["b"] * 3 + ["c"] * 4,
    ...     "month": pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01", "2023-05-01",
    ...                              "2023-04-01", "2023-05-01", "2023-06-01",
    ...                              "2023-03-01", "2023-04-01", "2023-05-01", "2023-06-01"]),
    ...     "revenue": [100.0] * 5 + [500.0] * 3 + [300.0] * 4, "margin": [np.nan] * 12})
    >>> b = pd.DataFrame({"client_id": ["a", "b", "c"], "base": ["lost"] * 3, "days_silent": [300.0, 270, 270],
    ...     "last_date": pd.to_datetime(["2023-05-20", "2023-06-20", "2023-06-20"])})
    >>> lost_regular_clients(cm, b)[["client_id", "active_months", "avg_month_revenue", "priority"]]
      client_id  active_months  avg_month_revenue  priority
    0         c              4              300.0         1
    1         a              5              100.0         2
    """
    cols = ["client_id", "last_order_date", "active_months", "avg_month_revenue", "priority", "avg_month_margin",
            "months_since", "score"]
    reason = base["base_reason"].astype("string") if "base_reason" in base else pd.Series(pd.NA, index=base.index)
    b = base.loc[((base["base"].astype("string") == "lost") | (reason == "rule_only")).fillna(False)].copy()
    b[id_col] = b[id_col].astype("string")
    b = b.drop_duplicates(id_col)
    if b.empty or client_months.empty:
        return _empty_lost(cols)
    cm = client_months.loc[cleaning.isin(client_months[id_col].astype("string"), b[id_col])].copy()
    cm[id_col] = cm[id_col].astype("string")
    cm["mi"] = _month_index(cm["month"])
    pos = cm.loc[cm["revenue"] > 0]
    last_mi = pos.groupby(id_col)["mi"].max()
    cm["last_mi"] = last_mi.reindex(cm[id_col]).to_numpy()
    w = cm.loc[(cm["mi"] <= cm["last_mi"]) & (cm["mi"] > cm["last_mi"] - window_months)]
    margin = w["margin"] if "margin" in w else pd.Series(np.nan, index=w.index)
    agg = pd.DataFrame({id_col: w[id_col], "rev": w["revenue"], "mar": margin,
                        "act": (w["revenue"] > 0).astype(int), "mknown": margin.notna()}).groupby(id_col).agg(
        active_months=("act", "sum"), rev=("rev", "sum"), mar=("mar", "sum"), mknown=("mknown", "all"))
    agg = agg.loc[agg["active_months"] >= min_months]
    if agg.empty:
        return _empty_lost(cols)
    b = b.set_index(id_col).reindex(agg.index)
    out = pd.DataFrame({"client_id": agg.index.astype("string")})
    if "last_date" in b:
        out["last_order_date"] = pd.to_datetime(b["last_date"]).to_numpy()
    else:
        lm = last_mi.reindex(agg.index).to_numpy()
        out["last_order_date"] = pd.to_datetime({"year": lm // 12, "month": lm % 12 + 1, "day": 1}).to_numpy()
    out["active_months"] = agg["active_months"].to_numpy(dtype="int64")
    out["avg_month_revenue"] = (agg["rev"] / agg["active_months"]).to_numpy(dtype=float)
    out["avg_month_margin"] = np.where(agg["mknown"], agg["mar"] / agg["active_months"], np.nan)
    out["months_since"] = (b["days_silent"].to_numpy(dtype=float) / _DAYS_PER_MONTH) if "days_silent" in b \
        else np.nan
    value = np.where(np.isfinite(out["avg_month_margin"]), out["avg_month_margin"], out["avg_month_revenue"])
    stay = b["lost_probability"].to_numpy(dtype=float) if "lost_probability" in b else np.full(len(out), np.nan)
    decay = 0.5 ** (np.nan_to_num(out["months_since"].to_numpy(dtype=float)) / half_life_months)
    out["score"] = value * np.where(np.isfinite(stay), stay, decay)
    out = out.sort_values(["score", "client_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    out["priority"] = np.arange(1, len(out) + 1, dtype="int64")
    return out[cols]


def _empty_lost(cols) -> pd.DataFrame:
    return pd.DataFrame({
        "client_id": pd.Series([], dtype="string"), "last_order_date": pd.Series([], dtype="datetime64[ns]"),
        "active_months": pd.Series([], dtype="int64"), "avg_month_revenue": pd.Series([], dtype=float),
        "priority": pd.Series([], dtype="int64"), "avg_month_margin": pd.Series([], dtype=float),
        "months_since": pd.Series([], dtype=float), "score": pd.Series([], dtype=float)})[cols]


# ------------------------------------------------------------------------------------------
# concentration
# ------------------------------------------------------------------------------------------
def revenue_shares(revenue: pd.Series) -> pd.Series:
    """Each client's share of the total revenue (negative revenue counts as 0; all 0 when no revenue).

    Examples
    --------
    >>> revenue_shares(pd.Series({"a": 30.0, "b": 10.0, "c": -5.0})).to_dict()
    {'a': 0.75, 'b': 0.25, 'c': 0.0}
    """
    r = pd.Series(revenue, dtype=float).fillna(0.0).clip(lower=0.0)
    total = r.sum()
    return (r / total) if total > 0 else r * 0.0


def key_accounts(shares: pd.Series, key_share: float = 0.10, critical_share: float = 0.20,
                 mono_share: float = 0.70) -> pd.Series:
    """Dependency class of each client by its share of revenue: ``none``, ``key``, ``critical``, ``mono``.

    Strictly greater than: share > ``key_share`` is ``key``, > ``critical_share`` ``critical``,
    > ``mono_share`` ``mono``; a share exactly at a threshold stays in the class below (compared with
    a 1e-9 tolerance, so float rounding cannot cross a boundary).

    Examples
    --------
    >>> key_accounts(pd.Series([0.1, 0.1000001, 0.2, 0.21, 0.7, 0.71])).tolist()
    ['none', 'key', 'key', 'critical', 'critical', 'mono']
    """
    s = pd.Series(shares, dtype=float).fillna(0.0)
    v = s.to_numpy()
    out = np.select([v > mono_share + _EPS, v > critical_share + _EPS, v > key_share + _EPS],
                    ["mono", "critical", "key"], "none")
    return pd.Series(pd.array(out, dtype="string"), index=s.index, name="key_account")


def pareto_table(revenue: pd.Series) -> pd.DataFrame:
    """Cumulative share of clients vs cumulative share of revenue (clients with positive revenue).

    Rows from the biggest client: ``client_id, revenue, rank, client_share`` (rank / clients),
    ``revenue_share`` (cumulative share of revenue).

    Examples
    --------
    >>> pareto_table(pd.Series({"a": 10.0, "b": 60.0, "c": 30.0, "d": 0.0}))
      client_id  revenue  rank  client_share  revenue_share
    0         b     60.0     1      0.333333            0.6
    1         c     30.0     2      0.666667            0.9
    2         a     10.0     3      1.000000            1.0
    """
    r = pd.Series(revenue, dtype=float)
    r = r[r > 0]
    d = pd.DataFrame({"client_id": r.index.astype("string"), "revenue": r.to_numpy()})
    d = d.sort_values(["revenue", "client_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    n = len(d)
    d["rank"] = np.arange(1, n + 1, dtype="int64")
    d["client_share"] = d["rank"] / n if n else np.array([], dtype=float)
    total = d["revenue"].sum()
    d["revenue_share"] = d["revenue"].cumsum() / total if n else np.array([], dtype=float)
    return d


def pareto_share(revenue: pd.Series, target: float = 0.8) -> float:
    """The smallest share of clients (biggest first) that brings at least ``target`` of the revenue.

    Among clients with positive revenue; NaN when there are none.

    Examples
    --------
    >>> pareto_share(pd.Series([50.0, 30.0, 10.0, 5.0, 5.0]))
    0.4
    """
    p = pareto_table(revenue)
    if p.empty:
        return float("nan")
    k = int(np.searchsorted(p["revenue_share"].to_numpy() + 1e-12, target, side="left"))
    return float(p["client_share"].iloc[min(k, len(p) - 1)])


def hhi(revenue: pd.Series) -> float:
    """Herfindahl–Hirschman index of revenue concentration: Σ share², from 1/n (even) to 1 (one client).

    Multiply by 10 000 for the antitrust scale. NaN when there is no positive revenue.

    Examples
    --------
    >>> hhi(pd.Series([50.0, 50.0])), hhi(pd.Series([100.0, 0.0]))
    (0.5, 1.0)
    """
    r = pd.Series(revenue, dtype=float).fillna(0.0).clip(lower=0.0)
    total = r.sum()
    if total <= 0:
        return float("nan")
    return float(((r / total) ** 2).sum())


def base_counts(per_client: pd.DataFrame) -> pd.DataFrame:
    """Clients and their 12-month revenue in each base (master cards only): ``base, clients, revenue_12m``.

    >>> pc = pd.DataFrame({"client_id": ["a", "b", "c"], "merged_into": [None, "a", None],
    ...                    "base": ["active", "active", "lost"], "revenue_12m": [5.0, np.nan, 0.0]})
    >>> base_counts(pc)[["base", "clients"]].head(3).to_dict("list")
    {'base': ['active', 'sleeping', 'lost'], 'clients': [1, 0, 1]}
    """
    from kbanalysis.schema import BASES

    masters = per_client.loc[per_client["merged_into"].isna()]
    out = (masters.groupby("base").agg(clients=("client_id", "size"), revenue_12m=("revenue_12m", "sum"))
           .reindex(list(BASES)).fillna(0).reset_index())
    out["clients"] = out["clients"].astype(int)
    return out


def base_facts(per_client: pd.DataFrame) -> dict:
    """How many master cards each base holds: ``n_active``, ``n_sleeping``, ``n_lost``, ``n_potential``, ``n_closed``.

    >>> base_facts(pd.DataFrame({"merged_into": [None, None], "base": ["lost", "active"]}))["n_lost"]
    1
    """
    from kbanalysis.schema import BASES

    b = per_client.loc[per_client["merged_into"].isna(), "base"]
    return {f"n_{x}": int((b == x).sum()) for x in BASES}


def master_revenue(per_client: pd.DataFrame) -> pd.Series:
    """12-month revenue of each master card (0 without sales), indexed by client_id.

    >>> master_revenue(pd.DataFrame({"client_id": ["a", "b"], "merged_into": [None, "a"],
    ...                              "revenue_12m": [5.0, np.nan]})).to_dict()
    {'a': 5.0}
    """
    masters = per_client.loc[per_client["merged_into"].isna()]
    return masters.set_index("client_id")["revenue_12m"].fillna(0.0)


def concentration_facts(revenue: pd.Series, key_account: pd.Series, *, target: float = 0.8) -> dict:
    """The numbers the text on dependency quotes: the share of clients bringing ``target`` of the revenue
    (``pareto``), ``hhi``, the number of key accounts of any class (``n_key``), the largest client's
    share (``top_share``) and the total ``revenue``; shares are None when nobody bought.

    >>> f = concentration_facts(pd.Series([60.0, 30.0, 10.0]), pd.Series(["mono", "critical", "none"]))
    >>> f["n_key"], f["top_share"], f["pareto_target"]
    (2, 0.6, 0.8)
    """
    pos = revenue[revenue > 0]
    some = len(pos) > 0
    return {"pareto": pareto_share(pos, target) if some else None, "pareto_target": target,
            "hhi": hhi(pos) if some else None, "n_key": int(key_account.isin(["key", "critical", "mono"]).sum()),
            "top_share": float(pos.max() / pos.sum()) if some else None, "revenue": float(revenue.sum())}


def lost_facts(lost: pd.DataFrame, per_client: pd.DataFrame) -> dict:
    """The numbers the text on the reactivation list quotes: lost clients, how many of the listed ones bought
    regularly and what those brought a month, and that split by the client's base: ``n_regular_lost`` /
    ``money_regular_lost`` (lost clients) and ``n_regular_silent`` / ``money_regular_silent`` (clients
    silent beyond the rule's threshold that the backtest expects back: in the base they are sleeping).

    >>> lf = lost_facts(pd.DataFrame({"client_id": ["a", "b"], "avg_month_revenue": [10.0, 5.0]}),
    ...                 pd.DataFrame({"client_id": ["a", "b", "c"], "merged_into": [None] * 3,
    ...                               "base": ["lost", "sleeping", "lost"]}))
    >>> lf["n_lost"], lf["n_lost_regular"], lf["lost_money"], lf["n_regular_silent"], lf["money_regular_lost"]
    (2, 2, 15.0, 1, 10.0)
    """
    money = pd.to_numeric(lost["avg_month_revenue"], errors="coerce") if len(lost) else pd.Series(dtype=float)
    masters = per_client.loc[per_client["merged_into"].isna()]
    if "client_id" in lost and "client_id" in masters:
        bases = masters.set_index(masters["client_id"].astype(str))["base"]
        is_lost = (lost["client_id"].astype(str).map(bases) == "lost").to_numpy(dtype=bool)
    else:
        is_lost = np.ones(len(lost), dtype=bool)
    return {"n_lost": base_facts(per_client)["n_lost"], "n_lost_regular": len(lost),
            "lost_money": float(money.sum()) if len(lost) else 0.0,
            "n_regular_lost": int(is_lost.sum()), "money_regular_lost": float(money[is_lost].sum()),
            "n_regular_silent": int((~is_lost).sum()), "money_regular_silent": float(money[~is_lost].sum())}


def lost_text_key(facts: dict) -> str:
    """Which text tells the reactivation list of :func:`lost_facts`: lost clients only, silent ones only, or both.

    >>> lost_text_key({"n_regular_lost": 2, "n_regular_silent": 0}), lost_text_key({"n_regular_lost": 0, "n_regular_silent": 3})
    ('nb.audit.lost_only', 'nb.audit.lost_silent')
    """
    if not facts["n_regular_silent"]:
        return "nb.audit.lost_only"
    return "nb.audit.lost" if facts["n_regular_lost"] else "nb.audit.lost_silent"


# ------------------------------------------------------------------------------------------
# all together
# ------------------------------------------------------------------------------------------
def master_map(clients: pd.DataFrame, duplicates: pd.DataFrame, sales, as_of) -> pd.Series:
    """Card id -> the id of the card it is analysed as (its master; itself when not a duplicate).

    Duplicates are merged for the analysis (:func:`kbanalysis.audit.cleaning.merge_map`: the card
    with the smallest ``_row`` of its group; a name-only match with a card that never bought
    before ``as_of`` is listed but not merged).

    >>> c = pd.DataFrame({"client_id": ["a", "b"], "name": ["x", "x"], "_row": [2, 3]})
    >>> d = pd.DataFrame({"client_id": ["b"], "duplicate_of": ["a"], "reason": ["same_inn"]})
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-02"]), "client_id": ["b"], "amount": [5.0]})
    >>> master_map(c, d, s, "2024-02-01").to_dict()
    {'a': 'a', 'b': 'a'}
    """
    mm = cleaning.merge_map(clients, duplicates, buyers=buyer_ids(sales, _as_ts(as_of)))
    return pd.Series(mm.to_numpy(), index=mm.index.astype(str))


def master_lines(sales, to_master: pd.Series) -> pd.DataFrame:
    """The sales lines with each duplicate card's lines attributed to its master (``client_id`` replaced).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-02"]), "client_id": ["b"],
    ...                   "product_group": ["x"], "amount": [5.0], "cost": [1.0]})
    >>> master_lines(s, pd.Series({"a": "a", "b": "a"}))["client_id"].tolist()
    ['a']
    """
    return with_masters(core_lines(sales), to_master)


def master_cards(clients: pd.DataFrame, to_master: pd.Series) -> pd.DataFrame:
    """The cards that are their own master (duplicate cards left out), in the clients' order.

    >>> c = pd.DataFrame({"client_id": ["a", "b"], "name": ["x", "x"]})
    >>> master_cards(c, pd.Series({"a": "a", "b": "a"}))["client_id"].tolist()
    ['a']
    """
    ids = clients["client_id"].astype("string")
    return clients.loc[to_master.reindex(ids.to_numpy()).to_numpy() == ids.to_numpy()]


def account_table(base: pd.DataFrame, summary: pd.DataFrame, *, key_share: float = 0.10,
                  critical_share: float = 0.20, mono_share: float = 0.70) -> pd.DataFrame:
    """Per master card: its base, 12-month revenue and margin, share of revenue, key account class and
    the sales features of ``summary`` (:func:`kbanalysis.sales.engine.client_summary`), indexed by client_id.

    Dependency classes are those of :func:`key_accounts` with the thresholds ``key_share``,
    ``critical_share`` and ``mono_share``.

    >>> b = pd.DataFrame({"client_id": ["a", "b"], "base": ["active", "lost"], "base_reason": ["", ""]})
    >>> s = pd.DataFrame({"client_id": ["a", "b"], "revenue_12m": [90.0, 10.0], "margin_12m": [np.nan] * 2})
    >>> account_table(b, s)["key_account"].to_dict()
    {'a': 'mono', 'b': 'none'}
    """
    summ = summary.copy()
    summ["client_id"] = summ["client_id"].astype("string")
    summ = summ.set_index("client_id").reindex(base["client_id"].to_numpy())
    rev = summ["revenue_12m"].fillna(0.0)
    shares = revenue_shares(rev)
    mb = base.set_index("client_id")
    mb["revenue_12m"] = rev.to_numpy()
    mb["margin_12m"] = summ["margin_12m"].to_numpy() if summ["margin_12m"].notna().any() else np.nan
    mb["revenue_share"] = shares.to_numpy()
    mb["key_account"] = key_accounts(shares, key_share, critical_share, mono_share).to_numpy()
    for f_ in [c for c in summary.columns if c != "client_id" and c not in mb.columns]:
        mb[f_] = summ[f_].to_numpy()
    return mb


#: the first columns of the audit's per-card table, in this order
CARD_COLUMNS = ["client_id", "master_id", "merged_into", "base", "base_reason", "revenue_12m", "margin_12m",
                "revenue_share", "key_account", "completeness", "missing"]


def card_table(clients: pd.DataFrame, to_master: pd.Series, accounts: pd.DataFrame,
               completeness: pd.DataFrame) -> pd.DataFrame:
    """One row per card, in the clients' order: :data:`CARD_COLUMNS`, then the rest of ``accounts``.

    A duplicate card's row copies its master's ``base``, ``base_reason`` and ``key_account``,
    has its money and sales features NaN (they are in the master's row) and ``merged_into`` =
    the master's id. ``accounts`` is :func:`account_table`, ``completeness``
    :func:`kbanalysis.audit.cleaning.card_completeness`.

    >>> c = pd.DataFrame({"client_id": ["a", "b"]})
    >>> acc = pd.DataFrame({"base": ["active"], "base_reason": [""], "revenue_12m": [5.0], "margin_12m": [np.nan],
    ...                     "revenue_share": [1.0], "key_account": ["mono"]}, index=pd.Index(["a"], name="client_id"))
    >>> comp = pd.DataFrame({"client_id": ["a", "b"], "completeness": [1.0, 0.5], "missing": ["", "inn"]})
    >>> card_table(c, pd.Series({"a": "a", "b": "a"}), acc, comp)[["client_id", "merged_into", "base", "revenue_12m"]]
      client_id merged_into    base  revenue_12m
    0         a        <NA>  active          5.0
    1         b           a  active          NaN
    """
    ids = clients["client_id"].astype("string")
    master_of = to_master.reindex(ids.to_numpy()).astype("string")
    rows = accounts.reindex(master_of.to_numpy()).reset_index(drop=True)
    dup = master_of.to_numpy() != ids.to_numpy()
    for c in [c for c in rows.columns if c not in ("base", "base_reason", "key_account")]:
        if pd.api.types.is_numeric_dtype(rows[c]) or pd.api.types.is_datetime64_any_dtype(rows[c]):
            rows.loc[dup, c] = np.nan if not pd.api.types.is_datetime64_any_dtype(rows[c]) else pd.NaT
    if "orders" in rows:
        rows["orders"] = rows["orders"].astype("Int64")
    per_client = pd.DataFrame({"client_id": ids.to_numpy(), "master_id": master_of.to_numpy(),
                               "merged_into": np.where(dup, master_of.to_numpy(dtype=object), None)})
    per_client["merged_into"] = per_client["merged_into"].astype("string")
    per_client = pd.concat([per_client, rows], axis=1)
    cmp_ = completeness.set_index(completeness["client_id"].astype("string"))
    per_client["completeness"] = cmp_["completeness"].reindex(ids.to_numpy()).to_numpy()
    per_client["missing"] = cmp_["missing"].reindex(ids.to_numpy()).to_numpy()
    return per_client[CARD_COLUMNS + [c for c in per_client.columns if c not in CARD_COLUMNS]]


def contact_findings(contacts: pd.DataFrame | None, to_master: pd.Series, masters: pd.DataFrame,
                     base: pd.DataFrame, as_of, *, contact_min_days: int = 30, contact_stale_days: int = 180,
                     lang: str = "ru") -> pd.DataFrame:
    """Contact cadence findings (:func:`kbanalysis.audit.cleaning.contact_issues`) on master cards.

    Contacts of a duplicate card count for its master; a finding about a contacts row keeps
    the id written in that row. Only active and sleeping clients can be "not contacted".
    """
    active = base.loc[base["base"].isin(["active", "sleeping"]), "client_id"]
    k = with_masters(contacts, to_master) if contacts is not None and len(contacts) else None
    cf = cleaning.contact_issues(k, masters, as_of, contact_min_days, contact_stale_days,
                                 active_ids=active, lang=lang)
    if k is not None and len(cf) and "_row" in contacts:
        orig = pd.Series(contacts["client_id"].astype("string").to_numpy(),
                         index=contacts["_row"].astype("Int64").to_numpy())
        if orig.index.is_unique:
            m = cf["table"] == "contacts"
            cf.loc[m, "client_id"] = orig.reindex(cf.loc[m, "row"].to_numpy()).to_numpy()
    return cf


def quality_findings(clients: pd.DataFrame, sales, contacts: pd.DataFrame | None, duplicates: pd.DataFrame,
                     to_master: pd.Series, base: pd.DataFrame, as_of, drivers=(), *, contact_min_days: int = 30,
                     contact_stale_days: int = 180, lang: str = "ru") -> pd.DataFrame:
    """Every card-level quality finding ``table, row, client_id, issue, detail``: invalid INNs and
    phones, incomplete cards, two managers on one client, closed cards with sales, contact cadence.

    ``to_master`` is :func:`master_map`, ``base`` :func:`base_structure` of the master cards.
    """
    as_of = _as_ts(as_of)
    masters = master_cards(clients, to_master)
    return cleaning.concat_findings([
        cleaning.inn_issues(clients, lang=lang),
        cleaning.phone_issues(clients, lang=lang),
        cleaning.incomplete_card_issues(clients, drivers, lang=lang),
        cleaning.two_managers(clients, sales, contacts, duplicates, to_master, as_of=as_of, lang=lang),
        cleaning.closed_with_sales(clients, sales, as_of, lang=lang),
        contact_findings(contacts, to_master, masters, base, as_of, contact_min_days=contact_min_days,
                         contact_stale_days=contact_stale_days, lang=lang),
    ])
