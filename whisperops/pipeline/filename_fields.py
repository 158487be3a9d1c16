"""parse_metadata: fields from the file name by a configurable regex."""

from __future__ import annotations

import re
from pathlib import Path


def parse_filename_fields(file_name: str, pattern: str) -> dict[str, str]:
    """Named groups of ``pattern`` found in the file name's stem; {} when it doesn't match."""
    match = re.search(pattern, Path(file_name).stem)
    if match is None:
        return {}
    return {name: value for name, value in match.groupdict().items() if value is not None}
