"""Backtest the workbook on the UCI Online Retail case cut at 2011-09-01 (see data/real/README.md).

    .venv/bin/python scripts/backtest_online_retail.py                      # package functions, ~15 s
    .venv/bin/python scripts/backtest_online_retail.py --run /tmp/ret       # the files of a finished run
    .venv/bin/python scripts/backtest_online_retail.py --json reports/backtest-online-retail.json

The real data is read from ../shared/real-data (or --real-data / $KBANALYSIS_REAL_DATA); nothing is
written into the repository unless --json points there (reports/ is ignored by git).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from kbanalysis.run.backtest import AS_OF, END, online_retail_backtest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real-data", default="", help="folder of the real datasets (default ../shared/real-data)")
    ap.add_argument("--run", default=None, help="read the calls from this run folder instead of computing them")
    ap.add_argument("--as-of", default=AS_OF)
    ap.add_argument("--end", default=END)
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    a = ap.parse_args(argv)
    res = online_retail_backtest(a.real_data or None, as_of=a.as_of, end=a.end, run_dir=a.run)
    if not res.available:
        print(res.message, file=sys.stderr)
        return 2
    print(res.text())
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.3f}".format):
        for name, table in res.tables.items():
            print(f"\n== {name}\n{table.to_string(index=False)}")
    print("\nseconds:", json.dumps(res.figures["seconds"]))
    if a.json:
        p = Path(a.json)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(res.figures, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"figures: {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
