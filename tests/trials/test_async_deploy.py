"""async_on_deploy runs on a real Celery worker (Redis broker); participants wait for it."""

import time

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from config.celery import app
from experiments import services
from trials import services as trial_services
from trials.models import Node

from . import sources
from .helpers import page_label, submit

NODE = '''
class SlowNode(StaticNode):
    def async_on_deploy(self):
        self.vars["synthesized"] = self.definition["i"] * 2
        self.save(update_fields=["vars"])
'''

CHAIN_NODE = '''
class SlowChainNode(CN):
    def async_on_deploy(self):
        self.vars["synthesized"] = True
        self.save(update_fields=["vars"])
'''


@pytest.fixture
def worker():
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # this test run's own Redis database
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
        yield running


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker")
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_static_nodes_are_ready_once_the_worker_ran_their_hook(make_experiment, worker):
    make_experiment(sources.static(extra=NODE, nodes="[SlowNode(definition={'i': i}) for i in range(3)]"))
    wait_until(lambda: not Node.objects.filter(ready=False).exists())
    for node in Node.objects.all():
        assert type(node).__name__ == "SlowNode" and node.vars["synthesized"] == node.definition["i"] * 2
        assert node.async_deployed_at is not None and node.async_attempts == 1
    participant = submit(services.participant_create())
    assert page_label(participant) == "rate"


@pytest.mark.django_db(transaction=True)
def test_participants_wait_for_nodes_still_deploying_and_the_sweeper_recovers_lost_tasks(make_experiment, settings):
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    make_experiment(sources.static(extra=NODE, nodes="[SlowNode(definition={'i': i}) for i in range(2)]"))
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # the published tasks are lost
    assert Node.objects.filter(ready=False).count() == 2
    participant = submit(services.participant_create())
    assert page_label(participant) == "m:wait"
    participant = submit(participant)
    assert page_label(participant) == "m:wait"

    Node.objects.update(created_at=timezone.now() - timezone.timedelta(minutes=5))
    assert trial_services.nodes_async_deploy_sweep() == 2
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        wait_until(lambda: not Node.objects.filter(ready=False).exists())
    participant = submit(participant)
    assert page_label(participant) == "rate"


@pytest.mark.django_db(transaction=True)
def test_chain_nodes_grown_with_a_hook_are_deployed_by_the_worker(make_experiment, worker):
    make_experiment(sources.chain(extra=CHAIN_NODE, chain_type="across", chains_per_experiment=1,
                                  expected_trials_per_participant=1, wait_for_networks=True, max_wait_time=60)
                    .replace("node_class=CN", "node_class=SlowChainNode"))
    wait_until(lambda: Node.objects.filter(ready=True).count() == 1)
    first = submit(submit(services.participant_create()))  # answers: the chain grows a node
    assert page_label(first) == "end_successful"
    wait_until(lambda: Node.objects.filter(ready=True).count() == 2)
    assert Node.objects.get(degree=1).vars == {"synthesized": True}
    assert page_label(submit(services.participant_create())) == "answer"


@pytest.mark.django_db
def test_a_failing_hook_is_recorded_and_fails_the_node_after_the_last_attempt(make_experiment):
    extra = '''
class BrokenNode(StaticNode):
    def async_on_deploy(self):
        raise RuntimeError("synthesiser crashed")
'''
    make_experiment(sources.static(extra=extra, nodes="[BrokenNode(definition={'i': 0})]"))
    (node,) = Node.objects.all()
    for attempt in range(1, trial_services.MAX_ASYNC_ATTEMPTS + 1):
        with pytest.raises(RuntimeError):
            trial_services.node_async_deploy(node_id=node.pk)
        gave_up = trial_services.node_async_deploy_failed(node_id=node.pk, error="RuntimeError: synthesiser crashed")
        assert gave_up == (attempt == trial_services.MAX_ASYNC_ATTEMPTS)
    node.refresh_from_db()
    assert node.failed and not node.ready and "synthesiser crashed" in node.async_error
    assert node.async_attempts == trial_services.MAX_ASYNC_ATTEMPTS
    participant = submit(services.participant_create())  # nothing to wait for any more
    assert page_label(participant) == "end_successful"
