"""The out-of-core engine (:class:`kbanalysis.sales.ondisk.SalesFile`, DuckDB on the run's Parquet file)
gives the frames of the pandas reference of :mod:`kbanalysis.sales.engine` on the same lines.

Amounts and costs are multiples of 1/4 in the property test, so every sum is exact whatever the
order of addition and the frames must be *equal* (rows, order, columns, dtypes, values). With
arbitrary floats only the last bits of sums differ: checked to 1e-9 relative.
"""
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_aggregate import COST_PATTERNS, float_sales, with_cost

from kbanalysis.sales import engine as A
from kbanalysis.sales.lines import with_masters as _remap
from kbanalysis.io.runfolder import RunFolder
from kbanalysis.sales.ondisk import SalesFile
from kbanalysis.sales.calendar import window_months

FUNCS = ("client_summary", "client_months", "client_groups", "group_months", "client_days")
IDS = ["a", "b", "B", "00-01", "00-1", "ё", "Я", "я", "Ёлка", "z z", "10", "9", ""]
GROUPS = ["x", "y", "Ω", "tools", "Инструмент"]
START = pd.Timestamp("2022-11-15")
LABELS = ("client_id", "product_group")


def reference(func: str, df: pd.DataFrame, as_of, months: int = 12) -> pd.DataFrame:
    """The pandas reference engine's frame (text ids, as the public functions hand it)."""
    f = getattr(A, f"_pd_{func}")
    df = A.as_text_labels(df)
    return f(df, as_of, months) if func in ("client_groups", "client_summary") else f(df, as_of)


def answer(sf: SalesFile, func: str, as_of, months: int = 12) -> pd.DataFrame:
    f = getattr(sf, func)
    return f(as_of, months) if func in ("client_groups", "client_summary") else f(as_of)


@st.composite
def sales_frames(draw):
    """Lines as the loader writes them: text ids (Cyrillic, case, digits, odd text), groups with
    some missing, returns and zeros, cost absent / partly NaN / all NaN / full, unsorted lines;
    sometimes a time of day, missing dates or missing amounts."""
    n = draw(st.integers(1, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    odd = draw(st.lists(st.text(max_size=4), max_size=3))  # any text: the sort order is code point order
    ids = draw(st.lists(st.sampled_from(IDS + odd) if odd else st.sampled_from(IDS), min_size=1,
                        max_size=len(IDS), unique=True))
    groups = draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=len(GROUPS), unique=True))
    days = rng.integers(0, draw(st.sampled_from([3, 40, 400, 900])), n)
    date = START + pd.to_timedelta(days, unit="D")
    if draw(st.integers(0, 5)) == 0:  # a time of day: days are the distinct timestamps, gaps in whole days
        date = date + pd.to_timedelta(rng.integers(0, 4, n) * 6, unit="h")
    df = pd.DataFrame({
        "date": pd.Series(date).astype("datetime64[ns]"),
        "client_id": pd.array(rng.choice(np.array(ids, dtype=object), n),
                              dtype=draw(st.sampled_from(["string", "str"]))),
        "product_group": pd.array(rng.choice(groups, n), dtype=draw(st.sampled_from(["string", "str"]))),
        "amount": rng.integers(-40, 400, n) / 4.0,
    })
    if draw(st.booleans()):
        df.loc[rng.random(n) < 0.1, "product_group"] = pd.NA
    if draw(st.integers(0, 5)) == 0:
        df.loc[rng.random(n) < 0.1, "amount"] = np.nan
    if draw(st.integers(0, 5)) == 0:
        df.loc[rng.random(n) < 0.1, "date"] = pd.NaT
    with_cost(df, draw(st.sampled_from(COST_PATTERNS)), rng)
    df["doc_id"] = pd.array([None] * n, dtype="str")
    df["_row"] = np.arange(2, n + 2, dtype=np.int64)
    if draw(st.booleans()):  # unsorted lines, as exports sometimes are
        df = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    as_of = START + pd.Timedelta(days=int(draw(st.integers(1, 950))))
    # duplicate cards: some ids move to another id of the case or to a master without lines of its own
    targets = ids + ["master-Ж"]
    moved = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(targets)), max_size=4,
                          unique_by=lambda t: t[0]))
    to_master = pd.Series([m for _, m in moved], index=[c for c, _ in moved], dtype="string")
    months = draw(st.sampled_from([12, 12, 3, 7]))
    return df, as_of, to_master, months


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sales_frames())
def test_salesfile_equals_pandas_reference(case):
    """Each aggregation, on the file's lines and on them moved to master cards, is the reference's frame."""
    df, as_of, to_master, months = case
    with tempfile.TemporaryDirectory() as tmp:
        rf = RunFolder(tmp)
        rf.write_work("sales", df)
        plain = pd.read_parquet(rf.work / "sales.parquet")
        staged = _remap(rf.read_work("sales", labels=LABELS), to_master)  # as the stages read and remap
        with SalesFile(rf.work / "sales.parquet", threads=1) as sf, sf.with_masters(to_master) as sm:
            for func in FUNCS:
                pd.testing.assert_frame_equal(answer(sf, func, as_of, months), reference(func, plain, as_of, months),
                                              check_exact=True, obj=func)
                pd.testing.assert_frame_equal(answer(sm, func, as_of, months), reference(func, staged, as_of, months),
                                              check_exact=True, obj=f"{func} with masters")


