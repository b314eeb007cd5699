"""The ``kbanalysis`` command: run, validate, sample, params.

Errors that come from the user's data or arguments print one message and exit with code 2.
"""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from kbanalysis.errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: one line, exit 2
        self.print_usage(sys.stderr)
        raise UserError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kbanalysis", description="Audit of a B2B client base: a parameterised Jupyter workbook.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run the whole workbook on a case folder")
    r.add_argument("case_dir", help="folder with clients, sales and the optional tables")
    r.add_argument("--out", required=True, help="run folder to write")
    r.add_argument("--params", help="YAML file with parameters")
    r.add_argument("-p", dest="assign", action="append", metavar="KEY=VALUE", help="a parameter (repeatable)")
    r.add_argument("--only", help="comma-separated notebooks to run (e.g. 01-audit,02-turnover)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--force", action="store_true",
                   help="write into a non-empty --out that is no run folder (only the run's own files are replaced)")

    v = sub.add_parser("validate", help="load and check a case, table by table")
    v.add_argument("case_dir")

    s = sub.add_parser("sample", help="write a synthetic case (with its ground truth in truth/)")
    s.add_argument("out_dir")
    s.add_argument("--clients", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--plain", action="store_true", help="plain UTF-8 CSV instead of the messy export form")
    s.add_argument("--months", type=int, default=None, help="months of sales history, 14-36 (default 36)")
    s.add_argument("--season", type=float, default=None,
                   help="yearly amplitude of the monthly sales, 0-0.4 (default: each group its own, about 0.06 in all)")
    s.add_argument("--trend", type=float, default=None, help="monthly growth, -0.01...0.01 (default: 6 %% a year)")
    s.add_argument("--no-deals", action="store_true", help="no deals table (the same world without the CRM export)")
    s.add_argument("--no-marketing", action="store_true", help="no marketing estimate")
    s.add_argument("--codes", action="store_true",
                   help="channel and product group codes (dealer, tools) with their names in mapping.yaml's labels, "
                        "instead of the Russian names a 1C export writes")

    sub.add_parser("params", help="list every parameter with its default and meaning")
    return p


def cmd_run(a) -> int:
    from kbanalysis.run import params as P
    from kbanalysis.run.runner import NOTEBOOKS, parse_assignments, read_params_file, run_workbook

    values = read_params_file(a.params) if a.params else {}
    values.update(parse_assignments(a.assign))
    P.validate({k: v for k, v in values.items()})  # unknown names and values out of range: before anything runs
    if values.get("actions_file"):  # the notebooks run in the run folder: the file is named from here
        f = Path(str(values["actions_file"])).expanduser().resolve()
        if not f.is_file():
            raise UserError(f"parameter actions_file={values['actions_file']!r}: no such file")
        values["actions_file"] = str(f)
    nbs = NOTEBOOKS
    if a.only:
        nbs = tuple(x.strip() for x in a.only.split(",") if x.strip())
        bad = [x for x in nbs if x not in NOTEBOOKS]
        if bad:
            raise UserError(f"--only: unknown notebook {bad[0]!r}; notebooks are {', '.join(NOTEBOOKS)}")
    res = run_workbook(a.case_dir, a.out, values, notebooks=nbs, progress=not a.quiet, force=a.force)
    total = sum(res.seconds.values())
    print(f"run folder: {res.run_dir}  ({total:.1f} s: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in res.seconds.items()) + ")")
    for h in res.html:
        print(f"  report: {h}")
    return 0


def cmd_validate(a) -> int:
    import tempfile

    from kbanalysis.io.case import load_case

    with tempfile.TemporaryDirectory(prefix="kbanalysis-validate-") as tmp:  # sales stream through, never held
        case = load_case(a.case_dir, sales_to=Path(tmp) / "sales.parquet")
    print(f"case {case.path}")
    for name, c in case.counts.items():
        print(f"  {case.files[name]:<22} read {c['read']:>9,}  used {c['used']:>9,}  rejected {c['rejected']:>7,}")
    if case.drivers:
        print(f"  drivers on client cards: {', '.join(case.drivers)}")
    if case.ignored_numeric:
        print(f"  numeric card columns ignored, not drivers: {', '.join(case.ignored_numeric)} (to use one, list "
              "every driver: -p drivers=outlets,COLUMN)")
    if len(case.issues):
        print(f"\n{len(case.issues):,} problems found:")
        for table, grp in case.issues.groupby("table", sort=True):
            print(f"  {table}:")
            for code, g2 in grp.groupby("issue", sort=True):
                ex = g2.iloc[0]
                row = f"row {ex['row']}: " if not _isna(ex["row"]) else ""
                print(f"    {code:<22} {len(g2):>6,}  e.g. {row}{ex['detail']}")
        return 1
    print("no problems found")
    return 0


def _isna(x) -> bool:
    import pandas as pd

    return bool(pd.isna(x))


def cmd_sample(a) -> int:
    from kbanalysis.synth.case import MONTHS_RANGE, SEASON_RANGE, TREND_RANGE, sample_case

    if a.clients < 2:
        raise UserError("--clients must be at least 2")
    opts = {}
    for name, lim in (("months", MONTHS_RANGE), ("season", SEASON_RANGE), ("trend", TREND_RANGE)):
        v = getattr(a, name)
        if v is not None:
            if not lim[0] <= v <= lim[1]:
                raise UserError(f"--{name} must be between {lim[0]} and {lim[1]}, not {v}")
            opts[name] = v
    if a.no_deals:
        opts["deals"] = False
    if a.no_marketing:
        opts["marketing"] = False
    sample_case(a.out_dir, n_clients=a.clients, seed=a.seed, messy=not a.plain, names=not a.codes, **opts)
    print(f"synthetic case written to {Path(a.out_dir)} (ground truth in {Path(a.out_dir) / 'truth'})")
    return 0


def cmd_params(a) -> int:
    from kbanalysis.run.params import describe

    print(describe())
    return 0


def main(argv=None) -> int:
    from kbanalysis.run.runner import Interrupted

    a = None
    try:
        a = build_parser().parse_args(argv)
        return {"run": cmd_run, "validate": cmd_validate, "sample": cmd_sample, "params": cmd_params}[a.command](a)
    except UserError as e:
        print(f"kbanalysis: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        out = getattr(a, "out", None)
        kept = f"; --out {out} was left as it was" if out else ""
        print(f"kbanalysis: interrupted{kept}", file=sys.stderr)
        return 128 + e.signum if isinstance(e, Interrupted) else 130
    except Exception as e:  # noqa: BLE001 - an internal failure: one line; details in the run's folder
        return _internal_error(e)


def _internal_error(e: Exception) -> int:
    """One line for a failure that is not the user's: where the details are (never a file outside a run)."""
    import os

    from kbanalysis.run.runner import NotebookFailed, RunFailed

    cause = e.cause if isinstance(e, RunFailed) else e
    if cause.__class__.__name__ == "DeadKernelError":  # nbclient's: the kernel process was killed
        print("kbanalysis: a notebook's kernel died, most often for lack of memory; run again with "
              "-p out_of_core=on to keep the sales lines on disk", file=sys.stderr)
        return 1
    if isinstance(e, (NotebookFailed, RunFailed)):
        print(f"kbanalysis: {e}", file=sys.stderr)
        return 1
    if os.environ.get("KBANALYSIS_TRACEBACK"):
        traceback.print_exc()
    print(f"kbanalysis: internal error: {e.__class__.__name__}: {e} (set KBANALYSIS_TRACEBACK=1 to see where)",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
