"""Stage 2, the client's own turnover: wallet estimation, share of wallet, loyalty, up- and cross-sale, plans.

The facade of the stage (as notebook 02 calls it): the estimator and the per-client and per-group steps
from :mod:`.model`, what the notebook shows from :mod:`.tables`, charts in :mod:`.plots`.
"""
from kbanalysis.wallet.model import (
    WALLET_COLUMNS, WalletEstimator, achievable, channel_mix, client_potential, driver_columns, group_wallets, individual_plan,
    loyalty, share_of_wallet, wallet_frame, wallet_table, worked_groups)
from kbanalysis.wallet.tables import (
    firm, largest_room, manager_bias_shown, plan_parts, side_by_side, source_counts, source_facts, wallet_facts)
from kbanalysis.wallet.top import extrapolate_top, extrapolated_clients
from kbanalysis.wallet import plots

__all__ = ["WALLET_COLUMNS", "WalletEstimator", "achievable", "channel_mix", "client_potential", "driver_columns", "group_wallets",
           "individual_plan", "loyalty", "share_of_wallet", "wallet_frame", "wallet_table", "worked_groups", "firm", "largest_room",
           "manager_bias_shown", "plan_parts", "side_by_side", "source_counts", "source_facts", "wallet_facts", "extrapolate_top", "extrapolated_clients", "plots"]
