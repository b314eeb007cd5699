"""Stage 2, the client's own turnover: wallet estimation, share of wallet, loyalty, up- and cross-sale, plans."""
from kbanalysis.wallet.model import share_of_wallet, loyalty, driver_columns, WalletEstimator, channel_mix, group_wallets, individual_plan, achievable, wallet_table
from kbanalysis.wallet import plots
__all__ = ['share_of_wallet', 'loyalty', 'driver_columns', 'WalletEstimator', 'channel_mix', 'group_wallets', 'individual_plan', 'achievable', 'wallet_table', 'plots']
