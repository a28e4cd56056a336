"""Backup and restore where the architecture requires it: the render's or the operator's backup
objects (--refarch-manifests) cover every stateful workload (fixtures/backup.yaml)."""

import pytest

from harness_refarch.checks import backup


@pytest.mark.refarch(backup=True)
def test_velero_backup(refarch, refarch_pair, assert_conformant):
    assert_conformant(backup.backup, refarch.backup_evidence)
