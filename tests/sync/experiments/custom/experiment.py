# ruff: noqa: F403, F405
"""Test experiment: a researcher's own Barrier and Grouper, filler pages as waiting logic, and a
SimpleGrouper whose groups may shrink (min_group_size below initial_group_size)."""

from experiments.api import *


class ReleaseInPairs(Barrier):
    """Lets waiting participants go two at a time, oldest first."""

    def choose_who_to_release(self, waiting_participants):
        return waiting_participants[: len(waiting_participants) // 2 * 2]


class ParityGrouper(Grouper):
    """Once four wait, pairs participants with the same parity of `number`."""

    def ready_to_group(self, participants):
        return len(participants) >= 4

    def group(self, participants):
        groups = []
        for parity in (0, 1):
            members = [p for p in participants if p.var.number % 2 == parity][:2]
            if len(members) == 2:
                group = SyncGroup(group_type="parity", min_group_size=2)
                group.participants.extend(members)
                groups.append(group)
        return groups


def set_number(participant):
    participant.var.number = int(participant.entry_params.get("number", 0))


filler = ModularPage("filler", "While you wait: how do you feel?",
                     PushButtonControl(["1", "2", "3"]), time_estimate=2)


class Custom(Experiment):
    label = "Sync test: custom barriers"
    timeline = join(
        InfoPage("Welcome", time_estimate=1, label="welcome"),
        CodeBlock(set_number),
        switch("path", lambda participant: participant.entry_params.get("path", "custom"), {
            "custom": join(
                ReleaseInPairs("pairs_gate", waiting_logic=filler, max_wait_time=600),
                InfoPage("Through the gate", time_estimate=1, label="gate_done"),
                ParityGrouper("parity", max_wait_time=600),
                GroupBarrier("parity_sync", "parity", max_wait_time=600),
                InfoPage("Parity group met", time_estimate=1, label="parity_done"),
            ),
            "trio": join(
                SimpleGrouper("trio", initial_group_size=3, min_group_size=2, max_wait_time=600),
                InfoPage("In a trio", time_estimate=1, label="trio_grouped"),
                GroupBarrier("trio_sync", "trio", max_wait_time=600, fix_time_credit=True),
                InfoPage("Trio met", time_estimate=1, label="trio_done"),
            ),
        }),
        SuccessfulEndPage(),
    )
