"""Track which pipeline step a processing recording is in, and since when."""

from peewee import CharField, Database, DateTimeField
from playhouse.migrate import SchemaMigrator, migrate


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrate(
        migrator.add_column("recordings", "processing_step", CharField(max_length=32, null=True)),
        migrator.add_column("recordings", "processing_step_started_at", DateTimeField(null=True)),
    )
