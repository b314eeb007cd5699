"""The workbook on real public data (../shared/real-data): the converters, then `kbanalysis run` on each case.

Skipped when the real data is absent. The runs are sized for the test budget: the UCI wholesale case
in full (440 clients), Olist restricted to 300 sellers (+ the same share of leads), the online-retail
case on a seeded sample of 800 of its 3,360 clients. Nothing is written into the repository: cases
and runs go to pytest's temporary folders.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kbanalysis.run.backtest import real_data_dir
from kbanalysis.run.cli import main as cli
from kbanalysis.schema import BASES, OUTPUTS

pytestmark = pytest.mark.xdist_group("real")

REPO = Path(__file__).resolve().parent.parent
REAL = real_data_dir()


def _need(*parts) -> Path:
    p = REAL.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data absent: {p} (set KBANALYSIS_REAL_DATA to ../shared/real-data)")
    return p


def _converter(name: str):
    path = REPO / "data" / "real" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"real_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _run(case: Path, out: Path, *params: str) -> Path:
    args = ["run", str(case), "--out", str(out), "--quiet", "-p", "lang=en"]
    for p in params:
        args += ["-p", p]
    assert cli(args) == 0
    return out


def _check_contract(run: Path, cards: int):
    for name, cols in OUTPUTS.items():
        df = pd.read_csv(run / name, dtype=str, keep_default_na=False)
        assert tuple(df.columns[: len(cols)]) == cols, name
    clients = pd.read_csv(run / "clients.csv", dtype={"client_id": str})
    assert len(clients) == cards and clients["client_id"].is_unique
    assert set(clients["base"]) <= set(BASES)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    for table, c in summary["rows"].items():
        assert c["read"] == c["used"] + c["rejected"], table
    for nb in ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary"):
        assert (run / f"{nb}.html").stat().st_size > 1000
    return clients, summary


def _forecast_all(run: Path) -> pd.DataFrame:
    fc = pd.read_csv(run / "forecast.csv", dtype={"month": str})
    alls = fc.loc[fc["product_group"] == "ALL"]
    assert len(alls) == 3, "one ALL row per month of the horizon"
    assert (alls["history"] > 0).all() and (alls["reconciled"] > 0).all()
    return fc


# ------------------------------------------------------------------ UCI wholesale customers (440, full)
@pytest.fixture(scope="module")
def wholesale(tmp_path_factory):
    _need("uci-wholesale-customers", "wholesale_customers.csv")
    root = tmp_path_factory.mktemp("wholesale")
    conv = _converter("wholesale")
    assert conv.main([str(root / "case")]) == 0
    return root


def test_wholesale_converter_keeps_the_annual_totals_exactly(wholesale):
    conv = _converter("wholesale")
    raw = pd.read_csv(REAL / "uci-wholesale-customers" / "wholesale_customers.csv")
    sales = pd.read_csv(wholesale / "case" / "sales.csv", parse_dates=["date"])
    got = sales.pivot_table(index="client_id", columns="product_group", values="amount", aggfunc="sum")
    want = raw.rename(columns=conv.CATEGORIES)[list(conv.CATEGORIES.values())]
    want.index = [f"W{i:03d}" for i in range(1, len(raw) + 1)]
    assert np.allclose(got.loc[want.index, want.columns].fillna(0).to_numpy(), want.to_numpy(), atol=0.005)
    assert sales.groupby(["client_id", "product_group"]).size().eq(12).all()
    assert (sales["amount"] > 0).all()
    flat = conv.convert(split="flat", max_clients=3)["sales"]
    assert flat.groupby(["client_id", "product_group"])["amount"].nunique().le(2).all()  # 1/12 (+ rounding rest)
    again = conv.convert(seed=0, max_clients=20)["sales"]
    assert again.equals(conv.convert(seed=0, max_clients=20)["sales"]), "same seed, same case"


def test_wholesale_run(wholesale):
    run = _run(wholesale / "case", wholesale / "run", "as_of=2012-01-01", "currency=EUR")
    clients, summary = _check_contract(run, 440)
    assert (clients["base"] == "active").all(), "every client bought in every month of the year"
    assert clients["abcde"].notna().all() and clients["wallet_month"].notna().all()
    fc = _forecast_all(run)
    assert fc["pipeline"].isna().all() and fc["pipeline_calibrated"].isna().all(), "no deals: nothing invented"
    assert fc["stock_available"].isna().all() and fc["marketing"].isna().all()
    issues = pd.read_csv(run / "quality_issues.csv", dtype=str)
    assert {"deals", "stock", "marketing"} <= set(issues.loc[issues["issue"] == "missing_table", "table"])
    assert summary["totals"]["revenue_12m"] == pytest.approx(
        pd.read_csv(REAL / "uci-wholesale-customers" / "wholesale_customers.csv").iloc[:, 2:].to_numpy().sum())


# ------------------------------------------------------------------ Olist seller funnel (300 sellers)
@pytest.fixture(scope="module")
def olist(tmp_path_factory):
    _need("olist-b2b-seller-funnel", "olist_order_items_dataset.csv.gz")
    root = tmp_path_factory.mktemp("olist")
    conv = _converter("olist")
    assert conv.main([str(root / "case"), "--max-sellers", "300", "--seed", "0"]) == 0
    return root


def test_olist_converter_is_a_consistent_snapshot(olist):
    case = olist / "case"
    clients = pd.read_csv(case / "clients.csv", dtype=str)
    sales = pd.read_csv(case / "sales.csv", dtype={"client_id": str}, parse_dates=["date"])
    deals = pd.read_csv(case / "deals.csv", dtype={"client_id": str, "deal_id": str},
                        parse_dates=["created_date", "closed_date"])
    assert sales["client_id"].nunique() == 300
    assert sales["date"].max() < pd.Timestamp("2018-09-01"), "what happened after the cut stays out"
    assert set(sales["client_id"]) | set(deals["client_id"]) <= set(clients["client_id"])
    assert set(deals["status"]) == {"open", "won", "lost"}
    assert deals["probability"].between(0, 1).all() and (deals["amount"] > 0).all()
    assert deals["created_date"].max() < pd.Timestamp("2018-09-01")
    assert deals.loc[deals["status"] == "won", "closed_date"].max() < pd.Timestamp("2018-09-01")
    assert deals.loc[deals["status"] == "open", "closed_date"].isna().all()
    assert deals["stage"].str.startswith("mql/").all()
    assert clients["channel"].notna().all() and (clients["channel"] == "marketplace").any()
    leads = clients["name"].str.startswith("Lead ")
    assert leads.any() and not clients.loc[leads, "client_id"].isin(sales["client_id"]).any()


def test_olist_run(olist):
    case = olist / "case"
    run = _run(case, olist / "run", "as_of=2018-09-01", "currency=BRL")
    cards = len(pd.read_csv(case / "clients.csv", dtype=str))
    clients, summary = _check_contract(run, cards)
    assert {"active", "potential"} <= set(clients["base"]), "sellers with sales, leads that never bought"
    assert summary["rows"]["deals"]["rejected"] == 0
    fc = _forecast_all(run)
    alls = fc.loc[fc["product_group"] == "ALL"]
    assert alls["pipeline"].notna().all() and alls["pipeline_calibrated"].notna().all()
    assert alls["pipeline"].iloc[0] > 0, "open (overdue) leads count in the first month"


# ------------------------------------------------------------------ UCI online retail (800 of 3,360 clients)
@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    src = _need("uci-online-retail", "case", "sales.csv")
    root = tmp_path_factory.mktemp("retail")
    clients = pd.read_csv(src.parent / "clients.csv", dtype=str)
    sales = pd.read_csv(src, dtype={"client_id": str, "sku": str, "doc_id": str})
    keep = clients.sample(n=800, random_state=0)
    (root / "case").mkdir()
    keep.to_csv(root / "case" / "clients.csv", index=False)
    sales.loc[sales["client_id"].isin(keep["client_id"])].to_csv(root / "case" / "sales.csv", index=False)
    return root


@pytest.fixture(scope="module")
def retail_run(retail):
    return _run(retail / "case", retail / "run", "as_of=2011-09-01", "currency=GBP")


def test_online_retail_run_with_only_the_two_required_tables(retail_run):
    run = retail_run
    clients, summary = _check_contract(run, 800)
    assert {"active", "sleeping", "lost"} <= set(clients["base"])
    assert clients["wallet_source"].dropna().isin(["lookalike", "extrapolated"]).all(), \
        "no survey, no estimates: data-driven wallet (extrapolated at the top of a channel, issue #22)"
    fc = _forecast_all(run)
    assert fc["pipeline"].isna().all() and fc["pipeline_calibrated"].isna().all(), "no deals: nothing invented"
    assert fc["flag"].str.contains("no_deals").all() and fc["flag"].str.contains("no_stock_data").all()
    lost = pd.read_csv(run / "lost_clients.csv", dtype={"client_id": str})
    # lost, or silent beyond the rule's threshold but expected back by the backtested model (sleeping, issue #22)
    assert set(lost["client_id"]) <= set(clients.loc[clients["base"].isin(["lost", "sleeping"]), "client_id"])
    text = (run / "04-forecast.html").read_text(encoding="utf-8")
    # said once, in the notes (no section on an absent source, issue #23)
    assert text.count("There is no deal pipeline") == 1 and text.count("There is no stock data") == 1
    assert "no deals table" not in text and "Will the stock cover demand" not in text
    assert summary["currency"] == "GBP"


def test_online_retail_summary_invents_no_stock_gap(retail_run):
    summary = json.loads((retail_run / "summary.json").read_text(encoding="utf-8"))
    if summary["totals"]["stock_gap"] is not None:
        pytest.xfail("summary.json reports stock_gap 0.0 without a stock table (patch to stages.summary proposed)")


def test_online_retail_monthly_figures_average_over_the_nine_months_it_covers(retail_run):
    """The export starts on 2010-12-01: at as_of 2011-09-01 the "12-month" sums hold 9 months, and every
    monthly figure divides by 9 (by 12 it was 25 % low, issue #23)."""
    clients = pd.read_csv(retail_run / "clients.csv", dtype={"client_id": str})
    summary = json.loads((retail_run / "summary.json").read_text(encoding="utf-8"))
    masters = clients.loc[clients["merged_into"].isna()]
    assert np.allclose(masters["revenue_month"], masters["revenue_12m"] / 9.0)
    buying = masters["base"].isin(["active", "sleeping"])
    assert summary["totals"]["current_month"] == pytest.approx(masters.loc[buying, "revenue_month"].clip(lower=0).sum(),
                                                               abs=0.02)
    sow = masters["revenue_month"].clip(lower=0) / masters["wallet_month"]
    assert np.allclose(sow.dropna().clip(upper=1.0), masters["share_of_wallet"].dropna())
    assert "the \"12 months\" before 2011-09-01 are 9 months" in (retail_run / "02-turnover.html").read_text(
        encoding="utf-8").replace("&quot;", '"')
