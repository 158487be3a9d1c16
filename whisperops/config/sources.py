"""Where settings come from, and how a rejected one is reported.

pydantic-settings reads the environment and the TOML file; this module adds what
whisperops promises on top of it: the environment is an argument (tests and
child processes pass their own), a renamed setting's old name still works with a
warning, and a rejected value is one line naming where it came from,
``bad setting NAME (source) = 'value': expected ...``, secrets masked.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, TomlConfigSettingsSource

from whisperops.config.types import MaskedSecret, mask_secret
from whisperops.errors import ConfigError

log = logging.getLogger(__name__)

DEPRECATED_NAMES = {"watcher_stable_seconds": "watcher_stable_sec"}
"""Old setting name -> new name; the old variable and TOML key still work, with a warning."""


def env_name(settings_cls: type[BaseSettings], name: str) -> str:
    """The environment variable that sets ``name``: its alias, else PREFIX + NAME."""
    field = settings_cls.model_fields.get(name)  # None: an old, renamed name
    if field is not None and isinstance(field.validation_alias, str):
        return field.validation_alias
    return settings_cls.model_config.get("env_prefix", "") + name.upper()


def _warn_renamed(old: str, new: str) -> None:
    log.warning("%s is deprecated and will be removed; use %s instead", old, new)


class EnvironmentSource(EnvSettingsSource):
    """The environment variables of ``environ`` (os.environ unless a caller passes its own)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.renamed: dict[str, str] = {}  # new setting name -> the old variable that set it
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The one override: read the given mapping; names match case-insensitively,
        # as pydantic-settings does with os.environ.
        env_vars: dict[str, str | None] = {
            key.lower(): value for key, value in self.environ.items()
        }
        for old, new in DEPRECATED_NAMES.items():
            old_var, new_var = (env_name(self.settings_cls, name) for name in (old, new))
            if old_var.lower() in env_vars:
                _warn_renamed(old_var, new_var)
                if new_var.lower() not in env_vars:
                    env_vars[new_var.lower()] = env_vars[old_var.lower()]
                    self.renamed[new] = old_var
        return env_vars

    def origin(self, name: str) -> str | None:
        """The variable that set ``name``, as the operator spelled it; None if none did."""
        if name in self.renamed:
            return self.renamed[name]
        wanted = env_name(self.settings_cls, name).lower()
        return next((key for key in self.environ if key.lower() == wanted), None)


class ConfigFileSource(TomlConfigSettingsSource):
    """The TOML config file; a missing, unreadable or misspelt one stops the program."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, known: Iterable[str]) -> None:
        self.path = path
        self.known = tuple(known)
        self.renamed: dict[str, str] = {}  # new setting name -> the old key that set it
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        if not path.is_file():
            raise ConfigError(f"config file {path} is not a file")
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Path) -> dict[str, Any]:  # type: ignore[override]
        try:
            data = super()._read_file(file_path)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {file_path} is not readable TOML: {exc}") from None
        for old, new in DEPRECATED_NAMES.items():
            if old in data:
                _warn_renamed(f"{old} (config file {file_path})", new)
                value = data.pop(old)
                if new not in data:
                    data[new] = value
                    self.renamed[new] = old
        unknown = sorted(set(data) - set(self.known))
        if unknown:
            raise ConfigError(
                f"unknown setting {unknown[0]!r} in config file {file_path}; "
                f"known settings: {', '.join(self.known)}"
            )
        return data

    def origin(self, name: str) -> str:
        """The key that set ``name`` and where."""
        return f"{self.renamed.get(name, name)} (config file {self.path})"


def _expected(error: Any, field: FieldInfo) -> str:
    """What a field accepts, in the words the variables have always used."""
    if error["type"] == "value_error":  # our parsers say it themselves
        return str(error["ctx"]["error"])
    if get_origin(field.annotation) is Literal:  # choices are case-insensitive
        return "expected one of: " + ", ".join(str(c).lower() for c in get_args(field.annotation))
    if field.annotation is bool:
        return "expected one of true/false, yes/no, on/off, 1/0"
    if field.annotation is int:
        minimum = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
        return "expected an integer" + ("" if minimum is None else f" >= {minimum}")
    return f"expected {error['msg'][0].lower()}{error['msg'][1:]}"


def config_error(
    exc: ValidationError, settings_cls: type[BaseSettings], origin: Callable[[str], str]
) -> ConfigError:
    """The first problem in ``exc`` as one line; ``origin(name)`` says where a value came from."""
    error = exc.errors()[0]
    if not error["loc"]:  # a check across settings; its message names them
        return ConfigError(f"bad setting {error['ctx']['error']}")
    by_key = {
        field.validation_alias if isinstance(field.validation_alias, str) else name: name
        for name, field in settings_cls.model_fields.items()
    }
    name = by_key.get(str(error["loc"][0]), str(error["loc"][0]))
    field = settings_cls.model_fields.get(name)
    if field is None:
        return ConfigError(f"unknown setting {name!r}")
    shown = str(
        error["input"].get_secret_value()
        if isinstance(error["input"], SecretStr)
        else error["input"]
    )
    if MaskedSecret in (field.annotation, *get_args(field.annotation)):
        shown = mask_secret(shown)
    return ConfigError(f"bad setting {origin(name)} = {shown!r}: {_expected(error, field)}")
