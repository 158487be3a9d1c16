"""Index the exporter uses to read only step runs finished since its previous scrape."""

from peewee import Database
from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.add_index("step_history", ("finished_at",)).run()
