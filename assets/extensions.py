"""What the assets app adds to the core, through `experiments.hooks` (see ARCHITECTURE.md):

- `participant.assets`: the participant's assets by local key;
- the `assets` argument of researcher functions: the current module's assets;
- the deploy step: register declared assets and deposit cached files (`assets_deploy`);
- the upload handler of multipart submits (recordings), bounded before the body is read.

`register()` runs once from `AssetsConfig.ready()`; registering again changes nothing.
"""

from typing import Any

from experiments import hooks
from experiments.models import Participant

from .holders import AssetDict, module_assets, register_holder_model
from .services import assets_deploy
from .services.inbox import discard_staged_on_error
from .uploads import split_multipart, upload_refusal


class AssetUploads:
    """`experiments.hooks.upload_handler`: answers with files (AudioRecordControl)."""

    refusal = staticmethod(upload_refusal)
    split = staticmethod(split_multipart)
    guard = staticmethod(discard_staged_on_error)


def participant_assets(participant: Participant) -> AssetDict:
    return AssetDict([participant])


def current_module_assets(runner: Any) -> Any:
    return module_assets(runner.program.modules.get(runner.current_module_id()), runner.participant)


def register() -> None:
    register_holder_model(Participant, "participant")
    hooks.participant_properties.register("assets", participant_assets)
    hooks.researcher_arguments.register("assets", current_module_assets)
    hooks.deploy_steps.register(assets_deploy)
    hooks.upload_handler.register(AssetUploads)
