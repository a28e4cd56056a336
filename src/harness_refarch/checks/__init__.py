"""Checks: pure functions from (expectations, parsed manifest) to a list of findings.

Each module covers one concern of the reference architecture. Checks never render, read
files or print; tests and reports decide what to do with the findings.
"""
