"""The values layers of each render: every key does something, and nothing contradicts the
architecture under test (layers: architecture overlay, your files, the profile file, --set)."""

import pytest

from harness_refarch.checks import layering


def _keys(refarch, pair, roles):
    """Keys of the layers with these roles that rendering proved to do nothing; the DR
    standby's own overlay is judged on the standby's stack."""
    stacks = [False]
    if pair.architecture.standby_overlay is not None and "architecture" in roles:
        stacks.append(True)
    out = []
    for standby in stacks:
        layers = [(layer, label) for layer, label, role in refarch.labelled_layers(pair, standby)
                  if role in roles and (not standby or layer.path == pair.architecture.standby_overlay)]
        out += layering.keys_not_read(layers, refarch.declared, refarch.unread(pair, standby).nothing)
    return out


@pytest.mark.refarch_needs("unread")
def test_architecture_expressible(refarch, refarch_pair, assert_conformant):
    """Every key the architecture overlay sets is read by this chart; otherwise the architecture
    is silently not what its name says."""
    assert_conformant(lambda pair, manifest: _keys(refarch, pair, {"architecture"}))


@pytest.mark.refarch_needs("unread")
def test_value_keys_read(refarch, refarch_pair, assert_conformant):
    """Every key of the profile file, your values files and --refarch-set is read by the chart
    (a misspelled key does nothing); findings name file, line and the key you probably meant."""
    assert_conformant(lambda pair, manifest: _keys(refarch, pair, {"profile", "user", "set"}))


def test_values_match_architecture(refarch, refarch_pair, assert_conformant):
    """The merged values run each database where the architecture says (in-cluster or external)."""
    assert_conformant(lambda pair, manifest: layering.contradictions(pair, refarch.merged(pair)))
