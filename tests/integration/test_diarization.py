"""The diarization step in the real pipeline: channel, embeddings and pyannote backends, skips,
non-fatal failures and re-diarization, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from redis import Redis

from scripts.stereo_calls import StereoCall, write_wav
from tests import speaker_scenes
from tests.conftest import ON_SQLITE, require_pyannote
from tests.integration.cli_runner import run_cli
from tests.integration.conftest import configure
from tests.integration.pipeline_helpers import enqueue, process, run_burst
from whisperops import ops
from whisperops.config import Settings
from whisperops.models import (
    Recording,
    Status,
    Step,
    StepOutcome,
    StepRun,
    Transcript,
    TranscriptSegment,
)
from whisperops.monitoring.metrics import WhisperopsCollector
from whisperops.pipeline.diarization.speakers import assign_speakers
from whisperops.pipeline.segments import Segment, SpeakerTurn, words_from_json


def diarization_run(recording_id: int, attempt: int | None = None) -> StepRun:
    query = StepRun.select().where(
        (StepRun.recording == recording_id) & (StepRun.step == "diarization")
    )
    if attempt is not None:
        query = query.where(StepRun.attempt == attempt)
    return query.order_by(StepRun.id.desc()).get()


def stored_segments(recording_id: int) -> list[Segment]:
    transcript = Transcript.get(Transcript.recording == recording_id)
    return [
        Segment(s.start_sec, s.end_sec, s.text, s.speaker, words_from_json(s.words_json))
        for s in transcript.segments.order_by(TranscriptSegment.position)
    ]


def expected_speakers(segments: list[Segment], call: StereoCall) -> list[str | None]:
    """The speaker of each segment by largest overlap with the call's true turns."""
    plain = [Segment(s.start, s.end, s.text) for s in segments]
    truth = [SpeakerTurn(t.start, t.end, t.speaker) for t in call.turns]
    return [s.speaker for s in assign_speakers(plain, truth)]


def test_stereo_call_gets_speakers_by_channel_everywhere(
    pipeline_settings: Settings, stereo_call: StereoCall, environ: dict[str, str]
) -> None:
    settings = configure(pipeline_settings, channel_speaker_names=("agent", "customer"))
    row = process(settings, stereo_call.path)
    assert row.status is Status.DONE, row.error_message
    assert row.channels == 2 and row.error_message is None and not row.diarization_pending

    run = diarization_run(row.id)
    assert run.outcome is StepOutcome.OK
    assert run.detail.startswith("channel: 2 speakers, ")

    segments = stored_segments(row.id)
    got = [s.speaker for s in segments]
    want = expected_speakers(segments, stereo_call)
    agreement = sum(g == w for g, w in zip(got, want, strict=True)) / len(segments)
    print(f"segments with the true speaker: {agreement:.0%} of {len(segments)}")
    print([(round(s.start, 1), round(s.end, 1), s.speaker, s.text) for s in segments])
    assert agreement >= 0.9 and set(got) == {"agent", "customer"}

    talk = row.analytics["speaker_talk_sec"]
    assert set(talk) == {"agent", "customer"} and all(sec > 5 for sec in talk.values())
    assert row.analytics["speaker_turns"]["agent"] >= 3

    detail = ops.show_recording(row.id, settings)
    files = {Path(p).suffix: Path(p) for p in detail.output_files}
    document = json.loads(files[".json"].read_text())
    assert [s["speaker"] for s in document["segments"]] == got
    assert "[agent] " in files[".srt"].read_text()
    assert "<v customer>" in files[".vtt"].read_text()
    assert "customer: " in files[".txt"].read_text()

    shown = run_cli(environ, "show", str(row.id))
    assert shown.returncode == 0, shown.stderr
    assert "speakers    agent " in shown.stdout and "customer" in shown.stdout
    assert "] agent: " in shown.stdout


def test_too_long_is_skipped_pending_then_rediarized_without_transcribing(
    pipeline_settings: Settings, stereo_call: StereoCall, environ: dict[str, str], redis: Redis
) -> None:
    settings = configure(pipeline_settings, diarization_max_duration_sec=20)
    row = process(settings, stereo_call.path)
    assert row.status is Status.DONE and row.diarization_pending
    run = diarization_run(row.id)
    assert run.outcome is StepOutcome.SKIPPED
    assert "longer than diarization_max_duration_sec (20s); pending" in run.detail
    before = Transcript.get(Transcript.recording == row.id)
    assert {s.speaker for s in stored_segments(row.id)} == {None}
    shown = run_cli(environ, "show", str(row.id))
    assert "diarization pending" in shown.stdout.replace(":", "")

    # The operator lifts the limit and re-diarizes what is pending.
    settings = configure(settings, diarization_max_duration_sec=0)
    cli_env = {**environ, "REDIS_URL": settings.redis_url.get_secret_value()}
    result = run_cli(cli_env, "rediarize", "--pending")
    assert result.returncode == 0, result.stderr
    assert "queued 1 recordings pending diarization" in result.stdout
    queued = Recording.get_by_id(row.id)
    assert queued.status is Status.QUEUED and queued.resume_from_step == "diarization"

    attempt = enqueue(settings, queued)
    run_burst(settings)

    done = Recording.get_by_id(row.id)
    assert done.status is Status.DONE and not done.diarization_pending
    assert done.resume_from_step is None
    history = StepRun.select().where((StepRun.recording == row.id) & (StepRun.attempt == attempt))
    assert [h.step for h in history.order_by(StepRun.id)] == list(Step)[3:]
    assert diarization_run(row.id, attempt).outcome is StepOutcome.OK
    after = Transcript.get(Transcript.recording == row.id)
    assert after.text == before.text and after.model_name == before.model_name
    assert {s.speaker for s in stored_segments(row.id)} == {"left", "right"}
    assert set(done.analytics["speaker_talk_sec"]) == {"left", "right"}


