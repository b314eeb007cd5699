"""The public contract (``../shared/data-contract.md``), the project's additions to it
(``docs/contract-additions.md``) and their mirror in ``kbanalysis.schema`` name the same output columns and
summary totals."""
import re
from pathlib import Path

import pytest

from kbanalysis.schema import DRIVER_COLUMNS, OUTPUT_EXTRAS, OUTPUTS, SUMMARY_TOTALS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT.parent / "shared" / "data-contract.md"
ADDITIONS = ROOT / "docs" / "contract-additions.md"
needs_contract = pytest.mark.skipif(not DOC.is_file(), reason="the contract lies beside the repository")


def _section(title: str, doc: Path = DOC) -> str:
    text = doc.read_text(encoding="utf-8")
    start = text.index(f"### {title}")
    nxt = text.find("\n### ", start + 4)
    return text[start:nxt if nxt > 0 else None]


def _table_columns(section: str) -> list[str]:
    rows = re.findall(r"^\| ([a-z_0-9, ]+) \|", section, flags=re.M)
    return [c.strip() for r in rows for c in r.split(",") if c.strip() != "column"]


@needs_contract
def test_clients_csv_columns_are_the_contracts():
    assert _table_columns(_section("clients.csv")) == list(OUTPUTS["clients.csv"])


def test_clients_csv_additions_are_documented():
    assert _table_columns(_section("clients.csv", ADDITIONS)) == list(OUTPUT_EXTRAS["clients.csv"])


def test_forecast_csv_additions_are_documented():
    assert _table_columns(_section("forecast.csv", ADDITIONS)) == list(OUTPUT_EXTRAS["forecast.csv"])


def test_every_addition_is_documented():
    text = ADDITIONS.read_text(encoding="utf-8")
    for table in OUTPUT_EXTRAS:
        assert f"### {table}" in text, table


def test_summary_totals_are_the_documented_ones():
    para = _section("summary.json", ADDITIONS).split("`totals` holds", 1)[1].split("`wallet_sources`", 1)[0]
    assert list(dict.fromkeys(re.findall(r"`([a-z_0-9]+)`", para))) == list(SUMMARY_TOTALS)


@needs_contract
def test_forecast_csv_columns_are_documented():
    names = set(re.findall(r"`([a-z_]+)`", _section("forecast.csv")))
    assert set(OUTPUTS["forecast.csv"]) <= names | {"product_group"}


def test_the_default_driver_columns_are_documented():
    section = _section("clients — which columns are drivers", ADDITIONS)
    listed = re.findall(r"`([a-z_]+)`", section.split("(`kbanalysis.schema")[0].split("gives them):")[1])
    assert listed == list(DRIVER_COLUMNS)
