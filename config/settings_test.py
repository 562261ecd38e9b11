"""Test settings: tests run on PostgreSQL and Redis (real parts).

PostgreSQL is DATABASE_URL when set, else the embedded server under CHORUS_VAR_DIR/postgres (the
same one `./run demo` uses; its superuser `postgres` creates and drops the test databases), so a
machine without a PostgreSQL server of its own runs the suite.
"""

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .settings import *  # noqa: E402,F403
from .settings import BASE_DIR  # noqa: E402

# Tests open connections from many threads; keep them short-lived so teardown can drop the DB.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
EXPERIMENT = str(BASE_DIR / "demos" / "hello_world")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# WhiteNoise warns when STATIC_ROOT is missing; tests serve static files through the finders.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
