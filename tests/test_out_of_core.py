"""Sales kept on disk (``out_of_core=on``): the load streams the sales file into ``work/sales.parquet``,
the stages aggregate it in DuckDB and never hold its lines, and the results are those of the
in-memory run: the same text, the same numbers but for the order in which money is added (DuckDB adds
exact decimals, the in-memory engine floats in line order: the last bits differ, and the forecast's
fitted models carry that to about 1e-8). A second run kept on disk gives the same bytes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kbanalysis.run import workbook
from kbanalysis.sales.ondisk import SalesFile
from kbanalysis.run.workbook import Workbook
from test_reproducible import STABLE, inprocess_run, run_stages, shared_case


def _read(p: Path) -> pd.DataFrame:
    return pd.read_csv(p, keep_default_na=False, na_values=[""])


# its own xdist group: it needs only the shared case, not the shared run (both built once across workers by
# built_once), so its two on-disk stage runs need not queue behind the "workbook" group's on one worker; the
# in-memory run is the one test_reproducible compares with the notebooks' bytes
@pytest.fixture(scope="module")
def both(tmp_path_factory) -> dict[str, Path]:
    case = shared_case(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("ooc")
    return {"off": inprocess_run(tmp_path_factory), "on": run_stages(case, tmp / "on", out_of_core="on"),
            "on_again": run_stages(case, tmp / "on_again", out_of_core="on")}


@pytest.mark.xdist_group("out_of_core")
@pytest.mark.parametrize("name", STABLE)
def test_outputs_on_disk_equal_in_memory(both, name):
    a, b = _read(both["off"] / name), _read(both["on"] / name)
    assert len(a) > 0, name
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6, obj=name)
    assert (both["on"] / name).read_bytes() == (both["on_again"] / name).read_bytes(), name


@pytest.mark.xdist_group("out_of_core")
def test_summary_on_disk_equals_in_memory(both):
    a, b = (json.loads((both[m] / "summary.json").read_text(encoding="utf-8")) for m in ("off", "on"))
    assert a["params"].pop("out_of_core") == "off" and b["params"].pop("out_of_core") == "on"
    for d in (a, b):
        d["params"].pop("run_dir")
    assert a["rows"] == b["rows"] and a["clients"] == b["clients"] and a["quality"] == b["quality"]
    assert a["input_sha256"] == b["input_sha256"] and a["params"] == b["params"]
    for k, v in a["totals"].items():
        assert (v is None and b["totals"][k] is None) or np.isclose(v, b["totals"][k], rtol=1e-6), k


@pytest.mark.xdist_group("out_of_core")
def test_on_disk_run_keeps_sales_in_parquet_and_reads_no_lines(both):
    wb = Workbook(case_dir=json.loads((both["on"] / "summary.json").read_text(encoding="utf-8"))["params"]["case_dir"],
                  run_dir=str(both["on"]))
    assert wb.meta["sales_on_disk"] is True and wb.has("sales")
    sales = wb.table("sales", columns=["date", "client_id"], labels=("client_id",))
    assert isinstance(sales, SalesFile) and len(sales) == wb.meta["counts"]["sales"]["used"]
    assert Workbook(run_dir=str(both["off"])).meta["sales_on_disk"] is False


def test_auto_keeps_sales_on_disk_when_they_exceed_a_quarter_of_free_memory(tmp_path, monkeypatch):
    from kbanalysis.synth.case import sample_case

    case = tmp_path / "case"
    sample_case(case, n_clients=30, seed=3)
    size = (case / "sales.csv").stat().st_size
    wb = Workbook(case_dir=str(case), run_dir=str(tmp_path / "run"))
    monkeypatch.setattr(workbook, "free_memory", lambda: 4 * size + 4)
    assert wb._sales_on_disk() is False
    monkeypatch.setattr(workbook, "free_memory", lambda: 4 * size - 4)
    assert wb._sales_on_disk() is True
    assert Workbook(case_dir=str(case), run_dir=str(tmp_path / "run"), out_of_core="off")._sales_on_disk() is False


def test_free_memory_reads_a_cgroup_limit(monkeypatch):
    monkeypatch.setattr(workbook, "_cgroup_memory", lambda: [("1000000", "400000"), ("max", "1")])
    assert workbook.free_memory() == 600_000


# ---------------------------------------------------------------------------------------------
# each query of sales kept on disk equals what the same function does on the frame
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    """Random lines (amounts in quarters: sums are exact in any order) as a frame and as a SalesFile."""
    from kbanalysis.io.runfolder import RunFolder

    rng = np.random.default_rng(7)
    n = 4_000
    clients = np.array([f"к{i:02d}" for i in range(60)] + ["Z1", "a1"])
    df = pd.DataFrame({
        "_row": np.arange(2, n + 2, dtype="int64"),
        "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 560, n), unit="D"),
        "client_id": pd.array(rng.choice(clients, n), dtype="string"),
        "product_group": pd.array(rng.choice(["tools", "paint", "Ω"], n), dtype="string"),
        "amount": rng.integers(-40, 400, n) / 4.0,
        "cost": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 300, n) / 4.0),
        "manager": pd.array(rng.choice(["Иванов", "Петров", None], n), dtype="string"),
        "doc_id": pd.array([f"D{i % 1500}" for i in range(n)], dtype="string")})
    rf = RunFolder(tmp_path_factory.mktemp("lines"))
    rf.write_work("sales", df)
    return rf.read_work("sales"), SalesFile(rf.work / "sales.parquet", memory_limit="256MB")


def test_load_checks_and_audit_queries_equal_the_frame(lines):
    from kbanalysis.sales.engine import last_sale
    from kbanalysis.sales.lines import buyer_ids, window_groups, window_totals

    df, sf = lines
    as_of, start = pd.Timestamp("2024-05-01"), pd.Timestamp("2024-02-10")
    assert last_sale(sf) == last_sale(df)
    assert workbook.sales_span(sf, as_of) == workbook.sales_span(df, as_of)
    assert sorted(buyer_ids(sf, as_of)) == sorted(buyer_ids(df, as_of))
    cols = ["client_id", "manager"]
    a, b = (window_groups(x, start, as_of, cols).sort_values(cols, ignore_index=True) for x in (df, sf))
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    ids = pd.Series(["к01", "к02", "Z1", "нет"], dtype="string")
    a, b = (window_totals(x, start, as_of, ids).sort_index() for x in (df, sf))
    pd.testing.assert_frame_equal(a, b, check_index_type=False)
    assert len(a) == 3


def test_forecast_queries_equal_the_frame(lines):
    from kbanalysis.forecast import model as F
    from kbanalysis.forecast.core import price_per_cost

    df, sf = lines
    as_of = pd.Timestamp("2024-05-01")
    won = df.sample(40, random_state=1)
    deals = pd.DataFrame({"deal_id": pd.array(list(won["doc_id"].iloc[:25]) + [f"X{i}" for i in range(15)],
                                              dtype="string"),
                          "client_id": pd.array(won["client_id"].to_numpy(), dtype="string"),
                          "amount": won["amount"].to_numpy() * 3, "status": "won",
                          "planned_month": won["date"].dt.to_period("M").dt.to_timestamp().to_numpy()})
    a, b = F.match_won_deals(df, deals, as_of), F.match_won_deals(sf, deals, as_of)
    pd.testing.assert_frame_equal(a, b)
    assert (a["method"] == "doc_id").sum() >= 20 and len(a.attrs["lines"])
    assert sorted(df.loc[a.attrs["lines"], "_row"]) == sorted(b.attrs["lines"])  # the same lines, by row number
    pd.testing.assert_frame_equal(F.split_group_months(df, deals, as_of, matches=a),
                                  F.split_group_months(sf, deals, as_of, matches=b))
    pd.testing.assert_series_equal(price_per_cost(df, as_of),
                                   price_per_cost(sf, as_of), check_names=False)


@pytest.mark.xdist_group("out_of_core")
def test_audit_page_says_when_sales_are_kept_on_disk(both):
    on, off = Workbook(run_dir=str(both["on"]), lang="en"), Workbook(run_dir=str(both["off"]), lang="en")
    assert off.storage_note() == ""
    note = on.storage_note()
    assert "work/sales.parquet" in note and f"{on.meta['counts']['sales']['used']:,}" in note.replace("\u00a0", ",")
    assert "DuckDB" in Workbook(run_dir=str(both["on"]), lang="ru").storage_note()


def test_a_killed_kernel_points_to_out_of_core(monkeypatch, capsys, tmp_path):
    from nbclient.exceptions import DeadKernelError

    from kbanalysis.run import cli; from kbanalysis.run import runner

    def killed(*a, **k):
        raise DeadKernelError("Kernel died")

    monkeypatch.setattr(runner, "run_workbook", killed)
    assert cli.main(["run", "data/sample", "--out", str(tmp_path / "run"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "died" in err and "-p out_of_core=on" in err and "internal error" not in err
