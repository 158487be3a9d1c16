"""Index the sweep and the console use to find active recordings without a full scan."""

from peewee import Database
from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.add_index("recordings", ("status", "updated_at")).run()
