"""The Spin application as data: spin.toml, its variables, and the runtime config.

Parsing and checking only: nothing here runs, builds or serves anything.
"""
