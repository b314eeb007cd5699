"""The lost call learnt from the case's own past (kbanalysis.audit.lost) and the room above the biggest
clients (kbanalysis.wallet.top): hand-checked numbers on tiny fixtures, invariants, generated-case truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kbanalysis.audit import lost as L
from kbanalysis.audit.structure import base_structure, lost_regular_clients
from kbanalysis.errors import UserError
from kbanalysis.sales.engine import client_summary
from kbanalysis.wallet.top import extrapolate_top


# ------------------------------------------------------------------ BG/NBD
def test_bgnbd_p_none_by_hand():
    bg = L.BetaGeo()
    bg.params_ = {"r": 1.0, "alpha": 10.0, "a": 1.0, "b": 1.0}
    # one order only (x = 0): alive for sure, P(no order in t) = ((alpha+T)/(alpha+T+t))^r
    assert bg.p_none([0], [0.0], [10.0], 5.0)[0] == pytest.approx(20 / 25)
    # x = 2, tx = 5, T = 10: d = a/(b+x-1) * ((alpha+T)/(alpha+tx))^(r+x) = 1/2 * (20/15)^3
    d = 0.5 * (20 / 15) ** 3
    alive = 1 / (1 + d)
    want = (1 - alive) + alive * (20 / 25) ** 3
    assert bg.p_none([2], [5.0], [10.0], 5.0)[0] == pytest.approx(want)
    assert bg.p_none([2], [5.0], [10.0], 0.0)[0] == pytest.approx(1.0)  # no time, no order
    assert bg.p_alive([2], [5.0], [10.0])[0] == pytest.approx(alive)


def test_bgnbd_properties():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 20, 300).astype(float)
    T = rng.uniform(10, 50, 300)
    tx = np.where(x > 0, T * rng.uniform(0, 1, 300), 0.0)
    bg = L.BetaGeo().fit(x, tx, T)
    assert all(v > 0 for v in bg.params_.values())
    p = bg.p_none(x, tx, T, 10.0)
    assert ((p >= 0) & (p <= 1)).all()
    # longer silent (smaller tx at the same T, x > 0): more likely to stay away
    assert (bg.p_none([5] * 3, [40.0, 20.0, 5.0], [45.0] * 3, 10.0) == np.sort(
        bg.p_none([5] * 3, [40.0, 20.0, 5.0], [45.0] * 3, 10.0))).all()
    # a longer horizon cannot make "no order at all" more likely
    assert (bg.p_none(x, tx, T, 20.0) <= p + 1e-12).all()


def test_bgnbd_validates():
    with pytest.raises(UserError, match="tx <= T"):
        L.BetaGeo().fit([1], [5.0], [3.0])
    with pytest.raises(UserError, match="non-empty"):
        L.BetaGeo().fit([], [], [])


# ------------------------------------------------------------------ selection helpers
def test_precision_at_by_hand():
    assert L.precision_at([3, 2, 1, 0], [1, 1, 0, 1], 3) == pytest.approx(2 / 3)
    assert np.isnan(L.precision_at([1.0], [1], 0))


def test_lost_call_keeps_the_rule_count_and_the_other_bases():
    rng = np.random.default_rng(0)
    n = 60
    base = pd.DataFrame({"client_id": [f"c{i}" for i in range(n)],
                         "base": rng.choice(["active", "sleeping", "lost", "potential", "closed"], n),
                         "days_silent": rng.uniform(0, 400, n)})
    base["base_reason"] = np.select([base["base"] == "lost", base["base"] == "potential", base["base"] == "closed"],
                                    ["silent", "no_orders", "closed"], "rhythm")
    base.loc[0, ["base", "base_reason"]] = ["lost", "returns_only"]
    p = pd.Series(rng.uniform(0, 1, n), index=base["client_id"])
    out = L.lost_call(base, p, "learnt")
    rule_lost = (base["base"] == "lost") & (base["base_reason"] == "silent")
    assert ((out["base"] == "lost") & (out["base_reason"] != "returns_only")).sum() == rule_lost.sum()
    fixed = base["base"].isin(["potential", "closed"]) | (base["base_reason"] == "returns_only")
    assert out.loc[fixed, "base"].tolist() == base.loc[fixed, "base"].tolist()
    pool = ~fixed
    called = out.loc[pool & (out["base"] == "lost"), "lost_probability"]
    others = out.loc[pool & (out["base"] != "lost"), "lost_probability"]
    assert called.min() >= others.max()
    assert set(out.loc[rule_lost & (out["base"] != "lost"), "base_reason"]) <= {"rule_only"}
    # the rule keeps its own call
    same = L.lost_call(base, p, "rule")
    assert same["base"].tolist() == base["base"].tolist()
    assert same["lost_probability"].tolist() == p.tolist()


def _lines(n=240, seed=0):
    """Clients with their own rhythm; the ones with a high index stop buying early."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        gap = rng.integers(7, 60)
        stop = 720 - (i % 4) * 150 - rng.integers(0, 60)
        rows += [(f"c{i:03d}", pd.Timestamp("2022-01-03") + pd.Timedelta(days=int(d)))
                 for d in np.arange(rng.integers(0, 30), stop, gap)]
    return pd.DataFrame(rows, columns=["client_id", "date"]).assign(product_group="x", amount=100.0)


