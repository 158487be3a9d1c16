"""process_recording end to end: real faster-whisper on real speech, real Redis, both DBs."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

from rq.timeouts import JobTimeoutException

from tests.audio import SPEECH_TEXT, word_error_rate, write_tone_wav
from tests.conftest import ON_SQLITE
from tests.integration.pipeline_helpers import enqueue, ingest, run_burst
from whisperops import ops
from whisperops.config import Settings
from whisperops.models import Recording, Status, Step, StepOutcome, StepRun, Transcript
from whisperops.ops.attempt import FencedRecording
from whisperops.pipeline import job
from whisperops.pipeline.heartbeat import Heartbeat
from whisperops.pipeline.job_state import JobState
from whisperops.pipeline.steps import transcribe as transcribe_step


def test_speech_is_transcribed_with_steps_history_and_outputs(
    pipeline_settings: Settings, speech_wav: Path, tmp_path: Path, caplog
) -> None:
    audio = shutil.copy(speech_wav, tmp_path / "+15551234567_20260102-153000.wav")
    recording = ingest(pipeline_settings, Path(audio))
    attempt = enqueue(pipeline_settings, recording)
    caplog.set_level(logging.INFO, logger="whisperops")

    run_burst(pipeline_settings)

    row = Recording.get_by_id(recording.id)
    assert row.status is Status.DONE, row.error_message
    assert row.processed_at is not None
    assert row.processing_step is None
    assert row.processing_step_started_at is None
    assert row.processing_segments_count is None
    assert row.error_message is None
    assert row.parsed_fields == {"phone": "+15551234567", "recorded_at": "20260102-153000"}
    assert 10 < row.duration_sec < 13 and row.channels == 1 and row.codec == "pcm_s16le"
    assert row.analytics["segment_count"] >= 1 and row.analytics["word_count"] > 20

    history = list(StepRun.select().where(StepRun.recording == row.id).order_by(StepRun.id))
    assert [(h.step, h.attempt) for h in history] == [(step, attempt) for step in Step]
    assert [h.outcome for h in history] == [
        StepOutcome.OK,
        StepOutcome.OK,
        StepOutcome.OK,
        StepOutcome.OK,
        StepOutcome.OK,
        StepOutcome.OK,
    ]
    assert all(h.finished_at >= h.started_at for h in history)
    # auto on mono audio: the packaged embeddings backend; one espeak-ng voice is one speaker.
    assert history[3].detail.startswith("embeddings: 1 speaker (estimated), "), history[3].detail
    assert row.diarization_pending is False

    transcript = Transcript.get(Transcript.recording == row.id)
    wer = word_error_rate(SPEECH_TEXT, transcript.text)
    print(f"word error rate on espeak-ng speech: {wer:.3f}")
    assert wer <= 0.25
    assert transcript.language == "en"

    detail = ops.show_recording(row.id, pipeline_settings)
    assert sorted(Path(p).suffix for p in detail.output_files) == [".json", ".srt", ".txt", ".vtt"]
    document = json.loads(Path(detail.output_files[0]).read_text())
    assert document["text"] == transcript.text
    assert len(document["segments"]) == transcript.segments.count()
    assert not list(Path(detail.output_files[0]).parent.glob(".*.tmp"))
    dumped = json.loads(detail.model_dump_json())
    assert dumped["transcript"]["segments"][0].keys() >= {"start_sec", "end_sec", "text", "speaker"}
    assert [s["step"] for s in dumped["steps"]] == list(Step)

    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Step 2: Transcribing audio... (duration 10s)") for m in messages)
    assert any(
        m.startswith("Transcription progress: 1 segments (~") and "estimated, elapsed" in m
        for m in messages
    )


@ON_SQLITE  # the progress columns are written as every step's are, tested on both
def test_progress_callback_sees_step_and_segments_in_db(
    pipeline_settings: Settings, long_speech_wav: Path, monkeypatch
) -> None:
    recording = ingest(pipeline_settings, long_speech_wav)
    attempt = enqueue(pipeline_settings, recording)
    seen: list[tuple] = []
    original = transcribe_step.log_progress

    def spy(state: JobState) -> None:
        row = Recording.get_by_id(recording.id)
        seen.append(
            (
                row.processing_step,
                row.processing_segments_count,
                row.progress_ratio,
                row.status,
                len(state.segments),
            )
        )
        original(state)

    monkeypatch.setattr(transcribe_step, "log_progress", spy)
    assert job.process_recording(recording.id, attempt) == "done"

    assert seen, "the progress callback never ran"
    step, count, ratio, status, _ = seen[0]
    assert (step, count, status) == ("transcribe", 1, Status.PROCESSING)
    assert 0 < ratio < 1
    assert all(s[0] == "transcribe" and s[1] >= 1 for s in seen)
    ratios = [s[2] for s in seen]
    assert ratios == sorted(ratios)


@ON_SQLITE  # the error's format; the failing transition runs on both elsewhere
def test_failure_inside_transcribe_names_step_and_segments(
    pipeline_settings: Settings, long_speech_wav: Path, monkeypatch
) -> None:
    recording = ingest(pipeline_settings, long_speech_wav)
    attempt = enqueue(pipeline_settings, recording)
    original = transcribe_step.ProgressEstimator.on_segment

    def break_after_three(self, decoded_sec: float) -> None:
        original(self, decoded_sec)
        if self.reports == 4:  # reported before the 4th segment is taken
            raise RuntimeError("decoder exploded")

    monkeypatch.setattr(transcribe_step.ProgressEstimator, "on_segment", break_after_three)
    assert job.process_recording(recording.id, attempt) == "failed"

    row = Recording.get_by_id(recording.id)
    assert row.status is Status.FAILED
    assert row.error_message == "Step transcribe (3 segments) failed: decoder exploded"
    assert row.processing_step is None and row.processing_segments_count is None
    failed = StepRun.get((StepRun.recording == row.id) & (StepRun.step == "transcribe"))
    assert failed.outcome is StepOutcome.FAILED and failed.detail == "decoder exploded"
    assert Transcript.select().where(Transcript.recording == row.id).count() == 0


@ON_SQLITE  # the error's format
def test_timeout_in_transcribe_uses_timeout_format(
    pipeline_settings: Settings, long_speech_wav: Path, monkeypatch
) -> None:
    recording = ingest(pipeline_settings, long_speech_wav)
    attempt = enqueue(pipeline_settings, recording)
    original = transcribe_step.ProgressEstimator.on_segment

    # After the first segment: tiny.en's temperature fallback (random sampling) has
    # decoded this minute of speech into as few as 2 segments, once in CI.
    def time_out_after_one(self, decoded_sec: float) -> None:
        original(self, decoded_sec)
        if self.reports == 2:  # reported before the 2nd segment is taken
            raise JobTimeoutException("Task exceeded maximum timeout value (60 seconds)")

    monkeypatch.setattr(transcribe_step.ProgressEstimator, "on_segment", time_out_after_one)
    assert job.process_recording(recording.id, attempt) == "failed"

    row = Recording.get_by_id(recording.id)
    assert row.status is Status.FAILED
    assert row.error_message == (
        "Timeout in step transcribe (1 segments): "
        "JobTimeoutException('Task exceeded maximum timeout value (60 seconds)')"
    )
    assert row.processing_step is None and row.processing_segments_count is None
    timed_out = StepRun.get((StepRun.recording == row.id) & (StepRun.step == "transcribe"))
    assert timed_out.outcome is StepOutcome.FAILED
    assert Transcript.select().where(Transcript.recording == row.id).count() == 0


@ON_SQLITE  # an RQ matter
def test_rq_job_timeout_fails_recording_and_worker_goes_on(
    pipeline_settings: Settings, long_speech_wav: Path, speech_wav: Path
) -> None:
    settings = pipeline_settings.replace(job_timeout_sec=1)
    slow = ingest(settings, long_speech_wav)
    enqueue(settings, slow)
    quick_settings = pipeline_settings.replace()
    quick = ingest(quick_settings, speech_wav)
    enqueue(quick_settings, quick)

    run_burst(settings)

    slow_row = Recording.get_by_id(slow.id)
    assert slow_row.status is Status.FAILED
    assert slow_row.error_message.startswith("Timeout in step ")
    assert "JobTimeoutException" in slow_row.error_message
    assert Recording.get_by_id(quick.id).status is Status.DONE


def test_bad_inputs_fail_at_extract_metadata_and_next_recording_is_done(
    pipeline_settings: Settings, speech_wav: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(bytes(range(256)) * 40)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.m4a"
    text.write_text("this is a text file, not audio\n" * 50)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(speech_wav.read_bytes()[:40])
    bad = [ingest(pipeline_settings, path) for path in (corrupt, empty, text, truncated)]
    good = ingest(pipeline_settings, speech_wav)
    for recording in [*bad, good]:
        enqueue(pipeline_settings, recording)

    run_burst(pipeline_settings)

    for recording in bad:
        row = Recording.get_by_id(recording.id)
        assert row.status is Status.FAILED, row.file_name
        assert row.error_message.startswith("Step extract_metadata failed: ")
        assert row.file_name in row.error_message
    assert Recording.get_by_id(good.id).status is Status.DONE


def test_stale_attempt_writes_nothing(pipeline_settings: Settings, speech_wav: Path) -> None:
    recording = ingest(pipeline_settings, speech_wav)
    old_attempt = enqueue(pipeline_settings, recording)
    ops.fail(recording.id, "operator changed mind")
    ops.requeue(recording.id)
    before = Recording.get_by_id(recording.id)

    assert job.process_recording(recording.id, old_attempt) == "superseded"

    after = Recording.get_by_id(recording.id)
    assert after.__data__ == before.__data__
    assert StepRun.select().count() == 0


def test_attempt_superseded_mid_transcription_stops_without_writing(
    pipeline_settings: Settings, long_speech_wav: Path, monkeypatch
) -> None:
    recording = ingest(pipeline_settings, long_speech_wav)
    attempt = enqueue(pipeline_settings, recording)
    original = transcribe_step.ProgressEstimator.on_segment

    def operator_requeues(self, decoded_sec: float) -> None:
        original(self, decoded_sec)
        if self.reports == 3:
            ops.requeue(recording.id)  # bumps the attempt: this job is fenced off

    monkeypatch.setattr(transcribe_step.ProgressEstimator, "on_segment", operator_requeues)
    assert job.process_recording(recording.id, attempt) == "superseded"

    row = Recording.get_by_id(recording.id)
    assert row.status is Status.QUEUED and row.attempt == attempt + 1
    assert row.error_message is None and row.processing_step is None
    assert Transcript.select().count() == 0
    transcribe_run = StepRun.get((StepRun.step == "transcribe") & (StepRun.attempt == attempt))
    assert transcribe_run.outcome is StepOutcome.FAILED
    assert transcribe_run.detail == "superseded by a newer attempt"


def test_heartbeat_refreshes_updated_at_and_stops_when_fenced(
    pipeline_settings: Settings, speech_wav: Path
) -> None:
    recording = ingest(pipeline_settings, speech_wav)
    attempt = enqueue(pipeline_settings, recording)
    fence = FencedRecording(recording.id, attempt)
    claimed = fence.claim()
    state = JobState(recording=claimed, settings=pipeline_settings, fence=fence)
    heartbeat = Heartbeat(state, interval=0.1)
    heartbeat.start()
    try:
        first = Recording.get_by_id(recording.id).updated_at
        deadline = time.monotonic() + 10
        while Recording.get_by_id(recording.id).updated_at == first:
            assert time.monotonic() < deadline, "heartbeat never refreshed updated_at"
            time.sleep(0.05)
        ops.requeue(recording.id)
        heartbeat.join(timeout=10)
        assert not heartbeat.is_alive()
        assert state.fenced.is_set()
    finally:
        heartbeat.stop()


@ON_SQLITE  # a worker-process matter
def test_model_is_loaded_once_per_worker_process(
    pipeline_settings: Settings, speech_wav: Path, tmp_path: Path, monkeypatch
) -> None:
    from whisperops.pipeline import transcriber

    loads: list[str] = []
    real_whisper_model = __import__("faster_whisper").WhisperModel

    def counting(*args, **kwargs):
        loads.append(args[0])
        return real_whisper_model(*args, **kwargs)

    monkeypatch.setattr(transcriber, "_models", {})
    monkeypatch.setattr("faster_whisper.WhisperModel", counting)
    for index in range(3):
        copy = tmp_path / f"copy-{index}.wav"
        copy.write_bytes(speech_wav.read_bytes() + b"\0" * (index + 1) * 2)
        enqueue(pipeline_settings, ingest(pipeline_settings, copy))

    run_burst(pipeline_settings)

    assert Recording.select().where(Recording.status == Status.DONE).count() == 3
    assert len(loads) == 1


def test_silence_is_done_with_empty_transcript(pipeline_settings: Settings, tmp_path: Path) -> None:
    silent = write_tone_wav(tmp_path / "silence.wav", frequency=0.0, seconds=5.0)
    recording = ingest(pipeline_settings, silent)
    enqueue(pipeline_settings, recording)

    run_burst(pipeline_settings)

    row = Recording.get_by_id(recording.id)
    assert row.status is Status.DONE, row.error_message
    transcript = Transcript.get(Transcript.recording == row.id)
    assert transcript.text == "" and transcript.segments.count() == 0


@ON_SQLITE  # a Redis matter
def test_worker_heartbeats_in_redis_while_a_job_runs(
    pipeline_settings: Settings, long_speech_wav: Path, redis
) -> None:
    """A SimpleWorker on a long job stays visible (`rq info`, metrics) and its job is
    not taken for abandoned: its Redis heartbeat goes on during the job."""
    import threading

    from whisperops.worker.rq_workers import build_transcribe_worker

    enqueue(pipeline_settings, ingest(pipeline_settings, long_speech_wav))
    worker = build_transcribe_worker(pipeline_settings)
    worker.job_monitoring_interval = 1
    beats: set[bytes] = set()
    running = threading.Event()

    def watch() -> None:
        while not running.wait(0.2):
            if redis.hget(worker.key, "state") == b"busy":
                beats.add(redis.hget(worker.key, "last_heartbeat"))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert worker.work(burst=True) is True
    finally:
        running.set()
        watcher.join()
    assert len(beats) >= 3, f"heartbeats seen while busy: {len(beats)}"
