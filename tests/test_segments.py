"""Tests of kbanalysis.segments.model: ABCDE within channels, potential clusters, names, action matrix, charts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbanalysis.segments import model as sg
from kbanalysis.errors import UserError
from kbanalysis.schema import ABCDE

AS_OF = pd.Timestamp("2024-01-01")


def clients(n: int = 600, seed: int = 0, cost: bool = True, losses: float = 0.04,
            prospects: float = 0.08) -> pd.DataFrame:
    """A realistic per-client frame (the input of the segments stage), made without sales lines."""
    rng = np.random.default_rng(seed)
    chans = np.array(["retail", "wholesale", "chain", "online", "end_user", "dealer"])
    ch = rng.choice(chans, n, p=[.35, .15, .05, .15, .2, .1])
    level = {"retail": 4.5, "wholesale": 5.5, "chain": 6.0, "online": 4.8, "end_user": 4.2, "dealer": 5.2}
    logw = np.array([level[c] for c in ch]) + rng.normal(0, 0.5, n)
    wallet = 10 ** logw
    share = 10 ** rng.uniform(-3, -0.2, n)
    rev12 = 12 * wallet * share * rng.lognormal(0, 0.2, n)
    prospect = rng.random(n) < prospects
    rev12[prospect] = 0.0
    rate = rng.normal(0.22, 0.07, n)
    rate[rng.random(n) < losses] = -0.05
    orders = np.maximum(1, rng.poisson(np.clip(2 + 40 * share ** 0.5, 1, 60)))
    active = np.clip(np.round(orders / 2 + rng.normal(0, 1, n)), 1, 12)
    trend = rng.uniform(-0.6, 0.6, n)
    last6 = rev12 * (0.5 + trend / 2)
    gap = 365 / orders
    silent = rng.exponential(gap)
    silent[rng.random(n) < 0.1] *= 6
    first = AS_OF - pd.to_timedelta(rng.integers(200, 1500, n), unit="D")
    df = pd.DataFrame({
        "client_id": [f"c{i:05d}" for i in range(n)], "channel": pd.array(ch, dtype="string"),
        "base": np.where(prospect, "potential", "active"),
        "revenue_12m": rev12, "margin_12m": rev12 * rate if cost else np.nan,
        "wallet_month": wallet, "share_of_wallet": np.clip(rev12 / 12 / wallet, 0, 1),
        "upsell_month": np.maximum(0, 0.3 * wallet - rev12 / 12), "crosssell_month": wallet * rng.uniform(0, .5, n),
        "achievable_month": np.where(prospect, 0.03 * wallet, np.minimum(rev12 / 12, 0.1 * wallet)),
        "orders": np.where(prospect, 0, orders), "median_gap_days": np.where(prospect, np.nan, gap),
        "active_months_12m": np.where(prospect, 0, active),
        "groups_12m": np.where(prospect, 0, rng.integers(1, 8, n)),
        "revenue_prev_6m": rev12 - last6, "revenue_last_6m": last6,
        "first_date": first.where(~prospect), "last_date": (AS_OF - pd.to_timedelta(silent.round(), unit="D"))
        .where(~prospect),
        "days_silent": np.where(prospect, np.nan, silent.round()), "usual_gap_days": np.where(prospect, np.nan, gap),
    })
    return df


def is_e(cls: pd.Series) -> np.ndarray:
    return (cls == "E").fillna(False).to_numpy(dtype=bool)


def cut_fixture(**kw) -> pd.DataFrame:
    """Eleven clients whose profitability and wallet are each a permutation of 0..10.

    Quantiles 0.8 / 0.5 are then exactly 8 / 5: data points sit on the cut points.
    """
    p = [8.0, 5, 4, 6, 9, 10, 7, 3, 0, 1, 2]
    w = [8.0, 5, 6, 4, 3, 10, 9, 7, 0, 2, 1]
    return pd.DataFrame({"channel": "x", "revenue_12m": 100.0, "margin_12m": p, "wallet_month": w, **kw})


# ------------------------------------------------------------------------------------------------
# ABCDE
# ------------------------------------------------------------------------------------------------
def test_boundaries_exactly_at_cut_points():
    got = sg.abcde_classes(cut_fixture())
    #            (p, w):   (8,8) (5,5) (4,6) (6,4) (9,3) (10,10) (7,9) (3,7) (0,0) (1,2) (2,1)
    assert list(got) == ["A", "B", "C", "D", "B", "A", "B", "C", "D", "D", "D"]


@pytest.mark.parametrize("p,w,expected", [
    (8.0, 8.0, "A"),     # on both high cuts -> A (>=)
    (7.999, 8.0, "B"),   # just below P_high
    (8.0, 7.999, "B"),   # just below W_high
    (5.0, 5.0, "B"),     # on both mid cuts
    (4.999, 5.0, "C"),   # modest profit, potential on the mid cut
    (4.999, 10.0, "C"),  # modest profit, highest potential
    (5.0, 4.999, "D"),   # profit on the mid cut, potential just below
    (8.0, 4.999, "B"),   # top profit, low potential -> B (documented rule)
    (7.999, 4.999, "D"),
    (0.0, 0.0, "D"),     # zero margin is not a loss
    (-0.001, 10.0, "E"),
])
def test_boundary_client_against_fixed_cuts(p, w, expected):
    # the probe joins 99 clients (the 0..10 fixture nine times): the cut points stay exactly 8 / 5
    base = cut_fixture()
    big = pd.concat([base] * 9, ignore_index=True)  # 99 clients, cut points still 8 / 5
    probe = pd.DataFrame({"channel": ["x"], "revenue_12m": [100.0], "margin_12m": [p], "wallet_month": [w]})
    df = pd.concat([big, probe], ignore_index=True)
    ranked = df.loc[df["margin_12m"] >= 0]
    q = ranked[["margin_12m", "wallet_month"]].quantile([0.8, 0.5])
    assert q.loc[0.8].tolist() == [8.0, 8.0] and q.loc[0.5].tolist() == [5.0, 5.0]
    assert sg.abcde_classes(df).iloc[-1] == expected


def test_e_is_exactly_loss_making_and_every_client_with_sales_has_one_class():
    df = clients(800, seed=3)
    cls = sg.abcde_classes(df)
    sold = df["revenue_12m"] != 0
    assert (is_e(cls) == (df["margin_12m"] < 0).to_numpy()).all()
    assert cls[sold].notna().all() and cls[sold].isin(list(ABCDE)).all()
    assert cls[~sold].isna().all()
    assert str(cls.dtype) == "string" and cls.name == "abcde"


def test_every_big_channel_gets_at_least_four_classes():
    df = clients(1500, seed=5)
    cls = sg.abcde_classes(df)
    for chan, g in cls.groupby(df["channel"]):
        if g.notna().sum() >= 10:
            assert g.dropna().nunique() >= 4, chan


def test_classes_are_within_channel():
    """Scaling one channel's money by 1000 changes nothing: each channel has its own cut points."""
    df = clients(900, seed=2)
    before = sg.abcde_classes(df)
    scaled = df.copy()
    m = scaled["channel"] == "chain"
    for c in ("revenue_12m", "margin_12m", "wallet_month"):
        scaled.loc[m, c] *= 1000
    assert sg.abcde_classes(scaled).equals(before)


