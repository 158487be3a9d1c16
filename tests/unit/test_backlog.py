"""The backlog's arithmetic: the pace, the schedule onto workers, the line shown."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from whisperops.backlog import Backlog, _finish_time
from whisperops.pace import Attempt, Pace, decoded_so_far, pace_over

NOW = datetime(2026, 12, 1, 12, 0, 0)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_the_pace_counts_finished_and_running_work_in_the_window() -> None:
    # Three 30-s calls done in 10 s each, and a 10-min file half decoded in 60 s:
    # from the calls alone the pace would be 3; with the file's work it is 4.3.
    attempts = [Attempt(30, ago(100), ago(90)), Attempt(30, ago(80), ago(70))]
    attempts += [Attempt(30, ago(40), ago(30)), Attempt(300, ago(60), NOW)]
    audio, busy, counted = pace_over(attempts, since=ago(900))
    assert (audio, busy, counted) == (390, 90, 4)
    assert audio / busy == pytest.approx(390 / 90)
    calls_only = pace_over(attempts[:3], since=ago(900))
    assert calls_only[0] / calls_only[1] == pytest.approx(3)


def test_work_across_the_window_start_counts_pro_rata() -> None:
    # 600 s of audio over 200 s, of which the last 50 s are in the window: a quarter.
    assert pace_over([Attempt(600, ago(200), ago(0))], since=ago(50)) == (150, 50, 1)
    # Entirely before the window, or with no span: nothing.
    assert pace_over([Attempt(600, ago(300), ago(100))], since=ago(50)) == (0, 0, 0)
    assert pace_over([Attempt(600, NOW, NOW)], since=ago(50)) == (0, 0, 0)


def test_running_work_is_what_the_worker_has_decoded() -> None:
    def row(
        step: str | None, duration: float | None, ratio: float | None = None, resumed=None
    ) -> tuple:
        return (1, step, duration, 1000, ratio, None, NOW, ago(30), resumed)

    assert decoded_so_far(row("extract_metadata", 300.0), NOW) == 0
    assert decoded_so_far(row(None, None), NOW) == 0
    assert decoded_so_far(row("transcribe", 300.0, 0.25), NOW) == pytest.approx(75)
    assert decoded_so_far(row("diarization", 300.0), NOW) == 300
    # A re-diarization keeps its transcript: it decodes nothing.
    assert decoded_so_far(row("diarization", 300.0, resumed="diarization"), NOW) == 0


def test_wall_time_at_a_pace() -> None:
    pace = Pace(audio_sec=500, busy_sec=100, attempts=4, seconds_per_byte=None)
    assert pace.per_worker == 5
    assert pace.wall_sec(600) == 120


def test_the_schedule_counts_the_tail_on_fewer_workers() -> None:
    # One long file last: the other worker idles at the end.
    assert _finish_time([], [10, 10, 100], 2) == 110
    # Running jobs occupy their workers first.
    assert _finish_time([20, 5], [30, 15], 2) == 35
    # More running jobs than workers counted (RQ's registry lags): the longest ones.
    assert _finish_time([20, 20, 0], [30, 15], 2) == 50
    assert _finish_time([], [], 3) == 0


def test_describe_the_backlog() -> None:
    full = Backlog(
        queued=400,
        queued_audio_sec=14 * 3600 + 20 * 60,
        processing=3,
        pace=5.0,
        workers=3,
        eta_sec=2 * 3600 + 10 * 60,
    )
    assert full.describe() == "backlog 14h20m audio · ~2h10m at current pace (3 workers)"
    assert full.audio_sec == 14 * 3600 + 20 * 60


@pytest.mark.parametrize(
    ("backlog", "line"),
    [
        (Backlog(), "no backlog"),
        (
            Backlog(queued=2, queued_audio_sec=600, queued_estimated=1),
            "backlog ≈10m audio · pace unknown yet",
        ),
        (
            Backlog(queued=1, queued_audio_sec=90, pace=3.0, workers=None),
            "backlog 1m30s audio · workers unknown (Redis down)",
        ),
        (
            Backlog(queued=1, queued_audio_sec=90, pace=3.0, workers=0),
            "backlog 1m30s audio · no workers online",
        ),
        (
            Backlog(processing=1, processing_remaining_sec=45, pace=3, workers=1, eta_sec=20),
            "backlog 45s audio · ~20s at current pace (1 worker)",
        ),
    ],
)
def test_describe_what_is_not_known(backlog: Backlog, line: str) -> None:
    assert backlog.describe() == line
