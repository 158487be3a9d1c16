"""Running a command so that file permissions apply to it, even when tests run as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import skip_unless_required

REQUIRE_FLAG = "WHISPEROPS_REQUIRE_PRIVILEGES"
DENIED = 13  # the probe's exit status when its read was refused


def without_read_override(scratch: Path) -> tuple[str, ...]:
    """A command prefix under which a file's read permission is enforced.

    Root reads any file whatever its mode; `setpriv` runs the command without that
    capability (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), still as root otherwise.
    Empty for other users, who are bound by permissions anyway. Where setpriv is
    missing or cannot drop them, the calling test is skipped with the reason, or
    failed under WHISPEROPS_REQUIRE_PRIVILEGES=1 (set by CI).
    """
    if os.getuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        skip_unless_required(REQUIRE_FLAG, "setpriv (util-linux) is not installed")
    drop = "-dac_override,-dac_read_search"
    prefix = ("setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}")
    probe = scratch / "permission-probe"
    probe.write_text("x")
    probe.chmod(0o000)
    code = (
        "import sys\n"
        f"try:\n    open({str(probe)!r}).read()\n"
        f"except PermissionError:\n    sys.exit({DENIED})\n"
    )
    denied = subprocess.run(
        [*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    probe.unlink()
    if denied.returncode != DENIED:
        said = denied.stderr.strip().splitlines()[-1:] or ["the file was read all the same"]
        skip_unless_required(REQUIRE_FLAG, f"setpriv cannot drop root's read override: {said[0]}")
    return prefix
