"""Estimated progress and finish time of the running step, and the analytics result."""

from peewee import Database, DateTimeField, FloatField, TextField
from playhouse.migrate import SchemaMigrator, migrate


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrate(
        migrator.add_column("recordings", "progress_ratio", FloatField(null=True)),
        migrator.add_column("recordings", "estimated_finish_at", DateTimeField(null=True)),
        migrator.add_column("recordings", "analytics_json", TextField(null=True)),
    )
