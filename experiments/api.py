"""Everything a researcher's experiment.py uses: `from experiments.api import *`.

Names also live in their home modules; this facade gathers them from every app. It is the one
module exempt from the layers (ARCHITECTURE.md), and nothing inside the project imports it. The
names are the documented researcher API (ARCHITECTURE.md, "The researcher's API"), checked by
tests/test_architecture.py.
"""

from .experiment import DataError, Experiment
from .timeline import (
    AudioPrompt,
    CheckboxControl,
    CodeBlock,
    Control,
    DropdownControl,
    ExperimentError,
    ImagePrompt,
    InfoPage,
    ModularPage,
    Module,
    NumberControl,
    Page,
    PageMaker,
    Prompt,
    PushButtonControl,
    RadioButtonControl,
    SliderControl,
    SuccessfulEndPage,
    TextControl,
    UnsuccessfulEndPage,
    VideoPrompt,
    WaitPage,
    conditional,
    join,
    switch,
    while_loop,
)

__all__ = [
    "DataError", "AudioPrompt", "CheckboxControl", "CodeBlock", "Control", "DropdownControl", "Experiment",
    "ExperimentError", "ImagePrompt", "InfoPage", "ModularPage", "Module", "NumberControl",
    "Page", "PageMaker", "Prompt", "PushButtonControl", "RadioButtonControl", "SliderControl",
    "SuccessfulEndPage", "TextControl", "UnsuccessfulEndPage", "VideoPrompt", "WaitPage",
    "conditional", "join", "switch", "while_loop",
]

# --- Trials (trials/) ---
from trials.chain import ChainNetwork, ChainNode, ChainTrial, ChainTrialMaker  # noqa: E402
from trials.maker import TrialMaker  # noqa: E402
from trials.models import Network, Node, Trial  # noqa: E402
from trials.static import StaticNode, StaticTrial, StaticTrialMaker  # noqa: E402

__all__ += [
    "ChainNetwork", "ChainNode", "ChainTrial", "ChainTrialMaker", "Network", "Node", "StaticNode",
    "StaticTrial", "StaticTrialMaker", "Trial", "TrialMaker",
]

# --- assets ---
from assets.controls import AudioRecordControl  # noqa: E402
from assets.kinds import (  # noqa: E402
    CachedAsset,
    CachedFunctionAsset,
    ExperimentAsset,
    ExternalAsset,
    ExternalS3Asset,
    FastFunctionAsset,
    InheritedAssets,
    Recording,
)
from assets.models import Asset  # noqa: E402
from assets.storage import AssetStorage, LocalStorage, S3Storage  # noqa: E402

__all__ += [
    "Asset", "AssetStorage", "AudioRecordControl", "CachedAsset", "CachedFunctionAsset",
    "ExperimentAsset", "ExternalAsset", "ExternalS3Asset", "FastFunctionAsset", "InheritedAssets",
    "LocalStorage", "Recording", "S3Storage",
]

# --- sync (barriers, groupers, sync groups) ---
from sync.elements import Barrier, GroupBarrier, GroupCloser, Grouper, SimpleGrouper  # noqa: E402
from sync.models import SimpleSyncGroup, SyncGroup  # noqa: E402
from sync.pages import BarrierWaitingPage  # noqa: E402

__all__ += [
    "Barrier", "BarrierWaitingPage", "GroupBarrier", "GroupCloser", "Grouper", "SimpleGrouper",
    "SimpleSyncGroup", "SyncGroup",
]
