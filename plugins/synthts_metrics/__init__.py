"""synthts built-in plugin: quality metrics."""
