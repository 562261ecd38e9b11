"""Who may enter as a bot: HTTP clients with the deployment's bot token, or anyone on a DEBUG
server (a visitor's query string alone never makes them one). Used by /start/ (views) and by
the HTTP bots (bots). No state, no locks.
"""

import hashlib
import hmac
from typing import Any

from django.conf import settings

#: The header an HTTP bot sends its bot token in (see `bot_token`), and the one /start/ answers
#: with when it asked to be a bot without a valid token (it entered as a person).
BOT_TOKEN_HEADER = "X-Chorus-Bot-Token"
BOT_REFUSED_HEADER = "X-Chorus-Bot-Refused"


def bot_token() -> str:
    """The secret that lets an HTTP client enter as a bot: settings.BOT_TOKEN, or else one
    derived from SECRET_KEY, so `manage.py bots --url` run with the server's settings has it."""
    configured = getattr(settings, "BOT_TOKEN", "") or ""
    if configured:
        return configured
    return hmac.new(settings.SECRET_KEY.encode(), b"chorus-bots", hashlib.sha256).hexdigest()


def bot_entry_allowed(headers: Any) -> bool:
    """May this request enter as a bot? Only with the bot token, or on a DEBUG server."""
    if settings.DEBUG:
        return True
    sent = headers.get(BOT_TOKEN_HEADER, "")
    return bool(sent) and hmac.compare_digest(str(sent).encode(), bot_token().encode())
