"""process_recording: one RQ job runs one attempt of one recording through the six steps.

Every write goes through :class:`FencedRecording`, so a job whose attempt has been
superseded (requeued by an operator or by the sweep) stops and writes nothing more.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from rq.timeouts import BaseTimeoutException

from whisperops.config import Settings
from whisperops.db import database_proxy, utcnow
from whisperops.errors import WhisperopsError
from whisperops.models import (
    Recording,
    Status,
    StepOutcome,
    Transcript,
    TranscriptSegment,
    no_progress,
)
from whisperops.outputs import output_paths
from whisperops.pipeline import STEPS
from whisperops.pipeline.analytics import compute_analytics
from whisperops.pipeline.diarization import (
    Skip,
    assign_speakers,
    choose_diarizer,
    diarization_backend,
)
from whisperops.pipeline.fence import Fenced, FencedRecording
from whisperops.pipeline.filename_fields import parse_filename_fields
from whisperops.pipeline.media import AudioInfo, MediaError, probe_audio
from whisperops.pipeline.progress import PaceTracker, ProgressEstimator
from whisperops.pipeline.segments import Segment, Word
from whisperops.pipeline.transcriber import (
    TranscriptionInfo,
    model_label,
    start_transcription,
)
from whisperops.pipeline.writers import atomic_write, to_json, to_srt, to_txt, to_vtt
from whisperops.runtime import runtime
from whisperops.service_errors import Outage, database_error

log = logging.getLogger(__name__)

# DB writes from the segment callback: at most one per this many seconds.
PROGRESS_WRITE_INTERVAL_SEC = 1.0

pace = PaceTracker()
"""This worker's observed transcription pace, carried from job to job (the worker seeds
it with its calibration's figures)."""

shutdown_requested = threading.Event()
"""Set by the worker on SIGTERM: the running job releases its recording and returns."""


class ShutdownRequested(Exception):
    """The worker is stopping; the recording goes back to the queue."""


def short_duration(seconds: float | None) -> str:
    """The plan's log style: '28m' for minutes, '45s' under a minute."""
    if seconds is None:
        return "?"
    return f"{round(seconds / 60)}m" if seconds >= 60 else f"{int(seconds)}s"


@dataclass
class JobState:
    recording: Recording
    settings: Settings
    fence: FencedRecording
    step: str | None = None
    segments: list[Segment] = field(default_factory=list)
    audio: AudioInfo | None = None
    language: str | None = None
    language_probability: float | None = None
    estimator: ProgressEstimator | None = None
    model_name: str | None = None
    analytics: dict = field(default_factory=dict)
    diarization_error: str | None = None  # the failed diarization's message; the job goes on
    diarization_pending: bool = False
    fenced: threading.Event = field(default_factory=threading.Event)

    @property
    def who(self) -> str:
        return f"recording_id={self.recording.id} file_name={self.recording.file_name!r}"

    def check_fence(self) -> None:
        """Called between segments and steps: stop if superseded or if the worker stops."""
        if self.fenced.is_set():
            raise Fenced(f"recording {self.recording.id} attempt {self.fence.attempt} superseded")
        if shutdown_requested.is_set():
            raise ShutdownRequested("worker shutting down")


class Heartbeat(threading.Thread):
    """Refreshes updated_at (and the progress estimate) while a step runs."""

    def __init__(self, state: JobState, interval: float) -> None:
        super().__init__(name=f"heartbeat-{state.recording.id}", daemon=True)
        self.state = state
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        outage = Outage(f"Heartbeat of {self.state.who}: the database", log)
        while not self.stopping.wait(self.interval):
            try:
                self.state.fence.update(**progress_fields(self.state))
            except Fenced:
                self.state.fenced.set()
                return
            except Exception as exc:  # a DB blip must not kill the heartbeat
                if database_error(exc, self.state.settings.database_url) is None:
                    log.warning("Heartbeat write failed for %s", self.state.who, exc_info=True)
                else:  # one line when it goes, one when it is back
                    outage.down(exc)
            else:
                outage.up()
            finally:
                database_proxy.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def progress_fields(state: JobState) -> dict:
    if state.step != "transcribe" or state.estimator is None:
        return {}
    estimate = state.estimator.estimate()
    finish = None
    if estimate.remaining_sec is not None:
        finish = utcnow() + timedelta(seconds=estimate.remaining_sec)
    return {"progress_ratio": round(estimate.ratio, 4), "estimated_finish_at": finish}


