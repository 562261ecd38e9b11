"""Assets: files an experiment shows or collects, and the links that name them on their holders.

An `Asset` row is one file (or folder) with its deposit state; an `AssetLink` names it on a
holder (participant, module, node, trial, network...) by a local key, so one asset may be the
"response" of one trial and the "stimulus" of the next. Rows hold state only; every write goes
through assets.services.
"""

import secrets

from django.db import models

from .addresses import asset_url


def new_asset_token() -> str:
    """The unguessable part of an asset's URL: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


class Asset(models.Model):
    class Kind(models.TextChoices):
        EXPERIMENT = "experiment", "Experiment asset"
        RECORDING = "recording", "Recording"
        CACHED = "cached", "Cached asset"
        CACHED_FUNCTION = "cached_function", "Cached function asset"
        FAST_FUNCTION = "fast_function", "Fast function asset"
        EXTERNAL = "external", "External asset"
        EXTERNAL_S3 = "external_s3", "External S3 asset"
        INHERITED = "inherited", "Inherited asset"

    class Status(models.TextChoices):
        PENDING = "pending"
        DEPOSITING = "depositing"
        DEPOSITED = "deposited"
        FAILED = "failed"

    token = models.CharField(max_length=64, unique=True, default=new_asset_token, editable=False)
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    key_within_experiment = models.CharField(max_length=512, unique=True)
    description = models.CharField(max_length=1024, blank=True)

    # Where the bytes are: a key in the experiment's storage (content-addressed for managed kinds).
    storage_key = models.CharField(max_length=1024, blank=True)
    is_folder = models.BooleanField(default=False)
    extension = models.CharField(max_length=32, blank=True)
    content_type = models.CharField(max_length=128, blank=True)
    size = models.BigIntegerField(null=True, blank=True, help_text="bytes")
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)

    # Deposit state: pending -> depositing -> deposited | failed. Attempts live here, not in the broker.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    deposited_at = models.DateTimeField(null=True, blank=True)
    input_path = models.CharField(max_length=1024, blank=True, help_text="staged input awaiting deposit")
    delete_input = models.BooleanField(default=True)

    personal = models.BooleanField(default=False, help_text="readable only by its participant and staff")
    variables = models.JSONField(default=dict, blank=True)
    parent_kind = models.CharField(max_length=32, blank=True)
    parent_id = models.CharField(max_length=64, blank=True)
    participant = models.ForeignKey(
        "experiments.Participant", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="owned_assets",
    )

    # Function assets: importable "module:qualname", the full arguments, and the cache key.
    function = models.CharField(max_length=512, blank=True)
    arguments = models.JSONField(default=dict, blank=True)
    cache_key = models.CharField(max_length=64, blank=True)
    # External assets.
    source_url = models.URLField(max_length=2048, blank=True)
    bucket = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["parent_kind", "parent_id"]),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key_within_experiment}"

    @property
    def url(self) -> str:
        """Where a browser fetches this asset (stable; signed and expiring for personal assets)."""
        return asset_url(self)

    @property
    def deposited(self) -> bool:
        return self.status == self.Status.DEPOSITED

    def deposit(self, async_: bool = True, delete_input: bool = True) -> "Asset":
        """Deposit again (e.g. after a failure). New assets deposit through their kind's spec."""
        from .services import asset_redeposit

        return asset_redeposit(asset_id=self.pk, run_now=not async_)


class AssetLink(models.Model):
    """`holder.assets[local_key]` -> asset. Holders are named by kind and id (no FK: any model)."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="links")
    holder_kind = models.CharField(max_length=32)
    holder_id = models.CharField(max_length=64)
    local_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["holder_kind", "holder_id", "local_key"],
                                    name="one_asset_per_holder_key")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.holder_kind} {self.holder_id}: {self.local_key}"
