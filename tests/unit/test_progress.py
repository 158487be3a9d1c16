"""The progress estimate: the worker's running estimate and the readers' carried-forward view."""

from datetime import UTC, datetime, timedelta

from whisperops.progress import MAX_RATIO_BEFORE_DONE, PaceTracker, ProgressEstimator, live_progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_estimate_uses_the_prior_pace_before_anything_is_decoded() -> None:
    clock = FakeClock()
    estimator = ProgressEstimator(30.0, seconds_per_speech_sec=0.2, clock=clock)  # 6 s
    clock.now = 3.0
    estimate = estimator.estimate()
    assert round(estimate.ratio, 2) == 0.5
    assert round(estimate.remaining_sec, 2) == 3.0


def test_estimate_follows_decoded_speech_when_the_prior_is_wrong() -> None:
    clock = FakeClock()
    # The prior says 60 s for 600 s of speech; decoding really takes 180 s.
    estimator = ProgressEstimator(600.0, seconds_per_speech_sec=0.1, clock=clock)
    for part in range(10):  # 300 s of speech decoded, 30 s of it every 9 s
        clock.now = 9.0 * (part + 1)
        estimator.on_segment(30.0 * (part + 1))
    estimate = estimator.estimate()
    assert abs(estimate.ratio - 90.0 / 180.0) < 0.05
    assert abs(estimate.remaining_sec - 90.0) < 90.0 * 0.15


def test_estimate_never_goes_backwards_and_stays_below_one() -> None:
    clock = FakeClock()
    estimator = ProgressEstimator(30.0, seconds_per_speech_sec=0.1, clock=clock)
    clock.now = 10.0  # far slower than the prior
    high = estimator.estimate().ratio
    assert high < 0.99  # overdue: it slows down instead of sitting at 99%
    estimator.on_segment(15.0)
    assert estimator.estimate().ratio >= high
    clock.now = 1000.0
    assert estimator.estimate().ratio == 0.99


# Reports of a real run (5 minutes of the bundled call, batched over 2 replicas):
# (seconds since the step began, seconds of speech decoded); 231 s of speech in 11.4 s.
RECORDED_RUN = [(4.7, 46), (4.9, 93), (8.8, 140), (8.8, 187), (10.9, 209), (11.4, 231)]


def trajectory(prior: float, reports=RECORDED_RUN, speech=231.0, step=0.1):
    """(true fraction, estimated ratio) sampled every ``step`` seconds, as the console does."""
    clock = FakeClock()
    estimator = ProgressEstimator(speech, seconds_per_speech_sec=prior, clock=clock, started=0.0)
    total, pending, samples = reports[-1][0], list(reports), []
    while clock.now < total:
        while pending and pending[0][0] <= clock.now:
            estimator.on_segment(pending.pop(0)[1])
        samples.append((clock.now / total, estimator.estimate().ratio))
        clock.now += step
    return samples


def test_progress_on_a_recorded_trajectory_is_monotone_bounded_and_close() -> None:
    samples = trajectory(prior=0.048)  # the pace a worker learned on earlier jobs
    ratios = [ratio for _, ratio in samples]
    assert ratios == sorted(ratios) and ratios[0] >= 0 and ratios[-1] <= 0.99
    mae = sum(abs(true - ratio) for true, ratio in samples) / len(samples)
    assert mae < 0.05
    first_at_99 = min((true for true, ratio in samples if ratio >= 0.99), default=1.0)
    assert first_at_99 > 0.9  # no long plateau at 99%


def test_progress_with_a_prior_twice_too_fast_still_does_not_sit_at_99() -> None:
    samples = trajectory(prior=0.024)
    ratios = [ratio for _, ratio in samples]
    assert ratios == sorted(ratios)
    first_at_99 = min((true for true, ratio in samples if ratio >= 0.99), default=1.0)
    assert first_at_99 > 0.85
    halfway = next(ratio for true, ratio in samples if true >= 0.5)
    assert halfway < 0.85


def test_the_last_chunk_of_a_batched_recording_runs_on_one_replica_and_takes_longer() -> None:
    clock = FakeClock()
    # Two replicas decode 30-s chunks side by side: 0.05 s per speech second together.
    estimator = ProgressEstimator(140.0, seconds_per_speech_sec=0.05, clock=clock, parallel=2)
    sequential = ProgressEstimator(140.0, seconds_per_speech_sec=0.05, clock=clock)
    clock.now = 6.0
    estimator.on_segment(120.0)  # four chunks done; one 20-s chunk left, for one replica
    assert abs(estimator.estimate().remaining_sec - 20.0 * 0.05 * 2) < 0.01
    sequential.on_segment(120.0)
    assert abs(sequential.estimate().remaining_sec - 20.0 * 0.05) < 0.01


