"""Values layers: files with line numbers, helm --set syntax, helm-exact coalescing with
provenance, chart defaults from a chart tree (directories and packaged subcharts)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from harness_refarch.chart.architecture import database_contradiction, truthy
from harness_refarch.chart.keypaths import dotted
from harness_refarch.chart.tree import chart_values, load_chart
from harness_refarch.chart.values import NOT_TRACED, coalesce, load_layer, sets_layer
from harness_refarch.helm import install as install_helm
from harness_refarch.model.errors import RefarchError

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED = ROOT / "charts" / "harness-prod"
DATA = Path(__file__).parent / "data" / "values"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def pack(source: Path, target: Path) -> Path:
    """A chart directory as ``helm package`` lays it out: <name>/... inside a gzip tarball."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        archive.add(source, arcname=source.name)
    return target


@pytest.fixture
def umbrella(tmp_path: Path) -> Path:
    """The test umbrella chart with its ``db`` subchart packaged as charts/db-0.1.0.tgz."""
    chart = tmp_path / "umbrella"
    shutil.copytree(DATA / "umbrella", chart)
    pack(DATA / "db", chart / "charts" / "db-0.1.0.tgz")
    return chart


# -- load_layer ----------------------------------------------------------------------------------
def test_layer_has_values_and_the_line_of_every_key(tmp_path: Path) -> None:
    path = write(tmp_path, "my.yaml", (
        "# comment\n"
        "global:\n"
        "  database:\n"
        "    mongo: {installed: false, hosts: [a:1, b:2]}\n"
        "platform:\n"
        "  ng-manager:\n"
        "    autoscaling:\n"
        "      minReplicas: 3\n"
        "true: 1\n"
    ))
    layer = load_layer(path)
    assert layer.origin == "my.yaml"
    assert layer.values["global"]["database"]["mongo"] == {"installed": False, "hosts": ["a:1", "b:2"]}
    assert layer.lines[("global",)] == 2
    assert layer.lines[("global", "database", "mongo", "hosts")] == 4
    assert layer.lines[("platform", "ng-manager", "autoscaling", "minReplicas")] == 8
    assert layer.lines[("true",)] == 9  # keys are strings, as after helm's YAML-to-JSON step
    assert layer.where(("platform", "ng-manager", "autoscaling", "minReplicas")) == \
        "my.yaml:8 platform.ng-manager.autoscaling.minReplicas"
    assert list(layer.key_paths())[:3] == [("global",), ("global", "database"), ("global", "database", "mongo")]


def test_layer_resolves_merge_keys_and_custom_origin(tmp_path: Path) -> None:
    path = write(tmp_path, "anchors.yaml", "base: &b\n  cpu: 1\n  mem: 2\nsvc:\n  <<: *b\n  mem: 4\n")
    layer = load_layer(path, origin="fixtures/anchors.yaml")
    assert layer.values["svc"] == {"cpu": 1, "mem": 4}
    assert layer.where(("svc", "mem")) == "fixtures/anchors.yaml:6 svc.mem"


def test_empty_file_is_an_empty_layer(tmp_path: Path) -> None:
    assert load_layer(write(tmp_path, "e.yaml", "# nothing\n")).values == {}


@pytest.mark.parametrize(("content", "message"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "is not UTF-8 text"),
    (b"a: 1\x00\x00\n", "binary data"),
    (b"- a\n- b\n", "holds a list at the top level"),
    (b"just a string\n", "holds a single value at the top level"),
    (b"password: s3cret-Value\nother: [unclosed\n", "is not valid YAML"),
    (b"a: 1\n  b: 2\n", "is not valid YAML"),
    (b"a: &x [*x]\n", "recursive alias"),
])
def test_bad_values_files_fail_naming_the_file_and_never_quoting_it(tmp_path: Path, content: bytes,
                                                                   message: str) -> None:
    path = write(tmp_path, "bad.yaml", content)
    with pytest.raises(RefarchError) as info:
        load_layer(path)
    text = str(info.value)
    assert message in text and str(path) in text
    assert "s3cret" not in text and "unclosed" not in text
    assert "\n" not in text  # one paragraph


