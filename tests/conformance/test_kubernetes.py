"""What a cluster would say: helm lint, references between objects, best practices, and lint of
the values files (Kubernetes schemas and API versions live in test_schemas.py)."""

from harness_refarch.plugin.binding import conformance_test

test_helm_lint = conformance_test("helm_lint")
test_referential_integrity = conformance_test("referential_integrity")
test_best_practices = conformance_test("best_practices")
test_values_files_lint = conformance_test("values_files_lint")
