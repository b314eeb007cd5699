"""Wallet, share of wallet, loyalty, up-sale / cross-sale and individual plans (kbanalysis.wallet.model)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbanalysis.wallet.model import (WalletEstimator, channel_mix, driver_columns, group_wallets, individual_plan,
                               loyalty, share_of_wallet, wallet_table)


# ---------------------------------------------------------------------------------------------
# constructed cases
# ---------------------------------------------------------------------------------------------
def make_case(n=400, seed=0, bias=0.3, survey_share=0.3, manager_share=0.5, drv_sd=0.3, srv_sd=0.0,
              drivers=True):
    """Two channels with one driver each; true wallet = norm x driver x noise; share log-uniform."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:04d}" for i in range(n)])
    channel = np.where(np.arange(n) % 2 == 0, "retail", "wholesale")
    outlets = np.where(channel == "retail", np.ceil(rng.lognormal(1.0, 0.8, n)), np.nan)
    own = np.where(channel == "wholesale", np.ceil(rng.lognormal(3.5, 0.9, n)), np.nan)
    true = np.where(channel == "retail", 200_000 * outlets, 20_000 * own) * rng.lognormal(0, drv_sd, n)
    share = np.exp(rng.uniform(np.log(0.002), np.log(0.5), n))
    rev12 = 12 * true * share
    reported = np.where(rng.uniform(size=n) < manager_share, true * (1 - bias) * rng.lognormal(0, 0.1, n), np.nan)
    clients = pd.DataFrame({"client_id": pd.array(ids, dtype="string"), "name": ids,
                            "channel": pd.array(channel, dtype="string"), "reported_turnover": reported})
    if drivers:
        clients["outlets"] = outlets
        clients["own_clients"] = own
    summary = pd.DataFrame({"client_id": pd.array(ids, dtype="string"), "revenue_12m": rev12,
                            "orders": rng.integers(1, 40, n), "groups_12m": rng.integers(1, 5, n),
                            "active_months_12m": rng.integers(1, 13, n)})
    sv = rng.uniform(size=n) < survey_share
    survey = pd.DataFrame({"client_id": pd.array(np.repeat(ids[sv], 2), dtype="string"),
                           "product_group": pd.array(np.tile(["x", "y"], sv.sum()), dtype="string"),
                           "total_purchases": np.repeat(true[sv] * rng.lognormal(0, srv_sd, sv.sum()), 2) / 2})
    truth = pd.DataFrame({"client_id": ids, "true": true, "share": share})
    return clients, summary, survey, truth


@pytest.fixture(scope="module")
def case():
    return make_case()


@pytest.fixture(scope="module")
def fitted(case):
    clients, summary, survey, _ = case
    return WalletEstimator(seed=3).fit(clients, summary, survey)


# ---------------------------------------------------------------------------------------------
# share and loyalty
# ---------------------------------------------------------------------------------------------
def test_share_and_loyalty_thresholds_exact():
    # monthly revenue / wallet: exactly 1 % and 10 % are the lower edges of their levels
    share = share_of_wallet(pd.Series([0.99, 1.0, 9.99, 10.0, 200.0]), pd.Series([100.0] * 5))
    assert share.iloc[1] == 0.01 and share.iloc[3] == 0.1 and share.iloc[4] == 1.0  # clipped at 1
    assert loyalty(share).tolist() == ["indifferent", "secondary", "secondary", "main", "main"]
    assert loyalty(pd.Series([0.02]), low=0.03, high=0.2).tolist() == ["indifferent"]


def test_share_unknown_wallet_is_missing():
    share = share_of_wallet(pd.Series([10.0, 10.0, 0.0]), pd.Series([np.nan, 0.0, 50.0]))
    assert share.isna().tolist() == [True, True, False]
    assert loyalty(share).isna().tolist() == [True, True, False]


def test_driver_columns_default_and_given():
    c = pd.DataFrame({"client_id": ["a"], "name": ["n"], "channel": ["r"], "reported_turnover": [1.0],
                      "outlets": [2.0], "machines": [np.nan], "note": ["x"], "_row": [2], "row_no": [1]})
    assert driver_columns(c) == ["outlets"]  # a numeric row counter is no driver (#21 item 6)
    assert driver_columns(c, ["machines", "absent"]) == ["machines"]
    assert driver_columns(c, ["row_no"]) == ["row_no"]


