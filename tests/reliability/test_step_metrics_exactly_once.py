"""Every finished step run is served by the exporter exactly once, on SQLite and PostgreSQL.

The step histogram and failure counter are counted in the transaction that closes
a run (whisperops.ops.step_tally), so concurrent scrapes, closes committed late
with an earlier ``finished_at``, two closers racing on one run and an exporter
restart neither lose a run nor count one twice.
"""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

from redis import Redis

from tests.integration.test_metrics import close_run, samples, scrape
from whisperops.clock import db_now, utcnow
from whisperops.config import Settings
from whisperops.db import database_proxy, is_postgres
from whisperops.models import Recording, Status, Step, StepOutcome, StepRun
from whisperops.monitoring.metrics import WhisperopsCollector
from whisperops.ops.attempt import FencedRecording
from whisperops.ops.step_tally import close_step_run
from whisperops.ops.transitions import recover_stuck

WRITERS = 4
RUNS_PER_WRITER = 30
SCRAPERS = 4
STEPS = (Step.PARSE_METADATA, Step.TRANSCRIBE, Step.ANALYTICS)


def _processing(name: str, **fields) -> Recording:
    return Recording.create(
        file_path=f"/archive/{name}",
        file_name=name,
        sha256=name.encode().hex().ljust(64, "0")[:64],
        size_bytes=1,
        status=Status.PROCESSING,
        attempt=1,
        **fields,
    )


def served(collector: WhisperopsCollector) -> dict[str, tuple[float, float]]:
    """Per step: (runs counted, failures counted), from one scrape's exposition text."""
    found = samples(scrape(collector))
    assert found[("whisperops_database_up", ())] == 1
    steps = {dict(labels)["step"] for name, labels in found if name.startswith("whisperops_step_")}
    return {
        step: (
            found.get(("whisperops_step_duration_seconds_count", (("step", step),)), 0),
            found.get(("whisperops_step_failures_total", (("step", step),)), 0),
        )
        for step in steps
    }


def finished_in_history() -> dict[str, tuple[int, int]]:
    """Per step: (finished runs not skipped, failed runs), as step_history holds them."""
    counts: dict[str, list[int]] = {}
    for run in StepRun.select().where(
        StepRun.finished_at.is_null(False) & (StepRun.outcome != StepOutcome.SKIPPED)
    ):
        tally = counts.setdefault(run.step, [0, 0])
        tally[0] += 1
        tally[1] += run.outcome is StepOutcome.FAILED
    return {step: (runs, failed) for step, (runs, failed) in counts.items()}


