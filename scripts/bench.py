"""Benchmark the workbook on large generated cases (``make bench``; ``--quick`` for 10k clients only).

For every size (10k clients ≈ 1M sales lines, 100k clients ≈ 10M lines; seeded generator,
plain UTF-8 CSV case) it measures, each in a fresh process so that peak memory is its own:

* the whole workbook: ``kbanalysis run CASE --out RUN`` (all notebooks, HTML, Excel) — wall,
  CPU and the peak RSS of the process tree (CLI + kernel), with the seconds per notebook from
  ``run.json`` and the slowest cells (``papermill.duration`` of the executed notebooks). The
  bundled sample (the start-up) and every size run ``--repeat`` times (3), interleaved, and the
  median run is reported: this VM's timings drift by 10–25 % within a day, so one run of each
  cannot decide a target a few per cent wide;
* each stage on its own: loading (``io.load_case`` + ``Workbook.load``) and the stage functions
  ``audit``, ``turnover``, ``segments``, ``forecast``, ``summary`` on that run folder;
* the core aggregation (per client + per client-month) beside DuckDB doing the same group-bys on
  the same file, plain pandas groupby and lifetimes' ``summary_data_from_transaction_data``;
  reading the sales CSV with pandas and DuckDB.

Figures go to ``reports/bench/bench.md`` and ``reports/bench/bench.json``. No figure is asserted:
this is a measurement, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
NOTEBOOKS = ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary")
STAGES = ("load", "audit", "turnover", "segments", "forecast", "summary")
#: the notebook that runs each stage
STAGE_NOTEBOOK = {"audit": "01-audit", "turnover": "02-turnover", "segments": "03-segments",
                  "forecast": "04-forecast", "summary": "05-summary"}
AGGS = ("kbanalysis", "duckdb", "pandas", "lifetimes", "read_pandas", "read_duckdb")


# ----------------------------------------------------------------------------------------------
# measuring a child process: wall, CPU, peak RSS of its whole tree
# ----------------------------------------------------------------------------------------------
def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(cmd: list[str], env: dict | None = None, log: Path | None = None, cgroup: Path | None = None) -> dict:
    """Run ``cmd`` (inside the memory ``cgroup`` folder, if given); return wall seconds, CPU seconds (user +
    system of the tree), peak tree RSS (GB)."""
    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL
    enter = (lambda: (cgroup / "cgroup.procs").write_text(str(os.getpid()))) if cgroup else None
    p = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                         preexec_fn=enter)
    ps = psutil.Process(p.pid)
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(ps))
            stop.wait(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    rc = p.wait()
    stop.set()
    th.join()
    wall = time.perf_counter() - t0
    if log:
        out.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of children: the largest single descendant (kB on Linux)
    return {"rc": rc, "wall": round(wall, 2), "cpu": round(cpu, 2), "peak_gb": round(peak[0] / 1e9, 3),
            "max_single_gb": round(after.ru_maxrss / 1e6, 3)}


def workbook_cmd(case, run, *params: str) -> list[str]:
    """``kbanalysis run CASE --out RUN [-p key=value ...]`` with this interpreter's entry point."""
    return [str(Path(sys.executable).parent / "kbanalysis"), "run", str(case), "--out", str(run),
            *[x for p in params for x in ("-p", p)]]


def memory_cgroup(name: str, limit_bytes: int) -> Path | None:
    """A fresh memory cgroup (v1 or v2) limited to ``limit_bytes``, for a child to enter; None where this
    process may not create one (not root, no memory controller)."""
    v1 = Path("/sys/fs/cgroup/memory")
    base, limit_file = (v1, "memory.limit_in_bytes") if v1.is_dir() else (Path("/sys/fs/cgroup"), "memory.max")
    d = base / name
    try:
        d.mkdir(exist_ok=True)
        (d / limit_file).write_text(str(limit_bytes))
    except OSError:
        return None
    return d


