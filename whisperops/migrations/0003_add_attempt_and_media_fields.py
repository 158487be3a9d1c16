"""Fencing token (attempt), the rest of the audio metadata, and file-name fields."""

from peewee import BigIntegerField, CharField, Database, IntegerField, TextField
from playhouse.migrate import SchemaMigrator, migrate


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrate(
        migrator.add_column("recordings", "attempt", IntegerField(default=0)),
        migrator.add_column("recordings", "codec", CharField(max_length=64, null=True)),
        migrator.add_column("recordings", "container_format", CharField(max_length=64, null=True)),
        migrator.add_column("recordings", "bit_rate", BigIntegerField(null=True)),
        migrator.add_column("recordings", "parsed_fields_json", TextField(null=True)),
    )
