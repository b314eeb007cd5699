"""Dates of the analysis: the ``as_of`` day and months counted back from it."""
from __future__ import annotations

import pandas as pd


def _as_ts(as_of) -> pd.Timestamp:
    """The analysis day of ``as_of`` (a date, text or Timestamp) at midnight.

    >>> _as_ts("2024-03-05 17:00")
    Timestamp('2024-03-05 00:00:00')
    """
    return pd.Timestamp(as_of).normalize()


def months_back(as_of, n: int) -> pd.Timestamp:
    """The first day of the window of ``n`` whole months before ``as_of``'s month... or n*30.44 days.

    The 12-month window is ``[as_of - 12 months, as_of)``.

    >>> months_back("2024-04-01", 12)
    Timestamp('2023-04-01 00:00:00')
    """
    return _as_ts(as_of) - pd.DateOffset(months=n)



def window_months(first_sale, as_of, months: int = 12) -> float:
    """How many months of the ``months``-month window before ``as_of`` the sales cover.

    ``months`` when the first sale is on or before the window's start; else the calendar months from
    the first sale to ``as_of`` (whole months, then the rest of the days as a share of the next month;
    at least 1). A case whose export starts 9 months before ``as_of`` has 9 months of sales in its
    "12-month" sums: their monthly average is the sum over 9, not over 12. No first sale (NaT): ``months``.

    >>> window_months("2020-01-15", "2024-04-01")
    12.0
    >>> window_months("2010-12-01", "2011-09-01"), window_months("2024-01-16", "2024-04-01")
    (9.0, 2.52)
    >>> window_months("2024-03-25", "2024-04-01")
    1.0
    """
    if first_sale is None or pd.isna(first_sale):
        return float(months)
    first, end = _as_ts(first_sale), _as_ts(as_of)
    if first <= months_back(end, months):
        return float(months)
    whole = (end.year - first.year) * 12 + end.month - first.month
    if first + pd.DateOffset(months=whole) > end:
        whole -= 1
    start, nxt = first + pd.DateOffset(months=whole), first + pd.DateOffset(months=whole + 1)
    return float(max(1.0, whole + round((end - start).days / (nxt - start).days, 2)))
