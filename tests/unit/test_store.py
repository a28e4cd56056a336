"""The on-disk render store: what it writes holds no credential, and a stored render gives the
checks exactly the findings a fresh one gives."""

from __future__ import annotations

from pathlib import Path

from harness_refarch.checks import wiring
from harness_refarch.checks.determinism import determinism
from harness_refarch.helm.store import RenderStore, canonical
from harness_refarch.model.catalog import Architecture, DatabaseExpectation, Pair, Profile
from harness_refarch.model.identity import learn_volatile
from harness_refarch.model.manifest import parse_manifest

RENDER = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data:
  MONGO_URI: mongodb://admin:hunter2%2Fx@db-0.db.ns.svc:27017/app?replicaSet=rs0&sslpassword=s3cr3t-q
  DB_PASSWORD: pl41n-literal-pw
  USE_PASSWORD: "no"
---
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {password: c3VwZXItc2VjcmV0}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: app
          image: mongo:7
          envFrom: [{configMapRef: {name: cfg}}]
          env:
            - {name: REDIS_PASSWORD, value: r3d1s-literal}
            - {name: REDIS_URL, value: "redis://:r3d1s-in-url@cache:6379"}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {selector: {app: db}, ports: [{port: 27017}]}
"""
PLANTED = ("hunter2", "s3cr3t-q", "pl41n-literal-pw", "c3VwZXItc2VjcmV0", "r3d1s-literal", "r3d1s-in-url")
PAIR = Pair(Profile("p", 1, 1, 1), Architecture(
    "a", "a", ("p",), ha=False, backup=False, dr=False, overlay=Path("x.yaml"),
    databases={"mongo": DatabaseExpectation("mongo", in_cluster=True)}))


def test_stored_render_holds_no_credential_and_keeps_the_findings(tmp_path: Path) -> None:
    fresh = parse_manifest(RENDER, "ns", "fresh")
    store = RenderStore(tmp_path / "renders")
    store.save("k" * 64, fresh)
    written = "".join(p.read_text() for p in (tmp_path / "renders").rglob("*.json"))
    assert written and not [secret for secret in PLANTED if secret in written]
    assert '"USE_PASSWORD":"no"' in written  # a switch is not a credential and stays readable
    loaded = store.load("k" * 64, "fresh")
    assert loaded is not None
    assert wiring.wiring(PAIR, loaded) == wiring.wiring(PAIR, fresh)
    assert wiring.wiring(PAIR, fresh)  # the planted literals are findings, on both sides


def test_the_store_says_whether_it_has_an_entry_without_reading_it(tmp_path: Path) -> None:
    """What the xdist controller asks before rendering a worker's first pair ahead of it: a
    stored render is left to the worker (the controller would only parse it twice)."""
    store = RenderStore(tmp_path / "renders")
    assert not store.has("k" * 64)
    store.save("k" * 64, parse_manifest(RENDER, "ns", "fresh"))
    assert store.has("k" * 64) and not store.has("j" * 64)


def test_another_version_of_the_suite_is_never_answered_from_the_store(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Stored findings are what this code made of a render: a changed check must recompute them."""
    from harness_refarch.helm import store as store_module
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    rs = store_module.RenderStore(tmp_path / "store")
    args = (chart, (), (), "r", "ns", "1.29.0", "v4.1.4", 0)
    before = rs.key(*args, kind="schema:x")
    monkeypatch.setattr(store_module, "code_digest", lambda: "another version of the suite")
    assert rs.key(*args, kind="schema:x") != before


# -- one representation for fresh and stored renders (issue 13 item 1) -------------------------
def _bodies(manifest):  # type: ignore[no-untyped-def]
    return [o.body for o in manifest.objects]


def test_a_fresh_render_takes_the_representation_of_a_stored_one(tmp_path: Path) -> None:
    store = RenderStore(tmp_path / "renders")
    key = store.digest_key  # a run with a store digests with the store's key, fresh renders too
    fresh = canonical(parse_manifest(RENDER, "ns", "fresh", digest_key=key), key)
    store.save("k" * 64, parse_manifest(RENDER, "ns", "fresh", digest_key=key))
    stored = store.load("k" * 64, "fresh")
    assert stored is not None
    assert _bodies(fresh) == _bodies(stored)
    assert fresh.value_digests == stored.value_digests and fresh.value_digests
    assert fresh.secret_digests == stored.secret_digests
    assert _bodies(canonical(fresh)) == _bodies(fresh)  # masking twice changes nothing
    assert not [secret for secret in PLANTED if secret in repr(_bodies(fresh))]


def test_a_stored_and_a_fresh_render_of_the_same_inputs_compare_equal(tmp_path: Path) -> None:
    """The determinism check once compared a stored, masked render with a fresh raw one and
    reported every literal credential as generated at render time."""
    store = RenderStore(tmp_path / "renders")
    store.save("k" * 64, canonical(parse_manifest(RENDER, "ns", "first")))
    stored = store.load("k" * 64, "first")
    assert stored is not None
    fresh = canonical(parse_manifest(RENDER, "ns", "second"))
    assert learn_volatile(stored, fresh).empty
    assert determinism(learn_volatile(stored, fresh)) == []


