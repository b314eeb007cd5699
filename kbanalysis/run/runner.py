"""Run the workbook: every notebook in order through papermill, then HTML renderings.

The parameters are validated before anything runs (papermill itself only warns about unknown
ones); a failing notebook stops the run with the notebook's name, the cell and the error. An
error raised by the package as :class:`~kbanalysis.errors.UserError` inside a notebook is the
user's data speaking: it is re-raised as such, so the CLI prints one message and exits 2.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from kbanalysis.run import params as P
from kbanalysis.errors import UserError, read_yaml_mapping

NOTEBOOKS = ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary")


def notebooks_dir() -> Path:
    """The folder with the workbook's notebooks (the repository's ``notebooks/``)."""
    env = os.environ.get("KBANALYSIS_NOTEBOOKS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for cand in (here.parents[1] / "notebooks", here.parent / "notebooks"):
        if (cand / f"{NOTEBOOKS[0]}.ipynb").exists():
            return cand
    raise UserError("the workbook notebooks were not found; set KBANALYSIS_NOTEBOOKS to the notebooks/ folder")


class NotebookFailed(Exception):
    """A notebook raised an error that is not the user's data: name, cell and error."""


@dataclass
class RunResult:
    run_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)
    html: list[Path] = field(default_factory=list)


def read_params_file(path) -> dict:
    """Parameters from a YAML file (a mapping of name: value)."""
    return read_yaml_mapping(path, "parameters file")


def parse_assignments(items: list[str] | None) -> dict:
    """``["key=value", ...]`` from ``-p`` options.

    >>> parse_assignments(["lang=en", "horizon=6"])
    {'lang': 'en', 'horizon': '6'}
    """
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"-p {item!r}: expected key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _kernel_spec() -> str:
    """A kernel spec that runs this very interpreter, quietly; returns its name.

    The spec lives in a private folder put first on ``JUPYTER_PATH``, so a run never picks up
    another Python's ``python3`` kernel.
    """
    import tempfile

    root = Path(tempfile.gettempdir()) / f"kbanalysis-kernel-{os.getuid() if hasattr(os, 'getuid') else 0}"
    spec = root / "kernels" / "kbanalysis"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.log_level=ERROR"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "kbanalysis", "language": "python"}),
                                      encoding="utf-8")
    os.environ["JUPYTER_PATH"] = str(root) + os.pathsep + os.environ.get("JUPYTER_PATH", "")
    return "kbanalysis"


def _error_cell(nb_path: Path) -> tuple[int | None, str]:
    """The first cell of an executed notebook that raised, and its source's first line."""
    try:
        import nbformat

        nb = nbformat.read(nb_path, as_version=4)
    except Exception:  # noqa: BLE001
        return None, ""
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        n += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                return n, first
    return None, ""


def run_workbook(case_dir, run_dir, values: dict | None = None, *, notebooks=NOTEBOOKS, progress=True,
                 render=True) -> RunResult:
    """Execute the notebooks on a case into ``run_dir`` and render them to HTML."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError
    from tqdm.auto import tqdm

    values = dict(values or {})
    values["case_dir"] = str(Path(case_dir).resolve())
    values["run_dir"] = str(Path(run_dir).resolve())
    params = P.validate(values)  # rejects unknown names before anything runs
    case_dir = Path(params["case_dir"])
    if not case_dir.is_dir():
        raise UserError(f"{case_dir}: no such case folder")
    run_dir = Path(params["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    src = notebooks_dir()
    out_nb = run_dir / "notebooks"
    out_nb.mkdir(exist_ok=True)
    kernel = _kernel_spec()
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    result = RunResult(run_dir)
    bar = tqdm(list(notebooks), desc="kbanalysis", unit="notebook", disable=not progress, file=sys.stderr)
    for name in bar:
        bar.set_postfix_str(name)
        t0 = time.perf_counter()
        target = out_nb / f"{name}.ipynb"
        try:
            own = {k: params[k] for k in P.for_stage(P.NOTEBOOK_STAGE.get(name, "general"))}
            pm.execute_notebook(str(src / f"{name}.ipynb"), str(target), parameters=own, kernel_name=kernel,
                                progress_bar=False, log_output=False, cwd=str(run_dir))
        except PapermillExecutionError as e:
            if e.ename == "UserError":
                raise UserError(e.evalue) from None
            cell, first = _error_cell(target)
            raise NotebookFailed(f"notebook {name} failed in code cell {cell or e.exec_count} ({first}): "
                                 f"{e.ename}: {e.evalue}. The executed notebook is {target}") from None
        result.seconds[name] = round(time.perf_counter() - t0, 2)
    bar.close()
    if render:
        result.html = render_all(run_dir, notebooks, params)
    write_run_record(run_dir, params, result)
    return result


def render_all(run_dir: Path, notebooks, params: dict) -> list[Path]:
    """Every executed notebook as HTML without code (and the summary as PDF when possible)."""
    from kbanalysis.deliverables import report

    out = []
    for name in notebooks:
        nb = run_dir / "notebooks" / f"{name}.ipynb"
        if nb.exists():
            html = report.render_html(nb, run_dir / f"{name}.html", title=report.notebook_title(name, params["lang"]))
            out.append(html)
            if name == "05-summary":
                report.render_pdf(html)
    return out


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_run_record(run_dir: Path, params: dict, result: RunResult) -> None:
    """``run.json``: the case, its files' hashes, the parameters and versions that produced the run."""
    from kbanalysis.io.case import file_hash

    case_dir = Path(params["case_dir"])
    hashes = {p.name: file_hash(p) for p in sorted(case_dir.iterdir()) if p.is_file()}
    versions = {}
    for pkg in ("kbanalysis", "pandas", "numpy", "scikit-learn", "statsmodels", "papermill"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    record = {"case_dir": str(case_dir), "input_sha256": hashes, "params": params, "versions": versions,
              "python": platform.python_version(), "seconds": result.seconds,
              "stages": _read_json(run_dir / "work" / "stages.json")}
    (run_dir / "run.json").write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