def test_no_cost_ranks_by_revenue():
    df = clients(500, seed=4, cost=False)
    df.loc[df.index[:3], "revenue_12m"] = -50.0  # returns only
    cls = sg.abcde_classes(df)
    assert (is_e(cls) == (df["revenue_12m"] < 0).to_numpy()).all()
    assert cls[df["revenue_12m"] != 0].notna().all()


def test_small_channel_uses_whole_base_cuts():
    df = pd.concat([cut_fixture(), pd.DataFrame({"channel": ["tiny"] * 2, "revenue_12m": 1.0,
                                                 "margin_12m": [10.0, 0.5], "wallet_month": [10.0, 0.5]})],
                   ignore_index=True)
    cls = sg.abcde_classes(df)
    assert cls.iloc[-2:].tolist() == ["A", "D"]  # not both A/B as their own 2-client quantiles would say


def test_missing_wallet_falls_back_to_own_revenue():
    df = cut_fixture()
    df["wallet_month"] = df["wallet_month"].astype(float)
    df.loc[0, "wallet_month"] = np.nan
    assert sg.abcde_classes(df).notna().all()


def test_bad_quantiles_are_a_user_error():
    with pytest.raises(UserError):
        sg.abcde_classes(cut_fixture(), high=0.4, mid=0.5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=10_000),
       st.floats(min_value=0.5, max_value=0.95), st.floats(min_value=0.05, max_value=1.0))
