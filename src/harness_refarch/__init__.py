"""Conformance and lint suite for the Harness Self-Managed Enterprise Edition Helm chart."""

__version__ = "0.1.0"
