"""Deliverables: HTML report helpers, the Excel workbook, chart style, PII masking, texts (ru/en)."""
__all__ = []
