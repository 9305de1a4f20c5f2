"""Application variables (Spin's `fermyon:spin/variables@2.0.0`).

    api_url = variables.get("api_url")
    mode = variables.get("mode", "production")   # default when undefined

A component sees only the variables its spin.toml entry declares under
`[component.<id>.variables]`.
"""

from __future__ import annotations

from typing import TypeVar, overload

from ._bindings import err_type, wit_import
from .errors import InvalidVariableName, UndefinedVariable, VariableError, VariableProviderError

T = TypeVar("T")
_MISSING = object()


@overload
def get(name: str) -> str: ...
@overload
def get(name: str, default: T) -> str | T: ...


def get(name: str, default: object = _MISSING) -> object:
    """The value of variable `name`; `default` (if given) when it is undefined."""
    if not isinstance(name, str):
        raise TypeError(f"variable names are str, not {type(name).__name__}")
    try:
        value: str = wit_import("variables").get(name)
    except err_type() as exc:
        error = variable_error(getattr(exc, "value", None), name)
        if isinstance(error, UndefinedVariable) and default is not _MISSING:
            return default
        raise error from None
    return value


def variable_error(error: object, name: str) -> VariableError:
    """The exception for a `fermyon:spin/variables` error value."""
    kind = type(error).__name__
    detail = str(getattr(error, "value", "") or "")
    suffix = f" ({detail})" if detail else ""
    if kind == "Error_InvalidName":
        return InvalidVariableName(
            f"{name!r} is not a valid variable name: use lower-case letters, digits and "
            f"underscores, starting with a letter{suffix}"
        )
    if kind == "Error_Undefined":
        return UndefinedVariable(
            f"variable {name!r} is not defined: declare it under [component.<id>.variables] "
            f"in spin.toml and give it a value{suffix}"
        )
    if kind == "Error_Provider":
        return VariableProviderError(f"the variables provider failed for {name!r}{suffix}")
    return VariableError(f"reading variable {name!r} failed{suffix}")
