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

# --- PsyNet's names (see docs/porting.md) ---
from . import compat  # noqa: E402
from .bots import Bot  # noqa: E402
from .compat import NoConsent, get_logger  # noqa: E402
from .models import Participant  # noqa: E402
from .timeline.elements import Timeline  # noqa: E402
from .timeline.pages import FailedValidation  # noqa: E402

#: PsyNet's imitation chains are chains whose next node copies the last answer: Chorus's chain
#: classes do that by default (`ChainNode.summarize_trials` gives the answer as the next seed).
ImitationChainTrialMaker, ImitationChainNode = ChainTrialMaker, ChainNode
ImitationChainTrial, ImitationChainNetwork = ChainTrial, ChainNetwork

def __getattr__(name: str):
    # `from experiments.api import NoConsent`: say what Chorus does instead of a bare ImportError.
    raise compat.missing_name(__name__, name)


__all__ += [
    "Bot", "FailedValidation", "ImitationChainNetwork", "ImitationChainNode", "ImitationChainTrial",
    "ImitationChainTrialMaker", "NoConsent", "Participant", "Timeline", "get_logger",
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
    asset,
)
from assets.kinds import FastFunctionAsset as OnDemandAsset  # noqa: E402 - PsyNet's newer name
from assets.models import Asset  # noqa: E402
from assets.storage import AssetStorage, LocalStorage, S3Storage  # noqa: E402

__all__ += [
    "Asset", "AssetStorage", "AudioRecordControl", "CachedAsset", "CachedFunctionAsset",
    "ExperimentAsset", "ExternalAsset", "ExternalS3Asset", "FastFunctionAsset", "InheritedAssets",
    "LocalStorage", "OnDemandAsset", "Recording", "S3Storage", "asset",
]

# --- sync (barriers, groupers, sync groups) ---
from sync.elements import Barrier, GroupBarrier, GroupCloser, Grouper, SimpleGrouper  # noqa: E402
from sync.models import SimpleSyncGroup, SyncGroup  # noqa: E402
from sync.pages import BarrierWaitingPage  # noqa: E402

__all__ += [
    "Barrier", "BarrierWaitingPage", "GroupBarrier", "GroupCloser", "Grouper", "SimpleGrouper",
    "SimpleSyncGroup", "SyncGroup",
]
