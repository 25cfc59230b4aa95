"""synthts built-in plugin: sqlite."""
