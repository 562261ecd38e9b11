"""Call researcher functions with the arguments they name (`participant`, `experiment`, ...).

`bot` is PsyNet's name for the participant a bot drives: a function asking for `bot` gets the
participant.
"""

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any


class MissingArgument(TypeError):
    """A researcher function asks for an argument that is not available here."""


class Lazy:
    """An argument computed only if the called function asks for it."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory


@functools.lru_cache(maxsize=4096)
def _parameters(fn: Callable) -> tuple[tuple[str, ...], bool]:
    sig = inspect.signature(fn)
    names = []
    takes_kwargs = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            takes_kwargs = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.append(p.name)
    return tuple(names), takes_kwargs


def required_parameters(fn: Callable) -> list[str]:
    sig = inspect.signature(fn)
    return [
        p.name
        for p in sig.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def call_with_args(fn: Callable, available: Mapping[str, Any]) -> Any:
    """Call `fn` passing, by name, those of `available` that it declares.

    A parameter the function requires but that is not available is a researcher error, reported
    with the names that could have been used.
    """
    names, takes_kwargs = _parameters(fn)
    if "bot" in names and "bot" not in available and "participant" in available:
        # PsyNet passes the bot (a participant) as `bot` to bot_response and test functions.
        available = {**available, "bot": available["participant"]}
    wanted = available.keys() if takes_kwargs else [n for n in names if n in available]
    kwargs = {}
    for name in wanted:
        value = available[name]
        kwargs[name] = value.factory() if isinstance(value, Lazy) else value
    missing = [n for n in required_parameters(fn) if n not in kwargs]
    if missing:
        raise MissingArgument(
            f"{getattr(fn, '__qualname__', fn)} asks for {missing}; "
            f"available arguments are {sorted(available)}"
        )
    return fn(**kwargs)