# --- the six steps -----------------------------------------------------------


def parse_metadata(state: JobState) -> tuple[StepOutcome, str | None]:
    fields = parse_filename_fields(state.recording.file_name, state.settings.filename_regex)
    state.fence.update(parsed_fields_json=json.dumps(fields) if fields else None)
    if not fields:
        return StepOutcome.OK, "file name did not match filename_regex; no fields"
    return StepOutcome.OK, ", ".join(f"{key}={value}" for key, value in fields.items())


def extract_metadata(state: JobState) -> tuple[StepOutcome, str | None]:
    audio = probe_audio(Path(state.recording.file_path))
    state.audio = audio
    stored = audio.as_dict()
    state.fence.update(**stored, metadata_json=json.dumps(stored))
    return StepOutcome.OK, (
        f"{short_duration(audio.duration_sec)}, {audio.codec}, "
        f"{audio.sample_rate} Hz, {audio.channels} ch"
    )


def word_timings_for(state: JobState) -> str | None:
    """Why this recording needs word timings (the backend that will use them), or None.

    Decided once extract_metadata knows the channels and duration: only a diarization
    backend that will split segments at speaker changes keeps them. (Sequential
    decoding times words only then: it costs about a fifth more. Batched decoding
    times them anyway, to cut its chunks into cues.)
    """
    audio = state.audio
    backend = diarization_backend(
        state.settings, audio.channels if audio else None, audio.duration_sec if audio else None
    )
    return None if isinstance(backend, Skip) else f"for the {backend} backend"


def transcribe(state: JobState) -> tuple[StepOutcome, str | None]:
    settings = state.settings
    duration = state.audio.duration_sec if state.audio else None
    log.info("Step 2: Transcribing audio... (duration %s) %s", short_duration(duration), state.who)
    started = time.monotonic()
    words_for = word_timings_for(state)

    def on_decoded(decoded_sec: float, *work_sec: float) -> None:
        if state.estimator is not None:
            state.estimator.on_segment(decoded_sec, *work_sec)

    info, decoded = start_transcription(
        Path(state.recording.file_path),
        settings,
        words=words_for is not None,
        on_decoded=on_decoded,
    )
    state.language, state.language_probability = info.language, info.language_probability
    state.model_name = model_label(settings)
    state.estimator = ProgressEstimator(
        info.speech_sec,
        pace.seconds_per_speech_sec(info.pace_key),
        started=started,
        parallel=info.parallel,
        chunks=info.chunks,
    )
    log.info(
        "Decoding %s of speech, %s, %s %s",
        short_duration(info.speech_sec),
        info.mode,
        word_timings_text(info, words_for),
        state.who,
    )
    # Publish the first estimate now: readers extrapolate it toward the predicted
    # finish, so progress moves from the start, not from the first heartbeat.
    state.fence.update(**progress_fields(state))
    last_write = 0.0
    for segment in decoded:
        state.check_fence()
        state.segments.append(segment)
        count = len(state.segments)
        if time.monotonic() - last_write >= PROGRESS_WRITE_INTERVAL_SEC:
            state.fence.update(processing_segments_count=count, **progress_fields(state))
            last_write = time.monotonic()
        if count == 1 or count % 5 == 0:
            log_progress(state)
    state.fence.update(
        processing_segments_count=len(state.segments),
        progress_ratio=1.0,
        estimated_finish_at=utcnow(),
    )
    pace.observe(info.pace_key, info.speech_sec, state.estimator.decoding_took())
    took = time.monotonic() - started
    log.info(
        "Transcription done: %d segments in %s (language %s, %s) %s",
        len(state.segments),
        short_duration(took),
        info.language,
        info.mode,
        state.who,
    )
    return StepOutcome.OK, (
        f"{len(state.segments)} segments, language {info.language}, {info.mode}, "
        + word_timings_text(info, words_for)
    )


