"""Where a recording's transcript files live under the output directory."""

from __future__ import annotations

import re
from pathlib import Path

from whisperops.models import Recording

# Formats store_results writes, in the order they are listed to operators.
OUTPUT_FORMATS = ("json", "srt", "vtt", "txt")


def output_paths(output_dir: Path, recording: Recording) -> dict[str, Path]:
    """The path of each output format for ``recording`` (files may not exist yet).

    The id prefix keeps two recordings with the same file name apart; the stem is
    reduced to safe characters so any file name maps to a valid output name.
    """
    stem = re.sub(r"[^\w.-]+", "_", Path(recording.file_name).stem).strip("._") or "recording"
    base = output_dir / f"{recording.id:06d}-{stem[:100]}"
    return {fmt: base.with_name(f"{base.name}.{fmt}") for fmt in OUTPUT_FORMATS}


def existing_output_files(output_dir: Path, recording: Recording) -> list[str]:
    return [str(path) for path in output_paths(output_dir, recording).values() if path.exists()]
