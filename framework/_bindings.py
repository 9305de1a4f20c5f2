"""Late access to the bindings componentize-py generates into the component.

`wit_world` and `componentize_py_types` exist only inside the component (they
are generated at build time), so nothing imports them at module level: the
framework stays importable on the host, where routing and the pure helpers are
tested. `framework.component` imports the binding modules eagerly inside the
component, so they are already loaded (and pre-initialised) when these run.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def wit_import(name: str) -> ModuleType:
    """`wit_world.imports.<name>`, e.g. "key_value", "sqlite", "variables"."""
    return importlib.import_module(f"wit_world.imports.{name}")


def err_type() -> type[Exception]:
    """The exception class that imported functions raise for a WIT `result` error."""
    err: type[Exception] = importlib.import_module("componentize_py_types").Err
    return err
