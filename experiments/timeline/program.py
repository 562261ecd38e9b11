"""The compiled timeline: a flat list of instructions with jumps, and the stepper that runs it.

`compile_timeline` runs once when the experiment loads. `Runner.advance` moves a participant from
one page to the next, running code, branches and loops in between, entirely in memory; the
caller (experiments.services) locks the participant row and persists what the runner recorded.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .elements import (
    CodeBlock,
    Conditional,
    Elt,
    ExperimentError,
    Module,
    PageElt,
    PageMaker,
    Sequence,
    Switch,
    WhileLoop,
    join,
)
from .injection import Lazy, call_with_args
from .pages import Page, SuccessfulEndPage, UnsuccessfulEndPage

#: Steps without reaching a page before the engine decides the timeline loops forever.
MAX_STEPS = 10_000


class Instruction:
    label = ""

    def execute(self, run: "Runner", position: int) -> int | None:
        """Return the next position, or None to stop here and show a page."""
        raise NotImplementedError


class ShowPage(Instruction):
    def __init__(self, source: Page | PageMaker, module_id: str) -> None:
        self.source, self.module_id = source, module_id
        self.label = source.label

    @property
    def terminal(self) -> bool:
        return isinstance(self.source, Page) and self.source.terminal

    def entries(self, available: dict[str, Any]) -> list[Page | CodeBlock]:
        """The pages, and the code blocks between them (PsyNet's show_trial may return both),
        in order."""
        if isinstance(self.source, Page):
            return [self.source]
        entries = _page_entries(call_with_args(self.source.function, available))
        pages = [e for e in entries if isinstance(e, Page)]
        if not pages or len(pages) + sum(isinstance(e, CodeBlock) for e in entries) != len(entries):
            raise ExperimentError(f"PageMaker '{self.source.label}' must return a page or a list of pages "
                                  "(and code blocks between them)")
        for page in pages:
            if page.time_estimate is None:
                page.time_estimate = self.source.time_estimate / len(pages)
        return entries

    def pages(self, available: dict[str, Any]) -> list[Page]:
        return [e for e in self.entries(available) if isinstance(e, Page)]

    def code_between(self, available: dict[str, Any], after: int) -> list[CodeBlock]:
        """The code blocks that run after page number `after` (-1: before the first page) and
        before the next page (or the end of the list)."""
        seen, blocks = -1, []
        for entry in self.entries(available):
            if isinstance(entry, Page):
                if seen == after:
                    break
                seen += 1
            elif seen == after:
                blocks.append(entry)
        return blocks

    def execute(self, run: "Runner", position: int) -> int | None:
        return None


def _page_entries(made: Any) -> list[Any]:
    if isinstance(made, Sequence):
        made = made.elts
    if isinstance(made, list | tuple):
        return [entry for item in made for entry in _page_entries(item)]
    return [made.page if isinstance(made, PageElt) else made]


class RunCode(Instruction):
    def __init__(self, function: Callable[..., Any], label: str) -> None:
        self.function, self.label = function, label

    def execute(self, run: "Runner", position: int) -> int | None:
        call_with_args(self.function, run.available())
        return position + 1


class Goto(Instruction):
    def __init__(self, target: int = -1) -> None:
        self.target = target

    def execute(self, run: "Runner", position: int) -> int | None:
        return self.target


class Branch(Instruction):
    def __init__(self, switch: Switch) -> None:
        self.switch, self.label = switch, switch.label
        self.targets: dict[Any, int] = {}

    def execute(self, run: "Runner", position: int) -> int | None:
        key = self.switch.choose(run.available())
        try:
            target = self.targets[key]
        except (KeyError, TypeError):
            raise ExperimentError(
                f"switch '{self.label}' returned {key!r}, which is not one of its branches "
                f"{list(self.targets)}"
            ) from None
        run.log("branch", self.label, key)
        return target


class LoopStart(Instruction):
    def __init__(self, loop: WhileLoop) -> None:
        self.loop, self.label = loop, loop.label

    def execute(self, run: "Runner", position: int) -> int | None:
        run.state.setdefault("loops", {})[self.label] = {"started": time.time(), "n": 0}
        return position + 1


class LoopTest(Instruction):
    def __init__(self, loop: WhileLoop) -> None:
        self.loop, self.label = loop, loop.label
        self.exit = -1

    def execute(self, run: "Runner", position: int) -> int | None:
        loops = run.state.setdefault("loops", {})
        state = loops.setdefault(self.label, {"started": time.time(), "n": 0})
        limit = self.loop.max_loop_time
        if limit is not None and time.time() - state["started"] > limit:
            loops.pop(self.label, None)
            run.log("loop_timeout", self.label, state["n"])
            run.participant.fail(f"max_loop_time exceeded in loop '{self.label}'",
                                 tags=["max_loop_time"])
            return run.program.fail_position
        if call_with_args(self.loop.condition, run.available()):
            state["n"] += 1
            run.log("loop", self.label, state["n"])
            return position + 1
        loops.pop(self.label, None)
        return self.exit


class EnterModule(Instruction):
    def __init__(self, module: Module) -> None:
        self.module, self.label = module, module.id

    def execute(self, run: "Runner", position: int) -> int | None:
        run.state.setdefault("modules", []).append(self.module.id)
        run.module_changes[self.module.id] = "entered"
        return position + 1


class ExitModule(Instruction):
    def __init__(self, module: Module) -> None:
        self.module, self.label = module, module.id

    def execute(self, run: "Runner", position: int) -> int | None:
        stack = run.state.setdefault("modules", [])
        if stack and stack[-1] == self.module.id:
            stack.pop()
        previous = run.module_changes.get(self.module.id)
        run.module_changes[self.module.id] = "entered_and_finished" if previous == "entered" else "finished"
        return position + 1


class CreditStart(Instruction):
    """Remember the participant's time credit where a `fix_time_credit` construct begins."""

    def __init__(self, label: str) -> None:
        self.label = label

    def execute(self, run: "Runner", position: int) -> int | None:
        run.state.setdefault("credit", {})[str(position)] = run.participant.time_credit
        return position + 1


class CreditFix(Instruction):
    """Where a `fix_time_credit` construct ends: credit is its estimate, whatever path was taken."""

    def __init__(self, label: str, start: int, amount: float) -> None:
        self.label, self.start, self.amount = label, start, amount

    def execute(self, run: "Runner", position: int) -> int | None:
        start = run.state.get("credit", {}).pop(str(self.start), None)
        if start is not None:
            run.participant.time_credit = start + self.amount
        return position + 1


class Builder:
    def __init__(self) -> None:
        self.instructions: list[Instruction] = []
        self.module_stack: list[str] = []
        self.modules: dict[str, Module] = {}
        self.loop_labels: set[str] = set()
        self.elements: list[Elt] = []
        #: Injectable arguments elements add while compiling (trial makers add `trial`).
        self.arg_providers: dict[str, Callable[[Runner], Any]] = {}
        #: Room for what elements of the apps above need while compiling, by app (sync: barriers).
        self.extra: dict[str, Any] = {}

    def emit(self, instruction: Instruction) -> int:
        self.instructions.append(instruction)
        return len(self.instructions) - 1

    @property
    def here(self) -> int:
        return len(self.instructions)

    def add(self, elt: Elt) -> None:
        self.elements.append(elt)
        elt.compile(self)

    def show(self, source: Page | PageMaker) -> None:
        self.emit(ShowPage(source, self.module_stack[-1] if self.module_stack else ""))

    def code(self, function: Callable[..., Any], label: str) -> None:
        self.emit(RunCode(function, label))

    def branch(self, switch: Switch) -> None:
        credit_start = self.emit(CreditStart(switch.label)) if switch.fix_time_credit else None
        branch = Branch(switch)
        self.emit(branch)
        gotos = []
        for key, body in switch.branches.items():
            branch.targets[key] = self.here
            self.add(body)
            gotos.append(self.emit(Goto()))
        for index in gotos:
            self.instructions[index].target = self.here  # type: ignore[attr-defined]
        if credit_start is not None:
            self.emit(CreditFix(switch.label, credit_start, switch.estimate()))

    def loop(self, loop: WhileLoop) -> None:
        if loop.label in self.loop_labels:
            raise ExperimentError(f"two while_loops are labelled '{loop.label}'; loop labels must be unique")
        self.loop_labels.add(loop.label)
        credit_start = self.emit(CreditStart(loop.label)) if loop.fix_time_credit else None
        self.emit(LoopStart(loop))
        test = LoopTest(loop)
        test_position = self.emit(test)
        self.add(loop.body)
        self.emit(Goto(test_position))
        test.exit = self.here
        if credit_start is not None:
            self.emit(CreditFix(loop.label, credit_start, loop.estimate()))

    def enter_module(self, module: Module) -> None:
        if module.id in self.modules:
            raise ExperimentError(f"two modules have the id '{module.id}'; module ids must be unique")
        self.modules[module.id] = module
        self.emit(EnterModule(module))
        self.module_stack.append(module.id)

    def exit_module(self, module: Module) -> None:
        self.module_stack.pop()
        self.emit(ExitModule(module))


@dataclass
class Program:
    instructions: list[Instruction]
    modules: dict[str, Module]
    elements: list[Elt]
    estimated_duration: float
    fail_position: int
    #: Extra injectable arguments, by name: function(runner) -> value (trial makers add `trial`).
    arg_providers: dict[str, Callable[["Runner"], Any]] = field(default_factory=dict)
    #: Indexes the apps above keep per compiled program, by app (sync: barriers by id).
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.instructions)

    def page_labels(self) -> list[str]:
        return [i.label for i in self.instructions if isinstance(i, ShowPage)]


