"""Bots: in process through the services, in parallel threads, over HTTP; the bots and
test_experiment commands, including bad options."""

import importlib
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from experiments.bots import Bot, BotError, HTTPBot, answer_from_payload
from experiments.loading import load_experiment
from experiments.models import Deployment, Participant, Response
from experiments.timeline.program import ShowPage

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
HELLO_PAGES = ["consent", "name", "age", "music", "genre", "instruments", "country",
               "practice", "mood", "mood"]


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def assert_completed_bots(n: int, pages: list[str]) -> None:
    participants = Participant.objects.order_by("id")
    assert participants.count() == n
    for participant in participants:
        assert participant.is_bot and participant.recruiter == "bot"
        assert participant.complete and not participant.failed
        labels = list(participant.responses.order_by("id").values_list("page_label", flat=True))
        assert labels == pages


@pytest.mark.django_db
def test_a_bot_takes_hello_world_through_the_services():
    bot = Bot().run()
    assert bot.complete and not bot.failed and bot.failed_reason == ""
    assert bot.participant.is_bot and bot.participant.progress == 1.0
    assert bot.pages == HELLO_PAGES
    assert [r.page_label for r in bot.responses] == HELLO_PAGES
    assert all(isinstance(r, Response) and r.metadata == {"bot": True} for r in bot.responses)
    answers = {r.page_label: r.answer for r in bot.responses}
    assert answers["name"] == "Bot" and answers["age"] == 30  # the controls' bot_response values


@pytest.mark.django_db
def test_manage_bots_runs_hello_world_bots_and_summarises():
    out = run("bots", "--n", "3")
    assert "3 bots: 3 completed, 0 failed (0 errors)" in out
    assert "pages/s" in out
    assert_completed_bots(3, HELLO_PAGES)
    assert Deployment.objects.filter(label="Hello world").count() == 1  # deployed first


@pytest.mark.django_db(transaction=True)
def test_bots_in_parallel_threads():
    out = run("bots", "--n", "8", "--parallel", "4")
    assert "8 bots: 8 completed, 0 failed (0 errors)" in out
    assert_completed_bots(8, HELLO_PAGES)
    assert Response.objects.count() == 8 * len(HELLO_PAGES)


def test_http_bots_against_a_live_server(live_server):
    out = run("bots", "--n", "3", "--parallel", "2", "--url", live_server.url)
    assert f"3 bots against {live_server.url}: 3 completed, 0 failed (0 errors)" in out
    assert_completed_bots(3, HELLO_PAGES)
    # Answers came from the experiment's own bot_response values, not generic defaults.
    assert set(Response.objects.filter(page_label="age").values_list("answer", flat=True)) == {30}


def test_http_bot_takes_pages_made_per_participant(live_server, use_experiment):
    use_experiment(FIXTURES / "semantics")
    bot = HTTPBot(live_server.url).run()
    assert bot.complete, bot.failed_reason
    assert bot.pages == ["welcome", "colour", "red_page", "switch_red", "made_single", "made_1",
                         "made_2", "again", "again", "again"]
    assert bot.participant.is_bot and bot.participant.complete
    assert bot.participant.var.colour == "red"


def test_http_bot_reports_a_server_it_cannot_reach():
    bot = HTTPBot("http://127.0.0.1:9/").run()
    assert bot.failed and not bot.complete
    assert "ConnectionError" in bot.failed_reason


@pytest.mark.django_db
def test_max_pages_stops_a_bot_in_an_endless_loop(use_experiment):
    use_experiment(FIXTURES / "bot_loop_forever")
    bot = Bot(max_pages=20).run()
    assert bot.failed and not bot.complete
    assert isinstance(bot.error, BotError)
    assert "took 20 pages without reaching an end page" in bot.failed_reason
    assert len(bot.pages) == 20
    bot.participant.refresh_from_db()
    assert not bot.participant.failed  # the bot gave up; the experiment did not fail them


@pytest.mark.django_db
def test_bots_do_not_sit_out_wait_pages(use_experiment):
    use_experiment(FIXTURES / "bot_wait")
    bot = Bot().run()
    assert bot.wait == 0
    assert bot.complete and bot.pages == ["before", "long_wait", "after"]


@pytest.mark.django_db
def test_bots_wait_the_experiments_test_bot_wait_on_wait_pages(use_experiment, monkeypatch):
    use_experiment(FIXTURES / "bot_wait")
    experiment = load_experiment(FIXTURES / "bot_wait")
    monkeypatch.setattr(type(experiment), "test_bot_wait", 0.05)
    bot = Bot().run()
    assert bot.complete and bot.wait == 0.05
    times = {r.page_label: r.time_taken for r in bot.responses}
    assert times["long_wait"] >= 0.05  # it stayed on the wait page, though not for 600 s


