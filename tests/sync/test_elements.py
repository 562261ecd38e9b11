"""The researcher's API: argument checks and messages (the reference's), compile rules."""

import pytest

from experiments.api import (
    Barrier,
    GroupBarrier,
    GroupCloser,
    Grouper,
    InfoPage,
    Module,
    SimpleGrouper,
    join,
)
from experiments.timeline import compile_timeline
from experiments.timeline.elements import ExperimentError
from sync.elements import Arrive, namespace_barriers, program_barriers


def test_simple_grouper_reference_messages():
    with pytest.raises(ValueError, match="The group_size argument has been renamed to initial_group_size, "
                                         "please update your code accordingly."):
        SimpleGrouper("g", group_size=2)
    with pytest.raises(ValueError, match="^initial_group_size must be provided.$"):
        SimpleGrouper("g")
    with pytest.raises(ValueError, match="If max_group_size != 'initial_group_size', you probably "
                                         "want to set join_existing_groups=True."):
        SimpleGrouper("g", initial_group_size=2, max_group_size=4)


@pytest.mark.parametrize("kwargs, message", [
    ({"initial_group_size": 0}, "initial_group_size must be a whole number >= 1"),
    ({"initial_group_size": 2.5}, "initial_group_size must be a whole number >= 1"),
    ({"initial_group_size": 3, "min_group_size": 4}, "min_group_size \\(4\\) cannot exceed"),
    ({"initial_group_size": 3, "max_group_size": 2, "join_existing_groups": True}, "cannot be below initial"),
    ({"initial_group_size": 3, "batch_size": 2}, "no group could ever be formed"),
    ({"initial_group_size": 3, "max_wait_time": -1}, "max_wait_time must be a positive number"),
    ({"initial_group_size": 3, "on_timeout": "explode"}, "on_timeout must be one of fail, proceed, kick"),
    ({"initial_group_size": 3, "on_timeout": "kick"}, "needs a GroupBarrier"),
])
def test_simple_grouper_argument_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimpleGrouper("g", **kwargs)


def test_defaults_follow_the_reference():
    grouper = SimpleGrouper("dyad", initial_group_size=2)
    assert grouper.id == "dyad_grouper"
    assert (grouper.max_group_size, grouper.min_group_size, grouper.batch_size) == (2, 2, 2)
    assert grouper.max_wait_time == 20 and grouper.on_timeout == "fail"
    assert grouper.join_existing_groups is False
    topped = SimpleGrouper("lobby", initial_group_size=3, max_group_size=None, join_existing_groups=True)
    assert topped.max_group_size is None
    closer = GroupCloser("dyad")
    assert closer.id == "closer_dyad" and closer.group_type == "dyad"
    barrier = GroupBarrier("b", "dyad")
    assert barrier.estimate() == pytest.approx(3 * 0.5)    # default waiting page x 3 repetitions
    with pytest.raises(ValueError, match="group_type must be a non-empty string"):
        GroupBarrier("b", "")
    with pytest.raises(ValueError, match="on_release must be a function"):
        GroupBarrier("b", "dyad", on_release="score")
    with pytest.raises(ValueError, match="needs an id_"):
        Barrier("")


def test_plain_barrier_must_say_who_to_release():
    with pytest.raises(NotImplementedError, match="choose_who_to_release"):
        Barrier("b").choose_who_to_release([])
    with pytest.raises(NotImplementedError, match="ready_to_group"):
        Grouper("g").ready_to_group([])


def test_barriers_sharing_an_id_must_agree():
    with pytest.raises(ExperimentError, match="two barriers share the id 'dyad_grouper'"):
        compile_timeline(join(SimpleGrouper("dyad", initial_group_size=2), InfoPage("x", time_estimate=1),
                              SimpleGrouper("dyad", initial_group_size=3)))
    # The same barrier twice (e.g. inside a loop body and after it) is fine: one waiting area.
    barrier = GroupBarrier("meet", "dyad")
    program = compile_timeline(join(barrier, InfoPage("x", time_estimate=1), GroupBarrier("meet", "dyad")))
    assert list(program_barriers(program)) == ["meet"]
    assert sum(isinstance(i, Arrive) for i in program.instructions) == 2


def test_namespacing_prefixes_barrier_ids():
    inner = join(GroupBarrier("round", "dyad"), InfoPage("x", time_estimate=1),
                 Module("m", GroupCloser("dyad")))
    namespace_barriers(inner, "tm_main")
    program = compile_timeline(inner)
    assert sorted(program_barriers(program)) == ["tm_main:closer_dyad", "tm_main:round"]
    other = GroupBarrier("round", "dyad")
    assert other.id == "round"                  # an un-namespaced barrier keeps its id


def test_barrier_compiles_to_arrive_check_waiting_logic_and_end_pages():
    program = compile_timeline(join(InfoPage("a", time_estimate=1, label="a"),
                                     GroupBarrier("meet", "dyad"), InfoPage("b", time_estimate=1, label="b")))
    arrive = next(i for i in program.instructions if isinstance(i, Arrive))
    labels = [getattr(i, "label", "") for i in program.instructions]
    assert labels[arrive.check + 1] == "sync_wait:meet"
    assert program.instructions[arrive.timeout_page].source.label == "sync_timeout"
    assert program.instructions[arrive.group_failed_page].source.label == "sync_group_failed"
    assert labels[arrive.exit] == "b"
    assert program.page_labels()[:2] == ["a", "sync_wait:meet"]
