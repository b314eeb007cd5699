"""The benchmark's verdicts (``scripts/bench.py``): the targets table says "yes" only when a figure meets its
target. (The benchmark itself is run by ``make bench``, never by the tests.)"""
from __future__ import annotations

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("bench", Path(__file__).resolve().parent.parent / "scripts" / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def result(clients, wall, peak, k=1.0, read=0.5, duck=1.0, life=9.0):
    return {"clients": clients, "lines": clients * 100, "workbook": {"wall": wall, "cpu": wall, "peak_gb": peak, "rc": 0, "slow_cells": []},
            "aggregation": {"kbanalysis": {"wall": k, "read": read}, "duckdb": {"wall": duck},
                            "lifetimes": {"wall": life}}}


def verdicts(results, startup=20.0):
    rows = bench.targets(results, {"startup": {"wall": startup}})
    return {r.split(" | ")[0].lstrip("| "): r.rsplit(" | ", 2)[-1].strip(" |") for r in rows}


def test_targets_met():
    v = verdicts([result(10_000, 29.0, 1.0), result(100_000, 90.0, 4.0)])
    assert set(v.values()) == {"yes"}, v
    assert len(v) == 6  # end to end, memory, 10k vs 100k, DuckDB at each size, lifetimes at 100k


def test_each_target_can_fail():
    v = verdicts([result(10_000, 29.1 + 0.1, 1.0, k=1.0, read=1.1, duck=1.0),
                  result(100_000, 121.0, 6.5, k=1.2, life=9.0)], startup=17.0)
    # 121 s > 120 s; 6.5 GB > 6 GB; 10k: 29.2 s > 121 / 10 + 17 = 29.1 s; 10k: read + group-bys 2.1 s > 2 × DuckDB;
    # lifetimes 7.5× < 8×; only 100k's 1.7 s against DuckDB's 1 s passes
    assert list(v.values()).count("**no**") == 5, v
    assert v["10k: aggregation (read + group-bys) within 2× of DuckDB"] == "**no**"


def test_markdown_names_sizes_and_growth():
    md = bench.markdown([result(10_000, 30.0, 1.0), result(100_000, 90.0, 4.0)],
                        {"date": "d", "cpus": 2, "python": "3.11", "platform": "p", "seed": 0,
                         "startup": {"wall": 20.0}})
    assert "10k clients / 1.0M lines" in md and "100k clients / 10.0M lines" in md
    assert "| **workbook total** (`kbanalysis run`) | 30.0 / 30.0 / 1.0 | 90.0 / 90.0 / 4.0 | 3.0× |" in md
    assert "## Targets" in md and "100k: lifetimes / kbanalysis = 7.5×" not in md


def run(wall, peak=1.0, rc=0):
    return {"wall": wall, "cpu": wall, "peak_gb": peak, "rc": rc, "notebooks": {"01-audit": wall / 2}}


def test_median_run_is_one_of_the_runs_with_every_wall_and_the_largest_peak():
    m = bench.median_run([run(31.0, 1.2), run(28.0, 1.3), run(29.5, 1.1)])
    assert m["wall"] == 29.5 and m["notebooks"] == {"01-audit": 14.75}  # the median run's own figures
    assert m["walls"] == [31.0, 28.0, 29.5] and m["peak_gb"] == 1.3 and m["rc"] == 0
    assert bench.median_run([run(40.0), run(30.0)])["wall"] == 30.0  # even count: the lower middle
    failed = bench.median_run([run(1.0, rc=1), run(30.0), run(32.0)])
    assert failed["wall"] == 30.0 and failed["rc"] == 1  # a failed run is not a fast one, and is not hidden


def test_markdown_lists_every_run_and_says_medians():
    big, small = result(100_000, 90.0, 4.0), result(10_000, 30.0, 1.0)
    small["workbook"]["walls"], big["workbook"]["walls"] = [31.0, 30.0, 29.0], [90.0, 95.0, 88.0]
    md = bench.markdown([small, big], {"date": "d", "cpus": 2, "python": "3.11", "platform": "p", "seed": 0,
                                       "repeat": 3, "startup": {"wall": 20.0, "walls": [20.0, 21.0, 19.0]}})
    assert "interleaved (sample, 10k, 100k, sample, …)" in md
    assert "Walls in run order (the sample has 400 clients): sample 20.0, 21.0, 19.0; 10k 31.0, 30.0, 29.0; 100k 90.0, 95.0, 88.0 s." in md
    assert "sample = 29.0 s, medians of 3 runs) | 30.0 s | **no** |" in md
