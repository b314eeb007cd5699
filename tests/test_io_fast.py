"""The loader's shortcuts for large files give exactly what the rules give.

Large CSV files are read by pyarrow instead of the C parser, and in long columns the cells that need
no cleaning (plain numbers, ``YYYY-MM-DD`` / ``DD.MM.YYYY`` dates, trimmed text) skip the rules. The
thresholds are forced to zero here so that small inputs take the shortcuts, and the results are
compared with the rules' own. (``test_broken_cases`` runs every broken case both ways as well.)
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbanalysis.errors import UserError
from kbanalysis.io import case as kio
from kbanalysis.synth.case import generate_case, write_case

SETTINGS = dict(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])

NUMBERS = ["1 234,56", "1,234.5", "12,5", "-7", "", "н/д", "1\u00a0000 ₽", "(30)", "1e3", "+5", "5.", ".5",
           "1,234", "1,234,567", "12,3,4", "nan", "inf", " 7 ", "-", "1.234.567", "+1,5", "-0,25", "1.5e3",
           "0012", "99999999999999999999", "−5", "10%"]
DATES = ["2024-02-05", "05.02.2024", "45327", "31.02.2024", "", "2024-2-5", "5.2.2024", "0024-02-05",
         "2262-05-05", "1699-12-31", "1990-01-01", "2024-02-05 10:00", "05.02.24", "2024/02/05", " 2024-02-05",
         "29.02.2023", "29.02.2024", "2024-13-01", "00.01.2024", "x"]
TEXTS = ["  ООО  «Ива» ", "", "17850.0", "17850", "ИП Ива", "a\tb", "a\u00a0b", " x", "x ", "a  b", "1.00", "1.5",
         "\u2003", "ok", "0.0", "12.000"]


def both_ways(monkeypatch, fn, s: pd.Series, **kw):
    monkeypatch.setattr(kio, "FAST_MIN_CELLS", 10**12)
    rules = fn(s, **kw)
    monkeypatch.setattr(kio, "FAST_MIN_CELLS", 1)
    fast = fn(s, **kw)
    monkeypatch.undo()
    return rules, fast


def outcome(fn, s, **kw):
    """What ``fn(s, **kw)`` gives, or the message of the UserError it raises."""
    try:
        return fn(s, **kw)
    except UserError as e:
        return str(e)


def assert_same(a, b):
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            pd.testing.assert_series_equal(x, y, check_exact=True)
    else:
        pd.testing.assert_series_equal(a, b, check_exact=True)


@pytest.mark.parametrize("fn,values,kw", [
    (kio.parse_numbers, NUMBERS, {}), (kio.parse_dates, DATES, {}),
    (kio.parse_text, TEXTS, {}), (kio.parse_text, TEXTS, {"is_id": True})])
def test_shortcuts_equal_the_rules_on_awkward_cells(monkeypatch, fn, values, kw):
    s = pd.Series(np.random.default_rng(0).choice(values, 5000)).astype("str")
    rules, fast = both_ways(monkeypatch, fn, s, **kw)
    assert_same(rules, fast)


def test_shortcuts_take_the_plain_cells_and_leave_the_rest(monkeypatch):
    monkeypatch.setattr(kio, "FAST_MIN_CELLS", 1)
    v, done = kio._plain_numbers(pd.Series(["12,5", "1 234,5", "-3"] * 3).astype("str"))
    assert done.tolist() == [True, False, True] * 3 and v[0] == 12.5 and v[2] == -3
    v, done = kio._plain_numbers(pd.Series(["12.5", "-3", "1e3"] * 3).astype("str"))  # one cast for all
    assert done.all() and v.tolist()[:3] == [12.5, -3.0, 1000.0]
    v, done = kio._plain_numbers(pd.Series(["12.5", "nan", "inf"] * 3).astype("str"))  # arrow's nan is no number
    assert done.tolist() == [True, False, False] * 3
    values, index = kio._distinct(pd.Series(["05.01.2024", None, "05.01.2024", "x"] * 3).astype("str"))
    assert values.tolist()[:2] == ["05.01.2024", "x"] and pd.isna(values.iloc[2])
    assert index.tolist() == [0, 2, 0, 1] * 3
    assert kio._distinct(pd.Series([str(i) for i in range(10)]).astype("str")) is None  # nothing repeats


@settings(**SETTINGS)
@given(st.lists(st.one_of(st.sampled_from(NUMBERS + DATES + TEXTS),
                          st.text(alphabet="0123456789.,- \u00a0+e()₽руб%/:", max_size=14)), min_size=1, max_size=40))
def test_shortcuts_equal_the_rules_on_any_cells(cells):
    s = pd.Series(cells).astype("str")
    old = kio.FAST_MIN_CELLS
    try:
        for fn, kw in ((kio.parse_numbers, {}), (kio.parse_dates, {}), (kio.parse_text, {"is_id": True}),
                       (kio.parse_text, {})):
            kio.FAST_MIN_CELLS = 10**12
            rules = outcome(fn, s, **kw)
            kio.FAST_MIN_CELLS = 1
            fast = outcome(fn, s, **kw)
            if isinstance(rules, str) or isinstance(fast, str):  # a date column that does not tell DD/MM from MM/DD
                assert rules == fast
            else:
                assert_same(rules, fast)
    finally:
        kio.FAST_MIN_CELLS = old


@pytest.mark.parametrize("messy", [True, False])
def test_a_case_loads_the_same_through_the_fast_path(tmp_path, monkeypatch, messy):
    """A whole case (cp1251 with decimal commas, or plain UTF-8): identical tables, findings and counts."""
    case = write_case(generate_case(n_clients=150, seed=3), tmp_path / "case", messy=messy)
    monkeypatch.setattr(kio, "FAST_CSV_BYTES", 1 << 40)
    monkeypatch.setattr(kio, "FAST_MIN_CELLS", 1 << 40)
    slow = kio.load_case(case)
    monkeypatch.setattr(kio, "FAST_CSV_BYTES", 0)
    monkeypatch.setattr(kio, "FAST_MIN_CELLS", 1)
    used = []
    real = kio._read_csv_fast
    monkeypatch.setattr(kio, "_read_csv_fast", lambda *a: used.append(real(*a) is not None) or real(*a))
    fast = kio.load_case(case)
    assert used and all(used), "every CSV of the case should be read by pyarrow"
    assert slow.counts == fast.counts
    for name in slow.tables:
        pd.testing.assert_frame_equal(slow.tables[name], fast.tables[name], check_exact=True)
    pd.testing.assert_frame_equal(slow.issues, fast.issues, check_exact=True)


def test_lines_of_another_width_go_to_the_c_parser(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a;b\n1;2\n3;4;5\n", encoding="utf-8")
    assert kio._read_csv_fast(p, "utf-8", ";", 0, ["a", "b"]) is None
    p.write_bytes("a;b\n1;\u0436\n".encode("cp1251"))
    assert kio._read_csv_fast(p, "utf-8", ";", 0, ["a", "b"]) is None  # not UTF-8
    assert kio._read_csv_fast(p, "cp1251", ";", 0, ["a", "b"])["b"].tolist() == ["ж"]
