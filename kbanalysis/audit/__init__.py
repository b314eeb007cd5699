"""Stage 1, audit and cleaning: INN, phones, duplicates, completeness, managers, contacts; base structure,
reactivation list, concentration.

The facade of the stage (as notebook 01 calls it): cleaning rules from :mod:`.cleaning`, the base,
accounts and reactivation list from :mod:`.structure`, the lost model from :mod:`.lost`, the whole audit in
one call from :mod:`.core`, charts in :mod:`.plots`.
"""
from kbanalysis.audit.cleaning import (
    card_completeness, closed_with_sales, completeness_by_manager, concat_findings, contact_issues,
    duplicate_facts, duplicate_pairs, has_values, incomplete_card_issues, inn_is_valid, inn_issues, isin,
    issue_counts, issue_facts, legal_family, merge_map, normalize_name, normalize_phone, normalize_phones,
    phone_issues, quality_table, two_managers, window_groups, window_totals)
from kbanalysis.audit.structure import (
    CARD_COLUMNS, account_table, base_counts, base_facts, base_structure, buyer_ids, card_table,
    concentration_facts, contact_findings, distinct_ids, driver_columns, hhi, key_accounts, lost_facts, lost_text_key,
    lost_regular_clients, master_cards, master_lines, master_map, master_revenue, pareto_share, pareto_table,
    quality_findings, revenue_shares)
from kbanalysis.audit.lost import (
    BetaGeo, LostModel, fit_lost_model, lost_call, lost_features, precision_at, reactivation_backtest)
from kbanalysis.audit.core import audit_table
from kbanalysis.audit import plots

__all__ = [
    "card_completeness", "closed_with_sales", "completeness_by_manager", "concat_findings", "contact_issues",
    "duplicate_facts", "duplicate_pairs", "has_values", "incomplete_card_issues", "inn_is_valid", "inn_issues",
    "isin", "issue_counts", "issue_facts", "legal_family", "merge_map", "normalize_name", "normalize_phone",
    "normalize_phones", "phone_issues", "quality_table", "two_managers", "window_groups", "window_totals",
    "CARD_COLUMNS", "account_table", "audit_table", "base_counts", "base_facts", "base_structure", "buyer_ids",
    "card_table", "concentration_facts", "contact_findings", "distinct_ids", "driver_columns", "hhi",
    "key_accounts", "lost_facts", "lost_text_key", "lost_regular_clients", "master_cards", "master_lines", "master_map",
    "master_revenue", "pareto_share", "pareto_table", "quality_findings", "revenue_shares",
    "BetaGeo", "LostModel", "fit_lost_model", "lost_call", "lost_features", "precision_at", "reactivation_backtest",
    "plots"]