def test_yaml_error_says_where(tmp_path: Path) -> None:
    with pytest.raises(RefarchError, match=r"line 2, column \d+"):
        load_layer(write(tmp_path, "bad.yaml", "a: 1\n  b: 2\n"))


def test_missing_file_is_one_readable_error(tmp_path: Path) -> None:
    with pytest.raises(RefarchError, match=r"Cannot read values file .*nope\.yaml"):
        load_layer(tmp_path / "nope.yaml")


# -- --set -----------------------------------------------------------------------------------------
# Expected results observed with helm v4.1.4 (`helm template --set ...` printing toJson .Values).
SET_CASES: list[tuple[str, dict[str, Any]]] = [
    ("x=1", {"x": 1}),
    ("x=+5", {"x": 5}),
    ("x=-5", {"x": -5}),
    ("x=007", {"x": "007"}),
    ("x=0", {"x": 0}),
    ("x=1.5", {"x": "1.5"}),
    ("x=0x10", {"x": "0x10"}),
    ("x=1_0", {"x": "1_0"}),
    ("x=9223372036854775808", {"x": "9223372036854775808"}),
    ("x=True", {"x": True}),
    ("x=false", {"x": False}),
    ("x=NULL", {"x": None}),
    ("x=", {"x": ""}),
    ("x= 5", {"x": " 5"}),
    ("x=a=b", {"x": "a=b"}),
    ("x=a\\,b", {"x": "a,b"}),
    ("k\\.k=1", {"k.k": 1}),
    ("x={a,b}", {"x": ["a", "b"]}),
    ("x={a, b}", {"x": ["a", " b"]}),
    ("x={}", {"x": [""]}),
    ("x={1,true}", {"x": [1, True]}),
    ("x=1,y=2,", {"x": 1, "y": 2}),
    ("a.b.c=v", {"a": {"b": {"c": "v"}}}),
    ("y[2].z=1", {"y": [None, None, {"z": 1}]}),
    ("y[0][1]=z", {"y": [[None, "z"]]}),
    ("y[0].a.b=1,y[0].c=2", {"y": [{"a": {"b": 1}, "c": 2}]}),
]


@pytest.mark.parametrize(("assignment", "expected"), SET_CASES, ids=[c[0] for c in SET_CASES])
def test_set_syntax_and_typing_follow_helm(assignment: str, expected: dict[str, Any]) -> None:
    assert sets_layer([assignment]).values == expected


def test_set_positions_are_per_argument() -> None:
    layer = sets_layer(["a.b=1", "c=2,d.e=3"])
    assert layer.lines == {("a",): 1, ("a", "b"): 1, ("c",): 2, ("d",): 2, ("d", "e"): 2}
    assert layer.where(("d", "e")) == "--set #2 d.e"


@pytest.mark.parametrize(("assignment", "message"), [
    ("a", "key 'a' has no value"),
    ("a.b=1,secretkey", "key 'secretkey' has no value"),
    ("x[a]=1", "list index that is not a number"),
    ("x[-1]=1", "negative list index"),
    ("x[70000]=1", "above helm's limit"),
    ("x={s3cret,b", "must end with '}'"),
    ("x[0]z=1", "unexpected text after a list index"),
    ("=1", "an empty key"),
])
def test_bad_set_names_position_and_key_not_value(assignment: str, message: str) -> None:
    with pytest.raises(RefarchError) as info:
        sets_layer(["ok=1", assignment])
    text = str(info.value)
    assert "#2" in text and message in text
    assert "s3cret" not in text


# -- coalesce --------------------------------------------------------------------------------------
BASE = {"a": {"b": 1, "c": [1, 2, 3]}, "d": "x", "global": {"database": {"mongo": {"installed": True}}}}


