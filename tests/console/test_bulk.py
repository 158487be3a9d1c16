"""Pilot tests of marks and bulk actions, and of stuck-soon rows, on real SQLite and Redis."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from textual.widgets import DataTable, Static

from tests.console.conftest import NOW, frozen_now
from tests.console.test_console import cell, make_app, select, wait_for
from whisperops.config import Settings
from whisperops.console.app import ConsoleApp, build_app
from whisperops.console.rows import WARNING_STYLE
from whisperops.console.screens.detail import DetailScreen
from whisperops.console.screens.dialogs import ConfirmScreen, FailScreen
from whisperops.jobs.names import TRANSCRIBE_QUEUE, job_id
from whisperops.models import Recording, Status

SIZES = [(80, 24), (160, 48)]


def status_bar(app: ConsoleApp) -> str:
    return str(app.query_one("#status-bar", Static).render())


def notified(app: ConsoleApp, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


def add_failed(count: int) -> list[int]:
    """``count`` recordings that failed in transcribe, older than every fixture row."""
    rows = [
        {
            "file_path": f"/archive/inbox/night-{n:04d}.wav",
            "file_name": f"night-{n:04d}.wav",
            "sha256": hashlib.sha256(f"night-{n}".encode()).hexdigest(),
            "size_bytes": 1000,
            "status": Status.FAILED.value,
            "attempt": 1,
            "error_message": "Step transcribe (0 segments) failed: CUDA out of memory",
            "created_at": NOW - timedelta(days=1),
            "updated_at": NOW - timedelta(hours=10, seconds=n),
        }
        for n in range(count)
    ]
    Recording.insert_many(rows).execute()
    return [r.id for r in Recording.select().where(Recording.file_name.startswith("night-"))]


async def test_space_marks_and_unmarks_the_row_under_the_cursor(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    app = make_app(console_settings)
    queued = recordings["queued"]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await select(pilot, app, queued)
        await pilot.press("space")
        assert cell(app, queued, "id") == f"● {queued}"
        assert "marked 1" in status_bar(app)
        await pilot.press("ctrl+r")  # marks survive a refresh
        await pilot.pause(0.2)
        assert cell(app, queued, "id") == f"● {queued}"
        await pilot.press("space")
        assert cell(app, queued, "id") == str(queued)
        assert "marked" not in status_bar(app)


async def test_a_marks_every_matching_recording_and_u_clears(
    console_settings: Settings, recordings: dict[str, int], redis: Redis
) -> None:
    night = add_failed(250)  # more than the 200 rows the table shows
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: "failed 200/251" in status_bar(app))
        await pilot.press("a")
        await wait_for(pilot, lambda: "marked 251" in status_bar(app))
        assert notified(app, "marked 251 matching recordings")
        shown = {int(row.key.value) for row in app.query_one(DataTable).ordered_rows}
        assert set(night) - shown  # rows not shown are marked too
        assert set(night) | {recordings["failed"]} == set(app.marks.seen)
        await pilot.press("u")
        assert "marked" not in status_bar(app)
        assert cell(app, night[0], "id") == str(night[0])

        # Filter and search narrow `a`: failed + 'night-000' is ten recordings.
        await pilot.press("slash", *"night-000", "enter")
        await wait_for(pilot, lambda: "failed ~'night-000' 10/10" in status_bar(app))
        await pilot.press("a")
        await wait_for(pilot, lambda: "marked 10" in status_bar(app))

        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Requeue 10 marked recordings?"
        await pilot.press("y")
        await wait_for(pilot, lambda: notified(app, "requeued 10: started 10 jobs"))
        assert "marked" not in status_bar(app)
    assert Recording.select().where(Recording.status == Status.QUEUED).count() == 12
    requeued = [i for i in night if Recording.get_by_id(i).status is Status.QUEUED]
    assert len(requeued) == 10
    queue = Queue(TRANSCRIBE_QUEUE, connection=redis)
    assert sorted(queue.job_ids) == sorted(job_id(i, 2) for i in requeued)


async def test_a_on_the_unfiltered_table_marks_nothing_and_says_why(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await pilot.press("a")
        await wait_for(pilot, lambda: notified(app, "Mark all needs a filter first"))
        assert not app.marks and "marked" not in status_bar(app)


async def test_cancelled_bulk_requeue_changes_nothing(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        for name in ("failed", "done"):
            await select(pilot, app, recordings[name])
            await pilot.press("space")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Requeue 2 marked recordings?"
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert "marked 2" in status_bar(app)  # kept for another try
        # On the detail screen, r acts on its recording, not on the marks.
        await select(pilot, app, recordings["failed"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == f"Requeue #{recordings['failed']} truncated.mp3?"
        await pilot.press("n", "escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
    assert Recording.get_by_id(recordings["failed"]).status is Status.FAILED
    assert Recording.get_by_id(recordings["done"]).status is Status.DONE


async def test_bulk_requeue_reports_rows_that_moved_on_meanwhile(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        for name in ("failed", "done", "queued", "diarizing"):
            await select(pilot, app, recordings[name])
            await pilot.press("space")
        # While the operator looks: the worker finishes the diarizing recording.
        Recording.update(status=Status.DONE, processing_step=None).where(
            Recording.id == recordings["diarizing"]
        ).execute()
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        outcome = "requeued 2; 1 had moved on meanwhile; 1 skipped (already queued): started 2 jobs"
        await wait_for(pilot, lambda: notified(app, outcome))
    assert Recording.get_by_id(recordings["failed"]).status is Status.QUEUED
    assert Recording.get_by_id(recordings["done"]).status is Status.QUEUED
    diarizing = Recording.get_by_id(recordings["diarizing"])
    assert (diarizing.status, diarizing.attempt) == (Status.DONE, 1)


async def test_f_fails_the_marked_recordings_with_one_reason(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        for name in ("queued", "markup", "transcribing"):
            await select(pilot, app, recordings[name])
            await pilot.press("space")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FailScreen))
        assert app.screen.question == "Fail 3 marked recordings? Why?"
        await pilot.press(*"wrong batch", "enter")
        await wait_for(pilot, lambda: notified(app, "failed 3"))
        await wait_for(pilot, lambda: cell(app, recordings["queued"], "status") == "failed")
        assert "marked" not in status_bar(app)
    assert (
        Recording.get_by_id(recordings["queued"]).error_message == "Failed by operator: wrong batch"
    )
    assert Recording.get_by_id(recordings["transcribing"]).error_message == (
        "Failed by operator in step transcribe (45 segments): wrong batch"
    )


def add_silent(minutes: int, name: str) -> int:
    """A processing recording whose worker has not updated it for ``minutes``."""
    return Recording.create(
        file_path=f"/archive/inbox/{name}",
        file_name=name,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        size_bytes=1000,
        status=Status.PROCESSING,
        attempt=1,
        processing_step="diarization",
        processing_step_started_at=NOW - timedelta(minutes=minutes + 1),
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW - timedelta(minutes=minutes),
    ).id


async def test_stuck_soon_rows_say_when_the_sweep_takes_them(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    settings = console_settings.replace(stuck_processing_threshold_sec=600)
    quiet = add_silent(6, "quiet.wav")  # past half of 10 minutes
    overdue = add_silent(12, "overdue.wav")
    app = make_app(settings)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 8)
        assert cell(app, quiet, "error") == "no update 6m · sweep in 4m"
        assert cell(app, overdue, "error") == "no update 12m · sweep due"
        assert cell(app, recordings["transcribing"], "error") == ""  # updated 5s ago
        table = app.query_one(DataTable)
        assert table.get_cell(str(quiet), "error").style == WARNING_STYLE
        assert table.get_cell(str(quiet), "updated").style == WARNING_STYLE
        assert table.get_cell(str(recordings["transcribing"]), "updated").style != WARNING_STYLE
        assert "2 stuck soon" in status_bar(app)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_main_screen_with_marks_and_a_stuck_soon_row(
    snap_compare, console_settings: Settings, recordings, size
) -> None:
    add_silent(10, "silent-worker.wav")  # default threshold 15m: sweep in 5m
    app = build_app(console_settings, refresh_sec=3600, now=frozen_now)

    async def mark_two(pilot) -> None:
        table = app.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count >= 7)
        for name in ("done", "failed"):
            table.move_cursor(row=table.get_row_index(str(recordings[name])))
            await pilot.press("space")
        table.move_cursor(row=0)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=mark_two)
