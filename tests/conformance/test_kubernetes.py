"""What a cluster would say: helm lint, references between objects, best practices, and lint of
the values files (Kubernetes schemas and API versions live in test_schemas.py)."""

from pathlib import Path

import pytest

from harness_refarch.checks import integrity, practices, yamllint_check
from harness_refarch.engine.session import digest_of


@pytest.mark.refarch_needs("lint")
def test_helm_lint(refarch, refarch_pair, assert_conformant):
    """`helm lint --strict` of the pair's values stack passes (messages quoted, bounded)."""
    assert_conformant(lambda pair, manifest: refarch.lint(pair))


def test_referential_integrity(refarch, refarch_pair, assert_conformant):
    """Selectors, Service ports, HPA/PDB targets, Ingress backends and every ConfigMap, Secret,
    PVC, ServiceAccount and PriorityClass a pod references exist (or are declared external)."""
    def check(pair, manifest):
        external = integrity.load_external(refarch.options.fixtures / "external-objects.yaml",
                                           refarch.merged(pair).values)
        return integrity.integrity(pair, manifest, external)
    assert_conformant(check)


def test_best_practices(refarch_pair, assert_conformant):
    """Pinned images, probes, no privileged containers or host namespaces, non-root where a
    securityContext is set; each finding's check is the rule id (waivable by id)."""
    assert_conformant(practices.practices)


def test_values_files_lint(refarch, refarch_pair, assert_conformant):
    """yamllint on the profile file and your values files; duplicate keys name both lines."""
    config = Path(refarch.options.fixtures) / "yamllint.yaml"

    def check(pair, manifest):
        files = [layer.path for layer, _, role in refarch.labelled_layers(pair)
                 if role in ("profile", "user") and layer.path is not None]
        token = digest_of(config)
        return [f for path in files for f in refarch.stored_file(
            "yamllint", path, lambda p=path: yamllint_check.lint_values_file(p, config), extra=token)]
    assert_conformant(check)
