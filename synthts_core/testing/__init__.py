"""Test helpers for synthts and its plugins.

The pytest plugin (``synthts_core.testing.pytest_plugin``, registered through the ``pytest11``
entry point) gives fixtures; ``synthts_core.testing.conformance`` holds one suite per plugin kind
that any plugin package runs against itself by subclassing, e.g.::

    from synthts_core.testing.conformance.signals import SignalGeneratorConformance

    class TestSawtooth(SignalGeneratorConformance):
        @pytest.fixture
        def generator(self):
            return Sawtooth()
"""
