#!/usr/bin/env bash
# Installs a Redis server for the outbound Redis tests and for `edge up`, which
# starts one on loopback for apps whose `redis_address` nothing sets: Debian's
# redis-server, its system service never started (edge runs its own server, on
# a free port, with its data under the state directory). valkey-server works too.
exec "$(dirname "$0")/install-apt-tool.sh" install-redis redis-server \
    "the Redis tests (valkey-server works too)" redis-server valkey-server