def test_lost_model_backtests_every_method_and_calibrates():
    lines = _lines()
    as_of = "2024-01-01"
    s = client_summary(lines, as_of)
    b = base_structure(pd.DataFrame({"client_id": s["client_id"]}), s, as_of)
    m = L.LostModel().fit(lines, as_of, b, horizon_days=120, seed=3)
    assert m.horizon_days_ == 120 and m.cut_ == pd.Timestamp("2023-09-03")
    bt = m.backtest_.set_index("method")
    assert list(bt.index) == list(L.METHODS)
    assert bt["precision"].between(0, 1).all() and (bt["k"] > 0).all()
    assert m.method_ == bt["precision"].idxmax() or bt.loc[m.method_, "precision"] == bt["precision"].max()
    # recall = precision * k / lost, by definition
    np.testing.assert_allclose(bt["recall"], bt["precision"] * bt["k"] / bt["lost"])
    p = m.lost_probability_
    assert set(p.index) == set(s["client_id"]) and p.between(0, 1).all()
    # the calibrated probability is a monotone map of the chosen ranking on the cut: who came back
    # had a lower probability on average
    past = m.past_
    assert past.loc[past["came_back"], "lost_probability"].mean() < past.loc[~past["came_back"], "lost_probability"].mean()
    again = L.LostModel().fit(lines, as_of, b, horizon_days=120, seed=3)
    pd.testing.assert_series_equal(again.lost_probability_, p)


def test_lost_model_reuses_the_callers_summary_and_its_cut(monkeypatch):
    """The notebook's client summary is not aggregated again, nor the cut's in the reactivation backtest;
    the results are those of a model that aggregates both itself."""
    lines = _lines()
    as_of = "2024-01-01"
    s = client_summary(lines, as_of)
    b = base_structure(pd.DataFrame({"client_id": s["client_id"]}), s, as_of)
    own = L.LostModel().fit(lines, as_of, b, horizon_days=120, seed=3)
    own_react = L.reactivation_backtest(lines, own)
    import kbanalysis.sales.engine as engine

    calls = []
    real = engine.client_summary

    def counted(ln, cut, **kw):
        calls.append(pd.Timestamp(cut))
        return real(ln, cut, **kw)

    monkeypatch.setattr(engine, "client_summary", counted)
    m = L.fit_lost_model(lines, as_of, b, summary=s, horizon_days=120, seed=3)
    react = L.reactivation_backtest(lines, m)
    assert calls == [pd.Timestamp("2023-09-03")], "only the cut is aggregated, once"
    pd.testing.assert_series_equal(m.lost_probability_, own.lost_probability_)
    pd.testing.assert_frame_equal(m.backtest_, own.backtest_)
    pd.testing.assert_frame_equal(react, own_react)
    assert len(own_react) == 3


def test_lost_model_without_a_backtest_keeps_the_rule():
    lines = _lines(n=20)
    as_of = "2024-01-01"
    s = client_summary(lines, as_of)
    b = base_structure(pd.DataFrame({"client_id": s["client_id"]}), s, as_of)
    m = L.fit_lost_model(lines, as_of, b, horizon_days=120)
    assert m.method_ == "rule" and m.backtest_.empty and m.past_.empty
    assert m.lost_probability_.between(0, 1).all()
    assert L.lost_call(b, m.lost_probability_, m.method_)["base"].tolist() == b["base"].tolist()
    with pytest.raises(UserError, match="horizon_days"):
        L.LostModel().fit(lines, as_of, b, horizon_days=0)
    with pytest.raises(UserError, match="lost_after_days"):
        L.LostModel().fit(lines, as_of, b.drop(columns="lost_after_days"))


