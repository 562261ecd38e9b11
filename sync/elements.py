"""Barriers, groupers and group closers: timeline elements that hold participants together.

A barrier compiles into a few instructions:

    arrive      record the arrival (a BarrierWait row) and process the barrier in the same
                transaction: the last arrival releases its group at once
    check       released? then apply the outcome and go on (or to an end page); else fall through
    ...         the waiting logic: the default waiting page (polls a cheap status endpoint and
                submits itself once released) or the researcher's filler pages
    goto check
    end pages   shown to participants failed by a timeout / by their group falling apart

The reference semantics (PsyNet's psynet.sync) are kept, with its known defects fixed; see
sync/README.md.
"""

import random
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from experiments.timeline.elements import Elt, ExperimentError, join
from experiments.timeline.injection import call_with_args
from experiments.timeline.program import Goto

from .decisions import decide_barrier, decide_group_barrier, decide_grouper
from .instructions import Arrive, WaitCheck, arrive_instruction, program_barriers  # noqa: F401  (importable from here too)
from .models import SimpleSyncGroup
from .pages import (
    GROUP_FAILED_MESSAGE,
    TIMEOUT_MESSAGE,
    BarrierWaitingPage,
    group_failed_end_page,
    timeout_end_page,
)
from .selectors import barrier_waiting_participants
from .services import barrier_arrive, barrier_check

if TYPE_CHECKING:
    from experiments.models import Participant
    from experiments.timeline.program import Builder, Runner

    from .models import SyncGroup

TIMEOUT_POLICIES = ("fail", "proceed", "kick")


