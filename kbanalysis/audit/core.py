"""The whole audit in one call, :func:`audit_table` (notebook 01 walks through the same steps one by one;
scripts and backtests that need only the tables call this)."""
from __future__ import annotations

import numpy as np  # noqa: F401 -- the doctest uses it
import pandas as pd

from kbanalysis.audit import cleaning
from kbanalysis.audit.lost import fit_lost_model, lost_call
from kbanalysis.audit.structure import (account_table, base_structure, card_table, lost_regular_clients,
                                        master_cards, master_lines, master_map, quality_findings)
from kbanalysis.io.case import driver_columns
from kbanalysis.sales.calendar import _as_ts
from kbanalysis.sales.engine import client_months as _client_months
from kbanalysis.sales.engine import client_summary as _client_summary
from kbanalysis.sales.engine import last_sale


#: the steps of :func:`audit_table` that take run parameters, and the parameters each takes
_STEP_PARAMS = {
    "duplicates": ("fuzzy_name_threshold",),
    "base": ("lost_gap_multiple", "lost_min_days", "sleeping_gap_multiple", "sleeping_drop", "few_orders_lost_days"),
    "accounts": ("key_share", "critical_share", "mono_share"),
    "lost_model": ("lost_horizon_days", "seed"),
    "lost": ("regular_min_months", "regular_window_months"),
    "findings": ("contact_min_days", "contact_stale_days", "lang"),
}


def _step(params: dict, step: str, rename: dict | None = None) -> dict:
    """The run parameters given in ``params`` that ``step`` takes (the others keep the step's defaults)."""
    rename = rename or {}
    return {rename.get(k, k): params[k] for k in _STEP_PARAMS[step] if k in params}


def audit_table(clients: pd.DataFrame, sales: pd.DataFrame, contacts: pd.DataFrame | None, as_of,
                params: dict | None = None):
    """The whole audit in one call (notebook 01 walks through the same steps one by one).

    ``params`` uses the names of the run parameters (:mod:`kbanalysis.run.params`); one not given
    takes the default of the step that uses it, and ``drivers`` empty means every numeric
    non-contract column. ``as_of`` empty/None is the day after the last sale.

    Steps: :func:`kbanalysis.audit.cleaning.duplicate_pairs` → :func:`master_map` →
    :func:`master_lines` and :func:`kbanalysis.sales.engine.client_summary` →
    :func:`base_structure` of the :func:`master_cards` → :func:`kbanalysis.audit.lost.fit_lost_model` and
    :func:`kbanalysis.audit.lost.lost_call` (``lost_probability``; the lost call by the backtest's
    choice) → :func:`account_table` →
    :func:`lost_regular_clients` → :func:`card_table` and :func:`quality_findings`.
    The master's status decides ``closed``.

    Returns ``(per_client, findings, duplicates, lost)``:

    * ``per_client`` — :func:`card_table`, one row per card in the clients' order;
    * ``findings`` — :func:`quality_findings`;
    * ``duplicates`` — :func:`kbanalysis.audit.cleaning.duplicate_pairs` (``duplicates.csv``);
    * ``lost`` — :func:`lost_regular_clients` (``lost_clients.csv`` = its first five columns).

    Examples
    --------
    >>> c = pd.DataFrame({"client_id": ["a", "b", "c"], "name": ["ООО Ромашка", "Ромашка", "Лютик"],
    ...     "channel": ["retail"] * 3, "region": ["Тула"] * 3, "manager": ["Иванов"] * 3,
    ...     "status": ["active"] * 3, "_row": [2, 3, 4]})
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-15", "2023-01-10"]),
    ...     "client_id": ["a", "b", "c"], "product_group": ["x"] * 3, "amount": [100.0, 50.0, 30.0],
    ...     "cost": [np.nan] * 3, "_row": [2, 3, 4]})
    >>> pc, f, d, lost = audit_table(c, s, None, "2024-04-01")
    >>> pc[["client_id", "master_id", "base", "revenue_12m", "key_account"]]
      client_id master_id    base  revenue_12m key_account
    0         a         a  active        150.0        mono
    1         b         a  active          NaN        mono
    2         c         c    lost          0.0        none
    >>> d
      client_id duplicate_of     reason
    0         b            a  same_name
    """
    p = dict(params or {})
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        as_of = last_sale(sales) + pd.Timedelta(days=1)
    as_of = _as_ts(as_of)
    drivers = driver_columns(clients, p.get("drivers"), with_values=False)
    pairs = cleaning.duplicate_pairs(clients, **_step(p, "duplicates", {"fuzzy_name_threshold": "fuzzy_threshold"}))
    to_master = master_map(clients, pairs, sales, as_of)
    lines = master_lines(sales, to_master)
    summary = _client_summary(lines, as_of)
    base = base_structure(master_cards(clients, to_master), summary, as_of, **_step(p, "base"))
    model = fit_lost_model(lines, as_of, base, **_step(p, "lost_model", {"lost_horizon_days": "horizon_days"}),
                           **_step(p, "base"))
    base = lost_call(base, model.lost_probability_, model.method_)
    accounts = account_table(base, summary, **_step(p, "accounts"))
    lost = lost_regular_clients(_client_months(lines, as_of), base, **_step(
        p, "lost", {"regular_min_months": "min_months", "regular_window_months": "window_months"}))
    per_client = card_table(clients, to_master, accounts, cleaning.card_completeness(clients, drivers))
    findings = quality_findings(clients, sales, contacts, pairs, to_master, base, as_of, drivers,
                                **_step(p, "findings"))
    return per_client, findings, pairs, lost
