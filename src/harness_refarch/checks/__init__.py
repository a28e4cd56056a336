"""Checks: pure functions from (expectations, parsed manifest) to a list of findings.

Each module covers one concern of the reference architecture. A check function never renders,
reads files or prints; tests and reports decide what to do with the findings. The data a check
judges against is loaded by the engine before the check runs: where a check's data has a file
format of its own (golden files, the backup policy, external objects, the yamllint config),
its loader sits beside the check so that format is defined once, and only the engine calls it.
"""
