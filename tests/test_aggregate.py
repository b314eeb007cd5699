"""The array engine of :mod:`kbanalysis.sales.engine` gives the frames of the pandas reference.

Amounts and costs are multiples of 1/4 here, so every sum is exact whatever the order of
addition and the frames must be *equal*: same rows, order, columns, dtypes and values.
With arbitrary floats only the last bits of sums may differ (pandas adds with Kahan
compensation): checked to 1e-12 relative.
"""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbanalysis.sales import engine as A

FUNCS = ("client_summary", "client_months", "client_groups", "group_months", "client_days")
IDS = ["a", "b", "B", "00-01", "00-1", "ё", "Я", "z z", "10", "9"]
GROUPS = ["x", "y", "Ω", "tools"]
START = pd.Timestamp("2022-11-15")


#: How a case carries cost: no column, some lines without it, a column of NaN, every line.
COST_PATTERNS = ("none", "some", "all_nan", "full")


def with_cost(df: pd.DataFrame, pattern: str, rng) -> None:
    """Add a ``cost`` column (half the amount, rounded) to ``df`` as ``pattern`` of :data:`COST_PATTERNS` says."""
    if pattern == "none":
        return
    c = np.round(df["amount"].to_numpy() * 0.5)
    if pattern == "some":
        c[rng.random(len(df)) < 0.3] = np.nan
    elif pattern == "all_nan":
        c[:] = np.nan
    df["cost"] = c


@st.composite
def sales_frames(draw):
    n = draw(st.integers(1, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=len(IDS), unique=True))
    groups = draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=len(GROUPS), unique=True))
    days = rng.integers(0, draw(st.sampled_from([3, 40, 400, 900])), n)
    df = pd.DataFrame({
        "date": (START + pd.to_timedelta(days, unit="D")).astype("datetime64[ns]"),
        "client_id": pd.array(rng.choice(ids, n), dtype=draw(st.sampled_from(["string", "str"]))),
        "product_group": pd.array(rng.choice(groups, n), dtype="string"),
        "amount": rng.integers(-40, 400, n) / 4.0,
    })
    if draw(st.booleans()):
        df.loc[rng.random(n) < 0.1, "product_group"] = pd.NA
    with_cost(df, draw(st.sampled_from(COST_PATTERNS)), rng)
    if draw(st.booleans()):  # unsorted lines, as exports sometimes are
        df = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    as_of = START + pd.Timedelta(days=int(draw(st.integers(1, 950))))
    return df, as_of


def as_categories(df: pd.DataFrame, rng) -> pd.DataFrame:
    """Ids and groups as categoricals, as Parquet dictionaries are read: categories in first-seen
    order, with a few that no line uses."""
    out = df.copy()
    for col, extra in (("client_id", ["zz-unused", "0-unused"]), ("product_group", ["unused"])):
        seen = list(pd.unique(out[col].dropna()))
        cats = seen + extra
        rng.shuffle(cats)
        out[col] = pd.Categorical(out[col], categories=pd.Index(cats, dtype=out[col].dtype))
    return out


@settings(max_examples=150, deadline=None)
@given(sales_frames(), st.sampled_from(FUNCS), st.booleans(), st.booleans())
def test_fast_engine_equals_pandas_reference(case, func, categorical, small_grid):
    """Text or categorical ids, the orders' mark grid or its fallback: the pandas reference's frame."""
    df, as_of = case
    ref = getattr(A, func)(df, as_of, engine="pandas")
    src = as_categories(df, np.random.default_rng(len(df))) if categorical else df
    old = A._ORDER_GRID
    A._ORDER_GRID = 0 if small_grid else old
    try:
        got = getattr(A, func)(src, as_of, engine="fast")
        cat_ref = getattr(A, func)(src, as_of, engine="pandas")
    finally:
        A._cache.clear()
        A._ORDER_GRID = old
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert got.equals(ref)
    pd.testing.assert_frame_equal(cat_ref, ref, check_exact=True)


@settings(max_examples=100, deadline=None)
@given(sales_frames(), st.sampled_from([1, 3, 6, 12, 13, 24]), st.sampled_from(["drawn", "month_start", "month_end"]),
       st.booleans())
def test_summary_windows_equal_reference(case, months, align, categorical):
    """The window sums (whole months from the client-month cells, the rest from lines) for every
    window length and an analysis date on, just after or at the end of a month: the reference's."""
    df, as_of = case
    if align == "month_start":
        as_of = as_of.to_period("M").to_timestamp()
    elif align == "month_end":
        as_of = as_of.to_period("M").to_timestamp(how="end").normalize()
    ref = A.client_summary(df, as_of, months, engine="pandas")
    src = as_categories(df, np.random.default_rng(len(df))) if categorical else df
    try:
        got = A.client_summary(src, as_of, months, engine="fast")
    finally:
        A._cache.clear()
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