def cgroup_events(d: Path) -> dict:
    """What the kernel recorded in a memory cgroup: out-of-memory kills and the peak usage (GB)."""
    out = {}
    for f in ("memory.oom_control", "memory.events"):
        if (d / f).exists():
            for line in (d / f).read_text().splitlines():
                k, _, v = line.partition(" ")
                if k == "oom_kill":
                    out["oom_kills"] = int(v)
    for f in ("memory.max_usage_in_bytes", "memory.peak"):
        if (d / f).exists():
            out["cgroup_peak_gb"] = round(int((d / f).read_text().strip()) / 1e9, 3)
    return out


def out_of_core(case: Path, out: Path, logs: Path, limit_gb: float) -> dict:
    """The workbook under a memory limit smaller than the case's sales file: kept on disk it runs;
    held in memory (``out_of_core=off``) it cannot. Outputs are compared with the unlimited run's."""
    limit = int(limit_gb * 1e9)
    res: dict = {"limit_gb": limit_gb, "sales_csv_gb": round((case / "sales.csv").stat().st_size / 1e9, 3)}
    for mode in ("on", "off"):
        cg = memory_cgroup(f"kbanalysis-bench-{mode}", limit)
        if cg is None:
            return {**res, "skipped": "cannot create a memory cgroup here (needs root and a memory controller)"}
        m = measure(workbook_cmd(case, out / f"ooc_{mode}", f"out_of_core={mode}"), log=logs / f"ooc_{mode}.log",
                    cgroup=cg)
        res[mode] = {**m, **cgroup_events(cg)}
        cg.rmdir()
        print(f"  out_of_core={mode} under {limit_gb} GB: rc {m['rc']}, {m['wall']} s, {m['peak_gb']} GB peak",
              flush=True)
    res["max_rel_diff"] = same_outputs(out / "workbook", out / "ooc_on")
    return res


def same_outputs(a: Path, b: Path) -> float | None:
    """The largest relative difference between the numbers of two run folders' output tables (their
    text must be identical: else ``inf``; a number is compared with at least 1e-9 of its column's largest);
    None if a table is missing. The money sums are added in
    another order on disk (DuckDB) than in memory, and the forecast's fitted models carry that last-bit
    difference on, to about 1e-8."""
    import numpy as np
    import pandas as pd

    names = ("clients.csv", "forecast.csv", "duplicates.csv", "lost_clients.csv", "quality_issues.csv",
             "wallet_groups.csv", "actions.csv", "forecast_errors.csv")
    if not all((a / n).exists() and (b / n).exists() for n in names):
        return None
    worst = 0.0
    for n in names:
        x, y = pd.read_csv(a / n), pd.read_csv(b / n)
        if list(x.columns) != list(y.columns) or len(x) != len(y):
            return float("inf")
        for c in x.columns:
            if pd.api.types.is_numeric_dtype(x[c]) and pd.api.types.is_numeric_dtype(y[c]):
                u, v = x[c].to_numpy(dtype=float), y[c].to_numpy(dtype=float)
                if not np.array_equal(np.isnan(u), np.isnan(v)):
                    return float("inf")
                ok = ~np.isnan(u)
                scale = 1e-9 * np.abs(u[ok]).max(initial=1.0)  # a value that is float noise around 0 is not
                d = np.abs(u[ok] - v[ok]) / np.maximum(np.abs(u[ok]), scale)  # measured against itself
                worst = max(worst, float(d.max()) if len(d) else 0.0)
            elif not x[c].astype(str).equals(y[c].astype(str)):
                return float("inf")
    return worst


