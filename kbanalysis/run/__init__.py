"""The run: parameters, the workbook object the notebooks use, the papermill runner, the CLI."""
__all__ = []
