"""Index for listing recordings of one status by age (the console's age sort)."""

from peewee import Database
from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.add_index("recordings", ("status", "created_at")).run()
