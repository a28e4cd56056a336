"""The shape findings recorded while the render was parsed (see harness_refarch.model.shapes)."""

from __future__ import annotations

from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest


def problems(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Every wrongly typed field of every rendered object, one finding each."""
    return list(manifest.problems)
