"""Reproducibility: the same case gives byte-identical outputs on a second run, the run folder records
the case (SHA-256 of its files) and the parameters that produced it, and the same data in another
format (Windows-1251 ``;`` CSV with Russian headers and a mapping, UTF-8 CSV, xlsx, parquet) gives
the same canonical tables and the same results.

One ``kbanalysis run`` of a messy generated case is shared by this module and ``test_pii_reports``
(:func:`shared_run` of :func:`shared_case`, built once per session even when pytest-xdist spreads these tests over
workers; the in-process run of the same case, :func:`inprocess_run`, is shared with ``test_out_of_core``);
the byte-identity check adds one more run of the notebooks (without HTML).
The format comparison runs the workbook's stages in-process (the very calls the notebooks make; a
test below shows they give the notebooks' bytes).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kbanalysis.io.case import load_case

#: outputs that must not change by a byte between runs of the same case
STABLE = ("clients.csv", "forecast.csv", "duplicates.csv", "lost_clients.csv", "quality_issues.csv",
          "wallet_groups.csv", "actions.csv", "forecast_errors.csv")
RESULTS = ("clients.csv", "forecast.csv", "duplicates.csv", "lost_clients.csv")

def built_once(tmp_path_factory, key: str, build) -> Path:
    """``build(folder)`` run once per test session, even when pytest-xdist spreads the tests that need it
    over several workers (they share the parent of their temporary folders); return the folder."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target, lock, failed = shared / f"kb-{key}", shared / f"kb-{key}.lock", shared / f"kb-{key}.failed"
    deadline = time.monotonic() + 1200
    while not (target / ".done").exists():
        if failed.exists():
            pytest.fail(f"building {key} failed in another worker:\n{failed.read_text(encoding='utf-8')}")
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:  # another worker builds it: wait
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {key}")
            time.sleep(0.5)
            continue
        try:
            target.mkdir(parents=True, exist_ok=True)
            build(target)
            (target / ".done").touch()
        except BaseException:
            failed.write_text(traceback.format_exc(), encoding="utf-8")
            raise
    return target


def shared_case(tmp_path_factory) -> Path:
    """A messy generated case (200 clients, seed 21) with its truth; written once per test session."""
    def build(root: Path):
        from kbanalysis.synth.case import sample_case

        sample_case(root / "case", n_clients=200, seed=21)

    return built_once(tmp_path_factory, "shared-case", build) / "case"


def shared_run(tmp_path_factory) -> Path:
    """One full ``kbanalysis run`` of :func:`shared_case` (default parameters: masked PII).

    Returns the folder holding ``case/`` (a link to the shared case) and ``run/``; built once per test session.
    """
    case = shared_case(tmp_path_factory)

    def build(root: Path):
        from kbanalysis.run.cli import main

        (root / "case").symlink_to(case, target_is_directory=True)
        assert main(["run", str(case), "--out", str(root / "run"), "--quiet"]) == 0

    return built_once(tmp_path_factory, "shared-run", build)


def inprocess_run(tmp_path_factory) -> Path:
    """The workbook's stages run in-process on :func:`shared_case` with the sales in memory
    (``out_of_core=off``, what ``auto`` picks for a case this small); built once per test session."""
    case = shared_case(tmp_path_factory)
    return built_once(tmp_path_factory, "inprocess-run",
                      lambda root: run_stages(case, root / "run", out_of_core="off")) / "run"


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# the same case twice
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """The shared run and, in ``run2``, a second run of the same case (notebooks only, no HTML)."""
    from kbanalysis.run.runner import run_workbook

    root = shared_run(tmp_path_factory)
    built_once(tmp_path_factory, "second-run",
               lambda _: run_workbook(root / "case", root / "run2", {}, progress=False, render=False))
    return root


@pytest.mark.xdist_group("workbook")
@pytest.mark.parametrize("name", STABLE)
def test_second_run_is_byte_identical(runs, name):
    a, b = (runs / "run" / name).read_bytes(), (runs / "run2" / name).read_bytes()
    assert len(a) > 0 and a == b, name


