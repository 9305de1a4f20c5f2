"""Tests of runtime.settings: defaults, validation and flags > env > .env > defaults."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runtime import settings as settings_module
from runtime.settings import (
    MAX_BODY_BYTES,
    WITH_SECRETS,
    Settings,
    default_cache_dir,
    default_workers,
    load_settings,
    parse_listen,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No EDGE_* from the developer's shell, a fresh cwd (for .env) and cache home."""
    for key in list(os.environ):
        if key.upper().startswith("EDGE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def dotenv(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


class TestDefaults:
    def test_defaults(self, tmp_path: Path) -> None:
        s = load_settings()
        assert s.manifest == Path("spin.toml")
        assert s.listen == "127.0.0.1:3000"
        assert s.state_dir == Path(".edge")
        assert s.regions == ["us-east", "eu-west", "ap-south"]
        assert s.default_region == "us-east"
        assert s.deadline_ms == 5000
        assert s.memory_limit_mb == 256
        assert s.max_body_bytes == MAX_BODY_BYTES == 10 * 1024 * 1024
        assert s.body_timeout == "10s"
        assert s.max_connections == 512
        assert s.pool_size == 1
        assert s.pooling is True and s.keep_resident_mb == 16
        assert s.log_level == "info"
        assert s.cache_dir == tmp_path / "xdg-cache" / "edge"
        assert s.workers == default_workers()

    def test_default_regions_are_not_shared_between_instances(self) -> None:
        a = load_settings()
        a.regions.append("x")
        assert load_settings().regions == ["us-east", "eu-west", "ap-south"]

    @pytest.mark.parametrize(("cpus", "workers"), [(1, 1), (2, 2), (4, 4), (16, 4), (None, 1)])
    def test_default_workers(
        self, monkeypatch: pytest.MonkeyPatch, cpus: int | None, workers: int
    ) -> None:
        monkeypatch.setattr(settings_module.os, "cpu_count", lambda: cpus)
        assert default_workers() == workers
        assert load_settings().workers == workers

    def test_cache_dir_without_xdg(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert default_cache_dir() == tmp_path / "home" / ".cache" / "edge"

    def test_relative_xdg_cache_home_is_ignored(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert load_settings().cache_dir == tmp_path / "home" / ".cache" / "edge"


class TestPrecedence:
    def test_env_beats_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EDGE_LISTEN", "0.0.0.0:8080")
        monkeypatch.setenv("EDGE_DEADLINE_MS", "250")
        s = load_settings()
        assert s.listen == "0.0.0.0:8080"
        assert s.deadline_ms == 250

    def test_dotenv_beats_default(self, tmp_path: Path) -> None:
        dotenv(tmp_path, "EDGE_LISTEN=127.0.0.1:4000", "EDGE_STATE_DIR=/tmp/edge-state")
        s = load_settings()
        assert s.listen == "127.0.0.1:4000"
        assert s.state_dir == Path("/tmp/edge-state")

    def test_env_beats_dotenv(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        dotenv(tmp_path, "EDGE_LISTEN=127.0.0.1:4000", "EDGE_POOL_SIZE=7")
        monkeypatch.setenv("EDGE_LISTEN", "127.0.0.1:5000")
        s = load_settings()
        assert s.listen == "127.0.0.1:5000"
        assert s.pool_size == 7  # not in the environment: .env still counts

    def test_flags_beat_env_and_dotenv(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        dotenv(tmp_path, "EDGE_LISTEN=127.0.0.1:4000", "EDGE_REGIONS=a,b")
        monkeypatch.setenv("EDGE_LISTEN", "127.0.0.1:5000")
        monkeypatch.setenv("EDGE_REGIONS", "c,d")
        s = load_settings(listen="127.0.0.1:6000", regions="e,f")
        assert s.listen == "127.0.0.1:6000"
        assert s.regions == ["e", "f"]

    def test_none_flags_are_ignored(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EDGE_WORKERS", "3")
        s = load_settings(workers=None, listen=None, manifest=None)
        assert s.workers == 3
        assert s.listen == "127.0.0.1:3000"
        assert s.manifest == Path("spin.toml")

    def test_env_names_are_case_insensitive(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("edge_log_level", "debug")
        assert load_settings().log_level == "debug"

    def test_no_dotenv(self, tmp_path: Path) -> None:
        dotenv(tmp_path, "EDGE_LISTEN=127.0.0.1:4000")
        assert load_settings(env_file=None).listen == "127.0.0.1:3000"

    def test_other_dotenv_file(self, tmp_path: Path) -> None:
        other = tmp_path / "conf" / "edge.env"
        other.parent.mkdir()
        other.write_text("EDGE_MEMORY_LIMIT_MB=64\n")
        assert load_settings(env_file=other).memory_limit_mb == 64

    def test_other_keys_in_dotenv_are_ignored(self, tmp_path: Path) -> None:
        dotenv(tmp_path, "SPIN_VARIABLE_TOKEN=x", "DATABASE_URL=y", "EDGE_WORKERS=2")
        assert load_settings().workers == 2

    def test_unknown_edge_key_is_warned_about(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        dotenv(tmp_path, "EDGE_LISTN=127.0.0.1:1")
        monkeypatch.setenv("EDGE_REGION", "eu-west")
        monkeypatch.setenv("EDGE_WORKER_SETTINGS", "{}")
        with caplog.at_level(logging.WARNING, logger="edge.settings"):
            s = load_settings()
        warned = " ".join(r.getMessage() for r in caplog.records)
        assert "EDGE_LISTN" in warned and "EDGE_REGION " in warned
        assert "EDGE_WORKER_SETTINGS" not in warned
        assert s.listen == "127.0.0.1:3000"

    def test_unknown_override_is_a_programming_error(self) -> None:
        with pytest.raises(TypeError, match="unknown settings: lag"):
            load_settings(lag="1s")

    def test_worker_handoff_round_trip(self) -> None:
        s = load_settings(regions="a,b", default_region="b", listen="[::1]:0")
        again = Settings.model_validate_json(s.model_dump_json())
        assert again == s
        assert again.default_region == "b"


class TestRegions:
    @pytest.mark.parametrize(
        ("value", "regions"),
        [
            ("us-east,eu-west", ["us-east", "eu-west"]),
            (" us-east , eu-west ", ["us-east", "eu-west"]),
            ("solo", ["solo"]),
            ("US-East,eu1", ["us-east", "eu1"]),
            ('["x", "y"]', ["x", "y"]),
        ],
    )
    def test_from_env(
        self, monkeypatch: pytest.MonkeyPatch, value: str, regions: list[str]
    ) -> None:
        monkeypatch.setenv("EDGE_REGIONS", value)
        s = load_settings()
        assert s.regions == regions
        assert s.default_region == regions[0]

    def test_list_from_code(self) -> None:
        assert load_settings(regions=["a", "b"]).regions == ["a", "b"]
        assert load_settings(regions=("c",)).regions == ["c"]

    def test_from_dotenv(self, tmp_path: Path) -> None:
        dotenv(tmp_path, "EDGE_REGIONS=ap-south,us-east")
        assert load_settings().regions == ["ap-south", "us-east"]

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("", "at least one region"),
            ("a,,b", "empty"),
            ("a,", "empty"),
            ("us_east", "not a DNS label"),
            ("-east", "not a DNS label"),
            ("east-", "not a DNS label"),
            ("a.b", "not a DNS label"),
            ("x" * 64, "not a DNS label"),
            ("a,b,a", "more than once: a"),
            ("A,a", "more than once: a"),
        ],
    )
    def test_invalid(self, value: str, message: str) -> None:
        with pytest.raises(ValidationError) as info:
            load_settings(regions=value)
        assert "regions" in str(info.value)
        assert message in str(info.value)

    def test_longest_label(self) -> None:
        assert load_settings(regions="x" * 63).regions == ["x" * 63]

    def test_default_region_must_be_a_region(self) -> None:
        with pytest.raises(ValidationError, match="'mars' is not one of the regions"):
            load_settings(regions="a,b", default_region="mars")

    def test_default_region_from_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EDGE_DEFAULT_REGION", "EU-West")
        assert load_settings().default_region == "eu-west"


class TestValidation:
    @pytest.mark.parametrize(
        ("value", "normalised"),
        [
            ("127.0.0.1:3000", "127.0.0.1:3000"),
            ("localhost:80", "localhost:80"),
            ("0.0.0.0:0", "0.0.0.0:0"),
            ("[::1]:3000", "[::1]:3000"),
            (" example.test:65535 ", "example.test:65535"),
        ],
    )
    def test_good_listen(self, value: str, normalised: str) -> None:
        assert load_settings(listen=value).listen == normalised

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("3000", "expected HOST:PORT"),
            (":3000", "expected HOST:PORT"),
            ("localhost", "expected HOST:PORT"),
            ("localhost:", "port must be a number"),
            ("localhost:http", "port must be a number"),
            ("localhost:65536", "port must be a number"),
            ("localhost:-1", "port must be a number"),
            ("::1:3000", "in brackets"),
            ("[nope]:3000", "not an IPv6 address"),
            ("bad host:1", "not a host name"),
        ],
    )
    def test_bad_listen(self, value: str, message: str) -> None:
        with pytest.raises(ValidationError) as info:
            load_settings(listen=value)
        assert "listen" in str(info.value)
        assert message in str(info.value)

    def test_parse_listen(self) -> None:
        assert parse_listen("[::]:8080") == ("[::]", 8080)
        assert parse_listen("127.0.0.1:3000") == ("127.0.0.1", 3000)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("deadline_ms", 0),
            ("deadline_ms", -5),
            ("memory_limit_mb", 0),
            ("max_body_bytes", 0),
            ("workers", 0),
            ("pool_size", -1),
            ("max_connections", 0),
        ],
    )
    def test_limits_must_be_positive(self, field: str, value: int) -> None:
        with pytest.raises(ValidationError) as info:
            overrides: dict[str, Any] = {field: value}
            load_settings(**overrides)
        assert field in str(info.value)

    @pytest.mark.parametrize(("value", "message"), [("0s", "longer than 0"), ("soon", "not a")])
    def test_bad_body_timeout(self, value: str, message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            load_settings(body_timeout=value)

    def test_body_timeout_and_connections_from_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EDGE_BODY_TIMEOUT", "2.5s")
        monkeypatch.setenv("EDGE_MAX_CONNECTIONS", "64")
        s = load_settings()
        assert (s.body_timeout, s.max_connections) == ("2.5s", 64)

    def test_worker_timeout_must_exceed_the_deadline(self) -> None:
        assert load_settings(worker_timeout="2s", deadline_ms=1000).worker_timeout == "2s"
        with pytest.raises(ValidationError, match="must be longer than the request deadline"):
            load_settings(worker_timeout="5s")  # the default deadline is 5000 ms
        with pytest.raises(ValidationError, match="worker_timeout"):
            load_settings(worker_timeout="soon")

    def test_pool_size_zero_is_allowed(self) -> None:
        assert load_settings(pool_size=0).pool_size == 0

    def test_number_from_env_must_be_a_number(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EDGE_DEADLINE_MS", "fast")
        with pytest.raises(ValidationError, match="deadline_ms"):
            load_settings()

    @pytest.mark.parametrize(
        ("value", "level"),
        [
            ("INFO", "info"),
            ("debug", "debug"),
            ("Warn", "warning"),
            ("error", "error"),
        ],
    )
    def test_log_level(self, value: str, level: str) -> None:
        assert load_settings(log_level=value).log_level == level

    def test_bad_log_level(self) -> None:
        with pytest.raises(ValidationError, match="log level must be one of"):
            load_settings(log_level="loud")

    def test_paths(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        s = load_settings(manifest="~/app/spin.toml", state_dir=tmp_path / "st", cache_dir="~/cc")
        assert s.manifest == tmp_path / "home" / "app" / "spin.toml"
        assert s.state_dir == tmp_path / "st"
        assert s.cache_dir == tmp_path / "home" / "cc"


class TestSameOriginSettings:
    def test_allowed_hosts_from_env_and_flags(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EDGE_ALLOWED_HOSTS", "Dev.Example.com, other.example.")
        assert load_settings().allowed_hosts == ["dev.example.com", "other.example"]
        assert load_settings(allowed_hosts=["a.test"]).allowed_hosts == ["a.test"]
        assert load_settings(allowed_hosts=None).allowed_hosts == [
            "dev.example.com",
            "other.example",
        ]

    def test_allowed_hosts_must_be_names(self) -> None:
        with pytest.raises(ValidationError, match="is not a host name"):
            load_settings(allowed_hosts=["http://x"])

    def test_admin_token_falls_back_to_the_hrana_token(self) -> None:
        assert load_settings().admin_secret is None
        assert load_settings(hrana_token="h").admin_secret == "h"
        assert load_settings(hrana_token="h", admin_token="a").admin_secret == "a"

    def test_tokens_are_masked_except_in_the_worker_handoff(self) -> None:
        s = load_settings(admin_token="adm1n", hrana_token="hr4na")
        assert "adm1n" not in s.model_dump_json() and "hr4na" not in repr(s)
        again = Settings.model_validate_json(s.model_dump_json(context=WITH_SECRETS))
        assert again.admin_secret == "adm1n"
        assert again.hrana_token is not None and again.hrana_token.get_secret_value() == "hr4na"
