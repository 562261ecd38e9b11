"""experiments.hooks: the apps above the core plug in from AppConfig.ready(), and the core
calls what they registered (it imports none of them)."""

import json

import pytest

from assets.services import assets_deploy
from experiments import hooks
from experiments.models import Participant
from experiments.services import participant_create, participant_fail
from sync.selectors import participant_active_barriers
from trials.services import trials_finalize_when_assets_stored


def test_the_apps_fill_the_hooks_when_django_starts():
    assert assets_deploy in list(hooks.deploy_steps)
    assert trials_finalize_when_assets_stored in list(hooks.asset_deposited)
    assert hooks.participant_properties.get("active_barriers") is participant_active_barriers
    assert hooks.participant_properties.get("assets") is not None
    assert hooks.researcher_arguments.get("assets") is not None
    assert hooks.upload_handler.handler is not None


def test_registering_twice_keeps_one():
    listeners = hooks.Listeners("test")
    listener = listeners.register(print)
    listeners.register(print)
    assert list(listeners) == [listener]


@pytest.mark.django_db
def test_participant_properties_come_from_the_hooks_and_unknown_names_still_fail(use_experiment):
    from tests.conftest import DEMOS

    use_experiment(DEMOS / "hello_world")
    participant = participant_create()
    assert participant.active_barriers == {} and participant.sync_groups == []
    assert dict(participant.assets) == {}
    with pytest.raises(AttributeError, match="no attribute 'not_a_property'"):
        participant.not_a_property  # noqa: B018


@pytest.mark.django_db
def test_participant_failed_listeners_run_once_in_the_failing_transaction(use_experiment):
    from tests.conftest import DEMOS

    use_experiment(DEMOS / "hello_world")
    seen = []

    def listener(participant, experiment):
        seen.append((participant.pk, participant.failed, Participant.objects.get(pk=participant.pk).failed))

    hooks.participant_failed.register(listener)
    try:
        participant = participant_create()
        participant_fail(participant_id=participant.pk, reason="test")
        participant_fail(participant_id=participant.pk, reason="again")  # already failed: no call
    finally:
        hooks.participant_failed.unregister(listener)
    assert seen == [(participant.pk, True, False)]  # before the row is saved, inside the service


@pytest.mark.django_db
def test_without_an_upload_handler_multipart_submits_are_refused_and_change_nothing(
        client, use_experiment, monkeypatch):
    from tests.conftest import DEMOS

    use_experiment(DEMOS / "hello_world")
    participant = participant_create()
    monkeypatch.setattr(hooks.upload_handler, "handler", None)
    payload = json.dumps({"page_uuid": str(participant.page_uuid), "answer": None})
    response = client.post(f"/api/p/{participant.token}/response", {"payload": payload})
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert not participant.responses.exists()
