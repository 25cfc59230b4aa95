"""synthts built-in plugin: gan."""