def test_float_sums_agree_to_rounding(tmp_path):
    df = float_sales(20_000, 1500, "str", GROUPS)
    RunFolder(tmp_path).write_work("sales", df)
    as_of = START + pd.Timedelta(days=650)
    sf = SalesFile(tmp_path / "work" / "sales.parquet")
    for func in FUNCS:
        pd.testing.assert_frame_equal(answer(sf, func, as_of), reference(func, df, as_of),
                                      check_exact=False, rtol=1e-9, obj=func)


@pytest.fixture
def tiny(tmp_path) -> SalesFile:
    df = pd.DataFrame({
        "date": pd.to_datetime(["2023-03-01", "2024-01-10", "2024-01-10", "2024-02-01", "2024-02-01", "2024-03-05",
                                "2024-03-20", "2024-02-15", "2024-05-01"]),
        "client_id": ["Я", "Я", "Я", "Я", "Я", "Я", "Я", "b", "Я"],
        "product_group": ["x", "x", "y", "x", None, "z", "x", "x", "x"],
        "amount": [7.0, 100.0, 20.0, 5.0, -5.0, 40.0, 10.0, -8.0, 99.0],
        "cost": [np.nan, 60.0, np.nan, 3.0, -3.0, 30.0, 5.0, -6.0, 1.0],
    })
    RunFolder(tmp_path).write_work("sales", df)
    return SalesFile(tmp_path / "work" / "sales.parquet", memory_limit="200MB", threads=1)


def test_hand_checked_summary(tiny):
    """Я: orders on 2023-03-01, 2024-01-10, 2024-03-05, 2024-03-20 (2024-02-01 nets to zero, the May line is
    after as_of); gaps 315, 55, 15 days -> median 55. Window [2023-04-01, 2024-04-01): 170 revenue,
    margin 170 - 95 = 75 (missing cost as 0), months Jan, Feb, Mar, groups x, y, z; last 6 months
    from 2023-10-01, last 3 from 2024-01-01. b: a return only, a row without orders."""
    got = tiny.client_summary("2024-04-01")
    assert got["client_id"].tolist() == ["b", "Я"]  # code point order: Latin before Cyrillic
    ya = got.set_index("client_id").loc["Я"]
    assert ya["first_date"] == pd.Timestamp("2023-03-01") and ya["last_date"] == pd.Timestamp("2024-03-20")
    assert ya["orders"] == 4 and ya["median_gap_days"] == 55.0
    assert ya["revenue_total"] == 177.0 and ya["revenue_12m"] == 170.0 and ya["margin_12m"] == 75.0
    assert ya["active_months_12m"] == 3 and ya["groups_12m"] == 3
    assert ya["revenue_prev_6m"] == 0.0 and ya["revenue_last_6m"] == 170.0 and ya["revenue_last_3m"] == 170.0
    b = got.set_index("client_id").loc["b"]
    assert b["orders"] == 0 and pd.isna(b["first_date"]) and pd.isna(b["last_date"]) and pd.isna(b["median_gap_days"])
    assert b["revenue_12m"] == -8.0 and b["margin_12m"] == -2.0 and b["groups_12m"] == 1
    months = tiny.client_months("2024-04-01")
    feb = months.loc[(months["client_id"] == "Я") & (months["month"] == pd.Timestamp("2024-02-01"))].iloc[0]
    assert feb["revenue"] == 0.0 and feb["margin"] == 0.0 and feb["lines"] == 2
    assert tiny.group_months("2024-04-01")["product_group"].unique().tolist() == ["x", "y", "z"]
    assert len(tiny) == 9 and tiny.has_cost()
    assert tiny.date_range() == (pd.Timestamp("2023-03-01"), pd.Timestamp("2024-05-01"))


