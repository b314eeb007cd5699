"""The run folder: where notebooks write their results and read each other's.

Contract outputs (``clients.csv`` …) sit at the top; intermediate tables go to ``work/`` as
Parquet; charts to ``charts/``.

>>> import tempfile, pandas as pd
>>> rf = RunFolder(tempfile.mkdtemp())
>>> rf.write_work("demo", pd.DataFrame({"a": [1]}))
>>> rf.read_work("demo")["a"].tolist()
[1]
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from kbanalysis.errors import UserError


def _formatted_floats(df: pd.DataFrame) -> pd.DataFrame:
    """Float columns as ``%.10g`` text (empty for NaN), formatted in one pass per column: pandas'
    ``float_format`` calls back into Python for every cell, about four times slower on big tables.

    >>> _formatted_floats(pd.DataFrame({"a": [1.5, float("nan"), 1 / 3], "b": ["x", "y", "z"]}))["a"].tolist()
    ['1.5', '', '0.3333333333']
    """
    out = df.copy(deep=False)
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c]) and not isinstance(df[c].dtype, pd.api.extensions.ExtensionDtype):
            out[c] = pd.Series(["" if v != v else "%.10g" % v for v in df[c].to_numpy().tolist()],
                               index=df.index, dtype=object)
    return out


#: text a spreadsheet would read as a formula (OWASP "CSV injection"): after any quotes, one of these first
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")
_GUARDED = re.compile(r"^'+[=+\-@\t\r]")


def _text_columns(df: pd.DataFrame) -> list:
    def text(dtype) -> bool:
        if isinstance(dtype, pd.CategoricalDtype):
            return pd.api.types.is_string_dtype(dtype.categories.dtype)
        return pd.api.types.is_string_dtype(dtype)

    return [c for c in df.columns if text(df[c].dtype)]


def guarded(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, neutralised as OWASP advises: a ``'`` before a
    leading ``=``, ``+``, ``-``, ``@``, tab or CR (and before a value that already starts with quotes and one of
    them, so that :func:`unguarded` gives back exactly what was written). Numbers stay numbers.

    >>> guarded(pd.DataFrame({"g": ["=1+2", "@SUM(1)", "ok", "'=x"], "n": [-1, 2, 3, 4]})).to_dict("list")
    {'g': ["'=1+2", "'@SUM(1)", 'ok', "''=x"], 'n': [-1, 2, 3, 4]}
    """
    out = df.copy(deep=False)
    for c in _text_columns(df):
        s = df[c]
        hit = s.astype("string").str.contains(_FORMULA, na=False).to_numpy(dtype=bool)
        if hit.any():
            out[c] = s.astype(object).where(~hit, "'" + s.astype("string").astype(object))
    return out


def unguarded(df: pd.DataFrame) -> pd.DataFrame:
    """The text as it was before :func:`guarded` (for reports that read a run's CSV outputs back).

    >>> unguarded(guarded(pd.DataFrame({"g": ["=1+2", "'=x", "-", "a"]})))["g"].tolist()
    ['=1+2', "'=x", '-', 'a']
    """
    out = df.copy(deep=False)
    for c in _text_columns(df):
        s = df[c].astype("string")
        hit = s.str.contains(_GUARDED, na=False).to_numpy(dtype=bool)
        if hit.any():
            out[c] = df[c].where(~hit, s.str.slice(1))
    return out


def write_table_csv(df: pd.DataFrame, path) -> None:
    """A table as the run writes them: UTF-8, ``\\n`` lines, ``.`` decimals with 10 significant digits, formula-like
    text neutralised (:func:`guarded`)."""
    _formatted_floats(guarded(df)).to_csv(path, index=False, encoding="utf-8", lineterminator="\n", float_format="%.10g",
                                 date_format="%Y-%m-%d")


