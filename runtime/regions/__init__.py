"""Regions and what travels between them: the network model, clocks, KV and SQL replication.

Nothing here knows about wasm or HTTP; it works on the stores.
"""
