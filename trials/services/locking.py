"""The trial maker's lock and the transaction helper every trial service uses.

Lock order: participant row, then `trial_maker_lock`, then network/node rows. The lock is a
transaction-scoped advisory lock: it is released at commit or rollback, never held across
requests.
"""

import zlib

from django.db import connection, transaction

#: First key of the two-key advisory locks taken here ("CHTR"); other apps use other namespaces.
LOCK_NAMESPACE = 0x43485452


def trial_maker_lock(*, trial_maker_id: str) -> None:
    """Hold the trial maker's lock until the current transaction ends."""
    if not connection.in_atomic_block:
        raise RuntimeError("trial_maker_lock must be taken inside a transaction")
    if connection.vendor != "postgresql":
        return
    key = zlib.crc32(trial_maker_id.encode()) - 2**31
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, key])


def joined_transaction():
    # Inside the submit transaction already: no savepoint (two extra queries per call).
    return transaction.atomic(savepoint=False)
