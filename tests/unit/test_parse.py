"""Helm's output parsed a document at a time, with a memo: the same canonical manifest, byte for
byte, as parsing the whole text, and each document parsed once per process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness_refarch.helm import parse
from harness_refarch.helm.parse import canonical_render
from harness_refarch.helm.store import canonical
from harness_refarch.model.manifest import ManifestError, parse_manifest

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "harness-prod"
KEY = b"k" * 32
RELEASED = Path(os.environ.get("REFARCH_RELEASED_CHART",
                               REPO.parent / "shared" / "reference" / "released-chart" / "harness"))


def whole(text: str, key: bytes = KEY) -> str:
    """What the store keeps for ``text``, parsed the whole-text way."""
    stored = canonical(parse_manifest(text, "ns", "src", digest_key=key), key).stored_text
    assert stored is not None
    return stored[1]


def pieces(text: str, key: bytes = KEY) -> str:
    stored = canonical_render(text, "ns", "src", key).stored_text
    assert stored is not None
    return stored[1]


PLAIN = """---
# Source: a/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: cm, labels: {when: 2024-01-01}}
data:
  MONGO_URI: "mongodb://admin:hunter2@mongo:27017/db"
  DB_PASSWORD: "s3cr3t-literal-value"
  switch: "true"
---
# Source: a/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: c3VwZXI=}
stringData: {token: plain-token}
---
# Source: a/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: 7}
spec:
  replicas: three
  template:
    metadata: {labels: {app: w}}
    spec:
      containers:
        - name: c
          image: x:1
          env: [{name: PASSWORD, value: "literal-pass"}, {name: OK, value: "1"}]
---
# Source: a/templates/notes.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: notes}
data:
  text: |
    kept
...
---TRAILING
# Source: a/templates/dup.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {other: "postgres://u:pw@db/x"}
---
---
# only a comment
""".replace("TRAILING", "   ")  # a document marker with blanks after it

NOT_PLAIN = {
    "a List": "---\nkind: List\nitems:\n  - {kind: ConfigMap, metadata: {name: a}}\n  - {metadata: {name: b}}\n",
    "a document that is not an object": "---\n- just\n- a list\n---\nkind: ConfigMap\nmetadata: {name: ok}\n",
    "an object without kind": "---\nmetadata: {name: x}\n---\nkind: ConfigMap\nmetadata: {name: ok}\n",
    "two documents in one piece": "---\nkind: ConfigMap\nmetadata: {name: a}\n--- {kind: ConfigMap}\n",
    "a block scalar cut by a marker": "---\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: |\n---\nkind: Secret\n",
}


def test_a_plain_render_gives_the_whole_text_parse_byte_for_byte() -> None:
    assert pieces(PLAIN) == whole(PLAIN)
    made = canonical_render(PLAIN, "ns", "src", KEY)
    # a name that is not text is dropped by the shape check, as the whole-text parse drops it
    assert [o.key for o in made.objects] == ["ConfigMap/cm", "Secret/creds", "Deployment/", "ConfigMap/notes",
                                             "ConfigMap/cm"]
    assert made.secret_digests and made.value_digests and made.problems  # digests, masks, shape findings
    assert "hunter2" not in pieces(PLAIN) and "c3VwZXI" not in pieces(PLAIN) and "literal-pass" not in pieces(PLAIN)


def test_a_secret_whose_name_the_shape_check_drops_keeps_its_digests_under_the_name_written() -> None:
    text = "---\nkind: Secret\nmetadata: {name: 7}\ndata: {p: c2VjcmV0}\n"
    assert pieces(text) == whole(text)
    assert list(canonical_render(text, "ns", "src", KEY).secret_digests) == [("Secret", "7")]


@pytest.mark.parametrize("case", sorted(NOT_PLAIN))
def test_anything_but_plain_objects_gives_the_whole_text_parse(case: str) -> None:
    assert pieces(NOT_PLAIN[case]) == whole(NOT_PLAIN[case])
    made, expected = canonical_render(NOT_PLAIN[case], "ns", "src", KEY), parse_manifest(NOT_PLAIN[case], "ns", "src")
    assert [str(p) for p in made.problems] == [str(p) for p in expected.problems]


def test_yaml_that_does_not_parse_gives_the_whole_text_message() -> None:
    text = "---\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: Secret\ndata: {password: c2VjcmV0, [\n"
    with pytest.raises(ManifestError) as expected:
        parse_manifest(text, "ns", "src")
    with pytest.raises(ManifestError) as got:
        canonical_render(text, "ns", "src", KEY)
    assert str(got.value) == str(expected.value) and "c2VjcmV0" not in str(got.value)


def test_each_document_is_parsed_once_and_secrets_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "_MEMO", parse._Memo())
    parsed: list[str] = []
    real = parse._parse
    def counted(piece: str, key: bytes) -> object:
        parsed.append(piece)
        return real(piece, key)

    monkeypatch.setattr(parse, "_parse", counted)
    first = pieces(PLAIN)
    assert len(parsed) == 8
    parsed.clear()
    probe = PLAIN.replace("replicas: three", "replicas: 3")
    assert pieces(probe) == whole(probe) and pieces(PLAIN) == first
    # the changed Deployment once, and the Secret in each of the two renders (never kept)
    assert len(parsed) == 3 and sum("kind: Secret" in p for p in parsed) == 2
    parsed.clear()
    pieces(PLAIN, key=b"other key".ljust(32))  # digests are keyed: another key parses again
    assert len(parsed) == 8


def test_manifests_share_no_mutable_body() -> None:
    a = canonical_render(PLAIN, "ns", "src", KEY)
    a.objects[0].body["data"]["switch"] = "changed"
    b = canonical_render(PLAIN, "ns", "src", KEY)
    assert b.objects[0].body["data"]["switch"] == "true"


def test_the_memo_keeps_at_most_its_size_of_text() -> None:
    memo = parse._Memo(chars=10)
    for i in range(5):
        memo.put((KEY, f"piece-{i}"), None)  # 7 characters each
    assert memo.get((KEY, "piece-4")) == (True, None)
    assert memo.get((KEY, "piece-0")) == (False, None)


def test_renders_of_the_embedded_chart_give_the_whole_text_parse(real_helm: Path) -> None:
    for profile in sorted(CHART.glob("override-*.yaml")):
        text = _render(real_helm, CHART, profile)
        assert pieces(text) == whole(text), profile.name


def _render(helm: Path, chart: Path, *values: Path) -> str:
    args = [str(helm), "template", "--namespace=ns", *(f"--values={v}" for v in values), "--", "harness", str(chart)]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(not (RELEASED / "Chart.yaml").is_file(),
                    reason=f"no released chart at {RELEASED} (set REFARCH_RELEASED_CHART)")
def test_renders_of_the_released_chart_give_the_whole_text_parse(real_helm: Path, tmp_path: Path) -> None:
    """Its profiles, and a probe-like render of one of them (a key removed): the documents that
    differ are parsed, the others come from the memo, and the bytes are the whole-text parse's."""
    probe = tmp_path / "probe.yaml"
    probe.write_text("platform:\n  ng-manager:\n    autoscaling:\n      minReplicas: 1\n")
    large = RELEASED / "override-large.yaml"
    for values in [(large,), (large, probe), *((p,) for p in sorted(RELEASED.glob("override-*.yaml")) if p != large)]:
        text = _render(real_helm, RELEASED, *values)
        assert pieces(text) == whole(text), values
