"""Four shards plus ``harness-refarch merge`` give what one run gives (issue 17 item 5).

The conformance suite runs in subprocesses, as CI runs it, on a copy of the embedded chart
with inputs that make findings of every kind the merge must carry: ``global.pdb.create=false``
(HA findings on many pairs, one root cause each for all of them), a Job named anew on every
render, a JVM heap above its limit set on one line of a profile file (a root cause located at
that line in SARIF), a waiver that waives some findings and one that is stale. The matrix is seven
pairs over four architectures, so shards hold pairs whose architecture's representative, previous
profile or nothing at all lives in another shard.

One run writes JSON, SARIF and JUnit; four shards write JSON; the merge of the shards writes the
same JSON (but its timestamp), the same SARIF and the same JUnit test set with the same
outcomes, and exits as the run did.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness_refarch import cli

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
CHART = REPO / "charts" / "harness-prod"
MATRIX = ("--refarch-profile", "demo", "--refarch-profile", "small", "--refarch-profile", "medium",
          "--refarch-architecture", "demo", "--refarch-architecture", "prod-1-incluster",
          "--refarch-architecture", "prod-3-incluster", "--refarch-architecture", "dr-warm-standby")
PLANTED = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "planted-migration-%s" (randAlpha 6 | lower) }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:1.36
"""
WAIVERS = """\
waivers:
  - check: replicas
    pair: "*-prod-3-incluster"
    workload: Deployment/ng-manager
    reason: accepted for the test (waived on the pairs of one architecture)
  - check: backup
    workload: Deployment/no-such-workload
    reason: matches nothing, so the run fails it as stale
  - check: integrity
    workload: Ingress/no-such-ingress
    optional: true
    reason: a pattern no profile of this chart renders, never stale
"""
SHARDS = 4
PROFILE = "harness-prod/override-small.yaml"


def suite(helm: Path, chart: Path, cache: Path, waivers: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REFARCH_", "ATS_", "PYTEST_")) and k != "HELM_BIN"}
    env.update(PYTHONDONTWRITEBYTECODE="1", HARNESS_REFARCH_CACHE=str(cache))
    cmd = [sys.executable, "-m", "pytest", str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider",
           "--refarch-helm", str(helm), "--chart-path", str(chart), *MATRIX, "--refarch-waivers", str(waivers),
           "--refarch-set", "global.pdb.create=false", "-q", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, errors="replace",
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, real_helm: Path) -> dict[str, Any]:
    """One run and its four shards (sharing one render cache, as a restored CI cache would)."""
    root = tmp_path_factory.mktemp("merge")
    chart = root / "harness-prod"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "planted.yaml").write_text(PLANTED)
    profile = chart / "override-small.yaml"  # a JVM heap above its limit, traced to this file's line
    text = profile.read_text()
    assert 'memory: "384m"' in text
    profile.write_text(text.replace('memory: "384m"', 'memory: "4096m"', 1))
    waivers = root / "waivers.yaml"
    waivers.write_text(WAIVERS)
    cache = root / "cache"
    one = suite(real_helm, chart, cache, waivers, "--refarch-report", str(root / "one.json"),
                "--refarch-sarif", str(root / "one.sarif"), "--junitxml", str(root / "one.xml"))
    shards = [suite(real_helm, chart, cache, waivers, "--refarch-shard", f"{k}/{SHARDS}",
                    "--refarch-report", str(root / f"shard-{k}.json")) for k in range(1, SHARDS + 1)]
    workers = suite(real_helm, chart, cache, waivers, "--refarch-shard", f"2/{SHARDS}", "-n", "2",
                    "--refarch-report", str(root / "shard-2-workers.json"))
    suite(real_helm, chart, cache, waivers, "--refarch-report", str(root / "one.html"))
    return {"root": root, "one": one, "shards": shards, "workers": workers}


def merge(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["merge", *args])
    out, err = capsys.readouterr()
    return code, out, err


def junit_cases(junit: Path) -> dict[tuple[str, str], str]:
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = [c.tag if c.tag != "skipped" else f"skipped:{c.get('type')}" for c in case
                 if c.tag in ("failure", "error", "skipped")]
        out[(case.get("classname") or "", case.get("name") or "")] = kinds[0] if kinds else "passed"
    return out


def _stale(out: str, workload: str) -> bool:
    return any("stale waiver" in line and workload in line for line in out.splitlines())


