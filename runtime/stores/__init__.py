"""Storage under the host bindings: SQLite files, one per region and store.

Nothing here knows about wasm; bindings translate WIT values to these calls.
"""

from . import deadlines
from .changes import Change, decode_changes, encode_changes, hlc_millis, pack_hlc, unpack_hlc, wins
from .kv import Entry, KVError, KVStats, KVStore, TooLarge
from .layout import LayoutError, StateLayout
from .limits import MAX_KEY_BYTES, MAX_KEYS_PER_STORE, MAX_OPEN_STORES, MAX_VALUE_BYTES
from .registry import StoreRegistry
from .sql import (
    Params as SqlParams,
)
from .sql import (
    QueryResult,
    ReplicaWriteError,
    Row,
    SqlConnection,
    SqlDatabase,
    SqlError,
    SqlValue,
    StatementInterrupted,
)
from .sqlsync import ReplicaSync

__all__ = [
    "MAX_KEYS_PER_STORE",
    "MAX_KEY_BYTES",
    "MAX_OPEN_STORES",
    "MAX_VALUE_BYTES",
    "Change",
    "Entry",
    "KVError",
    "KVStats",
    "KVStore",
    "LayoutError",
    "QueryResult",
    "ReplicaSync",
    "ReplicaWriteError",
    "Row",
    "SqlConnection",
    "SqlDatabase",
    "SqlError",
    "SqlParams",
    "SqlValue",
    "StatementInterrupted",
    "StateLayout",
    "StoreRegistry",
    "TooLarge",
    "deadlines",
    "decode_changes",
    "encode_changes",
    "hlc_millis",
    "pack_hlc",
    "unpack_hlc",
    "wins",
]
