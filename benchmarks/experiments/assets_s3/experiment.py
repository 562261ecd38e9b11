"""Benchmark experiment on S3 (moto's server): BENCH_TONES cached function assets."""

import os

from experiments.api import (
    CachedFunctionAsset,
    Experiment,
    InfoPage,
    Module,
    S3Storage,
    SuccessfulEndPage,
    join,
)

from .stimuli import click


class S3Bench(Experiment):
    label = "Assets S3 benchmark"
    asset_storage = S3Storage(os.environ.get("BENCH_BUCKET", "chorus-bench"), "bench")
    timeline = join(
        Module(
            "stimuli",
            InfoPage("Hello", time_estimate=1),
            assets={f"click{i}": CachedFunctionAsset(function=click, extension=".wav",
                                                     arguments={"position": i})
                    for i in range(int(os.environ.get("BENCH_TONES", "0")))},
        ),
        SuccessfulEndPage(),
    )
