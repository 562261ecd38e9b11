"""Drive participants through the service layer, as a browser or a bot would."""

from typing import Any

from experiments import services
from experiments.loading import get_experiment
from experiments.models import Participant
from experiments.timeline import Runner


def current(participant: Participant):
    experiment = get_experiment()
    runner = Runner(experiment.program, experiment, participant)
    return runner, runner.current_page()


def bot_answer(participant: Participant) -> Any:
    runner, page = current(participant)
    return page.get_bot_response(runner.available())


def submit(participant: Participant, answer: Any = "__bot__") -> Participant:
    """Answer the participant's current page (with the bot's answer by default)."""
    if answer == "__bot__":
        answer = bot_answer(participant)
    return services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                    raw_answer=answer).participant


def page_label(participant: Participant) -> str:
    return current(participant)[1].label


def run_to_end(participant: Participant, answer=None, max_pages: int = 500) -> Participant:
    """Submit pages until a terminal page; `answer(participant, page)` may override the bot."""
    for _ in range(max_pages):
        runner, page = current(participant)
        if page.terminal:
            return participant
        value = page.get_bot_response(runner.available())
        if answer is not None:
            value = answer(participant, page, value)
        participant = services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                               raw_answer=value).participant
    raise AssertionError("the participant never reached the end")


def run_bot(**kwargs: Any) -> Participant:
    participant = services.participant_create(is_bot=True, **kwargs)
    participant = run_to_end(participant)
    participant.refresh_from_db()
    return participant
