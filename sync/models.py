"""State of synchronisation: sync groups, who is waiting at which barrier, failures to apply.

Barriers themselves live in the timeline (elements), not in the database; a barrier is named by
its (namespaced) id. Models hold state only; every write goes through sync.services.
"""

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from experiments.models import Participant, VarStore
from experiments.row_classes import registry


class SyncGroup(models.Model):
    """Participants synchronised at barriers. Made by groupers, closed by GroupClosers.

    Rows carry their class (`group_class`), so a `SimpleSyncGroup` loads back as one.
    """

    group_type = models.CharField(max_length=255, db_index=True)
    group_class = models.CharField(max_length=64, default="SyncGroup", editable=False)
    #: The grouper (barrier id) that formed the group.
    formed_by = models.CharField(max_length=255, blank=True)
    active = models.BooleanField(default=True)
    leader = models.ForeignKey(Participant, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    members = models.ManyToManyField(Participant, through="SyncGroupMember", related_name="+")
    #: Cached count of active members (working, not failed); refreshed by check_numbers().
    n_active_participants = models.IntegerField(default=0)
    initial_group_size = models.IntegerField(null=True, blank=True)
    max_group_size = models.IntegerField(null=True, blank=True)
    min_group_size = models.IntegerField(null=True, blank=True)
    join_existing_groups = models.BooleanField(default=False)
    vars = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    end_time = models.DateTimeField(null=True, blank=True)
    #: Why the group ended, when it did not end with a GroupCloser ("below minimum size", ...).
    end_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["group_type", "active"], name="sync_group_type_active")]

    def __str__(self) -> str:
        return f"{self.group_type} group {self.pk}"

    # Rows load back as the class that made them (experiments.row_classes).
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        registry.register(cls, base=SyncGroup)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        wanted = registry.resolve(SyncGroup, instance.__dict__.get("group_class", ""))
        if wanted is not None and wanted is not type(instance) and issubclass(wanted, SyncGroup):
            instance.__class__ = wanted
        return instance

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            self.group_class = type(self).__name__
        super().save(*args, **kwargs)

    # --- the reference API ----------------------------------------------------------------
    @property
    def var(self) -> VarStore:
        """Group-level variables: `group.var.round = 2` (saved with the group)."""
        return VarStore(self)

    @property
    def participants(self) -> list[Participant]:
        """Current members (including failed ones), oldest membership first.

        On a group not saved yet (inside `Grouper.group`) this is the list to fill.
        """
        if self.pk is None:
            if getattr(self, "_pending_participants", None) is None:
                self._pending_participants: list[Participant] = []
            return self._pending_participants
        cached = getattr(self, "_participants_cache", None)
        if cached is None:
            cached = list(
                Participant.objects.filter(
                    sync_memberships__group=self, sync_memberships__left_at__isnull=True
                ).order_by("sync_memberships__id")
            )
            self._participants_cache = cached
        return cached

    def refresh_members(self) -> None:
        """Forget the loaded members (and the list filled before the first save)."""
        self._participants_cache = None
        self._pending_participants = None

    def use_members(self, participants: list[Participant]) -> None:
        """Serve `participants` (already loaded, locked) as the members until refresh_members()."""
        self._participants_cache = participants

    @property
    def active_participants(self) -> list[Participant]:
        return [p for p in self.participants if is_active(p)]

    @property
    def active_followers(self) -> list[Participant]:
        return [p for p in self.active_participants if p.pk != self.leader_id]

    def check_leader(self) -> None:
        """If the leader is no longer active, the active member with the smallest id leads."""
        active = self.active_participants
        if active and self.leader_id not in {p.pk for p in active}:
            self.leader = min(active, key=lambda p: p.pk)

    def check_numbers(self) -> None:
        self.n_active_participants = len(self.active_participants)

    def close(self) -> None:
        """Close the group (saved by the caller): it takes no new members and releases no one."""
        self.active = False
        self.end_time = timezone.now()

    @classmethod
    def get_active_group(cls, participant: Participant, group_type: str) -> "SyncGroup":
        return participant.active_sync_groups[group_type]


class SimpleSyncGroup(SyncGroup):
    """A SyncGroup made by a SimpleGrouper (sizes and join_existing_groups are set)."""

    class Meta:
        proxy = True


