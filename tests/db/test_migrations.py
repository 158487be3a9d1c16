"""Schema history on SQLite and PostgreSQL: applied in order, recorded, upgraded in place."""

from datetime import datetime, timedelta

import pytest
from peewee import CharField, Database, DateTimeField, IntegerField
from playhouse.migrate import SchemaMigrator

from whisperops.migrations import (
    HISTORY_TABLE,
    LEGACY_HISTORY_TABLE,
    discover,
    frozen_model,
    migrate,
    pending,
)
from whisperops.models import (
    ALL_MODELS,
    Recording,
    Status,
    Step,
    StepOutcome,
    StepRun,
    StepTally,
    Transcript,
    TranscriptSegment,
)


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
    assert applied == [m.name for m in discover()]
    assert "applied 0002_add_processing_step_to_recordings" in lines
    lines.clear()
    assert migrate(db, log=lines.append) == []
    assert lines == [f"database is up to date (at {len(discover()):04d})"]
    assert pending(db) == []
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


# --- a database made by the previous runner ---------------------------------------


def _migrate_with_previous_runner(db: Database, target: int) -> None:
    """What whisperops' own runner (before peewee's Runner) left behind: the schema at
    ``target`` and its history table, (number, name without the number, applied_at)."""
    history = frozen_model(
        db,
        LEGACY_HISTORY_TABLE,
        number=IntegerField(primary_key=True),
        name=CharField(max_length=128),
        applied_at=DateTimeField(),
    )
    with db.atomic():
        db.create_tables([history], safe=True)
    migrator = SchemaMigrator.from_database(db)
    for migration in discover()[:target]:
        with db.atomic():
            migration.load().up(migrator, db)
            number, name = migration.name.split("_", 1)
            history.create(number=int(number), name=name, applied_at=datetime(2026, 2, 1, 12, 0))


def _fill_every_table() -> None:
    recording = Recording.create(
        file_path="/archive/done.wav",
        file_name="done.wav",
        sha256="d" * 64,
        size_bytes=4321,
        status=Status.DONE,
        processing_segments_count=3,
        attempt=2,
        duration_sec=61.5,
        sample_rate=8000,
        channels=2,
        codec="pcm_s16le",
        container_format="wav",
        bit_rate=256000,
        metadata_json='{"title": "call"}',
        parsed_fields_json='{"agent": "7"}',
        progress_ratio=1.0,
        analytics_json='{"talk_ratio": 0.5}',
        diarization_pending=True,
        created_at=datetime(2026, 1, 2, 3, 4, 5),
        updated_at=datetime(2026, 1, 2, 3, 9, 0),
        processing_started_at=datetime(2026, 1, 2, 3, 5, 0),
        processed_at=datetime(2026, 1, 2, 3, 9, 0),
    )
    Recording.create(
        file_path="/archive/queued.mp3",
        file_name="queued.mp3",
        sha256="q" * 64,
        size_bytes=99,
        resume_from_step=Step.DIARIZATION.value,
        created_at=datetime(2026, 1, 3, 0, 0, 0),
        updated_at=datetime(2026, 1, 3, 0, 0, 0),
    )
    transcript = Transcript.create(
        recording=recording,
        text="Hello? Hello? Oh, hello.",
        language="en",
        language_probability=0.98,
        model_name="tiny.en",
        created_at=datetime(2026, 1, 2, 3, 9, 0),
    )
    TranscriptSegment.create(
        transcript=transcript,
        position=0,
        start_sec=0.0,
        end_sec=1.2,
        text="Hello?",
        speaker="SPEAKER_00",
        words_json='[{"word": "Hello?", "start": 0.0, "end": 1.2}]',
    )
    StepRun.create(
        recording=recording,
        attempt=2,
        step=Step.TRANSCRIBE.value,
        started_at=datetime(2026, 1, 2, 3, 5, 0),
        finished_at=datetime(2026, 1, 2, 3, 8, 0),
        outcome=StepOutcome.OK,
        detail="3 segments",
    )
    StepTally.create(step=Step.TRANSCRIBE.value, le="300", runs=1, seconds=180.0, failures=0)


def _every_row() -> dict[str, list[dict]]:
    return {
        model._meta.table_name: list(model.select().order_by(model.id).dicts())
        for model in ALL_MODELS
    }


