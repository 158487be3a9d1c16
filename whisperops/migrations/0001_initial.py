"""The recordings table as it was before step tracking."""

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    Database,
    DateTimeField,
    FloatField,
    IntegerField,
    TextField,
)
from playhouse.migrate import SchemaMigrator

from whisperops.migrations import frozen_model


def up(migrator: SchemaMigrator, db: Database) -> None:
    recordings = frozen_model(
        db,
        "recordings",
        id=AutoField(),
        file_path=TextField(unique=True),
        file_name=TextField(),
        sha256=CharField(max_length=64, unique=True),
        size_bytes=BigIntegerField(),
        status=CharField(max_length=16, default="queued"),
        processing_segments_count=IntegerField(null=True),
        retry_count=IntegerField(default=0),
        error_message=TextField(null=True),
        duration_sec=FloatField(null=True),
        sample_rate=IntegerField(null=True),
        channels=IntegerField(null=True),
        metadata_json=TextField(null=True),
        created_at=DateTimeField(),
        updated_at=DateTimeField(),
        processing_started_at=DateTimeField(null=True),
        processed_at=DateTimeField(null=True),
    )
    db.create_tables([recordings])
