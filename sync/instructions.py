"""What a barrier compiles to, and finding barriers in a compiled program.

`Arrive` and `WaitCheck` are the timeline instructions every barrier element (sync.elements)
emits; they hand the work back to their barrier (`barrier.arrive(...)`, `barrier.check(...)`),
so this module imports nothing else of sync and the services can find barriers without
importing the researcher's classes. No locks, no writes.
"""

from typing import TYPE_CHECKING, Any

from experiments.timeline.program import Instruction

if TYPE_CHECKING:
    from experiments.timeline.program import Program, Runner


class Arrive(Instruction):
    """Record the arrival and try to release, in the participant's own transaction."""

    def __init__(self, barrier: Any) -> None:
        self.barrier = barrier
        self.label = f"barrier:{barrier.id}"
        self.check = self.timeout_page = self.group_failed_page = self.exit = -1

    def execute(self, run: "Runner", position: int) -> int | None:
        self.barrier.arrive(runner=run, position=position)
        return self.check


class WaitCheck(Instruction):
    """Released? Apply the outcome and leave; otherwise run the waiting logic (again)."""

    def __init__(self, barrier: Any, arrive: Arrive) -> None:
        self.barrier, self.arrive = barrier, arrive
        self.label = f"barrier:{barrier.id}"

    def execute(self, run: "Runner", position: int) -> int | None:
        return self.barrier.check(arrive=self.arrive, runner=run, position=position)


def program_barriers(program: "Program") -> dict[str, Any]:
    """Barrier id -> the first barrier element with that id (indexed once per program)."""
    cached = program.extra.get("sync_barriers")
    if cached is None:
        cached = {}
        for instruction in program.instructions:
            if isinstance(instruction, Arrive):
                cached.setdefault(instruction.barrier.id, instruction.barrier)
        program.extra["sync_barriers"] = cached
    return cached


def arrive_instruction(program: "Program", position: int) -> Arrive | None:
    if 0 <= position < len(program.instructions):
        instruction = program.instructions[position]
        if isinstance(instruction, Arrive):
            return instruction
    return None