def word_timings_text(info: TranscriptionInfo, words_for: str | None) -> str:
    """What the word timings were for: kept for a backend, only to cut cues, or none."""
    if words_for:
        return f"word timings {words_for}"
    return "word timings to cut cues, not kept" if info.words_decoded else "no word timings"


def log_progress(state: JobState) -> None:
    estimate = state.estimator.estimate()
    remaining = ""
    if estimate.remaining_sec is not None:
        remaining = f", ~{short_duration(estimate.remaining_sec)} remaining"
    log.info(
        "Transcription progress: %d segments (~%d%% estimated, elapsed %s%s) %s",
        len(state.segments),
        round(estimate.ratio * 100),
        short_duration(estimate.elapsed_sec),
        remaining,
        state.who,
    )


def diarization(state: JobState) -> tuple[StepOutcome, str | None]:
    """Speakers for the transcript. Never fatal: on failure the transcript is kept,
    the step is recorded as failed and the recording ends DONE with the error shown."""
    recording, audio = state.recording, state.audio
    choice = None
    try:
        choice = choose_diarizer(
            state.settings,
            audio.channels if audio else None,
            audio.duration_sec if audio else None,
        )
        turns = choice if isinstance(choice, Skip) else choice.diarize(Path(recording.file_path))
        if isinstance(turns, Skip):
            state.diarization_pending = turns.pending
            state.segments = assign_speakers(state.segments, [])  # drops earlier speakers
            return StepOutcome.SKIPPED, turns.reason
    except BaseTimeoutException:
        raise
    except Exception as exc:
        # Only the pyannote backend can fail to load (choice is still None then).
        backend = choice.name if choice is not None else "pyannote"
        state.diarization_pending = True
        state.diarization_error = failure_message("diarization", len(state.segments), exc)
        log.warning(
            "Diarization failed for %s (%s backend); keeping the transcript without speakers: %s",
            state.who,
            backend,
            exc,
            exc_info=not isinstance(exc, WhisperopsError),
        )
        state.segments = assign_speakers(state.segments, [])
        return StepOutcome.FAILED, f"{backend}: {exc}"
    before = len(state.segments)
    state.segments = assign_speakers(state.segments, turns)
    speakers = sorted({turn.speaker for turn in turns})
    labelled = sum(1 for segment in state.segments if segment.speaker)
    split = len(state.segments) - before
    return StepOutcome.OK, (
        f"{choice.name}: {len(speakers)} speakers, "
        f"{labelled}/{len(state.segments)} segments labelled"
        + (f" ({split} more after splitting at speaker changes)" if split else "")
    )


def analytics(state: JobState) -> tuple[StepOutcome, str | None]:
    duration = state.audio.duration_sec if state.audio else 0.0
    state.analytics = compute_analytics(state.segments, duration)
    state.fence.update(analytics_json=json.dumps(state.analytics))
    return StepOutcome.OK, None


