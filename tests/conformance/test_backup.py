"""Backup and restore where the architecture requires it (Velero + CSI snapshots)."""

import pytest

from harness_refarch.checks import backup


@pytest.mark.refarch(backup=True)
def test_velero_backup(refarch_pair, assert_conformant):
    assert_conformant(backup.backup)
