"""Hello world: consent, a short questionnaire, a branch, a loop, a code block, an end page."""

from experiments.api import *


def count_round(participant):
    participant.var.rounds = participant.var.get("rounds", 0) + 1


def score_questionnaire(participant):
    answers = participant.var.get("answers", {})
    participant.var.likes_music = answers.get("music") == "yes"


def remember(label):
    def store(participant, answer):
        participant.var.answers = {**participant.var.get("answers", {}), label: answer}

    store.__name__ = f"remember_{label}"
    return store


class HelloWorld(Experiment):
    label = "Hello world"
    test_n_bots = 3

    timeline = join(
        InfoPage(
            "Welcome! This short study asks a few questions about you and music. "
            "Your answers are anonymous. Press Next if you agree to take part.",
            time_estimate=5,
            label="consent",
        ),
        Module(
            "questionnaire",
            ModularPage("name", "What should we call you?", TextControl(max_length=50,
                        bot_response="Bot"), time_estimate=5),
            CodeBlock(remember("name")),
            ModularPage("age", "How old are you?", NumberControl(min_value=18, max_value=120,
                        integer=True, bot_response=30), time_estimate=5),
            ModularPage("music", "Do you play a musical instrument?",
                        PushButtonControl(["yes", "no"], ["Yes", "No"]), time_estimate=3),
            CodeBlock(remember("music")),
            ModularPage("genre", "Which genre do you like best?",
                        RadioButtonControl(["classical", "jazz", "pop", "other"],
                                           ["Classical", "Jazz", "Pop", "Other"]), time_estimate=4),
            ModularPage("instruments", "Which of these have you heard live?",
                        CheckboxControl(["piano", "violin", "drums"], ["Piano", "Violin", "Drums"]),
                        time_estimate=4),
            ModularPage("country", "Where do you live?",
                        DropdownControl(["uk", "us", "other"], ["United Kingdom", "United States",
                                        "Elsewhere"]), time_estimate=4),
            CodeBlock(score_questionnaire),
        ),
        conditional(
            "plays_music",
            lambda participant: participant.var.likes_music,
            ModularPage("practice", "How many hours a week do you practise?",
                        SliderControl(start_value=2, min_value=0, max_value=40), time_estimate=4),
            InfoPage("Thanks! Listening counts too.", time_estimate=2, label="listener"),
        ),
        while_loop(
            "rating_loop",
            lambda participant: participant.var.get("rounds", 0) < 2,
            join(
                ModularPage("mood", "How do you feel right now?",
                            PushButtonControl(["1", "2", "3", "4", "5"]), time_estimate=3),
                CodeBlock(count_round),
            ),
            expected_repetitions=2,
            max_loop_time=3600,
        ),
        SuccessfulEndPage(),
    )
