"""Write notebooks/backtests/online-retail.ipynb: the online-retail backtest as a thin notebook.

A parameters cell of literals (papermill can override them), then one package call per cell; no
outputs are committed. Run: .venv/bin/python scripts/build_backtest_notebook.py
"""
from pathlib import Path

import nbformat

OUT = Path(__file__).resolve().parent.parent / "notebooks" / "backtests" / "online-retail.ipynb"

PARAMETERS = """# Parameters (papermill may override them)
real_data = ""      # folder of the real datasets; empty = $KBANALYSIS_REAL_DATA or ../shared/real-data
as_of = "2011-09-01"  # the cut of the case
end = "2011-11-30"    # last day of the three months that decide who came back
run_dir = ""        # a finished `kbanalysis run` of the case to read the calls from; empty = compute them"""

CELLS = [
    ("md", "# Backtest: UCI Online Retail cut at 2011-09-01\n\n"
           "What the workbook said at the cut (lost clients, the statistical forecast, the reactivation priority) "
           "against what the raw file says happened in the next three months. See `data/real/README.md`."),
    ("code", "from kbanalysis.run import backtest"),
    ("code", "res = backtest.online_retail_backtest(real_data or None, as_of=as_of, end=end, run_dir=run_dir or None)"),
    ("code", "res.markdown()"),
    ("md", "## Lost: share of the flagged clients that did not come back (precision)"),
    ("code", 'res.tables.get("lost")'),
    ("code", 'res.tables.get("by_base")'),
    ("md", "## The `history` forecast (ALL rows) against the real months"),
    ("code", 'res.tables.get("forecast")'),
    ("md", "## The reactivation priority against who came back"),
    ("code", 'res.tables.get("ranking")'),
    ("code", 'res.tables.get("deciles")'),
]


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    cells = [params] + [nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
                        for kind, src in CELLS]
    for i, c in enumerate(cells):  # stable ids: the same build gives the same file
        c["id"] = f"backtest-online-retail-{i:02d}"
    nb.cells = cells
    return nb


def main():
    OUT.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build(), OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
