"""Exact rules of kbanalysis.audit.cleaning on tiny hand-computed fixtures, plus property tests."""
from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbanalysis.audit import cleaning as cl

W10 = [2, 4, 10, 3, 5, 9, 4, 6, 8]
W11 = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
W12 = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]


def ref_inn_ok(s: str) -> bool:
    """Independent, loop-based reference of the official check."""
    if not s.isdigit() or len(s) not in (10, 12):
        return False
    d = [int(c) for c in s]
    if len(d) == 10:
        return sum(a * b for a, b in zip(d[:9], W10)) % 11 % 10 == d[9]
    c11 = sum(a * b for a, b in zip(d[:10], W11)) % 11 % 10
    c12 = sum(a * b for a, b in zip(d[:11], W12)) % 11 % 10
    return c11 == d[10] and c12 == d[11]


def cards(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    df = pd.DataFrame(cols)
    if "_row" not in df:
        df["_row"] = np.arange(2, n + 2)
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].astype("string")
    return df


# ------------------------------------------------------------------------------ INN
class TestInn:
    def test_known_valid(self):
        assert cl.inn_is_valid("7707083893")  # Сбербанк
        assert cl.inn_is_valid("500100732259")  # 12 digits
        assert cl.inn_is_valid(" 7707 083893 ")  # spaces are ignored

    def test_hand_computed_check_digit(self):
        # 7707083893: 7*2+7*4+0*10+7*3+0*5+8*9+3*4+8*6+9*8 = 14+28+0+21+0+72+12+48+72 = 267;
        # 267 % 11 = 3 -> control 3 = last digit
        assert sum(int(c) * w for c, w in zip("770708389", W10)) == 267
        assert cl.inn_is_valid("7707083893")

    @pytest.mark.parametrize("bad", ["7707083894", "7707083890", "7707183893", "500100732258", "500100732269",
                                     "77070838", "77070838931", "77O7083893", "", "abc", None, "1111111111"])
    def test_invalid(self, bad):
        assert not cl.inn_is_valid(bad)

    def test_issues_missing_is_not_invalid(self):
        c = cards(client_id=["a", "b", "c", "d", "e", "f"],
                  inn=["7707083893", None, "7707083894", "12345", "77070838аа", "500100732259"])
        f = cl.inn_issues(c, lang="en")
        assert f["client_id"].tolist() == ["c", "d", "e"]
        assert f["row"].tolist() == [4, 5, 6]
        assert f["row"].dtype == "Int64"
        assert set(f["issue"]) == {"invalid_inn"}
        assert "check digits" in f["detail"].iloc[0] and "10 digits" in f["detail"].iloc[1]
        assert "other than digits" in f["detail"].iloc[2]

    def test_issues_without_column_or_rows(self):
        assert cl.inn_issues(cards(client_id=["a"])).empty
        assert list(cl.inn_issues(cards(client_id=["a"])).columns) == list(cl.FINDING_COLUMNS)

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.text(alphabet="0123456789", min_size=9, max_size=13), min_size=1, max_size=60))
    def test_vectorised_equals_reference(self, inns):
        c = cards(client_id=[f"c{i}" for i in range(len(inns))], inn=inns)
        flagged = set(cl.inn_issues(c)["client_id"])
        expected = {f"c{i}" for i, s in enumerate(inns) if not (ref_inn_ok(s) and len(set(s)) > 1)}
        assert flagged == expected

    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.integers(0, 9), min_size=9, max_size=9))
    def test_generated_valid_ten_digit(self, body):
        control = sum(a * b for a, b in zip(body, W10)) % 11 % 10
        s = "".join(map(str, body)) + str(control)
        assert cl.inn_is_valid(s) == (len(set(s)) > 1)
        wrong = "".join(map(str, body)) + str((control + 1) % 10)
        assert not cl.inn_is_valid(wrong)


