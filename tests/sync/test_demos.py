"""The sync demos, run by bots concurrently (real threads, service layer, status polling)."""

import sys
import threading
import time
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from experiments import services
from experiments.bots import run_bots
from experiments.loading import get_experiment, load_experiment
from experiments.models import Participant, Response
from sync.models import BarrierWait, SyncGroup, SyncGroupMember

from ..conftest import DEMOS
from .helpers import label, run_bot, run_in_threads, submit

pytestmark = pytest.mark.django_db(transaction=True)


def start_bots(n: int) -> list[Participant]:
    return [services.participant_create(worker_id=f"bot{i}", is_bot=True) for i in range(n)]


def test_rock_paper_scissors(use_experiment):
    use_experiment(DEMOS / "rock_paper_scissors")
    experiment = get_experiment()
    bots = start_bots(experiment.test_n_bots)
    seen = {b.pk: [] for b in bots}
    finished = run_in_threads(lambda b: run_bot(b.token, seen=seen[b.pk]), bots, threads=len(bots))
    for participant in finished:
        experiment.test_check_bot(as_bot(participant))
    groups = list(SyncGroup.objects.filter(group_type="rps"))
    assert len(groups) == 2 and all(not g.active for g in groups)      # closed by the GroupCloser
    for group in groups:
        assert group.vars["rounds_played"] == 3                          # on_release once per round
        a, b = (Participant.objects.get(pk=p.pk) for p in group.participants)
        for mine, theirs in zip(a.var.history, b.var.history, strict=True):
            assert mine["mine"] == theirs["theirs"] and mine["theirs"] == theirs["mine"]
            assert {mine["result"], theirs["result"]} in ({"won", "lost"}, {"draw"})
        for bot in (a, b):
            texts = [text for _, page_label, text in seen[bot.pk] if page_label == "feedback"]
            expected = [f"You chose {h['mine']}, your partner chose {h['theirs']}. "
                        + {"won": "You won!", "lost": "You lost.", "draw": "It's a draw."}[h["result"]]
                        for h in bot.var.history]
            assert texts == expected
            choices = list(Response.objects.filter(participant=bot, page_label="choose")
                           .values_list("answer", flat=True))
            assert choices == [h["mine"] for h in bot.var.history]
    assert not BarrierWait.objects.filter(released_at__isnull=True).exists()
    assert set(BarrierWait.objects.filter(barrier_id="rps_round").values_list("outcome", flat=True)) == {"released"}


def test_rock_paper_scissors_feedback_wording():
    experiment = load_experiment(DEMOS / "rock_paper_scissors")
    demo = sys.modules[type(experiment).__module__]
    assert demo.feedback_text("rock", "paper", demo.outcome("rock", "paper")) == \
        "You chose rock, your partner chose paper. You lost."
    assert demo.outcome("scissors", "paper") == "won" and demo.outcome("paper", "paper") == "draw"


def test_regroup(use_experiment):
    use_experiment(DEMOS / "regroup")
    experiment = get_experiment()
    bots, summary = run_bots(experiment.test_n_bots, parallel=experiment.test_n_bots)  # the platform's bots
    assert summary.completed == 6
    for bot in bots:
        experiment.test_check_bot(bot)                    # groups of sizes [3, 2], none active
    triads = SyncGroup.objects.filter(formed_by="triads")
    pairs = SyncGroup.objects.filter(formed_by="pairs")
    assert triads.count() == 2 and pairs.count() == 3
    for triad in triads:
        assert triad.vars["words"] == ["bot", "bot", "bot"]
        assert not triad.active and triad.end_time is not None
    # Every pair was formed after both its members' triads had been closed.
    for pair in pairs:
        for member in pair.participants:
            triad = member.sync_groups[0]
            assert triad.end_time <= pair.created_at


