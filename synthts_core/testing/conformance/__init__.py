"""Conformance suites, one per plugin kind. Subclass one in a ``Test*`` class and provide the
fixture it names; every default plugin passes the same suite."""