class Barrier(Elt):
    """Holds participants in a waiting area until `choose_who_to_release` lets them go.

    Barriers with the same id share a waiting area, wherever they stand in the timeline.
    `max_wait_time` (seconds, None for no limit) is enforced on the server by the beat task;
    `on_timeout` says what happens then: "fail" (the default, as in the reference), "proceed"
    (release anyway) or, for group barriers, "kick" (drop the absent members, go on without them).
    """

    timeout_message = TIMEOUT_MESSAGE
    group_failed_message = GROUP_FAILED_MESSAGE
    #: `manage.py test_experiment` runs all its bots at once when the timeline has a barrier.
    bots_run_together = True
    #: Decided group by group (GroupBarrier), each group under its own lock.
    grouped = False

    def __init__(self, id_: str, waiting_logic: Any = None, waiting_logic_expected_repetitions: int = 3,
                 max_wait_time: float | None = 20, fix_time_credit: bool = False,
                 *, on_timeout: str = "fail") -> None:
        if not isinstance(id_, str) or not id_.strip():
            raise ValueError("a barrier needs an id_ (a non-empty string)")
        if max_wait_time is not None and (isinstance(max_wait_time, bool)
                                          or not isinstance(max_wait_time, int | float)
                                          or max_wait_time <= 0):
            raise ValueError("max_wait_time must be a positive number of seconds (or None)")
        if (isinstance(waiting_logic_expected_repetitions, bool)
                or not isinstance(waiting_logic_expected_repetitions, int | float)
                or waiting_logic_expected_repetitions < 0):
            raise ValueError("waiting_logic_expected_repetitions must be a number >= 0")
        if on_timeout not in TIMEOUT_POLICIES:
            raise ValueError(f"on_timeout must be one of {', '.join(TIMEOUT_POLICIES)}; got {on_timeout!r}")
        if on_timeout == "kick" and not isinstance(self, GroupBarrier):
            raise ValueError("on_timeout='kick' removes absent group members, so it needs a GroupBarrier")
        self.local_id = id_
        self.namespace = ""
        self.waiting_logic = join(waiting_logic if waiting_logic is not None
                                  else BarrierWaitingPage(label=f"sync_wait:{id_}"))
        self.waiting_logic_expected_repetitions = waiting_logic_expected_repetitions
        self.max_wait_time = max_wait_time
        self.fix_time_credit = fix_time_credit
        self.on_timeout = on_timeout

    # --- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The barrier's id, prefixed by its namespace (a trial maker's id) if it has one."""
        return f"{self.namespace}:{self.local_id}" if self.namespace else self.local_id

    def set_namespace(self, namespace: str) -> None:
        """Put this barrier in a namespace (trial makers do this with their id)."""
        self.namespace = namespace

    def signature(self) -> tuple:
        """Barriers sharing an id must agree on this (they share one waiting area)."""
        return (type(self).__name__,)

    # --- the reference API ------------------------------------------------------------------
    def choose_who_to_release(self, waiting_participants: list["Participant"]) -> list["Participant"]:
        """Override: given the waiting participants (oldest first), return those to release."""
        raise NotImplementedError(
            f"{type(self).__name__} must define choose_who_to_release(waiting_participants)"
        )

    def receive_participant(self, participant: "Participant") -> None:
        """Called when a participant arrives, before the arrival is recorded (raise to refuse)."""

    def get_waiting_participants(self) -> list["Participant"]:
        return barrier_waiting_participants(self.id)

    def can_participant_exit(self, participant: "Participant") -> bool:
        return self.id not in participant.active_barriers

    # --- decisions (sync.processing calls this under the barrier's lock) ---------------------
    def decide(self, ctx) -> None:
        decide_barrier(self, ctx)

    def arrive(self, *, runner: "Runner", position: int) -> None:
        """The `Arrive` instruction: record the arrival, release whoever can go."""
        barrier_arrive(barrier=self, runner=runner, position=position)

    def check(self, *, arrive: Arrive, runner: "Runner", position: int) -> int:
        """The `WaitCheck` instruction: where the participant goes next."""
        return barrier_check(barrier=self, arrive=arrive, runner=runner, position=position)

    def status_message(self, *, n_here: int, group_id: int | None, group_size: int | None) -> tuple[int | None, str]:
        """(how many are expected, the waiting page's line) for the status endpoint."""
        return None, f"{n_here} participant{'s' if n_here != 1 else ''} waiting"

    # --- timeline ---------------------------------------------------------------------------
    def estimate(self) -> float:
        return self.waiting_logic.estimate() * self.waiting_logic_expected_repetitions

    def children(self) -> Iterable[Elt]:
        return [self.waiting_logic]

    def compile(self, b: "Builder") -> None:
        known = b.extra.setdefault("sync_barriers", {})
        other = known.get(self.id)
        if other is not None and other.signature() != self.signature():
            raise ExperimentError(
                f"two barriers share the id '{self.id}' but differ ({other.signature()} vs "
                f"{self.signature()}); barriers with one id share a waiting area, so give each "
                "its own id_"
            )
        known.setdefault(self.id, self)
        arrive = Arrive(self)
        b.emit(arrive)
        arrive.check = b.emit(WaitCheck(self, arrive))
        b.add(self.waiting_logic)
        b.emit(Goto(arrive.check))
        arrive.timeout_page = b.here
        b.show(timeout_end_page(self.id, self.timeout_message))
        arrive.group_failed_page = b.here
        b.show(group_failed_end_page(self.id, self.group_failed_message))
        arrive.exit = b.here


class GroupBarrier(Barrier):
    """Waits until every active member of the participant's `group_type` group is here.

    A group below its minimum size waits for top-ups if it accepts them
    (`join_existing_groups`); otherwise it can never continue, so ALL its members are released
    and failed. `on_release(group, participants, ...)` runs once per released group; it may
    change `participant.var` (applied to each member as they move on) and `group.var`.
    """

    grouped = True

    def __init__(self, id_: str, group_type: str, waiting_logic: Any = None,
                 waiting_logic_expected_repetitions: int = 3, max_wait_time: float | None = 20,
                 on_release: Callable[..., Any] | None = None, fix_time_credit: bool = False,
                 *, on_timeout: str = "fail") -> None:
        _check_group_type(group_type)
        if on_release is not None and not callable(on_release):
            raise ValueError("on_release must be a function (or None)")
        super().__init__(id_, waiting_logic, waiting_logic_expected_repetitions, max_wait_time,
                         fix_time_credit, on_timeout=on_timeout)
        self.group_type = group_type
        self.on_release = on_release

    def signature(self) -> tuple:
        return (type(self).__name__, self.group_type)

    def decide(self, ctx) -> None:
        decide_group_barrier(self, ctx)

    def status_message(self, *, n_here: int, group_id: int | None, group_size: int | None) -> tuple[int | None, str]:
        if group_id is None:
            return super().status_message(n_here=n_here, group_id=group_id, group_size=group_size)
        return group_size, f"{n_here} of {group_size} in your group are here"


