"""The kinds of value a setting takes, as pydantic types: how each is parsed and shown.

Each type accepts what the variables have always accepted (comma-separated lists,
case-insensitive choices, 'auto' or a count); a parser's ValueError text is what
the operator reads after the setting's name. Secrets are :class:`MaskedSecret`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, BeforeValidator, SecretStr
from pydantic_settings import NoDecode


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


def mask_secret(value: str) -> str:
    """A secret setting as it may be shown: URLs keep all but the password, tokens nothing."""
    return mask_secret_url(value) if "://" in value else "***"


class MaskedSecret(SecretStr):
    """A secret setting; str() and repr() show it masked, get_secret_value() the real one."""

    def _display(self) -> str:  # pydantic's hook for how a secret is shown
        return mask_secret(self.get_secret_value())


def without_secrets(text: str, settings: BaseModel) -> str:
    """``text`` (a traceback, say) with every secret setting's secret part as ``***``."""
    for _name, value in settings:
        if not isinstance(value, MaskedSecret):
            continue
        plain = value.get_secret_value()
        secret = urlsplit(plain).password if "://" in plain else plain
        if secret:
            text = text.replace(secret, "***")
    return text


def _plain(raw: Any) -> Any:
    return raw.get_secret_value() if isinstance(raw, SecretStr) else raw


def _directory(raw: Any) -> Path:
    text = str(raw).strip()
    if not text:
        raise ValueError("expected a directory path")
    return Path(text).expanduser().absolute()


def _items(raw: Any, separator: str) -> list[str]:
    items = raw if isinstance(raw, list | tuple) else str(raw).split(separator)
    return [str(item).strip() for item in items if str(item).strip()]


def _directories(raw: Any) -> tuple[Path, ...]:
    return tuple(_directory(item) for item in _items(raw, os.pathsep))


def _extensions(raw: Any) -> tuple[str, ...]:
    result = []
    for item in _items(raw, ","):
        ext = item.lower()
        if not re.fullmatch(r"\.?[a-z0-9]+", ext):
            raise ValueError("expected comma-separated extensions such as .wav,.mp3")
        result.append(ext if ext.startswith(".") else f".{ext}")
    if not result:
        raise ValueError("expected at least one extension, such as .wav,.mp3")
    return tuple(result)


def _names(raw: Any) -> tuple[str, ...]:
    names = tuple(_items(raw, ","))
    if not names:
        raise ValueError("expected comma-separated names such as agent,customer")
    if len(set(names)) != len(names):
        raise ValueError("expected distinct names, one per channel")
    return names


def _regex(raw: Any) -> str:
    try:
        re.compile(str(raw))
    except re.error as exc:
        raise ValueError(f"expected a valid regular expression ({exc})") from None
    return str(raw)


def _text(raw: Any) -> str:
    if not str(raw).strip():
        raise ValueError("expected a non-empty value")
    return str(raw).strip()


def _optional_text(raw: Any) -> str | None:
    return None if raw is None else str(_plain(raw)).strip() or None


def _auto_or_count(minimum: int) -> Any:
    """'auto' (chosen by the worker's calibration) or an integer >= ``minimum``."""

    def parse(raw: Any) -> int | str:
        text = str(raw).strip().lower()
        if text == "auto":
            return "auto"
        if text.lstrip("-").isdigit() and int(text) >= minimum and not isinstance(raw, bool):
            return int(text)
        raise ValueError(f"expected 'auto' or an integer >= {minimum}")

    return Annotated[int | Literal["auto"], BeforeValidator(parse)]


def database_url(raw: Any) -> str:
    """Check a DATABASE_URL; returns it as given."""
    text = str(_plain(raw)).strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme == "sqlite" and len(text) > len("sqlite:///") and text.startswith("sqlite:///"):
        return text
    if scheme in {"postgresql", "postgres"} and urlsplit(text).path.strip("/"):
        return text
    raise ValueError("expected sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME")


def _redis_url(raw: Any) -> str | None:
    text = "" if raw is None else str(_plain(raw)).strip()
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


def _lower(raw: Any) -> Any:
    return raw.strip().lower() if isinstance(raw, str) else raw


def _upper(raw: Any) -> Any:
    return raw.strip().upper() if isinstance(raw, str) else raw


Choice = BeforeValidator(_lower)
"""Marks a Literal as case-insensitive, as the variables always were."""
Switch = Annotated[bool, BeforeValidator(_lower)]
Device = Annotated[Literal["auto", "cpu", "cuda"], Choice]
ComputeType = Annotated[
    Literal[
        "auto", "default", "int8", "int8_float32", "int8_float16", "int8_bfloat16",
        "int16", "float16", "bfloat16", "float32",
    ],
    Choice,
]  # fmt: skip
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)]
AutoOrPositive = _auto_or_count(1)
AutoOrCount = _auto_or_count(0)
Directory = Annotated[Path, BeforeValidator(_directory)]
Text = Annotated[str, BeforeValidator(_text)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]
Regex = Annotated[str, BeforeValidator(_regex)]
RedisUrl = Annotated[MaskedSecret | None, BeforeValidator(_redis_url)]
Token = Annotated[MaskedSecret | None, BeforeValidator(_optional_text)]
# NoDecode: lists are comma- (or ':'-) separated in the environment, not JSON.
Directories = Annotated[tuple[Path, ...], NoDecode, BeforeValidator(_directories)]
Extensions = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_extensions)]
Names = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_names)]
