"""Every rendered object against the Kubernetes OpenAPI schemas of --cluster-version (strict:
unknown fields are errors), custom resources against fixtures/schemas/, and API versions that
the target Kubernetes deprecates or no longer serves."""

from harness_refarch.plugin.binding import conformance_test

test_kubernetes_schemas = conformance_test("kubernetes_schemas")
test_api_versions_served = conformance_test("api_versions_served")
