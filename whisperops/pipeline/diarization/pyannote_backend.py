"""Backend 'pyannote': a pyannote.audio speaker-diarization pipeline, loaded once per worker.

The pipeline comes from a Hugging Face id (downloaded once with a token) or from a
local directory holding its config.yaml (air-gapped sites copy the model in).
torch and pyannote.audio are the optional `diarization` extra, imported only here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from whisperops.config import Settings
from whisperops.errors import WhisperopsError
from whisperops.pipeline.diarization.clustering import count_decided
from whisperops.pipeline.diarization.protocol import Diarized, diarized
from whisperops.pipeline.segments import Segment, SpeakerTurn

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000

_loaded: dict[tuple[str, str], tuple[Any, str]] = {}  # (model, device) -> (pipeline, device)
_loading = threading.Lock()


class DiarizationUnavailable(WhisperopsError):
    """The pyannote backend cannot be loaded (extra not installed, model missing)."""


def resolve_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise DiarizationUnavailable("diarization_device is 'cuda' but torch sees no CUDA device")
    return requested


class PyannoteDiarizer:
    name = "pyannote"

    def __init__(self, pipeline: Any, model: str, device: str, hints: dict[str, int]) -> None:
        self.pipeline = pipeline
        self.model = model
        self.device = device
        self.hints = hints  # min_speakers / max_speakers, when configured

    def diarize(self, path: Path, segments: list[Segment] | None = None) -> Diarized:
        import torch
        from faster_whisper.audio import decode_audio

        # Decoded here (PyAV, as for transcription) rather than by pyannote, whose
        # own file reading needs FFmpeg shared libraries that a worker may lack.
        waveform = torch.from_numpy(decode_audio(str(path), sampling_rate=SAMPLE_RATE))[None]
        output = self.pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, **self.hints)
        # pyannote.audio 4 returns a DiarizeOutput; 3.x returned the Annotation itself.
        annotation = getattr(output, "speaker_diarization", output)
        decided = count_decided(
            self.hints.get("min_speakers", 0), self.hints.get("max_speakers", 0)
        )
        return diarized(
            [
                SpeakerTurn(float(segment.start), float(segment.end), str(speaker))
                for segment, _track, speaker in annotation.itertracks(yield_label=True)
            ],
            decided,
        )


def load_pyannote(settings: Settings) -> PyannoteDiarizer:
    """A diarizer over the worker's pipeline for (pyannote_model, device), which is
    loaded on first use and kept for the process."""
    model = settings.pyannote_model
    if not model:
        raise DiarizationUnavailable("diarization backend 'pyannote' needs pyannote_model")
    hints = {
        name: value
        for name, value in (
            ("min_speakers", settings.diarization_min_speakers),
            ("max_speakers", settings.diarization_max_speakers),
        )
        if value
    }
    with _loading:
        key = (model, settings.diarization_device)
        if key not in _loaded:
            _loaded[key] = _load(model, settings)
        pipeline, device = _loaded[key]
    return PyannoteDiarizer(pipeline, model, device, hints)


def local_pipeline(model: str) -> Path | None:
    """The local path ``model`` names, or None when it is a Hugging Face id."""
    local = Path(model).expanduser()
    looks_local = local.is_absolute() or model.startswith((".", "~")) or local.exists()
    return local if looks_local else None


def holds_pipeline(local: Path) -> bool:
    """A pipeline directory (its config.yaml) or a pipeline file."""
    return (local / "config.yaml").is_file() or local.is_file()


def _load(model: str, settings: Settings) -> tuple[Any, str]:
    # pyannote.audio 4 sends usage telemetry unless told not to, and its import turns
    # it on when the variable is unset. A worker does not phone home (air-gapped sites
    # would only see timeouts) unless the operator set the variable on purpose.
    chosen = os.environ.get("PYANNOTE_METRICS_ENABLED", "false")
    try:
        import torch
        from pyannote.audio import Pipeline
    except ImportError as exc:
        raise DiarizationUnavailable(
            f"the pyannote backend needs the diarization extra "
            f"(pip install 'whisperops[diarization]'): {exc}"
        ) from None
    finally:
        os.environ["PYANNOTE_METRICS_ENABLED"] = chosen
    local = local_pipeline(model)
    if local is not None and not holds_pipeline(local):
        raise DiarizationUnavailable(f"pyannote_model {model}: no config.yaml there")
    device = resolve_device(settings.diarization_device)
    started = time.monotonic()
    pipeline = Pipeline.from_pretrained(
        str(local) if local is not None else model,
        token=settings.hf_token.get_secret_value() if settings.hf_token else None,
    )
    if pipeline is None:  # pyannote returns None when the hub refuses the download
        raise DiarizationUnavailable(
            f"pyannote_model {model!r} could not be downloaded; check hf_token and that "
            "its conditions were accepted on huggingface.co"
        )
    pipeline.to(torch.device(device))
    log.info(
        "Loaded pyannote pipeline %s on %s in %.1fs", model, device, time.monotonic() - started
    )
    return pipeline, device
