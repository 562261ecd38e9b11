"""A tiny experiment whose get_basic_data picks one sheet, like the reference platform's."""

from experiments.api import DataError, Experiment, ModularPage, SuccessfulEndPage, TextControl, join
from experiments.models import Participant


class Sheets(Experiment):
    label = "Sheets"
    basic_data_sheets = ["participant", "summary"]
    timeline = join(
        ModularPage("name", "Name?", TextControl(bot_response="Bot"), time_estimate=3),
        SuccessfulEndPage(),
    )

    def get_basic_data(self, context=None, **kwargs):
        data = {
            "participant": [{"id": p.id, "answer": p.answer, "worker_id": p.worker_id}
                            for p in Participant.objects.order_by("id")],
            "summary": [{"n": Participant.objects.count(), "formula": "=1+1"}],
        }
        sheet = kwargs.get("sheet", "participant")
        if sheet not in data:
            raise DataError("Invalid sheet parameter")
        return data[sheet]
