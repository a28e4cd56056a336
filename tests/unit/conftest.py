"""Fixtures shared by the project's own tests."""

from pathlib import Path

import pytest

from harness_refarch.helm.binary import find_helm
from harness_refarch.model.errors import HelmNotFound


@pytest.fixture(scope="session")
def real_helm() -> Path:
    """A real helm, found once, before pytester gives a test a fresh HOME (the pinned helm of
    harness-refarch-install-helm lives under the real HOME)."""
    try:
        return find_helm()
    except HelmNotFound as exc:
        pytest.fail(f"these tests need a real helm: {exc}", pytrace=False)


# What a CI machine sets changes how pytest and the suite print (pytest writes whole failure
# messages in the short summary under CI; GitHub Actions turns annotations on). The project's
# tests are about the suite, not about where they run: they start from neither, and a test that
# is about one of them sets it itself.
CI_VARIABLES = ("CI", "BUILD_NUMBER", "GITHUB_ACTIONS")


@pytest.fixture(autouse=True)
def _not_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
