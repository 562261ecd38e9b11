"""State of a deployment: who takes part, where they are in the timeline, what they answered.

Models hold state only; every write goes through experiments.services.
"""

import secrets
import uuid

from django.db import models

from . import hooks
from .lifecycle import participant_mark_complete, participant_mark_failed


def new_token() -> str:
    """An unguessable participant token: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


class Deployment(models.Model):
    """One `manage.py deploy` of an experiment folder."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    label = models.CharField(max_length=255)
    experiment_path = models.CharField(max_length=1024)
    source_hash = models.CharField(max_length=64, help_text="sha256 of the experiment folder")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.label} ({self.created_at:%Y-%m-%d %H:%M})"


class VarStore:
    """Attribute access to a participant's `vars` dict: `participant.var.score = 3`."""

    def __init__(self, owner: "Participant") -> None:
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, name: str):
        try:
            return self._owner.vars[name]
        except KeyError:
            raise AttributeError(f"participant.var has no '{name}'") from None

    def __setattr__(self, name: str, value) -> None:
        self._owner.vars[name] = value

    def __delattr__(self, name: str) -> None:
        self._owner.vars.pop(name, None)

    def get(self, name: str, default=None):
        return self._owner.vars.get(name, default)

    def has(self, name: str) -> bool:
        return name in self._owner.vars

    def set(self, name: str, value) -> None:
        """PsyNet's `var.set(name, value)`: the same as `var.name = value`."""
        self._owner.vars[name] = value

    def inc(self, name: str, value=1):
        """PsyNet's `var.inc(name)`: add `value` (starting from 0) and return the new value."""
        self._owner.vars[name] = self._owner.vars.get(name, 0) + value
        return self._owner.vars[name]

    def __contains__(self, name: str) -> bool:
        return name in self._owner.vars


class Participant(models.Model):
    """One person (or bot) taking the experiment. Apps above the core add read-only attributes
    through `hooks.participant_properties` (`participant.assets`, `participant.active_barriers`)."""

    class Status(models.TextChoices):
        WORKING = "working"
        APPROVED = "approved"
        REJECTED = "rejected"
        RETURNED = "returned"
        ABANDONED = "abandoned"

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    worker_id = models.CharField(max_length=255, blank=True, db_index=True)
    assignment_id = models.CharField(max_length=255, blank=True)
    recruiter = models.CharField(max_length=64, blank=True, default="direct")
    entry_params = models.JSONField(default=dict, blank=True, help_text="query string at /start/")
    user_agent = models.CharField(max_length=512, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    is_bot = models.BooleanField(default=False)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WORKING)
    failed = models.BooleanField(default=False)
    failed_reason = models.CharField(max_length=1024, blank=True)
    failure_tags = models.JSONField(default=list, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    complete = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    vars = models.JSONField(default=dict, blank=True)
    answer = models.JSONField(null=True, blank=True, help_text="the last accepted answer")
    time_credit = models.FloatField(default=0.0, help_text="seconds of time_estimate earned")
    progress = models.FloatField(default=0.0, help_text="0..1")

    # Where the participant is: an index into the compiled program, plus the page shown there.
    position = models.IntegerField(default=0)
    page_uuid = models.UUIDField(null=True, blank=True)
    page_label = models.CharField(max_length=255, blank=True)
    page_started_at = models.DateTimeField(null=True, blank=True)
    # Engine bookkeeping that must survive requests (loop start times, current module).
    timeline_state = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_active_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "last_active_at"])]

    def __str__(self) -> str:
        return f"Participant {self.pk} ({self.worker_id or 'anonymous'})"

    @property
    def var(self) -> VarStore:
        return VarStore(self)

    def fail(self, reason: str = "", tags: list[str] | None = None) -> None:
        """Fail this participant (idempotent). Saved with the participant's next save."""
        participant_mark_failed(participant=self, reason=reason, tags=tags or [])

    def mark_complete(self) -> None:
        """Mark this participant complete (unless failed). Saved with their next save."""
        participant_mark_complete(participant=self)

    @property
    def extra(self) -> dict:
        """What the apps above keep on this instance for the length of a request (trials: the
        trials loaded for its pages). Never saved."""
        extra = self.__dict__.get("_extra")
        if extra is None:
            extra = self._extra = {}
        return extra

    def __getattr__(self, name: str):
        # Only reached when normal lookup fails: attributes the other apps registered.
        getter = hooks.participant_properties.get(name) if not name.startswith("_") else None
        if getter is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getter(self)


class Response(models.Model):
    """One accepted answer to one page. (participant, page_uuid) is unique: replays can't double."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="responses")
    page_uuid = models.UUIDField()
    page_label = models.CharField(max_length=255)
    module_id = models.CharField(max_length=255, blank=True)
    answer = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    time_taken = models.FloatField(null=True, blank=True, help_text="seconds on the page")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "page_uuid"], name="one_response_per_page")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Response {self.pk} to {self.page_label}"


class ModuleState(models.Model):
    """A participant's passage through one Module of the timeline."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="module_states")
    module_id = models.CharField(max_length=255)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    vars = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "module_id"], name="one_state_per_module")
        ]
        ordering = ["id"]

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def __str__(self) -> str:
        return f"{self.module_id} for participant {self.participant_id}"


class TimelineEvent(models.Model):
    """A logged engine decision: branch taken, loop repeated, module entered, failure."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    label = models.CharField(max_length=255, blank=True)
    value = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
