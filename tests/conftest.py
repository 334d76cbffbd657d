"""Shared test configuration. Helpers live in ``vc_support`` (a plain module,
so the tests and benchmarks folders never both provide ``conftest``)."""
