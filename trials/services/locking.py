"""The trial maker's lock and the transaction helper every trial service uses.

Lock order: participant row, then `trial_maker_lock`, then network/node rows. The lock is a
transaction-scoped advisory lock: it is released at commit or rollback, never held across
requests.
"""

from django.db import transaction

from experiments.locks import Space, xact_lock


def trial_maker_lock(*, trial_maker_id: str) -> None:
    """Hold the trial maker's lock until the current transaction ends."""
    xact_lock(Space.TRIAL_MAKER, trial_maker_id)


def joined_transaction():
    # Inside the submit transaction already: no savepoint (two extra queries per call).
    return transaction.atomic(savepoint=False)
