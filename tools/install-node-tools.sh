#!/usr/bin/env bash
# Installs the pinned npm packages of tests/wasi_http (jco and preview2-shim: the
# tests there run each built component's wasi:http/incoming-handler export under
# jco + Node, and its outgoing requests through preview2-shim's
# wasi:http/outgoing-handler) and tests/hrana_js (@libsql/client, driven against
# edge up by tests/e2e/test_hrana_js_client.py). Quiet and idempotent; without
# node or npm those tests skip (see install-npm-packages.sh).
exec "$(dirname "$0")/install-npm-packages.sh" install-node-tools \
    "tests/wasi_http and the JS client tests" tests/wasi_http tests/hrana_js
