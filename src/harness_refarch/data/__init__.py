"""Data the installed suite carries: in a wheel, ``fixtures`` (the reference architecture) and
``conformance`` (the conformance tests) are copies of the repository's top-level ``fixtures/``
and ``tests/conformance/``, which stay the source of truth (see pyproject.toml package-dir)."""