# ------------------------------------------------------------------------------ phones
class TestPhones:
    @pytest.mark.parametrize("text", ["8 (912) 345-67-89", "+79123456789", "79123456789", "9123456789",
                                      "+7 912 345 67 89", "8-912-345-67-89", "8 912 3456789", "+7(912)345-67-89"])
    def test_one_number_many_forms(self, text):
        assert cl.normalize_phone(text) == "+79123456789"

    def test_landline_toll_free_extension(self):
        assert cl.normalize_phone("8 (495) 123-45-67") == "+74951234567"
        assert cl.normalize_phone("8 800 333 37 98") == "+78003333798"
        assert cl.normalize_phone("8 (912) 345-67-89 доб. 123") == "+79123456789"

    def test_several_numbers_in_a_cell(self):
        assert cl.normalize_phone("8 495 123-45-67, +7 912 345 67 89") == "+74951234567;+79123456789"
        assert cl.normalize_phone("89123456789; 8 (912) 345-67-89") == "+79123456789"  # same twice -> once

    @pytest.mark.parametrize("text", ["12345", "уточнить", "+7 (912) 345-67", "8 (912) 345-67-ХХ", "", None,
                                      "+7 000 000 00 00"])
    def test_invalid(self, text):
        assert cl.normalize_phone(text) is None

    def test_issues(self):
        c = cards(client_id=["a", "b", "c", "d", "e", "f"],
                  phone=["+7 912 345 67 89", "12345", None, "+380 (67) 123-45-67", "+1 (201) 345-6789",
                         "89123456789, нет"])
        f = cl.phone_issues(c, lang="en")
        assert f["client_id"].tolist() == ["b", "d", "e", "f"]
        assert f["row"].tolist() == [3, 5, 6, 7]
        assert "foreign" in f["detail"].iloc[1] and "(UA)" in f["detail"].iloc[1]
        assert "'нет'" in f["detail"].iloc[3]

    def test_kazakhstan_is_allowed_by_default(self):
        c = cards(client_id=["a"], phone=["+7 701 234 56 78"])
        assert cl.phone_issues(c).empty
        assert len(cl.phone_issues(c, countries=("RU",))) == 1

    def test_normalize_phones_column(self):
        c = cards(client_id=["a", "b", "c"], phone=["8 (912) 345-67-89", "x", "+7 495 123 45 67; 8 912 345 67 89"])
        assert cl.normalize_phones(c).tolist() == ["+79123456789", pd.NA, "+74951234567;+79123456789"]

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(st.integers(300_000_0000, 999_999_9999),
                              st.sampled_from(["8 ({c}) {a}-{b}-{d}", "+7{c}{a}{b}{d}", "7{c}{a}{b}{d}",
                                               "{c}{a}{b}{d}", "+7 {c} {a} {b} {d}"])), min_size=1, max_size=40))
    def test_fast_path_agrees_with_phonenumbers(self, items):
        texts, expected = [], []
        for nat, fmt in items:
            s = str(nat)
            text = fmt.format(c=s[:3], a=s[3:6], b=s[6:8], d=s[8:])
            n = phonenumbers.parse(text, "RU")
            texts.append(text)
            expected.append(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
                            if phonenumbers.is_valid_number(n) else pd.NA)
        got = cl.normalize_phones(pd.DataFrame({"phone": pd.array(texts, dtype="string")}))
        assert got.tolist() == expected

    def test_fast_enough_on_many_cards(self):
        import time

        rng = np.random.default_rng(0)
        nat = rng.integers(900, 1000, 50_000) * 10**7 + rng.integers(0, 10**7, 50_000)
        c = cards(client_id=[f"c{i}" for i in range(len(nat))], phone=[f"8 ({x // 10**7}) {x % 10**7:07d}" for x in nat])
        t0 = time.perf_counter()
        cl.phone_issues(c)
        assert time.perf_counter() - t0 < 10


# ------------------------------------------------------------------------------ names
class TestNames:
    @pytest.mark.parametrize("name", ["ООО «Ромашка»", "Ромашка ООО", '"РОМАШКА", ООО', "ооо ромашка",
                                      "Общество с ограниченной ответственностью «Ромашка»", "OOO Ромашка",
                                      "  ООО   'Ромашка'  ", "ООО “Ромашка”", "Ромашка, LLC", "Romashka Ltd."])
    def test_same_company(self, name):
        expected = "romashka" if "Romashka" in name else "ромашка"
        assert cl.normalize_name(name) == expected

    def test_other_forms(self):
        assert cl.normalize_name("ПАО «Лукойл»") == cl.normalize_name("Лукойл") == "лукойл"
        assert cl.normalize_name("ЗАО Фирма Ёлка") == "фирма елка"
        assert cl.normalize_name("ИП Семёнов И.И.") == "семенов и и"
        assert cl.normalize_name("Индивидуальный предприниматель Семенов И. И.") == "семенов и и"
        assert cl.normalize_name("Торг-Сервис № 2") == "торг сервис 2"
        assert cl.normalize_name(None) == "" and cl.normalize_name("ООО") == ""

    def test_legal_family(self):
        fam = cl.legal_family(pd.Series(["ООО «А»", "ЗАО Б", "ПАО В", "ИП Г", "Д", "Общество с ограниченной "
                                                                             "ответственностью Е"]))
        assert fam.tolist() == ["llc", "jsc", "jsc", "ip", pd.NA, "llc"]


