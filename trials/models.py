"""The three tables of trial makers: Network, Node, Trial.

Researchers subclass the classes in `static` and `chain` (themselves subclasses of these); the
subclasses are proxies of these tables (see `typed`), so they need no migrations. Per-row data
beyond the columns goes in `vars`. Methods here are the hooks researchers override; state changes
go through `trials.services`.
"""

import random
from typing import Any, ClassVar

from django.db import models
from django.db.models import Q

from assets.holders import AssetHolder as AssetLinks
from experiments.loading import get_experiment

from .typed import TypedModel


def random_shuffle() -> int:
    """A node's place in a random order: allocation breaks ties between equally used nodes at a
    random point of this order, which an index can serve (no sort of every node)."""
    return random.randrange(2**31)


class AssetHolder(AssetLinks, TypedModel):
    """Abstract base of networks, nodes and trials: `assets`, a dict by local key of the linked
    Asset rows (a trial also sees its node's). `add_assets({...})` declares assets: registered at
    once on a saved row; on an unsaved one (a node template, a trial inside finalize_definition)
    kept until the services save it and call `holder_register_pending` (function assets then
    take their arguments from the final definition)."""

    @property
    def assets(self):
        if self.pk is None:
            return dict(self.pending_assets())
        return AssetLinks.assets.fget(self)

    @assets.setter
    def assets(self, value: dict[str, Any] | None) -> None:
        if value:
            if not isinstance(value, dict):
                raise TypeError("assets is a dict of assets by local key")
            self.add_assets(value)

    class Meta:
        abstract = True


