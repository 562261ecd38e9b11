"""PostgreSQL advisory locks for barriers, and the rule that keeps them deadlock-free.

One transaction at a time processes a barrier: it holds `pg_advisory_xact_lock` on a hash of
the barrier id until it commits. The rule: **a transaction blocks only for its first sync lock**
(taken before it locks any sync row). A transaction that already holds a barrier lock and needs
another one (a participant released at one barrier runs on to the next in the same request)
only *tries* it; if it is busy, the work is redone after commit, in a fresh transaction. So no
transaction ever waits for a sync lock while holding one, and no cycle of waits can form.
"""

import hashlib

from django.db import connection

#: classid of our two-key advisory locks (visible in pg_locks), so they are told apart from
#: other apps' locks: "SY".
BARRIER_SPACE = 0x5359
#: The beat task's overlap guard (a session lock, see services.sync_tick).
TICK_SPACE = 0x5354


def lock_key(name: str) -> int:
    """A stable signed 32-bit key for a barrier id."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


#: A transaction-local setting marks "this transaction holds a sync lock" (reset by PostgreSQL
#: at commit or rollback). Asking pg_locks instead would take every lock-manager partition lock.
_HELD = "chorus.sync_locks"


def lock_barrier(barrier_id: str) -> tuple[bool, bool]:
    """Lock a barrier for the rest of the current transaction.

    Returns (acquired, first): `first` is True when this transaction held no sync lock before,
    in which case it waited for the lock if needed (acquired is then always True). Otherwise the
    lock was only tried. Must be called inside a transaction. One round trip.
    """
    key = lock_key(barrier_id)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT held,
                   CASE WHEN held THEN pg_try_advisory_xact_lock(%s, %s)
                        ELSE pg_advisory_xact_lock(%s, %s)::text IS NOT NULL END,
                   set_config(%s, '1', true)
            FROM (SELECT coalesce(current_setting(%s, true), '') = '1' AS held) AS state
            """,
            [BARRIER_SPACE, key, BARRIER_SPACE, key, _HELD, _HELD],
        )
        held, acquired, _ = cursor.fetchone()
    return bool(acquired), not held


def try_lock_barriers(names: list[str]) -> list[bool]:
    """Try to lock several barriers (never waits); one round trip. For the beat, which then
    processes every group of a GroupBarrier that nobody else is processing, in one transaction."""
    if not names:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, key), set_config(%s, '1', true) "
            "FROM unnest(%s::int[]) WITH ORDINALITY AS t(key, n) ORDER BY n",
            [BARRIER_SPACE, _HELD, [lock_key(name) for name in names]],
        )
        return [bool(row[0]) for row in cursor.fetchall()]


def holds_barrier_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting(%s, true), '') = '1'", [_HELD])
        return bool(cursor.fetchone()[0])


def try_tick_lock() -> bool:
    """Session-level guard so two beat ticks never overlap (beat does not prevent it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, 0)", [TICK_SPACE])
        return bool(cursor.fetchone()[0])


def release_tick_lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, 0)", [TICK_SPACE])