def layers(tmp_path: Path, *texts: str) -> list[Any]:
    return [load_layer(write(tmp_path, f"f{i}.yaml", text)) for i, text in enumerate(texts, start=1)]


def test_maps_merge_lists_and_scalars_replace_null_removes(tmp_path: Path) -> None:
    merged = coalesce(layers(tmp_path, "a: {c: [9], e: 1}\nq: {r: 1}\n", "a: {b: null}\nq: null\nd: {n: 1}\n"),
                      BASE)
    assert merged.values["a"] == {"c": [9], "e": 1}  # b removed: the chart has it
    assert merged.values["q"] is None  # a null for a key the chart does not have stays, like helm
    assert merged.values["d"] == {"n": 1}  # a map replaces a scalar
    assert merged.values["global"] == BASE["global"]
    assert BASE["a"] == {"b": 1, "c": [1, 2, 3]}  # inputs untouched


def test_set_applies_after_files_onto_their_lists(tmp_path: Path) -> None:
    files = layers(tmp_path, "a: {c: [1, 2, 3]}\n")
    merged = coalesce([sets_layer(["a.c[1]=9"]), *files], BASE)
    assert merged.values["a"]["c"] == [1, 9, 3]
    # Without a file setting the list, --set starts a new one: the chart's list is not edited.
    assert coalesce([sets_layer(["a.c[1]=9"])], BASE).values["a"]["c"] == [None, 9]


def test_source_names_file_line_key_and_what_it_overrode(tmp_path: Path) -> None:
    first, second = layers(tmp_path, "a:\n  b: 2\n", "x: 1\na:\n  b: 3\n")
    merged = coalesce([first, second], BASE)
    assert merged.source(("a", "b")) == "f2.yaml:3 a.b, overriding f1.yaml:2"
    assert merged.source(("x",)) == "f2.yaml:1 x"
    assert merged.source(("d",)) == ""  # chart default
    assert merged.source(("nope",)) == ""
    with_set = coalesce([first, second, sets_layer(["z=1", "a.b=4"])], BASE)
    assert with_set.source(("a", "b")) == "--set #2 a.b, overriding f2.yaml:3, f1.yaml:2"


def test_a_value_replacing_a_map_owns_everything_below(tmp_path: Path) -> None:
    merged = coalesce(layers(tmp_path, "a:\n  b: 2\n", "a: 5\n", "a:\n  e: 1\n"), BASE)
    assert merged.values["a"] == {"e": 1, "b": 1, "c": [1, 2, 3]}
    # f1's a.b was wiped by f2's scalar: a.b now is the chart default again.
    assert merged.source(("a", "b")) == ""
    assert merged.source(("a", "e")) == "f3.yaml:2 a.e"


def test_source_prefix_falls_back_to_the_parent_that_was_set_whole(tmp_path: Path) -> None:
    merged = coalesce(layers(tmp_path, "global:\n  database:\n    mongo:\n      hosts: [h1, h2]\n"), BASE)
    path = ("global", "database", "mongo", "hosts", "1")
    assert merged.source(path) == ""
    assert merged.source_prefix(path) == "f1.yaml:4 global.database.mongo.hosts"
    assert merged.source_prefix(("global", "database", "mongo", "installed")) == ""  # chart default
    assert merged.source_prefix(("global", "database", "mongo", "nothere")) == NOT_TRACED
    assert merged.source_prefix(()) == NOT_TRACED


@pytest.mark.skipif(not os.environ.get("HELM_BIN") and not install_helm.installed_path().is_file(),
                    reason="needs a real helm (run harness-refarch-install-helm)")
