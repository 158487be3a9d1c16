"""extract_metadata: what PyAV can tell about the audio before we decode it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import av


class MediaError(Exception):
    """The file is missing, unreadable or holds no decodable audio."""


@dataclass(frozen=True)
class AudioInfo:
    duration_sec: float
    sample_rate: int | None
    channels: int | None
    codec: str | None
    container_format: str | None
    bit_rate: int | None

    def as_dict(self) -> dict:
        """The fields by name; they are also the recording's column names."""
        return asdict(self)

    @classmethod
    def of_recording(cls, recording) -> AudioInfo:
        """What extract_metadata stored on the recording row."""
        return cls(**{field.name: getattr(recording, field.name) for field in fields(cls)})


def probe_audio(path: Path) -> AudioInfo:
    """Read the audio stream's properties and decode its first frame.

    Decoding one frame catches files whose header parses but whose data is not
    audio (random bytes, truncated headers) here, with a clear message, rather
    than deep inside transcription.
    """
    name = path.name
    if not path.exists():
        raise MediaError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise MediaError(f"{name} is empty (0 bytes)")
    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise MediaError(f"{name} has no audio stream")
            stream = streams[0]
            codec_context = stream.codec_context
            duration = None
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            first_frame = next(container.decode(stream), None)
            if first_frame is None:
                raise MediaError(f"{name} contains no decodable audio")
            return AudioInfo(
                duration_sec=float(duration or 0.0),
                sample_rate=codec_context.sample_rate or None,
                channels=codec_context.channels or None,
                codec=codec_context.name,
                container_format=container.format.name,
                bit_rate=container.bit_rate or codec_context.bit_rate or None,
            )
    except PermissionError:
        raise MediaError(f"no permission to read {path}") from None
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise MediaError(f"{name} is not readable audio: {exc}") from None
