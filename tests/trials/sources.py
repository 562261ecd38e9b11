"""Experiment sources for the trial-maker tests (written to temporary folders by make_experiment)."""

TRIAL = '''
class T(StaticTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        return ModularPage("rate", f"node {self.definition['i']}", PushButtonControl(["a", "b"]),
                           time_estimate=2)
'''


def static(*, nodes: str = "[StaticNode(definition={'i': i}) for i in range(3)]", trial: str = TRIAL,
           before: str = "", after: str = "", extra: str = "", **knobs) -> str:
    """A timeline: an intro page, one StaticTrialMaker 'm' with `knobs`, anything in `after`."""
    knobs.setdefault("expected_trials_per_participant", 3)
    args = ", ".join(f"{key}={value!r}" if not isinstance(value, Raw) else f"{key}={value}"
                     for key, value in knobs.items())
    return f'''
{trial}
{extra}

class Exp(Experiment):
    label = "test"
    timeline = join(
        InfoPage("intro", time_estimate=1, label="intro"),
        {before}
        StaticTrialMaker(id_="m", trial_class=T, nodes={nodes}, {args}),
        {after}
        SuccessfulEndPage(),
    )
'''


class Raw(str):
    """A knob value written as code, not repr (e.g. a function name)."""


CHAIN_TRIAL = '''
class CT(ChainTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        return ModularPage("answer", f"value {self.definition['value']}",
                           NumberControl(integer=True, bot_response=lambda trial: trial.definition["value"] + 1),
                           time_estimate=2)


class CN(ChainNode):
    def create_initial_seed(self, experiment, participant):
        return {"value": 0}

    def summarize_trials(self, trials, experiment, participant):
        return {"value": max(t.answer for t in trials), "from": [t.id for t in trials]}

    def create_definition_from_seed(self, seed, experiment, participant):
        return {"value": seed["value"]}
'''


def chain(*, trial: str = CHAIN_TRIAL, extra: str = "", **knobs) -> str:
    knobs.setdefault("expected_trials_per_participant", 3)
    args = ", ".join(f"{key}={value!r}" if not isinstance(value, Raw) else f"{key}={value}"
                     for key, value in knobs.items())
    return f'''
{trial}
{extra}

class Exp(Experiment):
    label = "test"
    timeline = join(
        InfoPage("intro", time_estimate=1, label="intro"),
        ChainTrialMaker(id_="c", trial_class=CT, node_class=CN, {args}),
        SuccessfulEndPage(),
    )
'''
