"""Every lock Chorus takes: PostgreSQL advisory locks and row locks, in one place.

Advisory locks are named by a namespace (one per kind of thing locked, `Space` below, visible
as `classid` in pg_locks) and a name (hashed to the `objid`). Transaction-scoped ones end at
commit or rollback; session ones (`try_session_lock`) guard a whole beat run and are released
explicitly. Row locks are `SELECT ... FOR [NO KEY] UPDATE OF <the table>` in primary-key order
(the Saleor `lock_objects` style), so two transactions locking the same rows take them in the
same order and cannot deadlock on them.

The platform's lock order (each module's docstring restates its part):
participant row (their own request) → trial maker lock → sync barrier locks (sync.locks: only a
transaction's first one blocks) → group / network / node rows in id order → waiting rows in id
order. A transaction holding a later lock never waits for an earlier one. Beat guards
(`try_session_lock`, `try_xact_lock`) never wait: a busy guard means another run is at work.
"""

import hashlib
from enum import IntEnum

from django.db import connection
from django.db.models import Model, QuerySet


class Space(IntEnum):
    """Advisory lock namespaces (the first key of PostgreSQL's two-key advisory locks)."""

    TRIAL_MAKER = 0x43485452   # "CHTR": one trial maker's allocation, chains, failures
    TRIAL_JOBS = 0x43484A42    # "CHJB": the beat's async_on_deploy sweep
    BARRIER = 0x5359           # "SY": processing one barrier (sync.locks)
    SYNC_TICK = 0x5354         # "ST": the beat's sync tick
    ASSET_JOBS = 0x4153        # "AS": the beat's deposit backstop
    SNAPSHOT = 0x534E          # "SN": taking a database snapshot


def lock_key(name: str) -> int:
    """A stable signed 32-bit key for a name (the second key of an advisory lock)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


def xact_lock(space: Space, name: str = "") -> None:
    """Wait for the lock and hold it until the current transaction ends."""
    if not connection.in_atomic_block:
        raise RuntimeError(f"the {space.name} lock must be taken inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [int(space), lock_key(name)])


def try_xact_lock(space: Space, name: str = "") -> bool:
    """Take the lock until the current transaction ends, or say (False) it is held elsewhere."""
    if not connection.in_atomic_block:
        raise RuntimeError(f"the {space.name} lock must be taken inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [int(space), lock_key(name)])
        return bool(cursor.fetchone()[0])


def try_session_lock(space: Space, name: str = "") -> bool:
    """Take a session lock (kept across transactions) or say it is held; release it with
    `session_unlock` in a `finally`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [int(space), lock_key(name)])
        return bool(cursor.fetchone()[0])


def session_unlock(space: Space, name: str = "") -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [int(space), lock_key(name)])


def lock_rows(queryset: QuerySet, *, no_key: bool = False, skip_locked: bool = False) -> QuerySet:
    """The rows of `queryset` locked `FOR [NO KEY] UPDATE OF` its own table only (joined tables
    stay unlocked), in primary-key order. `no_key`: the lock a plain update needs, which does not
    block inserts referencing the row (use it for participants, groups, waits)."""
    return (queryset.select_for_update(of=("self",), no_key=no_key, skip_locked=skip_locked)
            .order_by("pk"))


def lock_row(model: type[Model], pk: int, *, no_key: bool = False, only: tuple[str, ...] = ()) -> Model | None:
    """One row locked (see lock_rows), or None if it does not exist."""
    queryset = model.objects.filter(pk=pk)
    if only:
        queryset = queryset.only(*only)
    return lock_rows(queryset, no_key=no_key).first()
