"""Schema history on SQLite and PostgreSQL (plan §7.2)."""

from datetime import datetime

from peewee import Database

from whisperops.migrations import HISTORY_TABLE, applied_numbers, discover, migrate
from whisperops.models import ALL_MODELS, Recording, Status


def _quiet(_line: str) -> None:
    pass


def columns(db: Database, table: str) -> set[str]:
    return {column.name for column in db.get_columns(table)}


def test_recordings_table_has_correct_columns(migrated_db: Database) -> None:
    expected_columns = {
        "id",
        "file_path",
        "file_name",
        "sha256",
        "size_bytes",
        "status",
        "processing_step",
        "processing_step_started_at",
        "processing_segments_count",
        "retry_count",
        "error_message",
        "attempt",
        "duration_sec",
        "sample_rate",
        "channels",
        "codec",
        "container_format",
        "bit_rate",
        "metadata_json",
        "parsed_fields_json",
        "progress_ratio",
        "estimated_finish_at",
        "analytics_json",
        "diarization_pending",
        "resume_from_step",
        "created_at",
        "updated_at",
        "processing_started_at",
        "processed_at",
    }
    assert columns(migrated_db, "recordings") == expected_columns


def test_migrated_schema_matches_every_model(migrated_db: Database) -> None:
    for model in ALL_MODELS:
        table = model._meta.table_name
        assert columns(migrated_db, table) == set(model._meta.columns), table


def test_status_updated_at_index_exists(migrated_db: Database) -> None:
    indexed = [index.columns for index in migrated_db.get_indexes("recordings")]
    assert ["status", "updated_at"] in indexed
    assert ["status", "created_at"] in indexed


def test_migrate_is_idempotent_and_reports(db: Database) -> None:
    lines: list[str] = []
    applied = migrate(db, log=lines.append)
    assert [m.label for m in applied] == [m.label for m in discover()]
    assert "applied 0002_add_processing_step_to_recordings" in lines
    lines.clear()
    assert migrate(db, log=lines.append) == []
    assert lines == [f"database is up to date (at {len(discover()):04d})"]
    assert applied_numbers(db) == {m.number for m in discover()}
    assert db.table_exists(HISTORY_TABLE)


LEGACY_ROWS = [
    {
        "file_path": "/archive/a.wav",
        "file_name": "a.wav",
        "sha256": "a" * 64,
        "size_bytes": 1234,
        "status": "processing",
        "processing_segments_count": 45,
        "retry_count": 2,
        "error_message": None,
        "duration_sec": 1680.5,
        "sample_rate": 8000,
        "channels": 2,
        "metadata_json": '{"codec": "pcm_s16le"}',
        "created_at": datetime(2026, 1, 2, 3, 4, 5),
        "updated_at": datetime(2026, 1, 2, 3, 9, 0),
        "processing_started_at": datetime(2026, 1, 2, 3, 5, 0),
        "processed_at": None,
    },
    {
        "file_path": "/archive/b.mp3",
        "file_name": "b.mp3",
        "sha256": "b" * 64,
        "size_bytes": 99,
        "status": "failed",
        "processing_segments_count": None,
        "retry_count": 3,
        "error_message": "boom",
        "duration_sec": None,
        "sample_rate": None,
        "channels": None,
        "metadata_json": None,
        "created_at": datetime(2025, 12, 31, 23, 59, 59),
        "updated_at": datetime(2026, 1, 1, 0, 0, 0),
        "processing_started_at": None,
        "processed_at": None,
    },
]


def _insert_legacy_rows(db: Database) -> None:
    names = list(LEGACY_ROWS[0])
    sql = (
        f"INSERT INTO recordings ({', '.join(names)}) VALUES ({', '.join(db.param for _ in names)})"
    )
    for row in LEGACY_ROWS:
        db.execute_sql(sql, [row[name] for name in names])


def _assert_legacy_rows_kept(db: Database) -> None:
    rows = list(Recording.select().order_by(Recording.file_path))
    assert len(rows) == len(LEGACY_ROWS)
    for row, legacy in zip(rows, LEGACY_ROWS, strict=True):
        for name, value in legacy.items():
            got = getattr(row, name)
            assert (got.value if isinstance(got, Status) else got) == value, name
        assert row.processing_step is None
        assert row.processing_step_started_at is None
        assert row.attempt == 0


def test_database_at_0001_upgrades_in_place_keeping_rows(db: Database) -> None:
    migrate(db, target=1, log=_quiet)
    assert "processing_step" not in columns(db, "recordings")
    assert "processing_segments_count" in columns(db, "recordings")
    _insert_legacy_rows(db)

    lines: list[str] = []
    migrate(db, log=lines.append)

    assert "applied 0002_add_processing_step_to_recordings" in lines
    assert {"processing_step", "processing_step_started_at"} <= columns(db, "recordings")
    _assert_legacy_rows_kept(db)


def test_untracked_legacy_database_is_adopted_then_upgraded(db: Database) -> None:
    # A recordings table made before migrations were recorded: no history table.
    migrate(db, target=1, log=_quiet)
    db.execute_sql(f"DROP TABLE {HISTORY_TABLE}")
    _insert_legacy_rows(db)

    lines: list[str] = []
    migrate(db, log=lines.append)

    assert lines[0] == "adopted 0001_initial (schema already present)"
    assert "applied 0002_add_processing_step_to_recordings" in lines
    _assert_legacy_rows_kept(db)