def test_property_one_class_each_e_only_losses(n, seed, high, mid_frac):
    rng = np.random.default_rng(seed)
    mid = max(0.01, high * mid_frac)
    rev = np.where(rng.random(n) < 0.2, 0.0, rng.lognormal(8, 2, n))
    margin = np.where(rev == 0, np.nan, rev * rng.normal(0.1, 0.2, n))
    df = pd.DataFrame({"channel": rng.choice(["a", "b", "c"], n), "revenue_12m": rev, "margin_12m": margin,
                       "wallet_month": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(9, 2, n))})
    cls = sg.abcde_classes(df, high=high, mid=mid)
    sold = rev != 0
    assert cls[sold].notna().all()
    assert cls[~sold].isna().all()
    assert (is_e(cls) == (np.nan_to_num(margin, nan=0.0) < 0)).all()
    # monotone: raising a client's profitability and potential never moves it down the ladder (A best)
    order = {"A": 0, "B": 1, "C": 2, "D": 3}
    i = int(rng.integers(0, n))
    if sold[i] and cls.iloc[i] in order and n >= 10:
        up = df.copy()
        up.loc[i, ["margin_12m", "wallet_month"]] = [1e30, 1e30]
        assert order[sg.abcde_classes(up, high=high, mid=mid).iloc[i]] <= order[cls.iloc[i]]


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=0.01, max_value=1e6), st.integers(min_value=0, max_value=1000))
def test_property_classes_invariant_to_money_scale(scale, seed):
    df = clients(120, seed=seed)
    a = sg.abcde_classes(df)
    s = df.copy()
    for c in ("revenue_12m", "margin_12m", "wallet_month"):
        s[c] = s[c] * scale
    assert sg.abcde_classes(s).equals(a)


def test_abcde_matrix_and_pareto():
    df = clients(700, seed=6)
    df["abcde"] = sg.abcde_classes(df)
    m = sg.abcde_matrix(df)
    assert list(m.columns) == ["channel", "abcde", "clients", "revenue_12m", "margin_12m", "client_share",
                               "revenue_share", "margin_share"]
    assert len(m) == 5 * df["channel"].nunique()
    assert m["clients"].sum() == df["abcde"].notna().sum()
    assert np.allclose(m.groupby("channel")["client_share"].sum(), 1.0)
    assert np.isclose(m["revenue_12m"].sum(), df.loc[df["abcde"].notna(), "revenue_12m"].sum())
    # computed on the fly when the column is absent
    assert sg.abcde_matrix(df.drop(columns="abcde")).equals(m)
    p = sg.pareto_by_class(df)
    assert p["abcde"].tolist() == list(ABCDE)
    assert np.isclose(p["cum_client_share"].iloc[-1], 1.0) and np.isclose(p["cum_revenue_share"].iloc[-1], 1.0)
    assert (p["cum_client_share"].diff().dropna() >= -1e-12).all()
    # A + B bring far more revenue than their share of clients (20/80)
    ab = p.set_index("abcde").loc[["A", "B"]]
    assert ab["revenue_share"].sum() > ab["client_share"].sum()


# ------------------------------------------------------------------------------------------------
# Features and clusters
# ------------------------------------------------------------------------------------------------
def test_cluster_features_shape_bounds_and_nan():
    df = clients(400, seed=7)
    f = sg.cluster_features(df)
    assert list(f.columns) == list(sg.FEATURES)
    assert f.index.tolist() == df["client_id"].tolist()
    assert f["growth"].dropna().between(-1, 1).all()
    assert f["recency"].dropna().between(0, 10).all()
    assert f["regularity"].dropna().between(0, 1).all()
    assert f["share"].dropna().between(-3, 0).all()
    # missing inputs give NaN features, not errors
    g = sg.cluster_features(df[["client_id", "wallet_month", "revenue_12m"]])
    assert g["growth"].isna().all() and g["share"].notna().all()


