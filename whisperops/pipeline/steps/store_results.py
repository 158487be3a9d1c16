"""Step store_results: the output files, then the transcript rows, in one fenced
transaction so a superseded attempt never replaces a newer one's transcript."""

from __future__ import annotations

from whisperops.db import database_proxy
from whisperops.models import StepOutcome, Transcript, TranscriptSegment
from whisperops.outputs import output_paths
from whisperops.pipeline.job_state import JobState, StepResult
from whisperops.pipeline.segments import words_json
from whisperops.pipeline.transcriber import model_label
from whisperops.pipeline.writers import (
    atomic_write,
    full_text,
    render_outputs,
    transcript_document,
)


def store_results(state: JobState) -> StepResult:
    recording = state.recording
    paths = output_paths(state.settings.output_dir, recording)
    model = state.model_name or model_label(state.settings)
    document = transcript_document(
        recording,
        language=state.language,
        language_probability=state.language_probability,
        model=model,
        duration_sec=state.audio.duration_sec if state.audio else None,
        segments=state.segments,
        analytics=state.analytics,
    )
    # A round trip, not only the heartbeat's flag: a requeue starts the next attempt at
    # once, and a superseded attempt must not overwrite its files.
    state.check_fence()
    state.fence.update()
    texts = render_outputs(document, state.segments)
    atomic_write({paths[fmt]: text for fmt, text in texts.items()})
    with database_proxy.atomic():
        state.fence.update()  # fence check inside the transaction that replaces the transcript
        Transcript.delete().where(Transcript.recording == recording.id).execute()
        transcript = Transcript.create(
            recording=recording.id,
            text=full_text(state.segments),
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
