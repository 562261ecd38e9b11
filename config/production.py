"""Production settings: the base settings plus the hardening `check --deploy` asks for.

A real deployment runs several processes (web, workers, beat) against shared servers, so it
refuses to start without a SECRET_KEY of its own, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL
rather than quietly falling back to the embedded PostgreSQL/filesystem defaults. TLS is expected at
a proxy in front of gunicorn, which sets X-Forwarded-Proto.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list
from .settings import *  # noqa: F403
from .settings import DEVELOPMENT_SECRET_KEY, STORAGES


def _require(name: str, why: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production ({why}).")
    return value


SECRET_KEY = _require("SECRET_KEY", "a long random value, e.g. from `python -c 'import secrets; "
                      "print(secrets.token_urlsafe(50))'`")
if SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is the public development key; set a secret one.")
_require("ALLOWED_HOSTS", "the host names this site is served under, comma-separated")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
_require("DATABASE_URL", "PostgreSQL, shared by the web processes and the workers")
_require("REDIS_URL", "the Celery broker shared by the web processes, workers and beat")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# The container health check probes /healthz over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
