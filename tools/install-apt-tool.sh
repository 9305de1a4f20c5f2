#!/usr/bin/env bash
# Installs one Debian package that tests need a binary of, without starting its
# system service: install-apt-tool.sh LABEL PACKAGE PURPOSE TOOL [TOOL...]
# (install-redis.sh and install-registry.sh say which).
#
# Does nothing when one of the TOOLs is already on PATH. Otherwise, as root on
# a Debian-like machine, apt-get installs PACKAGE; quiet on success. Elsewhere
# it says what to install and exits 0, and the tests that need the tool skip;
# under CI (CI=true) that is an error instead.
set -euo pipefail

label=$1 package=$2 purpose=$3
shift 3
for tool in "$@"; do
    if command -v "$tool" >/dev/null 2>&1; then
        exit 0
    fi
done

missing() {
    echo "$label: $1; install $package to run $purpose" >&2
    if [ "${CI:-}" = "true" ]; then
        exit 1
    fi
    exit 0
}

if [ "$(id -u)" != 0 ]; then
    missing "not root, cannot apt-get install $package"
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
if ! apt-get install -y -qq --no-install-recommends "$package" >"$log" 2>&1; then
    # The package lists may be missing or stale on a fresh machine.
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$package"; } \
        >"$log" 2>&1; then
        echo "$label: apt-get install $package failed:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
fi
command -v "$1" >/dev/null 2>&1 || missing "$1 is still not on PATH"