def test_horizon_is_at_most_half_the_history():
    lines = _lines(n=60)
    lines = lines.loc[lines["date"] >= "2023-07-01"]
    s = client_summary(lines, "2024-01-01")
    b = base_structure(pd.DataFrame({"client_id": s["client_id"]}), s, "2024-01-01")
    m = L.LostModel().fit(lines, "2024-01-01", b, horizon_days=365)
    span = (pd.Timestamp("2024-01-01") - lines["date"].min()).days
    assert m.horizon_days_ == span // 2


def test_reactivation_score_is_value_times_probability():
    cm = pd.DataFrame({"client_id": ["a"] * 4 + ["b"] * 4,
                       "month": pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01"] * 2),
                       "revenue": [100.0] * 4 + [300.0] * 4, "margin": [np.nan] * 8})
    b = pd.DataFrame({"client_id": ["a", "b"], "base": ["lost", "sleeping"], "base_reason": ["silent", "rule_only"],
                      "days_silent": [300.0, 300.0], "last_date": pd.to_datetime(["2023-04-20"] * 2),
                      "lost_probability": [0.9, 0.2]})
    r = lost_regular_clients(cm, b)
    # a: 100 x 0.9 = 90 before b: 300 x 0.2 = 60; a rule_only client is on the list
    assert r["client_id"].tolist() == ["a", "b"]
    np.testing.assert_allclose(r["score"], [90.0, 60.0])


# ------------------------------------------------------------------ wallets of the top clients
def _estimates(source="lookalike"):
    return pd.DataFrame({"client_id": list("abcdefgh"), "channel": ["r"] * 8,
                         "revenue_month": [10.0, 20, 30, 40, 50, 60, 100, 200],
                         "wallet_month": [60.0, 60, 60, 80, 100, 90, 100, 200],
                         "wallet_low": [30.0] * 6 + [100.0, 200.0], "wallet_high": [90.0] * 6 + [100.0, 200.0],
                         "wallet_source": [source] * 8})


def test_extrapolate_top_by_hand():
    out = extrapolate_top(_estimates(), min_reference=3)
    # buying clients' median revenue 45; references above it, not floored: 50 (x2.0), 60 (x1.5)
    # -> fewer than 3: pooled references are the same two -> still fewer: wallets stay
    assert out.equals(_estimates().assign(wallet_source=pd.array(["lookalike"] * 8, dtype="string"))) or \
        (out["wallet_source"] == "lookalike").all()
    out = extrapolate_top(_estimates(), min_reference=2)
    top = out.set_index("client_id").loc[["g", "h"]]
    h = np.log([2.0, 1.5])
    np.testing.assert_allclose(top["wallet_month"], [100 * np.exp(h.mean()), 200 * np.exp(h.mean())])
    np.testing.assert_allclose(top["wallet_low"], [100 * np.exp(np.quantile(h, 0.1)), 200 * np.exp(np.quantile(h, 0.1))])
    assert (top["wallet_source"] == "extrapolated").all()
    assert (top["wallet_low"] >= [100.0, 200.0]).all() and (top["wallet_high"] >= top["wallet_month"]).all()
    rest = out.set_index("client_id").drop(["g", "h"])
    assert (rest["wallet_source"] == "lookalike").all()


def test_extrapolate_top_keeps_evidence():
    e = _estimates("survey")
    out = extrapolate_top(e, min_reference=1)
    np.testing.assert_allclose(out["wallet_month"], e["wallet_month"])
    assert (out["wallet_source"] == "survey").all()


# ------------------------------------------------------------------ generated cases keep the truth
def test_generated_case_lost_recall_and_precision():
    synth = pytest.importorskip("kbanalysis.synth.case")
    from kbanalysis.audit.core import audit_table

    case = synth.generate_case(n_clients=1500, seed=0)
    t = case.tables
    pc, _, _, _ = audit_table(t["clients"], t["sales"], t.get("contacts"), case.as_of, {})
    truth = case.truth["clients"].set_index(case.truth["clients"]["client_id"].astype(str))
    pc = pc.set_index(pc["client_id"].astype(str))
    t_lost = truth["true_base"] == "lost"
    p_lost = (pc["base"] == "lost").reindex(truth.index)
    hit = int((t_lost & p_lost).sum())
    assert hit / t_lost.sum() >= 0.9 and hit / p_lost.sum() >= 0.9
    buyers = pc["orders"].fillna(0) > 0
    assert pc.loc[buyers & pc["merged_into"].isna(), "lost_probability"].between(0, 1).all()
    assert pc.loc[~buyers, "lost_probability"].isna().all()