class GroupCloser(GroupBarrier):
    """Waits for the whole group, then closes it: needed before regrouping the same group_type."""

    def __init__(self, group_type: str, **kwargs: Any) -> None:
        kwargs.setdefault("id_", f"closer_{group_type}")
        self.user_on_release = kwargs.pop("on_release", None)
        super().__init__(group_type=group_type, on_release=self._close, **kwargs)

    def _close(self, group: "SyncGroup", participants: list["Participant"], experiment: Any = None) -> None:
        if self.user_on_release is not None:
            call_with_args(self.user_on_release, {"group": group, "participants": participants,
                                                  "experiment": experiment})
        group.close()


class Grouper(Barrier):
    """A barrier that puts waiting participants into SyncGroups of `group_type`.

    Override `ready_to_group(participants)` and `group(participants)` (returning a list of
    unsaved SyncGroups whose `participants` lists are filled); `select_leader` picks a leader.
    """

    def __init__(self, group_type: str, id_: str | None = None, waiting_logic: Any = None,
                 waiting_logic_expected_repetitions: int = 3, max_wait_time: float | None = 20,
                 fix_time_credit: bool = False, *, on_timeout: str = "fail") -> None:
        _check_group_type(group_type)
        if not id_:
            id_ = group_type + "_" + "grouper"
        super().__init__(id_, waiting_logic, waiting_logic_expected_repetitions, max_wait_time,
                         fix_time_credit, on_timeout=on_timeout)
        self.group_type = group_type

    def signature(self) -> tuple:
        return (type(self).__name__, self.group_type)

    def ready_to_group(self, participants: list["Participant"]) -> bool:
        raise NotImplementedError(f"{type(self).__name__} must define ready_to_group(participants)")

    def group(self, participants: list["Participant"]) -> list["SyncGroup"]:
        raise NotImplementedError(f"{type(self).__name__} must define group(participants)")

    def select_leader(self, participants: list["Participant"]) -> "Participant":
        """By default the leader is chosen at random."""
        return random.choice(participants)

    def receive_participant(self, participant: "Participant") -> None:
        if self.group_type in participant.active_sync_groups:
            raise ExperimentError(
                f"Participant is already in a group with this group_type ('{self.group_type}'). "
                "You should close this group, typically by including a GroupCloser in the timeline, "
                "before reassigning it."
            )

    def decide(self, ctx) -> None:
        decide_grouper(self, ctx)

    def uses_fast_path(self) -> bool:
        """Whether sync.grouping may group the waiters in one SQL statement (SimpleGrouper)."""
        return False


