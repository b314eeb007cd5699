"""Stage 4, forecast: pipeline and stage win rates, history forecast, marketing, reconciliation, stock.

The building blocks are in :mod:`~kbanalysis.forecast.model`, the statistical candidates in
:mod:`~kbanalysis.forecast.candidates`, the weighting methods in :mod:`~kbanalysis.forecast.reconcile`, the steps
notebook 04 runs (and :class:`DemandForecast`, which runs them all) in :mod:`~kbanalysis.forecast.core`.
"""
from kbanalysis.forecast.model import (month_start, forecast_months, month_text, resolve_as_of,
                                       stated_probability_usable, stage_win_rates, stage_rate_of, manager_calibration,
                                       calibration_curve, stated_vs_actual, group_mix, pipeline_deals, pipeline,
                                       pipeline_calibrated, manager_optimism, match_won_deals, split_group_months,
                                       matched_share, deal_backtest, marketing_by_group, marketing_backtest,
                                       error_stats, inverse_mse_weights, stock_by_group, stock_gap, note_text,
                                       errors_shown, flag_text)
from kbanalysis.forecast.candidates import HistoryForecaster, model_choice
from kbanalysis.forecast.core import (has_rows, has_open_deals, deal_notes, deal_share, history_notes, horizon_forecast,
                                      total_history,
                                      price_per_cost, history_mix, stock_notes, forecast_groups, left_out_notes,
                                      source_grid,
                                      history_total_backtest, step_rmse, backtest_origins, monthly_revenue,
                                      marketing_factor,
                                      source_backtest, reconciliation_weights, with_reconciled_backtest,
                                      source_errors, marketing_notes, reconciled, with_stock, optimistic_rows,
                                      optimism_notes, with_totals, forecast_flags, forecast_detail, forecast_output,
                                      flagged_rows, forecast_facts, relative_errors, QUIET_FLAGS, loud_flags, forecast_shown,
                                      source_names, method_text,
                                      with_intervals, interval_notes, conformal_quantile, stock_risk, INTERVAL, first_month, material,
                                      FLAG_SHARE,
                                      DemandForecast, forecast_table)
from kbanalysis.forecast.accuracy import peer_backtest, accuracy_table, accuracy_facts
from kbanalysis.forecast import accuracy, candidates, core, plots, reconcile

__all__ = [n for n in dir() if not n.startswith("_")]