class RunFolder:
    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.work = self.path / "work"
        self.charts = self.path / "charts"

    # internal tables -------------------------------------------------------------------
    def write_work(self, name: str, df: pd.DataFrame) -> None:
        self.work.mkdir(exist_ok=True)
        df.to_parquet(self.work / f"{name}.parquet", index=False)

    def has_work(self, name: str) -> bool:
        return (self.work / f"{name}.parquet").exists()

    def read_work(self, name: str, columns: list[str] | None = None, labels: tuple[str, ...] = ()) -> pd.DataFrame:
        """A work table; ``labels`` are text columns read as categoricals.

        Parquet stores repeated text (client ids, product groups) as dictionaries: read as
        categoricals, 10M ids cost one small dictionary and an array of codes instead of 10M
        strings, and the aggregation engine works on the codes. The categories keep the text
        dtype a plain read gives.
        """
        p = self.work / f"{name}.parquet"
        if not p.exists():
            raise UserError(f"{p} is missing: run the notebooks in order (kbanalysis run runs them all)")
        if not labels:
            return pd.read_parquet(p, columns=columns)
        import pyarrow.parquet as pq

        plain = pq.read_schema(p).empty_table().to_pandas().dtypes
        labels = [c for c in labels if c in plain.index and (columns is None or c in columns)]
        df = pd.read_parquet(p, columns=columns, read_dictionary=labels)
        for c in labels:
            cats = df[c].cat.categories
            if cats.dtype != plain[c]:
                df[c] = pd.Categorical.from_codes(df[c].array.codes, categories=cats.astype(plain[c]),
                                                  validate=False)
        return df

    def write_json(self, name: str, data: dict) -> None:
        (self.path / name).write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str),
                                      encoding="utf-8")

    def read_json(self, name: str) -> dict:
        p = self.path / name
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}

    # contract outputs ------------------------------------------------------------------
    def write_csv(self, name: str, df: pd.DataFrame) -> Path:
        """Write an output table sorted by its first column, UTF-8, ``.`` decimals, deterministic."""
        out = df.sort_values(df.columns[0], kind="mergesort") if len(df) else df
        p = self.path / name
        write_table_csv(out, p)
        return p

    def chart_path(self, name: str) -> Path:
        self.charts.mkdir(exist_ok=True)
        return self.charts / f"{name}.png"


# ---------------------------------------------------------------------------------- where a run may write
#: the name of the file that marks a folder as a run of kbanalysis
RUN_RECORD = "run.json"


def is_run_folder(path) -> bool:
    """Whether ``path`` is a run folder kbanalysis wrote: a ``run.json`` with the case and its input hashes,
    or the ``work/stages.json`` of a notebook run by hand.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> is_run_folder(d)
    False
    >>> _ = (d / "run.json").write_text('{"case_dir": "c", "input_sha256": {}}')
    >>> is_run_folder(d)
    True
    """
    p = Path(path)
    try:
        rec = json.loads((p / RUN_RECORD).read_text(encoding="utf-8"))
        if isinstance(rec, dict) and "case_dir" in rec and "input_sha256" in rec:
            return True
    except (OSError, ValueError):
        pass
    return (p / "work" / "stages.json").is_file()


def _inside(a: Path, b: Path) -> bool:
    """Whether ``a`` is ``b`` or lies inside it."""
    return a == b or b in a.parents


def check_out(case_dir, out, force: bool = False) -> Path:
    """Refuse a run folder that would touch the input or the user's own files; return it resolved.

    ``out`` equal to the case folder, inside it or holding it is always refused; an existing, non-empty
    ``out`` that is not a previous run folder (:func:`is_run_folder`) is refused unless ``force``.

    >>> import tempfile, pathlib
    >>> case = pathlib.Path(tempfile.mkdtemp())
    >>> check_out(case, case / "out")
    Traceback (most recent call last):
    ...
    kbanalysis.errors.UserError: --out ... is inside the case folder ...: the run would write among the input files; choose a folder outside it
    """
    case, target = Path(case_dir).resolve(), Path(out).resolve()
    if target == case:
        raise UserError(f"--out {target} is the case folder: the run would overwrite the input files; "
                        "choose another folder")
    if _inside(target, case):
        raise UserError(f"--out {target} is inside the case folder {case}: the run would write among the input "
                        "files; choose a folder outside it")
    if _inside(case, target):
        raise UserError(f"--out {target} holds the case folder {case}: replacing it would delete the input; "
                        "choose another folder")
    if target.exists() and not target.is_dir():
        raise UserError(f"--out {target} is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not is_run_folder(target) and not force:
        raise UserError(f"--out {target} is not empty and is not a kbanalysis run folder; choose an empty or new "
                        "folder, or pass --force to write the run's files into it (other files are left alone)")
    return target


def staging_folder(out: Path) -> Path:
    """A fresh hidden folder beside ``out`` that a run writes into before :func:`publish` moves it in place."""
    import tempfile

    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.kbanalysis-partial-", dir=out.parent))


def publish(staged: Path, out: Path) -> Path:
    """Move a finished run from ``staged`` to ``out``.

    A previous run folder (or an empty folder) at ``out`` is replaced whole; in any other existing folder
    (``--force``) only the entries the run wrote are replaced, everything else is left as it was.
    """
    import shutil

    if out.exists() and (is_run_folder(out) or not any(out.iterdir())):
        old = out.parent / f".{out.name}.kbanalysis-old-{staged.name.rsplit('-', 1)[-1]}"
        out.rename(old)
        staged.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    elif out.exists():
        for entry in sorted(staged.iterdir()):
            dest = out / entry.name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            elif dest.exists() or dest.is_symlink():
                dest.unlink()
            entry.rename(dest)
        staged.rmdir()
    else:
        staged.rename(out)
    return out


def discard(staged: Path) -> None:
    """Remove an unfinished run's folder."""
    import shutil

    shutil.rmtree(staged, ignore_errors=True)
