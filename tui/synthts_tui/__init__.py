"""Textual terminal UI of synthts, a client of the HTTP API."""
