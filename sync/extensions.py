"""What the sync app adds to the core, through `experiments.hooks` (see ARCHITECTURE.md):
read-only participant attributes `active_barriers`, `active_sync_groups` and `sync_groups`
(PsyNet's names). `register()` runs from `SyncConfig.ready()`; registering again changes nothing.
"""

from experiments import hooks

from .selectors import (
    participant_active_barriers,
    participant_active_sync_groups,
    participant_sync_groups,
)


def register() -> None:
    hooks.participant_properties.register("active_barriers", participant_active_barriers)
    hooks.participant_properties.register("active_sync_groups", participant_active_sync_groups)
    hooks.participant_properties.register("sync_groups", participant_sync_groups)
