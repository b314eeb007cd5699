"""Shared helpers of the real-data converters (data/real/*.py): where the sources are, writing a case.

The converters read the public datasets from ``../shared/real-data`` (or ``--src`` /
``$KBANALYSIS_REAL_DATA``) and write a case folder that follows the data contract to the folder
given on the command line. They never write into the repository's tracked files: real data stays
out of git (``data/`` is ignored except ``data/sample`` and these scripts).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def real_data_dir(path=None) -> Path:
    """``path``, else ``$KBANALYSIS_REAL_DATA``, else ``../shared/real-data`` next to the repository."""
    if path:
        return Path(path)
    env = os.environ.get("KBANALYSIS_REAL_DATA")
    return Path(env) if env else (REPO.parent / "shared" / "real-data").resolve()


def source_folder(name: str, src=None) -> Path:
    """The folder of one dataset; a clear error when it is absent."""
    folder = real_data_dir(src) / name
    if not folder.is_dir():
        raise SystemExit(f"{folder}: dataset folder not found (give --src or set KBANALYSIS_REAL_DATA "
                         "to the real-data folder)")
    return folder


def parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("out_dir", help="the case folder to write (created; e.g. /tmp/olist or reports/cases/olist)")
    ap.add_argument("--src", default="", help="folder of the real datasets (default ../shared/real-data)")
    ap.add_argument("--seed", type=int, default=0, help="seed of everything random (default 0)")
    return ap


def check_out_dir(out_dir) -> Path:
    """Refuse to write a real case into a tracked part of the repository."""
    out = Path(out_dir).resolve()
    try:
        rel = out.relative_to(REPO)
    except ValueError:
        return out
    first = rel.parts[0] if rel.parts else ""
    if first not in ("reports", "data") or rel.parts[:2] in (("data", "sample"), ("data", "real")):
        raise SystemExit(f"{out}: write real cases outside the repository or under reports/ (git-ignored)")
    return out


def write_case(out_dir, tables: dict[str, pd.DataFrame], readme: str = "") -> Path:
    """Write ``{name: frame}`` as ``NAME.csv`` (UTF-8, ``,``, ISO dates) into ``out_dir``.

    Tables named in ``tables`` with value ``None`` are not written (an absent optional table).
    ``readme`` goes to ``CASE.md`` (how the case was made).
    """
    out = check_out_dir(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if df is None:
            continue
        df.to_csv(out / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n",
                  date_format="%Y-%m-%d", float_format="%.10g")
    if readme:
        (out / "CASE.md").write_text(readme, encoding="utf-8")
    return out


def summary_line(tables: dict[str, pd.DataFrame]) -> str:
    return ", ".join(f"{k} {len(v):,}" for k, v in tables.items() if v is not None)
