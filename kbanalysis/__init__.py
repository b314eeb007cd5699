"""kbanalysis: audit of a B2B client base — cleaning, wallet and share of wallet, segments, forecast.

The parts, from the bottom up (``docs/ARCHITECTURE.md``): the contract (``schema``, ``contract``,
``errors``), the engine (``io``: reading cases and the run folder; ``sales``: aggregating sales in
memory or in DuckDB on disk), the deliverables (``deliverables``: report, Excel, plots' style,
privacy, texts), the four stages (``audit``, ``wallet``, ``segments``, ``forecast``) and the run
(``run``: workbook, runner, CLI, parameters).

>>> import kbanalysis as kb
>>> sorted(kb.params.PARAMS)[:3]
['abcde_high', 'abcde_mid', 'actions_file']
"""
from kbanalysis.errors import UserError
from kbanalysis import audit, forecast, sales, segments, wallet
from kbanalysis.run import params
from kbanalysis.run.workbook import Workbook

__version__ = "0.1.0"
__all__ = ["Workbook", "UserError", "params", "audit", "wallet", "segments", "forecast", "sales"]
