"""synthts built-in plugin: mongo."""
