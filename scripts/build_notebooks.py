"""Write notebooks/*.ipynb from the cell lists in scripts/notebook_cells.py.

The notebooks are thin: a parameters cell (every parameter of kbanalysis.params, literals only),
then one package call per cell. Run `make notebooks` after changing the cells or the parameters.
"""
from pathlib import Path

import nbformat

from kbanalysis import params as P
from notebook_cells import NOTEBOOK_CELLS  # scripts/notebook_cells.py

OUT = Path(__file__).resolve().parent.parent / "notebooks"


def parameters_source() -> str:
    lines = ["# Parameters (papermill injects the run's values after this cell). `kbanalysis params` explains each."]
    for p in P.PARAMS.values():
        lines.append(f"{p.name} = {p.default!r}")
    return "\n".join(lines)


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell(parameters_source())
    params.metadata["tags"] = ["parameters"]
    out = [params]
    for kind, src in cells:
        out.append(nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src.strip()))
    nb.cells = out
    for i, c in enumerate(nb.cells):  # stable ids: the same build gives the same files
        c["id"] = f"{name}-{i:02d}"
    return nb


def main():
    for name, cells in NOTEBOOK_CELLS.items():
        path = OUT / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build(name, cells), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
