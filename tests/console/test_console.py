"""Pilot tests of the operator console against a real SQLite DB and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from redis import Redis
from rq import Queue
from rq.job import Job
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.console.conftest import NOW, frozen_now
from whisperops.config import Settings
from whisperops.console.app import ConsoleApp, build_app
from whisperops.console.screens.detail import DetailScreen
from whisperops.console.screens.dialogs import ConfirmScreen, FailScreen
from whisperops.db import bind_database
from whisperops.jobs.names import TRANSCRIBE_QUEUE, job_id
from whisperops.models import Recording, Status


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await pilot.pause(0.05)


def table_ids(app: ConsoleApp) -> list[int]:
    return [int(row.key.value) for row in app.query_one(DataTable).ordered_rows]


def cell(app: ConsoleApp, recording_id: int, column: str) -> str:
    return app.query_one(DataTable).get_cell(str(recording_id), column).plain


def make_app(settings: Settings, refresh_sec: float = 60) -> ConsoleApp:
    return build_app(settings, refresh_sec=refresh_sec, now=frozen_now)


async def select(pilot: Pilot, app: ConsoleApp, recording_id: int) -> None:
    table = app.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(str(recording_id)))
    await pilot.pause()


async def test_table_shows_processing_first_with_step_progress_and_counts(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        ids = table_ids(app)
        assert ids[:2] == [recordings["diarizing"], recordings["transcribing"]]
        transcribing = recordings["transcribing"]
        assert cell(app, transcribing, "step") == "transcribe"
        # Stored 40% five seconds ago with the finish 4 minutes ahead: carried forward, 41%.
        assert cell(app, transcribing, "est") == "██░░░ 41%"
        assert cell(app, transcribing, "in step") == "3m00s"
        assert cell(app, transcribing, "segs") == "45"
        assert cell(app, recordings["markup"], "file") == "[bold]weird[/bold] name.wav"
        bar = app.query_one("#status-bar", Static).render()
        assert "queued 2 · processing 2 · done 1 · failed 1" in str(bar)
        assert "workers 0" in str(bar)


async def test_resize_gives_file_names_room_at_once(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    app = make_app(console_settings, refresh_sec=3600)  # no second poll: the resize must do it
    long_name = "+15551234567_20260102-153000.wav"
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        assert cell(app, recordings["transcribing"], "file") != long_name
        await pilot.resize_terminal(160, 48)
        await wait_for(pilot, lambda: cell(app, recordings["transcribing"], "file") == long_name)
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: cell(app, recordings["transcribing"], "file") != long_name)


async def test_requeue_flow_starts_the_job_at_once(
    console_settings: Settings, recordings: dict[str, int], redis: Redis
) -> None:
    failed = recordings["failed"]
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await select(pilot, app, failed)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: Recording.get_by_id(failed).status is Status.QUEUED)
        await wait_for(pilot, lambda: cell(app, failed, "status") == "queued")
        await wait_for(pilot, lambda: any("Requeued #" in n.message for n in app._notifications))
    row = Recording.get_by_id(failed)
    assert row.error_message is None and row.attempt == 2
    # Enqueued now, not at the next sweep, as the attempt the row holds (bumped once).
    assert Queue(TRANSCRIBE_QUEUE, connection=redis).job_ids == [job_id(failed, 2)]
    job = Job.fetch(job_id(failed, 2), connection=redis)
    assert job.args == (failed, 2)
    assert any(f"started as job {job_id(failed, 2)}" in n.message for n in app._notifications)


async def test_requeue_can_be_cancelled(
    console_settings: Settings, recordings: dict[str, int], redis: Redis
) -> None:
    failed = recordings["failed"]
    before = Recording.get_by_id(failed).__data__
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await select(pilot, app, failed)
        main = app.screen
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == f"Requeue #{failed} truncated.mp3?"
        assert app.screen_stack == [main, app.screen]
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is main)
        assert app.screen_stack == [main]
        assert cell(app, failed, "status") == "failed"
        assert not any("Requeued" in n.message for n in app._notifications)
    assert Recording.get_by_id(failed).__data__ == before
    assert Queue(TRANSCRIBE_QUEUE, connection=redis).count == 0


async def test_fail_flow_asks_for_reason(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    target = recordings["transcribing"]
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await select(pilot, app, target)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FailScreen))
        await pilot.press("enter")  # empty reason is refused
        assert isinstance(app.screen, FailScreen)
        await pilot.press(*"wrong language", "enter")
        await wait_for(pilot, lambda: Recording.get_by_id(target).status is Status.FAILED)
    row = Recording.get_by_id(target)
    assert row.error_message == (
        "Failed by operator in step transcribe (45 segments): wrong language"
    )
    assert row.attempt == 2  # the running job is fenced off


async def test_status_filter_keys(console_settings: Settings, recordings: dict[str, int]) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await pilot.press("4")
        await wait_for(pilot, lambda: table_ids(app) == [recordings["failed"]])
        await pilot.press("1")
        await wait_for(
            pilot,
            lambda: sorted(table_ids(app)) == sorted([recordings["queued"], recordings["markup"]]),
        )
        await pilot.press("0")
        await wait_for(pilot, lambda: len(table_ids(app)) == 6)


async def test_search_by_file_name(console_settings: Settings, recordings: dict[str, int]) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await pilot.press("slash", *"MEETING", "enter")
        await wait_for(pilot, lambda: table_ids(app) == [recordings["diarizing"]])
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: len(table_ids(app)) == 6)


async def test_detail_view_shows_history_transcript_and_error(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await select(pilot, app, recordings["done"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        body = app.screen.query_one("#detail-body", Static)
        await wait_for(pilot, lambda: "Steps:" in str(body.render()))
        text = str(body.render())
        assert "Recording #" in text and "call-0042.wav" in text
        assert "parsed      phone=0042" in text
        assert "diarization       skipped" in text
        assert "agent: Hello." in text and "customer: How can I help?" in text
        await pilot.press("escape")
        await select(pilot, app, recordings["failed"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        body = app.screen.query_one("#detail-body", Static)
        await wait_for(pilot, lambda: "error" in str(body.render()))
        assert "Step extract_metadata failed: truncated.mp3" in str(body.render())


async def test_done_recording_shows_its_diarization_failure(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    done = recordings["done"]
    bind_database(console_settings.database_url.get_secret_value())
    Recording.update(
        error_message="Step diarization failed: pyannote_model /models/x: no config.yaml there",
        diarization_pending=True,
    ).where(Recording.id == done).execute()
    app = make_app(console_settings)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        assert cell(app, done, "status") == "done"
        assert cell(app, done, "error").startswith("Step diarization failed: pyannote_model")
        await select(pilot, app, done)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        body = app.screen.query_one("#detail-body", Static)
        await wait_for(pilot, lambda: "Steps:" in str(body.render()))
        text = str(body.render())
        assert "error       Step diarization failed: pyannote_model" in text
        assert (
            f"diarization pending: see the diarization step below; `whisperops rediarize {done}`"
            in text
        )


async def test_refresh_picks_up_step_change_and_keeps_cursor(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    watched = recordings["queued"]
    app = make_app(console_settings, refresh_sec=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await select(pilot, app, watched)
        before = app.query_one(DataTable).cursor_row
        # The worker picks it up: processing rows sort first, so it moves up the table.
        Recording.update(
            status=Status.PROCESSING,
            processing_step="extract_metadata",
            processing_step_started_at=NOW - timedelta(seconds=4),
            updated_at=NOW,
        ).where(Recording.id == watched).execute()
        await wait_for(pilot, lambda: cell(app, watched, "step") == "extract_metadata")
        assert app.selected_key() == str(watched)
        assert app.query_one(DataTable).cursor_row < before
        assert cell(app, watched, "status") == "processing"


async def test_unreachable_database_shows_banner_and_keeps_polling(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    broken = console_settings.replace(
        database_url="postgresql://whisperops:secret-pw@127.0.0.1:1/nowhere"
    )
    app = build_app(broken, refresh_sec=0.2, now=frozen_now)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.query_one("#banner", Static)
        await wait_for(pilot, lambda: banner.display)
        text = str(banner.render())
        assert text.startswith("Database unreachable:")
        assert "retrying every 0.2s" in text
        assert "secret-pw" not in text
        first = app.generation
        await wait_for(pilot, lambda: app.generation > first + 2)  # still polling
        # The database comes back: the banner goes, the rows arrive.
        app.settings = console_settings
        bind_database(console_settings.database_url.get_secret_value())
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await wait_for(pilot, lambda: not banner.display)


async def test_unreachable_redis_is_a_banner_not_a_crash(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    def no_redis():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    app = build_app(console_settings, refresh_sec=60, now=frozen_now, redis_factory=no_redis)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        banner = app.query_one("#banner", Static)
        assert banner.display
        assert "Redis unreachable: Error 111" in str(banner.render())
