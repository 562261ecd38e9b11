"""Every write to assets: registration and links, deposits, deploys. Views, tasks and commands
call these; nothing else writes."""

from .deploy import AssetDeployError, DeployReport, assets_deploy, assets_register_declared
from .deposit import (
    DepositOutcome,
    asset_delete_file,
    asset_deposit,
    asset_redeposit,
    backoff_delay,
    deposit_enqueue,
    deposits_requeue_stuck,
    inbox_sweep,
    render_fast_function,
)
from .inbox import discard_staged_on_error
from .registration import (
    asset_deposit_new,
    asset_link,
    asset_register,
    assets_register_many,
    holder_add_assets,
    holder_register_pending,
    holders_register_pending,
)
from .uploads import recording_create

__all__ = [
    "AssetDeployError", "DeployReport", "DepositOutcome", "asset_delete_file", "asset_deposit",
    "asset_deposit_new", "asset_link", "asset_redeposit", "asset_register", "assets_deploy", "assets_register_many",
    "assets_register_declared", "backoff_delay", "deposit_enqueue", "deposits_requeue_stuck",
    "discard_staged_on_error", "holder_add_assets", "holder_register_pending", "holders_register_pending", "inbox_sweep", "recording_create",
    "render_fast_function",
]
