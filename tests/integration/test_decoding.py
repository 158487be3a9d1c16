"""Batched and sequential decoding on real speech, readable cues, word timings when used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scripts.stereo_calls import StereoCall
from tests.audio import word_error_rate
from tests.conftest import ON_SQLITE
from tests.integration.conftest import configure
from tests.integration.pipeline_helpers import process
from tests.real_speech import real_recording, reference_for
from whisperops import ops
from whisperops.config import Settings
from whisperops.models import Recording, Status, StepRun, Transcript, TranscriptSegment
from whisperops.pipeline.resegment import MAX_CUE_CHARS, MAX_CUE_SEC

COPIES = 5  # 2.5 minutes of the real two-speaker call

# Decoding does not depend on the database: these run on SQLite only (the suite's
# pipeline and reliability tests cover PostgreSQL).
pytestmark = ON_SQLITE


@pytest.fixture(scope="module")
def interview(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_recording(tmp_path_factory.mktemp("real") / "interview.wav", COPIES)


def transcribe_run(recording_id: int) -> StepRun:
    return StepRun.get((StepRun.recording == recording_id) & (StepRun.step == "transcribe"))


def srt_cue_seconds(path: Path) -> list[float]:
    def seconds(stamp: str) -> float:
        hours, minutes, rest = stamp.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))

    cues = re.findall(r"(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)", path.read_text())
    return [seconds(end) - seconds(start) for start, end in cues]


# WER bounds a little above what each mode measures here (0.14 batched; 0.33 sequential,
# the same as a bare faster-whisper call: conditioned on the text before, Whisper
# repeats the call's "Hello?" into a loop at each repetition of the call). Batched
# against sequential on the same archive is compared by bench.throughput.
@pytest.mark.parametrize(
    ("batch_size", "mode", "max_wer"),
    [
        (8, "batched (8), word timings to cut cues, not kept", 0.2),
        (0, "sequential, no word timings", 0.4),
    ],
)
def test_real_speech_in_both_modes_is_accurate_with_short_cues_and_no_word_timings(
    pipeline_settings: Settings, interview: Path, batch_size: int, mode: str, max_wer: float
) -> None:
    # With no diarization (backend none) nothing uses word timings: none are kept.
    # (Under auto a mono recording goes to the embeddings backend, which keeps them.)
    # One thread per replica: batches are spread over the replicas, as calibrated here.
    settings = configure(
        pipeline_settings, cpu_threads=1, batch_size=batch_size, diarization_backend="none"
    )
    row = process(settings, interview)
    assert row.status is Status.DONE, row.error_message

    detail = transcribe_run(row.id).detail
    assert detail.endswith(f", {mode}")
    transcript = Transcript.get(Transcript.recording == row.id)
    wer = word_error_rate(reference_for(COPIES), transcript.text)
    print(f"{mode}: WER {wer:.3f}, {detail}")
    assert wer <= max_wer

    segments = list(transcript.segments.order_by(TranscriptSegment.position))
    assert len(segments) >= 5 * COPIES
    assert all(len(s.text) <= MAX_CUE_CHARS for s in segments)
    # Longer than a cue may be only what cannot be cut: a lone word after a silence.
    too_long = [s.text for s in segments if s.end_sec - s.start_sec > MAX_CUE_SEC]
    assert all(len(text.split()) == 1 for text in too_long), too_long
    assert all(s.words_json is None for s in segments)
    assert [s.start_sec for s in segments] == sorted(s.start_sec for s in segments)
    assert segments[-1].end_sec <= row.duration_sec + 0.5

    files = {Path(p).suffix: Path(p) for p in ops.show_recording(row.id, settings).output_files}
    cues = srt_cue_seconds(files[".srt"])
    assert len(cues) == len(segments)
    assert sum(cue > MAX_CUE_SEC for cue in cues) == len(too_long)


def test_word_timings_are_taken_when_the_channel_backend_will_use_them(
    pipeline_settings: Settings, stereo_call: StereoCall
) -> None:
    settings = configure(pipeline_settings, diarization_backend="auto")
    row = process(settings, stereo_call.path)
    assert row.status is Status.DONE, row.error_message
    assert transcribe_run(row.id).detail.endswith("word timings for the channel backend")
    segments = list(
        TranscriptSegment.select()
        .join(Transcript)
        .where(Transcript.recording == row.id)
        .order_by(TranscriptSegment.position)
    )
    assert segments and all(s.words_json for s in segments)
    assert {s.speaker for s in segments} == {"left", "right"}


def test_word_timings_are_skipped_when_diarization_is_off(
    pipeline_settings: Settings, stereo_call: StereoCall, tmp_path: Path
) -> None:
    settings = configure(pipeline_settings, diarization_backend="none")
    copy = tmp_path / "call-no-speakers.wav"
    copy.write_bytes(stereo_call.path.read_bytes() + b"\0")
    row = process(settings, copy)
    assert row.status is Status.DONE, row.error_message
    assert transcribe_run(row.id).detail.endswith("no word timings")
    stored = TranscriptSegment.select().join(Transcript).where(Transcript.recording == row.id)
    assert all(s.words_json is None for s in stored)
    assert Recording.get_by_id(row.id).analytics["segment_count"] == stored.count()