def store_results(state: JobState) -> tuple[StepOutcome, str | None]:
    recording = state.recording
    paths = output_paths(state.settings.output_dir, recording)
    model = state.model_name or model_label(state.settings)
    text = " ".join(segment.text for segment in state.segments).strip()
    document = {
        "recording_id": recording.id,
        "file_name": recording.file_name,
        "file_path": recording.file_path,
        "language": state.language,
        "language_probability": state.language_probability,
        "model": model,
        "duration_sec": state.audio.duration_sec if state.audio else None,
        "text": text,
        "segments": [
            {
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "text": s.text,
                "speaker": s.speaker,
                "words": [
                    {"start": round(w.start, 3), "end": round(w.end, 3), "word": w.text.strip()}
                    for w in s.words
                ],
            }
            for s in state.segments
        ],
        "analytics": state.analytics,
    }
    state.check_fence()
    rendered = {
        "json": to_json(document),
        "srt": to_srt(state.segments),
        "vtt": to_vtt(state.segments),
        "txt": to_txt(state.segments),
    }
    for fmt, text_out in rendered.items():
        atomic_write(paths[fmt], text_out)
    with database_proxy.atomic():
        state.fence.update()  # fence check inside the transaction that replaces the transcript
        Transcript.delete().where(Transcript.recording == recording.id).execute()
        transcript = Transcript.create(
            recording=recording.id,
            text=text,
            language=state.language,
            language_probability=state.language_probability,
            model_name=model,
        )
        TranscriptSegment.insert_many(
            [
                {
                    "transcript": transcript.id,
                    "position": i,
                    "start_sec": s.start,
                    "end_sec": s.end,
                    "text": s.text,
                    "speaker": s.speaker,
                    "words_json": words_json(s.words),
                }
                for i, s in enumerate(state.segments)
            ]
        ).execute()
    return StepOutcome.OK, f"{len(state.segments)} segments; {paths['json'].parent}"


STEP_TITLES = {
    "parse_metadata": "Parsing file name...",
    "extract_metadata": "Extracting audio metadata...",
    "transcribe": "Transcribing audio...",
    "diarization": "Assigning speakers...",
    "analytics": "Computing analytics...",
    "store_results": "Storing results...",
}

STEP_FUNCTIONS: dict[str, Callable[[JobState], tuple[StepOutcome, str | None]]] = {
    "parse_metadata": parse_metadata,
    "extract_metadata": extract_metadata,
    "transcribe": transcribe,
    "diarization": diarization,
    "analytics": analytics,
    "store_results": store_results,
}
assert tuple(STEP_FUNCTIONS) == STEPS


def words_json(words: list[Word]) -> str | None:
    if not words:
        return None
    return json.dumps([[round(w.start, 3), round(w.end, 3), w.text] for w in words])


def words_from_json(text: str | None) -> list[Word]:
    return [Word(start, end, word) for start, end, word in json.loads(text)] if text else []


def resume_point(state: JobState) -> int:
    """Index of the first step to run: 0, or where a re-diarization resumes.

    Anything amiss with what was kept (transcript deleted, unknown step, unreadable
    row) means running every step, never a recording left hanging.
    """
    step = state.recording.resume_from_step
    if not step:
        return 0
    try:
        if step in STEPS and resume_from_kept_results(state):
            return STEPS.index(step)
        log.warning(
            "Cannot resume %s at step %s: nothing kept; running every step", state.who, step
        )
    except Exception:
        log.warning(
            "Cannot resume %s at step %s; running every step", state.who, step, exc_info=True
        )
    state.segments, state.audio = [], None
    return 0


def resume_from_kept_results(state: JobState) -> bool:
    """Load what the steps before diarization produced last time; False if it is gone."""
    recording = state.recording
    transcript = Transcript.get_or_none(Transcript.recording == recording.id)
    if transcript is None or recording.duration_sec is None:
        return False
    state.segments = [
        Segment(row.start_sec, row.end_sec, row.text, row.speaker, words_from_json(row.words_json))
        for row in transcript.segments.order_by(TranscriptSegment.position)
    ]
    state.language = transcript.language
    state.language_probability = transcript.language_probability
    state.model_name = transcript.model_name
    state.audio = AudioInfo.of_recording(recording)
    return True


