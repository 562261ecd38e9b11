"""The timeline: elements researchers compose, and the compiled program participants step through."""

from .controls import (
    AnswerFormatError,
    CheckboxControl,
    Control,
    DropdownControl,
    NextButton,
    NullControl,
    NumberControl,
    PushButtonControl,
    RadioButtonControl,
    SliderControl,
    TextControl,
)
from .elements import (
    CodeBlock,
    Elt,
    ExperimentError,
    Module,
    PageMaker,
    conditional,
    join,
    switch,
    while_loop,
)
from .pages import (
    EndPage,
    InfoPage,
    ModularPage,
    Page,
    SuccessfulEndPage,
    UnsuccessfulEndPage,
    WaitPage,
)
from .program import Program, Runner, compile_timeline
from .prompts import AudioPrompt, ImagePrompt, Prompt, VideoPrompt

__all__ = [
    "AnswerFormatError", "AudioPrompt", "CheckboxControl", "CodeBlock", "Control",
    "DropdownControl", "Elt", "EndPage", "ExperimentError", "ImagePrompt", "InfoPage",
    "ModularPage", "Module", "NextButton", "NullControl", "NumberControl", "Page", "PageMaker",
    "Program", "Prompt", "PushButtonControl", "RadioButtonControl", "Runner", "SliderControl",
    "SuccessfulEndPage", "TextControl", "UnsuccessfulEndPage", "VideoPrompt", "WaitPage",
    "compile_timeline", "conditional", "join", "switch", "while_loop",
]
