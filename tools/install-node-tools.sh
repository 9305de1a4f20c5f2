#!/usr/bin/env bash
# Installs the pinned npm packages (exact versions in each package.json and
# package-lock.json) into node_modules of: tests/wasi_http (jco and
# preview2-shim: the tests there run each built component's
# wasi:http/incoming-handler export under jco + Node, and its outgoing requests
# through preview2-shim's wasi:http/outgoing-handler) and tests/hrana_js
# (@libsql/client, driven against edge up by tests/e2e/test_hrana_js_client.py).
#
# Idempotent and quiet: prints nothing on success, and does nothing when
# package.json and the lockfile are unchanged since its last install. Without
# node or npm it says so on stderr and exits 0 (those tests then skip); a
# failed install prints the end of npm's log and exits non-zero.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install-node-tools: $tool not found; tests/wasi_http and the JS client tests will be skipped" >&2
        exit 0
    fi
done

install() {
    local dir="$1"
    local stamp="$dir/node_modules/.edge-installed"
    fingerprint() { cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -c1-32; }
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(fingerprint)" ]; then
        return 0
    fi
    local log
    log="$(mktemp)"
    # `npm install`, not `npm ci`: with the lockfile in sync it installs exactly the
    # locked versions, but unlike `npm ci` it tolerates optional platform packages
    # that the lockfile cannot list (preview2-shim's jco-node-fs names per-platform
    # builds at versions that are not all published).
    if ! (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error) \
        >"$log" 2>&1; then
        echo "install-node-tools: npm install failed in $dir:" >&2
        tail -n 40 "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    fingerprint >"$stamp"
}

install "$root/tests/wasi_http"
install "$root/tests/hrana_js"