def test_quorum_tops_up_a_group_that_lost_a_member_while_the_rest_do_filler_trials(use_experiment):
    use_experiment(DEMOS / "quorum")
    a, b, c = start_bots(3)
    for p in (a, b, c):
        submit(p)                                    # c completes the trio; a, b are on fillers
    group = SyncGroup.objects.get()
    assert group.n_active_participants == 3
    assert label(a) == label(b) == "filler" and label(c) == "filler"   # c: filler at the quorum
    services.participant_fail(participant_id=c.pk, reason="closed the tab")
    group.refresh_from_db()
    assert group.active and group.n_active_participants == 2     # below minimum: waits, not failed

    done: dict[int, Participant] = {}
    threads = [threading.Thread(target=lambda p=p: done.__setitem__(p.pk, run_bot(p.token, pace=0.05, timeout=90)))
               for p in (a, b)]
    for thread in threads:
        thread.start()
    # Wait until both wait at the quorum barrier and have done filler trials there.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        waits = {w.participant_id: w for w in BarrierWait.objects.filter(barrier_id="quorum", released_at__isnull=True)}
        if {a.pk, b.pk} <= set(waits) and all(
                Response.objects.filter(participant_id=pid, page_label="filler",
                                        created_at__gt=waits[pid].arrived_at).exists() for pid in (a.pk, b.pk)):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("a and b never waited at the quorum barrier doing filler trials")
    d = services.participant_create(worker_id="late", is_bot=True)
    done[d.pk] = run_bot(d.token, timeout=90)
    for thread in threads:
        thread.join(90)
    assert all(done[p.pk].complete and not done[p.pk].failed for p in (a, b, d))
    membership = SyncGroupMember.objects.get(participant=d)
    assert membership.group_id == group.pk and membership.joined_by == "joined"
    group.refresh_from_db()
    assert not group.active                             # closed at the end
    assert sorted(p.pk for p in group.participants) == sorted([a.pk, b.pk, c.pk, d.pk])
    # A newcomer never joins the closed group: they wait in the lobby for a new one.
    e = services.participant_create(worker_id="later")
    submit(e)
    assert label(e) == "filler" and not Participant.objects.get(pk=e.pk).sync_groups


@pytest.mark.parametrize("demo", ["rock_paper_scissors", "regroup", "quorum"])
def test_manage_test_experiment_runs_the_demo_bots_together(demo, use_experiment):
    use_experiment(DEMOS / demo)
    out = StringIO()
    call_command("test_experiment", stdout=out, stderr=StringIO())   # no --parallel: barriers
    assert "PASS" in out.getvalue()
    n = get_experiment().test_n_bots
    assert Participant.objects.filter(is_bot=True, complete=True, failed=False).count() == n
    assert not BarrierWait.objects.filter(released_at__isnull=True).exists()
    if demo == "quorum":
        assert SyncGroup.objects.count() == 1 and not SyncGroup.objects.get().join_existing_groups


def test_http_bots_wait_at_barriers_by_polling_the_status(live_server, use_experiment):
    use_experiment(DEMOS / "rock_paper_scissors")
    out = StringIO()
    call_command("bots", "--n", "4", "--parallel", "4", "--url", live_server.url, "--no-progress",
                 stdout=out, stderr=StringIO())
    assert "4 completed, 0 failed (0 errors)" in out.getvalue()
    waits = Response.objects.filter(page_label="sync_wait:rps_round")
    # A waiting page is submitted once per release, never in a loop while waiting.
    assert waits.count() <= 4 * 3
    assert set(BarrierWait.objects.filter(barrier_id="rps_round").values_list("outcome", flat=True)) == {"released"}


def as_bot(participant: Participant) -> SimpleNamespace:
    """The shape test_check_bot expects (the platform's Bot), for participants run by run_bot."""
    participant = Participant.objects.get(pk=participant.pk)
    return SimpleNamespace(participant=participant, failed=participant.failed,
                           complete=participant.complete, failed_reason=participant.failed_reason)
