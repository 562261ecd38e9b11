"""`manage.py test_experiment`: it runs the experiment as a deployment does (its own Celery worker
and beat, real processes on the test database), and it can never pass a broken run: a bot that
errored or did not complete fails it whatever test_check_bot does; test_check_bots runs; what
Chorus cannot honour is refused at load. Bots see what a person's browser gets."""

import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import Client

from experiments.bots import Bot, HTTPBot
from experiments.deployment import deployment_ensure
from experiments.loading import ExperimentLoadError, load_experiment
from experiments.management.workers import database_url
from experiments.models import Participant
from sync.models import BarrierWait
from trials.models import Node

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def run_test_experiment(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("test_experiment", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing_test_experiment(*args: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("test_experiment", *args, stdout=out, stderr=StringIO())
    assert excinfo.value.returncode == 1
    return f"{out.getvalue()}\n{excinfo.value}"


# --- a broken run never passes ----------------------------------------------------------------
@pytest.mark.django_db
def test_a_crashed_bot_fails_the_run_though_test_check_bot_skips_super(use_experiment):
    use_experiment(FIXTURES / "bot_crash_no_super")
    text = failing_test_experiment("--no-worker")
    assert "FAIL: 2 of 2 bots failed for 'Crash without super'" in text
    assert "bot stopped with an error: RuntimeError: the bot_response function crashed" in text


@pytest.mark.django_db
def test_a_bot_that_did_not_complete_fails_the_run_though_test_check_bot_skips_super(use_experiment):
    use_experiment(FIXTURES / "bot_screened_no_super")
    text = failing_test_experiment("--no-worker")
    assert "bot did not complete the experiment: screened out" in text


@pytest.mark.django_db
def test_test_check_bots_runs_on_all_bots_and_can_fail_the_run(use_experiment):
    use_experiment(FIXTURES / "group_check")
    module = importlib.import_module(type(load_experiment(FIXTURES / "group_check")).__module__)
    module.SEEN.clear()
    text = failing_test_experiment("--no-worker")
    # Every bot passed test_check_bot (PsyNet-style: bot.var, bot.id, bot.trials...), then
    # the group check saw the three of them, and failed the run.
    assert "FAIL: test_check_bots failed for 'Group check'" in text
    assert "test_check_bots: the group check saw 3 bots" in text
    assert module.SEEN == [sorted(Participant.objects.values_list("id", flat=True))]


def test_serial_test_mode_with_sync_elements_and_no_script_is_refused_at_load():
    with pytest.raises(ExperimentLoadError) as excinfo:
        load_experiment(FIXTURES / "test_serial_sync")
    message = str(excinfo.value)
    assert "SerialSync.test_mode = 'serial' cannot work with sync elements (SimpleGrouper)" in message
    assert "Remove test_mode" in message and "test_serial_run_bots(bots) with bot.take_page" in message


@pytest.mark.django_db(transaction=True)
def test_test_serial_run_bots_steps_bots_page_by_page_then_they_run_to_the_end(use_experiment):
    use_experiment(FIXTURES / "serial_scripted")
    module = importlib.import_module(type(load_experiment(FIXTURES / "serial_scripted")).__module__)
    module.STEPS.clear()
    out, _ = run_test_experiment("--no-worker")
    assert "Stepping the bots with test_serial_run_bots" in out
    assert "PASS: 2 bots took 'Scripted serial bots'" in out
    (who_a, pages_a, at_a), (who_b, pages_b, at_b), end = module.STEPS
    assert pages_a == ["hello"] and at_a == "sync_wait:pairs_grouper"  # waiting for a partner
    assert pages_b == ["hello"] and at_b == "choose"  # the pair formed on b's arrival
    assert end[2:] == ("end_successful", True)       # b released the barrier and finished


@pytest.mark.django_db(transaction=True)
def test_a_scripted_step_that_cannot_be_taken_fails_the_run(use_experiment):
    use_experiment(FIXTURES / "serial_scripted_wrong")
    text = failing_test_experiment("--no-worker")
    assert "FAIL: test_serial_run_bots failed for 'Scripted wrongly'" in text
    assert "test_serial_run_bots: BotError: take_page: the bot waits at" in text
    assert "for other participants; take their pages first" in text


# --- the bot is the participant it drives -------------------------------------------------------
@pytest.mark.django_db
def test_the_bot_reads_as_its_participant(use_experiment):
    use_experiment(ROOT / "demos" / "static")
    deployment_ensure(experiment=load_experiment(ROOT / "demos" / "static"))
    bot = Bot().run()
    assert bot.complete and not bot.failed
    assert bot.id == bot.participant.id and bot.token == bot.participant.token
    assert bot.trials.count() == 10 and bot.var.get("missing", 1) == 1
    assert bot.assets == {} and bot.is_bot
    assert bot.pages and bot.responses  # the bot's own attributes are still the bot's
    with pytest.raises(AttributeError, match="neither the bot nor its participant has an attribute 'nope'"):
        bot.nope  # noqa: B018


# --- bots see what a browser gets -------------------------------------------------------------
@pytest.mark.django_db
def test_markup_prompts_are_shown_as_html_and_plain_text_stays_escaped(use_experiment):
    use_experiment(FIXTURES / "markup_prompts")
    client = Client()
    token = client.get("/start/")["Location"].rstrip("/").rsplit("/", 1)[-1]
    seen = {}
    while True:
        page = client.get(f"/api/p/{token}/page").json()
        html = client.get(f"/p/{token}/").content.decode()
        seen[page["label"]] = (page["prompt"], html)
        if page["terminal"]:
            break
        client.post(f"/api/p/{token}/response", {"page_uuid": page["page_uuid"]}, content_type="application/json")
    for label, tag in [("safe", "<b>django safe</b>"), ("markup", "<i>markupsafe</i>"),
                       ("tag", "<em>rendered tag</em>")]:
        prompt, html = seen[label]
        assert prompt["html"] is True and prompt["text"] == tag
        assert tag in html and "&lt;" not in html.split('id="prompt-text"')[1].split("</div>")[0]
    prompt, html = seen["plain"]
    assert prompt["html"] is False and "&lt;b&gt;plain text&lt;/b&gt;" in html and "<b>plain" not in html

    bot = Bot().run()  # in-process bots build the same HTML
    assert bot.complete, bot.failed_reason
    assert bot.payload["label"] == "end_successful"


@pytest.mark.django_db
def test_a_page_a_person_would_get_as_a_500_fails_the_bot(use_experiment):
    use_experiment(FIXTURES / "page_unshowable")
    client = Client(raise_request_exception=False)
    token = client.get("/start/")["Location"].rstrip("/").rsplit("/", 1)[-1]
    page = client.get(f"/api/p/{token}/page").json()
    client.post(f"/api/p/{token}/response", {"page_uuid": page["page_uuid"]}, content_type="application/json")
    assert client.get(f"/api/p/{token}/page").status_code == 500  # what a person would get
    assert client.get(f"/p/{token}/").status_code == 500

    bot = Bot().run()
    assert bot.failed and not bot.complete
    assert ("page 'colour' cannot be shown to a participant (their browser would get a 500): "
            "TypeError: Object of type Colour is not JSON serializable") in bot.failed_reason
    assert bot.pages == ["hello"]


@pytest.mark.django_db
def test_an_answer_a_browser_could_not_send_fails_the_bot(use_experiment):
    use_experiment(FIXTURES / "bot_unsendable")
    bot = Bot().run()
    assert bot.failed and "page 'pick': the bot's answer Decimal('7') cannot be sent as JSON" in bot.failed_reason
    assert bot.participant.responses.count() == 0


# --- entering as a bot over HTTP --------------------------------------------------------------
@pytest.mark.django_db
def test_a_visitor_with_recruiter_bot_in_the_query_string_is_not_a_bot(use_experiment):
    use_experiment(ROOT / "demos" / "static_audio")
    reply = Client().get("/start/", {"recruiter": "bot", "worker_id": "w1"})
    assert reply.status_code == 302
    visitor = Participant.objects.get(worker_id="w1")
    assert not visitor.is_bot
    # A wrong token does not make them one either.
    Client().get("/start/", {"recruiter": "bot", "worker_id": "w2"}, headers={"X-Chorus-Bot-Token": "guess"})
    assert not Participant.objects.get(worker_id="w2").is_bot


@pytest.mark.django_db
def test_bots_enter_as_bots_with_the_bot_token_or_on_a_debug_server(settings):
    from experiments.bots import bot_token

    Client().get("/start/", {"recruiter": "bot", "worker_id": "b1"}, headers={"X-Chorus-Bot-Token": bot_token()})
    assert Participant.objects.get(worker_id="b1").is_bot
    settings.BOT_TOKEN = "configured-secret"
    Client().get("/start/", {"recruiter": "bot", "worker_id": "b2"}, headers={"X-Chorus-Bot-Token": "configured-secret"})
    assert Participant.objects.get(worker_id="b2").is_bot
    settings.DEBUG = True
    Client().get("/start/", {"recruiter": "bot", "worker_id": "b3"})
    assert Participant.objects.get(worker_id="b3").is_bot


def test_an_http_bot_without_the_servers_token_is_told_it_entered_as_a_person(live_server):
    bot = HTTPBot(live_server.url)
    bot.session.headers["X-Chorus-Bot-Token"] = "not the server's"
    bot.run()
    assert bot.failed and "the server did not take this bot's token" in bot.failed_reason
    assert not Participant.objects.get().is_bot


def test_http_bots_send_the_token_and_their_recordings_are_bot_media(live_server, use_experiment):
    use_experiment(ROOT / "demos" / "static_audio")
    bot = HTTPBot(live_server.url).run()
    assert bot.complete, bot.failed_reason
    assert bot.participant.is_bot


# --- a worker and beat, as in a deployment --------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_test_experiment_finishes_nodes_that_need_async_on_deploy(use_experiment):
    use_experiment(FIXTURES / "async_nodes")
    out, _ = run_test_experiment()
    folder = Path(out.split("(logs in ", 1)[1].split("; kept if the run fails)")[0])
    assert not folder.exists()  # the run passed: its worker logs are gone
    assert "PASS: 2 bots took 'Async nodes', completed it and passed its checks" in out
    assert not Node.objects.filter(ready=False).exists()
    assert sorted(n.vars["synthesized"] for n in Node.objects.all()) == [0, 2, 4]


@pytest.mark.django_db(transaction=True)
def test_test_experiment_lets_max_wait_time_fire(use_experiment):
    use_experiment(FIXTURES / "max_wait")
    out, _ = run_test_experiment()
    assert "PASS: 1 bots took 'Max wait', completed it and passed its checks" in out
    assert Participant.objects.get().responses.filter(page_label="alone").exists()


@pytest.mark.django_db(transaction=True)
def test_without_a_worker_the_hints_name_the_nodes_that_are_not_ready(use_experiment):
    use_experiment(FIXTURES / "async_nodes")
    text = failing_test_experiment("--no-worker", "--max-wait", "1")
    assert "stayed 1 s on wait page 'm:wait', shown again and again" in text
    assert "is a Celery worker running?" in text
    assert "hint: 3 node(s) are still not ready (their async_on_deploy has not finished)" in text
    assert "hint: no worker was started (--no-worker)" in text
    assert "does a loop never end" not in text


@pytest.mark.django_db(transaction=True)
def test_without_beat_the_hint_names_the_barrier_and_its_passed_deadline(use_experiment):
    use_experiment(FIXTURES / "max_wait")
    text = failing_test_experiment("--no-worker", "--max-wait", "1")
    assert "waited" in text and "at barrier 'pairs_grouper' (1 of 2 participants needed are here)" in text
    assert "past its max_wait_time deadline" in text and "no Celery beat is running" in text


@pytest.mark.django_db(transaction=True)
def test_a_bot_alone_at_a_barrier_without_deadline_is_told_to_run_more_bots(use_experiment):
    use_experiment(FIXTURES / "waits_forever")
    text = failing_test_experiment("--max-wait", "1")  # with worker and beat: nothing frees it
    folder = Path(text.split("(logs in ", 1)[1].split("; kept if the run fails)")[0])
    assert {"worker.log", "beat.log"} <= {p.name for p in folder.iterdir()}  # kept: the run failed
    shutil.rmtree(folder)
    assert "at barrier 'pairs_grouper' (1 of 2 participants needed are here) for other participants " \
           "who never came: run as many bots at once as the group needs (--n, --parallel)" in text


@pytest.mark.django_db(transaction=True)
def test_test_experiment_passes_static_audio_whose_check_reads_bot_trials(use_experiment):
    use_experiment(ROOT / "demos" / "static_audio")
    out, _ = run_test_experiment()
    assert "PASS: 2 bots took 'Static audio'" in out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.django_db(transaction=True)
def test_ctrl_c_or_sigterm_stops_the_worker_and_beat_it_started(sig):
    """The command as a user runs it, in its own process on this test database; interrupted while
    its bot waits at a barrier, it leaves no worker or beat behind."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1",
           "DATABASE_URL": database_url(), "REDIS_URL": django_settings.CELERY_BROKER_URL}
    command = subprocess.Popen([sys.executable, "manage.py", "test_experiment", "--experiment",
                                str(FIXTURES / "waits_forever")], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    pids: list[int] = []
    try:
        folder = None
        for line in command.stdout:
            if line.startswith("Started a Celery worker and beat (logs in "):
                folder = Path(line.split("(logs in ", 1)[1].split("; kept if the run fails)")[0])
                break
        assert folder is not None, "the command never started its worker and beat"
        pids = [int((folder / f"{name}.pid").read_text()) for name in ("worker", "beat")]
        assert all(alive(pid) for pid in pids)
        wait_for(BarrierWait.objects.exists)  # the bot waits at the grouper
        command.send_signal(sig)
        # Bounds a hang only: stopping waits up to 10 s per process, and more on a loaded machine.
        assert command.wait(timeout=180) != 0
        wait_for(lambda: not any(alive(pid) for pid in pids))
    finally:
        if command.poll() is None:
            command.kill()
        for pid in pids:  # a failed run must not leave a worker taking later tests' tasks
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # each was started in a process group of its own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition, timeout: float = 60.0) -> None:
    """Poll until true; the timeout only ends a hung test, it asserts no speed."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {condition}"
        time.sleep(0.1)


@pytest.mark.parametrize("db", [
    {"USER": "postgres", "PASSWORD": "p@ss:w/rd", "HOST": "/tmp/a socket dir", "PORT": "5433", "NAME": "test_x",
     "OPTIONS": {"sslmode": "disable"}},
    {"USER": "postgres", "PASSWORD": "", "HOST": "127.0.0.1", "PORT": 5432, "NAME": "test_chorus"},
])
def test_the_children_get_a_database_url_naming_exactly_this_processs_database(db):
    import dj_database_url

    parsed = dj_database_url.parse(database_url(db))
    for key in ("USER", "PASSWORD", "HOST", "NAME"):
        assert parsed[key] == db[key]
    assert int(parsed["PORT"]) == int(db["PORT"]) and (parsed.get("OPTIONS") or {}) == db.get("OPTIONS", {})
