#!/usr/bin/env bash
# Installs the pinned npm packages (exact versions in each package.json and
# package-lock.json) into node_modules of each DIR:
#   install-npm-packages.sh LABEL PURPOSE DIR [DIR...]
# (install-node-tools.sh and install-miniflare.sh say which; DIRs are relative
# to the repository root).
#
# Idempotent and quiet: prints nothing on success, and does nothing for a DIR
# whose package.json and lockfile are unchanged since its last install. Without
# node or npm it says so on stderr and exits 0 (what needs the packages then
# skips); a failed install prints the end of npm's log and exits non-zero.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
label=$1 purpose=$2
shift 2

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$label: $tool not found; $purpose will be skipped" >&2
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
    # builds at versions that are not all published). No install scripts: native
    # binaries (workerd's, sharp's) come as optional per-platform packages, and the
    # scripts would only check them or fetch them from elsewhere.
    if ! (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error) \
        >"$log" 2>&1; then
        echo "$label: npm install failed in $dir:" >&2
        tail -n 40 "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    fingerprint >"$stamp"
}

for dir in "$@"; do
    install "$root/$dir"
done
