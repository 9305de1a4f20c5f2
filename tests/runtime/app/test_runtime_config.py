"""Spin's runtime config file as `edge up` reads it: libSQL databases, errors, hidden tokens."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from runtime.app.runtime_config import (
    LibsqlDatabase,
    RuntimeConfigError,
    display_url,
    load_runtime_config,
    parse_runtime_config,
    token_env_name,
)
from runtime.errors import EdgeError
from runtime.settings import unknown_edge_keys

TOKEN = "eyJ-very-secret-token"

LIBSQL = f"""
[sqlite_database.default]
type = "libsql"
url = "https://my-db.turso.io"
token = "{TOKEN}"
"""


def parse(text: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_runtime_config(text, "rc.toml", env or {})


def error(text: str, env: dict[str, str] | None = None) -> RuntimeConfigError:
    with pytest.raises(RuntimeConfigError) as info:
        parse(text, env)
    return info.value


class TestValid:
    def test_libsql_database(self) -> None:
        config = parse(LIBSQL)
        db = config.libsql["default"]
        assert (db.label, db.url, db.token) == ("default", "https://my-db.turso.io", TOKEN)
        assert config.local_sqlite == ()
        assert config.notes == ()

    def test_empty_file_configures_nothing(self) -> None:
        config = parse("")
        assert dict(config.libsql) == {} and config.local_sqlite == ()

    def test_several_databases_local_and_remote(self) -> None:
        config = parse(
            LIBSQL + '\n[sqlite_database.audit]\ntype = "spin"\npath = "/tmp/audit.db"\n'
            '\n[sqlite_database.archive]\ntype = "libsql"\nurl = "http://127.0.0.1:8080"\n'
            'token = ""\n'
        )
        assert sorted(config.libsql) == ["archive", "default"]
        assert config.libsql["archive"].url == "http://127.0.0.1:8080"
        assert config.local_sqlite == ("audit",)
        assert any("sqlite_database.audit.path is ignored" in n for n in config.notes)

    def test_spin_key_value_store_is_accepted(self) -> None:
        config = parse('[key_value_store.default]\ntype = "spin"\npath = ".spin/kv.db"\n')
        assert any("key_value_store.default.path is ignored" in n for n in config.notes)

    def test_other_spin_sections_are_ignored_with_a_note(self) -> None:
        config = parse(
            'state_dir = ".spin"\n[[variables_provider]]\ntype = "env"\n'
            '[llm_compute]\ntype = "spin"\n'
        )
        assert len(config.notes) == 3
        assert all("not used by edge up" in n for n in config.notes)

    def test_token_from_the_environment_wins(self) -> None:
        config = parse(LIBSQL, {"EDGE_SQL_TOKEN_DEFAULT": "from-env"})
        assert config.libsql["default"].token == "from-env"
        assert any("taken from EDGE_SQL_TOKEN_DEFAULT" in n for n in config.notes)

    def test_token_only_in_the_environment(self) -> None:
        text = '[sqlite_database.user-data]\ntype = "libsql"\nurl = "https://x.turso.io"\n'
        config = parse(text, {"EDGE_SQL_TOKEN_USER_DATA": "t"})
        assert config.libsql["user-data"].token == "t"
        assert any("Spin itself needs `token`" in n for n in config.notes)

    def test_token_env_name(self) -> None:
        assert token_env_name("user-data") == "EDGE_SQL_TOKEN_USER_DATA"
        assert token_env_name("default") == "EDGE_SQL_TOKEN_DEFAULT"

    def test_load_reads_the_file(self, tmp_path: Path) -> None:
        file = tmp_path / "runtime-config.toml"
        file.write_text(LIBSQL)
        config = load_runtime_config(file, env={})
        assert config.path == file
        assert config.libsql["default"].url == "https://my-db.turso.io"

    def test_summary_names_url_not_token(self) -> None:
        lines = parse(LIBSQL + '[sqlite_database.audit]\ntype = "spin"\n').summary()
        text = "\n".join(lines)
        assert "'default' -> https://my-db.turso.io" in text
        assert "'audit' -> local" in text
        assert TOKEN not in text


class TestTokenHidden:
    def test_repr_and_str(self) -> None:
        config = parse(LIBSQL)
        for text in (repr(config), str(config), repr(config.libsql["default"])):
            assert TOKEN not in text
        assert "token=<hidden>" in repr(config.libsql["default"])

    def test_not_in_errors_about_the_entry(self) -> None:
        err = error(LIBSQL + "extra = 1\n")
        assert TOKEN not in str(err)
        err = error(LIBSQL.replace("https://my-db.turso.io", "libsql://my-db.turso.io"))
        assert TOKEN not in str(err)

    def test_query_string_never_shown(self) -> None:
        url = f"https://my-db.turso.io?authToken={TOKEN}"
        err = error(LIBSQL.replace("https://my-db.turso.io", url))
        assert err.key == "sqlite_database.default.url"
        assert TOKEN not in str(err)
        db = LibsqlDatabase("x", url, "t")
        assert TOKEN not in repr(db)

    def test_display_url(self) -> None:
        assert display_url("https://u:p@h.io:8080/db?authToken=x#f") == "https://h.io:8080/db"


class TestErrors:
    def test_error_names_file_key_and_line(self) -> None:
        err = error(LIBSQL + "tokn = 1\n")
        assert err.key == "sqlite_database.default.tokn"
        assert err.line == 6
        assert "did you mean 'token'?" in err.message
        assert str(err).startswith("rc.toml:6: sqlite_database.default.tokn: ")
        assert isinstance(err, EdgeError)

    def test_libsql_url_is_refused_as_spin_does(self) -> None:
        err = error(LIBSQL.replace("https://", "libsql://"))
        assert err.key == "sqlite_database.default.url"
        assert "write 'https://my-db.turso.io'" in err.message

    @pytest.mark.parametrize("url", ["my-db.turso.io", "file:local.db", "HTTPS://x.io", "ftp://x"])
    def test_url_must_be_http_or_https(self, url: str) -> None:
        err = error(LIBSQL.replace("https://my-db.turso.io", url))
        assert "must start with https:// or http://" in err.message

    def test_url_needs_a_host(self) -> None:
        err = error(LIBSQL.replace("https://my-db.turso.io", "https:///path"))
        assert err.message == "has no host name"

    @pytest.mark.parametrize(
        ("text", "key", "words"),
        [
            ('[sqlite_database.default]\nurl = "https://x.io"\n', "type", "missing: the type"),
            ('[sqlite_database.default]\ntype = "libsql"\ntoken = "t"\n', "url", "missing"),
            (
                '[sqlite_database.default]\ntype = "libsql"\nurl = "https://x.io"\n',
                "token",
                "or set EDGE_SQL_TOKEN_DEFAULT",
            ),
            ('[sqlite_database.default]\ntype = "postgres"\n', "type", "unknown database type"),
            ("[sqlite_database.default]\ntype = 3\n", "type", "expected a string"),
            ('[sqlite_database.default]\ntype = "spin"\npath = 1\n', "path", "expected a string"),
            ('[sqlite_database.default]\ntype = "spin"\nurl = "x"\n', "url", "unknown key"),
            (
                '[sqlite_database.default]\ntype = "libsql"\nurl = "https://x.io"\ntoken = 5\n',
                "token",
                "expected a string, found an integer",
            ),
        ],
    )
    def test_sqlite_database_entry(self, text: str, key: str, words: str) -> None:
        err = error(text)
        assert err.key == f"sqlite_database.default.{key}"
        assert words in err.message

    def test_sqlite_database_must_be_a_table(self) -> None:
        err = error('sqlite_database = "default"\n')
        assert err.key == "sqlite_database"
        assert err.message == "expected a table, found a string"

    def test_other_key_value_store_types_are_refused(self) -> None:
        err = error('[key_value_store.default]\ntype = "redis"\nurl = "redis://localhost"\n')
        assert err.key == "key_value_store.default.type"
        assert "not supported by edge up" in err.message

    def test_unknown_top_level_key(self) -> None:
        err = error("[sqlite_databases.default]\ntype = 'spin'\n")
        assert err.key == "sqlite_databases"
        assert "did you mean 'sqlite_database'?" in err.message

    def test_invalid_toml(self) -> None:
        err = error("[sqlite_database.default\n")
        assert err.key == "" and err.line == 1
        assert err.message.startswith("invalid TOML: ")

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(RuntimeConfigError, match="no such file"):
            load_runtime_config(tmp_path / "nope.toml", env={})

    def test_error_survives_pickling(self) -> None:
        err = error(LIBSQL + "tokn = 1\n")
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is RuntimeConfigError and str(copy) == str(err)


def test_token_variables_are_not_unknown_settings() -> None:
    env = {"EDGE_SQL_TOKEN_DEFAULT": "x", "EDGE_TYPO": "y", "EDGE_RUNTIME_CONFIG_FILE": "rc"}
    assert unknown_edge_keys(env, None) == ["EDGE_TYPO"]


def test_outbound_redis_max_connections() -> None:
    config = parse("[outbound_redis]\nmax_connections = 3\n")
    assert config.redis_max_connections == 3
    assert "outbound Redis: at most 3 connections" in "\n".join(config.summary())
    assert parse("[outbound_redis]\n").redis_max_connections is None
    assert parse("").redis_max_connections is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[outbound_redis]\nmax_connections = -1\n", "outbound_redis.max_connections"),
        ('[outbound_redis]\nmax_connections = "3"\n', "outbound_redis.max_connections"),
        ("[outbound_redis]\nmax_conns = 3\n", "outbound_redis.max_conns"),
    ],
)
def test_bad_outbound_redis(text: str, key: str) -> None:
    assert error(text).key == key
