"""Committed notebooks are thin and carry no outputs (no client data enters the repository through them)."""
import json
import re
from pathlib import Path

import pytest

from kbanalysis.run import params as P
from kbanalysis.run.runner import NOTEBOOKS

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
        own = P.for_stage(P.NOTEBOOK_STAGE[path.stem])
        assert list(ns) == own, "the parameters cell lists the general parameters and its stage's own, in order"
        assert ns == {k: P.PARAMS[k].default for k in own}, "the parameters cell shows the defaults"
        lines = [ln for ln in src.splitlines() if ln and not ln.startswith("#")]
        assert all("  # " in ln for ln in lines), "each parameter has a one-line comment"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_says_which_stage_it_is(name):
    nb = json.loads((NB_DIR / f"{name}.ipynb").read_text(encoding="utf-8"))
    src = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert f'stage="{P.NOTEBOOK_STAGE[name]}"' in src and "wb.finish()" in src


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_whole_stage_call(path):
    """A notebook walks through its stage step by step: no call that runs the whole stage (issue #19)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    src = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    for whole in ("kb.stages", "DemandForecast", "forecast_table(", "stages."):
        assert whole not in src, f"{path.name} calls {whole!r}: a whole-stage call"
