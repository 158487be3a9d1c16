import logging
from pathlib import Path

import pytest

from whisperops.config import load_settings, mask_secret_url, without_secrets
from whisperops.errors import ConfigError


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = load_settings(environ={"HOME": str(tmp_path)})
    data_dir = tmp_path / ".local" / "share" / "whisperops"
    assert settings.data_dir == data_dir
    assert settings.database_url.get_secret_value() == f"sqlite:///{data_dir / 'whisperops.db'}"
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


def test_literal_choice_error_is_one_line_listing_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"HOME": str(tmp_path), "WHISPEROPS_COMPUTE_TYPE": "int4"})
    assert str(caught.value) == (
        "bad setting WHISPEROPS_COMPUTE_TYPE (environment) = 'int4': expected one of: auto, "
        "default, int8, int8_float32, int8_float16, int8_bfloat16, int16, float16, bfloat16, "
        "float32"
    )
    shouted = load_settings(
        environ={
            "HOME": str(tmp_path),
            "WHISPEROPS_DEVICE": "CUDA",
            "WHISPEROPS_LOG_LEVEL": "debug",
        }
    )
    assert (shouted.device, shouted.log_level) == ("cuda", "DEBUG")


def test_database_and_redis_urls_keep_their_conventional_names(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'database_url = "sqlite:///from-file.db"\nredis_url = "redis://file:6379/0"\n'
    )
    from_file = load_settings(environ={"HOME": str(tmp_path)}, config_file=config)
    assert from_file.database_url.get_secret_value() == "sqlite:///from-file.db"
    assert from_file.redis_url.get_secret_value() == "redis://file:6379/0"
    environ = {
        "HOME": str(tmp_path),
        "DATABASE_URL": "sqlite:///from-env.db",
        "REDIS_URL": "redis://env:6379/1",
        "WHISPEROPS_DATABASE_URL": "sqlite:///not-read.db",
    }
    settings = load_settings(environ=environ, config_file=config)
    assert settings.database_url.get_secret_value() == "sqlite:///from-env.db"
    assert settings.redis_url.get_secret_value() == "redis://env:6379/1"


def test_config_file_sits_between_defaults_and_environment(tmp_path: Path) -> None:
    chosen, other = tmp_path / "chosen.toml", tmp_path / "other.toml"
    chosen.write_text("max_retries = 7\nbeam_size = 2\nvad_filter = false\n")
    other.write_text("max_retries = 1\n")
    environ = {"HOME": str(tmp_path), "WHISPEROPS_CONFIG": str(other), "WHISPEROPS_BEAM_SIZE": "3"}
    settings = load_settings(environ=environ, config_file=chosen)  # --config beats the variable
    assert (settings.max_retries, settings.beam_size, settings.vad_filter) == (7, 3, False)
    assert settings.sweep_interval_sec == 120  # neither sets it: the default
    assert load_settings(environ=environ).max_retries == 1


def test_only_the_given_environment_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://from-process:6379/0")
    monkeypatch.setenv("WHISPEROPS_MAX_RETRIES", "9")
    settings = load_settings(environ={"HOME": str(tmp_path)})
    assert settings.redis_url is None and settings.max_retries == 3


def test_secrets_do_not_leak_through_repr_str_or_config_listing(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "HOME": str(tmp_path),
            "DATABASE_URL": "postgresql://ops:hunter2@db:5432/whisper",
            "WHISPEROPS_HF_TOKEN": "hf_t0ken",
        }
    )
    for shown in (repr(settings), str(settings), str(settings.public_items())):
        assert "hunter2" not in shown and "hf_t0ken" not in shown
    assert f"{settings.database_url}" == "postgresql://ops:***@db:5432/whisper"
    assert str(settings.hf_token) == "***"
    assert settings.database_url.get_secret_value() == "postgresql://ops:hunter2@db:5432/whisper"
    traceback = "could not connect to postgresql://ops:hunter2@db:5432/whisper with hf_t0ken"
    assert without_secrets(traceback, settings) == (
        "could not connect to postgresql://ops:***@db:5432/whisper with ***"
    )


def test_watcher_stable_seconds_still_works_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = {"HOME": str(tmp_path), "WHISPEROPS_WATCHER_STABLE_SECONDS": "9"}
    with caplog.at_level(logging.WARNING):
        assert load_settings(environ=old).watcher_stable_sec == 9
    assert "WHISPEROPS_WATCHER_STABLE_SECONDS is deprecated" in caplog.text
    assert "use WHISPEROPS_WATCHER_STABLE_SEC instead" in caplog.text
    both = {**old, "WHISPEROPS_WATCHER_STABLE_SEC": "4"}
    assert load_settings(environ=both).watcher_stable_sec == 4  # the new name wins
    with pytest.raises(ConfigError, match=r"^bad setting WHISPEROPS_WATCHER_STABLE_SECONDS \("):
        load_settings(environ={**old, "WHISPEROPS_WATCHER_STABLE_SECONDS": "soon"})

    config = tmp_path / "c.toml"
    config.write_text("watcher_stable_seconds = 11\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        from_file = load_settings(environ={"HOME": str(tmp_path)}, config_file=config)
    assert from_file.watcher_stable_sec == 11
    assert "watcher_stable_seconds (config file" in caplog.text
    assert "use watcher_stable_sec instead" in caplog.text


def test_replace_parses_like_the_environment(tmp_path: Path) -> None:
    settings = load_settings(environ={"HOME": str(tmp_path)})
    changed = settings.replace(redis_url="redis://:pw@cache:6379/2", worker_processes="2")
    assert changed.redis_url.get_secret_value() == "redis://:pw@cache:6379/2"
    assert changed.worker_processes == 2 and settings.worker_processes == "auto"
    with pytest.raises(ConfigError, match="bad setting worker_processes = 'many': expected 'auto'"):
        settings.replace(worker_processes="many")
