"""The lock rule: a transaction blocks only for its first sync lock; later ones are tried, and
work that found its lock busy is redone after commit."""

import threading

import pytest
from django.db import connection, transaction

from experiments import services
from sync.locks import holds_barrier_lock, lock_barrier
from sync.models import BarrierWait, SyncGroup

from .helpers import label, submit

pytestmark = pytest.mark.django_db(transaction=True)


class Holder:
    """Holds a barrier lock in another connection until told to let go."""

    def __init__(self, name: str) -> None:
        self.name, self.held, self.release = name, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()
        assert self.held.wait(10)

    def run(self) -> None:
        try:
            with transaction.atomic():
                lock_barrier(self.name)
                self.held.set()
                self.release.wait(30)
        finally:
            connection.close()

    def stop(self) -> None:
        self.release.set()
        self.thread.join(10)


def test_first_lock_blocks_later_locks_are_tried():
    holder = Holder("busy")
    try:
        with transaction.atomic():
            assert not holds_barrier_lock()
            assert lock_barrier("mine") == (True, True)
            assert holds_barrier_lock()
            assert lock_barrier("busy") == (False, False)       # held elsewhere: not waited for
            assert lock_barrier("free") == (True, False)
        assert not holds_barrier_lock()                          # released at commit
    finally:
        holder.stop()
    with transaction.atomic():
        assert lock_barrier("busy") == (True, True)


def test_an_arrival_that_finds_its_barrier_busy_is_processed_after_commit(sync_experiment):
    sync_experiment("grouping")
    a, b, c = (services.participant_create(worker_id=w) for w in "abc")
    submit(a)
    submit(b)
    holder = Holder("triad_grouper")
    try:
        with transaction.atomic():
            lock_barrier("something else")       # this transaction already holds a sync lock
            submit(c)                            # so the grouper's lock is only tried: busy
            assert SyncGroup.objects.count() == 0
            assert BarrierWait.objects.filter(released_at__isnull=True).count() == 3
            holder.stop()
        # committed: the deferred processing ran and formed the triad
    finally:
        holder.stop()
    assert SyncGroup.objects.count() == 1
    assert not BarrierWait.objects.filter(released_at__isnull=True).exists()
    submit(c)
    assert label(c) == "grouped"


def test_waiters_left_over_by_grouping_top_up_the_new_groups(use_experiment):
    """Four wait at once at a lobby (initial 3, max 4, join_existing_groups): one pass forms a
    group of three and tops it up with the fourth, instead of leaving them alone in the lobby."""
    from ..conftest import DEMOS

    use_experiment(DEMOS / "quorum")
    people = [services.participant_create(worker_id=f"q{i}") for i in range(4)]
    holder = Holder("lobby_grouper")
    try:
        with transaction.atomic():
            lock_barrier("something else")
            for p in people:
                submit(p)                        # recorded; processing deferred (lobby busy)
            assert BarrierWait.objects.filter(barrier_id="lobby_grouper", released_at__isnull=True).count() == 4
            holder.stop()
    finally:
        holder.stop()
    group = SyncGroup.objects.get()
    assert sorted(p.pk for p in group.participants) == sorted(p.pk for p in people)
    assert group.n_active_participants == 4
    assert sorted(group.memberships.values_list("joined_by", flat=True)) == ["grouped"] * 3 + ["joined"]
