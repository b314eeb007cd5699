"""Tests of the synthetic case generator (kbanalysis.synth.case): contract shape, ground truth, files."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kbanalysis.schema import TABLES
from kbanalysis.synth.case import (DRIVERS, GROUPS, MESSY_HEADERS, MESSY_LABELS, MESSY_MAPPING, STAGE_WIN, STAGES, SyntheticCase,
                              generate_case, inn_check_ok, sample_case, write_case)

N = 1200
AS_OF = pd.Timestamp("2026-10-01")


@pytest.fixture(scope="module")
def case() -> SyntheticCase:
    return generate_case(n_clients=N, seed=5, as_of=AS_OF, months=36, horizon=6)


@pytest.fixture(scope="module")
def written(case, tmp_path_factory):
    messy = tmp_path_factory.mktemp("messy")
    plain = tmp_path_factory.mktemp("plain")
    write_case(case, messy, messy=True)
    write_case(case, plain, messy=False)
    return messy, plain


def _inn_ok(inn: str) -> bool:
    """The official check-digit algorithm, written independently of synth."""
    if not inn.isdigit() or len(inn) not in (10, 12):
        return False
    d = [int(c) for c in inn]

    def check(digits, weights):
        return sum(a * b for a, b in zip(digits, weights)) % 11 % 10

    if len(d) == 10:
        return check(d[:9], [2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[9]
    return (check(d[:10], [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[10]
            and check(d[:11], [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[11])


def _phone_ok(p: str) -> bool:
    """A Russian number: no letters, 11 digits starting with 7 or 8."""
    if re.search(r"[^\d\s()+\-]", p):
        return False
    d = re.sub(r"\D", "", p)
    return len(d) == 11 and d[0] in "78"


def _digest(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------
# determinism
# ------------------------------------------------------------------------------------------
def test_same_seed_same_tables_and_truth():
    a, b = generate_case(300, seed=1), generate_case(300, seed=1)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    for name in a.truth:
        pd.testing.assert_frame_equal(a.truth[name], b.truth[name])
    c = generate_case(300, seed=2)
    assert not a.tables["sales"]["amount"].equals(c.tables["sales"]["amount"])


@pytest.mark.parametrize("messy", [True, False])
def test_same_seed_byte_identical_files(tmp_path, messy):
    a, b = tmp_path / "a", tmp_path / "b"
    write_case(generate_case(150, seed=9, months=12, horizon=3), a, messy=messy)
    write_case(generate_case(150, seed=9, months=12, horizon=3), b, messy=messy)
    da, db = _digest(a), _digest(b)
    assert da == db
    assert ("deals.xlsx" in da) == messy


# ------------------------------------------------------------------------------------------
# canonical tables
# ------------------------------------------------------------------------------------------
def test_tables_have_canonical_columns_and_dtypes(case):
    assert sorted(case.tables) == sorted(["clients", "sales", "deals", "stock", "marketing", "survey", "contacts"])
    for name, df in case.tables.items():
        table = TABLES[name]
        assert list(df.columns[: len(table.names) + 1]) == ["_row"] + table.names, name
        extra = list(df.columns[len(table.names) + 1:])
        assert extra == (list(DRIVERS) if name == "clients" else []), name
        assert df["_row"].dtype == "int64" and df["_row"].is_monotonic_increasing and df["_row"].min() >= 2
        for col in table.columns:
            s = df[col.name]
            if col.kind == "text":
                assert s.dtype == "string", (name, col.name, s.dtype)
            elif col.kind in ("number", "prob"):
                assert s.dtype == "float64", (name, col.name, s.dtype)
            else:
                assert s.dtype == "datetime64[ns]", (name, col.name, s.dtype)
                v = s.dropna()
                assert (v == v.dt.normalize()).all()
                if col.kind == "month":
                    assert (v.dt.day == 1).all()
            if col.required:
                assert s.notna().all(), (name, col.name)
        for c in extra:
            assert df[c].dtype == "float64"
    # contiguous spreadsheet rows everywhere but sales (broken rows left out there)
    for name in ("clients", "deals", "stock", "marketing", "survey", "contacts"):
        assert case.tables[name]["_row"].tolist() == list(range(2, len(case.tables[name]) + 2))


def test_values_follow_the_contract(case):
    t = case.tables
    cl = t["clients"]
    assert cl["client_id"].is_unique
    assert set(cl["status"]) == {"active", "closed"}
    assert set(cl["channel"]) == {"retail", "chain", "wholesale", "online", "end_user", "dealer"}
    assert 0.80 < cl["inn"].notna().mean() < 0.92 and 0.83 < cl["phone"].notna().mean() < 0.95
    assert cl["imported_machine_share"].dropna().between(0, 1).all()
    d = t["deals"]
    assert set(d["status"]) == {"open", "won", "lost"} and d["deal_id"].is_unique
    assert d["probability"].between(0, 1).all() and set(d["stage"]) <= set(STAGES)
    assert t["stock"]["incoming"].notna().all() and (t["stock"]["incoming"] >= 0).all()
    assert set(t["stock"]["product_group"]) == set(GROUPS)
    assert t["marketing"]["product_group"].isna().all()
    s = t["sales"]
    assert set(s["product_group"]) <= set(GROUPS) and s["client_id"].isin(cl["client_id"]).all()
    assert 0.01 < (s["amount"] < 0).mean() < 0.03  # returns
    assert 60 < len(s) / N < 140  # about 100 lines per client over 36 months
    for name in ("deals", "survey", "contacts"):
        assert t[name]["client_id"].isin(cl["client_id"]).all(), name


def test_dates_before_and_after_as_of(case):
    assert isinstance(case.as_of, pd.Timestamp) and case.as_of == AS_OF
    s = case.tables["sales"]
    assert s["date"].max() < case.as_of
    assert s["date"].min() >= case.as_of - pd.DateOffset(months=36)
    fut = case.truth["future_sales"]
    assert fut["month"].min() >= case.as_of and fut["month"].max() < case.as_of + pd.DateOffset(months=6)
    assert (case.tables["contacts"]["date"] < case.as_of).all() and (case.tables["survey"]["date"] < case.as_of).all()
    d = case.tables["deals"]
    op = d[d["status"] == "open"]
    assert op["planned_month"].between(case.as_of, case.as_of + pd.DateOffset(months=2)).all()
    closed = d[d["status"] != "open"]
    assert (closed["planned_month"] < case.as_of).all() and (closed["closed_date"] < case.as_of).all()
    assert (d["created_date"] < case.as_of).all()


# ------------------------------------------------------------------------------------------
# ground truth
# ------------------------------------------------------------------------------------------
def test_inn_check_digits(case):
    assert inn_check_ok("7707083893") and not inn_check_ok("7707083894") and inn_check_ok("500100732259")
    cl = case.tables["clients"].merge(case.truth["clients"][["client_id", "bad_inn"]], on="client_id")
    has = cl[cl["inn"].notna()]
    ok = has["inn"].map(_inn_ok)
    assert (ok == ~has["bad_inn"]).all()
    assert (has["inn"].map(inn_check_ok) == ok).all()
    assert not cl.loc[cl["inn"].isna(), "bad_inn"].any()
    assert 0.02 < cl["bad_inn"].mean() < 0.04
    assert has["inn"].str.len().isin([10, 12]).all() and has["inn"].str.startswith("0").any()  # leading zeros kept


def test_phones_planted_invalid_rest_valid(case):
    cl = case.tables["clients"].merge(case.truth["clients"][["client_id", "bad_phone"]], on="client_id")
    has = cl[cl["phone"].notna()]
    assert (has["phone"].map(_phone_ok) == ~has["bad_phone"]).all()
    assert 0.02 < cl["bad_phone"].mean() < 0.04
    assert has["phone"].str.startswith("8 (").any() and has["phone"].str.match(r"^\+7\d{10}$").any()


def test_true_shares_fall_in_their_bands(case):
    tc = case.truth["clients"]
    band = np.select([tc["true_share"] < 0.01, tc["true_share"] < 0.10], ["indifferent", "secondary"], "main")
    assert (tc["true_share_band"].to_numpy() == band).all()
    assert (tc["true_share"] >= 0).all() and tc["true_share"].max() < 0.9
    assert (tc.loc[tc["true_base"] == "potential", "true_share"] == 0).all()
    active = tc[tc["true_base"] == "active"]["true_share_band"].value_counts(normalize=True)
    assert active.min() > 0.15 and set(active.index) == {"indifferent", "secondary", "main"}
    # the share is what the sales say: our revenue of the last 12 months / 12 / wallet
    s = case.tables["sales"]
    rev = s[s["date"] >= case.as_of - pd.DateOffset(months=12)].groupby("client_id")["amount"].sum()
    own = tc[tc["duplicate_of"].isna()].set_index("client_id")
    dup_ids = set(case.truth["duplicates"]["client_id"]) | set(case.truth["duplicates"]["duplicate_of"])
    own = own[~own.index.isin(dup_ids)]
    expect = (rev.reindex(own.index).fillna(0).clip(lower=0) / 12 / own["true_wallet_month"])
    np.testing.assert_allclose(own["true_share"], expect, rtol=1e-9, atol=1e-12)


def test_bases_and_life_cycle(case):
    tc = case.truth["clients"]
    share = tc["true_base"].value_counts(normalize=True)
    assert set(share.index) == {"active", "sleeping", "lost", "potential", "closed"}
    assert 0.08 < share["lost"] < 0.17 and 0.05 < share["sleeping"] < 0.12 and 0.05 < share["potential"] < 0.12
    lost = tc[tc["true_base"] == "lost"]
    assert 0.4 < lost["regular"].mean() < 0.85 and not tc.loc[tc["true_base"] != "lost", "regular"].any()
    assert lost["returns_after"].mean() < 0.2
    assert tc.loc[tc["true_base"] == "active", "returns_after"].mean() > 0.9
    assert not tc.loc[tc["true_base"] == "closed", "returns_after"].any()
    # potential = no purchase before as_of; closed cards are the status-closed ones
    buyers = set(case.tables["sales"].loc[case.tables["sales"]["amount"] > 0, "client_id"])
    assert not tc.loc[tc["true_base"] == "potential", "client_id"].isin(buyers).any()
    cl = case.tables["clients"].merge(tc[["client_id", "true_base"]], on="client_id")
    assert ((cl["status"] == "closed") == (cl["true_base"] == "closed")).all()
    # a few closed clients still bought recently (closed_with_sales)
    recent = case.tables["sales"]["date"] >= case.as_of - pd.Timedelta(days=90)
    recent_ids = set(case.tables["sales"].loc[recent, "client_id"])
    assert cl.loc[cl["status"] == "closed", "client_id"].isin(recent_ids).any()


def test_loss_making_and_two_managers(case):
    s, tc = case.tables["sales"], case.truth["clients"]
    w = s[s["date"] >= case.as_of - pd.DateOffset(months=12)]
    margin = (w["amount"] - w["cost"]).groupby(w["client_id"]).sum()
    loss = tc.loc[tc["loss_making"], "client_id"]
    assert len(loss) and (margin.reindex(loss) < 0).all()
    cards = case.tables["clients"].set_index("client_id")["manager"]
    other = s["manager"].to_numpy() != cards.reindex(s["client_id"]).to_numpy()
    two = set(s.loc[other & cards.reindex(s["client_id"]).notna().to_numpy(), "client_id"])
    assert two == set(tc.loc[tc["two_managers"], "client_id"])
    assert 0.015 < tc["two_managers"].mean() < 0.05


def test_duplicates_are_findable(case):
    dups, tc, cl = case.truth["duplicates"], case.truth["clients"], case.tables["clients"].set_index("client_id")
    assert 0.02 < len(dups) / N < 0.04 and set(dups["reason"]) == {"same_inn", "same_phone", "similar_name"}
    assert dups.set_index("client_id")["duplicate_of"].equals(
        tc.dropna(subset=["duplicate_of"]).set_index("client_id")["duplicate_of"].sort_index())
    a, b = cl.loc[dups["client_id"]], cl.loc[dups["duplicate_of"]]
    r = dups["reason"].to_numpy()
    assert (a["region"].to_numpy() == b["region"].to_numpy()).all()
    assert (a["channel"].to_numpy() == b["channel"].to_numpy()).all()
    inn = r == "same_inn"
    assert (a["inn"].to_numpy()[inn] == b["inn"].to_numpy()[inn]).all()
    ph = r == "same_phone"
    da = a["phone"][ph].str.replace(r"\D", "", regex=True).str[-10:].to_numpy()
    db = b["phone"][ph].str.replace(r"\D", "", regex=True).str[-10:].to_numpy()
    assert (da == db).all() and (a["phone"][ph].to_numpy() != b["phone"][ph].to_numpy()).all()
    nm = r == "similar_name"
    assert (a["name"].to_numpy()[nm] != b["name"].to_numpy()[nm]).all() and a["inn"][nm].isna().all()
    # duplicate cards carry part of the client's sales
    assert case.tables["sales"]["client_id"].isin(dups["client_id"]).mean() > 0


def test_deals_truth_and_optimism(case):
    d, out, s = case.tables["deals"], case.truth["deal_outcomes"], case.tables["sales"]
    assert set(out["deal_id"]) == set(d.loc[d["status"] == "open", "deal_id"])
    won_out = out[out["outcome"] == "won"]
    assert won_out["won_month"].notna().all() and out.loc[out["outcome"] == "lost", "won_month"].isna().all()
    docs = set(s["doc_id"])
    assert d.loc[d["status"] == "won", "deal_id"].isin(docs).all()
    assert not d.loc[d["status"] != "won", "deal_id"].isin(docs).any()
    closed = d[d["status"] != "open"]
    by_stage = closed.groupby("stage").agg(win=("status", lambda x: (x == "won").mean()), stated=("probability", "mean"))
    assert (by_stage["stated"] > by_stage["win"]).all()  # managers are optimistic
    true = pd.Series(STAGE_WIN, index=STAGES)
    assert (by_stage["stated"] - true.reindex(by_stage.index)).between(0.05, 0.35).all()


def test_future_stock_marketing(case):
    fut, st, mk = case.truth["future_sales"], case.truth["stock_truth"], case.tables["marketing"]
    assert not fut.duplicated(["client_id", "product_group", "month"]).any()
    first3 = fut[fut["month"] < case.as_of + pd.DateOffset(months=3)].groupby("product_group")["amount"].sum()
    np.testing.assert_allclose(st.set_index("product_group")["demand_3m"].reindex(first3.index), first3.round(2),
                               rtol=1e-6)
    ratio = st["stock_available"] / st["demand_3m"]
    assert (ratio[st["status"] == "short"] < 0.65).all() and (ratio[st["status"] == "ample"] >= 1.4).all()
    assert set(st["status"]) == {"short", "ample", "mid"}
    stock = case.tables["stock"].set_index("product_group")
    np.testing.assert_allclose((stock["on_hand"] + stock["incoming"]).reindex(st["product_group"]),
                               st["stock_available"])
    monthly = fut.groupby("month")["amount"].sum()
    bias = mk.set_index("month")["amount"] / monthly.reindex(mk["month"]).to_numpy()
    assert len(mk) == 6 and bias.between(0.95, 1.3).all()


def test_contacts_flags(case):
    ct, fl = case.tables["contacts"], case.truth["contact_flags"]
    ct = ct.sort_values(["client_id", "date"])
    gap = ct.groupby("client_id")["date"].diff().dt.days
    freq = set(ct.loc[gap < 30, "client_id"])
    assert freq == set(fl.loc[fl["too_frequent"], "client_id"]) and len(freq) > 0
    last = ct.groupby("client_id")["date"].max()
    stale = set(last[last < case.as_of - pd.Timedelta(days=180)].index)
    assert stale <= set(fl.loc[fl["stale"], "client_id"]) and len(stale) > 0


def test_broken_rows_fill_the_gaps(case):
    br, s = case.truth["broken_rows"], case.tables["sales"]
    assert set(br["issue"]) == {"bad_date", "bad_number", "unknown_client", "missing_value"}
    assert 0.001 < len(br) / len(s) < 0.004
    rows = np.sort(np.concatenate([s["_row"].to_numpy(), br["row"].to_numpy()]))
    assert (rows == np.arange(2, len(rows) + 2)).all()
    assert br["row"].tolist() == case.broken_sales["_row"].tolist()


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------
def test_messy_files_read_back_with_pandas(case, written):
    messy, _ = written
    assert yaml_text(messy / "mapping.yaml") == {**MESSY_MAPPING, "labels": MESSY_LABELS}
    cl = pd.read_csv(messy / "clients.csv", encoding="cp1251", sep=";", dtype=str, keep_default_na=False)
    assert list(cl.columns) == list(MESSY_HEADERS["clients"].values())
    assert cl["Код клиента"].tolist() == case.tables["clients"]["client_id"].tolist()
    assert cl["ИНН"].tolist() == case.tables["clients"]["inn"].fillna("").tolist()  # text, leading zeros kept
    assert set(cl["Статус"]) <= {"активен", "закрыт", ""}
    assert cl["Средняя стоимость проекта"].str.contains("\u00a0").any()
    s = pd.read_csv(messy / "sales.csv", encoding="cp1251", sep=";", dtype=str, keep_default_na=False)
    assert list(s.columns) == list(MESSY_HEADERS["sales"].values())
    assert len(s) == len(case.tables["sales"]) + len(case.truth["broken_rows"])
    good = s.drop(index=case.truth["broken_rows"]["row"] - 2)
    assert good["Дата"].str.match(r"^\d\d\.\d\d\.\d{4}$").all() and good["Сумма"].str.contains(",").all()
    assert good["Код клиента"].tolist() == case.tables["sales"]["client_id"].tolist()
    d = pd.read_excel(messy / "deals.xlsx", dtype={"Месяц": str})
    assert list(d.columns) == list(MESSY_HEADERS["deals"].values())
    assert d["Вероятность, %"].max() > 1 and set(d["Статус сделки"]) <= {"открыта", "выиграна", "проиграна"}
    assert d["Месяц"].str.match(r"^\d{4}-\d\d$").all()
    st = pd.read_csv(messy / "stock.csv", encoding="utf-8-sig", sep="\t", dtype=str)
    assert list(st.columns) == list(MESSY_HEADERS["stock"].values())
    assert (messy / "stock.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    mk = pd.read_csv(messy / "marketing.csv", encoding="utf-8", sep=",", dtype=str)
    assert list(mk.columns) == list(MESSY_HEADERS["marketing"].values())
    sv = pd.read_csv(messy / "survey.csv", encoding="utf-8", sep=";", dtype=str)
    assert list(sv.columns) == list(MESSY_HEADERS["survey"].values())
    ct = pd.read_csv(messy / "contacts.csv", encoding="cp1251", sep=";", dtype=str)
    assert list(ct.columns) == list(MESSY_HEADERS["contacts"].values())
    for name in ("clients", "duplicates", "future_sales", "deal_outcomes", "broken_rows", "stock_truth"):
        assert (messy / "truth" / f"{name}.csv").is_file()


def yaml_text(path):
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_messy_and_plain_hold_the_same_usable_rows(case, written):
    messy, plain = written
    assert not (plain / "mapping.yaml").exists() and not (plain / "deals.xlsx").exists()
    for name, df in case.tables.items():
        p = pd.read_csv(plain / f"{name}.csv", dtype=str, keep_default_na=False)
        assert list(p.columns) == [c for c in df.columns if c != "_row"], name
        assert len(p) == len(df), name
        if name == "deals":
            m = pd.read_excel(messy / "deals.xlsx")
        else:
            enc = {"clients": "cp1251", "sales": "cp1251", "contacts": "cp1251", "stock": "utf-8-sig"}.get(name,
                                                                                                           "utf-8")
            sep = {"stock": "\t", "marketing": ","}.get(name, ";")
            m = pd.read_csv(messy / f"{name}.csv", encoding=enc, sep=sep, dtype=str)
        broken = len(case.truth["broken_rows"]) if name == "sales" else 0
        assert len(m) - broken == len(p), name
    ps = pd.read_csv(plain / "sales.csv", dtype={"client_id": str})
    assert ps["date"].str.match(r"^\d{4}-\d\d-\d\d$").all()
    np.testing.assert_array_equal(ps["amount"].to_numpy(), case.tables["sales"]["amount"].to_numpy())


def test_sample_case_and_switching_formats(tmp_path):
    c = sample_case(tmp_path, n_clients=60, seed=4, months=12, horizon=3)
    assert isinstance(c, SyntheticCase) and (tmp_path / "deals.xlsx").is_file()
    write_case(c, tmp_path, messy=False)  # no two formats of one table left behind
    assert (tmp_path / "deals.csv").is_file() and not (tmp_path / "deals.xlsx").exists()
    assert not (tmp_path / "mapping.yaml").exists()


# ------------------------------------------------------------------------------------------
# the loader reads the messy files back into case.tables (integration with kbanalysis.io.case)
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(TABLES))
def test_loader_reads_messy_files_as_tables(case, written, name):
    io = pytest.importorskip("kbanalysis.io.case")
    loaded = _load(io, written[0])
    pd.testing.assert_frame_equal(loaded.tables[name], case.tables[name])


_LOADED: dict = {}


def _load(io, folder):
    if folder not in _LOADED:
        _LOADED[folder] = io.load_case(folder)
    return _LOADED[folder]


# ------------------------------------------------------------------------------------------
# options of a forecast benchmark (season, trend, months, no deals, no marketing)
# ------------------------------------------------------------------------------------------
#: sha256 over the relative paths and bytes of every file of ``sample_case(dir, n_clients=60, seed=0)``
#: written by the generator before the benchmark options existed (their defaults must not change a byte).
_REF_60_0 = "8fa7678b6351a6a48ea1a1e76b258c97f583b988d4e27ecc1f232851875dd7df"  # mapping.yaml gained labels (#23); every other file as before


def _tree_digest(root) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(root).rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _yearly_fit(c: SyntheticCase) -> tuple[float, float]:
    """Monthly log-growth and yearly amplitude of the monthly sales totals (log-linear fit with a yearly cosine)."""
    s = c.tables["sales"]
    m = s.groupby(s["date"].dt.to_period("M"))["amount"].sum().iloc[1:]  # the first month may be partial
    y, t, mo = np.log(m.to_numpy()), np.arange(len(m)), m.index.month.to_numpy()
    X = np.column_stack([np.ones(len(t)), t, np.cos(2 * np.pi * mo / 12), np.sin(2 * np.pi * mo / 12)])
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    return float(b[1]), float(np.hypot(b[2], b[3]))


@pytest.mark.parametrize("explicit", [False, True])
def test_default_options_are_byte_identical_to_the_reference(tmp_path, explicit):
    kw = dict(season=None, trend=None, deals=True, marketing=True) if explicit else {}
    sample_case(tmp_path, n_clients=60, seed=0, **kw)
    assert _tree_digest(tmp_path) == _REF_60_0


def test_bundled_sample_is_what_make_sample_writes(tmp_path):
    data = Path(__file__).resolve().parents[1] / "data" / "sample"
    sample_case(tmp_path, n_clients=400, seed=7, names=True)  # as `make sample`: names, not codes
    assert _tree_digest(tmp_path) == _tree_digest(data)


@pytest.mark.parametrize("seed", [1, 2])
def test_season_sets_the_yearly_amplitude(seed):
    flat = _yearly_fit(generate_case(1500, seed=seed, season=0.0, trend=0.0))[1]
    strong = _yearly_fit(generate_case(1500, seed=seed, season=0.3, trend=0.0))[1]
    default = _yearly_fit(generate_case(1500, seed=seed))[1]
    assert flat < 0.05  # no yearly pattern beyond noise and the life cycle of the clients
    assert 0.25 < strong < 0.36
    assert flat < default < strong


def test_trend_sets_the_monthly_growth():
    up = _yearly_fit(generate_case(1500, seed=1, season=0.0, trend=0.01))[0]
    down = _yearly_fit(generate_case(1500, seed=1, season=0.0, trend=-0.01))[0]
    assert abs((up - down) - (np.log(1.01) - np.log(0.99))) < 0.003
    same_world = generate_case(300, seed=4, trend=0.0), generate_case(300, seed=4, trend=0.005)
    a, b = (c.tables["sales"] for c in same_world)
    pd.testing.assert_series_equal(a["date"], b["date"])  # only the amounts change
    assert not a["amount"].equals(b["amount"])


def test_months_sets_the_history_length():
    c = generate_case(200, seed=3, months=14)
    first = c.tables["sales"]["date"].min()
    assert c.as_of - pd.DateOffset(months=14) <= first < c.as_of - pd.DateOffset(months=13)
    assert c.params["months"] == 14


@pytest.mark.parametrize("messy", [True, False])
def test_no_deals_and_no_marketing_leave_the_rest_of_the_world(tmp_path, messy):
    full = generate_case(300, seed=5)
    bare = generate_case(300, seed=5, deals=False, marketing=False)
    assert "deals" not in bare.tables and "marketing" not in bare.tables
    assert "deal_outcomes" not in bare.truth
    for name, df in bare.tables.items():
        pd.testing.assert_frame_equal(df, full.tables[name])
    for name, df in bare.truth.items():
        pd.testing.assert_frame_equal(df, full.truth[name])
    assert bare.params["deals"] is False and bare.params["marketing"] is False
    write_case(bare, tmp_path, messy=messy)
    names = {p.name for p in tmp_path.iterdir()}
    assert not names & {"deals.xlsx", "deals.csv", "marketing.csv"}
    assert {"clients.csv", "sales.csv", "stock.csv"} <= names
    only_deals = generate_case(300, seed=5, deals=False)
    assert "marketing" in only_deals.tables and "deals" not in only_deals.tables


@pytest.mark.parametrize("kw", [dict(season=0.5), dict(season=-0.1), dict(trend=0.02), dict(trend=-0.011)])
def test_options_out_of_range_are_refused(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        generate_case(40, seed=0, **kw)


def test_cli_sample_options(tmp_path, capsys):
    from kbanalysis.run.cli import main

    out = tmp_path / "c"
    main(["sample", str(out), "--clients", "120", "--seed", "2", "--months", "14", "--season", "0.2",
          "--trend", "0.01", "--no-deals", "--no-marketing"])
    names = {p.name for p in out.iterdir()}
    assert "sales.csv" in names and not names & {"deals.xlsx", "marketing.csv"}
    params = json.loads((out / "truth" / "case.json").read_text(encoding="utf-8"))
    want = {"months": 14, "season": 0.2, "trend": 0.01, "deals": False, "marketing": False}
    assert {k: params[k] for k in want} == want
    ref = tmp_path / "ref"
    main(["sample", str(ref), "--clients", "60", "--seed", "0", "--codes"])
    assert _tree_digest(ref) == _REF_60_0
    for bad in (["--months", "13"], ["--months", "37"], ["--season", "0.41"], ["--trend", "-0.02"]):
        assert main(["sample", str(tmp_path / "bad"), *bad]) == 2
        assert bad[0] in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_cli_sample_writes_the_names_a_1c_export_carries(tmp_path):
    """By default the channel and group columns hold Russian names (as 1C writes them), every other byte of
    meaning as with ``--codes``; mapping.yaml's labels then give the names' English (issue #23)."""
    from kbanalysis.run.cli import main

    named, coded = tmp_path / "named", tmp_path / "coded"
    assert main(["sample", str(named), "--clients", "60", "--seed", "0"]) == 0
    assert main(["sample", str(coded), "--clients", "60", "--seed", "0", "--codes"]) == 0
    ru = {col: {code: lab["ru"] for code, lab in codes.items()} for col, codes in MESSY_LABELS.items()}
    for table, col, key in (("clients", "Канал сбыта", "channel"), ("sales", "Товарная группа", "product_group")):
        n = pd.read_csv(named / f"{table}.csv", sep=";", encoding="cp1251", dtype=str, keep_default_na=False)
        c = pd.read_csv(coded / f"{table}.csv", sep=";", encoding="cp1251", dtype=str, keep_default_na=False)
        assert n[col].isin(list(ru[key].values()) + [""]).mean() > 0.99  # the planted broken lines keep their text
        pd.testing.assert_series_equal(n[col], c[col].map(lambda v: ru[key].get(v, v)))
        pd.testing.assert_frame_equal(n.drop(columns=col), c.drop(columns=col))
    labels = yaml_text(named / "mapping.yaml")["labels"]
    assert labels["channel"]["Дилеры"] == {"ru": "Дилеры", "en": "Dealers"}
    truth = pd.read_csv(named / "truth" / "future_sales.csv")
    assert set(truth["product_group"]) <= set(ru["product_group"].values())
