"""Every rendered object against the Kubernetes OpenAPI schemas of --cluster-version (strict:
unknown fields are errors), custom resources against fixtures/schemas/, and API versions that
the target Kubernetes deprecates or no longer serves."""

import pytest

from harness_refarch.checks import apis, schema


def test_kubernetes_schemas(refarch, refarch_pair, assert_conformant):
    """A finding names the object, the field path and the schema's complaint. Kinds without any
    schema make the test a skip naming them: never counted as validated."""
    unvalidated = []

    def check(pair, manifest):
        result = schema.validate(manifest, refarch.options.kube_version, refarch.options.fixtures / "schemas")
        unvalidated[:] = [result.skip_reason()] if result.unvalidated else []
        return result.findings

    assert_conformant(check)
    if unvalidated:
        pytest.skip(unvalidated[0])


def test_api_versions_served(refarch, refarch_pair, assert_conformant):
    """No apiVersion the target Kubernetes deprecates or has removed; findings name the replacement."""
    assert_conformant(lambda pair, manifest: apis.deprecated_apis(manifest, refarch.options.kube_version))
