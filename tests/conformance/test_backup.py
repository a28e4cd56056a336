"""Backup and restore where the architecture requires it: the render's or the operator's backup
objects (--refarch-manifests) cover every stateful workload (fixtures/backup.yaml)."""

from harness_refarch.plugin.binding import conformance_test

test_velero_backup = conformance_test("velero_backup")
