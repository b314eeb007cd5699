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
import importlib
from typing import TYPE_CHECKING

from kbanalysis.errors import UserError
from kbanalysis.run import params
from kbanalysis.run.workbook import Workbook

if TYPE_CHECKING:  # what __getattr__ imports on first use, for readers and type checkers
    from kbanalysis import audit, forecast, sales, segments, wallet  # noqa: F401

__version__ = "0.1.0"
#: the stages and the engine, imported when first used (``kb.audit`` …): a notebook loads only its own
#: stage's libraries (scikit-learn, statsforecast), not every stage's
_STAGES = ("audit", "wallet", "segments", "forecast", "sales")
__all__ = ["Workbook", "UserError", "params", *_STAGES]


def __getattr__(name: str):
    if name in _STAGES:
        module = importlib.import_module(f"kbanalysis.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'kbanalysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_STAGES))
