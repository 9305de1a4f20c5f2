"""Host side of edge: what runs on the developer's machine. ARCHITECTURE.md maps its packages."""