class SimpleGrouper(Grouper):
    """Waits until `batch_size` participants wait, then randomly partitions them into groups of
    `initial_group_size`. With `join_existing_groups`, a participant first tops up an active
    group of this type that has room (smallest first, then oldest) — never a closed one.
    """

    def __init__(self, group_type: str, *, initial_group_size: int | None = None,
                 max_group_size: int | str | None = "initial_group_size",
                 min_group_size: int | str = "initial_group_size",
                 batch_size: int | str = "initial_group_size",
                 join_existing_groups: bool = False, **kwargs: Any) -> None:
        if "group_size" in kwargs:
            raise ValueError(
                "The group_size argument has been renamed to initial_group_size, "
                "please update your code accordingly.",
            )
        if initial_group_size is None:
            raise ValueError("initial_group_size must be provided.")
        _check_size("initial_group_size", initial_group_size)
        super().__init__(group_type=group_type, **kwargs)
        if max_group_size == "initial_group_size":
            max_group_size = initial_group_size
        else:
            if not join_existing_groups:
                raise ValueError(
                    "If max_group_size != 'initial_group_size', you probably want to set join_existing_groups=True."
                )
            if max_group_size is not None:
                _check_size("max_group_size", max_group_size)
        if min_group_size == "initial_group_size":
            min_group_size = initial_group_size
        if batch_size == "initial_group_size":
            batch_size = initial_group_size
        _check_size("min_group_size", min_group_size)
        _check_size("batch_size", batch_size)
        if min_group_size > initial_group_size:
            raise ValueError(f"min_group_size ({min_group_size}) cannot exceed initial_group_size ({initial_group_size})")
        if max_group_size is not None and max_group_size < initial_group_size:
            raise ValueError(f"max_group_size ({max_group_size}) cannot be below initial_group_size ({initial_group_size})")
        if batch_size < initial_group_size:
            raise ValueError(f"batch_size ({batch_size}) cannot be below initial_group_size "
                             f"({initial_group_size}): no group could ever be formed")
        self.initial_group_size = initial_group_size
        self.max_group_size = max_group_size
        self.min_group_size = min_group_size
        self.batch_size = batch_size
        self.join_existing_groups = bool(join_existing_groups)

    def signature(self) -> tuple:
        return (type(self).__name__, self.group_type, self.initial_group_size, self.max_group_size,
                self.min_group_size, self.batch_size, self.join_existing_groups)

    def ready_to_group(self, participants: list["Participant"]) -> bool:
        return len(participants) >= self.batch_size

    def group(self, participants: list["Participant"]) -> list["SyncGroup"]:
        n_groups = len(participants) // self.initial_group_size
        chosen = participants[: n_groups * self.initial_group_size]
        groups = []
        for members in self.randomly_partition_list(chosen, group_size=self.initial_group_size):
            group = SimpleSyncGroup(
                group_type=self.group_type, initial_group_size=self.initial_group_size,
                max_group_size=self.max_group_size, min_group_size=self.min_group_size,
                n_active_participants=len(members), join_existing_groups=self.join_existing_groups,
            )
            group.participants.extend(members)
            group.leader = self.select_leader(members)
            groups.append(group)
        return groups

    @staticmethod
    def randomly_partition_list(lst: list, group_size: int) -> list[list]:
        if len(lst) % group_size:
            raise ValueError(f"List size ({len(lst)}) is not an integer multiple of group_size ({group_size})")
        n_groups = len(lst) // group_size
        lst = lst.copy()
        random.shuffle(lst)
        return [lst[i::n_groups] for i in range(n_groups)]

    def status_message(self, *, n_here: int, group_id: int | None, group_size: int | None) -> tuple[int | None, str]:
        return self.batch_size, f"{n_here} of {self.batch_size} participants needed are here"

    def uses_fast_path(self) -> bool:
        """Grouping by one SQL statement is exact only if no grouping hook is overridden."""
        cls = type(self)
        return all(getattr(cls, name) is getattr(SimpleGrouper, name)
                   for name in ("ready_to_group", "group", "select_leader", "randomly_partition_list"))


def _check_group_type(group_type: Any) -> None:
    if not isinstance(group_type, str) or not group_type.strip():
        raise ValueError("group_type must be a non-empty string")


def _check_size(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1; got {value!r}")


def namespace_barriers(elt: Elt, namespace: str) -> None:
    """Prefix the ids of every barrier inside `elt` with `namespace` (a trial maker's id), so
    two trial makers' barriers never share a waiting area by accident."""
    stack = [elt]
    while stack:
        current = stack.pop()
        if isinstance(current, Barrier):
            current.set_namespace(namespace)
        stack.extend(current.children())
