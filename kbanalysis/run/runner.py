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


class _KernelSpec:
    """A kernel spec that runs this very interpreter, quietly, in a folder of its own for one run.

    The folder is put first on ``JUPYTER_PATH`` while the run lasts, so a run never picks up another
    Python's ``python3`` kernel, and two runs (of one or of two installations) never share a spec.
    """

    name = "kbanalysis"

    def __enter__(self) -> str:
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="kbanalysis-kernel-"))
        spec = self.root / "kernels" / self.name
        spec.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.log_level=CRITICAL"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "kbanalysis",
                                                      "language": "python"}), encoding="utf-8")
        self.before = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = str(self.root) + (os.pathsep + self.before if self.before else "")
        return self.name

    def __exit__(self, *exc) -> None:
        import shutil

        if self.before is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = self.before
        shutil.rmtree(self.root, ignore_errors=True)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by Ctrl-C (``signum`` SIGINT) or SIGTERM; ``out`` was left as it was."""

    def __init__(self, signum: int = 2):
        super().__init__(signum)
        self.signum = signum


def _stop_children(grace: float = 3.0) -> None:
    """Stop the processes this run started (notebook kernels, a PDF converter): SIGTERM, then SIGKILL."""
    import signal

    def children() -> list[int]:
        me, out = os.getpid(), []
        for d in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                    out.append(int(d.name))
        return out

    kids = children()
    for pid in kids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    end = time.monotonic() + grace
    while kids and time.monotonic() < end:
        for pid in list(kids):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    kids.remove(pid)
            except ChildProcessError:
                kids.remove(pid)
        time.sleep(0.05)
    for pid in kids:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (OSError, ChildProcessError):
            pass


def _quiet_stopped_kernels() -> None:
    """After an interruption, the replies the stopped kernels never sent end as asyncio's "Task exception
    was never retrieved" when the process exits: expected, so not printed after the run says it was
    interrupted."""
    import logging

    logging.getLogger("asyncio").disabled = True


class _Signals:
    """While a run lasts, SIGTERM (and SIGINT) raise :class:`Interrupted` in the main thread."""

    def __enter__(self):
        import signal
        import threading

        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise Interrupted(signum)

    def __exit__(self, *exc) -> None:
        import signal

        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


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
                 render=True, force: bool = False) -> RunResult:
    """Execute the notebooks on a case into ``run_dir`` and render them to HTML.

    ``run_dir`` is checked first (:func:`~kbanalysis.io.runfolder.check_out`: never the case folder, inside
    it or around it; a non-empty folder that is no run folder only with ``force``). The run is written into
    a hidden folder beside it and moved into place only when every notebook and report is done, so an
    existing run folder is replaced whole or not at all. Ctrl-C or SIGTERM stop the kernels, remove that
    folder and raise :class:`Interrupted`; a failure that is not the user's data keeps it, with the
    executed notebooks and ``kbanalysis-error.log``, as ``.NAME.kbanalysis-failed`` beside ``run_dir``.
    """
    from kbanalysis.io import runfolder

    values = dict(values or {})
    values["case_dir"] = str(Path(case_dir).resolve())
    values["run_dir"] = str(Path(run_dir).resolve())
    params = P.validate(values)  # rejects unknown names and values out of range before anything runs
    case_dir = Path(params["case_dir"])
    if not case_dir.is_dir():
        raise UserError(f"{case_dir}: no such case folder")
    final = runfolder.check_out(case_dir, params["run_dir"], force=force)
    with _Signals():
        staged = runfolder.staging_folder(final)
        try:
            if tuple(notebooks) != NOTEBOOKS and runfolder.is_run_folder(final):  # --only: on the earlier results
                import shutil

                shutil.copytree(final, staged, symlinks=True, dirs_exist_ok=True)
            result = _execute(params, staged, notebooks, progress, render)
            _relocate_records(staged, final)
            write_run_record(staged, {**params, "run_dir": str(final)}, result)
            runfolder.publish(staged, final)
        except (KeyboardInterrupt, UserError) as e:
            _stop_children()
            if isinstance(e, KeyboardInterrupt):
                _quiet_stopped_kernels()
            runfolder.discard(staged)
            raise
        except BaseException as e:
            _stop_children()
            failed = _keep_failed(staged, final)
            if isinstance(e, NotebookFailed):
                raise NotebookFailed(str(e).replace(str(staged), str(failed))) from None
            raise RunFailed(f"internal error: {e.__class__.__name__}: {e} (the unfinished run and "
                            f"kbanalysis-error.log are in {failed})", e) from None
    result.run_dir = final
    result.html = [final / h.relative_to(staged) for h in result.html]
    return result


class RunFailed(Exception):
    """A run failed for a reason that is not the user's data; the unfinished run folder is kept aside."""

    def __init__(self, message: str, cause: BaseException):
        super().__init__(message)
        self.cause = cause