def test_failing_backend_keeps_the_transcript_and_shows_the_error(
    pipeline_settings: Settings, stereo_call: StereoCall, tmp_path: Path, environ: dict[str, str]
) -> None:
    missing = tmp_path / "no-such-model"
    settings = configure(
        pipeline_settings, diarization_backend="pyannote", pyannote_model=str(missing)
    )
    row = process(settings, stereo_call.path)
    assert row.status is Status.DONE
    assert row.error_message.startswith("Step diarization failed: ")
    assert row.diarization_pending
    run = diarization_run(row.id)
    assert run.outcome is StepOutcome.FAILED and run.detail.startswith("pyannote: ")
    segments = stored_segments(row.id)
    assert segments and {s.speaker for s in segments} == {None}
    assert [h.outcome for h in StepRun.select().where(StepRun.step == "store_results")] == [
        StepOutcome.OK
    ]
    shown = run_cli(environ, "show", str(row.id))
    assert "error       Step diarization failed: " in shown.stdout
    assert "status      done" in shown.stdout


def test_rediarize_refuses_what_is_not_done(
    pipeline_settings: Settings, stereo_call: StereoCall, environ: dict[str, str]
) -> None:
    result = ops.ingest_file(stereo_call.path, pipeline_settings)
    refused = run_cli(environ, "rediarize", str(result.recording_id))
    assert refused.returncode == 1
    assert "is queued; only done recordings" in refused.stderr
    assert run_cli(environ, "rediarize").returncode == 2  # neither ids nor --pending


def test_pyannote_backend_from_a_local_directory(
    pipeline_settings: Settings, speech_wav: Path, tmp_path: Path, caplog
) -> None:
    """The real loading path, offline, on a small random pipeline; not accuracy."""
    require_pyannote()
    from tests.pyannote_pipeline import build_random_pipeline
    from whisperops.pipeline.diarization.pyannote_backend import load_pyannote

    model_dir = build_random_pipeline(tmp_path / "pyannote-model")
    # auto -> pyannote; on the CPU even where a GPU is present, for the checks below
    settings = configure(pipeline_settings, pyannote_model=str(model_dir), diarization_device="cpu")
    caplog.set_level(logging.INFO, logger="whisperops")

    first = process(settings, speech_wav)
    second_path = tmp_path / "again.wav"
    second_path.write_bytes(speech_wav.read_bytes() + b"\0\0")  # other content, same speech
    second = process(settings, second_path)

    for row in (first, second):
        assert row.status is Status.DONE and row.error_message is None
        run = diarization_run(row.id)
        assert run.outcome is StepOutcome.OK and run.detail.startswith("pyannote: ")
    loads = [r for r in caplog.records if r.getMessage().startswith("Loaded pyannote pipeline")]
    assert len(loads) == 1 and " on cpu " in loads[0].getMessage()  # once per worker process

    diarizer = load_pyannote(settings)
    assert diarizer.pipeline is load_pyannote(settings).pipeline and diarizer.device == "cpu"
    hinted = load_pyannote(settings.replace(diarization_min_speakers=2))
    assert hinted.pipeline is diarizer.pipeline and hinted.hints == {"min_speakers": 2}
    assert {t.speaker for t in hinted.diarize(speech_wav).turns} >= {"SPEAKER_00", "SPEAKER_01"}
    turns = diarizer.diarize(speech_wav).turns
    assert turns and all(t.speaker.startswith("SPEAKER_") for t in turns)
    segments = stored_segments(first.id)
    expected = assign_speakers(
        [Segment(s.start, s.end, s.text, words=s.words) for s in segments], turns
    )
    assert [s.speaker for s in segments] == [s.speaker for s in expected]


