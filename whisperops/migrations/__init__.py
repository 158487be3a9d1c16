"""Versioned schema migrations: numbered modules applied in order, recorded in the DB.

Each module is named ``NNNN_description.py`` and defines ``up(migrator, db)``;
peewee's own runner (``playhouse.migrations.Runner``) applies the pending ones in
order, each in a transaction, and records them by name in ``HISTORY_TABLE``.
Migrations never import the live models: they describe the tables as they were
at that point in history, so an old database upgrades the same way forever.

Two older kinds of database upgrade in place (plumbing the runner has no hook for):
one made by whisperops' earlier runner, whose history table had another layout,
and one made before migrations were recorded at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from peewee import Database, Model
from playhouse.migrations import Migration, Runner

__all__ = ["HISTORY_TABLE", "Migration", "discover", "frozen_model", "migrate", "pending"]

HISTORY_TABLE = "whisperops_schema_migration"
LEGACY_HISTORY_TABLE = "whisperops_migrations"
"""The earlier runner's history: (number, name without the number, applied_at)."""

DIRECTORY = str(Path(__file__).parent)


def frozen_model(db: Database, table: str, **columns: Any) -> type[Model]:
    """A throwaway model describing ``table`` as a migration sees it."""
    meta = type("Meta", (), {"database": db, "table_name": table})
    return type(f"Frozen_{table}", (Model,), {"Meta": meta, **columns})


def _runner(db: Database) -> Runner:
    return Runner(db, DIRECTORY, table_name=HISTORY_TABLE)


def discover() -> list[Migration]:
    """All migrations shipped with this version, in order."""
    return Migration.load_directory(DIRECTORY)


def _legacy_names(db: Database) -> list[str] | None:
    """The earlier runner's history as migration names, or None without one."""
    if not db.table_exists(LEGACY_HISTORY_TABLE):
        return None
    rows = db.execute_sql(f"SELECT number, name FROM {LEGACY_HISTORY_TABLE} ORDER BY number")
    return [f"{number:04d}_{name}" for number, name in rows]


def pending(db: Database) -> list[Migration]:
    """Migrations this version has that the database has not applied; changes nothing."""
    runner = _runner(db)
    if not runner.History.table_exists():
        applied = set(_legacy_names(db) or ())
        return [migration for migration in discover() if migration.name not in applied]
    return [migration for migration in runner.status() if migration.path and not migration.applied]


def _convert_legacy_history(db: Database, runner: Runner, log: Callable[[str], None]) -> None:
    """Move the earlier runner's history rows into the runner's table, in one transaction."""
    if runner.History.table_exists() or not db.table_exists(LEGACY_HISTORY_TABLE):
        return
    with db.atomic():
        rows = list(
            db.execute_sql(
                f"SELECT number, name, applied_at FROM {LEGACY_HISTORY_TABLE} ORDER BY number"
            )
        )
        runner.History.create_table()
        for number, name, applied_at in rows:
            runner.History.create(name=f"{number:04d}_{name}", applied=applied_at)
        db.execute_sql(f"DROP TABLE {LEGACY_HISTORY_TABLE}")
    log(f"history of {len(rows)} migration(s) moved from {LEGACY_HISTORY_TABLE} to {HISTORY_TABLE}")


def _adopt_untracked_database(db: Database, runner: Runner, log: Callable[[str], None]) -> None:
    """Record the migrations an untracked database already reflects.

    A ``recordings`` table created before migrations were tracked is at 0001
    (or at 0002 if it already has processing_step); recording that lets the
    remaining migrations upgrade it in place with its rows intact.
    """
    if runner.History.table_exists() or not db.table_exists("recordings"):
        return
    columns = {column.name for column in db.get_columns("recordings")}
    adopted = discover()[: 2 if "processing_step" in columns else 1]
    for name in runner.fake(adopted[-1].name):
        log(f"adopted {name} (schema already present)")


def migrate(
    db: Database, target: int | None = None, log: Callable[[str], None] = print
) -> list[str]:
    """Apply pending migrations up to number ``target`` (default: all), each in a transaction.

    Returns the names of the migrations applied by this call; running it again
    applies none.
    """
    runner = _runner(db)
    _convert_legacy_history(db, runner, log)
    _adopt_untracked_database(db, runner, log)
    runner.History.create_table()
    applied = []
    # One at a time, so that each is reported as soon as it is committed.
    for migration in pending(db):
        if target is not None and migration.idx > target:
            break
        applied += runner.up(migration.name)
        log(f"applied {migration.name}")
    current = max((row.idx for row in runner.status() if row.applied), default=0)
    if not applied:
        log(f"database is up to date (at {current:04d})")
    else:
        log(f"{len(applied)} migration(s) applied; database is at {current:04d}")
    return applied
