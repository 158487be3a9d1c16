"""The backlog's arithmetic: the work model, the schedule onto workers, the line shown."""

from __future__ import annotations

import pytest

from whisperops.backlog import Backlog, WorkModel, _finish_time, fit_work_model


def test_fit_separates_the_fixed_cost_from_the_cost_per_audio_second() -> None:
    # wall = 10 s + 0.1 s per audio second, on a 32 kB/s format
    model = fit_work_model([(d, 10 + 0.1 * d, 32_000 * d) for d in (30, 100, 600)])
    assert model is not None
    assert model.overhead_sec == pytest.approx(10)
    assert model.cost_per_audio_sec == pytest.approx(0.1)
    assert model.pace == pytest.approx(730 / 103)
    assert model.seconds_per_byte == pytest.approx(1 / 32_000)
    # Short calls first, long files later: the ratio alone would say 1h of calls
    # costs what 1h of meetings does; the overhead per file makes them differ.
    calls = 120 * model.work(30)
    meetings = 2 * model.work(1800)
    assert calls == pytest.approx(120 * 13) and meetings == pytest.approx(2 * 190)


def test_fit_reproduces_the_sampled_total_wall_time() -> None:
    samples = [(60.0, 15.0, 1), (65.0, 9.0, 1), (300.0, 40.0, 1), (320.0, 31.0, 1)]
    model = fit_work_model(samples)
    assert model is not None
    assert 0 <= model.overhead_sec <= 9.0
    assert sum(model.work(a) for a, _, _ in samples) == pytest.approx(95.0)


def test_few_or_equal_samples_fit_a_ratio_only() -> None:
    two = fit_work_model([(100.0, 20.0, 1000), (300.0, 40.0, 3000)])
    same = fit_work_model([(60.0, 10.0, 1)] * 4)
    assert two is not None and two.overhead_sec == 0 and two.pace == pytest.approx(400 / 60)
    assert same is not None and same.overhead_sec == 0 and same.pace == pytest.approx(6)


def test_overhead_is_never_negative_nor_above_the_shortest_job() -> None:
    # Long files relatively cheaper than short: the intercept would be negative.
    assert fit_work_model([(10, 1, 1), (100, 30, 1), (1000, 400, 1)]).overhead_sec == 0
    # Every job about the same time whatever its length: capped at the shortest.
    flat = fit_work_model([(10, 50, 1), (20, 52, 1), (30, 49, 1)])
    assert flat.overhead_sec <= 49 and flat.cost_per_audio_sec >= 0


def test_no_usable_sample_means_no_model() -> None:
    assert fit_work_model([]) is None
    assert fit_work_model([(0.0, 5.0, 100), (10.0, 0.0, 100)]) is None


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


def test_work_of_a_started_job_has_no_overhead_left() -> None:
    model = WorkModel(10.0, 0.1, 5.0, None, 3)
    assert model.work(100) == 20
    assert model.work(100, started=True) == 10