# ------------------------------------------------------------------------------ duplicates
def dup_cards() -> pd.DataFrame:
    return cards(
        client_id=["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"],
        name=["ООО «Ромашка»", "Ромашка ООО", "АО Лютик", "ООО «Василёк»", "ООО Строймаркет", "ООО Стрйомаркет",
              "ООО Магнит 1", "ООО Магнит 2", "Ромашка ООО"],
        inn=["7707083893", None, "7707083893", None, None, None, None, None, None],
        phone=[None, None, None, "8 (912) 345-67-89", None, None, None, None, "+7 912 345 67 89"],
        region=["Москва", "Москва", "Тула", "Тверь", "Тула", "Тула", "Тула", "Тула", "Казань"],
        _row=[2, 3, 4, 5, 6, 7, 8, 9, 10])


class TestDuplicates:
    def test_pairs_once_with_reasons(self):
        p = cl.duplicate_pairs(dup_cards())
        got = list(zip(p["client_id"], p["duplicate_of"], p["reason"]))
        assert got == [("k2", "k1", "same_name"), ("k3", "k1", "same_inn"), ("k6", "k5", "similar_name"),
                       ("k9", "k4", "same_phone")]
        # k9 «Ромашка» is in another region: no name pair with k1; «Магнит 1» is not «Магнит 2»

    def test_reasons_are_joined(self):
        c = cards(client_id=["a", "b"], name=["ООО «Ромашка»", "Ромашка ООО"], inn=["7707083893", "7707083893"],
                  phone=["89123456789", "+79123456789"], region=["Москва", "Москва"])
        p = cl.duplicate_pairs(c)
        assert p.to_dict("records") == [{"client_id": "b", "duplicate_of": "a",
                                         "reason": "same_inn;same_phone;same_name"}]

    def test_earlier_row_is_duplicate_of(self):
        c = dup_cards()
        c["_row"] = c["_row"].to_numpy()[::-1]  # k9 is now the first row
        p = cl.duplicate_pairs(c)
        assert ("k4", "k9") in set(zip(p["client_id"], p["duplicate_of"]))
        assert ("k1", "k2") in set(zip(p["client_id"], p["duplicate_of"]))

    def test_deterministic_and_order_independent(self):
        c = dup_cards()
        a = cl.duplicate_pairs(c)
        b = cl.duplicate_pairs(c.sample(frac=1.0, random_state=3))
        pd.testing.assert_frame_equal(a, b)

    def test_star_not_all_pairs(self):
        c = cards(client_id=[f"c{i}" for i in range(6)], name=[f"Фирма {i}" for i in "абвгде"],
                  phone=["8 800 333 37 98"] * 6, region=["Москва"] * 6)
        p = cl.duplicate_pairs(c)
        assert len(p) == 5 and set(p["duplicate_of"]) == {"c0"}

    def test_law_vetoes_a_name(self):
        c = cards(client_id=["a", "b", "c", "d"],
                  name=["ООО «Ромашка»", "ООО «Ромашка»", "АО «Ромашка»", "ООО Ромашка"],
                  inn=["7707083893", "500100732259", None, None], region=["Москва"] * 4)
        p = cl.duplicate_pairs(c)
        # a/b: two valid different INNs; c: another legal form; d: no INN -> linked to the earliest compatible
        assert list(zip(p["client_id"], p["duplicate_of"])) == [("d", "a")]

    def test_initials_and_typos(self):
        c = cards(client_id=["a", "b", "c", "d"], name=["ИП Иванов А.Б.", "ИП Иванов А.В.", "ООО Вегамаркет",
                                                        "ООО Мегамаркет"], region=["Тула"] * 4)
        assert cl.duplicate_pairs(c).empty  # other initials; a typo in the first letter is another name

    def test_threshold(self):
        c = cards(client_id=["a", "b"], name=["ООО Строймаркет Плюс", "ООО Строймаркет Плюсс"], region=["Тула"] * 2)
        assert len(cl.duplicate_pairs(c, fuzzy_threshold=92)) == 1
        assert cl.duplicate_pairs(c, fuzzy_threshold=99, typo_min_len=0).empty

    def test_scales_linearly(self):
        import time

        rng = np.random.default_rng(1)
        syl = np.array(["ро", "ма", "тех", "строй", "торг", "снаб", "мет", "ал", "вест", "ком", "сер", "вис"])

        def run(n):
            names = ["".join(rng.choice(syl, 4)) for _ in range(n)]
            c = cards(client_id=[f"c{i}" for i in range(n)], name=names,
                      region=rng.choice([f"r{i}" for i in range(20)], n))
            t0 = time.perf_counter()
            cl.duplicate_pairs(c)
            return time.perf_counter() - t0

        run(2000)
        small, big = run(5000), run(20000)
        assert big < 12 * small + 1.0  # 4x the cards: not 16x the time