def is_active(participant: Participant) -> bool:
    return not participant.failed and participant.status == Participant.Status.WORKING


class SyncGroupMember(models.Model):
    """A participant's membership of a sync group. Leaving (kicked) keeps the row, with left_at."""

    # No separate index on group: the unique (group, participant) constraint serves it.
    group = models.ForeignKey(SyncGroup, on_delete=models.CASCADE, related_name="memberships",
                              db_index=False)
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE,
                                    related_name="sync_memberships")
    joined_at = models.DateTimeField(default=timezone.now)
    #: How the participant came in: "grouped" (by a grouper) or "joined" (topped up a group).
    joined_by = models.CharField(max_length=16, default="grouped")
    left_at = models.DateTimeField(null=True, blank=True)
    left_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "participant"], name="sync_one_membership"),
        ]

    def __str__(self) -> str:
        return f"participant {self.participant_id} in group {self.group_id}"


class BarrierWait(models.Model):
    """One visit of a participant to a barrier: arrival, and (once) release.

    An open row (released_at is null) means the participant is waiting. Releasing sets
    released_at and outcome exactly once, under the barrier's lock; the participant's own next
    request reads the outcome and moves them on.
    """

    class Outcome(models.TextChoices):
        RELEASED = "released"            # the barrier's condition was met
        PROCEED = "proceed"              # max_wait_time passed, policy "proceed"
        NO_GROUP = "no_group"            # a GroupBarrier with no active group of its type
        GROUP_CLOSED = "group_closed"    # the group was closed while waiting
        ADMIN = "admin"                  # released by an admin
        TIMEOUT = "timeout"              # max_wait_time passed, policy "fail"
        GROUP_FAILED = "group_failed"    # the group fell below its minimum size for good
        LEFT = "left"                    # the participant failed or left while waiting

    FAILING_OUTCOMES = (Outcome.TIMEOUT, Outcome.GROUP_FAILED)

    # Indexed by sync_wait_participant (participant, barrier_id).
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE,
                                    related_name="barrier_waits", db_index=False)
    barrier_id = models.CharField(max_length=255)
    barrier_class = models.CharField(max_length=64)
    #: The program position of the barrier's arrival instruction (finds its end pages).
    position = models.IntegerField()
    #: For GroupBarriers: the group the participant waits with.
    group = models.ForeignKey(SyncGroup, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="waits")
    arrived_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField(null=True, blank=True, help_text="arrived_at + max_wait_time")
    on_timeout = models.CharField(max_length=8, default="fail")
    released_at = models.DateTimeField(null=True, blank=True)
    #: What released the row: "arrival", "beat", "admin", "failure" (a member's failure).
    released_by = models.CharField(max_length=16, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    #: Changes to participant.var made by on_release for this participant, applied when they
    #: move on (their row is only ever written by their own request): {"set": {}, "unset": []}.
    var_updates = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["barrier_id", "group"], name="sync_wait_open",
                         condition=Q(released_at__isnull=True)),
            models.Index(fields=["participant", "barrier_id"], name="sync_wait_participant"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["participant", "barrier_id"], name="sync_one_open_wait",
                                    condition=Q(released_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"participant {self.participant_id} at {self.barrier_id}"

    @property
    def released(self) -> bool:
        return self.released_at is not None

    @property
    def waited_seconds(self) -> float:
        end = self.released_at or timezone.now()
        return max(0.0, (end - self.arrived_at).total_seconds())


class PendingFailure(models.Model):
    """A participant to fail outside the barrier transaction (an outbox).

    Barrier processing never locks other participants' rows (that would deadlock against their
    own requests); it writes these rows instead, applied right after commit, and by the beat
    task if that did not happen.
    """

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE,
                                    related_name="pending_sync_failures")
    class Kind(models.TextChoices):
        TIMEOUT = "timeout"              # waited past max_wait_time (policy "fail")
        GROUP_FAILED = "group_failed"    # their group fell below its minimum size for good
        KICKED = "kicked"                # removed from their group for not arriving in time

    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.CharField(max_length=255)
    tags = models.JSONField(default=list, blank=True)
    #: The wait that failed them, if any: they are moved to that barrier's end page.
    wait = models.ForeignKey(BarrierWait, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], name="sync_failure_pending",
                                condition=Q(applied_at__isnull=True))]