def compile_timeline(timeline: Any) -> Program:
    """Compile a timeline (anything `join` accepts) into a Program. Raises ExperimentError."""
    root = join(timeline)
    if not root.elts:
        raise ExperimentError("the timeline is empty")
    b = Builder()
    b.add(root)
    last = b.instructions[-1]
    if not (isinstance(last, ShowPage) and last.terminal):
        b.show(SuccessfulEndPage())
    fail_position = b.emit(ShowPage(UnsuccessfulEndPage(reason="failed"), ""))
    for instruction in b.instructions:
        if isinstance(instruction, Goto) and instruction.target < 0:
            raise ExperimentError("internal error: unresolved jump")
    return Program(
        instructions=b.instructions,
        modules=b.modules,
        elements=b.elements,
        estimated_duration=max(root.estimate(), 1e-9),
        fail_position=fail_position,
        arg_providers=b.arg_providers,
    )


class Runner:
    """Steps one participant through the program, in memory.

    Records what the caller must persist: timeline events and module entries/exits.
    """

    def __init__(self, program: Program, experiment: Any, participant: Any) -> None:
        self.program, self.experiment, self.participant = program, experiment, participant
        self.state: dict[str, Any] = participant.timeline_state
        self.events: list[tuple[str, str, Any]] = []
        self.module_changes: dict[str, str] = {}
        self._available: dict[str, Any] | None = None
        #: What the apps above keep for the length of one request, by app (sync: releases seen).
        self.extra: dict[str, Any] = {}

    def log(self, kind: str, label: str, value: Any = None) -> None:
        self.events.append((kind, label, value))

    def current_module_id(self) -> str:
        stack = self.state.get("modules") or []
        return stack[-1] if stack else ""

    def available(self) -> dict[str, Any]:
        """The arguments researcher functions may ask for by name."""
        module = self.program.modules.get(self.current_module_id())
        args: dict[str, Any] = {
            "participant": self.participant,
            "experiment": self.experiment,
            "module": module,
            "answer": self.participant.answer,
        }
        for name, provider in self.program.arg_providers.items():
            args[name] = Lazy(lambda provider=provider: provider(self))
        return args

    def instruction(self) -> Instruction:
        return self.program.instructions[self.participant.position]

    def current_pages(self) -> list[Page]:
        instruction = self.instruction()
        if not isinstance(instruction, ShowPage):
            raise ExperimentError("participant is not at a page")
        return instruction.pages(self.available())

    def current_page(self) -> Page:
        pages = self.current_pages()
        index = min(self.state.get("sub", 0), len(pages) - 1)
        return pages[index]

    def next_page(self, *, start: int) -> Page:
        """Run from `start` until a page, leave the participant there, and return that page."""
        position, steps = start, 0
        p = self.participant
        while True:
            steps += 1
            if steps > MAX_STEPS:
                raise ExperimentError(f"the timeline ran {MAX_STEPS} steps without reaching a page")
            if p.failed and not self._is_terminal(position):
                position = self.program.fail_position
            p.position = position
            next_position = self.program.instructions[position].execute(self, position)
            if next_position is None:
                break
            position = next_position
        self.state["sub"] = 0
        if self._run_code_between(after=-1) and self.participant.failed:
            return self.next_page(start=self.participant.position)
        page = self.current_page()
        return self._arrive(page)

    def after_answer(self) -> Page:
        """The participant answered the current page: show the next page of a PageMaker's list,
        or run on to the next page of the timeline."""
        pages = self.current_pages()
        sub = self.state.get("sub", 0)
        if not self.participant.failed:
            self._run_code_between(after=sub)
        if sub + 1 < len(pages) and not self.participant.failed:
            self.state["sub"] = sub + 1
            page = self.current_pages()[sub + 1]  # made again: the code may have changed state
            return self._arrive(page)
        return self.next_page(start=self.participant.position + 1)

    def _run_code_between(self, *, after: int) -> bool:
        """Run the code blocks a PageMaker placed after page number `after` (once: only when
        the participant moves on). True if there were any."""
        instruction = self.instruction()
        if not isinstance(instruction, ShowPage) or isinstance(instruction.source, Page):
            return False
        blocks = instruction.code_between(self.available(), after)
        for block in blocks:
            call_with_args(block.function, self.available())
        return bool(blocks)

    def _is_terminal(self, position: int) -> bool:
        instruction = self.program.instructions[position]
        return isinstance(instruction, ShowPage) and instruction.terminal

    def _arrive(self, page: Page) -> Page:
        """Put the participant on `page`; return the page they actually end up on."""
        p = self.participant
        p.page_uuid = uuid.uuid4()
        p.page_label = page.label
        page.on_reach(p, self.experiment)
        if page.terminal and p.failed and not isinstance(page, UnsuccessfulEndPage):
            # A participant failed while on the way to a success page ends on the failure page.
            p.position = self.program.fail_position
            failure_page = self.current_page()
            p.page_label = failure_page.label
            return failure_page
        return page


__all__ = ["Program", "Runner", "compile_timeline", "ShowPage", "Conditional"]
