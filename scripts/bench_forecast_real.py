"""Forecast benchmark on real sales histories (part of ``make bench-forecast``), rolling origins.

For each dataset of ``../shared/real-data`` (or ``$KBANALYSIS_REAL_DATA``) that holds dated sales lines —
UCI Online Retail, CDNOW, Superstore (fictional sample), USAID SCMS deliveries — the forecast is fitted on the
sales before each of the last ``--origins`` month starts that leave a whole 3-month horizon in the data (no
deals, stock or marketing: the datasets have none), and the 3-month total of ``reconciled`` is compared with
what was really sold in those months, beside statsforecast's AutoETS, AutoARIMA, Naive and SeasonalNaive(12)
fitted on the same monthly totals (``bench_forecast.peers``). Per dataset: the mean MAPE over the origins
and whether ours is within 10 % of the best peer. Nothing is asserted: this is a measurement.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_forecast import H, PEERS, show_figures  # noqa: E402
from kbanalysis.forecast.core import ALL, DemandForecast  # noqa: E402
from kbanalysis.run.backtest import real_data_dir  # noqa: E402


def online_retail(root: Path) -> pd.DataFrame:
    """The whole file (the bundled case stops at 2011-08-31 for the lost backtest), lines with a customer,
    one group per country (United Kingdom and the rest: the file has no product groups)."""
    s = pd.read_csv(root / "uci-online-retail" / "online_retail.csv.gz", dtype={"CustomerID": str},
                    parse_dates=["InvoiceDate"]).dropna(subset=["CustomerID"])
    return pd.DataFrame({"date": s["InvoiceDate"].dt.normalize(), "client_id": s["CustomerID"],
                         "product_group": np.where(s["Country"] == "United Kingdom", "uk", "other"),
                         "amount": s["Quantity"] * s["UnitPrice"]})


def cdnow(root: Path) -> pd.DataFrame:
    s = pd.read_csv(root / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype=str)
    s.columns = ["client_id", "date", "cds", "amount"]
    return pd.DataFrame({"date": pd.to_datetime(s["date"], format="%Y%m%d"), "client_id": s["client_id"],
                         "product_group": "cd", "amount": s["amount"].astype("float64")})


def superstore(root: Path) -> pd.DataFrame:
    s = pd.read_csv(root / "tableau-superstore-SAMPLE-fictional" / "orders.csv.gz", parse_dates=["Order Date"])
    return pd.DataFrame({"date": s["Order Date"], "client_id": s["Customer ID"], "product_group": s["Category"],
                         "amount": s["Sales"].astype("float64")})


def scms(root: Path) -> pd.DataFrame:
    s = pd.read_csv(root / "usaid-scms-delivery-history" / "SCMS_Delivery_History_Dataset.csv")
    date = pd.to_datetime(s["Delivered to Client Date"], format="%d-%b-%y", errors="coerce")
    out = pd.DataFrame({"date": date, "client_id": s["Country"], "product_group": s["Product Group"],
                        "amount": pd.to_numeric(s["Line Item Value"], errors="coerce")})
    return out.dropna(subset=["date", "amount"])


#: months of history an origin needs (Online Retail has 12 in all)
MIN_HISTORY = 6

DATASETS = {"Online Retail": online_retail, "CDNOW": cdnow, "Superstore": superstore, "SCMS": scms}


def origins(sales: pd.DataFrame, n: int) -> list[pd.Timestamp]:
    """The last ``n`` month starts with a whole horizon of ``H`` months of data after them (the data's last
    month counts only when it is complete: a later line than its 25th)."""
    first = sales["date"].min().to_period("M").to_timestamp()
    last = sales["date"].max()
    end = last.to_period("M").to_timestamp() + (pd.offsets.MonthBegin(1) if last.day >= 25 else pd.offsets.MonthBegin(0))
    cut = end - pd.DateOffset(months=H)
    o = [cut - pd.DateOffset(months=k) for k in range(n)][::-1]
    return [x for x in o if x >= first + pd.DateOffset(months=MIN_HISTORY)]


def peers(monthly: pd.Series) -> dict[str, float]:
    """3-month totals of statsforecast's peers fitted one by one on the monthly totals: the seasonal ones
    with ``season_length=12`` from 24 months on (non-seasonal AutoETS / AutoARIMA before), SeasonalNaive
    from 12 months on; NaN where a model cannot run on so few months."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, Naive, SeasonalNaive

    n = len(monthly)
    season = 12 if n >= 24 else 1
    models = {"AutoETS": AutoETS(season_length=season), "AutoARIMA": AutoARIMA(season_length=season),
              "Naive": Naive(), "SeasonalNaive": SeasonalNaive(season_length=12) if n >= 12 else None}
    df = pd.DataFrame({"unique_id": "total", "ds": monthly.index, "y": monthly.to_numpy(dtype="float64")})
    out = {}
    for name, model in models.items():
        if model is None:
            out[name] = np.nan
            continue
        try:
            fc = StatsForecast(models=[model], freq="MS", n_jobs=1).forecast(df=df, h=H)
            out[name] = float(fc[name].sum())
        except NotImplementedError:  # statsforecast's "tiny datasets": too few months for the model
            out[name] = np.nan
    return out


def one_origin(sales: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    past = sales.loc[sales["date"] < as_of]
    f = DemandForecast(horizon=H).fit(past, None, None, None, as_of)
    fut = sales.loc[(sales["date"] >= as_of) & (sales["date"] < as_of + pd.DateOffset(months=H)), "amount"].sum()
    ours = float(f.detail_.loc[f.detail_["product_group"] == ALL, "reconciled"].sum())
    monthly = past.groupby(past["date"].dt.to_period("M").dt.to_timestamp())["amount"].sum()
    monthly = monthly.reindex(pd.date_range(monthly.index.min(), as_of - pd.offsets.MonthBegin(1), freq="MS"),
                              fill_value=0.0)
    row = {"origin": as_of, "ours": abs(ours - fut) / abs(fut)}
    row.update({m: abs(v - fut) / abs(fut) for m, v in peers(monthly).items()})
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--origins", type=int, default=6, help="rolling origins per dataset")
    ap.add_argument("--out", default=str(REPO / "reports" / "bench" / "forecast_real.md"))
    a = ap.parse_args(argv)
    root = real_data_dir()
    lines = ["| dataset | origins | ours | best peer | " + " | ".join(PEERS) + " | within 10 % |",
             "|---|---|---:|---|" + "---:|" * len(PEERS) + "---|"]
    for name, load in DATASETS.items():
        try:
            sales = load(root)
        except FileNotFoundError as e:
            print(f"{name}: skipped, {e}", flush=True)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = pd.DataFrame([one_origin(sales, o) for o in origins(sales, a.origins)])
        for _, r in rows.iterrows():
            print(f"{name:<14} {r['origin']:%Y-%m}: ours {r['ours']:.3f}  "
                  + "  ".join(f"{m} {r[m]:.3f}" for m in PEERS), flush=True)
        m = rows[["ours", *PEERS]].mean()  # a peer that could not run at some origin: its mean over the others
        best = m[list(PEERS)].idxmin()
        span = f"{rows['origin'].min():%Y-%m}..{rows['origin'].max():%Y-%m} ({len(rows)})"
        lines.append(f"| {name} | {span} | {m['ours']:.3f} | {best} {m[best]:.3f} | "
                     + " | ".join(f"{m[p]:.3f}" for p in PEERS)
                     + f" | {'yes' if m['ours'] <= 1.1 * m[best] else 'no'} |")
    text = "\n".join(lines)
    return show_figures(text, a.out)


if __name__ == "__main__":
    raise SystemExit(main())