class TestMergeMap:
    def test_components_and_master(self):
        c = cards(client_id=["a", "b", "c", "d", "e"], _row=[6, 2, 3, 4, 5])
        p = pd.DataFrame({"client_id": ["a", "d", "e"], "duplicate_of": ["b", "a", "c"],
                          "reason": ["same_inn", "same_phone", "same_name"]})
        m = cl.merge_map(c, p)
        assert m.to_dict() == {"a": "b", "b": "b", "c": "c", "d": "b", "e": "c"}
        assert list(m.index) == ["a", "b", "c", "d", "e"]

    def test_every_card_present_without_pairs(self):
        c = cards(client_id=["a", "b"])
        assert cl.merge_map(c, cl.duplicate_pairs(c)).to_dict() == {"a": "a", "b": "b"}

    def test_name_only_needs_two_buyers(self):
        c = cards(client_id=["a", "b", "c"])
        p = pd.DataFrame({"client_id": ["b", "c"], "duplicate_of": ["a", "a"], "reason": ["same_name", "same_phone"]})
        assert cl.merge_map(c, p, buyers=["a"]).to_dict() == {"a": "a", "b": "b", "c": "a"}
        assert cl.merge_map(c, p, buyers=["a", "b"]).to_dict() == {"a": "a", "b": "a", "c": "a"}

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=15))
    def test_master_is_smallest_row_of_component(self, edges):
        ids = [f"c{i}" for i in range(10)]
        rows = list(np.random.default_rng(len(edges)).permutation(10) + 2)
        c = cards(client_id=ids, _row=rows)
        e = [(a, b) for a, b in edges if a != b]
        p = pd.DataFrame({"client_id": [ids[a] for a, _ in e], "duplicate_of": [ids[b] for _, b in e],
                          "reason": ["same_inn"] * len(e)}, dtype="string")
        m = cl.merge_map(c, p)
        # reference: union-find
        parent = list(range(10))

        def find(x):
            while parent[x] != x:
                x = parent[x]
            return x

        for a, b in e:
            parent[find(a)] = find(b)
        for i in range(10):
            comp = [j for j in range(10) if find(j) == find(i)]
            assert m[ids[i]] == ids[min(comp, key=lambda j: rows[j])]


# ------------------------------------------------------------------------------ completeness
class TestCompleteness:
    def base(self):
        return cards(client_id=["a", "b", "c", "d"], name=["A", "B", "C", "D"],
                     channel=["retail", "retail", "retail", "end_user"], inn=["7707083893", None, None, None],
                     region=["Тула", "Тула", None, "Тула"], manager=["Иванов", None, "Петров", "Петров"],
                     phone=["89123456789", None, None, None], email=[None, None, "c@x.ru", None],
                     status=["active", "active", "active", "closed"],
                     outlets=[5.0, np.nan, 3.0, np.nan], machines=[np.nan, np.nan, np.nan, 10.0])

    def test_completeness(self):
        comp = cl.card_completeness(self.base(), ["outlets", "machines"])
        # retail: outlets applies (2 of 3 filled), machines not (0 of 3); end_user: machines applies
        assert comp["completeness"].round(6).tolist() == [1.0, round(3 / 7, 6), round(5 / 7, 6), round(5 / 7, 6)]
        assert comp["missing"].tolist() == ["", "inn, manager, contact, outlets", "inn, region", "inn, contact"]

    def test_issues(self):
        f = cl.incomplete_card_issues(self.base(), ["outlets", "machines"], lang="en")
        got = list(zip(f["client_id"], f["issue"]))
        # b: no manager, no contact, incomplete; c: 71 % < 75 %; d is closed -> skipped
        assert got == [("b", "missing_value"), ("b", "missing_value"), ("b", "incomplete_card"),
                       ("c", "incomplete_card")]
        assert f["row"].tolist() == [3, 3, 3, 4]

    def test_by_manager(self):
        c = self.base()
        comp = cl.card_completeness(c, ["outlets", "machines"])
        bm = cl.completeness_by_manager(c, comp)
        assert bm["manager"].tolist()[:2] == ["Петров", "Иванов"] and pd.isna(bm["manager"].iloc[2])
        assert bm["cards"].tolist() == [1, 1, 1]  # the closed card is left out
        assert bm["completeness"].round(6).tolist() == [round(5 / 7, 6), 1.0, round(3 / 7, 6)]
        assert bm["incomplete_share"].tolist() == [1.0, 0.0, 1.0]


