"""The shape findings recorded while the render was parsed (see harness_refarch.model.shapes)."""

from __future__ import annotations

from harness_refarch.checks.registry import check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest
from harness_refarch.model.shapes import SHAPE


@check("objects_well_formed", findings=(SHAPE,), diff=True,
       doc='No field the checks read has the wrong type (e.g. replicas: "three", env: ["FOO=bar"]).')
def problems(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Every wrongly typed field of every rendered object, one finding each."""
    return list(manifest.problems)
