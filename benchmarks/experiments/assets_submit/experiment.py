"""Benchmark experiment: one recording page; the store's speed is set per worker (BENCH_STORE_DELAY)."""

import os
import time

from experiments.api import (
    AudioRecordControl,
    Experiment,
    LocalStorage,
    ModularPage,
    Prompt,
    SuccessfulEndPage,
    join,
)


class DelayedLocalStorage(LocalStorage):
    """LocalStorage whose every upload takes BENCH_STORE_DELAY seconds (read at each call)."""

    def store(self, source, key, *, content_type=""):
        time.sleep(float(os.environ.get("BENCH_STORE_DELAY", "0.001")))
        super().store(source, key, content_type=content_type)


class SubmitBench(Experiment):
    label = "Assets submit benchmark"
    asset_storage = DelayedLocalStorage()
    timeline = join(
        ModularPage("recording", Prompt("Sing."), AudioRecordControl(duration=60.0), time_estimate=60),
        SuccessfulEndPage(),
    )
