"""UCI "Wholesale customers" (440 clients of a Portuguese food distributor) -> a contract case.

    .venv/bin/python data/real/wholesale.py /tmp/wholesale [--split seasonal|flat] [--year 2011] [--seed 0]
    .venv/bin/kbanalysis run /tmp/wholesale --out /tmp/wholesale-run -p as_of=2012-01-01 -p currency=EUR -p lang=en

Mapping (see data/real/README.md):

* clients: one card per row of ``wholesale_customers.csv``; ``client_id`` = ``W`` + the 1-based row
  number (``W001`` … ``W440``; the data has no id), ``name`` = ``Wholesale client 001``, ``channel`` =
  ``horeca`` (Channel 1: hotels, restaurants, cafés) or ``retail`` (Channel 2), ``region`` = ``Lisbon`` /
  ``Oporto`` / ``Other`` (Region 1/2/3). No manager, phone, INN or driver: the data has none.
* sales: the data gives only the **annual** spend per client × category (Fresh, Milk, Grocery,
  Frozen, Detergents_Paper, Delicassen -> product groups ``fresh``, ``milk``, ``grocery``, ``frozen``,
  ``detergents_paper``, ``delicatessen``). Each annual figure becomes 12 monthly lines dated the 15th
  of each month of ``--year`` (one document ``W001-2011-01`` per client and month). Split:

  - ``flat``: 1/12 each month;
  - ``seasonal`` (default): the channel's profile below × a lognormal client-month noise (σ = 0.15,
    ``numpy.random.default_rng(seed)``), scaled so that the 12 months add up to the annual figure.
    Profiles, January … December (mean 1): horeca (tourist summer)
    0.85 0.85 0.95 1.00 1.05 1.10 1.25 1.30 1.10 0.95 0.80 0.80; retail (Christmas)
    0.90 0.85 0.95 0.95 1.00 1.00 1.05 1.05 0.95 1.00 1.05 1.25.

  The monthly pattern is an **assumption**, not data: only the annual totals, the channel, the region and
  the category mix are real. Amounts are rounded to cents, the rounding rest goes to December, so that
  every client × category adds up to its annual figure exactly. Zero annual spend gives no lines.
* no deals, stock, marketing, survey or contacts (the data has none): the workbook must say so.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (data/real/common.py)

DATASET = "uci-wholesale-customers"
CATEGORIES = {"Fresh": "fresh", "Milk": "milk", "Grocery": "grocery", "Frozen": "frozen",
              "Detergents_Paper": "detergents_paper", "Delicassen": "delicatessen"}
CHANNELS = {1: "horeca", 2: "retail"}
REGIONS = {1: "Lisbon", 2: "Oporto", 3: "Other"}
PROFILES = {
    "horeca": [0.85, 0.85, 0.95, 1.00, 1.05, 1.10, 1.25, 1.30, 1.10, 0.95, 0.80, 0.80],
    "retail": [0.90, 0.85, 0.95, 0.95, 1.00, 1.00, 1.05, 1.05, 0.95, 1.00, 1.05, 1.25],
}
NOISE_SIGMA = 0.15


def monthly_weights(channels: np.ndarray, n_cat: int, split: str, seed: int) -> np.ndarray:
    """Weights (clients × categories × 12) that add up to 1 over the months."""
    n = len(channels)
    if split == "flat":
        return np.full((n, n_cat, 12), 1 / 12)
    prof = np.array([PROFILES[c] for c in channels])[:, None, :]  # n × 1 × 12
    rng = np.random.default_rng(seed)
    noise = rng.lognormal(mean=0.0, sigma=NOISE_SIGMA, size=(n, n_cat, 12))
    w = prof * noise
    return w / w.sum(axis=2, keepdims=True)


def convert(src=None, *, split: str = "seasonal", year: int = 2011, seed: int = 0,
            max_clients: int = 0) -> dict[str, pd.DataFrame]:
    """The case's tables ``{"clients": …, "sales": …}`` (``max_clients`` > 0: the first N rows only)."""
    if split not in ("seasonal", "flat"):
        raise ValueError(f"split must be seasonal or flat, not {split!r}")
    raw = pd.read_csv(common.source_folder(DATASET, src) / "wholesale_customers.csv")
    if max_clients:
        raw = raw.head(max_clients)
    n = len(raw)
    ids = [f"W{i:03d}" for i in range(1, n + 1)]
    channel = raw["Channel"].map(CHANNELS)
    if channel.isna().any():
        raise SystemExit(f"unknown Channel codes: {sorted(raw.loc[channel.isna(), 'Channel'].unique())}")
    clients = pd.DataFrame({"client_id": ids, "name": [f"Wholesale client {i[1:]}" for i in ids],
                            "channel": channel.to_numpy(), "region": raw["Region"].map(REGIONS).to_numpy()})

    cats = list(CATEGORIES)
    annual = raw[cats].to_numpy(dtype="float64")  # n × k
    w = monthly_weights(channel.to_numpy(), len(cats), split, seed)
    amt = np.round(annual[:, :, None] * w, 2)
    amt[:, :, 11] = np.round(annual - amt[:, :, :11].sum(axis=2), 2)  # rounding rest to December
    months = pd.date_range(f"{year}-01-01", periods=12, freq="MS") + pd.Timedelta(days=14)
    ci, ki, mi = np.meshgrid(np.arange(n), np.arange(len(cats)), np.arange(12), indexing="ij")
    sales = pd.DataFrame({
        "date": months[mi.ravel()], "client_id": np.array(ids)[ci.ravel()],
        "product_group": np.array([CATEGORIES[c] for c in cats])[ki.ravel()], "amount": amt.ravel(),
        "doc_id": [f"{ids[c]}-{year}-{m + 1:02d}" for c, m in zip(ci.ravel(), mi.ravel())],
    })
    sales = sales.loc[np.repeat(annual.ravel() > 0, 12)].sort_values(["date", "client_id", "product_group"],
                                                                      ignore_index=True)
    return {"clients": clients, "sales": sales}


def main(argv=None) -> int:
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("seasonal", "flat"), default="seasonal")
    ap.add_argument("--year", type=int, default=2011, help="the (unstated) year of the annual figures")
    ap.add_argument("--max-clients", type=int, default=0, help="first N clients only (0 = all 440)")
    a = ap.parse_args(argv)
    tables = convert(a.src or None, split=a.split, year=a.year, seed=a.seed, max_clients=a.max_clients)
    readme = (f"# UCI Wholesale customers as a case\n\nMade by data/real/wholesale.py (split={a.split}, "
              f"year={a.year}, seed={a.seed}). The monthly split is an assumption; only annual totals are real.\n"
              f"Run with `-p as_of={a.year + 1}-01-01 -p currency=EUR`.\n")
    out = common.write_case(a.out_dir, tables, readme)
    print(f"{out}: {common.summary_line(tables)}; run with -p as_of={a.year + 1}-01-01 -p currency=EUR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
