from __future__ import annotations

import pytest

from . import fakes


@pytest.fixture
def bindings(monkeypatch: pytest.MonkeyPatch) -> fakes.Bindings:
    """Fake component bindings, removed from sys.modules after the test."""
    return fakes.install(monkeypatch)