def test_coalesce_equals_what_real_helm_renders(tmp_path: Path) -> None:
    chart = tmp_path / "c"
    write(chart, "Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
    write(chart, "values.yaml", json.dumps(BASE | {"keep": {"me": 1}, "drop": {"x": 1}}))
    write(chart, "templates/out.txt", "{{ toJson .Values }}\n")
    files = layers(tmp_path, "a: {c: [1, 2, 3], e: 1}\nq: {r: 1}\ndrop: {x: 2}\n",
                   "q: null\na: {b: null}\ndrop: null\ng: {h: [1, {i: 2}]}\n")
    sets = ["a.c[1]=9,n.m=007", "y[1].z=true", "keep.me=null"]
    helm = os.environ.get("HELM_BIN") or str(install_helm.installed_path())
    cmd = [helm, "template", "r", str(chart), "--show-only", "templates/out.txt"]
    for layer in files:
        cmd += ["-f", str(layer.path)]
    for assignment in sets:
        cmd += ["--set", assignment]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    rendered = json.loads(out.strip().splitlines()[-1])
    ours = coalesce([*files, sets_layer(sets)], load_chart(chart).values).values
    assert json.loads(json.dumps(ours)) == rendered


# -- contradictions -----------------------------------------------------------------------------
def test_contradiction_names_the_layer_that_made_mongo_external(tmp_path: Path) -> None:
    overlay, mine = layers(tmp_path, "global:\n  ha: true\n",
                           "global:\n  database:\n    mongo:\n      installed: false\n")
    merged = coalesce([overlay, mine], BASE)
    found = database_contradiction(merged, "mongo", in_cluster=True)
    assert found is not None
    assert found.source == "f2.yaml:4 global.database.mongo.installed"
    assert str(found) == ("global.database.mongo.installed is false (set by f2.yaml:4), "
                          "but the architecture needs true (mongo in-cluster)")
    assert database_contradiction(merged, "mongo", in_cluster=False) is None


def test_contradiction_when_an_external_architecture_gets_in_cluster_values(tmp_path: Path) -> None:
    merged = coalesce(layers(tmp_path, "global:\n  database:\n    mongo:\n      installed: \"false\"\n"), BASE)
    found = database_contradiction(merged, "mongo", in_cluster=False)
    assert found is not None  # the string "false" is true for {{ if }}: MongoDB stays in-cluster
    assert "a str that counts as true" in str(found) and "f1.yaml:4" in str(found)
    defaults = coalesce([], BASE)
    found = database_contradiction(defaults, "mongo", in_cluster=False)
    assert found is not None and "the chart's default" in str(found)


def test_contradiction_through_null_names_the_null(tmp_path: Path) -> None:
    merged = coalesce(layers(tmp_path, "global:\n  database:\n    mongo: null\n"), BASE)
    found = database_contradiction(merged, "mongo", in_cluster=True)
    assert found is not None
    assert found.actual.startswith("unset") and found.source == "f1.yaml:3 global.database.mongo"
    assert "(set by f1.yaml:3 global.database.mongo)" in str(found)


def test_truthy_is_go_template_truth() -> None:
    assert [truthy(v) for v in (None, False, 0, "", [], {}, "false", "0", 1, [0])] == \
        [False] * 6 + [True] * 4


def test_dotted_escapes_dots_like_set() -> None:
    assert dotted(("metadata", "velero.io/x")) == "metadata.velero\\.io/x"


# -- chart defaults ----------------------------------------------------------------------------
def test_chart_values_nest_subcharts_under_alias_with_globals_on_top(umbrella: Path) -> None:
    values = chart_values(umbrella)
    assert values["web"] == {"replicas": 2, "image": {"tag": "1.0"}, "resources": {}}
    assert values["api"] == {"enabled": True, "image": {"tag": "2.0"}, "replicas": 1, "resources": {}}
    assert "app" not in values  # only its aliases
    assert values["db"] == {"size": "10Gi"}  # from the packaged subchart
    # The umbrella's globals win; subchart-only globals are added.
    assert values["global"] == {"region": "eu", "appOnly": True, "db": {"mode": "internal", "port": 5432}}
    assert values["extras"] == {} and values["nothing"] is None


def test_packaged_chart_reads_like_its_directory(umbrella: Path, tmp_path: Path) -> None:
    archive = pack(umbrella, tmp_path / "dist" / "umbrella-0.1.0.tgz")
    assert chart_values(archive) == chart_values(umbrella)
    tree = load_chart(archive)
    assert {sub.name for sub in tree.subcharts} == {"common", "web", "api", "db"}


def test_embedded_chart_defaults() -> None:
    values = chart_values(EMBEDDED)
    assert values["platform"]["ng-manager"]["autoscaling"]["minReplicas"] >= 1
    assert values["platform"]["bootstrap"]["database"]["mongodb"]["replicaCount"] == 3
    assert values["global"]["database"]["mongo"]["installed"] is True
    assert "global" not in values["platform"]


def test_not_a_chart_is_one_readable_error(tmp_path: Path) -> None:
    with pytest.raises(RefarchError, match="is not a helm chart"):
        chart_values(tmp_path)
    with pytest.raises(RefarchError, match="does not exist"):
        chart_values(tmp_path / "missing")


def test_broken_subchart_values_name_the_subchart(umbrella: Path) -> None:
    (umbrella / "charts" / "app" / "values.yaml").write_text("replicas: [1\n")
    with pytest.raises(RefarchError, match=r"values\.yaml of the chart at .*charts/app cannot be read"):
        chart_values(umbrella)


def test_broken_packaged_subchart_is_named(umbrella: Path) -> None:
    (umbrella / "charts" / "db-0.1.0.tgz").write_bytes(b"not a tarball")
    with pytest.raises(RefarchError, match=r"db-0\.1\.0\.tgz is not a readable \.tgz"):
        chart_values(umbrella)


def test_nested_archive_inside_archive(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as archive:
        for name, text in (("leaf/Chart.yaml", "apiVersion: v2\nname: leaf\nversion: 1.0.0\n"),
                           ("leaf/values.yaml", "deep: 1\n")):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text.encode()))
    top = tmp_path / "top"
    write(top, "Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\n")
    write(top, "charts/leaf-1.0.0.tgz", inner.getvalue())
    assert chart_values(pack(top, tmp_path / "top.tgz")) == {"leaf": {"deep": 1}}


