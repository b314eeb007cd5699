"""The package's layout holds as docs/ARCHITECTURE.md draws it: parts import each other without circles
(function-local imports included), the stages never import the run part, no storage check outside the
engine, and no function is longer than a screenful or two."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "kbanalysis"
STAGES = ("audit", "wallet", "segments", "forecast")
ENGINE = ("io", "sales")
MAX_LINES = 120
#: functions still longer than MAX_LINES, each to be split (issue #19); the list may only shrink
LONG_YET: set = set()  # every function is at most MAX_LINES long


def _modules():
    for p in sorted(PKG.rglob("*.py")):
        yield p, ast.parse(p.read_text(encoding="utf-8"))


def _part(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_parts(tree) -> set[str]:
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("kbanalysis."):
            out.add(n.module.split(".")[1])
        elif isinstance(n, ast.ImportFrom) and n.module == "kbanalysis":
            out.update(a.name for a in n.names)
        elif isinstance(n, ast.Import):
            out.update(a.name.split(".")[1] for a in n.names if a.name.startswith("kbanalysis."))
    return out


def _graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for p, tree in _modules():
        if p.name == "__init__.py" and p.parent == PKG:
            continue  # the package's own facade imports every part
        part = _part(p)
        g.setdefault(part, set()).update(x for x in _imported_parts(tree) if x != part)
    return g


def test_no_import_circle_between_parts():
    g = _graph()
    state: dict[str, int] = {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                pytest.fail("import circle: " + " -> ".join(path + [n, m]))
            if m not in state:
                visit(m, path + [n])
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n, [])


def test_stages_and_engine_never_import_the_run_part():
    g = _graph()
    bad = {p: g[p] & {"run"} for p in STAGES + ENGINE + ("deliverables",) if g.get(p, set()) & {"run"}}
    assert not bad, f"parts importing kbanalysis.run: {bad}"


def test_engine_does_not_import_the_stages():
    g = _graph()
    bad = {p: g[p] & set(STAGES) for p in ENGINE if g.get(p, set()) & set(STAGES)}
    assert not bad, f"the engine imports a stage: {bad}"


def test_storage_is_asked_only_in_the_engine():
    where = []
    for p, tree in _modules():
        if _part(p) in ENGINE or _part(p) == "run":
            continue
        for n in ast.walk(tree):
            if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == "on_disk":
                where.append(f"{p.relative_to(PKG)}:{n.lineno}")
    assert where == [], where


def test_functions_are_short():
    long = {}
    for p, tree in _modules():
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = n.end_lineno - n.lineno + 1
                if size > MAX_LINES:
                    long[(str(p.relative_to(PKG)), n.name)] = size
    assert set(long) <= LONG_YET, f"functions longer than {MAX_LINES} lines: {long}"
