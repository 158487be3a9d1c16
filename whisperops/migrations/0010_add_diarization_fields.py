"""Re-diarization: which recordings still need speakers, and where a queued one resumes.

diarization_pending flags recordings whose diarization is still to be done (too long,
failed, or no backend could run), indexed so `whisperops rediarize --pending` finds
them; resume_from_step lets a queued recording skip the steps whose results are kept;
transcript_segments.words_json keeps the word timings a re-diarization splits by.
"""

from peewee import BooleanField, CharField, Database, TextField
from playhouse.migrate import SchemaMigrator, migrate


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrate(
        migrator.add_column("recordings", "diarization_pending", BooleanField(default=False)),
        migrator.add_column("recordings", "resume_from_step", CharField(max_length=32, null=True)),
        migrator.add_index("recordings", ("diarization_pending",)),
        migrator.add_column("transcript_segments", "words_json", TextField(null=True)),
    )
