"""The CLI: parameters, validation, clear errors with exit code 2 and no traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from kbanalysis.run import params as P
from kbanalysis.run.cli import main


def test_params_lists_every_parameter(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    for name in P.PARAMS:
        assert name in out


def test_unknown_parameter_is_rejected_before_anything_runs(tmp_path, capsys):
    (tmp_path / "case").mkdir()
    code = main(["run", str(tmp_path / "case"), "--out", str(tmp_path / "run"), "-p", "colour=red"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown parameter 'colour'" in err and "horizon" in err
    assert not (tmp_path / "run").exists()


def test_bad_parameter_value(tmp_path, capsys):
    (tmp_path / "case").mkdir()
    assert main(["run", str(tmp_path / "case"), "--out", str(tmp_path / "r"), "-p", "horizon=three"]) == 2
    assert "horizon" in capsys.readouterr().err


def test_params_file_unknown_key(tmp_path, capsys):
    f = tmp_path / "p.yaml"
    f.write_text("lang: en\nhorizn: 4\n")
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "r"), "--params", str(f)]) == 2
    assert "horizn" in capsys.readouterr().err


def test_validate_reports_table_by_table(tmp_path, capsys):
    (tmp_path / "clients.csv").write_text("client_id,name,channel\n1,A,retail\n2,B,retail\n")
    (tmp_path / "sales.csv").write_text("date,client_id,product_group,amount\n2024-01-01,1,x,5\n2024-01-02,3,x,5\n")
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "sales.csv" in out and "unknown_client" in out and "row 3" in out


def test_validate_names_the_numeric_columns_that_are_no_drivers(tmp_path, capsys):
    (tmp_path / "clients.csv").write_text("client_id,name,channel,outlets,row_no\n1,A,retail,3,1\n2,B,retail,5,2\n")
    (tmp_path / "sales.csv").write_text("date,client_id,product_group,amount\n2024-01-01,1,x,5\n2024-01-02,2,x,5\n")
    main(["validate", str(tmp_path)])
    out = capsys.readouterr().out
    assert "drivers on client cards: outlets\n" in out
    assert "numeric card columns ignored, not drivers: row_no (" in out


def test_validate_missing_folder_exits_2_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "kbanalysis.run.cli", "validate", str(tmp_path / "nope")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "no such folder" in r.stderr


@pytest.mark.parametrize("value,expected", [("true", True), ("0", False), ("да", True)])
def test_bool_coercion(value, expected):
    assert P.coerce("mask_pii", value) is expected