def test_database_of_the_previous_runner_upgrades_in_place_with_every_row(db: Database) -> None:
    latest = len(discover())
    _migrate_with_previous_runner(db, latest)
    _fill_every_table()
    before = _every_row()
    assert all(before.values())
    # Up to date before the upgrade too: workers started beside `migrate` need not wait.
    assert pending(db) == []

    lines: list[str] = []
    assert migrate(db, log=lines.append) == []

    assert lines == [
        f"history of {latest} migration(s) moved from {LEGACY_HISTORY_TABLE} to {HISTORY_TABLE}",
        f"database is up to date (at {latest:04d})",
    ]
    assert _every_row() == before
    assert pending(db) == []
    assert not db.table_exists(LEGACY_HISTORY_TABLE)
    recorded = db.execute_sql(f"SELECT name, applied FROM {HISTORY_TABLE} ORDER BY name")
    assert [(name, str(applied)[:16]) for name, applied in recorded] == [
        (m.name, "2026-02-01 12:00") for m in discover()
    ]
    lines.clear()
    migrate(db, log=lines.append)
    assert lines == [f"database is up to date (at {latest:04d})"]


@pytest.mark.parametrize("behind", [1, 3])
def test_database_of_the_previous_runner_behind_gets_the_rest(db: Database, behind: int) -> None:
    latest = len(discover())
    _migrate_with_previous_runner(db, latest - behind)
    assert [m.name for m in pending(db)] == [m.name for m in discover()[latest - behind :]]

    lines: list[str] = []
    applied = migrate(db, log=lines.append)

    assert applied == [m.name for m in discover()[latest - behind :]]
    assert lines[-1] == f"{behind} migration(s) applied; database is at {latest:04d}"
    assert pending(db) == []
    assert columns(db, "recordings") == set(Recording._meta.columns)


# --- 0014: the step tally, backfilled from the history ---------------------------


def test_0014_tallies_the_finished_history_so_counts_continue(db: Database) -> None:
    from whisperops.ops.step_tally import DURATION_BUCKETS, close_step_run, read_step_totals

    migrate(db, target=13, log=_quiet)
    recording = Recording.create(
        file_path="/archive/old.wav", file_name="old.wav", sha256="o" * 64, size_bytes=1
    )
    # Fractions of a second on both ends, some crossing a second.
    start = datetime(2026, 1, 2, 3, 0, 0, 700_000)
    history = [  # (step, seconds, outcome): bounds themselves fall in their own bucket
        (Step.TRANSCRIBE, 0.1, StepOutcome.OK),
        (Step.TRANSCRIBE, 0.100001, StepOutcome.OK),
        (Step.TRANSCRIBE, 10.0, StepOutcome.OK),
        (Step.TRANSCRIBE, 10.5, StepOutcome.FAILED),
        (Step.TRANSCRIBE, 7200.0, StepOutcome.OK),
        (Step.DIARIZATION, 3.0, StepOutcome.SKIPPED),
        (Step.ANALYTICS, 0.0, StepOutcome.FAILED),
    ]
    for step, seconds, outcome in history:
        StepRun.create(
            recording=recording,
            attempt=1,
            step=step.value,
            started_at=start,
            finished_at=start + timedelta(seconds=seconds),
            outcome=outcome,
        )
    still_open = StepRun.create(
        recording=recording, attempt=2, step=Step.TRANSCRIBE.value, started_at=start
    )

    assert migrate(db, log=_quiet) == ["0014_create_step_tally"]

    totals = read_step_totals()
    assert set(totals) == {"transcribe", "analytics"}  # skipped runs are not counted
    transcribe = dict(totals["transcribe"].buckets)
    cumulative = [transcribe[le] for le in ("0.1", "0.5", "10", "30", "3600", "+Inf")]
    assert cumulative == [1, 2, 3, 4, 4, 5]
    assert totals["transcribe"].seconds == pytest.approx(0.1 + 0.100001 + 10.0 + 10.5 + 7200.0)
    assert totals["transcribe"].failures == 1
    assert dict(totals["analytics"].buckets)["0.1"] == 1 and totals["analytics"].failures == 1
    # Counts continue: a run closed after the upgrade adds to the backfilled ones.
    assert close_step_run(
        still_open.id, still_open.step, start, start + timedelta(seconds=20), StepOutcome.OK
    )
    assert dict(read_step_totals()["transcribe"].buckets)["+Inf"] == 6
    # The migration's frozen bounds are the live ones (changing them needs a re-tally).
    frozen = next(m for m in discover() if m.name == "0014_create_step_tally").load().BOUNDS
    assert [bound for _label, bound in frozen] == list(DURATION_BUCKETS[:-1])