@pytest.mark.django_db
def test_a_bot_whose_answer_is_rejected_fails_with_the_message(use_experiment):
    use_experiment(FIXTURES / "bot_rejected")
    bot = Bot().run()
    assert bot.failed
    assert "page 'name' refused the bot's answer 'beep' (422): Bots are not welcome here." in bot.failed_reason
    assert bot.participant.page_label == "name" and bot.participant.responses.count() == 0


@pytest.mark.django_db
def test_answers_derived_from_page_json_are_valid_for_every_built_in_control():
    experiment = load_experiment(ROOT / "demos" / "hello_world")
    pages = [i.source for i in experiment.program.instructions
             if isinstance(i, ShowPage) and not i.terminal]
    kinds = set()
    for page in pages:
        answer = answer_from_payload(page.control.to_dict())
        assert page.validate(page.format_answer(answer)) is None, page.label
        kinds.add(page.control.kind)
    assert kinds >= {"next", "text", "number", "push_button", "radio", "checkbox", "dropdown", "slider"}


@pytest.mark.django_db
def test_test_experiment_passes_for_hello_world():
    out = run("test_experiment", "--no-worker")
    assert "PASS: 3 bots took 'Hello world', completed it and passed its checks" in out
    assert Participant.objects.filter(is_bot=True, complete=True).count() == 3
    run("test_experiment", "--no-worker")
    assert Deployment.objects.count() == 1  # deployed once, only when needed


@pytest.mark.django_db
def test_test_experiment_fails_when_test_check_bot_fails(use_experiment):
    use_experiment(FIXTURES / "bot_check_fails")
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("test_experiment", "--no-worker", stdout=out, stderr=StringIO())
    assert excinfo.value.returncode == 1
    assert "FAIL: 2 of 2 bots failed for 'Score check'" in str(excinfo.value)
    assert "test_check_bot: score is 1, expected 10" in out.getvalue()


@pytest.mark.django_db
def test_test_experiment_fails_when_bots_fail(use_experiment):
    use_experiment(FIXTURES / "bot_rejected")
    out = StringIO()
    with pytest.raises(CommandError, match="FAIL: 1 of 1 bots"):
        call_command("test_experiment", "--no-worker", stdout=out, stderr=StringIO())
    assert "bot stopped with an error: BotError: page 'name' refused the bot's answer" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "argument --n: must be at least 1 (got 0)"),
        (["--n", "many"], "argument --n: 'many' is not a whole number"),
        (["--n", "2", "--parallel", "0"], "argument --parallel: must be at least 1"),
        (["--n", "2", "--url", "ftp://example"], "argument --url: 'ftp://example' is not an http(s) URL"),
        (["--n", "2", "--url", "127.0.0.1:8000"], "is not an http(s) URL"),
        (["--n", "2", "--max-pages", "-5"], "argument --max-pages: must be at least 1"),
        (["--n", "2", "--wait", "-1"], "argument --wait: must be 0 or more"),
        ([], "the following arguments are required: --n"),
    ],
)
@pytest.mark.django_db
def test_bad_bots_options_are_refused_and_change_nothing(args, message):
    with pytest.raises(CommandError, match="Error: ") as excinfo:
        call_command("bots", *args)
    assert message in str(excinfo.value)
    assert not Participant.objects.exists() and not Deployment.objects.exists()


def test_bad_options_exit_with_code_2_on_the_command_line():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    result = subprocess.run([sys.executable, "manage.py", "bots", "--n", "0"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "error: argument --n: must be at least 1 (got 0)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db
def test_bots_command_fails_when_bots_cannot_reach_the_server():
    err = StringIO()
    with pytest.raises(CommandError, match="1 of 1 bots stopped with an error") as excinfo:
        call_command("bots", "--n", "1", "--url", "http://127.0.0.1:9", "--no-progress",
                     stdout=StringIO(), stderr=err)
    assert excinfo.value.returncode == 1
    assert "ConnectionError" in err.getvalue()


@pytest.mark.django_db
def test_bots_failed_by_the_experiment_are_counted_with_their_reason(use_experiment):
    use_experiment(FIXTURES / "bot_screened")
    out = run("bots", "--n", "2")
    assert "2 bots: 0 completed, 2 failed (0 errors)" in out  # the command itself succeeded
    assert "failed by the experiment (2): younger than 18" in out
    assert all(p.failure_tags == ["age"] and p.failed for p in Participant.objects.all())


@pytest.mark.django_db
def test_bots_deploy_an_undeployed_experiment_first_preparing_its_elements(use_experiment):
    use_experiment(FIXTURES / "semantics")
    experiment = load_experiment(FIXTURES / "semantics")
    prepared = importlib.import_module(type(experiment).__module__).PREPARED
    before = len(prepared)
    out = run("bots", "--n", "2")
    assert "Deployed 'Semantics' first" in out and "2 completed" in out
    assert len(prepared) == before + 1
    run("bots", "--n", "1")  # already deployed: not again
    assert len(prepared) == before + 1 and Deployment.objects.count() == 1
