"""Issue #21: careless and hostile use — the input is never touched, runs are isolated, parameters are
checked up front, an interrupted run leaves nothing that looks finished."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kbanalysis.errors import UserError
from kbanalysis.io import runfolder
from kbanalysis.run.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _case(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    case.mkdir()
    (case / "clients.csv").write_text("client_id,name,channel\n1,A,retail\n", encoding="utf-8")
    return case


# ------------------------------------------------------------------------------ 1. the input is never touched
@pytest.mark.parametrize("where", ["same", "inside", "around"])
def test_out_on_the_case_is_refused_before_anything_is_written(tmp_path, capsys, where):
    case = _case(tmp_path)
    before = {p: p.read_bytes() for p in case.rglob("*") if p.is_file()}
    out = {"same": case, "inside": case / "out", "around": tmp_path}[where]
    assert main(["run", str(case), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "case folder" in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in case.rglob("*") if p.is_file()} == before
    assert not (case / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


def test_a_non_empty_folder_that_is_no_run_needs_force(tmp_path, capsys):
    case, out = _case(tmp_path), tmp_path / "mine"
    out.mkdir()
    (out / "clients.csv").write_text("the user's own file", encoding="utf-8")
    assert main(["run", str(case), "--out", str(out), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "clients.csv").read_text(encoding="utf-8") == "the user's own file"
    assert runfolder.check_out(case, out, force=True) == out.resolve()


def test_a_previous_run_folder_and_an_empty_one_are_accepted(tmp_path):
    case, out = _case(tmp_path), tmp_path / "run"
    out.mkdir()
    assert runfolder.check_out(case, out) == out.resolve()  # empty
    (out / "run.json").write_text(json.dumps({"case_dir": "x", "input_sha256": {}}), encoding="utf-8")
    (out / "clients.csv").write_text("old", encoding="utf-8")
    assert runfolder.check_out(case, out) == out.resolve()  # a run of ours
    (out / "run.json").write_text("{}", encoding="utf-8")  # a run.json that is not ours
    with pytest.raises(UserError, match="not a kbanalysis run folder"):
        runfolder.check_out(case, out)


def test_publish_replaces_a_run_whole(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"case_dir": "old", "input_sha256": {}}), encoding="utf-8")
    (out / "summary.json").write_text("old", encoding="utf-8")
    staged = runfolder.staging_folder(out)
    (staged / "run.json").write_text(json.dumps({"case_dir": "new", "input_sha256": {}}), encoding="utf-8")
    runfolder.publish(staged, out)
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]  # nothing of the old run left
    assert json.loads((out / "run.json").read_text())["case_dir"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging or old folder left


def test_publish_with_force_leaves_the_users_other_files(tmp_path):
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("keep", encoding="utf-8")
    (out / "summary.json").write_text("the user's", encoding="utf-8")
    staged = runfolder.staging_folder(out)
    (staged / "summary.json").write_text("run's", encoding="utf-8")
    runfolder.publish(staged, out)
    assert (out / "notes.txt").read_text() == "keep" and (out / "sub").is_dir()
    assert (out / "summary.json").read_text() == "run's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_a_failed_run_leaves_the_earlier_run_as_it_was(tmp_path, monkeypatch):
    """A run that stops half-way (here: a user error in the second notebook) never mixes into --out."""
    from kbanalysis.run import runner

    out = tmp_path / "run"
    out.mkdir()
    record = json.dumps({"case_dir": "old", "input_sha256": {}})
    (out / "run.json").write_text(record, encoding="utf-8")
    (out / "clients.csv").write_text("old clients", encoding="utf-8")

    def half(params, staged, notebooks, progress, render):
        (staged / "quality_issues.csv").write_text("new", encoding="utf-8")
        raise UserError("sales.csv: broken")

    monkeypatch.setattr(runner, "_execute", half)
    with pytest.raises(UserError):
        runner.run_workbook(SAMPLE, out, {}, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["clients.csv", "run.json"]
    assert (out / "run.json").read_text() == record
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# ------------------------------------------------------------------------------ 2. interruption is clean
@pytest.mark.xdist_group("workbook")
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_says_so_and_leaves_out_as_it_was(tmp_path, sig, code):
    out = tmp_path / "run"
    out.mkdir()
    record = json.dumps({"case_dir": "old", "input_sha256": {}})
    (out / "run.json").write_text(record, encoding="utf-8")
    exe = Path(sys.executable).parent / "kbanalysis"
    env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    p = subprocess.Popen([str(exe), "run", str(SAMPLE), "--out", str(out), "--quiet"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((tmp_path).glob(".run.kbanalysis-partial-*/notebooks/*")):
        time.sleep(0.2)  # a notebook is running
    time.sleep(1.0)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines[-1].startswith("kbanalysis: interrupted") and f"--out {out}" in lines[-1], err
    assert "Traceback" not in err
    assert sorted(x.name for x in out.iterdir()) == ["run.json"] and (out / "run.json").read_text() == record
    assert sorted(x.name for x in tmp_path.iterdir()) == ["run"]  # no partial folder that looks like a run


# ------------------------------------------------------------------------------ 5. isolation, parameters
def test_each_run_has_its_own_kernel_spec(monkeypatch):
    from kbanalysis.run.runner import _KernelSpec

    monkeypatch.setenv("JUPYTER_PATH", "/somewhere")
    a, b = _KernelSpec(), _KernelSpec()
    with a as name_a, b as name_b:
        spec_a = json.loads((a.root / "kernels" / name_a / "kernel.json").read_text())
        assert a.root != b.root and name_a == name_b
        assert spec_a["argv"][0] == sys.executable
        assert os.environ["JUPYTER_PATH"].split(os.pathsep)[:3] == [str(b.root), str(a.root), "/somewhere"]
    assert os.environ["JUPYTER_PATH"] == "/somewhere"
    assert not a.root.exists() and not b.root.exists()


@pytest.mark.parametrize("assign,needle", [
    (["horizon=-5"], "horizon=-5 is out of range"),
    (["k_min=10", "k_max=2"], "k_min must not be larger than k_max"),
    (["wallet_quantile=5"], "wallet_quantile=5.0 is out of range"),
    (["wallet_quantile=nan"], "wallet_quantile=nan is out of range"),
    (["as_of=2099-13-45"], "as_of='2099-13-45' is not a date"),
    (["as_of=tomorrow"], "as_of='tomorrow' is not a date"),
    (["currency=RUB\"<script>"], "currency="),
    (["seed=-1"], "seed=-1 is out of range"),
])
def test_parameters_out_of_range_exit_2_before_anything(tmp_path, capsys, monkeypatch, assign, needle):
    monkeypatch.chdir(tmp_path)
    args = ["run", str(SAMPLE), "--out", str(tmp_path / "run"), "--quiet"]
    for x in assign:
        args += ["-p", x]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert list(tmp_path.iterdir()) == []  # no run folder, no log in the working directory


def test_an_internal_error_writes_no_log_into_the_working_directory(tmp_path, capsys, monkeypatch):
    from kbanalysis.run import runner

    def broken(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "_execute", broken)
    assert main(["run", str(SAMPLE), "--out", str(tmp_path / "run"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: boom" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.kbanalysis-failed"]
    kept = tmp_path / ".run.kbanalysis-failed"
    assert (kept / "kbanalysis-error.log").is_file() and not (kept / "run.json").exists()
