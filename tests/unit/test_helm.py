"""The helm runner: lookup order, missing binary, failing commands, the order of -f layers."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from harness_refarch import install_helm
from harness_refarch.errors import HelmFailed, HelmNotFound
from harness_refarch.helm import Helm, find_helm
from harness_refarch.render import RenderRequest, render


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "empty-cache"
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(cache))
    return cache


def test_explicit_option_wins_over_env_and_path(tmp_path: Path) -> None:
    a = _script(tmp_path / "a-helm", "")
    b = _script(tmp_path / "b-helm", "")
    assert find_helm(str(a), {"HELM_BIN": str(b), "PATH": ""}) == a
    assert find_helm(None, {"HELM_BIN": str(b), "PATH": ""}) == b


def test_path_then_cache(tmp_path: Path, no_cache: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    on_path = _script(bindir / "helm", "")
    assert find_helm(None, {"PATH": str(bindir)}) == on_path
    cached = install_helm.installed_path()
    cached.parent.mkdir(parents=True)
    _script(cached, "")
    assert find_helm(None, {"PATH": str(tmp_path / "nowhere")}) == cached


def test_missing_binary_is_one_readable_error(tmp_path: Path, no_cache: Path) -> None:
    with pytest.raises(HelmNotFound, match=r"No helm binary found.*harness-refarch-install-helm"):
        find_helm(None, {"PATH": str(tmp_path)})
    with pytest.raises(HelmNotFound, match=r"--helm \(.*nope\) does not exist"):
        find_helm(str(tmp_path / "nope"), {"PATH": ""})


def test_failure_names_command_and_quotes_stderr(tmp_path: Path) -> None:
    fake = _script(tmp_path / "helm", "import sys\nsys.stderr.write('Error: parse error in x.yaml\\n')\nsys.exit(1)\n")
    with pytest.raises(HelmFailed) as info:
        Helm(fake).run(["template", "r", "chart"])
    text = str(info.value)
    assert "template r chart" in text and "exit code 1" in text
    assert "Error: parse error in x.yaml" in text


def test_template_arguments_keep_layer_order(tmp_path: Path) -> None:
    """User files first, then overlays, the profile file last, as Harness documents."""
    log = tmp_path / "args.log"
    fake = _script(tmp_path / "helm", f"import sys\nopen({str(log)!r}, 'w').write('\\n'.join(sys.argv[1:]))\n")
    layers = (Path("/u/mine.yaml"), Path("/f/ci-cd.yaml"), Path("/f/arch.yaml"), Path("/c/override-x.yaml"))
    req = RenderRequest(chart=Path("/c"), release="rel", namespace="ns", kube_version="1.30.0",
                        values=layers, sets=("a.b=1",))
    render(Helm(fake), req)
    args = log.read_text().splitlines()
    assert args[:7] == ["template", "rel", "/c", "--namespace", "ns", "--kube-version", "1.30.0"]
    files = [args[i + 1] for i, a in enumerate(args) if a == "--values"]
    assert files == [str(p) for p in layers]
    assert args.index("--set") > max(i for i, a in enumerate(args) if a == "--values")


def test_no_shell_is_involved(tmp_path: Path) -> None:
    """Arguments with shell metacharacters reach helm verbatim."""
    log = tmp_path / "args.log"
    fake = _script(tmp_path / "helm", f"import sys\nopen({str(log)!r}, 'w').write(sys.argv[1])\n")
    Helm(fake).run(["a b; echo $(id) `x` | y"])
    assert log.read_text() == "a b; echo $(id) `x` | y"


@pytest.mark.skipif(not os.environ.get("HELM_BIN") and not install_helm.installed_path().is_file(),
                    reason="needs a real helm (run harness-refarch-install-helm)")
def test_real_helm_reports_its_version() -> None:
    helm = Helm(find_helm())
    assert helm.major in (3, 4)
