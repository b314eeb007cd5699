"""Forecast benchmark (``make bench-forecast``): the reconciled forecast against statsforecast's peers.

On generated cases of several shapes (history length, yearly amplitude, monthly trend, clients, with or
without deals and marketing; ``kbanalysis.synth.generate_case`` knows the true sales of the months after
``as_of``) it prints, per shape:

* the MAPE of the 3-month total of ``reconciled`` (ALL rows of ``forecast.csv``) against the true sales;
* the same MAPE of statsforecast's AutoETS, AutoARIMA, Naive and SeasonalNaive(12) fitted on the case's own
  monthly sales totals (everything sold before ``as_of``, deals included);
* the share of held-out group-months (groups and ALL) whose true sales lie inside
  ``[reconciled_low, reconciled_high]`` (the 80 % interval).

Per shape (the mean over its seeds) the best peer is the one peer model with the smallest mean MAPE on that
shape — a forecaster one could have run; the "oracle" column is the mean of each case's smallest peer MAPE
(a different model picked per case in hindsight), shown for reference only. Then the mean MAPE, on how
many shapes the reconciled total is within 10 % of the best peer (MAPE ≤ 1.1 × best), and the pooled
interval coverage. Figures go to stdout and to
``reports/bench/forecast.md``. Nothing is asserted: this is a measurement.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kbanalysis.forecast.core import ALL, DemandForecast  # noqa: E402
from kbanalysis.synth.case import generate_case  # noqa: E402

#: (name, months of history, yearly amplitude, monthly trend, clients, deals, marketing)
SHAPES = [
    ("14m flat", 14, 0.0, 0.0, 300, True, True),
    ("18m season 20%", 18, 0.2, 0.005, 600, True, True),
    ("20m season 10%, no marketing", 20, 0.1, 0.0, 200, True, False),
    ("24m season 30%, decline", 24, 0.3, -0.005, 1000, False, True),
    ("30m season 40%, decline 1%", 30, 0.4, -0.01, 800, False, False),
    ("36m season 35%", 36, 0.35, 0.002, 1200, True, True),
    ("36m no season, growth 1%", 36, 0.0, 0.01, 2000, True, False),
    ("36m season 15%, no deals", 36, 0.15, -0.003, 500, False, True),
]
PEERS = ("AutoETS", "AutoARIMA", "Naive", "SeasonalNaive")
H = 3


def peers(monthly: pd.Series, h: int = H) -> dict[str, float]:
    """3-month totals forecast by statsforecast's peers from the monthly sales totals."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, Naive, SeasonalNaive

    df = pd.DataFrame({"unique_id": "total", "ds": monthly.index, "y": monthly.to_numpy(dtype="float64")})
    models = [AutoETS(season_length=12), AutoARIMA(season_length=12), Naive(), SeasonalNaive(season_length=12)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = StatsForecast(models=models, freq="MS", n_jobs=1).forecast(df=df, h=h)
    return {m: float(fc[m].sum()) for m in PEERS}


def run_shape(name, months, season, trend, n_clients, deals, marketing, seed) -> dict:
    case = generate_case(n_clients=n_clients, seed=seed, months=months, season=season, trend=trend, deals=deals,
                         marketing=marketing, horizon=H)
    t = case.tables
    t0 = time.perf_counter()
    f = DemandForecast(horizon=H).fit(t["sales"], t.get("deals"), t.get("stock"), t.get("marketing"), case.as_of)
    secs = time.perf_counter() - t0
    fut = case.truth["future_sales"]
    fut = fut.loc[fut["month"].isin(f.months_)]
    true_g = fut.groupby(["month", "product_group"])["amount"].sum()
    true_all = fut.groupby("month")["amount"].sum()
    d = f.detail_
    alls = d.loc[d["product_group"] == ALL].set_index("month")
    truth_total = float(true_all.sum())
    out = {"shape": name, "seed": seed, "secs": secs,
           "ours": abs(float(alls["reconciled"].sum()) - truth_total) / truth_total}
    s = t["sales"]
    monthly = s.groupby(s["date"].dt.to_period("M").dt.to_timestamp())["amount"].sum()
    monthly = monthly.loc[monthly.index < pd.Timestamp(case.as_of)]
    for m, v in peers(monthly).items():
        out[m] = abs(v - truth_total) / truth_total
    out["oracle"] = min(out[m] for m in PEERS)
    lo, hi = ("reconciled_low", "reconciled_high") if "reconciled_low" in d else ("history_low", "history_high")
    r = d.set_index(["month", "product_group"])
    tv_all = true_all.to_frame("amount").assign(product_group=ALL).set_index("product_group", append=True)
    tv = pd.concat([true_g, tv_all["amount"]])
    both = r[[lo, hi]].join(tv.rename("true"), how="inner")
    both = both.loc[both["true"] > 0]
    out["covered"] = int(((both["true"] >= both[lo]) & (both["true"] <= both[hi])).sum())
    out["cells"] = int(len(both))
    return out


def show_figures(text: str, out: str) -> int:
    """Print the figures and write them to ``out`` (its folder made); the benchmark's exit code, 0."""
    print("\n" + text)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text + "\n", encoding="utf-8")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="generated cases per shape (seeds 0..n-1)")
    ap.add_argument("--out", default=str(REPO / "reports" / "bench" / "forecast.md"))
    a = ap.parse_args(argv)
    rows = []
    for shape in SHAPES:
        for seed in range(a.seeds):
            r = run_shape(*shape, seed=seed)
            rows.append(r)
            print(f"{r['shape']:<32} seed {seed}: ours {r['ours']:.3f}  oracle {r['oracle']:.3f}  "
                  + "  ".join(f"{m} {r[m]:.3f}" for m in PEERS)
                  + f"  cover {r['covered']}/{r['cells']}  {r['secs']:.1f}s", flush=True)
    df = pd.DataFrame(rows)
    per = df.groupby("shape", sort=False)[["ours", "oracle", *PEERS, "covered", "cells"]].agg(
        {"ours": "mean", "oracle": "mean", **{m: "mean" for m in PEERS}, "covered": "sum", "cells": "sum"})
    per["best_peer"] = per[list(PEERS)].min(axis=1)
    per["best_name"] = per[list(PEERS)].idxmin(axis=1)
    per["within_10pct"] = per["ours"] <= 1.1 * per["best_peer"]
    per["cover"] = per["covered"] / per["cells"]
    lines = ["| shape | ours | best peer | " + " | ".join(PEERS) + " | oracle | within 10 % | 80 % cover |",
             "|---|---:|---|" + "---:|" * len(PEERS) + "---:|---|---:|"]
    for s, r in per.iterrows():
        lines.append(f"| {s} | {r['ours']:.3f} | {r['best_name']} {r['best_peer']:.3f} | "
                     + " | ".join(f"{r[m]:.3f}" for m in PEERS) + f" | {r['oracle']:.3f}"
                     + f" | {'yes' if r['within_10pct'] else 'no'} | {r['cover']:.2f} |")
    cover = per["covered"].sum() / per["cells"].sum()
    summary = (f"mean 3-month MAPE: ours {per['ours'].mean():.3f}, best peer per shape {per['best_peer'].mean():.3f}, "
               f"oracle {per['oracle'].mean():.3f}; "
               f"within 10 % of the best peer on {int(per['within_10pct'].sum())} of {len(per)} shapes; "
               f"80 % interval cover {cover:.2f} ({int(per['covered'].sum())}/{int(per['cells'].sum())} "
               f"group-months); {a.seeds} seed(s) per shape; forecast fit {df['secs'].mean():.1f} s per case")
    text = "\n".join(lines + ["", summary])
    return show_figures(text, a.out)


if __name__ == "__main__":
    raise SystemExit(main())
