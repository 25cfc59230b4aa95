"""An example third-party synthts plugin."""
