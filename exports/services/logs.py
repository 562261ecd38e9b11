"""logs.jsonl: timeline events and participant lifecycle, one JSON object a line, in time order.

The lines are built and ordered by the server (one query, streamed through a server cursor),
inside the export's snapshot; nothing is locked or written.
"""

from collections.abc import Callable, Iterator
from typing import Any

from experiments.models import Participant, TimelineEvent

from ..dbio import fetch_batches, qn
from .files import ExportWriter

#: progress(description, total) returns a tqdm-like bar: update(n), close().
ProgressFactory = Callable[[str, int], Any]


def _log_lines() -> Iterator[str]:
    """logs.jsonl lines, built and ordered by PostgreSQL."""
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
        for chunk in _log_lines():
            text.write(chunk)
            lines = chunk.count("\n")
            n += lines
            bar.update(lines)
    bar.close()
    return n
