from __future__ import annotations

import pytest

from framework import (
    InvalidVariableName,
    UndefinedVariable,
    VariableError,
    VariableProviderError,
    variables,
)

from . import fakes


def test_get_returns_the_value(bindings: fakes.Bindings) -> None:
    bindings.variables["api_url"] = "https://example.com"
    assert variables.get("api_url") == "https://example.com"
    assert variables.get("api_url", "unused") == "https://example.com"


def test_undefined_raises_or_returns_the_default(bindings: fakes.Bindings) -> None:
    bindings.variable_error = fakes.VAR_ERRORS["Error_Undefined"]("no variable for 'mode'")
    with pytest.raises(UndefinedVariable, match="variable 'mode' is not defined"):
        variables.get("mode")
    assert variables.get("mode", "production") == "production"
    assert variables.get("mode", None) is None


@pytest.mark.parametrize(
    ("error", "exc_type"),
    [
        ("InvalidName", InvalidVariableName),
        ("Provider", VariableProviderError),
        ("Other", VariableError),
    ],
)
def test_other_errors_ignore_the_default(
    bindings: fakes.Bindings, error: str, exc_type: type[VariableError]
) -> None:
    bindings.variable_error = fakes.VAR_ERRORS[f"Error_{error}"]("detail from host")
    with pytest.raises(exc_type, match="detail from host") as info:
        variables.get("Bad-Name", "default")
    assert type(info.value) is exc_type
