"""The researcher's timeline vocabulary: join, Module, CodeBlock, PageMaker, branches and loops.

Elements describe the timeline; `program.compile_timeline` turns them, once at load, into a flat
list of instructions with jumps. A participant stores only its position in that list.
"""

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .injection import call_with_args
from .pages import Page

if TYPE_CHECKING:
    from .program import Builder


class ExperimentError(Exception):
    """A mistake in the experiment's definition, reported when the experiment loads."""


class Elt:
    """Base of everything that can stand in a timeline."""

    def compile(self, b: "Builder") -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def estimate(self) -> float:
        """Expected seconds a participant spends in this element."""
        return 0.0

    def children(self) -> Iterable["Elt"]:
        return ()

    def prepare(self, experiment, progress) -> None:
        """Called by `manage.py deploy`: create what this element needs (e.g. trial nodes)."""


def as_elt(item: Any) -> "Elt":
    if isinstance(item, Elt):
        return item
    if isinstance(item, Page):
        return PageElt(item)
    raise ExperimentError(f"{item!r} cannot stand in a timeline (expected a page or an element)")


def _flatten(items: Iterable[Any]) -> list[Elt]:
    out: list[Elt] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, Sequence):
            out.extend(item.elts)
        elif isinstance(item, list | tuple):
            out.extend(_flatten(item))
        else:
            out.append(as_elt(item))
    return out


class Sequence(Elt):
    def __init__(self, elts: list[Elt]) -> None:
        self.elts = elts

    def compile(self, b: "Builder") -> None:
        for elt in self.elts:
            b.add(elt)

    def estimate(self) -> float:
        return sum(e.estimate() for e in self.elts)

    def children(self) -> Iterable[Elt]:
        return self.elts


def join(*items: Any) -> Sequence:
    """Concatenate pages, elements and lists of them into one timeline."""
    return Sequence(_flatten(items))


def Timeline(*items: Any) -> Sequence:  # noqa: N802 - PsyNet's name for a class
    """PsyNet's `Timeline(...)`: the same as `join(...)` (the experiment's `timeline` attribute)."""
    return join(*items)


class PageElt(Elt):
    def __init__(self, page: Page) -> None:
        if page.time_estimate is None:
            raise ExperimentError(f"page '{page.label}' has no time_estimate (seconds); every page needs one")
        self.page = page

    def compile(self, b: "Builder") -> None:
        b.show(self.page)

    def estimate(self) -> float:
        return float(self.page.time_estimate or 0)


class PageMaker(Elt):
    """A page (or list of pages) built when the participant reaches it.

    The function receives arguments by name (`participant`, `experiment`, `assets`, ...). It is
    called again on reload and on submit, so it should depend only on stored state (keep random
    choices in `participant.var`).
    """

    def __init__(self, function: Callable[..., Page | list[Page]], time_estimate: float | None = None,
                 *, label: str = "page_maker") -> None:
        if not callable(function):
            raise ExperimentError("PageMaker needs a function")
        if time_estimate is None:
            raise ExperimentError(f"PageMaker '{label}' has no time_estimate (seconds)")
        self.function, self.time_estimate, self.label = function, time_estimate, label

    def compile(self, b: "Builder") -> None:
        b.show(self)

    def estimate(self) -> float:
        return float(self.time_estimate)


class CodeBlock(Elt):
    """Run a function (arguments by name) when the participant passes this point."""

    def __init__(self, function: Callable[..., Any], *, label: str = "code_block") -> None:
        if not callable(function):
            raise ExperimentError("CodeBlock needs a function")
        self.function, self.label = function, label

    def compile(self, b: "Builder") -> None:
        b.code(self.function, self.label)


class Module(Elt):
    """A named part of the timeline with per-participant state (started/finished) and assets."""

    def __init__(self, id_: str, *elts: Any, assets: dict[str, Any] | None = None) -> None:
        if not id_ or not isinstance(id_, str):
            raise ExperimentError("a Module needs an id_ (a non-empty string)")
        self.id = id_
        self.body = join(*elts)
        self.assets = dict(assets or {})

    def compile(self, b: "Builder") -> None:
        b.enter_module(self)
        b.add(self.body)
        b.exit_module(self)

    def estimate(self) -> float:
        return self.body.estimate()

    def children(self) -> Iterable[Elt]:
        return [self.body]


class Switch(Elt):
    def __init__(self, label: str, function: Callable[..., Any], branches: dict[Any, Any],
                 *, fix_time_credit: bool = False) -> None:
        if not branches:
            raise ExperimentError(f"switch '{label}' has no branches")
        self.label, self.function = label, function
        self.branches = {key: join(value) for key, value in branches.items()}
        self.fix_time_credit = fix_time_credit

    def choose(self, available: dict[str, Any]) -> Any:
        return call_with_args(self.function, available)

    def compile(self, b: "Builder") -> None:
        b.branch(self)

    def estimate(self) -> float:
        return max(branch.estimate() for branch in self.branches.values())

    def children(self) -> Iterable[Elt]:
        return list(self.branches.values())


def switch(label: str, function: Callable[..., Any], branches: dict[Any, Any],
           fix_time_credit: bool = False) -> Switch:
    """Go down the branch whose key `function` returns.

    With `fix_time_credit`, the participant is credited the longest branch's estimate
    whichever branch they take (set when the switch ends)."""
    return Switch(label, function, branches, fix_time_credit=fix_time_credit)


class Conditional(Switch):
    def choose(self, available: dict[str, Any]) -> Any:
        return bool(super().choose(available))


def conditional(label: str, condition: Callable[..., Any], logic_if_true: Any,
                logic_if_false: Any = None, fix_time_credit: bool = False) -> Conditional:
    """Go down `logic_if_true` when `condition` holds, else `logic_if_false` (or nothing).
    `fix_time_credit` as for `switch`."""
    return Conditional(label, condition, {True: logic_if_true, False: logic_if_false},
                       fix_time_credit=fix_time_credit)


class WhileLoop(Elt):
    def __init__(self, label: str, condition: Callable[..., Any], logic: Any,
                 expected_repetitions: int, max_loop_time: float | None = None,
                 fix_time_credit: bool = False) -> None:
        if expected_repetitions is None or expected_repetitions < 0:
            raise ExperimentError(f"while_loop '{label}' needs expected_repetitions >= 0")
        self.label, self.condition, self.body = label, condition, join(logic)
        self.expected_repetitions, self.max_loop_time = expected_repetitions, max_loop_time
        self.fix_time_credit = fix_time_credit

    def compile(self, b: "Builder") -> None:
        b.loop(self)

    def estimate(self) -> float:
        return self.body.estimate() * self.expected_repetitions

    def children(self) -> Iterable[Elt]:
        return [self.body]


def while_loop(label: str, condition: Callable[..., Any], logic: Any, expected_repetitions: int = 1,
               max_loop_time: float | None = None, fix_time_credit: bool = False) -> WhileLoop:
    """Repeat `logic` while `condition` holds; fail the participant after `max_loop_time` s.

    With `fix_time_credit`, the participant is credited `expected_repetitions` rounds' estimate
    however many rounds they took (set when the loop ends)."""
    return WhileLoop(label, condition, logic, expected_repetitions, max_loop_time, fix_time_credit)
