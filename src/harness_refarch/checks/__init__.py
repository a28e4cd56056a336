"""Checks: functions from (expectations, parsed manifest) to a list of findings.

Each module covers one concern of the reference architecture and declares its checks once, with
:func:`harness_refarch.checks.registry.check`; the registry is the one list the conformance
tests, ``harness-refarch diff``, reports, severities and waivers read. Checks never render or
print; what needs the run (values layers, the render store, lint, golden files) reaches a check
as the context the engine passes, never by importing the engine.
The data a check judges against is loaded before the check runs: where it has a file format
of its own (golden files, the backup policy, external objects, the yamllint config), its loader
sits beside the check so that the format is defined once.
"""
