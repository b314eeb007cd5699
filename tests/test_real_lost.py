"""Issue #22 on real data (../shared/real-data; skipped when absent): the lost call at the same number
called lost against recency and BG/NBD (Online Retail cut 2011-09-01, CDNOW cut 1997-10-01), and the
wallets of the biggest clients on UCI Wholesale. Targets not reached are xfail(strict): they fail the
suite the day they are reached, so the README's table is updated then."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

from kbanalysis.run.backtest import real_data_dir
from kbanalysis.run.lost_backtest import CUTS, load, lost_backtest

pytestmark = pytest.mark.xdist_group("real")
REAL = real_data_dir()
REPO = Path(__file__).resolve().parent.parent


def _need(*parts):
    p = REAL.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data absent: {p}")


@pytest.fixture(scope="module")
def retail():
    _need("uci-online-retail", "online_retail.csv.gz")
    return lost_backtest(load("online_retail"), *CUTS["online_retail"])


@pytest.fixture(scope="module")
def cdnow():
    _need("cdnow", "CDNOW_master.txt")
    return lost_backtest(load("cdnow"), *CUTS["cdnow"])


def _t(r):
    return r["table"].set_index("ranking")


def test_retail_backtest_figures(retail):
    t = _t(retail)
    assert retail["clients"] == 3314 and retail["really_lost"] == 1364
    k = t.loc["workbook call (base = lost)", "k"]
    assert (t["k"] == k).all(), "every ranking compared at the workbook's number called lost"
    assert t.loc["workbook (lost_probability)", "auc"] > 0.73
    assert t.loc["workbook call (base = lost)", "precision"] > t.loc["rhythm rule", "precision"]
    assert retail["model"].method_ == "learnt"


@pytest.mark.xfail(strict=True, reason="issue #22 target not reached: BG/NBD 0.659 > workbook 0.639 at k=593")
def test_retail_precision_above_recency_and_bgnbd(retail):
    t = _t(retail)
    p = t.loc["workbook call (base = lost)", "precision"]
    assert p > t.loc["recency", "precision"] and p > t.loc["BG/NBD", "precision"]


def test_cdnow_backtest_figures(cdnow):
    t = _t(cdnow)
    assert t.loc["workbook (lost_probability)", "auc"] > max(t.loc["recency", "auc"], t.loc["BG/NBD", "auc"])
    assert t.loc["workbook call (base = lost)", "precision"] > t.loc["rhythm rule", "precision"]
    re = cdnow["reactivation"].set_index("list")
    assert re.loc["reactivation_list", "clients"] > 100
    assert re.loc["reactivation_list", "came_back_share"] > re.loc["called_lost", "came_back_share"]


@pytest.mark.xfail(strict=True, reason="issue #22 target not reached: recency 0.824 >= workbook 0.823 at k=17224")
def test_cdnow_precision_above_recency_and_bgnbd(cdnow):
    t = _t(cdnow)
    p = t.loc["workbook call (base = lost)", "precision"]
    assert p > t.loc["recency", "precision"] and p > t.loc["BG/NBD", "precision"]


# ------------------------------------------------------------------ UCI Wholesale: room above the biggest clients
@pytest.fixture(scope="module")
def wholesale(tmp_path_factory):
    _need("uci-wholesale-customers", "wholesale_customers.csv")
    from kbanalysis.io.case import load_case
    from kbanalysis.sales.engine import client_summary
    from kbanalysis.wallet.model import WalletEstimator, wallet_frame

    spec = importlib.util.spec_from_file_location("real_wholesale", REPO / "data" / "real" / "wholesale.py")
    conv = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = conv
    spec.loader.exec_module(conv)
    root = tmp_path_factory.mktemp("wholesale_wallet")
    assert conv.main([str(root / "case")]) == 0
    case = load_case(root / "case")
    cl, sales = case.tables["clients"], case.tables["sales"]
    summ = client_summary(sales, pd.Timestamp("2012-01-01"))
    est = WalletEstimator(seed=42).fit(cl, summ, None)
    return wallet_frame(est.estimates_, summ, pd.DataFrame({"client_id": cl["client_id"], "base": "active"}))


def test_wholesale_share_one_needs_evidence(wholesale):
    f = wholesale
    assert len(f) == 440
    at_one = (f["share_of_wallet"] >= 1 - 1e-9).mean()
    assert at_one <= 0.02
    top = f.loc[f.groupby("channel")["revenue_month"].rank(pct=True) > 0.9]
    assert (top.groupby("channel")["share_of_wallet"].median() < 1.0).all()
    ex = f.loc[f["wallet_source"] == "extrapolated"]
    assert len(ex) > 0 and (ex["wallet_low"] >= ex["revenue_month"] - 1e-6).all()
    assert (ex["wallet_high"] >= ex["wallet_month"]).all() and (ex["wallet_month"] > ex["revenue_month"]).all()


@pytest.mark.xfail(strict=True, reason="issue #22 target not reached: loyalty 'main' for 432 of 440 (look-alike "
                                       "wallets are within 10x of revenue; no evidence to put them higher)")
def test_wholesale_loyalty_not_main_for_nearly_all(wholesale):
    assert (wholesale["loyalty"] == "main").mean() < 0.9