def _fit(df, **kw):
    sold = sg.has_sales(df).to_numpy()
    f = sg.cluster_features(df)
    return sg.PotentialClusters(n_boot=kw.pop("n_boot", 5), **kw).fit(f.loc[sold]), f.loc[sold]


def test_clusters_deterministic_k_in_range_and_ordered():
    df = clients(1200, seed=8)
    m1, f = _fit(df)
    m2, _ = _fit(df)
    assert m1.labels_.equals(m2.labels_)
    assert m1.names_ == m2.names_
    assert m1.k_min <= m1.k_ <= m1.k_max
    assert set(m1.labels_.unique()) == set(range(m1.k_))
    assert list(m1.scores_.index) == list(range(m1.k_min, m1.k_max + 1))
    # cluster 0 has the biggest mean wallet, then descending
    means = f["log_wallet"].groupby(m1.labels_.to_numpy()).mean()
    assert means.is_monotonic_decreasing
    assert -1 <= m1.stability_ <= 1
    assert m1.profiles_.shape == (m1.k_, len(sg.FEATURES))
    assert m1.sizes_.sum() == len(f)
    assert m1.predict(f).equals(m1.labels_)


def test_clusters_fixed_k_other_seed_and_models():
    df = clients(500, seed=9)
    m, _ = _fit(df, n_clusters=5)
    assert m.k_ == 5 and list(m.scores_.index) == [5]
    g, _ = _fit(df, model="gmm", k_max=5, n_boot=2)
    assert 3 <= g.k_ <= 5 and g.criterion_ == "bic"
    s, _ = _fit(df, scaler="standard", weights={}, n_boot=0)
    assert np.isnan(s.stability_)


def test_clusters_fit_on_subsample_predict_all():
    df = clients(3000, seed=10)
    m, f = _fit(df, fit_size=800, sample_size=400, n_boot=3)
    assert len(m.labels_) == len(f)
    assert m.labels_.index.equals(f.index)


def _bootstrap_ari(model, X, k: int, n: int) -> float:
    """The stability recipe, written out: resample b from ``seed + 7919 k``, refit with seed
    ``seed + b + 1``, adjusted Rand index with the fitted clustering, mean over ``n`` resamples."""
    from sklearn.base import clone
    from sklearn.metrics import adjusted_rand_score

    A = X.astype("float64").to_numpy()
    ref = model.pipeline_.predict(A)
    rng = np.random.default_rng(model.seed + 7919 * k)
    aris = []
    for b in range(n):
        idx = rng.choice(len(A), len(A), replace=True)
        p = clone(model.pipeline_).set_params(cluster__random_state=model.seed + b + 1).fit(A[idx])
        aris.append(adjusted_rand_score(ref, p.predict(A)))
    return float(np.mean(aris))


def test_stability_by_k_follows_the_recipe():
    """Every k searched gets max(3, n_boot // 4) resamples, the chosen k all n_boot of them (its first
    ones are the same resamples: each is fitted once)."""
    df = clients(600, seed=9)
    m, f = _fit(df, n_boot=12, k_min=3, k_max=5)
    chosen = m.pipeline_[-1].n_clusters
    assert m.stability_ == _bootstrap_ari(m, f, chosen, 12) == m.stability_by_k_.loc[chosen]
    for k in m.stability_by_k_.index.drop(chosen):
        alone = sg.PotentialClusters(n_clusters=k, n_boot=0).fit(f)  # the same model the search fitted
        assert m.stability_by_k_.loc[k] == _bootstrap_ari(alone, f, k, 3)


def test_clusters_robust_to_nan_and_tiny_inputs():
    df = clients(300, seed=11)
    f = sg.cluster_features(df).iloc[:200].copy()
    f.iloc[::3, 2:] = np.nan
    f["growth"] = np.nan  # a whole empty feature
    m = sg.PotentialClusters(n_boot=2).fit(f)
    assert m.labels_.notna().all()
    tiny = f.iloc[:4]
    m = sg.PotentialClusters(n_boot=0).fit(tiny)
    assert m.k_ <= 3
    with pytest.raises(ValueError):
        sg.PotentialClusters().fit(f.iloc[:1])


