"""kbanalysis: audit of a B2B client base — cleaning, wallet and share of wallet, segments, forecast.

>>> import kbanalysis as kb
>>> sorted(kb.params.PARAMS)[:3]
['abcde_high', 'abcde_mid', 'actions_file']
"""
from . import params, stages
from .errors import UserError
from .workbook import Workbook

__version__ = "0.1.0"
__all__ = ["Workbook", "UserError", "params", "stages"]
