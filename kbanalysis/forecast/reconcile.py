"""Reconciliation weights of the forecast's sources, one small class per method (hierarchicalforecast style).

Each method takes the backtest MSE of every source (NaN: the source has no past to be checked on) and the
number of backtest points, and returns weights that sum to 1. ``DemandForecast`` applies the same weights
to every group and sums the groups into ``ALL``, so the table stays coherent (ALL = Σ groups).
"""
from __future__ import annotations

import numpy as np


class InverseMSE:
    """Weights ∝ 1 / MSE over the measured sources; unmeasured sources get 0 (all equal when none is measured).

    ``w_i = (1 / MSE_i) / Σ_j (1 / MSE_j)``. A source with MSE 0 takes all.

    References: Bates, J. M. & Granger, C. W. J. (1969), "The combination of forecasts",
    Operational Research Quarterly 20(4), 451–468.

    >>> InverseMSE().weights({"a": 1.0, "b": 3.0, "c": float("nan")})
    {'a': 0.75, 'b': 0.25, 'c': 0.0}
    """

    def weights(self, mse: dict[str, float], n: int | None = None) -> dict[str, float]:
        ok = {k: v for k, v in mse.items() if v is not None and np.isfinite(v)}
        if not ok:
            return {k: 1.0 / len(mse) for k in mse} if mse else {}
        zero = [k for k, v in ok.items() if v <= 0]
        if zero:
            return {k: (1.0 / len(zero) if k in zero else 0.0) for k in mse}
        inv = {k: 1.0 / v for k, v in ok.items()}
        s = sum(inv.values())
        return {k: inv.get(k, 0.0) / s for k in mse}


class ShrunkInverseMSE:
    """Inverse-MSE weights shrunk toward equal weights by the length of the backtest, with a stated prior
    weight for sources that have no past, and a cap.

    Over the ``m`` measured sources with ``n`` backtest points:

    ``w_i = λ · w_i^IMSE + (1 − λ) / m``,  ``λ = n / (n + shrink_points)``

    so a short backtest moves the weights only a little away from equal (the "forecast combination
    puzzle": estimated weights lose to equal ones when the backtest is short). No measured source takes
    more than ``cap`` while another is measured (the rest goes to the others ∝ their weight), so a source
    whose error is far above the others' never takes all and the best never takes everything on a few
    lucky months. A source without past gets the fixed ``prior_weight`` (the report states it) and the
    measured ones share ``1 − prior_weight``; several such sources share ``prior_weight`` equally.

    References: Stock, J. H. & Watson, M. W. (2004), "Combination forecasts of output growth in a
    seven-country data set", Journal of Forecasting 23(6), 405–430 (shrinkage toward equal weights);
    Smith, J. & Wallis, K. F. (2009), "A simple explanation of the forecast combination puzzle", Oxford
    Bulletin of Economics and Statistics 71(3), 331–355.

    >>> ShrunkInverseMSE(shrink_points=12, prior_weight=0.2).weights({"a": 1.0, "b": 3.0}, n=12)
    {'a': 0.625, 'b': 0.375}
    >>> ShrunkInverseMSE(shrink_points=12, prior_weight=0.2).weights({"a": 1.0, "m": float("nan")}, n=12)
    {'a': 0.8, 'm': 0.2}
    """

    def __init__(self, shrink_points: float = 12.0, prior_weight: float = 0.2, cap: float = 0.9):
        self.shrink_points = shrink_points
        self.prior_weight = prior_weight
        self.cap = cap

    def weights(self, mse: dict[str, float], n: int | None = None) -> dict[str, float]:
        measured = [k for k, v in mse.items() if v is not None and np.isfinite(v)]
        unmeasured = [k for k in mse if k not in measured]
        if not measured:
            return {k: 1.0 / len(mse) for k in mse} if mse else {}
        base = InverseMSE().weights({k: mse[k] for k in measured})
        lam = float(n) / (float(n) + self.shrink_points) if n else 0.0
        w = {k: lam * base[k] + (1.0 - lam) / len(measured) for k in measured}
        if len(measured) > 1:
            for _ in range(len(measured)):
                over = [k for k in measured if w[k] > self.cap + 1e-12]
                if not over:
                    break
                for k in over:
                    extra, w[k] = w[k] - self.cap, self.cap
                    rest = [j for j in measured if j != k and w[j] < self.cap]
                    tot = sum(w[j] for j in rest)
                    for j in rest:
                        w[j] += extra * (w[j] / tot if tot > 0 else 1.0 / len(rest))
        share = 1.0 - self.prior_weight if unmeasured else 1.0
        out = {k: w[k] * share for k in measured}
        out.update({k: self.prior_weight / len(unmeasured) for k in unmeasured})
        return {k: float(out[k]) for k in mse}