@pytest.mark.xdist_group("workbook")
def test_second_run_summary_is_identical_but_for_its_folder(runs):
    a = json.loads((runs / "run" / "summary.json").read_text(encoding="utf-8"))
    b = json.loads((runs / "run2" / "summary.json").read_text(encoding="utf-8"))
    assert a["params"].pop("run_dir") != b["params"].pop("run_dir")
    assert a == b


@pytest.mark.xdist_group("workbook")
def test_run_json_records_case_hashes_and_parameters(runs):
    case, run = runs / "case", runs / "run"
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert Path(record["case_dir"]) == case.resolve()
    files = {p.name: sha256(p) for p in case.iterdir() if p.is_file()}
    assert {"clients.csv", "sales.csv", "deals.xlsx", "mapping.yaml"} <= set(files)
    assert record["input_sha256"] == files
    params = record["params"]
    assert params["case_dir"] == str(case.resolve()) and params["run_dir"] == str(run.resolve())
    assert params["mask_pii"] is True and params["seed"] == 42 and params["lang"] == "ru"
    assert {"pandas", "numpy", "kbanalysis"} <= set(record["versions"]) and record["python"]
    # the second run records the same inputs and the same parameters (but its own folder)
    record2 = json.loads((runs / "run2" / "run.json").read_text(encoding="utf-8"))
    assert record2["input_sha256"] == record["input_sha256"]
    assert {**record2["params"], "run_dir": ""} == {**params, "run_dir": ""}


@pytest.mark.xdist_group("workbook")
def test_summary_records_inputs_and_exact_row_accounting(runs):
    case, run = runs / "case", runs / "run"
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    loaded = load_case(case)
    assert summary["rows"] == loaded.counts
    for table, c in summary["rows"].items():
        assert c["read"] == c["used"] + c["rejected"], table
    assert summary["rows"]["sales"]["rejected"] > 0, "the messy case has broken sales lines"
    assert summary["input_sha256"] == {name: sha256(case / name) for name in summary["input_sha256"]}
    assert set(summary["input_sha256"]) == set(loaded.files.values()) | {"mapping.yaml"}
    # every rejected row is in quality_issues.csv with its spreadsheet row
    q = pd.read_csv(run / "quality_issues.csv", dtype={"row": "Int64"}, keep_default_na=False, na_values=[""])
    for table, c in summary["rows"].items():
        listed = q.loc[(q["table"] == table), "row"].dropna().nunique()
        assert listed >= c["rejected"], table


@pytest.mark.xdist_group("workbook")
def test_notebooks_and_in_process_stages_give_the_same_bytes(runs, tmp_path_factory):
    """The format comparison below runs the stages in-process: they are the notebooks' own calls."""
    out = inprocess_run(tmp_path_factory)
    for name in STABLE:
        assert (out / name).read_bytes() == (runs / "run" / name).read_bytes(), name


