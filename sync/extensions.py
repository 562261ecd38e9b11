"""What the sync app adds to the core, through `experiments.hooks` (see ARCHITECTURE.md):

- read-only participant attributes `active_barriers`, `active_sync_groups` and `sync_groups`
  and `sync_group` (PsyNet's names);
- a participant-failed listener: once the failure commits, their groups and the barriers where
  they or their group mates wait are re-checked (`participant_left`).

`register()` runs from `SyncConfig.ready()`; registering again changes nothing.
"""

from typing import Any

from experiments import hooks
from experiments.models import Participant
from experiments.timeline.elements import ExperimentError

from .instructions import program_barriers
from .selectors import (
    participant_active_barriers,
    participant_active_sync_groups,
    participant_sync_groups,
)
from .services import participant_left


def participant_failed(participant: Participant, experiment: Any) -> None:
    """Only experiments with barriers: others pay nothing for sync."""
    if program_barriers(experiment.program):
        participant_left(participant_id=participant.pk)


def participant_sync_group(participant: Participant) -> Any:
    """PsyNet's `participant.sync_group`: the one active sync group (None when there is none).
    With active groups of several types, ask `participant.active_sync_groups[group_type]`."""
    groups = participant_active_sync_groups(participant)
    if len(groups) > 1:
        raise ExperimentError(f"participant {participant.pk} is in active sync groups of several types "
                              f"({', '.join(sorted(groups))}): use participant.active_sync_groups[group_type]")
    return next(iter(groups.values()), None)


def register() -> None:
    hooks.participant_failed.register(participant_failed)
    hooks.participant_properties.register("sync_group", participant_sync_group)
    hooks.participant_properties.register("active_barriers", participant_active_barriers)
    hooks.participant_properties.register("active_sync_groups", participant_active_sync_groups)
    hooks.participant_properties.register("sync_groups", participant_sync_groups)
