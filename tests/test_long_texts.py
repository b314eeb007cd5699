"""Long texts and groups the 12-month tables leave out (#21 item 6).

A 10,000-character product group is kept whole in every output. What made such a group look "missing from
forecast.csv and wallet_groups.csv" was not its length: it sat on the first ten lines of sales.csv, three
years before the analysis date, and both tables cover only groups sold in the 12 months before it. Such a
group is now named, with its revenue and its last month, in one sentence of 02-turnover and of 04-forecast.
"""
from __future__ import annotations

import pandas as pd
import pytest

#: a 10,000-character group sold every month, and another one sold only on the oldest lines
LONG = "Группа " + "ж" * 9_993
OLD = "Старая группа " + "ё" * 9_986
N_OLD = 10
#: the whole workbook runs in-process (about 40 s)
slow = pytest.mark.slow
#: on one xdist worker, so the module's run is made once
pytestmark = pytest.mark.xdist_group("long_texts")


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    from conftest import run_notebook_cells
    from kbanalysis.synth.case import generate_case, write_case

    root = tmp_path_factory.mktemp("long_texts")
    c = generate_case(n_clients=60, seed=4, months=24, horizon=2)
    for name, t in c.tables.items():
        if "product_group" in t:
            t["product_group"] = t["product_group"].astype("string").replace("paint", LONG)
    s = c.tables["sales"].sort_values(["date", "_row"], kind="mergesort")
    oldest = s.index[:N_OLD]
    c.tables["sales"].loc[oldest, "product_group"] = OLD
    old_lines = c.tables["sales"].loc[oldest]
    case = write_case(c, root / "case", messy=False)
    where = {"case_dir": str(case), "run_dir": str(root / "run")}
    ns = {name: run_notebook_cells(name, **where)
          for name in ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary")}
    return root / "run", ns, old_lines


@slow
def test_the_groups_are_10000_characters_and_the_old_one_is_outside_the_windows(long_run):
    _, ns, old = long_run
    assert len(LONG) == len(OLD) == 10_000
    as_of = ns["02-turnover"]["wb"].as_of
    assert as_of == pd.Timestamp("2026-10-01")
    assert (old["date"] < as_of - pd.DateOffset(months=12)).all()  # three years back, out of both windows


@slow
def test_a_10000_character_group_is_whole_in_forecast_and_wallet_groups(long_run):
    from kbanalysis.deliverables.report import read_output

    run, ns, _ = long_run
    for name in ("forecast.csv", "wallet_groups.csv"):
        groups = read_output(run, name)["product_group"]
        assert LONG in set(groups), name
        assert groups.str.len().max() == 10_000, name  # not cut
    raw = (run / "forecast.csv").read_text("utf-8")
    assert raw.count(LONG) == ns["04-forecast"]["horizon"]  # every forecast month, written whole


@slow
def test_a_group_left_out_of_both_tables_is_named_with_its_revenue(long_run):
    from kbanalysis.deliverables.report import read_output
    from kbanalysis.forecast import note_text

    run, ns, old = long_run
    for name in ("forecast.csv", "wallet_groups.csv"):
        assert OLD not in set(read_output(run, name)["product_group"]), name
    amount = float(old["amount"].sum())
    shown = OLD[:59] + "…"  # the prose shortens a name to 60 characters; the name itself is kept whole
    want = {"n": 1, "groups": [shown], "amount": pytest.approx(amount), "last": "2024-10"}
    assert ns["02-turnover"]["left"] == want
    left = [n for n in ns["04-forecast"]["notes"] if n["code"] == "groups_not_forecast"]
    assert left == [{"code": "groups_not_forecast", **want}]
    assert shown in note_text(left[0], "en") and "forecast.csv" in note_text(left[0], "en")


@slow
def test_every_chart_keeps_its_size(long_run):
    """A 10,000-character group once made the stock chart of 04-forecast 140,788 pixels wide: chart labels
    are cut (the data keep the whole name)."""
    from PIL import Image

    run, _, _ = long_run
    sizes = {p.name: Image.open(p).size for p in (run / "charts").glob("*.png")}
    assert "stock_cover.png" in sizes
    assert all(w <= 2_000 and h <= 2_000 for w, h in sizes.values()), sizes


def test_groups_left_out_lists_the_largest_five_and_says_there_are_more():
    from kbanalysis.sales import groups_left_out

    gm = pd.DataFrame({"product_group": list("abcdefg"), "revenue": [1.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0],
                       "month": pd.to_datetime(["2024-01-01"] * 6 + ["2024-05-01"])})
    got = groups_left_out(gm, ["a"])
    assert got == {"n": 6, "groups": ["b", "c", "d", "e", "f", "…"], "amount": 27.0, "last": "2024-05"}
    assert groups_left_out(gm.assign(revenue=0.0), []) is None  # no revenue: nothing was sold
