"""Refused manifests: [component.<id>] ids, sources, stores, variables, files and build."""

from __future__ import annotations

from pathlib import Path

import pytest

from .manifest_helpers import GOOD, HEAD, TRIGGER, BadCase, assert_bad_manifest

BAD: list[BadCase] = [
    (
        "component id snake",
        HEAD + TRIGGER.replace('"web"', '"my-web"') + '\n[component.my_web]\nsource = "w.wasm"\n',
        "component.my_web",
        "separated with '-', not '_'",
    ),
    (
        "component id mixed case",
        HEAD + '\n[component.myWeb]\nsource = "w.wasm"\n' + TRIGGER,
        "component.myWeb",
        "all lowercase or all UPPERCASE",
    ),
    (
        "source missing",
        HEAD + TRIGGER + '\n[component.web]\ndescription = "x"\n',
        "component.web.source",
        "missing",
    ),
    (
        "source url",
        HEAD
        + TRIGGER
        + '\n[component.web]\nsource = { url = "https://x.test/a.wasm", digest = "sha256:00" }\n',
        "component.web.source",
        "from a URL is not supported",
    ),
    (
        "source registry",
        HEAD
        + TRIGGER
        + '\n[component.web]\nsource = { registry = "r.test", package = "a:b", version = "1" }\n',
        "component.web.source",
        "from a registry is not supported",
    ),
    (
        "source wrong type",
        HEAD + TRIGGER + "\n[component.web]\nsource = 1\n",
        "component.web.source",
        "expected a string, found an integer",
    ),
    (
        "source empty",
        HEAD + TRIGGER + '\n[component.web]\nsource = ""\n',
        "component.web.source",
        "must not be empty",
    ),
    (
        "kv stores a string",
        GOOD + 'key_value_stores = "default"\n',
        "component.web.key_value_stores",
        'found a string (write ["default"])',
    ),
    (
        "kv store not a string",
        GOOD + "key_value_stores = [1]\n",
        "component.web.key_value_stores[0]",
        "expected a string, found an integer",
    ),
    (
        "kv store bad label",
        GOOD + 'key_value_stores = ["my store"]\n',
        "component.web.key_value_stores[0]",
        "invalid key-value store label 'my store'",
    ),
    (
        "sqlite a string",
        GOOD + 'sqlite_databases = "default"\n',
        "component.web.sqlite_databases",
        "expected an array of strings",
    ),
    (
        "sqlite a table",
        GOOD + "sqlite_databases = { default = true }\n",
        "component.web.sqlite_databases",
        "expected an array of strings, found a table",
    ),
    (
        "component typo",
        GOOD + 'key_value_store = ["default"]\n',
        "component.web.key_value_store",
        "did you mean 'key_value_stores'",
    ),
    (
        "template names undeclared variable",
        GOOD + '\n[component.web.variables]\napi_url = "https://{{ api_host }}/v1"\n',
        "component.web.variables.api_url",
        "{{ api_host }} names no application variable",
    ),
    (
        "template unmatched braces",
        GOOD + '\n[variables]\nh = { default = "x" }\n[component.web.variables]\nu = "{{ h"\n',
        "component.web.variables.u",
        "unmatched '{{'",
    ),
    (
        "component variable name",
        GOOD + '\n[component.web.variables]\napiKey = "x"\n',
        "component.web.variables.apiKey",
        "invalid variable name 'apiKey'",
    ),
    (
        "component variable value",
        GOOD + "\n[component.web.variables]\nport = 80\n",
        "component.web.variables.port",
        "expected a string, found an integer",
    ),
    (
        "component variables not a table",
        GOOD + 'variables = ["a"]\n',
        "component.web.variables",
        "expected a table, found an array",
    ),
    (
        "outbound host names undeclared variable",
        GOOD + 'allowed_outbound_hosts = ["https://{{ host }}"]\n',
        "component.web.allowed_outbound_hosts[0]",
        "{{ host }} names no application variable",
    ),
    (
        "environment value",
        GOOD + "environment = { PORT = 80 }\n",
        "component.web.environment.PORT",
        "expected a string, found an integer",
    ),
    (
        "files relative destination",
        GOOD + 'files = [{ source = "a", destination = "b" }]\n',
        "component.web.files[0].destination",
        "must be absolute",
    ),
    (
        "files entry missing destination",
        GOOD + 'files = [{ source = "a" }]\n',
        "component.web.files[0].destination",
        "missing",
    ),
    (
        "files entry wrong type",
        GOOD + "files = [1]\n",
        "component.web.files[0]",
        "a string or a { source, destination } table",
    ),
    (
        "dependencies",
        GOOD + '\n[component.web.dependencies]\n"a:b/c" = "1.0"\n',
        "component.web.dependencies",
        "not supported",
    ),
    (
        "build without command",
        GOOD + '\n[component.web.build]\nwatch = ["*.py"]\n',
        "component.web.build.command",
        "missing",
    ),
    (
        "build command wrong type",
        GOOD + "\n[component.web.build]\ncommand = 1\n",
        "component.web.build.command",
        "expected a string or an array of strings",
    ),
    (
        "build command empty",
        GOOD + '\n[component.web.build]\ncommand = " "\n',
        "component.web.build.command",
        "must not be empty",
    ),
    (
        "build command list item",
        GOOD + '\n[component.web.build]\ncommand = ["a", 2]\n',
        "component.web.build.command[1]",
        "expected a string, found an integer",
    ),
    (
        "build workdir type",
        GOOD + '\n[component.web.build]\ncommand = "x"\nworkdir = 1\n',
        "component.web.build.workdir",
        "expected a string",
    ),
    (
        "build typo",
        GOOD + '\n[component.web.build]\ncommand = "x"\nwokdir = "a"\n',
        "component.web.build.wokdir",
        "did you mean 'workdir'",
    ),
]


@pytest.mark.parametrize(("text", "key", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_manifest(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    assert_bad_manifest(tmp_path, text, key, fragment)
