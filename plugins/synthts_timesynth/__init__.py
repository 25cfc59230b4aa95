"""synthts built-in plugin: timesynth."""
