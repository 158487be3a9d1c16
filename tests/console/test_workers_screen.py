"""The workers view (`w`): rows from RQ's registry, flags, back, and into a recording.

Regenerate the snapshots after an intended change:
pytest tests/console/test_workers_screen.py --snapshot-update
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from textual.widgets import DataTable, Static

from tests.console.conftest import NOW, frozen_now
from tests.console.test_console import make_app, wait_for
from tests.fleet import register_worker, running_job
from whisperops.config import Settings
from whisperops.console.app import build_app
from whisperops.console.screens.detail import DetailScreen
from whisperops.console.screens.workers import WorkersScreen
from whisperops.jobs.names import MAINTENANCE_QUEUE, TRANSCRIBE_QUEUE
from whisperops.models import Recording

SIZES = [(80, 24), (160, 48)]
NAMES = ["transcribe-a", "transcribe-b", "transcribe-c", "maintenance"]


@pytest.fixture
def fleet(console_settings: Settings, recordings: dict[str, int], redis: Redis) -> None:
    """Busy and healthy, busy with a stale heartbeat, busy on a recording that failed
    meanwhile, an idle maintenance worker; and another application's worker."""

    def job(name: str):
        return running_job(redis, Recording.get_by_id(recordings[name]), console_settings, 1)

    born = NOW - timedelta(hours=3, minutes=12)
    register_worker(
        redis, "transcribe-a", TRANSCRIBE_QUEUE, "farm-01", 4101, born,
        NOW - timedelta(seconds=10), job("transcribing"), done=12, failed=1,
    )  # fmt: skip
    register_worker(
        redis, "transcribe-b", TRANSCRIBE_QUEUE, "farm-02", 4102, born,
        NOW - timedelta(minutes=5), job("diarizing"), done=3,
    )  # fmt: skip
    register_worker(
        redis, "transcribe-c", TRANSCRIBE_QUEUE, "farm-03", 4103, born,
        NOW - timedelta(seconds=20), job("failed"),
    )  # fmt: skip
    register_worker(
        redis, "maintenance", MAINTENANCE_QUEUE, "farm-01", 4200, born,
        NOW - timedelta(minutes=2), done=40,
    )  # fmt: skip
    register_worker(redis, "mailer", "emails", "web-01", 999, born, NOW - timedelta(hours=1))


def rows(screen: WorkersScreen) -> list[str]:
    return [row.key.value for row in screen.query_one(DataTable).ordered_rows]


def cell(screen: WorkersScreen, name: str, column: str) -> str:
    return screen.query_one(DataTable).get_cell(name, column).plain


async def test_w_lists_our_workers_and_enter_opens_the_recording(
    console_settings: Settings, recordings: dict[str, int], fleet
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        # The mailer app's worker shares the Redis but is not counted.
        await wait_for(pilot, lambda: "workers 4" in str(app.query_one("#status-bar").render()))
        main = app.screen
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkersScreen))
        screen = app.screen
        await wait_for(pilot, lambda: rows(screen) == NAMES)
        assert cell(screen, "transcribe-a", "recording").startswith(
            f"#{recordings['transcribing']}"
        )
        assert cell(screen, "transcribe-a", "est") == "41%"
        assert cell(screen, "transcribe-a", "flags") == ""
        assert cell(screen, "transcribe-b", "flags") == "stale heartbeat"
        assert cell(screen, "transcribe-c", "flags") == "attempt moved on"
        assert cell(screen, "maintenance", "state") == "idle"
        table = screen.query_one(DataTable)
        assert str(table.get_cell("transcribe-b", "name").style) == "bold red"
        assert str(table.get_cell("transcribe-a", "name").style) == ""
        # At 80 columns the reasons are above the table too, not only in its last column.
        summary = str(screen.query_one("#workers-summary", Static).render())
        assert "transcribe-b: stale heartbeat" in summary
        assert "transcribe-c: attempt moved on" in summary

        await pilot.press("r")  # the recordings table's key does nothing behind this screen
        await pilot.pause(0.1)
        assert app.screen is screen

        await pilot.press("enter")  # transcribe-a is on the transcribing recording
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.recording_id == recordings["transcribing"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)

        await pilot.press("down", "down", "down", "enter")  # the idle maintenance worker
        await pilot.pause(0.1)
        assert app.screen is screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main)


async def test_the_view_refreshes_and_keeps_the_cursor(
    console_settings: Settings, recordings: dict[str, int], fleet, redis: Redis
) -> None:
    app = build_app(console_settings, refresh_sec=0.2, now=frozen_now)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkersScreen))
        screen = app.screen
        await wait_for(pilot, lambda: rows(screen) == NAMES)
        await pilot.press("down")
        # The stale worker comes back to life: its flag clears at the next refresh.
        redis.hset("rq:worker:transcribe-b", "last_heartbeat", "2026-11-30T11:59:55.000000Z")
        await wait_for(pilot, lambda: cell(screen, "transcribe-b", "flags") == "")
        assert screen.selected_name() == "transcribe-b"
        # A worker that leaves the registry leaves the table.
        redis.srem("rq:workers:" + MAINTENANCE_QUEUE, "rq:worker:maintenance")
        await wait_for(pilot, lambda: rows(screen) == NAMES[:3])
        assert screen.selected_name() == "transcribe-b"


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_workers_screen(snap_compare, console_settings: Settings, fleet, size) -> None:
    app = build_app(console_settings, refresh_sec=3600, now=frozen_now)

    async def open_workers(pilot) -> None:
        await pilot.press("w")
        await wait_for(
            pilot, lambda: isinstance(app.screen, WorkersScreen) and rows(app.screen) == NAMES
        )
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=open_workers)


async def test_redis_down_is_said_above_the_table(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    def unreachable() -> Redis:
        return Redis(port=9, socket_connect_timeout=1)

    app = build_app(console_settings, refresh_sec=60, now=frozen_now, redis_factory=unreachable)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkersScreen))
        summary = app.screen.query_one("#workers-summary", Static)
        await wait_for(pilot, lambda: "Could not read the workers" in str(summary.render()))
        assert "Connection refused" in str(summary.render())
