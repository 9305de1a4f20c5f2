"""Host side of `fermyon:spin/variables@2.0.0`."""

from __future__ import annotations

from typing import Any

from wasmtime import component as wc

from ...app.variables import InvalidVariableName, UndefinedVariable, VariableProviderError
from .context import current

INTERFACE = "fermyon:spin/variables@2.0.0"


def get(store: Any, name: str) -> Any:
    try:
        return current().services.resolve_variable(name)
    except InvalidVariableName as exc:
        return wc.Variant("invalid-name", str(exc))
    except UndefinedVariable as exc:
        return wc.Variant("undefined", str(exc))
    except VariableProviderError as exc:
        return wc.Variant("provider", str(exc))


def add_to_linker(root: wc.LinkerInstance) -> None:
    with root.add_instance(INTERFACE) as iface:
        iface.add_func("get", get)