def test_names_unique_in_both_languages():
    df = clients(1500, seed=12)
    m, _ = _fit(df, n_clusters=8)
    for lang in ("ru", "en"):
        names = [m.names_[c][lang] for c in range(m.k_)]
        assert len(set(names)) == len(names), names
    assert set(m.archetypes_.values()) <= set(sg.ARCHETYPES)


def test_name_clusters_disambiguates_same_archetype():
    prof = pd.DataFrame({"log_wallet": [1.5, 1.2, 0.9, 0.8], "share": [-1.0, -0.9, -0.8, -0.7],
                         "regularity": [0.0, 0.5, -0.5, 0.0]})
    arch, names = sg.name_clusters(prof)
    assert set(arch.values()) == {"grow"}
    for lang in ("ru", "en"):
        got = [names[c][lang] for c in range(4)]
        assert len(set(got)) == 4, got
    assert "(" in names[0]["en"] and "Big wallet, low share — grow" in names[0]["en"]
    # identical profiles still get unique names
    arch, names = sg.name_clusters(pd.DataFrame({"log_wallet": [-1.0, -1.0]}))
    assert names[0]["ru"] != names[1]["ru"]


@pytest.mark.parametrize("z,key", [
    ({"log_wallet": 1.0, "share": -0.8}, "grow"),
    ({"log_wallet": 1.0, "share": 0.9}, "key"),
    ({"share": 0.9, "regularity": 0.5}, "core"),
    ({"recency": 1.5}, "fading"),
    ({"growth": -1.0, "log_wallet": 1.0}, "fading"),
    ({"growth": 1.2}, "new"),
    ({"log_wallet": -1.0, "regularity": -0.5}, "small"),
    ({"log_crosssell": 0.9, "breadth": -0.5}, "cross"),
    ({}, "middle"),
])
def test_archetype_rules(z, key):
    assert sg._archetype(z) == key


# ------------------------------------------------------------------------------------------------
# Whole stage and action matrix
# ------------------------------------------------------------------------------------------------
def test_segment_clients_labels_prospects():
    df = clients(700, seed=13)
    df.loc[df.index[-1], ["revenue_12m", "margin_12m", "wallet_month"]] = [0.0, np.nan, np.nan]
    table, model = sg.segment_clients(df, n_boot=2)
    sold = sg.has_sales(df)
    assert table["cluster"][sold].between(0, model.k_ - 1).all()
    no = ~sold & (df["wallet_month"] > 0)
    assert (table["cluster"][no] == sg.PROSPECT).all()
    assert pd.isna(table["cluster"].iloc[-1])
    assert (table["archetype"][no] == "prospect").all()
    assert table["abcde"][~sold].isna().all()
    assert table["cluster_name_en"][sold].notna().all()


def test_action_matrix_covers_every_cluster_and_class():
    df = clients(900, seed=14)
    table, model = sg.segment_clients(df, n_boot=2)
    df = df.assign(abcde=table["abcde"], cluster=table["cluster"])
    for lang in ("ru", "en"):
        am = sg.action_matrix(df, model, lang=lang, full=True)
        clusters = set(range(model.k_)) | {sg.PROSPECT}
        assert set(am["cluster"]) == clusters
        for c in range(model.k_):
            assert am.loc[am["cluster"] == c, "abcde"].tolist() == list(ABCDE)
        assert am.loc[am["cluster"] == sg.PROSPECT, "abcde"].tolist() == [sg.NO_CLASS]  # prospects: no class
        for f in sg.ACTION_FIELDS:
            assert am[f].notna().all() and (am[f].str.len() > 0).all()
        assert am["clients"].sum() == df["cluster"].notna().sum()
        room = (df["upsell_month"] + df["crosssell_month"])[df["cluster"].notna()].sum()
        assert np.isclose(am["ceiling_month"].sum(), room)
        assert np.isclose(am["at_stake_month"].sum(), df["achievable_month"][df["cluster"].notna()].sum())
        # by default: the segments with clients only, the most achievable money first
        short = sg.action_matrix(df, model, lang=lang)
        assert (short["clients"] > 0).all() and short["clients"].sum() == am["clients"].sum()
        assert short["at_stake_month"].is_monotonic_decreasing and len(short) == (am["clients"] > 0).sum()
        view = sg.action_view(short, lang)
        assert not {"cluster", "archetype", "revenue_12m"} & set(view.columns) and sg.NO_CLASS not in set(view["abcde"])
    e = am.loc[am["abcde"] == "E", "offer"].unique()
    assert len(e) == 1  # class E gives its own offer whatever the cluster


