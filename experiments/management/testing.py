"""What `manage.py test_experiment` checks after its bots ran, and the hints it gives.

A bot that errored or did not complete fails the run first, whatever the experiment's own
checks do (an override of `test_check_bot` that never calls `super()` cannot pass a crashed bot).
Then `test_check_bot(bot)` runs for each bot that completed, and `test_check_bots(bots)` once;
a failed `test_serial_run_bots` (the scripted steps) fails the run too.
Read-only: nothing here writes.
"""

from typing import Any

from experiments import hooks
from experiments.bots import BaseBot
from experiments.experiment import Experiment


def message_of(exc: BaseException) -> str:
    message = str(exc) or type(exc).__name__
    return message if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {message}"


def bot_problems(experiment: Experiment, bots: list[BaseBot], *,
                 script_problem: str = "") -> list[tuple[int, Any, str]]:
    """(bot number from 1, bot, message) per failure; number 0 for what concerns all bots
    (`test_serial_run_bots`, given as `script_problem`, and `test_check_bots`)."""
    problems: list[tuple[int, Any, str]] = [(0, _AllBots(), script_problem)] if script_problem else []
    for index, bot in enumerate(bots, start=1):
        if bot.error is not None:
            problems.append((index, bot, f"bot stopped with an error: {bot.failed_reason}"))
            continue
        if not bot.complete:
            why = bot.failed_reason if bot.failed else "it never reached an end page"
            problems.append((index, bot, f"bot did not complete the experiment: {why}"))
            continue
        try:
            experiment.test_check_bot(bot)
        except Exception as exc:  # an AssertionError, or a check that itself broke
            problems.append((index, bot, f"test_check_bot: {message_of(exc)}"))
    try:
        experiment.test_check_bots(bots)
    except Exception as exc:
        problems.append((0, _AllBots(), f"test_check_bots: {message_of(exc)}"))
    return problems


class _AllBots:
    worker_id = "all bots"
    traceback = ""
    error = None


def stuck_hints(bots: list[BaseBot], processes: dict[str, str] | None) -> list[str]:
    """Facts that explain bots that did not finish: nodes not ready, Celery processes that died."""
    if all(bot.error is None for bot in bots):
        return []
    hints = []
    for app_hints in hooks.stuck_bot_hints.send(workers_started=processes is not None):
        hints.extend(app_hints)  # trials: nodes whose async_on_deploy has not run
    if processes is not None:
        for name, state in processes.items():
            if state != "running":
                hints.append(f"the Celery {name} {state} while bots ran; see its log")
    return hints
