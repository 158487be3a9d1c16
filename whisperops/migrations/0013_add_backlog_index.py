"""An index the backlog is summed from: (status, resume_from_step, duration_sec, size_bytes).

The console, `whisperops status` and the exporter sum the queued audio (known
durations, and file sizes where the duration is not known yet; re-diarizations,
with resume_from_step set, left out) at every refresh.
Covered by this index the sum reads only the queued entries of the index, never
the rows: 20,000 queued recordings in a table of a million took 50-75 ms through
the (status, ...) indexes and their row lookups on SQLite.
"""

from peewee import Database
from playhouse.migrate import SchemaMigrator, migrate


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrate(
        migrator.add_index(
            "recordings", ("status", "resume_from_step", "duration_sec", "size_bytes")
        )
    )
