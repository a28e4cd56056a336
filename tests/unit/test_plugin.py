"""The pytest plugin end to end, against the embedded chart and a real helm (pytester)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scripts import failed_ids, python_script

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
CHART = REPO / "charts" / "harness-prod"
PROFILES = ("demo", "small", "medium", "large")


_REAL_HELM: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _remember_helm(real_helm: Path) -> None:
    _REAL_HELM[:] = [real_helm]  # for run_suite, which is not a fixture


@pytest.fixture
def counting_helm(tmp_path: Path, real_helm: Path) -> tuple[Path, Path]:
    """A --helm wrapper that logs each sub-command, then runs the real helm."""
    log = tmp_path / "helm-calls.log"
    wrapper = tmp_path / "counting-helm"
    python_script(wrapper,
                  "import os, sys\n"
                  f"with open({str(log)!r}, 'a') as f:\n    f.write(' '.join(sys.argv[1:]) + '\\n')\n"
                  f"os.execv({str(real_helm)!r}, [{str(real_helm)!r}, *sys.argv[1:]])\n")
    return wrapper, log


def run_suite(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the conformance suite in a subprocess (pytester gives it a fresh HOME)."""
    helm = [] if "--refarch-helm" in args else ["--refarch-helm", str(_REAL_HELM[0])]
    return pytester.runpytest_subprocess(
        str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider",
        "--refarch-fixtures", str(REPO / "fixtures"), *helm, *args)


def collected_ids(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line]


def test_each_distinct_render_runs_once_in_a_full_run(pytester, counting_helm) -> None:
    wrapper, log = counting_helm
    result = run_suite(pytester, "--refarch-helm", str(wrapper), "-q")
    assert result.ret == 0, result.stdout.str()[-3000:]
    templates = [line for line in log.read_text().splitlines() if line.startswith("template ")]
    # 16 (profile, architecture) pairs + 3 disaster-recovery standby renders ...
    assert len(set(templates)) == 19
    # ... and the determinism check's one second render per architecture (6), nothing else.
    counts = {t: templates.count(t) for t in set(templates)}
    assert sorted(counts.values()) == [1] * 13 + [2] * 6
    assert "25 distinct render(s), 0 from the render cache, 25 by helm" in result.stdout.str()


def test_two_workers_make_exactly_the_helm_calls_of_one_run(pytester, tmp_path: Path, counting_helm,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """-n 2 on the full matrix, each worker starting its own share first and the controller
    rendering each share's first pair while the workers start: the same helm template calls as
    a serial run, each once (the workers agree on each architecture's representative)."""
    wrapper, log = counting_helm
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(tmp_path / "cache-serial"))
    assert run_suite(pytester, "--refarch-helm", str(wrapper), "-q").ret == 0
    serial = sorted(_templates(log))
    log.unlink()
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(tmp_path / "cache-n2"))
    result = run_suite(pytester, "--refarch-helm", str(wrapper), "-q", "-n", "2")
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert sorted(_templates(log)) == serial and len(serial) == 25
    # the controller rendered each share's first pair while the workers started: no cache hit
    assert "25 distinct render(s), 0 from the render cache, 25 by helm" in result.stdout.str()


@pytest.mark.parametrize("word", PROFILES, ids=["p1", "p2", "p3", "p4"])
def test_keyword_selects_only_that_profile(pytester, word: str) -> None:
    result = run_suite(pytester, "--collect-only", "-q", "-k", word)
    ids = collected_ids(result)
    assert ids, result.stdout.str()
    assert all(f"[{word}-" in i for i in ids), [i for i in ids if f"[{word}-" not in i]
    others = [w for w in PROFILES if w != word]
    assert not [i for i in ids if any(f"[{o}-" in i for o in others)]


def test_every_conformance_test_names_exactly_one_profile(pytester) -> None:
    ids = collected_ids(run_suite(pytester, "--collect-only", "-q"))
    assert len(ids) > 900
    for test_id in ids:
        assert len(re.findall("demo|small|medium|large", test_id.split("::", 1)[1])) in (1, 2), test_id
        assert re.search(r"\[(demo|small|medium|large)-", test_id), test_id


