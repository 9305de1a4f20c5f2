"""Spin's key-value limits, as the emulator enforces them.

Spin's own host code (fermyon/spin, crates/factor-key-value/src/host.rs and the
SQLite backend in crates/key-value-spin/src/store.rs) checks no sizes at all.
The numbers come from two documents:

- SIP 010 (docs/content/sips/010-key-value.md) and the key-value API guide: a
  conforming implementation must support keys as large as 256 bytes (UTF-8),
  values as large as 1 megabyte and 1024 key-value tuples, and may impose
  more constraints than that.
- Fermyon Cloud's quota table (developer.fermyon.com/cloud/faq): key size 255
  bytes, value size 1 MB, 1024 keys at most.

The emulator takes the stricter of the two, the hosted quota, so an app that
runs here does not fail on the hosted platform for a key one byte too long.
"1 MB" is read as 1 MiB.
"""

from __future__ import annotations

MAX_KEY_BYTES = 255
"""Largest key, in bytes of its UTF-8 encoding (Fermyon Cloud quota; SIP 010 says 256)."""

MAX_VALUE_BYTES = 1024 * 1024
"""Largest value, in bytes (1 MB in both SIP 010 and the Fermyon Cloud quota)."""

MAX_KEYS_PER_STORE = 1024
"""Keys one store is guaranteed to hold (SIP 010, Fermyon Cloud). Not enforced here."""

MAX_OPEN_STORES = 256
"""Store handles one instance may hold at once (Spin's DEFAULT_STORE_TABLE_CAPACITY)."""

__all__ = ["MAX_KEYS_PER_STORE", "MAX_KEY_BYTES", "MAX_OPEN_STORES", "MAX_VALUE_BYTES"]
