"""docs/ARCHITECTURE.md's table "rule -> file" names functions that exist where it says."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROWS = re.findall(r"^\| (.+?) \| `(kbanalysis/[^`]+)` \| `(\w+)` \|$", (ROOT / "docs" / "ARCHITECTURE.md").read_text(
    encoding="utf-8"), re.M)


def test_the_table_is_there():
    assert len(ROWS) >= 15


@pytest.mark.parametrize("rule,path,name", ROWS, ids=[r[2] for r in ROWS])
def test_each_rule_is_in_its_file(rule, path, name):
    src = (ROOT / path).read_text(encoding="utf-8")
    assert re.search(rf"^\s*(def|class) {name}\b", src, re.M), f"{name} is not defined in {path}"
