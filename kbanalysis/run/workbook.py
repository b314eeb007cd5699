"""What the notebooks hold on to: parameters, the case's tables, the run folder, display helpers.

A notebook creates one :class:`Workbook` from its parameters cell (``Workbook(globals())``) and
then makes one package call per cell. Tables pass between notebooks only as files of the run
folder (``work/*.parquet`` and the contract outputs).

Empty ``case_dir`` / ``run_dir`` (a notebook opened by hand) fall back to the environment
variables ``KBANALYSIS_CASE_DIR`` / ``KBANALYSIS_RUN_DIR``, then to the bundled sample
``data/sample`` and ``reports/interactive``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from kbanalysis.deliverables import i18n
from kbanalysis.run import params as P
from kbanalysis.errors import UserError
from kbanalysis.sales.engine import last_sale, on_disk
from kbanalysis.io.case import Case, empty_issues, find_table_file, issue_frame, load_case
from kbanalysis.contract import check_output
from kbanalysis.io.runfolder import RunFolder, write_table_csv
from kbanalysis.schema import OUTPUT_EXTRAS, OUTPUTS, TABLES

REPO = Path(__file__).resolve().parents[2]
#: the stages each stage reads the results of (through the run folder)
REQUIRES = {"audit": (), "wallet": ("audit",), "segments": ("audit", "wallet"), "forecast": ("audit",),
            "general": ("audit", "wallet", "segments", "forecast")}
NOTEBOOK_OF = {s: n for n, s in P.NOTEBOOK_STAGE.items()}
#: The sales columns the per-client analysis reads (the loaded table has every canonical column,
#: empty when the case lacks it, so the stages can name any of them).
SALES_CORE = ("date", "client_id", "product_group", "amount", "cost")
#: Sales columns read as categoricals (Parquet dictionaries) by the stages that aggregate per client.
SALES_LABELS = ("client_id", "product_group")


class Workbook:
    """Parameters + run folder + the case's tables, for the notebooks."""

    def __init__(self, namespace: dict | None = None, stage: str | None = None, **overrides):
        names = P.for_stage(stage) if stage else list(P.PARAMS)
        if stage and namespace is not None and not namespace.get("_kb_checked"):
            _reject_foreign(namespace, stage)  # papermill -p of a name this notebook does not take
            namespace["_kb_checked"] = True  # rerunning the setup cell in JupyterLab does not check again
        ns = {k: v for k, v in (namespace or {}).items() if k in names}
        ns.update(overrides)
        self.stage = stage
        self.params = P.validate(ns)
        case = self.params["case_dir"] or os.environ.get("KBANALYSIS_CASE_DIR") or str(REPO / "data" / "sample")
        run = self.params["run_dir"] or os.environ.get("KBANALYSIS_RUN_DIR") or str(REPO / "reports" / "interactive")
        self.params["case_dir"], self.params["run_dir"] = str(Path(case).resolve()), str(Path(run).resolve())
        self.rf = RunFolder(self.params["run_dir"])
        self.lang = self.params["lang"]
        self.currency = self.params["currency"]
        self._cache: dict[str, pd.DataFrame] = {}
        if stage:
            self._check_before(stage)

    # ------------------------------------------------------------------ stages of a run
    def _check_before(self, stage: str) -> None:
        """Refuse to start a stage whose inputs no earlier notebook has written into this run folder."""
        done = self.stages()
        missing = [s for s in REQUIRES.get(stage, ()) if s not in done]
        if missing:
            first = ", ".join(NOTEBOOK_OF[s] for s in missing)
            raise UserError(f"{self.rf.path}: this notebook needs the results of {first}; run {first} first on this "
                            "run folder (kbanalysis run runs them all in order)")

    def stages(self) -> dict:
        """What ``work/stages.json`` records: per finished stage, the parameters it ran with and whether a
        stage it depends on has been rerun since (``stale``)."""
        return self.rf.read_json("work/stages.json") or {}

    def finish(self):
        """Record that this notebook's stage finished, with the parameters it ran with, and mark the stages
        that read its results stale (they were made from the previous results) in ``work/stages.json`` and
        ``run.json``; says which notebooks to rerun when there are any."""
        done = self.stages()
        done[self.stage] = {"params": {k: self.params[k] for k in P.for_stage(self.stage)}, "stale": False}
        stale = [s for s, deps in REQUIRES.items() if self.stage in deps and s in done]
        for s in stale:
            done[s]["stale"] = True
        self.rf.work.mkdir(parents=True, exist_ok=True)
        self.rf.write_json("work/stages.json", done)
        record = self.rf.read_json("run.json")
        if record:
            record["stages"] = done
            record["stale"] = sorted(NOTEBOOK_OF[s] for s, r in done.items() if r.get("stale"))
            self.rf.write_json("run.json", record)
        return self.say("nb.stale", notebooks=", ".join(NOTEBOOK_OF[s] for s in stale)) if stale else None

    def run_params(self) -> dict:
        """The parameters of the whole run: each stage's own as that stage last ran, the general ones of this
        notebook, in the order of :mod:`kbanalysis.run.params`."""
        merged = dict(self.params)
        for s, rec in self.stages().items():
            if s != "general":
                merged.update({k: v for k, v in rec["params"].items() if P.PARAMS[k].stage == s})
        return {k: merged[k] for k in P.PARAMS}

    # ------------------------------------------------------------------ loading (01-audit)
    def load(self) -> pd.DataFrame:
        """Load and validate the case, store its canonical tables in the run folder.

        Returns the row accounting per table (read / used / rejected).
        """
        on_disk = self._sales_on_disk()
        self.rf.work.mkdir(exist_ok=True)
        case: Case = load_case(self.params["case_dir"], drivers=self.params["drivers"] or None,
                               sales_to=self.rf.work / "sales.parquet" if on_disk else None)
        sales = self._sales_file() if on_disk else case.tables["sales"]
        as_of = self._resolve_as_of(sales)
        extra = self._case_checks(case, sales, as_of)
        for name, df in case.tables.items():
            self.rf.write_work(name, df)
        issues = pd.concat([case.issues, extra], ignore_index=True) if len(extra) else case.issues
        self.rf.write_work("load_issues", issues)
        meta = {"as_of": str(as_of.date()), "counts": case.counts, "files": case.files, "hashes": case.hashes,
                "drivers": case.drivers, "ignored_numeric": case.ignored_numeric, "tables": sorted(set(case.tables) | {"sales"}), "sales_on_disk": on_disk}
        self.rf.write_json("work/load.json", meta)
        self._cache.clear()
        return self.counts()

    def _sales_on_disk(self) -> bool:
        """Whether this run keeps the sales lines on disk (parameter ``out_of_core``; ``auto``: when the
        sales file is larger than a quarter of the free memory, since loading takes about three times
        the size of a CSV)."""
        mode = self.params["out_of_core"]
        if mode != "auto":
            return mode == "on"
        path = find_table_file(Path(self.params["case_dir"]), "sales")
        return path is not None and path.stat().st_size > free_memory() / 4

    def _sales_file(self):
        from kbanalysis.sales.ondisk import SalesFile

        return SalesFile(self.rf.work / "sales.parquet", temp_dir=self.rf.work / "duckdb_tmp",
                         memory_limit=f"{max(free_memory() // 3, 256 << 20) >> 20}MB")

    def _resolve_as_of(self, sales) -> pd.Timestamp:
        if self.params["as_of"]:
            return pd.Timestamp(self.params["as_of"]).normalize()
        return (last_sale(sales) + pd.Timedelta(days=1)).normalize()

    def _case_checks(self, case: Case, sales, as_of: pd.Timestamp) -> pd.DataFrame:
        span = sales_span(sales, as_of)
        if not span["past"]:
            raise UserError(f"{case.files['sales']}: no sales before the analysis date {as_of.date()} "
                            f"(sales run {span['first'].date()} … {span['last'].date()}); "
                            "set -p as_of=YYYY-MM-DD within the sales period")
        if not span["recent"]:
            raise UserError(f"{case.files['sales']}: no sales in the 12 months before {as_of.date()} (the last sale "
                            f"is {span['last_past'].date()}); set -p as_of=YYYY-MM-DD to the end of the data")
        found = []
        last = span["last_past"]
        if not self.params["as_of"] and last < pd.Timestamp.today().normalize() - pd.DateOffset(months=12):
            found.append(issue_frame("sales", [pd.NA], [pd.NA], "no_recent_sales",
                                     f"the last sale is on {last.date()}, more than 12 months before today: the "
                                     f"audit is made as of {as_of.date()}; set -p as_of=YYYY-MM-DD if that is not "
                                     "what you want"))
        months = span["months"]
        if months < 2:
            found.append(issue_frame("sales", [pd.NA], [pd.NA], "short_history",
                                     f"only {months} month of sales history: rhythms, growth and the statistical "
                                     "forecast are not reliable"))
        for name in ("deals", "stock", "marketing", "survey", "contacts"):
            if name not in case.tables:
                found.append(issue_frame(name, [pd.NA], [pd.NA], "missing_table",
                                         f"the optional table {name} is absent: "
                                         f"{TABLES[name].meaning} is not used"))
        return pd.concat(found, ignore_index=True) if found else empty_issues()

    # ------------------------------------------------------------------ tables
    @property
    def meta(self) -> dict:
        m = self.rf.read_json("work/load.json")
        if not m:
            raise UserError(f"{self.rf.path}: the case is not loaded yet; run notebook 01-audit first "
                            "(kbanalysis run runs them all)")
        return m

    @property
    def as_of(self) -> pd.Timestamp:
        return pd.Timestamp(self.meta["as_of"])

    @property
    def drivers(self) -> list[str]:
        return list(self.meta.get("drivers", []))

    @property
    def ignored_numeric(self) -> list[str]:
        """Numeric client-card columns that are not drivers (neither known nor named by drivers)."""
        return list(self.meta.get("ignored_numeric", []))

    def has(self, name: str) -> bool:
        """Whether the case has table ``name`` (optional tables may be absent)."""
        return name in self.meta.get("tables", [])

    def table(self, name: str, columns: list[str] | None = None, labels: tuple[str, ...] = ()) -> pd.DataFrame | None:
        """A canonical input table of the case (None when the case lacks it).

        ``columns`` reads only those columns (large sales tables: less memory, faster); ``labels``
        reads those text columns as categoricals (see :meth:`RunFolder.read_work`).
        """
        if not self.has(name):
            return None
        if name == "sales" and self.meta.get("sales_on_disk"):
            return self._sales_file()  # columns and labels do not matter: queries read what they need
        key = f"{name}:{','.join(columns or ['*'])}:{','.join(labels)}"
        if key not in self._cache:
            self._cache[key] = self.rf.read_work(name, columns=columns, labels=labels)
        return self._cache[key]

    def sales(self, *extra: str) -> pd.DataFrame:
        """The case's sales lines, only the columns the analysis needs (:data:`SALES_CORE`) and ``extra``.

        Text columns are read as categoricals (less memory); on a run that keeps the sales on disk,
        a handle whose queries read what they need.
        """
        labels = SALES_LABELS + tuple(c for c in extra if c in ("manager", "channel", "region"))
        return self.table("sales", columns=list(SALES_CORE) + list(extra), labels=labels)

    def write(self, name: str, table: pd.DataFrame) -> pd.DataFrame:
        """Write the output ``name`` of the run folder (its contract's columns, checked against the
        contract; ``lost_clients.csv`` in its order of priority, others sorted by their first column)
        and return what was written."""
        out = check_output(name, table[list(OUTPUTS[name]) + [c for c in OUTPUT_EXTRAS.get(name, ()) if c in table]])
        if name == "lost_clients.csv":
            out = out.sort_values("priority", kind="mergesort")
            write_table_csv(out, self.rf.path / name)
        else:
            self.rf.write_csv(name, out)
        return out

    def with_names(self, df: pd.DataFrame, **columns: str) -> pd.DataFrame:
        """``df`` with the client's name beside each id column: ``with_names(d, client_id="name")``."""
        names = self.table("clients").set_index("client_id")["name"]
        for id_col, name_col in columns.items():
            df = df.merge(names.rename(name_col).rename_axis(id_col).reset_index(), on=id_col, how="left")
        return df

    # ------------------------------------------------------------------ duplicates merged (from 01-audit on)
    def masters(self) -> pd.Series:
        """client_id -> master client_id (after merging duplicate cards), from the audit's work table."""
        a = self.rf.read_work("audit")
        return pd.Series(a["master_id"].astype("string").to_numpy(), index=a["client_id"].astype("string").to_numpy())

    def master_table(self, name: str, columns: list[str] | None = None, labels: tuple[str, ...] = ()):
        """Input table ``name`` with duplicate cards' rows moved to their master card (None when absent)."""
        from kbanalysis.sales.lines import with_masters

        df = self.table(name, columns=columns, labels=labels)
        return None if df is None else with_masters(df, self.masters())

    def master_sales(self, columns: list[str] | None = SALES_CORE) -> pd.DataFrame:
        """The case's sales (by default only the columns the analysis needs) on master cards."""
        return self.master_table("sales", columns=None if columns is None else list(columns), labels=SALES_LABELS)

    def master_cards(self) -> pd.DataFrame:
        """Client cards that are not duplicates of another card."""
        c = self.table("clients")
        m = self.masters()
        ids = c["client_id"].astype("string")
        return c.loc[(ids.map(m).fillna(ids) == ids).to_numpy()].reset_index(drop=True)

    def storage_note(self) -> str:
        """A sentence saying that the sales lines are kept on disk (empty when they are held in memory)."""
        if not self.meta.get("sales_on_disk"):
            return ""
        return self.t("nb.audit.on_disk", lines=i18n.fmt_int(self.meta["counts"]["sales"]["used"], self.lang))

    def counts(self) -> pd.DataFrame:
        """Rows read / used / rejected per table."""
        c = self.meta["counts"]
        df = pd.DataFrame([{"table": k, "file": self.meta["files"][k], **v} for k, v in c.items()])
        return df[["table", "file", "read", "used", "rejected"]]

    # ------------------------------------------------------------------ text and display
    def t(self, key: str, **kw) -> str:
        return i18n.t(key, self.lang, self.currency, **kw)

    def label(self, code) -> str:
        """The readable label of a code (``lbl.<code>``) in the run's language."""
        from kbanalysis.deliverables.report import label

        return label(code, self.lang)

    def money(self, x) -> str:
        return i18n.fmt_money(x, self.lang, self.currency)

    def pct(self, x) -> str:
        return i18n.fmt_pct(x, self.lang)

    def say(self, key: str, **kw):
        """Show a text (heading or paragraph in Markdown) in the run's language; text values in ``kw`` come
        from the case and are quoted as text (:func:`kbanalysis.deliverables.report.md_escaped`).

        The figures the text quotes are recorded under ``key`` in ``work/said.json`` (:meth:`record`)."""
        from IPython.display import Markdown

        from kbanalysis.deliverables.report import md_escaped

        self.record("texts", key, kw)
        return Markdown(self.t(key, **{k: md_escaped(v) for k, v in kw.items()}))

    def record(self, kind: str, key: str, what: dict) -> None:
        """Record what a report quotes — the facts of a text (``kind="texts"``), the title and tick labels
        of a chart (``"charts"``) — in ``work/said.json``, per notebook stage: every figure of the prose and
        of the chart titles can be checked against the tables it comes from. Rerunning a cell replaces
        its record."""
        said = self.rf.read_json("work/said.json")
        said.setdefault(self.stage or "interactive", {}).setdefault(kind, {})[key] = _plain(what)
        self.rf.work.mkdir(parents=True, exist_ok=True)
        self.rf.write_json("work/said.json", said)

    def say_lines(self, lines) -> object:
        """Show a list of sentences (notes of an estimator) as a bulleted paragraph."""
        from IPython.display import Markdown

        from kbanalysis.deliverables.report import markup_escaped

        lines = [lines] if isinstance(lines, str) else list(lines or [])
        return Markdown("\n".join(f"- {markup_escaped(x)}" for x in lines)) if lines else None

    def show(self, df: pd.DataFrame, n: int = 15, **fmt):
        """A table formatted for people in the run's language (first ``n`` rows)."""
        from kbanalysis.deliverables import report

        part = df.head(n)
        if self.params["mask_pii"]:
            from kbanalysis.deliverables.privacy import mask_frame

            part = mask_frame(part, self.lang)
        table = report.people_table(part, self.lang, self.currency, values=self.value_labels, **fmt)
        if len(df) > n and fmt.get("styler", True):  # a table that shows part says so: "15 of 28"
            table = table.set_caption(self.t("nb.shown_of", n=n, total=len(df)))
        return table

    @property
    def value_labels(self) -> dict:
        """The case's labels of data codes (``mapping.yaml``'s ``labels``, ``{column: {code: label}}``)."""
        if not hasattr(self, "_value_labels"):
            from kbanalysis.io.case import read_mapping

            self._value_labels = read_mapping(Path(self.params["case_dir"])).get("labels", {})
        return self._value_labels

    def labelled(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` with the case's channel and group codes replaced by their labels (``mapping.yaml``'s
        ``labels``), for a chart: tables get them in :meth:`show`."""
        from kbanalysis.deliverables.report import with_value_labels

        return with_value_labels(df, self.value_labels, self.lang)

    def chart(self, name: str, plot, *args, **kw):
        """Draw ``plot(*args, ax=..., lang=..., **kw)``, save it as ``charts/NAME.png`` and show that PNG."""
        from kbanalysis.deliverables import style

        style.apply_style()
        import matplotlib.pyplot as plt

        sized = "figsize" in kw
        fig, ax = plt.subplots(figsize=kw.pop("figsize", (9, 4.8)))
        plot(*args, ax=ax, lang=self.lang, **kw)
        if not sized:
            fig.set_figheight(fitted_height(ax, fig.get_figheight()))
        fig.tight_layout()
        path = self.rf.chart_path(name)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        self.record("charts", name, chart_record(ax))
        plt.close(fig)
        from IPython.display import Image

        return Image(filename=str(path))


def chart_record(ax) -> dict:
    """What a drawn chart shows a reader: its ``title``, the tick labels within its view (``xticks``,
    ``yticks``) and how many data marks it holds (``marks``: bars, points, lines, images; 0 is an empty chart).

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.bar([0, 1], [3, 4]); _ = ax.set_title("Two bars"); fig.canvas.draw()
    >>> r = chart_record(ax); r["title"], r["marks"]
    ('Two bars', 2)
    >>> plt.close(fig)
    """
    def ticks(axis, lo_hi):
        lo, hi = sorted(lo_hi)
        return [t.get_text() for t, v in zip(axis.get_majorticklabels(), axis.get_majorticklocs())
                if lo <= v <= hi and t.get_text()]

    patches = [p for p in ax.patches if getattr(p, "get_width", None) and (p.get_width() or p.get_height())]
    points = sum(len(c.get_offsets()) for c in ax.collections)
    lines = [ln for ln in ax.lines if len(ln.get_xdata()) > 1]
    return {"title": ax.get_title(), "xticks": ticks(ax.xaxis, ax.get_xlim()), "yticks": ticks(ax.yaxis, ax.get_ylim()),
            "marks": len(patches) + points + len(lines) + len(ax.images)}


def _plain(value):
    """``value`` with numpy numbers, dates and other objects turned into what JSON holds (for :meth:`Workbook.record`)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value if value is None or isinstance(value, str) else str(value)


#: names a Jupyter kernel defines itself
_KERNEL_NAMES = {"In", "Out", "exit", "quit", "open", "get_ipython", "display"}


def _reject_foreign(namespace: dict, stage: str) -> None:
    """Refuse literal values in a notebook's namespace that are no parameter of its stage (a mistyped or
    misplaced ``papermill -p``), naming the notebook a run parameter belongs to."""
    own = set(P.for_stage(stage))
    for k, v in namespace.items():
        if k.startswith("_") or k in _KERNEL_NAMES or k in own or not isinstance(v, (str, int, float, list, dict)):
            continue
        if k in P.PARAMS:
            raise UserError(f"parameter {k!r} belongs to notebook {NOTEBOOK_OF[P.PARAMS[k].stage]}, not to this one "
                            f"({NOTEBOOK_OF.get(stage, stage)}); `kbanalysis params` lists each notebook's")
        raise UserError(f"unknown parameter {k!r}. Valid parameters of this notebook: {', '.join(P.for_stage(stage))}")


def free_memory() -> int:
    """Bytes of memory this process may still use: the smaller of the machine's available memory and
    what its memory cgroup (a container's limit, v1 or v2) leaves; a large default where neither can be read.

    >>> free_memory() > 0
    True
    """
    free = []
    try:
        with open("/proc/meminfo") as f:
            free += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except OSError:
        pass
    for limit, used in _cgroup_memory():
        if limit.isdigit() and used.isdigit():
            free.append(int(limit) - int(used))
    return max(min(free), 1) if free else 1 << 40


def _cgroup_memory() -> list[tuple[str, str]]:
    """(limit, usage) texts of this process's memory cgroup: v2 ``memory.max`` or v1 ``memory.limit_in_bytes``."""
    out = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        _, controllers, path = line.split(":", 2)
        v1 = "memory" in controllers.split(",")
        if not (v1 or controllers == ""):
            continue
        d = Path("/sys/fs/cgroup") / ("memory" if v1 else "") / path.lstrip("/")
        files = ("memory.limit_in_bytes", "memory.usage_in_bytes") if v1 else ("memory.max", "memory.current")
        try:
            out.append(tuple((d / f).read_text().strip() for f in files))
        except OSError:
            continue
    return out


def sales_span(sales, as_of: pd.Timestamp) -> dict:
    """What the load checks about the sales dates: ``first`` and ``last`` date, whether there are lines
    before ``as_of`` (``past``) and in its last 12 months (``recent``), the last date before ``as_of``
    (``last_past``) and the number of calendar months with lines before it (``months``).

    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-05-01"])})
    >>> sales_span(s, pd.Timestamp("2024-03-01"))["months"], sales_span(s, pd.Timestamp("2024-03-01"))["last_past"]
    (2, Timestamp('2024-02-01 00:00:00'))
    """
    start = as_of - pd.DateOffset(months=12)
    if on_disk(sales):
        return sales.span(as_of, start)
    d = sales["date"]
    past = d.loc[d < as_of]
    return {"first": d.min(), "last": d.max(), "past": len(past) > 0, "recent": bool((past >= start).any()),
            "last_past": past.max(), "months": int(past.dt.to_period("M").nunique())}


def fitted_height(ax, height: float = 4.8, per_bar: float = 0.35, frame: float = 1.9) -> float:
    """Figure height for ``ax``: a horizontal bar chart with few bars and no legend gets ``frame +
    per_bar`` inches per bar (one manager's bar no longer fills a screen); anything else keeps ``height``.

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.barh([0], [0.8])
    >>> fitted_height(ax)
    2.25
    >>> plt.close(fig)
    """
    bars = [len(c) for c in ax.containers if getattr(c, "orientation", None) == "horizontal"]
    if not bars or ax.get_legend() is not None:
        return height
    return min(height, frame + per_bar * max(bars))
