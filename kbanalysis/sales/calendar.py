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
