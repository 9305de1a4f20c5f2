"""Running components with wasmtime: the engine, instances, value conversion, the wasm thread.

The host implementations of the imported WIT interfaces are in `bindings`.
"""