@pytest.mark.parametrize("extra, covered", [
    ({"date": pd.NaT}, True),                                                   # no date: dropped
    ({"date": pd.Timestamp("2024-03-01 10:30")}, True),                        # after as_of, with a time
    ({"client_id": None, "date": pd.Timestamp("2024-01-10 10:30")}, True),     # no client, with a time
    ({"date": pd.Timestamp("2024-01-10 10:30")}, False),                       # a kept line with a time
])
def test_lines_left_out_before_encoding(extra, covered):
    """Lines without a date, after the analysis date or without a client do not count, whatever
    their time of day; a counted line with a time of day sends the frame to pandas. Same frames."""
    base = pd.DataFrame({
        "date": pd.to_datetime(["2023-12-01", "2024-01-05", "2024-01-20", "2023-11-30"]).astype("datetime64[ns]"),
        "client_id": pd.array(["a", "a", "b", "b"], dtype="str"), "product_group": pd.array(["x"] * 4, dtype="str"),
        "amount": [5.0, 3.0, 2.0, -1.0], "cost": [2.0, np.nan, 1.0, -0.5]})
    row = {"date": pd.Timestamp("2024-01-15"), "client_id": "b", "product_group": "x", "amount": 7.0, "cost": 1.0}
    row.update(extra)
    df = pd.concat([base, pd.DataFrame([row]).astype({"date": "datetime64[ns]"})], ignore_index=True)
    df["client_id"] = df["client_id"].astype("str")
    as_of = "2024-02-01"
    try:
        assert (A._fast_source(df, as_of, "fast", groups=True) is not None) == covered
        for func in ("client_summary", "client_months"):
            pd.testing.assert_frame_equal(getattr(A, func)(df, as_of, engine="fast"),
                                          getattr(A, func)(df, as_of, engine="pandas"), check_exact=True)
    finally:
        A._cache.clear()


def test_orders_mark_grid_sums_mixed_days():
    """A day with a return is an order only when its total is positive; a day with only
    positive lines always is (hand-checked)."""
    df = pd.DataFrame({
        "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03",
                                "2024-01-04", "2024-01-04"]).astype("datetime64[ns]"),
        "client_id": pd.array(["a", "a", "a", "a", "a", "b", "b"], dtype="str"),
        "product_group": pd.array(["x"] * 7, dtype="str"),
        "amount": [5.0, -5.0, 3.0, -1.0, 0.0, 2.0, 2.0]})
    got = A.client_summary(df, "2024-02-01", engine="fast").set_index("client_id")
    # a: 01-01 sums to 0 (no order), 01-02 to 2 (order), 01-03 zero (no order); b: one order on 01-04
    assert got.loc["a", "orders"] == 1 and got.loc["a", "first_date"] == pd.Timestamp("2024-01-02")
    assert got.loc["b", "orders"] == 1 and got.loc["b", "last_date"] == pd.Timestamp("2024-01-04")


def float_sales(n: int, n_clients: int, dtype: str, groups=GROUPS, seed: int = 5) -> pd.DataFrame:
    """``n`` sales lines of arbitrary float amounts (5 % returns) and costs over 700 days from
    :data:`START`, ids and ``groups`` of text ``dtype``: sums are exact only to rounding."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "date": (START + pd.to_timedelta(rng.integers(0, 700, n), unit="D")).astype("datetime64[ns]"),
        "client_id": pd.array([f"c{i:04d}" for i in rng.integers(0, n_clients, n)], dtype=dtype),
        "product_group": pd.array(rng.choice(groups, n), dtype=dtype),
        "amount": rng.lognormal(7, 2, n) * np.where(rng.random(n) < 0.05, -1, 1),
        "cost": rng.lognormal(6, 2, n),
    })


def test_float_sums_agree_to_rounding():
    df = float_sales(50_000, 3000, "string")
    as_of = START + pd.Timedelta(days=650)
    for func in FUNCS:
        ref = getattr(A, func)(df, as_of, engine="pandas")
        got = getattr(A, func)(df, as_of, engine="fast")
        pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-12)


def test_auto_dispatch_and_unsupported_frames_fall_back():
    df = pd.DataFrame({"date": pd.to_datetime(["2024-01-05 10:30", "2024-01-06 00:00"]).astype("datetime64[ns]"),
                       "client_id": ["a", "b"],
                       "product_group": ["x", "x"], "amount": [1.0, 2.0]})
    # a time of day: the array engine does not cover it, pandas answers
    pd.testing.assert_frame_equal(A.client_days(df, "2024-02-01", engine="fast"),
                                  A.client_days(df, "2024-02-01", engine="pandas"))
    cat = df.assign(client_id=df["client_id"].astype("category"))  # categories of object dtype
    pd.testing.assert_frame_equal(A.client_months(cat, "2024-02-01", engine="fast"),
                                  A.client_months(cat, "2024-02-01", engine="pandas"))
    assert not isinstance(A.client_months(cat, "2024-02-01")["client_id"].dtype, pd.CategoricalDtype)
    with pytest.raises(ValueError):
        A.client_summary(df, "2024-02-01", engine="duck")


@pytest.mark.parametrize("engine", ["pandas", "fast"])
def test_monthly_revenue_over_the_months_the_sales_cover(engine):
    """An export that starts 3 months before ``as_of``: the 12-month sums hold 3 months, their monthly
    average divides by 3 (by hand: 300 / 3 = 100 a month), not by 12; a full year divides by 12."""
    short = pd.DataFrame({"client_id": ["a", "a", "b"], "product_group": ["x", "y", "x"],
                          "date": pd.to_datetime(["2024-01-01", "2024-02-10", "2024-03-31"]),
                          "amount": [100.0, 200.0, 60.0], "cost": [np.nan] * 3})
    s = A.client_summary(short, "2024-04-01", engine=engine).set_index("client_id")
    assert s["revenue_12m"].tolist() == [300.0, 60.0]
    assert s["revenue_month"].tolist() == [100.0, 20.0]
    g = A.client_groups(short, "2024-04-01", engine=engine)
    assert g["revenue_month"].tolist() == [100.0 / 3, 200.0 / 3, 20.0]
    long = pd.concat([short, short.assign(date=pd.Timestamp("2022-06-01"), amount=1.0)], ignore_index=True)
    s = A.client_summary(long, "2024-04-01", engine=engine).set_index("client_id")
    assert s["revenue_month"].tolist() == [25.0, 5.0]  # the same sums over 12: the export covers the year
    assert A.revenue_per_month(s.drop(columns="revenue_month")).tolist() == [25.0, 5.0]
