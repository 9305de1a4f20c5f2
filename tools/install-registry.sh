#!/usr/bin/env bash
# Installs an OCI registry for the `edge push` / `edge up -f REF` tests: Debian's
# docker-registry package (the CNCF distribution registry, /usr/bin/docker-registry).
# The tests start it themselves, on 127.0.0.1 and a free port, with a
# temporary storage directory; the package's own system service is never started.
exec "$(dirname "$0")/install-apt-tool.sh" install-registry docker-registry \
    "the OCI tests" docker-registry registry