def test_a_row_counter_is_a_wallet_driver_only_when_named():
    """Through the estimator: ``row_no`` (numeric, no potential) is used only when ``drivers`` names it."""
    clients, summary, survey, _ = make_case(n=120, seed=2)
    clients = clients.assign(row_no=np.arange(len(clients), dtype=float))
    assert WalletEstimator(seed=1).fit(clients, summary, survey).drivers_ == ["outlets", "own_clients"]
    named = WalletEstimator(drivers=["row_no"], seed=1).fit(clients, summary, survey)
    assert named.drivers_ == ["row_no"]


# ---------------------------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------------------------
def test_manager_bias_learnt_close_to_known():
    for bias in (0.2, 0.4):
        clients, summary, survey, _ = make_case(seed=7, bias=bias)
        est = WalletEstimator(seed=1).fit(clients, summary, survey)
        assert est.manager_bias_source_ == "learnt"
        assert est.manager_bias_ == pytest.approx(bias, abs=0.03)


def test_manager_bias_given_is_used():
    clients, summary, survey, _ = make_case(seed=7, bias=0.3)
    est = WalletEstimator(manager_bias=0.5, seed=1).fit(clients, summary, survey)
    assert est.manager_bias_ == 0.5 and est.manager_bias_source_ == "given"
    e = est.estimates_.set_index("client_id")
    rep = clients.set_index("client_id")["reported_turnover"]
    ok = rep.notna()
    np.testing.assert_allclose(e.loc[ok, "w_manager"], rep[ok] / 0.5)


def test_manager_bias_without_overlap_is_assumed_zero():
    clients, summary, _, _ = make_case(seed=7)
    est = WalletEstimator(seed=1).fit(clients, summary, None)
    assert est.manager_bias_ == 0.0 and est.manager_bias_source_ == "assumed"
    assert any("manager_bias" in n for n in est.notes_)


def test_never_below_own_revenue_and_interval_order(fitted, case):
    _, summary, _, _ = case
    e = fitted.estimates_.merge(summary[["client_id", "revenue_12m"]], on="client_id")
    rev = e["revenue_12m"] / 12
    assert (e["wallet_month"] >= rev * (1 - 1e-12)).all()
    assert (e["wallet_low"] >= rev * (1 - 1e-12)).all()
    assert (e["wallet_low"] <= e["wallet_month"] * (1 + 1e-12)).all()
    assert (e["wallet_month"] <= e["wallet_high"] * (1 + 1e-12)).all()


def test_floor_when_every_source_is_below_revenue():
    # drivers say 1000, the manager says 1000, but we already sell 5000 a month: wallet >= 5000
    clients = pd.DataFrame({"client_id": ["a"], "channel": ["r"], "reported_turnover": [1000.0]})
    summary = pd.DataFrame({"client_id": ["a"], "revenue_12m": [60000.0], "orders": [12],
                            "groups_12m": [2], "active_months_12m": [12]})
    e = WalletEstimator(manager_bias=0.0001).fit(clients, summary).estimates_
    assert e["wallet_month"].iloc[0] >= 5000.0
    assert e["wallet_low"].iloc[0] >= 5000.0


def test_survey_is_trusted_most(fitted, case):
    clients, summary, survey, _ = case
    e = fitted.estimates_.set_index("client_id")
    tot = survey.groupby("client_id")["total_purchases"].sum()
    rev = summary.set_index("client_id")["revenue_12m"] / 12
    # exact survey answers: the estimate is (almost) the answer, unless we already sell more
    expect = np.maximum(tot, rev.reindex(tot.index))
    rel = np.abs(e.loc[tot.index, "wallet_month"] / expect - 1)
    assert rel.median() < 0.03 and rel.max() < 0.15
    assert (e.loc[tot.index, "wallet_source"] == "survey").mean() > 0.9