# ---------------------------------------------------------------------------------------------
# the same data in four formats
# ---------------------------------------------------------------------------------------------
RU = {
    "clients": {"client_id": "Код клиента", "name": "Контрагент", "channel": "Канал сбыта", "inn": "ИНН",
                "region": "Регион", "manager": "Менеджер", "phone": "Телефон", "email": "E-mail", "status": "Статус",
                "reported_turnover": "Оценка оборота", "outlets": "Торговые точки", "own_clients": "Клиентская база",
                "machines": "Станки, шт", "imported_machine_share": "Доля импортных станков",
                "installations": "Монтажей в месяц", "avg_project_cost": "Средняя стоимость проекта"},
    "sales": {"date": "Дата", "client_id": "Клиент ID", "product_group": "Товарная группа", "amount": "Сумма",
              "cost": "Себестоимость", "quantity": "Количество", "sku": "Артикул", "doc_id": "Документ",
              "manager": "Менеджер"},
    "deals": {"deal_id": "Номер сделки", "client_id": "Код клиента", "amount": "Сумма сделки",
              "probability": "Вероятность", "stage": "Этап сделки", "planned_month": "Месяц",
              "status": "Статус сделки", "manager": "Ответственный", "product_group": "Товарная группа",
              "created_date": "Дата создания", "closed_date": "Дата закрытия"},
    "stock": {"product_group": "Товарная группа", "on_hand": "Остаток на складе", "incoming": "В пути",
              "as_of": "На дату"},
    "marketing": {"month": "Месяц", "product_group": "Товарная группа", "amount": "Оценка спроса"},
    "survey": {"client_id": "Код клиента", "product_group": "Товарная группа", "total_purchases": "Закупки в месяц",
               "suppliers": "Количество поставщиков", "date": "Дата опроса"},
    "contacts": {"client_id": "Код клиента", "date": "Дата контакта", "manager": "Менеджер", "kind": "Вид контакта",
                 "outcome": "Результат"},
}
MAPPING = "clients:\n  \"Станки, шт\": machines\nsales:\n  \"Клиент ID\": client_id\n"
STATUS_RU = {"clients": {"active": "активен", "closed": "закрыт"},
             "deals": {"open": "открыта", "won": "выиграна", "lost": "проиграна"}}
MONTHS = {"planned_month", "month"}


def _ru_number(x) -> str:
    """A float as a Russian export writes it (NBSP thousands, decimal comma), without losing a digit."""
    if pd.isna(x):
        return ""
    r = repr(float(x))
    if "e" in r or "inf" in r:
        return r.replace(".", ",")
    sign, r = ("-", r[1:]) if r.startswith("-") else ("", r)
    i, d = r.split(".")
    groups = []
    while len(i) > 3:
        groups.insert(0, i[-3:])
        i = i[:-3]
    return sign + "\u00a0".join([i] + groups) + "," + d


def _canonical(case) -> dict[str, pd.DataFrame]:
    return {k: df.drop(columns="_row") for k, df in case.tables.items()}


