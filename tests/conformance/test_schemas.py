"""Every rendered object against the Kubernetes OpenAPI schemas of --cluster-version (strict:
unknown fields are errors), custom resources against fixtures/schemas/, and API versions that
the target Kubernetes deprecates or no longer serves."""

from importlib.metadata import version

import pytest

from harness_refarch.checks import apis, schema
from harness_refarch.engine.session import digest_of
from harness_refarch.model.findings import Finding

NOT_VALIDATED = "schema-not-validated"


def _validate(refarch, manifest):
    result = schema.validate(manifest, refarch.options.kube_version, refarch.options.fixtures / "schemas")
    unvalidated = [Finding(NOT_VALIDATED, "", result.skip_reason(), "", "")] if result.unvalidated else []
    return [*result.findings, *unvalidated]


def test_kubernetes_schemas(refarch, refarch_pair, assert_conformant):
    """A finding names the object, the field path and the schema's complaint. Kinds without any
    schema make the test a skip naming them: never counted as validated. Results are kept in
    the render store (keyed by the render, the schema files and kubernetes-validate's version)."""
    token = digest_of(refarch.options.fixtures / "schemas", extra=version("kubernetes-validate"))
    unvalidated = []

    def check(pair, manifest):
        found = refarch.stored("schema", pair, lambda: _validate(refarch, manifest), extra=token)
        unvalidated[:] = [f.field for f in found if f.check == NOT_VALIDATED]
        return [f for f in found if f.check != NOT_VALIDATED]

    assert_conformant(check)
    if unvalidated:
        pytest.skip(unvalidated[0])


def test_api_versions_served(refarch, refarch_pair, assert_conformant):
    """No apiVersion the target Kubernetes deprecates or has removed; findings name the replacement."""
    assert_conformant(lambda pair, manifest: apis.deprecated_apis(manifest, refarch.options.kube_version))
