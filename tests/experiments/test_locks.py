"""experiments.locks: the one place advisory and row locks are taken (real PostgreSQL)."""

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from experiments.locks import (
    Space,
    lock_key,
    lock_rows,
    session_unlock,
    try_session_lock,
    try_xact_lock,
    xact_lock,
)
from experiments.models import Participant
from tests.processes import database_url


def _other_connection():
    return psycopg.connect(database_url(), autocommit=True)


@pytest.mark.django_db(transaction=True)
def test_a_lock_held_elsewhere_is_reported_busy_and_free_once_released():
    with _other_connection() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [Space.TRIAL_MAKER, lock_key("m")])
        with transaction.atomic():
            assert not try_xact_lock(Space.TRIAL_MAKER, "m")
            assert try_xact_lock(Space.TRIAL_MAKER, "other maker")
        assert not try_session_lock(Space.TRIAL_MAKER, "m")
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [Space.TRIAL_MAKER, lock_key("m")])
    with transaction.atomic():
        assert try_xact_lock(Space.TRIAL_MAKER, "m")
    assert try_session_lock(Space.SNAPSHOT)
    session_unlock(Space.SNAPSHOT)


@pytest.mark.django_db(transaction=True)
def test_transaction_locks_refuse_to_be_taken_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside a transaction"):
        xact_lock(Space.TRIAL_MAKER, "m")


@pytest.mark.django_db
def test_row_locks_lock_only_their_own_table_in_primary_key_order():
    Participant.objects.create(token="b")
    Participant.objects.create(token="a")
    with CaptureQueriesContext(connection) as queries:
        rows = list(lock_rows(Participant.objects.order_by("token"), no_key=True))
    assert [p.pk for p in rows] == sorted(p.pk for p in rows)
    sql = queries.captured_queries[-1]["sql"]
    assert "FOR NO KEY UPDATE OF" in sql and 'ORDER BY "experiments_participant"."id" ASC' in sql
