#!/usr/bin/env bash
# Installs wrk, the HTTP load generator of bench/http_load.py and bench/peers.py:
# Debian's package. Without it http_load.py falls back to a slower Python
# generator and peers.py stops (see install-apt-tool.sh).
exec "$(dirname "$0")/install-apt-tool.sh" install-wrk wrk "the HTTP benchmarks with wrk" wrk
