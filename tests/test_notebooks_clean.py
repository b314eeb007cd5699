"""Committed notebooks are thin and carry no outputs (no client data enters the repository through them)."""
import json
import re
from pathlib import Path

import pytest

from kbanalysis import params as P
from kbanalysis.runner import NOTEBOOKS

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(NB_DIR.glob("**/*.ipynb"))


def test_every_stage_has_a_notebook():
    assert [p.stem for p in sorted(NB_DIR.glob("*.ipynb"))] == list(NOTEBOOKS)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_outputs_no_defs_and_a_literal_parameters_cell(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "clear the outputs"
    for c in code:
        assert not re.search(r"^\s*(def|class)\s", "".join(c["source"]), re.M), "logic belongs in kbanalysis/"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    src = "".join(params[0]["source"])
    ns: dict = {}
    exec(compile(src, "parameters", "exec"), {"__builtins__": {}}, ns)  # literals only: no names, no calls
    if path.parent == NB_DIR:
        assert set(ns) == set(P.PARAMS), "the parameters cell lists every parameter of kbanalysis.params"
        assert ns == P.defaults()
