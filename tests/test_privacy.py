"""PII masking: phones, e-mails, INNs in columns and inside free text."""
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kbanalysis.deliverables.privacy import mask_email, mask_frame, mask_inn, mask_phone, mask_text, pii_columns

FORMATS = [
    "+7 ({a}) {b}-{c}-{d}", "8 ({a}) {b}-{c}-{d}", "8{a}{b}{c}{d}", "+7{a}{b}{c}{d}", "7{a}{b}{c}{d}",
    "{a}{b}{c}{d}", "8-{a}-{b}-{c}-{d}", "+7 {a} {b} {c} {d}", "8 {a} {b}{c}{d}", "+7({a}){b}{c}{d}",
    "8 ({a}) {b} {c} {d}", "+7-{a}-{b}-{c}{d}", "+7 {a} {b}-{c}-{d}", "8.{a}.{b}.{c}.{d}", "8 {a} {b} {c}-{d}",
    "+ 7 ({a}) {b}-{c}-{d}", "({a}) {b}-{c}-{d}",
]


@st.composite
def ru_phones(draw):
    """A Russian number (mobile 9xx, landlines 3xx/4xx/8xx) typed in one of the usual ways."""
    first = draw(st.sampled_from("3489"))
    rest = draw(st.text("0123456789", min_size=9, max_size=9))
    n = first + rest
    fmt = draw(st.sampled_from(FORMATS))
    return fmt.format(a=n[:3], b=n[3:6], c=n[6:8], d=n[8:])


words = st.sampled_from(["звонить", "клиент", "просил", "call", "ООО «Ромашка»", "доставка", "—", "утром", "тел.",
                         "e-mail:", "заказ 15 шт", "на сумму 1 500 руб."])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(ru_phones(), st.emails(), ru_phones(), st.emails(), st.lists(words, max_size=3)),
                     min_size=1, max_size=6))
def test_no_raw_phone_or_email_survives(rows):
    # a mailbox made of asterisks ("*@a.ru", "i***@a.ru") is already anonymous: its masked form contains it
    assume(not any(re.fullmatch(r".?\*+", r[k].rpartition("@")[0]) for r in rows for k in (1, 3)))
    df = pd.DataFrame({
        "client_id": [f"C{i}" for i in range(len(rows))],
        "phone": [r[0] for r in rows],
        "email": [r[1] for r in rows],
        "note": [" ".join(r[4]) + f" {r[2]} ; {r[3]} " + " ".join(r[4]) for r in rows],
        "name": [f"ИП Иванов {r[2]}" for r in rows],
    })
    out = mask_frame(df, "ru")
    cells = " | ".join(str(v) for v in out.to_numpy().ravel())
    for r in rows:
        for raw in (r[0], r[1], r[2], r[3]):
            assert raw not in cells, (raw, cells)
    assert out.shape == df.shape and out["client_id"].tolist() == df["client_id"].tolist()


@settings(max_examples=100, deadline=None)
@given(phone=ru_phones())
def test_every_ru_format_gives_the_required_form(phone):
    digits = "".join(ch for ch in phone if ch.isdigit())[-10:]
    assert mask_phone(phone) == f"+7 ({digits[:3]}) ***-**-{digits[-2:]}"


def test_examples():
    assert mask_phone("+7 (912) 345-67-89") == "+7 (912) ***-**-89"
    assert mask_phone("89123456789") == "+7 (912) ***-**-89"
    assert mask_phone(89123456789.0) == "+7 (912) ***-**-89"
    assert mask_phone("1234") == "**34"
    assert mask_phone("+375 29 123 45 67") == "+375 *******67"
    assert mask_email("ivan.petrov@mail.ru") == "i***@mail.ru"
    assert mask_inn("7707083893") == "77******93"
    assert mask_text("ИНН: 500100732259") == "ИНН: 50********59"
    for f in (mask_phone, mask_email, mask_inn, mask_text):
        assert f(None) is None
        assert f(pd.NA) is pd.NA


def test_columns_recognised_by_header():
    df = pd.DataFrame(columns=["Телефон", "Эл. почта", "ИНН", "Phone", "E-mail", "Tax ID (INN)", "tel", "channel",
                               "client_id", "telegram"])
    kinds = pii_columns(df)
    assert kinds == {"Телефон": "phone", "Эл. почта": "email", "ИНН": "inn", "Phone": "phone", "E-mail": "email",
                     "Tax ID (INN)": "inn", "tel": "phone"}


def test_frame_keeps_keys_numbers_and_missing():
    df = pd.DataFrame({"client_id": ["79123456789", "b"], "inn": [7707083893.0, np.nan],
                       "phone": [pd.NA, "8 912 345 67 89"], "revenue_12m": [1.5, 2.0],
                       "detail": ["сумма 12 500 руб.", None]})
    out = mask_frame(df)
    assert out["client_id"].tolist() == ["79123456789", "b"]
    assert out["inn"].iloc[0] == "77******93" and pd.isna(out["inn"].iloc[1])
    assert pd.isna(out["phone"].iloc[0]) and out["phone"].iloc[1] == "+7 (912) ***-**-89"
    assert out["revenue_12m"].tolist() == [1.5, 2.0]
    assert out["detail"].iloc[0] == "сумма 12 500 руб."
    assert df["phone"].iloc[1] == "8 912 345 67 89"  # the input is not modified


def test_quality_issue_details_quoting_raw_values_are_masked():
    qi = pd.DataFrame({"table": ["clients", "clients", "sales"], "row": [2, 3, 4], "client_id": ["a", "b", "c"],
                       "issue": ["invalid_phone", "invalid_inn", "bad_number"],
                       "detail": ["номер «12-345» не похож на действующий", "ИНН «7707083894»: не сходятся",
                                  "amount «12345» is not a number"]})
    out = mask_frame(qi)
    assert "12-345" not in out["detail"].iloc[0] and "7707083894" not in out["detail"].iloc[1]
    assert out["detail"].iloc[2] == "amount «12345» is not a number"


@pytest.mark.parametrize("n", [50_000])
def test_fast_enough(n):
    import time

    rng = np.random.default_rng(0)
    nums = rng.integers(9_000_000_000, 9_999_999_999, n).astype(str)
    df = pd.DataFrame({"client_id": [f"C{i}" for i in range(n)], "phone": ["8 " + x for x in nums],
                       "email": [f"user{i}@mail.ru" for i in range(n)], "name": [f"ООО Клиент {i}" for i in range(n)]})
    t = time.perf_counter()
    out = mask_frame(df)
    assert time.perf_counter() - t < 30
    assert out["phone"].str.contains(r"\*\*\*-\*\*-", regex=True).all()


@settings(max_examples=60, deadline=None)
@given(phones=st.lists(ru_phones(), min_size=1, max_size=5), emails=st.lists(st.emails(), min_size=1, max_size=5),
       inns=st.lists(st.text("0123456789", min_size=10, max_size=12), min_size=1, max_size=5))
def test_vectorised_columns_equal_the_scalar_maskers(phones, emails, inns):
    n = max(len(phones), len(emails), len(inns))
    cyc = lambda xs: [xs[i % len(xs)] for i in range(n)]  # noqa: E731
    df = pd.DataFrame({"phone": cyc(phones), "email": cyc(emails), "inn": cyc(inns)})
    out = mask_frame(df, scan_text=False)
    assert out["phone"].tolist() == [mask_phone(x) for x in df["phone"]]
    assert out["email"].tolist() == [mask_email(x) for x in df["email"]]
    assert out["inn"].tolist() == [mask_inn(x) for x in df["inn"]]
