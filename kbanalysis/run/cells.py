"""A notebook of the workbook run in this process, without a kernel: for benchmarks and tests.

:func:`run_cells` executes the code cells of ``notebooks/NAME.ipynb`` one after another in one
namespace, the values given overriding the parameters cell just after it (as papermill does).
Charts are drawn and saved as in a kernel; nothing is rendered to HTML.
"""
from __future__ import annotations

import json
import os

from kbanalysis.run.runner import notebooks_dir


def run_cells(name: str, **params) -> dict:
    """Run notebook ``name`` (e.g. ``"01-audit"``) with ``params`` (``case_dir``, ``run_dir``, ...);
    return its namespace, so a caller can look at any table a step made (``ns["per_client"]``)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    nb = json.loads((notebooks_dir() / f"{name}.ipynb").read_text("utf-8"))
    ns: dict = {"__name__": f"notebook_{name.replace('-', '_')}"}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        exec(compile("".join(cell["source"]), f"{name}.ipynb", "exec"), ns)
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            ns.update(params)
    return ns
