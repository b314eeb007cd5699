"""The engine's aggregation part: sales per client, client-month, group-month — in memory or in DuckDB on disk.

The only part that knows where the sales lines live: method code calls these functions on whatever
``Workbook.table("sales")`` returned."""
from kbanalysis.sales.engine import months_back, on_disk, last_sale, before, has_cost, client_days, client_months, group_months, client_groups, client_summary, as_text_labels
from kbanalysis.sales.ondisk import SalesFile
__all__ = ['months_back', 'on_disk', 'last_sale', 'before', 'has_cost', 'client_days', 'client_months', 'group_months', 'client_groups', 'client_summary', 'as_text_labels', 'SalesFile']
