"""Admin pages for trials, nodes and networks: staff only, filters, a node's trials, a chain in order."""

import pytest
from django.contrib.auth.models import User

from trials.models import Network, Node, Trial

from . import sources
from .helpers import run_bot

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = User.objects.create_superuser("admin", "", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def chain_data(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=1,
                                  max_nodes_per_chain=10))
    for _ in range(3):
        run_bot()
    return Network.objects.get()


def test_admin_needs_staff(client, chain_data):
    for url in ("/admin/trials/trial/", f"/admin/trials/network/{chain_data.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_trial_list_filters_by_trial_maker_finalized_and_failed(staff_client, chain_data, make_experiment):
    make_experiment(sources.static(expected_trials_per_participant=1))
    run_bot()
    first = Trial.objects.filter(trial_maker_id="c").order_by("id").first()
    Trial.objects.filter(pk=first.pk).update(failed=True)
    page = staff_client.get("/admin/trials/trial/").content.decode()
    assert "?trial_maker_id=c" in page and "?trial_maker_id=m" in page  # the filter lists the makers
    assert staff_client.get("/admin/trials/trial/?trial_maker_id=m").context["cl"].result_count == 1
    assert staff_client.get("/admin/trials/trial/?trial_maker_id=c").context["cl"].result_count == 3
    assert staff_client.get("/admin/trials/trial/?failed__exact=1").context["cl"].result_count == 1
    assert staff_client.get("/admin/trials/trial/?finalized__exact=0").context["cl"].result_count == 0
    assert staff_client.get("/admin/trials/node/?trial_maker_id=m").context["cl"].result_count == 3


def test_node_page_lists_its_trials(staff_client, chain_data):
    node = Node.objects.get(degree=0)
    trial = node.trials.get()
    page = staff_client.get(f"/admin/trials/node/{node.pk}/change/").content.decode()
    assert f"/admin/trials/trial/{trial.pk}/change/" in page
    assert f"?node__id__exact={node.pk}" in page
    assert staff_client.get(f"/admin/trials/trial/?node__id__exact={node.pk}").context["cl"].result_count == 1


def test_network_page_shows_its_chain_in_order(staff_client, chain_data):
    page = staff_client.get(f"/admin/trials/network/{chain_data.pk}/change/").content.decode()
    page = page[page.index("Chain (in order)"):]
    nodes = list(chain_data.nodes.order_by("degree"))
    positions = [page.index(f"/admin/trials/node/{n.pk}/change/") for n in nodes]
    assert len(nodes) == 4 and positions == sorted(positions)


def test_rows_are_read_only_in_admin(staff_client, chain_data):
    trial = Trial.objects.first()
    assert staff_client.get("/admin/trials/trial/add/").status_code == 403
    response = staff_client.post(f"/admin/trials/trial/{trial.pk}/change/", {"score": "5"})
    assert response.status_code == 403
    assert staff_client.get(f"/admin/trials/trial/{trial.pk}/delete/").status_code == 403
    trial.refresh_from_db()
    assert trial.score is None
