"""Function assets: importable references, argument filling and cache keys.

A function asset calls `function(path=<file to write>, **arguments)`. Arguments not given are
filled from the holder's definition by parameter name. The cache key hashes the function's
source code, its name, the arguments and the extension, so editing the function regenerates.
"""

import functools
import hashlib
import importlib
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from experiments.loading import get_experiment
from experiments.timeline.elements import ExperimentError


def function_path(fn: Callable) -> str:
    """'module:qualname' for a module-level function; lambdas and nested functions are refused
    (workers must be able to import them)."""
    if not callable(fn):
        raise ExperimentError(f"{fn!r} is not a function")
    qualname = getattr(fn, "__qualname__", "")
    module = getattr(fn, "__module__", None)
    if not module or not qualname or "<lambda>" in qualname or "<locals>" in qualname:
        raise ExperimentError(
            f"function assets need a module-level function (workers import it by name); "
            f"{qualname or fn!r} is a lambda or nested function"
        )
    return f"{module}:{qualname}"


def resolve_function(path: str) -> Callable:
    module_name, _, qualname = path.partition(":")
    if module_name.startswith("chorus_experiment_"):
        get_experiment()  # imports the experiment package under its generated name
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


@functools.lru_cache(maxsize=1024)
def function_source(fn: Callable) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        return repr(code.co_code) + repr(code.co_consts) if code else repr(fn)


@functools.lru_cache(maxsize=1024)
def _signature(fn: Callable) -> inspect.Signature:
    return inspect.signature(fn)


def fill_arguments(fn: Callable, explicit: Mapping[str, Any] | None,
                   definition: Mapping[str, Any] | None) -> dict[str, Any]:
    """Explicit arguments, plus those the function names that the holder's definition has."""
    arguments = dict(explicit or {})
    sig = _signature(fn)
    params = sig.parameters
    if "path" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise ExperimentError(f"{fn.__qualname__} must take a `path` argument (the file to write)")
    for name, param in params.items():
        if name == "path" or name in arguments:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if definition and name in definition:
            arguments[name] = definition[name]
        elif param.default is param.empty:
            raise ExperimentError(
                f"{fn.__qualname__} needs argument '{name}': give it in `arguments` or in the "
                f"holder's definition"
            )
    unknown = [k for k in arguments if k not in params]
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise ExperimentError(f"{fn.__qualname__} takes no argument(s) {unknown}")
    try:
        json.dumps(arguments, sort_keys=True)
    except TypeError as exc:
        raise ExperimentError(f"arguments of {fn.__qualname__} must be JSON-serialisable: {exc}") from None
    return arguments


def cache_key(fn: Callable, arguments: Mapping[str, Any], extension: str) -> str:
    payload = json.dumps(
        {"function": function_path(fn), "source": function_source(fn),
         "arguments": arguments, "extension": extension},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()
