"""Chorus settings, read from the environment.

With no DATABASE_URL / REDIS_URL the project runs embedded: SQLite (WAL, IMMEDIATE transactions),
local storage and kombu's filesystem broker, so a bare machine serves the demo. Production
hardening lives in config/production.py.
"""

from pathlib import Path

import dj_database_url

from .env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CHORUS_VAR_DIR", str(BASE_DIR / "var")))

DEVELOPMENT_SECRET_KEY = "chorus-insecure-development-key-change-me"  # production refuses it
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# The experiment folder this deployment serves (also settable with `manage.py --experiment`).
EXPERIMENT = env_str("EXPERIMENT", str(BASE_DIR / "demos" / "hello_world"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "experiments",
    "assets",
    "sync",
    "exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 600), conn_health_checks=True
        )
    }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "chorus.sqlite3",
            # A worker writes beside the web process: WAL + IMMEDIATE avoids "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery -----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}
else:
    _broker_dir = VAR_DIR / "broker"
    for sub in ("out", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),  # kombu's default is ./control in the cwd
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing inside a request must never hang when the broker is down.
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    "participants-mark-abandoned": {
        "task": "experiments.tasks.participants_mark_abandoned",
        "schedule": env_float("ABANDON_SWEEP_INTERVAL", 60.0),
        "options": {"expires": env_float("ABANDON_SWEEP_INTERVAL", 60.0)},
    },
}
# A working participant idle this long (seconds) is marked abandoned by the beat sweeper.
PARTICIPANT_ABANDON_AFTER = env_int("PARTICIPANT_ABANDON_AFTER", 6 * 3600)

# --- Object storage (S3-compatible; django-storages' setting names) -------------------------
# Credentials are read by boto3 from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME") or None
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None  # e.g. MinIO; unset for AWS itself
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None

# --- Participant API --------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024)
# Store participants' IP addresses only when a deployment opts in.
STORE_IP_ADDRESSES = env_bool("STORE_IP_ADDRESSES", False)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chorus participant API",
    "DESCRIPTION": "Pages and responses of a participant, addressed by an unguessable token.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Static files, i18n -----------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# --- Trials: re-enqueue nodes whose async_on_deploy never ran; release abandoned trials ---
CELERY_BEAT_SCHEDULE["trials-nodes-async-deploy-sweep"] = {
    "task": "experiments.trials.tasks.nodes_async_deploy_sweep",
    "schedule": env_float("NODES_ASYNC_DEPLOY_SWEEP_INTERVAL", 60.0),
    "options": {"expires": env_float("NODES_ASYNC_DEPLOY_SWEEP_INTERVAL", 60.0)},
}
CELERY_BEAT_SCHEDULE["trials-release-abandoned"] = {
    "task": "experiments.trials.tasks.trials_release_abandoned",
    "schedule": env_float("TRIALS_RELEASE_ABANDONED_INTERVAL", 60.0),
    "options": {"expires": env_float("TRIALS_RELEASE_ABANDONED_INTERVAL", 60.0)},
}

# --- Sync (sync app) --------------------------------------------------------------------------
# The beat backstop: process barriers with waiters, enforce max_wait_time (seconds between ticks).
SYNC_TICK_INTERVAL = env_float("SYNC_TICK_INTERVAL", 1.0)
CELERY_BEAT_SCHEDULE["sync-tick"] = {
    "task": "sync.tasks.sync_tick",
    "schedule": SYNC_TICK_INTERVAL,
    "options": {"expires": SYNC_TICK_INTERVAL},
}
