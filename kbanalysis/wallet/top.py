"""Room above the biggest clients: a data-only wallet is not the client's own revenue.

The look-alike wallet (Perlich et al. 2007) is a high quantile of what similar clients buy from us.
At the top of a channel no look-alike buys more than the client itself, so the quantile falls
below its revenue and the wallet is floored there: share of wallet 1.0 and no potential — for the
biggest clients, the ones that matter most — without any evidence that they buy nothing elsewhere.

:func:`extrapolate_top` replaces such a wallet (source ``lookalike``, wallet at the client's own
revenue) by an extrapolation of the upper quantile's relation to client size: among the clients
of the channel in the upper half by revenue whose look-alike wallet is above their revenue, the
headroom ``log(wallet / revenue)`` is taken as it is there — its median for the wallet, its 10 %
and 90 % quantiles for ``wallet_low`` / ``wallet_high`` — and carried to the top clients
(``wallet_source`` = ``extrapolated``). A wallet from a survey, a manager's estimate or drivers
(evidence) keeps a share of 1.0 when it says so.

>>> import pandas as pd
>>> e = pd.DataFrame({"client_id": list("abcdefg"), "channel": ["r"] * 7,
...     "revenue_month": [10.0, 20, 30, 40, 50, 60, 90], "wallet_month": [60.0, 60, 60, 60, 80, 75, 90],
...     "wallet_low": [40.0] * 6 + [90.0], "wallet_high": [90.0] * 6 + [90.0], "wallet_source": ["lookalike"] * 7})
>>> out = extrapolate_top(e, min_reference=3)
>>> float(out.loc[6, "wallet_month"]), out.loc[6, "wallet_source"]
(135.0, 'extrapolated')
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: fewest reference clients for a channel's own headroom (else the headroom pooled over channels)
MIN_REFERENCE = 5


def _headroom(d: np.ndarray) -> tuple[float, float, float] | None:
    """The median and the 10 % / 90 % quantiles of the log headroom, None without references."""
    if not len(d):
        return None
    return float(np.median(d)), float(np.quantile(d, 0.1)), float(np.quantile(d, 0.9))


def extrapolate_top(estimates: pd.DataFrame, *, min_reference: int = MIN_REFERENCE, channel: str = "channel",
                    revenue: str = "revenue_month", source: str = "wallet_source") -> pd.DataFrame:
    """``estimates`` (:attr:`kbanalysis.wallet.WalletEstimator.estimates_`) with the look-alike wallets
    floored at the client's own revenue extrapolated (see the module text).

    References per channel: clients with ``wallet_source`` ``lookalike``, revenue at least the
    channel's median of buying clients and a wallet above their revenue; with fewer than
    ``min_reference`` of them the references of every channel are pooled; with fewer still the
    wallets stay as they are. ``wallet_low`` is at least the revenue.
    """
    out = estimates.copy()
    rev = pd.to_numeric(out[revenue], errors="coerce").to_numpy(dtype=float)
    w = out["wallet_month"].to_numpy(dtype=float).copy()
    data_only = (out[source].astype("string") == "lookalike").fillna(False).to_numpy()
    buys = rev > 0
    floored = data_only & buys & np.isfinite(w) & (w <= rev * (1 + 1e-9))
    if not floored.any():
        return out
    chan = out[channel].astype("string").fillna("").to_numpy(dtype=object)
    med = pd.Series(np.where(buys, rev, np.nan)).groupby(chan).transform("median").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log(w / rev)
    ref = data_only & buys & ~floored & np.isfinite(d) & (rev >= med)
    pooled = _headroom(d[ref]) if ref.sum() >= min_reference else None
    lo_col, hi_col = out["wallet_low"].to_numpy(dtype=float).copy(), out["wallet_high"].to_numpy(dtype=float).copy()
    src = out[source].astype("string").to_numpy(dtype=object)
    for c in pd.unique(chan[floored]):
        m_ref = ref & (chan == c)
        h = _headroom(d[m_ref]) if m_ref.sum() >= min_reference else pooled
        if h is None:
            continue
        rows = floored & (chan == c)
        mid, lo, hi = h
        w[rows] = rev[rows] * np.exp(mid)
        lo_col[rows] = rev[rows] * np.exp(max(lo, 0.0))
        hi_col[rows] = rev[rows] * np.exp(max(hi, mid))
        src[rows] = "extrapolated"
    out["wallet_month"], out["wallet_low"], out["wallet_high"] = w, lo_col, hi_col
    out[source] = pd.array(src, dtype="string")
    return out


def extrapolated_clients(estimates: pd.DataFrame, n: int | None = None) -> pd.DataFrame:
    """The clients whose wallet was extrapolated (biggest first; the first ``n``, all by default): ``client_id, channel, revenue_month,
    wallet_low, wallet_month, wallet_high``.

    >>> e = pd.DataFrame({"client_id": ["a", "b"], "channel": ["r", "r"], "revenue_month": [5.0, 9.0],
    ...     "wallet_month": [7.0, 9.0], "wallet_low": [5.0, 9.0], "wallet_high": [9.0, 9.0],
    ...     "wallet_source": ["extrapolated", "survey"]})
    >>> extrapolated_clients(e)["client_id"].tolist()
    ['a']
    """
    e = estimates.loc[(estimates["wallet_source"].astype("string") == "extrapolated").fillna(False).to_numpy()]
    cols = ["client_id", "channel", "revenue_month", "wallet_low", "wallet_month", "wallet_high"]
    return e.sort_values("revenue_month", ascending=False, kind="mergesort")[cols].head(n if n is not None else len(e)).reset_index(drop=True)
