"""Chart sources: directory, `helm package` archive, repo/chart reference; up-front checks.

Archives and repositories are built at test time with the real helm; the repository is served
on 127.0.0.1 by http.server, and helm's homes point into tmp_path so the user's helm
configuration is never read or written.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from scripts import python_script

from harness_refarch.chart.source import (
    MAX_FILE_BYTES,
    ResolvedChart,
    check_kube_version,
    missing_dependencies,
    resolve_chart,
)
from harness_refarch.helm.binary import bounded
from harness_refarch.helm.install import installed_path
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.manifest import SAFE_LOADER

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED = ROOT / "charts" / "harness-prod"
HELM = installed_path("4")
HELM3 = installed_path("3")


@pytest.fixture(scope="module")
def helm() -> Path:
    if not (HELM.is_file() and os.access(HELM, os.X_OK)):
        pytest.fail(f"These tests need the real helm at {HELM}; run `harness-refarch-install-helm --all`.")
    return HELM


@pytest.fixture
def helm_env(tmp_path: Path) -> dict[str, str]:
    """helm's homes (and HOME) inside tmp_path: the user's helm configuration stays untouched."""
    base = tmp_path / "helm-home"
    env = {
        "HOME": str(base / "home"),
        "HELM_CONFIG_HOME": str(base / "config"),
        "HELM_CACHE_HOME": str(base / "cache"),
        "HELM_DATA_HOME": str(base / "data"),
        "HELM_REPOSITORY_CONFIG": str(base / "config" / "repositories.yaml"),
        "HELM_REPOSITORY_CACHE": str(base / "cache" / "repository"),
        "HELM_CONTENT_CACHE": str(base / "cache" / "content"),
        "HELM_REGISTRY_CONFIG": str(base / "config" / "registry.json"),
        "HELM_PLUGINS": str(base / "data" / "plugins"),
    }
    (base / "home").mkdir(parents=True)
    return env


def _helm(helm: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"helm {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def _chart(root: Path, name: str = "tiny", version: str = "0.1.0", deps: list[dict[str, str]] | None = None,
           profiles: tuple[str, ...] = ("small", "large")) -> Path:
    """A minimal chart: one ConfigMap, optional dependencies and override-<profile>.yaml files."""
    (root / "templates").mkdir(parents=True)
    meta: dict[str, object] = {"apiVersion": "v2", "name": name, "version": version, "kubeVersion": ">=1.25.0-0"}
    if deps:
        meta["dependencies"] = deps
    (root / "Chart.yaml").write_text(yaml.safe_dump(meta))
    (root / "values.yaml").write_text("greeting: hello\n")
    (root / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\ndata:\n"
        "  greeting: {{ .Values.greeting | quote }}\n")
    for profile in profiles:
        (root / f"override-{profile}.yaml").write_text("greeting: sized\n")
    return root


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


def _objects(rendered: str) -> list[tuple[str, str]]:
    return sorted((d["kind"], d["metadata"]["name"]) for d in yaml.load_all(rendered, Loader=SAFE_LOADER) if d)


# -- a chart repository on 127.0.0.1 -------------------------------------------------------------

class _RepoHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def chart_repo(tmp_path: Path, helm: Path, helm_env: dict[str, str]) -> Iterator[list[str]]:
    """Package the tiny chart, index it, serve it and `helm repo add testrepo` (isolated homes)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _helm(helm, "package", str(_chart(tmp_path / "src" / "tiny")), "-d", str(repo), env=helm_env)
    requests: list[str] = []
    handler = type("Handler", (_RepoHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(repo)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        _helm(helm, "repo", "index", str(repo), "--url", url, env=helm_env)
        _helm(helm, "repo", "add", "testrepo", url, env=helm_env)
        yield requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_repo_reference_is_pulled_once(tmp_path: Path, helm: Path, helm_env: dict[str, str],
                                       chart_repo: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # "testrepo/tiny" is not a path here
    work = tmp_path / "work"
    chart = resolve_chart("testrepo/tiny", helm, Path("work"), env=helm_env)  # relative work dir
    assert (chart.kind, chart.name, chart.version, chart.origin) == ("repository", "tiny", "0.1.0", "testrepo/tiny")
    assert chart.kube_version == ">=1.25.0-0"
    assert chart.dir.is_relative_to(work) and (chart.dir / "Chart.yaml").is_file()
    assert set(chart.profiles) == {"small", "large"}
    again = resolve_chart("testrepo/tiny", helm, work, env=helm_env)
    assert again.dir == chart.dir
    assert [r for r in chart_repo if r.endswith(".tgz")] == ["/tiny-0.1.0.tgz"], chart_repo
    assert "greeting" in _helm(helm, "template", "r", str(chart.dir))
    # a version constraint reaches helm pull
    pinned = resolve_chart("testrepo/tiny", helm, tmp_path / "work2", version="0.1.0", env=helm_env)
    assert pinned.version == "0.1.0"


def test_repo_pull_failure_quotes_helm(tmp_path: Path, helm: Path, helm_env: dict[str, str],
                                       chart_repo: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RefarchError) as info:
        resolve_chart("testrepo/tiny", helm, tmp_path / "work", version="9.9.9", env=helm_env)
    text = str(info.value)
    assert "not an existing file or directory" in text and "exit code 1" in text
    assert "9.9.9" in text and "helm said:" in text and "helm repo add" in text
    with pytest.raises(RefarchError, match=r"(?s)norepo/tiny.*helm said:.*repo"):
        resolve_chart("norepo/tiny", helm, tmp_path / "work", env=helm_env)
    assert list((tmp_path / "work").iterdir()) == [], "a failed pull left files behind"


def _fake_helm(path: Path, body: str) -> Path:
    return python_script(path, f"import sys, os, time, subprocess\n{body}\n")


def test_pull_passes_reference_after_double_dash_and_bounds_stderr(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv_file = tmp_path / "argv"
    fake = _fake_helm(tmp_path / "helm", f"open({str(argv_file)!r}, 'w').write('\\n'.join(sys.argv[1:]))\n"
                      "sys.stderr.write(''.join(f'line {i}\\n' for i in range(200)))\nsys.exit(1)")
    with pytest.raises(RefarchError) as info:
        resolve_chart("some-repo/harness", fake, tmp_path / "work", version="^0.30")
    args = argv_file.read_text().splitlines()
    assert args[0] == "pull" and args[-2:] == ["--", "some-repo/harness"]
    assert args[args.index("--version") + 1] == "^0.30"
    text = str(info.value)
    assert "line 0\n" in text and "line 199" in text and "[120 lines omitted]" in text and "line 100\n" not in text


def test_flag_like_spec_is_never_passed_to_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "called"
    fake = _fake_helm(tmp_path / "helm", f"open({str(marker)!r}, 'w').write('x')")
    with pytest.raises(RefarchError, match="does not exist"):
        resolve_chart("--post-renderer=./evil/sh", fake, tmp_path / "work")
    assert not marker.exists()


def test_hanging_pull_times_out_and_kills_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pidfile = tmp_path / "child.pid"
    fake = _fake_helm(tmp_path / "helm", "child = subprocess.Popen(['sleep', '60'])\n"
                      f"open({str(pidfile)!r}, 'w').write(str(child.pid))\ntime.sleep(60)")
    with pytest.raises(RefarchError, match=r"did not finish within 1 s"):
        resolve_chart("r/c", fake, tmp_path / "work", timeout=1)
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # a killed child stays a zombie until init reaps it; treat zombies as gone
        status = Path(f"/proc/{child}/stat")
        if status.exists() and status.read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"helm's child process {child} survived the timeout")


# -- packaged archives -------------------------------------------------------------------------

def test_embedded_chart_archive_renders_like_the_directory(tmp_path: Path, helm: Path,
                                                           helm_env: dict[str, str]) -> None:
    before = _snapshot(EMBEDDED)
    _helm(helm, "package", str(EMBEDDED), "-d", str(tmp_path / "pkg"), env=helm_env)
    archive = next((tmp_path / "pkg").glob("harness-prod-*.tgz"))
    from_dir = resolve_chart(str(EMBEDDED), helm, tmp_path / "work")
    from_tgz = resolve_chart(str(archive), helm, tmp_path / "work")
    assert from_dir.kind == "directory" and from_dir.dir == EMBEDDED.resolve()
    assert from_tgz.kind == "archive" and from_tgz.dir.is_relative_to(tmp_path / "work")
    assert (from_tgz.name, from_tgz.version, from_tgz.kube_version) == \
        (from_dir.name, from_dir.version, from_dir.kube_version) == ("harness-prod", "0.1.0", ">=1.27.0-0")
    assert set(from_dir.profiles) == set(from_tgz.profiles) == {"demo", "small", "medium", "large"}
    assert from_tgz.profiles["large"] == from_tgz.dir / "override-large.yaml"
    for profile in ("demo", "large"):
        rendered = [_objects(_helm(helm, "template", "harness", str(c.dir), "--namespace", "harness",
                                   "-f", str(c.profiles[profile]), env=helm_env))
                    for c in (from_dir, from_tgz)]
        assert rendered[0] == rendered[1] and len(rendered[0]) > 10
    assert _snapshot(EMBEDDED) == before, "resolving or packaging wrote into the chart directory"


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


CHART_YAML = b"apiVersion: v2\nname: tiny\nversion: 0.1.0\n"


@pytest.mark.parametrize("evil", [
    ("../escaped.txt", None),
    ("tiny/../../escaped.txt", None),
    ("/tmp/refarch-absolute-escape.txt", None),
    ("tiny/link", "../../escaped.txt"),
    ("tiny/abslink", "/etc/passwd"),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-absolute"])
def test_path_traversal_archive_is_refused(tmp_path: Path, helm: Path, evil: tuple[str, str | None]) -> None:
    name, link = evil
    info = _file(name)
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
    archive = _tar(tmp_path / "evil.tgz", [(_file("tiny/Chart.yaml"), CHART_YAML), (info, b"pwned")])
    work = tmp_path / "deep" / "work"
    with pytest.raises(RefarchError, match=r"Refused to unpack the chart archive .*evil\.tgz"):
        resolve_chart(str(archive), helm, work)
    assert not (tmp_path / "deep" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert not Path("/tmp/refarch-absolute-escape.txt").exists()


def test_archive_past_helms_file_size_limit_is_refused_before_unpacking(tmp_path: Path, helm: Path) -> None:
    """helm refuses chart files over 5 MiB; a small .tgz holding a huge file must not be unpacked."""
    archive = _tar(tmp_path / "big.tgz", [(_file("tiny/Chart.yaml"), CHART_YAML),
                                          (_file("tiny/files/blob.bin"), bytes(MAX_FILE_BYTES + 1))])
    assert archive.stat().st_size < 100_000
    work = tmp_path / "work"
    with pytest.raises(RefarchError, match=r"big\.tgz holds a file of 5 MiB \('tiny/files/blob\.bin'\); helm refuses"):
        resolve_chart(str(archive), helm, work)
    assert not any(p.is_file() for p in work.rglob("*")) if work.exists() else True


def test_archive_nested_thousands_of_folders_deep_is_an_error_not_a_recursion_error(tmp_path: Path,
                                                                                       helm: Path) -> None:
    archive = _tar(tmp_path / "deep.tgz", [(_file("tiny/Chart.yaml"), CHART_YAML),
                                           (_file("tiny/templates/" + "d/" * 2100 + "x.yaml"), b"")])
    with pytest.raises(RefarchError, match=r"deep\.tgz nests a file 2103 folders deep"):
        resolve_chart(str(archive), helm, tmp_path / "work")


def test_archive_that_is_not_a_gzip_tar(tmp_path: Path, helm: Path) -> None:
    junk = tmp_path / "chart.tgz"
    junk.write_bytes(b"\x00\x01not a tarball" * 50)
    with pytest.raises(RefarchError, match=r"chart\.tgz is not a gzip-compressed tar file.*helm package"):
        resolve_chart(str(junk), helm, tmp_path / "work")
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        info = _file("tiny/Chart.yaml")
        info.size = len(CHART_YAML)
        tar.addfile(info, io.BytesIO(CHART_YAML))
    with pytest.raises(RefarchError, match="not a gzip-compressed tar"):
        resolve_chart(str(plain), helm, tmp_path / "work")


def test_archive_without_chart_yaml(tmp_path: Path, helm: Path) -> None:
    archive = _tar(tmp_path / "nochart.tgz", [(_file("tiny/values.yaml"), b"a: 1\n"),
                                              (_file("Chart.yaml"), CHART_YAML)])
    with pytest.raises(RefarchError, match=r"no <chart>/Chart\.yaml at its top level"):
        resolve_chart(str(archive), helm, tmp_path / "work")


def test_archive_with_two_charts(tmp_path: Path, helm: Path) -> None:
    archive = _tar(tmp_path / "two.tgz", [(_file("a/Chart.yaml"), CHART_YAML), (_file("b/Chart.yaml"), CHART_YAML)])
    with pytest.raises(RefarchError, match=r"several charts \(a, b\)"):
        resolve_chart(str(archive), helm, tmp_path / "work")


def test_archive_with_invalid_chart_yaml_names_the_origin(tmp_path: Path, helm: Path) -> None:
    archive = _tar(tmp_path / "bad.tgz", [(_file("tiny/Chart.yaml"), b"name: [unclosed\n")])
    with pytest.raises(RefarchError, match=r"Chart\.yaml \(from --chart-path .*bad\.tgz'\) is not valid YAML"):
        resolve_chart(str(archive), helm, tmp_path / "work")


# -- directories: existence, Chart.yaml, dependencies, profiles --------------------------------

def test_path_that_does_not_exist(tmp_path: Path, helm: Path) -> None:
    for spec in (str(tmp_path / "nope" / "chart"), "./nope", "a/b/c"):
        with pytest.raises(RefarchError, match=r"does not exist.*repo/chart") as info:
            resolve_chart(spec, helm, tmp_path / "work")
        assert repr(spec) in str(info.value)


def test_directory_without_chart_yaml(tmp_path: Path, helm: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RefarchError, match=r"is a directory but not a Helm chart: .*empty has no Chart\.yaml"):
        resolve_chart(str(tmp_path / "empty"), helm, tmp_path / "work")
    chart = _chart(tmp_path / "c")
    with pytest.raises(RefarchError, match=r"names the Chart\.yaml file; pass the directory"):
        resolve_chart(str(chart / "Chart.yaml"), helm, tmp_path / "work")


@pytest.mark.parametrize(("content", "expected"), [
    (b"apiVersion: v2\nname: [unclosed\n", r"is not valid YAML"),
    (b"- apiVersion: v2\n- name: x\n", r"must hold a YAML mapping .* not list"),
    (b"", r"must hold a YAML mapping .* not NoneType"),
    (b"apiVersion: v2\nversion: 0.1.0\n", r"has no usable name\b"),
    (b"apiVersion: v2\nname: x\n", r"has no usable version\b"),
    (b"apiVersion: v2\nname: x\nversion: ''\n", r"has no usable version\b"),
    (b"name: x\nversion: 1.0.0\n", r"has no usable apiVersion\b"),
    (b"apiVersion: v2\nname: {a: 1}\nversion: true\n", r"has no usable name, version\b"),
    (b"\xff\xfe\x00garbage", r"is not UTF-8 text"),
    (b"apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies: {a: 1}\n", r"`dependencies` must be a list"),
], ids=["yaml", "list", "empty", "no-name", "no-version", "empty-version", "no-apiversion", "wrong-types",
        "binary", "deps-shape"])
def test_bad_chart_yaml(tmp_path: Path, helm: Path, content: bytes, expected: str) -> None:
    chart = _chart(tmp_path / "c")
    (chart / "Chart.yaml").write_bytes(content)
    with pytest.raises(RefarchError, match=expected) as info:
        resolve_chart(str(chart), helm, tmp_path / "work")
    assert str(chart / "Chart.yaml") in str(info.value)
    assert "Traceback" not in str(info.value) and len(str(info.value).splitlines()) < 20


def test_missing_dependencies_are_one_message(tmp_path: Path, helm: Path, helm_env: dict[str, str]) -> None:
    deps = [{"name": "alpha", "version": "0.1.0"},
            {"name": "bravo", "version": "0.1.0", "alias": "bee", "condition": "bee.enabled"},
            {"name": "charlie", "version": "0.1.0"},
            {"name": "delta", "version": "0.1.0"},
            {"name": "echo", "version": "0.1.0", "repository": "https://example.invalid/charts"}]
    chart = _chart(tmp_path / "umbrella", "umbrella", deps=deps)
    # alpha: unpacked, under another directory name (helm matches Chart.yaml names)
    _chart(chart / "charts" / "first", "alpha", deps=[{"name": "nested", "version": "1.0.0"}], profiles=())
    # charlie: a packaged subchart
    _helm(helm, "package", str(_chart(tmp_path / "src" / "charlie", "charlie", profiles=())), "-d",
          str(chart / "charts"), env=helm_env)
    # delta: a directory named delta whose Chart.yaml says otherwise does not count
    _chart(chart / "charts" / "delta", "not-delta", profiles=())
    before = _snapshot(chart)
    with pytest.raises(RefarchError) as info:
        resolve_chart(str(chart), helm, tmp_path / "work")
    text = str(info.value)
    assert f"helm dependency build {chart.resolve()}" in text
    assert "bravo (version 0.1.0, alias bee, condition bee.enabled)" in text
    assert "delta (version 0.1.0)" in text and "echo (version 0.1.0, repository https://example.invalid/charts)" in text
    assert "; charts/first: nested (version 1.0.0)" in text
    assert "alpha (" not in text and "charlie (" not in text
    assert len(text.splitlines()) == 1
    assert _snapshot(chart) == before, "resolve_chart wrote into the user's chart directory"
    # helm agrees that this chart cannot be rendered as is
    proc = subprocess.run([str(helm), "template", "r", str(chart)], capture_output=True, text=True, check=False,
                          env={**os.environ, **helm_env})
    assert proc.returncode != 0 and "missing" in proc.stderr


def test_dependencies_satisfied_by_helm_dependency_build(tmp_path: Path, helm: Path,
                                                         helm_env: dict[str, str]) -> None:
    sub = _chart(tmp_path / "sub", "sub", profiles=())
    chart = _chart(tmp_path / "umbrella", "umbrella",
                   deps=[{"name": "sub", "version": "0.1.0", "repository": f"file://{sub}", "alias": "s"}])
    assert missing_dependencies(chart) == [f"sub (version 0.1.0, alias s, repository file://{sub})"]
    _helm(helm, "dependency", "build", str(chart), env=helm_env)
    assert missing_dependencies(chart) == []
    resolved = resolve_chart(str(chart), helm, tmp_path / "work")
    assert resolved.name == "umbrella"


def test_missing_dependency_in_archive_says_repackage(tmp_path: Path, helm: Path) -> None:
    # `helm package` itself refuses such a chart, so the archive is put together by hand
    meta = CHART_YAML + b"dependencies:\n  - name: gone\n    version: 1.0.0\n"
    archive = _tar(tmp_path / "umbrella-0.1.0.tgz", [(_file("tiny/Chart.yaml"), meta)])
    with pytest.raises(RefarchError, match=r"gone \(version 1\.0\.0\).*package it again"):
        resolve_chart(str(archive), helm, tmp_path / "work")


def test_profiles_are_the_override_files_beside_chart_yaml(tmp_path: Path, helm: Path) -> None:
    chart = _chart(tmp_path / "c", profiles=("demo", "x-large", "small"))
    (chart / "override-.yaml").write_text("")
    (chart / "override-notes.txt").write_text("")
    (chart / "override-dir.yaml").mkdir()
    (chart / "templates" / "override-medium.yaml").write_text("")
    resolved = resolve_chart(str(chart), helm, tmp_path / "work")
    assert resolved == ResolvedChart(
        dir=chart.resolve(), origin=str(chart), kind="directory", name="tiny", version="0.1.0",
        kube_version=">=1.25.0-0",
        profiles={p: chart.resolve() / f"override-{p}.yaml" for p in ("demo", "small", "x-large")})
    assert list(resolved.profiles) == ["demo", "small", "x-large"]


def test_no_kube_version_constraint(tmp_path: Path, helm: Path) -> None:
    chart = _chart(tmp_path / "c", profiles=())
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.2.3\n")
    resolved = resolve_chart(str(chart), helm, tmp_path / "work")
    assert (resolved.kube_version, resolved.profiles) == (None, {})


def test_chart_version_must_match_a_local_chart(tmp_path: Path, helm: Path) -> None:
    chart = _chart(tmp_path / "c")
    assert resolve_chart(str(chart), helm, tmp_path / "work", version="v0.1.0").version == "0.1.0"
    with pytest.raises(RefarchError, match=r"--chart-version 0\.2\.0 was given, but .* is version 0\.1\.0"):
        resolve_chart(str(chart), helm, tmp_path / "work", version="0.2.0")


# -- versions and bounded output ---------------------------------------------------------------

@pytest.mark.parametrize(("given", "expected"), [
    ("1.29", "1.29.0"), ("v1.29.0", "1.29.0"), ("1.30.2", "1.30.2"), (" v1.31 ", "1.31.0"),
    ("1.29.0-rc.1", "1.29.0-rc.1"), ("v1.28.3+k3s1", "1.28.3+k3s1"),
])
def test_kube_version_normalised(given: str, expected: str) -> None:
    assert check_kube_version(given) == expected


@pytest.mark.parametrize("given", ["garbage", "", "1", "1.x", "v1.29.0.1", "--debug", "1.29;rm", "01.29"])
def test_kube_version_rejected(given: str) -> None:
    with pytest.raises(RefarchError, match=r"--cluster-version .* is not a Kubernetes version.*1\.29"):
        check_kube_version(given)


def test_bounded() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    out = bounded(text)
    lines = out.splitlines()
    assert lines[:40] == [f"line {i}" for i in range(40)]
    assert lines[40] == "... [20 lines omitted] ..."
    assert lines[41:] == [f"line {i}" for i in range(60, 100)]
    assert bounded("a\nb") == "a\nb"
    assert bounded("\n".join(["x"] * 80)) == "\n".join(["x"] * 80)
    assert bounded("x" * 5000).endswith("... [4600 characters cut]")
    huge = "\n".join(["e" * 200] * 100_000)  # 20 MB of stderr
    assert len(bounded(huge)) < 100_000
    assert len(bounded("z" * 20_000_000)) < 2_000
