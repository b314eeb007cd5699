"""Shared test configuration."""
import os

import pytest
from hypothesis import settings

# CI explores the same examples every run (a landing never fails on a newly drawn example);
# developers' runs keep drawing new ones, so the property tests go on finding bugs.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Make ``--dist loadgroup`` work: pytest >= 9 keeps the node id in ``item._id``, where xdist 3.8's
    group suffix is otherwise lost, so tests of one ``xdist_group`` (sharing an expensive run) would be
    spread over workers."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid.rsplit("]", 1)[-1]:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")


def run_notebook_cells(name: str, **params) -> dict:
    """Run the code cells of ``notebooks/NAME.ipynb`` in this process, the parameters cell overridden by
    ``params`` (e.g. ``case_dir``, ``run_dir``); returns the notebook's namespace. For tests that run a
    whole workbook without kernels."""
    import json
    from pathlib import Path

    os.environ.setdefault("MPLBACKEND", "Agg")
    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / f"{name}.ipynb").read_text("utf-8"))
    ns: dict = {"__name__": f"notebook_{name.replace('-', '_')}"}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        exec(compile("".join(cell["source"]), f"{name}.ipynb", "exec"), ns)
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            ns.update(params)
    return ns


def run_workbook_inprocess(case_dir, run_dir, **params):
    """The whole workbook in this process: the stage functions still called by notebooks 01, 02, 04, and
    notebooks 03 and 05 cell by cell (:func:`run_notebook_cells`); each stage recorded as done."""
    from kbanalysis.run import params as P
    from kbanalysis.run import stages
    from kbanalysis.run.workbook import Workbook

    where = {"case_dir": str(case_dir), "run_dir": str(run_dir)}
    wb = Workbook(**where, **params)
    wb.load()

    def done(stage):
        Workbook(stage=stage, **where, **{k: v for k, v in params.items() if k in P.for_stage(stage)}).finish()

    stages.audit(wb)
    done("audit")
    stages.turnover(wb)
    done("wallet")
    run_notebook_cells("03-segments", **where, **params)
    stages.forecast(wb)
    done("forecast")
    run_notebook_cells("05-summary", **where, **params)
    return wb
