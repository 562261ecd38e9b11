"""The beat task through a real Celery worker (a subprocess on this run's Redis db)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from experiments import services
from experiments.models import Participant
from sync.models import BarrierWait
from sync.tasks import sync_tick

from .helpers import label, submit


@pytest.mark.django_db(transaction=True)
def test_sync_tick_on_a_real_worker_times_out_a_participant_whose_tab_is_closed(
        sync_experiment, celery_worker_process):
    sync_experiment("timeouts")
    celery_worker_process.start()
    a = services.participant_create(worker_id="a")
    submit(a)                                  # alone at the pair grouper; then the tab closes
    assert label(a) == "sync_wait:pair_grouper"
    BarrierWait.objects.filter(participant=a).update(deadline=timezone.now() - timedelta(seconds=1))
    sync_tick.delay()                          # what beat sends every SYNC_TICK_INTERVAL
    assert celery_worker_process.wait_for(lambda: Participant.objects.get(pk=a.pk).failed)
    a = Participant.objects.get(pk=a.pk)
    assert a.page_label == "sync_timeout" and a.failure_tags == ["sync_timeout"]
    assert BarrierWait.objects.get(participant=a).outcome == "timeout"


def test_beat_schedule_runs_the_tick_every_second_with_expiry(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sync-tick"]
    assert entry["task"] == "sync.tasks.sync_tick"
    assert entry["schedule"] == settings.SYNC_TICK_INTERVAL == 1.0
    assert entry["options"]["expires"] == settings.SYNC_TICK_INTERVAL