@pytest.mark.skipif(not os.environ.get("HELM_BIN") and not install_helm.installed_path().is_file(),
                    reason="needs a real helm (run harness-refarch-install-helm)")
def test_chart_values_equal_what_real_helm_sees(umbrella: Path) -> None:
    write(umbrella, "templates/values.txt", "{{ toJson .Values }}\n")
    helm = os.environ.get("HELM_BIN") or str(install_helm.installed_path())
    out = subprocess.run([helm, "template", "r", str(umbrella), "--show-only", "templates/values.txt"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    rendered = json.loads(out.strip().splitlines()[-1])
    ours = chart_values(umbrella)
    helm_globals = rendered.pop("global")
    subchart_globals = [rendered[name].pop("global") for name in ("web", "api", "db", "common")]
    ours_globals = ours.pop("global")
    assert ours == rendered
    # helm copies the globals down into each subchart; we gather them at the top, the parent's first.
    for seen in (helm_globals, *subchart_globals):
        assert contained(seen, ours_globals)


def contained(small: Any, big: Any) -> bool:
    if isinstance(small, dict) and isinstance(big, dict):
        return all(k in big and contained(v, big[k]) for k, v in small.items())
    return bool(small == big)


def test_v1_chart_dependencies_come_from_requirements_yaml(tmp_path: Path) -> None:
    top = tmp_path / "old"
    write(top, "Chart.yaml", "apiVersion: v1\nname: old\nversion: 1.0.0\n")
    write(top, "requirements.yaml", "dependencies:\n  - name: sub\n    version: 1.0.0\n    alias: renamed\n")
    write(top, "charts/sub/Chart.yaml", "apiVersion: v1\nname: sub\nversion: 1.0.0\n")
    write(top, "charts/sub/values.yaml", "k: 1\n")
    assert chart_values(top) == {"renamed": {"k": 1}}