def test_mono_call_gets_speakers_from_the_packaged_model_everywhere(
    pipeline_settings: Settings, tmp_path: Path, environ: dict[str, str]
) -> None:
    """The plain install, default settings: a mono call of two real people gets S1/S2
    in the history, the segments, the analytics, show and every output file."""
    scene = speaker_scenes.the_call(tmp_path)
    row = process(pipeline_settings, scene.path)
    assert row.status is Status.DONE and row.error_message is None
    assert row.channels == 1 and not row.diarization_pending
    run = diarization_run(row.id)
    assert run.outcome is StepOutcome.OK
    assert run.detail.startswith("embeddings: 2 speakers (estimated), "), run.detail
    assert " turns, " in run.detail

    segments = stored_segments(row.id)
    assert {s.speaker for s in segments} == {"S1", "S2"} and segments[0].speaker == "S1"
    right, scored = speaker_scenes.word_accuracy(segments, scene.turns)
    print(f"words with the right speaker: {right:.1%} of {scored}; {run.detail}")
    assert right >= 0.9
    talk = row.analytics["speaker_talk_sec"]
    assert set(talk) == {"S1", "S2"} and all(sec > 3 for sec in talk.values())

    detail = ops.show_recording(row.id, pipeline_settings)
    outputs = {Path(p).suffix: Path(p).read_text() for p in detail.output_files}
    assert "[S1] " in outputs[".srt"] and "<v S2>" in outputs[".vtt"]
    assert "S1: " in outputs[".txt"]
    assert {s["speaker"] for s in json.loads(outputs[".json"])["segments"]} == {"S1", "S2"}
    shown = run_cli(environ, "show", str(row.id))
    assert "speakers    S1 " in shown.stdout and "; 2 speakers\n" in shown.stdout
    assert "] S2: " in shown.stdout


@ON_SQLITE  # speakers are stored as the channel test stores them on both databases
def test_stereo_holding_one_mix_twice_goes_to_the_embeddings_backend(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    from faster_whisper.audio import decode_audio

    from whisperops.pipeline.transcriber import SPEECH_SAMPLE

    mix = decode_audio(str(SPEECH_SAMPLE), sampling_rate=16000)
    path = write_wav(tmp_path / "dual-mono.wav", mix, mix)
    row = process(pipeline_settings, path)
    assert row.status is Status.DONE and row.channels == 2 and not row.diarization_pending
    run = diarization_run(row.id)
    assert run.detail.startswith("embeddings: 2 speakers (estimated), "), run.detail
    assert {s.speaker for s in stored_segments(row.id)} == {"S1", "S2"}

    again = write_wav(tmp_path / "dual-mono-2.wav", mix * 0.9, mix * 0.9)  # not a duplicate
    explicit = process(configure(pipeline_settings, diarization_backend="channel"), again)
    run = diarization_run(explicit.id)
    assert run.outcome is StepOutcome.SKIPPED and "embeddings backend" in run.detail


@ON_SQLITE
def test_rediarize_pending_gives_old_mono_recordings_speakers_from_their_segments(
    pipeline_settings: Settings, tmp_path: Path, environ: dict[str, str], redis: Redis
) -> None:
    """Earlier versions left mono recordings pending, their words not kept: the
    embeddings backend then works from the segments' times (coarser; printed)."""
    scene = speaker_scenes.meeting(tmp_path, copies=2)
    old = configure(pipeline_settings, diarization_backend="none")
    row = process(old, scene.path)
    Recording.update(diarization_pending=True).where(Recording.id == row.id).execute()
    assert all(not s.words for s in stored_segments(row.id))
    assert pending_gauge(redis) == 1

    settings = configure(pipeline_settings, diarization_backend="auto")
    cli_env = {**environ, "REDIS_URL": settings.redis_url.get_secret_value()}
    result = run_cli(cli_env, "rediarize", "--pending")
    assert result.returncode == 0, result.stderr
    assert "queued 1 recordings pending diarization" in result.stdout
    attempt = enqueue(settings, Recording.get_by_id(row.id))
    run_burst(settings)

    done = Recording.get_by_id(row.id)
    assert done.status is Status.DONE and not done.diarization_pending
    assert Recording.select().where(Recording.diarization_pending).count() == 0
    assert pending_gauge(redis) == 0
    run = diarization_run(row.id, attempt)
    segments = stored_segments(row.id)
    right, scored = speaker_scenes.word_accuracy(segments, scene.turns)
    print(f"segments only: {right:.1%} of {scored} segments with the right speaker; {run.detail}")
    assert run.detail.startswith("embeddings: 2 speakers (estimated), ")
    assert all(s.speaker for s in segments) and {s.speaker for s in segments} == {"S1", "S2"}
    assert right >= 0.85  # coarser than from words (docs/benchmarks.md)


def pending_gauge(redis: Redis) -> float:
    """whisperops_recordings_diarization_pending as a fresh scrape reads it."""
    for family in WhisperopsCollector(lambda: redis).collect():
        if family.name == "whisperops_recordings_diarization_pending":
            return family.samples[0].value
    raise AssertionError("no diarization-pending gauge in the scrape")