def test_default_actions_cover_every_archetype_and_class():
    acts = sg.load_actions()
    for a in sg.ARCHETYPES:
        for c in (*ABCDE, sg.NO_CLASS):
            for f in sg.ACTION_FIELDS:
                v = sg._action_field(acts, a, c, f)
                assert v["ru"] and v["en"]


def test_custom_actions_file(tmp_path):
    import yaml

    acts = sg.load_actions()
    acts["cells"] = {"grow": {"C": {"offer": {"ru": "особое", "en": "special"}}}}
    p = tmp_path / "a.yaml"
    p.write_text(yaml.safe_dump(acts, allow_unicode=True), encoding="utf-8")
    df = pd.DataFrame({"cluster": [0, 0], "abcde": ["C", "A"], "revenue_12m": [1.0, 2.0], "wallet_month": 5.0})
    am = sg.action_matrix(df, {0: "grow"}, lang="en", actions_file=p)
    assert am.set_index("abcde").loc["C", "offer"] == "special"
    assert am.set_index("abcde").loc["A", "offer"] != "special"
    del acts["archetypes"]["grow"]["offer"]
    p.write_text(yaml.safe_dump(acts, allow_unicode=True), encoding="utf-8")
    with pytest.raises(UserError, match="grow"):
        sg.action_matrix(df, {0: "grow"}, actions_file=p)
    with pytest.raises(UserError):
        sg.load_actions(tmp_path / "missing.yaml")


def test_cluster_summary():
    df = clients(500, seed=15)
    table, model = sg.segment_clients(df, n_boot=0)
    s = sg.cluster_summary(df.assign(cluster=table["cluster"]), model, "ru")
    assert s["clients"].sum() == table["cluster"].notna().sum()
    assert s["name"].is_unique


# ------------------------------------------------------------------------------------------------
# Charts
# ------------------------------------------------------------------------------------------------
def test_charts_return_axes_with_titles_and_no_pyplot_state():
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    from kbanalysis.segments import plots as ps

    plt.close("all")
    df = clients(600, seed=16)
    table, model = sg.segment_clients(df, n_boot=3)
    df = df.assign(abcde=table["abcde"], cluster=table["cluster"])
    for lang in ("ru", "en"):
        axes = [ps.cluster_map(df, model, lang), ps.cluster_profiles(model, lang),
                ps.abcde_by_cluster(df, model, lang), ps.abcde_channels(df, lang),
                ps.abcde_channels(sg.abcde_matrix(df), lang, value="clients"), ps.k_selection(model, lang)]
        for ax in axes:
            assert isinstance(ax, Axes)
            title = ax.get_title()
            assert title and "segments." not in title
    assert plt.get_fignums() == []
    fig, ax = plt.subplots()
    assert ps.k_selection(model, "en", ax=ax) is ax
    plt.close(fig)


# ------------------------------------------------------------------------------------------------
# the steps of notebook 03 (segment_frame, client_value, fit_clusters, segment_table, abcde_counts)
def test_segment_frame_keeps_master_cards_and_takes_channel_from_the_card():
    audit = pd.DataFrame({"client_id": ["a", "b", "c"], "merged_into": [None, "a", None],
                          "base": ["active", "active", "lost"], "revenue_12m": [10.0, 0.0, 0.0]})
    wallet = pd.DataFrame({"client_id": ["a", "c"], "wallet_month": [5.0, 7.0], "channel": ["old", "old"],
                           "base": ["x", "x"]})
    cards = pd.DataFrame({"client_id": ["a", "c"], "channel": ["retail", "dealer"], "name": ["A", "C"]})
    f = sg.segment_frame(audit, wallet, cards)
    assert f["client_id"].tolist() == ["a", "c"]  # the duplicate b is gone
    assert f["channel"].tolist() == ["retail", "dealer"]  # the card's channel, not the wallet's
    assert f["base"].tolist() == ["active", "lost"]  # the audit's base
    assert f["wallet_month"].tolist() == [5.0, 7.0]
    assert "name" not in f  # only the channel comes from the card


