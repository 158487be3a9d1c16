"""The console's ``p``: pause intake after a confirmation, show it, and resume it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from textual.widgets import DataTable, Label, Static

from tests.console.conftest import NOW, frozen_now
from tests.console.test_console import make_app, wait_for
from whisperops.config import Settings
from whisperops.console.app import ConsoleApp, build_app
from whisperops.console.screens.dialogs import ConfirmScreen
from whisperops.jobs.names import TRANSCRIBE_QUEUE
from whisperops.models import Recording, Status
from whisperops.ops import pause, read_intake


def status_bar(app: ConsoleApp) -> str:
    return str(app.query_one("#status-bar", Static).render())


def question(app: ConsoleApp) -> str:
    return str(app.screen.query_one(Label).render())


async def test_p_pauses_after_confirming_and_p_again_resumes(
    console_settings: Settings, recordings: dict[str, int], redis: Redis
) -> None:
    queue = Queue(TRANSCRIBE_QUEUE, connection=redis)
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        assert "PAUSED" not in status_bar(app)

        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert question(app).startswith("Pause intake? Nothing new is enqueued on any host")
        assert "the 0 waiting jobs are withdrawn" in question(app)
        await pilot.press("y")

        await wait_for(pilot, lambda: read_intake().paused)
        await wait_for(pilot, lambda: "INTAKE PAUSED since" in status_bar(app))
        await wait_for(pilot, lambda: any("Intake paused" in n.message for n in app._notifications))
        assert read_intake().changed_by in status_bar(app)
        assert queue.count == 0

        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert question(app).startswith("Resume intake (paused since ")
        await pilot.press("y")

        await wait_for(pilot, lambda: not read_intake().paused)
        await wait_for(pilot, lambda: "PAUSED" not in status_bar(app))
        await wait_for(
            pilot, lambda: any("Intake resumed by" in n.message for n in app._notifications)
        )
    # The two queued recordings went on the queue at once on resume.
    queued = [recordings["queued"], recordings["markup"]]
    assert sorted(job.args[0] for job in queue.get_jobs()) == sorted(queued)


async def test_p_can_be_cancelled(
    console_settings: Settings, recordings: dict[str, int], redis: Redis
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 6)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.2)
        assert "PAUSED" not in status_bar(app)
    assert read_intake().paused is False
    assert Recording.get_by_id(recordings["queued"]).status is Status.QUEUED
    assert Queue(TRANSCRIBE_QUEUE, connection=redis).count == 0


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_paused_console_asking_to_requeue_marked_rows(
    snap_compare, console_settings: Settings, recordings: dict[str, int], size
) -> None:
    """What an operator sees mid-maintenance: intake paused, two rows marked, the
    one confirmation a bulk requeue asks for."""
    pause("kernel update", now=NOW - timedelta(minutes=12), by="ops@farm-01")
    app = build_app(console_settings, refresh_sec=3600, now=frozen_now)

    async def mark_and_ask(pilot) -> None:
        table = app.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count >= 6 and "PAUSED" in status_bar(app))
        for name in ("done", "failed"):
            table.move_cursor(row=table.get_row_index(str(recordings[name])))
            await pilot.press("space")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=mark_and_ask)
