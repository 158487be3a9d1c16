"""Per-step history: one row per step of each attempt, with its outcome."""

from peewee import (
    AutoField,
    CharField,
    Database,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)
from playhouse.migrate import SchemaMigrator

from whisperops.migrations import frozen_model


def up(migrator: SchemaMigrator, db: Database) -> None:
    recordings = frozen_model(db, "recordings", id=AutoField())
    history = frozen_model(
        db,
        "step_history",
        id=AutoField(),
        recording=ForeignKeyField(recordings, on_delete="CASCADE"),
        attempt=IntegerField(),
        step=CharField(max_length=32),
        started_at=DateTimeField(),
        finished_at=DateTimeField(null=True),
        outcome=CharField(max_length=16, null=True),
        detail=TextField(null=True),
    )
    db.create_tables([history])
    migrator.add_index("step_history", ("recording_id", "attempt")).run()
