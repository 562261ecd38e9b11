"""Chorus settings, read from the environment.

With no DATABASE_URL / REDIS_URL the project runs embedded: a private PostgreSQL server under
CHORUS_VAR_DIR/postgres (config/embedded_postgres.py: started on demand, stopped when its last
process exits), local storage and kombu's filesystem broker, so a bare machine serves the demo on
the same database engine as a deployment (there is no SQLite path). Production hardening lives
in config/production.py.
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
    "trials",
    "exports",
    "monitor",  # the top layer: reads every app, nothing imports it
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
if not DATABASE_URL:
    from .embedded_postgres import embedded_database_url

    DATABASE_URL = embedded_database_url(VAR_DIR / "postgres")
# Persistent connections, checked before reuse: a restarted server costs one failed check, not a 500.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 600), conn_health_checks=True
    )
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
        # Poll often: beat tasks expire after their interval (1 s for the sync tick), and the
        # default 1 s poll would let them expire before a worker sees them.
        "polling_interval": 0.1,
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
# Beat keeps its schedule state under var/, not in the folder it is started from.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
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
    "task": "trials.tasks.nodes_async_deploy_sweep",
    "schedule": env_float("NODES_ASYNC_DEPLOY_SWEEP_INTERVAL", 60.0),
    "options": {"expires": env_float("NODES_ASYNC_DEPLOY_SWEEP_INTERVAL", 60.0)},
}
CELERY_BEAT_SCHEDULE["trials-release-abandoned"] = {
    "task": "trials.tasks.trials_release_abandoned",
    "schedule": env_float("TRIALS_RELEASE_ABANDONED_INTERVAL", 60.0),
    "options": {"expires": env_float("TRIALS_RELEASE_ABANDONED_INTERVAL", 60.0)},
}

# --- exports ---
# Snapshots of the database/ tables go to artifact storage every SNAPSHOT_INTERVAL seconds (when
# anything changed); the newest SNAPSHOT_KEEP are kept. Artifact storage is a local folder, or an
# S3 bucket when ARTIFACTS_S3_BUCKET is set (django-storages; AWS_* credentials from the env).
SNAPSHOT_ENABLED = env_bool("SNAPSHOT_ENABLED", True)
SNAPSHOT_INTERVAL = env_float("SNAPSHOT_INTERVAL", 60.0)
SNAPSHOT_KEEP = env_int("SNAPSHOT_KEEP", 10)
# An API token for /basic_data (sent as "Authorization: Token <token>"); empty: staff only.
BASIC_DATA_TOKEN = env_str("BASIC_DATA_TOKEN")
EXPORT_ASSETS_HOOK = env_str("EXPORT_ASSETS_HOOK", "assets.exporting.export_assets")
ARTIFACTS_S3_BUCKET = env_str("ARTIFACTS_S3_BUCKET")
if ARTIFACTS_S3_BUCKET:
    STORAGES["artifacts"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ARTIFACTS_S3_BUCKET,
            "location": env_str("ARTIFACTS_S3_PREFIX", "artifacts"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    STORAGES["artifacts"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env_str("ARTIFACTS_DIR", str(VAR_DIR / "artifacts"))},
    }
CELERY_BEAT_SCHEDULE["exports-snapshot"] = {
    "task": "exports.tasks.snapshot_take",
    "schedule": SNAPSHOT_INTERVAL,
    "options": {"expires": SNAPSHOT_INTERVAL},
}
CELERY_BEAT_SCHEDULE["exports-requeue-jobs"] = {
    "task": "exports.tasks.export_jobs_requeue",
    "schedule": 60.0,
    "options": {"expires": 60.0},
}

# --- assets -----------------------------------------------------------------------------------
# Uploads wait here (fsynced) until a worker deposits them: web and workers must share it.
ASSET_INBOX_DIR = Path(env_str("ASSET_INBOX_DIR", str(VAR_DIR / "asset_inbox")))
# LocalStorage() without a root keeps assets here.
ASSET_LOCAL_ROOT = Path(env_str("ASSET_LOCAL_ROOT", str(VAR_DIR / "assets")))
# S3Storage reads its endpoint and region (above) and credentials here (any S3-compatible store).
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY") or None
AWS_S3_ADDRESSING_STYLE = env_str("AWS_S3_ADDRESSING_STYLE", "path")
ASSET_S3_CONNECT_TIMEOUT = env_float("ASSET_S3_CONNECT_TIMEOUT", 5.0)
ASSET_S3_MAX_ATTEMPTS = env_int("ASSET_S3_MAX_ATTEMPTS", 3)
# Presigned S3 URLs and signed personal-asset URLs expire after this many seconds.
ASSET_URL_EXPIRY = env_int("ASSET_URL_EXPIRY", 6 * 3600)
# Deposits: attempts before `failed`, exponential backoff (seconds) with jitter, worker lease.
ASSET_DEPOSIT_MAX_ATTEMPTS = env_int("ASSET_DEPOSIT_MAX_ATTEMPTS", 6)
ASSET_DEPOSIT_RETRY_BASE = env_float("ASSET_DEPOSIT_RETRY_BASE", 2.0)
ASSET_DEPOSIT_RETRY_MAX = env_float("ASSET_DEPOSIT_RETRY_MAX", 120.0)
ASSET_DEPOSIT_LEASE = env_float("ASSET_DEPOSIT_LEASE", 600.0)
# The backstop re-enqueues deposits pending (or leased) longer than this.
ASSET_BACKSTOP_GRACE = env_float("ASSET_BACKSTOP_GRACE", 30.0)
ASSET_BACKSTOP_INTERVAL = env_float("ASSET_BACKSTOP_INTERVAL", 30.0)
# `deploy` deposits cached assets on workers ("workers"), in this process ("local"), or
# on workers when one answers a ping ("auto").
ASSET_DEPLOY_MODE = env_str("ASSET_DEPLOY_MODE", "auto")
# Largest file one response may carry; Django has no total limit for files, so we enforce it.
ASSET_UPLOAD_MAX_BYTES = env_int("ASSET_UPLOAD_MAX_BYTES", 50 * 1024 * 1024)
if REDIS_URL:
    # A message of a worker that died unacked returns after visibility_timeout; sweep for such
    # messages every interval (kombu's default scans only every 10th interval: ~100 s).
    CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_interval"] = env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10)
    CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_throttle"] = 1
CELERY_BEAT_SCHEDULE["assets-deposit-backstop"] = {
    "task": "assets.tasks.deposits_backstop",
    "schedule": ASSET_BACKSTOP_INTERVAL,
    "options": {"expires": ASSET_BACKSTOP_INTERVAL},
}

# --- Sync (sync app) --------------------------------------------------------------------------
# The beat backstop: process barriers with waiters, enforce max_wait_time (seconds between ticks).
SYNC_TICK_INTERVAL = env_float("SYNC_TICK_INTERVAL", 1.0)
CELERY_BEAT_SCHEDULE["sync-tick"] = {
    "task": "sync.tasks.sync_tick",
    "schedule": SYNC_TICK_INTERVAL,
    "options": {"expires": SYNC_TICK_INTERVAL},
}

# --- bots -------------------------------------------------------------------------------------
# HTTP clients enter as bots (`/start/?recruiter=bot`) only with this secret in the
# X-Chorus-Bot-Token header (`manage.py bots --url` sends it), or on a DEBUG server. Empty: a
# token derived from SECRET_KEY, which every process of one deployment shares.
BOT_TOKEN = env_str("BOT_TOKEN")