class Network(AssetHolder):
    asset_holder_kind = "network"

    """A chain of nodes (chain trial makers). `head` is the newest alive node."""

    trial_maker_id = models.CharField(max_length=255)
    participant = models.ForeignKey("experiments.Participant", null=True, blank=True,
                                    on_delete=models.CASCADE, related_name="networks",
                                    help_text="owner of a 'within' chain; empty for shared chains")
    position = models.IntegerField(default=0, help_text="index of the chain within its owner")
    head = models.ForeignKey("Node", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text="newest alive node")
    n_nodes = models.IntegerField(default=0, help_text="alive nodes")
    full = models.BooleanField(default=False, help_text="reached max_nodes_per_chain: takes no trials")
    failed = models.BooleanField(default=False)
    failed_reason = models.CharField(max_length=1024, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "experiments_network"  # the table predates the trials app (see migrations)
        ordering = ["id"]
        indexes = [models.Index(fields=["trial_maker_id", "full", "failed"], name="network_alloc")]
        constraints = [
            models.UniqueConstraint(fields=["trial_maker_id", "position"], condition=Q(participant__isnull=True),
                                    name="one_shared_network_per_position"),
            models.UniqueConstraint(fields=["trial_maker_id", "participant", "position"],
                                    condition=Q(participant__isnull=False),
                                    name="one_own_network_per_position"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.pk} ({self.trial_maker_id} #{self.position})"


class Node(AssetHolder):
    """A stimulus definition that trials are made from.

    `n_trials` counts the node's non-failed, non-repeat trials (in progress or finalized); the
    allocator keeps it exact under its lock and picks the least-used node.
    """

    asset_holder_kind = "node"

    trial_maker_id = models.CharField(max_length=255)
    network = models.ForeignKey(Network, null=True, blank=True, on_delete=models.CASCADE, related_name="nodes")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    degree = models.IntegerField(default=0, help_text="position in its chain (0: the start node)")
    block = models.CharField(max_length=255, default="default", blank=True)
    key = models.CharField(max_length=80, blank=True,
                           help_text="identity of a static node across deploys")
    seed = models.JSONField(null=True, blank=True, help_text="what the parent's trials produced (chains)")
    definition = models.JSONField(default=dict, blank=True)
    n_trials = models.IntegerField(default=0, help_text="non-failed, non-repeat trials")
    shuffle = models.IntegerField(default=random_shuffle, editable=False, help_text="random tie-break order")
    ready = models.BooleanField(default=True, help_text="False while async_on_deploy has not run")
    async_attempts = models.IntegerField(default=0)
    async_error = models.TextField(blank=True)
    async_deployed_at = models.DateTimeField(null=True, blank=True)
    failed = models.BooleanField(default=False)
    failed_reason = models.CharField(max_length=1024, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "experiments_node"  # the table predates the trials app (see migrations)
        ordering = ["id"]
        indexes = [
            models.Index(fields=["trial_maker_id", "block", "n_trials", "shuffle"], name="node_alloc",
                         condition=Q(failed=False, ready=True)),
            models.Index(fields=["ready", "created_at"], name="node_not_ready", condition=Q(ready=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["trial_maker_id", "key"], condition=~Q(key=""),
                                    name="one_static_node_per_key"),
            models.UniqueConstraint(fields=["network", "degree"],
                                    condition=Q(failed=False, network__isnull=False),
                                    name="one_alive_node_per_degree"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.pk} ({self.trial_maker_id})"

    @classmethod
    def has_async_on_deploy(cls) -> bool:
        return cls.async_on_deploy is not Node.async_on_deploy

    def async_on_deploy(self) -> None:
        """Override to do slow work when the node is created (synthesise a stimulus...).

        Runs on a Celery worker after the node is committed; participants get trials from the
        node once it has run. It may run more than once (at-least-once delivery): be idempotent.
        """


class Trial(AssetHolder):
    """One participant's go at one node."""

    #: Seconds a trial takes, feedback included (progress and pay). Required.
    time_estimate: ClassVar[float | None] = None
    asset_holder_kind = "trial"

    trial_maker_id = models.CharField(max_length=255)
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="trials")
    network = models.ForeignKey(Network, null=True, blank=True, on_delete=models.CASCADE, related_name="trials")
    participant = models.ForeignKey("experiments.Participant", on_delete=models.CASCADE, related_name="trials")
    number = models.IntegerField(help_text="1, 2, ... within the participant's trials of this maker")
    block = models.CharField(max_length=255, default="default", blank=True)
    definition = models.JSONField(default=dict, blank=True)
    answer = models.JSONField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    finalized = models.BooleanField(default=False)
    finalized_at = models.DateTimeField(null=True, blank=True)
    time_taken = models.FloatField(null=True, blank=True, help_text="seconds from allocation to answer")
    is_repeat_trial = models.BooleanField(default=False)
    repeat_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="repeats")
    failed = models.BooleanField(default=False)
    failed_reason = models.CharField(max_length=1024, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "experiments_trial"  # the table predates the trials app (see migrations)
        ordering = ["id"]
        indexes = [
            models.Index(fields=["participant", "trial_maker_id", "node"], name="trial_participant"),
            models.Index(fields=["trial_maker_id", "finalized", "failed"], name="trial_maker_status"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["participant", "trial_maker_id", "number"],
                                    name="one_trial_per_number"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.pk} ({self.trial_maker_id}, participant {self.participant_id})"

    # --- hooks researchers override -----------------------------------------------------------

    @property
    def position(self) -> int:
        """PsyNet's `trial.position`: 0 for the participant's first trial in this maker (`number` - 1)."""
        return self.number - 1

    def show_trial(self, experiment, participant):
        """Return the page (or list of pages) of this trial. The last page's answer is the trial's."""
        raise NotImplementedError(f"{type(self).__name__} must define show_trial(self, experiment, participant)")

    def show_feedback(self, experiment, participant):
        """Return a page shown after the answer (or None for no feedback)."""
        return None

    def finalize_definition(self, definition: dict[str, Any], experiment, participant) -> dict[str, Any]:
        """Adjust the definition copied from the node (randomise, add assets); return it."""
        return definition

    def score_answer(self, answer: Any, definition: dict[str, Any]) -> float | None:
        """Return a score for the answer (stored as `trial.score`; used by the performance check)."""
        return None

    # --- conveniences ---------------------------------------------------------------------------

    def asset_parents(self) -> list[Any]:
        """A trial sees its node's assets (its own keys win)."""
        return [("node", str(self.node_id))] if self.node_id else []

    @property
    def trial_maker(self):
        return get_experiment().program.modules.get(self.trial_maker_id)
