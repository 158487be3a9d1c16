"""Running a command so that file permissions apply to it, even when tests run as root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def without_read_override(scratch: Path) -> tuple[str, ...]:
    """A command prefix under which a file's read permission is enforced.

    Root reads any file whatever its mode; `setpriv` runs the command without that
    capability (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), still as root otherwise.
    Empty for other users, who are bound by permissions anyway.
    """
    if os.getuid() != 0:
        return ()
    drop = "-dac_override,-dac_read_search"
    prefix = ("setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}")
    probe = scratch / "permission-probe"
    probe.write_text("x")
    probe.chmod(0o000)
    code = f"open({str(probe)!r}).read()"
    denied = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True)
    if denied.returncode == 0:
        pytest.skip("cannot drop root's read override here (setpriv)")
    return prefix
