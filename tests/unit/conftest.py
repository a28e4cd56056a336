"""Fixtures shared by the project's own tests."""

from pathlib import Path

import pytest

from harness_refarch.errors import HelmNotFound
from harness_refarch.helm import find_helm


@pytest.fixture(scope="session")
def real_helm() -> Path:
    """A real helm, found once, before pytester gives a test a fresh HOME (the pinned helm of
    harness-refarch-install-helm lives under the real HOME)."""
    try:
        return find_helm()
    except HelmNotFound as exc:
        pytest.fail(f"these tests need a real helm: {exc}", pytrace=False)
