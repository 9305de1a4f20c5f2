"""Refused manifests: [[trigger.*]] entries, routes, executors and their components."""

from __future__ import annotations

from pathlib import Path

import pytest

from .manifest_helpers import COMPONENT, GOOD, HEAD, BadCase, assert_bad_manifest

BAD: list[BadCase] = [
    ("triggers missing", HEAD + COMPONENT, "trigger", "missing"),
    (
        "http trigger as a table",
        HEAD + COMPONENT + '\n[trigger.http]\nroute = "/"\ncomponent = "web"\n',
        "trigger.http",
        "write [[trigger.http]]",
    ),
    (
        "route missing",
        HEAD + COMPONENT + '\n[[trigger.http]]\ncomponent = "web"\n',
        "trigger.http[0].route",
        "missing",
    ),
    (
        "route without slash",
        GOOD.replace('route = "/..."', 'route = "api/..."'),
        "trigger.http[0].route",
        "must start with '/'",
    ),
    (
        "route private false",
        GOOD.replace('route = "/..."', "route = { private = false }"),
        "trigger.http[0].route",
        "{ private = true }",
    ),
    (
        "route private typo",
        GOOD.replace('route = "/..."', "route = { privat = true }"),
        "trigger.http[0].route.privat",
        "did you mean 'private'",
    ),
    (
        "route wrong type",
        GOOD.replace('route = "/..."', "route = 5"),
        "trigger.http[0].route",
        "expected a route string",
    ),
    (
        "route inner wildcard",
        GOOD.replace('route = "/..."', 'route = "/a/.../b"'),
        "trigger.http[0].route",
        "'...' may only be the whole last segment",
    ),
    (
        "route with a query",
        GOOD.replace('route = "/..."', 'route = "/a?b=1"'),
        "trigger.http[0].route",
        "without spaces, query or fragment",
    ),
    (
        "route with empty parameter",
        GOOD.replace('route = "/..."', 'route = "/a/:"'),
        "trigger.http[0].route",
        "invalid parameter ':'",
    ),
    (
        "route repeats a parameter",
        GOOD.replace('route = "/..."', 'route = "/:id/:id"'),
        "trigger.http[0].route",
        "appears twice",
    ),
    (
        "inline component",
        HEAD + '\n[[trigger.http]]\nroute = "/"\ncomponent = { source = "w.wasm" }\n',
        "trigger.http[0].component",
        "inline component tables are not supported",
    ),
    (
        "unknown component",
        GOOD.replace('component = "web"', 'component = "api"'),
        "trigger.http[0].component",
        "no [component.api] in the manifest (components: web)",
    ),
    (
        "component of trigger missing",
        HEAD + COMPONENT + '\n[[trigger.http]]\nroute = "/"\n',
        "trigger.http[0].component",
        "missing",
    ),
    (
        "component of trigger bad id",
        GOOD.replace('component = "web"', 'component = "web_1"'),
        "trigger.http[0].component",
        "invalid component id 'web_1'",
    ),
    (
        "unknown component of another trigger type",
        GOOD + '\n[[trigger.redis]]\nchannel = "c"\ncomponent = "nope"\n',
        "trigger.redis[0].component",
        "no [component.nope]",
    ),
    (
        "duplicate route",
        GOOD + '\n[[trigger.http]]\nroute = "/..."\ncomponent = "web"\n',
        "trigger.http[1].route",
        "also the route of trigger.http[0] (component 'web')",
    ),
    (
        "duplicate route modulo trailing slash",
        HEAD + COMPONENT + '\n[[trigger.http]]\nroute = "/a"\ncomponent = "web"\n'
        '\n[[trigger.http]]\nroute = "/b"\ncomponent = "web"\n'
        '\n[[trigger.http]]\nroute = "/a/"\ncomponent = "web"\n',
        "trigger.http[2].route",
        "trigger.http[0]",
    ),
    (
        "wagi executor",
        GOOD.replace('component = "web"\n', 'component = "web"\nexecutor = { type = "wagi" }\n'),
        "trigger.http[0].executor.type",
        "Wagi executor is not supported",
    ),
    (
        "unknown executor",
        GOOD.replace('component = "web"\n', 'component = "web"\nexecutor = { type = "cgi" }\n'),
        "trigger.http[0].executor.type",
        "unknown executor 'cgi'",
    ),
    (
        "executor without type",
        GOOD.replace('component = "web"\n', 'component = "web"\nexecutor = {}\n'),
        "trigger.http[0].executor.type",
        "missing",
    ),
    (
        "trigger typo",
        GOOD.replace('route = "/..."', 'route = "/..."\nrout = "/x"'),
        "trigger.http[0].rout",
        "did you mean 'route'",
    ),
    (
        "static response",
        GOOD.replace('route = "/..."', 'route = "/..."\nstatic_response = { status_code = 404 }'),
        "trigger.http[0].static_response",
        "not supported",
    ),
]


@pytest.mark.parametrize(("text", "key", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_manifest(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    assert_bad_manifest(tmp_path, text, key, fragment)