def child(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def _report_self(result: dict) -> None:
    """Inside a child: add own CPU and peak RSS, print JSON as the last line."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    result.setdefault("cpu_self", round(ru.ru_utime + ru.ru_stime, 2))
    print("BENCH " + json.dumps(result), flush=True)


def run_child(args: list[str], log: Path) -> dict:
    m = measure(child(*args), log=log)
    res = {}
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("BENCH "):
            res = json.loads(line[6:])
    res.update({"proc_wall": m["wall"], "proc_cpu": m["cpu"], "rc": m["rc"]})
    res["rss_gb"] = m["peak_gb"]  # sampled; ru_maxrss of a child keeps the parent's peak across exec
    return res


# ----------------------------------------------------------------------------------------------
# children
# ----------------------------------------------------------------------------------------------
def child_stage(name: str, case: str, run: str) -> None:
    """One stage in this process; time excludes imports."""
    import kbanalysis as kb  # noqa: F401 - import cost is not the stage's
    from kbanalysis.run.cells import run_cells
    from kbanalysis.run.workbook import Workbook

    wb = Workbook(case_dir=case, run_dir=run)
    t0, c0 = time.perf_counter(), time.process_time()
    if name == "load":
        wb.load()
    else:  # the stage's notebook, cell by cell in this process (its charts included)
        run_cells(STAGE_NOTEBOOK[name], case_dir=case, run_dir=run)
    _report_self({"stage": name, "wall": round(time.perf_counter() - t0, 2),
                  "cpu": round(time.process_time() - c0, 2)})


#: Timed repetitions of each core aggregation in its process; the median is reported (the first
#: run of a fresh process pays for page faults the others reuse, the same for every engine).
AGG_REPEAT = 5


def _median_run(fn, repeat: int = AGG_REPEAT) -> dict:
    """Run ``fn`` ``repeat`` times: the median wall / CPU and every wall."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)  # all threads of the process
    mid = sorted(range(repeat), key=walls.__getitem__)[repeat // 2]
    return {"wall": round(walls[mid], 2), "cpu": round(cpus[mid], 2), "walls": [round(w, 2) for w in walls],
            "rows": out}


def child_agg(kind: str, case: str, run: str) -> None:
    import pandas as pd

    csv = Path(case) / "sales.csv"
    pq = Path(run) / "work" / "sales.parquet"
    load = json.loads((Path(run) / "work" / "load.json").read_text())
    as_of = pd.Timestamp(load["as_of"])
    res: dict = {"agg": kind}
    if kind == "read_pandas":
        def fn():
            return len(pd.read_csv(csv, engine="pyarrow", dtype={"date": "date32[pyarrow]"}))
    elif kind == "read_duckdb":
        import duckdb

        def fn():
            con = duckdb.connect()
            return con.execute(f"select * from read_csv('{csv}')").to_arrow_table().num_rows
    elif kind == "duckdb":
        # the same group-bys on the same file: per client (first/last order, orders, revenue
        # total and 12 months) and per client-month
        import duckdb

        start12 = (as_of - pd.DateOffset(months=12)).date()
        q1 = f"""
            with d as (select client_id, date, sum(amount) amount from '{pq}' where date < DATE '{as_of.date()}'
                       group by all)
            select client_id, min(date) filter (where amount > 0) first_date,
                   max(date) filter (where amount > 0) last_date, count(*) filter (where amount > 0) orders,
                   sum(amount) revenue_total, sum(amount) filter (where date >= DATE '{start12}') revenue_12m
            from d group by client_id order by client_id"""
        q2 = f"""select client_id, date_trunc('month', date) AS month, sum(amount) revenue, sum(amount - coalesce(cost, 0))
                 AS margin, count(*) AS lines from '{pq}' where date < DATE '{as_of.date()}' group by all
                 order by client_id, month"""

        def fn():
            con = duckdb.connect()
            return [len(con.execute(q1).df()), len(con.execute(q2).df())]
    else:
        from kbanalysis.sales import engine as aggregate
        from kbanalysis.io.runfolder import RunFolder
        from kbanalysis.run.workbook import SALES_CORE, SALES_LABELS

        # read as the stages read it: ids and groups as Parquet dictionaries (categoricals)
        t0 = time.perf_counter()
        src = RunFolder(run).read_work("sales", columns=list(SALES_CORE), labels=SALES_LABELS)
        res["read"] = round(time.perf_counter() - t0, 2)
        if kind == "kbanalysis":
            def fn():
                aggregate._cache.clear()  # each repetition encodes the lines again
                return [len(aggregate.client_summary(src, as_of)), len(aggregate.client_months(src, as_of))]
        elif kind == "pandas":
            def fn():
                s = src.loc[src["date"] < as_of]
                days = s.groupby(["client_id", "date"], observed=True)["amount"].sum().reset_index()
                pos = days.loc[days["amount"] > 0]
                a = pos.groupby("client_id", observed=True)["date"].agg(["min", "max", "size"])
                t = s.groupby("client_id", observed=True)["amount"].sum()
                m = s["date"].dt.to_period("M")
                b = s.groupby([s["client_id"], m], observed=True)["amount"].agg(["sum", "size"])
                return [len(a), len(b), len(t)]
        elif kind == "lifetimes":
            from lifetimes.utils import summary_data_from_transaction_data

            def fn():
                s = src.loc[src["date"] < as_of, ["client_id", "date", "amount"]]
                return [len(summary_data_from_transaction_data(s, "client_id", "date", monetary_value_col="amount",
                                                               observation_period_end=as_of - pd.Timedelta(days=1)))]
        else:
            raise SystemExit(f"unknown aggregation {kind!r}")
    res.update(_median_run(fn))
    _report_self(res)


# ----------------------------------------------------------------------------------------------
# the benchmark
# ----------------------------------------------------------------------------------------------
def ensure_case(n_clients: int, seed: int, root: Path) -> tuple[Path, int]:
    case = root / f"case_{n_clients // 1000}k_s{seed}"
    stamp = case / ".bench"
    if not stamp.exists():  # in a child: the benchmark process itself stays small
        subprocess.run(child("--_generate", str(n_clients), str(seed), str(case)), check=True)
        print(f"  generated {case} ({json.loads(stamp.read_text())['lines']:,} sales lines)", flush=True)
    return case, json.loads(stamp.read_text())["lines"]


def child_generate(n_clients: str, seed: str, case: str) -> None:
    from kbanalysis.synth.case import generate_case, write_case

    t0 = time.perf_counter()
    c = generate_case(n_clients=int(n_clients), seed=int(seed))
    write_case(c, case, messy=False)
    (Path(case) / ".bench").write_text(json.dumps({"lines": len(c.tables["sales"]),
                                                   "seconds": round(time.perf_counter() - t0, 1)}))


def slow_cells(run: Path, n: int = 8) -> list[dict]:
    cells = []
    for nb in NOTEBOOKS:
        p = run / "notebooks" / f"{nb}.ipynb"
        if not p.exists():
            continue
        data = json.loads(p.read_text())
        for c in data["cells"]:
            d = c.get("metadata", {}).get("papermill", {}).get("duration")
            if c["cell_type"] == "code" and d is not None:
                cells.append({"notebook": nb, "seconds": round(d, 2),
                              "cell": "".join(c["source"]).strip().splitlines()[0][:80]})
    return sorted(cells, key=lambda x: -x["seconds"])[:n]


def workbook_run(case: Path, run: Path, log: Path) -> dict:
    """One ``kbanalysis run``: its measure, the seconds per notebook and the slowest cells."""
    m = measure(workbook_cmd(case, run), log=log)
    rec = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    m["notebooks"] = rec.get("seconds", {})
    m["slow_cells"] = slow_cells(run)
    return m


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (the lower middle one for an even count), with every run's wall
    in ``walls`` and the largest peak of them all in ``peak_gb``."""
    ok = sorted((r for r in runs if r["rc"] == 0), key=lambda r: r["wall"]) or runs
    m = dict(ok[(len(ok) - 1) // 2])
    m.update(walls=[r["wall"] for r in runs], peak_gb=max(r["peak_gb"] for r in runs),
             rc=max((r["rc"] for r in runs), key=abs))
    return m


def workbook_runs(cases: dict, root: Path, repeat: int) -> dict:
    """Every workbook ``repeat`` times, interleaved (sample, 10k, 100k, sample, …), so that the machine's
    drift during the benchmark falls on every size alike; per case the median run (:func:`median_run`)."""
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    runs: dict = {key: [] for key in cases}
    for i in range(repeat):
        for key, (case, run) in cases.items():
            print(f"== workbook {key}, run {i + 1} of {repeat}", flush=True)
            m = workbook_run(case, run, logs / f"workbook_{key}_{i + 1}.log")
            runs[key].append(m)
            print(f"  {m['wall']} s wall, {m['cpu']} s CPU, {m['peak_gb']} GB peak (rc {m['rc']})", flush=True)
    return {key: median_run(r) for key, r in runs.items()}


def bench_size(n_clients: int, args, root: Path, workbook: dict | None = None) -> dict:
    print(f"== {n_clients:,} clients", flush=True)
    case, lines = ensure_case(n_clients, args.seed, root / "cases")
    out = root / f"run_{n_clients // 1000}k"
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    res: dict = {"clients": n_clients, "lines": lines, "case": str(case)}

    if workbook is not None:
        res["workbook"] = workbook
        if n_clients == max(args.sizes_list) and args.ooc_limit_gb > 0:
            res["out_of_core"] = out_of_core(Path(case), out, logs, args.ooc_limit_gb)

    stage_run = out / "stages"
    res["stages"] = {}
    for st in STAGES:
        r = run_child(["--_stage", st, str(case), str(stage_run)], logs / f"stage_{st}_{n_clients}.log")
        res["stages"][st] = r
        print(f"  stage {st:9s}: {r.get('wall')} s ({r.get('cpu')} s CPU), {r.get('rss_gb')} GB peak"
              + ("" if r["rc"] == 0 else f"  FAILED, see {logs}"), flush=True)

    res["aggregation"] = {}
    for kind in AGGS:
        if kind == "lifetimes" and args.no_lifetimes:
            continue
        r = run_child(["--_agg", kind, str(case), str(stage_run)], logs / f"agg_{kind}_{n_clients}.log")
        res["aggregation"][kind] = r
        print(f"  aggregation {kind:13s}: {r.get('wall')} s, {r.get('rss_gb')} GB"
              + ("" if r["rc"] == 0 else f"  FAILED, see {logs}"), flush=True)
    return res


def _g(d: dict, *keys, default="—"):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def markdown(results: list[dict], meta: dict) -> str:
    lines = [f"# kbanalysis benchmark ({meta['date']})", "",
             f"Machine: {meta['cpus']} CPUs, Python {meta['python']}, {meta['platform']}. Seed {meta['seed']}. "
             "Wall and CPU in seconds, peak RSS in GB (whole process tree for the workbook, the process "
             "for a stage: imports + reading its inputs included).", ""]
    head = "| | " + " | ".join(f"{r['clients'] // 1000}k clients / {r['lines'] / 1e6:.1f}M lines" for r in results)
    sep = "|---" * (len(results) + 1) + "|"
    growth = len(results) == 2
    lines += ["## Workbook and stages (wall s / CPU s / peak GB)", "",
              head + (" | growth 1M→10M (wall) |" if growth else " |"), sep + ("---|" if growth else "")]

    def row(label, get):
        vals = [get(r) for r in results]
        cells = [f"{v[0]} / {v[1]} / {v[2]}" if v else "—" for v in vals]
        g = ""
        if growth:
            try:
                g = f" {float(vals[1][0]) / float(vals[0][0]):.1f}× |"
            except (TypeError, ValueError, ZeroDivisionError, IndexError):
                g = " — |"
        lines.append(f"| {label} | " + " | ".join(cells) + " |" + g)

    row("**workbook total** (`kbanalysis run`)",
        lambda r: (r["workbook"]["wall"], r["workbook"]["cpu"], r["workbook"]["peak_gb"]) if "workbook" in r else None)
    for nb in NOTEBOOKS:
        lines_nb = [_g(r, "workbook", "notebooks", nb) for r in results]
        lines.append(f"| notebook {nb} (s) | " + " | ".join(str(x) for x in lines_nb) + " |" + (
            f" {lines_nb[1] / lines_nb[0]:.1f}× |" if growth and all(isinstance(x, float) for x in lines_nb) else (
                " |" if growth else "")))
    for st in STAGES:
        row(f"stage {st}", lambda r, st=st: (_g(r, "stages", st, "wall"), _g(r, "stages", st, "cpu"),
                                           _g(r, "stages", st, "rss_gb")) if st in r.get("stages", {}) else None)
    walls = [("sample", meta["startup"])] if "startup" in meta else []
    walls += [(f"{r['clients'] // 1000}k", r["workbook"]) for r in results if "workbook" in r]
    if walls and meta.get("repeat", 1) > 1:
        order = ", ".join([k for k, _ in walls] + [walls[0][0], "…"])
        lines += ["", f"Each workbook ran {meta['repeat']} times, interleaved ({order}); the "
                  "table shows the run with the median wall time and the largest peak memory of the runs. "
                  "Walls in run order (the sample has 400 clients): " + "; ".join(f"{k} " + ", ".join(str(x) for x in m.get("walls", [m["wall"]]))
                                                     for k, m in walls) + " s."]
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"] + targets(results, meta)
    lines += ["", "## Core aggregation (per client + per client-month)", "",
              "`kbanalysis` = `aggregate.client_summary` + `aggregate.client_months`; pandas and lifetimes "
              "work on the same frame, read from the run's `work/sales.parquet` as the stages read it (ids and "
              "product groups as categoricals; 'read+agg' includes that read); DuckDB runs the group-bys "
              "straight on the Parquet file (its time includes reading and `.df()`). `read_*`: reading the "
              f"case's sales CSV. Each is timed {AGG_REPEAT} times in one process and the median shown. "
              "Peak RSS of the process tree (sampled).", "",
              "| | " + " | ".join(f"{r['clients'] // 1000}k: agg s / read+agg s / GB / (read+agg)÷DuckDB"
                                  for r in results) + " |",
              "|---" * (len(results) + 1) + "|"]
    for kind in AGGS:
        cells = []
        for r in results:
            a = r.get("aggregation", {}).get(kind)
            d = _g(r, "aggregation", "duckdb", "wall")
            if not a:
                cells.append("—")
                continue
            tot = round(a["wall"] + a.get("read", 0.0), 2) if "wall" in a else "—"
            ratio = f"{tot / d:.2f}×" if isinstance(d, (int, float)) and d > 0 and "wall" in a else "—"
            cells.append(f"{a.get('wall')} / {tot} / {a.get('rss_gb')} / {ratio}")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    for r in results:
        k, lt = _g(r, "aggregation", "kbanalysis", "wall"), _g(r, "aggregation", "lifetimes", "wall")
        if isinstance(k, (int, float)) and isinstance(lt, (int, float)) and k > 0:
            lines.append(f"\n{r['clients'] // 1000}k: lifetimes / kbanalysis = {lt / k:.1f}×")
    for r in results:
        if "workbook" in r:
            lines += ["", f"## Slowest cells, {r['clients'] // 1000}k clients", "", "| notebook | s | cell |",
                      "|---|---|---|"]
            lines += [f"| {c['notebook']} | {c['seconds']} | `{c['cell']}` |" for c in r["workbook"]["slow_cells"]]
    return "\n".join(lines) + "\n"


def targets(results: list[dict], meta: dict) -> list[str]:
    """The issue's targets against the figures (rows of a markdown table)."""
    out = []
    by = {r["clients"]: r for r in results}
    big, small = by.get(100_000), by.get(10_000)

    def yes(ok):
        return "yes" if ok else "**no**"

    if big and "workbook" in big:
        w = big["workbook"]
        out.append(f"| `kbanalysis run`, 100k clients / {big['lines'] / 1e6:.1f}M lines: ≤ 120 s wall | {w['wall']} s "
                   f"| {yes(w['rc'] == 0 and w['wall'] <= 120)} |")
        out.append(f"| … ≤ 6 GB peak memory (process tree) | {w['peak_gb']} GB | {yes(w['peak_gb'] <= 6)} |")
        if small and "workbook" in small and "startup" in meta:
            st = meta["startup"]["wall"]
            lim = round(w["wall"] / 10 + st, 1)
            med = f", medians of {meta['repeat']} runs" if meta.get("repeat", 1) > 1 else ""
            out.append(f"| 10k clients ≤ 1/10 of 100k + start-up ({w['wall']} / 10 + {st} s for the 400-client "
                       f"sample = {lim} s{med}) | {small['workbook']['wall']} s | "
                       f"{yes(small['workbook']['wall'] <= lim)} |")
    for r in results:
        ag = r.get("aggregation", {})
        k, d, lt = ag.get("kbanalysis"), ag.get("duckdb"), ag.get("lifetimes")
        if k and d and "wall" in k and "wall" in d:
            tot = k["wall"] + k.get("read", 0.0)
            out.append(f"| {r['clients'] // 1000}k: aggregation (read + group-bys) within 2× of DuckDB | "
                       f"{tot:.2f} s vs {d['wall']} s = {tot / d['wall']:.2f}× | {yes(tot <= 2 * d['wall'])} |")
        if k and lt and "wall" in k and "wall" in lt and r["clients"] == 100_000:
            out.append(f"| {r['clients'] // 1000}k: aggregation ≥ 8× faster than lifetimes | {lt['wall']} s / "
                       f"{k['wall']} s = {lt['wall'] / k['wall']:.1f}× | {yes(lt['wall'] >= 8 * k['wall'])} |")
    for r in results:
        o = r.get("out_of_core")
        if not o:
            continue
        label = (f"| {r['clients'] // 1000}k: a case whose sales do not fit in memory still runs ({o['sales_csv_gb']} GB "
                 f"sales CSV, {o['limit_gb']} GB memory limit on the whole run)")
        if "skipped" in o:
            out.append(f"{label} | skipped: {o['skipped']} | **no** |")
            continue
        on, off = o["on"], o["off"]
        diff = o.get("max_rel_diff")
        same = diff is not None and diff <= 1e-6
        out.append(f"{label} | kept on disk: rc {on['rc']}, {on['wall']} s, {on['peak_gb']} GB peak, outputs "
                   f"{'equal' if same else 'NOT equal'} to the in-memory run (text identical, numbers within "
                   f"{diff:.1g} relative); held in memory: rc {off['rc']}"
                   f"{' (killed: out of memory)' if off.get('oom_kills') else ''} | {yes(on['rc'] == 0 and same)} |")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k clients only (smoke run)")
    ap.add_argument("--sizes", default="", help="client counts, comma-separated (default 10000,100000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "reports" / "bench"))
    ap.add_argument("--no-workbook", action="store_true", help="skip the end-to-end kbanalysis run")
    ap.add_argument("--no-lifetimes", action="store_true")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each workbook, interleaved across sizes; the median is reported (default 3)")
    ap.add_argument("--ooc-limit-gb", type=float, default=1.5,
                    help="memory limit of the out-of-core run on the largest case (0 = skip it)")
    ap.add_argument("--_stage", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--_agg", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--_generate", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._stage:
        child_stage(*a._stage)
        return 0
    if a._agg:
        child_agg(*a._agg)
        return 0
    if a._generate:
        child_generate(*a._generate)
        return 0
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    sizes = [int(x) for x in a.sizes.split(",") if x] or ([10_000] if a.quick else [10_000, 100_000])
    a.sizes_list = sizes
    if not a.no_lifetimes:
        try:
            import lifetimes  # noqa: F401
        except ImportError:
            print("lifetimes is not installed (pip install -e '.[bench]'); skipping it", flush=True)
            a.no_lifetimes = True
    root = Path(a.out)
    root.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "seed": a.seed, "sizes": sizes}
    a.repeat = meta["repeat"] = max(1, a.repeat)
    books: dict = {}
    if not a.no_workbook:  # the start-up (kernels, imports, HTML) is the run of the bundled 400-client sample
        cases = {"sample": (REPO / "data" / "sample", root / "run_sample")}
        for n in sizes:
            cases[n] = (ensure_case(n, a.seed, root / "cases")[0], root / f"run_{n // 1000}k" / "workbook")
        books = workbook_runs(cases, root, a.repeat)
        meta["startup"] = books.pop("sample")
    results = [bench_size(n, a, root, books.get(n)) for n in sizes]
    (root / "bench.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2, ensure_ascii=False))
    md = markdown(results, meta)
    (root / "bench.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
