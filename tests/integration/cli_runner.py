"""Run the real ``whisperops`` program in a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    env: dict[str, str],
    *args: str,
    cwd: Path | None = None,
    timeout: float = 120,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """``whisperops ARGS`` with ``env``; ``prefix`` wraps the command (e.g. setpriv)."""
    full_env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL"} and not key.startswith("WHISPEROPS_")
    }
    full_env.update(env)
    return subprocess.run(
        [*prefix, sys.executable, "-m", "whisperops", *args],
        env=full_env,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
