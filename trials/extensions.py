"""What the trials app adds to the core, through `experiments.hooks` (see ARCHITECTURE.md):
an asset-deposited listener that finalizes trials waiting for their recordings.
`register()` runs from `TrialsConfig.ready()`; registering again changes nothing.
"""

from experiments import hooks

from .services import trials_finalize_when_assets_stored


def register() -> None:
    hooks.asset_deposited.register(trials_finalize_when_assets_stored)