def _keep_failed(staged: Path, final: Path) -> Path:
    """An unfinished run's folder kept for a look, beside ``final``: no ``run.json`` (it is no finished run),
    the traceback in ``kbanalysis-error.log``."""
    import shutil
    import traceback

    failed = final.parent / f".{final.name}.kbanalysis-failed"
    shutil.rmtree(failed, ignore_errors=True)
    (staged / "run.json").unlink(missing_ok=True)
    (staged / "kbanalysis-error.log").write_text(traceback.format_exc(), encoding="utf-8")
    staged.rename(failed)
    return failed


def _relocate_records(staged: Path, final: Path) -> None:
    """The run's records name the folder the run ends up in, not the one it was written in."""
    from kbanalysis.io.runfolder import RunFolder

    def swap(obj):
        if isinstance(obj, dict):
            return {k: swap(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [swap(v) for v in obj]
        return str(final) if obj == str(staged) else obj

    rf = RunFolder(staged)
    for name in ("summary.json", "work/stages.json"):
        if (staged / name).exists():
            rf.write_json(name, swap(rf.read_json(name)))


#: how long a notebook's kernel may take to start (nbclient's 60 s was seen to run out on a loaded 2-core machine)
KERNEL_START_SECONDS = 300


def _execute(params: dict, run_dir: Path, notebooks, progress: bool, render: bool) -> RunResult:
    """Every notebook through papermill into ``run_dir`` (with ``run_dir`` as its parameter), then the HTML."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError
    from tqdm.auto import tqdm

    params = {**params, "run_dir": str(run_dir)}
    src = notebooks_dir()
    out_nb = run_dir / "notebooks"
    out_nb.mkdir(exist_ok=True)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    result = RunResult(run_dir)
    with _KernelSpec() as kernel:
        bar = tqdm(list(notebooks), desc="kbanalysis", unit="notebook", disable=not progress, file=sys.stderr)
        for name in bar:
            bar.set_postfix_str(name)
            t0 = time.perf_counter()
            target = out_nb / f"{name}.ipynb"
            try:
                own = {k: params[k] for k in P.for_stage(P.NOTEBOOK_STAGE.get(name, "general"))}
                pm.execute_notebook(str(src / f"{name}.ipynb"), str(target), parameters=own, kernel_name=kernel,
                                    progress_bar=False, log_output=False, cwd=str(run_dir),
                                    start_timeout=KERNEL_START_SECONDS)
            except PapermillExecutionError as e:
                if e.ename == "UserError":
                    raise UserError(e.evalue) from None
                if e.ename == "KeyboardInterrupt":  # Ctrl-C reached the kernel first
                    raise Interrupted(2) from None
                cell, first = _error_cell(target)
                raise NotebookFailed(f"notebook {name} failed in code cell {cell or e.exec_count} ({first}): "
                                     f"{e.ename}: {e.evalue}. The executed notebook is {target}") from None
            result.seconds[name] = round(time.perf_counter() - t0, 2)
        bar.close()
    if render:
        result.html = render_all(run_dir, notebooks, params)
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
            if name == "05-summary" and report.render_pdf(html) is None and report.pdf_converter():
                print(f"kbanalysis: warning: {report.pdf_converter()} did not print {html.with_suffix('.pdf').name}; "
                      f"the summary is in {html.name}", file=sys.stderr)
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
