"""The engine's aggregation part: sales per client, client-month, group-month — in memory or in DuckDB on disk.

The only part that knows where the sales lines live: method code calls these functions on whatever
``Workbook.table("sales")`` returned (:mod:`.engine` aggregates, :mod:`.lines` works line by line,
:mod:`.ondisk` is the DuckDB handle)."""
from kbanalysis.sales.engine import (
    as_text_labels, before, client_days, client_groups, client_months, client_summary, first_sale, group_months,
    groups_left_out, has_cost, last_sale, months_back, on_disk, revenue_per_month, short_window, shortened)
from kbanalysis.sales.lines import (
    LINE_COLUMNS, buyer_ids, core_lines, distinct_ids, groups_left_out_of, window_groups, window_totals, with_masters)
from kbanalysis.sales.ondisk import SalesFile

__all__ = ["as_text_labels", "before", "client_days", "client_groups", "client_months", "client_summary", "first_sale",
           "group_months", "groups_left_out", "has_cost", "last_sale", "months_back", "on_disk", "revenue_per_month", "short_window", "shortened", "LINE_COLUMNS",
           "buyer_ids",
           "core_lines", "distinct_ids", "groups_left_out_of", "window_groups", "window_totals", "with_masters", "SalesFile"]
