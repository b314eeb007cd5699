"""The real-history forecast benchmark's origins (``scripts/bench_forecast_real.py``): only month starts that
leave a whole 3-month horizon of data after them and enough history before. (The benchmark itself is run by
``make bench-forecast``, never by the tests.)"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
spec = importlib.util.spec_from_file_location("bench_forecast_real", SCRIPTS / "bench_forecast_real.py")
real = importlib.util.module_from_spec(spec)
spec.loader.exec_module(real)


def sales(first: str, last: str) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime([first, last])})


def test_origins_leave_a_whole_horizon():
    """Data 2020-01-01 .. 2021-06-30: the last complete month is June, so the last origin is April
    (April, May, June); with 6 origins asked: 2020-11 .. 2021-04."""
    o = real.origins(sales("2020-01-01", "2021-06-30"), 6)
    assert [f"{x:%Y-%m}" for x in o] == ["2020-11", "2020-12", "2021-01", "2021-02", "2021-03", "2021-04"]


def test_an_incomplete_last_month_does_not_count():
    """Data ending on 2021-06-09 (like Online Retail's 2011-12-09): June is not a whole month, the last
    origin is March."""
    assert f"{real.origins(sales('2020-01-01', '2021-06-09'), 1)[-1]:%Y-%m}" == "2021-03"


def test_origins_need_the_minimum_history():
    """Data 2021-01-01 .. 2021-12-31: the last origin is October; one needs MIN_HISTORY months before it."""
    o = real.origins(sales("2021-01-01", "2021-12-31"), 12)
    assert o[0] == pd.Timestamp("2021-01-01") + pd.DateOffset(months=real.MIN_HISTORY)
    assert o[-1] == pd.Timestamp("2021-10-01")
