"""Intake pause: one row every host reads, so a pause set anywhere holds everywhere."""

from peewee import AutoField, BooleanField, Database, DateTimeField, TextField

from whisperops.migrations import frozen_model


def up(migrator, db: Database) -> None:
    intake = frozen_model(
        db,
        "intake_control",
        id=AutoField(),
        paused=BooleanField(default=False),
        changed_at=DateTimeField(null=True),
        changed_by=TextField(null=True),
        reason=TextField(null=True),
    )
    db.create_tables([intake])
    intake.insert(id=1, paused=False).execute()
