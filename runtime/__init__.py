"""Host side of edge: what runs on the developer's machine (manifest, build, engine, server)."""