def _in_thread(target, errors: list[BaseException]):
    """A thread that records what it raised and leaves no connection behind."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            database_proxy.close()

    return threading.Thread(target=run, daemon=True)


def test_concurrent_scrapes_while_runs_finish_count_each_once(
    rel_settings: Settings, redis: Redis
) -> None:
    """Workers close runs through their fence (each twice, as a retried close would)
    while scrapers scrape one shared collector and collectors of their own."""
    recordings = [_processing(f"writer-{n}.wav").id for n in range(WRITERS)]
    shared = WhisperopsCollector(lambda: redis)
    done = threading.Event()
    errors: list[BaseException] = []
    last_seen: list[dict[str, tuple[float, float]]] = []

    def write(recording_id: int) -> None:
        fence = FencedRecording(recording_id, 1)
        for n in range(RUNS_PER_WRITER):
            run = fence.begin_step(STEPS[n % len(STEPS)])
            outcome = StepOutcome.FAILED if n % 4 == 0 else StepOutcome.OK
            fence.end_step(run, outcome, "first close")
            fence.end_step(run, StepOutcome.OK, "a repeated close counts nothing")

    def watch(collector: WhisperopsCollector) -> None:
        seen: dict[str, tuple[float, float]] = {}
        while True:
            finishing = done.is_set()
            now = served(collector)
            for step, (runs, failures) in seen.items():  # counters never go back
                assert now[step][0] >= runs and now[step][1] >= failures, (step, seen, now)
            seen = now
            if finishing:
                break
        last_seen.append(seen)

    writers = [_in_thread(lambda r=r: write(r), errors) for r in recordings]
    scrapers = [
        _in_thread(lambda c=c: watch(c), errors)
        for c in [shared] * (SCRAPERS // 2)
        + [WhisperopsCollector(lambda: redis) for _ in range(SCRAPERS - SCRAPERS // 2)]
    ]
    for thread in scrapers + writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=120)
    done.set()
    for thread in scrapers:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(last_seen) == SCRAPERS

    expected = {
        step.value: (
            len(range(index, RUNS_PER_WRITER, len(STEPS))) * WRITERS,
            sum(1 for n in range(index, RUNS_PER_WRITER, len(STEPS)) if n % 4 == 0) * WRITERS,
        )
        for index, step in enumerate(STEPS)
    }
    assert finished_in_history() == expected
    for seen in [*last_seen, served(WhisperopsCollector(lambda: redis))]:
        assert seen == expected  # exactly, not at least


def test_a_late_commit_with_an_earlier_finished_at_is_counted_once(
    rel_settings: Settings, redis: Redis
) -> None:
    """A close held open in its transaction (a slow worker, a skewed clock: finished an
    hour before what was already scraped) is counted by the first scrape after it
    commits, and by no scrape before."""
    recording = _processing("late.wav").id
    collector = WhisperopsCollector(lambda: redis)
    now = db_now()
    close_run(recording, "transcribe", now, seconds=30)
    assert served(collector)["transcribe"] == (1, 0)

    late = StepRun.create(
        recording=recording, attempt=1, step="transcribe", started_at=now - timedelta(hours=2)
    )
    closed, release, errors = threading.Event(), threading.Event(), []

    def slow_close() -> None:
        with database_proxy.atomic():
            finished_at = now - timedelta(hours=1)
            assert close_step_run(
                late.id, "transcribe", late.started_at, finished_at, StepOutcome.FAILED
            )
            closed.set()
            assert release.wait(timeout=30)

    slow = _in_thread(slow_close, errors)
    slow.start()
    assert closed.wait(timeout=30), errors
    if is_postgres(database_proxy):
        # Another run commits, later, while the slow one is still open (SQLite has one
        # writer at a time: this would wait for the slow transaction).
        close_run(recording, "transcribe", db_now(), seconds=5)
        assert served(collector)["transcribe"] == (2, 0)
    before = served(collector)["transcribe"]
    assert before == (2 if is_postgres(database_proxy) else 1, 0)  # not the open one
    release.set()
    slow.join(timeout=30)
    assert not errors, errors

    after = served(collector)["transcribe"]
    assert after == (before[0] + 1, 1)
    assert served(collector)["transcribe"] == after  # and counted once only
    assert finished_in_history()["transcribe"] == after


def test_worker_and_sweep_closing_one_run_count_it_once(
    rel_settings: Settings, redis: Redis
) -> None:
    """The worker's end_step and the sweep's recovery race on each open run: one of them
    closes it, and only that close is counted, with its outcome."""
    for n in range(20):
        _race_worker_and_sweep(f"race-{n}.wav")
    history = finished_in_history()
    assert history["transcribe"][0] == 20
    assert served(WhisperopsCollector(lambda: redis))["transcribe"] == history["transcribe"]


def _race_worker_and_sweep(name: str) -> None:
    started = utcnow() - timedelta(minutes=30)
    recording = _processing(
        name, processing_step="transcribe", processing_step_started_at=started, updated_at=started
    )
    run = StepRun.create(recording=recording, attempt=1, step="transcribe", started_at=started)
    gate, errors = threading.Barrier(2), []

    def worker() -> None:
        gate.wait()
        FencedRecording(recording.id, 1).end_step(run, StepOutcome.OK)

    def sweep() -> None:
        gate.wait()
        now = utcnow()
        recover_stuck(recording, now, now - timedelta(minutes=15), give_up=False)

    threads = [_in_thread(worker, errors), _in_thread(sweep, errors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors


def test_an_exporter_restart_neither_loses_nor_doubles_counts(
    rel_settings: Settings, redis: Redis
) -> None:
    recording = _processing("restart.wav").id
    now = db_now()
    steps = itertools.cycle(["parse_metadata", "transcribe"])
    for n in range(6):
        outcome = StepOutcome.FAILED if n == 0 else StepOutcome.OK
        close_run(recording, next(steps), now - timedelta(minutes=n), seconds=n, outcome=outcome)
    before = served(WhisperopsCollector(lambda: redis))
    assert before == {"parse_metadata": (3, 1), "transcribe": (3, 0)}

    restarted = WhisperopsCollector(lambda: redis)  # what a new exporter process builds
    assert served(restarted) == before
    close_run(recording, "transcribe", now, seconds=1)  # finished while it was down
    assert served(restarted) == {"parse_metadata": (3, 1), "transcribe": (4, 0)}
    assert served(restarted) == finished_in_history()
