"""Stand-ins for the bindings componentize-py generates (`wit_world`, `componentize_py_types`).

Only for unit tests of the kv/turso/variables wrappers on the host: the classes
mirror the generated names (`Error_Io`, `Value_Integer`, ...) so the wrappers'
error mapping and value conversion can be exercised without wasm. The real
bindings are exercised end to end by the e2e tests.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass(frozen=True)
class Err(Exception):
    value: Any


# --- spin:sqlite value and error variants -------------------------------------


@dataclass
class Value_Integer:
    value: int


@dataclass
class Value_Real:
    value: float


@dataclass
class Value_Text:
    value: str


@dataclass
class Value_Blob:
    value: bytes


@dataclass
class Value_Null:
    pass


@dataclass
class RowResult:
    values: list[Any]


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[RowResult]


def _variants(prefix: str, *names: str, with_value: tuple[str, ...] = ()) -> dict[str, type]:
    out: dict[str, type] = {}
    for name in names:
        fields = {"value": str} if name in with_value else {}
        cls: type = dataclass(type(f"{prefix}_{name}", (), {"__annotations__": fields}))
        out[f"{prefix}_{name}"] = cls
    return out


SQL_ERRORS = _variants(
    "Error",
    "NoSuchDatabase",
    "AccessDenied",
    "InvalidConnection",
    "DatabaseFull",
    "Io",
    with_value=("Io",),
)
KV_ERRORS = _variants(
    "Error", "StoreTableFull", "NoSuchStore", "AccessDenied", "Other", with_value=("Other",)
)
VAR_ERRORS = _variants(
    "Error",
    "InvalidName",
    "Undefined",
    "Provider",
    "Other",
    with_value=("InvalidName", "Undefined", "Provider", "Other"),
)


@dataclass
class FakeConnection:
    """Records statements; `script` maps a statement to a result or an error value."""

    label: str
    script: dict[str, Any] = field(default_factory=dict)
    executed: list[tuple[str, list[Any]]] = field(default_factory=list)
    changes_value: int = 0
    rowid_value: int = 0
    closed: bool = False

    def execute(self, statement: str, parameters: list[Any]) -> QueryResult:
        self.executed.append((statement, parameters))
        outcome = self.script.get(statement, QueryResult([], []))
        if not isinstance(outcome, QueryResult):
            raise Err(outcome)
        return outcome

    def changes(self) -> int:
        return self.changes_value

    def last_insert_rowid(self) -> int:
        return self.rowid_value

    def __exit__(self, *exc: object) -> None:
        self.closed = True


@dataclass
class FakeStore:
    """A dict-backed store; `fail` maps an operation name to an error value."""

    label: str
    data: dict[str, bytes] = field(default_factory=dict)
    fail: dict[str, Any] = field(default_factory=dict)
    closed: bool = False

    def _check(self, op: str) -> None:
        if op in self.fail:
            raise Err(self.fail[op])

    def get(self, key: str) -> bytes | None:
        self._check("get")
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        self._check("set")
        self.data[key] = value

    def delete(self, key: str) -> None:
        self._check("delete")
        self.data.pop(key, None)

    def exists(self, key: str) -> bool:
        self._check("exists")
        return key in self.data

    def get_keys(self) -> list[str]:
        self._check("get_keys")
        return list(self.data)

    def __exit__(self, *exc: object) -> None:
        self.closed = True


@dataclass
class Bindings:
    """What the fake host does; tests set these before calling the wrappers."""

    connection: FakeConnection | None = None
    open_error: Any = None  # an error value that open() raises
    store: FakeStore | None = None
    variables: dict[str, str] = field(default_factory=dict)
    variable_error: Any = None
    modules: dict[str, types.ModuleType] = field(default_factory=dict)


def install(monkeypatch: pytest.MonkeyPatch) -> Bindings:
    """Put fake `wit_world` modules into sys.modules for the duration of a test."""
    state = Bindings()

    def module(name: str, **attrs: Any) -> types.ModuleType:
        mod = types.ModuleType(name)
        for key, value in attrs.items():
            setattr(mod, key, value)
        monkeypatch.setitem(sys.modules, name, mod)
        state.modules[name] = mod
        return mod

    def opener(kind: str, make: Callable[[str], Any]) -> type:
        def open_(cls: type, label: str) -> Any:
            if state.open_error is not None:
                raise Err(state.open_error)
            return make(label)

        return type(kind, (), {"open": classmethod(open_)})

    def sql_connection(label: str) -> FakeConnection:
        state.connection = state.connection or FakeConnection(label)
        return state.connection

    def kv_store(label: str) -> FakeStore:
        state.store = state.store or FakeStore(label)
        return state.store

    def get_variable(name: str) -> str:
        if state.variable_error is not None:
            raise Err(state.variable_error)
        return state.variables[name]

    module("componentize_py_types", Err=Err)
    module("wit_world")
    module("wit_world.imports")
    module(
        "wit_world.imports.sqlite",
        Connection=opener("Connection", sql_connection),
        Value_Integer=Value_Integer,
        Value_Real=Value_Real,
        Value_Text=Value_Text,
        Value_Blob=Value_Blob,
        Value_Null=Value_Null,
        **SQL_ERRORS,
    )
    module("wit_world.imports.key_value", Store=opener("Store", kv_store), **KV_ERRORS)
    module("wit_world.imports.variables", get=get_variable, **VAR_ERRORS)
    return state
