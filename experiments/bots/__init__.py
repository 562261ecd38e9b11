"""Bots: simulated participants that take the experiment the way real ones do.

`Bot` drives a participant through the same service layer as the participant API
(`participant_create(is_bot=True)`, then per page `page.get_bot_response(...)` →
`services.response_submit`), so whatever a bot gets through, a participant gets through.
`HTTPBot` does the same over HTTP against a running server (`/start/` → `/p/<token>/` →
`GET /api/p/<token>/page`, `POST /api/p/<token>/response`). Both stop at a terminal page, and
after `max_pages` pages, so a timeline that loops forever cannot hang them.

A bot is the participant it drives: `bot.var`, `bot.trials`, `bot.assets`, `bot.id` and every
other attribute of the participant are read from it (as PsyNet's bots are participants). Its own
attributes, after `run()`: `bot.complete`, `bot.failed` (the participant failed or the bot
errored), `bot.failed_reason`, `bot.participant`, `bot.responses` (each with `.page_label` and
`.answer`), `bot.pages` (labels answered), `bot.payload` (the last page's JSON).

In-process bots see what a person's browser gets: each page is built as the page API's JSON
(`rest.page_json`) and the page's HTML (`views.page_html`), so a page that would answer 500 to a
person fails the bot; and each answer is sent as JSON and parsed by the API's parser, as a
browser's is, so an answer a browser could not send fails the bot too.

Bots over HTTP enter as bots only with the deployment's bot token (header `BOT_TOKEN_HEADER`),
or on a DEBUG server: a visitor's `?recruiter=bot` never makes them one.

Scripted steps (PsyNet's `test_serial_run_bots`): `bot.take_page(response=...)` answers one page
(default: its bot_response) and moves past the wait pages after it; `run()` (alias
`run_to_completion`) then takes the rest.

Waiting: a page held until others arrive (a barrier) is polled, not answered, until the
barrier's deadline (plus a margin for beat to enforce it) or `max_hold` seconds; consecutive wait
pages (a trial maker waiting for nodes) are paced and bounded by `max_hold` too, not by
`max_pages`. When a bot gives up, its error says what it waited for.
"""

from ..bot_entry import BOT_REFUSED_HEADER, BOT_TOKEN_HEADER, bot_entry_allowed, bot_token
from .base import (
    DEADLINE_GRACE,
    DEFAULT_MAX_PAGES,
    HOLD_POLL,
    MAX_HOLD,
    UNSET,
    WAIT_REPEAT_POLL,
    BaseBot,
    BotError,
    BotResponse,
)
from .http import HTTPBot, answer_from_payload
from .in_process import Bot, as_sent_by_browser
from .running import BotRunSummary, make_bots, run_bots

__all__ = [
    "BOT_REFUSED_HEADER", "BOT_TOKEN_HEADER", "DEADLINE_GRACE", "DEFAULT_MAX_PAGES", "HOLD_POLL",
    "MAX_HOLD", "UNSET", "WAIT_REPEAT_POLL", "BaseBot", "Bot", "BotError", "BotResponse",
    "BotRunSummary", "HTTPBot", "answer_from_payload", "as_sent_by_browser", "bot_entry_allowed",
    "bot_token", "make_bots", "run_bots",
]
