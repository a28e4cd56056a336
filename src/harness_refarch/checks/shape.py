"""The shape findings recorded while the render was parsed (see harness_refarch.shapes)."""

from __future__ import annotations

from harness_refarch.catalog import Pair
from harness_refarch.findings import Finding
from harness_refarch.manifest import Manifest


def problems(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Every wrongly typed field of every rendered object, one finding each."""
    return list(manifest.problems)