def test_accuracy_and_measured_errors(fitted, case):
    _, _, survey, truth = case
    e = fitted.estimates_.merge(truth, on="client_id")
    rest = e.loc[~e["client_id"].isin(survey["client_id"])]
    mdape = np.median(np.abs(rest["wallet_month"] / rest["true"] - 1))
    assert mdape < 0.25
    cover = ((rest["wallet_low"] <= rest["true"]) & (rest["true"] <= rest["wallet_high"])).mean()
    assert 0.7 <= cover <= 0.95
    err = fitted.errors_.set_index("source")
    assert {"manager", "manager_raw", "drivers", "lookalike", "combined"} <= set(err.index)
    # the manager's corrected estimate is unbiased, the raw one is 30 % low; CV coverage ~ 80 %
    assert abs(err.loc["manager", "bias"]) < 0.05
    assert err.loc["manager_raw", "bias"] == pytest.approx(-0.3, abs=0.05)
    assert 0.65 <= err.loc["drivers", "coverage"] <= 0.95
    assert err.loc["drivers", "log_sd"] == pytest.approx(0.3, abs=0.1)


def test_deterministic_with_seed(case):
    clients, summary, survey, _ = case
    a = WalletEstimator(seed=5).fit(clients, summary, survey).estimates_
    b = WalletEstimator(seed=5).fit(clients, summary, survey).estimates_
    pd.testing.assert_frame_equal(a, b)


def test_driver_norms_without_known_wallets():
    clients, summary, _, _ = make_case(seed=2)
    clients = clients.assign(reported_turnover=np.nan, installations=2.0, avg_project_cost=1000.0)
    norms = {"retail": {"outlets": 200_000}, "wholesale": {"installations*avg_project_cost": 50.0}}
    est = WalletEstimator(driver_norms=norms, drivers=["outlets", "own_clients", "installations",
                                                       "avg_project_cost"]).fit(clients, summary, None)
    e = est.estimates_.set_index("client_id")
    c = clients.set_index("client_id")
    r = c["channel"] == "retail"
    np.testing.assert_allclose(e.loc[r, "w_drivers"], 200_000 * c.loc[r, "outlets"])
    np.testing.assert_allclose(e.loc[~r, "w_drivers"], 100_000.0)
    rev = summary.set_index("client_id")["revenue_12m"] / 12
    expect = np.maximum(e["w_drivers"], rev.reindex(e.index))
    np.testing.assert_allclose(e["wallet_month"], expect)
    assert set(e["wallet_source"]) == {"drivers"}
    # the interval is the look-alikes' spread
    assert (e["wallet_high"] > e["wallet_month"]).mean() > 0.9
    assert any("no known wallets" in n.lower() for n in est.notes_)
    assert any("нормативам" in n for n in est.notes("ru"))


def test_lookalike_only_ranks_better_than_revenue():
    clients, summary, _, truth = make_case(n=1000, seed=4)
    clients = clients.assign(reported_turnover=np.nan)
    e = WalletEstimator(seed=0).fit(clients, summary, None).estimates_.merge(truth, on="client_id")
    e = e.merge(summary[["client_id", "revenue_12m"]], on="client_id")
    assert set(e["wallet_source"]) <= {"lookalike", "extrapolated"} and (e["wallet_source"] == "lookalike").any()
    rho_w = e["wallet_month"].rank().corr(e["true"].rank())
    rho_r = e["revenue_12m"].rank().corr(e["true"].rank())
    assert rho_w > rho_r + 0.2


def test_no_drivers_behaviour_lookalikes():
    clients, summary, _, _ = make_case(n=300, seed=5, drivers=False)
    clients = clients.assign(reported_turnover=np.nan)
    extra = pd.DataFrame({"client_id": ["new"], "name": ["new"], "channel": ["retail"],
                          "reported_turnover": [np.nan]})
    est = WalletEstimator().fit(pd.concat([clients, extra], ignore_index=True), summary, None)
    e = est.estimates_.set_index("client_id")
    assert e.loc[summary["client_id"], "wallet_month"].notna().all()
    assert np.isnan(e.loc["new", "wallet_month"])  # nothing at all to go on
    assert pd.isna(e.loc["new", "wallet_source"])
    assert any("behaviour" in n for n in est.notes_)
    assert all("wallet.note" not in n for n in est.notes("ru"))


