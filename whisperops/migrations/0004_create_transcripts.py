"""Transcripts (one per recording) and their segments."""

from peewee import (
    AutoField,
    CharField,
    Database,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    TextField,
)
from playhouse.migrate import SchemaMigrator

from whisperops.migrations import frozen_model


def up(migrator: SchemaMigrator, db: Database) -> None:
    recordings = frozen_model(db, "recordings", id=AutoField())
    transcripts = frozen_model(
        db,
        "transcripts",
        id=AutoField(),
        recording=ForeignKeyField(recordings, unique=True, on_delete="CASCADE"),
        text=TextField(),
        language=CharField(max_length=16, null=True),
        language_probability=FloatField(null=True),
        model_name=TextField(),
        created_at=DateTimeField(),
    )
    segments = frozen_model(
        db,
        "transcript_segments",
        id=AutoField(),
        transcript=ForeignKeyField(transcripts, on_delete="CASCADE"),
        position=IntegerField(),
        start_sec=FloatField(),
        end_sec=FloatField(),
        text=TextField(),
        speaker=CharField(max_length=64, null=True),
    )
    db.create_tables([transcripts, segments])
    migrator.add_index("transcript_segments", ("transcript_id", "position"), unique=True).run()