def failure_message(step: str, segments: int, exc: BaseException) -> str:
    """error_message in the spec's formats, naming the step (and segments in transcribe)."""
    if isinstance(exc, BaseTimeoutException):
        return f"Timeout in step {step} ({segments} segments): {exc!r}"
    where = f"Step {step}" + (f" ({segments} segments)" if step == "transcribe" else "")
    return f"{where} failed: {exc}"


def process_recording(recording_id: int, attempt: int) -> str:
    """RQ job: run one attempt of one recording through the six steps.

    A recording queued with ``resume_from_step`` (a re-diarization) starts at that
    step over its kept transcript. Returns the final status ('done', 'failed',
    'released' on shutdown, or 'superseded' when fenced off).
    """
    settings = runtime().settings
    fence = FencedRecording(recording_id, attempt)
    recording = fence.claim()
    if recording is None:
        log.info(
            "Skipping recording_id=%s attempt %s: no longer this attempt's to run",
            recording_id,
            attempt,
        )
        return "superseded"
    state = JobState(recording=recording, settings=settings, fence=fence)
    first = resume_point(state)
    heartbeat = Heartbeat(state, settings.heartbeat_interval_sec)
    heartbeat.start()
    log.info(
        "Processing %s attempt %s%s",
        state.who,
        attempt,
        f", from step {STEPS[first]} over the kept transcript" if first else "",
    )
    try:
        for number, step in enumerate(STEPS[first:], start=first):
            state.check_fence()
            state.step = step
            run = fence.begin_step(step)
            if step != "transcribe":  # transcribe logs its own line, with the duration
                log.info("Step %d: %s (%s) %s", number, STEP_TITLES[step], step, state.who)
            try:
                outcome, detail = STEP_FUNCTIONS[step](state)
            except Fenced:
                fence.end_step(run, StepOutcome.FAILED, "superseded by a newer attempt")
                raise
            except ShutdownRequested:
                fence.end_step(
                    run, StepOutcome.FAILED, "interrupted: worker shut down, recording released"
                )
                raise
            except BaseException as exc:
                fence.end_step(run, StepOutcome.FAILED, str(exc) or repr(exc))
                raise
            fence.end_step(run, outcome, detail)
        fence.update(
            status=Status.DONE,
            processed_at=utcnow(),
            # DONE, yet a failed diarization stays visible (show, console, the error column).
            error_message=state.diarization_error,
            diarization_pending=state.diarization_pending,
            resume_from_step=None,
        )
        log.info("Recording done: %s, %d segments", state.who, len(state.segments))
        return Status.DONE.value
    except Fenced:
        log.warning(
            "Stopped %s attempt %s at step %s: superseded by a newer attempt; writing nothing more",
            state.who,
            attempt,
            state.step,
        )
        return "superseded"
    except ShutdownRequested:
        # Back to the queue without using up a retry; the next sweep enqueues it
        # again (this attempt's job ends here, so it is no longer live).
        try:
            fence.update(status=Status.QUEUED, error_message=None)
        except Fenced:
            return "superseded"
        log.warning(
            "Released %s at step %s (%d segments): worker shutting down; back to queued",
            state.who,
            state.step,
            len(state.segments),
        )
        return "released"
    except Exception as exc:
        count = len(state.segments)
        message = failure_message(state.step or STEPS[0], count, exc)
        log.error(
            "Recording %s failed at step %s (%d segments): %s",
            state.who,
            state.step,
            count,
            exc,
            # Bad input and timeouts are explained by the message; anything else
            # gets its traceback.
            exc_info=not isinstance(exc, MediaError | BaseTimeoutException),
        )
        try:
            fence.update(status=Status.FAILED, error_message=message, resume_from_step=None)
        except Fenced:
            return "superseded"
        return Status.FAILED.value
    finally:
        heartbeat.stop()
        # Guarded by the attempt alone: the row is DONE or FAILED by now, and a
        # superseded attempt must not touch the newer attempt's progress.
        Recording.update(**no_progress()).where(
            (Recording.id == recording_id) & (Recording.attempt == attempt)
        ).execute()
