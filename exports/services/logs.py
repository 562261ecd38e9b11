"""logs.jsonl: timeline events and participant lifecycle, one JSON object a line, in time order.

On PostgreSQL the lines are built and ordered by the server (one query, streamed); on SQLite
each source is read in order and merged in Python.
"""

import heapq
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ..dbio import fetch_batches, is_postgres, qn
from .files import ExportWriter

#: progress(description, total) returns a tqdm-like bar: update(n), close().
ProgressFactory = Callable[[str, int], Any]


def _json(raw: Any) -> Any:
    """Raw-cursor JSON arrives as text (Django's psycopg loader; SQLite stores text)."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _log_streams() -> list[Iterator[tuple[Any, int, dict[str, Any]]]]:
    """Sources of logs.jsonl, each ordered by time: (time, tiebreak, record)."""
    from experiments.models import Participant, TimelineEvent

    events, people = qn(TimelineEvent._meta.db_table), qn(Participant._meta.db_table)

    def timeline() -> Iterator:
        sql = (f"SELECT created_at, id, participant_id, kind, label, value FROM {events} "
               "ORDER BY created_at, id")
        for batch in fetch_batches(sql):
            for t, pk, pid, kind, label, value in batch:
                value = _json(value)
                yield t, pk, {"time": t, "source": "timeline", "participant_id": pid,
                              "event": kind, "label": label, "value": value}

    def lifecycle(column: str, event: str, extra: str = "") -> Callable[[], Iterator]:
        def rows() -> Iterator:
            sql = (f"SELECT {column}, id{extra} FROM {people} WHERE {column} IS NOT NULL "
                   f"ORDER BY {column}, id")
            for batch in fetch_batches(sql):
                for row in batch:
                    record = {"time": row[0], "source": "participant", "participant_id": row[1],
                              "event": event}
                    if extra:
                        record.update(reason=row[2], tags=_json(row[3]))
                    yield row[0], row[1], record
        return rows

    return [timeline(), lifecycle("created_at", "participant_created")(),
            lifecycle("completed_at", "participant_completed")(),
            lifecycle("failed_at", "participant_failed", ", failed_reason, failure_tags")()]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _pg_log_lines() -> Iterator[str]:
    """logs.jsonl lines built and ordered by PostgreSQL (the same records as _log_streams)."""
    from experiments.models import Participant, TimelineEvent

    events, people = qn(TimelineEvent._meta.db_table), qn(Participant._meta.db_table)
    sql = f"""
        SELECT line FROM (
          SELECT created_at AS t, 0 AS s, id, json_build_object('time', created_at,
            'source', 'timeline', 'participant_id', participant_id, 'event', kind,
            'label', label, 'value', value)::text AS line FROM {events}
          UNION ALL SELECT created_at, 1, id, json_build_object('time', created_at,
            'source', 'participant', 'participant_id', id, 'event', 'participant_created')::text
            FROM {people}
          UNION ALL SELECT completed_at, 2, id, json_build_object('time', completed_at,
            'source', 'participant', 'participant_id', id, 'event', 'participant_completed')::text
            FROM {people} WHERE completed_at IS NOT NULL
          UNION ALL SELECT failed_at, 3, id, json_build_object('time', failed_at,
            'source', 'participant', 'participant_id', id, 'event', 'participant_failed',
            'reason', failed_reason, 'tags', failure_tags)::text
            FROM {people} WHERE failed_at IS NOT NULL
        ) AS logs ORDER BY t, s, id"""
    for batch in fetch_batches(sql, size=5000):
        yield "".join(row[0] + "\n" for row in batch)


def write_logs(writer: ExportWriter, *, progress: ProgressFactory) -> int:
    """logs.jsonl: timeline events and participant lifecycle, merged in time order."""
    n = 0
    bar = progress("logs", 0)
    with writer.text("logs.jsonl") as text:
        if is_postgres():
            for chunk in _pg_log_lines():
                text.write(chunk)
                lines = chunk.count("\n")
                n += lines
                bar.update(lines)
        else:
            merged = heapq.merge(*_log_streams(), key=lambda item: (str(item[0]), item[1]))
            for _t, _pk, record in merged:
                record["time"] = _iso(record["time"])
                text.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
                n += 1
                bar.update(1)
    bar.close()
    return n
