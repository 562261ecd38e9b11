"""Running many bots: make them, run them (in threads when parallel), summarise the run."""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from django.db import connections

from ..loading import get_experiment
from .base import (
    DEFAULT_MAX_PAGES,
    MAX_HOLD,
    BaseBot,
)
from .http import HTTPBot
from .in_process import Bot


@dataclass
class BotRunSummary:
    n: int
    completed: int
    failed: int
    errors: int
    pages: int
    seconds: float

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0


def make_bots(n: int, *, url: str | None = None, max_pages: int = DEFAULT_MAX_PAGES,
              wait: float | None = None, max_hold: float = MAX_HOLD) -> list[BaseBot]:
    """`n` bots, not started: in process, or over HTTP against `url`."""
    if n < 1:
        raise ValueError("n must be at least 1")
    experiment = None if url else get_experiment()
    return [HTTPBot(url, max_pages=max_pages, wait=wait, max_hold=max_hold) if url
            else Bot(experiment=experiment, max_pages=max_pages, wait=wait, max_hold=max_hold)
            for _ in range(n)]


def run_bots(n: int, *, parallel: int = 1, url: str | None = None,
             max_pages: int = DEFAULT_MAX_PAGES, wait: float | None = None, max_hold: float = MAX_HOLD,
             on_done: Callable[[BaseBot], None] | None = None,
             bots: list[BaseBot] | None = None) -> tuple[list[BaseBot], BotRunSummary]:
    """Run `n` bots (`parallel` at a time, in threads), in process or over HTTP against `url`;
    or run the given `bots` (made by `make_bots`, maybe stepped already) to their end.

    Threads close their database connections when their bot ends, so many bots do not leave
    many idle connections behind.
    """
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    bots = list(bots) if bots is not None else make_bots(n, url=url, max_pages=max_pages, wait=wait,
                                                         max_hold=max_hold)
    n = len(bots)
    stop = threading.Event()
    for bot in bots:
        bot.stop_event = stop

    def run_in_thread(bot: BaseBot) -> BaseBot:
        try:
            return bot.run()
        finally:
            connections.close_all()

    start = time.perf_counter()
    if parallel == 1:
        for bot in bots:
            bot.run()
            if on_done:
                on_done(bot)
    else:
        with ThreadPoolExecutor(max_workers=min(parallel, n)) as pool:
            futures = [pool.submit(run_in_thread, bot) for bot in bots]
            try:
                for future in as_completed(futures):
                    if on_done:
                        on_done(future.result())
            except BaseException:
                # Ctrl-C (or SIGTERM) while bots run: they stop at their next page.
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    seconds = time.perf_counter() - start
    summary = BotRunSummary(
        n=n, completed=sum(b.complete for b in bots), failed=sum(b.failed for b in bots),
        errors=sum(b.error is not None for b in bots), pages=sum(len(b.pages) for b in bots),
        seconds=seconds,
    )
    return bots, summary
