"""A small tmpfs of the test's own, for a disk that really fills up."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import skip_unless_required
from tests.privileges import REQUIRE_FLAG

PAGE = 4096  # tmpfs counts its size in pages: a file of 1 to 4096 bytes takes one


@contextmanager
def small_tmpfs(folder: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (created), unmounted afterwards.

    Mounting needs root with CAP_SYS_ADMIN: without it the calling test is skipped
    with the reason, or failed under WHISPEROPS_REQUIRE_PRIVILEGES=1 (set by CI).
    """
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        skip_unless_required(REQUIRE_FLAG, "mount (util-linux) is not installed")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        said = mounted.stderr.strip().splitlines()[-1:] or [f"exit status {mounted.returncode}"]
        skip_unless_required(REQUIRE_FLAG, f"cannot mount a tmpfs: {said[0]}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "--lazy", str(folder)], check=True, timeout=30)


def fill(folder: Path, leave_pages: int = 0) -> list[Path]:
    """Fill the file system of ``folder`` with one-page files until it is full, then
    free ``leave_pages`` of them; returns the filler files left."""
    fillers: list[Path] = []
    while len(fillers) < 4096:  # 16 MiB: meant for a small tmpfs, not the real disk
        path = folder / f"filler-{len(fillers):04d}"
        try:
            with path.open("wb") as out:
                out.write(b"\0" * PAGE)
                out.flush()
                os.fsync(out.fileno())
        except OSError:
            path.unlink(missing_ok=True)
            break
        fillers.append(path)
    else:
        raise AssertionError(f"{folder} did not fill up: not a small file system")
    for path in fillers[:leave_pages]:
        path.unlink()
    return fillers[leave_pages:]
