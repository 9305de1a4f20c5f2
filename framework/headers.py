"""A case-insensitive, multi-valued header collection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Union

HeadersInit = Union["Headers", Mapping[str, str], Iterable[tuple[str, str]], None]


class Headers(MutableMapping[str, str]):
    """HTTP headers: names compare case-insensitively and are kept lower-case.

    As a mapping, ``headers[name]`` is the first value of that name (like
    Starlette and Werkzeug); ``get_all`` gives every value, ``add`` appends one,
    and ``headers[name] = v`` replaces them all. ``items()`` yields each name
    once; ``raw()`` gives every (name, value) pair in order.
    """

    def __init__(self, init: HeadersInit = None) -> None:
        self._items: list[tuple[str, str]] = []
        if init is None:
            return
        pairs: Iterable[tuple[str, str]]
        if isinstance(init, Headers):
            pairs = init.raw()  # keeps repeated names, which items() would merge
        elif isinstance(init, Mapping):
            pairs = init.items()
        else:
            pairs = init
        for name, value in pairs:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append a value, keeping any values already there."""
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"header names and values must be str, got {type(name).__name__}: "
                f"{type(value).__name__}"
            )
        self._items.append((name.lower(), value))

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self._items if k == key]

    def raw(self) -> list[tuple[str, str]]:
        """Every (name, value) pair, repeats included, in insertion order."""
        return list(self._items)

    def __getitem__(self, name: str) -> str:
        key = name.lower()
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(name)

    def __setitem__(self, name: str, value: str) -> None:
        del self[name]
        self.add(name, value)

    def __delitem__(self, name: str) -> None:
        # Deleting a missing header is a no-op: callers "make sure it is gone".
        key = name.lower()
        self._items = [(k, v) for k, v in self._items if k != key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k == name.lower() for k, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for k, _ in self._items:
            seen.setdefault(k)
        return iter(seen)

    def __len__(self) -> int:
        return len({k for k, _ in self._items})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted(self._items) == sorted(other._items)
        if isinstance(other, Mapping):
            return dict(self.items()) == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
