"""The public contract (``../shared/data-contract.md``) and its mirror in ``kbanalysis.schema`` name the same
output columns and summary totals."""
import re
from pathlib import Path

import pytest

from kbanalysis.schema import OUTPUT_EXTRAS, OUTPUTS, SUMMARY_TOTALS

DOC = Path(__file__).resolve().parents[1].parent / "shared" / "data-contract.md"
pytestmark = pytest.mark.skipif(not DOC.is_file(), reason="the contract lies beside the repository")


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"### {title}")
    nxt = text.find("\n### ", start + 4)
    return text[start:nxt if nxt > 0 else None]


def test_clients_csv_columns_are_the_documented_ones():
    rows = re.findall(r"^\| ([a-z_0-9, ]+) \|", _section("clients.csv"), flags=re.M)
    documented = [c.strip() for r in rows for c in r.split(",") if c.strip() != "column"]
    assert documented == list(OUTPUTS["clients.csv"]) + list(OUTPUT_EXTRAS["clients.csv"])


def test_summary_totals_are_the_documented_ones():
    para = _section("summary.json").split("`totals` holds", 1)[1].split("`wallet_sources`", 1)[0]
    assert list(dict.fromkeys(re.findall(r"`([a-z_0-9]+)`", para))) == list(SUMMARY_TOTALS)


def test_forecast_csv_columns_are_documented():
    names = set(re.findall(r"`([a-z_]+)`", _section("forecast.csv")))
    assert set(OUTPUTS["forecast.csv"]) <= names | {"product_group"}
