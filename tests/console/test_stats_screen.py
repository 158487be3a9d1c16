"""The stats screen (t): windows, step durations, failure groups and the jump to the table.

Pilot tests and snapshots against a real SQLite DB, with a frozen clock.
Regenerate the snapshots after an intended change: pytest tests/console --snapshot-update
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from textual.widgets import DataTable, Static

from tests.console.conftest import NOW
from tests.console.test_console import make_app, table_ids, wait_for
from whisperops.config import Settings
from whisperops.console.screens.stats import StatsScreen
from whisperops.models import Recording, Status, Step, StepOutcome, StepRun

SIZES = [(80, 24), (160, 48)]
STEP_SECONDS = {
    Step.PARSE_METADATA: 0.01,
    Step.EXTRACT_METADATA: 0.2,
    Step.TRANSCRIBE: 300.0,
    Step.DIARIZATION: 40.0,
    Step.ANALYTICS: 1.5,
    Step.STORE_RESULTS: 0.5,
}


def _recording(name: str, status: Status, age: timedelta, **fields) -> Recording:
    return Recording.create(
        file_path=f"/archive/stats/{name}",
        file_name=name,
        sha256=hashlib.sha256(f"stats {name}".encode()).hexdigest(),
        size_bytes=1000,
        status=status,
        attempt=1,
        created_at=NOW - age - timedelta(hours=1),
        updated_at=NOW - age,
        **fields,
    )


@pytest.fixture
def history(recordings: dict[str, int]) -> dict[str, list[int]]:
    """Besides the console's six: done recordings over ten days with their step runs, and
    failures of one kind in three files (one of them older than a day)."""
    done = []
    for number, age in enumerate(timedelta(hours=hours) for hours in (0.5, 3, 5, 48, 240)):
        recording = _recording(f"done-{number}.wav", Status.DONE, age, processed_at=NOW - age)
        finished = NOW - age
        for step in reversed(Step):
            seconds = STEP_SECONDS[step] * (1 + number / 10)
            StepRun.create(
                recording=recording,
                attempt=1,
                step=step.value,
                started_at=finished - timedelta(seconds=seconds),
                finished_at=finished,
                outcome=StepOutcome.OK,
            )
            finished -= timedelta(seconds=seconds)
        done.append(recording.id)
    oom = [
        _recording(
            name,
            Status.FAILED,
            age,
            error_message=f"Step transcribe ({segments} segments) failed: {name}: "
            f"CUDA out of memory, tried to allocate {mib} MiB",
        ).id
        for name, segments, mib, age in (
            ("sales-0193.wav", 12, 20, timedelta(minutes=20)),
            ("support 7781.mp3", 310, 512, timedelta(hours=2)),
            ("old-call.wav", 40, 64, timedelta(days=3)),
        )
    ]
    return {"done": done, "oom": oom}


def _cells(app, table_id: str) -> list[list[str]]:
    table = app.screen.query_one(table_id, DataTable)
    return [[str(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


def _text(app, widget_id: str) -> str:
    return str(app.screen.query_one(widget_id, Static).render())


async def _open_stats(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.query_one(DataTable).row_count > 0)
    await pilot.press("t")
    await wait_for(pilot, lambda: isinstance(app.screen, StatsScreen))
    await wait_for(pilot, lambda: "Done:" in _text(app, "#stats-done"))
    await pilot.pause(0.1)


async def test_t_opens_stats_and_window_keys_change_the_numbers(
    console_settings: Settings, history: dict[str, list[int]]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_stats(pilot)
        # The last 24 hours: the console's done call (10 min ago) and three of ours.
        assert "Done: 4 since 2026-11-29 12:00 UTC, per 1 h" in _text(app, "#stats-done")
        steps = {row[0]: row for row in _cells(app, "#stats-steps")}
        assert list(steps) == [step.value for step in Step]
        assert steps["transcribe"][1] == "4"
        failures = _cells(app, "#stats-failures")
        assert [(row[0], row[1]) for row in failures] == [
            ("transcribe", "2"),
            ("extract_metadata", "1"),
        ]
        assert "CUDA out of memory" in failures[0][2] and "sales-0193" not in failures[0][2]
        assert failures[0][3].startswith(f"#{history['oom'][0]} sales-0193.wav 20m")

        await pilot.press("h")
        await wait_for(pilot, lambda: "per 5 min" in _text(app, "#stats-done"))
        assert "Done: 2 since 2026-11-30 11:00 UTC" in _text(app, "#stats-done")
        assert _cells(app, "#stats-steps")[2][:2] == ["transcribe", "2"]
        assert [(row[0], row[1]) for row in _cells(app, "#stats-failures")] == [
            ("transcribe", "1"),
            ("extract_metadata", "1"),
        ]

        await pilot.press("a")
        await wait_for(pilot, lambda: "per 6 h" in _text(app, "#stats-done"))
        assert "Done: 6 since" in _text(app, "#stats-done")
        assert _cells(app, "#stats-steps")[2][:2] == ["transcribe", "6"]
        assert _cells(app, "#stats-failures")[0][:2] == ["transcribe", "3"]


async def test_enter_on_a_group_shows_exactly_its_recordings_and_escape_clears(
    console_settings: Settings, recordings: dict[str, int], history: dict[str, list[int]]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(table_ids(app)) == 14)
        main = app.screen
        await _open_stats(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: "per 6 h" in _text(app, "#stats-done"))
        await pilot.press("enter")

        await wait_for(pilot, lambda: app.screen is main)
        await wait_for(pilot, lambda: sorted(table_ids(app)) == sorted(history["oom"]))
        status = str(app.query_one("#status-bar", Static).render())
        assert "│ failed in transcribe: <file>: CUDA out … (esc: all) 3/3 │" in status

        await pilot.press("escape")
        await wait_for(pilot, lambda: len(table_ids(app)) == 14)

        # The second group, then 0 (all statuses) clears it too.
        await _open_stats(pilot)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: table_ids(app) == [recordings["failed"]])
        await pilot.press("0")
        await wait_for(pilot, lambda: len(table_ids(app)) == 14)


async def test_escape_leaves_stats_and_table_keys_do_not_act_behind_it(
    console_settings: Settings, recordings: dict[str, int], history: dict[str, list[int]]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(table_ids(app)) == 14)
        main = app.screen
        await _open_stats(pilot)
        await pilot.press("r", "f", "ctrl+r")
        assert isinstance(app.screen, StatsScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main)
        assert len(table_ids(app)) == 14
    assert Recording.get_by_id(recordings["failed"]).status is Status.FAILED


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_stats_screen_snapshot(
    snap_compare, console_settings: Settings, history: dict[str, list[int]], size
) -> None:
    app = make_app(console_settings, refresh_sec=3600)
    assert snap_compare(app, terminal_size=size, run_before=_open_stats)
