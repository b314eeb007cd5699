"""A run folder remembers which stages ran with which parameters; a stage refuses to start before the ones it
reads, and rerunning one marks the stages built on it stale."""
import json

import pytest

from kbanalysis.errors import UserError
from kbanalysis.run import params as P
from kbanalysis.run.workbook import REQUIRES, Workbook


def _wb(tmp_path, stage, **kw):
    return Workbook({"run_dir": str(tmp_path), "case_dir": str(tmp_path)}, stage=stage, **kw)


def test_a_later_notebook_alone_says_what_to_run_first(tmp_path):
    with pytest.raises(UserError, match="01-audit"):
        _wb(tmp_path, "wallet")
    _wb(tmp_path, "audit").finish()
    with pytest.raises(UserError, match="02-turnover"):
        _wb(tmp_path, "segments")
    _wb(tmp_path, "forecast")  # the forecast reads only what 01-audit loaded


def test_stage_sees_only_its_parameters(tmp_path):
    _wb(tmp_path, "audit").finish()
    wb = Workbook({"horizon": 6, "run_dir": str(tmp_path)}, stage="forecast")
    assert wb.params["horizon"] == 6
    assert wb.params["lost_gap_multiple"] == P.PARAMS["lost_gap_multiple"].default  # not this notebook's


def test_rerun_marks_dependents_stale_and_run_params_merge(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "run.json").write_text(json.dumps({"params": {}}), encoding="utf-8")
    _wb(tmp_path, "audit", lost_gap_multiple=4.0).finish()
    _wb(tmp_path, "wallet", wallet_quantile=0.9).finish()
    _wb(tmp_path, "segments").finish()
    _wb(tmp_path, "forecast", horizon=6).finish()
    assert _wb(tmp_path, "audit", lost_gap_multiple=5.0).finish() is not None  # says what to rerun
    stages = json.loads((tmp_path / "work" / "stages.json").read_text(encoding="utf-8"))
    assert {s for s, r in stages.items() if r["stale"]} == {s for s, d in REQUIRES.items() if "audit" in d} - {"general"}
    record = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert record["stale"] == ["02-turnover", "03-segments", "04-forecast"]
    merged = _wb(tmp_path, "general").run_params()
    assert list(merged) == list(P.PARAMS)
    assert (merged["lost_gap_multiple"], merged["wallet_quantile"], merged["horizon"]) == (5.0, 0.9, 6)
    assert stages["audit"]["params"]["lost_gap_multiple"] == 5.0 and "horizon" not in stages["audit"]["params"]


def test_papermill_parameters_a_notebook_does_not_take_are_rejected(tmp_path):
    base = {"run_dir": str(tmp_path), "In": [], "kb": pytest}  # a kernel's own names and modules are fine
    with pytest.raises(UserError, match="unknown parameter 'horizn'"):
        Workbook({**base, "horizn": 3}, stage="audit")
    with pytest.raises(UserError, match="belongs to notebook 04-forecast"):
        Workbook({**base, "horizon": 6}, stage="audit")
    ns = {**base, "lost_gap_multiple": 4.0}
    assert Workbook(ns, stage="audit").params["lost_gap_multiple"] == 4.0
    ns["n"] = 5  # a variable an analyst made later: rerunning the setup cell does not trip on it
    Workbook(ns, stage="audit")
