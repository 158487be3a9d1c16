"""The top bar's backlog line: the queued audio and its ETA, beside a paused intake."""

from __future__ import annotations

from redis import Redis
from textual.widgets import Static

from tests.console.test_console import wait_for
from tests.integration.test_status import LINE, fill_backlog, register_workers
from whisperops import ops
from whisperops.config import Settings
from whisperops.console.app import build_app


def make_app(settings: Settings):
    # The real clock: the pace is the work of the last minutes, which fill_backlog
    # writes at the real time.
    return build_app(settings, refresh_sec=60)


def bar(app) -> str:
    return str(app.query_one("#status-bar", Static).render())


async def test_top_bar_shows_the_backlog_and_its_eta(
    console_settings: Settings, redis: Redis
) -> None:
    fill_backlog()
    register_workers(redis, 2)
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "backlog" in bar(app))
        assert LINE.search(bar(app).replace("\n", " ")), bar(app)


async def test_backlog_and_paused_intake_share_a_line(
    console_settings: Settings, redis: Redis
) -> None:
    ops.pause("kernel update")
    app = make_app(console_settings)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: "INTAKE PAUSED" in bar(app))
        line = next(line for line in bar(app).splitlines() if "INTAKE PAUSED" in line)
        assert "no backlog │ " in line or " │ no backlog" in line
