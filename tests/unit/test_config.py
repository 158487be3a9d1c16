from pathlib import Path

import pytest

from whisperops.config import load_settings, mask_secret_url
from whisperops.errors import ConfigError


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = load_settings(environ={"HOME": str(tmp_path)})
    data_dir = tmp_path / ".local" / "share" / "whisperops"
    assert settings.data_dir == data_dir
    assert settings.database_url == f"sqlite:///{data_dir / 'whisperops.db'}"
    assert settings.redis_url is None
    assert settings.inbox_dir == data_dir / "inbox"
    assert settings.output_dir == data_dir / "output"
    assert settings.sweep_interval_sec == 120
    assert settings.stuck_processing_threshold_sec == 900
    assert settings.max_retries == 3
    assert settings.model == "bundled"


def test_environment_overrides_config_file(tmp_path: Path) -> None:
    config = tmp_path / "whisperops.toml"
    config.write_text('sweep_interval_sec = 60\nmax_retries = 5\ncompute_type = "float32"\n')
    settings = load_settings(
        environ={"WHISPEROPS_DATA_DIR": str(tmp_path), "WHISPEROPS_MAX_RETRIES": "1"},
        config_file=config,
    )
    assert settings.sweep_interval_sec == 60
    assert settings.max_retries == 1
    assert settings.compute_type == "float32"
    assert settings.config_file == config


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'inbox_dir = "{tmp_path / "in"}"\n')
    settings = load_settings(environ={"WHISPEROPS_CONFIG": str(config), "HOME": str(tmp_path)})
    assert settings.inbox_dir == tmp_path / "in"


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("WHISPEROPS_SWEEP_INTERVAL_SEC", "soon", "expected an integer >= 1"),
        ("WHISPEROPS_MAX_RETRIES", "-1", "expected an integer >= 0"),
        ("WHISPEROPS_DEVICE", "tpu", "expected one of: auto, cpu, cuda"),
        ("DATABASE_URL", "mysql://db/x", "expected sqlite:///PATH or postgresql://"),
        ("REDIS_URL", "http://cache", "expected redis://"),
        ("WHISPEROPS_FILENAME_REGEX", "(?P<x", "expected a valid regular expression"),
        ("WHISPEROPS_AUDIO_EXTENSIONS", "wav,??", "expected comma-separated extensions"),
    ],
)
def test_bad_value_is_one_line_naming_setting_and_allowed(
    tmp_path: Path, variable: str, value: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"HOME": str(tmp_path), variable: value})
    message = str(caught.value)
    assert "\n" not in message
    assert variable in message
    assert allowed in message


def test_bad_value_in_file_names_file_and_setting(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('heartbeat_interval_sec = "often"\n')
    with pytest.raises(ConfigError, match=r"heartbeat_interval_sec \(config file .*c.toml\)"):
        load_settings(environ={"HOME": str(tmp_path)}, config_file=config)


def test_unknown_key_in_file_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("sweep_intervall_sec = 5\n")
    with pytest.raises(ConfigError, match="unknown setting 'sweep_intervall_sec'"):
        load_settings(environ={"HOME": str(tmp_path)}, config_file=config)


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"HOME": str(tmp_path)}, config_file=tmp_path / "nope.toml")


def test_passwords_are_masked_in_repr_and_errors(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "HOME": str(tmp_path),
            "DATABASE_URL": "postgresql://ops:hunter2@db.internal:5432/whisper",
            "REDIS_URL": "redis://:s3cret@cache:6379/0",
        }
    )
    shown = repr(settings)
    assert "hunter2" not in shown and "s3cret" not in shown
    assert "postgresql://ops:***@db.internal:5432/whisper" in shown
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"HOME": str(tmp_path), "REDIS_URL": "http://u:topsecret@x"})
    assert "topsecret" not in str(caught.value)


def test_mask_secret_url_keeps_urls_without_password() -> None:
    assert mask_secret_url("redis://cache:6379/0") == "redis://cache:6379/0"
    assert mask_secret_url("redis://:pw@cache:6379/0") == "redis://:***@cache:6379/0"
