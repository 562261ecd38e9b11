"""Every write to trials, nodes and networks, one module per job:

- `allocation`    giving a participant their next trial (static, chain, synced, repeat)
- `finalizing`    storing answers; finalizing once assets are stored
- `failing`       failing trials and giving their places back (counts, chain cuts)
- `chains`        creating networks, growing and cutting chains
- `nodes`         static nodes at deploy
- `async_deploy`  nodes' `async_on_deploy` on a worker
- `locking`       the trial maker's advisory lock

Concurrency, everywhere: the lock order is participant row → trial maker lock
(`locking.trial_maker_lock`, transaction-scoped) → network/node rows, so these paths cannot
deadlock each other. Static allocation is optimistic (see `allocation`); chains, failures and
deploys run under the maker lock. Each module's docstring says what it locks and what is
idempotent. Callers use `from trials import services` and `services.<function>`.
"""

from .allocation import (
    LOCK_AFTER_ATTEMPTS,
    MAX_ALLOCATION_ATTEMPTS,
    WAIT,
    chain_trial_allocate,
    repeat_trial_create,
    static_trial_allocate,
    sync_trial_create,
    trial_create,
)
from .async_deploy import (
    MAX_ASYNC_ATTEMPTS,
    node_async_deploy,
    node_async_deploy_failed,
    nodes_async_deploy_enqueue,
    nodes_async_deploy_schedule,
    nodes_async_deploy_sweep,
)
from .chains import (
    chain_grow,
    chain_network_create,
    chain_networks_create_for_participant,
    chain_networks_deploy,
    node_chain_cut,
)
from .failing import participant_trials_fail, trials_release_abandoned
from .finalizing import trial_finalize, trials_finalize_when_assets_stored
from .locking import trial_maker_lock
from .nodes import REMOVED_AT_DEPLOY, static_nodes_deploy

__all__ = [
    "LOCK_AFTER_ATTEMPTS", "MAX_ALLOCATION_ATTEMPTS", "MAX_ASYNC_ATTEMPTS",
    "REMOVED_AT_DEPLOY", "WAIT", "chain_grow", "chain_network_create",
    "chain_networks_create_for_participant", "chain_networks_deploy", "chain_trial_allocate",
    "node_async_deploy", "node_async_deploy_failed", "node_chain_cut", "nodes_async_deploy_enqueue",
    "nodes_async_deploy_schedule", "nodes_async_deploy_sweep", "participant_trials_fail",
    "repeat_trial_create", "static_nodes_deploy", "static_trial_allocate", "sync_trial_create",
    "trial_create", "trial_finalize", "trial_maker_lock", "trials_finalize_when_assets_stored",
    "trials_release_abandoned",
]
