#!/usr/bin/env bash
# Installs a Redis server for the outbound Redis tests and for `edge up`, which
# starts one on loopback for apps whose `redis_address` nothing sets.
#
# Does nothing when redis-server or valkey-server is already on PATH.
# Otherwise, as root on a Debian-like machine, installs Debian's
# redis-server package without starting its system service (edge runs its own
# server, on a free port, with its data under the state directory). Quiet on
# success. Elsewhere it says what to install and exits 0, and the tests that
# need the server skip; under CI (CI=true) that is an error instead.
set -euo pipefail

for tool in redis-server valkey-server; do
    if command -v "$tool" >/dev/null 2>&1; then
        exit 0
    fi
done

missing() {
    echo "install-redis: $1; install redis-server (or valkey-server) to run the Redis tests" >&2
    if [ "${CI:-}" = "true" ]; then
        exit 1
    fi
    exit 0
}

if [ "$(id -u)" != 0 ]; then
    missing "not root, cannot apt-get install redis-server"
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
if ! apt-get install -y -qq --no-install-recommends redis-server >"$log" 2>&1; then
    # The package lists may be missing or stale on a fresh machine.
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server; } \
        >"$log" 2>&1; then
        echo "install-redis: apt-get install redis-server failed:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
fi
command -v redis-server >/dev/null 2>&1 || missing "redis-server is still not on PATH"