def test_chart_path_points_the_suite_at_a_copy(pytester, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "harness-prod"
    shutil.copytree(CHART, copy)
    large = copy / "override-large.yaml"
    text = large.read_text()
    patched = re.sub(r"(ng-manager:\n(?:    .*\n)*?    autoscaling:\n(?:      .*\n)*?      minReplicas: )\d+",
                     r"\g<1>1", text, count=1)
    assert patched != text
    large.write_text(patched)
    result = run_suite(pytester, "--chart-path", str(copy), "--refarch-profile", "large",
                       "--refarch-architecture", "prod-3-incluster")
    out = result.stdout.str()
    assert result.ret == 1, out
    assert "Deployment/ng-manager" in out
    failed = set(failed_ids(result.stdout.str()))
    assert failed and all("large-prod-3-incluster" in f for f in failed), failed
    assert {f.split("::")[1].split("[")[0] for f in failed} == {
        "test_matches_golden", "test_high_availability", "test_capacity_not_below_previous_profile"}
    assert str(copy) in out  # the header names the chart under test


@pytest.mark.parametrize(("args", "message"), [
    (["--refarch-values", "/no/such/file.yaml"], "does not exist"),
    (["--refarch-profile", "huge"], "Unknown --refarch-profile huge; choose from demo, small, medium, large"),
    (["--refarch-helm", "/no/such/helm"], "does not exist or is not executable"),
    (["--chart-path", "/tmp"], "is a directory but not a Helm chart"),
], ids=["values", "profile", "helm", "chart"])
def test_bad_input_is_one_paragraph_and_a_usage_exit(pytester, args: list[str], message: str) -> None:
    result = run_suite(pytester, "-q", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert message in text
    assert "Traceback" not in text


def test_user_values_follow_the_architecture_and_the_profile_file_wins(pytester, tmp_path: Path,
                                                                      counting_helm) -> None:
    """Harness documents `-f your-override.yaml -f override-<profile>.yaml`: the architecture's
    defaults come first, then the user's file, then the profile file."""
    wrapper, log = counting_helm
    mine = tmp_path / "your-override.yaml"
    mine.write_text("platform:\n  ng-manager:\n    resources:\n      requests:\n        cpu: 77m\n")
    run_suite(pytester, "--refarch-helm", str(wrapper), "--refarch-values", str(mine), "--refarch-profile", "large",
              "--refarch-architecture", "prod-3-incluster", "-q", "-k", "golden")
    call = next(line for line in log.read_text().splitlines() if line.startswith("template "))
    files = re.findall(r"--values=(.+?\.yaml)(?= |$)", call)  # a checkout's path may hold a space
    assert files[-1].endswith("override-large.yaml") and files[-2] == str(mine), files
    assert files[-3].endswith("overlays/prod-3-incluster.yaml"), files


def _mutate_large(copy: Path, mutate) -> None:  # type: ignore[no-untyped-def]
    path = copy / "override-large.yaml"
    values = yaml.safe_load(path.read_text())
    mutate(values)
    path.write_text(yaml.safe_dump(values))


def _drop_min_replicas(v: dict) -> None:
    v["platform"]["ng-manager"]["autoscaling"]["minReplicas"] = 1


def _drop_requests(v: dict) -> None:
    v["platform"]["pipeline-service"]["resources"]["requests"] = None


def _move_mongo(v: dict) -> None:
    v.setdefault("global", {}).setdefault("database", {}).setdefault("mongo", {})["hosts"] = [
        "elsewhere.example.com:27017"]


@pytest.mark.parametrize(("mutate", "expected"), [
    (_drop_min_replicas, {"test_matches_golden", "test_high_availability",
                          "test_capacity_not_below_previous_profile"}),
    (_drop_requests, {"test_matches_golden", "test_container_resources",
                      "test_capacity_not_below_previous_profile"}),
    (_move_mongo, {"test_database_wiring"}),
], ids=["min-replicas", "requests", "db-host"])
def test_breaking_the_profile_file_fails_only_its_tests(pytester, tmp_path: Path, mutate, expected) -> None:
    copy = tmp_path / "harness-prod"
    shutil.copytree(CHART, copy)
    _mutate_large(copy, mutate)
    result = run_suite(pytester, "--chart-path", str(copy), "-q", "-p", "no:randomly")
    failed = failed_ids(result.stdout.str())
    assert failed, result.stdout.str()[-2000:]
    assert all("[large-" in f for f in failed), [f for f in failed if "[large-" not in f]
    assert {f.split("::")[1].split("[")[0] for f in failed} == expected


def test_chart_path_with_a_space_keeps_the_project_rootdir(tmp_path: Path) -> None:
    """`--chart-path /x/chart` must not make /x/chart the rootdir (pytest decides it before
    plugin options exist); testpaths and fixtures still come from the project."""
    copy = tmp_path / "harness-prod"
    shutil.copytree(CHART, copy)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--chart-path", str(copy),
         "--refarch-helm", str(_REAL_HELM[0]), "--collect-only", "-q", "-k", "large"],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    assert ids and all(i.startswith("tests/conformance/") and "[large-" in i for i in ids)


def _templates(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("template ")] if log.exists() else []


def test_an_unchanged_second_run_calls_helm_zero_times(pytester, tmp_path: Path, counting_helm,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper, log = counting_helm
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(tmp_path / "cache"))
    first = run_suite(pytester, "--refarch-helm", str(wrapper), "-q", "--refarch-profile", "small")
    # 5 pairs, the DR standby, one second render per architecture, and demo for the capacity test
    assert first.ret == 0 and len(_templates(log)) == 5 + 1 + 5 + 1, first.stdout.str()[-2000:]
    log.unlink()
    second = run_suite(pytester, "--refarch-helm", str(wrapper), "-q", "--refarch-profile", "small")
    assert second.ret == 0 and _templates(log) == []
    assert "12 distinct render(s), 12 from the render cache, 0 by helm" in second.stdout.str()
    stored = [p for p in (tmp_path / "cache" / "renders").rglob("*.json")]
    assert stored and all(p.stat().st_mode & 0o077 == 0 for p in stored)  # 0600: never world-readable
    assert not any("c2VjcmV0" in p.read_text() for p in stored)
    # Any changed input misses: a values file of one architecture re-renders only its pairs.
    overlay = tmp_path / "fixtures"
    shutil.copytree(REPO / "fixtures", overlay)
    (overlay / "overlays" / "prod-1-incluster.yaml").write_text(
        (overlay / "overlays" / "prod-1-incluster.yaml").read_text() + "# changed\n")
    third = pytester.runpytest_subprocess(
        str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider", "--refarch-fixtures", str(overlay),
        "--refarch-helm", str(wrapper), "-q", "--refarch-profile", "small")
    assert third.ret == 0
    assert len(_templates(log)) == 2  # small-prod-1-incluster and its second (determinism) render


def test_xdist_renders_each_input_once_and_keeps_the_summary(pytester, tmp_path: Path, counting_helm,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper, log = counting_helm
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(tmp_path / "cache"))
    result = run_suite(pytester, "--refarch-helm", str(wrapper), "-q", "-n", "2", "--refarch-profile", "medium")
    out = result.stdout.str()
    assert result.ret == 0, out[-2000:]
    templates = _templates(log)
    # 5 pairs + standby + 5 small (previous profile), and 5 determinism renders of the same inputs
    assert len(set(templates)) == 11 and len(templates) == 16, templates
    assert "harness-refarch: chart" in out and "distinct render(s)" in out
    # what the workers' determinism renders learned is named by the controller, as a serial run does
    serial = run_suite(pytester, "--refarch-helm", str(wrapper), "-q", "--refarch-profile", "medium")
    volatile = [line for line in result.outlines if "generated at render time" in line]
    assert volatile and volatile == [line for line in serial.outlines if "generated at render time" in line]


def test_xdist_without_the_render_cache_shares_renders_for_the_run_only(
        pytester, tmp_path: Path, counting_helm, monkeypatch: pytest.MonkeyPatch) -> None:
    """-n 2 --refarch-no-cache: still one helm call per input (the workers share a store made
    for this run and removed after it), each pair's tests on one worker, each pair linted once."""
    wrapper, log = counting_helm
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    result = run_suite(pytester, "--refarch-helm", str(wrapper), "-v", "-n", "2", "--refarch-no-cache",
                       "--refarch-profile", "medium")
    out = result.stdout.str()
    assert result.ret == 0, out[-2000:]
    templates = _templates(log)
    assert len(set(templates)) == 11 and len(templates) == 16, templates
    lints = [line for line in log.read_text().splitlines() if line.startswith("lint ")]
    assert len(lints) == len(set(lints)) == 5, lints
    assert "workers shared renders for this run only" in out
    assert list((tmp_path / "tmp").glob("harness-refarch-run-*")) == []  # removed with the run
    assert not (tmp_path / "cache" / "renders").exists()  # and nothing persistent written
    workers: dict[str, set[str]] = {}
    for line in result.outlines:
        found = re.match(r"\[(gw\d+)\].* PASSED .+?::\w+\[(medium-[a-z0-9-]+?|small-[a-z0-9-]+?)"
                         r"(?:-(?:Deployment|StatefulSet|Job|CronJob|DaemonSet)/\S+)?\]\s*$", line)
        if found:
            workers.setdefault(found[2], set()).add(found[1])
    assert len(workers) == 5 and all(len(w) == 1 for w in workers.values()), workers


def test_pair_scheduling_groups_by_the_longest_pair_id() -> None:
    from harness_refarch.plugin.xdist import PairScheduling

    sched = PairScheduling.__new__(PairScheduling)  # no xdist config needed for the scope function
    sched._pair_ids = sorted(["large-prod-3", "large-prod-3-incluster"], key=len, reverse=True)
    assert sched._split_scope("t.py::test_x[large-prod-3-incluster-Deployment/ng-manager]") == \
        "large-prod-3-incluster"
    assert sched._split_scope("t.py::test_x[large-prod-3]") == "large-prod-3"
    assert sched._split_scope("tests/t.py::test_y[other]") == "tests/t.py"  # not a pair: its module


def test_a_worker_runs_its_own_pairs_first_then_takes_the_busiest_workers_last() -> None:
    """-n: the controller splits the pairs among the workers (each starts its share's renders,
    lints and probe chains while it collects); the scheduler hands a worker its own pairs first,
    in xdist's order (most tests first), then a pair nobody owns, then the last (smallest) pair
    of the worker with the most tests still queued."""
    from collections import OrderedDict

    from harness_refarch.plugin.xdist import next_scope

    queue = OrderedDict([("a", dict.fromkeys("123", False)), ("b", dict.fromkeys("12", False)),
                         ("c", dict.fromkeys("12", False)), ("d", dict.fromkeys("1", False)),
                         ("e", dict.fromkeys("1", False))])
    owner = {"a": "gw0", "b": "gw1", "c": "gw0", "d": "gw0", "e": "gw1"}
    assert next_scope(queue, owner, "gw1") == "b"
    assert next_scope(queue, owner, "gw0") == "a"
    del queue["b"], queue["e"]  # gw1 ran its own: it takes gw0's last pair, not gw0's next
    assert next_scope(queue, owner, "gw1") == "d"
    assert next_scope(OrderedDict([("x", {"1": False}), ("a", {"1": False})]), owner, "gw1") == "x"  # nobody's
    assert next_scope(queue, owner, None) == "d"  # a worker the controller did not name: helps the busiest
    # equal work left: the lower worker id gives
    assert next_scope(OrderedDict([("b", {"1": False}), ("a", {"1": False})]), {"a": "gw0", "b": "gw1"},
                      "gw2") == "a"


def _record_shares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin (-p share_recorder) logging each worker's id, share and helm slots to shares.log."""
    (tmp_path / "share_recorder.py").write_text(
        "import json, os\n\n\ndef pytest_collection_finish(session):\n"
        "    from harness_refarch.plugin.state import state_of\n"
        "    config = session.config\n    wi = getattr(config, 'workerinput', None)\n    if wi is None:\n"
        "        return\n"
        "    with open(os.environ['SHARE_LOG'], 'a') as fh:\n"
        "        slots = state_of(config).session.cache.helm.slots._initial_value\n"
        "        fh.write(json.dumps([wi['workerid'], wi.get('refarch_share'), slots]) + '\\n')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("SHARE_LOG", str(tmp_path / "shares.log"))
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(tmp_path / "cache"))


def test_a_single_worker_is_told_no_share_and_starts_every_pair(pytester, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """-n 1: nothing to split; the worker starts every pair's renders while it collects."""
    _record_shares(tmp_path, monkeypatch)
    result = run_suite(pytester, "-q", "-n", "1", "-p", "share_recorder", "--refarch-profile", "small")
    assert result.ret == 0, result.stdout.str()[-2000:]
    [told] = [json.loads(line) for line in (tmp_path / "shares.log").read_text().splitlines()]
    assert told[0] == "gw0" and told[1] is None, told


def test_xdist_workers_get_disjoint_shares_covering_the_pairs(pytester, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker is told its share of the selected matrix (as --refarch-shard splits it among
    machines), every pair in exactly one share, and each worker renders with its share of the
    cores (one helm at a time on two cores with -n 2)."""
    _record_shares(tmp_path, monkeypatch)
    result = run_suite(pytester, "-q", "-n", "2", "-p", "share_recorder", "--refarch-profile", "medium")
    assert result.ret == 0, result.stdout.str()[-2000:]
    told = sorted(json.loads(line) for line in (tmp_path / "shares.log").read_text().splitlines())
    assert [w for w, _, _ in told] == ["gw0", "gw1"], told
    shares = [set(share) for _, share, _ in told]
    assert all(shares) and not shares[0] & shares[1], shares
    assert sorted(shares[0] | shares[1]) == sorted(
        ["medium-prod-1-incluster", "medium-prod-3-incluster", "medium-prod-3-external-self-managed",
         "medium-prod-3-external-cloud", "medium-dr-warm-standby"])
    cores = min(8, os.cpu_count() or 2)
    assert all(slots == max(1, cores // 2) for _, _, slots in told), told


def test_tests_waiting_for_later_helm_jobs_run_last(pytester) -> None:
    """Tests that need the DR standby, a second render or helm lint come after the tests that
    need only the pairs' renders, so those run while helm still works."""
    result = run_suite(pytester, "--collect-only", "-q", "--refarch-profile", "small")
    ids = [line.split("::")[1].split("[")[0] for line in result.outlines if "::" in line]
    assert ids, result.stdout.str()[-2000:]
    late = {"test_warm_standby": 1, "test_deterministic": 2, "test_architecture_expressible": 2,
            "test_value_keys_read": 2, "test_helm_lint": 3}
    ranks = [late.get(name, 0) for name in ids]
    assert ranks == sorted(ranks) and ranks[-1] == 3 and ranks.count(0) > 100, ids


def test_the_summary_counts_the_pairs_a_keyword_selected(pytester: pytest.Pytester, real_helm: Path) -> None:
    """Issue 16: under -k large the summary said 16 pairs."""
    result = pytester.runpytest_subprocess(
        str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-p", "no:cacheprovider",
        "--refarch-helm", str(real_helm), "-q", "-k", "large and hpa_bounds")
    assert "5 of 16 (profile, architecture) pair(s) selected" in result.stdout.str(), result.stdout.str()[-2000:]


RECORDER = """import os


def pytest_runtest_logreport(report):
    if report.when == "call" and hasattr(report, "wasxfail"):
        with open(os.environ["XFAIL_LOG"], "a") as fh:
            fh.write(f"{report.nodeid}\\t{report.wasxfail}\\t{str(report.longrepr)!r}\\n")
"""


def test_a_waived_test_is_an_xfail_with_its_reason_and_no_traceback(pytester, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The waiver's reason is all a waived test reports: it raises nothing, so pytest renders no
    traceback for it (one per waived test was 20 s of a warm run gating the released chart; then,
    with ``pytrace=False``, still a tenth of it, filtering every frame by path) and an xdist
    worker sends no failure text the controller drops."""
    (tmp_path / "xfail_recorder.py").write_text(RECORDER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("XFAIL_LOG", str(tmp_path / "xfails.log"))
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - check: values-keys\n    field: notAKey\n    reason: known, ticket 17\n")
    result = run_suite(pytester, "-q", "-p", "xfail_recorder", "--refarch-profile", "demo", "--refarch-set",
                       "notAKey=1", "--refarch-waivers", str(waivers), "-k", "value_keys_read")
    assert result.ret == 0, result.stdout.str()[-3000:]
    [line] = (tmp_path / "xfails.log").read_text().splitlines()
    nodeid, reason, longrepr = line.split("\t")
    assert nodeid.endswith("test_value_keys_read[demo-demo]") and "known, ticket 17" in reason
    assert longrepr == repr("None")


def test_runxfail_fails_a_waived_test_as_it_fails_an_imperative_xfail(pytester, tmp_path: Path) -> None:
    """``--runxfail`` asks pytest not to turn failures into xfails: a waived test fails, with its reason."""
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - check: values-keys\n    field: notAKey\n    reason: known, ticket 17\n")
    result = run_suite(pytester, "-q", "--runxfail", "--refarch-profile", "demo", "--refarch-set", "notAKey=1",
                       "--refarch-waivers", str(waivers), "-k", "value_keys_read")
    assert result.ret == 1, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*1 finding(s) waived: known, ticket 17*"])


SPAWN_RECORDER = """import os
import sys


def _audit(event, args):
    if event == "subprocess.Popen":
        with open(os.environ["SPAWN_LOG"], "a") as fh:
            fh.write(" ".join(str(a) for a in args[1]) + "\\n")


sys.addaudithook(_audit)
"""


def test_a_warm_run_starts_no_helm_process_at_all(pytester, tmp_path: Path, real_helm: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """helm's version is remembered by the digest of its program file: the second, unchanged run
    starts no helm (not even ``helm version``). A script wrapper is asked every run: it may run
    a different helm each time."""
    (tmp_path / "spawn_recorder.py").write_text(SPAWN_RECORDER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("HARNESS_REFARCH_CACHE", str(tmp_path / "cache"))
    log = tmp_path / "spawned.log"
    monkeypatch.setenv("SPAWN_LOG", str(log))
    args = ("-q", "-p", "spawn_recorder", "--refarch-profile", "demo", "--refarch-architecture", "demo")
    first = run_suite(pytester, *args)
    assert first.ret == 0, first.stdout.str()[-2000:]
    spawned = log.read_text().splitlines()
    assert any(" version " in f" {line} " for line in spawned) and any(" template " in line for line in spawned)
    log.unlink()
    second = run_suite(pytester, *args)
    assert second.ret == 0, second.stdout.str()[-2000:]
    assert not log.exists() or not [line for line in log.read_text().splitlines() if str(real_helm) in line]
    # A script in front of helm: its version is asked again (the script may exec another helm).
    wrapper = tmp_path / "wrapped-helm"
    wrapper.write_text(f"#!/bin/sh\nexec {real_helm} \"$@\"\n")
    wrapper.chmod(0o755)
    for _ in range(2):
        run = run_suite(pytester, *args, "--refarch-helm", str(wrapper))
        assert run.ret == 0, run.stdout.str()[-2000:]
    asked = [line for line in log.read_text().splitlines() if str(wrapper) in line and " version" in line]
    assert len(asked) == 2, asked


def test_an_xdist_run_of_other_tests_renders_and_reports_nothing(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a run that holds conformance tests renders the chart: the project's own tests under
    ``-n 2`` used to make the controller render all 16 pairs for a capacity table nobody asked for."""
    pytester.makepyfile(test_other="def test_one():\n    assert True\n\n\ndef test_two():\n    assert True\n")
    # no chart where the default points, no helm: another project's `pytest -n 2` needs neither
    monkeypatch.setenv("REFARCH_REQUIRE_BROWSER", "1")  # a variable of this project's tests, not an option
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("HELM_BIN", raising=False)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()[-2000:] + result.stderr.str()[-2000:]
    assert "2 passed" in result.stdout.str()
    assert "harness-refarch:" not in result.stdout.str() + result.stderr.str(), result.stdout.str()[-2000:]
    # the default chart there: still nothing rendered or reported
    shutil.copytree(CHART, pytester.path / "charts" / "harness-prod")
    monkeypatch.setenv("PATH", os.pathsep.join([str(_REAL_HELM[0].parent), "/usr/bin:/bin"]))
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    assert result.ret == 0 and "2 passed" in result.stdout.str(), result.stdout.str()[-2000:]
    assert "harness-refarch:" not in result.stdout.str(), result.stdout.str()[-2000:]


def test_bad_input_under_xdist_is_one_paragraph_and_exit_4(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A harness-refarch option asks for a conformance run: the controller checks the input before
    any worker starts, so bad input is one paragraph, not a crash per worker (INTERNALERROR)."""
    result = run_suite(pytester, "-q", "-n", "2", "--chart-path", str(tmp_path / "no-such-chart"))
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == 4, text[-3000:]
    assert text.count("ERROR: harness-refarch:") == 1 and "does not exist" in text, text[-3000:]
    assert "INTERNALERROR" not in text and "Traceback" not in text, text[-3000:]
