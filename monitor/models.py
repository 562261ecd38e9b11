"""State of the study controls: is recruitment open, paused or closed.

One row (pk 1), written only by monitor.services.recruitment_set. No row means open: a fresh
deployment recruits without anyone touching the admin.
"""

from django.db import models


class Recruitment(models.Model):
    class State(models.TextChoices):
        OPEN = "open"
        PAUSED = "paused"
        CLOSED = "closed"

    SINGLETON_PK = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_PK, editable=False)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "live monitor and study controls"
        verbose_name_plural = "live monitor and study controls"

    def __str__(self) -> str:
        return f"recruitment {self.state}"
