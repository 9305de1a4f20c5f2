#!/usr/bin/env bash
# Installs an OCI registry for the `edge push` / `edge up -f REF` tests: Debian's
# docker-registry package (the CNCF distribution registry, /usr/bin/docker-registry).
# The tests start it themselves, on 127.0.0.1 and a free port, with a
# temporary storage directory; the package's own system service is never started.
#
# Does nothing when docker-registry (or distribution's `registry`) is already on
# PATH. Otherwise, as root on a Debian-like machine, installs the package. Quiet
# on success. Elsewhere it says what to install and exits 0, and the tests that
# need the registry skip; under CI (CI=true) that is an error instead.
set -euo pipefail

for tool in docker-registry registry; do
    if command -v "$tool" >/dev/null 2>&1; then
        exit 0
    fi
done

missing() {
    echo "install-registry: $1; install docker-registry (the distribution registry) to run the OCI tests" >&2
    if [ "${CI:-}" = "true" ]; then
        exit 1
    fi
    exit 0
}

if [ "$(id -u)" != 0 ]; then
    missing "not root, cannot apt-get install docker-registry"
fi
if ! command -v apt-get >/dev/null 2>&1; then
    missing "no apt-get on this machine"
fi

log="$(mktemp)"
policy="$(mktemp)"
trap 'rm -f "$log" "$policy"' EXIT
# invoke-rc.d and deb-systemd-invoke ask this script whether to start the
# package's service: 101 says no.
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod +x "$policy"
export DEBIAN_FRONTEND=noninteractive POLICYRCD="$policy"
if ! apt-get install -y -qq --no-install-recommends docker-registry >"$log" 2>&1; then
    # The package lists may be missing or stale on a fresh machine.
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-registry; } \
        >"$log" 2>&1; then
        echo "install-registry: apt-get install docker-registry failed:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
fi
command -v docker-registry >/dev/null 2>&1 || missing "docker-registry is still not on PATH"
