#!/usr/bin/env bash
# Installs the pinned Miniflare of bench/peers (package.json and lockfile there):
# Cloudflare's local Workers runtime, with its workerd binary from npm's
# per-platform package. bench/peers.py runs it; the tests do not need it.
# Quiet and idempotent; without node or npm it says so (see install-npm-packages.sh).
exec "$(dirname "$0")/install-npm-packages.sh" install-miniflare \
    "bench/peers.py's Miniflare side" bench/peers
