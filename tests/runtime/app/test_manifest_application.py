"""Refused manifests: the version, top-level keys, [application] and [variables]."""

from __future__ import annotations

from pathlib import Path

import pytest

from .manifest_helpers import COMPONENT, GOOD, TRIGGER, BadCase, assert_bad_manifest

BAD: list[BadCase] = [
    (
        "version missing",
        '[application]\nname = "a"\n' + TRIGGER + COMPONENT,
        "spin_manifest_version",
        "spin_manifest_version = 2",
    ),
    (
        "version 1",
        'spin_manifest_version = "1"\nname = "a"\n',
        "spin_manifest_version",
        "version 1 manifest",
    ),
    ("oldest version key", 'spin_version = "1"\nname = "a"\n', "spin_version", "version 1"),
    (
        "version as string",
        GOOD.replace("= 2", '= "2"'),
        "spin_manifest_version",
        'not the string "2"',
    ),
    (
        "version 3",
        GOOD.replace("= 2", "= 3"),
        "spin_manifest_version",
        "unsupported manifest version 3",
    ),
    (
        "version bool",
        GOOD.replace("= 2", "= true"),
        "spin_manifest_version",
        "unsupported manifest version true",
    ),
    ("unknown top-level key", "colour = 1\n" + GOOD, "colour", "unknown key in the manifest"),
    (
        "application missing",
        "spin_manifest_version = 2\n" + TRIGGER + COMPONENT,
        "application",
        "missing",
    ),
    (
        "application name missing",
        GOOD.replace('name = "app"\n', 'version = "1"\n'),
        "application.name",
        "missing",
    ),
    (
        "application name wrong type",
        GOOD.replace('name = "app"', "name = 7"),
        "application.name",
        "expected a string, found an integer",
    ),
    (
        "application name empty",
        GOOD.replace('name = "app"', 'name = ""'),
        "application.name",
        "must not be empty",
    ),
    (
        "authors a string",
        GOOD.replace('name = "app"', 'name = "app"\nauthors = "me"'),
        "application.authors",
        "expected an array of strings, found a string",
    ),
    (
        "application typo",
        GOOD.replace('name = "app"', 'name = "app"\ndescripton = "x"'),
        "application.descripton",
        "did you mean 'description'",
    ),
    (
        "http base",
        GOOD + '\n[application.trigger.http]\nbase = "/api"\n',
        "application.trigger.http.base",
        "prepend '/api'",
    ),
    (
        "http app trigger unknown key",
        GOOD + "\n[application.trigger.http]\nport = 1\n",
        "application.trigger.http.port",
        "unknown key",
    ),
    (
        "variable name uppercase",
        GOOD + '\n[variables]\nAPI_KEY = { default = "x" }\n',
        "variables.API_KEY",
        "must be all lowercase",
    ),
    (
        "variable name kebab",
        GOOD + '\n[variables]\napi-key = { default = "x" }\n',
        "variables.api-key",
        "separated with '_', not '-'",
    ),
    (
        "variable name digit word",
        GOOD + '\n[variables]\nkey_1 = { default = "x" }\n',
        "variables.key_1",
        "must start with an ASCII letter",
    ),
    (
        "variable required with default",
        GOOD + '\n[variables]\ntoken = { required = true, default = "x" }\n',
        "variables.token",
        "must not have a default",
    ),
    (
        "variable neither required nor default",
        GOOD + "\n[variables]\ntoken = { secret = true }\n",
        "variables.token",
        "needs a `default",
    ),
    (
        "variable not a table",
        GOOD + '\n[variables]\ntoken = "x"\n',
        "variables.token",
        "expected a table, found a string",
    ),
    (
        "variable default not a string",
        GOOD + "\n[variables]\nport = { default = 80 }\n",
        "variables.port.default",
        "expected a string, found an integer",
    ),
    (
        "variable required not a bool",
        GOOD + '\n[variables]\nx = { required = "yes" }\n',
        "variables.x.required",
        "expected a boolean",
    ),
    (
        "variable typo",
        GOOD + '\n[variables]\nx = { default = "a", secrett = true }\n',
        "variables.x.secrett",
        "did you mean 'secret'",
    ),
]


@pytest.mark.parametrize(("text", "key", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_manifest(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    assert_bad_manifest(tmp_path, text, key, fragment)