def test_client_value_profitability_and_potential_by_hand():
    df = pd.DataFrame({"client_id": ["a", "b", "c"], "channel": "r", "revenue_12m": [120.0, 60.0, 0.0],
                       "margin_12m": [30.0, np.nan, np.nan], "wallet_month": [np.nan, 40.0, 9.0]})
    v = sg.client_value(df)
    assert v["profitability"].tolist() == [30.0, 60.0, 0.0]  # a missing margin is read with cost 0
    assert v["potential"].tolist() == [10.0, 40.0, 9.0]  # a missing wallet: revenue / 12
    assert v["has_sales"].tolist() == [True, True, False]
    # without any cost, profitability is revenue
    nocost = sg.client_value(df.assign(margin_12m=np.nan))
    assert nocost["profitability"].tolist() == [120.0, 60.0, 0.0]


def test_abcde_counts_by_hand():
    df = pd.DataFrame({"abcde": pd.array(["A", "E", None, "A", "C"], dtype="string"),
                       "channel": ["r", "r", "d", "d", "o"]})
    assert sg.abcde_counts(df) == {"n_A": 2, "n_E": 1, "n_channels": 3}


def test_fit_clusters_fits_on_clients_with_sales_only():
    X = pd.DataFrame({"a": [0.0, 0.1, 0.2, 5.0, 5.1, 5.2, 99.0]})
    sold = pd.Series([True] * 6 + [False])
    m = sg.fit_clusters(X, sold, n_clusters=2, n_boot=0)
    assert m.k_ == 2 and len(m.labels_) == 6  # the seventh client (no sales) is not in the fit
    assert m.labels_.tolist() == [1, 1, 1, 0, 0, 0]  # cluster 0 has the larger first feature


def test_segment_clients_is_its_steps_in_a_row():
    df = clients(300, seed=4)
    table, model = sg.segment_clients(df, n_boot=2, k_min=3, k_max=5, seed=7)
    classes = sg.abcde_classes(df)
    feats = sg.cluster_features(df)
    m2 = sg.fit_clusters(feats, sg.has_sales(df), k_min=3, k_max=5, seed=7, n_boot=2)
    t2 = sg.segment_table(df, classes, m2, feats, lang="en")
    assert model.k_ == m2.k_
    pd.testing.assert_frame_equal(table, t2.drop(columns="cluster_name"))
    assert t2["cluster_name"].equals(t2["cluster_name_en"])


def test_pareto_running_totals_stop_at_100_percent():
    """A loss-making class E: its margin share is negative and the running total of A..D ends at 100 %."""
    df = pd.DataFrame({"abcde": ["A", "B", "E"], "revenue_12m": [50.0, 30, 20], "margin_12m": [10.0, 5, -3]})
    p = sg.pareto_by_class(df).set_index("abcde")
    assert p["cum_margin_share"].max() == pytest.approx(1.0) and np.isnan(p.loc["E", "cum_margin_share"])
    assert p.loc["E", "margin_share"] == pytest.approx(-0.2) and p.loc["A", "margin_share"] == pytest.approx(2 / 3)
    assert p["cum_revenue_share"].max() == pytest.approx(1.0)


def test_profile_heatmap_cells_speak_the_report_language():
    """Russian cells carry a decimal comma and a value that rounds to zero no sign (they showed «-0.0», #23)."""
    import matplotlib.pyplot as plt

    from kbanalysis.segments import plots as ps

    class M:
        profiles_ = pd.DataFrame({"log_wallet": [1.04, -0.04], "share": [-1.26, 0.0]})
        names_ = {0: {"ru": "Крупные", "en": "Big"}, 1: {"ru": "Мелкие", "en": "Small"}}
        sizes_ = pd.Series([1, 1])

    for lang, want in (("ru", ["1,0", "-1,3", "0,0", "0,0"]), ("en", ["1.0", "-1.3", "0.0", "0.0"])):
        ax = ps.cluster_profiles(M(), lang=lang)
        assert [x.get_text() for x in ax.texts] == want
        plt.close(ax.figure)