def test_empty_before_as_of_gives_the_reference_empty_frames(tiny):
    df = pd.read_parquet(tiny.path)
    for func in FUNCS:
        got = answer(tiny, func, "2020-01-01")
        assert len(got) == 0
        pd.testing.assert_frame_equal(got, reference(func, df, "2020-01-01"), obj=func)


def test_settings_are_applied(tmp_path, tiny):
    spill = tmp_path / "spill" / "here"
    sf = SalesFile(tiny.path, memory_limit="100MB", temp_dir=spill, threads=1)
    got = sf.query("SELECT current_setting('memory_limit') AS m, current_setting('temp_directory') AS t, "
                   "current_setting('threads') AS n, current_setting('preserve_insertion_order') AS p").iloc[0]
    assert got["m"].replace(" ", "") in ("95.3MiB", "100.0MB", "100MB"), got["m"]
    assert Path(got["t"]) == spill and spill.is_dir()
    assert int(got["n"]) == 1 and str(got["p"]).lower() == "false"
    default = SalesFile(tiny.path)
    default.query("SELECT 1")
    assert (tiny.path.parent / "duckdb_tmp").is_dir()
    assert default.query("SELECT current_setting('temp_directory') AS t")["t"].iloc[0] == str(tiny.path.parent /
                                                                                              "duckdb_tmp")


def test_aggregate_dispatches(tiny):
    # the dispatcher adds the monthly revenue: the window's sum over the months the sales cover
    months = window_months(tiny.date_range()[0], "2024-04-01")
    summary = A.client_summary(tiny, "2024-04-01")
    assert summary.drop(columns="revenue_month").equals(tiny.client_summary("2024-04-01"))
    assert np.allclose(summary["revenue_month"], summary["revenue_12m"] / months)
    groups = A.client_groups(tiny, "2024-04-01", 3)
    assert groups.drop(columns="revenue_month").equals(tiny.client_groups("2024-04-01", 3))
    assert np.allclose(groups["revenue_month"], groups["revenue"] / window_months(tiny.date_range()[0], "2024-04-01", 3))
    for func in ("client_days", "client_months", "group_months"):
        assert getattr(A, func)(tiny, "2024-04-01").equals(getattr(tiny, func)("2024-04-01"))
    assert A.has_cost(tiny)
    early = A.before(tiny, "2024-01-11")
    assert isinstance(early, SalesFile) and len(early) == 3 and early.has_cost()
    assert early.date_range()[1] == pd.Timestamp("2024-01-10")
    assert len(A.before(early, "2025-01-01")) == 3  # bounds only narrow


def test_masters_compose_and_validate(tiny):
    m1 = tiny.with_masters(pd.Series({"b": "c", "Я": "Ю"}))
    m2 = m1.with_masters(pd.Series({"c": "Я", "q": "b"}))  # b -> c -> Я; Я -> Ю stays
    assert m1.client_summary("2024-04-01")["client_id"].tolist() == ["c", "Ю"]
    assert m2.client_summary("2024-04-01")["client_id"].tolist() == ["Ю", "Я"]
    assert m2._masters.to_dict() == {"b": "Я", "Я": "Ю", "c": "Я", "q": "b"}
    assert tiny.client_summary("2024-04-01")["client_id"].tolist() == ["b", "Я"]  # the first handle is untouched
    with pytest.raises(ValueError, match="more than once"):
        tiny.with_masters(pd.Series(["x", "y"], index=["b", "b"]))
    # _remap of a frame with text ids gives them as "string": the same rows and values
    to_master = pd.Series({"b": "Я"})
    text = _remap(pd.read_parquet(tiny.path), to_master)
    got = tiny.with_masters(to_master).client_summary("2024-04-01")
    ref = reference("client_summary", text, "2024-04-01")
    pd.testing.assert_frame_equal(got, ref.assign(client_id=ref["client_id"].astype(got["client_id"].dtype)))


def test_handle_pickles_without_its_connection(tiny):
    import pickle

    tiny.query("SELECT 1")
    back = pickle.loads(pickle.dumps(tiny.before("2024-02-01")))
    assert len(back) == 3 and back.memory_limit == "200MB"


def test_without_cost_column_and_missing_file(tmp_path):
    df = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-02-07"]), "client_id": ["a", "a"],
                       "product_group": ["x", "x"], "amount": [10.0, 5.0]})
    RunFolder(tmp_path).write_work("sales", df)
    sf = SalesFile(tmp_path / "work" / "sales.parquet")
    assert not sf.has_cost()
    pd.testing.assert_frame_equal(sf.client_summary("2024-03-01"), reference("client_summary", df, "2024-03-01"))
    with pytest.raises(FileNotFoundError):
        SalesFile(tmp_path / "nope.parquet")
