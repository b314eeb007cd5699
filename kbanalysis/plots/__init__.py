from .style import apply_style, money_axis, pct_axis, save_chart, thousands_axis  # noqa: F401