def write_cp1251(tables: dict[str, pd.DataFrame], d: Path) -> Path:
    d.mkdir(parents=True)
    for name, df in tables.items():
        out = pd.DataFrame(index=df.index)
        for c in df.columns:
            s = df[c]
            if c in MONTHS:
                out[c] = s.dt.strftime("%m.%Y").fillna("")
            elif pd.api.types.is_datetime64_any_dtype(s):
                out[c] = s.dt.strftime("%d.%m.%Y").fillna("")
            elif pd.api.types.is_float_dtype(s):
                out[c] = [_ru_number(x) for x in s]
            elif c == "status" and name in STATUS_RU:
                out[c] = s.map(STATUS_RU[name]).fillna("")
            else:
                out[c] = s.fillna("")
        out.rename(columns=RU[name]).to_csv(d / f"{name}.csv", sep=";", index=False, encoding="cp1251",
                                            lineterminator="\r\n")
    (d / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return d


def write_xlsx(tables: dict[str, pd.DataFrame], d: Path) -> Path:
    from openpyxl import Workbook

    d.mkdir(parents=True)
    for name, df in tables.items():
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(name)
        ws.append([f"Выгрузка: {name}"])  # a title row and an empty row above the header
        ws.append([])
        ws.append([RU[name][c] for c in df.columns])
        cols = []
        for c in df.columns:
            s = df[c]
            if c in MONTHS:
                cols.append([None if pd.isna(x) else x.strftime("%Y-%m") for x in s])
            elif pd.api.types.is_datetime64_any_dtype(s):
                cols.append([None if pd.isna(x) else x.to_pydatetime() for x in s])
            elif pd.api.types.is_float_dtype(s):
                cols.append([None if pd.isna(x) else float(x) for x in s])
            else:
                cols.append([None if pd.isna(x) else str(x) for x in s])
        for row in zip(*cols):
            ws.append(list(row))
        wb.save(d / f"{name}.xlsx")
    (d / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return d


def write_parquet(tables: dict[str, pd.DataFrame], d: Path) -> Path:
    d.mkdir(parents=True)
    for name, df in tables.items():
        df.to_parquet(d / f"{name}.parquet", index=False)
    return d


def run_stages(case_dir: Path, run_dir: Path, **params) -> Path:
    """The whole workbook in-process: the stage calls and notebook cells, in the notebooks' order."""
    from conftest import run_workbook_inprocess

    run_workbook_inprocess(case_dir, run_dir, **params)
    return Path(run_dir)


FORMATS = ("utf8", "cp1251", "xlsx", "parquet")


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> dict[str, Path]:
    """One generated case written four ways: plain UTF-8 CSV, 1251 ';' CSV, xlsx, parquet."""
    def build(root: Path):
        from kbanalysis.synth.case import generate_case, write_case

        gen = generate_case(n_clients=60, seed=12, months=14, horizon=3)
        tables = _canonical(load_case(write_case(gen, root / "utf8", messy=False)))
        write_cp1251(tables, root / "cp1251")
        write_xlsx(tables, root / "xlsx")
        write_parquet(tables, root / "parquet")

    root = built_once(tmp_path_factory, "formats", build)
    return {fmt: root / fmt for fmt in FORMATS}


@pytest.mark.xdist_group("formats")  # one worker makes the four runs, the other goes on
@pytest.mark.parametrize("fmt", ["cp1251", "xlsx", "parquet"])
def test_same_tables_in_every_format(formats, fmt):
    a, b = load_case(formats["utf8"]), load_case(formats[fmt])
    assert set(a.tables) == set(b.tables) == {"clients", "sales", "deals", "stock", "marketing", "survey",
                                                "contacts"}
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name].drop(columns="_row"), b.tables[name].drop(columns="_row"),
                                      check_dtype=True, check_exact=True, obj=f"{fmt}: {name}")
    assert a.counts == b.counts
    assert a.drivers == b.drivers and "machines" in b.drivers
    if fmt == "xlsx":  # a title row and an empty row above the header: spreadsheet rows start at 4
        assert b.tables["sales"]["_row"].iloc[0] == 4


@pytest.fixture(scope="module")
def format_results(formats, tmp_path_factory) -> dict[str, Path]:
    def build(root: Path):
        for fmt, case in formats.items():
            run_stages(case, root / fmt)

    root = built_once(tmp_path_factory, "format-runs", build)
    return {fmt: root / fmt for fmt in FORMATS}


@pytest.mark.xdist_group("formats")  # one worker makes the four runs, the other goes on
@pytest.mark.parametrize("fmt", ["cp1251", "xlsx", "parquet"])
def test_same_results_in_every_format(format_results, fmt):
    for name in RESULTS:
        a = (format_results["utf8"] / name).read_bytes()
        assert a == (format_results[fmt] / name).read_bytes(), f"{fmt}: {name}"
    clients = pd.read_csv(format_results[fmt] / "clients.csv")
    assert len(clients) == 60 and clients["base"].notna().all()
    issues = {f: pd.read_csv(format_results[f] / "quality_issues.csv", dtype=str, keep_default_na=False)
              for f in ("utf8", fmt)}
    # the same findings; only the spreadsheet rows of the xlsx (title rows) differ
    cols = ["table", "client_id", "issue"] if fmt == "xlsx" else ["table", "row", "client_id", "issue", "detail"]
    pd.testing.assert_frame_equal(issues["utf8"][cols].sort_values(cols, ignore_index=True),
                                  issues[fmt][cols].sort_values(cols, ignore_index=True))


def test_ru_number_round_trips():
    xs = np.array([0.0, -0.0, 1234.5, -1234567.891, 1e-7, 123456789012.25, 0.1 + 0.2])
    from kbanalysis.io.case import parse_numbers

    v, bad = parse_numbers(pd.Series([_ru_number(x) for x in xs], dtype="str"))
    assert not bad.any() and v.tolist() == xs.tolist()
    assert _ru_number(1234567.5) == "1\u00a0234\u00a0567,5"
