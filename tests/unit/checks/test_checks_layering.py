"""The values layers in the checks: contradictions name the file and key, expected hosts come
from the merged values, and a failing value is traced to the layer that set it."""

from __future__ import annotations

from pathlib import Path

from harness_refarch.chart.values import NOT_TRACED, coalesce, load_layer, sets_layer
from harness_refarch.checks import layering
from harness_refarch.model.catalog import DatabaseExpectation
from harness_refarch.model.findings import Finding

REPO = Path(__file__).resolve().parents[3]


def _layer(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return load_layer(path)


def test_a_user_file_that_makes_mongo_external_contradicts_an_in_cluster_architecture(tmp_path, make_pair):
    arch = _layer(tmp_path, "arch.yaml", "global:\n  database:\n    mongo:\n      installed: true\n")
    mine = _layer(tmp_path, "mine.yaml", "global:\n  database:\n    mongo:\n      installed: false\n")
    pair = make_pair(databases={"mongo": DatabaseExpectation("mongo", in_cluster=True)})
    [f] = layering.contradictions(pair, coalesce([arch, mine]))
    assert (f.workload, f.field, f.actual) == ("mongo database", "global.database.mongo.installed", "false")
    assert f.source.startswith("mine.yaml:4 global.database.mongo.installed")
    assert "as architecture unit needs" in f.expected
    assert layering.contradictions(pair, coalesce([arch])) == []


def test_expected_external_hosts_are_the_merged_ones_not_the_fixture_constants(tmp_path, make_pair):
    arch = _layer(tmp_path, "arch.yaml", "global:\n  database:\n    redis:\n      hosts: [example:6379]\n")
    pair = make_pair(databases={"redis": DatabaseExpectation("redis", in_cluster=False, hosts=("example:6379",))})
    merged = coalesce([arch, sets_layer(["global.database.redis.hosts={corp-redis:6380}"])])
    assert layering.effective(pair, merged).architecture.databases["redis"].hosts == ("corp-redis:6380",)
    in_cluster = make_pair(databases={"redis": DatabaseExpectation("redis", in_cluster=True)})
    assert layering.effective(in_cluster, merged).architecture.databases["redis"].hosts == ()


def test_a_failing_value_is_traced_to_the_layer_that_set_it(tmp_path):
    base = _layer(tmp_path, "override-large.yaml",
                  "platform:\n  ng-manager:\n    autoscaling:\n      minReplicas: 1\n    replicaCount: 1\n"
                  "  gateway:\n    resources:\n      requests:\n        cpu: 10m\n")
    merged = coalesce([base, sets_layer(["platform.gateway.resources.requests.cpu=20m"])])
    hpa = Finding("replicas", "Deployment/ng-manager", "effective replicas (hpa)", ">= 2", "1")
    cpu = Finding("resources", "Deployment/gateway container gateway", "resources.requests.cpu", "<= limit 0.01",
                  "0.020")
    pdb = Finding("replicas", "Deployment/ng-manager", "PodDisruptionBudget", "a PDB", "none")
    traced = layering.with_sources([hpa, cpu, pdb], merged)
    assert traced[0].source == "override-large.yaml:4 platform.ng-manager.autoscaling.minReplicas"
    assert traced[1].source == "--set #1 platform.gateway.resources.requests.cpu, overriding override-large.yaml:9"
    assert traced[2].source == ""  # not a value-driven field: nothing claimed
    both = Finding("golden", "Deployment/ng-manager", "replicas", "4", "1")
    assert layering.with_sources([both], merged)[0].source == NOT_TRACED  # two candidates: never guessed


def test_a_line_whose_value_was_not_rendered_is_not_named(tmp_path):
    """The released log-service template hard-codes ``replicas: 1``: the profile line that sets
    3 is not the source; the finding says the key does not reach the object instead. Likewise a
    main container's resources line is not the source of an init container's missing limit."""
    base = _layer(tmp_path, "override-large.yaml",
                  "platform:\n  log-service:\n    replicaCount: 3\n"
                  "  gateway:\n    resources:\n      limits:\n        memory: 8192Mi\n"
                  "    java:\n      memory: 4096\n")
    merged = coalesce([base])
    hard = Finding("replicas", "Deployment/log-service", "effective replicas (spec.replicas)", ">= 2", "1")
    init = Finding("resources", "Deployment/gateway container wait-for-mongo (init)", "resources.limits.memory",
                   "set", "missing")
    main = Finding("resources", "Deployment/gateway container gateway", "resources.limits.memory",
                   "<= 4Gi", "8Gi")
    heap = Finding("resources", "Deployment/gateway container gateway", "MEMORY (configMap ConfigMap/gateway:MEMORY)",
                   "<= 75% of memory limit 5Gi", "4096m (80%)")
    golden = Finding("golden", "Deployment/log-service", "replicas", "3", "1", "if intended, record it")
    out = layering.with_sources([hard, init, main, heap, golden], merged)
    assert [f.source for f in out] == [
        "", "", "override-large.yaml:7 platform.gateway.resources.limits.memory",
        "override-large.yaml:9 platform.gateway.java.memory", ""]
    assert out[0].hint == ("override-large.yaml:3 platform.log-service.replicaCount sets 3, but the render "
                           "has 1: that key does not reach this field (the chart's template decides it)")
    assert out[1].hint.startswith("override-large.yaml:7 platform.gateway.resources.limits.memory sets 8192Mi, "
                                  "but the render has no value")
    assert out[4].hint.endswith("(the chart's template decides it); if intended, record it")
    assert "[set by" not in str(out[0]) and "does not reach this field" in str(out[0])


def _scan(paths, tails, name):
    """Tracing as it was before the index (issue 17): every key path, for every finding."""
    return sorted({p for p in paths for tail in tails
                   if len(p) > len(tail) and p[-len(tail):] == tail
                   and any(seg == name or name.startswith(seg + "-") or seg.startswith(name)
                           for seg in p[:-len(tail)] if len(seg) > 2)})


def test_the_tracing_index_finds_exactly_what_a_scan_of_every_key_path_finds():
    """On the released chart's profile files (or the embedded chart's): every tail the checks
    trace, for every workload name the files mention and a few that only start or end alike."""
    released = REPO.parent / "shared" / "reference" / "released-chart" / "harness"
    chart = released if (released / "Chart.yaml").is_file() else REPO / "charts" / "harness-prod"
    layers = [load_layer(p) for p in sorted(chart.glob("override-*.yaml"))]
    paths = list(coalesce(layers).setters)
    index = layering.SetPaths(paths)
    names = sorted({seg for p in paths for seg in p} | {"ng", "ng-manager-7f9c", "redis-sentinel-harness-server",
                                                         "mongodb-replicaset-chart-arbiter", "x"})
    tails = {t for _, ts in layering._FIELD_TAILS for t in ts} | {
        ("resources", m, r) for m in ("requests", "limits") for r in ("cpu", "memory")} | {("resources", "limits")}
    checked = 0
    for name in names:
        for group in [(t,) for t in sorted(tails)] + [tuple(sorted(tails))]:
            assert index.hits(group, name) == _scan(paths, group, name), (group, name)
            checked += bool(_scan(paths, group, name))
    assert checked > 50
