"""Exact rules of kbanalysis.audit.structure (base structure, reactivation, concentration) and its charts."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kbanalysis.audit import structure as audit  # noqa: E402
from kbanalysis.audit import core as audit_core  # noqa: E402
from kbanalysis.sales.engine import client_months, client_summary  # noqa: E402
from kbanalysis.schema import BASES, KEY_ACCOUNT, OUTPUTS  # noqa: E402

AS_OF = pd.Timestamp("2024-04-01")


def day(n: int) -> pd.Timestamp:
    """The day ``n`` days before AS_OF."""
    return AS_OF - pd.Timedelta(days=n)


def sales_of(orders: dict[str, list], amount=100.0) -> pd.DataFrame:
    """Sales lines: client -> list of days-before-AS_OF (or (days, amount) tuples)."""
    rows = []
    for cid, days in orders.items():
        for d in days:
            dd, a = (d if isinstance(d, tuple) else (d, amount))
            rows.append({"date": day(dd), "client_id": cid, "product_group": "x", "amount": float(a),
                         "cost": np.nan})
    s = pd.DataFrame(rows)
    s["client_id"] = s["client_id"].astype("string")
    s["product_group"] = s["product_group"].astype("string")
    s["_row"] = np.arange(2, len(s) + 2)
    return s


def clients_of(ids, status=None) -> pd.DataFrame:
    c = pd.DataFrame({"client_id": pd.array(ids, dtype="string"),
                      "status": pd.array(status or ["active"] * len(ids), dtype="string")})
    c["_row"] = np.arange(2, len(c) + 2)
    return c


def bases(orders: dict, ids=None, status=None, **kw) -> dict:
    s = sales_of(orders)
    ids = ids or list(orders)
    b = audit.base_structure(clients_of(ids, status), client_summary(s, AS_OF), AS_OF, **kw)
    return dict(zip(b["client_id"], b["base"]))


# ------------------------------------------------------------------------------ base structure
class TestBaseStructure:
    def test_monthly_rhythm_lost_boundary(self):
        # gap 30 days -> lost after max(90, 3 * 30) = 90 days of silence, strictly more
        got = bases({"at90": [90 + 30 * k for k in range(8)], "at91": [91 + 30 * k for k in range(8)]})
        assert got == {"at90": "sleeping", "at91": "lost"}

    def test_long_rhythm_uses_its_own_gap(self):
        # gap 100 days -> lost only after 300 days, sleeping after 150
        got = bases({"a": [300 + 100 * k for k in range(5)], "b": [301 + 100 * k for k in range(5)],
                     "c": [150 + 100 * k for k in range(5)], "d": [151 + 100 * k for k in range(5)]})
        assert got == {"a": "sleeping", "b": "lost", "c": "active", "d": "sleeping"}

    def test_sleeping_boundary_and_floor(self):
        # gap 30: sleeping after max(45, 1.5 * 30) = 45; gap 7: after the 45-day floor, not 10.5 days
        got = bases({"m45": [45 + 30 * k for k in range(8)], "m46": [46 + 30 * k for k in range(8)],
                     "w40": [40 + 7 * k for k in range(30)], "w46": [46 + 7 * k for k in range(30)]})
        assert got == {"m45": "active", "m46": "sleeping", "w40": "active", "w46": "sleeping"}

    def test_few_orders(self):
        # one or two orders: lost after few_orders_lost_days = 180, sleeping after 1.5 * 180 / 3 = 90
        got = bases({"one90": [90], "one91": [91], "two180": [180, 250], "two181": [181, 250]})
        assert got == {"one90": "active", "one91": "sleeping", "two180": "sleeping", "two181": "lost"}
        got = bases({"two181": [181, 250]}, few_orders_lost_days=200)
        assert got == {"two181": "sleeping"}

    def test_potential_and_closed(self):
        s = sales_of({"buyer": [10, 40], "returns_only": [(20, -50.0)], "closed_buyer": [5, 35]})
        c = clients_of(["buyer", "returns_only", "never", "closed_buyer", "closed_never"],
                       ["active", "active", None, "closed", "closed"])
        b = audit.base_structure(c, client_summary(s, AS_OF), AS_OF)
        assert b["base"].tolist() == ["active", "lost", "potential", "closed", "closed"]
        assert b["base_reason"].tolist() == ["rhythm", "returns_only", "no_orders", "closed", "closed"]

    def test_revenue_drop(self):
        # weekly buyer, on rhythm, but its last quarter is below half its usual level
        summ = pd.DataFrame({
            "client_id": ["drop", "half", "slow", "young"], "orders": [50, 50, 10, 20],
            "first_date": pd.to_datetime(["2022-01-01", "2022-01-01", "2021-01-01", "2023-09-01"]),
            "last_date": [day(3)] * 4, "median_gap_days": [7.0, 7.0, 70.0, 7.0],
            "revenue_12m": [9000.0] * 4, "revenue_prev_6m": [6000.0] * 4,
            "revenue_last_3m": [1499.0, 1500.0, 100.0, 100.0]})
        b = audit.base_structure(clients_of(list(summ["client_id"])), summ, AS_OF)
        # usual 3-month level = 6000 / 6 months * 3 = 3000; < 0.5 * 3000 = 1500 -> sleeping
        assert b["base"].tolist() == ["sleeping", "active", "active", "active"]
        assert b["base_reason"].iloc[0] == "revenue_drop"
        assert b["usual_3m_revenue"].iloc[0] == pytest.approx(3000.0)
        # slow: a 70-day rhythm cannot be judged by one quarter; young: no history half a year ago
        assert np.isnan(b["usual_3m_revenue"].iloc[3])

    def test_columns_and_order(self):
        b = audit.base_structure(clients_of(["z", "a"]), client_summary(sales_of({"a": [5, 35, 65]}), AS_OF), AS_OF)
        assert b["client_id"].tolist() == ["z", "a"]
        for col in ("client_id", "base", "days_silent", "usual_gap_days", "lost_after_days", "sleeping_after_days"):
            assert col in b
        assert b["usual_gap_days"].iloc[1] == 30.0 and b["days_silent"].iloc[1] == 5.0

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 3), st.lists(st.integers(1, 900), max_size=12),
                              st.booleans()), min_size=1, max_size=12))
    def test_every_card_exactly_one_base(self, spec):
        orders = {f"c{i}": days for i, (_, days, _) in enumerate(spec)}
        status = ["closed" if closed else "active" for _, _, closed in spec]
        s = sales_of({k: v for k, v in orders.items() if v}) if any(orders.values()) else sales_of({"zz": [1]})
        c = clients_of(list(orders), status)
        b = audit.base_structure(c, client_summary(s, AS_OF), AS_OF)
        assert len(b) == len(c) and b["base"].isin(BASES).all()
        for (k, days), st_, base in zip(orders.items(), status, b["base"]):
            if st_ == "closed":
                assert base == "closed"
            elif not days:
                assert base == "potential"
            else:
                assert base in ("active", "sleeping", "lost")
                if min(days) <= 45:
                    assert base in ("active", "sleeping")  # never lost before 90 days of silence


# ------------------------------------------------------------------------------ reactivation list
def months_frame(spec: dict[str, dict[str, float]], margin=None) -> pd.DataFrame:
    rows = [{"client_id": c, "month": pd.Timestamp(m), "revenue": v,
             "margin": (margin or {}).get(c, {}).get(m, np.nan), "lines": 1}
            for c, ms in spec.items() for m, v in ms.items()]
    return pd.DataFrame(rows)


class TestLostRegular:
    def base(self, ids, silent, last):
        return pd.DataFrame({"client_id": ids, "base": ["lost"] * len(ids), "days_silent": silent,
                             "last_date": pd.to_datetime(last)})

    def test_window_and_regularity(self):
        cm = months_frame({
            # last order in 2023-08: window 2023-03..2023-08 has 4 active months -> regular
            "x": {"2023-01-01": 900, "2023-02-01": 900, "2023-05-01": 100, "2023-06-01": 100, "2023-07-01": 100,
                  "2023-08-01": 100},
            # only 3 months in its window (many before it do not count)
            "y": {"2022-09-01": 50, "2022-10-01": 50, "2022-11-01": 50, "2022-12-01": 50, "2023-03-01": 50,
                  "2023-05-01": 50, "2023-08-01": 50},
            # a month with a net return is not an active month
            "z": {"2023-04-01": 100, "2023-05-01": -20, "2023-06-01": 100, "2023-07-01": 100, "2023-08-01": 100},
        })
        b = self.base(["x", "y", "z"], [200.0, 200.0, 200.0], ["2023-08-20"] * 3)
        out = audit.lost_regular_clients(cm, b)
        assert list(out.columns[:5]) == list(OUTPUTS["lost_clients.csv"])
        got = out.set_index("client_id")
        assert sorted(got.index) == ["x", "z"]
        assert got.loc["x", "active_months"] == 4 and got.loc["x", "avg_month_revenue"] == 100.0
        assert got.loc["z", "active_months"] == 4 and got.loc["z", "avg_month_revenue"] == pytest.approx(380 / 4)
        assert got.loc["x", "last_order_date"] == pd.Timestamp("2023-08-20")

    def test_min_months_and_window_params(self):
        cm = months_frame({"y": {"2023-03-01": 50, "2023-05-01": 50, "2023-08-01": 50}})
        b = self.base(["y"], [200.0], ["2023-08-20"])
        assert audit.lost_regular_clients(cm, b).empty
        assert len(audit.lost_regular_clients(cm, b, min_months=3)) == 1
        assert audit.lost_regular_clients(cm, b, min_months=3, window_months=5).empty  # 2023-03 is outside

    def test_priority_value_times_decay(self):
        months = {m: 1 for m in ["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01"]}
        cm = months_frame({"big_old": {m: 1000.0 for m in months}, "mid_new": {m: 600.0 for m in months},
                           "small": {m: 100.0 for m in months}})
        # big_old left 12 months ago: 1000 * 0.5 = 500 < mid_new 600 * 0.5 ** 0 = 600
        b = self.base(["big_old", "mid_new", "small"], [365.25, 0.0, 0.0], ["2023-04-20"] * 3)
        out = audit.lost_regular_clients(cm, b)
        assert out["client_id"].tolist() == ["mid_new", "big_old", "small"]
        assert out["priority"].tolist() == [1, 2, 3]
        assert out["score"].round(6).tolist() == [600.0, 500.0, 100.0]

    def test_margin_when_known(self):
        ms = ["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01"]
        cm = months_frame({"a": {m: 1000.0 for m in ms}, "b": {m: 500.0 for m in ms}},
                          margin={"a": {m: -10.0 for m in ms}, "b": {m: 100.0 for m in ms}})
        out = audit.lost_regular_clients(cm, self.base(["a", "b"], [30.0, 30.0], ["2023-04-20"] * 2))
        assert out["client_id"].tolist() == ["b", "a"]  # a loss-making client comes last

    def test_only_lost(self):
        cm = months_frame({"a": {m: 10.0 for m in ["2024-01-01", "2024-02-01", "2024-03-01", "2023-12-01"]}})
        b = pd.DataFrame({"client_id": ["a"], "base": ["sleeping"], "days_silent": [50.0],
                          "last_date": pd.to_datetime(["2024-03-10"])})
        assert audit.lost_regular_clients(cm, b).empty


# ------------------------------------------------------------------------------ concentration
class TestConcentration:
    @pytest.mark.parametrize("revenue,expected", [
        ([10, 90], ["none", "mono"]),  # exactly 10 % is not a key client
        ([20, 80], ["key", "mono"]),  # exactly 20 %: key, not critical
        ([70, 30], ["critical", "critical"]),  # exactly 70 %: critical, not mono
        ([11, 89], ["key", "mono"]),
        ([21, 79], ["critical", "mono"]),
        ([71, 29], ["mono", "critical"]),
        ([1, 2, 7], ["none", "key", "critical"]),  # 0.1 / 0.2 / 0.7 from sums that are not exact in floats
    ])
    def test_boundaries(self, revenue, expected):
        sh = audit.revenue_shares(pd.Series(revenue, dtype=float))
        assert audit.key_accounts(sh).tolist() == expected

    def test_custom_thresholds(self):
        assert audit.key_accounts(pd.Series([0.05, 0.15]), key_share=0.05, critical_share=0.15, mono_share=0.5).tolist() == \
            ["none", "key"]

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=30))
    def test_monotone_in_share(self, shares):
        s = pd.Series(sorted(shares))
        rank = audit.key_accounts(s).map({k: i for i, k in enumerate(KEY_ACCOUNT)}).to_numpy()
        assert (np.diff(rank) >= 0).all()

    def test_shares(self):
        sh = audit.revenue_shares(pd.Series({"a": 30.0, "b": 10.0, "c": -5.0, "d": np.nan}))
        assert sh.to_dict() == {"a": 0.75, "b": 0.25, "c": 0.0, "d": 0.0}
        assert audit.revenue_shares(pd.Series([0.0, -1.0])).tolist() == [0.0, 0.0]

    def test_pareto(self):
        r = pd.Series({"a": 5.0, "b": 50.0, "c": 10.0, "d": 30.0, "e": 5.0, "f": 0.0})
        p = audit.pareto_table(r)
        assert p["client_id"].tolist() == ["b", "d", "c", "a", "e"]  # ties by id; zero left out
        assert p["revenue_share"].round(6).tolist() == [0.5, 0.8, 0.9, 0.95, 1.0]
        assert p["client_share"].tolist() == [0.2, 0.4, 0.6, 0.8, 1.0]
        assert audit.pareto_share(r) == 0.4  # b + d = 80 % exactly
        assert audit.pareto_share(r, 0.5) == 0.2
        assert audit.pareto_share(r, 0.81) == 0.6
        assert audit.pareto_share(r, 1.0) == 1.0
        assert np.isnan(audit.pareto_share(pd.Series([0.0])))

    def test_hhi(self):
        assert audit.hhi(pd.Series([50.0, 50.0])) == 0.5
        assert audit.hhi(pd.Series([25.0] * 4)) == 0.25
        assert audit.hhi(pd.Series([80.0, 20.0])) == pytest.approx(0.68)
        assert audit.hhi(pd.Series([7.0, -3.0])) == 1.0
        assert np.isnan(audit.hhi(pd.Series([], dtype=float)))


# ------------------------------------------------------------------------------ audit_table
def small_case():
    c = pd.DataFrame({
        "client_id": ["a", "b", "c", "d", "e"],
        "name": ["ООО «Ромашка»", "Ромашка ООО", "АО Лютик", "ООО Василёк", "ООО Закрытая"],
        "channel": ["retail"] * 5, "inn": ["7707083893", "7707083893", None, "500100732258", None],
        "region": ["Тула", "Тверь", "Тула", "Тула", "Тула"], "manager": ["Иванов", "Петров", "Иванов", None, "Иванов"],
        "phone": ["89123456789", None, "12345", None, None], "email": [None, None, "x@y.ru", None, None],
        "status": ["active", "active", "active", "active", "closed"], "outlets": [1.0, np.nan, 2.0, 3.0, 1.0],
        "_row": [2, 3, 4, 5, 6]})
    for col in ("client_id", "name", "channel", "inn", "region", "manager", "phone", "email", "status"):
        c[col] = c[col].astype("string")
    s = sales_of({"a": [10, 40, 70, 100], "b": [25, 55], "c": [200 + 30 * k for k in range(6)], "e": [20]})
    s["manager"] = pd.array(["Иванов"] * 4 + ["Петров"] * 2 + ["Иванов"] * 6 + ["Иванов"], dtype="string")
    k = pd.DataFrame({"client_id": pd.array(["a", "a", "b"], dtype="string"), "_row": [2, 3, 4],
                      "date": [day(100), day(90), day(80)], "manager": pd.array(["Иванов"] * 3, dtype="string")})
    return c, s, k


class TestAuditTable:
    def test_merged_duplicates(self):
        c, s, k = small_case()
        pc, f, d, lost = audit_core.audit_table(c, s, k, AS_OF, {"lang": "en"})
        assert pc["client_id"].tolist() == ["a", "b", "c", "d", "e"]
        assert d[["client_id", "duplicate_of"]].values.tolist() == [["b", "a"]]
        row = pc.set_index("client_id")
        assert row.loc["b", "master_id"] == "a" and row.loc["b", "merged_into"] == "a"
        assert pd.isna(row.loc["a", "merged_into"])
        # the master carries the sales of both cards; the duplicate copies base and key account only
        assert row.loc["a", "revenue_12m"] == 600.0 and np.isnan(row.loc["b", "revenue_12m"])
        assert row.loc["b", "base"] == row.loc["a", "base"] == "active"
        assert row.loc["b", "key_account"] == row.loc["a", "key_account"]
        assert row.loc["a", "orders"] == 6
        assert row.loc["c", "base"] == "lost" and row.loc["d", "base"] == "potential"
        assert row.loc["e", "base"] == "closed"
        assert pc["base"].isin(BASES).all() and pc["key_account"].isin(KEY_ACCOUNT).all()
        assert lost["client_id"].tolist() == ["c"] and lost["priority"].tolist() == [1]
        assert list(lost.columns[:5]) == list(OUTPUTS["lost_clients.csv"])

    def test_findings(self):
        c, s, k = small_case()
        pc, f, d, lost = audit_core.audit_table(c, s, k, AS_OF, {"lang": "en"})
        assert list(f.columns) == ["table", "row", "client_id", "issue", "detail"] and str(f["row"].dtype) == "Int64"
        got = set(zip(f["client_id"], f["issue"]))
        assert ("d", "invalid_inn") in got and ("c", "invalid_phone") in got
        assert ("d", "missing_value") in got  # no manager, no phone / e-mail
        assert ("a", "two_managers") in got and ("b", "two_managers") in got  # duplicate cards, two managers
        assert ("e", "closed_with_sales") in got
        # contacts of the two cards of one client are 10 days apart: too frequent, reported on the contact row
        tf = f.loc[f["issue"] == "too_frequent_contact"]
        assert tf["row"].tolist() == [3, 4] and tf["client_id"].tolist() == ["a", "b"]

    def test_default_as_of_and_params(self):
        c, s, k = small_case()
        pc1, *_ = audit_core.audit_table(c, s, None, None, {})
        pc2, *_ = audit_core.audit_table(c, s, None, s["date"].max() + pd.Timedelta(days=1), {})
        pd.testing.assert_frame_equal(pc1, pc2)
        pc3, *_ = audit_core.audit_table(c, s, None, AS_OF, {"lost_min_days": 400, "lost_gap_multiple": 20.0})
        assert pc3.set_index("client_id").loc["c", "base"] == "sleeping"


# ------------------------------------------------------------------------------ charts
class TestPlots:
    def test_every_chart_returns_its_axes_without_pyplot(self):
        import matplotlib.pyplot as plt
        from matplotlib.figure import Figure

        from kbanalysis.audit import cleaning
        from kbanalysis.audit import plots as pa

        c, s, k = small_case()
        pc, f, d, lost = audit_core.audit_table(c, s, k, AS_OF, {})
        rev = pc.set_index("client_id")["revenue_12m"].dropna()
        bm = cleaning.completeness_by_manager(c, cleaning.card_completeness(c, ["outlets"]))
        names = c.set_index("client_id")["name"]
        before = plt.get_fignums()
        calls = [lambda ax=None, lang="ru": pa.base_structure_bars(pc, lang=lang, ax=ax),
                 lambda ax=None, lang="ru": pa.pareto_curve(rev, lang=lang, ax=ax),
                 lambda ax=None, lang="ru": pa.key_account_bars(rev, names, lang=lang, ax=ax),
                 lambda ax=None, lang="ru": pa.completeness_bars(bm, lang=lang, ax=ax),
                 lambda ax=None, lang="ru": pa.reactivation_top(lost, names, lang=lang, ax=ax)]
        for call in calls:
            for lang in ("ru", "en"):
                ax = call(lang=lang)
                assert ax.get_title() and "audit." not in ax.get_title()
            fig = Figure()
            mine = fig.add_subplot()
            assert call(ax=mine) is mine
        assert plt.get_fignums() == before

    def test_titles_state_the_conclusion(self):
        from kbanalysis.audit import plots as pa

        r = pd.Series({"a": 20.0, "b": 16.0, "c": 64.0})
        assert pa.pareto_curve(r, lang="en").get_title() == "66.7% of clients bring 80% of revenue"
        t = pa.key_account_bars(r, lang="en").get_title().replace("\n", " ")
        assert t.startswith("Critical dependency: c brings 64.0%")
        t = pa.key_account_bars(pd.Series([5.0] * 20), lang="ru").get_title().replace("\n", " ")
        assert t.startswith("Ни один клиент не даёт больше 10\u00a0%")
        assert pa.reactivation_top(pd.DataFrame(columns=["client_id", "avg_month_revenue", "priority"]),
                                   lang="en").get_title() == "No regular buyers among the lost clients"
