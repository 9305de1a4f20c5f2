#!/usr/bin/env bash
# Installs Chromium for the explorer's browser test (tests/e2e/test_explorer.py):
# Debian's chromium, driven by the Python playwright package with
# executable_path=/usr/bin/chromium (Playwright's own browser builds are never
# downloaded). Without it the browser test skips (under CI, this fails).
exec "$(dirname "$0")/install-apt-tool.sh" install-chromium chromium \
    "the explorer's browser test" chromium
