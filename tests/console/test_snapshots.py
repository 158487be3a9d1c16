"""Snapshots of the main and detail screens at 80x24 and 160x48, fixed data, frozen time.

Regenerate after an intended change: pytest tests/console --snapshot-update
"""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.console.conftest import frozen_now
from tests.console.test_console import wait_for
from whisperops.config import Settings
from whisperops.console.app import build_app
from whisperops.console.screens.detail import DetailScreen

SIZES = [(80, 24), (160, 48)]


async def _loaded(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.query_one(DataTable).row_count >= 6)
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_main_screen(snap_compare, console_settings: Settings, recordings, size) -> None:
    app = build_app(console_settings, refresh_sec=3600, now=frozen_now)
    assert snap_compare(app, terminal_size=size, run_before=_loaded)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_detail_screen(snap_compare, console_settings: Settings, recordings, size) -> None:
    app = build_app(console_settings, refresh_sec=3600, now=frozen_now)

    async def open_done(pilot) -> None:
        await _loaded(pilot)
        table = app.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(recordings["done"])))
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, DetailScreen)
                and "Steps:" in str(app.screen.query_one("#detail-body").render())
            ),
        )
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=open_done)
