"""An example third-party synthts plugin: a signal, a metric and a model family."""
