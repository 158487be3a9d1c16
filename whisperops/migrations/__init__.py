"""Versioned schema migrations: numbered modules applied in order, recorded in the DB.

Each module is named ``NNNN_description.py`` and defines ``up(migrator, db)``.
Migrations never import the live models: they describe the tables as they were
at that point in history, so an old database upgrades the same way forever.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peewee import CharField, Database, DateTimeField, IntegerField, Model
from playhouse.migrate import SchemaMigrator

from whisperops.db import utcnow

HISTORY_TABLE = "whisperops_migrations"
_MODULE_NAME = re.compile(r"^(\d{4})_(\w+)$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    up: Callable[[SchemaMigrator, Database], None]

    @property
    def label(self) -> str:
        return f"{self.number:04d}_{self.name}"


def frozen_model(db: Database, table: str, **columns: Any) -> type[Model]:
    """A throwaway model describing ``table`` as a migration sees it."""
    meta = type("Meta", (), {"database": db, "table_name": table})
    return type(f"Frozen_{table}", (Model,), {"Meta": meta, **columns})


def _history_model(db: Database) -> type[Model]:
    return frozen_model(
        db,
        HISTORY_TABLE,
        number=IntegerField(primary_key=True),
        name=CharField(max_length=128),
        applied_at=DateTimeField(),
    )


def discover() -> list[Migration]:
    """All migrations shipped with this version, in order."""
    found = []
    for module_info in pkgutil.iter_modules(__path__):
        match = _MODULE_NAME.match(module_info.name)
        if not match:
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found.append(Migration(int(match.group(1)), match.group(2), module.up))
    found.sort(key=lambda migration: migration.number)
    numbers = [migration.number for migration in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migration numbers must run 1..N without gaps, got {numbers}")
    return found


def applied_numbers(db: Database) -> set[int]:
    if not db.table_exists(HISTORY_TABLE):
        return set()
    history = _history_model(db)
    return {row.number for row in history.select(history.number)}


def _adopt_untracked_database(db: Database, history: type[Model], log: Callable[[str], None]):
    """Record the migrations an untracked database already reflects.

    A ``recordings`` table created before migrations were tracked is at 0001
    (or at 0002 if it already has processing_step); recording that lets the
    remaining migrations upgrade it in place with its rows intact.
    """
    if history.select().exists() or not db.table_exists("recordings"):
        return
    columns = {column.name for column in db.get_columns("recordings")}
    adopted = [1, 2] if "processing_step" in columns else [1]
    by_number = {migration.number: migration for migration in discover()}
    for number in adopted:
        history.create(number=number, name=by_number[number].name, applied_at=utcnow())
        log(f"adopted {by_number[number].label} (schema already present)")


def migrate(
    db: Database, target: int | None = None, log: Callable[[str], None] = print
) -> list[Migration]:
    """Apply pending migrations up to ``target`` (default: all), each in a transaction.

    Returns the migrations applied by this call; running it again applies none.
    """
    history = _history_model(db)
    with db.atomic():
        db.create_tables([history], safe=True)
        _adopt_untracked_database(db, history, log)
    done = applied_numbers(db)
    migrator = SchemaMigrator.from_database(db)
    applied = []
    for migration in discover():
        if migration.number in done or (target is not None and migration.number > target):
            continue
        with db.atomic():
            migration.up(migrator, db)
            history.create(number=migration.number, name=migration.name, applied_at=utcnow())
        applied.append(migration)
        log(f"applied {migration.label}")
    current = max(applied_numbers(db), default=0)
    if not applied:
        log(f"database is up to date (at {current:04d})")
    else:
        log(f"{len(applied)} migration(s) applied; database is at {current:04d}")
    return applied


def pending(db: Database) -> list[Migration]:
    """Migrations this version has that the database has not applied."""
    done = applied_numbers(db)
    return [migration for migration in discover() if migration.number not in done]