def test_client_without_sales_gets_wallet_from_drivers(case):
    clients, summary, survey, _ = case
    cut = summary.iloc[5:]
    e = WalletEstimator(seed=3).fit(clients, cut, survey).estimates_.set_index("client_id")
    missing = summary["client_id"].iloc[:5]
    assert e.loc[missing, "wallet_month"].notna().all()
    assert (e.loc[missing, "revenue_month"] == 0).all()


# ---------------------------------------------------------------------------------------------
# groups: up-sale and cross-sale
# ---------------------------------------------------------------------------------------------
def test_group_wallets_arithmetic_from_survey():
    w = pd.DataFrame({"client_id": ["a"], "channel": ["r"], "wallet_month": [1000.0]})
    cg = pd.DataFrame({"client_id": ["a", "a"], "product_group": ["x", "y"], "revenue": [1200.0, 6000.0]})
    sv = pd.DataFrame({"client_id": ["a"] * 3, "product_group": ["x", "y", "z"],
                       "total_purchases": [500.0, 300.0, 200.0]})
    g = group_wallets(w, cg, sv).set_index("product_group")
    # y: survey says 30 % = 300 but we sell 500 -> 500; the other 500 spread 5:2 over x, z
    assert g["our_month"].to_dict() == {"x": 100.0, "y": 500.0, "z": 0.0}
    np.testing.assert_allclose(g["wallet_month"], [500 * 5 / 7, 500.0, 500 * 2 / 7])
    np.testing.assert_allclose(g["upsell_month"], [500 * 5 / 7 - 100, 0.0, 0.0])
    np.testing.assert_allclose(g["crosssell_month"], [0.0, 0.0, 500 * 2 / 7])
    assert g["wallet_month"].sum() == pytest.approx(1000.0)


def test_group_wallets_from_channel_mix_of_well_served():
    # b and c are well served (share >= 10 %, many groups): their mix x:y = 1:1 -> a's mix
    w = pd.DataFrame({"client_id": ["a", "b", "c"], "channel": ["r"] * 3, "wallet_month": [1000.0, 100.0, 100.0]})
    cg = pd.DataFrame({"client_id": ["a", "b", "b", "c", "c"], "product_group": ["x", "x", "y", "x", "y"],
                       "revenue": [120.0, 600.0, 600.0, 600.0, 600.0]})
    mix = channel_mix(cg, w, min_clients=2)
    assert mix["mix_source"].unique().tolist() == ["well_served"]
    g = group_wallets(w, cg, min_clients=2)
    ga = g.loc[g["client_id"] == "a"].set_index("product_group")
    np.testing.assert_allclose(ga["wallet_month"], [500.0, 500.0])
    assert ga.loc["x", "upsell_month"] == pytest.approx(490.0)
    assert ga.loc["y", "crosssell_month"] == pytest.approx(500.0)


# ---------------------------------------------------------------------------------------------
# plans
# ---------------------------------------------------------------------------------------------
def test_plan_steps_and_caps():
    W = 10_000.0
    f = pd.DataFrame({
        "wallet_month": [W] * 11 + [np.nan, np.nan],
        "revenue_month": [50.0, 90.0, 200.0, 900.0, 2000.0, 0.0, 0.0, 300.0, 300.0, 0.0, 300.0, 40.0, 0.0],
        "base": ["active", "active", "active", "active", "active", "potential", "active", "active", "closed",
                 "lost", "lost", "active", "potential"],
        "run_rate": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 900.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        "former_month": [0.0] * 9 + [0.0, 800.0, 0.0, 0.0],
    })
    plan = individual_plan(f)
    expect = [
        100.0,       # indifferent 0.5 %: target 3 % = 300, capped at 2 x 50
        180.0,       # indifferent 0.9 %: 300 capped at 2 x 90
        400.0,       # secondary 2 % -> 4 %
        1000.0,      # secondary 9 % -> 18 % capped at 10 %
        2100.0,      # main 20 % -> +5 %
        300.0,       # potential: the indifferent target 3 %
        300.0,       # active with no revenue in 12 months: same
        900.0,       # secondary 3 % -> 6 % = 600, but the current run rate is 900
        0.0,         # closed
        300.0,       # lost with no history: the indifferent target
        800.0,       # lost: reactivation to its former level
        40.0,        # unknown wallet: keep the current level
        np.nan,      # unknown wallet, no revenue
    ]
    np.testing.assert_allclose(plan.to_numpy(), expect)