# ------------------------------------------------------------------------------ managers, contacts, closed
class TestTwoManagers:
    def test_sales_by_another_manager(self):
        c = cards(client_id=["a", "b", "c", "d"], manager=["Иванов", "Петров", "Сидоров", None])
        s = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-02", "2022-01-01", "2024-02-01",
                                                  "2024-02-02", "2024-02-03"]),
                          "client_id": ["a", "b", "c", "a", "d", "d"],
                          "manager": ["Иванов", "сидоров ", "Петров", None, "Петров", "Сидоров"]})
        f = cl.two_managers(c, s, None, None, None, as_of="2024-04-01")
        # b: shipped by Сидоров; c: only > 12 months ago; a: same/empty; d: no card manager but two in sales
        assert f["client_id"].tolist() == ["b", "d"]

    def test_contacts_and_duplicates(self):
        c = cards(client_id=["a", "b", "c"], manager=["Иванов", "Петров", "Иванов"])
        k = pd.DataFrame({"client_id": ["a"], "date": pd.to_datetime(["2024-03-01"]), "manager": ["Петров"]})
        mm = pd.Series({"a": "a", "b": "b", "c": "b"})
        f = cl.two_managers(c, None, k, None, mm, as_of="2024-04-01", lang="en")
        assert f["client_id"].tolist() == ["a", "b", "c"]
        assert "different managers" in f["detail"].iloc[1]


class TestContacts:
    def test_too_frequent_boundary(self):
        k = pd.DataFrame({"client_id": ["a"] * 4, "_row": [2, 3, 4, 5],
                          "date": pd.to_datetime(["2024-01-01", "2024-01-31", "2024-02-29", "2024-02-29"])})
        c = cards(client_id=["a"])
        f = cl.contact_issues(k, c, "2024-04-01", min_days=30)
        # 30 days apart is fine; 29 days is too frequent; the same day twice too
        assert f.loc[f["issue"] == "too_frequent_contact", "row"].tolist() == [4, 5]

    def test_stale(self):
        k = pd.DataFrame({"client_id": ["a", "b"], "_row": [2, 3], "date": pd.to_datetime(["2023-10-04", "2023-10-03"])})
        c = cards(client_id=["a", "b", "c", "d"], status=["active", "active", "active", "closed"])
        f = cl.contact_issues(k, c, "2024-04-01", stale_days=180)
        # a: 180 days (not more), b: 181 days, c: never, d: closed
        assert f.loc[f["issue"] == "stale_contact", "client_id"].tolist() == ["b", "c"]
        f2 = cl.contact_issues(k, c, "2024-04-01", stale_days=180, active_ids=["c"])
        assert f2["client_id"].tolist() == ["c"]

    def test_no_contacts_no_findings(self):
        assert cl.contact_issues(None, cards(client_id=["a"]), "2024-04-01").empty


def test_closed_with_sales_boundary():
    c = cards(client_id=["a", "b", "c"], status=["closed", "closed", "active"])
    s = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-03-01", "2024-04-01"]),
                      "client_id": ["a", "b", "c", "b"], "amount": [10.0, 5.0, 1.0, 7.0]})
    f = cl.closed_with_sales(c, s, "2024-04-01", days=90)
    # 2024-01-02 is 90 days before: in; 2024-01-01 is 91 days: out; as_of itself is not before as_of
    assert f["client_id"].tolist() == ["a"] and f["row"].tolist() == [2]


def test_findings_schema():
    f = cl.concat_findings([cl.inn_issues(cards(client_id=["a"], inn=["1"])), cl.empty_issues()])
    assert list(f.columns) == ["table", "row", "client_id", "issue", "detail"]
    assert str(f["row"].dtype) == "Int64"
    assert f["table"].tolist() == ["clients"]


def test_isin_and_join_helpers():
    assert cl.isin(pd.Series(["a", None, "c"], dtype="string"), ["c"]).tolist() == [False, False, True]
    assert cl.isin(pd.Series(["a"], dtype="string"), []).tolist() == [False]