def test_a_generated_literal_credential_is_still_seen_through_its_digest(tmp_path: Path) -> None:
    """Masked in both renders, a literal token generated at render time still differs."""
    store = RenderStore(tmp_path / "renders")
    first = canonical(parse_manifest(RENDER, "ns", "first"))
    second = canonical(parse_manifest(RENDER.replace("pl41n-literal-pw", "an0ther-pw"), "ns", "second"))
    assert _bodies(first) == _bodies(second)  # the masked bodies cannot tell
    vol = learn_volatile(first, second)
    assert vol.volatile_fields == {("ConfigMap", "cfg", "data.DB_PASSWORD")}
    [finding] = determinism(vol)
    assert finding.workload == "ConfigMap/cfg" and "data.DB_PASSWORD" in finding.actual
    assert "an0ther-pw" not in repr(vol) and store.root.is_dir()


# -- a cache that is never wrong (issue 14) ------------------------------------------------------
def test_a_shared_world_writable_cache_is_refused_in_one_paragraph(tmp_path: Path) -> None:
    import os

    import pytest

    from harness_refarch.helm.store import check_cache_dir
    from harness_refarch.model.errors import RefarchError

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(RefarchError, match=r"writable by others \(mode 777\).*--refarch-no-cache"):
        RenderStore(shared / "renders")
    with pytest.raises(RefarchError, match="writable by others"):
        check_cache_dir(shared / "renders")
    os.chmod(shared, 0o700)
    (shared / "renders").rmdir()
    (tmp_path / "elsewhere").mkdir()
    (shared / "renders").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RefarchError, match="is a symbolic link"):
        check_cache_dir(shared / "renders")


def test_a_symlink_planted_in_the_cache_is_never_followed(tmp_path: Path) -> None:
    store = RenderStore(tmp_path / "renders")
    key = "ab" + "0" * 62
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "ab").symlink_to(outside, target_is_directory=True)
    manifest, cached = store.get_or_render(key, "x", lambda: canonical(parse_manifest(RENDER, "ns", "x")))
    assert not cached and manifest.objects
    assert list(outside.iterdir()) == [], "the store wrote through a planted symlink"
    assert store.load(key, "x") is None


def test_an_entry_someone_else_wrote_or_edited_is_a_miss(tmp_path: Path) -> None:
    store = RenderStore(tmp_path / "renders")
    key = "cd" + "0" * 62
    store.save(key, canonical(parse_manifest(RENDER, "ns", "x")))
    assert store.load(key, "x") is not None
    path = store._path(key)
    mac, _, text = path.read_text().partition("\n")
    path.write_text(mac + "\n" + text.replace("cfg", "cfh"))  # a flipped verdict, keeping the old MAC
    assert store.load(key, "x") is None
    path.write_text(text)  # plain JSON without a MAC
    assert store.load(key, "x") is None


def test_a_valid_json_entry_of_the_wrong_shape_is_a_miss_not_a_traceback(tmp_path: Path) -> None:
    store = RenderStore(tmp_path / "renders")
    for i, doc in enumerate([{"format": 2, "namespace": "ns", "objects": ["not an object"]},
                             {"format": 2, "namespace": ["x"], "objects": []},
                             {"format": 2, "namespace": "ns", "objects": [], "problems": [{"check": 1}]},
                             {"format": 2, "findings": [{"check": "x"}]},
                             [1, 2, 3]]):
        key = f"{i:02d}" + "0" * 62
        store._write(key, doc)  # type: ignore[arg-type]
        assert store.load(key, "x") is None
        assert store.load_findings(key) is None


def test_the_code_digest_covers_every_layer_of_the_package() -> None:
    """Stored schema, lint and parse results are what this code made of a render: a change to a
    check, the model or a template must invalidate them, not only a change to helm/."""
    from harness_refarch.helm.store import code_files

    folders = {rel.split("/", 1)[0] for rel, _ in code_files() if "/" in rel}
    assert {"model", "helm", "chart", "checks", "engine", "report", "plugin"} <= folders
    assert any(rel.endswith(".j2") for rel, _ in code_files())


def test_severities_are_found_beside_the_package() -> None:
    from harness_refarch.checks import severities

    assert severities._packaged() is not None


def test_a_canonical_manifest_is_stored_as_its_text_and_equals_the_long_way(tmp_path: Path) -> None:
    """A fresh render is canonical (masked, digested, through JSON) before the store writes it:
    the store writes that text instead of masking again, and the entry is the same as the one
    the long way writes (same text, no credential, the same manifest read back)."""
    store = RenderStore(tmp_path / "renders")
    parsed = parse_manifest(RENDER, "ns", "fresh", digest_key=store.digest_key)
    fresh = canonical(parsed, store.digest_key)
    assert fresh.stored_text is not None and fresh.stored_text[0] == store.digest_key
    store.save("a" * 64, fresh)
    long_way = canonical(parsed, store.digest_key)
    long_way.stored_text = None
    store.save("b" * 64, long_way)
    quick, slow = (store._path(k * 64).read_text() for k in "ab")
    assert quick == slow and not any(p in quick for p in PLANTED)
    assert [o.body for o in store.load("a" * 64, "s").objects] == [o.body for o in fresh.objects]
    other = RenderStore(tmp_path / "other")  # another store's key: written the long way, still right
    other.save("c" * 64, fresh)
    assert [o.body for o in other.load("c" * 64, "s").objects] == [o.body for o in fresh.objects]