def test_three_chunks_left_on_two_replicas_take_two_rounds() -> None:
    clock = FakeClock()
    # VAD made five 24-s chunks; two replicas at 0.1 s per speech second each.
    estimator = ProgressEstimator(
        120.0, seconds_per_speech_sec=0.05, clock=clock, parallel=2, chunks=[24.0] * 5
    )
    clock.now = 2.4
    estimator.on_segment(48.0, work_sec=4.8)  # both replicas finished their first chunk
    # Two chunks side by side, then the last one alone: 2 x 2.4 s, not 72 s x 0.05.
    assert abs(estimator.estimate().remaining_sec - 4.8) < 0.01


def test_batched_pace_counts_replica_seconds_not_the_wall_clock() -> None:
    clock = FakeClock()
    # Two replicas, 0.1 s per speech second each: 0.05 s per speech second together.
    estimator = ProgressEstimator(240.0, seconds_per_speech_sec=None, clock=clock, parallel=2)
    clock.now = 2.4  # the first 24-s chunk is done; the other replica's is still in flight
    estimator.on_segment(24.0, work_sec=2.4)
    assert abs(estimator.pace() - 0.05) < 1e-9  # the wall clock alone would say 0.1
    assert abs(estimator.estimate().remaining_sec - 216.0 * 0.05) < 0.01


def test_a_call_of_one_chunk_teaches_the_pace_of_every_replica_busy() -> None:
    clock = FakeClock()
    # Two replicas; a 24-s call is one chunk, decoded on one of them in 2.4 s of wall
    # time: with both busy, that speech would have taken half as long.
    call = ProgressEstimator(24.0, seconds_per_speech_sec=0.05, clock=clock, parallel=2)
    clock.now = 2.4
    call.on_segment(24.0, work_sec=2.4)
    assert abs(call.decoding_took() - 1.2) < 1e-9
    pace = PaceTracker()
    pace.observe("batched", 24.0, call.decoding_took())
    # The next long recording is estimated at that pace, not at twice it.
    long = ProgressEstimator(240.0, pace.seconds_per_speech_sec("batched"), clock, parallel=2)
    assert abs(long.estimate().remaining_sec - 240.0 * 0.05) < 0.01
    # A long recording keeps both replicas busy: its wall time is its pace.
    clock.now = 14.4
    long.on_segment(240.0, work_sec=24.0)
    assert abs(long.decoding_took() - 12.0) < 1e-9


def test_pace_tracker_learns_per_mode_and_ignores_an_outlier() -> None:
    pace = PaceTracker()
    assert pace.seconds_per_speech_sec("sequential") == 0.12  # the built-in default
    pace.initial["sequential"] = 0.1  # as a worker seeds it from its calibration
    assert pace.seconds_per_speech_sec("sequential") == 0.1
    pace.observe("sequential", speech_sec=30.0, took_sec=3.0)
    pace.observe("sequential", speech_sec=20.0, took_sec=2.4)
    pace.observe("sequential", speech_sec=30.0, took_sec=30.0)  # a temperature-fallback job
    assert pace.seconds_per_speech_sec("sequential") == 0.12
    pace.observe("batched", speech_sec=2.0, took_sec=1.0)  # too little speech to learn from
    assert pace.seconds_per_speech_sec("batched") == 0.06


def test_live_progress_moves_toward_finish_between_writes() -> None:
    written = datetime(2026, 11, 30, 12, 0, 0)
    finish = written + timedelta(seconds=60)
    assert live_progress(0.4, finish, written, written) == 0.4
    assert round(live_progress(0.4, finish, written, written + timedelta(seconds=30)), 3) == 0.7
    assert live_progress(0.4, finish, written, written + timedelta(seconds=600)) == 0.99
    assert live_progress(None, finish, written, written) is None
    assert live_progress(0.4, None, written, written) == 0.4


def test_live_progress_takes_stored_and_aware_times_alike() -> None:
    written = datetime(2026, 11, 30, 12, 0, 0)  # as the DB stores it: naive UTC
    finish = (written + timedelta(seconds=60)).replace(tzinfo=UTC)  # as the schemas give it
    assert round(live_progress(0.4, finish, written, written + timedelta(seconds=30)), 3) == 0.7


def test_the_worker_and_the_readers_stop_at_the_same_cap() -> None:
    clock = FakeClock()
    estimator = ProgressEstimator(30.0, seconds_per_speech_sec=0.1, clock=clock)
    clock.now = 1000.0
    written = datetime(2026, 11, 30, 12, 0, 0)
    carried = live_progress(0.5, written + timedelta(seconds=1), written, written + timedelta(1))
    assert estimator.estimate().ratio == carried == MAX_RATIO_BEFORE_DONE