def test_four_shards_merge_into_the_results_of_one_run(runs: dict[str, Any], capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root: Path = runs["root"]
    one = runs["one"]
    assert one.returncode == 1, one.stdout[-3000:] + one.stderr[-2000:]
    assert "stale waiver" in one.stdout
    assert not _stale(one.stdout, "no-such-ingress")  # optional: a pattern, never stale
    for k, shard in enumerate(runs["shards"], 1):
        assert shard.returncode == 1, shard.stdout[-3000:] + shard.stderr[-2000:]
        assert f"harness-refarch: shard {k}/{SHARDS}: " in shard.stdout
        assert "stale waiver" not in shard.stdout  # a shard cannot tell: the merge judges

    monkeypatch.chdir(REPO)  # SARIF paths are relative to the working directory, as in the run
    code, out, err = merge(root, capsys, *(str(root / f"shard-{k}.json") for k in (3, 1, 4, 2)),
                           "--refarch-report", str(root / "merged.json"), "--refarch-sarif",
                           str(root / "merged.sarif"), "--junitxml", str(root / "merged.xml"))
    assert code == 1, out + err
    assert "FAILED stale waiver" in out and "gate FAILED (exit 1)" in out
    assert _stale(out, "no-such-workload") and not _stale(out, "no-such-ingress")  # the merge judges as one run

    single = json.loads((root / "one.json").read_text())
    merged = json.loads((root / "merged.json").read_text())
    assert single["summary"]["fail"] and single["summary"]["waived"] and single["findings"]
    assert single["run"]["root_causes"]["locations"] == {"override-small.yaml": str(root / PROFILE)}
    single.pop("generated_at")
    merged.pop("generated_at")
    assert merged == single  # results (and their order), findings, capacity rows, summary, run block

    assert json.loads((root / "merged.sarif").read_text()) == json.loads((root / "one.sarif").read_text())
    assert junit_cases(root / "merged.xml") == junit_cases(root / "one.xml")

    code, _, _ = merge(root, capsys, *(str(root / f"shard-{k}.json") for k in range(1, SHARDS + 1)),
                       "--refarch-report", str(root / "merged.html"))
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    html = [stamp.sub("", (root / name).read_text()) for name in ("one.html", "merged.html")]
    assert code == 1 and html[0] == html[1]

    # a merged report merges again into itself: it is the one shard of a one-shard run
    code, out, _ = merge(root, capsys, str(root / "merged.json"), "--refarch-report", str(root / "again.json"))
    again = json.loads((root / "again.json").read_text())
    again.pop("generated_at")
    assert code == 1 and again == single


def test_every_pair_once_and_the_determinism_test_once_per_architecture(runs: dict[str, Any]) -> None:
    root: Path = runs["root"]
    shards = [json.loads((root / f"shard-{k}.json").read_text()) for k in range(1, SHARDS + 1)]
    single = json.loads((root / "one.json").read_text())
    owned = [p for s in shards for p in s["run"]["shard"]["pairs"]]
    assert sorted(owned) == sorted(p["pair"] for p in single["run"]["matrix"]) and len(set(owned)) == len(owned)
    ids = [r["test_id"] for s in shards for r in s["results"]]
    assert len(ids) == len(set(ids)) and set(ids) == {r["test_id"] for r in single["results"]}
    deterministic = sorted(i for i in ids if "test_deterministic" in i)
    assert deterministic == sorted(r["test_id"] for r in single["results"] if "test_deterministic" in r["test_id"])
    assert len(deterministic) == 4  # one per architecture


def _write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def test_merge_refuses_what_is_not_one_run_in_one_paragraph(runs: dict[str, Any], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    root: Path = runs["root"]
    paths = [str(root / f"shard-{k}.json") for k in range(1, SHARDS + 1)]
    docs = [json.loads(Path(p).read_text()) for p in paths]

    def refused(*args: str) -> str:
        code, out, err = merge(root, capsys, *args)
        assert code == 4, out + err
        assert err.startswith("harness-refarch: ") and "Traceback" not in err and err.count("\n") == 1
        return err

    assert "3/4 missing" in refused(*paths[:2], paths[3])
    assert "same shard" in refused(*paths, paths[1])
    other = copy.deepcopy(docs[1])
    other["run"]["identity"]["chart_digest"] = "sha256:0123"
    assert "chart_digest differs" in refused(paths[0], _write(tmp_path / "other.json", other), *paths[2:])
    split = copy.deepcopy(docs[1])
    split["run"]["shard"]["count"] = 3
    assert "split the run differently" in refused(paths[0], _write(tmp_path / "split.json", split), *paths[2:])
    overlap = copy.deepcopy(docs[1])
    overlap["run"]["shard"]["pairs"].append(docs[0]["run"]["shard"]["pairs"][0])
    assert "both ran pair" in refused(paths[0], _write(tmp_path / "overlap.json", overlap), *paths[2:])
    (tmp_path / "not.json").write_text("<html>")
    assert "is not JSON" in refused(str(tmp_path / "not.json"))
    old = copy.deepcopy(docs[0])
    del old["run"]
    assert "without the run block" in refused(_write(tmp_path / "old.json", old))
    assert "No such file" in refused(str(tmp_path / "missing.json"))


def test_a_passing_merged_gate_exits_0(runs: dict[str, Any], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 1 comes from failing outcomes and waiver problems only: without them the merge passes."""
    root: Path = runs["root"]
    paths = []
    for k in range(1, SHARDS + 1):
        doc = json.loads((root / f"shard-{k}.json").read_text())
        for result in doc["results"]:
            if result["outcome"] in ("fail", "error"):
                result.update(outcome="pass", message="", findings=[])
        entries = [e for e in doc["run"]["waivers"]["entries"] if "no-such-workload" not in e["describe"]]
        doc["run"]["waivers"]["entries"] = [{**e, "used": True} for e in entries]
        paths.append(_write(tmp_path / f"shard-{k}.json", doc))
    code, out, _ = merge(root, capsys, *paths)
    assert code == 0 and "gate passed (exit 0)" in out, out


def test_a_shard_run_by_xdist_workers_merges_the_same(runs: dict[str, Any], capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``-n 2`` inside a shard: its results arrive in any order, the merge puts them in place."""
    root: Path = runs["root"]
    assert runs["workers"].returncode == 1, runs["workers"].stdout[-3000:]
    monkeypatch.chdir(REPO)
    shards = [str(root / ("shard-2-workers.json" if k == 2 else f"shard-{k}.json")) for k in range(1, SHARDS + 1)]
    code, out, err = merge(root, capsys, *shards, "--refarch-report", str(root / "merged-workers.json"))
    assert code == 1, out + err
    single = json.loads((root / "one.json").read_text())
    merged = json.loads((root / "merged-workers.json").read_text())
    single.pop("generated_at")
    merged.pop("generated_at")
    assert merged == single
