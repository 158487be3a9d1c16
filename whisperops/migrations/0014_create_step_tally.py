"""The step tally: cumulative runs, seconds and failures per (step, duration bucket).

The exporter used to count step runs from ``step_history`` by a ``finished_at``
watermark, which counted a run twice under concurrent scrapes and never counted
one whose close committed after a scrape with an earlier ``finished_at``. From
here on the transaction that closes a run adds it to these rows
(whisperops.ops.step_tally), and the exporter serves them as they are.

The history finished so far is tallied here, so counts continue across the
upgrade; skipped runs are not counted, as before. It is one GROUP BY over the
history: 5.6 s on PostgreSQL and 10.3 s on SQLite for a million runs (on a shared
2-core machine). Apply it with the workers stopped: a run closed by a worker of the
earlier version while it runs would not be counted.
"""

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    Database,
    DoubleField,
    PostgresqlDatabase,
)
from playhouse.migrate import SchemaMigrator, migrate

from whisperops.migrations import frozen_model

# The Prometheus bounds as whisperops.ops.step_tally.DURATION_BUCKETS defines them,
# frozen here: (le label, upper bound in seconds, inclusive); '+Inf' takes the rest.
BOUNDS = (
    ("0.1", 0.1),
    ("0.5", 0.5),
    ("1", 1),
    ("2.5", 2.5),
    ("5", 5),
    ("10", 10),
    ("30", 30),
    ("60", 60),
    ("120", 120),
    ("300", 300),
    ("600", 600),
    ("1800", 1800),
    ("3600", 3600),
)


def up(migrator: SchemaMigrator, db: Database) -> None:
    tally = frozen_model(
        db,
        "step_tally",
        id=AutoField(),
        step=CharField(max_length=32),
        le=CharField(max_length=16),
        runs=BigIntegerField(default=0),
        # Double precision: the sum grows with the history (REAL is 4 bytes on PostgreSQL).
        seconds=DoubleField(default=0.0),
        failures=BigIntegerField(default=0),
    )
    db.create_tables([tally])
    migrate(migrator.add_index("step_tally", ("step", "le"), unique=True))
    _backfill(db)


def _backfill(db: Database) -> None:
    # Seconds from the timestamps, as the live code computes them, not from duration_sec:
    # that column is REAL (4 bytes) on PostgreSQL, and older SQLite rows went through
    # julianday(), either of which can move a run lying on a bound into the next bucket.
    if isinstance(db, PostgresqlDatabase):
        seconds = "GREATEST(0, EXTRACT(EPOCH FROM (finished_at - started_at)))"
        whens = " ".join(f"WHEN seconds <= {bound} THEN '{label}'" for label, bound in BOUNDS)
        bucket = f"CASE {whens} ELSE '+Inf' END"
    else:
        # Whole microseconds from the stored text ('YYYY-MM-DD HH:MM:SS[.ffffff]'), then
        # one division, rounded as Python's timedelta.total_seconds() rounds it.
        micros = (
            "((strftime('%s', substr(finished_at, 1, 19)) "
            "- strftime('%s', substr(started_at, 1, 19))) * 1000000 "
            "+ CAST(substr(finished_at || '.000000', 21, 6) AS INTEGER) "
            "- CAST(substr(started_at || '.000000', 21, 6) AS INTEGER))"
        )
        seconds = f"MAX(0, {micros}) / 1000000.0"
        # A function, not a CASE: SQLite inlines the seconds into every WHEN (15 s
        # instead of 2 s for 300,000 runs).
        db.connection().create_function("whisperops_0014_le", 1, _label, deterministic=True)
        bucket = "whisperops_0014_le(seconds)"
    db.execute_sql(
        "INSERT INTO step_tally (step, le, runs, seconds, failures) "
        "SELECT step, le, COUNT(*), SUM(seconds), "
        "SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) "
        f"FROM (SELECT step, {bucket} AS le, seconds, outcome FROM "
        f"(SELECT step, {seconds} AS seconds, outcome FROM step_history "
        "WHERE finished_at IS NOT NULL AND (outcome IS NULL OR outcome <> 'skipped')) AS runs"
        ") AS bucketed GROUP BY step, le"
    )


def _label(seconds: float) -> str:
    return next((label for label, bound in BOUNDS if seconds <= bound), "+Inf")
