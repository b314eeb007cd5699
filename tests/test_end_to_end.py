"""`kbanalysis run` on a generated case writes every output file and column named in the contract."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from kbanalysis.cli import main
from kbanalysis.schema import BASES, KEY_ACCOUNT, LOYALTY, OUTPUTS

pytestmark = pytest.mark.xdist_group("e2e")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from kbanalysis.synth import sample_case

    root = tmp_path_factory.mktemp("e2e")
    sample_case(root / "case", n_clients=400, seed=11)
    code = main(["run", str(root / "case"), "--out", str(root / "run"), "--quiet", "-p", "lang=en"])
    assert code == 0
    return root


def test_every_contract_file_and_column(run):
    out = run / "run"
    for name, cols in OUTPUTS.items():
        df = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        assert tuple(df.columns[: len(cols)]) == cols, name
        if len(df) > 1 and name != "lost_clients.csv":
            first = df[cols[0]].tolist()
            assert first == sorted(first), f"{name} is sorted by its first column"
    lost = pd.read_csv(out / "lost_clients.csv")
    assert lost["priority"].tolist() == list(range(1, len(lost) + 1)), "the reactivation list is best first"
    assert (out / "summary.json").exists()


def test_clients_one_row_per_card_with_valid_codes(run):
    out = run / "run"
    cards = pd.read_csv(run / "case" / "truth" / "clients.csv", dtype=str)
    clients = pd.read_csv(out / "clients.csv", dtype={"client_id": str})
    assert len(clients) == len(cards) and clients["client_id"].is_unique
    assert set(clients["base"]) <= set(BASES)
    assert set(clients["key_account"]) <= set(KEY_ACCOUNT)
    assert set(clients["loyalty"].dropna()) <= set(LOYALTY)
    assert set(clients["abcde"].dropna()) <= set("ABCDE")
    assert clients["cluster"].notna().any()


def test_summary_row_accounting(run):
    summary = json.loads((run / "run" / "summary.json").read_text(encoding="utf-8"))
    rows = summary["rows"]
    assert {"clients", "sales"} <= set(rows)
    for table, c in rows.items():
        assert c["read"] == c["used"] + c["rejected"], table
    assert summary["params"]["lang"] == "en"


def test_reports_written(run):
    out = run / "run"
    for name in ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary"):
        assert (out / f"{name}.html").stat().st_size > 1000
    assert (out / "audit.xlsx").exists()
    assert list((out / "charts").glob("*.png"))
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert "sales.csv" in record["input_sha256"]
