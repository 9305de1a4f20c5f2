"""pytest setup of tests/runtime/app: shared asserts in helper modules get pytest's messages."""

from __future__ import annotations

import pytest

# Only test modules and conftests are rewritten by default; without this a failing
# assert in manifest_helpers would say just "AssertionError".
pytest.register_assert_rewrite("tests.runtime.app.manifest_helpers")
