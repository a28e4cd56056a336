"""Keys that do nothing: every key a values layer sets must be declared or read by the chart."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from harness_refarch.chart.tree import load_chart
from harness_refarch.chart.values import Layer, load_layer, sets_layer
from harness_refarch.checks.values_keys import (
    CHECK,
    Declared,
    candidates,
    declared_paths,
    template_reads,
    unused_keys,
)

ROOT = Path(__file__).resolve().parents[3]
EMBEDDED = ROOT / "charts" / "harness-prod"
DATA = ROOT / "tests" / "unit" / "data" / "values"
EMBEDDED_LAYERS = sorted(EMBEDDED.glob("override-*.yaml")) + sorted((ROOT / "fixtures" / "overlays").glob("*.yaml"))


@pytest.fixture(scope="module")
def embedded() -> Declared:
    return declared_paths(EMBEDDED)


@pytest.fixture
def umbrella(tmp_path: Path) -> Path:
    chart = tmp_path / "umbrella"
    shutil.copytree(DATA / "umbrella", chart)
    with tarfile.open(chart / "charts" / "db-0.1.0.tgz", "w:gz") as archive:
        archive.add(DATA / "db", arcname="db")
    return chart


def layer_of(tmp_path: Path, text: str, name: str = "my-override.yaml") -> Layer:
    path = tmp_path / name
    path.write_text(text)
    return load_layer(path)


# -- the embedded chart ----------------------------------------------------------------------------
def test_embedded_layers_exist() -> None:
    assert len(EMBEDDED_LAYERS) >= 10  # four profiles and the architecture overlays


@pytest.mark.parametrize("path", EMBEDDED_LAYERS, ids=[p.name for p in EMBEDDED_LAYERS])
def test_every_key_of_our_own_layers_is_used(path: Path, embedded: Declared) -> None:
    # statically read, every one: no render is needed to clear them
    assert candidates(load_layer(path), embedded) == []


def test_misspelled_service_is_reported_with_line_and_the_key_it_meant(tmp_path: Path,
                                                                      embedded: Declared) -> None:
    layer = layer_of(tmp_path, "platform:\n  ng-manager:\n    replicaCount: 2\n  ng-manger:\n    replicaCount: 2\n")
    [finding] = unused_keys(layer, embedded, "values file my-override.yaml")
    assert finding.check == CHECK
    assert finding.workload == "values file my-override.yaml"
    assert finding.field == "platform.ng-manger"
    assert finding.source == "my-override.yaml:4 platform.ng-manger"
    assert finding.hint == "did you mean platform.ng-manager.replicaCount?"
    assert "no template reads" in str(finding)


def test_misspelled_global_is_reported(tmp_path: Path, embedded: Declared) -> None:
    layer = layer_of(tmp_path, "global:\n  databse:\n    mongo:\n      installed: false\n      hosts: [a]\n")
    [finding] = unused_keys(layer, embedded, "values file my-override.yaml")
    assert finding.field == "global.databse"
    assert finding.source == "my-override.yaml:2 global.databse"
    assert finding.hint == "did you mean global.database.mongo?"


@pytest.mark.parametrize(("text", "field", "hint"), [
    ("global:\n  backup:\n    enabeld: true\n", "global.backup.enabeld", "did you mean global.backup.enabled?"),
    ("ng-manager:\n  replicaCount: 3\n", "ng-manager", "did you mean platform.ng-manager.replicaCount?"),
    ("platform:\n  ng-manager:\n    replicas: 3\n", "platform.ng-manager.replicas", ""),  # not a typo
    ("code:\n  code-ui: {replicaCount: 1}\n", "code", ""),  # two edits from "cd" is another word
    ("global:\n  cg: {enabled: true}\n", "global.cg", ""),
    ("ci:\n  global:\n    hha: true\n", "ci.global.hha", "did you mean global.ha?"),
    ("zzzzzz: 1\n", "zzzzzz", ""),
])
def test_more_keys_that_do_nothing(tmp_path: Path, embedded: Declared, text: str, field: str,
                                   hint: str) -> None:
    [finding] = unused_keys(layer_of(tmp_path, text), embedded, "values file")
    assert (finding.field, finding.hint) == (field, hint)


def test_set_keys_are_checked_too(embedded: Declared) -> None:
    findings = unused_keys(sets_layer(["global.ha=true", "platform.ng-manager.replicaCont=2"]), embedded, "--set")
    assert [(f.field, f.source) for f in findings] == [
        ("platform.ng-manager.replicaCont", "--set #2 platform.ng-manager.replicaCont")]
    assert findings[0].hint == "did you mean platform.ng-manager.replicaCount?"


def test_subchart_global_is_the_global(embedded: Declared) -> None:
    assert embedded.covers(("platform", "ng-manager", "global", "ha"))
    assert not embedded.covers(("platform", "ng-manager", "global", "nope"))


def test_template_only_keys_count_as_used(embedded: Declared) -> None:
    # deploymentName is in no values.yaml: the library reads it with get .Values "deploymentName".
    assert embedded.covers(("platform", "ng-manager", "deploymentName"))
    # minio.enabled is read by the umbrella's own helper template.
    assert embedded.covers(("platform", "bootstrap", "database", "minio", "enabled"))
    # The library's reads apply to the charts including its templates, not to the module charts.
    assert not embedded.covers(("platform", "deploymentName"))
    assert not embedded.covers(("harness-common", "deploymentName"))


# -- a chart with aliases, a library and a packaged subchart --------------------------------------
def test_alias_library_tags_conditions_and_globals(umbrella: Path, tmp_path: Path) -> None:
    declared = declared_paths(umbrella)
    text = (
        "web:\n  replicas: 3\n  image: {tag: x}\n  deploymentName: w\n  labels: {a: b}\n  resources: {x: 1}\n"
        "api:\n  enabled: false\n"
        "app:\n  replicas: 3\n"                      # 9: the chart name, not its alias
        "db:\n  size: 1Gi\n  sise: 2Gi\n"            # 13: a typo in the packaged subchart
        "global:\n  appOnly: false\n  api: {enabled: true}\n  db: {port: 1}\n"
        "tags:\n  storage: false\n"
        "extras: {anything: {below: 1}}\n"
        "nothing: {at: all}\n"
        "feature: {flag: true, other: 1}\n"          # 22: only feature.flag is read
        "dashed-key: {inner: 1, more: {x: 1}}\n"    # 23: only dashed-key.inner is read
        "web2: {neverIncluded: 1}\n"
    )
    findings = unused_keys(layer_of(tmp_path, text, "u.yaml"), declared, "values file u.yaml")
    assert [(f.field, f.source.split(" ")[0], f.hint) for f in findings] == [
        ("web.resources", "u.yaml:6", ""),           # declared {} in values.yaml, read by nothing
        ("app", "u.yaml:9", "did you mean api.replicas?"),
        ("db.sise", "u.yaml:13", "did you mean db.size?"),
        ("global.appOnly", "u.yaml:15", ""),          # declared only
        ("global.db.port", "u.yaml:17", ""),          # declared only
        ("extras", "u.yaml:20", ""),                  # declared {}: no longer "accepts anything"
        ("nothing", "u.yaml:21", ""),
        ("feature.other", "u.yaml:22", ""),
        ("dashed-key.more", "u.yaml:23", ""),
        ("web2", "u.yaml:24", ""),
    ]


def test_library_templates_never_included_read_nothing(umbrella: Path) -> None:
    declared = declared_paths(umbrella)
    assert not declared.covers(("web", "neverIncluded"))
    assert declared.covers(("web", "labels", "any"))  # read whole by common.labels (toYaml)
    assert not declared.covers(("labels",))  # the umbrella does not include common.pod


def test_subchart_key_declared_empty_in_the_parent_does_not_accept_everything(umbrella: Path) -> None:
    values = umbrella / "values.yaml"
    values.write_text(values.read_text() + "db: {}\n")
    assert not declared_paths(umbrella).covers(("db", "typo"))


def test_packaged_chart_declares_the_same(umbrella: Path, tmp_path: Path) -> None:
    archive = tmp_path / "umbrella-0.1.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(umbrella, arcname="umbrella")
    assert declared_paths(archive) == declared_paths(umbrella)
    assert declared_paths(load_chart(umbrella)) == declared_paths(umbrella)


# -- template reading ------------------------------------------------------------------------------
def test_template_reads_follow_variables_lookups_and_scopes() -> None:
    text = (
        '{{- define "a" -}}\n'
        "{{- $v := .root.Values -}}\n"
        '{{ $v.ports.http }} {{ get $v "config" }} {{ get (get $v "java" | default dict) "memory" }}\n'
        '{{ index .root.Values "ng-manager" "x" }} {{ hasKey $.root.Values.global "y" }}\n'
        "{{ include \"b\" (dict \"values\" $v \"g\" .root.Values.global) }}\n"
        "{{- end -}}\n"
        '{{- define "b" -}}\n'
        "{{- $b := .g.backup -}}{{ if $b.enabled }}{{ $b.schedule.cron }}{{ end }}\n"
        "{{- range $k, $db := .g.database }}{{ $db.installed }}{{ end }}\n"
        "{{- with .values.feature }}{{ .flag }}{{ end }}\n"
        "{{- $d := .g.dr }}{{ toYaml $d }}\n"
        '{{ include "image" (dict "imageRoot" .values.image "global" .g) }}\n'
        "{{- end -}}\n"
        '{{- define "image" -}}\n'
        "{{- $r := .imageRoot.registry -}}{{- if .global }}{{ if .global.imageRegistry }}"
        "{{ $r = .global.imageRegistry }}{{ end }}{{ end -}}\n"
        '{{ printf "%s/%s" $r .imageRoot.repository }}{{ "{{ not an action }}" }}\n'
        "{{- end -}}\n"
        '{{ include "a" (dict "root" $) }}\n'
        "{{ toYaml .Values.resources | nindent 4 }}\n"
        "{{ include \"ports\" (dict \"claims\" (list (dict \"size\" .Values.data.size))) }}\n"
        '{{- define "ports" -}}{{ range .claims }}{{ .size }}{{ end }}{{- end -}}\n'
    )
    assert {".".join(p): m for p, m in template_reads(text).items()} == {
        "ports.http": "whole", "config": "whole", "java.memory": "whole",
        "ng-manager.x": "whole", "global": "exact", "global.y": "exact",
        "global.backup.enabled": "exact", "global.backup.schedule.cron": "whole",
        "global.database.*": "exact", "global.database.*.installed": "whole",
        "feature": "exact", "feature.flag": "whole", "global.dr": "whole",
        "image.registry": "whole", "image.repository": "whole", "global.imageRegistry": "whole",
        "resources": "whole", "data.size": "whole",
    }


def test_a_subtree_handed_to_a_helper_is_not_read_whole(tmp_path: Path) -> None:
    """(dict "global" .Values.global) reads only what the helper reads below "global"."""
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("global: {imageRegistry: r, backup: {enabled: false}}\nimage: {repo: x}\n")
    (chart / "templates" / "_h.tpl").write_text(
        '{{- define "img" -}}{{ .global.imageRegistry }}/{{ .imageRoot.repo }}{{- end -}}\n')
    (chart / "templates" / "cm.yaml").write_text(
        'image: {{ include "img" (dict "imageRoot" .Values.image "global" .Values.global) }}\n'
        'platform: {{ include "img" (index .Values "platform" | default dict) }}\n')
    declared = declared_paths(chart)
    layer = layer_of(tmp_path, "global:\n  imageRegistry: r2\n  backup:\n    enabled: true\n"
                               "  dr: {createCluster: true}\nplatform:\n  imageRoot: {repo: y}\n  other: 1\n")
    assert [(".".join(c.path), c.maybe) for c in candidates(layer, declared)] == [
        ("global.backup", False), ("global.dr", False), ("platform.other", False)]


def test_dynamic_include_leaves_its_argument_undecided(umbrella: Path) -> None:
    deploy = umbrella / "charts" / "app" / "templates" / "deploy.yaml"
    deploy.write_text(deploy.read_text().replace('include "common.pod"', 'include (print "common." "pod")'))
    declared = declared_paths(umbrella)
    # the template cannot be known: keys of the chart are candidates a render must decide
    assert declared.status(("web", "image", "tag")) == "maybe"
    assert declared.covers(("web", "replicas"))  # read by deploy.yaml itself
    assert not declared.covers(("web", "neverIncluded"))


def test_checksum_of_a_template_file_reads_nothing_new(umbrella: Path) -> None:
    deploy = umbrella / "charts" / "app" / "templates" / "deploy.yaml"
    deploy.write_text(deploy.read_text() + '  checksum: {{ include (print $.Template.BasePath "/x.yaml") . }}\n')
    assert declared_paths(umbrella).status(("web", "neverIncluded")) == "none"


def test_did_you_mean_with_its_index_answers_as_the_full_search_did() -> None:
    """Issue 17: "where did it move" looks only at declared keys of the same name, and keys whose
    lengths differ by more than two are no typo without computing their distance: the answers
    are those of the search over every declared path and every sibling."""
    from harness_refarch.checks import values_keys

    declared = declared_paths(EMBEDDED)
    words = [*sorted({k for p in declared.paths for k in p})[:300], "ng-manger", "replicaCont", "hha", "cg"]
    for a in words:
        for b in words[:120]:
            d, shorter = values_keys._distance(a.lower(), b.lower()), min(len(a), len(b))
            full = ((d == 1 and shorter >= 4) or (d <= 2 and shorter >= 8)) or (
                d == 1 and len(a) == len(b) + 1 and any(a.lower()[i] == a.lower()[i + 1]
                                                        and a.lower()[:i] + a.lower()[i + 1:] == b.lower()
                                                        for i in range(len(a) - 1)))
            assert values_keys._is_typo(a, b) == full, (a, b)
    for path in sorted(declared.paths):
        everywhere = [p for p in declared.paths if p[-1] == path[-1] and p != path]
        assert sorted(p for p in declared.by_last.get(path[-1], ()) if p != path) == sorted(everywhere)
