"""Issue 6 end to end: trustworthy verdicts on any chart (tests from the render, layering as
Harness documents it, keys that do nothing, chart sources, a second differently shaped chart)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from scripts import failed_ids, python_script

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
CHART = REPO / "charts" / "harness-prod"
ACME = REPO / "tests" / "charts" / "acme-platform"
_HELM: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _remember_helm(real_helm: Path) -> None:
    _HELM[:] = [real_helm]  # for run, which is not a fixture


def run(pytester: pytest.Pytester, *args: str, fixtures: Path = REPO / "fixtures") -> pytest.RunResult:
    helm = [] if any(a.startswith("--refarch-helm") for a in args) else ["--refarch-helm", str(_HELM[0])]
    return pytester.runpytest_subprocess(
        str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider", "-p", "no:randomly",
        "--refarch-fixtures", str(fixtures), *helm, *args)


def failed(result: pytest.RunResult) -> set[str]:
    return {nodeid.split("::", 1)[1] for nodeid in failed_ids(result.stdout.str())}


def _script(path: Path, body: str) -> Path:
    return python_script(path, body)


def test_a_helm_that_renders_nothing_fails_every_test_of_the_pair(pytester, tmp_path: Path) -> None:
    """No test passes about a workload the render does not contain."""
    empty = _script(tmp_path / "empty-helm", "import sys\nif sys.argv[1:2] == ['version']:\n    print('v3.17.3')\n")
    result = run(pytester, "--refarch-helm", str(empty), "--refarch-profile", "large",
                 "--refarch-architecture", "prod-3-incluster", "-q")
    out = result.stdout.str()
    assert result.ret == 1, out
    assert re.search(r"\d+ failed", out.splitlines()[-1]) and " passed" not in out.splitlines()[-1], out[-500:]
    assert "contains no workload at all" in out
    assert "(no workloads)" in out  # the per-workload tests collapse to one placeholder each


def test_keyword_renders_only_what_its_tests_need(pytester, tmp_path: Path, real_helm: Path) -> None:
    log = tmp_path / "calls.log"
    wrapper = _script(tmp_path / "counting-helm",
                      f"import os, sys\nopen({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
                      f"os.execv({str(real_helm)!r}, [{str(real_helm)!r}, *sys.argv[1:]])\n")
    result = run(pytester, "--refarch-helm", str(wrapper), "-q", "-k", "large")
    assert result.ret == 0, result.stdout.str()[-2000:]
    profiles = re.findall(r"override-(\w+)\.yaml", log.read_text())
    # the large pairs (+ DR standby + one second render per architecture) and the medium
    # renders the capacity comparison needs: never small or demo.
    assert set(profiles) == {"large", "medium"}, sorted(set(profiles))
    assert profiles.count("medium") == 5


def test_user_hosts_are_the_expected_hosts_and_contradictions_name_the_file(pytester, tmp_path: Path) -> None:
    mine = tmp_path / "my-override.yaml"
    mine.write_text("global:\n  database:\n    mongo:\n      installed: false\n      protocol: mongodb\n"
                    "      hosts:\n        - mongo-a.corp.example:27017\n        - mongo-b.corp.example:27017\n"
                    "      extraArgs: replicaSet=corp0&authSource=admin\n      secretName: corp-mongo\n")
    external = run(pytester, "--refarch-values", str(mine), "--refarch-architecture",
                   "prod-3-external-self-managed", "--refarch-profile", "small", "-q")
    assert external.ret == 0, external.stdout.str()[-3000:]
    incluster = run(pytester, "--refarch-values", str(mine), "--refarch-architecture", "prod-3-incluster",
                    "--refarch-profile", "small", "-q")
    out = incluster.stdout.str()
    assert incluster.ret == 1
    assert "test_values_match_architecture[small-prod-3-incluster]" in failed(incluster)
    assert f"set by {mine}:4 global.database.mongo.installed" in out


def test_user_values_come_after_the_architecture_overlay(pytester, tmp_path: Path) -> None:
    """--refarch-set of the real hosts is what the wiring check expects (not fixture constants)."""
    result = run(pytester, "--refarch-architecture", "prod-3-external-self-managed", "--refarch-profile", "small",
                 "--refarch-set", "global.database.redis.hosts={redis-x.corp.example:6379}", "-q",
                 "-k", "wiring")
    assert result.ret == 0, result.stdout.str()[-3000:]


def test_a_misspelled_key_names_file_line_and_the_key_meant(pytester, tmp_path: Path) -> None:
    copy = tmp_path / "harness-prod"
    shutil.copytree(CHART, copy)
    profile = copy / "override-large.yaml"
    lines = profile.read_text().splitlines()
    index = lines.index("  ng-manager:")
    lines[index] = "  ng-manger:"
    profile.write_text("\n".join(lines) + "\n")
    result = run(pytester, "--chart-path", str(copy), "--refarch-profile", "large",
                 "--refarch-architecture", "prod-1-incluster", "-q", "-k", "value_keys")
    out = result.stdout.str()
    assert result.ret == 1
    assert f"override-large.yaml:{index + 1} platform.ng-manger" in out
    assert "did you mean platform.ng-manager" in out


def test_an_overlay_key_the_chart_does_not_read_fails_its_architecture(pytester, tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(REPO / "fixtures", fixtures)
    overlay = fixtures / "overlays" / "prod-1-incluster.yaml"
    overlay.write_text(overlay.read_text() + "  snapshots:\n    everyHours: 6\n")
    result = run(pytester, "--refarch-profile", "small", "--refarch-architecture", "prod-1-incluster", "-q",
                 "-k", "expressible", fixtures=fixtures)
    assert result.ret == 1
    assert "architecture prod-1-incluster overlay overlays/prod-1-incluster.yaml: global.snapshots" in \
        result.stdout.str()


def test_packaged_chart_gives_the_same_results_as_the_directory(pytester, tmp_path: Path, real_helm: Path) -> None:
    subprocess.run([str(real_helm), "package", str(CHART), "-d", str(tmp_path)], check=True, capture_output=True)
    [tgz] = tmp_path.glob("*.tgz")
    args = ("--refarch-profile", "medium", "-q", "-rA")
    from_dir, from_tgz = run(pytester, *args), run(pytester, "--chart-path", str(tgz), *args)
    assert from_dir.ret == from_tgz.ret == 0, from_tgz.stdout.str()[-3000:]

    def outcomes(result: pytest.RunResult) -> list[str]:
        return sorted(line.split(" - ")[0] for line in result.outlines
                      if line.startswith(("PASSED ", "FAILED ", "XFAIL ", "ERROR ")))

    assert outcomes(from_dir) == outcomes(from_tgz) and len(outcomes(from_dir)) > 100


def test_the_second_chart_gets_true_findings_only(pytester, tmp_path: Path) -> None:
    """A flat chart with other names, random hook Jobs, a sentinel URI list, a TimescaleDB URL in
    a neutral key and no HPA: after recording its golden files, only its real gaps fail."""
    fixtures = tmp_path / "fixtures"
    shutil.copytree(REPO / "fixtures", fixtures)
    shutil.rmtree(fixtures / "golden")
    record = run(pytester, "--chart-path", str(ACME), "--refarch-update", "-q", fixtures=fixtures)
    assert "golden file" in record.stdout.str() and "Traceback" not in record.stdout.str()
    second = run(pytester, "--chart-path", str(ACME), "-q", fixtures=fixtures)
    assert second.ret == 1
    assert "error" not in second.outlines[-1], second.outlines[-1]
    names = {re.sub(r"\[.*", "", f) for f in failed(second)}
    # The true gaps: the worker has no anti-affinity; the DR sites would generate different
    # secrets; the DR overlay's shared MinIO secret is a key this chart does not have; no
    # container has a liveness probe.
    assert names == {"test_high_availability", "test_warm_standby", "test_architecture_expressible",
                     "test_best_practices"}, sorted(failed(second))
    practices = [line for line in second.outlines if line.startswith("  - [") and "probes" not in line
                 and any(rule in line for rule in ("image-tag", "privileged", "host-namespaces", "non-root"))]
    assert practices == []
    assert all("Deployment/worker" in f for f in failed(second) if "high_availability" in f)
    out = second.stdout.str()
    assert "Secret/acme-generated" in out and "redis:" not in out.replace("redis://", "")
    # What helm generates on purpose is named in the summary (names and keys, no values).
    volatile = [line for line in second.outlines if "generated at render time, ignored in comparisons" in line]
    assert volatile and any("Job/acme-upgrade-*" in line for line in volatile)
    assert any("spec.template.metadata.annotations.rollme" in line for line in volatile)


def test_profiles_come_from_the_override_files_beside_chart_yaml(pytester, tmp_path: Path) -> None:
    copy = tmp_path / "harness-prod"
    shutil.copytree(CHART, copy)
    (copy / "override-demo.yaml").unlink()
    shutil.copy(copy / "override-large.yaml", copy / "override-xlarge.yaml")
    result = run(pytester, "--chart-path", str(copy), "--collect-only", "-q")
    out = result.stdout.str()
    assert result.ret == 0, out[-2000:]
    assert "profile demo not run: the chart has no override-demo.yaml" in out
    assert "override-xlarge.yaml matches no profile of the reference architectures" in out
    assert not [line for line in result.outlines if "[demo-" in line]
    named = run(pytester, "--chart-path", str(copy), "--refarch-profile", "demo", "-q")
    said = named.stdout.str() + named.stderr.str()
    assert named.ret == pytest.ExitCode.USAGE_ERROR and "no profile file override-demo.yaml" in said, said


def test_kubernetes_conformance_catches_what_a_cluster_would_reject(pytester, tmp_path: Path) -> None:
    """An invalid quantity fails the schema test naming object and field; a pod reading a Secret
    that nothing declares fails the integrity test naming the pod, the kind and the name."""
    lots = run(pytester, "--refarch-profile", "small", "--refarch-architecture", "prod-1-incluster", "-q",
               "--refarch-set", "platform.ng-manager.resources.requests.cpu=lots", "-k", "schemas")
    assert lots.ret == 1
    assert "Deployment/ng-manager: spec.template.spec.containers[0].resources.requests.cpu" in lots.stdout.str()
    copy = tmp_path / "harness-prod"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "reader.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: secret-reader}\nspec:\n"
        "  selector: {matchLabels: {app: secret-reader}}\n  template:\n    metadata: {labels: {app: secret-reader}}\n"
        "    spec:\n      containers:\n        - name: reader\n          image: busybox:1.36\n"
        "          env:\n            - name: TOKEN\n"
        "              valueFrom: {secretKeyRef: {name: nobody-declares-me, key: t}}\n")
    result = run(pytester, "--chart-path", str(copy), "--refarch-profile", "small", "--refarch-architecture",
                 "prod-1-incluster", "-q", "-k", "integrity")
    out = result.stdout.str()
    assert result.ret == 1
    assert "Deployment/secret-reader" in out and "Secret nobody-declares-me" in out