def test_plan_parameters_are_honoured():
    f = pd.DataFrame({"wallet_month": [1000.0, 1000.0], "revenue_month": [1.0, 20.0]})
    p = individual_plan(f, step_indifferent=0.05, step_secondary=3.0, max_growth=10.0)
    np.testing.assert_allclose(p.to_numpy(), [10.0, 60.0])


# ---------------------------------------------------------------------------------------------
# wallet_table
# ---------------------------------------------------------------------------------------------
def test_wallet_table_columns_rows_and_consistency(case):
    clients, summary, survey, _ = case
    rng = np.random.default_rng(0)
    cg = pd.DataFrame({"client_id": np.repeat(summary["client_id"].to_numpy(), 2),
                       "product_group": np.tile(["x", "w"], len(summary)),
                       "revenue": np.repeat(summary["revenue_12m"].to_numpy() / 2, 2)})
    base = pd.DataFrame({"client_id": clients["client_id"],
                         "base": rng.choice(["active", "sleeping", "lost", "closed"], len(clients))})
    pc, pg = wallet_table(clients, summary, cg, survey, base, {"seed": 3})
    assert pc.columns[:10].tolist() == ["client_id", "wallet_month", "wallet_low", "wallet_high", "wallet_source",
                                        "share_of_wallet", "loyalty", "upsell_month", "crosssell_month",
                                        "plan_month"]
    assert pc["client_id"].tolist() == sorted(clients["client_id"].tolist())
    assert pg.columns.tolist()[:6] == ["client_id", "product_group", "wallet_month", "our_month", "upsell_month",
                                       "crosssell_month"]
    sums = pg.groupby("client_id")[["wallet_month", "upsell_month", "crosssell_month", "our_month"]].sum()
    p = pc.set_index("client_id")
    np.testing.assert_allclose(sums["wallet_month"], p.loc[sums.index, "wallet_month"], rtol=1e-9)
    np.testing.assert_allclose(sums["upsell_month"], p.loc[sums.index, "upsell_month"], rtol=1e-9)
    # wallet = our sales + up-sale + cross-sale, group by group (closed cards: no up- or cross-sale)
    closed = p.loc[sums.index, "base"].eq("closed").to_numpy()
    assert closed.any()
    np.testing.assert_allclose((sums["our_month"] + sums["upsell_month"] + sums["crosssell_month"])[~closed],
                               sums["wallet_month"][~closed], rtol=1e-9)
    assert (sums.loc[closed, ["upsell_month", "crosssell_month"]] == 0).all().all()
    assert (p.loc[p["base"] == "closed", ["plan_month", "achievable_month"]] == 0).all().all()
    # achievable money: a buying client's plan over its current sales, never below 0
    b = p[p["base"].isin(["active", "sleeping"]) & p["plan_month"].notna()]
    assert (b["achievable_month"] >= 0).all()
    assert (b["achievable_month"] <= (b["plan_month"] - b["revenue_month"].fillna(0)).clip(lower=0) + 1e-6).all()
    assert (b["achievable_month"] > 0).any()
    # ... and never more than the wallet left (the ceiling): up-sale + cross-sale
    w = b[b["wallet_month"].notna()]
    assert (w["achievable_month"] <= w["upsell_month"] + w["crosssell_month"] + 1e-6).all()
    assert p["loyalty"].isin(["indifferent", "secondary", "main"]).all()


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------
@st.composite
def small_cases(draw):
    n = draw(st.integers(3, 25))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    ids = [f"k{i}" for i in range(n)]
    has_drv = draw(st.booleans())
    clients = pd.DataFrame({"client_id": ids, "channel": rng.choice(["a", "b"], n),
                            "reported_turnover": np.where(rng.uniform(size=n) < 0.5,
                                                          rng.lognormal(10, 2, n), np.nan)})
    if has_drv:
        clients["outlets"] = np.where(rng.uniform(size=n) < 0.8, rng.integers(0, 30, n).astype(float), np.nan)
    buy = rng.uniform(size=n) < 0.8
    summary = pd.DataFrame({"client_id": np.array(ids)[buy], "revenue_12m": rng.lognormal(11, 2, buy.sum()),
                            "orders": rng.integers(1, 30, buy.sum()), "groups_12m": rng.integers(1, 4, buy.sum()),
                            "active_months_12m": rng.integers(1, 13, buy.sum())})
    cg = pd.DataFrame({"client_id": np.repeat(summary["client_id"].to_numpy(), 2),
                       "product_group": np.tile(["g1", "g2"], len(summary)),
                       "revenue": np.repeat(summary["revenue_12m"].to_numpy(), 2) * np.tile([0.3, 0.7], len(summary))})
    cg = cg.loc[rng.uniform(size=len(cg)) < 0.7]
    sv_ids = [i for i in ids if rng.uniform() < 0.4]
    survey = pd.DataFrame({"client_id": sv_ids, "product_group": "g3",
                           "total_purchases": rng.lognormal(12, 2, len(sv_ids))}) if sv_ids else None
    return clients, summary, cg, survey


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_cases())
def test_invariants(c):
    clients, summary, cg, survey = c
    pc, pg = wallet_table(clients, summary, cg, survey, None, {})
    rev = summary.set_index("client_id")["revenue_12m"].reindex(pc["client_id"]).fillna(0).to_numpy() / 12
    w = pc["wallet_month"].to_numpy()
    ok = np.isfinite(w)
    assert (w[ok] >= rev[ok] * (1 - 1e-9)).all()
    assert (pc["wallet_low"].to_numpy()[ok] <= w[ok] * (1 + 1e-9)).all()
    assert (w[ok] <= pc["wallet_high"].to_numpy()[ok] * (1 + 1e-9)).all()
    assert (pc["upsell_month"][ok] >= 0).all() and (pc["crosssell_month"][ok] >= 0).all()
    assert (pc["upsell_month"][ok] + pc["crosssell_month"][ok] >= 0).all()
    assert ((pc["share_of_wallet"][ok] >= 0) & (pc["share_of_wallet"][ok] <= 1)).all()
    assert (pg["wallet_month"] >= pg["our_month"] * (1 - 1e-9)).all()
    # every buyer has a wallet (look-alikes at worst)
    buyers = pc["client_id"].isin(summary.loc[summary["revenue_12m"] > 0, "client_id"])
    assert pc.loc[buyers, "wallet_month"].notna().all()


# ---------------------------------------------------------------------------------------------
# charts
# ---------------------------------------------------------------------------------------------
def test_charts_return_axes_without_global_state(case, fitted):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from kbanalysis.wallet import plots as pw

    clients, summary, survey, _ = case
    cg = pd.DataFrame({"client_id": summary["client_id"], "product_group": "x", "revenue": summary["revenue_12m"]})
    pc, _ = wallet_table(clients, summary, cg, survey, None, {}, estimator=fitted)
    before = plt.get_fignums()
    fig = Figure()
    ax = fig.add_subplot()
    assert pw.wallet_map(pc, ax=ax) is ax
    for lang in ("ru", "en"):
        for ax in (pw.wallet_map(pc, lang=lang), pw.sources_compared(fitted.estimates_, fitted.errors_, lang=lang),
                   pw.loyalty_bars(pc, lang=lang), pw.plan_vs_current(pc, lang=lang)):
            title = ax.get_title()
            assert title and "wallet." not in title
            if lang == "ru":
                assert any("а" <= ch <= "я" for ch in title.lower())
    assert plt.get_fignums() == before
    assert "доля" in pw.wallet_map(pc).get_xlabel().lower() or "оборот" in pw.wallet_map(pc).get_xlabel().lower()
