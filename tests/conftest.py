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
    """Run the code cells of ``notebooks/NAME.ipynb`` in this process (:func:`kbanalysis.run.cells.run_cells`)."""
    from kbanalysis.run.cells import run_cells

    return run_cells(name, **params)


def run_workbook_inprocess(case_dir, run_dir, **params):
    """The whole workbook in this process: notebooks 01-05 cell by cell (:func:`run_notebook_cells`)."""
    from kbanalysis.run.workbook import Workbook

    where = {"case_dir": str(case_dir), "run_dir": str(run_dir)}
    for name in ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary"):
        run_notebook_cells(name, **where, **params)
    return Workbook(**where, **params)
